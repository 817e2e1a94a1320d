//! Replays every file of fuzz/corpus/TARGET/ through that fuzz target's
//! entry point (svc::fuzzing, with the same asserts), so that a regression
//! on an input the fuzzer once found fails here, with no fuzzer installed.
//! Needs the `fuzzing` feature: `cargo test --features fuzzing --test fuzz_corpus`
//! (ci/test runs it so).
#![cfg(feature = "fuzzing")]

use std::path::Path;

fn replay(target: &str) {
    let run = svc::fuzzing::TARGETS.iter().find(|(name, _)| *name == target).map(|(_, run)| *run).expect("a target");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: no corpus", dir.display());
    for path in files {
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Named on failure: the panic message alone does not say which file.
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            panic!("fuzz target {target} fails on {}", path.display());
        }
    }
}

/// Every target is replayed here and has a cargo-fuzz target in fuzz/.
#[test]
fn every_target_is_replayed() {
    let names: Vec<_> = svc::fuzzing::TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, REPLAYED);
    for name in names {
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets").join(format!("{name}.rs"));
        assert!(target.exists(), "{}: missing", target.display());
    }
}

macro_rules! replays {
    ($($name:ident)*) => {
        const REPLAYED: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                replay(stringify!($name))
            }
        )*
    };
}

replays!(config env_file exec duration size addr passwd request reply_head notify state);
