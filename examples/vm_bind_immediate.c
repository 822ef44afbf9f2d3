// SPDX-License-Identifier: MIT
/*
 * An immediate-mode VM_BIND driver, the shape of panthor and Tyr:
 * GPUVM_IMMEDIATE_MODE | GPUVM_RESV_PROTECTED.
 *
 * "Immediate" means the driver changes the VA space and the vm_bo lists
 * from the job that executes the bind (the GPU scheduler's run callback),
 * that is inside the fence signalling path. Everything that may block or
 * allocate is therefore done before, when the bind is prepared; the walk
 * itself only consumes what was set aside. This program runs the walk
 * inside a signalling section so that the library's checker proves it.
 *
 * The locks, outermost first, and what each protects here:
 *  1. vm->op_lock, a mutex of the driver: the VA space. The library never
 *     takes it and never sees it; every split/merge walk, VA insert and
 *     remove, and gpuvm_va_reserve() runs under it. It is never taken
 *     inside a signalling section (it is held while reservations are
 *     taken and memory is allocated), so the signalling section starts
 *     after it was taken.
 *  2. the reservations (resvs), all taken through one gpuvm_exec so that
 *     contention backs off instead of deadlocking: the VM's resv (shared
 *     by every VM-private object; with GPUVM_RESV_PROTECTED it also
 *     protects the VM's extobj and evict lists) and each external
 *     object's own.
 *  3. an object's gpuva mutex: its list of vm_bos and each vm_bo's list
 *     of VAs (that is what GPUVM_IMMEDIATE_MODE selects). It is the one
 *     lock taken in the signalling path, so nothing may allocate or take
 *     a resv while holding it.
 *
 * The program exits non-zero if the library warned or if any allocation
 * is left at the end.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <gpuvm/gpuvm.h>

#define SZ_4K 0x1000ull
#define VM_START 0x100000ull
#define VM_RANGE 0x100000ull

/* ---- warnings: any warning is a failure of this program ------------------ */

static atomic_uint nr_warnings;

/* Called for every rule the library sees broken. It must not call back
 * into libgpuvm (library locks may be held); counting and printing is
 * all it does. */
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

/* ---- the driver's objects ------------------------------------------------ */

/* A VM: the library's struct gpuvm, plus the lock of its VA space. */
struct drv_vm {
	struct gpuvm base;
	struct gpuvm_mutex op_lock;
};

/* A mapping: the library's struct gpuva is all this driver needs. A real
 * driver would add its page-table bookkeeping here. */
struct drv_va {
	struct gpuva base;
};

static struct gpuvm_lock_class op_lock_class =
	GPUVM_LOCK_CLASS_INIT("drv_vm.op_lock", 0);

static atomic_uint nr_vm_bo_freed;

static struct drv_vm *to_drv_vm(struct gpuvm *gpuvm)
{
	return gpuvm_container_of(gpuvm, struct drv_vm, base);
}

static void drv_va_free(struct gpuva *va)
{
	gpuvm_kfree(gpuvm_container_of(va, struct drv_va, base));
}

/* ---- split/merge steps: what happens in the bind job ---------------------- */

/*
 * Everything one bind operation may need, allocated when the bind is
 * prepared. How many VAs: gpuvm_sm_map() inserts one VA for its final
 * MAP, and splits at most two existing VAs: the one straddling the start
 * of the request (a REMAP keeping a "prev" remnant) and the one straddling
 * its end (a REMAP keeping a "next" remnant); when a single VA contains
 * the whole request, one REMAP keeps both. Every VA lying inside the
 * request is an UNMAP, which frees rather than allocates. So a map needs
 * at most 3 VAs (1 + 2 remnants), and an unmap (gpuvm_sm_unmap(), no MAP)
 * at most 2. See src/sm.c, sm_map_walk() and sm_unmap_walk().
 */
#define MAP_MAX_NEW_VAS 3
#define UNMAP_MAX_NEW_VAS 2

struct bind_ctx {
	struct drv_vm *vm;
	struct gpuvm_bo *vm_bo; /* the mapped object's, for MAP steps */
	struct gpuva *prealloc[MAP_MAX_NEW_VAS];
	unsigned int nr_prealloc, used;
};

/* Take one of the VAs allocated in advance. Running out would be a bug of
 * the counting above: there is no way to allocate here. */
static struct gpuva *take_va(struct bind_ctx *ctx)
{
	check(ctx->used < ctx->nr_prealloc, "enough preallocated VAs");
	return ctx->prealloc[ctx->used++];
}

/* Link @va to @vm_bo: the object's vm_bo list and the vm_bo's VA list are
 * protected by the object's gpuva mutex in immediate mode. Taking it here,
 * in the signalling path, is what the mutex is designed for. */
static void link_va(struct gpuva *va, struct gpuvm_bo *vm_bo)
{
	gpuvm_gem_gpuva_lock(vm_bo->obj);
	gpuva_link(va, vm_bo); /* takes a vm_bo reference for the VA */
	gpuvm_gem_gpuva_unlock(vm_bo->obj);
}

/*
 * MAP: insert the new VA and link it to the vm_bo obtained at prepare
 * time. gpuva_map_checked() cannot fail with -ENOMEM: gpuvm_va_reserve()
 * set its index nodes aside. (This is where the page tables would be
 * written.)
 */
static int sm_step_map(struct gpuva_op *op, void *priv)
{
	struct bind_ctx *ctx = priv;
	struct gpuva *va = take_va(ctx);
	int ret;

	ret = gpuva_map_checked(&ctx->vm->base, va, &op->map);
	if (ret)
		return ret; /* the VA stays in the pool, freed by the caller */
	if (op->map.gem.obj)
		link_va(va, ctx->vm_bo);
	return 0;
}

/*
 * REMAP: an existing VA is cut by the request. gpuva_remap() removes it
 * and inserts the remnants (prev before the request, next after it),
 * which keep the old VA's object at shifted offsets. The remnants are
 * linked to the old VA's vm_bo *before* the old VA is unlinked, so the
 * vm_bo's reference count never touches zero in between.
 *
 * The old VA is unlinked with gpuva_unlink_defer(): if that was the
 * vm_bo's last reference, a plain gpuva_unlink() would free the vm_bo
 * right here, which needs the VM's resv (GPUVM_RESV_PROTECTED) and may
 * run the driver's free hook: not allowed in the signalling path. The
 * deferred variant turns it into a zombie for gpuvm_bo_deferred_cleanup().
 * It takes the gpuva mutex itself, so it must be called without it.
 *
 * The old VA is ours to free: the walk does not look at it again (it
 * looked ahead before calling us), and the op is on the walker's stack.
 */
static int sm_step_remap(struct gpuva_op *op, void *priv)
{
	struct bind_ctx *ctx = priv;
	struct gpuva *old = op->remap.unmap->va;
	struct gpuvm_bo *vm_bo = old->vm_bo;
	struct gpuva *prev = op->remap.prev ? take_va(ctx) : NULL;
	struct gpuva *next = op->remap.next ? take_va(ctx) : NULL;

	gpuva_remap(prev, next, &op->remap);
	if (vm_bo) {
		if (prev)
			link_va(prev, vm_bo);
		if (next)
			link_va(next, vm_bo);
	}
	gpuva_unlink_defer(old);
	drv_va_free(old);
	return 0;
}

/* UNMAP: a VA lying inside the request goes away as a whole. */
static int sm_step_unmap(struct gpuva_op *op, void *priv)
{
	struct gpuva *old = op->unmap.va;

	(void)priv;
	gpuva_unmap(&op->unmap);
	gpuva_unlink_defer(old);
	drv_va_free(old);
	return 0;
}

/* ---- the library's other callbacks --------------------------------------- */

static void drv_vm_free(struct gpuvm *gpuvm)
{
	struct drv_vm *vm = to_drv_vm(gpuvm);

	gpuvm_mutex_destroy(&vm->op_lock);
	gpuvm_kfree(vm);
}

/* Runs from gpuvm_bo_deferred_cleanup() (no library lock held) or from
 * gpuvm_bo_obtain_prealloc() when the prealloc was not needed. */
static void drv_vm_bo_free(struct gpuvm_bo *vm_bo)
{
	atomic_fetch_add(&nr_vm_bo_freed, 1);
	gpuvm_kfree(vm_bo);
}

static atomic_uint nr_validated;

/*
 * Make an evicted object resident again (a real driver moves it back and
 * rebinds its VAs). gpuvm_validate() calls this with the object's resv
 * locked in the exec. Clearing the flag is our job: gpuvm_bo_evict(vm_bo,
 * false). With GPUVM_RESV_PROTECTED the library then takes the vm_bo off
 * the VM's evict list after we return (for a VM-private object the call
 * below already did, since the object's resv is the VM's).
 */
static int drv_vm_bo_validate(struct gpuvm_bo *vm_bo, struct gpuvm_exec *exec)
{
	(void)exec;
	atomic_fetch_add(&nr_validated, 1);
	gpuvm_bo_evict(vm_bo, false);
	return 0;
}

static const struct gpuvm_ops drv_gpuvm_ops = {
	.vm_free = drv_vm_free,
	.vm_bo_free = drv_vm_bo_free,
	.vm_bo_validate = drv_vm_bo_validate,
	.sm_step_map = sm_step_map,
	.sm_step_remap = sm_step_remap,
	.sm_step_unmap = sm_step_unmap,
};

static void drv_obj_free(struct gpuvm_gem_object *obj)
{
	gpuvm_kfree(obj);
}

static const struct gpuvm_gem_object_funcs drv_obj_funcs = {
	.free = drv_obj_free,
};

/* ---- creating VMs and objects -------------------------------------------- */

static struct drv_vm *vm_create(const char *name)
{
	struct gpuvm_gem_object *r_obj = gpuvm_resv_object_alloc();
	struct drv_vm *vm = gpuvm_kzalloc(sizeof(*vm), GPUVM_GFP_KERNEL);

	check(r_obj && vm, "VM allocation");
	gpuvm_mutex_init(&vm->op_lock, name, &op_lock_class);
	/* The VM's resv is r_obj's. gpuvm_init() takes its own reference on
	 * r_obj, so ours can go at once. No kernel-reserved region here. */
	gpuvm_init(&vm->base, name, GPUVM_IMMEDIATE_MODE | GPUVM_RESV_PROTECTED,
		   r_obj, VM_START, VM_RANGE, 0, 0, &drv_gpuvm_ops);
	gpuvm_gem_object_put(r_obj);
	return vm;
}

/* A buffer object. @vm_private: it shares the VM's resv (the kernel's
 * "private" BO), so locking the VM locks it, and it is never on the
 * extobj list. Otherwise it has its own resv and can be mapped by any VM
 * (it is then an "external" object to each of them). */
static struct gpuvm_gem_object *bo_create(const char *label, size_t size,
					  struct drv_vm *vm_private)
{
	struct gpuvm_gem_object *obj =
		gpuvm_kzalloc(sizeof(*obj), GPUVM_GFP_KERNEL);

	check(obj != NULL, "object allocation");
	if (vm_private)
		gpuvm_gem_object_init_shared_resv(
			obj, &drv_obj_funcs, size,
			gpuvm_resv(&vm_private->base));
	else
		gpuvm_gem_object_init(obj, &drv_obj_funcs, size);
	/* Reports name it: "resv of GEM 'shared'", "GEM 'shared'". */
	gpuvm_gem_object_set_label(obj, label);
	return obj;
}

/* ---- VM_BIND ------------------------------------------------------------- */

static void ctx_prealloc(struct bind_ctx *ctx, unsigned int n)
{
	for (ctx->nr_prealloc = 0; ctx->nr_prealloc < n; ctx->nr_prealloc++) {
		struct drv_va *va =
			gpuvm_kzalloc(sizeof(*va), GPUVM_GFP_KERNEL);

		check(va != NULL, "VA allocation");
		ctx->prealloc[ctx->nr_prealloc] = &va->base;
	}
}

static void ctx_free_unused(struct bind_ctx *ctx)
{
	while (ctx->nr_prealloc > ctx->used)
		drv_va_free(ctx->prealloc[--ctx->nr_prealloc]);
}

/*
 * Lock what the request touches, in one transaction: the VM's resv
 * (gpuvm_prepare_vm()), the mapped object's resv and the resv of every
 * object whose VA the request will split or unmap (gpuvm_sm_map_exec_lock()
 * walks the VA space without changing it, hence the VA lock is held).
 * IGNORE_DUPLICATES: a private object's resv is the VM's, and objects
 * repeat. On contention everything is dropped and the body runs again.
 * No fence slots are reserved (0): this example adds no fences.
 */
static int lock_request(struct drv_vm *vm, struct gpuvm_exec *exec,
			const struct gpuvm_map_req *req, uint64_t addr,
			uint64_t range)
{
	int ret = 0;

	gpuvm_exec_init(exec, GPUVM_EXEC_IGNORE_DUPLICATES, 0);
	gpuvm_exec_until_all_locked(exec) {
		ret = gpuvm_prepare_vm(&vm->base, exec, 0);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			break;
		if (req)
			ret = gpuvm_sm_map_exec_lock(&vm->base, exec, 0, req);
		else
			ret = gpuvm_sm_unmap_exec_lock(&vm->base, exec, addr,
						       range);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			break;
	}
	if (ret)
		gpuvm_exec_fini(exec);
	return ret;
}

/* Map [@addr, @addr + @range) of @vm to @obj at @offset. Return: how many
 * new VAs the walk inserted. */
static unsigned int vm_bind_map(struct drv_vm *vm, struct gpuvm_gem_object *obj,
				uint64_t addr, uint64_t range, uint64_t offset)
{
	struct gpuvm *gpuvm = &vm->base;
	struct bind_ctx ctx = { .vm = vm };
	struct gpuvm_map_req req = { 0 };
	struct gpuvm_bo *prealloc;
	struct gpuvm_exec exec;
	bool cookie;
	int ret;

	req.map.va.addr = addr;
	req.map.va.range = range;
	req.map.gem.obj = obj;
	req.map.gem.offset = offset;

	/* 1. Allocate what the job will use, with no lock held: the worst
	 * case of VAs, and a vm_bo in case (VM, object) has none yet. */
	ctx_prealloc(&ctx, MAP_MAX_NEW_VAS);
	prealloc = gpuvm_bo_create(gpuvm, obj);
	check(prealloc != NULL, "vm_bo allocation");

	/* 2. The VA lock, then every resv the request touches. */
	gpuvm_mutex_lock(&vm->op_lock);
	ret = lock_request(vm, &exec, &req, 0, 0);
	check(ret == 0, "locking the map request");

	/* 3. Index nodes for the inserts, so that they cannot fail later.
	 * Allocates: under the VA lock, outside the signalling path. */
	check(gpuvm_va_reserve(gpuvm, MAP_MAX_NEW_VAS) == 0, "va reserve");

	/*
	 * 4. Publish the vm_bo. obtain_prealloc takes the object's gpuva
	 * mutex itself (must not be held): either our prealloc goes on the
	 * object's list, or there already was a vm_bo for this VM, which we
	 * get a reference on, and our prealloc is freed (drv_vm_bo_free runs
	 * after the mutex is released). Either way ctx.vm_bo holds one
	 * reference, which keeps it alive across the walk even if a REMAP
	 * unlinks all of its current VAs.
	 */
	ctx.vm_bo = gpuvm_bo_obtain_prealloc(prealloc);

	/* 5. An external object's vm_bo joins the VM's extobj list, so that
	 * gpuvm_vm_exec_lock() locks the object with the VM later. With
	 * GPUVM_RESV_PROTECTED that list needs the VM's resv, held by the
	 * exec. A private object is left alone by the call. */
	gpuvm_bo_extobj_add(ctx.vm_bo);

	/*
	 * 6. The bind job's run: the split/merge walk, calling our sm_step_*
	 * callbacks in address order. Neither the walk nor the callbacks
	 * allocate, take a resv or wait, which the signalling section makes
	 * the checker verify. (A real driver runs this from its scheduler,
	 * later, under the VA lock only.)
	 */
	cookie = gpuvm_dma_fence_begin_signalling();
	ret = gpuvm_sm_map(gpuvm, &ctx, &req);
	/* Our reference from step 4: deferred, no lock, signalling safe. */
	gpuvm_bo_put_deferred(ctx.vm_bo);
	gpuvm_dma_fence_end_signalling(cookie);
	check(ret == 0, "gpuvm_sm_map");

	gpuvm_exec_fini(&exec);
	gpuvm_mutex_unlock(&vm->op_lock);

	/* 7. VAs the request did not need. */
	ctx_free_unused(&ctx);
	return ctx.used;
}

/* Unmap [@addr, @addr + @range): REMAPs for VAs crossing an edge (their
 * remnants need VAs: at most 2), UNMAPs for VAs inside. Return: the
 * remnants inserted. */
static unsigned int vm_bind_unmap(struct drv_vm *vm, uint64_t addr,
				  uint64_t range)
{
	struct bind_ctx ctx = { .vm = vm };
	struct gpuvm_exec exec;
	bool cookie;
	int ret;

	ctx_prealloc(&ctx, UNMAP_MAX_NEW_VAS);
	gpuvm_mutex_lock(&vm->op_lock);
	/* The objects of the VAs to split or unmap are locked although the
	 * steps do not need their resvs in immediate mode: a real driver
	 * waits for their fences or adds its own before touching the page
	 * tables. */
	ret = lock_request(vm, &exec, NULL, addr, range);
	check(ret == 0, "locking the unmap request");
	check(gpuvm_va_reserve(&vm->base, UNMAP_MAX_NEW_VAS) == 0,
	      "va reserve");

	cookie = gpuvm_dma_fence_begin_signalling();
	ret = gpuvm_sm_unmap(&vm->base, &ctx, addr, range);
	gpuvm_dma_fence_end_signalling(cookie);
	check(ret == 0, "gpuvm_sm_unmap");

	gpuvm_exec_fini(&exec);
	gpuvm_mutex_unlock(&vm->op_lock);
	ctx_free_unused(&ctx);
	return ctx.used;
}

/* Number of VAs linked to (@vm, @obj), read under the gpuva mutex;
 * -1 when the pair has no live vm_bo. */
static int nr_vas_of(struct drv_vm *vm, struct gpuvm_gem_object *obj)
{
	struct gpuvm_bo *vm_bo;
	struct gpuva *va;
	int n = -1;

	gpuvm_gem_gpuva_lock(obj);
	vm_bo = gpuvm_bo_find(&vm->base, obj); /* a reference for us */
	if (vm_bo) {
		n = 0;
		gpuvm_bo_for_each_va(va, vm_bo)
			n++;
	}
	gpuvm_gem_gpuva_unlock(obj);
	/* Drop it once the mutex is released (put_deferred takes it). */
	gpuvm_bo_put_deferred(vm_bo);
	return n;
}

/* ---- jobs and the deferred-cleanup worker -------------------------------- */

/*
 * A GPU job keeps the vm_bos it uses alive until it completes (panthor
 * keeps them for the job's lifetime). It gets its references with
 * gpuvm_bo_find() under the gpuva mutex, when the job is submitted.
 */
struct job {
	struct gpuvm_bo *vm_bos[2];
	unsigned int nr;
};

static void job_add_bo(struct job *job, struct drv_vm *vm,
		       struct gpuvm_gem_object *obj)
{
	gpuvm_gem_gpuva_lock(obj);
	job->vm_bos[job->nr] = gpuvm_bo_find(&vm->base, obj);
	gpuvm_gem_gpuva_unlock(obj);
	check(job->vm_bos[job->nr] != NULL, "the job's vm_bo");
	job->nr++;
}

/*
 * The completion handler: it runs where the job's fence is signalled,
 * i.e. in the fence signalling path (the begin/end pair marks it for the
 * checker). A plain gpuvm_bo_put() could free the vm_bo here, which needs
 * the VM's resv; gpuvm_bo_put_deferred() only takes the gpuva mutex and
 * leaves a vm_bo whose count reached zero as a zombie.
 */
static void *job_complete_thread(void *arg)
{
	struct job *job = arg;
	bool cookie = gpuvm_dma_fence_begin_signalling();
	unsigned int i;

	/* ... the job's fence would be signalled here ... */
	for (i = 0; i < job->nr; i++)
		gpuvm_bo_put_deferred(job->vm_bos[i]);
	gpuvm_dma_fence_end_signalling(cookie);
	return NULL;
}

/*
 * The cleanup worker frees zombies with gpuvm_bo_deferred_cleanup(): it
 * takes the VM's resv itself (GPUVM_RESV_PROTECTED: to take the zombies
 * off the extobj/evict lists), so it runs where no resv is held, in a
 * worker like the kernel's. Each request names the VM to clean; the
 * caller holds a reference on it.
 */
struct cleanup_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct gpuvm *pending;
	unsigned long requested, done;
	bool stop;
};

static void *cleanup_worker_fn(void *arg)
{
	struct cleanup_worker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->stop && w->done == w->requested)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->done == w->requested)
			break; /* stopped, nothing pending */
		struct gpuvm *gpuvm = w->pending;

		pthread_mutex_unlock(&w->lock);
		gpuvm_bo_deferred_cleanup(gpuvm);
		pthread_mutex_lock(&w->lock);
		w->done++;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Queue a cleanup of @gpuvm and wait for it (the wait keeps the example
 * deterministic; a driver would just queue the work). */
static void cleanup_sync(struct cleanup_worker *w, struct gpuvm *gpuvm)
{
	pthread_mutex_lock(&w->lock);
	w->pending = gpuvm;
	w->requested++;
	pthread_cond_broadcast(&w->cond);
	while (w->done != w->requested)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

/* ---- eviction and validation --------------------------------------------- */

/*
 * What a buffer-move notification does: under the object's resv (the
 * mover holds it) and, in immediate mode, its gpuva mutex (the list of its
 * vm_bos), mark every vm_bo of the object, in every VM, as evicted. With
 * GPUVM_RESV_PROTECTED an external object's vm_bos are only flagged: each
 * VM's evict list needs that VM's resv, which we do not hold; they join it
 * at the VM's next gpuvm_prepare_objects().
 */
static void evict(struct gpuvm_gem_object *obj)
{
	check(gpuvm_dma_resv_lock(obj->resv, NULL) == 0, "resv lock");
	gpuvm_gem_gpuva_lock(obj);
	gpuvm_bo_gem_evict(obj, true);
	gpuvm_gem_gpuva_unlock(obj);
	gpuvm_dma_resv_unlock(obj->resv);
}

/*
 * Before a job runs: lock the VM and all its external objects, then
 * revalidate whatever is on the evict list. gpuvm_vm_exec_lock()
 * initialises the exec itself (no gpuvm_exec_init() before it) and is one
 * whole transaction; on error everything is already unlocked.
 */
static void validate(struct drv_vm *vm)
{
	struct gpuvm_vm_exec vm_exec = {
		.flags = GPUVM_EXEC_IGNORE_DUPLICATES,
		.vm = &vm->base,
		.num_fences = 0,
	};

	check(gpuvm_vm_exec_lock(&vm_exec) == 0, "gpuvm_vm_exec_lock");
	check(gpuvm_validate(&vm->base, &vm_exec.exec) == 0, "validate");
	/* Still under the VM's resv, which protects the list. */
	check(gpuvm_list_empty(&vm->base.evict.list), "evict list empty");
	gpuvm_vm_exec_unlock(&vm_exec);
}

/* ---- the program --------------------------------------------------------- */

int main(void)
{
	struct cleanup_worker worker = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
	};
	struct gpuvm_gem_object *priv_bo, *shared_bo;
	struct drv_vm *vm1, *vm2;
	struct job job = { .nr = 0 };
	pthread_t completer;
	unsigned int freed, n;
	long live_at_start;

	gpuvm_warn_set_handler(count_warning, NULL);
	live_at_start = gpuvm_alloc_live();
	check(pthread_create(&worker.thread, NULL, cleanup_worker_fn,
			     &worker) == 0,
	      "cleanup worker");

	/* Two VMs; a private object of vm1, and a shared object that both
	 * VMs map (external to each of them). */
	vm1 = vm_create("vm1");
	vm2 = vm_create("vm2");
	priv_bo = bo_create("priv", 16 * SZ_4K, vm1);
	shared_bo = bo_create("shared", 16 * SZ_4K, NULL);

	/* Map the private object over 16 pages: one MAP, one new VA. */
	n = vm_bind_map(vm1, priv_bo, VM_START, 16 * SZ_4K, 0);
	check(n == 1, "plain map inserts one VA");

	/* Map 2 pages of the shared object in the middle of it: the
	 * private VA is split (one REMAP with both remnants), then the MAP.
	 * That is the worst case: 3 new VAs. */
	n = vm_bind_map(vm1, shared_bo, VM_START + 4 * SZ_4K, 2 * SZ_4K, 0);
	printf("split map: %u new VAs (the maximum, %d)\n", n, MAP_MAX_NEW_VAS);
	check(n == MAP_MAX_NEW_VAS, "split map inserts 3 VAs");
	check(nr_vas_of(vm1, priv_bo) == 2, "two private remnants");
	check(nr_vas_of(vm1, shared_bo) == 1, "one shared VA in vm1");

	/* The second VM maps the shared object too. */
	n = vm_bind_map(vm2, shared_bo, VM_START, 8 * SZ_4K, 0);
	check(n == 1, "vm2 map");

	/* Unmap across the boundary of the shared VA in vm1: the private
	 * remnant before it goes (UNMAP), the shared VA keeps its last page
	 * (REMAP with a next remnant). */
	n = vm_bind_unmap(vm1, VM_START, 5 * SZ_4K);
	check(n == 1, "unmap keeps one remnant");
	check(nr_vas_of(vm1, shared_bo) == 1, "shared remnant in vm1");
	check(nr_vas_of(vm1, priv_bo) == 1, "one private VA left");

	/* Evict both objects, then validate each VM: the callback runs for
	 * every evicted vm_bo of the VM and the evict list ends empty. */
	evict(shared_bo);
	evict(priv_bo);
	validate(vm1);
	validate(vm2);
	printf("validated %u vm_bos\n", atomic_load(&nr_validated));
	check(atomic_load(&nr_validated) == 3, "3 vm_bos validated");

	/* A job on vm2 uses the shared object; while it runs, userspace
	 * unmaps it from vm2. The job's reference keeps the vm_bo alive. */
	job_add_bo(&job, vm2, shared_bo);
	vm_bind_unmap(vm2, VM_START, VM_RANGE);
	check(nr_vas_of(vm2, shared_bo) == 0, "vm2's vm_bo has no VA");

	/* The job completes on another thread: its put is the last one,
	 * and the vm_bo becomes a zombie (no longer found). */
	check(pthread_create(&completer, NULL, job_complete_thread, &job) == 0,
	      "completion thread");
	pthread_join(completer, NULL);
	check(nr_vas_of(vm2, shared_bo) == -1, "zombie not found");

	/* The worker frees it. */
	freed = atomic_load(&nr_vm_bo_freed);
	cleanup_sync(&worker, &vm2->base);
	check(atomic_load(&nr_vm_bo_freed) == freed + 1, "zombie freed");

	/* Teardown: unmap everything (zombies appear as the last VAs are
	 * unlinked), clean up, stop the worker, then drop the objects (the
	 * private one before its VM, whose resv it uses) and the VMs. */
	vm_bind_unmap(vm1, VM_START, VM_RANGE);
	cleanup_sync(&worker, &vm1->base);
	cleanup_sync(&worker, &vm2->base);
	pthread_mutex_lock(&worker.lock);
	worker.stop = true;
	pthread_cond_broadcast(&worker.cond);
	pthread_mutex_unlock(&worker.lock);
	pthread_join(worker.thread, NULL);

	gpuvm_gem_object_put(priv_bo);
	gpuvm_gem_object_put(shared_bo);
	gpuvm_put(&vm1->base);
	gpuvm_put(&vm2->base);

	/* Nothing left: fences and lists freed after an RCU grace period
	 * are counted until gpuvm_alloc_drain() waited for them. */
	gpuvm_alloc_drain();
	printf("allocations: %ld at start, %ld at end; warnings: %u\n",
	       live_at_start, gpuvm_alloc_live(), atomic_load(&nr_warnings));
	if (gpuvm_alloc_live() != live_at_start || atomic_load(&nr_warnings))
		return 1;
	return 0;
}
