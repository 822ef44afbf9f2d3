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
 * preceding -EDEADLK, ...) is reported by the debug checker with one of
 * the GPUVM_RULE_WW_* rules below, and the call then carries on as the
 * kernel would, unless that would hang or crash.
 *
 * Debug checker integration: a held mutex is a lock of the class's
 * mutex_class; a live acquire context is held as a lock of the class's
 * acquire_class (two live contexts of one class in a thread are reported
 * as recursive locking) and also pins the mutex class, so locking a mutex
 * of the class without the context is reported too. Switching the checker
 * on or off while ww_mutexes or contexts are held is not supported.
 *
 * Cost with the checker off: an uncontended lock and an uncontended unlock
 * are one atomic instruction each.
 */
#ifndef GPUVM_WW_MUTEX_H
#define GPUVM_WW_MUTEX_H

#include <pthread.h>

#include <gpuvm/common.h>
#include <gpuvm/debug.h>
#include <gpuvm/list.h>

GPUVM_BEGIN_DECLS

/* Rules reported by the ww_mutex debug checks. */
#define GPUVM_RULE_WW_ACQUIRE_DONE "ww-lock-after-acquire-done"
#define GPUVM_RULE_WW_ACQUIRE_DONE_TWICE "ww-acquire-done-twice"
#define GPUVM_RULE_WW_ACQUIRE_FINI_HELD "ww-acquire-fini-held"
#define GPUVM_RULE_WW_ACQUIRE_FINI_TWICE "ww-acquire-fini-twice"
#define GPUVM_RULE_WW_CTX_FINISHED "ww-ctx-used-after-fini"
#define GPUVM_RULE_WW_CTX_THREAD "ww-ctx-wrong-thread"
#define GPUVM_RULE_WW_CLASS_MISMATCH "ww-class-mismatch"
#define GPUVM_RULE_WW_CONTENDED "ww-contended-discipline"
#define GPUVM_RULE_WW_SLOW_WITHOUT_DEADLOCK "ww-slow-without-deadlock"
#define GPUVM_RULE_WW_UNLOCK_UNHELD "ww-unlock-unheld"
#define GPUVM_RULE_WW_ACQUIRED_UNDERFLOW "ww-acquired-underflow"

struct gpuvm_ww_acquire_ctx;
struct gpuvm_parker;

/**
 * struct gpuvm_ww_class - a family of ww_mutexes locked together
 * @stamp: ticket counter (atomic); the first context gets ticket 1
 * @is_wait_die: true for wait-die, false for wound-wait
 * @name: for reports
 * @mutex_class: checker class of the mutexes
 * @acquire_class: checker class of the acquire contexts
 *
 * Normally a static object made with GPUVM_DEFINE_WW_CLASS() or
 * GPUVM_DEFINE_WD_CLASS(); it must outlive every mutex and context of it.
 */
struct gpuvm_ww_class {
	unsigned long stamp;
	bool is_wait_die;
	const char *name;
	struct gpuvm_lock_class mutex_class;
	struct gpuvm_lock_class acquire_class;
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

/**
 * struct gpuvm_ww_mutex - a wound/wait mutex
 *
 * All fields are private to the implementation; use the functions. @ctx
 * is the holding context (NULL when unlocked or held without a context),
 * as in the kernel: a context may compare it with itself, other readers
 * only get a snapshot.
 */
struct gpuvm_ww_mutex {
	/* private: */
	uintptr_t owner; /* atomic: 0, or holder (thread or ctx) | flags */
	struct gpuvm_ww_acquire_ctx *ctx; /* atomic */
	struct gpuvm_list_head waiters; /* under wait_lock */
	struct gpuvm_ww_class *ww_class;
	pthread_mutex_t wait_lock;
	struct gpuvm_lockdep_map dep_map;
};

/**
 * struct gpuvm_ww_acquire_ctx - one transaction
 * @stamp: the ticket; smaller is older; kept for every retry
 * @acquired: number of mutexes currently held through this context
 *
 * Only @stamp and @acquired may be read by users (by the owning thread);
 * everything else is private. Usually on the stack of the thread that
 * runs the transaction; it must stay alive until the last mutex taken
 * through it was unlocked and gpuvm_ww_acquire_fini() was called.
 */
struct gpuvm_ww_acquire_ctx {
	/* private: */
	uintptr_t task; /* owning thread's token */
	unsigned long stamp;
	unsigned int acquired; /* atomic; written by the owning thread */
	unsigned int wounded; /* atomic; wound-wait only */
	bool is_wait_die;
	bool done_acquire;
	bool finished;
	struct gpuvm_ww_class *ww_class;
	struct gpuvm_ww_mutex *contending_lock; /* set by -EDEADLK */
	struct gpuvm_parker *parker; /* woken to notice a wound */
	unsigned int deadlock_inject_interval; /* 0: no injection */
	unsigned int deadlock_inject_countdown;
	struct gpuvm_lockdep_map dep_map; /* the context, acquire_class */
	struct gpuvm_lockdep_map first_lock_dep_map; /* pins mutex_class */
};

/**
 * gpuvm_ww_mutex_init() - initialise @lock as a member of @ww_class
 *
 * Context: any. The mutex starts unlocked; there is no static
 * initialiser, and a zero-filled mutex is not valid.
 */
GPUVM_EXPORT void gpuvm_ww_mutex_init(struct gpuvm_ww_mutex *lock,
				      struct gpuvm_ww_class *ww_class);

/**
 * gpuvm_ww_mutex_destroy() - end the life of @lock
 *
 * The mutex must be unlocked and nobody may wait for it; destroying a
 * locked mutex is reported (GPUVM_RULE_DESTROY_HELD).
 */
GPUVM_EXPORT void gpuvm_ww_mutex_destroy(struct gpuvm_ww_mutex *lock);

/**
 * gpuvm_ww_acquire_init() - start a transaction of @ww_class
 *
 * Takes a ticket (stamp) from the class. One live context per class per
 * thread; the context must be used and finished by the thread that
 * started it. Context: any; does not block.
 */
GPUVM_EXPORT void gpuvm_ww_acquire_init(struct gpuvm_ww_acquire_ctx *ctx,
					struct gpuvm_ww_class *ww_class);

/**
 * gpuvm_ww_acquire_done() - mark the end of the acquire phase
 *
 * Optional; documents that no more mutexes will be locked through @ctx.
 * Locking through it afterwards, or calling this twice, is reported.
 */
GPUVM_EXPORT void gpuvm_ww_acquire_done(struct gpuvm_ww_acquire_ctx *ctx);

/**
 * gpuvm_ww_acquire_fini() - end the transaction
 *
 * Every mutex taken through @ctx must have been unlocked (reported
 * otherwise, GPUVM_RULE_WW_ACQUIRE_FINI_HELD); a second fini is reported.
 * The memory of @ctx may be reused afterwards.
 */
GPUVM_EXPORT void gpuvm_ww_acquire_fini(struct gpuvm_ww_acquire_ctx *ctx);

/**
 * gpuvm_ww_mutex_lock() - take @lock, as part of @ctx (may be NULL)
 *
 * Context: may block (uninterruptibly).
 * Return: 0; -EALREADY when @ctx already holds @lock (nothing changes);
 * -EDEADLK when @ctx must back off (only while it holds at least one
 * lock): drop every lock, then gpuvm_ww_mutex_lock_slow() the contended
 * one and keep using @ctx. With a NULL @ctx it is a plain mutex and
 * returns 0, except that with the debug checker on, relocking a mutex the
 * thread already holds is reported (GPUVM_RULE_RECURSIVE_LOCK) and
 * returns -EDEADLK instead of hanging.
 */
GPUVM_EXPORT int gpuvm_ww_mutex_lock(struct gpuvm_ww_mutex *lock,
				     struct gpuvm_ww_acquire_ctx *ctx);

/**
 * gpuvm_ww_mutex_lock_interruptible() - as gpuvm_ww_mutex_lock(), but a
 * wait interrupted by gpuvm_interrupt_thread() returns -EINTR
 *
 * An uncontended acquisition succeeds even with an interrupt pending (it
 * stays pending). The lock is never returned taken with -EINTR.
 */
GPUVM_EXPORT int
gpuvm_ww_mutex_lock_interruptible(struct gpuvm_ww_mutex *lock,
				  struct gpuvm_ww_acquire_ctx *ctx);

/**
 * gpuvm_ww_mutex_lock_slow() - take the contended lock after backing off
 *
 * Call after -EDEADLK on @lock, once every mutex of @ctx was unlocked;
 * since @ctx then holds nothing this waits instead of failing. Calling it
 * without a preceding -EDEADLK is reported. Context: may block.
 */
GPUVM_EXPORT void gpuvm_ww_mutex_lock_slow(struct gpuvm_ww_mutex *lock,
					   struct gpuvm_ww_acquire_ctx *ctx);

/* As gpuvm_ww_mutex_lock_slow(). Return: 0 or -EINTR. */
GPUVM_EXPORT int
gpuvm_ww_mutex_lock_slow_interruptible(struct gpuvm_ww_mutex *lock,
				       struct gpuvm_ww_acquire_ctx *ctx);

/**
 * gpuvm_ww_mutex_trylock() - take @lock if it is free
 * @ctx: may be NULL; when given, the lock counts as acquired through it
 *
 * Never blocks, never -EDEADLK; a lock @ctx already holds is simply not
 * taken again (false, not -EALREADY).
 * Return: true when acquired.
 */
GPUVM_EXPORT bool gpuvm_ww_mutex_trylock(struct gpuvm_ww_mutex *lock,
					 struct gpuvm_ww_acquire_ctx *ctx);

/**
 * gpuvm_ww_mutex_unlock() - release @lock
 *
 * Must be called by the thread that locked it (the checker reports and
 * ignores an unlock of a mutex the thread does not hold,
 * GPUVM_RULE_WW_UNLOCK_UNHELD). Wakes the first waiter, if any.
 */
GPUVM_EXPORT void gpuvm_ww_mutex_unlock(struct gpuvm_ww_mutex *lock);

/* Whether anybody holds @lock (a snapshot). */
GPUVM_EXPORT bool gpuvm_ww_mutex_is_locked(struct gpuvm_ww_mutex *lock);

/* Warn (GPUVM_RULE_LOCK_NOT_HELD, naming @func) unless the calling thread
 * holds @lock. Does nothing with the checker off. */
GPUVM_EXPORT void gpuvm_ww_mutex_assert_held(struct gpuvm_ww_mutex *lock,
					     const char *func);

GPUVM_END_DECLS

#endif /* GPUVM_WW_MUTEX_H */
