//! The command line: verbs and flags → `Command`; usage text. Options may
//! stand anywhere after `svc`, mixed with operands; `--` ends them. The
//! verbs that talk to a running svc and their flags are the protocol's
//! (`proto::Kind`, `proto::JSON`, ...). No syscalls.

use crate::limits::{MAX_CMDLINE, MAX_OPERANDS};
use crate::proto::{self, Kind};
pub use crate::proto::{EXIT_FAIL, EXIT_OK, EXIT_USAGE};
use crate::text::parse_u32;
use heapless::Vec;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verb {
    Up,
    /// A request to the running svc over the control socket.
    Control(Kind),
    Check,
    Version,
    Help,
}

// Flags, as bits of `Info::flags`: the request flags (`proto::JSON`, ...)
// in the low byte, the command line's own above.
const J: u16 = proto::JSON as u16; // --json
const D: u16 = proto::DRY_RUN as u16; // --dry-run
const K: u16 = proto::FORCE as u16; // --force
const F: u16 = proto::FOLLOW as u16; // -f
const L: u16 = proto::LONG as u16; // -l
const W: u16 = proto::WAIT as u16; // --wait
// In this order: flag_bit shifts C.
const C: u16 = 0x100; // -c FILE
const S: u16 = 0x200; // -s SOCKET
const N: u16 = 0x400; // -n LINES
const X: u16 = 0x800; // -x PATH
const A: u16 = 0x1000; // --again K (up, from svc itself: os/crash.rs)
const T: u16 = 0x2000; // --state FD (up and reexec's probe, from svc itself: verbs/reexec.rs)
const CLIENT: u16 = C | S;

/// One verb: what it is and what it takes. Its name and usage line are
/// line `i` of `NAMES` and line `3 + i` of `HELP`, for the verb at index `i` of `VERBS`:
/// two `&str`s per verb cost 32 bytes of table on 64-bit besides the text.
struct Info {
    verb: Verb,
    flags: u16,
    min: u8,
    max: u8,
}

/// `VERB, "name", flags, min operands, max operands, "usage";` per verb,
/// into `VERBS`, `NAMES` and `HELP`.
macro_rules! verbs {
    ($($verb:expr, $name:literal, $flags:expr, $min:literal, $max:literal, $usage:literal;)*) => {
        const VERBS: &[Info] = &[$(Info { verb: $verb, flags: $flags, min: $min, max: $max },)*];
        const NAMES: &str = concat!($($name, "\n",)*);
        // `svc help`'s whole text, written at once: three lines, each
        // verb's usage line indented as the list shows it (`usage` finds
        // line 3 + i and drops the indent), then the options.
        const HELP: &str = concat!("usage: svc VERB [OPTION...] [OPERAND...]\n\nverbs:\n", $("  ", $usage, "\n",)* "\n\
options:
  -c FILE    config file (default: $SVC_CONFIG, else /etc/svc.conf)
  -s PATH    control socket (default: $SVC_CONTROL, the config's [svc] control, /run/svc.sock)
  -n N       log: the last N lines
  -f         log: follow
  --json     status: JSON Lines
  --dry-run  reload: show the difference only
  --force    reload: apply even a config without services
  --         end of options

exit status: 0 ok, 1 failure, 2 usage error, 3 a named service is not up
");
        // A text with a newline would shift every later one.
        const _: () = assert!(!($(crate::text::has_newline($name) || crate::text::has_newline($usage))||*));
    };
}

#[rustfmt::skip]
verbs! {
    Verb::Up, "up", C | A | T, 0, 0, "up [-c FILE]               supervise the services of FILE, in the foreground";
    Verb::Control(Kind::Status), "status", CLIENT | J | L, 0, 255, "status [-l|--json] [NAME]  show services (-l: and their sockets); exit 3 if a named one is not up";
    Verb::Control(Kind::Start), "start", CLIENT, 1, 255, "start NAME...              start services (and want them up)";
    Verb::Control(Kind::Stop), "stop", CLIENT, 1, 255, "stop NAME...               stop services and wait until they are stopped";
    Verb::Control(Kind::Restart), "restart", CLIENT, 1, 255, "restart NAME...            stop, then start services";
    Verb::Control(Kind::Signal), "signal", CLIENT, 2, 2, "signal NAME SIG            send a signal (TERM, HUP, 15, ...) to a service";
    Verb::Control(Kind::Reload), "reload", CLIENT | D | K, 0, 0, "reload [--dry-run|--force] re-read the config and apply the difference";
    Verb::Control(Kind::Upgrade), "upgrade", CLIENT | W, 1, 1, "upgrade [--wait] NAME      a new instance beside the old; the old drains once it is ready";
    Verb::Control(Kind::Rollback), "rollback", CLIENT | W, 1, 1, "rollback [--wait] NAME     upgrade to the previous release (again: forward)";
    Verb::Control(Kind::Log), "log", CLIENT | N | F, 0, 1, "log [-f] [-n N] [NAME]     show (or follow) a service's log";
    Verb::Check, "check", C, 0, 0, "check [-c FILE]            validate a config offline; exit 0 or 1";
    Verb::Control(Kind::Reexec), "reexec", CLIENT | X | T, 0, 0, "reexec [-x PATH]           replace svc by the binary on disk, keeping services";
    Verb::Control(Kind::Poweroff), "poweroff", CLIENT, 0, 0, "poweroff                   stop everything and power off (svc as PID 1)";
    Verb::Control(Kind::Reboot), "reboot", CLIENT, 0, 0, "reboot                     stop everything and reboot (svc as PID 1)";
    Verb::Control(Kind::Halt), "halt", CLIENT, 0, 0, "halt                       stop everything and halt (svc as PID 1)";
    Verb::Version, "version", 0, 0, 0, "version                    print version, target and build id";
    Verb::Help, "help", 0, 0, 1, "help [VERB]                print this help, or one verb's";
}

impl Verb {
    /// Its index in `VERBS` (every verb is there; 0 otherwise).
    fn index(self) -> usize {
        VERBS.iter().position(|i| i.verb == self).unwrap_or(0)
    }
    fn info(self) -> &'static Info {
        VERBS.get(self.index()).unwrap_or(&VERBS[0])
    }
    pub fn name(self) -> &'static str {
        crate::text::line(NAMES, self.index())
    }
    /// Its usage line, without the indent (as bytes: a str range would
    /// check for a char boundary).
    pub fn usage(self) -> &'static [u8] {
        crate::text::line(HELP, 3 + self.index()).as_bytes().get(2..).unwrap_or(&[])
    }
    /// `svc help`: every verb's usage line, indented, in order, and the options.
    pub const HELP: &'static str = HELP;
    pub fn from_name(word: &[u8]) -> Option<Verb> {
        VERBS.get(crate::text::find_line(NAMES.as_bytes(), word)?).map(|i| i.verb)
    }
}

/// What the command line asks for. Words borrow from argv.
#[derive(Debug, PartialEq, Eq)]
pub struct Command<'a> {
    pub verb: Verb,
    /// Request flags: bits of `proto::JSON`, `DRY_RUN`, `FORCE`, `FOLLOW`.
    pub flags: u8,
    /// The values of -c, -s, -n, -x, --again and --state, in the order of
    /// their bits (C, S, N, X, A, T): see the methods.
    values: [Option<&'a [u8]>; 6],
    /// The operands, after argv's words in the same `Words`.
    pub operands: &'a [&'a [u8]],
}

impl<'a> Command<'a> {
    /// `-c FILE`.
    pub fn config(&self) -> Option<&'a [u8]> {
        self.values[0]
    }
    /// `-s SOCKET`.
    pub fn socket(&self) -> Option<&'a [u8]> {
        self.values[1]
    }
    /// `-n LINES` (checked by `parse`).
    pub fn lines(&self) -> Option<u32> {
        self.values[2].and_then(parse_u32)
    }
    /// `-x PATH`.
    pub fn exe(&self) -> Option<&'a [u8]> {
        self.values[3]
    }
    /// `--again K`: svc re-executed itself after a crash (os/crash.rs).
    pub fn again(&self) -> Option<&'a [u8]> {
        self.values[4]
    }
    /// `--state FD`: the reexec state, in the image `svc reexec` exec'd.
    pub fn state(&self) -> Option<&'a [u8]> {
        self.values[5]
    }
}

/// Argv's words (argv[0] first), then room for the operands, which `parse`
/// appends: a `Command` borrows them rather than holding a copy of its own
/// (1 KiB under every frame of svc).
pub type Words<'a> = Vec<&'a [u8], { MAX_CMDLINE + MAX_OPERANDS }>;

crate::text::texts! {
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Error {
        NoVerb => "no verb given",
        UnknownVerb => "unknown verb",
        UnknownFlag => "unknown flag",
        FlagNotForVerb => "flag not accepted by this verb",
        MissingValue => "flag needs a value",
        BadNumber => "not a number",
        TooFewOperands => "missing operand",
        TooManyOperands => "too many operands",
    }
}

/// A usage error and the word it is about (empty when none).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UsageError<'a> {
    pub error: Error,
    pub word: &'a [u8],
    pub verb: Option<Verb>,
}

/// `--again K` (os/crash.rs) read at `now` (monotonic ms): K is
/// `T << 2 | N`, N re-execs in a row (at most `MAX_AGAIN`), the first of
/// them at T (ms, kept to 30 bits: they wrap every 12 days, and only a
/// difference under a minute counts). Gives (N, T); (0, now) without it. A
/// re-exec that comes `AGAIN_WINDOW_MS` or more after T starts a new row:
/// (1, now).
#[inline(never)]
pub fn again(v: Option<&[u8]>, now: u32) -> (u32, u32) {
    const MS: u32 = u32::MAX >> 2;
    let k = v.and_then(parse_u32).unwrap_or(0);
    let (n, t, now) = (k & 3, k >> 2, now & MS);
    if n > 1 && now.wrapping_sub(t) & MS < crate::limits::AGAIN_WINDOW_MS { (n, t) } else { (n.min(1), now) }
}

/// The flag words as lines, line `i` the flag of bit `1 << i`: the
/// request's (proto::FLAG_WORDS), two lines that no argv word can be (a C
/// string has no NUL) for the unused bits, then -c, -s, -n, -x, --again,
/// --state (C, S, N, X, A, T).
const FLAG_WORDS: &[u8] = b"--json\n--dry-run\n--force\n-f\n-l\n--wait\n\0\n\0\n-c\n-s\n-n\n-x\n--again\n--state";

fn flag_bit(word: &[u8]) -> Option<u16> {
    crate::text::find_line(FLAG_WORDS, word).map(|i| 1 << i)
}

fn takes_value(bit: u16) -> bool {
    bit & (C | S | N | X | A | T) != 0
}

/// Parses `words` (argv[0] skipped) and appends the operands to them. With
/// `lenient` (svc as PID 1 or `init`), the verb is `up` and words it does
/// not know are ignored: the kernel hands leftover boot words to init, and
/// init must not exit over them.
pub fn parse<'a>(words: &'a mut Words<'a>, lenient: bool) -> Result<Command<'a>, UsageError<'a>> {
    let mut cmd = Command { verb: Verb::Up, flags: 0, values: [None; 6], operands: &[] };
    let n = words.len();
    let mut seen: u16 = 0;
    let mut verb: Option<Verb> = if lenient { Some(Verb::Up) } else { None };
    let mut only_operands = false;
    let mut i = 1;
    // Every usage error leaves here, with the verb known so far.
    let (error, word): (Error, &'a [u8]) = 'bad: {
        while let Some(&word) = words.get(i).filter(|_| i < n) {
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
                    break 'bad (Error::UnknownFlag, word);
                };
                let value = if takes_value(bit) {
                    let Some(&v) = words.get(i).filter(|_| i < n) else {
                        if lenient {
                            continue;
                        }
                        break 'bad (Error::MissingValue, word);
                    };
                    i += 1;
                    v
                } else {
                    b""
                };
                if lenient && bit & (C | A | T) == 0 {
                    continue;
                }
                seen |= bit;
                if bit == N && parse_u32(value).is_none() {
                    break 'bad (Error::BadNumber, value);
                }
                // The request flags in the low byte; a value by its bit's place above.
                cmd.flags |= bit as u8;
                if let Some(v) = cmd.values.get_mut((bit.trailing_zeros() as usize).wrapping_sub(8)) {
                    *v = Some(value);
                }
                continue;
            }
            if verb.is_none() {
                verb = Verb::from_name(word);
                if verb.is_none() {
                    break 'bad (Error::UnknownVerb, word);
                }
                continue;
            }
            if lenient {
                continue;
            }
            if words.len() - n >= MAX_OPERANDS || words.push(word).is_err() {
                break 'bad (Error::TooManyOperands, word);
            }
        }
        let words: &'a Words<'a> = words;
        let (args, operands) = (words.get(1..n).unwrap_or(&[]), words.get(n..).unwrap_or(&[]));
        cmd.operands = operands;
        let Some(v) = verb else {
            break 'bad (Error::NoVerb, b"");
        };
        cmd.verb = v;
        let info = v.info();
        if seen & !info.flags != 0 {
            // Name the first flag the verb does not take.
            let bad = args.iter().find(|w| flag_bit(w).is_some_and(|b| b & !info.flags != 0)).copied().unwrap_or(b"");
            break 'bad (Error::FlagNotForVerb, bad);
        }
        let n = operands.len();
        if n < usize::from(info.min) {
            break 'bad (Error::TooFewOperands, b"");
        }
        if n > usize::from(info.max) {
            break 'bad (Error::TooManyOperands, operands.get(usize::from(info.max)).copied().unwrap_or(b""));
        }
        return Ok(cmd);
    };
    Err(UsageError { error, word, verb })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `words` after an argv[0], parsed.
    fn parse_args(words: &[&'static [u8]], lenient: bool) -> Result<Command<'static>, UsageError<'static>> {
        let v: &'static mut Words<'static> = std::boxed::Box::leak(std::boxed::Box::new(Words::new()));
        v.push(b"svc").unwrap();
        v.extend_from_slice(words).unwrap();
        parse(v, lenient)
    }

    fn p(words: &[&'static str]) -> Result<Command<'static>, UsageError<'static>> {
        let v: std::vec::Vec<&'static [u8]> = words.iter().map(|w| w.as_bytes()).collect();
        parse_args(&v, false)
    }

    #[test]
    fn options_anywhere() {
        for words in [&["log", "-f", "web"][..], &["log", "web", "-f"], &["-f", "log", "web"]] {
            let c = p(words).unwrap();
            assert_eq!(c.verb, Verb::Control(Kind::Log));
            assert_eq!(c.flags, proto::FOLLOW);
            assert_eq!(c.operands, &[b"web".as_slice()]);
        }
        let c = p(&["log", "web", "-n", "50"]).unwrap();
        assert_eq!(c.lines(), Some(50));
        let c = p(&["status", "-s", "/x.sock", "web"]).unwrap();
        assert_eq!(c.socket(), Some(b"/x.sock".as_slice()));
        let c = p(&["status", "--", "-web"]).unwrap();
        assert_eq!(c.operands, &[b"-web".as_slice()]);
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
    fn again_after_a_crash() {
        // What os/crash.rs execs: `up --again K -c CONFIG`, also as PID 1
        // (lenient), where every other flag but -c is ignored.
        for lenient in [false, true] {
            let c = parse_args(&[b"up", b"--again", b"4938", b"-c", b"/etc/x.conf"], lenient).unwrap();
            assert_eq!((c.verb, c.again(), c.config()), (Verb::Up, Some(&b"4938"[..]), Some(&b"/etc/x.conf"[..])));
        }
        assert_eq!(p(&["status", "--again", "5"]).unwrap_err().error, Error::FlagNotForVerb);
        // At 10 s: N re-execs since T (K = T << 2 | N), when T is less
        // than 60 s ago; a first one starts its row now.
        let now = 10_000;
        for (v, n) in [
            (None, (0, now)),
            (Some(&b"4938"[..]), (2, 1234)),
            (Some(b"3"), (3, 0)),
            (Some(b"4937"), (1, now)),
            (Some(b"x"), (0, now)),
            (Some(b""), (0, now)),
        ] {
            assert_eq!(again(v, now), n, "{v:?}");
        }
        // A minute later a crash starts a new row; the clock may wrap.
        assert_eq!(again(Some(b"4003"), 61_000), (1, 61_000));
        assert_eq!(again(Some(b"4003"), 60_999), (3, 1000));
        let t = (1 << 30) - 1000;
        assert_eq!(again(Some((t << 2 | 2).to_string().as_bytes()), 1000), (2, t));
        assert_eq!(again(Some((t << 2 | 2).to_string().as_bytes()), (1 << 30) + 59_000), (1, 59_000));
    }

    #[test]
    fn help_flags() {
        assert_eq!(p(&["--help"]).unwrap().verb, Verb::Help);
        assert_eq!(p(&["help", "log"]).unwrap().operands.len(), 1);
    }

    #[test]
    fn lenient_init_ignores_boot_words() {
        let v: [&[u8]; 5] = [b"single", b"-c", b"/etc/x.conf", b"--weird", b"quiet=1"];
        let c = parse_args(&v, true).unwrap();
        assert_eq!(c.verb, Verb::Up);
        assert_eq!(c.config(), Some(b"/etc/x.conf".as_slice()));
        assert!(parse_args(&[b"-c"], true).is_ok());
    }

    #[test]
    fn request_flags_are_the_protocol_s() {
        let c = p(&["reload", "--force", "--dry-run"]).unwrap();
        assert_eq!(c.flags, proto::FORCE | proto::DRY_RUN);
        assert_eq!(p(&["status", "--force"]).unwrap_err().error, Error::FlagNotForVerb);
        // Each control verb takes the flags its request takes, and -n for log.
        for i in VERBS {
            if let Verb::Control(k) = i.verb {
                assert_eq!(i.flags & 0xff, u16::from(k.flags()), "{}", i.verb.name());
                assert_eq!(i.verb.name(), k.word());
            }
        }
        // The request flags first, as the protocol has them.
        assert!(FLAG_WORDS.starts_with(std::format!("{}\n", proto::FLAG_WORDS).as_bytes()));
        for (w, bit) in [("--wait", W), ("-c", C), ("-s", S), ("-n", N), ("-x", X), ("--again", A)] {
            assert_eq!(flag_bit(w.as_bytes()), Some(bit), "{w}");
        }
        assert_eq!(flag_bit(b""), None);
        // One name and one usage line per verb, the usage starting with the name.
        assert_eq!(NAMES.lines().count(), VERBS.len());
        let usages: std::vec::Vec<&str> = HELP.lines().skip(3).take_while(|l| !l.is_empty()).collect();
        assert_eq!(usages.len(), VERBS.len());
        assert!(HELP.starts_with("usage: svc VERB") && HELP.contains("\n\noptions:\n  -c FILE") && HELP.ends_with("not up\n"));
        for i in VERBS {
            assert!(i.verb.usage().starts_with(i.verb.name().as_bytes()), "{}", i.verb.name());
            assert_eq!(Verb::from_name(i.verb.name().as_bytes()), Some(i.verb));
        }
    }
}
