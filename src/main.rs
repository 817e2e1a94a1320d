//! svc: a process supervisor and init for small Linux machines.
//! Entry: argv → cli → verbs; the panic handler; no logic. The pure side
//! is the library (src/lib.rs); the OS layer and the verbs live here.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
#![deny(unsafe_code)]
// Unit tests compile without the entry point, so most of the OS side is unused there.
#![cfg_attr(test, allow(dead_code, unused_imports))]

mod os;
mod verbs;

// The pure side (src/lib.rs), under the names the OS layer and verbs use.
use svc::{
    addr, adopt, cli, clients, config, duration, init, limits, notify, order, pin, proto, reload, reply, ring, service, signame, state,
    status, supervisor, text,
};

#[cfg(not(test))]
use core::ffi::{c_char, c_int};

/// The C runtime calls this with argv. Everything after is safe code.
#[cfg(not(test))]
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
// The C runtime's entry point: its pointers are the runtime's promise.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // In .bss, not on the stack under every frame of `svc up`; after the
    // small statics (targets/big-bss.ld), as only its first entries are written.
    // Only the section name is overridden: still zero-initialised .bss.
    #[allow(unsafe_code)]
    #[unsafe(link_section = ".bss.~words")]
    static WORDS: os::once::Once<cli::Words<'static>, 2> = os::once::Once::new(heapless::Vec::new());
    let Some(words) = WORDS.take() else { return 1 };
    let n = usize::try_from(argc).unwrap_or(0);
    for i in 0..n.min(limits::MAX_CMDLINE) {
        // SAFETY: the C runtime hands main `argc` valid NUL-terminated strings
        // that live until exit.
        let p = unsafe { *argv.add(i) };
        if p.is_null() {
            break;
        }
        // SAFETY: as above; non-null and NUL-terminated.
        let w: &'static [u8] = unsafe { os::process::c_bytes(p) };
        let _ = words.push(w);
    }
    verbs::main(words)
}

#[cfg(not(test))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    // The location only: formatting the message would link core::fmt.
    let mut b = text::Buf::<160>::new();
    b.push(b"svc: panic");
    if let Some(l) = info.location() {
        let _ = ufmt::uwrite!(b, " at {}:{}", l.file(), l.line());
    }
    // svc goes on as a new image that adopts what runs (os/crash.rs).
    os::crash::again(b.as_bytes(), b"")
}

/// The host (glibc) dev build links against an unwinder that asks for this;
/// with panic = "abort" it is never called.
#[cfg(not(test))]
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}
