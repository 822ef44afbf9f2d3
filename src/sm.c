// SPDX-License-Identifier: MIT
/*
 * The split/merge walk and the ops-list builders.
 *
 * One walker serves every entry point. It visits the VAs overlapping the
 * request in ascending order and emits, per VA, one step chosen by where
 * the VA starts and ends relative to the request; a map request ends with
 * the MAP of the request itself. The step goes to a callback: the driver's
 * (gpuvm_sm_map), a recorder that copies it into a list (*_ops_create), or
 * a locker (*_exec_lock). The cases (A1..C3) and the madvise variant are
 * described, with examples, in docs/split-merge.md.
 *
 * Deviation: empty requests (range 0) are refused with -EINVAL; the kernel
 * accepts them and produces degenerate steps.
 */
#include <string.h>

#include <gpuvm/ops.h>

#include "alloc_internal.h"
#include "kref.h"
#include "vm_internal.h"

/*
 * The walk takes the VA after the current one and, in *@next_start, where
 * it starts, both from the index: it then decides whether to go on
 * without waiting for that VA (reading the next VA's start from the VA
 * itself would be a miss on the critical path, only to learn that it
 * lies past the end). That VA is still prefetched: the walk's next
 * step reads it. Anchored requests at n = 1e6 about 3% faster.
 */
static inline struct gpuva *sm_prefetch_next(struct gpuva *next)
{
	if (next)
		__builtin_prefetch(&next->va, 1);
	return next;
}

/* The first VA overlapping the request, and the one after it (the
 * lookup's own position gives it: no second search). */
static inline struct gpuva *sm_first(struct gpuvm *gpuvm, uint64_t start,
				     uint64_t end, struct gpuva **next,
				     uint64_t *next_start)
{
	void *after = NULL;
	struct gpuva *va = gpuvm_va_index_first_overlap_for_update(
		gpuvm_va_index(gpuvm), start, end, &after, next_start);

	*next = va ? sm_prefetch_next(after) : NULL;
	return va;
}

static inline struct gpuva *sm_next(struct gpuvm *gpuvm, struct gpuva *va,
				    uint64_t *next_start)
{
	return sm_prefetch_next(gpuvm_va_index_next_item(
		gpuvm_va_index(gpuvm), va, va->va.addr, next_start));
}

/*
 * gpuvm_for_each_va_range_safe() for a walk whose ops change the VA space
 * right there: its lookup leaves the index ready for those changes (see
 * gpuvm_va_index_first_overlap_for_update()). Like it, it takes the next
 * VA before the body runs, which may remove @va__ and put pieces of it
 * back; @next_start__ is where that next VA starts.
 */
#define sm_for_each_va_range_safe(va__, next__, next_start__, gpuvm__,        \
				  start__, end__)                             \
	for ((va__) = sm_first(gpuvm__, (start__), (end__), &(next__),        \
			       &(next_start__));                              \
	     (va__);                                                          \
	     (va__) = (next__) && (next_start__) < (end__) ? (next__) : NULL, \
	    (next__) = (va__) ? sm_next(gpuvm__, va__, &(next_start__)) :     \
				NULL)

/*
 * A VA the walk visits is about to be unmapped or split: the driver then
 * unlinks it from its vm_bo's list, writing both neighbours there. Those
 * are random lines, and each miss would stall the next atomic (measured:
 * anchored requests at 1e6 about 10% faster). Start loading them while
 * the ops are built. The gem links belong to the object's gpuva lock, not
 * to the VA-space lock the walk runs under, so they are read as a relaxed
 * atomic; a stale value costs a useless prefetch, nothing else.
 *
 * Always inlined: a function whose only effect is a prefetch counts as
 * side-effect free to GCC, which then deletes the call when it does not
 * inline it early (it once did so to such a helper in va_index.c, at -O1
 * to -O3).
 */
static inline __attribute__((always_inline)) void
prefetch_unlink_neighbours(const struct gpuva *va)
{
	__builtin_prefetch(
		__atomic_load_n(&va->gem.entry.next, __ATOMIC_RELAXED), 1);
	__builtin_prefetch(
		__atomic_load_n(&va->gem.entry.prev, __ATOMIC_RELAXED), 1);
}

struct step_ops {
	int (*map)(struct gpuva_op *op, void *priv);
	int (*remap)(struct gpuva_op *op, void *priv);
	int (*unmap)(struct gpuva_op *op, void *priv);
};

static int emit_remap(const struct step_ops *fn, void *priv,
		      struct gpuva_op_map *prev, struct gpuva_op_map *next,
		      struct gpuva *va, bool keep)
{
	struct gpuva_op_unmap unmap = { .va = va, .keep = keep };
	struct gpuva_op op = { .op = GPUVA_OP_REMAP };

	op.remap.prev = prev;
	op.remap.next = next;
	op.remap.unmap = &unmap;
	return fn->remap(&op, priv);
}

static int emit_unmap(const struct step_ops *fn, void *priv, struct gpuva *va,
		      bool keep)
{
	struct gpuva_op op = { .op = GPUVA_OP_UNMAP };

	op.unmap.va = va;
	op.unmap.keep = keep;
	return fn->unmap(&op, priv);
}

static struct gpuva_op_map piece(uint64_t addr, uint64_t range,
				 struct gpuvm_gem_object *obj, uint64_t offset)
{
	struct gpuva_op_map m;

	m.va.addr = addr;
	m.va.range = range;
	m.gem.obj = obj;
	m.gem.offset = offset;
	return m;
}

static int emit_map(const struct step_ops *fn, void *priv, uint64_t addr,
		    uint64_t range, struct gpuvm_gem_object *obj,
		    uint64_t offset)
{
	struct gpuva_op op = { .op = GPUVA_OP_MAP };

	op.map = piece(addr, range, obj, offset);
	return fn->map(&op, priv);
}

static bool request_valid(struct gpuvm *gpuvm, uint64_t addr, uint64_t range)
{
	return range && gpuvm_range_valid(gpuvm, addr, range);
}

/*
 * The map walk. @madvise: only NULL-object VAs are split at the request's
 * edges, nothing is unmapped, and MAPs are emitted only where a split
 * leaves a piece inside the request. Case labels: A/B/C = the VA starts
 * at/before/after the request, 1/2/3 = it ends at/inside/after its end
 * (docs/split-merge.md).
 */
static int sm_map_walk(struct gpuvm *gpuvm, const struct step_ops *fn,
		       void *priv, const struct gpuvm_map_req *req,
		       bool madvise)
{
	uint64_t req_addr = req->map.va.addr, req_range = req->map.va.range;
	uint64_t req_end = req_addr + req_range;
	struct gpuvm_gem_object *req_obj = req->map.gem.obj;
	uint64_t req_offset = req->map.gem.offset;
	bool needs_map = !madvise;
	struct gpuva *va, *next;
	uint64_t next_start = 0;
	int ret;

	if (!request_valid(gpuvm, req_addr, req_range))
		return -EINVAL;

	sm_for_each_va_range_safe(va, next, next_start, gpuvm, req_addr,
				  req_end) {
		struct gpuvm_gem_object *obj = va->gem.obj;
		uint64_t offset = va->gem.offset;
		uint64_t addr = va->va.addr, end = addr + va->va.range;
		/* keep: same object, same address-to-offset relation. */
		bool keep = obj != NULL && obj == req_obj;

		prefetch_unlink_neighbours(va);

		if (madvise && obj)
			continue;

		if (addr < req_addr) {
			uint64_t ls_range = req_addr - addr;
			struct gpuva_op_map p =
				piece(addr, ls_range, obj, offset);

			keep = keep && offset + ls_range == req_offset;
			if (end <= req_end) {
				/* B1, B2: the VA ends inside the request. */
				ret = emit_remap(fn, priv, &p, NULL, va, keep);
				if (ret)
					return ret;
				if (end == req_end) {
					needs_map = true;
					break;
				}
				if (madvise) {
					ret = emit_map(fn, priv, req_addr,
						       end - req_addr, NULL, 0);
					if (ret)
						return ret;
				}
				continue;
			}
			/* B3: the request lies inside the VA. */
			struct gpuva_op_map n =
				piece(req_end, end - req_end, obj,
				      offset + ls_range + req_range);

			ret = emit_remap(fn, priv, &p, &n, va, keep);
			if (ret)
				return ret;
			needs_map = true;
			break;
		}

		/* A (addr == req_addr) and C (addr > req_addr) cases. */
		keep = keep && offset == req_offset + (addr - req_addr);
		if (end <= req_end) {
			/* A1, A2, C1, C2: the VA lies inside the request. */
			if (!madvise) {
				ret = emit_unmap(fn, priv, va, keep);
				if (ret)
					return ret;
			}
			if (end == req_end)
				break;
			continue;
		}
		/* A3, C3: the VA goes on past the request. */
		struct gpuva_op_map n = piece(req_end, end - req_end, obj,
					      offset + (req_end - addr));

		ret = emit_remap(fn, priv, NULL, &n, va, keep);
		if (ret)
			return ret;
		/* madvise C3 maps its own part and ends the walk there. */
		if (madvise && addr > req_addr)
			return emit_map(fn, priv, addr, req_end - addr, NULL,
					0);
		needs_map = true;
		break;
	}

	if (!needs_map)
		return 0;
	return emit_map(fn, priv, req_addr, req_range, req_obj, req_offset);
}

/* The unmap walk: the same cases, no early stop, no MAP, keep false
 * (docs/split-merge.md, "Unmap requests"). */
static int sm_unmap_walk(struct gpuvm *gpuvm, const struct step_ops *fn,
			 void *priv, uint64_t req_addr, uint64_t req_range)
{
	uint64_t req_end = req_addr + req_range;
	struct gpuva *va, *next;
	uint64_t next_start = 0;
	int ret;

	if (!request_valid(gpuvm, req_addr, req_range))
		return -EINVAL;

	sm_for_each_va_range_safe(va, next, next_start, gpuvm, req_addr,
				  req_end) {
		struct gpuvm_gem_object *obj = va->gem.obj;
		uint64_t offset = va->gem.offset;
		uint64_t addr = va->va.addr, end = addr + va->va.range;
		struct gpuva_op_map p, n;
		bool split_prev = addr < req_addr;
		bool split_next = end > req_end;

		prefetch_unlink_neighbours(va);

		if (split_prev)
			p = piece(addr, req_addr - addr, obj, offset);
		if (split_next)
			n = piece(req_end, end - req_end, obj,
				  offset + (req_end - addr));
		if (split_prev || split_next)
			ret = emit_remap(fn, priv, split_prev ? &p : NULL,
					 split_next ? &n : NULL, va, false);
		else
			ret = emit_unmap(fn, priv, va, false);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Entry points read the VM's fields: refuse one whose vm_free ran (its
 * count reads the poison with the checker on), reported naming @func.
 */
static bool vm_freed(struct gpuvm *gpuvm, const char *func)
{
	return gpuvm_kref_freed(&gpuvm->kref, func);
}

/* ---- the driver's callbacks -------------------------------------------- */

int gpuvm_sm_map(struct gpuvm *gpuvm, void *priv,
		 const struct gpuvm_map_req *req)
{
	const struct gpuvm_ops *ops;
	struct step_ops fn;

	if (vm_freed(gpuvm, "gpuvm_sm_map"))
		return -EINVAL;
	ops = gpuvm->ops;
	if (!ops || !ops->sm_step_map || !ops->sm_step_remap ||
	    !ops->sm_step_unmap)
		return -EINVAL;
	fn = (struct step_ops){ ops->sm_step_map, ops->sm_step_remap,
				ops->sm_step_unmap };
	return sm_map_walk(gpuvm, &fn, priv, req, false);
}

int gpuvm_sm_unmap(struct gpuvm *gpuvm, void *priv, uint64_t addr,
		   uint64_t range)
{
	const struct gpuvm_ops *ops;
	struct step_ops fn;

	if (vm_freed(gpuvm, "gpuvm_sm_unmap"))
		return -EINVAL;
	ops = gpuvm->ops;
	if (!ops || !ops->sm_step_remap || !ops->sm_step_unmap)
		return -EINVAL;
	fn = (struct step_ops){ NULL, ops->sm_step_remap, ops->sm_step_unmap };
	return sm_unmap_walk(gpuvm, &fn, priv, addr, range);
}

/* ---- locking what a request touches ------------------------------------ */

static int lock_step_none(struct gpuva_op *op, void *priv)
{
	return 0;
}

static int lock_step_remap(struct gpuva_op *op, void *priv)
{
	struct gpuvm_gem_object *obj = op->remap.unmap->va->gem.obj;

	return obj ? gpuvm_exec_lock_obj(priv, obj) : 0;
}

static int lock_step_unmap(struct gpuva_op *op, void *priv)
{
	struct gpuvm_gem_object *obj = op->unmap.va->gem.obj;

	return obj ? gpuvm_exec_lock_obj(priv, obj) : 0;
}

static const struct step_ops lock_steps = {
	lock_step_none,
	lock_step_remap,
	lock_step_unmap,
};

int gpuvm_sm_map_exec_lock(struct gpuvm *gpuvm, struct gpuvm_exec *exec,
			   unsigned int num_fences,
			   const struct gpuvm_map_req *req)
{
	struct gpuvm_gem_object *req_obj = req->map.gem.obj;
	int ret;

	if (vm_freed(gpuvm, "gpuvm_sm_map_exec_lock"))
		return -EINVAL;
	if (req_obj) {
		ret = gpuvm_exec_prepare_obj(exec, req_obj, num_fences);
		if (ret)
			return ret;
	}
	return sm_map_walk(gpuvm, &lock_steps, exec, req, false);
}

int gpuvm_sm_unmap_exec_lock(struct gpuvm *gpuvm, struct gpuvm_exec *exec,
			     uint64_t addr, uint64_t range)
{
	if (vm_freed(gpuvm, "gpuvm_sm_unmap_exec_lock"))
		return -EINVAL;
	return sm_unmap_walk(gpuvm, &lock_steps, exec, addr, range);
}

/* ---- ops lists --------------------------------------------------------- */

static struct gpuva_op *op_alloc(struct gpuvm *gpuvm)
{
	const struct gpuvm_ops *ops = gpuvm->ops;

	if (ops && ops->op_alloc)
		return ops->op_alloc();
	return gpuvm_kmalloc_small__(sizeof(struct gpuva_op),
				     GPUVM_GFP_KERNEL | GPUVM_GFP_ZERO);
}

static void op_free(struct gpuvm *gpuvm, struct gpuva_op *op)
{
	const struct gpuvm_ops *ops = gpuvm->ops;

	if (ops && ops->op_free)
		ops->op_free(op);
	else
		gpuvm_kfree_sized__(op, sizeof(*op));
}

static void *dup(const void *src, size_t size)
{
	void *p = gpuvm_kmalloc_small__(size, GPUVM_GFP_KERNEL);

	if (p)
		memcpy(p, src, size);
	return p;
}

struct recorder {
	struct gpuvm *gpuvm;
	struct gpuva_ops *ops;
};

/* Copy the walker's on-stack op (and a REMAP's parts) into the list. */
static int record_step(struct gpuva_op *step, void *priv)
{
	struct recorder *r = priv;
	struct gpuva_op *op = op_alloc(r->gpuvm);
	struct gpuva_op_remap *remap;

	if (!op)
		return -ENOMEM;
	op->op = step->op;
	switch (step->op) {
	case GPUVA_OP_MAP:
		op->map = step->map;
		break;
	case GPUVA_OP_UNMAP:
		op->unmap = step->unmap;
		break;
	default: /* GPUVA_OP_REMAP: its parts live on the walker's stack */
		remap = &op->remap;
		remap->unmap = dup(step->remap.unmap, sizeof(*remap->unmap));
		if (!remap->unmap)
			goto err;
		if (step->remap.prev) {
			remap->prev =
				dup(step->remap.prev, sizeof(*remap->prev));
			if (!remap->prev)
				goto err;
		}
		if (step->remap.next) {
			remap->next =
				dup(step->remap.next, sizeof(*remap->next));
			if (!remap->next)
				goto err;
		}
		break;
	}
	gpuvm_list_add_tail(&op->entry, &r->ops->list);
	return 0;

err:
	/* Unlike the kernel's copier, free every part (no leak). */
	gpuvm_kfree(op->remap.unmap);
	gpuvm_kfree(op->remap.prev);
	gpuvm_kfree(op->remap.next);
	op_free(r->gpuvm, op);
	return -ENOMEM;
}

static const struct step_ops record_steps = {
	record_step,
	record_step,
	record_step,
};

static struct gpuva_ops *ops_alloc(void)
{
	struct gpuva_ops *ops = gpuvm_kmalloc_small__(
		sizeof(*ops), GPUVM_GFP_KERNEL | GPUVM_GFP_ZERO);

	if (ops)
		gpuvm_list_init(&ops->list);
	return ops;
}

void gpuva_ops_free(struct gpuvm *gpuvm, struct gpuva_ops *ops)
{
	struct gpuva_op *op, *next;

	gpuva_for_each_op_safe(op, next, ops) {
		gpuvm_list_del(&op->entry);
		if (op->op == GPUVA_OP_REMAP) {
			gpuvm_kfree_sized__(op->remap.prev,
					    sizeof(*op->remap.prev));
			gpuvm_kfree_sized__(op->remap.next,
					    sizeof(*op->remap.next));
			gpuvm_kfree_sized__(op->remap.unmap,
					    sizeof(*op->remap.unmap));
		}
		op_free(gpuvm, op);
	}
	gpuvm_kfree_sized__(ops, sizeof(*ops));
}

static struct gpuva_ops *record_walk(struct gpuvm *gpuvm,
				     const struct gpuvm_map_req *req,
				     uint64_t addr, uint64_t range, bool unmap,
				     bool madvise, const char *func)
{
	struct recorder r = { gpuvm, NULL };
	int ret;

	if (vm_freed(gpuvm, func))
		return gpuvm_err_ptr(-EINVAL);
	r.ops = ops_alloc();
	if (!r.ops)
		return gpuvm_err_ptr(-ENOMEM);
	if (unmap)
		ret = sm_unmap_walk(gpuvm, &record_steps, &r, addr, range);
	else
		ret = sm_map_walk(gpuvm, &record_steps, &r, req, madvise);
	if (ret) {
		gpuva_ops_free(gpuvm, r.ops);
		return gpuvm_err_ptr(ret);
	}
	return r.ops;
}

struct gpuva_ops *gpuvm_sm_map_ops_create(struct gpuvm *gpuvm,
					  const struct gpuvm_map_req *req)
{
	return record_walk(gpuvm, req, 0, 0, false, false,
			   "gpuvm_sm_map_ops_create");
}

struct gpuva_ops *gpuvm_madvise_ops_create(struct gpuvm *gpuvm,
					   const struct gpuvm_map_req *req)
{
	return record_walk(gpuvm, req, 0, 0, false, true,
			   "gpuvm_madvise_ops_create");
}

struct gpuva_ops *gpuvm_sm_unmap_ops_create(struct gpuvm *gpuvm, uint64_t addr,
					    uint64_t range)
{
	return record_walk(gpuvm, NULL, addr, range, true, false,
			   "gpuvm_sm_unmap_ops_create");
}

struct gpuva_ops *gpuvm_prefetch_ops_create(struct gpuvm *gpuvm, uint64_t addr,
					    uint64_t range)
{
	uint64_t end = addr + range;
	struct gpuva_ops *ops;
	struct gpuva_op *op;
	struct gpuva *va;

	if (vm_freed(gpuvm, "gpuvm_prefetch_ops_create"))
		return gpuvm_err_ptr(-EINVAL);
	ops = ops_alloc();
	if (!ops)
		return gpuvm_err_ptr(-ENOMEM);
	gpuvm_for_each_va_range(va, gpuvm, addr, end) {
		op = op_alloc(gpuvm);
		if (!op) {
			gpuva_ops_free(gpuvm, ops);
			return gpuvm_err_ptr(-ENOMEM);
		}
		op->op = GPUVA_OP_PREFETCH;
		op->prefetch.va = va;
		gpuvm_list_add_tail(&op->entry, &ops->list);
	}
	return ops;
}

struct gpuva_ops *gpuvm_bo_unmap_ops_create(struct gpuvm_bo *vm_bo)
{
	struct gpuva_ops *ops;
	struct gpuva_op *op;
	struct gpuva *va;

	gpuvm_gem_list_assert_held(vm_bo->vm, vm_bo->obj,
				   "gpuvm_bo_unmap_ops_create");
	ops = ops_alloc();
	if (!ops)
		return gpuvm_err_ptr(-ENOMEM);
	gpuvm_bo_for_each_va(va, vm_bo) {
		op = op_alloc(vm_bo->vm);
		if (!op) {
			gpuva_ops_free(vm_bo->vm, ops);
			return gpuvm_err_ptr(-ENOMEM);
		}
		/* keep stays as allocated (zero), as in the kernel. */
		op->op = GPUVA_OP_UNMAP;
		op->unmap.va = va;
		gpuvm_list_add_tail(&op->entry, &ops->list);
	}
	return ops;
}

/* ---- applying ops to the VA space ---------------------------------- */

void gpuva_init_from_op(struct gpuva *va, const struct gpuva_op_map *op)
{
	va->va.addr = op->va.addr;
	va->va.range = op->va.range;
	va->gem.obj = op->gem.obj;
	va->gem.offset = op->gem.offset;
}

int gpuva_map_checked(struct gpuvm *gpuvm, struct gpuva *va,
		      const struct gpuva_op_map *op)
{
	gpuva_init_from_op(va, op);
	return gpuva_insert(gpuvm, va);
}

void gpuva_map(struct gpuvm *gpuvm, struct gpuva *va,
	       const struct gpuva_op_map *op)
{
	/* Kernel parity: the result is dropped. */
	(void)gpuva_map_checked(gpuvm, va, op);
}

/*
 * gpuva_remove(@old) then gpuva_map(@gpuvm, @va, @op) when @op maps a
 * piece of @old that starts where it does (a remap's prev): @va takes
 * @old's place without a search and without memory. False, with nothing
 * done, when @op does not fit so.
 */
static bool remap_prev_in_place(struct gpuvm *gpuvm, struct gpuva *old,
				struct gpuva *va, const struct gpuva_op_map *op)
{
	uint64_t addr = old->va.addr, range = old->va.range;

	if (old == &gpuvm->kernel_alloc_node || op->va.addr != addr ||
	    !op->va.range || op->va.range > range)
		return false;
	gpuva_init_from_op(va, op);
	/* Same start, no further end: the order cannot change, so va takes
	 * old's place in the index. */
	gpuvm_va_index_replace(gpuvm_va_index(gpuvm), old, addr,
			       addr + va->va.range, va);
	/* old's VM reference and VA count pass to va. */
	va->vm = gpuvm;
	return true;
}

/*
 * gpuva_remap() with the checker and the explorer off: @old's VM reference
 * passes to the first remnant instead of being dropped and taken again, so
 * a remap costs one atomic (two remnants) or none, not three to five. Each
 * atomic waits for the stores before it to reach memory; the count a
 * driver reads afterwards is the same, and it never drops in between.
 */
static void remap_passing_ref(struct gpuvm *gpuvm, struct gpuva *old,
			      struct gpuva *prev, struct gpuva *next,
			      const struct gpuva_op_remap *op)
{
	bool owed = false; /* old's reference, not yet passed on */

	if (!op->prev || !remap_prev_in_place(gpuvm, old, prev, op->prev)) {
		gpuvm_va_remove_node(gpuvm, old);
		owed = true;
		if (op->prev) {
			gpuva_init_from_op(prev, op->prev);
			if (!gpuvm_va_insert__(gpuvm, prev, false))
				owed = false;
		}
	}
	if (op->next) {
		gpuva_init_from_op(next, op->next);
		if (!gpuvm_va_insert__(gpuvm, next, !owed))
			owed = false;
	}
	if (owed) /* no remnant took it (kernel parity: a failed map is
		   * dropped), so it goes as gpuva_remove() drops it */
		gpuvm_put(gpuvm);
}

void gpuva_remap(struct gpuva *prev, struct gpuva *next,
		 const struct gpuva_op_remap *op)
{
	struct gpuva *old = op->unmap->va;
	struct gpuvm *gpuvm = old->vm;

	/* The kernel node is refused by gpuva_remove(), below. */
	if (!gpuvm_checked_path() && old != &gpuvm->kernel_alloc_node) {
		remap_passing_ref(gpuvm, old, prev, next, op);
		return;
	}
	/* Keep the VM alive across the remove: the remnants re-reference it. */
	gpuvm_get(gpuvm);
	if (!op->prev || !remap_prev_in_place(gpuvm, old, prev, op->prev)) {
		gpuva_remove(old);
		if (op->prev)
			gpuva_map(gpuvm, prev, op->prev);
	}
	if (op->next)
		gpuva_map(gpuvm, next, op->next);
	gpuvm_put(gpuvm);
}

void gpuva_unmap(const struct gpuva_op_unmap *op)
{
	gpuva_remove(op->va);
}
