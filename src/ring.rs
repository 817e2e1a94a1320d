//! Log ring: whole lines with timestamps, oldest out first. One static byte
//! pool (owned by the caller, in .bss) is cut into blocks; each service's ring
//! is a run of blocks (`Pool`, `Area`) described by a small `Ring`. Pipe bytes
//! become lines in an `Assembler`. Stamps print as RFC 3339 UTC. No syscalls.
//!
//! A record is `[stamp u64 LE][len u16 LE][bytes]`, written at the tail and
//! wrapping around the ring's bytes; records are never split into pieces other
//! than by the wrap, so a line comes back as at most two slices.

use crate::limits::{LOG_LINE_BYTES, RING_BLOCK_BYTES, RING_POOL_BYTES};
use ufmt::{uDisplay, uWrite};

/// Blocks in the pool.
const POOL_BLOCKS: usize = RING_POOL_BYTES / RING_BLOCK_BYTES;
/// Bitmap words covering the pool's blocks.
const POOL_WORDS: usize = POOL_BLOCKS.div_ceil(64);
/// Bytes before each stored line: stamp (8) and length (2).
const HEADER: usize = 10;

// Offsets are u32, block numbers u16 and line lengths u16.
const _: () = assert!(RING_POOL_BYTES <= u32::MAX as usize);
const _: () = assert!(POOL_BLOCKS <= u16::MAX as usize);
const _: () = assert!(LOG_LINE_BYTES <= u16::MAX as usize);
const _: () = assert!(RING_BLOCK_BYTES > HEADER);

// ---------------------------------------------------------------- stamps

/// Wall-clock time of a line: milliseconds since the Unix epoch (UTC), read
/// from CLOCK_REALTIME by the caller.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default)]
pub struct Stamp(pub u64);

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01, by Howard
/// Hinnant's `civil_from_days`, unsigned since stamps start at the epoch.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so that leap days end each 400-year era.
    let z = days + 719_468; // days ≤ u64::MAX / 86_400_000: cannot overflow
    let era = z / 146_097;
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Writes `v` in decimal, at least `width` digits, ending at `out[end]`;
/// returns where it starts. The caller sizes `out` for any u64.
fn digits(out: &mut [u8], end: usize, mut v: u64, width: usize) -> usize {
    let mut i = end;
    let mut n = 0;
    while (v != 0 || n < width) && i > 0 {
        i -= 1;
        if let Some(b) = out.get_mut(i) {
            *b = b'0' + (v % 10) as u8;
        }
        v /= 10;
        n += 1;
    }
    i
}

/// `2023-11-14T22:13:20.123Z`; years past 9999 take more digits.
impl uDisplay for Stamp {
    fn fmt<W: uWrite + ?Sized>(&self, f: &mut ufmt::Formatter<'_, W>) -> Result<(), W::Error> {
        let ms = self.0 % 1000;
        let secs = self.0 / 1000;
        let (year, month, day) = civil_from_days(secs / 86_400);
        let sod = secs % 86_400;
        // Built right to left: "-MM-DDTHH:MM:SS.mmmZ" is 20 bytes, the year at most 20.
        let mut out = *b"00000000000000000000-MM-DDTHH:MM:SS.mmmZ";
        let tail = out.len() - 20;
        for (at, v, w) in [
            (tail + 3, month, 2),
            (tail + 6, day, 2),
            (tail + 9, sod / 3600, 2),
            (tail + 12, sod / 60 % 60, 2),
            (tail + 15, sod % 60, 2),
            (tail + 19, ms, 3),
        ] {
            digits(&mut out, at, v, w);
        }
        let start = digits(&mut out, tail, year, 4);
        let text = out.get(start..).and_then(|b| core::str::from_utf8(b).ok()).unwrap_or("");
        f.write_str(text)
    }
}

// ---------------------------------------------------------------- pool

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
    const fn start(self) -> usize {
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
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Pool {
    used: [u64; POOL_WORDS],
}

impl Pool {
    pub const fn new() -> Self {
        Pool { used: [0; POOL_WORDS] }
    }

    fn taken(&self, block: usize) -> bool {
        self.used.get(block / 64).is_some_and(|w| w & (1 << (block % 64)) != 0)
    }

    fn set(&mut self, area: Area, on: bool) {
        let first = area.first_block as usize;
        for block in first..(first + area.blocks as usize).min(POOL_BLOCKS) {
            if let Some(w) = self.used.get_mut(block / 64) {
                let bit = 1u64 << (block % 64);
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

// ---------------------------------------------------------------- ring

/// One ring inside the pool. Lines are numbered from 0 as they are pushed;
/// the ring keeps `first_seq() .. next_seq()`, so a follower that asks from
/// `s` missed `first_seq() - s` lines when that is positive.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Ring {
    area: Area,
    /// Offset of the oldest record in the ring's bytes.
    head: u32,
    /// Bytes of records stored; the tail is `head + used`, wrapped.
    used: u32,
    /// Lines stored.
    count: u32,
    /// Sequence number of the oldest line stored (or of the next, if none).
    first_seq: u64,
}

/// One stored line: its bytes are `first` then `second` (non-empty only when
/// the line wraps around the end of the ring).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Line<'a> {
    pub seq: u64,
    pub stamp: Stamp,
    pub first: &'a [u8],
    pub second: &'a [u8],
}

impl Line<'_> {
    pub fn len(&self) -> usize {
        self.first.len() + self.second.len()
    }
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    #[cfg(test)]
    /// Copies what fits of the line into `out`; returns the bytes copied.
    pub fn copy_to(&self, out: &mut [u8]) -> usize {
        let mut n = 0;
        for part in [self.first, self.second] {
            let k = part.len().min(out.len() - n);
            if let (Some(dst), Some(src)) = (out.get_mut(n..n + k), part.get(..k)) {
                crate::text::copy(dst, src);
                n += k;
            }
        }
        n
    }
}

/// `len` bytes at `off` of `ring` (wrapping) as at most two slices.
fn wrapped(ring: &[u8], off: usize, len: usize) -> (&[u8], &[u8]) {
    let (before, from) = ring.split_at_checked(off).unwrap_or((ring, &[]));
    let a = len.min(from.len());
    (from.get(..a).unwrap_or(&[]), before.get(..len - a).unwrap_or(&[]))
}

/// Copies `out.len()` bytes from `off` of `ring` (wrapping).
fn read_at(ring: &[u8], off: usize, out: &mut [u8]) {
    let (a, b) = wrapped(ring, off, out.len());
    let (oa, ob) = out.split_at_mut(a.len());
    crate::text::copy(oa, a);
    if let Some(ob) = ob.get_mut(..b.len()) {
        crate::text::copy(ob, b);
    }
}

/// Copies `src` to `off` of `ring` (wrapping); `src` fits in `ring`.
fn write_at(ring: &mut [u8], off: usize, src: &[u8]) {
    let size = ring.len();
    let off = off.min(size);
    let a = src.len().min(size - off);
    let (sa, sb) = src.split_at_checked(a).unwrap_or((src, &[]));
    if let Some(d) = ring.get_mut(off..off + a) {
        crate::text::copy(d, sa);
    }
    if let Some(d) = ring.get_mut(..sb.len()) {
        crate::text::copy(d, sb);
    }
}

/// The record header at `off`: (stamp, line length).
fn header_at(ring: &[u8], off: usize) -> (Stamp, usize) {
    let mut h = [0u8; HEADER];
    read_at(ring, off, &mut h);
    let mut stamp = [0u8; 8];
    crate::text::copy(&mut stamp, &h[..8]);
    (Stamp(u64::from_le_bytes(stamp)), u16::from_le_bytes([h[8], h[9]]) as usize)
}

impl Ring {
    /// An empty ring over `area`, numbering lines from 0.
    pub const fn new(area: Area) -> Self {
        Ring { area, head: 0, used: 0, count: 0, first_seq: 0 }
    }

    pub const fn area(&self) -> Area {
        self.area
    }
    #[cfg(test)]
    /// Lines stored.
    pub const fn len(&self) -> usize {
        self.count as usize
    }
    #[cfg(test)]
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// Sequence number of the oldest line stored.
    pub const fn first_seq(&self) -> u64 {
        self.first_seq
    }
    /// Sequence number the next pushed line will get.
    pub const fn next_seq(&self) -> u64 {
        self.first_seq + self.count as u64
    }
    /// Where to start to get the last `n` lines (fewer if fewer are stored).
    pub const fn seq_of_last(&self, n: usize) -> u64 {
        let n = if n < self.count as usize { n as u64 } else { self.count as u64 };
        self.next_seq() - n
    }

    /// The ring's bytes in the pool; None if `pool` is not the whole pool.
    fn bytes<'p>(&self, pool: &'p [u8]) -> Option<&'p [u8]> {
        pool.get(self.area.start()..self.area.start() + self.area.bytes())
    }

    /// Forgets the oldest line.
    fn drop_oldest(&mut self, ring: &[u8]) {
        let size = ring.len();
        let (_, len) = header_at(ring, self.head as usize);
        // min(): a record never claims more than what is stored.
        let rec = (HEADER + len).min(self.used as usize);
        self.head = ((self.head as usize + rec) % size) as u32;
        self.used -= rec as u32;
        self.count = self.count.saturating_sub(1);
        self.first_seq += 1;
        if self.count == 0 {
            self.head = 0;
            self.used = 0;
        }
    }

    /// Stores `line` as the newest, dropping whole oldest lines to make room.
    /// A line longer than LOG_LINE_BYTES or than the ring holds is cut; in a
    /// ring too small for any line it is counted as pushed and dropped.
    pub fn push(&mut self, pool: &mut [u8], stamp: Stamp, line: &[u8]) {
        let start = self.area.start();
        let Some(ring) = pool.get_mut(start..start + self.area.bytes()) else { return };
        let size = ring.len();
        let Some(room) = size.checked_sub(HEADER) else {
            self.first_seq += 1;
            return;
        };
        let line = line.get(..room.min(LOG_LINE_BYTES)).unwrap_or(line);
        let need = HEADER + line.len();
        while size - (self.used as usize) < need && self.count > 0 {
            self.drop_oldest(ring);
        }
        if self.count == 0 {
            self.head = 0;
            self.used = 0;
        }
        let tail = (self.head as usize + self.used as usize) % size;
        let mut h = [0u8; HEADER];
        crate::text::copy(&mut h[..8], &stamp.0.to_le_bytes());
        crate::text::copy(&mut h[8..], &(line.len() as u16).to_le_bytes());
        write_at(ring, tail, &h);
        write_at(ring, (tail + HEADER) % size, line);
        self.used += need as u32;
        self.count += 1;
    }

    /// Lines from `seq` on (from the oldest if `seq` is older), oldest first.
    /// Finding `seq` walks the lines before it.
    pub fn lines<'p>(&self, pool: &'p [u8], seq: u64) -> Iter<'p> {
        let ring = self.bytes(pool).unwrap_or(&[]);
        let mut it = Iter { ring, off: self.head as usize, seq: self.first_seq, end: self.next_seq() };
        if ring.is_empty() {
            it.end = it.seq;
        }
        while it.seq < seq.min(it.end) {
            it.next();
        }
        it
    }

    #[cfg(test)]
    /// Line `seq`, if still stored.
    pub fn get<'p>(&self, pool: &'p [u8], seq: u64) -> Option<Line<'p>> {
        if seq < self.first_seq {
            return None;
        }
        self.lines(pool, seq).next()
    }
}

/// Stored lines, oldest first; from `Ring::lines`.
pub struct Iter<'p> {
    ring: &'p [u8],
    off: usize,
    seq: u64,
    end: u64,
}

impl<'p> Iterator for Iter<'p> {
    type Item = Line<'p>;
    fn next(&mut self) -> Option<Line<'p>> {
        if self.seq >= self.end {
            return None;
        }
        let size = self.ring.len();
        if size <= HEADER {
            return None;
        }
        let (stamp, len) = header_at(self.ring, self.off);
        let len = len.min(size - HEADER);
        let at = (self.off + HEADER) % size;
        let (first, second) = wrapped(self.ring, at, len);
        let line = Line { seq: self.seq, stamp, first, second };
        self.off = (at + len) % size;
        self.seq += 1;
        Some(line)
    }
}

// ---------------------------------------------------------------- assembler

/// Turns one instance's pipe bytes into lines: each `\n` ends a line (the
/// `\n` dropped, every other byte kept, `\r` included); longer output is cut
/// into LOG_LINE_BYTES pieces. Holds the partial line between reads.
pub struct Assembler {
    buf: [u8; LOG_LINE_BYTES],
    len: u16,
}

impl Assembler {
    pub const fn new() -> Self {
        Assembler { buf: [0; LOG_LINE_BYTES], len: 0 }
    }

    #[cfg(test)]
    /// True while a partial line waits for its `\n` (or a `flush`).
    pub const fn has_partial(&self) -> bool {
        self.len != 0
    }

    /// Emits every line that `bytes` completes.
    pub fn feed(&mut self, bytes: &[u8], emit: &mut impl FnMut(&[u8])) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let nl = rest.iter().position(|&b| b == b'\n');
            let (mut seg, after) = match nl {
                Some(i) => (rest.get(..i).unwrap_or(&[]), rest.get(i + 1..).unwrap_or(&[])),
                None => (rest, &[][..]),
            };
            rest = after;
            let ended = nl.is_some();
            // The line went out straight from `bytes`, without a copy.
            let mut sent = false;
            while !seg.is_empty() {
                let len = self.len as usize;
                if len == LOG_LINE_BYTES {
                    // Full, and more bytes follow: a whole piece. (Full with
                    // the `\n` next is a whole line, emitted below.)
                    emit(&self.buf);
                    self.len = 0;
                } else if len == 0 && seg.len() > LOG_LINE_BYTES {
                    let (piece, more) = seg.split_at_checked(LOG_LINE_BYTES).unwrap_or((seg, &[]));
                    emit(piece);
                    seg = more;
                } else if len == 0 && ended {
                    emit(seg);
                    sent = true;
                    break;
                } else {
                    let k = seg.len().min(LOG_LINE_BYTES - len);
                    let (take, more) = seg.split_at_checked(k).unwrap_or((seg, &[]));
                    if let Some(dst) = self.buf.get_mut(len..len + take.len()) {
                        crate::text::copy(dst, take);
                    }
                    self.len += take.len() as u16;
                    seg = more;
                }
            }
            if ended && !sent {
                emit(self.buf.get(..self.len as usize).unwrap_or(&[]));
                self.len = 0;
            }
        }
    }

    /// Emits a pending partial line (the pipe is idle or closed).
    pub fn flush(&mut self, emit: &mut impl FnMut(&[u8])) {
        if self.len != 0 {
            emit(self.buf.get(..self.len as usize).unwrap_or(&[]));
            self.len = 0;
        }
    }
}

impl Default for Assembler {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Buf;
    use std::collections::VecDeque;

    fn show(ms: u64) -> String {
        let mut b = Buf::<64>::new();
        let _ = ufmt::uwrite!(b, "{}", Stamp(ms));
        String::from_utf8(b.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn stamp_table() {
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
            assert_eq!(civil_from_days(days), (y, m, d), "{days}");
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

    const RING_DEFAULT: u32 = crate::limits::RING_DEFAULT_BYTES as u32;

    #[test]
    fn sizes() {
        assert!(core::mem::size_of::<Ring>() <= 24);
        assert!(core::mem::size_of::<Area>() <= 4);
        assert!(core::mem::size_of::<Pool>() <= POOL_BLOCKS / 8);
        assert!(core::mem::size_of::<Assembler>() <= LOG_LINE_BYTES + 2);
    }

    fn text(l: &Line) -> Vec<u8> {
        let mut v = l.first.to_vec();
        v.extend_from_slice(l.second);
        let mut out = vec![0; l.len()];
        assert_eq!(l.copy_to(&mut out), l.len());
        assert_eq!(out, v);
        v
    }

    /// What the ring should hold: (seq, stamp, bytes), oldest first.
    struct Model {
        size: usize,
        lines: VecDeque<(u64, u64, Vec<u8>)>,
        next: u64,
    }

    impl Model {
        fn push(&mut self, stamp: u64, line: &[u8]) {
            let Some(room) = self.size.checked_sub(HEADER) else {
                self.next += 1;
                return;
            };
            let line = &line[..line.len().min(room).min(LOG_LINE_BYTES)];
            let used = |m: &Model| m.lines.iter().map(|l| HEADER + l.2.len()).sum::<usize>();
            while used(self) + HEADER + line.len() > self.size {
                self.lines.pop_front();
            }
            self.lines.push_back((self.next, stamp, line.to_vec()));
            self.next += 1;
        }
    }

    /// Pushes `lines` into a ring at `area` of a whole pool, checking every
    /// stored line after every push, and that bytes outside the area stay.
    fn script(area: Area, lines: &[Vec<u8>]) {
        let mut pool = vec![0xA5u8; RING_POOL_BYTES];
        let mut ring = Ring::new(area);
        let mut model = Model { size: area.bytes(), lines: VecDeque::new(), next: 0 };
        for (i, line) in lines.iter().enumerate() {
            let stamp = 1_700_000_000_000 + i as u64;
            ring.push(&mut pool, Stamp(stamp), line);
            model.push(stamp, line);
            assert_eq!(ring.len(), model.lines.len(), "push {i}");
            assert_eq!(ring.next_seq(), model.next);
            assert_eq!(ring.first_seq(), model.lines.front().map_or(model.next, |l| l.0));
            let got: Vec<_> = ring.lines(&pool, 0).map(|l| (l.seq, l.stamp.0, text(&l))).collect();
            assert_eq!(got, Vec::from(model.lines.clone()), "push {i}");
            // get() agrees for a stored line, and is None on both sides.
            let newest = model.lines.back().unwrap();
            let l = ring.get(&pool, newest.0).unwrap();
            assert_eq!((l.seq, l.stamp.0, text(&l)), newest.clone());
            assert_eq!(ring.get(&pool, ring.next_seq()), None);
            if ring.first_seq() > 0 {
                assert_eq!(ring.get(&pool, ring.first_seq() - 1), None);
            }
        }
        let (start, end) = (area.start(), area.start() + area.bytes());
        assert!(pool[..start].iter().chain(&pool[end..]).all(|&b| b == 0xA5));
    }

    fn numbered(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("line {i:08}").into_bytes()).collect()
    }

    #[test]
    fn oldest_out_first() {
        // 13 + 10 bytes a record: 3 × the ring's bytes of numbered lines.
        let area = Area { first_block: 3, blocks: 4 };
        let n = 3 * area.bytes() / 13;
        script(area, &numbered(n));
        let mut pool = vec![0u8; RING_POOL_BYTES];
        let mut ring = Ring::new(area);
        for (i, l) in numbered(n).iter().enumerate() {
            ring.push(&mut pool, Stamp(i as u64), l);
        }
        let per = area.bytes() / (HEADER + 13);
        assert_eq!(ring.len(), per);
        assert_eq!(ring.next_seq(), n as u64);
        assert_eq!(ring.first_seq(), (n - per) as u64);
        assert_eq!(ring.get(&pool, 0), None);
        let newest = ring.get(&pool, n as u64 - 1).unwrap();
        assert_eq!(text(&newest), format!("line {:08}", n - 1).into_bytes());
        assert_eq!(newest.stamp, Stamp(n as u64 - 1));
        // A follower at seq 5 missed everything before first_seq.
        let from = 5;
        let first = ring.lines(&pool, from).next().unwrap();
        assert_eq!(first.seq, ring.first_seq());
        assert_eq!(first.seq - from, (n - per - 5) as u64);
    }

    #[test]
    fn wraps_at_every_offset() {
        // A record size prime to the ring size puts the tail (and so every
        // split of header and body) at every offset of the ring.
        let area = Area { first_block: 1, blocks: 1 };
        for len in [1usize, 3, 101, 245] {
            assert_eq!(gcd(HEADER + len, area.bytes()), 1);
            let lines: Vec<Vec<u8>> =
                (0..area.bytes() + 3).map(|i| (0..len).map(|k| (i * 7 + k) as u8).collect()).collect();
            script(area, &lines);
        }
    }

    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 { a } else { gcd(b, a % b) }
    }

    #[test]
    fn lengths_zero_one_max_and_cut() {
        let max = vec![b'x'; LOG_LINE_BYTES];
        let long = vec![b'y'; 3 * LOG_LINE_BYTES];
        let mix: Vec<Vec<u8>> = (0..200)
            .map(|i| match i % 6 {
                0 => vec![],
                1 => vec![b'a'],
                2 => max.clone(),
                3 => long.clone(),
                4 => vec![b'z'; i],
                _ => vec![b'\n', b'\r', 0, 0xff],
            })
            .collect();
        for blocks in [1, 2, 4, 7] {
            script(Area { first_block: 10, blocks }, &mix);
        }
        // In a one-block ring a long line is cut to what the ring holds.
        let mut pool = vec![0u8; RING_POOL_BYTES];
        let mut ring = Ring::new(Area { first_block: 0, blocks: 1 });
        ring.push(&mut pool, Stamp(1), &long);
        assert_eq!(ring.get(&pool, 0).unwrap().len(), RING_BLOCK_BYTES - HEADER);
        // Elsewhere to LOG_LINE_BYTES.
        let mut ring = Ring::new(Area { first_block: 0, blocks: 4 });
        ring.push(&mut pool, Stamp(1), &long);
        assert_eq!(ring.get(&pool, 0).unwrap().len(), LOG_LINE_BYTES);
    }

    #[test]
    fn no_room_and_wrong_pool() {
        let mut pool = vec![0u8; RING_POOL_BYTES];
        // No blocks: lines are counted, then lost.
        let mut ring = Ring::new(Area { first_block: 0, blocks: 0 });
        ring.push(&mut pool, Stamp(1), b"gone");
        assert_eq!((ring.len(), ring.first_seq(), ring.next_seq()), (0, 1, 1));
        assert_eq!(ring.get(&pool, 0), None);
        assert_eq!(ring.lines(&pool, 0).count(), 0);
        // An area past the pool: nothing stored, nothing read, no panic.
        let mut ring = Ring::new(Area { first_block: POOL_BLOCKS as u16, blocks: 1 });
        ring.push(&mut pool, Stamp(1), b"x");
        assert_eq!(ring.len(), 0);
        let mut ring = Ring::new(Area { first_block: 0, blocks: 1 });
        ring.push(&mut pool, Stamp(1), b"x");
        assert_eq!(ring.get(&pool[..10], 0), None);
        assert_eq!(ring.lines(&[], 0).count(), 0);
    }

    #[test]
    fn seq_of_last_table() {
        let mut pool = vec![0u8; RING_POOL_BYTES];
        let mut ring = Ring::new(Area { first_block: 0, blocks: 1 });
        assert_eq!(ring.seq_of_last(10), 0);
        for l in numbered(200) {
            ring.push(&mut pool, Stamp(0), &l); // 23 bytes a record: 44 kept
        }
        assert_eq!((ring.first_seq(), ring.next_seq()), (156, 200));
        for (n, seq) in [(0, 200), (1, 199), (10, 190), (44, 156), (45, 156), (usize::MAX, 156)] {
            assert_eq!(ring.seq_of_last(n), seq, "{n}");
            assert_eq!(ring.lines(&pool, seq).count(), n.min(44), "{n}");
        }
    }

    /// Lines the assembler should emit for `input`, then for a flush.
    fn expected(input: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut parts: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        let last = parts.pop().unwrap();
        for p in parts {
            if p.is_empty() {
                out.push(vec![]);
            }
            out.extend(p.chunks(LOG_LINE_BYTES).map(|c| c.to_vec()));
        }
        out.extend(last.chunks(LOG_LINE_BYTES).map(|c| c.to_vec()));
        out
    }

    fn assemble(input: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut a = Assembler::new();
        let mut out = Vec::new();
        let mut at = 0;
        for &c in cuts.iter().chain([input.len()].iter()) {
            let c = c.min(input.len()).max(at);
            a.feed(&input[at..c], &mut |l: &[u8]| out.push(l.to_vec()));
            at = c;
        }
        a.flush(&mut |l: &[u8]| out.push(l.to_vec()));
        assert!(!a.has_partial());
        out
    }

    #[test]
    fn assembler_script() {
        let mut a = Assembler::new();
        let mut out: Vec<Vec<u8>> = Vec::new();
        let mut emit = |l: &[u8]| out.push(l.to_vec());
        a.feed(b"ab", &mut emit);
        a.feed(b"c\nde\n\nf", &mut emit);
        assert!(a.has_partial());
        a.feed(b"g\r\n", &mut emit);
        a.feed(b"", &mut emit);
        a.feed(b"h", &mut emit);
        a.flush(&mut emit);
        a.flush(&mut emit);
        a.feed(b"i\n", &mut emit);
        let want: [&[u8]; 6] = [b"abc", b"de", b"", b"fg\r", b"h", b"i"];
        assert_eq!(out, want.map(|w| w.to_vec()));
    }

    #[test]
    fn assembler_long_lines_and_splits() {
        let l = LOG_LINE_BYTES;
        let run = |n: usize| -> Vec<u8> { (0..n).map(|i| b'a' + (i % 26) as u8).collect() };
        let cat = |parts: &[&[u8]]| parts.concat();
        let inputs: Vec<Vec<u8>> = vec![
            cat(&[&run(l), b"\n"]),
            cat(&[&run(l + 1), b"\n"]),
            cat(&[&run(2 * l), b"\n"]),
            cat(&[&run(2 * l + 5), b"\nx\n", &run(l)]),
            cat(&[&run(l - 1), b"\n\n", &run(l), b"\n", &run(3 * l + 1)]),
            b"\n\n\n".to_vec(),
            run(l),
            cat(&[b"ab\ncd", &run(l), b"\n"]),
        ];
        for (k, input) in inputs.iter().enumerate() {
            let want = expected(input);
            assert_eq!(assemble(input, &[]), want, "input {k} whole");
            for step in [1, 2, 7, l - 1, l, l + 1] {
                let cuts: Vec<usize> = (step..input.len()).step_by(step).collect();
                assert_eq!(assemble(input, &cuts), want, "input {k} step {step}");
            }
            for cut in 0..=input.len().min(3 * l + 8) {
                assert_eq!(assemble(input, &[cut]), want, "input {k} cut {cut}");
            }
        }
        // Exactly one piece for a line of LOG_LINE_BYTES, no empty line after it.
        assert_eq!(assemble(&inputs[0], &[]).len(), 1);
        assert_eq!(assemble(&inputs[2], &[]).len(), 2);
    }
}
