// SPDX-License-Identifier: MIT
/*
 * Driver code in the kernel's spelling compiles against <gpuvm/compat/drm.h>
 * and runs: a VM with one mapping built and torn down with kernel names.
 */
#include <stdio.h>
#include <stdlib.h>

#include <gpuvm/compat/drm.h>

struct my_vm {
	struct drm_gpuvm base;
	int freed;
};

static void my_vm_free(struct drm_gpuvm *gpuvm)
{
	((struct my_vm *)gpuvm)->freed = 1;
}

static const struct drm_gpuvm_ops my_ops = {
	.vm_free = my_vm_free,
};

int main(void)
{
	struct drm_device drm = { 0 };
	struct my_vm vm = { 0 };
	struct drm_gem_object *r_obj = drm_gpuvm_resv_object_alloc(&drm);
	struct drm_gpuva va = { 0 };
	struct drm_gpuva_op_map map = { 0 };
	int ret;

	if (IS_ERR_OR_NULL(r_obj))
		return 1;
	drm_gpuvm_init(&vm.base, "compat", DRM_GPUVM_RESV_PROTECTED, &drm,
		       r_obj, 0, 1 << 20, 0, 0, &my_ops);
	drm_gem_object_put(r_obj);

	map.va.addr = 0x1000;
	map.va.range = 0x1000;
	drm_gpuva_init_from_op(&va, &map);
	ret = drm_gpuva_insert(&vm.base, &va);
	if (!ret && drm_gpuva_find(&vm.base, 0x1000, 0x1000) == &va)
		drm_gpuva_remove(&va);
	else
		ret = ret ? ret : -1;
	drm_gpuvm_put(&vm.base);

	printf("1..1\n%s 1 - kernel spellings through <gpuvm/compat/drm.h>\n",
	       !ret && vm.freed ? "ok" : "not ok");
	return !ret && vm.freed ? 0 : 1;
}
