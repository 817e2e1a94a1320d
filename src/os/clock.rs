//! The clocks: monotonic for deadlines, real time for log stamps.

use crate::duration::Instant;
use rustix::time::{ClockId, Timespec, clock_gettime};

fn millis(t: Timespec) -> u64 {
    (t.tv_sec as u64).saturating_mul(1000).saturating_add(t.tv_nsec as u64 / 1_000_000)
}

/// `clock_gettime(CLOCK_MONOTONIC)`: now, for deadlines.
pub fn now() -> Instant {
    Instant::from_millis(millis(clock_gettime(ClockId::Monotonic)))
}

/// `clock_gettime(CLOCK_REALTIME)`: milliseconds since the epoch, for log stamps.
pub fn wall_ms() -> u64 {
    millis(clock_gettime(ClockId::Realtime))
}

/// An Instant as a timespec on the monotonic clock.
pub fn timespec(t: Instant) -> Timespec {
    let ms = t.as_millis();
    Timespec { tv_sec: (ms / 1000) as _, tv_nsec: ((ms % 1000) * 1_000_000) as _ }
}
