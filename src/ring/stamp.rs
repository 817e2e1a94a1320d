//! Line stamps: wall-clock milliseconds since the Unix epoch, printed as
//! RFC 3339 UTC (`2023-11-14T22:13:20.123Z`) through ufmt. No syscalls.

use ufmt::{uDisplay, uWrite};

/// Wall-clock time of a line: milliseconds since the Unix epoch (UTC), read
/// from CLOCK_REALTIME by the caller.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default)]
pub struct Stamp(pub u64);

/// Bytes of a stamp as shown, `YYYY-MM-DDTHH:MM:SS.mmmZ` (until year 9999).
pub const STAMP_BYTES: usize = 24;

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01, by Howard
/// Hinnant's `civil_from_days`, unsigned since stamps start at the epoch.
/// Only the era needs 64 bits: the rest is u32 arithmetic, which 32-bit
/// targets do inline rather than through `__udivdi3` calls. The year fits
/// u32: a u64 of milliseconds ends in the year 584,556,019.
fn civil_from_days(days: u64) -> (u32, u32, u32) {
    // Shift the epoch to 0000-03-01 so that leap days end each 400-year era.
    let z = days + 719_468; // days ≤ u64::MAX / 86_400_000: cannot overflow
    let era = z / 146_097;
    let doe = (z - era * 146_097) as u32; // [0, 146096]
    let era = era as u32; // ≤ 1,463,132
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u32::from(month <= 2);
    (year, month, day)
}

/// `2023-11-14T22:13:20.123Z`; years past 9999 take more digits.
impl uDisplay for Stamp {
    fn fmt<W: uWrite + ?Sized>(&self, f: &mut ufmt::Formatter<'_, W>) -> Result<(), W::Error> {
        // Two 64-bit divisions; the parts of a day are u32 (see civil_from_days).
        let secs = self.0 / 1000;
        let ms = (self.0 - secs * 1000) as u32;
        let days = secs / 86_400;
        let sod = (secs - days * 86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        // Filled right to left, each `0` a digit of one number: the time of
        // day as HHMMSSmmm (under 2^32), from the `T` on the date as MMDD,
        // from the `-` after the year the year (10 digits hold any u32; the
        // first 4 always, the others while digits are left).
        let mut out = *b"0000000000-00-00T00:00:00.000Z";
        let mut v = ((sod / 3600 * 100 + sod / 60 % 60) * 100 + sod % 60) * 1000 + ms;
        let mut start = 0;
        for (i, b) in out.iter_mut().enumerate().rev() {
            match *b {
                b'0' if i < 6 && v == 0 => {
                    start = i + 1;
                    break;
                }
                b'0' => {
                    *b += (v % 10) as u8;
                    v /= 10;
                }
                b'T' => v = month * 100 + day,
                b'-' if i == 10 => v = year,
                _ => {}
            }
        }
        let text = out.get(start..).and_then(|b| core::str::from_utf8(b).ok()).unwrap_or("");
        f.write_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Buf;

    fn show(ms: u64) -> String {
        let mut b = Buf::<64>::new();
        let _ = ufmt::uwrite!(b, "{}", Stamp(ms));
        String::from_utf8(b.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn stamp_table() {
        assert_eq!("1970-01-01T00:00:00.000Z".len(), STAMP_BYTES);
        for (ms, text) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (1, "1970-01-01T00:00:00.001Z"),
            (86_399_999, "1970-01-01T23:59:59.999Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (951_868_800_000, "2000-03-01T00:00:00.000Z"),
            (978_307_199_999, "2000-12-31T23:59:59.999Z"),
            (1_700_000_000_123, "2023-11-14T22:13:20.123Z"),
            (2_147_483_648_000, "2038-01-19T03:14:08.000Z"),
            (4_107_542_400_000, "2100-03-01T00:00:00.000Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
            (253_402_300_800_000, "10000-01-01T00:00:00.000Z"),
        ] {
            assert_eq!(show(ms), text, "{ms}");
        }
        // The largest stamp prints without overflow.
        assert!(show(u64::MAX).ends_with('Z'));
    }

    #[test]
    fn stamp_days_match_a_calendar_walk() {
        let (mut y, mut m, mut d) = (1970u64, 1u64, 1u64);
        for days in 0..200_000u64 {
            assert_eq!(civil_from_days(days), (y as u32, m as u32, d as u32), "{days}");
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m as usize - 1];
            d += 1;
            if d > month_days {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }
}
