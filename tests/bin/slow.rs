//! A probe (and new image) that takes its time: sleeps 2 s, then execs
//! `EXE-real` (EXE: its own path) with its own arguments. The reexec
//! test's way to act while a probe runs. std only, built by the harness
//! with rustc.
use std::os::unix::process::CommandExt;

fn main() {
    std::thread::sleep(std::time::Duration::from_secs(2));
    let exe = std::env::current_exe().expect("its own path");
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_default();
    let err = std::process::Command::new(format!("{}-real", exe.display())).arg0(arg0).args(args).exec();
    eprintln!("slow: exec: {err}");
    std::process::exit(126);
}
