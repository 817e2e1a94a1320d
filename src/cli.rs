//! The command line: verbs and flags → `Command`; usage text; exit codes.
//! Options may stand anywhere after `svc`, mixed with operands; `--` ends
//! them. No syscalls.

use crate::limits::MAX_OPERANDS;
use heapless::Vec;

/// Success.
pub const EXIT_OK: i32 = 0;
/// Something failed (a config error, an unknown service, a refused request).
pub const EXIT_FAIL: i32 = 1;
/// The command line is wrong.
pub const EXIT_USAGE: i32 = 2;
/// `svc status NAME`: a named service is not up (as LSB status does).
pub const EXIT_NOT_UP: i32 = 3;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Verb {
    Up,
    Status,
    Start,
    Stop,
    Restart,
    Signal,
    Reload,
    Upgrade,
    Log,
    Check,
    Reexec,
    Poweroff,
    Reboot,
    Halt,
    Version,
    Help,
}

// Flags, as bits of `Info::flags`.
const C: u8 = 1; // -c FILE
const S: u8 = 2; // -s SOCKET
const N: u8 = 4; // -n LINES
const F: u8 = 8; // -f
const J: u8 = 16; // --json
const D: u8 = 32; // --dry-run
const X: u8 = 64; // -x PATH
const CLIENT: u8 = C | S;

struct Info {
    verb: Verb,
    name: &'static str,
    flags: u8,
    min: u8,
    max: u8,
    usage: &'static str,
}

const VERBS: &[Info] = &[
    Info {
        verb: Verb::Up,
        name: "up",
        flags: C,
        min: 0,
        max: 0,
        usage: "up [-c FILE]              supervise the services of FILE, in the foreground",
    },
    Info {
        verb: Verb::Status,
        name: "status",
        flags: CLIENT | J,
        min: 0,
        max: 255,
        usage: "status [--json] [NAME...]  show services; exit 3 if a named one is not up",
    },
    Info {
        verb: Verb::Start,
        name: "start",
        flags: CLIENT,
        min: 1,
        max: 255,
        usage: "start NAME...             start services (and want them up)",
    },
    Info {
        verb: Verb::Stop,
        name: "stop",
        flags: CLIENT,
        min: 1,
        max: 255,
        usage: "stop NAME...              stop services and wait until they are stopped",
    },
    Info {
        verb: Verb::Restart,
        name: "restart",
        flags: CLIENT,
        min: 1,
        max: 255,
        usage: "restart NAME...           stop, then start services",
    },
    Info {
        verb: Verb::Signal,
        name: "signal",
        flags: CLIENT,
        min: 2,
        max: 2,
        usage: "signal NAME SIG           send a signal (TERM, HUP, 15, ...) to a service",
    },
    Info {
        verb: Verb::Reload,
        name: "reload",
        flags: CLIENT | D,
        min: 0,
        max: 0,
        usage: "reload [--dry-run]        re-read the config and apply the difference",
    },
    Info {
        verb: Verb::Upgrade,
        name: "upgrade",
        flags: CLIENT,
        min: 1,
        max: 1,
        usage: "upgrade NAME              start a new instance beside the old, then switch",
    },
    Info {
        verb: Verb::Log,
        name: "log",
        flags: CLIENT | N | F,
        min: 0,
        max: 1,
        usage: "log [-f] [-n N] [NAME]    show (or follow) a service's log",
    },
    Info {
        verb: Verb::Check,
        name: "check",
        flags: C,
        min: 0,
        max: 0,
        usage: "check [-c FILE]           validate a config offline; exit 0 or 1",
    },
    Info {
        verb: Verb::Reexec,
        name: "reexec",
        flags: CLIENT | X,
        min: 0,
        max: 0,
        usage: "reexec [-x PATH]          replace svc by the binary on disk, keeping services",
    },
    Info {
        verb: Verb::Poweroff,
        name: "poweroff",
        flags: CLIENT,
        min: 0,
        max: 0,
        usage: "poweroff                  stop everything and power off (svc as PID 1)",
    },
    Info {
        verb: Verb::Reboot,
        name: "reboot",
        flags: CLIENT,
        min: 0,
        max: 0,
        usage: "reboot                    stop everything and reboot (svc as PID 1)",
    },
    Info {
        verb: Verb::Halt,
        name: "halt",
        flags: CLIENT,
        min: 0,
        max: 0,
        usage: "halt                      stop everything and halt (svc as PID 1)",
    },
    Info {
        verb: Verb::Version,
        name: "version",
        flags: 0,
        min: 0,
        max: 0,
        usage: "version                   print version, target and build id",
    },
    Info { verb: Verb::Help, name: "help", flags: 0, min: 0, max: 1, usage: "help [VERB]               print this help, or one verb's" },
];

impl Verb {
    fn info(self) -> &'static Info {
        // VERBS lists every verb in declaration order.
        VERBS.iter().find(|i| i.verb == self).unwrap_or(&VERBS[0])
    }
    pub fn name(self) -> &'static str {
        self.info().name
    }
    pub fn usage(self) -> &'static str {
        self.info().usage
    }
    pub fn all() -> impl Iterator<Item = Verb> {
        VERBS.iter().map(|i| i.verb)
    }
    pub fn from_name(word: &[u8]) -> Option<Verb> {
        VERBS.iter().find(|i| i.name.as_bytes() == word).map(|i| i.verb)
    }
}

/// What the command line asks for. Words borrow from argv.
#[derive(Debug, PartialEq, Eq)]
pub struct Command<'a> {
    pub verb: Verb,
    pub config: Option<&'a [u8]>,
    pub socket: Option<&'a [u8]>,
    pub lines: Option<u32>,
    pub follow: bool,
    pub json: bool,
    pub dry_run: bool,
    pub exe: Option<&'a [u8]>,
    pub operands: Vec<&'a [u8], MAX_OPERANDS>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Error {
    NoVerb,
    UnknownVerb,
    UnknownFlag,
    FlagNotForVerb,
    MissingValue,
    BadNumber,
    TooFewOperands,
    TooManyOperands,
}

impl Error {
    pub const fn text(self) -> &'static str {
        match self {
            Error::NoVerb => "no verb given",
            Error::UnknownVerb => "unknown verb",
            Error::UnknownFlag => "unknown flag",
            Error::FlagNotForVerb => "flag not accepted by this verb",
            Error::MissingValue => "flag needs a value",
            Error::BadNumber => "not a number",
            Error::TooFewOperands => "missing operand",
            Error::TooManyOperands => "too many operands",
        }
    }
}

/// A usage error and the word it is about (empty when none).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UsageError<'a> {
    pub error: Error,
    pub word: &'a [u8],
    pub verb: Option<Verb>,
}

fn flag_bit(word: &[u8]) -> Option<u8> {
    Some(match word {
        b"-c" => C,
        b"-s" => S,
        b"-n" => N,
        b"-f" => F,
        b"--json" => J,
        b"--dry-run" => D,
        b"-x" => X,
        _ => return None,
    })
}

fn takes_value(bit: u8) -> bool {
    bit & (C | S | N | X) != 0
}

/// Parses a decimal u32, rejecting signs, blanks and overflow.
pub fn parse_u32(word: &[u8]) -> Option<u32> {
    if word.is_empty() || word.len() > 10 {
        return None;
    }
    let mut v: u32 = 0;
    for &b in word {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some(v)
}

/// Parses `args` (without argv[0]). With `lenient` (svc as PID 1 or `init`),
/// the verb is `up` and words it does not know are ignored: the kernel hands
/// leftover boot words to init, and init must not exit over them.
pub fn parse<'a>(args: &[&'a [u8]], lenient: bool) -> Result<Command<'a>, UsageError<'a>> {
    let mut cmd = Command {
        verb: Verb::Up,
        config: None,
        socket: None,
        lines: None,
        follow: false,
        json: false,
        dry_run: false,
        exe: None,
        operands: Vec::new(),
    };
    let mut seen: u8 = 0;
    let mut verb: Option<Verb> = if lenient { Some(Verb::Up) } else { None };
    let mut only_operands = false;
    let mut i = 0;
    let err = |error, word, verb| UsageError { error, word, verb };
    while let Some(&word) = args.get(i) {
        i += 1;
        if !only_operands && word == b"--" {
            only_operands = true;
            continue;
        }
        if !only_operands && word.len() > 1 && word.first() == Some(&b'-') {
            if !lenient && verb.is_none() && (word == b"-h" || word == b"--help") {
                verb = Some(Verb::Help);
                continue;
            }
            let Some(bit) = flag_bit(word) else {
                if lenient {
                    continue;
                }
                return Err(err(Error::UnknownFlag, word, verb));
            };
            let value = if takes_value(bit) {
                let Some(&v) = args.get(i) else {
                    if lenient {
                        continue;
                    }
                    return Err(err(Error::MissingValue, word, verb));
                };
                i += 1;
                v
            } else {
                b""
            };
            if lenient && bit != C {
                continue;
            }
            seen |= bit;
            match bit {
                C => cmd.config = Some(value),
                S => cmd.socket = Some(value),
                N => cmd.lines = Some(parse_u32(value).ok_or(err(Error::BadNumber, value, verb))?),
                F => cmd.follow = true,
                J => cmd.json = true,
                D => cmd.dry_run = true,
                _ => cmd.exe = Some(value),
            }
            continue;
        }
        if verb.is_none() {
            verb = Some(Verb::from_name(word).ok_or(err(Error::UnknownVerb, word, None))?);
            continue;
        }
        if lenient {
            continue;
        }
        if cmd.operands.push(word).is_err() {
            return Err(err(Error::TooManyOperands, word, verb));
        }
    }
    let Some(verb) = verb else {
        return Err(err(Error::NoVerb, b"", None));
    };
    cmd.verb = verb;
    let info = verb.info();
    if seen & !info.flags != 0 {
        // Name the first flag the verb does not take.
        let bad = args.iter().find(|w| flag_bit(w).is_some_and(|b| b & !info.flags != 0)).copied().unwrap_or(b"");
        return Err(err(Error::FlagNotForVerb, bad, Some(verb)));
    }
    let n = cmd.operands.len();
    if n < usize::from(info.min) {
        return Err(err(Error::TooFewOperands, b"", Some(verb)));
    }
    if n > usize::from(info.max) {
        let extra = cmd.operands.get(usize::from(info.max)).copied().unwrap_or(b"");
        return Err(err(Error::TooManyOperands, extra, Some(verb)));
    }
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(words: &[&'static str]) -> Result<Command<'static>, UsageError<'static>> {
        let v: std::vec::Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        parse(&v, false)
    }

    #[test]
    fn options_anywhere() {
        for words in [&["log", "-f", "web"][..], &["log", "web", "-f"], &["-f", "log", "web"]] {
            let c = p(words).unwrap();
            assert_eq!(c.verb, Verb::Log);
            assert!(c.follow);
            assert_eq!(c.operands.as_slice(), &[b"web".as_slice()]);
        }
        let c = p(&["log", "web", "-n", "50"]).unwrap();
        assert_eq!(c.lines, Some(50));
        let c = p(&["status", "-s", "/x.sock", "web"]).unwrap();
        assert_eq!(c.socket, Some(b"/x.sock".as_slice()));
        let c = p(&["status", "--", "-web"]).unwrap();
        assert_eq!(c.operands.as_slice(), &[b"-web".as_slice()]);
    }

    #[test]
    fn usage_errors() {
        let cases: &[(&[&str], Error, &str)] = &[
            (&[], Error::NoVerb, ""),
            (&["frob"], Error::UnknownVerb, "frob"),
            (&["status", "--frob"], Error::UnknownFlag, "--frob"),
            (&["version", "-f"], Error::FlagNotForVerb, "-f"),
            (&["up", "-c"], Error::MissingValue, "-c"),
            (&["log", "-n", "x"], Error::BadNumber, "x"),
            (&["log", "-n", "-1"], Error::BadNumber, "-1"),
            (&["start"], Error::TooFewOperands, ""),
            (&["signal", "web"], Error::TooFewOperands, ""),
            (&["version", "extra"], Error::TooManyOperands, "extra"),
        ];
        for (words, error, word) in cases {
            let e = p(words).unwrap_err();
            assert_eq!(e.error, *error, "{words:?}");
            assert_eq!(e.word, word.as_bytes(), "{words:?}");
        }
    }

    #[test]
    fn help_flags() {
        assert_eq!(p(&["--help"]).unwrap().verb, Verb::Help);
        assert_eq!(p(&["help", "log"]).unwrap().operands.len(), 1);
    }

    #[test]
    fn lenient_init_ignores_boot_words() {
        let v: [&[u8]; 5] = [b"single", b"-c", b"/etc/x.conf", b"--weird", b"quiet=1"];
        let c = parse(&v, true).unwrap();
        assert_eq!(c.verb, Verb::Up);
        assert_eq!(c.config, Some(b"/etc/x.conf".as_slice()));
        assert!(parse(&[b"-c"], true).is_ok());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u32(b""), None);
    }
}
