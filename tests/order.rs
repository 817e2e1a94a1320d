//! Order: oneshots, `after`, readiness (fd:N, delay:D, ready_timeout), and
//! the shutdown of svc on SIGTERM/INT/QUIT (concurrent, reverse `after` order).

mod common;
use common::*;

/// A script line that waits (bounded: 100 s) until the test creates DIR/NAME.
fn wait_file(name: &str) -> String {
    format!("i=0\nwhile [ ! -e {{DIR}}/{name} ] && [ $i -lt 2000 ]; do /bin/sleep 0.05; i=$((i+1)); done\n")
}

fn stamp(s: &Svc, file: &str) -> u128 {
    read_number(&s.path(file)).unwrap_or_else(|| panic!("no stamp in {file}"))
}

#[test]
fn oneshot_then_dependent() {
    let mut s = Svc::new("oneshot_then_dependent");
    let setup = s.script("setup", &format!("{}date +%s%N > {{DIR}}/setup.end\nexit 0\n", wait_file("go")));
    let app = s.script("app", "date +%s%N > {DIR}/app.start\nexec /bin/sleep 1000\n");
    s.write_config(&format!("[setup]\nexec = {setup}\noneshot = yes\n\n[app]\nexec = {app}\nafter = setup\n"));
    s.start();
    wait_until(secs(10), "setup to run", || matches!(s.state("setup").as_deref(), Some("starting" | "running")));
    let line = s.status_line("app").unwrap();
    assert_eq!(line[1], "stopped", "{line:?}");
    assert!(note_of(&line).contains("waiting for setup"), "{line:?}");
    // Held while the oneshot runs.
    std::thread::sleep(ms(300));
    assert_eq!(s.state("app").as_deref(), Some("stopped"));
    assert!(!s.path("app.start").exists(), "app started before setup was done");

    s.write("go", "");
    s.wait_state("setup", "done", secs(10));
    s.wait_running("app");
    wait_until(secs(5), "app's stamp", || read_number(&s.path("app.start")).is_some());
    assert!(stamp(&s, "app.start") >= stamp(&s, "setup.end"), "app started before setup ended");
    assert_eq!(s.run(&["status", "setup", "app"]).status.code(), Some(0));
    assert_eq!(s.pid("setup"), None);
}

#[test]
fn failed_oneshot_blocks_dependent() {
    let mut s = Svc::new("failed_oneshot");
    let setup = s.script("setup", "echo x >> {DIR}/setup.runs\nexit 1\n");
    let app = s.script("app", "touch {DIR}/app.mark\nexec /bin/sleep 1000\n");
    s.write_config(&format!("[setup]\nexec = {setup}\noneshot = yes\n\n[app]\nexec = {app}\nafter = setup\n"));
    s.start();
    s.wait_state("setup", "failed", secs(10));
    let line = s.status_line("app").unwrap();
    assert_eq!(line[1], "stopped", "{line:?}");
    let note = note_of(&line);
    assert!(note.contains("setup") && note.contains("failed"), "app's note: {line:?}");
    std::thread::sleep(ms(300));
    assert!(!s.path("app.mark").exists(), "app ran after a failed oneshot");
    assert_eq!(read_lines(&s.path("setup.runs")).len(), 1, "the failed oneshot ran again");
    assert_eq!(s.run(&["status", "setup"]).status.code(), Some(3));
    assert_eq!(s.run(&["status", "app"]).status.code(), Some(3));
}

#[test]
fn after_waits_for_ready_fd() {
    let mut s = Svc::new("after_ready_fd");
    let dep = s.script("dep", &format!("{}date +%s%N > {{DIR}}/dep.ready\necho >&3\nexec /bin/sleep 1000\n", wait_file("go")));
    let app = s.script("app", "date +%s%N > {DIR}/app.start\nexec /bin/sleep 1000\n");
    s.write_config(&format!("[dep]\nexec = {dep}\nready = fd:3\n\n[app]\nexec = {app}\nafter = dep\n"));
    s.start();
    // Started, not ready: `starting`, and its dependent waits.
    let line = s.wait_state("dep", "starting", secs(10));
    assert!(line[2].parse::<u32>().is_ok(), "starting without a pid: {line:?}");
    assert_eq!(s.run(&["status", "dep"]).status.code(), Some(0), "starting counts as up");
    let line = s.status_line("app").unwrap();
    assert_eq!(line[1], "stopped", "{line:?}");
    assert!(note_of(&line).contains("waiting for dep"), "{line:?}");
    std::thread::sleep(ms(300));
    assert_eq!(s.state("dep").as_deref(), Some("starting"));
    assert_eq!(s.state("app").as_deref(), Some("stopped"));
    assert!(!s.path("app.start").exists(), "app started before dep was ready");

    s.write("go", "");
    s.wait_running("dep");
    s.wait_running("app");
    wait_until(secs(5), "app's stamp", || read_number(&s.path("app.start")).is_some());
    assert!(stamp(&s, "app.start") >= stamp(&s, "dep.ready"), "app started before dep was ready");
}

#[test]
fn after_waits_for_ready_delay() {
    let mut s = Svc::new("after_ready_delay");
    let dep = s.script("dep", "date +%s%N > {DIR}/dep.start\nexec /bin/sleep 1000\n");
    let app = s.script("app", "date +%s%N > {DIR}/app.start\nexec /bin/sleep 1000\n");
    s.write_config(&format!("[dep]\nexec = {dep}\nready = delay:1s\n\n[app]\nexec = {app}\nafter = dep\n"));
    s.start();
    s.wait_running("app");
    assert_eq!(s.state("dep").as_deref(), Some("running"));
    wait_until(secs(5), "app's stamp", || read_number(&s.path("app.start")).is_some());
    let (d, a) = (stamp(&s, "dep.start"), stamp(&s, "app.start"));
    // A lower bound only (half the delay): the delay is there, whatever the load.
    assert!(a >= d + 500_000_000, "app started {} ms after dep, ready = delay:1s", (a as i128 - d as i128) / 1_000_000);
}

#[test]
fn ready_timeout_is_a_failure() {
    let mut s = Svc::new("ready_timeout");
    let app = s.script("app", "touch {DIR}/app.mark\nexec /bin/sleep 1000\n");
    s.write_config(&format!(
        "[slow]\nexec = /bin/sleep 1000\nready = fd:5\nready_timeout = 300ms\nbackoff = 100ms 100ms\n\n[app]\nexec = {app}\nafter = slow\n"
    ));
    s.start();
    let (mut saw_running, mut saw_timeout) = (false, false);
    wait_until(secs(15), "slow to be restarted twice", || {
        let Some(line) = s.status_line("slow") else { return false };
        saw_running |= line[1] == "running";
        saw_timeout |= note_of(&line).contains("ready timeout") || line[5].starts_with("sig:");
        line[4].parse::<u32>().is_ok_and(|n| n >= 2)
    });
    assert!(!saw_running, "slow counted as running without writing to fd 5");
    assert!(saw_timeout, "never saw `ready timeout` in the note nor the stop signal in LAST");
    assert_eq!(s.state("app").as_deref(), Some("stopped"));
    assert!(!s.path("app.mark").exists(), "app started after a service that was never ready");
}

/// A service that stamps X.term when TERM arrives, takes 0.5 s, stamps X.exit and exits 0.
fn slow_stopper(s: &Svc, name: &str) -> String {
    s.script(
        name,
        &format!(
            "trap 'date +%s%N > {{DIR}}/{name}.term; /bin/sleep 0.5; date +%s%N > {{DIR}}/{name}.exit; exit 0' TERM\n\
             touch {{DIR}}/{name}.ready\n\
             i=0\nwhile [ $i -lt 10000 ]; do /bin/sleep 0.1; i=$((i+1)); done\n"
        ),
    )
}

#[test]
fn sigterm_stops_concurrently_in_reverse_order() {
    let mut s = Svc::new("sigterm_order");
    let mut conf = String::new();
    for name in ["a", "b", "c", "d"] {
        let exec = slow_stopper(&s, name);
        conf += &format!("[{name}]\nexec = {exec}\n");
        if name == "c" {
            conf += "after = d\n";
        }
        conf += "\n";
    }
    s.write_config(&conf);
    s.start();
    let mut pids = Vec::new();
    for name in ["a", "b", "c", "d"] {
        let pid = s.wait_running(name);
        pids.push((pid, stat(pid).unwrap().starttime));
        wait_until(secs(5), &format!("{name}'s trap"), || s.path(&format!("{name}.ready")).exists());
    }
    let st = s.stop_svc("TERM");
    assert_eq!(st.code(), Some(0), "svc's exit status");
    for (pid, born) in pids {
        assert!(gone(pid, born), "a service outlived svc");
    }
    let t = |f: &str| stamp(&s, f);
    // Concurrent: each was told to stop before the other had finished.
    assert!(t("a.term") < t("b.exit") && t("b.term") < t("a.exit"), "a and b were stopped one after the other");
    // Reverse order: c (after d) has exited before d is told to stop.
    assert!(t("c.exit") <= t("d.term"), "d was stopped before c had exited");
}

#[test]
fn sigint_and_sigquit_stop_svc() {
    for sig in ["INT", "QUIT"] {
        let s = &mut Svc::up(&format!("sig{sig}"), "[a]\nexec = /bin/sleep 1000\n");
        let pid = s.wait_running("a");
        let born = stat(pid).unwrap().starttime;
        let st = s.stop_svc(sig);
        assert_eq!(st.code(), Some(0), "svc's exit status after SIG{sig}");
        assert!(gone(pid, born), "the service outlived svc after SIG{sig}");
    }
}
