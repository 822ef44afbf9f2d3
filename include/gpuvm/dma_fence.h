/* SPDX-License-Identifier: MIT */
/*
 * DMA fences: one-shot completion objects for asynchronous work.
 *
 * A fence starts unsignaled and is signaled exactly once. Fences of one
 * context (a timeline) are ordered by their sequence number and signal in
 * that order. Callbacks registered on a fence run once, in registration
 * order, when it signals, with the fence lock held. Waiters sleep on their
 * thread's parker and can be interrupted with gpuvm_interrupt_thread().
 *
 * Differences from the kernel, all deliberate:
 *  - timeouts are nanoseconds (int64_t), GPUVM_MAX_SCHEDULE_TIMEOUT means
 *    "no limit", and an interrupted wait returns -EINTR (the kernel's
 *    -ERESTARTSYS does not exist in userspace);
 *  - the fence lock is a struct gpuvm_mutex known to the debug checker
 *    (inline in the fence unless the caller passes one);
 *  - gpuvm_dma_fence_signal() and friends return 0 or -EINVAL like the
 *    kernel's int-returning generation; gpuvm_dma_fence_check_and_signal()
 *    is the newer boolean form;
 *  - gpuvm_dma_fence_set_error() after signalling warns and is ignored.
 *
 * Memory: a fence whose ops have no release callback is freed with
 * gpuvm_kfree() one RCU grace period after its last reference is dropped,
 * so it must be the start of a gpuvm_kmalloc() allocation. A custom
 * release must free RCU-safely too (gpuvm_dma_fence_free() does), because
 * lockless readers of reservation objects may still look at it.
 *
 * "Does not allocate" below means no library allocation, as in mutex.h.
 * Callbacks and ops run on the calling thread; what they do is not
 * covered by the Context lines.
 */
#ifndef GPUVM_DMA_FENCE_H
#define GPUVM_DMA_FENCE_H

#include <stdio.h>

#include <gpuvm/common.h>
#include <gpuvm/debug.h>
#include <gpuvm/list.h>
#include <gpuvm/mutex.h>
#include <gpuvm/rcu.h>

GPUVM_BEGIN_DECLS

/* Rules of the fence warnings. */
#define GPUVM_RULE_FENCE_OPS "dma-fence-ops"
#define GPUVM_RULE_FENCE_CONTEXT "dma-fence-context"
#define GPUVM_RULE_FENCE_ERROR "dma-fence-set-error"
#define GPUVM_RULE_FENCE_RELEASE_PENDING "dma-fence-release-pending"
#define GPUVM_RULE_FENCE_INVALID "dma-fence-invalid-argument"

/* A wait timeout meaning "wait as long as it takes" (nanoseconds). */
#define GPUVM_MAX_SCHEDULE_TIMEOUT INT64_MAX

/* Bits of struct gpuvm_dma_fence.flags. */
enum gpuvm_dma_fence_flag_bits {
	GPUVM_DMA_FENCE_FLAG_INITIALIZED_BIT,
	GPUVM_DMA_FENCE_FLAG_INLINE_LOCK_BIT,
	GPUVM_DMA_FENCE_FLAG_SEQNO64_BIT,
	GPUVM_DMA_FENCE_FLAG_SIGNALED_BIT,
	GPUVM_DMA_FENCE_FLAG_TIMESTAMP_BIT,
	GPUVM_DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT,
	GPUVM_DMA_FENCE_FLAG_USER_BITS, /* first bit free for the driver */
};

struct gpuvm_dma_fence;
struct gpuvm_dma_fence_cb;

/* A fence callback; runs with the fence lock held and must not take it. */
typedef void (*gpuvm_dma_fence_func_t)(struct gpuvm_dma_fence *fence,
				       struct gpuvm_dma_fence_cb *cb);

/**
 * struct gpuvm_dma_fence_cb - a callback registration, embedded by the user
 * @node: in the fence's callback list while pending; empty otherwise
 * @func: the function to run
 */
struct gpuvm_dma_fence_cb {
	struct gpuvm_list_head node;
	gpuvm_dma_fence_func_t func;
};

/**
 * struct gpuvm_dma_fence_ops - what the fence's producer implements
 * @get_driver_name: required; a name for debug output
 * @get_timeline_name: required; a name for debug output
 * @enable_signaling: optional; called at most once, with the fence lock
 *	held, the first time somebody needs to be told about the signal.
 *	Return false when the fence already passed: the core signals it.
 * @signaled: optional; cheap poll. Once true it must stay true; it may
 *	set the error (gpuvm_dma_fence_set_error()).
 * @wait: optional and deprecated; replaces the default wait. Same return
 *	contract as gpuvm_dma_fence_wait_timeout().
 * @release: optional; called when the last reference is dropped. Must
 *	free the fence RCU-safely (gpuvm_dma_fence_free()). Without it the
 *	fence is freed with gpuvm_kfree() after a grace period.
 * @set_deadline: optional; a hint that the fence should signal by
 *	@deadline (CLOCK_MONOTONIC, nanoseconds).
 *
 * Ops without @wait and @release are detached when the fence signals
 * (struct gpuvm_dma_fence.ops becomes NULL): the producer's code is no
 * longer needed afterwards, as in the newest kernels.
 */
struct gpuvm_dma_fence_ops {
	const char *(*get_driver_name)(struct gpuvm_dma_fence *fence);
	const char *(*get_timeline_name)(struct gpuvm_dma_fence *fence);
	bool (*enable_signaling)(struct gpuvm_dma_fence *fence);
	bool (*signaled)(struct gpuvm_dma_fence *fence);
	int64_t (*wait)(struct gpuvm_dma_fence *fence, bool intr,
			int64_t timeout);
	void (*release)(struct gpuvm_dma_fence *fence);
	void (*set_deadline)(struct gpuvm_dma_fence *fence, int64_t deadline);
};

/**
 * struct gpuvm_dma_fence - a fence; fields are read through the functions
 * @lock: the fence lock: @inline_lock or one shared by the producer
 * @ops: the producer's ops; atomic, NULL once detached
 * @cb_list: pending callbacks, under @lock
 * @timestamp: CLOCK_MONOTONIC nanoseconds of the signal; valid once
 *	GPUVM_DMA_FENCE_FLAG_TIMESTAMP_BIT is set
 * @rcu: for the deferred free
 * @context: the timeline
 * @seqno: position on the timeline
 * @flags: GPUVM_DMA_FENCE_FLAG_* bits; atomic
 * @refcount: atomic reference count
 * @error: 0 or a negative errno set before signalling; atomic
 * @inline_lock: the lock used when none is passed to init
 */
struct gpuvm_dma_fence {
	struct gpuvm_mutex *lock;
	const struct gpuvm_dma_fence_ops *ops;
	struct gpuvm_list_head cb_list;
	int64_t timestamp;
	struct gpuvm_rcu_head rcu;
	uint64_t context;
	uint64_t seqno;
	unsigned long flags;
	int refcount;
	int error;
	struct gpuvm_mutex inline_lock;
};

/* ---- contexts and initialisation ---------------------------------------- */

/**
 * gpuvm_dma_fence_context_alloc() - reserve @num consecutive contexts
 * @num: how many; 0 warns (GPUVM_RULE_FENCE_INVALID) and reserves none
 *
 * Context: any, thread-safe, lock-free; does not allocate.
 * Return: the first of the reserved context numbers. Context 0 is never
 * returned (the stub fences use it).
 */
GPUVM_EXPORT uint64_t gpuvm_dma_fence_context_alloc(unsigned int num);

/**
 * gpuvm_dma_fence_init() - initialise @fence, unsignaled, refcount 1
 * @fence: the fence; must not be in use
 * @ops: must provide get_driver_name and get_timeline_name (warns
 *	GPUVM_RULE_FENCE_OPS otherwise); must outlive every use of the ops
 * @lock: the fence lock, or NULL to use the fence's inline lock. A shared
 *	lock must outlive the fence.
 * @context: from gpuvm_dma_fence_context_alloc()
 * @seqno: compared in 32 bits with wrap-around (see _init64 for 64 bits)
 *
 * The caller owns the one reference.
 * Context: any; does not block or allocate; allowed in a fence signalling
 * section.
 * Kernel parity: ops without the name callbacks warn and the fence is
 * still initialised; the kernel stops with a BUG.
 */
GPUVM_EXPORT void gpuvm_dma_fence_init(struct gpuvm_dma_fence *fence,
				       const struct gpuvm_dma_fence_ops *ops,
				       struct gpuvm_mutex *lock,
				       uint64_t context, uint64_t seqno);

/**
 * gpuvm_dma_fence_init64() - as gpuvm_dma_fence_init(), with 64-bit seqnos
 * @fence: the fence; must not be in use
 * @ops: as for gpuvm_dma_fence_init()
 * @lock: the fence lock, or NULL for the inline lock
 * @context: from gpuvm_dma_fence_context_alloc()
 * @seqno: compared as a plain 64-bit number (no wrap-around)
 *
 * Context: as gpuvm_dma_fence_init().
 * Kernel parity: as gpuvm_dma_fence_init().
 */
GPUVM_EXPORT void gpuvm_dma_fence_init64(struct gpuvm_dma_fence *fence,
					 const struct gpuvm_dma_fence_ops *ops,
					 struct gpuvm_mutex *lock,
					 uint64_t context, uint64_t seqno);

/* ---- references --------------------------------------------------------- */

/**
 * gpuvm_dma_fence_get() - take a reference to @fence
 * @fence: a fence the caller holds a reference to, or NULL
 *
 * An increment from zero (a use after free) warns
 * (GPUVM_RULE_REFCOUNT_GET_ZERO) and leaks the fence instead.
 * Context: any; lock-free; does not allocate.
 * Return: @fence (NULL for NULL); the new reference belongs to the caller.
 */
GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_fence_get(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_put() - drop a reference to @fence
 * @fence: the fence, or NULL (ignored)
 *
 * The last reference releases the fence: if it never signaled but still
 * has callbacks, that warns (GPUVM_RULE_FENCE_RELEASE_PENDING) and the
 * fence is signaled with error -EDEADLK so they run; then ops->release is
 * called, or the memory is freed with gpuvm_kfree() after an RCU grace
 * period. An underflow warns (GPUVM_RULE_REFCOUNT_UNDERFLOW) and leaks the
 * fence instead of freeing it twice; so does putting the stub's last
 * reference.
 * Context: any; does not block on a fence or allocate, apart from what
 * ops->release does. A put that may be the last must not run with the
 * fence lock held.
 */
GPUVM_EXPORT void gpuvm_dma_fence_put(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_get_rcu() - take a reference unless the fence is dying
 * @fence: the fence, or NULL
 *
 * Context: the caller guarantees @fence's memory is still there, e.g. it
 * found the fence in an RCU-protected structure and is inside the read-side
 * section that found it. Lock-free; does not allocate.
 * Return: @fence with a new reference owned by the caller, or NULL if
 * @fence is NULL or its count already hit 0.
 */
GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_fence_get_rcu(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_get_rcu_safe() - reference the fence *@fencep points to
 * @fencep: a pointer that writers replace while readers look
 *
 * Loads the pointer, tries to reference the fence, and retries if the
 * fence is dying or the pointer changed meanwhile. The writer must free
 * replaced fences after a grace period (the default).
 * Context: any; spins (does not sleep) while a writer replaces a dying
 * fence; does not allocate.
 * Return: a fence with a new reference owned by the caller, or NULL when
 * *@fencep is NULL.
 * Kernel parity: the function enters the RCU read-side section itself;
 * the kernel's caller must already be in one.
 */
GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_fence_get_rcu_safe(struct gpuvm_dma_fence **fencep);

/**
 * gpuvm_dma_fence_free() - free @fence after an RCU grace period
 * @fence: a released fence that is the start of a gpuvm_kmalloc()
 *	allocation
 *
 * For ops->release implementations: the memory goes back with
 * gpuvm_kfree() once lockless readers are done with it.
 * Context: any; does not block or allocate.
 */
GPUVM_EXPORT void gpuvm_dma_fence_free(struct gpuvm_dma_fence *fence);

/* ---- the fence lock ----------------------------------------------------- */

/**
 * gpuvm_dma_fence_spinlock() - the lock protecting @fence
 * @fence: the fence
 *
 * Context: any; does not lock anything.
 * Return: the inline lock of @fence, or the shared one given at init.
 * Kernel parity: a sleeping struct gpuvm_mutex, not a spinlock (the name
 * is the kernel's).
 */
GPUVM_EXPORT struct gpuvm_mutex *
gpuvm_dma_fence_spinlock(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_lock() - take @fence's lock, for the *_locked functions
 * @fence: the fence
 *
 * gpuvm_dma_fence_unlock() releases it. They are gpuvm_mutex_lock() and
 * gpuvm_mutex_unlock() on gpuvm_dma_fence_spinlock(@fence).
 * Context: may block (uninterruptibly) while another thread holds the
 * lock; does not allocate; allowed in a fence signalling section. Never
 * take it inside a callback of the same fence (it runs with the lock held).
 * Kernel parity: as gpuvm_mutex_lock(); the kernel's lock is an IRQ-safe
 * spinlock.
 */
GPUVM_EXPORT void gpuvm_dma_fence_lock(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_unlock() - release @fence's lock
 * @fence: a fence whose lock the calling thread holds
 *
 * Context: the thread that took the lock; does not block or allocate.
 */
GPUVM_EXPORT void gpuvm_dma_fence_unlock(struct gpuvm_dma_fence *fence);

/* ---- signalling --------------------------------------------------------- */

/**
 * gpuvm_dma_fence_signal() - signal @fence
 * @fence: the fence, or NULL
 *
 * Records the time, detaches the ops unless they have a release or wait
 * callback, and runs the pending callbacks in registration order, with
 * the fence lock held. Enters a fence signalling section around the work (see
 * gpuvm_dma_fence_begin_signalling()).
 * Context: caller holds a reference and not the fence lock; takes the
 * lock; does not allocate.
 * Return: 0 when this call signaled the fence, -EINVAL when it already
 * was signaled or @fence is NULL.
 * Kernel parity: the newest kernel returns void; the 0/-EINVAL result is
 * that of the older int-returning kernels.
 */
GPUVM_EXPORT int gpuvm_dma_fence_signal(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_signal_locked() - gpuvm_dma_fence_signal() with the fence
 * lock already held
 * @fence: the fence, or NULL
 *
 * Does not enter a signalling section of its own.
 * Context: the fence lock held (with the checker on, reported otherwise:
 * GPUVM_RULE_LOCK_NOT_HELD); does not block or allocate.
 * Return: as gpuvm_dma_fence_signal().
 * Kernel parity: as gpuvm_dma_fence_signal().
 */
GPUVM_EXPORT int gpuvm_dma_fence_signal_locked(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_signal_timestamp() - gpuvm_dma_fence_signal() with an
 * explicit time
 * @fence: the fence, or NULL
 * @timestamp: the signal time, CLOCK_MONOTONIC nanoseconds
 *
 * Context: as gpuvm_dma_fence_signal().
 * Return: as gpuvm_dma_fence_signal().
 * Kernel parity: as gpuvm_dma_fence_signal(); the time is nanoseconds, not
 * a ktime_t.
 */
GPUVM_EXPORT int gpuvm_dma_fence_signal_timestamp(struct gpuvm_dma_fence *fence,
						  int64_t timestamp);

/**
 * gpuvm_dma_fence_signal_timestamp_locked() - gpuvm_dma_fence_signal_locked()
 * with an explicit time
 * @fence: the fence, or NULL
 * @timestamp: the signal time, CLOCK_MONOTONIC nanoseconds
 *
 * Context: as gpuvm_dma_fence_signal_locked().
 * Return: as gpuvm_dma_fence_signal().
 * Kernel parity: as gpuvm_dma_fence_signal_timestamp().
 */
GPUVM_EXPORT int
gpuvm_dma_fence_signal_timestamp_locked(struct gpuvm_dma_fence *fence,
					int64_t timestamp);

/**
 * gpuvm_dma_fence_check_and_signal() - signal @fence if it is not yet
 * @fence: the fence
 *
 * Context: as gpuvm_dma_fence_signal().
 * Return: true when the fence already was signaled before the call (also
 * for a NULL @fence), false when this call signaled it.
 */
GPUVM_EXPORT bool
gpuvm_dma_fence_check_and_signal(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_check_and_signal_locked() - as
 * gpuvm_dma_fence_check_and_signal(), with the fence lock held
 * @fence: the fence (not NULL)
 *
 * Context: as gpuvm_dma_fence_signal_locked().
 * Return: true when the fence already was signaled before the call, false
 * when this call signaled it. A NULL @fence is reported
 * (GPUVM_RULE_FENCE_INVALID) and counts as signaled (true), as for
 * gpuvm_dma_fence_check_and_signal().
 * Kernel parity: the kernel dereferences a NULL @fence.
 */
GPUVM_EXPORT bool
gpuvm_dma_fence_check_and_signal_locked(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_timestamp() - when @fence signaled
 * @fence: a signaled fence
 *
 * If the signaller has set the signaled bit but not yet the time, waits
 * for it by yielding the CPU.
 * Context: any; does not sleep on a lock or allocate.
 * Return: the signal time in CLOCK_MONOTONIC nanoseconds; for an unsignaled
 * fence a warning (GPUVM_RULE_FENCE_INVALID) and the current time.
 */
GPUVM_EXPORT int64_t gpuvm_dma_fence_timestamp(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_set_error() - mark @fence as completed with @error
 * @fence: the fence
 * @error: a negative errno, e.g. -ECANCELED, -ETIME or -ENODATA
 *
 * Must be called before signalling. Afterwards, or with an @error that is
 * not a negative errno, it warns (GPUVM_RULE_FENCE_ERROR) and does nothing.
 * Context: any; does not take the fence lock, so the caller orders it
 * before the signal (the signalling producer, or under the fence lock).
 * Does not block or allocate.
 * Kernel parity: the kernel warns and stores the error anyway.
 */
GPUVM_EXPORT void gpuvm_dma_fence_set_error(struct gpuvm_dma_fence *fence,
					    int error);

/* ---- state -------------------------------------------------------------- */

/**
 * gpuvm_dma_fence_test_signaled_flag() - whether the signaled bit is set
 * @fence: the fence
 *
 * No side effects (ops->signaled is not asked).
 * Context: any; lock-free.
 * Return: true once @fence has signaled.
 */
GPUVM_EXPORT bool
gpuvm_dma_fence_test_signaled_flag(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_is_signaled() - whether @fence has signaled
 * @fence: the fence
 *
 * When the bit is not set yet but ops->signaled reports completion, the
 * fence is signaled here (a side effect, with gpuvm_dma_fence_signal()).
 * Without enabled signalling (callback, wait,
 * gpuvm_dma_fence_enable_sw_signaling()) a fence lacking a signaled op may
 * never turn true.
 * Context: caller holds a reference and not the fence lock (see _locked);
 * takes the lock only to signal; does not allocate.
 * Return: true when @fence is signaled (possibly by this call).
 */
GPUVM_EXPORT bool gpuvm_dma_fence_is_signaled(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_is_signaled_locked() - as gpuvm_dma_fence_is_signaled(),
 * with the fence lock held
 * @fence: the fence
 *
 * Context: the fence lock held (with the checker on, reported otherwise:
 * GPUVM_RULE_LOCK_NOT_HELD); does not block or allocate.
 * Return: true when @fence is signaled (possibly by this call).
 */
GPUVM_EXPORT bool
gpuvm_dma_fence_is_signaled_locked(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_get_status() - the completion status of @fence
 * @fence: the fence
 *
 * Asks ops->signaled like gpuvm_dma_fence_is_signaled_locked().
 * Context: caller holds a reference and not the fence lock; takes it; does
 * not allocate.
 * Return: 0 while unsignaled, 1 when signaled without error, the negative
 * error when signaled with one.
 */
GPUVM_EXPORT int gpuvm_dma_fence_get_status(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_get_status_locked() - as gpuvm_dma_fence_get_status(),
 * with the fence lock held
 * @fence: the fence
 *
 * Context: as gpuvm_dma_fence_is_signaled_locked().
 * Return: as gpuvm_dma_fence_get_status().
 */
GPUVM_EXPORT int
gpuvm_dma_fence_get_status_locked(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_enable_sw_signaling() - ask the producer to signal
 * @fence: the fence
 *
 * Calls ops->enable_signaling once per fence, under the fence lock; if it
 * reports the fence as already passed, the fence is signaled here (its
 * callbacks run on this thread).
 * Context: caller holds a reference and not the fence lock; takes it; does
 * not allocate.
 */
GPUVM_EXPORT void
gpuvm_dma_fence_enable_sw_signaling(struct gpuvm_dma_fence *fence);

/* ---- ordering ----------------------------------------------------------- */

/**
 * gpuvm_dma_fence_seqno_is_later() - compare two seqnos of @fence's timeline
 * @fence: decides the width: 64-bit compare for gpuvm_dma_fence_init64()
 *	fences, else a wrap-safe compare of the low 32 bits
 * @f1: a seqno
 * @f2: another seqno
 *
 * Context: any; lock-free.
 * Return: true when @f1 comes after @f2.
 */
GPUVM_EXPORT bool gpuvm_dma_fence_seqno_is_later(struct gpuvm_dma_fence *fence,
						 uint64_t f1, uint64_t f2);

/**
 * gpuvm_dma_fence_is_later() - whether @f1 signals after @f2
 * @f1: a fence
 * @f2: a fence of the same context
 *
 * Context: any; lock-free.
 * Return: true when @f1's seqno comes after @f2's (see
 * gpuvm_dma_fence_seqno_is_later()); false otherwise, and with a warning
 * (GPUVM_RULE_FENCE_CONTEXT) for fences of different contexts.
 */
GPUVM_EXPORT bool gpuvm_dma_fence_is_later(struct gpuvm_dma_fence *f1,
					   struct gpuvm_dma_fence *f2);

/**
 * gpuvm_dma_fence_is_later_or_same() - gpuvm_dma_fence_is_later(), or the
 * very same fence
 * @f1: a fence
 * @f2: a fence of the same context
 *
 * Context: any; lock-free.
 * Return: true when @f1 == @f2 or gpuvm_dma_fence_is_later(@f1, @f2).
 */
GPUVM_EXPORT bool gpuvm_dma_fence_is_later_or_same(struct gpuvm_dma_fence *f1,
						   struct gpuvm_dma_fence *f2);

/**
 * gpuvm_dma_fence_later() - the later of two fences of one context
 * @f1: a fence
 * @f2: a fence of the same context
 *
 * Context: as gpuvm_dma_fence_is_signaled() (which it calls on the later
 * fence).
 * Return: the later fence (no reference taken), or NULL when that one has
 * already signaled; NULL with a warning (GPUVM_RULE_FENCE_CONTEXT) for
 * fences of different contexts.
 */
GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_fence_later(struct gpuvm_dma_fence *f1, struct gpuvm_dma_fence *f2);

/* ---- callbacks ---------------------------------------------------------- */

/**
 * gpuvm_dma_fence_add_callback() - run @func when @fence signals
 * @fence: the fence
 * @cb: caller-owned; on one fence at a time
 * @func: the callback
 *
 * Enables signalling (which may signal the fence right here, see
 * gpuvm_dma_fence_enable_sw_signaling()). Callbacks run once, in
 * registration order, with the fence lock held, on the signalling thread;
 * they must not take the fence lock and should not block.
 * Context: caller holds a reference to @fence and not its lock; takes the
 * lock; does not allocate; allowed in a fence signalling section.
 * Return: 0 when registered; -ENOENT when the fence already signaled (the
 * callback is not called; @cb->node is left empty); -EINVAL with a
 * warning (GPUVM_RULE_FENCE_INVALID) when @fence or @func is NULL.
 */
GPUVM_EXPORT int gpuvm_dma_fence_add_callback(struct gpuvm_dma_fence *fence,
					      struct gpuvm_dma_fence_cb *cb,
					      gpuvm_dma_fence_func_t func);

/**
 * gpuvm_dma_fence_remove_callback() - unregister a pending callback
 * @fence: the fence @cb was added to
 * @cb: a callback that went through gpuvm_dma_fence_add_callback()
 *
 * Context: caller holds a reference to @fence and not its lock; takes the
 * lock; does not allocate.
 * Return: true when it was still pending (it will not run), false when it
 * already ran or was never registered.
 */
GPUVM_EXPORT bool
gpuvm_dma_fence_remove_callback(struct gpuvm_dma_fence *fence,
				struct gpuvm_dma_fence_cb *cb);

/* ---- waiting ------------------------------------------------------------ */

/**
 * gpuvm_dma_fence_wait_timeout() - sleep until @fence signals
 * @fence: the fence
 * @intr: whether gpuvm_interrupt_thread() interrupts the wait
 * @timeout: nanoseconds; 0 polls; GPUVM_MAX_SCHEDULE_TIMEOUT: no limit
 *
 * Enables signalling, then calls ops->wait or
 * gpuvm_dma_fence_default_wait(). The debug checker sees a fence wait
 * (gpuvm_might_wait_fence()): inside a signalling section or while holding
 * a signalling-safe lock it is reported, even with a zero timeout.
 * Context: may sleep; caller holds a reference and not the fence lock;
 * does not allocate. Not in a fence signalling section.
 * Return: the remaining time (> 0; at least 1 when signaled, 1 for a poll
 * of a signaled fence, GPUVM_MAX_SCHEDULE_TIMEOUT when unlimited), 0 on
 * timeout, -EINTR when @intr and interrupted (the interrupt is consumed),
 * -EINVAL with a warning (GPUVM_RULE_FENCE_INVALID) for a negative
 * @timeout. With ops->wait, whatever it returns.
 * Kernel parity: nanoseconds instead of jiffies; -EINTR instead of
 * -ERESTARTSYS; a fence that signals as the time runs out gives 1 where
 * the kernel may give 0.
 */
GPUVM_EXPORT int64_t gpuvm_dma_fence_wait_timeout(struct gpuvm_dma_fence *fence,
						  bool intr, int64_t timeout);

/**
 * gpuvm_dma_fence_default_wait() - the built-in wait
 * @fence: the fence
 * @intr: whether gpuvm_interrupt_thread() interrupts the wait
 * @timeout: nanoseconds (not negative); 0 polls;
 *	GPUVM_MAX_SCHEDULE_TIMEOUT: no limit
 *
 * gpuvm_dma_fence_wait_timeout() without the checker annotation and
 * without enabling signalling, for ops->wait implementations.
 * Context: as gpuvm_dma_fence_wait_timeout(); the checker does not report
 * it by itself.
 * Return: as gpuvm_dma_fence_wait_timeout(), including -EINVAL with a
 * warning (GPUVM_RULE_FENCE_INVALID) for a negative @timeout.
 * Kernel parity: as gpuvm_dma_fence_wait_timeout(); the kernel's
 * dma_fence_default_wait() does not check a negative timeout itself.
 */
GPUVM_EXPORT int64_t gpuvm_dma_fence_default_wait(struct gpuvm_dma_fence *fence,
						  bool intr, int64_t timeout);

/**
 * gpuvm_dma_fence_wait() - wait for @fence without a time limit
 * @fence: the fence
 * @intr: whether gpuvm_interrupt_thread() interrupts the wait
 *
 * Context: as gpuvm_dma_fence_wait_timeout().
 * Return: 0 once signaled, or -EINTR when @intr and interrupted (with
 * ops->wait, any negative value it returns).
 * Kernel parity: -EINTR instead of -ERESTARTSYS.
 */
GPUVM_EXPORT int gpuvm_dma_fence_wait(struct gpuvm_dma_fence *fence, bool intr);

/**
 * gpuvm_dma_fence_wait_any_timeout() - wait until one of @fences signals
 * @fences: the fences
 * @count: number of @fences
 * @intr: whether gpuvm_interrupt_thread() interrupts the wait
 * @timeout: nanoseconds; 0 polls; GPUVM_MAX_SCHEDULE_TIMEOUT: no limit
 * @idx: if not NULL, receives the index of a signaled fence (the first
 *	one found) when the result is positive; untouched otherwise
 *
 * Unless @timeout is 0, registers a callback on each fence, which enables
 * its signalling. The checker sees a fence wait, as for
 * gpuvm_dma_fence_wait_timeout().
 * Context: may sleep; allocates (one callback per fence) unless @timeout
 * is 0. Not in a fence signalling section.
 * Return: as gpuvm_dma_fence_wait_timeout(); -EINVAL (with a warning,
 * GPUVM_RULE_FENCE_INVALID) for a NULL array, @count 0, a NULL entry in
 * @fences (checked before any fence is looked at; @idx untouched) or a
 * negative @timeout; -ENOMEM when the callbacks cannot be allocated.
 * Kernel parity: as gpuvm_dma_fence_wait_timeout(); the kernel
 * dereferences a NULL entry.
 */
GPUVM_EXPORT int64_t gpuvm_dma_fence_wait_any_timeout(
	struct gpuvm_dma_fence **fences, uint32_t count, bool intr,
	int64_t timeout, uint32_t *idx);

/**
 * gpuvm_dma_fence_set_deadline() - tell the producer when @fence is needed
 * @fence: the fence
 * @deadline: CLOCK_MONOTONIC nanoseconds
 *
 * Forwarded to ops->set_deadline when the fence has not signaled (checked
 * with gpuvm_dma_fence_is_signaled()); a hint only.
 * Context: as gpuvm_dma_fence_is_signaled(), plus whatever
 * ops->set_deadline does.
 */
GPUVM_EXPORT void gpuvm_dma_fence_set_deadline(struct gpuvm_dma_fence *fence,
					       int64_t deadline);

/* ---- stubs and debug output --------------------------------------------- */

/**
 * gpuvm_dma_fence_get_stub() - the global, always signaled stub fence
 *
 * Context: any; does not block (beyond its one-time initialisation) or
 * allocate.
 * Return: the stub fence (context 0) with a new reference owned by the
 * caller.
 */
GPUVM_EXPORT struct gpuvm_dma_fence *gpuvm_dma_fence_get_stub(void);

/**
 * gpuvm_dma_fence_allocate_private_stub() - a new, already signaled fence
 * @timestamp: its signal time, CLOCK_MONOTONIC nanoseconds
 *
 * Context 0, seqno 0; freed after a grace period when the last reference
 * goes.
 * Context: allocates (not in a fence signalling section).
 * Return: the fence, whose one reference the caller owns, or NULL when out
 * of memory.
 */
GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_fence_allocate_private_stub(int64_t timestamp);

/**
 * gpuvm_dma_fence_driver_name() - the producer's driver name of @fence
 * @fence: the fence
 *
 * gpuvm_dma_fence_timeline_name() gives the timeline name the same way.
 * Once the fence signaled (or without ops) fixed placeholders are given,
 * "detached-driver" and "signaled-timeline", and the ops are not called.
 * Context: caller holds a reference; does not block or allocate.
 * Return: the name; a producer's string only as long as the producer
 * keeps it (it may go once the fence signals).
 */
GPUVM_EXPORT const char *
gpuvm_dma_fence_driver_name(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_timeline_name() - the producer's timeline name of @fence
 * @fence: the fence
 *
 * Context: as gpuvm_dma_fence_driver_name().
 * Return: as gpuvm_dma_fence_driver_name().
 */
GPUVM_EXPORT const char *
gpuvm_dma_fence_timeline_name(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_describe() - print one line about @fence
 * @fence: the fence
 * @seq: the stream to print to
 *
 * Driver and timeline names, seqno, and whether it signaled (asked with
 * gpuvm_dma_fence_is_signaled(), so it may signal the fence).
 * Context: as gpuvm_dma_fence_is_signaled(); writes to @seq.
 */
GPUVM_EXPORT void gpuvm_dma_fence_describe(struct gpuvm_dma_fence *fence,
					   FILE *seq);

GPUVM_END_DECLS

#endif /* GPUVM_DMA_FENCE_H */
