//! The thin OS layer: the only code that talks to the kernel. It knows nothing
//! of config syntax or restart policy.
pub mod clock;
pub mod crash;
pub mod event;
pub mod fd;
pub mod init;
pub mod listen;
pub mod logfile;
pub mod notify;
pub mod once;
pub mod path;
pub mod proc;
pub mod process;
pub mod reexec;
pub mod signal;
pub mod socket;
pub mod spawn;
pub mod stat;

/// errno after a failed libc call (the one place that reads it).
#[allow(unsafe_code)]
pub fn errno() -> rustix::io::Errno {
    // SAFETY: musl's __errno_location returns this thread's errno slot,
    // always valid; svc has one thread.
    let raw = unsafe { *libc::__errno_location() };
    // Errno values are 1..=4095; the clamp proves it to rustix's assert,
    // which is then compiled out (with its message and file name).
    rustix::io::Errno::from_raw_os_error(raw.clamp(1, 4095))
}

/// `setsockopt(2)` of an int option, as a raw syscall: musl's wraps every
/// call in time64 conversions for SO_*TIMEO (about 500 bytes on 32-bit
/// targets) that svc never needs.
#[allow(unsafe_code)]
pub fn setsockopt(fd: rustix::fd::BorrowedFd, level: i32, name: i32, value: i32) -> Result<(), rustix::io::Errno> {
    use rustix::fd::AsRawFd;
    let len = core::mem::size_of::<i32>() as libc::c_long;
    // SAFETY: `value` is a valid int for the duration of the call, `len` bytes.
    let r = unsafe {
        libc::syscall(
            libc::SYS_setsockopt,
            libc::c_long::from(fd.as_raw_fd()),
            libc::c_long::from(level),
            libc::c_long::from(name),
            &raw const value,
            len,
        )
    };
    if r < 0 { Err(errno()) } else { Ok(()) }
}

/// `bind(2)`, `connect(2)` (`nr`: SYS_bind, SYS_connect) or, with `msg`,
/// `sendto(2)` of `fd` to the first `len` bytes of the socket address at
/// `a`, as a raw syscall: musl's wrappers go through socketcall on i686 and
/// are cancellation points, 120 bytes apiece there, which svc never needs.
/// (Direct socket syscalls on x86 since Linux 4.3, as `setsockopt`'s.)
#[allow(unsafe_code)]
pub fn sockaddr_call<T>(nr: libc::c_long, fd: rustix::fd::BorrowedFd, a: &T, len: usize, msg: &[u8]) -> Result<(), rustix::io::Errno> {
    use rustix::fd::AsRawFd;
    let len = len.min(core::mem::size_of::<T>()) as libc::c_long;
    let (fd, a) = (libc::c_long::from(fd.as_raw_fd()), (a as *const T).cast::<u8>());
    // SAFETY: `a` is a valid socket address of `len` bytes or more and `msg`
    // valid bytes, both for the duration of the call.
    let r = unsafe {
        if nr == libc::SYS_sendto {
            libc::syscall(nr, fd, msg.as_ptr(), msg.len(), libc::MSG_NOSIGNAL as libc::c_long, a, len)
        } else {
            libc::syscall(nr, fd, a, len)
        }
    };
    if r < 0 { Err(errno()) } else { Ok(()) }
}

/// `getsockopt(2)` into `buf`, as a raw syscall (see `setsockopt`); the
/// number of bytes the kernel wrote.
#[allow(unsafe_code)]
pub fn getsockopt(fd: rustix::fd::BorrowedFd, level: i32, name: i32, buf: &mut [u8]) -> Result<usize, rustix::io::Errno> {
    use rustix::fd::AsRawFd;
    let mut len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
    // SAFETY: the kernel writes at most `len` bytes into `buf` and stores
    // the length it wrote in `len`; both outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_getsockopt,
            libc::c_long::from(fd.as_raw_fd()),
            libc::c_long::from(level),
            libc::c_long::from(name),
            buf.as_mut_ptr(),
            &raw mut len,
        )
    };
    if r < 0 { Err(errno()) } else { Ok(len as usize) }
}

/// `getauxval(3)` on i686, for rustix alone (musl reads its auxv itself):
/// rustix asks for nothing but AT_SYSINFO_EHDR, to find the vDSO's
/// `__kernel_vsyscall` through which it makes every syscall on this target.
/// No vDSO makes it use `int 0x80`, which every x86 kernel takes, and LTO
/// drops its vDSO ELF parser (1.7 KB). svc reads the clock with raw
/// syscalls anyway (`os::clock`).
#[cfg(target_arch = "x86")]
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn getauxval(_type: libc::c_ulong) -> libc::c_ulong {
    0
}
