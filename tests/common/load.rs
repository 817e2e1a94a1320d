//! A bounded load client for the held-socket and upgrade tests: loopback TCP
//! or a unix path, one request per connection, each attempt classified as
//! answered (with the pid in the answer), refused, reset, timed out, empty or
//! bad. `Load` runs a few threads of attempts until a count, a time limit or
//! `finish`, whichever comes first; `Tally` is what they saw.
//!
//! The servers answer `pid N` (tests/bin/echo_server.rs, or a WSGI app over
//! HTTP/1.0): the pid says which instance served the connection.

use std::collections::BTreeSet;
use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use super::run::secs;

/// Connect and answer timeout of one attempt.
pub const LOAD_TIMEOUT: Duration = secs(5);
/// The most an answer may hold.
const MAX_ANSWER: usize = 64 * 1024;

/// Where the load goes: loopback only.
#[derive(Clone, Debug)]
pub enum Target {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Target {
    /// `127.0.0.1:PORT`.
    pub fn tcp(port: u16) -> Target {
        Target::Tcp(loopback(port))
    }
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// A TCP port free on 127.0.0.1 a moment ago (bound to port 0, then released).
pub fn free_tcp_port() -> u16 {
    let l = TcpListener::bind(loopback(0)).expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// `n` different TCP ports free on 127.0.0.1 a moment ago.
pub fn free_tcp_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n).map(|_| TcpListener::bind(loopback(0)).expect("bind 127.0.0.1:0")).collect();
    held.iter().map(|l| l.local_addr().expect("local_addr").port()).collect()
}

/// A UDP port free on 127.0.0.1 a moment ago.
pub fn free_udp_port() -> u16 {
    let s = UdpSocket::bind(loopback(0)).expect("bind udp 127.0.0.1:0");
    s.local_addr().expect("local_addr").port()
}

/// What a request looks like and how the answer ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// One line out; `pid N\n` back, then EOF (echo_server).
    Line,
    /// `GET / HTTP/1.0`; a response whose body holds `pid N`, then EOF.
    Http,
}

impl Proto {
    fn request(self) -> &'static [u8] {
        match self {
            Proto::Line => b"hello\n",
            Proto::Http => b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
        }
    }
}

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered by the process with this pid.
    Ok(u32),
    /// ECONNREFUSED: nothing listened.
    Refused,
    /// ECONNRESET or EPIPE: the connection was dropped.
    Reset,
    /// No connection or no whole answer within `LOAD_TIMEOUT`.
    TimedOut,
    /// Closed without a byte of answer.
    Empty,
    /// Anything else (an answer without a pid, another error), with what it was.
    Bad(String),
}

/// The pid in `pid N` anywhere in `answer`.
pub fn pid_in(answer: &str) -> Option<u32> {
    let at = answer.find("pid ")? + 4;
    let digits: String = answer[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn classify(e: &std::io::Error) -> Outcome {
    match e.kind() {
        ErrorKind::ConnectionRefused => Outcome::Refused,
        ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted => Outcome::Reset,
        ErrorKind::TimedOut | ErrorKind::WouldBlock => Outcome::TimedOut,
        _ => Outcome::Bad(e.to_string()),
    }
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn set_timeouts(&self, d: Duration) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(Some(d)).and(s.set_write_timeout(Some(d))),
            Stream::Unix(s) => s.set_read_timeout(Some(d)).and(s.set_write_timeout(Some(d))),
        }
    }
    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Stream::Tcp(s) => s,
            Stream::Unix(s) => s,
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A connection whose request is sent and whose answer is still to come.
pub struct Pending {
    stream: Stream,
}

/// Connects to `target` and sends one request (within `LOAD_TIMEOUT`).
pub fn open(target: &Target, proto: Proto) -> Result<Pending, Outcome> {
    let stream = match target {
        Target::Tcp(a) => {
            assert!(a.ip().is_loopback(), "load goes to loopback only: {a}");
            Stream::Tcp(TcpStream::connect_timeout(a, LOAD_TIMEOUT).map_err(|e| classify(&e))?)
        }
        Target::Unix(p) => Stream::Unix(unix_connect(p)?),
    };
    let mut pending = Pending { stream };
    pending.stream.set_timeouts(LOAD_TIMEOUT).map_err(|e| Outcome::Bad(format!("timeouts: {e}")))?;
    pending.stream.io().write_all(proto.request()).map_err(|e| classify(&e))?;
    Ok(pending)
}

/// A unix connect, bounded: it blocks while the listener's backlog is full.
fn unix_connect(path: &Path) -> Result<UnixStream, Outcome> {
    let (tx, rx) = mpsc::channel();
    let p = path.to_path_buf();
    // A connect still blocked at the timeout ends when the socket is closed
    // or accepts; its thread is left to that.
    thread::spawn(move || {
        let _ = tx.send(UnixStream::connect(&p));
    });
    match rx.recv_timeout(LOAD_TIMEOUT) {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(classify(&e)),
        Err(_) => Err(Outcome::TimedOut),
    }
}

impl Pending {
    /// Reads the answer until EOF, for `timeout` at most in all.
    pub fn answer(mut self, timeout: Duration) -> Outcome {
        let start = Instant::now();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // Bounded: each round reads a byte at least, or ends.
        for _ in 0..=MAX_ANSWER {
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Outcome::TimedOut;
            }
            if let Err(e) = self.stream.set_timeouts(left) {
                return Outcome::Bad(format!("timeouts: {e}"));
            }
            match self.stream.io().read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.len() > MAX_ANSWER {
                        return Outcome::Bad(format!("an answer over {MAX_ANSWER} bytes"));
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return classify(&e),
            }
        }
        if buf.is_empty() {
            return Outcome::Empty;
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        match pid_in(&text) {
            Some(pid) => Outcome::Ok(pid),
            None => Outcome::Bad(format!("no pid in the answer {text:?}")),
        }
    }
}

/// One whole attempt: connect, send, read the answer.
pub fn attempt(target: &Target, proto: Proto) -> Outcome {
    match open(target, proto) {
        Ok(p) => p.answer(LOAD_TIMEOUT),
        Err(o) => o,
    }
}

/// One datagram to a loopback UDP socket, and its answer.
pub fn udp_attempt(to: SocketAddr) -> Outcome {
    assert!(to.ip().is_loopback(), "load goes to loopback only: {to}");
    let s = UdpSocket::bind(loopback(0)).expect("bind udp 127.0.0.1:0");
    s.set_read_timeout(Some(LOAD_TIMEOUT)).expect("read timeout");
    if let Err(e) = s.send_to(b"hello\n", to) {
        return classify(&e);
    }
    let mut buf = [0u8; 1500];
    match s.recv_from(&mut buf) {
        Ok((n, _)) => match pid_in(&String::from_utf8_lossy(&buf[..n])) {
            Some(pid) => Outcome::Ok(pid),
            None => Outcome::Bad(format!("no pid in the datagram {:?}", String::from_utf8_lossy(&buf[..n]))),
        },
        Err(e) => classify(&e),
    }
}

/// Counts of outcomes and the pids that answered.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub ok: u64,
    pub refused: u64,
    pub reset: u64,
    pub timed_out: u64,
    pub empty: u64,
    pub bad: u64,
    /// Every pid that answered.
    pub pids: BTreeSet<u32>,
    /// The first few failures, in order: (attempt number, outcome).
    pub failures: Vec<(u64, Outcome)>,
}

impl Tally {
    pub fn add(&mut self, o: &Outcome) {
        let n = self.attempts();
        match o {
            Outcome::Ok(pid) => {
                self.ok += 1;
                self.pids.insert(*pid);
            }
            Outcome::Refused => self.refused += 1,
            Outcome::Reset => self.reset += 1,
            Outcome::TimedOut => self.timed_out += 1,
            Outcome::Empty => self.empty += 1,
            Outcome::Bad(_) => self.bad += 1,
        }
        if !matches!(o, Outcome::Ok(_)) && self.failures.len() < 20 {
            self.failures.push((n, o.clone()));
        }
    }

    pub fn attempts(&self) -> u64 {
        self.ok + self.refused + self.reset + self.timed_out + self.empty + self.bad
    }

    /// Connections accepted and then dropped: reset or empty.
    pub fn lost(&self) -> u64 {
        self.reset + self.empty
    }

    /// Every attempt that was not answered.
    pub fn failed(&self) -> u64 {
        self.attempts() - self.ok
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} attempts: ok {}, refused {}, reset {}, timed out {}, empty {}, bad {}; {} pids; first failures {:?}",
            self.attempts(),
            self.ok,
            self.refused,
            self.reset,
            self.timed_out,
            self.empty,
            self.bad,
            self.pids.len(),
            self.failures
        )
    }
}

/// What a `Load` does.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    pub target: Target,
    pub proto: Proto,
    /// Client threads, each with one connection at a time.
    pub threads: usize,
    /// Attempts in all, over every thread.
    pub max_attempts: u64,
    /// Each thread stops starting attempts after this long.
    pub max_time: Duration,
    /// Each thread's idle time between attempts (spreads the load; not a wait for a condition).
    pub pause: Duration,
}

impl LoadSpec {
    /// `threads` threads of line requests to `target`, 4000 attempts and 2 minutes at most, 10 ms apart.
    pub fn new(target: Target, threads: usize) -> LoadSpec {
        LoadSpec { target, proto: Proto::Line, threads, max_attempts: 4000, max_time: secs(120), pause: Duration::from_millis(10) }
    }
}

/// Load under way; stops by itself at its limits, or at `finish` (or drop).
pub struct Load {
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Load {
    pub fn start(spec: LoadSpec) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let started = Arc::new(AtomicU64::new(0));
        let threads = (0..spec.threads)
            .map(|_| {
                let (spec, stop, tally, started) = (spec.clone(), stop.clone(), tally.clone(), started.clone());
                thread::spawn(move || {
                    let begin = Instant::now();
                    while !stop.load(Ordering::SeqCst)
                        && begin.elapsed() < spec.max_time
                        && started.fetch_add(1, Ordering::SeqCst) < spec.max_attempts
                    {
                        let o = attempt(&spec.target, spec.proto);
                        tally.lock().unwrap_or_else(|e| e.into_inner()).add(&o);
                        thread::sleep(spec.pause);
                    }
                })
            })
            .collect();
        Load { stop, tally, threads }
    }

    /// What the load saw so far.
    pub fn tally(&self) -> Tally {
        self.tally.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Every thread has stopped (at its limits).
    pub fn ended(&self) -> bool {
        self.threads.iter().all(|t| t.is_finished())
    }

    /// Stops the load, waits for the attempts under way (each bounded by its
    /// timeouts), and returns what it saw.
    pub fn finish(mut self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.tally()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        // Threads not joined end after their attempt under way.
        self.stop.store(true, Ordering::SeqCst);
    }
}
