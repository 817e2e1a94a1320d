use super::*;
use crate::config::Config;
use crate::service::{Actions, Step};
use crate::supervisor::tests::{T0, config, def, ms};
use crate::supervisor::{ESRCH, Event, Request};
use std::boxed::Box;

fn sup_of(cfg: &Config) -> Box<Supervisor> {
    let mut sup = Box::new(Supervisor::new());
    crate::config::adopt(&mut sup.cfg, cfg);
    sup.load();
    sup
}

fn spawned(id: u8, pid: i32) -> Event {
    Event::Spawned { id, inst: 0, pid, rel: crate::pin::NONE }
}

const EXEC_ENOENT: Event = Event::SpawnFailed { id: 4, inst: 0, step: Step::Exec, errno: 2 };

fn text(b: &Out) -> std::string::String {
    std::string::String::from_utf8(b.as_bytes().to_vec()).unwrap()
}

#[test]
fn lines() {
    let mut once = def();
    once.oneshot = true;
    let mut web = def();
    web.after = 1;
    let mut sup = sup_of(&config(&[once, web]));
    let mut out = Actions::new();
    sup.handle(Event::Tick, T0, &mut out);
    sup.handle(spawned(0, 42), T0, &mut out);
    let w = name_width(&sup);
    let mut b = Buf::<512>::new();
    header(w, &mut b);
    line(&sup, 0, T0 + ms(90_000), w, 0, &mut b);
    line(&sup, 1, T0 + ms(90_000), w, 3, &mut b);
    let t = text(&b);
    // Each column's name where its values start.
    let mut at = w;
    for (name, width) in ["STATE", "PID", "UPTIME", "RESTARTS", "LAST", "NOTE"].iter().zip(COLS.iter().chain([&0])) {
        assert_eq!(t.find(name), Some(at), "{name}");
        at += width;
    }
    let rows: std::vec::Vec<std::vec::Vec<&str>> = t.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST", "NOTE"]);
    assert_eq!(rows[1], ["a", "running", "42", "1m30s", "0", "-"]);
    assert_eq!(rows[2], ["b", "stopped", "-", "-", "0", "-", "waiting", "for", "a,", "3", "log", "lines", "dropped"]);
    // Columns line up.
    let lines: std::vec::Vec<&str> = t.lines().collect();
    assert_eq!(lines[0].find("STATE"), lines[1].find("running"));

    sup.handle(Event::Exited { pid: 42, exit: Exit::Code(1) }, T0 + ms(100), &mut out);
    let mut b = Buf::<512>::new();
    line(&sup, 0, T0 + ms(100), w, 0, &mut b);
    line(&sup, 1, T0 + ms(100), w, 0, &mut b);
    let t = text(&b);
    assert!(t.contains("a     failed"), "{t}");
    assert!(t.contains("exit:1"), "{t}");
    assert!(t.contains("blocked: a failed"), "{t}");

    let mut sup = sup_of(&config(&[def()]));
    let mut out = Actions::new();
    sup.handle(Event::Tick, T0, &mut out);
    sup.handle(Event::SpawnFailed { id: 0, inst: 0, step: Step::Exec, errno: 2 }, T0, &mut out);
    let mut b = Buf::<512>::new();
    line(&sup, 0, T0 + ms(30), 6, 0, &mut b);
    assert_eq!(text(&b), "a     backoff   -       -       0         -         start in 70ms, exec: ENOENT (errno 2)\n");
}

fn esc(bytes: &[u8]) -> std::string::String {
    let mut b = Buf::<256>::new();
    json_str(bytes, &mut b);
    text(&b)
}

#[test]
fn json_strings() {
    for (raw, want) in [
        (&b""[..], r#""""#),
        (b"web", r#""web""#),
        (b"a\"b\\c", r#""a\"b\\c""#),
        (b"\n\r\t\x00\x08\x0c\x1f\x7f", r#""\n\r\t\u0000\u0008\u000c\u001f\u007f""#),
        ("caf\u{e9} \u{1f600}".as_bytes(), "\"caf\u{e9} \u{1f600}\""),
        (b"a\xffb", r#""a\ufffdb""#),
        (b"\xc3", r#""\ufffd""#),
        (b"\xe2\x82", r#""\ufffd""#),
        (b"\xe2\x82x\x80\x80", r#""\ufffdx\ufffd\ufffd""#),
        (b"\xed\xa0\x80", r#""\ufffd\ufffd\ufffd""#),
    ] {
        assert_eq!(esc(raw), want, "{raw:?}");
        // Decoding gives what from_utf8_lossy gives.
        let lossy = std::string::String::from_utf8_lossy(raw);
        assert_eq!(json_decode(&[esc(raw)]), [lossy.into_owned()], "{raw:?}");
    }
}

/// Decodes each line with python3's json module; None when python3 is missing.
fn python(lines: &[std::string::String], script: &str) -> Option<std::vec::Vec<std::string::String>> {
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take().unwrap().write_all(lines.concat().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 rejected {lines:?}");
    Some(std::string::String::from_utf8(out.stdout).unwrap().lines().map(|l| l.to_string()).collect())
}

/// The strings (one JSON string per line) decoded, re-encoded ASCII-only for a stable compare.
fn json_decode(lines: &[std::string::String]) -> std::vec::Vec<std::string::String> {
    let lines: std::vec::Vec<_> = lines.iter().map(|l| std::format!("{l}\n")).collect();
    let script = "import json,sys\nfor l in sys.stdin: print(json.dumps(json.loads(l), ensure_ascii=True))";
    match python(&lines, script) {
        // Back through serde-less Rust: python's ASCII escapes → chars.
        Some(v) => v.iter().map(|l| unescape_ascii(l)).collect(),
        None => lines.iter().map(|_| std::string::String::new()).collect(),
    }
}

/// Undoes python's ensure_ascii output of one string (\uXXXX, surrogate pairs, \n ...).
fn unescape_ascii(l: &str) -> std::string::String {
    let inner = &l[1..l.len() - 1];
    let units: std::vec::Vec<u16> = {
        let mut v = std::vec::Vec::new();
        let mut it = inner.chars();
        while let Some(c) = it.next() {
            if c != '\\' {
                v.push(c as u16);
                continue;
            }
            match it.next().unwrap() {
                'u' => v.push(u16::from_str_radix(&it.by_ref().take(4).collect::<std::string::String>(), 16).unwrap()),
                'n' => v.push(10),
                'r' => v.push(13),
                't' => v.push(9),
                'b' => v.push(8),
                'f' => v.push(12),
                c => v.push(c as u16),
            }
        }
        v
    };
    std::string::String::from_utf16(&units).unwrap()
}

/// Keys in order, and each line re-dumped by python (compact, key order kept).
const SCRIPT: &str =
    "import json,sys\nfor l in sys.stdin:\n o=json.loads(l)\n print(json.dumps(o, separators=(',',':'), ensure_ascii=False))";
const KEYS: [&str; 12] =
    ["name", "state", "pid", "uptime_ms", "restarts", "exit", "signal", "next_start_ms", "generation", "log_drops", "note", "sockets"];

fn json_all(sup: &Supervisor, now: Instant, drops: u32) -> std::vec::Vec<std::string::String> {
    (0..sup.svcs.len())
        .map(|id| {
            let mut b = Buf::<512>::new();
            json_line(sup, id, now, drops, &mut b);
            assert!(!b.was_cut());
            text(&b)
        })
        .collect()
}

/// Checks each line by hand (keys in order, one line) and with python3 when present.
fn check_json(lines: &[std::string::String]) {
    for l in lines {
        assert!(l.ends_with("}\n") && l.starts_with("{\"name\":") && l.matches('\n').count() == 1, "{l}");
        let mut at = 0;
        for k in KEYS {
            let pos = l[at..].find(&std::format!("\"{k}\":")).unwrap_or_else(|| panic!("{k} in {l}"));
            at += pos + 1;
        }
    }
    if let Some(back) = python(lines, SCRIPT) {
        // Plain ASCII lines come back byte for byte: same keys, order and values.
        for (l, b) in lines.iter().zip(&back) {
            if !l.contains('\\') {
                assert_eq!(l.trim_end(), b);
            }
        }
    }
}

#[test]
fn json_every_state() {
    let mut once = def();
    once.oneshot = true;
    let mut slow = def();
    slow.ready = crate::config::Ready::Delay(ms(500));
    let mut never = def();
    never.restart = crate::config::Restart::Never;
    let mut off = def();
    off.start = false;
    // a: done, b: failed, c: starting, d: running then stopping, e: backoff,
    // f: failed by an unnamed signal, g: stopped (start = no), h: stopped by svc stop.
    let mut sup = sup_of(&config(&[once, once, slow, def(), def(), never, off, def()]));
    let mut out = Actions::new();
    sup.handle(Event::Tick, T0, &mut out);
    for (id, pid) in [(0u8, 10), (1, 11), (2, 12), (3, 13), (5, 15), (7, 17)] {
        sup.handle(spawned(id, pid), T0, &mut out);
    }
    sup.handle(EXEC_ENOENT, T0, &mut out);
    sup.handle(Event::Exited { pid: 10, exit: Exit::Code(0) }, T0 + ms(5), &mut out);
    sup.handle(Event::Exited { pid: 11, exit: Exit::Code(3) }, T0 + ms(5), &mut out);
    sup.handle(Event::Exited { pid: 15, exit: Exit::Signal(40) }, T0 + ms(5), &mut out);
    sup.handle(Event::Request(Request::Stop(7)), T0 + ms(6), &mut out);
    sup.handle(Event::Exited { pid: 17, exit: Exit::Signal(15) }, T0 + ms(7), &mut out);
    sup.handle(Event::SignalFailed { pid: 17, sig: 0, group: true, errno: ESRCH }, T0 + ms(7), &mut out);
    sup.handle(Event::Request(Request::Stop(3)), T0 + ms(8), &mut out);
    let now = T0 + ms(30);
    let lines = json_all(&sup, now, 7);
    check_json(&lines);
    let want = [
        r#"{"name":"a","state":"done","pid":null,"uptime_ms":null,"restarts":0,"exit":0,"signal":null,"next_start_ms":null,"generation":1,"log_drops":7,"note":null,"sockets":[],"release":null}"#,
        r#"{"name":"b","state":"failed","pid":null,"uptime_ms":null,"restarts":0,"exit":3,"signal":null,"next_start_ms":null,"generation":1,"log_drops":7,"note":null,"sockets":[],"release":null}"#,
        r#"{"name":"c","state":"starting","pid":12,"uptime_ms":30,"restarts":0,"exit":null,"signal":null,"next_start_ms":null,"generation":1,"log_drops":7,"note":null,"sockets":[],"release":null}"#,
        r#"{"name":"d","state":"stopping","pid":13,"uptime_ms":30,"restarts":0,"exit":null,"signal":null,"next_start_ms":null,"generation":1,"log_drops":7,"note":null,"sockets":[],"release":null}"#,
        r#"{"name":"e","state":"backoff","pid":null,"uptime_ms":null,"restarts":0,"exit":null,"signal":null,"next_start_ms":70,"generation":1,"log_drops":7,"note":"start in 70ms, exec: ENOENT (errno 2)","sockets":[],"release":null}"#,
        r#"{"name":"f","state":"failed","pid":null,"uptime_ms":null,"restarts":0,"exit":null,"signal":"40","next_start_ms":null,"generation":1,"log_drops":7,"note":null,"sockets":[],"release":null}"#,
        r#"{"name":"g","state":"stopped","pid":null,"uptime_ms":null,"restarts":0,"exit":null,"signal":null,"next_start_ms":null,"generation":1,"log_drops":7,"note":null,"sockets":[],"release":null}"#,
        r#"{"name":"h","state":"stopped","pid":null,"uptime_ms":null,"restarts":0,"exit":null,"signal":"TERM","next_start_ms":null,"generation":1,"log_drops":7,"note":null,"sockets":[],"release":null}"#,
    ];
    for (l, w) in lines.iter().zip(want) {
        assert_eq!(l.trim_end(), w);
    }
    // Every state word appears, the same as the plain status.
    for (id, l) in lines.iter().enumerate() {
        let mut b = Buf::<512>::new();
        line(&sup, id, now, 6, 0, &mut b);
        let word = text(&b).split_whitespace().nth(1).unwrap().to_string();
        assert!(l.contains(&std::format!("\"state\":\"{word}\"")), "{l}");
    }

    // A waiting note.
    let mut web = def();
    web.after = 1;
    let mut sup = sup_of(&config(&[slow, web]));
    sup.handle(Event::Tick, T0, &mut out);
    sup.handle(spawned(0, 42), T0, &mut out);
    let lines = json_all(&sup, T0 + ms(300), 0);
    check_json(&lines);
    assert!(lines[0].contains(r#""state":"starting","pid":42,"uptime_ms":300,"#), "{}", lines[0]);
    assert!(lines[1].contains(r#""state":"stopped""#) && lines[1].contains(r#""note":"waiting for a""#), "{}", lines[1]);
}

#[test]
fn json_shows_every_instance_when_there_are_several() {
    let mut sup = sup_of(&config(&[def()]));
    let mut out = Actions::new();
    sup.handle(Event::Tick, T0, &mut out);
    sup.handle(spawned(0, 42), T0, &mut out);
    let one = json_all(&sup, T0 + ms(10), 0);
    assert!(!one[0].contains("instances"), "{}", one[0]);
    // As an upgrade will: the old instance drains, a new one serves.
    let s = &mut sup.svcs[0];
    s.inst[0].as_mut().unwrap().role = crate::service::Role::Draining;
    s.inst[1] = Some(crate::service::Instance {
        pid: 43,
        started: T0 + ms(5),
        phase: crate::service::InstPhase::Ready { dog: None },
        role: crate::service::Role::Serving,
        generation: 2,
        probe: 0,
        session: 43,
    });
    let two = json_all(&sup, T0 + ms(10), 0);
    check_json(&two);
    assert!(two[0].contains(r#""state":"running","pid":43,"uptime_ms":5,"#), "{}", two[0]);
    let want = r#","sockets":[],"release":null,"instances":[{"pid":42,"role":"draining","state":"running","uptime_ms":10},{"pid":43,"role":"serving","state":"running","uptime_ms":5}]}"#;
    assert!(two[0].trim_end().ends_with(want), "{}", two[0]);
}

#[test]
fn release_in_json_long_and_note() {
    let mut sup = sup_of(&config(&[def(), def()]));
    let mut out = Actions::new();
    sup.handle(Event::Tick, T0, &mut out);
    let k = sup.pins.store(0, [crate::pin::NONE; 2], b"/opt/app/releases/42/bin/web", b"/opt/app/releases/42").unwrap();
    sup.handle(Event::Spawned { id: 0, inst: 0, pid: 42, rel: k }, T0, &mut out);
    sup.handle(Event::Spawned { id: 1, inst: 0, pid: 43, rel: crate::pin::FULL }, T0, &mut out);
    let lines = json_all(&sup, T0, 0);
    check_json(&lines);
    let want = r#""release":{"exec":"/opt/app/releases/42/bin/web","cwd":"/opt/app/releases/42"}"#;
    assert!(lines[0].contains(want), "{}", lines[0]);
    assert!(lines[1].contains(r#""note":"unpinned: release arena full","sockets":[],"release":null"#), "{}", lines[1]);
    let mut long = Buf::<256>::new();
    sockets_line(&sup, 0, &mut long);
    assert_eq!(text(&long), "  release: /opt/app/releases/42/bin/web cwd /opt/app/releases/42\n");
    let mut none = Buf::<64>::new();
    sockets_line(&sup, 1, &mut none);
    assert_eq!(text(&none), "");
}

#[test]
fn json_odd_names() {
    let mut cfg = config(&[def()]);
    // Names are checked by the parser; the encoder still must not trust them.
    let odd: &[u8] = b"w\"e\\b\n\x01\xff\xc3\xa9";
    let start = cfg.arena.len() as u32;
    for &b in odd.iter().chain(&[0]) {
        cfg.arena.push(b).unwrap();
    }
    cfg.defs[0].name = crate::config::Span { start, len: odd.len() as _ };
    let sup = sup_of(&cfg);
    let lines = json_all(&sup, T0, 0);
    check_json(&lines);
    assert!(lines[0].starts_with("{\"name\":\"w\\\"e\\\\b\\n\\u0001\\ufffd\u{e9}\","), "{}", lines[0]);
    let name = python(&lines, "import json,sys\nfor l in sys.stdin: print(ascii(json.loads(l)['name']))");
    if let Some(name) = name {
        assert_eq!(name, ["'w\"e\\\\b\\n\\x01\\ufffd\\xe9'"]);
    }
}
