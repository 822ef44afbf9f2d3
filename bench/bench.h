/* SPDX-License-Identifier: MIT */
/*
 * Timing core of the benchmarks: calibrated samples on CLOCK_MONOTONIC,
 * median and p95, and one JSON object per measured configuration.
 */
#ifndef GPUVM_BENCH_H
#define GPUVM_BENCH_H

#include <stdbool.h>
#include <stdint.h>

struct bench_opts {
	bool smoke; /* tiny sizes, short samples: a test that it still runs */
	bool debug; /* keep the debug checker on (numbers not quotable) */
	uint64_t seed;
	unsigned int samples;
	double min_sample_ns;
};

struct bench_stats {
	unsigned long iterations; /* per sample */
	double ns_per_op; /* median over samples */
	double p95_ns;
};

/* The workload: perform @iters operations. */
typedef void (*bench_fn)(void *arg, unsigned long iters);

/* Parse --smoke, --debug, --seed N, --samples N; unknown flags are left
 * for the caller (returned index of the first one, or argc). */
int bench_init(int argc, char **argv, struct bench_opts *opts);

/* True in a sanitizer build: figures are then not printed. */
bool bench_sanitized(void);

double bench_now_ns(void);

/* qsort() comparator for doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);

/* Calibrate iterations so one sample lasts opts->min_sample_ns, then time
 * opts->samples samples. */
struct bench_stats bench_measure(const struct bench_opts *opts, bench_fn fn,
				 void *arg);

/* Time exactly @iters operations once. */
double bench_time_once(bench_fn fn, void *arg, unsigned long iters);

/*
 * Print one JSON line. @keys is extra `"k": v` pairs (may be ""), @threads
 * the thread count; @baseline NULL leaves the baseline keys out.
 */
void bench_emit(const char *bench, const char *bench_case, const char *keys,
		unsigned int threads, const struct bench_stats *s,
		const char *baseline, const struct bench_stats *b);

/* xorshift64*: deterministic, fast. */
static inline uint64_t bench_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

#endif /* GPUVM_BENCH_H */
