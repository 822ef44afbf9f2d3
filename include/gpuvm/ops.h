/* SPDX-License-Identifier: MIT */
/*
 * Split/merge operations (the kernel's struct drm_gpuva_op).
 *
 * Given a map or unmap request, the VM computes which existing mappings
 * are unmapped, which are split (remapped into prev/next remnants) and
 * the final map, in address order. Drivers get them either as callbacks
 * during the walk (gpuvm_sm_map / gpuvm_sm_unmap) or as a list
 * (gpuvm_*_ops_create) to apply later. docs/split-merge.md lists the
 * cases of the walk (A1..C3), with an example each, and the madvise
 * variant.
 *
 * Every function here that reads the VA space needs the driver's VA-space
 * lock (va.h); none takes it.
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

/**
 * struct gpuva_op_map - a MAP: map [va.addr, va.addr + va.range) to
 * gem.obj at gem.offset
 * @va.addr: start address
 * @va.range: size
 * @gem.offset: offset into @gem.obj of @va.addr
 * @gem.obj: the object, or NULL for a sparse mapping; no reference held
 *
 * Also the payload of a map request and of a REMAP's remnants.
 */
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

/**
 * struct gpuva_op_unmap - an UNMAP: remove the whole of an existing VA
 * @va: the VA; no reference held, so it must stay allocated until the op
 *      is consumed
 * @keep: the VA maps the map request's (non-NULL) object with the same
 *        address-to-offset relation, so its page-table entries may stay.
 *        Always false for unmap requests; left as allocated (zero) by
 *        gpuvm_bo_unmap_ops_create().
 */
struct gpuva_op_unmap {
	struct gpuva *va;
	bool keep;
};

/**
 * struct gpuva_op_remap - a REMAP: split an existing VA
 * @prev: the remnant before the request, or NULL
 * @next: the remnant after the request, or NULL (never both NULL)
 * @unmap: the VA being split, removed as a whole; its keep as for an UNMAP
 *
 * The remnants keep the old VA's object, with offsets shifted by their
 * distance from its start; re-creating them (rather than UNMAP + MAP)
 * lets the driver carry its per-VA state over. See docs/split-merge.md.
 */
struct gpuva_op_remap {
	struct gpuva_op_map *prev;
	struct gpuva_op_map *next;
	struct gpuva_op_unmap *unmap;
};

/**
 * struct gpuva_op_prefetch - a PREFETCH: make the backing of a VA resident
 * @va: the VA; no reference held
 */
struct gpuva_op_prefetch {
	struct gpuva *va;
};

/**
 * struct gpuva_op - one step of a split/merge walk, or one entry of a list
 * @entry: entry in a struct gpuva_ops list
 * @op: which member of the union is valid
 * @map: payload of GPUVA_OP_MAP
 * @remap: payload of GPUVA_OP_REMAP
 * @unmap: payload of GPUVA_OP_UNMAP
 * @prefetch: payload of GPUVA_OP_PREFETCH
 *
 * An op handed to a step callback, with a REMAP's parts, lives on the
 * walker's stack for the call only; keep a copy if needed. An ops list
 * owns its ops and their parts (gpuva_ops_free()).
 */
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

/**
 * struct gpuva_ops - a list of ops, from one of the *_ops_create builders
 * @list: the ops (linked through gpuva_op.entry), in the order produced
 */
struct gpuva_ops {
	struct gpuvm_list_head list;
};

/**
 * struct gpuvm_map_req - a map request (the kernel's struct
 * drm_gpuvm_map_req)
 * @map: the range to map, and the object (or NULL) and offset to map it to
 */
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
 * @gpuvm: the VM
 * @priv: passed to every callback
 * @req: the request
 *
 * One step per VA overlapping the request, in address order, chosen by
 * the case table of docs/split-merge.md, then the MAP of the request: the
 * sequence is never empty. The callbacks may apply each step to the VA
 * space at once (gpuva_map(), gpuva_remap(), gpuva_unmap()): the walk
 * looks ahead before each step and is not disturbed. A driver that
 * queues them instead must apply them before the next walk of this VM.
 *
 * VAs to pre-allocate (e.g. for a walk in the signalling path): at most
 * 3 inserts per map request, 1 for the final MAP plus at most 2 REMAP
 * remnants. Only the VA crossing the request's start can leave a prev
 * remnant and only the VA crossing its end a next one (one REMAP with
 * both when a single VA contains the request); every VA inside the
 * request is an UNMAP, which inserts nothing. gpuvm_sm_unmap() needs at
 * most 2 (the remnants). Cover them with gpuvm_va_reserve(@gpuvm, 3) too.
 *
 * Context: the driver's VA-space lock; allocates nothing and takes no
 * lock itself, so it fits the fence signalling path when the callbacks do.
 * Return: 0; -EINVAL when a step callback is missing, the range is empty
 * or not valid (gpuvm_range_valid()), or @gpuvm was already freed
 * (reported); otherwise the first non-zero callback return (the walk
 * stops; steps already taken are not undone).
 * Kernel parity: the kernel walks an empty range, with degenerate steps.
 */
GPUVM_EXPORT int gpuvm_sm_map(struct gpuvm *gpuvm, void *priv,
			      const struct gpuvm_map_req *req);

/**
 * gpuvm_sm_unmap() - walk an unmap request, calling the sm_step_* callbacks
 * @gpuvm: the VM
 * @priv: passed to every callback
 * @addr: start of the range to unmap
 * @range: its size
 *
 * One REMAP (a VA crossing an edge of the range) or UNMAP (a VA inside it)
 * per overlapping VA, in address order, keep always false; nothing when
 * no VA overlaps. sm_step_map is not needed.
 *
 * Context: as gpuvm_sm_map().
 * Return: 0; -EINVAL when sm_step_remap or sm_step_unmap is missing, the
 * range is empty or not valid, or @gpuvm was already freed (reported);
 * otherwise the first non-zero callback return (the walk stops).
 * Kernel parity: the kernel walks an empty range.
 */
GPUVM_EXPORT int gpuvm_sm_unmap(struct gpuvm *gpuvm, void *priv, uint64_t addr,
				uint64_t range);

/**
 * gpuvm_sm_map_exec_lock() - lock what a map request would touch
 * @gpuvm: the VM
 * @exec: the transaction, inside its loop; with
 *	GPUVM_EXEC_IGNORE_DUPLICATES (objects repeat)
 * @num_fences: fence slots to reserve on the request's object
 * @req: the request
 *
 * Prepares the request's object, if any, with @num_fences slots (even 0),
 * then locks, without fence slots, the object of every VA the request
 * would split or unmap. The VM's resv is not locked: lock it as well
 * (gpuvm_prepare_vm()). Meant to be called for each operation of a bind
 * inside one loop, before anything is changed.
 *
 * Context: the driver's VA-space lock; may block and allocate; not for
 * the fence signalling path.
 * Return: 0; -EINVAL when the range is empty or not valid (checked after
 * the request's object was prepared), or @gpuvm was already freed
 * (reported, nothing prepared); otherwise the first lock error
 * (-EDEADLK: retry on contention; -EALREADY, -EINTR, -ENOMEM).
 * Kernel parity: the kernel accepts an empty range.
 */
GPUVM_EXPORT int gpuvm_sm_map_exec_lock(struct gpuvm *gpuvm,
					struct gpuvm_exec *exec,
					unsigned int num_fences,
					const struct gpuvm_map_req *req);

/**
 * gpuvm_sm_unmap_exec_lock() - lock what an unmap request would touch
 * @gpuvm: the VM
 * @exec: the transaction, inside its loop; with
 *	GPUVM_EXEC_IGNORE_DUPLICATES
 * @addr: start of the range to unmap
 * @range: its size
 *
 * Locks, without fence slots, the object of every VA the request would
 * split or unmap; not the VM's resv.
 *
 * Context: as gpuvm_sm_map_exec_lock().
 * Return: 0; -EINVAL when the range is empty or not valid, or @gpuvm was
 * already freed (reported); otherwise the first lock error, as
 * gpuvm_sm_map_exec_lock().
 * Kernel parity: the kernel accepts an empty range.
 */
GPUVM_EXPORT int gpuvm_sm_unmap_exec_lock(struct gpuvm *gpuvm,
					  struct gpuvm_exec *exec,
					  uint64_t addr, uint64_t range);

/**
 * gpuvm_sm_map_ops_create() - the ops of a map request, as a list
 * @gpuvm: the VM
 * @req: the request
 *
 * The steps gpuvm_sm_map() would pass to its callbacks, copied into a
 * list (REMAP parts included); no step callback is needed. The VA space
 * is not changed: apply the list in order (or drop it) before building
 * another one for this VM.
 *
 * Context: the driver's VA-space lock; allocates (may block), so not in
 * the fence signalling path.
 * Return: the list, owned by the caller (gpuva_ops_free()); or
 * ERR_PTR(-EINVAL) (empty or invalid range, or @gpuvm already freed:
 * reported) or ERR_PTR(-ENOMEM), with nothing left allocated.
 * Kernel parity: the kernel accepts an empty range, and leaks a REMAP's
 * unmap copy when a later copy fails.
 */
GPUVM_EXPORT struct gpuva_ops *
gpuvm_sm_map_ops_create(struct gpuvm *gpuvm, const struct gpuvm_map_req *req);

/**
 * gpuvm_madvise_ops_create() - the ops of a madvise request, as a list
 * @gpuvm: the VM
 * @req: the request: its range, and the object and offset of the final MAP
 *
 * Splits the VAs without an object that cross an edge of the request,
 * with REMAPs and MAPs only: VAs with an object are left alone, nothing
 * is unmapped. The rules are in docs/split-merge.md.
 *
 * Context: as gpuvm_sm_map_ops_create().
 * Return: as gpuvm_sm_map_ops_create(); the list may be empty.
 * Kernel parity: as gpuvm_sm_map_ops_create().
 */
GPUVM_EXPORT struct gpuva_ops *
gpuvm_madvise_ops_create(struct gpuvm *gpuvm, const struct gpuvm_map_req *req);

/**
 * gpuvm_sm_unmap_ops_create() - the ops of an unmap request, as a list
 * @gpuvm: the VM
 * @addr: start of the range to unmap
 * @range: its size
 *
 * The steps gpuvm_sm_unmap() would pass to its callbacks, as a list.
 *
 * Context: as gpuvm_sm_map_ops_create().
 * Return: as gpuvm_sm_map_ops_create(); the list is empty when no VA
 * overlaps the range.
 * Kernel parity: as gpuvm_sm_map_ops_create().
 */
GPUVM_EXPORT struct gpuva_ops *
gpuvm_sm_unmap_ops_create(struct gpuvm *gpuvm, uint64_t addr, uint64_t range);

/**
 * gpuvm_prefetch_ops_create() - one PREFETCH per VA overlapping a range
 * @gpuvm: the VM
 * @addr: start of the range
 * @range: its size; not validated, as in the kernel
 *
 * In address order; VAs without an object, and the reserved region, are
 * included when they overlap.
 *
 * Context: the driver's VA-space lock; allocates (may block).
 * Return: the list, owned by the caller (gpuva_ops_free()), possibly
 * empty; or ERR_PTR(-EINVAL) when @gpuvm was already freed (reported),
 * or ERR_PTR(-ENOMEM), with everything allocated freed.
 */
GPUVM_EXPORT struct gpuva_ops *
gpuvm_prefetch_ops_create(struct gpuvm *gpuvm, uint64_t addr, uint64_t range);

/**
 * gpuvm_bo_unmap_ops_create() - one UNMAP per VA linked to @vm_bo
 * @vm_bo: the vm_bo
 *
 * In link order, not address order; keep is left as allocated (zero).
 *
 * Context: the GEM list lock (asserted; in immediate mode the gpuva
 * mutex). Allocates with GPUVM_GFP_KERNEL under it, as the kernel does: in
 * immediate mode do not call it where the gpuva mutex is also taken in the
 * fence signalling path (the checker reports
 * GPUVM_RULE_SIGNALLING_LOCK_ALLOC).
 * Return: the list, owned by the caller (gpuva_ops_free()), possibly
 * empty; or ERR_PTR(-ENOMEM), with everything allocated freed.
 */
GPUVM_EXPORT struct gpuva_ops *
gpuvm_bo_unmap_ops_create(struct gpuvm_bo *vm_bo);

/* ---- applying ops to the VA space ---------------------------------- */

/**
 * gpuva_init_from_op() - copy the range, object and offset of @op into @va
 * @va: the VA to fill; nothing else of it is touched (flags included)
 * @op: a MAP payload or a REMAP remnant
 *
 * Context: any; no lock.
 */
GPUVM_EXPORT void gpuva_init_from_op(struct gpuva *va,
				     const struct gpuva_op_map *op);

/**
 * gpuva_map() - initialise @va from @op and insert it
 * @gpuvm: the VM
 * @va: the VA to fill and insert
 * @op: a MAP payload or a REMAP remnant
 *
 * As in the kernel the insert result is dropped: a VA that could not be
 * inserted is simply not in the VA space (and holds no VM reference).
 * gpuva_map_checked() returns it.
 *
 * Context: as gpuva_insert(): the driver's VA-space lock; fit for the
 * fence signalling path.
 * Kernel parity: here the insert can also fail for an empty range or,
 * without reserved index nodes (gpuvm_va_reserve()), with -ENOMEM.
 */
GPUVM_EXPORT void gpuva_map(struct gpuvm *gpuvm, struct gpuva *va,
			    const struct gpuva_op_map *op);

/**
 * gpuva_map_checked() - gpuva_map() that returns the insert result
 * @gpuvm: the VM
 * @va: the VA to fill and insert
 * @op: a MAP payload or a REMAP remnant
 *
 * Context: as gpuva_insert().
 * Return: as gpuva_insert(); on failure @va is filled but not inserted.
 * Kernel parity: no kernel counterpart.
 */
GPUVM_EXPORT int gpuva_map_checked(struct gpuvm *gpuvm, struct gpuva *va,
				   const struct gpuva_op_map *op);

/**
 * gpuva_remap() - apply a REMAP: remove the old VA, insert the remnants
 * @prev: VA for op->prev (used only when op->prev is set)
 * @next: VA for op->next (used only when op->next is set)
 * @op: the REMAP
 *
 * The old VA (op->unmap->va) is removed first, since the remnants overlap
 * it, then the remnants are inserted with gpuva_map() (results dropped).
 * Flags are not copied; nothing is linked or unlinked (link the remnants
 * before unlinking the old VA, whose reference may be the vm_bo's last).
 *
 * Context: the driver's VA-space lock; never blocks, fit for the fence
 * signalling path.
 * Kernel parity: the VM cannot go away during the removal (with the
 * checker or the explorer on, a reference is held across it; with both
 * off, the old VA's reference passes straight to a remnant, so a remap
 * takes one atomic or none); the count afterwards is the kernel's, one
 * per VA. An insert can fail with -ENOMEM unless gpuvm_va_reserve()
 * covered the (up to two) inserts.
 */
GPUVM_EXPORT void gpuva_remap(struct gpuva *prev, struct gpuva *next,
			      const struct gpuva_op_remap *op);

/**
 * gpuva_unmap() - apply an UNMAP: remove op->va
 * @op: the UNMAP
 *
 * Does not unlink the VA.
 *
 * Context: as gpuva_remove().
 */
GPUVM_EXPORT void gpuva_unmap(const struct gpuva_op_unmap *op);

/**
 * gpuva_ops_free() - free a list of ops and every op in it
 * @gpuvm: the VM the list was built for (its ops->op_free is used)
 * @ops: the list; neither NULL nor an error pointer
 *
 * The VAs and objects the ops name are not touched.
 *
 * So a VA removed while applying the list (an UNMAP's op->unmap.va, a
 * REMAP's op->remap.unmap->va) may be freed by the driver at once, before
 * this call: the ops only hold the pointer, and freeing them never reads
 * it (unless the driver's own ops->op_free does). Just do not read such
 * an op afterwards, e.g. with gpuva_op_remap_to_unmap_range().
 *
 * Context: no lock needed; frees (calling ops->op_free), never allocates.
 */
GPUVM_EXPORT void gpuva_ops_free(struct gpuvm *gpuvm, struct gpuva_ops *ops);

/**
 * gpuva_op_remap_to_unmap_range() - the range a REMAP really unmaps
 * @op: the REMAP
 * @start_addr: set to the start of that range, unless NULL
 * @range: set to its size, unless NULL
 *
 * From the end of op->prev (or the old VA's start) to the start of
 * op->next (or the old VA's end). Reads the old VA: call it while that is
 * still valid.
 *
 * Context: any; no lock.
 */
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
