//! The harness of the integration tests: runs the real svc binary (`$SVC_BIN`,
//! else the one cargo built; prefixed by `$SVC_RUNNER`, such as
//! `qemu-arm-static`, when set) on a config in a fresh temporary directory,
//! and watches it through `svc status` and /proc.
//!
//! Rules every test follows: each loop is bounded in count and in time; a
//! condition is waited for with `wait_until`, never a bare sleep (sleeps only
//! measure idleness or spread events); no wall-clock duration is asserted
//! (orders, ratios and counts are); only processes the test started are
//! ended, by pid; the network is loopback only (127.0.0.0/8, ::1).
//!
//! The harness by concept (each re-exported here, so that a test says
//! `mod common; use common::*;`):
//! - `run`: the binary, client commands with a deadline, timeouts, waiting;
//! - `procfs`: processes through /proc, signals, root and groups;
//! - `files`: files the services write, cleanup of outside paths;
//! - `replies`: status lines, reload replies, log line form;
//! - `svc`: the `Svc` fixture (directory, config, start, stop, drop);
//! - `client`: queries of a running svc, raw control connections, `Follower`;
//! - `json`: the strict JSON reader;
//! - `bins`: helper programs built from `tests/bin/` (the test server);
//! - `load`: a bounded load client for held sockets (loopback only).
// Each test file uses a part of the harness: what it leaves unused (items,
// and re-exports of whole modules) is not a mistake.
#![allow(dead_code, unused_imports)]

mod bins;
mod client;
mod files;
mod json;
mod load;
mod procfs;
mod replies;
mod run;
mod svc;

pub use bins::*;
pub use client::*;
pub use files::*;
pub use json::*;
pub use load::*;
pub use procfs::*;
pub use replies::*;
pub use run::*;
pub use svc::*;
