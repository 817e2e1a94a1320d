//! Helper programs the tests run as services, built from `tests/bin/NAME.rs`
//! with the host's rustc (std only, no crates) on first use: the svc package
//! stays one binary, and a clean checkout needs nothing but the toolchain
//! that runs `cargo test`.
//!
//! A build goes to `CARGO_TARGET_TMPDIR/test-bins/NAME-HASH` (HASH of the
//! source text): once per test process (`OnceLock`), and not at all when a
//! binary of the same source is there; builds of older sources are removed.
//! Concurrent builds (test binaries run in parallel) each write a file of
//! their own and rename it into place.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::run::{output_within, secs, show};

/// How long rustc may take to build one helper.
const BUILD_TIMEOUT: std::time::Duration = secs(300);

/// FNV-1a: a stable hash (std's DefaultHasher may change between releases).
fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `tests/bin/NAME.rs` built (optimised, for the host) and its path.
fn build(name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bin").join(format!("{name}.rs"));
    let text = fs::read(&src).unwrap_or_else(|e| panic!("read {}: {e}", src.display()));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-bins");
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    let out = dir.join(format!("{name}-{:016x}", fnv(&text)));
    if out.is_file() {
        return out;
    }
    let tmp = dir.join(format!("{name}.tmp{}", std::process::id()));
    // rustc as cargo runs it: $RUSTC when set, else the rustc on PATH (under
    // rustup, the toolchain cargo was started with: RUSTUP_TOOLCHAIN).
    let rustc = std::env::var("RUSTC").ok().filter(|r| !r.is_empty()).unwrap_or_else(|| "rustc".to_string());
    let mut cmd = Command::new(&rustc);
    cmd.args(["--edition", "2021", "-O", "--crate-type", "bin", "--crate-name", name, "-o"]).arg(&tmp).arg(&src);
    // Flags meant for the package's targets (targets/env.sh) are not for this host build.
    cmd.env_remove("RUSTFLAGS").env_remove("CARGO_ENCODED_RUSTFLAGS");
    let res = output_within(&mut cmd, BUILD_TIMEOUT);
    assert!(res.status.success(), "building {} with {rustc}: {}", src.display(), show(&res));
    fs::rename(&tmp, &out).unwrap_or_else(|e| panic!("rename {} to {}: {e}", tmp.display(), out.display()));
    // Builds of earlier versions of the source (a process running one keeps it).
    let stale = format!("{name}-");
    for e in fs::read_dir(&dir).into_iter().flatten().flatten() {
        if e.file_name().to_str().is_some_and(|f| f.starts_with(&stale)) && e.path() != out {
            let _ = fs::remove_file(e.path());
        }
    }
    out
}

/// `tests/bin/slow.rs`: sleeps 2 s, then execs `ITS_PATH-real` with its arguments.
pub fn slow() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build("slow"))
}

/// The test server (`tests/bin/echo_server.rs`; its options are described there).
pub fn echo_server() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build("echo_server"))
}

/// `tests/bin/hang.rs`: sleeps for an hour, whatever its arguments.
pub fn hang() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build("hang"))
}

/// `exec =` text running the test server with `args`.
pub fn echo_exec(args: &str) -> String {
    let p = echo_server().display().to_string();
    assert!(!p.contains([' ', '"', '\\']), "the test server's path needs quoting in a config: {p}");
    match args.is_empty() {
        true => p,
        false => format!("{p} {args}"),
    }
}

/// The path of `program` on PATH (a Debian package's server, such as
/// gunicorn); None, with a note that `test` is skipped, when it is not
/// installed, except under CI (`$CI` set), where ci/setup installs `packages`
/// and a missing one fails the test.
pub fn program_or_skip(test: &str, program: &str, packages: &str) -> Option<String> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path.split(':').filter(|d| d.starts_with('/')).map(|d| Path::new(d).join(program)).find(|p| p.is_file());
    let found = found.map(|p| p.display().to_string());
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "{test}: {program} is not installed (ci/setup installs {packages})");
        eprintln!("note: {test} needs {program} (apt-get install {packages}); skipped");
    }
    found
}
