/* SPDX-License-Identifier: MIT */
/*
 * A sleeping mutex known to the debug checker (the kernel's struct mutex).
 *
 * Used for the GEM object's gpuva lock and the VM's internal list locks.
 * Lock and unlock are reported to the checker, so gpuvm_mutex_assert_held()
 * asserts the calling thread holds it and lock-order cycles are caught.
 */
#ifndef GPUVM_MUTEX_H
#define GPUVM_MUTEX_H

#include <pthread.h>

#include <gpuvm/common.h>
#include <gpuvm/debug.h>

GPUVM_BEGIN_DECLS

struct gpuvm_mutex {
	pthread_mutex_t lock;
	int locked; /* accessed atomically; for gpuvm_mutex_is_locked() */
	struct gpuvm_lockdep_map dep_map;
};

/**
 * gpuvm_mutex_init() - initialise @m
 * @name: instance name for reports (may be NULL: the class name is used)
 * @lock_class: the class lock ordering is learned on; must outlive @m
 */
GPUVM_EXPORT void gpuvm_mutex_init(struct gpuvm_mutex *m, const char *name,
				   struct gpuvm_lock_class *lock_class);

/*
 * Destroy @m. Destroying a mutex that any thread holds is reported
 * (GPUVM_RULE_DESTROY_HELD) and leaves it intact, so the holder's unlock
 * stays defined. With the checker on, locking it afterwards is reported as
 * GPUVM_RULE_USE_AFTER_FREE and does nothing.
 */
GPUVM_EXPORT void gpuvm_mutex_destroy(struct gpuvm_mutex *m);

/* Context: may block. Taking a mutex the calling thread already holds is
 * reported (GPUVM_RULE_RECURSIVE_LOCK) and, with the checker on, returns
 * without taking it instead of deadlocking. */
GPUVM_EXPORT void gpuvm_mutex_lock(struct gpuvm_mutex *m);

/* Return: true when the lock was taken. */
GPUVM_EXPORT bool gpuvm_mutex_trylock(struct gpuvm_mutex *m);

/* Unlocking a mutex the thread does not hold is reported and ignored
 * while debug checking is on. */
GPUVM_EXPORT void gpuvm_mutex_unlock(struct gpuvm_mutex *m);

/* Whether any thread holds @m (a snapshot). */
GPUVM_EXPORT bool gpuvm_mutex_is_locked(struct gpuvm_mutex *m);

static inline void gpuvm_mutex_assert_held(const struct gpuvm_mutex *m,
					   const char *func)
{
	gpuvm_lock_assert_held(&m->dep_map, func);
}

GPUVM_END_DECLS

#endif /* GPUVM_MUTEX_H */
