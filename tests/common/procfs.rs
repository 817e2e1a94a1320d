//! Processes as /proc shows them (stat fields, ancestry, fds, environment),
//! signals to processes the test started, and the identity of the test
//! itself (root or not, groups).

use std::fs;
use std::process::Command;

use super::run::{CLIENT_TIMEOUT, output_within, show, text};

/// PATH of a service that sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The fields of /proc/PID/stat that tests look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub state: char,
    pub ppid: u32,
    pub pgrp: u32,
    pub session: u32,
    /// Clock ticks after boot: with the pid, it names one process for good.
    pub starttime: u64,
}

pub fn stat(pid: u32) -> Option<Stat> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold blanks and parentheses: fields follow the last ')'.
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        session: f.get(3)?.parse().ok()?,
        starttime: f.get(19)?.parse().ok()?,
    })
}

/// The value of `Key:` in /proc/PID/status.
pub fn status_field(pid: u32, key: &str) -> Option<String> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':').map(|v| v.trim().to_string()))
}

/// The process that had this pid and start time is gone and reaped (a
/// zombie still has its /proc entry).
pub fn gone(pid: u32, starttime: u64) -> bool {
    stat(pid).is_none_or(|s| s.starttime != starttime)
}

pub fn comm(pid: u32) -> Option<String> {
    Some(fs::read_to_string(format!("/proc/{pid}/comm")).ok()?.trim_end().to_string())
}

pub fn cmdline(pid: u32) -> Vec<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    raw.split(|&b| b == 0).filter(|w| !w.is_empty()).map(text).collect()
}

/// Pids whose parent is `pid` (a scan of /proc: needs no CONFIG_PROC_CHILDREN).
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut v: Vec<u32> = all_pids().into_iter().filter(|&p| stat(p).is_some_and(|s| s.ppid == pid)).collect();
    v.sort_unstable();
    v
}

fn all_pids() -> Vec<u32> {
    let Ok(rd) = fs::read_dir("/proc") else { return Vec::new() };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect()
}

/// Every descendant of `root`, with its start time.
pub fn descendants(root: u32) -> Vec<(u32, u64)> {
    let table: Vec<(u32, Stat)> = all_pids().into_iter().filter_map(|p| Some((p, stat(p)?))).collect();
    let mut out: Vec<(u32, u64)> = Vec::new();
    let mut todo = vec![root];
    // Bounded: each pid enters at most once.
    for _ in 0..table.len() + 1 {
        let Some(parent) = todo.pop() else { break };
        for (p, s) in &table {
            if s.ppid == parent && !out.iter().any(|(q, _)| q == p) {
                out.push((*p, s.starttime));
                todo.push(*p);
            }
        }
    }
    out
}

/// The open fds of `pid`, sorted.
pub fn fds(pid: u32) -> Vec<u32> {
    let mut v: Vec<u32> = fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|rd| rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    v.sort_unstable();
    v
}

/// The environment of `pid`, sorted.
pub fn environ(pid: u32) -> Vec<String> {
    let raw = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let mut v: Vec<String> = raw.split(|&b| b == 0).filter(|w| !w.is_empty()).map(text).collect();
    v.sort();
    v
}

/// Sends `sig` (a name such as TERM) to `pid` with /bin/kill. Only for
/// processes the test started, directly or through svc.
pub fn kill(pid: u32, sig: &str) {
    let out = output_within(Command::new("/bin/kill").arg(format!("-{sig}")).arg(pid.to_string()), CLIENT_TIMEOUT);
    assert!(out.status.success(), "kill -{sig} {pid}: {}", show(&out));
}

/// Real and effective uid are 0.
pub fn is_root() -> bool {
    status_field(std::process::id(), "Uid").is_some_and(|v| v.split_whitespace().take(2).all(|f| f == "0"))
}

/// True when root; otherwise prints a note that `test` is skipped.
pub fn root_or_skip(test: &str) -> bool {
    let root = is_root();
    if !root {
        eprintln!("note: {test} needs root; skipped");
    }
    root
}

/// The gid of group `name` in /etc/group.
pub fn group_gid(name: &str) -> Option<u32> {
    let s = fs::read_to_string("/etc/group").ok()?;
    s.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name)).then(|| f.get(2)?.parse().ok()).flatten()
    })
}

/// VmRSS of `pid` in kB.
pub fn vm_rss_kb(pid: u32) -> u64 {
    let v = status_field(pid, "VmRSS").unwrap_or_else(|| panic!("no VmRSS for {pid}"));
    v.trim_end_matches("kB").trim().parse().unwrap_or_else(|e| panic!("VmRSS {v:?}: {e}"))
}

/// What fd `fd` of `pid` is (the /proc/PID/fd/FD link: a path, `pipe:[N]`, `socket:[N]`).
pub fn fd_target(pid: u32, fd: u32) -> Option<String> {
    Some(fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?.display().to_string())
}

/// The inode of the socket at fd `fd` of `pid` (None when it is not a socket).
pub fn socket_inode(pid: u32, fd: u32) -> Option<u64> {
    fd_target(pid, fd)?.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

/// The inodes of every socket `pid` holds, sorted.
pub fn socket_inodes(pid: u32) -> Vec<u64> {
    let mut v: Vec<u64> = fds(pid).into_iter().filter_map(|fd| socket_inode(pid, fd)).collect();
    v.sort_unstable();
    v
}
