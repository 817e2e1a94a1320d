//! Time as svc counts it: `Instant` (milliseconds on the monotonic clock) and
//! `Duration` (milliseconds). Text both ways: "250ms" "10s" "5m" "1h" in,
//! "1m30s" out. No syscalls; the clock is read in os/clock.rs and passed in.

use ufmt::{uDisplay, uWrite};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default)]
pub struct Duration(u64);

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default)]
pub struct Instant(u64);

impl Duration {
    #[cfg(test)]
    pub const ZERO: Duration = Duration(0);
    pub const fn from_millis(ms: u64) -> Self {
        Duration(ms)
    }
    pub const fn from_secs(s: u64) -> Self {
        Duration(s.saturating_mul(1000))
    }
    pub const fn as_millis(self) -> u64 {
        self.0
    }
}

impl Instant {
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms)
    }
    pub const fn as_millis(self) -> u64 {
        self.0
    }
    /// Time from `earlier` to `self`; zero if `earlier` is later.
    pub const fn since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Error {
    BadDuration,
}

impl Error {
    #[cfg(test)]
    pub const fn text(self) -> &'static str {
        match self {
            Error::BadDuration => "bad duration (use 250ms, 10s, 5m or 1h)",
        }
    }
}

/// Parses an integer followed by `ms`, `s`, `m` or `h`.
pub fn parse(text: &[u8]) -> Result<Duration, Error> {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    let (num, unit) = text.split_at_checked(digits).ok_or(Error::BadDuration)?;
    if num.is_empty() || num.len() > 12 {
        return Err(Error::BadDuration);
    }
    let n = num.iter().fold(0u64, |v, &b| v * 10 + u64::from(b - b'0'));
    let k = match unit {
        b"ms" => 1,
        b"s" => 1000,
        b"m" => 60_000,
        b"h" => 3_600_000,
        _ => return Err(Error::BadDuration),
    };
    Ok(Duration(n * k))
}

/// Shows the largest two units: `250ms`, `10s`, `1m30s`, `2h5m`, `3d4h`.
impl uDisplay for Duration {
    fn fmt<W: uWrite + ?Sized>(&self, f: &mut ufmt::Formatter<'_, W>) -> Result<(), W::Error> {
        let ms = self.0;
        // Under a day the parts are u32, which 32-bit targets divide inline
        // rather than through `__udivdi3` calls. One number and its unit,
        // then a second one unless it is 0: `1m30s`, `2h`, `1.2s`, `250ms`.
        let s = ms / 1000;
        let (big, u1, small, u2) = if ms < 1000 {
            (ms, "ms", 0, "")
        } else if s < 86_400 {
            let (s, sub) = (s as u32, (ms - s * 1000) as u32);
            if s < 60 {
                // Tenths under 10 s (none is shown as 0).
                let tenths = if s < 10 { sub / 100 } else { 0 };
                (u64::from(s), if tenths != 0 { "." } else { "s" }, tenths, "s")
            } else if s < 3600 {
                (u64::from(s / 60), "m", s % 60, "s")
            } else {
                (u64::from(s / 3600), "h", (s % 3600) / 60, "m")
            }
        } else {
            let days = s / 86_400;
            (days, "d", (s - days * 86_400) as u32 / 3600, "h")
        };
        ufmt::uwrite!(f, "{}{}", big, u1)?;
        if small != 0 { ufmt::uwrite!(f, "{}{}", small, u2) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Buf;

    #[test]
    fn parse_table() {
        for (text, ms) in [("0ms", 0), ("250ms", 250), ("10s", 10_000), ("5m", 300_000), ("1h", 3_600_000)] {
            assert_eq!(parse(text.as_bytes()), Ok(Duration::from_millis(ms)), "{text}");
        }
        for bad in ["", "10", "s", "1.5s", "-1s", "10 s", "10sec", "1d", "9999999999999s"] {
            assert_eq!(parse(bad.as_bytes()), Err(Error::BadDuration), "{bad}");
        }
    }

    #[test]
    fn display_table() {
        for (ms, text) in [
            (0, "0ms"),
            (250, "250ms"),
            (1200, "1.2s"),
            (10_000, "10s"),
            (90_000, "1m30s"),
            (3_600_000, "1h"),
            (7_500_000, "2h5m"),
            (90_000_000, "1d1h"),
        ] {
            let mut b = Buf::<32>::new();
            let _ = ufmt::uwrite!(b, "{}", Duration::from_millis(ms));
            assert_eq!(b.as_bytes(), text.as_bytes(), "{ms}");
        }
    }

    #[test]
    fn instants() {
        let t0 = Instant::from_millis(1000);
        assert_eq!((t0 + Duration::from_millis(5)).since(t0), Duration::from_millis(5));
        assert_eq!(t0.since(t0 + Duration::from_secs(1)), Duration::ZERO);
    }
}
