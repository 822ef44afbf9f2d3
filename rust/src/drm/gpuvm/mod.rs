// SPDX-License-Identifier: MIT
//! GPUVM in immediate mode, with the kernel's Rust API (`kernel::drm::gpuvm`).
//!
//! Every VM is created with `IMMEDIATE_MODE | RESV_PROTECTED`, as the
//! kernel's abstraction does. What protects what, in libgpuvm's terms:
//!
//! * the VA tree and the driver data `T`: the unique handle
//!   [`UniqueRefGpuVm`] (`&mut` for [`sm_map`](UniqueRefGpuVm::sm_map) and
//!   [`sm_unmap`](UniqueRefGpuVm::sm_unmap)); drivers keep it in a mutex,
//!   which is their VA lock;
//! * a GEM object's vm_bo list and a vm_bo's VA list: the object's gpuva
//!   mutex, taken inside the library and by [`OpMap::insert`] /
//!   [`OpRemap::remap`] only;
//! * the extobj and evict lists: the VM's reservation (`r_obj`'s);
//! * the deferred list: lock-free; dropping the last `ARef<GpuVmBo>`
//!   queues the vm_bo, [`GpuVm::deferred_cleanup`] frees it.
//!
//! The memory of `GpuVm<T>`, `GpuVmBo<T>` and `GpuVa<T>` comes from
//! libgpuvm's allocator, so its live count and leak report cover it.

use core::cell::UnsafeCell;
use core::ffi::CStr;
use core::mem::ManuallyDrop;
use core::ops::{Deref, Range};
use core::ptr::{self, NonNull};

use crate::alloc::{kfree, kzalloc, AllocError, GFP_KERNEL};
use crate::bindings;
use crate::drm::{self, gem::IntoGEMObject};
use crate::error::Error;
use crate::sync::aref::{ARef, AlwaysRefCounted};

mod sm_ops;
pub use self::sm_ops::*;

mod vm_bo;
pub use self::vm_bo::*;

mod va;
pub use self::va::*;

/// A GPU virtual address space, reference counted.
///
/// The mappings and the driver data are reached only through the unique
/// handle [`UniqueRefGpuVm`]; `&GpuVm` offers what may run concurrently.
///
/// # Invariants
///
/// * The allocation is governed by the reference count of `vm`.
/// * `data` and the VA tree are accessed only through the one
///   [`UniqueRefGpuVm`] of the VM.
/// * No sparse VA is ever inserted.
#[repr(C)]
pub struct GpuVm<T: DriverGpuVm> {
    // First: the C callbacks get `struct gpuvm *` and cast it back.
    vm: UnsafeCell<bindings::gpuvm>,
    data: UnsafeCell<T>,
    // The VM keeps its DRM device alive, as the kernel's takes a reference.
    dev: ManuallyDrop<ARef<drm::Device<T::Driver>>>,
}

// SAFETY: everything reachable through a `GpuVm<T>` (`T`, `T::VmBoData`,
// `T::Object`) is `Send` by the `DriverGpuVm` bounds, and the C VM is
// freed by whichever thread drops the last reference.
unsafe impl<T: DriverGpuVm> Send for GpuVm<T> {}
// SAFETY: `&self` methods take the C library's locks (the VM's reservation
// for the extobj list, the gpuva mutex for the GEM's list) or use atomics
// (reference count, deferred list); they reach only `Sync` data
// (`T::VmBoData`, `T::Object`), and `T` itself only through the unique
// handle.
unsafe impl<T: DriverGpuVm> Sync for GpuVm<T> {}

// SAFETY: the C reference count governs the allocation (`vm_free` frees it).
unsafe impl<T: DriverGpuVm> AlwaysRefCounted for GpuVm<T> {
    fn inc_ref(&self) {
        // SAFETY: a live VM.
        unsafe { bindings::gpuvm_get(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller gives up one reference.
        unsafe { bindings::gpuvm_put(obj.as_ref().as_raw()) };
    }
}

impl<T: DriverGpuVm> PartialEq for GpuVm<T> {
    fn eq(&self, other: &Self) -> bool {
        ptr::eq(self.as_raw(), other.as_raw())
    }
}
impl<T: DriverGpuVm> Eq for GpuVm<T> {}

impl<T: DriverGpuVm> GpuVm<T> {
    const VTABLE: &'static bindings::gpuvm_ops = &bindings::gpuvm_ops {
        vm_free: Some(Self::vm_free),
        op_alloc: None,
        op_free: None,
        vm_bo_alloc: GpuVmBo::<T>::ALLOC_FN,
        vm_bo_free: GpuVmBo::<T>::FREE_FN,
        vm_bo_validate: None,
        sm_step_map: Some(Self::sm_step_map),
        sm_step_remap: Some(Self::sm_step_remap),
        sm_step_unmap: Some(Self::sm_step_unmap),
    };

    /// Creates a VM over `range`, with `reserve_range` kept for the kernel
    /// (empty: none), whose reservation is `r_obj`'s.
    ///
    /// The flags are always `IMMEDIATE_MODE | RESV_PROTECTED`. The result
    /// holds the initial reference and is the VM's only unique handle.
    #[allow(clippy::new_ret_no_self)]
    pub fn new<E, Ctx: drm::DeviceContext>(
        name: &'static CStr,
        dev: &drm::Device<T::Driver, Ctx>,
        r_obj: &T::Object,
        range: Range<u64>,
        reserve_range: Range<u64>,
        data: T,
    ) -> Result<UniqueRefGpuVm<T>, E>
    where
        E: From<AllocError>,
        E: From<core::convert::Infallible>,
    {
        // Zeroed, as the kernel's gpuvm_init expects.
        let me = kzalloc::<Self>(GFP_KERNEL)?.as_ptr();
        // SAFETY: a fresh allocation we own; once `gpuvm_init` returned the
        // C reference count governs it and `vm_free` frees it.
        unsafe {
            ptr::addr_of_mut!((*me).data).write(UnsafeCell::new(data));
            // The device context is a phantom: every `drm::Device<D, C>` has
            // the same layout and reference count.
            let dev =
                &*(dev as *const drm::Device<T::Driver, Ctx>).cast::<drm::Device<T::Driver>>();
            ptr::addr_of_mut!((*me).dev).write(ManuallyDrop::new(ARef::from(dev)));
            bindings::gpuvm_init(
                (*me).vm.get(),
                name.as_ptr(),
                bindings::GPUVM_IMMEDIATE_MODE | bindings::GPUVM_RESV_PROTECTED,
                r_obj.as_raw(),
                range.start,
                range.end.wrapping_sub(range.start),
                reserve_range.start,
                reserve_range.end.wrapping_sub(reserve_range.start),
                Self::VTABLE,
            );
            // INVARIANT: the initial reference, and the only handle.
            Ok(UniqueRefGpuVm(ARef::from_raw(NonNull::new_unchecked(me))))
        }
    }

    /// The `GpuVm` embedding `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is the `struct gpuvm` of a live `GpuVm<T>`, alive for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::gpuvm) -> &'a Self {
        // SAFETY: `vm` is the first field of the repr(C) struct.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The embedded `struct gpuvm`.
    pub fn as_raw(&self) -> *mut bindings::gpuvm {
        self.vm.get()
    }

    /// The start of the VA space.
    pub fn va_start(&self) -> u64 {
        // SAFETY: fixed at initialisation.
        unsafe { (*self.as_raw()).mm_start }
    }

    /// The length of the VA space.
    pub fn va_length(&self) -> u64 {
        // SAFETY: fixed at initialisation.
        unsafe { (*self.as_raw()).mm_range }
    }

    /// The VA space.
    pub fn va_range(&self) -> Range<u64> {
        self.va_start()..self.va_start() + self.va_length()
    }

    /// The vm_bo of `obj` in this VM, created if needed, with `data` for a
    /// new one (dropped if one existed already).
    ///
    /// Allocates and, for an object that does not share the VM's
    /// reservation, takes that reservation to put the vm_bo on the extobj
    /// list (every time: a second thread obtaining the same vm_bo must not
    /// use it before it is listed). So: not in a fence signalling section,
    /// and not while holding a reservation or the object's gpuva mutex.
    ///
    /// Dropping the result without mapping anything queues the vm_bo for
    /// [`deferred_cleanup`](Self::deferred_cleanup), like any last drop: a
    /// driver that returns early after `obtain` should still run the
    /// cleanup it runs after a map.
    pub fn obtain(
        &self,
        obj: &T::Object,
        data: impl crate::pin_init::PinInit<T::VmBoData>,
    ) -> Result<ARef<GpuVmBo<T>>, AllocError> {
        Ok(GpuVmBoAlloc::new(self, obj, data)?.obtain())
    }

    /// Frees the vm_bos whose last reference was dropped since the last
    /// call. Takes the VM's reservation: not in a fence signalling section
    /// and not while holding it.
    pub fn deferred_cleanup(&self) {
        // SAFETY: an immediate-mode VM.
        unsafe { bindings::gpuvm_bo_deferred_cleanup(self.as_raw()) }
    }

    /// Whether `obj` is external to this VM (does not share its
    /// reservation).
    pub fn is_extobj(&self, obj: &T::Object) -> bool {
        // SAFETY: any VM and object.
        unsafe { bindings::gpuvm_is_extobj(self.as_raw(), obj.as_raw()) }
    }

    fn raw_resv(&self) -> *mut bindings::gpuvm_dma_resv {
        // SAFETY: `r_obj` is fixed and alive as long as the VM.
        unsafe { (*(*self.as_raw()).r_obj).resv }
    }

    unsafe extern "C" fn vm_free(raw: *mut bindings::gpuvm) {
        let me = raw.cast::<Self>();
        // SAFETY: the reference count reached zero: drop the Rust parts
        // and free the allocation.
        unsafe {
            ptr::drop_in_place((*me).data.get());
            ManuallyDrop::drop(&mut (*me).dev);
            kfree(me);
        }
    }
}

/// libgpuvm's additions for tests: exact state, read under the right lock.
impl<T: DriverGpuVm> GpuVm<T> {
    /// The VM's reference count: the handles (`UniqueRefGpuVm` and `ARef`
    /// clones), plus one per vm_bo (zombies included) and one per mapping,
    /// as in the kernel.
    pub fn refcount(&self) -> i32 {
        // SAFETY: an atomic int of a live VM.
        unsafe { refcount_of(ptr::addr_of_mut!((*self.as_raw()).kref)) }
    }

    /// The vm_bos on the extobj list, in list order (zombies included,
    /// as the list holds them until cleanup). Takes the VM's reservation.
    pub fn extobj_list(&self) -> Vec<*const GpuVmBo<T>> {
        self.with_resv(|| {
            // SAFETY: the list is protected by the reservation we hold.
            unsafe {
                let head = ptr::addr_of_mut!((*self.as_raw()).extobj.list);
                list_entries(
                    head,
                    core::mem::offset_of!(bindings::gpuvm_bo, list.entry.extobj),
                )
            }
        })
    }

    fn with_resv<R>(&self, f: impl FnOnce() -> R) -> R {
        let resv = self.raw_resv();
        // SAFETY: the VM's reservation lives as long as the VM; a relock
        // is reported by the library and not unlocked here.
        let ret = unsafe { bindings::gpuvm_ww_mutex_lock(resv.cast(), ptr::null_mut()) };
        let r = f();
        if ret == 0 {
            // SAFETY: locked above.
            unsafe { bindings::gpuvm_dma_resv_unlock(resv) };
        }
        r
    }
}

/// Reads a C atomic reference count.
///
/// # Safety
///
/// `kref` points at a live C `int` only changed atomically.
unsafe fn refcount_of(kref: *mut core::ffi::c_int) -> i32 {
    // SAFETY: by the caller's promise.
    unsafe {
        core::sync::atomic::AtomicI32::from_ptr(kref).load(core::sync::atomic::Ordering::Relaxed)
    }
}

/// The containers of the nodes of a C list.
///
/// # Safety
///
/// `head` is a live list whose nodes sit at `offset` in their containers,
/// protected by a lock the caller holds.
unsafe fn list_entries<C>(head: *mut bindings::gpuvm_list_head, offset: usize) -> Vec<*const C> {
    let mut out = Vec::new();
    // SAFETY: by the caller's promise.
    unsafe {
        let mut node = (*head).next;
        while node != head {
            out.push(node.cast::<u8>().sub(offset).cast::<C>().cast_const());
            node = (*node).next;
        }
    }
    out
}

/// The driver side of a VM: its data, and the steps of a map or unmap.
pub trait DriverGpuVm: Sized + Send + Sync {
    /// The DRM driver.
    type Driver: drm::Driver;

    /// The GEM object type mapped in the VM.
    type Object: drm::driver::AllocImpl<Driver = Self::Driver> + Send + Sync;

    /// Data of each mapping. Only `Send`: it has one owner at a time and
    /// moves between threads by value (as a [`GpuVaRemoved`]).
    type VaData: Send;

    /// Data of each (VM, object) pair; shared through `&GpuVmBo` on any
    /// thread and dropped wherever the last reference dies.
    type VmBoData: Send + Sync;

    /// The context passed to the steps of one `sm_map` / `sm_unmap`.
    type SmContext<'ctx>
    where
        Self: 'ctx;

    /// A new mapping is to be created.
    fn sm_step_map<'op, 'ctx>(
        &mut self,
        op: OpMap<'op, Self>,
        context: &mut Self::SmContext<'ctx>,
    ) -> Result<OpMapped<'op, Self>, Error>;

    /// A mapping is to be removed completely.
    fn sm_step_unmap<'op, 'ctx>(
        &mut self,
        op: OpUnmap<'op, Self>,
        context: &mut Self::SmContext<'ctx>,
    ) -> Result<OpUnmapped<'op, Self>, Error>;

    /// A mapping is to be replaced by what remains of it on either side.
    fn sm_step_remap<'op, 'ctx>(
        &mut self,
        op: OpRemap<'op, Self>,
        context: &mut Self::SmContext<'ctx>,
    ) -> Result<OpRemapped<'op, Self>, Error>;
}

/// The unique handle of a VM: the only way to its mappings and its data.
///
/// # Invariants
///
/// Each `GpuVm` has at most one `UniqueRefGpuVm`.
pub struct UniqueRefGpuVm<T: DriverGpuVm>(ARef<GpuVm<T>>);

// `Send` comes from `ARef<GpuVm<T>>`. `Sync` is stated explicitly: a
// shared `&UniqueRefGpuVm` gives `&T` (`data_ref`) on every thread that
// holds it, which needs `T: Sync`; the `DriverGpuVm` bound already
// requires it, and the impl says so where a reader looks.
//
// SAFETY: `&self` methods reach `&T` (needs `T: Sync`) and the `&self`
// methods of `GpuVm` (see its `Sync`); the tree is only changed through
// `&mut self`.
unsafe impl<T: DriverGpuVm + Sync> Sync for UniqueRefGpuVm<T> {}

impl<T: DriverGpuVm> UniqueRefGpuVm<T> {
    /// The driver data.
    pub fn data_ref(&self) -> &T {
        // SAFETY: by the invariant only this handle reaches `data`.
        unsafe { &*self.0.data.get() }
    }

    /// The driver data, mutably.
    pub fn data(&mut self) -> &mut T {
        // SAFETY: by the invariant only this handle reaches `data`.
        unsafe { &mut *self.0.data.get() }
    }

    /// The first mapping overlapping `[addr, addr + range)`, if any.
    pub fn find_first(&self, addr: u64, range: u64) -> Option<&GpuVa<T>> {
        // SAFETY: the tree is read under the unique handle.
        let va = unsafe { bindings::gpuva_find_first(self.as_raw(), addr, range) };
        // SAFETY: a VA of the tree; the reserved kernel node has no vm_bo.
        (!va.is_null() && unsafe { !(*va).vm_bo.is_null() }).then(|| unsafe { GpuVa::from_raw(va) })
    }

    /// Every mapping as (address range, GEM offset), in address order.
    pub fn mappings(&self) -> Vec<(Range<u64>, u64)> {
        let mut out = Vec::new();
        let end = self.va_start().saturating_add(self.va_length());
        let mut addr = self.va_start();
        while addr < end {
            // SAFETY: the tree is read under the unique handle.
            let va = unsafe { bindings::gpuva_find_first(self.as_raw(), addr, end - addr) };
            if va.is_null() {
                break;
            }
            // SAFETY: a VA of the tree.
            let (a, r, off, bo) =
                unsafe { ((*va).va.addr, (*va).va.range, (*va).gem.offset, (*va).vm_bo) };
            if !bo.is_null() {
                out.push((a..a + r, off));
            }
            addr = a + r;
        }
        out
    }
}

impl<T: DriverGpuVm> Deref for UniqueRefGpuVm<T> {
    type Target = GpuVm<T>;
    fn deref(&self) -> &GpuVm<T> {
        &self.0
    }
}
