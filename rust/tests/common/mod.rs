// SPDX-License-Identifier: MIT
//! Shared pieces of the integration tests: a DRM driver with shmem objects,
//! a device setup, a small logging VM driver generic over its vm_bo data,
//! and helpers to read SG tables and hook points.
#![allow(dead_code)]

use core::marker::PhantomData;

use gpuvm::device::{Bound, Device};
use gpuvm::drm::gpuvm::{
    DriverGpuVm, GpuVaAlloc, GpuVm, OpMap, OpMapped, OpRemap, OpRemapped, OpUnmap, OpUnmapped,
    UniqueRefGpuVm,
};
use gpuvm::drm::{self, gem::shmem};
use gpuvm::prelude::*;

pub const PAGE: u64 = 4096;

/// The DRM driver of every test.
pub struct TestDriver;
impl drm::Driver for TestDriver {}

/// Driver data of the test GEM objects: nothing.
pub struct BoData;
impl shmem::DriverObject for BoData {
    type Driver = TestDriver;
}
pub type Bo = shmem::Object<BoData>;

/// A bound device with its DRM device.
pub struct Gpu {
    pub dev: ARef<Device>,
    pub ddev: ARef<drm::Device<TestDriver>>,
}

impl Gpu {
    /// A fresh device, bound, and its DRM device.
    pub fn new(name: &'static CStr) -> Gpu {
        let dev = Device::new(name).expect("device");
        dev.bind().expect("bind");
        let ddev = drm::Device::<TestDriver>::new(&dev).expect("drm device");
        Gpu { dev, ddev }
    }

    /// An object of `size` bytes with its own reservation.
    pub fn bo(&self, size: usize) -> ARef<Bo> {
        Bo::new(&self.ddev, size, Default::default(), BoData).expect("bo")
    }

    /// An object of `size` bytes sharing `parent`'s reservation.
    pub fn private_bo(&self, size: usize, parent: &Bo) -> ARef<Bo> {
        let config = shmem::ObjectConfig {
            parent_resv_obj: Some(parent),
            ..Default::default()
        };
        Bo::new(&self.ddev, size, config, BoData).expect("private bo")
    }
}

/// One step a VM driver's callbacks were given, as the tests compare them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A new mapping: address, length, GEM offset.
    Map { addr: u64, len: u64, offset: u64 },
    /// A mapping removed completely.
    Unmap { addr: u64, len: u64, keep: bool },
    /// A mapping replaced by what remains of it: (address, length, offset)
    /// of each remaining part.
    Remap {
        addr: u64,
        len: u64,
        prev: Option<(u64, u64, u64)>,
        next: Option<(u64, u64, u64)>,
        keep: bool,
    },
}

/// A VM driver that records its steps and takes VAs from a pool; generic
/// over its vm_bo data so the tests can pick the allocation paths.
pub struct LogVm<D>(PhantomData<fn() -> D>);

impl<D> LogVm<D> {
    pub fn new() -> Self {
        LogVm(PhantomData)
    }
}

/// The context of one sm_map / sm_unmap of a [`LogVm`].
pub struct Ctx<D: Send + Sync> {
    pub vas: Vec<GpuVaAlloc<LogVm<D>>>,
    pub log: Vec<Step>,
}

impl<D: Send + Sync> Ctx<D> {
    /// A context with `n` preallocated VAs.
    pub fn with_vas(n: usize) -> Self {
        Ctx {
            vas: (0..n)
                .map(|_| GpuVaAlloc::new(GFP_KERNEL).expect("va"))
                .collect(),
            log: Vec::new(),
        }
    }
}

impl<D: Send + Sync> DriverGpuVm for LogVm<D> {
    type Driver = TestDriver;
    type Object = Bo;
    type VmBoData = D;
    type VaData = ();
    type SmContext<'ctx>
        = Ctx<D>
    where
        Self: 'ctx;

    fn sm_step_map<'op, 'ctx>(
        &mut self,
        op: OpMap<'op, Self>,
        ctx: &mut Ctx<D>,
    ) -> Result<OpMapped<'op, Self>> {
        ctx.log.push(Step::Map {
            addr: op.addr(),
            len: op.length(),
            offset: op.gem_offset(),
        });
        let va = ctx.vas.pop().ok_or(ENOSPC)?;
        Ok(op.insert(va, ()))
    }

    fn sm_step_unmap<'op, 'ctx>(
        &mut self,
        op: OpUnmap<'op, Self>,
        ctx: &mut Ctx<D>,
    ) -> Result<OpUnmapped<'op, Self>> {
        ctx.log.push(Step::Unmap {
            addr: op.va().addr(),
            len: op.va().length(),
            keep: op.keep(),
        });
        let (done, _removed) = op.remove();
        Ok(done)
    }

    fn sm_step_remap<'op, 'ctx>(
        &mut self,
        op: OpRemap<'op, Self>,
        ctx: &mut Ctx<D>,
    ) -> Result<OpRemapped<'op, Self>> {
        ctx.log.push(remap_step(&op));
        if ctx.vas.len() < 2 {
            return Err(ENOSPC);
        }
        let vas = [ctx.vas.pop().unwrap(), ctx.vas.pop().unwrap()];
        let (done, ret) = op.remap(vas, (), ());
        ctx.vas.extend(ret.unused_va);
        Ok(done)
    }
}

/// The unique handle of a [`LogVm`] VM, which unmaps everything when a
/// failing test unwinds through it: otherwise the VM would stay alive
/// (its mappings hold it) and the leak report would fail every later test
/// of the process too.
pub struct TestVm<D: Send + Sync>(pub UniqueRefGpuVm<LogVm<D>>);

impl<D: Send + Sync> TestVm<D> {
    /// A VM over `range` with `r_obj`'s reservation.
    pub fn new(gpu: &Gpu, r_obj: &Bo, name: &'static CStr, range: core::ops::Range<u64>) -> Self {
        TestVm(
            GpuVm::new::<Error, _>(name, &gpu.ddev, r_obj, range, 0..0, LogVm::new()).expect("vm"),
        )
    }

    /// A shared reference on the VM.
    pub fn shared(&self) -> ARef<GpuVm<LogVm<D>>> {
        ARef::from(&*self.0)
    }
}

impl<D: Send + Sync> core::ops::Deref for TestVm<D> {
    type Target = UniqueRefGpuVm<LogVm<D>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<D: Send + Sync> core::ops::DerefMut for TestVm<D> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl<D: Send + Sync> Drop for TestVm<D> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Unmapping everything needs no VA.
            let mut ctx = Ctx::with_vas(0);
            let (start, len) = (self.0.va_start(), self.0.va_length());
            let _ = self.0.sm_unmap(start, len, &mut ctx);
            self.0.deferred_cleanup();
        }
    }
}

/// The [`Step::Remap`] of `op`.
pub fn remap_step<T: DriverGpuVm>(op: &OpRemap<'_, T>) -> Step {
    let va = op.va_to_unmap();
    Step::Remap {
        addr: va.addr(),
        len: va.length(),
        prev: op.prev().map(|p| (p.addr(), p.length(), p.gem_offset())),
        next: op.next().map(|n| (n.addr(), n.length(), n.gem_offset())),
        keep: op.keep(),
    }
}

/// The DMA address of every page of `bo`, in object order, from its SG
/// table of `dev`'s current binding.
pub fn dma_pages(bo: &Bo, dev: &Device<Bound>) -> Vec<u64> {
    let sgt = bo.sg_table(dev).expect("sg table");
    let mut pages = Vec::new();
    for seg in sgt.iter() {
        assert_eq!(seg.dma_len() as u64 % PAGE, 0, "segments are whole pages");
        let mut off = 0;
        while off < seg.dma_len() as u64 {
            pages.push(seg.dma_address() + off);
            off += PAGE;
        }
    }
    pages
}

/// Disarms every hook point when dropped (also when a test fails while a
/// thread is parked, so the thread is let go).
pub struct HookReset;

impl Drop for HookReset {
    fn drop(&mut self) {
        gpuvm::testing::hook::reset();
    }
}
