// SPDX-License-Identifier: MIT
/*
 * Reservation objects.
 *
 * The fence list is replaced as a whole only by reserve_fences (growth)
 * and copy_fences; everything else edits the current list in place. A
 * lockless reader snapshots the list pointer and its count, and restarts
 * when the object's list pointer is no longer its snapshot, or when a
 * fence it found is already dying (its slot was just overwritten).
 */
#include <errno.h>
#include <limits.h>

#include <gpuvm/dma_resv.h>

#include "dma_fence_array.h"
#include "dma_resv_internal.h"
#include "internal.h"
#include "rcu_internal.h"

GPUVM_EXPORT struct gpuvm_ww_class gpuvm_reservation_ww_class =
	GPUVM_WW_CLASS_INIT("reservation_ww_class", true,
			    GPUVM_LOCK_CLASS_RESV);

/* Enough for any sane use; keeps the size computations far from overflow. */
#define MAX_LIST_FENCES (1u << 24)

/* ---- the list ----------------------------------------------------------- */

static inline struct gpuvm_dma_resv_list *resv_list(struct gpuvm_dma_resv *obj)
{
	return gpuvm_rcu_dereference(obj->fences);
}

static inline unsigned int list_count(struct gpuvm_dma_resv_list *list)
{
	return __atomic_load_n(&list->num_fences, __ATOMIC_ACQUIRE);
}

static inline void list_entry(struct gpuvm_dma_resv_list *list,
			      unsigned int index,
			      struct gpuvm_dma_fence **fence,
			      enum gpuvm_dma_resv_usage *usage)
{
	uintptr_t v = __atomic_load_n(&list->table[index], __ATOMIC_ACQUIRE);

	*fence = (struct gpuvm_dma_fence *)(v & ~GPUVM_DMA_RESV_LIST_MASK);
	if (usage)
		*usage = (enum gpuvm_dma_resv_usage)(v &
						     GPUVM_DMA_RESV_LIST_MASK);
}

static inline void list_set(struct gpuvm_dma_resv_list *list,
			    unsigned int index, struct gpuvm_dma_fence *fence,
			    enum gpuvm_dma_resv_usage usage)
{
	__atomic_store_n(&list->table[index], (uintptr_t)fence | usage,
			 __ATOMIC_RELEASE);
}

static struct gpuvm_dma_resv_list *list_alloc(unsigned int max_fences)
{
	struct gpuvm_dma_resv_list *list;

	list = gpuvm_kmalloc(sizeof(*list) + max_fences * sizeof(uintptr_t),
			     GPUVM_GFP_KERNEL);
	if (!list)
		return NULL;
	list->num_fences = 0;
	list->max_fences = max_fences;
	return list;
}

static void list_put_fences(struct gpuvm_dma_resv_list *list)
{
	unsigned int i,
		n = __atomic_load_n(&list->num_fences, __ATOMIC_RELAXED);

	for (i = 0; i < n; i++) {
		struct gpuvm_dma_fence *fence;

		list_entry(list, i, &fence, NULL);
		gpuvm_dma_fence_put(fence);
	}
}

static void list_free_rcu(struct gpuvm_rcu_head *head)
{
	gpuvm_kfree(container_of(head, struct gpuvm_dma_resv_list, rcu));
}

/* Retire a list readers may still see: drop its fences, free it later. */
static void list_retire(struct gpuvm_dma_resv_list *list)
{
	if (!list)
		return;
	list_put_fences(list);
	gpuvm_rcu_call(&list->rcu, list_free_rcu);
}

/* Free a list that was never published. */
static void list_free_unpublished(struct gpuvm_dma_resv_list *list)
{
	if (!list)
		return;
	list_put_fences(list);
	gpuvm_kfree(list);
}

/* ---- lifetime and locking ----------------------------------------------- */

GPUVM_EXPORT void gpuvm_dma_resv_init(struct gpuvm_dma_resv *obj)
{
	gpuvm_ww_mutex_init(&obj->lock, &gpuvm_reservation_ww_class);
	obj->fences = NULL;
}

GPUVM_EXPORT void gpuvm_dma_resv_fini(struct gpuvm_dma_resv *obj)
{
	list_retire(obj->fences);
	obj->fences = NULL;
	gpuvm_ww_mutex_destroy(&obj->lock);
}

GPUVM_EXPORT bool gpuvm_dma_resv_held(struct gpuvm_dma_resv *obj)
{
	return gpuvm_lock_is_held(&obj->lock.dep_map);
}

GPUVM_EXPORT void gpuvm_dma_resv_assert_held_func(struct gpuvm_dma_resv *obj,
						  const char *func)
{
	gpuvm_ww_mutex_assert_held(&obj->lock, func);
}

GPUVM_EXPORT void gpuvm_dma_resv_unlock(struct gpuvm_dma_resv *obj)
{
	/*
	 * A reservation only lasts for one lock session. Forget the unused
	 * slots so a later add without reserving again is caught at once.
	 */
	if (gpuvm_debug_active() && gpuvm_lock_is_held(&obj->lock.dep_map)) {
		struct gpuvm_dma_resv_list *list = obj->fences;

		if (list)
			list->max_fences = list->num_fences;
	}
	gpuvm_ww_mutex_unlock(&obj->lock);
}

/* ---- reserving and adding ----------------------------------------------- */

static unsigned long roundup_pow_of_two(unsigned long n)
{
	unsigned long p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

GPUVM_EXPORT int gpuvm_dma_resv_reserve_fences(struct gpuvm_dma_resv *obj,
					       unsigned int num_fences)
{
	struct gpuvm_dma_resv_list *old, *new;
	unsigned int i, j, k, old_count;
	unsigned long max;

	gpuvm_dma_resv_assert_held_func(obj, "gpuvm_dma_resv_reserve_fences");

	if (!num_fences)
		num_fences = 1;

	old = obj->fences;
	old_count = old ? old->num_fences : 0;
	if (old && old->max_fences) {
		if ((unsigned long)old_count + num_fences <= old->max_fences)
			return 0;
		max = (unsigned long)old_count + num_fences;
		if (max < 2ul * old->max_fences)
			max = 2ul * old->max_fences;
	} else {
		max = roundup_pow_of_two(num_fences);
		if (max < 4)
			max = 4;
	}
	if (max > MAX_LIST_FENCES)
		return -ENOMEM;

	new = list_alloc((unsigned int)max);
	if (!new)
		return -ENOMEM;

	/*
	 * The references move with the pointers. Unsignaled fences are packed
	 * at the front in their order; signaled ones are parked at the end,
	 * outside the count, and dropped once the new list is published.
	 */
	for (i = 0, j = 0, k = (unsigned int)max; i < old_count; i++) {
		enum gpuvm_dma_resv_usage usage;
		struct gpuvm_dma_fence *fence;

		list_entry(old, i, &fence, &usage);
		if (gpuvm_dma_fence_is_signaled(fence))
			list_set(new, --k, fence, usage);
		else
			list_set(new, j++, fence, usage);
	}
	new->num_fences = j;

	/* Readers see the old or the new list: the same unsignaled set. */
	gpuvm_rcu_assign_pointer(obj->fences, new);
	if (!old)
		return 0;

	for (i = k; i < max; i++) {
		struct gpuvm_dma_fence *fence;

		list_entry(new, i, &fence, NULL);
		gpuvm_dma_fence_put(fence);
	}
	gpuvm_rcu_call(&old->rcu, list_free_rcu);
	return 0;
}

static bool usage_valid(enum gpuvm_dma_resv_usage usage, const char *func)
{
	if (likely((unsigned int)usage <= GPUVM_DMA_RESV_USAGE_BOOKKEEP))
		return true;
	gpuvm_warn(GPUVM_RULE_RESV_INVALID, "%s: invalid usage %d", func,
		   (int)usage);
	return false;
}

GPUVM_EXPORT void gpuvm_dma_resv_add_fence(struct gpuvm_dma_resv *obj,
					   struct gpuvm_dma_fence *fence,
					   enum gpuvm_dma_resv_usage usage)
{
	struct gpuvm_dma_resv_list *list;
	unsigned int i, count;

	gpuvm_dma_resv_assert_held_func(obj, "gpuvm_dma_resv_add_fence");

	if (unlikely(!fence)) {
		gpuvm_warn(GPUVM_RULE_RESV_INVALID,
			   "gpuvm_dma_resv_add_fence: NULL fence");
		return;
	}
	if (!usage_valid(usage, "gpuvm_dma_resv_add_fence"))
		return;

	/* Containers must be unwrapped: nesting them recurses without bound. */
	if (unlikely(gpuvm_dma_fence_is_array(fence)))
		gpuvm_warn(GPUVM_RULE_RESV_CONTAINER,
			   "gpuvm_dma_resv_add_fence: adding a container "
			   "fence; add its fences one by one");

	list = obj->fences;
	if (unlikely(!list)) {
		gpuvm_warn(GPUVM_RULE_RESV_NO_SLOT,
			   "gpuvm_dma_resv_add_fence: no fence slot reserved "
			   "(gpuvm_dma_resv_reserve_fences() never called); "
			   "fence not added");
		return;
	}

	count = list->num_fences;
	for (i = 0; i < count; i++) {
		enum gpuvm_dma_resv_usage old_usage;
		struct gpuvm_dma_fence *old;

		list_entry(list, i, &old, &old_usage);
		/* Same timeline, not older and not weaker: it stands for old. */
		if ((old->context == fence->context && old_usage >= usage &&
		     gpuvm_dma_fence_is_later_or_same(fence, old)) ||
		    gpuvm_dma_fence_is_signaled(old)) {
			list_set(list, i, gpuvm_dma_fence_get(fence), usage);
			gpuvm_dma_fence_put(old);
			return;
		}
	}

	if (unlikely(count >= list->max_fences)) {
		gpuvm_warn(GPUVM_RULE_RESV_NO_SLOT,
			   "gpuvm_dma_resv_add_fence: no free fence slot (%u "
			   "used, %u reserved); reserve before each lock "
			   "session; fence not added",
			   count, list->max_fences);
		return;
	}

	list_set(list, count, gpuvm_dma_fence_get(fence), usage);
	/* The entry must be visible before the count that covers it. */
	__atomic_store_n(&list->num_fences, count + 1, __ATOMIC_RELEASE);
}

GPUVM_EXPORT void
gpuvm_dma_resv_replace_fences(struct gpuvm_dma_resv *obj, uint64_t context,
			      struct gpuvm_dma_fence *replacement,
			      enum gpuvm_dma_resv_usage usage)
{
	struct gpuvm_dma_resv_list *list;
	unsigned int i;

	gpuvm_dma_resv_assert_held_func(obj, "gpuvm_dma_resv_replace_fences");
	if (!usage_valid(usage, "gpuvm_dma_resv_replace_fences"))
		return;

	list = obj->fences;
	for (i = 0; list && i < list->num_fences; i++) {
		struct gpuvm_dma_fence *old;

		list_entry(list, i, &old, NULL);
		if (old->context != context)
			continue;
		list_set(list, i, gpuvm_dma_fence_get(replacement), usage);
		gpuvm_dma_fence_put(old);
	}
}

GPUVM_EXPORT int gpuvm_dma_resv_copy_fences(struct gpuvm_dma_resv *dst,
					    struct gpuvm_dma_resv *src)
{
	struct gpuvm_dma_resv_list *list = NULL, *old;
	struct gpuvm_dma_resv_iter cursor;
	struct gpuvm_dma_fence *fence;

	gpuvm_dma_resv_assert_held_func(dst, "gpuvm_dma_resv_copy_fences");

	gpuvm_dma_resv_iter_begin(&cursor, src, GPUVM_DMA_RESV_USAGE_BOOKKEEP);
	gpuvm_dma_resv_for_each_fence_unlocked(&cursor, fence) {
		if (gpuvm_dma_resv_iter_is_restarted(&cursor)) {
			list_free_unpublished(list);
			list = list_alloc(cursor.num_fences);
			if (!list) {
				gpuvm_dma_resv_iter_end(&cursor);
				return -ENOMEM;
			}
		}
		list_set(list, list->num_fences++, gpuvm_dma_fence_get(fence),
			 gpuvm_dma_resv_iter_usage(&cursor));
	}
	gpuvm_dma_resv_iter_end(&cursor);

	old = dst->fences;
	gpuvm_rcu_assign_pointer(dst->fences, list);
	list_retire(old);
	return 0;
}

/* ---- locked iteration --------------------------------------------------- */

GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_resv_iter_next(struct gpuvm_dma_resv_iter *cursor)
{
	struct gpuvm_dma_fence *fence;

	gpuvm_dma_resv_assert_held_func(cursor->obj,
					"gpuvm_dma_resv_iter_next");
	cursor->is_restarted = false;
	do {
		if (!cursor->fences ||
		    cursor->index >= cursor->fences->num_fences)
			return NULL;
		list_entry(cursor->fences, cursor->index++, &fence,
			   &cursor->fence_usage);
	} while (cursor->fence_usage > cursor->usage);
	return fence;
}

GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_resv_iter_first(struct gpuvm_dma_resv_iter *cursor)
{
	struct gpuvm_dma_fence *fence;

	gpuvm_dma_resv_assert_held_func(cursor->obj,
					"gpuvm_dma_resv_iter_first");
	cursor->index = 0;
	cursor->fences = cursor->obj->fences;
	cursor->num_fences = 0;
	fence = gpuvm_dma_resv_iter_next(cursor);
	cursor->is_restarted = true;
	return fence;
}

/* ---- lockless iteration ------------------------------------------------- */

/* Inside the RCU read-side section. */
static void iter_restart_unlocked(struct gpuvm_dma_resv_iter *cursor)
{
	cursor->index = 0;
	cursor->fences = resv_list(cursor->obj);
	cursor->num_fences = cursor->fences ? list_count(cursor->fences) : 0;
	cursor->is_restarted = true;
}

/* Inside the RCU read-side section: advance to the next unsignaled
 * fence of the requested usage, referenced, or to NULL. */
static void iter_walk_unlocked(struct gpuvm_dma_resv_iter *cursor)
{
	for (;;) {
		struct gpuvm_dma_fence *fence;

		gpuvm_dma_fence_put(cursor->fence);
		cursor->fence = NULL;

		if (!cursor->fences || cursor->index >= cursor->num_fences)
			return;

		list_entry(cursor->fences, cursor->index++, &fence,
			   &cursor->fence_usage);
		cursor->fence = gpuvm_dma_fence_get_rcu(fence);
		if (!cursor->fence) {
			/* Its slot was just overwritten: look again. */
			iter_restart_unlocked(cursor);
			continue;
		}
		if (cursor->fence_usage <= cursor->usage &&
		    !gpuvm_dma_fence_is_signaled(cursor->fence))
			return;
	}
}

GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_resv_iter_first_unlocked(struct gpuvm_dma_resv_iter *cursor)
{
	gpuvm_rcu_read_lock();
	do {
		iter_restart_unlocked(cursor);
		iter_walk_unlocked(cursor);
	} while (resv_list(cursor->obj) != cursor->fences);
	gpuvm_rcu_read_unlock();
	return cursor->fence;
}

GPUVM_EXPORT struct gpuvm_dma_fence *
gpuvm_dma_resv_iter_next_unlocked(struct gpuvm_dma_resv_iter *cursor)
{
	bool restart;

	gpuvm_rcu_read_lock();
	cursor->is_restarted = false;
	restart = resv_list(cursor->obj) != cursor->fences;
	do {
		if (restart)
			iter_restart_unlocked(cursor);
		iter_walk_unlocked(cursor);
		restart = true;
	} while (resv_list(cursor->obj) != cursor->fences);
	gpuvm_rcu_read_unlock();
	return cursor->fence;
}

GPUVM_EXPORT void gpuvm_dma_resv_iter_end(struct gpuvm_dma_resv_iter *cursor)
{
	gpuvm_dma_fence_put(cursor->fence);
	cursor->fence = NULL;
}

/* ---- queries ------------------------------------------------------------ */

GPUVM_EXPORT int gpuvm_dma_resv_get_fences(struct gpuvm_dma_resv *obj,
					   enum gpuvm_dma_resv_usage usage,
					   unsigned int *num_fences,
					   struct gpuvm_dma_fence ***fences)
{
	struct gpuvm_dma_resv_iter cursor;
	struct gpuvm_dma_fence *fence;

	*num_fences = 0;
	*fences = NULL;

	gpuvm_dma_resv_iter_begin(&cursor, obj, usage);
	gpuvm_dma_resv_for_each_fence_unlocked(&cursor, fence) {
		if (gpuvm_dma_resv_iter_is_restarted(&cursor)) {
			struct gpuvm_dma_fence **grown;

			/* Start over, with room for this walk. */
			while (*num_fences)
				gpuvm_dma_fence_put((*fences)[--(*num_fences)]);
			grown = gpuvm_krealloc_array(
				*fences, cursor.num_fences + 1, sizeof(*grown),
				GPUVM_GFP_KERNEL);
			if (!grown) {
				gpuvm_kfree(*fences);
				*fences = NULL;
				gpuvm_dma_resv_iter_end(&cursor);
				return -ENOMEM;
			}
			*fences = grown;
		}
		(*fences)[(*num_fences)++] = gpuvm_dma_fence_get(fence);
	}
	gpuvm_dma_resv_iter_end(&cursor);
	return 0;
}

GPUVM_EXPORT int gpuvm_dma_resv_get_singleton(struct gpuvm_dma_resv *obj,
					      enum gpuvm_dma_resv_usage usage,
					      struct gpuvm_dma_fence **fence)
{
	struct gpuvm_dma_fence **fences, *array;
	unsigned int count;
	int ret;

	ret = gpuvm_dma_resv_get_fences(obj, usage, &count, &fences);
	if (ret)
		return ret;

	if (count <= 1) {
		*fence = count ? fences[0] : NULL;
		gpuvm_kfree(fences);
		return 0;
	}

	array = gpuvm_dma_fence_array_create(
		count, fences, gpuvm_dma_fence_context_alloc(1), 1);
	if (!array) {
		while (count--)
			gpuvm_dma_fence_put(fences[count]);
		gpuvm_kfree(fences);
		return -ENOMEM;
	}
	*fence = array;
	return 0;
}

GPUVM_EXPORT int64_t gpuvm_dma_resv_wait_timeout(
	struct gpuvm_dma_resv *obj, enum gpuvm_dma_resv_usage usage, bool intr,
	int64_t timeout)
{
	int64_t ret = timeout ? timeout : GPUVM_DMA_RESV_ZERO_TIMEOUT_TICK_NS;
	struct gpuvm_dma_resv_iter cursor;
	struct gpuvm_dma_fence *fence;

	if (unlikely(timeout < 0)) {
		gpuvm_warn(GPUVM_RULE_RESV_INVALID,
			   "gpuvm_dma_resv_wait_timeout: negative timeout");
		return -EINVAL;
	}

	gpuvm_dma_resv_iter_begin(&cursor, obj, usage);
	gpuvm_dma_resv_for_each_fence_unlocked(&cursor, fence) {
		ret = gpuvm_dma_fence_wait_timeout(fence, intr, ret);
		if (ret <= 0) {
			gpuvm_dma_resv_iter_end(&cursor);
			return ret;
		}
	}
	gpuvm_dma_resv_iter_end(&cursor);
	return timeout ? ret : 1;
}

GPUVM_EXPORT bool gpuvm_dma_resv_test_signaled(struct gpuvm_dma_resv *obj,
					       enum gpuvm_dma_resv_usage usage)
{
	struct gpuvm_dma_resv_iter cursor;
	struct gpuvm_dma_fence *fence;
	bool signaled = true;

	gpuvm_dma_resv_iter_begin(&cursor, obj, usage);
	gpuvm_dma_resv_for_each_fence_unlocked(&cursor, fence) {
		signaled = false;
		break;
	}
	gpuvm_dma_resv_iter_end(&cursor);
	return signaled;
}

GPUVM_EXPORT void gpuvm_dma_resv_set_deadline(struct gpuvm_dma_resv *obj,
					      enum gpuvm_dma_resv_usage usage,
					      int64_t deadline)
{
	struct gpuvm_dma_resv_iter cursor;
	struct gpuvm_dma_fence *fence;

	gpuvm_dma_resv_iter_begin(&cursor, obj, usage);
	gpuvm_dma_resv_for_each_fence_unlocked(&cursor, fence)
		gpuvm_dma_fence_set_deadline(fence, deadline);
	gpuvm_dma_resv_iter_end(&cursor);
}

GPUVM_EXPORT void gpuvm_dma_resv_describe(struct gpuvm_dma_resv *obj, FILE *seq)
{
	static const char *const usage_names[] = { "kernel", "write", "read",
						   "bookkeep" };
	struct gpuvm_dma_resv_iter cursor;
	struct gpuvm_dma_fence *fence;

	gpuvm_dma_resv_for_each_fence(&cursor, obj, GPUVM_DMA_RESV_USAGE_READ,
				      fence) {
		fprintf(seq, "\t%s fence: ",
			usage_names[gpuvm_dma_resv_iter_usage(&cursor)]);
		gpuvm_dma_fence_describe(fence, seq);
	}
}
