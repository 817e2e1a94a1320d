//! svc as PID 1 when a startup step failed: a config it cannot use (then it
//! runs no service), or a signalfd, control socket or /dev/null it could not
//! have. The errors are on the console; svc goes on with what works, reaping
//! and answering `svc status` and `svc reload`, and runs the emergency shell
//! on the console. A reload that succeeds ends the emergency (and, after a
//! config that was unusable at boot, starts the services). Until then the
//! shell is started again 1 s after it exits: not at once, so that a shell
//! that dies at start cannot spin. Without epoll or a timerfd svc can watch
//! nothing, and `reaper` is all that is left.

use crate::duration::{Duration, Instant};
use crate::os::init::{Init, pause_ms};
use crate::os::{clock, fd};
use crate::text::{Buf, Bytes, Errno};
use crate::verbs::world::World;

/// How long after the shell exits it is started again.
const AGAIN: Duration = Duration::from_secs(1);

/// Enters the emergency when svc is PID 1 (`cmdline`, the kernel command
/// line, is given only then); false otherwise, and the caller exits as svc
/// always has. The shell is chosen now: the config's `[svc] emergency` may
/// be cleared next.
pub fn enter(w: &mut World, cmdline: Option<&[u8]>) -> bool {
    let Some(line) = cmdline else { return false };
    if w.shell_path.is_empty() {
        let cfg = &w.sup.cfg;
        w.shell_path.push(crate::init::shell(line, cfg.emergency.map(|s| cfg.str(s))));
    }
    true
}

/// Starts the emergency shell: `svc: emergency shell PATH (pid N)`, or why
/// it could not start (then svc goes on without it).
pub fn start(w: &mut World) {
    w.shell_at = None;
    let Some(init) = Init::get() else { return };
    let path = w.shell_path.as_bytes();
    let mut p = [0u8; crate::limits::PATH_BYTES];
    let r = match fd::cpath(path, &mut p) {
        Some(c) => init.shell(c),
        None => Err(crate::os::spawn::Failure { step: crate::service::Step::Exec, errno: rustix::io::Errno::NAMETOOLONG.raw_os_error() }),
    };
    let mut b = Buf::<160>::new();
    let _ = ufmt::uwrite!(b, "svc: emergency shell {}", Bytes(path));
    let _ = match r {
        Ok(pid) => {
            w.shell = pid;
            ufmt::uwrite!(b, " (pid {})\n", pid)
        }
        Err(f) => ufmt::uwrite!(b, ": {}: {}\n", f.step, Errno(f.errno)),
    };
    fd::say(&b);
}

/// `pid` was reaped: true when it was the emergency shell, which is started
/// again in 1 s while the emergency lasts.
pub fn exited(w: &mut World, pid: i32, now: Instant) -> bool {
    if pid != w.shell {
        return false;
    }
    w.shell = 0;
    let again = !w.shell_path.is_empty();
    if again {
        w.shell_at = Some(now + AGAIN);
    }
    let m: &[u8] = if again { b"svc: emergency shell exited; again in 1s\n" } else { b"svc: emergency shell exited\n" };
    fd::write_err(m);
    true
}

/// Starts the shell again once its time has come.
pub fn due(w: &mut World, now: Instant) {
    if w.shell_at.is_some_and(|t| now >= t) {
        start(w);
    }
}

/// A reload succeeded: the emergency is over. A running shell is left
/// alone, and not started again when it exits; `[svc] hostname` is set, as
/// the boot would have.
pub fn over(w: &mut World) {
    if w.shell_path.is_empty() {
        return;
    }
    w.shell_path.clear();
    w.shell_at = None;
    hostname(w);
}

/// `[svc] hostname` of the config in force, when svc is PID 1.
pub fn hostname(w: &World) {
    if let (Some(i), Some(h)) = (Init::get(), w.sup.cfg.hostname) {
        i.set_hostname(w.sup.cfg.str(h));
    }
}

/// What is left when svc can watch no fd (no epoll or timerfd) or must not
/// go on (a crash loop): as PID 1 the reaper (never returns); otherwise
/// svc exits 1.
pub fn last(w: &mut World, cmdline: Option<&[u8]>) -> i32 {
    if !enter(w, cmdline) {
        return crate::cli::EXIT_FAIL;
    }
    reaper(w)
}

/// No epoll or timerfd (a kernel built without them): svc can watch no fd,
/// so it runs no service and answers no client. It reaps, and keeps the
/// emergency shell running, forever.
fn reaper(w: &mut World) -> ! {
    start(w);
    loop {
        match rustix::process::wait(rustix::process::WaitOptions::empty()) {
            Ok(Some((pid, _))) => {
                if exited(w, pid.as_raw_nonzero().get(), clock::now()) {
                    pause_ms(1000);
                    start(w);
                }
            }
            // No child at all: nothing to wait for but time.
            _ => pause_ms(1000),
        }
    }
}
