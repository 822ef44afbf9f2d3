// SPDX-License-Identifier: MIT
/*
 * Wound/wait mutexes on pthreads: a per-lock wait lock and wait queue, and
 * the per-thread parker to sleep on.
 *
 * The owner word holds who has the lock and one flag:
 *  - 0: free, nobody queued;
 *  - a thread token (context-less holder) or a context pointer with
 *    WW_OWNER_CTX set (holder through a context);
 *  - WW_HAS_WAITERS: the queue is not empty. It is set and cleared only
 *    under the wait lock, and makes every fast path fail.
 * An uncontended lock is one compare-and-swap 0 -> holder, an uncontended
 * unlock one compare-and-swap holder -> 0. Once WW_HAS_WAITERS is set,
 * the owner changes only under the wait lock; so a thread holding the
 * wait lock of a lock with waiters may look at the holder's context: the
 * holder cannot release the lock (and free its context) meanwhile.
 *
 * Because the holder's context is in the owner word, an acquisition and a
 * newly queued waiter see each other through that one word: a fast path
 * that succeeds saw no waiter (so there is nobody to wound it or to die),
 * and a waiter that queues after it reads its context from the word. The
 * kernel needs a full barrier on both sides for the same guarantee.
 *
 * Sleeping follows the parker rule: snapshot, evaluate under the wait
 * lock, park with the snapshot. Wake-ups are issued under the wait lock
 * through which the sleeper was found, so the sleeper cannot be gone.
 */
#include <errno.h>
#include <limits.h>

#include <gpuvm/ww_mutex.h>

#include "parker.h"
#include "ww_mutex_internal.h"

#define WW_HAS_WAITERS ((uintptr_t)1)
#define WW_OWNER_CTX ((uintptr_t)2)
#define WW_HOLDER_MASK (~WW_HAS_WAITERS)

#define READ_RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define WRITE_RELAXED(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* A blocked acquisition; lives on the waiting thread's stack. */
struct ww_waiter {
	struct gpuvm_list_head node; /* in lock->waiters, under wait_lock */
	struct gpuvm_ww_acquire_ctx *ctx; /* NULL: context-less */
	struct gpuvm_parker *parker;
};

/* Its address identifies the thread; initial-exec keeps it one load. */
static __thread uint64_t thread_anchor
	__attribute__((tls_model("initial-exec")));

static inline uintptr_t self_token(void)
{
	return (uintptr_t)&thread_anchor;
}

static inline uintptr_t holder_value(struct gpuvm_ww_acquire_ctx *ctx)
{
	return ctx ? (uintptr_t)ctx | WW_OWNER_CTX : self_token();
}

static inline struct gpuvm_ww_acquire_ctx *holder_ctx(uintptr_t owner)
{
	if (!(owner & WW_OWNER_CTX))
		return NULL;
	return (struct gpuvm_ww_acquire_ctx *)(owner & ~(WW_OWNER_CTX |
							 WW_HAS_WAITERS));
}

/* @a has the later ticket (wrap-safe). */
static inline bool ww_younger(const struct gpuvm_ww_acquire_ctx *a,
			      const struct gpuvm_ww_acquire_ctx *b)
{
	return (long)(a->stamp - b->stamp) > 0;
}

static inline unsigned int ww_acquired(struct gpuvm_ww_acquire_ctx *ctx)
{
	return READ_RELAXED(&ctx->acquired);
}

static const char *lock_name(const struct gpuvm_ww_mutex *lock)
{
	return lock->dep_map.name;
}

/* ---- test hooks -------------------------------------------------------- */

unsigned int gpuvm_ww_mutex_waiters__(struct gpuvm_ww_mutex *lock,
				      struct gpuvm_ww_acquire_ctx **ctxs,
				      unsigned int max)
{
	struct ww_waiter *w;
	unsigned int n = 0;

	pthread_mutex_lock(&lock->wait_lock);
	gpuvm_list_for_each_entry(w, &lock->waiters, node) {
		if (n < max)
			ctxs[n] = w->ctx;
		n++;
	}
	pthread_mutex_unlock(&lock->wait_lock);
	return n;
}

unsigned int gpuvm_ww_mutex_waiter_count__(struct gpuvm_ww_mutex *lock)
{
	return gpuvm_ww_mutex_waiters__(lock, NULL, 0);
}

bool gpuvm_ww_ctx_wounded__(struct gpuvm_ww_acquire_ctx *ctx)
{
	return READ_RELAXED(&ctx->wounded) != 0;
}

/* ---- debug checks ------------------------------------------------------ */

/* Checks on recording an acquisition through @ctx; before the update. */
static void ww_debug_acquired(struct gpuvm_ww_mutex *lock,
			      struct gpuvm_ww_acquire_ctx *ctx,
			      const char *func)
{
	if (ctx->finished)
		gpuvm_warn(GPUVM_RULE_WW_CTX_FINISHED,
			   "%s: locking '%s' through a finished acquire "
			   "context",
			   func, lock_name(lock));
	else if (ctx->done_acquire)
		gpuvm_warn(GPUVM_RULE_WW_ACQUIRE_DONE,
			   "%s: locking '%s' after gpuvm_ww_acquire_done()",
			   func, lock_name(lock));

	if (ctx->contending_lock && ctx->contending_lock != lock)
		gpuvm_warn(GPUVM_RULE_WW_CONTENDED,
			   "%s: locking '%s' after -EDEADLK, before the "
			   "contended lock %p",
			   func, lock_name(lock), (void *)ctx->contending_lock);
	else if (ctx->contending_lock && ww_acquired(ctx))
		gpuvm_warn(GPUVM_RULE_WW_CONTENDED,
			   "%s: locking contended '%s' while still holding %u "
			   "lock(s); everything must be dropped after -EDEADLK",
			   func, lock_name(lock), ww_acquired(ctx));

	if (ctx->ww_class != lock->ww_class)
		gpuvm_warn(GPUVM_RULE_WW_CLASS_MISMATCH,
			   "%s: '%s' of class '%s' locked through an acquire "
			   "context of class '%s'",
			   func, lock_name(lock), lock->ww_class->name,
			   ctx->ww_class->name);
}

/*
 * Checker side of a lock attempt, before it can block (so a recursion is
 * reported rather than hung on). Return: -EDEADLK when the thread already
 * holds @lock: waiting for ourselves would never end.
 */
static int ww_debug_lock_begin(struct gpuvm_ww_mutex *lock,
			       struct gpuvm_ww_acquire_ctx *ctx, const void *ip,
			       const char *func)
{
	bool held;

	if (ctx && ctx->task != self_token())
		gpuvm_warn(GPUVM_RULE_WW_CTX_THREAD,
			   "%s: locking '%s' through an acquire context that "
			   "another thread started",
			   func, lock_name(lock));

	held = gpuvm_lock_is_held(&lock->dep_map);
	gpuvm_lock_acquire(&lock->dep_map, ctx ? GPUVM_LOCK_ACQ_NEST : 0, ip);
	if (!held)
		return 0;
	gpuvm_lock_release(&lock->dep_map, func);
	return -EDEADLK;
}

/* ---- decisions (wait lock held) ---------------------------------------- */

static int ww_kill(struct gpuvm_ww_mutex *lock,
		   struct gpuvm_ww_acquire_ctx *ctx, const char *func)
{
	if (ctx->contending_lock && gpuvm_debug_active())
		gpuvm_warn(GPUVM_RULE_WW_CONTENDED,
			   "%s: -EDEADLK on '%s' while the back-off from the "
			   "previous -EDEADLK (lock %p) is still pending",
			   func, lock_name(lock), (void *)ctx->contending_lock);
	ctx->contending_lock = lock;
	return -EDEADLK;
}

/*
 * A new holder (@ctx) looks at the queue: under wait-die a younger first
 * context waiter that holds locks must die, so wake it; under wound-wait
 * an older waiter that holds locks wounds the new holder.
 */
static void ww_scan_waiters(struct gpuvm_ww_mutex *lock,
			    struct gpuvm_ww_acquire_ctx *ctx)
{
	struct ww_waiter *x;

	gpuvm_list_for_each_entry(x, &lock->waiters, node) {
		if (!x->ctx)
			continue;
		if (ctx->is_wait_die) {
			if (ww_acquired(x->ctx) && ww_younger(x->ctx, ctx))
				gpuvm_parker_unpark(x->parker);
			return;
		}
		if (ww_acquired(x->ctx) && ww_younger(ctx, x->ctx)) {
			WRITE_RELAXED(&ctx->wounded, 1);
			return;
		}
	}
}

static inline void ww_mark_acquired(struct gpuvm_ww_mutex *lock,
				    struct gpuvm_ww_acquire_ctx *ctx,
				    bool debug, const char *func)
{
	if (unlikely(debug))
		ww_debug_acquired(lock, ctx, func);
	if (unlikely(ctx->contending_lock != NULL))
		ctx->contending_lock = NULL;
	WRITE_RELAXED(&ctx->acquired, ww_acquired(ctx) + 1);
	WRITE_RELAXED(&lock->ctx, ctx);
}

/* Took @lock under the wait lock. */
static void ww_acquired_locked(struct gpuvm_ww_mutex *lock,
			       struct gpuvm_ww_acquire_ctx *ctx, bool debug,
			       const char *func)
{
	ww_mark_acquired(lock, ctx, debug, func);
	if (!gpuvm_list_empty(&lock->waiters))
		ww_scan_waiters(lock, ctx);
}

/* Take @lock if nobody holds it, keeping the waiters flag. */
static bool ww_try_take(struct gpuvm_ww_mutex *lock, uintptr_t me)
{
	uintptr_t v = READ_RELAXED(&lock->owner);

	while (!(v & WW_HOLDER_MASK)) {
		if (__atomic_compare_exchange_n(&lock->owner, &v, v | me, true,
						__ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			return true;
	}
	return false;
}

/* Wound-wait: the new waiter @ctx wounds a younger holder. */
static void ww_wound_holder(struct gpuvm_ww_mutex *lock,
			    struct gpuvm_ww_acquire_ctx *ctx, uintptr_t owner,
			    struct gpuvm_parker *self)
{
	struct gpuvm_ww_acquire_ctx *holder = holder_ctx(owner);

	/* A waiter holding nothing cannot be part of a cycle. */
	if (!holder || !ww_acquired(ctx) || !ww_younger(holder, ctx))
		return;
	WRITE_RELAXED(&holder->wounded, 1);
	if (holder->parker != self)
		gpuvm_parker_unpark(holder->parker);
}

/*
 * Queue @w. Context-less waiters go to the tail; a context waiter goes
 * in front of the younger context waiters it reaches from the tail.
 * Return: -EDEADLK for a wait-die context that holds locks and finds an
 * older context queued (nothing is queued then).
 */
static int ww_enqueue(struct gpuvm_ww_mutex *lock, struct ww_waiter *w,
		      struct gpuvm_ww_acquire_ctx *ctx, const char *func)
{
	struct gpuvm_list_head *pos = &lock->waiters, *it;
	uintptr_t owner;

	for (it = lock->waiters.prev; ctx && it != &lock->waiters;
	     it = it->prev) {
		struct ww_waiter *x =
			gpuvm_list_entry(it, struct ww_waiter, node);

		if (!x->ctx)
			continue;
		if (ww_younger(ctx, x->ctx)) {
			/* It would have to die as soon as x got the lock. */
			if (ctx->is_wait_die && ww_acquired(ctx))
				return ww_kill(lock, ctx, func);
			break;
		}
		pos = it;
		/* An older transaction now queues ahead of x: x must die. */
		if (ctx->is_wait_die && ww_acquired(x->ctx))
			gpuvm_parker_unpark(x->parker);
	}
	gpuvm_list_add_tail(&w->node, pos);

	owner = __atomic_or_fetch(&lock->owner, WW_HAS_WAITERS,
				  __ATOMIC_SEQ_CST);
	if (ctx && !ctx->is_wait_die)
		ww_wound_holder(lock, ctx, owner, w->parker);
	return 0;
}

/*
 * Clearing the flag lets the holder unlock without the wait lock; the
 * release pairs with the acquire of that unlock, so what we read of the
 * holder's context under the wait lock is ordered before the holder
 * reuses it.
 */
static void ww_dequeue(struct gpuvm_ww_mutex *lock, struct ww_waiter *w)
{
	gpuvm_list_del(&w->node);
	if (gpuvm_list_empty(&lock->waiters))
		__atomic_fetch_and(&lock->owner, ~WW_HAS_WAITERS,
				   __ATOMIC_RELEASE);
}

/* Must the waiting @ctx back off now? */
static int ww_check_kill(struct gpuvm_ww_mutex *lock, struct ww_waiter *w,
			 struct gpuvm_ww_acquire_ctx *ctx, const char *func)
{
	struct gpuvm_ww_acquire_ctx *holder;
	struct gpuvm_list_head *it;

	if (!ww_acquired(ctx))
		return 0;
	if (!ctx->is_wait_die)
		return READ_RELAXED(&ctx->wounded) ? ww_kill(lock, ctx, func) :
						     0;

	holder = holder_ctx(__atomic_load_n(&lock->owner, __ATOMIC_ACQUIRE));
	if (holder && ww_younger(ctx, holder))
		return ww_kill(lock, ctx, func);
	/* Context waiters ahead of us are older (queue order). */
	for (it = w->node.prev; it != &lock->waiters; it = it->prev)
		if (gpuvm_list_entry(it, struct ww_waiter, node)->ctx)
			return ww_kill(lock, ctx, func);
	return 0;
}

/* ---- lock -------------------------------------------------------------- */

static int ww_lock_slowpath(struct gpuvm_ww_mutex *lock,
			    struct gpuvm_ww_acquire_ctx *ctx,
			    bool interruptible, bool debug, const char *func)
{
	struct gpuvm_parker *self = gpuvm_parker_self();
	uintptr_t me = holder_value(ctx);
	struct ww_waiter w = { .ctx = ctx, .parker = self };
	bool interrupted = false, overtook;
	unsigned int snapshot;
	int ret = 0;

	pthread_mutex_lock(&lock->wait_lock);
	if (ww_try_take(lock, me)) {
		if (ctx)
			ww_acquired_locked(lock, ctx, debug, func);
		goto out_unlock;
	}

	ret = ww_enqueue(lock, &w, ctx, func);
	if (ret)
		goto out_unlock;

	for (;;) {
		snapshot = gpuvm_parker_snapshot(self);
		/* First: a lock released to us is never dropped by an error. */
		if (ww_try_take(lock, me))
			break;
		if (interruptible &&
		    (interrupted || gpuvm_parker_take_interrupt(self))) {
			interrupted = false;
			ret = -EINTR;
			goto out_dequeue;
		}
		if (ctx) {
			ret = ww_check_kill(lock, &w, ctx, func);
			if (ret)
				goto out_dequeue;
		}
		pthread_mutex_unlock(&lock->wait_lock);
		if (gpuvm_parker_park(self, snapshot, interruptible, NULL) ==
		    -EINTR)
			interrupted = true;
		pthread_mutex_lock(&lock->wait_lock);
	}

	/*
	 * Taken from the queue. Only a wound-wait context that got it ahead
	 * of earlier waiters can have an older waiter behind it that holds
	 * locks (which then wounds it); under wait-die such waiters were
	 * woken to die when they fell behind an older one.
	 */
	overtook = lock->waiters.next != &w.node;
	ww_dequeue(lock, &w);
	if (ctx) {
		ww_mark_acquired(lock, ctx, debug, func);
		if (!ctx->is_wait_die && overtook)
			ww_scan_waiters(lock, ctx);
	}
	goto out_unlock;

out_dequeue:
	ww_dequeue(lock, &w);
out_unlock:
	pthread_mutex_unlock(&lock->wait_lock);
	/* The park consumed an interrupt we did not act on: leave it set. */
	if (interrupted)
		gpuvm_interrupt_thread(pthread_self());
	return ret;
}

/* Undo a successful acquisition now and then (DEBUG_WW_MUTEX_SLOWPATH). */
static int ww_maybe_inject(struct gpuvm_ww_mutex *lock,
			   struct gpuvm_ww_acquire_ctx *ctx)
{
	unsigned int t;

	if (ww_acquired(ctx) < 2)
		return 0;
	if (ctx->deadlock_inject_countdown) {
		ctx->deadlock_inject_countdown--;
		return 0;
	}
	t = ctx->deadlock_inject_interval;
	t = t > UINT_MAX / 4 ? UINT_MAX : t * 2 + t + t / 2;
	ctx->deadlock_inject_interval = t;
	ctx->deadlock_inject_countdown = t - 1;
	gpuvm_ww_mutex_unlock(lock);
	ctx->contending_lock = lock;
	return -EDEADLK;
}

static inline __attribute__((always_inline)) int
ww_lock_common(struct gpuvm_ww_mutex *lock, struct gpuvm_ww_acquire_ctx *ctx,
	       bool interruptible, const void *ip, const char *func)
{
	uintptr_t expected = 0;
	bool debug;
	int ret;

	gpuvm_sched_point(GPUVM_SCHED_LOCK, lock);
	if (ctx) {
		if (unlikely(READ_RELAXED(&lock->ctx) == ctx))
			return -EALREADY;
		/* Holding nothing, it is in no cycle: forget old wounds. */
		if (!ww_acquired(ctx))
			WRITE_RELAXED(&ctx->wounded, 0);
	}

	debug = gpuvm_debug_active();
	if (unlikely(debug)) {
		ret = ww_debug_lock_begin(lock, ctx, ip, func);
		if (ret)
			return ret;
	}

	if (likely(__atomic_compare_exchange_n(
		    &lock->owner, &expected, holder_value(ctx), false,
		    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))) {
		/* Nobody was queued, so there is nobody to scan. */
		if (ctx)
			ww_mark_acquired(lock, ctx, debug, func);
		ret = 0;
	} else {
		ret = ww_lock_slowpath(lock, ctx, interruptible, debug, func);
	}

	if (unlikely(debug) && ret)
		gpuvm_lock_release(&lock->dep_map, func);
	if (ctx && !ret && unlikely(ctx->deadlock_inject_interval))
		ret = ww_maybe_inject(lock, ctx);
	return ret;
}

GPUVM_EXPORT int gpuvm_ww_mutex_lock(struct gpuvm_ww_mutex *lock,
				     struct gpuvm_ww_acquire_ctx *ctx)
{
	return ww_lock_common(lock, ctx, false, GPUVM_RET_IP,
			      "gpuvm_ww_mutex_lock");
}

GPUVM_EXPORT int
gpuvm_ww_mutex_lock_interruptible(struct gpuvm_ww_mutex *lock,
				  struct gpuvm_ww_acquire_ctx *ctx)
{
	return ww_lock_common(lock, ctx, true, GPUVM_RET_IP,
			      "gpuvm_ww_mutex_lock_interruptible");
}

static void ww_check_slow(struct gpuvm_ww_mutex *lock,
			  struct gpuvm_ww_acquire_ctx *ctx, const char *func)
{
	if (!gpuvm_debug_active())
		return;
	if (!ctx)
		gpuvm_warn(GPUVM_RULE_WW_SLOW_WITHOUT_DEADLOCK,
			   "%s: '%s' slow-locked without an acquire context",
			   func, lock_name(lock));
	else if (!ctx->contending_lock)
		gpuvm_warn(GPUVM_RULE_WW_SLOW_WITHOUT_DEADLOCK,
			   "%s: '%s' slow-locked without a preceding -EDEADLK",
			   func, lock_name(lock));
}

GPUVM_EXPORT void gpuvm_ww_mutex_lock_slow(struct gpuvm_ww_mutex *lock,
					   struct gpuvm_ww_acquire_ctx *ctx)
{
	ww_check_slow(lock, ctx, "gpuvm_ww_mutex_lock_slow");
	(void)ww_lock_common(lock, ctx, false, GPUVM_RET_IP,
			     "gpuvm_ww_mutex_lock_slow");
}

GPUVM_EXPORT int
gpuvm_ww_mutex_lock_slow_interruptible(struct gpuvm_ww_mutex *lock,
				       struct gpuvm_ww_acquire_ctx *ctx)
{
	ww_check_slow(lock, ctx, "gpuvm_ww_mutex_lock_slow_interruptible");
	return ww_lock_common(lock, ctx, true, GPUVM_RET_IP,
			      "gpuvm_ww_mutex_lock_slow_interruptible");
}

GPUVM_EXPORT bool gpuvm_ww_mutex_trylock(struct gpuvm_ww_mutex *lock,
					 struct gpuvm_ww_acquire_ctx *ctx)
{
	static const char func[] = "gpuvm_ww_mutex_trylock";
	uintptr_t me = holder_value(ctx), expected = 0;
	bool debug = gpuvm_debug_active();

	gpuvm_sched_point(GPUVM_SCHED_LOCK, lock);
	if (ctx) {
		if (!ww_acquired(ctx))
			WRITE_RELAXED(&ctx->wounded, 0);
		if (unlikely(debug) && ctx->task != self_token())
			gpuvm_warn(GPUVM_RULE_WW_CTX_THREAD,
				   "%s: locking '%s' through an acquire "
				   "context that another thread started",
				   func, lock_name(lock));
	}

	if (__atomic_compare_exchange_n(&lock->owner, &expected, me, false,
					__ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
		if (ctx)
			ww_mark_acquired(lock, ctx, debug, func);
	} else {
		bool taken;

		/* Free with waiters queued: take it under the wait lock
		 * so that the waiters are looked at. */
		if (expected != WW_HAS_WAITERS)
			return false;
		pthread_mutex_lock(&lock->wait_lock);
		taken = ww_try_take(lock, me);
		if (taken && ctx)
			ww_acquired_locked(lock, ctx, debug, func);
		pthread_mutex_unlock(&lock->wait_lock);
		if (!taken)
			return false;
	}

	if (unlikely(debug))
		gpuvm_lock_acquire(&lock->dep_map,
				   GPUVM_LOCK_ACQ_TRY |
					   (ctx ? GPUVM_LOCK_ACQ_NEST : 0),
				   GPUVM_RET_IP);
	return true;
}

/* ---- unlock ------------------------------------------------------------ */

static void ww_unlock_slowpath(struct gpuvm_ww_mutex *lock, uintptr_t me)
{
	struct ww_waiter *first;
	uintptr_t v;

	pthread_mutex_lock(&lock->wait_lock);
	v = READ_RELAXED(&lock->owner);
	/* Not ours: a misuse the checker (when on) has refused already. */
	if ((v & WW_HOLDER_MASK) == me) {
		__atomic_store_n(&lock->owner, v & WW_HAS_WAITERS,
				 __ATOMIC_RELEASE);
		first = gpuvm_list_first_entry_or_null(&lock->waiters,
						       struct ww_waiter, node);
		if (first)
			gpuvm_parker_unpark(first->parker);
	}
	pthread_mutex_unlock(&lock->wait_lock);
}

/* Return: whether the unlock may go on. */
static bool ww_debug_unlock(struct gpuvm_ww_mutex *lock)
{
	static const char func[] = "gpuvm_ww_mutex_unlock";

	if (!gpuvm_lock_is_held(&lock->dep_map)) {
		gpuvm_warn(GPUVM_RULE_WW_UNLOCK_UNHELD,
			   "%s: '%s' is not held by this thread (%s); "
			   "ignored",
			   func, lock_name(lock),
			   gpuvm_ww_mutex_is_locked(lock) ?
				   "another thread holds it" :
				   "it is unlocked");
		return false;
	}
	gpuvm_lock_release(&lock->dep_map, func);
	return true;
}

GPUVM_EXPORT void gpuvm_ww_mutex_unlock(struct gpuvm_ww_mutex *lock)
{
	struct gpuvm_ww_acquire_ctx *ctx;
	uintptr_t me, expected;

	if (unlikely(gpuvm_debug_active()) && !ww_debug_unlock(lock))
		return;

	ctx = READ_RELAXED(&lock->ctx);
	if (ctx) {
		unsigned int acquired = ww_acquired(ctx);

		if (likely(acquired))
			WRITE_RELAXED(&ctx->acquired, acquired - 1);
		else if (gpuvm_debug_active())
			gpuvm_warn(GPUVM_RULE_WW_ACQUIRED_UNDERFLOW,
				   "gpuvm_ww_mutex_unlock: '%s' is held "
				   "through a context that holds nothing",
				   lock_name(lock));
		WRITE_RELAXED(&lock->ctx, NULL);
		me = (uintptr_t)ctx | WW_OWNER_CTX;
	} else {
		me = self_token();
	}

	/* Release for the next holder; acquire for ww_dequeue(). */
	expected = me;
	if (likely(__atomic_compare_exchange_n(&lock->owner, &expected, 0,
					       false, __ATOMIC_ACQ_REL,
					       __ATOMIC_RELAXED))) {
		gpuvm_sched_point(GPUVM_SCHED_UNLOCK, lock);
		return;
	}
	ww_unlock_slowpath(lock, me);
	gpuvm_sched_point(GPUVM_SCHED_UNLOCK, lock);
}

/* ---- the rest ---------------------------------------------------------- */

GPUVM_EXPORT bool gpuvm_ww_mutex_is_locked(struct gpuvm_ww_mutex *lock)
{
	return (READ_RELAXED(&lock->owner) & WW_HOLDER_MASK) != 0;
}

GPUVM_EXPORT void gpuvm_ww_mutex_assert_held(struct gpuvm_ww_mutex *lock,
					     const char *func)
{
	gpuvm_lock_assert_held(&lock->dep_map, func);
}

GPUVM_EXPORT void gpuvm_ww_mutex_init(struct gpuvm_ww_mutex *lock,
				      struct gpuvm_ww_class *ww_class)
{
	lock->owner = 0;
	lock->ctx = NULL;
	gpuvm_list_init(&lock->waiters);
	lock->ww_class = ww_class;
	pthread_mutex_init(&lock->wait_lock, NULL);
	gpuvm_lockdep_init_map(&lock->dep_map, NULL, &ww_class->mutex_class);
}

GPUVM_EXPORT void gpuvm_ww_mutex_destroy(struct gpuvm_ww_mutex *lock)
{
	static const char func[] = "gpuvm_ww_mutex_destroy";

	/*
	 * A reported destroy leaves the mutex intact (as gpuvm_mutex_destroy
	 * does): its holder's unlock and its waiters still use the wait lock.
	 */
	if (gpuvm_debug_active()) {
		if (gpuvm_lock_is_held(&lock->dep_map)) {
			gpuvm_lockdep_fini_map(&lock->dep_map, func);
			return;
		}
		if (READ_RELAXED(&lock->owner)) {
			gpuvm_warn(GPUVM_RULE_DESTROY_HELD,
				   "%s: destroying '%s' while another thread "
				   "holds or waits for it",
				   func, lock_name(lock));
			return;
		}
	}
	pthread_mutex_destroy(&lock->wait_lock);
}

/*
 * The live contexts of this thread (checker on), by class. A second live
 * context of a class is reported here rather than by registering it with
 * the checker: the checker would also learn a bogus order between the
 * first context's pinned mutex class and the acquire class.
 */
#define WW_LIVE_MAX 8

struct ww_live_ctx {
	const struct gpuvm_ww_class *ww_class;
	const struct gpuvm_ww_acquire_ctx *ctx;
};

static __thread struct ww_live_ctx live_ctx[WW_LIVE_MAX];
static __thread unsigned int nr_live_ctx;

/* Return: false when a context of @ctx's class is live already. */
static bool ww_live_add(const struct gpuvm_ww_acquire_ctx *ctx)
{
	bool first = true;
	unsigned int i;

	for (i = 0; i < nr_live_ctx; i++)
		if (live_ctx[i].ww_class == ctx->ww_class)
			first = false;
	if (nr_live_ctx < WW_LIVE_MAX)
		live_ctx[nr_live_ctx++] =
			(struct ww_live_ctx){ ctx->ww_class, ctx };
	return first;
}

static void ww_live_del(const struct gpuvm_ww_acquire_ctx *ctx)
{
	unsigned int i;

	for (i = 0; i < nr_live_ctx; i++) {
		if (live_ctx[i].ctx == ctx) {
			live_ctx[i] = live_ctx[--nr_live_ctx];
			return;
		}
	}
}

GPUVM_EXPORT void gpuvm_ww_acquire_init(struct gpuvm_ww_acquire_ctx *ctx,
					struct gpuvm_ww_class *ww_class)
{
	const void *ip = GPUVM_RET_IP;

	ctx->task = self_token();
	ctx->stamp = __atomic_add_fetch(&ww_class->stamp, 1, __ATOMIC_RELAXED);
	ctx->acquired = 0;
	ctx->wounded = 0;
	ctx->is_wait_die = ww_class->is_wait_die;
	ctx->done_acquire = false;
	ctx->finished = false;
	ctx->ww_class = ww_class;
	ctx->contending_lock = NULL;
	ctx->parker = gpuvm_parker_self();
	ctx->deadlock_inject_interval = 0;
	ctx->deadlock_inject_countdown = 0;
	gpuvm_lockdep_init_map(&ctx->dep_map, NULL, &ww_class->acquire_class);
	gpuvm_lockdep_init_map(&ctx->first_lock_dep_map, NULL,
			       &ww_class->mutex_class);
	if (!gpuvm_debug_active())
		return;
	if (!ww_live_add(ctx)) {
		gpuvm_warn(GPUVM_RULE_RECURSIVE_LOCK,
			   "gpuvm_ww_acquire_init: a second live acquire "
			   "context of class '%s' in this thread",
			   ww_class->name);
		return;
	}
	/*
	 * The context is a lock of the acquire class, and pins the mutex
	 * class so that locking one of its mutexes without the context is
	 * reported as a recursion.
	 */
	gpuvm_lock_acquire(&ctx->dep_map, 0, ip);
	gpuvm_lock_acquire(&ctx->first_lock_dep_map, GPUVM_LOCK_ACQ_NEST, ip);
}

GPUVM_EXPORT void gpuvm_ww_acquire_done(struct gpuvm_ww_acquire_ctx *ctx)
{
	static const char func[] = "gpuvm_ww_acquire_done";

	if (gpuvm_debug_active()) {
		if (ctx->finished)
			gpuvm_warn(GPUVM_RULE_WW_CTX_FINISHED,
				   "%s: the acquire context was finished",
				   func);
		else if (ctx->done_acquire)
			gpuvm_warn(GPUVM_RULE_WW_ACQUIRE_DONE_TWICE,
				   "%s: called twice", func);
	}
	ctx->done_acquire = true;
}

static void ww_release_map(struct gpuvm_lockdep_map *map, const char *func)
{
	if (gpuvm_lock_is_held(map))
		gpuvm_lock_release(map, func);
}

GPUVM_EXPORT void gpuvm_ww_acquire_fini(struct gpuvm_ww_acquire_ctx *ctx)
{
	static const char func[] = "gpuvm_ww_acquire_fini";

	if (gpuvm_debug_active()) {
		if (ctx->finished) {
			gpuvm_warn(GPUVM_RULE_WW_ACQUIRE_FINI_TWICE,
				   "%s: called twice", func);
			return;
		}
		if (ww_acquired(ctx))
			gpuvm_warn(GPUVM_RULE_WW_ACQUIRE_FINI_HELD,
				   "%s: %u lock(s) still held through the "
				   "context",
				   func, ww_acquired(ctx));
		ww_live_del(ctx);
		ww_release_map(&ctx->first_lock_dep_map, func);
		ww_release_map(&ctx->dep_map, func);
	}
	ctx->finished = true;
	ctx->done_acquire = true;
}

GPUVM_EXPORT void
gpuvm_ww_mutex_inject_deadlock(struct gpuvm_ww_acquire_ctx *ctx,
			       unsigned int interval)
{
	ctx->deadlock_inject_interval = interval;
	ctx->deadlock_inject_countdown = interval ? interval - 1 : 0;
}
