//! The thin OS layer: the only code that talks to the kernel. It knows nothing
//! of config syntax or restart policy.
pub mod clock;
pub mod event;
pub mod fd;
pub mod listen;
pub mod logfile;
pub mod notify;
pub mod once;
pub mod path;
pub mod process;
pub mod signal;
pub mod socket;
pub mod spawn;

/// errno after a failed libc call (the one place that reads it).
#[allow(unsafe_code)]
pub fn errno() -> rustix::io::Errno {
    // SAFETY: musl's __errno_location returns this thread's errno slot,
    // always valid; svc has one thread.
    rustix::io::Errno::from_raw_os_error(unsafe { *libc::__errno_location() })
}
