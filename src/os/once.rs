//! A take-once cell: hands out a `&'static mut` to a static in .bss exactly
//! once, so that big tables cost no stack and no RSS until touched.
#![allow(unsafe_code)]

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

/// The flag first (`repr(C)`): after a big value it would keep a page of
/// its own resident.
#[repr(C)]
pub struct Once<T> {
    taken: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reachable only through the one `&'static mut` that
// `take` hands out; the atomic flag makes a second take fail.
unsafe impl<T> Sync for Once<T> {}

impl<T> Once<T> {
    pub const fn new(value: T) -> Self {
        Once { taken: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }
    /// The value, the first time; None after.
    // A `&mut` from `&self` is this type's purpose: the flag makes it unique.
    #[allow(clippy::mut_from_ref)]
    pub fn take(&'static self) -> Option<&'static mut T> {
        if self.taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: first and only take: no other reference exists.
        Some(unsafe { &mut *self.value.get() })
    }
}
