//! Upgrades, overlapping restarts and a reload's upgrades, driven as
//! scripts of (event, time) → actions and states.

use super::tests::{T0, W, def, ms, named_config, sig};
use super::*;
use crate::config::{Range, Ready};
use crate::reload::{self, Plan};
use crate::service::{Begin, Rest, Upgrade};
use crate::signame::TERM;

/// A service with one socket (the config's listens are not needed by the
/// supervisor: only the count).
fn with_socket() -> Def {
    let mut d = def();
    d.listen = Range { first: 0, count: 1 };
    d.upgrade_delay = ms(1000);
    d.ready_timeout = ms(5000);
    d
}

#[test]
fn upgrade_overlaps_then_drains() {
    let mut w = W::new(&[with_socket()]);
    w.ev(Event::Tick, T0);
    let old = w.sup.pid(0).unwrap();
    assert_eq!(w.sup.handle(Event::Request(Request::Upgrade(0)), T0, &mut w.out), Outcome::Begun(Begin::Overlap));
    w.perform(T0);
    let new = w.candidate();
    // Still served by the old one, and `running` (deploy health checks pass).
    assert_eq!((w.state(0), w.sup.pid(0)), (State::Running, Some(old)));
    assert_eq!(w.sup.handle(Event::Request(Request::Upgrade(0)), T0, &mut w.out), Outcome::Begun(Begin::Busy));
    // ready = none: the new one must stay up for upgrade_delay.
    assert_eq!(w.sup.next_deadline(), Some(T0 + ms(1000)));
    let acts = w.ev(Event::Tick, T0 + ms(1000));
    assert_eq!(acts, [sig(old, TERM)], "the old one drains only now");
    assert_eq!(w.sup.pid(0), Some(new));
    assert_eq!(w.sup.svcs[0].upgrade, Upgrade::Upgraded { old, new });
    // The old one's end is no crash.
    w.gone(old, Exit::Code(0), T0 + ms(1100));
    assert_eq!((w.state(0), w.sup.pid(0), w.sup.svcs[0].last), (State::Running, Some(new), None));
}

#[test]
fn upgrade_rolls_back() {
    // The new instance exits at once.
    let mut w = W::new(&[with_socket()]);
    w.ev(Event::Tick, T0);
    let old = w.sup.pid(0).unwrap();
    w.req(Request::Upgrade(0), T0);
    let new = w.candidate();
    let acts = w.ev(Event::Exited { pid: new, exit: Exit::Code(3) }, T0 + ms(10));
    assert_eq!(acts, [Action::Ended { id: 0, inst: 1 }]);
    assert_eq!((w.state(0), w.sup.pid(0)), (State::Running, Some(old)));
    assert_eq!(w.sup.svcs[0].upgrade, Upgrade::Failed { exit: Some(Exit::Code(3)) });
    assert_eq!(w.sup.svcs[0].rest, Rest::Stopped, "no backoff for a failed upgrade");
    // Never ready (ready = fd): killed at ready_timeout; the old one serves on.
    let mut d = with_socket();
    d.ready = Ready::Fd(5);
    let mut w = W::new(&[d]);
    w.ev(Event::Tick, T0);
    w.ev(Event::Ready { id: 0, inst: 0 }, T0);
    let old = w.sup.pid(0).unwrap();
    w.req(Request::Upgrade(0), T0);
    let new = w.candidate();
    assert_eq!(w.ev(Event::Tick, T0 + ms(5000)), [sig(new, TERM)]);
    w.gone(new, Exit::Signal(15), T0 + ms(5001));
    assert_eq!((w.state(0), w.sup.pid(0)), (State::Running, Some(old)));
    assert_eq!(w.sup.svcs[0].upgrade, Upgrade::Failed { exit: None });
    assert_eq!(w.sup.svcs[0].note, Note::Upgrade { exit: None });
}

#[test]
fn a_crash_while_upgrading_waits_for_the_new_one() {
    let mut w = W::new(&[with_socket()]);
    w.ev(Event::Tick, T0);
    let old = w.sup.pid(0).unwrap();
    w.req(Request::Upgrade(0), T0);
    let new = w.candidate();
    // The serving one crashes: no backoff, no second instance.
    assert_eq!(w.ev(Event::Exited { pid: old, exit: Exit::Signal(9) }, T0 + ms(10)), [Action::Ended { id: 0, inst: 0 }]);
    assert_eq!(w.state(0), State::Starting);
    assert_eq!(w.sup.svcs[0].inst.iter().flatten().count(), 1);
    w.ev(Event::Tick, T0 + ms(1000));
    assert_eq!((w.state(0), w.sup.pid(0)), (State::Running, Some(new)));
}

#[test]
fn restart_with_sockets_overlaps_and_starts_afresh_on_failure() {
    let mut w = W::new(&[with_socket()]);
    w.ev(Event::Tick, T0);
    let old = w.sup.pid(0).unwrap();
    w.req(Request::Restart(0), T0);
    let new = w.candidate();
    // Not ready in time (it needs a lock the old one holds, say): the old one
    // is stopped and the service starts afresh instead of rolling back.
    let acts = w.ev(Event::Tick, T0 + ms(1000));
    assert_eq!(acts, [sig(old, TERM)], "ready = none: ready after upgrade_delay");
    assert_eq!(w.sup.pid(0), Some(new));
    let mut d = with_socket();
    d.ready = Ready::Fd(5);
    let mut w = W::new(&[d]);
    w.ev(Event::Tick, T0);
    w.ev(Event::Ready { id: 0, inst: 0 }, T0);
    let old = w.sup.pid(0).unwrap();
    w.req(Request::Restart(0), T0);
    let new = w.candidate();
    assert_eq!(w.ev(Event::Tick, T0 + ms(5000)), [sig(new, TERM)]);
    let acts = w.gone(new, Exit::Signal(15), T0 + ms(5001));
    assert_eq!(acts, [Action::Ended { id: 0, inst: 1 }, sig(old, TERM)]);
    w.gone(old, Exit::Signal(15), T0 + ms(5002));
    assert_eq!(w.state(0), State::Starting, "started afresh");
    assert_ne!(w.sup.pid(0), Some(old));
}

#[test]
fn upgrade_without_sockets_stops_then_starts() {
    let mut w = W::new(&[def()]);
    w.ev(Event::Tick, T0);
    let old = w.sup.pid(0).unwrap();
    assert_eq!(w.sup.handle(Event::Request(Request::Upgrade(0)), T0, &mut w.out), Outcome::Begun(Begin::Restart));
    assert_eq!(w.perform(T0), [sig(old, TERM)]);
    w.gone(old, Exit::Signal(15), T0 + ms(1));
    let new = w.sup.pid(0).unwrap();
    assert_eq!(w.sup.svcs[0].upgrade, Upgrade::Upgraded { old, new });
    // Stopped by hand: stays stopped.
    w.req(Request::Stop(0), T0 + ms(2));
    assert_eq!(w.sup.handle(Event::Request(Request::Upgrade(0)), T0, &mut w.out), Outcome::Begun(Begin::Stopped));
}

#[test]
fn reload_upgrades_a_service_with_sockets_and_rolls_back() {
    let old = named_config(&[("web", with_socket(), 0)]);
    let mut w = W::with(&old);
    w.ev(Event::Tick, T0);
    let pid = w.sup.pid(0).unwrap();
    // A new exec: the service is upgraded, not stopped.
    let mut new = named_config(&[("web", with_socket(), 1)]);
    let mut plan = Plan::new();
    reload::plan(&w.sup.cfg, &new, &mut plan);
    assert!(w.sup.reload(&mut new, &mut plan, T0, &mut w.out));
    assert!(plan.steps[0].upgrade);
    let acts = w.ev(Event::Tick, T0);
    assert!(!acts.contains(&sig(pid, TERM)), "the old one serves on: {acts:?}");
    assert!(!w.sup.settled(&plan.steps[0]));
    assert!(w.sup.reload_upgrading());
    // `new` now holds the config the reload replaced.
    assert_eq!(new.str(new.list(new.defs[0].args)[0]), b"/0");
    // The new definition fails: its definition goes back, the generation stays.
    let cand = w.candidate();
    let acts = w.ev(Event::Exited { pid: cand, exit: Exit::Code(1) }, T0 + ms(5));
    assert_eq!(acts, [Action::Ended { id: 0, inst: 1 }, Action::Restore { id: 0 }]);
    assert_eq!((w.sup.pid(0), w.sup.svcs[0].generation), (Some(pid), 1));
    assert!(w.sup.settled(&plan.steps[0]));
    // A good one: the generation rises when it serves.
    let mut newer = named_config(&[("web", with_socket(), 2)]);
    reload::plan(&w.sup.cfg, &newer, &mut plan);
    assert!(w.sup.reload(&mut newer, &mut plan, T0, &mut w.out));
    w.ev(Event::Tick, T0 + ms(10));
    assert_eq!(w.sup.svcs[0].generation, 1);
    w.ev(Event::Tick, T0 + ms(1010));
    assert_eq!(w.sup.svcs[0].generation, 2);
    assert_ne!(w.sup.pid(0), Some(pid));
}
