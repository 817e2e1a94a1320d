#![allow(unsafe_code)]
//! What `svc reexec` asks of the kernel: the target's ELF header, the state
//! file (a memfd, else an O_TMPFILE) mapped for encoding and decoding, the
//! probe child, and the execve itself with every signal blocked.

use core::ffi::{CStr, c_char, c_long};
use rustix::fd::{AsRawFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;

/// svc's own ELF identification: magic, class, byte order (e_ident's
/// first 6 bytes), and machine (e_machine, in that byte order): those of
/// the binary that runs, known when it is built.
const IDENT: [u8; 6] =
    [0x7f, b'E', b'L', b'F', if cfg!(target_pointer_width = "64") { 2 } else { 1 }, if cfg!(target_endian = "little") { 1 } else { 2 }];
const MACHINE: u16 = if cfg!(target_arch = "x86_64") {
    62
} else if cfg!(target_arch = "x86") {
    3
} else if cfg!(target_arch = "aarch64") {
    183
} else if cfg!(target_arch = "arm") {
    40
} else if cfg!(any(target_arch = "riscv64", target_arch = "riscv32")) {
    243
} else if cfg!(any(target_arch = "mips", target_arch = "mips64")) {
    8
} else if cfg!(target_arch = "powerpc") {
    20
} else if cfg!(target_arch = "powerpc64") {
    21
} else if cfg!(target_arch = "s390x") {
    22
} else if cfg!(target_arch = "loongarch64") {
    258
} else {
    panic!("svc reexec: add this architecture's ELF e_machine")
};

/// Why `target` is refused before it runs: its ELF identification (magic,
/// class, byte order) and machine must be svc's own, so that a foreign
/// binary that binfmt_misc would run under an emulator never passes.
pub fn elf_mismatch(target: &CStr) -> Option<&'static str> {
    // e_ident (16 bytes), e_type (2), e_machine (2).
    let mut b = [0u8; 20];
    // Without blocking (a FIFO or a terminal would stall svc): a regular file.
    let fd = match crate::os::fd::open_regular(target) {
        Ok((fd, _)) => fd,
        Err(crate::os::fd::ReadError::NotRegular) => return Some("not a regular file"),
        Err(_) => return Some("cannot read it"),
    };
    // A shorter file leaves zeros: it is no ELF binary.
    let _ = crate::os::fd::read_some(crate::os::fd::borrowed(&fd), &mut b);
    if b[..6] != IDENT || u16::from_ne_bytes([b[18], b[19]]) != MACHINE {
        return Some("not an ELF binary for this machine");
    }
    None
}

/// A new state file: `memfd_create(2)`, else an unnamed `O_TMPFILE` in `dir`.
pub fn state_file(dir: &CStr) -> Result<OwnedFd, Errno> {
    // SAFETY: a plain syscall reading the name, a C string that outlives it.
    let fd = unsafe { libc::syscall(libc::SYS_memfd_create, c"svc-state".as_ptr(), libc::MFD_CLOEXEC as c_long) };
    crate::os::fd::owned(fd as i32).or_else(|_| crate::os::fd::open(dir, libc::O_TMPFILE | libc::O_RDWR, 0o600))
}

/// A shared mapping of a file, unmapped when dropped.
pub struct Map {
    ptr: *mut u8,
    len: usize,
}

impl Map {
    /// `mmap(2)` of the first `len` bytes of `fd`, read and write, shared.
    /// (A raw syscall: musl's wrapper cost 190 bytes more, rustix's 60 on
    /// i686.)
    pub fn new(fd: BorrowedFd, len: usize) -> Option<Map> {
        // The offset is 0, so mmap2's unit (32-bit targets) does not matter.
        #[cfg(target_pointer_width = "64")]
        const MMAP: c_long = libc::SYS_mmap;
        #[cfg(target_pointer_width = "32")]
        const MMAP: c_long = libc::SYS_mmap2;
        let (prot, flags) = ((libc::PROT_READ | libc::PROT_WRITE) as c_long, libc::MAP_SHARED as c_long);
        // SAFETY: a fresh mapping at a place the kernel chooses; nothing
        // else refers to that memory.
        let p = unsafe { libc::syscall(MMAP, 0 as c_long, len as c_long, prot, flags, fd.as_raw_fd() as c_long, 0 as c_long) };
        if p == -1 {
            return None;
        }
        Some(Map { ptr: p as *mut u8, len })
    }
    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: `len` mapped bytes at `ptr`, alive until drop; `&mut self`
        // makes the borrow unique.
        unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::syscall(libc::SYS_munmap, self.ptr as c_long, self.len as c_long) };
    }
}

/// Runs `path` with `argv` and svc's environment, with every signal
/// blocked (so that none is taken between the exec and the new image's
/// signalfd): in a child (`fork`: its pid; a failed exec there exits 127),
/// or in svc's place (returns only when the exec failed). The mask is as it
/// was after.
pub fn run(path: &CStr, argv: &[*const c_char; 7], fork: bool) -> Result<i32, Errno> {
    let all: u64 = !0;
    let mut old: u64 = 0;
    // SAFETY: rt_sigprocmask reads `all` and writes `old` (the kernel's
    // 8-byte sigset); svc has one thread.
    unsafe { libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK as c_long, &raw const all, &raw mut old, 8 as c_long) };
    // SAFETY: svc is single-threaded; the child only execs or exits.
    let pid = if fork { unsafe { crate::os::spawn::fork() } } else { 0 };
    let r = match pid {
        0 => {
            let e = crate::os::crash::execve(path.as_ptr(), argv);
            if fork {
                // SAFETY: in the child: leave without running anything of svc's.
                unsafe { libc::_exit(127) };
            }
            Err(e)
        }
        p if p < 0 => Err(crate::os::errno()),
        p => Ok(p),
    };
    // SAFETY: restores the mask saved above.
    unsafe { libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK as c_long, &raw const old, 0 as c_long, 8 as c_long) };
    r
}

/// Whether `fd` is open with close-on-exec clear (`fcntl(F_GETFD)`): as
/// `svc reexec` hands it over, and as nothing svc opens itself is.
pub fn handed(fd: i32) -> bool {
    // SAFETY: F_GETFD reads a flag of `fd` only (EBADF when it is closed).
    unsafe { libc::syscall(libc::SYS_fcntl, fd as c_long, libc::F_GETFD as c_long) == 0 }
}

/// Whether `fd` is a listening socket (`SO_ACCEPTCONN`).
pub fn listening(fd: BorrowedFd) -> bool {
    let mut b = [0u8; 4];
    crate::os::getsockopt(fd, libc::SOL_SOCKET, libc::SO_ACCEPTCONN, &mut b).is_ok() && i32::from_ne_bytes(b) == 1
}
