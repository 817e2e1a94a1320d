//! svc's children told apart without svc's state: by the socket bound to a
//! configured address that a process holds, else by its `SVC_SERVICE`
//! (`service_of`; also how `svc up` finds what a svc killed by SIGKILL left,
//! verbs/leftover.rs). After svc re-executed itself (a panic or a fault:
//! os/crash.rs) it has no state, only what the crashed image kept open and
//! its children: of the kept fds, the held sockets are known again by
//! inode and pipes are kept until their writer is known; the rest (the old
//! epoll set, signalfd, control socket, clients) is closed (`fds`). Then
//! the children become running instances, each with the log pipe its fd 1
//! writes to (`adopt`). What is not found starts as at boot. Lost: log
//! rings, uptimes, restart counts, a reload's or an upgrade's progress.

use crate::addr::Proto;
use crate::adopt::{self, Table};
use crate::config::Config;
use crate::duration::Instant;
use crate::limits::*;
use crate::os::event::{Events, Interest};
use crate::os::{self, proc};
use crate::verbs::world::{Role, World};

/// The inode of the socket bound to each configured address
/// (`cfg.listens[n]` at n), whoever holds it; 0: none. (A socket's inode
/// is 32 bits.)
pub type Bound = [u32; MAX_LISTENS];

/// The /proc/net tables where the config's sockets may be held.
const TABLES: [(&core::ffi::CStr, Table); 5] = [
    (c"/proc/net/tcp", Table { proto: Proto::Tcp, v6: false }),
    (c"/proc/net/tcp6", Table { proto: Proto::Tcp, v6: true }),
    (c"/proc/net/udp", Table { proto: Proto::Udp, v6: false }),
    (c"/proc/net/udp6", Table { proto: Proto::Udp, v6: true }),
    (c"/proc/net/unix", Table { proto: Proto::Unix, v6: false }),
];

/// The sockets bound to the config's addresses, as /proc/net lists them.
#[inline(never)]
pub fn bound(cfg: &Config, inodes: &mut Bound) {
    for (path, table) in TABLES {
        proc::records(path, b'\n', &mut |line| {
            for (l, ino) in cfg.listens.iter().zip(inodes.iter_mut()) {
                if let Some(i) = cfg.addr(l).and_then(|a| adopt::bound(line, table, &a)) {
                    *ino = i as u32;
                }
            }
        });
    }
}

/// The service (its slot in `cfg.defs`) that the process `pid` belongs
/// to: the one whose socket it holds, else the one its `SVC_SERVICE`
/// names (last: servers that set their process title write over their
/// environment). None for a `ready = exec:` probe (it has its service's
/// environment, and SVC_PID): it is no instance, left to end and be reaped.
#[inline(never)]
pub fn service_of(cfg: &Config, inodes: &Bound, pid: i32) -> Option<usize> {
    let mut id = proc::holds(pid, inodes).and_then(|l| cfg.defs.iter().position(|d| d.listen.has(l)));
    if id.is_none() {
        let mut probe = false;
        proc::environ_entries(pid, &mut |e| {
            if let Some(name) = crate::text::after(e, b"SVC_SERVICE=") {
                id = cfg.find(name);
            }
            probe |= e.starts_with(b"SVC_PID=");
        });
        if probe {
            return None;
        }
    }
    id
}

/// `svc: NAME` + `a` + `pid` + `b` on stderr. (A service name is plain
/// text: the config checked it.)
#[inline(never)]
pub fn say(name: &[u8], a: &str, pid: i32, b: &str) {
    let mut m = crate::text::Buf::<96>::new();
    m.push_all(&[b"svc: ", name, a.as_bytes()]);
    let _ = ufmt::uwrite!(m, "{}", pid);
    m.push(b.as_bytes());
    os::fd::say(&m);
}

/// Before anything is bound: of the fds the crashed image kept (all of
/// them, os/crash.rs), the configured sockets are held again, pipes kept
/// (`Role::Kept`) until `adopt`, the rest closed.
#[inline(never)]
pub fn fds(w: &mut World) {
    let mut inodes: Bound = [0; MAX_LISTENS];
    bound(&w.sup.cfg, &mut inodes);
    let err = os::fd::err_fd();
    for num in 3..crate::limits::FD_NUMBERS_END {
        if num == err {
            continue;
        }
        let Ok(fd) = os::fd::owned(num) else { continue };
        let Ok(st) = os::stat::fstat(&fd) else {
            // Not open: nothing to close.
            core::mem::forget(fd);
            continue;
        };
        let ino = st.st_ino as u32;
        let role = match st.st_mode & libc::S_IFMT {
            libc::S_IFIFO => Role::Kept,
            libc::S_IFSOCK => match inodes.iter().position(|&i| i == ino) {
                Some(n) => Role::Listen { n: n as u8 },
                None => continue,
            },
            _ => continue,
        };
        os::crash::cloexec(num, true);
        let _ = w.fds.hold(fd, role);
    }
}

/// Once the services are loaded: svc's children that lead their session
/// (its workers share it) become running instances of the services they
/// belong to (`service_of`), each with its log pipe among the kept ones
/// (`Role::Kept`, by inode); kept pipes that no child writes are closed.
/// For any new image that has the children but not svc's state.
#[inline(never)]
pub fn adopt(w: &mut World, ev: &Events, now: Instant) {
    let mut inodes: Bound = [0; MAX_LISTENS];
    bound(&w.sup.cfg, &mut inodes);
    let me = os::process::pid();
    proc::each(&mut |pid, st| {
        // (waitid: a /proc of another PID namespace must not pass its
        // processes off as svc's children.)
        if st.ppid != me || st.sid != pid || !os::process::is_child(pid) {
            return;
        }
        let Some(id) = service_of(&w.sup.cfg, &inodes, pid) else { return };
        let Some(inst) = w.sup.svcs.get_mut(id).and_then(|s| s.adopt(pid, now)) else { return };
        say(w.sup.name(id), ": pid ", pid, " adopted\n");
        // Its fd 1 (through /proc: the pipe itself) is one of the kept
        // pipes: the same device and inode.
        let Ok(out) = os::stat::stat(proc::cstr(&proc::path(pid, b"fd/1", b""))) else { return };
        let id_of = |st: os::stat::Stat| (st.st_dev, st.st_ino);
        for k in 0..MAX_FDS {
            if let Some((slot, role @ Role::Kept)) = w.fds.slots.get_mut(k)
                && let Some(fd) = slot.get().filter(|&fd| os::stat::fstat(fd).map(id_of) == Ok(id_of(out)))
            {
                *role = Role::Log { id: id as u8, inst: inst as u8 };
                let _ = ev.add(fd, k as u64, Interest::Read);
                return;
            }
        }
    });
    for k in 0..MAX_FDS {
        if matches!(w.fds.role(k), Role::Kept) {
            w.fds.close(ev, k);
        }
    }
}
