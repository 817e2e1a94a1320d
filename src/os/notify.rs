#![allow(unsafe_code)]
//! sd_notify sockets, the receiving side: the directory they live in, one
//! datagram with its sender's credentials (fds it carried are closed when
//! the `Datagram` is dropped), and the session of a sender.

use core::ffi::{CStr, c_int};
use rustix::fd::{AsRawFd, BorrowedFd};
use rustix::io::Errno;

/// `mkdir(dir, 0711)`: the directory of the notify sockets. One already there
/// must be a directory of svc's own user; its mode is set again.
pub fn make_dir(dir: &CStr) -> Result<(), Errno> {
    let mode = rustix::fs::Mode::from_raw_mode(0o711);
    match rustix::fs::mkdir(dir, mode) {
        Err(Errno::EXIST) => {
            let st = crate::os::stat::lstat(dir)?;
            let is_dir = rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory;
            if !is_dir || st.st_uid != crate::os::process::euid() {
                return Err(Errno::EXIST);
            }
        }
        r => r?,
    }
    rustix::fs::chmod(dir, mode)
}

/// Most fds svc takes with one datagram (systemd-notify's barrier sends one);
/// the kernel drops (closes) what does not fit.
const MAX_FDS: usize = 16;

/// One datagram: its length, the sender's pid, whether it was cut, and the
/// fds it carried (closed on drop).
pub struct Datagram {
    pub len: usize,
    pub pid: i32,
    pub cut: bool,
    fds: [c_int; MAX_FDS],
    nfds: usize,
}

impl Drop for Datagram {
    fn drop(&mut self) {
        for &fd in self.fds.iter().take(self.nfds) {
            // SAFETY: the kernel just installed these fds in svc for this
            // message; nothing else knows them. (Raw: musl's close is a
            // cancellation point, with its machinery.)
            unsafe { libc::syscall(libc::SYS_close, libc::c_long::from(fd)) };
        }
    }
}

/// `recvmsg(MSG_DONTWAIT | MSG_CMSG_CLOEXEC)` into `buf`; None when nothing
/// is queued (or on an error). `cut` when the data or the fds did not fit.
pub fn receive(fd: BorrowedFd, buf: &mut [u8]) -> Option<Datagram> {
    // Credentials (ucred) plus MAX_FDS ints, each with its cmsghdr, on every target.
    let mut control = [0u64; 20];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: msghdr is plain data; all zeroes is a valid value.
    let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = core::mem::size_of_val(&control) as _;
    // SAFETY: msg points at iov (over buf) and control, both live and writable
    // for their stated lengths during the call.
    // (A raw syscall: musl's recvmsg also converts 32-bit SCM timestamps, which
    // svc never asks for: 500 bytes on i686.)
    let flags = (libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC) as libc::c_long;
    let n = unsafe { libc::syscall(libc::SYS_recvmsg, fd.as_raw_fd() as libc::c_long, &raw mut msg, flags) };
    let len = usize::try_from(n).ok()?;
    let cut = msg.msg_flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0;
    let mut d = Datagram { len, pid: 0, cut, fds: [-1; MAX_FDS], nfds: 0 };
    // SAFETY: the kernel filled msg_control with msg_controllen bytes of
    // well-formed cmsghdrs; CMSG_* walk them within that length, and each
    // payload is read unaligned.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let data = libc::CMSG_DATA(c);
            let bytes = ((*c).cmsg_len as usize).saturating_sub(data.offset_from(c.cast::<u8>()) as usize);
            if (*c).cmsg_level == libc::SOL_SOCKET
                && (*c).cmsg_type == libc::SCM_CREDENTIALS
                && bytes >= core::mem::size_of::<libc::ucred>()
            {
                d.pid = data.cast::<libc::ucred>().read_unaligned().pid;
            }
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                for i in 0..bytes / core::mem::size_of::<c_int>() {
                    let fd = data.cast::<c_int>().add(i).read_unaligned();
                    match d.fds.get_mut(d.nfds) {
                        Some(slot) => {
                            *slot = fd;
                            d.nfds += 1;
                        }
                        None => {
                            libc::syscall(libc::SYS_close, libc::c_long::from(fd));
                        }
                    }
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Some(d)
}

/// `getsid(pid)`: the session `pid` belongs to (what field 6 of
/// /proc/PID/stat says, in one syscall; Linux answers for any process).
/// A raw syscall: rustix's turns the answer into a non-zero Pid, and a
/// process outside any session (the kernel's init in some containers) has
/// session 0.
pub fn session(pid: i32) -> Option<i32> {
    if pid <= 0 {
        return None;
    }
    // SAFETY: getsid takes no pointers.
    let sid = unsafe { libc::syscall(libc::SYS_getsid, libc::c_long::from(pid)) };
    i32::try_from(sid).ok().filter(|&s| s > 0)
}
