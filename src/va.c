// SPDX-License-Identifier: MIT
/*
 * The VA space of a VM: insert, remove, lookups, and linking VAs to vm_bos.
 *
 * VAs live in two structures: the ordered index (lookups in O(log n)) and
 * the VM's address-ordered list (O(1) neighbours, and iteration that
 * survives removal of the current VA, as the kernel's rb.list).
 */
#include <gpuvm/va.h>

#include "kref.h"
#include "leaks.h"
#include "vm_internal.h"

int gpuvm_va_insert__(struct gpuvm *gpuvm, struct gpuva *va, bool get_vm)
{
	uint64_t addr = va->va.addr, range = va->va.range;
	void *prev, *next;
	int ret;

	if (!gpuvm_range_valid(gpuvm, addr, range))
		return -EINVAL;
	/* The kernel accepts empty VAs with degenerate results; we do not. */
	if (!range)
		return -EINVAL;

	/* One descent: -EEXIST on overlap, and both neighbours to splice
	 * the ordered list between. Taking the successor from the index,
	 * not from the predecessor's link, makes the two neighbours' lines
	 * two parallel misses instead of a miss and then a dependent one. */
	ret = gpuvm_va_index_insert_between(gpuvm_va_index(gpuvm), addr,
					    addr + range, va, &prev, &next);
	if (ret)
		return ret;

	va->vm = gpuvm;
	gpuvm_list_insert__(
		&va->rb.entry,
		prev ? &((struct gpuva *)prev)->rb.entry : &gpuvm->rb.list,
		next ? &((struct gpuva *)next)->rb.entry : &gpuvm->rb.list);
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
	if (!va || va->rb.entry.next == &va->vm->rb.list)
		return NULL;
	return gpuvm_list_entry(va->rb.entry.next, struct gpuva, rb.entry);
}

struct gpuva *gpuvm_va_first__(struct gpuvm *gpuvm)
{
	return gpuvm_list_first_entry_or_null(&gpuvm->rb.list, struct gpuva,
					      rb.entry);
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
