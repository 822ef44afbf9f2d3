// SPDX-License-Identifier: MIT
/*
 * gpuvm_mutex under contention, with the checker off (the lock word's fast
 * path) and on (the checked path): mutual exclusion, sleepers woken, and
 * the word's state as gpuvm_mutex_is_locked() reports it.
 *
 * - counter: THREADS threads each add ITERS to a plain counter inside the
 *   lock; any lost update shows in the total, and the "inside" flag
 *   catches two threads in the section at once.
 * - sleepers: one thread holds the lock for a while (longer than the
 *   spin), so the others go to sleep on the word; every one must come
 *   back and get the lock once the holder lets go.
 * - trylock: fails while another thread holds the lock, succeeds after.
 */
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <gpuvm/mutex.h>
#include "harness.h"

#define THREADS 4
#define ITERS 50000
#define SLEEPERS 3

static struct gpuvm_lock_class test_class =
	GPUVM_LOCK_CLASS_INIT("test_mutex", 0);

struct shared {
	struct gpuvm_mutex lock;
	unsigned long counter;
	int inside; /* atomic: threads in the critical section */
	int overlaps; /* atomic: times two were inside together */
	int started; /* atomic */
	int acquired; /* atomic */
};

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void enter(struct shared *s)
{
	if (__atomic_fetch_add(&s->inside, 1, __ATOMIC_RELAXED) != 0)
		__atomic_fetch_add(&s->overlaps, 1, __ATOMIC_RELAXED);
}

static void leave(struct shared *s)
{
	__atomic_fetch_sub(&s->inside, 1, __ATOMIC_RELAXED);
}

static void counter_worker(unsigned int i, void *arg)
{
	struct shared *s = arg;
	unsigned int n;

	(void)i;
	for (n = 0; n < ITERS; n++) {
		gpuvm_mutex_lock(&s->lock);
		enter(s);
		s->counter++;
		if ((n & 1023) == 0)
			sched_yield(); /* a holder descheduled mid-section */
		leave(s);
		gpuvm_mutex_unlock(&s->lock);
	}
}

/*
 * Run @worker on @threads threads over a fresh mutex, with the checker
 * @checker; afterwards nobody may have overlapped in the section and the
 * mutex must be free. The caller checks what the workers counted.
 */
static void run_threads(struct shared *s, bool checker, unsigned int threads,
			void (*worker)(unsigned int i, void *arg))
{
	gpuvm_debug_enable(checker);
	gpuvm_mutex_init(&s->lock, "test", &test_class);
	harness_run_threads(threads, worker, s);
	assert_int_equal(s->overlaps, 0);
	assert_false(gpuvm_mutex_is_locked(&s->lock));
	gpuvm_mutex_destroy(&s->lock);
	gpuvm_debug_enable(true);
}

static void run_counter(bool checker)
{
	struct shared s = { 0 };

	run_threads(&s, checker, THREADS, counter_worker);
	assert_int_equal(s.counter, (unsigned long)THREADS * ITERS);
}

static void test_counter_checker_off(void **state)
{
	(void)state;
	run_counter(false);
}

static void test_counter_checker_on(void **state)
{
	(void)state;
	run_counter(true);
}

/* Thread 0 holds the lock while the others queue up behind it. */
static void sleeper_worker(unsigned int i, void *arg)
{
	struct shared *s = arg;

	if (i == 0) {
		gpuvm_mutex_lock(&s->lock);
		__atomic_store_n(&s->started, 1, __ATOMIC_RELEASE);
		sleep_ms(50); /* far past the spin: the others sleep */
		assert_true(gpuvm_mutex_is_locked(&s->lock));
		assert_int_equal(
			__atomic_load_n(&s->acquired, __ATOMIC_RELAXED), 0);
		gpuvm_mutex_unlock(&s->lock);
		return;
	}
	while (!__atomic_load_n(&s->started, __ATOMIC_ACQUIRE))
		sched_yield();
	gpuvm_mutex_lock(&s->lock);
	enter(s);
	__atomic_fetch_add(&s->acquired, 1, __ATOMIC_RELAXED);
	sleep_ms(2); /* the next sleeper must be woken by this unlock */
	leave(s);
	gpuvm_mutex_unlock(&s->lock);
}

static void run_sleepers(bool checker)
{
	struct shared s = { 0 };

	run_threads(&s, checker, SLEEPERS + 1, sleeper_worker);
	assert_int_equal(s.acquired, SLEEPERS);
}

static void test_sleepers_checker_off(void **state)
{
	(void)state;
	run_sleepers(false);
}

static void test_sleepers_checker_on(void **state)
{
	(void)state;
	run_sleepers(true);
}

static void trylock_worker(unsigned int i, void *arg)
{
	struct shared *s = arg;

	if (i == 0) {
		gpuvm_mutex_lock(&s->lock);
		__atomic_store_n(&s->started, 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&s->acquired, __ATOMIC_ACQUIRE) != 1)
			sched_yield();
		gpuvm_mutex_unlock(&s->lock);
		__atomic_store_n(&s->started, 2, __ATOMIC_RELEASE);
		return;
	}
	while (__atomic_load_n(&s->started, __ATOMIC_ACQUIRE) != 1)
		sched_yield();
	assert_false(gpuvm_mutex_trylock(&s->lock));
	__atomic_store_n(&s->acquired, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&s->started, __ATOMIC_ACQUIRE) != 2)
		sched_yield();
	assert_true(gpuvm_mutex_trylock(&s->lock));
	assert_true(gpuvm_mutex_is_locked(&s->lock));
	gpuvm_mutex_unlock(&s->lock);
}

static void test_trylock_checker_off(void **state)
{
	struct shared s = { 0 };

	(void)state;
	run_threads(&s, false, 2, trylock_worker);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_counter_checker_off),
		harness_test(test_counter_checker_on),
		harness_test(test_sleepers_checker_off),
		harness_test(test_sleepers_checker_on),
		harness_test(test_trylock_checker_off),
	};

	return harness_run("gpuvm/mutex-threads", tests, argc, argv);
}
