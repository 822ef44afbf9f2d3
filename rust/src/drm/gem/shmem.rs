// SPDX-License-Identifier: MIT
//! GEM shmem objects, as the kernel's `drm::gem::shmem`.
//!
//! An [`Object`] is libgpuvm's `struct gpuvm_gem_shmem_object` (first, so a
//! C pointer to the GEM object is a pointer to the Rust object) followed by
//! the driver's data. Its SG table ([`Object::sg_table`]) is a device
//! resource of the binding it was built in: the device's unbind unmaps and
//! frees it, and a call in a later binding builds a new one.

use core::cell::UnsafeCell;
use core::mem::ManuallyDrop;
use core::ops::Deref;
use core::ptr::{self, NonNull};

use crate::alloc::{kfree, kzalloc, GFP_KERNEL};
use crate::bindings;
use crate::device::{self, Bound};
use crate::drm::{self, driver::AllocImpl, gem::IntoGEMObject};
use crate::error::{to_result, Error, Result};
use crate::pin_init::PinInit;
use crate::sync::aref::{ARef, AlwaysRefCounted};

/// The driver's data type for shmem objects.
pub trait DriverObject: Sized + Send + Sync + 'static {
    /// The driver the objects belong to.
    type Driver: drm::Driver;
}

/// How to create an object.
pub struct ObjectConfig<'a, T: DriverObject> {
    /// Write-combined CPU mappings (recorded only).
    pub map_wc: bool,
    /// Share this object's reservation (a VM-private object shares the
    /// VM's); the new object keeps a reference on it.
    pub parent_resv_obj: Option<&'a Object<T>>,
}

impl<T: DriverObject> Default for ObjectConfig<'_, T> {
    fn default() -> Self {
        ObjectConfig {
            map_wc: false,
            parent_resv_obj: None,
        }
    }
}

/// A shmem GEM object with driver data `T`.
#[repr(C)]
pub struct Object<T: DriverObject> {
    obj: UnsafeCell<bindings::gpuvm_gem_shmem_object>,
    // Dropped by the free callback, after the C release (which may still
    // use the parent's reservation and the device).
    dev: ManuallyDrop<ARef<device::Device>>,
    drm: ManuallyDrop<ARef<drm::Device<T::Driver>>>,
    parent_resv_obj: ManuallyDrop<Option<ARef<Object<T>>>>,
    data: T,
}

// SAFETY: the C object is used only through libgpuvm's functions, which
// take the object's locks; `T` is `Send + Sync` by `DriverObject`, and the
// last reference may be dropped on any thread.
unsafe impl<T: DriverObject> Send for Object<T> {}
// SAFETY: as above.
unsafe impl<T: DriverObject> Sync for Object<T> {}

impl<T: DriverObject> Object<T> {
    const FUNCS: &'static bindings::gpuvm_gem_object_funcs = &bindings::gpuvm_gem_object_funcs {
        free: Some(Self::free_callback),
    };

    /// Creates an object of `size` bytes (rounded up to pages) for `dev`.
    pub fn new(
        dev: &drm::Device<T::Driver>,
        size: usize,
        config: ObjectConfig<'_, T>,
        data: impl PinInit<T>,
    ) -> Result<ARef<Self>> {
        let me = kzalloc::<Self>(GFP_KERNEL)?.as_ptr();
        let parent = dev.parent();
        // SAFETY: a zeroed allocation we own; `FUNCS` frees it the right way.
        let ret = unsafe {
            bindings::gpuvm_gem_shmem_init(parent.as_raw(), (*me).obj.get(), Self::FUNCS, size)
        };
        if let Err(e) = to_result(ret) {
            // SAFETY: nothing was initialised.
            unsafe { kfree(me) };
            return Err(e);
        }
        // SAFETY: the object is ours until we hand the reference out; the
        // data initialiser cannot fail.
        unsafe {
            let Ok(()) = data.__pinned_init(ptr::addr_of_mut!((*me).data));
            ptr::addr_of_mut!((*me).dev).write(ManuallyDrop::new(ARef::from(parent)));
            ptr::addr_of_mut!((*me).drm).write(ManuallyDrop::new(ARef::from(dev)));
            let shmem = (*me).obj.get();
            (*shmem).map_wc = config.map_wc;
            let parent_obj = config.parent_resv_obj.map(|p| {
                (*shmem).base.resv = (*p.as_raw()).resv;
                ARef::from(p)
            });
            ptr::addr_of_mut!((*me).parent_resv_obj).write(ManuallyDrop::new(parent_obj));
            Ok(ARef::from_raw(NonNull::new_unchecked(me)))
        }
    }

    /// The raw shmem object.
    pub fn as_raw_shmem(&self) -> *mut bindings::gpuvm_gem_shmem_object {
        self.obj.get()
    }

    /// The DRM device.
    pub fn dev(&self) -> &drm::Device<T::Driver> {
        &self.drm
    }

    /// The SG table, mapped for the current binding of `dev` (which must
    /// be the object's device: `EINVAL` otherwise).
    ///
    /// The first call of a binding allocates, locks the reservation and
    /// maps the table (not in a fence signalling section); later calls are
    /// lock-free. The table lives until the device unbinds or the object
    /// is freed, and the borrow of `dev` keeps both from happening.
    pub fn sg_table<'a>(&'a self, dev: &'a device::Device<Bound>) -> Result<&'a SGTable> {
        // SAFETY: a live object and a live bound scope.
        let sgt = unsafe { bindings::gpuvm_gem_shmem_sg_table(self.obj.get(), dev.as_bound_raw()) };
        if bindings::is_err(sgt) {
            return Err(Error::from_errno(bindings::ptr_err(sgt)));
        }
        // SAFETY: a mapped table that lives at least as long as the scope.
        Ok(unsafe { &*sgt.cast::<SGTable>() })
    }

    unsafe extern "C" fn free_callback(obj: *mut bindings::gpuvm_gem_object) {
        let me = obj.cast::<Self>();
        // SAFETY: the last reference is gone; the C release runs first (it
        // may use the parent's reservation and the device), then the Rust
        // fields are dropped and the memory freed.
        unsafe {
            bindings::gpuvm_gem_shmem_release((*me).obj.get());
            ptr::drop_in_place(ptr::addr_of_mut!((*me).data));
            ManuallyDrop::drop(&mut (*me).parent_resv_obj);
            ManuallyDrop::drop(&mut (*me).drm);
            ManuallyDrop::drop(&mut (*me).dev);
            kfree(me);
        }
    }
}

impl<T: DriverObject> Deref for Object<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.data
    }
}

// SAFETY: the GEM reference count governs the allocation.
unsafe impl<T: DriverObject> AlwaysRefCounted for Object<T> {
    fn inc_ref(&self) {
        // SAFETY: a live object.
        unsafe { bindings::gpuvm_gem_object_get(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller gives up one reference.
        unsafe { bindings::gpuvm_gem_object_put(obj.as_ref().as_raw()) };
    }
}

impl<T: DriverObject> IntoGEMObject for Object<T> {
    fn as_raw(&self) -> *mut bindings::gpuvm_gem_object {
        // The GEM object is the first member of the first field.
        self.obj.get().cast()
    }

    unsafe fn from_raw<'a>(ptr: *mut bindings::gpuvm_gem_object) -> &'a Self {
        // SAFETY: `Self` is repr(C) with the GEM object at offset 0.
        unsafe { &*ptr.cast::<Self>() }
    }
}

impl<T: DriverObject> AllocImpl for Object<T> {
    type Driver = T::Driver;
}

/// A DMA-mapped scatter-gather table.
#[repr(transparent)]
pub struct SGTable(bindings::gpuvm_sg_table);

/// One segment of an [`SGTable`].
#[repr(transparent)]
pub struct SGEntry(bindings::gpuvm_scatterlist);

impl SGEntry {
    /// The device address of the segment.
    pub fn dma_address(&self) -> u64 {
        self.0.dma_address
    }

    /// The mapped length of the segment.
    pub fn dma_len(&self) -> u32 {
        self.0.dma_length
    }
}

impl SGTable {
    /// The segments, in order.
    pub fn iter(&self) -> impl Iterator<Item = &SGEntry> + '_ {
        let n = self.0.nents as usize;
        let sgl = self.0.sgl.cast::<SGEntry>();
        // SAFETY: `sgl` holds `nents` segments while the table lives.
        (0..n).map(move |i| unsafe { &*sgl.add(i) })
    }
}
