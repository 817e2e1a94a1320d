//! The control socket's client slots as data: what each connection is
//! doing (its `Job`), which slot a new connection takes, the capacity kept
//! for one-shot requests, deadlines, and the lines offered to followers.
//! The server (verbs/control/) does the I/O. No syscalls.

use crate::duration::{Duration, Instant};
use crate::limits::{
    MAX_CLIENTS, MAX_LONG_CLIENTS, REPLY_CHUNK_BYTES, REQUEST_BYTES, REQUEST_TIMEOUT_MS, RESERVED_CLIENTS, WRITE_TIMEOUT_MS,
};
use crate::ring::{STAMP_BYTES, Stamp};
use crate::text::Buf;

// One-shot requests always find a slot that no long job can hold.
const _: () = assert!(RESERVED_CLIENTS >= 1 && MAX_LONG_CLIENTS + RESERVED_CLIENTS == MAX_CLIENTS);

/// `Job::Follow` of every service.
pub const ALL: u8 = u8::MAX;

/// What a client's connection is doing.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Job {
    #[default]
    Free,
    /// Waiting for a whole request line.
    Read,
    /// Streaming status lines from slot `next`.
    Status { next: u8, mask: u64, width: u8, json: bool, long: bool },
    /// Streaming log lines from `seq`.
    Log { id: u8, seq: u64 },
    /// `svc log -f`: ring lines from `seq` until caught up, then `live`:
    /// new lines of service `id` (ALL: every service) as they come.
    Follow { id: u8, seq: u64, live: bool, lost: u32 },
    /// `svc stop`: the head goes out once every slot in `mask` is down.
    WaitDown { mask: u64 },
    /// `svc reload`: the head goes out once every restart has an outcome.
    WaitReload,
    /// `svc upgrade`: the head goes out once upgrade number `seq` of slot
    /// `id` has an outcome (with `all`, once its old instance is gone too).
    WaitUpgrade { id: u8, seq: u8, all: bool },
    /// `svc signal`: the head goes out once the kill is done.
    WaitSignal,
    /// Streaming the reload's steps from `next` (with outcomes after a wait).
    Plan { next: u8, outcome: bool },
    /// Streaming the errors of a config that did not load.
    Errors { next: u8 },
    /// Streaming a log file from `offset` (the server holds the file); then,
    /// with `follow` (the slot), new lines.
    File { offset: u64, follow: u8 },
    /// `svc reexec`: the reply waits for the probe, and comes from the new image.
    WaitReexec,
    /// Sending what is left in `out`, then closing.
    Close,
}

impl Job {
    /// A job that may last for as long as its client likes: following, a
    /// stop or reload waiting for services, a file of any size. These share
    /// MAX_LONG_CLIENTS slots, so that one-shot requests always find one.
    pub fn is_long(self) -> bool {
        matches!(self, Job::Follow { .. } | Job::WaitDown { .. } | Job::WaitReload | Job::WaitUpgrade { .. } | Job::File { .. })
    }
}

/// In this order (`repr(C)`): the head, then the reply buffer, then the
/// request's, so that a short request and its reply touch one page.
#[derive(Default)]
#[repr(C)]
pub struct Client {
    /// The client's index in the fd table.
    pub fd: u16,
    /// `out` waits for the client to read (the server watches for room).
    pub writing: bool,
    pub job: Job,
    /// Read: when the whole request must be in. Otherwise, while `writing`:
    /// when the stalled reply is dropped unless the reader takes a byte.
    pub deadline: Option<Instant>,
    pub out: Buf<REPLY_CHUNK_BYTES>,
    pub input: Buf<REQUEST_BYTES>,
    /// The peer is root or svc's own user (SO_PEERCRED at accept).
    pub owner: bool,
}

impl Client {
    /// Makes the slot a new connection (fd table index `fd`) that waits for its request.
    pub fn open(&mut self, fd: u16, now: Instant) {
        self.free();
        self.fd = fd;
        self.job = Job::Read;
        self.deadline = Some(now + Duration::from_millis(REQUEST_TIMEOUT_MS));
    }
    /// Empties the slot (its buffers only forget their bytes).
    pub fn free(&mut self) {
        self.job = Job::Free;
        self.deadline = None;
        self.input.clear();
        self.out.clear();
        self.writing = false;
    }
    /// The request is in; the reply is `job`.
    pub fn start(&mut self, job: Job) {
        self.job = job;
        self.deadline = None;
    }
    /// A write would block. A reply starts its clock at the first stall; a
    /// follower has none, since it may wait for lines as long as it likes.
    pub fn stalled(&mut self, now: Instant) {
        self.writing = true;
        if self.deadline.is_none() && !matches!(self.job, Job::Follow { .. }) {
            self.deadline = Some(now + Duration::from_millis(WRITE_TIMEOUT_MS));
        }
    }
    /// The client took some bytes: its clock stops.
    pub fn progressed(&mut self) {
        if !matches!(self.job, Job::Read) {
            self.deadline = None;
        }
    }
    /// A reply whose reader has not read for a while.
    fn is_stalled(&self) -> bool {
        self.writing && self.deadline.is_some()
    }
}

/// Where a new connection goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Place {
    Free(usize),
    /// Every slot is taken: this one is dropped to make room.
    Evict(usize),
    /// Every slot holds a long job or a live reply.
    Busy,
}

pub struct Clients {
    pub list: [Client; MAX_CLIENTS],
}

impl Clients {
    pub const fn new() -> Self {
        const C: Client =
            Client { fd: 0, deadline: None, input: Buf::new(), out: Buf::new(), job: Job::Free, writing: false, owner: false };
        Clients { list: [C; MAX_CLIENTS] }
    }
    /// A free slot; with none, the oldest connection that has not sent a
    /// whole request, else the reply that has been stalled longest (which
    /// only long jobs cannot be, as they have their own share of slots).
    pub fn place(&self) -> Place {
        // The oldest reading and the oldest stalled (the first on a tie),
        // in one pass.
        type Oldest = Option<(usize, Option<Instant>)>;
        let (mut reading, mut stalled): (Oldest, Oldest) = (None, None);
        for (i, c) in self.list.iter().enumerate() {
            let best = match c.job {
                Job::Free => return Place::Free(i),
                Job::Read => &mut reading,
                _ if c.is_stalled() => &mut stalled,
                _ => continue,
            };
            if best.is_none_or(|(_, d)| c.deadline < d) {
                *best = Some((i, c.deadline));
            }
        }
        reading.or(stalled).map_or(Place::Busy, |(i, _)| Place::Evict(i))
    }
    /// Whether one more long job fits in its share of the slots.
    pub fn may_wait(&self) -> bool {
        self.list.iter().filter(|c| c.job.is_long()).count() < MAX_LONG_CLIENTS
    }
    /// The earliest deadline: a request due, or a stalled reply's last chance.
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut next = None;
        for c in self.list.iter().filter(|c| !matches!(c.job, Job::Free)) {
            next = crate::service::earliest(next, c.deadline);
        }
        next
    }
    /// Whether slot `c` is past its deadline.
    pub fn expired(&self, c: usize, now: Instant) -> bool {
        self.list.get(c).is_some_and(|cl| !matches!(cl.job, Job::Free) && cl.deadline.is_some_and(|d| d <= now))
    }
}

/// Offers a new log line of service `id` to every follower. One that has no
/// room loses it, counted: a slow follower never slows svc down.
pub fn publish(clients: &mut Clients, id: u8, name: &[u8], stamp: Stamp, line: &[u8]) {
    for cl in clients.list.iter_mut() {
        let Job::Follow { id: want, live: true, lost, .. } = &mut cl.job else { continue };
        if *want != ALL && *want != id {
            continue;
        }
        let all = *want == ALL;
        // Stamp, blank, [NAME: ], text, newline; and room for a lost-lines marker.
        let need = STAMP_BYTES + 2 + line.len() + if all { name.len() + 2 } else { 0 } + if *lost > 0 { 32 } else { 0 };
        if need > cl.out.room() {
            *lost = lost.saturating_add(1);
            continue;
        }
        lost_marker(lost, &mut cl.out);
        let _ = ufmt::uwrite!(cl.out, "{} ", stamp);
        if all {
            cl.out.push(name);
            cl.out.push(b": ");
        }
        cl.out.push(line);
        cl.out.push(b"\n");
    }
}

/// Writes `svc: N lines lost` when lines were lost, and starts counting afresh.
pub fn lost_marker(lost: &mut u32, out: &mut Buf<REPLY_CHUNK_BYTES>) {
    if *lost > 0 {
        let _ = ufmt::uwrite!(out, "svc: {} lines lost\n", *lost);
        *lost = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const T0: Instant = Instant::from_millis(1_000_000);
    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }
    fn follow(id: u8) -> Job {
        Job::Follow { id, seq: 0, live: true, lost: 0 }
    }
    fn text(b: &Buf<REPLY_CHUNK_BYTES>) -> std::string::String {
        std::string::String::from_utf8(b.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn placing_connections() {
        let mut cs = Clients::new();
        // Connections arrive 10 ms apart and fill the table.
        for i in 0..MAX_CLIENTS {
            let Place::Free(c) = cs.place() else { panic!("slot {i}") };
            assert_eq!(c, i);
            cs.list[c].open(c as u16, T0 + ms(10 * i as u64));
        }
        // Full: the oldest that has not sent its request makes room.
        assert_eq!(cs.place(), Place::Evict(0));
        cs.list[0].start(Job::Status { next: 0, mask: 1, width: 4, json: false, long: false });
        assert_eq!(cs.place(), Place::Evict(1));
        // Every slot has its request: long jobs in their share, replies in the rest.
        for (c, cl) in cs.list.iter_mut().enumerate() {
            cl.start(if c < MAX_LONG_CLIENTS { follow(0) } else { Job::Log { id: 0, seq: 0 } });
        }
        assert!(!cs.may_wait());
        assert_eq!(cs.place(), Place::Busy);
        // A reply that stalls can be dropped for a new request; the one stalled longest goes.
        let (a, b) = (MAX_LONG_CLIENTS, MAX_CLIENTS - 1);
        cs.list[b].stalled(T0);
        cs.list[a].stalled(T0 + ms(5));
        assert_eq!(cs.place(), Place::Evict(b));
        // A stalled follower is never dropped for room, nor on a clock.
        cs.list[0].stalled(T0);
        assert_eq!(cs.list[0].deadline, None);
        cs.list[b].progressed();
        assert_eq!(cs.place(), Place::Evict(a));
        cs.list[b].free();
        assert_eq!(cs.place(), Place::Free(b));
    }

    #[test]
    fn long_jobs_keep_their_share() {
        let mut cs = Clients::new();
        let long = [follow(ALL), Job::WaitDown { mask: 1 }, Job::WaitReload, Job::File { offset: 0, follow: ALL }];
        for i in 0..MAX_LONG_CLIENTS {
            assert!(cs.may_wait(), "{i}");
            cs.list[i].open(i as u16, T0);
            cs.list[i].start(long[i % long.len()]);
        }
        assert!(!cs.may_wait());
        // One-shot jobs do not count.
        for c in MAX_LONG_CLIENTS..MAX_CLIENTS {
            cs.list[c].open(c as u16, T0);
            cs.list[c].start(Job::Close);
        }
        assert!(!cs.may_wait());
        cs.list[0].free();
        assert!(cs.may_wait());
        for j in
            [Job::Free, Job::Read, Job::Log { id: 0, seq: 0 }, Job::Plan { next: 0, outcome: true }, Job::Errors { next: 0 }, Job::Close]
        {
            assert!(!j.is_long(), "{j:?}");
        }
    }

    #[test]
    fn deadlines() {
        let mut cs = Clients::new();
        assert_eq!(cs.next_deadline(), None);
        cs.list[0].open(3, T0);
        let due = T0 + ms(REQUEST_TIMEOUT_MS);
        assert_eq!(cs.next_deadline(), Some(due));
        assert!(!cs.expired(0, T0 + ms(REQUEST_TIMEOUT_MS - 1)) && cs.expired(0, due));
        // The request is in: no clock while the reply flows.
        cs.list[0].start(Job::Log { id: 0, seq: 0 });
        assert_eq!(cs.next_deadline(), None);
        // Stalled at T0+1s, again at T0+2s: the clock runs from the first stall.
        cs.list[0].stalled(T0 + ms(1000));
        cs.list[0].stalled(T0 + ms(2000));
        let due = T0 + ms(1000 + WRITE_TIMEOUT_MS);
        assert_eq!(cs.next_deadline(), Some(due));
        assert!(cs.expired(0, due));
        // A byte taken restarts it at the next stall.
        cs.list[0].progressed();
        assert_eq!(cs.next_deadline(), None);
        cs.list[0].stalled(T0 + ms(3000));
        assert_eq!(cs.next_deadline(), Some(T0 + ms(3000 + WRITE_TIMEOUT_MS)));
        // Reading a request is no progress of a reply.
        cs.list[1].open(4, T0);
        cs.list[1].progressed();
        assert_eq!(cs.list[1].deadline, Some(T0 + ms(REQUEST_TIMEOUT_MS)));
        cs.list[1].free();
        cs.list[0].free();
        assert_eq!(cs.next_deadline(), None);
    }

    #[test]
    fn followers_get_lines_or_count_them_lost() {
        let mut cs = Clients::new();
        cs.list[0].start(follow(2));
        cs.list[1].start(follow(ALL));
        cs.list[2].start(Job::Follow { id: 2, seq: 0, live: false, lost: 0 });
        cs.list[3].start(Job::Log { id: 2, seq: 0 });
        publish(&mut cs, 2, b"web", Stamp(0), b"hello");
        publish(&mut cs, 5, b"db", Stamp(0), b"other");
        let stamp = "1970-01-01T00:00:00.000Z";
        assert_eq!(text(&cs.list[0].out), format!("{stamp} hello\n"));
        assert_eq!(text(&cs.list[1].out), format!("{stamp} web: hello\n{stamp} db: other\n"));
        // Catching up from the ring, or not a follower: nothing offered.
        assert!(cs.list[2].out.is_empty() && cs.list[3].out.is_empty());
        // A follower whose buffer is full loses lines, counted, then hears of it.
        let long = [b'x'; 1000];
        let mut n = 0;
        while cs.list[0].out.room() > 1000 + STAMP_BYTES + 2 {
            publish(&mut cs, 2, b"web", Stamp(0), &long);
            n += 1;
        }
        assert!(n > 0);
        publish(&mut cs, 2, b"web", Stamp(0), &long);
        publish(&mut cs, 2, b"web", Stamp(0), &long);
        assert_eq!(cs.list[0].job, Job::Follow { id: 2, seq: 0, live: true, lost: 2 });
        cs.list[0].out.clear();
        publish(&mut cs, 2, b"web", Stamp(0), b"back");
        assert_eq!(text(&cs.list[0].out), format!("svc: 2 lines lost\n{stamp} back\n"));
        assert_eq!(cs.list[0].job, follow(2));
    }
}
