// SPDX-License-Identifier: MIT
/* The VM: initialisation, reference counting, teardown, range checks. */
#include <string.h>

#include <gpuvm/vm.h>

#include "kref.h"
#include "leaks.h"
#include "vm_internal.h"

static struct gpuvm_lock_class extobj_lock_class =
	GPUVM_LOCK_CLASS_INIT("gpuvm_extobj_lock", 0);
static struct gpuvm_lock_class evict_lock_class =
	GPUVM_LOCK_CLASS_INIT("gpuvm_evict_lock", 0);

static bool obj_tracking(void)
{
	return gpuvm_debug_active() ||
	       __atomic_load_n(&gpuvm_obj_live__, __ATOMIC_RELAXED);
}

static bool sum_overflows(uint64_t addr, uint64_t range)
{
	uint64_t end;

	return __builtin_add_overflow(addr, range, &end);
}

void gpuvm_init(struct gpuvm *gpuvm, const char *name, enum gpuvm_flags flags,
		struct gpuvm_gem_object *r_obj, uint64_t start_offset,
		uint64_t range, uint64_t reserve_offset, uint64_t reserve_range,
		const struct gpuvm_ops *ops)
{
	gpuvm_va_index_init(gpuvm_va_index(gpuvm));
	gpuvm_va_index_init_backref(gpuvm_va_index(gpuvm),
				    offsetof(struct gpuva, rb.leaf__));

	gpuvm_list_init(&gpuvm->extobj.list);
	gpuvm->extobj.local_list = NULL;
	gpuvm_mutex_init(&gpuvm->extobj.lock, "vm->extobj.lock",
			 &extobj_lock_class);
	gpuvm_list_init(&gpuvm->evict.list);
	gpuvm->evict.local_list = NULL;
	gpuvm_mutex_init(&gpuvm->evict.lock, "vm->evict.lock",
			 &evict_lock_class);
	gpuvm->bo_defer.first = NULL;

	gpuvm_kref_init(&gpuvm->kref);
	gpuvm->name = name ? name : "unknown";
	gpuvm->flags = flags;
	gpuvm->ops = ops;
	gpuvm->r_obj = r_obj;
	gpuvm_gem_object_get(r_obj);
	if (gpuvm_debug_active()) {
		gpuvm_obj_track_vm__(gpuvm, gpuvm->name, &gpuvm->kref,
				     GPUVM_RET_IP);
		/* Reports then say "resv of VM 'name'". */
		if (r_obj->resv == &r_obj->_resv)
			gpuvm_obj_vm_name_resv__(r_obj, gpuvm->name,
						 &r_obj->_resv.lock.dep_map);
	}

	if (sum_overflows(start_offset, range))
		gpuvm_warn(GPUVM_RULE_VM_BAD_RANGE,
			   "gpuvm_init: VM '%s': window start 0x%llx + range "
			   "0x%llx overflows",
			   gpuvm->name, (unsigned long long)start_offset,
			   (unsigned long long)range);
	gpuvm->mm_start = start_offset;
	gpuvm->mm_range = range;

	memset(&gpuvm->kernel_alloc_node, 0, sizeof(gpuvm->kernel_alloc_node));
	gpuvm_list_init(&gpuvm->kernel_alloc_node.gem.entry);
	if (reserve_range) {
		struct gpuva *node = &gpuvm->kernel_alloc_node;

		node->va.addr = reserve_offset;
		node->va.range = reserve_range;
		node->vm = gpuvm;
		if (sum_overflows(reserve_offset, reserve_range)) {
			gpuvm_warn(GPUVM_RULE_VM_BAD_RANGE,
				   "gpuvm_init: VM '%s': reserved region "
				   "0x%llx + 0x%llx overflows; not inserted",
				   gpuvm->name,
				   (unsigned long long)reserve_offset,
				   (unsigned long long)reserve_range);
		} else if (gpuvm_va_insert_node(gpuvm, node)) {
			/* Only -ENOMEM is possible in an empty index. */
			gpuvm_warn(GPUVM_RULE_VM_INIT_NOMEM,
				   "gpuvm_init: VM '%s': no memory to index "
				   "the reserved region",
				   gpuvm->name);
		}
	}
}

static bool kernel_node_inserted(struct gpuvm *gpuvm)
{
	return gpuvm->kernel_alloc_node.rb.leaf__ != NULL;
}

static void gpuvm_fini(struct gpuvm *gpuvm)
{
	const char *name = gpuvm->name;

	gpuvm->name = NULL;
	if (kernel_node_inserted(gpuvm))
		gpuvm_va_remove_node(gpuvm, &gpuvm->kernel_alloc_node);

	if (gpuvm_va_index_count(gpuvm_va_index(gpuvm)))
		gpuvm_warn(GPUVM_RULE_VM_NOT_EMPTY,
			   "gpuvm_put: VM '%s' freed with VAs still mapped "
			   "(possible leak)",
			   name);
	if (!gpuvm_list_empty(&gpuvm->extobj.list))
		gpuvm_warn(GPUVM_RULE_VM_NOT_EMPTY,
			   "gpuvm_put: VM '%s' freed with vm_bos on its "
			   "extobj list",
			   name);
	if (!gpuvm_list_empty(&gpuvm->evict.list))
		gpuvm_warn(GPUVM_RULE_VM_NOT_EMPTY,
			   "gpuvm_put: VM '%s' freed with vm_bos on its evict "
			   "list",
			   name);
	if (__atomic_load_n(&gpuvm->bo_defer.first, __ATOMIC_ACQUIRE))
		gpuvm_warn(GPUVM_RULE_VM_NOT_EMPTY,
			   "gpuvm_put: VM '%s' freed with vm_bos awaiting "
			   "deferred cleanup",
			   name);

	gpuvm_va_index_destroy(gpuvm_va_index(gpuvm));
	gpuvm_mutex_destroy(&gpuvm->extobj.lock);
	gpuvm_mutex_destroy(&gpuvm->evict.lock);
	gpuvm_gem_object_put(gpuvm->r_obj);
}

/* The checker and the explorer: out of line, so that the common get and
 * put need no stack frame. */
static __attribute__((noinline)) struct gpuvm *get_checked(struct gpuvm *gpuvm)
{
	gpuvm_sched_point(GPUVM_SCHED_REF, &gpuvm->kref);
	gpuvm_kref_get(&gpuvm->kref, "gpuvm_get");
	if (gpuvm_debug_active())
		gpuvm_obj_vm_kref__(gpuvm, &gpuvm->kref);
	return gpuvm;
}

struct gpuvm *gpuvm_get(struct gpuvm *gpuvm)
{
	if (gpuvm_checked_path())
		return get_checked(gpuvm);
	gpuvm_kref_get(&gpuvm->kref, "gpuvm_get");
	return gpuvm;
}

/*
 * Debug mode: the VM's memory belongs to the driver, so the allocator's
 * poison does not reach it. Poison the library's own fields instead
 * (name keeps its documented NULL, the kernel node stays unlisted), so an
 * API call on a VM whose vm_free ran is reported, not served.
 */
static void gpuvm_poison(struct gpuvm *gpuvm)
{
	__atomic_store_n(&gpuvm->kref, GPUVM_POISON_INT, __ATOMIC_RELAXED);
	memset(&gpuvm->flags, GPUVM_POISON_FREE, sizeof(gpuvm->flags));
	gpuvm->r_obj = GPUVM_POISON_PTR;
}

/* The last reference is gone: tear down and hand back to the driver. */
static __attribute__((noinline)) void vm_release(struct gpuvm *gpuvm)
{
	const struct gpuvm_ops *ops;

	if (obj_tracking())
		gpuvm_obj_untrack__(gpuvm);

	/* Freeing r_obj under its own resv would unlock freed memory. */
	if (gpuvm_debug_active() && gpuvm_dma_resv_held(gpuvm->r_obj->resv))
		gpuvm_warn(GPUVM_RULE_LOCK_HELD,
			   "gpuvm_put: final put of VM '%s' while holding its "
			   "resv (teardown drops r_obj, whose release may "
			   "free that resv)",
			   gpuvm->name);
	gpuvm_fini(gpuvm);
	ops = gpuvm->ops;
	if (gpuvm_debug_active())
		gpuvm_poison(gpuvm);
	if (!ops || !ops->vm_free) {
		gpuvm_warn(GPUVM_RULE_VM_NO_FREE,
			   "gpuvm_put: no vm_free callback; the VM is leaked");
		return;
	}
	ops->vm_free(gpuvm);
}

static __attribute__((noinline)) void put_checked(struct gpuvm *gpuvm)
{
	gpuvm_sched_point(GPUVM_SCHED_REF, &gpuvm->kref);
	if (gpuvm_kref_put(&gpuvm->kref, "gpuvm_put")) {
		vm_release(gpuvm);
		return;
	}
	/* The leak report compares this with the VM's vm_bos. */
	if (gpuvm_debug_active())
		gpuvm_obj_vm_kref__(gpuvm, &gpuvm->kref);
}

void gpuvm_put(struct gpuvm *gpuvm)
{
	if (!gpuvm)
		return;
	if (gpuvm_checked_path())
		put_checked(gpuvm);
	else if (gpuvm_kref_put(&gpuvm->kref, "gpuvm_put"))
		vm_release(gpuvm);
}

static void resv_object_free(struct gpuvm_gem_object *obj)
{
	gpuvm_kfree(obj);
}

static const struct gpuvm_gem_object_funcs resv_object_funcs = {
	.free = resv_object_free,
};

struct gpuvm_gem_object *gpuvm_resv_object_alloc(void)
{
	struct gpuvm_gem_object *obj = gpuvm_kzalloc(sizeof(*obj), 0);

	if (!obj)
		return NULL;
	gpuvm_gem_object_init(obj, &resv_object_funcs, 0);
	return obj;
}

static bool in_mm_range(struct gpuvm *gpuvm, uint64_t addr, uint64_t range)
{
	uint64_t end = addr + range;
	uint64_t mm_end = gpuvm->mm_start + gpuvm->mm_range;

	return addr >= gpuvm->mm_start && end <= mm_end;
}

static bool in_kernel_node(struct gpuvm *gpuvm, uint64_t addr, uint64_t range)
{
	uint64_t end = addr + range;
	uint64_t kstart = gpuvm->kernel_alloc_node.va.addr;
	uint64_t krange = gpuvm->kernel_alloc_node.va.range;
	uint64_t kend = kstart + krange;

	return krange && addr < kend && kstart < end;
}

bool gpuvm_range_valid(struct gpuvm *gpuvm, uint64_t addr, uint64_t range)
{
	return !sum_overflows(addr, range) && in_mm_range(gpuvm, addr, range) &&
	       !in_kernel_node(gpuvm, addr, range);
}

bool gpuvm_interval_empty(struct gpuvm *gpuvm, uint64_t addr, uint64_t range)
{
	return !gpuva_find_first(gpuvm, addr, range);
}

bool gpuvm_resv_held(struct gpuvm *gpuvm)
{
	return gpuvm_dma_resv_held(gpuvm_resv(gpuvm));
}

void gpuvm_resv_assert_held__(struct gpuvm *gpuvm, const char *func)
{
	gpuvm_ww_mutex_assert_held(&gpuvm_resv(gpuvm)->lock, func);
}

bool gpuvm_is_extobj(struct gpuvm *gpuvm, struct gpuvm_gem_object *obj)
{
	return obj && obj->resv != gpuvm_resv(gpuvm);
}
