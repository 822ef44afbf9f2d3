// SPDX-License-Identifier: MIT
/*
 * Multi-object locking with contention handling (drm_exec).
 *
 * The contended object is remembered with a reference and locked lazily,
 * by the first lock call of the next pass, with the slow-path lock (the
 * ticket holds nothing at that point). It then stays "prelocked" until the
 * body asks for it again, which just consumes the prelocked state.
 */
#include <errno.h>

#include <gpuvm/exec.h>

#include "internal.h"

/* Growth step and default size of the object array: a page of pointers. */
#define EXEC_PAGE_SIZE 4096u
#define EXEC_PAGE_OBJECTS (EXEC_PAGE_SIZE / sizeof(struct gpuvm_gem_object *))

GPUVM_EXPORT void gpuvm_exec_init(struct gpuvm_exec *exec, uint32_t flags,
				  unsigned int nr)
{
	if (!nr)
		nr = EXEC_PAGE_OBJECTS;

	exec->flags = flags;
	exec->objects = gpuvm_kmalloc_array(nr, sizeof(*exec->objects),
					    GPUVM_GFP_KERNEL);
	/* On failure the first lock allocates again (-ENOMEM if it fails). */
	exec->max_objects = exec->objects ? nr : 0;
	exec->num_objects = 0;
	exec->contended = GPUVM_EXEC_DUMMY;
	exec->prelocked = NULL;
}

/* Unlock and drop every tracked object, newest first, then the prelocked
 * reference. */
static void exec_unlock_all(struct gpuvm_exec *exec)
{
	struct gpuvm_gem_object *obj;

	gpuvm_exec_for_each_locked_object_reverse(exec, obj) {
		gpuvm_dma_resv_unlock(obj->resv);
		gpuvm_gem_object_put(obj);
	}
	exec->num_objects = 0;

	gpuvm_gem_object_put(exec->prelocked);
	exec->prelocked = NULL;
}

GPUVM_EXPORT void gpuvm_exec_fini(struct gpuvm_exec *exec)
{
	exec_unlock_all(exec);
	gpuvm_kfree(exec->objects);
	exec->objects = NULL;
	exec->max_objects = 0;
	if (exec->contended != GPUVM_EXEC_DUMMY) {
		gpuvm_gem_object_put(exec->contended);
		exec->contended = GPUVM_EXEC_DUMMY;
		gpuvm_ww_acquire_fini(&exec->ticket);
	}
}

GPUVM_EXPORT bool gpuvm_exec_cleanup(struct gpuvm_exec *exec)
{
	if (likely(!exec->contended)) {
		gpuvm_ww_acquire_done(&exec->ticket);
		return false;
	}

	if (likely(exec->contended == GPUVM_EXEC_DUMMY)) {
		exec->contended = NULL;
		gpuvm_ww_acquire_init(&exec->ticket,
				      &gpuvm_reservation_ww_class);
		return true;
	}

	exec_unlock_all(exec);
	return true;
}

GPUVM_EXPORT void gpuvm_exec_retry_check__(struct gpuvm_exec *exec)
{
	if (exec->contended != GPUVM_EXEC_DUMMY)
		gpuvm_warn(GPUVM_RULE_EXEC_RETRY,
			   "gpuvm_exec_retry: the exec object was not "
			   "finished and initialised again before the retry");
}

/* Track a locked object, taking a reference for the array entry. */
static int exec_obj_locked(struct gpuvm_exec *exec,
			   struct gpuvm_gem_object *obj)
{
	if (unlikely(exec->num_objects == exec->max_objects)) {
		unsigned int max = exec->max_objects + EXEC_PAGE_OBJECTS;
		struct gpuvm_gem_object **objects;

		objects = gpuvm_krealloc_array(
			exec->objects, max, sizeof(*objects), GPUVM_GFP_KERNEL);
		if (!objects)
			return -ENOMEM;
		exec->objects = objects;
		exec->max_objects = max;
	}
	exec->objects[exec->num_objects++] = gpuvm_gem_object_get(obj);
	return 0;
}

/* Lock the object we backed off for, before anything else of this pass. */
static int exec_lock_contended(struct gpuvm_exec *exec)
{
	struct gpuvm_gem_object *obj = exec->contended;
	int ret;

	if (obj == GPUVM_EXEC_DUMMY) {
		gpuvm_warn(GPUVM_RULE_EXEC_OUTSIDE_LOOP,
			   "gpuvm_exec_lock_obj: called outside "
			   "gpuvm_exec_until_all_locked()");
		return -EINVAL;
	}
	if (exec->num_objects) {
		/*
		 * The body went on locking after a contention instead of
		 * restarting (a retry that did not reach the loop). Taking the
		 * contended lock now, with others held, could deadlock: keep
		 * the contention pending so the pass ends in a restart.
		 */
		gpuvm_warn(GPUVM_RULE_EXEC_CONTENTION_IGNORED,
			   "gpuvm_exec_lock_obj: locking after -EDEADLK "
			   "without a restart of the loop");
		return -EDEADLK;
	}

	/* Cleared whatever happens, so error handling can leave the loop. */
	exec->contended = NULL;
	if (exec->flags & GPUVM_EXEC_INTERRUPTIBLE_WAIT) {
		ret = gpuvm_dma_resv_lock_slow_interruptible(obj->resv,
							     &exec->ticket);
		if (unlikely(ret))
			goto err_put;
	} else {
		gpuvm_dma_resv_lock_slow(obj->resv, &exec->ticket);
	}

	ret = exec_obj_locked(exec, obj);
	if (unlikely(ret))
		goto err_unlock;

	/* The reference that came with contended now belongs to prelocked. */
	exec->prelocked = obj;
	return 0;

err_unlock:
	gpuvm_dma_resv_unlock(obj->resv);
err_put:
	gpuvm_gem_object_put(obj);
	return ret;
}

GPUVM_EXPORT int gpuvm_exec_lock_obj(struct gpuvm_exec *exec,
				     struct gpuvm_gem_object *obj)
{
	int ret;

	if (unlikely(exec->contended)) {
		ret = exec_lock_contended(exec);
		if (unlikely(ret))
			return ret;
	}

	if (exec->prelocked == obj) {
		gpuvm_gem_object_put(exec->prelocked);
		exec->prelocked = NULL;
		return 0;
	}

	if (exec->flags & GPUVM_EXEC_INTERRUPTIBLE_WAIT)
		ret = gpuvm_dma_resv_lock_interruptible(obj->resv,
							&exec->ticket);
	else
		ret = gpuvm_dma_resv_lock(obj->resv, &exec->ticket);

	if (unlikely(ret == -EDEADLK)) {
		exec->contended = gpuvm_gem_object_get(obj);
		return -EDEADLK;
	}
	if (unlikely(ret == -EALREADY) &&
	    (exec->flags & GPUVM_EXEC_IGNORE_DUPLICATES))
		return 0;
	if (unlikely(ret))
		return ret;

	ret = exec_obj_locked(exec, obj);
	if (unlikely(ret))
		gpuvm_dma_resv_unlock(obj->resv);
	return ret;
}

GPUVM_EXPORT void gpuvm_exec_unlock_obj(struct gpuvm_exec *exec,
					struct gpuvm_gem_object *obj)
{
	unsigned int i;

	for (i = exec->num_objects; i--;) {
		if (exec->objects[i] != obj)
			continue;

		gpuvm_dma_resv_unlock(obj->resv);
		for (++i; i < exec->num_objects; ++i)
			exec->objects[i - 1] = exec->objects[i];
		--exec->num_objects;
		if (exec->prelocked == obj) {
			/* Not locked any more: a later lock must lock it. */
			exec->prelocked = NULL;
			gpuvm_gem_object_put(obj);
		}
		gpuvm_gem_object_put(obj);
		return;
	}
}

GPUVM_EXPORT int gpuvm_exec_prepare_obj(struct gpuvm_exec *exec,
					struct gpuvm_gem_object *obj,
					unsigned int num_fences)
{
	int ret;

	ret = gpuvm_exec_lock_obj(exec, obj);
	if (ret)
		return ret;

	ret = gpuvm_dma_resv_reserve_fences(obj->resv, num_fences);
	if (ret) {
		gpuvm_exec_unlock_obj(exec, obj);
		return ret;
	}
	return 0;
}

GPUVM_EXPORT int gpuvm_exec_prepare_array(struct gpuvm_exec *exec,
					  struct gpuvm_gem_object **objects,
					  unsigned int num_objects,
					  unsigned int num_fences)
{
	unsigned int i;
	int ret;

	for (i = 0; i < num_objects; ++i) {
		ret = gpuvm_exec_prepare_obj(exec, objects[i], num_fences);
		if (unlikely(ret))
			return ret;
	}
	return 0;
}
