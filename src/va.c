// SPDX-License-Identifier: MIT
/*
 * The VA space of a VM: insert, remove, lookups, and linking VAs to vm_bos.
 *
 * VAs live in the VM's ordered index only. The kernel also keeps them in
 * an address-ordered list (rb.list) for iteration; here the index's leaves
 * give the next VA in ascending order, so an insert or a removal writes no
 * neighbouring VA (two random cache lines each in a large VM).
 */
#include <gpuvm/va.h>

#include "kref.h"
#include "leaks.h"
#include "vm_internal.h"

int gpuvm_va_insert__(struct gpuvm *gpuvm, struct gpuva *va, bool get_vm)
{
	uint64_t addr = va->va.addr, range = va->va.range;
	int ret;

	if (!gpuvm_range_valid(gpuvm, addr, range))
		return -EINVAL;
	/* The kernel accepts empty VAs with degenerate results; we do not. */
	if (!range)
		return -EINVAL;

	/* -EEXIST on overlap. */
	ret = gpuvm_va_index_insert(gpuvm_va_index(gpuvm), addr, addr + range,
				    va);
	if (ret)
		return ret;

	va->vm = gpuvm;
	if (gpuvm_debug_active())
		gpuvm_obj_vm_vas__(gpuvm, 1);
	if (get_vm)
		gpuvm_get(gpuvm);
	return 0;
}

int gpuva_insert(struct gpuvm *gpuvm, struct gpuva *va)
{
	return gpuvm_va_insert__(gpuvm, va, true);
}

void gpuva_remove(struct gpuva *va)
{
	struct gpuvm *gpuvm = va->vm;

	if (va == &gpuvm->kernel_alloc_node) {
		gpuvm_warn(GPUVM_RULE_KERNEL_NODE,
			   "gpuva_remove: the kernel node of VM '%s' cannot be "
			   "removed",
			   gpuvm->name ? gpuvm->name : "?");
		return;
	}
	gpuvm_va_remove_node(gpuvm, va);
	if (gpuvm_debug_active())
		gpuvm_obj_vm_vas__(gpuvm, -1);
	gpuvm_put(gpuvm);
}

struct gpuva *gpuva_find_first(struct gpuvm *gpuvm, uint64_t addr,
			       uint64_t range)
{
	return gpuvm_va_index_first_overlap(gpuvm_va_index(gpuvm), addr,
					    addr + range);
}

struct gpuva *gpuva_find(struct gpuvm *gpuvm, uint64_t addr, uint64_t range)
{
	struct gpuva *va = gpuva_find_first(gpuvm, addr, range);

	if (va && va->va.addr == addr && va->va.range == range)
		return va;
	return NULL;
}

struct gpuva *gpuva_find_prev(struct gpuvm *gpuvm, uint64_t start)
{
	if (!gpuvm_range_valid(gpuvm, start - 1, 1))
		return NULL;
	/* Kernel parity: the inclusive query [start - 1, start]. */
	return gpuva_find_first(gpuvm, start - 1, 2);
}

struct gpuva *gpuva_find_next(struct gpuvm *gpuvm, uint64_t end)
{
	if (!gpuvm_range_valid(gpuvm, end, 1))
		return NULL;
	return gpuva_find_first(gpuvm, end, 2);
}

struct gpuva *gpuva_next__(struct gpuva *va)
{
	uint64_t next_start;

	if (!va)
		return NULL;
	/* The kernel's list would hand out a poisoned link here. */
	if (!va->rb.leaf__) {
		gpuvm_warn(GPUVM_RULE_WALK_REMOVED,
			   "gpuvm_for_each_va: the current VA [0x%llx, "
			   "+0x%llx) is not in the VM (removed during a walk "
			   "that is not _safe?); the walk stops here",
			   (unsigned long long)va->va.addr,
			   (unsigned long long)va->va.range);
		return NULL;
	}
	return gpuvm_va_index_next_item(gpuvm_va_index(va->vm), va, va->va.addr,
					&next_start);
}

struct gpuva *gpuvm_va_first__(struct gpuvm *gpuvm)
{
	/* The wrapping query [0, U64_MAX]: the lowest entry. */
	return gpuvm_va_index_first_overlap(gpuvm_va_index(gpuvm), 0, 0);
}

int gpuvm_va_reserve(struct gpuvm *gpuvm, unsigned int n)
{
	return gpuvm_va_index_reserve(gpuvm_va_index(gpuvm), n);
}

void gpuva_link(struct gpuva *va, struct gpuvm_bo *vm_bo)
{
	struct gpuvm_gem_object *obj = va->gem.obj;

	if (!obj || gpuvm_kref_freed(&vm_bo->kref, "gpuva_link"))
		return;
	/* Never inserted: no VM to pick the GEM list lock by. */
	if (!va->vm) {
		gpuvm_warn(GPUVM_RULE_LINK_VM,
			   "gpuva_link: the VA was never inserted (no VM); "
			   "not linked to the vm_bo of VM '%s'",
			   vm_bo->vm->name);
		return;
	}
	if (obj != vm_bo->obj)
		gpuvm_warn(GPUVM_RULE_LINK_OBJ,
			   "gpuva_link: the VA maps a different object than "
			   "the vm_bo");
	if (va->vm != vm_bo->vm)
		gpuvm_warn(GPUVM_RULE_LINK_VM,
			   "gpuva_link: a VA of VM '%s' linked to a vm_bo of "
			   "VM '%s'",
			   va->vm->name, vm_bo->vm->name);
	/* Lookups could not find it: (VM, GEM) would get a second vm_bo. */
	if (gpuvm_debug_active() && gpuvm_list_empty(&vm_bo->list.entry.gem))
		gpuvm_warn(GPUVM_RULE_LINK_UNREGISTERED,
			   "gpuva_link: vm_bo %p of VM '%s' is not published "
			   "on its object's list (not obtained, or a zombie)",
			   (void *)vm_bo, vm_bo->vm->name);
	gpuvm_gem_list_assert_held(va->vm, obj, "gpuva_link");
	va->vm_bo = gpuvm_bo_get(vm_bo);
	gpuvm_list_add_tail(&va->gem.entry, &vm_bo->list.gpuva);
}

void gpuva_unlink(struct gpuva *va)
{
	struct gpuvm_gem_object *obj = va->gem.obj;
	struct gpuvm_bo *vm_bo = va->vm_bo;

	if (!obj)
		return;
	gpuvm_gem_list_assert_held(va->vm, obj, "gpuva_unlink");
	gpuvm_list_del_init(&va->gem.entry);
	va->vm_bo = NULL;
	gpuvm_bo_put(vm_bo);
}

void gpuva_unlink_defer(struct gpuva *va)
{
	struct gpuvm_gem_object *obj = va->gem.obj;
	struct gpuvm_bo *vm_bo = va->vm_bo;
	bool zombie;

	/* No vm_bo (never linked, or unlinked): nothing, as gpuva_unlink(). */
	if (!obj || !vm_bo ||
	    gpuvm_kref_freed(&vm_bo->kref, "gpuva_unlink_defer"))
		return;
	if (!gpuvm_immediate_mode(vm_bo->vm))
		gpuvm_warn(GPUVM_RULE_MODE,
			   "gpuva_unlink_defer: VM '%s' is not in immediate "
			   "mode",
			   vm_bo->vm->name);

	gpuvm_gem_gpuva_lock(obj);
	gpuvm_list_del_init(&va->gem.entry);
	zombie = gpuvm_bo_put_zombify_locked(vm_bo, "gpuva_unlink_defer");
	gpuvm_gem_gpuva_unlock(obj);
	/* Publish only after unlocking: cleanup may free obj and its lock. */
	if (zombie)
		gpuvm_bo_defer_push(vm_bo);
	va->vm_bo = NULL;
}
