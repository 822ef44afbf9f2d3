// SPDX-License-Identifier: MIT
/*
 * bench_va_index: the private VA index against a red-black tree holding the
 * same entries (the structure the kernel uses, minus its interval
 * augmentation, which non-overlapping ranges do not need).
 *
 * Cases, each for n = 1e3 .. 1e6 entries (--smoke: 1e3 only):
 *   insert   random non-overlapping mappings into an empty index until n,
 *            each checked for overlap first as the VM does
 *   lookup   lowest entry overlapping a random page-sized range
 *   iterate  ordered walk over a random range covering 64 entries
 *   remove   every entry, in random order, by pointer (both sides)
 *
 * Options (after the common ones of bench.h): --n N (only that size),
 * --case NAME (only that case).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/gpuvm.h>

#include "bench.h"
#include "node_alloc.h"
#include "va_index.h"

#ifndef HAVE_BSD_SYS_TREE_H
int main(void)
{
	printf("{\"bench\": \"va_index\", \"note\": "
	       "\"<bsd/sys/tree.h> missing (libbsd-dev): skipped\"}\n");
	return 77; /* meson's "skipped" */
}
#else
/* Without libbsd's overlay cdefs the macros need this attribute. */
#ifndef __unused
#define __unused __attribute__((unused))
#endif
#include <bsd/sys/tree.h>

#define PAGE 4096ull
#define WALK_ENTRIES 64
#define NQUERIES (1u << 16) /* a power of two */

/*
 * One mapping; the rb baseline embeds its node, like struct drm_gpuva, and
 * the index keeps its leaf in @leaf, like struct gpuva's rb.leaf__.
 */
struct va {
	RB_ENTRY(va) rb;
	uint64_t start, end;
	void *leaf;
};

static int va_cmp(struct va *a, struct va *b)
{
	return a->start < b->start ? -1 : a->start > b->start;
}

RB_HEAD(va_rb, va);
RB_GENERATE_STATIC(va_rb, va, rb, va_cmp)

/*
 * Lowest entry overlapping [s, e): for non-overlapping ranges that is the
 * entry with the greatest start <= s if it reaches past s, else the first
 * one starting after s, if it starts before e. One descent finds both.
 */
static struct va *rb_first_overlap(struct va_rb *head, uint64_t s, uint64_t e)
{
	struct va *n = RB_ROOT(head), *le = NULL, *gt = NULL;

	while (n) {
		if (n->start <= s) {
			le = n;
			n = RB_RIGHT(n, rb);
		} else {
			gt = n;
			n = RB_LEFT(n, rb);
		}
	}
	if (le && le->end > s)
		return le;
	return gt && gt->start < e ? gt : NULL;
}

/* Insert as drm_gpuva_insert() does: refuse overlaps, then link. */
static int rb_insert(struct va_rb *head, struct va *va)
{
	if (rb_first_overlap(head, va->start, va->end))
		return -EEXIST;
	RB_INSERT(va_rb, head, va);
	return 0;
}

struct query {
	uint64_t start, end;
};

struct workload {
	size_t n;
	struct va *vas; /* sorted by address */
	struct va **order; /* insertion order */
	struct va **order2; /* removal order */
	struct query *lookups;
	struct query *walks;
	struct gpuvm_va_index idx;
	struct va_rb rb;
	unsigned long pos;
	uintptr_t sink;
	uint64_t rng;
};

static void shuffle(struct va **a, size_t n, uint64_t *rng)
{
	size_t i, j;
	struct va *t;

	for (i = n - 1; i > 0; i--) {
		j = bench_rand(rng) % (i + 1);
		t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

static void workload_init(struct workload *w, size_t n, uint64_t seed)
{
	uint64_t rng = seed ^ n, addr = 1ull << 32;
	size_t i;

	memset(w, 0, sizeof(*w));
	w->n = n;
	w->vas = calloc(n, sizeof(*w->vas));
	w->order = malloc(n * sizeof(*w->order));
	w->order2 = malloc(n * sizeof(*w->order2));
	w->lookups = malloc(NQUERIES * sizeof(*w->lookups));
	w->walks = malloc(NQUERIES * sizeof(*w->walks));
	if (!w->vas || !w->order || !w->order2 || !w->lookups || !w->walks) {
		fprintf(stderr, "bench_va_index: out of memory\n");
		exit(1);
	}
	/* Mappings of 1..16 pages with gaps of 0..3 pages, like a busy VM. */
	for (i = 0; i < n; i++) {
		addr += (bench_rand(&rng) % 4) * PAGE;
		w->vas[i].start = addr;
		addr += (1 + bench_rand(&rng) % 16) * PAGE;
		w->vas[i].end = addr;
		w->order[i] = w->order2[i] = &w->vas[i];
	}
	shuffle(w->order, n, &rng);
	shuffle(w->order2, n, &rng);
	w->rng = rng;

	for (i = 0; i < NQUERIES; i++) {
		uint64_t lo = w->vas[0].start, hi = w->vas[n - 1].end;
		uint64_t a = lo + bench_rand(&rng) % (hi - lo);
		size_t k = bench_rand(&rng) % (n - WALK_ENTRIES + 1);

		w->lookups[i] = (struct query){ a, a + PAGE };
		w->walks[i] =
			(struct query){ w->vas[k].start,
					w->vas[k + WALK_ENTRIES - 1].end };
	}
	gpuvm_va_index_init(&w->idx);
	gpuvm_va_index_init_backref(&w->idx, offsetof(struct va, leaf));
	RB_INIT(&w->rb);
}

static void workload_fini(struct workload *w)
{
	gpuvm_va_index_destroy(&w->idx);
	free(w->vas);
	free(w->order);
	free(w->order2);
	free(w->lookups);
	free(w->walks);
}

static void fail(const char *what)
{
	fprintf(stderr, "bench_va_index: %s\n", what);
	exit(1);
}

static void build_idx(struct workload *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (gpuvm_va_index_insert(&w->idx, w->order[i]->start,
					  w->order[i]->end, w->order[i]))
			fail("index insert failed");
}

static void build_rb(struct workload *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (rb_insert(&w->rb, w->order[i]))
			fail("rb insert failed");
}

/*
 * A fresh random order for every round of a whole-structure phase: with
 * small n a fixed order repeats often enough for the branch predictor to
 * learn it, which flatters the branchy rb-tree most.
 */
static void reshuffle_insert(struct workload *w)
{
	shuffle(w->order, w->n, &w->rng);
}

static void setup_remove_idx(struct workload *w)
{
	shuffle(w->order2, w->n, &w->rng);
	build_idx(w);
}

static void setup_remove_rb(struct workload *w)
{
	shuffle(w->order2, w->n, &w->rng);
	build_rb(w);
}

static void teardown_idx(struct workload *w)
{
	gpuvm_va_index_destroy(&w->idx);
}

static void teardown_rb(struct workload *w)
{
	RB_INIT(&w->rb); /* the nodes live in w->vas */
}

/* As the VM removes: by pointer, through the leaf the VA points at. */
static void remove_idx(struct workload *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		gpuvm_va_index_remove_item(&w->idx, w->order2[i],
					   w->order2[i]->start);
	if (gpuvm_va_index_count(&w->idx))
		fail("index remove failed");
}

/* The VM removes by pointer (drm_gpuva_remove(va)): no search. */
static void remove_rb(struct workload *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		RB_REMOVE(va_rb, &w->rb, w->order2[i]);
}

static void lookup_idx(void *arg, unsigned long iters)
{
	struct workload *w = arg;
	uintptr_t sink = 0;
	unsigned long i, p = w->pos;

	for (i = 0; i < iters; i++, p++) {
		const struct query *q = &w->lookups[p & (NQUERIES - 1)];

		sink += (uintptr_t)gpuvm_va_index_first_overlap(
			&w->idx, q->start, q->end);
	}
	w->pos = p;
	w->sink += sink;
}

static void lookup_rb(void *arg, unsigned long iters)
{
	struct workload *w = arg;
	uintptr_t sink = 0;
	unsigned long i, p = w->pos;

	for (i = 0; i < iters; i++, p++) {
		const struct query *q = &w->lookups[p & (NQUERIES - 1)];

		sink += (uintptr_t)rb_first_overlap(&w->rb, q->start, q->end);
	}
	w->pos = p;
	w->sink += sink;
}

static void walk_idx(void *arg, unsigned long iters)
{
	struct workload *w = arg;
	struct gpuvm_va_index_iter it;
	uintptr_t sink = 0;
	unsigned long i, p = w->pos;
	void *item;

	for (i = 0; i < iters; i++, p++) {
		const struct query *q = &w->walks[p & (NQUERIES - 1)];

		for (item = gpuvm_va_index_iter_first_overlap(&it, &w->idx,
							      q->start, q->end);
		     item; item = gpuvm_va_index_iter_next(&it))
			sink += (uintptr_t)item;
	}
	w->pos = p;
	w->sink += sink;
}

static void walk_rb(void *arg, unsigned long iters)
{
	struct workload *w = arg;
	uintptr_t sink = 0;
	unsigned long i, p = w->pos;
	struct va *va;

	for (i = 0; i < iters; i++, p++) {
		const struct query *q = &w->walks[p & (NQUERIES - 1)];

		for (va = rb_first_overlap(&w->rb, q->start, q->end);
		     va && va->start < q->end; va = RB_NEXT(va_rb, &w->rb, va))
			sink += (uintptr_t)va;
	}
	w->pos = p;
	w->sink += sink;
}

/* How one side of a comparison is run: either @fn (iters operations on a
 * built structure), or a whole phase of n operations between an untimed
 * @setup and @teardown. */
struct side {
	bench_fn fn;
	void (*setup)(struct workload *w);
	void (*timed)(struct workload *w);
	void (*teardown)(struct workload *w);
	unsigned long iters;
	double per_op[64];
};

/* One sample of @sd lasting at least opts->min_sample_ns. */
static double sample(const struct bench_opts *opts, struct workload *w,
		     struct side *sd, unsigned long *ops_out)
{
	double total = 0, t0;
	unsigned long ops = 0;

	if (sd->fn) {
		*ops_out = sd->iters;
		return bench_time_once(sd->fn, w, sd->iters) /
		       (double)sd->iters;
	}
	do {
		if (sd->setup)
			sd->setup(w);
		t0 = bench_now_ns();
		sd->timed(w);
		total += bench_now_ns() - t0;
		ops += w->n;
		if (sd->teardown)
			sd->teardown(w);
	} while (total < opts->min_sample_ns);
	*ops_out = ops;
	return total / (double)ops;
}

/* Loop count for an @fn side so a sample lasts long enough. */
static void calibrate(const struct bench_opts *opts, struct workload *w,
		      struct side *sd)
{
	unsigned long iters = 1;
	double t;

	if (!sd->fn)
		return;
	sd->fn(w, 1); /* warm up */
	for (;;) {
		t = bench_time_once(sd->fn, w, iters);
		if (t >= opts->min_sample_ns || iters >= (1ul << 40))
			break;
		iters = t < 1000 ? iters * 16 :
				   (unsigned long)(iters * opts->min_sample_ns /
						   t * 1.1) +
					   1;
	}
	sd->iters = iters;
}

static struct bench_stats stats(struct side *sd, unsigned int n,
				unsigned long ops)
{
	struct bench_stats s = { .iterations = ops };

	qsort(sd->per_op, n, sizeof(sd->per_op[0]), bench_cmp_double);
	s.ns_per_op = sd->per_op[n / 2];
	s.p95_ns = sd->per_op[(n * 95 + 99) / 100 - 1];
	return s;
}

/*
 * Measure the index and the baseline with their samples interleaved, so a
 * noisy neighbour on a shared machine hits both alike, and print the line.
 */
static void compare(const struct bench_opts *opts, struct workload *w,
		    const char *name, const char *keys, struct side *idx,
		    struct side *rb)
{
	unsigned int i, n = opts->samples > 64 ? 64 : opts->samples;
	unsigned long ops_idx = 0, ops_rb = 0;
	struct bench_stats s, b;

	calibrate(opts, w, idx);
	calibrate(opts, w, rb);
	for (i = 0; i < n; i++) {
		idx->per_op[i] = sample(opts, w, idx, &ops_idx);
		rb->per_op[i] = sample(opts, w, rb, &ops_rb);
	}
	s = stats(idx, n, ops_idx);
	b = stats(rb, n, ops_rb);
	bench_emit("va_index", name, keys, 1, &s, "rbtree", &b);
}

/* Both structures must agree before their speed means anything. */
static void cross_check(struct workload *w)
{
	struct gpuvm_va_index_iter it;
	unsigned int i;
	struct va *va;
	void *item;

	if (!gpuvm_va_index_validate(&w->idx) ||
	    gpuvm_va_index_count(&w->idx) != w->n)
		fail("index invalid");
	for (i = 0; i < 4096; i++) {
		const struct query *q = &w->lookups[i];
		const struct query *r = &w->walks[i];
		unsigned int k = 0;

		if (gpuvm_va_index_first_overlap(&w->idx, q->start, q->end) !=
		    rb_first_overlap(&w->rb, q->start, q->end))
			fail("lookup mismatch");
		va = rb_first_overlap(&w->rb, r->start, r->end);
		for (item = gpuvm_va_index_iter_first_overlap(&it, &w->idx,
							      r->start, r->end);
		     item; item = gpuvm_va_index_iter_next(&it), k++) {
			if (item != va)
				fail("walk mismatch");
			va = RB_NEXT(va_rb, &w->rb, va);
		}
		if (k != WALK_ENTRIES)
			fail("walk length");
	}
}

static bool want(const char *only, const char *name)
{
	return !only || !strcmp(only, name);
}

/*
 * Build the index and report its memory per mapping: the nodes it took
 * (each GPUVM_NODE_BYTES, counted in gpuvm_alloc_live()), divided by n,
 * beside the tree fields the kernel embeds in each struct drm_gpuva (an rb
 * node, 24 bytes, the interval tree's cached subtree end and the list
 * head, 48 bytes in all). The node allocator carves 78 nodes from every
 * 64 KiB, so the memory mapped for them is 1% more.
 */
static void report_memory(struct workload *w)
{
	long before = gpuvm_alloc_live(), nodes;

	build_idx(w);
	nodes = gpuvm_alloc_live() - before;
	printf("{\"bench\": \"va_index\", \"case\": \"memory\", \"n\": %zu, "
	       "\"bytes_per_mapping\": %.1f, \"kernel_bytes_per_mapping\": 48}\n",
	       w->n, (double)nodes * GPUVM_NODE_BYTES / (double)w->n);
}

static void run_size(const struct bench_opts *opts, size_t n, const char *only)
{
	struct side idx_insert = { .setup = reshuffle_insert,
				   .timed = build_idx,
				   .teardown = teardown_idx };
	struct side rb_insert = { .setup = reshuffle_insert,
				  .timed = build_rb,
				  .teardown = teardown_rb };
	struct side idx_remove = { .setup = setup_remove_idx,
				   .timed = remove_idx,
				   .teardown = teardown_idx };
	struct side rb_remove = { .setup = setup_remove_rb,
				  .timed = remove_rb,
				  .teardown = teardown_rb };
	struct side idx_lookup = { .fn = lookup_idx };
	struct side rb_lookup = { .fn = lookup_rb };
	struct side idx_walk = { .fn = walk_idx };
	struct side rb_walk = { .fn = walk_rb };
	struct workload w;
	char keys[64];

	workload_init(&w, n, opts->seed);
	snprintf(keys, sizeof(keys), "\"n\": %zu", n);

	if (want(only, "insert"))
		compare(opts, &w, "insert", keys, &idx_insert, &rb_insert);

	report_memory(&w);
	build_rb(&w);
	cross_check(&w);
	if (want(only, "lookup"))
		compare(opts, &w, "lookup", keys, &idx_lookup, &rb_lookup);
	if (want(only, "iterate")) {
		char wkeys[64];

		snprintf(wkeys, sizeof(wkeys),
			 "\"n\": %zu, \"entries_per_op\": %d", n, WALK_ENTRIES);
		compare(opts, &w, "iterate", wkeys, &idx_walk, &rb_walk);
	}
	teardown_idx(&w);
	teardown_rb(&w);

	if (want(only, "remove"))
		compare(opts, &w, "remove", keys, &idx_remove, &rb_remove);
	if (w.sink == 1)
		printf("#\n"); /* keeps the lookups observable */
	workload_fini(&w);
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 1000, 10000, 100000, 1000000 };
	struct bench_opts opts;
	const char *only = NULL;
	size_t one = 0;
	unsigned int i;
	int a;

	for (a = bench_init(argc, argv, &opts); a < argc; a++) {
		if (!strcmp(argv[a], "--n") && a + 1 < argc) {
			one = strtoull(argv[++a], NULL, 0);
		} else if (!strcmp(argv[a], "--case") && a + 1 < argc) {
			only = argv[++a];
		} else {
			fprintf(stderr,
				"usage: %s [--smoke] [--debug] [--seed N] "
				"[--samples N] [--n N] [--case insert|lookup|"
				"iterate|remove]\n",
				argv[0]);
			return 2;
		}
	}
	if (one) {
		if (one < WALK_ENTRIES)
			fail("--n must be at least 64");
		run_size(&opts, one, only);
		return 0;
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		run_size(&opts, sizes[i], only);
		if (opts.smoke)
			break;
	}
	return 0;
}
#endif
