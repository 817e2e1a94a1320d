//! Signal names ⇄ numbers: `TERM`, `SIGTERM`, `term` and `15` in; `TERM`
//! out. Numbers come from the libc crate so that the table is right on every
//! architecture (MIPS numbers USR1 16, not 10). No syscalls.

use libc::c_int;

// The signals svc itself sends or handles, by name: numbers differ between
// architectures (SIGCONT is 25 on MIPS), so none is written as a number.
/// SIGTERM, the default stop signal.
pub const TERM: u8 = libc::SIGTERM as u8;
/// SIGKILL, the end of every stop timeout.
pub const KILL: u8 = libc::SIGKILL as u8;
/// SIGCONT, sent after a stop signal so that a stopped process sees it.
pub const CONT: u8 = libc::SIGCONT as u8;
pub const HUP: u8 = libc::SIGHUP as u8;
pub const INT: u8 = libc::SIGINT as u8;
pub const QUIT: u8 = libc::SIGQUIT as u8;
pub const CHLD: u8 = libc::SIGCHLD as u8;
/// SIGABRT, the watchdog's bite (a core dump shows where the server hung).
pub const ABRT: u8 = libc::SIGABRT as u8;
// svc as PID 1: busybox init's halt, poweroff and (PWR, from LXC and incus)
// poweroff requests.
pub const USR1: u8 = libc::SIGUSR1 as u8;
pub const USR2: u8 = libc::SIGUSR2 as u8;
pub const PWR: u8 = libc::SIGPWR as u8;
/// Highest signal number accepted (Linux real-time signals end at 64).
pub const MAX: u8 = 64;

// Names without SIG, in `kill -l` order. STKFLT is left out: MIPS and SPARC
// lack it.
const TABLE: &[(&str, c_int)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// TABLE's names as the lines of one string, and its numbers, in TABLE's
/// order, built at compile time: TABLE itself, 24 bytes an entry on 64-bit
/// (a `&str` and an int), is never in the binary.
static NAMES: &str = match core::str::from_utf8(&NAME_LINES) {
    Ok(s) => s,
    Err(_) => panic!("signal names are ASCII"),
};
const NAME_LINES: [u8; crate::text::lines_len(&NAME_LIST)] = crate::text::lines(&NAME_LIST);
static NUMBERS: [u8; TABLE.len()] = numbers();
const NAME_LIST: [&str; TABLE.len()] = name_list();

const fn name_list() -> [&'static str; TABLE.len()] {
    let mut out = [""; TABLE.len()];
    let mut i = 0;
    while i < TABLE.len() {
        out[i] = TABLE[i].0;
        i += 1;
    }
    out
}

const fn numbers() -> [u8; TABLE.len()] {
    let mut out = [0u8; TABLE.len()];
    let mut i = 0;
    while i < TABLE.len() {
        assert!(TABLE[i].1 > 0 && TABLE[i].1 <= MAX as c_int);
        out[i] = TABLE[i].1 as u8;
        i += 1;
    }
    out
}

/// Whether `a` and `b` are the same letters, in any case. (By hand: the
/// slice method is unrolled for long slices, 300 bytes.)
fn same_letters(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
}

/// A signal name (any case, `SIG` optional) or a number 1..=64.
pub fn parse(word: &[u8]) -> Option<u8> {
    if let Some(first) = word.first()
        && first.is_ascii_digit()
    {
        if word.len() > 2 {
            return None;
        }
        let n = word.iter().try_fold(0u8, |v, &b| if b.is_ascii_digit() { Some(v * 10 + (b - b'0')) } else { None })?;
        return if (1..=MAX).contains(&n) { Some(n) } else { None };
    }
    let name = match word.get(..3) {
        Some(p) if same_letters(p, b"SIG") => word.get(3..).unwrap_or(&[]),
        _ => word,
    };
    let i = crate::text::split(NAMES.as_bytes(), b'\n').position(|n| same_letters(n, name))?;
    NUMBERS.get(i).copied()
}

/// The name of signal `n`, without SIG; `None` for real-time and unknown signals.
pub fn name(n: u8) -> Option<&'static str> {
    let i = NUMBERS.iter().position(|&v| v == n)?;
    Some(crate::text::line(NAMES, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        for (word, n) in [
            ("TERM", 15),
            ("SIGTERM", 15),
            ("term", 15),
            ("SigHup", 1),
            ("HUP", 1),
            ("INT", 2),
            ("QUIT", 3),
            ("KILL", 9),
            ("USR1", 10),
            ("USR2", 12),
            ("ALRM", 14),
            ("CONT", 18),
            ("STOP", 19),
            ("WINCH", 28),
            ("PWR", 30),
            ("1", 1),
            ("9", 9),
            ("15", 15),
            ("34", 34),
            ("64", 64),
        ] {
            assert_eq!(parse(word.as_bytes()), Some(n), "{word}");
        }
        for bad in ["", "0", "65", "99", "100", "015", "-1", "SIG", "TERMX", "SIGSIGTERM", " TERM", "STKFLT", "1a", "RTMIN"] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(name(15), Some("TERM"));
        assert_eq!(name(9), Some("KILL"));
        assert_eq!(name(40), None);
        assert_eq!(name(0), None);
        for &(n, v) in TABLE {
            let v = u8::try_from(v).unwrap();
            assert_eq!(name(v), Some(n));
            assert_eq!(parse(n.as_bytes()), Some(v));
        }
        assert_eq!(TERM, 15);
    }
}
