//! Start order from `after`, cycles, stop order. A service set is up to 64
//! slots; `masks[i]` has bit j set when service i starts after service j.
//! Bits at or past `masks.len()` are ignored. Ties go to the lower slot, so
//! the order follows the config where `after` allows. No syscalls.

#[cfg(test)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Error {
    /// `after` makes a cycle (`find_cycle` names a service on it).
    Cycle,
    /// More than 64 services, or `out` shorter than `masks`.
    TooMany,
}

#[cfg(test)]
impl Error {
    pub const fn text(self) -> &'static str {
        match self {
            Error::Cycle => "'after' makes a cycle",
            Error::TooMany => "too many services to order",
        }
    }
}

/// The bit of slot `i` in a mask of 64 slots: `1 << i` (modulo 64, as a
/// release build shifts). Out of line on 32-bit targets, where a 64-bit shift
/// is a libgcc call with three words of arguments (i686) or six instructions
/// (armv7), at each of some twenty places.
#[cfg_attr(target_pointer_width = "32", inline(never))]
#[cfg_attr(target_pointer_width = "64", inline(always))]
pub const fn bit(i: usize) -> u64 {
    1u64.wrapping_shl(i as u32)
}

const fn all(n: usize) -> u64 {
    if n >= 64 { u64::MAX } else { bit(n) - 1 }
}

/// The lowest slot not in `done` whose dependencies are all in `done`.
fn next_free(masks: &[u64], done: u64) -> Option<usize> {
    let valid = all(masks.len());
    masks.iter().enumerate().take(64).position(|(i, &m)| done & bit(i) == 0 && m & valid & !done == 0)
}

/// Peels off services whose dependencies are met until none is left or all
/// that remain wait on a cycle; calls `each` in start order. Returns the set
/// of slots that could start.
fn peel(masks: &[u64], each: &mut impl FnMut(usize)) -> u64 {
    let mut done = 0u64;
    while let Some(i) = next_free(masks, done) {
        done |= bit(i);
        each(i);
    }
    done
}

/// A slot on a cycle (the lowest of that cycle), or `None` if there is none.
pub fn find_cycle(masks: &[u64]) -> Option<usize> {
    let n = masks.len().min(64);
    let stuck = all(n) & !peel(masks, &mut |_| {});
    if stuck == 0 {
        return None;
    }
    // Every stuck slot waits on another stuck slot: following the lowest such
    // dependency n times must end on a cycle; n more steps go round it.
    let step = |x: usize| masks.get(x).map_or(x, |&m| (m & stuck).trailing_zeros() as usize);
    let mut x = stuck.trailing_zeros() as usize;
    for _ in 0..n {
        x = step(x);
    }
    let mut low = x;
    for _ in 0..n {
        x = step(x);
        low = low.min(x);
    }
    Some(low)
}

#[cfg(test)]
/// Writes the slots into `out` so that each comes after what it waits for;
/// returns how many (`masks.len()`).
pub fn start_order(masks: &[u64], out: &mut [u8]) -> Result<usize, Error> {
    let n = masks.len();
    if n > 64 || out.len() < n {
        return Err(Error::TooMany);
    }
    let mut count = 0usize;
    peel(masks, &mut |i| {
        if let Some(slot) = out.get_mut(count) {
            *slot = i as u8; // i < 64
            count += 1;
        }
    });
    if count < n { Err(Error::Cycle) } else { Ok(count) }
}

#[cfg(test)]
/// The start order reversed: a service stops before what it came after.
pub fn stop_order(masks: &[u64], out: &mut [u8]) -> Result<usize, Error> {
    let n = start_order(masks, out)?;
    if let Some(used) = out.get_mut(..n) {
        used.reverse();
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(list: &[usize]) -> u64 {
        list.iter().fold(0, |m, &i| m | 1 << i)
    }

    #[test]
    fn bit_is_a_shift_modulo_64() {
        for (i, want) in [(0, 1), (1, 2), (5, 32), (63, 1u64 << 63), (64, 1), (65, 2)] {
            assert_eq!(bit(i), want, "{i}");
        }
    }

    #[test]
    fn orders_table() {
        // (after lists per slot, start order)
        let table: &[(&[&[usize]], &[u8])] = &[
            (&[], &[]),
            (&[&[]], &[0]),
            (&[&[], &[], &[]], &[0, 1, 2]),
            (&[&[1], &[]], &[1, 0]),
            (&[&[2], &[2], &[]], &[2, 0, 1]),
            (&[&[1, 2], &[2], &[]], &[2, 1, 0]),
            (&[&[], &[3], &[0], &[]], &[0, 2, 3, 1]),
            // A bit past the end is ignored.
            (&[&[5], &[0]], &[0, 1]),
        ];
        for (after, want) in table {
            let masks: Vec<u64> = after.iter().map(|a| bits(a)).collect();
            let mut out = [0u8; 64];
            assert_eq!(start_order(&masks, &mut out), Ok(want.len()), "{after:?}");
            assert_eq!(&out[..want.len()], *want, "{after:?}");
            assert_eq!(find_cycle(&masks), None, "{after:?}");
            let mut rev = [0u8; 64];
            assert_eq!(stop_order(&masks, &mut rev), Ok(want.len()));
            let back: Vec<u8> = want.iter().rev().copied().collect();
            assert_eq!(&rev[..want.len()], &back[..]);
        }
    }

    #[test]
    fn cycles_table() {
        let table: &[(&[&[usize]], usize)] = &[
            (&[&[0]], 0),
            (&[&[1], &[0]], 0),
            (&[&[], &[2], &[3], &[1]], 1),
            // 0 waits on the cycle 2 ⇄ 3 without being on it.
            (&[&[2], &[], &[3], &[2]], 2),
            (&[&[1], &[2], &[3], &[4], &[1]], 1),
        ];
        for (after, on) in table {
            let masks: Vec<u64> = after.iter().map(|a| bits(a)).collect();
            assert_eq!(find_cycle(&masks), Some(*on), "{after:?}");
            let mut out = [0u8; 64];
            assert_eq!(start_order(&masks, &mut out), Err(Error::Cycle), "{after:?}");
        }
    }

    #[test]
    fn sixty_four_in_a_chain() {
        let masks: Vec<u64> = (0..64).map(|i| if i == 63 { 0 } else { 1u64 << (i + 1) }).collect();
        let mut out = [0u8; 64];
        assert_eq!(start_order(&masks, &mut out), Ok(64));
        assert_eq!(out[0], 63);
        assert_eq!(out[63], 0);
        let mut ring = masks.clone();
        ring[63] = 1;
        assert_eq!(find_cycle(&ring), Some(0));
    }

    #[test]
    fn capacity() {
        let mut small = [0u8; 1];
        assert_eq!(start_order(&[0, 0], &mut small), Err(Error::TooMany));
        assert_eq!(start_order(&[0; 65], &mut [0u8; 65]), Err(Error::TooMany));
        assert_eq!(find_cycle(&[0; 65]), None);
    }
}
