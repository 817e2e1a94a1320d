//! Log targets beyond the ring: `file:` with rotation and a full disk,
//! `console`, `svc log` on a file, and `svc log -f` (including a follower
//! that never reads).

mod common;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The lines of a log file, each checked to have the stamp form; the texts.
fn file_texts(path: &Path) -> Vec<String> {
    let raw = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(raw.is_empty() || raw.ends_with('\n'), "{} ends inside a line", path.display());
    raw.lines()
        .map(|l| log_text(l).unwrap_or_else(|| panic!("{}: a line without the stamp form: {l:?}", path.display())).to_string())
        .collect()
}

#[test]
fn smoke_file_log() {
    let mut s = Svc::new("smoke_file_log");
    let talk = s.script("talk", "echo hello one\necho hello two\nexec /bin/sleep 1000\n");
    s.write_config(&format!("[talk]\nexec = {talk}\nlog = file:{{DIR}}/talk.log\n"));
    s.start();
    s.wait_running("talk");
    let path = s.path("talk.log");
    wait_until(secs(10), "two lines in talk.log", || read_lines(&path).len() >= 2);
    assert_eq!(file_texts(&path), ["hello one", "hello two"]);
    // svc log reads the file.
    assert_eq!(s.log_lines("talk", &[]), read_lines(&path));
    assert_eq!(s.log_texts("talk", &["-n", "1"]), ["hello two"]);
}

fn numbered(n: u32) -> String {
    format!("line {n} {}", "x".repeat(20))
}

/// The number of a `numbered` line.
fn number_of(t: &str) -> u32 {
    t.strip_prefix("line ").and_then(|r| r.split(' ').next()?.parse().ok()).unwrap_or_else(|| panic!("not a numbered line: {t:?}"))
}

/// `PATH` or `PATH.k`.
fn rotated(path: &Path, k: u32) -> PathBuf {
    match k {
        0 => path.to_path_buf(),
        _ => PathBuf::from(format!("{}.{k}", path.display())),
    }
}

/// Checks the files of a rotated log of `size` bytes and `keep` old files
/// whose service wrote `numbered(0..total)`.
fn check_rotation(path: &Path, size: u64, keep: u32, total: u32) {
    let what = path.display();
    assert!(rotated(path, keep).exists(), "{what}.{keep} is missing");
    assert!(!rotated(path, keep + 1).exists(), "{what}.{} exists: more than log_keep = {keep} old files", keep + 1);
    // Oldest first: PATH.keep ... PATH.1, PATH.
    let mut all: Vec<u32> = Vec::new();
    let mut prev: Option<u64> = None;
    for k in (0..=keep).rev() {
        let f = rotated(path, k);
        let len = fs::metadata(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display())).len();
        assert!(len <= size, "{} has {len} bytes, over log_size {size}", f.display());
        let texts = file_texts(&f);
        assert!(!texts.is_empty(), "{} is empty", f.display());
        // Rotated only when the next line would not have fitted.
        if let Some(p) = prev {
            let first = fs::read_to_string(&f).unwrap().lines().next().unwrap().len() as u64 + 1;
            assert!(p + first > size, "rotated early: {p} bytes + a line of {first} fit in {size} ({what}.{})", k + 1);
        }
        prev = Some(len);
        for t in &texts {
            assert_eq!(*t, numbered(number_of(t)), "a cut line in {}", f.display());
        }
        all.extend(texts.iter().map(|t| number_of(t)));
    }
    let first = all[0];
    assert!(first > 0, "{what}: the oldest lines were kept although they do not fit");
    let want: Vec<u32> = (first..total).collect();
    assert_eq!(all, want, "{what}: the lines across the files are not consecutive up to the newest");
}

#[test]
fn file_log_rotates() {
    let mut s = Svc::new("file_log_rotates");
    let body = "i=0\nwhile [ $i -lt 600 ]; do echo \"line $i xxxxxxxxxxxxxxxxxxxx\"; i=$((i+1)); done\nexec /bin/sleep 1000\n";
    let two = s.script("two", body);
    let three = s.script("three", body);
    s.write_config(&format!(
        "[two]\nexec = {two}\nlog = file:{{DIR}}/two.log\nlog_size = 4k\nlog_keep = 2\n\n\
         [three]\nexec = {three}\nlog = file:{{DIR}}/three.log\nlog_size = 4k\n"
    ));
    s.start();
    for name in ["two", "three"] {
        let path = s.path(&format!("{name}.log"));
        wait_until(secs(15), &format!("line 599 in {name}.log"), || {
            read_lines(&path).last().and_then(|l| log_text(l)).is_some_and(|t| t == numbered(599))
        });
    }
    // 600 lines of 55 bytes: about 8 files of 4 KiB, of which the newest 3 or 4 are kept.
    check_rotation(&s.path("two.log"), 4096, 2, 600);
    check_rotation(&s.path("three.log"), 4096, 3, 600);
}

#[test]
fn svc_log_reads_a_file_target() {
    let mut s = Svc::new("svc_log_file");
    let count =
        s.script("count", "i=0\nwhile [ $i -lt 1500 ]; do echo \"line $i xxxxxxxxxxxxxxxxxxxx\"; i=$((i+1)); done\nexec /bin/sleep 1000\n");
    s.write_config(&format!("[count]\nexec = {count}\nlog = file:{{DIR}}/count.log\n"));
    s.start();
    let path = s.path("count.log");
    wait_until(secs(15), "line 1499 in count.log", || {
        read_lines(&path).last().and_then(|l| log_text(l)).is_some_and(|t| t == numbered(1499))
    });
    let file = read_lines(&path);
    assert_eq!(file.len(), 1500);
    // Without -n: the last 1000 lines of the file, as they are in it.
    assert_eq!(s.log_lines("count", &[]), file[500..]);
    assert_eq!(s.log_lines("count", &["-n", "3"]), file[1497..]);
}

#[test]
fn console_log_goes_to_svc_stderr() {
    let mut s = Svc::new("console_log");
    let talk = s.script("talk", "echo hello console\necho second line\nexec /bin/sleep 1000\n");
    s.write_config(&format!("[con]\nexec = {talk}\nlog = console\n"));
    s.start();
    s.wait_running("con");
    let want = ["con: hello console", "con: second line"];
    let found =
        |err: &str| -> Vec<usize> { want.iter().filter_map(|w| err.lines().position(|l| l == *w || log_text(l) == Some(*w))).collect() };
    wait_until(secs(10), "both lines on svc's stderr", || found(&s.stderr_text()).len() == 2);
    let at = found(&s.stderr_text());
    assert!(at[0] < at[1], "out of order:\n{}", s.stderr_text());
}

/// Reads lines of `f` until `n` of them are not `poke`; returns those (after
/// checking the stamp form when `stamped`), and how many pokes came first.
fn after_pokes(f: &Follower, n: usize, what: &str) -> (usize, Vec<String>) {
    let mut pokes = 0;
    let mut got = Vec::new();
    for _ in 0..n + 1000 {
        if got.len() == n {
            break;
        }
        let l = f.expect(secs(10), what);
        let t = log_text(&l).unwrap_or_else(|| panic!("{what}: a line without the stamp form: {l:?}")).to_string();
        if t == "poke" || t == "tick: poke" {
            assert!(got.is_empty(), "{what}: a poke after {got:?}");
            pokes += 1;
        } else {
            got.push(t);
        }
    }
    (pokes, got)
}

#[test]
fn log_follow() {
    let mut s = Svc::new("log_follow");
    // tick writes three lines, then one `poke` for each poke file, then three more lines at go.
    let tick = s.script(
        "tick",
        "echo before 1\necho before 2\necho before 3\ni=0\nwhile [ $i -lt 4000 ]; do\n\
         if [ -e {DIR}/poke ]; then echo poke; rm -f {DIR}/poke; fi\n\
         if [ -e {DIR}/go ]; then break; fi\n/bin/sleep 0.02; i=$((i+1))\ndone\n\
         echo after 1\necho after 2\necho after 3\nexec /bin/sleep 1000\n",
    );
    let tock = s.script(
        "tock",
        "i=0\nwhile [ $i -lt 4000 ]; do if [ -e {DIR}/go ]; then break; fi; /bin/sleep 0.02; i=$((i+1)); done\n\
         echo tock 1\necho tock 2\necho tock 3\nexec /bin/sleep 1000\n",
    );
    s.write_config(&format!("[tick]\nexec = {tick}\n\n[tock]\nexec = {tock}\n"));
    s.start();
    s.wait_running("tick");
    s.wait_running("tock");
    wait_until(secs(10), "tick's first lines", || s.log_lines("tick", &[]).len() >= 3);

    // -n 2: exactly the last two lines so far, then what comes.
    let two = Follower::start(&s, &["log", "-f", "tick", "-n", "2"]);
    for want in ["before 2", "before 3"] {
        let l = two.expect(secs(10), want);
        assert_eq!(log_text(&l), Some(want), "{l:?}");
    }
    let fresh = Follower::start(&s, &["log", "-f", "tick"]);
    let every = Follower::start(&s, &["log", "-f"]);

    // Poke until each follower has seen a poke: then all three follow.
    let mut seen = [false; 3];
    let mut held: [Vec<String>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..50 {
        if seen.iter().all(|&x| x) {
            break;
        }
        assert!(round < 49, "the followers saw no poke: {held:?}");
        fs::write(s.path("poke"), "").unwrap();
        wait_until(secs(10), "tick to take the poke", || !s.path("poke").exists());
        for (i, f) in [&two, &fresh, &every].into_iter().enumerate() {
            if let Some(l) = f.next(ms(500)) {
                seen[i] |= log_text(&l).is_some_and(|t| t.ends_with("poke"));
                held[i].push(l);
            }
        }
    }
    fs::write(s.path("go"), "").unwrap();

    // Whatever pokes are still on the way, then the new lines in order.
    let (_, t) = after_pokes(&two, 3, "two");
    assert_eq!(t, ["after 1", "after 2", "after 3"]);
    // Without -n, nothing old: a poke first (held), never a `before` line.
    for l in &held[1] {
        assert_eq!(log_text(l), Some("poke"), "the follower without -n printed an old line");
    }
    let (_, t) = after_pokes(&fresh, 3, "fresh");
    assert_eq!(t, ["after 1", "after 2", "after 3"]);
    // Without a name: every service, interleaved, as `STAMP NAME: LINE`.
    for l in &held[2] {
        assert_eq!(log_text(l), Some("tick: poke"), "{l:?}");
    }
    let (_, t) = after_pokes(&every, 6, "every");
    let of = |name: &str| -> Vec<String> { t.iter().filter_map(|x| x.strip_prefix(&format!("{name}: ")).map(String::from)).collect() };
    assert_eq!(of("tick"), ["after 1", "after 2", "after 3"], "{t:?}");
    assert_eq!(of("tock"), ["tock 1", "tock 2", "tock 3"], "{t:?}");
}

/// Bytes `pid` has written (/proc/PID/io `wchar`).
fn written(pid: u32) -> u64 {
    let t = fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_else(|e| panic!("/proc/{pid}/io: {e}"));
    t.lines().find_map(|l| l.strip_prefix("wchar:")?.trim().parse().ok()).unwrap_or_else(|| panic!("no wchar for {pid}:\n{t}"))
}

/// A client process the test started; killed (by its pid) when dropped.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The numbers in `text` (runs of digits).
fn counts(text: &str) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect()
}

#[test]
fn stalled_follower_does_not_slow_svc() {
    let mut s = Svc::new("stalled_follower");
    s.write_config("[chatty]\nexec = /usr/bin/yes\n\n[quiet]\nexec = /bin/sleep 1000\n");
    s.start();
    let chatty = s.wait_running("chatty");
    // A follower whose stdout nobody reads: its pipe fills, then its socket.
    let conf = s.conf_str();
    let mut stalled = Kill(
        svc(&["log", "-c", &conf, "-f", "chatty"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("svc log -f"),
    );
    let pipe = stalled.0.stdout.take().expect("stdout");
    for i in 0..20 {
        s.assert_answers(&format!("status call {i} beside a stalled follower"), &["chatty", "quiet"]);
        std::thread::sleep(ms(25));
    }
    assert_eq!(s.restarts("chatty"), Some(0));
    // Far more than a pipe and a socket buffer went by (64 KiB and some
    // 200 KiB: 2 MiB is seven times both; 8 MiB took a debug svc 11-15 s
    // alone, and longer than the bound on a loaded machine).
    let base = written(chatty);
    wait_until(secs(60), "yes to write 2 MB more", || written(chatty) >= base + (2 << 20));
    assert_eq!(s.log_texts("chatty", &["-n", "1"]), ["y"]);

    // Reading now: the follower says that lines were lost, and how many.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let r = std::io::BufReader::new(pipe);
        // Bounded: stops at the marker, at 64 MB of lines, or at EOF (the kill).
        let mut bytes = 0usize;
        for line in r.lines() {
            let Ok(line) = line else { break };
            bytes += line.len() + 1;
            if line.contains("lost") {
                let _ = tx.send(line);
                return;
            }
            if bytes > 64 << 20 {
                break;
            }
        }
    });
    let marker = rx.recv_timeout(secs(30));
    drop(stalled);
    let marker = marker.unwrap_or_else(|_| panic!("no `lost` marker from the stalled follower"));
    let rest = log_text(&marker).unwrap_or(&marker);
    assert!(counts(rest).iter().any(|&n| n > 0), "the marker does not count the lost lines: {marker:?}");
    s.assert_answers("after the follower", &["chatty", "quiet"]);
}

/// A tmpfs mounted by the test; unmounted when dropped (lazily if still busy).
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount").arg(&self.0).stderr(Stdio::null()).status().is_ok_and(|st| st.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

#[test]
fn full_disk_drops_and_counts_lines() {
    if !root_or_skip("full_disk_drops_and_counts_lines") {
        return;
    }
    let mut s = Svc::new("full_disk");
    let small = s.path("small");
    fs::create_dir(&small).unwrap();
    let out = output_within(Command::new("mount").args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"]).arg(&small), CLIENT_TIMEOUT);
    if !out.status.success() {
        eprintln!("note: cannot mount a tmpfs ({}); full_disk_drops_and_counts_lines skipped", text(&out.stderr).trim());
        return;
    }
    let mount = Mount(small);
    // A file that takes half of the room, removed later to give space back.
    fs::write(mount.0.join("filler"), vec![b'f'; 32 * 1024]).expect("the filler file");
    // 4000 lines of about 90 bytes into the 32 KiB left, and 2000 lines
    // beside them on another filesystem; then, once told, 10 more lines.
    let full = s.script(
        "full",
        "i=0\nwhile [ $i -lt 4000 ]; do echo \"full $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"; i=$((i+1)); done\n\
         touch {DIR}/full.done\n\
         i=0\nwhile [ ! -e {DIR}/more ] && [ $i -lt 600 ]; do /bin/sleep 0.05; i=$((i+1)); done\n\
         i=0\nwhile [ $i -lt 10 ]; do echo \"more $i\"; i=$((i+1)); done\n\
         exec /bin/sleep 1000\n",
    );
    let other = s.script(
        "other",
        "i=0\nwhile [ $i -lt 2000 ]; do echo \"other $i\"; i=$((i+1)); done\ntouch {DIR}/other.done\nexec /bin/sleep 1000\n",
    );
    s.write_config(&format!(
        "[full]\nexec = {full}\nlog = file:{{DIR}}/small/full.log\n\n[other]\nexec = {other}\nlog = file:{{DIR}}/other.log\n"
    ));
    s.start();
    wait_until(secs(30), "both writers to finish", || s.path("full.done").exists() && s.path("other.done").exists());
    let other_log = s.path("other.log");
    wait_until(secs(15), "other's last line", || {
        read_lines(&other_log).last().and_then(|l| log_text(l)).is_some_and(|t| t == "other 1999")
    });
    let want: Vec<String> = (0..2000).map(|i| format!("other {i}")).collect();
    assert_eq!(file_texts(&other_log), want, "other lost lines");
    let drops = |name: &str| s.json(name).get("log_drops").and_then(Json::as_u64);
    wait_until(secs(10), "full's log_drops to count", || drops("full").is_some_and(|n| n > 0));
    assert_eq!(drops("other"), Some(0));
    // svc and both services carry on.
    s.assert_answers("after the disk filled", &["full", "other"]);
    assert_eq!((s.restarts("full"), s.restarts("other")), (Some(0), Some(0)));
    assert_eq!(s.state("full").as_deref(), Some("running"));

    // Space comes back: logging resumes with whole lines, and nothing more is dropped.
    let dropped = drops("full");
    fs::remove_file(mount.0.join("filler")).expect("rm filler");
    fs::write(s.path("more"), "").expect("touch more");
    let full_log = mount.0.join("full.log");
    wait_until(secs(15), "full's 10 lines after the space came back", || {
        read_lines(&full_log).last().and_then(|l| log_text(l)).is_some_and(|t| t == "more 9")
    });
    // Every line whole (file_texts checks the stamp form): no cut record runs into the next.
    let texts = file_texts(&full_log);
    let more: Vec<String> = (0..10).map(|i| format!("more {i}")).collect();
    assert_eq!(texts[texts.len() - 10..], more[..], "the lines after the space came back");
    let xs = "x".repeat(54);
    for t in &texts[..texts.len() - 10] {
        let n = t.strip_prefix("full ").and_then(|r| r.split(' ').next()).unwrap_or("");
        assert_eq!(*t, format!("full {n} {xs}"), "a cut line in full.log");
    }
    assert_eq!(drops("full"), dropped, "lines dropped after the space came back");
    // Free the mount before the directory goes.
    s.stop_svc("TERM");
    drop(mount);
}
