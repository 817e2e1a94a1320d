//! The control socket: bind (after a stale check), accept, peer credentials,
//! and the client's connect.
#![allow(unsafe_code)]

use core::ffi::CStr;
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::fs::{FileType, Mode};
use rustix::io::Errno;

/// Why the control socket could not be bound.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BindError {
    /// Another svc answers on it.
    Running,
    /// Something that is not a stale socket of ours is at the path.
    Occupied,
    Os(Errno),
}

fn stream() -> Result<OwnedFd, Errno> {
    crate::os::fd::socket(libc::AF_UNIX, libc::SOCK_STREAM)
}

/// `bind(2)` or `connect(2)` of `fd` to the unix socket at `path`.
fn at(fd: &OwnedFd, path: &CStr, bind: bool) -> Result<(), Errno> {
    // Built by hand as the listening sockets' are: rustix's builder indexes
    // in a way that links core::fmt.
    let mut a = crate::os::listen::zeroed_un();
    crate::os::listen::unix(&mut a, path.to_bytes(), false)?;
    let nr = if bind { libc::SYS_bind } else { libc::SYS_connect };
    crate::os::sockaddr_call(nr, crate::os::fd::borrowed(fd), &a, core::mem::size_of::<libc::sockaddr_un>(), &[])
}

/// `connect(2)` to the control socket at `path` (blocking).
pub fn connect(path: &CStr) -> Result<OwnedFd, Errno> {
    let fd = stream()?;
    at(&fd, path, false)?;
    Ok(fd)
}

/// Binds and listens at `path`, created 0600, or 0660 with group `gid`.
/// A socket at the path that answers means another svc runs; one owned by
/// us that refuses connections is stale and is unlinked (the only unlink
/// svc ever does there).
pub fn bind_control(path: &CStr, gid: Option<u32>) -> Result<OwnedFd, BindError> {
    match crate::os::stat::lstat(path) {
        Ok(st) => {
            if FileType::from_raw_mode(st.st_mode) != FileType::Socket {
                return Err(BindError::Occupied);
            }
            match connect(path) {
                Ok(_) => return Err(BindError::Running),
                Err(Errno::CONNREFUSED) if st.st_uid == rustix::process::geteuid().as_raw() => {
                    rustix::fs::unlink(path).map_err(BindError::Os)?;
                }
                Err(_) => return Err(BindError::Occupied),
            }
        }
        Err(Errno::NOENT) => {}
        Err(e) => return Err(BindError::Os(e)),
    }
    let fd = stream().map_err(BindError::Os)?;
    // The mode and group come from the umask and effective gid at bind time,
    // so that the path is never briefly open to others; both are restored.
    let old_mask = rustix::process::umask(Mode::from_raw_mode(if gid.is_some() { 0o117 } else { 0o177 }));
    let old_egid = rustix::process::getegid().as_raw();
    let mut r = Ok(());
    if let Some(g) = gid {
        r = set_egid(g);
    }
    if r.is_ok() {
        r = at(&fd, path, true);
    }
    if gid.is_some() {
        let _ = set_egid(old_egid);
    }
    rustix::process::umask(old_mask);
    r.map_err(BindError::Os)?;
    let b = crate::os::fd::borrowed(&fd);
    crate::os::listen::relisten(b, 16).map_err(BindError::Os)?;
    rustix::io::ioctl_fionbio(b, true).map_err(BindError::Os)?;
    Ok(fd)
}

/// `setresgid(-1, g, -1)` for this thread, which is all of svc: musl's
/// setegid would broadcast to every thread through __synccall (about 2 KB).
fn set_egid(g: u32) -> Result<(), Errno> {
    let keep = rustix::process::Gid::from_raw_unchecked(u32::MAX);
    rustix::thread::set_thread_res_gid(keep, rustix::process::Gid::from_raw_unchecked(g), keep)
}

/// `accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)`; EAGAIN when nothing waits.
pub fn accept(listener: BorrowedFd) -> Result<OwnedFd, Errno> {
    crate::os::fd::accept(listener.as_raw_fd())
}

/// Whether the peer may send commands (Some), and whether it is uid 0 or
/// svc's own uid (Some(true)), who alone may name a binary for `reexec`;
/// else a peer whose gid is `group`, or one with `group` among its
/// `SO_PEERGROUPS` (a failing SO_PEERGROUPS counts as no groups).
pub fn peer(fd: BorrowedFd, group: Option<u32>) -> Option<bool> {
    // struct ucred: pid, uid, gid, as native-endian 32-bit words.
    let mut cred = [0u8; 12];
    if crate::os::getsockopt(fd, libc::SOL_SOCKET, libc::SO_PEERCRED, &mut cred) != Ok(12) {
        return None;
    }
    let word = |i: usize| cred.get(i..i + 4).and_then(|b| b.try_into().ok()).map_or(u32::MAX, u32::from_ne_bytes);
    let (uid, gid) = (word(4), word(8));
    if uid == 0 || uid == rustix::process::geteuid().as_raw() {
        return Some(true);
    }
    let g = group?;
    if gid == g {
        return Some(false);
    }
    // A failing SO_PEERGROUPS counts as no groups.
    let mut groups = [0u8; 256];
    let n = crate::os::getsockopt(fd, libc::SOL_SOCKET, libc::SO_PEERGROUPS, &mut groups).unwrap_or(0);
    groups
        .get(..n.min(groups.len()))
        .unwrap_or(&[])
        .chunks_exact(4)
        .any(|b| b.try_into().is_ok_and(|w| u32::from_ne_bytes(w) == g))
        .then_some(false)
}

/// Makes an fd non-blocking (`FIONBIO`).
pub fn set_nonblocking<F: AsFd>(fd: F) -> Result<(), Errno> {
    rustix::io::ioctl_fionbio(fd, true)
}
