//! The listening sockets svc holds for its services: socket, options, bind,
//! listen; a stale unix socket file is removed only when nothing answers on
//! it. Addresses are built by hand (rustix's builders link core::fmt).
#![allow(unsafe_code)]

use crate::addr::{Addr, Ip, Proto};
use core::ffi::c_int;
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::io::Errno;

/// What `bind` needs besides the address.
#[derive(Clone, Copy)]
pub struct Options {
    pub backlog: u32,
    pub mode: Option<u16>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub freebind: bool,
}

/// A bound socket; for a unix path, the device and inode of the file it
/// made, so that svc unlinks only its own socket file later.
pub struct Bound {
    pub fd: OwnedFd,
    pub file: Option<(u64, u64)>,
}

#[inline(never)]
fn socket(family: c_int, kind: c_int) -> Result<OwnedFd, Errno> {
    crate::os::fd::socket(family, kind)
}

fn set(fd: &OwnedFd, level: c_int, name: c_int, on: bool) -> Result<(), Errno> {
    crate::os::setsockopt(crate::os::fd::borrowed(fd), level, name, c_int::from(on))
}

/// `bind(2)` of `fd` to the first `len` bytes of the address at `a` (at
/// most the whole of it).
fn bind_raw<T>(fd: &OwnedFd, a: &T, len: usize) -> Result<(), Errno> {
    crate::os::sockaddr_call(libc::SYS_bind, crate::os::fd::borrowed(fd), a, len, &[])
}

/// An all-zero `sockaddr_un`, for `unix` to fill.
pub(crate) fn zeroed_un() -> libc::sockaddr_un {
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
    unsafe { core::mem::zeroed() }
}

/// A `sockaddr_un` for a path, or (with `abstract_`) for a name after a 0,
/// built in `a` (zeroed by the caller; filled in place, not returned: a copy
/// of its 110 bytes at each caller cost more); its length.
pub(crate) fn unix(a: &mut libc::sockaddr_un, path: &[u8], abstract_: bool) -> Result<usize, Errno> {
    a.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let skip = usize::from(abstract_);
    // sun_path holds 107 bytes either way: a path and its NUL, or a 0 and an
    // abstract name (as the config's check, addr::unix, allows).
    if path.len() >= a.sun_path.len() {
        return Err(Errno::NAMETOOLONG);
    }
    for (d, &s) in a.sun_path.iter_mut().skip(skip).zip(path) {
        *d = s as libc::c_char;
    }
    // An abstract name is exactly as long as given; a path ends at its NUL.
    let len = core::mem::size_of::<libc::sa_family_t>() + skip + path.len() + usize::from(!abstract_);
    Ok(len)
}

/// Creates, binds and (for streams) listens; never SO_REUSEPORT, so that a
/// second svc cannot silently share a port.
pub fn bind(a: &Addr, o: &Options) -> Result<Bound, Errno> {
    match *a {
        Addr::Inet { proto, ip, port } => {
            let kind = if proto == Proto::Udp { libc::SOCK_DGRAM } else { libc::SOCK_STREAM };
            let bytes: &[u8] = match &ip {
                Ip::V4(ip) => ip,
                Ip::V6(ip) => ip,
                Ip::Any => &[0; 16],
            };
            let fd = match inet(kind, bytes, port, o) {
                // Dual stack where the kernel has IPv6, else IPv4 only.
                Err(Errno::AFNOSUPPORT) if ip == Ip::Any => inet(kind, &[0; 4], port, o)?,
                r => r?,
            };
            if proto == Proto::Tcp {
                relisten(crate::os::fd::borrowed(&fd), o.backlog)?;
            }
            Ok(Bound { fd, file: None })
        }
        Addr::Unix { path, abstract_ } => {
            let fd = socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
            let mut sa = zeroed_un();
            let len = unix(&mut sa, path, abstract_)?;
            let mut file = None;
            if !abstract_ {
                clear_stale(&sa, len)?;
            }
            bind_raw(&fd, &sa, len)?;
            if !abstract_ {
                let made = configure_file(path, o);
                if let Err(e) = made {
                    unlink(path);
                    return Err(e);
                }
                file = made.ok();
            }
            relisten(crate::os::fd::borrowed(&fd), o.backlog)?;
            Ok(Bound { fd, file })
        }
    }
}

/// An IPv4 (`ip` of 4 bytes) or IPv6 (16 bytes) socket bound to `ip`:`port`.
#[inline(never)]
fn inet(kind: c_int, ip: &[u8], port: u16, o: &Options) -> Result<OwnedFd, Errno> {
    let v6 = ip.len() == 16;
    let fd = socket(if v6 { libc::AF_INET6 } else { libc::AF_INET }, kind)?;
    set(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, true)?;
    // `[::]` takes IPv4 too, whatever net.ipv6.bindv6only says.
    if v6 {
        set(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, false)?;
    }
    if o.freebind {
        set(&fd, libc::SOL_IP, libc::IP_FREEBIND, true)?;
    }
    // SAFETY: sockaddr_in6 is plain data; all zeroes is a valid value.
    let mut a: libc::sockaddr_in6 = unsafe { core::mem::zeroed() };
    a.sin6_family = (if v6 { libc::AF_INET6 } else { libc::AF_INET }) as libc::sa_family_t;
    // sin_port is where sin6_port is, and sin_addr where sin6_flowinfo is.
    a.sin6_port = port.to_be();
    if v6 {
        crate::text::copy(&mut a.sin6_addr.s6_addr, ip);
    } else {
        let b = |i: usize| ip.get(i).copied().unwrap_or(0);
        a.sin6_flowinfo = u32::from_ne_bytes([b(0), b(1), b(2), b(3)]);
    }
    let len = if v6 { core::mem::size_of::<libc::sockaddr_in6>() } else { core::mem::size_of::<libc::sockaddr_in>() };
    bind_raw(&fd, &a, len)?;
    Ok(fd)
}

/// Sends one sd_notify datagram (`READY=1`) to `path` (`@name`: abstract),
/// as svc under systemd: never waits (a full or gone socket drops it).
pub fn notify_init(path: &[u8], msg: &[u8]) -> Result<(), Errno> {
    let fd = socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK)?;
    let mut sa = zeroed_un();
    let len = match path.split_first() {
        Some((b'@', name)) => unix(&mut sa, name, true)?,
        _ => unix(&mut sa, path, false)?,
    };
    crate::os::sockaddr_call(libc::SYS_sendto, crate::os::fd::borrowed(&fd), &sa, len, msg)
}

/// `listen(2)`; again on a held socket, with a new backlog.
/// (Raw: rustix's goes through socketcall on i686.)
pub fn relisten(fd: BorrowedFd, backlog: u32) -> Result<(), Errno> {
    use rustix::fd::AsRawFd;
    let backlog = libc::c_long::from(i32::try_from(backlog).unwrap_or(i32::MAX));
    // SAFETY: listen takes no pointers.
    let r = unsafe { libc::syscall(libc::SYS_listen, libc::c_long::from(fd.as_raw_fd()), backlog) };
    if r < 0 { Err(crate::os::errno()) } else { Ok(()) }
}

/// A socket file at the path: removed if nothing answers on it (a stale one
/// of an earlier run), an error if something does or if it is no socket.
fn clear_stale(sa: &libc::sockaddr_un, len: usize) -> Result<(), Errno> {
    let Some(path) = cpath(sa) else { return Err(Errno::NAMETOOLONG) };
    let st = match crate::os::stat::lstat(path) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::Socket {
        return Err(Errno::EXIST);
    }
    let probe = socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
    match crate::os::sockaddr_call(libc::SYS_connect, crate::os::fd::borrowed(&probe), sa, len, &[]) {
        Ok(()) => Err(Errno::ADDRINUSE),
        Err(Errno::CONNREFUSED) => rustix::fs::unlink(path),
        Err(e) => Err(e),
    }
}

/// The NUL-terminated path inside a sockaddr_un.
fn cpath(sa: &libc::sockaddr_un) -> Option<&core::ffi::CStr> {
    // SAFETY: sun_path is c_char, the same size as u8; the slice stays in sa.
    let bytes = unsafe { core::slice::from_raw_parts(sa.sun_path.as_ptr().cast::<u8>(), sa.sun_path.len()) };
    core::ffi::CStr::from_bytes_until_nul(bytes).ok()
}

/// Mode and owner of a new socket file; its device and inode.
fn configure_file(path: &[u8], o: &Options) -> Result<(u64, u64), Errno> {
    let mut b = [0u8; crate::limits::UNIX_PATH_BYTES + 1];
    let c = crate::os::fd::cpath(path, &mut b).ok_or(Errno::NAMETOOLONG)?;
    if let Some(m) = o.mode {
        rustix::fs::chmod(c, rustix::fs::Mode::from_raw_mode(u32::from(m)))?;
    }
    if o.uid.is_some() || o.gid.is_some() {
        let uid = o.uid.map(rustix::fs::Uid::from_raw_unchecked);
        let gid = o.gid.map(rustix::fs::Gid::from_raw_unchecked);
        rustix::fs::chownat(rustix::fs::CWD, c, uid, gid, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)?;
    }
    let st = crate::os::stat::lstat(c)?;
    Ok((st.st_dev, st.st_ino))
}

/// Sets mode and owner again on a held socket's file (a reload changed them).
pub fn reconfigure(path: &[u8], o: &Options) {
    let _ = configure_file(path, o);
}

/// Removes a unix socket file.
pub fn unlink(path: &[u8]) {
    let mut b = [0u8; crate::limits::UNIX_PATH_BYTES + 1];
    if let Some(c) = crate::os::fd::cpath(path, &mut b) {
        let _ = rustix::fs::unlink(c);
    }
}

/// Removes the socket file at `path` only if it is still the one svc made.
pub fn unlink_if(path: &[u8], file: (u64, u64)) {
    let mut b = [0u8; crate::limits::UNIX_PATH_BYTES + 1];
    let Some(c) = crate::os::fd::cpath(path, &mut b) else { return };
    if crate::os::stat::lstat(c).is_ok_and(|st| (st.st_dev, st.st_ino) == file) {
        let _ = rustix::fs::unlink(c);
    }
}

/// An sd_notify socket: `socket(AF_UNIX, SOCK_DGRAM)` bound at `path` (a
/// file left there is replaced), SO_PASSCRED on, mode 0600 and owned by
/// `uid`, so that only the service's user (and root) can send to it.
pub fn bind_notify(path: &[u8], uid: Option<u32>) -> Result<OwnedFd, Errno> {
    let fd = socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK)?;
    set(&fd, libc::SOL_SOCKET, libc::SO_PASSCRED, true)?;
    let mut sa = zeroed_un();
    let len = unix(&mut sa, path, false)?;
    unlink(path);
    bind_raw(&fd, &sa, len)?;
    let o = Options { backlog: 0, mode: Some(0o600), uid, gid: None, freebind: false };
    if let Err(e) = configure_file(path, &o) {
        unlink(path);
        return Err(e);
    }
    Ok(fd)
}
