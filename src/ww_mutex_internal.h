/* SPDX-License-Identifier: MIT */
/*
 * Test hooks of the ww_mutex: a look at the wait queue, so tests can wait
 * for "the other thread is queued" instead of sleeping.
 */
#ifndef GPUVM_WW_MUTEX_INTERNAL_H
#define GPUVM_WW_MUTEX_INTERNAL_H

#include <gpuvm/ww_mutex.h>

#include "internal.h"

/* Number of threads queued on @lock (takes the wait lock). */
unsigned int gpuvm_ww_mutex_waiter_count__(struct gpuvm_ww_mutex *lock);

/*
 * Copy the contexts of the first @max queued waiters of @lock, head first,
 * into @ctxs (NULL for a waiter without a context).
 * Return: the number of waiters (may exceed @max).
 */
unsigned int gpuvm_ww_mutex_waiters__(struct gpuvm_ww_mutex *lock,
				      struct gpuvm_ww_acquire_ctx **ctxs,
				      unsigned int max);

/* Whether @ctx was wounded (atomic read; any thread). */
bool gpuvm_ww_ctx_wounded__(struct gpuvm_ww_acquire_ctx *ctx);

#endif /* GPUVM_WW_MUTEX_INTERNAL_H */
