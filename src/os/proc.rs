#![allow(unsafe_code)]
// The /proc side of `adopt` (svc's children told apart without a state):
// used by reexec's fallback and, later, by the re-exec after a panic and
// the restart after `kill -9` of svc (issues 20, 22, 24).
#![allow(dead_code)]
//! What /proc says of other processes: parent, session and start time
//! (/proc/PID/stat), the inodes of the pipe on fd 1 and of the sockets among
//! their fds (/proc/PID/fd), their environment (/proc/PID/environ); and
//! the walk over every process that feeds `adopt::Found`.

use crate::adopt::{Found, Held, Proc, Skip};
use crate::text::Buf;
use core::ffi::CStr;
use rustix::fd::BorrowedFd;

/// From /proc/PID/stat: parent (field 4), session (field 6), start time in
/// clock ticks after boot (field 22).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Stat {
    pub ppid: i32,
    pub sid: i32,
    pub start: u64,
}

fn number(w: &[u8]) -> Option<u64> {
    if w.is_empty() {
        return None;
    }
    w.iter().try_fold(0u64, |a, &c| c.is_ascii_digit().then(|| a.wrapping_mul(10).wrapping_add(u64::from(c - b'0'))))
}

/// /proc/PID/stat of `pid`; None for a process that is gone.
pub fn stat(pid: i32) -> Option<Stat> {
    let mut p = Buf::<40>::new();
    let _ = ufmt::uwrite!(p, "/proc/{}/stat\0", pid);
    let path = CStr::from_bytes_with_nul(p.as_bytes()).ok()?;
    let mut b = [0u8; 512];
    let n = crate::os::fd::read_file(path, &mut b).ok()?;
    // The command (field 2) may hold spaces and parentheses: the fields
    // are counted after its last ')', from field 3.
    let text = b.get(..n)?;
    let close = text.iter().rposition(|&c| c == b')')?;
    let mut f = text.get(close + 2..)?.split(|&c| c == b' ');
    let ppid = number(f.nth(1)?)?; // field 4
    let sid = number(f.nth(1)?)?; // field 6
    let start = number(f.nth(15)?)?; // field 22
    Some(Stat { ppid: ppid as i32, sid: sid as i32, start })
}

/// `readlink(2)` of `path` into `buf`; the target's bytes.
fn readlink<'b>(path: &CStr, buf: &'b mut [u8]) -> &'b [u8] {
    // SAFETY: readlink writes at most buf.len() bytes into buf.
    let n = unsafe { libc::readlink(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    usize::try_from(n).ok().and_then(|n| buf.get(..n)).unwrap_or(&[])
}

/// The inode in a link target `KIND:[INODE]` (`pipe:[123]`, `socket:[456]`).
fn inode_of(target: &[u8], kind: &[u8]) -> Option<u64> {
    number(target.strip_prefix(kind)?.strip_prefix(b":[")?.strip_suffix(b"]")?)
}

/// The inode of the pipe on fd 1 of `pid`.
pub fn stdout_pipe(pid: i32) -> Option<u64> {
    let mut p = Buf::<40>::new();
    let _ = ufmt::uwrite!(p, "/proc/{}/fd/1\0", pid);
    let mut t = [0u8; 64];
    inode_of(readlink(CStr::from_bytes_with_nul(p.as_bytes()).ok()?, &mut t), b"pipe")
}

/// Calls `each` with the name of every entry of the directory `dir`
/// (bounded: at most `max` entries). Raw getdents64: rustix's RawDir
/// indexes in a way that links core::fmt.
fn entries(dir: &CStr, max: usize, mut each: impl FnMut(&[u8])) {
    use rustix::fd::AsRawFd;
    let Ok(fd) = crate::os::fd::open(dir, libc::O_RDONLY | libc::O_DIRECTORY, 0) else { return };
    let mut buf = [0u8; 2048];
    let mut left = max;
    // Bounded by `max` entries; each round reads at least one or ends.
    while left > 0 {
        // SAFETY: the kernel writes at most buf.len() bytes into buf.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, fd.as_raw_fd() as libc::c_long, buf.as_mut_ptr(), buf.len()) };
        let Some(got) = usize::try_from(n).ok().filter(|&n| n > 0).and_then(|n| buf.get(..n)) else { return };
        let mut at = 0;
        // A record: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name.
        while let Some(rec) = got.get(at..) {
            let len = match rec.get(16..18) {
                Some(&[a, b]) => usize::from(u16::from_ne_bytes([a, b])),
                _ => break,
            };
            let name = rec.get(19..len.max(19)).unwrap_or(&[]);
            let name = name.get(..name.iter().position(|&c| c == 0).unwrap_or(name.len())).unwrap_or(&[]);
            if len == 0 || left == 0 {
                return;
            }
            if name != b"." && name != b".." {
                each(name);
            }
            left -= 1;
            at += len;
        }
    }
}

/// The inodes of the sockets among the fds of `pid`, into `out`; how many.
pub fn sockets(pid: i32, out: &mut [u64]) -> usize {
    let mut dir = Buf::<40>::new();
    let _ = ufmt::uwrite!(dir, "/proc/{}/fd\0", pid);
    let Ok(d) = CStr::from_bytes_with_nul(dir.as_bytes()) else { return 0 };
    let mut n = 0;
    entries(d, 4096, |name| {
        let mut p = Buf::<64>::new();
        let _ = ufmt::uwrite!(p, "/proc/{}/fd/", pid);
        p.push(name);
        p.push(b"\0");
        let mut t = [0u8; 64];
        let ino = CStr::from_bytes_with_nul(p.as_bytes()).ok().and_then(|c| inode_of(readlink(c, &mut t), b"socket"));
        if let (Some(ino), Some(slot)) = (ino, out.get_mut(n)) {
            *slot = ino;
            n += 1;
        }
    });
    n
}

/// The numbers of this process's open fds from 3 on (but the one that
/// lists them), into `out`; how many.
pub fn own_fds(out: &mut [i32]) -> usize {
    let mut n = 0;
    entries(c"/proc/self/fd", 4096, |name| {
        let Some(fd) = number(name).and_then(|f| i32::try_from(f).ok()).filter(|&f| f > 2) else { return };
        if let Some(slot) = out.get_mut(n) {
            *slot = fd;
            n += 1;
        }
    });
    // The directory's own fd was listed and is closed by now.
    let mut k = 0;
    for i in 0..n {
        let fd = out.get(i).copied().unwrap_or(-1);
        // SAFETY: only asks whether `fd` is open; the borrow ends here.
        let open = fd >= 0 && rustix::io::fcntl_getfd(unsafe { BorrowedFd::borrow_raw(fd) }).is_ok();
        if open && let Some(slot) = out.get_mut(k) {
            *slot = fd;
            k += 1;
        }
    }
    k
}

/// /proc/PID/environ into `buf` (cut at its size); its length.
pub fn environ(pid: i32, buf: &mut [u8]) -> usize {
    let mut p = Buf::<40>::new();
    let _ = ufmt::uwrite!(p, "/proc/{}/environ\0", pid);
    let Ok(path) = CStr::from_bytes_with_nul(p.as_bytes()) else { return 0 };
    let Ok(fd) = crate::os::fd::open(path, libc::O_RDONLY, 0) else { return 0 };
    let mut n = 0;
    // Bounded by the buffer: each round fills some of it or ends.
    while let Some(room) = buf.get_mut(n..).filter(|r| !r.is_empty()) {
        match rustix::io::read(&fd, room) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n
}

/// The inode of what `fd` is open on.
// st_ino's type differs between targets.
#[allow(clippy::unnecessary_cast)]
pub fn inode(fd: BorrowedFd) -> u64 {
    crate::os::stat::fstat(fd).map_or(0, |st| st.st_ino as u64)
}

/// Walks every process in /proc whose parent is `parent` (None: any) and
/// offers it to `found`; `recorded` gives the start time svc recorded for a
/// pid, `find` a service's slot by name. Calls `skipped` for each process
/// that showed a sign of a service but was not adopted.
pub fn scan(
    parent: Option<i32>,
    held: &Held,
    found: &mut Found,
    recorded: impl Fn(i32) -> Option<u64>,
    find: impl Fn(&[u8]) -> Option<u8> + Copy,
    mut skipped: impl FnMut(i32, Skip),
) {
    let me = crate::os::process::pid();
    entries(c"/proc", 1 << 16, |name| {
        let Some(pid) = number(name).and_then(|p| i32::try_from(p).ok()).filter(|&p| p != me) else { return };
        let Some(st) = stat(pid) else { return };
        if parent.is_some_and(|p| p != st.ppid) {
            return;
        }
        let mut socks = [0u64; 16];
        let ns = sockets(pid, &mut socks);
        let mut env = [0u8; 4096];
        let ne = environ(pid, &mut env);
        let p = Proc {
            pid,
            ppid: st.ppid,
            sid: st.sid,
            start: st.start,
            stdout: stdout_pipe(pid),
            sockets: socks.get(..ns).unwrap_or(&[]),
            environ: env.get(..ne).unwrap_or(&[]),
        };
        if let Err(why) = found.offer(&p, held, recorded(pid), find)
            && why != Skip::Unknown
        {
            skipped(pid, why);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets() {
        assert_eq!(inode_of(b"pipe:[4763962]", b"pipe"), Some(4_763_962));
        assert_eq!(inode_of(b"socket:[12]", b"socket"), Some(12));
        assert_eq!(inode_of(b"socket:[12]", b"pipe"), None);
        assert_eq!(inode_of(b"/dev/null", b"pipe"), None);
        assert_eq!(inode_of(b"pipe:[]", b"pipe"), None);
    }

    #[test]
    fn own_fds_lists_what_is_open() {
        let fd = crate::os::fd::open(c"/dev/null", libc::O_RDONLY, 0).expect("/dev/null");
        let mut out = [0i32; 1024];
        let n = own_fds(&mut out);
        use rustix::fd::AsRawFd;
        assert!(out[..n].contains(&fd.as_raw_fd()), "{:?}", &out[..n]);
        assert!(out[..n].iter().all(|&f| f > 2));
        drop(fd);
        let mut procs = 0;
        entries(c"/proc", 1 << 16, |name| procs += usize::from(name.iter().all(u8::is_ascii_digit)));
        assert!(procs > 1, "{procs} processes in /proc");
    }

    #[test]
    fn own_process() {
        let me = crate::os::process::pid();
        let st = stat(me).expect("our own stat");
        // In a container the session leader may sit outside our PID
        // namespace (sid 0) and the parent may be its init: compare with
        // what the kernel says directly rather than assume positives.
        assert_eq!(st.ppid, unsafe { libc::getppid() });
        assert_eq!(st.sid, unsafe { libc::getsid(0) });
        assert_eq!(stat(me).map(|again| again.start), Some(st.start));
        if let Some(parent) = stat(st.ppid) {
            assert!(parent.start <= st.start, "{} > {}", parent.start, st.start);
        }
        let mut env = [0u8; 65536];
        let n = environ(me, &mut env);
        assert!(n > 0 && env[..n].split(|&b| b == 0).any(|e| e.starts_with(b"PATH=")));
    }
}
