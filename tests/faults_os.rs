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

/// `mkfifo -m 600 PATH`.
fn mkfifo(path: &std::path::Path) {
    let out = output_within(std::process::Command::new("mkfifo").args(["-m", "600"]).arg(path), CLIENT_TIMEOUT);
    assert!(out.status.success(), "mkfifo {}: {}", path.display(), show(&out));
}

#[test]
fn a_fifo_as_env_file_fails_the_reload_and_svc_keeps_answering() {
    let s = Svc::up("fifo_env_file", "[a]\nexec = /bin/sleep 1000\n");
    let pid = s.wait_running("a");
    let fifo = s.p("app.env");
    mkfifo(&s.path("app.env"));
    s.write_config(&format!("[a]\nexec = /bin/sleep 1000\nenv_file = {fifo}\n"));
    let out = s.run(&["reload"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = text(&out.stderr);
    let l = line_with(&err, &format!("{}:{}:", s.conf_str(), s.config_line("env_file =")));
    assert!(l.contains(&format!("[a] env_file is not a regular file '{fifo}'")), "{l}");
    // Nothing changed, and svc still answers.
    assert_eq!(s.pid("a"), Some(pid));
    assert_eq!(s.state("a").as_deref(), Some("running"));
}

#[test]
fn a_fifo_as_the_config_is_refused_by_check_and_up() {
    let mut s = Svc::new("fifo_config");
    mkfifo(&s.conf);
    let conf = s.conf_str();
    let want = format!("svc: cannot read config {conf}: not a regular file");
    let out = check(&conf);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(text(&out.stderr).contains(&want), "{}", show(&out));
    s.spawn(&bin(), &["up", "-c", &conf], &[]);
    let st = s.wait_exit(CLIENT_TIMEOUT);
    assert_eq!(st.code(), Some(1), "svc up on a FIFO:\n{}", s.stderr_text());
    assert!(s.stderr_text().contains(&want), "{}", s.stderr_text());
}

#[test]
fn clients_find_control_in_a_config_of_30_kib() {
    let mut s = Svc::new("config_30k");
    let mut text = String::new();
    for i in 0..300 {
        text.push_str(&format!("# padding line {i:04} {}\n", "-".repeat(80)));
    }
    text.push_str("[a]\nexec = /bin/sleep 1000\n\n");
    assert!(text.len() > 8 * 1024 + 1024);
    text.push_str(&format!("[svc]\ncontrol = {}\n", s.sock.display()));
    while text.len() < 30 * 1024 {
        text.push_str(&format!("# trailing padding {}\n", "=".repeat(80)));
    }
    s.write("svc.conf", &text);
    // wait_up asks `svc status -c CONF`: the client must find the socket.
    s.start();
    s.wait_running("a");
}

#[test]
fn log_n_on_a_huge_file_without_newlines_reads_only_its_last_mib() {
    let s = Svc::new("huge_log");
    let log = s.path("big.log");
    // Sparse: 1 GiB of zeros that costs no disk and no newline anywhere.
    let f = std::fs::File::create(&log).expect("create the log");
    f.set_len(1 << 30).expect("set_len 1 GiB");
    drop(f);
    s.write_config(&format!("[a]\nexec = /bin/sleep 1000\nlog = file:{}\n", log.display()));
    let mut s = s;
    s.start();
    let out = s.run(&["log", "a", "-n", "1"]);
    assert_eq!(out.status.code(), Some(0), "exit {:?}, stderr {}", out.status.code(), text(&out.stderr));
    let note = b"svc: log cut: showing the last 1 MiB of the file\n";
    assert!(out.stdout.starts_with(note), "{:?}", String::from_utf8_lossy(&out.stdout[..out.stdout.len().min(80)]));
    assert_eq!(out.stdout.len(), note.len() + (1 << 20));
    assert!(out.stdout[note.len()..].iter().all(|&b| b == 0));
    // svc still answers.
    assert_eq!(s.state("a").as_deref(), Some("running"));
}

/// `svc up` started by the test with stderr into a pipe that nobody reads.
/// Dropping it ends svc and what svc started, by pid.
struct Unread {
    child: std::process::Child,
}

impl Drop for Unread {
    fn drop(&mut self) {
        let seen = descendants(self.child.id());
        let _ = std::process::Command::new("/bin/kill").arg("-TERM").arg(self.child.id().to_string()).status();
        if wait_within(&mut self.child, EXIT_TIMEOUT).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for (pid, start) in seen {
            if stat(pid).is_some_and(|s| s.starttime == start && s.state != 'Z') {
                let _ = std::process::Command::new("/bin/kill").arg("-KILL").arg(pid.to_string()).status();
            }
        }
    }
}

#[test]
fn console_output_nobody_reads_is_dropped_and_counted() {
    let s = Svc::new("console_unread");
    let noisy = s.script("noisy", "head -c 300000 /dev/zero | tr '\\0' x\necho\nexec /bin/sleep 1000\n");
    s.write_config(&format!("[noisy]\nexec = {noisy}\nlog = console\n"));
    let conf = s.conf_str();
    let child = svc(&["up", "-c", &conf])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start svc");
    let _svc = Unread { child };
    // Each call must answer within the client timeout (run panics otherwise).
    wait_until(UP_TIMEOUT, "svc to answer", || matches!(s.run(&["status"]).status.code(), Some(0 | 3)));
    let drops = || s.json("noisy").get("log_drops").and_then(Json::as_u64);
    wait_until(secs(10), "noisy's console lines to be dropped and counted", || drops().is_some_and(|n| n > 0));
    assert_eq!(s.state("noisy").as_deref(), Some("running"));
    // The inherited stderr stays blocking: its flags are not svc's to change.
    let flags = std::fs::read_to_string(format!("/proc/{}/fdinfo/2", _svc.child.id())).unwrap_or_default();
    let flags = flags.lines().find_map(|l| l.strip_prefix("flags:")).map(|f| u32::from_str_radix(f.trim(), 8).unwrap_or(0));
    assert_eq!(flags.map(|f| f & 0o4000), Some(0), "O_NONBLOCK set on fd 2");
}

/// Removes a directory the test created, when dropped.
struct RemoveDir(std::path::PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn up_refuses_a_default_socket_directory_another_user_owns() {
    if !root_or_skip("up_refuses_a_default_socket_directory_another_user_owns") {
        return;
    }
    if !["/usr/bin/setpriv", "/bin/setpriv"].iter().any(|p| std::path::Path::new(p).exists()) {
        eprintln!("note: no setpriv; skipped");
        return;
    }
    // nobody's default socket directory, made by root and open to all.
    let dir = std::path::PathBuf::from("/tmp/svc-65534");
    if std::fs::symlink_metadata(&dir).is_ok() {
        eprintln!("note: {} exists; skipped", dir.display());
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir(&dir).expect("mkdir /tmp/svc-65534");
    let _cleanup = RemoveDir(dir.clone());
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let s = Svc::new("foreign_socket_dir");
    let copy = s.path("svc-bin");
    std::fs::copy(bin(), &copy).expect("copy the binary");
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    // No [svc] control: the default path. The service ends on its own should svc start it.
    s.write("svc.conf", "[a]\nexec = /bin/sleep 2\n");
    let mut c = std::process::Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).args(runner()).arg(&copy).args(["up", "-c", &s.conf_str()]);
    c.env_remove("HOME").env_remove("XDG_RUNTIME_DIR");
    let out = output_within(&mut c, CLIENT_TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(text(&out.stderr).contains("svc: control socket directory /tmp/svc-65534: not a directory of ours"), "{}", show(&out));
    assert!(!dir.join("svc.sock").exists(), "svc bound a socket in another user's directory");
}

#[test]
fn log_paths_through_links_others_own_are_refused() {
    if !root_or_skip("log_paths_through_links_others_own_are_refused") {
        return;
    }
    let mut s = Svc::new("untrusted_log_link");
    // DIR/theirs → DIR/target, the link owned by nobody (as if a service made it).
    std::fs::create_dir(s.path("target")).unwrap();
    std::fs::write(s.path("target/app.log"), "secret\n").unwrap();
    std::os::unix::fs::symlink(s.path("target"), s.path("theirs")).unwrap();
    std::os::unix::fs::lchown(s.path("theirs"), Some(65534), Some(65534)).unwrap();
    // And a hard link to a file of root's.
    std::fs::write(s.path("other"), "secret\n").unwrap();
    std::fs::hard_link(s.path("other"), s.path("linked.log")).unwrap();
    let hello = s.script("hello", "echo hello\nexec /bin/sleep 1000\n");
    let (theirs, linked) = (s.p("theirs/app.log"), s.p("linked.log"));
    s.write_config(&format!("[a]\nexec = {hello}\nlog = file:{theirs}\n\n[b]\nexec = {hello}\nlog = file:{linked}\n"));
    s.start();
    let drops = |name: &str| s.json(name).get("log_drops").and_then(Json::as_u64);
    wait_until(secs(10), "a's and b's lines to be dropped", || drops("a").is_some_and(|n| n > 0) && drops("b").is_some_and(|n| n > 0));
    assert_eq!(std::fs::read_to_string(s.path("target/app.log")).unwrap(), "secret\n");
    assert_eq!(std::fs::read_to_string(s.path("other")).unwrap(), "secret\n");
    let err = s.stderr_text();
    let theirs = format!("svc: cannot open log file {theirs}: a symlink on the way is not root's");
    assert_eq!(err.matches(&theirs).count(), 1, "{err}");
    let linked = format!("svc: cannot open log file {linked}: the file has other hard links");
    assert_eq!(err.matches(&linked).count(), 1, "{err}");
    // `svc log` does not read them either.
    for name in ["a", "b"] {
        let out = s.run(&["log", name]);
        assert_eq!(out.status.code(), Some(1), "{}", show(&out));
        assert!(!show(&out).contains("secret"), "{}", show(&out));
    }
}

#[test]
fn log_paths_through_roots_own_links_work() {
    if !root_or_skip("log_paths_through_roots_own_links_work") {
        return;
    }
    let mut s = Svc::new("trusted_log_link");
    // Like /var/run → /run: root's link in root's directory.
    std::fs::create_dir(s.path("run")).unwrap();
    std::os::unix::fs::symlink(s.path("run"), s.path("varrun")).unwrap();
    let hello = s.script("hello", "echo hello\nexec /bin/sleep 1000\n");
    s.write_config(&format!("[a]\nexec = {hello}\nlog = file:{}\n", s.p("varrun/app.log")));
    s.start();
    wait_until(secs(10), "hello in the log file", || std::fs::read_to_string(s.path("run/app.log")).is_ok_and(|t| t.contains("hello")));
    assert_eq!(s.log_texts("a", &[]), ["hello"]);
    assert!(!s.stderr_text().contains("cannot open log file"), "{}", s.stderr_text());
}
