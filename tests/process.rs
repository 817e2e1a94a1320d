//! What a child gets (fds, environment, signal state, session, settings),
//! orphans, and svc's own idleness.

mod common;
use common::*;
use std::fs;

/// Runs svc with SIGUSR2 and SIGPIPE ignored (dispositions survive exec), so
/// that a child showing them ignored would prove svc does not reset them.
const IGNORING_SH: [&str; 4] = ["/bin/sh", "-c", "trap '' USR2 PIPE; exec \"$@\"", "sh"];

fn sigset(pid: u32, key: &str) -> u64 {
    let v = status_field(pid, key).unwrap_or_else(|| panic!("no {key} for {pid}"));
    u64::from_str_radix(&v, 16).unwrap_or_else(|e| panic!("{key} {v:?}: {e}"))
}

fn check_fds(s: &Svc) {
    let h = s.wait_running("h");
    assert_eq!(fds(h), [0, 1, 2], "fds of a plain child");
    let line = s.wait_state("r", "starting", secs(10));
    let r: u32 = line[2].parse().unwrap_or_else(|_| panic!("r starting without a pid: {line:?}"));
    assert_eq!(cmdline(r), [pinned("/bin/sleep").as_str(), "1000"], "r has exec'd");
    assert_eq!(fds(r), [0, 1, 2, 5], "fds of a child with ready = fd:5");
}

const HYGIENE: &str = "[h]\nexec = /bin/sleep 1000\nenv = FOO=bar\nenv = BAZ=qux\n\n[r]\nexec = /bin/sleep 1000\nready = fd:5\n";

#[test]
fn child_hygiene() {
    let mut s = Svc::new("child_hygiene");
    s.write_config(HYGIENE);
    s.start_wrapped(&IGNORING_SH, &[("SVC_TEST_MARKER", "leaked")]);
    check_fds(&s);
    let h = s.wait_running("h");
    let mut want = vec!["BAZ=qux".to_string(), "FOO=bar".to_string(), format!("PATH={DEFAULT_PATH}"), "SVC_SERVICE=h".to_string()];
    want.sort();
    assert_eq!(environ(h), want, "the environment of h");
    let r = s.pid("r").unwrap();
    assert_eq!(environ(r), [format!("PATH={DEFAULT_PATH}"), "SVC_SERVICE=r".to_string()]);
    for pid in [h, r] {
        assert_eq!(sigset(pid, "SigBlk"), 0, "blocked signals of {pid}");
        assert_eq!(sigset(pid, "SigIgn"), 0, "ignored signals of {pid}");
        let st = stat(pid).unwrap();
        assert_eq!((st.session, st.pgrp), (pid, pid), "{pid} leads its own session and group");
        assert_eq!(st.ppid, s.svc_pid());
    }
}

#[test]
fn child_fds_with_close_range_fallback() {
    let mut s = Svc::new("close_range_fallback");
    s.write_config(HYGIENE);
    s.start_env(&[("SVC_FALLBACK", "1")]);
    check_fds(&s);
    // The switch is for svc, not for its children.
    let h = s.pid("h").unwrap();
    assert!(!environ(h).iter().any(|e| e.starts_with("SVC_FALLBACK=")), "{:?}", environ(h));
}

#[test]
fn env_file_cwd_path_and_nofile() {
    let mut s = Svc::new("child_settings");
    fs::create_dir(s.path("work")).unwrap();
    s.write("vars", "ENVFILE_A=1\nENVFILE_B=two\n");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(s.path("vars"), fs::Permissions::from_mode(0o600)).unwrap();
    s.write_config(
        "[s]\nexec = /bin/sleep 1000\nenv_file = {DIR}/vars\nenv = FOO=bar\ncwd = {DIR}/work\nnofile = 123\n\
         memlock = 32k\ncore = unlimited\n\n\
         [p]\nexec = /bin/sleep 1000\nenv = PATH=/custom:/bin\n",
    );
    s.start();
    let pid = s.wait_running("s");
    let mut want = vec![
        "ENVFILE_A=1".to_string(),
        "ENVFILE_B=two".to_string(),
        "FOO=bar".to_string(),
        format!("PATH={DEFAULT_PATH}"),
        "SVC_SERVICE=s".to_string(),
    ];
    want.sort();
    assert_eq!(environ(pid), want);
    assert_eq!(fs::read_link(format!("/proc/{pid}/cwd")).unwrap(), s.path("work"));
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let nofile = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let soft = nofile.trim_start_matches("Max open files").split_whitespace().next();
    assert_eq!(soft, Some("123"), "{nofile}");
    // Each rlimit key reaches its own resource, soft and hard; `unlimited`
    // as the kernel's infinity (where the test's own hard limit allows it).
    let limit = |text: &str, name: &str| -> Vec<String> {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_default();
        line.trim_start_matches(name).split_whitespace().take(2).map(String::from).collect()
    };
    assert_eq!(limit(&limits, "Max locked memory"), ["32768", "32768"], "{limits}");
    let own = fs::read_to_string("/proc/self/limits").unwrap();
    if limit(&own, "Max core file size").get(1).map(String::as_str) == Some("unlimited") {
        assert_eq!(limit(&limits, "Max core file size"), ["unlimited", "unlimited"], "{limits}");
    }

    let p = s.wait_running("p");
    assert_eq!(environ(p), ["PATH=/custom:/bin", "SVC_SERVICE=p"]);
}

#[test]
fn orphans_are_reaped() {
    let mut s = Svc::new("orphans");
    let parent = s.script("parent", "( /bin/sleep 1000 & echo $! > {DIR}/orphan.pid )\nexec /bin/sleep 1000\n");
    s.write_config(&format!("[parent]\nexec = {parent}\n"));
    s.start();
    let main = s.wait_running("parent");
    let orphan = wait_for(secs(5), "the orphan's pid", || read_number(&s.path("orphan.pid"))) as u32;
    let born = stat(orphan).expect("the orphan is alive").starttime;
    s.end_on_drop(orphan);
    // The background job may not have exec'd sleep yet.
    wait_until(secs(5), "the orphan to be sleep", || comm(orphan).as_deref() == Some("sleep"));
    wait_until(secs(5), "the orphan to be reparented to svc", || stat(orphan).is_some_and(|st| st.ppid == s.svc_pid()));

    kill(orphan, "TERM");
    wait_until(secs(5), "the orphan to be reaped", || gone(orphan, born));
    let msg = format!("svc: reaped orphan {orphan} (sleep)");
    wait_until(secs(5), "svc to log the reaped orphan", || s.stderr_text().contains(&msg));
    // The service itself is untouched.
    assert_eq!(s.pid("parent"), Some(main));
    assert_eq!(s.state("parent").as_deref(), Some("running"));
    assert_eq!(s.restarts("parent"), Some(0));
}

#[test]
fn idle_svc_has_zero_wakeups() {
    let s = Svc::up("idle_wakeups", "[a]\nexec = /bin/sleep 1000\nstable = 100ms\n\n[b]\nexec = /bin/sleep 1000\nstable = 100ms\n");
    s.wait_running("a");
    s.wait_running("b");
    let pid = s.svc_pid();
    let switches = || {
        ["voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"]
            .iter()
            .map(|k| status_field(pid, k).and_then(|v| v.parse::<u64>().ok()).unwrap_or_else(|| panic!("no {k}")))
            .sum::<u64>()
    };
    std::thread::sleep(ms(500));
    let before = switches();
    std::thread::sleep(secs(3));
    let after = switches();
    assert_eq!(after - before, 0, "svc woke up {} times in 3 s while idle", after - before);

    // Its timer is disarmed.
    let mut timers = 0;
    for fd in fds(pid) {
        let link = fs::read_link(format!("/proc/{pid}/fd/{fd}")).map(|l| l.display().to_string()).unwrap_or_default();
        if link == "anon_inode:[timerfd]" {
            timers += 1;
            let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap();
            assert!(info.lines().any(|l| l.trim() == "it_value: (0, 0)"), "timerfd {fd} is armed:\n{info}");
        }
    }
    assert!(timers > 0, "svc holds no timerfd: {:?}", fds(pid));
    // Still all up.
    assert_eq!(s.run(&["status", "a", "b"]).status.code(), Some(0));
}
