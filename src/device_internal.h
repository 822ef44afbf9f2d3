/* SPDX-License-Identifier: MIT */
/*
 * What shmem.c needs of device.c beyond the public API.
 */
#ifndef GPUVM_DEVICE_INTERNAL_H
#define GPUVM_DEVICE_INTERNAL_H

#include <stdint.h>

#include <gpuvm/device.h>

#include "internal.h"

/* The bind generation @devres was registered in. */
uint64_t gpuvm_devres_generation(const struct gpuvm_devres *devres);

#endif /* GPUVM_DEVICE_INTERNAL_H */
