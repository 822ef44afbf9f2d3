// SPDX-License-Identifier: MIT
/*
 * Runs kernel_driver.c: binds that split and merge, a VM-private and an
 * external BO, then teardown; no warning and no leaked allocation.
 */
#include <stdio.h>

#include <gpuvm/gpuvm.h>

#include "kernel_driver.h"

static int failures;
static unsigned int test_no;

static void check(int ok, const char *what)
{
	printf("%s %u - %s\n", ok ? "ok" : "not ok", ++test_no, what);
	failures += !ok;
}

int main(void)
{
	unsigned long warns = gpuvm_warn_count();
	long live = gpuvm_alloc_live();
	struct kdrv_device *kdev = kdrv_device_create();
	struct kdrv_vm *vm = kdev ? kdrv_vm_create(kdev, 1ull << 32) : NULL;
	struct kdrv_bo *priv = NULL, *ext = NULL, *extra[4] = { NULL };
	unsigned int i, n_extra = 0;

	printf("1..9\n");
	if (vm) {
		priv = kdrv_bo_create(kdev, vm, 0x10000);
		ext = kdrv_bo_create(kdev, NULL, 0x10000);
	}
	check(vm && priv && ext, "device, VM and BOs created");
	if (!priv || !ext) {
		printf("Bail out! setup failed\n");
		return 1;
	}

	check(!kdrv_vm_bind(vm, priv, 0x100000, 0x10000, 0) &&
		      kdrv_vm_has(vm, priv, 0x100000, 0x10000, 0),
	      "bind a VM-private BO");
	check(!kdrv_vm_bind(vm, ext, 0x104000, 0x4000, 0x8000) &&
		      kdrv_vm_count(vm) == 3 &&
		      kdrv_vm_has(vm, priv, 0x100000, 0x4000, 0) &&
		      kdrv_vm_has(vm, ext, 0x104000, 0x4000, 0x8000) &&
		      kdrv_vm_has(vm, priv, 0x108000, 0x8000, 0x8000),
	      "bind an external BO in the middle: remap into prev and next");
	check(!kdrv_vm_unbind(vm, 0x102000, 0x4000) && kdrv_vm_count(vm) == 3 &&
		      kdrv_vm_has(vm, priv, 0x100000, 0x2000, 0) &&
		      kdrv_vm_has(vm, ext, 0x106000, 0x2000, 0xa000),
	      "unbind across two VAs");

	/* The device allows four BOs: the fifth is refused after its init
	 * (drm_gem_private_object_fini path). */
	for (i = 0; i < 3; i++) {
		extra[i] = kdrv_bo_create(kdev, NULL, 0x1000);
		n_extra += extra[i] != NULL;
	}
	check(n_extra == 2 && !extra[2], "BO limit: init undone with fini");
	for (i = 0; i < 3; i++)
		if (extra[i])
			kdrv_bo_put(extra[i]);

	check(!kdrv_vm_unbind(vm, 0, 1ull << 32) && kdrv_vm_count(vm) == 0,
	      "unbind everything");
	check(kdrv_vm_unbind(vm, 0, 0) != 0, "empty unbind refused");

	kdrv_bo_put(ext);
	kdrv_bo_put(priv);
	kdrv_vm_put(vm);
	kdrv_device_destroy(kdev);

	gpuvm_alloc_drain();
	check(gpuvm_alloc_live() == live, "no leaked allocation");
	check(gpuvm_warn_count() == warns, "no warning");
	return failures ? 1 : 0;
}
