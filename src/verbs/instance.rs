//! What svc does for one instance besides the supervisor's bookkeeping:
//! spawning it (argv, environment, sockets, log and ready pipes, notify
//! socket; a readiness probe the same way), reading its readiness channels
//! (an s6-style fd, sd_notify datagrams), and closing what it held when it
//! ends.

use crate::config::{Log, Ready};
use crate::duration::Instant;
use crate::limits::*;
use crate::order::bit;
use crate::os::event::{Events, Interest};
use crate::os::{self, spawn};
use crate::pin;
use crate::service::Step;
use crate::supervisor::Event as SupEvent;
use crate::text::Buf;
use crate::verbs::output::{drain_probe, flush_log, read_log};
use crate::verbs::release;
use crate::verbs::sockets;

use crate::verbs::world::{Role, World};
use core::ffi::c_char;

/// Forks and execs instance `inst` of service `id` with its pipes, its
/// pinned release (`release::choose`) as program path, argv[0] and cwd: its
/// pid and the release. With `probe`, its `ready = exec:` probe instead, as
/// the service runs (user, cwd, rlimits, environment) plus `SVC_PID`, the
/// instance's main pid; no sockets; output into a pipe whose bytes are kept
/// in `Logs::probes`.
pub(super) fn start(w: &mut World, ev: &Events, id: u8, inst: u8, probe: bool) -> Result<(i32, u8), spawn::Failure> {
    let fail = |e: rustix::io::Errno| spawn::Failure { step: Step::Fork, errno: e.raw_os_error() };
    if probe && let Some(k) = w.fds.find(Role::Probe { id, inst }) {
        // The last run's pipe goes first (something it started may hold it open).
        drain_probe(w, ev, k, id);
        w.fds.close(ev, k);
    }
    let main = w.sup.svcs.get(usize::from(id)).and_then(|s| s.inst.get(usize::from(inst))).and_then(|i| i.map(|i| i.pid)).unwrap_or(0);
    if !probe {
        sockets::bind_missing(w, usize::from(id)).map_err(|e| spawn::Failure { step: Step::Listen, errno: e.raw_os_error() })?;
    }
    let rel = if probe { pin::NONE } else { release::choose(w, id) };
    // Borrowed, not copied, after the calls that change `w`.
    let Some(def) = w.sup.def(usize::from(id)) else {
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
    let pinned = w.sup.pins.get(usize::from(id), rel);
    if let (Some(p), Some((prog, _))) = (argv.first_mut(), pinned) {
        *p = prog.as_ptr().cast();
    }
    let mut nenv = NotifyEnv::new();
    let notify = match def.ready {
        Ready::Notify => Some(nenv.fill(w, id, inst, def.uid, def.watchdog).map_err(fail)?),
        _ => None,
    };
    let socks = if probe { heapless::Vec::new() } else { sockets::of(&w.sup, &w.fds, usize::from(id)) };
    let generation = w.sup.svcs.get(usize::from(id)).map_or(1, |s| s.spawns.saturating_add(1));
    let with_socks = w.socks.env.fill(&w.sup, usize::from(id), socks.len(), generation);
    let listen_pid =
        if with_socks { w.socks.env.pid.as_mut_ptr().wrapping_add(sockets::Env::PID_PREFIX.len()) } else { core::ptr::null_mut() };
    let senv = &w.socks.env;
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
    let nn = if notify.is_none() {
        0
    } else if def.watchdog.as_millis() > 0 {
        3
    } else {
        1
    };
    let (skip, take) = if probe { (8, 9) } else { (if with_socks { 0 } else { 5 }, 5 + nn) };
    // The service's own entries, then the extras (the last slot stays null).
    let own = cfg.list(def.env);
    for (i, p) in envp.iter_mut().enumerate().take(MAX_ENV + 8) {
        let k = (skip + i).wrapping_sub(own.len());
        *p = match own.get(i) {
            Some(s) => cfg.strz(*s).as_ptr().cast(),
            None if k < take => extra.get(k).copied().unwrap_or(core::ptr::null()),
            None => core::ptr::null(),
        };
    }
    let cwd = match pinned {
        Some((_, c)) if c.len() > 1 => crate::text::cstr(c),
        _ => def.cwd.and_then(|s| crate::text::cstr(cfg.strz(s))),
    };
    // Output: a pipe into the ring, or /dev/null.
    let log = match def.log {
        Log::Null if !probe => None,
        _ => Some(os::fd::pipe().map_err(fail)?),
    };
    let ready = match def.ready {
        Ready::Fd(n) => Some((os::fd::pipe().map_err(fail)?, n)),
        _ => None,
    };
    // The child writes its oom_score_adj when svc changed its own (to -1000,
    // which must not reach a service) or the service asks for one.
    let mut oom = Buf::<8>::new();
    if w.oom_own || def.oom_score_adj != 0 {
        // (The sign by hand: an i16 in ufmt would link its isize code.)
        if def.oom_score_adj < 0 {
            oom.push(b"-");
        }
        let _ = ufmt::uwrite!(oom, "{}", u32::from(def.oom_score_adj.unsigned_abs()));
    }
    let spec = spawn::Spec {
        argv: &argv,
        envp: &envp,
        cwd,
        uid: def.uid,
        gid: def.gid,
        groups: cfg.groups(def.groups),
        rlimits: def.rlimits,
        stdin: devnull,
        output: log.as_ref().map_or(devnull, |(_, wr)| os::fd::borrowed(wr)),
        ready: ready.as_ref().map(|((_, wr), n)| (os::fd::borrowed(wr), *n)),
        listen: &socks,
        listen_pid,
        oom: if oom.is_empty() { None } else { Some(oom.as_bytes()) },
        watchdog_pid: if nn == 3 { nenv.pid.as_mut_ptr().wrapping_add(NotifyEnv::PID_PREFIX.len()) } else { core::ptr::null_mut() },
        tty: false,
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
        os::fd::write_err(b"svc: fd table full: a notify socket is dropped\n");
    }
    // The write ends now live in the child only.
    if let Some((rd, _wr)) = log {
        let _ = os::socket::set_nonblocking(os::fd::borrowed(&rd));
        let role = if probe {
            w.logs.probe_fresh |= bit(usize::from(id));
            Role::Probe { id, inst }
        } else {
            Role::Log { id, inst }
        };
        if w.fds.add(ev, rd, role, Interest::Read).is_err() {
            os::fd::write_err(b"svc: fd table full: a log pipe is dropped\n");
        }
    }
    if let Some(((rd, _wr), _)) = ready {
        let _ = os::socket::set_nonblocking(os::fd::borrowed(&rd));
        if w.fds.add(ev, rd, Role::Ready { id, inst }, Interest::Read).is_err() {
            os::fd::write_err(b"svc: fd table full: a ready pipe is dropped\n");
        }
    }
    Ok((pid, rel))
}

/// The instance is gone: drain and close its log pipe, close its ready pipe.
pub(super) fn ended(w: &mut World, ev: &Events, id: u8, inst: u8) {
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

/// `DIR/ID.INST`: the notify socket of instance `inst` of slot `id`.
pub(super) fn notify_path(w: &World, id: u8, inst: u8, b: &mut Buf<UNIX_PATH_BYTES>) {
    b.push(w.notify_dir.as_bytes());
    let _ = ufmt::uwrite!(b, "/{}.{}", u32::from(id), u32::from(inst));
}

/// An instance's sd_notify environment: NOTIFY_SOCKET, and with a watchdog
/// WATCHDOG_USEC and WATCHDOG_PID (its digits written by the child).
pub(super) struct NotifyEnv {
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

/// The ready pipe: a newline means ready; EOF without one means never.
pub(super) fn read_ready(w: &mut World, ev: &Events, k: usize, id: u8, inst: u8, now: Instant) {
    let mut b = [0u8; 64];
    let Some(fd) = w.fds.fd(k) else { return };
    match os::fd::read_some(fd, &mut b) {
        Ok(Some(n)) if n > 0 => {
            if b.get(..n).is_some_and(|s| s.contains(&b'\n')) {
                w.sup.handle(SupEvent::Ready { id, inst }, now, &mut w.out);
                w.fds.close(ev, k);
            }
        }
        Ok(None) => {}
        _ => w.fds.close(ev, k),
    }
}

/// Reads the datagrams queued on an instance's notify socket. One is
/// accepted when its sender is in the instance's session (svc made the
/// instance a session leader, so the session id is its main pid); any
/// other, and a malformed one, is dropped and counted. Fds it carried are
/// closed once it is handled (systemd-notify's BARRIER=1 waits for that).
#[inline(never)]
pub(super) fn read_notify(w: &mut World, k: usize, id: u8, inst: u8, now: Instant) {
    // Bounded per wakeup; epoll reports the socket again while more is queued.
    for _ in 0..32 {
        let Some(fd) = w.fds.fd(k) else { return };
        let Some(d) = os::notify::receive(fd, &mut w.logs.scratch) else { return };
        let instance = w.sup.svcs.get(usize::from(id)).and_then(|s| s.inst.get(usize::from(inst))).and_then(|i| *i);
        let (main, session) = instance.map_or((0, 0), |i| (i.pid, i.session));
        let data = w.logs.scratch.get(..d.len).unwrap_or(&[]);
        let ours = |pid: i32| pid > 0 && session > 0 && (pid == main || pid == session || os::notify::session(pid) == Some(session));
        let ok = !d.cut && crate::notify::check(data).is_ok() && ours(d.pid);
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
                // Accepted only for a process of the instance's session.
                Item::MainPid(pid) if ours(pid) => crate::service::Notice::MainPid(pid),
                Item::MainPid(_) => {
                    if let Some(said) = w.sup.said.get_mut(usize::from(id)) {
                        said.dropped = said.dropped.saturating_add(1);
                    }
                    continue;
                }
            };
            w.sup.handle(SupEvent::Notify { id, inst, what }, now, &mut w.out);
        }
        drop(d);
    }
}
