// SPDX-License-Identifier: MIT

use super::*;

/// One mapping in a VM's tree (a `struct gpuva` and the driver's `VaData`).
///
/// # Invariants
///
/// * In the tree of a `GpuVm<T>`, linked to a registered vm_bo (so it is
///   neither the reserved kernel node nor sparse).
#[repr(C)]
pub struct GpuVa<T: DriverGpuVm> {
    // First: C passes `struct gpuva *`, which is cast to `GpuVa<T>`.
    inner: UnsafeCell<bindings::gpuva>,
    data: T::VaData,
}

impl<T: DriverGpuVm> PartialEq for GpuVa<T> {
    fn eq(&self, other: &Self) -> bool {
        ptr::eq(self.as_raw(), other.as_raw())
    }
}
impl<T: DriverGpuVm> Eq for GpuVa<T> {}

impl<T: DriverGpuVm> GpuVa<T> {
    /// The `GpuVa` of `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is a VA of a `GpuVm<T>`'s tree, linked to a registered vm_bo,
    /// for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::gpuva) -> &'a Self {
        // SAFETY: `inner` is the first field of the repr(C) struct.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The embedded `struct gpuva`.
    pub fn as_raw(&self) -> *mut bindings::gpuva {
        self.inner.get()
    }

    /// The start address.
    pub fn addr(&self) -> u64 {
        // SAFETY: fixed while in the tree.
        unsafe { (*self.as_raw()).va.addr }
    }

    /// The length.
    pub fn length(&self) -> u64 {
        // SAFETY: fixed while in the tree.
        unsafe { (*self.as_raw()).va.range }
    }

    /// `addr..addr + length`.
    pub fn range(&self) -> Range<u64> {
        self.addr()..self.addr() + self.length()
    }

    /// The offset into the GEM object.
    pub fn gem_offset(&self) -> u64 {
        // SAFETY: fixed while in the tree.
        unsafe { (*self.as_raw()).gem.offset }
    }

    /// The GEM object.
    pub fn obj(&self) -> &T::Object {
        // SAFETY: not sparse (invariant); the vm_bo keeps it alive.
        unsafe { <T::Object as IntoGEMObject>::from_raw((*self.as_raw()).gem.obj) }
    }

    /// The vm_bo the mapping is linked to.
    pub fn vm_bo(&self) -> &GpuVmBo<T> {
        // SAFETY: linked (invariant), and the link holds a reference.
        unsafe { GpuVmBo::from_raw((*self.as_raw()).vm_bo) }
    }

    /// The driver data. Only for `Sync` data: a `&GpuVa` can be reached
    /// from several threads through a shared unique handle.
    pub fn data(&self) -> &T::VaData
    where
        T::VaData: Sync,
    {
        &self.data
    }
}

/// Memory for one mapping, allocated before the locks are taken.
///
/// # Invariants
///
/// Zeroed memory from libgpuvm's allocator with the layout of `GpuVa<T>`;
/// no `VaData` in it.
pub struct GpuVaAlloc<T: DriverGpuVm>(NonNull<GpuVa<T>>);

// SAFETY: an owned, empty allocation: no `VaData` lives in it and nothing
// in it is tied to a thread; libgpuvm's allocator frees from any thread.
unsafe impl<T: DriverGpuVm> Send for GpuVaAlloc<T> {}
// SAFETY: no `&self` method reaches the allocation.
unsafe impl<T: DriverGpuVm> Sync for GpuVaAlloc<T> {}

impl<T: DriverGpuVm> GpuVaAlloc<T> {
    /// Allocates the memory of one mapping. In a fence signalling section
    /// use `GFP_NOWAIT` (the checker reports `GFP_KERNEL` there).
    pub fn new(flags: crate::alloc::Flags) -> Result<GpuVaAlloc<T>, AllocError> {
        Ok(GpuVaAlloc(kzalloc::<GpuVa<T>>(flags)?))
    }

    /// Puts `va_data` in and hands the memory to C.
    pub(super) fn prepare(
        self,
        va_data: impl crate::pin_init::PinInit<T::VaData>,
    ) -> *mut bindings::gpuva {
        let me = ManuallyDrop::new(self);
        let raw = me.0.as_ptr();
        // SAFETY: the data field of our allocation, empty until now.
        let Ok(()) = unsafe { va_data.__pinned_init(ptr::addr_of_mut!((*raw).data)) };
        raw.cast()
    }
}

impl<T: DriverGpuVm> Drop for GpuVaAlloc<T> {
    fn drop(&mut self) {
        // SAFETY: ours, with nothing to drop inside.
        unsafe { kfree(self.0.as_ptr()) }
    }
}

/// A mapping taken out of the tree, owning its `VaData`.
///
/// It derefs to the data only: the VM, the vm_bo and the object it used to
/// point at may be gone, so nothing of the C mapping is reachable.
///
/// # Invariants
///
/// Not in any tree, unlinked, with live `VaData`.
pub struct GpuVaRemoved<T: DriverGpuVm>(NonNull<GpuVa<T>>);

impl<T: DriverGpuVm> GpuVaRemoved<T> {
    /// # Safety
    ///
    /// `ptr` was prepared by [`GpuVaAlloc::prepare`], and has been removed
    /// from the tree and unlinked.
    pub(super) unsafe fn from_raw(ptr: *mut bindings::gpuva) -> Self {
        // SAFETY: non-null by the caller's promise.
        GpuVaRemoved(unsafe { NonNull::new_unchecked(ptr.cast()) })
    }

    /// Takes the data out and frees the memory.
    pub fn into_inner(self) -> T::VaData
    where
        T::VaData: Unpin,
    {
        let me = ManuallyDrop::new(self);
        let raw = me.0.as_ptr();
        // SAFETY: we own the data and the memory; each is used once.
        unsafe {
            let data = ptr::addr_of!((*raw).data).read();
            kfree(raw);
            data
        }
    }
}

impl<T: DriverGpuVm> Deref for GpuVaRemoved<T> {
    type Target = T::VaData;
    fn deref(&self) -> &T::VaData {
        // SAFETY: live data (invariant).
        unsafe { &(*self.0.as_ptr()).data }
    }
}

impl<T: DriverGpuVm> core::ops::DerefMut for GpuVaRemoved<T>
where
    T::VaData: Unpin,
{
    fn deref_mut(&mut self) -> &mut T::VaData {
        // SAFETY: live data, owned by us.
        unsafe { &mut (*self.0.as_ptr()).data }
    }
}

impl<T: DriverGpuVm> Drop for GpuVaRemoved<T> {
    fn drop(&mut self) {
        // SAFETY: we own the data and the memory.
        unsafe {
            ptr::drop_in_place(ptr::addr_of_mut!((*self.0.as_ptr()).data));
            kfree(self.0.as_ptr());
        }
    }
}
