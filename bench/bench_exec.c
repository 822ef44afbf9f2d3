// SPDX-License-Identifier: MIT
/*
 * Exec locking: one uncontended transaction that locks N objects through
 * struct gpuvm_exec (init, loop, lock each, fini), N = 1, 2, 4, ... 256.
 * Baseline: the same N reservations locked one by one with a plain ww
 * acquire context (init, lock each, done, unlock each, fini), which is
 * the floor exec adds its tracking, references and array to.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <gpuvm/gpuvm.h>
#include <gpuvm/exec.h>

#include "bench.h"

#define MAX_OBJECTS 256

struct workload {
	struct gpuvm_gem_object *objs[MAX_OBJECTS];
	unsigned int n;
	unsigned long failures;
};

static void bench_exec_lock(void *arg, unsigned long iters)
{
	struct workload *w = arg;
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

static void bench_ww_ctx_lock(void *arg, unsigned long iters)
{
	struct workload *w = arg;
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

int main(int argc, char **argv)
{
	struct bench_opts opts;
	struct workload w = { 0 };
	unsigned int i, n, max_n;
	char keys[64];

	if (bench_init(argc, argv, &opts) != argc) {
		fprintf(stderr, "usage: %s [--smoke] [--debug] [--samples N]\n",
			argv[0]);
		return 2;
	}

	for (i = 0; i < MAX_OBJECTS; i++) {
		w.objs[i] = gpuvm_kzalloc(sizeof(*w.objs[i]), GPUVM_GFP_KERNEL);
		if (!w.objs[i])
			return 1;
		gpuvm_gem_object_init(w.objs[i], NULL, 4096);
	}

	max_n = opts.smoke ? 8 : MAX_OBJECTS;
	for (n = 1; n <= max_n; n *= 2) {
		struct bench_stats s, b;

		w.n = n;
		s = bench_measure(&opts, bench_exec_lock, &w);
		b = bench_measure(&opts, bench_ww_ctx_lock, &w);
		snprintf(keys, sizeof(keys), "\"n\": %u", n);
		bench_emit("exec", "exec", keys, 1, &s, "ww_ctx", &b);
	}

	for (i = 0; i < MAX_OBJECTS; i++) {
		/* No free callback: the memory is ours. */
		gpuvm_gem_object_put(w.objs[i]);
		gpuvm_kfree(w.objs[i]);
	}
	if (w.failures) {
		fprintf(stderr, "bench_exec: %lu failed lock(s)\n", w.failures);
		return 1;
	}
	return 0;
}
