#![allow(unsafe_code)]
//! Log targets besides the ring: `file:PATH`, appended and rotated by size,
//! and `console`, svc's own stderr. Each record leaves in one write(2); a
//! failed write is returned for the caller to count as a dropped line, and
//! nothing here blocks (regular files do not, and FIFOs are refused). Also
//! the backwards search for the last N lines of a file, for `svc log -n N`.
//! svc opens log files as root in directories its services may write: PATH
//! is walked one component at a time (`os::path`), and the file must be a
//! regular file with one link, or it is refused (lines dropped and counted,
//! and one message until an open works again).

use crate::limits::{LOG_TAIL_WINDOW_BYTES, MAX_LOG_KEEP};
use crate::os::fd::{self, Slot};
use crate::os::path::{self, NAME_MAX, Name};

use crate::text::{Buf, Bytes, Errno as ErrnoText, copy};
use core::ffi::CStr;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::FileType;
use rustix::io::Errno;

/// Flags for a log file: O_NONBLOCK so that a FIFO put at PATH cannot stall
/// the open, O_NOCTTY so that a tty cannot become svc's controlling terminal
/// (both are then refused as not regular files). path::open_in adds O_CLOEXEC.
const WRITE_FLAGS: i32 = libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
/// O_NOFOLLOW on reads too: `svc log` must not show whatever file a service
/// with write access to the log's directory links PATH to.
const READ_FLAGS: i32 = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
const MODE: u32 = 0o640;

/// One service's log file: its fd once opened, its size as svc wrote it,
/// and whether a failed open was told (once, until an open works). All zero
/// bytes when empty, so that a table of them lives in .bss.
pub struct File {
    fd: Slot,
    size: u64,
    told: bool,
}

impl File {
    pub const EMPTY: File = File { fd: Slot::EMPTY, size: 0, told: false };
}

/// Appends a finished record (`ring::record`) to PATH in one write(2), first rotating PATH when
/// the record would take it past `max` bytes: PATH.(keep−1) → PATH.keep …
/// PATH → PATH.1, then PATH is opened afresh. So PATH never exceeds `max`
/// (but a single record longer than `max` is written alone into a fresh
/// file) and always holds the newest line. A failed or short write is an
/// error (the caller counts a dropped line); a short one is cut off again so
/// that the next record starts a line.
pub fn write_line(f: &mut File, path: &CStr, max: u64, keep: u8, rec: &[u8]) -> Result<(), Errno> {
    if f.fd.is_empty() {
        open(f, path)?;
    }
    if f.size > 0 && f.size.saturating_add(rec.len() as u64) > max {
        rotate(path, keep)?;
        open(f, path)?;
    }
    append(f, rec)
}

/// Closes the file, so that the next write opens PATH again (on reload: a
/// removed or moved file is then recreated).
pub fn reopen(f: &mut File) {
    *f = File::EMPTY;
}

/// Writes a finished record (`ring::console_record`) to svc's stderr, in
/// one write(2) unless the kernel takes part of it. Never blocks once `svc
/// up` made stderr private: a record that does not fit is an error (EAGAIN),
/// for the caller to count as dropped.
pub fn console(rec: &[u8]) -> Result<(), Errno> {
    fd::write_err_now(rec)
}

/// The first line of a `svc log -n N` reply whose N lines were not all
/// found within the last LOG_TAIL_WINDOW_BYTES of the file.
pub const TAIL_CUT_NOTE: &[u8] = b"svc: log cut: showing the last 1 MiB of the file\n";
const _: () = assert!(LOG_TAIL_WINDOW_BYTES == 1024 * 1024);

/// Opens PATH read-only and finds where its last `lines` lines start (a
/// final line without a newline counts), reading backwards from the end in
/// LOG_TAIL_CHUNK_BYTES preads, no further than LOG_TAIL_WINDOW_BYTES: the
/// search runs in the event loop. The fd is positioned there; read on to
/// the end for the lines. 0 lines: the end of the file. True when the
/// window was too small: the offset is then the first whole line within it
/// (its start when it has none), and the reply starts with TAIL_CUT_NOTE.
/// `buf` holds each chunk: svc's idle read buffer of LOG_TAIL_CHUNK_BYTES,
/// not 4 KiB more of stack.
pub fn tail_offset(path: &CStr, lines: u32, buf: &mut [u8]) -> Result<(OwnedFd, u64, bool), Errno> {
    let (file, size) = open_file(path, READ_FLAGS, 0)?;
    let (at, cut) = find_tail(size, lines, LOG_TAIL_WINDOW_BYTES, buf, |at, b| {
        loop {
            match rustix::io::pread(crate::os::fd::borrowed(&file), &mut *b, at) {
                Err(Errno::INTR) => {}
                r => return r,
            }
        }
    })?;
    rustix::fs::seek(crate::os::fd::borrowed(&file), rustix::fs::SeekFrom::Start(at))?;
    Ok((file, at, cut))
}

/// Where the last `lines` lines of a file of `size` bytes start, reading it
/// backwards in `buf`-sized pieces with `read(offset, into)` (pread: how
/// many bytes it read, 0 at the end), through its last `window` bytes at
/// most. A newline ends a line; the final one starts none. True when the
/// window ended the search: then the first whole line within it, or its
/// start. Pure, for tests over a slice.
fn find_tail(
    size: u64,
    lines: u32,
    window: u64,
    buf: &mut [u8],
    mut read: impl FnMut(u64, &mut [u8]) -> Result<usize, Errno>,
) -> Result<(u64, bool), Errno> {
    if lines == 0 || buf.is_empty() {
        return Ok((size, false));
    }
    // One byte before the window too: a newline there starts a line in it.
    let floor = size.saturating_sub(window.saturating_add(1));
    let mut seen = 0u32;
    let mut first = None;
    let mut end = size;
    while end > floor {
        let want = (end - floor).min(buf.len() as u64) as usize;
        let start = end - want as u64;
        let chunk = buf.get_mut(..want).unwrap_or(&mut []);
        let mut got = 0;
        while let Some(room) = chunk.get_mut(got..).filter(|r| !r.is_empty()) {
            match read(start + got as u64, room)? {
                0 => break, // the file shrank: what is gone has no newlines
                n => got += n,
            }
        }
        for (i, &b) in chunk.get(..got).unwrap_or(&[]).iter().enumerate().rev() {
            let at = start + i as u64;
            if b == b'\n' && at + 1 != size {
                seen += 1;
                if seen >= lines {
                    return Ok((at + 1, false));
                }
                first = Some(at + 1);
            }
        }
        end = start;
    }
    if floor == 0 {
        return Ok((0, false));
    }
    Ok((first.unwrap_or(floor + 1), true))
}

/// Opens PATH for appending (closing the file held before) and learns its
/// size; a failure is told once.
fn open(f: &mut File, path: &CStr) -> Result<(), Errno> {
    f.fd = Slot::EMPTY;
    f.size = 0;
    let (file, size) = open_file(path, WRITE_FLAGS, MODE).inspect_err(|&e| {
        if !core::mem::replace(&mut f.told, true) {
            tell(path, e);
        }
    })?;
    (f.fd, f.size, f.told) = (Slot::new(file), size, false);
    Ok(())
}

/// Walks to PATH's directory (`path::open_parent`), opens the last
/// component there with `flags` (O_NOFOLLOW among them), and checks it: a
/// regular file (else EINVAL) with one link (else EMLINK: a hard link could
/// be to any file). The fd and the file's size.
fn open_file(path: &CStr, flags: i32, mode: u32) -> Result<(OwnedFd, u64), Errno> {
    let mut last = Name::new();
    let dir = path::open_parent(path.to_bytes(), &mut last)?;
    let file = path::open_in(&dir, last.get(), flags, mode)?;
    let st = crate::os::stat::fstat(crate::os::fd::borrowed(&file))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(Errno::INVAL);
    }
    if st.st_nlink != 1 {
        return Err(Errno::MLINK);
    }
    Ok((file, u64::try_from(st.st_size).unwrap_or(0)))
}

/// `svc: cannot open log file PATH: WHY`.
fn tell(path: &CStr, e: Errno) {
    let why = match e {
        path::UNTRUSTED => "a symlink on the way is not root's, or is in a directory others may write: ",
        Errno::MLINK => "the file has other hard links: ",
        Errno::INVAL => "not a regular file: ",
        _ => "",
    };
    let mut b = Buf::<256>::new();
    let _ = ufmt::uwrite!(b, "svc: cannot open log file {}: {}{}\n", Bytes(path.to_bytes()), why, ErrnoText(e.raw_os_error()));
    fd::say(&b);
}

/// `fstat(2)`: the size of a regular file; EINVAL for anything else (a FIFO
/// could block, and rotating would rename a device node).
fn regular_size<F: AsFd>(file: F) -> Result<u64, Errno> {
    let st = crate::os::stat::fstat(file)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(Errno::INVAL);
    }
    Ok(u64::try_from(st.st_size).unwrap_or(0))
}

/// One write(2) of a whole record; the size follows what reached the file.
fn append(f: &mut File, rec: &[u8]) -> Result<(), Errno> {
    let Some(file) = f.fd.get() else { return Err(Errno::BADF) };
    let written = loop {
        match rustix::io::write(file, rec) {
            Err(Errno::INTR) => {}
            r => break r,
        }
    };
    match written {
        Ok(n) if n == rec.len() => {
            f.size = f.size.saturating_add(n as u64);
            Ok(())
        }
        Ok(n) => {
            // Disk full or RLIMIT_FSIZE mid-record: a partial record would run
            // into the next one, so cut it off, then trust the file's size.
            let _ = rustix::fs::ftruncate(file, f.size);
            f.size = regular_size(file).unwrap_or(f.size.saturating_add(n as u64));
            Err(Errno::NOSPC)
        }
        Err(e) => {
            // The next line opens PATH again: a device may come back.
            *f = File::EMPTY;
            Err(e)
        }
    }
}

/// `renameat(2)` PATH.(keep−1) → PATH.keep … PATH.1 → PATH.2, PATH →
/// PATH.1, in PATH's directory as `open_file` walks to it; missing ones are
/// skipped. keep 0 unlinks PATH.
fn rotate(path: &CStr, keep: u8) -> Result<(), Errno> {
    let keep = keep.min(MAX_LOG_KEEP);
    let mut last = Name::new();
    let dir = path::open_parent(path.to_bytes(), &mut last)?;
    let name = last.get();
    if keep == 0 {
        return missing_ok(rustix::fs::unlinkat(crate::os::fd::borrowed(&dir), name, rustix::fs::AtFlags::empty()));
    }
    let p = name.to_bytes();
    let mut from = [0u8; NAME_MAX + 3];
    let mut to = [0u8; NAME_MAX + 3];
    for k in (1..keep).rev() {
        // Only PATH → PATH.1 must work for PATH to stay under its size; an
        // older file that cannot move is lost when the next one replaces it.
        let d = crate::os::fd::borrowed(&dir);
        let _ = rustix::fs::renameat(d, numbered(p, k, &mut from)?, d, numbered(p, k + 1, &mut to)?);
    }
    let d = crate::os::fd::borrowed(&dir);
    missing_ok(rustix::fs::renameat(d, name, d, numbered(p, 1, &mut to)?))
}

/// A rename or unlink of something already gone is done.
fn missing_ok(r: Result<(), Errno>) -> Result<(), Errno> {
    match r {
        Err(Errno::NOENT) => Ok(()),
        r => r,
    }
}

/// `PATH.K` (K a digit) as a C string in `buf`.
fn numbered<'b>(path: &[u8], k: u8, buf: &'b mut [u8]) -> Result<&'b CStr, Errno> {
    let dst = buf.get_mut(..path.len() + 3).ok_or(Errno::NAMETOOLONG)?;
    let (body, tail) = dst.split_at_mut_checked(path.len()).ok_or(Errno::NAMETOOLONG)?;
    copy(body, path);
    copy(tail, &[b'.', b'0' + k % 10, 0]);
    crate::text::cstr(dst).ok_or(Errno::INVAL)
}

#[cfg(test)]
#[path = "logfile_tests.rs"]
mod tests;
