// SPDX-License-Identifier: MIT
//! A device a driver binds to, as the kernel's `device::Device<Ctx>`.
//!
//! `ARef<Device>` is a reference-counted handle on libgpuvm's device model
//! (`struct gpuvm_device`). Code that needs the proof that the device is
//! bound, such as [`shmem::Object::sg_table`](crate::drm::gem::shmem::Object::sg_table),
//! takes a `&Device<Bound>`; the only way to get one is [`Device::bound`],
//! whose scope [`Device::unbind`] waits for. A `Device<Bound>` cannot
//! leave the thread that entered the scope.

use core::cell::UnsafeCell;
use core::ffi::CStr;
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::bindings;
use crate::error::{code::ENODEV, to_result, Result};
use crate::sync::aref::{ARef, AlwaysRefCounted};

mod private {
    pub trait Sealed {}
}

/// What a `Device` reference proves about the device.
pub trait DeviceContext: private::Sealed + 'static {}

/// No proof: the device may be bound or not.
pub struct Normal;
/// The device is bound for as long as the reference lives.
pub struct Bound;
/// As `Bound` (the kernel's probe-time context).
pub type Core = Bound;

impl private::Sealed for Normal {}
impl private::Sealed for Bound {}
impl DeviceContext for Normal {}
impl DeviceContext for Bound {}

struct DeviceData {
    raw: UnsafeCell<bindings::gpuvm_device>,
    refs: AtomicUsize,
    me: Device<Normal>,
}

/// A device; `Device<Bound>` is one inside a bound scope.
pub struct Device<Ctx: DeviceContext = Normal> {
    data: NonNull<DeviceData>,
    bound: *const bindings::gpuvm_device_bound,
    _ctx: PhantomData<Ctx>,
}

// SAFETY: libgpuvm's device functions may be called from any thread, and
// the reference count is atomic.
unsafe impl Send for Device<Normal> {}
// SAFETY: as above; `&Device` only reaches those functions.
unsafe impl Sync for Device<Normal> {}
// `Device<Bound>` stays `!Send`/`!Sync` (raw pointer): a bound scope is left
// on the thread that entered it.

impl Device<Normal> {
    /// Creates an unbound device.
    pub fn new(name: &'static CStr) -> Result<ARef<Device>> {
        let data = Box::new(DeviceData {
            // SAFETY: all-zero is a valid state to initialise from.
            raw: UnsafeCell::new(unsafe { core::mem::zeroed() }),
            refs: AtomicUsize::new(1),
            me: Device {
                data: NonNull::dangling(),
                bound: core::ptr::null(),
                _ctx: PhantomData,
            },
        });
        let data = NonNull::from(Box::leak(data));
        // SAFETY: `data` is a fresh allocation we own.
        unsafe {
            (*data.as_ptr()).me.data = data;
            bindings::gpuvm_device_init((*data.as_ptr()).raw.get(), name.as_ptr());
            Ok(ARef::from_raw(NonNull::from(&(*data.as_ptr()).me)))
        }
    }
}

impl<Ctx: DeviceContext> Device<Ctx> {
    /// The raw `struct gpuvm_device`.
    pub fn as_raw(&self) -> *mut bindings::gpuvm_device {
        // SAFETY: the device lives as long as any reference on it.
        unsafe { (*self.data.as_ptr()).raw.get() }
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        // SAFETY: the name given at creation is a static C string.
        unsafe { CStr::from_ptr((*self.as_raw()).name) }
            .to_str()
            .unwrap_or("?")
    }

    /// Binds a driver to the device.
    pub fn bind(&self) -> Result {
        // SAFETY: a live device.
        to_result(unsafe { bindings::gpuvm_device_bind(self.as_raw()) })
    }

    /// Unbinds the driver: waits for every bound scope to be left, then
    /// releases the binding's device resources (SG tables among them).
    pub fn unbind(&self) -> Result {
        // SAFETY: a live device.
        to_result(unsafe { bindings::gpuvm_device_unbind(self.as_raw()) })
    }

    /// Whether the device is bound and no unbind has started.
    pub fn is_bound(&self) -> bool {
        // SAFETY: a live device.
        unsafe { bindings::gpuvm_device_is_bound(self.as_raw()) }
    }

    /// Live DMA mappings for this device.
    pub fn dma_mappings(&self) -> usize {
        // SAFETY: a live device.
        unsafe { bindings::gpuvm_device_dma_mappings(self.as_raw()) as usize }
    }

    /// Enters a bound scope: `ENODEV` unless the device is bound.
    pub fn bound(&self) -> Result<BoundScope<'_>> {
        let raw = Box::new(UnsafeCell::new(
            // SAFETY: filled in by bound_enter.
            unsafe { core::mem::zeroed::<bindings::gpuvm_device_bound>() },
        ));
        // SAFETY: a live device and a token that stays put (boxed).
        let ret = unsafe { bindings::gpuvm_device_bound_enter(self.as_raw(), raw.get()) };
        if ret < 0 {
            return Err(ENODEV);
        }
        let view = Device {
            data: self.data,
            bound: raw.get(),
            _ctx: PhantomData,
        };
        Ok(BoundScope {
            raw,
            view,
            _dev: PhantomData,
        })
    }
}

impl Device<Bound> {
    /// The raw bound-scope token.
    pub fn as_bound_raw(&self) -> *const bindings::gpuvm_device_bound {
        self.bound
    }
}

impl Deref for Device<Bound> {
    type Target = Device<Normal>;
    fn deref(&self) -> &Device<Normal> {
        // SAFETY: the scope keeps a reference on the device.
        unsafe { &(*self.data.as_ptr()).me }
    }
}

impl AsRef<Device> for Device<Normal> {
    fn as_ref(&self) -> &Device {
        self
    }
}

impl AsRef<Device> for Device<Bound> {
    fn as_ref(&self) -> &Device {
        self
    }
}

impl<Ctx: DeviceContext> PartialEq for Device<Ctx> {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
    }
}

// SAFETY: the count in `DeviceData` governs the allocation.
unsafe impl AlwaysRefCounted for Device<Normal> {
    fn inc_ref(&self) {
        // SAFETY: a live device.
        unsafe { (*self.data.as_ptr()).refs.fetch_add(1, Ordering::Relaxed) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller owns a reference.
        let data = unsafe { obj.as_ref().data };
        // SAFETY: as above.
        if unsafe { (*data.as_ptr()).refs.fetch_sub(1, Ordering::AcqRel) } != 1 {
            return;
        }
        // SAFETY: the last reference: nobody else can reach the device.
        unsafe {
            let raw = (*data.as_ptr()).raw.get();
            if bindings::gpuvm_device_is_bound(raw) {
                bindings::gpuvm_device_unbind(raw);
            }
            bindings::gpuvm_device_fini(raw);
            drop(Box::from_raw(data.as_ptr()));
        }
    }
}

/// A bound scope of a device; derefs to `Device<Bound>`.
///
/// Unbind waits until every scope is left, so keep scopes short and do not
/// unbind the device from inside one (that deadlocks, as in the kernel).
pub struct BoundScope<'a> {
    raw: Box<UnsafeCell<bindings::gpuvm_device_bound>>,
    view: Device<Bound>,
    _dev: PhantomData<&'a Device>,
}

impl Deref for BoundScope<'_> {
    type Target = Device<Bound>;
    fn deref(&self) -> &Device<Bound> {
        &self.view
    }
}

impl Drop for BoundScope<'_> {
    fn drop(&mut self) {
        // SAFETY: entered in `Device::bound` on this thread (the scope is
        // `!Send`), left once.
        unsafe { bindings::gpuvm_device_bound_exit(self.raw.get()) };
    }
}
