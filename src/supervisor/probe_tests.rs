//! `ready = exec:` driven as scripts of (event, time) → actions and states.

use super::tests::{T0, W, def, ms};
use super::*;
use crate::config::{Range, Ready};
use crate::service::Role;
use crate::signame::{KILL, TERM};

fn probed() -> Def {
    let mut d = def();
    d.ready = Ready::Exec(Range { first: 0, count: 1 });
    d.probe_interval = ms(250);
    d.ready_timeout = ms(1000);
    d
}

fn probe(inst: u8) -> Action {
    Action::Probe { id: 0, inst }
}

fn kill(pid: i32) -> Action {
    Action::Signal { pid, sig: KILL, group: true }
}

/// Hands `event` to the supervisor and says how it was routed.
fn outcome(w: &mut W, event: Event, now: Instant) -> Outcome {
    let mut out = Actions::new();
    w.sup.handle(event, now, &mut out)
}

#[test]
fn probes_every_interval_until_one_exits_0() {
    let mut w = W::new(&[probed()]);
    w.ev(Event::Tick, T0);
    assert_eq!(w.state(0), State::Starting);
    // The first probe waits an interval too.
    assert_eq!(w.sup.next_deadline(), Some(T0 + ms(250)));
    assert_eq!(w.ev(Event::Tick, T0 + ms(250)), [probe(0)]);
    w.ev(Event::ProbeSpawned { id: 0, inst: 0, pid: 900 }, T0 + ms(250));
    // One at a time: while it runs, only the ready timeout is due.
    assert_eq!(w.sup.next_deadline(), Some(T0 + ms(1000)));
    assert!(w.ev(Event::Tick, T0 + ms(600)).is_empty());
    // A failure: the next one an interval after its end.
    assert_eq!(outcome(&mut w, Event::Exited { pid: 900, exit: Exit::Code(1) }, T0 + ms(650)), Outcome::Done);
    assert_eq!(w.sup.next_deadline(), Some(T0 + ms(900)));
    assert_eq!(w.state(0), State::Starting);
    assert_eq!(w.ev(Event::Tick, T0 + ms(900)), [probe(0)]);
    w.ev(Event::ProbeSpawned { id: 0, inst: 0, pid: 901 }, T0 + ms(900));
    assert_eq!(outcome(&mut w, Event::Exited { pid: 901, exit: Exit::Code(0) }, T0 + ms(950)), Outcome::Done);
    assert_eq!(w.state(0), State::Running);
    assert_eq!(w.sup.next_deadline(), None);
    assert_eq!(w.sup.svcs[0].inst[0].map(|i| i.probe), Some(0));
}

#[test]
fn a_probe_running_at_ready_timeout_is_killed_and_its_output_logged() {
    let mut w = W::new(&[probed()]);
    w.ev(Event::Tick, T0);
    w.ev(Event::Tick, T0 + ms(250));
    w.ev(Event::ProbeSpawned { id: 0, inst: 0, pid: 900 }, T0 + ms(250));
    let acts = w.ev(Event::Tick, T0 + ms(1000));
    assert_eq!(acts, [Action::ProbeLog { id: 0 }, kill(900), Action::Signal { pid: 101, sig: TERM, group: true }]);
    // Reaped as the probe it was, not as an orphan.
    assert_eq!(outcome(&mut w, Event::Exited { pid: 900, exit: Exit::Signal(KILL) }, T0 + ms(1001)), Outcome::Done);
    assert_eq!(w.state(0), State::Stopping);
    w.gone(101, Exit::Signal(TERM), T0 + ms(1002));
    assert_eq!(w.state(0), State::Backoff);
    assert_eq!(w.sup.svcs[0].note, Note::ReadyTimeout);
}

#[test]
fn between_probes_the_timeout_logs_the_last_output() {
    let mut w = W::new(&[probed()]);
    w.ev(Event::Tick, T0);
    w.ev(Event::Tick, T0 + ms(250));
    w.ev(Event::ProbeSpawned { id: 0, inst: 0, pid: 900 }, T0 + ms(250));
    w.ev(Event::Exited { pid: 900, exit: Exit::Code(1) }, T0 + ms(900));
    // The next probe would be due after the deadline: the timeout comes first.
    let acts = w.ev(Event::Tick, T0 + ms(1000));
    assert_eq!(acts, [Action::ProbeLog { id: 0 }, Action::Signal { pid: 101, sig: TERM, group: true }]);
}

#[test]
fn a_failed_probe_spawn_is_tried_again() {
    let mut w = W::new(&[probed()]);
    w.ev(Event::Tick, T0);
    w.ev(Event::Tick, T0 + ms(250));
    w.ev(Event::ProbeFailed { id: 0, inst: 0 }, T0 + ms(250));
    assert_eq!(w.sup.next_deadline(), Some(T0 + ms(500)));
    assert_eq!(w.ev(Event::Tick, T0 + ms(500)), [probe(0)]);
}

#[test]
fn the_probe_of_an_instance_that_ended_is_killed_and_reaped_quietly() {
    let mut w = W::new(&[probed()]);
    w.ev(Event::Tick, T0);
    w.ev(Event::Tick, T0 + ms(250));
    w.ev(Event::ProbeSpawned { id: 0, inst: 0, pid: 900 }, T0 + ms(250));
    let pid = w.sup.pid(0).unwrap();
    let acts = w.exit(0, Exit::Code(1), T0 + ms(300));
    // And what the run left in its group (its group only: -pid), since it restarts.
    assert_eq!(acts, [Action::Ended { id: 0, inst: 0 }, kill(900), kill(-pid)]);
    assert_eq!(w.state(0), State::Backoff);
    assert_eq!(outcome(&mut w, Event::Exited { pid: 900, exit: Exit::Signal(KILL) }, T0 + ms(301)), Outcome::Done);
    // A probe whose instance is gone by the time it runs is killed too.
    let mut w = W::new(&[probed()]);
    w.ev(Event::Tick, T0);
    w.ev(Event::Tick, T0 + ms(250));
    w.exit(0, Exit::Code(1), T0 + ms(250));
    assert_eq!(w.ev(Event::ProbeSpawned { id: 0, inst: 0, pid: 900 }, T0 + ms(250)), [kill(900)]);
    assert_eq!(outcome(&mut w, Event::Exited { pid: 900, exit: Exit::Signal(KILL) }, T0 + ms(251)), Outcome::Done);
    // Anything else is still an orphan.
    assert_eq!(outcome(&mut w, Event::Exited { pid: 900, exit: Exit::Signal(KILL) }, T0 + ms(252)), Outcome::Orphan);
}

#[test]
fn stop_kills_a_running_probe() {
    let mut w = W::new(&[probed()]);
    w.ev(Event::Tick, T0);
    w.ev(Event::Tick, T0 + ms(250));
    w.ev(Event::ProbeSpawned { id: 0, inst: 0, pid: 900 }, T0 + ms(250));
    let acts = w.req(Request::Stop(0), T0 + ms(300));
    assert_eq!(acts, [kill(900), Action::Signal { pid: 101, sig: TERM, group: true }]);
    // A late exit 0 makes nothing ready.
    w.ev(Event::Exited { pid: 900, exit: Exit::Code(0) }, T0 + ms(301));
    assert_eq!(w.state(0), State::Stopping);
}

#[test]
fn a_new_instance_serves_once_its_probe_passes() {
    let mut d = probed();
    d.listen = Range { first: 0, count: 1 };
    let mut w = W::new(&[d]);
    w.ev(Event::Tick, T0);
    w.ev(Event::Tick, T0 + ms(250));
    w.ev(Event::ProbeSpawned { id: 0, inst: 0, pid: 900 }, T0 + ms(250));
    w.ev(Event::Exited { pid: 900, exit: Exit::Code(0) }, T0 + ms(260));
    assert_eq!(w.state(0), State::Running);
    w.req(Request::Upgrade(0), T0 + ms(300));
    let k = w.sup.svcs[0].role(Role::New).expect("new instance") as u8;
    assert_eq!(w.ev(Event::Tick, T0 + ms(550)), [probe(k)]);
    w.ev(Event::ProbeSpawned { id: 0, inst: k, pid: 901 }, T0 + ms(550));
    assert!(w.ev(Event::Exited { pid: 901, exit: Exit::Code(7) }, T0 + ms(560)).is_empty());
    assert_eq!(w.sup.svcs[0].serving().map(|i| i.pid), Some(101));
    assert_eq!(w.ev(Event::Tick, T0 + ms(810)), [probe(k)]);
    w.ev(Event::ProbeSpawned { id: 0, inst: k, pid: 902 }, T0 + ms(810));
    let acts = w.ev(Event::Exited { pid: 902, exit: Exit::Code(0) }, T0 + ms(820));
    assert_eq!(acts, [Action::Signal { pid: 101, sig: TERM, group: true }]);
    assert_eq!(w.sup.svcs[0].serving().map(|i| i.pid), Some(102));
}
