// SPDX-License-Identifier: MIT
/*
 * A driver file written the way a kernel driver is: every call in kernel
 * spelling, through <gpuvm/compat/kernel.h> and <gpuvm/compat/drm.h> only.
 * A VM embeds struct drm_gpuvm; binds go through split/merge ops applied
 * in a fence signalling section, under drm_exec locking.
 */
#include <errno.h>

#include <gpuvm/compat/kernel.h>
#include <gpuvm/compat/drm.h>

#include "kernel_driver.h"

#define KDRV_MAX_BOS 4
#define KDRV_BO_PRIVATE BIT(0)

struct kdrv_device {
	struct drm_device drm;
	u32 nr_bos;
};

struct kdrv_vm {
	struct drm_gpuvm base;
	struct kdrv_device *kdev;
	u64 unmapped; /* bytes torn down by remaps and unmaps */
	u64 high; /* highest end address ever bound */
};

struct kdrv_bo {
	struct drm_gem_object base;
	struct kdrv_device *kdev;
	struct drm_gpuvm *vm; /* reference; only for a VM-private BO */
	u32 flags;
};

/* The VAs a list of ops needs, allocated before the signalling section. */
struct kdrv_prealloc {
	struct drm_gpuva **va;
	unsigned int count;
	unsigned int used;
};

static inline struct kdrv_vm *to_kdrv_vm(struct drm_gpuvm *gpuvm)
{
	return container_of(gpuvm, struct kdrv_vm, base);
}

static inline struct kdrv_bo *to_kdrv_bo(struct drm_gem_object *obj)
{
	return container_of(obj, struct kdrv_bo, base);
}

static void kdrv_vm_free(struct drm_gpuvm *gpuvm)
{
	kfree(to_kdrv_vm(gpuvm));
}

static const struct drm_gpuvm_ops kdrv_gpuvm_ops = {
	.vm_free = kdrv_vm_free,
};

static void kdrv_bo_free(struct drm_gem_object *obj)
{
	struct kdrv_bo *bo = to_kdrv_bo(obj);
	struct drm_gpuvm *vm = bo->vm;

	bo->kdev->nr_bos--;
	drm_gem_object_release(obj);
	kfree(bo);
	drm_gpuvm_put(vm);
}

static const struct drm_gem_object_funcs kdrv_bo_funcs = {
	.free = kdrv_bo_free,
};

struct kdrv_device *kdrv_device_create(void)
{
	return kzalloc(sizeof(struct kdrv_device), GFP_KERNEL);
}
EXPORT_SYMBOL(kdrv_device_create);

void kdrv_device_destroy(struct kdrv_device *kdev)
{
	WARN_ON(kdev->nr_bos);
	kfree(kdev);
}
EXPORT_SYMBOL(kdrv_device_destroy);

struct kdrv_vm *kdrv_vm_create(struct kdrv_device *kdev, u64 size)
{
	struct drm_gem_object *r_obj;
	struct kdrv_vm *vm;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL);
	if (!vm)
		return NULL;

	r_obj = drm_gpuvm_resv_object_alloc(&kdev->drm);
	if (!r_obj) {
		kfree(vm);
		return NULL;
	}

	vm->kdev = kdev;
	drm_gpuvm_init(&vm->base, "kdrv", DRM_GPUVM_RESV_PROTECTED, &kdev->drm,
		       r_obj, 0, size, 0, 0, &kdrv_gpuvm_ops);
	drm_gem_object_put(r_obj);
	return vm;
}
EXPORT_SYMBOL(kdrv_vm_create);

void kdrv_vm_put(struct kdrv_vm *vm)
{
	if (vm)
		drm_gpuvm_put(&vm->base);
}

struct kdrv_bo *kdrv_bo_create(struct kdrv_device *kdev, struct kdrv_vm *vm,
			       u64 size)
{
	struct kdrv_bo *bo;
	int ret;

	bo = kzalloc(sizeof(*bo), GFP_KERNEL);
	if (!bo)
		return NULL;

	bo->kdev = kdev;
	bo->base.funcs = &kdrv_bo_funcs;
	if (vm) {
		/* VM-private: share the VM's reservation, keep the VM alive. */
		bo->flags |= KDRV_BO_PRIVATE;
		bo->base.resv = drm_gpuvm_resv(&vm->base);
	}

	ret = drm_gem_object_init(&kdev->drm, &bo->base, size);
	if (ret) {
		kfree(bo);
		return NULL;
	}

	if (unlikely(kdev->nr_bos >= KDRV_MAX_BOS)) {
		/* Never published: undo the init without a put. */
		drm_gem_private_object_fini(&bo->base);
		kfree(bo);
		return NULL;
	}

	kdev->nr_bos++;
	if (bo->flags & KDRV_BO_PRIVATE)
		bo->vm = drm_gpuvm_get(&vm->base);
	return bo;
}

void kdrv_bo_put(struct kdrv_bo *bo)
{
	drm_gem_object_put(&bo->base);
}

static int kdrv_prealloc(struct kdrv_prealloc *pa, struct drm_gpuva_ops *ops)
{
	struct drm_gpuva_op *op;
	unsigned int n = 0, i;

	drm_gpuva_for_each_op(op, ops)
	{
		if (op->op == DRM_GPUVA_OP_MAP)
			n++;
		else if (op->op == DRM_GPUVA_OP_REMAP)
			n += !!op->remap.prev + !!op->remap.next;
	}

	pa->used = 0;
	pa->count = n;
	pa->va =
		kcalloc(max_t(unsigned int, n, 1), sizeof(*pa->va), GFP_KERNEL);
	if (!pa->va)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		pa->va[i] = kzalloc(sizeof(*pa->va[i]), GFP_KERNEL);
		if (!pa->va[i])
			return -ENOMEM;
	}
	return 0;
}

static void kdrv_prealloc_fini(struct kdrv_prealloc *pa)
{
	unsigned int i;

	if (!pa->va)
		return;
	for (i = pa->used; i < pa->count; i++)
		kfree(pa->va[i]);
	kfree(pa->va);
}

static struct drm_gpuva *kdrv_prealloc_next(struct kdrv_prealloc *pa)
{
	if (WARN_ON(pa->used >= pa->count))
		return NULL;
	return pa->va[pa->used++];
}

/*
 * Update the VA space (the page tables, in a real driver). In the fence
 * signalling path: no allocation, no reservation lock taken here.
 */
static void kdrv_apply(struct kdrv_vm *vm, struct drm_gpuva_ops *ops,
		       struct kdrv_prealloc *pa)
{
	struct drm_gpuva_op *op;
	u64 start, range;

	lockdep_assert_held(&drm_gpuvm_resv(&vm->base)->lock);

	pa->used = 0;
	drm_gpuva_for_each_op(op, ops)
	{
		switch (op->op) {
		case DRM_GPUVA_OP_MAP:
			drm_gpuva_map(&vm->base, kdrv_prealloc_next(pa),
				      &op->map);
			vm->high = max(vm->high, (u64)(op->map.va.addr +
						       op->map.va.range));
			break;
		case DRM_GPUVA_OP_REMAP: {
			struct drm_gpuva *prev = NULL, *next = NULL;

			if (op->remap.prev)
				prev = kdrv_prealloc_next(pa);
			if (op->remap.next)
				next = kdrv_prealloc_next(pa);
			drm_gpuva_op_remap_to_unmap_range(&op->remap, &start,
							  &range);
			vm->unmapped += range;
			drm_gpuva_remap(prev, next, &op->remap);
			break;
		}
		case DRM_GPUVA_OP_UNMAP:
			vm->unmapped += op->unmap.va->va.range;
			drm_gpuva_unmap(&op->unmap);
			break;
		default:
			WARN_ON(1);
			break;
		}
	}
}

/* Link the new VAs, unlink and free the old ones; the objects' locks are
 * held (through the drm_exec). */
static void kdrv_link(struct drm_gpuva_ops *ops, struct drm_gpuvm_bo *vm_bo,
		      struct kdrv_prealloc *pa)
{
	struct drm_gpuva_op *op;

	pa->used = 0;
	drm_gpuva_for_each_op(op, ops)
	{
		switch (op->op) {
		case DRM_GPUVA_OP_MAP:
			drm_gpuva_link(kdrv_prealloc_next(pa), vm_bo);
			break;
		case DRM_GPUVA_OP_REMAP: {
			struct drm_gpuva *old = op->remap.unmap->va;

			if (op->remap.prev)
				drm_gpuva_link(kdrv_prealloc_next(pa),
					       old->vm_bo);
			if (op->remap.next)
				drm_gpuva_link(kdrv_prealloc_next(pa),
					       old->vm_bo);
			drm_gpuva_unlink(old);
			kfree(old);
			break;
		}
		case DRM_GPUVA_OP_UNMAP:
			drm_gpuva_unlink(op->unmap.va);
			kfree(op->unmap.va);
			break;
		default:
			break;
		}
	}
}

static int kdrv_run_ops(struct kdrv_vm *vm, struct drm_gpuva_ops *ops,
			struct drm_gpuvm_bo *vm_bo)
{
	struct kdrv_prealloc pa = { 0 };
	bool cookie;
	int ret;

	ret = kdrv_prealloc(&pa, ops);
	if (!ret) {
		cookie = dma_fence_begin_signalling();
		kdrv_apply(vm, ops, &pa);
		dma_fence_end_signalling(cookie);
		kdrv_link(ops, vm_bo, &pa);
	}
	kdrv_prealloc_fini(&pa);
	return ret;
}

int kdrv_vm_bind(struct kdrv_vm *vm, struct kdrv_bo *bo, u64 addr, u64 range,
		 u64 offset)
{
	struct drm_gpuvm_map_req req = {
		.map.va.addr = addr,
		.map.va.range = range,
		.map.gem.obj = &bo->base,
		.map.gem.offset = offset,
	};
	struct drm_gpuvm_bo *vm_bo;
	struct drm_gpuva_ops *ops;
	struct drm_exec exec;
	int ret;

	drm_exec_init(&exec,
		      DRM_EXEC_INTERRUPTIBLE_WAIT | DRM_EXEC_IGNORE_DUPLICATES,
		      0);
	drm_exec_until_all_locked(&exec)
	{
		ret = drm_gpuvm_prepare_vm(&vm->base, &exec, 1);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto out_unlock;

		ret = drm_exec_prepare_obj(&exec, &bo->base, 1);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto out_unlock;

		ret = drm_gpuvm_prepare_range(&vm->base, &exec, addr, range, 1);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto out_unlock;
	}

	/* Not immediate mode: the vm_bo is found or created under the
	 * locks (drm_gpuvm_bo_obtain_prealloc() is the immediate-mode way). */
	vm_bo = drm_gpuvm_bo_obtain_locked(&vm->base, &bo->base);
	if (IS_ERR(vm_bo)) {
		ret = PTR_ERR(vm_bo);
		goto out_unlock;
	}
	drm_gpuvm_bo_extobj_add(vm_bo);

	ops = drm_gpuvm_sm_map_ops_create(&vm->base, &req);
	if (IS_ERR(ops)) {
		ret = PTR_ERR(ops);
		goto out_put;
	}
	ret = kdrv_run_ops(vm, ops, vm_bo);
	drm_gpuva_ops_free(&vm->base, ops);

out_put:
	drm_gpuvm_bo_put(vm_bo);
out_unlock:
	drm_exec_fini(&exec);
	return ret;
}
EXPORT_SYMBOL(kdrv_vm_bind);

int kdrv_vm_unbind(struct kdrv_vm *vm, u64 addr, u64 range)
{
	struct drm_gpuva_ops *ops;
	struct drm_exec exec;
	int ret;

	drm_exec_init(&exec,
		      DRM_EXEC_INTERRUPTIBLE_WAIT | DRM_EXEC_IGNORE_DUPLICATES,
		      0);
	drm_exec_until_all_locked(&exec)
	{
		ret = drm_gpuvm_prepare_vm(&vm->base, &exec, 1);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto out_unlock;

		ret = drm_gpuvm_prepare_range(&vm->base, &exec, addr, range, 1);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto out_unlock;
	}

	ops = drm_gpuvm_sm_unmap_ops_create(&vm->base, addr, range);
	if (IS_ERR(ops)) {
		ret = PTR_ERR(ops);
		goto out_unlock;
	}
	ret = kdrv_run_ops(vm, ops, NULL);
	drm_gpuva_ops_free(&vm->base, ops);

out_unlock:
	drm_exec_fini(&exec);
	return ret;
}
EXPORT_SYMBOL(kdrv_vm_unbind);

unsigned int kdrv_vm_count(struct kdrv_vm *vm)
{
	struct drm_gpuva *va;
	unsigned int n = 0;

	drm_gpuvm_for_each_va(va, &vm->base) n++;
	return n;
}

int kdrv_vm_has(struct kdrv_vm *vm, struct kdrv_bo *bo, u64 addr, u64 range,
		u64 offset)
{
	struct drm_gpuva *va = drm_gpuva_find(&vm->base, addr, range);

	return va && va->gem.obj == &bo->base && va->gem.offset == offset &&
	       va->vm_bo && va->vm_bo->obj == &bo->base;
}
