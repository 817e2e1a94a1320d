//! svc survives its own panic and a fault signal (issue 22): it re-executes
//! itself and the new image adopts the running services (pids unchanged,
//! output still reaching their logs, held sockets still served, nothing
//! started twice); after 3 re-execs within 60 s it gives up. Needs a build
//! with the `crashtest` feature, whose SIGUSR1 panics and SIGUSR2 faults:
//! `cargo test --features crashtest --test crash` (ci/test runs it).
#![cfg(feature = "crashtest")]

mod common;
use common::*;

/// The fault signals whose handlers svc must have: SIGILL 4, SIGABRT 6,
/// SIGBUS 7, SIGFPE 8, SIGSEGV 11 (x86 and ARM numbers).
const FAULTS: [u32; 5] = [4, 6, 7, 8, 11];

fn caught(pid: u32) -> u64 {
    let hex = status_field(pid, "SigCgt").unwrap_or_else(|| panic!("no SigCgt for {pid}"));
    u64::from_str_radix(hex.trim(), 16).expect("SigCgt in hex")
}

fn assert_handlers(pid: u32) {
    let mask = caught(pid);
    for s in FAULTS {
        assert!(mask & (1 << (s - 1)) != 0, "signal {s} not caught: SigCgt {mask:x}");
    }
}

/// The highest `tick N` in the ticker's log.
fn last_tick(s: &Svc) -> u64 {
    s.log_texts("ticker", &[]).iter().filter_map(|t| t.strip_prefix("tick ")?.parse().ok()).max().unwrap_or(0)
}

struct Three {
    s: Svc,
    port: u16,
    pids: Vec<(&'static str, u32)>,
}

/// svc with a socket-holding server (found by its socket), a service that
/// prints every 100 ms and one that prints nothing (found by SVC_SERVICE).
fn three(test: &str) -> Three {
    let mut s = Svc::new(test);
    let port = free_tcp_port();
    let ticker = s.script("ticker", "i=0\nwhile [ $i -lt 100000 ]; do i=$((i+1)); echo \"tick $i\"; sleep 0.1; done\n");
    s.write_config(&format!(
        "[web]\nexec = {}\nlisten = tcp:127.0.0.1:{port}\nlisten = unix:{{DIR}}/web.sock\n\n[ticker]\nexec = {ticker}\n\n[quiet]\nexec = /bin/sleep 1000\n",
        echo_exec("")
    ));
    s.start();
    let pids = ["web", "ticker", "quiet"].iter().map(|&n| (n, s.wait_running(n))).collect();
    wait_until(secs(10), "the ticker's first lines", || last_tick(&s) >= 2);
    Three { s, port, pids }
}

/// After the crash: the same svc, the same pids, no other child, the
/// socket served by the same server, the ticker still logging.
fn assert_kept(t: &mut Three, svc: u32, crashes: usize, what: &str) {
    let s = &mut t.s;
    wait_until(secs(10), "svc to re-execute", || s.stderr_text().matches("; re-executing svc").count() >= crashes);
    wait_until(secs(10), "every service adopted", || s.stderr_text().matches(" adopted\n").count() >= 3 * crashes);
    assert!(s.svc_running(), "svc exited:\n{}", s.stderr_text());
    assert_eq!(s.svc_pid(), svc);
    let err = s.stderr_text();
    assert!(err.contains(what), "no {what:?} in:\n{err}");
    for &(name, pid) in &t.pids {
        assert_eq!(s.pid(name), Some(pid), "{name}'s pid after the crash\n{err}");
        assert_eq!(s.state(name).as_deref(), Some("running"), "{name}");
        assert!(err.contains(&format!("svc: {name}: pid {pid} adopted")), "{name} not adopted:\n{err}");
    }
    let mut kids = children_of(svc);
    kids.sort();
    let mut want: Vec<u32> = t.pids.iter().map(|p| p.1).collect();
    want.sort();
    assert_eq!(kids, want, "svc's children: nothing started twice");
    // The ticker's output reaches its log (the ring was lost with the old
    // image; the line numbers go on, from the same process).
    let before = last_tick(s);
    wait_until(secs(10), "new ticker lines in the log", || last_tick(s) > before + 2);
    match attempt(&Target::tcp(t.port), Proto::Line) {
        Outcome::Ok(pid) => assert_eq!(pid, t.pids[0].1, "the held socket is served by the same server"),
        other => panic!("the held socket after the crash: {other:?}"),
    }
    // The unix one too (found again by its path).
    let mut c = std::os::unix::net::UnixStream::connect(s.path("web.sock")).expect("connect web.sock");
    use std::io::{Read, Write};
    c.set_read_timeout(Some(secs(5))).unwrap();
    c.write_all(b"hi\n").unwrap();
    let mut answer = String::new();
    let _ = c.read_to_string(&mut answer);
    assert_eq!(pid_in(&answer), Some(t.pids[0].1), "{answer:?}");
    assert_handlers(svc);
}

#[test]
fn a_panic_keeps_every_service() {
    let mut t = three("a_panic_keeps_every_service");
    let svc = t.s.svc_pid();
    assert_handlers(svc);
    kill(svc, "USR1");
    assert_kept(&mut t, svc, 1, "svc: panic at src/verbs/up.rs:");
    // Still a working supervisor: a killed service is restarted.
    let quiet = t.pids[2].1;
    kill(quiet, "KILL");
    wait_for(secs(10), "quiet to run again", || {
        t.s.pid("quiet").filter(|&p| p != quiet && t.s.state("quiet").as_deref() == Some("running"))
    });
}

#[test]
fn faults_twice_keep_every_service() {
    let mut t = three("faults_twice_keep_every_service");
    let svc = t.s.svc_pid();
    kill(svc, "USR2");
    assert_kept(&mut t, svc, 1, "svc: SIGSEGV; re-executing svc\n");
    // The new image caught the next fault too: its mask and handlers were set again.
    kill(svc, "USR2");
    assert_kept(&mut t, svc, 2, "svc: SIGSEGV; re-executing svc\n");
}

#[test]
fn three_crashes_within_a_minute_give_up() {
    let mut t = three("three_crashes_within_a_minute_give_up");
    let svc = t.s.svc_pid();
    for n in 1..=3 {
        wait_until(secs(10), "svc to answer", || t.s.pid("quiet").is_some());
        kill(svc, "USR2");
        wait_until(secs(10), "svc to re-execute", || t.s.stderr_text().matches("; re-executing svc").count() >= n);
    }
    let st = t.s.wait_exit(secs(10));
    assert_eq!(st.code(), Some(1), "{}", t.s.stderr_text());
    assert!(t.s.stderr_text().contains("svc: 3 re-execs within 60s: giving up"), "{}", t.s.stderr_text());
}

/// svc as PID 1 of fresh PID and mount namespaces (util-linux `unshare`,
/// as tests/emergency.rs does, with a file over /dev/console, and a /proc
/// of its own: /proc is what tells svc its children): a fault
/// keeps the services; after 3 re-execs within 60 s svc does not exit but
/// runs the emergency shell, and the services still run.
#[test]
fn as_pid1_a_fault_keeps_the_services_and_a_crash_loop_leaves_the_shell() {
    let mut s = Svc::new("crash_as_pid1");
    s.write("console", "");
    let shell = s.script("shell", "echo shell > {DIR}/shell.ran\nexec sleep 1000\n");
    let ticker = s.script("ticker", "i=0\nwhile [ $i -lt 100000 ]; do i=$((i+1)); echo \"tick $i\"; sleep 0.1; done\n");
    s.write_config_with(&format!("emergency = {shell}\n"), &format!("[ticker]\nexec = {ticker}\n\n[quiet]\nexec = /bin/sleep 1000\n"));
    let console = s.p("console");
    let bind = "{ [ -e /dev/console ] || : > /dev/console; } && mount --bind \"$0\" /dev/console && exec \"$@\"";
    s.spawn_wrapped(&["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "sh", "-c", bind, &console], &[]);
    s.wait_up();
    let quiet = s.wait_running("quiet");
    let ticker = s.wait_running("ticker");
    wait_until(secs(10), "the ticker's first lines", || last_tick(&s) >= 2);
    // svc's pid outside the namespace: unshare's child.
    let svc = wait_for(secs(10), "svc under unshare", || children_of(s.svc_pid()).first().copied());
    assert_handlers(svc);
    let outside = children_of(svc);
    assert_eq!(outside.len(), 2, "{outside:?}");

    kill(svc, "USR2");
    wait_until(secs(10), "both adopted", || s.stderr_text().matches(" adopted\n").count() >= 2);
    assert_eq!((s.pid("quiet"), s.pid("ticker")), (Some(quiet), Some(ticker)), "{}", s.stderr_text());
    let before = last_tick(&s);
    wait_until(secs(10), "new ticker lines in the log", || last_tick(&s) > before + 2);
    assert_eq!(children_of(svc), outside, "nothing started twice");

    for n in 2..=3 {
        wait_until(secs(10), "svc to answer", || s.pid("quiet").is_some());
        kill(svc, "USR2");
        wait_until(secs(10), "svc to re-execute", || s.stderr_text().matches("; re-executing svc").count() >= n);
    }
    // The config is not read again: its `[svc] emergency` is not the shell.
    wait_until(secs(10), "the emergency shell", || s.stderr_text().contains("svc: emergency shell /bin/sh (pid "));
    let err = s.stderr_text();
    assert!(!s.path("shell.ran").exists(), "{err}");
    assert!(err.contains("svc: 3 re-execs within 60s: giving up"), "{err}");
    assert!(s.svc_running(), "{err}");
    // The services were left running, and svc (PID 1, its parent) reaps.
    assert!(outside.iter().all(|&p| stat(p).is_some_and(|st| st.ppid == svc)), "{outside:?}");
    s.stop_svc("KILL");
}

#[test]
fn a_running_probe_is_not_adopted() {
    // A `ready = exec:` probe leads a session of its own and carries its
    // service's environment (SVC_SERVICE): only its SVC_PID tells it apart.
    let mut s = Svc::new("a_running_probe_is_not_adopted");
    s.write_config("[slow]\nexec = /bin/sleep 1001\nready = exec:/bin/sleep 1002\nready_timeout = 100s\n");
    s.start();
    let svc = s.svc_pid();
    s.wait_state("slow", "starting", secs(10));
    let main = s.pid("slow").expect("slow's pid");
    let probe =
        wait_for(secs(10), "the probe to run", || children_of(svc).into_iter().find(|&p| p != main && comm(p).as_deref() == Some("sleep")));
    s.end_on_drop(probe);
    kill(svc, "USR1");
    let line = format!("svc: slow: pid {main} adopted\n");
    wait_until(secs(10), "the service to be adopted", || s.stderr_text().contains(&line));
    let err = s.stderr_text();
    assert!(!err.contains(&format!("pid {probe} adopted")), "the probe was adopted as an instance:\n{err}");
    assert_eq!(s.pid("slow"), Some(main), "{err}");
}

/// `svc reexec` whose new image cannot read the state (a test build's
/// SVC_TEST_UNREADABLE_STATE stands for a corrupt one) recovers as after a
/// crash: nothing is started twice.
/// Processes among svc's descendants whose command line contains `needle`.
fn count(s: &Svc, needle: &str) -> usize {
    descendants(s.svc_pid()).iter().filter(|(p, _)| cmdline(*p).join(" ").contains(needle)).count()
}

#[test]
fn unreadable_state_falls_back_to_adoption_without_duplicates() {
    let (port, port2) = (free_tcp_port(), free_tcp_port());
    let mut s = Svc::new("unreadable_state_falls_back");
    let talk = s.script("talk", "i=0\nwhile [ $i -lt 100000 ]; do i=$((i+1)); echo \"line $i\"; sleep 0.1; done\n");
    // A server that sets its process title over its environment (as
    // starman does), holding a socket svc holds.
    s.write(
        "titled.pl",
        "$| = 1;\n$0 = 'titled-server ' . ('x' x 3000);\nwhile (1) { print \"tick\\n\"; select(undef, undef, undef, 0.1); }\n",
    );
    s.write_config(&format!(
        "[web]\nexec = {}\nlisten = tcp:127.0.0.1:{port}\n\
         [talk]\nexec = {talk}\n\
         [titled]\nexec = /usr/bin/perl {}\nlisten = tcp:127.0.0.1:{port2}\n",
        echo_exec(""),
        s.p("titled.pl")
    ));
    s.start_env(&[("SVC_TEST_UNREADABLE_STATE", "1")]);
    let pids: Vec<u32> = ["web", "talk", "titled"].iter().map(|n| s.wait_running(n)).collect();
    wait_until(secs(10), "the title set over the environment", || !environ(pids[2]).iter().any(|e| e.starts_with("SVC_SERVICE=")));
    let lines = s.log_lines("talk", &[]).len();
    let titled_lines = s.log_lines("titled", &[]).len();

    let out = s.run(&["reexec"]);
    // The client that asked is not in a state either: no answer.
    assert_ne!(out.status.code(), Some(0), "{}", show(&out));
    wait_until(secs(10), &format!("the fallback; svc's stderr:\n{}", s.stderr_text()), || {
        s.stderr_text().contains(&format!("talk: pid {} adopted", pids[1]))
    });
    let err = s.stderr_text();
    assert!(err.contains("svc: reexec: the state: no state fd"), "{err}");
    // The title hid SVC_SERVICE: the held socket told it.
    assert!(err.contains(&format!("titled: pid {} adopted", pids[2])), "{err}");
    for (name, pid) in ["web", "talk", "titled"].iter().zip(&pids) {
        assert_eq!(s.pid(name), Some(*pid), "{name} was not adopted:\n{err}");
    }
    // Nothing started twice.
    assert_eq!(count(&s, "talk.sh"), 1);
    assert_eq!(count(&s, "titled-server"), 1);
    assert_eq!(count(&s, &echo_exec("")), 1);
    // Output still reaches the logs (rings start afresh: their lines are lost).
    wait_until(secs(10), "talk's lines after the fallback", || s.log_lines("talk", &[]).len() >= 3);
    wait_until(secs(10), "titled's lines after the fallback", || s.log_lines("titled", &[]).len() >= 3);
    assert!(lines > 0 && titled_lines > 0);
    assert_eq!(attempt(&Target::tcp(port), Proto::Line), Outcome::Ok(pids[0]));
    // And a killed service is restarted by the new image.
    kill(pids[1], "KILL");
    wait_until(secs(10), "talk restarted", || s.pid("talk").is_some_and(|p| p != pids[1]));
    assert!(s.svc_running());
}
