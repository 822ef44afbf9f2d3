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
 *
 * Context: any, thread-safe. Context 0 is never returned (the stub fence
 * uses it). @num == 0 warns (GPUVM_RULE_FENCE_INVALID).
 * Return: the first of the reserved context numbers.
 */
GPUVM_EXPORT uint64_t gpuvm_dma_fence_context_alloc(unsigned int num);

/**
 * gpuvm_dma_fence_init() - initialise @fence, unsignaled, refcount 1
 * @ops: must provide get_driver_name and get_timeline_name (warns
 *	GPUVM_RULE_FENCE_OPS otherwise); must outlive every use of the ops
 * @lock: the fence lock, or NULL to use the fence's inline lock. A shared
 *	lock must outlive the fence.
 * @context: from gpuvm_dma_fence_context_alloc()
 * @seqno: compared in 32 bits with wrap-around (see _init64 for 64 bits)
 */
GPUVM_EXPORT void gpuvm_dma_fence_init(struct gpuvm_dma_fence *fence,
				       const struct gpuvm_dma_fence_ops *ops,
				       struct gpuvm_mutex *lock,
				       uint64_t context, uint64_t seqno);

/* As gpuvm_dma_fence_init(); seqnos compare as plain 64-bit numbers. */
GPUVM_EXPORT void gpuvm_dma_fence_init64(struct gpuvm_dma_fence *fence,
					 const struct gpuvm_dma_fence_ops *ops,
					 struct gpuvm_mutex *lock,
					 uint64_t context, uint64_t seqno);

/* ---- references --------------------------------------------------------- */

/* Take a reference; NULL is passed through. Return: @fence. Warns when
 * the count was zero (a use after free). */
GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_fence_get(struct gpuvm_dma_fence *fence);

/* Drop a reference (NULL is ignored); the last one releases the fence.
 * An underflow warns and leaks the fence instead of freeing it twice. */
GPUVM_EXPORT void gpuvm_dma_fence_put(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_get_rcu() - take a reference unless the fence is dying
 *
 * Context: the caller guarantees @fence's memory is still there, e.g. it
 * found the fence in an RCU-protected structure and is inside the read-side
 * section that found it.
 * Return: @fence with a new reference, or NULL if its count already hit 0.
 */
GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_fence_get_rcu(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_get_rcu_safe() - reference the fence *@fencep points to
 *
 * For a pointer that writers replace while readers look: load it, try to
 * reference the fence, and retry if the pointer changed meanwhile. The
 * writer must free replaced fences after a grace period (the default).
 * Unlike the kernel the function enters the RCU read-side section itself.
 * Return: a referenced fence, or NULL when *@fencep is NULL.
 */
GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_fence_get_rcu_safe(struct gpuvm_dma_fence **fencep);

/**
 * gpuvm_dma_fence_free() - free @fence after an RCU grace period
 *
 * For ops->release implementations whose fence is the start of a
 * gpuvm_kmalloc() allocation: the memory goes back with gpuvm_kfree().
 */
GPUVM_EXPORT void gpuvm_dma_fence_free(struct gpuvm_dma_fence *fence);

/* ---- the fence lock ----------------------------------------------------- */

/* The lock protecting @fence (inline or shared). */
GPUVM_EXPORT struct gpuvm_mutex *
gpuvm_dma_fence_spinlock(struct gpuvm_dma_fence *fence);

/* Take / release @fence's lock (for the *_locked functions). */
GPUVM_EXPORT void gpuvm_dma_fence_lock(struct gpuvm_dma_fence *fence);
GPUVM_EXPORT void gpuvm_dma_fence_unlock(struct gpuvm_dma_fence *fence);

/* ---- signalling --------------------------------------------------------- */

/**
 * gpuvm_dma_fence_signal() - signal @fence
 *
 * Runs the pending callbacks in registration order, with the fence lock
 * held, and records the time. Enters a fence signalling section around
 * the work (see gpuvm_dma_fence_begin_signalling()).
 * Context: caller holds a reference and not the fence lock.
 * Return: 0 when this call signaled the fence, -EINVAL when it already
 * was signaled or @fence is NULL.
 */
GPUVM_EXPORT int gpuvm_dma_fence_signal(struct gpuvm_dma_fence *fence);

/* As gpuvm_dma_fence_signal(), with the fence lock held (no section). */
GPUVM_EXPORT int gpuvm_dma_fence_signal_locked(struct gpuvm_dma_fence *fence);

/* As gpuvm_dma_fence_signal() with an explicit CLOCK_MONOTONIC time. */
GPUVM_EXPORT int gpuvm_dma_fence_signal_timestamp(struct gpuvm_dma_fence *fence,
						  int64_t timestamp);

/* As gpuvm_dma_fence_signal_timestamp(), with the fence lock held. */
GPUVM_EXPORT int
gpuvm_dma_fence_signal_timestamp_locked(struct gpuvm_dma_fence *fence,
					int64_t timestamp);

/**
 * gpuvm_dma_fence_check_and_signal() - signal @fence if it is not yet
 * Return: true when the fence already was signaled before the call.
 */
GPUVM_EXPORT bool
gpuvm_dma_fence_check_and_signal(struct gpuvm_dma_fence *fence);

/* As gpuvm_dma_fence_check_and_signal(), with the fence lock held. */
GPUVM_EXPORT bool
gpuvm_dma_fence_check_and_signal_locked(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_timestamp() - when @fence signaled (CLOCK_MONOTONIC ns)
 *
 * Only valid once the fence is signaled; waits for the racing signaller
 * to store the time if needed. An unsignaled fence warns
 * (GPUVM_RULE_FENCE_INVALID) and gives the current time.
 */
GPUVM_EXPORT int64_t gpuvm_dma_fence_timestamp(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_set_error() - mark @fence as completed with @error
 * @error: a negative errno, e.g. -ECANCELED, -ETIME or -ENODATA
 *
 * Must be called before signalling. Afterwards, or with an @error that is
 * not a negative errno, it warns (GPUVM_RULE_FENCE_ERROR) and does nothing.
 */
GPUVM_EXPORT void gpuvm_dma_fence_set_error(struct gpuvm_dma_fence *fence,
					    int error);

/* ---- state -------------------------------------------------------------- */

/* Whether the signaled bit is set; no side effects. */
GPUVM_EXPORT bool
gpuvm_dma_fence_test_signaled_flag(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_is_signaled() - whether @fence has signaled
 *
 * When the bit is not set yet but ops->signaled reports completion, the
 * fence is signaled here (a side effect). Without enabled signalling
 * (callback, wait, gpuvm_dma_fence_enable_sw_signaling()) a fence lacking
 * a signaled op may never turn true.
 * Context: not with the fence lock held (see _locked).
 */
GPUVM_EXPORT bool gpuvm_dma_fence_is_signaled(struct gpuvm_dma_fence *fence);

/* As gpuvm_dma_fence_is_signaled(), with the fence lock held. */
GPUVM_EXPORT bool
gpuvm_dma_fence_is_signaled_locked(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_get_status() - 0 while unsignaled, 1 when signaled
 * without error, the negative error when signaled with one
 */
GPUVM_EXPORT int gpuvm_dma_fence_get_status(struct gpuvm_dma_fence *fence);

/* As gpuvm_dma_fence_get_status(), with the fence lock held. */
GPUVM_EXPORT int
gpuvm_dma_fence_get_status_locked(struct gpuvm_dma_fence *fence);

/**
 * gpuvm_dma_fence_enable_sw_signaling() - ask the producer to signal
 *
 * Calls ops->enable_signaling once per fence; if it reports the fence as
 * already passed, the fence is signaled here.
 */
GPUVM_EXPORT void
gpuvm_dma_fence_enable_sw_signaling(struct gpuvm_dma_fence *fence);

/* ---- ordering ----------------------------------------------------------- */

/**
 * gpuvm_dma_fence_seqno_is_later() - whether @f1 comes after @f2 on
 * @fence's timeline: 64-bit compare for 64-bit fences, else a wrap-safe
 * compare of the low 32 bits
 */
GPUVM_EXPORT bool gpuvm_dma_fence_seqno_is_later(struct gpuvm_dma_fence *fence,
						 uint64_t f1, uint64_t f2);

/* Whether @f1 signals after @f2. Both on one context; else warns
 * (GPUVM_RULE_FENCE_CONTEXT) and returns false. */
GPUVM_EXPORT bool gpuvm_dma_fence_is_later(struct gpuvm_dma_fence *f1,
					   struct gpuvm_dma_fence *f2);

/* As gpuvm_dma_fence_is_later(), and true when @f1 == @f2. */
GPUVM_EXPORT bool gpuvm_dma_fence_is_later_or_same(struct gpuvm_dma_fence *f1,
						   struct gpuvm_dma_fence *f2);

/* The later of two fences of one context, or NULL when that one has
 * already signaled (no reference is taken). */
GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_fence_later(struct gpuvm_dma_fence *f1, struct gpuvm_dma_fence *f2);

/* ---- callbacks ---------------------------------------------------------- */

/**
 * gpuvm_dma_fence_add_callback() - run @func when @fence signals
 * @cb: caller-owned; on one fence at a time
 *
 * Enables signalling. Callbacks run once, in registration order, with
 * the fence lock held, on the signalling thread; they must not take the
 * fence lock and should not block.
 * Context: caller holds a reference to @fence.
 * Return: 0 when registered; -ENOENT when the fence already signaled (the
 * callback is not called; @cb->node is left empty); -EINVAL with a
 * warning when @fence or @func is NULL.
 */
GPUVM_EXPORT int gpuvm_dma_fence_add_callback(struct gpuvm_dma_fence *fence,
					      struct gpuvm_dma_fence_cb *cb,
					      gpuvm_dma_fence_func_t func);

/**
 * gpuvm_dma_fence_remove_callback() - unregister a pending callback
 *
 * Context: caller holds a reference to @fence; @cb went through
 * gpuvm_dma_fence_add_callback().
 * Return: true when it was still pending (it will not run), false when it
 * already ran or was never registered.
 */
GPUVM_EXPORT bool
gpuvm_dma_fence_remove_callback(struct gpuvm_dma_fence *fence,
				struct gpuvm_dma_fence_cb *cb);

/* ---- waiting ------------------------------------------------------------ */

/**
 * gpuvm_dma_fence_wait_timeout() - sleep until @fence signals
 * @intr: whether gpuvm_interrupt_thread() interrupts the wait
 * @timeout: nanoseconds; 0 polls; GPUVM_MAX_SCHEDULE_TIMEOUT: no limit
 *
 * Enables signalling, then calls ops->wait or
 * gpuvm_dma_fence_default_wait(). The debug checker sees a fence wait
 * (gpuvm_might_wait_fence()): inside a signalling section or while holding
 * a signalling-safe lock it is reported, even with a zero timeout.
 * Context: may sleep; caller holds a reference.
 * Return: the remaining time (> 0; at least 1 when signaled, 1 for a poll
 * of a signaled fence, GPUVM_MAX_SCHEDULE_TIMEOUT when unlimited), 0 on
 * timeout, -EINTR when interrupted (the kernel's -ERESTARTSYS), -EINVAL
 * with a warning for a negative @timeout.
 */
GPUVM_EXPORT int64_t gpuvm_dma_fence_wait_timeout(struct gpuvm_dma_fence *fence,
						  bool intr, int64_t timeout);

/* The built-in wait; same contract as gpuvm_dma_fence_wait_timeout()
 * without the annotation and the enabling. */
GPUVM_EXPORT int64_t gpuvm_dma_fence_default_wait(struct gpuvm_dma_fence *fence,
						  bool intr, int64_t timeout);

/* Wait without a limit. Return: 0, or -EINTR when @intr and interrupted. */
GPUVM_EXPORT int gpuvm_dma_fence_wait(struct gpuvm_dma_fence *fence, bool intr);

/**
 * gpuvm_dma_fence_wait_any_timeout() - wait until one of @fences signals
 * @idx: if not NULL, receives the index of a signaled fence
 *
 * Context: may sleep and allocates (one callback per fence).
 * Return: as gpuvm_dma_fence_wait_timeout(); -EINVAL (with a warning) for
 * a NULL array, @count 0 or a negative timeout; -ENOMEM.
 */
GPUVM_EXPORT int64_t gpuvm_dma_fence_wait_any_timeout(
	struct gpuvm_dma_fence **fences, uint32_t count, bool intr,
	int64_t timeout, uint32_t *idx);

/* Forward a "needed by @deadline" hint to an unsignaled fence's producer. */
GPUVM_EXPORT void gpuvm_dma_fence_set_deadline(struct gpuvm_dma_fence *fence,
					       int64_t deadline);

/* ---- stubs and debug output --------------------------------------------- */

/* A reference to the global, always signaled stub fence (context 0). */
GPUVM_EXPORT struct gpuvm_dma_fence *gpuvm_dma_fence_get_stub(void);

/* A new signaled fence with @timestamp; NULL when out of memory. */
GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_fence_allocate_private_stub(int64_t timestamp);

/* Producer names; fixed placeholders once the fence signaled. */
GPUVM_EXPORT const char *
gpuvm_dma_fence_driver_name(struct gpuvm_dma_fence *fence);
GPUVM_EXPORT const char *
gpuvm_dma_fence_timeline_name(struct gpuvm_dma_fence *fence);

/* One line about @fence: names, seqno, signaled or not. */
GPUVM_EXPORT void gpuvm_dma_fence_describe(struct gpuvm_dma_fence *fence,
					   FILE *seq);

GPUVM_END_DECLS

#endif /* GPUVM_DMA_FENCE_H */
