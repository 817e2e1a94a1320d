//! A reload as `svc up` applies it: the file read into the spare, refused
//! as a whole (nothing changes) when it is invalid, empty, too big for the
//! ring pool or asks for a socket that cannot be bound; otherwise its
//! sockets staged, the supervisor's plan applied, rings and log files set
//! up for the new definitions; and a failed upgrade's definition restored.

use crate::config::{Config, Log};
use crate::duration::Instant;
use crate::limits::*;
use crate::os::event::Events;
use crate::os::{self, logfile};
use crate::reload::Change;
use crate::ring::{self, Ring};
use crate::text::Buf;
use crate::verbs::check;
use crate::verbs::sockets;
use crate::verbs::world::World;

/// Why a reload changed nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Refused {
    /// The file could not be read or has errors (they are in the loader).
    Invalid,
    /// The file defines no service: a truncated write, most likely.
    Empty,
    /// Its log rings need more than the ring pool.
    Rings,
    /// A new listen socket could not be bound (why: in the loader's `failure`).
    Bind,
    /// The last reload's upgrades are still under way.
    Busy,
}

impl Refused {
    /// One line each, in the variants' order (`text::texts!`'s table: a
    /// match of strings is two words per arm).
    pub fn text(self) -> &'static str {
        crate::text::line(
            "the config has errors; nothing changed
the config defines no services (empty or truncated?); nothing changed (reload --force allows it)
the log rings exceed the ring pool; nothing changed
a listen socket cannot be bound; nothing changed
busy: the last reload's upgrades are under way; nothing changed
",
            self as usize,
        )
    }
}

/// Reads the config again into the spare and, unless `dry`, applies the
/// difference. A refused reload changes nothing; an invalid file's errors
/// went to svc's log and stay in the loader for the caller.
pub fn reload(w: &mut World, ev: &Events, now: Instant, dry: bool, force: bool) -> Result<(), Refused> {
    // A failed upgrade of the last reload takes its definition from the
    // spare: it must not be overwritten before those upgrades end.
    if w.sup.reload_upgrading() {
        return Err(Refused::Busy);
    }
    if !check::load(w.config_path.unwrap_or(b""), &mut w.loader, &mut w.spare) {
        return Err(Refused::Invalid);
    }
    if w.spare.defs.is_empty() && !force {
        return Err(Refused::Empty);
    }
    crate::reload::plan(&w.sup.cfg, &w.spare, &mut w.plan);
    if !rings_fit_reload(w) {
        return Err(Refused::Rings);
    }
    if dry {
        return Ok(());
    }
    let mut why = Buf::<256>::new();
    if !sockets::stage(w, &mut why) {
        w.loader.failure = why;
        w.loader.failure.push(b"\n");
        return Err(Refused::Bind);
    }
    // From here the reload happens.
    sockets::release(w, ev);
    if !w.sup.reload(&mut w.spare, &mut w.plan, now, &mut w.out) {
        // Cannot happen: both configs have the same capacities.
        os::fd::write_err(b"svc: reload: config copy failed\n");
    }
    sockets::adopt(w);
    // Its text is the one in force now (what `svc reexec` hands over).
    w.loader.commit();
    crate::verbs::emergency::over(w);
    // Removed services give their rings back before added ones take theirs
    // (Action::Assigned), so that a ring can move between names.
    for (id, s) in w.sup.svcs.iter().enumerate() {
        if s.removed
            && let Some(r) = w.logs.rings.get_mut(id).and_then(|r| r.take())
        {
            w.logs.blocks.free(r.area());
        }
    }
    // Log files are opened again at their next line: a moved file is no error.
    for f in w.logs.files.iter_mut() {
        logfile::reopen(f);
    }
    Ok(())
}

/// A reload's upgrade of slot `id` failed: the definition it had before the
/// reload (in the spare, which holds the config the reload replaced) comes
/// back, so that a crash of the old instance restarts the old command.
pub fn restore(w: &mut World, id: u8) {
    let id = usize::from(id);
    let Some(s) = w.sup.svcs.get(id) else { return };
    let name = w.sup.name(id);
    let (Some(old), Some(keep)) = (w.spare.find(name).and_then(|i| w.spare.defs.get(i)), w.sup.def(id)) else { return };
    let keep = crate::config::Keep::of(keep);
    if !crate::config::transplant(&mut w.sup.cfg, usize::from(s.def), &w.spare, old, keep) {
        os::fd::write_err(b"svc: reload: no room to keep a rolled-back definition; the new one stays\n");
    }
    assign(w, id as u8);
}

/// Whether every ring of `cfg` fits in the pool together.
pub fn rings_fit(cfg: &Config) -> bool {
    let blocks: usize = cfg
        .defs
        .iter()
        .map(|d| match d.log {
            Log::Ring(bytes) => usize::from(ring::blocks_for(bytes)),
            _ => 0,
        })
        .sum();
    blocks <= RING_POOL_BYTES / RING_BLOCK_BYTES
}

/// Whether the new config's rings can be carved out of the pool as it will
/// be once the reload has freed what it frees: tried on a copy of the pool,
/// in the order the reload allocates, so that a ring that does not fit
/// (fragmentation included) refuses the reload before anything changes.
fn rings_fit_reload(w: &World) -> bool {
    let mut pool = w.logs.blocks;
    let want = |def: u8| match w.spare.defs.get(usize::from(def)).map(|d| d.log) {
        Some(Log::Ring(bytes)) => Some(ring::blocks_for(bytes)),
        _ => None,
    };
    let mut needed: heapless::Vec<u16, { 2 * MAX_SERVICES }> = heapless::Vec::new();
    for step in w.plan.steps.iter() {
        let now = w.sup.find(step.name()).and_then(|id| w.logs.rings.get(usize::from(id)).copied().flatten());
        let next = if step.change == Change::Removed { None } else { want(step.def) };
        if now.map(|r| r.area().blocks) == next {
            continue;
        }
        if let Some(r) = now {
            pool.free(r.area());
        }
        if let Some(b) = next {
            let _ = needed.push(b);
        }
    }
    needed.iter().all(|&b| pool.alloc(b).is_some())
}

/// Slot `id` holds a new definition (or a restarted one): its ring is
/// the size its `log` asks for, and a fresh service's drop count is zero.
pub fn assign(w: &mut World, id: u8) {
    let id = usize::from(id);
    let Some(s) = w.sup.svcs.get(id) else { return };
    if s.spawns == 0
        && let Some(d) = w.logs.drops.get_mut(id)
        && *d != 0
    {
        *d = 0;
    }
    let want = w.sup.def(id).and_then(|d| match d.log {
        Log::Ring(bytes) => Some(ring::blocks_for(bytes)),
        _ => None,
    });
    let Some(slot) = w.logs.rings.get_mut(id) else { return };
    if slot.map(|r| r.area().blocks) == want {
        return;
    }
    if let Some(r) = slot.take() {
        w.logs.blocks.free(r.area());
    }
    if let Some(blocks) = want {
        *slot = w.logs.blocks.alloc(blocks).map(Ring::new);
        if slot.is_none() {
            os::fd::write_err(b"svc: the ring pool is fragmented: a log ring is missing\n");
        }
    }
}
