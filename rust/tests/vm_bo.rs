// SPDX-License-Identifier: MIT
//! vm_bos: obtaining, the extobj list, deferred drops and cleanup (also
//! across threads and at forced interleavings), the driver's vm_bo data,
//! and VM teardown.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

use common::{Bo, Ctx, Gpu, HookReset, LogVm, Step, TestVm};
use gpuvm::bindings;
use gpuvm::drm::gem::{BaseObject, IntoGEMObject};
use gpuvm::drm::gpuvm::{GpuVm, GpuVmBo, OpMapRequest, UniqueRefGpuVm};
use gpuvm::prelude::*;
use gpuvm::testing::{hook, Checked};

type Vm<D> = UniqueRefGpuVm<LogVm<D>>;

const VA: std::ops::Range<u64> = 0..1 << 32;

fn new_vm<D: Send + Sync>(gpu: &Gpu, r_obj: &Bo, name: &'static CStr) -> TestVm<D> {
    TestVm::new(gpu, r_obj, name, VA)
}

fn map<D: Send + Sync>(
    vm: &mut Vm<D>,
    vm_bo: &GpuVmBo<LogVm<D>>,
    addr: u64,
    range: u64,
    offset: u64,
) -> Result<Vec<Step>> {
    let mut ctx = Ctx::with_vas(3);
    vm.sm_map(OpMapRequest {
        addr,
        range,
        gem_offset: offset,
        vm_bo,
        context: &mut ctx,
    })?;
    Ok(ctx.log)
}

fn unmap<D: Send + Sync>(vm: &mut Vm<D>, addr: u64, range: u64) -> Vec<Step> {
    let mut ctx = Ctx::with_vas(3);
    vm.sm_unmap(addr, range, &mut ctx).expect("unmap");
    ctx.log
}

fn ptr<T>(r: &T) -> *const T {
    r as *const T
}

#[test]
fn obtain_twice_gives_the_same_vm_bo() {
    let _checked = Checked::new();
    let gpu = Gpu::new(c"vmbo-twice");
    let r_obj = gpu.bo(4096);
    let bo = gpu.bo(0x10000);
    let vm = new_vm::<()>(&gpu, &r_obj, c"twice");
    assert_eq!(vm.refcount(), 1);

    let first = vm.obtain(&bo, ()).unwrap();
    assert_eq!(first.refcount(), 1);
    assert_eq!((bo.refcount(), vm.refcount()), (2, 2));
    let second = vm.obtain(&bo, ()).unwrap();
    assert!(std::ptr::eq(&*first, &*second));
    assert_eq!(second.refcount(), 2);
    // The duplicate was destroyed: it holds nothing.
    assert_eq!((bo.refcount(), vm.refcount()), (2, 2));
    assert!(std::ptr::eq(first.gpuvm(), &*vm.0));
    assert_eq!(first.obj().as_raw(), bo.as_raw());

    // A clone is one more reference, on the same vm_bo.
    let third = second.clone();
    assert_eq!(first.refcount(), 3);
    drop((second, third));
    assert_eq!(first.refcount(), 1);
    drop(first);
    vm.deferred_cleanup();
    assert_eq!((bo.refcount(), vm.refcount()), (1, 1));
}

#[test]
fn external_object_is_on_the_extobj_list_once() {
    let _checked = Checked::new();
    let gpu = Gpu::new(c"vmbo-extobj");
    let r_obj = gpu.bo(4096);
    let a = gpu.bo(0x10000);
    let b = gpu.bo(0x10000);
    let vm = new_vm::<()>(&gpu, &r_obj, c"extobj");
    assert!(vm.is_extobj(&a));
    assert!(vm.extobj_list().is_empty());

    let va = vm.obtain(&a, ()).unwrap();
    assert_eq!(vm.extobj_list(), [ptr(&*va)]);
    let va2 = vm.obtain(&a, ()).unwrap();
    assert_eq!(vm.extobj_list(), [ptr(&*va)]);
    let vb = vm.obtain(&b, ()).unwrap();
    assert_eq!(vm.extobj_list(), [ptr(&*va), ptr(&*vb)]);
    let va3 = vm.obtain(&a, ()).unwrap();
    assert_eq!(vm.extobj_list(), [ptr(&*va), ptr(&*vb)]);
    assert_eq!(va.refcount(), 3);

    drop((va, va2, va3, vb));
    vm.deferred_cleanup();
    assert!(vm.extobj_list().is_empty());
    assert_eq!((a.refcount(), b.refcount(), vm.refcount()), (1, 1, 1));
}

#[test]
fn private_object_is_never_on_the_extobj_list() {
    let _checked = Checked::new();
    let gpu = Gpu::new(c"vmbo-private");
    let r_obj = gpu.bo(4096);
    let private = gpu.private_bo(0x10000, &r_obj);
    let external = gpu.bo(0x10000);
    let mut vm = new_vm::<()>(&gpu, &r_obj, c"private");
    assert!(!vm.is_extobj(&private));
    assert!(!vm.is_extobj(&r_obj));
    assert!(vm.is_extobj(&external));

    let vp = vm.obtain(&private, ()).unwrap();
    assert!(vm.extobj_list().is_empty());
    let vp2 = vm.obtain(&private, ()).unwrap();
    assert!(vm.extobj_list().is_empty());
    assert!(std::ptr::eq(&*vp, &*vp2));
    map(&mut vm, &vp, 0x10000, 0x10000, 0).unwrap();
    let ve = vm.obtain(&external, ()).unwrap();
    assert_eq!(vm.extobj_list(), [ptr(&*ve)]);
    drop((vp, vp2, ve));
    vm.deferred_cleanup();
    assert!(vm.extobj_list().is_empty());
    // The mapping keeps the private object's vm_bo.
    assert_eq!((private.refcount(), external.refcount()), (2, 1));
    assert_eq!(vm.mappings(), [(0x10000..0x20000, 0)]);

    unmap(&mut vm, 0, 1 << 32);
    vm.deferred_cleanup();
    assert_eq!((private.refcount(), vm.refcount()), (1, 1));
}

#[test]
fn last_drop_queues_a_zombie_that_cleanup_frees() {
    let _checked = Checked::new();
    let gpu = Gpu::new(c"vmbo-zombie");
    let r_obj = gpu.bo(4096);
    let bo = gpu.bo(0x10000);
    let vm = new_vm::<()>(&gpu, &r_obj, c"zombie");
    let vm_bo = vm.obtain(&bo, ()).unwrap();
    let raw = ptr(&*vm_bo);
    assert_eq!((bo.refcount(), vm.refcount()), (2, 2));

    drop(vm_bo);
    // A zombie: count 0, still on the extobj list (its removal needs the
    // VM's reservation), still holding the object and the VM.
    assert_eq!(vm.extobj_list(), [raw]);
    // SAFETY: a zombie is not freed before deferred_cleanup.
    assert_eq!(unsafe { (*raw).refcount() }, 0);
    assert_eq!((bo.refcount(), vm.refcount()), (2, 2));

    // A new obtain does not find the zombie: it creates a new vm_bo.
    let fresh = vm.obtain(&bo, ()).unwrap();
    assert!(!std::ptr::eq(&*fresh, raw));
    assert_eq!(vm.extobj_list(), [raw, ptr(&*fresh)]);
    assert_eq!((bo.refcount(), vm.refcount()), (3, 3));

    vm.deferred_cleanup();
    assert_eq!(vm.extobj_list(), [ptr(&*fresh)]);
    assert_eq!((bo.refcount(), vm.refcount()), (2, 2));
    // Nothing more to clean.
    vm.deferred_cleanup();
    assert_eq!((bo.refcount(), vm.refcount()), (2, 2));

    drop(fresh);
    vm.deferred_cleanup();
    assert!(vm.extobj_list().is_empty());
    assert_eq!((bo.refcount(), vm.refcount()), (1, 1));
}

#[test]
fn vm_bo_of_another_vm_is_refused() {
    let _checked = Checked::new();
    let gpu = Gpu::new(c"vmbo-other-vm");
    let r_a = gpu.bo(4096);
    let r_b = gpu.bo(4096);
    let bo = gpu.bo(0x10000);
    let mut vm_a = new_vm::<()>(&gpu, &r_a, c"vm-a");
    let mut vm_b = new_vm::<()>(&gpu, &r_b, c"vm-b");
    let in_a = vm_a.obtain(&bo, ()).unwrap();
    let in_b = vm_b.obtain(&bo, ()).unwrap();
    map(&mut vm_a, &in_a, 0x10000, 0x10000, 0).unwrap();
    map(&mut vm_b, &in_b, 0x40000, 0x8000, 0x8000).unwrap();
    let state = |a: &Vm<()>, b: &Vm<()>| {
        (
            a.mappings(),
            b.mappings(),
            a.refcount(),
            b.refcount(),
            in_a.refcount(),
            in_b.refcount(),
            bo.refcount(),
        )
    };
    let before = state(&vm_a, &vm_b);
    assert_eq!(
        before,
        (
            vec![(0x10000..0x20000, 0)],
            vec![(0x40000..0x48000, 0x8000)],
            3,
            3,
            2,
            2,
            3
        )
    );

    // A's vm_bo in B's map request, over B's mapping and over nothing.
    let mut ctx = Ctx::with_vas(3);
    let req = OpMapRequest {
        addr: 0x40000,
        range: 0x10000,
        gem_offset: 0,
        vm_bo: &in_a,
        context: &mut ctx,
    };
    assert_eq!(vm_b.sm_map(req), Err(EINVAL));
    let req = OpMapRequest {
        addr: 0x80000,
        range: 0x1000,
        gem_offset: 0,
        vm_bo: &in_a,
        context: &mut ctx,
    };
    assert_eq!(vm_b.sm_map(req), Err(EINVAL));
    // And B's in A's.
    let req = OpMapRequest {
        addr: 0x10000,
        range: 0x1000,
        gem_offset: 0,
        vm_bo: &in_b,
        context: &mut ctx,
    };
    assert_eq!(vm_a.sm_map(req), Err(EINVAL));
    assert!(ctx.log.is_empty());
    assert_eq!(ctx.vas.len(), 3);
    assert_eq!(state(&vm_a, &vm_b), before);
    assert_eq!(vm_a.extobj_list(), [ptr(&*in_a)]);
    assert_eq!(vm_b.extobj_list(), [ptr(&*in_b)]);

    drop((in_a, in_b));
    unmap(&mut vm_a, 0, 1 << 32);
    unmap(&mut vm_b, 0, 1 << 32);
    vm_a.deferred_cleanup();
    vm_b.deferred_cleanup();
    assert_eq!((vm_a.refcount(), vm_b.refcount(), bo.refcount()), (1, 1, 1));
}

#[test]
fn deferred_drops_from_threads_while_cleanup_loops() {
    let _checked = Checked::new();
    let gpu = Gpu::new(c"vmbo-threads");
    let r_obj = gpu.bo(4096);
    const THREADS: u64 = 4;
    const ROUNDS: u64 = 300;
    // Per thread: two external objects and one private one.
    let objs: Vec<[ARef<Bo>; 3]> = (0..THREADS)
        .map(|_| {
            [
                gpu.bo(0x10000),
                gpu.bo(0x10000),
                gpu.private_bo(0x10000, &r_obj),
            ]
        })
        .collect();
    let vm = Arc::new(Mutex::new(new_vm::<()>(&gpu, &r_obj, c"threads")));
    let shared: ARef<GpuVm<LogVm<()>>> = vm.lock().unwrap().shared();
    let stop = Arc::new(AtomicBool::new(false));
    let cleanups = Arc::new(AtomicUsize::new(0));

    let cleaner = {
        let (shared, stop, cleanups) = (shared.clone(), stop.clone(), cleanups.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                shared.deferred_cleanup();
                cleanups.fetch_add(1, Ordering::Relaxed);
                thread::yield_now();
            }
        })
    };
    let workers: Vec<_> = objs
        .iter()
        .enumerate()
        .map(|(t, objs)| {
            let objs = objs.clone();
            let vm = vm.clone();
            let shared = shared.clone();
            // A vm_bo obtained here and moved into the thread.
            let moved = shared.obtain(&objs[0], ()).unwrap();
            thread::spawn(move || {
                let base = 0x1000_0000 * (t as u64 + 1);
                let mut moved = Some(moved);
                for round in 0..ROUNDS {
                    let obj = &objs[(round % 3) as usize];
                    let vm_bo = shared.obtain(obj, ()).unwrap();
                    let addr = base + (round % 8) * 0x100000;
                    {
                        let mut vm = vm.lock().unwrap();
                        let log = map(&mut vm, &vm_bo, addr, 0x10000, 0).unwrap();
                        assert_eq!(
                            log,
                            [Step::Map {
                                addr,
                                len: 0x10000,
                                offset: 0
                            }]
                        );
                    }
                    // Dropped while mapped: not the last reference.
                    drop(vm_bo);
                    if round == ROUNDS / 2 {
                        drop(moved.take());
                    }
                    let mut vm = vm.lock().unwrap();
                    assert_eq!(
                        unmap(&mut vm, addr, 0x10000),
                        [Step::Unmap {
                            addr,
                            len: 0x10000,
                            keep: false
                        }]
                    );
                }
                assert!(moved.is_none());
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Release);
    cleaner.join().unwrap();
    assert!(cleanups.load(Ordering::Relaxed) > 0);

    shared.deferred_cleanup();
    assert!(shared.extobj_list().is_empty());
    assert!(vm.lock().unwrap().mappings().is_empty());
    // The threads' clones are gone with them.
    assert!(objs.iter().flatten().all(|obj| obj.refcount() == 1));
    assert_eq!(r_obj.refcount(), 2 + THREADS as i32); // ours, the VM's, the private objects'
    drop(objs);
    assert_eq!(shared.refcount(), 2);
    drop(shared);
    let vm = Arc::try_unwrap(vm).ok().unwrap().into_inner().unwrap();
    assert_eq!(vm.refcount(), 1);
}

#[test]
fn parked_final_put_then_cleanup() {
    let _checked = Checked::new();
    let _hooks = HookReset;
    let gpu = Gpu::new(c"vmbo-parked");
    let r_obj = gpu.bo(4096);
    let bo = gpu.bo(0x10000);
    let vm = new_vm::<()>(&gpu, &r_obj, c"parked");
    let vm_bo = vm.obtain(&bo, ()).unwrap();
    let raw = ptr(&*vm_bo);

    hook::park(c"put_deferred:after_unlock", 1);
    let dropper = thread::spawn(move || drop(vm_bo));
    assert!(hook::wait_parked(c"put_deferred:after_unlock", 1));

    // The count is zero and the gpuva lock is free, but the zombie is not
    // published: cleanup finds nothing and must not free it.
    vm.deferred_cleanup();
    assert_eq!(vm.extobj_list(), [raw]);
    // SAFETY: not freed: not on the deferred list yet.
    assert_eq!(unsafe { (*raw).refcount() }, 0);
    assert_eq!((bo.refcount(), vm.refcount()), (2, 2));
    // Meanwhile a new obtain creates another vm_bo.
    let fresh = vm.obtain(&bo, ()).unwrap();
    assert_eq!(vm.extobj_list(), [raw, ptr(&*fresh)]);
    assert_eq!((bo.refcount(), vm.refcount()), (3, 3));

    hook::release(c"put_deferred:after_unlock");
    dropper.join().unwrap();
    vm.deferred_cleanup();
    assert_eq!(vm.extobj_list(), [ptr(&*fresh)]);
    assert_eq!((bo.refcount(), vm.refcount()), (2, 2));

    // The same with the fresh one, which is then the last.
    hook::park(c"put_deferred:after_unlock", 1);
    let dropper = thread::spawn(move || drop(fresh));
    assert!(hook::wait_parked(c"put_deferred:after_unlock", 1));
    vm.deferred_cleanup();
    assert_eq!(vm.extobj_list().len(), 1);
    assert_eq!((bo.refcount(), vm.refcount()), (2, 2));
    hook::release(c"put_deferred:after_unlock");
    dropper.join().unwrap();
    vm.deferred_cleanup();
    assert!(vm.extobj_list().is_empty());
    assert_eq!((bo.refcount(), vm.refcount()), (1, 1));
}

/// vm_bo data that records its drops: how many, and on which thread.
struct Tracked {
    drops: Arc<AtomicUsize>,
    threads: Arc<Mutex<Vec<ThreadId>>>,
    tag: u32,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        self.threads.lock().unwrap().push(thread::current().id());
    }
}

#[test]
fn vm_bo_data_is_dropped_once_by_the_cleaning_thread() {
    let _checked = Checked::new();
    let gpu = Gpu::new(c"vmbo-data");
    let r_obj = gpu.bo(4096);
    let bo = gpu.bo(0x10000);
    let vm = new_vm::<Tracked>(&gpu, &r_obj, c"data");
    let shared: ARef<GpuVm<LogVm<Tracked>>> = vm.shared();
    let drops = Arc::new(AtomicUsize::new(0));
    let threads = Arc::new(Mutex::new(Vec::new()));
    let tracked = |tag| Tracked {
        drops: drops.clone(),
        threads: threads.clone(),
        tag,
    };

    let vm_bo = vm.obtain(&bo, tracked(1)).unwrap();
    assert_eq!(vm_bo.data().tag, 1);
    // A second obtain keeps the first data and drops the new one at once.
    let again = vm.obtain(&bo, tracked(2)).unwrap();
    assert_eq!(again.data().tag, 1);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(*threads.lock().unwrap(), [thread::current().id()]);
    threads.lock().unwrap().clear();
    drops.store(0, Ordering::SeqCst);
    drop(again);

    // The last reference dies on another thread: queued, not dropped.
    thread::spawn(move || drop(vm_bo)).join().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    assert_eq!(bo.refcount(), 2);

    let cleaner = thread::spawn(move || {
        shared.deferred_cleanup();
        thread::current().id()
    });
    let cleaner_id = cleaner.join().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(*threads.lock().unwrap(), [cleaner_id]);
    assert_eq!(bo.refcount(), 1);
    vm.deferred_cleanup();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(vm.refcount(), 1);
}

/// Zero-sized, with a destructor: the library allocates the vm_bo, the
/// crate's free hook drops the data.
struct ZstDrop;
static ZST_DROPS: AtomicUsize = AtomicUsize::new(0);
impl Drop for ZstDrop {
    fn drop(&mut self) {
        ZST_DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn zero_sized_vm_bo_data_with_drop() {
    let _checked = Checked::new();
    assert_eq!(
        core::mem::size_of::<GpuVmBo<LogVm<ZstDrop>>>(),
        core::mem::size_of::<bindings::gpuvm_bo>()
    );
    let gpu = Gpu::new(c"vmbo-zst");
    let r_obj = gpu.bo(4096);
    let bo = gpu.bo(0x10000);
    let mut vm = new_vm::<ZstDrop>(&gpu, &r_obj, c"zst");
    ZST_DROPS.store(0, Ordering::SeqCst);

    let vm_bo = vm.obtain(&bo, ZstDrop).unwrap();
    let dup = vm.obtain(&bo, ZstDrop).unwrap();
    assert_eq!(ZST_DROPS.load(Ordering::SeqCst), 1);
    map(&mut vm, &vm_bo, 0x10000, 0x4000, 0).unwrap();
    drop((vm_bo, dup));
    vm.deferred_cleanup();
    assert_eq!(ZST_DROPS.load(Ordering::SeqCst), 1);
    unmap(&mut vm, 0x10000, 0x4000);
    assert_eq!(ZST_DROPS.load(Ordering::SeqCst), 1);
    vm.deferred_cleanup();
    assert_eq!(ZST_DROPS.load(Ordering::SeqCst), 2);
    assert_eq!((bo.refcount(), vm.refcount()), (1, 1));
}

#[test]
fn large_vm_bo_data() {
    let _checked = Checked::new();
    assert!(
        core::mem::size_of::<GpuVmBo<LogVm<[u64; 32]>>>()
            > core::mem::size_of::<bindings::gpuvm_bo>()
    );
    let gpu = Gpu::new(c"vmbo-large");
    let r_obj = gpu.bo(4096);
    let bos: Vec<ARef<Bo>> = (0..3).map(|_| gpu.bo(0x10000)).collect();
    let mut vm = new_vm::<[u64; 32]>(&gpu, &r_obj, c"large");
    let pattern = |k: u64| core::array::from_fn::<u64, 32, _>(|i| k << 32 | i as u64);

    let vm_bos: Vec<_> = bos
        .iter()
        .enumerate()
        .map(|(k, bo)| vm.obtain(bo, pattern(k as u64)).unwrap())
        .collect();
    for (k, vm_bo) in vm_bos.iter().enumerate() {
        map(&mut vm, vm_bo, 0x100000 * (k as u64 + 1), 0x10000, 0).unwrap();
    }
    // A duplicate obtain keeps the first data.
    let dup = vm.obtain(&bos[1], pattern(9)).unwrap();
    assert_eq!(*dup.data(), pattern(1));
    drop(dup);
    for (k, vm_bo) in vm_bos.iter().enumerate() {
        assert_eq!(*vm_bo.data(), pattern(k as u64));
    }
    // Reached through a mapping as well.
    let va = vm.find_first(0x200000, 1).unwrap();
    assert_eq!(*va.vm_bo().data(), pattern(1));
    drop(vm_bos);
    unmap(&mut vm, 0, 1 << 32);
    vm.deferred_cleanup();
    assert!(vm.extobj_list().is_empty());
    assert!(bos.iter().all(|bo| bo.refcount() == 1));
    assert_eq!(vm.refcount(), 1);
}

#[test]
fn dropping_the_vm_while_a_vm_bo_is_held_is_reported() {
    let mut checked = Checked::new();
    let gpu = Gpu::new(c"vmbo-kept");
    let r_obj = gpu.bo(4096);
    let bo = gpu.bo(0x10000);
    let vm = new_vm::<()>(&gpu, &r_obj, c"kept");
    let extra = vm.shared();
    let vm_bo = vm.obtain(&bo, ()).unwrap();
    drop(vm);
    drop(extra);
    // Only the vm_bo keeps the VM alive now.
    assert_eq!(vm_bo.gpuvm().refcount(), 1);
    checked.expect_warning("leak-vm-kept-by-vm-bos");
    // SAFETY: a report.
    assert_eq!(unsafe { bindings::gpuvm_report_leaks() }, 1);

    // Recover: the vm_bo reaches the VM; its last put and a cleanup free
    // both.
    let vm = ARef::from(vm_bo.gpuvm());
    drop(vm_bo);
    vm.deferred_cleanup();
    assert_eq!(vm.refcount(), 1);
    drop(vm);
    assert_eq!(bo.refcount(), 1);
    assert_eq!(r_obj.refcount(), 1);
}

#[test]
fn zombie_never_cleaned_is_reported() {
    let mut checked = Checked::new();
    let gpu = Gpu::new(c"vmbo-uncleaned");
    let r_obj = gpu.bo(4096);
    let bo = gpu.bo(0x10000);
    let vm = new_vm::<()>(&gpu, &r_obj, c"uncleaned");
    drop(vm.obtain(&bo, ()).unwrap());
    checked.expect_warning("leak-zombie-not-cleaned");
    // SAFETY: a report.
    assert_eq!(unsafe { bindings::gpuvm_report_leaks() }, 1);
    vm.deferred_cleanup();
    // SAFETY: a report.
    assert_eq!(unsafe { bindings::gpuvm_report_leaks() }, 0);
    assert_eq!((bo.refcount(), vm.refcount()), (1, 1));
}

/// Takes every mapping of the VM of `vm_bo` out through the C API, as a
/// driver that lost its unique handle cannot do through the crate.
///
/// # Safety
///
/// No unique handle of the VM exists any more; `VaData` is `()`.
unsafe fn unmap_all_raw(vm_bo: &GpuVmBo<LogVm<()>>) -> usize {
    let vm = vm_bo.gpuvm().as_raw();
    let mut n = 0;
    loop {
        // SAFETY: nobody else reaches the tree.
        let va = unsafe { bindings::gpuva_find_first(vm, 0, 1 << 32) };
        if va.is_null() {
            return n;
        }
        let op = bindings::gpuva_op_unmap { va, keep: false };
        // SAFETY: a VA of the tree; once removed and unlinked its memory
        // (from the crate's GpuVaAlloc, with no data to drop) is ours.
        unsafe {
            bindings::gpuva_unmap(&op);
            bindings::gpuva_unlink_defer(va);
            bindings::gpuvm_kfree(va.cast());
        }
        n += 1;
    }
}

/// A VM whose handles are all dropped while it still has mappings can no
/// longer be unmapped: each mapping holds a VM reference (as in the
/// kernel) and its vm_bo, so nothing is ever freed, and the library's leak
/// report names it ("leak-vm-kept-by-mappings"). The memory is leaked on
/// purpose here; the test then takes the mappings out through the C API
/// (what the unique handle would have done) so that the fixture's
/// live-allocation check still applies.
#[test]
fn dropping_the_vm_with_mappings_is_reported() {
    let mut checked = Checked::new();
    let gpu = Gpu::new(c"vmbo-teardown");
    let r_obj = gpu.bo(4096);
    let bo = gpu.bo(0x10000);
    let mut vm = new_vm::<()>(&gpu, &r_obj, c"teardown");
    let extra = vm.shared();
    let vm_bo = vm.obtain(&bo, ()).unwrap();
    map(&mut vm, &vm_bo, 0x10000, 0x4000, 0).unwrap();
    map(&mut vm, &vm_bo, 0x20000, 0x4000, 0x4000).unwrap();
    assert_eq!(vm.refcount(), 2 + 1 + 2);
    drop(vm);
    drop(extra);
    // Kept alive by the vm_bo and the two mappings.
    assert_eq!(vm_bo.gpuvm().refcount(), 3);
    checked.expect_warning("leak-vm-kept-by-mappings");
    // SAFETY: a report.
    let reported = unsafe { bindings::gpuvm_report_leaks() };

    // Recover before asserting, so that a failure leaves nothing behind.
    // SAFETY: the handles are gone.
    assert_eq!(unsafe { unmap_all_raw(&vm_bo) }, 2);
    let vm = ARef::from(vm_bo.gpuvm());
    drop(vm_bo);
    vm.deferred_cleanup();
    assert_eq!(vm.refcount(), 1);
    drop(vm);
    assert_eq!((bo.refcount(), r_obj.refcount()), (1, 1));
    assert_eq!(reported, 1);
}
