// SPDX-License-Identifier: MIT
/* Hook points: park, wait for arrival, release; callbacks; hit counts. */
#include <pthread.h>

#include <gpuvm/testing.h>

#include "harness.h"

struct walker {
	int stage; /* 1 before the point, 2 after; atomic */
};

static void *walk(void *arg)
{
	struct walker *w = arg;

	__atomic_store_n(&w->stage, 1, __ATOMIC_SEQ_CST);
	gpuvm_hook("test:point");
	__atomic_store_n(&w->stage, 2, __ATOMIC_SEQ_CST);
	return NULL;
}

static void test_hook_unarmed_is_a_no_op(void **state)
{
	struct walker w = { 0 };

	walk(&w);
	assert_int_equal(w.stage, 2);
	assert_int_equal(gpuvm_hook_hits("test:point"), 0);
}

static void test_hook_parks_until_released(void **state)
{
	struct walker w[2] = { { 0 }, { 0 } };
	pthread_t t[2];
	int i;

	gpuvm_hook_park("test:point", 2);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, walk, &w[i]), 0);
	assert_true(gpuvm_hook_wait_parked("test:point", 2));
	/* Both are held at the point, past stage 1 and not at stage 2. */
	for (i = 0; i < 2; i++)
		assert_int_equal(__atomic_load_n(&w[i].stage, __ATOMIC_SEQ_CST),
				 1);
	assert_int_equal(gpuvm_hook_hits("test:point"), 2);
	gpuvm_hook_release("test:point");
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].stage, 2);
	}
	assert_int_equal(gpuvm_hook_hits("test:point"), 0); /* disarmed */
}

static void test_hook_parks_only_count_threads(void **state)
{
	struct walker first = { 0 }, second = { 0 };
	pthread_t t;

	gpuvm_hook_park("test:point", 1);
	assert_int_equal(pthread_create(&t, NULL, walk, &first), 0);
	assert_true(gpuvm_hook_wait_parked("test:point", 1));
	walk(&second); /* the second arrival passes straight through */
	assert_int_equal(second.stage, 2);
	assert_int_equal(gpuvm_hook_hits("test:point"), 2);
	gpuvm_hook_release("test:point");
	pthread_join(t, NULL);
	assert_int_equal(first.stage, 2);
}

static void count_calls(const char *name, void *arg)
{
	(*(int *)arg)++;
}

static void test_hook_callback_runs_on_each_hit(void **state)
{
	struct walker w = { 0 };
	int calls = 0;

	gpuvm_hook_set_callback("test:point", count_calls, &calls);
	walk(&w);
	walk(&w);
	gpuvm_hook("test:other"); /* another point is not affected */
	gpuvm_hook_release("test:point");
	walk(&w);
	assert_int_equal(calls, 2);
}

static void test_hook_reset_releases_everything(void **state)
{
	struct walker w = { 0 };
	pthread_t t;

	gpuvm_hook_park("test:point", 1);
	gpuvm_hook_park("test:other", 1);
	assert_int_equal(pthread_create(&t, NULL, walk, &w), 0);
	assert_true(gpuvm_hook_wait_parked("test:point", 1));
	gpuvm_hook_reset();
	pthread_join(t, NULL);
	assert_int_equal(w.stage, 2);
	assert_int_equal(gpuvm_hook_hits("test:other"), 0);
}

/* Park every arrival, let them go with unpark, keep counting after. */
static void test_hook_park_all_unpark_keeps_counting(void **state)
{
	struct walker w[3] = { { 0 }, { 0 }, { 0 } };
	pthread_t t[3];
	int i;

	gpuvm_hook_park("test:point", GPUVM_HOOK_PARK_ALL);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, walk, &w[i]), 0);
	assert_true(gpuvm_hook_wait_hits("test:point", 2));
	assert_true(gpuvm_hook_wait_parked("test:point", 2));
	assert_int_equal(__atomic_load_n(&w[0].stage, __ATOMIC_SEQ_CST), 1);
	assert_int_equal(__atomic_load_n(&w[1].stage, __ATOMIC_SEQ_CST), 1);
	gpuvm_hook_unpark("test:point");
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(w[0].stage, 2);

	/* Unparked, still armed: counted, not parked. */
	walk(&w[2]);
	assert_int_equal(w[2].stage, 2);
	assert_int_equal(gpuvm_hook_hits("test:point"), 3);

	/* Arming it again with nobody parked restarts the count. */
	gpuvm_hook_count("test:point");
	assert_int_equal(gpuvm_hook_hits("test:point"), 0);
	walk(&w[2]);
	assert_int_equal(gpuvm_hook_hits("test:point"), 1);
	gpuvm_hook_release("test:point");
	assert_int_equal(gpuvm_hook_hits("test:point"), 0);
	(void)t[2];
}

/* Waiting for zero hits returns at once. */
static void test_hook_wait_hits_zero_returns_at_once(void **state)
{
	gpuvm_hook_count("test:never");
	assert_true(gpuvm_hook_wait_hits("test:never", 0));
	gpuvm_hook_release("test:never");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_hook_unarmed_is_a_no_op),
		harness_test(test_hook_parks_until_released),
		harness_test(test_hook_parks_only_count_threads),
		harness_test(test_hook_callback_runs_on_each_hit),
		harness_test(test_hook_reset_releases_everything),
		harness_test(test_hook_park_all_unpark_keeps_counting),
		harness_test(test_hook_wait_hits_zero_returns_at_once),
	};

	return harness_run("gpuvm/hook", tests, argc, argv);
}
