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
        // `exit:N`, `sig:NAME`, or `sig:N` for a signal without a name.
        let (head, n, name) = match self.0 {
            None => return f.write_str("-"),
            Some(Exit::Code(c)) => ("exit:", c, None),
            Some(Exit::Signal(s)) => ("sig:", s, crate::signame::name(s)),
        };
        f.write_str(head)?;
        match name {
            Some(name) => f.write_str(name),
            None => uwrite!(f, "{}", u32::from(n)),
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
        part(out, before, b"");
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
            let letter = match b {
                b'"' | b'\\' => b,
                b'\n' => b'n',
                b'\r' => b'r',
                b'\t' => b't',
                _ => 0,
            };
            if letter != 0 {
                out.push(&[b'\\', letter]);
            } else if b < 0x20 || b == 0x7f {
                out.push(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
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
        part(out, start, b"start in ");
        let _ = uwrite!(out, "{}", until.since(now));
    }
    for i in s.inst.iter().flatten() {
        match i.role {
            crate::service::Role::New => part(out, start, "upgrading \u{2192} ".as_bytes()),
            crate::service::Role::Draining => part(out, start, b"draining "),
            crate::service::Role::Serving => continue,
        }
        let _ = uwrite!(out, "{}", i.pid);
    }
    if s.pin.last == crate::pin::FULL {
        part(out, start, b"unpinned: release arena full");
    }
    if s.rest == Rest::Watching && state == State::Stopped {
        part(out, start, b"waiting for a connection");
    }
    if state == State::Stopped && s.wants_start() {
        let held: Option<(&[u8], u8, &str)> = match sup.hold(id) {
            Some(Hold::Waiting(d)) => Some((b"waiting for ", d, "")),
            Some(Hold::Blocked(d)) => Some((b"blocked: ", d, " failed")),
            None => None,
        };
        if let Some((text, d, tail)) = held {
            part(out, start, text);
            let _ = uwrite!(out, "{}{}", name(d), tail);
        }
    }
    match s.note {
        Note::None => {}
        Note::Spawn { step, errno } => {
            part(out, start, b"");
            let _ = uwrite!(out, "{}: {}", step, Errno(errno));
        }
        Note::ReadyTimeout => part(out, start, b"ready timeout"),
        Note::Watchdog => part(out, start, b"watchdog"),
        Note::Upgrade { exit } => {
            part(out, start, b"upgrade failed: ");
            failure(exit, out);
        }
        Note::Signal { sig, errno } => {
            part(out, start, b"kill ");
            let _ = uwrite!(out, "{}: {}", crate::signame::name(sig).unwrap_or("?"), Errno(errno));
        }
    }
    // What the service said (sd_notify): its ERRNO=, STATUS= and dropped datagrams.
    let Some(said) = sup.said.get(id) else { return };
    if said.errno != 0 {
        part(out, start, b"");
        let _ = uwrite!(out, "{}", Errno(said.errno));
    }
    if !said.status.is_empty() {
        part(out, start, said.status.as_bytes());
    }
    if said.dropped > 0 {
        part(out, start, b"");
        let _ = uwrite!(out, "{} notify dropped", said.dropped);
    }
}

/// Begins one part of a note with `text`: after `, ` when an earlier part
/// was written (since `start`).
#[inline(never)]
fn part(out: &mut Out, start: usize, text: &[u8]) {
    if out.len() > start {
        out.push(b", ");
    }
    out.push(text);
}

#[cfg(test)]
mod tests;
