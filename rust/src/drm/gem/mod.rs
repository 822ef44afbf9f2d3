// SPDX-License-Identifier: MIT
//! GEM objects: the traits the GPUVM API relies on, and shmem objects.

use crate::bindings;
use crate::sync::aref::AlwaysRefCounted;

pub mod shmem;

/// A Rust type that embeds a `struct gpuvm_gem_object` and is reference
/// counted by it.
pub trait IntoGEMObject: Sized + AlwaysRefCounted {
    /// The embedded GEM object.
    fn as_raw(&self) -> *mut bindings::gpuvm_gem_object;

    /// The Rust object embedding `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is the GEM object of a live `Self`, kept alive for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::gpuvm_gem_object) -> &'a Self;
}

/// What every GEM object offers.
pub trait BaseObject: IntoGEMObject {
    /// The size in bytes.
    fn size(&self) -> usize {
        // SAFETY: `size` is fixed at initialisation.
        unsafe { (*self.as_raw()).size }
    }

    /// The current reference count (for tests: exact counts).
    fn refcount(&self) -> i32 {
        // SAFETY: a live object.
        unsafe { bindings::gpuvm_gem_object_refcount(self.as_raw()) }
    }

    /// Names the object in libgpuvm's reports (leaks, lock misuse).
    fn set_label(&self, label: &'static core::ffi::CStr) {
        // SAFETY: a live object and a string that outlives it.
        unsafe { bindings::gpuvm_gem_object_set_label(self.as_raw(), label.as_ptr()) }
    }
}

impl<T: IntoGEMObject> BaseObject for T {}
