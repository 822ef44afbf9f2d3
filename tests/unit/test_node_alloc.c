// SPDX-License-Identifier: MIT
/*
 * The VA index's node allocator (src/node_alloc.c): alignment, counting,
 * zeroing, fault injection and poisoning like gpuvm_kmalloc(), reuse of
 * freed nodes on the same thread, through the shared magazines, and of
 * what an exited thread had cached.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/testing.h>
#include "harness.h"
#include "internal.h"
#include "node_alloc.h"

/* More than two full per-thread lists: frees reach the shared stack. */
#define MANY 1000

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

static bool in_set(void *const *sorted, size_t n, void *p)
{
	return bsearch(&p, sorted, n, sizeof(p), cmp_ptr) != NULL;
}

static void test_node_alloc_basic(void **state)
{
	unsigned char zero[GPUVM_NODE_BYTES] = { 0 };
	long base = gpuvm_alloc_live();
	void *a, *b;

	gpuvm_debug_enable(false);
	a = gpuvm_node_alloc__(GPUVM_GFP_KERNEL);
	b = gpuvm_node_alloc__(GPUVM_GFP_KERNEL);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	/* Whole cache lines, so that two nodes never share one. */
	if (gpuvm_alloc_cache_built__()) {
		assert_int_equal((uintptr_t)a % 64, 0);
		assert_int_equal((uintptr_t)b % 64, 0);
	}
	memset(a, 0x5a, GPUVM_NODE_BYTES);
	memset(b, 0x5a, GPUVM_NODE_BYTES);
	assert_int_equal(gpuvm_alloc_live(), base + 2);
	gpuvm_node_free__(a);
	gpuvm_node_free__(NULL);
	assert_int_equal(gpuvm_alloc_live(), base + 1);
	/* A dirty node comes back zeroed when asked for. */
	a = gpuvm_node_alloc__(GPUVM_GFP_KERNEL | GPUVM_GFP_ZERO);
	assert_non_null(a);
	assert_memory_equal(a, zero, GPUVM_NODE_BYTES);
	gpuvm_node_free__(a);
	gpuvm_node_free__(b);
	assert_int_equal(gpuvm_alloc_live(), base);
	gpuvm_debug_enable(true);
}

/* An armed fault fails exactly the nth allocation, node or not, and
 * leaves the count alone; with the checker off too. */
static void test_node_alloc_fault(void **state)
{
	long base = gpuvm_alloc_live();
	void *a, *b;
	int checker;

	for (checker = 0; checker < 2; checker++) {
		gpuvm_debug_enable(checker);
		gpuvm_alloc_fail_nth(2);
		a = gpuvm_node_alloc__(GPUVM_GFP_KERNEL);
		assert_non_null(a);
		assert_false(gpuvm_alloc_fault_fired());
		assert_null(gpuvm_node_alloc__(GPUVM_GFP_KERNEL));
		assert_true(gpuvm_alloc_fault_fired());
		assert_int_equal(gpuvm_alloc_live(), base + 1);
		b = gpuvm_node_alloc__(GPUVM_GFP_KERNEL);
		assert_non_null(b);
		gpuvm_node_free__(a);
		gpuvm_node_free__(b);
		assert_int_equal(gpuvm_alloc_live(), base);
	}
	gpuvm_alloc_fail_nth(0);
	gpuvm_debug_enable(true);
}

/* A node allocation is one that may sleep: inside a fence signalling
 * section the checker reports it, as for gpuvm_kmalloc(). */
static void test_node_alloc_might_sleep(void **state)
{
	bool cookie = gpuvm_dma_fence_begin_signalling();
	void *a = gpuvm_node_alloc__(GPUVM_GFP_KERNEL);
	void *b = gpuvm_node_alloc__(GPUVM_GFP_NOWAIT);

	gpuvm_dma_fence_end_signalling(cookie);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_SIGNALLING_ALLOC), 1);
	gpuvm_node_free__(a);
	gpuvm_node_free__(b);
}

/* With the checker on, a freed node reads the free poison past the words
 * the free lists use. */
static void test_node_alloc_poison(void **state)
{
	const size_t links = 32; /* the free lists' words, and more */
	unsigned char poison[GPUVM_NODE_BYTES];
	void *a;

	gpuvm_debug_enable(true);
	a = gpuvm_node_alloc__(GPUVM_GFP_KERNEL | GPUVM_GFP_ZERO);
	assert_non_null(a);
	gpuvm_node_free__(a);
	memset(poison, GPUVM_POISON_FREE, sizeof(poison));
	if (gpuvm_alloc_cache_built__()) /* else the block went to free() */
		assert_memory_equal((char *)a + links, poison,
				    GPUVM_NODE_BYTES - links);
}

/*
 * Freed nodes come back before any new memory: on the same thread most
 * recent first, and beyond the thread's two lists through the shared
 * stack. Every node of a second round is one of the first round's.
 */
static void test_node_alloc_reuse(void **state)
{
	static void *first[MANY], *second[MANY];
	long base = gpuvm_alloc_live();
	unsigned int i;

	gpuvm_debug_enable(false);
	for (i = 0; i < MANY; i++) {
		first[i] = gpuvm_node_alloc__(GPUVM_GFP_KERNEL);
		assert_non_null(first[i]);
	}
	for (i = 0; i < MANY; i++)
		gpuvm_node_free__(first[i]);
	assert_int_equal(gpuvm_alloc_live(), base);
	for (i = 0; i < MANY; i++) {
		second[i] = gpuvm_node_alloc__(GPUVM_GFP_KERNEL);
		assert_non_null(second[i]);
	}
	if (gpuvm_alloc_cache_built__()) {
		/* The last freed is the first taken back. */
		assert_ptr_equal(second[0], first[MANY - 1]);
		qsort(first, MANY, sizeof(first[0]), cmp_ptr);
		for (i = 0; i < MANY; i++)
			assert_true(in_set(first, MANY, second[i]));
		/* Distinct: no node handed out twice. */
		qsort(second, MANY, sizeof(second[0]), cmp_ptr);
		for (i = 1; i < MANY; i++)
			assert_ptr_not_equal(second[i], second[i - 1]);
	}
	for (i = 0; i < MANY; i++)
		gpuvm_node_free__(second[i]);
	assert_int_equal(gpuvm_alloc_live(), base);
	gpuvm_debug_enable(true);
}

/* Fewer than a thread keeps for itself: only its exit hands them on. */
#define FEW 100

struct job {
	void **nodes;
	unsigned int n;
};

static void *take_then_free(void *arg)
{
	struct job *job = arg;
	unsigned int i;

	for (i = 0; i < job->n; i++)
		job->nodes[i] = gpuvm_node_alloc__(GPUVM_GFP_KERNEL);
	for (i = 0; i < job->n; i++)
		gpuvm_node_free__(job->nodes[i]);
	return NULL;
}

/* In a new thread, take @n nodes into @nodes, then free them all. */
static void in_new_thread(void **nodes, unsigned int n)
{
	struct job job = { nodes, n };
	pthread_t t;
	unsigned int i;

	assert_int_equal(pthread_create(&t, NULL, take_then_free, &job), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	for (i = 0; i < n; i++)
		assert_non_null(nodes[i]);
}

/*
 * A thread keeps a bounded number of freed nodes for itself (4096) and
 * hands the rest to the others: after this thread frees LOTS, a new
 * thread's first MANY nodes are all among them, not new memory.
 */
static void test_node_alloc_overflow_shared(void **state)
{
	enum { LOTS = 6000 };
	static void *freed[LOTS], *taken[MANY];
	long base = gpuvm_alloc_live();
	unsigned int i;

	gpuvm_debug_enable(false);
	for (i = 0; i < LOTS; i++) {
		freed[i] = gpuvm_node_alloc__(GPUVM_GFP_KERNEL);
		assert_non_null(freed[i]);
	}
	for (i = 0; i < LOTS; i++)
		gpuvm_node_free__(freed[i]);
	in_new_thread(taken, MANY);
	if (gpuvm_alloc_cache_built__()) {
		qsort(freed, LOTS, sizeof(freed[0]), cmp_ptr);
		for (i = 0; i < MANY; i++)
			assert_true(in_set(freed, LOTS, taken[i]));
	}
	assert_int_equal(gpuvm_alloc_live(), base);
	gpuvm_debug_enable(true);
}

/*
 * A thread's cached nodes outlive it: a new thread, with nothing cached of
 * its own, takes them back first (the exited thread's lists went on top
 * of the shared stack), so every node the first thread used is among the
 * next MANY nodes. Without the hand-over they would never be seen again.
 */
static void test_node_alloc_thread_exit(void **state)
{
	static void *used[FEW], *taken[MANY];
	long base = gpuvm_alloc_live();
	unsigned int i;

	gpuvm_debug_enable(false);
	in_new_thread(used, FEW);
	in_new_thread(taken, MANY);
	if (gpuvm_alloc_cache_built__()) {
		qsort(taken, MANY, sizeof(taken[0]), cmp_ptr);
		for (i = 0; i < FEW; i++)
			assert_true(in_set(taken, MANY, used[i]));
	}
	assert_int_equal(gpuvm_alloc_live(), base);
	gpuvm_debug_enable(true);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_node_alloc_basic),
		harness_test(test_node_alloc_fault),
		harness_test(test_node_alloc_might_sleep),
		harness_test(test_node_alloc_poison),
		harness_test(test_node_alloc_reuse),
		harness_test(test_node_alloc_overflow_shared),
		harness_test(test_node_alloc_thread_exit),
	};

	return harness_run("gpuvm/node_alloc", tests, argc, argv);
}
