//! `svc status --json`: JSON Lines, one object per service, with null where a
//! value does not apply; checked against the plain status in every state.

mod common;
use common::*;
use std::process::{Command, Stdio};

const KEYS: [&str; 10] = ["name", "state", "pid", "uptime_ms", "restarts", "exit", "signal", "next_start_ms", "generation", "log_drops"];

/// Every key is there (and `note` at most besides), `name` is a string, the
/// counters are integers.
fn check_shape(o: &Json) {
    for k in KEYS {
        assert!(o.get(k).is_some(), "no {k:?} in {o:?}");
    }
    for k in o.keys() {
        assert!(KEYS.contains(&k) || k == "note" || k == "sockets" || k == "release", "unknown key {k:?} in {o:?}");
    }
    // The pinned release: null, or its program path and cwd (a string or null).
    let release = o.get("release").unwrap_or_else(|| panic!("no release in {o:?}"));
    assert!(
        release.is_null()
            || (release.get("exec").and_then(Json::as_str).is_some_and(|p| p.starts_with('/'))
                && release.get("cwd").is_some_and(|c| c.is_null() || c.as_str().is_some())),
        "{o:?}"
    );
    assert!(o.get("name").and_then(Json::as_str).is_some(), "{o:?}");
    assert!(o.get("state").and_then(Json::as_str).is_some(), "{o:?}");
    for k in ["restarts", "generation", "log_drops"] {
        assert!(o.get(k).and_then(Json::as_u64).is_some(), "{k} is not a count in {o:?}");
    }
    for k in ["pid", "uptime_ms", "exit", "next_start_ms"] {
        let v = o.get(k).unwrap();
        assert!(v.is_null() || v.as_u64().is_some(), "{k} is neither null nor a count in {o:?}");
    }
    let note = o.get("note");
    assert!(note.is_none_or(|n| n.is_null() || n.as_str().is_some()), "{o:?}");
}

/// The signal of `o` names KILL (by name, with or without SIG, or by number).
fn is_kill(o: &Json) -> bool {
    match o.get("signal") {
        Some(Json::Str(s)) => s == "KILL" || s == "SIGKILL" || s == "9",
        Some(Json::Num(n)) => n == "9",
        _ => false,
    }
}

/// A process svc started for the test, killed by pid (if still the same) when dropped.
struct EndOnDrop(u32, u64);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        if stat(self.0).is_some_and(|st| st.starttime == self.1 && st.state != 'Z') {
            let _ = Command::new("/bin/kill").arg("-KILL").arg(self.0.to_string()).stderr(Stdio::null()).status();
        }
    }
}

/// A client the test started, killed (by its pid) and reaped when dropped.
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn smoke_status_json() {
    let s = Svc::up("smoke_status_json", "[a.b-c_d]\nexec = /bin/sleep 1000\n\n[lazy]\nexec = /bin/sleep 1000\nstart = no\n");
    let pid = s.wait_running("a.b-c_d");
    let all = s.status_json(&[]);
    assert_eq!(all.len(), 2, "{all:?}");
    for o in &all {
        check_shape(o);
    }
    let a = s.json("a.b-c_d");
    assert_eq!(a.get("state").and_then(Json::as_str), Some("running"));
    assert_eq!(a.get("pid").and_then(Json::as_u64), Some(pid as u64));
    assert!(a.get("uptime_ms").and_then(Json::as_u64).is_some(), "{a:?}");
    assert!(a.get("exit").unwrap().is_null() && a.get("signal").unwrap().is_null() && a.get("next_start_ms").unwrap().is_null(), "{a:?}");
    let lazy = s.json("lazy");
    assert_eq!(lazy.get("state").and_then(Json::as_str), Some("stopped"));
    assert!(lazy.get("pid").unwrap().is_null() && lazy.get("uptime_ms").unwrap().is_null(), "{lazy:?}");
    assert_eq!(lazy.get("restarts").and_then(Json::as_u64), Some(0));
    // Only the named ones.
    let one = s.status_json(&["lazy"]);
    assert_eq!(one.len(), 1, "{one:?}");
}

#[test]
fn status_json_in_every_state() {
    let mut s = Svc::new("status_json_states");
    let crash = s.script("crash", "exit 1\n");
    let deaf = s.script("deaf", "trap '' TERM\nexec /bin/sleep 1000\n");
    s.write_config(&format!(
        "[starting]\nexec = /bin/sleep 1000\nready = fd:5\nready_timeout = 10m\n\n\
         [running]\nexec = /bin/sleep 1000\n\n\
         [a.b-c_d]\nexec = /bin/sleep 1000\n\n\
         [backoff]\nexec = {crash}\nbackoff = 1m 1m\n\n\
         [stopping]\nexec = {deaf}\nstop_timeout = 10m\n\n\
         [stopped]\nexec = /bin/sleep 1000\nstart = no\n\n\
         [done]\nexec = /bin/true\noneshot = yes\n\n\
         [failed]\nexec = {crash}\nrestart = never\n\n\
         [killed]\nexec = /bin/sleep 1000\nrestart = never\n"
    ));
    s.start();
    s.wait_state("starting", "starting", secs(10));
    s.wait_running("running");
    s.wait_running("a.b-c_d");
    s.wait_state("backoff", "backoff", secs(10));
    s.wait_state("done", "done", secs(10));
    s.wait_state("failed", "failed", secs(10));
    let killed = s.wait_running("killed");
    kill(killed, "KILL");
    s.wait_state("killed", "failed", secs(10));
    let deaf_pid = s.wait_running("stopping");
    // A stop that waits out the 10m stop_timeout, in the background; ended below.
    let conf = s.conf_str();
    let _deaf = EndOnDrop(deaf_pid, stat(deaf_pid).unwrap().starttime);
    let mut stopper = Reap(
        svc(&["stop", "-c", &conf, "stopping"]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("svc stop"),
    );
    s.wait_state("stopping", "stopping", secs(10));

    let plain = text(&s.run(&["status"]).stdout);
    let out = s.run(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let body = text(&out.stdout);
    // Valid JSON Lines for python too.
    if let Some(py) = python_json_lines(&s.path("status.jsonl"), &body) {
        assert_eq!(py.status.code(), Some(0), "python3 -m json.tool --json-lines refused:\n{body}\n{}", show(&py));
        let names = Command::new("python3")
            .args(["-c", "import json,sys\nfor l in open(sys.argv[1]): print(json.loads(l)['name'])"])
            .arg(s.path("status.jsonl"))
            .output()
            .expect("python3");
        let mut names: Vec<String> = text(&names.stdout).lines().map(String::from).collect();
        names.sort();
        assert!(names.contains(&"a.b-c_d".to_string()), "{names:?}");
    }
    let all = s.status_json(&[]);
    let names = ["starting", "running", "a.b-c_d", "backoff", "stopping", "stopped", "done", "failed", "killed"];
    assert_eq!(all.len(), names.len(), "one line per service:\n{body}");
    assert_eq!(body.lines().count(), names.len(), "one object per line:\n{body}");
    for name in names {
        let o = all
            .iter()
            .find(|o| o.get("name").and_then(Json::as_str) == Some(name))
            .unwrap_or_else(|| panic!("no object for {name}:\n{body}"));
        check_shape(o);
        let line = status_fields(&plain, name).unwrap_or_else(|| panic!("no plain line for {name}:\n{plain}"));
        let state = o.get("state").and_then(Json::as_str).unwrap();
        assert_eq!(state, line[1], "{name}: {o:?} vs {line:?}");
        let want_state = match name {
            "a.b-c_d" => "running",
            "killed" => "failed",
            n => n,
        };
        assert_eq!(state, want_state, "{name}: {o:?}");
        assert_eq!(o.get("restarts").and_then(Json::as_u64).map(|n| n.to_string()).as_deref(), Some(line[4].as_str()), "{name}");
        let pid = o.get("pid").unwrap();
        let up = matches!(state, "starting" | "running" | "stopping");
        if up {
            assert_eq!(pid.as_u64().map(|p| p.to_string()).as_deref(), Some(line[2].as_str()), "{name}: {o:?}");
            assert!(o.get("uptime_ms").and_then(Json::as_u64).is_some(), "{name}: {o:?}");
        } else {
            assert!(pid.is_null(), "{name}: a pid while not running: {o:?}");
            assert!(o.get("uptime_ms").unwrap().is_null(), "{name}: an uptime while not running: {o:?}");
        }
        let next = o.get("next_start_ms").unwrap();
        match name {
            "backoff" => assert!(next.as_u64().is_some_and(|n| n > 0), "{o:?}"),
            _ => assert!(next.is_null(), "{name}: {o:?}"),
        }
        let (exit, killed_by) = (o.get("exit").unwrap(), is_kill(o));
        match name {
            "backoff" | "failed" => assert!(exit.as_u64() == Some(1) && o.get("signal").unwrap().is_null(), "{name}: {o:?}"),
            "done" => assert!(exit.as_u64() == Some(0) && o.get("signal").unwrap().is_null(), "{name}: {o:?}"),
            "killed" => assert!(exit.is_null() && killed_by, "{name}: {o:?}"),
            _ => assert!(exit.is_null() && o.get("signal").unwrap().is_null(), "{name}: {o:?}"),
        }
        assert_eq!(o.get("log_drops").and_then(Json::as_u64), Some(0), "{name}");
    }
    // Named ones only, and the odd name round-trips.
    let two = s.status_json(&["a.b-c_d", "backoff"]);
    let mut got: Vec<&str> = two.iter().filter_map(|o| o.get("name").and_then(Json::as_str)).collect();
    got.sort();
    assert_eq!(got, ["a.b-c_d", "backoff"]);
    assert_ne!(s.run(&["status", "--json", "nosuch"]).status.code(), Some(0));

    // End the stop: the deaf process is killed (it is ours, through svc).
    kill(deaf_pid, "KILL");
    let st = wait_within(&mut stopper.0, CLIENT_TIMEOUT);
    assert!(st.is_some(), "svc stop did not return once the service was gone");
    s.wait_state("stopping", "stopped", secs(10));
}
