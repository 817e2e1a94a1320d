//! The service table and its one entry point: `handle(event, now, out)`
//! routes an event (a child exited, a spawn's outcome, a ready signal, a
//! deadline, a control request, a failed action) to its service, starts what
//! `after` allows, stops in reverse order at shutdown, and says with
//! `next_deadline` when it next needs to be woken. It owns the config in
//! force, so a slot's definition is found one way: `def(id)`. No syscalls.

mod apply;

use crate::config::{Config, Def, Page};
use crate::duration::Instant;
use crate::limits::MAX_SERVICES;
use crate::notify::Said;
use crate::order::bit;
use crate::pin::{Pins, Resolve};
use crate::service::{Action, Actions, Exit, Note, Notice, Rest, Role, Service, State, Step, Want, Why, earliest};
use heapless::Vec;

// Sets of slots and of definitions are u64 bitmasks (`after`, `svc stop a b`).
const _: () = assert!(MAX_SERVICES <= 64);

pub use apply::Pending;

/// Something that happened, for the supervisor to act on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    /// A child was reaped.
    Exited { pid: i32, exit: Exit },
    /// `Action::Spawn` worked: instance `inst` of `id` runs as `pid`, the
    /// release in record `rel` of `pins` (or `pin::NONE`, `pin::FULL`).
    Spawned { id: u8, inst: u8, pid: i32, rel: u8 },
    /// `Action::Spawn` failed at `step`.
    SpawnFailed { id: u8, inst: u8, step: Step, errno: i32 },
    /// `Action::Probe` worked: the probe of instance `inst` of `id` runs as `pid`.
    ProbeSpawned { id: u8, inst: u8, pid: i32 },
    /// `Action::Probe` failed (the OS layer keeps why, as the probe's output).
    ProbeFailed { id: u8, inst: u8 },
    /// The readiness channel of an instance said ready.
    Ready { id: u8, inst: u8 },
    /// Instance `inst` of `id` said `what` on its notify socket.
    Notify { id: u8, inst: u8, what: Notice },
    /// A socket of a watched (on-connect) service is readable.
    Connection { id: u8 },
    /// `Action::Signal` to `pid` (its group with `group`) failed with `errno`.
    SignalFailed { pid: i32, sig: u8, group: bool, errno: i32 },
    /// Time passed: act on every deadline that has come.
    Tick,
    /// A control request.
    Request(Request),
    /// SIGTERM, SIGINT, SIGQUIT: stop everything, in reverse order, then exit.
    Shutdown,
}

/// What a control client asks of one service (slot).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Request {
    Start(u8),
    Stop(u8),
    Restart(u8),
    /// `svc upgrade`: a new instance beside the serving one.
    Upgrade(u8),
    /// `svc rollback`: an upgrade to the previous pinned release (the
    /// caller checks that there is one, and that it is still on disk).
    Rollback(u8),
    /// `svc signal`: `sig` to the serving instance's main pid; the outcome
    /// goes to control client `client`.
    Signal {
        id: u8,
        sig: u8,
        client: u8,
    },
}

/// What `handle` has to say beyond its actions.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    Done,
    /// The reaped child was no service's main process (an orphan svc adopted).
    Orphan,
    /// A signal request found no running process.
    NotRunning,
    /// How an upgrade began.
    Begun(crate::service::Begin),
}

/// errno ESRCH: no such process (or group). The same on every Linux architecture.
pub const ESRCH: i32 = 3;

/// In this order (`repr(C)`): the small fields first (.bss pages are
/// resident once written).
#[repr(C)]
pub struct Supervisor {
    /// Set at shutdown: stop everything, then exit.
    pub shutdown: bool,
    /// Definitions a reload added that still wait for a slot.
    pub pending: Pending,
    pub svcs: Vec<Service, MAX_SERVICES>,
    pub page_said: Page,
    /// Each slot's STATUS= and ERRNO= text and dropped datagrams.
    pub said: [Said; MAX_SERVICES],
    /// The config in force.
    pub cfg: Config,
    /// Every slot's pinned releases (which of them run: `Service::pin`).
    pub pins: Pins,
}

/// Why a service that wants to be up is not started.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Hold {
    /// Waiting for this service (a slot) to be ready.
    Waiting(u8),
    /// This service (a slot) failed for good.
    Blocked(u8),
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    pub const fn new() -> Self {
        Supervisor {
            shutdown: false,
            pending: Pending::NONE,
            svcs: Vec::new(),
            page_said: Page,
            said: [Said::NONE; MAX_SERVICES],
            cfg: Config::new(),
            pins: Pins::new(),
        }
    }

    /// One slot per definition of the config in force; services with
    /// `start = yes` want up.
    pub fn load(&mut self) {
        crate::config::empty(&mut self.svcs);
        for (i, d) in self.cfg.defs.iter().enumerate() {
            let _ = self.svcs.push(Service::fresh(i as u8, d));
        }
    }

    /// Slot `id`'s definition. A removed service's is gone from the config,
    /// and the defaults stand in for it (a stop under way needs no more).
    pub fn def(&self, id: usize) -> Option<&Def> {
        Self::def_in(&self.cfg, self.svcs.get(id)?)
    }

    // Out of line: used at a dozen places.
    #[inline(never)]
    fn def_in<'c>(cfg: &'c Config, s: &Service) -> Option<&'c Def> {
        if s.removed {
            return Some(&Def::DEFAULT);
        }
        cfg.defs.get(usize::from(s.def))
    }

    /// Slot `id`'s name; empty for a free or removed slot.
    pub fn name(&self, id: usize) -> &[u8] {
        match self.svcs.get(id) {
            Some(s) if !s.removed => self.cfg.defs.get(usize::from(s.def)).map_or(&[][..], |d| self.cfg.str(d.name)),
            _ => &[],
        }
    }

    /// The slot of the service named `name`.
    pub fn find(&self, name: &[u8]) -> Option<u8> {
        (0..self.svcs.len()).find(|&i| !name.is_empty() && self.name(i) == name).map(|i| i as u8)
    }

    /// The slot serving the definition `def` (slots follow definitions).
    fn slot_of_def(&self, def: usize) -> Option<usize> {
        self.svcs.iter().position(|s| !s.removed && usize::from(s.def) == def)
    }

    /// True once every service has had its first outcome (ready, done,
    /// failed, or backing off after a crash), or never will (`start = no`,
    /// waiting for a connection, held by a dependency that failed for
    /// good): when svc tells the init it runs under that it is ready.
    pub fn first_outcomes(&self) -> bool {
        (0..self.svcs.len()).all(|id| {
            self.svcs.get(id).is_none_or(|s| {
                s.removed
                    || s.want == Want::Down
                    || s.rest == Rest::Watching
                    || matches!(s.state(), State::Running | State::Done | State::Failed | State::Backoff)
                    || matches!(self.hold(id), Some(Hold::Blocked(_)))
            })
        })
    }

    /// What holds back a service that wants up and has no instance.
    pub fn hold(&self, id: usize) -> Option<Hold> {
        let s = self.svcs.get(id).filter(|s| !s.removed)?;
        let d = self.def(id)?;
        let mut waiting = None;
        for dep in 0..self.cfg.defs.len() {
            if d.after & bit(dep) == 0 {
                continue;
            }
            let Some(slot) = self.slot_of_def(dep) else { continue };
            let Some(ds) = self.svcs.get(slot) else { continue };
            if ds.state() == State::Failed {
                return Some(Hold::Blocked(slot as u8));
            }
            let ok = self.def(slot).is_some_and(|dd| ds.satisfies_after(dd));
            if !ok && waiting.is_none() {
                waiting = Some(Hold::Waiting(slot as u8));
            }
        }
        let _ = s;
        waiting
    }

    /// The one entry point: acts on `event`, then starts what may start (or,
    /// at shutdown, stops what nothing needs any more). What the OS layer
    /// must do is appended to `out`.
    pub fn handle(&mut self, event: Event, now: Instant, out: &mut Actions) -> Outcome {
        let outcome = self.route(event, now, out);
        self.settle(now, out);
        outcome
    }

    fn route(&mut self, event: Event, now: Instant, out: &mut Actions) -> Outcome {
        let Supervisor { cfg, svcs, said, .. } = self;
        match event {
            Event::Exited { pid, exit } => {
                for (id, s) in svcs.iter_mut().enumerate() {
                    if let Some(inst) = s.instance_of(pid) {
                        if let Some(def) = Self::def_in(cfg, s) {
                            s.exited(id as u8, inst, exit, def, now, out);
                        }
                        return Outcome::Done;
                    }
                    if let Some(inst) = s.probe_of(pid) {
                        if let Some(def) = Self::def_in(cfg, s) {
                            s.probe_exited(inst, exit, def, now, out);
                        }
                        return Outcome::Done;
                    }
                    if s.stray == pid {
                        s.stray = 0;
                        return Outcome::Done;
                    }
                }
                // An orphan: a member of a lingering group, perhaps the last.
                for s in svcs.iter() {
                    s.probe_lingering(out);
                }
                Outcome::Orphan
            }
            Event::Spawned { id, .. }
            | Event::SpawnFailed { id, .. }
            | Event::ProbeSpawned { id, .. }
            | Event::ProbeFailed { id, .. }
            | Event::Ready { id, .. }
            | Event::Notify { id, .. }
            | Event::Connection { id } => {
                // Events about one slot: it and its definition looked up once.
                let Some(s) = svcs.get_mut(usize::from(id)) else { return Outcome::Done };
                let def = Self::def_in(cfg, s);
                match (event, def) {
                    (Event::ProbeSpawned { inst, pid, .. }, _) => s.probe_spawned(usize::from(inst), pid, out),
                    (Event::Connection { .. }, _) => s.connection(),
                    (_, None) => {}
                    (Event::Spawned { inst, pid, rel, .. }, Some(def)) => {
                        s.spawned(usize::from(inst), pid, rel, def, now);
                        // A new run says its own STATUS= (an upgrade's keeps the old one's until it serves).
                        if s.inst.get(usize::from(inst)).is_some_and(|i| i.is_some_and(|i| i.role == Role::Serving))
                            && let Some(t) = said.get_mut(usize::from(id))
                            && !(t.status.is_empty() && t.errno == 0 && t.dropped == 0)
                        {
                            // (Only what is not clear already: a write keeps a page resident.)
                            *t = Said::NONE;
                        }
                    }
                    (Event::SpawnFailed { inst, step, errno, .. }, Some(def)) => {
                        s.spawn_failed(id, usize::from(inst), step, errno, def, now, out)
                    }
                    (Event::ProbeFailed { inst, .. }, Some(def)) => s.probe_failed(usize::from(inst), def, now),
                    (Event::Ready { inst, .. }, Some(def)) => s.ready(usize::from(inst), def, now, out),
                    (Event::Notify { inst, what, .. }, Some(def)) => s.notify(usize::from(inst), what, def, now, out),
                    _ => {}
                }
                Outcome::Done
            }
            Event::SignalFailed { pid, sig, group, errno } => {
                for (id, s) in svcs.iter_mut().enumerate() {
                    if let Some(inst) = s.lingering(pid) {
                        // The group is empty: the stop is complete.
                        if group
                            && errno == ESRCH
                            && let Some(def) = Self::def_in(cfg, s)
                        {
                            s.group_gone(id as u8, inst, def, now, out);
                        }
                        return Outcome::Done;
                    }
                    // ESRCH for a live instance: it exited, and its exit is on
                    // the way. Anything else (EPERM: it changed its user) is
                    // worth a note; the stop timeout still stands.
                    if s.instance_of(pid).is_some() && errno != ESRCH {
                        s.note = Note::Signal { sig, errno };
                    }
                }
                Outcome::Done
            }
            Event::Tick => {
                for (id, s) in svcs.iter_mut().enumerate() {
                    if let Some(def) = Self::def_in(cfg, s) {
                        s.tick(id as u8, def, now, out);
                    }
                }
                Outcome::Done
            }
            Event::Request(r) => self.request(r, now, out),
            Event::Shutdown => {
                self.shutdown = true;
                for s in self.svcs.iter_mut() {
                    s.want = Want::Down;
                    if !s.has_instance() && matches!(s.rest, crate::service::Rest::Backoff { .. } | crate::service::Rest::Watching) {
                        s.rest = crate::service::Rest::Stopped;
                    }
                }
                Outcome::Done
            }
        }
    }

    fn request(&mut self, r: Request, now: Instant, out: &mut Actions) -> Outcome {
        let Supervisor { cfg, svcs, .. } = self;
        let id = match r {
            Request::Start(id)
            | Request::Stop(id)
            | Request::Restart(id)
            | Request::Upgrade(id)
            | Request::Rollback(id)
            | Request::Signal { id, .. } => id,
        };
        let Some(s) = svcs.get_mut(usize::from(id)) else { return Outcome::NotRunning };
        let Some(def) = Self::def_in(cfg, s) else { return Outcome::NotRunning };
        match r {
            Request::Start(_) => s.want_up(def),
            Request::Stop(_) => s.want_down(def, now, out),
            // With sockets, a restart overlaps as an upgrade does (nothing
            // is refused), but starts afresh if the new one fails.
            Request::Restart(_) if def.listen.count > 0 && s.state() == State::Running => {
                return Outcome::Begun(s.begin_upgrade(id, true, false, Resolve::Reuse, def, now, out));
            }
            Request::Restart(_) => {
                s.want_up(def);
                s.stop(Why::Restart, def, now, out);
            }
            Request::Upgrade(_) if def.upgrade_signal != 0 && s.state() == State::Running => {
                // A server that reloads in place.
                let Some(pid) = s.serving().map(|i| i.pid) else { return Outcome::NotRunning };
                crate::service::emit(out, Action::Signal { pid, sig: def.upgrade_signal, group: false });
                return Outcome::Begun(crate::service::Begin::Signalled);
            }
            Request::Upgrade(_) => return Outcome::Begun(s.begin_upgrade(id, false, false, Resolve::Fresh, def, now, out)),
            Request::Rollback(_) => return Outcome::Begun(s.begin_upgrade(id, false, false, Resolve::Previous, def, now, out)),
            Request::Signal { sig, client, .. } => {
                let Some(pid) = s.serving().map(|i| i.pid).filter(|&p| p > 0) else { return Outcome::NotRunning };
                crate::service::emit(out, Action::Send { pid, sig, client });
            }
        }
        Outcome::Done
    }

    /// Starts what may start; at shutdown, stops what nothing needs any
    /// more and says Exit once all is down.
    fn settle(&mut self, now: Instant, out: &mut Actions) {
        if self.shutdown {
            self.settle_shutdown(now, out);
            return;
        }
        self.give_slots(out);
        // A start can make a service ready at once (ready = none) and so
        // free its dependents: repeat until nothing changes (bounded).
        for _ in 0..=MAX_SERVICES {
            let mut started = false;
            for id in 0..self.svcs.len() {
                let can = self.svcs.get(id).is_some_and(|s| s.wants_start()) && self.hold(id).is_none();
                if can && let Some(s) = self.svcs.get_mut(id) {
                    s.start(id as u8, now, out);
                    started = true;
                }
            }
            if !started {
                break;
            }
        }
    }

    fn settle_shutdown(&mut self, now: Instant, out: &mut Actions) {
        let mut any = false;
        let Supervisor { cfg, svcs, .. } = self;
        for id in 0..svcs.len() {
            let Some(s) = svcs.get(id) else { continue };
            if !s.has_instance() {
                continue;
            }
            any = true;
            // Signalled once nothing still running comes after it.
            let me = bit(usize::from(s.def));
            let needed = !s.removed
                && svcs
                    .iter()
                    .any(|o| o.has_instance() && !o.removed && cfg.defs.get(usize::from(o.def)).is_some_and(|od| od.after & me != 0));
            if !needed && let Some(s) = svcs.get_mut(id) {
                let Some(def) = Self::def_in(cfg, s) else { continue };
                s.want = Want::Down;
                s.stop(Why::Stop, def, now, out);
            }
        }
        if !any {
            crate::service::emit(out, Action::Exit);
        }
    }

    /// When the supervisor next has work; None: sleep until an event.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.svcs.iter().fold(None, |acc, s| earliest(acc, s.deadline()))
    }

    /// The main pid of a service's serving instance.
    pub fn pid(&self, id: u8) -> Option<i32> {
        self.svcs.get(usize::from(id))?.serving().map(|i| i.pid).filter(|&p| p > 0)
    }

    /// Whether `pid` is the main process of a running instance.
    pub fn is_instance(&self, pid: i32) -> bool {
        self.svcs.iter().any(|s| s.instance_of(pid).is_some())
    }

    /// True when none of the slots in `mask` has an instance left.
    pub fn all_down(&self, mask: u64) -> bool {
        self.svcs.iter().enumerate().all(|(i, s)| mask & bit(i) == 0 || !s.has_instance())
    }

    /// Whether slot `id`'s sockets are to be watched (start = on-connect).
    pub fn watching(&self, id: usize) -> bool {
        self.svcs.get(id).is_some_and(|s| s.rest == crate::service::Rest::Watching && !s.has_instance() && !s.removed)
    }

    /// The slot whose definition holds `cfg.listens[n]`.
    pub fn listener(&self, n: usize) -> Option<u8> {
        let def = self
            .cfg
            .defs
            .iter()
            .position(|d| (usize::from(d.listen.first)..usize::from(d.listen.first) + usize::from(d.listen.count)).contains(&n))?;
        self.slot_of_def(def).map(|i| i as u8)
    }

    /// The slots of live (not removed) services, as a mask.
    pub fn live(&self) -> u64 {
        self.svcs.iter().enumerate().filter(|(_, s)| !s.removed).fold(0u64, |m, (i, _)| m | bit(i))
    }
}

#[cfg(test)]
mod notify_tests;
#[cfg(test)]
mod pin_tests;
#[cfg(test)]
mod probe_tests;
#[cfg(test)]
pub mod tests;
#[cfg(test)]
mod upgrade_tests;
