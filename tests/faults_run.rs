//! Faults while svc runs (issue 24): exec failures of every kind, svc out
//! of fds, forks that fail, children that leave their service's process
//! group, leftovers of a main process that exits, a fork bomb in a pids
//! cgroup, the clocks svc reads, and svc under
//! a small `ulimit -v`. Each test ends with svc alive, a bystander service untouched
//! (same pid, same process) and a clear line in `svc status` or svc's log.
//!
//! (The flood of `yes` is tests/log.rs `chatty_service_does_not_starve_others`,
//! the full disk tests/logs.rs `full_disk_drops_and_counts_lines`, a
//! TERM-ignoring service tests/supervise.rs `stop_timeout_kills_the_whole_group`.)

mod common;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The bystander every test runs beside its faults.
const BYSTANDER: &str = "[bystander]\nexec = /bin/sleep 100000\n\n";

/// The bystander's pid and start time, once running.
fn bystander(s: &Svc) -> (u32, u64) {
    let pid = s.wait_running("bystander");
    (pid, stat(pid).expect("bystander's stat").starttime)
}

/// svc is alive and the bystander is the same process, running, never restarted.
fn assert_untouched(s: &mut Svc, by: (u32, u64), what: &str) {
    assert!(s.svc_running(), "{what}: svc exited\n{}", s.stderr_text());
    assert!(!gone(by.0, by.1), "{what}: the bystander's process (pid {}) is gone", by.0);
    let line = s.status_line("bystander").unwrap_or_else(|| panic!("{what}: no status line for the bystander"));
    assert_eq!((line[1].as_str(), line[2].as_str(), line[4].as_str()), ("running", by.0.to_string().as_str(), "0"), "{what}: {line:?}");
}

// ---- exec failures

#[test]
fn exec_failures_of_every_kind_show_the_step_and_errno_and_back_off() {
    let mut s = Svc::new("exec_failures");
    // Not executable; executable but no ELF nor #!; a #! naming a missing
    // interpreter; a directory; a missing cwd.
    s.write("noexec.sh", "echo hi\n");
    s.write("garbage.bin", "this is no program\n");
    s.write("interp.sh", "#!/nonexistent/interpreter\necho hi\n");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(s.path("noexec.sh"), fs::Permissions::from_mode(0o644)).unwrap();
    for f in ["garbage.bin", "interp.sh"] {
        fs::set_permissions(s.path(f), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let cases = [
        ("missing", "/nonexistent/program".to_string(), "", "exec: ENOENT (errno 2)"),
        ("eacces", s.p("noexec.sh"), "", "exec: EACCES (errno 13)"),
        ("enoexec", s.p("garbage.bin"), "", "exec: ENOEXEC (errno 8)"),
        ("interp", s.p("interp.sh"), "", "exec: ENOENT (errno 2)"),
        ("dir", s.p(""), "", "exec: EACCES (errno 13)"),
        ("nocwd", "/bin/sleep 100000".to_string(), "cwd = /nonexistent/dir\n", "chdir: ENOENT (errno 2)"),
    ];
    let mut config = BYSTANDER.to_string();
    for (name, exec, extra, _) in &cases {
        config.push_str(&format!("[{name}]\nexec = {}\n{extra}backoff = 200ms 1s\n\n", exec.trim_end_matches('/')));
    }
    s.write_config(&config);
    s.start();
    let by = bystander(&s);
    for (name, _, _, want) in &cases {
        // The step and errno stay in the note while the service backs off.
        let line = s.wait_state(name, "backoff", secs(10));
        let note = note_of(&line);
        assert!(note.contains(want), "{name}: note {note:?}, want {want:?}");
        assert!(note.starts_with("start in "), "{name}: the note does not say when it retries: {note:?}");
        let o = s.json(name);
        assert!(o.get("next_start_ms").and_then(Json::as_u64).is_some(), "{name}: no next_start_ms in backoff: {o:?}");
    }
    // It backs off: retried, with the delay growing to its 1 s cap, not spinning.
    for (name, _, _, _) in &cases {
        wait_until(secs(10), &format!("{name} to be retried"), || s.restarts(name).is_some_and(|n| n >= 3));
    }
    std::thread::sleep(secs(2));
    let before: Vec<u32> = cases.iter().map(|(n, ..)| s.restarts(n).unwrap_or(0)).collect();
    std::thread::sleep(secs(2));
    for ((name, ..), b) in cases.iter().zip(before) {
        let now = s.restarts(name).unwrap_or(0);
        // At the 1 s cap: about 2 tries in 2 s; a spinning service makes hundreds.
        assert!(now > b && now <= b + 6, "{name}: {b} restarts, then {now} 2 s later (want 1 to 6 at a 1 s backoff)");
    }
    assert_untouched(&mut s, by, "after the exec failures");

    // An unknown user is a config error (names are looked up at load): a
    // reload is refused at its line and nothing running is touched.
    s.write_config(&format!("{config}[ghost]\nuser = no-such-user-here\nexec = /bin/sleep 100000\n"));
    let line_no = s.config_line("no-such-user-here");
    let out = s.run(&["reload"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let want = format!("svc: {}:{}: [ghost] unknown user 'no-such-user-here'", s.conf_str(), line_no);
    assert!(text(&out.stderr).contains(&want), "want {want:?}: {}", show(&out));
    assert!(s.status_line("ghost").is_none(), "ghost exists after a refused reload");
    assert_untouched(&mut s, by, "after the refused reload");
}

// ---- svc out of fds

/// The lowest fd number `pid` has free.
fn lowest_free_fd(pid: u32) -> u32 {
    let used = fds(pid);
    (0..).find(|n| !used.contains(n)).unwrap_or(0)
}

/// The soft limit of `pid` on the line of /proc/PID/limits that starts
/// with `what` ("Max open files", "Max processes"); u32::MAX for unlimited.
fn soft_limit(pid: u32, what: &str) -> u32 {
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
    let line = limits.lines().find(|l| l.starts_with(what)).unwrap_or("");
    let word = line[what.len().min(line.len())..].split_whitespace().next().unwrap_or("");
    match word {
        "unlimited" => u32::MAX,
        w => w.parse().unwrap_or_else(|_| panic!("no soft {what:?} for {pid}: {line:?}")),
    }
}

/// Sets the soft rlimit `what` (a prlimit option: nofile, nproc) of `pid`
/// (the hard one stays).
fn set_soft_limit(pid: u32, what: &str, soft: u32) {
    set_soft_limit_as(&[], pid, what, soft);
}

/// As `set_soft_limit`, with prlimit run by the words `as_` (such as
/// setpriv to the uid of `pid`: root without CAP_SYS_RESOURCE, as in these
/// containers, may not change another user's limits, the user itself may).
fn set_soft_limit_as(as_: &[&str], pid: u32, what: &str, soft: u32) {
    let soft = if soft == u32::MAX { "unlimited".to_string() } else { soft.to_string() };
    let mut c = Command::new(as_.first().copied().unwrap_or("prlimit"));
    c.args(as_.iter().skip(1)).args(if as_.is_empty() { &[][..] } else { &["prlimit"][..] });
    let out = output_within(c.arg("--pid").arg(pid.to_string()).arg(format!("--{what}={soft}:")), CLIENT_TIMEOUT);
    assert!(out.status.success(), "prlimit --{what}={soft}: {}", show(&out));
}

#[test]
fn out_of_fds_svc_answers_busy_and_recovers() {
    if !runner().is_empty() {
        eprintln!("note: out_of_fds_svc_answers_busy_and_recovers sets svc's own rlimit, not a runner's; skipped");
        return;
    }
    if program_or_skip("out_of_fds", "prlimit", "util-linux").is_none() {
        return;
    }
    let mut s = Svc::new("out_of_fds");
    // `later` needs a notify socket and a log pipe to start.
    s.write_config(&format!(
        "{BYSTANDER}[later]\nexec = /bin/sleep 100000\nready = notify\nready_timeout = 5m\nstart = no\nbackoff = 100ms 500ms\n"
    ));
    s.start();
    let by = bystander(&s);
    let pid = s.svc_pid();
    let baseline = fds(pid);
    let (free, soft) = (lowest_free_fd(pid), soft_limit(pid, "Max open files"));

    // One fd left: a request is served, but a start cannot make its socket and pipe.
    set_soft_limit(pid, "nofile", free + 1);
    let out = s.run(&["start", "later"]);
    assert_eq!(out.status.code(), Some(0), "svc start with one fd left: {}", show(&out));
    wait_until(secs(10), "later's spawn to fail with EMFILE", || s.note("later").is_some_and(|n| n.contains("EMFILE (errno 24)")));
    assert_eq!(s.state("later").as_deref(), Some("backoff"));
    assert_untouched(&mut s, by, "with one fd left");

    // None left: svc cannot even accept, yet every client hears why at once
    // (an unanswered accept would leave the client waiting and svc spinning).
    set_soft_limit(pid, "nofile", free);
    for i in 0..5 {
        let out = s.run(&["status"]);
        assert_eq!(out.status.code(), Some(1), "status {i} with no fd left: {}", show(&out));
        assert_eq!(text(&out.stderr), "svc: busy: out of file descriptors\n", "status {i}");
    }
    // svc sleeps meanwhile: its state is S whenever looked at, but for a moment.
    let sleeping = (0..20)
        .filter(|_| {
            std::thread::sleep(ms(20));
            stat(pid).is_some_and(|st| st.state == 'S')
        })
        .count();
    assert!(sleeping >= 10, "svc was asleep at only {sleeping} of 20 looks while out of fds (spinning?)");
    assert!(!gone(by.0, by.1), "the bystander died while svc was out of fds");

    // The fds come back: everything works again and nothing leaked.
    set_soft_limit(pid, "nofile", soft);
    let line = s.wait_state("later", "starting", secs(10));
    assert!(line[2].parse::<u32>().is_ok(), "later has no pid: {line:?}");
    assert_untouched(&mut s, by, "after the fds came back");
    s.run_ok(&["stop", "later"]);
    wait_until(secs(5), "svc's fds to be as before", || fds(pid) == baseline);
}

// ---- a pids cgroup made by the test

/// A pids cgroup of the test's own (v1 `/sys/fs/cgroup/pids`, else v2 with
/// the pids controller): removed when dropped, after SIGKILL to whatever is
/// still in it (only processes the test put there).
struct PidsCgroup {
    dir: PathBuf,
}

impl PidsCgroup {
    /// None, with a note, when not root or no pids controller can be used.
    fn new(test: &str) -> Option<PidsCgroup> {
        if !root_or_skip(test) {
            return None;
        }
        let v1 = Path::new("/sys/fs/cgroup/pids");
        let v2 = Path::new("/sys/fs/cgroup");
        let base = if v1.join("cgroup.procs").exists() {
            v1
        } else if fs::read_to_string(v2.join("cgroup.controllers")).is_ok_and(|c| c.split_whitespace().any(|w| w == "pids")) {
            let _ = fs::write(v2.join("cgroup.subtree_control"), "+pids");
            v2
        } else {
            eprintln!("note: {test}: no pids cgroup controller; skipped");
            return None;
        };
        let dir = base.join(format!("svc-test-{}-{}", std::process::id(), test));
        if let Err(e) = fs::create_dir(&dir) {
            eprintln!("note: {test}: cannot make a cgroup in {} ({e}); skipped", base.display());
            return None;
        }
        let cg = PidsCgroup { dir };
        if let Err(e) = fs::write(cg.dir.join("pids.max"), "max") {
            eprintln!("note: {test}: cannot set {}/pids.max ({e}); skipped", cg.dir.display());
            return None;
        }
        // A container may let a cgroup be made but no process be moved
        // into it: try with a child of the test's own.
        let mut probe = Command::new("/bin/sleep").arg("30").stdin(Stdio::null()).spawn().expect("/bin/sleep");
        let moved = fs::write(cg.dir.join("cgroup.procs"), probe.id().to_string());
        let _ = probe.kill();
        let _ = probe.wait();
        if let Err(e) = moved {
            eprintln!("note: {test}: cannot move a process into {} ({e}); skipped", cg.dir.display());
            return None;
        }
        Some(cg)
    }

    fn set_max(&self, max: &str) {
        fs::write(self.dir.join("pids.max"), max).unwrap_or_else(|e| panic!("pids.max = {max}: {e}"));
    }

    fn procs_file(&self) -> String {
        self.dir.join("cgroup.procs").display().to_string()
    }

    /// Forks refused by pids.max so far (the "max" line of pids.events).
    fn refused_forks(&self) -> u64 {
        let events = fs::read_to_string(self.dir.join("pids.events")).unwrap_or_default();
        events.lines().find_map(|l| l.strip_prefix("max ")).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
    }

    fn pids(&self) -> Vec<u32> {
        fs::read_to_string(self.dir.join("cgroup.procs")).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect()
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        let _ = fs::write(self.dir.join("cgroup.kill"), "1");
        for _ in 0..200 {
            let pids = self.pids();
            if pids.is_empty() && fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            for p in pids {
                let _ = Command::new("/bin/kill").arg("-KILL").arg(p.to_string()).stderr(Stdio::null()).status();
            }
            std::thread::sleep(ms(50));
        }
        eprintln!("warning: cgroup {} not removed", self.dir.display());
    }
}

// ---- fork failure

/// The crash service of the fork tests: each run leaves a line in DIR/runs.
const CRASH: &str = "[crash]\nexec = /bin/sh -c \"echo run >> {DIR}/runs; exit 3\"\nbackoff = 100ms 300ms\n";

/// With svc up on BYSTANDER and CRASH: `block` makes every fork of svc
/// fail, `unblock` lets them work again. svc backs off with EAGAIN in the
/// note, answers meanwhile, leaves the bystander alone, and runs crash
/// again afterwards.
fn forks_fail_then_recover(s: &mut Svc, block: impl FnOnce(), unblock: impl FnOnce()) {
    let by = bystander(s);
    wait_until(secs(10), "crash to have run", || read_lines(&s.path("runs")).len() >= 2);

    block();
    wait_until(secs(10), "a fork to fail with EAGAIN", || s.note("crash").is_some_and(|n| n.contains("fork: EAGAIN (errno 11)")));
    let runs = read_lines(&s.path("runs")).len();
    let tries = s.restarts("crash").unwrap_or(0);
    wait_until(secs(10), "svc to keep retrying", || s.restarts("crash").is_some_and(|n| n >= tries + 3));
    assert_eq!(s.state("crash").as_deref(), Some("backoff"));
    assert!(read_lines(&s.path("runs")).len() <= runs + 1, "crash ran although forks fail");
    for i in 0..5 {
        s.assert_answers(&format!("status {i} while forks fail"), &["bystander", "crash"]);
    }
    assert_untouched(s, by, "while forks fail");

    unblock();
    wait_until(secs(10), "crash to run again", || read_lines(&s.path("runs")).len() >= runs + 3);
    assert!(!s.note("crash").unwrap_or_default().contains("EAGAIN"), "the fork error stays in the note after a good run");
    assert_untouched(s, by, "after forks work again");
}

#[test]
fn failed_forks_back_off_and_recover() {
    let Some(cg) = PidsCgroup::new("failed_forks") else { return };
    let mut s = Svc::new("failed_forks");
    s.write_config(&format!("{BYSTANDER}{CRASH}"));
    // svc itself in the cgroup: its forks count against pids.max.
    let join = format!("echo $$ > {} && exec \"$@\"", cg.procs_file());
    s.start_wrapped(&["/bin/sh", "-c", &join, "sh"], &[]);
    assert!(cg.pids().contains(&s.svc_pid()), "svc is not in the cgroup: {:?}", cg.pids());
    // svc and the bystander: no room for a third process.
    forks_fail_then_recover(&mut s, || cg.set_max("2"), || cg.set_max("max"));
}

/// A uid of nobody's: not in /etc/passwd and running no process, so that
/// RLIMIT_NPROC (counted per real uid, over the whole machine) counts only
/// what the test runs as it.
fn unused_uid() -> u32 {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let mut taken: Vec<u32> = passwd.lines().filter_map(|l| l.split(':').nth(2)?.parse().ok()).collect();
    let pids: Vec<u32> = fs::read_dir("/proc").into_iter().flatten().filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    taken.extend(pids.into_iter().filter_map(|p| status_field(p, "Uid")?.split_whitespace().next()?.parse::<u32>().ok()));
    let base = 50_000 + std::process::id() % 10_000;
    (base..base + 100).find(|u| !taken.contains(u)).expect("an unused uid")
}

#[test]
fn failed_forks_under_rlimit_nproc_back_off_and_recover() {
    // Needs no cgroup: runs in a container too. Root is exempt from
    // RLIMIT_NPROC, so svc runs as a uid of its own.
    if !runner().is_empty() {
        eprintln!("note: the RLIMIT_NPROC test sets svc's own rlimit, not a runner's; skipped");
        return;
    }
    if !root_or_skip("rlimit_nproc") || program_or_skip("rlimit_nproc", "setpriv", "util-linux").is_none() {
        return;
    }
    let uid = unused_uid();
    let mut s = Svc::new("rlimit_nproc");
    std::os::unix::fs::chown(&s.dir, Some(uid), Some(uid)).expect("chown the test directory");
    s.write_config(&format!("{BYSTANDER}{CRASH}"));
    let (reuid, regid) = (format!("--reuid={uid}"), format!("--regid={uid}"));
    let as_uid = ["setpriv", &reuid, &regid, "--clear-groups", "--"];
    s.start_wrapped(&as_uid, &[]);
    let pid = s.svc_pid();
    assert_eq!(status_field(pid, "Uid").as_deref().and_then(|v| v.split_whitespace().next()), Some(uid.to_string().as_str()));
    let soft = soft_limit(pid, "Max processes");
    // svc and the bystander are the uid's two processes: no room for a third.
    // (prlimit, run as the uid, is a third only for a moment, and its own
    // start is checked against its own limit, the test's.)
    forks_fail_then_recover(&mut s, || set_soft_limit_as(&as_uid, pid, "nproc", 2), || set_soft_limit_as(&as_uid, pid, "nproc", soft));
}

// ---- a fork bomb

#[test]
fn a_fork_bomb_in_a_pids_cgroup_does_not_starve_the_control_socket() {
    let Some(cg) = PidsCgroup::new("fork_bomb") else { return };
    cg.set_max("48");
    let mut s = Svc::new("fork_bomb");
    // Every process loops forking copies of itself; a failed fork ends the
    // shell that tried, and its children become svc's orphans to reap.
    let bomb = s.script("bomb", &format!("echo $$ > {}\nb() {{ while :; do b & done; }}\nb\n", cg.procs_file()));
    s.write_config(&format!("{BYSTANDER}[bomb]\nexec = {bomb}\nstop_timeout = 2s\nbackoff = 1s 1s\n"));
    s.start();
    let by = bystander(&s);
    s.wait_running("bomb");
    // Filled: the kernel refused one of its forks (pids.events counts them;
    // a count of live members would race the shells that die on a refused
    // fork, and a loaded machine samples it low).
    wait_until(secs(20), "the bomb to fill its cgroup", || cg.refused_forks() > 0);
    for i in 0..20 {
        // Each within the client's 5 s guard.
        s.assert_answers(&format!("status {i} beside the fork bomb"), &["bystander", "bomb"]);
    }
    assert_untouched(&mut s, by, "beside the fork bomb");
    // Stopping it ends the whole group, and svc reaps everything.
    let out = s.run_sock_within(&["stop", "bomb"], secs(15));
    assert_eq!(out.status.code(), Some(0), "svc stop bomb: {}", show(&out));
    assert_eq!(s.state("bomb").as_deref(), Some("stopped"));
    wait_until(secs(10), "the cgroup to empty", || cg.pids().is_empty());
    let svc = s.svc_pid();
    wait_until(secs(10), "svc to reap every orphan", || children_of(svc) == [by.0]);
    assert!(s.stderr_text().contains("svc: reaped orphan "), "no orphan was named in svc's log");
    assert_untouched(&mut s, by, "after the fork bomb");
}

// ---- children that leave the process group

#[test]
fn children_that_leave_the_group_are_reaped_as_orphans() {
    let mut s = Svc::new("escaped_children");
    // A daemon-style child in a session of its own, then the main process.
    let run = s.script("run", "setsid /bin/sleep 100001 &\necho $! > {DIR}/escaped.pid\nexec /bin/sleep 100000\n");
    s.write_config(&format!("{BYSTANDER}[leaver]\nexec = {run}\nstop_timeout = 2s\n"));
    s.start();
    let by = bystander(&s);
    let main = s.wait_running("leaver");
    let escaped = wait_for(secs(5), "the escaped child's pid", || read_number(&s.path("escaped.pid"))) as u32;
    s.end_on_drop(escaped);
    wait_until(secs(5), "the escaped child to be sleep in its own session", || {
        comm(escaped).as_deref() == Some("sleep") && stat(escaped).is_some_and(|st| st.session == escaped)
    });
    let born = stat(escaped).unwrap().starttime;
    assert_ne!(stat(escaped).map(|st| st.pgrp), Some(main), "the child did not leave the group");

    // The stop ends the group and does not wait for what left it.
    let out = s.run(&["stop", "leaver"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(s.state("leaver").as_deref(), Some("stopped"));
    assert!(!gone(escaped, born), "svc killed a process outside the service's group");
    // Its parent gone, it is svc's (a subreaper), reaped and named when it ends.
    wait_until(secs(5), "the escaped child to be svc's", || stat(escaped).is_some_and(|st| st.ppid == s.svc_pid()));
    kill(escaped, "TERM");
    wait_until(secs(5), "the escaped child to be reaped", || gone(escaped, born));
    let msg = format!("svc: reaped orphan {escaped} (sleep)");
    wait_until(secs(5), "svc to name the orphan", || s.stderr_text().contains(&msg));
    // And the service starts again as usual.
    s.run_ok(&["start", "leaver"]);
    s.wait_running("leaver");
    assert_untouched(&mut s, by, "after the escaped child");
}

// ---- what a main process that exits leaves in its group

#[test]
fn what_an_exited_main_process_leaves_in_its_group_is_killed_before_the_restart() {
    let mut s = Svc::new("leftovers");
    // Each run first notes which earlier leftovers still run (a zombie
    // waiting to be reaped does not count), then leaves two in its group (a
    // sleep, and one that ignores TERM) and exits 1: a fork bomb's shell that
    // failed to fork, a master that crashed beside its workers.
    let run = s.script(
        "run",
        "for p in $(cat {DIR}/left {DIR}/stubborn 2>/dev/null); do\n\
           st=$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null)\n\
           [ -n \"$st\" ] && [ \"$st\" != Z ] && echo $p >> {DIR}/overlap\n\
         done\n\
         /bin/sleep 100000 &\necho $! >> {DIR}/left\n\
         (trap '' TERM; exec /bin/sleep 100001) &\necho $! >> {DIR}/stubborn\n\
         echo run >> {DIR}/runs\nsleep 0.2\nexit 1\n",
    );
    // A oneshot's run ends for good: what it leaves (a daemon) runs on.
    let once = s.script("once", "/bin/sleep 100002 &\necho $! > {DIR}/once.pid\n");
    s.write_config(&format!("{BYSTANDER}[crasher]\nexec = {run}\nbackoff = 100ms 100ms\n\n[once]\nexec = {once}\noneshot = yes\n"));
    s.start();
    let by = bystander(&s);
    s.wait_state("once", "done", secs(10));
    let daemon = wait_for(secs(5), "the oneshot's daemon pid", || read_number(&s.path("once.pid"))) as u32;
    s.end_on_drop(daemon);
    wait_until(secs(20), "three runs", || read_lines(&s.path("runs")).len() >= 3);
    let line = s.wait_state("crasher", "backoff", secs(10));
    assert_eq!(line.get(5).map(String::as_str), Some("exit:1"), "{line:?}");
    s.run_ok(&["stop", "crasher"]);
    let left: Vec<u32> =
        [read_lines(&s.path("left")), read_lines(&s.path("stubborn"))].concat().iter().filter_map(|l| l.parse().ok()).collect();
    assert!(left.len() >= 6, "each run left two: {left:?}");
    // No run started beside the last run's leftovers, and none is left.
    assert_eq!(read_lines(&s.path("overlap")), Vec::<String>::new(), "a run started beside the last run's leftovers");
    for p in left {
        assert_ne!(comm(p).as_deref(), Some("sleep"), "leftover {p} still runs");
    }
    assert_eq!(comm(daemon).as_deref(), Some("sleep"), "the oneshot's daemon was killed");
    assert_untouched(&mut s, by, "after the leftovers");
}

/// A restart kills the last run's group, and only its group: the main
/// process is reaped by then, and its pid alone may be another process's.
#[test]
fn a_restart_kills_the_last_runs_group_never_its_reaped_pid() {
    if !Strace::usable("reaped_pid") {
        return;
    }
    let mut s = Svc::new("reaped_pid");
    let run = s.script("run", "echo $$ >> {DIR}/mains\nexit 1\n");
    s.write_config(&format!("{BYSTANDER}[crasher]\nexec = {run}\nbackoff = 100ms 100ms\n"));
    s.start();
    let by = bystander(&s);
    let trace = s.path("kill.trace");
    let tracer = Strace::attach(s.svc_pid(), "kill", &trace);
    // Runs that start from here end while traced.
    let n = read_lines(&s.path("mains")).len();
    wait_until(secs(10), "three more runs", || read_lines(&s.path("mains")).len() >= n + 3);
    s.run_ok(&["stop", "crasher"]);
    tracer.finish();
    let calls = read_lines(&trace);
    for p in &read_lines(&s.path("mains"))[n..n + 2] {
        assert!(calls.iter().any(|c| c.starts_with(&format!("kill(-{p}, SIGKILL)"))), "no SIGKILL to group {p}:\n{}", calls.join("\n"));
        assert!(!calls.iter().any(|c| c.starts_with(&format!("kill({p}, "))), "a signal to reaped pid {p}:\n{}", calls.join("\n"));
    }
    assert_untouched(&mut s, by, "after the restarts");
}

// ---- the clocks

/// `strace -p PID` writing the calls in `calls` to `out`; detached when dropped.
struct Strace(Child);

impl Strace {
    /// Whether `test` can trace svc: strace is there (else a note says it is
    /// skipped) and svc runs itself, not under a runner.
    fn usable(test: &str) -> bool {
        if !runner().is_empty() {
            eprintln!("note: {test}: the test traces svc itself, not a runner; skipped");
            return false;
        }
        program_or_skip(test, "strace", "strace").is_some()
    }

    fn attach(pid: u32, calls: &str, out: &Path) -> Strace {
        let child = Command::new("strace")
            .args(["-qq", "-e", &format!("trace={calls}"), "-o"])
            .arg(out)
            .args(["-p", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("strace");
        let tracer = child.id().to_string();
        wait_until(secs(10), "strace to attach", || status_field(pid, "TracerPid").as_deref() == Some(tracer.as_str()));
        Strace(child)
    }

    /// Detaches (SIGTERM to strace) and waits for it.
    fn finish(mut self) {
        kill(self.0.id(), "TERM");
        let _ = wait_within(&mut self.0, secs(10));
    }
}

impl Drop for Strace {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The calls of `clock_gettime` in an strace output: (monotonic, realtime, other).
fn clock_reads(out: &Path) -> (usize, usize, usize) {
    let t = fs::read_to_string(out).unwrap_or_default();
    let calls: Vec<&str> = t.lines().filter(|l| l.contains("clock_gettime")).collect();
    let mono = calls.iter().filter(|l| l.contains("(CLOCK_MONOTONIC,")).count();
    let real = calls.iter().filter(|l| l.contains("(CLOCK_REALTIME,")).count();
    (mono, real, calls.len() - mono - real)
}

#[test]
fn timers_run_on_the_monotonic_clock_and_real_time_only_stamps_log_lines() {
    if !Strace::usable("clock") {
        return;
    }
    let mut s = Svc::new("clocks");
    let talk = s.script("talk", "i=0\nwhile [ $i -lt 5 ]; do echo line $i; /bin/sleep 0.1; i=$((i+1)); done\nexec /bin/sleep 100000\n");
    s.write_config(&format!(
        "{BYSTANDER}[quiet]\nexec = /bin/sh -c \"exit 1\"\nbackoff = 100ms 100ms\n\n[talk]\nexec = {talk}\nstart = no\n"
    ));
    s.start();
    let by = bystander(&s);
    let pid = s.svc_pid();
    // The one timerfd is on CLOCK_MONOTONIC (1): a clock step cannot move a deadline.
    let timers: Vec<String> = fds(pid)
        .into_iter()
        .filter(|&fd| fd_target(pid, fd).as_deref() == Some("anon_inode:[timerfd]"))
        .map(|fd| fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap_or_default())
        .collect();
    assert_eq!(timers.len(), 1, "svc's timerfds: {timers:?}");
    assert!(timers[0].lines().any(|l| l.split_whitespace().eq(["clockid:", "1"])), "timerfd not on CLOCK_MONOTONIC:\n{}", timers[0]);

    // Timers, restarts, requests and a stop and start, but no output: only the monotonic clock.
    let quiet = s.path("quiet.trace");
    let tracer = Strace::attach(pid, "clock_gettime,clock_gettime64", &quiet);
    let restarts = s.restarts("quiet").unwrap_or(0);
    wait_until(secs(10), "quiet to restart 5 times", || s.restarts("quiet").is_some_and(|n| n >= restarts + 5));
    for _ in 0..5 {
        s.assert_answers("status while traced", &["bystander", "quiet"]);
    }
    s.run_ok(&["stop", "quiet"]);
    s.run_ok(&["start", "quiet"]);
    tracer.finish();
    let (mono, real, other) = clock_reads(&quiet);
    assert!(mono >= 5, "svc read CLOCK_MONOTONIC only {mono} times over 5 restarts");
    assert_eq!((real, other), (0, 0), "svc read CLOCK_REALTIME (or another clock) with nothing to log");

    // Five log lines: each read of the real time stamps output.
    let loud = s.path("loud.trace");
    let tracer = Strace::attach(pid, "clock_gettime,clock_gettime64", &loud);
    s.run_ok(&["stop", "quiet"]);
    s.run_ok(&["start", "talk"]);
    wait_until(secs(10), "talk's five lines", || s.log_texts("talk", &[]).len() == 5);
    tracer.finish();
    let (_, real, other) = clock_reads(&loud);
    assert!((1..=5).contains(&real), "{real} reads of CLOCK_REALTIME for 5 log lines (want 1 to 5)");
    assert_eq!(other, 0);
    assert_untouched(&mut s, by, "after the clock checks");
}

// ---- memory

/// VmPeak of `pid` in kB.
fn vm_peak_kb(pid: u32) -> u64 {
    let v = status_field(pid, "VmPeak").unwrap_or_else(|| panic!("no VmPeak for {pid}"));
    v.trim_end_matches("kB").trim().parse().unwrap_or_else(|e| panic!("VmPeak {v:?}: {e}"))
}

#[test]
fn under_a_small_ulimit_v_svc_survives_the_faults() {
    if !runner().is_empty() {
        eprintln!("note: the ulimit -v test measures svc itself, not a runner; skipped");
        return;
    }
    let services = |s: &Svc| {
        let chatty = s.script("chatty", "head -c 2000000 /dev/zero | tr '\\0' 'y' | fold -w 100\nexec /bin/sleep 100000\n");
        format!(
            "{BYSTANDER}[crash]\nexec = /bin/sh -c \"exit 2\"\nbackoff = 0ms 0ms\n\n[missing]\nexec = /nonexistent/program\nbackoff = 100ms 100ms\n\n\
             [chatty]\nexec = {chatty}\nlog = ring:64k\n"
        )
    };
    // How much address space svc takes once up, unlimited.
    let mut probe = Svc::new("ulimit_v_probe");
    let conf = services(&probe);
    probe.write_config(&conf);
    probe.start();
    probe.wait_running("bystander");
    let need = vm_peak_kb(probe.svc_pid());
    drop(probe);
    // Its own size plus 512 KiB, but room for a shell and sleep (a few MiB) to exec.
    let limit = (need + 512).max(4096);

    let mut s = Svc::new("ulimit_v");
    let conf = services(&s);
    s.write_config(&conf);
    s.start_wrapped(&["/bin/sh", "-c", &format!("ulimit -v {limit} && exec \"$@\""), "sh"], &[]);
    let pid = s.svc_pid();
    let lim = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
    let line = lim.lines().find(|l| l.starts_with("Max address space")).unwrap_or("").to_string();
    assert!(line.contains(&(limit * 1024).to_string()), "svc runs without the limit: {line}");
    let by = bystander(&s);
    let peak0 = vm_peak_kb(pid);

    // 300 crash restarts, an exec failure, 2 MB of output, followers, bad
    // connections, reloads, stop and start.
    wait_until(secs(60), "300 restarts", || s.restarts("crash").is_some_and(|n| n >= 300));
    wait_until(secs(10), "missing's ENOENT", || s.note("missing").is_some_and(|n| n.contains("ENOENT")));
    let followers: Vec<Follower> = (0..4).map(|_| Follower::start(&s, &["log", "-f", "chatty"])).collect();
    for i in 0..100 {
        use std::io::Write;
        let mut c = s.connect();
        let _ = c.write_all(if i % 2 == 0 { &b"\0\0garbage\n"[..] } else { &[b'x'; 5000][..] });
    }
    for _ in 0..2 {
        s.write_config(&format!("{conf}\n[extra]\nexec = /bin/sleep 100000\n"));
        s.run_ok(&["reload"]);
        s.write_config(&conf);
        s.run_ok(&["reload"]);
    }
    s.run_ok(&["restart", "chatty"]);
    wait_until(secs(30), "chatty's output in its ring", || s.log_texts("chatty", &["-n", "1"]).first().is_some_and(|t| t.starts_with('y')));
    drop(followers);
    assert_untouched(&mut s, by, "under ulimit -v");
    let peak = vm_peak_kb(pid);
    // No heap, no mmap: only the stack may reach a page or two deeper.
    assert!(peak <= peak0 + 64, "svc's VmPeak grew from {peak0} kB to {peak} kB under ulimit -v {limit}");
    eprintln!("ulimit -v {limit} kB; svc's VmPeak {peak0} kB at start, {peak} kB at the end");
}
