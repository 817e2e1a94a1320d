//! `svc up`: the event loop joining the Supervisor and os/. One epoll set
//! over the fd table (signalfd, control socket, clients, every instance's
//! log pipe and ready pipe) and one timerfd armed at the next deadline;
//! what happens becomes a supervisor event, and its actions are performed
//! here, their failures handed back as events.

use crate::cli::{Command, EXIT_FAIL, EXIT_OK};
use crate::config::{Log, Ready};
use crate::duration::Instant;
use crate::limits::*;
use crate::os::event::{Event, Events, Interest};
use crate::os::{self, clock, logfile, signal, spawn};
use crate::ring::{self, Stamp};
use crate::service::{Action, Actions, Step};
use crate::signame;
use crate::supervisor::{Event as SupEvent, Outcome};
use crate::text::{Buf, Bytes, Errno};
use crate::verbs::check;
use crate::verbs::control;
use crate::verbs::reload::{assign, reload, restore, rings_fit};
use crate::verbs::sockets;
use crate::verbs::world::{Logs, Role, WORLD, World};
use core::ffi::{CStr, c_char};
use rustix::fd::AsFd;

/// The token of the timerfd, which `Events` owns (every other fd's token is
/// its index in the fd table).
const TOK_TIMER: u64 = 1 << 32;

fn say(b: &[u8]) {
    os::fd::write_err(b);
}

/// `svc: WHAT: ERRNO (errno N)` on stderr.
fn say_errno(what: &str, e: rustix::io::Errno) {
    let mut b = Buf::<160>::new();
    let _ = ufmt::uwrite!(b, "svc: {}: {}\n", what, Errno(e.raw_os_error()));
    say(b.as_bytes());
}

// Out of line, so that no client verb's buffers share its stack frame.
#[inline(never)]
pub fn up(cmd: &Command<'static>) -> i32 {
    let Some(w) = WORLD.take() else { return EXIT_FAIL };
    let path = check::config_path(cmd);
    w.config_path = Some(path);
    if !check::load(path, &mut w.loader, &mut w.sup.cfg) {
        return EXIT_FAIL;
    }
    let mut pbuf = [0u8; PATH_BYTES];
    let Some(control) = control::server_path(&w.sup.cfg, &mut pbuf) else { return EXIT_FAIL };
    // The notify sockets' directory: `svc-notify` beside the control socket.
    let c = control.to_bytes();
    w.notify_dir.push(c.get(..c.iter().rposition(|&b| b == b'/').unwrap_or(0)).unwrap_or(&[]));
    w.notify_dir.push(b"/svc-notify");
    let sigfd = match signal::take() {
        Ok(fd) => fd,
        Err(e) => {
            say_errno("cannot set up signals (signalfd)", e);
            return EXIT_FAIL;
        }
    };
    let mut ev = match Events::new() {
        Ok(ev) => ev,
        Err(e) => {
            say_errno("cannot create epoll or timerfd", e);
            return EXIT_FAIL;
        }
    };
    if os::process::pid() != 1 {
        // Orphans of our services become our children, to be reaped.
        let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    }
    spawn::probe_close_range(os::process::getenv(c"SVC_FALLBACK") == Some(b"1"));
    let devnull = match os::fd::open(c"/dev/null", libc::O_RDWR, 0) {
        Ok(fd) => fd,
        Err(e) => {
            say_errno("cannot open /dev/null", e);
            return EXIT_FAIL;
        }
    };
    w.group = w.sup.cfg.control_gid;
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
    if !rings_fit(&w.sup.cfg) {
        say(b"svc: log rings exceed the ring pool\n");
        return EXIT_FAIL;
    }
    // Before any service starts: a port that cannot be had is an error now.
    if !sockets::bind_all(w) {
        return EXIT_FAIL;
    }
    let held = ev.add(ev.timer(), TOK_TIMER, Interest::Read).is_ok()
        && w.fds.add(&ev, sigfd, Role::Signals, Interest::Read).is_ok()
        && w.fds.add(&ev, listener, Role::Control, Interest::Read).is_ok()
        && w.fds.hold(devnull, Role::Null).is_ok();
    if !held {
        say(b"svc: cannot watch the signalfd, timerfd and control socket\n");
        return EXIT_FAIL;
    }
    w.sup.load();
    for id in 0..w.sup.svcs.len() {
        assign(w, id as u8);
    }
    let mut out = Actions::new();
    let now = clock::now();
    w.sup.handle(SupEvent::Tick, now, &mut out);
    if perform(w, &ev, &mut out, now) {
        return EXIT_OK;
    }
    sockets::watch(w, &ev);
    let mut events = [Event { flags: rustix::event::epoll::EventFlags::empty(), data: rustix::event::epoll::EventData::new_u64(0) }; 32];
    let mut wait_failed = false;
    loop {
        let deadline = crate::service::earliest(w.sup.next_deadline(), w.clients.next_deadline());
        ev.arm(deadline);
        let n = match ev.wait(&mut events) {
            Ok(n) => n,
            Err(e) => {
                // Cannot happen with a valid epoll fd; if it does, say so once
                // and go on at one turn a second rather than spin: signals
                // (the signalfd is read anyway) and deadlines still work.
                if !wait_failed {
                    say_errno("epoll_wait failed; polling once a second", e);
                    wait_failed = true;
                }
                let _ = rustix::thread::nanosleep(&rustix::time::Timespec { tv_sec: 1, tv_nsec: 0 });
                0
            }
        };
        let now = clock::now();
        let batch = events.get(..n).unwrap_or(&[]);
        // Signals first: reap before reading the control socket, so that a
        // `status` sent right after a crash never reports the dead pid.
        signals(w, &ev, now, &mut out);
        for e in batch {
            let tok = e.data.u64();
            if tok == TOK_TIMER {
                ev.ack_timer();
                continue;
            }
            let k = tok as usize;
            match w.fds.role(k) {
                Role::Control => control::accept(w, &ev, k, now),
                Role::Log { id, inst } => {
                    read_log(w, &ev, k, id, inst);
                }
                Role::Ready { id, inst } => read_ready(w, &ev, k, id, inst, now, &mut out),
                Role::Notify { id, inst } => read_notify(w, k, id, inst, now, &mut out),
                Role::Probe { id, .. } => {
                    read_probe(w, &ev, k, id);
                }
                Role::Client(c) => control::ready(w, &ev, usize::from(c), now, &mut out),
                Role::Listen { n } => {
                    if let Some(id) = w.sup.listener(usize::from(n)) {
                        w.sup.handle(SupEvent::Connection { id }, now, &mut out);
                    }
                }
                Role::Signals | Role::Null | Role::Free => {}
            }
        }
        w.sup.handle(SupEvent::Tick, now, &mut out);
        if perform(w, &ev, &mut out, now) {
            return EXIT_OK;
        }
        sockets::watch(w, &ev);
        control::progress(w, &ev, now);
        control::flush_followers(w, &ev);
    }
}

/// Reads every pending signal: SIGCHLD reaps, TERM, INT and QUIT shut down,
/// HUP reloads.
fn signals(w: &mut World, ev: &Events, now: Instant, out: &mut Actions) {
    // Bounded: the signalfd holds at most one of each pending signal.
    for _ in 0..64 {
        let Some(sig) = w.fds.of(Role::Signals).and_then(signal::read) else { return };
        match sig {
            signame::CHLD => reap(w, now, out),
            signame::TERM | signame::INT | signame::QUIT => {
                w.sup.handle(SupEvent::Shutdown, now, out);
            }
            signame::HUP => {
                say(b"svc: SIGHUP: reloading\n");
                if let Err(r) = reload(w, ev, now, out, false, false) {
                    let mut b = Buf::<160>::new();
                    let _ = ufmt::uwrite!(b, "svc: reload: {}\n", r.text());
                    say(b.as_bytes());
                }
            }
            _ => {}
        }
    }
}

/// Performs the supervisor's actions until none are left; what fails goes
/// back to the supervisor as an event. True on Exit.
fn perform(w: &mut World, ev: &Events, out: &mut Actions, now: Instant) -> bool {
    // Bounded: each round either empties the list or starts services, and
    // a service starts at most once per round.
    for _ in 0..=(MAX_SERVICES * 2) {
        if out.is_empty() {
            return false;
        }
        let actions = core::mem::take(out);
        for a in actions.iter() {
            let event = match *a {
                Action::Spawn { id, inst } => Some(match start(w, ev, id, inst, false) {
                    Ok(pid) => SupEvent::Spawned { id, inst, pid },
                    Err(f) => SupEvent::SpawnFailed { id, inst, step: f.step, errno: f.errno },
                }),
                Action::Probe { id, inst } => Some(match start(w, ev, id, inst, true) {
                    Ok(pid) => SupEvent::ProbeSpawned { id, inst, pid },
                    Err(f) => {
                        // Why, in place of the run's output.
                        if let Some(b) = w.logs.probes.get_mut(usize::from(id)) {
                            b.clear();
                            let _ = ufmt::uwrite!(b, "{}: {}", f.step, Errno(f.errno));
                        }
                        w.logs.probe_fresh &= !(1u64 << id);
                        SupEvent::ProbeFailed { id, inst }
                    }
                }),
                Action::ProbeLog { id } => {
                    sink(w, id, 0, Src::Probe);
                    None
                }
                Action::Signal { pid, sig, group } => {
                    send(pid, sig, group).err().map(|e| SupEvent::SignalFailed { pid, sig, group, errno: e.raw_os_error() })
                }
                Action::Send { pid, sig, client } => {
                    let r = signal::send(pid, sig, false);
                    control::signalled(w, ev, usize::from(client), r, now);
                    None
                }
                Action::Ended { id, inst } => {
                    ended(w, ev, id, inst);
                    None
                }
                Action::Assigned { id } => {
                    assign(w, id);
                    None
                }
                Action::Restore { id } => {
                    restore(w, id);
                    None
                }
                Action::Exit => return true,
            };
            if let Some(e) = event {
                w.sup.handle(e, now, out);
            }
        }
    }
    false
}

/// `kill` the group, or the main pid if the group is gone, then SIGCONT so
/// that a stopped process sees the signal. Signal 0 asks about the group only.
fn send(pid: i32, sig: u8, group: bool) -> Result<(), rustix::io::Errno> {
    if pid <= 0 {
        return Ok(());
    }
    if !group || sig == 0 {
        return signal::send(pid, sig, group);
    }
    let r = signal::send(pid, sig, true).or_else(|_| signal::send(pid, sig, false));
    if r.is_ok() && crate::service::needs_cont(sig) && signal::send(pid, signame::CONT, true).is_err() {
        let _ = signal::send(pid, signame::CONT, false);
    }
    r
}

/// Forks and execs instance `inst` of service `id` with its pipes. With
/// `probe`, its `ready = exec:` probe instead, as the service runs (user,
/// cwd, rlimits, environment) plus `SVC_PID`, the instance's main pid; no
/// sockets; output into a pipe whose bytes are kept in `Logs::probes`.
fn start(w: &mut World, ev: &Events, id: u8, inst: u8, probe: bool) -> Result<i32, spawn::Failure> {
    let fail = |e: rustix::io::Errno| spawn::Failure { step: Step::Fork, errno: e.raw_os_error() };
    if probe && let Some(k) = w.fds.find(Role::Probe { id, inst }) {
        // The last run's pipe goes first (something it started may hold it open).
        drain_probe(w, ev, k, id);
        w.fds.close(ev, k);
    }
    let main = w.sup.svcs.get(usize::from(id)).and_then(|s| s.inst.get(usize::from(inst))).and_then(|i| i.map(|i| i.pid)).unwrap_or(0);
    let Some(def) = w.sup.def(usize::from(id)).copied() else {
        return Err(spawn::Failure { step: Step::Fork, errno: rustix::io::Errno::INVAL.raw_os_error() });
    };
    let words = match def.ready {
        Ready::Exec(r) if probe => r,
        _ if probe => return Err(spawn::Failure { step: Step::Fork, errno: rustix::io::Errno::INVAL.raw_os_error() }),
        _ => def.args,
    };
    let Some(devnull) = w.fds.of(Role::Null) else {
        return Err(spawn::Failure { step: Step::Fds, errno: rustix::io::Errno::BADF.raw_os_error() });
    };
    let cfg = &w.sup.cfg;
    let mut argv: [*const c_char; MAX_ARGS + 1] = [core::ptr::null(); MAX_ARGS + 1];
    for (p, s) in argv.iter_mut().zip(cfg.list(words)) {
        *p = cfg.strz(*s).as_ptr().cast();
    }
    let socks = if probe { heapless::Vec::new() } else { sockets::of(w, usize::from(id)) };
    let generation = w.sup.svcs.get(usize::from(id)).map_or(1, |s| s.spawns.saturating_add(1));
    let mut senv = sockets::Env::new();
    let with_socks = senv.fill(w, usize::from(id), socks.len(), generation);
    let mut nenv = NotifyEnv::new();
    let notify = match def.ready {
        Ready::Notify => Some(nenv.fill(w, id, inst, def.uid, def.watchdog).map_err(fail)?),
        _ => None,
    };
    let mut svc_pid = Buf::<24>::new();
    let _ = ufmt::uwrite!(svc_pid, "SVC_PID={}\0", main);
    let mut envp: [*const c_char; MAX_ENV + 9] = [core::ptr::null(); MAX_ENV + 9];
    // The sockets' five entries, then NOTIFY_SOCKET, WATCHDOG_USEC,
    // WATCHDOG_PID; a probe's SVC_PID.
    let extra: [*const c_char; 9] = [
        senv.fds.as_bytes().as_ptr().cast(),
        senv.pid.as_ptr().cast(),
        senv.names.as_bytes().as_ptr().cast(),
        senv.port.as_bytes().as_ptr().cast(),
        senv.generation.as_bytes().as_ptr().cast(),
        nenv.socket.as_bytes().as_ptr().cast(),
        nenv.usec.as_bytes().as_ptr().cast(),
        nenv.pid.as_ptr().cast(),
        svc_pid.as_bytes().as_ptr().cast(),
    ];
    let own = cfg.list(def.env).iter().map(|s| cfg.strz(*s).as_ptr().cast());
    let nn = if notify.is_none() {
        0
    } else if def.watchdog.as_millis() > 0 {
        3
    } else {
        1
    };
    let (skip, take) = if probe { (8, 9) } else { (if with_socks { 0 } else { 5 }, 5 + nn) };
    let all = own.chain(extra.into_iter().take(take).skip(skip));
    for (p, e) in envp.iter_mut().zip(all) {
        *p = e;
    }
    let listen_pid = if with_socks { senv.pid.as_mut_ptr().wrapping_add(sockets::Env::PID_PREFIX.len()) } else { core::ptr::null_mut() };
    let cwd = def.cwd.and_then(|s| CStr::from_bytes_with_nul(cfg.strz(s)).ok());
    // Output: a pipe into the ring, or /dev/null.
    let log = match def.log {
        Log::Null if !probe => None,
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
        groups: cfg.groups(def.groups),
        rlimits: def.rlimits,
        stdin: devnull,
        output: log.as_ref().map_or(devnull, |(_, wr)| wr.as_fd()),
        ready: ready.as_ref().map(|((_, wr), n)| (wr.as_fd(), *n)),
        listen: &socks,
        listen_pid,
        watchdog_pid: if nn == 3 { nenv.pid.as_mut_ptr().wrapping_add(NotifyEnv::PID_PREFIX.len()) } else { core::ptr::null_mut() },
    };
    let pid = spawn::spawn(&spec);
    drop(socks);
    let pid = match pid {
        Ok(pid) => pid,
        Err(f) => {
            if notify.is_some() {
                os::listen::unlink(nenv.path());
            }
            return Err(f);
        }
    };
    if let Some(fd) = notify
        && w.fds.add(ev, fd, Role::Notify { id, inst }, Interest::Read).is_err()
    {
        say(b"svc: fd table full: a notify socket is dropped\n");
    }
    // The write ends now live in the child only.
    if let Some((rd, _wr)) = log {
        let _ = os::socket::set_nonblocking(&rd);
        let role = if probe {
            w.logs.probe_fresh |= 1u64 << id;
            Role::Probe { id, inst }
        } else {
            Role::Log { id, inst }
        };
        if w.fds.add(ev, rd, role, Interest::Read).is_err() {
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

/// Reads a probe's output into its service's buffer (the first
/// PROBE_OUTPUT_BYTES of the run); false at EOF or when nothing was there.
fn read_probe(w: &mut World, ev: &Events, k: usize, id: u8) -> bool {
    let Some(fd) = w.fds.fd(k) else { return false };
    // An error counts as the end.
    let n = match os::fd::read_some(fd, &mut w.logs.scratch) {
        Ok(None) => return false,
        Ok(Some(n)) => n,
        Err(_) => 0,
    };
    let fresh = w.logs.probe_fresh & (1u64 << id) != 0;
    // A run's first bytes (or its end without any) replace the last run's.
    w.logs.probe_fresh &= !(1u64 << id);
    let Some(b) = w.logs.probes.get_mut(usize::from(id)) else { return false };
    if fresh {
        b.clear();
    }
    if n == 0 {
        w.fds.close(ev, k);
        return false;
    }
    b.push(w.logs.scratch.get(..n).unwrap_or(&[]));
    true
}

/// Reads what a probe's pipe still holds (bounded).
fn drain_probe(w: &mut World, ev: &Events, k: usize, id: u8) {
    for _ in 0..4 {
        if !read_probe(w, ev, k, id) {
            break;
        }
    }
}

/// The instance is gone: drain and close its log pipe, close its ready pipe.
fn ended(w: &mut World, ev: &Events, id: u8, inst: u8) {
    if let Some(k) = w.fds.find(Role::Probe { id, inst }) {
        w.fds.close(ev, k);
    }
    if let Some(k) = w.fds.find(Role::Ready { id, inst }) {
        w.fds.close(ev, k);
    }
    if let Some(k) = w.fds.find(Role::Notify { id, inst }) {
        w.fds.close(ev, k);
        let mut p = Buf::<UNIX_PATH_BYTES>::new();
        notify_path(w, id, inst, &mut p);
        os::listen::unlink(p.as_bytes());
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
    sink(w, id, inst, Src::Feed(n));
    if n < LOG_READ_BYTES {
        // The pipe is drained: output without a newline (a prompt, a
        // progress dot) goes out as a line now rather than wait.
        sink(w, id, inst, Src::Flush);
    }
    true
}

/// What `sink` turns into log lines.
#[derive(Clone, Copy)]
enum Src {
    /// This many bytes of the scratch buffer.
    Feed(usize),
    /// The instance's pending partial line.
    Flush,
    /// The service's last probe output, each line prefixed `probe: `.
    Probe,
}

/// Turns `src` into lines for the service's log target and followers.
fn sink(w: &mut World, id: u8, inst: u8, src: Src) {
    let stamp = Stamp(clock::wall_ms());
    let World { logs, clients, sup, .. } = w;
    let Logs { pool, rings, asm, scratch, drops, files, probes, .. } = logs;
    let def = sup.svcs.get(usize::from(id)).filter(|s| !s.removed).and_then(|_| sup.def(usize::from(id)));
    let name = sup.name(usize::from(id));
    let cfg = &sup.cfg;
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
                (Some(f), Some(p)) => {
                    let mut rec = ring::Record::new();
                    ring::record(stamp, line, &mut rec);
                    logfile::write_line(f, p, u64::from(size), keep, rec.as_bytes()).is_ok()
                }
                _ => false,
            },
            Log::Console => {
                let mut rec = ring::Record::new();
                ring::console_record(name, line, &mut rec);
                logfile::console(rec.as_bytes()).is_ok()
            }
            Log::Null => true,
        };
        if !ok {
            dropped = dropped.saturating_add(1);
        }
        control::publish(clients, id, name, stamp, line);
    };
    match src {
        Src::Flush => a.flush(&mut each),
        Src::Feed(n) => a.feed(scratch.get(..n).unwrap_or(&[]), &mut each),
        Src::Probe => {
            let out = probes.get(usize::from(id)).map_or(&[][..], |b| b.as_bytes());
            for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let mut b = Buf::<{ PROBE_OUTPUT_BYTES + 8 }>::new();
                b.push(b"probe: ");
                b.push(line);
                each(b.as_bytes());
            }
        }
    }
    if let Some(d) = drops.get_mut(usize::from(id)) {
        *d = d.saturating_add(dropped);
    }
}

fn flush_log(w: &mut World, id: u8, inst: u8) {
    sink(w, id, inst, Src::Flush);
}

/// The ready pipe: a newline means ready; EOF without one means never.
fn read_ready(w: &mut World, ev: &Events, k: usize, id: u8, inst: u8, now: Instant, out: &mut Actions) {
    let mut b = [0u8; 64];
    let Some(fd) = w.fds.fd(k) else { return };
    match os::fd::read_some(fd, &mut b) {
        Ok(Some(n)) if n > 0 => {
            if b.get(..n).is_some_and(|s| s.contains(&b'\n')) {
                w.sup.handle(SupEvent::Ready { id, inst }, now, out);
                w.fds.close(ev, k);
            }
        }
        Ok(None) => {}
        _ => w.fds.close(ev, k),
    }
}

/// `DIR/ID.INST`: the notify socket of instance `inst` of slot `id`.
fn notify_path(w: &World, id: u8, inst: u8, b: &mut Buf<UNIX_PATH_BYTES>) {
    b.push(w.notify_dir.as_bytes());
    let _ = ufmt::uwrite!(b, "/{}.{}", id, inst);
}

/// An instance's sd_notify environment: NOTIFY_SOCKET, and with a watchdog
/// WATCHDOG_USEC and WATCHDOG_PID (its digits written by the child).
struct NotifyEnv {
    socket: Buf<{ 16 + UNIX_PATH_BYTES }>,
    usec: Buf<40>,
    pid: [u8; 24],
}

impl NotifyEnv {
    const PREFIX: &'static [u8] = b"NOTIFY_SOCKET=";
    const PID_PREFIX: &'static [u8] = b"WATCHDOG_PID=";
    const fn new() -> Self {
        NotifyEnv { socket: Buf::new(), usec: Buf::new(), pid: [0; 24] }
    }
    /// The socket's path (after the prefix, before the NUL).
    fn path(&self) -> &[u8] {
        let b = self.socket.as_bytes();
        b.get(Self::PREFIX.len()..b.len().saturating_sub(1)).unwrap_or(&[])
    }
    /// Binds the instance's socket (making the directory first) and fills the entries.
    fn fill(
        &mut self,
        w: &World,
        id: u8,
        inst: u8,
        uid: Option<u32>,
        dog: crate::duration::Duration,
    ) -> Result<rustix::fd::OwnedFd, rustix::io::Errno> {
        let mut p = Buf::<UNIX_PATH_BYTES>::new();
        notify_path(w, id, inst, &mut p);
        let mut dir = [0u8; UNIX_PATH_BYTES + 1];
        let dir = os::fd::cpath(w.notify_dir.as_bytes(), &mut dir).ok_or(rustix::io::Errno::NAMETOOLONG)?;
        os::notify::make_dir(dir)?;
        if p.was_cut() {
            return Err(rustix::io::Errno::NAMETOOLONG);
        }
        let fd = os::listen::bind_notify(p.as_bytes(), uid)?;
        self.socket.push(Self::PREFIX);
        self.socket.push(p.as_bytes());
        self.socket.push(b"\0");
        let _ = ufmt::uwrite!(self.usec, "WATCHDOG_USEC={}000\0", dog.as_millis());
        for (d, s) in self.pid.iter_mut().zip(Self::PID_PREFIX) {
            *d = *s;
        }
        Ok(fd)
    }
}

/// Reads the datagrams queued on an instance's notify socket. One is
/// accepted when its sender is in the instance's session (svc made the
/// instance a session leader, so the session id is its main pid); any
/// other, and a malformed one, is dropped and counted. Fds it carried are
/// closed once it is handled (systemd-notify's BARRIER=1 waits for that).
fn read_notify(w: &mut World, k: usize, id: u8, inst: u8, now: Instant, out: &mut Actions) {
    // Bounded per wakeup; epoll reports the socket again while more is queued.
    for _ in 0..32 {
        let Some(fd) = w.fds.fd(k) else { return };
        let Some(d) = os::notify::receive(fd, &mut w.logs.scratch) else { return };
        let main = w.sup.svcs.get(usize::from(id)).and_then(|s| s.inst.get(usize::from(inst))).and_then(|i| i.map(|i| i.pid)).unwrap_or(0);
        let data = w.logs.scratch.get(..d.len).unwrap_or(&[]);
        let ok = !d.cut
            && crate::notify::check(data).is_ok()
            && main > 0
            && d.pid > 0
            && (d.pid == main || os::notify::session(d.pid) == Some(main));
        let Some(said) = w.sup.said.get_mut(usize::from(id)) else { return };
        if !ok {
            said.dropped = said.dropped.saturating_add(1);
            continue;
        }
        for item in crate::notify::items(data) {
            use crate::notify::Item;
            let what = match item {
                Item::Say(what) => what,
                Item::Status(t) => {
                    if let Some(said) = w.sup.said.get_mut(usize::from(id)) {
                        said.status.clear();
                        said.status.push(t);
                    }
                    continue;
                }
                Item::Errno(e) => {
                    if let Some(said) = w.sup.said.get_mut(usize::from(id)) {
                        said.errno = e;
                    }
                    continue;
                }
                // Not tracked: the instance's main pid stays the process svc started.
                Item::MainPid(_) => continue,
            };
            w.sup.handle(SupEvent::Notify { id, inst, what }, now, out);
        }
        drop(d);
    }
}

/// Reaps every child that exited. A child that was no service's main
/// process is an orphan svc adopted: it is named in the log.
fn reap(w: &mut World, now: Instant, out: &mut Actions) {
    // Bounded by the number of children; each round reaps one.
    for _ in 0..100_000 {
        let Some(pid) = os::process::exited_child() else { return };
        let mut comm = [0u8; 32];
        let comm_len = if w.sup.is_instance(pid) { 0 } else { os::process::comm(pid, &mut comm) };
        let Some(exit) = os::process::reap(pid) else { return };
        if w.sup.handle(SupEvent::Exited { pid, exit }, now, out) == Outcome::Orphan {
            let mut b = Buf::<128>::new();
            let _ = ufmt::uwrite!(b, "svc: reaped orphan {} ({})\n", pid, Bytes(comm.get(..comm_len).unwrap_or(&[])));
            say(b.as_bytes());
        }
    }
}
