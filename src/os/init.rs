//! PID 1's duties, the calls only init makes: filesystems and the console
//! at boot, Ctrl-Alt-Del, the loopback interface, the hostname, and at the
//! end SIGTERM and SIGKILL to every process, sync, read-only remounts and
//! `reboot(2)`.
//!
//! Each of them is a method of `Init`, and `Init::get` is the one place that
//! makes one, only when getpid() == 1: svc run as a plain process (the host
//! tests run it as root on a shared machine) can never kill(-1), reboot or
//! mount over /run, and no flag changes that.
#![allow(unsafe_code)]

use crate::init::{MOUNTS, Power, unescape, writable};
use crate::os::spawn::{Failure, Spec};
use crate::os::{self, clock, errno, fd};
use crate::text::{Buf, Errno as ErrnoText};
use core::ffi::{CStr, c_char};
use core::sync::atomic::{AtomicBool, Ordering};
use rustix::fd::AsRawFd;
use rustix::io::Errno;

/// Proof that svc is PID 1. Not Clone, not Copy: made by `get` only.
pub struct Init(());

/// `svc: WHAT PATH: ERRNO (errno N)` on stderr.
fn say_errno(what: &str, path: &CStr, e: Errno) {
    let mut b = Buf::<128>::new();
    b.push_all(&[b"svc: ", what.as_bytes(), b" ", path.to_bytes(), b": "]);
    let _ = ufmt::uwrite!(b, "{}\n", ErrnoText(e.raw_os_error()));
    fd::say(&b);
}

/// `mount(2)`, a raw syscall (musl's mount is a wrapper of it). Every
/// pointer must be null or NUL-terminated: the callers pass C strings and
/// nulls only.
fn mount(src: *const c_char, dir: *const c_char, fstype: *const c_char, flags: libc::c_ulong, data: *const c_char) -> Result<(), Errno> {
    // SAFETY: every pointer is null or a NUL-terminated string that lives
    // for the call (see above).
    let r = unsafe { libc::syscall(libc::SYS_mount, src, dir, fstype, flags as libc::c_long, data) };
    if r < 0 { Err(errno()) } else { Ok(()) }
}

/// Whether something is mounted on `dir`: its device differs from its
/// parent's (what mountpoint(1) checks, without /proc).
fn mounted(dir: &CStr, parent: &CStr) -> bool {
    match (crate::os::stat::stat(dir), crate::os::stat::stat(parent)) {
        (Ok(d), Ok(p)) => d.st_dev != p.st_dev,
        _ => false,
    }
}

/// `ioctl(SIOCGIFFLAGS)` then `ioctl(SIOCSIFFLAGS)` with IFF_UP on `lo`.
fn loopback_up() -> Result<(), Errno> {
    let s = fd::socket(libc::AF_INET, libc::SOCK_DGRAM)?;
    // struct ifreq: the name (16 bytes) then a union whose first member
    // here is the short ifr_flags; 40 bytes on every target.
    let mut req = [0u8; 40];
    req[0] = b'l';
    req[1] = b'o';
    // The flags read, then written back with IFF_UP.
    for request in [libc::SIOCGIFFLAGS, libc::SIOCSIFFLAGS] {
        // SAFETY: req is a writable ifreq-sized buffer for the whole call.
        // A raw syscall: musl's ioctl wraps every call in time64 conversions.
        let r = unsafe { libc::syscall(libc::SYS_ioctl, libc::c_long::from(s.as_raw_fd()), request as libc::c_long, req.as_mut_ptr()) };
        if r < 0 {
            return Err(errno());
        }
        req[16] |= libc::IFF_UP as u8;
    }
    Ok(())
}

/// Whether fd `n` is open (`fcntl(F_GETFD)`; rustix's, a raw syscall).
fn is_open(n: i32) -> bool {
    // SAFETY: F_GETFD only reads the fd's flags; a closed `n` is EBADF.
    rustix::io::fcntl_getfd(unsafe { fd::borrow(n) }).is_ok()
}

/// Set at boot when svc is PID 1 of a child PID namespace (a container).
static CONTAINER: AtomicBool = AtomicBool::new(false);

/// `/proc/cmdline`, read once at boot: `svc.config=` borrows from it.
/// After the small statics (targets/big-bss.ld): only PID 1 writes it.
// Only the section name is overridden: still zero-initialised .bss.
#[allow(unsafe_code)]
#[unsafe(link_section = ".bss.~cmdline")]
static CMDLINE: os::once::Once<[u8; 2048], 3> = os::once::Once::new([0; 2048]);

impl Init {
    /// `getpid() == 1`: the only way to an `Init`.
    pub fn get() -> Option<Init> {
        (os::process::pid() == 1).then_some(Init(()))
    }

    /// What init does before anything else, in this order: fds 0, 1 and 2
    /// filled with `open("/", O_PATH)` when the kernel left them closed (no
    /// /dev/console in the initramfs), so that no file svc opens becomes
    /// someone's stdout; every filesystem of `MOUNTS` not mounted yet (a
    /// failure is reported and skipped: a container refuses some); then
    /// /dev/console on 0, 1, 2 if they were closed (open ones are kept: in a
    /// container the console is not ours); Ctrl-Alt-Del as SIGINT; `lo` up;
    /// `net.unix.max_dgram_qlen` 512, so that notify sockets do not fill.
    /// Returns the kernel command line (empty when unreadable), whose
    /// `svc.config=` and `svc.emergency=` are for svc (the kernel passes no
    /// dotted word to init, in argv or in env).
    pub fn boot(&self) -> &'static [u8] {
        let mut closed = false;
        for n in 0..3 {
            if !is_open(n) {
                closed = true;
                // SAFETY: "/" is NUL-terminated; the fd is meant to stay open
                // (the lowest free number, which is `n`), so it is not owned.
                // A raw openat (without O_CLOEXEC, unlike fd::open): musl's
                // open() is linked for nothing else.
                unsafe { libc::syscall(libc::SYS_openat, libc::AT_FDCWD as libc::c_long, c"/".as_ptr(), libc::O_PATH as libc::c_long) };
            }
        }
        for m in MOUNTS.iter() {
            // EEXIST is the usual answer.
            let _ = rustix::fs::mkdir(m.dir, rustix::fs::Mode::from_raw_mode(0o755));
            if mounted(m.dir, m.parent) {
                continue;
            }
            if let Err(e) = mount(m.fstype.as_ptr(), m.dir.as_ptr(), m.fstype.as_ptr(), m.flags, m.data.as_ptr().cast()) {
                say_errno("mount", m.dir, e);
            }
        }
        if closed && let Ok(con) = fd::open(c"/dev/console", libc::O_RDWR | libc::O_NOCTTY, 0) {
            for n in 0..3 {
                // SAFETY: dup2 onto 0..2 replaces the O_PATH placeholders.
                unsafe { libc::dup2(con.as_raw_fd(), n) };
            }
        }
        // EINVAL in a child PID namespace (a container): harmless, and the
        // sign that the filesystems are not svc's to remount (`owns_mounts`).
        if rustix::system::reboot(rustix::system::RebootCommand::CadOff) == Err(Errno::INVAL) {
            CONTAINER.store(true, Ordering::Relaxed);
        }
        if let Err(e) = loopback_up() {
            say_errno("bring up", c"lo", e);
        }
        let qlen = c"/proc/sys/net/unix/max_dgram_qlen";
        if let Err(e) = fd::open(qlen, libc::O_WRONLY, 0).and_then(|f| fd::write_all(fd::borrowed(&f), b"512\n")) {
            say_errno("write", qlen, e);
        }
        let Some(buf) = CMDLINE.take() else { return b"" };
        let n = fd::read_file(c"/proc/cmdline", buf).unwrap_or(0);
        buf.get(..n).unwrap_or(&[])
    }

    /// The emergency shell `path` on /dev/console, which becomes its
    /// controlling terminal (setsid, TIOCSCTTY; unless another session has
    /// it), with svc's environment:
    /// the spawn of every service, without a service's settings. Its pid.
    pub fn shell(&self, path: &CStr) -> Result<i32, Failure> {
        let con = fd::open(c"/dev/console", libc::O_RDWR | libc::O_NOCTTY, 0)
            .map_err(|e| Failure { step: crate::service::Step::Fds, errno: e.raw_os_error() })?;
        unsafe extern "C" {
            static environ: *const *const c_char;
        }
        // SAFETY: environ is the NULL-terminated array the C runtime set up
        // and svc never changes; the count stops at its NULL (or at 256
        // entries, where the slice is not NULL-terminated and spawn refuses it).
        let envp = unsafe {
            let e = environ;
            let n = (0..256).take_while(|&i| !(*e.add(i)).is_null()).count();
            core::slice::from_raw_parts(e, n + 1)
        };
        let argv = [path.as_ptr(), core::ptr::null()];
        crate::os::spawn::spawn(&Spec {
            argv: &argv,
            envp,
            cwd: None,
            uid: None,
            gid: None,
            groups: &[],
            rlimits: [None; 4],
            stdin: fd::borrowed(&con),
            output: fd::borrowed(&con),
            listen: &[],
            listen_pid: core::ptr::null_mut(),
            watchdog_pid: core::ptr::null_mut(),
            ready: None,
            oom: None,
            tty: true,
        })
    }

    /// Writes to fd 2 and waits for it (svc's own output is otherwise
    /// dropped when the console is slow): the shutdown's steps.
    pub fn console(&self, bytes: &[u8]) {
        // SAFETY: fd 2 is open for all of svc's life (`boot` saw to it).
        let _ = fd::write_all(unsafe { rustix::stdio::stderr() }, bytes);
    }

    /// `sethostname(2)`: `[svc] hostname`.
    pub fn set_hostname(&self, name: &[u8]) {
        if let Err(e) = rustix::system::sethostname(name) {
            say_errno("sethostname", c"", e);
        }
    }

    /// `kill(-1, sig)`: every process but svc (and kernel threads).
    pub fn signal_all(&self, sig: u8) {
        let _ = crate::os::signal::send(-1, sig, false);
    }

    /// `sync()` in a forked child, waited for `secs` at most: sync can
    /// hang on a dead disk, and then svc moves on without it.
    pub fn sync_bounded(&self, secs: u64) {
        // SAFETY: single-threaded (see spawn.rs); the child calls only sync
        // and _exit.
        let pid = unsafe { crate::os::spawn::fork() };
        if pid == 0 {
            rustix::fs::sync();
            // SAFETY: in the child: _exit has no preconditions.
            unsafe { libc::_exit(0) }
        }
        let Some(p) = rustix::process::Pid::from_raw(pid) else { return };
        let until = clock::now() + crate::duration::Duration::from_millis(secs * 1000);
        // Bounded by the clock: one turn every 20 ms.
        while clock::now() < until {
            if !matches!(rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG), Ok(None)) {
                return;
            }
            pause_ms(20);
        }
    }

    /// False in a container (a child PID namespace): its filesystems are
    /// the host's superblocks, and a read-only remount there would be the
    /// host's too.
    pub fn owns_mounts(&self) -> bool {
        !CONTAINER.load(Ordering::Relaxed)
    }

    /// Every read-write filesystem of /proc/mounts, innermost first:
    /// unmounted when it can be, else remounted read-only. `buf` holds the
    /// file.
    pub fn remount_all(&self, buf: &mut [u8]) {
        // Unreadable, or larger than `buf`: nothing to remount (the
        // kernel's own emergency remount is all that is left then).
        let n = fd::read_file(c"/proc/mounts", buf).unwrap_or_default();
        let text = buf.get(..n).unwrap_or(&[]);
        let mut path = [0u8; 256];
        for dir in writable(text) {
            let Some(p) = unescape(dir, &mut path) else { continue };
            // SAFETY: p is NUL-terminated.
            if unsafe { libc::syscall(libc::SYS_umount2, p.as_ptr(), 0 as libc::c_long) } == 0 {
                continue;
            }
            // Null source, type and data are what a remount takes.
            let _ = mount(core::ptr::null(), p.as_ptr(), core::ptr::null(), libc::MS_REMOUNT | libc::MS_RDONLY, core::ptr::null());
        }
    }

    /// `reboot(2)` with `p`'s command. Returns only when it failed: in a
    /// PID namespace without CAP_SYS_BOOT, where svc's exit is the end.
    pub fn reboot(&self, p: Power) -> Errno {
        use rustix::system::RebootCommand as R;
        let cmd = match p {
            Power::Halt => R::Halt,
            Power::Poweroff => R::PowerOff,
            Power::Reboot => R::Restart,
        };
        rustix::system::reboot(cmd).err().unwrap_or(Errno::INVAL)
    }

    /// `_exit(2)`: a container's init ends here (the kernel panics for a
    /// real PID 1, so only after a failed `reboot`).
    pub fn exit(self, code: i32) -> ! {
        // SAFETY: _exit has no preconditions.
        unsafe { libc::_exit(code) }
    }
}

/// Reaps every child that has exited; false once svc has none left.
pub fn reap_any() -> bool {
    // Bounded: each turn reaps one child.
    for _ in 0..100_000 {
        match rustix::process::wait(rustix::process::WaitOptions::NOHANG) {
            Ok(Some(_)) => {}
            Ok(None) => return true,
            Err(Errno::INTR) => {}
            Err(_) => return false,
        }
    }
    true
}

/// `nanosleep(2)` for `ms` milliseconds (never in the loop: the shutdown
/// after it, a loop that lost epoll_wait, the emergency's reaper).
pub fn pause_ms(ms: u32) {
    // The old nanosleep with the kernel's own `long` timespec, a raw
    // syscall: rustix's tries the 64-bit time call first on 32-bit targets,
    // with this one as its fallback; a pause of seconds needs no more.
    let t = [(ms / 1000) as libc::c_long, (ms % 1000 * 1_000_000) as libc::c_long];
    // SAFETY: t is a valid timespec for the call; the remainder is not wanted.
    unsafe { libc::syscall(libc::SYS_nanosleep, t.as_ptr(), core::ptr::null_mut::<libc::c_long>()) };
}
