// SPDX-License-Identifier: MIT
/*
 * Must not compile: drm_gem_object_init() with libgpuvm's old parameter
 * list instead of the kernel's (struct drm_device *, obj, size).
 */
#include <gpuvm/compat/drm.h>
#include <gpuvm/compat/kernel.h>

int kdrv_init_object(struct drm_device *drm, struct drm_gem_object *obj);

int kdrv_init_object(struct drm_device *drm, struct drm_gem_object *obj)
{
	(void)drm;
	return drm_gem_object_init(obj, PAGE_SIZE);
}
