//! Service output: `svc log`, the ring, and a flood that must not starve
//! the control socket or the other services.

mod common;
use common::*;

#[test]
fn smoke_log() {
    let mut s = Svc::new("smoke_log");
    let talk = s.script("talk", "echo hello one\necho hello two\nexec /bin/sleep 1000\n");
    s.write_config(&format!("[talk]\nexec = {talk}\n"));
    s.start();
    s.wait_running("talk");
    wait_until(secs(10), "two log lines", || s.log_lines("talk", &[]).len() >= 2);
    assert_eq!(s.log_texts("talk", &[]), ["hello one", "hello two"]);
    assert_eq!(s.log_texts("talk", &["-n", "1"]), ["hello two"]);
}

fn ring_line(n: u32) -> String {
    format!("line {n} xxxxxxxxxx")
}

#[test]
fn ring_keeps_the_newest_whole_lines() {
    let mut s = Svc::new("ring_log");
    let count = s.script("count", "i=0\nwhile [ $i -lt 600 ]; do echo \"line $i xxxxxxxxxx\"; i=$((i+1)); done\nexec /bin/sleep 1000\n");
    s.write_config(&format!("[count]\nexec = {count}\nlog = ring:4k\n"));
    s.start();
    wait_until(secs(15), "line 599 in the log", || {
        s.log_lines("count", &[]).last().and_then(|l| log_text(l)).is_some_and(|t| t == ring_line(599))
    });
    // Every line whole (the oldest was not cut either), consecutive, newest last.
    let texts = s.log_texts("count", &[]);
    let first: u32 = texts
        .first()
        .and_then(|t| t.strip_prefix("line ")?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("first line {:?}", texts.first()));
    assert!(first > 0, "a 4k ring kept all 600 lines: the ring holds more than asked");
    for (i, t) in texts.iter().enumerate() {
        assert_eq!(*t, ring_line(first + i as u32), "line {i} of the log");
    }
    assert_eq!(first as usize + texts.len(), 600);
    let want: Vec<String> = (595..600).map(ring_line).collect();
    assert_eq!(s.log_texts("count", &["-n", "5"]), want);
}

#[test]
fn chatty_service_does_not_starve_others() {
    let mut s = Svc::new("chatty");
    let quiet =
        s.script("quiet", "i=1\nwhile [ $i -le 40 ]; do echo \"quiet $i\"; /bin/sleep 0.02; i=$((i+1)); done\nexec /bin/sleep 1000\n");
    s.write_config(&format!("[chatty]\nexec = /usr/bin/yes\n\n[quiet]\nexec = {quiet}\n"));
    s.start();
    for i in 0..20 {
        let out = s.run(&["status"]);
        assert_eq!(out.status.code(), Some(0), "status call {i}: {}", show(&out));
        let all = text(&out.stdout);
        assert!(status_fields(&all, "chatty").is_some() && status_fields(&all, "quiet").is_some(), "status call {i}:\n{all}");
        // Spread over the time quiet writes.
        std::thread::sleep(ms(25));
    }
    s.wait_running("chatty");
    let want: Vec<String> = (1..=40).map(|i| format!("quiet {i}")).collect();
    wait_until(secs(15), "quiet's 40 lines", || s.log_lines("quiet", &[]).len() >= 40);
    assert_eq!(s.log_texts("quiet", &[]), want);
    assert_eq!(s.restarts("quiet"), Some(0));
    assert_eq!(s.restarts("chatty"), Some(0));
}
