// SPDX-License-Identifier: MIT
/*
 * gpuvm-replay's reference driver (see driver.h): how a driver uses
 * libgpuvm to bind, unbind, evict and validate, in all four modes.
 *
 * The lock order is always the same: reservations first (the VM's, then
 * objects', through one acquire context), then the gpuva mutex of one
 * object at a time. Which lock protects what:
 *  - an object's list of vm_bos (link, unlink, find, obtain, final put):
 *    its gpuva mutex in immediate mode, its reservation in staged mode;
 *  - the VM's extobj and evict lists: the VM's reservation with
 *    GPUVM_RESV_PROTECTED, the library's own locks without;
 *  - the VA space: the VM's reservation.
 */
#include <errno.h>
#include <stdlib.h>

#include <gpuvm/alloc.h>
#include <gpuvm/debug.h>
#include <gpuvm/dma_resv.h>
#include <gpuvm/err.h>
#include <gpuvm/exec.h>
#include <gpuvm/ww_mutex.h>

#include "driver.h"

#define DRV_RULE_INTERNAL "replay-internal"
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A mapping of the driver: the VA is all it needs. */
struct drv_va {
	struct gpuva va;
};

static struct drv_vm *to_drv_vm(struct gpuvm *gpuvm)
{
	return gpuvm_container_of(gpuvm, struct drv_vm, gpuvm);
}

/* ---- callbacks the library calls ---------------------------------------- */

static void drv_obj_free(struct gpuvm_gem_object *obj)
{
	gpuvm_kfree(obj);
}

static const struct gpuvm_gem_object_funcs drv_obj_funcs = {
	.free = drv_obj_free,
};

static void drv_vm_free(struct gpuvm *gpuvm)
{
	gpuvm_kfree(to_drv_vm(gpuvm));
}

/* Runs with whatever locks the freeing path holds: it only reports. */
static void drv_vm_bo_free(struct gpuvm_bo *vm_bo)
{
	struct drv_vm *vm = to_drv_vm(vm_bo->vm);

	if (vm->report_freed && vm->sink->freed)
		vm->sink->freed(vm->sink->arg, vm_bo->obj);
	gpuvm_kfree(vm_bo);
}

/* Make the object resident again: here, just clear the eviction. The
 * object's reservation is held (gpuvm_validate() runs under the exec). */
static int drv_vm_bo_validate(struct gpuvm_bo *vm_bo, struct gpuvm_exec *exec)
{
	struct drv_vm *vm = to_drv_vm(vm_bo->vm);

	(void)exec;
	if (vm->sink->validated)
		vm->sink->validated(vm->sink->arg, vm_bo->obj);
	gpuvm_bo_evict(vm_bo, false);
	return 0;
}

static const struct gpuvm_ops drv_gpuvm_ops = {
	.vm_free = drv_vm_free,
	.vm_bo_free = drv_vm_bo_free,
	.vm_bo_validate = drv_vm_bo_validate,
};

void drv_obj_init(struct gpuvm_gem_object *obj, size_t size,
		  struct gpuvm_dma_resv *shared_resv)
{
	if (shared_resv)
		gpuvm_gem_object_init_shared_resv(obj, &drv_obj_funcs, size,
						  shared_resv);
	else
		gpuvm_gem_object_init(obj, &drv_obj_funcs, size);
}

/* ---- locking helpers ---------------------------------------------------- */

/*
 * Hold the VM's reservation and @obj's (one lock for a private object)
 * through @ctx, backing off on contention. Allocates nothing, so it
 * cannot fail; a teardown can use it.
 */
static void lock_vm_and_obj(struct drv_vm *vm, struct gpuvm_gem_object *obj,
			    struct gpuvm_ww_acquire_ctx *ctx)
{
	struct gpuvm_dma_resv *held = gpuvm_resv(&vm->gpuvm);
	struct gpuvm_dma_resv *other = obj->resv;

	gpuvm_ww_acquire_init(ctx, &gpuvm_reservation_ww_class);
	(void)gpuvm_dma_resv_lock(held,
				  ctx); /* the first lock never backs off */
	while (other != held && gpuvm_dma_resv_lock(other, ctx) == -EDEADLK) {
		struct gpuvm_dma_resv *t = held;

		gpuvm_dma_resv_unlock(held);
		gpuvm_dma_resv_lock_slow(other, ctx);
		held = other;
		other = t;
	}
	gpuvm_ww_acquire_done(ctx);
}

static void unlock_vm_and_obj(struct drv_vm *vm, struct gpuvm_gem_object *obj,
			      struct gpuvm_ww_acquire_ctx *ctx)
{
	if (obj->resv != gpuvm_resv(&vm->gpuvm))
		gpuvm_dma_resv_unlock(obj->resv);
	gpuvm_dma_resv_unlock(gpuvm_resv(&vm->gpuvm));
	gpuvm_ww_acquire_fini(ctx);
}

/* The lock of an object's vm_bo list in immediate mode; in staged mode the
 * caller already holds the object's reservation, which is that lock. */
static void gem_list_lock(struct drv_vm *vm, struct gpuvm_gem_object *obj)
{
	if (drv_vm_immediate(vm))
		gpuvm_gem_gpuva_lock(obj);
}

static void gem_list_unlock(struct drv_vm *vm, struct gpuvm_gem_object *obj)
{
	if (drv_vm_immediate(vm))
		gpuvm_gem_gpuva_unlock(obj);
}

/* Lock the VM's reservation and everything a map (@req) or an unmap of
 * [@addr, @addr + @range) touches, in one exec transaction. On failure
 * @exec is finished. */
static int lock_request(struct drv_vm *vm, struct gpuvm_exec *exec,
			const struct gpuvm_map_req *req, uint64_t addr,
			uint64_t range)
{
	struct gpuvm *gpuvm = &vm->gpuvm;
	int ret = 0;

	gpuvm_exec_init(exec, GPUVM_EXEC_IGNORE_DUPLICATES, 0);
	gpuvm_exec_until_all_locked(exec) {
		ret = gpuvm_prepare_vm(gpuvm, exec, 0);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			goto err;

		if (req)
			ret = gpuvm_sm_map_exec_lock(gpuvm, exec, 0, req);
		else
			ret = gpuvm_sm_unmap_exec_lock(gpuvm, exec, addr,
						       range);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			goto err;
	}
	return 0;

err:
	gpuvm_exec_fini(exec);
	return ret;
}

/* Lock the VM's reservation and @obj's through an exec. */
static int lock_vm_obj_exec(struct drv_vm *vm, struct gpuvm_exec *exec,
			    struct gpuvm_gem_object *obj)
{
	int ret = 0;

	gpuvm_exec_init(exec, GPUVM_EXEC_IGNORE_DUPLICATES, 0);
	gpuvm_exec_until_all_locked(exec) {
		ret = gpuvm_prepare_vm(&vm->gpuvm, exec, 0);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			break;
		ret = gpuvm_exec_lock_obj(exec, obj);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			break;
	}
	if (ret)
		gpuvm_exec_fini(exec);
	return ret;
}

/* ---- VMs ---------------------------------------------------------------- */

static bool sum_overflows(uint64_t a, uint64_t b)
{
	uint64_t s;

	return __builtin_add_overflow(a, b, &s);
}

int drv_vm_create(struct drv_vm **out, const char *name, enum gpuvm_flags flags,
		  uint64_t start, uint64_t range, uint64_t reserve_addr,
		  uint64_t reserve_range, const struct drv_sink *sink,
		  struct gpuvm_gem_object **r_obj)
{
	struct gpuvm_gem_object *resv_obj;
	struct drv_vm *vm;

	/* The library would only warn about these; refuse them. */
	if (sum_overflows(start, range) ||
	    (reserve_range && sum_overflows(reserve_addr, reserve_range)))
		return -EINVAL;

	resv_obj = gpuvm_resv_object_alloc();
	if (!resv_obj)
		return -ENOMEM;
	vm = gpuvm_kzalloc(sizeof(*vm), GPUVM_GFP_KERNEL);
	if (!vm) {
		gpuvm_gem_object_put(resv_obj);
		return -ENOMEM;
	}
	vm->sink = sink;
	gpuvm_init(&vm->gpuvm, name, flags, resv_obj, start, range,
		   reserve_addr, reserve_range, &drv_gpuvm_ops);
	if (reserve_range &&
	    gpuva_find_first(&vm->gpuvm, reserve_addr, reserve_range) !=
		    &vm->gpuvm.kernel_alloc_node) {
		/* Indexing the reserved region failed (out of memory). */
		gpuvm_put(&vm->gpuvm);
		gpuvm_gem_object_put(resv_obj);
		return -ENOMEM;
	}
	*out = vm;
	*r_obj = resv_obj;
	return 0;
}

void drv_vm_put(struct drv_vm *vm)
{
	gpuvm_put(&vm->gpuvm);
}

/* ---- mappings ----------------------------------------------------------- */

static void va_free(struct gpuva *va)
{
	gpuvm_kfree(gpuvm_container_of(va, struct drv_va, va));
}

/* Link @va to @vm_bo, or unlink it; the caller holds what the object's
 * vm_bo list needs in staged mode (its reservation). */
static void link_va(struct drv_vm *vm, struct gpuva *va, struct gpuvm_bo *vm_bo)
{
	gem_list_lock(vm, vm_bo->obj);
	gpuva_link(va, vm_bo);
	gem_list_unlock(vm, vm_bo->obj);
}

static void unlink_va(struct drv_vm *vm, struct gpuva *va)
{
	struct gpuvm_gem_object *obj = va->gem.obj;

	if (!obj)
		return;
	gem_list_lock(vm, obj);
	gpuva_unlink(va);
	gem_list_unlock(vm, obj);
}

void drv_vm_unmap_all(struct drv_vm *vm)
{
	struct gpuvm *gpuvm = &vm->gpuvm;
	struct gpuva *va, *next;

	gpuvm_for_each_va_safe(va, next, gpuvm) {
		struct gpuvm_gem_object *obj = va->gem.obj;
		struct gpuvm_ww_acquire_ctx ctx;

		if (va == &gpuvm->kernel_alloc_node)
			continue;
		/* A sparse mapping needs the VM's reservation only. */
		lock_vm_and_obj(vm, obj ? obj : gpuvm->r_obj, &ctx);
		unlink_va(vm, va);
		gpuva_remove(va);
		unlock_vm_and_obj(vm, obj ? obj : gpuvm->r_obj, &ctx);
		va_free(va);
	}
}

/*
 * The VA structs an op list needs, allocated (and their index nodes
 * reserved) before anything changes: inserting them cannot fail then.
 */
struct va_set {
	struct gpuva **va;
	unsigned int n, used;
	struct gpuva *inline_va[4];
};

/* New VAs an op list creates: each map, and each remap's remnants. */
static unsigned int ops_inserts(struct gpuva_ops *ops)
{
	struct gpuva_op *op;
	unsigned int n = 0;

	gpuva_for_each_op(op, ops) {
		if (op->op == GPUVA_OP_MAP)
			n++;
		else if (op->op == GPUVA_OP_REMAP)
			n += !!op->remap.prev + !!op->remap.next;
	}
	return n;
}

static void va_set_free(struct va_set *vs)
{
	unsigned int i;

	for (i = vs->used; i < vs->n; i++)
		va_free(vs->va[i]);
	if (vs->va != vs->inline_va)
		gpuvm_kfree(vs->va);
	vs->va = NULL;
	vs->n = vs->used = 0;
}

static int va_set_alloc(struct gpuvm *gpuvm, struct va_set *vs, unsigned int n)
{
	unsigned int i;

	vs->n = vs->used = 0;
	vs->va = vs->inline_va;
	if (n > ARRAY_SIZE(vs->inline_va)) {
		vs->va = gpuvm_kmalloc_array(n, sizeof(*vs->va),
					     GPUVM_GFP_KERNEL);
		if (!vs->va)
			return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct drv_va *v = gpuvm_kzalloc(sizeof(*v), GPUVM_GFP_KERNEL);

		if (!v) {
			va_set_free(vs);
			return -ENOMEM;
		}
		vs->va[vs->n++] = &v->va;
	}
	if (n && gpuvm_va_reserve(gpuvm, n)) {
		va_set_free(vs);
		return -ENOMEM;
	}
	return 0;
}

static struct gpuva *va_set_take(struct va_set *vs)
{
	if (vs->used >= vs->n)
		abort(); /* ops_inserts() counted every insert */
	return vs->va[vs->used++];
}

/* A remnant gpuva_remap() was to insert: check it is there. */
static bool remnant_inserted(struct gpuvm *gpuvm, struct gpuva *va)
{
	if (gpuva_find(gpuvm, va->va.addr, va->va.range) == va)
		return true;
	gpuvm_warn(DRV_RULE_INTERNAL,
		   "gpuvm-replay: a remnant was not inserted");
	va_free(va);
	return false;
}

/*
 * Apply @ops to the VA space and the vm_bos: what a driver does once the
 * page tables are updated. Unlinks are immediate, so a vm_bo that loses
 * its last mapping and reference is freed here.
 *
 * Context: the VM's reservation, and in staged mode the reservations of
 * every object the ops touch; no gpuva mutex.
 */
static void apply_ops(struct drv_vm *vm, struct gpuva_ops *ops,
		      struct va_set *vs, struct gpuvm_bo *map_vm_bo)
{
	struct gpuvm *gpuvm = &vm->gpuvm;
	struct gpuva_op *op;

	gpuva_for_each_op(op, ops) {
		struct gpuva *va, *old, *prev, *next;
		struct gpuvm_bo *vm_bo;

		switch (op->op) {
		case GPUVA_OP_MAP:
			va = va_set_take(vs);
			if (gpuva_map_checked(gpuvm, va, &op->map)) {
				gpuvm_warn(DRV_RULE_INTERNAL,
					   "gpuvm-replay: inserting the new "
					   "mapping failed");
				va_free(va);
				break;
			}
			if (va->gem.obj)
				link_va(vm, va, map_vm_bo);
			break;

		case GPUVA_OP_REMAP:
			old = op->remap.unmap->va;
			vm_bo = old->vm_bo;
			prev = op->remap.prev ? va_set_take(vs) : NULL;
			next = op->remap.next ? va_set_take(vs) : NULL;
			gpuva_remap(prev, next, &op->remap);
			if (prev && !remnant_inserted(gpuvm, prev))
				prev = NULL;
			if (next && !remnant_inserted(gpuvm, next))
				next = NULL;
			/* Link the remnants before unlinking the old
			 * mapping, so the vm_bo never drops to zero. */
			if (prev && vm_bo)
				link_va(vm, prev, vm_bo);
			if (next && vm_bo)
				link_va(vm, next, vm_bo);
			unlink_va(vm, old);
			va_free(old);
			break;

		case GPUVA_OP_UNMAP:
			old = op->unmap.va;
			unlink_va(vm, old);
			gpuva_unmap(&op->unmap);
			va_free(old);
			break;

		default:
			break;
		}
	}
}

/* ---- VM_BIND: split/merge requests --------------------------------------- */

/*
 * The vm_bo a map links its new mapping to, found or created before
 * anything changes. Immediate mode: allocate now (*@pre), publish later
 * with obtain_prealloc, which takes the gpuva mutex itself (allocating
 * under it is not allowed). Staged mode: obtain_locked under the
 * object's reservation, which the caller holds.
 */
static int map_vm_bo_prepare(struct drv_vm *vm, struct gpuvm_gem_object *obj,
			     struct gpuvm_bo **pre, struct gpuvm_bo **vm_bo)
{
	struct gpuvm_bo *bo;

	if (drv_vm_immediate(vm)) {
		*pre = gpuvm_bo_create(&vm->gpuvm, obj);
		return *pre ? 0 : -ENOMEM;
	}
	bo = gpuvm_bo_obtain_locked(&vm->gpuvm, obj);
	if (gpuvm_is_err(bo))
		return (int)gpuvm_ptr_err(bo);
	*vm_bo = bo;
	return 0;
}

int drv_map(struct drv_vm *vm, struct gpuvm_gem_object *obj, uint64_t addr,
	    uint64_t range, uint64_t offset)
{
	struct gpuvm *gpuvm = &vm->gpuvm;
	struct gpuvm_map_req req = { 0 };
	struct gpuvm_bo *pre = NULL, *vm_bo = NULL;
	struct va_set vs = { 0 };
	struct gpuvm_exec exec;
	struct gpuva_ops *ops;
	int ret;

	req.map.va.addr = addr;
	req.map.va.range = range;
	req.map.gem.obj = obj;
	req.map.gem.offset = offset;

	/* 1. Lock the VM and every object the request touches. */
	ret = lock_request(vm, &exec, &req, 0, 0);
	if (ret)
		return ret;

	/* 2. Compute the ops and allocate all that applying them needs. */
	ops = gpuvm_sm_map_ops_create(gpuvm, &req);
	if (gpuvm_is_err(ops)) {
		ret = (int)gpuvm_ptr_err(ops);
		goto out_unlock;
	}
	ret = va_set_alloc(gpuvm, &vs, ops_inserts(ops));
	if (ret)
		goto out_ops;
	if (obj) {
		ret = map_vm_bo_prepare(vm, obj, &pre, &vm_bo);
		if (ret)
			goto out_vas;
	}

	/* 3. Nothing can fail from here on. Obtaining the vm_bo before the
	 * ops are applied keeps it alive across a remap of all of the
	 * object's mappings (its evicted flag and lists survive). */
	if (pre)
		vm_bo = gpuvm_bo_obtain_prealloc(pre);
	if (vm_bo && gpuvm_is_extobj(gpuvm, obj))
		gpuvm_bo_extobj_add(vm_bo);
	if (vm->sink->ops)
		vm->sink->ops(vm->sink->arg, ops);
	apply_ops(vm, ops, &vs, vm_bo);
	if (vm_bo) {
		gem_list_lock(vm, obj);
		gpuvm_bo_put(vm_bo);
		gem_list_unlock(vm, obj);
	}

out_vas:
	va_set_free(&vs);
out_ops:
	gpuva_ops_free(gpuvm, ops);
out_unlock:
	gpuvm_exec_fini(&exec);
	return ret;
}

/*
 * Report and apply an op list that links nothing new (unmap, madvise):
 * allocate the remnants' VAs first, so that nothing changes on failure.
 * Takes @ops (or its error pointer) and frees it.
 */
static int apply_unlinked_ops(struct drv_vm *vm, struct gpuva_ops *ops)
{
	struct gpuvm *gpuvm = &vm->gpuvm;
	struct va_set vs = { 0 };
	int ret;

	if (gpuvm_is_err(ops))
		return (int)gpuvm_ptr_err(ops);
	/* An unmap that cuts into a mapping keeps its remnants. */
	ret = va_set_alloc(gpuvm, &vs, ops_inserts(ops));
	if (!ret) {
		if (vm->sink->ops)
			vm->sink->ops(vm->sink->arg, ops);
		apply_ops(vm, ops, &vs, NULL);
		va_set_free(&vs);
	}
	gpuva_ops_free(gpuvm, ops);
	return ret;
}

int drv_unmap(struct drv_vm *vm, uint64_t addr, uint64_t range)
{
	struct gpuvm_exec exec;
	int ret;

	ret = lock_request(vm, &exec, NULL, addr, range);
	if (ret)
		return ret;
	ret = apply_unlinked_ops(
		vm, gpuvm_sm_unmap_ops_create(&vm->gpuvm, addr, range));
	gpuvm_exec_fini(&exec);
	return ret;
}

int drv_madvise(struct drv_vm *vm, uint64_t addr, uint64_t range)
{
	struct gpuvm *gpuvm = &vm->gpuvm;
	struct gpuvm_map_req req = { 0 };
	int ret;

	req.map.va.addr = addr;
	req.map.va.range = range;

	/* madvise only splits sparse mappings: no object to lock. */
	(void)gpuvm_dma_resv_lock(gpuvm_resv(gpuvm), NULL);
	ret = apply_unlinked_ops(vm, gpuvm_madvise_ops_create(gpuvm, &req));
	gpuvm_dma_resv_unlock(gpuvm_resv(gpuvm));
	return ret;
}

int drv_prefetch(struct drv_vm *vm, uint64_t addr, uint64_t range)
{
	struct gpuva_ops *ops;

	ops = gpuvm_prefetch_ops_create(&vm->gpuvm, addr, range);
	if (gpuvm_is_err(ops))
		return (int)gpuvm_ptr_err(ops);
	if (vm->sink->ops)
		vm->sink->ops(vm->sink->arg, ops);
	gpuva_ops_free(&vm->gpuvm, ops);
	return 0;
}

int drv_bo_unmap(struct drv_vm *vm, struct gpuvm_gem_object *obj)
{
	struct gpuvm *gpuvm = &vm->gpuvm;
	struct gpuva_ops *ops = NULL;
	struct gpuvm_bo *vm_bo;
	struct gpuvm_exec exec;
	struct gpuva_op *op;
	int ret;

	/* The VM's reservation too: the last unlink may free the vm_bo. */
	ret = lock_vm_obj_exec(vm, &exec, obj);
	if (ret)
		return ret;

	gem_list_lock(vm, obj);
	vm_bo = gpuvm_bo_find(gpuvm, obj);
	if (!vm_bo)
		goto out_unlock;
	/* In immediate mode this allocates under the gpuva mutex, as the
	 * kernel's own callers do. */
	ops = gpuvm_bo_unmap_ops_create(vm_bo);
	if (gpuvm_is_err(ops)) {
		ret = (int)gpuvm_ptr_err(ops);
		ops = NULL;
		gpuvm_bo_put(vm_bo); /* not the last: it is live */
		goto out_unlock;
	}
	if (vm->sink->ops)
		vm->sink->ops(vm->sink->arg, ops);
	gpuva_for_each_op(op, ops) {
		struct gpuva *va = op->unmap.va;

		gpuva_unlink(va);
		gpuva_unmap(&op->unmap);
		va_free(va);
	}
	gpuvm_bo_put(vm_bo);

out_unlock:
	gem_list_unlock(vm, obj);
	if (ops)
		gpuva_ops_free(gpuvm, ops);
	gpuvm_exec_fini(&exec);
	return ret;
}

/* ---- vm_bo references --------------------------------------------------- */

int drv_vm_bo_refs(struct gpuvm_bo *vm_bo)
{
	return __atomic_load_n(&vm_bo->kref, __ATOMIC_RELAXED);
}

int drv_obtain(struct drv_vm *vm, struct gpuvm_gem_object *obj,
	       struct gpuvm_bo **out)
{
	struct gpuvm *gpuvm = &vm->gpuvm;
	struct gpuvm_ww_acquire_ctx ctx;
	struct gpuvm_bo *pre, *vm_bo;

	if (!drv_vm_immediate(vm)) {
		/* Staged: find or create under the object's reservation. */
		lock_vm_and_obj(vm, obj, &ctx);
		vm_bo = gpuvm_bo_obtain_locked(gpuvm, obj);
		if (!gpuvm_is_err(vm_bo) && gpuvm_is_extobj(gpuvm, obj))
			gpuvm_bo_extobj_add(vm_bo);
		unlock_vm_and_obj(vm, obj, &ctx);
		if (gpuvm_is_err(vm_bo))
			return (int)gpuvm_ptr_err(vm_bo);
		*out = vm_bo;
		return 0;
	}

	/* Immediate: allocate first, publish under the gpuva mutex (which
	 * obtain_prealloc takes itself). The VM's reservation is for
	 * extobj_add when the lists are resv-protected. */
	pre = gpuvm_bo_create(gpuvm, obj);
	if (!pre)
		return -ENOMEM;
	(void)gpuvm_dma_resv_lock(gpuvm_resv(gpuvm), NULL);
	vm_bo = gpuvm_bo_obtain_prealloc(pre);
	if (gpuvm_is_extobj(gpuvm, obj))
		gpuvm_bo_extobj_add(vm_bo);
	gpuvm_dma_resv_unlock(gpuvm_resv(gpuvm));
	*out = vm_bo;
	return 0;
}

int drv_put(struct drv_vm *vm, struct gpuvm_bo *vm_bo)
{
	struct gpuvm_gem_object *obj = vm_bo->obj;
	struct gpuvm_ww_acquire_ctx ctx;
	int refs = 0;

	/* A final put unlinks the vm_bo from the object's list (its gpuva
	 * mutex, or its reservation in staged mode) and, resv-protected,
	 * from the VM's lists (the VM's reservation). */
	if (drv_vm_immediate(vm)) {
		(void)gpuvm_dma_resv_lock(gpuvm_resv(&vm->gpuvm), NULL);
		gpuvm_gem_gpuva_lock(obj);
		if (!gpuvm_bo_put(vm_bo))
			refs = drv_vm_bo_refs(vm_bo);
		gpuvm_gem_gpuva_unlock(obj);
		gpuvm_dma_resv_unlock(gpuvm_resv(&vm->gpuvm));
	} else {
		lock_vm_and_obj(vm, obj, &ctx);
		if (!gpuvm_bo_put(vm_bo))
			refs = drv_vm_bo_refs(vm_bo);
		unlock_vm_and_obj(vm, obj, &ctx);
	}
	return refs;
}

int drv_put_deferred(struct gpuvm_bo *vm_bo)
{
	/* Safe from a fence signalling path: no lock, no allocation. The
	 * count is read only when this put did not make a zombie. */
	if (gpuvm_bo_put_deferred(vm_bo))
		return 0;
	return drv_vm_bo_refs(vm_bo);
}

void drv_cleanup(struct drv_vm *vm, bool report)
{
	vm->report_freed = report;
	gpuvm_bo_deferred_cleanup(&vm->gpuvm);
	vm->report_freed = false;
}

/* ---- eviction and validation -------------------------------------------- */

int drv_evict(struct gpuvm_gem_object *obj, bool evict, bool immediate)
{
	int ret = 0;

	/* What a buffer-move notification holds: the reservation and, in
	 * immediate mode, the lock of the object's vm_bo list. */
	(void)gpuvm_dma_resv_lock(obj->resv, NULL);
	if (immediate)
		gpuvm_gem_gpuva_lock(obj);
	if (gpuvm_list_empty(&obj->gpuva.list))
		ret = -ENOENT;
	else
		gpuvm_bo_gem_evict(obj, evict);
	if (immediate)
		gpuvm_gem_gpuva_unlock(obj);
	gpuvm_dma_resv_unlock(obj->resv);
	return ret;
}

int drv_validate(struct drv_vm *vm)
{
	struct gpuvm_vm_exec vm_exec = {
		.flags = GPUVM_EXEC_IGNORE_DUPLICATES,
		.vm = &vm->gpuvm,
		.num_fences = 0,
	};
	int ret;

	/* Locks the VM and its external objects; with RESV_PROTECTED this
	 * is also when evicted external objects reach the evict list. */
	ret = gpuvm_vm_exec_lock(&vm_exec);
	if (ret)
		return ret;
	ret = gpuvm_validate(&vm->gpuvm, &vm_exec.exec);
	gpuvm_vm_exec_unlock(&vm_exec);
	return ret;
}

bool drv_bo_state(struct drv_vm *vm, struct gpuvm_gem_object *obj,
		  struct drv_bo_state *st)
{
	struct gpuvm_bo *vm_bo;
	struct gpuva *va;

	if (!drv_vm_immediate(vm))
		(void)gpuvm_dma_resv_lock(obj->resv, NULL);
	gem_list_lock(vm, obj);
	vm_bo = gpuvm_bo_find(&vm->gpuvm, obj);
	if (vm_bo) {
		/* Not counting the reference find just took. */
		st->refs = drv_vm_bo_refs(vm_bo) - 1;
		st->evicted = vm_bo->evicted;
		st->on_extobj_list =
			!gpuvm_list_empty(&vm_bo->list.entry.extobj);
		st->on_evict_list = !gpuvm_list_empty(&vm_bo->list.entry.evict);
		st->nvas = 0;
		gpuvm_bo_for_each_va(va, vm_bo)
			st->nvas++;
		gpuvm_bo_put(vm_bo); /* not the last: it is live */
	}
	gem_list_unlock(vm, obj);
	if (!drv_vm_immediate(vm))
		gpuvm_dma_resv_unlock(obj->resv);
	return vm_bo != NULL;
}
