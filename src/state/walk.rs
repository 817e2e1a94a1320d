//! Each encoded type's fields, listed once for both directions (see
//! `Io`): appended to, never reordered. No syscalls.

use super::{Io, Parts};
use crate::clients::{Client, Job};
use crate::duration::Instant;
use crate::pin::{Pins, Resolve};
use crate::ring::{Area, Ring};
use crate::service::{Exit, InstPhase, Instance, Note, Rest, Role, Service, Step, Upgrade, Want, Why};

/// The pinned releases' arena (its records are in each slot's item).
pub(super) fn walk_pins(io: &mut Io, p: &mut Pins) {
    let used = usize::from(p.used);
    p.used = io.bytes(&mut p.bytes, used) as u16;
}

/// An optional exit: 0 none, 1 a code, 2 a signal; then the number.
pub(super) fn walk_exit(io: &mut Io, e: &mut Option<Exit>) {
    let (k, v) = match *e {
        None => (0, 0),
        Some(Exit::Code(c)) => (1, c),
        Some(Exit::Signal(s)) => (2, s),
    };
    let k = io.n(k);
    let v = io.n(u64::from(v));
    let v: u8 = io.fit(v);
    *e = match k {
        0 => None,
        1 => Some(Exit::Code(v)),
        2 => Some(Exit::Signal(v)),
        _ => {
            io.bad();
            None
        }
    };
}

const WHYS: [Why; 5] = [Why::Stop, Why::Restart, Why::ReadyTimeout, Why::Watchdog, Why::Exiting];
const ROLES: [Role; 3] = [Role::Serving, Role::New, Role::Draining];

/// An index into `table` (the current value's when writing); a bad one
/// read keeps `v`.
pub(super) fn pick<T: Copy>(io: &mut Io, table: &[T], v: T, i: usize) -> T {
    let i = io.n(i as u64) as usize;
    match table.get(i) {
        Some(&t) => t,
        None => {
            io.bad();
            v
        }
    }
}

pub(super) fn walk_phase(io: &mut Io, ph: &mut InstPhase) {
    let zero = Instant::from_millis(0);
    let (k, mut t, mut at, mut why, mut exit) = match *ph {
        InstPhase::Spawning => (0, zero, None, Why::Stop, None),
        InstPhase::Starting { ready_by, ready_at } => (1, ready_by, ready_at, Why::Stop, None),
        InstPhase::Ready { dog } => (2, zero, dog, Why::Stop, None),
        InstPhase::Stopping { why, kill_at } => (3, zero, kill_at, why, None),
        InstPhase::Lingering { why, kill_at, exit } => (4, zero, kill_at, why, Some(exit)),
    };
    let k = io.n(k);
    io.at(&mut t);
    io.opt_at(&mut at);
    why = pick(io, &WHYS, why, why as usize);
    walk_exit(io, &mut exit);
    *ph = match (k, exit) {
        (0, _) => InstPhase::Spawning,
        (1, _) => InstPhase::Starting { ready_by: t, ready_at: at },
        (2, _) => InstPhase::Ready { dog: at },
        (3, _) => InstPhase::Stopping { why, kill_at: at },
        (4, Some(exit)) => InstPhase::Lingering { why, kill_at: at, exit },
        _ => {
            io.bad();
            InstPhase::Spawning
        }
    };
}

pub(super) fn walk_inst(io: &mut Io, slot: &mut Option<Instance>) {
    let mut some = slot.is_some();
    io.bool(&mut some);
    let zero = Instant::from_millis(0);
    let mut i = slot.unwrap_or(Instance {
        pid: 0,
        started: zero,
        phase: InstPhase::Spawning,
        role: Role::Serving,
        generation: 0,
        probe: 0,
        session: 0,
    });
    io.i32(&mut i.pid);
    io.at(&mut i.started);
    walk_phase(io, &mut i.phase);
    i.role = pick(io, &ROLES, i.role, i.role as usize);
    io.u32(&mut i.generation);
    io.i32(&mut i.probe);
    io.i32(&mut i.session);
    *slot = if some { Some(i) } else { None };
}

pub(super) fn walk_service(io: &mut Io, s: &mut Service) {
    io.u8(&mut s.def);
    io.u32(&mut s.generation);
    s.want = pick(io, &[Want::Up, Want::Down], s.want, s.want as usize);
    let (k, mut until) = match s.rest {
        Rest::Stopped => (0, Instant::from_millis(0)),
        Rest::Watching => (1, Instant::from_millis(0)),
        Rest::Backoff { until } => (2, until),
        Rest::Done => (3, Instant::from_millis(0)),
        Rest::Failed => (4, Instant::from_millis(0)),
    };
    let k = io.n(k);
    io.at(&mut until);
    s.rest = match k {
        0 => Rest::Stopped,
        1 => Rest::Watching,
        2 => Rest::Backoff { until },
        3 => Rest::Done,
        4 => Rest::Failed,
        _ => {
            io.bad();
            Rest::Stopped
        }
    };
    io.u16(&mut s.failures);
    io.u32(&mut s.spawns);
    walk_exit(io, &mut s.last);
    let (k, mut a, mut errno, mut exit) = match s.note {
        Note::None => (0, 0, 0, None),
        Note::Spawn { step, errno } => (1, step as u8, errno, None),
        Note::ReadyTimeout => (2, 0, 0, None),
        Note::Watchdog => (3, 0, 0, None),
        Note::Upgrade { exit } => (4, 0, 0, exit),
        Note::Signal { sig, errno } => (5, sig, errno, None),
    };
    let k = io.n(k);
    io.u8(&mut a);
    io.i32(&mut errno);
    walk_exit(io, &mut exit);
    s.note = match k {
        0 => Note::None,
        1 if a <= Step::Listen as u8 => Note::Spawn { step: Step::from_byte(a), errno },
        2 => Note::ReadyTimeout,
        3 => Note::Watchdog,
        4 => Note::Upgrade { exit },
        5 => Note::Signal { sig: a, errno },
        _ => {
            io.bad();
            Note::None
        }
    };
    io.bool(&mut s.removed);
    let (k, mut old, mut new, mut restart, mut reload, mut exit) = match s.upgrade {
        Upgrade::Idle => (0, 0, 0, false, false, None),
        Upgrade::Running { old, restart, reload } => (1, old, 0, restart, reload, None),
        Upgrade::Upgraded { old, new } => (2, old, new, false, false, None),
        Upgrade::Failed { exit } => (3, 0, 0, false, false, exit),
    };
    let k = io.n(k);
    io.i32(&mut old);
    io.i32(&mut new);
    io.bool(&mut restart);
    io.bool(&mut reload);
    walk_exit(io, &mut exit);
    s.upgrade = match k {
        0 => Upgrade::Idle,
        1 => Upgrade::Running { old, restart, reload },
        2 => Upgrade::Upgraded { old, new },
        3 => Upgrade::Failed { exit },
        _ => {
            io.bad();
            Upgrade::Idle
        }
    };
    io.u8(&mut s.upgrades);
    io.i32(&mut s.stray);
    let pin = &mut s.pin;
    io.u8(&mut pin.cur);
    io.u8(&mut pin.prev);
    io.u8(&mut pin.cand);
    io.u8(&mut pin.last);
    pin.next = pick(io, &[Resolve::Reuse, Resolve::Fresh, Resolve::Previous], pin.next, pin.next as usize);
    for i in s.inst.iter_mut() {
        walk_inst(io, i);
    }
}

/// Slot `id`: the service, what its instances said, its log storage (the
/// partial lines and the ring with its bytes).
pub(super) fn walk_slot(io: &mut Io, p: &mut Parts, id: usize) {
    if let Some(s) = p.sup.svcs.get_mut(id) {
        walk_service(io, s);
    }
    if let Some(said) = p.sup.said.get_mut(id) {
        io.text(&mut said.status);
        io.i32(&mut said.errno);
        io.u32(&mut said.dropped);
    }
    if let Some(d) = p.drops.get_mut(id) {
        io.u32(d);
    }
    for r in p.sup.pins.recs.get_mut(id).into_iter().flatten() {
        io.u16(&mut r.at);
        io.u16(&mut r.prog);
        io.u16(&mut r.cwd);
    }
    if let Some(b) = p.probes.get_mut(id) {
        io.text(b);
    }
    for a in p.asm.get_mut(id).into_iter().flatten() {
        let len = usize::from(a.len);
        a.len = io.bytes(&mut a.buf, len) as u16;
    }
    let Some(slot) = p.rings.get_mut(id) else { return };
    let mut some = slot.is_some();
    io.bool(&mut some);
    let mut r = slot.unwrap_or(Ring::new(Area { first_block: 0, blocks: 0 }));
    io.u16(&mut r.area.first_block);
    io.u16(&mut r.area.blocks);
    io.u32(&mut r.head);
    io.u32(&mut r.used);
    io.u32(&mut r.count);
    io.u64(&mut r.first_seq);
    if !some {
        *slot = None;
        return;
    }
    let (start, bytes) = (r.area.start(), r.area.bytes());
    if io.read && (r.head as usize >= bytes.max(1) || r.used as usize > bytes || !p.blocks.claim(r.area)) {
        io.bad();
        return;
    }
    let Some(data) = p.pool.get_mut(start..start + bytes) else {
        io.bad();
        return;
    };
    if io.bytes(data, bytes) != bytes {
        io.bad();
    }
    *slot = Some(r);
}

pub(super) fn walk_client(io: &mut Io, c: &mut Client) {
    io.u16(&mut c.fd);
    io.opt_at(&mut c.deadline);
    io.text(&mut c.input);
    io.text(&mut c.out);
    io.bool(&mut c.writing);
    let (k, mut a, mut x, mut b, mut f1, mut f2) = match c.job {
        Job::Free => (0, 0, 0, 0, false, false),
        Job::Read => (1, 0, 0, 0, false, false),
        Job::Status { next, mask, width, json, long } => (2, next, mask, u32::from(width), json, long),
        Job::Log { id, seq } => (3, id, seq, 0, false, false),
        Job::Follow { id, seq, live, lost } => (4, id, seq, lost, live, false),
        Job::WaitDown { mask } => (5, 0, mask, 0, false, false),
        Job::WaitReload => (6, 0, 0, 0, false, false),
        Job::WaitUpgrade { id, seq, all } => (7, id, 0, u32::from(seq), all, false),
        Job::WaitSignal => (8, 0, 0, 0, false, false),
        Job::Plan { next, outcome } => (9, next, 0, 0, outcome, false),
        Job::Errors { next } => (10, next, 0, 0, false, false),
        Job::File { offset, follow } => (11, follow, offset, 0, false, false),
        Job::Close => (12, 0, 0, 0, false, false),
        Job::WaitReexec => (13, 0, 0, 0, false, false),
    };
    let k = io.n(k);
    io.u8(&mut a);
    io.u64(&mut x);
    io.u32(&mut b);
    io.bool(&mut f1);
    io.bool(&mut f2);
    let b8: u8 = io.fit(u64::from(b));
    c.job = match k {
        0 => Job::Free,
        1 => Job::Read,
        2 => Job::Status { next: a, mask: x, width: b8, json: f1, long: f2 },
        3 => Job::Log { id: a, seq: x },
        4 => Job::Follow { id: a, seq: x, live: f1, lost: b },
        5 => Job::WaitDown { mask: x },
        6 => Job::WaitReload,
        7 => Job::WaitUpgrade { id: a, seq: b8, all: f1 },
        8 => Job::WaitSignal,
        9 => Job::Plan { next: a, outcome: f1 },
        10 => Job::Errors { next: a },
        11 => Job::File { offset: x, follow: a },
        12 => Job::Close,
        13 => Job::WaitReexec,
        _ => {
            io.bad();
            Job::Free
        }
    };
}
