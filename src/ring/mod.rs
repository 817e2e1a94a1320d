//! Log ring: whole lines with timestamps, oldest out first. One static byte
//! pool (owned by the caller, in .bss) is cut into blocks; each service's ring
//! is a run of blocks (`Pool`, `Area`, in pool.rs) described by a small
//! `Ring`, here. Pipe bytes become lines in an `Assembler` (assemble.rs).
//! Stamps print as RFC 3339 UTC (stamp.rs).
//!
//! A record is `[stamp u64 LE][len u16 LE][bytes]`, written at the tail and
//! wrapping around the ring's bytes; records are never split into pieces other
//! than by the wrap, so a line comes back as at most two slices. No syscalls.

mod assemble;
mod pool;
mod stamp;

pub use assemble::Assembler;
pub use pool::{Area, Pool, blocks_for};
pub use stamp::{STAMP_BYTES, Stamp};

use crate::limits::{LOG_LINE_BYTES, NAME_BYTES, RING_BLOCK_BYTES, RING_POOL_BYTES};
use crate::text::Buf;

/// One line as a log file or the console gets it: a stamp (24 bytes until
/// the year 9999, 40 at most) or a name (31) with its separator, the line
/// cut to LOG_LINE_BYTES, and a newline.
pub const RECORD_BYTES: usize = LOG_LINE_BYTES + 64;
const _: () = assert!(40 + 2 <= RECORD_BYTES - LOG_LINE_BYTES && NAME_BYTES + 3 <= RECORD_BYTES - LOG_LINE_BYTES);
pub type Record = Buf<RECORD_BYTES>;

/// `STAMP LINE\n`: a `file:` log's record.
pub fn record(stamp: Stamp, line: &[u8], out: &mut Record) {
    let _ = ufmt::uwrite!(out, "{} ", stamp);
    out.push(line.get(..LOG_LINE_BYTES).unwrap_or(line));
    out.push(b"\n");
}

/// `NAME: LINE\n`: a `console` log's record.
pub fn console_record(name: &[u8], line: &[u8], out: &mut Record) {
    out.push(name.get(..NAME_BYTES).unwrap_or(name));
    out.push(b": ");
    out.push(line.get(..LOG_LINE_BYTES).unwrap_or(line));
    out.push(b"\n");
}

/// Bytes before each stored line: stamp (8) and length (2).
const HEADER: usize = 10;

// Offsets are u32 and line lengths u16.
const _: () = assert!(RING_POOL_BYTES <= u32::MAX as usize);
const _: () = assert!(LOG_LINE_BYTES <= u16::MAX as usize);
const _: () = assert!(RING_BLOCK_BYTES > HEADER);

/// One ring inside the pool. Lines are numbered from 0 as they are pushed;
/// the ring keeps `first_seq() .. next_seq()`, so a follower that asks from
/// `s` missed `first_seq() - s` lines when that is positive.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Ring {
    pub(crate) area: Area,
    /// Offset of the oldest record in the ring's bytes.
    pub(crate) head: u32,
    /// Bytes of records stored; the tail is `head + used`, wrapped.
    pub(crate) used: u32,
    /// Lines stored.
    pub(crate) count: u32,
    /// Sequence number of the oldest line stored (or of the next, if none).
    pub(crate) first_seq: u64,
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
    /// What a ring read from a state must show (state/walk.rs): each line
    /// counted holds a header's bytes at least, and its numbers do not wrap
    /// (below 2^63, as one line at a time never gets near, plus a u32 count).
    pub const fn counts_fit(&self) -> bool {
        self.count <= self.used / HEADER as u32 && self.first_seq >> 63 == 0
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

#[cfg(test)]
mod tests {

    #[test]
    fn records() {
        let mut r = Record::new();
        record(Stamp(1_700_000_000_123), b"hello", &mut r);
        assert_eq!(r.as_bytes(), b"2023-11-14T22:13:20.123Z hello\n");
        let mut r = Record::new();
        console_record(b"web", &[b'x'; LOG_LINE_BYTES + 5], &mut r);
        assert_eq!(r.len(), 3 + 2 + LOG_LINE_BYTES + 1, "the line is cut, the newline kept");
        assert!(r.as_bytes().starts_with(b"web: xx") && r.as_bytes().ends_with(b"x\n"));
    }
    use super::pool::POOL_BLOCKS;
    use super::*;
    use std::collections::VecDeque;

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
            let lines: Vec<Vec<u8>> = (0..area.bytes() + 3).map(|i| (0..len).map(|k| (i * 7 + k) as u8).collect()).collect();
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
}
