#![allow(unsafe_code)]
//! Paths that root opens for others (log files): walked one component at a
//! time from `/`, so that a symlink put on the way by whoever can write a
//! directory cannot send root's appends, renames or reads elsewhere. A
//! symlink is followed only when it, and the directory that holds it, are
//! root's and not writable by group or others (`/var/run → /run`); any
//! other is refused.

use crate::limits::{MAX_LINK_HOPS, PATH_BYTES};
use crate::os::fd;
use core::ffi::CStr;
use rustix::fd::{AsRawFd, OwnedFd};
use rustix::fs::FileType;
use rustix::io::Errno;

/// Why a path was refused, as an errno: a symlink that is not trusted.
pub const UNTRUSTED: Errno = Errno::PERM;

/// Bytes of a file name: the kernel's NAME_MAX.
pub const NAME_MAX: usize = 255;

/// The last component of a path, as a C string.
pub struct Name {
    bytes: [u8; NAME_MAX + 1],
}

impl Name {
    pub const fn new() -> Name {
        Name { bytes: [0; NAME_MAX + 1] }
    }
    pub fn get(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.bytes).unwrap_or(c"")
    }
}

/// `openat(2)` with O_CLOEXEC added, relative to `dir` (an fd from here).
pub fn open_in(dir: &OwnedFd, name: &CStr, flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
    fd::open_at(dir.as_raw_fd(), name, flags, mode)
}

/// Opens the directory that holds the last component of the absolute
/// `path`, walking from `/` with `openat(O_PATH|O_NOFOLLOW)`: every
/// component before the last must be a directory or a trusted symlink
/// (followed, MAX_LINK_HOPS at most; an absolute target starts again from
/// `/`). The last component goes to `last`; it is not looked at here.
pub fn open_parent(path: &[u8], last: &mut Name) -> Result<OwnedFd, Errno> {
    let euid = rustix::process::geteuid().as_raw();
    // The path still to walk, in one buffer while the next one is built.
    let mut bufs = [[0u8; PATH_BYTES]; 2];
    let (mut cur, mut len) = (0usize, crate::text::copy(&mut bufs[0], path));
    if len < path.len() {
        return Err(Errno::NAMETOOLONG);
    }
    let mut dir = root()?;
    let mut pos = 0usize;
    let mut hops = 0usize;
    // Bounded: each round moves past a component or follows a link, and
    // there are at most PATH_BYTES components and MAX_LINK_HOPS links.
    for _ in 0..PATH_BYTES * (MAX_LINK_HOPS + 1) {
        let walked = bufs.get(cur).and_then(|b| b.get(..len)).ok_or(Errno::INVAL)?;
        let rest = walked.get(pos..).unwrap_or(&[]);
        let skip = rest.iter().take_while(|&&b| b == b'/').count();
        let rest = rest.get(skip..).unwrap_or(&[]);
        let comp_len = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
        let comp = rest.get(..comp_len).unwrap_or(&[]);
        let after = rest.get(comp_len..).unwrap_or(&[]);
        if comp.is_empty() {
            // `/` or a path ending in `/`: no file is named.
            return Err(Errno::ISDIR);
        }
        // Straight into `last`: the component it holds once the walk ends.
        let c = fd::cpath(comp, &mut last.bytes).ok_or(Errno::NAMETOOLONG)?;
        if after.is_empty() {
            return Ok(dir);
        }
        if after.iter().all(|&b| b == b'/') {
            return Err(Errno::ISDIR);
        }
        let next = open_in(&dir, c, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        let st = crate::os::stat::fstat(fd::borrowed(&next))?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                dir = next;
                pos += skip + comp_len;
            }
            FileType::Symlink => {
                let holder = crate::os::stat::fstat(fd::borrowed(&dir))?;
                // A symlink's own mode is always 0777: its owner and its
                // directory decide who can change it.
                if !fd::safe(st.st_uid, 0, euid) || !fd::safe(holder.st_uid, holder.st_mode, euid) {
                    return Err(UNTRUSTED);
                }
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    return Err(Errno::LOOP);
                }
                // The target, then the rest of the path, into the other buffer.
                let [a, b] = &mut bufs;
                let (from, to) = if cur == 0 { (&*a, b) } else { (&*b, a) };
                // SAFETY: readlinkat writes at most to.len() bytes into `to`.
                // (Raw, as os::proc's readlink: rustix's checks and copies more.)
                let r =
                    unsafe { libc::syscall(libc::SYS_readlinkat, dir.as_raw_fd() as libc::c_long, c.as_ptr(), to.as_mut_ptr(), to.len()) };
                let target = usize::try_from(r).map_err(|_| crate::os::errno())?;
                let rest = from.get(pos + skip + comp_len..len).unwrap_or(&[]);
                let total = target + rest.len();
                if target == 0 || total > to.len() {
                    return Err(Errno::NAMETOOLONG);
                }
                crate::text::copy(to.get_mut(target..).unwrap_or(&mut []), rest);
                if to.first() == Some(&b'/') {
                    dir = root()?;
                }
                (cur, len, pos) = (1 - cur, total, 0);
            }
            _ => return Err(Errno::NOTDIR),
        }
    }
    Err(Errno::LOOP)
}

/// In `buf`, a directory's path (NUL-terminated) in and its canonical path
/// out (every symlink resolved, as realpath(3) gives it); its length,
/// without the NUL. `open(O_PATH|O_DIRECTORY)`, `fchdir` into it, `getcwd`,
/// and `fchdir` back: no /proc needed (as PID 1, svc may start services
/// before /proc is mounted), and none of libc's realpath.
pub fn resolve_dir(buf: &mut [u8]) -> Option<usize> {
    let there = fd::open(CStr::from_bytes_until_nul(buf).ok()?, libc::O_PATH | libc::O_DIRECTORY, 0).ok()?;
    let here = fd::open(c".", libc::O_PATH | libc::O_DIRECTORY, 0).ok()?;
    rustix::process::fchdir(fd::borrowed(&there)).ok()?;
    // SAFETY: getcwd writes at most buf.len() bytes into `buf`.
    let n = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    // svc's own directory again (an O_PATH fd of a directory: it cannot fail).
    let _ = rustix::process::fchdir(fd::borrowed(&here));
    // The kernel's length counts the NUL; a path outside svc's root has no leading '/'.
    usize::try_from(n).ok().filter(|&n| n > 1 && buf.first() == Some(&b'/')).map(|n| n - 1)
}

/// `open(O_PATH)`: whether `path` names something (symlinks followed).
pub fn exists(path: &CStr) -> bool {
    fd::open(path, libc::O_PATH, 0).is_ok()
}

fn root() -> Result<OwnedFd, Errno> {
    fd::open(c"/", libc::O_PATH | libc::O_DIRECTORY, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("svc-path-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// The file the walk reaches: (device, inode) of parent/last, via fstatat.
    fn reached(path: &std::path::Path) -> Result<(u64, u64, String), Errno> {
        let mut last = Name::new();
        let parent = open_parent(path.to_str().unwrap().as_bytes(), &mut last)?;
        let st = rustix::fs::statat(&parent, last.get(), rustix::fs::AtFlags::SYMLINK_NOFOLLOW)?;
        Ok((st.st_dev, st.st_ino, last.get().to_str().unwrap().to_string()))
    }

    fn id(path: &std::path::Path) -> (u64, u64, String) {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::symlink_metadata(path).unwrap();
        (m.dev(), m.ino(), path.file_name().unwrap().to_str().unwrap().to_string())
    }

    #[test]
    fn walks_directories_and_trusted_links() {
        let d = dir("walk");
        std::fs::create_dir_all(d.join("real/sub")).unwrap();
        std::fs::write(d.join("real/sub/log"), "x").unwrap();
        symlink(d.join("real"), d.join("abs")).unwrap();
        symlink("real/sub", d.join("rel")).unwrap();
        symlink("../real/sub/", d.join("real/up")).unwrap();
        symlink(d.join("abs"), d.join("twice")).unwrap();
        let want = id(&d.join("real/sub/log"));
        for p in ["real/sub/log", "abs/sub/log", "rel/log", "real/up/log", "twice/sub/log", "real/./sub//log", "real/sub/../sub/log"] {
            assert_eq!(reached(&d.join(p)), Ok(want.clone()), "{p}");
        }
        // The last component is not followed: a link there is the link.
        symlink(d.join("real/sub/log"), d.join("real/sub/link")).unwrap();
        assert_eq!(reached(&d.join("real/sub/link")), Ok(id(&d.join("real/sub/link"))));
        // Not directories on the way, and paths naming no file.
        assert_eq!(reached(&d.join("real/sub/log/x")), Err(Errno::NOTDIR));
        assert_eq!(reached(&d.join("missing/log")), Err(Errno::NOENT));
        let mut last = Name::new();
        assert_eq!(open_parent(b"/", &mut last).err(), Some(Errno::ISDIR));
        assert_eq!(open_parent(b"/tmp/", &mut last).err(), Some(Errno::ISDIR));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn link_loops_end() {
        let d = dir("loop");
        symlink(d.join("b"), d.join("a")).unwrap();
        symlink(d.join("a"), d.join("b")).unwrap();
        symlink("self", d.join("self")).unwrap();
        assert_eq!(reached(&d.join("a/log")), Err(Errno::LOOP));
        assert_eq!(reached(&d.join("self/log")), Err(Errno::LOOP));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn untrusted_links_are_refused_as_root() {
        if rustix::process::geteuid().as_raw() != 0 {
            eprintln!("note: untrusted_links_are_refused_as_root needs root; skipped");
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        let d = dir("trust");
        std::fs::create_dir_all(d.join("real")).unwrap();
        std::fs::write(d.join("real/log"), "x").unwrap();
        // A link someone else owns.
        symlink(d.join("real"), d.join("theirs")).unwrap();
        std::os::unix::fs::lchown(d.join("theirs"), Some(65534), Some(65534)).unwrap();
        assert_eq!(reached(&d.join("theirs/log")), Err(UNTRUSTED));
        // Root's link in a directory others may write.
        std::fs::create_dir_all(d.join("open")).unwrap();
        std::fs::set_permissions(d.join("open"), std::fs::Permissions::from_mode(0o777)).unwrap();
        symlink(d.join("real"), d.join("open/link")).unwrap();
        assert_eq!(reached(&d.join("open/link/log")), Err(UNTRUSTED));
        // Root's link in a directory another user owns.
        std::fs::create_dir_all(d.join("user")).unwrap();
        std::os::unix::fs::chown(d.join("user"), Some(65534), Some(65534)).unwrap();
        symlink(d.join("real"), d.join("user/link")).unwrap();
        assert_eq!(reached(&d.join("user/link/log")), Err(UNTRUSTED));
        // Root's own link in root's own directory is fine.
        symlink(d.join("real"), d.join("mine")).unwrap();
        assert_eq!(reached(&d.join("mine/log")).map(|r| r.2), Ok("log".to_string()));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
