//! `kill -9` of svc (issue 24): its services outlive it (orphaned to the
//! init, still holding their listening sockets), and `svc up` again on the
//! same config stops them before it binds and starts anything, so that no
//! service runs twice; a live svc's services are never touched.

mod common;
use common::*;
use std::fs;

/// Live session leaders (not zombies) whose environment holds `entry`.
fn leaders_with(entry: &str) -> Vec<u32> {
    let pids: Vec<u32> = fs::read_dir("/proc").into_iter().flatten().filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    pids.into_iter()
        .filter(|&p| stat(p).is_some_and(|st| st.session == p && st.state != 'Z') && environ(p).iter().any(|e| e == entry))
        .collect()
}

/// The process that had this pid and start time has ended (gone, or a
/// zombie its new parent has not reaped yet).
fn ended(pid: u32, start: u64) -> bool {
    stat(pid).is_none_or(|st| st.starttime != start || st.state == 'Z')
}

/// `KILL9_MARK=DIR/NAME`: in the environment of each service, to count
/// this test's processes apart from every other test's.
fn mark(s: &Svc, name: &str) -> String {
    format!("KILL9_MARK={}/{name}", s.dir.display())
}

/// Starts svc on `config` (services `names`, each with its mark), kills it
/// with SIGKILL, starts it again on the same config, and checks that each
/// old process was stopped (and named in svc's log) and that exactly one
/// process of each service runs. The old and new pids. (A service must
/// not write to its log once svc is gone: the test server's write would
/// fail and end it. So it waits for the test server's line first.)
fn kill_9_and_up_again(s: &mut Svc, config: &str, names: &[&str]) -> Vec<(u32, u32)> {
    s.write_config(config);
    s.start();
    let old: Vec<(u32, u64)> = names
        .iter()
        .map(|n| {
            let pid = s.wait_running(n);
            (pid, stat(pid).expect("stat").starttime)
        })
        .collect();
    for (n, &(pid, _)) in names.iter().zip(&old) {
        // Past its wrapper's exec (a trap is set by then).
        wait_until(secs(5), &format!("{n} to exec its program"), || comm(pid).is_some_and(|c| c != "sh" && c != "env"));
        if comm(pid).is_some_and(|c| c.starts_with("echo_server")) {
            wait_until(secs(5), &format!("{n}'s first line"), || s.log_texts(n, &[]).iter().any(|l| l.contains("serving")));
        }
        assert_eq!(leaders_with(&mark(s, n)).len(), 1, "{n} before");
    }
    s.stop_svc("KILL");
    for (n, &(pid, start)) in names.iter().zip(&old) {
        assert!(!ended(pid, start), "{n} (pid {pid}) died with svc");
    }

    s.start();
    let err = s.stderr_text();
    let mut pids = Vec::new();
    for (n, &(pid, start)) in names.iter().zip(&old) {
        let line = format!("svc: {n}: stopping pid {pid} left by a previous svc\n");
        assert!(err.contains(&line), "no {line:?} in svc's log:\n{err}");
        wait_until(secs(5), &format!("{n}'s old process to end"), || ended(pid, start));
        let new = s.wait_running(n);
        assert_ne!(new, pid, "{n}");
        // Exactly one process of each service runs.
        assert_eq!(leaders_with(&mark(s, n)), [new], "{n} after");
        pids.push((pid, new));
    }
    assert_eq!(err.matches("left by a previous svc").count(), names.len(), "{err}");
    pids
}

#[test]
fn after_kill_9_socket_services_are_stopped_and_their_sockets_bound_afresh() {
    let port = free_tcp_port();
    let mut s = Svc::new("kill9_sockets");
    // A TCP server; a unix socket server without SVC_SERVICE (found by its
    // socket alone, as a server that writes over its environment is).
    let config = format!(
        "[web]\nexec = {}\nlisten = tcp:127.0.0.1:{port}\nenv = {}\n\n\
         [bare]\nexec = /usr/bin/env -u SVC_SERVICE {}\nlisten = unix:{}\nenv = {}\n",
        echo_exec(""),
        mark(&s, "web"),
        echo_exec(""),
        s.p("app.sock"),
        mark(&s, "bare"),
    );
    let pids = kill_9_and_up_again(&mut s, &config, &["web", "bare"]);
    // The new instances serve on sockets the new svc bound.
    assert_eq!(attempt(&Target::tcp(port), Proto::Line), Outcome::Ok(pids[0].1), "tcp");
    assert_eq!(attempt(&Target::Unix(s.path("app.sock")), Proto::Line), Outcome::Ok(pids[1].1), "unix");
    let svc = s.svc_pid();
    assert!(socket_inodes(svc).len() >= 3, "svc holds no listening sockets: {:?}", socket_inodes(svc));
}

#[test]
fn after_kill_9_socketless_services_are_stopped_and_a_live_svcs_are_not() {
    // A second svc, alive, with services of the same names.
    let mut other = Svc::new("kill9_other");
    other.write_config("[quiet]\nexec = /bin/sleep 100000\n\n[stubborn]\nexec = /bin/sleep 100001\n");
    other.start();
    let theirs: Vec<(u32, u64)> = ["quiet", "stubborn"]
        .iter()
        .map(|n| {
            let pid = other.wait_running(n);
            (pid, stat(pid).expect("stat").starttime)
        })
        .collect();

    let mut s = Svc::new("kill9_socketless");
    // Found by SVC_SERVICE (after 6 KB of other variables); and one that
    // ignores SIGTERM (SIGKILL at its stop_timeout).
    let big = format!("env = BIG1={}\nenv = BIG2={}\n", "x".repeat(3000), "y".repeat(3000));
    let config = format!(
        "[quiet]\nexec = /bin/sleep 100000\nenv = {}\n{big}\n\
         [stubborn]\nexec = /bin/sh -c \"trap '' TERM; exec /bin/sleep 100001\"\nstop_timeout = 1s\nenv = {}\n",
        mark(&s, "quiet"),
        mark(&s, "stubborn"),
    );
    kill_9_and_up_again(&mut s, &config, &["quiet", "stubborn"]);

    let err = s.stderr_text();
    for (n, &(pid, start)) in ["quiet", "stubborn"].iter().zip(&theirs) {
        assert!(!ended(pid, start), "the other svc's {n} (pid {pid}) was stopped");
        assert_eq!(other.pid(n), Some(pid));
        assert!(!err.contains(&format!("pid {pid} ")), "{err}");
    }
}

#[test]
fn svc_leading_its_session_with_a_service_name_in_its_environment_stops_not_itself() {
    // An svc run as a service of another svc leads its session and carries
    // that svc's SVC_SERVICE; its output here is a file, not a pipe.
    let mut s = Svc::new("kill9_self");
    s.write_config("[inner]\nexec = /bin/sleep 100000\n");
    s.spawn_wrapped(&["setsid"], &[("SVC_SERVICE", "inner")]);
    let pid = s.wait_running("inner");
    let err = s.stderr_text();
    assert!(!err.contains("left by a previous svc"), "{err}");
    assert!(s.svc_running(), "svc stopped itself:\n{err}");
    assert_eq!(s.pid("inner"), Some(pid), "{err}");
}
