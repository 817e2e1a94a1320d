//! `ready = notify` and `watchdog` through the real binary: Debian's
//! systemd-notify (as root and as nobody), and a python3 client that sends
//! datagrams the way libsystemd's sd_notify() does.

mod common;
use common::*;
use std::fs;
use std::os::unix::net::UnixDatagram;

/// A python3 sd_notify client, driven by its arguments: `send:TEXT` (`|`
/// for a newline), `sleep:SECONDS`, `wait:PATH` (until the file exists),
/// `pet:PATH` (WATCHDOG=1 every 100 ms until the file exists), `hold`.
const CLIENT: &str = r#"import os, socket, sys, time
def notify(text):
    addr = os.environ["NOTIFY_SOCKET"]
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    s.connect(addr)
    s.sendall(text.encode())
    s.close()
for a in sys.argv[1:]:
    verb, _, arg = a.partition(":")
    if verb == "send":
        notify(arg.replace("|", "\n"))
    elif verb == "sleep":
        time.sleep(float(arg))
    elif verb == "wait":
        while not os.path.exists(arg):
            time.sleep(0.05)
    elif verb == "pet":
        while not os.path.exists(arg):
            notify("WATCHDOG=1")
            time.sleep(0.1)
    elif verb == "hold":
        while True:
            time.sleep(1000)
"#;

fn have(program: &str) -> bool {
    std::path::Path::new(program).exists()
}

fn python_or_skip(test: &str) -> bool {
    let ok = have("/usr/bin/python3");
    if !ok {
        eprintln!("note: {test} needs /usr/bin/python3; skipped");
    }
    ok
}

/// A Svc whose directory holds the client; `{PY}` in `services` runs it.
fn with_client(test: &str, services: &str) -> Svc {
    let mut s = Svc::new(test);
    s.write("client.py", CLIENT);
    let py = format!("/usr/bin/python3 {}", s.p("client.py"));
    s.write_config(&services.replace("{PY}", &py));
    s.start();
    s
}

#[test]
fn smoke_notify_ready_and_status() {
    if !python_or_skip("smoke_notify_ready_and_status") {
        return;
    }
    let s = with_client(
        "smoke_notify_ready_and_status",
        "[a]\nexec = {PY} send:STATUS=warming|X_UNKNOWN=1 wait:{DIR}/go \"send:READY=1|STATUS=serving 3 clients\" hold\nready = notify\n",
    );
    wait_until(secs(10), "a says warming", || s.note("a").is_some_and(|n| n.contains("warming")));
    assert_eq!(s.state("a").as_deref(), Some("starting"));
    let env = environ(s.pid("a").expect("a's pid"));
    let sock = env.iter().find_map(|e| e.strip_prefix("NOTIFY_SOCKET=")).expect("NOTIFY_SOCKET").to_string();
    assert!(sock.starts_with('/'), "a path, not abstract: {sock}");
    fs::write(s.path("go"), "").expect("write go");
    s.wait_state("a", "running", secs(10));
    wait_until(secs(5), "a's status text", || s.note("a").is_some_and(|n| n.contains("serving 3 clients")));
    assert_eq!(s.json("a").get("status_text").and_then(Json::as_str), Some("serving 3 clients"));
    assert_eq!(s.restarts("a"), Some(0));
}

#[test]
fn notify_from_outside_the_session_is_dropped() {
    if !python_or_skip("notify_from_outside_the_session_is_dropped") {
        return;
    }
    let s = with_client(
        "notify_from_outside_the_session_is_dropped",
        "[a]\nexec = {PY} wait:{DIR}/go send:READY=1 hold\nready = notify\nready_timeout = 1m\n",
    );
    let pid = s.wait_state("a", "starting", secs(10));
    let pid: u32 = pid[2].parse().expect("a's pid");
    let sock = environ(pid).iter().find_map(|e| e.strip_prefix("NOTIFY_SOCKET=").map(String::from)).expect("NOTIFY_SOCKET");
    // The test is no process of a's session: its READY=1 is counted, not trusted.
    let out = UnixDatagram::unbound().expect("socket");
    out.send_to(b"READY=1\nSTATUS=forged", &sock).expect("send");
    wait_until(secs(5), "the dropped datagram is counted", || s.note("a").is_some_and(|n| n.contains("1 notify dropped")));
    assert_eq!(s.state("a").as_deref(), Some("starting"));
    assert!(!s.note("a").unwrap_or_default().contains("forged"));
    // Malformed ones too: empty, a NUL, over 4 KiB.
    for d in [&b""[..], b"READY=1\0", &[b'x'; 5000][..]] {
        out.send_to(d, &sock).expect("send");
    }
    wait_until(secs(5), "4 dropped", || s.note("a").is_some_and(|n| n.contains("4 notify dropped")));
    assert_eq!(s.state("a").as_deref(), Some("starting"));
    // Another user cannot send to a root service's socket at all (mode 0600).
    if is_root() && have("/usr/bin/setpriv") {
        let send = format!("import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'READY=1', '{sock}')");
        let out = std::process::Command::new("/usr/bin/setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "/usr/bin/python3", "-c", &send])
            .output()
            .expect("setpriv");
        assert!(!out.status.success() && text(&out.stderr).contains("PermissionError"), "{}", show(&out));
    }
    fs::write(s.path("go"), "").expect("write go");
    s.wait_state("a", "running", secs(10));
}

#[test]
fn extend_timeout_moves_the_ready_deadline() {
    if !python_or_skip("extend_timeout_moves_the_ready_deadline") {
        return;
    }
    // Both are ready 1.5 s after start, past their 500ms ready_timeout; one
    // extended its deadline first.
    let s = with_client(
        "extend_timeout_moves_the_ready_deadline",
        "[late]\nexec = {PY} send:EXTEND_TIMEOUT_USEC=30000000 sleep:1.5 send:READY=1 hold\nready = notify\nready_timeout = 500ms\nrestart = never\n\n\
         [slow]\nexec = {PY} sleep:1.5 send:READY=1 hold\nready = notify\nready_timeout = 500ms\nrestart = never\n",
    );
    s.wait_state("slow", "failed", secs(10));
    assert!(s.note("slow").unwrap_or_default().contains("ready timeout"), "{:?}", s.status_line("slow"));
    s.wait_state("late", "running", secs(10));
    assert_eq!(s.restarts("late"), Some(0));
}

#[test]
fn watchdog_ends_a_server_that_stops_petting() {
    if !python_or_skip("watchdog_ends_a_server_that_stops_petting") {
        return;
    }
    let s = with_client(
        "watchdog_ends_a_server_that_stops_petting",
        "[good]\nexec = {PY} send:READY=1 pet:{DIR}/never\nready = notify\nwatchdog = 1s\n\n\
         [hung]\nexec = {PY} send:READY=1 pet:{DIR}/stop hold\nready = notify\nwatchdog = 1s\n",
    );
    let good = s.wait_running("good");
    let hung = s.wait_running("hung");
    let env = environ(hung);
    assert!(env.iter().any(|e| e == "WATCHDOG_USEC=1000000"), "{env:?}");
    assert!(env.iter().any(|e| *e == format!("WATCHDOG_PID={hung}")), "{env:?}");
    fs::write(s.path("stop"), "").expect("write stop");
    wait_until(secs(10), "hung restarts", || s.restarts("hung").is_some_and(|n| n >= 1));
    assert_eq!(s.last("hung").as_deref(), Some("sig:ABRT"));
    s.wait_state("hung", "running", secs(10));
    assert_eq!((s.pid("good"), s.restarts("good")), (Some(good), Some(0)), "the petting one is never touched");
}

#[test]
fn watchdog_trigger() {
    if !python_or_skip("watchdog_trigger") {
        return;
    }
    let s = with_client(
        "watchdog_trigger",
        "[a]\nexec = {PY} send:READY=1 wait:{DIR}/go send:WATCHDOG=trigger hold\nready = notify\nwatchdog = 1m\nrestart = never\n",
    );
    s.wait_running("a");
    fs::write(s.path("go"), "").expect("write go");
    s.wait_state("a", "failed", secs(10));
    let note = s.note("a").unwrap_or_default();
    assert!(note.contains("watchdog"), "{note}");
}

/// `systemd-notify --ready` from a shell script: the service becomes
/// running, and systemd-notify exits 0 (1 after its 5 s barrier timeout,
/// were the barrier's fd kept).
fn systemd_notify(test: &str, user: &str) {
    if !have("/usr/bin/systemd-notify") {
        eprintln!("note: {test} needs systemd-notify (Debian's systemd package); skipped");
        return;
    }
    let mut s = Svc::new(test);
    let exec = s.script("sn", "/usr/bin/systemd-notify --ready --status=hello\necho rc=$?\nexec /bin/sleep 1000\n");
    s.write_config(&format!("[a]\nexec = {exec}\nready = notify\nready_timeout = 1m\n{user}"));
    s.start();
    s.wait_state("a", "running", secs(10));
    wait_until(secs(10), "systemd-notify's exit", || s.log_texts("a", &[]).iter().any(|l| l.starts_with("rc=")));
    assert_eq!(s.log_texts("a", &[]), ["rc=0"]);
    assert!(s.note("a").unwrap_or_default().contains("hello"));
}

#[test]
fn systemd_notify_as_root() {
    systemd_notify("systemd_notify_as_root", "");
}

#[test]
fn systemd_notify_as_nobody() {
    if !root_or_skip("systemd_notify_as_nobody") {
        return;
    }
    systemd_notify("systemd_notify_as_nobody", "user = nobody\n");
}

#[test]
fn mainpid_moves_the_main_process_within_the_session() {
    if !python_or_skip("mainpid_moves_the_main_process") {
        return;
    }
    let mut s = Svc::new("mainpid_moves_the_main_process");
    s.write("client.py", CLIENT);
    // A launcher that starts the real server and exits, as forking
    // daemons do; MAINPID=1 (no process of its session) comes first. The
    // sender stays up a moment: svc checks a sender's session when it reads
    // the datagram, and a sender already gone cannot be checked (dropped).
    let launcher = s.script(
        "launch",
        "/bin/sleep 100000 &\nchild=$!\necho $child > {DIR}/child\n\
         /usr/bin/python3 {DIR}/client.py send:MAINPID=1 \"send:MAINPID=$child|READY=1\" sleep:1\nexit 0\n",
    );
    s.write_config(&format!("[d]\nexec = {launcher}\nready = notify\nready_timeout = 10s\n"));
    s.start();
    let child: u32 = wait_for(secs(10), "the child's pid", || fs::read_to_string(s.path("child")).ok()?.trim().parse().ok());
    s.end_on_drop(child);
    wait_until(secs(10), "the child as the main process", || s.pid("d") == Some(child) && s.state("d").as_deref() == Some("running"));
    assert!(s.note("d").is_some_and(|n| n.contains("1 notify dropped")), "MAINPID=1 is refused: {:?}", s.note("d"));
    // The launcher's exit was no end of the service; the child's is. (svc
    // sees it once the child is its own: after the launcher has exited.)
    let svc = s.svc_pid();
    wait_until(secs(10), "the child to be svc's", || stat(child).is_some_and(|st| st.ppid == svc));
    assert_eq!((s.pid("d"), s.restarts("d")), (Some(child), Some(0)));
    kill(child, "KILL");
    wait_until(secs(10), "a restart after the child's end", || s.restarts("d") == Some(1));
    assert_eq!(s.last("d").as_deref(), Some("sig:KILL"));
}

/// A launcher that reports its child with MAINPID= and stays running (the
/// child's parent is the launcher, not svc): `svc reexec` keeps the child as
/// the main process (pid and start time identify it), with no restart and no
/// second launcher.
#[test]
fn reexec_keeps_a_mainpid_child_of_a_launcher_that_stays() {
    if !python_or_skip("reexec_keeps_a_mainpid_child") {
        return;
    }
    let mut s = Svc::new("reexec_keeps_a_mainpid_child");
    s.write("client.py", CLIENT);
    let launcher = s.script(
        "launch",
        "echo $$ > {DIR}/launcher\n/bin/sleep 100001 &\nchild=$!\necho $child > {DIR}/child\n\
         /usr/bin/python3 {DIR}/client.py \"send:MAINPID=$child|READY=1\" sleep:1\nexec /bin/sleep 100002\n",
    );
    s.write_config(&format!("[d]\nexec = {launcher}\nready = notify\nready_timeout = 10s\n"));
    s.start();
    let child: u32 = wait_for(secs(10), "the child's pid", || fs::read_to_string(s.path("child")).ok()?.trim().parse().ok());
    let first: u32 = wait_for(secs(10), "the launcher's pid", || fs::read_to_string(s.path("launcher")).ok()?.trim().parse().ok());
    s.end_on_drop(child);
    s.end_on_drop(first);
    wait_until(secs(10), "the child as the main process", || s.pid("d") == Some(child) && s.state("d").as_deref() == Some("running"));
    wait_until(secs(10), "the launcher staying up", || cmdline(first).join(" ").contains("sleep 100002"));
    let svc = s.svc_pid();
    assert_ne!(stat(child).map(|st| st.ppid), Some(svc), "the child's parent is the launcher");
    let out = s.run(&["reexec"]);
    assert_eq!(out.status.code(), Some(0), "svc reexec: {}\nsvc's stderr:\n{}", show(&out), s.stderr_text());
    assert_eq!(s.svc_pid(), svc);
    assert_eq!((s.pid("d"), s.restarts("d"), s.state("d").as_deref()), (Some(child), Some(0), Some("running")));
    // One launcher and one child, the same ones: none started again.
    let count = |arg: &str| descendants(svc).iter().filter(|(p, _)| cmdline(*p).join(" ").contains(arg)).count();
    assert_eq!((count("sleep 100001"), count("sleep 100002")), (1, 1), "svc's stderr:\n{}", s.stderr_text());
    assert!(stat(first).is_some() && stat(child).is_some());
}
