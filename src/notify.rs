//! sd_notify datagrams (`READY=1\nSTATUS=...`) → the items svc acts on, and
//! what svc keeps of them for `svc status`. No syscalls.

use crate::duration::Duration;
use crate::service::Notice;
use crate::text::{Buf, parse_u32};

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
    crate::text::split(d, b'\n').filter_map(item)
}

fn item(line: &[u8]) -> Option<Item<'_>> {
    let eq = line.iter().position(|&b| b == b'=')?;
    let (key, v) = (line.get(..eq)?, line.get(eq + 1..)?);
    // One loop over a table, then a match on its index: a match on the key
    // strings themselves compiles to a compare per arm (about 1 KB on i686).
    const KEYS: [&[u8]; 7] = [b"READY", b"STOPPING", b"WATCHDOG", b"STATUS", b"MAINPID", b"ERRNO", b"EXTEND_TIMEOUT_USEC"];
    let k = KEYS.iter().position(|&k| k == key)?;
    let n = parse_u32(v).and_then(|n| i32::try_from(n).ok());
    let one = v == b"1";
    Some(match k {
        0 if one => Item::Say(Notice::Ready),
        1 if one => Item::Say(Notice::Stopping),
        2 if one => Item::Say(Notice::Watchdog),
        2 if v == b"trigger" => Item::Say(Notice::Trigger),
        3 => Item::Status(cut(v)),
        4 => Item::MainPid(n.filter(|&p| p > 0)?),
        5 => Item::Errno(n?),
        6 => Item::Say(Notice::Extend(Duration::from_millis(u64::from(usec_to_ms(v)?)))),
        _ => return None,
    })
}

/// Microseconds (decimal) → milliseconds, rounded up; up to 49 days. In
/// 32-bit arithmetic: u64 multiplication is costly code on 32-bit targets.
fn usec_to_ms(v: &[u8]) -> Option<u32> {
    let split = v.len().saturating_sub(3);
    let (ms, us) = (v.get(..split)?, v.get(split..)?);
    let ms = if ms.is_empty() { 0 } else { parse_u32(ms)? };
    let us = parse_u32(us)?;
    ms.checked_add(u32::from(us > 0))
}

/// STATUS_BYTES at most, not ending inside a UTF-8 sequence.
fn cut(v: &[u8]) -> &[u8] {
    let mut n = v.len().min(STATUS_BYTES);
    while n < v.len() && n > 0 && v.get(n).is_some_and(|&b| b & 0xc0 == 0x80) {
        n -= 1;
    }
    v.get(..n).unwrap_or(&[])
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
        for (usec, ms) in [("5000000", 5000), ("1", 1), ("999", 1), ("1000", 1), ("1001", 2), ("0", 0), ("4294967295000", 4294967295)] {
            let d = std::format!("EXTEND_TIMEOUT_USEC={usec}");
            assert_eq!(all(d.as_bytes()), [say(Notice::Extend(Duration::from_millis(ms)))], "{usec}");
        }
        assert_eq!(all(b"EXTEND_TIMEOUT_USEC=4294967296000\nEXTEND_TIMEOUT_USEC=\nEXTEND_TIMEOUT_USEC=-1"), []);
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
