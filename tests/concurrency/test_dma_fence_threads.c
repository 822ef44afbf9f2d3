// SPDX-License-Identifier: MIT
/*
 * dma_fence and dma_resv across threads: waits against signals, interrupts,
 * callback registration racing the signal, and lockless reservation readers
 * racing writers that reallocate and overwrite the fence list.
 *
 * Workers record what they saw; the main thread asserts after joining.
 * Run under ThreadSanitizer as well (see the README / helper notes).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gpuvm/testing.h>
#include "harness.h"
#include "rcu_internal.h"

#define MS 1000000LL

static int threads_teardown(void **state)
{
	gpuvm_rcu_barrier();
	return harness_teardown(state);
}

#define thread_test(fn) \
	cmocka_unit_test_setup_teardown(fn, harness_setup, threads_teardown)

static const char *mock_name(struct gpuvm_dma_fence *f)
{
	return "mock";
}

static const struct gpuvm_dma_fence_ops mock_ops = {
	.get_driver_name = mock_name,
	.get_timeline_name = mock_name,
};

/* No cmocka assertion: usable in workers. NULL when out of memory. */
static struct gpuvm_dma_fence *new_fence(uint64_t context, uint64_t seqno)
{
	struct gpuvm_dma_fence *f = gpuvm_kzalloc(sizeof(*f), GPUVM_GFP_KERNEL);

	if (f)
		gpuvm_dma_fence_init(f, &mock_ops, NULL, context, seqno);
	return f;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = { ns / 1000000000LL, ns % 1000000000LL };

	nanosleep(&ts, NULL);
}

/* ---- wait against signal ------------------------------------------------ */

#define WAITERS 3
#define WAIT_ROUNDS 200

struct wait_round {
	struct gpuvm_dma_fence *fence;
	int64_t ret[WAITERS + 1];
};

static void wait_round_worker(unsigned int i, void *arg)
{
	struct wait_round *r = arg;
	int spins;

	if (i == 0) {
		/* The signaller: give the waiters a moment, sometimes. */
		for (spins = rand() % 4; spins > 0; spins--)
			sched_yield();
		r->ret[0] = gpuvm_dma_fence_signal(r->fence);
		return;
	}
	switch (i % 3) {
	case 0:
		r->ret[i] = gpuvm_dma_fence_wait(r->fence, false) == 0 ? 1 : -1;
		break;
	case 1:
		r->ret[i] =
			gpuvm_dma_fence_wait_timeout(r->fence, true, 5000 * MS);
		break;
	default:
		r->ret[i] = gpuvm_dma_fence_wait_timeout(
			r->fence, false, GPUVM_MAX_SCHEDULE_TIMEOUT);
		break;
	}
}

static void test_wait_vs_signal(void **state)
{
	int round, i;

	srand(1);
	for (round = 0; round < WAIT_ROUNDS; round++) {
		struct wait_round r = { .fence = new_fence(1, 1) };

		assert_non_null(r.fence);
		harness_run_threads(WAITERS + 1, wait_round_worker, &r);
		assert_int_equal(r.ret[0], 0);
		for (i = 1; i <= WAITERS; i++)
			assert_true(r.ret[i] > 0);
		assert_true(gpuvm_list_empty(&r.fence->cb_list));
		gpuvm_dma_fence_put(r.fence);
	}
}

/* ---- interrupts --------------------------------------------------------- */

struct intr_worker {
	struct gpuvm_dma_fence *fence;
	struct gpuvm_dma_resv *resv;
	int mode;
	bool started; /* atomic */
	int64_t ret;
};

static void *intr_worker_main(void *arg)
{
	struct intr_worker *w = arg;

	__atomic_store_n(&w->started, true, __ATOMIC_RELEASE);
	switch (w->mode) {
	case 0:
		w->ret = gpuvm_dma_fence_wait(w->fence, true);
		break;
	case 1:
		w->ret = gpuvm_dma_fence_wait_timeout(w->fence, true,
						      10000 * MS);
		break;
	case 2:
		w->ret = gpuvm_dma_resv_wait_timeout(
			w->resv, GPUVM_DMA_RESV_USAGE_BOOKKEEP, true,
			GPUVM_MAX_SCHEDULE_TIMEOUT);
		break;
	default:
		/* Uninterruptible: the interrupt stays pending. */
		w->ret = gpuvm_dma_fence_wait_timeout(w->fence, false, 50 * MS);
		break;
	}
	return NULL;
}

static int64_t run_interrupted(struct intr_worker *w, bool settle)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, intr_worker_main, w), 0);
	while (!__atomic_load_n(&w->started, __ATOMIC_ACQUIRE))
		sched_yield();
	if (settle)
		sleep_ns(2 * MS); /* most likely parked by now */
	gpuvm_interrupt_thread(t);
	pthread_join(t, NULL);
	return w->ret;
}

static void test_interruptible_wait_interrupted(void **state)
{
	struct gpuvm_dma_fence *f = new_fence(1, 1);
	struct gpuvm_dma_resv resv;
	int round;

	assert_non_null(f);
	gpuvm_dma_resv_init(&resv);
	assert_int_equal(gpuvm_dma_resv_lock(&resv, NULL), 0);
	assert_int_equal(gpuvm_dma_resv_reserve_fences(&resv, 1), 0);
	gpuvm_dma_resv_add_fence(&resv, f, GPUVM_DMA_RESV_USAGE_READ);
	gpuvm_dma_resv_unlock(&resv);

	for (round = 0; round < 20; round++) {
		struct intr_worker w = { .fence = f,
					 .resv = &resv,
					 .mode = round % 3 };

		/* Before or after it parks: -EINTR either way. */
		assert_int_equal(run_interrupted(&w, round & 1), -EINTR);
	}
	{
		struct intr_worker w = { .fence = f, .mode = 3 };
		int64_t start = now_ns();

		assert_int_equal(run_interrupted(&w, true), 0);
		assert_true(now_ns() - start >= 50 * MS);
	}
	assert_true(gpuvm_list_empty(&f->cb_list));
	assert_false(gpuvm_dma_fence_test_signaled_flag(f));

	gpuvm_dma_fence_signal(f);
	gpuvm_dma_resv_fini(&resv);
	gpuvm_dma_fence_put(f);
}

/* ---- add_callback against signal ---------------------------------------- */

struct cb_race {
	struct gpuvm_dma_fence *fence;
	struct gpuvm_dma_fence_cb cb;
	int runs; /* atomic */
	int add_ret;
};

static void count_run(struct gpuvm_dma_fence *f, struct gpuvm_dma_fence_cb *cb)
{
	__atomic_fetch_add(&container_of(cb, struct cb_race, cb)->runs, 1,
			   __ATOMIC_RELAXED);
}

static void cb_race_worker(unsigned int i, void *arg)
{
	struct cb_race *r = arg;

	if (i == 0)
		r->add_ret = gpuvm_dma_fence_add_callback(r->fence, &r->cb,
							  count_run);
	else
		gpuvm_dma_fence_signal(r->fence);
}

static void test_add_callback_vs_signal(void **state)
{
	unsigned int round, added = 0, late = 0;

	for (round = 0; round < 300; round++) {
		struct cb_race r = { .fence = new_fence(1, 1) };

		assert_non_null(r.fence);
		harness_run_threads(2, cb_race_worker, &r);
		/* Registered: ran exactly once. Too late: never ran. */
		if (r.add_ret == 0) {
			assert_int_equal(r.runs, 1);
			added++;
		} else {
			assert_int_equal(r.add_ret, -ENOENT);
			assert_int_equal(r.runs, 0);
			late++;
		}
		gpuvm_dma_fence_put(r.fence);
	}
	print_message("# registered %u, too late %u\n", added, late);
}

/* ---- enable_signaling once, context_alloc disjoint ---------------------- */

struct enable_fence {
	struct gpuvm_dma_fence base;
	int calls; /* atomic */
};

static bool count_enable(struct gpuvm_dma_fence *f)
{
	__atomic_fetch_add(&((struct enable_fence *)f)->calls, 1,
			   __ATOMIC_RELAXED);
	return true;
}

static const struct gpuvm_dma_fence_ops enable_ops = {
	.get_driver_name = mock_name,
	.get_timeline_name = mock_name,
	.enable_signaling = count_enable,
};

struct enable_race {
	struct enable_fence *f;
	struct gpuvm_dma_fence_cb cbs[4];
};

static void noop_cb(struct gpuvm_dma_fence *f, struct gpuvm_dma_fence_cb *cb)
{
}

static void enable_race_worker(unsigned int i, void *arg)
{
	struct enable_race *r = arg;

	if (i & 1)
		gpuvm_dma_fence_enable_sw_signaling(&r->f->base);
	else
		gpuvm_dma_fence_add_callback(&r->f->base, &r->cbs[i], noop_cb);
}

static void test_enable_signaling_once_racing(void **state)
{
	int round;

	for (round = 0; round < 100; round++) {
		struct enable_race r;

		r.f = gpuvm_kzalloc(sizeof(*r.f), GPUVM_GFP_KERNEL);
		assert_non_null(r.f);
		gpuvm_dma_fence_init(&r.f->base, &enable_ops, NULL, 1, 1);
		harness_run_threads(4, enable_race_worker, &r);
		assert_int_equal(r.f->calls, 1);
		gpuvm_dma_fence_signal(&r.f->base);
		gpuvm_dma_fence_put(&r.f->base);
	}
}

#define CTX_THREADS 4
#define CTX_ALLOCS 2000

static uint64_t ctx_first[CTX_THREADS][CTX_ALLOCS];

static void ctx_worker(unsigned int i, void *arg)
{
	unsigned int k;

	for (k = 0; k < CTX_ALLOCS; k++)
		ctx_first[i][k] = gpuvm_dma_fence_context_alloc(3);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_context_alloc_disjoint(void **state)
{
	uint64_t *all = malloc(sizeof(ctx_first));
	size_t i, n = CTX_THREADS * CTX_ALLOCS;

	assert_non_null(all);
	harness_run_threads(CTX_THREADS, ctx_worker, NULL);
	memcpy(all, ctx_first, sizeof(ctx_first));
	qsort(all, n, sizeof(*all), cmp_u64);
	assert_true(all[0] != 0);
	for (i = 1; i < n; i++)
		assert_true(all[i] >= all[i - 1] + 3);
	free(all);
}

/* ---- lockless reservation readers against writers ----------------------- */

#define RING 8
#define READERS 2

struct resv_stress {
	struct gpuvm_dma_resv resv;
	bool stop; /* atomic */
	/* writer; writes and reallocs atomic (read by the clock) */
	struct gpuvm_dma_fence *ring[RING];
	unsigned long writes, reallocs, writer_errors;
	/* readers; reads atomic (read by the clock) */
	unsigned long reads[READERS + 1], restarts[READERS + 1];
	unsigned long reader_errors[READERS + 1];
};

static void stress_writer(struct resv_stress *s)
{
	uint64_t base = gpuvm_dma_fence_context_alloc(4);
	uint64_t seqno = 1;
	unsigned int slot = 0;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		struct gpuvm_dma_resv_list *before;
		struct gpuvm_dma_fence *f;
		unsigned int want = (s->writes % 16) ? 1 : 8 + s->writes % 64;
		int ret;

		f = new_fence(base + seqno % 4, seqno);
		if (!f) {
			s->writer_errors++;
			break;
		}
		seqno++;

		if (gpuvm_dma_resv_lock(&s->resv, NULL)) {
			s->writer_errors++;
			gpuvm_dma_fence_put(f);
			break;
		}
		before = s->resv.fences;
		ret = gpuvm_dma_resv_reserve_fences(&s->resv, want);
		if (ret) {
			s->writer_errors++;
		} else {
			gpuvm_dma_resv_add_fence(
				&s->resv, f,
				(enum gpuvm_dma_resv_usage)(seqno % 4));
			if (s->resv.fences != before)
				__atomic_fetch_add(&s->reallocs, 1,
						   __ATOMIC_RELAXED);
		}
		gpuvm_dma_resv_unlock(&s->resv);

		/* Keep a few alive unsignaled; retire the oldest. */
		if (s->ring[slot]) {
			gpuvm_dma_fence_signal(s->ring[slot]);
			gpuvm_dma_fence_put(s->ring[slot]);
		}
		s->ring[slot] = f;
		slot = (slot + 1) % RING;
		__atomic_fetch_add(&s->writes, 1, __ATOMIC_RELAXED);
	}
}

static void stress_reader(struct resv_stress *s, unsigned int i)
{
	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		struct gpuvm_dma_resv_iter cursor;
		struct gpuvm_dma_fence *f, **arr;
		unsigned int n, k;

		gpuvm_dma_resv_iter_begin(&cursor, &s->resv,
					  GPUVM_DMA_RESV_USAGE_BOOKKEEP);
		gpuvm_dma_resv_for_each_fence_unlocked(&cursor, f) {
			if (gpuvm_dma_resv_iter_is_restarted(&cursor))
				s->restarts[i]++;
			/* Held by the cursor: the count cannot be zero. */
			if (__atomic_load_n(&f->refcount, __ATOMIC_RELAXED) <=
			    0)
				s->reader_errors[i]++;
			if (gpuvm_dma_resv_iter_usage(&cursor) >
			    GPUVM_DMA_RESV_USAGE_BOOKKEEP)
				s->reader_errors[i]++;
		}
		gpuvm_dma_resv_iter_end(&cursor);

		if (gpuvm_dma_resv_get_fences(
			    &s->resv, GPUVM_DMA_RESV_USAGE_READ, &n, &arr)) {
			s->reader_errors[i]++;
		} else {
			for (k = 0; k < n; k++) {
				if (__atomic_load_n(&arr[k]->refcount,
						    __ATOMIC_RELAXED) <= 0)
					s->reader_errors[i]++;
				gpuvm_dma_fence_put(arr[k]);
			}
			gpuvm_kfree(arr);
		}
		gpuvm_dma_resv_test_signaled(&s->resv,
					     GPUVM_DMA_RESV_USAGE_KERNEL);
		if (gpuvm_dma_resv_wait_timeout(&s->resv,
						GPUVM_DMA_RESV_USAGE_WRITE,
						false, 100 * 1000) < 0)
			s->reader_errors[i]++;
		__atomic_fetch_add(&s->reads[i], 1, __ATOMIC_RELAXED);
	}
}

/* The writer reallocated and every reader finished a pass. */
static bool resv_stress_progressed(struct resv_stress *s)
{
	unsigned int i;

	if (!__atomic_load_n(&s->reallocs, __ATOMIC_RELAXED))
		return false;
	for (i = 1; i <= READERS; i++)
		if (!__atomic_load_n(&s->reads[i], __ATOMIC_RELAXED))
			return false;
	return true;
}

static void resv_stress_worker(unsigned int i, void *arg)
{
	struct resv_stress *s = arg;

	if (i == 0) {
		stress_writer(s);
		return;
	}
	if (i == READERS + 1) {
		/* The clock: 300 ms, longer on a slow machine until every
		 * thread made progress (at most 10 s more). */
		unsigned int k;

		sleep_ns(300 * MS);
		for (k = 0; k < 200 && !resv_stress_progressed(s); k++)
			sleep_ns(50 * MS);
		__atomic_store_n(&s->stop, true, __ATOMIC_RELEASE);
		return;
	}
	stress_reader(s, i);
}

static void test_unlocked_readers_vs_writer(void **state)
{
	struct resv_stress *s = calloc(1, sizeof(*s));
	unsigned int i;

	assert_non_null(s);
	gpuvm_dma_resv_init(&s->resv);
	harness_run_threads(READERS + 2, resv_stress_worker, s);

	print_message(
		"# writes %lu reallocs %lu reads %lu/%lu restarts %lu/%lu\n",
		s->writes, s->reallocs, s->reads[1], s->reads[2],
		s->restarts[1], s->restarts[2]);
	assert_int_equal(s->writer_errors, 0);
	assert_true(s->writes > 0);
	assert_true(s->reallocs > 0);
	for (i = 1; i <= READERS; i++) {
		assert_int_equal(s->reader_errors[i], 0);
		assert_true(s->reads[i] > 0);
	}

	for (i = 0; i < RING; i++) {
		if (s->ring[i]) {
			gpuvm_dma_fence_signal(s->ring[i]);
			gpuvm_dma_fence_put(s->ring[i]);
		}
	}
	assert_true(gpuvm_dma_resv_test_signaled(
		&s->resv, GPUVM_DMA_RESV_USAGE_BOOKKEEP));
	gpuvm_dma_resv_fini(&s->resv);
	free(s);
}

/* ---- get_rcu_safe against a replacing writer ---------------------------- */

struct slot_race {
	struct gpuvm_dma_fence *slot; /* RCU-published */
	bool stop; /* atomic */
	unsigned long total_gets; /* atomic: readers made progress */
	unsigned long gets[3], errors[3];
};

static void slot_race_worker(unsigned int i, void *arg)
{
	struct slot_race *r = arg;
	unsigned long k;

	if (i == 0) {
		/* Also keep going until the readers got a few fences: on a
		 * loaded machine they may not have been scheduled yet. */
		for (k = 0;
		     k < 20000 ||
		     (__atomic_load_n(&r->total_gets, __ATOMIC_RELAXED) < 100 &&
		      k < 50000000);
		     k++) {
			struct gpuvm_dma_fence *f = new_fence(1, k), *old;

			if (!f) {
				r->errors[0]++;
				break;
			}
			old = __atomic_exchange_n(&r->slot, f,
						  __ATOMIC_ACQ_REL);
			gpuvm_dma_fence_put(old);
		}
		__atomic_store_n(&r->stop, true, __ATOMIC_RELEASE);
		return;
	}
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		struct gpuvm_dma_fence *f =
			gpuvm_dma_fence_get_rcu_safe(&r->slot);

		if (!f)
			continue;
		if (__atomic_load_n(&f->refcount, __ATOMIC_RELAXED) <= 0 ||
		    f->context != 1)
			r->errors[i]++;
		gpuvm_dma_fence_put(f);
		r->gets[i]++;
		__atomic_fetch_add(&r->total_gets, 1, __ATOMIC_RELAXED);
	}
}

static void test_get_rcu_safe_vs_replace(void **state)
{
	struct slot_race r = { .slot = NULL };

	harness_run_threads(3, slot_race_worker, &r);
	assert_int_equal(r.errors[0] + r.errors[1] + r.errors[2], 0);
	assert_true(r.gets[1] + r.gets[2] > 0);
	gpuvm_dma_fence_put(r.slot);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		thread_test(test_wait_vs_signal),
		thread_test(test_interruptible_wait_interrupted),
		thread_test(test_add_callback_vs_signal),
		thread_test(test_enable_signaling_once_racing),
		thread_test(test_context_alloc_disjoint),
		thread_test(test_unlocked_readers_vs_writer),
		thread_test(test_get_rcu_safe_vs_replace),
	};

	return harness_run("gpuvm/dma_fence-threads", tests, argc, argv);
}
