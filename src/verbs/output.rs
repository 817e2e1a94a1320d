//! An instance's output: its log pipe (and its probe's) read into lines,
//! and each line to its service's log target (ring, file, console) and to
//! the followers of `svc log -f`.

use crate::config::Log;
use crate::limits::*;
use crate::order::bit;
use crate::os::event::Events;
use crate::os::{self, clock, logfile};
use crate::ring::{self, Stamp};
use crate::text::Buf;
use crate::verbs::control;
use crate::verbs::world::{Logs, World};

/// Reads a probe's output into its service's buffer (the first
/// PROBE_OUTPUT_BYTES of the run); false at EOF or when nothing was there.
pub(super) fn read_probe(w: &mut World, ev: &Events, k: usize, id: u8) -> bool {
    let Some(fd) = w.fds.fd(k) else { return false };
    // An error counts as the end.
    let n = match os::fd::read_some(fd, &mut w.logs.scratch) {
        Ok(None) => return false,
        Ok(Some(n)) => n,
        Err(_) => 0,
    };
    let fresh = w.logs.probe_fresh & bit(usize::from(id)) != 0;
    // A run's first bytes (or its end without any) replace the last run's.
    w.logs.probe_fresh &= !bit(usize::from(id));
    let Some(b) = w.logs.probes.get_mut(usize::from(id)) else { return false };
    if fresh {
        b.clear();
    }
    if n == 0 {
        w.fds.close(ev, k);
        return false;
    }
    b.push(w.logs.scratch.get(..n).unwrap_or(&[]));
    true
}

/// Reads what a probe's pipe still holds (bounded).
pub(super) fn drain_probe(w: &mut World, ev: &Events, k: usize, id: u8) {
    for _ in 0..4 {
        if !read_probe(w, ev, k, id) {
            break;
        }
    }
}

/// Reads one buffer from a log pipe into the service's ring; false at EOF or
/// when nothing was there.
pub(super) fn read_log(w: &mut World, ev: &Events, k: usize, id: u8, inst: u8) -> bool {
    let Some(fd) = w.fds.fd(k) else { return false };
    let n = match os::fd::read_some(fd, &mut w.logs.scratch) {
        Ok(Some(n)) if n > 0 => n,
        Ok(None) => return false,
        _ => {
            flush_log(w, id, inst);
            w.fds.close(ev, k);
            return false;
        }
    };
    sink(w, id, inst, Src::Feed(n));
    if n < LOG_READ_BYTES {
        // The pipe is drained: output without a newline (a prompt, a
        // progress dot) goes out as a line now rather than wait.
        sink(w, id, inst, Src::Flush);
    }
    true
}

/// What `sink` turns into log lines.
#[derive(Clone, Copy)]
pub(super) enum Src {
    /// This many bytes of the scratch buffer.
    Feed(usize),
    /// The instance's pending partial line.
    Flush,
    /// The service's last probe output, each line prefixed `probe: `.
    Probe,
    /// This many bytes of the scratch buffer, as one line of svc's own.
    Line(usize),
}

/// Turns `src` into lines for the service's log target and followers.
#[inline(never)]
pub(super) fn sink(w: &mut World, id: u8, inst: u8, src: Src) {
    let World { logs, clients, sup, .. } = w;
    let Logs { pool, rings, asm, scratch, drops, files, probes, .. } = logs;
    let def = sup.svcs.get(usize::from(id)).filter(|s| !s.removed).and_then(|_| sup.def(usize::from(id)));
    let name = sup.name(usize::from(id));
    let cfg = &sup.cfg;
    let target = def.map_or(Log::Null, |d| d.log);
    let path = match target {
        Log::File { path, .. } => crate::text::cstr(cfg.strz(path)),
        _ => None,
    };
    let Some(a) = asm.get_mut(usize::from(id)).and_then(|a| a.get_mut(usize::from(inst))) else { return };
    let mut ring = rings.get_mut(usize::from(id)).and_then(|r| r.as_mut());
    let mut file = files.get_mut(usize::from(id));
    let mut dropped = 0u32;
    // The real time is read for a line to stamp, never for nothing (an
    // empty flush at EOF): one read stamps every line of this call.
    let mut now = None;
    let mut each = |line: &[u8]| {
        let stamp = *now.get_or_insert_with(|| Stamp(clock::wall_ms()));
        let ok = match target {
            Log::Ring(_) => {
                if let Some(r) = ring.as_deref_mut() {
                    r.push(pool, stamp, line);
                }
                true
            }
            Log::File { size, keep, .. } => match (file.as_deref_mut(), path) {
                (Some(f), Some(p)) => {
                    let mut rec = ring::Record::new();
                    ring::record(stamp, line, &mut rec);
                    logfile::write_line(f, p, u64::from(size), keep, rec.as_bytes()).is_ok()
                }
                _ => false,
            },
            Log::Console => {
                let mut rec = ring::Record::new();
                ring::console_record(name, line, &mut rec);
                logfile::console(rec.as_bytes()).is_ok()
            }
            Log::Null => true,
        };
        if !ok {
            dropped = dropped.saturating_add(1);
        }
        control::publish(clients, id, name, stamp, line);
    };
    match src {
        Src::Flush => a.flush(&mut each),
        Src::Feed(n) => a.feed(scratch.get(..n).unwrap_or(&[]), &mut each),
        Src::Line(n) => each(scratch.get(..n).unwrap_or(&[])),
        Src::Probe => {
            let out = probes.get(usize::from(id)).map_or(&[][..], |b| b.as_bytes());
            for line in crate::text::split(out, b'\n').filter(|l| !l.is_empty()) {
                let mut b = Buf::<{ PROBE_OUTPUT_BYTES + 8 }>::new();
                b.push(b"probe: ");
                b.push(line);
                each(b.as_bytes());
            }
        }
    }
    if let Some(d) = drops.get_mut(usize::from(id)) {
        *d = d.saturating_add(dropped);
    }
}

pub(super) fn flush_log(w: &mut World, id: u8, inst: u8) {
    sink(w, id, inst, Src::Flush);
}
