//! Pinned releases at spawn: the pure side says where an instance's
//! release comes from (`Pin::next`); here the directories are resolved
//! when that is asked for, or when there is no pinned release or its
//! directories are gone, and the result is stored in `Pins`. Each pinned
//! start names its release in the service's log.

use crate::limits::*;
use crate::os::path;
use crate::pin::{self, Resolve};
use crate::text;
use crate::verbs::output::{Src, sink};
use crate::verbs::world::World;

/// The release slot `id`'s next instance runs: a record of `w.sup.pins`,
/// else `pin::NONE` (`pin = no`, or a directory that cannot be resolved:
/// the exec or chdir then says why) or `pin::FULL`. A release other than
/// the last run's is named in the service's log (`svc: runs PROGRAM`).
#[inline(never)]
pub(super) fn choose(w: &mut World, id: u8) -> u8 {
    let k = pick(w, id);
    let last = w.sup.svcs.get(usize::from(id)).map_or(pin::NONE, |s| s.pin.last);
    if k != last && last != pin::NONE && usize::from(k) < pin::SLOT_RELEASES {
        say(w, id, b"svc: runs ", k);
    }
    k
}

fn pick(w: &mut World, id: u8) -> u8 {
    let Some((args, cwd)) = w.sup.def(usize::from(id)).filter(|d| d.pin).map(|d| (d.args, d.cwd)) else { return pin::NONE };
    let Some(p) = w.sup.svcs.get(usize::from(id)).map(|s| s.pin) else { return pin::NONE };
    let want = match p.next {
        Resolve::Reuse => p.cur,
        Resolve::Previous => p.prev,
        Resolve::Fresh => pin::NONE,
    };
    if want != pin::NONE {
        if present(w, id, want) {
            return want;
        }
        // An old release cleaned up: resolved afresh rather than fail
        // (the start's own line names the new one).
        say(w, id, b"svc: pinned release gone; resolved afresh", pin::NONE);
    }
    let World { sup, loader, logs, .. } = w;
    let cfg = &sup.cfg;
    let prog = cfg.list(args).first().map_or(&[][..], |s| cfg.str(*s));
    // The directory part is resolved; the name stays as written (a
    // multi-call program behaves by the name it is started by).
    let Some(i) = prog.iter().rposition(|&b| b == b'/') else { return pin::NONE };
    // Two paths side by side in free memory, each resolved in place: a
    // directory of PATH_BYTES at most, then room for the name. The config
    // buffer past its text is on a page already written (the idle read
    // buffer would cost a page more); a text too long for that leaves it.
    let free = loader.text.get_mut(loader.text_len..).and_then(|f| f.get_mut(..LOG_READ_BYTES));
    let Some((a, b)) = free.unwrap_or(&mut logs.scratch).split_at_mut_checked(2 * PATH_BYTES) else { return pin::NONE };
    let cwd = cwd.map_or(&[][..], |c| cfg.strz(c));
    let mut n = 0;
    text::append(a, &mut n, prog.get(..i.max(1)).unwrap_or(b"/"));
    text::append(a, &mut n, &[0]);
    text::copy(b, cwd);
    let Some(n) = a.get_mut(..PATH_BYTES).and_then(path::resolve_dir) else { return pin::NONE };
    let Some(c) = (if cwd.is_empty() { Some(0) } else { path::resolve_dir(b) }) else { return pin::NONE };
    // DIR/NAME ("/" alone adds no slash).
    let mut len = if n == 1 { 0 } else { n };
    text::append(a, &mut len, b"/");
    text::append(a, &mut len, prog.get(i + 1..).unwrap_or(&[]));
    let (prog, cwd) = (a.get(..len).unwrap_or(&[]), b.get(..c).unwrap_or(&[]));
    sup.pins.store(usize::from(id), [p.cur, p.prev], prog, cwd).unwrap_or(pin::FULL)
}

/// Whether release `k` of slot `id` is still there (its program: a
/// release cleaned up takes its directories with it).
pub(crate) fn present(w: &World, id: u8, k: u8) -> bool {
    w.sup.pins.get(usize::from(id), k).is_some_and(|(prog, _)| text::cstr(prog).is_some_and(path::exists))
}

/// `head` and the program of release `k` of slot `id` (if any): one line
/// of the service's log.
fn say(w: &mut World, id: u8, head: &[u8], k: u8) {
    let b = &mut w.logs.scratch;
    let mut n = 0;
    text::append(b, &mut n, head);
    if let Some((prog, _)) = w.sup.pins.text(usize::from(id), k) {
        text::append(b, &mut n, prog);
    }
    sink(w, id, 0, Src::Line(n));
}
