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
