// SPDX-License-Identifier: MIT
/*
 * The library's side of schedule exploration (testing.h): forwards the
 * scheduling points to the installed explorer, and offers the condition
 * wait the device code uses, which goes through the explorer on the
 * threads it runs.
 */
#include <pthread.h>

#include "internal.h"
#include "sched_cond.h"

static const struct gpuvm_sched_ops *sched_ops;
static void *sched_data;

GPUVM_EXPORT void gpuvm_sched_set_ops(const struct gpuvm_sched_ops *ops,
				      void *data)
{
	bool was = sched_ops != NULL;

	sched_ops = ops;
	sched_data = data;
	gpuvm_slow_set(GPUVM_SLOW_SCHED, ops != NULL);
	/* Named hook points are scheduling points too: make them call in. */
	if (ops && !was)
		__atomic_fetch_add(&gpuvm_hooks_armed__, 1, __ATOMIC_RELAXED);
	else if (!ops && was)
		__atomic_fetch_sub(&gpuvm_hooks_armed__, 1, __ATOMIC_RELAXED);
}

bool gpuvm_sched_managed__(void)
{
	const struct gpuvm_sched_ops *ops = sched_ops;

	return ops && ops->managed(sched_data);
}

void gpuvm_sched_point__(enum gpuvm_sched_event ev, const void *obj)
{
	const struct gpuvm_sched_ops *ops = sched_ops;

	if (ops && ops->managed(sched_data))
		ops->point(ev, obj, sched_data);
}

void gpuvm_sched_block__(const void *wait_obj)
{
	const struct gpuvm_sched_ops *ops = sched_ops;

	if (ops)
		ops->block(wait_obj, sched_data);
}

void gpuvm_sched_wake__(const void *wait_obj)
{
	const struct gpuvm_sched_ops *ops = sched_ops;

	if (ops)
		ops->wake(wait_obj, sched_data);
}

void gpuvm_sched_cond_wait(pthread_cond_t *cond, pthread_mutex_t *mutex)
{
	if (!gpuvm_sched_managed()) {
		pthread_cond_wait(cond, mutex);
		return;
	}
	/* One managed thread runs at a time: nothing can slip in between. */
	pthread_mutex_unlock(mutex);
	gpuvm_sched_block__(cond);
	pthread_mutex_lock(mutex);
}

void gpuvm_sched_cond_broadcast(pthread_cond_t *cond)
{
	pthread_cond_broadcast(cond);
	gpuvm_sched_wake(cond);
}

void gpuvm_sched_mutex_lock(pthread_mutex_t *mutex)
{
	if (!gpuvm_sched_managed()) {
		pthread_mutex_lock(mutex);
		return;
	}
	while (pthread_mutex_trylock(mutex))
		gpuvm_sched_block__(mutex);
}

void gpuvm_sched_mutex_unlock(pthread_mutex_t *mutex)
{
	pthread_mutex_unlock(mutex);
	gpuvm_sched_wake(mutex);
}
