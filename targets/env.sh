# Per-target build settings that only this kind of host needs (Debian 12,
# toolchains from Debian packages). Sourced by ci/test; a developer can
# `. targets/env.sh` too. Each variable names its target, so nothing here
# reaches another target's build. `cross` builds must not see these: its image
# has its own toolchain (ci/test unsets them there; Cross.toml has cross's).

# armv7-unknown-linux-musleabihf (built with nightly -Z build-std=core here).
# Linker: the wrapper from musl-dev:armhf (the gnueabihf gcc with musl's specs).
# -C link-self-contained=no  Debian's musl crt files and libc.a, not rustc's.
# -Wl,-Bstatic               rustc's own -Wl,-Bdynamic would ask for an
#                            interpreter that does not exist.
# -lgcc_eh                   __aeabi_unwind_cpp_pr0, which ARM unwind tables name.
# -lc (again)                libgcc_eh needs abort.
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_MUSLEABIHF_LINKER=arm-linux-musleabihf-gcc
# +thumb-mode                Thumb-2, which every ARMv7-A core runs: 24% smaller
#                            than ARM mode (also in .cargo/config.toml and
#                            Cross.toml: this variable replaces those flags).
# -inline-threshold, -tail-merge-size: LLVM size knobs (see .cargo/config.toml).
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_MUSLEABIHF_RUSTFLAGS="-C target-feature=+thumb-mode -C llvm-args=-inline-threshold=8 -C llvm-args=-tail-merge-size=1 -C link-self-contained=no -C link-arg=-Wl,-Bstatic -C link-arg=-lgcc_eh -C link-arg=-lc"

# aarch64-unknown-linux-musl: rust-lld, from .cargo/config.toml (every user
# needs it, not only this host). x86_64 and i686 musl: nothing to set.
