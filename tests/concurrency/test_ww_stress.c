// SPDX-License-Identifier: MIT
/*
 * ww_mutex under real concurrency: the multi-threaded cases of the
 * kernel's test-ww_mutex (mutual exclusion, ABBA and N-way cycles, the
 * in-order / reorder / single-lock stress), for both algorithms.
 *
 * Every case runs against a deadline. The whole executable takes about
 * GPUVM_STRESS_SECONDS (default 2) seconds, or the value given with
 * --seconds=N as first argument (the `slow` suite runs it longer).
 * Workers only count; the main thread asserts after joining them. Every
 * mutex guards a plain counter that its holders check, so a broken mutual
 * exclusion shows up as a count mismatch here and as a race under TSan.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gpuvm/testing.h>
#include "harness.h"
#include "ww_mutex_internal.h"

static GPUVM_DEFINE_WW_CLASS(wound_class);
static GPUVM_DEFINE_WD_CLASS(die_class);

static double total_seconds = 2.0;
static uint64_t base_seed;

/* Share of the total time per case; both classes run every case. */
#define SHARE_MUTEX 0.08
#define SHARE_ABBA 0.08
#define SHARE_CYCLE 0.08
#define SHARE_INORDER 0.18
#define SHARE_REORDER 0.18
#define SHARE_ALL 0.40

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double deadline_for(double share)
{
	/* Half the total per class. */
	return now_ns() + total_seconds * share * 0.5 * 1e9;
}

static bool past(double deadline)
{
	return now_ns() >= deadline;
}

static uint64_t rnd_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static unsigned int ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	return n > 8 ? 8 : (unsigned int)n;
}

static void shuffle(unsigned int *order, unsigned int n, uint64_t *rnd)
{
	unsigned int i, j, t;

	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n; i > 1; i--) {
		j = (unsigned int)(rnd_next(rnd) % i);
		t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
}

/* ---- guarded locks -------------------------------------------------------- */

struct guarded {
	struct gpuvm_ww_mutex lock;
	unsigned long counter; /* plain: protected by lock */
};

struct worker_stats {
	unsigned long transactions;
	unsigned long backoffs;
	unsigned long errors; /* unexpected results */
	unsigned long exclusion; /* mutual exclusion violations */
	int first_error;
};

static void record_error(struct worker_stats *st, int err)
{
	if (!st->errors++)
		st->first_error = err;
}

/*
 * Bump the counters of the held locks, sleep a little (the kernel's dummy
 * load is 1-2 ms; shorter here to get more interleavings per second),
 * then check that nobody else touched them.
 */
static void dummy_load(struct guarded **held, unsigned int n, uint64_t *rnd,
		       struct worker_stats *st)
{
	unsigned long *seen = NULL, one;
	unsigned int i, r = (unsigned int)(rnd_next(rnd) % 8);

	if (n == 1) {
		seen = &one;
	} else {
		seen = malloc(n * sizeof(*seen));
		if (!seen) {
			record_error(st, -ENOMEM);
			return;
		}
	}
	for (i = 0; i < n; i++)
		seen[i] = ++held[i]->counter;
	if (r == 0) {
		sched_yield();
	} else if (r > 2) {
		struct timespec ts = { 0, (long)(rnd_next(rnd) % 200000) };

		nanosleep(&ts, NULL);
	}
	for (i = 0; i < n; i++)
		if (held[i]->counter != seen[i])
			st->exclusion++;
	if (seen != &one)
		free(seen);
}

/* ---- the in-order transaction (WW-5a), shared by abba and cycle ---------- */

/*
 * Lock @locks in the given order through @ctx, backing off the kernel way
 * on -EDEADLK (drop all, slow-lock the contended one, retry the pass
 * around it), until all are held or @deadline passed (pitfall: check it
 * before every retry). Return: 0 with everything held, -ETIMEDOUT with
 * nothing held, or an unexpected error (nothing held).
 */
static int lock_in_order(struct guarded **locks, unsigned int n,
			 struct gpuvm_ww_acquire_ctx *ctx, double deadline,
			 struct worker_stats *st)
{
	int contended = -1, err;
	unsigned int i;

	for (;;) {
		err = 0;
		for (i = 0; i < n; i++) {
			if ((int)i == contended)
				continue;
			err = gpuvm_ww_mutex_lock(&locks[i]->lock, ctx);
			if (err)
				break;
		}
		if (!err)
			return 0;

		/* -EDEADLK only while holding something. */
		if (err == -EDEADLK && ctx->acquired == 0)
			record_error(st, -EPROTO);
		if (contended > (int)i)
			gpuvm_ww_mutex_unlock(&locks[contended]->lock);
		contended = (int)i;
		while (i--)
			gpuvm_ww_mutex_unlock(&locks[i]->lock);
		if (ctx->acquired != 0)
			record_error(st, -EPROTO);
		if (err != -EDEADLK)
			return err;
		st->backoffs++;
		if (past(deadline))
			return -ETIMEDOUT;
		gpuvm_ww_mutex_lock_slow(&locks[contended]->lock, ctx);
	}
}

static void unlock_all(struct guarded **locks, unsigned int n)
{
	while (n--)
		gpuvm_ww_mutex_unlock(&locks[n]->lock);
}

/* ---- stress harness (WW-5) ------------------------------------------------ */

#define STRESS_INORDER 1
#define STRESS_REORDER 2
#define STRESS_ONE 4
#define STRESS_ALL (STRESS_INORDER | STRESS_REORDER | STRESS_ONE)

struct stress {
	struct gpuvm_ww_class *cls;
	struct guarded *locks;
	unsigned int nlocks;
	double deadline;
};

struct stress_worker {
	struct stress *stress;
	unsigned int kind;
	uint64_t rnd;
	struct guarded **order; /* owned by the controller */
	struct worker_stats st;
	pthread_t thread;
};

static void *stress_inorder_work(void *arg)
{
	struct stress_worker *w = arg;
	struct stress *s = w->stress;
	struct gpuvm_ww_acquire_ctx ctx;
	int err;

	do {
		gpuvm_ww_acquire_init(&ctx, s->cls);
		/* Now and then, add artificial back-offs. */
		if (rnd_next(&w->rnd) % 4 == 0)
			gpuvm_ww_mutex_inject_deadlock(&ctx, 1 + s->nlocks / 4);
		err = lock_in_order(w->order, s->nlocks, &ctx, s->deadline,
				    &w->st);
		if (!err) {
			gpuvm_ww_acquire_done(&ctx);
			dummy_load(w->order, s->nlocks, &w->rnd, &w->st);
			unlock_all(w->order, s->nlocks);
			w->st.transactions++;
		}
		gpuvm_ww_acquire_fini(&ctx);
		if (err && err != -ETIMEDOUT) {
			record_error(&w->st, err);
			break;
		}
	} while (!past(s->deadline));
	return NULL;
}

static void *stress_reorder_work(void *arg)
{
	struct stress_worker *w = arg;
	struct stress *s = w->stress;
	struct gpuvm_ww_acquire_ctx ctx;
	struct guarded **list = w->order;
	unsigned int i, j;
	bool gave_up;
	int err;

	do {
		gpuvm_ww_acquire_init(&ctx, s->cls);
		gave_up = false;
		for (i = 0; i < s->nlocks; i++) {
			struct guarded *g = list[i];

			err = gpuvm_ww_mutex_lock(&g->lock, &ctx);
			if (!err)
				continue;
			if (err == -EDEADLK && ctx.acquired == 0)
				record_error(&w->st, -EPROTO);
			for (j = 0; j < i; j++)
				gpuvm_ww_mutex_unlock(&list[j]->lock);
			if (err != -EDEADLK) {
				record_error(&w->st, err);
				gave_up = true;
				break;
			}
			w->st.backoffs++;
			if (past(s->deadline)) {
				gave_up = true;
				break;
			}
			gpuvm_ww_mutex_lock_slow(&g->lock, &ctx);
			/* The contended lock moves to the front; the walk
			 * goes on with everything after it. */
			memmove(&list[1], &list[0], i * sizeof(list[0]));
			list[0] = g;
			i = 0;
		}
		if (!gave_up) {
			dummy_load(list, s->nlocks, &w->rnd, &w->st);
			unlock_all(list, s->nlocks);
			w->st.transactions++;
		}
		if (ctx.acquired != 0)
			record_error(&w->st, -EPROTO);
		gpuvm_ww_acquire_fini(&ctx);
	} while (!past(s->deadline) && !w->st.errors);
	return NULL;
}

static void *stress_one_work(void *arg)
{
	struct stress_worker *w = arg;
	struct stress *s = w->stress;
	struct guarded *g = &s->locks[rnd_next(&w->rnd) % s->nlocks];
	int err;

	do {
		err = gpuvm_ww_mutex_lock(&g->lock, NULL);
		if (err) {
			record_error(&w->st, err);
			break;
		}
		dummy_load(&g, 1, &w->rnd, &w->st);
		gpuvm_ww_mutex_unlock(&g->lock);
		w->st.transactions++;
	} while (!past(s->deadline));
	return NULL;
}

static void run_stress(struct gpuvm_ww_class *cls, unsigned int nlocks,
		       unsigned int nthreads, unsigned int flags, double share)
{
	struct stress s = { .cls = cls, .nlocks = nlocks };
	struct stress_worker *workers;
	unsigned long transactions = 0, backoffs = 0, per_kind[4] = { 0 };
	unsigned int i, n, count;

	s.locks = calloc(nlocks, sizeof(*s.locks));
	workers = calloc(nthreads, sizeof(*workers));
	assert_non_null(s.locks);
	assert_non_null(workers);
	for (i = 0; i < nlocks; i++)
		gpuvm_ww_mutex_init(&s.locks[i].lock, cls);
	s.deadline = deadline_for(share);

	/* Roles round-robin, skipping the ones not asked for. */
	for (n = 0, count = 0; count < nthreads; n++) {
		struct stress_worker *w = &workers[count];
		void *(*fn)(void *);
		unsigned int *idx;

		switch (n & 3) {
		case 0:
			if (!(flags & STRESS_INORDER))
				continue;
			fn = stress_inorder_work;
			break;
		case 1:
			if (!(flags & STRESS_REORDER))
				continue;
			fn = stress_reorder_work;
			break;
		case 2:
			if (!(flags & STRESS_ONE))
				continue;
			fn = stress_one_work;
			break;
		default:
			continue;
		}
		w->stress = &s;
		w->kind = n & 3;
		w->rnd = base_seed ^ (0x9e3779b97f4a7c15ull * (count + 1)) ^
			 nlocks;
		w->order = calloc(nlocks, sizeof(*w->order));
		idx = calloc(nlocks, sizeof(*idx));
		assert_non_null(w->order);
		assert_non_null(idx);
		shuffle(idx, nlocks, &w->rnd);
		for (i = 0; i < nlocks; i++)
			w->order[i] = &s.locks[idx[i]];
		free(idx);
		assert_int_equal(pthread_create(&w->thread, NULL, fn, w), 0);
		count++;
	}

	for (i = 0; i < nthreads; i++)
		pthread_join(workers[i].thread, NULL);

	for (i = 0; i < nthreads; i++) {
		struct worker_stats *st = &workers[i].st;

		if (st->errors)
			fprintf(stderr,
				"worker %u (kind %u): %lu errors, "
				"first %d\n",
				i, workers[i].kind, st->errors,
				st->first_error);
		assert_int_equal(st->errors, 0);
		assert_int_equal(st->exclusion, 0);
		transactions += st->transactions;
		per_kind[workers[i].kind] += st->transactions;
		backoffs += st->backoffs;
		free(workers[i].order);
	}
	assert_true(transactions > 0);
	for (i = 0; i < nlocks; i++) {
		assert_false(gpuvm_ww_mutex_is_locked(&s.locks[i].lock));
		assert_int_equal(
			gpuvm_ww_mutex_waiter_count__(&s.locks[i].lock), 0);
		gpuvm_ww_mutex_destroy(&s.locks[i].lock);
	}
	fprintf(stderr,
		"# %s: %u locks, %u threads, flags %u: %lu transactions "
		"(in-order %lu, reorder %lu, single-lock %lu), %lu back-offs\n",
		cls->name, nlocks, nthreads, flags, transactions, per_kind[0],
		per_kind[1], per_kind[2], backoffs);
	free(workers);
	free(s.locks);
}

static void stress_inorder(struct gpuvm_ww_class *cls)
{
	run_stress(cls, 16, 2 * ncpus(), STRESS_INORDER, SHARE_INORDER);
}

static void stress_reorder(struct gpuvm_ww_class *cls)
{
	run_stress(cls, 16, 2 * ncpus(), STRESS_REORDER, SHARE_REORDER);
}

static void stress_all(struct gpuvm_ww_class *cls)
{
	run_stress(cls, 2046, 3 * ncpus(), STRESS_ALL, SHARE_ALL);
}

/* ---- mutual exclusion (WW-1, free running) -------------------------------- */

struct excl {
	struct gpuvm_ww_class *cls;
	struct gpuvm_ww_mutex lock;
	unsigned long counter; /* plain */
	int inside; /* atomic */
	double deadline;
	struct worker_stats st[8];
};

static void excl_body(struct excl *e, struct worker_stats *st)
{
	unsigned long before;

	if (__atomic_exchange_n(&e->inside, 1, __ATOMIC_RELAXED))
		st->exclusion++;
	before = e->counter++;
	if (before % 16 == 0)
		sched_yield();
	if (e->counter != before + 1)
		st->exclusion++;
	__atomic_store_n(&e->inside, 0, __ATOMIC_RELAXED);
	st->transactions++;
}

static void excl_worker(unsigned int t, void *arg)
{
	struct excl *e = arg;
	struct worker_stats *st = &e->st[t];
	struct gpuvm_ww_acquire_ctx ctx;
	uint64_t rnd = base_seed + t + 1;
	unsigned int mode;
	int err;

	while (!past(e->deadline)) {
		/* Every way in: TEST_MTX_CTX / TRY / SPIN and more. */
		mode = (unsigned int)(rnd_next(&rnd) % 6);
		if (mode >= 3)
			gpuvm_ww_acquire_init(&ctx, e->cls);
		switch (mode) {
		case 0:
			err = gpuvm_ww_mutex_lock(&e->lock, NULL);
			break;
		case 1:
			while (!gpuvm_ww_mutex_trylock(&e->lock, NULL))
				sched_yield();
			err = 0;
			break;
		case 2:
			err = gpuvm_ww_mutex_lock_interruptible(&e->lock, NULL);
			break;
		case 3:
			err = gpuvm_ww_mutex_lock(&e->lock, &ctx);
			break;
		case 4:
			while (!gpuvm_ww_mutex_trylock(&e->lock, &ctx))
				sched_yield();
			err = 0;
			break;
		default:
			err = gpuvm_ww_mutex_lock_interruptible(&e->lock, &ctx);
			break;
		}
		if (err) {
			record_error(st, err);
		} else {
			excl_body(e, st);
			gpuvm_ww_mutex_unlock(&e->lock);
		}
		if (mode >= 3)
			gpuvm_ww_acquire_fini(&ctx);
	}
}

static void mutex_exclusion(struct gpuvm_ww_class *cls)
{
	static struct excl e;
	unsigned int i, n = 4;
	unsigned long total = 0;

	memset(&e, 0, sizeof(e));
	e.cls = cls;
	gpuvm_ww_mutex_init(&e.lock, cls);
	e.deadline = deadline_for(SHARE_MUTEX);
	harness_run_threads(n, excl_worker, &e);
	for (i = 0; i < n; i++) {
		assert_int_equal(e.st[i].errors, 0);
		assert_int_equal(e.st[i].exclusion, 0);
		total += e.st[i].transactions;
	}
	assert_int_equal(e.counter, total);
	assert_true(total > 0);
	assert_false(gpuvm_ww_mutex_is_locked(&e.lock));
	gpuvm_ww_mutex_destroy(&e.lock);
}

/* ---- ABBA and N-way cycles (WW-3, WW-4, free running) ---------------------- */

#define MAX_RING 10

struct ring {
	struct gpuvm_ww_class *cls;
	struct guarded locks[MAX_RING];
	unsigned int n; /* threads = locks */
	unsigned int span; /* locks per transaction */
	double deadline;
	struct worker_stats st[MAX_RING];
};

/*
 * Thread t takes locks t, t+1, ... t+span-1 (mod n) in that order: with
 * span 2 and n 2 that is ABBA; with n > 2 every transaction is one edge
 * of an n-way cycle.
 */
static void ring_worker(unsigned int t, void *arg)
{
	struct ring *r = arg;
	struct worker_stats *st = &r->st[t];
	struct guarded *mine[MAX_RING];
	struct gpuvm_ww_acquire_ctx ctx;
	uint64_t rnd = base_seed * (t + 3);
	unsigned int i;
	int err;

	for (i = 0; i < r->span; i++)
		mine[i] = &r->locks[(t + i) % r->n];
	while (!past(r->deadline)) {
		gpuvm_ww_acquire_init(&ctx, r->cls);
		err = lock_in_order(mine, r->span, &ctx, r->deadline, st);
		if (!err) {
			dummy_load(mine, r->span, &rnd, st);
			unlock_all(mine, r->span);
			st->transactions++;
		} else if (err != -ETIMEDOUT) {
			record_error(st, err);
		}
		gpuvm_ww_acquire_fini(&ctx);
	}
}

static void run_ring(struct gpuvm_ww_class *cls, unsigned int n,
		     unsigned int span, double share)
{
	static struct ring r;
	unsigned long total = 0, backoffs = 0;
	unsigned int i;

	memset(&r, 0, sizeof(r));
	r.cls = cls;
	r.n = n;
	r.span = span;
	for (i = 0; i < n; i++)
		gpuvm_ww_mutex_init(&r.locks[i].lock, cls);
	r.deadline = deadline_for(share);
	harness_run_threads(n, ring_worker, &r);
	for (i = 0; i < n; i++) {
		assert_int_equal(r.st[i].errors, 0);
		assert_int_equal(r.st[i].exclusion, 0);
		total += r.st[i].transactions;
		backoffs += r.st[i].backoffs;
	}
	assert_true(total > 0);
	for (i = 0; i < n; i++) {
		assert_false(gpuvm_ww_mutex_is_locked(&r.locks[i].lock));
		gpuvm_ww_mutex_destroy(&r.locks[i].lock);
	}
	fprintf(stderr,
		"# %s ring n=%u span=%u: %lu transactions, %lu "
		"back-offs\n",
		cls->name, n, span, total, backoffs);
}

static void abba(struct gpuvm_ww_class *cls)
{
	run_ring(cls, 2, 2, SHARE_ABBA);
}

static void cycle(struct gpuvm_ww_class *cls)
{
	unsigned int n, max = ncpus() + 1 < 3 ? 3 : ncpus() + 1;

	if (max > MAX_RING)
		max = MAX_RING;
	for (n = 3; n <= max; n++)
		run_ring(cls, n, 2, SHARE_CYCLE / (max - 2));
}

/* ---- cases ---------------------------------------------------------------- */

#define BOTH(body)                                           \
	static void test_ww_stress_##body##_ww(void **state) \
	{                                                    \
		body(&wound_class);                          \
	}                                                    \
	static void test_ww_stress_##body##_wd(void **state) \
	{                                                    \
		body(&die_class);                            \
	}
#define BOTH_TESTS(body)                          \
	harness_test(test_ww_stress_##body##_ww), \
		harness_test(test_ww_stress_##body##_wd)

BOTH(mutex_exclusion)
BOTH(abba)
BOTH(cycle)
BOTH(stress_inorder)
BOTH(stress_reorder)
BOTH(stress_all)

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		BOTH_TESTS(mutex_exclusion), BOTH_TESTS(abba),
		BOTH_TESTS(cycle),	     BOTH_TESTS(stress_inorder),
		BOTH_TESTS(stress_reorder),  BOTH_TESTS(stress_all),
	};
	const char *env = getenv("GPUVM_STRESS_SECONDS");
	const char *seed = getenv("GPUVM_STRESS_SEED");

	if (env && atof(env) > 0)
		total_seconds = atof(env);
	if (argc > 1 && !strncmp(argv[1], "--seconds=", 10)) {
		if (atof(argv[1] + 10) > 0)
			total_seconds = atof(argv[1] + 10);
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	base_seed = seed ? strtoull(seed, NULL, 0) :
			   (uint64_t)time(NULL) * 0x2545f4914f6cdd1dull;
	if (!base_seed)
		base_seed = 1;
	fprintf(stderr, "# GPUVM_STRESS_SEED=%llu, %.1f s\n",
		(unsigned long long)base_seed, total_seconds);

	return harness_run("gpuvm/ww_stress", tests, argc, argv);
}
