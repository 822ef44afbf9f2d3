/* SPDX-License-Identifier: MIT */
/*
 * The entry points of kernel_driver.c, a driver file in kernel spelling;
 * kernel_driver_main.c drives it. Plain C types only, so the main file
 * needs neither compat header.
 */
#ifndef KERNEL_DRIVER_H
#define KERNEL_DRIVER_H

struct kdrv_device;
struct kdrv_vm;
struct kdrv_bo;

struct kdrv_device *kdrv_device_create(void);
void kdrv_device_destroy(struct kdrv_device *kdev);

struct kdrv_vm *kdrv_vm_create(struct kdrv_device *kdev,
			       unsigned long long size);
void kdrv_vm_put(struct kdrv_vm *vm);

/* @vm: NULL for a BO with its own reservation (an external object). */
struct kdrv_bo *kdrv_bo_create(struct kdrv_device *kdev, struct kdrv_vm *vm,
			       unsigned long long size);
void kdrv_bo_put(struct kdrv_bo *bo);

int kdrv_vm_bind(struct kdrv_vm *vm, struct kdrv_bo *bo,
		 unsigned long long addr, unsigned long long range,
		 unsigned long long offset);
int kdrv_vm_unbind(struct kdrv_vm *vm, unsigned long long addr,
		   unsigned long long range);

/* Number of VAs in @vm, and whether [addr, addr + range) is one VA of @bo
 * at @offset. */
unsigned int kdrv_vm_count(struct kdrv_vm *vm);
int kdrv_vm_has(struct kdrv_vm *vm, struct kdrv_bo *bo, unsigned long long addr,
		unsigned long long range, unsigned long long offset);

#endif /* KERNEL_DRIVER_H */
