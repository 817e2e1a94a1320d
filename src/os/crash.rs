//! svc after a panic or a fault signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
//! SIGABRT, taken on an alternate stack): it says so, clears close-on-exec
//! on every fd (so that log pipes and held sockets outlive the exec: a lost
//! read end would kill the next service that writes a line), and execs
//! itself again as `svc up --again K [-c CONFIG]`; the new image adopts
//! the running children (verbs/recover.rs). K tells the re-execs in a row
//! and when the first of them came (cli::again).
#![allow(unsafe_code)]

use core::cell::UnsafeCell;
use core::ffi::{CStr, c_char, c_int, c_long, c_ulong};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, Ordering::Relaxed};

const FAULTS: [c_int; 5] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE, libc::SIGABRT];
/// The kernel's flags, the same on every svc target.
const SA_ONSTACK: c_ulong = 0x0800_0000;
const SA_RESTORER: c_ulong = 0x0400_0000;
const SA_NODEFER: c_ulong = 0x4000_0000;
const STACK_BYTES: usize = 16 << 10;

/// `-c`'s value, NUL-terminated where it lies (one of argv's words); null
/// without `-c` (the new image finds the same config the same way).
static CONFIG: AtomicPtr<c_char> = AtomicPtr::new(core::ptr::null_mut());
/// The next `--again` (cli::again), once `arm`ed; 0 before.
static AGAIN: AtomicU32 = AtomicU32::new(0);
/// Set once the way out has begun: a fault on it execs at once.
static BUSY: AtomicBool = AtomicBool::new(false);
/// The pid that `arm`ed: a forked child (before its exec) inherits the
/// handlers, and must end as a child does, not re-execute svc.
static ARMED: AtomicI32 = AtomicI32::new(0);
// K = T << 2 | count: the count must fit its two bits.
const _: () = assert!(crate::limits::MAX_AGAIN <= 3);

struct Stack(UnsafeCell<[u8; STACK_BYTES]>);
// SAFETY: only the kernel writes it, as the fault handler's stack.
unsafe impl Sync for Stack {}
// With the big tables (targets/big-bss.ld): memory only once a fault writes it.
#[unsafe(link_section = ".bss.~big")]
static STACK: Stack = Stack(UnsafeCell::new([0; STACK_BYTES]));

unsafe extern "C" {
    static environ: *const *const c_char;
}

/// Installs the fault handlers on an alternate stack (`sigaltstack`, raw
/// `rt_sigaction`: SA_ONSTACK, SA_NODEFER so that a fault in the handler
/// enters it again, SA_RESTORER, which x86_64 requires; never used, the
/// handler execs) and keeps what the next exec needs: `-c`'s value (an
/// argv word) and the re-execs so far (`count` since `since`).
#[inline(never)]
pub fn arm(config: Option<&'static [u8]>, count: u32, since: u32) {
    // (An argv word is followed by its NUL: main takes them from CStrs.)
    CONFIG.store(config.map_or(core::ptr::null_mut(), |c| c.as_ptr().cast_mut().cast()), Relaxed);
    AGAIN.store(since << 2 | (count + 1), Relaxed);
    ARMED.store(crate::os::process::pid(), Relaxed);
    let ss = libc::stack_t { ss_sp: STACK.0.get().cast(), ss_flags: 0, ss_size: STACK_BYTES };
    // SAFETY: the stack is a static that lives as long as the process.
    unsafe { libc::syscall(libc::SYS_sigaltstack, &raw const ss, 0 as c_long) };
    let h = on_fault as extern "C" fn(c_int) as usize as c_ulong;
    // The kernel's struct sigaction (handler, flags, restorer, mask) on
    // every svc target; 8 words cover the longest.
    let act: [c_ulong; 8] = [h, SA_ONSTACK | SA_NODEFER | SA_RESTORER, h, 0, 0, 0, 0, 0];
    for s in FAULTS {
        // SAFETY: rt_sigaction reads `act`, which outlives the call.
        unsafe { libc::syscall(libc::SYS_rt_sigaction, s as c_long, act.as_ptr(), 0 as c_long, 8 as c_long) };
    }
    // The tests' USR1 and USR2 (blocked; taken by the loop) need a handler
    // as PID 1: the kernel drops a signal to PID 1 that has none.
    #[cfg(feature = "crashtest")]
    for s in [libc::SIGUSR1, libc::SIGUSR2] {
        let act: [c_ulong; 8] = [h, SA_RESTORER, h, 0, 0, 0, 0, 0];
        // SAFETY: as above.
        unsafe { libc::syscall(libc::SYS_rt_sigaction, s as c_long, act.as_ptr(), 0 as c_long, 8 as c_long) };
    }
}

extern "C" fn on_fault(sig: c_int) {
    again(b"svc: SIG", crate::signame::name(sig as u8).unwrap_or("?").as_bytes());
}

/// `fcntl(F_SETFD)`: close-on-exec on or off.
pub fn cloexec(fd: c_int, on: bool) {
    // SAFETY: F_SETFD changes a flag of `fd` only (EBADF when it is closed).
    unsafe { libc::syscall(libc::SYS_fcntl, fd as c_long, libc::F_SETFD as c_long, on as c_long) };
}

/// Says `what` and `more` (and that svc re-executes), keeps every fd across the exec
/// and execs svc again (`svc up` only, once `arm`ed; other verbs abort).
/// Only raw syscalls: it runs in a signal handler. If the exec fails, svc
/// as PID 1 reaps forever; otherwise it exits 127. In a child svc forked
/// (before its exec) it exits 127, as a failed exec there does.
pub fn again(what: &[u8], more: &[u8]) -> ! {
    let next = AGAIN.load(Relaxed);
    let ours = crate::os::process::pid() == ARMED.load(Relaxed);
    let first = !BUSY.swap(true, Relaxed);
    let mut b = crate::text::Buf::<200>::new();
    if first {
        b.push_all(&[what, more, if next > 0 && ours { b"; re-executing svc\n" } else { b"\n" }]);
        crate::os::fd::say(&b);
        b.clear();
    }
    // Not `svc up` (a client verb): it ends, as a panic always did.
    if next == 0 {
        crate::os::process::abort();
    }
    if !ours {
        // SAFETY: _exit has no preconditions.
        unsafe { libc::_exit(127) }
    }
    // At every entry (a fault during the first pass must not lose a fd).
    for fd in 3..crate::limits::FD_NUMBERS_END {
        cloexec(fd, false);
    }
    let _ = ufmt::uwrite!(b, "{}\0", next);
    execve(c"/proc/self/exe".as_ptr(), &argv(c"up", c"--again", b.as_bytes()));
    crate::os::fd::write_err(b"svc: re-exec failed\n");
    if crate::os::process::pid() == 1 {
        loop {
            crate::os::init::reap_any();
            crate::os::init::pause_ms(1000);
        }
    }
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(127) }
}

/// `svc VERB FLAG VALUE [-c CONFIG]` as argv (`-c`'s value as svc was
/// given it: without it, the new image finds the same config the same way).
/// `value` ends with its NUL.
pub fn argv(verb: &CStr, flag: &CStr, value: &[u8]) -> [*const c_char; 7] {
    let config: *const c_char = CONFIG.load(Relaxed);
    let c = if config.is_null() { config } else { c"-c".as_ptr() };
    [c"svc".as_ptr(), verb.as_ptr(), flag.as_ptr(), value.as_ptr().cast(), c, config, core::ptr::null()]
}

/// `execve(2)` with svc's environment; errno once it failed.
pub fn execve(path: *const c_char, argv: &[*const c_char; 7]) -> rustix::io::Errno {
    // SAFETY: every pointer is NUL-terminated and lives for the call, argv
    // ends with a null, and environ is musl's, as svc was started with it.
    unsafe { libc::execve(path, argv.as_ptr(), environ) };
    crate::os::errno()
}

/// A bad memory access, for the tests' `crashtest` builds only.
#[cfg(feature = "crashtest")]
pub fn fault() {
    // SAFETY: none; it faults on purpose (address 8 is never mapped).
    unsafe { core::ptr::write_volatile(8 as *mut u8, 1) };
}
