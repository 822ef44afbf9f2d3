/* SPDX-License-Identifier: MIT */
/*
 * Split/merge operations (the kernel's struct drm_gpuva_op).
 *
 * Given a map or unmap request, the VM computes which existing mappings
 * are unmapped, which are split (remapped into prev/next remnants) and
 * the final map, in address order. Drivers get them either as callbacks
 * during the walk (gpuvm_sm_map / gpuvm_sm_unmap) or as a list
 * (gpuvm_*_ops_create) to apply later.
 */
#ifndef GPUVM_OPS_H
#define GPUVM_OPS_H

#include <gpuvm/common.h>
#include <gpuvm/list.h>
#include <gpuvm/va.h>

GPUVM_BEGIN_DECLS

struct gpuvm_exec;

enum gpuva_op_type {
	GPUVA_OP_MAP,
	GPUVA_OP_REMAP,
	GPUVA_OP_UNMAP,
	GPUVA_OP_PREFETCH,
	GPUVA_OP_DRIVER, /* never produced by the library */
};

/* Map [va.addr, va.addr + va.range) to gem.obj at gem.offset. */
struct gpuva_op_map {
	struct {
		uint64_t addr;
		uint64_t range;
	} va;
	struct {
		uint64_t offset;
		struct gpuvm_gem_object *obj;
	} gem;
};

/*
 * Remove the whole of @va. @keep: the VA maps the request's object with
 * the same address-to-offset relation, so its page-table entries may stay.
 */
struct gpuva_op_unmap {
	struct gpuva *va;
	bool keep;
};

/* Split unmap->va: remove it and re-create the remnants @prev and @next
 * (either may be NULL, not both). */
struct gpuva_op_remap {
	struct gpuva_op_map *prev;
	struct gpuva_op_map *next;
	struct gpuva_op_unmap *unmap;
};

struct gpuva_op_prefetch {
	struct gpuva *va;
};

struct gpuva_op {
	struct gpuvm_list_head entry;
	enum gpuva_op_type op;
	union {
		struct gpuva_op_map map;
		struct gpuva_op_remap remap;
		struct gpuva_op_unmap unmap;
		struct gpuva_op_prefetch prefetch;
	};
};

struct gpuva_ops {
	struct gpuvm_list_head list;
};

/* A map request (the kernel's struct drm_gpuvm_map_req). */
struct gpuvm_map_req {
	struct gpuva_op_map map;
};

#define gpuva_for_each_op(op__, ops__) \
	gpuvm_list_for_each_entry(op__, &(ops__)->list, entry)

#define gpuva_for_each_op_safe(op__, next__, ops__) \
	gpuvm_list_for_each_entry_safe(op__, next__, &(ops__)->list, entry)

/* Backwards from @op__ (inclusive). */
#define gpuva_for_each_op_from_reverse(op__, ops__)                         \
	for (; &(op__)->entry != &(ops__)->list;                            \
	     (op__) = gpuvm_list_entry((op__)->entry.prev, struct gpuva_op, \
				       entry))

#define gpuva_for_each_op_reverse(op__, ops__)                              \
	for ((op__) = gpuvm_list_entry((ops__)->list.prev, struct gpuva_op, \
				       entry);                              \
	     &(op__)->entry != &(ops__)->list;                              \
	     (op__) = gpuvm_list_entry((op__)->entry.prev, struct gpuva_op, \
				       entry))

#define gpuva_first_op(ops__) \
	gpuvm_list_first_entry(&(ops__)->list, struct gpuva_op, entry)
#define gpuva_last_op(ops__) \
	gpuvm_list_entry((ops__)->list.prev, struct gpuva_op, entry)
#define gpuva_prev_op(op__) \
	gpuvm_list_entry((op__)->entry.prev, struct gpuva_op, entry)
#define gpuva_next_op(op__) \
	gpuvm_list_entry((op__)->entry.next, struct gpuva_op, entry)

/**
 * gpuvm_sm_map() - walk a map request, calling the sm_step_* callbacks
 * @priv: passed to every callback
 *
 * Context: the driver's VA-space lock; allocates nothing itself, so it can
 * run in the fence signalling path when the callbacks can.
 * Return: 0; -EINVAL when a step callback is missing or the range is not
 * valid; otherwise the first non-zero callback return (the walk stops;
 * steps already taken are not undone).
 */
GPUVM_EXPORT int gpuvm_sm_map(struct gpuvm *gpuvm, void *priv,
			      const struct gpuvm_map_req *req);

/* As gpuvm_sm_map() for an unmap request: REMAP and UNMAP steps only
 * (sm_step_map is not needed). */
GPUVM_EXPORT int gpuvm_sm_unmap(struct gpuvm *gpuvm, void *priv, uint64_t addr,
				uint64_t range);

/**
 * gpuvm_sm_map_exec_lock() - lock what a map request would touch
 *
 * Prepares the request's object (@num_fences slots) and locks the object
 * of every VA the request would split or unmap. Use inside an exec loop
 * with GPUVM_EXEC_IGNORE_DUPLICATES. Return: 0, -EINVAL or the lock error.
 */
GPUVM_EXPORT int gpuvm_sm_map_exec_lock(struct gpuvm *gpuvm,
					struct gpuvm_exec *exec,
					unsigned int num_fences,
					const struct gpuvm_map_req *req);

GPUVM_EXPORT int gpuvm_sm_unmap_exec_lock(struct gpuvm *gpuvm,
					  struct gpuvm_exec *exec,
					  uint64_t addr, uint64_t range);

/**
 * gpuvm_sm_map_ops_create() - the ops of a map request, as a list
 *
 * Context: allocates (not in the signalling path); the VA space is not
 * changed. Return: the list (free with gpuva_ops_free()), or an error
 * pointer: -EINVAL for an invalid range, -ENOMEM (nothing allocated).
 */
GPUVM_EXPORT struct gpuva_ops *
gpuvm_sm_map_ops_create(struct gpuvm *gpuvm, const struct gpuvm_map_req *req);

/* The madvise variant: splits NULL-object VAs at the request's edges. */
GPUVM_EXPORT struct gpuva_ops *
gpuvm_madvise_ops_create(struct gpuvm *gpuvm, const struct gpuvm_map_req *req);

GPUVM_EXPORT struct gpuva_ops *
gpuvm_sm_unmap_ops_create(struct gpuvm *gpuvm, uint64_t addr, uint64_t range);

/* One PREFETCH per VA overlapping the range (no validation, as in the
 * kernel). */
GPUVM_EXPORT struct gpuva_ops *
gpuvm_prefetch_ops_create(struct gpuvm *gpuvm, uint64_t addr, uint64_t range);

/*
 * One UNMAP per VA linked to @vm_bo, in link order. Context: the GEM list
 * lock (in immediate mode the gpuva mutex); allocates with
 * GPUVM_GFP_KERNEL under it, as the kernel does. So in immediate mode do
 * not call it where the gpuva mutex is also taken in the fence signalling
 * path (the checker reports GPUVM_RULE_SIGNALLING_LOCK_ALLOC).
 */
GPUVM_EXPORT struct gpuva_ops *
gpuvm_bo_unmap_ops_create(struct gpuvm_bo *vm_bo);

/* ---- applying ops to the VA space ---------------------------------- */

/* Copy the interval, object and offset of @op into @va (nothing else). */
GPUVM_EXPORT void gpuva_init_from_op(struct gpuva *va,
				     const struct gpuva_op_map *op);

/**
 * gpuva_map() - initialise @va from @op and insert it
 *
 * Kernel parity: the insert result is not returned; a VA that could not be
 * inserted is simply not in the VA space. gpuva_map_checked() returns it.
 */
GPUVM_EXPORT void gpuva_map(struct gpuvm *gpuvm, struct gpuva *va,
			    const struct gpuva_op_map *op);
GPUVM_EXPORT int gpuva_map_checked(struct gpuvm *gpuvm, struct gpuva *va,
				   const struct gpuva_op_map *op);

/**
 * gpuva_remap() - apply a REMAP: remove the old VA, insert the remnants
 * @prev: VA for op->prev (used only when op->prev is set)
 * @next: VA for op->next (used only when op->next is set)
 */
GPUVM_EXPORT void gpuva_remap(struct gpuva *prev, struct gpuva *next,
			      const struct gpuva_op_remap *op);

/* Apply an UNMAP: remove op->va (does not unlink it). */
GPUVM_EXPORT void gpuva_unmap(const struct gpuva_op_unmap *op);

/* Free @ops, built for @gpuvm (its op_free is used). */
GPUVM_EXPORT void gpuva_ops_free(struct gpuvm *gpuvm, struct gpuva_ops *ops);

/* The hole a REMAP leaves: from the end of prev (or the old start) to the
 * start of next (or the old end). */
static inline void
gpuva_op_remap_to_unmap_range(const struct gpuva_op_remap *op,
			      uint64_t *start_addr, uint64_t *range)
{
	const uint64_t va_start =
		op->prev ? op->prev->va.addr + op->prev->va.range :
			   op->unmap->va->va.addr;
	const uint64_t va_end =
		op->next ? op->next->va.addr :
			   op->unmap->va->va.addr + op->unmap->va->va.range;

	if (start_addr)
		*start_addr = va_start;
	if (range)
		*range = va_end - va_start;
}

GPUVM_END_DECLS

#endif /* GPUVM_OPS_H */
