// SPDX-License-Identifier: MIT
/* A pthread mutex that reports to the debug checker. */
#include "internal.h"

GPUVM_EXPORT void gpuvm_mutex_init(struct gpuvm_mutex *m, const char *name,
				   struct gpuvm_lock_class *lock_class)
{
	pthread_mutex_init(&m->lock, NULL);
	m->locked = 0;
	gpuvm_lockdep_init_map(&m->dep_map, name, lock_class);
}

GPUVM_EXPORT void gpuvm_mutex_destroy(struct gpuvm_mutex *m)
{
	gpuvm_lockdep_fini_map(&m->dep_map, "gpuvm_mutex_destroy");
	pthread_mutex_destroy(&m->lock);
}

GPUVM_EXPORT void gpuvm_mutex_lock(struct gpuvm_mutex *m)
{
	/*
	 * The kernel would deadlock here. Report the recursion and return
	 * instead, so a test sees the warning rather than a hang.
	 */
	if (gpuvm_debug_active() && gpuvm_lock_is_held(&m->dep_map)) {
		gpuvm_lock_acquire(&m->dep_map, 0, GPUVM_RET_IP);
		gpuvm_lock_release(&m->dep_map, "gpuvm_mutex_lock");
		return;
	}
	pthread_mutex_lock(&m->lock);
	__atomic_store_n(&m->locked, 1, __ATOMIC_RELAXED);
	gpuvm_lock_acquire(&m->dep_map, 0, GPUVM_RET_IP);
}

GPUVM_EXPORT bool gpuvm_mutex_trylock(struct gpuvm_mutex *m)
{
	if (pthread_mutex_trylock(&m->lock))
		return false;
	__atomic_store_n(&m->locked, 1, __ATOMIC_RELAXED);
	gpuvm_lock_acquire(&m->dep_map, GPUVM_LOCK_ACQ_TRY, GPUVM_RET_IP);
	return true;
}

GPUVM_EXPORT void gpuvm_mutex_unlock(struct gpuvm_mutex *m)
{
	if (!gpuvm_lock_release(&m->dep_map, "gpuvm_mutex_unlock"))
		return;
	__atomic_store_n(&m->locked, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&m->lock);
}

GPUVM_EXPORT bool gpuvm_mutex_is_locked(struct gpuvm_mutex *m)
{
	return __atomic_load_n(&m->locked, __ATOMIC_RELAXED);
}
