// SPDX-License-Identifier: MIT
#include <pthread.h>
#include <string.h>

#include <gpuvm/testing.h>
#include "harness.h"
#include "alloc_internal.h"
#include "internal.h"

static void test_alloc_live_counter(void **state)
{
	long base = gpuvm_alloc_live();
	void *a = gpuvm_kmalloc(16, GPUVM_GFP_KERNEL);
	void *b = gpuvm_kcalloc(4, 8, GPUVM_GFP_KERNEL);

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(gpuvm_alloc_live(), base + 2);
	gpuvm_kfree(a);
	gpuvm_kfree(NULL);
	assert_int_equal(gpuvm_alloc_live(), base + 1);
	gpuvm_kfree(b);
	assert_int_equal(gpuvm_alloc_live(), base);
}

/*
 * With the checker off, allocations take the fast path and freed small
 * blocks go to a per-thread cache. Counting, zeroing and fault injection
 * must be exactly as with the checker on.
 */
static void test_alloc_checker_off(void **state)
{
	unsigned char zero[200] = { 0 };
	long base;
	void *p[8];
	unsigned int i;

	gpuvm_debug_enable(false);
	base = gpuvm_alloc_live();
	for (i = 0; i < 8; i++) {
		p[i] = gpuvm_kmalloc(24 * (i + 1), GPUVM_GFP_KERNEL);
		assert_non_null(p[i]);
		memset(p[i], 0xa5, 24 * (i + 1));
	}
	assert_int_equal(gpuvm_alloc_live(), base + 8);
	for (i = 0; i < 8; i++)
		gpuvm_kfree(p[i]);
	assert_int_equal(gpuvm_alloc_live(), base);
	/* Cached blocks come back zeroed when asked for, at any size. */
	for (i = 0; i < 8; i++) {
		p[i] = gpuvm_kzalloc(24 * (i + 1), GPUVM_GFP_KERNEL);
		assert_non_null(p[i]);
		assert_memory_equal(p[i], zero, 24 * (i + 1));
	}
	assert_int_equal(gpuvm_alloc_live(), base + 8);
	for (i = 0; i < 8; i++)
		gpuvm_kfree(p[i]);
	/* An armed fault fires with the checker off too. */
	gpuvm_alloc_fail_nth(2);
	p[0] = gpuvm_kmalloc(32, GPUVM_GFP_KERNEL);
	assert_non_null(p[0]);
	assert_null(gpuvm_kmalloc(32, GPUVM_GFP_KERNEL));
	assert_true(gpuvm_alloc_fault_fired());
	p[1] = gpuvm_kmalloc(32, GPUVM_GFP_KERNEL);
	assert_non_null(p[1]);
	gpuvm_kfree(p[0]);
	gpuvm_kfree(p[1]);
	assert_int_equal(gpuvm_alloc_live(), base);
	gpuvm_debug_enable(true);
}

/*
 * A sized free keeps a small block for the next allocation of its class
 * on the same thread (checker off); with the checker on it is an ordinary
 * free, and a size larger than the block is reported.
 */
static void test_alloc_sized_free(void **state)
{
	long base;
	void *p, *q;

	gpuvm_debug_enable(false);
	base = gpuvm_alloc_live();
	p = gpuvm_kmalloc(40, GPUVM_GFP_KERNEL);
	assert_non_null(p);
	gpuvm_kfree_sized__(p, 40);
	assert_int_equal(gpuvm_alloc_live(), base);
	q = gpuvm_kzalloc(33, GPUVM_GFP_KERNEL); /* same 48-byte class */
	if (gpuvm_alloc_cache_built__())
		assert_ptr_equal(q, p);
	assert_int_equal(gpuvm_alloc_live(), base + 1);
	gpuvm_kfree_sized__(q, 33);
	q = gpuvm_kmalloc(49, GPUVM_GFP_KERNEL); /* the next class */
	if (gpuvm_alloc_cache_built__())
		assert_ptr_not_equal(q, p);
	gpuvm_kfree(q);
	assert_int_equal(gpuvm_alloc_live(), base);
	gpuvm_debug_enable(true);

	p = gpuvm_kmalloc(40, GPUVM_GFP_KERNEL);
	assert_non_null(p);
	gpuvm_kfree_sized__(p, 4000);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_CHECKER), 1);
	assert_int_equal(gpuvm_alloc_live(), base);
}

/*
 * Four threads allocate small blocks of every class through the inline
 * fast path, fill them, and free half themselves and half on the next
 * thread (a block cached by a thread that did not allocate it). Every
 * block must keep its contents until freed, and the count must add up.
 */
#define SHUFFLE_THREADS 4
#define SHUFFLE_ROUNDS 2000
#define SHUFFLE_BLOCKS 32

struct shuffle {
	pthread_mutex_t lock;
	void *handed[SHUFFLE_THREADS][SHUFFLE_BLOCKS];
	size_t handed_size[SHUFFLE_THREADS][SHUFFLE_BLOCKS];
	unsigned int nr_handed[SHUFFLE_THREADS];
	bool corrupt;
};

struct shuffle_thread {
	struct shuffle *sh;
	unsigned int id;
};

static void *shuffle_main(void *arg)
{
	struct shuffle_thread *t = arg;
	struct shuffle *sh = t->sh;
	unsigned int next = (t->id + 1) % SHUFFLE_THREADS;
	uint64_t rnd = 0x9e3779b97f4a7c15ull * (t->id + 1);
	unsigned int round, i;

	for (round = 0; round < SHUFFLE_ROUNDS; round++) {
		void *mine[SHUFFLE_BLOCKS];
		size_t size[SHUFFLE_BLOCKS];

		for (i = 0; i < SHUFFLE_BLOCKS; i++) {
			rnd = rnd * 6364136223846793005ull + 1;
			size[i] = 1 + (rnd >> 33) % 256;
			mine[i] = gpuvm_kmalloc_small__(size[i],
							GPUVM_GFP_KERNEL);
			assert_non_null(mine[i]);
			memset(mine[i], (int)(t->id + 1), size[i]);
		}
		pthread_mutex_lock(&sh->lock);
		/* Free what the previous thread handed over, after checking it
		 * still holds that thread's pattern. */
		for (i = 0; i < sh->nr_handed[t->id]; i++) {
			unsigned char *b = sh->handed[t->id][i];
			unsigned int from =
				(t->id + SHUFFLE_THREADS - 1) % SHUFFLE_THREADS;
			size_t k;

			for (k = 0; k < sh->handed_size[t->id][i]; k++)
				if (b[k] != from + 1)
					sh->corrupt = true;
			gpuvm_kfree_sized__(b, sh->handed_size[t->id][i]);
		}
		sh->nr_handed[t->id] = 0;
		/* Hand half to the next thread, if it has room. */
		for (i = 0; i < SHUFFLE_BLOCKS / 2 &&
			    sh->nr_handed[next] < SHUFFLE_BLOCKS;
		     i++) {
			unsigned int n = sh->nr_handed[next]++;

			sh->handed[next][n] = mine[i];
			sh->handed_size[next][n] = size[i];
			mine[i] = NULL;
		}
		pthread_mutex_unlock(&sh->lock);
		for (i = 0; i < SHUFFLE_BLOCKS; i++) {
			unsigned char *b = mine[i];
			size_t k;

			if (!b)
				continue;
			for (k = 0; k < size[i]; k++)
				if (b[k] != t->id + 1)
					sh->corrupt = true;
			gpuvm_kfree_sized__(b, size[i]);
		}
	}
	return NULL;
}

static void test_alloc_cache_across_threads(void **state)
{
	struct shuffle *sh = calloc(1, sizeof(*sh));
	struct shuffle_thread t[SHUFFLE_THREADS];
	pthread_t tid[SHUFFLE_THREADS];
	unsigned int i, k;
	long base;

	assert_non_null(sh);
	pthread_mutex_init(&sh->lock, NULL);
	gpuvm_debug_enable(false);
	base = gpuvm_alloc_live();
	for (i = 0; i < SHUFFLE_THREADS; i++) {
		t[i] = (struct shuffle_thread){ sh, i };
		assert_int_equal(
			pthread_create(&tid[i], NULL, shuffle_main, &t[i]), 0);
	}
	for (i = 0; i < SHUFFLE_THREADS; i++)
		assert_int_equal(pthread_join(tid[i], NULL), 0);
	for (i = 0; i < SHUFFLE_THREADS; i++)
		for (k = 0; k < sh->nr_handed[i]; k++)
			gpuvm_kfree_sized__(sh->handed[i][k],
					    sh->handed_size[i][k]);
	assert_false(sh->corrupt);
	assert_int_equal(gpuvm_alloc_live(), base);
	gpuvm_debug_enable(true);
	pthread_mutex_destroy(&sh->lock);
	free(sh);
}

struct cross_free {
	void *blocks[64];
	long live_in_thread;
};

static void *free_elsewhere(void *arg)
{
	struct cross_free *cf = arg;
	unsigned int i;

	for (i = 0; i < 64; i++)
		gpuvm_kfree(cf->blocks[i]);
	/* Allocate some and exit holding them: the count keeps them. */
	cf->blocks[0] = gpuvm_kmalloc(40, GPUVM_GFP_KERNEL);
	cf->blocks[1] = gpuvm_kmalloc(400, GPUVM_GFP_KERNEL);
	cf->live_in_thread = gpuvm_alloc_live();
	return NULL;
}

/*
 * The live count is kept per thread: blocks allocated on one thread and
 * freed on another, and threads that exit, must still add up.
 */
static void test_alloc_live_counter_across_threads(void **state)
{
	struct cross_free cf;
	bool checker;
	long base;
	pthread_t t;
	unsigned int i;

	for (checker = false;; checker = true) {
		gpuvm_debug_enable(checker);
		base = gpuvm_alloc_live();
		for (i = 0; i < 64; i++) {
			cf.blocks[i] =
				gpuvm_kmalloc(8 + i * 8, GPUVM_GFP_KERNEL);
			assert_non_null(cf.blocks[i]);
		}
		assert_int_equal(gpuvm_alloc_live(), base + 64);
		assert_int_equal(pthread_create(&t, NULL, free_elsewhere, &cf),
				 0);
		assert_int_equal(pthread_join(t, NULL), 0);
		assert_int_equal(cf.live_in_thread, base + 2);
		assert_int_equal(gpuvm_alloc_live(), base + 2);
		gpuvm_kfree(cf.blocks[0]);
		gpuvm_kfree(cf.blocks[1]);
		assert_int_equal(gpuvm_alloc_live(), base);
		if (checker)
			break;
	}
}

static void test_alloc_zeroed(void **state)
{
	unsigned char *p = gpuvm_kzalloc(256, GPUVM_GFP_KERNEL);
	unsigned char zero[256] = { 0 };

	assert_non_null(p);
	assert_memory_equal(p, zero, sizeof(zero));
	gpuvm_kfree(p);
}

static void test_alloc_array_overflow(void **state)
{
	assert_null(gpuvm_kmalloc_array(SIZE_MAX / 2, 3, GPUVM_GFP_KERNEL));
	assert_null(gpuvm_krealloc_array(NULL, SIZE_MAX, 2, GPUVM_GFP_KERNEL));
}

static void test_alloc_fail_nth_exactly_one(void **state)
{
	void *p[5];
	int i;

	gpuvm_alloc_fail_nth(3);
	for (i = 0; i < 5; i++)
		p[i] = gpuvm_kmalloc(8, GPUVM_GFP_KERNEL);
	assert_non_null(p[0]);
	assert_non_null(p[1]);
	assert_null(p[2]);
	assert_non_null(p[3]);
	assert_non_null(p[4]);
	assert_true(gpuvm_alloc_fault_fired());
	for (i = 0; i < 5; i++)
		gpuvm_kfree(p[i]);
}

static void test_alloc_fail_nth_disarm(void **state)
{
	void *p;

	gpuvm_alloc_fail_nth(1);
	gpuvm_alloc_fail_nth(0);
	p = gpuvm_kmalloc(8, GPUVM_GFP_KERNEL);
	assert_non_null(p);
	assert_false(gpuvm_alloc_fault_fired());
	gpuvm_kfree(p);
}

static void test_alloc_realloc_failure_keeps_old(void **state)
{
	long base = gpuvm_alloc_live();
	char *p = gpuvm_kmalloc_array(4, 1, GPUVM_GFP_KERNEL), *q;

	assert_non_null(p);
	memcpy(p, "abc", 4);
	gpuvm_alloc_fail_nth(1);
	q = gpuvm_krealloc_array(p, 1024, 1, GPUVM_GFP_KERNEL);
	assert_null(q);
	assert_string_equal(p, "abc");
	q = gpuvm_krealloc_array(p, 1024, 1, GPUVM_GFP_KERNEL);
	assert_non_null(q);
	assert_string_equal(q, "abc");
	assert_int_equal(gpuvm_alloc_live(), base + 1);
	gpuvm_kfree(q);
}

/* An operation with three allocations that undoes itself on failure. */
struct sweep_state {
	void *objs[3];
	unsigned long checks;
};

static int three_allocations(void *arg)
{
	struct sweep_state *s = arg;
	int i;

	for (i = 0; i < 3; i++) {
		s->objs[i] = gpuvm_kmalloc(32, GPUVM_GFP_KERNEL);
		if (!s->objs[i]) {
			while (i--)
				gpuvm_kfree(s->objs[i]);
			return -ENOMEM;
		}
	}
	return 0;
}

static void sweep_check(void *arg, unsigned long n, int ret)
{
	struct sweep_state *s = arg;

	s->checks++;
	assert_int_equal(ret, -ENOMEM);
	assert_int_equal(n, s->checks);
}

static void test_alloc_fault_sweep(void **state)
{
	struct sweep_state s = { 0 };
	long base = gpuvm_alloc_live();
	int i;

	assert_int_equal(
		gpuvm_alloc_fault_sweep(three_allocations, sweep_check, &s, 0),
		3);
	assert_int_equal(s.checks, 3);
	assert_int_equal(gpuvm_alloc_live(), base + 3);
	for (i = 0; i < 3; i++)
		gpuvm_kfree(s.objs[i]);
}

static void test_alloc_fault_sweep_limit(void **state)
{
	struct sweep_state s = { 0 };

	assert_int_equal(
		gpuvm_alloc_fault_sweep(three_allocations, sweep_check, &s, 2),
		-E2BIG);
	assert_int_equal(s.checks, 2);
}

static void test_alloc_in_signalling_section(void **state)
{
	bool cookie = gpuvm_dma_fence_begin_signalling();
	void *blocking = gpuvm_kmalloc(8, GPUVM_GFP_KERNEL);
	void *atomic = gpuvm_kmalloc(8, GPUVM_GFP_NOWAIT);

	gpuvm_dma_fence_end_signalling(cookie);
	assert_non_null(
		strstr(harness_last_warning(GPUVM_RULE_SIGNALLING_ALLOC),
		       "gpuvm_kmalloc"));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_SIGNALLING_ALLOC), 1);
	gpuvm_kfree(blocking);
	gpuvm_kfree(atomic);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_alloc_live_counter),
		harness_test(test_alloc_checker_off),
		harness_test(test_alloc_sized_free),
		harness_test(test_alloc_cache_across_threads),
		harness_test(test_alloc_live_counter_across_threads),
		harness_test(test_alloc_zeroed),
		harness_test(test_alloc_array_overflow),
		harness_test(test_alloc_fail_nth_exactly_one),
		harness_test(test_alloc_fail_nth_disarm),
		harness_test(test_alloc_realloc_failure_keeps_old),
		harness_test(test_alloc_fault_sweep),
		harness_test(test_alloc_fault_sweep_limit),
		harness_test(test_alloc_in_signalling_section),
	};

	return harness_run("gpuvm/alloc", tests, argc, argv);
}
