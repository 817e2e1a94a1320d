//! The `Svc` fixture: one svc under test in a fresh temporary directory,
//! its config, starting it (plain, with more environment, or wrapped), its
//! pid and stderr, stopping it, and what dropping it cleans up.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::procfs::{descendants, kill, stat};
use super::run::{EXIT_TIMEOUT, POLL, UP_TIMEOUT, bin, command_for, runner, wait_within};

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
        self.spawn_wrapped(wrapper, env);
        self.wait_up();
    }

    /// As `start_wrapped`, without waiting for svc to answer.
    pub fn spawn_wrapped(&mut self, wrapper: &[&str], env: &[(&str, &str)]) {
        let conf = self.conf_str();
        let mut words: Vec<String> = wrapper.iter().map(|w| w.to_string()).collect();
        words.extend(runner());
        words.push(bin().display().to_string());
        words.extend(["up".to_string(), "-c".to_string(), conf]);
        let mut c = Command::new(&words[0]);
        c.args(&words[1..]);
        self.spawn_command(c, env);
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
}

impl Drop for Svc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The ends only: CI shows the end of a failed run's output, and
            // the panic message above must stay in it.
            eprintln!(
                "---- svc in {}\n---- svc.err:\n{}\n---- svc.out:\n{}",
                self.dir.display(),
                tail(&self.stderr_text(), 40),
                tail(&fs::read_to_string(self.path("svc.out")).unwrap_or_default(), 20)
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

/// The last `n` lines of `text`, after a line that counts the others.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(n);
    let head = if skip > 0 { format!("({skip} earlier lines left out)\n") } else { String::new() };
    head + &lines[skip..].join("\n")
}
