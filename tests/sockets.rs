//! Held sockets (`listen =`): svc binds them once and hands them to every
//! instance, so that a crash, a stop or a reload refuses no connection; the
//! environment of both protocols (systemd's LISTEN_FDS, Server::Starter's
//! SERVER_STARTER_PORT); `start = on-connect`; sockets kept across reloads;
//! gunicorn, unchanged, on a held socket.
//!
//! The server is tests/bin/echo_server.rs (built by the harness); the load
//! client is tests/common/load.rs. Loopback only.

mod common;
use common::*;
use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::thread;

/// Waits until NAME runs with a pid other than `old`; returns it.
fn wait_new_pid(s: &Svc, name: &str, old: u32) -> u32 {
    wait_for(secs(10), &format!("{name} to run with a pid other than {old}"), || {
        s.pid(name).filter(|&p| p != old && s.state(name).as_deref() == Some("running"))
    })
}

/// The `KEY=VALUE` lines of a dump written by `echo_server --dump`.
fn read_dump(path: &Path) -> Option<HashMap<String, String>> {
    let text = fs::read_to_string(path).ok()?;
    Some(text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

/// Waits for the dump of the process `pid`; returns it.
fn wait_dump(path: &Path, pid: u32) -> HashMap<String, String> {
    // Generous: under a load average of 8 this once took more than 10 s.
    wait_for(secs(30), &format!("the dump of {pid} in {}", path.display()), || {
        read_dump(path).filter(|d| d.get("pid").is_some_and(|p| *p == pid.to_string()))
    })
}

fn field<'a>(d: &'a HashMap<String, String>, key: &str) -> &'a str {
    d.get(key).map(String::as_str).unwrap_or_else(|| panic!("no {key} in the dump: {d:?}"))
}

/// The kind and address of a dump's `fdN=` line, without its inode.
fn fd_desc(d: &HashMap<String, String>, fd: u32) -> String {
    let v = field(d, &format!("fd{fd}"));
    v.split(" inode=").next().unwrap_or(v).to_string()
}

/// The socket inode at fd `fd` of NAME's current instance.
fn service_socket(s: &Svc, name: &str, fd: u32) -> u64 {
    let pid = s.wait_running(name);
    socket_inode(pid, fd).unwrap_or_else(|| panic!("{name} ({pid}) has no socket at fd {fd}: {:?}", fd_target(pid, fd)))
}

#[test]
fn smoke_held_socket_survives_kill() {
    const KILLS: usize = 20;
    const THREADS: usize = 2;
    let port = free_tcp_port();
    let mut s = Svc::new("smoke_held_socket_survives_kill");
    s.write_config(&format!("[web]\nexec = {}\nlisten = tcp:127.0.0.1:{port}\nbackoff = 0ms 0ms\n", echo_exec("")));
    s.start();
    let mut pid = s.wait_running("web");
    assert_eq!(attempt(&Target::tcp(port), Proto::Line), Outcome::Ok(pid), "the first answer");

    let load = Load::start(LoadSpec { max_attempts: 4000, ..LoadSpec::new(Target::tcp(port), THREADS) });
    let mut pids = vec![pid];
    for k in 0..KILLS {
        // Each instance serves under load before it is killed.
        wait_until(secs(10), &format!("an answer from instance {k} ({pid})"), || {
            assert!(!load.ended(), "the load ended before kill {k}: {}", load.tally());
            load.tally().pids.contains(&pid)
        });
        kill(pid, "KILL");
        pid = wait_new_pid(&s, "web", pid);
        pids.push(pid);
    }
    wait_until(secs(10), &format!("an answer from the last instance ({pid})"), || load.tally().pids.contains(&pid));
    let t = load.finish();

    // The port stayed held: nothing refused, nothing waited for too long.
    assert_eq!(t.refused, 0, "refused: {t}");
    assert_eq!(t.timed_out, 0, "timed out: {t}");
    assert_eq!(t.bad, 0, "bad: {t}");
    // Only connections a killed instance had accepted are lost: at most one
    // per client thread (each has one connection at a time) per kill.
    assert!(t.lost() <= (KILLS * THREADS) as u64, "more lost than accepted by the killed instances: {t}");
    // Every answer came from an instance svc reported.
    let unknown: Vec<&u32> = t.pids.iter().filter(|p| !pids.contains(p)).collect();
    assert!(unknown.is_empty(), "answers from pids svc never reported: {unknown:?} (reported {pids:?}); {t}");
    assert!(s.svc_running(), "svc exited:\n{}", s.stderr_text());
}

#[test]
fn stopped_service_connection_waits_for_start() {
    let port = free_tcp_port();
    let mut s = Svc::new("stopped_service_connection_waits");
    s.write_config(&format!("[web]\nexec = {}\nlisten = tcp:127.0.0.1:{port}\nbackoff = 0ms 0ms\n", echo_exec("")));
    s.start();
    let old = s.wait_running("web");
    s.run_ok(&["stop", "web"]);
    let line = s.status_line("web").unwrap();
    assert_eq!((line[1].as_str(), line[2].as_str()), ("stopped", "-"), "{line:?}");

    // svc holds the socket: the connection is made and the request sent
    // while nothing runs.
    let pending = open(&Target::tcp(port), Proto::Line).unwrap_or_else(|o| panic!("connect while stopped: {o:?}"));
    let answer = thread::spawn(move || pending.answer(secs(30)));
    thread::sleep(ms(300));
    assert!(!answer.is_finished(), "answered while the service was stopped");
    assert_eq!(s.state("web").as_deref(), Some("stopped"), "a connection started a stopped service");

    s.run_ok(&["start", "web"]);
    let new = s.wait_running("web");
    assert_ne!(new, old);
    let got = answer.join().expect("the client thread");
    assert_eq!(got, Outcome::Ok(new), "the waiting connection is answered by the new instance");
    assert_eq!(attempt(&Target::tcp(port), Proto::Line), Outcome::Ok(new));
}

#[test]
fn listen_environment_and_fds() {
    let (tport, uport) = (free_tcp_port(), free_udp_port());
    let mut s = Svc::new("listen_environment_and_fds");
    let dump = s.path("dump");
    let sock = s.p("app.sock");
    s.write_config(&format!(
        "[web]\nexec = {}\nlisten = tcp:127.0.0.1:{tport} name=http backlog=128\nlisten = udp:127.0.0.1:{uport}\n\
         listen = unix:{sock} mode=0660\nbackoff = 0ms 0ms\n",
        echo_exec(&format!("--dump {}", dump.display()))
    ));
    s.start();
    let pid = s.wait_running("web");
    let d = wait_dump(&dump, pid);

    assert_eq!(field(&d, "LISTEN_FDS"), "3", "{d:?}");
    assert_eq!(field(&d, "LISTEN_PID"), pid.to_string(), "LISTEN_PID is the instance's own pid: {d:?}");
    // The default name is the service's, in listen order.
    assert_eq!(field(&d, "LISTEN_FDNAMES"), "http:web:web", "{d:?}");
    // As start_server writes it: a UDP socket like a TCP one.
    assert_eq!(field(&d, "SERVER_STARTER_PORT"), format!("127.0.0.1:{tport}=3;127.0.0.1:{uport}=4;{sock}=5"), "{d:?}");
    assert_eq!(field(&d, "SERVER_STARTER_GENERATION"), "1", "{d:?}");
    // Exactly the standard fds and the sockets, each what was asked for.
    assert_eq!(fds(pid), [0, 1, 2, 3, 4, 5], "/proc/{pid}/fd: {:?}", (0..8).map(|f| fd_target(pid, f)).collect::<Vec<_>>());
    assert_eq!(field(&d, "fds"), "0 1 2 3 4 5", "{d:?}");
    assert_eq!(fd_desc(&d, 3), format!("tcp 127.0.0.1:{tport}"), "{d:?}");
    assert_eq!(fd_desc(&d, 4), format!("udp 127.0.0.1:{uport}"), "{d:?}");
    assert_eq!(fd_desc(&d, 5), format!("unix {sock}"), "{d:?}");
    let mode = fs::metadata(&sock).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777);
    assert_eq!(mode.ok(), Some(0o660), "mode of {sock}");
    let inodes: Vec<u64> = (3..6).map(|fd| socket_inode(pid, fd).expect("a socket")).collect();

    // The next instance: its own pid, the next generation, the same sockets.
    s.run_ok(&["restart", "web"]);
    let new = wait_new_pid(&s, "web", pid);
    let d = wait_dump(&dump, new);
    assert_eq!(field(&d, "LISTEN_PID"), new.to_string(), "{d:?}");
    assert_eq!(field(&d, "LISTEN_FDS"), "3", "{d:?}");
    assert_eq!(field(&d, "LISTEN_FDNAMES"), "http:web:web", "{d:?}");
    assert_eq!(field(&d, "SERVER_STARTER_GENERATION"), "2", "{d:?}");
    assert_eq!(fds(new), [0, 1, 2, 3, 4, 5]);
    let again: Vec<u64> = (3..6).map(|fd| socket_inode(new, fd).expect("a socket")).collect();
    assert_eq!(again, inodes, "the sockets are the same ones, not bound again");
}

#[test]
fn listen_serves_tcp_udp_and_unix() {
    let (tport, uport) = (free_tcp_port(), free_udp_port());
    let mut s = Svc::new("listen_serves_tcp_udp_and_unix");
    let sock = s.path("app.sock");
    s.write_config(&format!(
        "[web]\nexec = {}\nlisten = tcp:127.0.0.1:{tport}\nlisten = udp:127.0.0.1:{uport}\nlisten = unix:{}\nbackoff = 0ms 0ms\n",
        echo_exec(""),
        sock.display()
    ));
    s.start();
    let pid = s.wait_running("web");
    assert_eq!(attempt(&Target::tcp(tport), Proto::Line), Outcome::Ok(pid), "tcp");
    assert_eq!(udp_attempt(loopback(uport)), Outcome::Ok(pid), "udp");
    assert_eq!(attempt(&Target::Unix(sock.clone()), Proto::Line), Outcome::Ok(pid), "unix");
    // The strict LISTEN_PID check passed: the server would have exited 3.
    assert_eq!(s.restarts("web"), Some(0));
}

/// The longest unix addresses: a path of 107 bytes (sun_path holds it and
/// its NUL) and an abstract name of 107 (after its 0), which `svc check`
/// accepts, are bound and served; so is a name of 106. An abstract name of
/// 107 was refused at bind (ENAMETOOLONG, and `svc up` exited).
#[test]
fn listen_binds_the_longest_unix_addresses() {
    use std::os::linux::net::SocketAddrExt;
    let mut s = Svc::new("listen_binds_the_longest_unix_addresses");
    let dump = s.path("dump");
    let base = s.p("p");
    let path = format!("{base}{}", "p".repeat(107 - base.len()));
    // Abstract names are per network namespace, pids per pid namespace: both.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let name = |n: usize| {
        let tag = format!("svc-test-{}-{nanos}-{n}-", std::process::id());
        format!("{tag}{}", "n".repeat(n - tag.len()))
    };
    let (n107, n106) = (name(107), name(106));
    assert_eq!((path.len(), n107.len(), n106.len()), (107, 107, 106));
    s.write_config(&format!(
        "[web]\nexec = {}\nlisten = unix:{path}\nlisten = unix:@{n107}\nlisten = unix:@{n106}\nbackoff = 0ms 0ms\n",
        echo_exec(&format!("--dump {}", dump.display()))
    ));
    s.start();
    let pid = s.wait_running("web");
    let d = wait_dump(&dump, pid);
    assert_eq!(fd_desc(&d, 3), format!("unix {path}"), "{d:?}");
    assert_eq!(fd_desc(&d, 4), format!("unix @{n107}"), "{d:?}");
    assert_eq!(fd_desc(&d, 5), format!("unix @{n106}"), "{d:?}");
    // The dumping server accepts nothing; the listening sockets' backlogs do.
    let c = std::os::unix::net::UnixStream::connect(&path);
    assert!(c.is_ok(), "connect to {path}: {c:?}");
    let abs = std::os::unix::net::SocketAddr::from_abstract_name(n107.as_bytes()).expect("an abstract address");
    let c = std::os::unix::net::UnixStream::connect_addr(&abs);
    assert!(c.is_ok(), "connect to @{n107}: {c:?}");
    assert_eq!(s.restarts("web"), Some(0));
}

/// `tcp::PORT` (every address: dual stack, or IPv4 where the kernel has no
/// IPv6) and `tcp:[::1]:PORT` are bound and served; the latter only where
/// this machine has IPv6 on loopback.
#[test]
fn listen_serves_any_address_and_ipv6() {
    let (any, v6) = (free_tcp_port(), free_tcp_port());
    let has_v6 = TcpListener::bind(("::1", 0)).is_ok();
    let mut s = Svc::new("listen_serves_any_address_and_ipv6");
    let six = if has_v6 { format!("listen = tcp:[::1]:{v6}\n") } else { String::new() };
    s.write_config(&format!("[web]\nexec = {}\nlisten = tcp::{any}\n{six}backoff = 0ms 0ms\n", echo_exec("")));
    s.start();
    let pid = s.wait_running("web");
    assert_eq!(attempt(&Target::tcp(any), Proto::Line), Outcome::Ok(pid), "127.0.0.1 on tcp::{any}");
    if has_v6 {
        let ip6 = std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, v6));
        assert_eq!(attempt(&Target::Tcp(ip6), Proto::Line), Outcome::Ok(pid), "[::1]:{v6}");
        let ip6 = std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, any));
        assert_eq!(attempt(&Target::Tcp(ip6), Proto::Line), Outcome::Ok(pid), "[::1] on tcp::{any}");
    }
    assert_eq!(s.restarts("web"), Some(0));
}

#[test]
fn on_connect_starts_the_service() {
    let port = free_tcp_port();
    let mut s = Svc::new("on_connect_starts_the_service");
    let events = s.path("events");
    s.write_config(&format!(
        "[web]\nexec = {}\nenv = EVENTS_FILE={}\nlisten = tcp:127.0.0.1:{port}\nstart = on-connect\nbackoff = 0ms 0ms\n",
        echo_exec("--once"),
        events.display()
    ));
    s.start();
    // Not started at up: stopped, no pid, nothing ran.
    thread::sleep(ms(300));
    let line = s.status_line("web").unwrap();
    assert_eq!((line[1].as_str(), line[2].as_str()), ("stopped", "-"), "{line:?}");
    assert!(!events.exists(), "the server ran before a connection: {:?}", read_lines(&events));

    // A connection starts it, and it serves that very connection.
    let first = match attempt(&Target::tcp(port), Proto::Line) {
        Outcome::Ok(pid) => pid,
        o => panic!("the first connection: {o:?}"),
    };
    // It exits 0 after one connection (--once): back to watching.
    let line = s.wait_state("web", "stopped", secs(10));
    assert_eq!(line[2], "-", "{line:?}");
    wait_until(secs(10), "the first instance to exit", || read_lines(&events).contains(&format!("exit {first}")));

    // The next connection starts it again.
    let second = match attempt(&Target::tcp(port), Proto::Line) {
        Outcome::Ok(pid) => pid,
        o => panic!("the second connection: {o:?}"),
    };
    assert_ne!(second, first);
    s.wait_state("web", "stopped", secs(10));
    wait_until(secs(10), "the second instance to exit", || read_lines(&events).contains(&format!("exit {second}")));
    assert_eq!(
        read_lines(&events),
        [format!("ready {first}"), format!("exit {first}"), format!("ready {second}"), format!("exit {second}")],
        "one instance per connection, one at a time"
    );
}

#[test]
fn reload_keeps_socket_when_backlog_or_name_change() {
    let port = free_tcp_port();
    let mut s = Svc::new("reload_keeps_socket_backlog_name");
    let dump = s.path("dump");
    let conf = |listen: &str| format!("[web]\nexec = {}\n{listen}\nbackoff = 0ms 0ms\n", echo_exec(&format!("--dump {}", dump.display())));
    s.write_config(&conf(&format!("listen = tcp:127.0.0.1:{port} name=http backlog=128")));
    s.start();
    let inode = service_socket(&s, "web", 3);
    assert!(socket_inodes(s.svc_pid()).contains(&inode), "svc holds the socket {inode}");

    for (i, listen) in
        [format!("listen = tcp:127.0.0.1:{port} name=http backlog=64"), format!("listen = tcp:127.0.0.1:{port} name=api backlog=64")]
            .iter()
            .enumerate()
    {
        s.write_config(&conf(listen));
        let out = s.run(&["reload"]);
        assert_eq!(out.status.code(), Some(0), "reload {i} ({listen}): {}", show(&out));
        assert!(socket_inodes(s.svc_pid()).contains(&inode), "reload {i} ({listen}): svc still holds the socket {inode}");
        assert_eq!(service_socket(&s, "web", 3), inode, "reload {i} ({listen}): the instance has the same socket");
    }
    // The next instance has the new name on the same socket.
    let before = s.wait_running("web");
    s.run_ok(&["restart", "web"]);
    let new = wait_new_pid(&s, "web", before);
    let d = wait_dump(&dump, new);
    assert_eq!(field(&d, "LISTEN_FDNAMES"), "api", "{d:?}");
    assert_eq!(socket_inode(new, 3), Some(inode));
}

#[test]
fn reload_moves_socket_between_services() {
    let [p, q, r] = free_tcp_ports(3)[..] else { unreachable!() };
    let mut s = Svc::new("reload_moves_socket_between_services");
    let svc_conf = |a: &[u16], b: &[u16]| {
        let listens = |ports: &[u16]| ports.iter().map(|p| format!("listen = tcp:127.0.0.1:{p}\n")).collect::<String>();
        format!("[a]\nexec = {e}\n{}backoff = 0ms 0ms\n\n[b]\nexec = {e}\n{}backoff = 0ms 0ms\n", listens(a), listens(b), e = echo_exec(""))
    };
    s.write_config(&svc_conf(&[p, q], &[r]));
    s.start();
    let a = s.wait_running("a");
    let b = s.wait_running("b");
    let (ip, iq, ir) = (service_socket(&s, "a", 3), service_socket(&s, "a", 4), service_socket(&s, "b", 3));
    assert_eq!(attempt(&Target::tcp(p), Proto::Line), Outcome::Ok(a));
    assert_eq!(attempt(&Target::tcp(r), Proto::Line), Outcome::Ok(b));

    // P moves from a to b: the same socket, now b's second.
    s.write_config(&svc_conf(&[q], &[r, p]));
    let out = s.run(&["reload"]);
    assert_eq!(out.status.code(), Some(0), "reload: {}", show(&out));
    let held = socket_inodes(s.svc_pid());
    for (what, i) in [("P", ip), ("Q", iq), ("R", ir)] {
        assert!(held.contains(&i), "svc still holds {what} ({i}): {held:?}");
    }
    let b2 = wait_for(secs(10), "b to run with P at fd 4", || {
        let pid = s.pid("b")?;
        (s.state("b").as_deref() == Some("running") && socket_inode(pid, 4) == Some(ip)).then_some(pid)
    });
    assert_eq!(socket_inode(b2, 3), Some(ir), "b keeps R at fd 3");
    let a2 = wait_for(secs(10), "a to run with Q at fd 3 and nothing at fd 4", || {
        let pid = s.pid("a")?;
        (s.state("a").as_deref() == Some("running") && socket_inode(pid, 3) == Some(iq) && socket_inode(pid, 4).is_none()).then_some(pid)
    });
    assert_eq!(attempt(&Target::tcp(p), Proto::Line), Outcome::Ok(b2), "P is served by b");
    assert_eq!(attempt(&Target::tcp(q), Proto::Line), Outcome::Ok(a2), "Q is served by a");
    assert_eq!(attempt(&Target::tcp(r), Proto::Line), Outcome::Ok(b2), "R is served by b");
}

#[test]
fn reload_with_a_taken_port_changes_nothing() {
    let [p, q] = free_tcp_ports(2)[..] else { unreachable!() };
    // A port another process holds (the test itself).
    let taken = TcpListener::bind(loopback(0)).expect("bind 127.0.0.1:0");
    let t = taken.local_addr().expect("local_addr").port();
    let mut s = Svc::new("reload_with_a_taken_port");
    let conf = |a_extra: &str, b_env: &str| {
        format!(
            "[a]\nexec = {e}\nlisten = tcp:127.0.0.1:{p}\n{a_extra}backoff = 0ms 0ms\n\n[b]\nexec = {e}\nlisten = tcp:127.0.0.1:{q}\n{b_env}backoff = 0ms 0ms\n",
            e = echo_exec("")
        )
    };
    s.write_config(&conf("", ""));
    s.start();
    let a = s.wait_running("a");
    let b = s.wait_running("b");
    let (ia, ib) = (service_socket(&s, "a", 3), service_socket(&s, "b", 3));
    let (ga, gb) = (s.generation("a"), s.generation("b"));
    let held = socket_inodes(s.svc_pid());

    // The new socket cannot be bound: the whole reload is refused, including
    // b's change that would restart it.
    s.write_config(&conf(&format!("listen = tcp:127.0.0.1:{t}\n"), "env = CHANGED=1\n"));
    let out = s.run(&["reload"]);
    assert_eq!(out.status.code(), Some(1), "reload onto a taken port: {}", show(&out));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(said.contains(&t.to_string()), "the reply names the address: {}", show(&out));
    assert!(said.contains("EADDRINUSE"), "the reply names the errno: {}", show(&out));

    // Nothing changed.
    thread::sleep(ms(300));
    assert_eq!(s.pid("a"), Some(a));
    assert_eq!(s.pid("b"), Some(b));
    assert_eq!((s.generation("a"), s.generation("b")), (ga, gb), "generations");
    assert_eq!(fds(a), [0, 1, 2, 3], "a got no new socket");
    assert_eq!((socket_inode(a, 3), socket_inode(b, 3)), (Some(ia), Some(ib)));
    assert_eq!(socket_inodes(s.svc_pid()), held, "svc holds the same sockets");
    assert_eq!(attempt(&Target::tcp(p), Proto::Line), Outcome::Ok(a));
    assert_eq!(attempt(&Target::tcp(q), Proto::Line), Outcome::Ok(b));
    // svc kept no socket on the taken port: its sockets are the ones it held
    // before (checked above). (Connecting to the port after dropping
    // `taken` would race with the other tests, which pick free ports too.)
    drop(taken);
}

const WSGI_APP: &str = "import os\n\n\ndef app(environ, start_response):\n    body = ('pid %d\\n' % os.getpid()).encode()\n    \
                        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])\n    return [body]\n";

#[test]
fn gunicorn_restarted_by_kill_refuses_nothing() {
    const KILLS: usize = 5;
    const THREADS: usize = 2;
    let Some(gunicorn) = program_or_skip("gunicorn_restarted_by_kill_refuses_nothing", "gunicorn", "gunicorn") else { return };
    let port = free_tcp_port();
    let mut s = Svc::new("gunicorn_restarted_by_kill");
    fs::create_dir_all(s.path("app")).expect("mkdir app");
    s.write("app/app.py", WSGI_APP);
    // --timeout 5: an orphaned worker notices its master is gone within seconds.
    s.write_config(&format!(
        "[web]\nexec = {gunicorn} --workers 1 --timeout 5 app:app\ncwd = {}\nlisten = tcp:127.0.0.1:{port}\nbackoff = 0ms 0ms\n",
        s.p("app")
    ));
    s.start();
    let mut master = s.wait_running("web");
    let first = wait_for(secs(20), "gunicorn's first answer", || match attempt(&Target::tcp(port), Proto::Http) {
        Outcome::Ok(pid) => Some(pid),
        Outcome::Refused => panic!("refused while svc holds the port"),
        _ => None,
    });
    assert_ne!(first, master, "a worker answers, not the master");

    let load = Load::start(LoadSpec { proto: Proto::Http, max_attempts: 3000, ..LoadSpec::new(Target::tcp(port), THREADS) });
    // Workers answer (their pids are new at each master): a pid not seen
    // before the kill is a worker of the new master.
    let mut known: BTreeSet<u32> = BTreeSet::new();
    for k in 0..=KILLS {
        wait_until(secs(20), &format!("an answer from a worker of master {k} ({master})"), || {
            assert!(!load.ended(), "the load ended before kill {k}: {}", load.tally());
            load.tally().pids.iter().any(|p| !known.contains(p))
        });
        known = load.tally().pids;
        if k == KILLS {
            break;
        }
        // Its workers are the fixture's to end if they linger after the test.
        for c in children_of(master) {
            s.end_on_drop(c);
        }
        kill(master, "KILL");
        master = wait_new_pid(&s, "web", master);
    }
    let t = load.finish();
    for c in children_of(master) {
        s.end_on_drop(c);
    }
    assert_eq!(t.refused, 0, "refused: {t}");
    assert_eq!(t.timed_out, 0, "timed out: {t}");
    assert!(t.ok > 0, "{t}");
    assert!(s.svc_running(), "svc exited:\n{}", s.stderr_text());
}

#[test]
fn reload_reply_lists_socket_changes() {
    let [p, q] = free_tcp_ports(2)[..] else { unreachable!() };
    let mut s = Svc::new("reload_lists_sockets");
    let conf = |port: u16| format!("[web]\nexec = {}\nlisten = tcp:127.0.0.1:{port}\nbackoff = 0ms 0ms\n", echo_exec(""));
    s.write_config(&conf(p));
    s.start();
    s.wait_running("web");
    s.write_config(&conf(q));
    let out = s.run(&["reload"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let lines = reload_lines(&out);
    assert!(lines.contains(&vec!["bound".to_string(), format!("tcp:127.0.0.1:{q}")]), "{lines:?}");
    assert!(lines.contains(&vec!["closed".to_string(), format!("tcp:127.0.0.1:{p}")]), "{lines:?}");
    // A reload that changes no socket lists none.
    let out = s.run(&["reload"]);
    assert!(!reload_lines(&out).iter().any(|l| l[0] == "bound" || l[0] == "closed"), "{}", show(&out));
}

#[test]
fn status_shows_the_sockets() {
    let [p, q] = free_tcp_ports(2)[..] else { unreachable!() };
    let mut s = Svc::new("status_shows_the_sockets");
    s.write_config(&format!(
        "[web]\nexec = {}\nlisten = tcp:127.0.0.1:{p}\nlisten = udp:127.0.0.1:{q}\n\n[plain]\nexec = /bin/sleep 1000\n",
        echo_exec("")
    ));
    s.start();
    s.wait_running("web");
    let long = s.run_ok(&["status", "-l"]);
    let lines: Vec<&str> = long.lines().collect();
    let web = lines.iter().position(|l| l.starts_with("web ")).expect("web's line");
    assert_eq!(lines.get(web + 1).map(|l| l.trim()), Some(format!("sockets: tcp:127.0.0.1:{p} udp:127.0.0.1:{q}").as_str()), "{long}");
    assert!(!long.lines().skip_while(|l| !l.starts_with("plain ")).nth(1).is_some_and(|l| l.contains("sockets")), "{long}");
    // Without -l: one line per service.
    assert!(!s.run_ok(&["status"]).contains("sockets:"));
    let o = s.json("web");
    let Some(Json::Arr(list)) = o.get("sockets") else { panic!("no sockets array: {o:?}") };
    let got: Vec<&str> = list.iter().filter_map(Json::as_str).collect();
    assert_eq!(got, [format!("tcp:127.0.0.1:{p}"), format!("udp:127.0.0.1:{q}")], "{o:?}");
    assert!(matches!(s.json("plain").get("sockets"), Some(Json::Arr(l)) if l.is_empty()));
}
