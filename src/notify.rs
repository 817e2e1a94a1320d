//! sd_notify datagrams (`READY=1\nSTATUS=...`) → the items svc acts on, and
//! what svc keeps of them for `svc status`. No syscalls.

use crate::duration::Duration;
use crate::service::Notice;
use crate::text::Buf;

/// Bytes of one datagram; a longer one is dropped (libsystemd sends far less).
pub const DATAGRAM_BYTES: usize = 4096;
/// Bytes of `STATUS=` text kept.
pub const STATUS_BYTES: usize = 80;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Error {
    Empty,
    TooLong,
    Nul,
}

impl Error {
    pub const fn text(self) -> &'static str {
        match self {
            Error::Empty => "empty datagram",
            Error::TooLong => "datagram over 4 KiB",
            Error::Nul => "NUL in datagram",
        }
    }
}

/// One `KEY=value` line svc understands; unknown keys yield nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Item<'a> {
    /// `READY=1`, `STOPPING=1`, `EXTEND_TIMEOUT_USEC=N`, `WATCHDOG=1` and
    /// `WATCHDOG=trigger`: for the instance's state machine.
    Say(Notice),
    /// At most STATUS_BYTES, cut at a character boundary.
    Status(&'a [u8]),
    MainPid(i32),
    Errno(i32),
}

/// What svc keeps of a service's notify messages, for `svc status`: the
/// last `STATUS=` and `ERRNO=` of its current run, and the datagrams it
/// dropped (a sender outside the instance's session, a bad datagram).
pub struct Said {
    pub status: Buf<STATUS_BYTES>,
    pub errno: i32,
    pub dropped: u32,
}

impl Said {
    pub const NONE: Said = Said { status: Buf::new(), errno: 0, dropped: 0 };
}

/// Checks a whole datagram: not empty, at most DATAGRAM_BYTES, no NUL.
pub fn check(d: &[u8]) -> Result<(), Error> {
    if d.is_empty() {
        Err(Error::Empty)
    } else if d.len() > DATAGRAM_BYTES {
        Err(Error::TooLong)
    } else if d.contains(&0) {
        Err(Error::Nul)
    } else {
        Ok(())
    }
}

/// The items of a checked datagram, in order.
pub fn items(d: &[u8]) -> impl Iterator<Item = Item<'_>> {
    d.split(|&b| b == b'\n').filter_map(item)
}

fn item(line: &[u8]) -> Option<Item<'_>> {
    let eq = line.iter().position(|&b| b == b'=')?;
    let (key, v) = (line.get(..eq)?, line.get(eq + 1..)?);
    let n = number(v);
    let one = v == b"1";
    Some(match key {
        b"READY" if one => Item::Say(Notice::Ready),
        b"STOPPING" if one => Item::Say(Notice::Stopping),
        b"WATCHDOG" if one => Item::Say(Notice::Watchdog),
        b"WATCHDOG" if v == b"trigger" => Item::Say(Notice::Trigger),
        b"EXTEND_TIMEOUT_USEC" => Item::Say(Notice::Extend(Duration::from_millis(n?.div_ceil(1000)))),
        b"STATUS" => Item::Status(cut(v)),
        b"MAINPID" => Item::MainPid(i32::try_from(n?).ok().filter(|&p| p > 0)?),
        b"ERRNO" => Item::Errno(i32::try_from(n?).ok()?),
        _ => return None,
    })
}

/// STATUS_BYTES at most, not ending inside a UTF-8 sequence.
fn cut(v: &[u8]) -> &[u8] {
    let mut n = v.len().min(STATUS_BYTES);
    while n < v.len() && n > 0 && v.get(n).is_some_and(|&b| b & 0xc0 == 0x80) {
        n -= 1;
    }
    v.get(..n).unwrap_or(&[])
}

/// A decimal number (u64), digits only.
fn number(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u64, |n, &b| if b.is_ascii_digit() { n.checked_mul(10)?.checked_add(u64::from(b - b'0')) } else { None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn all(d: &[u8]) -> Vec<Item<'_>> {
        items(d).collect()
    }

    #[test]
    fn datagrams() {
        let say = Item::Say;
        assert_eq!(all(b"READY=1"), [say(Notice::Ready)]);
        assert_eq!(all(b"READY=1\nSTATUS=serving 3 clients\n"), [say(Notice::Ready), Item::Status(b"serving 3 clients")]);
        assert_eq!(
            all(b"MAINPID=42\nEXTEND_TIMEOUT_USEC=1500\nWATCHDOG=1\nWATCHDOG=trigger\nERRNO=2\nSTOPPING=1"),
            [
                Item::MainPid(42),
                say(Notice::Extend(Duration::from_millis(2))),
                say(Notice::Watchdog),
                say(Notice::Trigger),
                Item::Errno(2),
                say(Notice::Stopping)
            ]
        );
        // Unknown keys, bad values and lines without `=` yield nothing.
        assert_eq!(all(b"X_FOO=1\nREADY=0\nREADY\nMAINPID=0\nMAINPID=-1\nMAINPID=99999999999\nERRNO=x\nBARRIER=1\n"), []);
        assert_eq!(all(b"STATUS="), [Item::Status(b"")]);
        assert_eq!(all(b"EXTEND_TIMEOUT_USEC=5000000"), [say(Notice::Extend(Duration::from_secs(5)))]);
    }

    #[test]
    fn status_is_cut() {
        let long = [b'a'; 100];
        let mut d = b"STATUS=".to_vec();
        d.extend_from_slice(&long);
        assert_eq!(all(&d), [Item::Status(&long[..STATUS_BYTES])]);
        // Not inside a character: "é" is two bytes, at 79 and 80.
        let mut d = b"STATUS=".to_vec();
        d.extend_from_slice(&[b'a'; 79]);
        d.extend_from_slice("éé".as_bytes());
        assert_eq!(all(&d), [Item::Status(&[b'a'; 79][..])]);
    }

    #[test]
    fn checks() {
        assert_eq!(check(b""), Err(Error::Empty));
        assert_eq!(check(b"READY=1\0"), Err(Error::Nul));
        assert_eq!(check(&[b'a'; DATAGRAM_BYTES + 1]), Err(Error::TooLong));
        assert_eq!(check(&[b'a'; DATAGRAM_BYTES]), Ok(()));
        assert_eq!(check(b"READY=1"), Ok(()));
        assert!(!Error::Nul.text().is_empty());
    }
}
