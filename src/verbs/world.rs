//! What `svc up` holds, in .bss: the configs, the supervisor, the table of
//! fds with their roles, log storage and control clients; and the reload
//! that swaps in a new config. The loop (up.rs) and the control socket
//! (control.rs) both work on it.

use crate::clients::Clients;
use crate::config::{Config, Log};
use crate::duration::Instant;
use crate::limits::*;
use crate::os::event::{Events, Interest};
use crate::os::fd::Slot;
use crate::os::{self, logfile};
use crate::reload::Change;
use crate::reload::Plan;
use crate::ring::{self, Assembler, Ring};
use crate::service::Actions;
use crate::supervisor::Supervisor;
use crate::verbs::check::{self, Loader};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};

/// What an fd in the table is for; the epoll token is its index.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Role {
    #[default]
    Free,
    Client(u8),
    Log {
        id: u8,
        inst: u8,
    },
    Ready {
        id: u8,
        inst: u8,
    },
}

/// One table of the fds svc holds, each with a role. Close-on-exec, leak
/// checks and the later reexec handoff all derive from it.
pub struct Fds {
    pub slots: [(Slot, Role); MAX_FDS],
}

impl Fds {
    const fn new() -> Self {
        Fds { slots: [const { (Slot::EMPTY, Role::Free) }; MAX_FDS] }
    }
    /// Adds `fd` with `role`, watched by `ev`; hands the fd back when full.
    pub fn add(&mut self, ev: &Events, fd: OwnedFd, role: Role, i: Interest) -> Result<usize, OwnedFd> {
        let Some(k) = self.slots.iter().position(|(s, _)| s.is_empty()) else { return Err(fd) };
        if ev.add(fd.as_fd(), k as u64, i).is_err() {
            return Err(fd);
        }
        if let Some(e) = self.slots.get_mut(k) {
            *e = (Slot::new(fd), role);
        }
        Ok(k)
    }
    pub fn close(&mut self, ev: &Events, k: usize) {
        if let Some((slot, role)) = self.slots.get_mut(k) {
            if let Some(fd) = slot.take() {
                ev.remove(fd.as_fd());
            }
            *role = Role::Free;
        }
    }
    pub fn fd(&self, k: usize) -> Option<BorrowedFd<'_>> {
        self.slots.get(k).and_then(|(s, _)| s.get())
    }
    pub fn role(&self, k: usize) -> Role {
        self.slots.get(k).map_or(Role::Free, |(_, r)| *r)
    }
    pub fn find(&self, role: Role) -> Option<usize> {
        self.slots.iter().position(|(s, r)| !s.is_empty() && *r == role)
    }
}

/// Log storage: the ring pool, each service's ring, each instance's partial line.
pub struct Logs {
    pub pool: [u8; RING_POOL_BYTES],
    pub blocks: ring::Pool,
    pub rings: [Option<Ring>; MAX_SERVICES],
    pub asm: [[Assembler; MAX_INSTANCES]; MAX_SERVICES],
    pub scratch: [u8; LOG_READ_BYTES],
    /// Lines a log target could not take (disk full, I/O error), per slot.
    pub drops: [u32; MAX_SERVICES],
    /// Each slot's log file (`log = file:`), opened at its first line.
    pub files: [logfile::File; MAX_SERVICES],
}

impl Logs {
    const fn new() -> Self {
        Logs {
            pool: [0; RING_POOL_BYTES],
            blocks: ring::Pool::new(),
            rings: [None; MAX_SERVICES],
            asm: [const { [const { Assembler::new() }; MAX_INSTANCES] }; MAX_SERVICES],
            scratch: [0; LOG_READ_BYTES],
            drops: [0; MAX_SERVICES],
            files: [const { logfile::File::EMPTY }; MAX_SERVICES],
        }
    }
}

/// Everything `svc up` holds, in .bss.
pub struct World {
    pub loader: Loader,
    /// The config in force, and the one a reload parses into: two configs'
    /// worth of memory, so that a bad file changes nothing.
    pub cfg: Config,
    pub spare: Config,
    /// The last reload's steps, for its reply.
    pub plan: Plan,
    /// The file `svc up` was started with; reloads read it again. (An
    /// Option: None is all zero bytes, which keeps this static in .bss.)
    pub config_path: Option<&'static [u8]>,
    pub sup: Supervisor,
    pub fds: Fds,
    pub logs: Logs,
    pub clients: Clients,
    /// The log file streamed to each client (`svc log NAME` of a `file:` service).
    pub streams: [Slot; MAX_CLIENTS],
    /// The control group's gid, for the peer check.
    pub group: Option<u32>,
}

/// Taken once by `svc up`.
pub static WORLD: os::once::Once<World> = os::once::Once::new(World {
    loader: Loader::new(),
    cfg: Config::new(),
    spare: Config::new(),
    plan: Plan::new(),
    config_path: None,
    sup: Supervisor::new(),
    fds: Fds::new(),
    logs: Logs::new(),
    clients: Clients::new(),
    streams: [const { Slot::EMPTY }; MAX_CLIENTS],
    group: None,
});

/// Reads the config again into the spare and, unless `dry`, applies the
/// difference. False when the file is invalid: then nothing changed (its
/// errors went to svc's log and stay in the loader for the caller).
pub fn reload(w: &mut World, now: Instant, out: &mut Actions, dry: bool) -> bool {
    if !check::load(w.config_path.unwrap_or(b""), &mut w.loader, &mut w.spare) {
        return false;
    }
    w.sup.plan(&w.cfg, &w.spare, &mut w.plan);
    if dry {
        return true;
    }
    w.sup.apply_old(&w.cfg, &mut w.plan, now, out);
    if !crate::config::adopt(&mut w.cfg, &w.spare) {
        // Cannot happen: both have the same capacities.
        os::fd::write_err(b"svc: reload: config copy failed\n");
    }
    w.sup.apply_new(&w.cfg, &mut w.plan);
    // Log files are opened again at their next line: a moved file is no error.
    for f in w.logs.files.iter_mut() {
        logfile::reopen(f);
    }
    for step in w.plan.steps.iter() {
        let id = usize::from(step.slot);
        if step.change == Change::Added {
            // The slot may have been a removed service's: start its count afresh.
            if let Some(d) = w.logs.drops.get_mut(id) {
                *d = 0;
            }
        }
        let want = match step.change {
            Change::Removed => None,
            _ => w.cfg.defs.get(usize::from(step.def)).and_then(|d| match d.log {
                Log::Ring(bytes) => Some(ring::blocks_for(bytes)),
                _ => None,
            }),
        };
        let Some(slot) = w.logs.rings.get_mut(id) else { continue };
        if slot.map(|r| r.area().blocks) == want {
            continue;
        }
        if let Some(r) = slot.take() {
            w.logs.blocks.free(r.area());
        }
        if let Some(blocks) = want {
            *slot = w.logs.blocks.alloc(blocks).map(Ring::new);
            if slot.is_none() {
                os::fd::write_err(b"svc: reload: the ring pool is fragmented: a log ring is missing\n");
            }
        }
    }
    true
}

/// Carves each service's ring out of the pool.
pub fn alloc_rings(w: &mut World) -> bool {
    for (i, d) in w.cfg.defs.iter().enumerate() {
        if let Log::Ring(bytes) = d.log {
            let Some(area) = w.logs.blocks.alloc(ring::blocks_for(bytes)) else {
                os::fd::write_err(b"svc: log rings exceed the ring pool\n");
                return false;
            };
            if let Some(r) = w.logs.rings.get_mut(i) {
                *r = Some(Ring::new(area));
            }
        }
    }
    true
}
