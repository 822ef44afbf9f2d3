/* SPDX-License-Identifier: MIT */
/*
 * GPU VA mappings (the kernel's struct drm_gpuva) and the VA space queries.
 *
 * A VA is a half-open interval [va.addr, va.addr + va.range) of a VM, with
 * an optional backing GEM object and an offset into it. Drivers allocate
 * and free VAs (usually embedded in their own structures); the library
 * only indexes them. Nothing here locks the VA space: every function that
 * reads or changes it must be serialised by a lock the driver owns.
 */
#ifndef GPUVM_VA_H
#define GPUVM_VA_H

#include <gpuvm/common.h>
#include <gpuvm/list.h>

GPUVM_BEGIN_DECLS

struct gpuvm;
struct gpuvm_bo;
struct gpuvm_gem_object;

enum gpuva_flags {
	/* The backing object is currently invalid (e.g. evicted). */
	GPUVA_INVALIDATED = (1 << 0),
	/* A sparse (NULL-object) mapping; informational. */
	GPUVA_SPARSE = (1 << 1),
	/* First bit drivers may use. */
	GPUVA_USERBITS = (1 << 2),
};

/**
 * struct gpuva - one mapping (the kernel's struct drm_gpuva)
 * @vm: the VM it was inserted into; set by gpuva_insert(), left unchanged
 *      by gpuva_remove()
 * @vm_bo: the vm_bo it is linked to (gpuva_link()), or NULL; always NULL
 *         without an object
 * @flags: enum gpuva_flags, owned by the driver. The library changes only
 *         GPUVA_INVALIDATED, and only when asked (gpuva_invalidate()); it
 *         copies no flag to the remnants of a split.
 * @va.addr: start address
 * @va.range: size; never 0 for an inserted VA
 * @gem.offset: offset into @gem.obj of the first mapped address
 * @gem.obj: the backing object, or NULL (a sparse mapping). No reference
 *           is held: while the VA is linked, its vm_bo's keeps the object
 *           alive.
 * @gem.entry: entry in the vm_bo's VA list (vm_bo->list.gpuva); the GEM
 *             list lock (vm.h)
 * @rb.leaf__: private; where the VM's index holds the VA (its node and
 *             slot there), so that gpuva_remove() and the iteration
 *             macros need no search (NULL when not inserted)
 *
 * Unlike the kernel's, a VA has no rb.entry: the VM keeps no ordered list
 * beside its index (README, "Kernel parity and deliberate differences").
 * The iteration macros below give the same order and the same _safe
 * rules.
 *
 * Drivers allocate and free VAs, usually embedded in their own structures,
 * and fill va and gem before inserting (gpuva_init_from_op() in ops.h).
 */
struct gpuva {
	/* The VM it was inserted into, left unchanged by removal. */
	struct gpuvm *vm;
	/* The vm_bo it is linked to (gpuva_link), or NULL. */
	struct gpuvm_bo *vm_bo;
	/* Driver owned. The library only touches GPUVA_INVALIDATED, on
	 * request (gpuva_invalidate). */
	enum gpuva_flags flags;
	struct {
		uint64_t addr;
		uint64_t range;
	} va;
	struct {
		uint64_t offset;
		struct gpuvm_gem_object *obj; /* no reference held */
		struct gpuvm_list_head entry; /* in vm_bo->list.gpuva */
	} gem;
	struct {
		void *leaf__;
	} rb;
};

/**
 * gpuva_insert() - insert @va into @gpuvm's VA space
 * @gpuvm: the VM
 * @va: the mapping, with va.addr and va.range set; not inserted anywhere
 *
 * Touches neither @va->flags, @va->vm_bo nor @va->gem.
 *
 * Context: the driver's VA-space lock. Never blocks, so it is fit for the
 * fence signalling path: the only memory it may need is an index node,
 * taken from the VM's reserve (gpuvm_va_reserve()) or allocated without
 * blocking.
 * Return: 0, with a VM reference taken and va->vm set; -EINVAL when the
 * range is empty or not valid (gpuvm_range_valid()); -EEXIST when it
 * overlaps an inserted VA; -ENOMEM when an index node was needed, none
 * was reserved and the non-blocking allocation failed. Nothing changes on
 * failure.
 * Kernel parity: the kernel inserts an empty range, and its tree needs no
 * memory, so it never fails with -ENOMEM.
 */
GPUVM_EXPORT int gpuva_insert(struct gpuvm *gpuvm, struct gpuva *va);

/**
 * gpuvm_va_reserve() - make the next @n inserts unable to fail with -ENOMEM
 * @gpuvm: the VM
 * @n: number of inserts to cover (removals in between use nothing up)
 *
 * Sets aside the index nodes @n inserts may need, so a driver can insert
 * in its fence signalling path after reserving at job preparation time.
 * Nodes left over serve later inserts and are freed with the VM.
 *
 * Context: the driver's VA-space lock; allocates (may block), so not in
 * the fence signalling path.
 * Return: 0, or -ENOMEM with the reserve as it was.
 * Kernel parity: no kernel counterpart (the kernel's tree needs no
 * memory).
 */
GPUVM_EXPORT int gpuvm_va_reserve(struct gpuvm *gpuvm, unsigned int n);

/**
 * gpuva_remove() - remove @va from its VM's VA space
 * @va: an inserted VA
 *
 * Drops the VM reference insert took; va->vm keeps its value. Does not
 * unlink @va from its vm_bo. The VM's reserved region is refused
 * (reported as GPUVM_RULE_KERNEL_NODE, nothing done).
 *
 * Context: the driver's VA-space lock. Never fails, never allocates; fit
 * for the fence signalling path unless the reference it drops is the VM's
 * last (gpuvm_put() then tears the VM down).
 */
GPUVM_EXPORT void gpuva_remove(struct gpuva *va);

/**
 * gpuva_find_first() - the lowest VA overlapping [@addr, @addr + @range)
 * @gpuvm: the VM
 * @addr: start of the range
 * @range: its size; not validated. 0 behaves as in the kernel: the query
 *	is then for a VA strictly straddling @addr (for @addr 0 too: the
 *	first VA)
 *
 * Context: the driver's VA-space lock (lookups may share it); never
 * sleeps or allocates.
 * Return: the VA, possibly the VM's reserved region, or NULL.
 */
GPUVM_EXPORT struct gpuva *gpuva_find_first(struct gpuvm *gpuvm, uint64_t addr,
					    uint64_t range);

/**
 * gpuva_find() - the VA spanning exactly [@addr, @addr + @range)
 * @gpuvm: the VM
 * @addr: start of the VA
 * @range: its size
 *
 * Context: the driver's VA-space lock; never sleeps or allocates.
 * Return: the VA whose start and size are both equal, or NULL.
 */
GPUVM_EXPORT struct gpuva *gpuva_find(struct gpuvm *gpuvm, uint64_t addr,
				      uint64_t range);

/**
 * gpuva_find_prev() - the VA covering @start - 1
 * @gpuvm: the VM
 * @start: an address
 *
 * Context: the driver's VA-space lock; never sleeps or allocates.
 * Return: NULL when [@start - 1, @start) is not a valid range (@start 0,
 * outside the window, in the reserved region); otherwise the first VA
 * overlapping [@start - 1, @start + 1), or NULL. As in the kernel's code
 * (not its documentation), that is the VA starting at @start when nothing
 * covers @start - 1.
 */
GPUVM_EXPORT struct gpuva *gpuva_find_prev(struct gpuvm *gpuvm, uint64_t start);

/**
 * gpuva_find_next() - the VA covering @end
 * @gpuvm: the VM
 * @end: an address
 *
 * Context: the driver's VA-space lock; never sleeps or allocates.
 * Return: NULL when [@end, @end + 1) is not a valid range; otherwise the
 * first VA overlapping [@end, @end + 2), or NULL. As in the kernel's code,
 * that is the VA starting at @end + 1 when nothing covers @end.
 */
GPUVM_EXPORT struct gpuva *gpuva_find_next(struct gpuvm *gpuvm, uint64_t end);

/**
 * gpuva_invalidate() - set or clear GPUVA_INVALIDATED on @va
 * @va: the VA
 * @invalidate: true to set the flag, false to clear it
 *
 * Context: whatever lock the driver protects @va->flags with (the library
 * takes none); never sleeps.
 */
static inline void gpuva_invalidate(struct gpuva *va, bool invalidate)
{
	if (invalidate)
		va->flags = (enum gpuva_flags)(va->flags | GPUVA_INVALIDATED);
	else
		va->flags = (enum gpuva_flags)(va->flags & ~GPUVA_INVALIDATED);
}

/**
 * gpuva_invalidated() - whether GPUVA_INVALIDATED is set on @va
 * @va: the VA
 *
 * Context: as gpuva_invalidate().
 * Return: true when the flag is set.
 */
static inline bool gpuva_invalidated(const struct gpuva *va)
{
	return va->flags & GPUVA_INVALIDATED;
}

/**
 * gpuva_link() - link @va to @vm_bo, taking a vm_bo reference
 * @va: an inserted VA (its VM picks the lock asserted)
 * @vm_bo: the vm_bo of @va's object in @va's VM, obtained beforehand
 *
 * Appends @va to @vm_bo's VA list and sets va->vm_bo. A VA without an
 * object is not linked. Does not publish @vm_bo on its object's list
 * (obtain does). A vm_bo of another object (GPUVM_RULE_LINK_OBJ) or VM
 * (GPUVM_RULE_LINK_VM), or one not published on its object's list
 * (GPUVM_RULE_LINK_UNREGISTERED), is reported, and linked anyway. A VA
 * that was never inserted (va->vm NULL: no VM to pick the lock by) is
 * reported as GPUVM_RULE_LINK_VM and not linked; the kernel would crash.
 *
 * Context: the GEM list lock, asserted: the GEM's gpuva mutex (immediate
 * mode: fit for the fence signalling path) or its resv (staged mode).
 * Never allocates.
 */
GPUVM_EXPORT void gpuva_link(struct gpuva *va, struct gpuvm_bo *vm_bo);

/**
 * gpuva_unlink() - unlink @va from its vm_bo and put that reference
 * @va: the VA; nothing happens without an object
 *
 * Clears va->vm_bo. The put may destroy the vm_bo (see gpuvm_bo_put()).
 *
 * Context: the GEM list lock (asserted); if the put may be final, also
 * what gpuvm_bo_put() requires (the VM resv with GPUVM_RESV_PROTECTED). May
 * sleep; not for the fence signalling path when the put may be final
 * (immediate-mode drivers use gpuva_unlink_defer() there).
 */
GPUVM_EXPORT void gpuva_unlink(struct gpuva *va);

/**
 * gpuva_unlink_defer() - unlink @va; a last vm_bo reference is deferred
 * @va: a linked VA; nothing happens without an object, nor, as with
 *	gpuva_unlink(), without a vm_bo (never linked, or already unlinked:
 *	not reported; the kernel would crash)
 *
 * Immediate mode only (staged mode is reported as GPUVM_RULE_MODE). A
 * vm_bo that loses its last reference becomes a zombie awaiting
 * gpuvm_bo_deferred_cleanup(), as with gpuvm_bo_put_deferred(). Clears
 * va->vm_bo.
 *
 * Context: must not hold the GEM's gpuva mutex (taken here). Takes no
 * resv and never allocates: fit for the fence signalling path.
 */
GPUVM_EXPORT void gpuva_unlink_defer(struct gpuva *va);

/* Internal iteration steps used by the macros below. */
GPUVM_EXPORT struct gpuva *gpuva_next__(struct gpuva *va);
GPUVM_EXPORT struct gpuva *gpuvm_va_first__(struct gpuvm *gpuvm);

/**
 * gpuvm_for_each_va_range() - VAs overlapping [start, end), ascending
 *
 * Includes the kernel node when it overlaps. Not safe against removal of
 * the current VA; use the _safe variant for that (a step from a removed
 * VA is reported as GPUVM_RULE_WALK_REMOVED and ends the walk, where the
 * kernel would follow a poisoned link). Each step reads the VA's place in
 * the VM's index, not a list link: O(1), and no VA is written.
 */
#define gpuvm_for_each_va_range(va__, gpuvm__, start__, end__) \
	for ((va__) = gpuva_find_first((gpuvm__), (start__),   \
				       (end__) - (start__));   \
	     (va__) && (va__)->va.addr < (end__); (va__) = gpuva_next__(va__))

#define gpuvm_for_each_va_range_safe(va__, next__, gpuvm__, start__, end__) \
	for ((va__) = gpuva_find_first((gpuvm__), (start__),                \
				       (end__) - (start__)),                \
	    (next__) = gpuva_next__(va__);                                  \
	     (va__) && (va__)->va.addr < (end__);                           \
	     (va__) = (next__), (next__) = gpuva_next__(next__))

/* Every VA of the VM, ascending, the kernel node included. */
#define gpuvm_for_each_va(va__, gpuvm__)                 \
	for ((va__) = gpuvm_va_first__(gpuvm__); (va__); \
	     (va__) = gpuva_next__(va__))

#define gpuvm_for_each_va_safe(va__, next__, gpuvm__) \
	for ((va__) = gpuvm_va_first__(gpuvm__),      \
	    (next__) = gpuva_next__(va__);            \
	     (va__); (va__) = (next__), (next__) = gpuva_next__(next__))

GPUVM_END_DECLS

#endif /* GPUVM_VA_H */
