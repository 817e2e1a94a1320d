//! The targets that go through the config parser: the whole file, an
//! env_file, durations and sizes as key values, /etc/passwd and /etc/group
//! (directly and through `user =`). No syscalls: files come from `Fake`.

use crate::config::{self, Config, Error, Errors, FileError, Files, Limit, Located, Log};
use crate::duration::{self, Duration};
use crate::limits::{CONFIG_BYTES, LINE_BYTES, MAX_GROUPS, NAME_BYTES, RING_BLOCK_BYTES, RING_POOL_BYTES};
use crate::passwd as pw;
use crate::reload::{self, Change, Plan};
use crate::text::Buf;
use heapless::Vec;
use ufmt::uwrite;

const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\n\
www:x:33:33:www-data:/var/www:/usr/sbin/nologin\n\
app:x:1000:1001::/home/app:/bin/sh\n";

const GROUP: &[u8] = b"root:x:0:\n\
adm:x:4:syslog,app\n\
www:x:33:\n\
video:x:44:app,www\n\
apps:x:1001:\n\
audio:x:29:www\n";

const ENV: &[u8] = b"# secrets\nDB_PASSWORD=hunter2\n\nAPI_KEY=abc=def\n";

/// Fixed /etc/passwd and /etc/group, an env_file at /etc/app.env, and one
/// path for each way a read fails; any other path is ENOENT.
struct Fake<'a> {
    passwd: &'a [u8],
    group: &'a [u8],
    env: &'a [u8],
}

const FAKE: Fake<'static> = Fake { passwd: PASSWD, group: GROUP, env: ENV };

impl Files for Fake<'_> {
    fn read(&mut self, path: &[u8]) -> Result<&[u8], FileError> {
        match path {
            b"/etc/passwd" => Ok(self.passwd),
            b"/etc/group" => Ok(self.group),
            b"/etc/app.env" => Ok(self.env),
            b"/etc/big.env" => Err(FileError::TooBig),
            b"/etc/unsafe.env" => Err(FileError::Unsafe),
            b"/etc/fifo.env" => Err(FileError::NotRegular),
            _ => Err(FileError::Os(2)),
        }
    }
}

fn lines(text: &[u8]) -> usize {
    text.iter().filter(|&&b| b == b'\n').count() + 1
}

/// Parses `text` and checks every error: it names a line of the text (and
/// of the env_file), its words lie inside the text, and it prints.
fn parse(text: &[u8], mut files: Fake, c: &mut Config) -> Errors {
    let mut errors = Errors::new();
    config::parse(text, &mut files, c, &mut errors);
    for e in errors.list.iter() {
        check_error(text, files.env, e);
    }
    errors
}

fn check_error(text: &[u8], env: &[u8], e: &Located) {
    if e.error == Error::ConfigTooBig {
        assert!(text.len() > CONFIG_BYTES && e.line == 0, "{:?}", e);
        return;
    }
    let line = e.line as usize;
    assert!(line >= 1 && line <= lines(text), "error line outside the text: {:?}", e);
    for s in [e.span, e.section] {
        assert!(s.start as usize + s.len as usize <= text.len(), "span outside the text: {:?}", e);
    }
    if e.span.len > 0 {
        // The word is on the line the error names.
        let start = text.split(|&b| b == b'\n').take(line - 1).map(|l| l.len() + 1).sum::<usize>();
        let end = start + text.get(start..).unwrap_or(&[]).split(|&b| b == b'\n').next().map_or(0, |l| l.len());
        let (a, b) = (e.span.start as usize, e.span.start as usize + e.span.len as usize);
        assert!(start <= a && b <= end, "word not on its line: {:?}", e);
    }
    assert!(e.file_line as usize <= lines(env), "env_file line outside the file: {:?}", e);
    if e.error == Error::EnvFileLine {
        assert!(e.file_line >= 1 && e.span.len == 0, "{:?}", e);
    }
    let mut out = Buf::<1024>::new();
    config::emit(b"/etc/svc.conf", text, e, &mut out);
    let mut head = Buf::<32>::new();
    let _ = uwrite!(head, "svc: /etc/svc.conf:{}: ", e.line);
    assert!(out.as_bytes().starts_with(head.as_bytes()));
    assert!(out.was_cut() || out.as_bytes().ends_with(b"\n"));
}

/// The whole config file, with fixed /etc/passwd, /etc/group and env_file:
/// errors as `check_error` wants; a good config holds what svc relies on,
/// a reload to itself keeps every service, and the clients' quick scan
/// finds the same control path.
pub fn config(data: &[u8]) {
    let mut c = Config::new();
    if !parse(data, FAKE, &mut c).is_empty() {
        return;
    }
    let n = c.defs.len();
    for (i, d) in c.defs.iter().enumerate() {
        let name = c.str(d.name);
        assert!((1..=NAME_BYTES).contains(&name.len()) && c.find(name) == Some(i), "names are unique");
        assert!(d.line >= 1 && d.line as usize <= lines(data));
        let args = c.list(d.args);
        assert!(!args.is_empty() && args.len() == usize::from(d.args.count));
        assert!(c.str(args[0]).starts_with(b"/"), "the program is absolute");
        let env = c.list(d.env);
        assert_eq!(env.len(), usize::from(d.env.count));
        for s in args.iter().chain(env) {
            let z = c.strz(*s);
            assert!(z.len() == s.len as usize + 1 && z.ends_with(&[0]) && !c.str(*s).contains(&0), "NUL-terminated");
        }
        let key = |s: &config::Span| c.str(*s).split(|&b| b == b'=').next().unwrap_or(&[]);
        for (j, s) in env.iter().enumerate() {
            assert!(c.str(*s).contains(&b'='));
            assert!(env.iter().skip(j + 1).all(|t| key(t) != key(s)), "one entry per key");
        }
        let mut service = Buf::<64>::new();
        service.push(b"SVC_SERVICE=");
        service.push(name);
        assert!(env.iter().any(|s| c.str(*s) == service.as_bytes()));
        assert!(env.iter().any(|s| key(s) == b"PATH"));
        assert_eq!(d.after & (1 << i), 0, "not after itself");
        assert!(n == 64 || d.after >> n == 0, "after names a service");
        for l in c.listens(d.listen) {
            assert!(c.addr(l).is_some(), "listen addresses parse");
        }
        if let Log::Ring(b) = d.log {
            assert!(b > 0 && (b as usize).is_multiple_of(RING_BLOCK_BYTES) && b as usize <= RING_POOL_BYTES);
        }
    }
    let mut plan = Plan::new();
    reload::plan(&c, &c, &mut plan);
    assert_eq!(plan.steps.len(), n);
    assert!(plan.steps.iter().all(|s| s.change == Change::Kept), "a reload to itself keeps all");
    // Read in pieces of 1 to 61 bytes, as a client's reads may come.
    let mut line = [0u8; LINE_BYTES + 1];
    let step = data.len() % 61 + 1;
    let mut at = 0;
    let found = config::control_path(&mut line, |into| {
        let k = into.len().min(step).min(data.len() - at);
        into[..k].copy_from_slice(&data[at..at + k]);
        at += k;
        Some(k)
    });
    assert_eq!(found, c.control.map(|s| c.str(s)), "the quick scan finds the control path");
}

const ENV_CONFIG: &[u8] = b"[app]\nexec = /bin/true\nenv = FROM_CONFIG=1\nenv_file = /etc/app.env\n";
const ENV_LINE: u32 = 4;

/// One env_file line as the parser reads it: without a CR at its end and
/// blanks at its start; None for a blank line or a comment.
fn env_line(raw: &[u8]) -> Option<&[u8]> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let line = &raw[raw.iter().take_while(|&&b| b == b' ' || b == b'\t' || b == b'\r').count()..];
    (!line.is_empty() && !line.starts_with(b"#")).then_some(line)
}

/// An env_file: errors name its line (a line that is neither blank nor a
/// comment) and never quote it; a good file's last entry of each key is in
/// the environment.
pub fn env_file(data: &[u8]) {
    let mut c = Config::new();
    let errors = parse(ENV_CONFIG, Fake { env: data, ..FAKE }, &mut c);
    let lines = || data.split(|&b| b == b'\n');
    for e in errors.list.iter() {
        assert!(e.line == ENV_LINE && e.span.len == 0, "{:?}", e);
        assert!(matches!(e.error, Error::EnvFileLine | Error::TooManyEnv | Error::ArenaFull), "{:?}", e);
        let raw = lines().nth(e.file_line as usize - 1).expect("the line is in the file");
        assert!(env_line(raw).is_some(), "a blank line or a comment is no error");
    }
    if !errors.is_empty() {
        return;
    }
    let d = &c.defs[0];
    let env = c.list(d.env);
    fn key(e: &[u8]) -> &[u8] {
        e.split(|&b| b == b'=').next().unwrap_or(&[])
    }
    for (i, raw) in lines().enumerate() {
        let Some(entry) = env_line(raw) else { continue };
        let k = key(entry);
        let later = lines().skip(i + 1).filter_map(env_line).any(|e| key(e) == k);
        if !later && k != b"SVC_SERVICE" {
            assert!(env.iter().any(|s| c.str(*s) == entry), "the last entry of each key is kept");
        }
    }
}

/// `[a]`, an exec line, then `key = value` (value without a newline).
fn one_key(key: &[u8], value: &[u8], extra: &[u8], text: &mut Vec<u8, { 2 * LINE_BYTES }>) -> bool {
    text.clear();
    let parts: [&[u8]; 5] = [b"[a]\nexec = /bin/true\n", extra, key, b" = ", value];
    !value.contains(&b'\n') && parts.iter().all(|p| text.extend_from_slice(p).is_ok())
}

/// Durations (duration.rs) against the grammar: 1 to 12 digits, then `ms`,
/// `s`, `m` or `h`; the value in milliseconds reads back; `stop_timeout`
/// takes exactly what `duration::parse` takes (blanks around trimmed).
pub fn duration(data: &[u8]) {
    let got = duration::parse(data);
    let digits = data.iter().take_while(|b| b.is_ascii_digit()).count();
    let unit = match &data[digits..] {
        b"ms" => Some(1),
        b"s" => Some(1000),
        b"m" => Some(60_000),
        b"h" => Some(3_600_000),
        _ => None,
    };
    let n = data[..digits.min(12)].iter().fold(0u64, |v, &b| v * 10 + u64::from(b - b'0'));
    let want = match unit {
        Some(k) if (1..=12).contains(&digits) => Ok(Duration::from_millis(n * k)),
        _ => Err(duration::Error::BadDuration),
    };
    assert_eq!(got, want);
    if let Ok(d) = got {
        let mut text = Buf::<32>::new();
        let _ = uwrite!(text, "{}", d);
        assert!(!text.is_empty() && !text.was_cut());
        if d.as_millis() < 1_000_000_000_000 {
            text.clear();
            let _ = uwrite!(text, "{}ms", d.as_millis());
            assert_eq!(duration::parse(text.as_bytes()), Ok(d), "milliseconds read back");
        }
    }
    let mut text = Vec::new();
    let trimmed = data.trim_ascii_start().trim_ascii_end();
    if trimmed.len() != data.len() || !one_key(b"stop_timeout", data, b"", &mut text) {
        return;
    }
    let mut c = Config::new();
    let errors = parse(&text, FAKE, &mut c);
    match got {
        Ok(d) => assert!(errors.is_empty() && c.defs[0].stop_timeout == d, "{:?}", errors.list),
        Err(_) => assert!(!errors.is_empty()),
    }
}

/// A size as written: digits, then maybe `k` (×1024) or `M` (×1024²).
fn size_of(word: &[u8]) -> Option<u64> {
    let (digits, k) = match word.split_last() {
        Some((b'k', rest)) => (rest, 1024),
        Some((b'M', rest)) => (rest, 1024 * 1024),
        _ => (word, 1),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |v, &b| v.checked_mul(10)?.checked_add(u64::from(b - b'0')))?.checked_mul(k)
}

/// Sizes (config/keys.rs, private: through the config) against the
/// grammar, as `core` (an rlimit), `log = ring:` (whole blocks, within the
/// pool) and `log_size` (4k to 1024M).
pub fn size(data: &[u8]) {
    if data.iter().any(|&b| matches!(b, b' ' | b'\t' | b'\r')) {
        return;
    }
    let want = size_of(data);
    let mut text = Vec::new();
    let mut c = Config::new();
    if one_key(b"core", data, b"", &mut text) {
        let ok = parse(&text, FAKE, &mut c).is_empty();
        let limit = if data == b"unlimited" { Some(u64::MAX) } else { want.filter(|&v| v != u64::MAX) };
        assert_eq!(ok, limit.is_some() && !data.is_empty());
        if ok {
            assert_eq!(c.defs[0].rlimits[Limit::Core as usize], limit);
        }
    }
    let mut ring = Vec::<u8, LINE_BYTES>::new();
    if ring.extend_from_slice(b"ring:").is_ok() && ring.extend_from_slice(data).is_ok() && one_key(b"log", &ring, b"", &mut text) {
        let ok = parse(&text, FAKE, &mut c).is_empty();
        let block = RING_BLOCK_BYTES as u64;
        let rounded = want.filter(|&v| v > 0).and_then(|v| v.div_ceil(block).checked_mul(block));
        let rounded = rounded.filter(|&v| v <= RING_POOL_BYTES as u64);
        assert_eq!(ok, rounded.is_some());
        if let Some(r) = rounded {
            assert_eq!(c.defs[0].log, Log::Ring(r as u32));
        }
    }
    if one_key(b"log_size", data, b"log = file:/var/log/a\n", &mut text) {
        let ok = parse(&text, FAKE, &mut c).is_empty();
        let size = want.filter(|v| (4096..=1 << 30).contains(v));
        assert_eq!(ok, size.is_some());
        if let (Some(v), Log::File { size, .. }) = (size, c.defs[0].log) {
            assert_eq!(u64::from(size), v);
        }
    }
}

/// /etc/passwd and /etc/group lines (passwd.rs), the same bytes as both:
/// an entry, written again as a line, reads back the same; a lookup finds
/// the first entry of a name; and `user = NAME` with these files as
/// /etc/passwd and /etc/group gives that entry's ids and every group that
/// lists NAME.
pub fn passwd(data: &[u8]) {
    for line in data.split(|&b| b == b'\n') {
        let mut again = Buf::<{ 2 * LINE_BYTES }>::new();
        if let Some(u) = pw::parse_user(line) {
            assert!(!u.name.is_empty() && !u.name.contains(&b':') && u.name[0] != b'#');
            let _ = uwrite!(again, ":x:{}:{}", u.uid, u.gid);
            let tail = again.len();
            again.clear();
            again.push(u.name);
            let _ = uwrite!(again, ":x:{}:{}", u.uid, u.gid);
            assert!(again.was_cut() || again.len() == u.name.len() + tail);
            if !again.was_cut() {
                assert_eq!(pw::parse_user(again.as_bytes()), Some(u), "the user reads back");
            }
        }
        if let Some(g) = pw::parse_group(line) {
            again.clear();
            again.push(g.name);
            let _ = uwrite!(again, ":x:{}:", g.gid);
            again.push(g.members);
            // Members ending in CR: the `:` keeps it (a line loses a CR at its end).
            again.push(b":");
            if !again.was_cut() {
                assert_eq!(pw::parse_group(again.as_bytes()), Some(g), "the group reads back");
            }
            for m in g.members.split(|&b| b == b',').filter(|m| !m.is_empty()) {
                assert!(g.has_member(m));
            }
        }
    }
    let Some(u) = pw::users(data).next() else { return };
    assert_eq!(pw::user_by_name(data, u.name), Some(u), "the first of a name is found");
    assert_eq!(pw::user_by_uid(data, u.uid).map(|v| v.uid), Some(u.uid));
    if !u.name.iter().all(u8::is_ascii_graphic) || pw::parse_id(u.name).is_some() {
        return;
    }
    let mut text = Vec::new();
    if !one_key(b"user", u.name, b"", &mut text) {
        return;
    }
    let mut c = Config::new();
    let errors = parse(&text, Fake { passwd: data, group: data, ..FAKE }, &mut c);
    let mut gids = Vec::<u32, { MAX_GROUPS + 1 }>::new();
    for g in pw::groups(data).filter(|g| g.has_member(u.name)) {
        if !gids.contains(&g.gid) && gids.push(g.gid).is_err() {
            break;
        }
    }
    let want = if u.uid == u32::MAX || u.gid == u32::MAX {
        Some(Error::BadId)
    } else if gids.len() > MAX_GROUPS {
        Some(Error::TooManyGroups)
    } else {
        None
    };
    assert_eq!(errors.list.first().map(|e| e.error), want, "{:?}", errors.list);
    if want.is_none() {
        let d = &c.defs[0];
        assert_eq!((d.uid, d.gid), (Some(u.uid), Some(u.gid)));
        assert_eq!(c.groups(d.groups), &gids[..]);
    }
}
