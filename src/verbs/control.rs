//! The server side of the control socket: client slots, requests, and
//! replies streamed in chunks so that a slow reader never blocks svc.

use crate::config::{Config, Log};
use crate::duration::{Duration, Instant};
use crate::limits::*;
use crate::os::event::{Events, Interest};
use crate::os::fd::Slot;
use crate::os::{self, signal};
use crate::proto::{self, Kind, Request};
use crate::reload::Change;
use crate::ring::STAMP_BYTES;
use crate::service::Actions;
use crate::status;
use crate::text::{Buf, Bytes, Errno};
use crate::verbs::world::{ALL, Client, Clients, Job, Role, World};
use core::ffi::CStr;
use rustix::fd::{AsFd, BorrowedFd};

/// The control socket path of `svc up`: `[svc] control`, else /run/svc.sock
/// for root, else $XDG_RUNTIME_DIR/svc.sock, else /tmp/svc-UID/svc.sock.
pub fn server_path<'b>(cfg: &Config, buf: &'b mut [u8]) -> Option<&'b CStr> {
    let mut b = Buf::<PATH_BYTES>::new();
    match cfg.control {
        Some(s) => b.push(cfg.str(s)),
        None if !default_path(&mut b, true) => return None,
        None => {}
    }
    let r = os::fd::cpath(b.as_bytes(), buf);
    if r.is_none() {
        os::fd::write_err(b"svc: control socket path too long\n");
    }
    r
}

/// svc's default socket path for this user; with `create`, makes the
/// /tmp/svc-UID directory (0700) and refuses one that another user owns or
/// that others may write (they could then own the socket): false then, with
/// the message printed, and the path must not be used.
pub fn default_path(b: &mut Buf<PATH_BYTES>, create: bool) -> bool {
    let uid = os::process::euid();
    if uid == 0 {
        b.push(b"/run/svc.sock");
        return true;
    }
    if let Some(x) = os::process::getenv(c"XDG_RUNTIME_DIR").filter(|x| x.first() == Some(&b'/')) {
        b.push(x);
        b.push(b"/svc.sock");
        return true;
    }
    let _ = ufmt::uwrite!(b, "/tmp/svc-{}", uid);
    if create {
        let mut p = [0u8; 64];
        let dir = os::fd::cpath(b.as_bytes(), &mut p);
        if let Some(dir) = dir {
            let _ = rustix::fs::mkdir(dir, rustix::fs::Mode::from_raw_mode(0o700));
        }
        let ours = dir.and_then(|d| rustix::fs::lstat(d).ok()).is_some_and(|st| {
            st.st_uid == uid
                && st.st_mode & 0o022 == 0
                && rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory
        });
        if !ours {
            let mut m = Buf::<128>::new();
            let _ = ufmt::uwrite!(
                m,
                "svc: control socket directory {}: not a directory of ours (another user owns it, or others may write it)\n",
                Bytes(b.as_bytes())
            );
            os::fd::write_err(m.as_bytes());
            return false;
        }
    }
    b.push(b"/svc.sock");
    true
}

/// Accepts waiting connections into free slots. With every slot taken, the
/// oldest connection that has not sent a whole request makes room.
pub fn accept(w: &mut World, ev: &Events, listener: BorrowedFd, now: Instant) {
    for _ in 0..MAX_CLIENTS {
        let Some(fd) = os::socket::accept(listener) else { return };
        if !os::socket::peer_allowed(fd.as_fd(), w.group) {
            let _ = os::fd::write_some(&fd, b"1 permission denied\n");
            continue;
        }
        let free = w.clients.list.iter().position(|c| c.job == Job::Free);
        let c = match free {
            Some(c) => c,
            None => {
                let oldest =
                    w.clients.list.iter().enumerate().filter(|(_, c)| c.job == Job::Read).min_by_key(|(_, c)| c.deadline).map(|(i, _)| i);
                let Some(c) = oldest else {
                    let _ = os::fd::write_some(&fd, b"1 busy: too many control connections\n");
                    continue;
                };
                drop_client(w, ev, c);
                c
            }
        };
        let Ok(k) = w.fds.add(ev, fd, Role::Client(c as u8), Interest::Read) else { continue };
        if let Some(cl) = w.clients.list.get_mut(c) {
            *cl = Client {
                fd: k as u16,
                deadline: Some(now + Duration::from_millis(REQUEST_TIMEOUT_MS)),
                job: Job::Read,
                ..Client::default()
            };
        }
    }
}

fn drop_client(w: &mut World, ev: &Events, c: usize) {
    if let Some(cl) = w.clients.list.get_mut(c) {
        w.fds.close(ev, usize::from(cl.fd));
        cl.job = Job::Free;
        cl.input.clear();
        cl.out.clear();
        cl.writing = false;
        drop(cl.file.take());
    }
}

/// The client's fd is readable or writable.
pub fn ready(w: &mut World, ev: &Events, c: usize, now: Instant, out: &mut Actions) {
    let Some(cl) = w.clients.list.get_mut(c) else { return };
    let Some(fd) = w.fds.fd(usize::from(cl.fd)) else { return };
    if cl.writing {
        pump(w, ev, c);
        return;
    }
    if cl.job != Job::Read {
        // A waiting client may only hang up; what else it sends is dropped.
        let mut sink = [0u8; 64];
        if let Ok(Some(0)) | Err(_) = os::fd::read_some(fd, &mut sink) {
            drop_client(w, ev, c);
        }
        return;
    }
    let mut tmp = [0u8; 512];
    let room = cl.input.room().min(tmp.len());
    let n = match os::fd::read_some(fd, tmp.get_mut(..room).unwrap_or(&mut [])) {
        Ok(Some(0)) | Err(_) => return drop_client(w, ev, c),
        Ok(None) => return,
        Ok(Some(n)) => n,
    };
    cl.input.push(tmp.get(..n).unwrap_or(&[]));
    let input = cl.input.as_bytes();
    // Copied out: handling needs all of `w`.
    let mut line = Buf::<REQUEST_BYTES>::new();
    line.push(input);
    match proto::parse(line.as_bytes()) {
        Ok(None) => {}
        Ok(Some(req)) => handle(w, ev, c, &req, now, out),
        Err(e) => {
            head(w, c, 2, e.text().as_bytes(), b"");
            finish(w, ev, c);
        }
    }
}

/// Writes the reply head `CODE MESSAGE WORD`.
fn head(w: &mut World, c: usize, code: i32, msg: &[u8], word: &[u8]) {
    let Some(cl) = w.clients.list.get_mut(c) else { return };
    let _ = ufmt::uwrite!(cl.out, "{}", code);
    if !msg.is_empty() {
        cl.out.push(b" ");
        cl.out.push(msg);
        if !word.is_empty() {
            let _ = ufmt::uwrite!(cl.out, " '{}'", Bytes(word));
        }
    }
    cl.out.push(b"\n");
}

fn set_job(w: &mut World, c: usize, job: Job) {
    if let Some(cl) = w.clients.list.get_mut(c) {
        cl.job = job;
        cl.deadline = None;
    }
}

fn finish(w: &mut World, ev: &Events, c: usize) {
    if let Some(cl) = w.clients.list.get_mut(c) {
        if matches!(cl.job, Job::Read | Job::WaitDown { .. } | Job::WaitReload) {
            cl.job = Job::Close;
        }
        cl.deadline = None;
    }
    pump(w, ev, c);
}

/// Slots of the named services; the first unknown name on failure.
fn slots<'r>(w: &World, names: &[&'r [u8]]) -> Result<u64, &'r [u8]> {
    let mut mask = 0u64;
    for n in names {
        let id = w.sup.find(&w.cfg, n).ok_or(*n)?;
        mask |= 1u64 << id;
    }
    Ok(mask)
}

fn ids(mask: u64) -> impl Iterator<Item = u8> {
    (0..64u8).filter(move |i| mask & (1u64 << i) != 0)
}

fn handle(w: &mut World, ev: &Events, c: usize, req: &Request, now: Instant, out: &mut Actions) {
    // By push: collect into a heapless Vec links a panic (and core::fmt).
    let mut names: heapless::Vec<&[u8], { MAX_OPERANDS + 2 }> = heapless::Vec::new();
    for name in req.operands() {
        let _ = names.push(name);
    }
    if matches!(req.kind, Kind::Signal | Kind::Log) {
        names.truncate(1);
    }
    let mask = match slots(w, &names) {
        Ok(m) => m,
        Err(name) => {
            head(w, c, 1, b"unknown service", name);
            return finish(w, ev, c);
        }
    };
    match req.kind {
        Kind::Status => {
            let all = names.is_empty();
            let live = w.sup.svcs.iter().enumerate().filter(|(_, s)| !s.removed).fold(0u64, |m, (i, _)| m | 1u64 << i);
            let mask = if all { live } else { mask };
            let down = ids(mask).filter_map(|i| w.sup.svcs.get(usize::from(i))).any(|s| !s.state().is_up());
            head(w, c, if down && !all { crate::cli::EXIT_NOT_UP } else { 0 }, b"", b"");
            let json = req.has(b"--json");
            let width = status::name_width(&w.sup, &w.cfg);
            if !json {
                if let Some(cl) = w.clients.list.get_mut(c) {
                    status::header(width, &mut cl.out);
                }
            }
            set_job(w, c, Job::Status { next: 0, mask, width: width.min(255) as u8, json });
        }
        Kind::Start => {
            for id in ids(mask) {
                w.sup.start(id);
            }
            head(w, c, 0, b"", b"");
            set_job(w, c, Job::Close);
        }
        Kind::Stop => {
            for id in ids(mask) {
                w.sup.stop(&w.cfg, id, now, out);
            }
            set_job(w, c, Job::WaitDown { mask });
            return;
        }
        Kind::Restart => {
            for id in ids(mask) {
                w.sup.restart(&w.cfg, id, now, out);
            }
            head(w, c, 0, b"", b"");
            set_job(w, c, Job::Close);
        }
        Kind::Signal => {
            let word = req.operands().nth(1).unwrap_or(b"");
            let id = ids(mask).next().unwrap_or(0);
            match (crate::signame::parse(word), w.sup.pid(id)) {
                (None, _) => head(w, c, 1, b"bad signal", word),
                (_, None) => head(w, c, 1, b"not running:", names.first().copied().unwrap_or(b"")),
                (Some(sig), Some(pid)) => match signal::send(pid, sig, false) {
                    Ok(()) => head(w, c, 0, b"", b""),
                    Err(e) => {
                        let mut m = Buf::<64>::new();
                        let _ = ufmt::uwrite!(m, "kill: {}", Errno(e.raw_os_error()));
                        head(w, c, 1, m.as_bytes(), b"");
                    }
                },
            }
            set_job(w, c, Job::Close);
        }
        Kind::Log => log(w, c, req, &names, mask),
        Kind::Reload => {
            let dry = req.has(b"--dry-run");
            if !crate::verbs::world::reload(w, now, out, dry) {
                head(w, c, 1, b"the config has errors; nothing changed", b"");
                set_job(w, c, Job::Errors { next: 0 });
            } else if dry {
                head(w, c, 0, b"", b"");
                set_job(w, c, Job::Plan { next: 0, outcome: false });
            } else {
                set_job(w, c, Job::WaitReload);
                return;
            }
        }
    }
    pump(w, ev, c);
}

/// `log [-f] [NAME] [N]`: the ring's lines, or its last N; with `-f`, then
/// every new line until the client hangs up.
fn log(w: &mut World, c: usize, req: &Request, names: &[&[u8]], mask: u64) {
    let follow = req.has(b"-f");
    let n = req.operands().nth(1).and_then(crate::cli::parse_u32);
    let id = ids(mask).next();
    let ring = id.and_then(|id| {
        let s = w.sup.svcs.get(usize::from(id))?;
        let def = w.cfg.defs.get(usize::from(s.def))?;
        matches!(def.log, Log::Ring(_)).then_some(())?;
        w.logs.rings.get(usize::from(id)).copied().flatten()
    });
    let name = names.first().copied().unwrap_or(b"");
    let file = id.and_then(|id| {
        let s = w.sup.svcs.get(usize::from(id))?;
        match w.cfg.defs.get(usize::from(s.def))?.log {
            Log::File { path, .. } => Some(path),
            _ => None,
        }
    });
    if let (Some(id), Some(path)) = (id, file) {
        // The file's last N lines (1000 without -n; 0 by default with -f).
        let lines = n.unwrap_or(if follow { 0 } else { 1000 });
        let opened = CStr::from_bytes_with_nul(w.cfg.strz(path)).ok().map(|p| os::logfile::tail_offset(p, lines));
        match opened {
            Some(Ok((fd, offset, cut))) => {
                head(w, c, 0, b"", b"");
                if let Some(cl) = w.clients.list.get_mut(c) {
                    cl.file = Slot::new(fd);
                    if cut {
                        cl.out.push(os::logfile::TAIL_CUT_NOTE);
                    }
                }
                set_job(w, c, Job::File { offset, follow: if follow { id } else { ALL } });
            }
            // Nothing written yet: nothing to show.
            Some(Err(rustix::io::Errno::NOENT)) => {
                head(w, c, 0, b"", b"");
                set_job(w, c, if follow { Job::Follow { id, seq: 0, live: true, lost: 0 } } else { Job::Close });
            }
            Some(Err(e)) => {
                let mut m = Buf::<64>::new();
                let _ = ufmt::uwrite!(m, "cannot read the log file: {}", Errno(e.raw_os_error()));
                head(w, c, 1, m.as_bytes(), b"");
                set_job(w, c, Job::Close);
            }
            None => {
                head(w, c, 1, b"bad log path", b"");
                set_job(w, c, Job::Close);
            }
        }
        return;
    }
    match (id, ring, follow) {
        (None, _, false) => {
            head(w, c, 2, b"log: name a service (or follow all with -f)", b"");
            set_job(w, c, Job::Close);
        }
        (None, _, true) => {
            head(w, c, 0, b"", b"");
            set_job(w, c, Job::Follow { id: ALL, seq: 0, live: true, lost: 0 });
        }
        (Some(id), Some(r), true) => {
            head(w, c, 0, b"", b"");
            let seq = r.seq_of_last(n.unwrap_or(0) as usize);
            set_job(w, c, Job::Follow { id, seq, live: false, lost: 0 });
        }
        (Some(id), None, true) => {
            head(w, c, 0, b"", b"");
            set_job(w, c, Job::Follow { id, seq: 0, live: true, lost: 0 });
        }
        (Some(id), Some(r), false) => {
            let seq = n.map_or(r.first_seq(), |n| r.seq_of_last(n as usize));
            head(w, c, 0, b"", b"");
            set_job(w, c, Job::Log { id, seq });
        }
        (Some(_), None, false) => {
            head(w, c, 1, b"no log ring (log = null):", name);
            set_job(w, c, Job::Close);
        }
    }
}

/// Offers a new log line of service `id` to every follower. One that has no
/// room loses it, counted: a slow follower never slows svc down.
pub fn publish(clients: &mut Clients, id: u8, name: &[u8], stamp: crate::ring::Stamp, line: &[u8]) {
    for cl in clients.list.iter_mut() {
        let Job::Follow { id: want, live: true, lost, .. } = &mut cl.job else { continue };
        if *want != ALL && *want != id {
            continue;
        }
        let all = *want == ALL;
        // Stamp, blank, [NAME: ], text, newline; and room for a lost-lines marker.
        let need = STAMP_BYTES + 2 + line.len() + if all { name.len() + 2 } else { 0 } + if *lost > 0 { 32 } else { 0 };
        if need > cl.out.room() {
            *lost = lost.saturating_add(1);
            continue;
        }
        if *lost > 0 {
            let _ = ufmt::uwrite!(cl.out, "svc: {} lines lost\n", *lost);
            *lost = 0;
        }
        let _ = ufmt::uwrite!(cl.out, "{} ", stamp);
        if all {
            cl.out.push(name);
            cl.out.push(b": ");
        }
        cl.out.push(line);
        cl.out.push(b"\n");
    }
}

/// Sends what followers have buffered.
pub fn flush_followers(w: &mut World, ev: &Events) {
    for c in 0..MAX_CLIENTS {
        let pending = w.clients.list.get(c).is_some_and(|cl| matches!(cl.job, Job::Follow { .. }) && !cl.out.is_empty() && !cl.writing);
        if pending {
            pump(w, ev, c);
        }
    }
}

/// Copies whole ring lines from `seq` into `out` while they fit, as
/// `STAMP LINE`; the seq to go on from.
fn drain(r: &crate::ring::Ring, pool: &[u8], mut seq: u64, out: &mut Buf<REPLY_CHUNK_BYTES>) -> u64 {
    for l in r.lines(pool, seq) {
        // A whole line or none: stamp, blank, text, newline.
        if STAMP_BYTES + 2 + l.len() > out.room() {
            break;
        }
        let _ = ufmt::uwrite!(out, "{} ", l.stamp);
        out.push(l.first);
        out.push(l.second);
        out.push(b"\n");
        seq = l.seq + 1;
    }
    seq
}

/// Fills `out` from the job; false when the job has nothing more.
fn refill(w: &mut World, c: usize, now: Instant) -> bool {
    let Some(cl) = w.clients.list.get_mut(c) else { return false };
    match cl.job {
        Job::Status { mut next, mask, width, json } => {
            let total = w.sup.svcs.len();
            while usize::from(next) < total {
                if mask & (1u64 << next) != 0 {
                    let mut line = Buf::<512>::new();
                    let id = usize::from(next);
                    let drops = w.logs.drops.get(id).copied().unwrap_or(0);
                    if json {
                        status::json_line(&w.sup, &w.cfg, id, now, drops, &mut line);
                    } else {
                        status::line(&w.sup, &w.cfg, id, now, usize::from(width), drops, &mut line);
                    }
                    if line.len() > cl.out.room() {
                        break;
                    }
                    cl.out.push(line.as_bytes());
                }
                next += 1;
            }
            cl.job = if usize::from(next) >= total { Job::Close } else { Job::Status { next, mask, width, json } };
            true
        }
        Job::Follow { id, mut seq, live: false, lost } => {
            let Some(Some(r)) = w.logs.rings.get(usize::from(id)) else {
                cl.job = Job::Follow { id, seq, live: true, lost };
                return false;
            };
            seq = drain(r, &w.logs.pool, seq, &mut cl.out);
            cl.job = Job::Follow { id, seq, live: seq >= r.next_seq(), lost };
            true
        }
        Job::Plan { mut next, outcome } => {
            while let Some(step) = w.plan.steps.get(usize::from(next)) {
                let mut line = Buf::<96>::new();
                line.pad(step.change.word(), 10);
                line.push(step.name());
                let shows = outcome && matches!(step.change, Change::Added | Change::Restarted);
                if let Some(s) = w.sup.svcs.get(usize::from(step.slot)).filter(|_| shows) {
                    let _ = ufmt::uwrite!(line, " {}", s.state());
                }
                line.push(b"\n");
                if line.len() > cl.out.room() {
                    break;
                }
                cl.out.push(line.as_bytes());
                next += 1;
            }
            cl.job = if usize::from(next) >= w.plan.steps.len() { Job::Close } else { Job::Plan { next, outcome } };
            true
        }
        Job::File { offset, follow } => {
            let room = cl.out.room();
            let mut chunk = [0u8; REPLY_CHUNK_BYTES];
            let read = match (cl.file.get(), chunk.get_mut(..room)) {
                (Some(fd), Some(buf)) => rustix::io::pread(fd, buf, offset).unwrap_or(0),
                _ => 0,
            };
            cl.out.push(chunk.get(..read).unwrap_or(&[]));
            if read == 0 {
                drop(cl.file.take());
                cl.job = if follow == ALL { Job::Close } else { Job::Follow { id: follow, seq: 0, live: true, lost: 0 } };
            } else {
                cl.job = Job::File { offset: offset + read as u64, follow };
            }
            true
        }
        Job::Errors { mut next } => {
            while let Some(e) = w.loader.errors.list.get(usize::from(next)) {
                let mut line = Buf::<512>::new();
                crate::config::emit(w.config_path.unwrap_or(b""), w.loader.text(), e, &mut line);
                if line.len() > cl.out.room() {
                    break;
                }
                cl.out.push(line.as_bytes());
                next += 1;
            }
            cl.job = if usize::from(next) >= w.loader.errors.list.len() { Job::Close } else { Job::Errors { next } };
            true
        }
        Job::Log { id, mut seq } => {
            let Some(Some(r)) = w.logs.rings.get(usize::from(id)) else {
                cl.job = Job::Close;
                return false;
            };
            seq = drain(r, &w.logs.pool, seq, &mut cl.out);
            cl.job = if seq >= r.next_seq() { Job::Close } else { Job::Log { id, seq } };
            true
        }
        Job::Follow { id, seq, live: true, lost } if lost > 0 => {
            let _ = ufmt::uwrite!(cl.out, "svc: {} lines lost\n", lost);
            cl.job = Job::Follow { id, seq, live: true, lost: 0 };
            true
        }
        _ => false,
    }
}

/// Sends what is buffered, refilling from the job; closes when all is out.
fn pump(w: &mut World, ev: &Events, c: usize) {
    let now = crate::os::clock::now();
    // Bounded: each round sends a chunk or stops.
    for _ in 0..64 {
        let Some(cl) = w.clients.list.get_mut(c) else { return };
        if cl.out.is_empty() {
            refill(w, c, now);
        }
        let Some(cl) = w.clients.list.get_mut(c) else { return };
        if cl.out.is_empty() {
            if cl.job == Job::Close {
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
                    cl.writing = true;
                    let _ = ev.modify(fd, u64::from(cl.fd), Interest::Write);
                }
                return;
            }
            Ok(n) => cl.out.consume(n),
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

/// After each event: replies that were waiting for a stop, and request deadlines.
pub fn progress(w: &mut World, ev: &Events, now: Instant) {
    for c in 0..MAX_CLIENTS {
        let Some(cl) = w.clients.list.get(c) else { continue };
        match cl.job {
            Job::WaitDown { mask } if w.sup.all_down(mask) => {
                head(w, c, 0, b"", b"");
                finish(w, ev, c);
            }
            Job::WaitReload if w.plan.steps.iter().all(|s| w.sup.settled(s)) => {
                head(w, c, 0, b"", b"");
                set_job(w, c, Job::Plan { next: 0, outcome: true });
                pump(w, ev, c);
            }
            Job::Read if cl.deadline.is_some_and(|d| d <= now) => drop_client(w, ev, c),
            _ => {}
        }
    }
}
