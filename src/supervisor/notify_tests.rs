//! `ready = notify` and `watchdog` driven as scripts of (event, time) → actions and states.

use super::tests::{T0, W, def, ms};
use super::*;
use crate::config::Ready;
use crate::service::{InstPhase, Notice};
use crate::signame::{ABRT, KILL, TERM};

fn notify(what: Notice) -> Event {
    Event::Notify { id: 0, inst: 0, what }
}

fn notified() -> Def {
    let mut d = def();
    d.ready = Ready::Notify;
    d.ready_timeout = ms(1000);
    d
}

#[test]
fn ready_on_notify_and_timeout_without() {
    let mut w = W::new(&[notified()]);
    w.ev(Event::Tick, T0);
    assert_eq!(w.state(0), State::Starting);
    assert_eq!(w.sup.next_deadline(), Some(T0 + ms(1000)));
    w.ev(notify(Notice::Ready), T0 + ms(10));
    assert_eq!(w.state(0), State::Running);
    // No watchdog: nothing to wake for.
    assert_eq!(w.sup.next_deadline(), None);
    // Without READY=1, the ready timeout stops it as a failed run.
    let mut w = W::new(&[notified()]);
    w.ev(Event::Tick, T0);
    let acts = w.ev(Event::Tick, T0 + ms(1000));
    assert_eq!(acts, [Action::Signal { pid: 101, sig: TERM, group: true }]);
}

#[test]
fn extend_sets_a_new_deadline() {
    let mut w = W::new(&[notified()]);
    w.ev(Event::Tick, T0);
    // now + N, not an addition to the old deadline.
    w.ev(notify(Notice::Extend(ms(5000))), T0 + ms(900));
    assert_eq!(w.sup.next_deadline(), Some(T0 + ms(5900)));
    assert!(w.ev(Event::Tick, T0 + ms(1000)).is_empty());
    assert_eq!(w.state(0), State::Starting);
    w.ev(notify(Notice::Ready), T0 + ms(3000));
    assert_eq!(w.state(0), State::Running);
    // Once ready, an extension changes nothing.
    w.ev(notify(Notice::Extend(ms(1))), T0 + ms(3001));
    assert_eq!(w.state(0), State::Running);
}

#[test]
fn watchdog_bites_once_ready_and_the_run_fails() {
    let mut d = notified();
    d.watchdog = ms(500);
    let mut w = W::new(&[d]);
    w.ev(Event::Tick, T0);
    // Not before ready.
    assert_eq!(w.sup.next_deadline(), Some(T0 + ms(1000)));
    w.ev(notify(Notice::Ready), T0 + ms(100));
    assert_eq!(w.sup.next_deadline(), Some(T0 + ms(600)));
    // Petting moves it.
    w.ev(notify(Notice::Watchdog), T0 + ms(400));
    assert_eq!(w.sup.next_deadline(), Some(T0 + ms(900)));
    assert!(w.ev(Event::Tick, T0 + ms(600)).is_empty());
    let acts = w.ev(Event::Tick, T0 + ms(900));
    // SIGABRT alone: a stop signal with it could end the process first.
    assert_eq!(acts, [Action::Signal { pid: 101, sig: ABRT, group: false }]);
    assert_eq!(w.state(0), State::Stopping);
    // SIGKILL at the stop timeout, as any stop.
    assert_eq!(w.sup.next_deadline(), Some(T0 + ms(900) + d.stop_timeout));
    w.gone(101, Exit::Signal(ABRT), T0 + ms(950));
    assert_eq!(w.state(0), State::Backoff);
    assert_eq!(w.sup.svcs[0].note, Note::Watchdog);
}

#[test]
fn trigger_bites_at_once() {
    let mut d = notified();
    d.watchdog = ms(500);
    let mut w = W::new(&[d]);
    w.ev(Event::Tick, T0);
    w.ev(notify(Notice::Ready), T0);
    let acts = w.ev(notify(Notice::Trigger), T0 + ms(1));
    assert_eq!(acts, [Action::Signal { pid: 101, sig: ABRT, group: false }]);
}

#[test]
fn stopping_then_exit_0_is_no_crash() {
    let mut d = notified();
    d.restart = crate::config::Restart::OnFailure;
    let mut w = W::new(&[d]);
    w.ev(Event::Tick, T0);
    w.ev(notify(Notice::Ready), T0);
    assert!(w.ev(notify(Notice::Stopping), T0 + ms(5)).is_empty());
    assert_eq!(w.state(0), State::Stopping);
    w.gone(101, Exit::Code(0), T0 + ms(10));
    assert_eq!(w.state(0), State::Done);
    // One that never exits is killed at its stop timeout.
    let mut w = W::new(&[notified()]);
    w.ev(Event::Tick, T0);
    w.ev(notify(Notice::Stopping), T0);
    let acts = w.ev(Event::Tick, T0 + notified().stop_timeout);
    assert_eq!(acts, [Action::Signal { pid: 101, sig: KILL, group: true }]);
}

/// `svc restart` after STOPPING=1: the service starts again once the old
/// run is over, not after a backoff (review31 finding 2).
#[test]
fn a_restart_after_stopping_starts_at_once() {
    let mut d = notified();
    d.backoff_first = crate::duration::Duration::from_secs(60);
    d.backoff_max = crate::duration::Duration::from_secs(60);
    let mut w = W::new(&[d]);
    w.ev(Event::Tick, T0);
    w.ev(notify(Notice::Ready), T0);
    w.ev(notify(Notice::Stopping), T0 + ms(5));
    w.req(Request::Restart(0), T0 + ms(6));
    w.gone(101, Exit::Code(0), T0 + ms(10));
    assert_eq!((w.state(0), w.sup.pid(0)), (State::Starting, Some(102)), "restarted as asked, not in backoff");
}

#[test]
fn a_new_instance_waits_for_ready() {
    let mut d = notified();
    d.listen = crate::config::Range { first: 0, count: 1 };
    let mut w = W::new(&[d]);
    w.ev(Event::Tick, T0);
    w.ev(notify(Notice::Ready), T0);
    w.req(Request::Upgrade(0), T0 + ms(10));
    let k = w.sup.svcs[0].role(crate::service::Role::New).expect("new instance");
    assert!(matches!(w.sup.svcs[0].inst[k].map(|i| i.phase), Some(InstPhase::Starting { .. })));
    assert!(w.ev(Event::Tick, T0 + ms(500)).is_empty());
    let acts = w.ev(Event::Notify { id: 0, inst: k as u8, what: Notice::Ready }, T0 + ms(600));
    assert_eq!(acts, [Action::Signal { pid: 101, sig: TERM, group: true }]);
    assert_eq!(w.sup.svcs[0].serving().map(|i| i.pid), Some(102));
}

#[test]
fn mainpid_moves_the_main_process() {
    let mut w = W::new(&[notified()]);
    w.ev(Event::Tick, T0);
    let launcher = w.sup.pid(0).unwrap();
    w.ev(notify(Notice::MainPid(4242)), T0 + ms(5));
    w.ev(notify(Notice::Ready), T0 + ms(5));
    assert_eq!((w.sup.pid(0), w.state(0)), (Some(4242), State::Running));
    assert_eq!(w.sup.svcs[0].inst[0].unwrap().session, launcher, "the session stays the launcher's");
    // The launcher's exit is an orphan's; the new main process's ends the run.
    assert_eq!(w.sup.handle(Event::Exited { pid: launcher, exit: Exit::Code(0) }, T0 + ms(6), &mut Actions::new()), Outcome::Orphan);
    assert_eq!(w.state(0), State::Running);
    w.ev(Event::Exited { pid: 4242, exit: Exit::Signal(9) }, T0 + ms(7));
    assert_eq!(w.state(0), State::Backoff);
}
