//! The ring pool's blocks: which runs of RING_BLOCK_BYTES of the caller's
//! `static` pool are taken (`Pool`, one bit a block), and the run each ring
//! holds (`Area`). First fit; freeing twice is harmless. No syscalls.

use crate::limits::{RING_BLOCK_BYTES, RING_POOL_BYTES};
use crate::order::bit;

/// Blocks in the pool.
pub(super) const POOL_BLOCKS: usize = RING_POOL_BYTES / RING_BLOCK_BYTES;
/// Bitmap words covering the pool's blocks.
const POOL_WORDS: usize = POOL_BLOCKS.div_ceil(64);

// Block numbers are u16.
const _: () = assert!(POOL_BLOCKS <= u16::MAX as usize);

/// A run of pool blocks holding one ring.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Area {
    pub first_block: u16,
    pub blocks: u16,
}

impl Area {
    /// Bytes of the area.
    pub const fn bytes(self) -> usize {
        self.blocks as usize * RING_BLOCK_BYTES
    }
    /// Offset of the area in the pool.
    pub(crate) const fn start(self) -> usize {
        self.first_block as usize * RING_BLOCK_BYTES
    }
}

/// Blocks needed for a ring of `bytes`, rounded up (saturating).
pub fn blocks_for(bytes: u32) -> u16 {
    let b = (bytes as usize).div_ceil(RING_BLOCK_BYTES);
    u16::try_from(b).unwrap_or(u16::MAX)
}

/// Which blocks of the caller's `static` pool of RING_POOL_BYTES are taken:
/// one bit a block. The bytes themselves are passed to `Ring` calls.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Pool {
    used: [u64; POOL_WORDS],
}

impl Pool {
    pub const fn new() -> Self {
        Pool { used: [0; POOL_WORDS] }
    }

    fn taken(&self, block: usize) -> bool {
        self.used.get(block / 64).is_some_and(|w| w & bit(block % 64) != 0)
    }

    fn set(&mut self, area: Area, on: bool) {
        let first = area.first_block as usize;
        for block in first..(first + area.blocks as usize).min(POOL_BLOCKS) {
            if let Some(w) = self.used.get_mut(block / 64) {
                let bit = bit(block % 64);
                if on { *w |= bit } else { *w &= !bit }
            }
        }
    }

    /// The first run of `blocks` free blocks, now taken; None if no run is
    /// that long or `blocks` is 0.
    pub fn alloc(&mut self, blocks: u16) -> Option<Area> {
        let want = blocks as usize;
        if want == 0 {
            return None;
        }
        let mut run = 0;
        for block in 0..POOL_BLOCKS {
            run = if self.taken(block) { 0 } else { run + 1 };
            if run == want {
                let area = Area { first_block: (block + 1 - want) as u16, blocks };
                self.set(area, true);
                return Some(area);
            }
        }
        None
    }

    /// Takes exactly `area` (a decoded ring's); false when any of its
    /// blocks is taken or outside the pool.
    pub fn claim(&mut self, area: Area) -> bool {
        let first = area.first_block as usize;
        let end = first + area.blocks as usize;
        if area.blocks == 0 || end > POOL_BLOCKS || (first..end).any(|b| self.taken(b)) {
            return false;
        }
        self.set(area, true);
        true
    }

    /// Gives the area's blocks back. Freeing twice is harmless.
    pub fn free(&mut self, area: Area) {
        self.set(area, false);
    }

    #[cfg(test)]
    /// Blocks not taken.
    pub fn free_blocks(&self) -> usize {
        self.used.iter().map(|w| w.count_zeros() as usize).sum::<usize>() - (POOL_WORDS * 64 - POOL_BLOCKS)
    }
}

impl Default for Pool {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RING_DEFAULT: u32 = crate::limits::RING_DEFAULT_BYTES as u32;

    #[test]
    fn pool_first_fit() {
        let mut p = Pool::new();
        assert_eq!(p.free_blocks(), POOL_BLOCKS);
        let a = |first_block, blocks| Some(Area { first_block, blocks });
        assert_eq!(p.alloc(0), None);
        assert_eq!(p.alloc(4), a(0, 4));
        assert_eq!(p.alloc(4), a(4, 4));
        assert_eq!(p.alloc(1), a(8, 1));
        p.free(Area { first_block: 0, blocks: 4 });
        p.free(Area { first_block: 0, blocks: 4 }); // twice: harmless
        assert_eq!(p.alloc(2), a(0, 2));
        assert_eq!(p.alloc(3), a(9, 3)); // the hole at 2..4 is too short
        assert_eq!(p.alloc(2), a(2, 2));
        assert_eq!(p.free_blocks(), POOL_BLOCKS - 12);
        // Full, then freed.
        assert_eq!(p.alloc(POOL_BLOCKS as u16), None);
        let rest = (POOL_BLOCKS - 12) as u16;
        assert_eq!(p.alloc(rest), a(12, rest));
        assert_eq!(p.free_blocks(), 0);
        assert_eq!(p.alloc(1), None);
        p.free(Area { first_block: 4, blocks: 4 });
        assert_eq!(p.alloc(5), None);
        assert_eq!(p.alloc(4), a(4, 4));
        // Out of range areas are ignored, not a panic.
        p.free(Area { first_block: u16::MAX, blocks: u16::MAX });
        let mut q = Pool::new();
        assert_eq!(q.alloc(POOL_BLOCKS as u16 + 1), None);
        assert_eq!(q.alloc(POOL_BLOCKS as u16), a(0, POOL_BLOCKS as u16));
        assert_eq!(blocks_for(0), 0);
        assert_eq!(blocks_for(1), 1);
        assert_eq!(blocks_for(RING_DEFAULT), 4);
        assert_eq!(blocks_for(RING_DEFAULT + 1), 5);
        assert_eq!(blocks_for(u32::MAX), u16::MAX);
    }
}
