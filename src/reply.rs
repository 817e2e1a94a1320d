//! Streamed reply bodies: the next chunk of a status, a log, a reload's
//! plan or a config's errors, assembled from svc's data into a client's
//! buffer, whole lines only, resuming where the last chunk stopped. (A log
//! file is read by the server itself.) No syscalls.

use crate::clients::{Job, lost_marker};
use crate::config::Located;
use crate::duration::Instant;
use crate::limits::REPLY_CHUNK_BYTES;
use crate::order::bit;
use crate::reload::{Change, Plan, ones};
use crate::ring::{Ring, STAMP_BYTES};
use crate::service::Upgrade;
use crate::status;
use crate::supervisor::Supervisor;
use crate::text::Buf;

/// What replies are made of, borrowed from svc's state for one refill.
pub struct Data<'a> {
    pub sup: &'a Supervisor,
    pub now: Instant,
    /// Each slot's ring, and the pool they live in.
    pub rings: &'a [Option<Ring>],
    pub pool: &'a [u8],
    /// Lines each slot's log target dropped.
    pub drops: &'a [u32],
    /// The last reload's steps, and the config it replaced (for the
    /// addresses of the sockets it closed).
    pub plan: &'a Plan,
    pub old: &'a crate::config::Config,
    /// The config file that failed to load: its path, text and errors.
    pub path: &'a [u8],
    pub text: &'a [u8],
    pub errors: &'a [Located],
}

type Out = Buf<REPLY_CHUNK_BYTES>;

/// The `k`th socket change of the last reload.
fn socket_line(d: &Data, k: usize, line: &mut crate::text::Out) {
    // The k-th set bit: k lowest ones cleared, then the lowest left.
    let nth = |mut mask: u64, k: usize| {
        for _ in 0..k {
            mask &= mask.wrapping_sub(1);
        }
        (mask != 0).then_some(mask.trailing_zeros() as usize)
    };
    let bound = ones(d.plan.bound);
    let (word, cfg, n) = match k.checked_sub(bound) {
        None => ("bound", &d.sup.cfg, nth(d.plan.bound, k)),
        Some(k) => ("closed", d.old, nth(d.plan.closed, k)),
    };
    let Some(l) = n.and_then(|n| cfg.listens.get(n)) else { return };
    line.pad(word, 10);
    line.push(cfg.str(l.addr));
    line.push(b"\n");
}

/// Fills `out` from `job` and moves the job on (to `Close` when its body is
/// all out); false when the job has nothing to add now.
pub fn refill(job: &mut Job, d: &Data, out: &mut Out) -> bool {
    match *job {
        Job::Status { next, mask, width, json, long } => {
            let total = d.sup.svcs.len();
            let next = lines(next, total, out, |i, line| {
                if mask & bit(i) != 0 {
                    let drops = d.drops.get(i).copied().unwrap_or(0);
                    if json {
                        status::json_line(d.sup, i, d.now, drops, line);
                    } else {
                        status::line(d.sup, i, d.now, usize::from(width), drops, line);
                        if long {
                            status::sockets_line(d.sup, i, line);
                        }
                    }
                }
            });
            *job = if usize::from(next) >= total { Job::Close } else { Job::Status { next, mask, width, json, long } };
        }
        Job::Plan { next, outcome } => {
            let steps = d.plan.steps.len();
            // Then the sockets it bound and closed: `bound  ADDRESS`, `closed ADDRESS`.
            let total = steps + if outcome { ones(d.plan.bound) + ones(d.plan.closed) } else { 0 };
            let next = lines(next, total, out, |i, line| {
                if i >= steps {
                    socket_line(d, i - steps, line);
                    return;
                }
                let Some(step) = d.plan.steps.get(i) else { return };
                let shows = outcome && matches!(step.change, Change::Added | Change::Restarted);
                let s = if shows { d.sup.find(step.name()).and_then(|i| d.sup.svcs.get(usize::from(i))) } else { None };
                // A restart done as an upgrade says how it went.
                let word = match s.map(|s| s.upgrade) {
                    Some(Upgrade::Upgraded { .. }) if step.upgrade => "upgraded",
                    Some(Upgrade::Failed { .. }) if step.upgrade => "rollback",
                    _ => step.change.word(),
                };
                line.pad(word, 10);
                line.push(step.name());
                if let Some(s) = s {
                    let _ = ufmt::uwrite!(line, " {}", s.state());
                    if let (Upgrade::Failed { exit }, true) = (s.upgrade, step.upgrade) {
                        line.push(b" (upgrade failed: ");
                        status::failure(exit, line);
                        line.push(b")");
                    }
                }
                line.push(b"\n");
            });
            *job = if usize::from(next) >= total { Job::Close } else { Job::Plan { next, outcome } };
        }
        Job::Errors { next } => {
            let total = d.errors.len();
            let next = lines(next, total, out, |i, line| {
                if let Some(e) = d.errors.get(i) {
                    crate::config::emit(d.path, d.text, e, line);
                }
            });
            *job = if usize::from(next) >= total { Job::Close } else { Job::Errors { next } };
        }
        Job::Log { id, seq } => {
            let Some(Some(r)) = d.rings.get(usize::from(id)) else {
                *job = Job::Close;
                return false;
            };
            let seq = drain(r, d.pool, seq, out);
            *job = if seq >= r.next_seq() { Job::Close } else { Job::Log { id, seq } };
        }
        Job::Follow { id, seq, live: false, lost } => {
            let Some(Some(r)) = d.rings.get(usize::from(id)) else {
                *job = Job::Follow { id, seq, live: true, lost };
                return false;
            };
            let seq = drain(r, d.pool, seq, out);
            *job = Job::Follow { id, seq, live: seq >= r.next_seq(), lost };
        }
        Job::Follow { id, seq, live: true, mut lost } if lost > 0 => {
            lost_marker(&mut lost, out);
            *job = Job::Follow { id, seq, live: true, lost };
        }
        _ => return false,
    }
    true
}

/// Appends items `next..total`, each made by `item` (into a line buffer; an
/// empty line is skipped), while whole ones fit; the item to go on from.
fn lines(mut next: u8, total: usize, out: &mut Out, mut item: impl FnMut(usize, &mut Buf<1024>)) -> u8 {
    while usize::from(next) < total {
        // A JSON line with a pinned release's two paths may pass 512 bytes.
        let mut line = Buf::<1024>::new();
        item(usize::from(next), &mut line);
        if line.len() > out.room() {
            break;
        }
        out.push(line.as_bytes());
        next += 1;
    }
    next
}

/// Copies whole ring lines from `seq` into `out` while they fit, as
/// `STAMP LINE`; the seq to go on from.
pub fn drain(r: &Ring, pool: &[u8], mut seq: u64, out: &mut Out) -> u64 {
    for l in r.lines(pool, seq) {
        // A whole line or none: stamp, blank, text, newline.
        if STAMP_BYTES + 2 + l.len() > out.room() {
            break;
        }
        let _ = ufmt::uwrite!(out, "{} ", l.stamp);
        out.push(l.first);
        out.push(l.second);
        out.push(b"\n");
        seq = l.seq + 1;
    }
    seq
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::{Area, Stamp};
    use crate::supervisor::tests::{T0, W, config, def};
    use std::string::String;
    use std::vec::Vec;

    fn data<'a>(sup: &'a Supervisor, rings: &'a [Option<Ring>], pool: &'a [u8], plan: &'a Plan) -> Data<'a> {
        Data { sup, now: T0, rings, pool, drops: &[], plan, old: &sup.cfg, path: b"", text: b"", errors: &[] }
    }

    /// Runs `job` to its end as the server would, each chunk sent whole;
    /// the chunks.
    fn stream(mut job: Job, d: &Data) -> Vec<String> {
        let mut chunks = Vec::new();
        for _ in 0..1000 {
            let mut out = Out::new();
            let more = refill(&mut job, d, &mut out);
            assert!(!out.was_cut());
            if !out.is_empty() {
                assert!(out.as_bytes().ends_with(b"\n"), "a chunk ends inside a line");
                chunks.push(String::from_utf8(out.as_bytes().to_vec()).unwrap());
            }
            if job == Job::Close || !more {
                return chunks;
            }
        }
        panic!("the job never ended: {job:?}");
    }

    #[test]
    fn status_streams_whole_lines_of_the_mask() {
        let sup = W::with(&config(&[def(); 60])).sup;
        let plan = Plan::new();
        let d = data(&sup, &[], &[], &plan);
        for (mask, json) in [(u64::MAX, false), (u64::MAX, true), (0b1010_0001, false)] {
            let chunks = stream(Job::Status { next: 0, mask, width: 6, json, long: false }, &d);
            let mut want = String::new();
            for i in (0..60).filter(|i| mask & 1 << i != 0) {
                let mut b = Buf::<512>::new();
                if json {
                    status::json_line(&sup, i, T0, 0, &mut b);
                } else {
                    status::line(&sup, i, T0, 6, 0, &mut b);
                }
                want.push_str(core::str::from_utf8(b.as_bytes()).unwrap());
            }
            assert!(mask != u64::MAX || chunks.len() > 1, "60 services fit one chunk: the test tests nothing");
            assert_eq!(chunks.concat(), want);
        }
    }

    #[test]
    fn config_errors_stream_whole() {
        use crate::config::{Error, Span};
        let sup = W::with(&config(&[def()])).sup;
        let plan = Plan::new();
        let errors: Vec<Located> = (1..=32)
            .map(|line| Located {
                line,
                section: Span::default(),
                span: Span::default(),
                error: Error::ConfigTooBig,
                file_line: 0,
                hint: None,
            })
            .collect();
        let path = format!("/etc/{}/svc.conf", "long".repeat(20));
        let d = Data { path: path.as_bytes(), errors: &errors, ..data(&sup, &[], &[], &plan) };
        let chunks = stream(Job::Errors { next: 0 }, &d);
        assert!(chunks.len() > 1);
        let mut want = Buf::<8192>::new();
        for e in errors.iter() {
            crate::config::emit(path.as_bytes(), b"", e, &mut want);
        }
        assert_eq!(chunks.concat().as_bytes(), want.as_bytes());
    }

    #[test]
    fn logs_stream_then_followers_go_live() {
        let mut pool = [0u8; 8 * 1024];
        let mut ring = Ring::new(Area { first_block: 0, blocks: 8 });
        let mut want = String::new();
        for i in 0..100u64 {
            let line = format!("line {i} {}", "x".repeat(40));
            ring.push(&mut pool, Stamp(i), line.as_bytes());
            let mut b = Buf::<64>::new();
            let _ = ufmt::uwrite!(b, "{} ", Stamp(i));
            want += core::str::from_utf8(b.as_bytes()).unwrap();
            want += &line;
            want += "\n";
        }
        let rings = [None, Some(ring)];
        let sup = W::with(&config(&[def(), def()])).sup;
        let plan = Plan::new();
        let d = data(&sup, &rings, &pool, &plan);
        // The whole ring, in more than one chunk; the last 3 lines.
        let all = stream(Job::Log { id: 1, seq: ring.first_seq() }, &d);
        assert!(all.len() > 1);
        assert_eq!(all.concat(), want);
        let last = stream(Job::Log { id: 1, seq: ring.seq_of_last(3) }, &d).concat();
        assert_eq!(last.lines().collect::<Vec<_>>(), want.lines().skip(97).collect::<Vec<_>>());
        // No ring: nothing, closed.
        let mut job = Job::Log { id: 0, seq: 0 };
        assert!(!refill(&mut job, &d, &mut Out::new()));
        assert_eq!(job, Job::Close);
        // A follower catches up from the ring, chunk by chunk, then is live.
        let mut job = Job::Follow { id: 1, seq: ring.seq_of_last(50), live: false, lost: 0 };
        let mut got = String::new();
        while let Job::Follow { live: false, .. } = job {
            let mut out = Out::new();
            assert!(refill(&mut job, &d, &mut out));
            got += core::str::from_utf8(out.as_bytes()).unwrap();
        }
        assert_eq!(job, Job::Follow { id: 1, seq: ring.next_seq(), live: true, lost: 0 });
        assert_eq!(got.lines().count(), 50);
        // Live: nothing to add until lines are lost; then the marker, once.
        assert!(!refill(&mut job, &d, &mut Out::new()));
        let mut job = Job::Follow { id: 1, seq: 0, live: true, lost: 4 };
        let mut out = Out::new();
        assert!(refill(&mut job, &d, &mut out));
        assert_eq!(out.as_bytes(), b"svc: 4 lines lost\n");
        assert!(!refill(&mut job, &d, &mut out));
    }
}
