//! `svc status` lines for people: `NAME STATE PID UPTIME RESTARTS LAST NOTE`,
//! columns aligned. No syscalls.

use crate::config::Config;
use crate::duration::Instant;
use crate::service::{Exit, Note, Rest, State};
use crate::supervisor::{Hold, Supervisor};
use crate::text::{Buf, Bytes, Errno};
use ufmt::uwrite;

const COLS: [(&str, usize); 6] = [("STATE", 10), ("PID", 8), ("UPTIME", 8), ("RESTARTS", 10), ("LAST", 10), ("NOTE", 0)];

/// Width of the NAME column: the longest name, at least 4.
pub fn name_width(sup: &Supervisor, cfg: &Config) -> usize {
    sup.svcs
        .iter()
        .filter_map(|s| cfg.defs.get(usize::from(s.def)))
        .map(|d| d.name.len as usize)
        .max()
        .unwrap_or(0)
        .max(4)
        + 2
}

pub fn header<const N: usize>(width: usize, out: &mut Buf<N>) {
    out.pad("NAME", width);
    for (name, w) in COLS {
        out.pad(name, w);
    }
    trim_end(out);
    out.push(b"\n");
}

fn trim_end<const N: usize>(out: &mut Buf<N>) {
    let keep = out.as_bytes().iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    let extra = out.len() - keep;
    // Drop the trailing blanks by rewriting the tail.
    if extra > 0 {
        let mut tmp = Buf::<N>::new();
        tmp.push(out.as_bytes().get(..keep).unwrap_or(&[]));
        *out = tmp;
    }
}

struct Last(Option<Exit>);

impl ufmt::uDisplay for Last {
    fn fmt<W: ufmt::uWrite + ?Sized>(&self, f: &mut ufmt::Formatter<'_, W>) -> Result<(), W::Error> {
        match self.0 {
            None => f.write_str("-"),
            Some(Exit::Code(c)) => uwrite!(f, "exit:{}", c),
            Some(Exit::Signal(s)) => match crate::signame::name(s) {
                Some(n) => uwrite!(f, "sig:{}", n),
                None => uwrite!(f, "sig:{}", s),
            },
        }
    }
}

/// One service's line.
pub fn line<const N: usize>(sup: &Supervisor, cfg: &Config, id: usize, now: Instant, width: usize, out: &mut Buf<N>) {
    let Some(s) = sup.svcs.get(id) else { return };
    let Some(def) = cfg.defs.get(usize::from(s.def)) else { return };
    let state = s.state();
    out.pad(&Bytes(cfg.str(def.name)), width);
    out.pad(&state, COLS[0].1);
    match s.serving().filter(|i| i.pid > 0) {
        Some(i) => {
            out.pad(&i.pid, COLS[1].1);
            out.pad(&now.since(i.started), COLS[2].1);
        }
        None => {
            out.pad("-", COLS[1].1);
            out.pad("-", COLS[2].1);
        }
    }
    out.pad(&s.restarts(), COLS[3].1);
    out.pad(&Last(s.last), COLS[4].1);
    note(sup, cfg, id, state, now, out);
    trim_end(out);
    out.push(b"\n");
}

fn note<const N: usize>(sup: &Supervisor, cfg: &Config, id: usize, state: State, now: Instant, out: &mut Buf<N>) {
    let Some(s) = sup.svcs.get(id) else { return };
    let name = |slot: u8| {
        let d = sup.svcs.get(usize::from(slot)).and_then(|o| cfg.defs.get(usize::from(o.def)));
        Bytes(d.map_or(&b"?"[..], |d| cfg.str(d.name)))
    };
    let mut sep = "";
    if let Rest::Backoff { until } = s.rest {
        if state == State::Backoff {
            let _ = uwrite!(out, "start in {}", until.since(now));
            sep = ", ";
        }
    }
    if state == State::Stopped && s.wants_start() {
        match sup.hold(cfg, id) {
            Some(Hold::Waiting(d)) => {
                let _ = uwrite!(out, "{}waiting for {}", sep, name(d));
                sep = ", ";
            }
            Some(Hold::Blocked(d)) => {
                let _ = uwrite!(out, "{}blocked: {} failed", sep, name(d));
                sep = ", ";
            }
            None => {}
        }
    }
    match s.note {
        Note::None => {}
        Note::Spawn { step, errno } => {
            let _ = uwrite!(out, "{}{}: {}", sep, step, Errno(errno));
        }
        Note::ReadyTimeout => {
            let _ = uwrite!(out, "{}ready timeout", sep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Actions;
    use crate::supervisor::tests::{T0, config, def, ms};

    fn text<const N: usize>(b: &Buf<N>) -> std::string::String {
        std::string::String::from_utf8(b.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn lines() {
        let mut once = def();
        once.oneshot = true;
        let mut web = def();
        web.after = 1;
        let cfg = config(&[once, web]);
        let mut sup = Supervisor::new();
        sup.load(&cfg);
        let mut out = Actions::new();
        sup.settle(&cfg, T0, &mut out);
        sup.spawned(&cfg, 0, 0, Ok(42), T0, &mut out);
        let w = name_width(&sup, &cfg);
        let mut b = Buf::<512>::new();
        header(w, &mut b);
        line(&sup, &cfg, 0, T0 + ms(90_000), w, &mut b);
        line(&sup, &cfg, 1, T0 + ms(90_000), w, &mut b);
        let t = text(&b);
        let rows: std::vec::Vec<std::vec::Vec<&str>> = t.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(rows[0], ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST", "NOTE"]);
        assert_eq!(rows[1], ["a", "running", "42", "1m30s", "0", "-"]);
        assert_eq!(rows[2], ["b", "stopped", "-", "-", "0", "-", "waiting", "for", "a"]);
        // Columns line up.
        let lines: std::vec::Vec<&str> = t.lines().collect();
        assert_eq!(lines[0].find("STATE"), lines[1].find("running"));

        sup.exited(&cfg, 42, Exit::Code(1), T0 + ms(100), &mut out);
        let mut b = Buf::<512>::new();
        line(&sup, &cfg, 0, T0 + ms(100), w, &mut b);
        line(&sup, &cfg, 1, T0 + ms(100), w, &mut b);
        let t = text(&b);
        assert!(t.contains("a     failed"), "{t}");
        assert!(t.contains("exit:1"), "{t}");
        assert!(t.contains("blocked: a failed"), "{t}");

        let cfg = config(&[def()]);
        let mut sup = Supervisor::new();
        sup.load(&cfg);
        let mut out = Actions::new();
        sup.settle(&cfg, T0, &mut out);
        sup.spawned(&cfg, 0, 0, Err(("exec", 2)), T0, &mut out);
        let mut b = Buf::<512>::new();
        line(&sup, &cfg, 0, T0 + ms(30), 6, &mut b);
        assert_eq!(text(&b), "a     backoff   -       -       0         -         start in 70ms, exec: ENOENT (errno 2)\n");
    }
}
