//! Root only: who may use the control socket (`control_group`, SO_PEERCRED),
//! and services run as another user and group.

mod common;
use common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

/// uid and primary gid of `name` in /etc/passwd.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let s = fs::read_to_string("/etc/passwd").ok()?;
    s.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name)).then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))).flatten()
    })
}

/// `setpriv SETPRIV... [RUNNER] BIN ARGS...`, within the client timeout.
fn as_user(setpriv: &[String], bin: &Path, args: &[&str]) -> Output {
    let mut c = Command::new("setpriv");
    c.args(setpriv).args(runner()).arg(bin).args(args);
    output_within(&mut c, CLIENT_TIMEOUT)
}

fn have_setpriv() -> bool {
    ["/usr/bin/setpriv", "/bin/setpriv"].iter().any(|p| Path::new(p).exists())
}

#[test]
fn control_group_lets_its_members_in() {
    if !root_or_skip("control_group_lets_its_members_in") {
        return;
    }
    let (Some(adm), Some(nogroup), Some((nobody, _))) = (group_gid("adm"), group_gid("nogroup"), user_ids("nobody")) else {
        eprintln!("note: no adm or nogroup group or no nobody user; skipped");
        return;
    };
    if !have_setpriv() {
        eprintln!("note: no setpriv; skipped");
        return;
    }
    let mut s = Svc::new("control_group");
    // A copy of the binary that nobody can surely reach and run.
    let copy = s.path("svc-bin");
    fs::copy(bin(), &copy).expect("copy the binary");
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    s.write_config_with("control_group = adm\n", "[a]\nexec = /bin/sleep 1000\n");
    s.start();
    let pid = s.wait_running("a");

    let meta = fs::metadata(&s.sock).expect("the control socket");
    assert_eq!(meta.mode() & 0o777, 0o660, "socket mode {:o}", meta.mode() & 0o777);
    assert_eq!(meta.gid(), adm, "socket group");

    let sock = s.sock.display().to_string();
    let status = ["status", "-s", sock.as_str()];
    let args = |regid: u32, groups: Option<u32>| -> Vec<String> {
        let mut v = vec!["--reuid".to_string(), nobody.to_string(), "--regid".to_string(), regid.to_string()];
        match groups {
            Some(g) => v.extend(["--groups".to_string(), g.to_string()]),
            None => v.push("--clear-groups".to_string()),
        }
        v
    };

    // The group as primary gid, then as a supplementary group.
    for (what, setpriv) in [("primary gid", args(adm, None)), ("supplementary group", args(nogroup, Some(adm)))] {
        let out = as_user(&setpriv, &copy, &status);
        assert_eq!(out.status.code(), Some(0), "{what}: {}", show(&out));
        assert!(status_fields(&text(&out.stdout), "a").is_some(), "{what}: {}", show(&out));
    }

    // Loosen the mode so that only svc's own check can refuse.
    fs::set_permissions(&s.sock, fs::Permissions::from_mode(0o666)).unwrap();
    let stranger = args(nogroup, None);
    let out = as_user(&stranger, &copy, &status);
    assert_eq!(out.status.code(), Some(1), "a stranger: {}", show(&out));
    assert!(text(&out.stderr).to_lowercase().contains("permission denied"), "{}", show(&out));
    let out = as_user(&stranger, &copy, &["stop", "-s", &sock, "a"]);
    assert_eq!(out.status.code(), Some(1), "a stranger stopping a: {}", show(&out));
    assert_eq!(s.pid("a"), Some(pid), "a stranger stopped a");
    assert_eq!(s.state("a").as_deref(), Some("running"));
    // Root still gets in.
    assert_eq!(s.run(&["status", "a"]).status.code(), Some(0));
}

/// `reexec PATH` runs PATH (the probe) as svc's user: a control_group
/// member that is neither root nor svc's user is refused and PATH is not
/// run; a relative PATH is refused whoever sends it (raw protocol); the
/// member may still reexec svc's own binary.
#[test]
fn reexec_path_is_for_root_and_svcs_own_user() {
    if !root_or_skip("reexec_path_is_for_root_and_svcs_own_user") {
        return;
    }
    let (Some(adm), Some((nobody, _))) = (group_gid("adm"), user_ids("nobody")) else {
        eprintln!("note: no adm group or no nobody user; skipped");
        return;
    };
    if !have_setpriv() {
        eprintln!("note: no setpriv; skipped");
        return;
    }
    let mut s = Svc::new("reexec_path_access");
    let copy = s.path("svc-bin");
    fs::copy(bin(), &copy).expect("copy the binary");
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    // An ELF that would pass the header check: it writes x.ran when run.
    let x = s.path("x");
    fs::copy(hang(), &x).expect("copy the helper");
    fs::set_permissions(&x, fs::Permissions::from_mode(0o755)).unwrap();
    let ran = s.path("x.ran");
    s.write_config_with("control_group = adm\n", "[a]\nexec = /bin/sleep 1000\n");
    s.start();
    let pid = s.wait_running("a");
    let sock = s.sock.display().to_string();
    let member = ["--reuid".to_string(), nobody.to_string(), "--regid".to_string(), adm.to_string(), "--clear-groups".to_string()];
    let x_path = x.display().to_string();
    let out = as_user(&member, &copy, &["reexec", "-s", &sock, "-x", &x_path]);
    assert_eq!(out.status.code(), Some(1), "a member naming a binary: {}", show(&out));
    assert!(!ran.exists(), "the member's binary was run");
    assert!(text(&out.stderr).contains("refused: PATH must be absolute, from root or svc's user"), "{}", show(&out));
    assert!(!descendants(s.svc_pid()).iter().any(|(p, _)| cmdline(*p).join(" ").contains("reexec --state")), "a probe runs");
    // A relative path, even from root, over the raw protocol.
    let (head, _) = s.request("reexec x");
    assert!(head.starts_with("1 refused: PATH must be absolute"), "{head}");
    assert!(!ran.exists(), "a relative path was run");
    // The member may reexec svc's own binary; a is kept.
    let svc = s.svc_pid();
    let out = as_user(&member, &copy, &["reexec", "-s", &sock]);
    assert_eq!(out.status.code(), Some(0), "a member's reexec: {}\nsvc's stderr:\n{}", show(&out), s.stderr_text());
    assert_eq!((s.svc_pid(), s.pid("a")), (svc, Some(pid)));
}

/// The four ids of a `Uid:` or `Gid:` line.
fn ids(pid: u32, key: &str) -> Vec<u32> {
    status_field(pid, key).unwrap_or_default().split_whitespace().filter_map(|v| v.parse().ok()).collect()
}

/// Groups that list `user` as a member in /etc/group.
fn member_of(user: &str) -> Vec<u32> {
    let s = fs::read_to_string("/etc/group").unwrap_or_default();
    s.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let members = f.get(3)?;
            members.split(',').any(|m| m == user).then(|| f.get(2)?.parse().ok()).flatten()
        })
        .collect()
}

#[test]
fn user_and_group_are_applied() {
    if !root_or_skip("user_and_group_are_applied") {
        return;
    }
    let (Some(adm), Some((nobody, nobody_gid))) = (group_gid("adm"), user_ids("nobody")) else {
        eprintln!("note: no adm group or no nobody user; skipped");
        return;
    };
    let s = Svc::up(
        "user_and_group",
        "[u]\nexec = /bin/sleep 1000\nuser = nobody\n\n[g]\nexec = /bin/sleep 1000\nuser = nobody\ngroup = adm\n",
    );
    let u = s.wait_running("u");
    assert_eq!(ids(u, "Uid"), [nobody; 4]);
    assert_eq!(ids(u, "Gid"), [nobody_gid; 4]);
    // No group of svc's (root's) is kept: only nobody's own.
    let allowed = member_of("nobody");
    for g in ids(u, "Groups") {
        assert!(g == nobody_gid || allowed.contains(&g), "u keeps group {g}: {:?}", status_field(u, "Groups"));
    }
    let g = s.wait_running("g");
    assert_eq!(ids(g, "Uid"), [nobody; 4]);
    assert_eq!(ids(g, "Gid"), [adm; 4]);
}
