#![allow(unsafe_code)]
//! fork, child setup, exec; exec errors sent back over a pipe.
//!
//! The parent prepares everything (argv, envp, fds) before `fork`; between
//! `fork` and `execve` the child makes only async-signal-safe calls: raw
//! syscalls, no allocation, no locks, no printing. A close-on-exec pipe
//! carries the outcome back: EOF with no bytes means `execve` succeeded;
//! otherwise the child wrote `[step: u8][errno: i32, native-endian]` and
//! left with `_exit(127)`, and the parent reaps it at once.

use core::convert::Infallible;
use core::ffi::{CStr, c_char, c_int, c_long};
use core::sync::atomic::{AtomicU8, Ordering};
use rustix::fd::{AsRawFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::process::{Gid, Pid, Resource, Uid, WaitOptions};

/// Everything the child needs, prepared by the parent before fork so that the
/// child only makes async-signal-safe calls.
pub struct Spec<'a> {
    /// NULL-terminated argv; argv[0] is the program's absolute path.
    pub argv: &'a [*const c_char],
    /// NULL-terminated environment.
    pub envp: &'a [*const c_char],
    pub cwd: Option<&'a CStr>,
    /// Privileges to drop to, in the order setgroups, setgid, setuid.
    /// `groups` is applied whenever `uid` or `gid` is given. An unprivileged
    /// svc (euid not 0) cannot change groups: its EPERM from setgroups is
    /// ignored and the child keeps svc's own groups, which grants nothing svc
    /// does not already have; setgid and setuid then fail unless allowed.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub groups: &'a [u32],
    /// nofile, nproc, core, memlock; None leaves a limit as inherited;
    /// `u64::MAX` is infinity. Sets both the soft and the hard limit.
    pub rlimits: [Option<u64>; 4],
    /// Becomes the child's stdin (svc's /dev/null).
    pub stdin: BorrowedFd<'a>,
    /// Becomes the child's stdout and stderr (a log pipe, or /dev/null).
    pub output: BorrowedFd<'a>,
    /// Listening sockets, placed at fds 3, 4, ... in order.
    pub listen: &'a [BorrowedFd<'a>],
    /// The digits of `LISTEN_PID=` in an envp entry, which only the child
    /// can fill in (with its own pid, after fork, without allocating): room
    /// for 10 digits and a NUL. Null for none.
    pub listen_pid: *mut u8,
    /// The same for `WATCHDOG_PID=`; null for none.
    pub watchdog_pid: *mut u8,
    /// The write end of the ready pipe and the fd number the child gets it
    /// at (3 or more).
    pub ready: Option<(BorrowedFd<'a>, u8)>,
    /// The text to write to /proc/self/oom_score_adj before privileges are
    /// dropped; None leaves svc's own value (see `set_own_oom`).
    pub oom: Option<&'a [u8]>,
    /// stdin is a terminal that becomes the child's controlling terminal
    /// (`TIOCSCTTY`): the emergency shell's console, for job control and
    /// Ctrl-C. Best effort: a console that is no terminal, or the
    /// controlling terminal of another session (never stolen: svc in a
    /// namespace made by hand sees the host's console), leaves the child
    /// without one.
    pub tty: bool,
}

/// svc's own oom_score_adj, when it runs as root and not as PID 1: -1000, so
/// that an OOM on a small box never takes the supervisor. Children inherit
/// it, so each writes its own (`Spec::oom`). Err: the errno (EACCES where
/// svc lacks the capability, in a container).
pub fn set_own_oom() -> Result<(), Errno> {
    write_oom(b"-1000")
}

/// Writes `v` to /proc/self/oom_score_adj.
fn write_oom(v: &[u8]) -> Result<(), Errno> {
    let fd = crate::os::fd::open(c"/proc/self/oom_score_adj", libc::O_WRONLY, 0)?;
    rustix::io::write(crate::os::fd::borrowed(&fd), v).map(|_| ())
}

pub use crate::service::Step;

/// A failed spawn: the step and its errno. The child (if any) is already reaped.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Failure {
    pub step: Step,
    pub errno: i32,
}

/// `pipe2(O_CLOEXEC)`: (read end, write end).
pub fn pipe_cloexec() -> Result<(OwnedFd, OwnedFd), Errno> {
    crate::os::fd::pipe()
}

const UNPROBED: u8 = 0;
const CLOSE_RANGE: u8 = 1;
const CLOSE_LOOP: u8 = 2;

/// How the child closes inherited fds, chosen once per process.
static CLOSER: AtomicU8 = AtomicU8::new(UNPROBED);

/// `close_range(~0, ~0, 0)` (closes nothing): records whether the kernel has
/// close_range (Linux 5.9+, and not denied by a seccomp filter); without it,
/// children close fds one by one up to RLIMIT_NOFILE. `force_fallback` (svc
/// passes it when its environment has `SVC_FALLBACK=1`) picks the loop so
/// tests can cover it. Call once at start; `spawn` probes by itself otherwise.
pub fn probe_close_range(force_fallback: bool) -> bool {
    let ok = !force_fallback && close_range(u32::MAX, u32::MAX) == 0;
    CLOSER.store(if ok { CLOSE_RANGE } else { CLOSE_LOOP }, Ordering::Relaxed);
    ok
}

/// `close_range(first, last, 0)`: the raw return value (0 or -1).
fn close_range(first: u32, last: u32) -> c_long {
    // The kernel reads unsigned ints; `as` keeps the bits on 32-bit targets.
    // SAFETY: close_range only closes fds, takes no pointers, and is a plain
    // syscall, so async-signal-safe in the child.
    unsafe { libc::syscall(libc::SYS_close_range, first as c_long, last as c_long, 0 as c_long) }
}

/// Forks and execs `spec`; returns the child's pid once exec succeeded.
pub fn spawn(spec: &Spec) -> Result<i32, Failure> {
    check(spec)?;
    if CLOSER.load(Ordering::Relaxed) == UNPROBED {
        probe_close_range(false);
    }
    let fail = |step, e: Errno| Failure { step, errno: e.raw_os_error() };
    let (rd, wr) = pipe_cloexec().map_err(|e| fail(Step::Fork, e))?;
    // SAFETY: svc is single-threaded; the child runs only `child`, which
    // never returns and makes only raw syscalls, execve and _exit.
    let pid = unsafe { fork() };
    if pid < 0 {
        return Err(Failure { step: Step::Fork, errno: errno() });
    }
    if pid == 0 {
        child(spec, wr.as_raw_fd());
    }
    // Our copy of the write end must go, or the read below never sees EOF.
    drop(wr);
    let mut msg = [0u8; 5];
    let mut got = 0;
    while let Some(rest) = msg.get_mut(got..).filter(|r| !r.is_empty()) {
        match rustix::io::read(crate::os::fd::borrowed(&rd), rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::INTR) => {}
            // Cannot happen on a pipe we own; the pid is real either way,
            // and its exit will be reaped as any other.
            Err(_) => break,
        }
    }
    if got == 0 {
        return Ok(pid);
    }
    // The child wrote why and exits 127: collect it now, so no zombie and no
    // unexplained exit reaches the supervisor.
    if let Some(p) = Pid::from_raw(pid) {
        while let Err(Errno::INTR) = rustix::process::waitpid(Some(p), WaitOptions::empty()) {}
    }
    let [step, e0, e1, e2, e3] = msg;
    let errno = if got == msg.len() { i32::from_ne_bytes([e0, e1, e2, e3]) } else { Errno::IO.raw_os_error() };
    Err(Failure { step: Step::from_byte(step), errno })
}

/// What the child would trip on, caught before forking: no program, argv
/// and envp that are not NULL-terminated, a ready fd among 0..2, ids of -1
/// (which the kernel reads as "leave unchanged").
fn check(spec: &Spec) -> Result<(), Failure> {
    let terminated = |v: &[*const c_char]| v.last().is_some_and(|p| p.is_null());
    let inval = Errno::INVAL.raw_os_error();
    let program = spec.argv.first().is_some_and(|p| !p.is_null());
    if !program || !terminated(spec.argv) || !terminated(spec.envp) {
        return Err(Failure { step: Step::Exec, errno: inval });
    }
    if spec.ready.is_some_and(|(_, n)| n < 3) {
        return Err(Failure { step: Step::Fds, errno: inval });
    }
    if spec.gid == Some(u32::MAX) {
        return Err(Failure { step: Step::Gid, errno: inval });
    }
    if spec.uid == Some(u32::MAX) {
        return Err(Failure { step: Step::Uid, errno: inval });
    }
    Ok(())
}

/// `fork(2)` as a raw `clone(SIGCHLD)`: the child's pid, 0 in the child,
/// -1 with errno. Not libc's `fork` (musl's atfork locking for threads svc
/// does not have, about 2 KB) nor `_Fork` (its locks and thread-id
/// bookkeeping, 450 bytes): libc's cached thread id stays stale in the
/// child, which nothing there reads (the child makes raw syscalls, execve
/// and _exit; svc's abort signals getpid()).
///
/// # Safety
/// svc must be single-threaded; the child must keep to async-signal-safe
/// calls that do not read libc's thread state.
pub unsafe fn fork() -> c_int {
    // Zero stack, tid and tls pointers: a copy of this process, whatever the
    // architecture's argument order.
    let zero: c_long = 0;
    // SAFETY: the caller's promise; clone without CLONE_VM copies the process.
    unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD as c_long, zero, zero, zero, zero) as c_int }
}

/// errno after a failed libc call, as a number.
fn errno() -> i32 {
    crate::os::errno().raw_os_error()
}

/// The child after fork: sets up, execs, or reports why not and exits 127.
fn child(spec: &Spec, err: c_int) -> ! {
    // Every fd the child fills (0, 1, 2, the sockets, the ready fd) is below `min`.
    let socks = c_int::try_from(spec.listen.len()).unwrap_or(0);
    let min = spec.ready.map_or(3, |(_, n)| c_int::from(n) + 1).max(3 + socks);
    // The error pipe goes above them first, so that no dup2 can clobber it.
    let (fd, (step, e)) = match lift(err, min) {
        Ok(fd) => (fd, failure(setup(spec, fd, min))),
        Err(e) => (err, (Step::Fds, e)),
    };
    let [e0, e1, e2, e3] = e.to_ne_bytes();
    let msg = [step as u8, e0, e1, e2, e3];
    // SAFETY: `fd` is the error pipe's write end, open until exec or exit.
    let fd = unsafe { crate::os::fd::borrow(fd) };
    // 5 bytes fit in an empty pipe and go in one piece.
    while let Err(Errno::INTR) = rustix::io::write(fd, &msg) {}
    // SAFETY: _exit is async-signal-safe and skips atexit handlers.
    unsafe { libc::_exit(127) }
}

/// The error of a result that cannot be Ok.
fn failure(r: Result<Infallible, (Step, i32)>) -> (Step, i32) {
    match r {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

/// The child's setup, in order, then `execve`; returns only on failure.
/// `err` (the error pipe, close-on-exec) is at `min` or above.
fn setup(spec: &Spec, err: c_int, min: c_int) -> Result<Infallible, (Step, i32)> {
    let os = |step: Step| move |e: Errno| (step, e.raw_os_error());
    let fds = |e: i32| (Step::Fds, e);
    rustix::process::setsid().map_err(os(Step::Setsid))?;
    reset_signals();

    // Copy each source above `min` before filling 0, 1, 2 and the ready fd,
    // so that filling one never clobbers a source still to be read (svc may
    // run with 0..2 closed, so a source can sit at any number). dup2 from a
    // copy also clears FD_CLOEXEC, even where the source already had the
    // target number, since a copy never does. The copies are close-on-exec
    // and closed below anyway. The (source, target) pairs: stdin, output
    // twice, each socket, the ready fd (the first three written out: filled
    // in the loop too they cost more).
    const _: () = assert!(crate::limits::MAX_SERVICE_LISTENS + 4 == 12, "room for 3 + the sockets + ready");
    let (out, mut n) = (spec.output.as_raw_fd(), 3);
    let mut moves =
        [(spec.stdin.as_raw_fd(), 0), (out, 1), (out, 2), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0)];
    let more = spec.listen.iter().enumerate().map(|(i, fd)| (fd.as_raw_fd(), 3 + i as c_int));
    for from in more.chain(spec.ready.map(|(fd, k)| (fd.as_raw_fd(), c_int::from(k)))) {
        if let Some(m) = moves.get_mut(n) {
            *m = from;
            n += 1;
        }
    }
    let moves = moves.get_mut(..n).unwrap_or(&mut []);
    for (from, _) in moves.iter_mut() {
        *from = lift(*from, min).map_err(fds)?;
    }
    for &(from, to) in moves.iter() {
        dup2(from, to).map_err(fds)?;
    }
    if spec.tty {
        // SAFETY: TIOCSCTTY takes an int argument, no pointer; a plain
        // syscall (musl's ioctl adds time64 conversions), async-signal-safe.
        unsafe { libc::syscall(libc::SYS_ioctl, 0 as c_long, libc::TIOCSCTTY as c_long, 0 as c_long) };
    }
    close_others(3 + spec.listen.len() as u32, spec.ready.map(|(_, n)| n), err);
    for at in [spec.listen_pid, spec.watchdog_pid] {
        if !at.is_null() {
            write_pid(at);
        }
    }

    if let Some(dir) = spec.cwd {
        rustix::process::chdir(dir).map_err(os(Step::Chdir))?;
    }
    if let Some(v) = spec.oom {
        write_oom(v).map_err(os(Step::Oom))?;
    }
    // prlimit64's limits are u64 on every target, RLIM64_INFINITY all ones
    // as u64::MAX is here ("unlimited").
    const RESOURCES: [c_long; 4] =
        [libc::RLIMIT_NOFILE as c_long, libc::RLIMIT_NPROC as c_long, libc::RLIMIT_CORE as c_long, libc::RLIMIT_MEMLOCK as c_long];
    for (i, resource) in RESOURCES.iter().enumerate() {
        if let Some(Some(v)) = spec.rlimits.get(i) {
            let both = [*v, *v];
            // SAFETY: `both` is a struct rlimit64 (current, maximum) for the call.
            let r = unsafe { libc::syscall(libc::SYS_prlimit64, 0 as c_long, *resource, both.as_ptr(), 0 as c_long) };
            if r < 0 {
                return Err((Step::Rlimit, errno()));
            }
        }
    }

    // Per-thread syscalls set the whole process here: the child has one
    // thread. (libc's setuid would run its all-threads machinery instead.)
    if spec.uid.is_some() || spec.gid.is_some() {
        // SAFETY: Gid is #[repr(transparent)] over u32, so the slices match.
        let groups = unsafe { core::slice::from_raw_parts(spec.groups.as_ptr().cast::<Gid>(), spec.groups.len()) };
        match rustix::thread::set_thread_groups(groups) {
            Ok(()) => {}
            // Unprivileged: the child keeps svc's groups (see `Spec`).
            Err(Errno::PERM) if !rustix::process::geteuid().is_root() => {}
            Err(e) => return Err((Step::Groups, e.raw_os_error())),
        }
    }
    if let Some(g) = spec.gid {
        let g = Gid::from_raw_unchecked(g);
        rustix::thread::set_thread_res_gid(g, g, g).map_err(os(Step::Gid))?;
    }
    if let Some(u) = spec.uid {
        let u = Uid::from_raw_unchecked(u);
        rustix::thread::set_thread_res_uid(u, u, u).map_err(os(Step::Uid))?;
    }

    let prog = spec.argv.first().copied().unwrap_or(core::ptr::null());
    // SAFETY: `check` made argv and envp NULL-terminated arrays of C strings
    // that the parent keeps alive; execve is async-signal-safe.
    unsafe { libc::execve(prog, spec.argv.as_ptr(), spec.envp.as_ptr()) };
    Err((Step::Exec, errno()))
}

/// Every signal back to SIG_DFL and none blocked: svc ignores SIGPIPE and
/// blocks the signals it reads from a signalfd, and both would survive exec.
/// Raw rt_sigaction and rt_sigprocmask: no libc bookkeeping in the child,
/// and about 600 bytes less than musl's sigaction.
fn reset_signals() {
    // A zeroed kernel `struct sigaction` is SIG_DFL, no flags, empty mask,
    // whatever the field order; 32 bytes cover every svc target's layout
    // (20 on i686 and armv7, 24 on riscv64, 32 on x86_64 and aarch64).
    let dfl = [0u64; 4];
    let empty = 0u64;
    // The kernel's sigset_t: _NSIG / 8 bytes, 8 on every svc target (not MIPS).
    let set_bytes = core::mem::size_of_val(&empty) as c_long;
    for sig in 1..=64 {
        // SAFETY: in the child after fork: rt_sigaction is a plain syscall
        // reading `dfl`, which outlives it. KILL and STOP refuse with EINVAL,
        // needing no reset.
        unsafe { libc::syscall(libc::SYS_rt_sigaction, sig as c_long, dfl.as_ptr(), 0 as c_long, set_bytes) };
    }
    // SAFETY: as above; rt_sigprocmask reads `empty`, which outlives it.
    unsafe { libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK as c_long, &raw const empty, 0 as c_long, set_bytes) };
}

/// `fcntl(F_DUPFD_CLOEXEC)`: a close-on-exec copy of `fd` at `min` or above.
/// A raw syscall: rustix's version builds an OwnedFd, whose from_raw_fd
/// `assert_ne!` links core::fmt, and libc's adds an F_SETFD for old kernels.
fn lift(fd: c_int, min: c_int) -> Result<c_int, i32> {
    let (fd, cmd, min) = (c_long::from(fd), c_long::from(libc::F_DUPFD_CLOEXEC), c_long::from(min));
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) takes no pointers and is a plain
    // syscall, so async-signal-safe; the copy is a plain number until exec.
    let r = unsafe { libc::syscall(libc::SYS_fcntl, fd, cmd, min) };
    c_int::try_from(r).ok().filter(|&fd| fd >= 0).ok_or_else(errno)
}

/// `dup2(2)`: `fd` also at `to`, without FD_CLOEXEC. (libc's: rustix's
/// wants an OwnedFd for `to`, whose from_raw_fd assert links core::fmt.)
fn dup2(fd: c_int, to: c_int) -> Result<(), i32> {
    // SAFETY: dup2 takes no pointers and is async-signal-safe; replacing
    // whatever is at `to` is the point, and nothing in the child owns it.
    if unsafe { libc::dup2(fd, to) } < 0 { Err(errno()) } else { Ok(()) }
}

/// Writes this process's pid in decimal and a NUL at `at` (11 bytes of room).
fn write_pid(at: *mut u8) {
    let mut pid = rustix::process::getpid().as_raw_nonzero().get().unsigned_abs();
    let mut digits = [0u8; 10];
    let mut n = 0;
    while n < digits.len() {
        if let Some(d) = digits.get_mut(n) {
            *d = b'0' + (pid % 10) as u8;
        }
        n += 1;
        pid /= 10;
        if pid == 0 {
            break;
        }
    }
    for (i, &d) in digits.iter().take(n).rev().enumerate() {
        // SAFETY: the parent gave `at` 11 writable bytes in an envp entry of
        // its own (this child's copy of it), and n is at most 10.
        unsafe { at.add(i).write(d) };
    }
    // SAFETY: as above; index n <= 10.
    unsafe { at.add(n).write(0) };
}

/// Closes every fd from `first` up but `ready` and `err` (which is above `ready`).
fn close_others(first: u32, ready: Option<u8>, err: c_int) {
    let mut first = first;
    for keep in [ready.map(u32::from), u32::try_from(err).ok()] {
        let Some(keep) = keep else { continue };
        if keep > first {
            close_fds(first, keep - 1);
        }
        first = keep.saturating_add(1);
    }
    close_fds(first, u32::MAX);
}

/// Most fds a child closes one by one when the kernel lacks close_range:
/// 65536 close(2)s take about 10 ms.
const MAX_CLOSE_LOOP: u64 = 1 << 16;

/// Closes fds `first..=last`: with close_range, else one by one below
/// RLIMIT_NOFILE (capped), since no fd can be open at or above the limit
/// unless the limit was lowered after opening it.
fn close_fds(first: u32, last: u32) {
    if CLOSER.load(Ordering::Relaxed) == CLOSE_RANGE && close_range(first, last) == 0 {
        return;
    }
    let soft = rustix::process::getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    let end = u32::try_from(soft.min(MAX_CLOSE_LOOP)).unwrap_or(u32::MAX);
    for fd in first..end.min(last.saturating_add(1)) {
        // SAFETY: nothing in the child uses these fds again; close(2) of a
        // hole is a harmless EBADF (raw: rustix's close debug-asserts on it).
        // `fd` is below 1<<16, so `as` keeps it.
        unsafe { libc::syscall(libc::SYS_close, fd as c_long) };
    }
}
