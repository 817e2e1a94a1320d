//! Running things: the svc binary under test (`$SVC_BIN`, prefixed by
//! `$SVC_RUNNER`), client commands with a deadline, the timeouts the tests
//! share, and `wait_until` / `wait_for` / `poll`, the bounded waits every
//! test uses instead of sleeps.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
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
pub(super) const POLL: Duration = Duration::from_millis(25);

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
