//! `svc up`: the event loop joining the Supervisor and os/. One epoll set
//! over a signalfd, the control socket, its clients, every instance's log
//! pipe and ready pipe, and one timerfd armed at the next deadline.

use crate::cli::{Command, EXIT_FAIL, EXIT_OK};
use crate::config::{Log, Ready};
use crate::duration::Instant;
use crate::limits::*;
use crate::os::event::{Event, Events, Interest};
use crate::os::{self, clock, logfile, signal, spawn};
use crate::ring::Stamp;
use crate::service::{Action, Actions, Exit};
use crate::text::{Buf, Bytes, Errno};
use crate::verbs::check;
use crate::verbs::control;
use crate::verbs::world::{Logs, Role, WORLD, World, alloc_rings, reload};
use core::ffi::{CStr, c_char};
use rustix::fd::{AsFd, BorrowedFd};

/// Tokens of the fds that are not in the table.
const TOK_SIGNAL: u64 = 1 << 32;
const TOK_TIMER: u64 = (1 << 32) + 1;
const TOK_CONTROL: u64 = (1 << 32) + 2;

fn say(b: &[u8]) {
    os::fd::write_err(b);
}

// Out of line, so that no client verb's buffers share its stack frame.
#[inline(never)]
pub fn up(cmd: &Command<'static>) -> i32 {
    let Some(w) = WORLD.take() else { return EXIT_FAIL };
    let path = check::config_path(cmd);
    w.config_path = Some(path);
    if !check::load(path, &mut w.loader, &mut w.cfg) {
        return EXIT_FAIL;
    }
    let mut pbuf = [0u8; PATH_BYTES];
    let Some(control) = control::server_path(&w.cfg, &mut pbuf) else { return EXIT_FAIL };
    let Ok(sigfd) = signal::take() else {
        say(b"svc: cannot set up signals\n");
        return EXIT_FAIL;
    };
    let Ok(mut ev) = Events::new() else {
        say(b"svc: cannot create epoll or timerfd\n");
        return EXIT_FAIL;
    };
    if os::process::pid() != 1 {
        // Orphans of our services become our children, to be reaped.
        let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    }
    spawn::probe_close_range(os::process::getenv(c"SVC_FALLBACK") == Some(b"1"));
    let Ok(devnull) = os::fd::open(c"/dev/null", libc::O_RDWR, 0) else {
        say(b"svc: cannot open /dev/null\n");
        return EXIT_FAIL;
    };
    w.group = w.cfg.control_gid;
    let listener = match os::socket::bind_control(control, w.group) {
        Ok(fd) => fd,
        Err(e) => {
            let mut b = Buf::<512>::new();
            let c = Bytes(control.to_bytes());
            let _ = match e {
                os::socket::BindError::Running => ufmt::uwrite!(b, "svc: already running (control socket {})\n", c),
                os::socket::BindError::Occupied => ufmt::uwrite!(b, "svc: control socket {}: something else is at this path\n", c),
                os::socket::BindError::Os(e) => ufmt::uwrite!(b, "svc: control socket {}: {}\n", c, Errno(e.raw_os_error())),
            };
            say(b.as_bytes());
            return EXIT_FAIL;
        }
    };
    if !alloc_rings(w) {
        return EXIT_FAIL;
    }
    let ok = ev.add(sigfd.as_fd(), TOK_SIGNAL, Interest::Read).is_ok()
        && ev.add(ev.timer(), TOK_TIMER, Interest::Read).is_ok()
        && ev.add(listener.as_fd(), TOK_CONTROL, Interest::Read).is_ok();
    if !ok {
        say(b"svc: cannot watch fds\n");
        return EXIT_FAIL;
    }
    w.sup.load(&w.cfg);
    let mut out = Actions::new();
    let now = clock::now();
    w.sup.settle(&w.cfg, now, &mut out);
    if perform(w, &ev, devnull.as_fd(), &mut out, now) {
        return EXIT_OK;
    }
    let mut events = [Event { flags: rustix::event::epoll::EventFlags::empty(), data: rustix::event::epoll::EventData::new_u64(0) }; 32];
    loop {
        let deadline = crate::service::earliest(w.sup.next_deadline(), w.clients.next_deadline());
        ev.arm(deadline);
        let n = ev.wait(&mut events);
        let now = clock::now();
        let batch = events.get(..n).unwrap_or(&[]);
        // Signals first: reap before reading the control socket, so that a
        // `status` sent right after a crash never reports the dead pid.
        if batch.iter().any(|e| e.data.u64() == TOK_SIGNAL) {
            while let Some(sig) = signal::read(&sigfd) {
                match sig {
                    signal::SIGCHLD => reap(w, now, &mut out),
                    signal::SIGTERM | signal::SIGINT | signal::SIGQUIT => w.sup.begin_shutdown(&w.cfg, now, &mut out),
                    signal::SIGHUP => {
                        say(b"svc: SIGHUP: reloading\n");
                        reload(w, now, &mut out, false);
                    }
                    _ => {}
                }
            }
        }
        for e in batch {
            let tok = e.data.u64();
            match tok {
                TOK_SIGNAL => {}
                TOK_TIMER => ev.ack_timer(),
                TOK_CONTROL => control::accept(w, &ev, listener.as_fd(), now),
                k => match w.fds.role(k as usize) {
                    Role::Log { id, inst } => {
                        read_log(w, &ev, k as usize, id, inst);
                    }
                    Role::Ready { id, inst } => read_ready(w, &ev, k as usize, id, inst),
                    Role::Client(c) => control::ready(w, &ev, usize::from(c), now, &mut out),
                    Role::Free => {}
                },
            }
        }
        w.sup.tick(&w.cfg, now, &mut out);
        w.sup.settle(&w.cfg, now, &mut out);
        if perform(w, &ev, devnull.as_fd(), &mut out, now) {
            return EXIT_OK;
        }
        control::progress(w, &ev, now);
        control::flush_followers(w, &ev);
    }
}

/// Performs the supervisor's actions until none are left; true on Exit.
fn perform(w: &mut World, ev: &Events, devnull: BorrowedFd, out: &mut Actions, now: Instant) -> bool {
    // Bounded: each round either empties the list or starts services, and
    // a service starts at most once per round.
    for _ in 0..=(MAX_SERVICES * 2) {
        if out.is_empty() {
            return false;
        }
        let actions = core::mem::take(out);
        for a in actions.iter() {
            match *a {
                Action::Spawn { id, inst } => {
                    let r = start(w, ev, devnull, id, inst);
                    w.sup.spawned(&w.cfg, id, inst, r, now, out);
                }
                Action::Signal { pid, sig, group } => send(pid, sig, group),
                Action::Ended { id, inst } => ended(w, ev, id, inst),
                Action::Exit => return true,
            }
        }
        w.sup.settle(&w.cfg, now, out);
    }
    false
}

/// `kill` the group, or the main pid if the group is gone, then SIGCONT so
/// that a stopped process sees the signal.
fn send(pid: i32, sig: u8, group: bool) {
    if pid <= 0 {
        return;
    }
    if !group {
        let _ = signal::send(pid, sig, false);
        return;
    }
    if signal::send(pid, sig, true).is_err() {
        let _ = signal::send(pid, sig, false);
    }
    if sig != crate::service::SIGKILL && signal::send(pid, 18, true).is_err() {
        let _ = signal::send(pid, 18, false);
    }
}

/// Forks and execs instance `inst` of service `id` with its pipes.
fn start(w: &mut World, ev: &Events, devnull: BorrowedFd, id: u8, inst: u8) -> Result<i32, (&'static str, i32)> {
    let fail = |e: rustix::io::Errno| ("pipe", e.raw_os_error());
    let Some(def) = w.sup.svcs.get(usize::from(id)).and_then(|s| w.cfg.defs.get(usize::from(s.def))) else {
        return Err(("config", 22));
    };
    let def = *def;
    let mut argv: [*const c_char; MAX_ARGS + 1] = [core::ptr::null(); MAX_ARGS + 1];
    for (p, s) in argv.iter_mut().zip(w.cfg.list(def.args)) {
        *p = w.cfg.strz(*s).as_ptr().cast();
    }
    let mut envp: [*const c_char; MAX_ENV + 1] = [core::ptr::null(); MAX_ENV + 1];
    for (p, s) in envp.iter_mut().zip(w.cfg.list(def.env)) {
        *p = w.cfg.strz(*s).as_ptr().cast();
    }
    let cwd = def.cwd.and_then(|s| CStr::from_bytes_with_nul(w.cfg.strz(s)).ok());
    // Output: a pipe into the ring, or /dev/null.
    let log = match def.log {
        Log::Null => None,
        _ => Some(os::fd::pipe().map_err(fail)?),
    };
    let ready = match def.ready {
        Ready::Fd(n) => Some((os::fd::pipe().map_err(fail)?, n)),
        _ => None,
    };
    let spec = spawn::Spec {
        argv: &argv,
        envp: &envp,
        cwd,
        uid: def.uid,
        gid: def.gid,
        groups: w.cfg.groups(def.groups),
        rlimits: def.rlimits,
        stdin: devnull,
        output: log.as_ref().map_or(devnull, |(_, wr)| wr.as_fd()),
        ready: ready.as_ref().map(|((_, wr), n)| (wr.as_fd(), *n)),
    };
    let pid = spawn::spawn(&spec).map_err(|f| (f.step.word(), f.errno))?;
    // The write ends now live in the child only.
    if let Some((rd, _wr)) = log {
        let _ = os::socket::set_nonblocking(&rd);
        if w.fds.add(ev, rd, Role::Log { id, inst }, Interest::Read).is_err() {
            say(b"svc: fd table full: a log pipe is dropped\n");
        }
    }
    if let Some(((rd, _wr), _)) = ready {
        let _ = os::socket::set_nonblocking(&rd);
        if w.fds.add(ev, rd, Role::Ready { id, inst }, Interest::Read).is_err() {
            say(b"svc: fd table full: a ready pipe is dropped\n");
        }
    }
    Ok(pid)
}

/// The instance is gone: drain and close its log pipe, close its ready pipe.
fn ended(w: &mut World, ev: &Events, id: u8, inst: u8) {
    if let Some(k) = w.fds.find(Role::Ready { id, inst }) {
        w.fds.close(ev, k);
    }
    if let Some(k) = w.fds.find(Role::Log { id, inst }) {
        // What it wrote before exiting is still in the pipe: keep it. Bounded:
        // a descendant still writing loses the rest.
        for _ in 0..16 {
            if !read_log(w, ev, k, id, inst) {
                break;
            }
        }
        flush_log(w, id, inst);
        w.fds.close(ev, k);
    }
}

/// Reads one buffer from a log pipe into the service's ring; false at EOF or
/// when nothing was there.
fn read_log(w: &mut World, ev: &Events, k: usize, id: u8, inst: u8) -> bool {
    let Some(fd) = w.fds.fd(k) else { return false };
    let n = match os::fd::read_some(fd, &mut w.logs.scratch) {
        Ok(Some(n)) if n > 0 => n,
        Ok(None) => return false,
        _ => {
            flush_log(w, id, inst);
            w.fds.close(ev, k);
            return false;
        }
    };
    sink(w, id, inst, n);
    if n < LOG_READ_BYTES {
        // The pipe is drained: output without a newline (a prompt, a
        // progress dot) goes out as a line now rather than wait.
        sink(w, id, inst, 0);
    }
    true
}

/// Turns `n` bytes of the scratch buffer (or, with n = 0, the pending
/// partial line) into lines for the service's log target and followers.
fn sink(w: &mut World, id: u8, inst: u8, n: usize) {
    let stamp = Stamp(clock::wall_ms());
    let World { logs, clients, cfg, sup, .. } = w;
    let Logs { pool, rings, asm, scratch, drops, files, .. } = logs;
    let def = sup.svcs.get(usize::from(id)).filter(|s| !s.removed).and_then(|s| cfg.defs.get(usize::from(s.def)));
    let name = def.map_or(&b""[..], |d| cfg.str(d.name));
    let target = def.map_or(Log::Null, |d| d.log);
    let path = match target {
        Log::File { path, .. } => CStr::from_bytes_with_nul(cfg.strz(path)).ok(),
        _ => None,
    };
    let Some(a) = asm.get_mut(usize::from(id)).and_then(|a| a.get_mut(usize::from(inst))) else { return };
    let mut ring = rings.get_mut(usize::from(id)).and_then(|r| r.as_mut());
    let mut file = files.get_mut(usize::from(id));
    let mut dropped = 0u32;
    let mut each = |line: &[u8]| {
        let ok = match target {
            Log::Ring(_) => {
                if let Some(r) = ring.as_deref_mut() {
                    r.push(pool, stamp, line);
                }
                true
            }
            Log::File { size, keep, .. } => match (file.as_deref_mut(), path) {
                (Some(f), Some(p)) => logfile::write_line(f, p, u64::from(size), keep, stamp, line).is_ok(),
                _ => false,
            },
            Log::Console => logfile::console(name, line).is_ok(),
            Log::Null => true,
        };
        if !ok {
            dropped = dropped.saturating_add(1);
        }
        control::publish(clients, id, name, stamp, line);
    };
    if n == 0 {
        a.flush(&mut each);
    } else {
        a.feed(scratch.get(..n).unwrap_or(&[]), &mut each);
    }
    if let Some(d) = drops.get_mut(usize::from(id)) {
        *d = d.saturating_add(dropped);
    }
}

fn flush_log(w: &mut World, id: u8, inst: u8) {
    sink(w, id, inst, 0);
}

/// The ready pipe: a newline means ready; EOF without one means never.
fn read_ready(w: &mut World, ev: &Events, k: usize, id: u8, inst: u8) {
    let mut b = [0u8; 64];
    let Some(fd) = w.fds.fd(k) else { return };
    match os::fd::read_some(fd, &mut b) {
        Ok(Some(n)) if n > 0 => {
            if b.get(..n).is_some_and(|s| s.contains(&b'\n')) {
                w.sup.ready(id, inst);
                w.fds.close(ev, k);
            }
        }
        Ok(None) => {}
        _ => w.fds.close(ev, k),
    }
}

/// Reaps every child that exited. A child that was no service's main
/// process is an orphan svc adopted: it is named in the log.
fn reap(w: &mut World, now: Instant, out: &mut Actions) {
    // Bounded by the number of children; each round reaps one.
    for _ in 0..100_000 {
        let Some(pid) = os::process::exited_child() else { return };
        let is_service = w.sup.svcs.iter().any(|s| s.instance_of(pid).is_some());
        let mut comm = [0u8; 32];
        let comm_len = if is_service { 0 } else { os::process::comm(pid, &mut comm) };
        let Some(status) = os::process::reap(pid) else { return };
        let exit = match status {
            os::process::Status::Code(c) => Exit::Code(c),
            os::process::Status::Signal(s) => Exit::Signal(s),
        };
        if !w.sup.exited(&w.cfg, pid, exit, now, out) {
            let mut b = Buf::<128>::new();
            let _ = ufmt::uwrite!(b, "svc: reaped orphan {} ({})\n", pid, Bytes(comm.get(..comm_len).unwrap_or(&[])));
            say(b.as_bytes());
        }
    }
}
