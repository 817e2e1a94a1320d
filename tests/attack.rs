//! An attacker on the control socket (issue 24): another user, whatever the
//! socket file's mode; a thousand idle connections, NUL bytes, a 1 MB
//! request, a request a byte at a time, replies nobody reads and a hundred
//! followers that never read, at once; things planted at the control path;
//! a service that sends sd_notify messages for another.
//!
//! (Garbage without a newline, half requests, the request timeout and idle
//! connections one by one are tests/control.rs; a second `svc up` on a live
//! socket is tests/supervise.rs.)

mod common;
use common::*;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `setpriv` as nobody (65534), no groups, running a copy of svc that
/// nobody can reach: `svc ARGS...`.
fn as_nobody(copy: &Path, args: &[&str]) -> Output {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).args(runner()).arg(copy).args(args);
    output_within(&mut c, CLIENT_TIMEOUT)
}

/// A copy of the binary, 0755, in the fixture's directory.
fn copy_of_svc(s: &Svc) -> PathBuf {
    let copy = s.path("svc-bin");
    fs::copy(bin(), &copy).expect("copy the binary");
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

/// Every request a client can make, as words after `svc` (the socket added).
const VERBS: &[&[&str]] = &[
    &["status"],
    &["status", "--json", "a"],
    &["start", "a"],
    &["stop", "a"],
    &["restart", "a"],
    &["upgrade", "a"],
    &["signal", "a", "KILL"],
    &["reload"],
    &["reload", "--dry-run"],
    &["log", "a"],
    &["log", "-f", "a"],
];

#[test]
fn another_user_is_refused_for_every_verb_whatever_the_socket_mode() {
    if !root_or_skip("another_user_is_refused") {
        return;
    }
    if program_or_skip("another_user_is_refused", "setpriv", "util-linux").is_none() {
        return;
    }
    // Without and with a control_group (nobody is in neither).
    for group in ["", "control_group = adm\n"] {
        if !group.is_empty() && group_gid("adm").is_none() {
            eprintln!("note: no adm group; the control_group case is skipped");
            continue;
        }
        let mut s = Svc::new("refused_verbs");
        let copy = copy_of_svc(&s);
        s.write_config_with(group, "[a]\nexec = /bin/sleep 100000\n");
        s.start();
        let pid = s.wait_running("a");
        let sock = s.sock.display().to_string();
        let ask = |verb: &[&str]| {
            let mut words: Vec<&str> = verb.to_vec();
            words.insert(1, "-s");
            words.insert(2, &sock);
            as_nobody(&copy, &words)
        };
        // The file's mode keeps nobody out first...
        for verb in VERBS {
            let out = ask(verb);
            assert_eq!(out.status.code(), Some(1), "{group:?} {verb:?}: {}", show(&out));
            assert!(text(&out.stderr).contains("EACCES"), "{group:?} {verb:?}: {}", show(&out));
        }
        // ...and SO_PEERCRED when the file is opened to all by hand.
        fs::set_permissions(&s.sock, fs::Permissions::from_mode(0o777)).unwrap();
        for verb in VERBS {
            let out = ask(verb);
            assert_eq!(out.status.code(), Some(1), "{group:?} {verb:?} on a 0777 socket: {}", show(&out));
            assert_eq!(text(&out.stderr), "svc: permission denied\n", "{group:?} {verb:?} on a 0777 socket");
            assert!(out.stdout.is_empty(), "{group:?} {verb:?}: {}", show(&out));
        }
        // Nothing was done.
        assert_eq!((s.pid("a"), s.restarts("a")), (Some(pid), Some(0)), "{group:?}: a was touched");
        assert_eq!(s.generation("a"), 1);
        assert!(s.svc_running());
    }
}

// ---- the flood of bad clients

/// Raises this process's soft RLIMIT_NOFILE to at least `n` (up to the hard limit).
fn raise_own_nofile(n: u32) {
    let me = std::process::id();
    let limits = fs::read_to_string(format!("/proc/{me}/limits")).unwrap_or_default();
    let soft: u32 =
        limits.lines().find(|l| l.starts_with("Max open files")).and_then(|l| l.split_whitespace().nth(3)?.parse().ok()).unwrap_or(0);
    if soft < n {
        let out = output_within(Command::new("prlimit").arg("--pid").arg(me.to_string()).arg(format!("--nofile={n}:")), CLIENT_TIMEOUT);
        assert!(out.status.success(), "prlimit --nofile={n}: for the test itself: {}", show(&out));
    }
}

#[test]
fn a_flood_of_bad_clients_leaves_svc_bounded_and_answering() {
    if !runner().is_empty() {
        eprintln!("note: the flood test measures svc itself, not a runner; skipped");
        return;
    }
    if program_or_skip("bad_clients", "prlimit", "util-linux").is_none() {
        return;
    }
    raise_own_nofile(4096);
    let mut s = Svc::new("bad_clients");
    // A line every 10 ms for the followers, and a full ring of about 96 KiB
    // for replies bigger than a socket buffer.
    let ticker = s.script(
        "ticker",
        "i=0\nwhile [ $i -lt 1000 ]; do echo \"fill $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"; i=$((i+1)); done\n\
         i=0\nwhile [ $i -lt 100000 ]; do echo tick $i; /bin/sleep 0.01; i=$((i+1)); done\n",
    );
    s.write_config(&format!("[ticker]\nexec = {ticker}\nlog = ring:96k\n\n[other]\nexec = /bin/sleep 100000\n"));
    s.start();
    let (ticker, other) = (s.wait_running("ticker"), s.wait_running("other"));
    wait_until(secs(20), "ticker's ring to fill", || s.log_texts("ticker", &["-n", "1"]).first().is_some_and(|t| t.starts_with("tick")));
    let pid = s.svc_pid();
    // Warm: a reply of each kind once, so that their stack pages count.
    let _ = s.log_texts("ticker", &[]);
    s.assert_answers("warm", &["ticker", "other"]);
    let fds0 = fds(pid).len();
    let check = Check { pid, ticker, other, fds0 };
    // Round 1 touches every page a flood can (client slots, buffers, deeper
    // stack); round 2 must add nothing: memory is bounded, not leaking.
    let rss0 = vm_rss_kb(pid);
    flood(&s, &check, 1);
    let rss1 = vm_rss_kb(pid);
    flood(&s, &check, 2);
    let rss2 = vm_rss_kb(pid);
    assert!(rss2 <= rss1 + 8, "VmRSS: {rss0} kB before, {rss1} kB after one flood, {rss2} kB after two");
    assert!(rss1 <= rss0 + 256, "VmRSS grew from {rss0} kB to {rss1} kB in one flood");
    eprintln!("svc: {fds0} fds before, {} after; VmRSS {rss0} kB before, {rss1} kB after one flood, {rss2} kB after two", fds(pid).len());
}

/// What must hold beside and after each part of a flood.
struct Check {
    pid: u32,
    ticker: u32,
    other: u32,
    fds0: usize,
}

impl Check {
    fn untouched(&self, s: &Svc, what: &str) {
        s.assert_answers(what, &["ticker", "other"]);
        assert_eq!((s.pid("ticker"), s.pid("other")), (Some(self.ticker), Some(self.other)), "{what}: a service was touched");
        assert_eq!((s.restarts("ticker"), s.restarts("other")), (Some(0), Some(0)), "{what}");
        let n = fds(self.pid).len();
        // The 8 client slots at most, beside what svc held before.
        assert!(n <= self.fds0 + 8, "{what}: svc holds {n} fds, {} before", self.fds0);
    }
}

/// Every kind of bad client at once, then gone.
fn flood(s: &Svc, check: &Check, round: u32) {
    let untouched = |s: &Svc, what: &str| check.untouched(s, &format!("round {round}: {what}"));
    // 1000 connections opened and left idle, all at once.
    let idle: Vec<UnixStream> = (0..1000).map(|_| s.connect()).collect();
    untouched(s, "beside 1000 idle connections");

    // NUL bytes: refused as bad requests or closed, never carried out.
    for bytes in [&b"status\0\n"[..], b"\0\0\0\0\n", b"stop\0other\n", b"stop other\0\n", b"\0"] {
        let mut c = s.connect();
        c.write_all(bytes).unwrap();
        let got = text(&outcome(&mut c, secs(10)).unwrap_or_else(|| panic!("{bytes:?}: no reply nor close within 10 s")));
        assert!(!got.starts_with('0'), "reply to {bytes:?}: {got:?}");
    }

    // A request of 1 MB (a newline at its end), sent while svc answers others.
    let mut big = s.connect();
    let mut writer = big.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let mut req = b"status ".to_vec();
        req.resize(1 << 20, b'a');
        req.push(b'\n');
        writer.set_write_timeout(Some(secs(10))).unwrap();
        writer.write_all(&req).err().map(|e| e.kind())
    });
    untouched(s, "during a 1 MB request");
    let failed = sender.join().unwrap();
    assert!(!matches!(failed, Some(ErrorKind::WouldBlock | ErrorKind::TimedOut)), "svc stopped reading a 1 MB request without closing it");
    let got = text(&outcome(&mut big, secs(10)).expect("the 1 MB request is still open"));
    assert!(got.is_empty() || got.starts_with("2 "), "reply to 1 MB: {got:?}");

    // A request split into single bytes with pauses: answered like any other.
    let mut slow = s.connect();
    for b in b"status other\n" {
        slow.write_all(&[*b]).unwrap();
        std::thread::sleep(ms(100));
    }
    let got = text(&outcome(&mut slow, secs(10)).expect("no reply to the slow request"));
    assert!(got.starts_with("0\n") && status_fields(&got, "other").is_some(), "reply to the slow request: {got:?}");

    // Replies nobody reads: whole-ring logs, and 100 followers.
    let mut unread: Vec<UnixStream> = Vec::new();
    for _ in 0..4 {
        let mut c = s.connect();
        c.write_all(b"log ticker\n").unwrap();
        unread.push(c);
    }
    for i in 0..100 {
        let mut c = s.connect();
        c.write_all(if i % 2 == 0 { b"log -f ticker\n" } else { b"log -f\n" }).unwrap();
        unread.push(c);
    }
    std::thread::sleep(secs(2));
    untouched(s, "beside 100 followers and 4 replies nobody reads");
    drop(unread);
    drop(idle);
    untouched(s, "after the flood");
}

// ---- what is at the control path

/// Puts something at the fixture's control path.
type Plant = fn(&Svc);

#[test]
fn things_planted_at_the_control_path_are_refused_untouched() {
    let mut s = Svc::new("planted");
    s.write_config("[a]\nexec = /bin/sleep 100000\n");
    s.write("target", "precious\n");
    fs::set_permissions(s.path("target"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::create_dir(s.path("dir")).unwrap();
    let cases: [(&str, Plant); 4] = [
        ("a symlink to a file", |s| std::os::unix::fs::symlink(s.path("target"), &s.sock).unwrap()),
        ("a symlink to a directory", |s| std::os::unix::fs::symlink(s.path("dir"), &s.sock).unwrap()),
        ("a dangling symlink", |s| std::os::unix::fs::symlink(s.path("nothing"), &s.sock).unwrap()),
        ("a regular file", |s| fs::write(&s.sock, "mine\n").unwrap()),
    ];
    let conf = s.conf_str();
    for (what, plant) in &cases {
        plant(&s);
        let before = fs::symlink_metadata(&s.sock).unwrap();
        let out = output_within(&mut svc(&["up", "-c", &conf]), CLIENT_TIMEOUT);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", show(&out));
        let want = format!("svc: control socket {}: something else is at this path", s.sock.display());
        assert!(text(&out.stderr).lines().any(|l| l == want), "{what}: want {want:?}: {}", show(&out));
        // Neither removed nor changed, nor what it points at.
        let after = fs::symlink_metadata(&s.sock).unwrap_or_else(|e| panic!("{what}: removed ({e})"));
        assert_eq!((after.file_type(), after.permissions()), (before.file_type(), before.permissions()), "{what}");
        assert_eq!(fs::read_to_string(s.path("target")).unwrap(), "precious\n", "{what}");
        assert_eq!(fs::metadata(s.path("target")).unwrap().permissions().mode() & 0o7777, 0o644, "{what}: target's mode");
        assert!(fs::symlink_metadata(s.path("nothing")).is_err(), "{what}: svc made the dangling link's target");
        fs::remove_file(&s.sock).unwrap();
    }
    if is_root() {
        // A dead socket another user owns is not ours to remove.
        drop(std::os::unix::net::UnixListener::bind(&s.sock).unwrap());
        std::os::unix::fs::lchown(&s.sock, Some(65534), Some(65534)).unwrap();
        let out = output_within(&mut svc(&["up", "-c", &conf]), CLIENT_TIMEOUT);
        assert_eq!(out.status.code(), Some(1), "nobody's dead socket: {}", show(&out));
        assert!(text(&out.stderr).contains("something else is at this path"), "{}", show(&out));
        use std::os::unix::fs::MetadataExt;
        assert_eq!(fs::symlink_metadata(&s.sock).map(|m| m.uid()).ok(), Some(65534), "nobody's socket was replaced");
        fs::remove_file(&s.sock).unwrap();
    }
    // Nothing there: svc starts.
    s.start();
    s.wait_running("a");
}

#[test]
fn the_stale_socket_of_a_killed_svc_is_taken_over() {
    // A name of its own: a concurrent test's `svc up` stops another svc's
    // orphans of the names in its config (tests/kill9.rs).
    let mut s = Svc::up("stale_killed", "[stale_killed]\nexec = /bin/sleep 100000\n");
    let old = s.wait_running("stale_killed");
    let old_born = stat(old).unwrap().starttime;
    s.stop_svc("KILL");
    // The killed svc's service lives on, its socket file stays behind.
    assert!(!gone(old, old_born), "the service died with svc");
    kill(old, "KILL");
    wait_until(secs(5), "the old service to end", || gone(old, old_born));
    assert!(fs::symlink_metadata(&s.sock).is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type())));
    s.start();
    let new = s.wait_running("stale_killed");
    assert_ne!(new, old);
    assert!(!s.stderr_text().contains("already running"), "{}", s.stderr_text());
}

// ---- sd_notify from the wrong service

/// A python3 service that sends, from its own process, each `PATH|MESSAGE`
/// line of the file named by its argument once it appears (`|` in MESSAGE
/// is a newline), then holds.
const SENDER: &str = r#"import os, socket, sys, time
path = sys.argv[1]
for _ in range(600):
    if os.path.exists(path):
        break
    time.sleep(0.05)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for line in open(path).read().splitlines():
    to, msg = line.split("|", 1)
    s.sendto(msg.replace("|", "\n").encode(), to)
time.sleep(100000)
"#;

#[test]
fn a_service_cannot_notify_for_another() {
    if !root_or_skip("a_service_cannot_notify_for_another") {
        return;
    }
    let py = "/usr/bin/python3";
    if !Path::new(py).exists() {
        assert!(std::env::var_os("CI").is_none(), "no {py} (ci/setup installs python3)");
        eprintln!("note: a_service_cannot_notify_for_another needs {py}; skipped");
        return;
    }
    let mut s = Svc::new("notify_impersonation");
    s.write("sender.py", SENDER);
    // Both run as nobody: the sockets' modes let either send to both, so
    // only the sender's session can tell them apart.
    s.write_config(&format!(
        "[victim]\nexec = /bin/sleep 100000\nuser = nobody\nready = notify\nready_timeout = 5m\n\n\
         [evil]\nexec = {py} {{DIR}}/sender.py {{DIR}}/evil.send\nuser = nobody\nready = notify\nready_timeout = 5m\n"
    ));
    s.start();
    let victim = s.wait_state("victim", "starting", secs(10))[2].parse::<u32>().expect("victim's pid");
    let evil = s.wait_state("evil", "starting", secs(10))[2].parse::<u32>().expect("evil's pid");
    let socket_of = |pid: u32| environ(pid).iter().find_map(|e| e.strip_prefix("NOTIFY_SOCKET=").map(String::from)).expect("NOTIFY_SOCKET");
    let (to_victim, to_evil) = (socket_of(victim), socket_of(evil));
    // READY and STATUS for the victim; its own MAINPID pointing at the victim's process and at svc.
    let lines = [
        format!("{to_victim}|READY=1|STATUS=forged"),
        format!("{to_victim}|MAINPID={evil}"),
        format!("{to_evil}|MAINPID={victim}"),
        format!("{to_evil}|MAINPID={}", s.svc_pid()),
    ];
    s.write("evil.send", &(lines.join("\n") + "\n"));
    wait_until(secs(10), "the forged datagrams to be counted", || {
        s.note("victim").is_some_and(|n| n.contains("2 notify dropped")) && s.note("evil").is_some_and(|n| n.contains("2 notify dropped"))
    });
    let (v, e) = (s.status_line("victim").unwrap(), s.status_line("evil").unwrap());
    assert_eq!((v[1].as_str(), v[2].as_str()), ("starting", victim.to_string().as_str()), "victim: {v:?}");
    assert_eq!((e[1].as_str(), e[2].as_str()), ("starting", evil.to_string().as_str()), "evil: {e:?}");
    assert!(!note_of(&v).contains("forged"), "victim: {v:?}");
    assert_eq!((s.restarts("victim"), s.restarts("evil")), (Some(0), Some(0)));
}
