// SPDX-License-Identifier: MIT
//! The rules the type system enforces, each shown twice: a program that
//! breaks it and does not compile (a `compile_fail` test), and the same
//! program obeying it, which compiles. The pairs differ only in the line
//! that matters, so a `compile_fail` test cannot pass for an unrelated
//! reason (stable rustdoc does not check error codes).
//!
//! The boilerplate of each program (a DRM driver, a shmem object type and
//! a `DriverGpuVm` impl whose steps all fail) comes from the hidden
//! [`__test_driver!`](crate::__test_driver) macro.
//!
//! # 1. The driver data must be `Send + Sync`
//!
//! `UniqueRefGpuVm<T>` is `Sync` only when `T` is, because `data_ref()`
//! hands out `&T` through `&self`; and any thread may drop the last VM
//! reference, which drops `T`, so `T` must be `Send`. `DriverGpuVm`
//! requires both, so a driver whose data is not `Sync` cannot be a VM
//! driver at all, and a shared unique handle is sound.
//!
//! ```compile_fail
//! # // expect: E0277 `Cell<u32>` cannot be shared
//! struct Drv(std::cell::Cell<u32>); // Send, not Sync
//! gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! ```
//! ```
//! struct Drv(std::sync::atomic::AtomicU32); // Send and Sync
//! gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! ```
//!
//! Sharing the unique handle between threads, which needs it to be `Sync`:
//!
//! ```compile_fail
//! # // expect: E0277 `Cell<u32>` cannot be shared
//! struct Drv(std::cell::Cell<u32>);
//! gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn share(vm: &gpuvm::UniqueRefGpuVm<Drv>) {
//!     std::thread::scope(|s| {
//!         s.spawn(|| vm.data_ref().0.get());
//!     });
//! }
//! ```
//! ```
//! struct Drv(std::sync::atomic::AtomicU32);
//! gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn share(vm: &gpuvm::UniqueRefGpuVm<Drv>) {
//!     std::thread::scope(|s| {
//!         s.spawn(|| vm.data_ref().0.load(std::sync::atomic::Ordering::Relaxed));
//!     });
//! }
//! ```
//!
//! # 2. A driver that is not `Send` is refused
//!
//! ```compile_fail
//! # // expect: E0277 `Rc<u32>` cannot be
//! struct Drv(std::rc::Rc<u32>); // neither Send nor Sync
//! gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! ```
//! ```
//! struct Drv(std::sync::Arc<u32>);
//! gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! ```
//!
//! # 3. `VmBoData` must be `Send + Sync`, `VaData` must be `Send`
//!
//! A vm_bo is shared through `&GpuVmBo` on any thread and dropped wherever
//! its last reference dies (possibly in `deferred_cleanup` on a worker):
//!
//! ```compile_fail
//! # // expect: E0277 `Cell<u32>` cannot be shared
//! struct Drv;
//! gpuvm::__test_driver!(Drv, vm_bo = std::cell::Cell<u32>, va = ());
//! ```
//! ```
//! struct Drv;
//! gpuvm::__test_driver!(Drv, vm_bo = std::sync::atomic::AtomicU32, va = ());
//! ```
//!
//! A mapping's data has one owner at a time and moves by value, so `Send`
//! is enough and `Sync` is not needed:
//!
//! ```compile_fail
//! # // expect: E0277 `Rc<u32>` cannot be sent
//! struct Drv;
//! gpuvm::__test_driver!(Drv, vm_bo = (), va = std::rc::Rc<u32>);
//! ```
//! ```
//! struct Drv;
//! gpuvm::__test_driver!(Drv, vm_bo = (), va = std::cell::Cell<u32>);
//! ```
//!
//! # 4. A step returns its own op's completion token, and only that
//!
//! The only way to get the token a step must return is to carry out that
//! step's op. Each token is invariant in its `'op` lifetime, so a token
//! cannot be turned into one for another op, nor kept for later:
//!
//! ```compile_fail
//! # // expect: lifetime may not live long enough
//! use gpuvm::OpMapped;
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn retag<'long: 'short, 'short>(t: OpMapped<'long, Drv>) -> OpMapped<'short, Drv> {
//!     t // a covariant token would allow this
//! }
//! ```
//! ```
//! use gpuvm::OpMapped;
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn same<'op>(t: OpMapped<'op, Drv>) -> OpMapped<'op, Drv> {
//!     t
//! }
//! ```
//!
//! Keeping a token past its step, to return it from a later one:
//!
//! ```compile_fail
//! # // expect: lifetime may not live long enough
//! use gpuvm::{OpMap, OpMapped};
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! struct Saved(Option<OpMapped<'static, Drv>>);
//! fn step<'op>(saved: &mut Saved, op: OpMap<'op, Drv>, va: gpuvm::GpuVaAlloc<Drv>) {
//!     saved.0 = Some(op.insert(va, ()));
//! }
//! ```
//! ```
//! use gpuvm::{OpMap, OpMapped};
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn step<'op>(op: OpMap<'op, Drv>, va: gpuvm::GpuVaAlloc<Drv>) -> OpMapped<'op, Drv> {
//!     op.insert(va, ())
//! }
//! ```
//!
//! A token of one kind does not stand for another kind's:
//!
//! ```compile_fail
//! # // expect: E0308 mismatched types
//! use gpuvm::{OpMap, OpRemapped};
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn step<'op>(op: OpMap<'op, Drv>, va: gpuvm::GpuVaAlloc<Drv>) -> OpRemapped<'op, Drv> {
//!     op.insert(va, ())
//! }
//! ```
//!
//! # 5. `sm_map` takes a registered vm_bo of this VM, never a `GpuVmBoAlloc`
//!
//! A `GpuVmBoAlloc` is a vm_bo that is not on its object's list yet; it
//! does not deref to `GpuVmBo` (the type that promises "registered"), and
//! drivers cannot create one: [`GpuVm::obtain`](crate::GpuVm::obtain)
//! creates and registers in one call. (A vm_bo of another VM has the right
//! type; `sm_map` refuses it at run time with `EINVAL`.)
//!
//! ```compile_fail
//! # // expect: E0308 mismatched types
//! use gpuvm::{GpuVmBoAlloc, OpMapRequest, UniqueRefGpuVm};
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn map(vm: &mut UniqueRefGpuVm<Drv>, vm_bo: &GpuVmBoAlloc<Drv>) -> gpuvm::error::Result {
//!     vm.sm_map(OpMapRequest { addr: 0, range: 4096, gem_offset: 0, vm_bo, context: &mut () })
//! }
//! ```
//! ```
//! use gpuvm::{GpuVmBo, OpMapRequest, UniqueRefGpuVm};
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn map(vm: &mut UniqueRefGpuVm<Drv>, vm_bo: &GpuVmBo<Drv>) -> gpuvm::error::Result {
//!     vm.sm_map(OpMapRequest { addr: 0, range: 4096, gem_offset: 0, vm_bo, context: &mut () })
//! }
//! ```
//!
//! Creating one directly:
//!
//! ```compile_fail
//! # // expect: E0624 associated function `new` is private
//! use gpuvm::{GpuVm, GpuVmBoAlloc};
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn make(vm: &GpuVm<Drv>, bo: &TestObject) {
//!     let _ = GpuVmBoAlloc::new(vm, bo, ());
//! }
//! ```
//! ```
//! use gpuvm::GpuVm;
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn make(vm: &GpuVm<Drv>, bo: &TestObject) {
//!     let _ = vm.obtain(bo, ());
//! }
//! ```
//!
//! # 6. A removed mapping gives access to its data only
//!
//! Once removed, a mapping's VM, vm_bo and object may be freed at any time
//! (its vm_bo reference was dropped by the unlink), so a `GpuVaRemoved`
//! offers nothing but the data, and a `&GpuVa` borrowed from the op cannot
//! be used after the removal:
//!
//! ```compile_fail
//! # // expect: E0599 no method named `vm_bo` found for struct `GpuVaRemoved
//! use gpuvm::{OpUnmap, OpUnmapped};
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn step<'op>(op: OpUnmap<'op, Drv>) -> OpUnmapped<'op, Drv> {
//!     let (done, removed) = op.remove();
//!     let _ = removed.vm_bo().gpuvm().va_start(); // no such method
//!     done
//! }
//! ```
//! ```compile_fail
//! # // expect: E0505 cannot move out of `op` because it is borrowed
//! use gpuvm::{OpUnmap, OpUnmapped};
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn step<'op>(op: OpUnmap<'op, Drv>) -> OpUnmapped<'op, Drv> {
//!     let va = op.va();
//!     let (done, _removed) = op.remove();
//!     let _ = va.vm_bo(); // the mapping was removed
//!     done
//! }
//! ```
//! ```
//! use gpuvm::{OpUnmap, OpUnmapped};
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn step<'op>(op: OpUnmap<'op, Drv>) -> OpUnmapped<'op, Drv> {
//!     let va = op.va();
//!     let _ = va.vm_bo(); // before the removal
//!     let (done, removed) = op.remove();
//!     let () = *removed; // the data
//!     done
//! }
//! ```
//!
//! Nor can the removed mapping be sent to another thread (the kernel
//! states no `Send` for it: only its data, taken out with
//! `into_inner()`, moves):
//!
//! ```compile_fail
//! # // expect: E0277 `NonNull<GpuVa<Drv>>` cannot be sent
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = u32);
//! fn send(removed: gpuvm::GpuVaRemoved<Drv>) {
//!     std::thread::spawn(move || *removed);
//! }
//! ```
//! ```
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = u32);
//! fn send(removed: gpuvm::GpuVaRemoved<Drv>) {
//!     let data = removed.into_inner();
//!     std::thread::spawn(move || data);
//! }
//! ```
//!
//! # 7. What crosses threads: `ARef<GpuVmBo>` and `GpuVaAlloc` yes, ops no
//!
//! `GpuVmBo` and `GpuVaAlloc` are `Send + Sync` (explicitly: their C parts
//! hold raw pointers); an asynchronous VM_BIND job carries both to the
//! thread that runs it. The ops of a step are confined to the step:
//!
//! ```
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! use gpuvm::{prelude::*, GpuVaAlloc, GpuVmBo};
//! fn job(vm_bo: ARef<GpuVmBo<Drv>>, vas: Vec<GpuVaAlloc<Drv>>) {
//!     std::thread::spawn(move || (vm_bo, vas));
//! }
//! ```
//! ```compile_fail
//! # // expect: E0277 `*mut &mut Drv` cannot be sent
//! use gpuvm::{OpMap, OpMapped};
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn step<'op>(op: OpMap<'op, Drv>, va: gpuvm::GpuVaAlloc<Drv>) -> OpMapped<'op, Drv> {
//!     std::thread::scope(|s| s.spawn(move || op.insert(va, ())).join().unwrap())
//! }
//! ```
//!
//! # 8. One unique handle; the tree changes only through `&mut`
//!
//! ```compile_fail
//! # // expect: E0599 no method named `clone` found for struct `UniqueRefGpuVm
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn two(vm: gpuvm::UniqueRefGpuVm<Drv>) -> (gpuvm::UniqueRefGpuVm<Drv>, gpuvm::UniqueRefGpuVm<Drv>) {
//!     (vm.clone(), vm)
//! }
//! ```
//! ```compile_fail
//! # // expect: E0596 cannot borrow `*vm` as mutable
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn unmap(vm: &gpuvm::UniqueRefGpuVm<Drv>) -> gpuvm::error::Result {
//!     vm.sm_unmap(0, 4096, &mut ())
//! }
//! ```
//! ```
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn unmap(vm: &mut gpuvm::UniqueRefGpuVm<Drv>) -> gpuvm::error::Result {
//!     vm.sm_unmap(0, 4096, &mut ())
//! }
//! ```
//!
//! # 9. A bound device stays on its thread and in its scope
//!
//! An SG table is valid while its device is bound; the borrow of the
//! bound scope says how long:
//!
//! ```compile_fail
//! # // expect: E0597 `bound` does not live long enough
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn dma(dev: &gpuvm::device::Device, bo: &TestObject) -> gpuvm::error::Result<u64> {
//!     let sgt = {
//!         let bound = dev.bound()?;
//!         bo.sg_table(&bound)?
//!     };
//!     Ok(sgt.iter().next().map_or(0, |e| e.dma_address()))
//! }
//! ```
//! ```
//! # struct Drv;
//! # gpuvm::__test_driver!(Drv, vm_bo = (), va = ());
//! fn dma(dev: &gpuvm::device::Device, bo: &TestObject) -> gpuvm::error::Result<u64> {
//!     let bound = dev.bound()?;
//!     let sgt = bo.sg_table(&bound)?;
//!     let addr = sgt.iter().next().map_or(0, |e| e.dma_address());
//!     Ok(addr)
//! }
//! ```
//! ```compile_fail
//! # // expect: E0277 `gpuvm::device::Device<gpuvm::device::Bound>` cannot be sent
//! fn leave(dev: &gpuvm::device::Device) -> gpuvm::error::Result {
//!     let bound = dev.bound()?;
//!     std::thread::scope(|s| { s.spawn(move || drop(bound)); });
//!     Ok(())
//! }
//! ```

/// Defines a DRM driver `TestDrm`, a shmem object type `TestObject` and a
/// `DriverGpuVm` impl for `$drv` with the given data types, whose steps all
/// fail with `EINVAL` and whose context is `()`. For the examples of
/// [`rules`](crate::rules).
#[doc(hidden)]
#[macro_export]
macro_rules! __test_driver {
    ($drv:ty, vm_bo = $vm_bo:ty, va = $va:ty) => {
        /// The DRM driver of the example.
        pub struct TestDrm;
        impl $crate::drm::Driver for TestDrm {}
        /// The GEM object data of the example.
        pub struct TestBoData;
        impl $crate::drm::gem::shmem::DriverObject for TestBoData {
            type Driver = TestDrm;
        }
        /// The GEM object type of the example.
        pub type TestObject = $crate::drm::gem::shmem::Object<TestBoData>;
        impl $crate::drm::gpuvm::DriverGpuVm for $drv {
            type Driver = TestDrm;
            type Object = TestObject;
            type VmBoData = $vm_bo;
            type VaData = $va;
            type SmContext<'ctx> = ();
            fn sm_step_map<'op, 'ctx>(
                &mut self,
                _op: $crate::drm::gpuvm::OpMap<'op, Self>,
                _ctx: &mut (),
            ) -> ::core::result::Result<$crate::drm::gpuvm::OpMapped<'op, Self>, $crate::error::Error> {
                Err($crate::error::code::EINVAL)
            }
            fn sm_step_unmap<'op, 'ctx>(
                &mut self,
                _op: $crate::drm::gpuvm::OpUnmap<'op, Self>,
                _ctx: &mut (),
            ) -> ::core::result::Result<$crate::drm::gpuvm::OpUnmapped<'op, Self>, $crate::error::Error> {
                Err($crate::error::code::EINVAL)
            }
            fn sm_step_remap<'op, 'ctx>(
                &mut self,
                _op: $crate::drm::gpuvm::OpRemap<'op, Self>,
                _ctx: &mut (),
            ) -> ::core::result::Result<$crate::drm::gpuvm::OpRemapped<'op, Self>, $crate::error::Error> {
                Err($crate::error::code::EINVAL)
            }
        }
    };
}
