//! svc as PID 1 when a startup step fails (issue 22): it does not exit, it
//! runs the emergency shell on the console, answers `svc status`, and a
//! `svc reload` with a fixed config ends the emergency and starts the
//! services. Here svc is PID 1 of fresh PID, mount, UTS and network
//! namespaces (util-linux `unshare`), with a file of the test bound over
//! /dev/console; the boot suite (ci/boot) does the same on real kernels,
//! with a real console and a shell typed into.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;

/// Binds the file `$0` over /dev/console (in the new mount namespace). A
/// container may have no /dev/console: an empty file then stands for it
/// (in the container's own /dev), as the mount point.
const CONSOLE: &str = "{ [ -e /dev/console ] || : > /dev/console; } && mount --bind \"$0\" /dev/console";

/// Starts svc on the fixture's config as PID 1 of new namespaces, with
/// `dir/console` (a plain file) bound over /dev/console in them; does not
/// wait. `unshare --kill-child`: when the fixture kills unshare
/// (`stop_svc("KILL")`), the kernel ends the namespace and all in it.
fn spawn_as_pid1(s: &mut Svc) {
    s.write("console", "");
    let console = s.p("console");
    let bind = format!("{CONSOLE} && exec \"$@\"");
    s.spawn_wrapped(&["unshare", "--pid", "--fork", "--mount", "--uts", "--net", "--kill-child", "sh", "-c", &bind, &console], &[]);
}

/// Writes the executable script `dir/NAME` (with `{DIR}` and `{SVC}`, the
/// binary under test, expanded); its path.
fn executable(s: &Svc, name: &str, body: &str) -> String {
    s.write(name, &body.replace("{SVC}", &bin().display().to_string()));
    let p = s.path(name);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    s.p(name)
}

fn read(s: &Svc, rel: &str) -> String {
    std::fs::read_to_string(s.path(rel)).unwrap_or_default()
}

#[test]
fn an_invalid_config_at_boot_starts_the_emergency_shell_and_a_reload_ends_it() {
    let mut s = Svc::new("emergency_invalid");
    // The shell `[svc] emergency` names (what parsed of the config counts):
    // its first run exits at once, and svc starts it again; its second
    // asks for the status, fixes the config, reloads and exits.
    let shell = executable(
        &s,
        "shell",
        "#!/bin/sh\n\
         n=$(cat {DIR}/runs 2>/dev/null || echo 0)\n\
         echo $((n + 1)) > {DIR}/runs\n\
         [ \"$n\" = 0 ] && exit 0\n\
         echo EMERG-$((6*7))\n\
         {SVC} status -c {DIR}/svc.conf > {DIR}/status.out 2>&1; echo $? > {DIR}/status.rc\n\
         cp {DIR}/good.conf {DIR}/svc.conf\n\
         {SVC} reload -c {DIR}/svc.conf > {DIR}/reload.out 2>&1; echo $? > {DIR}/reload.rc\n\
         cat /proc/sys/kernel/hostname > {DIR}/hostname\n",
    );
    let svc_section = format!("hostname = emerg-test\nemergency = {shell}\n");
    s.write_config_with(&svc_section, "[a]\nexec = /bin/sleep 1000\n");
    std::fs::rename(s.path("svc.conf"), s.path("good.conf")).expect("rename");
    s.write_config_with(&svc_section, "[a]\nexec = /bin/sleep 1000\nbogus = 1\n");
    let line = s.config_line("bogus");
    spawn_as_pid1(&mut s);
    s.wait_up();

    wait_until(secs(20), "the shell's reload", || s.path("reload.rc").exists() && s.path("hostname").exists());
    wait_until(secs(5), "the shell's last exit", || s.stderr_text().contains("svc: emergency shell exited\n"));
    let err = s.stderr_text();
    assert!(err.contains(&format!("svc: {}:{line}: [a] unknown key 'bogus'", s.conf_str())), "{err}");
    // Started twice: again after its first exit, not after its last (the
    // reload ended the emergency).
    assert_eq!(err.matches(&format!("svc: emergency shell {shell} (pid ")).count(), 2, "{err}");
    assert_eq!(err.matches("svc: emergency shell exited; again in 1s\n").count(), 1, "{err}");
    assert_eq!(read(&s, "runs").trim(), "2");
    // Its output went to the console.
    assert!(read(&s, "console").contains("EMERG-42"), "console: {}", read(&s, "console"));
    // svc answered `status` during the emergency (at the control path of
    // the config's `[svc]`, which parsed), with no service.
    assert_eq!(read(&s, "status.rc").trim(), "0", "{}", read(&s, "status.out"));
    assert!(!read(&s, "status.out").contains("\na "), "{}", read(&s, "status.out"));
    // The reload started the service and set the hostname, as the boot would have.
    assert_eq!(read(&s, "reload.rc").trim(), "0", "{}", read(&s, "reload.out"));
    assert!(read(&s, "reload.out").contains("added     a running"), "{}", read(&s, "reload.out"));
    assert_eq!(read(&s, "hostname").trim(), "emerg-test");
    assert_eq!(s.state("a").as_deref(), Some("running"));
    s.stop_svc("KILL");
}

#[test]
fn a_control_socket_that_cannot_be_bound_at_boot_leaves_the_services_running() {
    let mut s = Svc::new("emergency_control");
    let shell = executable(&s, "shell", "#!/bin/sh\necho shell > {DIR}/shell.ran\nexec sleep 1000\n");
    // A valid config whose control socket cannot be made (no such directory).
    let text = format!(
        "[svc]\ncontrol = {}/none/svc.sock\nemergency = {shell}\n[a]\nexec = /bin/sh -c \"echo a > {}/a.ran; exec sleep 1000\"\n",
        s.dir.display(),
        s.dir.display()
    );
    s.write("svc.conf", &text);
    spawn_as_pid1(&mut s);
    wait_until(secs(10), "the service and the shell", || s.path("a.ran").exists() && s.path("shell.ran").exists());
    let err = s.stderr_text();
    assert!(err.contains("svc: control socket ") && err.contains("/none/svc.sock: ENOENT"), "{err}");
    assert!(err.contains(&format!("svc: emergency shell {shell} (pid ")), "{err}");
    assert!(s.svc_running(), "{err}");
    s.stop_svc("KILL");
}

/// svc on the fixture's config as PID 1 of new namespaces, with only
/// `nofile` fds (RLIMIT_NOFILE); waits until its stderr says `last`.
fn pid1_with_fds(s: &mut Svc, nofile: u32, last: &str) {
    s.write("console", "");
    let console = s.p("console");
    let bind = format!("{CONSOLE} && exec prlimit --nofile={nofile}:{nofile} \"$@\"");
    s.spawn_wrapped(&["unshare", "--pid", "--fork", "--mount", "--uts", "--net", "--kill-child", "sh", "-c", &bind, &console], &[]);
    wait_until(secs(10), last, || s.stderr_text().contains(last));
}

#[test]
fn out_of_fds_at_boot_svc_reaps_and_does_not_exit() {
    // RLIMIT_NOFILE 4: 0, 1, 2 and one more, which epoll takes (the config
    // is read and closed before). The timerfd then fails, and so do the
    // signalfd and the shell's console: what is left is the reaper.
    let mut s = Svc::new("emergency_no_fds");
    s.write_config("[a]\nexec = /bin/sleep 1000\n");
    pid1_with_fds(&mut s, 4, "svc: emergency shell /bin/sh: fds: EMFILE");
    let err = s.stderr_text();
    assert!(err.contains("svc: cannot create epoll or timerfd: EMFILE (errno 24)"), "{err}");
    assert!(s.svc_running(), "{err}");
    s.stop_svc("KILL");
}

#[test]
fn without_a_signalfd_signals_are_still_taken() {
    // RLIMIT_NOFILE 5: epoll and its timerfd take 3 and 4; the signalfd,
    // /dev/null, the control socket and the shell's console fail. svc goes
    // on, and sees a SIGTERM (a reboot, to svc as PID 1) within a second.
    let mut s = Svc::new("emergency_no_signalfd");
    // Nothing else wakes svc: no service starts, so no spawn fails and backs off.
    s.write_config("[a]\nexec = /bin/sleep 1000\nstart = no\n");
    pid1_with_fds(&mut s, 5, "svc: emergency shell /bin/sh: fds: EMFILE");
    let err = s.stderr_text();
    assert!(err.contains("svc: cannot set up signals (signalfd): EMFILE (errno 24)"), "{err}");
    assert!(!err.contains("epoll"), "{err}");
    // svc is the child of `sh`, which exec'd it, under unshare.
    let pid = wait_for(secs(5), "svc's pid", || {
        descendants(s.svc_pid()).into_iter().map(|(p, _)| p).find(|&p| comm(p).as_deref() == Some("svc"))
    });
    kill(pid, "TERM");
    wait_until(secs(10), "the reboot", || s.stderr_text().contains("svc: reboot: stopping services"));
    s.stop_svc("KILL");
}

#[test]
fn without_dev_null_svc_goes_on_and_says_why_each_spawn_fails() {
    // A /dev of the namespace's own without null (svc mounts no devtmpfs
    // where something is mounted already).
    let mut s = Svc::new("emergency_no_null");
    let shell = executable(&s, "shell", "#!/bin/sh\n{SVC} status -c {DIR}/svc.conf > {DIR}/status.out 2>&1\nexec sleep 1000\n");
    s.write_config_with(&format!("emergency = {shell}\n"), "[a]\nexec = /bin/sleep 1000\n");
    s.write("console", "");
    let console = s.p("console");
    let bind = "mount -t tmpfs none /dev && : > /dev/console && mount --bind \"$0\" /dev/console && exec \"$@\"";
    s.spawn_wrapped(&["unshare", "--pid", "--fork", "--mount", "--uts", "--net", "--kill-child", "sh", "-c", bind, &console], &[]);
    wait_until(secs(10), "the shell's status", || read(&s, "status.out").contains("fds: EBADF"));
    let err = s.stderr_text();
    assert!(err.contains("svc: cannot open /dev/null: ENOENT"), "{err}");
    assert!(s.svc_running(), "{err}");
    s.stop_svc("KILL");
}
