//! `svc status` lines for people: `NAME STATE PID UPTIME RESTARTS LAST NOTE`,
//! columns aligned; and the same as JSON Lines for programs. No syscalls.

use crate::duration::Instant;
use crate::service::{Exit, Note, Rest, State};
use crate::supervisor::{Hold, Supervisor};
use crate::text::{Buf, Bytes, Errno, Out};
use ufmt::uwrite;

/// The widths of the columns STATE, PID, UPTIME, RESTARTS and LAST (NOTE,
/// the last, takes the rest of the line).
const COLS: [usize; 5] = [10, 8, 8, 10, 10];
// (Two "-" padded as one text: the first is padded to 8 by hand.)
const _: () = assert!(COLS[1] == 8);
/// The header after NAME, each name padded to its column's width (a test
/// checks it against COLS).
const HEADER: &[u8] = b"STATE     PID     UPTIME  RESTARTS  LAST      NOTE\n";

/// Width of the NAME column: the longest name, at least 4.
pub fn name_width(sup: &Supervisor) -> usize {
    (0..sup.svcs.len()).map(|i| sup.name(i).len()).max().unwrap_or(0).max(4) + 2
}

pub fn header(width: usize, out: &mut Out) {
    out.pad("NAME", width);
    out.push(HEADER);
}

fn trim_end(out: &mut Out) {
    let keep = out.as_bytes().iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    out.truncate(keep);
}

struct Last(Option<Exit>);

impl ufmt::uDisplay for Last {
    fn fmt<W: ufmt::uWrite + ?Sized>(&self, f: &mut ufmt::Formatter<'_, W>) -> Result<(), W::Error> {
        match self.0 {
            None => f.write_str("-"),
            Some(Exit::Code(c)) => uwrite!(f, "exit:{}", u32::from(c)),
            Some(Exit::Signal(s)) => match crate::signame::name(s) {
                Some(n) => uwrite!(f, "sig:{}", n),
                None => uwrite!(f, "sig:{}", u32::from(s)),
            },
        }
    }
}

/// One service's line.
pub fn line(sup: &Supervisor, id: usize, now: Instant, width: usize, drops: u32, out: &mut Out) {
    let Some(s) = sup.svcs.get(id).filter(|s| !s.removed) else { return };
    let state = s.state();
    out.pad(&Bytes(sup.name(id)), width);
    out.pad(&state, COLS[0]);
    match s.serving().filter(|i| i.pid > 0) {
        Some(i) => {
            out.pad(&i.pid, COLS[1]);
            out.pad(&now.since(i.started), COLS[2]);
        }
        // "-" in PID and in UPTIME.
        None => out.pad("-       -", COLS[1] + COLS[2]),
    }
    out.pad(&s.restarts(), COLS[3]);
    out.pad(&Last(s.last), COLS[4]);
    let before = out.len();
    note(sup, id, state, now, out);
    if drops > 0 {
        part(out, before, "");
        let _ = uwrite!(out, "{} log lines dropped", drops);
    }
    trim_end(out);
    out.push(b"\n");
}

/// One service as one JSON object on one line (JSON Lines): the fields of
/// `line`, in a fixed order, with null where a value does not apply.
/// `out` needs room for the whole line (a cut line is not JSON); 512 bytes
/// hold the longest.
pub fn json_line(sup: &Supervisor, id: usize, now: Instant, log_drops: u32, out: &mut Out) {
    let Some(s) = sup.svcs.get(id).filter(|s| !s.removed) else { return };
    let state = s.state();
    let inst = s.serving();
    out.push(b"{\"name\":");
    json_str(sup.name(id), out);
    let _ = uwrite!(out, ",\"state\":\"{}\",\"pid\":", state.word());
    json_num(inst.and_then(|i| u64::try_from(i.pid).ok()).filter(|&p| p > 0), out);
    out.push(b",\"uptime_ms\":");
    json_num(inst.map(|i| now.since(i.started).as_millis()), out);
    let _ = uwrite!(out, ",\"restarts\":{},\"exit\":", s.restarts());
    json_num(if let Some(Exit::Code(c)) = s.last { Some(u64::from(c)) } else { None }, out);
    out.push(b",\"signal\":");
    match s.last {
        Some(Exit::Signal(n)) => match crate::signame::name(n) {
            Some(w) => {
                let _ = uwrite!(out, "\"{}\"", w);
            }
            None => {
                let _ = uwrite!(out, "\"{}\"", u32::from(n));
            }
        },
        _ => out.push(b"null"),
    }
    out.push(b",\"next_start_ms\":");
    let next = match s.rest {
        Rest::Backoff { until } if state == State::Backoff => Some(until.since(now).as_millis()),
        _ => None,
    };
    json_num(next, out);
    let _ = uwrite!(out, ",\"generation\":{},\"log_drops\":{},\"note\":", s.generation, log_drops);
    // As long as a whole line (the longest note is far shorter).
    let mut text = Buf::<512>::new();
    note(sup, id, state, now, &mut text);
    if text.is_empty() {
        out.push(b"null");
    } else {
        json_str(text.as_bytes(), out);
    }
    // Only when the service said one (sd_notify STATUS=).
    if let Some(t) = sup.said.get(id).filter(|t| !t.status.is_empty()) {
        out.push(b",\"status_text\":");
        json_str(t.status.as_bytes(), out);
    }
    out.push(b",\"sockets\":[");
    sockets(sup, id, true, out);
    out.push(b"],\"release\":");
    release(sup, id, true, out);
    // Every instance, when there is more than one (an upgrade under way):
    // pid, role, phase and uptime of each.
    if s.inst.iter().flatten().count() > 1 {
        out.push(b",\"instances\":[");
        let mut sep = "";
        for i in s.inst.iter().flatten() {
            let _ = uwrite!(
                out,
                "{}{{\"pid\":{},\"role\":\"{}\",\"state\":\"{}\",\"uptime_ms\":{}}}",
                sep,
                i.pid,
                i.role.word(),
                i.phase_word(),
                now.since(i.started).as_millis()
            );
            sep = ",";
        }
        out.push(b"]");
    }
    out.push(b"}\n");
}

/// Why an upgrade's new instance failed: `exit:3`, `sig:KILL` or `not ready in time`.
pub fn failure(exit: Option<Exit>, out: &mut Out) {
    match exit {
        Some(e) => {
            let _ = uwrite!(out, "{}", Last(Some(e)));
        }
        None => out.push(b"not ready in time"),
    }
}

/// A service's listen addresses: JSON strings, or words after a blank.
fn sockets(sup: &Supervisor, id: usize, json: bool, out: &mut Out) {
    let Some(d) = sup.def(id) else { return };
    for (i, l) in sup.cfg.listens(d.listen).iter().enumerate() {
        let text = sup.cfg.str(l.addr);
        if json {
            out.push(if i > 0 { b"," } else { b"" });
            json_str(text, out);
        } else {
            out.push(b" ");
            out.push(text);
        }
    }
}

/// `status -l`: the lines under a service: `  sockets: ADDR...` (with
/// sockets) and `  release: PROGRAM [cwd DIR]` (pinned).
pub fn sockets_line(sup: &Supervisor, id: usize, out: &mut Out) {
    if sup.def(id).is_some_and(|d| d.listen.count > 0) {
        out.push(b"  sockets:");
        sockets(sup, id, false, out);
        out.push(b"\n");
    }
    release(sup, id, false, out);
}

/// The pinned release a service runs: as JSON `{"exec":PROGRAM,"cwd":DIR}`
/// (cwd null when none) or null; or for `-l`, `  release: PROGRAM [cwd
/// DIR]` and nothing when none.
fn release(sup: &Supervisor, id: usize, json: bool, out: &mut Out) {
    let Some((prog, cwd)) = sup.svcs.get(id).and_then(|s| sup.pins.text(id, s.pin.cur)) else {
        return out.push(if json { b"null" } else { b"" });
    };
    if !json {
        out.push(b"  release: ");
        out.push(prog);
        if !cwd.is_empty() {
            out.push(b" cwd ");
            out.push(cwd);
        }
        return out.push(b"\n");
    }
    out.push(b"{\"exec\":");
    json_str(prog, out);
    out.push(b",\"cwd\":");
    if cwd.is_empty() {
        out.push(b"null");
    } else {
        json_str(cwd, out);
    }
    out.push(b"}");
}

fn json_num(v: Option<u64>, out: &mut Out) {
    match v {
        Some(v) => {
            let _ = uwrite!(out, "{}", v);
        }
        None => out.push(b"null"),
    }
}

/// `bytes` as a JSON string in quotes. `"` `\` and control characters are
/// escaped; valid UTF-8 passes through; each invalid sequence becomes one
/// U+FFFD (`\ufffd`), as `String::from_utf8_lossy` does.
pub fn json_str(bytes: &[u8], out: &mut Out) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_byte(b'"');
    let mut rest = bytes;
    while !rest.is_empty() {
        let (good, bad) = match core::str::from_utf8(rest) {
            Ok(_) => (rest.len(), 0),
            // A sequence cut short by the end of the bytes is one bad sequence.
            Err(e) => (e.valid_up_to(), e.error_len().unwrap_or(rest.len() - e.valid_up_to())),
        };
        for &b in rest.get(..good).unwrap_or(&[]) {
            // `"` `\` and newline, CR, tab by a letter; other controls as \u00XX.
            if let Some((_, &letter)) = b"\"\\\n\r\t".iter().zip(b"\"\\nrt").find(|(e, _)| **e == b) {
                out.push_byte(b'\\');
                out.push_byte(letter);
            } else if b < 0x20 || b == 0x7f {
                out.push(b"\\u00");
                out.push_byte(HEX[usize::from(b >> 4)]);
                out.push_byte(HEX[usize::from(b & 15)]);
            } else {
                out.push_byte(b);
            }
        }
        if bad > 0 {
            out.push(b"\\ufffd");
        }
        rest = rest.get(good + bad..).unwrap_or(&[]);
    }
    out.push_byte(b'"');
}

fn note(sup: &Supervisor, id: usize, state: State, now: Instant, out: &mut Out) {
    let Some(s) = sup.svcs.get(id) else { return };
    let name = |slot: u8| Bytes(sup.name(usize::from(slot)));
    let start = out.len();
    if let Rest::Backoff { until } = s.rest
        && state == State::Backoff
    {
        part(out, start, "start in ");
        let _ = uwrite!(out, "{}", until.since(now));
    }
    for i in s.inst.iter().flatten() {
        match i.role {
            crate::service::Role::New => part(out, start, "upgrading \u{2192} "),
            crate::service::Role::Draining => part(out, start, "draining "),
            crate::service::Role::Serving => continue,
        }
        let _ = uwrite!(out, "{}", i.pid);
    }
    if s.pin.last == crate::pin::FULL {
        part(out, start, "unpinned: release arena full");
    }
    if s.rest == Rest::Watching && state == State::Stopped {
        part(out, start, "waiting for a connection");
    }
    if state == State::Stopped && s.wants_start() {
        match sup.hold(id) {
            Some(Hold::Waiting(d)) => {
                part(out, start, "waiting for ");
                let _ = uwrite!(out, "{}", name(d));
            }
            Some(Hold::Blocked(d)) => {
                part(out, start, "blocked: ");
                let _ = uwrite!(out, "{} failed", name(d));
            }
            None => {}
        }
    }
    match s.note {
        Note::None => {}
        Note::Spawn { step, errno } => {
            part(out, start, "");
            let _ = uwrite!(out, "{}: {}", step, Errno(errno));
        }
        Note::ReadyTimeout => part(out, start, "ready timeout"),
        Note::Watchdog => part(out, start, "watchdog"),
        Note::Upgrade { exit } => {
            part(out, start, "upgrade failed: ");
            failure(exit, out);
        }
        Note::Signal { sig, errno } => {
            part(out, start, "kill ");
            let _ = uwrite!(out, "{}: {}", crate::signame::name(sig).unwrap_or("?"), Errno(errno));
        }
    }
    // What the service said (sd_notify): its ERRNO=, STATUS= and dropped datagrams.
    let Some(said) = sup.said.get(id) else { return };
    if said.errno != 0 {
        part(out, start, "");
        let _ = uwrite!(out, "{}", Errno(said.errno));
    }
    if !said.status.is_empty() {
        part(out, start, "");
        out.push(said.status.as_bytes());
    }
    if said.dropped > 0 {
        part(out, start, "");
        let _ = uwrite!(out, "{} notify dropped", said.dropped);
    }
}

/// Begins one part of a note with `text`: after `, ` when an earlier part
/// was written (since `start`).
#[inline(never)]
fn part(out: &mut Out, start: usize, text: &str) {
    if out.len() > start {
        out.push(b", ");
    }
    out.push(text.as_bytes());
}

#[cfg(test)]
mod tests {
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
}
