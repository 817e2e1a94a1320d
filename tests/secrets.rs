//! Root only: env_files and configs that others could have written are
//! refused, and secret values never show in any output.

mod common;
use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

/// uid of `name` in /etc/passwd.
fn uid_of(name: &str) -> Option<u32> {
    let s = fs::read_to_string("/etc/passwd").ok()?;
    s.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name)).then(|| f.get(2)?.parse().ok()).flatten()
    })
}

/// A marker no program would print by chance.
fn marker(what: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("sekr{what}{}x{nanos:09}q", std::process::id())
}

/// A path directly in /tmp (world-writable, sticky); the test removes it with a `Cleanup`.
fn tmp_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("svc-secret-{}-{tag}", std::process::id()))
}

fn write_mode(path: &Path, contents: &str, mode: u32) {
    let _ = fs::remove_file(path);
    fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn check(conf: &Path) -> Output {
    output_within(&mut svc(&["check", "-c", &conf.display().to_string()]), CLIENT_TIMEOUT)
}

fn both(out: &Output) -> String {
    text(&out.stdout) + &text(&out.stderr)
}

/// `svc up` on the fixture's config exits 1 at once, with nothing started.
fn up_refuses(s: &mut Svc, what: &str, secret: &str) {
    let conf = s.conf_str();
    s.spawn(&bin(), &["up", "-c", &conf], &[]);
    let st = s.wait_exit(CLIENT_TIMEOUT);
    assert_eq!(st.code(), Some(1), "{what}: svc up:\n{}", s.stderr_text());
    std::thread::sleep(ms(300));
    assert!(!s.path("started").exists(), "{what}: a service ran");
    let err = s.stderr_text() + &fs::read_to_string(s.path("svc.out")).unwrap_or_default();
    assert!(!err.contains(secret), "{what}: the secret in svc's output:\n{err}");
}

#[test]
fn loose_env_files_are_refused() {
    if !root_or_skip("loose_env_files_are_refused") {
        return;
    }
    let Some(nobody) = uid_of("nobody") else {
        eprintln!("note: no nobody user; skipped");
        return;
    };
    let secret = marker("loose");
    let world = tmp_path("world.env");
    let link = tmp_path("link.env");
    let _cleanup = Cleanup(vec![world.clone(), link.clone()]);
    write_mode(&world, &format!("TOKEN={secret}\n"), 0o666);
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink(&world, &link).expect("symlink");

    let probe = Svc::new("loose_probe");
    let group = probe.path("group.env");
    write_mode(&group, &format!("TOKEN={secret}\n"), 0o620);
    let other = probe.path("other.env");
    write_mode(&other, &format!("TOKEN={secret}\n"), 0o600);
    std::os::unix::fs::chown(&other, Some(nobody), None).expect("chown nobody");
    let world_in_dir = probe.path("world.env");
    write_mode(&world_in_dir, &format!("TOKEN={secret}\n"), 0o666);

    for (what, path, also) in [
        ("world-writable", &world_in_dir, None),
        ("group-writable", &group, None),
        ("owned by nobody", &other, None),
        ("a symlink to a world-writable file", &link, Some(&world)),
    ] {
        let mut s = Svc::new("loose_env");
        let exec = s.script("svc", "touch {DIR}/started\nexec /bin/sleep 1000\n");
        s.write_config(&format!("[plain]\nexec = {exec}\n\n[secret]\nexec = {exec}\nenv_file = {}\n", path.display()));
        let out = check(&s.conf);
        assert_eq!(out.status.code(), Some(1), "{what}: svc check: {}", show(&out));
        let all = both(&out);
        let named = all.contains(&path.display().to_string()) || also.is_some_and(|p| all.contains(&p.display().to_string()));
        assert!(named, "{what}: the message does not name the env_file: {}", show(&out));
        assert!(!all.contains(&secret), "{what}: the secret in check's output");
        up_refuses(&mut s, what, &secret);
    }
}

#[test]
fn private_env_file_in_tmp_is_accepted() {
    if !root_or_skip("private_env_file_in_tmp_is_accepted") {
        return;
    }
    let secret = marker("ok");
    let env = tmp_path("private.env");
    let _cleanup = Cleanup(vec![env.clone()]);
    write_mode(&env, &format!("# the token\nTOKEN={secret}\n"), 0o600);
    let mut s = Svc::new("private_env");
    s.write_config(&format!("[app]\nexec = /bin/sleep 1000\nenv_file = {}\n", env.display()));
    let out = check(&s.conf);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    s.start();
    let pid = s.wait_running("app");
    assert!(environ(pid).contains(&format!("TOKEN={secret}")), "{:?}", environ(pid));
    let mut seen = both(&out);
    for args in [&["status"][..], &["status", "--json"], &["status", "app"], &["status", "--json", "app"], &["log", "app"]] {
        seen += &both(&s.run(args));
    }
    seen += &s.stderr_text();
    assert!(!seen.contains(&secret), "the secret showed:\n{seen}");
}

#[test]
fn secrets_never_show() {
    if !root_or_skip("secrets_never_show") {
        return;
    }
    let good_secret = marker("good");
    let bad_secret = marker("bad");
    let mut s = Svc::new("secrets_never_show");
    let good = s.path("good.env");
    write_mode(&good, &format!("TOKEN={good_secret}\nOTHER=1\n"), 0o600);
    let bad = s.path("bad.env");
    write_mode(&bad, &format!("A=1\nNOTKEYVALUE {bad_secret}\n"), 0o600);
    let exec = s.script("svc", "touch {DIR}/started\nexec /bin/sleep 1000\n");

    // A bad line: refused, its place named, its text not shown.
    s.write_config(&format!(
        "[app]\nexec = {exec}\nenv_file = {}\n\n[broken]\nexec = {exec}\nenv_file = {}\n",
        good.display(),
        bad.display()
    ));
    let out = check(&s.conf);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let all = both(&out);
    let place = format!("svc: {}:{}: [broken] ", s.conf_str(), s.config_line(&format!("env_file = {}", bad.display())));
    assert!(all.lines().any(|l| l.starts_with(&place)), "no error at {place:?}: {}", show(&out));
    for secret in [&good_secret, &bad_secret] {
        assert!(!all.contains(secret.as_str()), "a secret in check's output:\n{all}");
    }
    up_refuses(&mut s, "a bad env_file line", &bad_secret);
    assert!(!s.stderr_text().contains(&good_secret));

    // The good one: running, and no output of any verb shows its value.
    let mut s2 = Svc::new("secrets_never_show2");
    let exec = s2.script("svc", "echo started\nexec /bin/sleep 1000\n");
    s2.write_config(&format!("[app]\nexec = {exec}\nenv_file = {}\n", good.display()));
    let mut seen = both(&check(&s2.conf));
    s2.start();
    let pid = s2.wait_running("app");
    assert!(environ(pid).contains(&format!("TOKEN={good_secret}")));
    wait_until(secs(5), "app's line", || s2.log_lines("app", &[]).len() == 1);
    for args in [&["status"][..], &["status", "--json"], &["status", "--json", "app"], &["log", "app"], &["log", "app", "-n", "5"]] {
        seen += &both(&s2.run(args));
    }
    // And a reload to the bad env_file: refused without the secret.
    s2.write_config(&format!("[app]\nexec = {exec}\nenv_file = {}\n", bad.display()));
    let out = s2.run(&["reload"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    seen += &both(&out);
    let place = format!("svc: {}:{}: [app] ", s2.conf_str(), s2.config_line("env_file ="));
    wait_until(secs(5), "the reload error on svc's stderr", || s2.stderr_text().lines().any(|l| l.starts_with(&place)));
    seen += &s2.stderr_text();
    seen += &fs::read_to_string(s2.path("svc.out")).unwrap_or_default();
    for secret in [&good_secret, &bad_secret] {
        assert!(!seen.contains(secret.as_str()), "a secret showed:\n{seen}");
    }
    assert_eq!(s2.pid("app"), Some(pid));
}

#[test]
fn loose_config_is_refused() {
    if !root_or_skip("loose_config_is_refused") {
        return;
    }
    for mode in [0o666, 0o620, 0o602] {
        let mut s = Svc::new("loose_config");
        let exec = s.script("svc", "touch {DIR}/started\nexec /bin/sleep 1000\n");
        s.write_config(&format!("[a]\nexec = {exec}\n"));
        fs::set_permissions(&s.conf, fs::Permissions::from_mode(mode)).unwrap();
        let out = check(&s.conf);
        assert_eq!(out.status.code(), Some(1), "mode {mode:o}: {}", show(&out));
        assert!(both(&out).contains(&s.conf_str()), "mode {mode:o}: the message does not name the file: {}", show(&out));
        up_refuses(&mut s, &format!("config mode {mode:o}"), "no secret here");
    }
    // 0644 is fine.
    let s = Svc::new("tight_config");
    s.write_config("[a]\nexec = /bin/sleep 1000\n");
    fs::set_permissions(&s.conf, fs::Permissions::from_mode(0o644)).unwrap();
    let out = check(&s.conf);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}
