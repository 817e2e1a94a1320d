//! Faults from the outside world (issue 15): odd files where svc expects
//! regular ones, limits checked when parsing, output nobody reads, huge log
//! files, log paths others could redirect, large configs.

mod common;
use common::*;

/// The line of `out` that names `place` (`FILE:LINE:`).
fn line_with<'a>(out: &'a str, place: &str) -> &'a str {
    out.lines().find(|l| l.contains(place)).unwrap_or_else(|| panic!("no error at {place}:\n{out}"))
}

/// `svc check -c CONF`, within the client timeout.
fn check(conf: &str) -> std::process::Output {
    output_within(&mut svc(&["check", "-c", conf]), CLIENT_TIMEOUT)
}

#[test]
fn check_refuses_paths_and_ids_past_their_limits() {
    let s = Svc::new("check_limits");
    let long = format!("/{}", "d".repeat(1100));
    s.write_config(&format!(
        "[a]\nexec = /bin/sleep 1000\ncwd = {long}\n\n[b]\nexec = /bin/sleep 1000\nuser = 4294967295\n\n\
         [c]\nexec = /bin/sleep 1000\nlog = file:/\n"
    ));
    let conf = s.conf_str();
    let out = check(&conf);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = text(&out.stderr);
    let l = line_with(&err, &format!("{conf}:{}:", s.config_line("cwd =")));
    assert!(l.contains("[a] path too long") && l.ends_with("(at most 1023 bytes)"), "{l}");
    let l = line_with(&err, &format!("{conf}:{}:", s.config_line("user =")));
    assert!(l.contains("[b] bad id '4294967295'"), "{l}");
    let l = line_with(&err, &format!("{conf}:{}:", s.config_line("log =")));
    assert!(l.contains("[c] the log path must name a file 'file:/'"), "{l}");
}
