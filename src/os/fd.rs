#![allow(unsafe_code)]
//! Writes that finish, reads that are bounded, whole files; svc's own
//! output, which never blocks.

use core::ffi::c_long;
use core::sync::atomic::{AtomicI32, Ordering};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd};
use rustix::io::Errno;

/// `write(2)` until every byte is out; EINTR is retried, EAGAIN is an error.
pub fn write_all<F: AsFd>(fd: F, bytes: &[u8]) -> Result<(), Errno> {
    each_write(bytes, |b| rustix::io::write(fd.as_fd(), b))
}

/// Calls `write` until every byte is out (it returns how many went);
/// EINTR is retried, any other error returned.
fn each_write(mut bytes: &[u8], mut write: impl FnMut(&[u8]) -> Result<usize, Errno>) -> Result<(), Errno> {
    while !bytes.is_empty() {
        match write(bytes) {
            Ok(0) => return Err(Errno::IO),
            Ok(n) => bytes = bytes.get(n..).unwrap_or(&[]),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Where svc's own output goes (`write_err`, `console` logs): INHERITED
/// (fd 2 as it is), SOCKET (fd 2, sent with MSG_DONTWAIT), or a private
/// O_NONBLOCK fd onto fd 2's pipe or terminal. Set once by `svc up`; the
/// private fd is never closed. (INHERITED is 0, so that this static is in
/// .bss: a write to .data would make its page private memory.)
static ERR: AtomicI32 = AtomicI32::new(INHERITED);
const INHERITED: i32 = 0;

/// The private fd `private_stderr` opened (0: none).
pub fn err_fd() -> i32 {
    ERR.load(Ordering::Relaxed)
}
const SOCKET: i32 = -2;

/// Makes svc's own output non-blocking, for `svc up`: a stderr pipe nobody
/// reads, or a terminal stopped with ^S, must not stall the event loop.
/// O_NONBLOCK on fd 2 itself would change the open file description svc
/// shares with the shell or init that started it, so a pipe or terminal is
/// opened afresh through `/proc/self/fd/2` (`open(2)` O_WRONLY|O_NONBLOCK|
/// O_NOCTTY); a socket gets `send(2)` with MSG_DONTWAIT; a regular file
/// does not block. Without /proc, fd 2 stays as it is.
pub fn private_stderr() {
    // SAFETY: fd 2 is never closed by svc.
    let Ok(st) = crate::os::stat::fstat(unsafe { rustix::stdio::stderr() }) else { return };
    let to = match rustix::fs::FileType::from_raw_mode(st.st_mode) {
        rustix::fs::FileType::Socket => SOCKET,
        rustix::fs::FileType::Fifo | rustix::fs::FileType::CharacterDevice => {
            match open(c"/proc/self/fd/2", libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOCTTY, 0) {
                // (Never fd 0, which stands for INHERITED.)
                Ok(fd) if fd.as_raw_fd() > 0 => fd.into_raw_fd(),
                _ => return,
            }
        }
        _ => return,
    };
    ERR.store(to, Ordering::Relaxed);
}

/// Writes svc's own output: all of it, or an error (EAGAIN: what did not
/// fit now is dropped, never waited for, once `private_stderr` ran).
pub fn write_err_now(bytes: &[u8]) -> Result<(), Errno> {
    // SAFETY: fd 2 is never closed by svc; a closed stderr fails the write.
    let stderr = unsafe { rustix::stdio::stderr() };
    match ERR.load(Ordering::Relaxed) {
        INHERITED => write_all(stderr, bytes),
        SOCKET => {
            let flags = rustix::net::SendFlags::DONTWAIT | rustix::net::SendFlags::NOSIGNAL;
            each_write(bytes, |b| rustix::net::send(stderr, b, flags))
        }
        // SAFETY: private_stderr stored an fd that stays open until exit.
        fd => write_all(unsafe { borrow(fd) }, bytes),
    }
}

/// Writes to stdout; a closed stdout is not svc's problem.
pub fn write_out(bytes: &[u8]) {
    // SAFETY: fd 1 is never closed by svc; a closed stdout fails the write.
    let _ = write_all(unsafe { rustix::stdio::stdout() }, bytes);
}

/// Writes to stderr, without blocking in `svc up` (see `write_err_now`).
pub fn write_err(bytes: &[u8]) {
    let _ = write_err_now(bytes);
}

/// `write_err` of a built message: one call where each caller would take
/// the bytes out of the buffer first.
#[inline(never)]
pub fn say(b: &crate::text::Out) {
    write_err(b.as_bytes());
}

/// `write_out` of a built message (see `say`).
#[inline(never)]
pub fn say_out(b: &crate::text::Out) {
    write_out(b.as_bytes());
}

/// Why a whole file could not be read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReadError {
    Os(Errno),
    TooBig,
    /// Refused by `safe` for its owner or mode.
    Unsafe,
    /// A FIFO, a device, a directory: reading it could block svc forever.
    NotRegular,
}

/// Opens `path` to read (close-on-exec) and checks that it is a regular
/// file: O_NONBLOCK so that a FIFO cannot stall the open, O_NOCTTY so that a
/// terminal cannot become svc's. Returns its fstat too.
pub fn open_regular(path: &core::ffi::CStr) -> Result<(rustix::fd::OwnedFd, crate::os::stat::Stat), ReadError> {
    let fd = open(path, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY, 0).map_err(ReadError::Os)?;
    let st = crate::os::stat::fstat(borrowed(&fd)).map_err(ReadError::Os)?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(ReadError::NotRegular);
    }
    Ok((fd, st))
}

/// Reads all of the regular file at `path` into `buf`.
#[inline(never)]
pub fn read_file(path: &core::ffi::CStr, buf: &mut [u8]) -> Result<usize, ReadError> {
    read_file_checked(path, buf, false)
}

/// `read(2)` until end of file; TooBig if it does not fit in `buf`.
fn read_all(fd: BorrowedFd, buf: &mut [u8]) -> Result<usize, ReadError> {
    let mut len = 0;
    let mut one = [0u8; 1];
    loop {
        // Full: one byte more tells whether the file ends exactly here.
        let full = len >= buf.len();
        let into = if full { &mut one[..] } else { buf.get_mut(len..).unwrap_or(&mut []) };
        match rustix::io::read(fd, into) {
            Ok(0) => return Ok(len),
            Ok(_) if full => return Err(ReadError::TooBig),
            Ok(n) => len += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(ReadError::Os(e)),
        }
    }
}

/// A path as a C string: copied into `buf` with a NUL after it.
/// None when it does not fit or holds a NUL.
pub fn cpath<'b>(path: &[u8], buf: &'b mut [u8]) -> Option<&'b core::ffi::CStr> {
    let dst = buf.get_mut(..path.len() + 1)?;
    let (body, nul) = dst.split_at_mut(path.len());
    crate::text::copy(body, path);
    *nul.first_mut()? = 0;
    crate::text::cstr(dst)
}

/// `read(2)` that treats EAGAIN as "nothing now" (Ok(None)) and EINTR as a retry.
pub fn read_some<F: AsFd>(fd: F, buf: &mut [u8]) -> Result<Option<usize>, Errno> {
    loop {
        match rustix::io::read(fd.as_fd(), &mut *buf) {
            Ok(n) => return Ok(Some(n)),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

/// `write(2)` once: how much went out; EAGAIN is 0.
pub fn write_some<F: AsFd>(fd: F, bytes: &[u8]) -> Result<usize, Errno> {
    loop {
        match rustix::io::write(fd.as_fd(), bytes) {
            Ok(n) => return Ok(n),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return Ok(0),
            Err(e) => return Err(e),
        }
    }
}

/// The result of a libc call that returns a new fd, as an OwnedFd.
/// (rustix's own constructors assert in a way that links core::fmt.)
pub fn owned(raw: i32) -> Result<rustix::fd::OwnedFd, Errno> {
    if raw < 0 {
        return Err(super::errno());
    }
    // SAFETY: the call just returned this new fd, which nothing else owns.
    Ok(unsafe { own(raw) })
}

/// `open(2)` with O_CLOEXEC added.
#[inline(never)]
pub fn open(path: &core::ffi::CStr, flags: i32, mode: u32) -> Result<rustix::fd::OwnedFd, Errno> {
    open_at(libc::AT_FDCWD, path, flags, mode)
}

/// `openat(2)` with O_CLOEXEC added (and O_LARGEFILE, as musl adds it). Raw
/// syscalls here and below: musl's wrappers carry fallbacks for kernels
/// before 2.6.27 (O_CLOEXEC by fcntl, pipe2 and accept4 emulated) and
/// thread-cancellation points svc has no use for, about 800 bytes.
pub fn open_at(dir: i32, path: &core::ffi::CStr, flags: i32, mode: u32) -> Result<rustix::fd::OwnedFd, Errno> {
    let flags = flags | libc::O_CLOEXEC | libc::O_LARGEFILE;
    // SAFETY: path is NUL-terminated and outlives the call.
    let r = unsafe { libc::syscall(libc::SYS_openat, dir as c_long, path.as_ptr(), flags as c_long, mode as c_long) };
    owned(r as i32)
}

/// `socket(2)` with SOCK_CLOEXEC added. On i686 through socketcall, as
/// musl does, so that kernels before 4.3 (no socket syscall there) work.
pub fn socket(family: i32, kind: i32) -> Result<rustix::fd::OwnedFd, Errno> {
    let args = [family as c_long, (kind | libc::SOCK_CLOEXEC) as c_long, 0];
    // SAFETY: socketcall reads the three arguments, which outlive the call.
    #[cfg(target_arch = "x86")]
    let r = unsafe { libc::syscall(libc::SYS_socketcall, 1 as c_long, args.as_ptr()) };
    // SAFETY: socket takes no pointers.
    #[cfg(not(target_arch = "x86"))]
    let r = unsafe { libc::syscall(libc::SYS_socket, args[0], args[1], args[2]) };
    owned(r as i32)
}

/// `accept4(2)` of `listener` with SOCK_NONBLOCK and SOCK_CLOEXEC, the
/// peer's address not wanted; through socketcall on i686 (see `socket`).
pub fn accept(listener: i32) -> Result<rustix::fd::OwnedFd, Errno> {
    let args = [listener as c_long, 0, 0, (libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) as c_long];
    // SAFETY: socketcall reads the four arguments, which outlive the call;
    // null address and length pointers ask for no address.
    #[cfg(target_arch = "x86")]
    let r = unsafe { libc::syscall(libc::SYS_socketcall, 18 as c_long, args.as_ptr()) };
    // SAFETY: null address and length pointers ask for no address.
    #[cfg(not(target_arch = "x86"))]
    let r = unsafe { libc::syscall(libc::SYS_accept4, args[0], args[1], args[2], args[3]) };
    owned(r as i32)
}

/// `pipe2(O_CLOEXEC)`: (read end, write end).
pub fn pipe() -> Result<(rustix::fd::OwnedFd, rustix::fd::OwnedFd), Errno> {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a writable array of two ints.
    let r = unsafe { libc::syscall(libc::SYS_pipe2, fds.as_mut_ptr(), libc::O_CLOEXEC as c_long) };
    let [rd, wr] = fds;
    if r < 0 {
        return Err(super::errno());
    }
    // SAFETY: pipe2 succeeded: both fds are new and ours.
    Ok(unsafe { (own(rd), own(wr)) })
}

/// Takes ownership of a raw fd that the kernel just returned.
///
/// # Safety
/// `raw` must be an open fd that nothing else owns.
pub unsafe fn own(raw: i32) -> rustix::fd::OwnedFd {
    // SAFETY: rustix's OwnedFd is #[repr(transparent)] over the raw fd; its
    // from_raw_fd would add an assert whose message links core::fmt.
    unsafe { core::mem::transmute::<i32, rustix::fd::OwnedFd>(raw) }
}

/// Borrows a raw fd as rustix's BorrowedFd.
///
/// # Safety
/// `raw` must be an open fd for as long as the borrow is used.
pub unsafe fn borrow<'a>(raw: i32) -> BorrowedFd<'a> {
    // SAFETY: BorrowedFd is #[repr(transparent)] over the raw fd; its
    // borrow_raw (and OwnedFd::as_fd, which calls it) asserts the fd is not
    // -1, and each assert left in costs a panic call and its location.
    unsafe { core::mem::transmute::<i32, BorrowedFd<'a>>(raw) }
}

/// `fd` borrowed without rustix's assert (see `borrow`).
pub fn borrowed(fd: &rustix::fd::OwnedFd) -> BorrowedFd<'_> {
    // SAFETY: `fd` is open while it is borrowed.
    unsafe { borrow(fd.as_raw_fd()) }
}

/// An owned fd whose empty value is all zero bytes, so that tables of them
/// start in .bss. Closes its fd when dropped.
pub struct Slot {
    fd: core::mem::MaybeUninit<rustix::fd::OwnedFd>,
    used: bool,
}

impl Slot {
    pub const EMPTY: Slot = Slot { fd: core::mem::MaybeUninit::uninit(), used: false };

    pub fn new(fd: rustix::fd::OwnedFd) -> Slot {
        Slot { fd: core::mem::MaybeUninit::new(fd), used: true }
    }
    pub fn is_empty(&self) -> bool {
        !self.used
    }
    pub fn get(&self) -> Option<rustix::fd::BorrowedFd<'_>> {
        // SAFETY: `used` says the fd is initialised and owned here.
        self.used.then(|| borrowed(unsafe { self.fd.assume_init_ref() }))
    }
    pub fn take(&mut self) -> Option<rustix::fd::OwnedFd> {
        if !core::mem::replace(&mut self.used, false) {
            return None;
        }
        // SAFETY: it was initialised; `used` is now false, so it is read once.
        Some(unsafe { self.fd.assume_init_read() })
    }
}

impl Default for Slot {
    fn default() -> Self {
        Slot::EMPTY
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        drop(self.take());
    }
}

/// May svc, running with effective uid `euid`, trust a file owned by `uid`
/// with `mode`? As root only root's own files that neither group nor others
/// can write: anyone else who could change them could make root run their
/// commands or read their secrets. Other users can only hurt themselves.
pub const fn safe(uid: u32, mode: u32, euid: u32) -> bool {
    euid != 0 || (uid == 0 && mode & 0o022 == 0)
}

/// `open(2)`, `fstat(2)`, `read(2)`: reads a whole regular file into `buf`;
/// when `secret` the file must be `safe` for our euid. The check is on the
/// open fd, so on the file itself after symlinks (not its directories), and
/// a rename in between cannot swap it.
pub fn read_file_checked(path: &core::ffi::CStr, buf: &mut [u8], secret: bool) -> Result<usize, ReadError> {
    let (fd, st) = open_regular(path)?;
    if secret && !safe(st.st_uid, st.st_mode, rustix::process::geteuid().as_raw()) {
        return Err(ReadError::Unsafe);
    }
    read_all(borrowed(&fd), buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_table() {
        // (owner, mode, euid, safe)
        for (uid, mode, euid, ok) in [
            (0, 0o100600, 0, true),
            (0, 0o100644, 0, true),
            (0, 0o100400, 0, true),
            (0, 0o104755, 0, true),
            (0, 0o100664, 0, false),
            (0, 0o100646, 0, false),
            (0, 0o100666, 0, false),
            (0, 0o100620, 0, false),
            (1000, 0o100600, 0, false),
            (1000, 0o100644, 0, false),
            (1000, 0o100666, 1000, true),
            (0, 0o100666, 1000, true),
            (33, 0o100600, 1000, true),
        ] {
            assert_eq!(safe(uid, mode, euid), ok, "uid {uid} mode {mode:o} euid {euid}");
        }
    }

    #[test]
    fn checked_reads() {
        let dir = std::env::temp_dir().join(std::format!("svc-fd-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join("f");
        std::fs::write(&file, b"A=1\n").unwrap();
        let path = std::ffi::CString::new(file.to_str().unwrap()).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(read_file_checked(&path, &mut buf, false), Ok(4));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        let want = if super::super::process::euid() == 0 { Err(ReadError::Unsafe) } else { Ok(4) };
        assert_eq!(read_file_checked(&path, &mut buf, true), want);
        assert_eq!(read_file_checked(&path, &mut buf, false), Ok(4));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        // As root the file is ours; as a user any file is fine.
        assert_eq!(read_file_checked(&path, &mut buf, true), Ok(4));
        let mut small = [0u8; 2];
        assert_eq!(read_file_checked(&path, &mut small, true), Err(ReadError::TooBig));
        // A FIFO with no writer, a directory, a device: refused at once.
        let fifo = std::ffi::CString::new(dir.join("fifo").to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let dir_c = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
        for p in [fifo.as_c_str(), dir_c.as_c_str(), c"/dev/null"] {
            assert_eq!(read_file_checked(p, &mut buf, false), Err(ReadError::NotRegular), "{p:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
