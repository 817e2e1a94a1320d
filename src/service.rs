//! One service: what the user wants, what its instances are doing, and what
//! happens next: (state, event, now) → new state + actions. A service is not
//! a process: it owns up to MAX_INSTANCES instances, each with a role (new,
//! serving, draining), so that an upgrade can run a new one beside the old;
//! an exit is judged by the role of the instance that exited. No syscalls.

use crate::backoff;
use crate::config::{Def, Ready, Restart};
use crate::duration::Duration;
use crate::duration::Instant;
use crate::limits::MAX_INSTANCES;
use crate::signame::{ABRT, CONT, KILL};
use heapless::Vec;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Want {
    Up,
    Down,
}

/// Why svc is stopping an instance; decides whether its end is a success.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Why {
    /// `svc stop`, shutdown, removal: a success.
    Stop,
    /// `svc restart`: a success, started again at once.
    Restart,
    /// Not ready by `ready_timeout`: a failed run.
    ReadyTimeout,
    /// The watchdog bit (no `WATCHDOG=1` in time, or `WATCHDOG=trigger`): a failed run.
    Watchdog,
    /// The instance said `STOPPING=1`: it ends by itself, judged by its exit.
    Exiting,
}

/// What an instance said on its notify socket (its sender checked).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Notice {
    Ready,
    Stopping,
    /// The ready deadline becomes now + this.
    Extend(Duration),
    Watchdog,
    Trigger,
}

/// What an instance is to its service. Only the serving instance's end runs
/// the restart policy; a draining one may finish in its own time, and a new
/// one (an upgrade's candidate) that fails leaves the serving one alone.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Role {
    Serving,
    New,
    Draining,
}

impl Role {
    pub const fn word(self) -> &'static str {
        match self {
            Role::Serving => "serving",
            Role::New => "new",
            Role::Draining => "draining",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InstPhase {
    /// Forked, waiting for the exec result (pid 0 until then).
    Spawning,
    /// Up, not yet ready. `ready_at`: when `ready = delay:` makes it ready,
    /// or when `ready = exec:` runs its next probe (None while one runs).
    Starting { ready_by: Instant, ready_at: Option<Instant> },
    /// Ready. `dog`: when the watchdog bites unless `WATCHDOG=1` comes first.
    Ready { dog: Option<Instant> },
    /// Signalled; `kill_at` is when SIGKILL follows (None once sent).
    Stopping { why: Why, kill_at: Option<Instant> },
    /// Signalled, and the main process has ended with `exit`; the rest of
    /// its process group has not (yet): the stop is complete once the group
    /// is empty, and `kill_at` still stands for the group.
    Lingering { why: Why, kill_at: Option<Instant>, exit: Exit },
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Instance {
    pub pid: i32,
    pub started: Instant,
    pub phase: InstPhase,
    pub role: Role,
    /// The generation of the definition it runs.
    pub generation: u32,
    /// The pid of its running `ready = exec:` probe (0: none); kept until
    /// the probe is reaped, so that its exit is known as a probe's.
    pub probe: i32,
}

impl Instance {
    /// The instance's own state, in the words of `svc status`.
    pub const fn phase_word(&self) -> &'static str {
        match self.phase {
            InstPhase::Spawning | InstPhase::Starting { .. } => State::Starting.word(),
            InstPhase::Ready { .. } => State::Running.word(),
            InstPhase::Stopping { .. } | InstPhase::Lingering { .. } => State::Stopping.word(),
        }
    }
}

/// What a service is doing while it has no instance.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Rest {
    /// Not running: never started, stopped, or waiting for its `after`.
    Stopped,
    /// `start = on-connect`: not running; svc watches its sockets and starts
    /// it on the first connection or datagram.
    Watching,
    Backoff {
        until: Instant,
    },
    /// Ended in success and is not restarted.
    Done,
    /// Ended in failure and is not restarted.
    Failed,
}

/// Where a service's upgrade (or overlapping restart) stands. One runs at a
/// time; `seq` (on the service) tells a waiting client that its own ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Upgrade {
    Idle,
    /// A new instance runs beside the serving one (`old`), or (no sockets)
    /// replaces it. `restart`: `svc restart`, which starts afresh rather
    /// than roll back. `reload`: a reload's change, which takes the new
    /// definition (and generation) only if the new instance serves.
    Running {
        old: i32,
        restart: bool,
        reload: bool,
    },
    /// The new instance serves; the old one (`old`) drains.
    Upgraded {
        old: i32,
        new: i32,
    },
    /// The new instance exited (how) or was not ready in time (None); the
    /// old one serves on.
    Failed {
        exit: Option<Exit>,
    },
}

/// How `svc upgrade` (or `restart`) began.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Begin {
    /// A new instance starts beside the serving one.
    Overlap,
    /// No sockets to share: stopped, started afresh; the reply waits for ready.
    Restart,
    /// Not running (backoff, done, failed): started now.
    Started,
    /// Stopped by hand: stays stopped; its next start uses the definition.
    Stopped,
    /// An upgrade is already under way.
    Busy,
    /// `upgrade_signal` went to the main process.
    Signalled,
}

/// How a process ended: what `waitpid` says, in the words of `svc status`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Exit {
    Code(u8),
    Signal(u8),
}

/// Which step of a spawn failed: in svc (`Fork`) or in the child before exec.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Step {
    /// In svc itself: pipe2 or fork (EMFILE, EAGAIN), or a malformed spec.
    Fork,
    Setsid,
    /// Moving stdin, stdout, stderr and the ready fd into place.
    Fds,
    Chdir,
    Rlimit,
    Groups,
    Gid,
    Uid,
    Exec,
}

impl Step {
    const ALL: [Step; 9] = [Step::Fork, Step::Setsid, Step::Fds, Step::Chdir, Step::Rlimit, Step::Groups, Step::Gid, Step::Uid, Step::Exec];

    pub const fn word(self) -> &'static str {
        match self {
            Step::Fork => "fork",
            Step::Setsid => "setsid",
            Step::Fds => "fds",
            Step::Chdir => "chdir",
            Step::Rlimit => "rlimit",
            Step::Groups => "setgroups",
            Step::Gid => "setgid",
            Step::Uid => "setuid",
            Step::Exec => "exec",
        }
    }

    /// The step from its byte (as the child sends it back); an unknown one
    /// can only be a bug, and is reported as the exec it prevented.
    pub fn from_byte(b: u8) -> Step {
        Self::ALL.get(usize::from(b)).copied().unwrap_or(Step::Exec)
    }
}

/// Why the last run went wrong, when the exit status does not say it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Note {
    None,
    /// A step of the spawn failed with this errno.
    Spawn {
        step: Step,
        errno: i32,
    },
    ReadyTimeout,
    /// The watchdog ended the last run.
    Watchdog,
    /// The last upgrade's new instance exited (how) or was not ready in time.
    Upgrade {
        exit: Option<Exit>,
    },
    /// svc could not signal the instance (EPERM: it changed its user).
    Signal {
        sig: u8,
        errno: i32,
    },
}

/// The words of `svc status`, the same in code, output and README.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum State {
    Starting,
    Running,
    Backoff,
    Stopping,
    Stopped,
    Done,
    Failed,
}

impl State {
    pub const fn word(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Running => "running",
            State::Backoff => "backoff",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
            State::Done => "done",
            State::Failed => "failed",
        }
    }
    /// Up as `svc status NAME` judges it (exit 0 rather than 3).
    pub const fn is_up(self) -> bool {
        matches!(self, State::Starting | State::Running | State::Done)
    }
}

impl ufmt::uDisplay for State {
    fn fmt<W: ufmt::uWrite + ?Sized>(&self, f: &mut ufmt::Formatter<'_, W>) -> Result<(), W::Error> {
        f.write_str(self.word())
    }
}

/// What the OS layer is asked to do. One that fails comes back as an event.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Action {
    /// Fork and exec instance `inst` of service `id`; the outcome comes back
    /// as `Event::Spawned` or `Event::SpawnFailed`.
    Spawn { id: u8, inst: u8 },
    /// Run the `ready = exec:` probe of instance `inst` of `id`; the outcome
    /// comes back as `Event::ProbeSpawned` or `Event::ProbeFailed`.
    Probe { id: u8, inst: u8 },
    /// The instance reached `ready_timeout` probing: log the last probe's output.
    ProbeLog { id: u8 },
    /// Send `sig` to the process group led by `pid` (to `pid` if the group is
    /// gone), then SIGCONT; or, without `group`, to `pid` alone. With `sig`
    /// 0, only ask whether the group still has a member. A failure comes
    /// back as `Event::SignalFailed`.
    Signal { pid: i32, sig: u8, group: bool },
    /// `svc signal`: send `sig` to `pid` alone and tell control client
    /// `client` how it went.
    Send { pid: i32, sig: u8, client: u8 },
    /// The instance is gone: close what svc held for it (its pipes).
    Ended { id: u8, inst: u8 },
    /// Slot `id` now holds a new definition: set up its log storage afresh.
    Assigned { id: u8 },
    /// A reload's upgrade of slot `id` failed: its definition goes back to
    /// the one before the reload.
    Restore { id: u8 },
    /// Shutdown finished: every service is down.
    Exit,
}

pub type Actions = Vec<Action, { crate::limits::MAX_ACTIONS }>;

fn emit(out: &mut Actions, a: Action) {
    // MAX_ACTIONS covers one action per instance plus a few; a full list would
    // lose a signal, which the stop timeout then repairs.
    let _ = out.push(a);
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

    /// Claims a free instance slot as the serving instance and asks for a spawn.
    pub fn start(&mut self, id: u8, now: Instant, out: &mut Actions) {
        let generation = self.generation;
        let Some(k) = self.inst.iter().position(|i| i.is_none()) else { return };
        if let Some(slot) = self.inst.get_mut(k) {
            *slot = Some(Instance { pid: 0, started: now, phase: InstPhase::Spawning, role: Role::Serving, generation, probe: 0 });
            emit(out, Action::Spawn { id, inst: k as u8 });
        }
    }

    /// The exec succeeded: the instance runs as `pid`.
    pub fn spawned(&mut self, inst: usize, pid: i32, def: &Def, now: Instant) {
        let Some(Some(i)) = self.inst.get_mut(inst) else { return };
        self.spawns = self.spawns.saturating_add(1);
        self.note = Note::None;
        i.pid = pid;
        i.started = now;
        i.phase = match def.ready {
            // A new instance beside a serving one proves itself by staying up.
            Ready::None if i.role == Role::New => {
                InstPhase::Starting { ready_by: now + def.ready_timeout, ready_at: Some(now + def.upgrade_delay) }
            }
            Ready::None => InstPhase::Ready { dog: None },
            Ready::Delay(d) => InstPhase::Starting { ready_by: now + def.ready_timeout, ready_at: Some(now + d) },
            Ready::Fd(_) | Ready::Notify => InstPhase::Starting { ready_by: now + def.ready_timeout, ready_at: None },
            // A server just exec'd is rarely ready: the first probe waits too.
            Ready::Exec(_) => InstPhase::Starting { ready_by: now + def.ready_timeout, ready_at: Some(now + def.probe_interval) },
        };
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
            i.phase = ready_phase(def, now);
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
                emit(out, Action::Signal { pid, sig: KILL, group: true });
                self.stray = pid;
            }
        }
    }

    /// The probe `pid` of instance `inst` ended: exit 0 makes the instance
    /// ready; anything else sets the next probe's time.
    pub fn probe_exited(&mut self, inst: usize, exit: Exit, def: &Def, now: Instant, out: &mut Actions) {
        let Some(Some(i)) = self.inst.get_mut(inst) else { return };
        i.probe = 0;
        if let InstPhase::Starting { ready_by, .. } = i.phase {
            if exit == Exit::Code(0) {
                self.ready(inst, def, now, out);
            } else {
                i.phase = InstPhase::Starting { ready_by, ready_at: Some(now + def.probe_interval) };
            }
        }
    }

    /// The probe of instance `inst` could not be spawned: tried again after the interval.
    pub fn probe_failed(&mut self, inst: usize, def: &Def, now: Instant) {
        if let Some(Some(i)) = self.inst.get_mut(inst)
            && let InstPhase::Starting { ready_by, ready_at: None } = i.phase
        {
            i.phase = InstPhase::Starting { ready_by, ready_at: Some(now + def.probe_interval) };
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
            (Notice::Watchdog, InstPhase::Ready { .. }) => i.phase = ready_phase(def, now),
            (Notice::Trigger, InstPhase::Starting { .. } | InstPhase::Ready { .. }) => bite(i, def, now, out),
            (Notice::Stopping, InstPhase::Starting { .. } | InstPhase::Ready { .. }) => {
                i.phase = InstPhase::Stopping { why: Why::Exiting, kill_at: Some(now + def.stop_timeout) }
            }
            _ => {}
        }
    }

    /// The slot of the instance with `role`.
    pub fn role(&self, role: Role) -> Option<usize> {
        self.inst.iter().position(|i| i.is_some_and(|i| i.role == role))
    }

    /// `svc upgrade` (and `svc restart`, with `restart`): a new instance on
    /// the same sockets beside the serving one, or (no sockets) a stop and a
    /// start.
    pub fn begin_upgrade(&mut self, id: u8, restart: bool, reload: bool, def: &Def, now: Instant, out: &mut Actions) -> Begin {
        if matches!(self.upgrade, Upgrade::Running { .. }) {
            return Begin::Busy;
        }
        if self.want == Want::Down {
            return Begin::Stopped;
        }
        let Some(serving) = self.serving().filter(|i| matches!(i.phase, InstPhase::Ready { .. } | InstPhase::Starting { .. })) else {
            if self.has_instance() {
                // Stopping or spawning: no instance to overlap with.
                return Begin::Busy;
            }
            self.want_up(def);
            self.rest = Rest::Stopped;
            return Begin::Started;
        };
        let old = serving.pid;
        if def.listen.count == 0 {
            // Nothing to share: stop, then start. A restart is answered at once.
            self.stop(Why::Restart, def, now, out);
            if !restart {
                self.upgrades = self.upgrades.wrapping_add(1);
                self.upgrade = Upgrade::Running { old, restart, reload };
            }
            return Begin::Restart;
        }
        self.upgrades = self.upgrades.wrapping_add(1);
        self.upgrade = Upgrade::Running { old, restart, reload };
        let generation = self.generation.wrapping_add(u32::from(reload));
        let Some(k) = self.inst.iter().position(|i| i.is_none()) else {
            self.upgrade = Upgrade::Idle;
            return Begin::Busy;
        };
        if let Some(slot) = self.inst.get_mut(k) {
            *slot = Some(Instance { pid: 0, started: now, phase: InstPhase::Spawning, role: Role::New, generation, probe: 0 });
            emit(out, Action::Spawn { id, inst: k as u8 });
        }
        Begin::Overlap
    }

    /// A new instance that is ready serves; the old one drains (its stop
    /// signal, SIGKILL at its stop timeout).
    fn promote(&mut self, def: &Def, now: Instant, out: &mut Actions) {
        let Some(k) = self.role(Role::New) else { return };
        if !matches!(self.inst.get(k), Some(Some(Instance { phase: InstPhase::Ready { .. }, .. }))) {
            return;
        }
        let mut old = 0;
        for i in self.inst.iter_mut().flatten() {
            if i.role == Role::Serving {
                old = i.pid;
                i.role = Role::Draining;
                stop_instance(i, Why::Stop, def, now, out);
            }
        }
        let mut new = 0;
        if let Some(Some(i)) = self.inst.get_mut(k) {
            i.role = Role::Serving;
            new = i.pid;
        }
        self.note = Note::None;
        self.rest = Rest::Stopped;
        if let Upgrade::Running { reload: true, .. } = self.upgrade {
            self.generation = self.generation.wrapping_add(1);
        }
        self.upgrade = Upgrade::Upgraded { old, new };
    }

    /// An upgrade without sockets (stop, then start) ends when the new
    /// serving instance is ready, or when its run failed.
    fn check_upgrade(&mut self) {
        let Upgrade::Running { old, .. } = self.upgrade else { return };
        if self.role(Role::New).is_some() {
            return;
        }
        match self.serving() {
            Some(i) if i.pid != old && matches!(i.phase, InstPhase::Ready { .. }) => self.upgrade = Upgrade::Upgraded { old, new: i.pid },
            None if matches!(self.rest, Rest::Backoff { .. } | Rest::Failed) => self.upgrade = Upgrade::Failed { exit: self.last },
            _ => {}
        }
    }

    /// The new instance is gone before it served: the old one serves on
    /// (an upgrade rolls back); a restart starts afresh instead.
    fn new_failed(&mut self, id: u8, exit: Option<Exit>, def: &Def, now: Instant, out: &mut Actions) {
        let restart = matches!(self.upgrade, Upgrade::Running { restart: true, .. });
        if let Upgrade::Running { reload: true, .. } = self.upgrade {
            // The old instance serves on: so does its definition.
            emit(out, Action::Restore { id });
        }
        self.upgrade = Upgrade::Failed { exit };
        self.note = Note::Upgrade { exit };
        if restart && self.want == Want::Up {
            self.stop(Why::Restart, def, now, out);
        }
        if self.serving().is_none() && !self.has_instance() {
            // The serving one crashed meanwhile: the usual policy decides.
            self.after_run(false, None, now, now, def);
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
            emit(out, Action::Signal { pid: i.probe, sig: KILL, group: true });
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
            match i.phase {
                InstPhase::Starting { ready_at: Some(at), .. } if at <= now && !probe => i.phase = ready_phase(def, now),
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
                InstPhase::Stopping { why, kill_at: Some(at) } if at <= now => {
                    emit(out, Action::Signal { pid: i.pid, sig: KILL, group: true });
                    i.phase = InstPhase::Stopping { why, kill_at: None };
                }
                InstPhase::Lingering { why, kill_at: Some(at), exit } if at <= now => {
                    emit(out, Action::Signal { pid: i.pid, sig: KILL, group: true });
                    i.phase = InstPhase::Lingering { why, kill_at: None, exit };
                }
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
fn ready_phase(def: &Def, now: Instant) -> InstPhase {
    InstPhase::Ready { dog: (def.watchdog.as_millis() > 0).then(|| now + def.watchdog) }
}

/// The watchdog bites: SIGABRT to the main process, then the stop sequence.
fn bite(i: &mut Instance, def: &Def, now: Instant, out: &mut Actions) {
    emit(out, Action::Signal { pid: i.pid, sig: ABRT, group: false });
    stop_instance(i, Why::Watchdog, def, now, out);
}

fn stop_instance(i: &mut Instance, why: Why, def: &Def, now: Instant, out: &mut Actions) {
    match i.phase {
        InstPhase::Stopping { why: old, kill_at } => {
            // A plain stop outranks a restart or a timeout already under way.
            if why == Why::Stop && old != Why::Stop {
                i.phase = InstPhase::Stopping { why, kill_at };
            }
        }
        InstPhase::Lingering { why: old, kill_at, exit } => {
            if why == Why::Stop && old != Why::Stop {
                i.phase = InstPhase::Lingering { why, kill_at, exit };
            }
        }
        InstPhase::Spawning => {}
        _ => {
            if i.probe > 0 {
                emit(out, Action::Signal { pid: i.probe, sig: KILL, group: true });
            }
            emit(out, Action::Signal { pid: i.pid, sig: def.stop_signal, group: !def.kill_mixed });
            i.phase = InstPhase::Stopping { why, kill_at: Some(now + def.stop_timeout) };
        }
    }
}

pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
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
