// SPDX-License-Identifier: MIT
//! DRM: the driver, its device, GEM objects and GPUVM, at the kernel's paths.

use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::device;
use crate::error::Result;
use crate::sync::aref::{ARef, AlwaysRefCounted};

pub mod gem;
pub mod gpuvm;

/// A DRM driver. The kernel's trait has many more items; the GPUVM API
/// needs only the type.
pub trait Driver: Send + Sync + 'static {}

/// Driver-related traits, at the kernel's path.
pub mod driver {
    pub use super::Driver;

    /// A GEM object type a driver allocates.
    pub trait AllocImpl: super::gem::IntoGEMObject {
        /// The driver the objects belong to.
        type Driver: super::Driver;
    }
}

/// What a `drm::Device` reference proves (only `Registered` exists here).
pub trait DeviceContext: 'static {}

/// The device is registered.
pub struct Registered;
impl DeviceContext for Registered {}

/// A DRM device of driver `T`, on a parent (bus) device.
pub struct Device<T: Driver, C: DeviceContext = Registered> {
    parent: ARef<device::Device>,
    refs: AtomicUsize,
    _p: PhantomData<(fn() -> T, C)>,
}

impl<T: Driver> Device<T> {
    /// Creates a DRM device on `parent`.
    pub fn new(parent: &device::Device) -> Result<ARef<Self>> {
        let dev = Box::new(Device {
            parent: ARef::from(parent),
            refs: AtomicUsize::new(1),
            _p: PhantomData,
        });
        // SAFETY: the box's one reference moves into the `ARef`.
        Ok(unsafe { ARef::from_raw(NonNull::from(Box::leak(dev))) })
    }
}

impl<T: Driver, C: DeviceContext> Device<T, C> {
    /// The parent device.
    pub fn parent(&self) -> &device::Device {
        &self.parent
    }
}

impl<T: Driver, C: DeviceContext> AsRef<device::Device> for Device<T, C> {
    fn as_ref(&self) -> &device::Device {
        &self.parent
    }
}

// SAFETY: the count governs the box.
unsafe impl<T: Driver, C: DeviceContext> AlwaysRefCounted for Device<T, C> {
    fn inc_ref(&self) {
        self.refs.fetch_add(1, Ordering::Relaxed);
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller owns a reference.
        if unsafe { obj.as_ref().refs.fetch_sub(1, Ordering::AcqRel) } == 1 {
            // SAFETY: the last reference.
            drop(unsafe { Box::from_raw(obj.as_ptr()) });
        }
    }
}
