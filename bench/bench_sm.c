// SPDX-License-Identifier: MIT
/*
 * bench_sm: split/merge requests applied the way an immediate-mode driver
 * applies them (the replay tool's semantics), against a VA space of n
 * mappings.
 *
 * The VM spans 2^40 bytes of 4 KiB pages; 16 VM-private GEM objects back
 * the mappings. A map request builds its ops with gpuvm_sm_map_ops_create(),
 * obtains the object's vm_bo (gpuvm_bo_create + gpuvm_bo_obtain_prealloc),
 * applies the ops (gpuva_map/remap/unmap, with gpuva_link/unlink under the
 * objects' gpuva locks), drops the obtained reference and frees the ops;
 * an unmap request does the same with gpuvm_sm_unmap_ops_create() and no
 * vm_bo. VA structures come from a free-list pool kept by the benchmark,
 * so their allocation is not what is measured.
 *
 * Cases, for n = 1e5 and 1e6 (--smoke: 1e3):
 *   insert    n random non-overlapping mappings of 1..64 pages, each a
 *             map request into a free range
 *   uniform   200k requests on the n mappings, half map and half unmap,
 *             1..64 pages, starting anywhere in the VM
 *   anchored  the same, each starting within 64 pages of the start of an
 *             existing mapping
 *
 * Requests are timed in chunks of 1000; ns_per_op is the median chunk's
 * time per request, p95_ns the 95th percentile chunk, mean_ns the mean
 * over all requests. Generating requests (and, for anchored, finding the
 * anchors) happens between chunks, untimed. There is no baseline in the
 * same process: the kernel is measured separately. Instead, before each
 * chunk, 1000 lookups of random addresses are timed: floor_ns is the
 * median cost of one (a request needs at least that descent), and
 * floor_multiple the median of each chunk's cost per request divided by
 * the floor timed right before it.
 *
 * bench/callgrind-sm.sh counts the instructions per request instead.
 *
 * Options (after the common ones of bench.h): --n N (only that size),
 * --case insert|uniform|anchored, --requests N.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/gpuvm.h>

#include "bench.h"
#include "bench_driver.h"

#define PAGE 4096ull
#define VM_SIZE (1ull << 40)
#define VM_PAGES (VM_SIZE / PAGE)
#define NR_OBJS 16
#define OBJ_PAGES (1ull << 18) /* nominal object size: 1 GiB */
#define MAX_PAGES 64
#define ANCHOR_PAGES 64
#define CHUNK 1000

/* Keeps two functions with the same body apart (see request_chunk). */
#if defined(__has_attribute)
#if __has_attribute(no_icf)
#define NO_ICF __attribute__((no_icf))
#endif
#endif
#ifndef NO_ICF
#define NO_ICF
#endif

/* ---- VM, objects, requests ----------------------------------------------- */

struct workload {
	struct gpuvm *vm;
	struct gpuvm_gem_object *objs[NR_OBJS];
	struct bench_pool pool;
	uint64_t rnd;
	struct bench_request *layout; /* the n mappings of the initial state */
	size_t n;
	double *chunk_ns;
	/* Per request chunk: one random index lookup, timed right before
	 * the chunk, and the chunk's cost per request as a multiple of it
	 * (NULL for the insert case). */
	double *floor_ns;
	double *floor_multiple;
};

static void workload_init(struct workload *w, size_t n, uint64_t seed)
{
	struct gpuvm *v = calloc(1, sizeof(*v));
	struct gpuvm_gem_object *r_obj = gpuvm_resv_object_alloc();
	uint64_t slot_pages = VM_PAGES / n;
	size_t i, j;
	unsigned int k;

	if (!v || !r_obj || slot_pages < MAX_PAGES)
		bench_fail("cannot set up the VM");
	memset(w, 0, sizeof(*w));
	w->rnd = seed;
	w->n = n;
	gpuvm_init(v, "bench_sm", GPUVM_IMMEDIATE_MODE, r_obj, 0, VM_SIZE, 0, 0,
		   &bench_vm_ops);
	gpuvm_gem_object_put(r_obj);
	w->vm = v;
	for (k = 0; k < NR_OBJS; k++) {
		w->objs[k] = calloc(1, sizeof(*w->objs[k]));
		if (!w->objs[k])
			bench_fail("out of memory");
		gpuvm_gem_object_init_shared_resv(w->objs[k], &bench_obj_funcs,
						  OBJ_PAGES * PAGE,
						  gpuvm_resv(w->vm));
	}

	/* One mapping at a random place in each of n equal slots, inserted
	 * in random order: random and non-overlapping. */
	w->layout = calloc(n, sizeof(*w->layout));
	w->chunk_ns = calloc(n / CHUNK + 2, sizeof(*w->chunk_ns));
	if (!w->layout || !w->chunk_ns)
		bench_fail("out of memory");
	for (i = 0; i < n; i++) {
		struct bench_request *r = &w->layout[i];
		uint64_t pages = 1 + bench_rand(&w->rnd) % MAX_PAGES;
		uint64_t start = i * slot_pages +
				 bench_rand(&w->rnd) % (slot_pages - pages + 1);

		r->map = true;
		r->addr = start * PAGE;
		r->range = pages * PAGE;
		r->obj = (unsigned int)(bench_rand(&w->rnd) % NR_OBJS);
		r->offset =
			(bench_rand(&w->rnd) % (OBJ_PAGES - MAX_PAGES)) * PAGE;
	}
	for (i = n; i > 1; i--) {
		struct bench_request t;

		j = (size_t)(bench_rand(&w->rnd) % i);
		t = w->layout[i - 1];
		w->layout[i - 1] = w->layout[j];
		w->layout[j] = t;
	}
}

/* ---- timing -------------------------------------------------------------- */

/* Run @nr requests, timing the chunk; return the total ns. */
static inline __attribute__((always_inline)) double
run_chunk(struct workload *w, const struct bench_request *reqs, size_t nr,
	  double *chunk_ns)
{
	double t0 = bench_now_ns(), t;
	size_t i;

	for (i = 0; i < nr; i++)
		bench_do_request(w->vm, w->objs, &w->pool, &reqs[i]);
	t = bench_now_ns() - t0;
	*chunk_ns = t / (double)nr;
	return t;
}

static void emit(const char *name, struct workload *w, size_t nr_chunks,
		 size_t nr_requests, double total_ns)
{
	struct bench_stats s = { .iterations = nr_requests };
	char keys[256];

	qsort(w->chunk_ns, nr_chunks, sizeof(w->chunk_ns[0]), bench_cmp_double);
	s.ns_per_op = w->chunk_ns[nr_chunks / 2];
	s.p95_ns = w->chunk_ns[(nr_chunks * 95 + 99) / 100 - 1];
	if (bench_sanitized())
		snprintf(keys, sizeof(keys), "\"n\": %zu", w->n);
	else if (w->floor_ns) {
		qsort(w->floor_ns, nr_chunks, sizeof(double), bench_cmp_double);
		qsort(w->floor_multiple, nr_chunks, sizeof(double),
		      bench_cmp_double);
		snprintf(keys, sizeof(keys),
			 "\"n\": %zu, \"requests\": %zu, \"mean_ns\": %.1f, "
			 "\"floor_ns\": %.1f, \"floor_multiple\": %.2f",
			 w->n, nr_requests, total_ns / (double)nr_requests,
			 w->floor_ns[nr_chunks / 2],
			 w->floor_multiple[nr_chunks / 2]);
	} else
		snprintf(keys, sizeof(keys),
			 "\"n\": %zu, \"requests\": %zu, \"mean_ns\": %.1f",
			 w->n, nr_requests, total_ns / (double)nr_requests);
	bench_emit("sm", name, keys, 1, &s, NULL, NULL);
}

static __attribute__((noinline)) NO_ICF double
build_chunk(struct workload *w, const struct bench_request *reqs, size_t nr,
	    double *chunk_ns)
{
	return run_chunk(w, reqs, nr, chunk_ns);
}

/* Insert the initial layout; with @report, print the insert case. */
static void build(struct workload *w, bool report)
{
	size_t i, c = 0;
	double total = 0;

	for (i = 0; i < w->n; i += CHUNK, c++) {
		size_t nr = w->n - i < CHUNK ? w->n - i : CHUNK;

		bench_pool_reserve(&w->pool, nr);
		total += build_chunk(w, &w->layout[i], nr, &w->chunk_ns[c]);
	}
	if (report)
		emit("insert", w, c, w->n, total);
}

static void workload_fini(struct workload *w)
{
	bench_vm_fini(w->vm, w->objs, NR_OBJS, &w->pool);
	free(w->layout);
	free(w->chunk_ns);
}

/* A start page for @pages pages near an existing mapping. */
static uint64_t anchored_page(struct workload *w, uint64_t pages)
{
	uint64_t p = bench_rand(&w->rnd) % VM_PAGES, start;
	struct gpuva *va =
		gpuva_find_first(w->vm, p * PAGE, VM_SIZE - p * PAGE);
	int64_t delta;

	if (!va)
		va = gpuva_find_first(w->vm, 0, VM_SIZE);
	if (!va)
		return p > VM_PAGES - pages ? VM_PAGES - pages : p;
	start = va->va.addr / PAGE;
	delta = (int64_t)(bench_rand(&w->rnd) % (2 * ANCHOR_PAGES + 1)) -
		ANCHOR_PAGES;
	if (delta < 0 && (uint64_t)-delta > start)
		return 0;
	start += (uint64_t)delta;
	return start > VM_PAGES - pages ? VM_PAGES - pages : start;
}

static void gen_requests(struct workload *w, struct bench_request *reqs,
			 size_t nr, bool anchored)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		struct bench_request *r = &reqs[i];
		uint64_t pages = 1 + bench_rand(&w->rnd) % MAX_PAGES;
		uint64_t start =
			anchored ? anchored_page(w, pages) :
				   bench_rand(&w->rnd) % (VM_PAGES - pages + 1);

		r->map = bench_rand(&w->rnd) & 1;
		r->addr = start * PAGE;
		r->range = pages * PAGE;
		r->obj = (unsigned int)(bench_rand(&w->rnd) % NR_OBJS);
		r->offset =
			(bench_rand(&w->rnd) % (OBJ_PAGES - MAX_PAGES)) * PAGE;
	}
}

/*
 * The floor of a request: one lookup of a random address in the index
 * (its cold descent), over the same mappings. It is timed over @nr
 * lookups right before each chunk of requests, so the two see the same
 * machine; the JSON gives the medians of the floor and of each chunk's
 * cost as a multiple of its floor.
 */
static double measure_floor(struct workload *w, uint64_t *rnd, size_t nr)
{
	uint64_t sink = 0;
	double start;
	size_t i;

	start = bench_now_ns();
	for (i = 0; i < nr; i++) {
		uint64_t page = bench_rand(rnd) % VM_PAGES;
		struct gpuva *va = gpuva_find_first(w->vm, page * PAGE, PAGE);

		sink += (uintptr_t)va;
	}
	__asm__ volatile("" : : "r"(sink));
	return (bench_now_ns() - start) / (double)nr;
}

/*
 * The request chunks and the layout's build run the same loop in two
 * functions that are kept apart (not inlined, not merged), so that an
 * instruction count can be taken over the requests alone:
 * bench/callgrind-sm.sh counts inside request_chunk only.
 */
static __attribute__((noinline)) NO_ICF double
request_chunk(struct workload *w, const struct bench_request *reqs, size_t nr,
	      double *chunk_ns)
{
	return run_chunk(w, reqs, nr, chunk_ns);
}

static void run_requests(struct workload *w, size_t nr_requests, bool anchored)
{
	struct bench_request reqs[CHUNK];
	size_t i, c = 0, nr_chunks = (nr_requests + CHUNK - 1) / CHUNK;
	uint64_t floor_rnd = w->rnd ^ 0x9e3779b97f4a7c15ull;
	double total = 0;

	if (nr_chunks > w->n / CHUNK + 2) {
		free(w->chunk_ns);
		w->chunk_ns = calloc(nr_chunks, sizeof(double));
	}
	w->floor_ns = calloc(nr_chunks, sizeof(double));
	w->floor_multiple = calloc(nr_chunks, sizeof(double));
	if (!w->chunk_ns || !w->floor_ns || !w->floor_multiple)
		bench_fail("out of memory");
	for (i = 0; i < nr_requests; i += CHUNK, c++) {
		size_t nr = nr_requests - i < CHUNK ? nr_requests - i : CHUNK;

		gen_requests(w, reqs, nr, anchored);
		bench_pool_reserve(&w->pool, 3 * nr);
		w->floor_ns[c] = measure_floor(w, &floor_rnd, CHUNK);
		total += request_chunk(w, reqs, nr, &w->chunk_ns[c]);
		w->floor_multiple[c] = w->chunk_ns[c] / w->floor_ns[c];
	}
	bench_check_va_space(w->vm, &w->pool, VM_SIZE);
	emit(anchored ? "anchored" : "uniform", w, c, nr_requests, total);
	free(w->floor_ns);
	free(w->floor_multiple);
	w->floor_ns = w->floor_multiple = NULL;
}

static bool want(const char *only, const char *name)
{
	return !only || !strcmp(only, name);
}

static void run_size(const struct bench_opts *opts, size_t n,
		     size_t nr_requests, const char *only)
{
	struct workload w;

	workload_init(&w, n, opts->seed + n);
	build(&w, want(only, "insert"));
	bench_check_va_space(w.vm, &w.pool, VM_SIZE);
	if (want(only, "uniform"))
		run_requests(&w, nr_requests, false);
	if (want(only, "anchored")) {
		if (want(only, "uniform")) {
			/* Back to the same initial layout. */
			bench_empty_vm(w.vm, w.objs, NR_OBJS, &w.pool);
			build(&w, false);
		}
		run_requests(&w, nr_requests, true);
	}
	bench_empty_vm(w.vm, w.objs, NR_OBJS, &w.pool);
	workload_fini(&w);
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 100000, 1000000 };
	size_t one = 0, nr_requests = 200000;
	struct bench_opts opts;
	const char *only = NULL;
	unsigned int i;
	int a;

	for (a = bench_init(argc, argv, &opts); a < argc; a++) {
		if (!strcmp(argv[a], "--n") && a + 1 < argc) {
			one = strtoull(argv[++a], NULL, 0);
		} else if (!strcmp(argv[a], "--requests") && a + 1 < argc) {
			nr_requests = strtoull(argv[++a], NULL, 0);
		} else if (!strcmp(argv[a], "--case") && a + 1 < argc) {
			only = argv[++a];
		} else {
			fprintf(stderr,
				"usage: %s [--smoke] [--debug] [--seed N] "
				"[--n N] [--requests N] "
				"[--case insert|uniform|anchored]\n",
				argv[0]);
			return 2;
		}
	}
	if (opts.smoke) {
		one = one ? one : 1000;
		nr_requests = 2000;
	}
	if (one) {
		if (one < 1 || one > VM_PAGES / MAX_PAGES)
			bench_fail("--n out of range");
		run_size(&opts, one, nr_requests ? nr_requests : 1, only);
		return 0;
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		run_size(&opts, sizes[i], nr_requests ? nr_requests : 1, only);
	return 0;
}
