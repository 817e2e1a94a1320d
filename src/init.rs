//! svc as PID 1, the pure parts: the kernel command line, the emergency
//! shell's program, what a signal means to init (busybox init's meanings),
//! the shutdown's kinds and steps, the filesystems to mount at boot and which
//! to remount read-only at the end. No syscalls.

use crate::signame;

/// How a shutdown ends: the `reboot(2)` command svc gives last.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Power {
    Halt = 1,
    Poweroff = 2,
    Reboot = 3,
}

impl Power {
    /// Its word, a line found by its value (a `match` of strings is a
    /// table of two words per arm besides the text).
    pub fn word(self) -> &'static str {
        crate::text::line("\nhalt\npoweroff\nreboot\n", self as usize)
    }
    /// The value `as u8` gave (0 and others: none).
    pub const fn from_u8(b: u8) -> Option<Power> {
        match b {
            1 => Some(Power::Halt),
            2 => Some(Power::Poweroff),
            3 => Some(Power::Reboot),
            _ => None,
        }
    }
    /// What a signal to svc as PID 1 asks for, as busybox init reads it:
    /// USR1 halt, USR2 and PWR (LXC, incus) poweroff, TERM and INT
    /// (Ctrl-Alt-Del) reboot. QUIT (re-exec) and the rest: None.
    pub const fn of_signal(sig: u8) -> Option<Power> {
        match sig {
            signame::USR1 => Some(Power::Halt),
            signame::USR2 | signame::PWR => Some(Power::Poweroff),
            signame::TERM | signame::INT => Some(Power::Reboot),
            _ => None,
        }
    }
}

crate::text::texts! {
    /// The steps of a shutdown, each printed on the console as
    /// `svc: poweroff: STEP` before it is taken.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Step {
        /// Every service, in reverse `after` order, within `shutdown_timeout`.
        Stopping => "stopping services",
        /// SIGTERM and SIGCONT to every process; up to 3 s to exit.
        Term => "TERM to every process",
        /// SIGKILL to what is left.
        Kill => "KILL to every process left",
        /// `sync()` in a child, 10 s at most.
        Sync => "sync",
        /// Every writable filesystem, innermost first: unmounted, else read-only.
        Remount => "remounting read-only",
        /// `reboot(2)` with the command.
        Last => "reboot(2)",
    }
}

/// The value of `KEY=VALUE` among the blank-separated words of `line` (the
/// kernel command line); the last one wins, as the kernel's own parameters
/// do. Quotes are not special: a value holds no blanks.
pub fn cmdline_value<'a>(line: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    line.rsplit(|b| b.is_ascii_whitespace()).find_map(|w| crate::text::after(crate::text::after(w, key)?, b"=")).filter(|v| !v.is_empty())
}

/// The emergency shell svc as PID 1 runs on the console when a startup step
/// failed: `svc.emergency=` of the kernel command line `cmdline`, else
/// `[svc] emergency` of the config (`configured`, when that much of it
/// parsed), else /bin/sh.
pub fn shell<'a>(cmdline: &'a [u8], configured: Option<&'a [u8]>) -> &'a [u8] {
    cmdline_value(cmdline, b"svc.emergency").or(configured).unwrap_or(b"/bin/sh")
}

/// A filesystem svc mounts at boot when nothing is mounted there yet.
pub struct Mount {
    /// Mount point and its parent (a mount point is a path whose device
    /// differs from its parent's), NUL-terminated.
    pub dir: &'static core::ffi::CStr,
    pub parent: &'static core::ffi::CStr,
    /// Filesystem type, which is also the source's name.
    pub fstype: &'static core::ffi::CStr,
    /// mount(2)'s flags: MS_NOSUID, MS_NODEV, MS_NOEXEC.
    pub flags: libc::c_ulong,
    pub data: &'static core::ffi::CStr,
}

const NOSUID: libc::c_ulong = libc::MS_NOSUID;
const NODEV: libc::c_ulong = libc::MS_NODEV;
const NOEXEC: libc::c_ulong = libc::MS_NOEXEC;

/// What svc mounts at boot, in order (a parent before its children).
pub const MOUNTS: [Mount; 6] = [
    Mount { dir: c"/proc", parent: c"/", fstype: c"proc", flags: NOSUID | NODEV | NOEXEC, data: c"" },
    Mount { dir: c"/sys", parent: c"/", fstype: c"sysfs", flags: NOSUID | NODEV | NOEXEC, data: c"" },
    Mount { dir: c"/dev", parent: c"/", fstype: c"devtmpfs", flags: NOSUID, data: c"mode=0755" },
    Mount { dir: c"/dev/pts", parent: c"/dev", fstype: c"devpts", flags: NOSUID | NOEXEC, data: c"mode=0620,ptmxmode=0666" },
    Mount { dir: c"/dev/shm", parent: c"/dev", fstype: c"tmpfs", flags: NOSUID | NODEV, data: c"mode=1777" },
    Mount { dir: c"/run", parent: c"/", fstype: c"tmpfs", flags: NOSUID | NODEV, data: c"mode=0755" },
];

/// The mount points of /proc/mounts (`text`) that are mounted read-write,
/// innermost first: the file lists mounts in the order they were made, so
/// a mount comes after the one it sits on, and the reverse order unmounts
/// children before their parents. Each is as the file escapes it (`\040`
/// for a blank); `unescape` makes a path of it.
pub fn writable(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.rsplit(|&b| b == b'\n').filter_map(|line| {
        let mut f = crate::text::split(line, b' ');
        let (_dev, dir, _fstype, opts) = (f.next()?, f.next()?, f.next()?, f.next()?);
        let first = crate::text::split(opts, b',').next()?;
        (first == b"rw" && dir.first() == Some(&b'/')).then_some(dir)
    })
}

/// A /proc/mounts field with its octal escapes (`\040` blank, `\011` tab,
/// `\012` newline, `\134` backslash) undone, NUL-terminated, into `out`;
/// None when it does not fit or holds a NUL.
pub fn unescape<'a>(field: &[u8], out: &'a mut [u8]) -> Option<&'a core::ffi::CStr> {
    let mut n = 0;
    let mut i = 0;
    while let Some(&b) = field.get(i) {
        let (byte, used) = match field.get(i..i + 4) {
            Some(&[b'\\', a @ b'0'..=b'3', c @ b'0'..=b'7', d @ b'0'..=b'7']) => (((a - b'0') << 6) | ((c - b'0') << 3) | (d - b'0'), 4),
            _ => (b, 1),
        };
        if byte == 0 {
            return None;
        }
        *out.get_mut(n)? = byte;
        n += 1;
        i += used;
    }
    *out.get_mut(n)? = 0;
    crate::text::cstr(out.get(..=n)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_words() {
        let line = b"BOOT_IMAGE=/vmlinuz root=/dev/vda ro svc.config=/etc/a.conf quiet svc.config=/etc/b.conf\n";
        assert_eq!(cmdline_value(line, b"svc.config"), Some(&b"/etc/b.conf"[..]));
        assert_eq!(cmdline_value(line, b"root"), Some(&b"/dev/vda"[..]));
        // A word that only starts like the key, a bare key, an empty value.
        assert_eq!(cmdline_value(b"svc.configx=/a svc.config", b"svc.config"), None);
        assert_eq!(cmdline_value(b"svc.config=", b"svc.config"), None);
        assert_eq!(cmdline_value(b"", b"svc.config"), None);
        assert_eq!(cmdline_value(b"a\tsvc.config=/x\nb", b"svc.config"), Some(&b"/x"[..]));
    }

    #[test]
    fn emergency_shell_choice() {
        let line = b"console=ttyS0 svc.emergency=/bin/ash svc.config=/etc/a.conf";
        assert_eq!(shell(line, Some(b"/sbin/sulogin")), b"/bin/ash");
        assert_eq!(shell(line, None), b"/bin/ash");
        // No word (or an empty one): the config's, else /bin/sh.
        assert_eq!(shell(b"quiet svc.emergency=", Some(b"/sbin/sulogin")), b"/sbin/sulogin");
        assert_eq!(shell(b"quiet svc.emergencyx=/bin/ash", None), b"/bin/sh");
        assert_eq!(shell(b"", None), b"/bin/sh");
    }

    #[test]
    fn signals_as_busybox_init_reads_them() {
        for (sig, p) in [
            (signame::USR1, Some(Power::Halt)),
            (signame::USR2, Some(Power::Poweroff)),
            (signame::PWR, Some(Power::Poweroff)),
            (signame::TERM, Some(Power::Reboot)),
            (signame::INT, Some(Power::Reboot)),
            (signame::QUIT, None),
            (signame::HUP, None),
            (signame::CHLD, None),
        ] {
            assert_eq!(Power::of_signal(sig), p, "{sig}");
        }
        for p in [Power::Halt, Power::Poweroff, Power::Reboot] {
            assert_eq!(Power::from_u8(p as u8), Some(p));
        }
        assert_eq!(Power::from_u8(0), None);
    }

    #[test]
    fn writable_mounts_innermost_first() {
        let text = b"rootfs / rootfs rw,size=1000k 0 0\n\
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n\
/dev/vda /mnt ext4 rw,relatime 0 0\n\
/dev/vdb /mnt/my\\040disk ext4 rw 0 0\n\
/dev/vdc /media/ro ext4 ro,relatime 0 0\n\
tmpfs /run tmpfs rw,nosuid 0 0\n";
        let got: Vec<&[u8]> = writable(text).collect();
        assert_eq!(got, [&b"/run"[..], b"/mnt/my\\040disk", b"/mnt", b"/proc", b"/"]);
        // A truncated last line (the buffer was full) is skipped, not misread.
        let got: Vec<&[u8]> = writable(b"proc /proc proc rw 0 0\n/dev/vda /mn").collect();
        assert_eq!(got, [&b"/proc"[..]]);
    }

    #[test]
    fn unescapes_octal() {
        let mut out = [0u8; 32];
        for (field, want) in [
            (&b"/mnt/my\\040disk"[..], &b"/mnt/my disk"[..]),
            (b"/a\\134b", b"/a\\b"),
            (b"/tab\\011x", b"/tab\tx"),
            (b"/plain", b"/plain"),
            // Not an escape: kept as it is.
            (b"/x\\9", b"/x\\9"),
            (b"/x\\04", b"/x\\04"),
        ] {
            assert_eq!(unescape(field, &mut out).map(|c| c.to_bytes()), Some(want), "{field:?}");
        }
        assert_eq!(unescape(b"/nul\\000", &mut out), None);
        assert_eq!(unescape(&[b'a'; 32], &mut out), None);
        assert_eq!(unescape(&[b'a'; 31], &mut out).map(|c| c.to_bytes().len()), Some(31));
    }

    #[test]
    fn mounts_parents_first() {
        for (i, m) in MOUNTS.iter().enumerate() {
            let p = m.parent.to_bytes();
            assert!(p == b"/" || MOUNTS[..i].iter().any(|e| e.dir.to_bytes() == p), "{:?}", m.dir);
            assert!(m.dir.to_bytes().starts_with(p));
        }
    }
}
