//! The reexec state: everything `svc up` holds, as bytes that the next
//! image (or the next release) decodes. No syscalls.
//!
//! A blob is a header, `b"svcR"`, the writer's version (u16 LE), the oldest
//! version that can read it (u16 LE), the whole length (u32 LE) and an
//! FNV-1a checksum of what follows the header (u32 LE); then items, each a
//! tag (u16 LE), a length (u32 LE) and its fields. A field is an unsigned
//! LEB128 number (or a count followed by that many bytes); an item's fields
//! come in a fixed order and a new release only appends to them, so a reader
//! keeps its default for a field an older writer did not write and skips the
//! fields it does not know. A tag is never reused; an unknown tag is skipped
//! when its OPTIONAL bit is set, refused otherwise.
//!
//! One walker (`Io`) both writes and reads: each type's fields are listed
//! once (`walk_*`), and reading fills the value in place. The config is
//! carried as the text in force and parsed again by the reader (the parser
//! it has, not a walk of every definition). Nothing decoded is trusted:
//! `decode` ends with `check`, and the OS layer then checks each fd and pid
//! against the kernel.

use crate::clients::{Clients, Job};
use crate::config::Config;
use crate::duration::{Duration, Instant};
use crate::limits::{MAX_CLIENTS, MAX_FDS, MAX_INSTANCES, PROBE_OUTPUT_BYTES};
use crate::ring::{Assembler, Pool, Ring};
use crate::service::{Service, Want};
use crate::supervisor::Supervisor;
use crate::text::{Buf, Out};
use heapless::Vec;
use walk::{walk_client, walk_pins, walk_slot};

#[cfg(test)]
mod tests;
mod walk;

pub const MAGIC: [u8; 4] = *b"svcR";
/// This release's version of the encoding.
pub const VERSION: u16 = 1;
/// The oldest reader of what this release writes.
pub const OLDEST_READER: u16 = 1;
/// Magic, version, oldest reader, length, checksum.
pub const HEADER_BYTES: usize = 16;
/// Set on the tag of an item that a reader which does not know it may skip.
pub const OPTIONAL: u16 = 0x8000;

// Tags: never reuse one. (2 was a walked Config, 6 a pid with its start
// time, in no release.)
const META: u16 = 1;
const SERVICE: u16 = 3;
const FD: u16 = 4;
const CLIENT: u16 = 5;
/// The config text in force.
const TEXT: u16 = 7;
const PINS: u16 = 8;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Error {
    /// Not a state blob.
    Magic,
    /// Written by a release too new for this one.
    Version,
    /// Shorter or longer than its header says.
    Length,
    Checksum,
    /// An item this release does not know, not marked optional.
    Tag,
    /// A field out of range, or an item cut short.
    Value,
    /// The config text does not parse (a file it names is gone, say).
    Config,
    /// The output buffer is full (encode), or a table is (decode).
    Full,
    /// Decoded, but the whole does not hold together.
    Invalid,
}

impl Error {
    pub const fn text(self) -> &'static str {
        match self {
            Error::Magic => "not a state blob",
            Error::Version => "written by a newer release",
            Error::Length => "truncated or overlong",
            Error::Checksum => "checksum mismatch",
            Error::Tag => "unknown item",
            Error::Value => "bad value",
            Error::Config => "its config does not parse",
            Error::Full => "too large",
            Error::Invalid => "inconsistent",
        }
    }
}

/// What the old image says about itself and the handoff.
pub struct Meta {
    /// The writer's build id (`svc version`).
    pub build: Buf<64>,
    /// The control client that asked for the reexec, + 1 (0: none).
    pub asker: u8,
}

impl Meta {
    pub const fn new() -> Self {
        Meta { build: Buf::new(), asker: 0 }
    }
}

/// One fd handed over: its number, its role (the OS layer's number), what it is open on as a number (device and inode, and
/// whether it listens: the OS layer's, so that the new image knows it for
/// the same), and the device and inode of the socket file svc made for it
/// (0, 0 for none).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Fd {
    pub num: i32,
    pub role: u32,
    pub id: u64,
    pub file: (u64, u64),
}

pub type Fds = Vec<Fd, MAX_FDS>;

/// Each instance's start time (/proc/PID/stat field 22, in clock ticks
/// since boot, its low 32 bits: they tell one process from another; 0:
/// none), per slot as `Service::inst`, so that a reused pid is not adopted.
pub type Starts = [u32; MAX_INSTANCES];

/// Everything encoded, borrowed from where `svc up` keeps it.
pub struct Parts<'a> {
    pub meta: &'a mut Meta,
    pub sup: &'a mut Supervisor,
    /// The config text in force: `text_len` bytes of `text`.
    pub text: &'a mut [u8],
    pub text_len: &'a mut usize,
    /// The ring pool's bytes (RING_POOL_BYTES) and blocks.
    pub pool: &'a mut [u8],
    pub blocks: &'a mut Pool,
    /// Per slot (svc's tables have MAX_SERVICES; a test's may have fewer).
    pub rings: &'a mut [Option<Ring>],
    pub asm: &'a mut [[Assembler; MAX_INSTANCES]],
    pub drops: &'a mut [u32],
    pub probes: &'a mut [Buf<PROBE_OUTPUT_BYTES>],
    pub probe_fresh: &'a mut u64,
    pub clients: &'a mut Clients,
    pub fds: &'a mut Fds,
    pub starts: &'a mut [Starts],
}

/// The walker: writes fields into `dst` or reads them from `src[pos..end]`.
pub struct Io<'a> {
    src: &'a [u8],
    dst: &'a mut [u8],
    pos: usize,
    end: usize,
    read: bool,
    err: Option<Error>,
}

impl<'a> Io<'a> {
    fn fail(&mut self, e: Error) {
        self.err.get_or_insert(e);
    }

    fn put(&mut self, b: u8) {
        match self.dst.get_mut(self.pos) {
            Some(d) => *d = b,
            None => self.fail(Error::Full),
        }
        self.pos += 1;
    }

    /// The number `v` (written), or the one read in its place; `v` itself
    /// past the end of the item (a field an older writer did not know).
    #[inline(never)]
    pub fn n(&mut self, v: u64) -> u64 {
        if !self.read {
            let mut x = v;
            loop {
                let b = (x & 0x7f) as u8;
                x >>= 7;
                self.put(if x != 0 { b | 0x80 } else { b });
                if x == 0 {
                    return v;
                }
            }
        }
        if self.pos >= self.end {
            return v;
        }
        let mut x = 0u64;
        let mut shift = 0;
        while shift < 64 {
            let Some(&b) = self.src.get(self.pos).filter(|_| self.pos < self.end) else { break };
            self.pos += 1;
            x |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return if shift == 63 && b > 1 { self.bad() } else { x };
            }
            shift += 7;
        }
        self.bad()
    }

    /// Marks the item bad; 0 for the field.
    fn bad(&mut self) -> u64 {
        self.fail(Error::Value);
        0
    }

    /// A number that must be at most `max`.
    pub(super) fn upto(&mut self, v: u64, max: u64) -> u64 {
        let x = self.n(v);
        if x > max { self.bad() } else { x }
    }

    pub fn u64(&mut self, x: &mut u64) {
        *x = self.n(*x);
    }
    pub fn u32(&mut self, x: &mut u32) {
        *x = self.upto(u64::from(*x), u64::from(u32::MAX)) as u32;
    }
    pub fn u16(&mut self, x: &mut u16) {
        *x = self.upto(u64::from(*x), u64::from(u16::MAX)) as u16;
    }
    pub fn u8(&mut self, x: &mut u8) {
        *x = self.upto(u64::from(*x), 255) as u8;
    }
    pub fn bool(&mut self, x: &mut bool) {
        *x = self.upto(u64::from(*x), 1) != 0;
    }
    /// Two's complement in a u32 (pids, errnos).
    pub fn i32(&mut self, x: &mut i32) {
        *x = self.upto(u64::from(*x as u32), u64::from(u32::MAX)) as u32 as i32;
    }
    pub fn dur(&mut self, d: &mut Duration) {
        *d = Duration::from_millis(self.n(d.as_millis()));
    }
    pub fn at(&mut self, t: &mut Instant) {
        *t = Instant::from_millis(self.n(t.as_millis()));
    }
    /// An optional instant: 0 for none, else its milliseconds + 1.
    pub fn opt_at(&mut self, t: &mut Option<Instant>) {
        let x = self.n(t.map_or(0, |t| t.as_millis().saturating_add(1)));
        *t = x.checked_sub(1).map(Instant::from_millis);
    }
    /// (Read) a count of at most `max` and that many bytes.
    fn take(&mut self, max: usize) -> &'a [u8] {
        let n = self.upto(0, max as u64) as usize;
        let src: &'a [u8] = self.src;
        let from = src.get(self.pos..self.pos.saturating_add(n)).filter(|_| self.pos + n <= self.end);
        self.pos = self.pos.saturating_add(n);
        from.unwrap_or_else(|| {
            self.bad();
            &[]
        })
    }

    /// (Write) a count and the bytes.
    fn give(&mut self, b: &[u8]) {
        self.n(b.len() as u64);
        for &x in b {
            self.put(x);
        }
    }

    /// `len` bytes of `data` (written), or a count and bytes read into
    /// `data`, the count returned.
    #[inline(never)]
    pub fn bytes(&mut self, data: &mut [u8], len: usize) -> usize {
        if self.read {
            crate::text::copy(data, self.take(data.len()))
        } else {
            self.give(data.get(..len).unwrap_or(&[]));
            len
        }
    }

    /// A text buffer's bytes.
    #[inline(never)]
    pub fn text(&mut self, b: &mut Out) {
        if self.read {
            b.clear();
            let s = self.take(b.room());
            b.push(s);
        } else {
            self.give(b.as_bytes());
        }
    }
}

/// FNV-1a, 32 bits: catches a corrupt blob before any field is believed.
fn checksum(b: &[u8]) -> u32 {
    b.iter().fold(0x811c_9dc5u32, |h, &x| (h ^ u32::from(x)).wrapping_mul(0x0100_0193))
}

/// Writes the state into `out`; the blob's length, or why not.
#[inline(never)]
pub fn encode(p: &mut Parts, out: &mut [u8]) -> Result<usize, Error> {
    let mut io = Io { src: &[], dst: out, pos: HEADER_BYTES, end: 0, read: false, err: None };
    walk(&mut io, p);
    if let Some(e) = io.err {
        return Err(e);
    }
    let len = io.pos;
    let body = io.dst.get(HEADER_BYTES..len).map_or(0, checksum);
    // Byte by byte from four words (an iterator chain of the five fields
    // cost 200 bytes more).
    let head = [u32::from_le_bytes(MAGIC), u32::from(VERSION) | u32::from(OLDEST_READER) << 16, len as u32, body];
    for (i, d) in io.dst.iter_mut().take(HEADER_BYTES).enumerate() {
        *d = (head[i / 4] >> (i % 4 * 8)) as u8;
    }
    Ok(len)
}

/// Writes `blob`'s length and the checksum of its body into its header
/// (for the fuzzer: what it makes of the items gets past the checksum).
#[cfg(any(test, feature = "fuzzing"))]
pub fn seal(blob: &mut [u8]) {
    let (len, sum) = (blob.len() as u32, checksum(blob.get(HEADER_BYTES..).unwrap_or(&[])));
    for (d, s) in blob.iter_mut().skip(8).zip(len.to_le_bytes().into_iter().chain(sum.to_le_bytes())) {
        *d = s;
    }
}

fn le(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    crate::text::copy(&mut x, b.get(at..at + 4).unwrap_or(&[]));
    u32::from_le_bytes(x)
}

/// Reads a blob into `p` (which starts empty, as `svc up` starts), parses
/// its config text into `p.sup.cfg` with `parse` (false: the text has
/// errors) and checks the whole.
#[inline(never)]
pub fn decode(blob: &[u8], p: &mut Parts, parse: &mut impl FnMut(&[u8], &mut Config) -> bool) -> Result<(), Error> {
    if le(blob, 0) != u32::from_le_bytes(MAGIC) {
        return Err(Error::Magic);
    }
    if le(blob, 4) >> 16 > u32::from(VERSION) {
        return Err(Error::Version);
    }
    if le(blob, 8) as usize != blob.len() || blob.len() < HEADER_BYTES {
        return Err(Error::Length);
    }
    let body = blob.get(HEADER_BYTES..).unwrap_or(&[]);
    if checksum(body) != le(blob, 12) {
        return Err(Error::Checksum);
    }
    let mut io = Io { src: blob, dst: &mut [], pos: HEADER_BYTES, end: blob.len(), read: true, err: None };
    // Bounded: each item moves `pos` on by at least its 6 header bytes.
    while io.pos < blob.len() && io.err.is_none() {
        let head = blob.get(io.pos..io.pos + 6).ok_or(Error::Length)?;
        let tag = u16::from_le_bytes([head[0], head[1]]);
        let len = le(head, 2) as usize;
        // Saturating: pos + 6 + len can wrap a 32-bit usize.
        let end = (io.pos + 6).saturating_add(len);
        if end > blob.len() {
            return Err(Error::Length);
        }
        io.pos += 6;
        io.end = end;
        if !walk_item(&mut io, p, tag) && tag & OPTIONAL == 0 {
            return Err(Error::Tag);
        }
        io.pos = end;
    }
    if let Some(e) = io.err {
        return Err(e);
    }
    let text = p.text.get(..*p.text_len).unwrap_or(&[]);
    if !parse(text, &mut p.sup.cfg) {
        return Err(Error::Config);
    }
    check(p)
}

/// Writes every item (`read` false), or walks the one item `tag`.
fn walk(io: &mut Io, p: &mut Parts) {
    item(io, p, META, 0);
    item(io, p, TEXT, 0);
    item(io, p, PINS, 0);
    for id in 0..p.sup.svcs.len() {
        item(io, p, SERVICE, id);
    }
    for i in 0..p.fds.len() {
        item(io, p, FD, i);
    }
    for c in 0..p.clients.list.len() {
        if p.clients.list.get(c).is_some_and(|c| matches!(c.job, Job::Follow { .. } | Job::WaitReexec)) {
            item(io, p, CLIENT, c);
        }
    }
}

/// Writes one item: its tag, a length filled in after its fields.
fn item(io: &mut Io, p: &mut Parts, tag: u16, i: usize) {
    let start = io.pos;
    for k in 0..6 {
        io.put(if k < 2 { (tag >> (k * 8)) as u8 } else { 0 });
    }
    fields(io, p, tag, i);
    let len = (io.pos - start - 6) as u32;
    if let Some(d) = io.dst.get_mut(start + 2..start + 6) {
        crate::text::copy(d, &len.to_le_bytes());
    }
}

/// Reads one item; false for a tag this release does not know.
fn walk_item(io: &mut Io, p: &mut Parts, tag: u16) -> bool {
    let i = match tag {
        SERVICE => {
            let i = p.sup.svcs.len();
            if p.sup.svcs.push(Service::new(0, Want::Down)).is_err() {
                io.fail(Error::Full);
            }
            i
        }
        FD => {
            let i = p.fds.len();
            if p.fds.push(Fd::default()).is_err() {
                io.fail(Error::Full);
            }
            i
        }
        CLIENT | META | TEXT | PINS => 0,
        _ => return false,
    };
    fields(io, p, tag, i)
}

/// The fields of item `tag` (number `i` of its kind); false for an unknown tag.
fn fields(io: &mut Io, p: &mut Parts, tag: u16, i: usize) -> bool {
    match tag {
        META => {
            let m = &mut *p.meta;
            io.text(&mut m.build);
            io.u8(&mut m.asker);
            io.u64(&mut p.sup.pending.0);
            io.u64(p.probe_fresh);
        }
        TEXT => *p.text_len = io.bytes(p.text, *p.text_len),
        PINS => walk_pins(io, &mut p.sup.pins),
        SERVICE => walk_slot(io, p, i),
        FD => {
            if let Some(f) = p.fds.get_mut(i) {
                io.i32(&mut f.num);
                io.u32(&mut f.role);
                io.u64(&mut f.id);
                io.u64(&mut f.file.0);
                io.u64(&mut f.file.1);
            }
        }
        CLIENT => {
            let c = io.upto(i as u64, MAX_CLIENTS as u64 - 1) as usize;
            if let Some(cl) = p.clients.list.get_mut(c) {
                walk_client(io, cl);
            }
        }
        _ => return false,
    }
    true
}

/// What must hold of a decoded state before it is used: every service's
/// definition is in the parsed config. (Each fd is checked against the
/// kernel as it is adopted, and a client keeps its connection only through
/// its fd's.)
pub fn check(p: &Parts) -> Result<(), Error> {
    let c = &p.sup.cfg;
    if p.sup.svcs.iter().all(|s| s.removed || usize::from(s.def) < c.defs.len()) { Ok(()) } else { Err(Error::Invalid) }
}
