// SPDX-License-Identifier: MIT
/*
 * Wrappers around liburcu's urcu-memb flavour: lazy per-thread
 * registration and ThreadSanitizer annotations. See rcu.h for the rules.
 */
#include <pthread.h>
#include <urcu/urcu-memb.h>

#include <gpuvm/rcu.h>

#include "rcu_internal.h"

/* Sync points for the annotations: "a reader left", "a callback ran". */
static char readers_left, callbacks_ran;
/* Callbacks queued with gpuvm_rcu_call() that have not finished. */
static unsigned long callbacks_pending;

_Static_assert(sizeof(struct rcu_head) <=
		       sizeof(((struct gpuvm_rcu_head *)0)->urcu_),
	       "struct gpuvm_rcu_head too small for liburcu's rcu_head");
_Static_assert(_Alignof(struct rcu_head) <= _Alignof(void *),
	       "struct gpuvm_rcu_head misaligned for liburcu's rcu_head");

enum rcu_thread_state {
	RCU_THREAD_UNKNOWN, /* not registered (as far as we know) */
	RCU_THREAD_OURS, /* registered here; unregistered at exit */
	RCU_THREAD_LIBURCU, /* registered by liburcu (its workers) or by the
			     * application (gpuvm_rcu_external_thread()) */
};

static __thread enum rcu_thread_state thread_state;
static pthread_key_t rcu_key;
static pthread_once_t rcu_key_once = PTHREAD_ONCE_INIT;

static void rcu_thread_exit(void *arg)
{
	if (thread_state == RCU_THREAD_OURS) {
		urcu_memb_unregister_thread();
		thread_state = RCU_THREAD_UNKNOWN;
	}
}

static void rcu_key_create(void)
{
	pthread_key_create(&rcu_key, rcu_thread_exit);
}

static void rcu_register_slow(void)
{
	pthread_once(&rcu_key_once, rcu_key_create);
	urcu_memb_register_thread();
	thread_state = RCU_THREAD_OURS;
	/* Any non-NULL value makes the destructor run at thread exit. */
	pthread_setspecific(rcu_key, &thread_state);
}

static inline void rcu_ensure_registered(void)
{
	if (unlikely(thread_state == RCU_THREAD_UNKNOWN))
		rcu_register_slow();
}

void gpuvm_rcu_read_lock(void)
{
	rcu_ensure_registered();
	urcu_memb_read_lock();
	gpuvm_sched_point(GPUVM_SCHED_RCU_LOCK, NULL);
}

void gpuvm_rcu_read_unlock(void)
{
	tsan_release(&readers_left);
	urcu_memb_read_unlock();
	gpuvm_sched_point(GPUVM_SCHED_RCU_UNLOCK, NULL);
}

static void rcu_trampoline(struct rcu_head *urcu)
{
	struct gpuvm_rcu_head *head =
		container_of((void *)urcu, struct gpuvm_rcu_head, urcu_);

	/* liburcu runs callbacks on its own, registered, worker threads. */
	if (thread_state == RCU_THREAD_UNKNOWN)
		thread_state = RCU_THREAD_LIBURCU;
	tsan_acquire(head);
	tsan_acquire(&readers_left);
	head->func(head);
	tsan_release(&callbacks_ran);
	__atomic_fetch_sub(&callbacks_pending, 1, __ATOMIC_RELEASE);
}

void gpuvm_rcu_call(struct gpuvm_rcu_head *head,
		    void (*func)(struct gpuvm_rcu_head *head))
{
	rcu_ensure_registered();
	__atomic_fetch_add(&callbacks_pending, 1, __ATOMIC_RELAXED);
	head->func = func;
	tsan_release(head);
	urcu_memb_call_rcu((struct rcu_head *)(void *)head->urcu_,
			   rcu_trampoline);
}

bool gpuvm_rcu_read_ongoing(void)
{
	/* An unregistered thread cannot be inside a section. */
	return thread_state != RCU_THREAD_UNKNOWN && urcu_memb_read_ongoing();
}

GPUVM_EXPORT void gpuvm_rcu_external_thread(void)
{
	/* Registered by someone else: never registered nor unregistered
	 * here, like liburcu's own workers. */
	if (thread_state == RCU_THREAD_UNKNOWN)
		thread_state = RCU_THREAD_LIBURCU;
}

unsigned long gpuvm_rcu_callbacks_pending(void)
{
	return __atomic_load_n(&callbacks_pending, __ATOMIC_ACQUIRE);
}

void gpuvm_rcu_synchronize(void)
{
	/* An explorer first lets the readers it parked leave. */
	gpuvm_sched_point(GPUVM_SCHED_RCU_SYNC, NULL);
	urcu_memb_synchronize_rcu();
	tsan_acquire(&readers_left);
}

void gpuvm_rcu_barrier(void)
{
	/* Nothing queued: no grace period to wait for (a leak check after
	 * every replay or fuzz input stays cheap). */
	if (__atomic_load_n(&callbacks_pending, __ATOMIC_ACQUIRE))
		urcu_memb_barrier();
	tsan_acquire(&callbacks_ran);
}
