//! `svc up`: the event loop joining the Supervisor and os/. One epoll set
//! over the fd table (signalfd, control socket, clients, every instance's
//! log pipe and ready pipe) and one timerfd armed at the next deadline;
//! what happens becomes a supervisor event, and its actions are performed
//! here, their failures handed back as events.

use crate::cli::{Command, EXIT_FAIL, EXIT_OK};
use crate::duration::{Duration, Instant};
use crate::init::cmdline_value;
use crate::limits::*;
use crate::order::bit;
use crate::os::event::{Event, Events, Interest};
use crate::os::init::Init;
use crate::os::{self, clock, signal, spawn};
use crate::service::Action;
use crate::signame;
use crate::supervisor::{Event as SupEvent, Outcome};
use crate::text::{Buf, Bytes, Errno};
use crate::verbs::check;
use crate::verbs::control;
use crate::verbs::emergency;
use crate::verbs::instance::{ended, read_notify, read_ready, start};
use crate::verbs::leftover;
use crate::verbs::output::{Src, read_log, read_probe, sink};
use crate::verbs::power;
use crate::verbs::recover;
use crate::verbs::reexec;
use crate::verbs::reload::{assign, reload, restore, rings_fit};
use crate::verbs::sockets;
use crate::verbs::world::{Role, WORLD, World};
use core::mem::ManuallyDrop;

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
    os::fd::say(&b);
}

// Out of line, so that no client verb's buffers share its stack frame.
/// `cmdline`: the kernel command line, when svc is PID 1. Then no failure
/// returns from here: each step that fails falls back to what still works
/// (verbs/emergency.rs).
#[inline(never)]
pub fn up(cmd: &Command<'static>, cmdline: Option<&'static [u8]>) -> i32 {
    let Some(w) = WORLD.take() else { return EXIT_FAIL };
    let init = Init::get();
    // `-c`, else `svc.config=` of the kernel command line (PID 1), else
    // $SVC_CONFIG, else /etc/svc.conf.
    let path = cmd.config().or(cmdline.and_then(|l| cmdline_value(l, b"svc.config"))).unwrap_or_else(|| check::config_path(cmd));
    w.config_path = Some(path);
    // After a crash, the re-execs in a row and when the first of them was.
    let (again, since) = crate::cli::again(cmd.again(), clock::now().as_millis() as u32);
    if again >= MAX_AGAIN {
        // A crash loop: neither the config nor anything of the crashed
        // image is touched again. As PID 1, a reaper with the emergency
        // shell; otherwise svc exits, for the init above it to restart.
        // (The message is a literal: no number formatting on this path.)
        const _: () = assert!(MAX_AGAIN == 3 && AGAIN_WINDOW_MS == 60_000, "say the new limits");
        say(b"svc: 3 re-execs within 60s: giving up\n");
        return emergency::last(w, cmdline);
    }
    os::crash::arm(cmd.config(), again, since);
    // A unix socket's path fits sun_path; a longer one is refused here.
    let mut pbuf = [0u8; UNIX_PATH_BYTES];
    // Exec'd by `svc reexec`: the old image's state, its config text
    // included (the file may have changed since). (A state that cannot be
    // read re-executes svc as after a crash.)
    if let Some(fd) = cmd.state() {
        reexec::decode(w, fd);
    }
    let state = cmd.state().is_some();
    let recovering = cmd.again().is_some();
    let mut usable = state || check::load(path, &mut w.loader, &mut w.sup.cfg);
    if usable && !rings_fit(&w.sup.cfg) {
        say(b"svc: log rings exceed the ring pool\n");
        usable = false;
    }
    if usable {
        if !state {
            w.loader.commit();
        }
        emergency::hostname(w);
    } else {
        if !emergency::enter(w, cmdline) {
            return EXIT_FAIL;
        }
        // No service runs until a reload brings a config that works. What
        // of `[svc]` parsed stays: clients find the control socket by it.
        w.sup.cfg.defs.clear();
        w.sup.cfg.listens.clear();
    }
    if recovering {
        recover::fds(w);
    }
    // As PID 1 (root, a control path checked by the parser) it cannot fail.
    let Some(control) = control::server_path(&w.sup.cfg, &mut pbuf) else { return EXIT_FAIL };
    // The notify sockets' directory: `svc-notify` beside the control socket.
    let c = control.to_bytes();
    w.notify_dir.push(c.get(..c.iter().rposition(|&b| b == b'/').unwrap_or(0)).unwrap_or(&[]));
    w.notify_dir.push(b"/svc-notify");
    let events = Events::new().map_err(|e| say_errno("cannot create epoll or timerfd", e));
    // Without a signalfd, pending signals are still taken (signal::next),
    // once a second. (The mask is set either way.) The fds made here are
    // never closed by a drop: svc exits (or, as PID 1, never returns) once
    // `up` is done, and a drop at each way out costs code.
    let sigfd = ManuallyDrop::new(signal::take(init.is_some()).map_err(|e| say_errno("cannot set up signals (signalfd)", e)).ok());
    let poll = sigfd.is_none();
    let Ok(ev) = events else { return emergency::last(w, cmdline) };
    let mut ev = ManuallyDrop::new(ev);
    if init.is_none() {
        // Orphans of our services become our children, to be reaped.
        let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
        // An OOM on a small box must not take the supervisor (as PID 1 the
        // kernel never picks it anyway).
        if os::process::euid() == 0 {
            match spawn::set_own_oom() {
                Ok(()) => w.oom_own = true,
                Err(e) => say_errno("cannot set oom_score_adj to -1000", e),
            }
        }
    }
    if let Some(p) = os::process::getenv(c"NOTIFY_SOCKET") {
        w.notify_self.push(p);
    }
    spawn::probe_close_range(os::process::getenv(c"SVC_FALLBACK") == Some(b"1"));
    // Without it, every spawn fails (NOTE `fds: EBADF`).
    let devnull = ManuallyDrop::new(os::fd::open(c"/dev/null", libc::O_RDWR, 0).map_err(|e| say_errno("cannot open /dev/null", e)).ok());
    // Held from the start, so that svc out of fds can still answer (control::accept).
    control::spare(w);
    w.group = w.sup.cfg.control_gid;
    // The old image's fds: its control socket among them.
    if state {
        reexec::adopt(w, &ev, clock::now());
    }
    let kept = w.fds.find(Role::Control).is_some();
    // Without it, no client is answered; SIGHUP still reloads.
    let listener = ManuallyDrop::new(match os::socket::bind_control(control, w.group) {
        _ if kept => None,
        Ok(fd) => Some(fd),
        Err(e) => {
            let mut b = Buf::<512>::new();
            let c = Bytes(control.to_bytes());
            let _ = match e {
                os::socket::BindError::Running => ufmt::uwrite!(b, "svc: already running (control socket {})\n", c),
                _ => ufmt::uwrite!(b, "svc: control socket {}: ", c),
            };
            let _ = match e {
                os::socket::BindError::Os(e) => ufmt::uwrite!(b, "{}\n", Errno(e.raw_os_error())),
                os::socket::BindError::Occupied => ufmt::uwrite!(b, "something else is at this path\n"),
                os::socket::BindError::Running => Ok(()),
            };
            os::fd::say(&b);
            None
        }
    });
    // A step above failed: as PID 1 svc goes on without it; otherwise it
    // exits, before any service's socket is bound (a control socket it
    // made is left, and taken as stale at the next start).
    if (poll || devnull.is_none() || (listener.is_none() && !kept)) && !emergency::enter(w, cmdline) {
        return EXIT_FAIL;
    }
    // What a previous svc killed by SIGKILL left running holds the sockets
    // and would run beside the services started now. (After a crash, what
    // runs is svc's own, adopted below.)
    if !recovering && !state {
        leftover::stop(w);
    }
    // Before any service starts: a port that cannot be had is an error now.
    if !sockets::bind_all(w, init.is_some()) {
        return EXIT_FAIL;
    }
    // (What failed above is None, and was said.)
    let mut held = ev.add(ev.timer(), TOK_TIMER, Interest::Read).is_ok();
    held &= ManuallyDrop::into_inner(sigfd).is_none_or(|fd| w.fds.add(&ev, fd, Role::Signals, Interest::Read).is_ok());
    held &= ManuallyDrop::into_inner(listener).is_none_or(|fd| w.fds.add(&ev, fd, Role::Control, Interest::Read).is_ok());
    held &= ManuallyDrop::into_inner(devnull).is_none_or(|fd| w.fds.hold(fd, Role::Null).is_ok());
    if !held {
        say(b"svc: cannot watch the signalfd, timerfd and control socket\n");
        if !emergency::enter(w, cmdline) {
            return EXIT_FAIL;
        }
    }
    if !w.shell_path.is_empty() {
        emergency::start(w);
    }
    if !state {
        w.sup.load();
    }
    for id in 0..w.sup.svcs.len() {
        assign(w, id as u8);
    }
    let now = clock::now();
    if recovering {
        recover::adopt(w, &ev, now);
    }
    if recovering || state {
        // Exits during the re-exec: one SIGCHLD may stand for many, or none.
        reap(w, now);
    }
    w.sup.handle(SupEvent::Tick, now, &mut w.out);
    if perform(w, &ev, now) {
        return finished(w);
    }
    tell_init(w);
    sockets::watch(w, &ev);
    let mut events = [Event { flags: rustix::event::epoll::EventFlags::empty(), data: rustix::event::epoll::EventData::new_u64(0) }; 32];
    let mut wait_failed = false;
    loop {
        let deadline = crate::service::earliest(w.sup.next_deadline(), w.clients.next_deadline());
        let deadline = crate::service::earliest(deadline, power::deadline(w));
        let deadline = crate::service::earliest(deadline, w.shell_at);
        let deadline = crate::service::earliest(deadline, reexec::deadline(w));
        // Without a signalfd, a look at pending signals each second.
        ev.arm(crate::service::earliest(deadline, poll.then(|| clock::now() + Duration::from_secs(1))));
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
                os::init::pause_ms(1000);
                0
            }
        };
        let now = clock::now();
        let batch = events.get(..n).unwrap_or(&[]);
        // Signals first: reap before reading the control socket, so that a
        // `status` sent right after a crash never reports the dead pid.
        signals(w, &ev, now);
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
                Role::Ready { id, inst } => read_ready(w, &ev, k, id, inst, now),
                Role::Notify { id, inst } => read_notify(w, k, id, inst, now),
                Role::Probe { id, .. } => {
                    read_probe(w, &ev, k, id);
                }
                Role::Client(c) => {
                    control::ready(w, &ev, usize::from(c), now);
                    // A request's actions (a spawn) are done before the next
                    // request of the same wakeup is read: a `status` never
                    // shows an instance that is asked for but not forked yet.
                    if perform(w, &ev, now) {
                        return finished(w);
                    }
                }
                Role::Listen { n } => {
                    if let Some(id) = w.sup.listener(usize::from(n)) {
                        w.sup.handle(SupEvent::Connection { id }, now, &mut w.out);
                    }
                }
                Role::Signals | Role::Null | Role::Kept | Role::Free => {}
            }
        }
        w.sup.handle(SupEvent::Tick, now, &mut w.out);
        if perform(w, &ev, now) || power::due(w, now) {
            return finished(w);
        }
        tell_init(w);
        emergency::due(w, now);
        reexec::tick(w, &ev, now);
        sockets::watch(w, &ev);
        control::progress(w, &ev, now);
        control::flush_followers(w, &ev);
    }
}

/// Under systemd (`NOTIFY_SOCKET` set for svc itself): READY=1 once every
/// service has had its first outcome, STOPPING=1 when a shutdown begins.
fn tell_init(w: &mut World) {
    if w.notify_self.is_empty() {
        return;
    }
    let (bit, msg): (u8, &[u8]) = if w.sup.shutdown {
        (2, b"STOPPING=1")
    } else if w.notify_sent & 1 == 0 && w.sup.first_outcomes() {
        (1, b"READY=1")
    } else {
        return;
    };
    if w.notify_sent & bit == 0 {
        w.notify_sent |= bit;
        // A socket that is gone or full drops it: the init that set
        // NOTIFY_SOCKET then times out, which says it.
        let _ = os::listen::notify_init(w.notify_self.as_bytes(), msg);
    }
}

/// The services are down (or, as PID 1, their time is up): svc exits,
/// or as PID 1 ends the machine and never returns.
fn finished(w: &mut World) -> i32 {
    match Init::get() {
        Some(init) => power::finish(w, init),
        None => EXIT_OK,
    }
}

/// Reads every pending signal: SIGCHLD reaps, HUP reloads; TERM, INT and
/// QUIT shut svc down, but as PID 1 busybox init's meanings hold (TERM and
/// INT reboot, USR1 halts, USR2 and PWR power off, QUIT re-executes).
#[inline(never)]
fn signals(w: &mut World, ev: &Events, now: Instant) {
    // Bounded: the signalfd holds at most one of each pending signal.
    for _ in 0..64 {
        let Some(sig) = signal::next() else { return };
        let pid1 = os::process::pid() == 1;
        // Test builds only: USR1 panics, USR2 faults (tests/crash.rs).
        #[cfg(feature = "crashtest")]
        match sig {
            signame::USR1 => panic!(),
            signame::USR2 => os::crash::fault(),
            _ => {}
        }
        match sig {
            signame::CHLD => reap(w, now),
            signame::HUP => {
                say(b"svc: SIGHUP: reloading\n");
                if let Err(r) = reload(w, ev, now, false, false) {
                    let mut b = Buf::<160>::new();
                    let _ = ufmt::uwrite!(b, "svc: reload: {}\n", r.text());
                    os::fd::say(&b);
                }
            }
            signame::QUIT if pid1 => reexec::start(w, ev, None, now),
            _ if pid1 => {
                if let Some(p) = crate::init::Power::of_signal(sig) {
                    power::request(w, p, now);
                }
            }
            signame::TERM | signame::INT | signame::QUIT => {
                w.sup.handle(SupEvent::Shutdown, now, &mut w.out);
            }
            _ => {}
        }
    }
}

/// Performs the supervisor's actions until none are left; what fails goes
/// back to the supervisor as an event. True on Exit.
#[inline(never)]
fn perform(w: &mut World, ev: &Events, now: Instant) -> bool {
    // First in, first out, in place (a copy of the list would cost its size
    // in stack). Bounded: what an action causes is a few actions more, and a
    // service starts at most once per round of them.
    for _ in 0..=(MAX_SERVICES * 2 * MAX_ACTIONS) {
        let Some(&a) = w.out.first() else { return false };
        crate::service::drop_front(&mut w.out, 1);
        {
            let event = match a {
                Action::Spawn { id, inst } => Some(match start(w, ev, id, inst, false) {
                    Ok((pid, rel)) => SupEvent::Spawned { id, inst, pid, rel },
                    Err(f) => SupEvent::SpawnFailed { id, inst, step: f.step, errno: f.errno },
                }),
                Action::Probe { id, inst } => Some(match start(w, ev, id, inst, true) {
                    Ok((pid, _)) => SupEvent::ProbeSpawned { id, inst, pid },
                    Err(f) => {
                        // Why, in place of the run's output.
                        if let Some(b) = w.logs.probes.get_mut(usize::from(id)) {
                            b.clear();
                            let _ = ufmt::uwrite!(b, "{}: {}", f.step, Errno(f.errno));
                        }
                        w.logs.probe_fresh &= !bit(usize::from(id));
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
                Action::Exit => {
                    tell_init(w);
                    return true;
                }
            };
            if let Some(e) = event {
                w.sup.handle(e, now, &mut w.out);
            }
        }
    }
    false
}

/// `kill` the group, or the main pid if the group is gone, then SIGCONT so
/// that a stopped process sees the signal. Signal 0 asks about the group only,
/// and so does a pid below -1: the group of -pid, whose leader is reaped (the
/// pid alone may be another process's by now).
pub(super) fn send(pid: i32, sig: u8, group: bool) -> Result<(), rustix::io::Errno> {
    if pid <= 0 {
        return if pid < -1 { signal::send(-pid, sig, true) } else { Ok(()) };
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

/// Reaps every child that exited. A child that was no service's main
/// process is an orphan svc adopted: it is named in the log.
#[inline(never)]
fn reap(w: &mut World, now: Instant) {
    // Bounded by the number of children; each round reaps one.
    for _ in 0..100_000 {
        let Some(pid) = os::process::exited_child() else { return };
        // What the instance said before it exited counts first (a launcher
        // that sends MAINPID= and exits at once), as systemd reads it.
        for (id, s) in w.sup.svcs.iter().enumerate() {
            if let Some(inst) = s.instance_of(pid) {
                let (id, inst) = (id as u8, inst as u8);
                if let Some(k) = w.fds.find(Role::Notify { id, inst }) {
                    read_notify(w, k, id, inst, now);
                }
                break;
            }
        }
        let mut comm = [0u8; 32];
        let comm_len = if w.sup.is_instance(pid) { 0 } else { os::process::comm(pid, &mut comm) };
        let Some(exit) = os::process::reap(pid) else { return };
        if reexec::reaped(w, pid, exit) {
            continue;
        }
        // The emergency shell is no service: an orphan, with its own line.
        if w.sup.handle(SupEvent::Exited { pid, exit }, now, &mut w.out) == Outcome::Orphan && !emergency::exited(w, pid, now) {
            let mut b = Buf::<128>::new();
            let _ = ufmt::uwrite!(b, "svc: reaped orphan {} ({})\n", pid, Bytes(comm.get(..comm_len).unwrap_or(&[])));
            os::fd::say(&b);
        }
    }
}
