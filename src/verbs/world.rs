//! What `svc up` holds, in .bss: the configs, the supervisor, the table of
//! fds with their roles, log storage, control clients and held sockets.
//! Data only: the loop (up.rs), the control socket (control/), reloads
//! (reload.rs) and sockets (sockets.rs) work on it.

use crate::clients::Clients;
use crate::config::{Config, Page};
use crate::limits::*;
use crate::os::event::{Events, Interest};
use crate::os::fd::Slot;
use crate::os::{self, logfile};
use crate::reload::Plan;
use crate::ring::{self, Assembler, Ring};
use crate::service::Actions;
use crate::supervisor::Supervisor;
use crate::text::Buf;
use crate::verbs::check::Loader;
use crate::verbs::reexec::Reexec;
use rustix::fd::{BorrowedFd, OwnedFd};

/// What an fd in the table is for; the epoll token is its index.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Role {
    #[default]
    Free,
    /// The signalfd.
    Signals,
    /// The control socket's listener.
    Control,
    /// /dev/null, every service's stdin (and output with `log = null`).
    Null,
    Client(u8),
    Log {
        id: u8,
        inst: u8,
    },
    Ready {
        id: u8,
        inst: u8,
    },
    /// An instance's sd_notify socket (`ready = notify`).
    Notify {
        id: u8,
        inst: u8,
    },
    /// The output pipe of an instance's running probe (`ready = exec:`).
    Probe {
        id: u8,
        inst: u8,
    },
    /// A pipe kept across svc's re-exec after a crash, until the child
    /// that writes it is known (verbs/recover.rs).
    Kept,
    /// A listening socket held for `cfg.listens[n]` (watched only while its
    /// on-connect service waits for a connection).
    Listen {
        n: u8,
    },
}

/// One table of every fd svc holds, each with a role (but the epoll set
/// and its timerfd, which `Events` owns). Close-on-exec, leak checks and the
/// later reexec handoff all derive from it.
pub struct Fds {
    pub slots: [(Slot, Role); MAX_FDS],
}

impl Fds {
    const fn new() -> Self {
        Fds { slots: [const { (Slot::EMPTY, Role::Free) }; MAX_FDS] }
    }
    /// Adds `fd` with `role`, watched by `ev`; hands the fd back when full.
    pub fn add(&mut self, ev: &Events, fd: OwnedFd, role: Role, i: Interest) -> Result<usize, OwnedFd> {
        let Some(k) = self.slots.iter().position(|(s, _)| s.is_empty()) else { return Err(fd) };
        if ev.add(crate::os::fd::borrowed(&fd), k as u64, i).is_err() {
            return Err(fd);
        }
        if let Some(e) = self.slots.get_mut(k) {
            *e = (Slot::new(fd), role);
        }
        Ok(k)
    }
    /// Adds `fd` with `role`, not watched; hands the fd back when full.
    pub fn hold(&mut self, fd: OwnedFd, role: Role) -> Result<usize, OwnedFd> {
        let Some(k) = self.slots.iter().position(|(s, _)| s.is_empty()) else { return Err(fd) };
        if let Some(e) = self.slots.get_mut(k) {
            *e = (Slot::new(fd), role);
        }
        Ok(k)
    }
    /// The fd that holds `role`.
    pub fn of(&self, role: Role) -> Option<BorrowedFd<'_>> {
        self.find(role).and_then(|k| self.fd(k))
    }
    pub fn close(&mut self, ev: &Events, k: usize) {
        if let Some((slot, role)) = self.slots.get_mut(k) {
            if let Some(fd) = slot.take() {
                ev.remove(crate::os::fd::borrowed(&fd));
            }
            *role = Role::Free;
        }
    }
    #[inline(never)]
    pub fn fd(&self, k: usize) -> Option<BorrowedFd<'_>> {
        self.slots.get(k).and_then(|(s, _)| s.get())
    }
    pub fn role(&self, k: usize) -> Role {
        self.slots.get(k).map_or(Role::Free, |(_, r)| *r)
    }
    pub fn find(&self, role: Role) -> Option<usize> {
        self.slots.iter().position(|(s, r)| !s.is_empty() && *r == role)
    }
}

/// Log storage: the ring pool, each service's ring, each instance's partial line.
#[repr(C)]
pub struct Logs {
    /// Bit i: slot i's probe has printed nothing yet this run, so that the
    /// last failed run's output stays until the new run prints its own.
    pub probe_fresh: u64,
    /// Lines a log target could not take (disk full, I/O error), per slot.
    pub drops: [u32; MAX_SERVICES],
    pub rings: [Option<Ring>; MAX_SERVICES],
    /// Each slot's log file (`log = file:`), opened at its first line.
    pub files: [logfile::File; MAX_SERVICES],
    pub blocks: ring::Pool,
    pub asm: [[Assembler; MAX_INSTANCES]; MAX_SERVICES],
    /// Each slot's last probe output (`ready = exec:`): its first
    /// PROBE_OUTPUT_BYTES, logged at `ready_timeout`.
    pub probes: [Buf<PROBE_OUTPUT_BYTES>; MAX_SERVICES],
    pub scratch: [u8; LOG_READ_BYTES],
    /// The pool on page boundaries: a ring of whole pages (the default
    /// 4 KiB) then takes exactly its pages, never a part of a neighbour's.
    pub page_pool: Page,
    pub pool: [u8; RING_POOL_BYTES],
}

impl Logs {
    const fn new() -> Self {
        Logs {
            page_pool: Page,
            pool: [0; RING_POOL_BYTES],
            blocks: ring::Pool::new(),
            rings: [None; MAX_SERVICES],
            asm: [const { [const { Assembler::new() }; MAX_INSTANCES] }; MAX_SERVICES],
            scratch: [0; LOG_READ_BYTES],
            drops: [0; MAX_SERVICES],
            files: [const { logfile::File::EMPTY }; MAX_SERVICES],
            probes: [const { Buf::new() }; MAX_SERVICES],
            probe_fresh: 0,
        }
    }
}

/// Everything `svc up` holds, in .bss. In this order (`repr(C)`): what
/// every start writes first and together, the big tables last (a page of
/// .bss costs memory only once written).
#[repr(C)]
pub struct World {
    /// The file `svc up` was started with; reloads read it again. (An
    /// Option: None is all zero bytes, which keeps this static in .bss.)
    pub config_path: Option<&'static [u8]>,
    /// The control group's gid, for the peer check.
    pub group: Option<u32>,
    /// svc as PID 1: the shutdown under way (`Power as u8`; 0: none) and
    /// when its services' time is up.
    pub power: u8,
    pub power_until: crate::duration::Instant,
    /// The directory of the sd_notify sockets: `svc-notify` beside the
    /// control socket (made at the first `ready = notify` spawn).
    pub notify_dir: Buf<UNIX_PATH_BYTES>,
    /// svc set its own oom_score_adj (to -1000): every child writes its own.
    pub oom_own: bool,
    /// `NOTIFY_SOCKET` of svc itself (under systemd): READY=1 once every
    /// service has had its first outcome, STOPPING=1 at shutdown; the bits
    /// say which were sent.
    pub notify_self: Buf<UNIX_PATH_BYTES>,
    pub notify_sent: u8,
    /// svc as PID 1 after a startup step failed, until a reload succeeds:
    /// the emergency shell's program (`shell_path`, last), its pid (0:
    /// none), and when to start it again after it exited.
    pub shell: i32,
    pub shell_at: Option<crate::duration::Instant>,
    /// An fd held in reserve (/dev/null) for the control socket to accept
    /// with when svc is out of fds (`control::accept`).
    pub spare_fd: Slot,
    /// What the supervisor asked for and `up` has not done yet (in .bss, on
    /// the page `loader` starts on, not 1.6 KiB under every frame of `up`).
    pub out: Actions,
    pub loader: Loader,
    pub sup: Supervisor,
    pub fds: Fds,
    /// The log file streamed to each client (`svc log NAME` of a `file:` service).
    pub streams: [Slot; MAX_CLIENTS],
    /// The held sockets beyond the fd table: files, the watch, a reload's stage.
    pub socks: Socks,
    /// The last reload's steps, for its reply.
    pub plan: Plan,
    /// The clients on a page of their own: a `svc status` then writes one
    /// page (the first slot's head, reply and request), not two.
    pub page_clients: Page,
    pub clients: Clients,
    /// The config a reload parses into, beside the one in force (the
    /// supervisor's): two configs' worth of memory, so that a bad file
    /// changes nothing.
    pub spare: Config,
    pub logs: Logs,
    /// `svc reexec`: the probe under way and the handoff's tables (written
    /// only by a reexec).
    pub reexec: Reexec,
    /// The emergency shell's program, NUL-terminated (empty: no
    /// emergency). Last: it is written only in an emergency, and its 1 KiB
    /// among the small fields would push the config text onto a second page.
    pub shell_path: Buf<PATH_BYTES>,
}

/// What svc keeps of its listening sockets besides their fds (which are in
/// the fd table, `Role::Listen`).
#[repr(C)]
pub struct Socks {
    /// The environment entries of a spawn with sockets (1.3 KiB here rather
    /// than under every spawn's frame; written only by a service with sockets).
    pub env: crate::verbs::sockets::Env,
    /// The device and inode of the socket file svc made, by fd-table index
    /// (0, 0 for none), so that svc unlinks only its own file.
    pub files: [(u64, u64); MAX_FDS],
    /// Slots whose sockets are in the epoll set.
    pub watched: u64,
    /// A reload's sockets before it applies: for each new `listens[j]`, the
    /// fd-table index + 1 of the held socket it keeps (0: none; all zero
    /// keeps World in .bss), or a new one here.
    pub keep: [u16; MAX_LISTENS],
    pub new: [Slot; MAX_LISTENS],
    pub new_files: [(u64, u64); MAX_LISTENS],
}

impl Socks {
    const fn new() -> Self {
        Socks {
            env: crate::verbs::sockets::Env::new(),
            files: [(0, 0); MAX_FDS],
            watched: 0,
            keep: [0; MAX_LISTENS],
            new: [const { Slot::EMPTY }; MAX_LISTENS],
            new_files: [(0, 0); MAX_LISTENS],
        }
    }
}

/// Taken once by `svc up`. After .bss (targets/big-bss.ld): the small
/// statics of svc and of musl then share one page of memory instead of
/// taking one on either side of this.
// Only the section name is overridden: still zero-initialised .bss.
#[allow(unsafe_code)]
#[unsafe(link_section = ".bss.~big")]
pub static WORLD: os::once::Once<World, 0> = os::once::Once::new(World {
    loader: Loader::new(),
    spare: Config::new(),
    plan: Plan::new(),
    config_path: None,
    sup: Supervisor::new(),
    fds: Fds::new(),
    logs: Logs::new(),
    page_clients: Page,
    clients: Clients::new(),
    streams: [const { Slot::EMPTY }; MAX_CLIENTS],
    group: None,
    socks: Socks::new(),
    notify_dir: Buf::new(),
    oom_own: false,
    notify_self: Buf::new(),
    notify_sent: 0,
    shell_path: Buf::new(),
    reexec: Reexec::new(),
    shell: 0,
    shell_at: None,
    power: 0,
    power_until: crate::duration::Instant::from_millis(0),
    spare_fd: Slot::EMPTY,
    out: Actions::new(),
});
