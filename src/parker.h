/* SPDX-License-Identifier: MIT */
/*
 * Per-thread parker: how a libgpuvm wait sleeps and is woken.
 *
 * A sleeper takes a snapshot of its parker's epoch before it evaluates the
 * condition it waits for, then parks with that snapshot; a waker publishes
 * the state change first and unparks second. A wake-up between the
 * snapshot and the park makes the park return at once, so none is lost;
 * spurious returns are harmless because every caller loops.
 *
 * Interruptible waits also return on a pending interrupt, raised by
 * gpuvm_interrupt_thread(): the emulation of a signal for the kernel's
 * *_interruptible calls.
 */
#ifndef GPUVM_PARKER_H
#define GPUVM_PARKER_H

#include <pthread.h>
#include <time.h>

#include "internal.h"

struct gpuvm_parker {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	unsigned int epoch; /* bumped by every unpark; atomic */
	bool interrupt; /* pending interrupt; under lock */
	pthread_t thread;
	struct gpuvm_list_head node; /* in the registry */
};

/* The calling thread's parker; lives until the thread exits. */
struct gpuvm_parker *gpuvm_parker_self(void);

static inline unsigned int gpuvm_parker_snapshot(struct gpuvm_parker *p)
{
	return __atomic_load_n(&p->epoch, __ATOMIC_ACQUIRE);
}

/*
 * Sleep until an unpark after @snapshot, a pending interrupt (only when
 * @interruptible; the interrupt is then consumed) or @deadline
 * (CLOCK_MONOTONIC; NULL: none).
 * Return: 0 (woken, possibly spuriously), -EINTR or -ETIMEDOUT.
 */
int gpuvm_parker_park(struct gpuvm_parker *p, unsigned int snapshot,
		      bool interruptible, const struct timespec *deadline);

/* Wake @p's thread. The caller guarantees @p is alive. */
void gpuvm_parker_unpark(struct gpuvm_parker *p);

/* Consume a pending interrupt without sleeping: -EINTR if one was set. */
int gpuvm_parker_take_interrupt(struct gpuvm_parker *p);

/* Deadline @timeout_ns from now on CLOCK_MONOTONIC. */
void gpuvm_deadline_from_now(struct timespec *ts, uint64_t timeout_ns);

#endif /* GPUVM_PARKER_H */
