// SPDX-License-Identifier: MIT
/*
 * ww_mutex: the kernel self-test cases (kernel/locking/test-ww_mutex.c)
 * that are single-threaded or small deterministic handshakes, the extra
 * cases a port should have, and every debug check, each for both
 * algorithms where it applies (suffix _ww: wound-wait, _wd: wait-die).
 *
 * Interleavings are forced with completions and by waiting until the
 * other thread is observably queued on a lock (a test hook of the
 * implementation), never by sleeping.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gpuvm/testing.h>
#include "harness.h"
#include "parker.h"
#include "ww_mutex_internal.h"

static GPUVM_DEFINE_WW_CLASS(wound_class);
static GPUVM_DEFINE_WD_CLASS(die_class);

#define WATCHDOG_NS (20ull * 1000000000ull)

/* ---- small synchronisation helpers -------------------------------------- */

struct completion {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void completion_init(struct completion *c)
{
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->done = false;
}

static void completion_fini(struct completion *c)
{
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
}

static void complete(struct completion *c)
{
	pthread_mutex_lock(&c->lock);
	c->done = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void realtime_deadline(struct timespec *ts, uint64_t ns)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)(ns / 1000000000ull);
	ts->tv_nsec += (long)(ns % 1000000000ull);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Return: whether @c completed within @ns. */
static bool wait_completion_ns(struct completion *c, uint64_t ns)
{
	struct timespec deadline;
	bool done;

	realtime_deadline(&deadline, ns);
	pthread_mutex_lock(&c->lock);
	while (!c->done &&
	       pthread_cond_timedwait(&c->cond, &c->lock, &deadline) == 0)
		;
	done = c->done;
	pthread_mutex_unlock(&c->lock);
	return done;
}

/* The watchdog: a handshake that does not happen within 20 s is a hang. */
static bool wait_completion(struct completion *c)
{
	return wait_completion_ns(c, WATCHDOG_NS);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Wait until exactly @n threads are queued on @lock. */
static bool wait_for_waiters(struct gpuvm_ww_mutex *lock, unsigned int n)
{
	double end = now_ns() + (double)WATCHDOG_NS;

	while (gpuvm_ww_mutex_waiter_count__(lock) != n) {
		if (now_ns() > end)
			return false;
		sched_yield();
	}
	return true;
}

/* Wait until *@v >= @n. */
static bool wait_at_least(const int *v, int n)
{
	double end = now_ns() + (double)WATCHDOG_NS;

	while (__atomic_load_n(v, __ATOMIC_ACQUIRE) < n) {
		if (now_ns() > end)
			return false;
		sched_yield();
	}
	return true;
}

static pthread_t start_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
	return t;
}

static void join_thread(pthread_t t)
{
	assert_int_equal(pthread_join(t, NULL), 0);
}

/* Run @body for both classes, as two named CMocka cases. */
#define BOTH_CLASSES(body)                  \
	static void body##_ww(void **state) \
	{                                   \
		body(&wound_class);         \
	}                                   \
	static void body##_wd(void **state) \
	{                                   \
		body(&die_class);           \
	}
#define BOTH_TESTS(body) harness_test(body##_ww), harness_test(body##_wd)

/* ---- basics -------------------------------------------------------------- */

static void test_ww_mutex_stamps_and_counts(void **state)
{
	static GPUVM_DEFINE_WD_CLASS(fresh_class);
	struct gpuvm_ww_acquire_ctx a, b;
	struct gpuvm_ww_mutex l1, l2;

	gpuvm_ww_mutex_init(&l1, &fresh_class);
	gpuvm_ww_mutex_init(&l2, &fresh_class);
	assert_false(gpuvm_ww_mutex_is_locked(&l1));
	assert_null(l1.ctx);

	gpuvm_ww_acquire_init(&a, &fresh_class);
	assert_int_equal(a.stamp, 1);
	assert_int_equal(a.acquired, 0);
	assert_true(a.is_wait_die);

	assert_int_equal(gpuvm_ww_mutex_lock(&l1, &a), 0);
	assert_int_equal(gpuvm_ww_mutex_lock(&l2, &a), 0);
	assert_int_equal(a.acquired, 2);
	assert_ptr_equal(l1.ctx, &a);
	assert_ptr_equal(l2.ctx, &a);
	assert_true(gpuvm_ww_mutex_is_locked(&l1));
	gpuvm_ww_mutex_assert_held(&l1, __func__);

	/* -EALREADY changes nothing. */
	assert_int_equal(gpuvm_ww_mutex_lock(&l1, &a), -EALREADY);
	assert_int_equal(gpuvm_ww_mutex_lock_interruptible(&l2, &a), -EALREADY);
	assert_int_equal(a.acquired, 2);
	assert_int_equal(gpuvm_lock_held_count(), 4); /* 2 + ctx maps */

	gpuvm_ww_mutex_unlock(&l1);
	assert_int_equal(a.acquired, 1);
	assert_null(l1.ctx);
	assert_false(gpuvm_ww_mutex_is_locked(&l1));
	gpuvm_ww_mutex_unlock(&l2);
	assert_int_equal(a.acquired, 0);
	gpuvm_ww_acquire_done(&a);
	gpuvm_ww_acquire_fini(&a);

	/* Tickets keep growing; a later context is younger. */
	gpuvm_ww_acquire_init(&b, &fresh_class);
	assert_int_equal(b.stamp, 2);
	gpuvm_ww_acquire_fini(&b);

	/* Without a context: a plain mutex, no ctx recorded. */
	assert_int_equal(gpuvm_ww_mutex_lock(&l1, NULL), 0);
	assert_null(l1.ctx);
	assert_true(gpuvm_ww_mutex_is_locked(&l1));
	gpuvm_ww_mutex_unlock(&l1);

	gpuvm_ww_mutex_destroy(&l1);
	gpuvm_ww_mutex_destroy(&l2);
}

static void ww_trylock_body(struct gpuvm_ww_class *cls)
{
	struct gpuvm_ww_acquire_ctx ctx;
	struct gpuvm_ww_mutex l1, l2;

	gpuvm_ww_mutex_init(&l1, cls);
	gpuvm_ww_mutex_init(&l2, cls);
	gpuvm_ww_acquire_init(&ctx, cls);

	assert_true(gpuvm_ww_mutex_trylock(&l1, &ctx));
	assert_int_equal(ctx.acquired, 1);
	assert_ptr_equal(l1.ctx, &ctx);
	assert_true(gpuvm_ww_mutex_trylock(&l2, NULL));
	assert_null(l2.ctx);
	assert_int_equal(ctx.acquired, 1);
	/* Neither a held lock nor a self-held one is taken again. */
	assert_false(gpuvm_ww_mutex_trylock(&l2, &ctx));
	assert_false(gpuvm_ww_mutex_trylock(&l1, &ctx));
	assert_int_equal(ctx.acquired, 1);

	gpuvm_ww_mutex_unlock(&l2);
	gpuvm_ww_mutex_unlock(&l1);
	assert_int_equal(ctx.acquired, 0);
	gpuvm_ww_acquire_fini(&ctx);
	gpuvm_ww_mutex_destroy(&l1);
	gpuvm_ww_mutex_destroy(&l2);
}
BOTH_CLASSES(ww_trylock_body)

/* ---- WW-1: test_mutex -------------------------------------------------- */

#define TEST_MTX_SPIN 1
#define TEST_MTX_TRY 2
#define TEST_MTX_CTX 4

struct test_mutex {
	struct gpuvm_ww_mutex mutex;
	struct completion ready, go;
	int done; /* atomic */
	int attempts; /* atomic: failed trylocks */
	unsigned int flags;
	int lock_ret;
};

static void *test_mutex_worker(void *arg)
{
	struct test_mutex *mtx = arg;

	complete(&mtx->ready);
	if (!wait_completion(&mtx->go))
		return NULL;
	if (mtx->flags & TEST_MTX_TRY) {
		while (!gpuvm_ww_mutex_trylock(&mtx->mutex, NULL)) {
			__atomic_add_fetch(&mtx->attempts, 1, __ATOMIC_RELAXED);
			sched_yield();
		}
	} else {
		mtx->lock_ret = gpuvm_ww_mutex_lock(&mtx->mutex, NULL);
	}
	__atomic_store_n(&mtx->done, 1, __ATOMIC_RELEASE);
	gpuvm_ww_mutex_unlock(&mtx->mutex);
	return NULL;
}

/*
 * A context-less locker (blocking or trylock) cannot get the mutex while
 * the main thread holds it, with or without a context.
 */
static void test_mutex(struct gpuvm_ww_class *cls, unsigned int flags)
{
	struct gpuvm_ww_acquire_ctx ctx;
	struct test_mutex mtx = { .flags = flags };
	pthread_t t;
	double end;

	gpuvm_ww_mutex_init(&mtx.mutex, cls);
	completion_init(&mtx.ready);
	completion_init(&mtx.go);
	t = start_thread(test_mutex_worker, &mtx);
	assert_true(wait_completion(&mtx.ready));

	if (flags & TEST_MTX_CTX) {
		gpuvm_ww_acquire_init(&ctx, cls);
		assert_int_equal(gpuvm_ww_mutex_lock(&mtx.mutex, &ctx), 0);
	} else {
		assert_int_equal(gpuvm_ww_mutex_lock(&mtx.mutex, NULL), 0);
	}
	complete(&mtx.go);

	/* The worker is observably stuck first ... */
	if (flags & TEST_MTX_TRY) {
		end = now_ns() + (double)WATCHDOG_NS;
		while (__atomic_load_n(&mtx.attempts, __ATOMIC_RELAXED) < 3 &&
		       now_ns() < end)
			sched_yield();
		assert_true(__atomic_load_n(&mtx.attempts, __ATOMIC_RELAXED) >=
			    3);
	} else {
		assert_true(wait_for_waiters(&mtx.mutex, 1));
	}
	/* ... and stays so for a while (spinning or sleeping). */
	end = now_ns() + 20e6;
	if (flags & TEST_MTX_SPIN) {
		while (now_ns() < end) {
			assert_int_equal(
				__atomic_load_n(&mtx.done, __ATOMIC_ACQUIRE),
				0);
			sched_yield();
		}
	} else {
		struct timespec ts = { 0, 20000000 };

		nanosleep(&ts, NULL);
	}
	assert_int_equal(__atomic_load_n(&mtx.done, __ATOMIC_ACQUIRE), 0);

	gpuvm_ww_mutex_unlock(&mtx.mutex);
	if (flags & TEST_MTX_CTX)
		gpuvm_ww_acquire_fini(&ctx);
	join_thread(t);
	assert_int_equal(mtx.done, 1);
	assert_int_equal(mtx.lock_ret, 0);
	assert_false(gpuvm_ww_mutex_is_locked(&mtx.mutex));

	completion_fini(&mtx.ready);
	completion_fini(&mtx.go);
	gpuvm_ww_mutex_destroy(&mtx.mutex);
}

#define TEST_MUTEX_CASE(suffix, flags)                                   \
	static void test_ww_mutex_test_mutex_##suffix##_ww(void **state) \
	{                                                                \
		test_mutex(&wound_class, (flags));                       \
	}                                                                \
	static void test_ww_mutex_test_mutex_##suffix##_wd(void **state) \
	{                                                                \
		test_mutex(&die_class, (flags));                         \
	}
TEST_MUTEX_CASE(lock, 0)
TEST_MUTEX_CASE(lock_spin, TEST_MTX_SPIN)
TEST_MUTEX_CASE(try, TEST_MTX_TRY)
TEST_MUTEX_CASE(try_spin, TEST_MTX_TRY | TEST_MTX_SPIN)
TEST_MUTEX_CASE(ctx_lock, TEST_MTX_CTX)
TEST_MUTEX_CASE(ctx_lock_spin, TEST_MTX_CTX | TEST_MTX_SPIN)
TEST_MUTEX_CASE(ctx_try, TEST_MTX_CTX | TEST_MTX_TRY)
TEST_MUTEX_CASE(ctx_try_spin, TEST_MTX_CTX | TEST_MTX_TRY | TEST_MTX_SPIN)
#define TEST_MUTEX_TESTS(suffix)                              \
	harness_test(test_ww_mutex_test_mutex_##suffix##_ww), \
		harness_test(test_ww_mutex_test_mutex_##suffix##_wd)

/* ---- WW-2: test_aa ------------------------------------------------------ */

static void test_aa(struct gpuvm_ww_class *cls, bool trylock)
{
	struct gpuvm_ww_acquire_ctx ctx;
	struct gpuvm_ww_mutex mutex;

	gpuvm_ww_mutex_init(&mutex, cls);
	gpuvm_ww_acquire_init(&ctx, cls);

	if (trylock)
		assert_true(gpuvm_ww_mutex_trylock(&mutex, &ctx));
	else
		assert_int_equal(gpuvm_ww_mutex_lock(&mutex, &ctx), 0);

	/* No recursion, neither without nor with the context ... */
	assert_false(gpuvm_ww_mutex_trylock(&mutex, NULL));
	assert_false(gpuvm_ww_mutex_trylock(&mutex, &ctx));
	/* ... and a blocking relock through the context says so. */
	assert_int_equal(gpuvm_ww_mutex_lock(&mutex, &ctx), -EALREADY);
	assert_int_equal(ctx.acquired, 1);

	/* One unlock releases it. */
	gpuvm_ww_mutex_unlock(&mutex);
	assert_false(gpuvm_ww_mutex_is_locked(&mutex));
	assert_int_equal(ctx.acquired, 0);
	gpuvm_ww_acquire_fini(&ctx);
	gpuvm_ww_mutex_destroy(&mutex);
}

static void test_ww_mutex_AA_ww(void **state)
{
	test_aa(&wound_class, false);
}

static void test_ww_mutex_AA_wd(void **state)
{
	test_aa(&die_class, false);
}

static void test_ww_mutex_AA_trylock_ww(void **state)
{
	test_aa(&wound_class, true);
}

static void test_ww_mutex_AA_trylock_wd(void **state)
{
	test_aa(&die_class, true);
}

/* ---- WW-3: test_abba ---------------------------------------------------- */

struct abba {
	struct gpuvm_ww_class *cls;
	struct gpuvm_ww_mutex a_mutex, b_mutex;
	struct completion a_ready, b_ready, worker_inited;
	bool trylock, resolve;
	/* worker results */
	int result;
	bool first_ok, ctx_ok;
	unsigned long stamp;
};

/*
 * One side: take @first, tell the other side, wait for it, then ask for
 * @second (held by the other side); on -EDEADLK with @resolve, back off
 * and retry the kernel way.
 */
static int abba_side(struct abba *abba, struct gpuvm_ww_acquire_ctx *ctx,
		     struct gpuvm_ww_mutex *first,
		     struct gpuvm_ww_mutex *second, struct completion *mine,
		     struct completion *theirs, bool *first_ok, bool *ctx_ok)
{
	int err;

	if (abba->trylock)
		*first_ok = gpuvm_ww_mutex_trylock(first, ctx);
	else
		*first_ok = gpuvm_ww_mutex_lock(first, ctx) == 0;
	if (!*first_ok)
		return -EINVAL;
	*ctx_ok = first->ctx == ctx;

	complete(mine);
	if (!wait_completion(theirs)) {
		gpuvm_ww_mutex_unlock(first);
		return -ETIMEDOUT;
	}

	err = gpuvm_ww_mutex_lock(second, ctx);
	if (abba->resolve && err == -EDEADLK) {
		gpuvm_ww_mutex_unlock(first);
		gpuvm_ww_mutex_lock_slow(second, ctx);
		err = gpuvm_ww_mutex_lock(first, ctx);
		if (err) {
			/* Only @second is held now. */
			gpuvm_ww_mutex_unlock(second);
			return err;
		}
	}
	if (!err)
		gpuvm_ww_mutex_unlock(second);
	gpuvm_ww_mutex_unlock(first);
	return err;
}

static void *abba_worker(void *arg)
{
	struct abba *abba = arg;
	struct gpuvm_ww_acquire_ctx ctx;

	gpuvm_ww_acquire_init(&ctx, abba->cls);
	abba->stamp = ctx.stamp;
	complete(&abba->worker_inited);
	abba->result = abba_side(abba, &ctx, &abba->b_mutex, &abba->a_mutex,
				 &abba->b_ready, &abba->a_ready,
				 &abba->first_ok, &abba->ctx_ok);
	gpuvm_ww_acquire_fini(&ctx);
	return NULL;
}

static void test_abba(struct gpuvm_ww_class *cls, bool trylock, bool resolve)
{
	struct gpuvm_ww_acquire_ctx ctx;
	struct abba abba = { .cls = cls,
			     .trylock = trylock,
			     .resolve = resolve };
	bool first_ok = false, ctx_ok = false;
	pthread_t t;
	int err;

	gpuvm_ww_mutex_init(&abba.a_mutex, cls);
	gpuvm_ww_mutex_init(&abba.b_mutex, cls);
	completion_init(&abba.a_ready);
	completion_init(&abba.b_ready);
	completion_init(&abba.worker_inited);

	/* The main thread's ticket is the older one. */
	gpuvm_ww_acquire_init(&ctx, cls);
	t = start_thread(abba_worker, &abba);
	assert_true(wait_completion(&abba.worker_inited));

	err = abba_side(&abba, &ctx, &abba.a_mutex, &abba.b_mutex,
			&abba.a_ready, &abba.b_ready, &first_ok, &ctx_ok);
	gpuvm_ww_acquire_fini(&ctx);
	join_thread(t);

	assert_true(first_ok);
	assert_true(ctx_ok);
	assert_true(abba.first_ok);
	assert_true(abba.ctx_ok);
	assert_true((long)(abba.stamp - ctx.stamp) > 0);
	if (resolve) {
		assert_int_equal(err, 0);
		assert_int_equal(abba.result, 0);
	} else {
		/* Both algorithms make the younger one back off. */
		assert_int_equal(err, 0);
		assert_int_equal(abba.result, -EDEADLK);
	}
	assert_false(gpuvm_ww_mutex_is_locked(&abba.a_mutex));
	assert_false(gpuvm_ww_mutex_is_locked(&abba.b_mutex));

	completion_fini(&abba.a_ready);
	completion_fini(&abba.b_ready);
	completion_fini(&abba.worker_inited);
	gpuvm_ww_mutex_destroy(&abba.a_mutex);
	gpuvm_ww_mutex_destroy(&abba.b_mutex);
}

#define TEST_ABBA_CASE(suffix, trylock, resolve)                   \
	static void test_ww_mutex_ABBA_##suffix##_ww(void **state) \
	{                                                          \
		test_abba(&wound_class, (trylock), (resolve));     \
	}                                                          \
	static void test_ww_mutex_ABBA_##suffix##_wd(void **state) \
	{                                                          \
		test_abba(&die_class, (trylock), (resolve));       \
	}
TEST_ABBA_CASE(deadlock, false, false)
TEST_ABBA_CASE(trylock_deadlock, true, false)
TEST_ABBA_CASE(resolve, false, true)
TEST_ABBA_CASE(trylock_resolve, true, true)
#define TEST_ABBA_TESTS(suffix)                         \
	harness_test(test_ww_mutex_ABBA_##suffix##_ww), \
		harness_test(test_ww_mutex_ABBA_##suffix##_wd)

/* ---- WW-4: test_cycle --------------------------------------------------- */

#define MAX_CYCLE 8

struct cycle {
	struct gpuvm_ww_class *cls;
	unsigned int n;
	struct gpuvm_ww_mutex a_mutex[MAX_CYCLE];
	struct completion b_signal[MAX_CYCLE];
	int result[MAX_CYCLE];
};

struct cycle_arg {
	struct cycle *cycle;
	unsigned int i;
};

static void *cycle_worker(void *arg)
{
	struct cycle_arg *ca = arg;
	struct cycle *c = ca->cycle;
	unsigned int i = ca->i, n = c->n;
	struct gpuvm_ww_mutex *a = &c->a_mutex[i];
	struct gpuvm_ww_mutex *b = &c->a_mutex[(i + 1) % n];
	struct gpuvm_ww_acquire_ctx ctx;
	int err, erra = 0;

	gpuvm_ww_acquire_init(&ctx, c->cls);
	err = gpuvm_ww_mutex_lock(a, &ctx);
	if (err)
		goto out;
	/* Tell the previous thread that its b is held ... */
	complete(&c->b_signal[(i + n - 1) % n]);
	/* ... and wait until ours is. */
	if (!wait_completion(&c->b_signal[i])) {
		gpuvm_ww_mutex_unlock(a);
		err = -ETIMEDOUT;
		goto out;
	}

	err = gpuvm_ww_mutex_lock(b, &ctx);
	if (err == -EDEADLK) {
		err = 0;
		gpuvm_ww_mutex_unlock(a);
		gpuvm_ww_mutex_lock_slow(b, &ctx);
		erra = gpuvm_ww_mutex_lock(a, &ctx);
	}
	if (!err)
		gpuvm_ww_mutex_unlock(b);
	if (!erra)
		gpuvm_ww_mutex_unlock(a);
out:
	gpuvm_ww_acquire_fini(&ctx);
	c->result[i] = err ? err : erra;
	return NULL;
}

static void test_cycle(struct gpuvm_ww_class *cls, unsigned int n)
{
	struct cycle c = { .cls = cls, .n = n };
	struct cycle_arg args[MAX_CYCLE];
	pthread_t t[MAX_CYCLE];
	unsigned int i;

	for (i = 0; i < n; i++) {
		gpuvm_ww_mutex_init(&c.a_mutex[i], cls);
		completion_init(&c.b_signal[i]);
		c.result[i] = -EINVAL;
	}
	for (i = 0; i < n; i++) {
		args[i] = (struct cycle_arg){ &c, i };
		t[i] = start_thread(cycle_worker, &args[i]);
	}
	for (i = 0; i < n; i++)
		join_thread(t[i]);
	for (i = 0; i < n; i++) {
		assert_int_equal(c.result[i], 0);
		assert_false(gpuvm_ww_mutex_is_locked(&c.a_mutex[i]));
		completion_fini(&c.b_signal[i]);
		gpuvm_ww_mutex_destroy(&c.a_mutex[i]);
	}
}

/* n = 2 .. ncpus + 1, at least up to 4 threads. */
static void test_cycle_all(struct gpuvm_ww_class *cls)
{
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int n, max = ncpus + 1 > 4 ? (unsigned int)ncpus + 1 : 4;

	if (max > MAX_CYCLE)
		max = MAX_CYCLE;
	for (n = 2; n <= max; n++)
		test_cycle(cls, n);
}

static void test_ww_mutex_cycle_ww(void **state)
{
	test_cycle_all(&wound_class);
}

static void test_ww_mutex_cycle_wd(void **state)
{
	test_cycle_all(&die_class);
}

/* ---- scripted workers ---------------------------------------------------- */

/*
 * An actor is a worker thread running a short script, one step each time
 * the main thread allows it. Every step's result is recorded and
 * `step_done` counts finished steps, so the main thread can wait for a
 * step, or see that a step is still blocked.
 */
enum op {
	OP_END,
	OP_INIT, /* start a context */
	OP_LOCK, /* lock through the context (or NULL without one) */
	OP_LOCK_NULL, /* lock without a context */
	OP_LOCK_INTR, /* lock_interruptible through the context */
	OP_LOCK_SLOW_INTR, /* lock_slow_interruptible */
	OP_LOCK_FOREIGN, /* lock through actor->foreign */
	OP_UNLOCK,
	OP_UNLOCK_ALL, /* newest first */
	OP_FINI,
	OP_INJECT, /* inject_deadlock(ctx, 1) */
	OP_CLEAR_INTERRUPT,
};

struct step {
	enum op op;
	struct gpuvm_ww_mutex *lock;
};

#define MAX_STEPS 12

struct actor {
	struct gpuvm_ww_class *cls;
	struct step script[MAX_STEPS];
	struct gpuvm_ww_acquire_ctx ctx;
	struct gpuvm_ww_acquire_ctx *foreign;
	int *seq; /* if set: shared counter giving the order of acquisitions */
	int order;
	bool has_ctx;
	struct gpuvm_ww_mutex *held[MAX_STEPS];
	unsigned int nr_held;
	int ret[MAX_STEPS];
	int go; /* atomic: number of steps allowed */
	int step_done; /* atomic: number of steps finished */
	pthread_t thread;
};

static void actor_took(struct actor *a, struct gpuvm_ww_mutex *lock)
{
	a->held[a->nr_held++] = lock;
	if (a->seq)
		a->order = __atomic_fetch_add(a->seq, 1, __ATOMIC_RELAXED);
}

static int actor_step(struct actor *a, const struct step *s)
{
	struct gpuvm_ww_acquire_ctx *ctx = a->has_ctx ? &a->ctx : NULL;
	unsigned int i;
	int ret = 0;

	switch (s->op) {
	case OP_INIT:
		gpuvm_ww_acquire_init(&a->ctx, a->cls);
		a->has_ctx = true;
		return 0;
	case OP_LOCK:
		ret = gpuvm_ww_mutex_lock(s->lock, ctx);
		break;
	case OP_LOCK_NULL:
		ret = gpuvm_ww_mutex_lock(s->lock, NULL);
		break;
	case OP_LOCK_INTR:
		ret = gpuvm_ww_mutex_lock_interruptible(s->lock, ctx);
		break;
	case OP_LOCK_SLOW_INTR:
		ret = gpuvm_ww_mutex_lock_slow_interruptible(s->lock, ctx);
		break;
	case OP_LOCK_FOREIGN:
		ret = gpuvm_ww_mutex_lock(s->lock, a->foreign);
		break;
	case OP_UNLOCK:
		for (i = 0; i < a->nr_held; i++)
			if (a->held[i] == s->lock)
				break;
		if (i == a->nr_held)
			return -ENOENT;
		a->held[i] = a->held[--a->nr_held];
		gpuvm_ww_mutex_unlock(s->lock);
		return 0;
	case OP_UNLOCK_ALL:
		while (a->nr_held)
			gpuvm_ww_mutex_unlock(a->held[--a->nr_held]);
		return 0;
	case OP_FINI:
		gpuvm_ww_acquire_fini(&a->ctx);
		a->has_ctx = false;
		return 0;
	case OP_INJECT:
		gpuvm_ww_mutex_inject_deadlock(&a->ctx, 1);
		return 0;
	case OP_CLEAR_INTERRUPT:
		gpuvm_interrupt_clear();
		return 0;
	case OP_END:
		return 0;
	}
	if (!ret)
		actor_took(a, s->lock);
	return ret;
}

static void *actor_main(void *arg)
{
	struct actor *a = arg;
	int i;

	for (i = 0; i < MAX_STEPS && a->script[i].op != OP_END; i++) {
		if (!wait_at_least(&a->go, i + 1))
			break;
		a->ret[i] = actor_step(a, &a->script[i]);
		__atomic_store_n(&a->step_done, i + 1, __ATOMIC_RELEASE);
	}
	/* Leave nothing behind, whatever happened. */
	while (a->nr_held)
		gpuvm_ww_mutex_unlock(a->held[--a->nr_held]);
	if (a->has_ctx)
		gpuvm_ww_acquire_fini(&a->ctx);
	return NULL;
}

static void actor_start(struct actor *a, struct gpuvm_ww_class *cls)
{
	a->cls = cls;
	a->thread = start_thread(actor_main, a);
}

/* Let the actor run up to step @n (1-based) without waiting. */
static void actor_allow(struct actor *a, int n)
{
	__atomic_store_n(&a->go, n, __ATOMIC_RELEASE);
}

static bool actor_wait(struct actor *a, int n)
{
	return wait_at_least(&a->step_done, n);
}

static int actor_done(struct actor *a)
{
	return __atomic_load_n(&a->step_done, __ATOMIC_ACQUIRE);
}

/* Run up to step @n and wait for it. */
static bool actor_run(struct actor *a, int n)
{
	actor_allow(a, n);
	return actor_wait(a, n);
}

static void actor_stop(struct actor *a)
{
	actor_allow(a, MAX_STEPS);
	join_thread(a->thread);
}

static void short_pause(void)
{
	struct timespec ts = { 0, 20000000 };

	nanosleep(&ts, NULL);
}

/* ---- 6.5: -EDEADLK only while holding a lock ----------------------------- */

/* A context holding nothing waits behind any holder, never dies. */
static void ww_nothing_held_waits(struct gpuvm_ww_class *cls)
{
	struct gpuvm_ww_acquire_ctx old;
	struct gpuvm_ww_mutex l;
	struct actor y = { .script = { { OP_INIT }, { OP_LOCK, &l } } };

	gpuvm_ww_mutex_init(&l, cls);
	gpuvm_ww_acquire_init(&old, cls);
	assert_int_equal(gpuvm_ww_mutex_lock(&l, &old), 0);

	actor_start(&y, cls);
	assert_true(actor_run(&y, 1));
	assert_true((long)(y.ctx.stamp - old.stamp) > 0); /* y is younger */
	actor_allow(&y, 2);
	assert_true(wait_for_waiters(&l, 1));
	short_pause();
	assert_int_equal(actor_done(&y), 1);
	/* A waiter holding nothing does not wound either. */
	assert_false(gpuvm_ww_ctx_wounded__(&old));

	gpuvm_ww_mutex_unlock(&l);
	assert_true(actor_wait(&y, 2));
	assert_int_equal(y.ret[1], 0);
	actor_stop(&y);
	gpuvm_ww_acquire_fini(&old);
	gpuvm_ww_mutex_destroy(&l);
}
BOTH_CLASSES(ww_nothing_held_waits)

/* Injection never makes a context holding nothing fail, and a caller
 * following the back-off protocol always completes. */
static void ww_inject_never_without_locks(struct gpuvm_ww_class *cls)
{
	enum { NLOCKS = 6, ROUNDS = 40 };
	struct gpuvm_ww_mutex locks[NLOCKS];
	unsigned int r, i, injected = 0, bad = 0;
	uint64_t rnd = 0x12345678;

	for (i = 0; i < NLOCKS; i++)
		gpuvm_ww_mutex_init(&locks[i], cls);

	for (r = 0; r < ROUNDS; r++) {
		struct gpuvm_ww_acquire_ctx ctx;
		unsigned int order[NLOCKS], n;
		bool held[NLOCKS] = { false };
		int err;

		for (i = 0; i < NLOCKS; i++)
			order[i] = i;
		for (i = NLOCKS - 1; i > 0; i--) {
			unsigned int j, tmp;

			rnd ^= rnd << 13;
			rnd ^= rnd >> 7;
			rnd ^= rnd << 17;
			j = (unsigned int)(rnd % (i + 1));
			tmp = order[i];
			order[i] = order[j];
			order[j] = tmp;
		}

		gpuvm_ww_acquire_init(&ctx, cls);
		gpuvm_ww_mutex_inject_deadlock(&ctx, 1 + r % 3);
		for (n = 0; n < NLOCKS; n++) {
			unsigned int k = order[n];

			if (held[k])
				continue;
			err = gpuvm_ww_mutex_lock(&locks[k], &ctx);
			if (err == -EDEADLK) {
				injected++;
				if (ctx.acquired == 0)
					bad++;
				/* Back off: drop all, slow-lock this one,
				 * start over. */
				for (i = 0; i < NLOCKS; i++) {
					if (held[i])
						gpuvm_ww_mutex_unlock(
							&locks[i]);
					held[i] = false;
				}
				assert_int_equal(ctx.acquired, 0);
				gpuvm_ww_mutex_lock_slow(&locks[k], &ctx);
				held[k] = true;
				n = (unsigned int)-1;
				continue;
			}
			assert_int_equal(err, 0);
			held[k] = true;
		}
		assert_int_equal(ctx.acquired, NLOCKS);
		gpuvm_ww_acquire_done(&ctx);
		for (i = 0; i < NLOCKS; i++)
			gpuvm_ww_mutex_unlock(&locks[i]);
		gpuvm_ww_acquire_fini(&ctx);
	}

	assert_int_equal(bad, 0);
	assert_true(injected >= ROUNDS);
	for (i = 0; i < NLOCKS; i++) {
		assert_false(gpuvm_ww_mutex_is_locked(&locks[i]));
		gpuvm_ww_mutex_destroy(&locks[i]);
	}
}
BOTH_CLASSES(ww_inject_never_without_locks)

/* The exact injection schedule: 1st eligible, then every 3rd, 10th ... */
static void test_ww_mutex_inject_schedule(void **state)
{
	struct gpuvm_ww_mutex a, b, c, d;
	struct gpuvm_ww_acquire_ctx ctx;

	gpuvm_ww_mutex_init(&a, &wound_class);
	gpuvm_ww_mutex_init(&b, &wound_class);
	gpuvm_ww_mutex_init(&c, &wound_class);
	gpuvm_ww_mutex_init(&d, &wound_class);
	gpuvm_ww_acquire_init(&ctx, &wound_class);
	gpuvm_ww_mutex_inject_deadlock(&ctx, 1);

	assert_int_equal(gpuvm_ww_mutex_lock(&a, &ctx), 0); /* not eligible */
	assert_int_equal(gpuvm_ww_mutex_lock(&b, &ctx), -EDEADLK);
	assert_false(gpuvm_ww_mutex_is_locked(&b));
	assert_null(b.ctx);
	assert_int_equal(ctx.acquired, 1);
	gpuvm_ww_mutex_unlock(&a);
	gpuvm_ww_mutex_lock_slow(&b, &ctx);
	assert_int_equal(ctx.acquired, 1);
	assert_int_equal(gpuvm_ww_mutex_lock(&a, &ctx), 0);
	assert_int_equal(gpuvm_ww_mutex_lock(&c, &ctx), 0);
	assert_int_equal(gpuvm_ww_mutex_lock(&d, &ctx), -EDEADLK);
	assert_int_equal(ctx.acquired, 3);
	gpuvm_ww_mutex_unlock(&a);
	gpuvm_ww_mutex_unlock(&b);
	gpuvm_ww_mutex_unlock(&c);
	gpuvm_ww_mutex_lock_slow(&d, &ctx);
	gpuvm_ww_mutex_unlock(&d);

	/* Off again: trylock is never injected, lock no more. */
	gpuvm_ww_mutex_inject_deadlock(&ctx, 0);
	assert_int_equal(gpuvm_ww_mutex_lock(&a, &ctx), 0);
	assert_int_equal(gpuvm_ww_mutex_lock(&b, &ctx), 0);
	assert_true(gpuvm_ww_mutex_trylock(&c, &ctx));
	assert_int_equal(gpuvm_ww_mutex_lock(&d, &ctx), 0);
	gpuvm_ww_mutex_unlock(&a);
	gpuvm_ww_mutex_unlock(&b);
	gpuvm_ww_mutex_unlock(&c);
	gpuvm_ww_mutex_unlock(&d);
	gpuvm_ww_acquire_fini(&ctx);

	gpuvm_ww_mutex_destroy(&a);
	gpuvm_ww_mutex_destroy(&b);
	gpuvm_ww_mutex_destroy(&c);
	gpuvm_ww_mutex_destroy(&d);
}

/* ---- 6.5: wait-die ---------------------------------------------------------- */

/*
 * With an older context queued on L, a younger one that holds a lock dies
 * on L at once, without waiting for L's (context-less) holder.
 */
static void test_ww_mutex_early_kill_wd(void **state)
{
	struct gpuvm_ww_mutex l, m;
	struct actor o = { .script = { { OP_INIT }, { OP_LOCK, &l } } };
	struct actor y = { .script = { { OP_INIT },
				       { OP_LOCK, &m },
				       { OP_LOCK, &l },
				       { OP_UNLOCK_ALL },
				       { OP_FINI } } };
	struct gpuvm_ww_acquire_ctx *queued[2];

	gpuvm_ww_mutex_init(&l, &die_class);
	gpuvm_ww_mutex_init(&m, &die_class);
	assert_int_equal(gpuvm_ww_mutex_lock(&l, NULL), 0);

	actor_start(&o, &die_class);
	actor_start(&y, &die_class);
	assert_true(actor_run(&o, 1));
	assert_true(actor_run(&y, 2));
	actor_allow(&o, 2);
	assert_true(wait_for_waiters(&l, 1));

	assert_true(actor_run(&y, 3));
	assert_int_equal(y.ret[2], -EDEADLK);
	assert_true(gpuvm_ww_mutex_is_locked(&l)); /* never waited for it */
	assert_int_equal(gpuvm_ww_mutex_waiters__(&l, queued, 2), 1);
	assert_ptr_equal(queued[0], &o.ctx);
	assert_true(actor_run(&y, 5));

	gpuvm_ww_mutex_unlock(&l);
	assert_true(actor_wait(&o, 2));
	assert_int_equal(o.ret[1], 0);
	actor_stop(&o);
	actor_stop(&y);
	gpuvm_ww_mutex_destroy(&l);
	gpuvm_ww_mutex_destroy(&m);
}

/*
 * A younger waiter that holds a lock is woken to die when an older
 * context queues in front of it.
 */
static void test_ww_mutex_die_on_older_waiter_wd(void **state)
{
	struct gpuvm_ww_mutex l, m, n;
	struct actor o = {
		.script = { { OP_INIT }, { OP_LOCK, &n }, { OP_LOCK, &l } }
	};
	struct actor y = { .script = { { OP_INIT },
				       { OP_LOCK, &m },
				       { OP_LOCK, &l },
				       { OP_UNLOCK_ALL },
				       { OP_FINI } } };
	struct gpuvm_ww_acquire_ctx *queued[2];

	gpuvm_ww_mutex_init(&l, &die_class);
	gpuvm_ww_mutex_init(&m, &die_class);
	gpuvm_ww_mutex_init(&n, &die_class);
	assert_int_equal(gpuvm_ww_mutex_lock(&l, NULL), 0);

	actor_start(&o, &die_class);
	actor_start(&y, &die_class);
	assert_true(actor_run(&o, 1));
	assert_true(actor_run(&y, 2));
	/* y queues: the holder has no context, nobody older is queued. */
	actor_allow(&y, 3);
	assert_true(wait_for_waiters(&l, 1));
	short_pause();
	assert_int_equal(actor_done(&y), 2);

	assert_true(actor_run(&o, 2));
	actor_allow(&o, 3);
	assert_true(actor_wait(&y, 3));
	assert_int_equal(y.ret[2], -EDEADLK);
	assert_true(gpuvm_ww_mutex_is_locked(&l));
	assert_true(wait_for_waiters(&l, 1));
	assert_int_equal(gpuvm_ww_mutex_waiters__(&l, queued, 2), 1);
	assert_ptr_equal(queued[0], &o.ctx);
	assert_true(actor_run(&y, 5));

	gpuvm_ww_mutex_unlock(&l);
	assert_true(actor_wait(&o, 3));
	assert_int_equal(o.ret[2], 0);
	actor_stop(&o);
	actor_stop(&y);
	gpuvm_ww_mutex_destroy(&l);
	gpuvm_ww_mutex_destroy(&m);
	gpuvm_ww_mutex_destroy(&n);
}

/* ---- 6.5: wound-wait ------------------------------------------------------ */

/*
 * A wounded holder notices only at its next contended acquisition: free
 * locks still succeed; the wound is forgotten once it held nothing.
 */
static void test_ww_mutex_lazy_wound_ww(void **state)
{
	struct gpuvm_ww_mutex l0, l1, l2;
	struct actor o = { .script = { { OP_INIT },
				       { OP_LOCK, &l0 },
				       { OP_LOCK, &l1 },
				       { OP_UNLOCK_ALL },
				       { OP_FINI } } };
	struct gpuvm_ww_acquire_ctx h;

	gpuvm_ww_mutex_init(&l0, &wound_class);
	gpuvm_ww_mutex_init(&l1, &wound_class);
	gpuvm_ww_mutex_init(&l2, &wound_class);

	actor_start(&o, &wound_class);
	assert_true(actor_run(&o, 2)); /* older; holds l0 */
	gpuvm_ww_acquire_init(&h, &wound_class);
	assert_int_equal(gpuvm_ww_mutex_lock(&l1, &h), 0);
	assert_false(gpuvm_ww_ctx_wounded__(&h));

	/* o (holding l0) queues on l1 and wounds us. */
	actor_allow(&o, 3);
	assert_true(wait_for_waiters(&l1, 1));
	assert_true(gpuvm_ww_ctx_wounded__(&h));

	assert_int_equal(gpuvm_ww_mutex_lock(&l2, &h), 0); /* free: fine */
	assert_int_equal(gpuvm_ww_mutex_lock(&l0, &h), -EDEADLK);
	assert_int_equal(h.acquired, 2);
	gpuvm_ww_mutex_unlock(&l2);
	gpuvm_ww_mutex_unlock(&l1);
	assert_true(actor_wait(&o, 3));
	assert_int_equal(o.ret[2], 0);
	actor_allow(&o, 5);

	gpuvm_ww_mutex_lock_slow(&l0, &h);
	assert_false(gpuvm_ww_ctx_wounded__(&h));
	assert_true(actor_wait(&o, 5));
	assert_int_equal(gpuvm_ww_mutex_lock(&l1, &h), 0);
	assert_int_equal(gpuvm_ww_mutex_lock(&l2, &h), 0);
	gpuvm_ww_mutex_unlock(&l0);
	gpuvm_ww_mutex_unlock(&l1);
	gpuvm_ww_mutex_unlock(&l2);
	gpuvm_ww_acquire_fini(&h);
	actor_stop(&o);

	gpuvm_ww_mutex_destroy(&l0);
	gpuvm_ww_mutex_destroy(&l1);
	gpuvm_ww_mutex_destroy(&l2);
}

/* A holder asleep on another lock is woken by the wound and backs off. */
static void test_ww_mutex_wound_wakes_sleeper_ww(void **state)
{
	struct gpuvm_ww_mutex l0, l1, l2;
	struct actor o = { .script = { { OP_INIT },
				       { OP_LOCK, &l0 },
				       { OP_LOCK, &l1 },
				       { OP_UNLOCK_ALL },
				       { OP_FINI } } };
	struct actor h = { .script = { { OP_INIT },
				       { OP_LOCK, &l1 },
				       { OP_LOCK, &l2 },
				       { OP_UNLOCK_ALL },
				       { OP_FINI } } };

	gpuvm_ww_mutex_init(&l0, &wound_class);
	gpuvm_ww_mutex_init(&l1, &wound_class);
	gpuvm_ww_mutex_init(&l2, &wound_class);
	assert_int_equal(gpuvm_ww_mutex_lock(&l2, NULL), 0);

	actor_start(&o, &wound_class);
	actor_start(&h, &wound_class);
	assert_true(actor_run(&o, 1));
	assert_true(actor_run(&h, 2));
	actor_allow(&h, 3); /* sleeps on l2, held without a context */
	assert_true(wait_for_waiters(&l2, 1));

	assert_true(actor_run(&o, 2));
	actor_allow(&o, 3); /* wounds h */
	assert_true(actor_wait(&h, 3));
	assert_int_equal(h.ret[2], -EDEADLK);
	assert_true(gpuvm_ww_mutex_is_locked(&l2));
	assert_true(actor_run(&h, 4));
	assert_true(actor_wait(&o, 3));
	assert_int_equal(o.ret[2], 0);

	assert_true(actor_run(&h, 5));
	assert_true(actor_run(&o, 5));
	gpuvm_ww_mutex_unlock(&l2);
	actor_stop(&o);
	actor_stop(&h);
	gpuvm_ww_mutex_destroy(&l0);
	gpuvm_ww_mutex_destroy(&l1);
	gpuvm_ww_mutex_destroy(&l2);
}

/* ---- 6.5: queue order ------------------------------------------------------ */

/*
 * Context-less waiters stay FIFO; a context waiter goes in front of the
 * younger context waiters: [N1, Y, N2] + O gives [N1, O, Y, N2]. The
 * lock then passes along the queue in that order.
 */
static void ww_queue_order(struct gpuvm_ww_class *cls)
{
	struct gpuvm_ww_mutex l;
	int seq = 0;
	struct actor n1 = { .seq = &seq,
			    .script = { { OP_LOCK_NULL, &l },
					{ OP_UNLOCK, &l } } };
	struct actor n2 = { .seq = &seq,
			    .script = { { OP_LOCK_NULL, &l },
					{ OP_UNLOCK, &l } } };
	struct actor y = { .seq = &seq,
			   .script = { { OP_INIT },
				       { OP_LOCK, &l },
				       { OP_UNLOCK, &l },
				       { OP_FINI } } };
	struct actor o = { .seq = &seq,
			   .script = { { OP_INIT },
				       { OP_LOCK, &l },
				       { OP_UNLOCK, &l },
				       { OP_FINI } } };
	struct gpuvm_ww_acquire_ctx *queued[4];

	gpuvm_ww_mutex_init(&l, cls);
	assert_int_equal(gpuvm_ww_mutex_lock(&l, NULL), 0);
	actor_start(&n1, cls);
	actor_start(&n2, cls);
	actor_start(&y, cls);
	actor_start(&o, cls);
	assert_true(actor_run(&o, 1));
	assert_true(actor_run(&y, 1));

	actor_allow(&n1, 1);
	assert_true(wait_for_waiters(&l, 1));
	actor_allow(&y, 2);
	assert_true(wait_for_waiters(&l, 2));
	actor_allow(&n2, 1);
	assert_true(wait_for_waiters(&l, 3));
	actor_allow(&o, 2);
	assert_true(wait_for_waiters(&l, 4));

	assert_int_equal(gpuvm_ww_mutex_waiters__(&l, queued, 4), 4);
	assert_null(queued[0]);
	assert_ptr_equal(queued[1], &o.ctx);
	assert_ptr_equal(queued[2], &y.ctx);
	assert_null(queued[3]);

	/* Each one unlocks at once, waking the next. */
	actor_allow(&n1, 2);
	actor_allow(&n2, 2);
	actor_allow(&y, 4);
	actor_allow(&o, 4);
	gpuvm_ww_mutex_unlock(&l);
	assert_true(actor_wait(&n1, 2));
	assert_true(actor_wait(&o, 4));
	assert_true(actor_wait(&y, 4));
	assert_true(actor_wait(&n2, 2));
	assert_int_equal(n1.ret[0], 0);
	assert_int_equal(o.ret[1], 0);
	assert_int_equal(y.ret[1], 0);
	assert_int_equal(n2.ret[0], 0);
	assert_int_equal(n1.order, 0);
	assert_int_equal(o.order, 1);
	assert_int_equal(y.order, 2);
	assert_int_equal(n2.order, 3);

	actor_stop(&n1);
	actor_stop(&n2);
	actor_stop(&y);
	actor_stop(&o);
	assert_false(gpuvm_ww_mutex_is_locked(&l));
	gpuvm_ww_mutex_destroy(&l);
}
BOTH_CLASSES(ww_queue_order)

/* ---- interruptible waits ---------------------------------------------------- */

static void ww_interrupt_waiter(struct gpuvm_ww_class *cls, bool with_ctx)
{
	struct gpuvm_ww_mutex l;
	struct actor w = { .script = { { with_ctx ? OP_INIT : OP_END },
				       { OP_LOCK_INTR, &l } } };

	if (!with_ctx)
		w.script[0].op = OP_CLEAR_INTERRUPT;
	gpuvm_ww_mutex_init(&l, cls);
	assert_int_equal(gpuvm_ww_mutex_lock(&l, NULL), 0);
	actor_start(&w, cls);
	assert_true(actor_run(&w, 1));
	actor_allow(&w, 2);
	assert_true(wait_for_waiters(&l, 1));

	gpuvm_interrupt_thread(w.thread);
	assert_true(actor_wait(&w, 2));
	assert_int_equal(w.ret[1], -EINTR);
	assert_int_equal(w.nr_held, 0);
	assert_int_equal(gpuvm_ww_mutex_waiter_count__(&l), 0);
	assert_true(gpuvm_ww_mutex_is_locked(&l));
	if (with_ctx)
		assert_int_equal(w.ctx.acquired, 0);

	gpuvm_ww_mutex_unlock(&l);
	actor_stop(&w);
	gpuvm_ww_mutex_destroy(&l);
}

static void ww_interrupt_ctx(struct gpuvm_ww_class *cls)
{
	ww_interrupt_waiter(cls, true);
}
BOTH_CLASSES(ww_interrupt_ctx)

static void test_ww_mutex_interrupt_no_ctx(void **state)
{
	ww_interrupt_waiter(&die_class, false);
}

/* The slow lock after a back-off is interruptible too. */
static void test_ww_mutex_interrupt_lock_slow(void **state)
{
	struct gpuvm_ww_mutex a, b;
	struct actor w = { .script = { { OP_INIT },
				       { OP_INJECT },
				       { OP_LOCK, &a },
				       { OP_LOCK, &b },
				       { OP_UNLOCK, &a },
				       { OP_LOCK_SLOW_INTR, &b },
				       { OP_FINI } } };

	gpuvm_ww_mutex_init(&a, &die_class);
	gpuvm_ww_mutex_init(&b, &die_class);
	actor_start(&w, &die_class);
	assert_true(actor_run(&w, 5));
	assert_int_equal(w.ret[2], 0);
	assert_int_equal(w.ret[3], -EDEADLK);

	assert_int_equal(gpuvm_ww_mutex_lock(&b, NULL), 0);
	actor_allow(&w, 6);
	assert_true(wait_for_waiters(&b, 1));
	gpuvm_interrupt_thread(w.thread);
	assert_true(actor_wait(&w, 6));
	assert_int_equal(w.ret[5], -EINTR);
	assert_int_equal(w.ctx.acquired, 0);

	gpuvm_ww_mutex_unlock(&b);
	actor_stop(&w);
	gpuvm_ww_mutex_destroy(&a);
	gpuvm_ww_mutex_destroy(&b);
}

/* An uninterruptible wait ignores the interrupt and leaves it pending for
 * the next interruptible wait. */
static void test_ww_mutex_interrupt_uninterruptible(void **state)
{
	struct gpuvm_ww_mutex l, m;
	struct actor w = { .script = { { OP_LOCK_NULL, &l },
				       { OP_UNLOCK, &l },
				       { OP_LOCK_INTR, &m },
				       { OP_CLEAR_INTERRUPT } } };

	/* Two classes: two context-less locks of one class would be a
	 * recursion. */
	gpuvm_ww_mutex_init(&l, &wound_class);
	gpuvm_ww_mutex_init(&m, &die_class);
	assert_int_equal(gpuvm_ww_mutex_lock(&l, NULL), 0);
	assert_int_equal(gpuvm_ww_mutex_lock(&m, NULL), 0);
	actor_start(&w, &wound_class);
	actor_allow(&w, 1);
	assert_true(wait_for_waiters(&l, 1));

	gpuvm_interrupt_thread(w.thread);
	short_pause();
	assert_int_equal(actor_done(&w), 0);
	assert_int_equal(gpuvm_ww_mutex_waiter_count__(&l), 1);

	gpuvm_ww_mutex_unlock(&l);
	assert_true(actor_run(&w, 2));
	assert_int_equal(w.ret[0], 0);
	assert_true(actor_run(&w, 3));
	assert_int_equal(w.ret[2], -EINTR);
	assert_true(actor_run(&w, 4));

	gpuvm_ww_mutex_unlock(&m);
	actor_stop(&w);
	gpuvm_ww_mutex_destroy(&l);
	gpuvm_ww_mutex_destroy(&m);
}

/* A free lock is taken even with an interrupt pending, which stays. */
static void test_ww_mutex_interrupt_uncontended(void **state)
{
	struct gpuvm_ww_acquire_ctx ctx;
	struct gpuvm_ww_mutex l;

	gpuvm_ww_mutex_init(&l, &die_class);
	gpuvm_ww_acquire_init(&ctx, &die_class);
	gpuvm_interrupt_thread(pthread_self());
	assert_int_equal(gpuvm_ww_mutex_lock_interruptible(&l, &ctx), 0);
	gpuvm_ww_mutex_unlock(&l);
	gpuvm_ww_acquire_fini(&ctx);
	assert_int_equal(gpuvm_ww_mutex_lock_interruptible(&l, NULL), 0);
	gpuvm_ww_mutex_unlock(&l);
	assert_int_equal(gpuvm_parker_take_interrupt(gpuvm_parker_self()),
			 -EINTR);
	gpuvm_ww_mutex_destroy(&l);
}

/* ---- misuse: each reported exactly once --------------------------------- */

static void test_ww_mutex_misuse_relock_without_ctx(void **state)
{
	struct gpuvm_ww_mutex l;

	gpuvm_ww_mutex_init(&l, &die_class);
	assert_int_equal(gpuvm_ww_mutex_lock(&l, NULL), 0);
	/* The kernel would hang; we report and refuse. */
	assert_int_equal(gpuvm_ww_mutex_lock(&l, NULL), -EDEADLK);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_RECURSIVE_LOCK), 1);
	assert_true(gpuvm_ww_mutex_is_locked(&l));
	assert_int_equal(gpuvm_lock_held_count(), 1);
	gpuvm_ww_mutex_unlock(&l);
	assert_false(gpuvm_ww_mutex_is_locked(&l));
	gpuvm_ww_mutex_destroy(&l);
}

static void test_ww_mutex_misuse_no_ctx_inside_ctx(void **state)
{
	struct gpuvm_ww_acquire_ctx ctx;
	struct gpuvm_ww_mutex a, b;

	gpuvm_ww_mutex_init(&a, &wound_class);
	gpuvm_ww_mutex_init(&b, &wound_class);
	gpuvm_ww_acquire_init(&ctx, &wound_class);
	assert_int_equal(gpuvm_ww_mutex_lock(&a, &ctx), 0);
	assert_int_equal(harness_warnings(NULL), 0);
	/* Same class, no context, while a context is live. */
	assert_int_equal(gpuvm_ww_mutex_lock(&b, NULL), 0);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_RECURSIVE_LOCK), 1);
	gpuvm_ww_mutex_unlock(&b);
	gpuvm_ww_mutex_unlock(&a);
	gpuvm_ww_acquire_fini(&ctx);
	gpuvm_ww_mutex_destroy(&a);
	gpuvm_ww_mutex_destroy(&b);
}

static void test_ww_mutex_misuse_two_contexts(void **state)
{
	struct gpuvm_ww_acquire_ctx c1, c2;

	gpuvm_ww_acquire_init(&c1, &die_class);
	gpuvm_ww_acquire_init(&c2, &die_class);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_RECURSIVE_LOCK), 1);
	gpuvm_ww_acquire_fini(&c2);
	gpuvm_ww_acquire_fini(&c1);
}

static void test_ww_mutex_misuse_unlock_unheld(void **state)
{
	struct gpuvm_ww_mutex l;

	gpuvm_ww_mutex_init(&l, &die_class);
	gpuvm_ww_mutex_unlock(&l);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_WW_UNLOCK_UNHELD), 1);
	assert_false(gpuvm_ww_mutex_is_locked(&l));
	/* Still a working mutex. */
	assert_int_equal(gpuvm_ww_mutex_lock(&l, NULL), 0);
	gpuvm_ww_mutex_unlock(&l);
	assert_false(gpuvm_ww_mutex_is_locked(&l));
	gpuvm_ww_mutex_destroy(&l);
}

static void test_ww_mutex_misuse_unlock_other_thread(void **state)
{
	struct gpuvm_ww_mutex l;
	struct actor w = { .script = { { OP_LOCK_NULL, &l },
				       { OP_UNLOCK, &l } } };

	gpuvm_ww_mutex_init(&l, &die_class);
	actor_start(&w, &die_class);
	assert_true(actor_run(&w, 1));
	gpuvm_ww_mutex_unlock(&l);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_WW_UNLOCK_UNHELD), 1);
	assert_true(gpuvm_ww_mutex_is_locked(&l)); /* ignored */
	assert_true(actor_run(&w, 2));
	assert_int_equal(w.ret[1], 0);
	assert_false(gpuvm_ww_mutex_is_locked(&l));
	actor_stop(&w);
	gpuvm_ww_mutex_destroy(&l);
}

static void test_ww_mutex_misuse_lock_after_done(void **state)
{
	struct gpuvm_ww_acquire_ctx ctx;
	struct gpuvm_ww_mutex a, b;

	gpuvm_ww_mutex_init(&a, &die_class);
	gpuvm_ww_mutex_init(&b, &die_class);
	gpuvm_ww_acquire_init(&ctx, &die_class);
	assert_int_equal(gpuvm_ww_mutex_lock(&a, &ctx), 0);
	gpuvm_ww_acquire_done(&ctx);
	assert_int_equal(harness_warnings(NULL), 0);
	assert_int_equal(gpuvm_ww_mutex_lock(&b, &ctx), 0);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_WW_ACQUIRE_DONE), 1);
	assert_int_equal(ctx.acquired, 2);
	gpuvm_ww_mutex_unlock(&a);
	gpuvm_ww_mutex_unlock(&b);
	gpuvm_ww_acquire_fini(&ctx);
	gpuvm_ww_mutex_destroy(&a);
	gpuvm_ww_mutex_destroy(&b);
}

static void test_ww_mutex_misuse_done_twice(void **state)
{
	struct gpuvm_ww_acquire_ctx ctx;

	gpuvm_ww_acquire_init(&ctx, &die_class);
	gpuvm_ww_acquire_done(&ctx);
	gpuvm_ww_acquire_done(&ctx);
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_WW_ACQUIRE_DONE_TWICE), 1);
	gpuvm_ww_acquire_fini(&ctx);
}

static void test_ww_mutex_misuse_class_mismatch(void **state)
{
	static GPUVM_DEFINE_WD_CLASS(class_a);
	static GPUVM_DEFINE_WD_CLASS(class_b);
	struct gpuvm_ww_acquire_ctx ctx;
	struct gpuvm_ww_mutex l;

	gpuvm_ww_mutex_init(&l, &class_b);
	gpuvm_ww_acquire_init(&ctx, &class_a);
	assert_int_equal(gpuvm_ww_mutex_lock(&l, &ctx), 0);
	assert_non_null(
		strstr(harness_last_warning(GPUVM_RULE_WW_CLASS_MISMATCH),
		       "gpuvm_ww_mutex_lock: "));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_WW_CLASS_MISMATCH),
			 1);
	gpuvm_ww_mutex_unlock(&l);
	gpuvm_ww_acquire_fini(&ctx);
	gpuvm_ww_mutex_destroy(&l);
}

static void test_ww_mutex_misuse_slow_without_deadlock(void **state)
{
	struct gpuvm_ww_acquire_ctx ctx;
	struct gpuvm_ww_mutex l;

	gpuvm_ww_mutex_init(&l, &wound_class);
	gpuvm_ww_acquire_init(&ctx, &wound_class);
	gpuvm_ww_mutex_lock_slow(&l, &ctx);
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_WW_SLOW_WITHOUT_DEADLOCK), 1);
	assert_int_equal(ctx.acquired, 1); /* still taken */
	gpuvm_ww_mutex_unlock(&l);
	gpuvm_ww_acquire_fini(&ctx);
	gpuvm_ww_mutex_destroy(&l);
}

static void test_ww_mutex_misuse_fini_held(void **state)
{
	struct gpuvm_ww_acquire_ctx ctx;
	struct gpuvm_ww_mutex l;

	gpuvm_ww_mutex_init(&l, &wound_class);
	gpuvm_ww_acquire_init(&ctx, &wound_class);
	assert_int_equal(gpuvm_ww_mutex_lock(&l, &ctx), 0);
	gpuvm_ww_acquire_fini(&ctx);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_WW_ACQUIRE_FINI_HELD),
			 1);
	/* The lock stays held until unlocked. */
	assert_true(gpuvm_ww_mutex_is_locked(&l));
	gpuvm_ww_mutex_unlock(&l);
	assert_false(gpuvm_ww_mutex_is_locked(&l));
	gpuvm_ww_mutex_destroy(&l);
}

static void test_ww_mutex_misuse_fini_twice(void **state)
{
	struct gpuvm_ww_acquire_ctx ctx;

	gpuvm_ww_acquire_init(&ctx, &wound_class);
	gpuvm_ww_acquire_fini(&ctx);
	gpuvm_ww_acquire_fini(&ctx);
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_WW_ACQUIRE_FINI_TWICE), 1);
}

static void test_ww_mutex_misuse_lock_after_fini(void **state)
{
	struct gpuvm_ww_acquire_ctx ctx;
	struct gpuvm_ww_mutex l;

	gpuvm_ww_mutex_init(&l, &wound_class);
	gpuvm_ww_acquire_init(&ctx, &wound_class);
	gpuvm_ww_acquire_fini(&ctx);
	assert_int_equal(gpuvm_ww_mutex_lock(&l, &ctx), 0);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_WW_CTX_FINISHED), 1);
	gpuvm_ww_mutex_unlock(&l);
	gpuvm_ww_acquire_done(&ctx);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_WW_CTX_FINISHED), 1);
	gpuvm_ww_mutex_destroy(&l);
}

/* After -EDEADLK the contended lock must come first ... */
static void test_ww_mutex_misuse_contended_other_lock(void **state)
{
	struct gpuvm_ww_acquire_ctx ctx;
	struct gpuvm_ww_mutex a, b, c;

	gpuvm_ww_mutex_init(&a, &die_class);
	gpuvm_ww_mutex_init(&b, &die_class);
	gpuvm_ww_mutex_init(&c, &die_class);
	gpuvm_ww_acquire_init(&ctx, &die_class);
	gpuvm_ww_mutex_inject_deadlock(&ctx, 1);
	assert_int_equal(gpuvm_ww_mutex_lock(&a, &ctx), 0);
	assert_int_equal(gpuvm_ww_mutex_lock(&b, &ctx), -EDEADLK);
	gpuvm_ww_mutex_unlock(&a);
	assert_int_equal(harness_warnings(NULL), 0);
	assert_int_equal(gpuvm_ww_mutex_lock(&c, &ctx), 0);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_WW_CONTENDED), 1);
	gpuvm_ww_mutex_unlock(&c);
	gpuvm_ww_acquire_fini(&ctx);
	gpuvm_ww_mutex_destroy(&a);
	gpuvm_ww_mutex_destroy(&b);
	gpuvm_ww_mutex_destroy(&c);
}

/* ... and only after everything was dropped. */
static void test_ww_mutex_misuse_contended_still_holding(void **state)
{
	struct gpuvm_ww_acquire_ctx ctx;
	struct gpuvm_ww_mutex a, b;

	gpuvm_ww_mutex_init(&a, &wound_class);
	gpuvm_ww_mutex_init(&b, &wound_class);
	gpuvm_ww_acquire_init(&ctx, &wound_class);
	gpuvm_ww_mutex_inject_deadlock(&ctx, 1);
	assert_int_equal(gpuvm_ww_mutex_lock(&a, &ctx), 0);
	assert_int_equal(gpuvm_ww_mutex_lock(&b, &ctx), -EDEADLK);
	gpuvm_ww_mutex_lock_slow(&b, &ctx); /* a still held */
	assert_int_equal(harness_take_warnings(GPUVM_RULE_WW_CONTENDED), 1);
	assert_int_equal(ctx.acquired, 2);
	gpuvm_ww_mutex_unlock(&a);
	gpuvm_ww_mutex_unlock(&b);
	gpuvm_ww_acquire_fini(&ctx);
	gpuvm_ww_mutex_destroy(&a);
	gpuvm_ww_mutex_destroy(&b);
}

/* A second -EDEADLK before backing off from the first. */
static void test_ww_mutex_misuse_contended_twice(void **state)
{
	struct gpuvm_ww_acquire_ctx ctx;
	struct gpuvm_ww_mutex a, b, c;
	struct actor h = { .script = { { OP_INIT },
				       { OP_LOCK, &c },
				       { OP_UNLOCK_ALL },
				       { OP_FINI } } };

	gpuvm_ww_mutex_init(&a, &die_class);
	gpuvm_ww_mutex_init(&b, &die_class);
	gpuvm_ww_mutex_init(&c, &die_class);
	actor_start(&h, &die_class);
	assert_true(actor_run(&h, 2)); /* older, holds c */

	gpuvm_ww_acquire_init(&ctx, &die_class);
	gpuvm_ww_mutex_inject_deadlock(&ctx, 1);
	assert_int_equal(gpuvm_ww_mutex_lock(&a, &ctx), 0);
	assert_int_equal(gpuvm_ww_mutex_lock(&b, &ctx), -EDEADLK);
	assert_int_equal(harness_warnings(NULL), 0);
	assert_int_equal(gpuvm_ww_mutex_lock(&c, &ctx), -EDEADLK);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_WW_CONTENDED), 1);
	assert_int_equal(gpuvm_ww_mutex_waiter_count__(&c), 0);
	gpuvm_ww_mutex_unlock(&a);
	gpuvm_ww_acquire_fini(&ctx);

	actor_stop(&h);
	gpuvm_ww_mutex_destroy(&a);
	gpuvm_ww_mutex_destroy(&b);
	gpuvm_ww_mutex_destroy(&c);
}

static void test_ww_mutex_misuse_ctx_wrong_thread(void **state)
{
	struct gpuvm_ww_acquire_ctx ctx;
	struct gpuvm_ww_mutex l;
	struct actor w = { .foreign = &ctx,
			   .script = { { OP_LOCK_FOREIGN, &l },
				       { OP_UNLOCK, &l } } };

	gpuvm_ww_mutex_init(&l, &wound_class);
	gpuvm_ww_acquire_init(&ctx, &wound_class);
	actor_start(&w, &wound_class);
	assert_true(actor_run(&w, 1));
	assert_int_equal(w.ret[0], 0);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_WW_CTX_THREAD), 1);
	assert_ptr_equal(l.ctx, &ctx);
	assert_true(actor_run(&w, 2));
	assert_int_equal(ctx.acquired, 0);
	actor_stop(&w);
	gpuvm_ww_acquire_fini(&ctx);
	gpuvm_ww_mutex_destroy(&l);
}

/* fini with a lock held, the context reused, then the old lock unlocked:
 * the new transaction holds nothing, which unlock notices. */
static void test_ww_mutex_misuse_acquired_underflow(void **state)
{
	static GPUVM_DEFINE_WD_CLASS(reuse_class);
	struct gpuvm_ww_acquire_ctx ctx;
	struct gpuvm_ww_mutex l;

	gpuvm_ww_mutex_init(&l, &reuse_class);
	gpuvm_ww_acquire_init(&ctx, &reuse_class);
	assert_int_equal(gpuvm_ww_mutex_lock(&l, &ctx), 0);
	gpuvm_ww_acquire_fini(&ctx);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_WW_ACQUIRE_FINI_HELD),
			 1);
	/* Starting a transaction while holding a mutex of its class is an
	 * inversion of the usual order, which the checker reports too. */
	gpuvm_ww_acquire_init(&ctx, &reuse_class);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_ORDER), 1);
	gpuvm_ww_mutex_unlock(&l);
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_WW_ACQUIRED_UNDERFLOW), 1);
	assert_int_equal(ctx.acquired, 0);
	assert_false(gpuvm_ww_mutex_is_locked(&l));
	gpuvm_ww_acquire_fini(&ctx);
	gpuvm_ww_mutex_destroy(&l);
}

static void test_ww_mutex_misuse_destroy_locked(void **state)
{
	struct gpuvm_ww_mutex l;

	gpuvm_ww_mutex_init(&l, &die_class);
	assert_int_equal(gpuvm_ww_mutex_lock(&l, NULL), 0);
	gpuvm_ww_mutex_destroy(&l);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DESTROY_HELD), 1);
	/* Reported and left intact: the wait lock was not destroyed. */
	assert_int_equal(pthread_mutex_trylock(&l.wait_lock), 0);
	pthread_mutex_unlock(&l.wait_lock);
	/* The holder's unlock and later use stay defined. */
	gpuvm_ww_mutex_unlock(&l);
	assert_false(gpuvm_ww_mutex_is_locked(&l));
	assert_int_equal(gpuvm_ww_mutex_lock(&l, NULL), 0);
	gpuvm_ww_mutex_unlock(&l);
	gpuvm_ww_mutex_destroy(&l);
	assert_int_equal(harness_warnings(NULL), 0);
}

struct destroy_holder {
	struct gpuvm_ww_mutex *lock;
	int stage; /* atomic: 1 locked, 2 may unlock, 3 unlocked */
};

static void *destroy_holder_main(void *arg)
{
	struct destroy_holder *h = arg;

	if (gpuvm_ww_mutex_lock(h->lock, NULL) == 0) {
		__atomic_store_n(&h->stage, 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&h->stage, __ATOMIC_ACQUIRE) != 2)
			sched_yield();
		gpuvm_ww_mutex_unlock(h->lock);
	}
	__atomic_store_n(&h->stage, 3, __ATOMIC_RELEASE);
	return NULL;
}

/* Destroying a mutex another thread holds is reported and leaves it
 * intact, so that thread's unlock stays defined (as gpuvm_mutex). */
static void test_ww_mutex_misuse_destroy_held_elsewhere(void **state)
{
	struct gpuvm_ww_mutex l;
	struct destroy_holder h = { .lock = &l };
	pthread_t t;
	int intact;

	gpuvm_ww_mutex_init(&l, &die_class);
	t = start_thread(destroy_holder_main, &h);
	assert_true(wait_at_least(&h.stage, 1));
	gpuvm_ww_mutex_destroy(&l);
	intact = pthread_mutex_trylock(&l.wait_lock);
	if (intact == 0)
		pthread_mutex_unlock(&l.wait_lock);
	__atomic_store_n(&h.stage, 2, __ATOMIC_RELEASE);
	join_thread(t);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DESTROY_HELD), 1);
	assert_int_equal(intact, 0);
	assert_int_equal(h.stage, 3);
	assert_false(gpuvm_ww_mutex_is_locked(&l));
	assert_int_equal(gpuvm_ww_mutex_trylock(&l, NULL), 1);
	gpuvm_ww_mutex_unlock(&l);
	gpuvm_ww_mutex_destroy(&l);
	assert_int_equal(harness_warnings(NULL), 0);
}

static void test_ww_mutex_assert_held(void **state)
{
	struct gpuvm_ww_mutex l;

	gpuvm_ww_mutex_init(&l, &die_class);
	assert_int_equal(gpuvm_ww_mutex_lock(&l, NULL), 0);
	gpuvm_ww_mutex_assert_held(&l, "held_check");
	assert_int_equal(harness_warnings(NULL), 0);
	gpuvm_ww_mutex_unlock(&l);
	gpuvm_ww_mutex_assert_held(&l, "held_check");
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_LOCK_NOT_HELD),
			       "held_check"));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD), 1);
	gpuvm_ww_mutex_destroy(&l);
}

/* With the checker off nothing is reported and locking still works. */
static void test_ww_mutex_debug_off(void **state)
{
	struct gpuvm_ww_acquire_ctx ctx;
	struct gpuvm_ww_mutex a, b;

	gpuvm_debug_enable(false);
	gpuvm_ww_mutex_init(&a, &die_class);
	gpuvm_ww_mutex_init(&b, &die_class);
	gpuvm_ww_acquire_init(&ctx, &die_class);
	assert_int_equal(gpuvm_ww_mutex_lock(&a, &ctx), 0);
	gpuvm_ww_acquire_done(&ctx);
	assert_int_equal(gpuvm_ww_mutex_lock(&b, &ctx), 0); /* after done */
	gpuvm_ww_mutex_lock_slow(&a, &ctx); /* -EALREADY, discarded */
	assert_int_equal(ctx.acquired, 2);
	gpuvm_ww_mutex_unlock(&a);
	gpuvm_ww_mutex_unlock(&b);
	gpuvm_ww_acquire_fini(&ctx);
	gpuvm_ww_mutex_destroy(&a);
	gpuvm_ww_mutex_destroy(&b);
	gpuvm_debug_enable(true);
	assert_int_equal(harness_warnings(NULL), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_ww_mutex_stamps_and_counts),
		BOTH_TESTS(ww_trylock_body),
		TEST_MUTEX_TESTS(lock),
		TEST_MUTEX_TESTS(lock_spin),
		TEST_MUTEX_TESTS(try),
		TEST_MUTEX_TESTS(try_spin),
		TEST_MUTEX_TESTS(ctx_lock),
		TEST_MUTEX_TESTS(ctx_lock_spin),
		TEST_MUTEX_TESTS(ctx_try),
		TEST_MUTEX_TESTS(ctx_try_spin),
		harness_test(test_ww_mutex_AA_ww),
		harness_test(test_ww_mutex_AA_wd),
		harness_test(test_ww_mutex_AA_trylock_ww),
		harness_test(test_ww_mutex_AA_trylock_wd),
		TEST_ABBA_TESTS(deadlock),
		TEST_ABBA_TESTS(trylock_deadlock),
		TEST_ABBA_TESTS(resolve),
		TEST_ABBA_TESTS(trylock_resolve),
		harness_test(test_ww_mutex_cycle_ww),
		harness_test(test_ww_mutex_cycle_wd),
		BOTH_TESTS(ww_nothing_held_waits),
		BOTH_TESTS(ww_inject_never_without_locks),
		harness_test(test_ww_mutex_inject_schedule),
		harness_test(test_ww_mutex_early_kill_wd),
		harness_test(test_ww_mutex_die_on_older_waiter_wd),
		harness_test(test_ww_mutex_lazy_wound_ww),
		harness_test(test_ww_mutex_wound_wakes_sleeper_ww),
		BOTH_TESTS(ww_queue_order),
		BOTH_TESTS(ww_interrupt_ctx),
		harness_test(test_ww_mutex_interrupt_no_ctx),
		harness_test(test_ww_mutex_interrupt_lock_slow),
		harness_test(test_ww_mutex_interrupt_uninterruptible),
		harness_test(test_ww_mutex_interrupt_uncontended),
		harness_test(test_ww_mutex_misuse_relock_without_ctx),
		harness_test(test_ww_mutex_misuse_no_ctx_inside_ctx),
		harness_test(test_ww_mutex_misuse_two_contexts),
		harness_test(test_ww_mutex_misuse_unlock_unheld),
		harness_test(test_ww_mutex_misuse_unlock_other_thread),
		harness_test(test_ww_mutex_misuse_lock_after_done),
		harness_test(test_ww_mutex_misuse_done_twice),
		harness_test(test_ww_mutex_misuse_class_mismatch),
		harness_test(test_ww_mutex_misuse_slow_without_deadlock),
		harness_test(test_ww_mutex_misuse_fini_held),
		harness_test(test_ww_mutex_misuse_fini_twice),
		harness_test(test_ww_mutex_misuse_lock_after_fini),
		harness_test(test_ww_mutex_misuse_contended_other_lock),
		harness_test(test_ww_mutex_misuse_contended_still_holding),
		harness_test(test_ww_mutex_misuse_contended_twice),
		harness_test(test_ww_mutex_misuse_ctx_wrong_thread),
		harness_test(test_ww_mutex_misuse_acquired_underflow),
		harness_test(test_ww_mutex_misuse_destroy_locked),
		harness_test(test_ww_mutex_misuse_destroy_held_elsewhere),
		harness_test(test_ww_mutex_assert_held),
		harness_test(test_ww_mutex_debug_off),
	};

	return harness_run("gpuvm/ww_mutex", tests, argc, argv);
}
