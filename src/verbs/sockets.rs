//! The listening sockets svc holds: bound at `up`; at a reload matched by
//! address with the held ones (a kept socket is never rebound, so no
//! connection is refused), the new ones bound before anything changes;
//! handed to every instance; watched while an on-connect service waits.

use crate::config::{Config, Listen};
use crate::limits::*;
use crate::order::bit;
use crate::os::event::{Events, Interest};
use crate::os::fd::Slot;
use crate::os::listen::{self, Options};
use crate::supervisor::Supervisor;
use crate::text::{Buf, Bytes, Errno, Out};
use crate::verbs::world::{Fds, Role, Socks, World};
use rustix::fd::{AsFd, BorrowedFd};

// Out of line: built at each of its call sites it cost more.
#[inline(never)]
fn options(l: &Listen) -> Options {
    Options { backlog: l.backlog, mode: l.mode, uid: l.uid, gid: l.gid, freebind: l.freebind }
}

/// Binds socket `l` of `cfg` (out of line: `up` and a reload's stage bind).
#[inline(never)]
fn bind(cfg: &Config, l: &Listen) -> Result<listen::Bound, rustix::io::Errno> {
    cfg.addr(l).ok_or(rustix::io::Errno::INVAL).and_then(|a| listen::bind(&a, &options(l)))
}

/// Removes socket `n`'s unix file `file` of `cfg` if it is still svc's.
#[inline(never)]
fn unlink_file(cfg: &Config, n: usize, file: (u64, u64)) {
    if file != (0, 0)
        && let Some(l) = cfg.listens.get(n)
    {
        listen::unlink_if(cfg.str(l.addr).get(b"unix:".len()..).unwrap_or(&[]), file);
    }
}

/// `[NAME] listen ADDRESS: ERRNO` for socket `n` of `cfg`.
fn describe(cfg: &Config, n: usize, e: rustix::io::Errno, b: &mut Out) {
    let name = cfg.defs.iter().find(|d| (usize::from(d.listen.first)..usize::from(d.listen.first + d.listen.count)).contains(&n));
    let addr = cfg.listens.get(n).map_or(&b""[..], |l| cfg.str(l.addr));
    let _ = ufmt::uwrite!(b, "[{}] listen {}: {}", Bytes(name.map_or(&b""[..], |d| cfg.str(d.name))), Bytes(addr), Errno(e.raw_os_error()));
}

/// Binds every socket of the config in force (`svc up`, before any service
/// starts). False after printing what failed; but svc as PID 1 (`init`)
/// must boot with what it has: a socket that cannot be bound (its interface
/// is not up yet) is printed and left to its service's start, which fails
/// alone (`bind_missing`) and is tried again.
pub fn bind_all(w: &mut World, init: bool) -> bool {
    for n in 0..w.sup.cfg.listens.len() {
        // One kept across a re-exec (verbs/recover.rs) is held already.
        if w.fds.find(Role::Listen { n: n as u8 }).is_some() {
            continue;
        }
        if let Err(e) = bind_one(w, n) {
            let mut m = Buf::<320>::new();
            m.push(b"svc: ");
            describe(&w.sup.cfg, n, e, &mut m);
            m.push(b"\n");
            crate::os::fd::say(&m);
            if !init {
                return false;
            }
        }
    }
    true
}

/// Binds socket `n` of the config in force and holds it.
fn bind_one(w: &mut World, n: usize) -> Result<(), rustix::io::Errno> {
    let l = w.sup.cfg.listens.get(n).ok_or(rustix::io::Errno::INVAL)?;
    let b = bind(&w.sup.cfg, l)?;
    let file = b.file;
    let k = w.fds.hold(b.fd, Role::Listen { n: n as u8 }).map_err(|_| rustix::io::Errno::MFILE)?;
    if let Some(f) = w.socks.files.get_mut(k) {
        *f = file.unwrap_or((0, 0));
    }
    Ok(())
}

/// Binds the sockets of service `id` that are not held (svc as PID 1 could
/// not bind them at start), before it starts: the first failure fails
/// this start only (NOTE `listen: ERRNO`), and the next start tries again.
pub fn bind_missing(w: &mut World, id: usize) -> Result<(), rustix::io::Errno> {
    let Some(r) = w.sup.def(id).map(|d| d.listen) else { return Ok(()) };
    for j in usize::from(r.first)..usize::from(r.first + r.count) {
        if w.fds.find(Role::Listen { n: j as u8 }).is_none() {
            bind_one(w, j)?;
        }
    }
    Ok(())
}

/// The held socket with the address `text` in the config in force.
fn held(w: &World, text: &[u8]) -> Option<usize> {
    (0..MAX_FDS).find(|&k| match w.fds.role(k) {
        Role::Listen { n } => w.sup.cfg.listens.get(usize::from(n)).is_some_and(|l| w.sup.cfg.str(l.addr) == text),
        _ => false,
    })
}

/// A reload's first half, while nothing has changed: each socket of the new
/// config (`w.spare`) keeps a held socket with its address, or is bound
/// now. False, with the reason in `why` and nothing changed, when a bind
/// fails.
pub fn stage(w: &mut World, why: &mut Buf<256>) -> bool {
    unstage(w);
    for j in 0..w.spare.listens.len() {
        let Some(l) = w.spare.listens.get(j) else { continue };
        if let Some(k) = held(w, w.spare.str(l.addr)) {
            if let Some(x) = w.socks.keep.get_mut(j) {
                *x = k as u16 + 1;
            }
            continue;
        }
        let r = bind(&w.spare, l);
        match r {
            Ok(b) => {
                if let (Some(s), Some(f)) = (w.socks.new.get_mut(j), w.socks.new_files.get_mut(j)) {
                    *s = Slot::new(b.fd);
                    *f = b.file.unwrap_or((0, 0));
                }
                w.plan.bound |= bit(j);
            }
            // The reload that ends an emergency completes the boot: as
            // there, a socket that cannot be bound fails its service alone.
            Err(_) if !w.shell_path.is_empty() => {}
            Err(e) => {
                describe(&w.spare, j, e, why);
                unstage(w);
                return false;
            }
        }
    }
    true
}

/// Drops what `stage` bound (their files too) and forgets what it kept.
fn unstage(w: &mut World) {
    let Socks { keep, new, new_files, .. } = &mut w.socks;
    for (j, (slot, file)) in new.iter_mut().zip(new_files.iter_mut()).enumerate() {
        if slot.take().is_some() {
            unlink_file(&w.spare, j, *file);
        }
        *file = (0, 0);
    }
    keep.fill(0);
}

/// A reload's second half, part one, once it is certain (the old config
/// still in force): held sockets the new config does not keep are closed,
/// their files removed if still svc's; every watch ends (`watch` sets them
/// up again).
pub fn release(w: &mut World, ev: &Events) {
    for k in 0..MAX_FDS {
        let Role::Listen { n } = w.fds.role(k) else { continue };
        if let Some(fd) = w.fds.fd(k) {
            ev.remove(fd);
        }
        if w.socks.keep.contains(&(k as u16 + 1)) {
            continue;
        }
        unlink_file(&w.sup.cfg, usize::from(n), w.socks.files.get(k).copied().unwrap_or((0, 0)));
        w.fds.close(ev, k);
        if let Some(f) = w.socks.files.get_mut(k) {
            *f = (0, 0);
        }
        w.plan.closed |= bit(usize::from(n));
    }
    w.socks.watched = 0;
}

/// Part two, once the new config is in force: kept sockets follow their new
/// index (listen() again for a new backlog, mode and owner set again), new
/// ones join the table.
pub fn adopt(w: &mut World) {
    for j in 0..w.sup.cfg.listens.len() {
        let Some(l) = w.sup.cfg.listens.get(j) else { continue };
        let keep = w.socks.keep.get(j).copied().unwrap_or(0);
        if keep != 0 {
            let k = usize::from(keep - 1);
            if let Some((_, role)) = w.fds.slots.get_mut(k) {
                *role = Role::Listen { n: j as u8 };
            }
            let text = w.sup.cfg.str(l.addr);
            if let Some(fd) = w.fds.fd(k)
                && !text.starts_with(b"udp:")
            {
                let _ = listen::relisten(fd, l.backlog);
            }
            if let Some(path) = crate::text::after(text, b"unix:").filter(|p| p.first() == Some(&b'/')) {
                listen::reconfigure(path, &options(l));
            }
            continue;
        }
        let Some(fd) = w.socks.new.get_mut(j).and_then(|s| s.take()) else { continue };
        let file = w.socks.new_files.get(j).copied().unwrap_or((0, 0));
        match w.fds.hold(fd, Role::Listen { n: j as u8 }) {
            Ok(k) => {
                if let Some(f) = w.socks.files.get_mut(k) {
                    *f = file;
                }
            }
            Err(_) => crate::os::fd::write_err(b"svc: fd table full: a listen socket is dropped\n"),
        }
    }
    w.socks.keep.fill(0);
    w.socks.new_files.fill((0, 0));
}

/// Slot `id`'s sockets in `listen` order (what its instances get at 3, 4, ...).
pub fn of<'a>(sup: &Supervisor, fds: &'a Fds, id: usize) -> heapless::Vec<BorrowedFd<'a>, MAX_SERVICE_LISTENS> {
    let mut v = heapless::Vec::new();
    let Some(d) = sup.def(id) else { return v };
    for j in usize::from(d.listen.first)..usize::from(d.listen.first + d.listen.count) {
        if let Some(fd) = fds.of(Role::Listen { n: j as u8 }) {
            let _ = v.push(fd);
        }
    }
    v
}

/// Puts the sockets of every on-connect service that waits for a connection
/// into the epoll set, and takes out those of every other.
pub fn watch(w: &mut World, ev: &Events) {
    for id in 0..w.sup.svcs.len().min(64) {
        let want = w.sup.watching(id);
        let bit = bit(id);
        if want == (w.socks.watched & bit != 0) {
            continue;
        }
        let Some(d) = w.sup.def(id) else { continue };
        for j in usize::from(d.listen.first)..usize::from(d.listen.first + d.listen.count) {
            let Some(k) = w.fds.find(Role::Listen { n: j as u8 }) else { continue };
            let Some(fd) = w.fds.fd(k) else { continue };
            if want {
                let _ = ev.add(fd.as_fd(), k as u64, Interest::Read);
            } else {
                ev.remove(fd);
            }
        }
        w.socks.watched ^= bit;
    }
}

/// The environment of both protocols servers speak, for an instance of a
/// service with sockets: systemd's LISTEN_FDS, LISTEN_PID (its digits
/// written by the child) and LISTEN_FDNAMES; Server::Starter's
/// SERVER_STARTER_PORT and SERVER_STARTER_GENERATION.
pub struct Env {
    pub fds: Buf<24>,
    /// `LISTEN_PID=` and room for the child's digits and NUL.
    pub pid: [u8; 24],
    pub names: Buf<{ 16 + MAX_SERVICE_LISTENS * (NAME_BYTES + 1) + 1 }>,
    pub port: Buf<{ 24 + MAX_SERVICE_LISTENS * (UNIX_PATH_BYTES + 8) + 1 }>,
    pub generation: Buf<48>,
}

impl Env {
    pub const PID_PREFIX: &'static [u8] = b"LISTEN_PID=";
    pub const fn new() -> Self {
        Env { fds: Buf::new(), pid: [0; 24], names: Buf::new(), port: Buf::new(), generation: Buf::new() }
    }

    /// Fills the entries for slot `id`'s `n` sockets; `generation` counts the
    /// service's instance starts. False when it has none (nothing written).
    pub fn fill(&mut self, sup: &Supervisor, id: usize, n: usize, generation: u32) -> bool {
        let (Some(d), true) = (sup.def(id), n > 0) else { return false };
        let cfg = &sup.cfg;
        self.fds.clear();
        self.names.clear();
        self.port.clear();
        self.generation.clear();
        let _ = ufmt::uwrite!(self.fds, "LISTEN_FDS={}\0", n);
        for (d, s) in self.pid.iter_mut().zip(Self::PID_PREFIX) {
            *d = *s;
        }
        self.names.push(b"LISTEN_FDNAMES=");
        self.port.push(b"SERVER_STARTER_PORT=");
        for (i, l) in cfg.listens(d.listen).iter().enumerate().take(n) {
            let sep: &[u8] = if i > 0 { b":" } else { b"" };
            self.names.push(sep);
            self.names.push(cfg.listen_name(d, l));
            if i > 0 {
                self.port.push(b";");
            }
            // As start_server writes them: host:port, just the port for a
            // wildcard, the path of a unix socket; a UDP socket like a TCP one.
            match cfg.addr(l) {
                Some(crate::addr::Addr::Inet { ip, port, .. }) => {
                    let wild = match ip {
                        crate::addr::Ip::Any => true,
                        crate::addr::Ip::V4(a) => a == [0; 4],
                        crate::addr::Ip::V6(a) => a == [0; 16],
                    };
                    if !wild {
                        let _ = ufmt::uwrite!(self.port, "{}:", crate::addr::Host(ip));
                    }
                    let _ = ufmt::uwrite!(self.port, "{}", port);
                }
                Some(crate::addr::Addr::Unix { path, abstract_ }) => {
                    if abstract_ {
                        self.port.push(b"@");
                    }
                    self.port.push(path);
                }
                None => {}
            }
            let _ = ufmt::uwrite!(self.port, "={}", 3 + i);
        }
        self.names.push(b"\0");
        self.port.push(b"\0");
        let _ = ufmt::uwrite!(self.generation, "SERVER_STARTER_GENERATION={}\0", generation);
        true
    }
}
