//! One service: what the user wants, what its instances are doing, and what
//! happens next: (state, event, now) → new state + actions. A service is not
//! a process: it owns up to MAX_INSTANCES instances, each with a role (new,
//! serving, draining), so that an upgrade can run a new one beside the old;
//! an exit is judged by the role of the instance that exited. The words
//! (states, phases, actions) are in words.rs, upgrades in upgrade.rs. No
//! syscalls.

mod upgrade;
mod words;

pub use words::*;

use crate::backoff;
use crate::config::{Def, Ready, Restart};
use crate::duration::Instant;
use crate::limits::MAX_INSTANCES;
use crate::pin::Pin;
use crate::signame::{ABRT, CONT, KILL};

// Out of line: heapless's push inlined at each of some twenty call sites
// cost 30 bytes apiece.
#[inline(never)]
pub(crate) fn emit(out: &mut Actions, a: Action) {
    // MAX_ACTIONS covers one action per instance plus a few; a full list would
    // lose a signal, which the stop timeout then repairs.
    let _ = out.push(a);
}

/// SIGKILL to the group of `pid`. Out of line, as `emit`: the action built
/// at each of six call sites cost more.
#[inline(never)]
fn kill(out: &mut Actions, pid: i32) {
    emit(out, Action::Signal { pid, sig: KILL, group: true });
}

/// One service slot. Slots never move while a definition exists.
#[derive(Clone, Copy, Debug)]
pub struct Service {
    /// The index of its definition in the current config.
    pub def: u8,
    /// Bumped when a reload gives the service a new definition.
    pub generation: u32,
    pub want: Want,
    pub rest: Rest,
    /// Consecutive short runs, for backoff.
    pub failures: u16,
    /// Spawns so far; restarts are the spawns after the first.
    pub spawns: u32,
    pub last: Option<Exit>,
    pub note: Note,
    /// Dropped from the config by a reload: stopping, then the slot is free.
    pub removed: bool,
    pub upgrade: Upgrade,
    /// Upgrades begun so far (wrapping).
    pub upgrades: u8,
    /// A probe killed after its instance ended (0: none): reaped quietly.
    pub stray: i32,
    /// Its pinned releases (which records of `Pins` run, and the next spawn's).
    pub pin: Pin,
    pub inst: [Option<Instance>; MAX_INSTANCES],
}

impl Service {
    pub const fn new(def: u8, want: Want) -> Self {
        Service {
            def,
            generation: 1,
            want,
            rest: Rest::Stopped,
            failures: 0,
            spawns: 0,
            last: None,
            note: Note::None,
            removed: false,
            upgrade: Upgrade::Idle,
            upgrades: 0,
            stray: 0,
            pin: Pin::NONE,
            inst: [None; MAX_INSTANCES],
        }
    }

    /// A service as `up` or a reload first sees it: wanted up with
    /// `start = yes`, its sockets watched with `start = on-connect`.
    pub fn fresh(def: u8, d: &Def) -> Self {
        let mut s = Service::new(def, if d.start { Want::Up } else { Want::Down });
        if d.on_connect && d.start {
            s.rest = Rest::Watching;
        }
        s
    }

    #[inline(never)]
    pub fn serving(&self) -> Option<&Instance> {
        self.inst.iter().flatten().find(|i| i.role == Role::Serving)
    }

    pub fn has_instance(&self) -> bool {
        self.inst.iter().any(|i| i.is_some())
    }

    pub fn restarts(&self) -> u32 {
        self.spawns.saturating_sub(1)
    }

    pub fn state(&self) -> State {
        match self.serving().map(|i| i.phase) {
            Some(InstPhase::Spawning | InstPhase::Starting { .. }) => State::Starting,
            Some(InstPhase::Ready { .. }) => State::Running,
            Some(InstPhase::Stopping { .. } | InstPhase::Lingering { .. }) => State::Stopping,
            None if self.role(Role::New).is_some() => State::Starting,
            None if self.has_instance() => State::Stopping,
            None => match self.rest {
                Rest::Stopped | Rest::Watching => State::Stopped,
                Rest::Backoff { .. } => State::Backoff,
                Rest::Done => State::Done,
                Rest::Failed => State::Failed,
            },
        }
    }

    /// Whether services `after` this one may start: it is ready, or done
    /// (a oneshot only when done).
    pub fn satisfies_after(&self, def: &Def) -> bool {
        let ready = matches!(self.serving().map(|i| i.phase), Some(InstPhase::Ready { .. }));
        (ready && !def.oneshot) || self.rest == Rest::Done
    }

    /// Whether it may start now (its `after` is checked by the supervisor).
    pub fn wants_start(&self) -> bool {
        self.want == Want::Up && !self.has_instance() && self.rest == Rest::Stopped && !self.removed
    }

    /// A removed service whose processes are gone: the slot may be reused.
    pub fn is_vacant(&self) -> bool {
        self.removed && !self.has_instance()
    }

    /// Takes a process found running without svc's state (after svc
    /// re-executed itself) as an instance, ready since `now`: the first
    /// serves, later ones (an upgrade's pair, oldest first) drain. Its
    /// index; None when full.
    pub fn adopt(&mut self, pid: i32, now: Instant) -> Option<usize> {
        let role = if self.serving().is_some() { Role::Draining } else { Role::Serving };
        let k = self.inst.iter().position(|i| i.is_none())?;
        let generation = self.generation;
        *self.inst.get_mut(k)? =
            Some(Instance { pid, started: now, phase: InstPhase::Ready { dog: None }, role, generation, probe: 0, session: pid });
        self.want = Want::Up;
        self.rest = Rest::Stopped;
        self.spawns = self.spawns.max(1);
        Some(k)
    }

    /// Claims a free instance slot as the serving instance and asks for a spawn.
    pub fn start(&mut self, id: u8, now: Instant, out: &mut Actions) {
        self.claim(id, Role::Serving, self.generation, now, out);
    }

    /// Claims a free instance slot for an instance of `role` and asks for
    /// its spawn; false when none is free.
    #[inline(never)]
    fn claim(&mut self, id: u8, role: Role, generation: u32, now: Instant, out: &mut Actions) -> bool {
        let Some(k) = self.inst.iter().position(|i| i.is_none()) else { return false };
        if let Some(slot) = self.inst.get_mut(k) {
            *slot = Some(Instance { pid: 0, started: now, phase: InstPhase::Spawning, role, generation, probe: 0, session: 0 });
            emit(out, Action::Spawn { id, inst: k as u8 });
        }
        true
    }

    /// The exec succeeded: the instance runs as `pid`, release `rel` (a
    /// record of `Pins`, or `pin::NONE` / `pin::FULL`: unpinned).
    pub fn spawned(&mut self, inst: usize, pid: i32, rel: u8, def: &Def, now: Instant) {
        let Some(Some(i)) = self.inst.get_mut(inst) else { return };
        self.pin.spawned(i.role == Role::New, rel);
        self.spawns = self.spawns.saturating_add(1);
        self.note = Note::None;
        i.pid = pid;
        i.session = pid;
        i.started = now;
        // When a starting instance is taken as ready without a word from it
        // (None: it must say so, or its probe must pass).
        let ready_at = match def.ready {
            // A new instance beside a serving one proves itself by staying up.
            Ready::None if i.role == Role::New => Some(def.upgrade_delay),
            Ready::None => {
                i.phase = InstPhase::Ready { dog: None };
                return self.check_upgrade();
            }
            Ready::Delay(d) => Some(d),
            Ready::Fd(_) | Ready::Notify => None,
            // A server just exec'd is rarely ready: the first probe waits too.
            Ready::Exec(_) => Some(def.probe_interval),
        };
        i.phase = InstPhase::Starting { ready_by: now + def.ready_timeout, ready_at: ready_at.map(|d| now + d) };
        self.check_upgrade();
    }

    /// The spawn failed at `step`: a failed run of no length.
    pub fn spawn_failed(&mut self, id: u8, inst: usize, step: Step, errno: i32, def: &Def, now: Instant, out: &mut Actions) {
        let Some(Some(i)) = self.inst.get_mut(inst).map(|s| s.take()) else { return };
        self.spawns = self.spawns.saturating_add(1);
        emit(out, Action::Ended { id, inst: inst as u8 });
        self.note = Note::Spawn { step, errno };
        match i.role {
            Role::Serving => self.after_run(false, None, now, now, def),
            Role::New => self.new_failed(id, Some(Exit::Code(127)), def, now, out),
            Role::Draining => {}
        }
    }

    /// The instance's readiness channel said ready.
    pub fn ready(&mut self, inst: usize, def: &Def, now: Instant, out: &mut Actions) {
        if let Some(Some(i)) = self.inst.get_mut(inst)
            && matches!(i.phase, InstPhase::Starting { .. })
        {
            make_ready(&mut i.phase, def, now);
        }
        self.promote(def, now, out);
        self.check_upgrade();
    }

    /// The probe of instance `inst` runs as `pid`. One that no starting
    /// instance waits for (it ended meanwhile) is killed.
    pub fn probe_spawned(&mut self, inst: usize, pid: i32, out: &mut Actions) {
        match self.inst.get_mut(inst) {
            Some(Some(i)) if matches!(i.phase, InstPhase::Starting { .. }) && i.probe == 0 => i.probe = pid,
            _ => {
                kill(out, pid);
                self.stray = pid;
            }
        }
    }

    /// The probe `pid` of instance `inst` ended: exit 0 makes the instance
    /// ready; anything else sets the next probe's time.
    pub fn probe_exited(&mut self, inst: usize, exit: Exit, def: &Def, now: Instant, out: &mut Actions) {
        let Some(Some(i)) = self.inst.get_mut(inst) else { return };
        i.probe = 0;
        if let InstPhase::Starting { ready_at, .. } = &mut i.phase {
            if exit == Exit::Code(0) {
                self.ready(inst, def, now, out);
            } else {
                *ready_at = Some(now + def.probe_interval);
            }
        }
    }

    /// The probe of instance `inst` could not be spawned: tried again after the interval.
    pub fn probe_failed(&mut self, inst: usize, def: &Def, now: Instant) {
        if let Some(Some(i)) = self.inst.get_mut(inst)
            && let InstPhase::Starting { ready_at: at @ None, .. } = &mut i.phase
        {
            *at = Some(now + def.probe_interval);
        }
    }

    /// The instance whose probe is `pid`.
    pub fn probe_of(&self, pid: i32) -> Option<usize> {
        self.inst.iter().position(|i| i.is_some_and(|i| i.probe == pid && pid > 0))
    }

    /// What instance `inst` said on its notify socket.
    pub fn notify(&mut self, inst: usize, what: Notice, def: &Def, now: Instant, out: &mut Actions) {
        let Some(Some(i)) = self.inst.get_mut(inst) else { return };
        match (what, i.phase) {
            (Notice::Ready, _) => self.ready(inst, def, now, out),
            // As systemd reads it: a new deadline, not an addition.
            (Notice::Extend(d), InstPhase::Starting { ready_at, .. }) => i.phase = InstPhase::Starting { ready_by: now + d, ready_at },
            (Notice::Watchdog, InstPhase::Ready { .. }) => make_ready(&mut i.phase, def, now),
            (Notice::Trigger, InstPhase::Starting { .. } | InstPhase::Ready { .. }) => bite(i, def, now, out),
            // Its exit is seen once it is svc's child (its parent, the old
            // main process, has exited: svc is a subreaper, or PID 1).
            (Notice::MainPid(pid), InstPhase::Starting { .. } | InstPhase::Ready { .. }) => i.pid = pid,
            (Notice::Stopping, InstPhase::Starting { .. } | InstPhase::Ready { .. }) => {
                i.phase = InstPhase::Stopping { why: Why::Exiting, kill_at: Some(now + def.stop_timeout) }
            }
            _ => {}
        }
    }

    /// The main process of instance `inst` exited with `exit`. An instance
    /// that was being stopped lingers until its process group is empty: the
    /// OS layer is asked (a signal 0 to the group) and says so with
    /// `group_gone`.
    pub fn exited(&mut self, id: u8, inst: usize, exit: Exit, def: &Def, now: Instant, out: &mut Actions) {
        let Some(Some(i)) = self.inst.get_mut(inst) else { return };
        if let InstPhase::Stopping { why, kill_at } = i.phase {
            i.phase = InstPhase::Lingering { why, kill_at, exit };
            emit(out, Action::Signal { pid: i.pid, sig: 0, group: true });
            return;
        }
        self.end(id, inst, exit, def, now, out);
    }

    /// The process group of instance `inst` has no member left.
    pub fn group_gone(&mut self, id: u8, inst: usize, def: &Def, now: Instant, out: &mut Actions) {
        if let Some(Some(Instance { phase: InstPhase::Lingering { exit, .. }, .. })) = self.inst.get(inst) {
            let exit = *exit;
            self.end(id, inst, exit, def, now, out);
        }
    }

    /// Asks again whether lingering groups are empty (after an orphan was reaped).
    pub fn probe_lingering(&self, out: &mut Actions) {
        for i in self.inst.iter().flatten() {
            if matches!(i.phase, InstPhase::Lingering { .. }) {
                emit(out, Action::Signal { pid: i.pid, sig: 0, group: true });
            }
        }
    }

    /// Instance `inst` is over: judged by its role.
    fn end(&mut self, id: u8, inst: usize, exit: Exit, def: &Def, now: Instant, out: &mut Actions) {
        let Some(slot) = self.inst.get_mut(inst) else { return };
        let Some(i) = slot.take() else { return };
        emit(out, Action::Ended { id, inst: inst as u8 });
        if i.probe > 0 {
            // Killed by the stop already, or now: its exit is reaped quietly.
            kill(out, i.probe);
            self.stray = i.probe;
        }
        let why = match i.phase {
            InstPhase::Stopping { why, .. } | InstPhase::Lingering { why, .. } => Some(why),
            _ => None,
        };
        match i.role {
            // A draining instance finished.
            Role::Draining => return,
            Role::New => {
                let how = if why == Some(Why::ReadyTimeout) { None } else { Some(exit) };
                return self.new_failed(id, how, def, now, out);
            }
            Role::Serving => {}
        }
        self.last = Some(exit);
        if self.role(Role::New).is_some() {
            // A new instance is on its way: it serves once ready, and no
            // second one starts meanwhile.
            return;
        }
        let success = match why {
            Some(Why::Stop | Why::Restart) => true,
            Some(Why::ReadyTimeout | Why::Watchdog) => false,
            Some(Why::Exiting) | None => exit == Exit::Code(0),
        };
        self.after_run(success, why, i.started, now, def);
        // A run that ended by itself (after a stop the group is empty
        // already) and that another run follows: what it left in its process
        // group (a crashed master's workers, a shell's background jobs, a
        // fork bomb) is killed first, so that no run starts beside it. A run
        // that ends for good leaves it be: a oneshot may start a daemon.
        if why.is_none() && matches!(self.rest, Rest::Backoff { .. } | Rest::Watching) {
            // The group only (a negative pid): the main process is reaped.
            kill(out, -i.pid);
        }
        self.check_upgrade();
    }

    /// Decides what follows a run that started at `started` and ended now.
    fn after_run(&mut self, success: bool, why: Option<Why>, started: Instant, now: Instant, def: &Def) {
        if now.since(started) >= def.stable {
            self.failures = 0;
        }
        match why {
            Some(Why::ReadyTimeout) => self.note = Note::ReadyTimeout,
            Some(Why::Watchdog) => self.note = Note::Watchdog,
            _ => {}
        }
        let restart = match (self.want, why) {
            (Want::Down, _) => {
                self.rest = Rest::Stopped;
                return;
            }
            (Want::Up, Some(Why::Restart)) => {
                // Asked for: start again at once (the supervisor does it).
                self.rest = Rest::Stopped;
                return;
            }
            _ if def.oneshot => false,
            // Socket-activated servers often exit when idle: watch again.
            _ if def.on_connect && success => {
                self.rest = Rest::Watching;
                return;
            }
            _ => match def.restart {
                Restart::Always => true,
                Restart::OnFailure => !success,
                Restart::Never => false,
            },
        };
        if restart {
            // Every short run counts, a clean exit too: an `always` service
            // that exits 0 at once must not restart in a tight loop.
            let d = backoff::delay(def.backoff_first, def.backoff_max, self.failures);
            self.failures = self.failures.saturating_add(1);
            self.rest = Rest::Backoff { until: now + d };
        } else {
            self.rest = if success { Rest::Done } else { Rest::Failed };
        }
    }

    /// Signals every live instance to stop, for `why`.
    pub fn stop(&mut self, why: Why, def: &Def, now: Instant, out: &mut Actions) {
        for i in self.inst.iter_mut().flatten() {
            stop_instance(i, why, def, now, out);
        }
    }

    /// `svc stop`: want down; stop the instance, cancel a pending restart.
    pub fn want_down(&mut self, def: &Def, now: Instant, out: &mut Actions) {
        self.want = Want::Down;
        self.stop(Why::Stop, def, now, out);
        if !self.has_instance() {
            self.rest = Rest::Stopped;
        }
    }

    /// `svc start`: want up; a done, failed or waiting service starts afresh
    /// (an on-connect one at its next connection).
    pub fn want_up(&mut self, def: &Def) {
        self.want = Want::Up;
        if !self.has_instance() {
            self.rest = if def.on_connect { Rest::Watching } else { Rest::Stopped };
            self.failures = 0;
        }
    }

    /// A watched socket is readable: an on-connect service starts.
    pub fn connection(&mut self) {
        if self.rest == Rest::Watching && self.want == Want::Up && !self.has_instance() {
            self.rest = Rest::Stopped;
        }
    }

    /// Acts on the deadlines that have come.
    pub fn tick(&mut self, id: u8, def: &Def, now: Instant, out: &mut Actions) {
        if let Rest::Backoff { until } = self.rest
            && until <= now
            && !self.has_instance()
        {
            // An on-connect service waits for its next connection again.
            self.rest = if def.on_connect { Rest::Watching } else { Rest::Stopped };
        }
        let mut timed_out = false;
        let probe = matches!(def.ready, Ready::Exec(_));
        for (k, i) in self.inst.iter_mut().enumerate() {
            let Some(i) = i else { continue };
            // The stop timeout: SIGKILL to the group, once; to the group only
            // (-pid) once the main process is reaped (lingering).
            let reaped = matches!(i.phase, InstPhase::Lingering { .. });
            if let InstPhase::Stopping { kill_at, .. } | InstPhase::Lingering { kill_at, .. } = &mut i.phase
                && kill_at.is_some_and(|at| at <= now)
            {
                *kill_at = None;
                kill(out, if reaped { -i.pid } else { i.pid });
            }
            match i.phase {
                InstPhase::Starting { ready_at: Some(at), .. } if at <= now && !probe => make_ready(&mut i.phase, def, now),
                InstPhase::Starting { ready_by, .. } if ready_by <= now => {
                    timed_out = true;
                    if probe {
                        emit(out, Action::ProbeLog { id });
                    }
                    stop_instance(i, Why::ReadyTimeout, def, now, out);
                }
                InstPhase::Starting { ready_by, ready_at: Some(at) } if at <= now => {
                    emit(out, Action::Probe { id, inst: k as u8 });
                    i.phase = InstPhase::Starting { ready_by, ready_at: None };
                }
                InstPhase::Ready { dog: Some(at) } if at <= now => bite(i, def, now, out),
                _ => {}
            }
        }
        if timed_out {
            self.note = Note::ReadyTimeout;
        }
        self.promote(def, now, out);
        self.check_upgrade();
    }

    /// The earliest instant at which `tick` has something to do.
    pub fn deadline(&self) -> Option<Instant> {
        let mut d = match self.rest {
            Rest::Backoff { until } if !self.has_instance() => Some(until),
            _ => None,
        };
        for i in self.inst.iter().flatten() {
            let t = match i.phase {
                InstPhase::Starting { ready_by, ready_at } => Some(ready_at.map_or(ready_by, |a| a.min(ready_by))),
                InstPhase::Stopping { kill_at, .. } | InstPhase::Lingering { kill_at, .. } => kill_at,
                InstPhase::Ready { dog } => dog,
                InstPhase::Spawning => None,
            };
            d = earliest(d, t);
        }
        d
    }

    /// The instance whose main process is `pid` (and is still running).
    pub fn instance_of(&self, pid: i32) -> Option<usize> {
        self.inst.iter().position(|i| i.is_some_and(|i| i.pid == pid && pid != 0 && !matches!(i.phase, InstPhase::Lingering { .. })))
    }

    /// The lingering instance whose group `pid` leads.
    pub fn lingering(&self, pid: i32) -> Option<usize> {
        self.inst.iter().position(|i| i.is_some_and(|i| i.pid == pid && matches!(i.phase, InstPhase::Lingering { .. })))
    }
}

/// Ready now; with a `watchdog`, petted by `WATCHDOG=1` from now on.
/// (Written in place: the phase returned by value was copied at each caller.)
#[inline(never)]
fn make_ready(phase: &mut InstPhase, def: &Def, now: Instant) {
    *phase = InstPhase::Ready { dog: (def.watchdog.as_millis() > 0).then(|| now + def.watchdog) };
}

/// The watchdog bites: SIGABRT to the main process, then the stop sequence.
fn bite(i: &mut Instance, def: &Def, now: Instant, out: &mut Actions) {
    // SIGABRT alone (as systemd's watchdog): a stop signal sent with it
    // could end the process first and hide the abort; SIGKILL to the group
    // follows at stop_timeout.
    emit(out, Action::Signal { pid: i.pid, sig: ABRT, group: false });
    i.phase = InstPhase::Stopping { why: Why::Watchdog, kill_at: Some(now + def.stop_timeout) };
}

pub(super) fn stop_instance(i: &mut Instance, why: Why, def: &Def, now: Instant, out: &mut Actions) {
    match &mut i.phase {
        // A plain stop outranks a restart or a timeout already under way; a
        // restart asked for outranks an end the instance announced
        // (STOPPING=1): it starts again once the group is empty, not after a
        // backoff.
        InstPhase::Stopping { why: old, .. } | InstPhase::Lingering { why: old, .. } => {
            if why == Why::Stop || (why == Why::Restart && *old == Why::Exiting) {
                *old = why;
            }
        }
        InstPhase::Spawning => {}
        _ => {
            if i.probe > 0 {
                kill(out, i.probe);
            }
            emit(out, Action::Signal { pid: i.pid, sig: def.stop_signal, group: !def.kill_mixed });
            i.phase = InstPhase::Stopping { why, kill_at: Some(now + def.stop_timeout) };
        }
    }
}

/// The earlier of two optional instants (None: never). Out of line on x86,
/// where its seven inlined copies cost more than the calls (not on aarch64).
#[cfg_attr(any(target_arch = "x86", target_arch = "x86_64"), inline(never))]
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    if b.is_some_and(|y| a.is_none_or(|x| y < x)) { b } else { a }
}

/// SIGCONT follows every stop signal but KILL, so that a stopped process sees it.
pub const fn needs_cont(sig: u8) -> bool {
    sig != KILL && sig != CONT && sig != 0
}

impl ufmt::uDisplay for Step {
    fn fmt<W: ufmt::uWrite + ?Sized>(&self, f: &mut ufmt::Formatter<'_, W>) -> Result<(), W::Error> {
        f.write_str(self.word())
    }
}

#[cfg(test)]
mod tests {
    use super::earliest;
    use crate::duration::Instant;

    #[test]
    fn earliest_is_the_earlier_of_the_instants_given() {
        let (a, b) = (Some(Instant::from_millis(5)), Some(Instant::from_millis(7)));
        for (x, y, want) in [(a, b, a), (b, a, a), (a, a, a), (None, b, b), (a, None, a), (None, None, None)] {
            assert_eq!(earliest(x, y), want, "{x:?} {y:?}");
        }
    }
}
