// SPDX-License-Identifier: MIT
/* The wait-all fence container; see dma_fence_array.h. */
#include <gpuvm/dma_fence.h>

#include "dma_fence_array.h"
#include "internal.h"

struct array_cb {
	struct gpuvm_dma_fence_cb cb;
	struct gpuvm_dma_fence_array *array;
};

struct gpuvm_dma_fence_array {
	struct gpuvm_dma_fence base; /* first: freed through its address */
	struct gpuvm_mutex lock;
	unsigned int num_fences;
	int num_pending; /* atomic */
	int pending_error; /* atomic; first member error */
	struct gpuvm_dma_fence **fences;
	struct array_cb callbacks[];
};

/* Its own class: taken inside member fence locks. */
static struct gpuvm_lock_class array_lock_class =
	GPUVM_LOCK_CLASS_INIT("dma_fence_array_lock", 0);

static const char *array_driver_name(struct gpuvm_dma_fence *fence)
{
	return "dma_fence_array";
}

static const char *array_timeline_name(struct gpuvm_dma_fence *fence)
{
	return "unbound";
}

static struct gpuvm_dma_fence_array *to_array(struct gpuvm_dma_fence *fence)
{
	return container_of(fence, struct gpuvm_dma_fence_array, base);
}

static bool array_signaled(struct gpuvm_dma_fence *fence)
{
	return __atomic_load_n(&to_array(fence)->num_pending,
			       __ATOMIC_ACQUIRE) <= 0;
}

static void array_release(struct gpuvm_dma_fence *fence)
{
	struct gpuvm_dma_fence_array *array = to_array(fence);
	unsigned int i;

	for (i = 0; i < array->num_fences; i++)
		gpuvm_dma_fence_put(array->fences[i]);
	gpuvm_kfree(array->fences);
	gpuvm_mutex_destroy(&array->lock);
	gpuvm_dma_fence_free(&array->base);
}

static const struct gpuvm_dma_fence_ops array_ops = {
	.get_driver_name = array_driver_name,
	.get_timeline_name = array_timeline_name,
	.signaled = array_signaled,
	.release = array_release,
};

/* One member is done (signaled now, or already when we looked). */
static void member_done(struct gpuvm_dma_fence_array *array,
			struct gpuvm_dma_fence *member)
{
	int error = __atomic_load_n(&member->error, __ATOMIC_RELAXED);
	int expected = 0;

	if (error < 0)
		__atomic_compare_exchange_n(&array->pending_error, &expected,
					    error, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
	if (__atomic_sub_fetch(&array->num_pending, 1, __ATOMIC_ACQ_REL))
		return;
	error = __atomic_load_n(&array->pending_error, __ATOMIC_RELAXED);
	if (error)
		gpuvm_dma_fence_set_error(&array->base, error);
	gpuvm_dma_fence_signal(&array->base);
}

static void member_signaled(struct gpuvm_dma_fence *member,
			    struct gpuvm_dma_fence_cb *cb)
{
	struct gpuvm_dma_fence_array *array =
		container_of(cb, struct array_cb, cb)->array;

	member_done(array, member);
	/* The reference this callback held on the array. */
	gpuvm_dma_fence_put(&array->base);
}

struct gpuvm_dma_fence *
gpuvm_dma_fence_array_create(unsigned int num_fences,
			     struct gpuvm_dma_fence **fences, uint64_t context,
			     uint64_t seqno)
{
	struct gpuvm_dma_fence_array *array;
	unsigned int i;

	array = gpuvm_kzalloc(sizeof(*array) +
				      num_fences * sizeof(array->callbacks[0]),
			      GPUVM_GFP_KERNEL);
	if (!array)
		return NULL;

	gpuvm_mutex_init(&array->lock, "dma_fence_array.lock",
			 &array_lock_class);
	gpuvm_dma_fence_init(&array->base, &array_ops, &array->lock, context,
			     seqno);
	array->num_fences = num_fences;
	array->num_pending = (int)num_fences;
	array->fences = fences;

	for (i = 0; i < num_fences; i++) {
		struct array_cb *acb = &array->callbacks[i];

		acb->array = array;
		gpuvm_dma_fence_get(&array->base);
		if (gpuvm_dma_fence_add_callback(fences[i], &acb->cb,
						 member_signaled)) {
			member_done(array, fences[i]);
			gpuvm_dma_fence_put(&array->base);
		}
	}
	return &array->base;
}

bool gpuvm_dma_fence_is_array(struct gpuvm_dma_fence *fence)
{
	return __atomic_load_n(&fence->ops, __ATOMIC_RELAXED) == &array_ops;
}
