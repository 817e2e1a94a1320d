//! Invalid configs: `svc up` reports every error and starts nothing;
//! `svc check` validates offline.

mod common;
use common::*;

/// A config with a valid service (which would leave a marker) and two errors.
fn bad_config(s: &Svc) {
    let good = s.script("good", "touch {DIR}/good.mark\nexec /bin/sleep 1000\n");
    s.write_config(&format!(
        "[good]\nexec = {good}\n\n[bad]\nexce = /bin/sleep 1000\n\n[worse]\nexec = /bin/sleep 1000\nbackoff = soon 30s\n"
    ));
}

/// The line of `out` that names `place` (`FILE:LINE:`).
fn line_with<'a>(out: &'a str, place: &str) -> &'a str {
    out.lines().find(|l| l.contains(place)).unwrap_or_else(|| panic!("no error at {place}:\n{out}"))
}

#[test]
fn invalid_config_at_up_starts_nothing() {
    let mut s = Svc::new("invalid_config_up");
    bad_config(&s);
    let conf = s.conf_str();
    s.spawn(&bin(), &["up", "-c", &conf], &[]);
    let st = s.wait_exit(CLIENT_TIMEOUT);
    assert_eq!(st.code(), Some(1), "svc up on an invalid config:\n{}", s.stderr_text());
    let err = s.stderr_text();
    let (exce, backoff) = (s.config_line("exce ="), s.config_line("backoff = soon"));
    let l = line_with(&err, &format!("svc: {conf}:{exce}: [bad] "));
    assert!(l.ends_with("(did you mean 'exec'?)"), "{l}");
    line_with(&err, &format!("svc: {conf}:{backoff}: [worse] "));
    // Nothing started, not even the valid service.
    std::thread::sleep(ms(300));
    assert!(!s.path("good.mark").exists(), "a service ran although the config is invalid");
}

#[test]
fn check_reports_every_error() {
    let s = Svc::new("check_errors");
    bad_config(&s);
    let conf = s.conf_str();
    let out = output_within(&mut svc(&["check", "-c", &conf]), CLIENT_TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let all = text(&out.stdout) + &text(&out.stderr);
    let l = line_with(&all, &format!("{conf}:{}:", s.config_line("exce =")));
    assert!(l.contains("[bad]") && l.ends_with("(did you mean 'exec'?)"), "{l}");
    let l = line_with(&all, &format!("{conf}:{}:", s.config_line("backoff = soon")));
    assert!(l.contains("[worse]"), "{l}");
    assert!(!s.path("good.mark").exists(), "check ran a service");
}

#[test]
fn check_accepts_a_valid_config() {
    let s = Svc::new("check_valid");
    s.write_config(
        "[a]\nexec = /bin/sleep 1000\nenv = A=1\nrestart = on-failure\nbackoff = 100ms 30s\nstable = 10s\n\
         ready = fd:3\nready_timeout = 5s\nstop_signal = INT\nstop_timeout = 1s\nlog = ring:8k\nnofile = 1024\n\n\
         [b]\nexec = /bin/sh -c \"exit 0\"\noneshot = yes\nrestart = never\nstart = no\nafter = a\nlog = null\n",
    );
    let conf = s.conf_str();
    let out = output_within(&mut svc(&["check", "-c", &conf]), CLIENT_TIMEOUT);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}
