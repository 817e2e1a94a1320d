//! `svc poweroff|reboot|halt` and busybox init's signals, when svc is PID 1:
//! the shutdown. It is irrevocable once received (the client may be a
//! service that is stopped before the reply reaches it): the services stop
//! in reverse `after` order within `[svc] shutdown_timeout`, then the loop
//! ends in `finish`, which never returns. Every step is printed on the
//! console. Not PID 1: refused, nothing changes.

use crate::duration::{Duration, Instant};
use crate::init::{Power, Step};
use crate::os::clock;
use crate::os::init::{self, Init};
use crate::signame;
use crate::supervisor::Event as SupEvent;
use crate::text::{Buf, Errno};
use crate::verbs::world::World;

/// `[svc] shutdown_timeout` when unset.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// `svc: poweroff: STEP` on the console, waited for (the loop is over or
/// ending: a dropped line would hide how far the shutdown got).
fn step(init: &Init, p: Power, s: Step) {
    let mut b = Buf::<80>::new();
    b.push_all(&[b"svc: ", p.word().as_bytes(), b": ", s.text().as_bytes(), b"\n"]);
    init.console(b.as_bytes());
}

/// A shutdown request (a control request or a signal). False when svc is
/// not PID 1: refused, nothing changes. A second request while one is under
/// way changes nothing either: the first one's command stands.
pub fn request(w: &mut World, p: Power, now: Instant) -> bool {
    let Some(init) = Init::get() else { return false };
    if w.power == 0 {
        step(&init, p, Step::Stopping);
        w.power = p as u8;
        w.power_until = now + w.sup.cfg.shutdown_timeout.unwrap_or(SHUTDOWN_TIMEOUT);
        w.sup.handle(SupEvent::Shutdown, now, &mut w.out);
    }
    true
}

/// When the loop must wake for the shutdown's bound.
pub fn deadline(w: &World) -> Option<Instant> {
    (w.power != 0).then_some(w.power_until)
}

/// Whether the services' time is up.
pub fn due(w: &World, now: Instant) -> bool {
    w.power != 0 && now >= w.power_until
}

/// The end, once the services are down or their time is up: SIGTERM and
/// SIGCONT to every process, up to 3 s for them to exit while reaping,
/// SIGKILL to the rest, sync (10 s at most), every writable filesystem
/// unmounted or read-only, then `reboot(2)`. In a PID namespace without
/// CAP_SYS_BOOT reboot fails: svc exits 0, which ends the container.
/// Without an `Init` (not PID 1) nothing here can run.
pub fn finish(w: &mut World, init: Init) -> ! {
    let p = Power::from_u8(w.power).unwrap_or(Power::Reboot);
    step(&init, p, Step::Term);
    init.signal_all(signame::TERM);
    init.signal_all(signame::CONT);
    if !gone_within(3000) {
        step(&init, p, Step::Kill);
        init.signal_all(signame::KILL);
        gone_within(1000);
    }
    step(&init, p, Step::Sync);
    init.sync_bounded(10);
    if init.owns_mounts() {
        step(&init, p, Step::Remount);
        init.remount_all(&mut w.loader.text);
    }
    step(&init, p, Step::Last);
    let e = init.reboot(p);
    let mut b = Buf::<80>::new();
    let _ = ufmt::uwrite!(b, "svc: reboot(2): {}; exiting\n", Errno(e.raw_os_error()));
    init.console(b.as_bytes());
    init.exit(0)
}

/// Reaps until svc has no child left (true) or `ms` have passed (false).
fn gone_within(ms: u64) -> bool {
    let until = clock::now() + Duration::from_millis(ms);
    // Bounded by the clock: one turn every 20 ms.
    loop {
        if !init::reap_any() {
            return true;
        }
        if clock::now() >= until {
            return false;
        }
        init::pause_ms(20);
    }
}
