/* SPDX-License-Identifier: MIT */
/*
 * Condition waits that a schedule explorer can see (see sched.c). The
 * caller re-checks its condition after a wait, as with pthread_cond_wait.
 */
#ifndef GPUVM_SCHED_COND_H
#define GPUVM_SCHED_COND_H

#include <pthread.h>

void gpuvm_sched_cond_wait(pthread_cond_t *cond, pthread_mutex_t *mutex);
void gpuvm_sched_cond_broadcast(pthread_cond_t *cond);

#endif /* GPUVM_SCHED_COND_H */
