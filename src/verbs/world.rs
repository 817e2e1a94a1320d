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
use crate::reload::{Change, Plan};
use crate::ring::{self, Assembler, Ring};
use crate::service::Actions;
use crate::supervisor::Supervisor;
use crate::text::Buf;
use crate::verbs::check::{self, Loader};
use crate::verbs::sockets;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};

/// What an fd in the table is for; the epoll token is its index.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Role {
    #[default]
    Free,
    /// The signalfd.
    Signals,
    /// The control socket's listener.
    Control,
    /// /dev/null, every service's stdin (and output with `log = null`).
    Null,
    Client(u8),
    Log {
        id: u8,
        inst: u8,
    },
    Ready {
        id: u8,
        inst: u8,
    },
    /// An instance's sd_notify socket (`ready = notify`).
    Notify {
        id: u8,
        inst: u8,
    },
    /// A listening socket held for `cfg.listens[n]` (watched only while its
    /// on-connect service waits for a connection).
    Listen {
        n: u8,
    },
}

/// One table of every fd svc holds, each with a role (but the epoll set
/// and its timerfd, which `Events` owns). Close-on-exec, leak checks and the
/// later reexec handoff all derive from it.
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
    /// Adds `fd` with `role`, not watched; hands the fd back when full.
    pub fn hold(&mut self, fd: OwnedFd, role: Role) -> Result<usize, OwnedFd> {
        let Some(k) = self.slots.iter().position(|(s, _)| s.is_empty()) else { return Err(fd) };
        if let Some(e) = self.slots.get_mut(k) {
            *e = (Slot::new(fd), role);
        }
        Ok(k)
    }
    /// The fd that holds `role`.
    pub fn of(&self, role: Role) -> Option<BorrowedFd<'_>> {
        self.find(role).and_then(|k| self.fd(k))
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
    /// The config a reload parses into, beside the one in force (the
    /// supervisor's): two configs' worth of memory, so that a bad file
    /// changes nothing.
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
    /// The held sockets beyond the fd table: files, the watch, a reload's stage.
    pub socks: Socks,
    /// The directory of the sd_notify sockets: `svc-notify` beside the
    /// control socket (made at the first `ready = notify` spawn).
    pub notify_dir: Buf<UNIX_PATH_BYTES>,
}

/// What svc keeps of its listening sockets besides their fds (which are in
/// the fd table, `Role::Listen`).
pub struct Socks {
    /// The device and inode of the socket file svc made, by fd-table index
    /// (0, 0 for none), so that svc unlinks only its own file.
    pub files: [(u64, u64); MAX_FDS],
    /// Slots whose sockets are in the epoll set.
    pub watched: u64,
    /// A reload's sockets before it applies: for each new `listens[j]`, the
    /// fd-table index + 1 of the held socket it keeps (0: none; all zero
    /// keeps World in .bss), or a new one here.
    pub keep: [u16; MAX_LISTENS],
    pub new: [Slot; MAX_LISTENS],
    pub new_files: [(u64, u64); MAX_LISTENS],
}

impl Socks {
    const fn new() -> Self {
        Socks {
            files: [(0, 0); MAX_FDS],
            watched: 0,
            keep: [0; MAX_LISTENS],
            new: [const { Slot::EMPTY }; MAX_LISTENS],
            new_files: [(0, 0); MAX_LISTENS],
        }
    }
}

/// Taken once by `svc up`.
pub static WORLD: os::once::Once<World> = os::once::Once::new(World {
    loader: Loader::new(),
    spare: Config::new(),
    plan: Plan::new(),
    config_path: None,
    sup: Supervisor::new(),
    fds: Fds::new(),
    logs: Logs::new(),
    clients: Clients::new(),
    streams: [const { Slot::EMPTY }; MAX_CLIENTS],
    group: None,
    socks: Socks::new(),
    notify_dir: Buf::new(),
});

/// Why a reload changed nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
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
    pub const fn text(self) -> &'static str {
        match self {
            Refused::Invalid => "the config has errors; nothing changed",
            Refused::Empty => "the config defines no services (empty or truncated?); nothing changed (reload --force allows it)",
            Refused::Rings => "the log rings exceed the ring pool; nothing changed",
            Refused::Bind => "a listen socket cannot be bound; nothing changed",
            Refused::Busy => "busy: the last reload's upgrades are under way; nothing changed",
        }
    }
}

/// Reads the config again into the spare and, unless `dry`, applies the
/// difference. A refused reload changes nothing; an invalid file's errors
/// went to svc's log and stay in the loader for the caller.
pub fn reload(w: &mut World, ev: &Events, now: Instant, out: &mut Actions, dry: bool, force: bool) -> Result<(), Refused> {
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
    if !w.sup.reload(&mut w.spare, &mut w.plan, now, out) {
        // Cannot happen: both configs have the same capacities.
        os::fd::write_err(b"svc: reload: config copy failed\n");
    }
    sockets::adopt(w);
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
    let (old, keep, at) = (*old, *keep, usize::from(s.def));
    match crate::config::transplant(&mut w.sup.cfg, &w.spare, &old, &keep) {
        Some(d) => {
            if let Some(slot) = w.sup.cfg.defs.get_mut(at) {
                *slot = d;
            }
        }
        None => os::fd::write_err(b"svc: reload: no room to keep a rolled-back definition; the new one stays\n"),
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
