//! Zero-downtime deploys of a service with held sockets: `svc upgrade` (a new
//! instance beside the serving one, which drains once the new one is ready),
//! its readiness gate, automatic rollback, draining and its stop timeout,
//! `--wait`, the overlapping `svc restart` that starts afresh when it cannot
//! overlap, the cases that do not overlap (busy, stopped, backoff, failed, no
//! sockets, `upgrade_signal`), and real servers from Debian (gunicorn,
//! starman) upgraded under load.
//!
//! A "new version" is the same exec whose behaviour the test changes between
//! upgrades with flag files that a wrapper script reads before it execs the
//! test server (tests/bin/echo_server.rs). The load client is
//! tests/common/load.rs. Loopback only.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::fs;
use std::process::Output;
use std::thread;
use std::time::Duration;

/// How long one `svc upgrade` may take (its new instance's delay or readiness, and a drain with `--wait`).
const UPGRADE_TIMEOUT: Duration = secs(30);

/// `svc upgrade ARGS...` (ARGS end with the name), within `UPGRADE_TIMEOUT`.
fn upgrade(s: &Svc, args: &[&str]) -> Output {
    let mut words = vec!["upgrade"];
    words.extend(args);
    s.run_sock_within(&words, UPGRADE_TIMEOUT)
}

/// `svc upgrade ARGS...` on a thread of its own: for upgrades that wait on the test.
fn upgrade_in_background(s: &Svc, args: &[&str]) -> thread::JoinHandle<Output> {
    let mut words: Vec<String> = ["upgrade", "-c", &s.conf_str(), "-s", &s.sock.display().to_string()].map(String::from).to_vec();
    words.extend(args.iter().map(|a| a.to_string()));
    thread::spawn(move || {
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        output_within(&mut svc(&w), UPGRADE_TIMEOUT)
    })
}

/// The pids of a successful upgrade's reply `upgraded NAME OLD -> NEW`.
fn upgraded_pids(out: &Output, name: &str) -> (u32, u32) {
    assert_eq!(out.status.code(), Some(0), "svc upgrade {name}: {}", show(out));
    let said = text(&out.stdout);
    let w: Vec<&str> = said.split_whitespace().collect();
    match w[..] {
        ["upgraded", n, old, "->", new] if n == name && said.lines().count() == 1 => match (old.parse(), new.parse()) {
            (Ok(o), Ok(n)) => (o, n),
            _ => panic!("pids in the reply of svc upgrade {name}: {}", show(out)),
        },
        _ => panic!("not `upgraded {name} OLD -> NEW`: {}", show(out)),
    }
}

/// Asserts a failed upgrade: exit 1 and the reason on stderr.
fn assert_rolled_back(out: &Output, name: &str, reason: &str) {
    assert_eq!(out.status.code(), Some(1), "svc upgrade {name} of a broken version: {}", show(out));
    let want = format!("svc: upgrade of {name} failed, the old instance serves on: {reason}");
    assert_eq!(text(&out.stderr).trim_end(), want, "{}", show(out));
    assert!(out.stdout.is_empty(), "{}", show(out));
}

/// NAME's instances as `svc status --json` lists them while there are two or
/// more: (pid, role, state); empty when it has one instance or none.
fn instances(s: &Svc, name: &str) -> Vec<(u32, String, String)> {
    let o = s.json(name);
    let Some(Json::Arr(list)) = o.get("instances") else {
        assert!(o.get("instances").is_none(), "instances is not an array: {o:?}");
        return Vec::new();
    };
    list.iter()
        .map(|i| {
            let pid = i.get("pid").and_then(Json::as_u64).unwrap_or_else(|| panic!("an instance without a pid: {o:?}"));
            let role = i.get("role").and_then(Json::as_str).unwrap_or_else(|| panic!("an instance without a role: {o:?}"));
            let state = i.get("state").and_then(Json::as_str).unwrap_or_else(|| panic!("an instance without a state: {o:?}"));
            assert!(i.get("uptime_ms").and_then(Json::as_u64).is_some(), "an instance without uptime_ms: {o:?}");
            (pid as u32, role.to_string(), state.to_string())
        })
        .collect()
}

/// Waits until NAME has one instance (an old one has drained and is gone).
fn wait_one_instance(s: &Svc, name: &str) {
    let mut last = Vec::new();
    let one = poll(secs(20), || {
        last = instances(s, name);
        last.is_empty().then_some(())
    });
    assert!(one.is_some(), "{name} still has several instances after 20 s: {last:?}");
}

/// Waits for the instance with `role` (new, draining); returns its pid.
fn wait_role(s: &Svc, name: &str, role: &str) -> u32 {
    wait_for(secs(20), &format!("a {role} instance of {name}"), || {
        instances(s, name).into_iter().find(|(_, r, _)| r == role).map(|(p, _, _)| p)
    })
}

/// Waits until NAME runs with a pid other than `old`; returns it.
fn wait_new_pid(s: &Svc, name: &str, old: u32) -> u32 {
    wait_for(secs(20), &format!("{name} to run with a pid other than {old}"), || {
        s.pid(name).filter(|&p| p != old && s.state(name).as_deref() == Some("running"))
    })
}

/// Waits until the load has seen an answer from `pid`.
fn wait_answer_from(load: &Load, pid: u32, what: &str) {
    wait_until(secs(20), &format!("an answer from {what} ({pid})"), || {
        assert!(!load.ended(), "the load ended before an answer from {what} ({pid}): {}", load.tally());
        load.tally().pids.contains(&pid)
    });
}

/// Asserts that no attempt failed, of any kind.
fn assert_no_failure(t: &Tally, what: &str) {
    assert_eq!(
        (t.refused, t.reset, t.timed_out, t.empty, t.bad),
        (0, 0, 0, 0, 0),
        "{what}: failed connections (refused, reset, timed out, empty, bad): {t}"
    );
    assert!(t.ok > 0, "{what}: nothing answered: {t}");
}

/// The line `WHAT PID` in the events file: its index.
fn event_at(events: &[String], what: &str, pid: u32) -> Option<usize> {
    let line = format!("{what} {pid}");
    events.iter().position(|l| *l == line)
}

fn wait_event(path: &std::path::Path, what: &str, pid: u32) -> Vec<String> {
    wait_for(secs(20), &format!("`{what} {pid}` in {}", path.display()), || {
        let ev = read_lines(path);
        event_at(&ev, what, pid).is_some().then_some(ev)
    })
}

/// A process that exists (a zombie not reaped counts).
fn alive(pid: u32) -> bool {
    stat(pid).is_some()
}

// ---- upgrades and restarts under load

/// `upgrades` upgrades, `restarts` restarts and `reloads` reloads that
/// change the exec line (spread among them) of the test server under
/// `threads` threads of load: nothing fails, and every answer comes from a
/// pid svc reported.
fn deploys_under_load(test: &str, upgrades: usize, restarts: usize, reloads: usize, threads: usize, max_attempts: u64) {
    let port = free_tcp_port();
    let mut s = Svc::new(test);
    // A reload deploys a new exec line: the same server behind `env`.
    let conf = |k: usize| {
        format!("[web]\nexec = /usr/bin/env DEPLOY={k} {}\nlisten = tcp:127.0.0.1:{port}\nupgrade_delay = 200ms\n", echo_exec(""))
    };
    s.write_config(&conf(0));
    s.start();
    let mut pid = s.wait_running("web");
    assert_eq!(attempt(&Target::tcp(port), Proto::Line), Outcome::Ok(pid), "the first answer");

    let load = Load::start(LoadSpec { max_attempts, max_time: secs(600), ..LoadSpec::new(Target::tcp(port), threads) });
    let mut reported = vec![pid];
    let total = upgrades + restarts + reloads;
    for k in 0..total {
        // Each instance serves under load before it is replaced.
        wait_answer_from(&load, pid, &format!("instance {k}"));
        let restart = (k + 1) * restarts / total > k * restarts / total;
        let reload = !restart && (k + 1) * reloads / total > k * reloads / total;
        let new = if reload {
            s.write_config(&conf(k + 1));
            let out = s.run(&["reload"]);
            assert_eq!(out.status.code(), Some(0), "reload {k}: {}", show(&out));
            let lines = reload_lines(&out);
            assert_eq!(reload_line(&lines, "web"), ["upgraded", "web", "running"], "reload {k}: {}", show(&out));
            wait_new_pid(&s, "web", pid)
        } else if restart {
            let out = s.run(&["restart", "web"]);
            assert_eq!(out.status.code(), Some(0), "restart {k}: {}", show(&out));
            wait_new_pid(&s, "web", pid)
        } else {
            let (old, new) = upgraded_pids(&upgrade(&s, &["web"]), "web");
            assert_eq!(old, pid, "upgrade {k}: the old pid is the one serving");
            // The reply comes once the new one serves.
            assert_eq!(s.pid("web"), Some(new), "upgrade {k}: status after the reply");
            new
        };
        assert_ne!(new, pid, "deploy {k}");
        reported.push(new);
        pid = new;
        // The old one drains (quickly: nothing is slow) before the next deploy.
        wait_one_instance(&s, "web");
    }
    wait_answer_from(&load, pid, "the last instance");
    let t = load.finish();

    assert_no_failure(&t, &format!("{upgrades} upgrades, {restarts} restarts and {reloads} reloads"));
    let unknown: Vec<&u32> = t.pids.iter().filter(|p| !reported.contains(p)).collect();
    assert!(unknown.is_empty(), "answers from pids svc never reported: {unknown:?} (reported {reported:?}); {t}");
    assert_eq!(s.state("web").as_deref(), Some("running"));
    assert!(s.svc_running(), "svc exited:\n{}", s.stderr_text());
}

#[test]
fn smoke_upgrade_refuses_nothing() {
    deploys_under_load("smoke_upgrade_refuses_nothing", 10, 0, 0, 2, 4000);
}

#[test]
fn upgrades_and_restarts_under_load_fail_nothing() {
    deploys_under_load("upgrades_and_restarts_under_load", 50, 20, 20, 3, 80_000);
}

// ---- the readiness gate

#[test]
fn upgrade_waits_for_readiness() {
    let port = free_tcp_port();
    let mut s = Svc::new("upgrade_waits_for_readiness");
    let (events, ready) = (s.path("events"), s.path("ready"));
    // fd 3 is the socket: the ready pipe is fd 4.
    s.write_config(&format!(
        "[web]\nexec = {}\nlisten = tcp:127.0.0.1:{port}\nready = fd:4\nenv = EVENTS_FILE={}\nenv = READY_FILE={}\n",
        echo_exec("--ready-fd 4"),
        events.display(),
        ready.display()
    ));
    fs::write(&ready, "").expect("create the ready file");
    s.start();
    let old = s.wait_running("web");
    fs::remove_file(&ready).expect("remove the ready file");

    let load = Load::start(LoadSpec { max_attempts: 20_000, ..LoadSpec::new(Target::tcp(port), 2) });
    wait_answer_from(&load, old, "the old instance");
    let up = upgrade_in_background(&s, &["web"]);
    let new = wait_role(&s, "web", "new");
    assert_ne!(new, old);

    // While the new one is not ready: the old one serves, and is told nothing.
    let seen = load.tally().ok;
    wait_until(secs(20), "50 answers while the new instance is not ready", || load.tally().ok >= seen + 50);
    let line = s.status_line("web").expect("a status line");
    assert_eq!((line[1].as_str(), line[2].as_str()), ("running", old.to_string().as_str()), "STATE and PID while upgrading: {line:?}");
    assert_eq!(note_of(&line), format!("upgrading \u{2192} {new}"), "NOTE while upgrading: {line:?}");
    assert_eq!(s.run(&["status", "web"]).status.code(), Some(0), "svc status web exits 0 during a deploy");
    let roles = instances(&s, "web");
    assert_eq!(
        roles,
        [(old, "serving".to_string(), "running".to_string()), (new, "new".to_string(), "starting".to_string())],
        "instances while upgrading"
    );
    assert!(!up.is_finished(), "svc upgrade returned before the new instance was ready");
    let before = load.tally();
    assert_eq!(before.pids, BTreeSet::from([old]), "answers before the new one was ready: {before}");
    let ev = read_lines(&events);
    assert_eq!(event_at(&ev, "term", old), None, "the old one was signalled before the new one was ready: {ev:?}");

    // Ready: the new one serves, the old one drains.
    fs::write(&ready, "").expect("create the ready file");
    let out = up.join().expect("the upgrade thread");
    assert_eq!(upgraded_pids(&out, "web"), (old, new));
    let ev = wait_event(&events, "exit", old);
    let (r, t) = (event_at(&ev, "ready", new), event_at(&ev, "term", old));
    assert!(r.is_some() && t.is_some() && r < t, "the old one's term comes after the new one's ready: {ev:?}");
    wait_answer_from(&load, new, "the new instance");
    let t = load.finish();
    assert_no_failure(&t, "an upgrade gated on readiness");
    assert!(t.pids.is_subset(&BTreeSet::from([old, new])), "{t}");
    assert_eq!(s.pid("web"), Some(new));
}

// ---- rollback

/// How a new version fails.
#[derive(Clone, Copy, PartialEq)]
enum Broken {
    /// It exits 3 at once.
    ExitsAtOnce,
    /// It never says ready (`ready = fd:4`, `ready_timeout = 1s`).
    NeverReady,
    /// It exits 1 after 0.2 s, within `upgrade_delay = 1s` (`ready = none`).
    CrashesWithinDelay,
}

/// An upgrade to a broken version (the flag file `broken`) rolls back: the
/// old pid serves on, the reply says why, NOTE says so, the service is not
/// in backoff; the next crash of the old instance restarts the command.
fn rollback(test: &str, broken: Broken) {
    let port = free_tcp_port();
    let mut s = Svc::new(test);
    let (exec_args, when_broken, settings, reason) = match broken {
        Broken::ExitsAtOnce => ("", "exit 3", "upgrade_delay = 300ms\n", "exit:3"),
        Broken::NeverReady => ("--ready-fd 4", "export READY_FILE={DIR}/never", "ready = fd:4\nready_timeout = 1s\n", "not ready in time"),
        Broken::CrashesWithinDelay => ("", "sleep 0.2; exit 1", "upgrade_delay = 1s\n", "exit:1"),
    };
    let exec = s.script("run", &format!("if [ -e {{DIR}}/broken ]; then {when_broken}; fi\nexec {}\n", echo_exec(exec_args)));
    s.write_config(&format!("[web]\nexec = {exec}\nlisten = tcp:127.0.0.1:{port}\n{settings}"));
    s.start();
    let old = s.wait_running("web");
    assert_eq!(attempt(&Target::tcp(port), Proto::Line), Outcome::Ok(old), "the first answer");

    let load = Load::start(LoadSpec { max_attempts: 4000, ..LoadSpec::new(Target::tcp(port), 1) });
    wait_answer_from(&load, old, "the old instance");
    s.write("broken", "");
    let out = upgrade(&s, &["web"]);
    assert_rolled_back(&out, "web", reason);

    // The old one serves on, as if nothing happened.
    let line = s.status_line("web").expect("a status line");
    assert_eq!((line[1].as_str(), line[2].as_str()), ("running", old.to_string().as_str()), "after the rollback: {line:?}");
    assert_eq!(note_of(&line), format!("upgrade failed: {reason}"), "NOTE after the rollback: {line:?}");
    let o = s.json("web");
    assert!(o.get("next_start_ms").is_some_and(Json::is_null), "no restart pending: {o:?}");
    wait_until(secs(20), "the broken instance to be gone", || children_of(s.svc_pid()) == [old]);
    let seen = load.tally().ok;
    wait_until(secs(20), "20 answers after the rollback", || load.tally().ok >= seen + 20);
    let t = load.finish();
    assert_no_failure(&t, "an upgrade that rolled back");
    assert_eq!(t.pids, BTreeSet::from([old]), "only the old pid answered: {t}");
    assert_eq!(attempt(&Target::tcp(port), Proto::Line), Outcome::Ok(old));
    assert_eq!(s.pid("web"), Some(old));

    // The next crash of the old instance restarts the command (working again).
    fs::remove_file(s.path("broken")).expect("remove the flag");
    kill(old, "KILL");
    let new = wait_new_pid(&s, "web", old);
    assert_eq!(attempt(&Target::tcp(port), Proto::Line), Outcome::Ok(new), "the restarted instance serves");
    assert_eq!(s.last("web").as_deref(), Some("sig:KILL"), "LAST is the old instance's end");
}

/// A reload whose upgrade rolls back: exit 1 naming the service, the old
/// pid serves on with its old generation, and its next crash restarts the
/// old command, not the broken one.
#[test]
fn reload_upgrade_rolls_back_to_the_old_definition() {
    let port = free_tcp_port();
    let mut s = Svc::new("reload_upgrade_rolls_back");
    let conf = |exec: &str| format!("[web]\nexec = {exec}\nlisten = tcp:127.0.0.1:{port}\nupgrade_delay = 300ms\n");
    s.write_config(&conf(&echo_exec("")));
    s.start();
    let old = s.wait_running("web");
    let generation = s.json("web").get("generation").and_then(Json::as_u64);
    let load = Load::start(LoadSpec { max_attempts: 4000, ..LoadSpec::new(Target::tcp(port), 1) });
    wait_answer_from(&load, old, "the old instance");

    s.write_config(&conf("/bin/false"));
    let out = s.run(&["reload"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    // A failed request's body goes to stderr, after its message.
    let err = text(&out.stderr);
    assert!(err.contains("old definition"), "{}", show(&out));
    assert!(
        err.lines().any(|l| l.split_whitespace().take(3).eq(["rollback", "web", "running"])),
        "the reply's line for web: {}",
        show(&out)
    );
    assert_eq!(s.pid("web"), Some(old));
    assert_eq!(s.json("web").get("generation").and_then(Json::as_u64), generation, "the old generation");
    let seen = load.tally().ok;
    wait_until(secs(20), "20 answers after the rollback", || load.tally().ok >= seen + 20);
    let t = load.finish();
    assert_no_failure(&t, "a reload that rolled back");
    assert_eq!(t.pids, BTreeSet::from([old]), "only the old pid answered: {t}");

    // The old command is restarted, not /bin/false.
    kill(old, "KILL");
    let new = wait_new_pid(&s, "web", old);
    assert_eq!(attempt(&Target::tcp(port), Proto::Line), Outcome::Ok(new), "the restarted instance serves");
    // A later reload to a working exec line upgrades normally.
    s.write_config(&conf(&format!("/usr/bin/env V=2 {}", echo_exec(""))));
    let out = s.run(&["reload"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

#[test]
fn smoke_rollback_when_new_version_exits_at_once() {
    rollback("smoke_rollback_exits_at_once", Broken::ExitsAtOnce);
}

#[test]
fn smoke_rollback_when_new_version_is_never_ready() {
    rollback("smoke_rollback_never_ready", Broken::NeverReady);
}

#[test]
fn smoke_rollback_when_new_version_crashes_within_upgrade_delay() {
    rollback("smoke_rollback_crashes_within_delay", Broken::CrashesWithinDelay);
}

// ---- restart

#[test]
fn restart_with_sockets_overlaps() {
    let port = free_tcp_port();
    let mut s = Svc::new("restart_with_sockets_overlaps");
    let (events, ready) = (s.path("events"), s.path("ready"));
    s.write_config(&format!(
        "[web]\nexec = {}\nlisten = tcp:127.0.0.1:{port}\nready = fd:4\nenv = EVENTS_FILE={}\nenv = READY_FILE={}\n",
        echo_exec("--ready-fd 4"),
        events.display(),
        ready.display()
    ));
    fs::write(&ready, "").expect("create the ready file");
    s.start();
    let old = s.wait_running("web");
    fs::remove_file(&ready).expect("remove the ready file");

    // It returns at once, the new instance not ready: it starts beside the old one.
    let out = s.run(&["restart", "web"]);
    assert_eq!(out.status.code(), Some(0), "svc restart web: {}", show(&out));
    let new = wait_role(&s, "web", "new");
    let line = s.status_line("web").expect("a status line");
    assert_eq!((line[1].as_str(), line[2].as_str()), ("running", old.to_string().as_str()), "{line:?}");
    assert_eq!(attempt(&Target::tcp(port), Proto::Line), Outcome::Ok(old), "the old one serves meanwhile");

    fs::write(&ready, "").expect("create the ready file");
    assert_eq!(wait_new_pid(&s, "web", old), new);
    let ev = wait_event(&events, "exit", old);
    let (r, t) = (event_at(&ev, "ready", new), event_at(&ev, "term", old));
    assert!(r.is_some() && t.is_some() && r < t, "the old one's term comes after the new one's ready: {ev:?}");
    assert_eq!(attempt(&Target::tcp(port), Proto::Line), Outcome::Ok(new));
}

#[test]
fn restart_that_cannot_overlap_stops_then_starts() {
    let port = free_tcp_port();
    let mut s = Svc::new("restart_that_cannot_overlap");
    let events = s.path("events");
    // A new instance waits for the lock the serving one holds: it can never
    // be ready beside it.
    s.write_config(&format!(
        "[web]\nexec = {}\nlisten = tcp:127.0.0.1:{port}\nready = fd:4\nready_timeout = 1s\nenv = EVENTS_FILE={}\n",
        echo_exec(&format!("--lock {} --ready-fd 4", s.p("lock"))),
        events.display()
    ));
    s.start();
    let old = s.wait_running("web");
    let load = Load::start(LoadSpec { max_attempts: 20_000, ..LoadSpec::new(Target::tcp(port), 2) });
    wait_answer_from(&load, old, "the old instance");

    let out = s.run(&["restart", "web"]);
    assert_eq!(out.status.code(), Some(0), "svc restart web: {}", show(&out));
    let new = wait_new_pid(&s, "web", old);
    wait_one_instance(&s, "web");
    wait_answer_from(&load, new, "the new instance");
    let t = load.finish();
    assert_no_failure(&t, "a restart by stop, then start");
    assert!(t.pids.is_subset(&BTreeSet::from([old, new])), "{t}");
    assert_eq!(s.state("web").as_deref(), Some("running"));

    // The candidate waited for the lock until it was stopped; the new one
    // took the lock once the old one had exited.
    let ev = read_lines(&events);
    let pids: BTreeSet<u32> = ev.iter().filter_map(|l| l.split_once(' ')?.1.parse().ok()).collect();
    let candidates: Vec<u32> = pids.iter().copied().filter(|&p| p != old && p != new).collect();
    assert_eq!(candidates.len(), 1, "one candidate beside the old one: {ev:?}");
    let cand = candidates[0];
    let of_cand: Vec<&String> = ev.iter().filter(|l| l.ends_with(&format!(" {cand}"))).collect();
    assert_eq!(of_cand, [&format!("term {cand}"), &format!("exit {cand}")], "the candidate never served: {ev:?}");
    let (exit_old, locked_new) = (event_at(&ev, "exit", old), event_at(&ev, "locked", new));
    assert!(exit_old.is_some() && locked_new.is_some() && exit_old < locked_new, "stop, then start: {ev:?}");
}

// ---- draining

/// A wrapper that runs the test server slow (every answer waits for the file
/// `slow`) when the flag file `slow-mode` exists at its start.
fn slow_mode_exec(s: &Svc) -> String {
    s.script("run", &format!("if [ -e {{DIR}}/slow-mode ]; then export SLOW_FILE={{DIR}}/slow; fi\nexec {}\n", echo_exec("")))
}

/// Starts a slow old instance with a connection it has accepted and not
/// answered; returns the old pid and the client thread's answer.
fn old_with_slow_request(s: &mut Svc, port: u16) -> (u32, thread::JoinHandle<Outcome>) {
    s.write("slow-mode", "");
    s.start();
    let old = s.wait_running("web");
    let pending = open(&Target::tcp(port), Proto::Line).unwrap_or_else(|o| panic!("connect: {o:?}"));
    // Accepted: the old instance holds a second socket.
    wait_until(secs(20), "the old instance to accept the slow connection", || socket_inodes(old).len() >= 2);
    let answer = thread::spawn(move || pending.answer(secs(60)));
    // The next version is fast.
    fs::remove_file(s.path("slow-mode")).expect("remove slow-mode");
    (old, answer)
}

#[test]
fn draining_instance_finishes_its_slow_request() {
    let port = free_tcp_port();
    let mut s = Svc::new("draining_finishes_slow_request");
    let exec = slow_mode_exec(&s);
    s.write_config(&format!("[web]\nexec = {exec}\nlisten = tcp:127.0.0.1:{port}\nupgrade_delay = 200ms\nstop_timeout = 60s\n"));
    let (old, answer) = old_with_slow_request(&mut s, port);

    let (o, new) = upgraded_pids(&upgrade(&s, &["web"]), "web");
    assert_eq!(o, old);
    // The new one serves; the old one drains, its request under way.
    for k in 0..5 {
        assert_eq!(attempt(&Target::tcp(port), Proto::Line), Outcome::Ok(new), "attempt {k} while the old one drains");
    }
    let line = s.status_line("web").expect("a status line");
    assert_eq!((line[1].as_str(), line[2].as_str()), ("running", new.to_string().as_str()), "{line:?}");
    assert_eq!(note_of(&line), format!("draining {old}"), "NOTE while draining: {line:?}");
    let mut roles = instances(&s, "web");
    roles.sort();
    let mut want = vec![(old, "draining".to_string(), "stopping".to_string()), (new, "serving".to_string(), "running".to_string())];
    want.sort();
    assert_eq!(roles, want, "instances while draining");
    assert!(alive(old) && !answer.is_finished(), "the old instance gave up its slow request");

    s.write("slow", "");
    assert_eq!(answer.join().expect("the client thread"), Outcome::Ok(old), "the slow request's full answer, from the old pid");
    wait_one_instance(&s, "web");
    wait_until(secs(20), "the old instance to be gone", || !alive(old));
    assert_eq!(s.note("web").as_deref(), Some(""), "NOTE once drained");
    assert_eq!(s.pid("web"), Some(new));
}

#[test]
fn draining_instance_that_ignores_its_signal_is_killed_at_stop_timeout() {
    let port = free_tcp_port();
    let mut s = Svc::new("draining_ignores_signal_killed");
    let events = s.path("events");
    s.write_config(&format!(
        "[web]\nexec = {}\nlisten = tcp:127.0.0.1:{port}\nupgrade_delay = 200ms\nstop_timeout = 1s\nenv = EVENTS_FILE={}\n",
        echo_exec("--ignore-term"),
        events.display()
    ));
    s.start();
    let old = s.wait_running("web");
    let restarts = s.restarts("web");
    let (o, new) = upgraded_pids(&upgrade(&s, &["web"]), "web");
    assert_eq!(o, old);
    // svc sent its stop signal, which the old one ignored...
    wait_event(&events, "ignored", old);
    // ...and SIGKILL at its stop timeout: it is gone, without stopping by itself.
    wait_until(secs(20), "the old instance to be killed", || !alive(old));
    let ev = read_lines(&events);
    assert_eq!((event_at(&ev, "term", old), event_at(&ev, "exit", old)), (None, None), "the old one did not stop by itself: {ev:?}");
    wait_one_instance(&s, "web");
    // A killed draining instance is no crash of the service.
    let line = s.status_line("web").expect("a status line");
    assert_eq!((line[1].as_str(), line[2].as_str()), ("running", new.to_string().as_str()), "{line:?}");
    assert_eq!(s.restarts("web"), restarts.map(|r| r + 1), "one spawn, the new instance's");
    assert_eq!(note_of(&line), "", "{line:?}");
    assert_eq!(attempt(&Target::tcp(port), Proto::Line), Outcome::Ok(new));
}

#[test]
fn upgrade_wait_returns_once_the_old_instance_is_gone() {
    let port = free_tcp_port();
    let mut s = Svc::new("upgrade_wait_returns_once_gone");
    let exec = slow_mode_exec(&s);
    s.write_config(&format!("[web]\nexec = {exec}\nlisten = tcp:127.0.0.1:{port}\nupgrade_delay = 200ms\nstop_timeout = 60s\n"));
    let (old, answer) = old_with_slow_request(&mut s, port);
    let start = stat(old).expect("the old instance").starttime;

    let up = upgrade_in_background(&s, &["--wait", "web"]);
    assert_eq!(wait_role(&s, "web", "draining"), old);
    let new = s.pid("web").expect("a serving pid");
    assert_eq!(attempt(&Target::tcp(port), Proto::Line), Outcome::Ok(new), "the new instance serves");
    // The old one drains as long as its request lasts: --wait waits.
    assert!(!up.is_finished(), "svc upgrade --wait returned while the old instance drains");

    s.write("slow", "");
    let out = up.join().expect("the upgrade thread");
    // Right at the return: the old process is gone and reaped.
    let gone_at_return = gone(old, start);
    assert_eq!(upgraded_pids(&out, "web"), (old, new));
    assert!(gone_at_return, "svc upgrade --wait returned while the old instance {old} existed: {:?}", stat(old));
    assert_eq!(answer.join().expect("the client thread"), Outcome::Ok(old));
    assert!(instances(&s, "web").is_empty());
}

// ---- the cases that do not overlap

#[test]
fn second_upgrade_while_one_runs_is_busy() {
    let port = free_tcp_port();
    let mut s = Svc::new("second_upgrade_is_busy");
    let ready = s.path("ready");
    s.write_config(&format!(
        "[web]\nexec = {}\nlisten = tcp:127.0.0.1:{port}\nready = fd:4\nenv = READY_FILE={}\n",
        echo_exec("--ready-fd 4"),
        ready.display()
    ));
    fs::write(&ready, "").expect("create the ready file");
    s.start();
    let old = s.wait_running("web");
    fs::remove_file(&ready).expect("remove the ready file");

    let first = upgrade_in_background(&s, &["web"]);
    let new = wait_role(&s, "web", "new");
    let out = upgrade(&s, &["web"]);
    assert_eq!(out.status.code(), Some(1), "a second upgrade: {}", show(&out));
    assert!(text(&out.stderr).contains("busy"), "the reply says busy: {}", show(&out));
    assert_eq!(instances(&s, "web").len(), 2, "no third instance");

    fs::write(&ready, "").expect("create the ready file");
    assert_eq!(upgraded_pids(&first.join().expect("the upgrade thread"), "web"), (old, new), "the first upgrade completes");
}

#[test]
fn upgrade_of_a_stopped_service_keeps_it_stopped() {
    let port = free_tcp_port();
    let mut s = Svc::new("upgrade_of_stopped_service");
    s.write_config(&format!("[web]\nexec = {}\nlisten = tcp:127.0.0.1:{port}\n", echo_exec("")));
    s.start();
    s.wait_running("web");
    s.run_ok(&["stop", "web"]);
    s.wait_state("web", "stopped", secs(10));

    let out = upgrade(&s, &["web"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stdout), "web is stopped: its next start uses its definition\n", "{}", show(&out));
    // Idle a moment: nothing starts.
    thread::sleep(ms(300));
    let line = s.status_line("web").expect("a status line");
    assert_eq!((line[1].as_str(), line[2].as_str()), ("stopped", "-"), "{line:?}");
    assert_eq!(children_of(s.svc_pid()), Vec::<u32>::new(), "nothing runs");
    s.run_ok(&["start", "web"]);
    let pid = s.wait_running("web");
    assert_eq!(attempt(&Target::tcp(port), Proto::Line), Outcome::Ok(pid));
}

#[test]
fn upgrade_starts_a_service_in_backoff_or_failed() {
    let [p, q] = free_tcp_ports(2)[..] else { unreachable!() };
    let mut s = Svc::new("upgrade_starts_backoff_or_failed");
    let exec = s.script("run", &format!("if [ -e {{DIR}}/broken ]; then exit 1; fi\nexec {}\n", echo_exec("")));
    s.write_config(&format!(
        "[b]\nexec = {exec}\nlisten = tcp:127.0.0.1:{p}\nbackoff = 600s 600s\n\n[f]\nexec = {exec}\nlisten = tcp:127.0.0.1:{q}\nrestart = never\n"
    ));
    s.write("broken", "");
    s.start();
    s.wait_state("b", "backoff", secs(10));
    s.wait_state("f", "failed", secs(10));
    fs::remove_file(s.path("broken")).expect("remove the flag");

    for (name, port) in [("b", p), ("f", q)] {
        let out = upgrade(&s, &[name]);
        assert_eq!(out.status.code(), Some(0), "upgrade of {name}: {}", show(&out));
        assert_eq!(text(&out.stdout), format!("{name} was not running: started\n"), "{}", show(&out));
        let pid = s.wait_running(name);
        assert_eq!(attempt(&Target::tcp(port), Proto::Line), Outcome::Ok(pid), "{name} serves");
    }
}

#[test]
fn upgrade_without_sockets_stops_then_starts() {
    let mut s = Svc::new("upgrade_without_sockets");
    // The reply waits until the new instance is ready (300 ms after its start).
    s.write_config("[plain]\nexec = /bin/sleep 600\nready = delay:300ms\n");
    s.start();
    let old = s.wait_running("plain");
    let start = stat(old).expect("the old instance").starttime;

    let out = upgrade(&s, &["plain"]);
    let (o, new) = upgraded_pids(&out, "plain");
    let line = s.status_line("plain").expect("a status line");
    assert_eq!(o, old);
    assert_ne!(new, old);
    assert_eq!((line[1].as_str(), line[2].as_str()), ("running", new.to_string().as_str()), "ready at the reply: {line:?}");
    // Stop, then start: the old one was gone before the new one began.
    assert!(gone(old, start), "the old instance still exists: {:?}", stat(old));
    assert_eq!(children_of(s.svc_pid()), [new]);
}

#[test]
fn upgrade_signal_goes_to_the_main_process() {
    let port = free_tcp_port();
    let mut s = Svc::new("upgrade_signal_to_main");
    let events = s.path("events");
    s.write_config(&format!(
        "[web]\nexec = {}\nlisten = tcp:127.0.0.1:{port}\nupgrade_signal = HUP\nenv = EVENTS_FILE={}\n",
        echo_exec(""),
        events.display()
    ));
    s.start();
    let pid = s.wait_running("web");
    let out = upgrade(&s, &["web"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stdout), "web: upgrade_signal sent\n", "{}", show(&out));
    wait_event(&events, "hup", pid);
    assert_eq!(s.pid("web"), Some(pid), "the same instance serves");
    assert_eq!(children_of(s.svc_pid()), [pid], "no new instance");
    assert!(instances(&s, "web").is_empty());
    assert_eq!(attempt(&Target::tcp(port), Proto::Line), Outcome::Ok(pid));
}

// ---- real servers from Debian, unchanged

const WSGI_APP: &str = "import os\n\n\ndef app(environ, start_response):\n    body = ('pid %d\\n' % os.getpid()).encode()\n    \
                        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])\n    return [body]\n";

const PSGI_APP: &str = "sub {\n    my $body = \"pid $$\\n\";\n    \
                        [200, ['Content-Type' => 'text/plain', 'Content-Length' => length $body], [$body]];\n};\n";

/// `upgrades` upgrades of a real server (master `web`, its workers answering
/// over HTTP) under load: nothing fails, and each master's workers answer.
/// A Debian server (`exec`, run in DIR/app) serving `app` (its file `file`)
/// on one held socket, with `settings`; not started yet.
fn app_server(test: &str, file: &str, app: &str, exec: &str, settings: &str) -> (Svc, u16) {
    let port = free_tcp_port();
    let s = Svc::new(test);
    fs::create_dir_all(s.path("app")).expect("mkdir app");
    s.write(&format!("app/{file}"), app);
    s.write_config(&format!("[web]\nexec = {exec}\ncwd = {}\nlisten = tcp:127.0.0.1:{port}\n{settings}", s.p("app")));
    (s, port)
}

/// `resets`: dropped connections (reset or empty) the server itself may
/// cause (starman: see its test).
fn real_server_upgrades(s: &mut Svc, port: u16, upgrades: usize, resets: u64) {
    s.start();
    let mut master = s.wait_running("web");
    wait_for(secs(30), "the server's first answer", || match attempt(&Target::tcp(port), Proto::Http) {
        Outcome::Ok(pid) => Some(pid),
        Outcome::Refused => panic!("refused while svc holds the port"),
        _ => None,
    });
    let load =
        Load::start(LoadSpec { proto: Proto::Http, max_attempts: 20_000, max_time: secs(600), ..LoadSpec::new(Target::tcp(port), 2) });
    // Workers answer (their pids are new at each master): a pid not seen
    // before an upgrade is a worker of the new master.
    let mut known: BTreeSet<u32> = BTreeSet::new();
    for k in 0..=upgrades {
        wait_until(secs(30), &format!("an answer from a worker of master {k} ({master})"), || {
            assert!(!load.ended(), "the load ended before upgrade {k}: {}", load.tally());
            load.tally().pids.iter().any(|p| !known.contains(p))
        });
        known = load.tally().pids;
        if k == upgrades {
            break;
        }
        for c in children_of(master) {
            s.end_on_drop(c);
        }
        let (old, new) = upgraded_pids(&upgrade(s, &["web"]), "web");
        assert_eq!(old, master, "upgrade {k}");
        master = new;
        wait_one_instance(s, "web");
    }
    for c in children_of(master) {
        s.end_on_drop(c);
    }
    let mut t = load.finish();
    // The server's race drops a connection it has just accepted: a reset
    // when the request had arrived, an empty reply (FIN) when not yet.
    assert!(t.lost() <= resets, "{upgrades} upgrades: more dropped connections than the server's own race allows: {t}");
    t.reset = 0;
    t.empty = 0;
    assert_no_failure(&t, &format!("{upgrades} upgrades"));
    assert_eq!(s.state("web").as_deref(), Some("running"));
    assert!(s.svc_running(), "svc exited:\n{}", s.stderr_text());
}

/// A WSGI app whose requests are slow while `DIR/slow-mode` exists: such a
/// request writes `DIR/in-slow-PID`, then waits for `DIR/slow` (60 s at most).
const SLOW_WSGI_APP: &str = "import os\nimport time\n\n\ndef app(environ, start_response):\n    \
                             if os.path.exists('{DIR}/slow-mode'):\n        \
                             open('{DIR}/in-slow-%d' % os.getpid(), 'w').close()\n        \
                             for _ in range(1200):\n            \
                             if os.path.exists('{DIR}/slow'):\n                break\n            time.sleep(0.05)\n    \
                             body = ('pid %d\\n' % os.getpid()).encode()\n    \
                             start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])\n    \
                             return [body]\n";

/// The same as a PSGI app.
const SLOW_PSGI_APP: &str = "use Time::HiRes ();\nsub {\n    if (-e '{DIR}/slow-mode') {\n        \
                             open(my $f, '>', \"{DIR}/in-slow-$$\") and close($f);\n        \
                             for (1 .. 1200) { last if -e '{DIR}/slow'; Time::HiRes::sleep(0.05); }\n    }\n    \
                             my $body = \"pid $$\\n\";\n    \
                             [200, ['Content-Type' => 'text/plain', 'Content-Length' => length $body], [$body]];\n};\n";

/// The files `in-slow-PID` in the directory: the workers in a slow request.
fn in_slow(s: &Svc) -> Vec<u32> {
    let names = fs::read_dir(&s.dir).map(|rd| rd.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect::<Vec<_>>());
    names.unwrap_or_default().iter().filter_map(|n| n.strip_prefix("in-slow-")?.parse().ok()).collect()
}

/// A real server (master `web`) upgraded while one of its workers is in the
/// middle of a slow request: the new master's workers answer other
/// connections meanwhile, and the slow request gets its whole answer from
/// the old worker once the test lets it finish.
/// `resets`: whether a reset is the server's own race (starman: see
/// `starman_upgraded_under_load_fails_nothing`) rather than a failure.
fn real_server_drains(s: &mut Svc, port: u16, resets: bool) {
    s.start();
    let old = s.wait_running("web");
    wait_for(secs(30), "the server's first answer", || match attempt(&Target::tcp(port), Proto::Http) {
        Outcome::Ok(pid) => Some(pid),
        Outcome::Refused => panic!("refused while svc holds the port"),
        _ => None,
    });
    for c in children_of(old) {
        s.end_on_drop(c);
    }
    s.write("slow-mode", "");
    let pending = open(&Target::tcp(port), Proto::Http).unwrap_or_else(|o| panic!("connect: {o:?}"));
    let worker = wait_for(secs(30), "a worker in the slow request", || in_slow(s).first().copied());
    assert_eq!(stat(worker).map(|st| st.ppid), Some(old), "the slow request is in a worker of the old master");
    let answer = thread::spawn(move || pending.answer(secs(90)));
    fs::remove_file(s.path("slow-mode")).expect("remove slow-mode");

    let (o, new) = upgraded_pids(&upgrade(s, &["web"]), "web");
    assert_eq!(o, old);
    for c in children_of(new) {
        s.end_on_drop(c);
    }
    // The new master's workers serve, while the old one drains.
    wait_for(secs(30), "an answer from a worker of the new master", || match attempt(&Target::tcp(port), Proto::Http) {
        Outcome::Ok(pid) if pid != worker && stat(pid).is_some_and(|st| st.ppid == new) => Some(pid),
        Outcome::Ok(_) => None,
        Outcome::Reset | Outcome::Empty if resets => None,
        o => panic!("a connection while the old master drains: {o:?}"),
    });
    // The old master drains while its worker is in the slow request.
    let draining = poll(secs(20), || instances(s, "web").into_iter().find(|(_, r, _)| r == "draining").map(|(p, _, _)| p));
    if answer.is_finished() || draining != Some(old) {
        let got = if answer.is_finished() { format!("{:?}", answer.join()) } else { "none yet".to_string() };
        panic!(
            "the old master {old} does not drain with its worker {worker} in a slow request: draining instance {draining:?}, \
             the slow request's answer {got}, instances now {:?}\nthe server's log:\n{}",
            instances(s, "web"),
            s.log_texts("web", &[]).join("\n")
        );
    }

    s.write("slow", "");
    assert_eq!(answer.join().expect("the client thread"), Outcome::Ok(worker), "the slow request's whole answer, from its worker");
    wait_one_instance(s, "web");
    assert_eq!(s.pid("web"), Some(new));
}

#[test]
fn gunicorn_upgraded_under_load_fails_nothing() {
    let Some(gunicorn) = program_or_skip("gunicorn_upgraded_under_load", "gunicorn", "gunicorn") else { return };
    // TERM: gunicorn's graceful stop (its workers finish their requests).
    let (mut s, port) = app_server(
        "gunicorn_upgraded_under_load",
        "app.py",
        WSGI_APP,
        &format!("{gunicorn} --workers 2 --timeout 5 app:app"),
        "stop_signal = TERM\n",
    );
    real_server_upgrades(&mut s, port, 10, 0);
}

#[test]
fn starman_upgraded_under_load_fails_nothing() {
    let Some(starman) = program_or_skip("starman_upgraded_under_load", "starman", "starman libserver-starter-perl") else { return };
    // SERVER_STARTER_PORT: starman serves it through Net::Server::SS::PreFork.
    // QUIT: starman's graceful stop, to the master only (kill_mode = mixed):
    // it lets its workers finish; a worker that gets QUIT itself exits at once.
    let (mut s, port) = app_server(
        "starman_upgraded_under_load",
        "app.psgi",
        PSGI_APP,
        &format!("{starman} --workers 2 --preload-app app.psgi"),
        "stop_signal = QUIT\nkill_mode = mixed\n",
    );
    // Never a refused or timed-out connection. A few resets are starman's
    // own: a worker HUPed by its draining master between accept(2) and
    // marking itself connected exits at once (Net::Server::PreFork's
    // run_child, `$SIG{HUP}`: `exit` unless connected), dropping the
    // connection it just took; Server::Starter deploys have the same race.
    real_server_upgrades(&mut s, port, 10, 10);
}

#[test]
fn gunicorn_draining_finishes_a_slow_request() {
    let Some(gunicorn) = program_or_skip("gunicorn_draining_finishes_slow", "gunicorn", "gunicorn") else { return };
    // --timeout 60: the master does not kill a worker in a slow request.
    let (mut s, port) = app_server(
        "gunicorn_draining_finishes_slow",
        "app.py",
        SLOW_WSGI_APP,
        &format!("{gunicorn} --workers 2 --timeout 60 app:app"),
        "stop_signal = TERM\nstop_timeout = 60s\n",
    );
    real_server_drains(&mut s, port, false);
}

#[test]
fn starman_draining_finishes_a_slow_request() {
    let Some(starman) = program_or_skip("starman_draining_finishes_slow", "starman", "starman libserver-starter-perl") else { return };
    let (mut s, port) = app_server(
        "starman_draining_finishes_slow",
        "app.psgi",
        SLOW_PSGI_APP,
        &format!("{starman} --workers 2 --preload-app app.psgi"),
        "stop_signal = QUIT\nkill_mode = mixed\nstop_timeout = 60s\n",
    );
    // An idle worker of the draining master may drop the connection it has
    // just accepted (starman's own race, as in the load test above).
    real_server_drains(&mut s, port, true);
}
