//! What a previous svc left running (it was killed by SIGKILL, so its
//! services were orphaned to the init or a subreaper, with their listening
//! sockets and without their log pipes' readers): found at `svc up` before
//! anything is bound or started, and stopped as svc stops a service, so
//! that no service runs twice: a session leader no newer than svc (`proc::each`
//! skips svc itself) that holds a socket bound to a configured address, else
//! names a configured service in `SVC_SERVICE`, and whose log pipe nobody
//! reads.

use crate::addr::Proto;
use crate::adopt::{self, Table};
use crate::duration::Instant;
use crate::limits::*;
use crate::os::{clock, proc, signal};
use crate::signame;
use crate::text::Buf;
use crate::verbs::world::World;

/// The /proc/net tables where the config's sockets may be held.
const TABLES: [(&core::ffi::CStr, Table); 5] = [
    (c"/proc/net/tcp", Table { proto: Proto::Tcp, v6: false }),
    (c"/proc/net/tcp6", Table { proto: Proto::Tcp, v6: true }),
    (c"/proc/net/udp", Table { proto: Proto::Udp, v6: false }),
    (c"/proc/net/udp6", Table { proto: Proto::Udp, v6: true }),
    (c"/proc/net/unix", Table { proto: Proto::Unix, v6: false }),
];

/// Stops every service process a previous svc left, each with its
/// service's stop signal, and waits for their sessions to end: at each
/// one's `stop_timeout` what is left of it gets SIGKILL, and 2 s after the
/// last deadline svc goes on whatever is left (its sockets may then fail
/// to bind, which says so). Blocks: nothing else runs yet.
#[inline(never)]
pub fn stop(w: &mut World) {
    let cfg = &w.sup.cfg;
    // The inode of the socket bound to each configured address (svc holds
    // none yet; a socket's inode is 32 bits).
    let mut inodes = [0u32; MAX_LISTENS];
    for (path, table) in TABLES {
        proc::records(path, b'\n', &mut |line| {
            for (l, ino) in cfg.listens.iter().zip(inodes.iter_mut()) {
                if let Some(i) = cfg.addr(l).and_then(|a| adopt::bound(line, table, &a)) {
                    *ino = i as u32;
                }
            }
        });
    }
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
            // A socket bound to a configured address, else its SVC_SERVICE.
            let mut id = proc::holds(pid, &inodes).and_then(|l| cfg.defs.iter().position(|d| d.listen.has(l)));
            if id.is_none() {
                proc::environ_entries(pid, &mut |e| {
                    if let Some(name) = crate::text::after(e, b"SVC_SERVICE=") {
                        id = cfg.find(name);
                    }
                });
            }
            let Some(d) = id.and_then(|i| cfg.defs.get(i)) else { return };
            // A live svc reads its services' log pipes; a dead one's are unread.
            if !proc::unread(pid) {
                return;
            }
            let mut b = Buf::<96>::new();
            // (A service name is plain text: the config checked it.)
            b.push(b"svc: ");
            b.push(cfg.str(d.name));
            let _ = ufmt::uwrite!(b, ": stopping pid {} left by a previous svc\n", pid);
            crate::os::fd::say(&b);
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
