//! Links libc (the libc crate does not without std), drops unread unwind
//! tables and RELRO padding on musl targets, and records the target triple and a build id for
//! `svc version`.
use std::process::Command;

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.contains("musl") {
        // Not bundled into the library's rlib: linked once, into the binary.
        println!("cargo:rustc-link-lib=static:-bundle=c");
        // Drop the unwind tables nothing reads (panic = "abort"); see the script.
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
        let script = format!("{dir}/targets/discard-unwind.ld");
        // rust-lld called directly takes linker flags as they are; a cc
        // driver needs them behind -Wl.
        let linker = std::env::var("RUSTC_LINKER").unwrap_or_default();
        let direct = linker.ends_with("rust-lld") || linker.ends_with("ld.lld");
        let arg = |a: &str| if direct { println!("cargo:rustc-link-arg={a}") } else { println!("cargo:rustc-link-arg=-Wl,{a}") };
        arg(&format!("-T{script}"));
        arg(&format!("-T{dir}/targets/big-bss.ld"));
        // No RELRO: its segment must end on a page boundary, which pads the
        // file by whatever the code leaves of its last 4 KiB page (0 to 4 KB,
        // moving with every change). A static binary has no relocations left
        // to protect after start but its .got and init arrays.
        arg("-znorelro");
        arg("-zcommon-page-size=64");
        println!("cargo:rerun-if-changed=targets/discard-unwind.ld");
        println!("cargo:rerun-if-changed=targets/big-bss.ld");
    } else {
        println!("cargo:rustc-link-lib=c");
    }
    println!("cargo:rustc-env=SVC_TARGET={target}");
    let id = std::env::var("SVC_BUILD_ID").ok().filter(|s| !s.is_empty()).or_else(|| {
        let out = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().ok()?;
        if !out.status.success() {
            return None;
        }
        let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
        let dirty = Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=no"])
            .output()
            .map(|o| !o.stdout.is_empty())
            .unwrap_or(false);
        Some(if dirty { s + "-dirty" } else { s })
    });
    println!("cargo:rustc-env=SVC_BUILD_ID={}", id.as_deref().unwrap_or("unknown"));
    println!("cargo:rerun-if-env-changed=SVC_BUILD_ID");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/index");
}
