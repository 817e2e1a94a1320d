//! The test server of the held-socket and upgrade tests (std only, no crates;
//! built by the harness with rustc, see tests/common/bins.rs).
//!
//! It serves the listening sockets it was given:
//! - by systemd's protocol (the default): `LISTEN_FDS=n`, `LISTEN_PID` (strict:
//!   unless it is this process's pid, the fds are refused: exit 3),
//!   `LISTEN_FDNAMES` (exactly n names, colon-separated), fds 3..3+n;
//! - with `--starter`, by Server::Starter's: `SERVER_STARTER_PORT`
//!   (`host:port=fd;path=fd;port=fd`).
//!
//! On a stream socket (TCP or unix) it answers each connection, after reading
//! one request line, with `pid PID\n`; on a UDP socket each datagram with the
//! same. When `$SLOW_FILE` is set, an answer waits until that file exists (30 s
//! at most). On SIGTERM it stops accepting, answers every connection it has
//! accepted, and exits 0. With `--once` it stops the same way after its first
//! connection or datagram. `$EVENTS_FILE`, when set, gets a line per event:
//! `ready PID`, `term PID`, `exit PID`; and `locked PID`, `ignored PID`,
//! `hup PID` with the options below. SIGHUP is only recorded.
//!
//! Before it serves (the sockets are checked first):
//! - `--lock FILE` takes an exclusive flock on FILE, waiting for it as long as
//!   it takes (10 minutes at most): a server that cannot run beside another
//!   instance holding the lock;
//! - `--ready-fd N` waits until `$READY_FILE` exists (at once when unset; 10
//!   minutes at most), records `ready`, then writes a newline to fd N (svc's
//!   `ready = fd:N`), and only then accepts: it is not serving before it
//!   says it is ready.
//! A SIGTERM during those waits ends it (exit 0) after `term` and `exit`.
//! With `--ignore-term` a SIGTERM is recorded as `ignored` and changes
//! nothing, during the waits and while serving (SIGKILL ends it).
//!
//! `--dump FILE` serves nothing: it writes what it received (environment,
//! pid, open fds, the kind and address of each fd from 3 on) to FILE as
//! `KEY=VALUE` lines, atomically, then sleeps until killed (an hour at most).
//!
//! Exit status: 0 after a graceful stop, 2 for bad arguments, 3 when the
//! sockets passed are refused or unusable.

use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::exit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

// From the C library std already links: std has no signal handling and no poll.
#[repr(C)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}
const POLLIN: i16 = 1;
const SIGHUP: i32 = 1;
const SIGTERM: i32 = 15;
const LOCK_EX: i32 = 2;
const LOCK_NB: i32 = 4;
extern "C" {
    fn poll(fds: *mut PollFd, n: u64, timeout_ms: i32) -> i32;
    fn signal(sig: i32, handler: extern "C" fn(i32)) -> usize;
    fn flock(fd: i32, op: i32) -> i32;
}

static TERM: AtomicBool = AtomicBool::new(false);
static HUP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: i32) {
    TERM.store(true, Ordering::SeqCst);
}

extern "C" fn on_hup(_: i32) {
    HUP.store(true, Ordering::SeqCst);
}

/// How long a connection may take to send its request line.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an answer may wait for `$SLOW_FILE`.
const SLOW_MAX: Duration = Duration::from_secs(30);
/// How long `--lock` and `--ready-fd` may wait.
const WAIT_MAX: Duration = Duration::from_secs(600);

fn die(code: i32, msg: &str) -> ! {
    eprintln!("echo_server {}: {msg}", std::process::id());
    exit(code)
}

fn event(what: &str) {
    if let Some(path) = std::env::var_os("EVENTS_FILE") {
        if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = f.write_all(format!("{what} {}\n", std::process::id()).as_bytes());
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Tcp,
    Udp,
    Unix,
    UnixDgram,
    Other,
}

/// The inode of `socket:[N]` behind fd `fd`, or the link text when not a socket.
fn socket_inode(fd: RawFd) -> Result<u64, String> {
    let link = fs::read_link(format!("/proc/self/fd/{fd}")).map_err(|e| format!("fd {fd}: {e}"))?;
    let l = link.display().to_string();
    l.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')).and_then(|n| n.parse().ok()).ok_or(l)
}

/// Which /proc/net table holds `inode`: the kind of socket, without libc.
fn kind_of(inode: u64) -> Kind {
    let want = inode.to_string();
    for (table, col, kind) in [("tcp", 9, Kind::Tcp), ("tcp6", 9, Kind::Tcp), ("udp", 9, Kind::Udp), ("udp6", 9, Kind::Udp)] {
        let text = fs::read_to_string(format!("/proc/net/{table}")).unwrap_or_default();
        if text.lines().skip(1).any(|l| l.split_whitespace().nth(col) == Some(want.as_str())) {
            return kind;
        }
    }
    // Num RefCount Protocol Flags Type St Inode [Path]; Type 1 is SOCK_STREAM.
    let text = fs::read_to_string("/proc/net/unix").unwrap_or_default();
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.get(6) == Some(&want.as_str()) {
            return if f.get(4) == Some(&"0001") { Kind::Unix } else { Kind::UnixDgram };
        }
    }
    Kind::Other
}

/// `tcp 127.0.0.1:80`, `udp [::1]:53`, `unix /run/a.sock`, `unix @name`: what fd `fd` is.
fn describe(fd: RawFd) -> String {
    let inode = match socket_inode(fd) {
        Ok(i) => i,
        Err(link) => return format!("other {link}"),
    };
    // Borrowed for the call: into_raw_fd gives the fd back unclosed.
    let text = match kind_of(inode) {
        Kind::Tcp => {
            let l = unsafe { TcpListener::from_raw_fd(fd) };
            let a = l.local_addr().map(|a| a.to_string()).unwrap_or_else(|e| format!("?{e}"));
            let _ = l.into_raw_fd();
            format!("tcp {a}")
        }
        Kind::Udp => {
            let s = unsafe { UdpSocket::from_raw_fd(fd) };
            let a = s.local_addr().map(|a| a.to_string()).unwrap_or_else(|e| format!("?{e}"));
            let _ = s.into_raw_fd();
            format!("udp {a}")
        }
        k @ (Kind::Unix | Kind::UnixDgram) => {
            let l = unsafe { UnixListener::from_raw_fd(fd) };
            let a = match l.local_addr() {
                Ok(a) => match (a.as_pathname(), a.as_abstract_name()) {
                    (Some(p), _) => p.display().to_string(),
                    (None, Some(n)) => format!("@{}", String::from_utf8_lossy(n)),
                    _ => "unnamed".to_string(),
                },
                Err(e) => format!("?{e}"),
            };
            let _ = l.into_raw_fd();
            format!("{} {a}", if k == Kind::Unix { "unix" } else { "unix-dgram" })
        }
        Kind::Other => format!("other socket:[{inode}]"),
    };
    format!("{text} inode={inode}")
}

/// The open fds, without the one that reads the directory.
fn open_fds() -> Vec<RawFd> {
    let names: Vec<RawFd> =
        fs::read_dir("/proc/self/fd").map(|rd| rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect()).unwrap_or_default();
    // The directory's fd is closed now: its entry no longer resolves.
    let mut v: Vec<RawFd> = names.into_iter().filter(|fd| fs::read_link(format!("/proc/self/fd/{fd}")).is_ok()).collect();
    v.sort_unstable();
    v
}

fn dump(file: &str) -> ! {
    let fds = open_fds();
    let mut out = String::new();
    out.push_str(&format!("pid={}\n", std::process::id()));
    for key in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "SERVER_STARTER_PORT", "SERVER_STARTER_GENERATION"] {
        if let Some(v) = std::env::var_os(key) {
            out.push_str(&format!("{key}={}\n", v.to_string_lossy()));
        }
    }
    let list: Vec<String> = fds.iter().map(|f| f.to_string()).collect();
    out.push_str(&format!("fds={}\n", list.join(" ")));
    for &fd in fds.iter().filter(|&&fd| fd >= 3) {
        out.push_str(&format!("fd{fd}={}\n", describe(fd)));
    }
    let tmp = format!("{file}.tmp.{}", std::process::id());
    if let Err(e) = fs::write(&tmp, out).and_then(|()| fs::rename(&tmp, file)) {
        die(3, &format!("cannot write {file}: {e}"));
    }
    event("ready");
    // Until killed; bounded all the same.
    for _ in 0..3600 {
        thread::sleep(Duration::from_secs(1));
    }
    exit(0)
}

/// The fds passed by systemd's protocol, strictly checked.
fn systemd_fds() -> Vec<(RawFd, String)> {
    let n: usize = match std::env::var("LISTEN_FDS") {
        Ok(v) => v.parse().unwrap_or_else(|_| die(3, &format!("LISTEN_FDS={v:?} is not a number"))),
        Err(_) => die(3, "no LISTEN_FDS"),
    };
    let me = std::process::id().to_string();
    match std::env::var("LISTEN_PID") {
        Ok(p) if p == me => {}
        Ok(p) => die(3, &format!("LISTEN_PID={p} is not my pid {me}: the fds are not mine")),
        Err(_) => die(3, "no LISTEN_PID"),
    }
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_else(|_| die(3, "no LISTEN_FDNAMES"));
    let names: Vec<String> = names.split(':').map(String::from).collect();
    if names.len() != n {
        die(3, &format!("LISTEN_FDNAMES has {} names for LISTEN_FDS={n}", names.len()));
    }
    names.into_iter().enumerate().map(|(i, name)| (3 + i as RawFd, name)).collect()
}

/// The fds of `SERVER_STARTER_PORT` (`host:port=fd;path=fd;port=fd`).
fn starter_fds() -> Vec<(RawFd, String)> {
    let v = std::env::var("SERVER_STARTER_PORT").unwrap_or_else(|_| die(3, "no SERVER_STARTER_PORT"));
    v.split(';')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (addr, fd) = p.rsplit_once('=').unwrap_or_else(|| die(3, &format!("SERVER_STARTER_PORT part {p:?} has no =fd")));
            let fd = fd.parse().unwrap_or_else(|_| die(3, &format!("SERVER_STARTER_PORT part {p:?}: bad fd")));
            (fd, addr.to_string())
        })
        .collect()
}

enum Sock {
    Tcp(TcpListener),
    Unix(UnixListener),
    Udp(UdpSocket),
}

impl Sock {
    fn fd(&self) -> RawFd {
        match self {
            Sock::Tcp(l) => l.as_raw_fd(),
            Sock::Unix(l) => l.as_raw_fd(),
            Sock::Udp(s) => s.as_raw_fd(),
        }
    }
}

fn answer_line() -> Vec<u8> {
    format!("pid {}\n", std::process::id()).into_bytes()
}

/// Waits (30 s at most) for `$SLOW_FILE`, when set.
fn slow_wait() {
    let Some(path) = std::env::var_os("SLOW_FILE") else { return };
    let start = Instant::now();
    while !Path::new(&path).exists() && start.elapsed() < SLOW_MAX {
        thread::sleep(Duration::from_millis(10));
    }
}

/// One connection: read a line, wait for `$SLOW_FILE`, answer, close.
fn serve<S: std::io::Read + Write>(conn: S) {
    let mut r = BufReader::new(conn);
    let mut line = Vec::new();
    // An error or EOF before a line: nothing to answer.
    match r.read_until(b'\n', &mut line) {
        Ok(n) if n > 0 => {}
        _ => return,
    }
    slow_wait();
    let _ = r.get_mut().write_all(&answer_line());
}

/// Whether a SIGTERM (not ignored) asks it to stop; records SIGHUP and an
/// ignored SIGTERM.
fn stop_asked(ignore_term: bool) -> bool {
    if HUP.swap(false, Ordering::SeqCst) {
        event("hup");
    }
    if ignore_term && TERM.swap(false, Ordering::SeqCst) {
        event("ignored");
    }
    TERM.load(Ordering::SeqCst)
}

/// Stopped before serving: nothing accepted, nothing to finish.
fn stop_early() -> ! {
    event("term");
    eprintln!("echo_server {}: stopped before serving", std::process::id());
    event("exit");
    exit(0)
}

/// `--lock FILE`: an exclusive flock on FILE, held until exit.
fn take_lock(path: &str, ignore_term: bool) {
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| die(3, &format!("--lock {path}: {e}")));
    let start = Instant::now();
    // Non-blocking tries: a signal must not be lost in a restarted flock.
    while unsafe { flock(f.as_raw_fd(), LOCK_EX | LOCK_NB) } != 0 {
        if stop_asked(ignore_term) {
            stop_early();
        }
        if start.elapsed() > WAIT_MAX {
            die(3, &format!("--lock {path}: still taken after {WAIT_MAX:?}"));
        }
        thread::sleep(Duration::from_millis(10));
    }
    event("locked");
    // Held until the process ends.
    let _ = f.into_raw_fd();
}

/// `--ready-fd N`: waits for `$READY_FILE`, then says ready on fd N.
fn say_ready(fd: RawFd, ignore_term: bool) {
    if let Some(path) = std::env::var_os("READY_FILE") {
        let start = Instant::now();
        while !Path::new(&path).exists() {
            if stop_asked(ignore_term) {
                stop_early();
            }
            if start.elapsed() > WAIT_MAX {
                die(3, &format!("READY_FILE {} did not appear within {WAIT_MAX:?}", Path::new(&path).display()));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
    // Recorded before svc can know: an event svc causes comes after it.
    event("ready");
    let mut f = unsafe { fs::File::from_raw_fd(fd) };
    if let Err(e) = f.write_all(b"\n") {
        die(3, &format!("--ready-fd {fd}: {e}"));
    }
    // Left open: closing it says nothing more.
    let _ = f.into_raw_fd();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut starter, mut once, mut dump_to) = (false, false, None);
    let (mut lock, mut ready_fd, mut ignore_term) = (None, None, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--starter" => starter = true,
            "--once" => once = true,
            "--ignore-term" => ignore_term = true,
            "--dump" => dump_to = Some(it.next().unwrap_or_else(|| die(2, "--dump needs a file")).clone()),
            "--lock" => lock = Some(it.next().unwrap_or_else(|| die(2, "--lock needs a file")).clone()),
            "--ready-fd" => {
                let n = it.next().unwrap_or_else(|| die(2, "--ready-fd needs a number"));
                let fd: RawFd = n.parse().unwrap_or_else(|_| die(2, &format!("--ready-fd {n:?}: not a number")));
                ready_fd = Some(fd);
            }
            _ => die(2, &format!("unknown argument {a:?} (--starter, --once, --dump FILE, --lock FILE, --ready-fd N, --ignore-term)")),
        }
    }
    if let Some(f) = dump_to {
        dump(&f);
    }
    unsafe {
        signal(SIGTERM, on_term);
        signal(SIGHUP, on_hup);
    }
    let passed = if starter { starter_fds() } else { systemd_fds() };
    if passed.is_empty() {
        die(3, "no sockets passed");
    }
    let mut socks = Vec::new();
    for (fd, name) in &passed {
        let inode = socket_inode(*fd).unwrap_or_else(|e| die(3, &format!("fd {fd} ({name}) is not a socket: {e}")));
        let s = match kind_of(inode) {
            Kind::Tcp => {
                // A TCP fd that is a datagram socket cannot be: tcp tables hold only TCP.
                let l = unsafe { TcpListener::from_raw_fd(*fd) };
                l.set_nonblocking(true).unwrap_or_else(|e| die(3, &format!("fd {fd}: nonblocking: {e}")));
                Sock::Tcp(l)
            }
            Kind::Unix => {
                let l = unsafe { UnixListener::from_raw_fd(*fd) };
                l.set_nonblocking(true).unwrap_or_else(|e| die(3, &format!("fd {fd}: nonblocking: {e}")));
                Sock::Unix(l)
            }
            Kind::Udp => {
                let s = unsafe { UdpSocket::from_raw_fd(*fd) };
                s.set_nonblocking(true).unwrap_or_else(|e| die(3, &format!("fd {fd}: nonblocking: {e}")));
                Sock::Udp(s)
            }
            k => die(3, &format!("fd {fd} ({name}): unsupported socket kind {k:?}")),
        };
        socks.push(s);
    }
    if let Some(path) = &lock {
        take_lock(path, ignore_term);
    }
    match ready_fd {
        Some(fd) => say_ready(fd, ignore_term),
        None => event("ready"),
    }
    let names: Vec<&str> = passed.iter().map(|(_, n)| n.as_str()).collect();
    eprintln!("echo_server {}: serving {} sockets ({})", std::process::id(), socks.len(), names.join(" "));

    let mut conns: Vec<thread::JoinHandle<()>> = Vec::new();
    let mut served = 0u64;
    let mut pollfds: Vec<PollFd> = socks.iter().map(|s| PollFd { fd: s.fd(), events: POLLIN, revents: 0 }).collect();
    'serve: while !stop_asked(ignore_term) {
        for p in pollfds.iter_mut() {
            p.revents = 0;
        }
        // A signal interrupts poll (EINTR); the timeout bounds the race
        // between the check of TERM and the call.
        let n = unsafe { poll(pollfds.as_mut_ptr(), pollfds.len() as u64, 200) };
        if n <= 0 {
            conns.retain(|h| !h.is_finished());
            continue;
        }
        for (i, s) in socks.iter().enumerate() {
            if pollfds[i].revents == 0 {
                continue;
            }
            // Non-blocking: another instance sharing the socket may have taken it.
            match s {
                Sock::Tcp(l) => match l.accept() {
                    Ok((c, _)) => {
                        let _ = c.set_nonblocking(false);
                        let _ = c.set_read_timeout(Some(READ_TIMEOUT));
                        conns.push(thread::spawn(move || serve(c)));
                        served += 1;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => eprintln!("echo_server {}: accept: {e}", std::process::id()),
                },
                Sock::Unix(l) => match l.accept() {
                    Ok((c, _)) => {
                        let c: UnixStream = c;
                        let _ = c.set_nonblocking(false);
                        let _ = c.set_read_timeout(Some(READ_TIMEOUT));
                        conns.push(thread::spawn(move || serve(c)));
                        served += 1;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => eprintln!("echo_server {}: accept: {e}", std::process::id()),
                },
                Sock::Udp(u) => {
                    let mut buf = [0u8; 1500];
                    match u.recv_from(&mut buf) {
                        Ok((_, from)) => {
                            slow_wait();
                            let _ = u.send_to(&answer_line(), from);
                            served += 1;
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(e) => eprintln!("echo_server {}: recv: {e}", std::process::id()),
                    }
                }
            }
            if once && served > 0 {
                break 'serve;
            }
        }
    }
    if TERM.load(Ordering::SeqCst) {
        event("term");
    }
    // Graceful: stop accepting (the sockets stay open and shared, never shut
    // down), answer what was accepted; each connection is bounded by its
    // read timeout and SLOW_MAX.
    let open = conns.len();
    for h in conns {
        let _ = h.join();
    }
    eprintln!("echo_server {}: exiting after {served} answers ({open} finished at the end)", std::process::id());
    event("exit");
    exit(0)
}
