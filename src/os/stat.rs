#![allow(unsafe_code)]
//! File status: `fstat`, `stat`, `lstat`, with the fields svc reads. On
//! 32-bit targets these are the raw `fstat64` and `fstatat64` syscalls:
//! rustix there tries `statx` first, falls back to `fstat64`, and converts
//! either (about 1 KB); svc reads no times, so stat64's 32-bit times do not
//! matter, and `fstat64` is in every kernel.

// 64-bit: rustix's own, which are the plain syscalls there.
#[cfg(target_pointer_width = "64")]
pub use rustix::fs::{Stat, fstat, lstat, stat};

/// What svc reads of a file's status, named as in `struct stat`.
#[cfg(target_pointer_width = "32")]
#[derive(Clone, Copy, Debug)]
pub struct Stat {
    pub st_dev: u64,
    pub st_ino: u64,
    pub st_size: i64,
    pub st_mode: u32,
    pub st_nlink: u32,
    pub st_uid: u32,
}

#[cfg(target_pointer_width = "32")]
mod imp {
    use super::Stat;
    use core::ffi::CStr;
    use linux_raw_sys::general::stat64;
    use rustix::fd::{AsFd, AsRawFd};
    use rustix::io::Errno;

    /// The kernel's `struct stat64` after a syscall that returned `r`.
    fn from(r: libc::c_long, st: &stat64) -> Result<Stat, Errno> {
        if r < 0 {
            return Err(crate::os::errno());
        }
        Ok(Stat {
            st_dev: st.st_dev,
            st_ino: st.st_ino,
            st_size: st.st_size,
            st_mode: st.st_mode,
            st_nlink: st.st_nlink,
            st_uid: st.st_uid as u32,
        })
    }

    fn zeroed() -> stat64 {
        // SAFETY: stat64 is plain integers and byte arrays: all zeroes is a value.
        unsafe { core::mem::zeroed() }
    }

    pub fn fstat<Fd: AsFd>(fd: Fd) -> Result<Stat, Errno> {
        let mut st = zeroed();
        // SAFETY: the kernel writes one struct stat64 into `st`.
        let r = unsafe { libc::syscall(libc::SYS_fstat64, fd.as_fd().as_raw_fd(), &raw mut st) };
        from(r, &st)
    }

    fn at(path: &CStr, flags: libc::c_int) -> Result<Stat, Errno> {
        let mut st = zeroed();
        // SAFETY: `path` is NUL-terminated; the kernel writes one struct stat64 into `st`.
        let r = unsafe { libc::syscall(libc::SYS_fstatat64, libc::AT_FDCWD, path.as_ptr(), &raw mut st, flags) };
        from(r, &st)
    }

    pub fn stat(path: &CStr) -> Result<Stat, Errno> {
        at(path, 0)
    }

    pub fn lstat(path: &CStr) -> Result<Stat, Errno> {
        at(path, libc::AT_SYMLINK_NOFOLLOW)
    }
}

/// `fstat(2)`; `stat(2)`: a final symlink is followed; `lstat(2)`: a
/// final symlink is itself.
#[cfg(target_pointer_width = "32")]
pub use imp::{fstat, lstat, stat};
