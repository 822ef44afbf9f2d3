// SPDX-License-Identifier: MIT
/*
 * The checker is thread-safe: many threads taking locks in one consistent
 * order learn the graph concurrently without a false report, and a thread
 * that breaks the order is reported exactly once.
 */
#include "harness.h"

#define NR_THREADS 4
#define NR_LEVELS 6
#define ROUNDS 2000

static struct gpuvm_lock_class level_class[NR_LEVELS] = {
	GPUVM_LOCK_CLASS_INIT("level0", 0), GPUVM_LOCK_CLASS_INIT("level1", 0),
	GPUVM_LOCK_CLASS_INIT("level2", 0), GPUVM_LOCK_CLASS_INIT("level3", 0),
	GPUVM_LOCK_CLASS_INIT("level4", 0), GPUVM_LOCK_CLASS_INIT("level5", 0),
};

struct shared {
	struct gpuvm_mutex locks[NR_THREADS][NR_LEVELS];
	unsigned long acquisitions[NR_THREADS];
	unsigned int bad_held[NR_THREADS];
};

static void ordered_worker(unsigned int t, void *arg)
{
	struct shared *s = arg;
	unsigned int r, l, taken;

	for (r = 0; r < ROUNDS; r++) {
		/* Each thread uses its own instances; classes are shared.
		 * Levels are skipped in varying patterns, always ascending. */
		taken = 0;
		for (l = r % 2; l < NR_LEVELS; l += 1 + (r % 3 == 0)) {
			gpuvm_mutex_lock(&s->locks[t][l]);
			taken++;
		}
		s->acquisitions[t] += taken;
		if (gpuvm_lock_held_count() != taken)
			s->bad_held[t]++;
		for (l = NR_LEVELS; l-- > 0;)
			if (gpuvm_mutex_is_locked(&s->locks[t][l]) &&
			    gpuvm_lock_is_held(&s->locks[t][l].dep_map))
				gpuvm_mutex_unlock(&s->locks[t][l]);
		if (gpuvm_lock_held_count() != 0)
			s->bad_held[t]++;
	}
}

static void test_debug_threads_consistent_order(void **state)
{
	static struct shared s;
	unsigned int t, l;

	for (t = 0; t < NR_THREADS; t++)
		for (l = 0; l < NR_LEVELS; l++)
			gpuvm_mutex_init(&s.locks[t][l], NULL, &level_class[l]);

	harness_run_threads(NR_THREADS, ordered_worker, &s);

	for (t = 0; t < NR_THREADS; t++) {
		assert_int_equal(s.bad_held[t], 0);
		assert_true(s.acquisitions[t] >= ROUNDS);
		for (l = 0; l < NR_LEVELS; l++)
			gpuvm_mutex_destroy(&s.locks[t][l]);
	}
	assert_int_equal(harness_warnings(NULL), 0);
}

static void reversed_worker(unsigned int t, void *arg)
{
	struct gpuvm_mutex *locks = arg;
	unsigned int r;

	/* Every thread takes level5 then level0: one new, inverted edge. */
	for (r = 0; r < 100; r++) {
		gpuvm_mutex_lock(&locks[2 * t + 1]);
		gpuvm_mutex_lock(&locks[2 * t]);
		gpuvm_mutex_unlock(&locks[2 * t]);
		gpuvm_mutex_unlock(&locks[2 * t + 1]);
	}
}

static void test_debug_threads_inversion_reported_once(void **state)
{
	struct gpuvm_mutex locks[2 * NR_THREADS], learn[2];
	unsigned int t;

	for (t = 0; t < NR_THREADS; t++) {
		gpuvm_mutex_init(&locks[2 * t], NULL, &level_class[0]);
		gpuvm_mutex_init(&locks[2 * t + 1], NULL, &level_class[5]);
	}
	/* Learn level0 -> level5 first, on instances of their own (so
	 * ThreadSanitizer sees no inversion); the workers invert it. */
	gpuvm_mutex_init(&learn[0], NULL, &level_class[0]);
	gpuvm_mutex_init(&learn[1], NULL, &level_class[5]);
	gpuvm_mutex_lock(&learn[0]);
	gpuvm_mutex_lock(&learn[1]);
	gpuvm_mutex_unlock(&learn[1]);
	gpuvm_mutex_unlock(&learn[0]);
	gpuvm_mutex_destroy(&learn[0]);
	gpuvm_mutex_destroy(&learn[1]);
	harness_run_threads(NR_THREADS, reversed_worker, locks);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_ORDER), 1);
	for (t = 0; t < 2 * NR_THREADS; t++)
		gpuvm_mutex_destroy(&locks[t]);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_debug_threads_consistent_order),
		harness_test(test_debug_threads_inversion_reported_once),
	};

	return harness_run("gpuvm/debug-threads", tests, argc, argv);
}
