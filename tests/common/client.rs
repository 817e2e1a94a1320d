//! Talking to the svc under test: `Svc::run` and the status, log and
//! `status --json` queries built on it, raw connections to the control
//! socket, and `Follower`, a client that keeps running (`svc log -f`).

use std::io::Read;
use std::process::{Child, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::json::{Json, parse_json};
use super::replies::{log_text, note_of, status_fields};
use super::run::{CLIENT_TIMEOUT, output_within, poll, secs, show, svc, text};
use super::svc::Svc;

impl Svc {
    /// `svc ARGS...` with `-c dir/svc.conf` after the verb, within 5 s.
    pub fn run(&self, args: &[&str]) -> Output {
        let conf = self.conf_str();
        let mut words: Vec<&str> = Vec::new();
        words.extend(args.first());
        words.extend(["-c", conf.as_str()]);
        words.extend(args.iter().skip(1));
        output_within(&mut svc(&words), CLIENT_TIMEOUT)
    }

    /// `svc ARGS...` with `-c dir/svc.conf -s dir/svc.sock` after the verb,
    /// within `timeout`: reaches this svc even when the config is missing,
    /// empty or names no socket (the client would fall back to a default
    /// socket, which may be another svc's).
    pub fn run_sock_within(&self, args: &[&str], timeout: Duration) -> Output {
        let (conf, sock) = (self.conf_str(), self.sock.display().to_string());
        let mut words: Vec<&str> = Vec::new();
        words.extend(args.first());
        words.extend(["-c", conf.as_str(), "-s", sock.as_str()]);
        words.extend(args.iter().skip(1));
        output_within(&mut svc(&words), timeout)
    }

    /// `run_sock_within` the client timeout (5 s).
    pub fn run_sock(&self, args: &[&str]) -> Output {
        self.run_sock_within(args, CLIENT_TIMEOUT)
    }

    /// `run`, asserting exit 0; returns stdout.
    pub fn run_ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "svc {args:?}: {}", show(&out));
        text(&out.stdout)
    }

    /// The fields of NAME's line of `svc status`.
    pub fn status_line(&self, name: &str) -> Option<Vec<String>> {
        let out = self.run(&["status"]);
        status_fields(&text(&out.stdout), name)
    }

    pub fn state(&self, name: &str) -> Option<String> {
        self.status_line(name)?.get(1).cloned()
    }

    pub fn pid(&self, name: &str) -> Option<u32> {
        self.status_line(name)?.get(2)?.parse().ok()
    }

    pub fn restarts(&self, name: &str) -> Option<u32> {
        self.status_line(name)?.get(4)?.parse().ok()
    }

    pub fn last(&self, name: &str) -> Option<String> {
        self.status_line(name)?.get(5).cloned()
    }

    /// The NOTE (the rest of the line; may be empty).
    pub fn note(&self, name: &str) -> Option<String> {
        Some(note_of(&self.status_line(name)?))
    }

    /// Waits until NAME is in `state`; returns its status line.
    pub fn wait_state(&self, name: &str, state: &str, timeout: Duration) -> Vec<String> {
        let mut last = None;
        let found = poll(timeout, || {
            let line = self.status_line(name);
            last = line.clone();
            line.filter(|f| f.get(1).is_some_and(|s| s == state))
        });
        found.unwrap_or_else(|| {
            panic!("{name} not {state} within {timeout:?}; last status line: {last:?}\nsvc stderr:\n{}", self.stderr_text())
        })
    }

    /// Waits until NAME runs with a pid; returns the pid.
    pub fn wait_running(&self, name: &str) -> u32 {
        let line = self.wait_state(name, "running", secs(10));
        line.get(2).and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{name} running without a pid: {line:?}"))
    }

    /// `svc log NAME [ARGS]`: the lines, each checked to have the form
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ TEXT`.
    pub fn log_lines(&self, name: &str, args: &[&str]) -> Vec<String> {
        let mut words = vec!["log", name];
        words.extend(args);
        let out = self.run_ok(&words);
        out.lines().map(String::from).collect()
    }

    /// The TEXT of each line of `svc log NAME [ARGS]`; panics on a line without a timestamp.
    pub fn log_texts(&self, name: &str, args: &[&str]) -> Vec<String> {
        self.log_lines(name, args)
            .iter()
            .map(|l| log_text(l).unwrap_or_else(|| panic!("log line without the timestamp form: {l:?}")).to_string())
            .collect()
    }

    /// `svc status --json [NAMES]`: each line parsed (strictly) as one JSON object.
    pub fn status_json(&self, names: &[&str]) -> Vec<Json> {
        let mut args = vec!["status", "--json"];
        args.extend(names);
        let out = self.run(&args);
        assert!(matches!(out.status.code(), Some(0 | 3)), "svc {args:?}: {}", show(&out));
        let body = text(&out.stdout);
        body.lines()
            .map(|l| {
                let v = parse_json(l).unwrap_or_else(|e| panic!("not a JSON value ({e}): {l:?}\nall:\n{body}"));
                assert!(matches!(v, Json::Obj(_)), "not an object: {l:?}");
                v
            })
            .collect()
    }

    /// NAME's object of `svc status --json NAME`.
    pub fn json(&self, name: &str) -> Json {
        let all = self.status_json(&[name]);
        let found: Vec<&Json> = all.iter().filter(|o| o.get("name").and_then(Json::as_str) == Some(name)).collect();
        assert_eq!(found.len(), 1, "status --json {name}: {all:?}");
        found[0].clone()
    }

    /// NAME's `generation`.
    pub fn generation(&self, name: &str) -> u64 {
        let o = self.json(name);
        o.get("generation").and_then(Json::as_u64).unwrap_or_else(|| panic!("no integer generation for {name}: {o:?}"))
    }

    /// A raw connection to the control socket (read and write time out after 5 s).
    pub fn connect(&self) -> std::os::unix::net::UnixStream {
        let c = std::os::unix::net::UnixStream::connect(&self.sock).unwrap_or_else(|e| panic!("connect {}: {e}", self.sock.display()));
        c.set_read_timeout(Some(CLIENT_TIMEOUT)).expect("read timeout");
        c.set_write_timeout(Some(CLIENT_TIMEOUT)).expect("write timeout");
        c
    }

    /// Sends `line` (a newline added) on a raw connection; returns the
    /// reply's head line and its body.
    pub fn request(&self, line: &str) -> (String, String) {
        use std::io::Write;
        let mut c = self.connect();
        c.write_all(format!("{line}\n").as_bytes()).expect("send the request");
        let mut all = Vec::new();
        c.read_to_end(&mut all).unwrap_or_else(|e| panic!("reply to {line:?}: {e}"));
        let all = text(&all);
        match all.split_once('\n') {
            Some((h, b)) => (h.to_string(), b.to_string()),
            None => (all, String::new()),
        }
    }

    /// `svc status` answers (exit 0 or 3) within the client timeout, with a line for each of `names`.
    pub fn assert_answers(&self, what: &str, names: &[&str]) {
        let out = self.run(&["status"]);
        assert!(matches!(out.status.code(), Some(0 | 3)), "{what}: {}", show(&out));
        let all = text(&out.stdout);
        for n in names {
            assert!(status_fields(&all, n).is_some(), "{what}: no line for {n}:\n{all}");
        }
    }
}

// ---- a client that keeps running (`svc log -f`)

/// A client process started by the test, its stdout read line by line on a
/// thread; killed (by its pid) when dropped.
pub struct Follower {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
}

impl Follower {
    /// Starts `svc ARGS...` with `-c CONF` after the verb.
    pub fn start(s: &Svc, args: &[&str]) -> Follower {
        use std::io::BufRead;
        let conf = s.conf_str();
        let mut words: Vec<&str> = Vec::new();
        words.extend(args.first());
        words.extend(["-c", conf.as_str()]);
        words.extend(args.iter().skip(1));
        let mut child = svc(&words)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run svc {words:?}: {e}"));
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let r = std::io::BufReader::new(out);
            // Ends when the client is killed (EOF).
            for line in r.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Follower { child, lines: rx }
    }

    /// The next line, within `timeout`.
    pub fn next(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// The next line; panics naming `what` after `timeout`.
    pub fn expect(&self, timeout: Duration, what: &str) -> String {
        self.next(timeout).unwrap_or_else(|| panic!("no line from the follower within {timeout:?}: waiting for {what}"))
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What svc does with a connection, waiting up to `timeout`: the bytes it
/// sent before closing, or None if it kept it open and silent.
pub fn outcome(c: &mut std::os::unix::net::UnixStream, timeout: Duration) -> Option<Vec<u8>> {
    c.set_read_timeout(Some(timeout)).expect("read timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..1024 {
        match c.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => return None,
            Err(_) => return Some(got),
        }
    }
    Some(got)
}
