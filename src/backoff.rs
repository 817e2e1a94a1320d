//! The delay before a restart: FIRST, doubled after each consecutive short
//! run, up to MAX; a run that lasted at least `stable` starts over at FIRST.
//! No syscalls.

use crate::duration::Duration;

/// The delay after `failures` consecutive short runs before this one.
pub fn delay(first: Duration, max: Duration, failures: u16) -> Duration {
    let shift = u32::from(failures.min(40));
    let d = first.as_millis().checked_shl(shift).filter(|v| v >> shift == first.as_millis());
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
}
