//! Pinned releases through the supervisor: which release each spawn asks
//! for (`Pin::next`), which one is current after upgrades, failures,
//! crashes, rollbacks and reloads. The OS layer's answer (the record it
//! ran) is `W::rel`.

use super::tests::{T0, W, def, ms, named_config};
use super::*;
use crate::config::Range;
use crate::pin::{NONE, Resolve};
use crate::reload::{self, Plan};
use crate::service::Begin;

fn with_socket() -> Def {
    let mut d = def();
    d.listen = Range { first: 0, count: 1 };
    d.upgrade_delay = ms(1000);
    d
}

/// (current, previous) release of slot 0.
fn rels(w: &W) -> (u8, u8) {
    (w.sup.svcs[0].pin.cur, w.sup.svcs[0].pin.prev)
}

/// The draining instances of slot 0 end.
fn drained(w: &mut W, now: Instant) {
    let old: std::vec::Vec<i32> =
        w.sup.svcs[0].inst.iter().flatten().filter(|i| i.role == crate::service::Role::Draining).map(|i| i.pid).collect();
    for pid in old {
        w.gone(pid, Exit::Code(0), now);
    }
}

#[test]
fn crash_restarts_reuse_upgrades_resolve_and_rollback_swaps() {
    let mut w = W::new(&[with_socket()]);
    w.rel = 0;
    w.ev(Event::Tick, T0);
    assert_eq!((rels(&w), w.hows.as_slice()), ((0, NONE), &[Resolve::Reuse][..]));
    // An upgrade resolves afresh; its release is current only once it serves.
    w.rel = 1;
    w.req(Request::Upgrade(0), T0);
    assert_eq!(w.hows.last(), Some(&Resolve::Fresh));
    assert_eq!((rels(&w), w.sup.svcs[0].pin.cand), ((0, NONE), 1));
    // It fails: the old release stays, and a crash restarts it.
    let cand = w.candidate();
    w.ev(Event::Exited { pid: cand, exit: Exit::Code(1) }, T0 + ms(5));
    assert_eq!((rels(&w), w.sup.svcs[0].pin.cand), ((0, NONE), NONE));
    w.rel = 0;
    w.exit(0, Exit::Signal(9), T0 + ms(10));
    w.ev(Event::Tick, T0 + ms(200));
    assert_eq!(w.state(0), State::Running);
    assert_eq!((w.hows.last(), rels(&w)), (Some(&Resolve::Reuse), (0, NONE)));
    // A good one serves: the old release becomes the previous.
    w.rel = 1;
    w.req(Request::Upgrade(0), T0 + ms(300));
    w.ev(Event::Tick, T0 + ms(1300));
    drained(&mut w, T0 + ms(1300));
    assert_eq!(rels(&w), (1, 0));
    // A restart (overlapping) reuses the current release.
    w.req(Request::Restart(0), T0 + ms(1400));
    assert_eq!(w.hows.last(), Some(&Resolve::Reuse));
    w.ev(Event::Tick, T0 + ms(2400));
    drained(&mut w, T0 + ms(2400));
    assert_eq!(rels(&w), (1, 0));
    // Rollback runs the previous release; once it serves the two swap, and
    // a second rollback goes forward again.
    w.rel = 0;
    assert_eq!(w.sup.handle(Event::Request(Request::Rollback(0)), T0 + ms(2500), &mut w.out), Outcome::Begun(Begin::Overlap));
    w.perform(T0 + ms(2500));
    assert_eq!(w.hows.last(), Some(&Resolve::Previous));
    w.ev(Event::Tick, T0 + ms(3500));
    drained(&mut w, T0 + ms(3500));
    assert_eq!(rels(&w), (0, 1));
    w.rel = 1;
    w.req(Request::Rollback(0), T0 + ms(3600));
    w.ev(Event::Tick, T0 + ms(4600));
    drained(&mut w, T0 + ms(4600));
    assert_eq!(rels(&w), (1, 0));
}

#[test]
fn rollback_without_sockets_stops_then_starts_the_previous() {
    let mut w = W::new(&[def()]);
    w.rel = 0;
    w.ev(Event::Tick, T0);
    let old = w.sup.pid(0).unwrap();
    w.rel = 1;
    assert_eq!(w.sup.handle(Event::Request(Request::Upgrade(0)), T0, &mut w.out), Outcome::Begun(Begin::Restart));
    w.gone(old, Exit::Code(0), T0 + ms(5));
    assert_eq!((w.hows.last(), rels(&w)), (Some(&Resolve::Fresh), (1, 0)));
    let old = w.sup.pid(0).unwrap();
    w.rel = 0;
    assert_eq!(w.sup.handle(Event::Request(Request::Rollback(0)), T0, &mut w.out), Outcome::Begun(Begin::Restart));
    w.gone(old, Exit::Code(0), T0 + ms(10));
    assert_eq!((w.hows.last(), rels(&w), w.state(0)), (Some(&Resolve::Previous), (0, 1), State::Running));
}

#[test]
fn a_reload_that_changes_the_service_forgets_its_releases() {
    // Without sockets: stopped and started with the new definition, resolved afresh.
    let mut w = W::with(&named_config(&[("web", def(), 0)]));
    w.rel = 0;
    w.ev(Event::Tick, T0);
    let mut new = named_config(&[("web", def(), 1)]);
    let mut plan = Plan::new();
    reload::plan(&w.sup.cfg, &new, &mut plan);
    assert!(w.sup.reload(&mut new, &mut plan, T0, &mut w.out));
    assert_eq!(rels(&w), (NONE, NONE));
    // With sockets: upgraded; the new release serves and none is before it.
    let mut w = W::with(&named_config(&[("web", with_socket(), 0)]));
    w.rel = 0;
    w.ev(Event::Tick, T0);
    w.rel = 1;
    w.req(Request::Upgrade(0), T0);
    w.ev(Event::Tick, T0 + ms(1000));
    assert_eq!(rels(&w), (1, 0));
    let mut new = named_config(&[("web", with_socket(), 1)]);
    reload::plan(&w.sup.cfg, &new, &mut plan);
    assert!(w.sup.reload(&mut new, &mut plan, T0 + ms(1100), &mut w.out));
    w.rel = 2;
    w.perform(T0 + ms(1100));
    assert_eq!(w.hows.last(), Some(&Resolve::Fresh));
    assert_eq!(rels(&w), (1, 0), "until the new one serves");
    w.ev(Event::Tick, T0 + ms(2100));
    assert_eq!(rels(&w), (2, NONE));
}
