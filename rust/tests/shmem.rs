// SPDX-License-Identifier: MIT
//! shmem objects: the SG table as a resource of the device's binding, its
//! release by unbind or by the object's drop (also racing each other), and
//! what the checker says about GPUVM calls in fence signalling sections.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;

use common::{dma_pages, Bo, Ctx, Gpu, HookReset, LogVm, Step, TestVm, PAGE};
use gpuvm::device::Device;
use gpuvm::drm::gem::BaseObject;
use gpuvm::drm::gpuvm::{GpuVaAlloc, OpMapRequest};
use gpuvm::prelude::*;
use gpuvm::testing::{hook, live_allocations, signalling_section, Checked};

fn table_ptr(
    bo: &Bo,
    dev: &Device<gpuvm::device::Bound>,
) -> *const gpuvm::drm::gem::shmem::SGTable {
    bo.sg_table(dev).expect("sg table") as *const _
}

#[test]
fn sg_table_is_built_once_per_binding() {
    let _checked = Checked::new();
    let gpu = Gpu::new(c"shmem-once");
    let bo = gpu.bo(0x5000);
    assert_eq!(bo.size(), 0x5000);
    assert_eq!(gpu.dev.dma_mappings(), 0);
    {
        let bound = gpu.dev.bound().unwrap();
        let first = table_ptr(&bo, &bound);
        let second = table_ptr(&bo, &bound);
        assert_eq!(first, second);
        assert_eq!(gpu.dev.dma_mappings(), 1);
        let sgt = bo.sg_table(&bound).unwrap();
        let total: u64 = sgt.iter().map(|s| s.dma_len() as u64).sum();
        assert_eq!(total, 0x5000);
        // A fresh device's first window starts at 4 GiB.
        assert_eq!(sgt.iter().next().unwrap().dma_address(), 1 << 32);
        assert_eq!(dma_pages(&bo, &bound).len(), 5);
    }
    // Another scope of the same binding: the same table, no new mapping.
    let bound = gpu.dev.bound().unwrap();
    let live = live_allocations();
    let again = table_ptr(&bo, &bound);
    assert_eq!(live_allocations(), live);
    assert_eq!(gpu.dev.dma_mappings(), 1);
    drop(bound);
    // Sizes are rounded up to pages.
    let odd = gpu.bo(0x1001);
    assert_eq!(odd.size(), 0x2000);
    let bound = gpu.dev.bound().unwrap();
    assert_ne!(table_ptr(&odd, &bound), again);
    assert_eq!(dma_pages(&odd, &bound).len(), 2);
    assert_eq!(gpu.dev.dma_mappings(), 2);
}

#[test]
fn sg_table_of_another_device_is_refused() {
    let _checked = Checked::new();
    let gpu = Gpu::new(c"shmem-mine");
    let other = Gpu::new(c"shmem-other");
    let bo = gpu.bo(0x4000);
    let live = live_allocations();
    {
        let bound = other.dev.bound().unwrap();
        assert_eq!(bo.sg_table(&bound).err(), Some(EINVAL));
        assert_eq!(bo.sg_table(&bound).err(), Some(EINVAL));
    }
    assert_eq!(live_allocations(), live);
    assert_eq!((gpu.dev.dma_mappings(), other.dev.dma_mappings()), (0, 0));
    // Its own device still works afterwards.
    let bound = gpu.dev.bound().unwrap();
    bo.sg_table(&bound).unwrap();
    assert_eq!((gpu.dev.dma_mappings(), other.dev.dma_mappings()), (1, 0));
    drop(bound);
    // An unbound device gives no scope at all.
    other.dev.unbind().unwrap();
    assert_eq!(other.dev.bound().err(), Some(ENODEV));
}

#[test]
fn unbind_releases_the_table_and_a_new_binding_builds_another() {
    let _checked = Checked::new();
    let gpu = Gpu::new(c"shmem-rebind");
    let bo = gpu.bo(0x3000);
    let old = {
        let bound = gpu.dev.bound().unwrap();
        dma_pages(&bo, &bound)
    };
    assert_eq!(gpu.dev.dma_mappings(), 1);
    gpu.dev.unbind().unwrap();
    assert!(!gpu.dev.is_bound());
    assert_eq!(gpu.dev.dma_mappings(), 0);
    assert_eq!(bo.refcount(), 1);
    assert_eq!(gpu.dev.bound().err(), Some(ENODEV));

    gpu.dev.bind().unwrap();
    assert_eq!(gpu.dev.dma_mappings(), 0);
    let bound = gpu.dev.bound().unwrap();
    let new = dma_pages(&bo, &bound);
    assert_eq!(gpu.dev.dma_mappings(), 1);
    assert_eq!(new.len(), 3);
    // A new mapping: new device addresses, after the old ones.
    assert!(new[0] > *old.last().unwrap(), "{old:x?} then {new:x?}");
    let p = table_ptr(&bo, &bound);
    assert_eq!(table_ptr(&bo, &bound), p);
    assert_eq!(gpu.dev.dma_mappings(), 1);
    drop(bound);

    // And once more, with the object dropped while unbound.
    gpu.dev.unbind().unwrap();
    assert_eq!(gpu.dev.dma_mappings(), 0);
    drop(bo);
}

#[test]
fn dropping_the_object_while_bound_removes_the_mapping() {
    let _checked = Checked::new();
    let gpu = Gpu::new(c"shmem-drop");
    let keep = gpu.bo(0x2000);
    let bo = gpu.bo(0x2000);
    {
        let bound = gpu.dev.bound().unwrap();
        keep.sg_table(&bound).unwrap();
        bo.sg_table(&bound).unwrap();
    }
    assert_eq!(gpu.dev.dma_mappings(), 2);
    drop(bo);
    assert_eq!(gpu.dev.dma_mappings(), 1);
    assert!(gpu.dev.is_bound());
    // The other object's table is untouched and still the same.
    let bound = gpu.dev.bound().unwrap();
    let live = live_allocations();
    keep.sg_table(&bound).unwrap();
    assert_eq!(live_allocations(), live);
    assert_eq!(gpu.dev.dma_mappings(), 1);
    drop(bound);
    gpu.dev.unbind().unwrap();
    assert_eq!(gpu.dev.dma_mappings(), 0);
}

#[test]
fn unbind_racing_the_last_object_drop() {
    let _checked = Checked::new();
    let gpu = Gpu::new(c"shmem-race");
    gpu.dev.unbind().unwrap();
    for round in 0..300 {
        gpu.dev.bind().unwrap();
        let bo = gpu.bo(0x2000);
        let other = gpu.bo(0x1000);
        {
            let bound = gpu.dev.bound().unwrap();
            bo.sg_table(&bound).unwrap();
            other.sg_table(&bound).unwrap();
        }
        assert_eq!(gpu.dev.dma_mappings(), 2);
        let barrier = Arc::new(Barrier::new(2));
        let dropper = {
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                drop(bo);
            })
        };
        barrier.wait();
        gpu.dev.unbind().unwrap();
        dropper.join().unwrap();
        assert_eq!(gpu.dev.dma_mappings(), 0, "round {round}");
        assert!(!gpu.dev.is_bound());
        assert_eq!(other.refcount(), 1);
    }
}

#[test]
fn unbind_releasing_while_the_object_drops() {
    let _checked = Checked::new();
    let _hooks = HookReset;
    let gpu = Gpu::new(c"shmem-unbind-first");
    let bo = gpu.bo(0x2000);
    bo.sg_table(&gpu.dev.bound().unwrap()).unwrap();

    // The unbind took the table's resource and is about to release it...
    hook::park(c"devres:release:before_drop", 1);
    let dev = gpu.dev.clone();
    let unbinder = thread::spawn(move || dev.unbind());
    assert!(hook::wait_parked(c"devres:release:before_drop", 1));
    // ...when the last reference goes: the drop must wait for it.
    hook::park(c"devres:drop:wait", 1);
    let dropper = thread::spawn(move || drop(bo));
    assert!(hook::wait_parked(c"devres:drop:wait", 1));
    assert_eq!(gpu.dev.dma_mappings(), 1);
    hook::release(c"devres:drop:wait");
    hook::release(c"devres:release:before_drop");
    unbinder.join().unwrap().unwrap();
    dropper.join().unwrap();
    assert_eq!(gpu.dev.dma_mappings(), 0);
}

#[test]
fn object_drop_releasing_while_the_device_unbinds() {
    let _checked = Checked::new();
    let _hooks = HookReset;
    let gpu = Gpu::new(c"shmem-drop-first");
    let bo = gpu.bo(0x2000);
    bo.sg_table(&gpu.dev.bound().unwrap()).unwrap();

    // The drop released the table but has not taken it off the device...
    hook::park(c"devres:drop:released", 1);
    let dropper = thread::spawn(move || drop(bo));
    assert!(hook::wait_parked(c"devres:drop:released", 1));
    assert_eq!(gpu.dev.dma_mappings(), 0);
    // ...when the unbind finds it: it must wait for the drop.
    hook::park(c"devres:release:lost", 1);
    let dev = gpu.dev.clone();
    let unbinder = thread::spawn(move || dev.unbind());
    assert!(hook::wait_parked(c"devres:release:lost", 1));
    hook::release(c"devres:release:lost");
    hook::release(c"devres:drop:released");
    dropper.join().unwrap();
    unbinder.join().unwrap().unwrap();
    assert_eq!(gpu.dev.dma_mappings(), 0);
    assert!(!gpu.dev.is_bound());
}

// ---- fence signalling sections -------------------------------------------------

fn vm_for(gpu: &Gpu, r_obj: &Bo) -> TestVm<()> {
    TestVm::new(gpu, r_obj, c"signalling", 0..1 << 32)
}

#[test]
fn obtain_in_a_signalling_section_is_reported() {
    let mut checked = Checked::new();
    let gpu = Gpu::new(c"shmem-sig-obtain");
    let r_obj = gpu.bo(4096);
    let private = gpu.private_bo(0x1000, &r_obj);
    let vm = vm_for(&gpu, &r_obj);
    checked.expect_warning("signalling-alloc");
    let vm_bo = {
        let _section = signalling_section();
        vm.obtain(&private, ()).unwrap()
    };
    drop(vm_bo);
    vm.deferred_cleanup();
}

#[test]
fn signalling_section_rules_exactly() {
    let mut checked = Checked::new();
    let gpu = Gpu::new(c"shmem-sig-exact");
    let r_obj = gpu.bo(4096);
    let private = gpu.private_bo(0x1000, &r_obj);
    let external = gpu.bo(0x1000);
    let mut vm = vm_for(&gpu, &r_obj);
    let rules = |c: &mut Checked| {
        let mut r: Vec<String> = c.take_warnings().into_iter().map(|w| w.rule).collect();
        r.sort();
        r.dedup();
        r
    };

    // A private object: the allocation only.
    let p = {
        let _section = signalling_section();
        vm.obtain(&private, ()).unwrap()
    };
    assert_eq!(rules(&mut checked), ["signalling-alloc"]);
    // An external one: the allocation and the VM's reservation (extobj list).
    let e = {
        let _section = signalling_section();
        vm.obtain(&external, ()).unwrap()
    };
    assert_eq!(
        rules(&mut checked),
        ["signalling-alloc", "signalling-resv-lock"]
    );
    // Even when the vm_bo exists already (a prealloc is always made).
    let e2 = {
        let _section = signalling_section();
        vm.obtain(&external, ()).unwrap()
    };
    assert_eq!(
        rules(&mut checked),
        ["signalling-alloc", "signalling-resv-lock"]
    );
    assert!(std::ptr::eq(&*e, &*e2));

    // Mapping prepared outside; the map itself and the page-table work
    // belong in the section: VAs from GFP_NOWAIT, the table's fast path.
    // The bound scope is entered before the section (as libgpuvm's own
    // scenario does; see the report about scopes entered inside one).
    let bound = gpu.dev.bound().unwrap();
    let tables = (table_ptr(&private, &bound), table_ptr(&external, &bound));
    // One map beforehand, as a driver's first bind would be: whatever the
    // VM sets up on first use is not the section's business.
    let mut ctx = Ctx::<()>::with_vas(1);
    vm.sm_map(OpMapRequest {
        addr: 0x80000,
        range: 0x1000,
        gem_offset: 0,
        vm_bo: &p,
        context: &mut ctx,
    })
    .unwrap();
    ctx.log.clear();
    {
        let _section = signalling_section();
        for _ in 0..3 {
            ctx.vas.push(GpuVaAlloc::new(GFP_NOWAIT).unwrap());
        }
        assert_eq!(
            (table_ptr(&private, &bound), table_ptr(&external, &bound)),
            tables
        );
        vm.sm_map(OpMapRequest {
            addr: 0x10000,
            range: 0x1000,
            gem_offset: 0,
            vm_bo: &e,
            context: &mut ctx,
        })
        .unwrap();
        vm.sm_map(OpMapRequest {
            addr: 0x20000,
            range: 0x1000,
            gem_offset: 0,
            vm_bo: &p,
            context: &mut ctx,
        })
        .unwrap();
    }
    drop(bound);
    assert_eq!(rules(&mut checked), Vec::<String>::new());
    assert_eq!(
        ctx.log,
        [
            Step::Map {
                addr: 0x10000,
                len: PAGE,
                offset: 0
            },
            Step::Map {
                addr: 0x20000,
                len: PAGE,
                offset: 0
            }
        ]
    );

    // Dropping vm_bos in a section is fine, the last reference included.
    {
        let _section = signalling_section();
        drop(e2);
        drop(e);
        drop(p);
    }
    assert_eq!(rules(&mut checked), Vec::<String>::new());
    {
        let _section = signalling_section();
        vm.sm_unmap(0, 1 << 32, &mut ctx).unwrap();
    }
    assert_eq!(rules(&mut checked), Vec::<String>::new());
    // Zombies now; cleanup belongs outside (it takes the reservation).
    assert_eq!(vm.extobj_list().len(), 1);
    assert_eq!((private.refcount(), external.refcount()), (2, 2));
    vm.deferred_cleanup();
    assert_eq!(rules(&mut checked), Vec::<String>::new());
    assert!(vm.extobj_list().is_empty());
    assert_eq!(
        (private.refcount(), external.refcount(), vm.refcount()),
        (1, 1, 1)
    );

    // A blocking VA allocation is reported.
    {
        let _section = signalling_section();
        drop(GpuVaAlloc::<LogVm<()>>::new(GFP_KERNEL).unwrap());
    }
    assert_eq!(rules(&mut checked), ["signalling-alloc"]);
}

/// A bound scope is a read side that never waits (libgpuvm records it as
/// a trylock): entering one inside a fence signalling section, as a step
/// that needs `sg_table`'s fast path there does, cannot block the
/// section. It must not make every later blocking allocation inside any
/// bound scope (the first `sg_table` of an object, say) a
/// "signalling-lock-alloc".
#[test]
fn bound_scope_in_a_signalling_section_taints_nothing() {
    let mut checked = Checked::new();
    let gpu = Gpu::new(c"shmem-sig-scope");
    let warm = gpu.bo(0x1000);
    let cold = gpu.bo(0x1000);
    {
        let bound = gpu.dev.bound().unwrap();
        warm.sg_table(&bound).unwrap();
    }
    {
        let _section = signalling_section();
        let bound = gpu.dev.bound().unwrap();
        warm.sg_table(&bound).unwrap();
    }
    let in_section = checked.take_warnings();
    {
        let bound = gpu.dev.bound().unwrap();
        cold.sg_table(&bound).unwrap();
    }
    let later = checked.take_warnings();
    // Forget what the checker learned, so that later tests of this
    // process do not inherit it whatever the outcome.
    gpuvm::testing::lockdep_reset();
    assert_eq!(in_section, []);
    let rules: Vec<&str> = later.iter().map(|w| w.rule.as_str()).collect();
    assert!(
        rules.is_empty(),
        "{} warning(s), the first: {:?}",
        later.len(),
        later.first()
    );
}
