//! The command line without a running svc: version, help, usage errors.

mod common;
use common::*;

const VERBS: [&str; 17] = [
    "up", "status", "start", "stop", "restart", "signal", "reload", "upgrade", "rollback", "log", "check", "reexec", "poweroff", "reboot",
    "halt", "version", "help",
];

fn run(args: &[&str]) -> std::process::Output {
    output_within(&mut svc(args), CLIENT_TIMEOUT)
}

#[test]
fn smoke_version() {
    let out = run(&["version"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let s = text(&out.stdout);
    // svc VERSION (TARGET, build ID)
    let rest = s.strip_prefix(&format!("svc {} (", env!("CARGO_PKG_VERSION"))).unwrap_or_else(|| panic!("{s:?}"));
    let inner = rest.strip_suffix(")\n").unwrap_or_else(|| panic!("{s:?}"));
    let (target, id) = inner.split_once(", build ").unwrap_or_else(|| panic!("{s:?}"));
    assert!(target.contains("linux") && !target.contains(' '), "target {target:?} in {s:?}");
    assert!(!id.is_empty() && !id.contains(' '), "build id {id:?} in {s:?}");
    assert!(out.stderr.is_empty(), "{}", show(&out));
}

#[test]
fn smoke_help_lists_every_verb() {
    for args in [&["help"][..], &["--help"], &["-h"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", show(&out));
        let s = text(&out.stdout);
        for verb in VERBS {
            let listed = s.lines().any(|l| l.split_whitespace().next() == Some(verb));
            assert!(listed, "{args:?}: no usage line for {verb}:\n{s}");
        }
    }
}

#[test]
fn smoke_help_of_one_verb() {
    let out = run(&["help", "log"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let s = text(&out.stdout);
    assert!(s.contains("log") && s.contains("-n"), "{s}");
    for other in VERBS.iter().filter(|v| !matches!(**v, "log" | "up")) {
        let named = s.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == *other);
        assert!(!named, "help log mentions {other}:\n{s}");
    }
    let out = run(&["help", "frob"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}

#[test]
fn smoke_usage_errors_exit_2() {
    let cases: &[&[&str]] = &[
        &[],
        &["frob"],
        &["status", "--frob"],
        &["version", "-f"],
        &["version", "extra"],
        &["start"],
        &["signal", "web"],
        &["log", "-n", "x"],
        &["up", "-c"],
    ];
    for args in cases {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
        let err = text(&out.stderr);
        assert!(err.starts_with("svc: "), "{args:?}: stderr {err:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", show(&out));
    }
}

#[test]
fn smoke_usage_error_names_the_word() {
    for (args, word) in [(&["frob"][..], "frob"), (&["status", "--frob"], "--frob"), (&["version", "-f"], "-f")] {
        let out = run(args);
        let err = text(&out.stderr);
        assert!(err.lines().next().is_some_and(|l| l.contains(word)), "{args:?}: stderr {err:?}");
    }
}
