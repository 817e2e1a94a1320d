//! The words of a service's life: what the user wants (`Want`), what its
//! instances are (`Role`, `InstPhase`, `Instance`), what it does between
//! them (`Rest`), how a run ended (`Exit`, `Step`, `Note`), the state
//! `svc status` shows, an upgrade's progress, and the actions it asks of
//! the OS layer. No syscalls.

use crate::duration::{Duration, Instant};
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
    /// `MAINPID=`: the main process is now this one (checked by the OS
    /// layer to be in the instance's session).
    MainPid(i32),
}

crate::text::texts! {
    /// What an instance is to its service. Only the serving instance's end runs
    /// the restart policy; a draining one may finish in its own time, and a new
    /// one (an upgrade's candidate) that fails leaves the serving one alone.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Role {
        Serving => "serving",
        New => "new",
        Draining => "draining",
    }
}

impl Role {
    pub fn word(self) -> &'static str {
        self.text()
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
    /// Its session: the pid svc started (a session leader), which stays
    /// when `MAINPID=` names another main process.
    pub session: i32,
}

impl Instance {
    /// The instance's own state, in the words of `svc status`.
    pub fn phase_word(&self) -> &'static str {
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

crate::text::texts! {
    /// Which step of a spawn failed: in svc (`Fork`) or in the child before exec.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Step {
        /// In svc itself: pipe2 or fork (EMFILE, EAGAIN), or a malformed spec.
        Fork => "fork",
        Setsid => "setsid",
        /// Moving stdin, stdout, stderr and the ready fd into place.
        Fds => "fds",
        Chdir => "chdir",
        Rlimit => "rlimit",
        Groups => "setgroups",
        Gid => "setgid",
        Uid => "setuid",
        Exec => "exec",
        /// Writing `oom_score_adj`.
        Oom => "oom_score_adj",
        /// In svc: binding a `listen` socket that svc as PID 1 could not bind
        /// at start (an interface not up yet), tried again at each start.
        Listen => "listen",
    }
}

impl Step {
    const ALL: [Step; 11] = [
        Step::Fork,
        Step::Setsid,
        Step::Fds,
        Step::Chdir,
        Step::Rlimit,
        Step::Groups,
        Step::Gid,
        Step::Uid,
        Step::Exec,
        Step::Oom,
        Step::Listen,
    ];

    pub fn word(self) -> &'static str {
        self.text()
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

crate::text::texts! {
    /// The words of `svc status`, the same in code, output and README.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum State {
        Starting => "starting",
        Running => "running",
        Backoff => "backoff",
        Stopping => "stopping",
        Stopped => "stopped",
        Done => "done",
        Failed => "failed",
    }
}

impl State {
    pub fn word(self) -> &'static str {
        self.text()
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

/// Removes the first `k` actions, keeping the order of the rest.
pub fn drop_front(v: &mut Actions, k: usize) {
    let n = v.len();
    for i in k..n {
        if let Some(&a) = v.get(i)
            && let Some(d) = v.get_mut(i - k)
        {
            *d = a;
        }
    }
    v.truncate(n.saturating_sub(k));
}

#[cfg(test)]
mod drop_front_tests {
    use super::{Action, Actions, drop_front};

    #[test]
    fn keeps_the_rest_in_order() {
        let mut v = Actions::new();
        for id in 0..5 {
            let _ = v.push(Action::Spawn { id, inst: 0 });
        }
        drop_front(&mut v, 2);
        assert_eq!(v.as_slice(), [2, 3, 4].map(|id| Action::Spawn { id, inst: 0 }));
        drop_front(&mut v, 9);
        assert!(v.is_empty());
    }
}
