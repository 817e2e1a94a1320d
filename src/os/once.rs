//! A take-once cell: hands out a `&'static mut` to a static in .bss exactly
//! once, so that big tables cost no stack and no RSS until touched.
#![allow(unsafe_code)]

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU8, Ordering};

/// Every cell's "taken" flag, one bit each (`BIT`), in one byte among the
/// small statics: a flag beside a big value would keep a page of its own
/// resident (before a page-aligned value, or after its untouched end).
static TAKEN: AtomicU8 = AtomicU8::new(0);

pub struct Once<T, const BIT: u8> {
    value: UnsafeCell<T>,
}

// SAFETY: the value is reachable only through the one `&'static mut` that
// `take` hands out; the atomic flag makes a second take fail.
unsafe impl<T, const BIT: u8> Sync for Once<T, BIT> {}

impl<T, const BIT: u8> Once<T, BIT> {
    pub const fn new(value: T) -> Self {
        Once { value: UnsafeCell::new(value) }
    }
    /// The value, the first time; None after.
    // A `&mut` from `&self` is this type's purpose: the flag makes it unique.
    #[allow(clippy::mut_from_ref)]
    pub fn take(&'static self) -> Option<&'static mut T> {
        if TAKEN.fetch_or(1 << BIT, Ordering::AcqRel) & (1 << BIT) != 0 {
            return None;
        }
        // SAFETY: first and only take (each static has its own BIT): no
        // other reference exists.
        Some(unsafe { &mut *self.value.get() })
    }
}
