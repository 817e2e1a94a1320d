//! Listen addresses, both ways: `tcp:127.0.0.1:8080`, `tcp:[::1]:8080`,
//! `tcp:[::]:8080`, `tcp::8080` (every address: IPv6 dual stack, or IPv4
//! where the kernel has no IPv6), the same with `udp:`, `unix:/run/app.sock`
//! and `unix:@name` (abstract). No syscalls.

use crate::limits::UNIX_PATH_BYTES;
use ufmt::{uDisplay, uWrite, uwrite};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Proto {
    Tcp,
    Udp,
    /// A stream socket on a path (or an abstract name).
    Unix,
}

/// An IP address as written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Ip {
    V4([u8; 4]),
    V6([u8; 16]),
    /// `tcp::PORT`: `[::]` with IPv6 only off, or `0.0.0.0` without IPv6.
    Any,
}

/// A parsed address; a unix path borrows the text it came from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Addr<'a> {
    Inet {
        proto: Proto,
        ip: Ip,
        port: u16,
    },
    /// `path` is absolute, or (with `abstract_`) a name without its `@`.
    Unix {
        path: &'a [u8],
        abstract_: bool,
    },
}

/// Why an address does not parse; its text is config::Error's (`Listen*`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Error {
    BadProto,
    BadHost,
    BadPort,
    BadPath,
    PathTooLong,
}

/// Parses a listen address.
pub fn parse(text: &[u8]) -> Result<Addr<'_>, Error> {
    let (proto, rest) = if let Some(r) = crate::text::after(text, b"tcp:") {
        (Proto::Tcp, r)
    } else if let Some(r) = crate::text::after(text, b"udp:") {
        (Proto::Udp, r)
    } else if let Some(r) = crate::text::after(text, b"unix:") {
        return unix(r);
    } else {
        return Err(Error::BadProto);
    };
    // The port is after the last colon; the host before it (IPv6 in brackets).
    let colon = rest.iter().rposition(|&b| b == b':').ok_or(Error::BadPort)?;
    let (host, port) = (rest.get(..colon).unwrap_or(&[]), rest.get(colon + 1..).unwrap_or(&[]));
    let port = parse_port(port)?;
    let ip = match host {
        [] => Ip::Any,
        [b'[', inner @ .., b']'] => Ip::V6(parse_v6(inner).ok_or(Error::BadHost)?),
        _ => Ip::V4(parse_v4(host).ok_or(Error::BadHost)?),
    };
    Ok(Addr::Inet { proto, ip, port })
}

fn unix(r: &[u8]) -> Result<Addr<'_>, Error> {
    let (path, abstract_) = match r {
        [b'@', name @ ..] if !name.is_empty() => (name, true),
        [b'/', ..] => (r, false),
        _ => return Err(Error::BadPath),
    };
    // sun_path holds 108 bytes: 107 and the NUL (an abstract name: its 0 and 107).
    if path.len() >= UNIX_PATH_BYTES {
        return Err(Error::PathTooLong);
    }
    if path.contains(&0) || path.ends_with(b"/") {
        return Err(Error::BadPath);
    }
    Ok(Addr::Unix { path, abstract_ })
}

fn parse_port(p: &[u8]) -> Result<u16, Error> {
    match crate::text::parse_u32(p).filter(|_| p.len() <= 5).map(u16::try_from) {
        Some(Ok(n)) if n > 0 => Ok(n),
        _ => Err(Error::BadPort),
    }
}

fn parse_v4(s: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = crate::text::split(s, b'.');
    for o in out.iter_mut() {
        let p = parts.next()?;
        *o = u8::try_from(crate::text::parse_u32(p).filter(|_| p.len() <= 3)?).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// Hex groups with at most one `::`.
fn parse_v6(s: &[u8]) -> Option<[u8; 16]> {
    let mut head = [0u16; 8];
    let mut tail = [0u16; 8];
    let (h, t) = match find2(s) {
        Some(i) => (s.get(..i)?, Some(s.get(i + 2..)?)),
        None => (s, None),
    };
    let nh = groups(h, &mut head)?;
    let nt = match t {
        Some(t) => groups(t, &mut tail)?,
        None => 0,
    };
    match t {
        None if nh != 8 => return None,
        Some(_) if nh + nt > 7 => return None,
        _ => {}
    }
    // The head's groups, zeros, then the tail's (by index: copy_from_slice's
    // length check links core::fmt).
    let mut out = [0u8; 16];
    for (i, pair) in out.chunks_exact_mut(2).enumerate() {
        let g = if i < nh { head.get(i) } else { tail.get((i + nt).wrapping_sub(8)) };
        for (d, s) in pair.iter_mut().zip(g.copied().unwrap_or(0).to_be_bytes()) {
            *d = s;
        }
    }
    Some(out)
}

fn find2(s: &[u8]) -> Option<usize> {
    s.windows(2).position(|w| w == b"::")
}

/// `a:b:c` → groups; the count. Empty text is no group.
fn groups(s: &[u8], out: &mut [u16; 8]) -> Option<usize> {
    if s.is_empty() {
        return Some(0);
    }
    let mut n = 0;
    for g in crate::text::split(s, b':') {
        if g.is_empty() || g.len() > 4 {
            return None;
        }
        let mut v = 0u16;
        for &b in g {
            v = v * 16 + u16::from(hex(b)?);
        }
        *out.get_mut(n)? = v;
        n += 1;
    }
    Some(n)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl Proto {
    pub const fn word(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Unix => "unix",
        }
    }
}

/// The IP part as Server::Starter writes it (`127.0.0.1`, `[::1]`), or
/// nothing for a wildcard, which it writes as just the port.
pub struct Host(pub Ip);

impl uDisplay for Host {
    fn fmt<W: uWrite + ?Sized>(&self, f: &mut ufmt::Formatter<'_, W>) -> Result<(), W::Error> {
        match self.0 {
            Ip::Any => Ok(()),
            // As u32, like every small number svc prints: ufmt's u8 code is not linked.
            Ip::V4(a) => {
                // One number write for the four (a format string with four
                // places wrote each separately).
                for (i, &x) in a.iter().enumerate() {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    uwrite!(f, "{}", u32::from(x))?;
                }
                Ok(())
            }
            Ip::V6(a) => {
                let mut g = [0u16; 8];
                for (x, pair) in g.iter_mut().zip(a.chunks_exact(2)) {
                    *x = u16::from_be_bytes([pair[0], pair[1]]);
                }
                // The longest run of two or more zero groups becomes `::`.
                let (mut best, mut len, mut run) = (0, 0, 0);
                for (i, &x) in g.iter().enumerate() {
                    run = if x == 0 { run + 1 } else { 0 };
                    if run > len {
                        (best, len) = (i + 1 - run, run);
                    }
                }
                f.write_str("[")?;
                let mut i = 0;
                while i < 8 {
                    if len >= 2 && i == best {
                        f.write_str("::")?;
                        i += len;
                        continue;
                    }
                    if i > 0 && !(len >= 2 && i == best + len) {
                        f.write_str(":")?;
                    }
                    // Hex without leading zeros, a digit at a time (ufmt's
                    // `{:x}` slices its buffer: a panic path once inlined).
                    let x = g.get(i).copied().unwrap_or(0);
                    for s in [12, 8, 4, 0] {
                        let d = usize::from((x >> s) & 15);
                        if x >> s != 0 || s == 0 {
                            f.write_str("0123456789abcdef".get(d..d + 1).unwrap_or("0"))?;
                        }
                    }
                    i += 1;
                }
                f.write_str("]")
            }
        }
    }
}

impl uDisplay for Addr<'_> {
    /// The canonical text; `parse` reads it back to the same address.
    fn fmt<W: uWrite + ?Sized>(&self, f: &mut ufmt::Formatter<'_, W>) -> Result<(), W::Error> {
        match *self {
            Addr::Inet { proto, ip, port } => uwrite!(f, "{}:{}:{}", proto.word(), Host(ip), port),
            Addr::Unix { path, abstract_ } => {
                f.write_str(if abstract_ { "unix:@" } else { "unix:" })?;
                uwrite!(f, "{}", crate::text::Bytes(path))
            }
        }
    }
}

impl Addr<'_> {
    pub const fn proto(&self) -> Proto {
        match *self {
            Addr::Inet { proto, .. } => proto,
            Addr::Unix { .. } => Proto::Unix,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Buf;

    fn emit(a: &Addr) -> std::string::String {
        let mut b = Buf::<160>::new();
        let _ = uwrite!(b, "{}", a);
        std::string::String::from_utf8(b.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn good_addresses_round_trip() {
        let v6 = |x: &[u8]| Ip::V6(parse_v6(x).unwrap());
        let cases: &[(&str, Addr, &str)] = &[
            ("tcp:127.0.0.1:8080", Addr::Inet { proto: Proto::Tcp, ip: Ip::V4([127, 0, 0, 1]), port: 8080 }, "tcp:127.0.0.1:8080"),
            ("tcp:0.0.0.0:80", Addr::Inet { proto: Proto::Tcp, ip: Ip::V4([0; 4]), port: 80 }, "tcp:0.0.0.0:80"),
            ("udp:10.1.2.3:5353", Addr::Inet { proto: Proto::Udp, ip: Ip::V4([10, 1, 2, 3]), port: 5353 }, "udp:10.1.2.3:5353"),
            ("tcp::8080", Addr::Inet { proto: Proto::Tcp, ip: Ip::Any, port: 8080 }, "tcp::8080"),
            ("tcp:[::1]:8080", Addr::Inet { proto: Proto::Tcp, ip: v6(b"::1"), port: 8080 }, "tcp:[::1]:8080"),
            ("tcp:[::]:443", Addr::Inet { proto: Proto::Tcp, ip: Ip::V6([0; 16]), port: 443 }, "tcp:[::]:443"),
            ("udp:[fe80::1:2]:1", Addr::Inet { proto: Proto::Udp, ip: v6(b"fe80:0:0:0:0:0:1:2"), port: 1 }, "udp:[fe80::1:2]:1"),
            ("unix:/run/app.sock", Addr::Unix { path: b"/run/app.sock", abstract_: false }, "unix:/run/app.sock"),
            ("unix:@app", Addr::Unix { path: b"app", abstract_: true }, "unix:@app"),
            ("tcp:[1:0:0:2:0:0:0:3]:9", Addr::Inet { proto: Proto::Tcp, ip: v6(b"1:0:0:2::3"), port: 9 }, "tcp:[1:0:0:2::3]:9"),
            ("tcp:[1:2:3:4:5:6:7:8]:9", Addr::Inet { proto: Proto::Tcp, ip: v6(b"1:2:3:4:5:6:7:8"), port: 9 }, "tcp:[1:2:3:4:5:6:7:8]:9"),
        ];
        // The groups' bytes where they belong: the head first, the tail last.
        assert_eq!(parse_v6(b"fe80::1:2"), Some([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2]));
        assert_eq!(parse_v6(b"1::"), Some([0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        for (text, want, canon) in cases {
            let got = parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(got, *want, "{text}");
            assert_eq!(emit(&got), *canon, "{text}");
            assert_eq!(parse(canon.as_bytes()), Ok(got), "{canon} reads back");
        }
    }

    #[test]
    fn bad_addresses() {
        let long = std::format!("unix:/{}", "x".repeat(107));
        let cases: &[(&str, Error)] = &[
            ("8080", Error::BadProto),
            ("http:1.2.3.4:80", Error::BadProto),
            ("tcp:1.2.3.4", Error::BadPort),
            ("tcp:1.2.3.4:", Error::BadPort),
            ("tcp:1.2.3.4:0", Error::BadPort),
            ("tcp:1.2.3.4:65536", Error::BadPort),
            ("tcp:1.2.3.4:80x", Error::BadPort),
            ("tcp:1.2.3:80", Error::BadHost),
            ("tcp:1.2.3.256:80", Error::BadHost),
            ("tcp:localhost:80", Error::BadHost),
            ("tcp:::1:80", Error::BadHost),
            ("tcp:[1::2::3]:80", Error::BadHost),
            ("tcp:[12345::]:80", Error::BadHost),
            ("tcp:[1:2:3:4:5:6:7:8:9]:80", Error::BadHost),
            ("unix:run/app.sock", Error::BadPath),
            ("unix:", Error::BadPath),
            ("unix:@", Error::BadPath),
            ("unix:/run/", Error::BadPath),
            (&long, Error::PathTooLong),
            ("tcp:[1:2:3:4:5:6:7::8]:80", Error::BadHost),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text.as_bytes()), Err(*want), "{text}");
        }
    }
}
