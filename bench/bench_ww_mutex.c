// SPDX-License-Identifier: MIT
/*
 * bench_ww_mutex: where the time of a wound/wait mutex goes.
 *
 * Cases:
 *   uncontended  lock + unlock of a free mutex, through a context and
 *                without one, against pthread_mutex_lock + unlock in the
 *                same run ("ratio" = ours / pthread, lower is better)
 *   contended    T threads each running transactions that lock K random
 *                mutexes out of N with the back-off protocol, for both
 *                algorithms; acquisitions and back-offs per second. The
 *                baseline takes the same mutexes as pthread mutexes in
 *                sorted order (deadlock avoidance by a global order).
 *   exec         exec-locking N = 1..256 objects through gpuvm_exec, against
 *                a plain ww context locking the same objects (key "n")
 *
 * Options (after the common ones of bench.h): --case NAME.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/gpuvm.h>

#include "bench.h"

static GPUVM_DEFINE_WW_CLASS(bench_wound_class);
static GPUVM_DEFINE_WD_CLASS(bench_die_class);

/* ---- uncontended --------------------------------------------------------- */

struct uncontended {
	struct gpuvm_ww_mutex lock;
	struct gpuvm_ww_acquire_ctx ctx;
	pthread_mutex_t pmutex;
};

static void run_ww_ctx(void *arg, unsigned long iters)
{
	struct uncontended *u = arg;

	while (iters--) {
		gpuvm_ww_mutex_lock(&u->lock, &u->ctx);
		gpuvm_ww_mutex_unlock(&u->lock);
	}
}

static void run_ww_noctx(void *arg, unsigned long iters)
{
	struct uncontended *u = arg;

	while (iters--) {
		gpuvm_ww_mutex_lock(&u->lock, NULL);
		gpuvm_ww_mutex_unlock(&u->lock);
	}
}

static void run_pthread(void *arg, unsigned long iters)
{
	struct uncontended *u = arg;

	while (iters--) {
		pthread_mutex_lock(&u->pmutex);
		pthread_mutex_unlock(&u->pmutex);
	}
}

static void emit_uncontended(const struct bench_opts *opts, bool with_ctx,
			     struct uncontended *u)
{
	bench_fn ours = with_ctx ? run_ww_ctx : run_ww_noctx;
	struct bench_stats s, b, s2, b2;
	char keys[128];

	/* Alternate, and keep the better of two runs of each, so that
	 * frequency drift does not favour either side. */
	b = bench_measure(opts, run_pthread, u);
	s = bench_measure(opts, ours, u);
	b2 = bench_measure(opts, run_pthread, u);
	s2 = bench_measure(opts, ours, u);
	if (b2.ns_per_op < b.ns_per_op)
		b = b2;
	if (s2.ns_per_op < s.ns_per_op)
		s = s2;
	if (bench_sanitized())
		snprintf(keys, sizeof(keys), "\"ctx\": %s",
			 with_ctx ? "true" : "false");
	else
		snprintf(keys, sizeof(keys), "\"ctx\": %s, \"ratio\": %.2f",
			 with_ctx ? "true" : "false",
			 b.ns_per_op > 0 ? s.ns_per_op / b.ns_per_op : 0.0);
	bench_emit("ww_mutex", "uncontended", keys, 1, &s, "pthread_mutex", &b);
}

static void *idle_thread(void *arg)
{
	return arg;
}

static void bench_uncontended(const struct bench_opts *opts)
{
	static struct uncontended u;
	pthread_t t;

	/*
	 * glibc skips the atomics of pthread mutexes until the process
	 * first creates a thread; the users of these locks are threaded, so
	 * measure both sides in a threaded process.
	 */
	if (pthread_create(&t, NULL, idle_thread, NULL) == 0)
		pthread_join(t, NULL);

	gpuvm_ww_mutex_init(&u.lock, &bench_die_class);
	pthread_mutex_init(&u.pmutex, NULL);
	gpuvm_ww_acquire_init(&u.ctx, &bench_die_class);
	emit_uncontended(opts, true, &u);
	gpuvm_ww_acquire_fini(&u.ctx);
	emit_uncontended(opts, false, &u);
	pthread_mutex_destroy(&u.pmutex);
	gpuvm_ww_mutex_destroy(&u.lock);
}

/* ---- contended ----------------------------------------------------------- */

#define NR_LOCKS 16
#define PER_TX 4
#define MAX_THREADS 16

struct contended {
	struct gpuvm_ww_class *cls; /* NULL: pthread baseline */
	struct gpuvm_ww_mutex locks[NR_LOCKS];
	pthread_mutex_t plocks[NR_LOCKS];
	int stop; /* atomic */
	int start; /* atomic */
};

struct contender {
	struct contended *c;
	uint64_t rnd;
	unsigned long acquisitions, backoffs, transactions;
	pthread_t thread;
};

/* PER_TX distinct random indices. */
static void pick(uint64_t *rnd, unsigned int *idx)
{
	unsigned int i, j;

	for (i = 0; i < PER_TX; i++) {
again:
		idx[i] = (unsigned int)(bench_rand(rnd) % NR_LOCKS);
		for (j = 0; j < i; j++)
			if (idx[j] == idx[i])
				goto again;
	}
}

/* One transaction, reorder style: the contended lock moves first. */
static void ww_transaction(struct contender *t, unsigned int *idx)
{
	struct contended *c = t->c;
	struct gpuvm_ww_acquire_ctx ctx;
	unsigned int i, j, tmp;
	int err;

	gpuvm_ww_acquire_init(&ctx, c->cls);
	for (i = 0; i < PER_TX; i++) {
		err = gpuvm_ww_mutex_lock(&c->locks[idx[i]], &ctx);
		if (!err) {
			t->acquisitions++;
			continue;
		}
		/* -EDEADLK: drop what we hold, wait for the contended one. */
		for (j = 0; j < i; j++)
			gpuvm_ww_mutex_unlock(&c->locks[idx[j]]);
		t->backoffs++;
		gpuvm_ww_mutex_lock_slow(&c->locks[idx[i]], &ctx);
		t->acquisitions++;
		tmp = idx[i];
		memmove(&idx[1], &idx[0], i * sizeof(idx[0]));
		idx[0] = tmp;
		i = 0;
	}
	gpuvm_ww_acquire_done(&ctx);
	for (i = 0; i < PER_TX; i++)
		gpuvm_ww_mutex_unlock(&c->locks[idx[i]]);
	gpuvm_ww_acquire_fini(&ctx);
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return (x > y) - (x < y);
}

static void pthread_transaction(struct contender *t, unsigned int *idx)
{
	struct contended *c = t->c;
	unsigned int i;

	qsort(idx, PER_TX, sizeof(idx[0]), cmp_uint);
	for (i = 0; i < PER_TX; i++) {
		pthread_mutex_lock(&c->plocks[idx[i]]);
		t->acquisitions++;
	}
	for (i = PER_TX; i-- > 0;)
		pthread_mutex_unlock(&c->plocks[idx[i]]);
}

static void *contender_main(void *arg)
{
	struct contender *t = arg;
	unsigned int idx[PER_TX];

	while (!__atomic_load_n(&t->c->start, __ATOMIC_ACQUIRE))
		;
	while (!__atomic_load_n(&t->c->stop, __ATOMIC_RELAXED)) {
		pick(&t->rnd, idx);
		if (t->c->cls)
			ww_transaction(t, idx);
		else
			pthread_transaction(t, idx);
		t->transactions++;
	}
	return NULL;
}

struct sample {
	double ns_per_acq;
	double acq_per_s, backoffs_per_s, tx_per_s;
};

static struct sample run_sample(struct contended *c, unsigned int threads,
				double duration_ns, uint64_t seed)
{
	struct contender t[MAX_THREADS];
	struct sample s = { 0 };
	unsigned long acq = 0, bo = 0, tx = 0;
	struct timespec ts;
	double t0, el;
	unsigned int i;

	memset(t, 0, sizeof(t));
	c->start = 0;
	c->stop = 0;
	for (i = 0; i < threads; i++) {
		t[i].c = c;
		t[i].rnd = seed + 0x9e3779b97f4a7c15ull * (i + 1);
		if (pthread_create(&t[i].thread, NULL, contender_main, &t[i]))
			abort();
	}
	t0 = bench_now_ns();
	__atomic_store_n(&c->start, 1, __ATOMIC_RELEASE);
	ts.tv_sec = (time_t)(duration_ns / 1e9);
	ts.tv_nsec = (long)(duration_ns - (double)ts.tv_sec * 1e9);
	nanosleep(&ts, NULL);
	__atomic_store_n(&c->stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < threads; i++)
		pthread_join(t[i].thread, NULL);
	el = bench_now_ns() - t0;

	for (i = 0; i < threads; i++) {
		acq += t[i].acquisitions;
		bo += t[i].backoffs;
		tx += t[i].transactions;
	}
	s.ns_per_acq = acq ? el / (double)acq : 0;
	s.acq_per_s = (double)acq * 1e9 / el;
	s.backoffs_per_s = (double)bo * 1e9 / el;
	s.tx_per_s = (double)tx * 1e9 / el;
	return s;
}

static int cmp_sample(const void *a, const void *b)
{
	double x = ((const struct sample *)a)->ns_per_acq;
	double y = ((const struct sample *)b)->ns_per_acq;

	return (x > y) - (x < y);
}

/* Median and p95 over samples, in the form bench_emit() takes. */
static struct bench_stats measure_contended(const struct bench_opts *opts,
					    struct contended *c,
					    unsigned int threads,
					    struct sample *median)
{
	struct sample s[64];
	unsigned int i, n = opts->samples > 64 ? 64 : opts->samples;
	double duration = opts->smoke ? 10e6 : 200e6;
	struct bench_stats st = { 0 };
	unsigned long acq = 0;

	for (i = 0; i < n; i++) {
		s[i] = run_sample(c, threads, duration, opts->seed + i);
		acq += (unsigned long)(s[i].acq_per_s * duration / 1e9);
	}
	qsort(s, n, sizeof(s[0]), cmp_sample);
	*median = s[n / 2];
	st.iterations = acq / n;
	st.ns_per_op = s[n / 2].ns_per_acq;
	st.p95_ns = s[(n * 95 + 99) / 100 - 1].ns_per_acq;
	return st;
}

/* One class and thread count, with its pthread baseline. */
static void contended_case(const struct bench_opts *opts, struct contended *c,
			   struct gpuvm_ww_class *cls, unsigned int threads)
{
	const char *name = cls->is_wait_die ? "wait-die" : "wound-wait";
	struct bench_stats s, b;
	struct sample m, bm;
	char keys[320];
	unsigned int l;

	c->cls = cls;
	for (l = 0; l < NR_LOCKS; l++)
		gpuvm_ww_mutex_init(&c->locks[l], cls);
	s = measure_contended(opts, c, threads, &m);
	for (l = 0; l < NR_LOCKS; l++)
		gpuvm_ww_mutex_destroy(&c->locks[l]);
	c->cls = NULL;
	b = measure_contended(opts, c, threads, &bm);

	if (bench_sanitized())
		snprintf(keys, sizeof(keys),
			 "\"class\": \"%s\", \"threads\": %u", name, threads);
	else
		snprintf(
			keys, sizeof(keys),
			"\"class\": \"%s\", \"locks\": %d, \"locks_per_tx\": %d, "
			"\"acquisitions_per_s\": %.0f, \"backoffs_per_s\": %.0f, "
			"\"transactions_per_s\": %.0f, "
			"\"baseline_acquisitions_per_s\": %.0f",
			name, NR_LOCKS, PER_TX, m.acq_per_s, m.backoffs_per_s,
			m.tx_per_s, bm.acq_per_s);
	bench_emit("ww_mutex", "contended", keys, threads, &s,
		   "pthread_mutex_sorted", &b);
}

static void bench_contended(const struct bench_opts *opts)
{
	static struct contended c;
	unsigned int i;

	for (i = 0; i < NR_LOCKS; i++)
		pthread_mutex_init(&c.plocks[i], NULL);
	contended_case(opts, &c, &bench_die_class, 2);
	contended_case(opts, &c, &bench_die_class, 4);
	contended_case(opts, &c, &bench_wound_class, 2);
	contended_case(opts, &c, &bench_wound_class, 4);
	for (i = 0; i < NR_LOCKS; i++)
		pthread_mutex_destroy(&c.plocks[i]);
}

/* ---- exec ---------------------------------------------------------------- */

#define EXEC_MAX_OBJECTS 256

struct exec_workload {
	struct gpuvm_gem_object *objs[EXEC_MAX_OBJECTS];
	unsigned int n;
	unsigned long failures;
};

static void run_exec_lock(void *arg, unsigned long iters)
{
	struct exec_workload *w = arg;
	struct gpuvm_exec exec;
	unsigned long it;
	unsigned int i;
	int ret;

	for (it = 0; it < iters; it++) {
		ret = 0;
		gpuvm_exec_init(&exec, 0, w->n);
		gpuvm_exec_until_all_locked(&exec) {
			for (i = 0; i < w->n; i++) {
				ret = gpuvm_exec_lock_obj(&exec, w->objs[i]);
				if (ret)
					break;
			}
			gpuvm_exec_retry_on_contention(&exec);
			if (ret)
				break;
		}
		w->failures += ret != 0;
		gpuvm_exec_fini(&exec);
	}
}

static void run_exec_ww_ctx(void *arg, unsigned long iters)
{
	struct exec_workload *w = arg;
	struct gpuvm_ww_acquire_ctx ctx;
	unsigned long it;
	unsigned int i;

	for (it = 0; it < iters; it++) {
		gpuvm_ww_acquire_init(&ctx, &gpuvm_reservation_ww_class);
		for (i = 0; i < w->n; i++)
			w->failures += gpuvm_dma_resv_lock(w->objs[i]->resv,
							   &ctx) != 0;
		gpuvm_ww_acquire_done(&ctx);
		for (i = 0; i < w->n; i++)
			gpuvm_dma_resv_unlock(w->objs[i]->resv);
		gpuvm_ww_acquire_fini(&ctx);
	}
}

/*
 * exec: one uncontended transaction locking N objects through struct
 * gpuvm_exec (init, loop, lock each, fini), N = 1, 2, 4, ... 256; the
 * baseline locks the same N reservations one by one with a plain ww
 * acquire context, the floor exec adds its tracking, references and
 * array to.
 */
static int bench_exec(const struct bench_opts *opts)
{
	struct exec_workload w = { 0 };
	unsigned int i, n, max_n;
	char keys[64];

	for (i = 0; i < EXEC_MAX_OBJECTS; i++) {
		w.objs[i] = gpuvm_kzalloc(sizeof(*w.objs[i]), GPUVM_GFP_KERNEL);
		if (!w.objs[i])
			return 1;
		gpuvm_gem_object_init(w.objs[i], NULL, 4096);
	}

	max_n = opts->smoke ? 8 : EXEC_MAX_OBJECTS;
	for (n = 1; n <= max_n; n *= 2) {
		struct bench_stats s, b;

		w.n = n;
		s = bench_measure(opts, run_exec_lock, &w);
		b = bench_measure(opts, run_exec_ww_ctx, &w);
		snprintf(keys, sizeof(keys), "\"n\": %u", n);
		bench_emit("ww_mutex", "exec", keys, 1, &s, "ww_ctx", &b);
	}

	for (i = 0; i < EXEC_MAX_OBJECTS; i++) {
		/* No free callback: the memory is ours. */
		gpuvm_gem_object_put(w.objs[i]);
		gpuvm_kfree(w.objs[i]);
	}
	if (w.failures) {
		fprintf(stderr, "bench_ww_mutex: %lu failed exec lock(s)\n",
			w.failures);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_opts opts;
	const char *only = NULL;
	int i = bench_init(argc, argv, &opts);

	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--case") && i + 1 < argc) {
			only = argv[++i];
		} else {
			fprintf(stderr,
				"usage: %s [--smoke] [--debug] "
				"[--seed N] [--samples N] "
				"[--case uncontended|exec|contended]\n",
				argv[0]);
			return 2;
		}
	}

	if (!only || !strcmp(only, "uncontended"))
		bench_uncontended(&opts);
	if (!only || !strcmp(only, "exec")) {
		if (bench_exec(&opts))
			return 1;
	}
	if (!only || !strcmp(only, "contended"))
		bench_contended(&opts);
	return 0;
}
