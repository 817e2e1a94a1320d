//! fork, child setup, exec; exec errors sent back over a pipe. (being written)
#![allow(unsafe_code)]

use core::ffi::{CStr, c_char};
use rustix::fd::BorrowedFd;

/// Everything the child needs, prepared by the parent before fork so that the
/// child only makes async-signal-safe calls.
pub struct Spec<'a> {
    /// NULL-terminated argv; argv[0] is the program's absolute path.
    pub argv: &'a [*const c_char],
    /// NULL-terminated environment.
    pub envp: &'a [*const c_char],
    pub cwd: Option<&'a CStr>,
    /// Privileges to drop to, in the order setgroups, setgid, setuid.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub groups: &'a [u32],
    /// nofile, nproc, core, memlock; None leaves a limit as inherited.
    pub rlimits: [Option<u64>; 4],
    /// Becomes the child's stdin (svc's /dev/null).
    pub stdin: BorrowedFd<'a>,
    /// Becomes the child's stdout and stderr (a log pipe, or /dev/null).
    pub output: BorrowedFd<'a>,
    /// The write end of the ready pipe and the fd number the child gets it at.
    pub ready: Option<(BorrowedFd<'a>, u8)>,
}

/// Which step of the child's setup failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Step {
    Fork,
    Setsid,
    Fds,
    Chdir,
    Rlimit,
    Groups,
    Gid,
    Uid,
    Exec,
}

impl Step {
    pub const fn word(self) -> &'static str {
        match self {
            Step::Fork => "fork",
            Step::Setsid => "setsid",
            Step::Fds => "fds",
            Step::Chdir => "chdir",
            Step::Rlimit => "rlimit",
            Step::Groups => "setgroups",
            Step::Gid => "setgid",
            Step::Uid => "setuid",
            Step::Exec => "exec",
        }
    }
}

/// A failed spawn: the step and its errno. The child (if any) is already reaped.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Failure {
    pub step: Step,
    pub errno: i32,
}

/// Forks and execs `spec`; returns the child's pid once exec succeeded.
pub fn spawn(_spec: &Spec) -> Result<i32, Failure> {
    Err(Failure { step: Step::Fork, errno: 38 })
}
