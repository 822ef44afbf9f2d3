// SPDX-License-Identifier: MIT
/* Control for compat_wrong_signature.c: the kernel's parameter list. */
#include <gpuvm/compat/drm.h>
#include <gpuvm/compat/kernel.h>

int kdrv_init_object(struct drm_device *drm, struct drm_gem_object *obj);

int kdrv_init_object(struct drm_device *drm, struct drm_gem_object *obj)
{
	return drm_gem_object_init(drm, obj, PAGE_SIZE);
}
