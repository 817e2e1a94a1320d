//! Which service a running process belongs to, when svc has no state to
//! say so (a reexec state that cannot be read, a restart after `kill -9`
//! of svc, a re-exec after a panic): by what the process holds and what it
//! was given, in this order of trust:
//!
//! 1. the inode of the pipe on its fd 1, when svc holds that pipe's read
//!    end as a service's log pipe;
//! 2. the inode of a listening socket it holds, when svc holds that socket
//!    for a service;
//! 3. `SVC_SERVICE=NAME` in its environment (last: servers that set their
//!    process title, as starman or nginx do, write over their environment).
//!
//! A process counts once, as its instance's main process, only when it
//! leads its session (svc starts every instance as a session leader; its
//! workers and children share the session and are found through it), and
//! a pid is taken for the same process only with the start time recorded
//! for it (/proc/PID/stat field 22), so that a reused pid is never adopted.
//! The OS layer reads /proc; this module only matches. No syscalls.

use crate::limits::{MAX_INSTANCES, MAX_SERVICES};

/// What /proc says of one process.
#[derive(Clone, Copy, Debug)]
pub struct Proc<'a> {
    pub pid: i32,
    pub ppid: i32,
    /// Its session id (/proc/PID/stat field 6).
    pub sid: i32,
    /// Its start time, in clock ticks after boot (field 22).
    pub start: u64,
    /// The inode of the pipe on its fd 1, if fd 1 is a pipe.
    pub stdout: Option<u64>,
    /// The inodes of the sockets among its fds.
    pub sockets: &'a [u64],
    /// /proc/PID/environ: `KEY=value` entries, each ended by a NUL.
    pub environ: &'a [u8],
}

/// How a process was told for a service's.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum By {
    Pipe,
    Socket,
    Env,
}

impl By {
    pub const fn word(self) -> &'static str {
        match self {
            By::Pipe => "log pipe",
            By::Socket => "socket",
            By::Env => "SVC_SERVICE",
        }
    }
}

/// What svc holds, by inode, for each service slot.
pub struct Held<'a> {
    /// Read ends of log pipes: (inode, slot).
    pub pipes: &'a [(u64, u8)],
    /// Held listening sockets: (inode, slot).
    pub sockets: &'a [(u64, u8)],
}

/// The value of `SVC_SERVICE` in an environment block.
pub fn env_service(environ: &[u8]) -> Option<&[u8]> {
    environ.split(|&b| b == 0).find_map(|e| e.strip_prefix(b"SVC_SERVICE="))
}

/// The slot `p` belongs to and how that was told; None for a process that
/// shows none of the three signs. `find` maps a service name to its slot.
pub fn service_of(p: &Proc, held: &Held, find: impl Fn(&[u8]) -> Option<u8>) -> Option<(u8, By)> {
    let slot = |list: &[(u64, u8)], ino: u64| list.iter().find(|(i, _)| *i == ino).map(|(_, s)| *s);
    if let Some(s) = p.stdout.and_then(|ino| slot(held.pipes, ino)) {
        return Some((s, By::Pipe));
    }
    if let Some(s) = p.sockets.iter().find_map(|&ino| slot(held.sockets, ino)) {
        return Some((s, By::Socket));
    }
    env_service(p.environ).and_then(find).map(|s| (s, By::Env))
}

/// One process adopted as an instance's main process (pid 0: none, so that
/// an empty `Found` is all zero bytes and stays in .bss).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Adopted {
    pub pid: i32,
    pub start: u64,
    pub by: By,
}

/// The main processes found per slot, oldest first: at most MAX_INSTANCES
/// each (an upgrade runs a new instance beside the old), so that nothing
/// found twice is started twice and nothing is started beside what runs.
pub struct Found {
    pub slots: [[Adopted; MAX_INSTANCES]; MAX_SERVICES],
}

const NONE: Adopted = Adopted { pid: 0, start: 0, by: By::Pipe };

/// Why a process was not adopted.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Skip {
    /// No sign of any service.
    Unknown,
    /// Not a session leader: a worker of an instance, found through it.
    Member,
    /// Its start time is not the one recorded for its pid: another process.
    Reused,
    /// Its slot already has MAX_INSTANCES main processes.
    Full,
}

impl Found {
    pub const fn new() -> Self {
        Found { slots: [[NONE; MAX_INSTANCES]; MAX_SERVICES] }
    }

    /// Offers process `p`; `recorded`: the start time svc recorded for its
    /// pid, when it has one. The slot it was adopted for, or why not.
    pub fn offer(&mut self, p: &Proc, held: &Held, recorded: Option<u64>, find: impl Fn(&[u8]) -> Option<u8>) -> Result<u8, Skip> {
        if recorded.is_some_and(|t| t != p.start) {
            return Err(Skip::Reused);
        }
        let (slot, by) = service_of(p, held, find).ok_or(Skip::Unknown)?;
        if p.sid != p.pid {
            return Err(Skip::Member);
        }
        let list = self.slots.get_mut(usize::from(slot)).ok_or(Skip::Unknown)?;
        if p.pid <= 0 || list.iter().any(|a| a.pid == p.pid) {
            return Ok(slot);
        }
        let free = list.iter().position(|a| a.pid == 0).ok_or(Skip::Full)?;
        if let Some(e) = list.get_mut(free) {
            *e = Adopted { pid: p.pid, start: p.start, by };
        }
        list.sort_unstable_by_key(|a| if a.pid == 0 { u64::MAX } else { a.start });
        Ok(slot)
    }

    /// The main processes found for `slot`, oldest first.
    pub fn of(&self, slot: usize) -> impl Iterator<Item = &Adopted> {
        self.slots.get(slot).into_iter().flatten().filter(|a| a.pid != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIPES: [(u64, u8); 2] = [(1001, 0), (1002, 1)];
    const SOCKS: [(u64, u8); 1] = [(2001, 2)];
    const HELD: Held = Held { pipes: &PIPES, sockets: &SOCKS };

    fn find(name: &[u8]) -> Option<u8> {
        [&b"web"[..], b"db", b"api", b"cron"].iter().position(|n| *n == name).map(|i| i as u8)
    }

    fn proc<'a>(pid: i32, stdout: Option<u64>, sockets: &'a [u64], environ: &'a [u8]) -> Proc<'a> {
        Proc { pid, ppid: 1, sid: pid, start: 100 + pid as u64, stdout, sockets, environ }
    }

    #[test]
    fn signs_in_order_of_trust() {
        let env = b"PATH=/bin\0SVC_SERVICE=cron\0";
        let cases: [(Proc, Option<(u8, By)>); 7] = [
            // The pipe beats a socket and the environment.
            (proc(10, Some(1002), &[2001], env), Some((1, By::Pipe))),
            // A pipe svc does not hold says nothing.
            (proc(11, Some(9999), &[2001], env), Some((2, By::Socket))),
            (proc(12, None, &[7, 2001], env), Some((2, By::Socket))),
            (proc(13, None, &[], env), Some((3, By::Env))),
            // An unknown name, no SVC_SERVICE, a title written over the environment.
            (proc(14, None, &[], b"SVC_SERVICE=gone\0"), None),
            (proc(15, None, &[], b"PATH=/bin\0"), None),
            (proc(16, None, &[], b"starman master -p 8080 app.psgi\0\0\0\0"), None),
        ];
        for (p, want) in cases {
            assert_eq!(service_of(&p, &HELD, find), want, "pid {}", p.pid);
        }
    }

    #[test]
    fn env_service_takes_a_whole_entry() {
        assert_eq!(env_service(b"A=1\0SVC_SERVICE=web\0B=2\0"), Some(&b"web"[..]));
        assert_eq!(env_service(b"XSVC_SERVICE=web\0"), None);
        assert_eq!(env_service(b"SVC_SERVICE=web"), Some(&b"web"[..]));
        assert_eq!(env_service(b""), None);
    }

    #[test]
    fn one_main_process_per_instance_no_duplicates() {
        let mut f = Found::new();
        let env = b"SVC_SERVICE=web\0";
        let main = proc(20, Some(1001), &[], env);
        // Its worker: same session, same pipe.
        let worker = Proc { pid: 21, sid: 20, ..main };
        assert_eq!(f.offer(&main, &HELD, None, find), Ok(0));
        assert_eq!(f.offer(&worker, &HELD, None, find), Err(Skip::Member));
        // Offered twice (found by two scans): counted once.
        assert_eq!(f.offer(&main, &HELD, None, find), Ok(0));
        assert_eq!(f.of(0).count(), 1);
        // A pid whose start time is not the recorded one is another process.
        assert_eq!(f.offer(&proc(30, None, &[], b"SVC_SERVICE=db\0"), &HELD, Some(1), find), Err(Skip::Reused));
        assert_eq!(f.offer(&proc(31, None, &[], b""), &HELD, None, find), Err(Skip::Unknown));
        assert_eq!(f.of(1).count(), 0);
    }

    #[test]
    fn an_upgrade_pair_is_kept_oldest_first_up_to_the_instances() {
        let mut f = Found::new();
        let env = b"SVC_SERVICE=api\0";
        let mut pids = [50, 40, 60, 70];
        for pid in pids {
            let r = f.offer(&proc(pid, None, &[], env), &HELD, None, find);
            assert_eq!(r, if pid == 70 { Err(Skip::Full) } else { Ok(2) });
        }
        pids[..3].sort();
        let got: Vec<i32> = f.of(2).map(|a| a.pid).collect();
        assert_eq!(got, pids[..3]);
        assert!(f.of(2).all(|a| a.by == By::Env));
    }
}
