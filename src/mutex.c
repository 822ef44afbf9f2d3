// SPDX-License-Identifier: MIT
/* A pthread mutex that reports to the debug checker. */
#include <gpuvm/mutex.h>

#include "internal.h"

GPUVM_EXPORT void gpuvm_mutex_init(struct gpuvm_mutex *m, const char *name,
				   struct gpuvm_lock_class *lock_class)
{
	pthread_mutex_init(&m->lock, NULL);
	m->locked = 0;
	gpuvm_lockdep_init_map(&m->dep_map, name, lock_class);
}

/*
 * A destroyed mutex has no class while the checker is on: using it again
 * is reported as a use after free (its object is gone). Destroying a
 * mutex that some thread holds is reported and leaves it intact, so the
 * holder's unlock stays defined.
 */
GPUVM_EXPORT void gpuvm_mutex_destroy(struct gpuvm_mutex *m)
{
	if (gpuvm_debug_active()) {
		if (gpuvm_lock_is_held(&m->dep_map)) {
			gpuvm_lockdep_fini_map(&m->dep_map,
					       "gpuvm_mutex_destroy");
			return;
		}
		if (__atomic_load_n(&m->locked, __ATOMIC_RELAXED)) {
			gpuvm_warn(GPUVM_RULE_DESTROY_HELD,
				   "gpuvm_mutex_destroy: destroying '%s' "
				   "while another thread holds it",
				   m->dep_map.name);
			return;
		}
		m->dep_map.lock_class = NULL;
	}
	pthread_mutex_destroy(&m->lock);
}

static bool mutex_destroyed(struct gpuvm_mutex *m, const char *func)
{
	if (likely(m->dep_map.lock_class))
		return false;
	gpuvm_warn(GPUVM_RULE_USE_AFTER_FREE,
		   "%s: '%s' was destroyed (its object was freed)", func,
		   m->dep_map.name);
	return true;
}

/* Checker and explorer off: what the kernel's mutex does, nothing more. */
#define MUTEX_SLOW (GPUVM_SLOW_DEBUG | GPUVM_SLOW_SCHED)

GPUVM_EXPORT void gpuvm_mutex_lock(struct gpuvm_mutex *m)
{
	if (likely(!(gpuvm_slow() & MUTEX_SLOW))) {
		pthread_mutex_lock(&m->lock);
		__atomic_store_n(&m->locked, 1, __ATOMIC_RELAXED);
		return;
	}
	/*
	 * The kernel would deadlock here. Report the recursion and return
	 * instead, so a test sees the warning rather than a hang.
	 */
	if (gpuvm_debug_active()) {
		if (mutex_destroyed(m, "gpuvm_mutex_lock"))
			return;
		if (gpuvm_lock_is_held(&m->dep_map)) {
			gpuvm_lock_acquire(&m->dep_map, 0, GPUVM_RET_IP);
			gpuvm_lock_release(&m->dep_map, "gpuvm_mutex_lock");
			return;
		}
	}
	gpuvm_sched_point(GPUVM_SCHED_LOCK, m);
	if (gpuvm_sched_managed()) {
		/* The holder is parked by the explorer: wait through it. */
		while (pthread_mutex_trylock(&m->lock))
			gpuvm_sched_block__(m);
	} else {
		pthread_mutex_lock(&m->lock);
	}
	__atomic_store_n(&m->locked, 1, __ATOMIC_RELAXED);
	gpuvm_lock_acquire(&m->dep_map, 0, GPUVM_RET_IP);
}

GPUVM_EXPORT bool gpuvm_mutex_trylock(struct gpuvm_mutex *m)
{
	if (gpuvm_debug_active() && mutex_destroyed(m, "gpuvm_mutex_trylock"))
		return false;
	gpuvm_sched_point(GPUVM_SCHED_LOCK, m);
	if (pthread_mutex_trylock(&m->lock))
		return false;
	__atomic_store_n(&m->locked, 1, __ATOMIC_RELAXED);
	gpuvm_lock_acquire(&m->dep_map, GPUVM_LOCK_ACQ_TRY, GPUVM_RET_IP);
	return true;
}

GPUVM_EXPORT void gpuvm_mutex_unlock(struct gpuvm_mutex *m)
{
	if (likely(!(gpuvm_slow() & MUTEX_SLOW))) {
		__atomic_store_n(&m->locked, 0, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&m->lock);
		return;
	}
	/* Before the release too: what this thread published while holding
	 * the lock is visible to the others before it lets go. */
	gpuvm_sched_point(GPUVM_SCHED_UNLOCK, m);
	if (!gpuvm_lock_release(&m->dep_map, "gpuvm_mutex_unlock"))
		return;
	__atomic_store_n(&m->locked, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&m->lock);
	gpuvm_sched_wake(m);
	gpuvm_sched_point(GPUVM_SCHED_UNLOCK, m);
}

GPUVM_EXPORT bool gpuvm_mutex_is_locked(struct gpuvm_mutex *m)
{
	return __atomic_load_n(&m->locked, __ATOMIC_RELAXED);
}
