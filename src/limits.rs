//! Every capacity and fixed size of svc, named, with its unit and its reason.
//! The README's limits table is copied from here. Counts are `MAX_*`, sizes
//! `*_BYTES`. A full container is a reported error, never a crash or a silent
//! truncation. No syscalls.

/// Services in one config. Routers run 5 to 20; a slot costs well under 1 KiB.
pub const MAX_SERVICES: usize = 64;
/// Instances one service may have at once: new, serving, draining (upgrades).
pub const MAX_INSTANCES: usize = 3;
/// Bytes of one config file. A 64-service config with long exec lines fits in 16 KiB.
pub const CONFIG_BYTES: usize = 64 * 1024;
/// Bytes of /etc/passwd or /etc/group that svc reads to resolve names (no NSS).
pub const PASSWD_BYTES: usize = 64 * 1024;
/// Bytes of strings (exec words, environment, paths) of one config generation.
/// Two generations are held during a reload.
pub const ARENA_BYTES: usize = 64 * 1024;
/// Strings (exec words, env entries, paths) of one config generation.
pub const MAX_STRINGS: usize = 2048;
/// Words of one `exec` line, the program included.
pub const MAX_ARGS: usize = 32;
/// Environment entries of one service: env, env_file, PATH and SVC_SERVICE.
pub const MAX_ENV: usize = 64;
/// Bytes of one `key = value` line of the config.
pub const LINE_BYTES: usize = 4096;
/// Supplementary groups of one service's user.
pub const MAX_GROUPS: usize = 16;
/// Config errors reported at once; the rest are counted.
pub const MAX_ERRORS: usize = 32;
/// Bytes of a service name (1 to 31 of A-Z a-z 0-9 _ . -).
pub const NAME_BYTES: usize = 31;

/// One block of the ring pool; a ring is a whole number of blocks.
pub const RING_BLOCK_BYTES: usize = 1024;
/// The ring pool, in .bss: untouched capacity costs no memory.
/// At least MAX_SERVICES × 4 KiB, as the default ring is 4 KiB.
pub const RING_POOL_BYTES: usize = MAX_SERVICES * 4 * 1024;
/// Default ring size, `log = ring:4k`.
pub const RING_DEFAULT_BYTES: usize = 4 * 1024;
/// Longest stored log line; longer output is split into lines of this size.
pub const LOG_LINE_BYTES: usize = 1024;
/// Default size of a `log = file:PATH` file (`log_size`); then it is rotated.
pub const LOG_FILE_DEFAULT_BYTES: u32 = 1024 * 1024;
/// Smallest `log_size`: a few full-length lines, so that rotation is not per line.
pub const LOG_FILE_MIN_BYTES: u32 = 4 * 1024;
/// Largest `log_size`: sizes are u32, and a small machine's disk wants less.
pub const LOG_FILE_MAX_BYTES: u32 = 1024 * 1024 * 1024;
/// Default `log_keep`: rotated files kept beside PATH (PATH.1 … PATH.3).
pub const LOG_KEEP_DEFAULT: u8 = 3;
/// Largest `log_keep`: one digit of suffix, and a rotation is at most this many renames.
pub const MAX_LOG_KEEP: u8 = 9;
/// Bytes read per pread when `svc log -n N` looks for the last N lines of a
/// file (in the pipes' read buffer, so LOG_READ_BYTES).
pub const LOG_TAIL_CHUNK_BYTES: usize = LOG_READ_BYTES;
/// Bytes of a `file:` log that `svc log -n N` searches backwards for N
/// lines; past it the reply starts with a note. The search runs inside the
/// event loop: 1 MiB is a few milliseconds from the page cache.
pub const LOG_TAIL_WINDOW_BYTES: u64 = 1024 * 1024;
/// Bytes read from one service's pipe per wakeup, so that a chatty service
/// cannot starve the others.
pub const LOG_READ_BYTES: usize = 4096;
/// A `ready = exec:` probe's output kept per service (the first bytes of the
/// last run that printed any), logged at `ready_timeout`: an error line or
/// two, such as wget's, fits; a hundred failed runs never flood the ring.
pub const PROBE_OUTPUT_BYTES: usize = 512;

/// Control connections served at once; more wait in the listen backlog.
pub const MAX_CLIENTS: usize = 8;
/// Client slots kept for one-shot requests (status, start, ...): long jobs
/// (`log -f` followers, a stop or reload waiting for its services, a log
/// file streamed) never take them, so `svc status` always finds a slot.
pub const RESERVED_CLIENTS: usize = 2;
/// Long jobs served at once; one more is refused (`busy: too many followers`).
pub const MAX_LONG_CLIENTS: usize = MAX_CLIENTS - RESERVED_CLIENTS;
/// Bytes of one control request (one line: a verb and up to MAX_SERVICES names).
pub const REQUEST_BYTES: usize = 4096;
/// Bytes of one chunk of a streamed reply; a whole reply has no bound.
pub const REPLY_CHUNK_BYTES: usize = 2048;
/// Milliseconds a client has to send its whole request.
pub const REQUEST_TIMEOUT_MS: u64 = 5_000;
/// Milliseconds a reply may wait for its reader to take a byte; then the
/// connection is dropped. A follower waiting for lines has no such clock.
pub const WRITE_TIMEOUT_MS: u64 = 60_000;

/// Fds svc holds: signalfd, timerfd, control listener, /dev/null, clients,
/// a log pipe and a readiness fd (ready pipe, notify socket or probe output
/// pipe) per instance, and the listening sockets
/// (twice: a reload binds new ones before it lets old ones go).
pub const MAX_FDS: usize = 8 + MAX_CLIENTS + MAX_SERVICES * MAX_INSTANCES * 2 + 2 * MAX_LISTENS;
/// Every fd number svc holds is below this (the kernel gives the lowest
/// free number, and svc holds MAX_FDS and a few of its own): after a crash
/// fds 3 up to it are kept across the exec (os/crash.rs), and the new
/// image sorts out those it finds open (verbs/recover.rs).
pub const FD_NUMBERS_END: i32 = 4096;
const _: () = assert!(MAX_FDS + 64 <= FD_NUMBERS_END as usize);
/// Actions one event may cause (a shutdown signals every service).
pub const MAX_ACTIONS: usize = MAX_SERVICES * MAX_INSTANCES + 8;
/// Operands on one command line (`svc status a b c`).
pub const MAX_OPERANDS: usize = MAX_SERVICES;
/// Re-execs after a crash (os/crash.rs), each within `AGAIN_WINDOW_MS` of
/// the first, after which svc stops trying: a bug that strikes at every
/// start must not loop forever (as PID 1 svc then reaps and runs the
/// emergency shell; otherwise it exits for the init above it).
pub const MAX_AGAIN: u32 = 3;
pub const AGAIN_WINDOW_MS: u32 = 60_000;
/// Words svc itself accepts on its command line (PID 1 gets boot words too).
pub const MAX_CMDLINE: usize = 128;
/// Bytes of a path svc opens, its NUL included. Less than PATH_MAX (4096):
/// path buffers live on the stack, and every page of stack a frame touches
/// stays resident. Paths on small boxes are short; a longer one is an error.
pub const PATH_BYTES: usize = 1024;
/// Symlinks followed while walking a log file's path (the kernel allows 40;
/// a trusted system link such as /var/run → /run takes one).
pub const MAX_LINK_HOPS: usize = 8;
/// Bytes of a control socket path, its NUL included: `sun_path` of a unix
/// socket address holds 108.
pub const CONTROL_PATH_BYTES: usize = 108;
/// Bytes of a unix socket path or abstract name, its NUL included (`sun_path`).
pub const UNIX_PATH_BYTES: usize = CONTROL_PATH_BYTES;
/// Bytes of pinned releases (the resolved program path and cwd of each
/// service's current, previous and candidate release), in .bss: 16 KiB is
/// 64 services with two releases of 120-byte paths each. When it is full a
/// service runs unpinned (NOTE says so) and never fails to start.
pub const PIN_BYTES: usize = 16 * 1024;
/// Listening sockets of one service (`listen =` lines): fds 3 to 10.
pub const MAX_SERVICE_LISTENS: usize = 8;
/// Listening sockets svc holds in all.
pub const MAX_LISTENS: usize = 64;
/// The backlog of a listening socket without `backlog=` (the kernel caps it at somaxconn).
pub const LISTEN_BACKLOG_DEFAULT: u32 = 1024;

/// The largest reexec state: the ring pool, the config text, the pinned
/// releases, every partial log line and the clients' buffers, with room to
/// spare. The memfd (or tmpfile) of this size is sparse: only what the
/// state holds is written.
pub const STATE_BYTES: usize = RING_POOL_BYTES + CONFIG_BYTES + PIN_BYTES + 512 * 1024;
