//! Config text → `Config`: supervisor settings and service definitions.
//! Definitions are immutable once parsed; a reload builds a new `Config`
//! beside the old one. Strings live in the config's arena, NUL-terminated so
//! that exec needs no copy. No syscalls: files (env_file, /etc/passwd,
//! /etc/group) are read through the `Files` the caller passes in.

mod parse;
pub use parse::{emit, parse};
mod scan;
pub use scan::control_path;
mod error;
pub use error::{Error, Errors, FileError, Located};

use crate::duration::Duration;
use crate::limits::{ARENA_BYTES, MAX_GROUPS, MAX_LISTENS, MAX_SERVICES, MAX_STRINGS};
use heapless::Vec;

/// A byte range of the arena (strings) or of the config text (error places).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Span {
    pub start: u32,
    pub len: u32,
}

/// A range of `Config::strs` (or of `Config::gids`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Range {
    pub first: u16,
    pub count: u16,
}

impl Range {
    /// Whether index `i` is in the range.
    pub fn has(self, i: usize) -> bool {
        (usize::from(self.first)..usize::from(self.first) + usize::from(self.count)).contains(&i)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Restart {
    Always,
    OnFailure,
    Never,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Ready {
    /// Ready at exec.
    None,
    /// Ready once it has stayed up this long.
    Delay(Duration),
    /// s6 style: the instance writes a newline to this fd (≥ 3).
    Fd(u8),
    /// sd_notify: `READY=1` on the instance's NOTIFY_SOCKET.
    Notify,
    /// A probe: these words (in `Config::strs`, program first, an absolute
    /// path) run every `probe_interval` until one run exits 0.
    Exec(Range),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Log {
    Null,
    /// A ring of this many bytes (a whole number of RING_BLOCK_BYTES).
    Ring(u32),
    /// Appended to `path` (absolute; NUL-terminated in the arena), rotated
    /// before a line would take it past `size` bytes (`log_size`), with
    /// `keep` old files beside it, PATH.1 … PATH.keep (`log_keep`).
    File {
        path: Span,
        size: u32,
        keep: u8,
    },
    /// svc's stderr, each line prefixed with the service name.
    Console,
}

/// Names the indexes of `Def::rlimits`.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Limit {
    Nofile,
    Nproc,
    Core,
    Memlock,
}

/// One service definition. Immutable once parsed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Def {
    /// The section name.
    pub name: Span,
    /// Config line of the section header, for messages.
    pub line: u32,
    /// exec words, program first (an absolute path); each NUL-terminated in the arena.
    pub args: Range,
    /// The whole environment, `KEY=value`, NUL-terminated: env and env_file
    /// entries in order (a later key replaces an earlier one), PATH (default
    /// when not given) and SVC_SERVICE=name.
    pub env: Range,
    pub cwd: Option<Span>,
    /// The env_file path as written, for the reload diff (its contents are in `env`).
    pub env_file: Option<Span>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Supplementary groups (from /etc/group when `user` is a name), in `Config::gids`.
    pub groups: Range,
    pub restart: Restart,
    pub oneshot: bool,
    /// `start = no`: defined, but not started by `up`.
    pub start: bool,
    pub backoff_first: Duration,
    pub backoff_max: Duration,
    pub stable: Duration,
    pub ready: Ready,
    pub ready_timeout: Duration,
    /// `ready = none`: how long a new instance must stay up, beside the
    /// serving one, to count as ready in an upgrade.
    pub upgrade_delay: Duration,
    /// `svc upgrade` sends this to the main pid instead (a server that
    /// reloads in place); 0 for none.
    pub upgrade_signal: u8,
    pub stop_signal: u8,
    /// `kill_mode = mixed`: `stop_signal` to the main process only (which
    /// stops its workers in its own way), SIGKILL to the whole group at
    /// `stop_timeout`. `group` (false): both to the whole group.
    pub kill_mixed: bool,
    pub stop_timeout: Duration,
    /// Bit i set: this service starts after `defs[i]` is ready (or done).
    pub after: u64,
    /// nofile, nproc, core, memlock (see `Limit`); None leaves the limit as inherited.
    pub rlimits: [Option<u64>; 4],
    pub log: Log,
    /// Its listening sockets, in `Config::listens`, in `listen` order.
    pub listen: Range,
    /// `start = on-connect`: started by the first connection (or datagram).
    pub on_connect: bool,
    /// `watchdog` (with `ready = notify`): WATCHDOG=1 at least this often
    /// once ready; zero for none.
    pub watchdog: Duration,
    /// `ready = exec:`: the pause between the end of one probe and the next.
    pub probe_interval: Duration,
    /// `oom_score_adj`: -1000 to 1000, written by the child before it drops
    /// privileges (svc's own -1000 must not reach its services).
    pub oom_score_adj: i16,
    /// `pin = yes` (default): run the release resolved at the last start of
    /// a new definition or upgrade (`pin.rs`).
    pub pin: bool,
}

/// One `listen =` line: the address (its text, checked by `addr::parse`)
/// and its options.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Listen {
    pub addr: Span,
    /// LISTEN_FDNAMES' name: `name=`; empty for the service's name
    /// (`Config::listen_name`).
    pub name: Span,
    pub backlog: u32,
    /// Unix sockets: `mode=` (octal) and `owner=` (uid, gid).
    pub mode: Option<u16>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub freebind: bool,
}

impl Def {
    /// Every default of a service's keys: what the parser starts from, and
    /// what stands in for a service a reload removed (what is left of it, a
    /// stop under way, needs no more).
    pub const DEFAULT: Def = Def {
        name: Span { start: 0, len: 0 },
        line: 0,
        args: Range { first: 0, count: 0 },
        env: Range { first: 0, count: 0 },
        cwd: None,
        env_file: None,
        uid: None,
        gid: None,
        groups: Range { first: 0, count: 0 },
        restart: Restart::Always,
        oneshot: false,
        start: true,
        backoff_first: Duration::from_millis(100),
        backoff_max: Duration::from_secs(30),
        stable: Duration::from_secs(10),
        ready: Ready::None,
        ready_timeout: Duration::from_secs(30),
        upgrade_delay: Duration::from_secs(1),
        upgrade_signal: 0,
        stop_signal: crate::signame::TERM,
        kill_mixed: false,
        stop_timeout: Duration::from_secs(10),
        after: 0,
        rlimits: [None; 4],
        log: Log::Ring(crate::limits::RING_DEFAULT_BYTES as u32),
        listen: Range { first: 0, count: 0 },
        on_connect: false,
        watchdog: Duration::from_millis(0),
        probe_interval: Duration::from_millis(250),
        oom_score_adj: 0,
        pin: true,
    };
}

/// Makes `dst` a copy of `src`, copying only what `src` uses.
pub fn adopt(dst: &mut Config, src: &Config) -> bool {
    dst.clear();
    dst.control = src.control;
    dst.control_gid = src.control_gid;
    dst.hostname = src.hostname;
    dst.emergency = src.emergency;
    dst.shutdown_timeout = src.shutdown_timeout;
    dst.arena.extend_from_slice(&src.arena).is_ok()
        && dst.strs.extend_from_slice(&src.strs).is_ok()
        && dst.gids.extend_from_slice(&src.gids).is_ok()
        && dst.defs.extend_from_slice(&src.defs).is_ok()
        && dst.listens.extend_from_slice(&src.listens).is_ok()
}

/// Copies the strings of `d` (a definition of `src`) into `dst` and puts it
/// in place of `dst.defs[at]`, keeping `keep`'s name, `after` and sockets:
/// how a service whose upgrade from a reload failed gets its old definition
/// back. False, and `dst.defs[at]` untouched, when `dst` has no room (its
/// arena, strings or groups are full). (In place: a Def returned by value was
/// copied five times on the way, 800 bytes of code.)
pub fn transplant(dst: &mut Config, at: usize, src: &Config, d: &Def, keep: Keep) -> bool {
    let Keep { name, after, listen } = keep;
    // The new strings' places (args, probe, env, cwd, env_file, log file, groups).
    type Rebased = (Range, Option<Range>, Range, Option<Span>, Option<Span>, Option<Span>, Range);
    let mut rebase = || -> Option<Rebased> {
        let args = dst.copy_list(src, d.args)?;
        let probe = match d.ready {
            Ready::Exec(r) => Some(dst.copy_list(src, r)?),
            _ => None,
        };
        let env = dst.copy_list(src, d.env)?;
        let cwd = match d.cwd {
            Some(s) => Some(dst.copy_str(src.str(s))?),
            None => None,
        };
        let env_file = match d.env_file {
            Some(s) => Some(dst.copy_str(src.str(s))?),
            None => None,
        };
        let log = match d.log {
            Log::File { path, .. } => Some(dst.copy_str(src.str(path))?),
            _ => None,
        };
        let first = dst.gids.len();
        dst.gids.extend_from_slice(src.groups(d.groups)).ok()?;
        Some((args, probe, env, cwd, env_file, log, Range { first: first as u16, count: d.groups.count }))
    };
    let Some((args, probe, env, cwd, env_file, log, groups)) = rebase() else { return false };
    let Some(out) = dst.defs.get_mut(at) else { return false };
    *out = *d;
    out.name = name;
    out.after = after;
    out.listen = listen;
    out.args = args;
    if let Some(r) = probe {
        out.ready = Ready::Exec(r);
    }
    out.env = env;
    out.cwd = cwd;
    out.env_file = env_file;
    if let (Some(path), Log::File { size, keep, .. }) = (log, d.log) {
        out.log = Log::File { path, size, keep };
    }
    out.groups = groups;
    true
}

/// What a transplanted definition keeps of the one it replaces.
#[derive(Clone, Copy)]
pub struct Keep {
    pub name: Span,
    pub after: u64,
    pub listen: Range,
}

impl Keep {
    pub fn of(d: &Def) -> Keep {
        Keep { name: d.name, after: d.after, listen: d.listen }
    }
}

/// A zero-sized field that starts the next field of a `repr(C)` struct on
/// a page of its own: a table's length and its first entries then share a
/// page, so a table used only a little costs one page of memory, not two.
#[derive(Clone, Copy, Debug, Default)]
#[repr(align(4096))]
pub struct Page;

/// `v.clear()`, without writing to an empty vector's page.
pub fn empty<T, const N: usize>(v: &mut Vec<T, N>) {
    if !v.is_empty() {
        v.clear();
    }
}

/// Swaps the contents of `a` and `b`, touching only their used elements.
fn swap_used<T: Copy, const N: usize>(a: &mut Vec<T, N>, b: &mut Vec<T, N>) {
    let (la, lb) = (a.len(), b.len());
    for (x, y) in a.iter_mut().zip(b.iter_mut()) {
        core::mem::swap(x, y);
    }
    if la > lb {
        let _ = b.extend_from_slice(a.get(lb..).unwrap_or(&[]));
        a.truncate(lb);
    } else {
        let _ = a.extend_from_slice(b.get(la..).unwrap_or(&[]));
        b.truncate(la);
    }
}

/// One parsed config file. In this order (`repr(C)`): the small fields
/// first, the tables most used first (.bss pages are resident once written).
#[repr(C)]
pub struct Config {
    /// `[svc] control`: the control socket path.
    pub control: Option<Span>,
    /// `[svc] control_group`, resolved to a gid.
    pub control_gid: Option<u32>,
    /// `[svc] hostname`: set by svc as PID 1 once the config is parsed.
    pub hostname: Option<Span>,
    /// `[svc] emergency`: the shell svc as PID 1 runs on the console when
    /// a startup step failed (unless the kernel command line names one).
    pub emergency: Option<Span>,
    /// `[svc] shutdown_timeout` (None: the default, 30 s): how long svc
    /// as PID 1 waits for its services to stop at a poweroff or reboot.
    pub shutdown_timeout: Option<crate::duration::Duration>,
    /// The parser's notes on each kept service, for the checks across
    /// services at the end: here, on the page the definitions start on,
    /// rather than 1.3 KiB of stack under the parser (meaningless after).
    pub(crate) pending: [parse::Pending; MAX_SERVICES],
    pub defs: Vec<Def, MAX_SERVICES>,
    pub page_strs: Page,
    pub strs: Vec<Span, MAX_STRINGS>,
    pub page_arena: Page,
    pub arena: Vec<u8, ARENA_BYTES>,
    pub listens: Vec<Listen, MAX_LISTENS>,
    pub gids: Vec<u32, { MAX_SERVICES * MAX_GROUPS }>,
}

impl Config {
    pub const fn new() -> Self {
        Config {
            control: None,
            control_gid: None,
            hostname: None,
            emergency: None,
            shutdown_timeout: None,
            pending: [parse::Pending::EMPTY; MAX_SERVICES],
            defs: Vec::new(),
            page_strs: Page,
            strs: Vec::new(),
            page_arena: Page,
            arena: Vec::new(),
            listens: Vec::new(),
            gids: Vec::new(),
        }
    }
    /// Empties every table, writing only what is not empty already: a
    /// write keeps a page of .bss resident for good.
    pub fn clear(&mut self) {
        empty(&mut self.arena);
        empty(&mut self.strs);
        empty(&mut self.gids);
        empty(&mut self.defs);
        empty(&mut self.listens);
        if self.control.is_some() {
            self.control = None;
        }
        if self.control_gid.is_some() {
            self.control_gid = None;
        }
        if self.hostname.is_some() {
            self.hostname = None;
        }
        if self.emergency.is_some() {
            self.emergency = None;
        }
        if self.shutdown_timeout.is_some() {
            self.shutdown_timeout = None;
        }
    }
    /// Trades places with `other`, moving only what either uses:
    /// `mem::swap` would write both configs whole (200 KB of pages that a
    /// reload would otherwise touch and keep resident).
    pub fn swap(&mut self, other: &mut Config) {
        swap_used(&mut self.arena, &mut other.arena);
        swap_used(&mut self.strs, &mut other.strs);
        swap_used(&mut self.gids, &mut other.gids);
        swap_used(&mut self.defs, &mut other.defs);
        swap_used(&mut self.listens, &mut other.listens);
        core::mem::swap(&mut self.control, &mut other.control);
        core::mem::swap(&mut self.control_gid, &mut other.control_gid);
        core::mem::swap(&mut self.hostname, &mut other.hostname);
        core::mem::swap(&mut self.emergency, &mut other.emergency);
        core::mem::swap(&mut self.shutdown_timeout, &mut other.shutdown_timeout);
    }
    /// The bytes of `s` (without the trailing NUL). Not inlined: the range
    /// check in each caller cost 570 bytes more than the calls.
    #[inline(never)]
    pub fn str(&self, s: Span) -> &[u8] {
        let start = s.start as usize;
        self.arena.get(start..start + s.len as usize).unwrap_or(&[])
    }
    /// The bytes of `s` followed by its NUL, for exec.
    #[inline(never)]
    pub fn strz(&self, s: Span) -> &[u8] {
        let start = s.start as usize;
        self.arena.get(start..start + s.len as usize + 1).unwrap_or(&[])
    }
    /// The spans of a range of `strs`.
    #[inline(never)]
    pub fn list(&self, r: Range) -> &[Span] {
        let first = usize::from(r.first);
        self.strs.get(first..first + usize::from(r.count)).unwrap_or(&[])
    }
    /// `bytes` and a NUL at the end of the arena.
    fn copy_str(&mut self, bytes: &[u8]) -> Option<Span> {
        let start = self.arena.len();
        self.arena.extend_from_slice(bytes).ok()?;
        self.arena.push(0).ok()?;
        Some(Span { start: start as u32, len: bytes.len() as u32 })
    }
    /// The strings of `r` in `src`, appended here, and their new range.
    fn copy_list(&mut self, src: &Config, r: Range) -> Option<Range> {
        let first = self.strs.len();
        for s in src.list(r) {
            let span = self.copy_str(src.str(*s))?;
            self.strs.push(span).ok()?;
        }
        Some(Range { first: first as u16, count: r.count })
    }
    /// A service's listen sockets.
    #[inline(never)]
    pub fn listens(&self, r: Range) -> &[Listen] {
        let first = usize::from(r.first);
        self.listens.get(first..first + usize::from(r.count)).unwrap_or(&[])
    }
    /// A listen socket's name in LISTEN_FDNAMES.
    pub fn listen_name(&self, d: &Def, l: &Listen) -> &[u8] {
        if l.name.len == 0 { self.str(d.name) } else { self.str(l.name) }
    }
    /// A listen socket's address, parsed (it was checked when the config was).
    pub fn addr(&self, l: &Listen) -> Option<crate::addr::Addr<'_>> {
        crate::addr::parse(self.str(l.addr)).ok()
    }
    #[inline(never)]
    pub fn groups(&self, r: Range) -> &[u32] {
        let first = usize::from(r.first);
        self.gids.get(first..first + usize::from(r.count)).unwrap_or(&[])
    }
    /// The index of the service called `name`.
    pub fn find(&self, name: &[u8]) -> Option<usize> {
        self.defs.iter().position(|d| self.str(d.name) == name)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads whole files for the parser: the caller decides how (and checks
/// permissions). The returned bytes stay valid until the next call.
pub trait Files {
    fn read(&mut self, path: &[u8]) -> Result<&[u8], FileError>;
}
