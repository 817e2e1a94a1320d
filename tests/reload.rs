//! `svc reload` and SIGHUP: the config file svc was started with is read
//! again; added services start, removed ones stop, changed ones restart or
//! take new settings in place, unchanged ones are not touched; an invalid
//! file changes nothing; `--dry-run` only says what would happen.

mod common;
use common::*;
use std::fs;
use std::process::Output;

/// A service that records every HUP and TERM it gets: one that must not be touched.
fn watcher(s: &Svc, name: &str) -> String {
    s.script(
        name,
        &format!(
            "trap 'echo hup >> {{DIR}}/{name}.signals' HUP\ntrap 'echo term >> {{DIR}}/{name}.signals; exit 0' TERM\n\
             touch {{DIR}}/{name}.ready\ni=0\nwhile [ $i -lt 20000 ]; do /bin/sleep 0.05; i=$((i+1)); done\n"
        ),
    )
}

fn reload(s: &Svc, args: &[&str]) -> Output {
    let mut words = vec!["reload"];
    words.extend(args);
    s.run(&words)
}

/// `svc reload`, asserting exit 0; the reply lines.
fn reload_ok(s: &Svc, args: &[&str]) -> Vec<Vec<String>> {
    let out = reload(s, args);
    assert_eq!(out.status.code(), Some(0), "svc reload {args:?}: {}", show(&out));
    reload_lines(&out)
}

/// The (ACTION, NAME) pairs of reply lines, sorted by name.
fn actions(lines: &[Vec<String>]) -> Vec<(String, String)> {
    lines.iter().map(|l| (l.first().cloned().unwrap_or_default(), l.get(1).cloned().unwrap_or_default())).collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = v.iter().map(|(a, n)| (a.to_string(), n.to_string())).collect();
    v.sort_by(|a, b| a.1.cmp(&b.1));
    v
}

/// The process with this pid and start time is gone, waiting a little for the reap.
fn wait_gone(pid: u32, born: u64, what: &str) {
    wait_until(secs(10), what, || gone(pid, born));
}

/// uptime_ms of NAME (it must be up).
fn uptime_ms(s: &Svc, name: &str) -> u64 {
    let o = s.json(name);
    o.get("uptime_ms").and_then(Json::as_u64).unwrap_or_else(|| panic!("no uptime_ms for {name}: {o:?}"))
}

#[test]
fn smoke_reload_adds_and_removes() {
    let mut s = Svc::new("smoke_reload");
    s.write_config("[a]\nexec = /bin/sleep 1000\n\n[b]\nexec = /bin/sleep 1001\n");
    s.start();
    let a = s.wait_running("a");
    let b = s.wait_running("b");
    let (a_born, b_born) = (stat(a).unwrap().starttime, stat(b).unwrap().starttime);

    // A comment line first moves every line: a is still unchanged.
    s.write_config("# moved\n\n[a]\nexec = /bin/sleep 1000\n\n[c]\nexec = /bin/sleep 1002\n");
    let lines = reload_ok(&s, &[]);
    assert_eq!(lines, [vec!["kept", "a"], vec!["removed", "b"], vec!["added", "c", "running"]], "reply");
    // The reply came once c was running.
    let c = s.pid("c").unwrap_or_else(|| panic!("c has no pid after the reload: {:?}", s.status_line("c")));
    assert_eq!(s.state("c").as_deref(), Some("running"));
    assert_eq!(cmdline(c), [pinned("/bin/sleep").as_str(), "1002"]);
    assert_eq!(stat(c).map(|st| st.ppid), Some(s.svc_pid()));
    wait_gone(b, b_born, "the removed service's process to end");
    assert!(s.status_line("b").is_none(), "b is still listed: {:?}", s.status_line("b"));
    assert_eq!(s.pid("a"), Some(a));
    assert_eq!(stat(a).map(|st| st.starttime), Some(a_born));
    assert_eq!(s.restarts("a"), Some(0));
    assert!(s.svc_running());
}

/// Process-affecting settings of the services that change; `new` picks the second version.
fn process_config(s: &Svc, new: bool, kept: &str) -> String {
    let pick = |old: &str, nw: &str| if new { nw.to_string() } else { old.to_string() };
    format!(
        "{}[base]\nexec = /bin/sleep 1000\n\n\
         [kept]\nexec = {kept}\nenv_file = {dir}/kept.env\nenv = K=1\n\n\
         [r_exec]\nexec = {}\n\n\
         [r_cwd]\nexec = /bin/sleep 1000\ncwd = {}\n\n\
         [r_env]\nexec = /bin/sleep 1000\nenv = A={}\n\n\
         [r_envfile]\nexec = /bin/sleep 1000\nenv_file = {dir}/r.env\n\n\
         [r_nofile]\nexec = /bin/sleep 1000\nnofile = {}\n\n\
         [r_log]\nexec = /bin/sleep 1000\nlog = {}\n\n\
         [r_ready]\nexec = /bin/sleep 1000\nready = {}\n",
        pick("", "# the second version\n\n"),
        pick("/bin/sleep 1000", "/bin/sleep 1001"),
        pick(&s.dir.display().to_string(), &s.p("sub")),
        pick("1", "2"),
        pick("200", "201"),
        pick("ring:4k", "null"),
        pick("none", "delay:200ms"),
        dir = s.dir.display(),
    )
}

/// Soft and hard "Max open files" of `pid`.
fn nofile(pid: u32) -> Vec<String> {
    let t = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
    let l = t.lines().find(|l| l.starts_with("Max open files")).unwrap_or_else(|| panic!("no nofile limit for {pid}:\n{t}"));
    l.trim_start_matches("Max open files").split_whitespace().take(2).map(String::from).collect()
}

#[test]
fn reload_restarts_services_whose_process_changed() {
    let mut s = Svc::new("reload_restarts");
    fs::create_dir(s.path("sub")).unwrap();
    s.write("kept.env", "KEPT=1\n");
    s.write("r.env", "B=1\n");
    let kept = watcher(&s, "kept");
    s.write_config(&process_config(&s, false, &kept));
    s.start();
    let changed = ["r_exec", "r_cwd", "r_env", "r_envfile", "r_nofile", "r_log", "r_ready"];
    let mut before = Vec::new();
    for name in changed.iter().chain(&["base", "kept"]) {
        let pid = s.wait_running(name);
        before.push((*name, pid, stat(pid).unwrap().starttime, s.generation(name)));
    }
    wait_until(secs(5), "kept's traps", || s.path("kept.ready").exists());
    let kept_uptime = uptime_ms(&s, "kept");
    assert_eq!(nofile(s.pid("r_nofile").unwrap()), ["200", "200"]);

    // Only the contents of r.env change for r_envfile: its section is the same text.
    s.write("r.env", "B=2\n");
    s.write_config(&process_config(&s, true, &kept));
    let lines = reload_ok(&s, &[]);
    let mut want: Vec<(&str, &str)> = changed.iter().map(|n| ("restarted", *n)).collect();
    want.extend([("kept", "base"), ("kept", "kept")]);
    assert_eq!(actions(&lines), pairs(&want), "reply {lines:?}");

    for (name, old, born, generation) in &before {
        let line = reload_line(&lines, name);
        let now = s.pid(name);
        if changed.contains(name) {
            // The reply came once the new instance was ready.
            assert_eq!(line, ["restarted", *name, "running"], "{name}");
            assert_eq!(s.state(name).as_deref(), Some("running"), "{name} right after the reload");
            let new = now.unwrap_or_else(|| panic!("{name} has no pid"));
            assert_ne!(new, *old, "{name} was not restarted");
            wait_gone(*old, *born, &format!("{name}'s old process to end"));
            assert!(s.generation(name) > *generation, "{name}'s generation did not grow");
        } else {
            assert_eq!(line.len(), 2, "{name}: {line:?}");
            assert_eq!(now, Some(*old), "{name} was touched");
            assert_eq!(stat(*old).map(|st| st.starttime), Some(*born), "{name} was touched");
            assert_eq!(s.restarts(name), Some(0), "{name}");
            assert_eq!(s.generation(name), *generation, "{name}'s generation changed");
        }
    }
    // What each new instance got.
    assert_eq!(cmdline(s.pid("r_exec").unwrap()), [pinned("/bin/sleep").as_str(), "1001"]);
    let cwd = fs::read_link(format!("/proc/{}/cwd", s.pid("r_cwd").unwrap())).unwrap();
    assert_eq!(cwd, s.path("sub"));
    assert!(environ(s.pid("r_env").unwrap()).contains(&"A=2".to_string()));
    assert!(environ(s.pid("r_envfile").unwrap()).contains(&"B=2".to_string()));
    assert_eq!(nofile(s.pid("r_nofile").unwrap()), ["201", "201"]);
    // kept got no signal, and its uptime went on.
    std::thread::sleep(ms(200));
    assert!(!s.path("kept.signals").exists(), "kept was signalled: {:?}", read_lines(&s.path("kept.signals")));
    assert!(uptime_ms(&s, "kept") >= kept_uptime, "kept's uptime went back");
    assert!(s.svc_running());
}

/// Supervision settings of the services that change; `new` picks the second version.
fn supervision_config(new: bool, int: &str, deaf: &str) -> String {
    let pick = |old: &str, nw: &str| if new { nw.to_string() } else { old.to_string() };
    format!(
        "[base]\nexec = /bin/sleep 1000\n\n\
         [u_after]\nexec = /bin/sleep 1000\n{}\n\
         [u_start]\nexec = /bin/sleep 1000\nstart = {}\n\n\
         [u_restart]\nexec = /bin/sleep 1000\nrestart = {}\nbackoff = 100ms 100ms\n\n\
         [u_backoff]\nexec = /bin/sleep 1000\nbackoff = {}\n\n\
         [u_stable]\nexec = /bin/sleep 1000\nstable = {}\n\n\
         [u_stopsig]\nexec = {int}\nstop_signal = {}\n\n\
         [u_stoptimeout]\nexec = {deaf}\nstop_timeout = {}\n\n\
         [u_readytimeout]\nexec = /bin/sleep 1000\nready_timeout = {}\n",
        pick("", "after = base\n"),
        pick("yes", "no"),
        pick("always", "never"),
        pick("100ms 100ms", "1m 1m"),
        pick("10s", "20s"),
        pick("TERM", "INT"),
        pick("30s", "200ms"),
        pick("30s", "20s"),
    )
}

#[test]
fn reload_updates_supervision_settings_in_place() {
    let mut s = Svc::new("reload_updates");
    let int = s.script(
        "int",
        "trap 'echo int > {DIR}/int.got; exit 0' INT\ntouch {DIR}/int.ready\ni=0\nwhile [ $i -lt 20000 ]; do /bin/sleep 0.05; i=$((i+1)); done\n",
    );
    let deaf = s.script("deaf", "trap '' TERM\nexec /bin/sleep 1000\n");
    s.write_config(&supervision_config(false, &int, &deaf));
    s.start();
    let updated = ["u_after", "u_start", "u_restart", "u_backoff", "u_stable", "u_stopsig", "u_stoptimeout", "u_readytimeout"];
    let mut before = Vec::new();
    for name in updated.iter().chain(&["base"]) {
        let pid = s.wait_running(name);
        before.push((*name, pid, stat(pid).unwrap().starttime, s.generation(name)));
    }
    wait_until(secs(5), "the INT trap", || s.path("int.ready").exists());

    s.write_config(&supervision_config(true, &int, &deaf));
    let lines = reload_ok(&s, &[]);
    let mut want: Vec<(&str, &str)> = updated.iter().map(|n| ("updated", *n)).collect();
    want.push(("kept", "base"));
    assert_eq!(actions(&lines), pairs(&want), "reply {lines:?}");
    for (name, pid, born, generation) in &before {
        assert_eq!(reload_line(&lines, name).len(), 2, "{lines:?}");
        // Not restarted: the same process, still running.
        assert_eq!(s.pid(name), Some(*pid), "{name} has another pid");
        assert_eq!(stat(*pid).map(|st| st.starttime), Some(*born), "{name} was restarted");
        assert_eq!(s.state(name).as_deref(), Some("running"), "{name}");
        assert_eq!(s.restarts(name), Some(0), "{name}");
        let g = s.generation(name);
        match *name {
            "base" => assert_eq!(g, *generation, "base's generation changed"),
            _ => assert!(g > *generation, "{name}'s generation did not grow"),
        }
    }

    // The new settings are in force.
    // restart = never: a kill leaves it failed.
    kill(s.pid("u_restart").unwrap(), "KILL");
    let line = s.wait_state("u_restart", "failed", secs(10));
    assert_eq!(line[5], "sig:KILL", "{line:?}");
    // backoff = 1m 1m: a kill leaves it waiting (the old 100ms would have restarted it by now).
    kill(s.pid("u_backoff").unwrap(), "KILL");
    s.wait_state("u_backoff", "backoff", secs(10));
    std::thread::sleep(ms(500));
    assert_eq!(s.state("u_backoff").as_deref(), Some("backoff"));
    assert_eq!(s.pid("u_backoff"), None);
    // stop_signal = INT.
    let out = s.run(&["stop", "u_stopsig"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(fs::read_to_string(s.path("int.got")).ok().as_deref(), Some("int\n"), "the stop signal was not INT");
    // stop_timeout = 200ms: the stop of a service deaf to TERM ends (in the client's 5 s) with a KILL.
    let out = s.run(&["stop", "u_stoptimeout"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let line = s.status_line("u_stoptimeout").unwrap();
    assert_eq!((line[1].as_str(), line[5].as_str()), ("stopped", "sig:KILL"), "{line:?}");
}

#[test]
fn reload_reports_each_outcome() {
    let mut s = Svc::new("reload_outcomes");
    let lazy = s.script("lazy", "touch {DIR}/lazy.mark\nexec /bin/sleep 1000\n");
    let fail = s.script("fail", "exit 1\n");
    s.write_config("[base]\nexec = /bin/sleep 1000\n");
    s.start();
    let base = s.wait_running("base");
    s.write_config(&format!(
        "[base]\nexec = /bin/sleep 1000\n\n\
         [slow]\nexec = /bin/sleep 1000\nready = delay:300ms\n\n\
         [next]\nexec = /bin/sleep 1000\nafter = slow\n\n\
         [once]\nexec = /bin/true\noneshot = yes\n\n\
         [bad]\nexec = {fail}\nrestart = never\n\n\
         [crashy]\nexec = {fail}\nbackoff = 1m 1m\n\n\
         [lazy]\nexec = {lazy}\nstart = no\n"
    ));
    let lines = reload_ok(&s, &[]);
    let want = [
        vec!["kept", "base"],
        vec!["added", "bad", "failed"],
        vec!["added", "crashy", "backoff"],
        vec!["added", "lazy", "stopped"],
        vec!["added", "next", "running"],
        vec!["added", "once", "done"],
        vec!["added", "slow", "running"],
    ];
    let mut want: Vec<Vec<String>> = want.iter().map(|l| l.iter().map(|w| w.to_string()).collect()).collect();
    want.sort_by(|a, b| a[1].cmp(&b[1]));
    assert_eq!(lines, want);
    // The states agree with the reply, right after it.
    for l in &want {
        if l.len() == 3 {
            assert_eq!(s.state(&l[1]).as_deref(), Some(l[2].as_str()), "{l:?}");
        }
    }
    assert!(!s.path("lazy.mark").exists(), "a start = no service was started");
    assert_eq!(s.pid("base"), Some(base));
}

#[test]
fn reload_dry_run_changes_nothing() {
    let mut s = Svc::new("reload_dry_run");
    let added = s.script("added", "touch {DIR}/c.mark\nexec /bin/sleep 1000\n");
    s.write_config(
        "[a]\nexec = /bin/sleep 1000\n\n[b]\nexec = /bin/sleep 1000\n\n[d]\nexec = /bin/sleep 1000\n\n\
         [e]\nexec = /bin/sleep 1000\nstop_timeout = 10s\n",
    );
    s.start();
    let mut before = Vec::new();
    for name in ["a", "b", "d", "e"] {
        let pid = s.wait_running(name);
        before.push((name, pid, stat(pid).unwrap().starttime, s.generation(name)));
    }
    s.write_config(&format!(
        "[a]\nexec = /bin/sleep 1000\n\n[c]\nexec = {added}\n\n[d]\nexec = /bin/sleep 1001\n\n\
         [e]\nexec = /bin/sleep 1000\nstop_timeout = 5s\n"
    ));
    let want = pairs(&[("kept", "a"), ("removed", "b"), ("added", "c"), ("restarted", "d"), ("updated", "e")]);
    let lines = reload_ok(&s, &["--dry-run"]);
    assert_eq!(actions(&lines), want, "reply {lines:?}");
    assert!(lines.iter().all(|l| l.len() == 2), "a dry run has no outcomes: {lines:?}");

    std::thread::sleep(ms(300));
    for (name, pid, born, generation) in &before {
        assert_eq!(s.pid(name), Some(*pid), "{name}");
        assert_eq!(stat(*pid).map(|st| st.starttime), Some(*born), "{name} was restarted");
        assert_eq!(s.state(name).as_deref(), Some("running"), "{name}");
        assert_eq!(s.generation(name), *generation, "{name}'s generation changed");
    }
    assert!(!s.path("c.mark").exists(), "the dry run started c");
    assert!(s.status_line("c").is_none_or(|l| l[2] == "-"), "{:?}", s.status_line("c"));

    // The real one does what the dry run said.
    let lines = reload_ok(&s, &[]);
    assert_eq!(actions(&lines), want, "reply {lines:?}");
    wait_until(secs(5), "c's marker", || s.path("c.mark").exists());
    assert_ne!(s.pid("d"), Some(before[2].1));
}

#[test]
fn invalid_reload_changes_nothing() {
    let mut s = Svc::new("reload_invalid");
    let added = s.script("added", "touch {DIR}/new.mark\nexec /bin/sleep 1000\n");
    s.write_config("[a]\nexec = /bin/sleep 1000\n\n[b]\nexec = /bin/sleep 1000\n");
    s.start();
    let (a, b) = (s.wait_running("a"), s.wait_running("b"));
    let (ga, gb) = (s.generation("a"), s.generation("b"));

    // b removed, a changed, one service added, and two errors.
    s.write_config(&format!(
        "[a]\nexec = /bin/sleep 1001\n\n[new]\nexec = {added}\n\n[bad]\nexce = /bin/sleep 1000\n\n\
         [worse]\nexec = /bin/sleep 1000\nbackoff = soon 30s\n"
    ));
    let conf = s.conf_str();
    let (exce, backoff) = (s.config_line("exce ="), s.config_line("backoff = soon"));
    let out = reload(&s, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = text(&out.stderr);
    for place in [format!("svc: {conf}:{exce}: [bad] "), format!("svc: {conf}:{backoff}: [worse] ")] {
        assert!(err.lines().any(|l| l.starts_with(&place)), "no {place:?} in the client's stderr:\n{err}");
        wait_until(secs(5), "the error on svc's stderr", || s.stderr_text().lines().any(|l| l.starts_with(&place)));
    }
    std::thread::sleep(ms(300));
    assert_eq!((s.pid("a"), s.pid("b")), (Some(a), Some(b)), "a reload of an invalid file changed services");
    assert_eq!((s.generation("a"), s.generation("b")), (ga, gb));
    assert_eq!(cmdline(a), [pinned("/bin/sleep").as_str(), "1000"]);
    assert!(!s.path("new.mark").exists(), "a service of the invalid file started");
    assert!(s.status_line("new").is_none(), "{:?}", s.status_line("new"));

    // Fixed, it applies.
    s.write_config(&format!("[a]\nexec = /bin/sleep 1000\n\n[new]\nexec = {added}\n"));
    let lines = reload_ok(&s, &[]);
    assert_eq!(actions(&lines), pairs(&[("kept", "a"), ("removed", "b"), ("added", "new")]));
    assert_eq!(s.pid("a"), Some(a));
}

#[test]
fn sighup_reloads() {
    let mut s = Svc::new("sighup");
    s.write_config("[a]\nexec = /bin/sleep 1000\n\n[b]\nexec = /bin/sleep 1000\n");
    s.start();
    let (a, b) = (s.wait_running("a"), s.wait_running("b"));
    let b_born = stat(b).unwrap().starttime;
    s.write_config("[a]\nexec = /bin/sleep 1000\n\n[c]\nexec = /bin/sleep 1000\n");
    kill(s.svc_pid(), "HUP");
    let c = s.wait_running("c");
    wait_gone(b, b_born, "b's process to end");
    wait_until(secs(5), "b to leave the status", || s.status_line("b").is_none());
    assert_eq!(s.pid("a"), Some(a));

    // An invalid file: the errors go to svc's stderr, nothing changes, svc goes on.
    s.write_config("[a]\nexec = /bin/sleep 1000\n\n[c]\nexce = /bin/sleep 1000\n");
    let conf = s.conf_str();
    let place = format!("svc: {conf}:{}: [c] ", s.config_line("exce ="));
    kill(s.svc_pid(), "HUP");
    wait_until(secs(5), "the error on svc's stderr", || s.stderr_text().lines().any(|l| l.starts_with(&place)));
    std::thread::sleep(ms(300));
    assert!(s.svc_running(), "svc exited:\n{}", s.stderr_text());
    assert_eq!((s.pid("a"), s.pid("c")), (Some(a), Some(c)));
}

#[test]
fn reload_reads_the_file_svc_was_started_with() {
    let mut s = Svc::new("reload_own_file");
    s.write_config("[a]\nexec = /bin/sleep 1000\n");
    s.start();
    let a = s.wait_running("a");
    s.write_config("[a]\nexec = /bin/sleep 1000\n\n[mine]\nexec = /bin/sleep 1000\n");
    // Another file that names the same socket: the client only finds svc with it.
    let other = s.path("other.conf");
    fs::write(&other, format!("[svc]\ncontrol = {}\n\n[theirs]\nexec = /bin/sleep 1000\n", s.sock.display())).unwrap();
    let out = output_within(&mut svc(&["reload", "-c", &other.display().to_string()]), CLIENT_TIMEOUT);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let lines = reload_lines(&out);
    assert_eq!(actions(&lines), pairs(&[("kept", "a"), ("added", "mine")]), "{lines:?}");
    s.wait_running("mine");
    assert!(s.status_line("theirs").is_none());
    assert_eq!(s.pid("a"), Some(a));
}

#[test]
fn reload_keeps_a_stopped_service_stopped() {
    let mut s = Svc::new("reload_stopped");
    s.write_config("[h]\nexec = /bin/sleep 1000\n\n[o]\nexec = /bin/sleep 1000\n");
    s.start();
    s.wait_running("h");
    s.wait_running("o");
    assert_eq!(s.run(&["stop", "h"]).status.code(), Some(0));
    s.write_config("[h]\nexec = /bin/sleep 1001\n\n[o]\nexec = /bin/sleep 1001\n");
    let lines = reload_ok(&s, &[]);
    let h = reload_line(&lines, "h");
    assert!(matches!(h[0].as_str(), "restarted" | "updated"), "{h:?}");
    if h[0] == "restarted" {
        assert_eq!(h.get(2).map(String::as_str), Some("stopped"), "{h:?}");
    }
    assert_eq!(reload_line(&lines, "o"), ["restarted", "o", "running"]);
    std::thread::sleep(ms(300));
    let line = s.status_line("h").unwrap();
    assert_eq!((line[1].as_str(), line[2].as_str()), ("stopped", "-"), "{line:?}");
    // Started by hand, it runs the new definition.
    assert_eq!(s.run(&["start", "h"]).status.code(), Some(0));
    let pid = s.wait_running("h");
    assert_eq!(cmdline(pid), [pinned("/bin/sleep").as_str(), "1001"]);
}

#[test]
fn reload_restarts_on_user_and_group_change() {
    if !root_or_skip("reload_restarts_on_user_and_group_change") {
        return;
    }
    let (Some(nogroup), true) =
        (group_gid("nogroup"), fs::read_to_string("/etc/passwd").unwrap_or_default().lines().any(|l| l.starts_with("nobody:")))
    else {
        eprintln!("note: no nogroup group or no nobody user; skipped");
        return;
    };
    let mut s = Svc::new("reload_user");
    s.write_config("[u]\nexec = /bin/sleep 1000\n\n[g]\nexec = /bin/sleep 1000\n");
    s.start();
    let (u, g) = (s.wait_running("u"), s.wait_running("g"));
    s.write_config("[u]\nexec = /bin/sleep 1000\nuser = nobody\n\n[g]\nexec = /bin/sleep 1000\ngroup = nogroup\n");
    let lines = reload_ok(&s, &[]);
    assert_eq!(lines, [vec!["restarted", "g", "running"], vec!["restarted", "u", "running"]]);
    let (u2, g2) = (s.pid("u").unwrap(), s.pid("g").unwrap());
    assert!(u2 != u && g2 != g);
    assert_ne!(status_field(u2, "Uid").unwrap().split_whitespace().next(), Some("0"));
    assert_eq!(status_field(g2, "Gid").unwrap().split_whitespace().next(), Some(nogroup.to_string().as_str()));
}
