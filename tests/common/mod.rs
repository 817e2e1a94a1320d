//! The harness of the integration tests: runs the real svc binary (`$SVC_BIN`,
//! else the one cargo built; prefixed by `$SVC_RUNNER`, such as
//! `qemu-arm-static`, when set) on a config in a fresh temporary directory,
//! and watches it through `svc status` and /proc.
//!
//! Rules every test follows: each loop is bounded in count and in time; a
//! condition is waited for with `wait_until`, never a bare sleep (sleeps only
//! measure idleness or spread events); no wall-clock duration is asserted
//! (orders, ratios and counts are); only processes the test started are
//! ended, by pid.
#![allow(dead_code)]

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long `svc up` may take to answer `svc status`.
pub const UP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one client call may take.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long svc may take to exit after SIGTERM.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// The poll interval of `wait_until`.
const POLL: Duration = Duration::from_millis(25);

/// PATH of a service that sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

// ---- the binary and client calls

/// The svc binary under test.
pub fn bin() -> PathBuf {
    match std::env::var("SVC_BIN") {
        Ok(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_svc")),
    }
}

/// The words of `$SVC_RUNNER` (empty when unset).
pub fn runner() -> Vec<String> {
    std::env::var("SVC_RUNNER").unwrap_or_default().split_whitespace().map(String::from).collect()
}

/// A command running `program` (an svc binary or a link to one) under the runner.
pub fn command_for(program: &Path) -> Command {
    let mut words = runner();
    match words.is_empty() {
        true => Command::new(program),
        false => {
            let mut c = Command::new(words.remove(0));
            c.args(words).arg(program);
            c
        }
    }
}

/// `svc ARGS...`.
pub fn svc(args: &[&str]) -> Command {
    let mut c = command_for(&bin());
    c.args(args);
    c
}

/// Runs `cmd` to completion with stdin from /dev/null, collecting its output;
/// fails the test if it has not exited within `timeout` (after killing it).
pub fn output_within(cmd: &mut Command, timeout: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let status = wait_within(&mut child, timeout);
    let collect = |rx: mpsc::Receiver<Vec<u8>>| rx.recv_timeout(secs(2)).unwrap_or_default();
    match status {
        Some(status) => Output { status, stdout: collect(out), stderr: collect(err) },
        None => {
            let _ = child.kill();
            let _ = child.wait();
            let (o, e) = (collect(out), collect(err));
            panic!(
                "{what} did not finish within {timeout:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&o),
                String::from_utf8_lossy(&e)
            );
        }
    }
}

fn reader<R: Read + Send + 'static>(r: Option<R>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut r) = r {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            let _ = tx.send(buf);
        });
    }
    rx
}

/// Waits up to `timeout` for `child` to exit.
pub fn wait_within(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    let step = ms(10);
    for _ in 0..=(timeout.as_millis() / step.as_millis()) + 1 {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        if start.elapsed() > timeout {
            break;
        }
        thread::sleep(step);
    }
    child.try_wait().ok().flatten()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Stdout and stderr of `out`, for assertion messages.
pub fn show(out: &Output) -> String {
    format!("exit {:?}\nstdout:\n{}stderr:\n{}", out.status.code(), text(&out.stdout), text(&out.stderr))
}

// ---- waiting

/// Polls `cond` every 25 ms until it holds; panics naming `what` after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    wait_for(timeout, what, || cond().then_some(()))
}

/// Polls `f` every 25 ms until it gives a value; panics naming `what` after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, f: impl FnMut() -> Option<T>) -> T {
    poll(timeout, f).unwrap_or_else(|| panic!("timed out after {timeout:?} waiting for {what}"))
}

/// Polls `f` every 25 ms until it gives a value, for `timeout` at most.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    let max_polls = timeout.as_millis() / POLL.as_millis() + 2;
    for _ in 0..max_polls {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > timeout {
            break;
        }
        thread::sleep(POLL);
    }
    None
}

// ---- /proc

/// The fields of /proc/PID/stat that tests look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub state: char,
    pub ppid: u32,
    pub pgrp: u32,
    pub session: u32,
    /// Clock ticks after boot: with the pid, it names one process for good.
    pub starttime: u64,
}

pub fn stat(pid: u32) -> Option<Stat> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold blanks and parentheses: fields follow the last ')'.
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        session: f.get(3)?.parse().ok()?,
        starttime: f.get(19)?.parse().ok()?,
    })
}

/// The value of `Key:` in /proc/PID/status.
pub fn status_field(pid: u32, key: &str) -> Option<String> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':').map(|v| v.trim().to_string()))
}

/// The process that had this pid and start time is gone and reaped (a
/// zombie still has its /proc entry).
pub fn gone(pid: u32, starttime: u64) -> bool {
    stat(pid).is_none_or(|s| s.starttime != starttime)
}

pub fn comm(pid: u32) -> Option<String> {
    Some(fs::read_to_string(format!("/proc/{pid}/comm")).ok()?.trim_end().to_string())
}

pub fn cmdline(pid: u32) -> Vec<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    raw.split(|&b| b == 0).filter(|w| !w.is_empty()).map(text).collect()
}

/// Pids whose parent is `pid` (a scan of /proc: needs no CONFIG_PROC_CHILDREN).
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut v: Vec<u32> = all_pids().into_iter().filter(|&p| stat(p).is_some_and(|s| s.ppid == pid)).collect();
    v.sort_unstable();
    v
}

fn all_pids() -> Vec<u32> {
    let Ok(rd) = fs::read_dir("/proc") else { return Vec::new() };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect()
}

/// Every descendant of `root`, with its start time.
pub fn descendants(root: u32) -> Vec<(u32, u64)> {
    let table: Vec<(u32, Stat)> = all_pids().into_iter().filter_map(|p| Some((p, stat(p)?))).collect();
    let mut out: Vec<(u32, u64)> = Vec::new();
    let mut todo = vec![root];
    // Bounded: each pid enters at most once.
    for _ in 0..table.len() + 1 {
        let Some(parent) = todo.pop() else { break };
        for (p, s) in &table {
            if s.ppid == parent && !out.iter().any(|(q, _)| q == p) {
                out.push((*p, s.starttime));
                todo.push(*p);
            }
        }
    }
    out
}

/// The open fds of `pid`, sorted.
pub fn fds(pid: u32) -> Vec<u32> {
    let mut v: Vec<u32> = fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|rd| rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    v.sort_unstable();
    v
}

/// The environment of `pid`, sorted.
pub fn environ(pid: u32) -> Vec<String> {
    let raw = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let mut v: Vec<String> = raw.split(|&b| b == 0).filter(|w| !w.is_empty()).map(text).collect();
    v.sort();
    v
}

/// Sends `sig` (a name such as TERM) to `pid` with /bin/kill. Only for
/// processes the test started, directly or through svc.
pub fn kill(pid: u32, sig: &str) {
    let out = output_within(Command::new("/bin/kill").arg(format!("-{sig}")).arg(pid.to_string()), CLIENT_TIMEOUT);
    assert!(out.status.success(), "kill -{sig} {pid}: {}", show(&out));
}

/// Real and effective uid are 0.
pub fn is_root() -> bool {
    status_field(std::process::id(), "Uid").is_some_and(|v| v.split_whitespace().take(2).all(|f| f == "0"))
}

/// True when root; otherwise prints a note that `test` is skipped.
pub fn root_or_skip(test: &str) -> bool {
    let root = is_root();
    if !root {
        eprintln!("note: {test} needs root; skipped");
    }
    root
}

/// The gid of group `name` in /etc/group.
pub fn group_gid(name: &str) -> Option<u32> {
    let s = fs::read_to_string("/etc/group").ok()?;
    s.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name)).then(|| f.get(2)?.parse().ok()).flatten()
    })
}

// ---- files the services write

pub fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path).map(|s| s.lines().map(String::from).collect()).unwrap_or_default()
}

/// Numbers, one a line (`date +%s%N` stamps); a partly written last line is left out.
pub fn read_numbers(path: &Path) -> Vec<u128> {
    let s = fs::read_to_string(path).unwrap_or_default();
    let whole = match s.rfind('\n') {
        Some(i) => &s[..=i],
        None => "",
    };
    whole.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// The one number in a file (a stamp or a pid), once it is whole.
pub fn read_number(path: &Path) -> Option<u128> {
    read_numbers(path).first().copied()
}

// ---- log lines

/// The TEXT of a log line `YYYY-MM-DDTHH:MM:SS.mmmZ TEXT`, or None when the
/// line does not have that form.
pub fn log_text(line: &str) -> Option<&str> {
    const FORM: &[u8] = b"dddd-dd-ddTdd:dd:dd.dddZ ";
    let b = line.as_bytes();
    if b.len() < FORM.len() {
        return None;
    }
    for (i, &f) in FORM.iter().enumerate() {
        let c = b[i];
        let ok = if f == b'd' { c.is_ascii_digit() } else { c == f };
        if !ok {
            return None;
        }
    }
    line.get(FORM.len()..)
}

// ---- the fixture

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One svc under test, in its own temporary directory `dir`, with its config
/// `dir/svc.conf` and control socket `dir/svc.sock`. Config and scripts may
/// say `{DIR}` for the directory. Dropping it stops svc (SIGTERM, then
/// SIGKILL after 10 s), ends what svc left behind, and removes the directory.
pub struct Svc {
    pub dir: PathBuf,
    pub conf: PathBuf,
    pub sock: PathBuf,
    child: Option<Child>,
    pid: u32,
    /// Descendants of svc seen before it was stopped: ended (by pid and start
    /// time) if still there after svc is gone.
    seen: Vec<(u32, u64)>,
}

impl Svc {
    /// A fresh directory (0755, so that other users can reach the socket); svc not started.
    pub fn new(test: &str) -> Svc {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let short: String = test.chars().take(40).collect();
        let dir = std::env::temp_dir().join(format!("svc-t{}-{}-{}", std::process::id(), n, short));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod 0755");
        Svc { conf: dir.join("svc.conf"), sock: dir.join("svc.sock"), dir, child: None, pid: 0, seen: Vec::new() }
    }

    /// A fresh directory with a config of `services`, svc started and answering.
    pub fn up(test: &str, services: &str) -> Svc {
        let mut s = Svc::new(test);
        s.write_config(services);
        s.start();
        s
    }

    /// `dir/rel`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// `dir/rel` as text, for configs and scripts.
    pub fn p(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    /// `text` with `{DIR}` replaced by the directory.
    pub fn expand(&self, text: &str) -> String {
        text.replace("{DIR}", &self.dir.display().to_string())
    }

    /// Writes `dir/rel` (with `{DIR}` expanded).
    pub fn write(&self, rel: &str, contents: &str) {
        let p = self.path(rel);
        fs::write(&p, self.expand(contents)).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }

    /// Writes the shell script `dir/NAME.sh` (with `{DIR}` expanded) and
    /// returns the exec line that runs it: `/bin/sh DIR/NAME.sh`.
    pub fn script(&self, name: &str, body: &str) -> String {
        let rel = format!("{name}.sh");
        self.write(&rel, body);
        format!("/bin/sh {}", self.p(&rel))
    }

    /// Writes `dir/svc.conf`: `[svc]` with `control = dir/svc.sock`, then `services`.
    pub fn write_config(&self, services: &str) {
        self.write_config_with("", services);
    }

    /// As `write_config`, with more `[svc]` settings (lines).
    pub fn write_config_with(&self, svc_settings: &str, services: &str) {
        let text = format!("[svc]\ncontrol = {}\n{}{}", self.sock.display(), svc_settings, services);
        self.write("svc.conf", &text);
    }

    /// The config as written.
    pub fn config_text(&self) -> String {
        fs::read_to_string(&self.conf).unwrap_or_default()
    }

    /// The number of the first line of the config that contains `needle`.
    pub fn config_line(&self, needle: &str) -> usize {
        let text = self.config_text();
        text.lines().position(|l| l.contains(needle)).map(|i| i + 1).unwrap_or_else(|| panic!("no {needle:?} in the config"))
    }

    /// `conf` as text.
    pub fn conf_str(&self) -> String {
        self.conf.display().to_string()
    }

    /// Starts `svc up -c dir/svc.conf` and waits until it answers.
    pub fn start(&mut self) {
        self.start_env(&[]);
    }

    /// As `start`, with more variables in svc's environment.
    pub fn start_env(&mut self, env: &[(&str, &str)]) {
        let conf = self.conf_str();
        self.spawn(&bin(), &["up", "-c", &conf], env);
        self.wait_up();
    }

    /// As `start`, with svc run by `wrapper` (words before the runner and the
    /// binary, such as a shell that sets signal dispositions and execs svc, so
    /// that svc keeps the pid we know).
    pub fn start_wrapped(&mut self, wrapper: &[&str], env: &[(&str, &str)]) {
        let conf = self.conf_str();
        let mut words: Vec<String> = wrapper.iter().map(|w| w.to_string()).collect();
        words.extend(runner());
        words.push(bin().display().to_string());
        words.extend(["up".to_string(), "-c".to_string(), conf]);
        let mut c = Command::new(&words[0]);
        c.args(&words[1..]);
        self.spawn_command(c, env);
        self.wait_up();
    }

    /// Starts `program ARGS...` (svc, or a link to it) under the runner, with
    /// stdout and stderr to `dir/svc.out` and `dir/svc.err`; does not wait.
    pub fn spawn(&mut self, program: &Path, args: &[&str], env: &[(&str, &str)]) {
        let mut c = command_for(program);
        c.args(args);
        self.spawn_command(c, env);
    }

    fn spawn_command(&mut self, mut c: Command, env: &[(&str, &str)]) {
        assert!(self.child.is_none(), "svc already started");
        let out = fs::File::create(self.path("svc.out")).expect("svc.out");
        let err = fs::File::create(self.path("svc.err")).expect("svc.err");
        c.stdin(Stdio::null()).stdout(out).stderr(err);
        for (k, v) in env {
            c.env(k, v);
        }
        let child = c.spawn().unwrap_or_else(|e| panic!("cannot start svc: {e}"));
        self.pid = child.id();
        self.child = Some(child);
    }

    /// Waits (10 s at most) until `svc status` exits 0 or 3.
    pub fn wait_up(&mut self) {
        let start = Instant::now();
        let max_polls = UP_TIMEOUT.as_millis() / POLL.as_millis() + 2;
        for _ in 0..max_polls {
            if let Some(st) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("svc up exited ({st}) before answering\nstderr:\n{}", self.stderr_text());
            }
            let out = self.run(&["status"]);
            if matches!(out.status.code(), Some(0 | 3)) {
                return;
            }
            if start.elapsed() > UP_TIMEOUT {
                break;
            }
            thread::sleep(POLL);
        }
        panic!("svc did not answer `svc status` within {UP_TIMEOUT:?}\nstderr:\n{}", self.stderr_text());
    }

    /// The pid of svc (the runner's pid under qemu-user, which is the same process).
    pub fn svc_pid(&self) -> u32 {
        assert!(self.pid != 0, "svc not started");
        self.pid
    }

    /// svc has not exited.
    pub fn svc_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// What svc wrote to its stderr so far.
    pub fn stderr_text(&self) -> String {
        fs::read_to_string(self.path("svc.err")).unwrap_or_default()
    }

    /// Sends `sig` to svc (only the pid we started) and waits for it to exit.
    pub fn stop_svc(&mut self, sig: &str) -> ExitStatus {
        self.remember_descendants();
        kill(self.svc_pid(), sig);
        let child = self.child.as_mut().expect("svc not started");
        let st = wait_within(child, EXIT_TIMEOUT).unwrap_or_else(|| panic!("svc did not exit within {EXIT_TIMEOUT:?} of SIG{sig}"));
        self.child = None;
        st
    }

    /// Waits for svc to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("svc not started");
        let st = wait_within(child, timeout).unwrap_or_else(|| panic!("svc did not exit within {timeout:?}"));
        self.child = None;
        st
    }

    fn remember_descendants(&mut self) {
        if self.pid != 0 {
            for d in descendants(self.pid) {
                if !self.seen.contains(&d) {
                    self.seen.push(d);
                }
            }
        }
    }

    /// Ends `pid` (if still the same process) when the fixture is dropped:
    /// for processes a service left behind that svc may not know of.
    pub fn end_on_drop(&mut self, pid: u32) {
        if let Some(st) = stat(pid) {
            self.seen.push((pid, st.starttime));
        }
    }

    /// `svc ARGS...` with `-c dir/svc.conf` after the verb, within 5 s.
    pub fn run(&self, args: &[&str]) -> Output {
        let conf = self.conf_str();
        let mut words: Vec<&str> = Vec::new();
        words.extend(args.first());
        words.extend(["-c", conf.as_str()]);
        words.extend(args.iter().skip(1));
        output_within(&mut svc(&words), CLIENT_TIMEOUT)
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
}

/// The fields of NAME's line in `svc status` output (the header skipped).
pub fn status_fields(out: &str, name: &str) -> Option<Vec<String>> {
    out.lines()
        .filter(|l| !l.starts_with("NAME"))
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .find(|f| f.first().is_some_and(|n| n == name))
}

/// The NOTE of a status line: every field after LAST.
pub fn note_of(fields: &[String]) -> String {
    fields.get(6..).map(|f| f.join(" ")).unwrap_or_default()
}

impl Drop for Svc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- svc in {}\n---- svc.err:\n{}\n---- svc.out:\n{}",
                self.dir.display(),
                self.stderr_text(),
                fs::read_to_string(self.path("svc.out")).unwrap_or_default()
            );
        }
        self.remember_descendants();
        if let Some(mut child) = self.child.take()
            && matches!(child.try_wait(), Ok(None))
        {
            let _ = Command::new("/bin/kill").arg("-TERM").arg(child.id().to_string()).stdout(Stdio::null()).stderr(Stdio::null()).status();
            if wait_within(&mut child, EXIT_TIMEOUT).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        // What svc failed to stop: only processes it started for this test.
        for &(pid, start) in &self.seen {
            if stat(pid).is_some_and(|s| s.starttime == start && s.state != 'Z') {
                let _ = Command::new("/bin/kill").arg("-KILL").arg(pid.to_string()).stdout(Stdio::null()).stderr(Stdio::null()).status();
            }
        }
        if std::env::var_os("SVC_TEST_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

// ---- reload replies

/// The lines of a `svc reload` reply, each split into words
/// (`ACTION NAME [OUTCOME]`), sorted by NAME.
pub fn reload_lines(out: &Output) -> Vec<Vec<String>> {
    let mut v: Vec<Vec<String>> =
        text(&out.stdout).lines().filter(|l| !l.trim().is_empty()).map(|l| l.split_whitespace().map(String::from).collect()).collect();
    v.sort_by(|a, b| a.get(1).cmp(&b.get(1)));
    v
}

/// The reply line of `name` in `lines` (from `reload_lines`).
pub fn reload_line<'a>(lines: &'a [Vec<String>], name: &str) -> &'a [String] {
    lines.iter().find(|l| l.get(1).is_some_and(|n| n == name)).unwrap_or_else(|| panic!("no reload line for {name}: {lines:?}"))
}

// ---- JSON (a strict reader, enough to check `svc status --json`)

/// A JSON value; numbers keep their text.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// The value of `key` in an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        *self == Json::Null
    }
    /// A non-negative integer (no fraction, no exponent).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Num(t) => t.parse().ok(),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Json::Obj(m) => m.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

/// Parses one JSON value that is the whole of `text` (blanks around it allowed),
/// strictly (RFC 8259; duplicate keys refused).
pub fn parse_json(text: &str) -> Result<Json, String> {
    let b = text.as_bytes();
    let mut i = 0;
    let v = json_value(b, &mut i, 0)?;
    json_blank(b, &mut i);
    if i != b.len() {
        return Err(format!("trailing bytes at {i}"));
    }
    Ok(v)
}

fn json_blank(b: &[u8], i: &mut usize) {
    while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\n' | b'\r') {
        *i += 1;
    }
}

fn json_value(b: &[u8], i: &mut usize, depth: u32) -> Result<Json, String> {
    if depth > 64 {
        return Err("nested too deep".into());
    }
    json_blank(b, i);
    let lit = |i: &mut usize, word: &str, v: Json| -> Result<Json, String> {
        if b[*i..].starts_with(word.as_bytes()) {
            *i += word.len();
            Ok(v)
        } else {
            Err(format!("bad literal at {i}"))
        }
    };
    match b.get(*i) {
        None => Err("unexpected end".into()),
        Some(b'n') => lit(i, "null", Json::Null),
        Some(b't') => lit(i, "true", Json::Bool(true)),
        Some(b'f') => lit(i, "false", Json::Bool(false)),
        Some(b'"') => json_string(b, i).map(Json::Str),
        Some(b'[') => {
            *i += 1;
            let mut v = Vec::new();
            json_blank(b, i);
            if b.get(*i) == Some(&b']') {
                *i += 1;
                return Ok(Json::Arr(v));
            }
            for _ in 0..b.len() {
                v.push(json_value(b, i, depth + 1)?);
                json_blank(b, i);
                match b.get(*i) {
                    Some(b',') => *i += 1,
                    Some(b']') => {
                        *i += 1;
                        return Ok(Json::Arr(v));
                    }
                    _ => return Err(format!("expected , or ] at {i}")),
                }
            }
            Err("unterminated array".into())
        }
        Some(b'{') => {
            *i += 1;
            let mut m: Vec<(String, Json)> = Vec::new();
            json_blank(b, i);
            if b.get(*i) == Some(&b'}') {
                *i += 1;
                return Ok(Json::Obj(m));
            }
            for _ in 0..b.len() {
                json_blank(b, i);
                if b.get(*i) != Some(&b'"') {
                    return Err(format!("expected a key at {i}"));
                }
                let k = json_string(b, i)?;
                json_blank(b, i);
                if b.get(*i) != Some(&b':') {
                    return Err(format!("expected : at {i}"));
                }
                *i += 1;
                let v = json_value(b, i, depth + 1)?;
                if m.iter().any(|(q, _)| *q == k) {
                    return Err(format!("duplicate key {k:?}"));
                }
                m.push((k, v));
                json_blank(b, i);
                match b.get(*i) {
                    Some(b',') => *i += 1,
                    Some(b'}') => {
                        *i += 1;
                        return Ok(Json::Obj(m));
                    }
                    _ => return Err(format!("expected , or }} at {i}")),
                }
            }
            Err("unterminated object".into())
        }
        Some(c) if *c == b'-' || c.is_ascii_digit() => {
            let start = *i;
            let digits = |i: &mut usize| -> usize {
                let s = *i;
                while *i < b.len() && b[*i].is_ascii_digit() {
                    *i += 1;
                }
                *i - s
            };
            if b[*i] == b'-' {
                *i += 1;
            }
            let lead = b.get(*i).copied();
            let n = digits(i);
            if n == 0 || (lead == Some(b'0') && n > 1) {
                return Err(format!("bad number at {start}"));
            }
            if b.get(*i) == Some(&b'.') {
                *i += 1;
                if digits(i) == 0 {
                    return Err(format!("bad fraction at {start}"));
                }
            }
            if matches!(b.get(*i), Some(b'e' | b'E')) {
                *i += 1;
                if matches!(b.get(*i), Some(b'+' | b'-')) {
                    *i += 1;
                }
                if digits(i) == 0 {
                    return Err(format!("bad exponent at {start}"));
                }
            }
            Ok(Json::Num(String::from_utf8_lossy(&b[start..*i]).into_owned()))
        }
        Some(c) => Err(format!("unexpected {:?} at {i}", *c as char)),
    }
}

fn json_string(b: &[u8], i: &mut usize) -> Result<String, String> {
    *i += 1; // the opening quote
    let mut out: Vec<u8> = Vec::new();
    let hex4 = |i: &mut usize| -> Result<u32, String> {
        let h = b.get(*i..*i + 4).ok_or("short \\u escape")?;
        let h = std::str::from_utf8(h).map_err(|_| "bad \\u escape")?;
        let v = u32::from_str_radix(h, 16).map_err(|_| format!("bad \\u escape {h:?}"))?;
        *i += 4;
        Ok(v)
    };
    for _ in 0..b.len() {
        let Some(&c) = b.get(*i) else { break };
        *i += 1;
        match c {
            b'"' => return String::from_utf8(out).map_err(|_| "a string that is not UTF-8".into()),
            b'\\' => {
                let Some(&e) = b.get(*i) else { break };
                *i += 1;
                let ch = match e {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'u' => {
                        let hi = hex4(i)?;
                        let code = if (0xD800..0xDC00).contains(&hi) {
                            if b.get(*i..*i + 2) != Some(b"\\u") {
                                return Err("lone high surrogate".into());
                            }
                            *i += 2;
                            let lo = hex4(i)?;
                            if !(0xDC00..0xE000).contains(&lo) {
                                return Err("bad low surrogate".into());
                            }
                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                        } else {
                            hi
                        };
                        char::from_u32(code).ok_or("bad \\u code point")?
                    }
                    _ => return Err(format!("bad escape \\{}", e as char)),
                };
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            c if c < 0x20 => return Err(format!("raw control byte {c:#x} in a string")),
            c => out.push(c),
        }
    }
    Err("unterminated string".into())
}

/// `python3 -m json.tool --json-lines FILE` on `lines` (written to `path`):
/// Some(output) when python3 runs, None (with a note) when there is none.
pub fn python_json_lines(path: &Path, lines: &str) -> Option<Output> {
    fs::write(path, lines).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    let mut c = Command::new("python3");
    c.args(["-m", "json.tool", "--json-lines"]).arg(path);
    match c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Err(_) => {
            eprintln!("note: no python3; the JSON is checked by the tests' own reader only");
            None
        }
        Ok(_) => Some(output_within(&mut c, CLIENT_TIMEOUT)),
    }
}

impl Svc {
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

/// VmRSS of `pid` in kB.
pub fn vm_rss_kb(pid: u32) -> u64 {
    let v = status_field(pid, "VmRSS").unwrap_or_else(|| panic!("no VmRSS for {pid}"));
    v.trim_end_matches("kB").trim().parse().unwrap_or_else(|e| panic!("VmRSS {v:?}: {e}"))
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

/// Paths outside a fixture's directory that a test made: removed when dropped.
pub struct Cleanup(pub Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = fs::remove_file(p);
        }
    }
}
