//! The server side of the control socket: accepting into client slots,
//! reading requests, carrying them out, and writing replies in chunks so
//! that a slow reader never blocks svc. What the slots hold and the reply
//! bodies are pure (clients.rs, reply.rs); this file does the I/O.

use crate::clients::{ALL, Job, Place};
use crate::duration::Instant;
use crate::init::Power;
use crate::limits::*;
use crate::order::bit;
use crate::os;
use crate::os::event::{Events, Interest};
use crate::os::fd::Slot;
use crate::proto::{self, EXIT_FAIL, EXIT_NOT_UP, EXIT_OK, EXIT_USAGE, Kind};
use crate::reply::{self, Data};
use crate::service::{Begin, Upgrade};
use crate::status;
use crate::supervisor::{Event, Outcome, Request as Ask};
use crate::text::{Buf, Bytes, Errno};
use crate::verbs::reload::Refused;
use crate::verbs::world::{Role, World};

pub use crate::clients::publish;

mod log;
mod path;
use log::log;
pub use path::{default_path, server_path};

/// Accepts waiting connections into free slots. With every slot taken, the
/// oldest connection that has not sent a whole request makes room, else the
/// reply stalled longest (`Clients::place`).
pub fn accept(w: &mut World, ev: &Events, listener: usize, now: Instant) {
    // The spare fd, lent to accept one client when svc is out of fds.
    let mut lent = false;
    'each: for _ in 0..MAX_CLIENTS {
        if !lent {
            spare(w);
        }
        let fd = match w.fds.fd(listener).map(os::socket::accept) {
            Some(Ok(fd)) => fd,
            // Out of fds, the connection would stay queued and the listener
            // readable: the loop would spin and the client wait. With the
            // spare closed, the next accept takes its number and the client
            // hears why.
            Some(Err(rustix::io::Errno::MFILE | rustix::io::Errno::NFILE)) if !lent => {
                drop(w.spare_fd.take());
                lent = true;
                continue;
            }
            _ => return,
        };
        let why: &[u8] = 'refuse: {
            if lent {
                break 'refuse b"1 busy: out of file descriptors\n";
            }
            let Some(owner) = os::socket::peer(os::fd::borrowed(&fd), w.group) else {
                break 'refuse b"1 permission denied\n";
            };
            let c = match w.clients.place() {
                Place::Free(c) => c,
                Place::Evict(c) => {
                    drop_client(w, ev, c);
                    c
                }
                Place::Busy => break 'refuse b"1 busy: too many control connections\n",
            };
            if let Ok(k) = w.fds.add(ev, fd, Role::Client(c as u8), Interest::Read)
                && let Some(cl) = w.clients.list.get_mut(c)
            {
                cl.open(k as u16, now);
                cl.owner = owner;
            }
            continue 'each;
        };
        let _ = os::fd::write_some(os::fd::borrowed(&fd), why);
        lent = false;
    }
}

/// Holds the spare fd (/dev/null) unless it is held already: lent to
/// `accept` when svc is out of fds, so that a client still hears why.
#[inline(never)]
pub fn spare(w: &mut World) {
    if w.spare_fd.is_empty() {
        w.spare_fd = os::fd::open(c"/dev/null", libc::O_RDONLY, 0).map_or(Slot::EMPTY, Slot::new);
    }
}

fn drop_client(w: &mut World, ev: &Events, c: usize) {
    if let Some(cl) = w.clients.list.get_mut(c) {
        w.fds.close(ev, usize::from(cl.fd));
        cl.free();
    }
    // (Not written when empty: a write keeps its page resident.)
    if let Some(file) = w.streams.get_mut(c).filter(|f| !f.is_empty()) {
        drop(file.take());
    }
}

/// The client's fd is readable or writable.
#[inline(never)]
pub fn ready(w: &mut World, ev: &Events, c: usize, now: Instant) {
    let Some(cl) = w.clients.list.get_mut(c) else { return };
    let Some(fd) = w.fds.fd(usize::from(cl.fd)) else { return };
    if cl.writing {
        pump(w, ev, c, now);
        return;
    }
    if !matches!(cl.job, Job::Read) {
        // A waiting client may only hang up; what else it sends is dropped.
        let mut sink = [0u8; 64];
        if let Ok(Some(0)) | Err(_) = os::fd::read_some(fd, &mut sink) {
            drop_client(w, ev, c);
        }
        return;
    }
    // Read in place: the request is parsed where it lies.
    let n = match os::fd::read_some(fd, cl.input.spare()) {
        Ok(Some(0)) | Err(_) => return drop_client(w, ev, c),
        Ok(None) => return,
        Ok(Some(n)) => n,
    };
    cl.input.grow(n);
    match ask(w, c) {
        Ok(None) => {}
        Ok(Some(a)) => handle(w, ev, c, &a, now),
        Err(()) => finish(w, ev, c, now),
    }
}

/// What `handle` needs of a request. The request itself lies in the
/// client's input, which `handle` cannot borrow beside all of `w`; a copy
/// of it would cost its 4 KiB of stack under every frame below.
struct Asked {
    kind: Kind,
    flags: u8,
    /// The named services' slots (every name is known).
    mask: u64,
    /// `signal`'s signal.
    sig: u8,
    /// `log`'s N.
    lines: Option<u32>,
}

/// Parses client `c`'s request where it lies (None: not all in yet). One
/// that cannot be carried out is refused: Err, its reply head written.
/// Out of line: the parsed request's 1 KiB is not under `handle`.
#[inline(never)]
fn ask(w: &mut World, c: usize) -> Result<Option<Asked>, ()> {
    let World { clients, sup, reexec, .. } = w;
    let Some(cl) = clients.list.get_mut(c) else { return Ok(None) };
    let (code, msg, word): (i32, &[u8], &[u8]) = match proto::parse(cl.input.as_bytes()) {
        Ok(None) => return Ok(None),
        Err(e) => (EXIT_USAGE, e.text().as_bytes(), b""),
        Ok(Some(req)) => {
            let arg = req.arg().unwrap_or(b"");
            let sig = crate::signame::parse(arg);
            match slots(sup, req.names()) {
                Err(name) => (EXIT_FAIL, b"unknown service", name),
                Ok(_) if req.kind == Kind::Signal && sig.is_none() => (EXIT_FAIL, b"bad signal", arg),
                Ok(mask) => 'ok: {
                    if req.kind == Kind::Reexec {
                        // The probe runs PATH as svc's user at once: root
                        // and that user alone may name one, by an absolute path.
                        if arg.first().is_some_and(|&b| b != b'/' || !cl.owner) {
                            break 'ok (EXIT_FAIL, b"refused: PATH must be absolute, from root or svc's user", b"");
                        }
                        // `reexec [PATH]`'s binary, where the reexec looks for
                        // it (not while one runs: a second one is refused).
                        if reexec.probe == 0 {
                            reexec.target.clear();
                            reexec.target.push(arg);
                        }
                    }
                    let (kind, flags, lines) = (req.kind, req.flags, req.lines());
                    return Ok(Some(Asked { kind, flags, mask, sig: sig.unwrap_or(0), lines }));
                }
            }
        }
    };
    proto::emit_head(code, msg, word, &mut cl.out);
    Err(())
}

/// Writes the reply head `CODE MESSAGE 'WORD'`.
fn head(w: &mut World, c: usize, code: i32, msg: &[u8], word: &[u8]) {
    if let Some(cl) = w.clients.list.get_mut(c) {
        proto::emit_head(code, msg, word, &mut cl.out);
    }
}

/// Writes the reply head of a success with nothing to say (`0`).
#[inline(never)]
fn ok(w: &mut World, c: usize) {
    head(w, c, EXIT_OK, b"", b"");
}

/// Writes the reply head `CODE MESSAGE 'NAME'` of service `id`.
fn head_of(w: &mut World, c: usize, code: i32, msg: &[u8], id: u8) {
    let World { clients, sup, .. } = w;
    if let Some(cl) = clients.list.get_mut(c) {
        proto::emit_head(code, msg, sup.name(usize::from(id)), &mut cl.out);
    }
}

fn set_job(w: &mut World, c: usize, job: Job) {
    if let Some(cl) = w.clients.list.get_mut(c) {
        cl.start(job);
    }
}

/// Sends what is left (a head, say) and closes.
fn finish(w: &mut World, ev: &Events, c: usize, now: Instant) {
    if let Some(cl) = w.clients.list.get_mut(c)
        && matches!(
            cl.job,
            Job::Read | Job::WaitDown { .. } | Job::WaitReload | Job::WaitSignal | Job::WaitUpgrade { .. } | Job::WaitReexec
        )
    {
        cl.start(Job::Close);
    }
    pump(w, ev, c, now);
}

/// Slots of the named services; the first unknown name on failure.
fn slots<'r>(sup: &crate::supervisor::Supervisor, names: &[&'r [u8]]) -> Result<u64, &'r [u8]> {
    let mut mask = 0u64;
    for n in names {
        let id = sup.find(n).ok_or(*n)?;
        mask |= bit(usize::from(id));
    }
    Ok(mask)
}

/// The lowest slot of `mask` (the one named, for the verbs that name one).
/// Out of line on i686, where a 64-bit trailing_zeros is two bsf and a
/// select (inlined twice it cost more than the calls; not elsewhere).
#[cfg_attr(target_arch = "x86", inline(never))]
fn first(mask: u64) -> Option<u8> {
    (mask != 0).then_some(mask.trailing_zeros() as u8)
}

fn handle(w: &mut World, ev: &Events, c: usize, req: &Asked, now: Instant) {
    let (mask, has) = (req.mask, |bit: u8| req.flags & bit != 0);
    // A stop or a reload waits for services: one of the long jobs, refused
    // when their share of the slots is taken rather than started.
    // (A bit per kind: a match compiles to a compare per kind.)
    const WAITS: u16 = 1 << Kind::Stop as u16 | 1 << Kind::Reload as u16 | 1 << Kind::Upgrade as u16 | 1 << Kind::Rollback as u16;
    let waits = WAITS >> req.kind as u16 & 1 != 0 && !(req.kind == Kind::Reload && has(proto::DRY_RUN));
    if waits && !w.clients.may_wait() {
        head(w, c, EXIT_FAIL, b"busy: too many waiting requests", b"");
        return finish(w, ev, c, now);
    }
    match req.kind {
        Kind::Status => {
            let all = mask == 0;
            let live = w.sup.live();
            let mask = if all { live } else { mask };
            let down = w.sup.svcs.iter().enumerate().any(|(i, s)| mask >> i & 1 != 0 && !s.state().is_up());
            head(w, c, if down && !all { EXIT_NOT_UP } else { EXIT_OK }, b"", b"");
            let json = has(proto::JSON);
            let width = status::name_width(&w.sup);
            if !json && let Some(cl) = w.clients.list.get_mut(c) {
                status::header(width, &mut cl.out);
            }
            set_job(w, c, Job::Status { next: 0, mask, width: width.min(255) as u8, json, long: has(proto::LONG) });
        }
        Kind::Start | Kind::Stop | Kind::Restart => {
            for id in 0..64u8 {
                if mask >> id & 1 == 0 {
                    continue;
                }
                let ask = match req.kind {
                    Kind::Start => Ask::Start(id),
                    Kind::Stop => Ask::Stop(id),
                    _ => Ask::Restart(id),
                };
                // (Only a restart can be busy.)
                if w.sup.handle(Event::Request(ask), now, &mut w.out) == Outcome::Begun(Begin::Busy) {
                    head_of(w, c, EXIT_FAIL, b"busy: upgrading", id);
                    return finish(w, ev, c, now);
                }
            }
            if req.kind == Kind::Stop {
                set_job(w, c, Job::WaitDown { mask });
                return;
            }
            ok(w, c);
            set_job(w, c, Job::Close);
        }
        Kind::Signal => {
            let (id, sig) = (first(mask).unwrap_or(0), req.sig);
            // Through the core; the reply waits for the kill (`signalled`).
            set_job(w, c, Job::WaitSignal);
            let r = Ask::Signal { id, sig, client: c as u8 };
            if w.sup.handle(Event::Request(r), now, &mut w.out) == Outcome::NotRunning {
                head_of(w, c, EXIT_FAIL, b"not running:", id);
                return finish(w, ev, c, now);
            }
            return;
        }
        Kind::Log => log(w, c, req),
        Kind::Upgrade | Kind::Rollback => {
            let id = first(mask).unwrap_or(0);
            let back = req.kind == Kind::Rollback;
            let prev = w.sup.svcs.get(usize::from(id)).map_or(crate::pin::NONE, |s| s.pin.prev);
            // (The supervisor rolls back to whatever `prev` names: checked here.)
            if back && !crate::verbs::release::present(w, id, prev) {
                head_of(w, c, EXIT_FAIL, b"no previous release (or it is gone):", id);
                return finish(w, ev, c, now);
            }
            let begun = w.sup.handle(Event::Request(if back { Ask::Rollback(id) } else { Ask::Upgrade(id) }), now, &mut w.out);
            let seq = w.sup.svcs.get(usize::from(id)).map_or(0, |s| s.upgrades);
            let said = match begun {
                Outcome::Begun(Begin::Overlap | Begin::Restart) => {
                    set_job(w, c, Job::WaitUpgrade { id, seq, all: has(proto::WAIT) });
                    return;
                }
                Outcome::Begun(Begin::Busy) => {
                    head_of(w, c, EXIT_FAIL, b"busy: upgrading or stopping", id);
                    return finish(w, ev, c, now);
                }
                Outcome::Begun(Begin::Stopped) => " is stopped: its next start uses its definition\n",
                Outcome::Begun(Begin::Started) => " was not running: started\n",
                _ => ": upgrade_signal sent\n",
            };
            ok(w, c);
            let World { clients, sup, .. } = w;
            if let Some(cl) = clients.list.get_mut(c) {
                let _ = ufmt::uwrite!(cl.out, "{}{}", Bytes(sup.name(usize::from(id))), said);
            }
            set_job(w, c, Job::Close);
        }
        Kind::Poweroff | Kind::Reboot | Kind::Halt => {
            let p = match req.kind {
                Kind::Poweroff => Power::Poweroff,
                Kind::Halt => Power::Halt,
                _ => Power::Reboot,
            };
            if crate::verbs::power::request(w, p, now) {
                ok(w, c);
            } else {
                head(w, c, EXIT_FAIL, b"refused: svc is not the init (PID 1); nothing changed", b"");
            }
            set_job(w, c, Job::Close);
        }
        Kind::Reexec => {
            // The reply comes with a refusal, the probe's outcome, or from
            // the new image.
            set_job(w, c, Job::WaitReexec);
            return crate::verbs::reexec::start(w, ev, Some(c), now);
        }
        Kind::Reload => {
            let dry = has(proto::DRY_RUN);
            let r = crate::verbs::reload::reload(w, ev, now, dry, has(proto::FORCE));
            if let Err(why) = r {
                // A file that could not be read says why (its text ends in a newline).
                let mut m = Buf::<256>::new();
                match w.loader.failure.as_bytes() {
                    [msg @ .., b'\n'] if matches!(why, Refused::Invalid | Refused::Bind) => {
                        m.push(msg);
                        m.push(b"; nothing changed");
                    }
                    _ => m.push(why.text().as_bytes()),
                }
                head(w, c, EXIT_FAIL, m.as_bytes(), b"");
                set_job(w, c, if why == Refused::Invalid { Job::Errors { next: 0 } } else { Job::Close });
            } else if dry {
                ok(w, c);
                set_job(w, c, Job::Plan { next: 0, outcome: false });
            } else {
                set_job(w, c, Job::WaitReload);
                return;
            }
        }
    }
    pump(w, ev, c, now);
}

/// Sends what followers have buffered.
pub fn flush_followers(w: &mut World, ev: &Events) {
    for c in 0..MAX_CLIENTS {
        let pending = w.clients.list.get(c).is_some_and(|cl| matches!(cl.job, Job::Follow { .. }) && !cl.out.is_empty() && !cl.writing);
        if pending {
            pump(w, ev, c, os::clock::now());
        }
    }
}

/// Fills the client's buffer from its job: a log file here, the rest by
/// `reply::refill`. False when the job has nothing more now.
fn refill(w: &mut World, c: usize, now: Instant) -> bool {
    let World { clients, streams, sup, logs, plan, loader, config_path, spare, .. } = w;
    let Some(cl) = clients.list.get_mut(c) else { return false };
    let Job::File { offset, follow } = cl.job else {
        let d = Data {
            sup,
            now,
            rings: &logs.rings,
            pool: &logs.pool,
            drops: &logs.drops,
            plan,
            old: spare,
            path: config_path.unwrap_or(b""),
            text: loader.text(),
            errors: &loader.errors.list,
        };
        return reply::refill(&mut cl.job, &d, &mut cl.out);
    };
    // Read straight into the reply's room.
    let file = streams.get_mut(c);
    let read = match file.as_ref().and_then(|f| f.get()) {
        Some(fd) => rustix::io::pread(fd, cl.out.spare(), offset).unwrap_or(0),
        None => 0,
    };
    cl.out.grow(read);
    if read == 0 {
        drop(file.and_then(|f| f.take()));
        cl.job = if follow == ALL { Job::Close } else { Job::Follow { id: follow, seq: 0, live: true, lost: 0 } };
    } else {
        cl.job = Job::File { offset: offset + read as u64, follow };
    }
    true
}

/// Sends what is buffered, refilling from the job; closes when all is out.
fn pump(w: &mut World, ev: &Events, c: usize, now: Instant) {
    // Bounded: each round sends a chunk or stops.
    for _ in 0..64 {
        let Some(cl) = w.clients.list.get_mut(c) else { return };
        if cl.out.is_empty() {
            refill(w, c, now);
        }
        let Some(cl) = w.clients.list.get_mut(c) else { return };
        if cl.out.is_empty() {
            if matches!(cl.job, Job::Close) {
                drop_client(w, ev, c);
            } else if cl.writing {
                // Nothing to send (a follower waiting for lines): watch for
                // its hang-up, not for room, or epoll would spin.
                cl.writing = false;
                if let Some(fd) = w.fds.fd(usize::from(cl.fd)) {
                    let _ = ev.modify(fd, u64::from(cl.fd), Interest::Read);
                }
            }
            return;
        }
        let Some(fd) = w.fds.fd(usize::from(cl.fd)) else { return };
        match os::fd::write_some(fd, cl.out.as_bytes()) {
            Ok(0) => {
                // The client reads slowly: wait until it can take more.
                if !cl.writing {
                    let _ = ev.modify(fd, u64::from(cl.fd), Interest::Write);
                }
                cl.stalled(now);
                return;
            }
            Ok(n) => {
                cl.out.consume(n);
                cl.progressed();
            }
            Err(_) => return drop_client(w, ev, c),
        }
    }
    // Out of rounds with more to send: go on when the socket has room
    // (at once), or a long reply would stall here.
    let Some(cl) = w.clients.list.get_mut(c) else { return };
    if let (false, Some(fd)) = (cl.writing, w.fds.fd(usize::from(cl.fd))) {
        cl.writing = true;
        let _ = ev.modify(fd, u64::from(cl.fd), Interest::Write);
    }
}

/// After each event: replies that were waiting for a stop or a reload, and
/// deadlines (a request not sent in time, a reply its reader stopped taking).
pub fn progress(w: &mut World, ev: &Events, now: Instant) {
    for c in 0..MAX_CLIENTS {
        if w.clients.expired(c, now) {
            drop_client(w, ev, c);
            continue;
        }
        let Some(cl) = w.clients.list.get(c) else { continue };
        match cl.job {
            Job::WaitDown { mask } if w.sup.all_down(mask) => {
                ok(w, c);
                finish(w, ev, c, now);
            }
            Job::WaitUpgrade { id, seq, all } => upgraded(w, ev, c, id, seq, all, now),
            Job::WaitReload if w.plan.steps.iter().all(|s| w.sup.settled(s)) => {
                // An upgrade that rolled back fails the reload (its other
                // changes stay applied); the steps say which.
                let failed = w.plan.steps.iter().any(|st| {
                    st.upgrade
                        && w.sup
                            .find(st.name())
                            .and_then(|i| w.sup.svcs.get(usize::from(i)))
                            .is_some_and(|s| matches!(s.upgrade, Upgrade::Failed { .. }))
                });
                if failed {
                    head(w, c, EXIT_FAIL, b"an upgrade failed; its service keeps its old definition", b"");
                } else {
                    ok(w, c);
                }
                set_job(w, c, Job::Plan { next: 0, outcome: true });
                pump(w, ev, c, now);
            }
            _ => {}
        }
    }
}

/// Answers a waiting `svc upgrade` once its upgrade has an outcome.
fn upgraded(w: &mut World, ev: &Events, c: usize, id: u8, seq: u8, all: bool, now: Instant) {
    let Some(s) = w.sup.svcs.get(usize::from(id)) else { return };
    let name = w.sup.name(usize::from(id));
    let mut m = Buf::<160>::new();
    let code = match s.upgrade {
        // A later upgrade of the same service answers its own client.
        _ if s.upgrades != seq => EXIT_FAIL,
        Upgrade::Running { .. } | Upgrade::Idle => return,
        Upgrade::Upgraded { old, .. } if all && s.inst.iter().flatten().any(|i| i.pid == old) => return,
        Upgrade::Upgraded { old, new } => {
            let _ = ufmt::uwrite!(m, "upgraded {} {} -> {}\n", Bytes(name), old, new);
            EXIT_OK
        }
        Upgrade::Failed { .. } => EXIT_FAIL,
    };
    if code == EXIT_OK {
        ok(w, c);
        if let Some(cl) = w.clients.list.get_mut(c) {
            cl.out.push(m.as_bytes());
        }
    } else {
        let mut why = Buf::<96>::new();
        let _ = ufmt::uwrite!(why, "upgrade of {} failed, the old instance serves on: ", Bytes(name));
        match s.upgrade {
            Upgrade::Failed { exit } => crate::status::failure(exit, &mut why),
            _ => why.push(b"another upgrade began"),
        }
        head(w, c, EXIT_FAIL, why.as_bytes(), b"");
    }
    finish(w, ev, c, now);
}

/// The outcome of `svc signal`'s kill, for client `c`.
pub fn signalled(w: &mut World, ev: &Events, c: usize, r: Result<(), rustix::io::Errno>, now: Instant) {
    if w.clients.list.get(c).is_none_or(|cl| !matches!(cl.job, Job::WaitSignal)) {
        return;
    }
    match r {
        Ok(()) => ok(w, c),
        Err(e) => {
            let mut m = Buf::<64>::new();
            let _ = ufmt::uwrite!(m, "kill: {}", Errno(e.raw_os_error()));
            head(w, c, EXIT_FAIL, m.as_bytes(), b"");
        }
    }
    finish(w, ev, c, now);
}

/// The reply to a `reexec` (from this image or the new one): a head, a body.
pub fn answer(w: &mut World, ev: &Events, c: usize, code: i32, msg: &[u8], body: &[u8], now: Instant) {
    if w.clients.list.get(c).is_none_or(|cl| !matches!(cl.job, Job::WaitReexec)) {
        return;
    }
    head(w, c, code, msg, b"");
    if let Some(cl) = w.clients.list.get_mut(c) {
        cl.out.push(body);
    }
    finish(w, ev, c, now);
}
