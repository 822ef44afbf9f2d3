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
 * Results are the kernel's: -EDEADLK only while the context holds a lock
 * (apart from a reported relock, see gpuvm_ww_mutex_lock()), -EALREADY
 * when the context already holds the lock, -EINTR for an interrupted
 * interruptible wait (see gpuvm_interrupt_thread()).
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
 *
 * "Does not allocate" below means no library allocation (gpuvm_kmalloc()):
 * the per-thread bookkeeping of the parkers and of the checker is plain
 * malloc, outside fault injection and the signalling-section rules.
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
 * @owner: 0 when free; otherwise the holder (a thread token, or the holding
 *	context tagged as such) plus a has-waiters flag (atomic)
 * @ctx: the holding context; NULL when unlocked or held without a context
 *	(atomic)
 * @waiters: the queued waiters, under @wait_lock
 * @ww_class: the class given to gpuvm_ww_mutex_init()
 * @wait_lock: protects @waiters and the decisions taken on them
 * @dep_map: the mutex as the debug checker knows it (the class's
 *	mutex_class)
 *
 * All fields are private to the implementation; use the functions. As in
 * the kernel, a context may compare @ctx with itself; other readers only
 * get a snapshot.
 */
struct gpuvm_ww_mutex {
	/* private: */
	uintptr_t owner;
	struct gpuvm_ww_acquire_ctx *ctx;
	struct gpuvm_list_head waiters;
	struct gpuvm_ww_class *ww_class;
	pthread_mutex_t wait_lock;
	struct gpuvm_lockdep_map dep_map;
};

/**
 * struct gpuvm_ww_acquire_ctx - one transaction
 * @task: token of the thread that started the context (private)
 * @stamp: the ticket; smaller is older; kept for every retry
 * @acquired: number of mutexes currently held through this context
 *	(atomic, written only by the owning thread)
 * @wounded: set when an older wound-wait transaction that holds locks
 *	waits for a lock this one holds (atomic, private)
 * @is_wait_die: the class's algorithm, copied at init (private)
 * @done_acquire: gpuvm_ww_acquire_done() or fini was called (private)
 * @finished: gpuvm_ww_acquire_fini() was called (private)
 * @ww_class: the class of the transaction (private)
 * @contending_lock: the lock of the last -EDEADLK, until the next
 *	acquisition through the context (private)
 * @parker: the owning thread's parker, woken to notice a wound (private)
 * @deadlock_inject_interval: deadlock injection interval, 0 when off
 *	(private; see gpuvm_ww_mutex_inject_deadlock())
 * @deadlock_inject_countdown: eligible acquisitions still let through
 *	before the next injected -EDEADLK (private)
 * @dep_map: the context as the checker knows it, a lock of the class's
 *	acquire_class (private)
 * @first_lock_dep_map: held for the context's whole life, it pins the
 *	class's mutex_class in the checker (private)
 *
 * Only @stamp and @acquired may be read by users (by the owning thread).
 * Usually on the stack of the thread that runs the transaction; it must
 * stay alive until the last mutex taken through it was unlocked and
 * gpuvm_ww_acquire_fini() was called.
 */
struct gpuvm_ww_acquire_ctx {
	/* private: */
	uintptr_t task;
	unsigned long stamp;
	unsigned int acquired;
	unsigned int wounded;
	bool is_wait_die;
	bool done_acquire;
	bool finished;
	struct gpuvm_ww_class *ww_class;
	struct gpuvm_ww_mutex *contending_lock;
	struct gpuvm_parker *parker;
	unsigned int deadlock_inject_interval;
	unsigned int deadlock_inject_countdown;
	struct gpuvm_lockdep_map dep_map;
	struct gpuvm_lockdep_map first_lock_dep_map;
};

/**
 * gpuvm_ww_mutex_init() - initialise @lock as a member of @ww_class
 * @lock: the mutex; must not be in use
 * @ww_class: its class; must outlive @lock
 *
 * The mutex starts unlocked; there is no static initialiser, and a
 * zero-filled mutex is not valid.
 * Context: any; does not block or allocate.
 */
GPUVM_EXPORT void gpuvm_ww_mutex_init(struct gpuvm_ww_mutex *lock,
				      struct gpuvm_ww_class *ww_class);

/**
 * gpuvm_ww_mutex_destroy() - end the life of @lock
 * @lock: an initialised mutex
 *
 * The mutex must be unlocked and nobody may wait for it. With the checker
 * on, destroying it while the calling thread holds it, or while another
 * thread holds or waits for it, is reported (GPUVM_RULE_DESTROY_HELD) and
 * leaves it intact, so the holder's unlock and the waiters stay defined
 * (destroy it again once it is free). With the checker off it is
 * destroyed unconditionally.
 * Context: any; does not block or allocate.
 */
GPUVM_EXPORT void gpuvm_ww_mutex_destroy(struct gpuvm_ww_mutex *lock);

/**
 * gpuvm_ww_acquire_init() - start a transaction of @ww_class
 * @ctx: the context to start; must not be live
 * @ww_class: the class of every mutex locked through @ctx
 *
 * Takes a ticket (stamp) from the class. One live context per class per
 * thread: with the checker on, a second one is reported
 * (GPUVM_RULE_RECURSIVE_LOCK). While @ctx is live, locking a mutex of the
 * class without it is reported as recursive locking too. The context must
 * be used and finished by the thread that started it. Deadlock injection
 * starts off.
 * Context: any; does not block or allocate. Allowed in a fence signalling
 * section (locking a reservation mutex through it is not).
 * Kernel parity: a kernel built with CONFIG_DEBUG_WW_MUTEX_SLOWPATH injects
 * back-offs from init on; here only gpuvm_ww_mutex_inject_deadlock() turns
 * injection on.
 */
GPUVM_EXPORT void gpuvm_ww_acquire_init(struct gpuvm_ww_acquire_ctx *ctx,
					struct gpuvm_ww_class *ww_class);

/**
 * gpuvm_ww_acquire_done() - mark the end of the acquire phase
 * @ctx: a live context
 *
 * Optional; documents that no more mutexes will be locked through @ctx.
 * With the checker on, locking through it afterwards
 * (GPUVM_RULE_WW_ACQUIRE_DONE), calling this twice
 * (GPUVM_RULE_WW_ACQUIRE_DONE_TWICE) or after fini
 * (GPUVM_RULE_WW_CTX_FINISHED) is reported.
 * Context: the thread owning @ctx; does not block or allocate.
 */
GPUVM_EXPORT void gpuvm_ww_acquire_done(struct gpuvm_ww_acquire_ctx *ctx);

/**
 * gpuvm_ww_acquire_fini() - end the transaction
 * @ctx: a live context
 *
 * Every mutex taken through @ctx must have been unlocked; a mutex still
 * held keeps using @ctx until its unlock. Once nothing is held through it,
 * the memory of @ctx may be reused. With the checker on, fini with locks
 * held (GPUVM_RULE_WW_ACQUIRE_FINI_HELD), a second fini
 * (GPUVM_RULE_WW_ACQUIRE_FINI_TWICE, which then does nothing) and locking
 * through a finished context (GPUVM_RULE_WW_CTX_FINISHED) are reported.
 * Context: the thread that started @ctx; does not block or allocate.
 */
GPUVM_EXPORT void gpuvm_ww_acquire_fini(struct gpuvm_ww_acquire_ctx *ctx);

/**
 * gpuvm_ww_mutex_lock() - take @lock, as part of @ctx
 * @lock: the mutex
 * @ctx: the transaction, or NULL to lock @lock alone (a plain mutex: no
 *	-EALREADY, no -EDEADLK from the wound/wait rules)
 *
 * After -EDEADLK, drop every lock held through @ctx, take the contended
 * one with gpuvm_ww_mutex_lock_slow() and go on with the same @ctx.
 * With the checker on, a mutex of a reservation class (GPUVM_LOCK_CLASS_RESV)
 * taken inside a fence signalling section is reported, and so are misuses
 * of @ctx (see the GPUVM_RULE_WW_* rules).
 * Context: may block, uninterruptibly; does not allocate. Not in a fence
 * signalling section for a reservation mutex.
 * Return: 0 when @lock was taken; -EALREADY when @ctx already holds @lock
 * (nothing changes); -EDEADLK when @ctx must back off, which only happens
 * while @ctx holds at least one other lock (contention with an older
 * transaction, or an injected back-off, see
 * gpuvm_ww_mutex_inject_deadlock()); with the checker on, also -EDEADLK
 * when the calling thread already holds @lock other than through @ctx
 * (reported as GPUVM_RULE_RECURSIVE_LOCK; nothing is taken). @lock is
 * held only on 0.
 * Kernel parity: relocking a mutex the thread holds returns -EDEADLK with a
 * report instead of deadlocking. A context that holds nothing forgets an
 * old wound on every attempt, also on the uncontended path (the non-debug
 * kernel skips that there and may back off once more than needed).
 */
GPUVM_EXPORT int gpuvm_ww_mutex_lock(struct gpuvm_ww_mutex *lock,
				     struct gpuvm_ww_acquire_ctx *ctx);

/**
 * gpuvm_ww_mutex_lock_interruptible() - as gpuvm_ww_mutex_lock(), but a
 * wait can be interrupted
 * @lock: the mutex
 * @ctx: the transaction, or NULL to lock @lock alone
 *
 * An interrupt is acted on only while the call has to wait: an
 * uncontended acquisition, or a lock that becomes free first, succeeds
 * and leaves a pending interrupt pending. The lock is never held after
 * -EINTR.
 * Context: may block until gpuvm_interrupt_thread() interrupts the wait;
 * does not allocate. Not in a fence signalling section for a reservation
 * mutex.
 * Return: as gpuvm_ww_mutex_lock(), plus -EINTR when the wait was
 * interrupted (the interrupt is then consumed).
 * Kernel parity: interrupts come from gpuvm_interrupt_thread(), not from
 * signals; otherwise as gpuvm_ww_mutex_lock().
 */
GPUVM_EXPORT int
gpuvm_ww_mutex_lock_interruptible(struct gpuvm_ww_mutex *lock,
				  struct gpuvm_ww_acquire_ctx *ctx);

/**
 * gpuvm_ww_mutex_lock_slow() - take the contended lock after backing off
 * @lock: the mutex the last -EDEADLK of @ctx was about
 * @ctx: the transaction; holds no lock any more
 *
 * Call after -EDEADLK on @lock, once every mutex of @ctx was unlocked;
 * since @ctx then holds nothing this waits instead of failing. With the
 * checker on, calling it without a preceding -EDEADLK, or with a NULL
 * @ctx, is reported (GPUVM_RULE_WW_SLOW_WITHOUT_DEADLOCK). The result of
 * the inner lock is dropped, as in the kernel: after misuse it can return
 * without taking @lock (the thread holds @lock other than through @ctx, or
 * @ctx still holds other locks and gets a wound/wait or injected
 * back-off).
 * Context: may block, uninterruptibly; does not allocate. Not in a fence
 * signalling section for a reservation mutex.
 */
GPUVM_EXPORT void gpuvm_ww_mutex_lock_slow(struct gpuvm_ww_mutex *lock,
					   struct gpuvm_ww_acquire_ctx *ctx);

/**
 * gpuvm_ww_mutex_lock_slow_interruptible() - as gpuvm_ww_mutex_lock_slow(),
 * but the wait can be interrupted
 * @lock: the mutex the last -EDEADLK of @ctx was about
 * @ctx: the transaction; holds no lock any more
 *
 * Context: may block until gpuvm_interrupt_thread() interrupts the wait;
 * does not allocate. Not in a fence signalling section for a reservation
 * mutex.
 * Return: 0 when @lock was taken; -EINTR when the wait was interrupted
 * (@lock not taken). On misuse also -EALREADY (@ctx already holds @lock)
 * or -EDEADLK (the cases listed at gpuvm_ww_mutex_lock_slow()).
 */
GPUVM_EXPORT int
gpuvm_ww_mutex_lock_slow_interruptible(struct gpuvm_ww_mutex *lock,
				       struct gpuvm_ww_acquire_ctx *ctx);

/**
 * gpuvm_ww_mutex_trylock() - take @lock if it is free
 * @lock: the mutex
 * @ctx: may be NULL; when given, the lock counts as acquired through it
 *
 * Never -EDEADLK; a lock @ctx already holds is simply not taken again
 * (false, not -EALREADY). With @ctx, the context checks of
 * gpuvm_ww_mutex_lock() apply.
 * Context: never waits for a holder (only for the lock's internal wait
 * lock, briefly); does not allocate. With the checker on, a trylock of a
 * reservation mutex inside a fence signalling section is reported too.
 * Return: true when acquired; false when anybody, the calling thread
 * included, holds @lock.
 * Kernel parity: returns bool where the kernel returns int 1 or 0.
 */
GPUVM_EXPORT bool gpuvm_ww_mutex_trylock(struct gpuvm_ww_mutex *lock,
					 struct gpuvm_ww_acquire_ctx *ctx);

/**
 * gpuvm_ww_mutex_unlock() - release @lock
 * @lock: a mutex the calling thread holds
 *
 * Wakes the first waiter, if any. A context the lock was taken through
 * must still be alive (its count of held locks goes down).
 * Context: the thread that locked @lock; never waits for another holder;
 * does not allocate; allowed in a fence signalling section.
 * Kernel parity: with the checker on, an unlock of a mutex the thread does
 * not hold is reported (GPUVM_RULE_WW_UNLOCK_UNHELD) and ignored; with the
 * checker off it is undefined, as in the kernel.
 */
GPUVM_EXPORT void gpuvm_ww_mutex_unlock(struct gpuvm_ww_mutex *lock);

/**
 * gpuvm_ww_mutex_is_locked() - whether anybody holds @lock
 * @lock: the mutex
 *
 * Context: any; lock-free.
 * Return: a snapshot: true when some thread or context held @lock at the
 * time of the read.
 */
GPUVM_EXPORT bool gpuvm_ww_mutex_is_locked(struct gpuvm_ww_mutex *lock);

/**
 * gpuvm_ww_mutex_assert_held() - report unless the calling thread holds
 * @lock
 * @lock: the mutex
 * @func: the caller's name, for the report
 *
 * Warns GPUVM_RULE_LOCK_NOT_HELD, naming @func. Does nothing with the
 * checker off.
 * Context: any; does not block or allocate.
 */
GPUVM_EXPORT void gpuvm_ww_mutex_assert_held(struct gpuvm_ww_mutex *lock,
					     const char *func);

GPUVM_END_DECLS

#endif /* GPUVM_WW_MUTEX_H */
