//! Pinned releases. When svc starts a new definition, or upgrades, it
//! resolves the directory part of the program path and the `cwd` once (the
//! OS layer does) and stores the result here; crash restarts reuse it, so
//! that a `current` link switched under a running service changes nothing
//! until `svc upgrade`, and `svc rollback` finds the release before.
//!
//! Plain data, so that a reexec can write it out as it is: one arena of
//! bytes and a table of offsets, three records per slot (the current
//! release, the previous one, and an upgrade's candidate). Which record is
//! which lives in the slot's `Pin` (on its `Service`): the state machine
//! moves indexes, never bytes. No syscalls.

use crate::limits::{MAX_SERVICES, PIN_BYTES};
use crate::text;

/// Records a slot may hold: the current release, the previous, a candidate.
pub const SLOT_RELEASES: usize = 3;
/// No record: not pinned.
pub const NONE: u8 = 0xff;
/// Not pinned because the arena was full (NOTE says so).
pub const FULL: u8 = 0xfe;

/// Where a spawn's release comes from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Resolve {
    /// The current release (a crash or a plain restart); resolved afresh
    /// when there is none or its directories are gone.
    Reuse,
    /// Resolved afresh (`svc upgrade`, a reload that changed the service).
    Fresh,
    /// The previous release (`svc rollback`).
    Previous,
}

/// A slot's releases: indexes of its records in `Pins` (NONE: none).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Pin {
    pub cur: u8,
    pub prev: u8,
    /// The release of an upgrade's new instance, current once it serves.
    pub cand: u8,
    /// What the next spawn runs.
    pub next: Resolve,
    /// The release the last spawn ran (a record, NONE, or FULL: unpinned
    /// because the arena was full, which NOTE says).
    pub last: u8,
}

impl Pin {
    pub const NONE: Pin = Pin { cur: NONE, prev: NONE, cand: NONE, next: Resolve::Reuse, last: NONE };

    /// A spawn of `role` ran release `k` (a record, NONE or FULL). The
    /// serving instance's release is current at once; a new instance's
    /// once it serves (`promote`).
    pub fn spawned(&mut self, new: bool, k: u8) {
        self.next = Resolve::Reuse;
        self.last = k;
        let k = if k == FULL { NONE } else { k };
        if new {
            self.cand = k;
        } else {
            self.commit(k);
        }
    }

    /// Release `k` runs: the current one becomes the previous.
    fn commit(&mut self, k: u8) {
        if k != self.cur {
            self.prev = self.cur;
            self.cur = k;
        }
    }

    /// The new instance serves. After a reload's upgrade (a new
    /// definition) the release before belongs to the old one: forgotten.
    pub fn promote(&mut self, reload: bool) {
        self.commit(self.cand);
        if reload {
            self.prev = NONE;
        }
        self.cand = NONE;
    }
}

/// One stored release: `prog` bytes of program path at `at`, a NUL, then
/// `cwd` bytes of working directory and a NUL (both NULs even when `cwd`
/// is 0: no `cwd`). `prog` 0: an empty record.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Rec {
    pub at: u16,
    pub prog: u16,
    pub cwd: u16,
}

impl Rec {
    const EMPTY: Rec = Rec { at: 0, prog: 0, cwd: 0 };
    fn len(self) -> usize {
        usize::from(self.prog) + usize::from(self.cwd) + 2
    }
}

/// The arena of every slot's releases. In this order (`repr(C)`): the
/// table first, so that the first releases share its page (.bss pages are
/// resident once written).
#[repr(C)]
pub struct Pins {
    pub used: u16,
    pub recs: [[Rec; SLOT_RELEASES]; MAX_SERVICES],
    pub bytes: [u8; PIN_BYTES],
}

// Offsets and lengths are u16.
const _: () = assert!(PIN_BYTES <= u16::MAX as usize);

impl Pins {
    pub const fn new() -> Self {
        Pins { used: 0, recs: [[Rec::EMPTY; SLOT_RELEASES]; MAX_SERVICES], bytes: [0; PIN_BYTES] }
    }

    fn rec(&self, id: usize, k: u8) -> Option<Rec> {
        self.recs.get(id)?.get(usize::from(k)).copied().filter(|r| r.prog > 0)
    }

    /// Record `k` of slot `id`: the program path and the cwd (empty: none),
    /// each followed by its NUL (for exec).
    pub fn get(&self, id: usize, k: u8) -> Option<(&[u8], &[u8])> {
        self.slices(id, k, 1)
    }

    /// Record `k` of slot `id`, as `get` without the NULs (for text).
    pub fn text(&self, id: usize, k: u8) -> Option<(&[u8], &[u8])> {
        self.slices(id, k, 0)
    }

    fn slices(&self, id: usize, k: u8, nul: usize) -> Option<(&[u8], &[u8])> {
        let r = self.rec(id, k)?;
        let (prog, rest) = self.bytes.get(usize::from(r.at)..)?.split_at_checked(usize::from(r.prog) + 1)?;
        Some((prog.get(..usize::from(r.prog) + nul)?, rest.get(..usize::from(r.cwd) + nul)?))
    }

    /// Stores release (`prog`, `cwd`; without NULs; `cwd` empty for none)
    /// for slot `id`, whose records `keep` (current, previous) stay; what
    /// else it held is freed. None when the arena is full.
    pub fn store(&mut self, id: usize, keep: [u8; 2], prog: &[u8], cwd: &[u8]) -> Option<u8> {
        // The current release again is the same record (an upgrade to it
        // changes no history).
        let [cur, _] = keep;
        if self.text(id, cur) == Some((prog, cwd)) {
            return Some(cur);
        }
        let mut free = None;
        // The first record not kept is the one taken.
        for k in (0..SLOT_RELEASES as u8).rev().filter(|k| !keep.contains(k)) {
            self.free(id, k);
            free = Some(k);
        }
        let k = free?;
        let at = usize::from(self.used);
        let mut end = at;
        if prog.is_empty() || at + prog.len() + cwd.len() + 2 > PIN_BYTES {
            return None;
        }
        text::append(&mut self.bytes, &mut end, prog);
        text::append(&mut self.bytes, &mut end, &[0]);
        text::append(&mut self.bytes, &mut end, cwd);
        text::append(&mut self.bytes, &mut end, &[0]);
        self.used = end as u16;
        *self.recs.get_mut(id)?.get_mut(usize::from(k))? = Rec { at: at as u16, prog: prog.len() as u16, cwd: cwd.len() as u16 };
        Some(k)
    }

    /// Every record of slot `id` is freed. (A new definition in a slot
    /// needs no call: its first store frees what the slot held.)
    pub fn forget(&mut self, id: usize) {
        for k in 0..SLOT_RELEASES as u8 {
            self.free(id, k);
        }
    }

    /// Frees record `k` of slot `id`: the bytes after it move down.
    fn free(&mut self, id: usize, k: u8) {
        let Some(gone) = self.rec(id, k) else { return };
        let (at, len, used) = (usize::from(gone.at), gone.len(), usize::from(self.used));
        let mut rest = used.saturating_sub(at);
        if let Some(tail) = self.bytes.get_mut(at..) {
            text::shift(tail, &mut rest, len);
        }
        self.used = (at + rest) as u16;
        for r in self.recs.iter_mut().flatten() {
            if r.at > gone.at {
                r.at = r.at.wrapping_sub(len as u16);
            }
        }
        if let Some(r) = self.recs.get_mut(id).and_then(|r| r.get_mut(usize::from(k))) {
            *r = Rec::EMPTY;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::boxed::Box;

    fn got(p: &Pins, id: usize, k: u8) -> Option<(&str, &str)> {
        let (a, b) = p.get(id, k)?;
        Some((core::str::from_utf8(a).unwrap(), core::str::from_utf8(b).unwrap()))
    }

    #[test]
    fn store_reuse_free() {
        let mut p = Box::new(Pins::new());
        let a = p.store(0, [NONE, NONE], b"/r/1/bin/web", b"/r/1").unwrap();
        let b = p.store(1, [NONE, NONE], b"/x/db", b"").unwrap();
        assert_eq!(got(&p, 0, a), Some(("/r/1/bin/web\0", "/r/1\0")));
        assert_eq!(got(&p, 1, b), Some(("/x/db\0", "\0")));
        // The same release again is the same record.
        assert_eq!(p.store(0, [a, NONE], b"/r/1/bin/web", b"/r/1"), Some(a));
        let c = p.store(0, [a, NONE], b"/r/2/bin/web", b"/r/2").unwrap();
        assert_ne!(a, c);
        // A third release keeps the two named, frees the rest, and the
        // other slot's bytes move down intact.
        let d = p.store(0, [c, NONE], b"/r/3/bin/web", b"/r/3").unwrap();
        assert_eq!(d, a, "the freed record's place");
        assert_eq!(usize::from(p.used), "/x/db\0\0/r/2/bin/web\0/r/2\0/r/3/bin/web\0/r/3\0".len());
        assert_eq!(got(&p, 0, c), Some(("/r/2/bin/web\0", "/r/2\0")));
        assert_eq!(got(&p, 0, d), Some(("/r/3/bin/web\0", "/r/3\0")));
        assert_eq!(got(&p, 1, b), Some(("/x/db\0", "\0")));
        p.forget(0);
        assert_eq!(got(&p, 1, b), Some(("/x/db\0", "\0")));
        assert_eq!(usize::from(p.used), "/x/db\0\0".len());
    }

    #[test]
    fn full_arena_refuses_and_frees_make_room() {
        let mut p = Box::new(Pins::new());
        let long = [b'a'; 1000];
        let mut stored = 0;
        for id in 0..MAX_SERVICES {
            if p.store(id, [NONE, NONE], &long, b"").is_some() {
                stored += 1;
            }
        }
        assert_eq!(stored, PIN_BYTES / 1002);
        assert_eq!(p.store(MAX_SERVICES - 1, [NONE, NONE], &long, b""), None, "full");
        p.forget(0);
        assert!(p.store(MAX_SERVICES - 1, [NONE, NONE], &long, b"").is_some(), "room again");
        assert_eq!(p.store(2, [NONE, NONE], b"", b""), None, "an empty path is no release");
    }

    #[test]
    fn pin_moves_indexes() {
        let mut pin = Pin::NONE;
        pin.spawned(false, 0);
        assert_eq!((pin.cur, pin.prev), (0, NONE));
        // An upgrade's candidate is current only once it serves.
        pin.spawned(true, 1);
        assert_eq!((pin.cur, pin.prev, pin.cand), (0, NONE, 1));
        pin.promote(false);
        assert_eq!((pin.cur, pin.prev, pin.cand), (1, 0, NONE));
        // A rollback runs the previous: promoted, the two swap.
        pin.spawned(true, 0);
        pin.promote(false);
        assert_eq!((pin.cur, pin.prev), (0, 1));
        // A failed candidate changes nothing (the caller drops it).
        pin.spawned(true, 2);
        pin.cand = NONE;
        assert_eq!((pin.cur, pin.prev), (0, 1));
        // A reload's new definition forgets the release before.
        pin.spawned(true, 2);
        pin.promote(true);
        assert_eq!((pin.cur, pin.prev), (2, NONE));
        // Full: unpinned, and said so.
        pin.spawned(false, FULL);
        assert_eq!((pin.cur, pin.prev, pin.last), (NONE, 2, FULL));
    }
}
