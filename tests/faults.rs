//! Regression tests for the faults of issue 15 that the supervisor's core
//! owns (items 4 to 9): reloads that lose services (slots run short, an
//! empty config, a fragmented ring pool, stale errors), a stop or shutdown
//! that leaves a TERM-ignoring process behind, and one-shot requests locked
//! out of the control socket by followers. Each test describes the intended
//! behaviour; each failed on the code before the fix.
//!
//! Every client call that may meet a missing or empty config names the
//! socket (`run_sock`): otherwise the client falls back to a default socket,
//! which may belong to another svc.

mod common;
use common::*;
use std::fs;
use std::os::unix::net::UnixStream;
use std::process::Output;
use std::thread;

/// `svc reload ARGS` with the socket named, within `timeout`.
fn reload(s: &Svc, args: &[&str], timeout: std::time::Duration) -> Output {
    let mut words = vec!["reload"];
    words.extend(args);
    s.run_sock_within(&words, timeout)
}

/// Pid and start time of every service in `names` (each waited for running).
fn running(s: &Svc, names: &[String]) -> Vec<(String, u32, u64)> {
    names
        .iter()
        .map(|n| {
            let pid = s.wait_running(n);
            (n.clone(), pid, stat(pid).unwrap_or_else(|| panic!("{n}'s pid {pid} has no stat")).starttime)
        })
        .collect()
}

/// `svc status` (all services), as the fields of each line, header skipped.
fn status_all(s: &Svc) -> Vec<Vec<String>> {
    let out = s.run_sock(&["status"]);
    assert!(matches!(out.status.code(), Some(0 | 3)), "svc status: {}", show(&out));
    text(&out.stdout).lines().filter(|l| !l.starts_with("NAME")).map(|l| l.split_whitespace().map(String::from).collect()).collect()
}

/// Each (name, pid, start) is the same process as before, still running.
fn assert_untouched(s: &Svc, before: &[(String, u32, u64)], what: &str) {
    let all = status_all(s);
    for (name, pid, born) in before {
        let f = all.iter().find(|f| f.first() == Some(name));
        let (state, now) = (f.and_then(|f| f.get(1)), f.and_then(|f| f.get(2)?.parse::<u32>().ok()));
        assert!(state.is_some_and(|st| st == "running") && now == Some(*pid), "{what}: {name} was {pid}, running; now {f:?}");
        assert_eq!(stat(*pid).map(|st| st.starttime), Some(*born), "{what}: {name}'s process was replaced");
    }
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

// ---- 4. reload when slots run short

/// A service that is slow to stop: CONT does nothing, so only the KILL at
/// its 2 s stop timeout ends it.
fn slow(name: &str) -> String {
    format!("[{name}]\nexec = /bin/sleep 100000\nstop_signal = CONT\nstop_timeout = 2s\n\n")
}

fn plain(name: &str) -> String {
    format!("[{name}]\nexec = /bin/sleep 100000\n\n")
}

/// After a reload that had to wait for slots: it exited 0, its reply has
/// `added NAME running` for each of `added` and `removed NAME` for each of
/// `removed`; the added services run and can be started, the removed ones
/// are gone from status and their processes are gone.
fn assert_slots_reload(s: &Svc, out: &Output, added: &[String], removed: &[(String, u32, u64)]) {
    assert_eq!(out.status.code(), Some(0), "the reload: {}", show(out));
    let lines = reload_lines(out);
    for n in added {
        let l = reload_line(&lines, n);
        // Words after the state are allowed (a note that the reload waited for slots).
        assert!(
            l[0] == "added" && l.get(2).is_some_and(|w| w == "running"),
            "reply line of {n}: {l:?} (want `added {n} running`: a service that got no slot is reported without a state)\nall: {lines:?}"
        );
    }
    for (n, _, _) in removed {
        assert_eq!(reload_line(&lines, n), ["removed", n.as_str()], "{lines:?}");
    }
    for (n, pid, born) in removed {
        wait_until(secs(10), &format!("{n}'s process (pid {pid}) to be killed at its stop timeout"), || gone(*pid, *born));
    }
    wait_until(secs(5), "the removed services to leave `svc status`", || {
        let all = status_all(s);
        !all.iter().any(|f| removed.iter().any(|(n, _, _)| f.first() == Some(n)))
    });
    let all = status_all(s);
    for n in added {
        let f = all.iter().find(|f| f.first() == Some(n));
        assert!(
            f.is_some_and(|f| f.get(1).is_some_and(|st| st == "running")),
            "{n} after the reload: {f:?} (a service reported added does not exist or does not run)\nstatus: {all:?}"
        );
    }
    let last = added.last().expect("a service added");
    let out = s.run_sock(&["start", last]);
    assert_eq!(out.status.code(), Some(0), "svc start {last}: {}", show(&out));
    assert_eq!(s.state(last).as_deref(), Some("running"));
}

#[test]
fn reload_waits_for_slots_of_removed_services() {
    let mut s = Svc::new("slots_40_to_40");
    let (xs, ys) = (names("x", 40), names("y", 40));
    s.write_config(&xs.iter().map(|n| slow(n)).collect::<String>());
    s.start();
    let old = running(&s, &xs);

    // 40 in use, 24 free: y24..y39 need the slots of x's that take 2 s to stop.
    s.write_config(&ys.iter().map(|n| plain(n)).collect::<String>());
    let out = reload(&s, &[], secs(20));
    assert_slots_reload(&s, &out, &ys, &old);
    assert!(s.svc_running());
}

#[test]
fn reload_renaming_one_of_64_services() {
    let mut s = Svc::new("slots_rename_one");
    let xs = names("x", 64);
    let config = |last: &str| {
        let mut c: String = xs[..63].iter().map(|n| plain(n)).collect();
        c.push_str(&slow(last));
        c
    };
    s.write_config(&config("x63"));
    s.start();
    let old = running(&s, &xs);

    // Every slot is in use: z needs x63's, which takes 2 s to stop.
    s.write_config(&config("z"));
    let out = reload(&s, &[], secs(20));
    assert_slots_reload(&s, &out, &["z".to_string()], &old[63..]);
    let lines = reload_lines(&out);
    for n in &xs[..63] {
        assert_eq!(reload_line(&lines, n), ["kept", n.as_str()]);
    }
    assert_untouched(&s, &old[..63], "after the rename");
}

// ---- 5. an empty config

#[test]
fn empty_config_is_refused_on_reload() {
    let mut s = Svc::new("empty_config");
    s.write_config("[a]\nexec = /bin/sleep 100000\n\n[b]\nexec = /bin/sleep 100000\n");
    s.start();
    let before = running(&s, &["a", "b"].map(String::from));

    // A truncated write: the file is empty.
    fs::write(&s.conf, "").expect("truncate the config");
    let out = reload(&s, &[], CLIENT_TIMEOUT);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a reload of an empty config was not refused: {}", show(&out));
    assert!(err.contains("no services") || err.contains("empty"), "the refusal does not say the config is empty: {}", show(&out));
    thread::sleep(ms(300));
    assert_untouched(&s, &before, "after the refused reload");

    // --force applies it: every service is removed.
    let out = reload(&s, &["--force"], CLIENT_TIMEOUT);
    assert_eq!(out.status.code(), Some(0), "svc reload --force: {}", show(&out));
    let lines = reload_lines(&out);
    assert_eq!(lines, [vec!["removed", "a"], vec!["removed", "b"]], "{}", show(&out));
    for (n, pid, born) in &before {
        wait_until(secs(10), &format!("{n}'s process to end"), || gone(*pid, *born));
    }
    wait_until(secs(5), "the services to leave `svc status`", || status_all(&s).is_empty());
    assert!(s.svc_running());
}

#[test]
fn check_warns_when_the_config_does_not_end_in_a_newline() {
    let s = Svc::new("check_last_line");
    let body = format!("[svc]\ncontrol = {}\n\n[a]\nexec = /bin/sleep 100000", s.sock.display());
    // With the newline: valid, and no warning about it.
    s.write("svc.conf", &format!("{body}\n"));
    let out = s.run(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!said.contains("newline"), "a warning about a newline that is there: {}", show(&out));
    // Without it (a likely truncation): still valid, with a warning.
    s.write("svc.conf", &body);
    let out = s.run(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(said.contains("newline"), "no warning that the config does not end in a newline: {}", show(&out));
}

// ---- 6. the ring pool on reload

/// A service that prints two lines, then sleeps.
fn printer(s: &Svc, name: &str) -> String {
    s.script(name, &format!("echo {name} line 1\necho {name} line 2\nexec /bin/sleep 100000\n"))
}

#[test]
fn reload_frees_removed_rings_before_allocating() {
    let mut s = Svc::new("ring_reload");
    // The pool is 256 KiB: either ring fits alone, both do not.
    let (r1, r2) = (printer(&s, "r1"), printer(&s, "r2"));
    s.write_config(&format!("[r1]\nexec = {r1}\nlog = ring:160k\n"));
    s.start();
    s.wait_running("r1");
    wait_until(secs(5), "r1's lines in its ring", || s.log_texts("r1", &[]).len() == 2);

    s.write_config(&format!("[r2]\nexec = {r2}\nlog = ring:160k\n"));
    let out = reload(&s, &[], CLIENT_TIMEOUT);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(reload_lines(&out), [vec!["removed", "r1"], vec!["added", "r2", "running"]], "{}", show(&out));
    let mut last = None;
    let got = poll(secs(5), || {
        let out = s.run_sock(&["log", "r2"]);
        let texts: Vec<String> = text(&out.stdout).lines().filter_map(log_text).map(String::from).collect();
        let whole = out.status.success() && texts == ["r2 line 1", "r2 line 2"];
        last = Some(out);
        whole.then_some(())
    });
    assert!(got.is_some(), "r2 has no working ring after the reload; last `svc log r2`: {}", show(last.as_ref().unwrap()));
    let o = s.json("r2");
    assert!(o.get("log").is_none_or(|v| !v.is_null()), "r2's status reports log null: {o:?}");
    assert!(s.svc_running());
}

#[test]
fn reload_with_a_ring_that_does_not_fit_changes_nothing() {
    let mut s = Svc::new("ring_no_fit");
    // Four 64 KiB rings fill the 256 KiB pool, first fit in config order:
    // a, b, c, d. Removing a and c frees two 64 KiB holes; e's 128 KiB fits
    // in neither, although the new config's rings (b, d, e) add up to the pool.
    s.write_config(
        "[a]\nexec = /bin/sleep 100000\nlog = ring:64k\n\n[b]\nexec = /bin/sleep 100000\nlog = ring:64k\n\n\
         [c]\nexec = /bin/sleep 100000\nlog = ring:64k\n\n[d]\nexec = /bin/sleep 100000\nlog = ring:64k\n",
    );
    s.start();
    let before = running(&s, &["a", "b", "c", "d"].map(String::from));

    s.write_config(
        "[b]\nexec = /bin/sleep 100000\nlog = ring:64k\n\n[d]\nexec = /bin/sleep 100000\nlog = ring:64k\n\n\
         [e]\nexec = /bin/sleep 100000\nlog = ring:128k\n",
    );
    let out = reload(&s, &[], CLIENT_TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "a reload whose ring does not fit in the pool was not refused: {}", show(&out));
    assert!(!text(&out.stderr).trim().is_empty(), "the refusal gives no reason: {}", show(&out));
    thread::sleep(ms(300));
    assert_untouched(&s, &before, "after the refused reload");
    assert!(s.status_line("e").is_none(), "e exists: {:?}", s.status_line("e"));
}

// ---- 7. no stale errors

#[test]
fn reload_after_a_failed_one_reports_its_own_error() {
    let mut s = Svc::new("stale_errors");
    s.write_config("[a]\nexec = /bin/sleep 100000\n");
    s.start();
    let before = running(&s, &["a".to_string()]);

    s.write_config("[a]\nexec = /bin/sleep 100000\nbogus_key_seven = 1\n");
    let out = reload(&s, &[], CLIENT_TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(text(&out.stderr).contains("bogus_key_seven"), "the first reload's error: {}", show(&out));

    fs::remove_file(&s.conf).expect("rm svc.conf");
    let out = reload(&s, &[], CLIENT_TIMEOUT);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(!err.contains("bogus_key_seven"), "the reload repeats the previous attempt's errors: {}", show(&out));
    let conf = s.conf_str();
    assert!(
        err.lines()
            .filter(|l| !l.contains("bogus_key_seven"))
            .any(|l| l.contains("ENOENT") || l.contains("No such file") || l.contains(&conf)),
        "the reload does not name the missing file {conf}: {}",
        show(&out)
    );
    assert_untouched(&s, &before, "after the failed reloads");
}

// ---- 8. stop leaves nothing behind

/// The main process is a sleep that dies of TERM; beside it in its process
/// group, `sleep 100001` ignores TERM.
const TERM_IGNORER: &str = "[t]\nexec = /bin/sh -c \"(trap '' TERM; exec sleep 100001) & exec sleep 100000\"\nstop_timeout = 1s\n";

/// svc with TERM_IGNORER running: the main pid, and the TERM-ignoring
/// member's pid and start time (ended by pid when the fixture is dropped).
fn with_term_ignorer(test: &str) -> (Svc, u32, (u32, u64)) {
    let mut s = Svc::up(test, TERM_IGNORER);
    let main = s.wait_running("t");
    let svc_pid = s.svc_pid();
    let member = wait_for(secs(5), "the TERM-ignoring sleep 100001", || {
        descendants(svc_pid).into_iter().find(|&(p, _)| cmdline(p) == ["sleep", "100001"])
    });
    s.end_on_drop(member.0);
    let ign = status_field(member.0, "SigIgn").map(|v| u64::from_str_radix(&v, 16).unwrap_or(0) & (1 << 14));
    assert_eq!(ign, Some(1 << 14), "sleep 100001 does not ignore TERM");
    assert_eq!(stat(member.0).map(|st| st.pgrp), Some(main), "sleep 100001 is not in the service's process group");
    (s, main, member)
}

#[test]
fn stop_waits_for_a_member_that_ignores_term() {
    let (s, main, (member, member_born)) = with_term_ignorer("stop_term_ignorer");
    let main_born = stat(main).unwrap().starttime;
    let mut stop = svc(&["stop", "-c", &s.conf_str(), "-s", &s.sock.display().to_string(), "t"]);
    let client = thread::spawn(move || output_within(&mut stop, secs(10)));
    // While the member lives, the service must not be `stopped`.
    let mut seen: Vec<String> = Vec::new();
    let mut wrong: Option<(String, bool)> = None;
    for _ in 0..400 {
        if client.is_finished() {
            break;
        }
        let state = s.state("t").unwrap_or_default();
        // Alive after the status was read: alive while it was read.
        let alive = !gone(member, member_born);
        if alive && !matches!(state.as_str(), "running" | "stopping") && wrong.is_none() {
            wrong = Some((state.clone(), gone(main, main_born)));
        }
        if seen.last() != Some(&state) {
            seen.push(state);
        }
        thread::sleep(ms(25));
    }
    let out = client.join().expect("the stop client");
    assert_eq!(out.status.code(), Some(0), "svc stop t: {}", show(&out));
    assert!(gone(main, main_born), "the main process survived the stop");
    assert!(
        gone(member, member_born),
        "the TERM-ignoring sleep 100001 (pid {member}, {:?}) survived `svc stop` (states seen during the stop: {seen:?})",
        stat(member)
    );
    assert_eq!(wrong, None, "(state, main gone) while the TERM-ignoring member still lived; want stopping; states seen: {seen:?}");
    assert_eq!(s.state("t").as_deref(), Some("stopped"));
}

#[test]
fn shutdown_waits_for_a_member_that_ignores_term() {
    let (mut s, main, (member, member_born)) = with_term_ignorer("shutdown_term_ignorer");
    let main_born = stat(main).unwrap().starttime;
    let st = s.stop_svc("TERM");
    assert!(st.success(), "svc exited with {st} on SIGTERM\n{}", s.stderr_text());
    assert!(gone(main, main_born), "the main process survived the shutdown");
    assert!(gone(member, member_born), "the TERM-ignoring sleep 100001 (pid {member}, {:?}) survived svc's shutdown", stat(member));
}

// ---- 9. one-shot requests beside followers

#[test]
fn one_shot_requests_are_served_beside_followers() {
    let mut s = Svc::new("followers_reserve");
    let tick = s.script("tick", "i=0\nwhile [ $i -lt 600 ]; do echo tick $i; /bin/sleep 0.1; i=$((i+1)); done\nexec /bin/sleep 100000\n");
    s.write_config(&format!("[tick]\nexec = {tick}\n\n[lazy]\nexec = /bin/sleep 100000\nstart = no\n"));
    s.start();
    s.wait_running("tick");

    // Twelve followers. Each ends up following (it got a line) or turned
    // away (it exited); one still neither after 5 s counts as pending.
    let mut followers: Vec<Follower> = (0..12).map(|_| Follower::start(&s, &["log", "-f", "tick"])).collect();
    let mut fate: Vec<Option<bool>> = vec![None; followers.len()];
    poll(secs(5), || {
        for (f, fate) in followers.iter_mut().zip(fate.iter_mut()).filter(|(_, fate)| fate.is_none()) {
            if f.lines.try_recv().is_ok() {
                *fate = Some(true);
            } else if f.child.try_wait().ok().flatten().is_some() {
                *fate = Some(false);
            }
        }
        fate.iter().all(Option::is_some).then_some(())
    });
    let count = |want: Option<bool>| fate.iter().filter(|&&f| f == want).count();
    // And three connections that never send a request.
    let idle: Vec<UnixStream> = (0..3).map(|_| s.connect()).collect();

    let what = format!(
        "followers: {} following, {} turned away, {} pending; {} idle connections",
        count(Some(true)),
        count(Some(false)),
        count(None),
        idle.len()
    );
    for round in 0..3 {
        let out = s.run(&["status"]);
        assert_eq!(out.status.code(), Some(0), "svc status, round {round}, {what}: {}", show(&out));
        assert!(!text(&out.stderr).contains("busy"), "{}", show(&out));
        assert!(status_fields(&text(&out.stdout), "tick").is_some(), "{}", show(&out));
    }
    let out = s.run(&["start", "lazy"]);
    assert_eq!(out.status.code(), Some(0), "svc start lazy, {what}: {}", show(&out));
    assert!(!text(&out.stderr).contains("busy"), "{}", show(&out));
    s.wait_running("lazy");
    drop(idle);
    drop(followers);
}
