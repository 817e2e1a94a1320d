//! This process: exit, abort, environment.
#![allow(unsafe_code)]

use core::ffi::CStr;

/// `_exit(2)`: leaves now, without atexit handlers (svc registers none).
pub fn exit(code: i32) -> ! {
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(code) }
}

/// `abort(3)`: SIGABRT, for the panic handler.
pub fn abort() -> ! {
    // SAFETY: abort has no preconditions.
    unsafe { libc::abort() }
}

/// `getenv(3)`: the value of `name` in svc's own environment.
pub fn getenv(name: &CStr) -> Option<&'static [u8]> {
    // SAFETY: svc never changes its environment, so the pointer stays valid.
    let p = unsafe { libc::getenv(name.as_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: getenv returns a NUL-terminated string that lives as long as environ.
    Some(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// `getpid(2)`.
pub fn pid() -> i32 {
    rustix::process::getpid().as_raw_nonzero().get()
}
