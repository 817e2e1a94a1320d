//! What a previous svc left running (it was killed by SIGKILL, so its
//! services were orphaned to the init or a subreaper, with their listening
//! sockets and without their log pipes' readers): found at `svc up` before
//! anything is bound or started, and stopped as svc stops a service, so
//! that no service runs twice. The decision is `adopt::left_over`'s.

use crate::adopt::{self, Held, Proc};
use crate::duration::Instant;
use crate::limits::*;
use crate::os::{clock, proc, signal};
use crate::signame;
use crate::text::Buf;
use crate::verbs::world::World;

/// Stops every service process a previous svc left, each with its
/// service's stop signal, and waits for their sessions to end: at each
/// one's `stop_timeout` what is left of it gets SIGKILL, and 2 s after the
/// last deadline svc goes on whatever is left (its sockets may then fail
/// to bind, which says so). Blocks: nothing else runs yet.
#[inline(never)]
pub fn stop(w: &mut World) {
    let cfg = &w.sup.cfg;
    let held = Held { pipes: &[], sockets: &[] };
    let Some(me) = proc::stat(crate::os::process::pid()) else { return };
    let find = |name: &[u8]| cfg.find(name).map(|i| i as u8);
    // The sessions stopped, with their deadlines (the first 64 are waited for).
    let mut stopped = [(0i32, Instant::from_millis(0)); MAX_SERVICES];
    let mut k = 0;
    let mut end = clock::now();
    // Round 0 finds and stops; the next ones wait for the sessions to end,
    // SIGKILL what is left of each at its deadline, and end 2 s after the
    // last (a round takes at least 10 ms; bounded in count too).
    for round in 0..u32::MAX {
        let now = clock::now();
        let mut left = 0;
        proc::each(&mut |pid, st| {
            if st.start > me.start {
                return;
            }
            if let Some(&(_, at)) = stopped.get(..k).and_then(|s| s.iter().find(|(sid, _)| *sid == st.sid)) {
                if !st.dead {
                    left += 1;
                    if now >= at {
                        let _ = signal::send(pid, signame::KILL, false);
                    }
                }
                return;
            }
            if round > 0 || st.sid != pid {
                return;
            }
            // Its SVC_SERVICE entry, wherever it is in the environment.
            let mut env = Buf::<48>::new();
            proc::environ_entries(pid, &mut |e| {
                if e.starts_with(b"SVC_SERVICE=") {
                    env.clear();
                    env.push(e);
                }
            });
            let p = Proc { pid, ppid: st.ppid, sid: st.sid, start: st.start, stdout: None, sockets: &[], environ: env.as_bytes() };
            let Some(id) = adopt::left_over(&p, &held, me.start, find) else { return };
            // A live svc reads its services' log pipes; a dead one's are unread.
            let Some(d) = cfg.defs.get(usize::from(id)) else { return };
            if !proc::unread(pid) {
                return;
            }
            let mut b = Buf::<96>::new();
            // (A service name is plain text: the config checked it.)
            b.push(b"svc: ");
            b.push(cfg.str(d.name));
            let _ = ufmt::uwrite!(b, ": stopping pid {} left by a previous svc\n", pid);
            crate::os::fd::write_err(b.as_bytes());
            let _ = super::up::send(pid, d.stop_signal, !d.kill_mixed);
            let at = now + d.stop_timeout;
            end = end.max(at);
            if let Some(e) = stopped.get_mut(k) {
                *e = (pid, at);
                k += 1;
                left += 1;
            }
        });
        if left == 0 || now > end + crate::duration::Duration::from_secs(2) {
            return;
        }
        crate::os::init::pause_ms(10);
    }
}
