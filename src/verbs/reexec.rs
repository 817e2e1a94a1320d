//! `svc reexec`: svc replaces its own binary and keeps every service. The
//! target is checked (an ELF binary for this machine), then probed (`TARGET
//! reexec --state FD` must decode the whole state and exit `PROBED` within
//! 5 s: exit 0, as /bin/true's, proves nothing),
//! then the state is written afresh and svc execs `TARGET up --state FD -c
//! CONFIG`, keeping the fds of its table; the new image adopts what checks
//! out (`adopt`) and answers the client that asked. When the new image
//! cannot read the state, it recovers as after a crash (recover.rs).

use crate::clients::Job;
use crate::duration::{Duration, Instant};
use crate::limits::*;
use crate::os::event::{Events, Interest};
use crate::os::{self, reexec as sys};
use crate::proto::{EXIT_FAIL, EXIT_OK};
use crate::service::{Exit, InstPhase, Upgrade};
use crate::signame;
use crate::state::{self, Fd, Parts};
use crate::supervisor::Event as SupEvent;
use crate::text::{Buf, Errno};
use crate::verbs::check::Parser;
use crate::verbs::world::{Role, World};
use crate::verbs::{control, recover};
use rustix::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// How long the probe may take.
const PROBE_MS: u64 = 5_000;

/// The probe's exit when it decoded the whole state: the only one taken
/// (not 0, 1, 126 or 127, which any program or the exec may give).
pub const PROBED: u8 = 93;

/// A reexec under way, and what the handoff needs, in World.
pub struct Reexec {
    /// The probe's pid (0: none runs; kept until its exit is acted on),
    /// its deadline (None once it was killed) and its exit, acted on once
    /// the loop's actions are done.
    pub probe: i32,
    pub deadline: Option<Instant>,
    pub exited: bool,
    pub exit: Exit,
    /// The control client that asked, + 1 (0: none, as for SIGQUIT).
    pub client: u8,
    /// The binary: a request's (control.rs puts it here), else empty for
    /// the one svc runs.
    pub target: Buf<PATH_BYTES>,
    pub meta: state::Meta,
    pub fds: state::Fds,
    pub starts: [state::Starts; MAX_SERVICES],
}

impl Reexec {
    pub const fn new() -> Self {
        Reexec {
            probe: 0,
            deadline: None,
            exited: false,
            exit: Exit::Code(0),
            client: 0,
            target: Buf::new(),
            meta: state::Meta::new(),
            fds: state::Fds::new(),
            starts: [[0; MAX_INSTANCES]; MAX_SERVICES],
        }
    }
}

/// The role of an fd-table entry as the state's number: a kind (0: not
/// handed over), its first and second byte above it; and back.
fn role_code(r: Role) -> u32 {
    let (kind, a, b) = match r {
        Role::Control => (1, 0, 0),
        Role::Client(c) => (2, c, 0),
        Role::Log { id, inst } => (3, id, inst),
        Role::Ready { id, inst } => (4, id, inst),
        Role::Notify { id, inst } => (5, id, inst),
        Role::Probe { id, inst } => (6, id, inst),
        Role::Listen { n } => (7, n, 0),
        _ => (0, 0, 0),
    };
    u32::from_le_bytes([kind, a, b, 0])
}

#[cfg_attr(target_arch = "x86", inline(never))]
fn role_of(code: u32) -> Role {
    let [kind, a, b, _] = code.to_le_bytes();
    let (id, inst) = (a, b);
    match kind {
        1 => Role::Control,
        2 => Role::Client(a),
        3 => Role::Log { id, inst },
        4 => Role::Ready { id, inst },
        5 => Role::Notify { id, inst },
        6 => Role::Probe { id, inst },
        7 => Role::Listen { n: a },
        _ => Role::Free,
    }
}

/// Whether an fd of role `code` (role_code) goes to the new image:
/// everything but what svc makes afresh, and of the clients only the one
/// that asked and the followers, by their job (as the state keeps them):
/// a connection that took the slot of an asker gone meanwhile stays.
fn kept(w: &World, code: u32) -> bool {
    let [kind, a, ..] = code.to_le_bytes();
    match kind {
        2 => w.clients.list.get(usize::from(a)).is_some_and(|cl| matches!(cl.job, Job::Follow { .. } | Job::WaitReexec)),
        k => k != 0,
    }
}

/// Something a reexec must not cut short (an upgrade, a stop, a waiting
/// reload, a shutdown, the emergency shell): why, pushed to `m`.
fn busy(w: &World, m: &mut Buf<256>) -> bool {
    for (id, s) in w.sup.svcs.iter().enumerate() {
        let stopping = s.inst.iter().flatten().any(|i| matches!(i.phase, InstPhase::Stopping { .. } | InstPhase::Lingering { .. }));
        let what: &[u8] = match s.upgrade {
            // Once upgraded, the old instance's drain is a stop.
            Upgrade::Running { .. } => b"busy: upgrading ",
            _ if stopping => b"busy: stopping ",
            _ => continue,
        };
        m.push(what);
        m.push(w.sup.name(id));
        return true;
    }
    let waiting = w.clients.list.iter().any(|c| matches!(c.job, Job::WaitDown { .. } | Job::WaitReload | Job::WaitUpgrade { .. }));
    let busy = w.reexec.probe != 0 || waiting || w.sup.shutdown || w.power != 0 || !w.shell_path.is_empty();
    if busy {
        m.push(b"busy: a reexec, stop, reload, upgrade, shutdown or emergency is under way");
    }
    busy
}

/// The parts of World the state is made of, with the config's parser
/// (built in one place for encode and decode).
#[inline(never)]
fn parts(w: &mut World) -> (Parts<'_>, Parser<'_>) {
    let World { sup, logs, clients, reexec, loader, .. } = w;
    let (text, text_len, parser) = loader.kept();
    let p = Parts {
        meta: &mut reexec.meta,
        sup,
        text,
        text_len,
        pool: &mut logs.pool,
        blocks: &mut logs.blocks,
        rings: &mut logs.rings,
        asm: &mut logs.asm,
        drops: &mut logs.drops,
        probes: &mut logs.probes,
        probe_fresh: &mut logs.probe_fresh,
        clients,
        fds: &mut reexec.fds,
        starts: &mut reexec.starts,
    };
    (p, parser)
}

/// What an fd handed over is checked against: the device and inode of
/// what it is open on (the device, 32 bits in the kernel, in the top half)
/// and whether it listens (SO_ACCEPTCONN, the top bit), so that it is the
/// same file as before, and a listener still listens.
// st_dev's and st_ino's types differ between targets.
#[allow(clippy::unnecessary_cast)]
#[inline(never)]
fn identity(fd: BorrowedFd) -> u64 {
    let id = os::stat::fstat(fd).map_or(0, |st| (st.st_dev as u64) << 32 ^ st.st_ino as u64);
    id ^ u64::from(sys::listening(fd)) << 63
}

/// Writes the state into a new state file; its fd, or why not.
#[inline]
fn save(w: &mut World) -> Result<OwnedFd, &'static str> {
    let r = &mut w.reexec;
    r.meta.build.clear();
    r.meta.build.push(env!("SVC_BUILD_ID").as_bytes());
    r.meta.asker = r.client;
    r.fds.clear();
    for k in 0..MAX_FDS {
        let role = role_code(w.fds.role(k));
        let Some(fd) = w.fds.fd(k).filter(|_| kept(w, role)) else { continue };
        let file = w.socks.files.get(k).copied().unwrap_or((0, 0));
        let _ = w.reexec.fds.push(Fd { num: fd.as_raw_fd(), role, id: identity(fd), file });
    }
    for (s, starts) in w.sup.svcs.iter().zip(w.reexec.starts.iter_mut()) {
        for (i, t) in s.inst.iter().zip(starts) {
            *t = i.as_ref().filter(|i| i.pid > 0).and_then(|i| os::proc::stat(i.pid)).map_or(0, |st| st.start as u32);
        }
    }
    // The fallback's place: the control socket's directory.
    let n = w.notify_dir.as_bytes();
    let mut dir = [0u8; PATH_BYTES];
    let dir = os::fd::cpath(n.get(..n.iter().rposition(|&b| b == b'/').unwrap_or(0)).unwrap_or(b""), &mut dir).unwrap_or(c"/");
    let fail = "cannot write the state file";
    let file = sys::state_file(dir).map_err(|_| fail)?;
    rustix::fs::ftruncate(os::fd::borrowed(&file), STATE_BYTES as u64).map_err(|_| fail)?;
    let mut map = sys::Map::new(os::fd::borrowed(&file), STATE_BYTES).ok_or(fail)?;
    let len = state::encode(&mut parts(w).0, map.bytes());
    drop(map);
    let len = len.map_err(state::Error::text)?;
    rustix::fs::ftruncate(os::fd::borrowed(&file), len as u64).map_err(|_| fail)?;
    Ok(file)
}

/// Close-on-exec on (`on`) or off for the fds handed over.
fn cloexec(w: &World, on: bool) {
    for f in w.reexec.fds.iter() {
        os::crash::cloexec(f.num, on);
    }
}

/// Writes the state afresh and runs the target on it: the probe (a child,
/// `reexec --state FD`; its pid), or in svc's place (`up --state FD -c
/// CONFIG`, keeping the fds of the table, the fallback's too should the
/// state not be read: returns only when that failed). None: why in `m`,
/// and everything as it was.
#[inline(never)]
fn launch(w: &mut World, probe: bool, m: &mut Buf<256>) -> Option<i32> {
    let mut p = [0u8; PATH_BYTES];
    let path = os::fd::cpath(w.reexec.target.as_bytes(), &mut p).unwrap_or(c"");
    head(m, &w.reexec.target);
    // Before it runs: an ELF binary for this machine.
    if probe && let Some(why) = sys::elf_mismatch(path) {
        m.push(why.as_bytes());
        return None;
    }
    let file = match save(w) {
        Ok(f) => f,
        Err(why) => {
            m.push(why.as_bytes());
            return None;
        }
    };
    let fd = file.as_raw_fd();
    // Kept open across the exec: the state.
    os::crash::cloexec(fd, false);
    if !probe {
        cloexec(w, false);
    }
    let mut n = Buf::<16>::new();
    let _ = ufmt::uwrite!(n, "{}\0", fd);
    let verb = if probe { c"reexec" } else { c"up" };
    let r = sys::run(path, &os::crash::argv(verb, c"--state", n.as_bytes()), probe);
    cloexec(w, true);
    match r {
        Ok(pid) => return Some(pid),
        Err(_) if probe => m.push(b"cannot fork the probe"),
        Err(e) => {
            let _ = ufmt::uwrite!(m, "exec: {}", Errno(e.raw_os_error()));
        }
    }
    None
}

/// Begins a reexec for control client `client` (None: SIGQUIT to svc as
/// PID 1, as busybox init re-executes itself) to the binary its request
/// named, else the one svc runs: runs the probe; the exec follows its
/// success (`tick`). A refusal is said, and answered: nothing changed.
pub fn start(w: &mut World, ev: &Events, client: Option<usize>, now: Instant) {
    let c = client.map_or(0, |c| c as u8 + 1);
    let mut m = Buf::<256>::new();
    if !busy(w, &mut m) {
        let r = &mut w.reexec;
        if client.is_none() {
            r.target.clear();
        }
        if r.target.is_empty() {
            os::proc::exe(&mut r.target);
        }
        r.client = c;
        if let Some(pid) = launch(w, true, &mut m) {
            w.reexec.probe = pid;
            w.reexec.deadline = Some(now + Duration::from_millis(PROBE_MS));
            return;
        }
        w.reexec.client = 0;
    }
    refuse(w, ev, c, m.as_bytes(), now);
}

/// `reexec: TARGET: `, which every refusal begins with.
#[inline(never)]
fn head(m: &mut Buf<256>, target: &Buf<PATH_BYTES>) {
    m.push_all(&[b"reexec: ", target.as_bytes(), b": "]);
}

/// Tells svc's log and the asking client (`c`, + 1) why the reexec did
/// not happen.
fn refuse(w: &mut World, ev: &Events, c: u8, msg: &[u8], now: Instant) {
    say(&[b"svc: ", msg, b"\n"]);
    if c > 0 {
        control::answer(w, ev, usize::from(c - 1), EXIT_FAIL, msg, b"", now);
    }
}

/// The probe's deadline while it runs.
pub fn deadline(w: &World) -> Option<Instant> {
    w.reexec.deadline
}

/// A reaped child: the probe's exit is kept for `tick`. False for any
/// other pid.
pub fn reaped(w: &mut World, pid: i32, exit: Exit) -> bool {
    let r = &mut w.reexec;
    if pid != r.probe || pid == 0 {
        return false;
    }
    r.exited = true;
    r.exit = exit;
    true
}

/// After the loop's actions (none may be left behind by the exec): a
/// probe past its deadline is killed (and then reaped, and refused); a
/// probe's exit decides.
#[inline]
pub fn tick(w: &mut World, ev: &Events, now: Instant) {
    let r = &mut w.reexec;
    if !core::mem::take(&mut r.exited) {
        if r.deadline.is_some_and(|d| now >= d) {
            let _ = os::signal::send(r.probe, signame::KILL, false);
            r.deadline = None;
        }
        return;
    }
    let exit = r.exit;
    r.probe = 0;
    let timed_out = r.deadline.take().is_none();
    let mut m = Buf::<256>::new();
    if exit == Exit::Code(PROBED) {
        // What began while the probe ran (a stop, say) is not cut short
        // either. The exec returns only when it failed.
        if !busy(w, &mut m) {
            launch(w, false, &mut m);
        }
    } else {
        head(&mut m, &w.reexec.target);
        let (what, n) = match exit {
            Exit::Code(c) => ("exit", c),
            Exit::Signal(s) => ("signal", s),
        };
        if timed_out {
            m.push(b"the probe took over 5s");
        } else {
            // PROBED, spelt out (a third argument costs code).
            const _: () = assert!(PROBED == 93);
            let _ = ufmt::uwrite!(m, "the probe failed ({} {}, not 93)", what, n);
        }
    }
    let c = core::mem::take(&mut w.reexec.client);
    refuse(w, ev, c, m.as_bytes(), now);
}

/// Maps the state file `arg` (an fd number) and decodes it into `w`.
fn load(w: &mut World, arg: &[u8]) -> Result<(), &'static str> {
    let file = crate::text::parse_u32(arg).and_then(|n| os::fd::owned(n as i32).ok()).ok_or("no state fd")?;
    let len = os::stat::fstat(os::fd::borrowed(&file)).map_or(0, |st| st.st_size as usize);
    let mut map = sys::Map::new(os::fd::borrowed(&file), len).ok_or("cannot map it")?;
    let (mut p, mut parser) = parts(w);
    state::decode(map.bytes(), &mut p, &mut |t, c| parser.parse(t, c)).map_err(state::Error::text)
}

/// `svc reexec --state FD`, the probe: decodes the whole state; exit
/// `PROBED` if it can.
pub fn probe(arg: &[u8]) -> i32 {
    let Some(w) = crate::verbs::world::WORLD.take() else { return EXIT_FAIL };
    match load(w, arg) {
        Ok(()) => i32::from(PROBED),
        Err(why) => {
            say(&[b"svc: reexec: probe: the state: ", why.as_bytes(), b"\n"]);
            EXIT_FAIL
        }
    }
}

/// The parts as one line on stderr.
#[inline(never)]
fn say(parts: &[&[u8]]) {
    let mut b = Buf::<272>::new();
    b.push_all(parts);
    os::fd::say(&b);
}

/// In the new image, before anything is opened: decodes the state (fd
/// number `arg`) into `w`, its config text parsed. A state that cannot be
/// read at all leaves `w` half filled: svc then re-executes itself as after
/// a crash (os/crash.rs), and that image recovers without a state.
#[inline]
pub fn decode(w: &mut World, arg: &[u8]) {
    // The tests' way to a state that cannot be read (a real target's probe
    // reads it without this): test builds only, as os/crash.rs's faults.
    #[cfg(feature = "crashtest")]
    let arg = if os::process::getenv(c"SVC_TEST_UNREADABLE_STATE").is_some() { b"unreadable" } else { arg };
    if let Err(why) = load(w, arg) {
        os::crash::again(b"svc: reexec: the state: ", why.as_bytes());
    }
}

/// Then takes over what checks out: each fd (handed over, so not yet
/// taken; the same file as before, by device and inode, listening as it
/// did), each pid (still our child, with the start time recorded);
/// and answers the client that asked.
#[inline(never)]
pub fn adopt(w: &mut World, ev: &Events, now: Instant) {
    for i in 0..w.reexec.fds.len() {
        let Some(f) = w.reexec.fds.get(i).copied() else { continue };
        let role = role_of(f.role);
        // Close-on-exec clear: an fd the old image handed over, not one of
        // this image's own nor one taken already (both have it set).
        let fd = if sys::handed(f.num) { os::fd::owned(f.num).ok() } else { None };
        os::crash::cloexec(f.num, true);
        let Some(fd) = fd.filter(|fd| identity(os::fd::borrowed(fd)) == f.id) else {
            recover::say(b"reexec", ": fd ", f.num, " not what it was: dropped\n");
            continue;
        };
        let watch = match role {
            Role::Listen { .. } => None,
            Role::Client(c) if w.clients.list.get(usize::from(c)).is_some_and(|cl| cl.writing) => Some(Interest::Write),
            _ => Some(Interest::Read),
        };
        let Ok(k) = w.fds.hold(fd, role) else { continue };
        if let (Some(i), Some(fd)) = (watch, w.fds.fd(k)) {
            let _ = ev.add(fd, k as u64, i);
        }
        if let Role::Client(c) = role
            && let Some(cl) = w.clients.list.get_mut(usize::from(c))
        {
            cl.fd = k as u16;
        }
        if let Some(file) = w.socks.files.get_mut(k) {
            *file = f.file;
        }
    }
    // Clients whose connection did not come along are gone.
    let World { clients, fds, .. } = &mut *w;
    for (c, cl) in clients.list.iter_mut().enumerate() {
        if !matches!(fds.role(usize::from(cl.fd)), Role::Client(x) if usize::from(x) == c) {
            cl.free();
        }
    }
    // A pid that is another process by now (its start time differs), or
    // none, is gone. Its parent is not checked: MAINPID= names a launcher's
    // child, and pid plus start time identifies a process.
    for id in 0..w.sup.svcs.len() {
        for k in 0..MAX_INSTANCES {
            let Some(pid) = w.sup.svcs.get(id).and_then(|s| s.inst.get(k)?.as_ref()).map(|i| i.pid).filter(|&p| p > 0) else {
                continue;
            };
            let recorded = w.reexec.starts.get(id).and_then(|s| s.get(k)).copied();
            if os::proc::stat(pid).is_none_or(|s| Some(s.start as u32) != recorded) {
                recover::say(w.sup.name(id), ": pid ", pid, " gone\n");
                w.sup.handle(SupEvent::Exited { pid, exit: Exit::Signal(signame::KILL) }, now, &mut w.out);
            }
        }
    }
    let c = core::mem::take(&mut w.reexec.meta.asker);
    if c > 0 {
        let mut m = Buf::<160>::new();
        m.push_all(&[b"reexec: ", w.reexec.meta.build.as_bytes(), concat!(" -> ", env!("SVC_BUILD_ID"), "\n").as_bytes()]);
        control::answer(w, ev, usize::from(c - 1), EXIT_OK, b"", m.as_bytes(), now);
    }
}
