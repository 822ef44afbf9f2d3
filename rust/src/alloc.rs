// SPDX-License-Identifier: MIT
//! Allocation flags, and the allocator every object of the crate uses:
//! libgpuvm's, so its live count, fault injection and the checker's
//! "allocation in a fence signalling section" rule see Rust allocations
//! exactly as they see the C library's.

use core::ptr::NonNull;

use crate::bindings;
pub use crate::error::AllocError;

/// Allocation flags (the kernel's `gfp_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(bindings::gpuvm_gfp_t);

impl Flags {
    /// The raw `gpuvm_gfp_t`.
    pub fn as_raw(self) -> bindings::gpuvm_gfp_t {
        self.0
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// The flag constants, at the kernel's path (`alloc::flags`).
pub mod flags {
    use super::Flags;
    use crate::bindings;

    /// May block: not allowed in a fence signalling section.
    pub const GFP_KERNEL: Flags = Flags(bindings::GPUVM_GFP_KERNEL);
    /// Must not block: allowed in a fence signalling section.
    pub const GFP_NOWAIT: Flags = Flags(bindings::GPUVM_GFP_NOWAIT);
    /// As `GFP_NOWAIT` (userspace has no atomic reserves).
    pub const GFP_ATOMIC: Flags = Flags(bindings::GPUVM_GFP_NOWAIT);
    /// Zero the memory.
    pub const __GFP_ZERO: Flags = Flags(bindings::GPUVM_GFP_ZERO);
}

pub use flags::*;

/// libgpuvm's allocator guarantees this alignment (malloc's).
const MAX_ALIGN: usize = 16;

/// Allocates zeroed memory for a `T` through libgpuvm's allocator.
pub(crate) fn kzalloc<T>(flags: Flags) -> Result<NonNull<T>, AllocError> {
    const {
        assert!(
            core::mem::align_of::<T>() <= MAX_ALIGN,
            "libgpuvm's allocator aligns to 16 bytes"
        )
    };
    let size = core::mem::size_of::<T>().max(1);
    // SAFETY: any size and flags may be passed; NULL means failure.
    let ptr = unsafe { bindings::gpuvm_kmalloc(size, (flags | __GFP_ZERO).as_raw()) };
    NonNull::new(ptr.cast()).ok_or(AllocError)
}

/// Frees memory from [`kzalloc`] without dropping anything in it.
///
/// # Safety
///
/// `ptr` came from [`kzalloc`] and is not used afterwards.
pub(crate) unsafe fn kfree<T>(ptr: *mut T) {
    // SAFETY: by the caller's promise.
    unsafe { bindings::gpuvm_kfree(ptr.cast()) }
}
