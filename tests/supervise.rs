//! Supervision through the real binary: status, crashes and restart policies,
//! backoff, exec failures, start/stop/restart/signal, stop timeouts, a second
//! svc, a stale socket, `init` mode.

mod common;
use common::*;
use std::fs;

#[test]
fn smoke_up_and_status() {
    let s = Svc::up("smoke_up_and_status", "[a]\nexec = /bin/sleep 1000\n\n[b]\nexec = /bin/sleep 1000\nstart = no\n");
    let pid = s.wait_running("a");
    assert_eq!(cmdline(pid), [pinned("/bin/sleep").as_str(), "1000"]);
    assert_eq!(stat(pid).map(|st| st.ppid), Some(s.svc_pid()), "a's parent is svc");

    let out = s.run(&["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let all = text(&out.stdout);
    assert!(all.lines().next().is_some_and(|l| l.starts_with("NAME")), "no header:\n{all}");
    let a = status_fields(&all, "a").unwrap_or_else(|| panic!("no line for a:\n{all}"));
    assert_eq!(a[1], "running", "{a:?}");
    assert_eq!(a[2], pid.to_string(), "{a:?}");
    assert_eq!(a[4], "0", "RESTARTS: {a:?}");
    assert_eq!(a[5], "-", "LAST: {a:?}");
    let b = status_fields(&all, "b").unwrap_or_else(|| panic!("no line for b:\n{all}"));
    assert_eq!((b[1].as_str(), b[2].as_str()), ("stopped", "-"), "{b:?}");

    // Exit status: 0 when every named service is up, 3 when one is not, 1 for an unknown name.
    assert_eq!(s.run(&["status", "a"]).status.code(), Some(0));
    assert_eq!(s.run(&["status", "b"]).status.code(), Some(3));
    assert_eq!(s.run(&["status", "a", "b"]).status.code(), Some(3));
    let out = s.run(&["status", "a"]);
    let one = text(&out.stdout);
    assert!(status_fields(&one, "a").is_some() && status_fields(&one, "b").is_none(), "status a:\n{one}");
    let out = s.run(&["status", "nosuch"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(text(&out.stderr).contains("unknown service"), "{}", show(&out));
}

#[test]
fn smoke_crash_restarts() {
    let mut s = Svc::new("smoke_crash_restarts");
    let crash = s.script("crash", "echo x >> {DIR}/crash.starts\nexit 3\n");
    let slow = s.script("slow", "exit 1\n");
    s.write_config(&format!(
        "[crash]\nexec = {crash}\nbackoff = 100ms 100ms\n\n[victim]\nexec = /bin/sleep 1000\nbackoff = 100ms 100ms\n\n\
         [slow]\nexec = {slow}\nbackoff = 1m 1m\n"
    ));
    s.start();
    // In backoff, the note says when the next start is due.
    let line = s.wait_state("slow", "backoff", secs(10));
    assert!(note_of(&line).contains("start in"), "{line:?}");
    assert_eq!((line[2].as_str(), line[5].as_str()), ("-", "exit:1"), "{line:?}");
    assert_eq!(s.run(&["status", "slow"]).status.code(), Some(3), "backoff is not up");
    wait_until(secs(10), "crash to restart twice", || s.restarts("crash").is_some_and(|n| n >= 2));
    assert_eq!(s.last("crash").as_deref(), Some("exit:3"));
    assert!(read_lines(&s.path("crash.starts")).len() >= 3);

    // Killed by a signal: restarted with a new pid, LAST names the signal.
    let old = s.wait_running("victim");
    assert_eq!(s.restarts("victim"), Some(0));
    kill(old, "KILL");
    let new = wait_for(secs(10), "victim to run again", || {
        s.pid("victim").filter(|&p| p != old && s.state("victim").as_deref() == Some("running"))
    });
    assert_ne!(new, old);
    let line = s.status_line("victim").unwrap();
    assert_eq!(line[4], "1", "RESTARTS: {line:?}");
    assert_eq!(line[5], "sig:KILL", "LAST: {line:?}");
}

#[test]
fn smoke_exec_failure() {
    let mut s = Svc::up("smoke_exec_failure", "[bad]\nexec = /nonexistent/prog\nbackoff = 100ms 1s\n\n[ok]\nexec = /bin/sleep 1000\n");
    wait_until(secs(10), "bad's note to name ENOENT", || s.note("bad").is_some_and(|n| n.contains("ENOENT")));
    // svc keeps running and answering, and the other service is unharmed.
    assert!(s.svc_running(), "svc exited:\n{}", s.stderr_text());
    s.wait_running("ok");
    assert_eq!(s.run(&["status", "ok"]).status.code(), Some(0));
    assert_eq!(s.restarts("ok"), Some(0));
}

#[test]
fn smoke_stop_and_start() {
    let s = Svc::up("smoke_stop_and_start", "[a]\nexec = /bin/sleep 1000\n");
    let pid = s.wait_running("a");
    let born = stat(pid).unwrap().starttime;
    let out = s.run(&["stop", "a"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    // stop returns once the service is stopped (and reaped).
    let line = s.status_line("a").unwrap();
    assert_eq!((line[1].as_str(), line[2].as_str()), ("stopped", "-"), "{line:?}");
    assert_eq!(line[5], "sig:TERM", "LAST: {line:?}");
    assert!(gone(pid, born), "the stopped process is still there");
    // Stays stopped.
    std::thread::sleep(ms(300));
    assert_eq!(s.state("a").as_deref(), Some("stopped"));

    assert_eq!(s.run(&["start", "a"]).status.code(), Some(0));
    let again = s.wait_running("a");
    assert_ne!(again, pid);
    assert_eq!(s.run(&["status", "a"]).status.code(), Some(0));
}

#[test]
fn start_of_a_start_no_service() {
    let mut s = Svc::new("start_no");
    let lazy = s.script("lazy", "echo started > {DIR}/lazy.mark\nexec /bin/sleep 1000\n");
    s.write_config(&format!("[lazy]\nexec = {lazy}\nstart = no\n\n[other]\nexec = /bin/sleep 1000\n"));
    s.start();
    s.wait_running("other");
    std::thread::sleep(ms(300));
    assert_eq!(s.state("lazy").as_deref(), Some("stopped"));
    assert!(!s.path("lazy.mark").exists(), "a start = no service ran at up");
    assert_eq!(s.run(&["status", "lazy"]).status.code(), Some(3));

    let out = s.run(&["start", "lazy"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let pid = s.wait_running("lazy");
    assert_eq!(stat(pid).map(|st| st.ppid), Some(s.svc_pid()));
    wait_until(secs(5), "lazy's marker", || s.path("lazy.mark").exists());
}

#[test]
fn restart_gives_a_new_pid() {
    let s = Svc::up("restart_new_pid", "[a]\nexec = /bin/sleep 1000\n");
    let old = s.wait_running("a");
    let born = stat(old).unwrap().starttime;
    let out = s.run(&["restart", "a"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let new =
        wait_for(secs(10), "a to run with a new pid", || s.pid("a").filter(|&p| p != old && s.state("a").as_deref() == Some("running")));
    assert_eq!(cmdline(new), [pinned("/bin/sleep").as_str(), "1000"]);
    wait_until(secs(5), "the old instance to be reaped", || gone(old, born));
}

#[test]
fn signal_reaches_the_process() {
    let mut s = Svc::new("signal_reaches");
    let hup = s.script(
        "hup",
        "trap 'echo hup >> {DIR}/hup.got' HUP\ntouch {DIR}/hup.ready\ni=0\nwhile [ $i -lt 20000 ]; do /bin/sleep 0.05; i=$((i+1)); done\n",
    );
    s.write_config(&format!("[hup]\nexec = {hup}\n"));
    s.start();
    let pid = s.wait_running("hup");
    wait_until(secs(5), "the trap to be set", || s.path("hup.ready").exists());
    let out = s.run(&["signal", "hup", "HUP"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    wait_until(secs(5), "the trap to run", || s.path("hup.got").exists());
    // Delivered, not a restart.
    assert_eq!(s.pid("hup"), Some(pid));
    assert_eq!(s.restarts("hup"), Some(0));
    // By number too.
    assert_eq!(s.run(&["signal", "hup", "1"]).status.code(), Some(0));
    wait_until(secs(5), "the second HUP", || read_lines(&s.path("hup.got")).len() >= 2);
    // A signal that does not exist is refused.
    assert_ne!(s.run(&["signal", "hup", "NOSUCHSIG"]).status.code(), Some(0));
    assert_eq!(s.pid("hup"), Some(pid));
}

#[test]
fn restart_policies() {
    let mut s = Svc::new("restart_policies");
    let mut conf = String::new();
    for (name, code, policy) in [
        ("never_fail", 1, "never"),
        ("never_ok", 0, "never"),
        ("onfail_ok", 0, "on-failure"),
        ("onfail_fail", 1, "on-failure"),
        ("always_ok", 0, "always"),
    ] {
        let exec = s.script(name, &format!("echo x >> {{DIR}}/{name}.starts\nexit {code}\n"));
        conf += &format!("[{name}]\nexec = {exec}\nrestart = {policy}\nbackoff = 100ms 100ms\n\n");
    }
    s.write_config(&conf);
    s.start();
    let line = s.wait_state("never_fail", "failed", secs(10));
    assert_eq!(line[5], "exit:1", "{line:?}");
    s.wait_state("never_ok", "done", secs(10));
    s.wait_state("onfail_ok", "done", secs(10));
    wait_until(secs(10), "onfail_fail to restart twice", || s.restarts("onfail_fail").is_some_and(|n| n >= 2));
    assert_eq!(s.last("onfail_fail").as_deref(), Some("exit:1"));
    wait_until(secs(10), "always_ok to restart twice", || s.restarts("always_ok").is_some_and(|n| n >= 2));

    // The ones that ended stay ended.
    std::thread::sleep(ms(400));
    for name in ["never_fail", "never_ok", "onfail_ok"] {
        assert_eq!(read_lines(&s.path(&format!("{name}.starts"))).len(), 1, "{name} ran again");
        assert_eq!(s.restarts(name), Some(0), "{name}");
        assert_eq!(s.pid(name), None, "{name}");
    }
    assert_eq!(s.state("never_fail").as_deref(), Some("failed"));
    // done counts as up, failed does not.
    assert_eq!(s.run(&["status", "never_ok", "onfail_ok"]).status.code(), Some(0));
    assert_eq!(s.run(&["status", "never_fail"]).status.code(), Some(3));
}

/// Start and end stamps (ns) of each run of a service writing them.
fn runs(s: &Svc, n: usize) -> (Vec<i128>, Vec<i128>) {
    let starts = wait_for(secs(25), &format!("{n} starts"), || {
        let v = read_numbers(&s.path("starts"));
        (v.len() >= n).then_some(v)
    });
    // Run k+1 starts after run k has ended, so the first n-1 ends are whole.
    let ends = read_numbers(&s.path("ends"));
    assert!(ends.len() >= n - 1, "ends {ends:?}");
    (starts.iter().map(|&x| x as i128).collect(), ends.iter().map(|&x| x as i128).collect())
}

#[test]
fn backoff_doubles_up_to_max() {
    let mut s = Svc::new("backoff_doubles");
    let exec = s.script("crash", "date +%s%N >> {DIR}/starts\ndate +%s%N >> {DIR}/ends\nexit 1\n");
    // Delays 250, 500, 1000, 2000, 4000, 4000 ms: 7 starts. (Each gap also
    // holds a restart's own latency, tens of ms on a loaded machine: with a
    // first delay of 100 ms that alone broke the 1.6 ratio once.)
    s.write_config(&format!("[crash]\nexec = {exec}\nbackoff = 250ms 4s\nstable = 20s\n"));
    s.start();
    let (starts, ends) = runs(&s, 7);
    let gaps: Vec<i128> = (0..6).map(|i| starts[i + 1] - ends[i]).collect();
    let ms_gaps: Vec<i128> = gaps.iter().map(|g| g / 1_000_000).collect();
    // Each gap grows until one reaches MAX (4 s), and none grows after.
    // Counted from the first recorded run: under a heavy load one early
    // attempt has been seen to fail before the script recorded its start,
    // which shifts the sequence by one (500, 1000, 2000, 4000, 4000, 4000).
    let at_max = gaps.iter().position(|&g| g >= 3_500_000_000).unwrap_or_else(|| panic!("no gap reached MAX; gaps (ms) {ms_gaps:?}"));
    assert!(at_max >= 3, "fewer than three doublings before MAX; gaps (ms) {ms_gaps:?}");
    for i in 1..gaps.len() {
        let grew = gaps[i] as f64 >= 1.6 * gaps[i - 1] as f64;
        assert_eq!(grew, i <= at_max, "gap {i} (MAX reached at gap {at_max}); gaps (ms) {ms_gaps:?}");
    }
    let line = s.status_line("crash").unwrap();
    assert!(line[4].parse::<u32>().unwrap() >= 6, "RESTARTS {line:?}");
}

#[test]
fn backoff_resets_after_a_stable_run() {
    let mut s = Svc::new("backoff_resets");
    let exec = s.script(
        "crash",
        "date +%s%N >> {DIR}/starts\nn=$(( $(wc -l < {DIR}/starts) ))\nif [ $n -eq 4 ]; then /bin/sleep 0.8; fi\ndate +%s%N >> {DIR}/ends\nexit 1\n",
    );
    s.write_config(&format!("[crash]\nexec = {exec}\nbackoff = 250ms 4s\nstable = 300ms\n"));
    s.start();
    // Delays 250, 500, 1000 (not 100, 200, 400: a restart's own latency under
    // load is tens of ms); run 4 outlasts `stable`, so the next delay is FIRST again.
    let (starts, ends) = runs(&s, 5);
    let gaps: Vec<i128> = (0..4).map(|i| starts[i + 1] - ends[i]).collect();
    let ms_gaps: Vec<i128> = gaps.iter().map(|g| g / 1_000_000).collect();
    assert!(gaps[2] as f64 >= 1.6 * gaps[1] as f64, "no growth before the long run; gaps (ms) {ms_gaps:?}");
    assert!((gaps[3] as f64) * 1.6 < gaps[2] as f64, "no reset after the stable run; gaps (ms) {ms_gaps:?}");
}

#[test]
fn stop_timeout_kills_the_whole_group() {
    let mut s = Svc::new("stop_timeout");
    let stubborn = s.script("stubborn", "trap '' TERM\n/bin/sleep 1000 &\nwait\n");
    s.write_config(&format!("[stubborn]\nexec = {stubborn}\nstop_timeout = 500ms\n"));
    s.start();
    let main = s.wait_running("stubborn");
    let sleeper =
        wait_for(secs(5), "the background sleep", || children_of(main).into_iter().find(|&c| comm(c).as_deref() == Some("sleep")));
    let (main_born, sleeper_born) = (stat(main).unwrap().starttime, stat(sleeper).unwrap().starttime);
    // The TERM is ignored by both: only the KILL after stop_timeout ends them.
    assert_eq!(status_field(sleeper, "SigIgn").map(|v| u64::from_str_radix(&v, 16).unwrap() & (1 << 14)), Some(1 << 14));

    let out = s.run(&["stop", "stubborn"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(gone(main, main_born), "the main process survived the stop");
    wait_until(secs(5), "the background sleep to be killed and reaped", || gone(sleeper, sleeper_born));
    let line = s.status_line("stubborn").unwrap();
    assert_eq!(line[1], "stopped", "{line:?}");
    assert_eq!(line[5], "sig:KILL", "LAST: {line:?}");
}

#[test]
fn stop_signal_is_sent() {
    let mut s = Svc::new("stop_signal");
    let int = s.script(
        "int",
        "trap 'echo int > {DIR}/int.got; exit 0' INT\ntouch {DIR}/int.ready\ni=0\nwhile [ $i -lt 20000 ]; do /bin/sleep 0.05; i=$((i+1)); done\n",
    );
    s.write_config(&format!("[int]\nexec = {int}\nstop_signal = INT\nstop_timeout = 10s\n"));
    s.start();
    s.wait_running("int");
    wait_until(secs(5), "the trap to be set", || s.path("int.ready").exists());
    let out = s.run(&["stop", "int"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(fs::read_to_string(s.path("int.got")).ok().as_deref(), Some("int\n"), "the trap for INT did not run");
    let line = s.status_line("int").unwrap();
    assert_eq!((line[1].as_str(), line[5].as_str()), ("stopped", "exit:0"), "{line:?}");
}

#[test]
fn second_svc_on_the_same_socket_refuses() {
    let s = Svc::up("second_svc", "[a]\nexec = /bin/sleep 1000\n");
    let pid = s.wait_running("a");
    let conf = s.conf_str();
    let out = output_within(&mut svc(&["up", "-c", &conf]), CLIENT_TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(text(&out.stderr).contains("already running"), "{}", show(&out));
    // The first one is untouched.
    assert_eq!(s.pid("a"), Some(pid));
    assert_eq!(s.restarts("a"), Some(0));
    assert_eq!(children_of(s.svc_pid()), [pid]);
}

#[test]
fn stale_socket_is_replaced() {
    let mut s = Svc::new("stale_socket");
    drop(std::os::unix::net::UnixListener::bind(&s.sock).expect("bind"));
    assert!(s.sock.exists(), "the stale socket file");
    s.write_config("[a]\nexec = /bin/sleep 1000\n");
    s.start();
    s.wait_running("a");
    assert!(!s.stderr_text().contains("already running"), "{}", s.stderr_text());
}

#[test]
fn init_mode_supervises_like_up() {
    let mut s = Svc::new("init_mode");
    s.write_config("[a]\nexec = /bin/sleep 1000\n");
    let link = s.path("init");
    let target = fs::canonicalize(bin()).expect("the svc binary");
    std::os::unix::fs::symlink(target, &link).expect("symlink");
    let conf = s.conf_str();
    s.spawn(&link, &["-c", &conf, "bogus", "words", "--weird"], &[]);
    s.wait_up();
    let pid = s.wait_running("a");
    assert_eq!(stat(pid).map(|st| st.ppid), Some(s.svc_pid()));
}

#[test]
fn exec_line_double_quotes_group_words() {
    let mut s = Svc::new("exec_quotes");
    s.write_config("[q]\nexec = /bin/sh -c \"echo 'a  b' > {DIR}/quoted; exec /bin/sleep 1000\"\n");
    s.start();
    s.wait_running("q");
    wait_until(secs(5), "the quoted file", || fs::read_to_string(s.path("quoted")).is_ok_and(|t| t.ends_with('\n')));
    assert_eq!(fs::read_to_string(s.path("quoted")).unwrap(), "a  b\n");
}
