// SPDX-License-Identifier: MIT
//! The part of the kernel's pin-init the GPUVM API uses: initialisers for
//! data placed in memory that C allocated. A value is its own initialiser;
//! [`init_zeroed`] writes zeroes. Userspace needs no pinning guarantees
//! beyond "the crate never moves what C points at", so `PinInit` and
//! `Init` are the same thing here.

use core::convert::Infallible;
use core::marker::PhantomData;

/// Something that can initialise a `T` in place.
///
/// # Safety
///
/// An implementation that returns `Ok` has fully initialised `*slot`.
pub unsafe trait PinInit<T, E = Infallible>: Sized {
    /// Initialises `*slot`.
    ///
    /// # Safety
    ///
    /// `slot` is valid for writes and holds no value that needs dropping.
    unsafe fn __pinned_init(self, slot: *mut T) -> Result<(), E>;
}

/// `Init` is `PinInit` here (nothing is ever moved after initialisation).
pub use PinInit as Init;

// SAFETY: writing the value initialises the slot.
unsafe impl<T> PinInit<T> for T {
    unsafe fn __pinned_init(self, slot: *mut T) -> Result<(), Infallible> {
        // SAFETY: the caller gives a writable slot.
        unsafe { slot.write(self) };
        Ok(())
    }
}

/// Types for which all-zero bytes are a valid value.
///
/// # Safety
///
/// The all-zero bit pattern must be a valid `Self`.
pub unsafe trait Zeroable {}

macro_rules! zeroable {
    ($($t:ty),*) => { $(
        // SAFETY: zero is a valid value of this type.
        unsafe impl Zeroable for $t {}
    )* };
}
zeroable!(
    (),
    bool,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64
);
// SAFETY: an array of zeroable elements is zeroable.
unsafe impl<T: Zeroable, const N: usize> Zeroable for [T; N] {}
// SAFETY: None is the all-zero pattern of an optional non-null pointer.
unsafe impl<T> Zeroable for Option<core::ptr::NonNull<T>> {}
// SAFETY: a phantom has no bytes.
unsafe impl<T: ?Sized> Zeroable for PhantomData<T> {}

/// The initialiser [`init_zeroed`] returns.
pub struct InitZeroed<T>(PhantomData<fn() -> T>);

// SAFETY: zeroing initialises a `Zeroable` type.
unsafe impl<T: Zeroable> PinInit<T> for InitZeroed<T> {
    unsafe fn __pinned_init(self, slot: *mut T) -> Result<(), Infallible> {
        // SAFETY: the caller gives a writable slot; zero is valid for T.
        unsafe { core::ptr::write_bytes(slot, 0, 1) };
        Ok(())
    }
}

/// An initialiser that fills a `T` with zeroes.
pub fn init_zeroed<T: Zeroable>() -> InitZeroed<T> {
    InitZeroed(PhantomData)
}

/// An initialiser from a closure.
pub struct InitFn<F, T>(F, PhantomData<fn() -> T>);

// SAFETY: the closure's contract is the trait's.
unsafe impl<T, E, F: FnOnce(*mut T) -> Result<(), E>> PinInit<T, E> for InitFn<F, T> {
    unsafe fn __pinned_init(self, slot: *mut T) -> Result<(), E> {
        (self.0)(slot)
    }
}

/// An initialiser that runs `f` on the slot.
///
/// # Safety
///
/// `f` must fully initialise the slot whenever it returns `Ok`.
pub unsafe fn init_from_closure<T, E, F: FnOnce(*mut T) -> Result<(), E>>(f: F) -> InitFn<F, T> {
    InitFn(f, PhantomData)
}
