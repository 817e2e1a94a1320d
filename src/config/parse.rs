//! The config parser: text → lines → sections → keys → `Config`, then the
//! cross-service checks (`after` names, cycles, the ring pool). Every error
//! is collected with its line and word; parsing goes on after one. Value
//! parsers live in keys.rs, the error printer in emit.rs. No syscalls: files
//! are read through `Files`.

#[path = "emit.rs"]
mod emit;
#[path = "env.rs"]
mod env;
#[path = "exec.rs"]
mod exec;
#[path = "ids.rs"]
mod ids;
#[path = "keys.rs"]
mod keys;
#[path = "listen.rs"]
mod listen;
#[path = "word.rs"]
mod word;

pub use emit::emit;
pub(super) use word::Word;

use super::{Config, Def, Error, Errors, Files, Located, Log, Ready, Restart, Span};
use crate::limits::{ARENA_BYTES, CONFIG_BYTES, CONTROL_PATH_BYTES, LINE_BYTES, MAX_ENV, MAX_SERVICES, PATH_BYTES, RING_POOL_BYTES};
use crate::order::bit;
use crate::{order, signame};
use heapless::Vec;
use keys::Key;
pub(super) use keys::is_blank;

/// PATH when the service's environment does not set one.
const DEFAULT_PATH: &[u8] = b"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const PASSWD: &[u8] = b"/etc/passwd";
const GROUP: &[u8] = b"/etc/group";

/// Parses `text` into `out`, reading env_files and /etc/passwd, /etc/group
/// through `files`. Every error goes to `errors`; `out` is valid only when
/// `errors` is empty.
// Out of line: its tables would otherwise share the stack frame of the
// caller's file read, the deepest path of `svc up`.
#[inline(never)]
pub fn parse(text: &[u8], files: &mut dyn Files, out: &mut Config, errors: &mut Errors) {
    out.clear();
    let mut p = Parser { text, files, out, errors, line: 0, section: Span::default(), arena_full: false, pool: 0 };
    if text.len() > CONFIG_BYTES {
        return p.error(Error::ConfigTooBig, Span::default());
    }
    let mut at = At::Nowhere;
    let mut sec = Section::new(Word::EMPTY, 0, false, p.out);
    let mut svc_seen = 0u32;
    let mut start = 0usize;
    for raw in crate::text::split(text, b'\n') {
        let here = Word { bytes: raw, at: start };
        start = start.saturating_add(raw.len() + 1);
        p.line = p.line.saturating_add(1);
        if raw.len() > LINE_BYTES {
            p.error(Error::LineTooLong, Span::default());
            continue;
        }
        let line = here.trim();
        match line.bytes.first() {
            None | Some(b'#') | Some(b';') => continue,
            Some(b'[') => {
                if at == At::Service {
                    p.finish(&mut sec);
                }
                at = p.header(line, &mut sec);
                continue;
            }
            Some(_) => {}
        }
        let Some(eq) = line.bytes.iter().position(|&b| b == b'=') else {
            p.error(Error::SyntaxLine, line.span());
            continue;
        };
        let key = line.sub(0, eq).trim();
        let value = line.sub(eq + 1, line.bytes.len()).trim();
        if key.bytes.is_empty() || key.bytes.iter().any(|&b| is_blank(b)) {
            p.error(Error::SyntaxLine, line.span());
            continue;
        }
        match at {
            At::Nowhere => p.error(Error::KeyOutsideSection, key.span()),
            At::Svc => p.key(&mut sec, key, value, Some(&mut svc_seen)),
            At::Service => p.key(&mut sec, key, value, None),
        }
    }
    if at == At::Service {
        p.finish(&mut sec);
    }
    p.resolve_after();
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    /// Before the first section.
    Nowhere,
    Svc,
    Service,
}

/// What the cross-service checks need of each kept service (kept in
/// `Config::pending`, not on the stack under the parser).
#[derive(Clone, Copy, Default)]
pub(crate) struct Pending {
    /// The section name in the text.
    name: Span,
    /// The `after` value in the text (empty for none) and its line.
    after: Span,
    after_line: u32,
}

impl Pending {
    pub(crate) const EMPTY: Pending = Pending { name: Span { start: 0, len: 0 }, after: Span { start: 0, len: 0 }, after_line: 0 };
}

/// Where a section's storage started, to drop it when it is not kept.
#[derive(Clone, Copy)]
struct Marks {
    arena: usize,
    strs: usize,
    gids: usize,
    listens: usize,
}

/// The service section being read.
struct Section {
    name: Span,
    line: u32,
    /// False for a section that is checked but not stored (a duplicate, one
    /// too many, a bad name).
    keep: bool,
    /// Bit `Key as u32` set once the key is seen.
    seen: u32,
    def: Def,
    /// Arena spans of `KEY=value`, in order; written to `strs` at the end,
    /// so that env and env_file lines may come anywhere in the section.
    env: Vec<Span, MAX_ENV>,
    /// `user`, `group` and `after` values and their lines, resolved at the end.
    user: Option<(Span, u32)>,
    group: Option<(Span, u32)>,
    after: Option<(Span, u32)>,
    log_line: u32,
    /// `log` was given but its value was bad: log_size and log_keep are then
    /// not reported as unused on top.
    log_bad: bool,
    /// `log_size` and `log_keep` values, with their line and key, applied at
    /// the end to a `log = file:` (which may come after them).
    log_size: Option<(u32, u32, Span)>,
    log_keep: Option<(u32, u32, Span)>,
    marks: Marks,
}

impl Section {
    // Not inlined into its two callers: a copy builds the whole section
    // field by field (200 bytes).
    #[inline(never)]
    fn new(name: Word, line: u32, keep: bool, out: &Config) -> Self {
        let marks = Marks { arena: out.arena.len(), strs: out.strs.len(), gids: out.gids.len(), listens: out.listens.len() };
        // Copied from data: the const itself would be built field by field
        // (half a kilobyte of stores on i686), since the compiler sees every value.
        static DEFAULT: Def = Def::DEFAULT;
        let mut def = *core::hint::black_box(&DEFAULT);
        def.line = line;
        Section {
            name: name.span(),
            line,
            keep,
            seen: 0,
            def,
            env: Vec::new(),
            user: None,
            group: None,
            after: None,
            log_line: line,
            log_bad: false,
            log_size: None,
            log_keep: None,
            marks,
        }
    }
}

struct Parser<'a> {
    text: &'a [u8],
    files: &'a mut dyn Files,
    out: &'a mut Config,
    errors: &'a mut Errors,
    /// The current line and section, for errors.
    line: u32,
    section: Span,
    /// ArenaFull is reported once: every later string fails for the same reason.
    arena_full: bool,
    /// Ring bytes of the kept services so far.
    pool: u64,
}

fn located(line: u32, section: Span, span: Span, error: Error) -> Located {
    Located { line, section, span, error, file_line: 0, hint: None }
}

/// The bytes of `s` in `bytes` (the text or the arena).
#[inline(never)]
fn slice(bytes: &[u8], s: Span) -> &[u8] {
    let start = s.start as usize;
    bytes.get(start..start.saturating_add(s.len as usize)).unwrap_or(&[])
}

/// Appends the concatenated `parts` and a NUL to the arena; `None` when full
/// (nothing is appended then).
fn push_str(arena: &mut Vec<u8, ARENA_BYTES>, parts: &[&[u8]]) -> Option<Span> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let start = arena.len();
    if start + len + 1 > ARENA_BYTES {
        return None;
    }
    for p in parts {
        arena.extend_from_slice(p).ok()?;
    }
    arena.push(0).ok()?;
    Some(Span { start: start as u32, len: len as u32 })
}

impl Parser<'_> {
    fn error(&mut self, error: Error, span: Span) {
        self.error_at(self.line, error, span);
    }

    /// Every error of a section goes through here: one place builds a `Located`.
    #[inline(never)]
    fn error_at(&mut self, line: u32, error: Error, span: Span) {
        self.errors.push(located(line, self.section, span, error));
    }

    fn arena_error(&mut self, line: u32, span: Span) {
        if !self.arena_full {
            self.arena_full = true;
            self.error_at(line, Error::ArenaFull, span);
        }
    }

    /// Stores a string of the config text in the arena.
    fn store(&mut self, w: Word) -> Option<Span> {
        let s = push_str(&mut self.out.arena, &[w.bytes]);
        if s.is_none() {
            self.arena_error(self.line, w.span());
        }
        s
    }

    /// A `[name]` line: starts the next section.
    fn header(&mut self, line: Word, sec: &mut Section) -> At {
        let inner = match line.bytes.last() {
            Some(b']') if line.bytes.len() >= 2 => line.sub(1, line.bytes.len() - 1).trim(),
            _ => line.sub(1, line.bytes.len()).trim(),
        };
        self.section = inner.span();
        *sec = Section::new(inner, self.line, false, self.out);
        if line.bytes.len() < 2 || line.bytes.last() != Some(&b']') {
            self.error(Error::SectionSyntax, line.span());
            return At::Service;
        }
        if inner.bytes == b"svc" {
            return At::Svc;
        }
        if !keys::name_ok(inner.bytes) {
            self.error(Error::BadName, inner.span());
        } else if self.out.find(inner.bytes).is_some() {
            self.error(Error::DuplicateService, inner.span());
        } else if self.out.defs.len() >= MAX_SERVICES {
            self.error(Error::TooManyServices, inner.span());
        } else if let Some(name) = self.store(inner) {
            sec.keep = true;
            sec.def.name = name;
        }
        At::Service
    }

    /// A key of a service section, or of `[svc]` (with the keys it has
    /// seen, in all its sections).
    fn key(&mut self, sec: &mut Section, key: Word, value: Word, svc_seen: Option<&mut u32>) {
        let svc = svc_seen.is_some();
        let found = keys::lookup(key.bytes);
        let Some(k) = found.filter(|&k| keys::is_svc(k) == svc) else {
            if svc && found.is_some() {
                // A service key: the user meant a service called svc.
                return self.error(Error::ReservedName, Span::default());
            }
            let error = if svc { Error::UnknownSvcKey } else { Error::UnknownKey };
            let mut e = located(self.line, self.section, key.span(), error);
            e.hint = keys::hint(key.bytes, svc);
            return self.errors.push(e);
        };
        // [svc]'s keys, the last of `Key`, have bits 31, 0, 1, ... of their own mask.
        let bit = 1u32 << (k as u32 % 32);
        let seen = svc_seen.unwrap_or(&mut sec.seen);
        if !matches!(k, Key::Env | Key::Listen) && *seen & bit != 0 {
            return self.error(Error::DuplicateKey, key.span());
        }
        *seen |= bit;
        let result = if value.bytes.is_empty() {
            // [svc] says the empty value, a service section which key.
            Err((Error::EmptyValue, if svc { value } else { key }.span()))
        } else if value.bytes.contains(&0) {
            // An env value may be a secret: quote its key only.
            let w = if k == Key::Env { env::env_key_word(value) } else { value };
            Err((Error::NulByte, w.span()))
        } else {
            self.value(sec, k, key, value)
        };
        if let Err((e, span)) = result {
            self.error(e, span);
        }
    }

    /// A key's value. Exec lines, `env` and `listen` name the word that is
    /// wrong; every other key's error is about the whole value.
    fn value(&mut self, sec: &mut Section, k: Key, key: Word, value: Word) -> Result<(), (Error, Span)> {
        let v = value.bytes;
        match k {
            Key::Exec | Key::Ready if k == Key::Exec || v.starts_with(b"exec:") => {
                let probe = k == Key::Ready;
                let words = if probe { value.sub(b"exec:".len(), v.len()).trim() } else { value };
                if words.bytes.is_empty() {
                    return Err((Error::BadReady, value.span()));
                }
                if let Some(r) = self.words(words)? {
                    if probe {
                        sec.def.ready = Ready::Exec(r);
                    } else {
                        sec.def.args = r;
                    }
                }
                Ok(())
            }
            Key::Env => self.env(sec, value),
            Key::Listen => self.listen(sec, value),
            _ => self.plain(sec, k, key, value).map_err(|e| (e, value.span())),
        }
    }

    /// A key whose errors are about its whole value. (Out of line: inlined
    /// into key, its frame and spills cost x86_64 88 bytes, i686 136.)
    #[inline(never)]
    fn plain(&mut self, sec: &mut Section, k: Key, key: Word, value: Word) -> Result<(), Error> {
        let v = value.bytes;
        let def = &mut sec.def;
        match k {
            Key::Ready => def.ready = keys::parse_ready(v)?,
            // Strings kept as written: absolute paths, and the hostname.
            Key::Cwd | Key::EnvFile | Key::Control | Key::Emergency | Key::Hostname => {
                if k == Key::Hostname {
                    if v.len() > 64 || v.iter().any(|&b| is_blank(b)) {
                        return Err(Error::BadHostname);
                    }
                } else if !v.starts_with(b"/") {
                    return Err(Error::RelativePath);
                }
                if matches!(k, Key::Cwd | Key::EnvFile) && v.len() >= PATH_BYTES {
                    return Err(Error::PathTooLong);
                }
                if k == Key::Control && v.len() >= CONTROL_PATH_BYTES {
                    return Err(Error::ControlPathTooLong);
                }
                let s = self.store(value);
                *match k {
                    Key::Cwd => &mut def.cwd,
                    Key::EnvFile => &mut def.env_file,
                    Key::Control => &mut self.out.control,
                    Key::Hostname => &mut self.out.hostname,
                    _ => &mut self.out.emergency,
                } = s;
                if k == Key::EnvFile {
                    return self.env_file(sec, value);
                }
            }
            Key::ControlGroup => self.out.control_gid = Some(self.group_id(v)?),
            // Resolved when the section ends.
            Key::User | Key::Group | Key::After => {
                *match k {
                    Key::User => &mut sec.user,
                    Key::Group => &mut sec.group,
                    _ => &mut sec.after,
                } = Some((value.span(), self.line))
            }
            Key::Restart => def.restart = keys::parse_restart(v)?,
            Key::Start if v == b"on-connect" => def.on_connect = true,
            Key::Oneshot | Key::Pin | Key::Start => {
                let b = keys::parse_bool(v)?;
                *match k {
                    Key::Oneshot => &mut def.oneshot,
                    Key::Pin => &mut def.pin,
                    _ => &mut def.start,
                } = b;
            }
            Key::StopSignal | Key::UpgradeSignal => {
                let n = signame::parse(v).ok_or(Error::BadSignal)?;
                *if k == Key::StopSignal { &mut def.stop_signal } else { &mut def.upgrade_signal } = n;
            }
            Key::Backoff => {
                let mut words = value.words(b' ');
                let (Some(first), Some(max), None) = (words.next(), words.next(), words.next()) else {
                    return Err(Error::BadDuration);
                };
                let first = keys::parse_duration(first.bytes)?;
                let max = keys::parse_duration(max.bytes)?;
                if first > max {
                    return Err(Error::BadDuration);
                }
                (def.backoff_first, def.backoff_max) = (first, max);
            }
            // One parse for every duration key; the key picks the field.
            Key::Stable
            | Key::ProbeInterval
            | Key::Watchdog
            | Key::ReadyTimeout
            | Key::StopTimeout
            | Key::UpgradeDelay
            | Key::ShutdownTimeout => {
                let d = keys::parse_duration(v)?;
                *match k {
                    Key::Stable => &mut def.stable,
                    Key::ProbeInterval => &mut def.probe_interval,
                    Key::Watchdog => &mut def.watchdog,
                    Key::ReadyTimeout => &mut def.ready_timeout,
                    Key::StopTimeout => &mut def.stop_timeout,
                    Key::UpgradeDelay => &mut def.upgrade_delay,
                    _ => self.out.shutdown_timeout.insert(d),
                } = d;
            }
            Key::OomScoreAdj => def.oom_score_adj = keys::parse_oom(v)?,
            Key::KillMode => def.kill_mixed = crate::text::find_line(b"group\nmixed", v).ok_or(Error::BadKillMode)? == 1,
            Key::Nofile | Key::Nproc | Key::Core | Key::Memlock => {
                let i = k as usize - Key::Nofile as usize;
                let bytes = matches!(k, Key::Core | Key::Memlock);
                if let Some(slot) = def.rlimits.get_mut(i) {
                    *slot = Some(keys::parse_rlimit(v, bytes)?);
                }
            }
            Key::Log => {
                sec.log_line = self.line;
                sec.log_bad = true;
                let mut log = keys::parse_log(v)?;
                if let Log::File { path, .. } = &mut log {
                    *path = self.store(value.sub(b"file:".len(), v.len())).unwrap_or_default();
                }
                sec.def.log = log;
                sec.log_bad = false;
            }
            Key::LogSize | Key::LogKeep => {
                let size = k == Key::LogSize;
                let n = if size { keys::parse_log_size(v) } else { keys::parse_log_keep(v).map(u32::from) };
                *if size { &mut sec.log_size } else { &mut sec.log_keep } = Some((n?, self.line, key.span()));
            }
            // value() took these.
            Key::Exec | Key::Env | Key::Listen => {}
        }
        Ok(())
    }

    /// The end of a service section: checks what needs the whole section,
    /// then stores the definition (or drops what the section stored).
    fn finish(&mut self, sec: &mut Section) {
        let name = Word { bytes: slice(self.text, sec.name), at: sec.name.start as usize };
        if sec.seen & (1 << Key::Exec as u32) == 0 {
            self.error_at(sec.line, Error::MissingExec, Span::default());
        }
        self.ids(sec);
        self.listen_end(sec);
        self.environment(sec, name);
        self.log_file(sec);
        if let Log::Ring(bytes) = sec.def.log
            && sec.keep
        {
            let total = self.pool + u64::from(bytes);
            if total > RING_POOL_BYTES as u64 {
                self.error_at(sec.log_line, Error::RingPoolFull, Span::default());
            } else {
                self.pool = total;
            }
        }
        if !sec.keep {
            self.out.arena.truncate(sec.marks.arena);
            self.out.strs.truncate(sec.marks.strs);
            self.out.gids.truncate(sec.marks.gids);
            self.out.listens.truncate(sec.marks.listens);
            return;
        }
        let i = self.out.defs.len();
        let (after, after_line) = sec.after.unwrap_or_default();
        if let Some(p) = self.out.pending.get_mut(i) {
            *p = Pending { name: sec.name, after, after_line };
        }
        // header() kept the section only with a free slot.
        let _ = self.out.defs.push(sec.def);
    }

    /// Applies `log_size` and `log_keep` to a `log = file:`; anywhere else
    /// they would silently do nothing, so they are errors.
    // Out of line on x86 (x86_64 -24 bytes, i686 -28), smaller than inlined
    // into finish there; not on aarch64 (+48) and armv7 (+32).
    #[cfg_attr(any(target_arch = "x86_64", target_arch = "x86"), inline(never))]
    fn log_file(&mut self, sec: &mut Section) {
        if let Log::File { size, keep, .. } = &mut sec.def.log {
            if let Some((v, _, _)) = sec.log_size {
                *size = v;
            }
            if let Some((v, _, _)) = sec.log_keep {
                // 1 to MAX_LOG_KEEP.
                *keep = v as u8;
            }
        } else if !sec.log_bad {
            if let Some((_, line, key)) = sec.log_size {
                self.error_at(line, Error::LogKeyWithoutFile, key);
            }
            if let Some((_, line, key)) = sec.log_keep {
                self.error_at(line, Error::LogKeyWithoutFile, key);
            }
        }
    }

    /// `after` names → bit masks, then cycles.
    fn resolve_after(&mut self) {
        let n = self.out.defs.len();
        let mut masks = [0u64; MAX_SERVICES];
        for i in 0..n {
            let Some(p) = self.out.pending.get(i).copied() else { break };
            self.section = p.name;
            let value = Word { bytes: slice(self.text, p.after), at: p.after.start as usize };
            let mut mask = 0u64;
            for word in value.words(b',') {
                match self.out.find(word.bytes) {
                    Some(j) if j == i => self.error_at(p.after_line, Error::AfterSelf, word.span()),
                    Some(j) => mask |= bit(j),
                    None => self.error_at(p.after_line, Error::UnknownAfter, word.span()),
                }
            }
            if let Some(m) = masks.get_mut(i) {
                *m = mask;
            }
            if let Some(d) = self.out.defs.get_mut(i) {
                d.after = mask;
            }
        }
        // One error per cycle: report a service on it, cut its edges, look again.
        let masks = masks.get_mut(..n).unwrap_or(&mut []);
        for _ in 0..n {
            let Some(i) = order::find_cycle(masks) else { break };
            if let (Some(p), Some(m)) = (self.out.pending.get(i).copied(), masks.get_mut(i)) {
                *m = 0;
                self.section = p.name;
                self.error_at(p.after_line, Error::Cycle, p.after);
            }
        }
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
