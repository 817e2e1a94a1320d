//! This process: exit, abort, environment.
#![allow(unsafe_code)]

use crate::service::Exit;
use core::ffi::CStr;

/// As `abort(3)`, for the panic handler: SIGABRT to svc itself, whose
/// default action ends it (svc neither handles nor blocks it), then exit
/// status 127 should it live on (as PID 1, where the kernel drops it).
/// Not musl's abort(), which brings raise() and sigaction with locks.
pub fn abort() -> ! {
    let _ = crate::os::signal::send(pid(), libc::SIGABRT as u8, false);
    // SAFETY: _exit has no preconditions and never returns.
    unsafe { libc::_exit(127) }
}

/// The bytes of the C string at `p`, without its NUL. By hand:
/// CStr::from_ptr links musl's strlen and a wrapper. Bounded at 128 KiB, the
/// kernel's limit for one argv or environment string.
///
/// # Safety
/// `p` must point at a NUL-terminated string that lives as long as svc
/// (an argv word, an environment entry).
pub unsafe fn c_bytes(p: *const core::ffi::c_char) -> &'static [u8] {
    let mut len = 0;
    // SAFETY: every byte up to the NUL is part of the string.
    while len < 1 << 17 && unsafe { *p.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: the `len` bytes before the NUL, read above, live as long as svc.
    unsafe { core::slice::from_raw_parts(p.cast::<u8>(), len) }
}

/// `getenv(3)`: the value of `name` in svc's own environment. Read from
/// `environ` here: musl's getenv brings strchrnul and strncmp (300 bytes).
pub fn getenv(name: &CStr) -> Option<&'static [u8]> {
    unsafe extern "C" {
        /// The C runtime's environment: NUL-terminated `KEY=value` strings,
        /// ended by a null pointer.
        static environ: *const *const core::ffi::c_char;
    }
    let name = name.to_bytes();
    // SAFETY: the C runtime sets environ before main and svc never changes
    // its environment, so the array and its strings stay valid.
    let mut p = unsafe { environ };
    while !p.is_null() {
        // SAFETY: p points into the null-terminated array (checked above for
        // the array itself, below for each entry).
        let e = unsafe { *p };
        if e.is_null() {
            break;
        }
        // SAFETY: each entry is a NUL-terminated string that lives as long as environ.
        let entry = unsafe { c_bytes(e) };
        if let Some(value) = crate::text::after(entry, name).and_then(|r| crate::text::after(r, b"=")) {
            return Some(value);
        }
        // SAFETY: e was not the terminating null, so the next slot exists.
        p = unsafe { p.add(1) };
    }
    None
}

/// `waitid(which, id, info, WEXITED | WNOHANG | WNOWAIT)`, as a raw
/// syscall (musl's is a cancellation point, with its machinery); -1 on
/// failure. `info` must point at a writable siginfo_t.
fn waitid(which: libc::idtype_t, id: i32, info: *mut libc::siginfo_t) -> libc::c_long {
    let options = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: the caller's `info` takes the one siginfo_t the kernel writes;
    // no rusage.
    unsafe { libc::syscall(libc::SYS_waitid, which as libc::c_long, id as libc::c_long, info, options as libc::c_long, 0 as libc::c_long) }
}

/// `pid` is a child of svc (`waitid(2)` WNOWAIT: nothing is reaped).
pub fn is_child(pid: i32) -> bool {
    let mut info = core::mem::MaybeUninit::<libc::siginfo_t>::zeroed();
    waitid(libc::P_PID, pid, info.as_mut_ptr()) == 0
}

/// `getpid(2)`.
pub fn pid() -> i32 {
    rustix::process::getpid().as_raw_nonzero().get()
}

/// `waitid(P_ALL, WEXITED | WNOHANG | WNOWAIT)`: a child that has exited,
/// left unreaped so that its name can still be read.
pub fn exited_child() -> Option<i32> {
    // SAFETY: siginfo_t is plain data, zeroed as waitid with WNOHANG requires
    // to tell "no child" (si_pid 0) apart.
    let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
    if waitid(libc::P_ALL, 0, &mut info) < 0 {
        return None;
    }
    // SAFETY: waitid filled info (or left it zeroed).
    let pid = unsafe { info.si_pid() };
    (pid > 0).then_some(pid)
}

/// `waitpid(pid, WNOHANG)`: reaps `pid`.
pub fn reap(pid: i32) -> Option<Exit> {
    let p = rustix::process::Pid::from_raw(pid)?;
    let (_, st) = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG).ok()??;
    if let Some(c) = st.exit_status() {
        return Some(Exit::Code(c as u8));
    }
    st.terminating_signal().map(|s| Exit::Signal(s as u8))
}

/// The command name of `pid` from /proc/PID/comm, into `buf`; its length.
pub fn comm(pid: i32, buf: &mut [u8]) -> usize {
    let p = crate::os::proc::path(pid, b"comm", b"");
    let n = crate::os::fd::read_file(crate::os::proc::cstr(&p), buf).unwrap_or(0);
    let s = buf.get(..n).unwrap_or(&[]);
    s.iter().position(|&b| b == b'\n').unwrap_or(n)
}

/// `geteuid(2)`.
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}
