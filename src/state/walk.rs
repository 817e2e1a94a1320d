//! Each encoded type's fields, listed once for both directions (see
//! `Io`): appended to, never reordered. No syscalls.

use super::{Io, Parts, Starts};
use crate::clients::{Client, Job};
use crate::duration::Instant;
use crate::limits::MAX_INSTANCES;
use crate::pin::{Pins, Resolve};
use crate::ring::{Area, Ring};
use crate::service::{Exit, InstPhase, Instance, Note, Rest, Role, Service, Step, Upgrade, Want};

/// The pinned releases' arena (its records are in each slot's item).
pub(super) fn walk_pins(io: &mut Io, p: &mut Pins) {
    let used = usize::from(p.used);
    p.used = io.bytes(&mut p.bytes, used) as u16;
}

/// An optional exit as one number: 0 none, 1 + a code, 257 + a signal.
#[inline(never)]
pub(super) fn walk_exit(io: &mut Io, e: &mut Option<Exit>) {
    let v = match *e {
        None => 0,
        Some(Exit::Code(c)) => 1 + u64::from(c),
        Some(Exit::Signal(s)) => 257 + u64::from(s),
    };
    let v = io.upto(v, 512);
    *e = match v {
        0 => None,
        1..=256 => Some(Exit::Code((v - 1) as u8)),
        _ => Some(Exit::Signal((v - 257) as u8)),
    };
}

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

/// What a reexec carries: an instance that is not stopping (a reexec
/// waits for no stop: it is refused while one is under way).
#[inline]
pub(super) fn walk_phase(io: &mut Io, ph: &mut InstPhase) {
    let (k, mut t, mut at) = match *ph {
        InstPhase::Spawning => (0, Instant::from_millis(0), None),
        InstPhase::Starting { ready_by, ready_at } => (1, ready_by, ready_at),
        InstPhase::Ready { dog } => (2, Instant::from_millis(0), dog),
        _ => (3, Instant::from_millis(0), None),
    };
    let k = io.upto(k, 2);
    io.at(&mut t);
    io.opt_at(&mut at);
    *ph = match k {
        0 => InstPhase::Spawning,
        1 => InstPhase::Starting { ready_by: t, ready_at: at },
        _ => InstPhase::Ready { dog: at },
    };
}

/// An instance, and its process's start time (`Starts`).
#[inline(never)]
pub(super) fn walk_inst(io: &mut Io, slot: &mut Option<Instance>, start: &mut u32) {
    let mut some = slot.is_some();
    io.bool(&mut some);
    // In place (a copy of the instance each way cost more).
    let i = slot.get_or_insert(Instance {
        pid: 0,
        started: Instant::from_millis(0),
        phase: InstPhase::Spawning,
        role: Role::Serving,
        generation: 0,
        probe: 0,
        session: 0,
    });
    io.i32(&mut i.pid);
    io.u32(start);
    io.at(&mut i.started);
    walk_phase(io, &mut i.phase);
    i.role = pick(io, &ROLES, i.role, i.role as usize);
    io.u32(&mut i.generation);
    io.i32(&mut i.probe);
    io.i32(&mut i.session);
    if !some {
        *slot = None;
    }
}

#[inline(never)]
pub(super) fn walk_service(io: &mut Io, s: &mut Service, starts: &mut Starts) {
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
    let k = io.upto(k, 4);
    io.at(&mut until);
    s.rest = match k {
        0 => Rest::Stopped,
        1 => Rest::Watching,
        2 => Rest::Backoff { until },
        3 => Rest::Done,
        _ => Rest::Failed,
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
    let k = io.upto(k, 5);
    io.u8(&mut a);
    io.i32(&mut errno);
    walk_exit(io, &mut exit);
    s.note = match k {
        0 => Note::None,
        1 if a <= Step::Listen as u8 => Note::Spawn { step: Step::from_byte(a), errno },
        1 => {
            io.bad();
            Note::None
        }
        2 => Note::ReadyTimeout,
        3 => Note::Watchdog,
        4 => Note::Upgrade { exit },
        _ => Note::Signal { sig: a, errno },
    };
    io.bool(&mut s.removed);
    // Nor an upgrade under way: an idle or a failed one, or one that is
    // over (read back as idle).
    let (k, mut exit) = match s.upgrade {
        Upgrade::Failed { exit } => (1, exit),
        Upgrade::Running { .. } => (2, None),
        _ => (0, None),
    };
    let k = io.upto(k, 1);
    walk_exit(io, &mut exit);
    s.upgrade = if k == 0 { Upgrade::Idle } else { Upgrade::Failed { exit } };
    io.u8(&mut s.upgrades);
    io.i32(&mut s.stray);
    let pin = &mut s.pin;
    io.u8(&mut pin.cur);
    io.u8(&mut pin.prev);
    io.u8(&mut pin.cand);
    io.u8(&mut pin.last);
    pin.next = pick(io, &[Resolve::Reuse, Resolve::Fresh, Resolve::Previous], pin.next, pin.next as usize);
    for (i, t) in s.inst.iter_mut().zip(starts) {
        walk_inst(io, i, t);
    }
}

/// Slot `id`: the service, what its instances said, its log storage (the
/// partial lines and the ring with its bytes).
#[inline]
pub(super) fn walk_slot(io: &mut Io, p: &mut Parts, id: usize) {
    let mut none = [0; MAX_INSTANCES];
    if let Some(s) = p.sup.svcs.get_mut(id) {
        walk_service(io, s, p.starts.get_mut(id).unwrap_or(&mut none));
    }
    if let Some(said) = p.sup.said.get_mut(id) {
        io.text(&mut said.status);
        io.i32(&mut said.errno);
        io.u32(&mut said.dropped);
    }
    if let Some(d) = p.drops.get_mut(id) {
        io.u32(d);
    }
    if let Some(recs) = p.sup.pins.recs.get_mut(id) {
        for r in recs.iter_mut() {
            io.u16(&mut r.at);
            io.u16(&mut r.prog);
            io.u16(&mut r.cwd);
        }
    }
    if let Some(b) = p.probes.get_mut(id) {
        io.text(b);
    }
    if let Some(asm) = p.asm.get_mut(id) {
        for a in asm.iter_mut() {
            let len = usize::from(a.len);
            a.len = io.bytes(&mut a.buf, len) as u16;
        }
    }
    let Some(slot) = p.rings.get_mut(id) else { return };
    let mut some = slot.is_some();
    io.bool(&mut some);
    // In place, as an instance; a bad one read is dropped again.
    let r = slot.get_or_insert(Ring::new(Area { first_block: 0, blocks: 0 }));
    io.u16(&mut r.area.first_block);
    io.u16(&mut r.area.blocks);
    io.u32(&mut r.head);
    io.u32(&mut r.used);
    io.u32(&mut r.count);
    io.u64(&mut r.first_seq);
    let (start, bytes) = (r.area.start(), r.area.bytes());
    let ok = some
        && (!io.read || (r.head as usize) < bytes.max(1) && r.used as usize <= bytes && r.counts_fit() && p.blocks.claim(r.area))
        && p.pool.get_mut(start..start + bytes).is_some_and(|data| io.bytes(data, bytes) == bytes);
    if !ok {
        if some {
            io.bad();
        }
        *slot = None;
    }
}

/// A client a reexec carries: a follower (`svc log -f`), or the one that
/// asked, whose reply comes from the new image. (Its connection is an fd
/// handed over, which names it: `fd` is set as that is adopted.)
#[inline]
pub(super) fn walk_client(io: &mut Io, c: &mut Client) {
    io.text(&mut c.out);
    io.bool(&mut c.writing);
    let (k, mut id, mut seq, mut live, mut lost) = match c.job {
        Job::Follow { id, seq, live, lost } => (1, id, seq, live, lost),
        _ => (0, 0, 0, false, 0),
    };
    let k = io.upto(k, 1);
    io.u8(&mut id);
    io.u64(&mut seq);
    io.bool(&mut live);
    io.u32(&mut lost);
    c.job = if k == 1 { Job::Follow { id, seq, live, lost } } else { Job::WaitReexec };
}
