//! The delay before a restart: FIRST, doubled after each consecutive short
//! run, up to MAX; a run that lasted at least `stable` starts over at FIRST.
//! FIRST = 0 restarts at once the first time, then grows from 1 ms (0, 1 ms,
//! 2 ms, 4 ms, ...): zero doubled would stay zero and spin. No syscalls.

use crate::duration::Duration;

/// The delay after `failures` consecutive short runs before this one.
pub fn delay(first: Duration, max: Duration, failures: u16) -> Duration {
    let (base, shift) = match (first.as_millis(), failures) {
        (0, 0) => return Duration::from_millis(0),
        (0, n) => (1, n - 1),
        (ms, n) => (ms, n),
    };
    let shift = u32::from(shift.min(40));
    let d = base.checked_shl(shift).filter(|v| v >> shift == base);
    match d {
        Some(ms) if ms <= max.as_millis() => Duration::from_millis(ms),
        _ => max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn doubles_up_to_max() {
        let got: std::vec::Vec<u64> = (0..8).map(|n| delay(ms(100), ms(1600), n).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 800, 1600, 1600, 1600, 1600]);
        assert_eq!(delay(ms(0), ms(0), 9), ms(0));
        assert_eq!(delay(ms(100), ms(30_000), u16::MAX), ms(30_000));
        assert_eq!(delay(ms(u64::MAX / 2), ms(u64::MAX), 3), ms(u64::MAX));
    }

    #[test]
    fn zero_first_grows_from_one_millisecond() {
        let got: std::vec::Vec<u64> = (0..18).map(|n| delay(ms(0), ms(30_000), n).as_millis()).collect();
        assert_eq!(got, [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 30_000, 30_000]);
        assert_eq!(delay(ms(0), ms(30_000), u16::MAX), ms(30_000));
        // MAX 0 means no delay at all.
        assert!((0..50).all(|n| delay(ms(0), ms(0), n) == ms(0)));
    }
}
