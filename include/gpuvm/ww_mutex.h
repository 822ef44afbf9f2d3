/* SPDX-License-Identifier: MIT */
/*
 * Wound/wait mutexes: deadlock-avoiding locking of many objects.
 *
 * A transaction (acquire context) takes a ticket from its class; when two
 * transactions contend, the older ticket wins. The class fixes the
 * algorithm: wait-die (the younger requester backs off with -EDEADLK) or
 * wound-wait (the older requester wounds the younger holder, which backs
 * off at its next wait). The reservation class of dma_resv is wait-die.
 *
 * Results are the kernel's: -EDEADLK only while the context holds a lock,
 * -EALREADY when the context already holds the lock, -EINTR for an
 * interrupted interruptible wait (see gpuvm_interrupt_thread()).
 * Misuse (locking after acquire_done, wrong class, lock_slow without a
 * preceding -EDEADLK, ...) is reported by the debug checker.
 */
#ifndef GPUVM_WW_MUTEX_H
#define GPUVM_WW_MUTEX_H

#include <pthread.h>

#include <gpuvm/common.h>
#include <gpuvm/debug.h>
#include <gpuvm/list.h>

GPUVM_BEGIN_DECLS

struct gpuvm_ww_acquire_ctx;

struct gpuvm_ww_class {
	unsigned long stamp; /* ticket counter; atomic */
	bool is_wait_die;
	const char *name;
	struct gpuvm_lock_class mutex_class; /* the mutexes of this class */
	struct gpuvm_lock_class acquire_class; /* the acquire contexts */
};

/* Static initialisers: wound-wait and wait-die classes. The lock class
 * flags (GPUVM_LOCK_CLASS_*) go to the mutexes' checker class. */
#define GPUVM_WW_CLASS_INIT(cname, wait_die, lock_flags)                     \
	{                                                                    \
		0, (wait_die), (cname),                                      \
			GPUVM_LOCK_CLASS_INIT(cname "_mutex", (lock_flags)), \
			GPUVM_LOCK_CLASS_INIT(cname "_acquire", 0)           \
	}

#define GPUVM_DEFINE_WW_CLASS(var) \
	struct gpuvm_ww_class var = GPUVM_WW_CLASS_INIT(#var, false, 0)
#define GPUVM_DEFINE_WD_CLASS(var) \
	struct gpuvm_ww_class var = GPUVM_WW_CLASS_INIT(#var, true, 0)

/*
 * The mutex. Fields below are private to the implementation; use the
 * functions. `ctx` is the holding context (NULL when unlocked or held
 * without a context), as in the kernel.
 */
struct gpuvm_ww_mutex {
	uintptr_t owner; /* atomic: 0 unlocked, else owner token | flags */
	pthread_mutex_t wait_lock; /* protects waiters */
	struct gpuvm_list_head waiters;
	struct gpuvm_ww_acquire_ctx *ctx; /* atomic */
	struct gpuvm_ww_class *ww_class;
	struct gpuvm_lockdep_map dep_map;
};

struct gpuvm_ww_acquire_ctx {
	uintptr_t task; /* owning thread's token */
	unsigned long stamp;
	unsigned int acquired; /* locks held through this context */
	unsigned int wounded; /* atomic; wound-wait only */
	bool is_wait_die;
	/* debug checking */
	bool done_acquire;
	bool finished;
	struct gpuvm_ww_class *ww_class;
	struct gpuvm_ww_mutex *contending_lock;
	unsigned int deadlock_inject_interval;
	unsigned int deadlock_inject_countdown;
	struct gpuvm_lockdep_map dep_map;
};

/* Context: any; the mutex starts unlocked. There is no static init. */
GPUVM_EXPORT void gpuvm_ww_mutex_init(struct gpuvm_ww_mutex *lock,
				      struct gpuvm_ww_class *ww_class);

/* The mutex must be unlocked; warns otherwise. */
GPUVM_EXPORT void gpuvm_ww_mutex_destroy(struct gpuvm_ww_mutex *lock);

/**
 * gpuvm_ww_acquire_init() - start a transaction of @ww_class
 *
 * Takes a ticket (stamp) from the class. One live context per class per
 * thread; the context must be finished by the thread that started it.
 */
GPUVM_EXPORT void gpuvm_ww_acquire_init(struct gpuvm_ww_acquire_ctx *ctx,
					struct gpuvm_ww_class *ww_class);

/* Mark the end of the acquire phase; locking through @ctx later warns. */
GPUVM_EXPORT void gpuvm_ww_acquire_done(struct gpuvm_ww_acquire_ctx *ctx);

/* End the transaction; every lock must have been released (warns). */
GPUVM_EXPORT void gpuvm_ww_acquire_fini(struct gpuvm_ww_acquire_ctx *ctx);

/**
 * gpuvm_ww_mutex_lock() - take @lock, as part of @ctx (may be NULL)
 *
 * Context: may block (uninterruptibly).
 * Return: 0; -EALREADY when @ctx already holds @lock; -EDEADLK when @ctx
 * must back off (only while it holds at least one lock): drop every lock,
 * then gpuvm_ww_mutex_lock_slow() the contended one. With a NULL @ctx it
 * is a plain mutex and returns 0.
 */
GPUVM_EXPORT int gpuvm_ww_mutex_lock(struct gpuvm_ww_mutex *lock,
				     struct gpuvm_ww_acquire_ctx *ctx);

/* As gpuvm_ww_mutex_lock(); an interrupted wait returns -EINTR. */
GPUVM_EXPORT int
gpuvm_ww_mutex_lock_interruptible(struct gpuvm_ww_mutex *lock,
				  struct gpuvm_ww_acquire_ctx *ctx);

/* Take the contended lock after backing off (@ctx holds nothing). */
GPUVM_EXPORT void gpuvm_ww_mutex_lock_slow(struct gpuvm_ww_mutex *lock,
					   struct gpuvm_ww_acquire_ctx *ctx);

/* Return: 0 or -EINTR. */
GPUVM_EXPORT int
gpuvm_ww_mutex_lock_slow_interruptible(struct gpuvm_ww_mutex *lock,
				       struct gpuvm_ww_acquire_ctx *ctx);

/**
 * gpuvm_ww_mutex_trylock() - take @lock if it is free
 * @ctx: may be NULL; when given, the lock counts as acquired through it
 * Return: true when acquired. Never blocks, never -EDEADLK.
 */
GPUVM_EXPORT bool gpuvm_ww_mutex_trylock(struct gpuvm_ww_mutex *lock,
					 struct gpuvm_ww_acquire_ctx *ctx);

GPUVM_EXPORT void gpuvm_ww_mutex_unlock(struct gpuvm_ww_mutex *lock);

/* Whether anybody holds @lock (a snapshot). */
GPUVM_EXPORT bool gpuvm_ww_mutex_is_locked(struct gpuvm_ww_mutex *lock);

/* Warn (GPUVM_RULE_LOCK_NOT_HELD, naming @func) unless the calling thread
 * holds @lock. */
GPUVM_EXPORT void gpuvm_ww_mutex_assert_held(struct gpuvm_ww_mutex *lock,
					     const char *func);

/**
 * gpuvm_ww_mutex_inject_deadlock() - make @ctx fail with -EDEADLK on its
 * lock attempts, every @interval acquisitions (0 turns it off)
 *
 * The userspace form of the kernel's DEBUG_WW_MUTEX_SLOWPATH: it exercises
 * the back-off paths deterministically in single-threaded tests.
 */
GPUVM_EXPORT void
gpuvm_ww_mutex_inject_deadlock(struct gpuvm_ww_acquire_ctx *ctx,
			       unsigned int interval);

GPUVM_END_DECLS

#endif /* GPUVM_WW_MUTEX_H */
