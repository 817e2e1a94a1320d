//! The `log` request: a ring's lines or a log file's tail, then (with
//! `-f`) following; the lines themselves are streamed by the reply's job.

use super::{Asked, first, head, head_of, ok, set_job};
use crate::clients::{ALL, Job};
use crate::config::Log;
use crate::os;
use crate::os::fd::Slot;
use crate::proto::{self, EXIT_FAIL, EXIT_USAGE};
use crate::text::{Buf, Errno};
use crate::verbs::world::World;

/// `log [-f] [NAME] [N]`: the ring's lines, or its last N; with `-f`, then
/// every new line until the client hangs up.
pub(super) fn log(w: &mut World, c: usize, req: &Asked) {
    let follow = req.flags & proto::FOLLOW != 0;
    let n = req.lines;
    let id = first(req.mask);
    let ring = id.and_then(|id| {
        let s = w.sup.svcs.get(usize::from(id))?;
        let def = w.sup.def(usize::from(id)).filter(|_| !s.removed)?;
        matches!(def.log, Log::Ring(_)).then_some(())?;
        w.logs.rings.get(usize::from(id)).copied().flatten()
    });
    let file = id.and_then(|id| match w.sup.def(usize::from(id))?.log {
        Log::File { path, .. } => Some(path),
        _ => None,
    });
    // Following and streaming a file of any size are long jobs.
    if (follow || file.is_some()) && !w.clients.may_wait() {
        head(w, c, EXIT_FAIL, b"busy: too many followers", b"");
        set_job(w, c, Job::Close);
        return;
    }
    if let (Some(id), Some(path)) = (id, file) {
        // The file's last N lines (1000 without -n; 0 by default with -f).
        let lines = n.unwrap_or(if follow { 0 } else { 1000 });
        let (cfg, buf) = (&w.sup.cfg, &mut w.logs.scratch);
        let opened = crate::text::cstr(cfg.strz(path)).map(|p| os::logfile::tail_offset(p, lines, buf));
        match opened {
            Some(Ok((fd, offset, cut))) => {
                ok(w, c);
                if cut && let Some(cl) = w.clients.list.get_mut(c) {
                    cl.out.push(os::logfile::TAIL_CUT_NOTE);
                }
                if let Some(file) = w.streams.get_mut(c) {
                    *file = Slot::new(fd);
                }
                set_job(w, c, Job::File { offset, follow: if follow { id } else { ALL } });
            }
            // Nothing written yet: nothing to show.
            Some(Err(rustix::io::Errno::NOENT)) => {
                ok(w, c);
                set_job(w, c, if follow { Job::Follow { id, seq: 0, live: true, lost: 0 } } else { Job::Close });
            }
            Some(Err(e)) => {
                let mut m = Buf::<64>::new();
                let _ = ufmt::uwrite!(m, "cannot read the log file: {}", Errno(e.raw_os_error()));
                head(w, c, EXIT_FAIL, m.as_bytes(), b"");
                set_job(w, c, Job::Close);
            }
            None => {
                head(w, c, EXIT_FAIL, b"bad log path", b"");
                set_job(w, c, Job::Close);
            }
        }
        return;
    }
    match (id, ring, follow) {
        (None, _, false) => {
            head(w, c, EXIT_USAGE, b"log: name a service (or follow all with -f)", b"");
            set_job(w, c, Job::Close);
        }
        (None, _, true) => {
            ok(w, c);
            set_job(w, c, Job::Follow { id: ALL, seq: 0, live: true, lost: 0 });
        }
        (Some(id), Some(r), true) => {
            ok(w, c);
            let seq = r.seq_of_last(n.unwrap_or(0) as usize);
            set_job(w, c, Job::Follow { id, seq, live: false, lost: 0 });
        }
        (Some(id), None, true) => {
            ok(w, c);
            set_job(w, c, Job::Follow { id, seq: 0, live: true, lost: 0 });
        }
        (Some(id), Some(r), false) => {
            let seq = n.map_or(r.first_seq(), |n| r.seq_of_last(n as usize));
            ok(w, c);
            set_job(w, c, Job::Log { id, seq });
        }
        (Some(id), None, false) => {
            head_of(w, c, EXIT_FAIL, b"no log ring (log = null):", id);
            set_job(w, c, Job::Close);
        }
    }
}
