//! Pinned releases and `svc rollback`: the blue/green layout of
//! examples/bluegreen (a `current` link over release directories, a deploy
//! script) survives a link switched under a running service, rolls back a
//! broken release, and rolls back and forward under load with no failed
//! connection; a multi-call program (redis-server) and a Python virtualenv
//! keep working because only directories are resolved; a pinned release
//! removed from disk is resolved afresh; `pin = no`; a full arena.
//! Loopback only.

mod common;
use common::*;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// How long an upgrade or rollback may take (a Python app's start and upgrade_delay).
const DEPLOY_TIMEOUT: Duration = secs(30);

/// NAME's pinned release from `svc status --json`: (program, cwd).
fn release(s: &Svc, name: &str) -> Option<(String, Option<String>)> {
    let o = s.json(name);
    let r = o.get("release").unwrap_or_else(|| panic!("no release key: {o:?}"));
    if r.is_null() {
        return None;
    }
    let exec = r.get("exec").and_then(Json::as_str).unwrap_or_else(|| panic!("release without exec: {o:?}")).to_string();
    let cwd = r.get("cwd").unwrap_or_else(|| panic!("release without cwd: {o:?}"));
    Some((exec, cwd.as_str().map(String::from)))
}

/// `ln -sfn TARGET LINK`: the link replaced in one rename.
fn switch(link: &Path, target: &str) {
    let tmp = link.with_extension("new");
    let _ = fs::remove_file(&tmp);
    symlink(target, &tmp).expect("symlink");
    fs::rename(&tmp, link).expect("rename over the link");
}

fn write_exec(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).expect("mkdir");
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// Waits until NAME runs with a pid other than `old`; returns it.
fn new_pid(s: &Svc, name: &str, old: u32) -> u32 {
    wait_for(secs(20), &format!("{name} running with a pid other than {old}"), || {
        s.pid(name).filter(|&p| p != old && s.state(name).as_deref() == Some("running"))
    })
}

/// Waits until the app answers from `release` and `pid` (an old instance
/// that drains may still take a connection or two).
fn answers(port: u16, release: &str, pid: u32) {
    let mut last = (String::new(), 0);
    let ok = poll(secs(20), || {
        last = ask(port);
        (last == (release.to_string(), pid)).then_some(())
    });
    assert!(ok.is_some(), "no answer from {release} {pid}: the last was {last:?}");
}

/// The blue/green app's answer: (release, pid).
fn ask(port: u16) -> (String, u32) {
    let mut c = TcpStream::connect(loopback(port)).expect("connect");
    c.set_read_timeout(Some(secs(10))).unwrap();
    c.write_all(b"GET / HTTP/1.0\r\n\r\n").expect("request");
    let mut answer = String::new();
    c.read_to_string(&mut answer).expect("answer");
    let body = answer.lines().last().unwrap_or("").to_string();
    let pid = pid_in(&body).unwrap_or_else(|| panic!("no pid in the answer {answer:?}"));
    (body.split_whitespace().next().unwrap_or("").to_string(), pid)
}

fn deploy_reply(out: &Output, verb: &str) -> (u32, u32) {
    assert_eq!(out.status.code(), Some(0), "{verb}: {}", show(out));
    let said = text(&out.stdout);
    let w: Vec<&str> = said.split_whitespace().collect();
    match w[..] {
        ["upgraded", "web", old, "->", new] => (old.parse().unwrap(), new.parse().unwrap()),
        _ => panic!("{verb}: not `upgraded web OLD -> NEW`: {}", show(out)),
    }
}

fn no_failure(t: &Tally, what: &str) {
    assert_eq!((t.refused, t.reset, t.timed_out, t.empty, t.bad), (0, 0, 0, 0, 0), "{what}: failed connections: {t}");
    assert!(t.ok > 0, "{what}: nothing answered: {t}");
}

fn wait_answer_from(load: &Load, pid: u32) {
    wait_until(secs(20), &format!("an answer from {pid} under load"), || {
        assert!(!load.ended(), "the load ended before an answer from {pid}: {}", load.tally());
        load.tally().pids.contains(&pid)
    });
}

#[test]
fn bluegreen_pins_rolls_back_and_forward_under_load() {
    if program_or_skip("bluegreen", "python3", "python3").is_none() {
        return;
    }
    let mut s = Svc::new("bluegreen");
    let app = s.path("app");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bluegreen");
    let cp = Command::new("cp").arg("-a").arg(&example).arg(&app).output().expect("cp -a");
    assert!(cp.status.success(), "cp -a: {}", show(&cp));
    let port = free_tcp_port();
    let conf = fs::read_to_string(app.join("svc.conf")).expect("the example's config");
    let conf = conf.replace("/opt/app", &app.display().to_string()).replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
    s.write_config(&conf);
    s.start();
    let real = fs::canonicalize(&app).expect("canonical app dir").display().to_string();
    let rel = |r: &str| (format!("{real}/releases/{r}/bin/web"), Some(format!("{real}/releases/{r}")));

    let blue = s.wait_running("web");
    answers(port, "blue", blue);
    assert_eq!(release(&s, "web"), Some(rel("blue")));
    // `status -l` shows the release.
    let (exec, cwd) = rel("blue");
    let long = s.run_ok(&["status", "-l", "web"]);
    assert!(long.contains(&format!("  release: {exec} cwd {}\n", cwd.clone().unwrap())), "{long}");

    // A broken release behind the link; a crash restarts the pinned one.
    write_exec(&app.join("releases/red/bin/web"), "#!/bin/sh\nexit 1\n");
    switch(&app.join("current"), "releases/red");
    kill(blue, "KILL");
    let again = new_pid(&s, "web", blue);
    answers(port, "blue", again);
    assert_eq!(release(&s, "web"), Some(rel("blue")));
    // `svc upgrade` resolves the link afresh: red fails, blue serves on.
    let out = s.run_sock_within(&["upgrade", "web"], DEPLOY_TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "upgrade to a broken release: {}", show(&out));
    assert!(text(&out.stderr).contains("the old instance serves on: exit:1"), "{}", show(&out));
    assert_eq!((s.pid("web"), release(&s, "web")), (Some(again), Some(rel("blue"))));
    answers(port, "blue", again);

    // The example's deploy script fixes red: unpack a good release over it,
    // switch the link, `svc upgrade web`.
    let tgz = s.path("good.tgz");
    let tar = Command::new("tar").arg("-czf").arg(&tgz).arg("-C").arg(app.join("releases/green")).arg(".").output().expect("tar");
    assert!(tar.status.success(), "tar: {}", show(&tar));
    fs::create_dir_all(s.path("bin")).unwrap();
    s.write("bin/svc", &format!("#!/bin/sh\nexec {} \"{}\" \"$@\"\n", runner().join(" "), bin().display()));
    fs::set_permissions(s.path("bin/svc"), fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", s.p("bin"), std::env::var("PATH").unwrap_or_default());
    let mut deploy = Command::new(app.join("deploy"));
    deploy.args(["red", &tgz.display().to_string()]).env("PATH", path).env("SVC_CONTROL", &s.sock);
    let out = output_within(&mut deploy, DEPLOY_TIMEOUT);
    let (old, red) = deploy_reply(&out, "deploy red");
    assert_eq!(old, again);
    answers(port, "red", red);
    assert_eq!(release(&s, "web"), Some(rel("red")));

    // Under load: rollback to blue, then again forward to red.
    let load = Load::start(LoadSpec { proto: Proto::Http, max_attempts: 100_000, ..LoadSpec::new(Target::tcp(port), 4) });
    wait_answer_from(&load, red);
    let (old, back) = deploy_reply(&s.run_sock_within(&["rollback", "web"], DEPLOY_TIMEOUT), "rollback");
    assert_eq!(old, red);
    assert_eq!(release(&s, "web"), Some(rel("blue")));
    answers(port, "blue", back);
    // A run from another release than the run before names it in the log.
    let started = format!("svc: runs {exec}");
    assert!(s.log_texts("web", &[]).contains(&started), "no `{started}` in {:?}", s.log_texts("web", &[]));
    wait_answer_from(&load, back);
    let (old, forth) = deploy_reply(&s.run_sock_within(&["rollback", "web"], DEPLOY_TIMEOUT), "rollback again");
    assert_eq!(old, back);
    assert_eq!(release(&s, "web"), Some(rel("red")));
    wait_answer_from(&load, forth);
    let t = load.finish();
    no_failure(&t, "two rollbacks under load");
    answers(port, "red", forth);
    assert!(s.svc_running(), "svc exited:\n{}", s.stderr_text());
}

/// `redis-ping`: PING on a redis port, the reply's first line.
fn ping(port: u16) -> Option<String> {
    let mut c = TcpStream::connect(loopback(port)).ok()?;
    c.set_read_timeout(Some(secs(5))).ok()?;
    c.write_all(b"PING\r\n").ok()?;
    let mut b = [0u8; 64];
    let n = c.read(&mut b).ok()?;
    Some(String::from_utf8_lossy(&b[..n]).trim_end().to_string())
}

#[test]
fn a_multi_call_program_keeps_its_name() {
    let Some(redis) = program_or_skip("redis", "redis-server", "redis-server") else { return };
    let port = free_tcp_port();
    let mut s = Svc::new("redis");
    s.write_config(&format!(
        "[redis]\nexec = {redis} --port {port} --bind 127.0.0.1 --save \"\" --appendonly no --daemonize no --dir {}\n",
        s.dir.display()
    ));
    s.start();
    let mut pid = s.wait_running("redis");
    let dir = fs::canonicalize(Path::new(&redis).parent().unwrap()).unwrap().display().to_string();
    let pinned = format!("{dir}/redis-server");
    for round in 0..2 {
        wait_until(secs(20), "redis to answer PING", || ping(port).as_deref() == Some("+PONG"));
        assert_eq!(release(&s, "redis").map(|r| r.0), Some(pinned.clone()), "round {round}");
        assert_eq!(comm(pid).as_deref(), Some("redis-server"), "round {round}");
        kill(pid, "KILL");
        pid = new_pid(&s, "redis", pid);
    }
    wait_until(secs(20), "redis to answer PING after the crashes", || ping(port).as_deref() == Some("+PONG"));
    assert_eq!(comm(pid).as_deref(), Some("redis-server"));
}

#[test]
fn a_virtualenv_keeps_its_release() {
    if program_or_skip("venv", "python3", "python3-venv").is_none() {
        return;
    }
    let mut s = Svc::new("venv");
    for r in ["v1", "v2"] {
        let venv = s.path(&format!("app/releases/{r}/venv"));
        let out = output_within(Command::new("python3").args(["-m", "venv", "--without-pip"]).arg(&venv), secs(60));
        assert!(out.status.success(), "python3 -m venv: {}", show(&out));
        let q = output_within(
            Command::new(venv.join("bin/python")).args(["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]),
            secs(30),
        );
        let site = PathBuf::from(text(&q.stdout).trim());
        // A package only this release's virtualenv has.
        fs::write(
            site.join("relserve.py"),
            format!(
                "import os, sys, time\nopen(os.environ['OUT'] + '/' + str(os.getpid()), 'w').write(sys.prefix + ' {r}\\n')\ntime.sleep(3600)\n"
            ),
        )
        .unwrap();
    }
    fs::create_dir_all(s.path("out")).unwrap();
    symlink("releases/v1", s.path("app/current")).unwrap();
    s.write_config(&format!("[py]\nexec = {} -m relserve\nenv = OUT={}\n", s.p("app/current/venv/bin/python"), s.p("out")));
    s.start();
    let real = fs::canonicalize(s.path("app")).unwrap().display().to_string();
    let said = |pid: u32| {
        wait_for(secs(20), &format!("a whole line in out/{pid}"), || {
            fs::read_to_string(s.path(&format!("out/{pid}"))).ok().filter(|t| t.ends_with('\n'))
        })
    };
    let pid = s.wait_running("py");
    assert_eq!(said(pid), format!("{real}/releases/v1/venv v1\n"));
    switch(&s.path("app/current"), "releases/v2");
    kill(pid, "KILL");
    let pid = new_pid(&s, "py", pid);
    assert_eq!(said(pid), format!("{real}/releases/v1/venv v1\n"), "the crash restart keeps the pinned virtualenv");
    // An upgrade (no sockets: stop, then start) resolves afresh.
    let out = s.run_sock_within(&["upgrade", "py"], DEPLOY_TIMEOUT);
    assert_eq!(out.status.code(), Some(0), "upgrade: {}", show(&out));
    let pid = new_pid(&s, "py", pid);
    assert_eq!(said(pid), format!("{real}/releases/v2/venv v2\n"));
    // Rollback without sockets: stop, then start the release before; and forward again.
    for (k, r) in ["v1", "v2"].iter().enumerate() {
        let out = s.run_sock_within(&["rollback", "py"], DEPLOY_TIMEOUT);
        assert_eq!(out.status.code(), Some(0), "rollback {k}: {}", show(&out));
        let pid = s.pid("py").unwrap();
        assert_eq!(said(pid), format!("{real}/releases/{r}/venv {r}\n"), "rollback {k}");
    }
}

#[test]
fn a_removed_release_is_resolved_afresh_and_pin_no_follows_the_link() {
    let mut s = Svc::new("removed");
    for r in ["r1", "r2"] {
        write_exec(&s.path(&format!("app/releases/{r}/bin/run")), &format!("#!/bin/sh\necho release {r}\nexec sleep 3600\n"));
    }
    symlink("releases/r1", s.path("app/current")).unwrap();
    let exec = s.p("app/current/bin/run");
    s.write_config(&format!("[web]\nexec = {exec}\n\n[loose]\nexec = {exec}\npin = no\n"));
    s.start();
    let real = fs::canonicalize(s.path("app")).unwrap().display().to_string();
    let web = s.wait_running("web");
    let loose = s.wait_running("loose");
    assert_eq!(release(&s, "web"), Some((format!("{real}/releases/r1/bin/run"), None)));
    assert_eq!(release(&s, "loose"), None, "pin = no");
    let out = s.run_sock(&["rollback", "web"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(text(&out.stderr).trim_end(), "svc: no previous release (or it is gone): 'web'", "{}", show(&out));

    switch(&s.path("app/current"), "releases/r2");
    fs::remove_dir_all(s.path("app/releases/r1")).unwrap();
    kill(web, "KILL");
    kill(loose, "KILL");
    new_pid(&s, "web", web);
    new_pid(&s, "loose", loose);
    let gone = "svc: pinned release gone; resolved afresh".to_string();
    wait_until(secs(20), "release r2 in web's log", || s.log_texts("web", &[]).contains(&"release r2".to_string()));
    let log = s.log_texts("web", &[]);
    let at = log.iter().position(|l| *l == gone).unwrap_or_else(|| panic!("no `{gone}` in {log:?}"));
    // Then the start names the release it resolved.
    let runs = format!("svc: runs {real}/releases/r2/bin/run");
    assert_eq!(log.get(at + 1), Some(&runs), "{log:?}");
    assert_eq!(release(&s, "web"), Some((format!("{real}/releases/r2/bin/run"), None)));
    wait_until(secs(20), "release r2 in loose's log", || s.log_texts("loose", &[]).contains(&"release r2".to_string()));
    // The release before (r1) is gone: no way back.
    let out = s.run_sock(&["rollback", "web"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(text(&out.stderr).trim_end(), "svc: no previous release (or it is gone): 'web'", "{}", show(&out));
}

#[test]
fn a_full_arena_runs_the_rest_unpinned() {
    let mut s = Svc::new("full");
    // Long release paths: about 650 bytes a record, so that the 16 KiB arena holds 25.
    let long = format!("{}/{}", "d".repeat(140), "e".repeat(140));
    write_exec(&s.path(&format!("app/{long}/bin/run")), "#!/bin/sh\nexec sleep 3600\n");
    let dir = s.p(&format!("app/{long}"));
    let n = 30;
    let conf: String = (0..n).map(|i| format!("[s{i:02}]\nexec = {dir}/bin/run\ncwd = {dir}\nlog = ring:1k\n\n")).collect();
    s.write_config(&conf);
    s.start();
    let real = fs::canonicalize(s.path(&format!("app/{long}"))).unwrap().display().to_string();
    let record = format!("{real}/bin/run").len() + real.len() + 2;
    let fits = 16 * 1024 / record;
    assert!(fits < n, "the test's paths are too short to fill the arena");
    for i in 0..n {
        let name = format!("s{i:02}");
        s.wait_running(&name);
        let note = s.note(&name).unwrap_or_default();
        if i < fits {
            assert_eq!(release(&s, &name), Some((format!("{real}/bin/run"), Some(real.clone()))), "{name}");
            assert!(!note.contains("unpinned"), "{name}: {note}");
        } else {
            assert_eq!(release(&s, &name), None, "{name}");
            assert_eq!(note, "unpinned: release arena full", "{name}");
        }
    }
}
