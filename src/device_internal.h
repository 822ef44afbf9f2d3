/* SPDX-License-Identifier: MIT */
/*
 * What shmem.c needs of device.c beyond the public API.
 */
#ifndef GPUVM_DEVICE_INTERNAL_H
#define GPUVM_DEVICE_INTERNAL_H

#include <stdint.h>

#include <gpuvm/device.h>

#include "internal.h"

/* What the device code shares between device.c, devres.c and dma_map.c. */

enum device_state {
	DEV_UNBOUND,
	DEV_BOUND,
	DEV_UNBINDING, /* no new bound scopes; waiting for the old ones */
	DEV_RELEASING, /* releasing the device resources */
};

/* A device resource: see devres.c. */
struct gpuvm_devres {
	struct gpuvm_list_head node; /* in dev->devres__, under dev->lock__ */
	struct gpuvm_device *dev;
	uint64_t generation;
	struct gpuvm_revocable rev;
	int refcount;
	bool revocation_done; /* under dev->lock__ */
	bool action; /* devm action: no handle, no readers */
	bool old_semantics;
};

static inline const char *gpuvm_dev_name(const struct gpuvm_device *dev)
{
	return dev->name ? dev->name : "device";
}

/* Unbind's half of a devres: revoke and release, then drop the node's
 * reference (devres.c). */
void gpuvm_devres_release_node(struct gpuvm_devres *dr);

/* Mappings of @dev made in bind generation @gen (dma_map.c); lock__ held. */
unsigned long gpuvm_dma_count_gen(struct gpuvm_device *dev, uint64_t gen);

/* 0 when @bound is a live bound scope of its device, else the error (and a
 * report naming @func) (device.c). */
int gpuvm_bound_check(const struct gpuvm_device_bound *bound, const char *func);

/* The bind generation @devres was registered in. */
uint64_t gpuvm_devres_generation(const struct gpuvm_devres *devres);

#endif /* GPUVM_DEVICE_INTERNAL_H */
