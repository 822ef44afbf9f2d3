// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gpuvm/gpuvm.h>

#include "bench.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BENCH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(undefined_behavior_sanitizer)
#define BENCH_SANITIZED 1
#endif
#endif
#ifndef BENCH_SANITIZED
#define BENCH_SANITIZED 0
#endif

bool bench_sanitized(void)
{
	return BENCH_SANITIZED;
}

double bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int bench_init(int argc, char **argv, struct bench_opts *opts)
{
	int i;

	*opts = (struct bench_opts){
		.seed = 0x9e3779b97f4a7c15ull,
		.samples = 7,
		.min_sample_ns = 50e6,
	};
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--smoke")) {
			opts->smoke = true;
			opts->samples = 2;
			opts->min_sample_ns = 1e5;
		} else if (!strcmp(argv[i], "--debug")) {
			opts->debug = true;
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			opts->seed = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--samples") && i + 1 < argc) {
			opts->samples = (unsigned int)atoi(argv[++i]);
			if (!opts->samples)
				opts->samples = 1;
		} else {
			break;
		}
	}
	/* Figures are quoted with the checker off; --debug measures it. */
	gpuvm_debug_enable(opts->debug);
	return i;
}

double bench_time_once(bench_fn fn, void *arg, unsigned long iters)
{
	double t0 = bench_now_ns();

	fn(arg, iters);
	return bench_now_ns() - t0;
}

int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct bench_stats bench_measure(const struct bench_opts *opts, bench_fn fn,
				 void *arg)
{
	struct bench_stats s = { 0 };
	unsigned long iters = 1;
	double per_op[64];
	unsigned int i, n = opts->samples > 64 ? 64 : opts->samples;
	double t;

	fn(arg, 1); /* warm up */
	for (;;) {
		t = bench_time_once(fn, arg, iters);
		if (t >= opts->min_sample_ns || iters >= (1ul << 40))
			break;
		iters = t < 1000 ? iters * 16 :
				   (unsigned long)(iters * opts->min_sample_ns /
						   t * 1.1) +
					   1;
	}
	for (i = 0; i < n; i++)
		per_op[i] = bench_time_once(fn, arg, iters) / (double)iters;
	qsort(per_op, n, sizeof(per_op[0]), bench_cmp_double);
	s.iterations = iters;
	s.ns_per_op = per_op[n / 2];
	s.p95_ns = per_op[(n * 95 + 99) / 100 - 1];
	return s;
}

void bench_emit(const char *bench, const char *bench_case, const char *keys,
		unsigned int threads, const struct bench_stats *s,
		const char *baseline, const struct bench_stats *b)
{
	const char *sep = keys && *keys ? ", " : "";

	if (bench_sanitized()) {
		printf("{\"bench\": \"%s\", \"case\": \"%s\"%s%s, "
		       "\"note\": \"sanitizer build: no figures\"}\n",
		       bench, bench_case, sep, keys ? keys : "");
		return;
	}
	printf("{\"bench\": \"%s\", \"case\": \"%s\"%s%s, \"threads\": %u, "
	       "\"iterations\": %lu, \"ns_per_op\": %.1f, \"p95_ns\": %.1f",
	       bench, bench_case, sep, keys ? keys : "", threads, s->iterations,
	       s->ns_per_op, s->p95_ns);
	if (baseline && b)
		printf(", \"baseline\": \"%s\", \"baseline_ns_per_op\": %.1f, "
		       "\"speedup\": %.2f",
		       baseline, b->ns_per_op,
		       s->ns_per_op > 0 ? b->ns_per_op / s->ns_per_op : 0.0);
	if (gpuvm_debug_enabled())
		printf(", \"debug_checking\": true");
	printf("}\n");
	fflush(stdout);
}
