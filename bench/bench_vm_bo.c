// SPDX-License-Identifier: MIT
/*
 * bench_vm_bo: vm_bo lookup, creation and destruction, and deferred
 * destruction.
 *
 * The find, obtain, obtain-prealloc and put-last cases share one setup:
 * one external GEM object shared by k = 1, 64, 1024 VMs, each of which
 * holds a vm_bo for it. Each operation works on a VM picked at random
 * among k. "ratio_vs_k1" is ns_per_op against k = 1 in the same case and
 * mode (the target: within 2x at k = 1024). Where the API allows it, the
 * GEM list lock (the object's resv in staged mode, its gpuva mutex in
 * immediate mode) is taken once per timed batch, so the figure is the
 * operation itself. Baseline "list-walk": what the kernel's
 * drm_gpuvm.c does, written here on the same structures: its lookup is a
 * walk of obj->gpuva.list comparing each vm_bo's VM, its vm_bo a zeroed
 * allocation (from the library's allocator, as the library's are) with
 * a VM and a GEM reference, its last put takes the VM's extobj and evict
 * locks to unlink it there. The loops check each result as they go (a
 * wrong one ends the program), and each configuration's state (found
 * vm_bos, reference counts, the object's list, the library's allocations)
 * is checked before and after it is measured.
 *
 * Cases:
 *   find             gpuvm_bo_find() of the VM's vm_bo plus the
 *                    gpuvm_bo_put() of the reference it returns, staged
 *                    and immediate mode. Baseline: the kernel's walk and
 *                    the same get and put.
 *   obtain           gpuvm_bo_obtain_locked() of the VM's existing vm_bo
 *                    (found, with a new reference) plus the put of that
 *                    reference. Staged mode only: in immediate mode the
 *                    library's obtain is gpuvm_bo_obtain_prealloc(), see
 *                    obtain-prealloc. Baseline: drm_gpuvm_bo_obtain(),
 *                    the walk and a get, then the put.
 *   obtain-prealloc  what a bind does: gpuvm_bo_create() of a new vm_bo,
 *                    then gpuvm_bo_obtain_prealloc(), which finds the
 *                    existing one and frees the new one, plus the put of
 *                    the reference it returns. Immediate mode only (the
 *                    library refuses it in staged mode). obtain_prealloc
 *                    takes the gpuva mutex itself and its caller must not
 *                    hold it, so nothing is locked per batch; the put is
 *                    not the last and needs no lock. Baseline: the
 *                    kernel's create, its obtain_prealloc (the walk and a
 *                    get under the gpuva mutex, then the kref_put() that
 *                    frees the new one after the unlock), and the put.
 *   put-last         creating the vm_bo of a VM that has none, published
 *                    on the object's list beside the k - 1 vm_bos already
 *                    there, then dropping its only reference with
 *                    gpuvm_bo_put(), which unlinks and frees it. Here the
 *                    object is held by k - 1 VMs and the VM is picked
 *                    among k others that hold none. Staged mode:
 *                    gpuvm_bo_obtain_locked(), the resv held per batch;
 *                    immediate mode: gpuvm_bo_create() and
 *                    gpuvm_bo_obtain_prealloc() (which locks the gpuva
 *                    mutex itself), then the put under the gpuva mutex,
 *                    taken for it. Baseline: the kernel's obtain (a walk
 *                    that finds nothing, the allocation, list_add_tail())
 *                    or its create and obtain_prealloc, with the same
 *                    locking, then its last put (list_del() and free).
 *   deferred         P = 1..4 producer threads each drop the last
 *                    reference of their own vm_bos with
 *                    gpuvm_bo_put_deferred() (every put makes a zombie)
 *                    while one more thread runs gpuvm_bo_deferred_cleanup()
 *                    until all are freed. ns_per_op is wall-clock time per
 *                    put, from the start of the puts to the last free;
 *                    "puts_per_s" its inverse. With a CPU per thread each
 *                    thread has its own. Baseline "kernel": the kernel's
 *                    put_deferred (kref_put_mutex(), the list removals,
 *                    llist_add()) and deferred_cleanup (llist_del_all(),
 *                    free, VM and GEM put) on the same structures, its
 *                    samples interleaved with the library's.
 *
 * Options (after the common ones of bench.h):
 * --case find|obtain|obtain-prealloc|put-last|deferred (default: all).
 */
#define _GNU_SOURCE /* pthread_setaffinity_np */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gpuvm/gpuvm.h>

#include "alloc_internal.h"
#include "bench.h"
#include "bench_driver.h"

#define NR_IDX 4096 /* random VM indices per batch, a power of two */

static void fail(const char *what)
{
	fprintf(stderr, "bench_vm_bo: %s\n", what);
	exit(1);
}

/* ---- VMs and objects ----------------------------------------------------- */

static struct gpuvm *vm_new(enum gpuvm_flags flags)
{
	struct gpuvm *v = calloc(1, sizeof(*v));
	struct gpuvm_gem_object *r_obj = gpuvm_resv_object_alloc();

	if (!v || !r_obj)
		fail("out of memory");
	gpuvm_init(v, "bench", flags, r_obj, 0, 1ull << 40, 0, 0,
		   &bench_vm_ops);
	gpuvm_gem_object_put(r_obj); /* the VM holds it */
	return v;
}

/* An external object (its own resv). */
static struct gpuvm_gem_object *obj_new(void)
{
	struct gpuvm_gem_object *obj = calloc(1, sizeof(*obj));

	if (!obj)
		fail("out of memory");
	gpuvm_gem_object_init(obj, &bench_obj_funcs, 1 << 20);
	return obj;
}

/* The vm_bo of (@gpuvm, @obj), obtained as the mode requires; the
 * caller owns one reference. */
static struct gpuvm_bo *obtain(struct gpuvm *gpuvm,
			       struct gpuvm_gem_object *obj)
{
	struct gpuvm_bo *vm_bo;

	if (gpuvm_immediate_mode(gpuvm)) {
		vm_bo = gpuvm_bo_create(gpuvm, obj);
		if (!vm_bo)
			fail("out of memory");
		return gpuvm_bo_obtain_prealloc(vm_bo);
	}
	if (gpuvm_dma_resv_lock(obj->resv, NULL))
		fail("resv lock");
	vm_bo = gpuvm_bo_obtain_locked(gpuvm, obj);
	gpuvm_dma_resv_unlock(obj->resv);
	if (gpuvm_is_err(vm_bo))
		fail("obtain");
	return vm_bo;
}

static void list_lock(bool immediate, struct gpuvm_gem_object *obj)
{
	if (immediate)
		gpuvm_gem_gpuva_lock(obj);
	else if (gpuvm_dma_resv_lock(obj->resv, NULL))
		fail("resv lock");
}

static void list_unlock(bool immediate, struct gpuvm_gem_object *obj)
{
	if (immediate)
		gpuvm_gem_gpuva_unlock(obj);
	else
		gpuvm_dma_resv_unlock(obj->resv);
}

/* Drop the owner's vm_bo reference (the last one) and the VM. */
static void release(struct gpuvm *gpuvm, struct gpuvm_bo *vm_bo)
{
	struct gpuvm_gem_object *obj = vm_bo->obj;
	bool immediate = gpuvm_immediate_mode(gpuvm);

	list_lock(immediate, obj);
	gpuvm_bo_put(vm_bo);
	list_unlock(immediate, obj);
	gpuvm_put(gpuvm);
}

/* ---- one object shared by k VMs: find, obtain, put ----------------------- */

/*
 * The setup of the find, obtain and put cases: one external object mapped
 * by @nr_held VMs, vms[0, nr_held), each holding vm_bos[i] (that vm_bo's
 * only reference). For put-last, vms[nr_held, nr_vms) are k more VMs that
 * hold none. idx[] picks each operation's VM at random among k: the
 * holders, or for put-last the VMs that hold none.
 */
struct shared {
	bool immediate;
	unsigned int k;
	unsigned int nr_held;
	unsigned int nr_vms;
	struct gpuvm_gem_object *obj;
	struct gpuvm **vms;
	struct gpuvm_bo **vm_bos; /* vms[i]'s, for i < nr_held */
	unsigned int idx[NR_IDX]; /* indices into vms[] */
	uintptr_t sink;
};

static struct gpuvm *pick_vm(struct shared *s, unsigned long i, unsigned int *j)
{
	*j = s->idx[i & (NR_IDX - 1)];
	return s->vms[*j];
}

/* Fail on what a case must never see: a loop that checks as it goes
 * cannot measure the wrong path silently. */
static inline void expect(bool ok, const char *what)
{
	if (__builtin_expect(!ok, 0))
		fail(what);
}

/*
 * The kernel's side, for the baselines: the same structures, handled as
 * drivers/gpu/drm/drm_gpuvm.c does. kernel_find() is drm_gpuvm_bo_find(),
 * a walk of obj->gpuva.list comparing each vm_bo's VM. These are inlined
 * into the baseline loops where the kernel calls exported functions, so
 * at k = 1 the baseline is a few calls cheaper than the kernel would be.
 */
static inline struct gpuvm_bo *kernel_find(struct gpuvm *gpuvm,
					   struct gpuvm_gem_object *obj)
{
	struct gpuvm_bo *vm_bo;

	gpuvm_gem_for_each_gpuvm_bo(vm_bo, obj) {
		if (vm_bo->vm == gpuvm)
			return gpuvm_bo_get(vm_bo);
	}
	return NULL;
}

/* drm_gpuvm_bo_create(): zeroed memory the way the library's vm_bos get
 * theirs (the small-block path that stands for the kernel's slab), a VM
 * and a GEM reference, count 1, empty lists. */
static struct gpuvm_bo *kernel_create(struct gpuvm *gpuvm,
				      struct gpuvm_gem_object *obj)
{
	struct gpuvm_bo *vm_bo = gpuvm_kmalloc_small__(
		sizeof(*vm_bo), GPUVM_GFP_KERNEL | GPUVM_GFP_ZERO);

	if (!vm_bo)
		fail("out of memory");
	vm_bo->vm = gpuvm_get(gpuvm);
	vm_bo->obj = gpuvm_gem_object_get(obj);
	vm_bo->kref = 1;
	gpuvm_list_init(&vm_bo->list.gpuva);
	gpuvm_list_init(&vm_bo->list.entry.gem);
	gpuvm_list_init(&vm_bo->list.entry.extobj);
	gpuvm_list_init(&vm_bo->list.entry.evict);
	return vm_bo;
}

/* kref_put(): true when that was the last reference. */
static inline bool kernel_kref_put(struct gpuvm_bo *vm_bo)
{
	return __atomic_sub_fetch(&vm_bo->kref, 1, __ATOMIC_ACQ_REL) == 0;
}

/* drm_gpuvm_bo_destroy_not_in_lists(): free, then drop VM and GEM. */
static void kernel_free(struct gpuvm_bo *vm_bo)
{
	struct gpuvm *gpuvm = vm_bo->vm;
	struct gpuvm_gem_object *obj = vm_bo->obj;
	const struct gpuvm_ops *ops = gpuvm->ops;

	if (ops && ops->vm_bo_free)
		ops->vm_bo_free(vm_bo);
	else
		gpuvm_kfree_sized__(vm_bo, sizeof(*vm_bo));
	gpuvm_put(gpuvm);
	gpuvm_gem_object_put(obj);
}

/* drm_gpuvm_bo_destroy(), the release of the last drm_gpuvm_bo_put(), for
 * a VM without GPUVM_RESV_PROTECTED: off the extobj and evict lists, each
 * under its VM lock, off the GEM's list (its lock held by the caller),
 * then freed. */
static void kernel_destroy(struct gpuvm_bo *vm_bo)
{
	struct gpuvm *gpuvm = vm_bo->vm;

	gpuvm_mutex_lock(&gpuvm->extobj.lock);
	gpuvm_list_del_init(&vm_bo->list.entry.extobj);
	gpuvm_mutex_unlock(&gpuvm->extobj.lock);
	gpuvm_mutex_lock(&gpuvm->evict.lock);
	gpuvm_list_del_init(&vm_bo->list.entry.evict);
	gpuvm_mutex_unlock(&gpuvm->evict.lock);
	gpuvm_list_del(&vm_bo->list.entry.gem);
	kernel_free(vm_bo);
}

/* find: the library's lookup, then the put of its reference. */
static void find_run(void *arg, unsigned long iters)
{
	struct shared *s = arg;
	unsigned long i;
	unsigned int j;
	uintptr_t sink = 0;

	list_lock(s->immediate, s->obj);
	for (i = 0; i < iters; i++) {
		struct gpuvm_bo *vm_bo =
			gpuvm_bo_find(pick_vm(s, i, &j), s->obj);

		sink += (uintptr_t)vm_bo;
		gpuvm_bo_put(vm_bo);
	}
	list_unlock(s->immediate, s->obj);
	s->sink += sink;
}

/* The kernel's lookup: walk every vm_bo of the object. */
static void find_kernel_run(void *arg, unsigned long iters)
{
	struct shared *s = arg;
	unsigned long i;
	unsigned int j;
	uintptr_t sink = 0;

	list_lock(s->immediate, s->obj);
	for (i = 0; i < iters; i++) {
		struct gpuvm_bo *vm_bo = kernel_find(pick_vm(s, i, &j), s->obj);

		sink += (uintptr_t)vm_bo;
		gpuvm_bo_put(vm_bo);
	}
	list_unlock(s->immediate, s->obj);
	s->sink += sink;
}

/* obtain (staged mode only): gpuvm_bo_obtain_locked() finds the vm_bo. */
static void obtain_run(void *arg, unsigned long iters)
{
	struct shared *s = arg;
	unsigned long i;
	unsigned int j;

	list_lock(false, s->obj);
	for (i = 0; i < iters; i++) {
		struct gpuvm_bo *vm_bo =
			gpuvm_bo_obtain_locked(pick_vm(s, i, &j), s->obj);

		expect(vm_bo == s->vm_bos[j], "obtain: not the existing vm_bo");
		gpuvm_bo_put(vm_bo);
	}
	list_unlock(false, s->obj);
}

/* drm_gpuvm_bo_obtain() of an existing vm_bo: drm_gpuvm_bo_find(). */
static void obtain_kernel_run(void *arg, unsigned long iters)
{
	struct shared *s = arg;
	unsigned long i;
	unsigned int j;

	list_lock(false, s->obj);
	for (i = 0; i < iters; i++) {
		struct gpuvm_bo *vm_bo = kernel_find(pick_vm(s, i, &j), s->obj);

		expect(vm_bo == s->vm_bos[j], "obtain: not the existing vm_bo");
		gpuvm_bo_put(vm_bo);
	}
	list_unlock(false, s->obj);
}

/*
 * obtain-prealloc (immediate mode only): a bind's create and
 * gpuvm_bo_obtain_prealloc(), which takes the gpuva lock itself (the
 * caller must not hold it), finds the existing vm_bo and frees the new
 * one. The put of the returned reference is not the last: no lock.
 */
static void prealloc_run(void *arg, unsigned long iters)
{
	struct shared *s = arg;
	unsigned long i;
	unsigned int j;

	for (i = 0; i < iters; i++) {
		struct gpuvm *gpuvm = pick_vm(s, i, &j);
		struct gpuvm_bo *vm_bo = gpuvm_bo_create(gpuvm, s->obj);

		expect(vm_bo != NULL, "out of memory");
		vm_bo = gpuvm_bo_obtain_prealloc(vm_bo);
		expect(vm_bo == s->vm_bos[j],
		       "obtain-prealloc: not the existing vm_bo");
		gpuvm_bo_put(vm_bo);
	}
}

/* drm_gpuvm_bo_create() and drm_gpuvm_bo_obtain_prealloc(): find under
 * the gpuva lock; found, so the prealloc's kref_put() frees it after the
 * unlock. */
static void prealloc_kernel_run(void *arg, unsigned long iters)
{
	struct shared *s = arg;
	unsigned long i;
	unsigned int j;

	for (i = 0; i < iters; i++) {
		struct gpuvm *gpuvm = pick_vm(s, i, &j);
		struct gpuvm_bo *prealloc = kernel_create(gpuvm, s->obj);
		struct gpuvm_bo *vm_bo;

		gpuvm_gem_gpuva_lock(s->obj);
		vm_bo = kernel_find(gpuvm, s->obj);
		gpuvm_gem_gpuva_unlock(s->obj);
		expect(vm_bo == s->vm_bos[j],
		       "obtain-prealloc: not the existing vm_bo");
		if (kernel_kref_put(prealloc))
			kernel_free(prealloc);
		gpuvm_bo_put(vm_bo);
	}
}

/*
 * put-last: a new vm_bo for a VM that has none, published on the object's
 * list beside the k - 1 others, then its only reference dropped, which
 * takes it off the list and frees it. Staged: gpuvm_bo_obtain_locked()
 * and the put, the resv held for the batch. Immediate: create and
 * gpuvm_bo_obtain_prealloc() (which takes the gpuva lock itself), then the
 * put under the gpuva lock, taken for it.
 */
static void put_last_run(void *arg, unsigned long iters)
{
	struct shared *s = arg;
	unsigned long i;
	unsigned int j;

	if (!s->immediate)
		list_lock(false, s->obj);
	for (i = 0; i < iters; i++) {
		struct gpuvm *gpuvm = pick_vm(s, i, &j);
		struct gpuvm_bo *vm_bo;
		bool last;

		if (s->immediate) {
			vm_bo = gpuvm_bo_create(gpuvm, s->obj);
			expect(vm_bo != NULL, "out of memory");
			expect(gpuvm_bo_obtain_prealloc(vm_bo) == vm_bo,
			       "put-last: the new vm_bo was not published");
			gpuvm_gem_gpuva_lock(s->obj);
			last = gpuvm_bo_put(vm_bo);
			gpuvm_gem_gpuva_unlock(s->obj);
		} else {
			vm_bo = gpuvm_bo_obtain_locked(gpuvm, s->obj);
			expect(!gpuvm_is_err(vm_bo), "out of memory");
			last = gpuvm_bo_put(vm_bo);
		}
		expect(last, "put-last: the put was not the last");
	}
	if (!s->immediate)
		list_unlock(false, s->obj);
}

/* The same in the kernel: drm_gpuvm_bo_obtain() (a walk that finds
 * nothing, create, list_add_tail()), or drm_gpuvm_bo_create() and
 * drm_gpuvm_bo_obtain_prealloc(); then the last drm_gpuvm_bo_put(). */
static void put_last_kernel_run(void *arg, unsigned long iters)
{
	struct shared *s = arg;
	unsigned long i;
	unsigned int j;

	if (!s->immediate)
		list_lock(false, s->obj);
	for (i = 0; i < iters; i++) {
		struct gpuvm *gpuvm = pick_vm(s, i, &j);
		struct gpuvm_bo *vm_bo;
		bool last;

		if (s->immediate) {
			vm_bo = kernel_create(gpuvm, s->obj);
			gpuvm_gem_gpuva_lock(s->obj);
			expect(!kernel_find(gpuvm, s->obj),
			       "put-last: the VM already has a vm_bo");
			gpuvm_list_add_tail(&vm_bo->list.entry.gem,
					    &s->obj->gpuva.list);
			gpuvm_gem_gpuva_unlock(s->obj);
			gpuvm_gem_gpuva_lock(s->obj);
			last = kernel_kref_put(vm_bo);
			if (last)
				kernel_destroy(vm_bo);
			gpuvm_gem_gpuva_unlock(s->obj);
		} else {
			expect(!kernel_find(gpuvm, s->obj),
			       "put-last: the VM already has a vm_bo");
			vm_bo = kernel_create(gpuvm, s->obj);
			gpuvm_list_add_tail(&vm_bo->list.entry.gem,
					    &s->obj->gpuva.list);
			last = kernel_kref_put(vm_bo);
			if (last)
				kernel_destroy(vm_bo);
		}
		expect(last, "put-last: the put was not the last");
	}
	if (!s->immediate)
		list_unlock(false, s->obj);
}

/* @fresh: put-last's setup (k - 1 holders and k VMs without a vm_bo). */
static void shared_setup(struct shared *s, bool immediate, unsigned int k,
			 bool fresh, uint64_t seed)
{
	enum gpuvm_flags flags = immediate ? GPUVM_IMMEDIATE_MODE : 0;
	unsigned int i;

	memset(s, 0, sizeof(*s));
	s->immediate = immediate;
	s->k = k;
	s->nr_held = fresh ? k - 1 : k;
	s->nr_vms = fresh ? 2 * k - 1 : k;
	s->obj = obj_new();
	s->vms = calloc(s->nr_vms, sizeof(*s->vms));
	s->vm_bos = calloc(k, sizeof(*s->vm_bos));
	if (!s->vms || !s->vm_bos)
		fail("out of memory");
	for (i = 0; i < s->nr_vms; i++) {
		s->vms[i] = vm_new(flags);
		if (i < s->nr_held)
			s->vm_bos[i] = obtain(s->vms[i], s->obj);
	}
	for (i = 0; i < NR_IDX; i++)
		s->idx[i] =
			s->nr_vms - k + (unsigned int)(bench_rand(&seed) % k);
}

/*
 * What every case must leave behind: each holder's vm_bo is found, with
 * no reference but its owner's (and find's); the other VMs have none; the
 * object's list holds exactly the holders' vm_bos; every vm_bo holds its
 * VM and the object once.
 */
static void shared_check(struct shared *s)
{
	struct gpuvm_bo *vm_bo;
	unsigned int i, listed = 0;

	list_lock(s->immediate, s->obj);
	for (i = 0; i < s->nr_vms; i++) {
		bool held = i < s->nr_held;

		vm_bo = gpuvm_bo_find(s->vms[i], s->obj);
		if (vm_bo != (held ? s->vm_bos[i] : NULL))
			fail("find returned the wrong vm_bo");
		if (vm_bo &&
		    __atomic_load_n(&vm_bo->kref, __ATOMIC_RELAXED) != 2)
			fail("a vm_bo reference leaked");
		gpuvm_bo_put(vm_bo);
		if (__atomic_load_n(&s->vms[i]->kref, __ATOMIC_RELAXED) !=
		    1 + held)
			fail("a VM reference leaked");
	}
	gpuvm_gem_for_each_gpuvm_bo(vm_bo, s->obj) {
		if (vm_bo->obj != s->obj)
			fail("a foreign vm_bo on the object's list");
		listed++;
	}
	if (listed != s->nr_held)
		fail("the object's list lost or kept a vm_bo");
	if (gpuvm_gem_object_refcount(s->obj) != 1 + (int)s->nr_held)
		fail("a GEM reference leaked");
	list_unlock(s->immediate, s->obj);
}

static void shared_teardown(struct shared *s)
{
	unsigned int i;

	for (i = 0; i < s->nr_vms; i++) {
		if (i < s->nr_held)
			release(s->vms[i], s->vm_bos[i]);
		else
			gpuvm_put(s->vms[i]);
	}
	if (gpuvm_gem_object_refcount(s->obj) != 1)
		fail("vm_bo leaked");
	gpuvm_gem_object_put(s->obj);
	free(s->vms);
	free(s->vm_bos);
}

/* The better of two runs, so that frequency drift favours no side. */
static struct bench_stats measure2(const struct bench_opts *opts, bench_fn fn,
				   void *arg)
{
	struct bench_stats a = bench_measure(opts, fn, arg);
	struct bench_stats b = bench_measure(opts, fn, arg);

	return b.ns_per_op < a.ns_per_op ? b : a;
}

#define MODE_STAGED (1u << 0)
#define MODE_IMMEDIATE (1u << 1)

struct shared_case {
	const char *name;
	unsigned int modes; /* those the library's API supports it in */
	bool fresh; /* see shared_setup() */
	bench_fn run, kernel_run;
};

static const struct shared_case shared_cases[] = {
	{ "find", MODE_STAGED | MODE_IMMEDIATE, false, find_run,
	  find_kernel_run },
	{ "obtain", MODE_STAGED, false, obtain_run, obtain_kernel_run },
	{ "obtain-prealloc", MODE_IMMEDIATE, false, prealloc_run,
	  prealloc_kernel_run },
	{ "put-last", MODE_STAGED | MODE_IMMEDIATE, true, put_last_run,
	  put_last_kernel_run },
};

static void bench_shared(const struct bench_opts *opts,
			 const struct shared_case *c)
{
	static const unsigned int ks[] = { 1, 64, 1024 };
	static struct shared f[3];
	struct bench_stats s[3], b[3];
	unsigned int m, i, n = 3;
	char keys[256];
	long alloc_live;

	for (m = 0; m < 2; m++) {
		bool immediate = m == 1;

		if (!(c->modes & (immediate ? MODE_IMMEDIATE : MODE_STAGED)))
			continue;
		gpuvm_alloc_drain();
		alloc_live = gpuvm_alloc_live();
		for (i = 0; i < n; i++) {
			shared_setup(&f[i], immediate, ks[i], c->fresh,
				     opts->seed + i);
			shared_check(&f[i]);
		}
		/* Interleave the sizes: drift hits them alike. */
		for (i = 0; i < n; i++) {
			s[i] = measure2(opts, c->run, &f[i]);
			b[i] = measure2(opts, c->kernel_run, &f[i]);
		}
		for (i = 0; i < n; i++) {
			struct bench_stats again =
				measure2(opts, c->run, &f[i]);

			if (again.ns_per_op < s[i].ns_per_op)
				s[i] = again;
		}
		for (i = 0; i < n; i++) {
			if (bench_sanitized())
				snprintf(keys, sizeof(keys),
					 "\"mode\": \"%s\", \"k\": %u",
					 immediate ? "immediate" : "staged",
					 ks[i]);
			else
				snprintf(keys, sizeof(keys),
					 "\"mode\": \"%s\", \"k\": %u, "
					 "\"ratio_vs_k1\": %.2f",
					 immediate ? "immediate" : "staged",
					 ks[i],
					 s[0].ns_per_op > 0 ?
						 s[i].ns_per_op /
							 s[0].ns_per_op :
						 0.0);
			bench_emit("vm_bo", c->name, keys, 1, &s[i],
				   "list-walk", &b[i]);
		}
		for (i = 0; i < n; i++) {
			shared_check(&f[i]);
			shared_teardown(&f[i]);
		}
		gpuvm_alloc_drain();
		if (gpuvm_alloc_live() != alloc_live)
			fail("library allocation leaked");
	}
}

/* ---- deferred ------------------------------------------------------------ */

#define MAX_PRODUCERS 4

struct deferred {
	bool kernel; /* run the kernel-shaped baseline instead */
	struct gpuvm *vm;
	struct gpuvm_gem_object **objs; /* MAX_PRODUCERS * per_thread */
	struct gpuvm_bo **vm_bos;
	unsigned int per_thread;
	unsigned int producers;
	int ready; /* atomic: threads at the start line */
	int go; /* atomic */
	int done; /* atomic: producers finished */
	double t0, t1;
};

struct deferred_thread {
	struct deferred *d;
	unsigned int index; /* < producers; == producers: the cleaner */
	pthread_t thread;
};

/*
 * The kernel's deferred path on the same structures, for the baseline.
 * drm_gpuvm_bo_put_deferred() is kref_put_mutex() with the object's
 * gpuva mutex: a decrement that cannot reach zero needs no lock; the last
 * one is taken under the mutex, and then (no GPUVM_RESV_PROTECTED) the
 * vm_bo leaves the extobj and evict lists under their VM locks and the
 * object's list, the mutex is released, and llist_add() publishes it.
 * The object's vm_bo count is the library's bookkeeping, kept here (one
 * store) so that the library can use the objects afterwards. The VM is
 * never GPUVM_RESV_PROTECTED here, but the test is the kernel's.
 */
static bool kernel_dec_not_one(int *ref)
{
	int old = __atomic_load_n(ref, __ATOMIC_RELAXED);

	do {
		if (old <= 1)
			return false;
	} while (!__atomic_compare_exchange_n(
		ref, &old, old - 1, true, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
	return true;
}

static void kernel_llist_add(struct gpuvm_llist_node *node,
			     struct gpuvm_llist_head *head)
{
	struct gpuvm_llist_node *first =
		__atomic_load_n(&head->first, __ATOMIC_RELAXED);

	do
		node->next = first;
	while (!__atomic_compare_exchange_n(&head->first, &first, node, true,
					    __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED));
}

static void kernel_put_deferred(struct gpuvm_bo *vm_bo)
{
	struct gpuvm_gem_object *obj = vm_bo->obj;
	struct gpuvm *gpuvm = vm_bo->vm;

	if (!gpuvm_immediate_mode(gpuvm)) /* its drm_WARN_ON() */
		fail("put_deferred: not in immediate mode");
	if (kernel_dec_not_one(&vm_bo->kref))
		return;
	gpuvm_gem_gpuva_lock(obj);
	if (!kernel_kref_put(vm_bo)) {
		gpuvm_gem_gpuva_unlock(obj);
		return;
	}
	if (!gpuvm_resv_protected(gpuvm)) {
		gpuvm_mutex_lock(&gpuvm->extobj.lock);
		if (!gpuvm_list_empty(&vm_bo->list.entry.extobj))
			gpuvm_list_del_init(&vm_bo->list.entry.extobj);
		gpuvm_mutex_unlock(&gpuvm->extobj.lock);
		gpuvm_mutex_lock(&gpuvm->evict.lock);
		if (!gpuvm_list_empty(&vm_bo->list.entry.evict))
			gpuvm_list_del_init(&vm_bo->list.entry.evict);
		gpuvm_mutex_unlock(&gpuvm->evict.lock);
	}
	gpuvm_list_del_init(&vm_bo->list.entry.gem);
	obj->gpuva.nr_vm_bos__--;
	gpuvm_gem_gpuva_unlock(obj);
	kernel_llist_add(&vm_bo->list.entry.bo_defer, &gpuvm->bo_defer);
}

/* drm_gpuvm_bo_deferred_cleanup() without GPUVM_RESV_PROTECTED:
 * llist_del_all(), then free each zombie and drop its VM and GEM. */
static void kernel_deferred_cleanup(struct gpuvm *gpuvm)
{
	struct gpuvm_llist_node *node = __atomic_exchange_n(
		&gpuvm->bo_defer.first, NULL, __ATOMIC_ACQUIRE);

	while (node) {
		struct gpuvm_bo *vm_bo = gpuvm_container_of(
			node, struct gpuvm_bo, list.entry.bo_defer);

		node = node->next;
		kernel_free(vm_bo);
	}
}

/* drm_gpuvm_bo_create() and drm_gpuvm_bo_obtain_prealloc() of a vm_bo
 * the object does not have yet: the baseline's vm_bos are the kernel
 * side's own from creation to free. */
static struct gpuvm_bo *kernel_obtain_new(struct gpuvm *gpuvm,
					  struct gpuvm_gem_object *obj)
{
	struct gpuvm_bo *vm_bo = kernel_create(gpuvm, obj);

	gpuvm_gem_gpuva_lock(obj);
	gpuvm_list_add_tail(&vm_bo->list.entry.gem, &obj->gpuva.list);
	obj->gpuva.nr_vm_bos__++;
	gpuvm_gem_gpuva_unlock(obj);
	return vm_bo;
}

static void start_line(struct deferred *d)
{
	__atomic_fetch_add(&d->ready, 1, __ATOMIC_ACQ_REL);
	while (!__atomic_load_n(&d->go, __ATOMIC_ACQUIRE))
		;
}

static void *deferred_main(void *arg)
{
	struct deferred_thread *t = arg;
	struct deferred *d = t->d;
	unsigned int i;

	start_line(d);
	if (t->index < d->producers) {
		struct gpuvm_bo **mine = d->vm_bos + t->index * d->per_thread;

		if (d->kernel)
			for (i = 0; i < d->per_thread; i++)
				kernel_put_deferred(mine[i]);
		else
			for (i = 0; i < d->per_thread; i++)
				gpuvm_bo_put_deferred(mine[i]);
		__atomic_fetch_add(&d->done, 1, __ATOMIC_ACQ_REL);
		return NULL;
	}
	for (;;) {
		bool last = __atomic_load_n(&d->done, __ATOMIC_ACQUIRE) ==
			    (int)d->producers;

		if (!__atomic_load_n(&d->vm->bo_defer.first,
				     __ATOMIC_ACQUIRE)) {
			if (!last)
				sched_yield(); /* nothing to do: let producers run */
		} else if (d->kernel) {
			kernel_deferred_cleanup(d->vm);
		} else {
			gpuvm_bo_deferred_cleanup(d->vm);
		}
		if (last)
			break;
	}
	d->t1 = bench_now_ns();
	return NULL;
}

/*
 * With a CPU for each thread, give each its own: the scheduler would
 * otherwise sometimes run producer and cleaner on one CPU in turn, which
 * makes a different (and much faster) benchmark of the sample. Best
 * effort: where pinning fails the sample runs unpinned.
 */
static void pin(pthread_t thread, unsigned int index, unsigned int threads)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	if (cpus < (long)threads)
		return;
	CPU_ZERO(&set);
	CPU_SET(index, &set);
	(void)pthread_setaffinity_np(thread, sizeof(set), &set);
}

/* One sample: returns the wall-clock ns per put. */
static double deferred_sample(struct deferred *d, unsigned int producers)
{
	struct deferred_thread t[MAX_PRODUCERS + 1];
	unsigned int i, n = producers * d->per_thread;

	d->producers = producers;
	for (i = 0; i < n; i++)
		d->vm_bos[i] = d->kernel ?
				       kernel_obtain_new(d->vm, d->objs[i]) :
				       obtain(d->vm, d->objs[i]);
	d->ready = 0;
	d->go = 0;
	d->done = 0;
	for (i = 0; i <= producers; i++) {
		t[i].d = d;
		t[i].index = i;
		if (pthread_create(&t[i].thread, NULL, deferred_main, &t[i]))
			fail("pthread_create");
		pin(t[i].thread, i, producers + 1);
	}
	while (__atomic_load_n(&d->ready, __ATOMIC_ACQUIRE) <
	       (int)producers + 1)
		sched_yield();
	d->t0 = bench_now_ns();
	__atomic_store_n(&d->go, 1, __ATOMIC_RELEASE);
	for (i = 0; i <= producers; i++)
		pthread_join(t[i].thread, NULL);

	for (i = 0; i < n; i++)
		if (gpuvm_gem_object_refcount(d->objs[i]) != 1 ||
		    !gpuvm_list_empty(&d->objs[i]->gpuva.list) ||
		    d->objs[i]->gpuva.nr_vm_bos__)
			fail("a zombie was not freed");
	if (__atomic_load_n(&d->vm->kref, __ATOMIC_RELAXED) != 1)
		fail("VM reference leaked");
	return (d->t1 - d->t0) / (double)n;
}

/* Median and p95 of @nr samples of ns per put. */
static void deferred_stats(struct bench_stats *s, double *per_put,
			   unsigned int nr, unsigned long puts)
{
	qsort(per_put, nr, sizeof(per_put[0]), bench_cmp_double);
	s->iterations = puts;
	s->ns_per_op = per_put[nr / 2];
	s->p95_ns = per_put[(nr * 95 + 99) / 100 - 1];
}

static void bench_deferred(const struct bench_opts *opts)
{
	struct deferred d = { 0 };
	unsigned int p, i, total, nr = opts->samples > 64 ? 64 : opts->samples;
	double per_put[64], per_put_kernel[64];
	char keys[256];

	d.per_thread = opts->smoke ? 1024 : 1u << 15;
	total = MAX_PRODUCERS * d.per_thread;
	d.vm = vm_new(GPUVM_IMMEDIATE_MODE);
	d.objs = calloc(total, sizeof(*d.objs));
	d.vm_bos = calloc(total, sizeof(*d.vm_bos));
	if (!d.objs || !d.vm_bos)
		fail("out of memory");
	for (i = 0; i < total; i++)
		d.objs[i] = obj_new();

	for (p = 1; p <= MAX_PRODUCERS; p++) {
		struct bench_stats s = { 0 }, b = { 0 };

		deferred_sample(&d, p); /* warm up */
		/* Interleaved, so that drift hits both sides alike. */
		for (i = 0; i < nr; i++) {
			d.kernel = false;
			per_put[i] = deferred_sample(&d, p);
			d.kernel = true;
			per_put_kernel[i] = deferred_sample(&d, p);
		}
		d.kernel = false;
		deferred_stats(&s, per_put, nr, p * d.per_thread);
		deferred_stats(&b, per_put_kernel, nr, p * d.per_thread);
		if (bench_sanitized())
			snprintf(keys, sizeof(keys),
				 "\"producers\": %u, \"cleanup_threads\": 1",
				 p);
		else
			snprintf(keys, sizeof(keys),
				 "\"producers\": %u, \"cleanup_threads\": 1, "
				 "\"puts_per_s\": %.0f",
				 p, s.ns_per_op > 0 ? 1e9 / s.ns_per_op : 0.0);
		bench_emit("vm_bo", "deferred", keys, p, &s, "kernel", &b);
	}

	for (i = 0; i < total; i++)
		gpuvm_gem_object_put(d.objs[i]);
	gpuvm_put(d.vm);
	free(d.objs);
	free(d.vm_bos);
}

int main(int argc, char **argv)
{
	struct bench_opts opts;
	const char *only = NULL;
	bool known;
	unsigned int c;
	int i = bench_init(argc, argv, &opts);

	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--case") && i + 1 < argc) {
			only = argv[++i];
		} else {
			only = "";
			break;
		}
	}
	known = !only || !strcmp(only, "deferred");
	for (c = 0; c < sizeof(shared_cases) / sizeof(shared_cases[0]); c++)
		known = known || !strcmp(only, shared_cases[c].name);
	if (!known) {
		fprintf(stderr,
			"usage: %s [--smoke] [--debug] [--seed N] "
			"[--samples N] [--case find|obtain|obtain-prealloc|"
			"put-last|deferred]\n",
			argv[0]);
		return 2;
	}
	for (c = 0; c < sizeof(shared_cases) / sizeof(shared_cases[0]); c++)
		if (!only || !strcmp(only, shared_cases[c].name))
			bench_shared(&opts, &shared_cases[c]);
	if (!only || !strcmp(only, "deferred"))
		bench_deferred(&opts);
	return 0;
}
