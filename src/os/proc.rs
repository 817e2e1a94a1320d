#![allow(unsafe_code)]
// The /proc side of `adopt` (svc's children told apart without a state):
// used by `svc up` for what a svc killed by SIGKILL left (verbs/leftover.rs),
// and later by reexec's fallback and the re-exec after a panic (issues 20, 22).
#![allow(dead_code)]
//! What /proc says of other processes: parent, session and start time
//! (/proc/PID/stat), the inodes of the pipe on fd 1 and of the sockets among
//! their fds (/proc/PID/fd), their environment (/proc/PID/environ); and
//! the walk over every process that feeds `adopt::Found`.

use crate::adopt::{Found, Held, Proc, Skip, number};
use crate::text::Buf;
use core::ffi::CStr;
use rustix::fd::BorrowedFd;

/// From /proc/PID/stat: parent (field 4), session (field 6), start time in
/// clock ticks after boot (field 22).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Stat {
    /// A zombie (state Z): its fds and sockets are closed.
    pub dead: bool,
    pub ppid: i32,
    pub sid: i32,
    pub start: u64,
}

/// `/proc/PID/A` + `b`, NUL-terminated (one writer for every path here).
#[inline(never)]
pub fn path(pid: i32, a: &[u8], b: &[u8]) -> Buf<64> {
    let mut p = Buf::<64>::new();
    let _ = ufmt::uwrite!(p, "/proc/{}/", pid);
    p.push_all(&[a, b, b"\0"]);
    p
}

/// A path from `path` as a CStr (one of "/" alone if it was cut).
pub fn cstr(p: &Buf<64>) -> &CStr {
    CStr::from_bytes_until_nul(p.as_bytes()).unwrap_or(c"/")
}

/// /proc/PID/stat of `pid`; None for a process that is gone.
pub fn stat(pid: i32) -> Option<Stat> {
    let p = path(pid, b"stat", b"");
    let path = cstr(&p);
    let mut b = [0u8; 512];
    let n = crate::os::fd::read_file(path, &mut b).ok()?;
    // The command (field 2) may hold spaces and parentheses: the fields
    // are counted after its last ')', from field 3.
    let text = b.get(..n)?;
    let close = text.iter().rposition(|&c| c == b')')?;
    let mut f = crate::text::split(text.get(close + 2..)?, b' ');
    let dead = f.next()? == b"Z"; // field 3
    let ppid = number(f.next()?)?; // field 4
    let sid = number(f.nth(1)?)?; // field 6
    let start = number(f.nth(15)?)?; // field 22
    Some(Stat { dead, ppid: ppid as i32, sid: sid as i32, start })
}

/// The path of the binary svc runs (`/proc/self/exe`); a file replaced
/// since (a package manager renames the new one over it) by its path.
pub fn exe(b: &mut Buf<{ crate::limits::PATH_BYTES }>) {
    let mut raw = [0u8; crate::limits::PATH_BYTES];
    let p = readlink(c"/proc/self/exe", &mut raw);
    b.push(p.strip_suffix(b" (deleted)").unwrap_or(p));
}

/// `readlink(2)` of `path` into `buf`; the target's bytes.
fn readlink<'b>(path: &CStr, buf: &'b mut [u8]) -> &'b [u8] {
    // SAFETY: readlinkat writes at most buf.len() bytes into buf. (Raw:
    // musl's readlink is a wrapper of its own.)
    let n = unsafe { libc::syscall(libc::SYS_readlinkat, libc::AT_FDCWD, path.as_ptr(), buf.as_mut_ptr(), buf.len()) };
    usize::try_from(n).ok().and_then(|n| buf.get(..n)).unwrap_or(&[])
}

/// The inode in a link target `KIND:[INODE]` (`pipe:[123]`, `socket:[456]`).
fn inode_of(target: &[u8], kind: &[u8]) -> Option<u64> {
    number(crate::text::after(crate::text::after(target, kind)?, b":[")?.strip_suffix(b"]")?)
}

/// The inode of the pipe on fd 1 of `pid`.
pub fn stdout_pipe(pid: i32) -> Option<u64> {
    let mut t = [0u8; 64];
    inode_of(readlink(cstr(&path(pid, b"fd/1", b"")), &mut t), b"pipe")
}

/// Calls `each` with the name of every entry of the directory `dir`
/// (bounded: at most `max` entries). Raw getdents64: rustix's RawDir
/// indexes in a way that links core::fmt.
// One copy for every caller (a dyn closure): its loop is not small.
fn entries(dir: &CStr, max: usize, each: &mut dyn FnMut(&[u8])) {
    use rustix::fd::AsRawFd;
    let Ok(fd) = crate::os::fd::open(dir, libc::O_RDONLY | libc::O_DIRECTORY, 0) else { return };
    // Small: a walk of /proc nests a walk of a /proc/PID/fd inside it.
    let mut buf = [0u8; 512];
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

/// Calls `each` with what every fd of `pid` is open on (a link target:
/// `socket:[N]`, `pipe:[N]`, a path); at most 4096 fds.
fn fd_targets(pid: i32, each: &mut dyn FnMut(&[u8])) {
    entries(cstr(&path(pid, b"fd", b"")), 4096, &mut |name| {
        let mut t = [0u8; 64];
        each(readlink(cstr(&path(pid, b"fd/", name)), &mut t));
    });
}

/// The inodes of the sockets among the fds of `pid`, into `out`; how many.
pub fn sockets(pid: i32, out: &mut [u64]) -> usize {
    let mut n = 0;
    fd_targets(pid, &mut |t| {
        if let (Some(ino), Some(slot)) = (inode_of(t, b"socket"), out.get_mut(n)) {
            *slot = ino;
            n += 1;
        }
    });
    n
}

/// The index in `inodes` of the first socket among the fds of `pid`
/// that is one of them.
pub fn holds(pid: i32, inodes: &[u32]) -> Option<usize> {
    let mut at = None;
    entries(cstr(&path(pid, b"fd", b"")), 4096, &mut |name| {
        let mut t = [0u8; 64];
        let ino = inode_of(readlink(cstr(&path(pid, b"fd/", name)), &mut t), b"socket").map(|i| i as u32);
        at = at.or_else(|| inodes.iter().position(|&i| Some(i) == ino));
    });
    at
}

/// Nothing reads the output of `pid` any more: fd 1 is a pipe whose read
/// end is closed (poll(2) says POLLERR on its write end, opened anew
/// through /proc), as a service's log pipe is once its svc is gone; or fd
/// 1 is no pipe at all (`log = null`), which tells nothing either way.
pub fn unread(pid: i32) -> bool {
    let p = path(pid, b"fd/1", b"");
    let mut t = [0u8; 64];
    if !readlink(cstr(&p), &mut t).starts_with(b"pipe:") {
        return true;
    }
    crate::os::fd::open(cstr(&p), libc::O_WRONLY | libc::O_NONBLOCK, 0).is_ok_and(|fd| {
        use rustix::fd::AsRawFd;
        let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
        // A zero timeout, as either size of struct timespec (no wait).
        let zero = [0u64; 2];
        // SAFETY: one valid pollfd and a timeout, both outliving the call; no
        // signal mask. (Raw ppoll, which every target has: musl's poll is a
        // cancellation point.)
        unsafe { libc::syscall(libc::SYS_ppoll, &raw mut pfd, 1 as libc::c_long, zero.as_ptr(), 0 as libc::c_long) };
        pfd.revents & libc::POLLERR != 0
    })
}

/// Calls `each` with every record of the file at `path`, each ended by
/// `end` (lines of /proc/net tables, NUL-ended entries of an environment),
/// without `end` and cut at 256 bytes (longer than any line of /proc/net),
/// read a chunk at a time: /proc/net tables may be long.
#[inline(never)]
pub fn records(path: &CStr, end: u8, each: &mut dyn FnMut(&[u8])) {
    let Ok(fd) = crate::os::fd::open(path, libc::O_RDONLY, 0) else { return };
    let mut line = Buf::<256>::new();
    let mut chunk = [0u8; 512];
    // Bounded: each round reads at least one byte or ends.
    while let Ok(n @ 1..) = rustix::io::read(crate::os::fd::borrowed(&fd), &mut chunk) {
        for &c in chunk.get(..n).unwrap_or(&[]) {
            if c == end {
                each(line.as_bytes());
                line.clear();
            } else {
                line.push_byte(c);
            }
        }
    }
}

/// Calls `each` with every entry of the environment of `pid`, however long
/// it is (`environ` reads only what fits a buffer).
pub fn environ_entries(pid: i32, each: &mut dyn FnMut(&[u8])) {
    records(cstr(&path(pid, b"environ", b"")), 0, each);
}

/// The numbers of this process's open fds from 3 on (but the one that
/// lists them), into `out`; how many.
pub fn own_fds(out: &mut [i32]) -> usize {
    let mut n = 0;
    entries(c"/proc/self/fd", 4096, &mut |name| {
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
        let open = fd >= 0 && rustix::io::fcntl_getfd(unsafe { crate::os::fd::borrow(fd) }).is_ok();
        if open && let Some(slot) = out.get_mut(k) {
            *slot = fd;
            k += 1;
        }
    }
    k
}

/// /proc/PID/environ into `buf` (cut at its size); its length.
pub fn environ(pid: i32, buf: &mut [u8]) -> usize {
    let Ok(fd) = crate::os::fd::open(cstr(&path(pid, b"environ", b"")), libc::O_RDONLY, 0) else { return 0 };
    let mut n = 0;
    // Bounded by the buffer: each round fills some of it or ends.
    while let Some(room) = buf.get_mut(n..).filter(|r| !r.is_empty()) {
        match rustix::io::read(crate::os::fd::borrowed(&fd), room) {
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

/// Calls `each` with the pid and stat of every process but svc.
pub fn each(f: &mut dyn FnMut(i32, Stat)) {
    let me = crate::os::process::pid();
    entries(c"/proc", 1 << 16, &mut |name| {
        let Some(pid) = number(name).and_then(|p| i32::try_from(p).ok()).filter(|&p| p != me) else { return };
        if let Some(st) = stat(pid) {
            f(pid, st);
        }
    });
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
    each(&mut |pid, st| {
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
        entries(c"/proc", 1 << 16, &mut |name| procs += usize::from(name.iter().all(u8::is_ascii_digit)));
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
