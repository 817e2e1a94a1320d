//! What a previous svc left running (it was killed by SIGKILL, so its
//! services were orphaned to the init or a subreaper, with their listening
//! sockets and without their log pipes' readers): found at `svc up` before
//! anything is bound or started, and stopped as svc stops a service, so
//! that no service runs twice: a session leader no newer than svc (`proc::each`
//! skips svc itself) that holds a socket bound to a configured address, else
//! names a configured service in `SVC_SERVICE` (`recover::service_of`), and
//! whose log pipe nobody reads.

use crate::duration::Instant;
use crate::limits::*;
use crate::os::{clock, proc, signal};
use crate::signame;
use crate::verbs::recover::{self, Bound};
use crate::verbs::world::World;

/// Stops every service process a previous svc left, each with its
/// service's stop signal, and waits for their sessions to end: at each
/// one's `stop_timeout` what is left of it gets SIGKILL, and 2 s after the
/// last deadline svc goes on whatever is left (its sockets may then fail
/// to bind, which says so). Blocks: nothing else runs yet.
#[inline(never)]
pub fn stop(w: &mut World) {
    let cfg = &w.sup.cfg;
    // The sockets bound to configured addresses (svc holds none yet).
    let mut inodes: Bound = [0; MAX_LISTENS];
    recover::bound(cfg, &mut inodes);
    let Some(me) = proc::stat(crate::os::process::pid()) else { return };
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
            let Some(d) = recover::service_of(cfg, &inodes, pid).and_then(|i| cfg.defs.get(i)) else { return };
            // A live svc reads its services' log pipes; a dead one's are unread.
            if !proc::unread(pid) {
                return;
            }
            recover::say(cfg.str(d.name), ": stopping pid ", pid, " left by a previous svc\n");
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
