//! Pinned releases at spawn: the pure side says where an instance's
//! release comes from (`Pin::next`); here the directories are resolved
//! when that is asked for, or when there is no pinned release or its
//! directories are gone, and the result is stored in `Pins`. Each pinned
//! start names its release in the service's log.

use crate::config::Def;
use crate::limits::*;
use crate::os::path;
use crate::pin::{self, Resolve};
use crate::text::Buf;
use crate::verbs::output::{Src, sink};
use crate::verbs::world::World;
use core::ffi::CStr;

/// The release slot `id`'s next instance runs: a record of `w.sup.pins`,
/// else `pin::NONE` (`pin = no`, or a directory that cannot be resolved:
/// the exec or chdir then says why) or `pin::FULL`.
#[inline(never)]
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
        say(w, id, b"svc: gone: ", want, b"; resolved afresh");
    }
    let cfg = &w.sup.cfg;
    let prog = cfg.list(def.args).first().map_or(&[][..], |s| cfg.str(*s));
    // The directory part is resolved; the name stays as written (a
    // multi-call program behaves by the name it is started by).
    let Some(i) = prog.iter().rposition(|&b| b == b'/') else { return pin::NONE };
    // Two paths side by side in the (idle) read buffer, each resolved in place.
    // (A directory of PATH_BYTES at most, then room for the name.)
    let Some((a, b)) = w.logs.scratch.split_at_mut_checked(2 * PATH_BYTES) else { return pin::NONE };
    let cwd = def.cwd.map_or(&[][..], |c| cfg.strz(c));
    for (d, s) in a.iter_mut().zip(prog.iter().take(i.max(1)).chain(&[0])) {
        *d = *s;
    }
    for (d, s) in b.iter_mut().zip(cwd) {
        *d = *s;
    }
    let Some(n) = a.get_mut(..PATH_BYTES).and_then(path::resolve_dir) else { return pin::NONE };
    let Some(c) = (if cwd.is_empty() { Some(0) } else { path::resolve_dir(b) }) else { return pin::NONE };
    // DIR/NAME ("/" alone adds no slash).
    let mut len = if n == 1 { 0 } else { n };
    for s in b"/".iter().chain(prog.get(i + 1..).unwrap_or(&[])) {
        if let Some(d) = a.get_mut(len) {
            *d = *s;
            len += 1;
        }
    }
    let (prog, cwd) = (a.get(..len).unwrap_or(&[]), b.get(..c).unwrap_or(&[]));
    w.sup.pins.store(usize::from(id), [p.cur, p.prev], prog, cwd).unwrap_or(pin::FULL)
}

/// Whether release `k` of slot `id` is still there: its program and its cwd.
pub(crate) fn present(w: &World, id: u8, k: u8) -> bool {
    let Some((prog, cwd)) = w.sup.pins.get(usize::from(id), k) else { return false };
    [prog, cwd].iter().all(|p| p.len() <= 1 || CStr::from_bytes_with_nul(p).is_ok_and(path::exists))
}

/// The start of a pinned instance, in its service's log:
/// `svc: 1234 runs /opt/app/releases/42/bin/web (cwd /opt/app/releases/42)`.
#[inline(never)]
pub(super) fn started(w: &mut World, id: u8, pid: i32, k: u8) {
    let mut b = Buf::<24>::new();
    let _ = ufmt::uwrite!(b, "svc: {} runs ", pid);
    say(w, id, b.as_bytes(), k, b"");
}

/// `head`, release `k` of slot `id` (its program, its cwd), `tail`: one
/// line of the service's log.
fn say(w: &mut World, id: u8, head: &[u8], k: u8, tail: &[u8]) {
    let mut b = Buf::<LOG_LINE_BYTES>::new();
    b.push(head);
    match w.sup.pins.get(usize::from(id), k) {
        Some((prog, cwd)) => {
            b.push(prog.strip_suffix(&[0]).unwrap_or(prog));
            if let [c @ .., 0] = cwd
                && !c.is_empty()
            {
                b.push(b" (cwd ");
                b.push(c);
                b.push(b")");
            }
        }
        None => b.push(b"unpinned: the release arena is full"),
    }
    b.push(tail);
    let n = b.len();
    for (d, s) in w.logs.scratch.iter_mut().zip(b.as_bytes()) {
        *d = *s;
    }
    sink(w, id, 0, Src::Line(n));
}
