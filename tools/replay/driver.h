/* SPDX-License-Identifier: MIT */
/*
 * The reference driver of gpuvm-replay: a small, complete user of
 * libgpuvm that binds and unbinds the way a kernel driver does, in all
 * four configurations (immediate or staged, with or without
 * GPUVM_RESV_PROTECTED). driver.c reads top to bottom as that driver.
 *
 * Every function that can fail is transactional: it allocates and locks
 * everything it needs first, and only then changes anything. On failure
 * it returns a negative errno and nothing changed.
 *
 * Nothing here knows about the trace language; the replay core (replay.c)
 * checks the trace's rules and calls in here.
 */
#ifndef GPUVM_REPLAY_DRIVER_H
#define GPUVM_REPLAY_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include <gpuvm/gem.h>
#include <gpuvm/ops.h>
#include <gpuvm/vm.h>

/*
 * What the driver reports back while it works: the op lists it is about
 * to apply, and the vm_bos freed or validated. @arg is passed back.
 */
struct drv_sink {
	void (*ops)(void *arg, struct gpuva_ops *ops);
	void (*freed)(void *arg, struct gpuvm_gem_object *obj);
	void (*validated)(void *arg, struct gpuvm_gem_object *obj);
	void *arg;
};

/* The driver's VM. */
struct drv_vm {
	struct gpuvm gpuvm;
	const struct drv_sink *sink;
	bool report_freed; /* set while a cleanup reports what it frees */
};

/* What `state` shows of one vm_bo. */
struct drv_bo_state {
	int refs; /* the vm_bo's reference count */
	bool evicted, on_extobj_list, on_evict_list;
	unsigned long nvas; /* mappings linked to it */
};

static inline bool drv_vm_immediate(struct drv_vm *vm)
{
	return gpuvm_immediate_mode(&vm->gpuvm);
}

/* ---- objects ------------------------------------------------------------ */

/**
 * drv_obj_init() - initialise a GEM object embedded at offset 0 of a
 * gpuvm_kzalloc() allocation; its last put frees that allocation
 * @shared_resv: the VM's resv for a VM-private object, NULL for an
 *               external one (it then has its own)
 */
void drv_obj_init(struct gpuvm_gem_object *obj, size_t size,
		  struct gpuvm_dma_resv *shared_resv);

/* ---- VMs ---------------------------------------------------------------- */

/**
 * drv_vm_create() - a VM with its own reservation object
 * @name: borrowed for the VM's lifetime
 * @r_obj: receives a reference to the VM's reservation object, which the
 *         caller keeps as long as objects share its resv
 *
 * Return: 0 and *@out; -EINVAL when the window or reserved region
 * overflows 64 bits; -ENOMEM.
 */
int drv_vm_create(struct drv_vm **out, const char *name, enum gpuvm_flags flags,
		  uint64_t start, uint64_t range, uint64_t reserve_addr,
		  uint64_t reserve_range, const struct drv_sink *sink,
		  struct gpuvm_gem_object **r_obj);

/* Unmap and unlink every mapping of @vm. Allocates nothing. */
void drv_vm_unmap_all(struct drv_vm *vm);

/* Drop the driver's reference to @vm: the VM is freed once its last
 * vm_bo is gone. */
void drv_vm_put(struct drv_vm *vm);

/* ---- VM_BIND: split/merge requests --------------------------------------- */

/* Map [@addr, @addr + @range) to @obj at @offset (@obj NULL: sparse). */
int drv_map(struct drv_vm *vm, struct gpuvm_gem_object *obj, uint64_t addr,
	    uint64_t range, uint64_t offset);
int drv_unmap(struct drv_vm *vm, uint64_t addr, uint64_t range);
/* Split the sparse mappings at the edges of [@addr, @addr + @range). */
int drv_madvise(struct drv_vm *vm, uint64_t addr, uint64_t range);
/* Report the prefetch ops of a range; changes nothing. */
int drv_prefetch(struct drv_vm *vm, uint64_t addr, uint64_t range);
/* Unmap every mapping of @obj in @vm (none: nothing, not an error). */
int drv_bo_unmap(struct drv_vm *vm, struct gpuvm_gem_object *obj);

/* ---- vm_bo references --------------------------------------------------- */

/* Find or create the vm_bo of (@vm, @obj), registered on the extobj list
 * when external; *@vm_bo receives a reference. */
int drv_obtain(struct drv_vm *vm, struct gpuvm_gem_object *obj,
	       struct gpuvm_bo **vm_bo);
/* A vm_bo's reference count (single-threaded use: a snapshot). */
int drv_vm_bo_refs(struct gpuvm_bo *vm_bo);
/* Drop a reference with the locks a final put needs. Never fails.
 * Return: the count left (0: the vm_bo was freed). */
int drv_put(struct drv_vm *vm, struct gpuvm_bo *vm_bo);
/* Drop a reference holding no lock (immediate mode only). Return: the
 * count left (0: the vm_bo is a zombie waiting for cleanup). */
int drv_put_deferred(struct gpuvm_bo *vm_bo);
/* Free @vm's zombies; with @report, sink->freed names each. */
void drv_cleanup(struct drv_vm *vm, bool report);

/* ---- eviction and validation -------------------------------------------- */

/* Mark @obj's vm_bo in every VM (un)evicted; -ENOENT when it has none.
 * @immediate: the mode of the VMs @obj is used in (its list lock). */
int drv_evict(struct gpuvm_gem_object *obj, bool evict, bool immediate);
/* Lock @vm and its objects and make every evicted one valid again. */
int drv_validate(struct drv_vm *vm);

/* Fill @st for the live vm_bo of (@vm, @obj). Return: false if none. */
bool drv_bo_state(struct drv_vm *vm, struct gpuvm_gem_object *obj,
		  struct drv_bo_state *st);

#endif /* GPUVM_REPLAY_DRIVER_H */
