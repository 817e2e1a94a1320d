//! The clients: status, start, stop, restart, signal, log. Each sends one
//! request line and copies the reply to stdout.

use crate::cli::Command;
use crate::limits::{PATH_BYTES, REQUEST_BYTES};
use crate::os;
use crate::proto::{self, EXIT_FAIL, EXIT_USAGE, Kind};
use crate::text::{Buf, Bytes, Errno};
use crate::verbs::check;
use crate::verbs::control::default_path;

/// The socket a client talks to: `-s`, `$SVC_CONTROL`, `[svc] control` of
/// the config (when readable), svc's default for this user, /run/svc.sock.
fn socket_path(cmd: &Command, b: &mut Buf<PATH_BYTES>) {
    if let Some(s) = cmd.socket().or_else(|| os::process::getenv(c"SVC_CONTROL")) {
        b.push(s);
        return;
    }
    if check::control_of(check::config_path(cmd), b) {
        return;
    }
    default_path(b, false);
    let mut q = [0u8; PATH_BYTES];
    let exists = os::fd::cpath(b.as_bytes(), &mut q).is_some_and(|c| crate::os::stat::lstat(c).is_ok());
    if !exists {
        b.clear();
        b.push(b"/run/svc.sock");
    }
}

// Out of line: its buffers must not sit in main's frame while `svc up` runs.
#[inline(never)]
pub fn run(cmd: &Command, kind: Kind) -> i32 {
    let lines = cmd.lines();
    // `reexec -x PATH`: run by svc, from its own directory; the path is
    // the request's operand (reexec takes none on the command line).
    let x;
    let mut words = cmd.operands;
    // The server refuses a PATH not starting with `/`.
    if let Some(path) = cmd.exe() {
        x = [path];
        words = &x;
    }
    if kind == Kind::Log {
        if cmd.operands.is_empty() && cmd.flags & proto::FOLLOW == 0 {
            os::fd::write_err(b"svc: log: name a service (or follow all with -f)\n");
            return EXIT_USAGE;
        }
        if lines.is_some() && cmd.operands.is_empty() {
            os::fd::write_err(b"svc: log: -n needs a service name\n");
            return EXIT_USAGE;
        }
    }
    let mut line = Buf::<REQUEST_BYTES>::new();
    // (-n is log's alone: cli::parse refuses it for any other verb.)
    if !proto::emit_parts(kind, cmd.flags, words, lines, &mut line) {
        os::fd::write_err(b"svc: request too long\n");
        return EXIT_FAIL;
    }
    let mut path = Buf::<PATH_BYTES>::new();
    socket_path(cmd, &mut path);
    let mut p = [0u8; PATH_BYTES];
    let fail = |what: &str, e: rustix::io::Errno| {
        let mut b = Buf::<512>::new();
        b.push_all(&[b"svc: ", what.as_bytes(), b" "]);
        let _ = ufmt::uwrite!(b, "{}: {}\n", Bytes(path.as_bytes()), Errno(e.raw_os_error()));
        os::fd::say(&b);
        EXIT_FAIL
    };
    let Some(c) = os::fd::cpath(path.as_bytes(), &mut p) else {
        return fail("control socket", rustix::io::Errno::NAMETOOLONG);
    };
    let fd = match os::socket::connect(c) {
        Ok(fd) => fd,
        Err(e) => return fail("cannot connect to control socket", e),
    };
    // svc may refuse (permission denied) and close before reading: the
    // send then fails with EPIPE, and the refusal is still there to read.
    os::signal::ignore_pipe();
    let fd = os::fd::borrowed(&fd);
    let sent = os::fd::write_all(fd, line.as_bytes());
    match (read_reply(fd), sent) {
        (Some(code), _) => code,
        (None, Err(e)) => fail("cannot send to", e),
        (None, Ok(())) => {
            os::fd::write_err(b"svc: no reply from svc\n");
            EXIT_FAIL
        }
    }
}

/// A reply body goes to stdout; after a failure (code 1: a config's
/// errors, say) it goes to stderr.
fn out(code: i32, bytes: &[u8]) {
    if code == EXIT_FAIL { os::fd::write_err(bytes) } else { os::fd::write_out(bytes) }
}

/// Reads the head line, then copies the body out; returns the code.
fn read_reply(fd: rustix::fd::BorrowedFd) -> Option<i32> {
    let mut buf = [0u8; 4096];
    let mut have = 0;
    let mut code = None;
    // Bounded by the server, which closes after the reply.
    while let Some(room) = buf.get_mut(have..) {
        let n = match rustix::io::read(fd, room) {
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => 0,
        };
        if n == 0 {
            break;
        }
        have += n;
        // The body starts after the head line, in the read that ends it.
        let mut body = 0;
        let c = match code {
            Some(c) => c,
            None => {
                let Some(nl) = buf.get(..have).and_then(|b| b.iter().position(|&c| c == b'\n')) else {
                    if have == buf.len() {
                        break;
                    }
                    continue;
                };
                let (c, msg) = buf.get(..nl).and_then(proto::parse_head)?;
                if !msg.is_empty() {
                    let mut b = Buf::<1024>::new();
                    let _ = ufmt::uwrite!(b, "svc: {}\n", Bytes(msg));
                    os::fd::say(&b);
                }
                code = Some(c);
                body = nl + 1;
                c
            }
        };
        out(c, buf.get(body..have).unwrap_or(&[]));
        have = 0;
    }
    code
}
