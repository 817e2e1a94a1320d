//! `ready = exec:` through the real binary: a probe run every
//! `probe_interval` until one exits 0, SVC_PID, the last failed run's output
//! logged at `ready_timeout`, and a hanging probe killed there.

mod common;
use common::*;
use std::fs;

/// A server that never says anything: only the probe knows when it is ready.
const SERVER: &str = "exec sleep 1000\n";

#[test]
fn smoke_probe_makes_ready_once_healthy() {
    let mut s = Svc::new("smoke_probe_makes_ready_once_healthy");
    let server = s.script("server", SERVER);
    let probe = s.script("probe", "echo \"$SVC_PID\" > {DIR}/svc_pid\necho \"no {DIR}/healthy yet\"\ntest -e {DIR}/healthy\n");
    s.write_config(&format!("[a]\nexec = {server}\nready = exec:{probe}\nprobe_interval = 50ms\nready_timeout = 1m\n"));
    s.start();
    // A probe has run (and failed): still starting.
    let pid: u32 = wait_for(secs(10), "a probe's SVC_PID", || fs::read_to_string(s.path("svc_pid")).ok()?.trim().parse().ok());
    assert_eq!(s.state("a").as_deref(), Some("starting"));
    // SVC_PID is the instance's main pid.
    assert_eq!(s.pid("a"), Some(pid));
    fs::write(s.path("healthy"), "").expect("write healthy");
    s.wait_state("a", "running", secs(10));
    assert_eq!(s.pid("a"), Some(pid));
    // Probe output is not logged run by run.
    assert!(s.log_texts("a", &[]).iter().all(|l| !l.starts_with("probe:")), "{:?}", s.log_texts("a", &[]));
    assert!(!s.stderr_text().contains("orphan"), "{}", s.stderr_text());
}

#[test]
fn a_probe_that_never_passes_ends_in_ready_timeout_with_its_output_logged() {
    let mut s = Svc::new("probe_never_passes");
    let server = s.script("server", SERVER);
    // Shell builtins only: a child of the probe killed at the timeout would be an orphan.
    let probe = s.script(
        "probe",
        "read n < {DIR}/count\nn=$((n + 1))\necho $n > {DIR}/count\necho \"checked $SVC_PID\" >> {DIR}/runs\necho \"unhealthy: $n runs\" >&2\nexit 3\n",
    );
    s.write("count", "0\n");
    s.write_config(&format!("[a]\nexec = {server}\nready = exec:{probe}\nprobe_interval = 20ms\nready_timeout = 1s\nrestart = never\n"));
    s.start();
    s.wait_state("a", "failed", secs(10));
    assert!(s.note("a").is_some_and(|n| n.contains("ready timeout")), "{:?}", s.note("a"));
    let runs = read_lines(&s.path("runs")).len();
    assert!(runs >= 2, "{runs} probe runs");
    // One run's output, the last failed one (or the one killed at the timeout, had it printed).
    let probes: Vec<String> = s.log_texts("a", &[]).into_iter().filter(|l| l.starts_with("probe: ")).collect();
    assert_eq!(probes.len(), 1, "{probes:?}");
    let n: usize = probes[0]
        .strip_prefix("probe: unhealthy: ")
        .and_then(|r| r.strip_suffix(" runs"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a count");
    assert!(n + 1 >= runs && n <= runs, "logged run {n} of {runs}");
    assert!(!s.stderr_text().contains("orphan"), "{}", s.stderr_text());
}

#[test]
fn a_hanging_probe_is_killed_at_ready_timeout() {
    let mut s = Svc::new("probe_hangs");
    let server = s.script("server", SERVER);
    let probe = s.script("probe", "echo hanging\necho $$ > {DIR}/probe.pid\nexec sleep 1000\n");
    s.write_config(&format!("[a]\nexec = {server}\nready = exec:{probe}\nprobe_interval = 20ms\nready_timeout = 1s\nrestart = never\n"));
    s.start();
    let pid: u32 = wait_for(secs(10), "the probe's pid", || fs::read_to_string(s.path("probe.pid")).ok()?.trim().parse().ok());
    let start = stat(pid).expect("the probe runs").starttime;
    s.end_on_drop(pid);
    // One probe at a time: it hangs, so no second one starts.
    s.wait_state("a", "failed", secs(10));
    wait_until(secs(10), "the probe is gone", || gone(pid, start));
    assert_eq!(fs::read_to_string(s.path("probe.pid")).expect("probe.pid").trim(), pid.to_string());
    let probes: Vec<String> = s.log_texts("a", &[]).into_iter().filter(|l| l.starts_with("probe: ")).collect();
    assert_eq!(probes, ["probe: hanging"]);
    assert!(!s.stderr_text().contains("orphan"), "{}", s.stderr_text());
}

#[test]
fn a_relative_probe_is_a_config_error() {
    let s = Svc::new("probe_relative");
    s.write_config("[a]\nexec = /bin/sleep 1000\nready = exec:wget -qO- http://127.0.0.1:8080/health\n");
    let conf = s.conf_str();
    let out = output_within(&mut svc(&["check", "-c", &conf]), CLIENT_TIMEOUT);
    let line = s.config_line("ready = exec:");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(all.contains(&format!("{conf}:{line}: [a] the program must be an absolute path 'wget'")), "{all}");
}
