/* SPDX-License-Identifier: MIT */
/*
 * Test hooks and knobs of device.c and shmem.c (private to the library
 * and its tests).
 *
 * Hook points are named places in the code where a test can make the
 * arriving thread park until the test releases it, or just count
 * arrivals. They let a race test put two threads in an exact
 * interleaving without sleeping. Cost when nothing is armed: one relaxed
 * load. The mechanism is deliberately small so that a general hook
 * facility can replace it: only gpuvm_dev_hook() appears in library code.
 */
#ifndef GPUVM_DEVICE_HOOKS_H
#define GPUVM_DEVICE_HOOKS_H

#include <stdbool.h>

#include <gpuvm/device.h>
#include <gpuvm/shmem.h>

/* The points. */
/* unbind: a devres was revoked and the grace period passed; its data is
 * about to be released */
#define GPUVM_HOOK_DEVRES_RELEASE "devres:release:before_drop"
/* unbind: about to wait for a grace period when revoking a devres */
#define GPUVM_HOOK_DEVRES_REVOKE "devres:release:before_sync"
/* unbind: a drop on another thread won the revocation; about to wait for
 * its release to finish */
#define GPUVM_HOOK_DEVRES_RELEASE_LOST "devres:release:lost"
/* drop: won the revocation and released the data; the node is not yet
 * taken off the device */
#define GPUVM_HOOK_DEVRES_DROP_WON "devres:drop:released"
/* drop: the release is in flight on another thread; about to wait */
#define GPUVM_HOOK_DEVRES_DROP_WAIT "devres:drop:wait"
/* unbind: about to wait for bound scopes to be left */
#define GPUVM_HOOK_UNBIND_WAIT "device:unbind:wait"
/* the shmem SG-table resource's release, with the resv held */
#define GPUVM_HOOK_SGT_MAP_DROP "sgt_map:drop:locked"
/* shmem release: the SG-table resource has been dropped */
#define GPUVM_HOOK_SHMEM_FREE "shmem:free:after_sgt_res"
/* gpuvm_gem_shmem_sg_table() slow path, population lock held */
#define GPUVM_HOOK_SG_TABLE_SLOW "shmem:sg_table:populate"

/* Library side: called at a point. */
void gpuvm_dev_hook(const char *point);

/*
 * Test side. Arm @point: every arrival is counted; with @park the
 * arriving threads also wait there until gpuvm_dev_hook_release(@point).
 * At most 8 points are armed at a time. @point is compared by content.
 */
void gpuvm_dev_hook_arm(const char *point, bool park);

/*
 * Wait until @point was reached @n times since it was armed. Gives up
 * after 30 s so that a broken test fails instead of hanging.
 * Return: whether the count was reached.
 */
bool gpuvm_dev_hook_wait(const char *point, unsigned int n);

/* Arrivals at @point since it was armed. */
unsigned int gpuvm_dev_hook_arrivals(const char *point);

/* Let parked threads go on; later arrivals are only counted. */
void gpuvm_dev_hook_release(const char *point);

/* Release every parked thread and disarm every point. */
void gpuvm_dev_hook_reset(void);

/*
 * Knob: give @devres the old Devres drop semantics (a drop that loses the
 * race to an unbind returns at once, while the release may still run).
 * For the tests that show why the new semantics are needed.
 */
void gpuvm_devres_set_old_semantics__(struct gpuvm_devres *devres, bool old);

/* The bind generation @devres was registered in. */
uint64_t gpuvm_devres_generation__(const struct gpuvm_devres *devres);

/*
 * Knob: make gpuvm_gem_shmem_release() run the C release (unmap and free
 * the table, put the pages) before it drops the SG-table resource: the
 * order that freed the table twice in an early version of the Rust
 * abstraction. Process wide; tests reset it.
 */
void gpuvm_gem_shmem_set_release_first__(bool release_first);

#endif /* GPUVM_DEVICE_HOOKS_H */
