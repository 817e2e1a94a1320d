//! The supervisor driven as scripts of (event, time) → actions and states.

use super::*;
use crate::config::{Log, Range, Ready, Restart, Span};
use crate::duration::Duration;
use crate::reload::{self, Change, Plan};
use crate::service::{InstPhase, Rest, Role};
use crate::signame::{KILL, TERM};
use std::boxed::Box;
use std::vec::Vec as StdVec;

pub const T0: Instant = Instant::from_millis(1_000_000);

pub fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

pub fn def() -> Def {
    Def { line: 1, log: Log::Null, ..Def::DEFAULT }
}

/// A config of services named a, b, c, ... with the given definitions.
pub fn config(defs: &[Def]) -> Box<Config> {
    let named: StdVec<(std::string::String, Def, u8)> =
        defs.iter().enumerate().map(|(i, d)| (std::string::String::from(char::from(b'a' + i as u8)), *d, 0)).collect();
    let refs: StdVec<(&str, Def, u8)> = named.iter().map(|(n, d, t)| (n.as_str(), *d, *t)).collect();
    named_config(&refs)
}

/// A config of the given names and definitions; `args` differ by `tag`.
pub fn named_config(defs: &[(&str, Def, u8)]) -> Box<Config> {
    let mut c = Box::new(Config::new());
    for (name, d, tag) in defs {
        let start = c.arena.len() as u32;
        c.arena.extend_from_slice(name.as_bytes()).unwrap();
        c.arena.push(0).unwrap();
        let mut d = *d;
        d.name = Span { start, len: name.len() as u32 };
        let arg = c.arena.len() as u32;
        c.arena.extend_from_slice(&[b'/', b'0' + tag, 0]).unwrap();
        d.args = Range { first: c.strs.len() as u16, count: 1 };
        c.strs.push(Span { start: arg, len: 2 }).unwrap();
        c.defs.push(d).unwrap();
    }
    c
}

/// A supervisor whose spawns all succeed (pids 101, 102, ...).
pub struct W {
    pub sup: Box<Supervisor>,
    next_pid: i32,
    /// The release the next spawns run (as the OS layer would say).
    pub rel: u8,
    /// Where each spawn's release came from (`Pin::next` at the spawn).
    pub hows: StdVec<crate::pin::Resolve>,
    pub(super) out: Actions,
}

impl W {
    pub fn with(cfg: &Config) -> W {
        let mut sup = Box::new(Supervisor::new());
        crate::config::adopt(&mut sup.cfg, cfg);
        sup.load();
        W { sup, next_pid: 100, rel: crate::pin::NONE, hows: StdVec::new(), out: Actions::new() }
    }
    pub fn new(defs: &[Def]) -> W {
        Self::with(&config(defs))
    }
    /// Hands `event` to the supervisor and performs the spawns it asks for;
    /// returns the other actions in order.
    pub fn ev(&mut self, event: Event, now: Instant) -> StdVec<Action> {
        self.sup.handle(event, now, &mut self.out);
        self.perform(now)
    }
    pub(super) fn perform(&mut self, now: Instant) -> StdVec<Action> {
        let mut rest = StdVec::new();
        while !self.out.is_empty() {
            let a = self.out.remove(0);
            if let Action::Spawn { id, inst } = a {
                self.hows.push(self.sup.svcs[usize::from(id)].pin.next);
                self.next_pid += 1;
                self.sup.handle(Event::Spawned { id, inst, pid: self.next_pid, rel: self.rel }, now, &mut self.out);
            } else {
                rest.push(a);
            }
        }
        rest
    }
    pub fn exit(&mut self, id: usize, exit: Exit, now: Instant) -> StdVec<Action> {
        let pid = self.sup.pid(id as u8).expect("running");
        self.ev(Event::Exited { pid, exit }, now)
    }
    pub fn state(&self, id: usize) -> State {
        self.sup.svcs[id].state()
    }
    pub fn req(&mut self, r: Request, now: Instant) -> StdVec<Action> {
        self.ev(Event::Request(r), now)
    }
    /// The main process `pid` exited and its group is empty (the OS layer's
    /// answer to the signal 0 that follows a stop); the actions of both.
    pub fn gone(&mut self, pid: i32, exit: Exit, now: Instant) -> StdVec<Action> {
        let mut acts = self.ev(Event::Exited { pid, exit }, now);
        acts.retain(|a| *a != Action::Signal { pid, sig: 0, group: true });
        acts.extend(self.ev(Event::SignalFailed { pid, sig: 0, group: true, errno: ESRCH }, now));
        acts
    }
    /// The pid of slot 0's new instance (an upgrade's candidate).
    pub fn candidate(&self) -> i32 {
        self.sup.svcs[0].inst.iter().flatten().find(|i| i.role == crate::service::Role::New).map_or(0, |i| i.pid)
    }
}

pub fn sig(pid: i32, sig: u8) -> Action {
    Action::Signal { pid, sig, group: true }
}

#[test]
fn backoff_doubles_and_resets_after_stable() {
    let mut d = def();
    d.backoff_max = ms(1600);
    d.stable = ms(5000);
    let mut w = W::new(&[d]);
    w.ev(Event::Tick, T0);
    assert_eq!(w.state(0), State::Running);
    let mut now = T0;
    let mut gaps = StdVec::new();
    for _ in 0..7 {
        now = now + ms(10);
        w.exit(0, Exit::Code(1), now);
        let Rest::Backoff { until } = w.sup.svcs[0].rest else { panic!("not in backoff") };
        assert_eq!(w.sup.next_deadline(), Some(until));
        gaps.push(until.since(now).as_millis());
        w.ev(Event::Tick, until);
        assert_eq!(w.state(0), State::Running);
        now = until;
    }
    assert_eq!(gaps, [100, 200, 400, 800, 1600, 1600, 1600]);
    assert_eq!(w.sup.svcs[0].restarts(), 7);
    // A run longer than `stable` starts over at FIRST.
    now = now + ms(5000);
    w.exit(0, Exit::Code(1), now);
    assert_eq!(w.sup.svcs[0].rest, Rest::Backoff { until: now + ms(100) });
}

#[test]
fn restart_policies() {
    let cases = [
        (Restart::Never, Exit::Code(0), State::Done),
        (Restart::Never, Exit::Code(3), State::Failed),
        (Restart::Never, Exit::Signal(9), State::Failed),
        (Restart::OnFailure, Exit::Code(0), State::Done),
        (Restart::OnFailure, Exit::Code(1), State::Backoff),
        (Restart::Always, Exit::Code(0), State::Backoff),
    ];
    for (restart, exit, want) in cases {
        let mut d = def();
        d.restart = restart;
        let mut w = W::new(&[d]);
        w.ev(Event::Tick, T0);
        w.exit(0, exit, T0 + ms(50));
        assert_eq!(w.state(0), want, "{restart:?} {exit:?}");
        assert_eq!(w.sup.svcs[0].last, Some(exit));
    }
}

#[test]
fn oneshot_after_and_blocking() {
    let mut once = def();
    once.oneshot = true;
    let mut web = def();
    web.after = 1;
    let mut w = W::new(&[once, web]);
    w.ev(Event::Tick, T0);
    assert_eq!([w.state(0), w.state(1)], [State::Running, State::Stopped]);
    assert_eq!(w.sup.hold(1), Some(Hold::Waiting(0)));
    w.exit(0, Exit::Code(0), T0 + ms(5));
    assert_eq!([w.state(0), w.state(1)], [State::Done, State::Running]);

    let mut w = W::new(&[once, web]);
    w.ev(Event::Tick, T0);
    w.exit(0, Exit::Code(1), T0 + ms(5));
    assert_eq!([w.state(0), w.state(1)], [State::Failed, State::Stopped]);
    assert_eq!(w.sup.hold(1), Some(Hold::Blocked(0)));
    assert_eq!(w.sup.next_deadline(), None);
}

#[test]
fn after_waits_for_ready_fd_and_delay() {
    let mut a = def();
    a.ready = Ready::Fd(5);
    let mut b = def();
    b.ready = Ready::Delay(ms(500));
    b.after = 1;
    let mut c = def();
    c.after = 2;
    let mut w = W::new(&[a, b, c]);
    w.ev(Event::Tick, T0);
    assert_eq!([w.state(0), w.state(1), w.state(2)], [State::Starting, State::Stopped, State::Stopped]);
    w.ev(Event::Ready { id: 0, inst: 0 }, T0 + ms(10));
    assert_eq!([w.state(0), w.state(1), w.state(2)], [State::Running, State::Starting, State::Stopped]);
    assert_eq!(w.sup.next_deadline(), Some(T0 + ms(510)));
    w.ev(Event::Tick, T0 + ms(510));
    assert_eq!([w.state(1), w.state(2)], [State::Running, State::Running]);
}

#[test]
fn ready_timeout_is_a_failed_run() {
    let mut a = def();
    a.ready = Ready::Fd(5);
    a.ready_timeout = ms(300);
    a.stop_timeout = ms(1000);
    let mut w = W::new(&[a]);
    w.ev(Event::Tick, T0);
    let pid = w.sup.pid(0).unwrap();
    assert_eq!(w.ev(Event::Tick, T0 + ms(300)), [sig(pid, TERM)]);
    assert_eq!(w.state(0), State::Stopping);
    // Ignores TERM: SIGKILL at the stop timeout.
    assert_eq!(w.ev(Event::Tick, T0 + ms(1300)), [sig(pid, KILL)]);
    // The main process is gone; the group is asked about, and is empty.
    assert_eq!(w.exit(0, Exit::Signal(9), T0 + ms(1310)), [sig(pid, 0)]);
    let acts = w.ev(Event::SignalFailed { pid, sig: 0, group: true, errno: ESRCH }, T0 + ms(1311));
    assert_eq!(acts, [Action::Ended { id: 0, inst: 0 }]);
    assert_eq!(w.state(0), State::Backoff);
    assert_eq!(w.sup.svcs[0].note, Note::ReadyTimeout);
}

#[test]
fn stop_restart_start() {
    let mut w = W::new(&[def()]);
    w.ev(Event::Tick, T0);
    let pid = w.sup.pid(0).unwrap();
    assert_eq!(w.req(Request::Stop(0), T0 + ms(1)), [sig(pid, TERM)]);
    assert!(!w.sup.all_down(1));
    w.exit(0, Exit::Signal(15), T0 + ms(2));
    w.ev(Event::SignalFailed { pid, sig: 0, group: true, errno: ESRCH }, T0 + ms(2));
    assert_eq!(w.state(0), State::Stopped);
    assert!(w.sup.all_down(1));
    assert_eq!(w.sup.next_deadline(), None);
    w.req(Request::Start(0), T0 + ms(3));
    assert_eq!(w.state(0), State::Running);
    let pid = w.sup.pid(0).unwrap();
    w.req(Request::Restart(0), T0 + ms(4));
    w.exit(0, Exit::Signal(15), T0 + ms(5));
    assert_eq!(w.state(0), State::Stopping, "until its group is empty");
    w.ev(Event::SignalFailed { pid, sig: 0, group: true, errno: ESRCH }, T0 + ms(5));
    assert_eq!(w.state(0), State::Running);
    assert_ne!(w.sup.pid(0), Some(pid));
    assert_eq!(w.sup.svcs[0].restarts(), 2);
}

#[test]
fn stop_waits_for_the_whole_group() {
    let mut d = def();
    d.stop_timeout = ms(1000);
    let mut w = W::new(&[d]);
    w.ev(Event::Tick, T0);
    let pid = w.sup.pid(0).unwrap();
    w.req(Request::Stop(0), T0);
    // The main process exits; a member that ignores TERM is still there.
    assert_eq!(w.exit(0, Exit::Signal(15), T0 + ms(10)), [sig(pid, 0)]);
    assert_eq!(w.state(0), State::Stopping);
    assert!(!w.sup.all_down(1));
    // An unrelated orphan is reaped: the group is asked about again.
    assert_eq!(w.ev(Event::Exited { pid: 999, exit: Exit::Code(0) }, T0 + ms(20)), [sig(pid, 0)]);
    // The kill deadline still stands for the group, and for the group only
    // (-pid): the main process is reaped, its pid may be another's by now.
    assert_eq!(w.sup.next_deadline(), Some(T0 + ms(1000)));
    assert_eq!(w.ev(Event::Tick, T0 + ms(1000)), [sig(-pid, KILL)]);
    assert_eq!(w.sup.next_deadline(), None);
    // Its last member dies and is reaped as an orphan: the group is empty.
    assert_eq!(w.ev(Event::Exited { pid: 998, exit: Exit::Signal(9) }, T0 + ms(1001)), [sig(pid, 0)]);
    let acts = w.ev(Event::SignalFailed { pid, sig: 0, group: true, errno: ESRCH }, T0 + ms(1001));
    assert_eq!(acts, [Action::Ended { id: 0, inst: 0 }]);
    assert_eq!(w.state(0), State::Stopped);
    assert_eq!(w.sup.svcs[0].last, Some(Exit::Signal(15)));
}

#[test]
fn what_an_exit_leaves_is_killed_before_a_restart_only() {
    // It restarts: SIGKILL to what is left of its group, and to its group
    // only (-pid: the main process is reaped, its pid may be reused).
    let mut w = W::new(&[def()]);
    w.ev(Event::Tick, T0);
    let pid = w.sup.pid(0).unwrap();
    assert_eq!(w.exit(0, Exit::Code(2), T0 + ms(10)), [Action::Ended { id: 0, inst: 0 }, sig(-pid, KILL)]);
    assert_eq!((w.state(0), w.sup.svcs[0].last), (State::Backoff, Some(Exit::Code(2))));
    // A run that ends for good (a oneshot; `on-failure` exiting 0; `never`)
    // leaves its group be.
    let mut once = def();
    once.oneshot = true;
    let mut clean = def();
    clean.restart = crate::config::Restart::OnFailure;
    let mut never = def();
    never.restart = crate::config::Restart::Never;
    for (d, exit, state) in [(once, Exit::Code(0), State::Done), (clean, Exit::Code(0), State::Done), (never, Exit::Code(1), State::Failed)]
    {
        let mut w = W::new(&[d]);
        w.ev(Event::Tick, T0);
        assert_eq!(w.exit(0, exit, T0 + ms(10)), [Action::Ended { id: 0, inst: 0 }]);
        assert_eq!(w.state(0), state);
    }
}

#[test]
fn spawn_failure_backs_off_with_a_note() {
    let mut w = W::new(&[def()]);
    w.sup.handle(Event::Tick, T0, &mut w.out);
    assert_eq!(w.out.as_slice(), [Action::Spawn { id: 0, inst: 0 }]);
    w.out.clear();
    w.sup.handle(Event::SpawnFailed { id: 0, inst: 0, step: Step::Exec, errno: 2 }, T0, &mut w.out);
    assert_eq!(w.out.as_slice(), [Action::Ended { id: 0, inst: 0 }]);
    assert_eq!(w.state(0), State::Backoff);
    assert_eq!(w.sup.svcs[0].note, Note::Spawn { step: Step::Exec, errno: 2 });
}

#[test]
fn failed_signals_come_back() {
    let mut w = W::new(&[def()]);
    w.ev(Event::Tick, T0);
    let pid = w.sup.pid(0).unwrap();
    // EPERM: noted; the stop timeout still stands.
    w.req(Request::Stop(0), T0);
    w.ev(Event::SignalFailed { pid, sig: TERM, group: true, errno: 1 }, T0);
    assert_eq!(w.sup.svcs[0].note, Note::Signal { sig: TERM, errno: 1 });
    assert!(w.sup.next_deadline().is_some());
    // `svc signal` goes through the core; no pid, no signal.
    assert_eq!(w.req(Request::Signal { id: 0, sig: 1, client: 4 }, T0), [Action::Send { pid, sig: 1, client: 4 }]);
    let mut w = W::new(&[def()]);
    assert_eq!(w.sup.handle(Event::Request(Request::Signal { id: 0, sig: 1, client: 4 }), T0, &mut w.out), Outcome::NotRunning);
    assert_eq!(w.sup.handle(Event::Exited { pid: 4242, exit: Exit::Code(0) }, T0, &mut w.out), Outcome::Orphan);
}

#[test]
fn only_the_serving_instance_runs_the_policy() {
    let mut w = W::new(&[def()]);
    w.ev(Event::Tick, T0);
    let old = w.sup.pid(0).unwrap();
    // As an upgrade will: the serving instance drains, a new one serves.
    let s = &mut w.sup.svcs[0];
    s.inst[0].as_mut().unwrap().role = Role::Draining;
    s.inst[1] = Some(crate::service::Instance {
        pid: 500,
        started: T0,
        phase: InstPhase::Ready { dog: None },
        role: Role::Serving,
        generation: 2,
        probe: 0,
        session: 500,
    });
    let acts = w.ev(Event::Exited { pid: old, exit: Exit::Code(1) }, T0 + ms(5));
    assert_eq!(acts, [Action::Ended { id: 0, inst: 0 }]);
    assert_eq!(w.state(0), State::Running, "a draining instance's exit is no crash");
    assert_eq!(w.sup.svcs[0].last, None);
    assert_eq!(w.sup.pid(0), Some(500));
    // A new instance that fails leaves the serving one alone.
    w.sup.svcs[0].inst[0] = Some(crate::service::Instance {
        pid: 501,
        started: T0,
        phase: InstPhase::Spawning,
        role: Role::New,
        generation: 3,
        probe: 0,
        session: 0,
    });
    w.ev(Event::Exited { pid: 501, exit: Exit::Code(3) }, T0 + ms(6));
    assert_eq!((w.state(0), w.sup.pid(0)), (State::Running, Some(500)));
    // The serving one's exit does.
    w.ev(Event::Exited { pid: 500, exit: Exit::Code(3) }, T0 + ms(7));
    assert_eq!(w.state(0), State::Backoff);
}

#[test]
fn shutdown_in_reverse_order() {
    let a = def();
    let mut b = def();
    b.after = 1;
    let mut c = def();
    c.after = 1;
    let mut w = W::new(&[a, b, c]);
    w.ev(Event::Tick, T0);
    let pids: StdVec<i32> = (0..3).map(|i| w.sup.pid(i).unwrap()).collect();
    // b and c at once; a waits for both.
    assert_eq!(w.ev(Event::Shutdown, T0), [sig(pids[1], TERM), sig(pids[2], TERM)]);
    let gone = |w: &mut W, i: usize, t| {
        w.ev(Event::Exited { pid: pids[i], exit: Exit::Code(0) }, t);
        w.ev(Event::SignalFailed { pid: pids[i], sig: 0, group: true, errno: ESRCH }, t)
    };
    assert_eq!(gone(&mut w, 1, T0 + ms(1)), [Action::Ended { id: 1, inst: 0 }]);
    assert_eq!(gone(&mut w, 2, T0 + ms(2)), [Action::Ended { id: 2, inst: 0 }, sig(pids[0], TERM)]);
    assert_eq!(gone(&mut w, 0, T0 + ms(3)), [Action::Ended { id: 0, inst: 0 }, Action::Exit]);
    assert_eq!(w.state(0), State::Stopped);
}

#[test]
fn stop_during_restart_wins() {
    let mut w = W::new(&[def()]);
    w.ev(Event::Tick, T0);
    let pid = w.sup.pid(0).unwrap();
    let mut acts = w.req(Request::Restart(0), T0);
    acts.extend(w.req(Request::Stop(0), T0));
    assert_eq!(acts, [sig(pid, TERM)], "one signal, not two");
    w.exit(0, Exit::Signal(15), T0 + ms(1));
    w.ev(Event::SignalFailed { pid, sig: 0, group: true, errno: ESRCH }, T0 + ms(1));
    assert_eq!(w.state(0), State::Stopped);
}

#[test]
fn reload_plan_and_apply() {
    let old = named_config(&[("a", def(), 0), ("b", def(), 0), ("c", def(), 0)]);
    let mut slow = def();
    slow.backoff_max = ms(5000);
    let mut new = named_config(&[("d", def(), 0), ("a", def(), 0), ("b", def(), 1), ("e", slow, 0)]);
    let mut w = W::with(&old);
    w.ev(Event::Tick, T0);
    let pids: StdVec<i32> = (0..3).map(|i| w.sup.pid(i).unwrap()).collect();
    let mut plan = Plan::new();
    reload::plan(&w.sup.cfg, &new, &mut plan);
    let got: StdVec<(Change, &[u8])> = plan.steps.iter().map(|s| (s.change, s.name())).collect();
    assert_eq!(
        got,
        [(Change::Added, &b"d"[..]), (Change::Kept, b"a"), (Change::Restarted, b"b"), (Change::Added, b"e"), (Change::Removed, b"c")]
    );
    assert!(w.sup.reload(&mut new, &mut plan, T0, &mut w.out));
    let acts = w.ev(Event::Tick, T0);
    // c is still stopping: the added services get new slots.
    assert_eq!(
        acts,
        [sig(pids[1], TERM), sig(pids[2], TERM), Action::Assigned { id: 1 }, Action::Assigned { id: 3 }, Action::Assigned { id: 4 }]
    );
    assert_eq!(w.sup.find(b"d"), Some(3));
    assert_eq!(w.sup.find(b"e"), Some(4));
    assert_eq!(w.sup.pid(0), Some(pids[0]), "a is kept");
    assert_eq!((w.sup.svcs[0].generation, w.sup.svcs[1].generation), (1, 2));
    assert!(!w.sup.settled(&plan.steps[2]), "b restarting");
    assert_eq!(w.state(3), State::Running);
    assert_eq!(w.sup.find(b"c"), None);
    w.exit(2, Exit::Signal(15), T0 + ms(1));
    w.ev(Event::SignalFailed { pid: pids[2], sig: 0, group: true, errno: ESRCH }, T0 + ms(1));
    assert!(w.sup.svcs[2].is_vacant());
    w.exit(1, Exit::Signal(15), T0 + ms(2));
    w.ev(Event::SignalFailed { pid: pids[1], sig: 0, group: true, errno: ESRCH }, T0 + ms(2));
    assert_eq!(w.state(1), State::Running);
    assert_ne!(w.sup.pid(1), Some(pids[1]));
    assert!(w.sup.settled(&plan.steps[2]), "b restarted");
    // A later add reuses c's slot.
    let mut newer = named_config(&[("d", def(), 0), ("a", def(), 0), ("b", def(), 1), ("e", slow, 0), ("f", def(), 0)]);
    reload::plan(&w.sup.cfg, &newer, &mut plan);
    assert!(w.sup.reload(&mut newer, &mut plan, T0, &mut w.out));
    assert_eq!(w.sup.find(b"f"), Some(2));
    assert_eq!(plan.steps.iter().filter(|s| s.change == Change::Kept).count(), 4);
}

#[test]
fn added_services_wait_for_a_slot() {
    // Every slot taken by a service that is slow to stop; rename one.
    let names: StdVec<std::string::String> = (0..MAX_SERVICES).map(|i| std::format!("x{i}")).collect();
    let old: StdVec<(&str, Def, u8)> = names.iter().map(|n| (n.as_str(), def(), 0)).collect();
    let old = named_config(&old);
    let mut w = W::with(&old);
    w.ev(Event::Tick, T0);
    let last = w.sup.pid((MAX_SERVICES - 1) as u8).unwrap();
    let mut renamed: StdVec<(&str, Def, u8)> = names.iter().map(|n| (n.as_str(), def(), 0)).collect();
    renamed[MAX_SERVICES - 1].0 = "z";
    let mut new = named_config(&renamed);
    let mut plan = Plan::new();
    reload::plan(&w.sup.cfg, &new, &mut plan);
    assert!(w.sup.reload(&mut new, &mut plan, T0, &mut w.out));
    w.ev(Event::Tick, T0);
    let z = plan.steps.iter().find(|s| s.name() == b"z").copied().unwrap();
    assert_eq!(w.sup.find(b"z"), None, "no slot yet");
    assert!(!w.sup.settled(&z), "the reload waits");
    w.ev(Event::Exited { pid: last, exit: Exit::Signal(15) }, T0 + ms(5));
    let acts = w.ev(Event::SignalFailed { pid: last, sig: 0, group: true, errno: ESRCH }, T0 + ms(5));
    assert_eq!(acts, [Action::Ended { id: 63, inst: 0 }, Action::Assigned { id: 63 }]);
    assert_eq!(w.sup.find(b"z"), Some(63));
    assert_eq!(w.state(63), State::Running);
    assert!(w.sup.settled(&z));
}

#[test]
fn sizes() {
    let s = core::mem::size_of::<Service>();
    let i = core::mem::size_of::<crate::service::Instance>();
    std::println!("size_of Service = {s}, Instance = {i}");
    assert!(s <= 256, "Service is {s} bytes");
    // A tripwire: a new field of Def must be compared in `reload::compare`,
    // which lists the fields by hand. Look there, then update this number.
    // (Unit tests run on 64-bit hosts.)
    assert_eq!(core::mem::size_of::<Def>(), 248, "Def changed: update reload::compare");
}

/// `first_outcomes` (svc's own READY=1 under another init) waits for every
/// service's first outcome, counts `start = no` at once, and a service held
/// by a dependency that failed for good.
#[test]
fn first_outcomes_settle() {
    let mut a = def();
    a.ready = Ready::Fd(5);
    let mut b = def();
    b.after = 1;
    b.ready = Ready::Fd(5);
    let c = Def { start: false, ..def() };
    let mut w = W::new(&[a, b, c]);
    assert!(!w.sup.first_outcomes(), "nothing started yet");
    w.ev(Event::Tick, T0);
    assert!(!w.sup.first_outcomes(), "a is starting, b waits for it");
    w.ev(Event::Ready { id: 0, inst: 0 }, T0 + ms(10));
    assert_eq!(w.state(1), State::Starting);
    assert!(!w.sup.first_outcomes(), "b is starting");
    w.ev(Event::Ready { id: 1, inst: 0 }, T0 + ms(20));
    assert_eq!(w.state(1), State::Running);
    assert!(w.sup.first_outcomes());

    // A oneshot that fails for good settles, and so does what waits for it.
    let d = Def { oneshot: true, restart: Restart::Never, ..def() };
    let mut e = def();
    e.after = 1;
    let mut w = W::new(&[d, e]);
    w.ev(Event::Tick, T0);
    assert!(!w.sup.first_outcomes());
    w.exit(0, Exit::Code(1), T0 + ms(5));
    assert_eq!(w.state(0), State::Failed);
    assert!(w.sup.first_outcomes());
}
