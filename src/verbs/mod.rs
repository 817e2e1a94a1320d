//! Verbs join the pure side and os/: each turns a `Command` into work and an
//! exit status.

use crate::cli::{self, Command, EXIT_OK, EXIT_USAGE, UsageError, Verb};
use crate::os;
use crate::text::{Buf, Bytes};

/// Runs the command line `words` (argv, argv[0] included); returns the exit status.
pub fn main(words: &'static mut cli::Words<'static>) -> i32 {
    let argv0 = words.first().copied().unwrap_or(b"svc");
    let base = argv0.rsplit(|&b| b == b'/').next().unwrap_or(argv0);
    // As PID 1, or called `init`, svc must not exit over its arguments.
    let lenient = base == b"init" || os::process::pid() == 1;
    match cli::parse(words, lenient) {
        Ok(cmd) => run(&cmd),
        Err(e) => usage_error(&e),
    }
}

mod check;
mod client;
mod control;
mod emergency;
mod instance;
mod leftover;
mod output;
mod power;
mod recover;
mod reexec;
mod release;
mod reload;
mod sockets;
mod up;
mod world;

fn run(cmd: &Command<'static>) -> i32 {
    match cmd.verb {
        Verb::Up => {
            // As PID 1, first of all: fds 0-2, /proc, /dev and the rest.
            let cmdline = os::init::Init::get().map(|i| i.boot());
            // Before any message: svc's own output must never block it.
            os::fd::private_stderr();
            up::up(cmd, cmdline)
        }
        Verb::Check => check::check(cmd),
        // The probe, run by svc on the binary it would re-execute.
        Verb::Control(crate::proto::Kind::Reexec) if let Some(fd) = cmd.state() => reexec::probe(fd),
        Verb::Control(kind) => client::run(cmd, kind),
        Verb::Version => version(),
        Verb::Help => help(cmd.operands.first().copied()),
    }
}

fn version() -> i32 {
    os::fd::write_out(
        concat!("svc ", env!("CARGO_PKG_VERSION"), " (", env!("SVC_TARGET"), ", build ", env!("SVC_BUILD_ID"), ")\n").as_bytes(),
    );
    EXIT_OK
}

fn help(verb: Option<&[u8]>) -> i32 {
    if let Some(word) = verb {
        let Some(v) = Verb::from_name(word) else {
            return usage_error(&UsageError { error: cli::Error::UnknownVerb, word, verb: None });
        };
        print_usage(v, os::fd::write_out);
        return EXIT_OK;
    }
    os::fd::write_out(Verb::HELP.as_bytes());
    EXIT_OK
}

fn print_usage(v: Verb, out: fn(&[u8])) {
    let mut b = Buf::<128>::new();
    b.push_all(&[b"usage: svc ", v.usage(), b"\n"]);
    out(b.as_bytes());
}

fn usage_error(e: &UsageError) -> i32 {
    let mut b = Buf::<256>::new();
    b.push(b"svc: ");
    if let Some(v) = e.verb {
        let _ = ufmt::uwrite!(b, "{}: ", v.name());
    }
    b.push(e.error.text().as_bytes());
    if !e.word.is_empty() {
        let _ = ufmt::uwrite!(b, " '{}'", Bytes(e.word));
    }
    b.push(b"\n");
    os::fd::say(&b);
    match e.verb {
        Some(v) => print_usage(v, os::fd::write_err),
        None => os::fd::write_err(b"try 'svc help'\n"),
    }
    EXIT_USAGE
}
