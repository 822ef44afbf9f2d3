// SPDX-License-Identifier: MIT
//! The Linux kernel's Rust GPUVM API over libgpuvm.
//!
//! This crate offers the types and names of the kernel's
//! `kernel::drm::gpuvm` (immediate mode, as merged in 2026, with the
//! Send/Sync bounds of the June 2026 follow-up) on top of libgpuvm, a
//! userspace reimplementation of DRM GPUVM that behaves like the kernel
//! and reports the locking mistakes the kernel's lockdep would. A Rust
//! driver's VM_BIND code can then be tested with `cargo test`.
//!
//! The module tree mirrors the kernel crate's where the GPUVM API needs
//! it, so that `use kernel::...` lines become `use gpuvm::...`:
//! [`drm::gpuvm`], [`drm::gem`] (with [`drm::gem::shmem`]), [`device`],
//! [`sync::aref`], [`alloc`], [`error`], [`pin_init`], [`prelude`].
//! [`testing`] turns the library's warnings and leak reports into test
//! failures.
//!
//! # Example
//!
//! A driver whose steps keep a list of page-table updates, mapping one
//! object and then punching a hole in the middle (a remap that splits the
//! mapping):
//!
//! ```
//! use gpuvm::prelude::*;
//! use gpuvm::device::Device;
//! use gpuvm::drm::{self, gem::shmem};
//! use gpuvm::drm::gpuvm::{
//!     DriverGpuVm, GpuVaAlloc, GpuVm, OpMap, OpMapRequest, OpMapped, OpRemap, OpRemapped,
//!     OpUnmap, OpUnmapped,
//! };
//!
//! struct MyDriver;
//! impl drm::Driver for MyDriver {}
//!
//! struct BoData;
//! impl shmem::DriverObject for BoData {
//!     type Driver = MyDriver;
//! }
//! type Bo = shmem::Object<BoData>;
//!
//! struct VmData;
//!
//! /// What one sm_map or sm_unmap needs: preallocated VAs, and a log.
//! struct Ctx {
//!     vas: Vec<GpuVaAlloc<VmData>>,
//!     log: Vec<String>,
//! }
//!
//! impl DriverGpuVm for VmData {
//!     type Driver = MyDriver;
//!     type Object = Bo;
//!     type VmBoData = ();
//!     type VaData = ();
//!     type SmContext<'ctx> = Ctx;
//!
//!     fn sm_step_map<'op, 'ctx>(&mut self, op: OpMap<'op, Self>, ctx: &mut Ctx)
//!         -> Result<OpMapped<'op, Self>, Error> {
//!         ctx.log.push(format!("map {:#x}+{:#x}", op.addr(), op.length()));
//!         let va = ctx.vas.pop().ok_or(EINVAL)?;
//!         Ok(op.insert(va, ()))
//!     }
//!
//!     fn sm_step_unmap<'op, 'ctx>(&mut self, op: OpUnmap<'op, Self>, ctx: &mut Ctx)
//!         -> Result<OpUnmapped<'op, Self>, Error> {
//!         ctx.log.push(format!("unmap {:#x}", op.va().addr()));
//!         let (done, _removed) = op.remove();
//!         Ok(done)
//!     }
//!
//!     fn sm_step_remap<'op, 'ctx>(&mut self, op: OpRemap<'op, Self>, ctx: &mut Ctx)
//!         -> Result<OpRemapped<'op, Self>, Error> {
//!         ctx.log.push(format!("remap {:#x}", op.va_to_unmap().addr()));
//!         let vas = [ctx.vas.pop().ok_or(EINVAL)?, ctx.vas.pop().ok_or(EINVAL)?];
//!         let (done, ret) = op.remap(vas, (), ());
//!         ctx.vas.extend(ret.unused_va);
//!         Ok(done)
//!     }
//! }
//!
//! # fn main() -> Result {
//! let _checked = gpuvm::testing::Checked::new(); // warnings and leaks fail the test
//! let dev = Device::new(c"gpu")?;
//! dev.bind()?;
//! let ddev = drm::Device::<MyDriver>::new(&dev)?;
//! let r_obj = Bo::new(&ddev, 4096, Default::default(), BoData)?;
//! let bo = Bo::new(&ddev, 1 << 20, Default::default(), BoData)?;
//!
//! let mut vm = GpuVm::new::<Error, _>(c"example", &ddev, &*r_obj, 0..1 << 32, 0..0, VmData)?;
//! let vm_bo = vm.obtain(&*bo, ())?;
//! let mut ctx = Ctx { vas: Vec::new(), log: Vec::new() };
//! for _ in 0..3 {
//!     ctx.vas.push(GpuVaAlloc::new(GFP_KERNEL)?);
//! }
//! vm.sm_map(OpMapRequest {
//!     addr: 0x10000, range: 0x40000, gem_offset: 0, vm_bo: &vm_bo, context: &mut ctx,
//! })?;
//! vm.sm_unmap(0x20000, 0x10000, &mut ctx)?;
//! assert_eq!(ctx.log, ["map 0x10000+0x40000", "remap 0x10000"]);
//! assert_eq!(vm.mappings(), [(0x10000..0x20000, 0), (0x30000..0x50000, 0x20000)]);
//!
//! // Tear down: unmap everything, drop the vm_bo, free the zombies.
//! vm.sm_unmap(0, 1 << 32, &mut ctx)?;
//! drop(vm_bo);
//! vm.deferred_cleanup();
//! # Ok(())
//! # }
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod alloc;
pub mod bindings;
pub mod device;
pub mod drm;
pub mod error;
pub mod pin_init;
pub mod rules;
pub mod sync;
pub mod testing;

/// Formatting, at the kernel's path (`kernel::fmt`).
pub use core::fmt;

/// Size constants, as the kernel's `kernel::sizes`.
pub mod sizes {
    /// 4 KiB.
    pub const SZ_4K: usize = 4 << 10;
    /// 64 KiB.
    pub const SZ_64K: usize = 64 << 10;
    /// 2 MiB.
    pub const SZ_2M: usize = 2 << 20;
    /// 1 GiB.
    pub const SZ_1G: usize = 1 << 30;
}

/// Prints a device message, as the kernel's `dev_err!` and friends: the
/// device's name, then the message, on stderr.
#[macro_export]
macro_rules! dev_err {
    ($dev:expr, $($arg:tt)*) => {
        ::std::eprintln!("{}: {}", $crate::device::Device::name(::core::convert::AsRef::<$crate::device::Device>::as_ref($dev)), ::core::format_args!($($arg)*))
    };
}

/// As [`dev_err!`].
#[macro_export]
macro_rules! dev_warn {
    ($dev:expr, $($arg:tt)*) => { $crate::dev_err!($dev, $($arg)*) };
}

/// As [`dev_err!`].
#[macro_export]
macro_rules! dev_info {
    ($dev:expr, $($arg:tt)*) => { $crate::dev_err!($dev, $($arg)*) };
}

/// As [`dev_err!`], but silent (debug messages are off).
#[macro_export]
macro_rules! dev_dbg {
    ($dev:expr, $($arg:tt)*) => {{ let _ = &$dev; let _ = ::core::format_args!($($arg)*); }};
}

/// Prints a message on stderr, as the kernel's `pr_err!`.
#[macro_export]
macro_rules! pr_err {
    ($($arg:tt)*) => { ::std::eprintln!($($arg)*) };
}

/// As [`pr_err!`].
#[macro_export]
macro_rules! pr_warn {
    ($($arg:tt)*) => { ::std::eprintln!($($arg)*) };
}

/// As [`pr_err!`].
#[macro_export]
macro_rules! pr_info {
    ($($arg:tt)*) => { ::std::eprintln!($($arg)*) };
}

/// What kernel code gets from `kernel::prelude::*`, as far as the GPUVM
/// API needs it.
pub mod prelude {
    pub use crate::alloc::flags::*;
    pub use crate::alloc::{AllocError, Flags};
    pub use crate::error::code::*;
    pub use crate::error::{Error, Result};
    pub use crate::pin_init::{init_zeroed, Init, PinInit, Zeroable};
    pub use crate::sync::aref::ARef;
    pub use crate::sync::AsArcBorrow;
    pub use crate::{dev_dbg, dev_err, dev_info, dev_warn, new_mutex, pr_err, pr_info, pr_warn};
    pub use core::ffi::CStr;
}

pub use drm::gpuvm::*;
