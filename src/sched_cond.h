/* SPDX-License-Identifier: MIT */
/*
 * Condition waits and mutexes that a schedule explorer can see (see
 * sched.c). The caller re-checks its condition after a wait, as with
 * pthread_cond_wait.
 */
#ifndef GPUVM_SCHED_COND_H
#define GPUVM_SCHED_COND_H

#include <pthread.h>

void gpuvm_sched_cond_wait(pthread_cond_t *cond, pthread_mutex_t *mutex);
void gpuvm_sched_cond_broadcast(pthread_cond_t *cond);

/*
 * A plain mutex held across scheduling points (the device's bind/unbind
 * serialisation): a managed thread that finds it taken waits through the
 * explorer.
 */
void gpuvm_sched_mutex_lock(pthread_mutex_t *mutex);
void gpuvm_sched_mutex_unlock(pthread_mutex_t *mutex);

#endif /* GPUVM_SCHED_COND_H */
