//! The control protocol, one request and one reply per connection; the
//! client and svc share every type and both directions live here.
//!
//! Request: one line, `VERB [FLAG...] [WORD...]\n`, at most REQUEST_BYTES,
//! words split by blanks (service names and signal names hold no blanks):
//! `status [--json] [NAME...]`, `start NAME...`, `stop NAME...`,
//! `restart NAME...`, `signal NAME SIG`, `log [-f] [NAME] [N]`,
//! `reload [--dry-run] [--force]`. A flag is a word starting with `-`, which
//! no name does; the client sends flags first, svc takes them anywhere.
//!
//! Reply: a head line `CODE [MESSAGE]\n` (CODE is the exit status the client
//! takes; MESSAGE goes to its stderr after `svc: `), then a body that the
//! client copies out until svc closes. No syscalls.

use crate::limits::{MAX_OPERANDS, REQUEST_BYTES};
use crate::text::{Buf, Bytes, Out, parse_u32};
use heapless::Vec;

/// Reply codes, which are also svc's exit statuses (and the only ones).
/// Success.
pub const EXIT_OK: i32 = 0;
/// Something failed (a config error, an unknown service, a refused request).
pub const EXIT_FAIL: i32 = 1;
/// The command line (or the request) is wrong.
pub const EXIT_USAGE: i32 = 2;
/// `svc status NAME`: a named service is not up (as LSB status does).
pub const EXIT_NOT_UP: i32 = 3;

/// What a request asks of the running svc.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Kind {
    Status,
    Start,
    Stop,
    Restart,
    Signal,
    Log,
    Reload,
    Upgrade,
    /// svc as PID 1: shut down and power off, reboot or halt.
    Poweroff,
    Reboot,
    Halt,
    Rollback,
    /// `reexec [PATH]`: the operand is a binary, not a name.
    Reexec,
}

// Request flags, as bits of `Request::flags`; the command line shares them.
/// `status --json`: JSON Lines.
pub const JSON: u8 = 1;
/// `reload --dry-run`: show the difference only.
pub const DRY_RUN: u8 = 2;
/// `reload --force`: apply even a config that would remove every service.
pub const FORCE: u8 = 4;
/// `log -f`: follow.
pub const FOLLOW: u8 = 8;
/// `status -l`: a second line per service with its sockets.
pub const LONG: u8 = 16;
/// `upgrade --wait`: until the old instance is gone too.
pub const WAIT: u8 = 32;

/// The flag words as lines: line `i` is the flag of bit `1 << i` (no
/// newline after the last, so that no empty line is a flag).
pub const FLAG_WORDS: &str = "--json\n--dry-run\n--force\n-f\n-l\n--wait";
const _: () = assert!(JSON == 1 && DRY_RUN == 2 && FORCE == 4 && FOLLOW == 8 && LONG == 16 && WAIT == 32);

/// The bit of the flag word `word`.
pub fn flag_bit(word: &[u8]) -> Option<u8> {
    crate::text::find_line(FLAG_WORDS.as_bytes(), word).map(|i| 1 << i)
}

/// Each kind's word, as lines in `Kind` order (a table of `&str` costs 16
/// bytes an entry on 64-bit besides the text).
const WORDS: &str = "status\nstart\nstop\nrestart\nsignal\nlog\nreload\nupgrade\npoweroff\nreboot\nhalt\nrollback\nreexec\n";

/// Each kind's flags, and the least and most operands it takes, in `Kind` order.
const TAKES: [(u8, u8, u8); 13] = [
    (JSON | LONG, 0, u8::MAX), // status [NAME...]
    (0, 1, u8::MAX),           // start NAME...
    (0, 1, u8::MAX),           // stop NAME...
    (0, 1, u8::MAX),           // restart NAME...
    (0, 2, 2),                 // signal NAME SIG
    (FOLLOW, 0, 2),            // log [NAME] [N]
    (DRY_RUN | FORCE, 0, 0),   // reload
    (WAIT, 1, 1),              // upgrade NAME
    (0, 0, 0),                 // poweroff
    (0, 0, 0),                 // reboot
    (0, 0, 0),                 // halt
    (WAIT, 1, 1),              // rollback NAME
    (0, 0, 1),                 // reexec [PATH]
];

/// Every kind, in declaration order.
const KINDS: [Kind; 13] = [
    Kind::Status,
    Kind::Start,
    Kind::Stop,
    Kind::Restart,
    Kind::Signal,
    Kind::Log,
    Kind::Reload,
    Kind::Upgrade,
    Kind::Poweroff,
    Kind::Reboot,
    Kind::Halt,
    Kind::Rollback,
    Kind::Reexec,
];

impl Kind {
    /// (flags, least operands, most operands).
    fn takes(self) -> (u8, u8, u8) {
        TAKES.get(self as usize).copied().unwrap_or((0, 0, 0))
    }
    pub fn word(self) -> &'static str {
        crate::text::line(WORDS, self as usize)
    }
    /// The flags this kind takes.
    pub fn flags(self) -> u8 {
        self.takes().0
    }
    pub fn from_word(w: &[u8]) -> Option<Kind> {
        KINDS.get(crate::text::find_line(WORDS.as_bytes(), w)?).copied()
    }
}

/// One request, typed: what the client encodes and svc decodes. Words
/// borrow from the request line.
#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub kind: Kind,
    /// Bits of JSON, DRY_RUN, FORCE, FOLLOW.
    pub flags: u8,
    /// The operands, in order: names, then `signal`'s SIG or `log`'s N.
    pub words: Vec<&'a [u8], { MAX_OPERANDS + 1 }>,
}

impl<'a> Request<'a> {
    pub fn new(kind: Kind) -> Self {
        Request { kind, flags: 0, words: Vec::new() }
    }
    /// Whether the flag word `flag` (`--force`, ...) was sent.
    pub fn has(&self, flag: &[u8]) -> bool {
        flag_bit(flag).is_some_and(|b| self.flags & b != 0)
    }
    /// The service names: every operand, but only the first of `signal` and `log`.
    #[inline(never)]
    pub fn names(&self) -> &[&'a [u8]] {
        let n = match self.kind {
            Kind::Signal | Kind::Log => 1,
            Kind::Reexec => 0,
            _ => self.words.len(),
        };
        self.words.get(..n.min(self.words.len())).unwrap_or(&[])
    }
    /// The word after the name: `signal`'s SIG, `log`'s N.
    pub fn arg(&self) -> Option<&'a [u8]> {
        match self.kind {
            Kind::Signal | Kind::Log => self.words.get(1).copied(),
            Kind::Reexec => self.words.first().copied(),
            _ => None,
        }
    }
    /// `log`'s N: the last N lines.
    pub fn lines(&self) -> Option<u32> {
        self.arg().and_then(parse_u32).filter(|_| self.kind == Kind::Log)
    }
}

crate::text::texts! {
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Error {
        /// No newline within REQUEST_BYTES.
        TooLong => "request too long",
        Empty => "empty request",
        UnknownVerb => "unknown request",
        /// A flag that is unknown or not for this verb.
        BadFlag => "flag not accepted by this request",
        TooManyWords => "too many words in request",
        BadArguments => "wrong number of arguments",
    }
}

/// Finds a whole request in `bytes` (what the client sent so far).
/// Ok(None): not whole yet.
pub fn parse(bytes: &[u8]) -> Result<Option<Request<'_>>, Error> {
    let Some(end) = bytes.iter().position(|&b| b == b'\n') else {
        return if bytes.len() >= REQUEST_BYTES { Err(Error::TooLong) } else { Ok(None) };
    };
    let line = bytes.get(..end).unwrap_or(&[]);
    let mut it = crate::text::split(line, b' ').filter(|w| !w.is_empty());
    let verb = it.next().ok_or(Error::Empty)?;
    let kind = Kind::from_word(verb).ok_or(Error::UnknownVerb)?;
    let mut req = Request::new(kind);
    for w in it {
        if w.first() == Some(&b'-') {
            let bit = flag_bit(w).filter(|b| kind.flags() & b != 0).ok_or(Error::BadFlag)?;
            req.flags |= bit;
        } else {
            req.words.push(w).map_err(|_| Error::TooManyWords)?;
        }
    }
    let (_, min, max) = kind.takes();
    let n = req.words.len();
    let number = kind != Kind::Log || n < 2 || req.lines().is_some();
    if n < usize::from(min) || n > usize::from(max) || !number {
        return Err(Error::BadArguments);
    }
    Ok(Some(req))
}

/// Writes the request line; false if it does not fit.
pub fn emit(req: &Request, out: &mut Buf<REQUEST_BYTES>) -> bool {
    emit_parts(req.kind, req.flags, &req.words, None, out)
}

/// Writes the request line of `kind` with `flags` and the operands
/// `words`, then `log`'s N; false if it does not fit. (The client sends
/// its command line's words as they are, without a `Request` of them.)
/// Inlined into its one caller in the binary, the client.
#[inline(always)]
pub fn emit_parts(kind: Kind, flags: u8, words: &[&[u8]], n: Option<u32>, out: &mut Buf<REQUEST_BYTES>) -> bool {
    out.push(kind.word().as_bytes());
    for (i, word) in crate::text::split(FLAG_WORDS.as_bytes(), b'\n').enumerate() {
        if flags >> i & 1 != 0 {
            out.push(b" ");
            out.push(word);
        }
    }
    for w in words {
        out.push(b" ");
        out.push(w);
    }
    if let Some(n) = n {
        let _ = ufmt::uwrite!(out, " {}", n);
    }
    out.push(b"\n");
    !out.was_cut()
}

/// Writes a reply head, `CODE [MESSAGE ['WORD']]\n`.
pub fn emit_head(code: i32, msg: &[u8], word: &[u8], out: &mut Out) {
    let _ = ufmt::uwrite!(out, "{}", code);
    if !msg.is_empty() {
        out.push(b" ");
        out.push(msg);
        if !word.is_empty() {
            let _ = ufmt::uwrite!(out, " '{}'", Bytes(word));
        }
    }
    out.push(b"\n");
}

/// Splits a reply head `CODE [MESSAGE]` (without its newline).
pub fn parse_head(line: &[u8]) -> Option<(i32, &[u8])> {
    let (code, msg) = match line.iter().position(|&b| b == b' ') {
        Some(i) => (line.get(..i)?, line.get(i + 1..)?),
        None => (line, &[][..]),
    };
    let code = parse_u32(code).filter(|&c| c <= 255)?;
    Some((code as i32, msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(kind: Kind, flags: u8, words: &[&'a [u8]]) -> Request<'a> {
        Request { kind, flags, words: Vec::from_slice(words).unwrap() }
    }

    #[test]
    fn round_trip() {
        let cases = [
            req(Kind::Status, 0, &[]),
            req(Kind::Status, JSON, &[b"web", b"db"]),
            req(Kind::Start, 0, &[b"web"]),
            req(Kind::Stop, 0, &[b"web"]),
            req(Kind::Restart, 0, &[b"a", b"b"]),
            req(Kind::Signal, 0, &[b"web", b"HUP"]),
            req(Kind::Log, 0, &[b"web", b"50"]),
            req(Kind::Log, FOLLOW, &[]),
            req(Kind::Reload, 0, &[]),
            req(Kind::Reload, DRY_RUN | FORCE, &[]),
        ];
        for r in cases {
            let mut b = Buf::new();
            assert!(emit(&r, &mut b));
            assert_eq!(parse(b.as_bytes()), Ok(Some(r)));
        }
    }

    #[test]
    fn every_kind_has_its_word() {
        assert_eq!(WORDS.lines().count(), KINDS.len());
        for (i, k) in KINDS.iter().enumerate() {
            assert_eq!(*k as usize, i);
            assert_eq!(Kind::from_word(k.word().as_bytes()), Some(*k), "{k:?}");
        }
        assert_eq!(Kind::Rollback.word(), "rollback");
        assert_eq!(Kind::from_word(b"statu"), None);
    }

    #[test]
    fn golden_requests() {
        // What earlier clients sent must still decode the same.
        let cases: &[(&[u8], Request)] = &[
            (b"status\n", req(Kind::Status, 0, &[])),
            (b"status --json web db\n", req(Kind::Status, JSON, &[b"web", b"db"])),
            (b"stop web\n", req(Kind::Stop, 0, &[b"web"])),
            (b"signal web HUP\n", req(Kind::Signal, 0, &[b"web", b"HUP"])),
            (b"log -f web 5\n", req(Kind::Log, FOLLOW, &[b"web", b"5"])),
            (b"log -f\n", req(Kind::Log, FOLLOW, &[])),
            (b"reload --dry-run\n", req(Kind::Reload, DRY_RUN, &[])),
            (b"reload --force\n", req(Kind::Reload, FORCE, &[])),
        ];
        for (bytes, r) in cases {
            assert_eq!(parse(bytes).as_ref(), Ok(&Some(req(r.kind, r.flags, &r.words))), "{:?}", std::str::from_utf8(bytes));
            let mut b = Buf::new();
            assert!(emit(r, &mut b));
            assert_eq!(b.as_bytes(), *bytes);
        }
    }

    #[test]
    fn the_clients_line() {
        // What `svc log -f -n 5 web` sends: the N last, after the name.
        let mut b = Buf::new();
        assert!(emit_parts(Kind::Log, FOLLOW, &[b"web"], Some(5), &mut b));
        assert_eq!(b.as_bytes(), b"log -f web 5\n");
        assert_eq!(parse(b.as_bytes()).unwrap().unwrap().lines(), Some(5));
        let mut b = Buf::new();
        assert!(!emit_parts(Kind::Start, 0, &[&[b'x'; REQUEST_BYTES]], None, &mut b), "too long");
    }

    #[test]
    fn accessors() {
        let r = parse(b"status a --json b\n").unwrap().unwrap();
        assert!(r.has(b"--json") && !r.has(b"--force") && !r.has(b"--frob"));
        assert_eq!(r.names(), [&b"a"[..], b"b"]);
        assert_eq!(r.arg(), None);
        let r = parse(b"reload --force\n").unwrap().unwrap();
        assert!(r.has(b"--force") && !r.has(b"--dry-run"));
        let r = parse(b"signal web TERM\n").unwrap().unwrap();
        assert_eq!((r.names(), r.arg()), (&[&b"web"[..]][..], Some(&b"TERM"[..])));
        let r = parse(b"log web 7\n").unwrap().unwrap();
        assert_eq!((r.names(), r.lines()), (&[&b"web"[..]][..], Some(7)));
        assert_eq!(parse(b"log\n").unwrap().unwrap().names(), [] as [&[u8]; 0]);
    }

    #[test]
    fn partial_bad_and_long() {
        assert_eq!(parse(b"stat"), Ok(None));
        assert_eq!(parse(b"\n"), Err(Error::Empty));
        assert_eq!(parse(b"frob x\n"), Err(Error::UnknownVerb));
        assert_eq!(parse(b"stop\n"), Err(Error::BadArguments));
        assert_eq!(parse(b"reload x\n"), Err(Error::BadArguments));
        assert_eq!(parse(b"signal web\n"), Err(Error::BadArguments));
        assert_eq!(parse(b"log web x\n"), Err(Error::BadArguments));
        assert_eq!(parse(b"status --frob\n"), Err(Error::BadFlag));
        assert_eq!(parse(b"status --force\n"), Err(Error::BadFlag));
        assert_eq!(parse(&[b'x'; REQUEST_BYTES]), Err(Error::TooLong));
        let mut many = std::vec::Vec::from(&b"status"[..]);
        for _ in 0..=MAX_OPERANDS + 1 {
            many.extend_from_slice(b" a");
        }
        many.push(b'\n');
        assert_eq!(parse(&many), Err(Error::TooManyWords));
    }

    #[test]
    fn heads() {
        // Code, message, word; the bytes.
        type Case = (i32, &'static [u8], &'static [u8], &'static [u8]);
        let cases: &[Case] = &[
            (EXIT_OK, b"", b"", b"0\n"),
            (EXIT_NOT_UP, b"", b"", b"3\n"),
            (EXIT_FAIL, b"unknown service", b"x", b"1 unknown service 'x'\n"),
            (EXIT_USAGE, b"request too long", b"", b"2 request too long\n"),
        ];
        for (code, msg, word, bytes) in cases {
            let mut b = Buf::<128>::new();
            emit_head(*code, msg, word, &mut b);
            assert_eq!(b.as_bytes(), *bytes);
            let line = bytes.strip_suffix(b"\n").unwrap();
            let (c, m) = parse_head(line).unwrap();
            assert_eq!(c, *code);
            assert!(m.starts_with(msg) && (word.is_empty() || m.ends_with(b"'")), "{m:?}");
        }
        assert_eq!(parse_head(b"x"), None);
        assert_eq!(parse_head(b"256"), None);
    }
}
