#![allow(unsafe_code)]
//! Writes that finish, reads that are bounded, whole files.

use rustix::fd::AsFd;
use rustix::io::Errno;

/// `write(2)` until every byte is out; EINTR is retried, EAGAIN is an error.
pub fn write_all<F: AsFd>(fd: F, mut bytes: &[u8]) -> Result<(), Errno> {
    while !bytes.is_empty() {
        match rustix::io::write(fd.as_fd(), bytes) {
            Ok(0) => return Err(Errno::IO),
            Ok(n) => bytes = bytes.get(n..).unwrap_or(&[]),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes to stdout; a closed stdout is not svc's problem.
pub fn write_out(bytes: &[u8]) {
    // SAFETY: fd 1 is never closed by svc; a closed stdout fails the write.
    let _ = write_all(unsafe { rustix::stdio::stdout() }, bytes);
}

/// Writes to stderr.
pub fn write_err(bytes: &[u8]) {
    // SAFETY: as for stdout.
    let _ = write_all(unsafe { rustix::stdio::stderr() }, bytes);
}

/// Why a whole file could not be read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReadError {
    Os(Errno),
    TooBig,
}

/// Opens `path` (close-on-exec) and reads all of it into `buf`.
pub fn read_file(path: &core::ffi::CStr, buf: &mut [u8]) -> Result<usize, ReadError> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(ReadError::Os)?;
    let mut len = 0;
    loop {
        let Some(room) = buf.get_mut(len..) else { return Err(ReadError::TooBig) };
        if room.is_empty() {
            // Full: the file is too big unless it ends exactly here.
            let mut one = [0u8; 1];
            return match rustix::io::read(&fd, &mut one) {
                Ok(0) => Ok(len),
                Ok(_) => Err(ReadError::TooBig),
                Err(e) => Err(ReadError::Os(e)),
            };
        }
        match rustix::io::read(&fd, room) {
            Ok(0) => return Ok(len),
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
    body.copy_from_slice(path);
    *nul.first_mut()? = 0;
    core::ffi::CStr::from_bytes_with_nul(dst).ok()
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

/// An owned fd whose empty value is all zero bytes, so that tables of them
/// start in .bss (an `Option<OwnedFd>` is empty at -1 and would move a whole
/// table into .data). Closes its fd when dropped.
#[derive(Default)]
pub struct Slot(u32);

impl Slot {
    pub const EMPTY: Slot = Slot(0);

    pub fn new(fd: rustix::fd::OwnedFd) -> Slot {
        use rustix::fd::IntoRawFd;
        // Raw fds are ≥ 0, so fd + 1 is never 0.
        Slot(fd.into_raw_fd() as u32 + 1)
    }
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
    pub fn get(&self) -> Option<rustix::fd::BorrowedFd<'_>> {
        if self.0 == 0 {
            return None;
        }
        // SAFETY: a non-empty Slot owns this open fd until `take` or drop.
        Some(unsafe { rustix::fd::BorrowedFd::borrow_raw((self.0 - 1) as i32) })
    }
    pub fn take(&mut self) -> Option<rustix::fd::OwnedFd> {
        use rustix::fd::FromRawFd;
        let raw = core::mem::take(&mut self.0);
        if raw == 0 {
            return None;
        }
        // SAFETY: the Slot owned this fd; it gives up ownership here.
        Some(unsafe { rustix::fd::OwnedFd::from_raw_fd((raw - 1) as i32) })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        drop(self.take());
    }
}
