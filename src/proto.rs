//! The control protocol, one request and one reply per connection.
//!
//! Request: one line, `VERB WORD...\n`, at most REQUEST_BYTES, words split by
//! single blanks (service names and signal names hold no blanks):
//! `status [NAME...]`, `start NAME...`, `stop NAME...`, `restart NAME...`,
//! `signal NAME SIG`, `log [-f] [NAME] [N]`, `reload [--dry-run]`; flags
//! (words starting with `-`, which no name does) come first: `status --json`.
//!
//! Reply: a head line `CODE [MESSAGE]\n` (CODE is the exit status the client
//! takes; MESSAGE goes to its stderr after `svc: `), then a body that the
//! client copies to its stdout until the server closes. No syscalls.

use crate::limits::{MAX_OPERANDS, REQUEST_BYTES};
use crate::text::Buf;
use heapless::Vec;

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
}

const KINDS: [(Kind, &str); 7] = [
    (Kind::Status, "status"),
    (Kind::Start, "start"),
    (Kind::Stop, "stop"),
    (Kind::Restart, "restart"),
    (Kind::Signal, "signal"),
    (Kind::Log, "log"),
    (Kind::Reload, "reload"),
];

impl Kind {
    pub fn word(self) -> &'static str {
        KINDS.iter().find(|(k, _)| *k == self).map_or("?", |(_, w)| w)
    }
    pub fn from_word(w: &[u8]) -> Option<Kind> {
        KINDS.iter().find(|(_, s)| s.as_bytes() == w).map(|(k, _)| *k)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub kind: Kind,
    pub words: Vec<&'a [u8], { MAX_OPERANDS + 2 }>,
}

impl<'a> Request<'a> {
    /// Whether the flag word `flag` was sent.
    pub fn has(&self, flag: &[u8]) -> bool {
        self.words.contains(&flag)
    }
    /// The words that are not flags.
    pub fn operands(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.words.iter().copied().filter(|w| w.first() != Some(&b'-'))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Error {
    /// No newline within REQUEST_BYTES.
    TooLong,
    Empty,
    UnknownVerb,
    TooManyWords,
    BadArguments,
}

impl Error {
    pub const fn text(self) -> &'static str {
        match self {
            Error::TooLong => "request too long",
            Error::Empty => "empty request",
            Error::UnknownVerb => "unknown request",
            Error::TooManyWords => "too many words in request",
            Error::BadArguments => "wrong number of arguments",
        }
    }
}

/// Finds a whole request in `bytes` (what the client sent so far).
/// Ok(None): not whole yet.
pub fn parse(bytes: &[u8]) -> Result<Option<Request<'_>>, Error> {
    let Some(end) = bytes.iter().position(|&b| b == b'\n') else {
        return if bytes.len() >= REQUEST_BYTES { Err(Error::TooLong) } else { Ok(None) };
    };
    let line = bytes.get(..end).unwrap_or(&[]);
    let mut it = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let verb = it.next().ok_or(Error::Empty)?;
    let kind = Kind::from_word(verb).ok_or(Error::UnknownVerb)?;
    let mut words = Vec::new();
    for w in it {
        words.push(w).map_err(|_| Error::TooManyWords)?;
    }
    let n = words.iter().filter(|w| w.first() != Some(&b'-')).count();
    let ok = match kind {
        Kind::Status => true,
        Kind::Start | Kind::Stop | Kind::Restart => n >= 1,
        Kind::Signal => n == 2,
        Kind::Log => n <= 2,
        Kind::Reload => n == 0,
    };
    if !ok {
        return Err(Error::BadArguments);
    }
    Ok(Some(Request { kind, words }))
}

/// Writes the request line for `kind` and `words`; false if it does not fit.
pub fn emit(kind: Kind, words: &[&[u8]], out: &mut Buf<REQUEST_BYTES>) -> bool {
    out.push(kind.word().as_bytes());
    for w in words {
        out.push(b" ");
        out.push(w);
    }
    out.push(b"\n");
    !out.was_cut()
}

/// Splits a reply head `CODE [MESSAGE]` (without its newline).
pub fn parse_head(line: &[u8]) -> Option<(i32, &[u8])> {
    let (code, msg) = match line.iter().position(|&b| b == b' ') {
        Some(i) => (line.get(..i)?, line.get(i + 1..)?),
        None => (line, &[][..]),
    };
    let code = crate::cli::parse_u32(code).filter(|&c| c <= 255)?;
    Some((code as i32, msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let cases: &[(Kind, &[&[u8]])] = &[
            (Kind::Status, &[]),
            (Kind::Status, &[b"web", b"db"]),
            (Kind::Stop, &[b"web"]),
            (Kind::Signal, &[b"web", b"HUP"]),
            (Kind::Log, &[b"web", b"50"]),
        ];
        for (kind, words) in cases {
            let mut b = Buf::new();
            assert!(emit(*kind, words, &mut b));
            let r = parse(b.as_bytes()).unwrap().unwrap();
            assert_eq!(r.kind, *kind);
            assert_eq!(r.words.as_slice(), *words);
        }
    }

    #[test]
    fn partial_bad_and_long() {
        assert_eq!(parse(b"stat"), Ok(None));
        assert_eq!(parse(b"\n"), Err(Error::Empty));
        assert_eq!(parse(b"frob x\n"), Err(Error::UnknownVerb));
        assert_eq!(parse(b"stop\n"), Err(Error::BadArguments));
        assert_eq!(parse(b"reload x\n"), Err(Error::BadArguments));
        let r = parse(b"status --json a\n").unwrap().unwrap();
        assert!(r.has(b"--json"));
        assert_eq!(r.operands().collect::<std::vec::Vec<_>>(), [&b"a"[..]]);
        assert_eq!(parse(b"signal web\n"), Err(Error::BadArguments));
        assert_eq!(parse(&[b'x'; REQUEST_BYTES]), Err(Error::TooLong));
        let mut many = std::vec::Vec::from(&b"status"[..]);
        for _ in 0..=MAX_OPERANDS + 2 {
            many.extend_from_slice(b" a");
        }
        many.push(b'\n');
        assert_eq!(parse(&many), Err(Error::TooManyWords));
    }

    #[test]
    fn heads() {
        assert_eq!(parse_head(b"0"), Some((0, &b""[..])));
        assert_eq!(parse_head(b"1 unknown service 'x'"), Some((1, &b"unknown service 'x'"[..])));
        assert_eq!(parse_head(b"x"), None);
        assert_eq!(parse_head(b"256"), None);
    }
}
