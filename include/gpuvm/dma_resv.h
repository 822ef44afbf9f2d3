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
 *
 * "Does not allocate" below means no library allocation, as in mutex.h.
 * The lockless functions may run a fence's ops->signaled and signal it
 * (see gpuvm_dma_fence_is_signaled()).
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
 * Context: any; pure.
 * Return: GPUVM_DMA_RESV_USAGE_READ for a writer (it waits for readers and
 * writers), GPUVM_DMA_RESV_USAGE_WRITE for a reader (it waits for writers
 * only).
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

/**
 * gpuvm_dma_resv_init() - initialise @obj: unlocked, no fences
 * @obj: the reservation object; must not be in use
 *
 * Its lock joins gpuvm_reservation_ww_class.
 * Context: any; does not block or allocate.
 */
GPUVM_EXPORT void gpuvm_dma_resv_init(struct gpuvm_dma_resv *obj);

/**
 * gpuvm_dma_resv_fini() - destroy @obj
 * @obj: an object nobody uses any more, not locked
 *
 * Drops the object's fence references (a last put releases the fence);
 * the list is freed after an RCU grace period. Then the lock is destroyed
 * as by gpuvm_ww_mutex_destroy(), which reports a locked object (checker
 * on).
 * Context: any; does not block or allocate.
 */
GPUVM_EXPORT void gpuvm_dma_resv_fini(struct gpuvm_dma_resv *obj);

/* ---- locking ------------------------------------------------------------ */

/**
 * gpuvm_dma_resv_lock() - lock @obj, as part of @ctx
 * @obj: the reservation object
 * @ctx: an acquire context of gpuvm_reservation_ww_class, or NULL to lock
 *	@obj alone
 *
 * With the checker on, taking it inside a fence signalling section is
 * reported (GPUVM_RULE_SIGNALLING_RESV).
 * Context: may block, uninterruptibly; does not allocate; never inside a
 * fence signalling section.
 * Return: as gpuvm_ww_mutex_lock(): 0 when locked; -EALREADY when @ctx
 * already holds @obj; -EDEADLK when @ctx must back off (only while it
 * holds another lock), or, with the checker on, when the calling thread
 * already holds @obj other than through @ctx.
 * Kernel parity: as gpuvm_ww_mutex_lock(): relocking reports and returns
 * -EDEADLK instead of deadlocking.
 */
static inline int gpuvm_dma_resv_lock(struct gpuvm_dma_resv *obj,
				      struct gpuvm_ww_acquire_ctx *ctx)
{
	return gpuvm_ww_mutex_lock(&obj->lock, ctx);
}

/**
 * gpuvm_dma_resv_lock_interruptible() - as gpuvm_dma_resv_lock(), but a
 * wait can be interrupted
 * @obj: the reservation object
 * @ctx: an acquire context of gpuvm_reservation_ww_class, or NULL
 *
 * Context: may block until gpuvm_interrupt_thread() interrupts the wait;
 * does not allocate; never inside a fence signalling section.
 * Return: as gpuvm_dma_resv_lock(), plus -EINTR when the wait was
 * interrupted (see gpuvm_ww_mutex_lock_interruptible()).
 * Kernel parity: interrupts come from gpuvm_interrupt_thread(), not from
 * signals; otherwise as gpuvm_dma_resv_lock().
 */
static inline int
gpuvm_dma_resv_lock_interruptible(struct gpuvm_dma_resv *obj,
				  struct gpuvm_ww_acquire_ctx *ctx)
{
	return gpuvm_ww_mutex_lock_interruptible(&obj->lock, ctx);
}

/**
 * gpuvm_dma_resv_lock_slow() - lock the contended @obj after backing off
 * @obj: the object the last -EDEADLK of @ctx was about
 * @ctx: the acquire context, which holds no lock any more
 *
 * See gpuvm_ww_mutex_lock_slow(), including what misuse does.
 * Context: may block, uninterruptibly; does not allocate; never inside a
 * fence signalling section.
 */
static inline void gpuvm_dma_resv_lock_slow(struct gpuvm_dma_resv *obj,
					    struct gpuvm_ww_acquire_ctx *ctx)
{
	gpuvm_ww_mutex_lock_slow(&obj->lock, ctx);
}

/**
 * gpuvm_dma_resv_lock_slow_interruptible() - as gpuvm_dma_resv_lock_slow(),
 * but the wait can be interrupted
 * @obj: the object the last -EDEADLK of @ctx was about
 * @ctx: the acquire context, which holds no lock any more
 *
 * Context: as gpuvm_dma_resv_lock_interruptible().
 * Return: as gpuvm_ww_mutex_lock_slow_interruptible(): 0 when locked,
 * -EINTR when interrupted (@obj not locked).
 */
static inline int
gpuvm_dma_resv_lock_slow_interruptible(struct gpuvm_dma_resv *obj,
				       struct gpuvm_ww_acquire_ctx *ctx)
{
	return gpuvm_ww_mutex_lock_slow_interruptible(&obj->lock, ctx);
}

/**
 * gpuvm_dma_resv_trylock() - lock @obj if it is free
 * @obj: the reservation object
 *
 * Outside any acquire context: the lock is not part of a transaction.
 * Context: never waits for a holder; does not allocate. With the checker
 * on, a trylock inside a fence signalling section is reported too
 * (GPUVM_RULE_SIGNALLING_RESV).
 * Return: true when locked; false when anybody, the calling thread
 * included, holds @obj.
 */
static inline bool gpuvm_dma_resv_trylock(struct gpuvm_dma_resv *obj)
{
	return gpuvm_ww_mutex_trylock(&obj->lock, NULL);
}

/**
 * gpuvm_dma_resv_unlock() - unlock @obj
 * @obj: an object the calling thread locked
 *
 * With the checker on, the unused reserved fence slots are dropped first,
 * so the next lock session must reserve again.
 * Context: the thread that locked @obj; does not block or allocate;
 * allowed in a fence signalling section.
 * Kernel parity: as gpuvm_ww_mutex_unlock(): an unlock of an object the
 * thread does not hold is reported and ignored (checker on).
 */
GPUVM_EXPORT void gpuvm_dma_resv_unlock(struct gpuvm_dma_resv *obj);

/**
 * gpuvm_dma_resv_is_locked() - whether anybody holds @obj
 * @obj: the reservation object
 *
 * Context: any; lock-free.
 * Return: a snapshot: true when some thread held @obj at the time of the
 * read.
 */
static inline bool gpuvm_dma_resv_is_locked(struct gpuvm_dma_resv *obj)
{
	return gpuvm_ww_mutex_is_locked(&obj->lock);
}

/**
 * gpuvm_dma_resv_locking_ctx() - the context @obj is locked with
 * @obj: the reservation object
 *
 * Context: any; lock-free. Only meaningful to the holder (e.g. to compare
 * with its own context); others get a snapshot.
 * Return: the acquire context holding @obj; NULL when unlocked or locked
 * without a context.
 */
static inline struct gpuvm_ww_acquire_ctx *
gpuvm_dma_resv_locking_ctx(struct gpuvm_dma_resv *obj)
{
	return __atomic_load_n(&obj->lock.ctx, __ATOMIC_RELAXED);
}

/**
 * gpuvm_dma_resv_held() - whether the calling thread holds @obj
 * @obj: the reservation object
 *
 * Context: any; does not block or allocate.
 * Return: true when the calling thread holds @obj, and always true with
 * the debug checker off (like lockdep_is_held() without lockdep).
 */
GPUVM_EXPORT bool gpuvm_dma_resv_held(struct gpuvm_dma_resv *obj);

/**
 * gpuvm_dma_resv_assert_held_func() - report unless the calling thread
 * holds @obj
 * @obj: the reservation object
 * @func: the caller's name, for the report
 *
 * Warns GPUVM_RULE_LOCK_NOT_HELD, naming @func; nothing with the checker
 * off. gpuvm_dma_resv_assert_held() passes the calling function's name.
 * Context: any; does not block or allocate.
 */
GPUVM_EXPORT void gpuvm_dma_resv_assert_held_func(struct gpuvm_dma_resv *obj,
						  const char *func);

/* Warn, naming the calling function, unless the calling thread holds @obj. */
#define gpuvm_dma_resv_assert_held(obj) \
	gpuvm_dma_resv_assert_held_func((obj), __func__)

/* ---- fences ------------------------------------------------------------- */

/**
 * gpuvm_dma_resv_reserve_fences() - make room for @num_fences more fences
 * @obj: the locked reservation object
 * @num_fences: slots wanted; 0 is treated as 1
 *
 * The room lasts until @obj is unlocked. A new list starts with room for
 * max(4, next power of two of @num_fences) fences and grows to
 * max(used + @num_fences, twice the old capacity); growing drops the
 * signaled fences (asked with gpuvm_dma_fence_is_signaled()).
 * Context: @obj locked (with the checker on, reported otherwise:
 * GPUVM_RULE_LOCK_NOT_HELD); allocates when the list must grow, so not in
 * a fence signalling section.
 * Return: 0, or -ENOMEM with @obj unchanged (also when the list would
 * exceed 2^24 entries).
 */
GPUVM_EXPORT int gpuvm_dma_resv_reserve_fences(struct gpuvm_dma_resv *obj,
					       unsigned int num_fences);

/**
 * gpuvm_dma_resv_add_fence() - add @fence to @obj with @usage
 * @obj: the locked reservation object
 * @fence: the fence; @obj takes its own reference
 * @usage: how the fence uses the buffer
 *
 * Overwrites in place the first entry that is either signaled, or of
 * @fence's context with @fence the same or later and a usage not stronger
 * than @usage (its reference is dropped); otherwise appends in a reserved
 * slot. Adding a container (a fence array) warns
 * (GPUVM_RULE_RESV_CONTAINER) and adds it anyway. A NULL @fence or an
 * invalid @usage warns (GPUVM_RULE_RESV_INVALID) and adds nothing; so
 * does a missing slot (GPUVM_RULE_RESV_NO_SLOT). The caller keeps its own
 * reference either way.
 * Context: @obj locked (reported otherwise, checker on); does not block or
 * allocate. The fence is visible to lockless readers at once, so the
 * caller is in its signalling path for @fence from here on.
 * Kernel parity: adding without a free slot warns and adds nothing; the
 * kernel crashes.
 */
GPUVM_EXPORT void gpuvm_dma_resv_add_fence(struct gpuvm_dma_resv *obj,
					   struct gpuvm_dma_fence *fence,
					   enum gpuvm_dma_resv_usage usage);

/**
 * gpuvm_dma_resv_replace_fences() - replace every fence of @context
 * @obj: the locked reservation object
 * @context: the fence context whose entries are replaced
 * @replacement: the new fence; @obj takes one reference per replaced entry
 * @usage: the usage of the replaced entries
 *
 * Each entry whose fence is on @context, signaled or not, becomes
 * @replacement with @usage, and the old fence's reference is dropped.
 * Only valid when the replaced work can no longer touch the buffer once
 * @replacement signals. An invalid @usage warns (GPUVM_RULE_RESV_INVALID)
 * and changes nothing.
 * Context: @obj locked (reported otherwise, checker on); does not block or
 * allocate.
 */
GPUVM_EXPORT void
gpuvm_dma_resv_replace_fences(struct gpuvm_dma_resv *obj, uint64_t context,
			      struct gpuvm_dma_fence *replacement,
			      enum gpuvm_dma_resv_usage usage);

/**
 * gpuvm_dma_resv_copy_fences() - make @dst's fences the unsignaled ones
 * of @src, with their usages
 * @dst: the locked destination; its previous fences are dropped
 * @src: the source, read locklessly (it need not be locked)
 *
 * The new list may have no spare room: reserve before adding to @dst.
 * Context: @dst locked (reported otherwise, checker on); allocates, so not
 * in a fence signalling section.
 * Return: 0, or -ENOMEM with @dst unchanged.
 */
GPUVM_EXPORT int gpuvm_dma_resv_copy_fences(struct gpuvm_dma_resv *dst,
					    struct gpuvm_dma_resv *src);

/* ---- iteration ---------------------------------------------------------- */

/**
 * gpuvm_dma_resv_iter_begin() - prepare @cursor for a walk of @obj
 * @cursor: the iterator
 * @obj: the reservation object to walk
 * @usage: the usage asked for: fences of @usage or stronger are returned
 *
 * Needed before gpuvm_dma_resv_iter_first() and
 * gpuvm_dma_resv_iter_first_unlocked().
 * Context: any; does not lock, reference or allocate anything.
 */
static inline void gpuvm_dma_resv_iter_begin(struct gpuvm_dma_resv_iter *cursor,
					     struct gpuvm_dma_resv *obj,
					     enum gpuvm_dma_resv_usage usage)
{
	cursor->obj = obj;
	cursor->usage = usage;
	cursor->fence = NULL;
}

/**
 * gpuvm_dma_resv_iter_end() - end an unlocked walk
 * @cursor: the iterator
 *
 * Drops the reference on the current fence, if any (not needed after a
 * locked walk, which holds none).
 * Context: any; does not block or allocate.
 */
GPUVM_EXPORT void gpuvm_dma_resv_iter_end(struct gpuvm_dma_resv_iter *cursor);

/**
 * gpuvm_dma_resv_iter_usage() - usage of the current fence
 * @cursor: an iterator on a fence
 *
 * Context: the thread running the walk; pure.
 * Return: the usage the current fence was added with.
 */
static inline enum gpuvm_dma_resv_usage
gpuvm_dma_resv_iter_usage(struct gpuvm_dma_resv_iter *cursor)
{
	return cursor->fence_usage;
}

/**
 * gpuvm_dma_resv_iter_is_restarted() - whether the walk (re)started here
 * @cursor: an iterator on a fence
 *
 * Context: the thread running the walk; pure.
 * Return: true when the current fence is the first of a (re)started walk:
 * whatever the loop accumulated so far must be thrown away.
 */
static inline bool
gpuvm_dma_resv_iter_is_restarted(struct gpuvm_dma_resv_iter *cursor)
{
	return cursor->is_restarted;
}

/**
 * gpuvm_dma_resv_iter_first() - first fence of a locked walk
 * @cursor: begun with gpuvm_dma_resv_iter_begin()
 *
 * gpuvm_dma_resv_iter_next() gives the following ones. Signaled and
 * unsignaled fences alike, of the usage asked for or stronger; no
 * references are taken (the fences stay valid while @obj is locked).
 * Context: @cursor->obj locked (reported otherwise, checker on); does not
 * block or allocate.
 * Return: a fence, or NULL at the end.
 */
GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_resv_iter_first(struct gpuvm_dma_resv_iter *cursor);

/**
 * gpuvm_dma_resv_iter_next() - next fence of a locked walk
 * @cursor: after gpuvm_dma_resv_iter_first()
 *
 * Context: as gpuvm_dma_resv_iter_first().
 * Return: a fence, or NULL at the end.
 */
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

/**
 * gpuvm_dma_resv_iter_first_unlocked() - first fence of a lockless walk
 * @cursor: begun with gpuvm_dma_resv_iter_begin()
 *
 * gpuvm_dma_resv_iter_next_unlocked() gives the following ones. Only
 * unsignaled fences of the usage asked for or stronger, each referenced
 * by @cursor until the next step or gpuvm_dma_resv_iter_end(). The walk
 * restarts when the list is reallocated meanwhile and may then return
 * fences again; see gpuvm_dma_resv_iter_is_restarted().
 * Context: any thread; @cursor->obj need not be locked. Enters an RCU
 * read-side section of its own; does not wait on a fence or allocate.
 * Return: a referenced fence, or NULL at the end (no reference left).
 */
GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_resv_iter_first_unlocked(struct gpuvm_dma_resv_iter *cursor);

/**
 * gpuvm_dma_resv_iter_next_unlocked() - next fence of a lockless walk
 * @cursor: after gpuvm_dma_resv_iter_first_unlocked()
 *
 * Drops the reference on the previous fence.
 * Context: as gpuvm_dma_resv_iter_first_unlocked().
 * Return: a referenced fence, or NULL at the end (no reference left).
 */
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
 * @obj: the reservation object (need not be locked)
 * @usage: the usage asked for: fences of @usage or stronger
 * @num_fences: receives the count
 * @fences: receives a gpuvm_kmalloc()ed array of referenced fences (NULL
 *	when the count is 0); the caller puts each and frees it
 *
 * Context: any thread; allocates, so not in a fence signalling section.
 * Return: 0, or -ENOMEM (then *@num_fences is 0 and *@fences NULL, with
 * nothing to put).
 */
GPUVM_EXPORT int gpuvm_dma_resv_get_fences(struct gpuvm_dma_resv *obj,
					   enum gpuvm_dma_resv_usage usage,
					   unsigned int *num_fences,
					   struct gpuvm_dma_fence ***fences);

/**
 * gpuvm_dma_resv_get_singleton() - one fence standing for all of @usage
 * @obj: the reservation object (need not be locked)
 * @usage: the usage asked for: fences of @usage or stronger
 * @fence: receives NULL (no unsignaled fence), the only fence, or a new
 *	container on a fresh context that signals when all of them have.
 *	The caller owns its reference. A container must not be added to a
 *	reservation object.
 *
 * Context: any thread; allocates, so not in a fence signalling section.
 * Return: 0, or -ENOMEM with *@fence untouched and no reference taken.
 */
GPUVM_EXPORT int gpuvm_dma_resv_get_singleton(struct gpuvm_dma_resv *obj,
					      enum gpuvm_dma_resv_usage usage,
					      struct gpuvm_dma_fence **fence);

/**
 * gpuvm_dma_resv_wait_timeout() - wait for the fences of @usage
 * @obj: the reservation object (need not be locked)
 * @usage: the usage asked for: fences of @usage or stronger
 * @intr: whether gpuvm_interrupt_thread() interrupts the wait
 * @timeout: nanoseconds; GPUVM_MAX_SCHEDULE_TIMEOUT for no limit. 0 does
 *	not poll: the unsignaled fences are still waited for, sharing a
 *	budget of GPUVM_DMA_RESV_ZERO_TIMEOUT_TICK_NS (the kernel's one
 *	jiffy); use gpuvm_dma_resv_test_signaled() to poll.
 *
 * Waits for one fence after the other with gpuvm_dma_fence_wait_timeout(),
 * so each wait is seen by the checker (not while there is nothing to wait
 * for).
 * Context: may sleep; does not allocate. Holding @obj is allowed; being
 * in a fence signalling section is not.
 * Return: the time left (> 0; 1 for a zero @timeout,
 * GPUVM_MAX_SCHEDULE_TIMEOUT when unlimited), 0 on timeout, -EINTR when
 * @intr and interrupted, -EINVAL with a warning (GPUVM_RULE_RESV_INVALID)
 * for a negative @timeout.
 * Kernel parity: nanoseconds instead of jiffies, -EINTR instead of
 * -ERESTARTSYS.
 */
GPUVM_EXPORT int64_t gpuvm_dma_resv_wait_timeout(
	struct gpuvm_dma_resv *obj, enum gpuvm_dma_resv_usage usage, bool intr,
	int64_t timeout);

/* The budget a zero-timeout reservation wait shares among its fences. */
#define GPUVM_DMA_RESV_ZERO_TIMEOUT_TICK_NS 1000000LL

/**
 * gpuvm_dma_resv_test_signaled() - whether every fence of @usage signaled
 * @obj: the reservation object (need not be locked)
 * @usage: the usage asked for: fences of @usage or stronger
 *
 * Context: any thread; does not wait on a fence or allocate.
 * Return: true when no unsignaled fence of @usage or stronger is left.
 */
GPUVM_EXPORT bool gpuvm_dma_resv_test_signaled(struct gpuvm_dma_resv *obj,
					       enum gpuvm_dma_resv_usage usage);

/**
 * gpuvm_dma_resv_set_deadline() - pass a deadline hint to the fences
 * @obj: the reservation object (need not be locked)
 * @usage: the usage asked for: fences of @usage or stronger
 * @deadline: CLOCK_MONOTONIC nanoseconds
 *
 * Calls gpuvm_dma_fence_set_deadline() on every unsignaled fence found.
 * Context: any thread; does not wait on a fence or allocate.
 */
GPUVM_EXPORT void gpuvm_dma_resv_set_deadline(struct gpuvm_dma_resv *obj,
					      enum gpuvm_dma_resv_usage usage,
					      int64_t deadline);

/**
 * gpuvm_dma_resv_describe() - print one line per fence up to READ usage
 * @obj: the locked reservation object
 * @seq: the stream to print to
 *
 * Each line is the usage name and gpuvm_dma_fence_describe() of the fence.
 * Context: @obj locked (reported otherwise, checker on); writes to @seq.
 */
GPUVM_EXPORT void gpuvm_dma_resv_describe(struct gpuvm_dma_resv *obj,
					  FILE *seq);

/* ---- lock guard --------------------------------------------------------- */

/* Rule of the guard warning. */
#define GPUVM_RULE_RESV_GUARD_THREAD "dma-resv-guard-wrong-thread"

/**
 * struct gpuvm_dma_resv_guard - a reservation locked by one thread, for
 * one lock/unlock pair (the Rust DmaResvGuard)
 * @resv: the locked reservation; NULL once unlocked, or when the lock
 *	failed
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
 * @resv: the reservation object
 *
 * Context: may block, uninterruptibly; does not allocate; not in a fence
 * signalling section.
 * Return: the guard, to be passed to gpuvm_dma_resv_guard_unlock(). When
 * the lock fails (with the checker on, the calling thread already held
 * @resv: reported, see gpuvm_dma_resv_lock()), the guard holds nothing
 * (its @resv is NULL) and its unlock leaves that earlier hold alone.
 */
static inline struct gpuvm_dma_resv_guard
gpuvm_dma_resv_guard_lock(struct gpuvm_dma_resv *resv)
{
	struct gpuvm_dma_resv_guard guard;

	guard.resv = gpuvm_dma_resv_lock(resv, NULL) ? NULL : resv;
	guard.owner = pthread_self();
	return guard;
}

/**
 * gpuvm_dma_resv_guard_unlock() - unlock the guard's reservation
 * @guard: a guard from gpuvm_dma_resv_guard_lock()
 *
 * Once; later calls do nothing. With the checker on, a call on another
 * thread than the one that locked it is reported
 * (GPUVM_RULE_RESV_GUARD_THREAD) and unlocks nothing.
 * Context: the thread that took the guard; does not block or allocate.
 */
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
