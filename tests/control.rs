//! The control socket under abuse, through raw connections: idle clients,
//! garbage, half requests, replies nobody reads. svc keeps answering and
//! its memory stays flat.

mod common;
use common::*;
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Instant;

/// The connection was closed by svc (EOF, a reset, or a reply then EOF),
/// without waiting: false while svc still holds it open and silent.
fn closed_now(c: &mut UnixStream) -> bool {
    c.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 256];
    let r = c.read(&mut buf);
    c.set_nonblocking(false).expect("blocking");
    !matches!(r, Err(ref e) if e.kind() == ErrorKind::WouldBlock)
}

/// A service with a ring of about 192 KiB, full: a `log` reply bigger than a socket buffer.
fn with_big_ring(test: &str) -> Svc {
    let mut s = Svc::new(test);
    let big = s.script(
        "big",
        "i=0\nwhile [ $i -lt 2500 ]; do echo \"big $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"; i=$((i+1)); done\n\
         exec /bin/sleep 1000\n",
    );
    s.write_config(&format!("[big]\nexec = {big}\nlog = ring:192k\n\n[other]\nexec = /bin/sleep 1000\n"));
    s.start();
    s.wait_running("other");
    wait_until(secs(20), "big's last line", || s.log_texts("big", &["-n", "1"]).first().is_some_and(|t| t.starts_with("big 2499 ")));
    s
}

#[test]
fn idle_connections_do_not_lock_clients_out() {
    let s = Svc::up("idle_connections", "[a]\nexec = /bin/sleep 1000\n");
    s.wait_running("a");
    let mut idle: Vec<UnixStream> = Vec::new();
    for round in 0..3 {
        let first = idle.len();
        for _ in 0..8 {
            idle.push(s.connect());
        }
        s.assert_answers(&format!("round {round}, {} idle connections", idle.len()), &["a"]);
        // Room was made by dropping the oldest idle connection, not the newest.
        assert!(closed_now(&mut idle[first]), "round {round}: the oldest idle connection is still open");
        let last = idle.len() - 1;
        assert!(!closed_now(&mut idle[last]), "round {round}: the newest idle connection was closed");
    }
    // And svc ends an idle connection on its own within its 5 s.
    let mut lone = s.connect();
    drop(idle);
    assert!(outcome(&mut lone, secs(15)).is_some(), "an idle connection was kept past the request timeout");
    s.assert_answers("at the end", &["a"]);
}

#[test]
fn garbage_without_newline_is_dropped() {
    let s = Svc::up("garbage", "[a]\nexec = /bin/sleep 1000\n");
    s.wait_running("a");
    let mut c = s.connect();
    let mut writer = c.try_clone().expect("clone");
    writer.set_write_timeout(Some(secs(10))).unwrap();
    let sender = std::thread::spawn(move || {
        let chunk = [b'x'; 4096];
        // 1 MiB, stopping at the first error.
        for i in 0..256 {
            if let Err(e) = writer.write_all(&chunk) {
                return Some((i, e.kind()));
            }
        }
        None
    });
    // Meanwhile svc answers others.
    for i in 0..5 {
        s.assert_answers(&format!("status call {i} during the garbage"), &["a"]);
    }
    let failed = sender.join().expect("the sender");
    if let Some((_, kind)) = failed {
        assert_ne!(kind, ErrorKind::WouldBlock, "svc stopped reading without closing");
        assert_ne!(kind, ErrorKind::TimedOut, "svc stopped reading without closing");
    }
    // Either way svc closes it, at most with an error head `2 ...`.
    let got = outcome(&mut c, secs(10)).unwrap_or_else(|| panic!("the garbage connection is still open (writes failed: {failed:?})"));
    let got = text(&got);
    assert!(got.is_empty() || got.starts_with("2 "), "reply to garbage: {got:?}");
    s.assert_answers("after the garbage", &["a"]);
}

#[test]
fn half_requests_then_close() {
    let s = Svc::up("half_requests", "[a]\nexec = /bin/sleep 1000\n");
    let pid = s.wait_running("a");
    for i in 0..20 {
        let mut c = s.connect();
        let part: &[u8] = match i % 4 {
            0 => b"stat",
            1 => b"stop a",
            2 => b"log a 5",
            _ => b"status a",
        };
        c.write_all(part).unwrap();
        drop(c);
        if i % 5 == 4 {
            s.assert_answers(&format!("after {} half requests", i + 1), &["a"]);
        }
    }
    // A half `stop a` was never carried out.
    assert_eq!(s.pid("a"), Some(pid));
    // Half a request left open: closed at the timeout, never answered as a request.
    let mut c = s.connect();
    c.write_all(b"stop a").unwrap();
    let got = outcome(&mut c, secs(15)).expect("a half request was kept past the request timeout");
    let got = text(&got);
    assert!(!got.starts_with("0"), "a half request was carried out: {got:?}");
    assert_eq!(s.pid("a"), Some(pid));
    assert_eq!(s.state("a").as_deref(), Some("running"));
}

#[test]
fn unread_log_replies_do_not_block_svc() {
    let s = with_big_ring("unread_log");
    // Six clients ask for the whole ring and never read: svc's writes to them block.
    let mut stuck = Vec::new();
    for _ in 0..6 {
        let mut c = s.connect();
        c.write_all(b"log big\n").unwrap();
        stuck.push(c);
    }
    for i in 0..10 {
        s.assert_answers(&format!("status call {i} beside unread log replies"), &["big", "other"]);
    }
    assert_eq!(s.log_texts("other", &[]).len(), 0);
    assert!(s.log_texts("big", &["-n", "3"]).len() == 3);
    // The replies were not cut short: one of them, read now, is whole.
    let mut c = stuck.pop().unwrap();
    let got = outcome(&mut c, secs(10)).expect("the log reply did not end");
    let got = text(&got);
    let (head, body) = got.split_once('\n').unwrap_or_else(|| panic!("no head: {:?}", &got[..got.len().min(200)]));
    assert_eq!(head, "0");
    let last = body.lines().last().and_then(log_text).unwrap_or("");
    assert!(last.starts_with("big 2499 "), "the reply ends with {last:?}");
    drop(stuck);
    s.assert_answers("after the readers left", &["big", "other"]);
}

#[test]
fn memory_stays_flat_under_bad_connections() {
    if !runner().is_empty() {
        eprintln!("note: memory_stays_flat_under_bad_connections measures svc itself, not a runner; skipped");
        return;
    }
    let s = with_big_ring("flat_memory");
    let pid = s.svc_pid();
    let start = Instant::now();
    let mut window: VecDeque<UnixStream> = VecDeque::new();
    let mut warm = 0;
    for i in 0..1000u32 {
        assert!(start.elapsed() < secs(240), "1000 connections took more than 240 s (at {i})");
        match i % 6 {
            // Connect and close at once.
            0 => drop(s.connect()),
            // Half a request, then close.
            1 => {
                let mut c = s.connect();
                let _ = c.write_all(b"status a");
            }
            // 16 KiB of garbage without a newline.
            2 => {
                let mut c = s.connect();
                c.set_write_timeout(Some(secs(2))).unwrap();
                let _ = c.write_all(&[b'g'; 16 * 1024]);
                let _ = outcome(&mut c, secs(2));
            }
            // A big log reply, never read.
            3 => {
                let mut c = s.connect();
                let _ = c.write_all(b"log big\n");
            }
            // Idle connections kept open, more than there are slots.
            4 => {
                window.push_back(s.connect());
                if window.len() > 10 {
                    window.pop_front();
                }
            }
            // Unknown verbs and bad arguments.
            _ => {
                let mut c = s.connect();
                let _ = c.write_all(if i % 12 == 5 { b"frob x\n" } else { b"signal big\n" });
                let _ = outcome(&mut c, secs(2));
            }
        }
        if i % 100 == 99 {
            s.assert_answers(&format!("after {} bad connections", i + 1), &["big", "other"]);
        }
        if i == 49 {
            window.clear();
            s.assert_answers("after the warm-up", &["big", "other"]);
            warm = vm_rss_kb(pid);
        }
    }
    window.clear();
    s.assert_answers("after 1000 bad connections", &["big", "other"]);
    let now = vm_rss_kb(pid);
    assert!(now <= warm + 16, "VmRSS grew from {warm} kB after the warm-up to {now} kB");
    assert_eq!(s.restarts("big"), Some(0));
}

/// A `svc log -f NAME` process; its stdout lines arrive on `lines`.
struct Follower {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Follower {
    fn start(s: &Svc, name: &str) -> Follower {
        use std::io::BufRead;
        use std::process::Stdio;
        let conf = s.conf_str();
        let mut child = svc(&["log", "-c", &conf, "-f", name])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("svc log -f");
        let out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        Follower { child, lines }
    }

    /// Some(true): it follows (a line came); Some(false): it exited.
    fn outcome(&mut self) -> Option<bool> {
        if self.lines.try_recv().is_ok() {
            return Some(true);
        }
        self.child.try_wait().ok().flatten().map(|_| false)
    }

    /// The exit status and stderr of one that exited.
    fn refusal(&mut self) -> (Option<i32>, String) {
        let code = self.child.wait().expect("wait").code();
        let mut err = String::new();
        let _ = self.child.stderr.take().expect("stderr").read_to_string(&mut err);
        (code, err)
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn followers_and_stalled_readers_leave_room_for_requests() {
    let mut s = Svc::new("followers_leave_room");
    // A full ring of about 192 KiB (a reply bigger than a socket buffer), then a line every 100 ms.
    let tick = s.script(
        "tick",
        "i=0\nwhile [ $i -lt 2500 ]; do echo \"big $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"; i=$((i+1)); done\n\
         while :; do echo tick; sleep 0.1; done\n",
    );
    s.write_config(&format!("[tick]\nexec = {tick}\nlog = ring:192k\n\n[other]\nexec = /bin/sleep 1000\n"));
    s.start();
    s.wait_running("other");
    wait_until(secs(20), "tick's burst", || s.log_texts("tick", &["-n", "1"]).first().is_some_and(|t| t == "tick"));
    s.run_ok(&["stop", "other"]);

    // Twelve followers, one at a time: some follow, the rest are refused,
    // leaving slots for one-shot requests.
    let mut following = Vec::new();
    let mut refused = 0;
    for i in 0..12 {
        let mut f = Follower::start(&s, "tick");
        if wait_for(secs(10), &format!("follower {i} to follow or exit"), || f.outcome()) {
            following.push(f);
            continue;
        }
        let (code, err) = f.refusal();
        assert_eq!(code, Some(1), "follower {i}: {err}");
        assert_eq!(err, "svc: busy: too many followers\n", "follower {i}");
        refused += 1;
    }
    assert!(following.len() >= 4 && refused >= 4, "{} followers, {refused} refused", following.len());
    // A stop waits for its services, as followers do: refused too, and nothing stops.
    let out = s.run(&["stop", "tick"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(text(&out.stderr), "svc: busy: too many waiting requests\n");
    assert_eq!(s.state("tick").as_deref(), Some("running"));

    // Four stalled raw connections: two whole-ring replies nobody reads, two silent.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut c = s.connect();
        c.write_all(b"log tick\n").unwrap();
        stalled.push(c);
    }
    stalled.push(s.connect());
    stalled.push(s.connect());

    // One-shot requests are still served.
    for round in 0..3 {
        s.assert_answers(&format!("status, round {round}"), &["tick", "other"]);
    }
    s.run_ok(&["start", "other"]);
    s.wait_running("other");
    // The followers kept following.
    for (i, f) in following.iter().enumerate() {
        while f.lines.try_recv().is_ok() {}
        let line = f.lines.recv_timeout(secs(5)).unwrap_or_else(|e| panic!("follower {i}: {e}"));
        assert!(line.ends_with(" tick"), "follower {i}: {line:?}");
    }
    drop(stalled);
    drop(following);
    s.run_ok(&["stop", "other"]);
}

#[test]
fn requests_carry_only_their_flags() {
    let s = Svc::up("request_flags", "[a]\nexec = /bin/sleep 1000\n");
    s.wait_running("a");
    // `--force` reaches svc; on a valid config it is an ordinary reload.
    s.run_ok(&["reload", "--force"]);
    let (head, body) = s.request("reload --dry-run --force");
    assert_eq!((head.as_str(), body.as_str()), ("0", "kept      a\n"));
    for line in ["status --force", "reload --json", "log -f a --frob"] {
        assert_eq!(s.request(line).0, "2 flag not accepted by this request", "{line}");
    }
    let out = s.run(&["status", "--force"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(s.pid("a").is_some());
}

/// How deep svc's stack has been, in bytes below where it started
/// (/proc/PID/stat's startstack): down to its lowest non-zero byte, read
/// through /proc/PID/mem (the kernel gives a stack zeroed pages, and each
/// frame leaves at least its return address behind). None where /proc/PID/mem
/// may not be read (ptrace restricted).
fn stack_depth(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let fields: Vec<&str> = stat[stat.rfind(')').expect("comm") + 1..].split_whitespace().collect();
    // Field 28 of stat; the slice starts at field 3.
    let start: u64 = fields[25].parse().expect("startstack");
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("maps");
    let line = maps.lines().find(|l| l.ends_with("[stack]")).expect("a [stack] mapping");
    let lo = u64::from_str_radix(line.split('-').next().unwrap(), 16).unwrap();
    assert!(lo < start, "startstack {start:#x} below the mapping at {lo:#x}");
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut buf = vec![0u8; (start - lo) as usize];
    std::io::Seek::seek(&mut mem, std::io::SeekFrom::Start(lo)).ok()?;
    mem.read_exact(&mut buf).ok()?;
    let first = buf.iter().position(|&b| b != 0).expect("a used stack");
    Some(start - lo - first as u64)
}

/// KiB of svc's [stack] mapping that are resident (/proc/PID/smaps).
fn stack_rss_kib(pid: u32) -> u64 {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).expect("smaps");
    let at = smaps.find("[stack]").expect("a [stack] mapping");
    let rss = smaps[at..].lines().find_map(|l| l.strip_prefix("Rss:")).expect("Rss");
    rss.trim().trim_end_matches("kB").trim().parse().expect("Rss in kB")
}

/// svc's stack stays shallow through the requests it answers and a reload
/// (a request once copied into a 4 KiB buffer on the stack took it to 19
/// KiB, a reload to 23): every KiB the deepest path touches is memory svc
/// holds for good. The bound is for the release binary; a debug build's
/// frames are far bigger, and only bounded loosely.
#[test]
fn requests_keep_the_stack_shallow() {
    if !runner().is_empty() {
        eprintln!("requests_keep_the_stack_shallow: skipped under $SVC_RUNNER (its /proc is the emulator's)");
        return;
    }
    let mut s = Svc::new("stack_depth");
    let ring = s.script("ring", "echo hello\nexec /bin/sleep 1000\n");
    let mut conf = format!("[ring]\nexec = {ring}\n");
    for i in 0..10 {
        conf.push_str(&format!("[s{i}]\nexec = /bin/sleep 1000\nlog = null\n"));
    }
    s.write_config(&conf);
    s.start();
    s.wait_running("s9");
    wait_until(secs(10), "ring's line", || s.log_texts("ring", &[]).iter().any(|t| t == "hello"));
    s.run_ok(&["status"]);
    s.run_ok(&["status", "--json", "s1", "s2"]);
    s.run_ok(&["status", "-l"]);
    s.run_ok(&["log", "ring", "-n", "5"]);
    s.run_ok(&["restart", "s3"]);
    s.run_ok(&["reload"]);
    s.run_ok(&["reload", "--dry-run"]);
    s.wait_running("s3");
    let release = text(&svc(&["version"]).output().expect("svc version").stdout).contains("musl");
    let build = if release { "release" } else { "debug" };
    let pid = s.svc_pid();
    if let Some(depth) = stack_depth(pid) {
        let bound = if release { 10 * 1024 } else { 64 * 1024 };
        eprintln!("svc's stack: {depth} bytes deep ({build} build; bound {bound})");
        assert!(depth <= bound, "svc's stack went {depth} bytes deep (bound {bound})");
    } else {
        // Page-grained: the environment's page(s) at the top and the
        // frames' (the kernel's random gap between them is never touched).
        let (kib, bound) = (stack_rss_kib(pid), if release { 20 } else { 96 });
        eprintln!("svc's stack: {kib} KiB resident ({build} build; /proc/PID/mem unreadable; bound {bound})");
        assert!(kib <= bound, "svc's stack holds {kib} KiB (bound {bound})");
    }
}
