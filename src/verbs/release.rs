//! Pinned releases at spawn: the pure side says where an instance's
//! release comes from (`Pin::next`); here the directories are resolved
//! when that is asked for, or when there is no pinned release or its
//! directories are gone, and the result is stored in `Pins`. Each pinned
//! start names its release in the service's log.

use crate::config::Def;
use crate::limits::*;
use crate::os::{self, path};
use crate::pin::{self, Resolve};
use crate::text::Buf;
use crate::verbs::output::{Src, sink};
use crate::verbs::world::World;
use core::ffi::CStr;

/// The release slot `id`'s next instance runs: a record of `w.sup.pins`,
/// else `pin::NONE` (`pin = no`, or a directory that cannot be resolved:
/// the exec or chdir then says why) or `pin::FULL`.
pub(super) fn choose(w: &mut World, id: u8, def: &Def) -> u8 {
    let Some(p) = w.sup.svcs.get(usize::from(id)).map(|s| s.pin).filter(|_| def.pin) else { return pin::NONE };
    let want = match p.next {
        Resolve::Reuse => p.cur,
        Resolve::Previous => p.prev,
        Resolve::Fresh => pin::NONE,
    };
    if want != pin::NONE {
        if present(w, id, want) {
            return want;
        }
        // An old release cleaned up: resolved afresh rather than fail.
        line(w, id, want, b"svc: gone: ", b"; resolved afresh");
    }
    let cfg = &w.sup.cfg;
    let prog = cfg.list(def.args).first().map_or(&[][..], |s| cfg.str(*s));
    // The directory part is resolved; the name stays as written (a
    // multi-call program behaves by the name it is started by).
    let Some(i) = prog.iter().rposition(|&b| b == b'/') else { return pin::NONE };
    let (dir, name) = (prog.get(..i.max(1)).unwrap_or(b"/"), prog.get(i + 1..).unwrap_or(&[]));
    // Two paths of at most PATH_BYTES side by side in the (idle) read buffer.
    let Some((a, b)) = w.logs.scratch.split_at_mut_checked(LOG_READ_BYTES / 2) else { return pin::NONE };
    let Some(n) = resolve(dir, a) else { return pin::NONE };
    let slash = usize::from(a.get(n - 1) != Some(&b'/'));
    if let Some(s) = a.get_mut(n) {
        *s = b'/';
    }
    let mut prog_len = n + slash;
    for (d, s) in a.iter_mut().skip(prog_len).zip(name) {
        *d = *s;
        prog_len += 1;
    }
    let cwd_len = match def.cwd {
        Some(c) => match resolve(cfg.str(c), b) {
            Some(n) => n,
            None => return pin::NONE,
        },
        None => 0,
    };
    let (prog, cwd) = (a.get(..prog_len).unwrap_or(&[]), b.get(..cwd_len).unwrap_or(&[]));
    w.sup.pins.store(usize::from(id), [p.cur, p.prev], prog, cwd).unwrap_or(pin::FULL)
}

/// `path`'s canonical form into `out` (PATH_BYTES at most); its length.
fn resolve(path: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut z = [0u8; PATH_BYTES];
    let dir = os::fd::cpath(path, &mut z)?;
    let out = out.get_mut(..PATH_BYTES)?;
    path::resolve_dir(dir, out).ok().filter(|&n| n < PATH_BYTES)
}

/// Whether release `k` of slot `id` is still there: its program's
/// directory and its cwd.
pub(crate) fn present(w: &World, id: u8, k: u8) -> bool {
    let Some((prog, cwd)) = w.sup.pins.get(usize::from(id), k) else { return false };
    let dir = prog.get(..prog.iter().rposition(|&b| b == b'/').unwrap_or(0).max(1)).unwrap_or(b"/");
    let mut z = [0u8; PATH_BYTES];
    let ok = |p: &[u8], z: &mut [u8]| os::fd::cpath(p, z).is_some_and(|c| path::is_dir(c).is_ok());
    ok(dir, &mut z) && (cwd.len() <= 1 || CStr::from_bytes_with_nul(cwd).is_ok_and(|c| path::is_dir(c).is_ok()))
}

/// The start of a pinned instance, in its service's log:
/// `svc: 1234 runs /opt/app/releases/42/bin/web (cwd /opt/app/releases/42)`.
#[inline(never)]
pub(super) fn started(w: &mut World, id: u8, pid: i32, k: u8) {
    if k == pin::FULL {
        let mut b = Buf::<96>::new();
        let _ = ufmt::uwrite!(b, "svc: {} runs unpinned: the release arena (PIN_BYTES) is full", pid);
        return put(w, id, b.as_bytes());
    }
    let mut b = Buf::<24>::new();
    let _ = ufmt::uwrite!(b, "svc: {} runs ", pid);
    line(w, id, k, b.as_bytes(), b"");
}

/// `head`, release `k`'s program and cwd, `tail`: one line of the service's log.
fn line(w: &mut World, id: u8, k: u8, head: &[u8], tail: &[u8]) {
    let Some((prog, cwd)) = w.sup.pins.get(usize::from(id), k) else { return };
    let mut b = Buf::<LOG_LINE_BYTES>::new();
    b.push(head);
    b.push(prog.strip_suffix(&[0]).unwrap_or(prog));
    if let Some(c) = cwd.strip_suffix(&[0]).filter(|c| !c.is_empty()) {
        b.push(b" (cwd ");
        b.push(c);
        b.push(b")");
    }
    b.push(tail);
    put(w, id, b.as_bytes());
}

fn put(w: &mut World, id: u8, text: &[u8]) {
    let n = text.len().min(LOG_READ_BYTES);
    for (d, s) in w.logs.scratch.iter_mut().zip(text) {
        *d = *s;
    }
    sink(w, id, 0, Src::Line(n));
}
