// SPDX-License-Identifier: MIT
//! A driver shaped like Tyr's VM code: a `Vm` with the unique GPUVM handle
//! behind a mutex and a shared reference next to it, a page table standing
//! for the MMU, and a step context carrying the bound device, the page
//! table, the kind of update and a pool of three preallocated VAs.

mod common;

use core::marker::PhantomData;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Mutex;

use common::{dma_pages, Bo, Gpu, Step, TestDriver, PAGE};
use gpuvm::device::{Bound, Device};
use gpuvm::drm::gem::{BaseObject, IntoGEMObject};
use gpuvm::drm::gpuvm::{
    DriverGpuVm, GpuVaAlloc, GpuVm, GpuVmBo, OpMap, OpMapRequest, OpMapped, OpRemap, OpRemapped,
    OpUnmap, OpUnmapped, UniqueRefGpuVm,
};
use gpuvm::prelude::*;
use gpuvm::testing::Checked;

// ---- the driver --------------------------------------------------------------

const PROT_READ: u32 = 1;
const PROT_WRITE: u32 = 2;
const PROT_NOEXEC: u32 = 4;

/// One page-table entry: where the page points and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pte {
    pa: u64,
    prot: u32,
}

/// The fake MMU: 4 KiB page -> entry.
type PageTable = BTreeMap<u64, Pte>;

/// What a walk does to the page table.
#[derive(Clone, Copy)]
enum PtOp {
    Map { prot: u32 },
    Unmap,
}

type Pool<'drm> = [Option<GpuVaAlloc<GpuVmData<'drm>>>; 3];

/// The step context, as Tyr's: borrowed for one sm_map / sm_unmap.
struct PtUpdateContext<'ctx, 'drm> {
    dev: &'ctx Device<Bound>,
    pt: &'ctx mut PageTable,
    op: PtOp,
    preallocated_vas: &'ctx mut Pool<'drm>,
    steps: &'ctx mut Vec<Step>,
}

impl<'drm> PtUpdateContext<'_, 'drm> {
    fn take_va(&mut self) -> Result<GpuVaAlloc<GpuVmData<'drm>>> {
        self.preallocated_vas
            .iter_mut()
            .find_map(Option::take)
            .ok_or(EINVAL)
    }

    fn give_back(&mut self, va: GpuVaAlloc<GpuVmData<'drm>>) {
        let slot = self
            .preallocated_vas
            .iter_mut()
            .find(|s| s.is_none())
            .expect("a free slot");
        *slot = Some(va);
    }

    fn clear(&mut self, range: Range<u64>) {
        let pages: Vec<u64> = self.pt.range(range).map(|(va, _)| *va).collect();
        for va in pages {
            self.pt.remove(&va);
        }
    }
}

/// The VM's driver data: nothing but the lifetime of the DRM device.
struct GpuVmData<'drm> {
    _drm: PhantomData<&'drm ()>,
}

impl<'drm> DriverGpuVm for GpuVmData<'drm> {
    type Driver = TestDriver;
    type Object = Bo;
    type VmBoData = ();
    type VaData = ();
    type SmContext<'ctx>
        = PtUpdateContext<'ctx, 'drm>
    where
        Self: 'ctx;

    fn sm_step_map<'op, 'ctx>(
        &mut self,
        op: OpMap<'op, Self>,
        context: &mut Self::SmContext<'ctx>,
    ) -> Result<OpMapped<'op, Self>> {
        context.steps.push(Step::Map {
            addr: op.addr(),
            len: op.length(),
            offset: op.gem_offset(),
        });
        let PtOp::Map { prot } = context.op else {
            return Err(EINVAL);
        };
        let va = context.take_va()?;
        // Compute every entry first: a failing step leaves the table alone.
        let sgt = match op.obj().sg_table(context.dev) {
            Ok(sgt) => sgt,
            Err(e) => {
                context.give_back(va);
                return Err(e);
            }
        };
        let mut entries = Vec::new();
        let mut skip = op.gem_offset();
        let mut remaining = op.length();
        let mut addr = op.addr();
        for seg in sgt.iter() {
            if remaining == 0 {
                break;
            }
            let len = seg.dma_len() as u64;
            if skip >= len {
                skip -= len;
                continue;
            }
            let pa = seg.dma_address() + skip;
            let n = (len - skip).min(remaining);
            skip = 0;
            for off in (0..n).step_by(PAGE as usize) {
                entries.push((addr + off, Pte { pa: pa + off, prot }));
            }
            addr += n;
            remaining -= n;
        }
        if remaining != 0 {
            context.give_back(va);
            return Err(EINVAL);
        }
        context.pt.extend(entries);
        Ok(op.insert(va, init_zeroed()))
    }

    fn sm_step_unmap<'op, 'ctx>(
        &mut self,
        op: OpUnmap<'op, Self>,
        context: &mut Self::SmContext<'ctx>,
    ) -> Result<OpUnmapped<'op, Self>> {
        let range = op.va().range();
        context.steps.push(Step::Unmap {
            addr: range.start,
            len: range.end - range.start,
            keep: op.keep(),
        });
        context.clear(range);
        let (done, _removed) = op.remove();
        Ok(done)
    }

    fn sm_step_remap<'op, 'ctx>(
        &mut self,
        op: OpRemap<'op, Self>,
        context: &mut Self::SmContext<'ctx>,
    ) -> Result<OpRemapped<'op, Self>> {
        context.steps.push(common::remap_step(&op));
        let old = op.va_to_unmap().range();
        let start = op.prev().map_or(old.start, |p| p.addr() + p.length());
        let end = op.next().map_or(old.end, |n| n.addr());
        // Both VAs before anything changes: a failure leaves all as it was.
        let a = context.take_va()?;
        let b = match context.take_va() {
            Ok(b) => b,
            Err(e) => {
                context.give_back(a);
                return Err(e);
            }
        };
        context.clear(start..end);
        let (done, ret) = op.remap([a, b], init_zeroed(), init_zeroed());
        if let Some(unused) = ret.unused_va {
            context.give_back(unused);
        }
        Ok(done)
    }
}

/// The driver's VM object.
struct Vm<'drm> {
    dev: ARef<Device>,
    gpuvm_unique: Mutex<UniqueRefGpuVm<GpuVmData<'drm>>>,
    gpuvm: ARef<GpuVm<GpuVmData<'drm>>>,
    pt: Mutex<PageTable>,
    steps: Mutex<Vec<Step>>,
}

impl<'drm> Vm<'drm> {
    fn new(gpu: &'drm Gpu, r_obj: &Bo, va_range: Range<u64>) -> Result<Vm<'drm>> {
        let unique = GpuVm::new::<Error, _>(
            c"tyr-vm",
            &gpu.ddev,
            r_obj,
            va_range,
            0..0,
            GpuVmData { _drm: PhantomData },
        )?;
        let gpuvm = ARef::from(&*unique);
        Ok(Vm {
            dev: gpu.dev.clone(),
            gpuvm_unique: Mutex::new(unique),
            gpuvm,
            pt: Mutex::new(PageTable::new()),
            steps: Mutex::new(Vec::new()),
        })
    }

    fn map_bo_range(&self, bo: &Bo, bo_offset: u64, size: u64, va: u64, flags: u32) -> Result {
        self.map_bo_range_with(bo, bo_offset, size, va, flags, 3)
    }

    /// `map_bo_range` with `npre` preallocated VAs (3 normally; fewer only
    /// to make a step fail on purpose).
    fn map_bo_range_with(
        &self,
        bo: &Bo,
        bo_offset: u64,
        size: u64,
        va: u64,
        flags: u32,
        npre: usize,
    ) -> Result {
        let aligned = |x: u64| x % PAGE == 0;
        if !aligned(bo_offset) || !aligned(size) || !aligned(va) {
            return Err(EINVAL);
        }
        match bo_offset.checked_add(size) {
            Some(end) if end <= bo.size() as u64 => {}
            _ => return Err(EINVAL),
        }
        let vm_bo = self.gpuvm.obtain(bo, ())?;
        let ret = self.sm_map_locked(&vm_bo, bo_offset, size, va, flags, npre);
        // Whatever happened, a vm_bo left without mappings is freed here.
        drop(vm_bo);
        self.gpuvm.deferred_cleanup();
        ret
    }

    fn sm_map_locked(
        &self,
        vm_bo: &GpuVmBo<GpuVmData<'drm>>,
        bo_offset: u64,
        size: u64,
        va: u64,
        flags: u32,
        npre: usize,
    ) -> Result {
        let mut pool: Pool<'drm> = [None, None, None];
        for slot in pool.iter_mut().take(npre) {
            *slot = Some(GpuVaAlloc::new(GFP_KERNEL)?);
        }
        let bound = self.dev.bound()?;
        let mut unique = self.gpuvm_unique.lock().unwrap();
        let mut pt = self.pt.lock().unwrap();
        let mut steps = self.steps.lock().unwrap();
        let mut ctx = PtUpdateContext {
            dev: &bound,
            pt: &mut pt,
            op: PtOp::Map { prot: flags },
            preallocated_vas: &mut pool,
            steps: &mut steps,
        };
        unique.sm_map(OpMapRequest {
            addr: va,
            range: size,
            gem_offset: bo_offset,
            vm_bo,
            context: &mut ctx,
        })
    }

    fn unmap_range(&self, va: u64, size: u64) -> Result {
        if va % PAGE != 0 || size % PAGE != 0 {
            return Err(EINVAL);
        }
        // Unmapping everything needs no remap, hence no VA.
        let whole = va == self.gpuvm.va_start() && size == self.gpuvm.va_length();
        let mut pool: Pool<'drm> = [None, None, None];
        if !whole {
            for slot in pool.iter_mut() {
                *slot = Some(GpuVaAlloc::new(GFP_KERNEL)?);
            }
        }
        let bound = self.dev.bound()?;
        let ret = {
            let mut unique = self.gpuvm_unique.lock().unwrap();
            let mut pt = self.pt.lock().unwrap();
            let mut steps = self.steps.lock().unwrap();
            let mut ctx = PtUpdateContext {
                dev: &bound,
                pt: &mut pt,
                op: PtOp::Unmap,
                preallocated_vas: &mut pool,
                steps: &mut steps,
            };
            unique.sm_unmap(va, size, &mut ctx)
        };
        drop(bound);
        self.gpuvm.deferred_cleanup();
        ret
    }

    fn kill(&self) -> Result {
        self.unmap_range(self.gpuvm.va_start(), self.gpuvm.va_length())
    }

    // For the tests.
    fn mappings(&self) -> Vec<(Range<u64>, u64)> {
        self.gpuvm_unique.lock().unwrap().mappings()
    }

    fn take_steps(&self) -> Vec<Step> {
        std::mem::take(&mut *self.steps.lock().unwrap())
    }

    fn page_table(&self) -> PageTable {
        self.pt.lock().unwrap().clone()
    }
}

impl Drop for Vm<'_> {
    fn drop(&mut self) {
        // A failing test unwinding through a VM with mappings would leave
        // it alive (its mappings hold it) and the leak report would fail
        // every later test of the process: unmap everything then. Not in
        // the normal path: there the tests tear down themselves.
        if !std::thread::panicking() {
            return;
        }
        let Ok(bound) = self.dev.bound() else { return };
        let unique = self
            .gpuvm_unique
            .get_mut()
            .unwrap_or_else(|e| e.into_inner());
        let pt = self.pt.get_mut().unwrap_or_else(|e| e.into_inner());
        let steps = self.steps.get_mut().unwrap_or_else(|e| e.into_inner());
        let mut pool: Pool<'_> = [None, None, None];
        let mut ctx = PtUpdateContext {
            dev: &bound,
            pt,
            op: PtOp::Unmap,
            preallocated_vas: &mut pool,
            steps,
        };
        let (start, len) = (unique.va_start(), unique.va_length());
        let _ = unique.sm_unmap(start, len, &mut ctx);
        unique.deferred_cleanup();
    }
}

// ---- helpers -----------------------------------------------------------------

const VA_START: u64 = 1 << 20;
const VA_END: u64 = 1 << 32;
const RW: u32 = PROT_READ | PROT_WRITE;

/// The VM's reference count with `vm_bos` vm_bos and `vas` mappings: the
/// unique handle and the shared one, plus one per vm_bo and per mapping.
fn vm_refs(vm_bos: i32, vas: i32) -> i32 {
    2 + vm_bos + vas
}

/// The page-table entries mapping `len` bytes of an object whose pages are
/// `pages`, from `offset`, at `va`.
fn ptes(pages: &[u64], va: u64, offset: u64, len: u64, prot: u32) -> Vec<(u64, Pte)> {
    let first = (offset / PAGE) as usize;
    (0..(len / PAGE) as usize)
        .map(|i| {
            (
                va + i as u64 * PAGE,
                Pte {
                    pa: pages[first + i],
                    prot,
                },
            )
        })
        .collect()
}

fn table(parts: &[Vec<(u64, Pte)>]) -> PageTable {
    parts.iter().flatten().copied().collect()
}

struct World {
    gpu: Gpu,
    r_obj: ARef<Bo>,
}

fn world(name: &'static CStr) -> World {
    let gpu = Gpu::new(name);
    let r_obj = gpu.bo(4096);
    World { gpu, r_obj }
}

fn pages_of(w: &World, bo: &Bo) -> Vec<u64> {
    let bound = w.gpu.dev.bound().unwrap();
    dma_pages(bo, &bound)
}

// ---- tests -------------------------------------------------------------------

#[test]
fn map_writes_page_table_and_mapping() {
    let _checked = Checked::new();
    let w = world(c"tyr-map");
    let bo = w.gpu.bo(0x40000);
    let vm = Vm::new(&w.gpu, &w.r_obj, VA_START..VA_END).unwrap();
    assert_eq!(vm.gpuvm.refcount(), 2);

    vm.map_bo_range(&bo, 0x1000, 0x8000, 0x200000, RW).unwrap();

    assert_eq!(
        vm.take_steps(),
        [Step::Map {
            addr: 0x200000,
            len: 0x8000,
            offset: 0x1000
        }]
    );
    assert_eq!(vm.mappings(), [(0x200000..0x208000, 0x1000)]);
    let pages = pages_of(&w, &bo);
    assert_eq!(pages.len(), 0x40);
    // A fresh device's first DMA window starts at 4 GiB.
    assert_eq!(pages[0], 1 << 32);
    assert_eq!(
        vm.page_table(),
        table(&[ptes(&pages, 0x200000, 0x1000, 0x8000, RW)])
    );
    // The mapping holds the vm_bo, which holds the object and the VM; the
    // mapping holds the VM too.
    assert_eq!(bo.refcount(), 2);
    assert_eq!(vm.gpuvm.refcount(), vm_refs(1, 1));
    let bo_ptr = vm.gpuvm.extobj_list();
    assert_eq!(bo_ptr.len(), 1);
    // SAFETY: the vm_bo is alive (the mapping holds it).
    assert_eq!(unsafe { (*bo_ptr[0]).refcount() }, 1);
    assert_eq!(w.gpu.dev.dma_mappings(), 1);

    vm.kill().unwrap();
    assert_eq!(
        vm.take_steps(),
        [Step::Unmap {
            addr: 0x200000,
            len: 0x8000,
            keep: false
        }]
    );
    assert!(vm.page_table().is_empty());
    assert_eq!(bo.refcount(), 1);
    assert_eq!(vm.gpuvm.refcount(), 2);
    assert!(vm.gpuvm.extobj_list().is_empty());
}

#[test]
fn map_over_middle_splits_existing_mapping() {
    let _checked = Checked::new();
    let w = world(c"tyr-split");
    let a = w.gpu.bo(0x40000);
    let b = w.gpu.bo(0x10000);
    let vm = Vm::new(&w.gpu, &w.r_obj, VA_START..VA_END).unwrap();

    vm.map_bo_range(&a, 0, 0x40000, 0x100000, RW).unwrap();
    vm.take_steps();
    vm.map_bo_range(&b, 0x4000, 0x8000, 0x110000, PROT_READ | PROT_NOEXEC)
        .unwrap();

    assert_eq!(
        vm.take_steps(),
        [
            Step::Remap {
                addr: 0x100000,
                len: 0x40000,
                prev: Some((0x100000, 0x10000, 0)),
                next: Some((0x118000, 0x28000, 0x18000)),
                keep: false,
            },
            Step::Map {
                addr: 0x110000,
                len: 0x8000,
                offset: 0x4000
            },
        ]
    );
    assert_eq!(
        vm.mappings(),
        [
            (0x100000..0x110000, 0),
            (0x110000..0x118000, 0x4000),
            (0x118000..0x140000, 0x18000)
        ]
    );
    let (pa, pb) = (pages_of(&w, &a), pages_of(&w, &b));
    assert_eq!(
        vm.page_table(),
        table(&[
            ptes(&pa, 0x100000, 0, 0x10000, RW),
            ptes(&pb, 0x110000, 0x4000, 0x8000, PROT_READ | PROT_NOEXEC),
            ptes(&pa, 0x118000, 0x18000, 0x28000, RW),
        ])
    );
    // Two mappings of `a` share one vm_bo; `b` has its own.
    assert_eq!(a.refcount(), 2);
    assert_eq!(b.refcount(), 2);
    assert_eq!(vm.gpuvm.refcount(), vm_refs(2, 3));
    let list = vm.gpuvm.extobj_list();
    assert_eq!(list.len(), 2);
    // SAFETY: both vm_bos are held by mappings.
    unsafe {
        assert_eq!((*list[0]).refcount(), 2);
        assert_eq!((*list[1]).refcount(), 1);
        assert_eq!((*list[0]).obj().as_raw(), a.as_raw());
        assert_eq!((*list[1]).obj().as_raw(), b.as_raw());
    }

    vm.kill().unwrap();
    assert_eq!(
        vm.take_steps(),
        [
            Step::Unmap {
                addr: 0x100000,
                len: 0x10000,
                keep: false
            },
            Step::Unmap {
                addr: 0x110000,
                len: 0x8000,
                keep: false
            },
            Step::Unmap {
                addr: 0x118000,
                len: 0x28000,
                keep: false
            },
        ]
    );
    assert_eq!((a.refcount(), b.refcount(), vm.gpuvm.refcount()), (1, 1, 2));
}

#[test]
fn unmap_middle_part() {
    let _checked = Checked::new();
    let w = world(c"tyr-unmap-mid");
    let bo = w.gpu.bo(0x20000);
    let vm = Vm::new(&w.gpu, &w.r_obj, VA_START..VA_END).unwrap();
    vm.map_bo_range(&bo, 0, 0x20000, 0x400000, RW).unwrap();
    vm.take_steps();

    vm.unmap_range(0x404000, 0x3000).unwrap();

    assert_eq!(
        vm.take_steps(),
        [Step::Remap {
            addr: 0x400000,
            len: 0x20000,
            prev: Some((0x400000, 0x4000, 0)),
            next: Some((0x407000, 0x19000, 0x7000)),
            keep: false,
        }]
    );
    assert_eq!(
        vm.mappings(),
        [(0x400000..0x404000, 0), (0x407000..0x420000, 0x7000)]
    );
    let pages = pages_of(&w, &bo);
    assert_eq!(
        vm.page_table(),
        table(&[
            ptes(&pages, 0x400000, 0, 0x4000, RW),
            ptes(&pages, 0x407000, 0x7000, 0x19000, RW)
        ])
    );
    assert_eq!((bo.refcount(), vm.gpuvm.refcount()), (2, vm_refs(1, 2)));

    // Unmapping across both pieces trims each: two remaps.
    vm.unmap_range(0x403000, 0x5000).unwrap();
    assert_eq!(
        vm.take_steps(),
        [
            Step::Remap {
                addr: 0x400000,
                len: 0x4000,
                prev: Some((0x400000, 0x3000, 0)),
                next: None,
                keep: false
            },
            Step::Remap {
                addr: 0x407000,
                len: 0x19000,
                prev: None,
                next: Some((0x408000, 0x18000, 0x8000)),
                keep: false,
            },
        ]
    );
    assert_eq!(
        vm.mappings(),
        [(0x400000..0x403000, 0), (0x408000..0x420000, 0x8000)]
    );
    assert_eq!(
        vm.page_table(),
        table(&[
            ptes(&pages, 0x400000, 0, 0x3000, RW),
            ptes(&pages, 0x408000, 0x8000, 0x18000, RW)
        ])
    );

    // An unmap of a hole changes nothing and emits nothing.
    vm.unmap_range(0x404000, 0x4000).unwrap();
    assert!(vm.take_steps().is_empty());
    assert_eq!(
        vm.mappings(),
        [(0x400000..0x403000, 0), (0x408000..0x420000, 0x8000)]
    );

    vm.kill().unwrap();
    assert_eq!((bo.refcount(), vm.gpuvm.refcount()), (1, 2));
}

#[test]
fn map_contiguous_with_existing_mapping_is_keep() {
    let _checked = Checked::new();
    let w = world(c"tyr-keep");
    let bo = w.gpu.bo(0x40000);
    let other = w.gpu.bo(0x40000);
    let vm = Vm::new(&w.gpu, &w.r_obj, VA_START..VA_END).unwrap();
    vm.map_bo_range(&bo, 0, 0x20000, 0x100000, RW).unwrap();
    vm.take_steps();

    // Same object, address-to-offset relation continued: keep.
    vm.map_bo_range(&bo, 0x10000, 0x20000, 0x110000, RW)
        .unwrap();
    assert_eq!(
        vm.take_steps(),
        [
            Step::Remap {
                addr: 0x100000,
                len: 0x20000,
                prev: Some((0x100000, 0x10000, 0)),
                next: None,
                keep: true
            },
            Step::Map {
                addr: 0x110000,
                len: 0x20000,
                offset: 0x10000
            },
        ]
    );
    // No merge: two mappings that are contiguous in both spaces.
    assert_eq!(
        vm.mappings(),
        [(0x100000..0x110000, 0), (0x110000..0x130000, 0x10000)]
    );
    let pages = pages_of(&w, &bo);
    assert_eq!(
        vm.page_table(),
        table(&[ptes(&pages, 0x100000, 0, 0x30000, RW)])
    );

    // Same object, same relation, covering a whole mapping: unmap with keep.
    vm.map_bo_range(&bo, 0, 0x30000, 0x100000, PROT_READ)
        .unwrap();
    assert_eq!(
        vm.take_steps(),
        [
            Step::Unmap {
                addr: 0x100000,
                len: 0x10000,
                keep: true
            },
            Step::Unmap {
                addr: 0x110000,
                len: 0x20000,
                keep: true
            },
            Step::Map {
                addr: 0x100000,
                len: 0x30000,
                offset: 0
            },
        ]
    );
    assert_eq!(vm.mappings(), [(0x100000..0x130000, 0)]);
    assert_eq!(
        vm.page_table(),
        table(&[ptes(&pages, 0x100000, 0, 0x30000, PROT_READ)])
    );

    // Same object, broken relation: no keep.
    vm.map_bo_range(&bo, 0x8000, 0x10000, 0x110000, RW).unwrap();
    assert_eq!(
        vm.take_steps(),
        [
            Step::Remap {
                addr: 0x100000,
                len: 0x30000,
                prev: Some((0x100000, 0x10000, 0)),
                next: Some((0x120000, 0x10000, 0x20000)),
                keep: false,
            },
            Step::Map {
                addr: 0x110000,
                len: 0x10000,
                offset: 0x8000
            },
        ]
    );
    // Another object with the "right" offset: no keep either.
    vm.map_bo_range(&other, 0x20000, 0x10000, 0x120000, RW)
        .unwrap();
    assert_eq!(
        vm.take_steps(),
        [
            Step::Unmap {
                addr: 0x120000,
                len: 0x10000,
                keep: false
            },
            Step::Map {
                addr: 0x120000,
                len: 0x10000,
                offset: 0x20000
            },
        ]
    );
    assert_eq!(
        vm.mappings(),
        [
            (0x100000..0x110000, 0),
            (0x110000..0x120000, 0x8000),
            (0x120000..0x130000, 0x20000)
        ]
    );
    let opages = pages_of(&w, &other);
    assert_eq!(
        vm.page_table(),
        table(&[
            ptes(&pages, 0x100000, 0, 0x10000, PROT_READ),
            ptes(&pages, 0x110000, 0x8000, 0x10000, RW),
            ptes(&opages, 0x120000, 0x20000, 0x10000, RW),
        ])
    );
    vm.kill().unwrap();
    assert_eq!(
        (bo.refcount(), other.refcount(), vm.gpuvm.refcount()),
        (1, 1, 2)
    );
}

#[test]
fn unmap_everything_then_teardown_leaks_nothing() {
    let _checked = Checked::new();
    let w = world(c"tyr-teardown");
    let bos: Vec<ARef<Bo>> = (0..3).map(|_| w.gpu.bo(0x10000)).collect();
    let private = w.gpu.private_bo(0x10000, &w.r_obj);
    assert_eq!(w.r_obj.refcount(), 2); // the private object holds it
    {
        let vm = Vm::new(&w.gpu, &w.r_obj, VA_START..VA_END).unwrap();
        assert_eq!(w.r_obj.refcount(), 3);
        for (i, bo) in bos.iter().enumerate() {
            vm.map_bo_range(bo, 0, 0x10000, 0x100000 * (i as u64 + 1), RW)
                .unwrap();
            vm.map_bo_range(bo, 0x8000, 0x4000, 0x100000 * (i as u64 + 1) + 0x80000, RW)
                .unwrap();
        }
        vm.map_bo_range(&private, 0, 0x10000, 0x800000, RW).unwrap();
        assert_eq!(vm.mappings().len(), 7);
        assert_eq!(vm.gpuvm.refcount(), vm_refs(4, 7));
        assert!(bos.iter().all(|bo| bo.refcount() == 2));
        assert_eq!(private.refcount(), 2);
        assert!(!vm.gpuvm.is_extobj(&private));
        assert_eq!(vm.gpuvm.extobj_list().len(), 3);
        vm.take_steps();

        vm.kill().unwrap();
        assert_eq!(vm.take_steps().len(), 7);
        assert!(vm.take_steps().is_empty());
        assert!(vm.mappings().is_empty());
        assert!(vm.page_table().is_empty());
        assert!(vm.gpuvm.extobj_list().is_empty());
        assert!(bos.iter().all(|bo| bo.refcount() == 1));
        assert_eq!(private.refcount(), 1);
        // What the handles hold: the unique one and the shared one.
        assert_eq!(vm.gpuvm.refcount(), 2);
        // A second kill finds nothing.
        vm.kill().unwrap();
        assert!(vm.take_steps().is_empty());
    }
    // The VM dropped its r_obj reference.
    assert_eq!(w.r_obj.refcount(), 2);
    // SG tables stay until the objects go.
    assert_eq!(w.gpu.dev.dma_mappings(), 4);
    drop(bos);
    drop(private);
    assert_eq!(w.gpu.dev.dma_mappings(), 0);
    assert_eq!(w.r_obj.refcount(), 1);
}

#[test]
fn failing_map_step_sg_table_of_another_device() {
    let _checked = Checked::new();
    let w = world(c"tyr-fail-sgt");
    let other = Gpu::new(c"tyr-other");
    let a = w.gpu.bo(0x40000);
    let foreign = other.bo(0x10000);
    let vm = Vm::new(&w.gpu, &w.r_obj, VA_START..VA_END).unwrap();
    vm.map_bo_range(&a, 0, 0x40000, 0x100000, RW).unwrap();
    vm.take_steps();

    // The remap runs, then the map step's sg_table refuses the object of
    // another device: the walk stops there.
    assert_eq!(
        vm.map_bo_range(&foreign, 0, 0x10000, 0x110000, RW),
        Err(EINVAL)
    );
    assert_eq!(
        vm.take_steps(),
        [
            Step::Remap {
                addr: 0x100000,
                len: 0x40000,
                prev: Some((0x100000, 0x10000, 0)),
                next: Some((0x120000, 0x20000, 0x20000)),
                keep: false,
            },
            Step::Map {
                addr: 0x110000,
                len: 0x10000,
                offset: 0
            },
        ]
    );
    assert_eq!(
        vm.mappings(),
        [(0x100000..0x110000, 0), (0x120000..0x140000, 0x20000)]
    );
    let pages = pages_of(&w, &a);
    assert_eq!(
        vm.page_table(),
        table(&[
            ptes(&pages, 0x100000, 0, 0x10000, RW),
            ptes(&pages, 0x120000, 0x20000, 0x20000, RW)
        ])
    );
    // The foreign object's vm_bo was dropped and cleaned up.
    assert_eq!(foreign.refcount(), 1);
    assert_eq!(vm.gpuvm.extobj_list().len(), 1);
    assert_eq!((a.refcount(), vm.gpuvm.refcount()), (2, vm_refs(1, 2)));
    assert_eq!(other.dev.dma_mappings(), 0);

    vm.kill().unwrap();
    assert_eq!((a.refcount(), vm.gpuvm.refcount()), (1, 2));
}

#[test]
fn failing_steps_with_short_prealloc_pool() {
    let _checked = Checked::new();
    let w = world(c"tyr-fail-pool");
    let a = w.gpu.bo(0x40000);
    let b = w.gpu.bo(0x10000);
    let vm = Vm::new(&w.gpu, &w.r_obj, VA_START..VA_END).unwrap();
    vm.map_bo_range(&a, 0, 0x40000, 0x100000, RW).unwrap();
    vm.take_steps();
    let pages = pages_of(&w, &a);
    let before_pt = vm.page_table();
    let split = Step::Remap {
        addr: 0x100000,
        len: 0x40000,
        prev: Some((0x100000, 0x10000, 0)),
        next: Some((0x118000, 0x28000, 0x18000)),
        keep: false,
    };

    // One VA: the remap step fails first, nothing changes.
    assert_eq!(
        vm.map_bo_range_with(&b, 0, 0x8000, 0x110000, RW, 1),
        Err(EINVAL)
    );
    assert_eq!(vm.take_steps(), std::slice::from_ref(&split));
    assert_eq!(vm.mappings(), [(0x100000..0x140000, 0)]);
    assert_eq!(vm.page_table(), before_pt);
    assert_eq!(
        (a.refcount(), b.refcount(), vm.gpuvm.refcount()),
        (2, 1, vm_refs(1, 1))
    );
    assert_eq!(vm.gpuvm.extobj_list().len(), 1);

    // Two VAs: the remap takes both, the map step finds the pool empty.
    assert_eq!(
        vm.map_bo_range_with(&b, 0, 0x8000, 0x110000, RW, 2),
        Err(EINVAL)
    );
    assert_eq!(
        vm.take_steps(),
        [
            split,
            Step::Map {
                addr: 0x110000,
                len: 0x8000,
                offset: 0
            }
        ]
    );
    assert_eq!(
        vm.mappings(),
        [(0x100000..0x110000, 0), (0x118000..0x140000, 0x18000)]
    );
    assert_eq!(
        vm.page_table(),
        table(&[
            ptes(&pages, 0x100000, 0, 0x10000, RW),
            ptes(&pages, 0x118000, 0x18000, 0x28000, RW)
        ])
    );
    assert_eq!(
        (a.refcount(), b.refcount(), vm.gpuvm.refcount()),
        (2, 1, vm_refs(1, 2))
    );

    // With the full pool the same request completes the picture.
    vm.map_bo_range(&b, 0, 0x8000, 0x110000, RW).unwrap();
    assert_eq!(
        vm.take_steps(),
        [Step::Map {
            addr: 0x110000,
            len: 0x8000,
            offset: 0
        }]
    );
    assert_eq!(
        vm.mappings(),
        [
            (0x100000..0x110000, 0),
            (0x110000..0x118000, 0),
            (0x118000..0x140000, 0x18000)
        ]
    );
    vm.kill().unwrap();
    assert_eq!((a.refcount(), b.refcount(), vm.gpuvm.refcount()), (1, 1, 2));
}

#[test]
fn failing_preallocation_changes_nothing() {
    let _checked = Checked::new();
    let w = world(c"tyr-fail-alloc");
    let a = w.gpu.bo(0x20000);
    let vm = Vm::new(&w.gpu, &w.r_obj, VA_START..VA_END).unwrap();
    vm.map_bo_range(&a, 0, 0x20000, 0x100000, RW).unwrap();
    vm.take_steps();
    let before_pt = vm.page_table();

    // The obtain allocates once (the vm_bo), then come the three VAs.
    for n in 1..=4 {
        gpuvm::testing::fail_nth_allocation(n);
        assert_eq!(
            vm.map_bo_range(&a, 0, 0x8000, 0x108000, RW),
            Err(ENOMEM),
            "allocation {n}"
        );
        gpuvm::testing::fail_nth_allocation(0);
        assert!(vm.take_steps().is_empty());
        assert_eq!(vm.mappings(), [(0x100000..0x120000, 0)]);
        assert_eq!(vm.page_table(), before_pt);
        assert_eq!((a.refcount(), vm.gpuvm.refcount()), (2, vm_refs(1, 1)));
        assert_eq!(vm.gpuvm.extobj_list().len(), 1);
    }

    // A new object: its fresh vm_bo must not outlive the failure.
    let b = w.gpu.bo(0x10000);
    for n in 1..=4 {
        gpuvm::testing::fail_nth_allocation(n);
        assert_eq!(
            vm.map_bo_range(&b, 0, 0x8000, 0x200000, RW),
            Err(ENOMEM),
            "allocation {n}"
        );
        gpuvm::testing::fail_nth_allocation(0);
        assert!(vm.take_steps().is_empty());
        assert_eq!(vm.mappings(), [(0x100000..0x120000, 0)]);
        assert_eq!((b.refcount(), vm.gpuvm.refcount()), (1, vm_refs(1, 1)));
        assert_eq!(vm.gpuvm.extobj_list().len(), 1);
    }
    vm.kill().unwrap();
    assert_eq!((a.refcount(), vm.gpuvm.refcount()), (1, 2));
}

#[test]
fn map_at_the_edge_and_outside_the_vm() {
    let _checked = Checked::new();
    let w = world(c"tyr-edge");
    let bo = w.gpu.bo(0x10000);
    let vm = Vm::new(&w.gpu, &w.r_obj, VA_START..VA_END).unwrap();
    assert_eq!(vm.gpuvm.va_range(), VA_START..VA_END);

    // The first and the last pages of the VA space.
    vm.map_bo_range(&bo, 0, 0x2000, VA_START, RW).unwrap();
    vm.map_bo_range(&bo, 0x2000, 0x2000, VA_END - 0x2000, RW)
        .unwrap();
    let expected = vec![
        (VA_START..VA_START + 0x2000, 0),
        (VA_END - 0x2000..VA_END, 0x2000),
    ];
    assert_eq!(vm.mappings(), expected);
    vm.take_steps();
    let pt = vm.page_table();
    let pages = pages_of(&w, &bo);
    assert_eq!(
        pt,
        table(&[
            ptes(&pages, VA_START, 0, 0x2000, RW),
            ptes(&pages, VA_END - 0x2000, 0x2000, 0x2000, RW)
        ])
    );

    let refused: &[(u64, u64, u64)] = &[
        // (bo_offset, size, va)
        (0, 0x2000, VA_END - 0x1000),         // crosses the end
        (0, 0x1000, VA_END),                  // just past the end
        (0, 0x2000, VA_START - 0x1000),       // crosses the start
        (0, 0x1000, 0),                       // below the start
        (0, 0x2000, u64::MAX - 0xfff),        // wraps around
        (0, 0, 0x200000),                     // empty
        (0, 0x1000, 0x200800),                // misaligned address
        (0x800, 0x1000, 0x200000),            // misaligned offset
        (0, 0x1800, 0x200000),                // misaligned size
        (0x8000, 0x9000, 0x200000),           // past the object's end
        (u64::MAX - 0xfff, 0x2000, 0x200000), // offset + size wraps
    ];
    for &(off, size, va) in refused {
        assert_eq!(
            vm.map_bo_range(&bo, off, size, va, RW),
            Err(EINVAL),
            "{off:#x}+{size:#x} at {va:#x}"
        );
        assert!(vm.take_steps().is_empty());
        assert_eq!(vm.mappings(), expected);
        assert_eq!(vm.page_table(), pt);
        assert_eq!((bo.refcount(), vm.gpuvm.refcount()), (2, vm_refs(1, 2)));
        assert_eq!(vm.gpuvm.extobj_list().len(), 1);
    }
    // Unmapping outside is refused as well.
    assert_eq!(vm.unmap_range(VA_END - 0x1000, 0x2000), Err(EINVAL));
    assert_eq!(vm.unmap_range(0, 0x1000), Err(EINVAL));
    assert_eq!(vm.mappings(), expected);

    vm.kill().unwrap();
    assert_eq!(
        vm.take_steps(),
        [
            Step::Unmap {
                addr: VA_START,
                len: 0x2000,
                keep: false
            },
            Step::Unmap {
                addr: VA_END - 0x2000,
                len: 0x2000,
                keep: false
            },
        ]
    );
    assert_eq!((bo.refcount(), vm.gpuvm.refcount()), (1, 2));
}

#[test]
fn vm_is_shared_between_threads() {
    let _checked = Checked::new();
    let w = world(c"tyr-threads");
    let bos: Vec<ARef<Bo>> = (0..4).map(|_| w.gpu.bo(0x10000)).collect();
    let vm = Vm::new(&w.gpu, &w.r_obj, VA_START..VA_END).unwrap();
    std::thread::scope(|s| {
        for (i, bo) in bos.iter().enumerate() {
            let vm = &vm;
            s.spawn(move || {
                let base = 0x1000000 * (i as u64 + 1);
                for round in 0..50u64 {
                    let va = base + (round % 4) * 0x20000;
                    vm.map_bo_range(bo, 0, 0x10000, va, RW).unwrap();
                    vm.map_bo_range(bo, 0x4000, 0x4000, va + 0x4000, RW)
                        .unwrap();
                    vm.unmap_range(va + 0x2000, 0x4000).unwrap();
                    vm.unmap_range(va, 0x10000).unwrap();
                }
            });
        }
    });
    assert!(vm.mappings().is_empty());
    assert!(vm.page_table().is_empty());
    assert!(vm.gpuvm.extobj_list().is_empty());
    assert!(bos.iter().all(|bo| bo.refcount() == 1));
    assert_eq!(vm.gpuvm.refcount(), 2);
}

/// Runs `op` with each of its allocations failing in turn (after `setup`
/// each time): it must either fail with ENOMEM leaving the state `setup`
/// made, or succeed with exactly `expected` mappings and page table.
/// Everything is unmapped before anything is asserted. Returns the number
/// of allocation points.
fn sweep(
    vm: &Vm<'_>,
    bos: &[&Bo],
    setup: impl Fn(),
    op: impl Fn() -> Result,
    expected: (Vec<(Range<u64>, u64)>, PageTable),
) -> u64 {
    let mut n = 1;
    loop {
        setup();
        vm.take_steps();
        let before = (vm.mappings(), vm.page_table());
        gpuvm::testing::fail_nth_allocation(n);
        let ret = op();
        let fired = gpuvm::testing::allocation_fault_fired();
        gpuvm::testing::fail_nth_allocation(0);
        let after = (vm.mappings(), vm.page_table());
        let steps = vm.take_steps();

        vm.kill().unwrap();
        let leftover_pt = std::mem::take(&mut *vm.pt.lock().unwrap());
        vm.take_steps();

        // Mappings compared in full; page tables by equality only (long).
        let (want, what) = if ret.is_ok() {
            (&expected, "done")
        } else {
            (&before, "failed")
        };
        assert_eq!(
            after.0, want.0,
            "allocation {n}: {what}, with these mappings (steps {steps:x?})"
        );
        assert!(
            after.1 == want.1,
            "allocation {n}: {what}, with another page table"
        );
        if let Err(e) = ret {
            assert_eq!(e, ENOMEM, "allocation {n}");
        }
        assert!(
            leftover_pt.is_empty(),
            "allocation {n}: pages still mapped after kill: {leftover_pt:x?}"
        );
        assert!(bos.iter().all(|bo| bo.refcount() == 1), "allocation {n}");
        assert_eq!(vm.gpuvm.refcount(), 2, "allocation {n}");
        if !fired {
            return n;
        }
        n += 1;
    }
}

/// A map whose every allocation fails in turn. libgpuvm's VA index needs
/// a node (allocated without blocking) for the first insert of a VM:
/// when that allocation fails, `OpMap::insert` must not report the
/// mapping done.
#[test]
fn allocation_failures_during_map_are_not_silent() {
    let _checked = Checked::new();
    let w = world(c"tyr-nomem-map");
    let bo = w.gpu.bo(0x10000);
    let vm = Vm::new(&w.gpu, &w.r_obj, VA_START..VA_END).unwrap();
    // The SG table exists already: the step itself allocates nothing.
    let pages = pages_of(&w, &bo);
    let expected = (
        vec![(0x100000..0x104000, 0)],
        table(&[ptes(&pages, 0x100000, 0, 0x4000, RW)]),
    );
    let points = sweep(
        &vm,
        &[&bo],
        || {},
        || vm.map_bo_range(&bo, 0, 0x4000, 0x100000, RW),
        expected,
    );
    // The vm_bo, three VAs, the index node.
    assert!(points >= 5, "{points} allocation points");
}

/// The same for a remap: with a full index leaf, the second remnant of a
/// split needs a new node.
#[test]
fn allocation_failures_during_remap_are_not_silent() {
    let _checked = Checked::new();
    let w = world(c"tyr-nomem-remap");
    let a = w.gpu.bo(0x4000);
    let b = w.gpu.bo(0x1000);
    let vm = Vm::new(&w.gpu, &w.r_obj, VA_START..VA_END).unwrap();
    let (pa, pb) = (pages_of(&w, &a), pages_of(&w, &b));
    let at = |i: u64| 0x100000 + i * 0x10000;
    let setup = || {
        for i in 0..32 {
            vm.map_bo_range(&a, 0, 0x4000, at(i), RW).unwrap();
        }
    };
    let mut mappings: Vec<(Range<u64>, u64)> =
        (1..32).map(|i| (at(i)..at(i) + 0x4000, 0)).collect();
    mappings.splice(
        0..0,
        [
            (at(0)..at(0) + 0x1000, 0),
            (at(0) + 0x1000..at(0) + 0x2000, 0),
            (at(0) + 0x2000..at(0) + 0x4000, 0x2000),
        ],
    );
    let mut parts = vec![
        ptes(&pa, at(0), 0, 0x1000, RW),
        ptes(&pb, at(0) + 0x1000, 0, 0x1000, RW),
        ptes(&pa, at(0) + 0x2000, 0x2000, 0x2000, RW),
    ];
    parts.extend((1..32).map(|i| ptes(&pa, at(i), 0, 0x4000, RW)));
    let points = sweep(
        &vm,
        &[&a, &b],
        setup,
        || vm.map_bo_range(&b, 0, 0x1000, at(0) + 0x1000, RW),
        (mappings, table(&parts)),
    );
    assert!(points >= 5, "{points} allocation points");
}
