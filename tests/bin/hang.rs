//! A program that does nothing for an hour (at most): the reexec test's
//! probe that never answers. std only, built by the harness with rustc.
fn main() {
    for _ in 0..3600 {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}
