//! Signals arrive as reads of a signalfd; SIGPIPE is ignored.
#![allow(unsafe_code)]

use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;

const HANDLED: [i32; 8] =
    [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGCHLD, libc::SIGUSR1, libc::SIGUSR2, libc::SIGPWR];
/// The last three of HANDLED (halt, poweroff, poweroff) only as PID 1:
/// elsewhere they keep their default action.
const INIT_ONLY: usize = 3;

/// Blocks the signals svc handles and only those (SIG_SETMASK: an image
/// exec'd with signals blocked, by `svc reexec` or from a signal handler,
/// must not keep them blocked; the next fault would be fatal), ignores
/// SIGPIPE, and returns a `signalfd(2)` that reports the blocked ones.
/// `init`: svc is PID 1, and busybox init's USR1, USR2 and PWR are handled
/// too.
pub fn take(init: bool) -> Result<OwnedFd, Errno> {
    let n = if init { HANDLED.len() } else { HANDLED.len() - INIT_ONLY };
    // SAFETY: sigset_t is plain data; sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: set is a valid sigset_t; these calls only touch it and the
    // signal mask/dispositions of this single-threaded process.
    let fd = unsafe {
        libc::sigemptyset(&mut set);
        for s in HANDLED.iter().take(n) {
            libc::sigaddset(&mut set, *s);
        }
        libc::sigprocmask(libc::SIG_SETMASK, &set, core::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK)
    };
    if fd < 0 {
        return Err(crate::os::errno());
    }
    // SAFETY: signalfd returned a new fd that nothing else owns.
    Ok(unsafe { crate::os::fd::own(fd) })
}

/// Reads one pending signal number from the signalfd (None: none pending).
pub fn read<F: AsFd>(fd: F) -> Option<u8> {
    // struct signalfd_siginfo is 128 bytes; ssi_signo is its first u32.
    let mut b = [0u8; 128];
    match rustix::io::read(fd.as_fd(), &mut b) {
        Ok(128) => u8::try_from(u32::from_ne_bytes([b[0], b[1], b[2], b[3]])).ok(),
        _ => None,
    }
}

/// `kill(2)`: `sig` to `pid`, or to the process group `pid` leads.
pub fn send(pid: i32, sig: u8, group: bool) -> Result<(), Errno> {
    let target = if group { -pid } else { pid };
    // SAFETY: kill has no memory preconditions.
    let r = unsafe { libc::kill(target, i32::from(sig)) };
    if r < 0 { Err(crate::os::errno()) } else { Ok(()) }
}

/// Ignores SIGPIPE: a write to a closed socket becomes EPIPE.
pub fn ignore_pipe() {
    // SAFETY: setting a disposition has no memory preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}
