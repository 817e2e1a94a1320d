//! The clocks: monotonic for deadlines, real time for log stamps.
//! Raw `clock_gettime` syscalls: rustix's vDSO path costs 2 KB and links
//! core::fmt through its asserts; svc reads the clock a few times per event.
#![allow(unsafe_code)]

use crate::duration::Instant;

const MONOTONIC: i32 = 1;
const REALTIME: i32 = 0;

#[cfg(target_pointer_width = "64")]
fn millis(clock: i32) -> u64 {
    let mut ts = [0i64; 2];
    // SAFETY: ts is the kernel's 64-bit struct timespec, writable.
    unsafe { libc::syscall(libc::SYS_clock_gettime, clock, ts.as_mut_ptr()) };
    (ts[0] as u64).saturating_mul(1000).saturating_add(ts[1] as u64 / 1_000_000)
}

#[cfg(target_pointer_width = "32")]
fn millis(clock: i32) -> u64 {
    // clock_gettime64 (Linux 5.1+, the same number on arm and i386), else the
    // 32-bit call, which is good for the monotonic clock and until 2038.
    const CLOCK_GETTIME64: libc::c_long = 403;
    let mut ts = [0i64; 2];
    // SAFETY: ts is the kernel's struct __kernel_timespec, writable.
    let (sec, nsec) = if unsafe { libc::syscall(CLOCK_GETTIME64, clock, ts.as_mut_ptr()) } == 0 {
        (ts[0] as u64, ts[1] as u32)
    } else {
        let mut old = [0i32; 2];
        // SAFETY: old is the kernel's 32-bit struct timespec, writable.
        unsafe { libc::syscall(libc::SYS_clock_gettime, clock, old.as_mut_ptr()) };
        (old[0] as u32 as u64, old[1] as u32)
    };
    // tv_nsec < 10^9: a u32 division (a u64 one is a `__udivdi3` call here).
    sec.saturating_mul(1000).saturating_add(u64::from(nsec / 1_000_000))
}

/// `clock_gettime(CLOCK_MONOTONIC)`: now, for deadlines.
#[inline(never)]
pub fn now() -> Instant {
    Instant::from_millis(millis(MONOTONIC))
}

/// `clock_gettime(CLOCK_REALTIME)`: milliseconds since the epoch, for log stamps.
pub fn wall_ms() -> u64 {
    millis(REALTIME)
}

/// An Instant as a timespec on the monotonic clock.
pub fn timespec(t: Instant) -> rustix::time::Timespec {
    let ms = t.as_millis();
    let s = ms / 1000;
    rustix::time::Timespec { tv_sec: s as _, tv_nsec: ((ms - s * 1000) as u32 * 1_000_000) as _ }
}
