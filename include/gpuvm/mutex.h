/* SPDX-License-Identifier: MIT */
/*
 * A sleeping mutex known to the debug checker (the kernel's struct mutex).
 *
 * Used for the GEM object's gpuva lock and the VM's internal list locks.
 * Lock and unlock are reported to the checker, so gpuvm_mutex_assert_held()
 * asserts the calling thread holds it and lock-order cycles are caught.
 *
 * "Does not allocate" below means no library allocation (gpuvm_kmalloc()):
 * the checker's per-thread bookkeeping is plain malloc, outside fault
 * injection and the signalling-section rules.
 */
#ifndef GPUVM_MUTEX_H
#define GPUVM_MUTEX_H

#include <gpuvm/common.h>
#include <gpuvm/debug.h>

GPUVM_BEGIN_DECLS

/**
 * struct gpuvm_mutex - a sleeping mutex reported to the debug checker
 * @locked: the lock word (atomic): 0 free, 1 held, 2 held with waiters
 *	asleep on it (a futex on Linux)
 * @dep_map: the mutex as the checker knows it (class and name)
 *
 * Initialise with gpuvm_mutex_init(); there is no static initialiser.
 */
struct gpuvm_mutex {
	int locked;
	struct gpuvm_lockdep_map dep_map;
};

/**
 * gpuvm_mutex_init() - initialise @m, unlocked
 * @m: the mutex; must not be in use
 * @name: instance name for reports (may be NULL: the class name is used)
 * @lock_class: the class lock ordering is learned on; must outlive @m
 *
 * Context: any; does not block or allocate.
 */
GPUVM_EXPORT void gpuvm_mutex_init(struct gpuvm_mutex *m, const char *name,
				   struct gpuvm_lock_class *lock_class);

/**
 * gpuvm_mutex_destroy() - end the life of @m
 * @m: an initialised mutex that nobody holds or waits for
 *
 * With the checker on, destroying a mutex that any thread holds is
 * reported (GPUVM_RULE_DESTROY_HELD) and leaves it intact, so the holder's
 * unlock stays defined; otherwise the mutex is marked destroyed, and a
 * later lock or trylock is reported as GPUVM_RULE_USE_AFTER_FREE and does
 * nothing. With the checker off it is destroyed unconditionally.
 * Context: any; does not block or allocate.
 */
GPUVM_EXPORT void gpuvm_mutex_destroy(struct gpuvm_mutex *m);

/**
 * gpuvm_mutex_lock() - take @m, waiting for it if needed
 * @m: an initialised mutex
 *
 * The checker learns the lock order against the locks the thread holds
 * and reports an order that closes a cycle (GPUVM_RULE_LOCK_ORDER).
 * Context: may block (uninterruptibly); does not allocate. Allowed inside
 * a fence signalling section; @m's class then counts as taken in
 * signalling sections, so waiting on a fence or allocating with blocking
 * while holding a mutex of that class is reported.
 * Kernel parity: with the checker on, taking a mutex the calling thread
 * already holds is reported (GPUVM_RULE_RECURSIVE_LOCK) and returns without
 * taking it again; the kernel deadlocks.
 */
GPUVM_EXPORT void gpuvm_mutex_lock(struct gpuvm_mutex *m);

/**
 * gpuvm_mutex_trylock() - take @m if it is free
 * @m: an initialised mutex
 *
 * Context: never blocks; does not allocate; allowed in a fence
 * signalling section. Learns no lock order.
 * Return: true when the lock was taken; false when any thread, the caller
 * included, holds it, or (checker on) when @m was destroyed.
 */
GPUVM_EXPORT bool gpuvm_mutex_trylock(struct gpuvm_mutex *m);

/**
 * gpuvm_mutex_unlock() - release @m
 * @m: a mutex the calling thread holds
 *
 * Context: the thread that locked @m; does not block or allocate.
 * Kernel parity: with the checker on, unlocking a mutex the thread does not
 * hold is reported (GPUVM_RULE_UNLOCK_UNHELD) and ignored; with it off,
 * that misuse is undefined, as in the kernel.
 */
GPUVM_EXPORT void gpuvm_mutex_unlock(struct gpuvm_mutex *m);

/**
 * gpuvm_mutex_is_locked() - whether any thread holds @m
 * @m: an initialised mutex
 *
 * Context: any; lock-free.
 * Return: a snapshot: true when some thread held @m at the time of the
 * read.
 */
GPUVM_EXPORT bool gpuvm_mutex_is_locked(struct gpuvm_mutex *m);

/**
 * gpuvm_mutex_assert_held() - report unless the calling thread holds @m
 * @m: the mutex
 * @func: the caller's name, for the report
 *
 * Warns GPUVM_RULE_LOCK_NOT_HELD, naming @func. Does nothing with the
 * checker off.
 * Context: any; does not block or allocate.
 */
static inline void gpuvm_mutex_assert_held(const struct gpuvm_mutex *m,
					   const char *func)
{
	gpuvm_lock_assert_held(&m->dep_map, func);
}

GPUVM_END_DECLS

#endif /* GPUVM_MUTEX_H */
