// SPDX-License-Identifier: MIT
/*
 * dma_fence: the kernel's dma-buf-fence selftest cases (DF-1 .. DF-12 of
 * the spec) and the extra cases the port adds. Fences are freed one RCU
 * grace period after their last put, so every test ends with an RCU
 * barrier (fence_teardown) before the harness counts live allocations.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gpuvm/testing.h>
#include "harness.h"
#include "rcu_internal.h"

#define MS 1000000LL

static int fence_teardown(void **state)
{
	gpuvm_rcu_barrier();
	return harness_teardown(state);
}

#define fence_test(fn) \
	cmocka_unit_test_setup_teardown(fn, harness_setup, fence_teardown)

/* ---- mock fences ---------------------------------------------------------- */

struct mock_fence {
	struct gpuvm_dma_fence base; /* first: freed through its address */
	int enable_calls; /* atomic */
	bool enable_result;
	bool hw_done; /* what the signaled op reports; atomic */
	int hw_error;
	int deadline_calls;
	int64_t deadline;
	int wait_calls;
};

static struct mock_fence *to_mock(struct gpuvm_dma_fence *f)
{
	return (struct mock_fence *)f;
}

static const char *mock_driver_name(struct gpuvm_dma_fence *f)
{
	return "mock";
}

static const char *mock_timeline_name(struct gpuvm_dma_fence *f)
{
	return "mock-timeline";
}

/* Names only, as the newest kernel selftest. */
static const struct gpuvm_dma_fence_ops mock_ops = {
	.get_driver_name = mock_driver_name,
	.get_timeline_name = mock_timeline_name,
};

static bool mock_enable_signaling(struct gpuvm_dma_fence *f)
{
	__atomic_fetch_add(&to_mock(f)->enable_calls, 1, __ATOMIC_RELAXED);
	return to_mock(f)->enable_result;
}

static bool mock_signaled(struct gpuvm_dma_fence *f)
{
	struct mock_fence *m = to_mock(f);

	if (!__atomic_load_n(&m->hw_done, __ATOMIC_ACQUIRE))
		return false;
	if (m->hw_error)
		gpuvm_dma_fence_set_error(f, m->hw_error);
	return true;
}

static void mock_set_deadline(struct gpuvm_dma_fence *f, int64_t deadline)
{
	to_mock(f)->deadline_calls++;
	to_mock(f)->deadline = deadline;
}

static const struct gpuvm_dma_fence_ops hw_ops = {
	.get_driver_name = mock_driver_name,
	.get_timeline_name = mock_timeline_name,
	.enable_signaling = mock_enable_signaling,
	.signaled = mock_signaled,
	.set_deadline = mock_set_deadline,
};

static struct mock_fence *mock_alloc(const struct gpuvm_dma_fence_ops *ops,
				     uint64_t context, uint64_t seqno)
{
	struct mock_fence *m = gpuvm_kzalloc(sizeof(*m), GPUVM_GFP_KERNEL);

	assert_non_null(m);
	m->enable_result = true;
	gpuvm_dma_fence_init(&m->base, ops, NULL, context, seqno);
	return m;
}

/* For worker threads: no cmocka assertion; NULL when out of memory. */
static struct gpuvm_dma_fence *mock_fence_nocheck(void)
{
	struct mock_fence *m = gpuvm_kzalloc(sizeof(*m), GPUVM_GFP_KERNEL);

	if (!m)
		return NULL;
	gpuvm_dma_fence_init(&m->base, &mock_ops, NULL, 0, 0);
	return &m->base;
}

static struct gpuvm_dma_fence *mock_fence(void)
{
	return &mock_alloc(&mock_ops, 0, 0)->base;
}

static int refcount(struct gpuvm_dma_fence *f)
{
	return __atomic_load_n(&f->refcount, __ATOMIC_RELAXED);
}

/* ---- simple callback ---------------------------------------------------- */

struct simple_cb {
	struct gpuvm_dma_fence_cb cb;
	bool seen;
};

static void simple_callback(struct gpuvm_dma_fence *f,
			    struct gpuvm_dma_fence_cb *cb)
{
	__atomic_store_n(&container_of(cb, struct simple_cb, cb)->seen, true,
			 __ATOMIC_SEQ_CST);
}

/* ---- DF-1 .. DF-11 ------------------------------------------------------ */

/* DF-1 */
static void test_sanitycheck(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();

	gpuvm_dma_fence_enable_sw_signaling(f);
	gpuvm_dma_fence_signal(f);
	gpuvm_dma_fence_put(f);
}

/* DF-2 */
static void test_signaling(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();

	gpuvm_dma_fence_enable_sw_signaling(f);
	assert_false(gpuvm_dma_fence_is_signaled(f));
	assert_ptr_equal(f->ops, &mock_ops);
	assert_false(gpuvm_dma_fence_check_and_signal(f));
	assert_true(gpuvm_dma_fence_is_signaled(f));
	assert_true(gpuvm_dma_fence_test_signaled_flag(f));
	/* Names-only ops are detached once the fence signals. */
	assert_null(f->ops);
	assert_true(gpuvm_dma_fence_check_and_signal(f));
	gpuvm_dma_fence_put(f);
}

/* DF-2, pre-KUnit form: first signal 0, then -EINVAL. */
static void test_signal_return_codes(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();

	assert_int_equal(gpuvm_dma_fence_signal(f), 0);
	assert_int_equal(gpuvm_dma_fence_signal(f), -EINVAL);
	assert_int_equal(gpuvm_dma_fence_signal(NULL), -EINVAL);
	gpuvm_dma_fence_lock(f);
	assert_int_equal(gpuvm_dma_fence_signal_locked(f), -EINVAL);
	gpuvm_dma_fence_unlock(f);
	gpuvm_dma_fence_put(f);
}

/* NULL counts as signaled for both variants; the locked one (which has
 * no lock to check) reports it instead of dereferencing it. */
static void test_check_and_signal_null(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();

	assert_true(gpuvm_dma_fence_check_and_signal(NULL));
	assert_true(gpuvm_dma_fence_check_and_signal_locked(NULL));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_FENCE_INVALID), 1);

	gpuvm_dma_fence_lock(f);
	assert_false(gpuvm_dma_fence_check_and_signal_locked(f));
	assert_true(gpuvm_dma_fence_check_and_signal_locked(f));
	gpuvm_dma_fence_unlock(f);
	assert_true(gpuvm_dma_fence_check_and_signal(f));
	gpuvm_dma_fence_put(f);
}

/* DF-3 */
static void test_add_callback(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();
	struct simple_cb cb = { .seen = false };

	assert_int_equal(
		gpuvm_dma_fence_add_callback(f, &cb.cb, simple_callback), 0);
	assert_false(cb.seen);
	gpuvm_dma_fence_signal(f);
	assert_true(cb.seen);
	gpuvm_dma_fence_put(f);
}

/* DF-4 */
static void test_late_add_callback(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();
	struct simple_cb cb = { .seen = false };

	gpuvm_dma_fence_enable_sw_signaling(f);
	gpuvm_dma_fence_signal(f);
	assert_int_equal(
		gpuvm_dma_fence_add_callback(f, &cb.cb, simple_callback),
		-ENOENT);
	gpuvm_dma_fence_signal(f);
	assert_false(cb.seen);
	/* The node was left empty: removing reports "not pending". */
	assert_false(gpuvm_dma_fence_remove_callback(f, &cb.cb));
	gpuvm_dma_fence_put(f);
}

/* DF-5 */
static void test_rm_callback(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();
	struct simple_cb cb = { .seen = false };

	assert_int_equal(
		gpuvm_dma_fence_add_callback(f, &cb.cb, simple_callback), 0);
	assert_true(gpuvm_dma_fence_remove_callback(f, &cb.cb));
	gpuvm_dma_fence_signal(f);
	assert_false(cb.seen);
	gpuvm_dma_fence_put(f);
}

/* DF-6 */
static void test_late_rm_callback(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();
	struct simple_cb cb = { .seen = false };

	assert_int_equal(
		gpuvm_dma_fence_add_callback(f, &cb.cb, simple_callback), 0);
	gpuvm_dma_fence_signal(f);
	assert_true(cb.seen);
	assert_false(gpuvm_dma_fence_remove_callback(f, &cb.cb));
	gpuvm_dma_fence_put(f);
}

/* DF-7 */
static void test_status(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();

	gpuvm_dma_fence_enable_sw_signaling(f);
	assert_int_equal(gpuvm_dma_fence_get_status(f), 0);
	gpuvm_dma_fence_signal(f);
	assert_int_equal(gpuvm_dma_fence_get_status(f), 1);
	gpuvm_dma_fence_put(f);
}

/* DF-8 */
static void test_error(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();

	gpuvm_dma_fence_enable_sw_signaling(f);
	gpuvm_dma_fence_set_error(f, -EIO);
	assert_int_equal(gpuvm_dma_fence_get_status(f), 0);
	gpuvm_dma_fence_signal(f);
	assert_int_equal(gpuvm_dma_fence_get_status(f), -EIO);
	gpuvm_dma_fence_put(f);
}

/* DF-9 */
static void test_wait(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();

	gpuvm_dma_fence_enable_sw_signaling(f);
	assert_int_equal(gpuvm_dma_fence_wait_timeout(f, false, 0), 0);
	gpuvm_dma_fence_signal(f);
	assert_int_equal(gpuvm_dma_fence_wait_timeout(f, false, 0), 1);
	gpuvm_dma_fence_signal(f); /* cleanup signal: idempotent */
	gpuvm_dma_fence_put(f);
}

/* A one-shot timer that signals a fence: a thread sleeping until due. */
struct fence_timer {
	pthread_t thread;
	struct gpuvm_dma_fence *fence;
	int64_t delay_ns;
	bool fired; /* atomic */
};

static void *fence_timer_main(void *arg)
{
	struct fence_timer *t = arg;
	struct timespec ts = { .tv_sec = t->delay_ns / 1000000000LL,
			       .tv_nsec = t->delay_ns % 1000000000LL };

	nanosleep(&ts, NULL);
	gpuvm_dma_fence_signal(t->fence);
	__atomic_store_n(&t->fired, true, __ATOMIC_RELEASE);
	return NULL;
}

static void fence_timer_arm(struct fence_timer *t, struct gpuvm_dma_fence *f,
			    int64_t delay_ns)
{
	t->fence = f;
	t->delay_ns = delay_ns;
	t->fired = false;
	assert_int_equal(pthread_create(&t->thread, NULL, fence_timer_main, t),
			 0);
}

/* DF-10 */
static void test_wait_timeout(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();
	struct fence_timer timer;
	int64_t ret;
	bool skipped = false;

	gpuvm_dma_fence_enable_sw_signaling(f);
	assert_int_equal(gpuvm_dma_fence_wait_timeout(f, false, 10 * MS), 0);

	fence_timer_arm(&timer, f, 10 * MS);
	ret = gpuvm_dma_fence_wait_timeout(f, false, 1000 * MS);
	if (ret == 0 && !__atomic_load_n(&timer.fired, __ATOMIC_ACQUIRE))
		skipped = true; /* the timer did not fire in time */
	else
		assert_true(ret > 0 && ret <= 1000 * MS);

	pthread_join(timer.thread, NULL);
	gpuvm_dma_fence_signal(f);
	gpuvm_dma_fence_put(f);
	if (skipped)
		skip();
}

/* DF-11 */
static void test_stub(void **state)
{
	struct gpuvm_dma_fence *f[64];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(f); i++) {
		f[i] = gpuvm_dma_fence_get_stub();
		assert_true(gpuvm_dma_fence_is_signaled(f[i]));
		assert_int_equal(f[i]->context, 0);
	}
	for (i = 0; i < ARRAY_SIZE(f); i++)
		gpuvm_dma_fence_put(f[i]);
}

/* ---- DF-12 race_signal_callback ----------------------------------------- */

struct race_shared {
	struct gpuvm_dma_fence *slot[2]; /* RCU-published */
	bool before;
	bool stop; /* atomic */
};

struct race_result {
	unsigned long pass, miss;
	int errors;
};

struct race_worker {
	struct race_shared *shared;
	struct race_result result;
	unsigned int id;
};

static void *race_thread(void *arg)
{
	struct race_worker *w = arg;
	struct race_shared *s = w->shared;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		struct gpuvm_dma_fence *f1, *f2;
		struct simple_cb cb = { .seen = false };
		bool seen;

		f1 = mock_fence_nocheck();
		if (!f1) {
			w->result.errors++;
			break;
		}
		gpuvm_dma_fence_enable_sw_signaling(f1);
		__atomic_store_n(&s->slot[w->id], f1, __ATOMIC_RELEASE);

		/* Spin until the other thread published a fence we can get. */
		do {
			f2 = gpuvm_dma_fence_get_rcu_safe(&s->slot[!w->id]);
		} while (!f2 && !__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE));

		if (s->before)
			gpuvm_dma_fence_signal(f1);

		if (!f2 ||
		    gpuvm_dma_fence_add_callback(f2, &cb.cb, simple_callback)) {
			w->result.miss++;
			cb.seen = true;
		}

		if (!s->before)
			gpuvm_dma_fence_signal(f1);

		seen = __atomic_load_n(&cb.seen, __ATOMIC_SEQ_CST);
		if (!seen) {
			gpuvm_dma_fence_wait(f2, false);
			/* Any running callback finished once we get the lock. */
			gpuvm_dma_fence_lock(f2);
			gpuvm_dma_fence_unlock(f2);
			seen = __atomic_load_n(&cb.seen, __ATOMIC_SEQ_CST);
		}
		if (!seen)
			w->result.errors++;

		gpuvm_dma_fence_put(f2);
		__atomic_store_n(&s->slot[w->id], NULL, __ATOMIC_RELEASE);
		/* Readers may still hold f1 via the slot until they put it. */
		gpuvm_dma_fence_put(f1);
		__atomic_fetch_add(&w->result.pass, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Both workers completed a round (slow runs, e.g. valgrind, need longer). */
static bool race_both_passed(struct race_worker *w)
{
	return __atomic_load_n(&w[0].result.pass, __ATOMIC_RELAXED) &&
	       __atomic_load_n(&w[1].result.pass, __ATOMIC_RELAXED);
}

static void test_race_signal_callback(void **state)
{
	int pass;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		skip();

	for (pass = 0; pass < 2; pass++) {
		struct race_shared shared = { .before = pass == 1 };
		struct race_worker w[2];
		pthread_t t[2];
		struct timespec run = { 0, 50 * MS };
		int i;

		for (i = 0; i < 2; i++) {
			w[i] = (struct race_worker){ .shared = &shared,
						     .id = (unsigned int)i };
			assert_int_equal(
				pthread_create(&t[i], NULL, race_thread, &w[i]),
				0);
		}
		nanosleep(&run, NULL);
		for (i = 0; i < 200 && !race_both_passed(w); i++)
			nanosleep(&run, NULL); /* at most 10 s more */
		__atomic_store_n(&shared.stop, true, __ATOMIC_RELEASE);
		for (i = 0; i < 2; i++)
			pthread_join(t[i], NULL);

		for (i = 0; i < 2; i++) {
			assert_int_equal(w[i].result.errors, 0);
			assert_true(w[i].result.pass > 0);
			assert_true(w[i].result.miss <= w[i].result.pass);
		}
	}
}

/* ---- extra: callbacks --------------------------------------------------- */

struct order_cb {
	struct gpuvm_dma_fence_cb cb;
	int id;
	int *log;
	int *n;
	bool lock_held;
};

static void order_callback(struct gpuvm_dma_fence *f,
			   struct gpuvm_dma_fence_cb *cb)
{
	struct order_cb *o = container_of(cb, struct order_cb, cb);

	o->log[(*o->n)++] = o->id;
	o->lock_held = gpuvm_lock_is_held(&f->lock->dep_map);
}

/* Callbacks run once each, in registration order, with the lock held. */
static void test_callbacks_fifo_once_locked(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();
	struct order_cb cbs[5];
	int log[16], n = 0, i;

	for (i = 0; i < 5; i++) {
		cbs[i] = (struct order_cb){ .id = i, .log = log, .n = &n };
		assert_int_equal(gpuvm_dma_fence_add_callback(f, &cbs[i].cb,
							      order_callback),
				 0);
	}
	/* Removing one from the middle keeps the others in order. */
	assert_true(gpuvm_dma_fence_remove_callback(f, &cbs[2].cb));

	gpuvm_dma_fence_signal(f);
	gpuvm_dma_fence_signal(f);
	assert_int_equal(n, 4);
	assert_int_equal(log[0], 0);
	assert_int_equal(log[1], 1);
	assert_int_equal(log[2], 3);
	assert_int_equal(log[3], 4);
	for (i = 0; i < 5; i++) {
		if (i != 2)
			assert_true(cbs[i].lock_held);
		assert_false(gpuvm_dma_fence_remove_callback(f, &cbs[i].cb));
	}
	gpuvm_dma_fence_put(f);
}

static void test_add_callback_invalid(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();
	struct simple_cb cb;

	assert_int_equal(gpuvm_dma_fence_add_callback(f, &cb.cb, NULL),
			 -EINVAL);
	assert_int_equal(
		gpuvm_dma_fence_add_callback(NULL, &cb.cb, simple_callback),
		-EINVAL);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_FENCE_INVALID), 2);
	gpuvm_dma_fence_put(f);
}

struct status_cb {
	struct gpuvm_dma_fence_cb cb;
	int status;
};

static void status_callback(struct gpuvm_dma_fence *f,
			    struct gpuvm_dma_fence_cb *cb)
{
	container_of(cb, struct status_cb, cb)->status =
		gpuvm_dma_fence_get_status_locked(f);
}

/* The last put of an unsignaled fence with a pending callback signals it
 * with -EDEADLK, so that waiter is not left hanging. */
static void test_release_pending_callback(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();
	struct status_cb cb = { .status = 0 };

	assert_int_equal(
		gpuvm_dma_fence_add_callback(f, &cb.cb, status_callback), 0);
	gpuvm_dma_fence_put(f);
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_FENCE_RELEASE_PENDING), 1);
	assert_int_equal(cb.status, -EDEADLK);
}

/* ---- extra: enable_signaling and the signaled op ------------------------ */

static void test_enable_signaling_once(void **state)
{
	struct mock_fence *m = mock_alloc(&hw_ops, 1, 1);
	struct simple_cb cb1, cb2;

	gpuvm_dma_fence_enable_sw_signaling(&m->base);
	gpuvm_dma_fence_enable_sw_signaling(&m->base);
	assert_int_equal(gpuvm_dma_fence_add_callback(&m->base, &cb1.cb,
						      simple_callback),
			 0);
	assert_int_equal(gpuvm_dma_fence_wait_timeout(&m->base, false, 0), 0);
	assert_int_equal(m->enable_calls, 1);
	gpuvm_dma_fence_signal(&m->base);
	assert_int_equal(gpuvm_dma_fence_add_callback(&m->base, &cb2.cb,
						      simple_callback),
			 -ENOENT);
	assert_int_equal(m->enable_calls, 1);
	gpuvm_dma_fence_put(&m->base);
}

/* enable_signaling reporting "already passed" makes the core signal. */
static void test_enable_signaling_false_signals(void **state)
{
	struct mock_fence *m = mock_alloc(&hw_ops, 1, 1);
	struct simple_cb cb = { .seen = false };

	m->enable_result = false;
	assert_int_equal(
		gpuvm_dma_fence_add_callback(&m->base, &cb.cb, simple_callback),
		-ENOENT);
	assert_false(cb.seen);
	assert_true(gpuvm_dma_fence_test_signaled_flag(&m->base));
	assert_int_equal(m->enable_calls, 1);
	gpuvm_dma_fence_put(&m->base);
}

/* is_signaled consults the signaled op and signals as a side effect;
 * test_signaled_flag does not. The op may set the error. */
static void test_signaled_op(void **state)
{
	struct mock_fence *m = mock_alloc(&hw_ops, 1, 1);
	struct simple_cb cb = { .seen = false };

	assert_int_equal(
		gpuvm_dma_fence_add_callback(&m->base, &cb.cb, simple_callback),
		0);
	assert_false(gpuvm_dma_fence_is_signaled(&m->base));
	m->hw_error = -ECANCELED;
	__atomic_store_n(&m->hw_done, true, __ATOMIC_RELEASE);
	assert_false(gpuvm_dma_fence_test_signaled_flag(&m->base));
	assert_false(cb.seen);
	assert_true(gpuvm_dma_fence_is_signaled(&m->base));
	assert_true(gpuvm_dma_fence_test_signaled_flag(&m->base));
	assert_true(cb.seen);
	assert_int_equal(gpuvm_dma_fence_get_status(&m->base), -ECANCELED);
	gpuvm_dma_fence_put(&m->base);
}

/* ---- extra: errors, timestamps, names ----------------------------------- */

/* Debug check: an error set after the signal warns and is ignored. */
static void test_set_error_after_signal(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();

	gpuvm_dma_fence_signal(f);
	gpuvm_dma_fence_set_error(f, -EIO);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_FENCE_ERROR), 1);
	assert_int_equal(harness_warnings(NULL), 0);
	assert_int_equal(gpuvm_dma_fence_get_status(f), 1);
	gpuvm_dma_fence_put(f);
}

static void test_set_error_invalid_value(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();

	gpuvm_dma_fence_set_error(f, 0);
	gpuvm_dma_fence_set_error(f, 5);
	gpuvm_dma_fence_set_error(f, -GPUVM_MAX_ERRNO - 1);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_FENCE_ERROR), 3);
	gpuvm_dma_fence_signal(f);
	assert_int_equal(gpuvm_dma_fence_get_status(f), 1);
	gpuvm_dma_fence_put(f);
}

static void test_timestamp(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence(), *g = mock_fence();
	struct timespec ts;
	int64_t before, after;

	assert_false(f->flags & (1ul << GPUVM_DMA_FENCE_FLAG_TIMESTAMP_BIT));
	assert_int_equal(gpuvm_dma_fence_signal_timestamp(f, 12345), 0);
	assert_true(f->flags & (1ul << GPUVM_DMA_FENCE_FLAG_TIMESTAMP_BIT));
	assert_int_equal(gpuvm_dma_fence_timestamp(f), 12345);
	/* A second signal changes nothing. */
	assert_int_equal(gpuvm_dma_fence_signal_timestamp(f, 999), -EINVAL);
	assert_int_equal(gpuvm_dma_fence_timestamp(f), 12345);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	before = ts.tv_sec * 1000000000LL + ts.tv_nsec;
	gpuvm_dma_fence_timestamp(g);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_FENCE_INVALID), 1);
	gpuvm_dma_fence_signal(g);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	after = ts.tv_sec * 1000000000LL + ts.tv_nsec;
	assert_true(gpuvm_dma_fence_timestamp(g) >= before);
	assert_true(gpuvm_dma_fence_timestamp(g) <= after);

	gpuvm_dma_fence_put(f);
	gpuvm_dma_fence_put(g);
}

static void test_names_and_describe(void **state)
{
	struct gpuvm_dma_fence *f = &mock_alloc(&mock_ops, 7, 42)->base;
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	assert_string_equal(gpuvm_dma_fence_driver_name(f), "mock");
	assert_string_equal(gpuvm_dma_fence_timeline_name(f), "mock-timeline");
	out = open_memstream(&buf, &len);
	assert_non_null(out);
	gpuvm_dma_fence_describe(f, out);
	fclose(out);
	assert_string_equal(buf, "mock mock-timeline seq 42 unsignalled\n");
	free(buf);

	gpuvm_dma_fence_signal(f);
	assert_string_equal(gpuvm_dma_fence_driver_name(f), "detached-driver");
	assert_string_equal(gpuvm_dma_fence_timeline_name(f),
			    "signaled-timeline");
	out = open_memstream(&buf, &len);
	assert_non_null(out);
	gpuvm_dma_fence_describe(f, out);
	fclose(out);
	assert_string_equal(
		buf, "detached-driver signaled-timeline seq 42 signalled\n");
	free(buf);
	gpuvm_dma_fence_put(f);
}

static void test_init_requires_names(void **state)
{
	static const struct gpuvm_dma_fence_ops no_names = { 0 };
	struct gpuvm_dma_fence *f = gpuvm_kzalloc(sizeof(*f), GPUVM_GFP_KERNEL);

	gpuvm_dma_fence_init(f, &no_names, NULL, 1, 1);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_FENCE_OPS), 1);
	gpuvm_dma_fence_signal(f);
	gpuvm_dma_fence_put(f);
}

static void test_private_stub(void **state)
{
	struct gpuvm_dma_fence *f = gpuvm_dma_fence_allocate_private_stub(77);

	assert_non_null(f);
	assert_true(gpuvm_dma_fence_is_signaled(f));
	assert_int_equal(gpuvm_dma_fence_timestamp(f), 77);
	assert_int_equal(gpuvm_dma_fence_get_status(f), 1);
	gpuvm_dma_fence_put(f);

	gpuvm_alloc_fail_nth(1);
	assert_null(gpuvm_dma_fence_allocate_private_stub(1));
	assert_true(gpuvm_alloc_fault_fired());
}

/* ---- extra: references -------------------------------------------------- */

static int static_release_calls;

static void static_release(struct gpuvm_dma_fence *f)
{
	static_release_calls++;
}

static const struct gpuvm_dma_fence_ops static_ops = {
	.get_driver_name = mock_driver_name,
	.get_timeline_name = mock_timeline_name,
	.release = static_release,
};

static void test_refcount(void **state)
{
	struct gpuvm_dma_fence f;

	static_release_calls = 0;
	gpuvm_dma_fence_init(&f, &static_ops, NULL, 1, 1);
	assert_int_equal(refcount(&f), 1);
	assert_ptr_equal(gpuvm_dma_fence_get(&f), &f);
	assert_int_equal(refcount(&f), 2);
	assert_null(gpuvm_dma_fence_get(NULL));
	gpuvm_dma_fence_put(NULL);
	gpuvm_dma_fence_put(&f);
	assert_int_equal(static_release_calls, 0);
	gpuvm_dma_fence_signal(&f);
	/* Ops with a release stay attached after the signal. */
	assert_ptr_equal(f.ops, &static_ops);
	gpuvm_dma_fence_put(&f);
	assert_int_equal(static_release_calls, 1);

	/* One put too many: reported, never released twice. */
	gpuvm_dma_fence_put(&f);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_REFCOUNT_UNDERFLOW),
			 1);
	assert_int_equal(static_release_calls, 1);

	/* A get from zero is a use after free. */
	gpuvm_dma_fence_init(&f, &static_ops, NULL, 1, 1);
	__atomic_store_n(&f.refcount, 0, __ATOMIC_RELAXED);
	gpuvm_dma_fence_get(&f);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_REFCOUNT_GET_ZERO),
			 1);
	assert_int_equal(static_release_calls, 1);
}

static void test_get_rcu(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence(), *slot = f, *empty = NULL;

	gpuvm_rcu_read_lock();
	assert_ptr_equal(gpuvm_dma_fence_get_rcu(f), f);
	gpuvm_rcu_read_unlock();
	assert_int_equal(refcount(f), 2);
	gpuvm_dma_fence_put(f);

	/* A dying fence (count at zero) is not resurrected. */
	__atomic_store_n(&f->refcount, 0, __ATOMIC_RELAXED);
	assert_null(gpuvm_dma_fence_get_rcu(f));
	assert_int_equal(refcount(f), 0);
	__atomic_store_n(&f->refcount, 1, __ATOMIC_RELAXED);

	assert_ptr_equal(gpuvm_dma_fence_get_rcu_safe(&slot), f);
	assert_int_equal(refcount(f), 2);
	assert_null(gpuvm_dma_fence_get_rcu_safe(&empty));
	gpuvm_dma_fence_put(f);
	gpuvm_dma_fence_put(f);
}

/* ---- extra: ordering ---------------------------------------------------- */

static void test_is_later_32bit_wrap(void **state)
{
	struct mock_fence *a = mock_alloc(&mock_ops, 5, 0xffffffffull);
	struct mock_fence *b = mock_alloc(&mock_ops, 5, 0x100000001ull);
	struct mock_fence *c = mock_alloc(&mock_ops, 5, 0xfffffffeull);

	/* Low 32 bits: 0xffffffff then 0x00000001 after the wrap. */
	assert_true(gpuvm_dma_fence_is_later(&b->base, &a->base));
	assert_false(gpuvm_dma_fence_is_later(&a->base, &b->base));
	assert_true(gpuvm_dma_fence_is_later(&a->base, &c->base));
	assert_false(gpuvm_dma_fence_is_later(&a->base, &a->base));
	assert_true(gpuvm_dma_fence_is_later_or_same(&a->base, &a->base));
	assert_false(gpuvm_dma_fence_is_later_or_same(&c->base, &a->base));
	assert_ptr_equal(gpuvm_dma_fence_later(&a->base, &b->base), &b->base);
	assert_ptr_equal(gpuvm_dma_fence_later(&c->base, &a->base), &a->base);
	gpuvm_dma_fence_signal(&b->base);
	assert_null(gpuvm_dma_fence_later(&a->base, &b->base));
	assert_true(gpuvm_dma_fence_seqno_is_later(&a->base, 0x80000000ull, 1));
	assert_false(
		gpuvm_dma_fence_seqno_is_later(&a->base, 0x80000001ull, 1));
	gpuvm_dma_fence_put(&a->base);
	gpuvm_dma_fence_put(&b->base);
	gpuvm_dma_fence_put(&c->base);
}

static void test_is_later_64bit(void **state)
{
	struct mock_fence *a = gpuvm_kzalloc(sizeof(*a), GPUVM_GFP_KERNEL);
	struct mock_fence *b = gpuvm_kzalloc(sizeof(*b), GPUVM_GFP_KERNEL);

	gpuvm_dma_fence_init64(&a->base, &mock_ops, NULL, 9, 0xffffffffull);
	gpuvm_dma_fence_init64(&b->base, &mock_ops, NULL, 9, 0x100000001ull);
	assert_true(gpuvm_dma_fence_is_later(&b->base, &a->base));
	assert_false(gpuvm_dma_fence_is_later(&a->base, &b->base));
	/* 64-bit compare: no wrap-around window. */
	assert_true(gpuvm_dma_fence_seqno_is_later(&a->base, 1ull << 40, 1));
	assert_false(gpuvm_dma_fence_seqno_is_later(&a->base, 1, 1ull << 40));
	gpuvm_dma_fence_put(&a->base);
	gpuvm_dma_fence_put(&b->base);
}

static void test_is_later_cross_context(void **state)
{
	struct mock_fence *a = mock_alloc(&mock_ops, 1, 2);
	struct mock_fence *b = mock_alloc(&mock_ops, 2, 1);

	assert_false(gpuvm_dma_fence_is_later(&a->base, &b->base));
	assert_null(gpuvm_dma_fence_later(&a->base, &b->base));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_FENCE_CONTEXT), 2);
	gpuvm_dma_fence_put(&a->base);
	gpuvm_dma_fence_put(&b->base);
}

static void test_context_alloc(void **state)
{
	uint64_t a = gpuvm_dma_fence_context_alloc(1);
	uint64_t b = gpuvm_dma_fence_context_alloc(10);
	uint64_t c = gpuvm_dma_fence_context_alloc(1);

	assert_true(a != 0);
	assert_int_equal(b, a + 1);
	assert_int_equal(c, b + 10);
	gpuvm_dma_fence_context_alloc(0);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_FENCE_INVALID), 1);
}

/* ---- extra: waiting ----------------------------------------------------- */

static void test_wait_signaled_returns_remaining(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();
	int64_t ret;

	gpuvm_dma_fence_signal(f);
	ret = gpuvm_dma_fence_wait_timeout(f, false, 500 * MS);
	assert_true(ret > 0 && ret <= 500 * MS);
	assert_true(gpuvm_dma_fence_wait_timeout(f, true,
						 GPUVM_MAX_SCHEDULE_TIMEOUT) ==
		    GPUVM_MAX_SCHEDULE_TIMEOUT);
	assert_int_equal(gpuvm_dma_fence_wait(f, true), 0);
	gpuvm_dma_fence_put(f);
}

static void test_wait_negative_timeout(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();

	assert_int_equal(gpuvm_dma_fence_wait_timeout(f, false, -1), -EINVAL);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_FENCE_INVALID), 1);
	gpuvm_dma_fence_signal(f);
	gpuvm_dma_fence_put(f);
}

/* The built-in wait refuses a negative timeout as the wrapper does,
 * rather than waiting without limit (or returning the timeout). */
static void test_default_wait_negative_timeout(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();
	struct gpuvm_dma_fence *g = mock_fence();
	struct fence_timer timer;
	int64_t ret;

	gpuvm_dma_fence_signal(f);
	assert_int_equal(gpuvm_dma_fence_default_wait(f, false, -1), -EINVAL);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_FENCE_INVALID), 1);

	/* Pending: refused at once (the timer only bounds a wrong wait). */
	fence_timer_arm(&timer, g, 200 * MS);
	ret = gpuvm_dma_fence_default_wait(g, true, -5);
	assert_false(__atomic_load_n(&timer.fired, __ATOMIC_ACQUIRE));
	pthread_join(timer.thread, NULL);
	assert_int_equal(ret, -EINVAL);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_FENCE_INVALID), 1);
	assert_true(gpuvm_list_empty(&g->cb_list));
	gpuvm_dma_fence_put(f);
	gpuvm_dma_fence_put(g);
}

/* A pending interrupt ends an interruptible wait with -EINTR and is
 * consumed; uninterruptible waits ignore it and leave it pending. */
static void test_wait_interrupt_pending(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();

	gpuvm_interrupt_thread(pthread_self());
	assert_int_equal(gpuvm_dma_fence_wait_timeout(f, false, 5 * MS), 0);
	assert_int_equal(gpuvm_dma_fence_wait_timeout(f, true, 1000 * MS),
			 -EINTR);
	/* Consumed: the next interruptible wait times out normally. */
	assert_int_equal(gpuvm_dma_fence_wait_timeout(f, true, 5 * MS), 0);

	gpuvm_interrupt_thread(pthread_self());
	assert_int_equal(gpuvm_dma_fence_wait(f, true), -EINTR);

	/* A signaled fence wins over a pending interrupt. */
	gpuvm_dma_fence_signal(f);
	gpuvm_interrupt_thread(pthread_self());
	assert_int_equal(gpuvm_dma_fence_wait_timeout(f, true, 0), 1);
	gpuvm_interrupt_clear();
	gpuvm_dma_fence_put(f);
}

static int64_t custom_wait(struct gpuvm_dma_fence *f, bool intr,
			   int64_t timeout)
{
	to_mock(f)->wait_calls++;
	return 4242;
}

static const struct gpuvm_dma_fence_ops custom_wait_ops = {
	.get_driver_name = mock_driver_name,
	.get_timeline_name = mock_timeline_name,
	.wait = custom_wait,
};

static void test_wait_op(void **state)
{
	struct mock_fence *m = mock_alloc(&custom_wait_ops, 1, 1);

	assert_int_equal(gpuvm_dma_fence_wait_timeout(&m->base, false, 10),
			 4242);
	assert_int_equal(m->wait_calls, 1);
	gpuvm_dma_fence_signal(&m->base);
	/* Ops with a wait callback are not detached. */
	assert_ptr_equal(m->base.ops, &custom_wait_ops);
	gpuvm_dma_fence_put(&m->base);
}

static void test_wait_any(void **state)
{
	struct gpuvm_dma_fence *f[3] = { mock_fence(), mock_fence(),
					 mock_fence() };
	struct gpuvm_dma_fence *g[2] = { f[0], f[2] };
	struct fence_timer timer;
	uint32_t idx = 99;
	int64_t ret;
	int i;

	assert_int_equal(gpuvm_dma_fence_wait_any_timeout(f, 3, false, 0, &idx),
			 0);
	assert_int_equal(idx, 99);
	assert_int_equal(
		gpuvm_dma_fence_wait_any_timeout(f, 3, false, 5 * MS, &idx), 0);
	assert_int_equal(idx, 99);

	gpuvm_dma_fence_signal(f[1]);
	assert_int_equal(gpuvm_dma_fence_wait_any_timeout(f, 3, false, 0, &idx),
			 1);
	assert_int_equal(idx, 1);
	idx = 99;
	ret = gpuvm_dma_fence_wait_any_timeout(f, 3, false, 100 * MS, &idx);
	assert_true(ret > 0 && ret <= 100 * MS);
	assert_int_equal(idx, 1);

	/* Woken by a signal from another thread. */
	fence_timer_arm(&timer, f[2], 5 * MS);
	idx = 99;
	ret = gpuvm_dma_fence_wait_any_timeout(
		g, 2, false, GPUVM_MAX_SCHEDULE_TIMEOUT, &idx);
	pthread_join(timer.thread, NULL);
	assert_true(ret > 0);
	assert_int_equal(idx, 1);

	/* Interrupted. */
	gpuvm_interrupt_thread(pthread_self());
	assert_int_equal(
		gpuvm_dma_fence_wait_any_timeout(f, 1, true, 1000 * MS, NULL),
		-EINTR);

	/* Invalid arguments and allocation failure. */
	assert_int_equal(
		gpuvm_dma_fence_wait_any_timeout(NULL, 1, false, 0, NULL),
		-EINVAL);
	assert_int_equal(gpuvm_dma_fence_wait_any_timeout(f, 0, false, 0, NULL),
			 -EINVAL);
	assert_int_equal(
		gpuvm_dma_fence_wait_any_timeout(f, 1, false, -5, NULL),
		-EINVAL);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_FENCE_INVALID), 3);
	gpuvm_alloc_fail_nth(1);
	assert_int_equal(
		gpuvm_dma_fence_wait_any_timeout(f, 1, false, 5 * MS, NULL),
		-ENOMEM);
	assert_true(gpuvm_alloc_fault_fired());

	/* No waiter callback left behind on the unsignaled fence. */
	assert_true(gpuvm_list_empty(&f[0]->cb_list));
	for (i = 0; i < 3; i++) {
		gpuvm_dma_fence_signal(f[i]);
		gpuvm_dma_fence_put(f[i]);
	}
}

/* A NULL entry is refused before any fence is looked at: no success
 * pointing at it, no NULL dereference when polling. */
static void test_wait_any_null_entry(void **state)
{
	struct gpuvm_dma_fence *f[3] = { mock_fence(), NULL, mock_fence() };
	uint32_t idx = 99;
	int i;

	assert_int_equal(
		gpuvm_dma_fence_wait_any_timeout(f, 3, false, 5 * MS, &idx),
		-EINVAL);
	assert_int_equal(idx, 99);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_FENCE_INVALID), 1);
	assert_int_equal(gpuvm_dma_fence_wait_any_timeout(f, 3, false, 0, &idx),
			 -EINVAL);
	assert_int_equal(idx, 99);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_FENCE_INVALID), 1);
	/* Even when a fence before it has signaled. */
	gpuvm_dma_fence_signal(f[0]);
	assert_int_equal(
		gpuvm_dma_fence_wait_any_timeout(f, 3, false, 5 * MS, &idx),
		-EINVAL);
	assert_int_equal(idx, 99);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_FENCE_INVALID), 1);
	/* No callback left behind. */
	assert_true(gpuvm_list_empty(&f[2]->cb_list));
	for (i = 0; i < 3; i += 2) {
		gpuvm_dma_fence_signal(f[i]);
		gpuvm_dma_fence_put(f[i]);
	}
}

static void test_set_deadline(void **state)
{
	struct mock_fence *m = mock_alloc(&hw_ops, 1, 1);

	gpuvm_dma_fence_set_deadline(&m->base, 1000);
	assert_int_equal(m->deadline_calls, 1);
	assert_int_equal(m->deadline, 1000);
	gpuvm_dma_fence_signal(&m->base);
	gpuvm_dma_fence_set_deadline(&m->base, 2000);
	assert_int_equal(m->deadline_calls, 1);
	gpuvm_dma_fence_put(&m->base);
}

/* ---- extra: shared lock and the *_locked variants ----------------------- */

static struct gpuvm_lock_class timeline_class =
	GPUVM_LOCK_CLASS_INIT("test_timeline_lock", 0);

static void test_shared_lock(void **state)
{
	struct gpuvm_mutex lock;
	struct mock_fence *a, *b;
	struct gpuvm_dma_fence *fa, *fb;

	gpuvm_mutex_init(&lock, "timeline", &timeline_class);
	a = gpuvm_kzalloc(sizeof(*a), GPUVM_GFP_KERNEL);
	b = gpuvm_kzalloc(sizeof(*b), GPUVM_GFP_KERNEL);
	fa = &a->base;
	fb = &b->base;
	gpuvm_dma_fence_init(fa, &mock_ops, &lock, 3, 1);
	gpuvm_dma_fence_init(fb, &mock_ops, &lock, 3, 2);
	assert_ptr_equal(gpuvm_dma_fence_spinlock(fa), &lock);
	assert_ptr_equal(gpuvm_dma_fence_spinlock(fb), &lock);

	/* Signalling a timeline in order under its lock. */
	gpuvm_mutex_lock(&lock);
	assert_int_equal(gpuvm_dma_fence_get_status_locked(fa), 0);
	assert_false(gpuvm_dma_fence_is_signaled_locked(fa));
	assert_int_equal(gpuvm_dma_fence_signal_locked(fa), 0);
	assert_false(gpuvm_dma_fence_check_and_signal_locked(fb));
	assert_true(gpuvm_dma_fence_check_and_signal_locked(fb));
	assert_int_equal(gpuvm_dma_fence_signal_timestamp_locked(fb, 5),
			 -EINVAL);
	gpuvm_mutex_unlock(&lock);
	assert_int_equal(gpuvm_dma_fence_get_status(fb), 1);

	/* A *_locked call without the lock is reported. */
	gpuvm_dma_fence_signal_locked(fa);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD), 1);

	gpuvm_dma_fence_put(fa);
	gpuvm_dma_fence_put(fb);
	gpuvm_rcu_barrier(); /* the fences used the lock until freed */
	gpuvm_mutex_destroy(&lock);
}

/* ---- debug-checker interplay -------------------------------------------- */

/* Signalling is a signalling section, and nests inside one. */
static void test_signal_inside_section(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();
	bool cookie;

	assert_false(gpuvm_in_signalling_section());
	cookie = gpuvm_dma_fence_begin_signalling();
	assert_int_equal(gpuvm_dma_fence_signal(f), 0);
	assert_true(gpuvm_in_signalling_section());
	gpuvm_dma_fence_end_signalling(cookie);
	assert_false(gpuvm_in_signalling_section());
	assert_int_equal(harness_warnings(NULL), 0);
	gpuvm_dma_fence_put(f);
}

static struct gpuvm_lock_class signal_safe_class =
	GPUVM_LOCK_CLASS_INIT("test_signal_safe_lock", 0);

/* Debug check: a lock taken inside a signalling section must not be held
 * across a fence wait (the signaller may need it). */
static void test_wait_under_signalling_safe_lock(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();
	struct gpuvm_mutex m;
	bool cookie;

	gpuvm_mutex_init(&m, "signal-safe", &signal_safe_class);
	cookie = gpuvm_dma_fence_begin_signalling();
	gpuvm_mutex_lock(&m);
	gpuvm_mutex_unlock(&m);
	gpuvm_dma_fence_end_signalling(cookie);
	assert_int_equal(harness_warnings(NULL), 0);

	gpuvm_mutex_lock(&m);
	assert_int_equal(gpuvm_dma_fence_wait_timeout(f, false, 0), 0);
	gpuvm_mutex_unlock(&m);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_SIGNALLING_LOCK_WAIT),
			 1);
	assert_int_equal(harness_warnings(NULL), 0);

	gpuvm_dma_fence_signal(f);
	gpuvm_dma_fence_put(f);
	gpuvm_mutex_destroy(&m);
}

/* Debug check: waiting on a fence inside a signalling section. */
static void test_wait_inside_section(void **state)
{
	struct gpuvm_dma_fence *f = mock_fence();
	bool cookie;

	gpuvm_dma_fence_signal(f);
	cookie = gpuvm_dma_fence_begin_signalling();
	assert_int_equal(gpuvm_dma_fence_wait_timeout(f, false, 0), 1);
	gpuvm_dma_fence_end_signalling(cookie);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_SIGNALLING_WAIT), 1);
	gpuvm_dma_fence_put(f);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		fence_test(test_sanitycheck),
		fence_test(test_signaling),
		fence_test(test_signal_return_codes),
		fence_test(test_check_and_signal_null),
		fence_test(test_add_callback),
		fence_test(test_late_add_callback),
		fence_test(test_rm_callback),
		fence_test(test_late_rm_callback),
		fence_test(test_status),
		fence_test(test_error),
		fence_test(test_wait),
		fence_test(test_wait_timeout),
		fence_test(test_stub),
		fence_test(test_race_signal_callback),
		fence_test(test_callbacks_fifo_once_locked),
		fence_test(test_add_callback_invalid),
		fence_test(test_release_pending_callback),
		fence_test(test_enable_signaling_once),
		fence_test(test_enable_signaling_false_signals),
		fence_test(test_signaled_op),
		fence_test(test_set_error_after_signal),
		fence_test(test_set_error_invalid_value),
		fence_test(test_timestamp),
		fence_test(test_names_and_describe),
		fence_test(test_init_requires_names),
		fence_test(test_private_stub),
		fence_test(test_refcount),
		fence_test(test_get_rcu),
		fence_test(test_is_later_32bit_wrap),
		fence_test(test_is_later_64bit),
		fence_test(test_is_later_cross_context),
		fence_test(test_context_alloc),
		fence_test(test_wait_signaled_returns_remaining),
		fence_test(test_wait_negative_timeout),
		fence_test(test_default_wait_negative_timeout),
		fence_test(test_wait_interrupt_pending),
		fence_test(test_wait_op),
		fence_test(test_wait_any),
		fence_test(test_wait_any_null_entry),
		fence_test(test_set_deadline),
		fence_test(test_shared_lock),
		fence_test(test_signal_inside_section),
		fence_test(test_wait_under_signalling_safe_lock),
		fence_test(test_wait_inside_section),
	};

	return harness_run("gpuvm/dma_fence", tests, argc, argv);
}
