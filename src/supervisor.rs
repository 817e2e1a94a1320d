//! The service table: routes events to services, starts what its `after`
//! allows, stops in reverse order at shutdown, and says when it next needs
//! to be woken. No syscalls; `now` is passed in.

use crate::config::{Config, Def};
use crate::duration::Instant;
use crate::limits::MAX_SERVICES;
use crate::service::{Action, Actions, Exit, Service, State, Want, earliest};
use heapless::Vec;

pub struct Supervisor {
    pub svcs: Vec<Service, MAX_SERVICES>,
    /// Set by SIGTERM, SIGINT or SIGQUIT: stop everything, then exit.
    pub shutdown: bool,
}

/// Why a service that wants to be up is not started.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Hold {
    /// Waiting for this service (a slot) to be ready.
    Waiting(u8),
    /// This service (a slot) failed for good.
    Blocked(u8),
}

impl Supervisor {
    pub const fn new() -> Self {
        Supervisor { svcs: Vec::new(), shutdown: false }
    }

    /// One slot per definition; services with `start = yes` want up.
    pub fn load(&mut self, cfg: &Config) {
        self.svcs.clear();
        for (i, d) in cfg.defs.iter().enumerate() {
            let want = if d.start { Want::Up } else { Want::Down };
            let _ = self.svcs.push(Service::new(i as u8, want));
        }
    }

    /// A service's definition; a removed one's is gone, and the defaults do.
    pub(crate) fn def<'c>(cfg: &'c Config, s: &Service) -> Option<&'c Def> {
        if s.removed {
            return Some(&Def::DEFAULT);
        }
        cfg.defs.get(usize::from(s.def))
    }

    /// The slot of the service named `name`.
    pub fn find(&self, cfg: &Config, name: &[u8]) -> Option<u8> {
        self.svcs.iter().position(|s| !s.removed && Self::def(cfg, s).is_some_and(|d| cfg.str(d.name) == name)).map(|i| i as u8)
    }

    /// The slot serving the definition `def` (slots follow definitions).
    fn slot_of_def(&self, def: usize) -> Option<usize> {
        self.svcs.iter().position(|s| !s.removed && usize::from(s.def) == def)
    }

    /// What holds back a service that wants up and has no instance.
    pub fn hold(&self, cfg: &Config, id: usize) -> Option<Hold> {
        let s = self.svcs.get(id).filter(|s| !s.removed)?;
        let d = Self::def(cfg, s)?;
        let mut waiting = None;
        for dep in 0..cfg.defs.len() {
            if d.after & (1u64 << dep) == 0 {
                continue;
            }
            let Some(slot) = self.slot_of_def(dep) else { continue };
            let Some(ds) = self.svcs.get(slot) else { continue };
            if ds.state() == State::Failed {
                return Some(Hold::Blocked(slot as u8));
            }
            let ok = Self::def(cfg, ds).is_some_and(|dd| ds.satisfies_after(dd));
            if !ok && waiting.is_none() {
                waiting = Some(Hold::Waiting(slot as u8));
            }
        }
        waiting
    }

    /// Starts what may start; at shutdown, stops what nothing needs any
    /// more and says Exit once all is down. Called after every event.
    pub fn settle(&mut self, cfg: &Config, now: Instant, out: &mut Actions) {
        if self.shutdown {
            self.settle_shutdown(cfg, now, out);
            return;
        }
        // A start can make a service ready at once (ready = none) and so
        // free its dependents: repeat until nothing changes (bounded).
        for _ in 0..=MAX_SERVICES {
            let mut started = false;
            for id in 0..self.svcs.len() {
                let can = self.svcs.get(id).is_some_and(|s| s.wants_start()) && self.hold(cfg, id).is_none();
                if can {
                    if let Some(s) = self.svcs.get_mut(id) {
                        s.start(id as u8, now, out);
                        started = true;
                    }
                }
            }
            if !started {
                break;
            }
        }
    }

    fn settle_shutdown(&mut self, cfg: &Config, now: Instant, out: &mut Actions) {
        let mut any = false;
        for id in 0..self.svcs.len() {
            let Some(s) = self.svcs.get(id) else { continue };
            let Some(def) = Self::def(cfg, s) else { continue };
            if !s.has_instance() {
                continue;
            }
            any = true;
            // Signalled once nothing still running comes after it.
            let me = 1u64 << s.def;
            let needed = self.svcs.iter().any(|o| o.has_instance() && Self::def(cfg, o).is_some_and(|od| od.after & me != 0));
            if !needed {
                if let Some(s) = self.svcs.get_mut(id) {
                    s.want = Want::Down;
                    s.stop(crate::service::Why::Stop, def, now, out);
                }
            }
        }
        if !any {
            let _ = out.push(Action::Exit);
        }
    }

    /// SIGTERM, SIGINT, SIGQUIT: nothing restarts from now on.
    pub fn begin_shutdown(&mut self, cfg: &Config, now: Instant, out: &mut Actions) {
        self.shutdown = true;
        for s in self.svcs.iter_mut() {
            s.want = Want::Down;
            if !s.has_instance() && matches!(s.rest, crate::service::Rest::Backoff { .. }) {
                s.rest = crate::service::Rest::Stopped;
            }
        }
        self.settle(cfg, now, out);
    }

    /// A child was reaped. False when it was no service's main process (an
    /// orphan svc adopted as subreaper).
    pub fn exited(&mut self, cfg: &Config, pid: i32, exit: Exit, now: Instant, out: &mut Actions) -> bool {
        for (id, s) in self.svcs.iter_mut().enumerate() {
            if let Some(inst) = s.instance_of(pid) {
                if let Some(def) = Self::def(cfg, s) {
                    s.exited(id as u8, inst, exit, def, now, out);
                }
                return true;
            }
        }
        false
    }

    /// The OS layer's answer to `Action::Spawn`.
    pub fn spawned(&mut self, cfg: &Config, id: u8, inst: u8, result: Result<i32, (&'static str, i32)>, now: Instant, out: &mut Actions) {
        let Some(s) = self.svcs.get_mut(usize::from(id)) else { return };
        let Some(def) = Self::def(cfg, s) else { return };
        match result {
            Ok(pid) => s.spawned(usize::from(inst), pid, def, now),
            Err((step, errno)) => s.spawn_failed(id, usize::from(inst), step, errno, def, now, out),
        }
    }

    /// The readiness channel of an instance said ready.
    pub fn ready(&mut self, id: u8, inst: u8) {
        if let Some(s) = self.svcs.get_mut(usize::from(id)) {
            s.ready(usize::from(inst));
        }
    }

    /// The timer fired (or any wakeup): act on every deadline that has come.
    pub fn tick(&mut self, cfg: &Config, now: Instant, out: &mut Actions) {
        for s in self.svcs.iter_mut() {
            if let Some(def) = Self::def(cfg, s) {
                s.tick(def, now, out);
            }
        }
    }

    /// When `tick` next has work; None: sleep until an event.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.svcs.iter().fold(None, |acc, s| earliest(acc, s.deadline()))
    }

    pub fn start(&mut self, id: u8) {
        if let Some(s) = self.svcs.get_mut(usize::from(id)) {
            s.want_up();
        }
    }

    pub fn stop(&mut self, cfg: &Config, id: u8, now: Instant, out: &mut Actions) {
        let Some(s) = self.svcs.get_mut(usize::from(id)) else { return };
        if let Some(def) = Self::def(cfg, s) {
            s.want_down(def, now, out);
        }
    }

    pub fn restart(&mut self, cfg: &Config, id: u8, now: Instant, out: &mut Actions) {
        let Some(s) = self.svcs.get_mut(usize::from(id)) else { return };
        let Some(def) = Self::def(cfg, s) else { return };
        s.want_up();
        s.stop(crate::service::Why::Restart, def, now, out);
    }

    /// The main pid of a service's serving instance.
    pub fn pid(&self, id: u8) -> Option<i32> {
        self.svcs.get(usize::from(id))?.serving().map(|i| i.pid).filter(|&p| p > 0)
    }

    /// True when none of the slots in `mask` has an instance left.
    pub fn all_down(&self, mask: u64) -> bool {
        self.svcs.iter().enumerate().all(|(i, s)| mask & (1u64 << i) == 0 || !s.has_instance())
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::config::{Log, Range, Ready, Restart, Span};
    use crate::duration::Duration;
    use crate::reload::{Change, Plan};
    use crate::service::{Rest, Why};
    use std::boxed::Box;

    pub const T0: Instant = Instant::from_millis(1_000_000);

    pub fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    pub fn def() -> Def {
        Def { line: 1, log: Log::Null, ..Def::DEFAULT }
    }

    /// A config of services named a, b, c, ... with the given definitions.
    pub fn config(defs: &[Def]) -> Box<Config> {
        let mut c = Box::new(Config::new());
        for (i, d) in defs.iter().enumerate() {
            let start = c.arena.len() as u32;
            c.arena.push(b'a' + i as u8).unwrap();
            c.arena.push(0).unwrap();
            let mut d = *d;
            d.name = Span { start, len: 1 };
            c.defs.push(d).unwrap();
        }
        c
    }

    /// A config of the given names and definitions; `args` differ by `tag`.
    pub fn named(defs: &[(&str, Def, u8)]) -> Box<Config> {
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

    #[test]
    fn reload_plan_and_apply() {
        let old = named(&[("a", def(), 0), ("b", def(), 0), ("c", def(), 0)]);
        let mut slow = def();
        slow.backoff_max = ms(5000);
        let new = named(&[("d", def(), 0), ("a", def(), 0), ("b", def(), 1), ("e", slow, 0)]);
        let mut w = World { cfg: old, sup: Supervisor::new(), next_pid: 100, out: Actions::new() };
        w.sup.load(&w.cfg);
        w.settle(T0);
        let pids: std::vec::Vec<i32> = (0..3).map(|i| w.sup.pid(i).unwrap()).collect();
        // e was `a` with another backoff: not the case here; e is added.
        let mut plan = Plan::new();
        w.sup.plan(&w.cfg, &new, &mut plan);
        let got: std::vec::Vec<(Change, &[u8])> = plan.steps.iter().map(|s| (s.change, s.name())).collect();
        assert_eq!(
            got,
            [(Change::Added, &b"d"[..]), (Change::Kept, b"a"), (Change::Restarted, b"b"), (Change::Added, b"e"), (Change::Removed, b"c"),]
        );
        w.sup.apply_old(&w.cfg, &mut plan, T0, &mut w.out);
        let acts = w.perform(T0);
        assert_eq!(acts, [Action::Signal { pid: pids[1], sig: 15, group: true }, Action::Signal { pid: pids[2], sig: 15, group: true }]);
        w.cfg = new;
        w.sup.apply_new(&w.cfg, &mut plan);
        // c is still stopping: the added services get new slots.
        assert_eq!(plan.steps[0].slot, 3);
        assert_eq!(plan.steps[3].slot, 4);
        w.settle(T0);
        assert_eq!(w.sup.pid(0), Some(pids[0]), "a is kept");
        assert_eq!(w.sup.svcs[0].generation, 1);
        assert_eq!(w.sup.svcs[1].generation, 2);
        assert!(!w.sup.settled(&plan.steps[2]), "b restarting");
        assert_eq!(w.state(3), State::Running);
        assert_eq!(w.sup.find(&w.cfg, b"c"), None);
        w.exit(2, Exit::Signal(15), T0 + ms(1));
        assert!(w.sup.svcs[2].is_vacant());
        w.exit(1, Exit::Signal(15), T0 + ms(2));
        assert_eq!(w.state(1), State::Running);
        assert_ne!(w.sup.pid(1), Some(pids[1]));
        assert!(w.sup.settled(&plan.steps[2]), "b restarted");
        // A later add reuses c's slot.
        let newer = named(&[("d", def(), 0), ("a", def(), 0), ("b", def(), 1), ("e", slow, 0), ("f", def(), 0)]);
        w.sup.plan(&w.cfg, &newer, &mut plan);
        w.sup.apply_old(&w.cfg, &mut plan, T0, &mut w.out);
        w.cfg = newer;
        w.sup.apply_new(&w.cfg, &mut plan);
        assert_eq!(plan.steps.iter().find(|s| s.change == Change::Added).unwrap().slot, 2);
        assert_eq!(plan.steps.iter().filter(|s| s.change == Change::Kept).count(), 4);
    }

    struct World {
        cfg: Box<Config>,
        sup: Supervisor,
        next_pid: i32,
        out: Actions,
    }

    impl World {
        fn new(defs: &[Def]) -> World {
            let cfg = config(defs);
            let mut sup = Supervisor::new();
            sup.load(&cfg);
            World { cfg, sup, next_pid: 100, out: Actions::new() }
        }
        /// Runs settle and performs spawns (all succeed); returns the other actions.
        fn settle(&mut self, now: Instant) -> std::vec::Vec<Action> {
            self.sup.settle(&self.cfg, now, &mut self.out);
            self.perform(now)
        }
        fn perform(&mut self, now: Instant) -> std::vec::Vec<Action> {
            let mut rest = std::vec::Vec::new();
            while !self.out.is_empty() {
                let a = self.out.remove(0);
                if let Action::Spawn { id, inst } = a {
                    self.next_pid += 1;
                    self.sup.spawned(&self.cfg, id, inst, Ok(self.next_pid), now, &mut self.out);
                    self.sup.settle(&self.cfg, now, &mut self.out);
                } else {
                    rest.push(a);
                }
            }
            rest
        }
        fn exit(&mut self, id: usize, exit: Exit, now: Instant) -> std::vec::Vec<Action> {
            let pid = self.sup.pid(id as u8).expect("running");
            assert!(self.sup.exited(&self.cfg, pid, exit, now, &mut self.out));
            self.sup.settle(&self.cfg, now, &mut self.out);
            self.perform(now)
        }
        fn tick(&mut self, now: Instant) -> std::vec::Vec<Action> {
            self.sup.tick(&self.cfg, now, &mut self.out);
            self.sup.settle(&self.cfg, now, &mut self.out);
            self.perform(now)
        }
        fn state(&self, id: usize) -> State {
            self.sup.svcs[id].state()
        }
    }

    #[test]
    fn backoff_doubles_and_resets_after_stable() {
        let mut d = def();
        d.backoff_max = ms(1600);
        d.stable = ms(5000);
        let mut w = World::new(&[d]);
        w.settle(T0);
        assert_eq!(w.state(0), State::Running);
        let mut now = T0;
        let mut gaps = std::vec::Vec::new();
        for _ in 0..7 {
            now = now + ms(10);
            w.exit(0, Exit::Code(1), now);
            let Rest::Backoff { until } = w.sup.svcs[0].rest else { panic!("not in backoff") };
            assert_eq!(w.sup.next_deadline(), Some(until));
            gaps.push(until.since(now).as_millis());
            w.tick(until);
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
            let mut w = World::new(&[d]);
            w.settle(T0);
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
        let mut w = World::new(&[once, web]);
        w.settle(T0);
        assert_eq!(w.state(0), State::Running);
        assert_eq!(w.state(1), State::Stopped);
        assert_eq!(w.sup.hold(&w.cfg, 1), Some(Hold::Waiting(0)));
        w.exit(0, Exit::Code(0), T0 + ms(5));
        assert_eq!(w.state(0), State::Done);
        assert_eq!(w.state(1), State::Running);

        let mut w = World::new(&[once, web]);
        w.settle(T0);
        w.exit(0, Exit::Code(1), T0 + ms(5));
        assert_eq!(w.state(0), State::Failed);
        assert_eq!(w.state(1), State::Stopped);
        assert_eq!(w.sup.hold(&w.cfg, 1), Some(Hold::Blocked(0)));
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
        let mut w = World::new(&[a, b, c]);
        w.settle(T0);
        assert_eq!([w.state(0), w.state(1), w.state(2)], [State::Starting, State::Stopped, State::Stopped]);
        w.sup.ready(0, 0);
        w.settle(T0 + ms(10));
        assert_eq!([w.state(0), w.state(1), w.state(2)], [State::Running, State::Starting, State::Stopped]);
        assert_eq!(w.sup.next_deadline(), Some(T0 + ms(510)));
        w.tick(T0 + ms(510));
        assert_eq!([w.state(1), w.state(2)], [State::Running, State::Running]);
    }

    #[test]
    fn ready_timeout_is_a_failed_run() {
        let mut a = def();
        a.ready = Ready::Fd(5);
        a.ready_timeout = ms(300);
        a.stop_timeout = ms(1000);
        let mut w = World::new(&[a]);
        w.settle(T0);
        let pid = w.sup.pid(0).unwrap();
        let acts = w.tick(T0 + ms(300));
        assert_eq!(acts, [Action::Signal { pid, sig: 15, group: true }]);
        assert_eq!(w.state(0), State::Stopping);
        // Ignores TERM: SIGKILL at the stop timeout.
        let acts = w.tick(T0 + ms(1300));
        assert_eq!(acts, [Action::Signal { pid, sig: 9, group: true }]);
        w.exit(0, Exit::Signal(9), T0 + ms(1310));
        assert_eq!(w.state(0), State::Backoff);
        assert_eq!(w.sup.svcs[0].note, crate::service::Note::ReadyTimeout);
    }

    #[test]
    fn stop_restart_start() {
        let mut w = World::new(&[def()]);
        w.settle(T0);
        let pid = w.sup.pid(0).unwrap();
        w.sup.stop(&w.cfg, 0, T0 + ms(1), &mut w.out);
        assert_eq!(w.perform(T0), [Action::Signal { pid, sig: 15, group: true }]);
        assert!(!w.sup.all_down(1));
        w.exit(0, Exit::Signal(15), T0 + ms(2));
        assert_eq!(w.state(0), State::Stopped);
        assert!(w.sup.all_down(1));
        assert_eq!(w.sup.next_deadline(), None);
        w.sup.start(0);
        w.settle(T0 + ms(3));
        assert_eq!(w.state(0), State::Running);
        let pid = w.sup.pid(0).unwrap();
        w.sup.restart(&w.cfg, 0, T0 + ms(4), &mut w.out);
        w.perform(T0);
        w.exit(0, Exit::Signal(15), T0 + ms(5));
        assert_eq!(w.state(0), State::Running);
        assert_ne!(w.sup.pid(0), Some(pid));
        assert_eq!(w.sup.svcs[0].restarts(), 2);
    }

    #[test]
    fn spawn_failure_backs_off_with_a_note() {
        let mut w = World::new(&[def()]);
        w.sup.settle(&w.cfg, T0, &mut w.out);
        assert_eq!(w.out.as_slice(), [Action::Spawn { id: 0, inst: 0 }]);
        w.out.clear();
        w.sup.spawned(&w.cfg, 0, 0, Err(("exec", 2)), T0, &mut w.out);
        assert_eq!(w.state(0), State::Backoff);
        assert_eq!(w.sup.svcs[0].note, crate::service::Note::Spawn { step: "exec", errno: 2 });
    }

    #[test]
    fn shutdown_in_reverse_order() {
        let a = def();
        let mut b = def();
        b.after = 1;
        let mut c = def();
        c.after = 1;
        let mut w = World::new(&[a, b, c]);
        w.settle(T0);
        let pids: std::vec::Vec<i32> = (0..3).map(|i| w.sup.pid(i).unwrap()).collect();
        w.sup.begin_shutdown(&w.cfg, T0, &mut w.out);
        // b and c at once; a waits for both.
        let acts = w.perform(T0);
        assert_eq!(acts, [Action::Signal { pid: pids[1], sig: 15, group: true }, Action::Signal { pid: pids[2], sig: 15, group: true }]);
        assert_eq!(w.exit(1, Exit::Code(0), T0 + ms(1)), [Action::Ended { id: 1, inst: 0 }]);
        let acts = w.exit(2, Exit::Code(0), T0 + ms(2));
        assert_eq!(acts, [Action::Ended { id: 2, inst: 0 }, Action::Signal { pid: pids[0], sig: 15, group: true }]);
        let acts = w.exit(0, Exit::Code(0), T0 + ms(3));
        assert_eq!(acts, [Action::Ended { id: 0, inst: 0 }, Action::Exit]);
        assert_eq!(w.state(0), State::Stopped);
    }

    #[test]
    fn stop_during_restart_wins() {
        let mut w = World::new(&[def()]);
        w.settle(T0);
        w.sup.restart(&w.cfg, 0, T0, &mut w.out);
        w.sup.stop(&w.cfg, 0, T0, &mut w.out);
        let acts = w.perform(T0);
        assert_eq!(acts.len(), 1, "one signal, not two");
        w.exit(0, Exit::Signal(15), T0 + ms(1));
        assert_eq!(w.state(0), State::Stopped);
        let _ = Why::Stop;
    }

    #[test]
    fn sizes() {
        let s = core::mem::size_of::<Service>();
        let i = core::mem::size_of::<crate::service::Instance>();
        std::println!("size_of Service = {s}, Instance = {i}");
        assert!(s <= 256, "Service is {s} bytes");
    }
}
