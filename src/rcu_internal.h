/* SPDX-License-Identifier: MIT */
/*
 * RCU for libgpuvm: liburcu's urcu-memb flavour behind thin wrappers
 * (private to the library and its tests).
 *
 * Registration rule. liburcu needs every thread that enters a read-side
 * critical section or queues a callback to be registered with the flavour.
 * The wrappers below do it for the caller: the first gpuvm_rcu_read_lock()
 * or gpuvm_rcu_call() of a thread registers it, and a pthread key
 * destructor unregisters it when the thread exits. Consequences:
 *  - library code and tests may call these from any thread, no set-up;
 *  - a thread must not exit inside a read-side critical section;
 *  - a thread that registered itself with urcu-memb directly (an
 *    application that uses liburcu on its own) must call the public
 *    gpuvm_rcu_external_thread() (<gpuvm/rcu.h>) before its first libgpuvm
 *    call, or it would be registered twice. The call_rcu worker threads
 *    of liburcu are registered by liburcu and recognised here.
 * Threads created by the library (there are none today) need nothing
 * either: the lazy registration covers them like any other thread.
 *
 * Grace periods: gpuvm_rcu_synchronize() waits for one; it must not be
 * called inside a read-side section. gpuvm_rcu_barrier() waits until every
 * callback queued so far has run: tests call it before they compare the
 * live-allocation counter, since objects freed through gpuvm_rcu_call()
 * are only freed after a grace period, on liburcu's worker thread.
 *
 * Under ThreadSanitizer the wrappers annotate the happens-before edges
 * that liburcu (not instrumented) creates: every read-side unlock and
 * every call_rcu() happens before the callbacks that run after it.
 */
#ifndef GPUVM_RCU_INTERNAL_H
#define GPUVM_RCU_INTERNAL_H

#include <gpuvm/rcu.h>

#include "internal.h"

/* Enter a read-side critical section (nests); registers the thread. */
void gpuvm_rcu_read_lock(void);

/* Leave the read-side critical section. */
void gpuvm_rcu_read_unlock(void);

/*
 * Run @func(@head) after a grace period, on a liburcu worker thread.
 * May be called inside a read-side section and from RCU callbacks.
 */
void gpuvm_rcu_call(struct gpuvm_rcu_head *head,
		    void (*func)(struct gpuvm_rcu_head *head));

/* Callbacks queued with gpuvm_rcu_call() that have not run yet. */
unsigned long gpuvm_rcu_callbacks_pending(void);

/* Whether the calling thread is inside a read-side critical section. */
bool gpuvm_rcu_read_ongoing(void);

/* Wait for a grace period. Not inside a read-side section. */
void gpuvm_rcu_synchronize(void);

/* Wait until all callbacks queued before the call have run. Not inside a
 * read-side section, not from an RCU callback. */
void gpuvm_rcu_barrier(void);

/* RCU-style pointer publication and reads, as C11 atomics (liburcu's
 * macros are invisible to ThreadSanitizer). */
#define gpuvm_rcu_dereference(p) __atomic_load_n(&(p), __ATOMIC_ACQUIRE)
#define gpuvm_rcu_assign_pointer(p, v) \
	__atomic_store_n(&(p), (v), __ATOMIC_RELEASE)

#endif /* GPUVM_RCU_INTERNAL_H */
