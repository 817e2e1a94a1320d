//! svc when it is not PID 1 (the host tests run it as a plain process): the
//! power verbs are refused and change nothing, busybox init's signals keep
//! their default meaning, and the signal mask is set whole at start. svc as
//! PID 1 is tested by booting real kernels (ci/boot).

mod common;
use common::*;

#[test]
fn smoke_power_verbs_are_refused_when_svc_is_not_the_init() {
    let s = Svc::up("power_refused", "[a]\nexec = /bin/sleep 1000\n");
    let pid = s.wait_running("a");
    for verb in ["poweroff", "reboot", "halt"] {
        let out = s.run(&[verb]);
        assert_eq!(out.status.code(), Some(1), "svc {verb}: {}", show(&out));
        let err = text(&out.stderr);
        assert!(err.contains("svc is not the init (PID 1); nothing changed"), "svc {verb}: {err}");
    }
    // Nothing stopped: the same pid, still running, and no shutdown began.
    assert_eq!(s.state("a").as_deref(), Some("running"));
    assert_eq!(s.pid("a"), Some(pid));
    assert!(!s.stderr_text().contains("stopping services"), "{}", s.stderr_text());
}

#[test]
fn busybox_init_signals_keep_their_default_action_when_not_pid1() {
    // SIGUSR2 is a poweroff only to svc as PID 1; elsewhere it is not
    // handled, and its default action ends svc.
    let mut s = Svc::up("usr2_default", "[a]\nexec = /bin/sleep 1000\n");
    s.wait_running("a");
    let st = s.stop_svc("USR2");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(12), "{st:?}\n{}", s.stderr_text());
    assert!(!s.stderr_text().contains("poweroff"), "{}", s.stderr_text());
}

#[test]
fn the_signal_mask_is_set_whole_at_start() {
    // A mask inherited from whoever exec'd svc (a crashed image, a wrapper)
    // must not survive: perl blocks USR1 and SEGV, then execs svc.
    let mut s = Svc::new("mask_reset");
    s.write_config("[a]\nexec = /bin/sleep 1000\n");
    let block = "use POSIX; sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGUSR1, SIGSEGV)) or die; exec @ARGV or die";
    s.start_wrapped(&["perl", "-e", block], &[]);
    s.wait_running("a");
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.svc_pid())).expect("status");
    let blk = status.lines().find_map(|l| l.strip_prefix("SigBlk:")).expect("SigBlk").trim().to_string();
    // Exactly HUP, INT, QUIT, TERM and CHLD (bits 0, 1, 2, 14, 16).
    assert_eq!(blk, "0000000000014007", "{status}");
}
