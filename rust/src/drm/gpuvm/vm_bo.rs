// SPDX-License-Identifier: MIT

use super::*;

/// The registration of one GEM object in one VM (a `struct gpuvm_bo` and
/// the driver's `VmBoData`), reference counted.
///
/// # Invariants
///
/// * Allocated by libgpuvm's allocator and governed by `inner`'s
///   reference count.
/// * On its object's vm_bo list (registered): the only ways to reach one
///   are [`GpuVm::obtain`], a mapping's [`GpuVa::vm_bo`] and
///   [`OpMap::vm_bo`], and all of them give registered ones.
#[repr(C)]
pub struct GpuVmBo<T: DriverGpuVm> {
    // First, and load-bearing: C passes `struct gpuvm_bo *`, which is
    // cast to `GpuVmBo<T>`; C allocates and frees it through the hooks.
    inner: UnsafeCell<bindings::gpuvm_bo>,
    data: T::VmBoData,
}

// SAFETY: sending a `GpuVmBo<T>` lets another thread drop it, which drops
// `T::VmBoData` and a reference on `T::Object`, both `Send` by the trait.
// The final put is the library's deferred put, which only takes the
// object's gpuva mutex (any thread may) and pushes onto a lock-free list.
unsafe impl<T: DriverGpuVm> Send for GpuVmBo<T> {}
// SAFETY: `&GpuVmBo<T>` shares `&T::VmBoData` and `&T::Object` (both
// `Sync`) and lets any thread take and drop references (both `Send`);
// the C fields it reads (`vm`, `obj`) never change.
unsafe impl<T: DriverGpuVm> Sync for GpuVmBo<T> {}

// SAFETY: the C reference count governs the allocation.
unsafe impl<T: DriverGpuVm> AlwaysRefCounted for GpuVmBo<T> {
    fn inc_ref(&self) {
        // SAFETY: a live vm_bo.
        unsafe { bindings::gpuvm_bo_get(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller gives up one reference; every VM of this
        // crate is in immediate mode, so the deferred put applies.
        unsafe { bindings::gpuvm_bo_put_deferred(obj.as_ptr().cast()) };
    }
}

impl<T: DriverGpuVm> PartialEq for GpuVmBo<T> {
    fn eq(&self, other: &Self) -> bool {
        ptr::eq(self.as_raw(), other.as_raw())
    }
}
impl<T: DriverGpuVm> Eq for GpuVmBo<T> {}

impl<T: DriverGpuVm> GpuVmBo<T> {
    /// `vm_bo_alloc` of the VM's ops: `None` (the library's own zeroed
    /// allocation of the C size) when `GpuVmBo<T>` has the C struct's
    /// size and alignment, else a Rust hook of the right size. Independent
    /// of `FREE_FN`; both go through libgpuvm's allocator, so any pairing
    /// is sound.
    pub(super) const ALLOC_FN: Option<unsafe extern "C" fn() -> *mut bindings::gpuvm_bo> = {
        let c = core::alloc::Layout::new::<bindings::gpuvm_bo>();
        let rust = core::alloc::Layout::new::<Self>();
        assert!(c.size() <= rust.size());
        if c.size() != rust.size() || c.align() != rust.align() {
            Some(Self::vm_bo_alloc)
        } else {
            None
        }
    };

    /// `vm_bo_free` of the VM's ops: a Rust hook only when the data needs
    /// dropping.
    pub(super) const FREE_FN: Option<unsafe extern "C" fn(*mut bindings::gpuvm_bo)> =
        if core::mem::needs_drop::<Self>() {
            Some(Self::vm_bo_free)
        } else {
            None
        };

    unsafe extern "C" fn vm_bo_alloc() -> *mut bindings::gpuvm_bo {
        kzalloc::<Self>(GFP_KERNEL).map_or(ptr::null_mut(), |p| p.as_ptr().cast())
    }

    unsafe extern "C" fn vm_bo_free(raw: *mut bindings::gpuvm_bo) {
        let me = raw.cast::<Self>();
        // SAFETY: the library frees a vm_bo whose data was initialised
        // (GpuVmBoAlloc::new initialises it before anything can free it).
        unsafe {
            ptr::drop_in_place(ptr::addr_of_mut!((*me).data));
            kfree(me);
        }
    }

    /// The `GpuVmBo` of `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is a registered vm_bo of a `GpuVm<T>`, alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::gpuvm_bo) -> &'a Self {
        // SAFETY: `inner` is the first field of the repr(C) struct.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The embedded `struct gpuvm_bo`.
    pub fn as_raw(&self) -> *mut bindings::gpuvm_bo {
        self.inner.get()
    }

    /// The VM (the vm_bo holds a reference on it).
    pub fn gpuvm(&self) -> &GpuVm<T> {
        // SAFETY: `vm` is fixed and referenced by this vm_bo.
        unsafe { GpuVm::from_raw((*self.as_raw()).vm) }
    }

    /// The GEM object (the vm_bo holds a reference on it).
    pub fn obj(&self) -> &T::Object {
        // SAFETY: `obj` is fixed and referenced by this vm_bo.
        unsafe { <T::Object as IntoGEMObject>::from_raw((*self.as_raw()).obj) }
    }

    /// The driver data.
    pub fn data(&self) -> &T::VmBoData {
        &self.data
    }

    /// The reference count (libgpuvm addition, for exact tests).
    pub fn refcount(&self) -> i32 {
        // SAFETY: an atomic int of a live vm_bo.
        unsafe { super::refcount_of(ptr::addr_of_mut!((*self.as_raw()).kref)) }
    }

    /// Takes the object's gpuva mutex (the lock of its vm_bo list).
    pub(super) fn lock_gpuva(&self) -> GpuvaGuard<'_> {
        // SAFETY: the object is alive (referenced by this vm_bo).
        let lock = unsafe { ptr::addr_of_mut!((*self.obj().as_raw()).gpuva.lock) };
        // SAFETY: an initialised mutex.
        unsafe { bindings::gpuvm_mutex_lock(lock) };
        GpuvaGuard {
            lock,
            _bo: core::marker::PhantomData,
        }
    }
}

/// Holds a GEM object's gpuva mutex.
pub(super) struct GpuvaGuard<'a> {
    lock: *mut bindings::gpuvm_mutex,
    _bo: core::marker::PhantomData<&'a ()>,
}

impl Drop for GpuvaGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: locked by `lock_gpuva` on this thread (the guard is `!Send`).
        unsafe { bindings::gpuvm_mutex_unlock(self.lock) };
    }
}

/// A vm_bo created but not registered yet.
///
/// It cannot be used where a registered [`GpuVmBo`] is expected (it does
/// not deref to one) and drivers cannot create one: [`GpuVm::obtain`]
/// creates and registers in one call.
///
/// # Invariants
///
/// Reference count one, data initialised, on no list.
pub struct GpuVmBoAlloc<T: DriverGpuVm>(NonNull<GpuVmBo<T>>);

impl<T: DriverGpuVm> GpuVmBoAlloc<T> {
    /// Creates the vm_bo of (`gpuvm`, `gem`) with `value` as its data.
    ///
    /// The initialiser cannot fail on purpose: once created, the vm_bo is
    /// freed through `vm_bo_free`, which drops the data.
    pub(super) fn new(
        gpuvm: &GpuVm<T>,
        gem: &T::Object,
        value: impl crate::pin_init::PinInit<T::VmBoData>,
    ) -> Result<Self, AllocError> {
        // SAFETY: a live VM and object; the result has `GpuVmBo<T>`'s layout
        // (ALLOC_FN).
        let raw =
            unsafe { bindings::gpuvm_bo_create(gpuvm.as_raw(), gem.as_raw()) }.cast::<GpuVmBo<T>>();
        let ptr = NonNull::new(raw).ok_or(AllocError)?;
        // SAFETY: the data field of a fresh vm_bo.
        let Ok(()) = unsafe { value.__pinned_init(ptr::addr_of_mut!((*raw).data)) };
        Ok(GpuVmBoAlloc(ptr))
    }

    fn as_raw(&self) -> *mut bindings::gpuvm_bo {
        self.0.as_ptr().cast()
    }

    /// Registers the vm_bo, or takes a reference on the one already
    /// registered (this one is then destroyed, outside the gpuva mutex),
    /// and puts the result on the extobj list if the object is external.
    ///
    /// The caller holds neither the object's gpuva mutex nor a reservation.
    pub(super) fn obtain(self) -> ARef<GpuVmBo<T>> {
        let me = ManuallyDrop::new(self);
        // SAFETY: an unlisted vm_bo with one reference, given to the call.
        let raw = unsafe { bindings::gpuvm_bo_obtain_prealloc(me.as_raw()) };
        // SAFETY: never NULL; it carries one reference for us.
        let ret = unsafe { ARef::from_raw(NonNull::new_unchecked(raw.cast::<GpuVmBo<T>>())) };
        // Every obtain does it, not only the one that registered: another
        // thread's obtain of the same vm_bo must not return before it is
        // on the list.
        if ret.gpuvm().is_extobj(ret.obj()) {
            ret.gpuvm().with_resv(|| {
                // SAFETY: we hold the VM's reservation.
                unsafe { bindings::gpuvm_bo_extobj_add(raw) }
            });
        }
        ret
    }
}

impl<T: DriverGpuVm> Drop for GpuVmBoAlloc<T> {
    fn drop(&mut self) {
        // Never listed, so destroyed directly rather than queued as a
        // zombie (the kernel's follow-up; the merged version queues it).
        // SAFETY: one reference, no list, no gpuva mutex held.
        unsafe { bindings::gpuvm_bo_destroy_not_in_lists(self.as_raw()) };
    }
}
