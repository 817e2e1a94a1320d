#![allow(unsafe_code)]
//! What `svc reexec` asks of the kernel: the target's ELF header, the state
//! file (a memfd, else an O_TMPFILE) mapped for encoding and decoding, the
//! probe child, and the execve itself with every signal blocked.

use core::ffi::{CStr, c_char, c_long};
use rustix::fd::{AsRawFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;

unsafe extern "C" {
    /// svc's own environment, handed to the new image as it is.
    static environ: *const *const c_char;
}

/// Why `target` is refused before it runs: its ELF identification (magic,
/// class, byte order) and machine must be svc's own, so that a foreign
/// binary that binfmt_misc would run under an emulator never passes.
pub fn elf_mismatch(target: &CStr) -> Option<&'static str> {
    // e_ident (16 bytes), e_type (2), e_machine (2).
    let mut ours = [0u8; 20];
    let mut theirs = [0u8; 20];
    if !head(target, &mut theirs) {
        return Some("cannot read it");
    }
    head(c"/proc/self/exe", &mut ours);
    if theirs[..6] != ours[..6] || theirs[18..] != ours[18..] || ours[..4] != *b"\x7fELF" {
        return Some("not an ELF binary for this machine");
    }
    None
}

/// The first bytes of a file; false when it cannot be opened.
fn head(p: &CStr, b: &mut [u8; 20]) -> bool {
    let Ok(fd) = crate::os::fd::open(p, libc::O_RDONLY, 0) else { return false };
    // A shorter file leaves zeros: it is no ELF binary.
    let _ = crate::os::fd::read_some(&fd, b);
    true
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
    pub fn new(fd: BorrowedFd, len: usize) -> Result<Map, Errno> {
        // SAFETY: a fresh mapping at a place the kernel chooses; nothing
        // else refers to that memory.
        let p = unsafe { libc::mmap(core::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd.as_raw_fd(), 0) };
        if p == libc::MAP_FAILED || len == 0 {
            return Err(Errno::INVAL);
        }
        Ok(Map { ptr: p.cast(), len })
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
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// `execve(path, words)` with svc's environment.
fn exec_words(path: &CStr, words: &[&CStr]) -> Errno {
    let mut argv = [core::ptr::null::<c_char>(); 7];
    for (p, w) in argv.iter_mut().zip(words) {
        *p = w.as_ptr();
    }
    // SAFETY: argv is a NULL-terminated array of C strings that outlive the
    // call; environ is the C runtime's, unchanged by svc.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), environ) };
    crate::os::errno()
}

/// Runs `path reexec --state FD` (the state file, kept open across its
/// exec); its pid. Its output goes where svc's does.
pub fn spawn_probe(path: &CStr, state: BorrowedFd, fd: &CStr) -> Result<i32, Errno> {
    // SAFETY: svc is single-threaded; the child only clears a flag, execs
    // and exits.
    let pid = unsafe { crate::os::spawn::fork() };
    if pid == 0 {
        crate::os::crash::cloexec(state.as_raw_fd(), false);
        exec_words(path, &[c"svc", c"reexec", c"--state", fd]);
        // SAFETY: in the child: leave without running anything of svc's.
        unsafe { libc::_exit(127) };
    }
    if pid < 0 { Err(crate::os::errno()) } else { Ok(pid) }
}

/// `execve(path, [svc, up, --state, FD, -c, CONFIG])` with every signal
/// blocked, so that none is taken between the exec and the new image's
/// signalfd (the config path serves reloads, and the fallback when the
/// state cannot be read). Returns only when the exec failed, with the
/// mask as it was.
pub fn exec(path: &CStr, fd: &CStr, config: &CStr) -> Errno {
    let all: u64 = !0;
    let mut old: u64 = 0;
    // SAFETY: rt_sigprocmask reads `all` and writes `old` (the kernel's
    // 8-byte sigset); svc has one thread.
    unsafe { libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK as c_long, &raw const all, &raw mut old, 8 as c_long) };
    let e = exec_words(path, &[c"svc", c"up", c"--state", fd, c"-c", config]);
    // SAFETY: restores the mask saved above.
    unsafe { libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK as c_long, &raw const old, 0 as c_long, 8 as c_long) };
    e
}

/// Whether `fd` still listens (`SO_ACCEPTCONN`), or is a datagram socket
/// (which never does) when `dgram` allows one.
pub fn listening(fd: BorrowedFd, dgram: bool) -> bool {
    let int = |name| {
        let mut b = [0u8; 4];
        crate::os::getsockopt(fd, libc::SOL_SOCKET, name, &mut b).ok().map(|_| i32::from_ne_bytes(b))
    };
    int(libc::SO_ACCEPTCONN) == Some(1) || (dgram && int(libc::SO_TYPE) == Some(libc::SOCK_DGRAM))
}
