// SPDX-License-Identifier: MIT
/*
 * DMA fences.
 *
 * The signaled bit is the single source of truth: it is set once, with
 * the fence lock held, and everything that must happen exactly once
 * (detaching the callback list, the timestamp, detaching the ops) hangs
 * off the thread that set it. Waiters register an internal callback that
 * unparks them and unlink it under the same lock before they return, so
 * the signaller never touches a waiter that has left.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <time.h>

#include <gpuvm/dma_fence.h>

#include "dma_fence_array.h"
#include "internal.h"
#include "kref.h"
#include "parker.h"
#include "rcu_internal.h"

#define NSEC_PER_SEC 1000000000LL

#define FLAG(bit) (1ul << GPUVM_DMA_FENCE_FLAG_##bit##_BIT)

/* The class of every inline fence lock. */
static struct gpuvm_lock_class fence_lock_class =
	GPUVM_LOCK_CLASS_INIT("dma_fence_lock", 0);

/* 0 belongs to the stub fence. */
static uint64_t fence_context_counter = 1;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static inline bool test_flag(struct gpuvm_dma_fence *fence, unsigned long bit)
{
	return __atomic_load_n(&fence->flags, __ATOMIC_ACQUIRE) & bit;
}

/* Return: whether @bit was set before. */
static inline bool test_and_set_flag(struct gpuvm_dma_fence *fence,
				     unsigned long bit)
{
	return __atomic_fetch_or(&fence->flags, bit, __ATOMIC_ACQ_REL) & bit;
}

static inline const struct gpuvm_dma_fence_ops *
fence_ops(struct gpuvm_dma_fence *fence)
{
	return __atomic_load_n(&fence->ops, __ATOMIC_ACQUIRE);
}

/* ---- contexts and initialisation ---------------------------------------- */

GPUVM_EXPORT uint64_t gpuvm_dma_fence_context_alloc(unsigned int num)
{
	if (unlikely(!num))
		gpuvm_warn(GPUVM_RULE_FENCE_INVALID,
			   "gpuvm_dma_fence_context_alloc: zero contexts "
			   "requested");
	return __atomic_fetch_add(&fence_context_counter, num,
				  __ATOMIC_RELAXED);
}

static void fence_init(struct gpuvm_dma_fence *fence,
		       const struct gpuvm_dma_fence_ops *ops,
		       struct gpuvm_mutex *lock, uint64_t context,
		       uint64_t seqno, unsigned long flags, const char *func)
{
	if (unlikely(!ops || !ops->get_driver_name || !ops->get_timeline_name))
		gpuvm_warn(GPUVM_RULE_FENCE_OPS,
			   "%s: fence ops must provide get_driver_name and "
			   "get_timeline_name",
			   func);

	if (!lock) {
		gpuvm_mutex_init(&fence->inline_lock, "dma_fence.inline_lock",
				 &fence_lock_class);
		lock = &fence->inline_lock;
		flags |= FLAG(INLINE_LOCK);
	}
	fence->lock = lock;
	fence->ops = ops;
	gpuvm_list_init(&fence->cb_list);
	fence->timestamp = 0;
	fence->context = context;
	fence->seqno = seqno;
	fence->error = 0;
	gpuvm_kref_init(&fence->refcount);
	/* Publishes the fields above to whoever sees the flags. */
	__atomic_store_n(&fence->flags, flags | FLAG(INITIALIZED),
			 __ATOMIC_RELEASE);
}

GPUVM_EXPORT void gpuvm_dma_fence_init(struct gpuvm_dma_fence *fence,
				       const struct gpuvm_dma_fence_ops *ops,
				       struct gpuvm_mutex *lock,
				       uint64_t context, uint64_t seqno)
{
	fence_init(fence, ops, lock, context, seqno, 0, "gpuvm_dma_fence_init");
}

GPUVM_EXPORT void gpuvm_dma_fence_init64(struct gpuvm_dma_fence *fence,
					 const struct gpuvm_dma_fence_ops *ops,
					 struct gpuvm_mutex *lock,
					 uint64_t context, uint64_t seqno)
{
	fence_init(fence, ops, lock, context, seqno, FLAG(SEQNO64),
		   "gpuvm_dma_fence_init64");
}

/* ---- the fence lock ----------------------------------------------------- */

GPUVM_EXPORT struct gpuvm_mutex *
gpuvm_dma_fence_spinlock(struct gpuvm_dma_fence *fence)
{
	return fence->lock;
}

GPUVM_EXPORT void gpuvm_dma_fence_lock(struct gpuvm_dma_fence *fence)
{
	gpuvm_mutex_lock(fence->lock);
}

GPUVM_EXPORT void gpuvm_dma_fence_unlock(struct gpuvm_dma_fence *fence)
{
	gpuvm_mutex_unlock(fence->lock);
}

static inline void assert_fence_locked(struct gpuvm_dma_fence *fence,
				       const char *func)
{
	gpuvm_mutex_assert_held(fence->lock, func);
}

/* ---- signalling --------------------------------------------------------- */

static const char *const detached_driver = "detached-driver";
static const char *const signaled_timeline = "signaled-timeline";

static int signal_timestamp_locked(struct gpuvm_dma_fence *fence,
				   int64_t timestamp)
{
	const struct gpuvm_dma_fence_ops *ops;
	struct gpuvm_dma_fence_cb *cb, *tmp;
	struct gpuvm_list_head pending;

	if (test_and_set_flag(fence, FLAG(SIGNALED)))
		return -EINVAL;

	/* Take the callbacks off the fence first: they may re-register. */
	gpuvm_list_init(&pending);
	if (!gpuvm_list_empty(&fence->cb_list)) {
		pending = fence->cb_list;
		pending.next->prev = &pending;
		pending.prev->next = &pending;
		gpuvm_list_init(&fence->cb_list);
	}

	fence->timestamp = timestamp;
	test_and_set_flag(fence, FLAG(TIMESTAMP));

	/* The producer's code is not needed any more unless it frees or
	 * waits on the fence itself. */
	ops = fence_ops(fence);
	if (ops && !ops->release && !ops->wait)
		__atomic_store_n(&fence->ops, NULL, __ATOMIC_RELEASE);

	gpuvm_list_for_each_entry_safe(cb, tmp, &pending, node) {
		/* Empty before the call, so remove_callback reports false. */
		gpuvm_list_del_init(&cb->node);
		cb->func(fence, cb);
	}
	return 0;
}

GPUVM_EXPORT int
gpuvm_dma_fence_signal_timestamp_locked(struct gpuvm_dma_fence *fence,
					int64_t timestamp)
{
	if (unlikely(!fence))
		return -EINVAL;
	assert_fence_locked(fence, "gpuvm_dma_fence_signal_timestamp_locked");
	return signal_timestamp_locked(fence, timestamp);
}

GPUVM_EXPORT int gpuvm_dma_fence_signal_locked(struct gpuvm_dma_fence *fence)
{
	if (unlikely(!fence))
		return -EINVAL;
	gpuvm_sched_point(GPUVM_SCHED_FENCE, fence);
	assert_fence_locked(fence, "gpuvm_dma_fence_signal_locked");
	return signal_timestamp_locked(fence, now_ns());
}

static int signal_timestamp(struct gpuvm_dma_fence *fence, int64_t timestamp)
{
	bool cookie;
	int ret;

	if (unlikely(!fence))
		return -EINVAL;

	gpuvm_sched_point(GPUVM_SCHED_FENCE, fence);
	cookie = gpuvm_dma_fence_begin_signalling();
	gpuvm_mutex_lock(fence->lock);
	ret = signal_timestamp_locked(fence, timestamp);
	gpuvm_mutex_unlock(fence->lock);
	gpuvm_dma_fence_end_signalling(cookie);
	return ret;
}

GPUVM_EXPORT int gpuvm_dma_fence_signal_timestamp(struct gpuvm_dma_fence *fence,
						  int64_t timestamp)
{
	return signal_timestamp(fence, timestamp);
}

GPUVM_EXPORT int gpuvm_dma_fence_signal(struct gpuvm_dma_fence *fence)
{
	return signal_timestamp(fence, now_ns());
}

GPUVM_EXPORT bool
gpuvm_dma_fence_check_and_signal_locked(struct gpuvm_dma_fence *fence)
{
	/* The kernel dereferences it; the unlocked variant calls it signaled. */
	if (unlikely(!fence)) {
		gpuvm_warn(GPUVM_RULE_FENCE_INVALID,
			   "gpuvm_dma_fence_check_and_signal_locked: NULL "
			   "fence");
		return true;
	}
	assert_fence_locked(fence, "gpuvm_dma_fence_check_and_signal_locked");
	return signal_timestamp_locked(fence, now_ns()) != 0;
}

GPUVM_EXPORT bool
gpuvm_dma_fence_check_and_signal(struct gpuvm_dma_fence *fence)
{
	return signal_timestamp(fence, now_ns()) != 0;
}

GPUVM_EXPORT int64_t gpuvm_dma_fence_timestamp(struct gpuvm_dma_fence *fence)
{
	if (unlikely(!test_flag(fence, FLAG(SIGNALED)))) {
		gpuvm_warn(GPUVM_RULE_FENCE_INVALID,
			   "gpuvm_dma_fence_timestamp: fence not signaled");
		return now_ns();
	}
	/* The signaller sets the bits a moment apart. */
	while (!test_flag(fence, FLAG(TIMESTAMP)))
		sched_yield();
	return fence->timestamp;
}

GPUVM_EXPORT void gpuvm_dma_fence_set_error(struct gpuvm_dma_fence *fence,
					    int error)
{
	if (unlikely(test_flag(fence, FLAG(SIGNALED)))) {
		gpuvm_warn(GPUVM_RULE_FENCE_ERROR,
			   "gpuvm_dma_fence_set_error: error %d set after "
			   "the fence signaled; ignored",
			   error);
		return;
	}
	if (unlikely(error >= 0 || error < -GPUVM_MAX_ERRNO)) {
		gpuvm_warn(GPUVM_RULE_FENCE_ERROR,
			   "gpuvm_dma_fence_set_error: %d is not a negative "
			   "errno; ignored",
			   error);
		return;
	}
	__atomic_store_n(&fence->error, error, __ATOMIC_RELAXED);
}

/* ---- state -------------------------------------------------------------- */

GPUVM_EXPORT bool
gpuvm_dma_fence_test_signaled_flag(struct gpuvm_dma_fence *fence)
{
	return test_flag(fence, FLAG(SIGNALED));
}

GPUVM_EXPORT bool gpuvm_dma_fence_is_signaled(struct gpuvm_dma_fence *fence)
{
	const struct gpuvm_dma_fence_ops *ops;

	if (test_flag(fence, FLAG(SIGNALED)))
		return true;
	ops = fence_ops(fence);
	if (ops && ops->signaled && ops->signaled(fence)) {
		gpuvm_dma_fence_signal(fence);
		return true;
	}
	return false;
}

GPUVM_EXPORT bool
gpuvm_dma_fence_is_signaled_locked(struct gpuvm_dma_fence *fence)
{
	const struct gpuvm_dma_fence_ops *ops;

	assert_fence_locked(fence, "gpuvm_dma_fence_is_signaled_locked");
	if (test_flag(fence, FLAG(SIGNALED)))
		return true;
	ops = fence_ops(fence);
	if (ops && ops->signaled && ops->signaled(fence)) {
		signal_timestamp_locked(fence, now_ns());
		return true;
	}
	return false;
}

GPUVM_EXPORT int
gpuvm_dma_fence_get_status_locked(struct gpuvm_dma_fence *fence)
{
	int error;

	if (!gpuvm_dma_fence_is_signaled_locked(fence))
		return 0;
	error = __atomic_load_n(&fence->error, __ATOMIC_RELAXED);
	return error ? error : 1;
}

GPUVM_EXPORT int gpuvm_dma_fence_get_status(struct gpuvm_dma_fence *fence)
{
	int status;

	gpuvm_mutex_lock(fence->lock);
	status = gpuvm_dma_fence_get_status_locked(fence);
	gpuvm_mutex_unlock(fence->lock);
	return status;
}

/* Lock held. Return: true while the fence is unsignaled. */
static bool enable_signaling_locked(struct gpuvm_dma_fence *fence)
{
	const struct gpuvm_dma_fence_ops *ops;
	bool was_enabled = test_and_set_flag(fence, FLAG(ENABLE_SIGNAL));

	if (test_flag(fence, FLAG(SIGNALED)))
		return false;
	ops = fence_ops(fence);
	if (!was_enabled && ops && ops->enable_signaling &&
	    !ops->enable_signaling(fence)) {
		signal_timestamp_locked(fence, now_ns());
		return false;
	}
	return true;
}

GPUVM_EXPORT void
gpuvm_dma_fence_enable_sw_signaling(struct gpuvm_dma_fence *fence)
{
	gpuvm_mutex_lock(fence->lock);
	enable_signaling_locked(fence);
	gpuvm_mutex_unlock(fence->lock);
}

/* ---- references --------------------------------------------------------- */

GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_fence_get(struct gpuvm_dma_fence *fence)
{
	if (fence)
		gpuvm_kref_get(&fence->refcount, "gpuvm_dma_fence_get");
	return fence;
}

GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_fence_get_rcu(struct gpuvm_dma_fence *fence)
{
	if (fence && gpuvm_kref_get_unless_zero(&fence->refcount))
		return fence;
	return NULL;
}

GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_fence_get_rcu_safe(struct gpuvm_dma_fence **fencep)
{
	struct gpuvm_dma_fence *fence;

	gpuvm_rcu_read_lock();
	for (;;) {
		fence = gpuvm_rcu_dereference(*fencep);
		if (!fence)
			break;
		if (!gpuvm_dma_fence_get_rcu(fence))
			continue; /* dying: the writer is replacing it */
		if (fence == gpuvm_rcu_dereference(*fencep))
			break;
		/* Replaced (and maybe recycled) meanwhile: try again. */
		gpuvm_dma_fence_put(fence);
	}
	gpuvm_rcu_read_unlock();
	return fence;
}

static void fence_free_rcu(struct gpuvm_rcu_head *head)
{
	gpuvm_kfree(container_of(head, struct gpuvm_dma_fence, rcu));
}

GPUVM_EXPORT void gpuvm_dma_fence_free(struct gpuvm_dma_fence *fence)
{
	gpuvm_rcu_call(&fence->rcu, fence_free_rcu);
}

static struct gpuvm_dma_fence stub_fence;

static void fence_release(struct gpuvm_dma_fence *fence)
{
	const struct gpuvm_dma_fence_ops *ops;

	if (unlikely(fence == &stub_fence)) {
		gpuvm_kref_saturate__(&fence->refcount);
		gpuvm_warn(GPUVM_RULE_REFCOUNT_UNDERFLOW,
			   "gpuvm_dma_fence_put: the stub fence lost its last "
			   "reference (one put too many)");
		return;
	}

	/* Nobody else can reach the fence: no lock needed to look. */
	if (unlikely(!gpuvm_list_empty(&fence->cb_list) &&
		     !test_flag(fence, FLAG(SIGNALED)))) {
		gpuvm_warn(GPUVM_RULE_FENCE_RELEASE_PENDING,
			   "gpuvm_dma_fence_put: fence %s:%s:%" PRIu64
			   ":%" PRIu64 " released with pending callbacks; "
			   "signaling it with -EDEADLK",
			   gpuvm_dma_fence_driver_name(fence),
			   gpuvm_dma_fence_timeline_name(fence), fence->context,
			   fence->seqno);
		gpuvm_mutex_lock(fence->lock);
		__atomic_store_n(&fence->error, -EDEADLK, __ATOMIC_RELAXED);
		signal_timestamp_locked(fence, now_ns());
		gpuvm_mutex_unlock(fence->lock);
	}

	if (test_flag(fence, FLAG(INLINE_LOCK)))
		gpuvm_mutex_destroy(&fence->inline_lock);

	ops = fence_ops(fence);
	if (ops && ops->release)
		ops->release(fence);
	else
		gpuvm_dma_fence_free(fence);
}

GPUVM_EXPORT void gpuvm_dma_fence_put(struct gpuvm_dma_fence *fence)
{
	if (fence && gpuvm_kref_put(&fence->refcount, "gpuvm_dma_fence_put"))
		fence_release(fence);
}

/* ---- ordering ----------------------------------------------------------- */

GPUVM_EXPORT bool gpuvm_dma_fence_seqno_is_later(struct gpuvm_dma_fence *fence,
						 uint64_t f1, uint64_t f2)
{
	if (test_flag(fence, FLAG(SEQNO64)))
		return f1 > f2;
	return (int32_t)((uint32_t)f1 - (uint32_t)f2) > 0;
}

GPUVM_EXPORT bool gpuvm_dma_fence_is_later(struct gpuvm_dma_fence *f1,
					   struct gpuvm_dma_fence *f2)
{
	if (unlikely(f1->context != f2->context)) {
		gpuvm_warn(GPUVM_RULE_FENCE_CONTEXT,
			   "gpuvm_dma_fence_is_later: fences of contexts "
			   "%" PRIu64 " and %" PRIu64 " are not ordered",
			   f1->context, f2->context);
		return false;
	}
	return gpuvm_dma_fence_seqno_is_later(f1, f1->seqno, f2->seqno);
}

GPUVM_EXPORT bool gpuvm_dma_fence_is_later_or_same(struct gpuvm_dma_fence *f1,
						   struct gpuvm_dma_fence *f2)
{
	return f1 == f2 || gpuvm_dma_fence_is_later(f1, f2);
}

GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_fence_later(struct gpuvm_dma_fence *f1, struct gpuvm_dma_fence *f2)
{
	struct gpuvm_dma_fence *later;

	if (unlikely(f1->context != f2->context)) {
		gpuvm_warn(GPUVM_RULE_FENCE_CONTEXT,
			   "gpuvm_dma_fence_later: fences of contexts "
			   "%" PRIu64 " and %" PRIu64 " are not ordered",
			   f1->context, f2->context);
		return NULL;
	}
	later = gpuvm_dma_fence_seqno_is_later(f1, f1->seqno, f2->seqno) ? f1 :
									   f2;
	return gpuvm_dma_fence_is_signaled(later) ? NULL : later;
}

/* ---- callbacks ---------------------------------------------------------- */

GPUVM_EXPORT int gpuvm_dma_fence_add_callback(struct gpuvm_dma_fence *fence,
					      struct gpuvm_dma_fence_cb *cb,
					      gpuvm_dma_fence_func_t func)
{
	int ret = 0;

	if (unlikely(!fence || !func)) {
		gpuvm_warn(GPUVM_RULE_FENCE_INVALID,
			   "gpuvm_dma_fence_add_callback: NULL %s",
			   fence ? "callback function" : "fence");
		return -EINVAL;
	}

	if (test_flag(fence, FLAG(SIGNALED))) {
		gpuvm_list_init(&cb->node);
		return -ENOENT;
	}

	gpuvm_mutex_lock(fence->lock);
	if (enable_signaling_locked(fence)) {
		cb->func = func;
		gpuvm_list_add_tail(&cb->node, &fence->cb_list);
	} else {
		gpuvm_list_init(&cb->node);
		ret = -ENOENT;
	}
	gpuvm_mutex_unlock(fence->lock);
	return ret;
}

GPUVM_EXPORT bool gpuvm_dma_fence_remove_callback(struct gpuvm_dma_fence *fence,
						  struct gpuvm_dma_fence_cb *cb)
{
	bool pending;

	gpuvm_mutex_lock(fence->lock);
	pending = !gpuvm_list_empty(&cb->node);
	if (pending)
		gpuvm_list_del_init(&cb->node);
	gpuvm_mutex_unlock(fence->lock);
	return pending;
}

/* ---- waiting ------------------------------------------------------------ */

struct wait_cb {
	struct gpuvm_dma_fence_cb base;
	struct gpuvm_parker *parker;
};

static void wake_waiter(struct gpuvm_dma_fence *fence,
			struct gpuvm_dma_fence_cb *cb)
{
	gpuvm_parker_unpark(container_of(cb, struct wait_cb, base)->parker);
}

/* Nanoseconds left until @deadline, at least 0. */
static int64_t time_left(const struct timespec *deadline)
{
	struct timespec now;
	int64_t left;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left = (int64_t)(deadline->tv_sec - now.tv_sec) * NSEC_PER_SEC +
	       (deadline->tv_nsec - now.tv_nsec);
	return left > 0 ? left : 0;
}

/*
 * What a successful wait returns: the time left, but at least 1 (a fence
 * that signals as the deadline passes still counts as signaled; the
 * kernel may return 0 in that race).
 */
static int64_t success_value(int64_t timeout, const struct timespec *deadline)
{
	int64_t left;

	if (timeout == GPUVM_MAX_SCHEDULE_TIMEOUT || !deadline)
		return timeout ? timeout : 1;
	left = time_left(deadline);
	return left > 0 ? left : 1;
}

GPUVM_EXPORT int64_t gpuvm_dma_fence_default_wait(struct gpuvm_dma_fence *fence,
						  bool intr, int64_t timeout)
{
	struct gpuvm_parker *self = gpuvm_parker_self();
	struct timespec deadline_ts, *deadline = NULL;
	struct wait_cb cb;
	int64_t ret;

	/* As gpuvm_dma_fence_wait_timeout(): the kernel WARNs there. */
	if (unlikely(timeout < 0)) {
		gpuvm_warn(GPUVM_RULE_FENCE_INVALID,
			   "gpuvm_dma_fence_default_wait: negative timeout "
			   "%" PRId64,
			   timeout);
		return -EINVAL;
	}

	if (timeout > 0 && timeout != GPUVM_MAX_SCHEDULE_TIMEOUT) {
		gpuvm_deadline_from_now(&deadline_ts, (uint64_t)timeout);
		deadline = &deadline_ts;
	}

	gpuvm_mutex_lock(fence->lock);
	if (test_flag(fence, FLAG(SIGNALED))) {
		ret = success_value(timeout, deadline);
		goto out;
	}
	if (intr && gpuvm_parker_take_interrupt(self)) {
		ret = -EINTR;
		goto out;
	}
	if (!timeout) {
		ret = 0;
		goto out;
	}

	cb.base.func = wake_waiter;
	cb.parker = self;
	gpuvm_list_add_tail(&cb.base.node, &fence->cb_list);

	for (;;) {
		unsigned int snap = gpuvm_parker_snapshot(self);
		int r;

		if (test_flag(fence, FLAG(SIGNALED))) {
			ret = success_value(timeout, deadline);
			break;
		}
		gpuvm_mutex_unlock(fence->lock);
		r = gpuvm_parker_park(self, snap, intr, deadline);
		gpuvm_mutex_lock(fence->lock);
		if (r == -EINTR) {
			ret = -EINTR;
			break;
		}
		if (r == -ETIMEDOUT && !test_flag(fence, FLAG(SIGNALED))) {
			ret = 0;
			break;
		}
	}
	if (!gpuvm_list_empty(&cb.base.node))
		gpuvm_list_del_init(&cb.base.node);
out:
	gpuvm_mutex_unlock(fence->lock);
	return ret;
}

GPUVM_EXPORT int64_t gpuvm_dma_fence_wait_timeout(struct gpuvm_dma_fence *fence,
						  bool intr, int64_t timeout)
{
	const struct gpuvm_dma_fence_ops *ops;

	if (unlikely(timeout < 0)) {
		gpuvm_warn(GPUVM_RULE_FENCE_INVALID,
			   "gpuvm_dma_fence_wait_timeout: negative timeout "
			   "%" PRId64,
			   timeout);
		return -EINVAL;
	}

	gpuvm_might_wait_fence("gpuvm_dma_fence_wait_timeout");
	gpuvm_dma_fence_enable_sw_signaling(fence);

	ops = fence_ops(fence);
	if (ops && ops->wait)
		return ops->wait(fence, intr, timeout);
	return gpuvm_dma_fence_default_wait(fence, intr, timeout);
}

GPUVM_EXPORT int gpuvm_dma_fence_wait(struct gpuvm_dma_fence *fence, bool intr)
{
	int64_t ret = gpuvm_dma_fence_wait_timeout(fence, intr,
						   GPUVM_MAX_SCHEDULE_TIMEOUT);

	return ret < 0 ? (int)ret : 0;
}

/* Whether one of @fences signaled; *@idx (if given) is the first such. */
static bool any_signaled(struct gpuvm_dma_fence **fences, uint32_t count,
			 uint32_t *idx)
{
	uint32_t i;

	for (i = 0; i < count; i++) {
		if (gpuvm_dma_fence_is_signaled(fences[i])) {
			if (idx)
				*idx = i;
			return true;
		}
	}
	return false;
}

GPUVM_EXPORT int64_t gpuvm_dma_fence_wait_any_timeout(
	struct gpuvm_dma_fence **fences, uint32_t count, bool intr,
	int64_t timeout, uint32_t *idx)
{
	struct gpuvm_parker *self;
	struct timespec deadline_ts, *deadline = NULL;
	struct wait_cb *cbs;
	uint32_t i, added;
	int64_t ret;

	if (unlikely(!fences || !count || timeout < 0)) {
		gpuvm_warn(GPUVM_RULE_FENCE_INVALID,
			   "gpuvm_dma_fence_wait_any_timeout: %s",
			   !fences ? "NULL fence array" :
			   !count  ? "no fences" :
				     "negative timeout");
		return -EINVAL;
	}
	/* Before any fence is looked at: the kernel would dereference it. */
	for (i = 0; i < count; i++) {
		if (unlikely(!fences[i])) {
			gpuvm_warn(GPUVM_RULE_FENCE_INVALID,
				   "gpuvm_dma_fence_wait_any_timeout: NULL "
				   "fence at index %" PRIu32,
				   i);
			return -EINVAL;
		}
	}

	gpuvm_might_wait_fence("gpuvm_dma_fence_wait_any_timeout");

	if (!timeout)
		return any_signaled(fences, count, idx) ? 1 : 0;

	cbs = gpuvm_kcalloc(count, sizeof(*cbs), GPUVM_GFP_KERNEL);
	if (!cbs)
		return -ENOMEM;

	if (timeout != GPUVM_MAX_SCHEDULE_TIMEOUT) {
		gpuvm_deadline_from_now(&deadline_ts, (uint64_t)timeout);
		deadline = &deadline_ts;
	}

	self = gpuvm_parker_self();
	for (added = 0; added < count; added++) {
		cbs[added].parker = self;
		if (gpuvm_dma_fence_add_callback(
			    fences[added], &cbs[added].base, wake_waiter)) {
			/* Already signaled. */
			if (idx)
				*idx = added;
			ret = success_value(timeout, deadline);
			goto cleanup;
		}
	}

	for (;;) {
		unsigned int snap = gpuvm_parker_snapshot(self);
		int r;

		if (any_signaled(fences, count, idx)) {
			ret = success_value(timeout, deadline);
			break;
		}
		r = gpuvm_parker_park(self, snap, intr, deadline);
		if (r == -EINTR) {
			ret = -EINTR;
			break;
		}
		if (r == -ETIMEDOUT) {
			ret = any_signaled(fences, count, idx) ?
				      success_value(timeout, deadline) :
				      0;
			break;
		}
	}

cleanup:
	for (i = 0; i < added; i++)
		gpuvm_dma_fence_remove_callback(fences[i], &cbs[i].base);
	gpuvm_kfree(cbs);
	return ret;
}

GPUVM_EXPORT void gpuvm_dma_fence_set_deadline(struct gpuvm_dma_fence *fence,
					       int64_t deadline)
{
	const struct gpuvm_dma_fence_ops *ops = fence_ops(fence);

	if (ops && ops->set_deadline && !gpuvm_dma_fence_is_signaled(fence))
		ops->set_deadline(fence, deadline);
}

/* ---- stubs and debug output --------------------------------------------- */

static const char *stub_name(struct gpuvm_dma_fence *fence)
{
	return "stub";
}

static const char *private_stub_name(struct gpuvm_dma_fence *fence)
{
	return "private_stub";
}

static const struct gpuvm_dma_fence_ops stub_ops = {
	.get_driver_name = stub_name,
	.get_timeline_name = stub_name,
};

static const struct gpuvm_dma_fence_ops private_stub_ops = {
	.get_driver_name = private_stub_name,
	.get_timeline_name = private_stub_name,
};

/* Initialise @fence on context 0 as already signaled at @timestamp. */
static void init_signaled(struct gpuvm_dma_fence *fence,
			  const struct gpuvm_dma_fence_ops *ops,
			  int64_t timestamp)
{
	gpuvm_dma_fence_init(fence, ops, NULL, 0, 0);
	test_and_set_flag(fence, FLAG(ENABLE_SIGNAL));
	gpuvm_mutex_lock(fence->lock);
	signal_timestamp_locked(fence, timestamp);
	gpuvm_mutex_unlock(fence->lock);
}

static pthread_once_t stub_once = PTHREAD_ONCE_INIT;

static void stub_init(void)
{
	init_signaled(&stub_fence, &stub_ops, now_ns());
}

GPUVM_EXPORT struct gpuvm_dma_fence *gpuvm_dma_fence_get_stub(void)
{
	pthread_once(&stub_once, stub_init);
	return gpuvm_dma_fence_get(&stub_fence);
}

GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_fence_allocate_private_stub(int64_t timestamp)
{
	struct gpuvm_dma_fence *fence;

	fence = gpuvm_kzalloc(sizeof(*fence), GPUVM_GFP_KERNEL);
	if (!fence)
		return NULL;
	init_signaled(fence, &private_stub_ops, timestamp);
	return fence;
}

GPUVM_EXPORT const char *
gpuvm_dma_fence_driver_name(struct gpuvm_dma_fence *fence)
{
	const struct gpuvm_dma_fence_ops *ops = fence_ops(fence);

	if (test_flag(fence, FLAG(SIGNALED)) || !ops || !ops->get_driver_name)
		return detached_driver;
	return ops->get_driver_name(fence);
}

GPUVM_EXPORT const char *
gpuvm_dma_fence_timeline_name(struct gpuvm_dma_fence *fence)
{
	const struct gpuvm_dma_fence_ops *ops = fence_ops(fence);

	if (test_flag(fence, FLAG(SIGNALED)) || !ops || !ops->get_timeline_name)
		return signaled_timeline;
	return ops->get_timeline_name(fence);
}

GPUVM_EXPORT void gpuvm_dma_fence_describe(struct gpuvm_dma_fence *fence,
					   FILE *seq)
{
	bool signaled = gpuvm_dma_fence_is_signaled(fence);

	fprintf(seq, "%s %s seq %" PRIu64 " %ssignalled\n",
		gpuvm_dma_fence_driver_name(fence),
		gpuvm_dma_fence_timeline_name(fence), fence->seqno,
		signaled ? "" : "un");
}
