//! A program that does nothing for an hour (at most): the reexec test's
//! probe that never answers. It first writes the empty file `EXE.ran` (EXE:
//! its own path) so that a test can tell it ran. std only, built by the
//! harness with rustc.
fn main() {
    if let Ok(exe) = std::env::current_exe() {
        let _ = std::fs::write(format!("{}.ran", exe.display()), b"");
    }
    for _ in 0..3600 {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}
