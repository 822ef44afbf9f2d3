/* SPDX-License-Identifier: MIT */
/*
 * Reservation objects: a wound/wait lock plus the fences of a buffer.
 *
 * The lock (of the wait-die class gpuvm_reservation_ww_class) serialises
 * writers: adding and replacing fences, and whatever buffer state the
 * driver keeps under it. Readers walk the fences without the lock, under
 * RCU, through the unlocked iterator and the query helpers built on it.
 *
 * Every fence carries a usage; asking for usage U gives every fence whose
 * usage is U or comes before it in KERNEL < WRITE < READ < BOOKKEEP.
 *
 * Adding a fence cannot fail: room is reserved beforehand with
 * gpuvm_dma_resv_reserve_fences(), which can. A reservation lasts until the
 * object is unlocked; with debug checking on, unlocking drops the unused
 * reserved slots, so an add without a fresh reservation is caught at once.
 * An add without a free slot warns (GPUVM_RULE_RESV_NO_SLOT) and is
 * refused, where the kernel would crash.
 *
 * Timeouts are nanoseconds and an interrupted wait returns -EINTR, as for
 * gpuvm_dma_fence_wait_timeout().
 */
#ifndef GPUVM_DMA_RESV_H
#define GPUVM_DMA_RESV_H

#include <stdio.h>

#include <gpuvm/common.h>
#include <gpuvm/debug.h>
#include <gpuvm/dma_fence.h>
#include <gpuvm/ww_mutex.h>

GPUVM_BEGIN_DECLS

/* Rules of the reservation warnings. */
#define GPUVM_RULE_RESV_NO_SLOT "dma-resv-no-fence-slot"
#define GPUVM_RULE_RESV_CONTAINER "dma-resv-container-fence"
#define GPUVM_RULE_RESV_INVALID "dma-resv-invalid-argument"

/* The lock class of every reservation object (wait-die). Its mutexes have
 * GPUVM_LOCK_CLASS_RESV: taking one in a signalling section is reported. */
GPUVM_EXPORT extern struct gpuvm_ww_class gpuvm_reservation_ww_class;

/**
 * enum gpuvm_dma_resv_usage - how a fence uses the buffer, strongest first
 * @GPUVM_DMA_RESV_USAGE_KERNEL: memory management (moves, clears); every
 *	user of the backing storage waits for these
 * @GPUVM_DMA_RESV_USAGE_WRITE: implicitly synchronised writers
 * @GPUVM_DMA_RESV_USAGE_READ: implicitly synchronised readers
 * @GPUVM_DMA_RESV_USAGE_BOOKKEEP: outside implicit sync (preemption fences,
 *	page-table updates, explicitly synchronised work); memory management
 *	still waits for them
 *
 * A fence may be re-added with a stronger usage, never demoted.
 */
enum gpuvm_dma_resv_usage {
	GPUVM_DMA_RESV_USAGE_KERNEL,
	GPUVM_DMA_RESV_USAGE_WRITE,
	GPUVM_DMA_RESV_USAGE_READ,
	GPUVM_DMA_RESV_USAGE_BOOKKEEP,
};

/**
 * gpuvm_dma_resv_usage_rw() - the usage an implicitly synced access waits for
 * @write: true for a new writer
 *
 * A writer waits for readers and writers (READ), a reader only for writers
 * (WRITE).
 */
static inline enum gpuvm_dma_resv_usage gpuvm_dma_resv_usage_rw(bool write)
{
	return write ? GPUVM_DMA_RESV_USAGE_READ : GPUVM_DMA_RESV_USAGE_WRITE;
}

struct gpuvm_dma_resv_list;

/**
 * struct gpuvm_dma_resv - a reservation object
 * @lock: the wound/wait lock; use the gpuvm_dma_resv_*lock* functions
 * @fences: the fence list (RCU-protected; private)
 */
struct gpuvm_dma_resv {
	struct gpuvm_ww_mutex lock;
	struct gpuvm_dma_resv_list *fences;
};

/**
 * struct gpuvm_dma_resv_iter - fence iterator state
 * @obj: the object walked
 * @usage: the requested usage
 * @fence: the current fence (referenced by the unlocked iterator)
 * @fence_usage: usage of the current fence
 * @index: next index in @fences
 * @fences: the list walked (private)
 * @num_fences: entries of @fences the unlocked walk covers
 * @is_restarted: whether the walk started (again) with the current fence
 */
struct gpuvm_dma_resv_iter {
	struct gpuvm_dma_resv *obj;
	enum gpuvm_dma_resv_usage usage;
	struct gpuvm_dma_fence *fence;
	enum gpuvm_dma_resv_usage fence_usage;
	unsigned int index;
	struct gpuvm_dma_resv_list *fences;
	unsigned int num_fences;
	bool is_restarted;
};

/* ---- lifetime ----------------------------------------------------------- */

/* Initialise @obj: unlocked, no fences. */
GPUVM_EXPORT void gpuvm_dma_resv_init(struct gpuvm_dma_resv *obj);

/* Destroy @obj, which nobody uses any more (not locked): drops its fence
 * references; the list is freed after a grace period. */
GPUVM_EXPORT void gpuvm_dma_resv_fini(struct gpuvm_dma_resv *obj);

/* ---- locking ------------------------------------------------------------ */

/**
 * gpuvm_dma_resv_lock() - lock @obj, as part of @ctx (may be NULL)
 *
 * Context: may block; never inside a fence signalling section.
 * Return: 0; -EALREADY when @ctx already holds @obj; -EDEADLK when @ctx
 * must back off (see gpuvm_ww_mutex_lock()).
 */
static inline int gpuvm_dma_resv_lock(struct gpuvm_dma_resv *obj,
				      struct gpuvm_ww_acquire_ctx *ctx)
{
	return gpuvm_ww_mutex_lock(&obj->lock, ctx);
}

/* As gpuvm_dma_resv_lock(); an interrupted wait returns -EINTR. */
static inline int
gpuvm_dma_resv_lock_interruptible(struct gpuvm_dma_resv *obj,
				  struct gpuvm_ww_acquire_ctx *ctx)
{
	return gpuvm_ww_mutex_lock_interruptible(&obj->lock, ctx);
}

/* Lock the contended @obj after backing off from -EDEADLK. */
static inline void gpuvm_dma_resv_lock_slow(struct gpuvm_dma_resv *obj,
					    struct gpuvm_ww_acquire_ctx *ctx)
{
	gpuvm_ww_mutex_lock_slow(&obj->lock, ctx);
}

/* As gpuvm_dma_resv_lock_slow(). Return: 0 or -EINTR. */
static inline int
gpuvm_dma_resv_lock_slow_interruptible(struct gpuvm_dma_resv *obj,
				       struct gpuvm_ww_acquire_ctx *ctx)
{
	return gpuvm_ww_mutex_lock_slow_interruptible(&obj->lock, ctx);
}

/* Lock @obj if it is free, outside any acquire context. Never blocks.
 * Return: true when locked. */
static inline bool gpuvm_dma_resv_trylock(struct gpuvm_dma_resv *obj)
{
	return gpuvm_ww_mutex_trylock(&obj->lock, NULL);
}

/* Unlock @obj. With debug checking on, unused reserved slots are dropped. */
GPUVM_EXPORT void gpuvm_dma_resv_unlock(struct gpuvm_dma_resv *obj);

/* Whether anybody holds @obj (a snapshot). */
static inline bool gpuvm_dma_resv_is_locked(struct gpuvm_dma_resv *obj)
{
	return gpuvm_ww_mutex_is_locked(&obj->lock);
}

/* The context @obj is locked with; NULL when unlocked or locked without. */
static inline struct gpuvm_ww_acquire_ctx *
gpuvm_dma_resv_locking_ctx(struct gpuvm_dma_resv *obj)
{
	return __atomic_load_n(&obj->lock.ctx, __ATOMIC_RELAXED);
}

/* Whether the calling thread holds @obj (always true with the debug
 * checker off, like lockdep_is_held() without lockdep). */
GPUVM_EXPORT bool gpuvm_dma_resv_held(struct gpuvm_dma_resv *obj);

/* Warn (GPUVM_RULE_LOCK_NOT_HELD, naming @func) unless the calling thread
 * holds @obj. */
GPUVM_EXPORT void gpuvm_dma_resv_assert_held_func(struct gpuvm_dma_resv *obj,
						  const char *func);

/* Warn, naming the calling function, unless the calling thread holds @obj. */
#define gpuvm_dma_resv_assert_held(obj) \
	gpuvm_dma_resv_assert_held_func((obj), __func__)

/* ---- fences ------------------------------------------------------------- */

/**
 * gpuvm_dma_resv_reserve_fences() - make room for @num_fences more fences
 *
 * Context: @obj locked; allocates (not in a signalling section). The room
 * lasts until @obj is unlocked. 0 is treated as 1. A new list starts with
 * room for max(4, next power of two of @num_fences) fences and grows to
 * max(used + @num_fences, twice the old capacity); growing drops the
 * signaled fences.
 * Return: 0, or -ENOMEM with @obj unchanged.
 */
GPUVM_EXPORT int gpuvm_dma_resv_reserve_fences(struct gpuvm_dma_resv *obj,
					       unsigned int num_fences);

/**
 * gpuvm_dma_resv_add_fence() - add @fence with @usage; takes a reference
 *
 * Overwrites in place the first entry that is either signaled, or of
 * @fence's context with @fence the same or later and a usage not stronger
 * than @usage; otherwise appends in a reserved slot. Containers (arrays)
 * must not be added: that warns (GPUVM_RULE_RESV_CONTAINER). Without a free
 * slot it warns (GPUVM_RULE_RESV_NO_SLOT) and adds nothing.
 * Context: @obj locked. The fence is visible to lockless readers at once,
 * so the caller is in its signalling path for @fence from here on.
 */
GPUVM_EXPORT void gpuvm_dma_resv_add_fence(struct gpuvm_dma_resv *obj,
					   struct gpuvm_dma_fence *fence,
					   enum gpuvm_dma_resv_usage usage);

/**
 * gpuvm_dma_resv_replace_fences() - replace every fence of @context
 *
 * Each entry whose fence is on @context, signaled or not, becomes
 * @replacement with @usage. Only valid when the replaced work can no
 * longer touch the buffer once @replacement signals.
 * Context: @obj locked.
 */
GPUVM_EXPORT void
gpuvm_dma_resv_replace_fences(struct gpuvm_dma_resv *obj, uint64_t context,
			      struct gpuvm_dma_fence *replacement,
			      enum gpuvm_dma_resv_usage usage);

/**
 * gpuvm_dma_resv_copy_fences() - make @dst's fences the unsignaled ones
 * of @src, with their usages
 *
 * Context: @dst locked; @src need not be. Allocates.
 * Return: 0, or -ENOMEM with @dst unchanged.
 */
GPUVM_EXPORT int gpuvm_dma_resv_copy_fences(struct gpuvm_dma_resv *dst,
					    struct gpuvm_dma_resv *src);

/* ---- iteration ---------------------------------------------------------- */

/* Start an iteration over @obj's fences of @usage or stronger. */
static inline void gpuvm_dma_resv_iter_begin(struct gpuvm_dma_resv_iter *cursor,
					     struct gpuvm_dma_resv *obj,
					     enum gpuvm_dma_resv_usage usage)
{
	cursor->obj = obj;
	cursor->usage = usage;
	cursor->fence = NULL;
}

/* End an unlocked iteration: drops the reference on the current fence. */
GPUVM_EXPORT void gpuvm_dma_resv_iter_end(struct gpuvm_dma_resv_iter *cursor);

/* Usage of the current fence. */
static inline enum gpuvm_dma_resv_usage
gpuvm_dma_resv_iter_usage(struct gpuvm_dma_resv_iter *cursor)
{
	return cursor->fence_usage;
}

/* Whether the current fence is the first of a (re)started walk: whatever
 * the loop accumulated so far must be thrown away. */
static inline bool
gpuvm_dma_resv_iter_is_restarted(struct gpuvm_dma_resv_iter *cursor)
{
	return cursor->is_restarted;
}

/* Locked walk: signaled and unsignaled fences, no references taken.
 * Context: @cursor->obj locked. Return: a fence or NULL at the end. */
GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_resv_iter_first(struct gpuvm_dma_resv_iter *cursor);
GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_resv_iter_next(struct gpuvm_dma_resv_iter *cursor);

/**
 * gpuvm_dma_resv_for_each_fence() - walk the fences of a locked object
 * @cursor: struct gpuvm_dma_resv_iter *
 * @obj: the locked object
 * @usage: the usage asked for
 * @fence: struct gpuvm_dma_fence *, the current fence (not referenced)
 */
#define gpuvm_dma_resv_for_each_fence(cursor, obj, usage, fence) \
	for (gpuvm_dma_resv_iter_begin(cursor, obj, usage),      \
	     fence = gpuvm_dma_resv_iter_first(cursor);          \
	     fence; fence = gpuvm_dma_resv_iter_next(cursor))

/*
 * Lockless walk: unsignaled fences only, each referenced while current.
 * The walk restarts when the list is reallocated meanwhile and may then
 * return fences again; see gpuvm_dma_resv_iter_is_restarted().
 */
GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_resv_iter_first_unlocked(struct gpuvm_dma_resv_iter *cursor);
GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_resv_iter_next_unlocked(struct gpuvm_dma_resv_iter *cursor);

/**
 * gpuvm_dma_resv_for_each_fence_unlocked() - walk fences without the lock
 * @cursor: begun with gpuvm_dma_resv_iter_begin(), ended with
 *	gpuvm_dma_resv_iter_end() (also after breaking out of the loop)
 * @fence: struct gpuvm_dma_fence *, the current fence; referenced until
 *	the next step, so the loop body may sleep
 */
#define gpuvm_dma_resv_for_each_fence_unlocked(cursor, fence)           \
	for (fence = gpuvm_dma_resv_iter_first_unlocked(cursor); fence; \
	     fence = gpuvm_dma_resv_iter_next_unlocked(cursor))

/* ---- queries (lockless) ------------------------------------------------- */

/**
 * gpuvm_dma_resv_get_fences() - snapshot the unsignaled fences of @usage
 * @num_fences: receives the count
 * @fences: receives a gpuvm_kmalloc()ed array of referenced fences (NULL
 *	possible when the count is 0); the caller puts each and frees it
 *
 * Return: 0, or -ENOMEM (then *@num_fences is 0 and *@fences NULL).
 */
GPUVM_EXPORT int gpuvm_dma_resv_get_fences(struct gpuvm_dma_resv *obj,
					   enum gpuvm_dma_resv_usage usage,
					   unsigned int *num_fences,
					   struct gpuvm_dma_fence ***fences);

/**
 * gpuvm_dma_resv_get_singleton() - one fence standing for all of @usage
 * @fence: receives NULL (no unsignaled fence), the only fence, or a new
 *	container on a fresh context that signals when all of them have.
 *	Referenced. A container must not be added to a reservation object.
 *
 * Return: 0 or -ENOMEM.
 */
GPUVM_EXPORT int gpuvm_dma_resv_get_singleton(struct gpuvm_dma_resv *obj,
					      enum gpuvm_dma_resv_usage usage,
					      struct gpuvm_dma_fence **fence);

/**
 * gpuvm_dma_resv_wait_timeout() - wait for the fences of @usage
 * @timeout: nanoseconds; GPUVM_MAX_SCHEDULE_TIMEOUT for no limit. 0 does
 *	not poll: each unsignaled fence is still waited for up to
 *	GPUVM_DMA_RESV_ZERO_TIMEOUT_TICK_NS (the kernel's one jiffy); use
 *	gpuvm_dma_resv_test_signaled() to poll.
 *
 * Context: may sleep; @obj need not be locked.
 * Return: the time left (> 0; 1 for a zero @timeout), 0 on timeout,
 * -EINTR when @intr and interrupted.
 */
GPUVM_EXPORT int64_t gpuvm_dma_resv_wait_timeout(
	struct gpuvm_dma_resv *obj, enum gpuvm_dma_resv_usage usage, bool intr,
	int64_t timeout);

/* The budget per unsignaled fence of a zero-timeout reservation wait. */
#define GPUVM_DMA_RESV_ZERO_TIMEOUT_TICK_NS 1000000LL

/* Whether every fence of @usage has signaled. Never sleeps. */
GPUVM_EXPORT bool gpuvm_dma_resv_test_signaled(struct gpuvm_dma_resv *obj,
					       enum gpuvm_dma_resv_usage usage);

/* Pass a CLOCK_MONOTONIC deadline hint to every unsignaled fence of @usage. */
GPUVM_EXPORT void gpuvm_dma_resv_set_deadline(struct gpuvm_dma_resv *obj,
					      enum gpuvm_dma_resv_usage usage,
					      int64_t deadline);

/* Print one line per fence up to READ usage. Context: @obj locked. */
GPUVM_EXPORT void gpuvm_dma_resv_describe(struct gpuvm_dma_resv *obj,
					  FILE *seq);

/* ---- lock guard --------------------------------------------------------- */

/* Rule of the guard warning. */
#define GPUVM_RULE_RESV_GUARD_THREAD "dma-resv-guard-wrong-thread"

/**
 * struct gpuvm_dma_resv_guard - a reservation locked by one thread, for
 * one lock/unlock pair (the Rust DmaResvGuard)
 * @resv: the locked reservation; NULL once unlocked
 * @owner: the thread that locked it
 *
 * A guard belongs to the thread that took it: unlocking it on another
 * thread is reported (GPUVM_RULE_RESV_GUARD_THREAD) and refused, since a
 * mutex must be released by its owner. With GCC or Clang,
 * gpuvm_dma_resv_guard_scoped() unlocks automatically at the end of the
 * enclosing block, including on early returns.
 */
struct gpuvm_dma_resv_guard {
	struct gpuvm_dma_resv *resv;
	pthread_t owner;
};

/**
 * gpuvm_dma_resv_guard_lock() - lock @resv without acquire context
 *
 * Context: may block; not in a fence signalling section.
 * Return: the guard, to be passed to gpuvm_dma_resv_guard_unlock().
 */
static inline struct gpuvm_dma_resv_guard
gpuvm_dma_resv_guard_lock(struct gpuvm_dma_resv *resv)
{
	struct gpuvm_dma_resv_guard guard;

	gpuvm_dma_resv_lock(resv, NULL);
	guard.resv = resv;
	guard.owner = pthread_self();
	return guard;
}

/* Unlock the guard's reservation (once; later calls do nothing). Refused
 * and reported on another thread than the one that locked it. */
static inline void
gpuvm_dma_resv_guard_unlock(struct gpuvm_dma_resv_guard *guard)
{
	if (!guard->resv)
		return;
	if (gpuvm_debug_enabled() &&
	    !pthread_equal(guard->owner, pthread_self())) {
		gpuvm_warn(GPUVM_RULE_RESV_GUARD_THREAD,
			   "gpuvm_dma_resv_guard_unlock: the guard was taken "
			   "by another thread; not unlocked");
		return;
	}
	gpuvm_dma_resv_unlock(guard->resv);
	guard->resv = NULL;
}

#if defined(__GNUC__) || defined(__clang__)
/* Declare guard @name__ holding @resv__ until the end of the block. */
#define gpuvm_dma_resv_guard_scoped(name__, resv__)                  \
	struct gpuvm_dma_resv_guard name__                           \
		__attribute__((cleanup(gpuvm_dma_resv_guard_unlock), \
			       unused)) = gpuvm_dma_resv_guard_lock(resv__)
#endif

GPUVM_END_DECLS

#endif /* GPUVM_DMA_RESV_H */
