// SPDX-License-Identifier: MIT
/*
 * A staged-mode VM_BIND driver, the shape of xe and nouveau: the bind is
 * computed as a list of operations, the page tables are updated, and the
 * list is applied to the VA space afterwards, all under reservation
 * locks. Nothing runs in the fence signalling path, so there are no
 * deferred puts: GPUVM_IMMEDIATE_MODE is not set.
 *
 * It runs twice: without and with GPUVM_RESV_PROTECTED (xe sets it,
 * nouveau does not).
 *
 * The locks, and what each protects here:
 *  - the VM's reservation (resv): the VA space (this driver's choice: the
 *    library leaves the VA-space lock to the driver), every VM-private
 *    object (they share it) and, with GPUVM_RESV_PROTECTED, the VM's
 *    extobj and evict lists. Without that flag those two lists have
 *    internal locks the library takes itself.
 *  - an object's resv: its list of vm_bos and each vm_bo's list of VAs
 *    (staged mode; immediate mode uses the object's gpuva mutex), and its
 *    vm_bos' evicted flag.
 * All resvs are taken through one gpuvm_exec transaction, which backs off
 * and retries on contention instead of deadlocking.
 *
 * The program exits non-zero if the library warned or if any allocation
 * is left at the end.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <gpuvm/gpuvm.h>

#define SZ_4K 0x1000ull
#define VM_START 0x100000ull
#define VM_RANGE 0x100000ull

/* ---- warnings: any warning is a failure of this program ------------------ */

static atomic_uint nr_warnings;

/* Called for every rule the library sees broken; must not call back into
 * libgpuvm. */
static void count_warning(const char *rule, const char *msg, void *data)
{
	(void)data;
	atomic_fetch_add(&nr_warnings, 1);
	fprintf(stderr, "library warning [%s]: %s\n", rule, msg);
}

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "FAILED: %s\n", what);
		exit(1);
	}
}

/* ---- the driver's objects and the library's callbacks -------------------- */

struct drv_va {
	struct gpuva base; /* plus page-table state in a real driver */
};

static unsigned int nr_validated;

static void drv_va_free(struct gpuva *va)
{
	gpuvm_kfree(gpuvm_container_of(va, struct drv_va, base));
}

static void drv_vm_free(struct gpuvm *gpuvm)
{
	gpuvm_kfree(gpuvm);
}

/*
 * Make an evicted object resident again. gpuvm_validate() calls it for
 * each vm_bo on the VM's evict list, with the object's resv held (locked
 * in the exec). Clearing the evicted flag is the callback's job:
 *  - without GPUVM_RESV_PROTECTED, gpuvm_bo_evict(vm_bo, false) also takes
 *    the vm_bo off the evict list (the library removes nothing itself);
 *  - with it, the call clears the flag (and, for a private object, whose
 *    resv is the VM's, also takes it off the list); for an external object
 *    the library takes it off the list once we return with the flag clear.
 */
static int drv_vm_bo_validate(struct gpuvm_bo *vm_bo, struct gpuvm_exec *exec)
{
	(void)exec;
	nr_validated++;
	gpuvm_bo_evict(vm_bo, false);
	return 0;
}

/* No sm_step_* callbacks: this driver only uses ops lists. */
static const struct gpuvm_ops drv_gpuvm_ops = {
	.vm_free = drv_vm_free,
	.vm_bo_validate = drv_vm_bo_validate,
};

static void drv_obj_free(struct gpuvm_gem_object *obj)
{
	gpuvm_kfree(obj);
}

static const struct gpuvm_gem_object_funcs drv_obj_funcs = {
	.free = drv_obj_free,
};

static struct gpuvm *vm_create(const char *name, enum gpuvm_flags flags)
{
	struct gpuvm_gem_object *r_obj = gpuvm_resv_object_alloc();
	struct gpuvm *vm = gpuvm_kzalloc(sizeof(*vm), GPUVM_GFP_KERNEL);

	check(r_obj && vm, "VM allocation");
	/* The VM takes its own reference on r_obj, whose resv is the VM's. */
	gpuvm_init(vm, name, flags, r_obj, VM_START, VM_RANGE, 0, 0,
		   &drv_gpuvm_ops);
	gpuvm_gem_object_put(r_obj);
	return vm;
}

/* @vm_private: the object shares that VM's resv (a private object). */
static struct gpuvm_gem_object *bo_create(const char *label, size_t size,
					  struct gpuvm *vm_private)
{
	struct gpuvm_gem_object *obj =
		gpuvm_kzalloc(sizeof(*obj), GPUVM_GFP_KERNEL);

	check(obj != NULL, "object allocation");
	if (vm_private)
		gpuvm_gem_object_init_shared_resv(obj, &drv_obj_funcs, size,
						  gpuvm_resv(vm_private));
	else
		gpuvm_gem_object_init(obj, &drv_obj_funcs, size);
	/* Reports name it: "resv of GEM 'shared'", "GEM 'shared'". */
	gpuvm_gem_object_set_label(obj, label);
	return obj;
}

/* ---- VM_BIND ------------------------------------------------------------- */

/*
 * Lock the VM's resv and the resv of every object a request touches: the
 * mapped object (map only) and the object of each VA the request splits or
 * unmaps. gpuvm_sm_map_exec_lock() walks the VA space without changing it:
 * the VA space is protected by the VM's resv, locked first in the same
 * pass. IGNORE_DUPLICATES: a private object's resv is the VM's. On error
 * the exec is finished.
 */
static int lock_request(struct gpuvm *vm, struct gpuvm_exec *exec,
			const struct gpuvm_map_req *req, uint64_t addr,
			uint64_t range)
{
	int ret = 0;

	gpuvm_exec_init(exec, GPUVM_EXEC_IGNORE_DUPLICATES, 0);
	gpuvm_exec_until_all_locked(exec) {
		ret = gpuvm_prepare_vm(vm, exec, 0);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			break;
		if (req)
			ret = gpuvm_sm_map_exec_lock(vm, exec, 0, req);
		else
			ret = gpuvm_sm_unmap_exec_lock(vm, exec, addr, range);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			break;
	}
	if (ret)
		gpuvm_exec_fini(exec);
	return ret;
}

/* VAs that applying @ops inserts: one per MAP, one per REMAP remnant. */
static unsigned int ops_new_vas(struct gpuva_ops *ops)
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

struct va_pool {
	struct gpuva *va[8];
	unsigned int n, used;
};

/* Allocate every VA the ops will insert, and the index nodes to insert
 * them, before anything changes: applying then cannot fail. */
static void pool_fill(struct gpuvm *vm, struct va_pool *pool, unsigned int n)
{
	check(n <= 8, "pool size");
	for (pool->n = pool->used = 0; pool->n < n; pool->n++) {
		struct drv_va *va =
			gpuvm_kzalloc(sizeof(*va), GPUVM_GFP_KERNEL);

		check(va != NULL, "VA allocation");
		pool->va[pool->n] = &va->base;
	}
	check(gpuvm_va_reserve(vm, n) == 0, "va reserve");
}

static struct gpuva *pool_take(struct va_pool *pool)
{
	check(pool->used < pool->n, "the pool covers every insert");
	return pool->va[pool->used++];
}

/*
 * Apply @ops in order, once the page tables reflect them. Every lock
 * needed is held through the exec: the VM's resv (VA space; with
 * GPUVM_RESV_PROTECTED also the lists a vm_bo leaves when its last VA is
 * unlinked) and the resv of every object involved (its vm_bo list, for
 * link and unlink). gpuva_unlink() may drop a vm_bo's last reference and
 * free it right here: fine, we are not in a signalling path.
 *
 * The VAs removed are freed as we go, before gpuva_ops_free(): the list
 * only points at them, and freeing the list never reads them. What must
 * not happen is reading an op that names a freed VA (e.g. with
 * gpuva_op_remap_to_unmap_range()) after the free.
 */
static void apply_ops(struct gpuvm *vm, struct gpuva_ops *ops,
		      struct va_pool *pool, struct gpuvm_bo *map_vm_bo)
{
	struct gpuva_op *op;

	gpuva_for_each_op(op, ops) {
		struct gpuva *va, *old, *prev, *next;
		struct gpuvm_bo *vm_bo;

		switch (op->op) {
		case GPUVA_OP_MAP:
			va = pool_take(pool);
			check(gpuva_map_checked(vm, va, &op->map) == 0,
			      "insert the new VA");
			if (va->gem.obj)
				gpuva_link(va, map_vm_bo);
			break;
		case GPUVA_OP_REMAP:
			/* Remnants first, linked to the old VA's vm_bo before
			 * the old VA is unlinked: the vm_bo survives. */
			old = op->remap.unmap->va;
			vm_bo = old->vm_bo;
			prev = op->remap.prev ? pool_take(pool) : NULL;
			next = op->remap.next ? pool_take(pool) : NULL;
			gpuva_remap(prev, next, &op->remap);
			if (prev && vm_bo)
				gpuva_link(prev, vm_bo);
			if (next && vm_bo)
				gpuva_link(next, vm_bo);
			gpuva_unlink(old);
			drv_va_free(old);
			break;
		case GPUVA_OP_UNMAP:
			old = op->unmap.va;
			gpuva_unlink(old);
			gpuva_unmap(&op->unmap);
			drv_va_free(old);
			break;
		default:
			break;
		}
	}
}

/* Map [@addr, @addr + @range) to @obj at @offset. Return: the number of
 * ops applied. */
static unsigned int vm_bind_map(struct gpuvm *vm, struct gpuvm_gem_object *obj,
				uint64_t addr, uint64_t range, uint64_t offset)
{
	struct gpuvm_map_req req = { 0 };
	struct va_pool pool;
	struct gpuvm_exec exec;
	struct gpuvm_bo *vm_bo;
	struct gpuva_ops *ops;
	struct gpuva_op *op;
	unsigned int nr_ops = 0;

	req.map.va.addr = addr;
	req.map.va.range = range;
	req.map.gem.obj = obj;
	req.map.gem.offset = offset;

	/* 1. Lock the VM and everything the request touches. */
	check(lock_request(vm, &exec, &req, 0, 0) == 0, "lock the map");

	/* 2. Compute the ops. The VA space is not changed yet; it must not
	 * change (another bind) until this list is applied or dropped. */
	ops = gpuvm_sm_map_ops_create(vm, &req);
	check(!gpuvm_is_err(ops), "gpuvm_sm_map_ops_create");
	gpuva_for_each_op(op, ops)
		nr_ops++;

	/* 3. Allocate everything: the VAs, and the vm_bo. obtain_locked
	 * finds the (VM, object) vm_bo or creates and publishes one; it
	 * needs the object's resv, held by the exec. It returns a reference
	 * that keeps the vm_bo alive across the ops even if they unlink all
	 * of its current VAs. */
	pool_fill(vm, &pool, ops_new_vas(ops));
	vm_bo = gpuvm_bo_obtain_locked(vm, obj);
	check(!gpuvm_is_err(vm_bo), "gpuvm_bo_obtain_locked");

	/* 4. An external object joins the VM's extobj list, so that
	 * gpuvm_vm_exec_lock() locks it with the VM. With
	 * GPUVM_RESV_PROTECTED this needs the VM's resv (held); without it
	 * the library takes the list's own lock. No-op for private ones. */
	gpuvm_bo_extobj_add(vm_bo);

	/* 5. (Page tables would be updated here.) Apply, then drop our
	 * reference: a final put needs the object's resv and, with
	 * GPUVM_RESV_PROTECTED, the VM's, both held. */
	apply_ops(vm, ops, &pool, vm_bo);
	gpuvm_bo_put(vm_bo);

	/* 6. Free the list (the ops only, not the VAs they named) and
	 * unlock. */
	check(pool.used == pool.n, "every VA used");
	gpuva_ops_free(vm, ops);
	gpuvm_exec_fini(&exec);
	return nr_ops;
}

/* Unmap [@addr, @addr + @range): UNMAPs, and REMAPs for VAs crossing an
 * edge (their remnants are new VAs). */
static unsigned int vm_bind_unmap(struct gpuvm *vm, uint64_t addr,
				  uint64_t range)
{
	struct va_pool pool;
	struct gpuvm_exec exec;
	struct gpuva_ops *ops;
	struct gpuva_op *op;
	unsigned int nr_ops = 0;

	check(lock_request(vm, &exec, NULL, addr, range) == 0, "lock unmap");
	ops = gpuvm_sm_unmap_ops_create(vm, addr, range);
	check(!gpuvm_is_err(ops), "gpuvm_sm_unmap_ops_create");
	gpuva_for_each_op(op, ops)
		nr_ops++;
	pool_fill(vm, &pool, ops_new_vas(ops));
	apply_ops(vm, ops, &pool, NULL);
	gpuva_ops_free(vm, ops);
	gpuvm_exec_fini(&exec);
	return nr_ops;
}

/* VAs linked to (@vm, @obj), read under the object's resv; -1 without a
 * vm_bo. */
static int nr_vas_of(struct gpuvm *vm, struct gpuvm_gem_object *obj)
{
	struct gpuvm_bo *vm_bo;
	struct gpuva *va;
	int n = -1;

	check(gpuvm_dma_resv_lock(obj->resv, NULL) == 0, "resv lock");
	vm_bo = gpuvm_bo_find(vm, obj);
	if (vm_bo) {
		n = 0;
		gpuvm_bo_for_each_va(va, vm_bo)
			n++;
		/* Not the last reference (the VAs hold theirs), so the
		 * VM's resv is not needed even when resv-protected. */
		gpuvm_bo_put(vm_bo);
	}
	gpuvm_dma_resv_unlock(obj->resv);
	return n;
}

/* ---- eviction and validation --------------------------------------------- */

/*
 * A buffer move: under the object's resv, flag every vm_bo of it (in
 * every VM) as evicted. Staged mode: the resv is also the lock of the
 * object's vm_bo list, nothing else is needed. With GPUVM_RESV_PROTECTED
 * an external object's vm_bos reach the evict list only at the VM's next
 * gpuvm_prepare_objects() (the VM's resv is not held here).
 */
static void evict(struct gpuvm_gem_object *obj)
{
	check(gpuvm_dma_resv_lock(obj->resv, NULL) == 0, "resv lock");
	gpuvm_bo_gem_evict(obj, true);
	gpuvm_dma_resv_unlock(obj->resv);
}

/*
 * Before a job: gpuvm_vm_exec_lock() runs a whole transaction locking the
 * VM's resv and every external object's (it initialises vm_exec.exec
 * itself: no gpuvm_exec_init() before it; on error it has unlocked
 * everything). Private objects are covered by the VM's resv. Then
 * gpuvm_validate() calls vm_bo_validate for each evicted vm_bo.
 */
static void validate(struct gpuvm *vm)
{
	struct gpuvm_vm_exec vm_exec = {
		.flags = GPUVM_EXEC_IGNORE_DUPLICATES,
		.vm = vm,
		.num_fences = 0,
	};

	check(gpuvm_vm_exec_lock(&vm_exec) == 0, "gpuvm_vm_exec_lock");
	check(gpuvm_vm_exec_validate(&vm_exec) == 0, "gpuvm_validate");
	/* Reading the list: under the VM's resv it is stable when
	 * resv-protected; otherwise nobody else runs in this program. */
	check(gpuvm_list_empty(&vm->evict.list), "evict list empty");
	gpuvm_vm_exec_unlock(&vm_exec);
}

/* ---- one run per mode ---------------------------------------------------- */

static void run(enum gpuvm_flags flags, const char *name)
{
	struct gpuvm_gem_object *priv_bo, *shared_bo;
	struct gpuvm *vm = vm_create(name, flags);
	unsigned int n;

	priv_bo = bo_create("priv", 16 * SZ_4K, vm);
	shared_bo = bo_create("shared", 16 * SZ_4K, NULL);
	nr_validated = 0;

	/* A plain map: one MAP op. */
	n = vm_bind_map(vm, priv_bo, VM_START, 16 * SZ_4K, 0);
	check(n == 1, "one op");

	/* A map in the middle of it: REMAP (prev and next remnants), MAP. */
	n = vm_bind_map(vm, shared_bo, VM_START + 4 * SZ_4K, 2 * SZ_4K, 0);
	check(n == 2, "remap + map");
	check(nr_vas_of(vm, priv_bo) == 2, "two private remnants");
	check(nr_vas_of(vm, shared_bo) == 1, "one shared VA");

	/* Unmap across the start of the shared VA: UNMAP of the first
	 * private remnant, REMAP of the shared VA keeping its last page. */
	n = vm_bind_unmap(vm, VM_START, 5 * SZ_4K);
	check(n == 2, "unmap + remap");
	check(nr_vas_of(vm, priv_bo) == 1, "one private VA left");
	check(nr_vas_of(vm, shared_bo) == 1, "shared remnant");

	/* Evict both, validate: both vm_bos are revalidated. */
	evict(shared_bo);
	evict(priv_bo);
	validate(vm);
	check(nr_validated == 2, "two vm_bos validated");

	/* Teardown: unmap everything (the vm_bos die with their last VA),
	 * drop the objects (the private one before the VM whose resv it
	 * uses), then the VM. */
	vm_bind_unmap(vm, VM_START, VM_RANGE);
	check(nr_vas_of(vm, priv_bo) == -1 && nr_vas_of(vm, shared_bo) == -1,
	      "no vm_bo left");
	gpuvm_gem_object_put(priv_bo);
	gpuvm_gem_object_put(shared_bo);
	gpuvm_put(vm);
	printf("%s: done\n", name);
}

int main(void)
{
	long live_at_start;

	gpuvm_warn_set_handler(count_warning, NULL);
	live_at_start = gpuvm_alloc_live();

	run(0, "staged");
	run(GPUVM_RESV_PROTECTED, "staged+resv-protected");

	gpuvm_alloc_drain();
	printf("allocations: %ld at start, %ld at end; warnings: %u\n",
	       live_at_start, gpuvm_alloc_live(), atomic_load(&nr_warnings));
	if (gpuvm_alloc_live() != live_at_start || atomic_load(&nr_warnings))
		return 1;
	return 0;
}
