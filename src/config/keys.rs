//! The config's keys and the parsers of their values: booleans, sizes,
//! rlimits, `ready`, `log`, names, environment keys; and the "did you mean"
//! hint for an unknown key. No syscalls.

use super::{Error, Log, Ready, Restart, Span};
use crate::duration::{self, Duration};
use crate::limits::{
    LOG_FILE_DEFAULT_BYTES, LOG_FILE_MAX_BYTES, LOG_FILE_MIN_BYTES, LOG_KEEP_DEFAULT, MAX_LOG_KEEP, NAME_BYTES, PATH_BYTES,
    RING_BLOCK_BYTES, RING_POOL_BYTES,
};
use crate::text;

/// The keys of a service section. `Key as u32` is its bit in a seen-mask.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Key {
    Exec,
    Env,
    EnvFile,
    Cwd,
    User,
    Group,
    Restart,
    Oneshot,
    Start,
    Backoff,
    Stable,
    Ready,
    ReadyTimeout,
    StopSignal,
    StopTimeout,
    After,
    Nofile,
    Nproc,
    Core,
    Memlock,
    Log,
    LogSize,
    LogKeep,
    Listen,
    UpgradeDelay,
    UpgradeSignal,
    KillMode,
    Watchdog,
    ProbeInterval,
    OomScoreAdj,
    Pin,
    // `[svc]` keys (`is_svc`).
    Control,
    ControlGroup,
    Hostname,
    Emergency,
    ShutdownTimeout,
}

/// Keys, in the order of `Key`: a service section's, then `[svc]`'s.
pub const KEYS: [(&str, Key); 36] = [
    ("exec", Key::Exec),
    ("env", Key::Env),
    ("env_file", Key::EnvFile),
    ("cwd", Key::Cwd),
    ("user", Key::User),
    ("group", Key::Group),
    ("restart", Key::Restart),
    ("oneshot", Key::Oneshot),
    ("start", Key::Start),
    ("backoff", Key::Backoff),
    ("stable", Key::Stable),
    ("ready", Key::Ready),
    ("ready_timeout", Key::ReadyTimeout),
    ("stop_signal", Key::StopSignal),
    ("stop_timeout", Key::StopTimeout),
    ("after", Key::After),
    ("nofile", Key::Nofile),
    ("nproc", Key::Nproc),
    ("core", Key::Core),
    ("memlock", Key::Memlock),
    ("log", Key::Log),
    ("log_size", Key::LogSize),
    ("log_keep", Key::LogKeep),
    ("listen", Key::Listen),
    ("upgrade_delay", Key::UpgradeDelay),
    ("upgrade_signal", Key::UpgradeSignal),
    ("kill_mode", Key::KillMode),
    ("watchdog", Key::Watchdog),
    ("probe_interval", Key::ProbeInterval),
    ("oom_score_adj", Key::OomScoreAdj),
    ("pin", Key::Pin),
    ("control", Key::Control),
    ("control_group", Key::ControlGroup),
    ("hostname", Key::Hostname),
    ("emergency", Key::Emergency),
    ("shutdown_timeout", Key::ShutdownTimeout),
];

/// KEYS' names as the lines of one string; built at compile time, so that
/// KEYS itself (24 bytes an entry on 64-bit) is not in the binary.
/// (A `str` checked at compile time: no UTF-8 check when a hint is read.)
static NAMES: &str = match core::str::from_utf8(&KEY_LINES) {
    Ok(s) => s,
    Err(_) => panic!("key names are ASCII"),
};
const KEY_LINES: [u8; text::lines_len(&ALL_NAMES)] = text::lines(&ALL_NAMES);
const ALL_NAMES: [&str; KEYS.len()] = all_names();
/// The key of each of KEYS' lines.
static KEY_OF: [Key; KEYS.len()] = key_of();

const fn all_names() -> [&'static str; KEYS.len()] {
    let mut out = [""; KEYS.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = KEYS[i].0;
        i += 1;
    }
    out
}

const fn key_of() -> [Key; KEYS.len()] {
    let mut out = [Key::Exec; KEYS.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = KEYS[i].1;
        i += 1;
    }
    out
}

fn name(i: usize) -> &'static str {
    text::line(NAMES, i)
}

/// Whether `k` is a key of `[svc]` rather than of a service.
pub fn is_svc(k: Key) -> bool {
    k as u8 >= Key::Control as u8
}

/// A key by name, of either kind.
pub fn lookup(name: &[u8]) -> Option<Key> {
    KEY_OF.get(text::find_line(NAMES.as_bytes(), name)?).copied()
}

/// The closest of the keys (of `[svc]`, or of a service) to `word` within
/// an edit distance of 2 (the first on a tie), for "did you mean".
// Out of line: smaller than inlined into key (x86_64 -40, i686 -16).
#[inline(never)]
pub fn hint(word: &[u8], svc: bool) -> Option<&'static str> {
    let mut best: Option<(usize, &'static str)> = None;
    let first = Key::Control as usize;
    for i in if svc { first..KEYS.len() } else { 0..first } {
        let k = name(i);
        let d = distance(word, k.as_bytes());
        if d <= 2 && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k)
}

const W: usize = 33;

/// Optimal string alignment distance (Levenshtein plus swaps of neighbours),
/// `usize::MAX` for words of 33 bytes or more.
pub fn distance(a: &[u8], b: &[u8]) -> usize {
    if a.len() >= W || b.len() >= W {
        return usize::MAX;
    }
    // Cells are read with get (W, more than any distance here, outside):
    // indexing would link a bounds-check panic the optimizer cannot drop.
    let at = |row: &[usize; W], k: usize| row.get(k).copied().unwrap_or(W);
    // up2: two rows up, up: the row above, this: the row being filled.
    // (References, rotated at each row: moving the rows was three copies.)
    let mut rows = [[0usize; W]; 3];
    let [r0, r1, r2] = &mut rows;
    let (mut up2, mut up, mut this) = (r0, r1, r2);
    for (j, d) in up.iter_mut().enumerate() {
        *d = j;
    }
    for (i, &ca) in a.iter().enumerate() {
        this[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let mut d = (at(up, j + 1) + 1).min(at(this, j) + 1).min(at(up, j) + cost);
            let swapped = i > 0 && j > 0 && a.get(i - 1) == Some(&cb) && b.get(j - 1) == Some(&ca);
            if swapped {
                d = d.min(at(up2, j.wrapping_sub(1)) + 1);
            }
            if let Some(cell) = this.get_mut(j + 1) {
                *cell = d;
            }
        }
        (up2, up, this) = (up, this, up2);
    }
    at(up, b.len())
}

pub const fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r'
}

/// 1 to 31 of `A-Z a-z 0-9 _ . -`.
pub fn name_ok(name: &[u8]) -> bool {
    (1..=NAME_BYTES).contains(&name.len()) && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
pub fn env_key_ok(key: &[u8]) -> bool {
    match key.split_first() {
        Some((&first, rest)) => {
            (first.is_ascii_alphabetic() || first == b'_') && rest.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
        }
        None => false,
    }
}

/// `KEY=value` with a good key (the value may be empty).
pub fn env_entry_ok(entry: &[u8]) -> bool {
    match entry.iter().position(|&b| b == b'=') {
        Some(eq) => env_key_ok(entry.get(..eq).unwrap_or(&[])) && !entry.contains(&0),
        None => false,
    }
}

/// The key of a `KEY=value` entry.
pub fn env_key(entry: &[u8]) -> &[u8] {
    crate::text::split(entry, b'=').next().unwrap_or(entry)
}

pub fn parse_bool(word: &[u8]) -> Result<bool, Error> {
    match text::find_line(b"no\nyes", word) {
        Some(i) => Ok(i == 1),
        None => Err(Error::BadBool),
    }
}

pub fn parse_restart(word: &[u8]) -> Result<Restart, Error> {
    match text::find_line(b"always\non-failure\nnever", word) {
        Some(0) => Ok(Restart::Always),
        Some(1) => Ok(Restart::OnFailure),
        Some(2) => Ok(Restart::Never),
        _ => Err(Error::BadRestart),
    }
}

pub fn parse_duration(word: &[u8]) -> Result<Duration, Error> {
    duration::parse(word).map_err(|_| Error::BadDuration)
}

/// A decimal u64, checked.
pub fn parse_u64(word: &[u8]) -> Option<u64> {
    if word.is_empty() {
        return None;
    }
    word.iter().try_fold(0u64, |v, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        v.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// An integer with an optional `k` (×1024) or `M` (×1024²).
pub fn parse_size(word: &[u8]) -> Option<u64> {
    let (digits, k) = match word.split_last() {
        Some((b'k', rest)) => (rest, 1024),
        Some((b'M', rest)) => (rest, 1024 * 1024),
        _ => (word, 1),
    };
    parse_u64(digits)?.checked_mul(k)
}

/// `oom_score_adj`: -1000 to 1000.
pub fn parse_oom(word: &[u8]) -> Result<i16, Error> {
    let (neg, digits) = match word.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, word),
    };
    match parse_u64(digits) {
        Some(v) if v <= 1000 => Ok(if neg { -(v as i16) } else { v as i16 }),
        _ => Err(Error::BadOomScore),
    }
}

/// An rlimit: `unlimited` (u64::MAX) or a count, or for byte limits a size.
pub fn parse_rlimit(word: &[u8], bytes: bool) -> Result<u64, Error> {
    if word == b"unlimited" {
        return Ok(u64::MAX);
    }
    let v = if bytes { parse_size(word) } else { parse_u64(word) };
    // u64::MAX is RLIM_INFINITY: a number must not mean unlimited by accident.
    match v {
        Some(v) if v != u64::MAX => Ok(v),
        _ => Err(if bytes { Error::BadSize } else { Error::BadNumber }),
    }
}

/// `none`, `notify`, `delay:DURATION` or `fd:N` with 3 ≤ N ≤ 255.
pub fn parse_ready(word: &[u8]) -> Result<Ready, Error> {
    match text::find_line(b"none\nnotify", word) {
        Some(0) => return Ok(Ready::None),
        Some(1) => return Ok(Ready::Notify),
        _ => {}
    }
    if let Some(d) = crate::text::after(word, b"delay:") {
        return parse_duration(d).map(Ready::Delay);
    }
    let Some(n) = crate::text::after(word, b"fd:") else {
        return Err(Error::BadReady);
    };
    match parse_u64(n) {
        Some(n) if n < 3 => Err(Error::ReadyFdLow),
        Some(n) => u8::try_from(n).map(Ready::Fd).map_err(|_| Error::BadReady),
        None => Err(Error::BadReady),
    }
}

/// `null`, `console`, `file:PATH` or `ring:SIZE`, the size rounded up to
/// whole blocks; a ring larger than the whole pool is RingPoolFull. A file
/// comes back with an empty path (the caller stores it) and default size and keep.
pub fn parse_log(word: &[u8]) -> Result<Log, Error> {
    match text::find_line(b"null\nconsole", word) {
        Some(0) => return Ok(Log::Null),
        Some(1) => return Ok(Log::Console),
        _ => {}
    }
    if let Some(path) = crate::text::after(word, b"file:") {
        if !path.starts_with(b"/") {
            return Err(Error::RelativePath);
        }
        if path.len() >= PATH_BYTES {
            return Err(Error::PathTooLong);
        }
        let last = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
        if matches!(last, b"" | b"." | b"..") {
            return Err(Error::LogPathNotFile);
        }
        return Ok(Log::File { path: Span::default(), size: LOG_FILE_DEFAULT_BYTES, keep: LOG_KEEP_DEFAULT });
    }
    let Some(size) = crate::text::after(word, b"ring:") else {
        return Err(Error::BadLog);
    };
    let bytes = match parse_size(size) {
        Some(0) | None => return Err(Error::BadSize),
        Some(b) => b,
    };
    // Counted in blocks: at most the pool's, whose bytes fit u32 (asserted below).
    let blocks = bytes.div_ceil(RING_BLOCK_BYTES as u64);
    if blocks > (RING_POOL_BYTES / RING_BLOCK_BYTES) as u64 {
        return Err(Error::RingPoolFull);
    }
    Ok(Log::Ring(blocks as u32 * RING_BLOCK_BYTES as u32))
}

const _: () = assert!(RING_POOL_BYTES <= u32::MAX as usize);

/// `log_size`: a size from LOG_FILE_MIN_BYTES to LOG_FILE_MAX_BYTES.
pub fn parse_log_size(word: &[u8]) -> Result<u32, Error> {
    match parse_size(word) {
        Some(v) if (u64::from(LOG_FILE_MIN_BYTES)..=u64::from(LOG_FILE_MAX_BYTES)).contains(&v) => Ok(v as u32),
        _ => Err(Error::BadLogSize),
    }
}

/// `log_keep`: 1 to MAX_LOG_KEEP old files.
pub fn parse_log_keep(word: &[u8]) -> Result<u8, Error> {
    match parse_u64(word) {
        Some(v) if (1..=u64::from(MAX_LOG_KEEP)).contains(&v) => Ok(v as u8),
        _ => Err(Error::BadLogKeep),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_enum_order() {
        for (i, (_, k)) in KEYS.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
        assert_eq!(lookup(b"stop_signal"), Some(Key::StopSignal));
        assert_eq!(lookup(b"Exec"), None);
        assert_eq!(lookup(b"control_group"), Some(Key::ControlGroup));
        for (i, (name, k)) in KEYS.iter().enumerate() {
            assert_eq!(self::name(i), *name);
            assert_eq!(is_svc(*k), i >= 31, "{name}");
        }
        for (name, k) in KEYS {
            assert_eq!(lookup(name.as_bytes()), Some(k));
        }
        assert_eq!(lookup(b""), None);
        assert!(is_svc(lookup(b"control").unwrap()));
        assert!(!is_svc(lookup(b"exec").unwrap()));
    }

    #[test]
    fn distances() {
        for (a, b, d) in [
            ("exec", "exec", 0),
            ("exce", "exec", 1),
            ("exe", "exec", 1),
            ("Exec", "exec", 1),
            ("execc", "exec", 1),
            ("xeec", "exec", 1),
            ("ecex", "exec", 2),
            ("", "log", 3),
            ("kitten", "sitting", 3),
            ("ca", "abc", 3),
            ("stop_timeuot", "stop_timeout", 1),
        ] {
            assert_eq!(distance(a.as_bytes(), b.as_bytes()), d, "{a} {b}");
        }
        assert_eq!(distance(&[b'a'; 40], b"a"), usize::MAX);
    }

    #[test]
    fn hints() {
        for (word, want) in [
            ("exce", Some("exec")),
            ("enf", Some("env")),
            ("env-file", Some("env_file")),
            ("envfile", Some("env_file")),
            ("stop-signal", Some("stop_signal")),
            ("readytimeout", Some("ready_timeout")),
            ("restrat", Some("restart")),
            ("nofiles", Some("nofile")),
            ("logs", Some("log")),
            ("whatever", None),
            ("", None),
        ] {
            assert_eq!(hint(word.as_bytes(), false), want, "{word}");
        }
        assert_eq!(hint(b"contrl", true), Some("control"));
        // Each kind of section hints at its own keys only.
        assert_eq!(hint(b"contrl", false), None);
        assert_eq!(hint(b"exce", true), None);
    }

    #[test]
    fn names_and_env_keys() {
        for (n, ok) in [
            ("web", true),
            ("a", true),
            ("db-migrate", true),
            ("A.b_c-9", true),
            ("", false),
            ("we b", false),
            ("web/1", false),
            ("é", false),
        ] {
            assert_eq!(name_ok(n.as_bytes()), ok, "{n}");
        }
        assert!(name_ok(&[b'x'; 31]));
        assert!(!name_ok(&[b'x'; 32]));
        for (k, ok) in [("PATH", true), ("_x", true), ("a1_B", true), ("1A", false), ("", false), ("A-B", false), ("A B", false)] {
            assert_eq!(env_key_ok(k.as_bytes()), ok, "{k}");
        }
        for (e, ok) in [("A=1", true), ("A=", true), ("A==b", true), ("A", false), ("=1", false), ("A B=1", false), ("A=\0", false)] {
            assert_eq!(env_entry_ok(e.as_bytes()), ok, "{e}");
        }
        assert_eq!(env_key(b"A=b=c"), b"A");
    }

    #[test]
    fn values() {
        assert_eq!(parse_bool(b"yes"), Ok(true));
        assert_eq!(parse_bool(b"no"), Ok(false));
        assert_eq!(parse_bool(b"true"), Err(Error::BadBool));
        assert_eq!(parse_restart(b"on-failure"), Ok(Restart::OnFailure));
        assert_eq!(parse_restart(b"sometimes"), Err(Error::BadRestart));
        for (w, v) in [
            ("0", Some(0)),
            ("4096", Some(4096)),
            ("16k", Some(16384)),
            ("1M", Some(1 << 20)),
            ("k", None),
            ("1K", None),
            ("1G", None),
            ("-1", None),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("18014398509481984k", None),
        ] {
            assert_eq!(parse_size(w.as_bytes()), v, "{w}");
        }
        for (w, bytes, v) in [
            ("unlimited", false, Ok(u64::MAX)),
            ("4096", false, Ok(4096)),
            ("4k", false, Err(Error::BadNumber)),
            ("4k", true, Ok(4096)),
            ("2M", true, Ok(2 << 20)),
            ("lots", true, Err(Error::BadSize)),
            ("18446744073709551615", false, Err(Error::BadNumber)),
        ] {
            assert_eq!(parse_rlimit(w.as_bytes(), bytes), v, "{w}");
        }
    }

    #[test]
    fn ready_table() {
        for (w, v) in [
            ("none", Ok(Ready::None)),
            ("delay:2s", Ok(Ready::Delay(Duration::from_secs(2)))),
            ("delay:2", Err(Error::BadDuration)),
            ("fd:3", Ok(Ready::Fd(3))),
            ("fd:255", Ok(Ready::Fd(255))),
            ("fd:2", Err(Error::ReadyFdLow)),
            ("fd:0", Err(Error::ReadyFdLow)),
            ("fd:256", Err(Error::BadReady)),
            ("fd:99999999999999999999999", Err(Error::BadReady)),
            ("fd:", Err(Error::BadReady)),
            ("fd:x", Err(Error::BadReady)),
            ("notify", Ok(Ready::Notify)),
            ("notify:", Err(Error::BadReady)),
        ] {
            assert_eq!(parse_ready(w.as_bytes()), v, "{w}");
        }
    }

    #[test]
    fn log_table() {
        for (w, v) in [
            ("null", Ok(Log::Null)),
            ("ring:4k", Ok(Log::Ring(4096))),
            ("ring:16k", Ok(Log::Ring(16384))),
            ("ring:1", Ok(Log::Ring(1024))),
            ("ring:1025", Ok(Log::Ring(2048))),
            ("ring:256k", Ok(Log::Ring(256 * 1024))),
            ("ring:257k", Err(Error::RingPoolFull)),
            ("ring:1M", Err(Error::RingPoolFull)),
            ("ring:18446744073709551615", Err(Error::RingPoolFull)),
            ("ring:0", Err(Error::BadSize)),
            ("ring:", Err(Error::BadSize)),
            ("ring:4x", Err(Error::BadSize)),
            ("file", Err(Error::BadLog)),
            ("console", Ok(Log::Console)),
            ("Console", Err(Error::BadLog)),
            ("file:/var/log/web.log", Ok(Log::File { path: Span::default(), size: 1 << 20, keep: 3 })),
            ("file:web.log", Err(Error::RelativePath)),
            ("file:", Err(Error::RelativePath)),
            ("file:/", Err(Error::LogPathNotFile)),
            ("file:/var/log/", Err(Error::LogPathNotFile)),
            ("file:/var/log/.", Err(Error::LogPathNotFile)),
            ("file:/var/log/..", Err(Error::LogPathNotFile)),
            ("file:/var/log/.web", Ok(Log::File { path: Span::default(), size: 1 << 20, keep: 3 })),
        ] {
            assert_eq!(parse_log(w.as_bytes()), v, "{w}");
        }
        let long = |n: usize| format!("file:/{}", "l".repeat(n - 1));
        assert!(parse_log(long(PATH_BYTES - 1).as_bytes()).is_ok());
        assert_eq!(parse_log(long(PATH_BYTES).as_bytes()), Err(Error::PathTooLong));
    }

    #[test]
    fn log_size_and_keep_table() {
        for (w, v) in [
            ("4k", Ok(4096)),
            ("4096", Ok(4096)),
            ("1M", Ok(1 << 20)),
            ("1024M", Ok(1 << 30)),
            ("4095", Err(Error::BadLogSize)),
            ("1025M", Err(Error::BadLogSize)),
            ("0", Err(Error::BadLogSize)),
            ("18446744073709551615", Err(Error::BadLogSize)),
            ("1G", Err(Error::BadLogSize)),
            ("", Err(Error::BadLogSize)),
        ] {
            assert_eq!(parse_log_size(w.as_bytes()), v, "{w}");
        }
        for (w, v) in [
            ("1", Ok(1)),
            ("3", Ok(3)),
            ("9", Ok(9)),
            ("0", Err(Error::BadLogKeep)),
            ("10", Err(Error::BadLogKeep)),
            ("x", Err(Error::BadLogKeep)),
            ("-1", Err(Error::BadLogKeep)),
            ("256", Err(Error::BadLogKeep)),
        ] {
            assert_eq!(parse_log_keep(w.as_bytes()), v, "{w}");
        }
        assert_eq!(hint(b"logsize", false), Some("log_size"));
        assert_eq!(hint(b"log-keep", false), Some("log_keep"));
    }
}
