//! Where the control socket is: the config's `[svc] control`, else a
//! default per user (and the directory made for it, checked as ours).

use crate::config::Config;
use crate::limits::PATH_BYTES;
use crate::os;
use crate::text::{Buf, Bytes};
use core::ffi::CStr;

/// The control socket path of `svc up`: `[svc] control`, else /run/svc.sock
/// for root, else $XDG_RUNTIME_DIR/svc.sock, else /tmp/svc-UID/svc.sock.
#[inline(never)]
pub fn server_path<'b>(cfg: &Config, buf: &'b mut [u8]) -> Option<&'b CStr> {
    let mut b = Buf::<PATH_BYTES>::new();
    match cfg.control {
        Some(s) => b.push(cfg.str(s)),
        None if !default_path(&mut b, true) => return None,
        None => {}
    }
    let r = os::fd::cpath(b.as_bytes(), buf);
    if r.is_none() {
        os::fd::write_err(b"svc: control socket path too long\n");
    }
    r
}

/// svc's default socket path for this user; with `create`, makes the
/// /tmp/svc-UID directory (0700) and refuses one that another user owns or
/// that others may write (they could then own the socket): false then, with
/// the message printed, and the path must not be used.
pub fn default_path(b: &mut Buf<PATH_BYTES>, create: bool) -> bool {
    let uid = os::process::euid();
    if uid == 0 {
        b.push(b"/run/svc.sock");
        return true;
    }
    if let Some(x) = os::process::getenv(c"XDG_RUNTIME_DIR").filter(|x| x.first() == Some(&b'/')) {
        b.push(x);
        b.push(b"/svc.sock");
        return true;
    }
    let _ = ufmt::uwrite!(b, "/tmp/svc-{}", uid);
    if create {
        let mut p = [0u8; 64];
        let dir = os::fd::cpath(b.as_bytes(), &mut p);
        if let Some(dir) = dir {
            let _ = rustix::fs::mkdir(dir, rustix::fs::Mode::from_raw_mode(0o700));
        }
        let ours = dir.and_then(|d| crate::os::stat::lstat(d).ok()).is_some_and(|st| {
            st.st_uid == uid
                && st.st_mode & 0o022 == 0
                && rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory
        });
        if !ours {
            let mut m = Buf::<128>::new();
            let _ = ufmt::uwrite!(
                m,
                "svc: control socket directory {}: not a directory of ours (another user owns it, or others may write it)\n",
                Bytes(b.as_bytes())
            );
            os::fd::say(&m);
            return false;
        }
    }
    b.push(b"/svc.sock");
    true
}
