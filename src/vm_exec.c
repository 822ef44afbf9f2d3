// SPDX-License-Identifier: MIT
/*
 * Locking and validation helpers of the VM, built on gpuvm_exec.
 *
 * Without GPUVM_RESV_PROTECTED the extobj and evict lists have their own
 * locks, and the helpers walk them without holding those locks while they
 * take resvs or call the driver: each element is moved to a caller-local
 * list while it is visited (with a temporary reference), and the visited
 * elements are spliced back at the head when the walk ends.
 */
#include <gpuvm/dma_resv.h>

#include "kref.h"
#include "vm_internal.h"

struct list_walk {
	struct gpuvm *gpuvm;
	struct gpuvm_list_head *list;
	struct gpuvm_list_head **local_list_slot;
	struct gpuvm_mutex *lock;
	enum vm_list kind;
	struct gpuvm_list_head local;
	const char *func;
};

static void walk_init(struct list_walk *w, struct gpuvm *gpuvm, enum vm_list l,
		      const char *func)
{
	w->gpuvm = gpuvm;
	w->list = vm_list_head(gpuvm, l);
	w->lock = vm_list_lock(gpuvm, l);
	w->local_list_slot = l == VM_LIST_EXTOBJ ? &gpuvm->extobj.local_list :
						   &gpuvm->evict.local_list;
	w->kind = l;
	gpuvm_list_init(&w->local);
	w->func = func;
}

/*
 * Drop a walk's temporary reference. Kernel difference: the kernel drops
 * it with a plain put. When other threads dropped every other reference
 * meanwhile (in immediate mode a deferred put needs no lock), that put is
 * the last one and unlinks the vm_bo from its GEM's list without the
 * gpuva mutex, racing lookups of the same GEM in other VMs. Here the
 * reference is dropped without a lock only while it cannot be the last;
 * otherwise the gpuva mutex is taken first, with a GEM reference held so
 * the object outlives its own mutex. What the driver sees is the same:
 * the vm_bo is destroyed right there.
 *
 * Staged mode keeps the kernel's plain put. It is safe while the walk
 * holds the GEM's reservation (it locked it), which is the case except
 * when locking that very object failed (-EDEADLK, -EINTR, -ENOMEM): if
 * every other reference was dropped meanwhile (a final put needs only the
 * object's reservation without GPUVM_RESV_PROTECTED), walk_end() then
 * destroys the vm_bo without it, as the kernel would, and the checker
 * reports lock-not-held. Known and left as in the kernel: taking the
 * reservation there could deadlock with the transaction that won.
 */
static void walk_put(struct list_walk *w, struct gpuvm_bo *vm_bo)
{
	struct gpuvm_gem_object *obj = vm_bo->obj;

	if (gpuvm_kref_put_unless_last(&vm_bo->kref))
		return;
	if (!gpuvm_immediate_mode(w->gpuvm)) {
		gpuvm_bo_put(vm_bo);
		return;
	}
	gpuvm_gem_object_get(obj);
	gpuvm_gem_gpuva_lock(obj);
	gpuvm_bo_put(vm_bo);
	gpuvm_gem_gpuva_unlock(obj);
	gpuvm_gem_object_put(obj);
}

/*
 * The next live element, with a temporary reference; @prev's is dropped
 * (walk_put()) after the list lock was released.
 */
static struct gpuvm_bo *walk_next(struct list_walk *w, struct gpuvm_bo *prev)
{
	struct gpuvm_bo *vm_bo = NULL;

	gpuvm_mutex_lock(w->lock);
	if (!*w->local_list_slot)
		*w->local_list_slot = &w->local;
	else if (*w->local_list_slot != &w->local)
		gpuvm_warn(GPUVM_RULE_LOCAL_LIST,
			   "%s: another walk of the same list of VM '%s' is "
			   "in progress",
			   w->func, w->gpuvm->name);
	while (!gpuvm_list_empty(w->list)) {
		struct gpuvm_list_head *node = w->list->next;

		vm_bo = vm_bo_of_list_entry(node, w->kind);
		if (gpuvm_kref_get_unless_zero(&vm_bo->kref)) {
			gpuvm_list_move_tail(node, &w->local);
			break;
		}
		/* Dying: it will not come back, forget it here (the lock
		 * is held). */
		vm_list_del(vm_bo, w->kind, false);
		vm_bo = NULL;
	}
	gpuvm_mutex_unlock(w->lock);

	gpuvm_hook("walk:after_get");
	if (prev)
		walk_put(w, prev);
	return vm_bo;
}

/* Drop the last temporary reference and restore the list. */
static void walk_end(struct list_walk *w, struct gpuvm_bo *last)
{
	if (last)
		walk_put(w, last);
	gpuvm_mutex_lock(w->lock);
	/* Visited elements go back to the head, in their original order. */
	if (!gpuvm_list_empty(&w->local)) {
		struct gpuvm_list_head *first = w->local.next;
		struct gpuvm_list_head *tail = w->local.prev;

		tail->next = w->list->next;
		w->list->next->prev = tail;
		w->list->next = first;
		first->prev = w->list;
		gpuvm_list_init(&w->local);
	}
	*w->local_list_slot = NULL;
	gpuvm_mutex_unlock(w->lock);
}

static bool vm_bo_is_zombie(struct gpuvm_bo *vm_bo)
{
	return gpuvm_kref_read(&vm_bo->kref) == 0;
}

static int exec_prepare_obj(struct gpuvm_exec *exec,
			    struct gpuvm_gem_object *obj,
			    unsigned int num_fences)
{
	return num_fences ? gpuvm_exec_prepare_obj(exec, obj, num_fences) :
			    gpuvm_exec_lock_obj(exec, obj);
}

int gpuvm_prepare_vm(struct gpuvm *gpuvm, struct gpuvm_exec *exec,
		     unsigned int num_fences)
{
	return exec_prepare_obj(exec, gpuvm->r_obj, num_fences);
}

static int prepare_objects_locked(struct gpuvm *gpuvm, struct gpuvm_exec *exec,
				  unsigned int num_fences)
{
	struct gpuvm_bo *vm_bo;
	int ret = 0;

	gpuvm_resv_assert_held__(gpuvm, "gpuvm_prepare_objects");
	gpuvm_list_for_each_entry(vm_bo, &gpuvm->extobj.list,
				  list.entry.extobj) {
		if (vm_bo_is_zombie(vm_bo))
			continue;
		ret = exec_prepare_obj(exec, vm_bo->obj, num_fences);
		if (ret)
			break;
		/* Evicted extobjs join the evict list here (see bo_evict). */
		if (vm_bo->evicted)
			vm_list_add(vm_bo, VM_LIST_EVICT, false);
	}
	return ret;
}

int gpuvm_prepare_objects(struct gpuvm *gpuvm, struct gpuvm_exec *exec,
			  unsigned int num_fences)
{
	struct list_walk w;
	struct gpuvm_bo *vm_bo;
	int ret = 0;

	if (gpuvm_resv_protected(gpuvm))
		return prepare_objects_locked(gpuvm, exec, num_fences);

	walk_init(&w, gpuvm, VM_LIST_EXTOBJ, "gpuvm_prepare_objects");
	for (vm_bo = walk_next(&w, NULL); vm_bo; vm_bo = walk_next(&w, vm_bo)) {
		ret = exec_prepare_obj(exec, vm_bo->obj, num_fences);
		if (ret)
			break;
	}
	walk_end(&w, vm_bo);
	return ret;
}

int gpuvm_prepare_range(struct gpuvm *gpuvm, struct gpuvm_exec *exec,
			uint64_t addr, uint64_t range, unsigned int num_fences)
{
	uint64_t end = addr + range;
	struct gpuva *va;
	int ret;

	gpuvm_for_each_va_range(va, gpuvm, addr, end) {
		if (!va->gem.obj)
			continue;
		ret = exec_prepare_obj(exec, va->gem.obj, num_fences);
		if (ret)
			return ret;
	}
	return 0;
}

int gpuvm_vm_exec_lock(struct gpuvm_vm_exec *vm_exec)
{
	struct gpuvm *gpuvm = vm_exec->vm;
	struct gpuvm_exec *exec = &vm_exec->exec;
	unsigned int num_fences = vm_exec->num_fences;
	int ret;

	gpuvm_exec_init(exec, vm_exec->flags, 0);
	gpuvm_exec_until_all_locked(exec) {
		ret = gpuvm_prepare_vm(gpuvm, exec, num_fences);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			goto err;

		ret = gpuvm_prepare_objects(gpuvm, exec, num_fences);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			goto err;

		if (vm_exec->extra.fn) {
			ret = vm_exec->extra.fn(vm_exec);
			gpuvm_exec_retry_on_contention(exec);
			if (ret)
				goto err;
		}
	}
	return 0;

err:
	gpuvm_exec_fini(exec);
	return ret;
}

struct lock_array_args {
	struct gpuvm_gem_object **objs;
	unsigned int num_objs;
};

static int lock_array_fn(struct gpuvm_vm_exec *vm_exec)
{
	struct lock_array_args *args = vm_exec->extra.priv;

	return gpuvm_exec_prepare_array(&vm_exec->exec, args->objs,
					args->num_objs, vm_exec->num_fences);
}

int gpuvm_vm_exec_lock_array(struct gpuvm_vm_exec *vm_exec,
			     struct gpuvm_gem_object **objs,
			     unsigned int num_objs)
{
	struct lock_array_args args = { objs, num_objs };
	int (*fn)(struct gpuvm_vm_exec * vm_exec) = vm_exec->extra.fn;
	void *priv = vm_exec->extra.priv;
	int ret;

	/* Kernel difference: the kernel leaves extra pointing at its own
	 * stack frame; the caller's extra is restored here, so reusing
	 * @vm_exec for gpuvm_vm_exec_lock() is safe. */
	vm_exec->extra.fn = lock_array_fn;
	vm_exec->extra.priv = &args;
	ret = gpuvm_vm_exec_lock(vm_exec);
	vm_exec->extra.fn = fn;
	vm_exec->extra.priv = priv;
	return ret;
}

int gpuvm_vm_exec_lock_range(struct gpuvm_vm_exec *vm_exec, uint64_t addr,
			     uint64_t range)
{
	struct gpuvm_exec *exec = &vm_exec->exec;
	int ret;

	gpuvm_exec_init(exec, vm_exec->flags, 0);
	gpuvm_exec_until_all_locked(exec) {
		ret = gpuvm_prepare_range(vm_exec->vm, exec, addr, range,
					  vm_exec->num_fences);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			goto err;
	}
	return 0;

err:
	gpuvm_exec_fini(exec);
	return ret;
}

static int validate_locked(struct gpuvm *gpuvm, struct gpuvm_exec *exec)
{
	const struct gpuvm_ops *ops = gpuvm->ops;
	struct gpuvm_bo *vm_bo, *next;
	int ret = 0;

	gpuvm_resv_assert_held__(gpuvm, "gpuvm_validate");
	gpuvm_list_for_each_entry_safe(vm_bo, next, &gpuvm->evict.list,
				       list.entry.evict) {
		if (vm_bo_is_zombie(vm_bo))
			continue;
		ret = ops->vm_bo_validate(vm_bo, exec);
		if (ret)
			break;
		gpuvm_ww_mutex_assert_held(&vm_bo->obj->resv->lock,
					   "gpuvm_validate");
		if (!vm_bo->evicted)
			vm_list_del(vm_bo, VM_LIST_EVICT, false);
	}
	return ret;
}

int gpuvm_validate(struct gpuvm *gpuvm, struct gpuvm_exec *exec)
{
	const struct gpuvm_ops *ops = gpuvm->ops;
	struct list_walk w;
	struct gpuvm_bo *vm_bo;
	int ret = 0;

	if (!ops || !ops->vm_bo_validate)
		return -EOPNOTSUPP;
	if (gpuvm_resv_protected(gpuvm))
		return validate_locked(gpuvm, exec);

	/* The callback removes entries itself, via gpuvm_bo_evict(false). */
	walk_init(&w, gpuvm, VM_LIST_EVICT, "gpuvm_validate");
	for (vm_bo = walk_next(&w, NULL); vm_bo; vm_bo = walk_next(&w, vm_bo)) {
		ret = ops->vm_bo_validate(vm_bo, exec);
		if (ret)
			break;
	}
	walk_end(&w, vm_bo);
	return ret;
}

void gpuvm_resv_add_fence(struct gpuvm *gpuvm, struct gpuvm_exec *exec,
			  struct gpuvm_dma_fence *fence,
			  enum gpuvm_dma_resv_usage private_usage,
			  enum gpuvm_dma_resv_usage extobj_usage)
{
	struct gpuvm_gem_object *obj;

	gpuvm_exec_for_each_locked_object(exec, obj) {
		gpuvm_ww_mutex_assert_held(&obj->resv->lock,
					   "gpuvm_resv_add_fence");
		gpuvm_dma_resv_add_fence(obj->resv, fence,
					 gpuvm_is_extobj(gpuvm, obj) ?
						 extobj_usage :
						 private_usage);
	}
}
