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

use crate::addr::{Addr, Ip, Proto};
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

/// The slot of a service that `p` is the main process of, left running by
/// an svc that is gone (killed by SIGKILL): a session leader (svc starts
/// every instance as one; its workers go with its session) that started no
/// later than the new svc (`svc_start`, in the same clock ticks: nothing
/// started after it can be a previous svc's), and shows a service's sign
/// (`held.sockets`: sockets bound to the config's addresses, by others).
/// The OS layer also checks that nothing reads its output any more (a
/// live svc reads its services' log pipes; a dead one's have no reader).
pub fn left_over(p: &Proc, held: &Held, svc_start: u64, find: impl Fn(&[u8]) -> Option<u8>) -> Option<u8> {
    if p.sid != p.pid || p.start > svc_start {
        return None;
    }
    service_of(p, held, find).map(|(s, _)| s)
}

/// A decimal number of /proc (wrapping, not checked: /proc writes them).
pub fn number(w: &[u8]) -> Option<u64> {
    if w.is_empty() {
        return None;
    }
    w.iter().try_fold(0u64, |a, &c| c.is_ascii_digit().then(|| a.wrapping_mul(10).wrapping_add(u64::from(c - b'0'))))
}

/// The `i`th blank-separated word of `line` (empty past the last).
#[inline(never)]
fn word(line: &[u8], i: usize) -> &[u8] {
    crate::text::split(line, b' ').filter(|w| !w.is_empty()).nth(i).unwrap_or(&[])
}

/// `v` as `digits` uppercase hex digits.
fn hex(out: &mut crate::text::Buffer<[u8]>, v: u32, digits: u32) {
    for k in (0..digits).rev() {
        out.push_byte(b"0123456789ABCDEF"[((v >> (4 * k)) & 15) as usize]);
    }
}

/// Which /proc/net table: tcp, tcp6, udp, udp6 or unix.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Table {
    pub proto: Proto,
    pub v6: bool,
}

/// The inode of the socket on `line` of /proc/net/`t` when it is bound
/// to `a` (and listens, for streams). The kernel writes an IP address as
/// the hex of each of its 32-bit words in host order, then `:` and the
/// port in hex; a unix path as it is, an abstract name after `@`.
#[inline(never)]
pub fn bound(line: &[u8], t: Table, a: &Addr) -> Option<u64> {
    let mut text = crate::text::Buf::<120>::new();
    let (proto, listening, col) = match *a {
        // Num RefCount Protocol Flags Type St Inode Path
        Addr::Unix { path, abstract_ } => {
            if abstract_ {
                text.push(b"@");
            }
            text.push(path);
            (Proto::Unix, &b"00010000"[..], 7)
        }
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        Addr::Inet { proto, ip, port } => {
            let ip: &[u8] = match &ip {
                Ip::V4(v) if !t.v6 => v,
                Ip::V6(v) if t.v6 => v,
                Ip::Any => &[0; 16][..4 + 12 * usize::from(t.v6)],
                _ => &[],
            };
            for w in ip.chunks(4) {
                let mut b = [0u8; 4];
                for (d, s) in b.iter_mut().zip(w) {
                    *d = *s;
                }
                hex(&mut text, u32::from_ne_bytes(b), 8);
            }
            text.push(b":");
            hex(&mut text, u32::from(port), 4);
            (proto, &b"0A"[..2 - 2 * usize::from(proto == Proto::Udp)], 1)
        }
    };
    let inode = if col == 7 { 6 } else { 9 };
    let st = word(line, 3);
    (proto == t.proto && st.starts_with(listening) && word(line, col) == text.as_bytes()).then(|| number(word(line, inode)))?
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
    crate::text::split(environ, 0).find_map(|e| crate::text::after(e, b"SVC_SERVICE="))
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
    fn left_over_needs_a_session_leader_older_than_svc_with_a_sign() {
        let env = b"SVC_SERVICE=db\0";
        let p = proc(40, None, &[], env); // start 140
        assert_eq!(left_over(&p, &HELD, 140, find), Some(1));
        assert_eq!(left_over(&p, &HELD, 1000, find), Some(1));
        // Started after the new svc: not a previous svc's.
        assert_eq!(left_over(&p, &HELD, 139, find), None);
        // A worker: its leader stands for it.
        assert_eq!(left_over(&Proc { sid: 39, ..p }, &HELD, 1000, find), None);
        // No sign, or a name the config does not have.
        assert_eq!(left_over(&proc(41, None, &[], b"PATH=/bin\0"), &HELD, 1000, find), None);
        assert_eq!(left_over(&proc(42, None, &[], b"SVC_SERVICE=gone\0"), &HELD, 1000, find), None);
        // A held socket tells, whatever the environment says.
        assert_eq!(left_over(&proc(43, None, &[5, 2001], b"SVC_SERVICE=db\0"), &HELD, 1000, find), Some(2));
        assert_eq!(left_over(&proc(44, None, &[2001], b"perl\0\0"), &HELD, 1000, find), Some(2));
    }

    #[test]
    fn bound_reads_proc_net_lines() {
        let h = |b: [u8; 4]| format!("{:08X}", u32::from_ne_bytes(b));
        let lo = h([127, 0, 0, 1]);
        let tcp = |local: &str, st: &str| {
            format!(
                "   3: {local} 00000000:0000 {st} 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0"
            )
        };
        let v6 = |b: [u8; 16]| b.chunks(4).map(|c| h([c[0], c[1], c[2], c[3]])).collect::<String>();
        let mut one = [0u8; 16];
        one[15] = 1;
        let addr = |t: &'static str| crate::addr::parse(t.as_bytes()).unwrap();
        let t = |proto, v6| Table { proto, v6 };
        let (t4, t6, u4, ux) = (t(Proto::Tcp, false), t(Proto::Tcp, true), t(Proto::Udp, false), t(Proto::Unix, false));
        let unix = |flags: &str, rest: &str| format!("0000000000000000: 00000002 00000000 {flags} 0001 01 {rest}");
        let cases: Vec<(String, Table, &str, Option<u64>)> = vec![
            (tcp(&format!("{lo}:1F90"), "0A"), t4, "tcp:127.0.0.1:8080", Some(4242)),
            // Not listening (an accepted connection), another port, another address.
            (tcp(&format!("{lo}:1F90"), "01"), t4, "tcp:127.0.0.1:8080", None),
            (tcp(&format!("{lo}:1F91"), "0A"), t4, "tcp:127.0.0.1:8080", None),
            (tcp(&format!("{}:1F90", h([10, 0, 0, 1])), "0A"), t4, "tcp:127.0.0.1:8080", None),
            // The table must be the protocol's; UDP has no listening state.
            (tcp(&format!("{lo}:1F90"), "0A"), u4, "tcp:127.0.0.1:8080", None),
            (tcp(&format!("{lo}:0035"), "07"), u4, "udp:127.0.0.1:53", Some(4242)),
            // Every address: [::] (dual stack) or 0.0.0.0 (no IPv6).
            (tcp(&format!("{}:1F90", v6([0; 16])), "0A"), t6, "tcp::8080", Some(4242)),
            (tcp("00000000:1F90", "0A"), t4, "tcp::8080", Some(4242)),
            (tcp(&format!("{lo}:1F90"), "0A"), t4, "tcp::8080", None),
            (tcp(&format!("{}:1F90", v6(one)), "0A"), t6, "tcp:[::1]:8080", Some(4242)),
            (tcp(&format!("{}:1F90", v6([0; 16])), "0A"), t6, "tcp:[::1]:8080", None),
            (tcp(&format!("{lo}:1F90"), "0A"), t6, "tcp:127.0.0.1:8080", None),
            // The header line.
            (
                "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode".into(),
                t6,
                "tcp::8080",
                None,
            ),
            (unix("00010000", "31337 /run/app.sock"), ux, "unix:/run/app.sock", Some(31337)),
            (unix("00000000", "31338 /run/app.sock"), ux, "unix:/run/app.sock", None),
            (unix("00010000", "31339 @app"), ux, "unix:@app", Some(31339)),
            (unix("00010000", "31339 @app"), ux, "unix:/app", None),
            (unix("00010000", "31339 /app"), ux, "unix:@app", None),
            (unix("00010000", "31340"), ux, "unix:/run/app.sock", None),
            (unix("00010000", "31337 /run/app.sock"), t4, "unix:/run/app.sock", None),
        ];
        for (line, table, a, want) in cases {
            assert_eq!(bound(line.as_bytes(), table, &addr(a)), want, "{a} in {line:?}");
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
