// SPDX-License-Identifier: MIT
/*
 * The thread-safety contract of vm_bos in immediate mode: what a Rust
 * binding relies on when it makes vm_bo handles Send and Sync (the last
 * handle may be dropped on any thread, with a deferred put, while another
 * thread runs the deferred cleanup).
 *
 * Each round publishes one vm_bo for each of NR_PRIVATE private and
 * NR_EXTERNAL external objects, gives it DROPPERS * REFS_PER_THREAD
 * references up front, and lets DROPPERS threads drop them with
 * gpuvm_bo_put_deferred() in random order (every other round the threads
 * converge on the same few objects at a time, so that last puts race),
 * inside a fence signalling section, while a cleanup thread loops
 * gpuvm_bo_deferred_cleanup(). Two
 * variants add to the mix:
 *  - unlink: the droppers also unlink (gpuva_unlink_defer) and remove VAs
 *    that were linked up front, each holding a vm_bo reference;
 *  - obtain: more threads create and obtain vm_bos of the same objects
 *    (gpuvm_bo_create + gpuvm_bo_obtain_prealloc) while zombies wait for
 *    the cleanup, and drop them again; an obtain that starts after the
 *    original vm_bo became a zombie must return another one.
 * Everything runs with and without GPUVM_RESV_PROTECTED.
 *
 * The vm_bo_alloc/vm_bo_free callbacks number every vm_bo and count its
 * frees. Workers only record; the main thread asserts after the join:
 * every vm_bo freed exactly once, each published one turned into a zombie
 * exactly once, the callbacks ran with valid vm/obj and no library lock
 * held, and the VM, the objects and the allocator are back where they
 * started.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/testing.h>
#include "gpuvm_fixture.h"
#include "harness.h"

#define NR_PRIVATE 64
#define NR_EXTERNAL 64
#define NR_OBJS (NR_PRIVATE + NR_EXTERNAL)
#define DROPPERS 4
#define REFS_PER_THREAD 16
#define VAS_PER_OBJ 4
#define OBTAINERS 2
/* Obtains per obtainer thread while the droppers run, at most. */
#define MAX_OBTAINS 4096
#define ROUNDS 48

#define VA_STRIDE 0x10000ull
#define VA_SIZE 0x1000ull

enum variant { PUT_ONLY, WITH_UNLINK, WITH_OBTAIN };

/* What a dropper does with one entry of its list. */
enum action_kind {
	ACT_PUT, /* gpuvm_bo_put_deferred on the object's original vm_bo */
	ACT_UNMAP, /* gpuva_remove, then gpuva_unlink_defer */
	ACT_UNLINK, /* gpuva_unlink_defer, then gpuva_remove */
};

#define ACT(kind, idx) (((uint32_t)(kind) << 24) | (uint32_t)(idx))
#define ACT_KIND(a) ((enum action_kind)((a) >> 24))
#define ACT_IDX(a) ((a)&0xffffffu)

struct tobj {
	struct gpuvm_gem_object base;
	unsigned int index;
};

/* A vm_bo as the test driver allocates it: numbered. */
struct tvm_bo {
	struct gpuvm_bo base;
	unsigned int id;
};

/* Everything one round shares; workers write only atomics and their own
 * slots. */
struct round {
	enum variant variant;
	struct fx_vm *fx;
	struct tobj *objs[NR_OBJS];
	struct gpuva *vas[NR_OBJS * VAS_PER_OBJ];
	pthread_mutex_t va_lock; /* the driver's VA-space lock */

	/* Per vm_bo id (see vm_bo_alloc_cb). */
	unsigned int max_ids;
	unsigned int next_id; /* atomic */
	int *freed; /* atomic: vm_bo_free calls */
	int *zombie_returns; /* atomic: put_deferred returned true */
	unsigned char *published; /* obtain returned this prealloc */
	unsigned int orig_id[NR_OBJS];
	int orig_zombie[NR_OBJS]; /* atomic: the original's put returned true */

	uint32_t *actions[DROPPERS];
	unsigned int nr_actions[DROPPERS];

	int arrived; /* atomic: start barrier */
	int workers_done; /* atomic: droppers and obtainers finished */

	/* Records of anomalies, asserted by the main thread. */
	int bad_free; /* atomic: vm_bo_free with a wrong vm/obj */
	int free_with_lock; /* atomic: vm_bo_free with a library lock held */
	int id_overflow; /* atomic: more vm_bos than the tables hold */
	int bad_obtain; /* atomic: obtain returned a foreign vm_bo */
	int zombie_found; /* atomic: obtain returned a known zombie */
	int new_after_zombie; /* atomic: obtains returning a replacement */
	int cleanup_calls; /* atomic */
	/* Statistics, to see that the races happen (GPUVM_TEST_VERBOSE). */
	int freed_by_cleaner; /* atomic: freed on the cleanup thread */
	int early_replacements; /* atomic: replacements before the last pass */
	uint64_t seed;
	unsigned int window; /* of the shuffle; 0: uniform */
};

/* The round the callbacks report to (one test runs at a time). */
static struct round *cur;
/* Set on the cleanup thread. */
static __thread bool on_cleaner;

static struct gpuvm_bo *vm_bo_alloc_cb(void)
{
	struct round *r = cur;
	struct tvm_bo *b = gpuvm_kzalloc(sizeof(*b), GPUVM_GFP_KERNEL);
	unsigned int id;

	if (!b)
		return NULL;
	id = __atomic_fetch_add(&r->next_id, 1, __ATOMIC_RELAXED);
	if (id >= r->max_ids) {
		__atomic_fetch_add(&r->id_overflow, 1, __ATOMIC_RELAXED);
		id = r->max_ids - 1;
	}
	b->id = id;
	return &b->base;
}

static void vm_bo_free_cb(struct gpuvm_bo *vm_bo)
{
	struct round *r = cur;
	struct tvm_bo *b = gpuvm_container_of(vm_bo, struct tvm_bo, base);
	struct tobj *o;

	/* Both references are still held while the callback runs. */
	o = gpuvm_container_of(vm_bo->obj, struct tobj, base);
	if (vm_bo->vm != &r->fx->base || o->index >= NR_OBJS ||
	    r->objs[o->index] != o ||
	    gpuvm_gem_object_refcount(vm_bo->obj) < 2 ||
	    __atomic_load_n(&vm_bo->vm->kref, __ATOMIC_RELAXED) < 2)
		__atomic_fetch_add(&r->bad_free, 1, __ATOMIC_RELAXED);
	if (gpuvm_lock_held_count())
		__atomic_fetch_add(&r->free_with_lock, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&r->freed[b->id], 1, __ATOMIC_RELAXED);
	if (on_cleaner)
		__atomic_fetch_add(&r->freed_by_cleaner, 1, __ATOMIC_RELAXED);
	gpuvm_kfree(b);
}

static unsigned int vm_bo_id(struct gpuvm_bo *vm_bo)
{
	return gpuvm_container_of(vm_bo, struct tvm_bo, base)->id;
}

static void tobj_free(struct gpuvm_gem_object *obj)
{
	free(gpuvm_container_of(obj, struct tobj, base));
}

static const struct gpuvm_gem_object_funcs tobj_funcs = {
	.free = tobj_free,
};

static struct gpuvm *round_vm(struct round *r)
{
	return &r->fx->base;
}

/* extobj_add with the lock it needs in this mode. */
static void extobj_add(struct gpuvm_bo *vm_bo)
{
	struct gpuvm *gpuvm = vm_bo->vm;

	if (!gpuvm_resv_protected(gpuvm)) {
		gpuvm_bo_extobj_add(vm_bo);
		return;
	}
	/* Uninterruptible without a context: cannot fail. */
	(void)gpuvm_dma_resv_lock(gpuvm_resv(gpuvm), NULL);
	gpuvm_bo_extobj_add(vm_bo);
	gpuvm_dma_resv_unlock(gpuvm_resv(gpuvm));
}

static uint64_t next_rand(uint64_t *seed)
{
	*seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
	return *seed >> 33;
}

/*
 * Shuffle @a so that each entry moves at most @window places forward
 * (@window >= @n: a uniform shuffle). The lists are built object by
 * object, so a small window keeps the threads working on the same few
 * objects at the same time, and their last references race.
 */
static void shuffle(uint32_t *a, unsigned int n, unsigned int window,
		    uint64_t *seed)
{
	unsigned int i, j, span;
	uint32_t t;

	for (i = 0; i + 1 < n; i++) {
		span = n - i < window ? n - i : window;
		j = i + (unsigned int)(next_rand(seed) % span);
		t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

/* ---- set-up and checks (main thread) ------------------------------------ */

static void round_init(struct round *r, enum variant variant,
		       enum gpuvm_flags flags, uint64_t seed)
{
	struct gpuvm *gpuvm;
	unsigned int i;

	memset(r, 0, sizeof(*r));
	r->variant = variant;
	r->seed = seed;
	r->max_ids = NR_OBJS + 1;
	if (variant == WITH_OBTAIN)
		r->max_ids += OBTAINERS * (MAX_OBTAINS + NR_OBJS);
	r->freed = calloc(r->max_ids, sizeof(*r->freed));
	r->zombie_returns = calloc(r->max_ids, sizeof(*r->zombie_returns));
	r->published = calloc(r->max_ids, sizeof(*r->published));
	assert_non_null(r->freed);
	assert_non_null(r->zombie_returns);
	assert_non_null(r->published);
	assert_int_equal(pthread_mutex_init(&r->va_lock, NULL), 0);
	cur = r;

	r->fx = fx_vm_create(flags | GPUVM_IMMEDIATE_MODE, 0, 1ull << 40, 0, 0);
	r->fx->ops.vm_bo_alloc = vm_bo_alloc_cb;
	r->fx->ops.vm_bo_free = vm_bo_free_cb;
	gpuvm = round_vm(r);

	for (i = 0; i < NR_OBJS; i++) {
		struct tobj *o = calloc(1, sizeof(*o));

		assert_non_null(o);
		o->index = i;
		if (i < NR_PRIVATE)
			gpuvm_gem_object_init_shared_resv(&o->base, &tobj_funcs,
							  1 << 20,
							  gpuvm_resv(gpuvm));
		else
			gpuvm_gem_object_init(&o->base, &tobj_funcs, 1 << 20);
		r->objs[i] = o;
	}
}

/* Publish one vm_bo per object with all its references and VAs. */
static void round_populate(struct round *r)
{
	struct gpuvm *gpuvm = round_vm(r);
	unsigned int i, ii, t, k, j, n[DROPPERS] = { 0 };
	unsigned int cap = NR_OBJS * REFS_PER_THREAD + NR_OBJS * VAS_PER_OBJ;
	uint32_t order[NR_OBJS];
	uint64_t seed = r->seed;

	/* Objects die roughly in this order in the windowed rounds. */
	for (i = 0; i < NR_OBJS; i++)
		order[i] = i;
	shuffle(order, NR_OBJS, NR_OBJS, &seed);

	for (t = 0; t < DROPPERS; t++) {
		r->actions[t] = calloc(cap, sizeof(uint32_t));
		assert_non_null(r->actions[t]);
	}

	for (ii = 0; ii < NR_OBJS; ii++) {
		struct gpuvm_gem_object *obj;
		struct gpuvm_bo *pre, *vm_bo;

		i = order[ii];
		obj = &r->objs[i]->base;

		pre = gpuvm_bo_create(gpuvm, obj);
		assert_non_null(pre);
		vm_bo = gpuvm_bo_obtain_prealloc(pre);
		assert_ptr_equal(vm_bo, pre);
		r->orig_id[i] = vm_bo_id(vm_bo);
		r->published[vm_bo_id(vm_bo)] = 1;
		extobj_add(vm_bo);
		assert_int_equal(gpuvm_list_empty(&vm_bo->list.entry.extobj),
				 i < NR_PRIVATE);

		/* The obtained reference is one of the droppers'. */
		for (k = 1; k < DROPPERS * REFS_PER_THREAD; k++)
			gpuvm_bo_get(vm_bo);
		for (t = 0; t < DROPPERS; t++)
			for (k = 0; k < REFS_PER_THREAD; k++)
				r->actions[t][n[t]++] = ACT(ACT_PUT, i);

		if (r->variant != WITH_UNLINK)
			continue;
		for (j = 0; j < VAS_PER_OBJ; j++) {
			unsigned int v = i * VAS_PER_OBJ + j;
			struct gpuva *va;

			pthread_mutex_lock(&r->va_lock);
			va = fx_va_insert(r->fx, v * VA_STRIDE, VA_SIZE, obj,
					  j * VA_SIZE);
			pthread_mutex_unlock(&r->va_lock);
			gpuvm_gem_gpuva_lock(obj);
			gpuva_link(va, vm_bo);
			gpuvm_gem_gpuva_unlock(obj);
			r->vas[v] = va;
			/* A random dropper, and a random order of the two
			 * steps (drivers do either). */
			t = (unsigned int)(next_rand(&seed) % DROPPERS);
			r->actions[t][n[t]++] = ACT(
				next_rand(&seed) & 1 ? ACT_UNMAP : ACT_UNLINK,
				v);
		}
		assert_int_equal(
			__atomic_load_n(&vm_bo->kref, __ATOMIC_RELAXED),
			DROPPERS * REFS_PER_THREAD + VAS_PER_OBJ);
	}
	for (t = 0; t < DROPPERS; t++) {
		r->nr_actions[t] = n[t];
		shuffle(r->actions[t], n[t], r->window ? r->window : n[t],
			&seed);
	}
}

static void round_check_and_fini(struct round *r)
{
	struct gpuvm *gpuvm = round_vm(r);
	unsigned int i, ids, new_live = 0;

	/* The main thread's own cleanup, after the join. */
	gpuvm_bo_deferred_cleanup(gpuvm);

	assert_int_equal(r->id_overflow, 0);
	assert_int_equal(r->bad_free, 0);
	assert_int_equal(r->free_with_lock, 0);
	assert_int_equal(r->bad_obtain, 0);
	assert_int_equal(r->zombie_found, 0);
	assert_true(r->cleanup_calls > 0);

	ids = r->next_id;
	assert_true(ids >= NR_OBJS);
	for (i = 0; i < ids; i++) {
		if (r->freed[i] != 1)
			fail_msg("vm_bo %u freed %d times", i, r->freed[i]);
		/* A published vm_bo dies as a zombie exactly once; the
		 * unlink variant may make it one in gpuva_unlink_defer,
		 * which reports nothing. A discarded prealloc never
		 * becomes one. */
		if (r->zombie_returns[i] > (int)r->published[i] ||
		    (r->variant != WITH_UNLINK &&
		     r->zombie_returns[i] != (int)r->published[i]))
			fail_msg("vm_bo %u: %d zombie returns (published %d)",
				 i, r->zombie_returns[i], r->published[i]);
		new_live += r->published[i] && i >= NR_OBJS;
	}
	if (r->variant == WITH_OBTAIN) {
		/* The final pass after the droppers obtained replacements. */
		assert_true(r->new_after_zombie >= NR_OBJS);
		assert_true(new_live >= NR_OBJS);
	}

	for (i = 0; i < NR_OBJS * VAS_PER_OBJ; i++) {
		struct gpuva *va = r->vas[i];

		if (!va)
			continue;
		assert_null(va->vm_bo);
		assert_true(gpuvm_list_empty(&va->gem.entry));
		fx_va_free(va);
	}
	assert_int_equal(fx_va_count(r->fx), 0);

	assert_true(gpuvm_list_empty(&gpuvm->extobj.list));
	assert_true(gpuvm_list_empty(&gpuvm->evict.list));
	assert_null(__atomic_load_n(&gpuvm->bo_defer.first, __ATOMIC_ACQUIRE));
	/* Only the owner's reference is left. */
	assert_int_equal(__atomic_load_n(&gpuvm->kref, __ATOMIC_RELAXED), 1);
	for (i = 0; i < NR_OBJS; i++) {
		struct gpuvm_gem_object *obj = &r->objs[i]->base;

		assert_true(gpuvm_list_empty(&obj->gpuva.list));
		assert_int_equal(gpuvm_gem_object_refcount(obj), 1);
		gpuvm_gem_object_put(obj);
	}

	fx_vm_destroy(r->fx);
	for (i = 0; i < DROPPERS; i++)
		free(r->actions[i]);
	pthread_mutex_destroy(&r->va_lock);
	free(r->freed);
	free(r->zombie_returns);
	free(r->published);
	cur = NULL;
}

/* ---- workers ------------------------------------------------------------ */

static void wait_for_all(struct round *r, int n)
{
	__atomic_fetch_add(&r->arrived, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&r->arrived, __ATOMIC_ACQUIRE) < n)
		sched_yield();
}

/* A put_deferred that records what it returned. */
static void put_deferred(struct round *r, struct gpuvm_bo *vm_bo,
			 unsigned int obj_index)
{
	unsigned int id = vm_bo_id(vm_bo);

	if (!gpuvm_bo_put_deferred(vm_bo))
		return;
	/* @vm_bo may be freed by now: only the saved id is used. */
	__atomic_fetch_add(&r->zombie_returns[id], 1, __ATOMIC_RELAXED);
	if (id == r->orig_id[obj_index])
		__atomic_store_n(&r->orig_zombie[obj_index], 1,
				 __ATOMIC_RELEASE);
}

static void remove_va(struct round *r, struct gpuva *va)
{
	pthread_mutex_lock(&r->va_lock);
	gpuva_remove(va);
	pthread_mutex_unlock(&r->va_lock);
}

static void dropper(struct round *r, unsigned int t, struct gpuvm_bo **orig)
{
	unsigned int i;
	bool cookie;

	/* The deferred paths are what runs in a fence signalling path. */
	cookie = gpuvm_dma_fence_begin_signalling();
	for (i = 0; i < r->nr_actions[t]; i++) {
		uint32_t a = r->actions[t][i];
		struct gpuva *va;

		switch (ACT_KIND(a)) {
		case ACT_PUT:
			put_deferred(r, orig[ACT_IDX(a)], ACT_IDX(a));
			break;
		case ACT_UNMAP:
			va = r->vas[ACT_IDX(a)];
			remove_va(r, va);
			gpuva_unlink_defer(va);
			break;
		case ACT_UNLINK:
			va = r->vas[ACT_IDX(a)];
			gpuva_unlink_defer(va);
			remove_va(r, va);
			break;
		}
		/* Two cores: let the cleanup and obtain threads in. */
		if (i % 32 == 31)
			sched_yield();
	}
	gpuvm_dma_fence_end_signalling(cookie);
}

/* Obtain (and drop) a vm_bo of object @i, as a binding's obtain() does. */
static void obtain_one(struct round *r, unsigned int i)
{
	struct gpuvm_gem_object *obj = &r->objs[i]->base;
	struct gpuvm *gpuvm = round_vm(r);
	struct gpuvm_bo *pre, *vm_bo;
	unsigned int pre_id, id;
	bool orig_dead;

	/* Seen before obtaining: the original is a zombie for sure. */
	orig_dead = __atomic_load_n(&r->orig_zombie[i], __ATOMIC_ACQUIRE);
	pre = gpuvm_bo_create(gpuvm, obj);
	if (!pre) {
		__atomic_fetch_add(&r->bad_obtain, 1, __ATOMIC_RELAXED);
		return;
	}
	pre_id = vm_bo_id(pre);
	vm_bo = gpuvm_bo_obtain_prealloc(pre);
	/* @pre is gone unless it was published. */
	if (vm_bo->vm != gpuvm || vm_bo->obj != obj ||
	    __atomic_load_n(&vm_bo->kref, __ATOMIC_RELAXED) < 1) {
		__atomic_fetch_add(&r->bad_obtain, 1, __ATOMIC_RELAXED);
		return;
	}
	id = vm_bo_id(vm_bo);
	if (id == pre_id)
		r->published[id] = 1; /* only this thread knows the id yet */
	if (orig_dead && id == r->orig_id[i])
		__atomic_fetch_add(&r->zombie_found, 1, __ATOMIC_RELAXED);
	if (id != r->orig_id[i]) {
		__atomic_fetch_add(&r->new_after_zombie, 1, __ATOMIC_RELAXED);
		if (__atomic_load_n(&r->workers_done, __ATOMIC_ACQUIRE) <
		    DROPPERS)
			__atomic_fetch_add(&r->early_replacements, 1,
					   __ATOMIC_RELAXED);
	}
	if (i >= NR_PRIVATE)
		extobj_add(vm_bo);
	put_deferred(r, vm_bo, i);
}

static void obtainer(struct round *r, unsigned int t)
{
	uint64_t seed = r->seed ^ (0x9e3779b97f4a7c15ull * (t + 1));
	unsigned int n, i;

	for (n = 0; n < MAX_OBTAINS; n++) {
		if (__atomic_load_n(&r->workers_done, __ATOMIC_ACQUIRE) >=
		    DROPPERS)
			break;
		obtain_one(r, (unsigned int)(next_rand(&seed) % NR_OBJS));
		if (n % 8 == 7)
			sched_yield();
	}
	/* Wait for the droppers; then every original is a zombie. */
	while (__atomic_load_n(&r->workers_done, __ATOMIC_ACQUIRE) < DROPPERS)
		sched_yield();
	for (i = 0; i < NR_OBJS; i++)
		obtain_one(r, i);
}

struct run {
	struct round *r;
	struct gpuvm_bo *orig[NR_OBJS];
	int nr_threads;
	int nr_workers; /* droppers + obtainers */
};

static void worker(unsigned int i, void *arg)
{
	struct run *run = arg;
	struct round *r = run->r;

	wait_for_all(r, run->nr_threads);
	if (i < DROPPERS) {
		dropper(r, i, run->orig);
		__atomic_fetch_add(&r->workers_done, 1, __ATOMIC_ACQ_REL);
	} else if (i == DROPPERS) {
		/* The cleanup thread, until every other worker is done. */
		on_cleaner = true;
		for (;;) {
			bool last = __atomic_load_n(&r->workers_done,
						    __ATOMIC_ACQUIRE) >=
				    run->nr_workers;

			gpuvm_bo_deferred_cleanup(round_vm(r));
			__atomic_fetch_add(&r->cleanup_calls, 1,
					   __ATOMIC_RELAXED);
			if (last)
				break;
			sched_yield();
		}
		on_cleaner = false;
	} else {
		obtainer(r, i - DROPPERS - 1);
		__atomic_fetch_add(&r->workers_done, 1, __ATOMIC_ACQ_REL);
	}
}

static void run_rounds(enum variant variant, enum gpuvm_flags flags)
{
	unsigned int round, i;
	long live;

	for (round = 0; round < ROUNDS; round++) {
		struct round *r = calloc(1, sizeof(*r));
		struct run run = { .r = r };

		assert_non_null(r);
		round_init(r, variant, flags, 0x5eed0000ull + round);
		/* Odd rounds: the threads converge on the same objects. */
		if (round & 1)
			r->window = 2 * (REFS_PER_THREAD + VAS_PER_OBJ);
		live = gpuvm_alloc_live();
		round_populate(r);
		for (i = 0; i < NR_OBJS; i++) {
			struct gpuvm_bo *vm_bo =
				fx_vm_bo(r->fx, &r->objs[i]->base);

			assert_non_null(vm_bo);
			assert_int_equal(vm_bo_id(vm_bo), r->orig_id[i]);
			run.orig[i] = vm_bo;
		}
		run.nr_workers = DROPPERS;
		if (variant == WITH_OBTAIN)
			run.nr_workers += OBTAINERS;
		run.nr_threads = run.nr_workers + 1;
		harness_run_threads((unsigned int)run.nr_threads, worker, &run);

		gpuvm_bo_deferred_cleanup(round_vm(r));
		/* Every vm_bo, VA index node and hash table is gone. */
		assert_int_equal(gpuvm_alloc_live(), live);
		if (getenv("GPUVM_TEST_VERBOSE"))
			print_message("round %u: %u vm_bos, %d freed by the "
				      "cleanup thread in %d calls, %d early "
				      "replacements\n",
				      round, r->next_id, r->freed_by_cleaner,
				      r->cleanup_calls, r->early_replacements);
		round_check_and_fini(r);
		free(r);
	}
}

static void test_put_deferred(void **state)
{
	run_rounds(PUT_ONLY, 0);
}

static void test_put_deferred_resv_protected(void **state)
{
	run_rounds(PUT_ONLY, GPUVM_RESV_PROTECTED);
}

static void test_unlink_defer(void **state)
{
	run_rounds(WITH_UNLINK, 0);
}

static void test_unlink_defer_resv_protected(void **state)
{
	run_rounds(WITH_UNLINK, GPUVM_RESV_PROTECTED);
}

static void test_obtain_while_zombies(void **state)
{
	run_rounds(WITH_OBTAIN, 0);
}

static void test_obtain_while_zombies_resv_protected(void **state)
{
	run_rounds(WITH_OBTAIN, GPUVM_RESV_PROTECTED);
}

/*
 * With the checker off, a last put skips the list lock of an entry that
 * is on no list (private objects' extobj entries, every evict entry)
 * while other threads take and drop that lock for their own vm_bos:
 * under ThreadSanitizer this is where such a skip would race.
 */
static void run_rounds_checker_off(enum variant variant)
{
	gpuvm_debug_enable(false);
	run_rounds(variant, 0);
	gpuvm_debug_enable(true);
}

static void test_put_deferred_checker_off(void **state)
{
	run_rounds_checker_off(PUT_ONLY);
}

static void test_unlink_defer_checker_off(void **state)
{
	run_rounds_checker_off(WITH_UNLINK);
}

static void test_obtain_while_zombies_checker_off(void **state)
{
	run_rounds_checker_off(WITH_OBTAIN);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_put_deferred),
		harness_test(test_put_deferred_resv_protected),
		harness_test(test_unlink_defer),
		harness_test(test_unlink_defer_resv_protected),
		harness_test(test_obtain_while_zombies),
		harness_test(test_obtain_while_zombies_resv_protected),
		harness_test(test_put_deferred_checker_off),
		harness_test(test_unlink_defer_checker_off),
		harness_test(test_obtain_while_zombies_checker_off),
	};

	return harness_run("gpuvm/vm_bo-threads", tests, argc, argv);
}
