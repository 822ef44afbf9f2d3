// SPDX-License-Identifier: MIT
/*
 * dma_resv: the kernel's dma-buf-resv selftest cases (DR-1 .. DR-5, each
 * usage-parameterised one run for all four usages) and the extra cases
 * the semantics require: usage filtering, in-place replacement, capacity,
 * reservation reset, fault sweeps, the query helpers and the debug
 * checks.
 *
 * Lists and fences are freed one RCU grace period after they are dropped;
 * every test ends with an RCU barrier (resv_teardown) before the harness
 * counts live allocations.
 *
 * The checker's lock-class state is process wide. No test here waits on a
 * fence while holding a reservation lock, so the reservation class is not
 * "held across a fence wait" when test_signalling_resv_lock (last) takes
 * it inside a signalling section and expects exactly one warning.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gpuvm/testing.h>
#include "harness.h"
#include "dma_resv_internal.h"
#include "rcu_internal.h"

#define MS 1000000LL

#define KERNEL GPUVM_DMA_RESV_USAGE_KERNEL
#define WRITE GPUVM_DMA_RESV_USAGE_WRITE
#define READ GPUVM_DMA_RESV_USAGE_READ
#define BOOKKEEP GPUVM_DMA_RESV_USAGE_BOOKKEEP

static int resv_teardown(void **state)
{
	gpuvm_rcu_barrier();
	return harness_teardown(state);
}

#define resv_test(fn) \
	cmocka_unit_test_setup_teardown(fn, harness_setup, resv_teardown)

/* ---- helpers ------------------------------------------------------------ */

static const char *mock_name(struct gpuvm_dma_fence *f)
{
	return "mock";
}

static const struct gpuvm_dma_fence_ops mock_ops = {
	.get_driver_name = mock_name,
	.get_timeline_name = mock_name,
};

static struct gpuvm_dma_fence *alloc_fence(uint64_t context, uint64_t seqno)
{
	struct gpuvm_dma_fence *f = gpuvm_kzalloc(sizeof(*f), GPUVM_GFP_KERNEL);

	assert_non_null(f);
	gpuvm_dma_fence_init(f, &mock_ops, NULL, context, seqno);
	return f;
}

/* The spec's mock: context 0, seqno 0, signalling enabled. */
static struct gpuvm_dma_fence *mock_fence(void)
{
	struct gpuvm_dma_fence *f = alloc_fence(0, 0);

	gpuvm_dma_fence_enable_sw_signaling(f);
	return f;
}

static int refs(struct gpuvm_dma_fence *f)
{
	return __atomic_load_n(&f->refcount, __ATOMIC_RELAXED);
}

static unsigned int num_of(struct gpuvm_dma_resv *obj)
{
	return obj->fences ? obj->fences->num_fences : 0;
}

static unsigned int max_of(struct gpuvm_dma_resv *obj)
{
	return obj->fences ? obj->fences->max_fences : 0;
}

static struct gpuvm_dma_fence *entry_fence(struct gpuvm_dma_resv *obj,
					   unsigned int i)
{
	return (struct gpuvm_dma_fence *)(obj->fences->table[i] &
					  ~GPUVM_DMA_RESV_LIST_MASK);
}

static enum gpuvm_dma_resv_usage entry_usage(struct gpuvm_dma_resv *obj,
					     unsigned int i)
{
	return (enum gpuvm_dma_resv_usage)(obj->fences->table[i] &
					   GPUVM_DMA_RESV_LIST_MASK);
}

static void lock(struct gpuvm_dma_resv *obj)
{
	assert_int_equal(gpuvm_dma_resv_lock(obj, NULL), 0);
}

/* Lock, reserve @n, add @f with @usage, unlock. */
static void add_one(struct gpuvm_dma_resv *obj, struct gpuvm_dma_fence *f,
		    enum gpuvm_dma_resv_usage usage)
{
	lock(obj);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(obj, 1), 0);
	gpuvm_dma_resv_add_fence(obj, f, usage);
	gpuvm_dma_resv_unlock(obj);
}

static unsigned int count_locked(struct gpuvm_dma_resv *obj,
				 enum gpuvm_dma_resv_usage usage)
{
	struct gpuvm_dma_resv_iter cursor;
	struct gpuvm_dma_fence *f;
	unsigned int n = 0;

	lock(obj);
	gpuvm_dma_resv_for_each_fence(&cursor, obj, usage, f) {
		assert_true(gpuvm_dma_resv_iter_usage(&cursor) <= usage);
		n++;
	}
	gpuvm_dma_resv_unlock(obj);
	return n;
}

static unsigned int count_unlocked(struct gpuvm_dma_resv *obj,
				   enum gpuvm_dma_resv_usage usage)
{
	struct gpuvm_dma_resv_iter cursor;
	struct gpuvm_dma_fence *f;
	unsigned int n = 0;

	gpuvm_dma_resv_iter_begin(&cursor, obj, usage);
	gpuvm_dma_resv_for_each_fence_unlocked(&cursor, f) {
		if (gpuvm_dma_resv_iter_is_restarted(&cursor))
			n = 0;
		assert_true(gpuvm_dma_resv_iter_usage(&cursor) <= usage);
		assert_false(gpuvm_dma_fence_test_signaled_flag(f));
		n++;
	}
	gpuvm_dma_resv_iter_end(&cursor);
	return n;
}

static const enum gpuvm_dma_resv_usage all_usages[] = { KERNEL, WRITE, READ,
							BOOKKEEP };

/* ---- DR-1 .. DR-5 ------------------------------------------------------- */

/* DR-1 */
static void test_sanitycheck(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();
	struct gpuvm_dma_resv resv;

	gpuvm_dma_fence_signal(f);
	gpuvm_dma_fence_put(f);

	gpuvm_dma_resv_init(&resv);
	assert_int_equal(gpuvm_dma_resv_lock(&resv, NULL), 0);
	gpuvm_dma_resv_unlock(&resv);
	gpuvm_dma_resv_fini(&resv);
}

/* DR-2 */
static void dr_signaling(enum gpuvm_dma_resv_usage usage)
{
	struct gpuvm_dma_fence *f = mock_fence();
	struct gpuvm_dma_resv resv;

	gpuvm_dma_resv_init(&resv);
	lock(&resv);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 1), 0);
	gpuvm_dma_resv_add_fence(&resv, f, usage);
	assert_false(gpuvm_dma_resv_test_signaled(&resv, usage));
	gpuvm_dma_fence_signal(f);
	assert_true(gpuvm_dma_resv_test_signaled(&resv, usage));
	gpuvm_dma_resv_unlock(&resv);
	gpuvm_dma_resv_fini(&resv);
	gpuvm_dma_fence_put(f);
}

/* DR-3 */
static void dr_for_each(enum gpuvm_dma_resv_usage usage)
{
	struct gpuvm_dma_fence *f = mock_fence(), *fence;
	struct gpuvm_dma_resv_iter cursor;
	struct gpuvm_dma_resv resv;
	unsigned int n = 0;

	gpuvm_dma_resv_init(&resv);
	lock(&resv);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 1), 0);
	gpuvm_dma_resv_add_fence(&resv, f, usage);

	gpuvm_dma_resv_for_each_fence(&cursor, &resv, usage, fence) {
		assert_int_equal(n, 0);
		assert_ptr_equal(fence, f);
		assert_int_equal(gpuvm_dma_resv_iter_usage(&cursor), usage);
		assert_true(gpuvm_dma_resv_iter_is_restarted(&cursor));
		n++;
	}
	assert_int_equal(n, 1);

	gpuvm_dma_fence_signal(f);
	gpuvm_dma_resv_unlock(&resv);
	gpuvm_dma_resv_fini(&resv);
	gpuvm_dma_fence_put(f);
}

/* DR-4 */
static void dr_for_each_unlocked(enum gpuvm_dma_resv_usage usage)
{
	struct gpuvm_dma_fence *f = mock_fence(), *fence;
	struct gpuvm_dma_resv_iter cursor;
	struct gpuvm_dma_resv resv;
	unsigned int n = 0;

	gpuvm_dma_resv_init(&resv);
	add_one(&resv, f, usage);

	gpuvm_dma_resv_iter_begin(&cursor, &resv, usage);
	gpuvm_dma_resv_for_each_fence_unlocked(&cursor, fence) {
		assert_true(n < 2);
		assert_ptr_equal(fence, f);
		assert_true(gpuvm_dma_resv_iter_is_restarted(&cursor));
		assert_int_equal(gpuvm_dma_resv_iter_usage(&cursor), usage);
		/* The current fence is referenced by the cursor. */
		assert_int_equal(refs(f), 3);
		if (n == 0) {
			/* Invalidate the snapshot to force a restart. */
			cursor.fences =
				(struct gpuvm_dma_resv_list *)(uintptr_t)~0ul;
		}
		n++;
	}
	gpuvm_dma_resv_iter_end(&cursor);
	assert_int_equal(n, 2);
	assert_int_equal(refs(f), 2);

	gpuvm_dma_fence_signal(f);
	gpuvm_dma_resv_fini(&resv);
	gpuvm_dma_fence_put(f);
}

/* DR-5 */
static void dr_get_fences(enum gpuvm_dma_resv_usage usage)
{
	struct gpuvm_dma_fence *f = mock_fence(), **fences = NULL;
	struct gpuvm_dma_resv resv;
	unsigned int i, n = 0;

	gpuvm_dma_resv_init(&resv);
	add_one(&resv, f, usage);

	assert_int_equal(gpuvm_dma_resv_get_fences(&resv, usage, &n, &fences),
			 0);
	assert_int_equal(n, 1);
	assert_ptr_equal(fences[0], f);
	assert_int_equal(refs(f), 3);

	gpuvm_dma_fence_signal(f);
	for (i = 0; i < n; i++)
		gpuvm_dma_fence_put(fences[i]);
	gpuvm_kfree(fences);
	gpuvm_dma_resv_fini(&resv);
	assert_int_equal(refs(f), 1);
	gpuvm_dma_fence_put(f);
}

#define PER_USAGE(fn)                                  \
	static void test_##fn##_kernel(void **state)   \
	{                                              \
		dr_##fn(KERNEL);                       \
	}                                              \
	static void test_##fn##_write(void **state)    \
	{                                              \
		dr_##fn(WRITE);                        \
	}                                              \
	static void test_##fn##_read(void **state)     \
	{                                              \
		dr_##fn(READ);                         \
	}                                              \
	static void test_##fn##_bookkeep(void **state) \
	{                                              \
		dr_##fn(BOOKKEEP);                     \
	}

PER_USAGE(signaling)
PER_USAGE(for_each)
PER_USAGE(for_each_unlocked)
PER_USAGE(get_fences)

#define PER_USAGE_TESTS(fn)                                          \
	resv_test(test_##fn##_kernel), resv_test(test_##fn##_write), \
		resv_test(test_##fn##_read), resv_test(test_##fn##_bookkeep)

/* ---- usage filtering ---------------------------------------------------- */

static void test_usage_rw(void **state)
{
	assert_int_equal(gpuvm_dma_resv_usage_rw(true), READ);
	assert_int_equal(gpuvm_dma_resv_usage_rw(false), WRITE);
	assert_true(KERNEL < WRITE && WRITE < READ && READ < BOOKKEEP);
}

/* For every (fence usage, query usage) pair: visible iff fence <= query,
 * through every reader. */
static void test_usage_every_pair(void **state)
{
	unsigned int a, q;

	for (a = 0; a < 4; a++) {
		for (q = 0; q < 4; q++) {
			struct gpuvm_dma_fence *f = alloc_fence(1, 1), **arr;
			struct gpuvm_dma_resv resv;
			bool visible = all_usages[a] <= all_usages[q];
			unsigned int n, i;

			gpuvm_dma_resv_init(&resv);
			add_one(&resv, f, all_usages[a]);

			assert_int_equal(count_locked(&resv, all_usages[q]),
					 visible);
			assert_int_equal(count_unlocked(&resv, all_usages[q]),
					 visible);
			assert_int_equal(
				gpuvm_dma_resv_get_fences(&resv, all_usages[q],
							  &n, &arr),
				0);
			assert_int_equal(n, visible);
			for (i = 0; i < n; i++)
				gpuvm_dma_fence_put(arr[i]);
			gpuvm_kfree(arr);
			assert_int_equal(gpuvm_dma_resv_test_signaled(
						 &resv, all_usages[q]),
					 !visible);
			/* Zero timeout: one tick per visible fence. */
			assert_int_equal(
				gpuvm_dma_resv_wait_timeout(
					&resv, all_usages[q], false, 0),
				visible ? 0 : 1);

			gpuvm_dma_fence_signal(f);
			gpuvm_dma_resv_fini(&resv);
			gpuvm_dma_fence_put(f);
		}
	}
}

/* One fence per usage: query U sees exactly the fences of usage <= U. */
static void test_usage_matrix(void **state)
{
	struct gpuvm_dma_fence *f[4];
	struct gpuvm_dma_resv resv;
	unsigned int u, i;

	gpuvm_dma_resv_init(&resv);
	lock(&resv);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 4), 0);
	for (u = 0; u < 4; u++) {
		f[u] = alloc_fence(gpuvm_dma_fence_context_alloc(1), 1);
		gpuvm_dma_resv_add_fence(&resv, f[u], all_usages[u]);
	}
	gpuvm_dma_resv_unlock(&resv);

	for (u = 0; u < 4; u++) {
		struct gpuvm_dma_resv_iter cursor;
		struct gpuvm_dma_fence *fence;
		bool seen[4] = { false };

		assert_int_equal(count_locked(&resv, all_usages[u]), u + 1);
		assert_int_equal(count_unlocked(&resv, all_usages[u]), u + 1);

		gpuvm_dma_resv_iter_begin(&cursor, &resv, all_usages[u]);
		gpuvm_dma_resv_for_each_fence_unlocked(&cursor, fence) {
			for (i = 0; i < 4; i++)
				if (fence == f[i]) {
					assert_int_equal(
						gpuvm_dma_resv_iter_usage(
							&cursor),
						all_usages[i]);
					seen[i] = true;
				}
		}
		gpuvm_dma_resv_iter_end(&cursor);
		for (i = 0; i < 4; i++)
			assert_int_equal(seen[i], i <= u);
	}

	/* Signal the strongest: KERNEL queries are satisfied, others not. */
	gpuvm_dma_fence_signal(f[0]);
	assert_true(gpuvm_dma_resv_test_signaled(&resv, KERNEL));
	assert_false(gpuvm_dma_resv_test_signaled(&resv, WRITE));
	assert_int_equal(count_unlocked(&resv, BOOKKEEP), 3);
	/* The locked walk still returns the signaled one. */
	assert_int_equal(count_locked(&resv, BOOKKEEP), 4);

	for (u = 0; u < 4; u++) {
		gpuvm_dma_fence_signal(f[u]);
		gpuvm_dma_fence_put(f[u]);
	}
	assert_true(gpuvm_dma_resv_test_signaled(&resv, BOOKKEEP));
	gpuvm_dma_resv_fini(&resv);
}

/* ---- in-place replacement ----------------------------------------------- */

struct replace_env {
	struct gpuvm_dma_resv resv;
	uint64_t ctx;
};

static void replace_setup(struct replace_env *e)
{
	gpuvm_dma_resv_init(&e->resv);
	e->ctx = gpuvm_dma_fence_context_alloc(2);
	lock(&e->resv);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&e->resv, 4), 0);
}

static void replace_teardown(struct replace_env *e)
{
	gpuvm_dma_resv_unlock(&e->resv);
	gpuvm_dma_resv_fini(&e->resv);
}

static void signal_put(struct gpuvm_dma_fence *f)
{
	gpuvm_dma_fence_signal(f);
	gpuvm_dma_fence_put(f);
}

/* Re-adding the same fence with the same usage reuses its slot. */
static void test_replace_same_fence_reuses_slot(void **state)
{
	struct replace_env e;
	struct gpuvm_dma_fence *f;
	int i;

	replace_setup(&e);
	f = alloc_fence(e.ctx, 1);
	for (i = 0; i < 10; i++)
		gpuvm_dma_resv_add_fence(&e.resv, f, WRITE);
	assert_int_equal(num_of(&e.resv), 1);
	assert_int_equal(refs(f), 2);
	/* A stronger usage promotes it in place. */
	gpuvm_dma_resv_add_fence(&e.resv, f, KERNEL);
	assert_int_equal(num_of(&e.resv), 1);
	assert_int_equal(entry_usage(&e.resv, 0), KERNEL);
	assert_int_equal(refs(f), 2);
	replace_teardown(&e);
	signal_put(f);
}

/* Re-adding the same fence with a weaker usage appends: no demotion. */
static void test_replace_same_fence_no_demotion(void **state)
{
	struct replace_env e;
	struct gpuvm_dma_fence *f;

	replace_setup(&e);
	f = alloc_fence(e.ctx, 1);
	gpuvm_dma_resv_add_fence(&e.resv, f, WRITE);
	gpuvm_dma_resv_add_fence(&e.resv, f, READ);
	assert_int_equal(num_of(&e.resv), 2);
	assert_int_equal(entry_usage(&e.resv, 0), WRITE);
	assert_int_equal(entry_usage(&e.resv, 1), READ);
	assert_int_equal(refs(f), 3);
	replace_teardown(&e);
	assert_int_equal(refs(f), 1);
	signal_put(f);
}

/* A later fence of the same context replaces when its usage is equal or
 * stronger, and the replaced fence's reference is dropped. */
static void test_replace_later_same_context(void **state)
{
	struct replace_env e;
	struct gpuvm_dma_fence *f1, *f2, *f3;

	replace_setup(&e);
	f1 = alloc_fence(e.ctx, 1);
	f2 = alloc_fence(e.ctx, 2);
	f3 = alloc_fence(e.ctx, 3);

	gpuvm_dma_resv_add_fence(&e.resv, f1, READ);
	gpuvm_dma_resv_add_fence(&e.resv, f2, READ); /* equal usage */
	assert_int_equal(num_of(&e.resv), 1);
	assert_ptr_equal(entry_fence(&e.resv, 0), f2);
	assert_int_equal(refs(f1), 1);
	assert_int_equal(refs(f2), 2);

	gpuvm_dma_resv_add_fence(&e.resv, f3, WRITE); /* stronger usage */
	assert_int_equal(num_of(&e.resv), 1);
	assert_ptr_equal(entry_fence(&e.resv, 0), f3);
	assert_int_equal(entry_usage(&e.resv, 0), WRITE);
	assert_int_equal(refs(f2), 1);

	replace_teardown(&e);
	signal_put(f1);
	signal_put(f2);
	signal_put(f3);
}

/* A later fence with a weaker usage is appended; an earlier fence of the
 * same context never replaces a later one. */
static void test_replace_weaker_or_earlier_appends(void **state)
{
	struct replace_env e;
	struct gpuvm_dma_fence *f1, *f2, *f0;

	replace_setup(&e);
	f1 = alloc_fence(e.ctx, 1);
	f2 = alloc_fence(e.ctx, 2);
	f0 = alloc_fence(e.ctx, 0);

	gpuvm_dma_resv_add_fence(&e.resv, f1, WRITE);
	gpuvm_dma_resv_add_fence(&e.resv, f2, READ);
	assert_int_equal(num_of(&e.resv), 2);
	assert_ptr_equal(entry_fence(&e.resv, 0), f1);
	assert_ptr_equal(entry_fence(&e.resv, 1), f2);
	assert_int_equal(entry_usage(&e.resv, 1), READ);

	gpuvm_dma_resv_add_fence(&e.resv, f0, KERNEL);
	assert_int_equal(num_of(&e.resv), 3);
	assert_ptr_equal(entry_fence(&e.resv, 2), f0);
	assert_int_equal(refs(f1), 2);

	replace_teardown(&e);
	signal_put(f1);
	signal_put(f2);
	signal_put(f0);
}

/* A signaled entry is recycled by the next add, whatever its context;
 * an unsignaled entry of another context is never replaced. */
static void test_replace_signaled_recycled_other_context_kept(void **state)
{
	struct replace_env e;
	struct gpuvm_dma_fence *a, *b, *c, *d;

	replace_setup(&e);
	a = alloc_fence(e.ctx, 1);
	b = alloc_fence(e.ctx + 1, 1);
	c = alloc_fence(e.ctx + 1, 2);
	d = alloc_fence(gpuvm_dma_fence_context_alloc(1), 1);

	gpuvm_dma_resv_add_fence(&e.resv, a, BOOKKEEP);
	gpuvm_dma_resv_add_fence(&e.resv, b, KERNEL);
	/* Other context, unsignaled: appended. */
	gpuvm_dma_resv_add_fence(&e.resv, d, BOOKKEEP);
	assert_int_equal(num_of(&e.resv), 3);

	gpuvm_dma_fence_signal(a);
	/* c is later than b but weaker: it may only take a's signaled slot. */
	gpuvm_dma_resv_add_fence(&e.resv, c, READ);
	assert_int_equal(num_of(&e.resv), 3);
	assert_ptr_equal(entry_fence(&e.resv, 0), c);
	assert_int_equal(entry_usage(&e.resv, 0), READ);
	assert_ptr_equal(entry_fence(&e.resv, 1), b);
	assert_ptr_equal(entry_fence(&e.resv, 2), d);
	assert_int_equal(refs(a), 1);

	replace_teardown(&e);
	signal_put(a);
	signal_put(b);
	signal_put(c);
	signal_put(d);
}

static void test_replace_fences(void **state)
{
	struct replace_env e;
	struct gpuvm_dma_fence *a1, *a2, *b, *r;

	replace_setup(&e);
	a1 = alloc_fence(e.ctx, 1);
	a2 = alloc_fence(e.ctx, 0);
	b = alloc_fence(e.ctx + 1, 1);
	r = alloc_fence(gpuvm_dma_fence_context_alloc(1), 1);

	gpuvm_dma_resv_add_fence(&e.resv, a1, BOOKKEEP);
	gpuvm_dma_resv_add_fence(&e.resv, b, WRITE);
	gpuvm_dma_resv_add_fence(&e.resv, a2, BOOKKEEP); /* earlier: appended */
	gpuvm_dma_fence_signal(a2); /* signaled entries are replaced too */
	assert_int_equal(num_of(&e.resv), 3);

	gpuvm_dma_resv_replace_fences(&e.resv, e.ctx, r, KERNEL);
	assert_int_equal(num_of(&e.resv), 3);
	assert_ptr_equal(entry_fence(&e.resv, 0), r);
	assert_int_equal(entry_usage(&e.resv, 0), KERNEL);
	assert_ptr_equal(entry_fence(&e.resv, 1), b);
	assert_ptr_equal(entry_fence(&e.resv, 2), r);
	assert_int_equal(refs(r), 3);
	assert_int_equal(refs(a1), 1);
	assert_int_equal(refs(a2), 1);

	replace_teardown(&e);
	assert_int_equal(refs(r), 1);
	signal_put(a1);
	signal_put(a2);
	signal_put(b);
	signal_put(r);
}

/* ---- capacity ----------------------------------------------------------- */

static void test_capacity_rule(void **state)
{
	struct gpuvm_dma_resv resv;
	struct gpuvm_dma_resv_list *list;
	struct gpuvm_dma_fence *f[4];
	unsigned int i;

	gpuvm_dma_resv_init(&resv);
	lock(&resv);
	/* First reservation: at least 4, else the next power of two. */
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 1), 0);
	assert_int_equal(max_of(&resv), 4);
	assert_int_equal(num_of(&resv), 0);
	list = resv.fences;
	/* Room enough: nothing changes. */
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 4), 0);
	assert_ptr_equal(resv.fences, list);
	/* 0 counts as 1. */
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 0), 0);
	assert_ptr_equal(resv.fences, list);

	for (i = 0; i < 4; i++) {
		f[i] = alloc_fence(gpuvm_dma_fence_context_alloc(1), 1);
		gpuvm_dma_resv_add_fence(&resv, f[i], READ);
	}
	assert_int_equal(num_of(&resv), 4);
	/* Growth: max(used + n, 2 * capacity). */
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 1), 0);
	assert_int_equal(max_of(&resv), 8);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 4), 0);
	assert_int_equal(max_of(&resv), 8);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 9), 0);
	assert_int_equal(max_of(&resv), 16);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 30), 0);
	assert_int_equal(max_of(&resv), 34);
	assert_int_equal(num_of(&resv), 4);
	for (i = 0; i < 4; i++)
		assert_ptr_equal(entry_fence(&resv, i), f[i]);
	gpuvm_dma_resv_unlock(&resv);
	gpuvm_dma_resv_fini(&resv);

	/* A first request above 4 rounds up to a power of two. */
	gpuvm_dma_resv_init(&resv);
	lock(&resv);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 5), 0);
	assert_int_equal(max_of(&resv), 8);
	gpuvm_dma_resv_unlock(&resv);
	gpuvm_dma_resv_fini(&resv);

	for (i = 0; i < 4; i++)
		signal_put(f[i]);
}

/* Growth packs the unsignaled fences in order and drops the signaled. */
static void test_capacity_growth_packs(void **state)
{
	struct gpuvm_dma_resv resv;
	struct gpuvm_dma_fence *f[4];
	enum gpuvm_dma_resv_usage u[4] = { BOOKKEEP, KERNEL, READ, WRITE };
	unsigned int i;

	gpuvm_dma_resv_init(&resv);
	lock(&resv);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 4), 0);
	for (i = 0; i < 4; i++) {
		f[i] = alloc_fence(gpuvm_dma_fence_context_alloc(1), 1);
		gpuvm_dma_resv_add_fence(&resv, f[i], u[i]);
	}
	gpuvm_dma_fence_signal(f[1]);
	assert_int_equal(refs(f[1]), 2);

	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 1), 0);
	assert_int_equal(num_of(&resv), 3);
	assert_int_equal(max_of(&resv), 8);
	assert_ptr_equal(entry_fence(&resv, 0), f[0]);
	assert_int_equal(entry_usage(&resv, 0), BOOKKEEP);
	assert_ptr_equal(entry_fence(&resv, 1), f[2]);
	assert_int_equal(entry_usage(&resv, 1), READ);
	assert_ptr_equal(entry_fence(&resv, 2), f[3]);
	assert_int_equal(entry_usage(&resv, 2), WRITE);
	assert_int_equal(refs(f[1]), 1);
	assert_int_equal(refs(f[0]), 2);
	gpuvm_dma_resv_unlock(&resv);
	gpuvm_dma_resv_fini(&resv);
	for (i = 0; i < 4; i++) {
		assert_int_equal(refs(f[i]), 1);
		signal_put(f[i]);
	}
}

/* ---- reservation discipline (debug checks) ------------------------------ */

/* A reservation lasts one lock session: with the checker on, unlock drops
 * the unused slots and the next add without reserving warns and is
 * refused. */
static void test_reservation_reset_on_unlock(void **state)
{
	struct gpuvm_dma_resv resv;
	struct gpuvm_dma_fence *a = alloc_fence(1, 1);
	struct gpuvm_dma_fence *b = alloc_fence(2, 1);

	gpuvm_dma_resv_init(&resv);
	lock(&resv);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 2), 0);
	gpuvm_dma_resv_add_fence(&resv, a, WRITE);
	assert_int_equal(max_of(&resv), 4);
	gpuvm_dma_resv_unlock(&resv);
	assert_int_equal(max_of(&resv), 1);

	lock(&resv);
	gpuvm_dma_resv_add_fence(&resv, b, WRITE);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_RESV_NO_SLOT), 1);
	assert_int_equal(harness_warnings(NULL), 0);
	assert_int_equal(num_of(&resv), 1);
	assert_int_equal(refs(b), 1);
	/* Replacing in place needs no slot. */
	gpuvm_dma_resv_add_fence(&resv, a, WRITE);
	assert_int_equal(harness_warnings(NULL), 0);
	/* With a fresh reservation it works. */
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 1), 0);
	gpuvm_dma_resv_add_fence(&resv, b, WRITE);
	assert_int_equal(num_of(&resv), 2);
	gpuvm_dma_resv_unlock(&resv);

	gpuvm_dma_resv_fini(&resv);
	signal_put(a);
	signal_put(b);
}

/* With the checker off the kernel's release-build behaviour applies: the
 * unused slots survive the unlock. */
static void test_reservation_kept_without_debug(void **state)
{
	struct gpuvm_dma_resv resv;
	struct gpuvm_dma_fence *a = alloc_fence(1, 1);
	struct gpuvm_dma_fence *b = alloc_fence(2, 1);

	gpuvm_dma_resv_init(&resv);
	gpuvm_debug_enable(false);
	lock(&resv);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 2), 0);
	gpuvm_dma_resv_add_fence(&resv, a, WRITE);
	gpuvm_dma_resv_unlock(&resv);
	assert_int_equal(max_of(&resv), 4);
	lock(&resv);
	gpuvm_dma_resv_add_fence(&resv, b, WRITE);
	gpuvm_dma_resv_unlock(&resv);
	gpuvm_debug_enable(true);
	assert_int_equal(num_of(&resv), 2);
	assert_int_equal(harness_warnings(NULL), 0);

	gpuvm_dma_resv_fini(&resv);
	signal_put(a);
	signal_put(b);
}

/* Adding before any reservation warns and adds nothing. */
static void test_add_without_reserve(void **state)
{
	struct gpuvm_dma_resv resv;
	struct gpuvm_dma_fence *a = alloc_fence(1, 1);

	gpuvm_dma_resv_init(&resv);
	lock(&resv);
	gpuvm_dma_resv_add_fence(&resv, a, KERNEL);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_RESV_NO_SLOT), 1);
	assert_null(resv.fences);
	assert_int_equal(refs(a), 1);
	gpuvm_dma_resv_unlock(&resv);
	gpuvm_dma_resv_fini(&resv);
	signal_put(a);
}

/* Filling every reserved slot, then one more: warns, memory untouched. */
static void test_add_past_capacity(void **state)
{
	struct gpuvm_dma_resv resv;
	struct gpuvm_dma_fence *f[5];
	unsigned int i;

	gpuvm_dma_resv_init(&resv);
	lock(&resv);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 4), 0);
	for (i = 0; i < 5; i++) {
		f[i] = alloc_fence(gpuvm_dma_fence_context_alloc(1), 1);
		gpuvm_dma_resv_add_fence(&resv, f[i], READ);
	}
	assert_int_equal(harness_take_warnings(GPUVM_RULE_RESV_NO_SLOT), 1);
	assert_int_equal(num_of(&resv), 4);
	assert_int_equal(refs(f[4]), 1);
	gpuvm_dma_resv_unlock(&resv);
	gpuvm_dma_resv_fini(&resv);
	for (i = 0; i < 5; i++)
		signal_put(f[i]);
}

static void test_add_invalid(void **state)
{
	struct gpuvm_dma_resv resv;
	struct gpuvm_dma_fence *a = alloc_fence(1, 1);

	gpuvm_dma_resv_init(&resv);
	lock(&resv);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 1), 0);
	gpuvm_dma_resv_add_fence(&resv, NULL, READ);
	gpuvm_dma_resv_add_fence(&resv, a, (enum gpuvm_dma_resv_usage)4);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_RESV_INVALID), 2);
	assert_int_equal(num_of(&resv), 0);
	assert_int_equal(refs(a), 1);
	gpuvm_dma_resv_unlock(&resv);
	gpuvm_dma_resv_fini(&resv);
	signal_put(a);
}

/* Writer functions without the lock are reported by name. */
static void test_add_without_lock(void **state)
{
	struct gpuvm_dma_resv resv;

	gpuvm_dma_resv_init(&resv);
	lock(&resv);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 1), 0);
	gpuvm_dma_resv_unlock(&resv);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 1), 0);
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_LOCK_NOT_HELD),
			       "gpuvm_dma_resv_reserve_fences"));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD), 1);
	gpuvm_dma_resv_fini(&resv);
}

/* ---- fault sweeps ------------------------------------------------------- */

struct sweep_env {
	struct gpuvm_dma_resv resv, src;
	struct gpuvm_dma_resv_list *list;
	unsigned int num, max, n;
	struct gpuvm_dma_fence *f[4];
	int f_refs[4];
	unsigned int nf;
	int successes;
};

static void sweep_snapshot(struct sweep_env *e)
{
	unsigned int i;

	e->list = e->resv.fences;
	e->num = num_of(&e->resv);
	e->max = max_of(&e->resv);
	for (i = 0; i < e->nf; i++)
		e->f_refs[i] = refs(e->f[i]);
}

static void sweep_check_unchanged(struct sweep_env *e)
{
	unsigned int i;

	assert_ptr_equal(e->resv.fences, e->list);
	assert_int_equal(num_of(&e->resv), e->num);
	assert_int_equal(max_of(&e->resv), e->max);
	for (i = 0; i < e->nf; i++)
		assert_int_equal(refs(e->f[i]), e->f_refs[i]);
}

static int sweep_reserve_op(void *arg)
{
	struct sweep_env *e = arg;

	return gpuvm_dma_resv_reserve_fences(&e->resv, e->n);
}

static void sweep_enomem_unchanged(void *arg, unsigned long n, int ret)
{
	assert_int_equal(ret, -ENOMEM);
	sweep_check_unchanged(arg);
}

static void test_fault_reserve_fences(void **state)
{
	struct sweep_env e = { .n = 2 };
	unsigned int i;

	/* No list yet. */
	gpuvm_dma_resv_init(&e.resv);
	lock(&e.resv);
	sweep_snapshot(&e);
	assert_int_equal(gpuvm_alloc_fault_sweep(sweep_reserve_op,
						 sweep_enomem_unchanged, &e,
						 10),
			 1);
	assert_int_equal(max_of(&e.resv), 4);

	/* A full list that must grow. */
	e.nf = 4;
	for (i = 0; i < 4; i++) {
		e.f[i] = alloc_fence(gpuvm_dma_fence_context_alloc(1), 1);
		gpuvm_dma_resv_add_fence(&e.resv, e.f[i], WRITE);
	}
	gpuvm_dma_fence_signal(e.f[2]); /* would be dropped by the growth */
	e.n = 1;
	sweep_snapshot(&e);
	assert_int_equal(gpuvm_alloc_fault_sweep(sweep_reserve_op,
						 sweep_enomem_unchanged, &e,
						 10),
			 1);
	assert_int_equal(num_of(&e.resv), 3);
	assert_int_equal(max_of(&e.resv), 8);
	assert_int_equal(refs(e.f[2]), 1);

	/* Absurd requests fail cleanly too. */
	sweep_snapshot(&e);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&e.resv, 1u << 30),
			 -ENOMEM);
	sweep_check_unchanged(&e);

	gpuvm_dma_resv_unlock(&e.resv);
	gpuvm_dma_resv_fini(&e.resv);
	for (i = 0; i < 4; i++)
		signal_put(e.f[i]);
}

static int sweep_get_fences_op(void *arg)
{
	struct sweep_env *e = arg;
	struct gpuvm_dma_fence **fences = (void *)1;
	unsigned int n = 99, i;
	int ret;

	ret = gpuvm_dma_resv_get_fences(&e->resv, BOOKKEEP, &n, &fences);
	if (ret) {
		assert_int_equal(n, 0);
		assert_null(fences);
		return ret;
	}
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		assert_ptr_equal(fences[i], e->f[i < 2 ? i : 3]);
		gpuvm_dma_fence_put(fences[i]);
	}
	gpuvm_kfree(fences);
	e->successes++;
	return 0;
}

static void fill_src(struct sweep_env *e, struct gpuvm_dma_resv *obj)
{
	enum gpuvm_dma_resv_usage u[4] = { KERNEL, READ, WRITE, BOOKKEEP };
	unsigned int i;

	e->nf = 4;
	lock(obj);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(obj, 4), 0);
	for (i = 0; i < 4; i++) {
		e->f[i] = alloc_fence(gpuvm_dma_fence_context_alloc(1), 1);
		gpuvm_dma_resv_add_fence(obj, e->f[i], u[i]);
	}
	gpuvm_dma_fence_signal(e->f[2]);
	gpuvm_dma_resv_unlock(obj);
}

static void test_fault_get_fences(void **state)
{
	struct sweep_env e = { 0 };
	unsigned int i;

	gpuvm_dma_resv_init(&e.resv);
	fill_src(&e, &e.resv);
	sweep_snapshot(&e);
	assert_int_equal(gpuvm_alloc_fault_sweep(sweep_get_fences_op,
						 sweep_enomem_unchanged, &e,
						 10),
			 1);
	assert_int_equal(e.successes, 1);
	sweep_check_unchanged(&e);
	gpuvm_dma_resv_fini(&e.resv);
	for (i = 0; i < 4; i++)
		signal_put(e.f[i]);
}

static int sweep_copy_op(void *arg)
{
	struct sweep_env *e = arg;

	return gpuvm_dma_resv_copy_fences(&e->resv, &e->src);
}

static void test_fault_copy_fences(void **state)
{
	struct sweep_env e = { 0 };
	struct gpuvm_dma_fence *old = alloc_fence(1, 1);
	unsigned int i;

	gpuvm_dma_resv_init(&e.src);
	gpuvm_dma_resv_init(&e.resv);
	fill_src(&e, &e.src);
	add_one(&e.resv, old, KERNEL);

	lock(&e.resv);
	sweep_snapshot(&e);
	assert_int_equal(gpuvm_alloc_fault_sweep(
				 sweep_copy_op, sweep_enomem_unchanged, &e, 10),
			 1);
	/* dst now holds the three unsignaled fences of src, with usages. */
	assert_int_equal(num_of(&e.resv), 3);
	assert_ptr_equal(entry_fence(&e.resv, 0), e.f[0]);
	assert_int_equal(entry_usage(&e.resv, 0), KERNEL);
	assert_ptr_equal(entry_fence(&e.resv, 1), e.f[1]);
	assert_int_equal(entry_usage(&e.resv, 1), READ);
	assert_ptr_equal(entry_fence(&e.resv, 2), e.f[3]);
	assert_int_equal(entry_usage(&e.resv, 2), BOOKKEEP);
	assert_int_equal(refs(e.f[0]), 3);
	assert_int_equal(refs(e.f[2]), 2);
	assert_int_equal(refs(old), 1);
	gpuvm_dma_resv_unlock(&e.resv);

	gpuvm_dma_resv_fini(&e.resv);
	gpuvm_dma_resv_fini(&e.src);
	for (i = 0; i < 4; i++) {
		assert_int_equal(refs(e.f[i]), 1);
		signal_put(e.f[i]);
	}
	signal_put(old);
}

/* Copying from an object without unsignaled fences empties dst. */
static void test_copy_fences_empty_src(void **state)
{
	struct gpuvm_dma_resv src, dst;
	struct gpuvm_dma_fence *a = alloc_fence(1, 1), *b = alloc_fence(2, 1);

	gpuvm_dma_resv_init(&src);
	gpuvm_dma_resv_init(&dst);
	add_one(&src, a, WRITE);
	add_one(&dst, b, WRITE);
	gpuvm_dma_fence_signal(a);

	lock(&dst);
	assert_int_equal(gpuvm_dma_resv_copy_fences(&dst, &src), 0);
	assert_null(dst.fences);
	assert_int_equal(refs(b), 1);
	gpuvm_dma_resv_unlock(&dst);

	gpuvm_dma_resv_fini(&dst);
	gpuvm_dma_resv_fini(&src);
	signal_put(a);
	signal_put(b);
}

/* ---- get_singleton ------------------------------------------------------ */

static void test_get_singleton(void **state)
{
	struct gpuvm_dma_resv resv;
	struct gpuvm_dma_fence *f[3], *single = (void *)1;
	unsigned int i;

	gpuvm_dma_resv_init(&resv);
	assert_int_equal(gpuvm_dma_resv_get_singleton(&resv, BOOKKEEP, &single),
			 0);
	assert_null(single);

	f[0] = alloc_fence(gpuvm_dma_fence_context_alloc(1), 1);
	add_one(&resv, f[0], WRITE);
	assert_int_equal(gpuvm_dma_resv_get_singleton(&resv, READ, &single), 0);
	assert_ptr_equal(single, f[0]);
	assert_int_equal(refs(f[0]), 3);
	gpuvm_dma_fence_put(single);

	for (i = 1; i < 3; i++) {
		f[i] = alloc_fence(gpuvm_dma_fence_context_alloc(1), 1);
		add_one(&resv, f[i], READ);
	}
	assert_int_equal(gpuvm_dma_resv_get_singleton(&resv, READ, &single), 0);
	assert_non_null(single);
	for (i = 0; i < 3; i++) {
		assert_true(single != f[i]);
		assert_int_equal(refs(f[i]), 3);
	}
	assert_true(single->context != 0 && single->seqno == 1);

	/* Adding the container to a reservation object is reported. */
	lock(&resv);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 1), 0);
	gpuvm_dma_resv_add_fence(&resv, single, BOOKKEEP);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_RESV_CONTAINER), 1);
	gpuvm_dma_resv_unlock(&resv);

	/* Signals only once every member has, with the first error. */
	gpuvm_dma_fence_signal(f[1]);
	assert_false(gpuvm_dma_fence_is_signaled(single));
	gpuvm_dma_fence_set_error(f[0], -EIO);
	gpuvm_dma_fence_signal(f[0]);
	assert_false(gpuvm_dma_fence_is_signaled(single));
	assert_int_equal(gpuvm_dma_fence_wait_timeout(single, false, 0), 0);
	gpuvm_dma_fence_signal(f[2]);
	assert_true(gpuvm_dma_fence_test_signaled_flag(single));
	assert_int_equal(gpuvm_dma_fence_get_status(single), -EIO);
	assert_int_equal(gpuvm_dma_fence_wait_timeout(single, false, 0), 1);
	gpuvm_dma_fence_put(single);

	gpuvm_dma_resv_fini(&resv);
	for (i = 0; i < 3; i++) {
		assert_int_equal(refs(f[i]), 1);
		gpuvm_dma_fence_put(f[i]);
	}
}

/* A wait on the container returns once every member signaled. */
static void test_get_singleton_waiter_woken(void **state)
{
	struct gpuvm_dma_resv resv;
	struct gpuvm_dma_fence *f[2], *single;
	unsigned int i;

	gpuvm_dma_resv_init(&resv);
	lock(&resv);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 2), 0);
	for (i = 0; i < 2; i++) {
		f[i] = alloc_fence(gpuvm_dma_fence_context_alloc(1), 1);
		gpuvm_dma_resv_add_fence(&resv, f[i], KERNEL);
	}
	gpuvm_dma_resv_unlock(&resv);
	assert_int_equal(gpuvm_dma_resv_get_singleton(&resv, KERNEL, &single),
			 0);
	gpuvm_dma_fence_signal(f[0]);
	gpuvm_dma_fence_signal(f[1]);
	assert_int_equal(gpuvm_dma_fence_wait(single, false), 0);
	assert_int_equal(gpuvm_dma_fence_get_status(single), 1);
	gpuvm_dma_fence_put(single);
	gpuvm_dma_resv_fini(&resv);
	for (i = 0; i < 2; i++)
		gpuvm_dma_fence_put(f[i]);
}

static int sweep_singleton_op(void *arg)
{
	struct sweep_env *e = arg;
	struct gpuvm_dma_fence *single = (void *)1;
	int ret;

	ret = gpuvm_dma_resv_get_singleton(&e->resv, BOOKKEEP, &single);
	if (ret)
		return ret;
	assert_non_null(single);
	gpuvm_dma_fence_put(single);
	e->successes++;
	return 0;
}

static void test_fault_get_singleton(void **state)
{
	struct sweep_env e = { 0 };
	unsigned int i;

	gpuvm_dma_resv_init(&e.resv);
	fill_src(&e, &e.resv);
	sweep_snapshot(&e);
	/* The fence array and the container. */
	assert_int_equal(gpuvm_alloc_fault_sweep(sweep_singleton_op,
						 sweep_enomem_unchanged, &e,
						 10),
			 2);
	assert_int_equal(e.successes, 1);
	/* The container lives until its members signal, then lets go. */
	gpuvm_dma_fence_signal(e.f[0]);
	gpuvm_dma_fence_signal(e.f[1]);
	gpuvm_dma_fence_signal(e.f[3]);
	sweep_check_unchanged(&e);
	gpuvm_dma_resv_fini(&e.resv);
	for (i = 0; i < 4; i++)
		signal_put(e.f[i]);
}

/* ---- wait_timeout ------------------------------------------------------- */

struct fence_timer {
	pthread_t thread;
	struct gpuvm_dma_fence *fence;
	int64_t delay_ns;
};

static void *fence_timer_main(void *arg)
{
	struct fence_timer *t = arg;
	struct timespec ts = { 0, t->delay_ns };

	nanosleep(&ts, NULL);
	gpuvm_dma_fence_signal(t->fence);
	return NULL;
}

static void test_wait_timeout(void **state)
{
	struct gpuvm_dma_resv resv;
	struct gpuvm_dma_fence *a = alloc_fence(1, 1), *b = alloc_fence(2, 1);
	struct fence_timer timer = { .fence = b, .delay_ns = 5 * MS };
	int64_t ret;

	gpuvm_dma_resv_init(&resv);
	/* No fences: the whole budget is left. */
	assert_int_equal(
		gpuvm_dma_resv_wait_timeout(&resv, BOOKKEEP, false, 100 * MS),
		100 * MS);
	assert_int_equal(gpuvm_dma_resv_wait_timeout(&resv, BOOKKEEP, false, 0),
			 1);

	add_one(&resv, a, WRITE);
	add_one(&resv, b, READ);

	/* Unsignaled: time out, also with a zero timeout (one tick each). */
	assert_int_equal(
		gpuvm_dma_resv_wait_timeout(&resv, READ, false, 5 * MS), 0);
	assert_int_equal(gpuvm_dma_resv_wait_timeout(&resv, READ, false, 0), 0);

	/* Interrupted. */
	gpuvm_interrupt_thread(pthread_self());
	assert_int_equal(
		gpuvm_dma_resv_wait_timeout(&resv, READ, true, 1000 * MS),
		-EINTR);
	/* Uninterruptible ignores it. */
	gpuvm_interrupt_thread(pthread_self());
	assert_int_equal(
		gpuvm_dma_resv_wait_timeout(&resv, READ, false, 2 * MS), 0);
	gpuvm_interrupt_clear();

	/* Woken by the signals. */
	gpuvm_dma_fence_signal(a);
	assert_int_equal(gpuvm_dma_resv_wait_timeout(&resv, WRITE, false, 0),
			 1);
	assert_int_equal(
		pthread_create(&timer.thread, NULL, fence_timer_main, &timer),
		0);
	ret = gpuvm_dma_resv_wait_timeout(&resv, READ, true, 2000 * MS);
	pthread_join(timer.thread, NULL);
	assert_true(ret > 0 && ret <= 2000 * MS);
	assert_true(gpuvm_dma_resv_wait_timeout(&resv, BOOKKEEP, false,
						GPUVM_MAX_SCHEDULE_TIMEOUT) ==
		    GPUVM_MAX_SCHEDULE_TIMEOUT);
	assert_int_equal(gpuvm_dma_resv_wait_timeout(&resv, READ, false, 0), 1);

	assert_int_equal(gpuvm_dma_resv_wait_timeout(&resv, READ, false, -1),
			 -EINVAL);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_RESV_INVALID), 1);

	gpuvm_dma_resv_fini(&resv);
	gpuvm_dma_fence_put(a);
	gpuvm_dma_fence_put(b);
}

/* ---- set_deadline, describe, fini --------------------------------------- */

struct deadline_fence {
	struct gpuvm_dma_fence base;
	int calls;
	int64_t deadline;
};

static void record_deadline(struct gpuvm_dma_fence *f, int64_t deadline)
{
	struct deadline_fence *d = (struct deadline_fence *)f;

	d->calls++;
	d->deadline = deadline;
}

static const struct gpuvm_dma_fence_ops deadline_ops = {
	.get_driver_name = mock_name,
	.get_timeline_name = mock_name,
	.set_deadline = record_deadline,
};

static void test_set_deadline(void **state)
{
	struct gpuvm_dma_resv resv;
	struct deadline_fence *d[2];
	unsigned int i;

	gpuvm_dma_resv_init(&resv);
	for (i = 0; i < 2; i++) {
		d[i] = gpuvm_kzalloc(sizeof(*d[i]), GPUVM_GFP_KERNEL);
		assert_non_null(d[i]);
		gpuvm_dma_fence_init(&d[i]->base, &deadline_ops, NULL,
				     gpuvm_dma_fence_context_alloc(1), 1);
		add_one(&resv, &d[i]->base, i ? BOOKKEEP : WRITE);
	}
	gpuvm_dma_resv_set_deadline(&resv, READ, 555);
	assert_int_equal(d[0]->calls, 1);
	assert_int_equal(d[0]->deadline, 555);
	assert_int_equal(d[1]->calls, 0);
	gpuvm_dma_resv_fini(&resv);
	for (i = 0; i < 2; i++)
		signal_put(&d[i]->base);
}

static void test_describe(void **state)
{
	struct gpuvm_dma_resv resv;
	struct gpuvm_dma_fence *f[4];
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	unsigned int i;

	gpuvm_dma_resv_init(&resv);
	lock(&resv);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 4), 0);
	for (i = 0; i < 4; i++) {
		f[i] = alloc_fence(gpuvm_dma_fence_context_alloc(1), 10 + i);
		gpuvm_dma_resv_add_fence(&resv, f[i], all_usages[i]);
	}
	gpuvm_dma_fence_signal(f[1]);
	out = open_memstream(&buf, &len);
	assert_non_null(out);
	gpuvm_dma_resv_describe(&resv, out);
	fclose(out);
	/* Up to READ: the bookkeeping fence is not listed. */
	assert_string_equal(
		buf, "\tkernel fence: mock mock seq 10 unsignalled\n"
		     "\twrite fence: detached-driver signaled-timeline seq 11 "
		     "signalled\n"
		     "\tread fence: mock mock seq 12 unsignalled\n");
	free(buf);
	gpuvm_dma_resv_unlock(&resv);
	gpuvm_dma_resv_fini(&resv);
	for (i = 0; i < 4; i++)
		signal_put(f[i]);
}

/* fini drops the object's references; iteration of an empty object. */
static void test_fini_drops_references(void **state)
{
	struct gpuvm_dma_resv resv;
	struct gpuvm_dma_resv_iter cursor;
	struct gpuvm_dma_fence *a = alloc_fence(1, 1), *fence;

	gpuvm_dma_resv_init(&resv);
	lock(&resv);
	gpuvm_dma_resv_for_each_fence(&cursor, &resv, BOOKKEEP, fence)
		fail();
	gpuvm_dma_resv_unlock(&resv);
	gpuvm_dma_resv_iter_begin(&cursor, &resv, BOOKKEEP);
	gpuvm_dma_resv_for_each_fence_unlocked(&cursor, fence)
		fail();
	gpuvm_dma_resv_iter_end(&cursor);
	assert_true(gpuvm_dma_resv_test_signaled(&resv, BOOKKEEP));

	add_one(&resv, a, KERNEL);
	assert_int_equal(refs(a), 2);
	gpuvm_dma_resv_fini(&resv);
	assert_int_equal(refs(a), 1);
	signal_put(a);
}

/* Breaking out of an unlocked walk: iter_end drops the held reference. */
static void test_unlocked_break_and_end(void **state)
{
	struct gpuvm_dma_resv resv;
	struct gpuvm_dma_resv_iter cursor;
	struct gpuvm_dma_fence *a = alloc_fence(1, 1), *b = alloc_fence(2, 1);
	struct gpuvm_dma_fence *fence;

	gpuvm_dma_resv_init(&resv);
	add_one(&resv, a, KERNEL);
	add_one(&resv, b, KERNEL);
	gpuvm_dma_resv_iter_begin(&cursor, &resv, KERNEL);
	gpuvm_dma_resv_for_each_fence_unlocked(&cursor, fence) {
		assert_ptr_equal(fence, a);
		assert_int_equal(refs(a), 3);
		break;
	}
	gpuvm_dma_resv_iter_end(&cursor);
	assert_int_equal(refs(a), 2);
	assert_int_equal(refs(b), 2);

	/* A reallocation between two steps restarts the walk. */
	gpuvm_dma_resv_iter_begin(&cursor, &resv, KERNEL);
	fence = gpuvm_dma_resv_iter_first_unlocked(&cursor);
	assert_ptr_equal(fence, a);
	assert_true(gpuvm_dma_resv_iter_is_restarted(&cursor));
	lock(&resv);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 64), 0);
	gpuvm_dma_resv_unlock(&resv);
	fence = gpuvm_dma_resv_iter_next_unlocked(&cursor);
	assert_ptr_equal(fence, a);
	assert_true(gpuvm_dma_resv_iter_is_restarted(&cursor));
	fence = gpuvm_dma_resv_iter_next_unlocked(&cursor);
	assert_ptr_equal(fence, b);
	assert_false(gpuvm_dma_resv_iter_is_restarted(&cursor));
	assert_null(gpuvm_dma_resv_iter_next_unlocked(&cursor));
	gpuvm_dma_resv_iter_end(&cursor);

	gpuvm_dma_resv_fini(&resv);
	signal_put(a);
	signal_put(b);
}

/* ---- lock wrappers ------------------------------------------------------ */

static void test_lock_wrappers(void **state)
{
	struct gpuvm_dma_resv resv;
	struct gpuvm_ww_acquire_ctx ctx;

	gpuvm_dma_resv_init(&resv);
	assert_false(gpuvm_dma_resv_is_locked(&resv));
	assert_false(gpuvm_dma_resv_held(&resv));

	assert_true(gpuvm_dma_resv_trylock(&resv));
	assert_true(gpuvm_dma_resv_is_locked(&resv));
	assert_true(gpuvm_dma_resv_held(&resv));
	assert_null(gpuvm_dma_resv_locking_ctx(&resv));
	gpuvm_dma_resv_assert_held(&resv);
	assert_int_equal(harness_warnings(NULL), 0);
	gpuvm_dma_resv_unlock(&resv);
	assert_false(gpuvm_dma_resv_is_locked(&resv));

	gpuvm_ww_acquire_init(&ctx, &gpuvm_reservation_ww_class);
	assert_int_equal(gpuvm_dma_resv_lock_interruptible(&resv, &ctx), 0);
	assert_ptr_equal(gpuvm_dma_resv_locking_ctx(&resv), &ctx);
	assert_int_equal(gpuvm_dma_resv_lock(&resv, &ctx), -EALREADY);
	gpuvm_ww_acquire_done(&ctx);
	gpuvm_dma_resv_unlock(&resv);
	assert_null(gpuvm_dma_resv_locking_ctx(&resv));
	gpuvm_ww_acquire_fini(&ctx);

	/* Not held: reported, naming the asserting function. */
	gpuvm_dma_resv_assert_held(&resv);
	assert_int_equal(harness_warnings(GPUVM_RULE_LOCK_NOT_HELD), 1);
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_LOCK_NOT_HELD),
			       "test_lock_wrappers"));
	harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD);
	gpuvm_dma_resv_fini(&resv);
}

/* A guard whose lock failed (a reported relock) holds nothing: its unlock
 * must not release the caller's earlier hold. */
static void test_guard_relock_holds_nothing(void **state)
{
	struct gpuvm_dma_resv resv;
	struct gpuvm_dma_resv_guard g;

	gpuvm_dma_resv_init(&resv);
	assert_int_equal(gpuvm_dma_resv_lock(&resv, NULL), 0);
	g = gpuvm_dma_resv_guard_lock(&resv);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_RECURSIVE_LOCK), 1);
	assert_null(g.resv);
	gpuvm_dma_resv_guard_unlock(&g);
	assert_true(gpuvm_dma_resv_is_locked(&resv));
	gpuvm_dma_resv_assert_held(&resv);
	{
		gpuvm_dma_resv_guard_scoped(sg, &resv);
	}
	assert_int_equal(harness_take_warnings(GPUVM_RULE_RECURSIVE_LOCK), 1);
	assert_true(gpuvm_dma_resv_is_locked(&resv));
	gpuvm_dma_resv_assert_held(&resv);
	gpuvm_dma_resv_unlock(&resv);
	assert_false(gpuvm_dma_resv_is_locked(&resv));

	/* A guard that did lock still unlocks. */
	g = gpuvm_dma_resv_guard_lock(&resv);
	assert_ptr_equal(g.resv, &resv);
	assert_true(gpuvm_dma_resv_is_locked(&resv));
	gpuvm_dma_resv_guard_unlock(&g);
	assert_false(gpuvm_dma_resv_is_locked(&resv));
	assert_int_equal(harness_warnings(NULL), 0);
	gpuvm_dma_resv_fini(&resv);
}

/* Debug check: a reservation lock taken inside a fence signalling section
 * (signalling must never need one). Keep it last: see the file comment. */
static void test_signalling_resv_lock(void **state)
{
	struct gpuvm_dma_resv resv;
	bool cookie;

	gpuvm_dma_resv_init(&resv);
	cookie = gpuvm_dma_fence_begin_signalling();
	assert_int_equal(gpuvm_dma_resv_lock(&resv, NULL), 0);
	gpuvm_dma_resv_unlock(&resv);
	gpuvm_dma_fence_end_signalling(cookie);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_SIGNALLING_RESV), 1);
	assert_int_equal(harness_warnings(NULL), 0);
	gpuvm_dma_resv_fini(&resv);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		resv_test(test_sanitycheck),
		PER_USAGE_TESTS(signaling),
		PER_USAGE_TESTS(for_each),
		PER_USAGE_TESTS(for_each_unlocked),
		PER_USAGE_TESTS(get_fences),
		resv_test(test_usage_rw),
		resv_test(test_usage_every_pair),
		resv_test(test_usage_matrix),
		resv_test(test_replace_same_fence_reuses_slot),
		resv_test(test_replace_same_fence_no_demotion),
		resv_test(test_replace_later_same_context),
		resv_test(test_replace_weaker_or_earlier_appends),
		resv_test(test_replace_signaled_recycled_other_context_kept),
		resv_test(test_replace_fences),
		resv_test(test_capacity_rule),
		resv_test(test_capacity_growth_packs),
		resv_test(test_reservation_reset_on_unlock),
		resv_test(test_reservation_kept_without_debug),
		resv_test(test_add_without_reserve),
		resv_test(test_add_past_capacity),
		resv_test(test_add_invalid),
		resv_test(test_add_without_lock),
		resv_test(test_fault_reserve_fences),
		resv_test(test_fault_get_fences),
		resv_test(test_fault_copy_fences),
		resv_test(test_copy_fences_empty_src),
		resv_test(test_get_singleton),
		resv_test(test_get_singleton_waiter_woken),
		resv_test(test_fault_get_singleton),
		resv_test(test_wait_timeout),
		resv_test(test_set_deadline),
		resv_test(test_describe),
		resv_test(test_fini_drops_references),
		resv_test(test_unlocked_break_and_end),
		resv_test(test_lock_wrappers),
		resv_test(test_guard_relock_holds_nothing),
		resv_test(test_signalling_resv_lock),
	};

	return harness_run("gpuvm/dma_resv", tests, argc, argv);
}
