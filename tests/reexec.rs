//! `svc reexec`: svc replaces its own binary and keeps every service,
//! socket, log and counter; bad targets are refused with nothing changed.
mod common;
use common::*;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Instant;

/// `svc reexec ARGS`: its output, after checking it worked.
fn reexec_ok(s: &Svc, args: &[&str]) -> String {
    let mut words = vec!["reexec"];
    words.extend(args);
    let out = s.run(&words);
    assert_eq!(out.status.code(), Some(0), "svc reexec {args:?}: {}\nsvc's stderr:\n{}", show(&out), s.stderr_text());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The build id `svc version` prints.
fn build_id(bin: &std::path::Path) -> String {
    let out = command_for(bin).arg("version").output().expect("svc version");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split("build ").nth(1).and_then(|t| t.split(')').next()).unwrap_or_else(|| panic!("no build id in {text:?}")).to_string()
}

/// What must not change across a reexec: every status field but the
/// clocks (uptime grows, a backoff's wait shrinks), with the note kept only
/// when it is not a countdown.
fn snapshot(s: &Svc, names: &[&str]) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out = BTreeMap::new();
    for j in s.status_json(names) {
        let name = j.get("name").and_then(|n| n.as_str()).expect("a name").to_string();
        let mut fields = Vec::new();
        for k in ["state", "pid", "restarts", "exit", "signal", "generation", "log_drops", "sockets", "note", "release"] {
            let v = format!("{:?}", j.get(k));
            // A backoff's countdown moves on.
            let v = if v.contains("start in ") { "a countdown".to_string() } else { v };
            fields.push((k.to_string(), v));
        }
        out.insert(name, fields);
    }
    out
}

fn millis(s: &Svc, name: &str, key: &str) -> Option<u64> {
    s.json(name).get(key).and_then(|v| v.as_u64())
}

/// The test server, a service in backoff, a oneshot that is done, one
/// stopped by hand, and one that prints every 50 ms into a ring.
fn five_services(s: &mut Svc, port: u16) {
    let talk = s.script("talk", "i=0\nwhile [ $i -lt 100000 ]; do i=$((i+1)); echo \"line $i\"; sleep 0.05; done\n");
    let stop = s.script("stop", "while [ ! -e {DIR}/stop-now ]; do sleep 0.02; done\nexit 7\n");
    s.write_config(&format!(
        "[web]\nexec = {}\nlisten = tcp:127.0.0.1:{port}\n\
         [flaky]\nexec = /bin/false\nbackoff = 1h 1h\n\
         [job]\nexec = /bin/true\noneshot = yes\n\
         [idle]\nexec = /bin/sleep 3600\n\
         [talk]\nexec = {talk}\nlog = ring:64k\n\
         [quits]\nexec = {stop}\nrestart = never\n",
        echo_exec("")
    ));
    s.start();
    s.wait_running("web");
    s.wait_running("talk");
    s.wait_state("flaky", "backoff", secs(10));
    s.wait_state("job", "done", secs(10));
    s.wait_running("idle");
    let out = s.run(&["stop", "idle"]);
    assert_eq!(out.status.code(), Some(0), "stop idle: {}", show(&out));
}

/// The numbers of `line N` texts, in order.
fn numbers(lines: &[String]) -> Vec<u64> {
    lines.iter().filter_map(|l| log_text(l)).filter_map(|t| t.strip_prefix("line ")).filter_map(|n| n.parse().ok()).collect()
}

#[test]
fn reexec_keeps_everything_under_load() {
    const REEXECS: usize = 10;
    let port = free_tcp_port();
    let mut s = Svc::new("reexec_keeps_everything_under_load");
    five_services(&mut s, port);
    let svc_pid = s.svc_pid();
    let id = build_id(&bin());
    let names = ["web", "flaky", "job", "idle", "talk", "quits"];
    let follower = Follower::start(&s, &["log", "-f", "talk"]);
    follower.expect(secs(10), "the follower's first line");
    let web = s.wait_running("web");
    // Pinned releases are carried: web runs one.
    assert!(s.json("web").get("release").is_some_and(|r| !r.is_null()), "{:?}", s.json("web"));
    let load = Load::start(LoadSpec { max_attempts: 100_000, max_time: secs(300), ..LoadSpec::new(Target::tcp(port), 2) });

    for k in 0..REEXECS {
        wait_until(secs(10), &format!("an answer before reexec {k}"), || load.tally().ok > k as u64 * 5);
        let before = snapshot(&s, &names);
        let uptime = millis(&s, "talk", "uptime_ms").expect("talk's uptime");
        let next_start = millis(&s, "flaky", "next_start_ms").expect("flaky's next start");
        let ring = s.log_lines("talk", &[]);
        let t0 = Instant::now();
        let out = reexec_ok(&s, &[]);
        assert_eq!(out.trim(), format!("reexec: {id} -> {id}"), "reexec {k}");
        let elapsed = t0.elapsed().as_millis() as u64;
        assert_eq!(snapshot(&s, &names), before, "reexec {k}: status changed");
        assert!(millis(&s, "talk", "uptime_ms").expect("uptime") >= uptime, "reexec {k}: talk's uptime was reset");
        let left = millis(&s, "flaky", "next_start_ms").expect("next start");
        assert!(left <= next_start && left + elapsed + 2000 >= next_start, "reexec {k}: backoff {next_start} ms became {left} ms");
        let after = s.log_lines("talk", &[]);
        assert!(after.len() >= ring.len() && after[..ring.len()] == ring[..], "reexec {k}: the ring lost or changed lines");
        assert_eq!(s.svc_pid(), svc_pid);
        assert!(s.svc_running(), "svc exited:\n{}", s.stderr_text());
        let exe = fs::read_link(format!("/proc/{svc_pid}/exe")).expect("svc's exe");
        assert_eq!(exe, fs::canonicalize(bin()).expect("the binary"), "reexec {k}: svc runs another binary");
    }
    wait_until(secs(10), "an answer after the reexecs", || load.tally().pids.contains(&web));
    let t = load.finish();
    assert_eq!((t.refused, t.reset, t.timed_out, t.empty, t.bad), (0, 0, 0, 0, 0), "failed connections over {REEXECS} reexecs: {t}");

    // The follower saw every line once, in order, across the reexecs, up to
    // the last line the ring has now.
    let last = *numbers(&s.log_lines("talk", &[])).last().expect("talk's lines");
    let mut n = Vec::new();
    for _ in 0..100_000 {
        let Some(l) = follower.next(secs(5)) else { break };
        n.extend(numbers(&[l]));
        if n.last().is_some_and(|&x| x >= last) {
            break;
        }
    }
    assert!(n.last().is_some_and(|&x| x >= last), "the follower stopped before line {last}: {:?}", n.last());
    assert!(n.windows(2).all(|w| w[1] == w[0] + 1), "the follower skipped or repeated lines: {n:?}");

    // A service killed after the reexecs is restarted by the new image; one
    // that exits during a reexec is reported with its own exit status.
    let talk = s.wait_running("talk");
    kill(talk, "KILL");
    wait_until(secs(10), "talk restarted", || s.pid("talk").is_some_and(|p| p != talk));
    fs::write(s.path("stop-now"), "").expect("stop-now");
    reexec_ok(&s, &[]);
    s.wait_state("quits", "failed", secs(10));
    assert_eq!(s.json("quits").get("exit").and_then(|e| e.as_u64()), Some(7), "{:?}", s.json("quits"));
}

#[test]
fn reexec_refuses_bad_targets_and_changes_nothing() {
    let port = free_tcp_port();
    let mut s = Svc::new("reexec_refuses_bad_targets");
    five_services(&mut s, port);
    let names = ["web", "flaky", "job", "idle", "talk", "quits"];
    let svc_pid = s.svc_pid();
    let exe = fs::read_link(format!("/proc/{svc_pid}/exe")).expect("svc's exe");
    let binary = fs::read(bin()).expect("the binary");
    let dir = s.dir.clone();
    let write = |name: &str, bytes: &[u8], mode: u32| {
        let p = dir.join(name);
        fs::write(&p, bytes).expect("write");
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).expect("chmod");
        p.display().to_string()
    };
    let truncated = write("truncated", &binary[..16 * 1024], 0o755);
    let not_exec = write("not-exec", &binary, 0o644);
    let text = write("script", b"#!/bin/sh\nexit 0\n", 0o755);
    // A FIFO no one writes to: opening it to read would block svc.
    let fifo = s.p("fifo");
    let mk = output_within(std::process::Command::new("mkfifo").args(["-m", "700", &fifo]), CLIENT_TIMEOUT);
    assert!(mk.status.success(), "mkfifo: {}", show(&mk));
    let cases = [
        // Refused at once, and svc answers status after it (the snapshots).
        (fifo, "not a regular file"),
        // Exit 0 does not show the target read the state: only svc's 93 does.
        ("/bin/true".to_string(), "the probe failed (exit 0, not 93)"),
        ("/bin/false".to_string(), "the probe failed (exit 1, not 93)"),
        (s.p("missing"), "cannot read it"),
        (not_exec, "the probe failed (exit 127, not 93)"),
        (truncated, "the probe"),
        (text, "not an ELF binary"),
    ];
    for (target, why) in cases {
        let before = snapshot(&s, &names);
        let out = s.run(&["reexec", "-x", &target]);
        assert_eq!(out.status.code(), Some(1), "reexec -x {target}: {}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&target) && err.contains(why), "reexec -x {target}: want {why:?}: {err}");
        assert_eq!(snapshot(&s, &names), before, "reexec -x {target} changed the services");
        assert_eq!(fs::read_link(format!("/proc/{svc_pid}/exe")).expect("exe"), exe);
        assert!(s.svc_running(), "svc exited after -x {target}:\n{}", s.stderr_text());
    }

    // A binary with another build id (a copy with its id patched) is taken,
    // and the reply names both.
    let id = build_id(&bin());
    let other: String = id.chars().map(|c| if c == '0' { '1' } else { '0' }).collect();
    // Every copy of it (a debug build may keep more than one).
    let at: Vec<usize> = binary.windows(id.len()).enumerate().filter(|(_, w)| *w == id.as_bytes()).map(|(i, _)| i).collect();
    assert!(!at.is_empty(), "the build id in the binary");
    let mut patched = binary.clone();
    for i in at {
        patched[i..i + id.len()].copy_from_slice(other.as_bytes());
    }
    let newer = write("svc-other", &patched, 0o755);
    let before = snapshot(&s, &names);
    assert_eq!(reexec_ok(&s, &["-x", &newer]).trim(), format!("reexec: {id} -> {other}"));
    assert_eq!(snapshot(&s, &names), before);
    assert_eq!(fs::read_link(format!("/proc/{svc_pid}/exe")).expect("exe").display().to_string(), newer);
    // And back: the new image reads the state its predecessor wrote.
    assert_eq!(reexec_ok(&s, &["-x", &bin().display().to_string()]).trim(), format!("reexec: {other} -> {id}"));
    assert_eq!(snapshot(&s, &names), before);
}

#[test]
fn reexec_does_not_read_the_config() {
    let mut s = Svc::up("reexec_does_not_read_the_config", "[a]\nexec = /bin/sleep 3600\n");
    let a = s.wait_running("a");
    // The text in force is the last one loaded: a reload's (b added).
    s.write_config("[a]\nexec = /bin/sleep 3600\n[b]\nexec = /bin/sleep 3601\n");
    let out = s.run(&["reload"]);
    assert_eq!(out.status.code(), Some(0), "reload: {}", show(&out));
    let b = s.wait_running("b");
    // A refused reload leaves it in force.
    s.write_config("[a]\nexec = /bin/sleep 3600\nthis is not a key\n");
    let out = s.run(&["reload"]);
    assert_eq!(out.status.code(), Some(1), "reload of a bad file: {}", show(&out));
    reexec_ok(&s, &[]);
    assert_eq!((s.pid("a"), s.pid("b")), (Some(a), Some(b)));
    // b's definition came along: killed, it is started again.
    kill(b, "KILL");
    let b = wait_for(secs(10), "b restarted", || s.pid("b").filter(|&p| p != b));
    // The file is read again by a reload only, which refuses it.
    let out = s.run(&["reload"]);
    assert_eq!(out.status.code(), Some(1), "reload of a bad file: {}", show(&out));
    assert_eq!((s.pid("a"), s.pid("b")), (Some(a), Some(b)));
    assert!(s.svc_running());
}

#[test]
fn a_probe_that_hangs_is_killed_and_svc_answers_meanwhile() {
    let mut s = Svc::up("a_probe_that_hangs", "[a]\nexec = /bin/sleep 3600\n");
    let a = s.wait_running("a");
    let hang = hang().display().to_string();
    let client = std::thread::spawn({
        let sock = s.sock.display().to_string();
        let hang = hang.clone();
        move || svc(&["reexec", "-s", &sock, "-x", &hang]).output().expect("svc reexec")
    });
    // The loop does not wait for the probe: status answers meanwhile.
    wait_until(secs(5), "the probe running", || {
        descendants(s.svc_pid()).iter().any(|(p, _)| cmdline(*p).join(" ").contains("reexec --state"))
    });
    assert_eq!(s.pid("a"), Some(a));
    let out = client.join().expect("the client");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the probe took over 5s"), "{}", show(&out));
    assert!(!descendants(s.svc_pid()).iter().any(|(p, _)| cmdline(*p).join(" ").contains("reexec --state")), "the probe was not killed");
    assert_eq!(s.pid("a"), Some(a));
    assert!(s.svc_running());
}

/// Clock ticks of CPU time (user + system) PID has used.
fn cpu_ticks(pid: u32) -> u64 {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<u64> = s.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace().filter_map(|w| w.parse().ok()).collect();
    // After the name: state (not a number), then fields 4 on; utime and stime are fields 14 and 15.
    f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0)
}

/// The asker hangs up while the probe runs and an unrelated client connects
/// into its slot: that connection is not handed to the new image (which has
/// no job for it), so svc does not spin once that client hangs up.
#[test]
fn a_client_in_the_askers_slot_is_not_handed_over() {
    if !runner().is_empty() {
        return eprintln!("note: a_client_in_the_askers_slot runs host programs as the target; skipped under {:?}", runner());
    }
    let s = Svc::up("reexec_askers_slot", "[a]\nexec = /bin/sleep 3600\n");
    let a = s.wait_running("a");
    // A target that waits 2 s before it runs svc (as probe and as new image).
    let slow = s.path("slow");
    let real = s.path("slow-real");
    fs::copy(common::slow(), &slow).expect("copy the helper");
    fs::copy(bin(), &real).expect("copy the binary");
    for p in [&slow, &real] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let svc_pid = s.svc_pid();
    let sock = s.sock.display().to_string();
    let slow_path = slow.display().to_string();
    let mut asker = svc(&["reexec", "-s", &sock, "-x", &slow_path])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("svc reexec");
    wait_until(secs(5), "the probe running", || descendants(svc_pid).iter().any(|(p, _)| cmdline(*p).join(" ").contains("reexec --state")));
    asker.kill().expect("kill the asker");
    asker.wait().expect("reap the asker");
    // svc drops the asker (status answers after it has read the hangup);
    // the next connection takes the lowest free slot: the asker's.
    assert_eq!(s.pid("a"), Some(a));
    let raw = s.connect();
    let exe = |p: u32| fs::read_link(format!("/proc/{p}/exe")).ok();
    wait_until(secs(15), "the new image running", || exe(svc_pid) == Some(real.clone()) && s.pid("a") == Some(a));
    drop(raw);
    assert_eq!(s.pid("a"), Some(a));
    let before = cpu_ticks(svc_pid);
    std::thread::sleep(secs(2));
    let used = cpu_ticks(svc_pid) - before;
    // Spinning on the orphaned fd takes every tick it gets (up to 200 in
    // 2 s; over 40 on a busy 2-core machine); idle, none.
    assert!(used < 10, "svc used {used} ticks of CPU in 2 s while idle\nsvc's stderr:\n{}", s.stderr_text());
    assert_eq!(s.pid("a"), Some(a));
}

/// svc as PID 1 of fresh PID and mount namespaces (as tests/crash.rs
/// runs it), started from a copy of the binary that a package upgrade then
/// replaces (a new file renamed over it): SIGQUIT re-executes the binary
/// now at that path, as busybox init does, and every service is kept.
#[test]
fn as_pid1_sigquit_reexecs_the_binary_now_at_its_path() {
    if !runner().is_empty() {
        return eprintln!("note: as_pid1_sigquit runs the host binary only; skipped under {:?}", runner());
    }
    let mut s = Svc::new("reexec_sigquit_pid1");
    s.write("console", "");
    let binary = fs::read(bin()).expect("the binary");
    let copy = s.path("svc-copy");
    fs::write(&copy, &binary).expect("copy");
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).expect("chmod");
    let ticker = s.script("ticker", "i=0\nwhile [ $i -lt 100000 ]; do i=$((i+1)); echo \"tick $i\"; sleep 0.1; done\n");
    s.write_config(&format!("[ticker]\nexec = {ticker}\nlog = ring:8k\n\n[quiet]\nexec = /bin/sleep 1000\n"));
    let console = s.p("console");
    // (The wrapper's last word before the arguments is the binary under test: the copy runs instead.)
    let bind = "{ [ -e /dev/console ] || : > /dev/console; } && mount --bind \"$0\" /dev/console && shift && exec \"$COPY\" \"$@\"";
    let copy_s = copy.display().to_string();
    s.spawn_wrapped(&["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "sh", "-c", bind, &console], &[("COPY", &copy_s)]);
    s.wait_up();
    let (quiet, ticker) = (s.wait_running("quiet"), s.wait_running("ticker"));
    wait_until(secs(10), "the ticker's first lines", || s.log_lines("ticker", &[]).len() >= 2);
    let svc = wait_for(secs(10), "svc under unshare", || children_of(s.svc_pid()).first().copied());
    let exe = || fs::read_link(format!("/proc/{svc}/exe")).map(|p| p.display().to_string()).unwrap_or_default();
    assert_eq!(exe(), copy_s);
    // The upgrade: a new file renamed over the old one.
    let new = s.path("svc-copy.new");
    fs::write(&new, &binary).expect("new copy");
    fs::set_permissions(&new, fs::Permissions::from_mode(0o755)).expect("chmod");
    fs::rename(&new, &copy).expect("rename");
    assert_eq!(exe(), format!("{copy_s} (deleted)"));
    let ring = s.log_lines("ticker", &[]);
    kill(svc, "QUIT");
    wait_until(secs(10), &format!("svc to run the new file; svc's stderr:\n{}", s.stderr_text()), || exe() == copy_s);
    assert!(s.svc_running(), "{}", s.stderr_text());
    assert_eq!((s.pid("quiet"), s.pid("ticker")), (Some(quiet), Some(ticker)), "{}", s.stderr_text());
    let after = s.log_lines("ticker", &[]);
    assert!(after.len() >= ring.len() && after[..ring.len()] == ring[..], "the ring lost lines");
    assert_eq!(children_of(svc).len(), 2, "nothing started twice");
    s.stop_svc("KILL");
}

/// `svc ARGS` on a thread of its own, for a request that waits on the test
/// (a stop that hangs, an upgrade waiting for readiness); 60 s at most.
fn in_background(s: &Svc, args: &[&str]) -> std::thread::JoinHandle<std::process::Output> {
    let mut words: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    words.splice(1..1, ["-c".to_string(), s.conf_str(), "-s".to_string(), s.sock.display().to_string()]);
    std::thread::spawn(move || {
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        output_within(&mut svc(&w), secs(60))
    })
}

/// `svc reexec` refused as busy: exit 1, `why` on stderr, and nothing
/// changed (svc's pid and binary, every service's status and instances).
fn assert_busy(s: &Svc, names: &[&str], why: &str) {
    let svc_pid = s.svc_pid();
    let exe = fs::read_link(format!("/proc/{svc_pid}/exe")).expect("svc's exe");
    let before = snapshot(s, names);
    // Each service's instances: pid, role and state (their uptimes go on).
    let instances = || -> Vec<Vec<String>> {
        let of = |i: &Json| ["pid", "role", "state"].map(|k| format!("{:?}", i.get(k))).join(" ");
        names
            .iter()
            .map(|n| match s.json(n).get("instances") {
                Some(Json::Arr(l)) => l.iter().map(of).collect(),
                _ => Vec::new(),
            })
            .collect()
    };
    let inst = instances();
    let out = s.run(&["reexec"]);
    assert_eq!(out.status.code(), Some(1), "svc reexec while {why}: {}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(why), "svc reexec: want {why:?}: {}", show(&out));
    assert_eq!(snapshot(s, names), before, "a refused reexec changed the services");
    assert_eq!(instances(), inst, "a refused reexec changed the instances");
    assert_eq!(s.svc_pid(), svc_pid);
    assert_eq!(fs::read_link(format!("/proc/{svc_pid}/exe")).expect("svc's exe"), exe);
}

/// A reexec does not cut short a stop or an upgrade: while one is under
/// way it is refused (`busy: stopping NAME`, `busy: upgrading NAME`, exit
/// 1) with nothing changed; once it is over, the same reexec is taken.
#[test]
fn reexec_is_refused_while_a_stop_or_an_upgrade_is_under_way() {
    let port = free_tcp_port();
    let mut s = Svc::new("reexec_busy");
    let ready = s.path("ready");
    // Ignores TERM (sleep inherits that) and may take a minute to stop.
    let stubborn = s.script("stubborn", "trap '' TERM\nexec /bin/sleep 3600\n");
    s.write_config(&format!(
        "[stubborn]\nexec = {stubborn}\nstop_timeout = 60s\n\
         [web]\nexec = {}\nlisten = tcp:127.0.0.1:{port}\nready = fd:4\nenv = READY_FILE={}\n\
         [idle]\nexec = /bin/sleep 3600\n",
        echo_exec("--ready-fd 4"),
        ready.display()
    ));
    fs::write(&ready, "").expect("create the ready file");
    s.start();
    let names = ["stubborn", "web", "idle"];
    let (stubborn, old, idle) = (s.wait_running("stubborn"), s.wait_running("web"), s.wait_running("idle"));

    // A stop that hangs: stubborn ignores its TERM.
    let stop = in_background(&s, &["stop", "stubborn"]);
    s.wait_state("stubborn", "stopping", secs(10));
    assert_busy(&s, &names, "busy: stopping stubborn");
    assert_eq!((s.pid("stubborn"), s.pid("idle")), (Some(stubborn), Some(idle)));
    kill(stubborn, "KILL");
    let out = stop.join().expect("the stop thread");
    assert_eq!(out.status.code(), Some(0), "svc stop stubborn: {}", show(&out));
    s.wait_state("stubborn", "stopped", secs(10));

    // An upgrade waiting for its new instance's readiness.
    fs::remove_file(&ready).expect("remove the ready file");
    let up = in_background(&s, &["upgrade", "web"]);
    let new = wait_for(secs(20), "web's new instance", || {
        let j = s.json("web");
        let Some(Json::Arr(list)) = j.get("instances") else { return None };
        list.iter().find(|i| i.get("role").and_then(|r| r.as_str()) == Some("new")).and_then(|i| i.get("pid")?.as_u64())
    });
    assert_busy(&s, &names, "busy: upgrading web");
    assert_eq!(s.pid("web"), Some(old), "the old instance serves on");
    assert!(!up.is_finished(), "the upgrade ended while its new instance was not ready");
    fs::write(&ready, "").expect("create the ready file");
    let out = up.join().expect("the upgrade thread");
    assert_eq!(out.status.code(), Some(0), "svc upgrade web: {}", show(&out));
    assert_eq!(s.pid("web"), Some(new as u32));
    wait_until(secs(20), "web's old instance gone", || s.json("web").get("instances").is_none());

    // Nothing under way: the reexec is taken.
    reexec_ok(&s, &[]);
    assert_eq!((s.pid("web"), s.pid("idle")), (Some(new as u32), Some(idle)));
    assert!(s.svc_running(), "{}", s.stderr_text());
}
