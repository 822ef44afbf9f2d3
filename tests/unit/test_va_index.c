// SPDX-License-Identifier: MIT
/*
 * The private VA index: exact results of every query at the edges, walks
 * that remove what they visit, a randomised comparison against a plain
 * sorted array, and allocation-failure sweeps over splitting inserts.
 *
 * GPUVM_TEST_SEED=<n> replays a random run; GPUVM_VA_INDEX_OPS=<n> changes
 * the length of the differential run (default 100000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/testing.h>
#include "harness.h"
#include "seed.h"
#include "va_index.h"

#define U64_MAX UINT64_MAX

/* Items are opaque to the index; small integers make readable pointers. */
#define ITEM(n) ((void *)(uintptr_t)(n))

/* Insert, then look up the entries right before and after the new one
 * (NULL at either end), as the tests below check them. */
static int insert_between(struct gpuvm_va_index *idx, uint64_t start,
			  uint64_t end, void *item, void **prev, void **next)
{
	int ret = gpuvm_va_index_insert(idx, start, end, item);

	if (!ret) {
		*prev = gpuvm_va_index_lower_than(idx, start);
		*next = gpuvm_va_index_next_from(idx, end);
	}
	return ret;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static void test_empty(void **state)
{
	struct gpuvm_va_index idx;
	struct gpuvm_va_index_iter it;

	gpuvm_va_index_init(&idx);
	assert_int_equal(gpuvm_va_index_count(&idx), 0);
	assert_true(gpuvm_va_index_validate(&idx));
	assert_null(gpuvm_va_index_first_overlap(&idx, 0, 0));
	assert_null(gpuvm_va_index_first_overlap(&idx, 0, U64_MAX));
	assert_null(gpuvm_va_index_lookup_exact(&idx, 0));
	assert_null(gpuvm_va_index_prev(&idx, 0x1000));
	assert_null(gpuvm_va_index_lower_than(&idx, U64_MAX));
	assert_null(gpuvm_va_index_next_from(&idx, 0));
	assert_null(gpuvm_va_index_remove(&idx, 0));
	assert_null(gpuvm_va_index_iter_first(&it, &idx));
	assert_null(gpuvm_va_index_iter_next(&it));
	assert_null(gpuvm_va_index_iter_first_overlap(&it, &idx, 0, U64_MAX));
	assert_int_equal(gpuvm_va_index_insert_cost(&idx, 0), 1);
	gpuvm_va_index_destroy(&idx);
	assert_int_equal(gpuvm_va_index_count(&idx), 0);
}

static void test_insert_invalid(void **state)
{
	struct gpuvm_va_index idx;
	long live = gpuvm_alloc_live();

	gpuvm_va_index_init(&idx);
	assert_int_equal(gpuvm_va_index_insert(&idx, 0x1000, 0x1000, ITEM(1)),
			 -EINVAL);
	assert_int_equal(gpuvm_va_index_insert(&idx, 0x2000, 0x1000, ITEM(1)),
			 -EINVAL);
	assert_int_equal(gpuvm_va_index_insert(&idx, 0x1000, 0x2000, NULL),
			 -EINVAL);
	assert_int_equal(gpuvm_alloc_live(), live);
	assert_int_equal(gpuvm_va_index_count(&idx), 0);
	assert_true(gpuvm_va_index_validate(&idx));
	gpuvm_va_index_destroy(&idx);
}

static void test_overlap_rules(void **state)
{
	struct gpuvm_va_index idx;

	gpuvm_va_index_init(&idx);
	assert_int_equal(gpuvm_va_index_insert(&idx, 0x1000, 0x2000, ITEM(1)),
			 0);
	/* Touching on either side is not overlapping. */
	assert_int_equal(gpuvm_va_index_insert(&idx, 0x2000, 0x3000, ITEM(2)),
			 0);
	assert_int_equal(gpuvm_va_index_insert(&idx, 0x0, 0x1000, ITEM(3)), 0);
	/* One byte into a neighbour is. */
	assert_int_equal(
		gpuvm_va_index_insert(&idx, 0x3000 - 1, 0x4000, ITEM(4)),
		-EEXIST);
	assert_int_equal(gpuvm_va_index_insert(&idx, 0x4000, 0x5000, ITEM(4)),
			 0);
	assert_int_equal(gpuvm_va_index_insert(&idx, 0x3000, 0x4001, ITEM(5)),
			 -EEXIST);
	/* Same range, containing range, contained range. */
	assert_int_equal(gpuvm_va_index_insert(&idx, 0x1000, 0x2000, ITEM(5)),
			 -EEXIST);
	assert_int_equal(gpuvm_va_index_insert(&idx, 0x0, 0x10000, ITEM(5)),
			 -EEXIST);
	assert_int_equal(gpuvm_va_index_insert(&idx, 0x1100, 0x1200, ITEM(5)),
			 -EEXIST);
	assert_int_equal(gpuvm_va_index_insert(&idx, 0x2fff, 0x3000, ITEM(5)),
			 -EEXIST);
	/* The gap [0x3000, 0x4000) is free, exactly. */
	assert_int_equal(gpuvm_va_index_insert(&idx, 0x3000, 0x4000, ITEM(5)),
			 0);
	assert_int_equal(gpuvm_va_index_count(&idx), 5);
	assert_true(gpuvm_va_index_validate(&idx));

	assert_ptr_equal(gpuvm_va_index_remove(&idx, 0x3000), ITEM(5));
	/* Only exact starts remove. */
	assert_null(gpuvm_va_index_remove(&idx, 0x3000));
	assert_null(gpuvm_va_index_remove(&idx, 0x1001));
	assert_null(gpuvm_va_index_remove(&idx, 0x1fff));
	assert_int_equal(gpuvm_va_index_count(&idx), 4);
	assert_true(gpuvm_va_index_validate(&idx));
	gpuvm_va_index_destroy(&idx);
}

static void test_address_space_edges(void **state)
{
	struct gpuvm_va_index idx;

	gpuvm_va_index_init(&idx);
	assert_int_equal(gpuvm_va_index_insert(&idx, 0, 1, ITEM(1)), 0);
	assert_int_equal(
		gpuvm_va_index_insert(&idx, U64_MAX - 1, U64_MAX, ITEM(3)), 0);
	assert_int_equal(gpuvm_va_index_insert(&idx, 1, U64_MAX - 1, ITEM(2)),
			 0);
	assert_int_equal(gpuvm_va_index_insert(&idx, 5, 6, ITEM(9)), -EEXIST);
	assert_true(gpuvm_va_index_validate(&idx));

	assert_ptr_equal(gpuvm_va_index_first_overlap(&idx, 0, U64_MAX),
			 ITEM(1));
	assert_ptr_equal(gpuvm_va_index_first_overlap(&idx, 1, U64_MAX),
			 ITEM(2));
	assert_ptr_equal(
		gpuvm_va_index_first_overlap(&idx, U64_MAX - 1, U64_MAX),
		ITEM(3));
	/* Nothing can cover U64_MAX itself. */
	assert_null(gpuvm_va_index_first_overlap(&idx, U64_MAX, 0));
	assert_ptr_equal(gpuvm_va_index_lookup_exact(&idx, U64_MAX - 1),
			 ITEM(3));
	assert_ptr_equal(gpuvm_va_index_lookup_exact(&idx, 0), ITEM(1));
	assert_null(gpuvm_va_index_lookup_exact(&idx, U64_MAX));
	assert_null(gpuvm_va_index_next_from(&idx, U64_MAX));
	assert_ptr_equal(gpuvm_va_index_next_from(&idx, U64_MAX - 1), ITEM(3));
	assert_ptr_equal(gpuvm_va_index_next_from(&idx, 2), ITEM(3));
	assert_ptr_equal(gpuvm_va_index_prev(&idx, U64_MAX), ITEM(3));
	assert_ptr_equal(gpuvm_va_index_prev(&idx, U64_MAX - 1), ITEM(2));
	assert_ptr_equal(gpuvm_va_index_prev(&idx, 1), ITEM(1));
	assert_null(gpuvm_va_index_prev(&idx, 0));
	assert_ptr_equal(gpuvm_va_index_lower_than(&idx, U64_MAX), ITEM(3));
	assert_ptr_equal(gpuvm_va_index_lower_than(&idx, 1), ITEM(1));
	assert_null(gpuvm_va_index_lower_than(&idx, 0));

	assert_ptr_equal(gpuvm_va_index_remove(&idx, U64_MAX - 1), ITEM(3));
	assert_ptr_equal(gpuvm_va_index_remove(&idx, 0), ITEM(1));
	assert_ptr_equal(gpuvm_va_index_remove(&idx, 1), ITEM(2));
	assert_int_equal(gpuvm_va_index_count(&idx), 0);
	assert_true(gpuvm_va_index_validate(&idx));
	gpuvm_va_index_destroy(&idx);
}

/* A = [0x1000, 0x2000), B = [0x3000, 0x4000). */
static void setup_two(struct gpuvm_va_index *idx)
{
	gpuvm_va_index_init(idx);
	assert_int_equal(gpuvm_va_index_insert(idx, 0x3000, 0x4000, ITEM(2)),
			 0);
	assert_int_equal(gpuvm_va_index_insert(idx, 0x1000, 0x2000, ITEM(1)),
			 0);
}

static void test_first_overlap(void **state)
{
	struct gpuvm_va_index idx;

	setup_two(&idx);
	assert_null(gpuvm_va_index_first_overlap(&idx, 0, 0x1000));
	assert_ptr_equal(gpuvm_va_index_first_overlap(&idx, 0, 0x1001),
			 ITEM(1));
	assert_ptr_equal(gpuvm_va_index_first_overlap(&idx, 0x1fff, 0x2000),
			 ITEM(1));
	assert_null(gpuvm_va_index_first_overlap(&idx, 0x2000, 0x3000));
	assert_ptr_equal(gpuvm_va_index_first_overlap(&idx, 0x1fff, 0x3001),
			 ITEM(1));
	assert_ptr_equal(gpuvm_va_index_first_overlap(&idx, 0x2000, 0x3001),
			 ITEM(2));
	assert_ptr_equal(gpuvm_va_index_first_overlap(&idx, 0, U64_MAX),
			 ITEM(1));
	assert_null(gpuvm_va_index_first_overlap(&idx, 0x4000, 0x5000));

	/*
	 * end == start: the VM's inverted-interval lookup, which finds an
	 * entry strictly straddling start, nothing at an entry's edges, and
	 * the very first entry for (0, 0).
	 */
	assert_ptr_equal(gpuvm_va_index_first_overlap(&idx, 0x1800, 0x1800),
			 ITEM(1));
	assert_null(gpuvm_va_index_first_overlap(&idx, 0x1000, 0x1000));
	assert_ptr_equal(gpuvm_va_index_first_overlap(&idx, 0x1001, 0x1001),
			 ITEM(1));
	assert_null(gpuvm_va_index_first_overlap(&idx, 0x2000, 0x2000));
	assert_null(gpuvm_va_index_first_overlap(&idx, 0x2800, 0x2800));
	assert_ptr_equal(gpuvm_va_index_first_overlap(&idx, 0, 0), ITEM(1));
	/* end < start: any entry ending after start that starts by end - 1. */
	assert_ptr_equal(gpuvm_va_index_first_overlap(&idx, 0x3800, 0x3001),
			 ITEM(2));
	assert_null(gpuvm_va_index_first_overlap(&idx, 0x3800, 0x3000));

	/* find_prev(s) parity: first_overlap(s - 1, s + 1). */
	assert_ptr_equal(
		gpuvm_va_index_first_overlap(&idx, 0x2000 - 1, 0x2000 + 1),
		ITEM(1));
	/* Nothing ends at 0x3000, so the entry starting there comes back. */
	assert_ptr_equal(
		gpuvm_va_index_first_overlap(&idx, 0x3000 - 1, 0x3000 + 1),
		ITEM(2));
	assert_null(gpuvm_va_index_first_overlap(&idx, 0x2800 - 1, 0x2800 + 1));
	/* find_next(e) parity: first_overlap(e, e + 2). */
	assert_ptr_equal(gpuvm_va_index_first_overlap(&idx, 0x3000, 0x3002),
			 ITEM(2));
	assert_ptr_equal(gpuvm_va_index_first_overlap(&idx, 0x2fff, 0x3001),
			 ITEM(2));
	assert_null(gpuvm_va_index_first_overlap(&idx, 0x2000, 0x2002));
	gpuvm_va_index_destroy(&idx);
}

static void test_neighbours(void **state)
{
	struct gpuvm_va_index idx;

	setup_two(&idx);
	assert_int_equal(gpuvm_va_index_insert(&idx, 0x2000, 0x2800, ITEM(3)),
			 0);
	/* A = [0x1000,0x2000) C = [0x2000,0x2800) B = [0x3000,0x4000) */
	assert_ptr_equal(gpuvm_va_index_lookup_exact(&idx, 0x2000), ITEM(3));
	assert_null(gpuvm_va_index_lookup_exact(&idx, 0x2001));
	assert_null(gpuvm_va_index_lookup_exact(&idx, 0x1fff));

	assert_ptr_equal(gpuvm_va_index_prev(&idx, 0x2000), ITEM(1));
	assert_ptr_equal(gpuvm_va_index_prev(&idx, 0x2800), ITEM(3));
	assert_null(gpuvm_va_index_prev(&idx, 0x3000)); /* gap before B */
	assert_null(gpuvm_va_index_prev(&idx, 0x1fff));
	assert_null(gpuvm_va_index_prev(&idx, 0x1000));
	assert_ptr_equal(gpuvm_va_index_prev(&idx, 0x4000), ITEM(2));

	assert_null(gpuvm_va_index_lower_than(&idx, 0x1000));
	assert_ptr_equal(gpuvm_va_index_lower_than(&idx, 0x1001), ITEM(1));
	assert_ptr_equal(gpuvm_va_index_lower_than(&idx, 0x2000), ITEM(1));
	assert_ptr_equal(gpuvm_va_index_lower_than(&idx, 0x2001), ITEM(3));
	assert_ptr_equal(gpuvm_va_index_lower_than(&idx, 0x3000), ITEM(3));
	assert_ptr_equal(gpuvm_va_index_lower_than(&idx, U64_MAX), ITEM(2));

	assert_ptr_equal(gpuvm_va_index_next_from(&idx, 0), ITEM(1));
	assert_ptr_equal(gpuvm_va_index_next_from(&idx, 0x1000), ITEM(1));
	assert_ptr_equal(gpuvm_va_index_next_from(&idx, 0x1001), ITEM(3));
	assert_ptr_equal(gpuvm_va_index_next_from(&idx, 0x2001), ITEM(2));
	assert_ptr_equal(gpuvm_va_index_next_from(&idx, 0x3000), ITEM(2));
	assert_null(gpuvm_va_index_next_from(&idx, 0x3001));
	gpuvm_va_index_destroy(&idx);
}

/* Entry i of the "grid" layout: [i * 0x3000, i * 0x3000 + 0x2000). */
#define GRID_START(i) ((uint64_t)(i)*0x3000)
#define GRID_END(i) (GRID_START(i) + 0x2000)

static void fill_grid(struct gpuvm_va_index *idx, unsigned int n)
{
	unsigned int i;

	gpuvm_va_index_init(idx);
	for (i = 0; i < n; i++)
		assert_int_equal(gpuvm_va_index_insert(idx, GRID_START(i),
						       GRID_END(i),
						       ITEM(i + 1)),
				 0);
	assert_int_equal(gpuvm_va_index_count(idx), n);
	assert_true(gpuvm_va_index_validate(idx));
}

static void test_queries_across_leaves(void **state)
{
	struct gpuvm_va_index idx;
	unsigned int i, n = 5000;
	uint64_t next_start;

	fill_grid(&idx, n);
	assert_true(idx.height >= 3);
	for (i = 0; i < n; i++) {
		uint64_t s = GRID_START(i), e = GRID_END(i);

		assert_ptr_equal(gpuvm_va_index_lookup_exact(&idx, s),
				 ITEM(i + 1));
		/* The gap before (for i == 0: [U64_MAX, 0), nothing). */
		assert_null(gpuvm_va_index_first_overlap(&idx, s - 1, s));
		assert_ptr_equal(
			gpuvm_va_index_first_overlap(&idx, e - 1, e + 0x5000),
			ITEM(i + 1));
		assert_ptr_equal(
			gpuvm_va_index_first_overlap(&idx, e, e + 0x1001),
			i + 1 < n ? ITEM(i + 2) : NULL);
		assert_null(gpuvm_va_index_first_overlap(&idx, e, e + 0x1000));
		assert_ptr_equal(gpuvm_va_index_prev(&idx, e), ITEM(i + 1));
		assert_null(gpuvm_va_index_prev(&idx, e + 0x800));
		assert_ptr_equal(gpuvm_va_index_lower_than(&idx, e + 0x800),
				 ITEM(i + 1));
		assert_ptr_equal(gpuvm_va_index_next_from(&idx, e),
				 i + 1 < n ? ITEM(i + 2) : NULL);
		next_start = 0;
		assert_ptr_equal(gpuvm_va_index_next_item(&idx, ITEM(i + 1), s,
							  &next_start),
				 i + 1 < n ? ITEM(i + 2) : NULL);
		assert_int_equal(next_start, i + 1 < n ? GRID_START(i + 1) : 0);
	}
	gpuvm_va_index_destroy(&idx);
}

static void test_remove_orders(void **state)
{
	struct gpuvm_va_index idx;
	unsigned int i, n = 3000;

	/* Ascending: every removal hits the leftmost leaf. */
	fill_grid(&idx, n);
	for (i = 0; i < n; i++) {
		assert_ptr_equal(gpuvm_va_index_remove(&idx, GRID_START(i)),
				 ITEM(i + 1));
		assert_true(gpuvm_va_index_validate(&idx));
	}
	assert_null(idx.root);
	assert_int_equal(idx.height, 0);

	/* Descending: the rightmost. */
	fill_grid(&idx, n);
	for (i = n; i--;) {
		assert_ptr_equal(gpuvm_va_index_remove(&idx, GRID_START(i)),
				 ITEM(i + 1));
		assert_true(gpuvm_va_index_validate(&idx));
	}
	assert_int_equal(gpuvm_va_index_count(&idx), 0);

	/* From the middle outwards. */
	fill_grid(&idx, n);
	for (i = 0; i < n; i++) {
		unsigned int k = i % 2 ? n / 2 + i / 2 : n / 2 - 1 - i / 2;

		assert_ptr_equal(gpuvm_va_index_remove(&idx, GRID_START(k)),
				 ITEM(k + 1));
		assert_true(gpuvm_va_index_validate(&idx));
	}
	assert_int_equal(gpuvm_va_index_count(&idx), 0);
	gpuvm_va_index_destroy(&idx);
}

static void test_remove_never_allocates(void **state)
{
	struct gpuvm_va_index idx;
	long live;
	unsigned int i, n = 20000;

	fill_grid(&idx, n);
	live = gpuvm_alloc_live();
	gpuvm_alloc_fail_nth(1);
	for (i = 0; i < n; i += 2)
		assert_ptr_equal(gpuvm_va_index_remove(&idx, GRID_START(i)),
				 ITEM(i + 1));
	for (i = 1; i < n; i += 2)
		assert_ptr_equal(gpuvm_va_index_remove(&idx, GRID_START(i)),
				 ITEM(i + 1));
	assert_false(gpuvm_alloc_fault_fired());
	gpuvm_alloc_fail_nth(0);
	assert_true(gpuvm_alloc_live() < live);
	assert_int_equal(gpuvm_va_index_count(&idx), 0);
	assert_true(gpuvm_va_index_validate(&idx));
	gpuvm_va_index_destroy(&idx);
}

static void test_destroy_frees_everything(void **state)
{
	struct gpuvm_va_index idx;
	long live = gpuvm_alloc_live();

	fill_grid(&idx, 10000);
	assert_true(gpuvm_alloc_live() > live);
	gpuvm_va_index_destroy(&idx);
	assert_int_equal(gpuvm_alloc_live(), live);
	assert_int_equal(gpuvm_va_index_count(&idx), 0);
	assert_true(gpuvm_va_index_validate(&idx));
	/* Reusable after destroy. */
	assert_int_equal(gpuvm_va_index_insert(&idx, 1, 2, ITEM(1)), 0);
	gpuvm_va_index_destroy(&idx);
	assert_int_equal(gpuvm_alloc_live(), live);
}

static void test_iter_all_and_range(void **state)
{
	struct gpuvm_va_index idx;
	struct gpuvm_va_index_iter it;
	unsigned int n = 1000, i;
	void *item;

	fill_grid(&idx, n);
	i = 0;
	for (item = gpuvm_va_index_iter_first(&it, &idx); item;
	     item = gpuvm_va_index_iter_next(&it)) {
		assert_ptr_equal(item, ITEM(i + 1));
		assert_int_equal(it.start, GRID_START(i));
		assert_int_equal(it.end, GRID_END(i));
		i++;
	}
	assert_int_equal(i, n);
	assert_null(gpuvm_va_index_iter_next(&it)); /* stays finished */

	/* [middle of 10, start of 20): 10..19. */
	i = 10;
	for (item = gpuvm_va_index_iter_first_overlap(
		     &it, &idx, GRID_START(10) + 1, GRID_START(20));
	     item; item = gpuvm_va_index_iter_next(&it))
		assert_ptr_equal(item, ITEM(++i));
	assert_int_equal(i, 20);

	/* Gap to gap: [end of 99, end of 500 + 1) covers 100..500. */
	i = 100;
	for (item = gpuvm_va_index_iter_first_overlap(&it, &idx, GRID_END(99),
						      GRID_END(500) + 1);
	     item; item = gpuvm_va_index_iter_next(&it))
		assert_ptr_equal(item, ITEM(++i));
	assert_int_equal(i, 501);

	/* A gap alone, and the address space past the last entry. */
	assert_null(gpuvm_va_index_iter_first_overlap(&it, &idx, GRID_END(5),
						      GRID_START(6)));
	assert_null(gpuvm_va_index_iter_first_overlap(&it, &idx, GRID_END(n),
						      U64_MAX));
	/* end == start: only a straddling entry; end == 0: nothing. */
	assert_ptr_equal(gpuvm_va_index_iter_first_overlap(&it, &idx,
							   GRID_START(7) + 1,
							   GRID_START(7) + 1),
			 ITEM(8));
	assert_null(gpuvm_va_index_iter_next(&it));
	assert_null(gpuvm_va_index_iter_first_overlap(&it, &idx, 0, 0));
	gpuvm_va_index_destroy(&idx);
}

static void test_iter_remove_every_other(void **state)
{
	struct gpuvm_va_index idx;
	struct gpuvm_va_index_iter it;
	unsigned int n = 3000, i = 0;
	void *item;

	fill_grid(&idx, n);
	for (item = gpuvm_va_index_iter_first(&it, &idx); item;
	     item = gpuvm_va_index_iter_next(&it)) {
		assert_ptr_equal(item, ITEM(i + 1));
		if (i % 2 == 0)
			assert_ptr_equal(gpuvm_va_index_remove(&idx, it.start),
					 item);
		i++;
	}
	assert_int_equal(i, n);
	assert_int_equal(gpuvm_va_index_count(&idx), n / 2);
	assert_true(gpuvm_va_index_validate(&idx));
	i = 1;
	for (item = gpuvm_va_index_iter_first(&it, &idx); item;
	     item = gpuvm_va_index_iter_next(&it), i += 2)
		assert_ptr_equal(item, ITEM(i + 1));
	assert_int_equal(i, n + 1);
	gpuvm_va_index_destroy(&idx);
}

static void test_iter_remove_all(void **state)
{
	struct gpuvm_va_index idx;
	struct gpuvm_va_index_iter it;
	unsigned int n = 3000, i = 0;
	void *item;

	fill_grid(&idx, n);
	for (item = gpuvm_va_index_iter_first(&it, &idx); item;
	     item = gpuvm_va_index_iter_next(&it)) {
		assert_ptr_equal(item, ITEM(i + 1));
		assert_ptr_equal(gpuvm_va_index_remove(&idx, it.start), item);
		i++;
	}
	assert_int_equal(i, n);
	assert_int_equal(gpuvm_va_index_count(&idx), 0);
	assert_null(idx.root);

	/* A bounded walk removing everything it sees: 100..199 go. */
	fill_grid(&idx, n);
	i = 100;
	for (item = gpuvm_va_index_iter_first_overlap(
		     &it, &idx, GRID_START(100), GRID_END(199));
	     item; item = gpuvm_va_index_iter_next(&it)) {
		assert_ptr_equal(item, ITEM(++i));
		assert_ptr_equal(gpuvm_va_index_remove(&idx, it.start), item);
	}
	assert_int_equal(i, 200);
	assert_int_equal(gpuvm_va_index_count(&idx), n - 100);
	assert_null(gpuvm_va_index_first_overlap(&idx, GRID_START(100),
						 GRID_END(199)));
	assert_true(gpuvm_va_index_validate(&idx));
	gpuvm_va_index_destroy(&idx);
}

/*
 * What the split/merge walk does: remove the current entry and put back the
 * pieces on either side of a hole. The walk goes on after the old entry's
 * end, so it sees neither piece, like a walk with a look-ahead pointer.
 */
static void test_iter_remove_and_replace(void **state)
{
	struct gpuvm_va_index idx;
	struct gpuvm_va_index_iter it;
	unsigned int n = 200, i = 0, id = 1000;
	void *item;

	fill_grid(&idx, n);
	for (item = gpuvm_va_index_iter_first_overlap(&it, &idx, 0,
						      GRID_END(n - 1));
	     item; item = gpuvm_va_index_iter_next(&it)) {
		uint64_t s = it.start, e = it.end;

		assert_ptr_equal(item, ITEM(i + 1));
		assert_ptr_equal(gpuvm_va_index_remove(&idx, s), item);
		assert_int_equal(
			gpuvm_va_index_insert(&idx, s, s + 0x800, ITEM(id++)),
			0);
		assert_int_equal(
			gpuvm_va_index_insert(&idx, e - 0x800, e, ITEM(id++)),
			0);
		i++;
	}
	assert_int_equal(i, n);
	assert_int_equal(gpuvm_va_index_count(&idx), 2 * n);
	assert_true(gpuvm_va_index_validate(&idx));
	gpuvm_va_index_destroy(&idx);
}

/* ---- differential test against a sorted array ---- */

struct model_entry {
	uint64_t start, end;
	void *item;
};

struct model {
	struct model_entry *e;
	size_t n, cap;
};

/* First entry with start >= q. */
static size_t model_lb(const struct model *m, uint64_t q)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->e[mid].start < q)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int model_insert(struct model *m, uint64_t s, uint64_t e, void *item)
{
	size_t i;

	if (s >= e || !item)
		return -EINVAL;
	i = model_lb(m, s);
	if (i > 0 && m->e[i - 1].end > s)
		return -EEXIST;
	if (i < m->n && m->e[i].start < e)
		return -EEXIST;
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 64;
		m->e = realloc(m->e, m->cap * sizeof(*m->e));
		assert_non_null(m->e);
	}
	memmove(&m->e[i + 1], &m->e[i], (m->n - i) * sizeof(*m->e));
	m->e[i] = (struct model_entry){ s, e, item };
	m->n++;
	return 0;
}

static void *model_remove(struct model *m, uint64_t s)
{
	size_t i = model_lb(m, s);
	void *item;

	if (i == m->n || m->e[i].start != s)
		return NULL;
	item = m->e[i].item;
	memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof(*m->e));
	m->n--;
	return item;
}

/* The definition, spelled out: lowest entry with end > s and start <= e-1. */
static size_t model_first_overlap_pos(const struct model *m, uint64_t s,
				      uint64_t e)
{
	size_t i = model_lb(m, s);

	if (i > 0 && m->e[i - 1].end > s)
		i--;
	if (i < m->n && m->e[i].start <= e - 1)
		return i;
	return m->n;
}

static void *model_first_overlap(const struct model *m, uint64_t s, uint64_t e)
{
	size_t i = model_first_overlap_pos(m, s, e);

	return i < m->n ? m->e[i].item : NULL;
}

static void check_against_model(const struct gpuvm_va_index *idx,
				const struct model *m, uint64_t q, uint64_t len)
{
	size_t i = model_lb(m, q);
	void *want;

	assert_ptr_equal(gpuvm_va_index_first_overlap(idx, q, q + len),
			 model_first_overlap(m, q, q + len));
	want = i < m->n && m->e[i].start == q ? m->e[i].item : NULL;
	assert_ptr_equal(gpuvm_va_index_lookup_exact(idx, q), want);
	assert_ptr_equal(gpuvm_va_index_next_from(idx, q),
			 i < m->n ? m->e[i].item : NULL);
	assert_ptr_equal(gpuvm_va_index_lower_than(idx, q),
			 i ? m->e[i - 1].item : NULL);
	want = i && m->e[i - 1].end == q ? m->e[i - 1].item : NULL;
	assert_ptr_equal(gpuvm_va_index_prev(idx, q), want);
	if (i < m->n && m->e[i].start == q) {
		/* The successor of the entry at q, and where it starts. */
		uint64_t next_start = 0x5a5a;

		want = gpuvm_va_index_next_item(idx, m->e[i].item, q,
						&next_start);
		assert_ptr_equal(want, i + 1 < m->n ? m->e[i + 1].item : NULL);
		assert_int_equal(next_start,
				 i + 1 < m->n ? m->e[i + 1].start : 0x5a5a);
	}
}

static void check_walk(struct gpuvm_va_index *idx, const struct model *m,
		       uint64_t s, uint64_t e)
{
	struct gpuvm_va_index_iter it;
	size_t i = model_first_overlap_pos(m, s, e);
	void *item;

	for (item = gpuvm_va_index_iter_first_overlap(&it, idx, s, e); item;
	     item = gpuvm_va_index_iter_next(&it), i++) {
		assert_true(i < m->n);
		assert_ptr_equal(item, m->e[i].item);
		assert_int_equal(it.start, m->e[i].start);
		assert_int_equal(it.end, m->e[i].end);
	}
	assert_true(i == m->n || m->e[i].start >= e);
}

static void check_all(struct gpuvm_va_index *idx, const struct model *m)
{
	struct gpuvm_va_index_iter it;
	size_t i = 0;
	void *item;

	assert_true(gpuvm_va_index_validate(idx));
	assert_int_equal(gpuvm_va_index_count(idx), m->n);
	for (item = gpuvm_va_index_iter_first(&it, idx); item;
	     item = gpuvm_va_index_iter_next(&it), i++) {
		assert_true(i < m->n);
		assert_ptr_equal(item, m->e[i].item);
	}
	assert_int_equal(i, m->n);
}

/* Mostly small addresses near 0, some near the top of the address space. */
static uint64_t random_addr(void)
{
	uint64_t off = rnd() % (1u << 17);

	return rnd() % 4 ? off : U64_MAX - off;
}

/*
 * Items of the backref run: real objects with the slot the index owns.
 * Their address stands for them as ITEM(n) does in the plain run.
 */
struct bitem {
	void *leaf;
	uintptr_t id;
};

/*
 * Random inserts, removals and queries against the model. With @items the
 * index keeps backrefs in them: removals then go through
 * gpuvm_va_index_remove_item() half the time, some entries are replaced
 * in place (gpuvm_va_index_replace(), shrinking their end), and every
 * validation also checks that each item points at its leaf.
 */
static void run_differential(struct bitem *items, unsigned long ops)
{
	struct gpuvm_va_index idx;
	struct model m = { 0 };
	uintptr_t next_item = 1;
	bool growing = true;
	unsigned long op;

#define NEW_ITEM(k) (items ? (void *)&items[k] : ITEM(k))
	rng_state = harness_seed();
	gpuvm_va_index_init(&idx);
	if (items)
		gpuvm_va_index_init_backref(&idx, offsetof(struct bitem, leaf));
	for (op = 0; op < ops; op++) {
		uint64_t a = random_addr(), len = 1 + rnd() % 64;
		unsigned int dice = rnd() % 100;

		/* Swing between ~0 and ~5000 entries so the tree grows and
		 * shrinks through several heights. */
		if (m.n > 5000)
			growing = false;
		else if (m.n < 200)
			growing = true;

		if (dice < (growing ? 55u : 25u)) {
			uint64_t end = a + len < a ? U64_MAX : a + len;
			int want =
				model_insert(&m, a, end, NEW_ITEM(next_item));
			void *prev = ITEM(1), *next = ITEM(1);
			size_t i;

			if (rnd() % 2) {
				assert_int_equal(gpuvm_va_index_insert(
							 &idx, a, end,
							 NEW_ITEM(next_item)),
						 want);
			} else {
				/* Its neighbours are the model's. */
				assert_int_equal(
					insert_between(&idx, a, end,
						       NEW_ITEM(next_item),
						       &prev, &next),
					want);
				if (!want) {
					i = model_lb(&m, a);
					assert_ptr_equal(prev,
							 i ? m.e[i - 1].item :
							     NULL);
					assert_ptr_equal(
						next, i + 1 < m.n ?
							      m.e[i + 1].item :
							      NULL);
				}
			}
			next_item++;
		} else if (dice < 75 && m.n) {
			/* Remove an existing entry, by exact start or item. */
			size_t i = rnd() % m.n;
			uint64_t s = m.e[i].start;
			void *item = m.e[i].item;

			if (items && rnd() % 2) {
				gpuvm_va_index_remove_item(&idx, item, s);
				assert_ptr_equal(model_remove(&m, s), item);
				assert_null(((struct bitem *)item)->leaf);
			} else {
				assert_ptr_equal(gpuvm_va_index_remove(&idx, s),
						 model_remove(&m, s));
			}
		} else if (dice < 78 && items && m.n) {
			/* A remap's prev: same start, no further end. */
			size_t i = rnd() % m.n;
			struct model_entry *e = &m.e[i];
			uint64_t end =
				e->start + 1 + rnd() % (e->end - e->start);
			void *old = e->item;

			gpuvm_va_index_replace(&idx, old, e->start, end,
					       NEW_ITEM(next_item));
			e->end = end;
			e->item = NEW_ITEM(next_item);
			next_item++;
			assert_null(((struct bitem *)old)->leaf);
			assert_ptr_equal(
				gpuvm_va_index_lookup_exact(&idx, e->start),
				e->item);
		} else if (dice < 80) {
			/* Mostly misses. */
			assert_ptr_equal(gpuvm_va_index_remove(&idx, a),
					 model_remove(&m, a));
		} else if (dice < 81) {
			/* The walk's lookup: same answer, finger moved, and
			 * the entry after the one found. */
			size_t k = model_first_overlap_pos(&m, a, a + len);
			void *next = ITEM(7777);
			uint64_t next_start = 0x5a5a;
			void *got = gpuvm_va_index_first_overlap_for_update(
				&idx, a, a + len, &next, &next_start);

			assert_ptr_equal(got,
					 model_first_overlap(&m, a, a + len));
			if (!got) {
				assert_ptr_equal(next, ITEM(7777));
				assert_int_equal(next_start, 0x5a5a);
			} else if (k + 1 < m.n) {
				assert_ptr_equal(next, m.e[k + 1].item);
				assert_int_equal(next_start, m.e[k + 1].start);
			} else {
				assert_null(next);
				assert_int_equal(next_start, 0x5a5a);
			}
		} else if (dice < 83) {
			/* Zero and wrapped lengths hit the quirk paths. */
			assert_ptr_equal(
				gpuvm_va_index_first_overlap(&idx, a, a),
				model_first_overlap(&m, a, a));
			assert_ptr_equal(
				gpuvm_va_index_first_overlap(&idx, a, a - len),
				model_first_overlap(&m, a, a - len));
		} else if (dice < 86) {
			check_walk(&idx, &m, a, a + len * 64);
		} else {
			check_against_model(&idx, &m, a, len);
		}
		if (op % 4096 == 0)
			check_all(&idx, &m);
	}
#undef NEW_ITEM
	check_all(&idx, &m);
	printf("# %lu ops, %zu entries at the end, height %u\n", ops, m.n,
	       idx.height);
	gpuvm_va_index_destroy(&idx);
	free(m.e);
}

static unsigned long differential_ops(void)
{
	const char *env = getenv("GPUVM_VA_INDEX_OPS");

	return env ? strtoul(env, NULL, 0) : 100000;
}

static void test_random_differential(void **state)
{
	run_differential(NULL, differential_ops());
}

static void test_random_differential_backref(void **state)
{
	unsigned long ops = differential_ops();
	struct bitem *items = calloc(ops + 2, sizeof(*items));

	assert_non_null(items);
	run_differential(items, ops);
	free(items);
}

/*
 * Insert next to the finger (the leaf the last lookup reached), in the
 * middle of a leaf: the result must be the same as after a descent, and
 * overlaps found there are refused without a change.
 */
static void test_finger_inserts(void **state)
{
	struct gpuvm_va_index idx;
	void *prev = NULL, *next = NULL;
	uint64_t i;

	gpuvm_va_index_init(&idx);
	for (i = 0; i < 1000; i++)
		assert_int_equal(gpuvm_va_index_insert(&idx, i * 0x10000,
						       i * 0x10000 + 0x1000,
						       ITEM(i + 1)),
				 0);
	for (i = 0; i < 1000; i += 7) {
		uint64_t a = i * 0x10000 + 0x8000, next_start = 0;

		/* Leave the finger on the leaf of a, as sm does. */
		assert_null(gpuvm_va_index_first_overlap_for_update(
			&idx, a, a + 0x1000, &next, &next_start));
		assert_int_equal(gpuvm_va_index_insert(&idx, a - 0x8000,
						       a - 0x7000, ITEM(5000)),
				 -EEXIST);
		assert_int_equal(gpuvm_va_index_insert(&idx, a - 0x7001,
						       a - 0x6000, ITEM(5000)),
				 -EEXIST);
		assert_int_equal(gpuvm_va_index_insert(&idx, a + 0x7000,
						       a + 0x8001, ITEM(5000)),
				 -EEXIST);
		assert_int_equal(insert_between(&idx, a, a + 0x1000,
						ITEM(2000 + i), &prev, &next),
				 0);
		assert_ptr_equal(prev, ITEM(i + 1));
		assert_ptr_equal(next, ITEM(i + 2));
		assert_ptr_equal(gpuvm_va_index_lookup_exact(&idx, a),
				 ITEM(2000 + i));
		assert_true(gpuvm_va_index_validate(&idx));
	}
	gpuvm_va_index_destroy(&idx);
}

/*
 * Removal by pointer leaves the entry in its slot, marked dead (its rank
 * and start stay until the next write into the leaf), so that it writes
 * only the leaf's header line. Every query must still see the neighbours
 * and never the removed entries, and an insert into the gap takes a slot
 * back.
 */
static void test_remove_by_item_leaves_no_trace(void **state)
{
	struct bitem items[32] = { 0 }, extra = { 0 };
	struct gpuvm_va_index idx;
	struct gpuvm_va_index_iter it;
	void *prev = NULL, *next = NULL, *got;
	uint64_t next_start = 0;
	unsigned int i, n = 0;

#define BI(k) ((void *)&items[k])
	gpuvm_va_index_init(&idx);
	gpuvm_va_index_init_backref(&idx, offsetof(struct bitem, leaf));
	/* 32 entries [k * 0x1000, k * 0x1000 + 0x800): one full root leaf. */
	for (i = 0; i < 32; i++)
		assert_int_equal(gpuvm_va_index_insert(&idx, i * 0x1000ull,
						       i * 0x1000ull + 0x800,
						       BI(i)),
				 0);
	assert_int_equal(idx.height, 1);
	for (i = 5; i <= 7; i++) {
		gpuvm_va_index_remove_item(&idx, BI(i), i * 0x1000ull);
		assert_null(items[i].leaf);
		assert_true(gpuvm_va_index_validate(&idx));
	}
	assert_int_equal(gpuvm_va_index_count(&idx), 29);

	/* The gap [0x4800, 0x8000) holds nothing. */
	assert_null(gpuvm_va_index_first_overlap(&idx, 0x5000, 0x8000));
	assert_null(gpuvm_va_index_first_overlap(&idx, 0x6400, 0x6401));
	assert_ptr_equal(gpuvm_va_index_first_overlap(&idx, 0x4000, 0x9000),
			 BI(4));
	assert_ptr_equal(gpuvm_va_index_first_overlap(&idx, 0x4800, 0x9000),
			 BI(8));
	assert_ptr_equal(gpuvm_va_index_lower_than(&idx, 0x7001), BI(4));
	assert_ptr_equal(gpuvm_va_index_next_from(&idx, 0x5000), BI(8));
	assert_ptr_equal(gpuvm_va_index_prev(&idx, 0x4800), BI(4));
	assert_null(gpuvm_va_index_prev(&idx, 0x6800));
	for (i = 5; i <= 7; i++) {
		assert_null(gpuvm_va_index_lookup_exact(&idx, i * 0x1000ull));
		assert_null(gpuvm_va_index_remove(&idx, i * 0x1000ull));
	}
	assert_ptr_equal(
		gpuvm_va_index_next_item(&idx, BI(4), 0x4000, &next_start),
		BI(8));
	assert_int_equal(next_start, 0x8000);
	got = gpuvm_va_index_first_overlap_for_update(&idx, 0x4400, 0x7000,
						      &next, &next_start);
	assert_ptr_equal(got, BI(4));
	assert_ptr_equal(next, BI(8));

	/* A walk visits the 29 that are left, in order. */
	for (got = gpuvm_va_index_iter_first(&it, &idx); got;
	     got = gpuvm_va_index_iter_next(&it)) {
		assert_true(got != BI(5) && got != BI(6) && got != BI(7));
		n++;
	}
	assert_int_equal(n, 29);

	/* An insert over the removed ranges takes a slot back. */
	assert_int_equal(
		insert_between(&idx, 0x4800, 0x8000, &extra, &prev, &next), 0);
	assert_ptr_equal(prev, BI(4));
	assert_ptr_equal(next, BI(8));
	assert_ptr_equal(gpuvm_va_index_first_overlap(&idx, 0x6400, 0x6401),
			 &extra);
	assert_null(gpuvm_va_index_lookup_exact(&idx, 0x6000));
	assert_true(gpuvm_va_index_validate(&idx));

	/* Emptying the leaf by pointer frees it. */
	gpuvm_va_index_remove_item(&idx, &extra, 0x4800);
	for (i = 0; i < 32; i++)
		if (i < 5 || i > 7)
			gpuvm_va_index_remove_item(&idx, BI(i), i * 0x1000ull);
	assert_int_equal(gpuvm_va_index_count(&idx), 0);
	assert_null(idx.root);
	assert_true(gpuvm_va_index_validate(&idx));
	gpuvm_va_index_destroy(&idx);
#undef BI
}

/* The leaf an item's backref names (the slot is in the low bits). */
static uintptr_t leaf_of(const struct bitem *b)
{
	return (uintptr_t)b->leaf & ~(uintptr_t)63;
}

/*
 * Dead entries at the edges of leaves: the first and the last entry of
 * every leaf removed by pointer, so that each query that lands on a leaf
 * boundary has to step over dead ranks, in its own leaf and into the
 * next or the previous one.
 */
static void test_dead_entries_at_leaf_edges(void **state)
{
	enum { N = 400 };
	struct bitem *items = calloc(N, sizeof(*items));
	bool *gone = calloc(N, sizeof(*gone));
	struct gpuvm_va_index idx;
	struct gpuvm_va_index_iter it;
	void *got, *prev = NULL, *next = NULL;
	uint64_t next_start;
	unsigned int i, j, n, live = N;

	assert_non_null(items);
	assert_non_null(gone);
	gpuvm_va_index_init(&idx);
	gpuvm_va_index_init_backref(&idx, offsetof(struct bitem, leaf));
	/* [i * 0x1000, i * 0x1000 + 0x800) */
	for (i = 0; i < N; i++)
		assert_int_equal(gpuvm_va_index_insert(&idx, i * 0x1000ull,
						       i * 0x1000ull + 0x800,
						       &items[i]),
				 0);
	assert_true(idx.height >= 2);
	/* Mark the first and last entry of each leaf, then remove them. */
	for (i = 0; i < N; i++)
		gone[i] = !i || i == N - 1 ||
			  leaf_of(&items[i]) != leaf_of(&items[i - 1]) ||
			  leaf_of(&items[i]) != leaf_of(&items[i + 1]);
	for (i = 0; i < N; i++) {
		if (!gone[i])
			continue;
		gpuvm_va_index_remove_item(&idx, &items[i], i * 0x1000ull);
		assert_null(items[i].leaf);
		live--;
		assert_true(gpuvm_va_index_validate(&idx));
	}
	assert_int_equal(gpuvm_va_index_count(&idx), live);

	for (i = 0; i < N; i++) {
		uint64_t a = i * 0x1000ull;
		unsigned int below = i, above = i;

		while (below < N && gone[below])
			below = below ? below - 1 : N;
		while (above < N && gone[above])
			above++;
		/* below: last live at or before i; above: first at or after. */
		got = gpuvm_va_index_first_overlap(&idx, a, a + 0x1000);
		assert_ptr_equal(got, gone[i] ? NULL : &items[i]);
		got = gpuvm_va_index_first_overlap(&idx, a, a + 0x100000);
		assert_ptr_equal(got, above < N ? &items[above] : NULL);
		got = gpuvm_va_index_lower_than(&idx, a + 1);
		assert_ptr_equal(got, below < N ? &items[below] : NULL);
		got = gpuvm_va_index_next_from(&idx, a);
		assert_ptr_equal(got, above < N ? &items[above] : NULL);
		got = gpuvm_va_index_prev(&idx, a + 0x800);
		assert_ptr_equal(got, gone[i] ? NULL : &items[i]);
		got = gpuvm_va_index_lookup_exact(&idx, a);
		assert_ptr_equal(got, gone[i] ? NULL : &items[i]);
		if (gone[i]) {
			assert_null(gpuvm_va_index_remove(&idx, a));
			continue;
		}
		/* The next live entry after i, over any dead ones. */
		for (j = i + 1; j < N && gone[j]; j++)
			;
		next_start = 0;
		got = gpuvm_va_index_next_item(&idx, &items[i], a, &next_start);
		assert_ptr_equal(got, j < N ? &items[j] : NULL);
		if (j < N)
			assert_int_equal(next_start, j * 0x1000ull);
	}

	/* A full walk starts past the dead first entry and skips the rest. */
	n = 0;
	j = 0;
	for (got = gpuvm_va_index_iter_first(&it, &idx); got;
	     got = gpuvm_va_index_iter_next(&it)) {
		while (gone[j])
			j++;
		assert_ptr_equal(got, &items[j]);
		assert_int_equal(it.start, j * 0x1000ull);
		j++;
		n++;
	}
	assert_int_equal(n, live);

	/* Inserting over each removed range settles its leaf; its neighbours
	 * are the live ones. */
	for (i = 0; i < N; i++) {
		unsigned int below = i, above = i;

		if (!gone[i])
			continue;
		while (below < N && gone[below])
			below = below ? below - 1 : N;
		while (above < N && gone[above])
			above++;
		assert_int_equal(insert_between(&idx, i * 0x1000ull,
						i * 0x1000ull + 0x800,
						&items[i], &prev, &next),
				 0);
		assert_ptr_equal(prev, below < N ? &items[below] : NULL);
		assert_ptr_equal(next, above < N ? &items[above] : NULL);
		gone[i] = false;
		live++;
		assert_true(gpuvm_va_index_validate(&idx));
	}
	assert_int_equal(gpuvm_va_index_count(&idx), N);
	gpuvm_va_index_destroy(&idx);
	free(gone);
	free(items);
}

/*
 * A full leaf with a dead entry has room: the insert settles the leaf
 * instead of splitting it, and says so in its cost beforehand.
 */
static void test_dead_entry_makes_room(void **state)
{
	struct bitem items[33] = { 0 };
	struct gpuvm_va_index idx;
	unsigned int i;

	gpuvm_va_index_init(&idx);
	gpuvm_va_index_init_backref(&idx, offsetof(struct bitem, leaf));
	for (i = 0; i < 32; i++)
		assert_int_equal(gpuvm_va_index_insert(&idx, i * 0x1000ull,
						       i * 0x1000ull + 0x800,
						       &items[i]),
				 0);
	assert_int_equal(idx.height, 1);
	/* The leaf and a new root above it. */
	assert_int_equal(gpuvm_va_index_insert_cost(&idx, 0x20000), 2);
	gpuvm_va_index_remove_item(&idx, &items[10], 0xa000);
	assert_int_equal(gpuvm_va_index_insert_cost(&idx, 0x20000), 0);
	assert_int_equal(
		gpuvm_va_index_insert(&idx, 0x20000, 0x21000, &items[32]), 0);
	assert_int_equal(idx.height, 1);
	assert_int_equal(gpuvm_va_index_count(&idx), 32);
	assert_null(gpuvm_va_index_lookup_exact(&idx, 0xa000));
	assert_ptr_equal(gpuvm_va_index_lookup_exact(&idx, 0x20000),
			 &items[32]);
	assert_true(gpuvm_va_index_validate(&idx));
	gpuvm_va_index_destroy(&idx);
}

/* ---- allocation failure sweep over splitting inserts ---- */

struct sweep {
	struct gpuvm_va_index *idx;
	uint64_t start;
	void *item;
	struct model_entry *snap;
	size_t snap_n;
	unsigned int height;
	long live;
	unsigned long failures;
};

static void snapshot(struct sweep *sw)
{
	struct gpuvm_va_index_iter it;
	size_t i = 0;
	void *item;

	sw->snap_n = gpuvm_va_index_count(sw->idx);
	sw->snap = realloc(sw->snap, (sw->snap_n + 1) * sizeof(*sw->snap));
	assert_non_null(sw->snap);
	for (item = gpuvm_va_index_iter_first(&it, sw->idx); item;
	     item = gpuvm_va_index_iter_next(&it), i++)
		sw->snap[i] = (struct model_entry){ it.start, it.end, item };
	assert_int_equal(i, sw->snap_n);
	sw->height = sw->idx->height;
	sw->live = gpuvm_alloc_live();
}

static int sweep_insert(void *arg)
{
	struct sweep *sw = arg;

	return gpuvm_va_index_insert(sw->idx, sw->start, sw->start + 1,
				     sw->item);
}

static void sweep_check(void *arg, unsigned long n, int ret)
{
	struct sweep *sw = arg;
	struct gpuvm_va_index_iter it;
	size_t i = 0;
	void *item;

	sw->failures++;
	assert_int_equal(ret, -ENOMEM);
	assert_int_equal(gpuvm_alloc_live(), sw->live);
	assert_true(gpuvm_va_index_validate(sw->idx));
	assert_int_equal(sw->idx->height, sw->height);
	assert_int_equal(gpuvm_va_index_count(sw->idx), sw->snap_n);
	for (item = gpuvm_va_index_iter_first(&it, sw->idx); item;
	     item = gpuvm_va_index_iter_next(&it), i++) {
		assert_int_equal(it.start, sw->snap[i].start);
		assert_int_equal(it.end, sw->snap[i].end);
		assert_ptr_equal(item, sw->snap[i].item);
	}
	assert_null(gpuvm_va_index_lookup_exact(sw->idx, sw->start));
}

/* Fail each allocation of the insert of [start, start + 1) in turn. */
static void sweep_one(struct gpuvm_va_index *idx, uint64_t start, void *item)
{
	struct sweep sw = { .idx = idx, .start = start, .item = item };
	unsigned int cost = gpuvm_va_index_insert_cost(idx, start);
	int ret;

	snapshot(&sw);
	ret = gpuvm_alloc_fault_sweep(sweep_insert, sweep_check, &sw, 0);
	assert_int_equal(ret, (int)cost);
	assert_int_equal(sw.failures, cost);
	assert_ptr_equal(gpuvm_va_index_lookup_exact(idx, start), item);
	assert_int_equal(gpuvm_va_index_count(idx), sw.snap_n + 1);
	assert_true(gpuvm_va_index_validate(idx));
	free(sw.snap);
}

static void test_insert_fault_sweep(void **state)
{
	struct gpuvm_va_index idx;
	unsigned int root_splits = 0;
	uintptr_t n = 1;

	rng_state = harness_seed();
	gpuvm_va_index_init(&idx);
	sweep_one(&idx, 1000, ITEM(n++)); /* the first leaf */
	assert_int_equal(idx.height, 1);

	/* Grow with random inserts; whenever the next one would split all
	 * the way to the root, sweep it. Stop after the root has split three
	 * times (height 4). */
	while (idx.height < 4) {
		uint64_t s = rnd() >> 20 << 1;

		if (gpuvm_va_index_insert_cost(&idx, s) == idx.height + 1 &&
		    !gpuvm_va_index_first_overlap(&idx, s, s + 1)) {
			unsigned int h = idx.height;

			sweep_one(&idx, s, ITEM(n++));
			assert_int_equal(idx.height, h + 1);
			root_splits++;
			continue;
		}
		if (gpuvm_va_index_insert(&idx, s, s + 1, ITEM(n)) == 0)
			n++;
	}
	assert_int_equal(root_splits, 3);

	/* And a split that stops below the root. */
	for (;;) {
		uint64_t s = rnd() >> 20 << 1;
		unsigned int cost = gpuvm_va_index_insert_cost(&idx, s);

		if (cost > 1 && cost <= idx.height &&
		    !gpuvm_va_index_first_overlap(&idx, s, s + 1)) {
			sweep_one(&idx, s, ITEM(n++));
			break;
		}
		if (gpuvm_va_index_insert(&idx, s, s + 1, ITEM(n)) == 0)
			n++;
	}
	printf("# %zu entries, height %u\n", gpuvm_va_index_count(&idx),
	       idx.height);
	gpuvm_va_index_destroy(&idx);
}

/* A free start whose insert splits as many nodes as we can find. */
static uint64_t costly_start(struct gpuvm_va_index *idx, unsigned int *cost)
{
	uint64_t best = 0;
	unsigned int i, c;

	*cost = 0;
	for (i = 0; i < 20000 && *cost <= idx->height; i++) {
		uint64_t s = rnd() >> 20 << 1;

		c = gpuvm_va_index_insert_cost(idx, s);
		if (c > *cost && !gpuvm_va_index_first_overlap(idx, s, s + 1)) {
			*cost = c;
			best = s;
		}
	}
	return best;
}

/* Insert [s, s + 1) while any allocation would fail; it must not need one. */
static void insert_without_memory(struct gpuvm_va_index *idx, uint64_t s,
				  void *item)
{
	gpuvm_alloc_fail_nth(1);
	assert_int_equal(gpuvm_va_index_insert(idx, s, s + 1, item), 0);
	assert_false(gpuvm_alloc_fault_fired());
	gpuvm_alloc_fail_nth(0);
}

static void test_reserve_makes_inserts_infallible(void **state)
{
	struct gpuvm_va_index idx;
	unsigned int i, n = 8, cost, taken = 0, before, root_splits = 0;
	uintptr_t id = 1;

	rng_state = harness_seed();
	gpuvm_va_index_init(&idx);
	/* Even the first insert into an empty index. */
	assert_int_equal(gpuvm_va_index_reserve(&idx, 1), 0);
	assert_int_equal(idx.nr_spare, 2);
	insert_without_memory(&idx, 10, ITEM(id++));
	assert_int_equal(idx.nr_spare, 1);

	/* Every insert that splits up to the root, to height 4, with a
	 * reserve for one insert made just before. */
	while (idx.height < 4) {
		uint64_t s = rnd() >> 20 << 1;

		cost = gpuvm_va_index_insert_cost(&idx, s);
		if (cost == idx.height + 1 &&
		    !gpuvm_va_index_first_overlap(&idx, s, s + 1)) {
			assert_int_equal(gpuvm_va_index_reserve(&idx, 1), 0);
			before = idx.nr_spare;
			insert_without_memory(&idx, s, ITEM(id++));
			assert_int_equal(idx.nr_spare, before - cost);
			root_splits++;
			continue;
		}
		if (gpuvm_va_index_insert(&idx, s, s + 1, ITEM(id)) == 0)
			id++;
	}
	assert_int_equal(root_splits, 3);

	/* A reserve for n inserts covers n splitting inserts in a row. */
	assert_int_equal(gpuvm_va_index_reserve(&idx, 0), 0);
	assert_int_equal(gpuvm_va_index_reserve(&idx, n), 0);
	before = idx.nr_spare;
	assert_true(before >= n * (idx.height + 1));
	for (i = 0; i < n; i++) {
		uint64_t s = costly_start(&idx, &cost);

		insert_without_memory(&idx, s, ITEM(id++));
		taken += cost;
		assert_int_equal(idx.nr_spare, before - taken);
	}
	assert_true(taken > 0);
	assert_true(gpuvm_va_index_validate(&idx));

	/* A reserve that already suffices allocates nothing. */
	gpuvm_alloc_fail_nth(1);
	assert_int_equal(gpuvm_va_index_reserve(&idx, 1), 0);
	assert_false(gpuvm_alloc_fault_fired());
	gpuvm_alloc_fail_nth(0);
	/* Destroy frees the leftovers (the harness checks). */
	gpuvm_va_index_destroy(&idx);
	assert_int_equal(idx.nr_spare, 0);
}

static void test_reserve_sizes(void **state)
{
	struct gpuvm_va_index idx;
	long live = gpuvm_alloc_live();

	gpuvm_va_index_init(&idx);
	assert_int_equal(gpuvm_va_index_reserve(&idx, 0), 0);
	assert_int_equal(gpuvm_alloc_live(), live);
	/* n * (height + 1), an empty index counting as height 1, and one
	 * level more per factor of 15 beyond 30 inserts. */
	assert_int_equal(gpuvm_va_index_reserve(&idx, 30), 0);
	assert_int_equal(idx.nr_spare, 30 * 2);
	assert_int_equal(gpuvm_va_index_reserve(&idx, 31), 0);
	assert_int_equal(idx.nr_spare, 31 * 3);
	assert_int_equal(gpuvm_va_index_reserve(&idx, 451), 0);
	assert_int_equal(idx.nr_spare, 451 * 4);
	/* Only tops up: a smaller request changes nothing. */
	assert_int_equal(gpuvm_va_index_reserve(&idx, 1), 0);
	assert_int_equal(idx.nr_spare, 451 * 4);
	assert_int_equal(gpuvm_alloc_live(), live + 451 * 4);
	assert_true(gpuvm_va_index_validate(&idx));
	gpuvm_va_index_destroy(&idx);
	assert_int_equal(gpuvm_alloc_live(), live);
}

struct reserve_sweep {
	struct gpuvm_va_index *idx;
	unsigned int spare_before;
	long live;
};

static int sweep_reserve(void *arg)
{
	struct reserve_sweep *rs = arg;

	return gpuvm_va_index_reserve(rs->idx, 3);
}

static void sweep_reserve_check(void *arg, unsigned long n, int ret)
{
	struct reserve_sweep *rs = arg;

	assert_int_equal(ret, -ENOMEM);
	assert_int_equal(rs->idx->nr_spare, rs->spare_before);
	assert_int_equal(gpuvm_alloc_live(), rs->live);
	assert_true(gpuvm_va_index_validate(rs->idx));
}

static void test_reserve_fault_sweep(void **state)
{
	struct gpuvm_va_index idx;
	struct reserve_sweep rs = { .idx = &idx };
	int ret;

	fill_grid(&idx, 2000); /* height 3 */
	assert_int_equal(idx.height, 3);
	assert_int_equal(idx.nr_spare, 0);
	rs.spare_before = idx.nr_spare;
	rs.live = gpuvm_alloc_live();
	ret = gpuvm_alloc_fault_sweep(sweep_reserve, sweep_reserve_check, &rs,
				      0);
	/* 3 inserts at height 3: 3 * (3 + 1) nodes. */
	assert_int_equal(ret, 12);
	assert_int_equal(idx.nr_spare, 12);
	assert_true(gpuvm_va_index_validate(&idx));
	gpuvm_va_index_destroy(&idx);
}

/* Inserts never block: a split inside a fence signalling section is fine. */
static void test_insert_in_signalling_section(void **state)
{
	struct gpuvm_va_index idx;
	bool was_on = gpuvm_debug_enabled(), cookie;
	unsigned int i, n = 200;

	gpuvm_debug_enable(true);
	gpuvm_va_index_init(&idx);
	cookie = gpuvm_dma_fence_begin_signalling();
	for (i = 0; i < n; i++)
		assert_int_equal(gpuvm_va_index_insert(&idx, GRID_START(i),
						       GRID_END(i),
						       ITEM(i + 1)),
				 0);
	for (i = 0; i < n; i++)
		assert_ptr_equal(gpuvm_va_index_remove(&idx, GRID_START(i)),
				 ITEM(i + 1));
	gpuvm_dma_fence_end_signalling(cookie);
	gpuvm_debug_enable(was_on);
	assert_int_equal(harness_warnings(NULL), 0);
	gpuvm_va_index_destroy(&idx);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_empty),
		harness_test(test_insert_invalid),
		harness_test(test_overlap_rules),
		harness_test(test_address_space_edges),
		harness_test(test_first_overlap),
		harness_test(test_neighbours),
		harness_test(test_queries_across_leaves),
		harness_test(test_remove_orders),
		harness_test(test_remove_never_allocates),
		harness_test(test_destroy_frees_everything),
		harness_test(test_iter_all_and_range),
		harness_test(test_iter_remove_every_other),
		harness_test(test_iter_remove_all),
		harness_test(test_iter_remove_and_replace),
		harness_test(test_random_differential),
		harness_test(test_random_differential_backref),
		harness_test(test_finger_inserts),
		harness_test(test_remove_by_item_leaves_no_trace),
		harness_test(test_dead_entries_at_leaf_edges),
		harness_test(test_dead_entry_makes_room),
		harness_test(test_insert_fault_sweep),
		harness_test(test_reserve_makes_inserts_infallible),
		harness_test(test_reserve_sizes),
		harness_test(test_reserve_fault_sweep),
		harness_test(test_insert_in_signalling_section),
	};

	return harness_run("gpuvm/va_index", tests, argc, argv);
}
