//! Signals: blocked, a signalfd wakes the loop, `rt_sigtimedwait` takes
//! them; SIGPIPE is ignored.
#![allow(unsafe_code)]

use core::ffi::{c_long, c_ulong};
use rustix::fd::OwnedFd;
use rustix::io::Errno;

const HANDLED: [i32; 8] =
    [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGCHLD, libc::SIGUSR1, libc::SIGUSR2, libc::SIGPWR];
/// The last three of HANDLED (halt, poweroff, poweroff) only as PID 1:
/// elsewhere they keep their default action.
/// (Test builds with `crashtest` take USR1 and USR2 everywhere.)
const INIT_ONLY: usize = if cfg!(feature = "crashtest") { 1 } else { 3 };

/// Blocks the signals svc handles and only those (SIG_SETMASK: an image
/// exec'd with signals blocked, by `svc reexec` or from a signal handler,
/// must not keep them blocked; the next fault would be fatal), ignores
/// SIGPIPE, and returns a `signalfd(2)` that reports the blocked ones.
/// `init`: svc is PID 1, and busybox init's USR1, USR2 and PWR are handled
/// too.
pub fn take(init: bool) -> Result<OwnedFd, Errno> {
    let n = if init { HANDLED.len() } else { HANDLED.len() - INIT_ONLY };
    // The kernel's sigset_t: bit N-1 for signal N.
    let set = HANDLED.iter().take(n).fold(0u64, |set, &s| set | 1 << (s - 1));
    // Raw rt_sigprocmask and signalfd4 with a kernel sigset_t: musl's
    // sigset helpers and wrappers cost about 250 bytes more.
    // SAFETY: rt_sigprocmask reads `set`, which outlives the call; it changes
    // only the mask of this single-threaded process.
    unsafe { libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK as c_long, &raw const set, 0 as c_long, SET_BYTES) };
    ignore_pipe();
    let flags = (libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) as c_long;
    // SAFETY: signalfd4 reads `set`, which outlives the call, and returns a new fd.
    let fd = unsafe { libc::syscall(libc::SYS_signalfd4, -1 as c_long, &raw const set, SET_BYTES, flags) };
    if fd < 0 {
        return Err(crate::os::errno());
    }
    // SAFETY: signalfd returned a new fd that nothing else owns.
    Ok(unsafe { crate::os::fd::own(fd as i32) })
}

/// The size of the kernel's sigset_t: _NSIG / 8, 8 on every svc target (not MIPS).
const SET_BYTES: c_long = 8;

/// HANDLED as the kernel's sigset: bit n - 1 for signal n.
const SET: u64 = {
    let mut m = 0u64;
    let mut i = 0;
    while i < HANDLED.len() {
        m |= 1 << (HANDLED[i] - 1);
        i += 1;
    }
    m
};

/// Takes one pending signal of those svc handles (`rt_sigtimedwait` with a
/// zero timeout; None: none pending). The signalfd only wakes the loop:
/// pending signals are taken this way, so that svc as PID 1 on a kernel
/// without signalfd still gets them (its loop then polls).
pub fn next() -> Option<u8> {
    // A zero timespec in either layout (the old call's 32-bit fields on
    // i686 and armv7, 64-bit ones elsewhere).
    let zero = [0u64; 2];
    let set = SET;
    // SAFETY: set and zero outlive the call; a null siginfo is allowed.
    let r = unsafe { libc::syscall(libc::SYS_rt_sigtimedwait, &raw const set, core::ptr::null_mut::<u8>(), zero.as_ptr(), SET_BYTES) };
    u8::try_from(r).ok().filter(|&s| s > 0)
}

/// `kill(2)`: `sig` to `pid`, or to the process group `pid` leads.
pub fn send(pid: i32, sig: u8, group: bool) -> Result<(), Errno> {
    let target = if group { -pid } else { pid };
    // SAFETY: kill has no memory preconditions.
    // A raw syscall: musl's kill is a wrapper of it.
    let r = unsafe { libc::syscall(libc::SYS_kill, target as libc::c_long, libc::c_long::from(sig)) };
    if r < 0 { Err(crate::os::errno()) } else { Ok(()) }
}

/// Ignores SIGPIPE: a write to a closed socket becomes EPIPE. A raw
/// rt_sigaction: musl's signal() brings its sigaction with locks (about
/// 600 bytes).
pub fn ignore_pipe() {
    // A kernel `struct sigaction` with the handler SIG_IGN first and the
    // rest zero (no flags, empty mask), whatever the field order after it;
    // 8 words cover every svc target's layout (20 bytes on i686 and armv7,
    // 32 on x86_64 and aarch64).
    let mut act = [0 as c_ulong; 8];
    act[0] = libc::SIG_IGN as c_ulong;
    // SAFETY: rt_sigaction reads `act`, which outlives the call; it changes
    // one disposition of this process.
    unsafe { libc::syscall(libc::SYS_rt_sigaction, libc::SIGPIPE as c_long, act.as_ptr(), 0 as c_long, SET_BYTES) };
}
