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

struct gpuva {
	/* The VM it was inserted into; left unchanged by removal. */
	struct gpuvm *vm;
	/* The vm_bo it is linked to (gpuva_link), or NULL. */
	struct gpuvm_bo *vm_bo;
	/* Driver owned; the library only touches GPUVA_INVALIDATED on
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
		/* In the VM's address-ordered list of VAs. */
		struct gpuvm_list_head entry;
	} rb;
};

/**
 * gpuva_insert() - insert @va into @gpuvm's VA space
 *
 * Context: the driver's VA-space lock. Safe in the fence signalling path:
 * the only memory it may need is an index node, taken from the VM's
 * reserve (gpuvm_va_reserve()) or allocated without blocking.
 * Return: 0 (takes a VM reference, sets va->vm); -EINVAL when the range is
 * not valid (gpuvm_range_valid); -EEXIST when it overlaps an existing VA;
 * -ENOMEM when an index node was needed, none was reserved and the
 * non-blocking allocation failed (a deviation: the kernel's tree needs no
 * memory). Nothing changes on failure.
 */
GPUVM_EXPORT int gpuva_insert(struct gpuvm *gpuvm, struct gpuva *va);

/**
 * gpuvm_va_reserve() - make the next @n inserts unable to fail with -ENOMEM
 *
 * Sets aside the index nodes @n inserts may need, so a driver can insert
 * in its fence signalling path after reserving at job preparation time.
 * Context: the driver's VA-space lock; may allocate (not in the signalling
 * path). Return: 0 or -ENOMEM (nothing set aside).
 */
GPUVM_EXPORT int gpuvm_va_reserve(struct gpuvm *gpuvm, unsigned int n);

/**
 * gpuva_remove() - remove @va from its VM's VA space
 *
 * Drops the VM reference insert took (which may free the VM). Never fails
 * and never allocates. Removing the VM's reserved kernel node is refused
 * with a warning.
 */
GPUVM_EXPORT void gpuva_remove(struct gpuva *va);

/* The lowest VA overlapping [addr, addr + range), or NULL. The kernel
 * node counts. range 0 behaves as in the kernel (see README). */
GPUVM_EXPORT struct gpuva *gpuva_find_first(struct gpuvm *gpuvm, uint64_t addr,
					    uint64_t range);

/* The VA spanning exactly [addr, addr + range), or NULL. */
GPUVM_EXPORT struct gpuva *gpuva_find(struct gpuvm *gpuvm, uint64_t addr,
				      uint64_t range);

/**
 * gpuva_find_prev() - the VA covering start - 1
 *
 * Kernel parity: NULL when [start - 1, start) is not a valid range;
 * otherwise the first VA overlapping [start - 1, start + 1), which is the
 * VA starting at @start when nothing covers start - 1.
 */
GPUVM_EXPORT struct gpuva *gpuva_find_prev(struct gpuvm *gpuvm, uint64_t start);

/**
 * gpuva_find_next() - the VA covering @end
 *
 * Kernel parity: NULL when [end, end + 1) is not a valid range; otherwise
 * the first VA overlapping [end, end + 2).
 */
GPUVM_EXPORT struct gpuva *gpuva_find_next(struct gpuvm *gpuvm, uint64_t end);

static inline void gpuva_invalidate(struct gpuva *va, bool invalidate)
{
	if (invalidate)
		va->flags = (enum gpuva_flags)(va->flags | GPUVA_INVALIDATED);
	else
		va->flags = (enum gpuva_flags)(va->flags & ~GPUVA_INVALIDATED);
}

static inline bool gpuva_invalidated(const struct gpuva *va)
{
	return va->flags & GPUVA_INVALIDATED;
}

/**
 * gpuva_link() - link @va to @vm_bo, taking a vm_bo reference
 *
 * Context: the GEM's gpuva lock (immediate mode) or its resv (staged mode).
 * A VA without an object is not linked. @va must be inserted. A vm_bo of
 * another VM (GPUVM_RULE_LINK_VM) or one not published on its object's
 * list (GPUVM_RULE_LINK_UNREGISTERED) is reported, and linked anyway.
 */
GPUVM_EXPORT void gpuva_link(struct gpuva *va, struct gpuvm_bo *vm_bo);

/**
 * gpuva_unlink() - unlink @va from its vm_bo and put that reference
 *
 * Context: the GEM list lock; if the put may be final, also what
 * gpuvm_bo_put() requires (the VM resv with GPUVM_RESV_PROTECTED).
 */
GPUVM_EXPORT void gpuva_unlink(struct gpuva *va);

/**
 * gpuva_unlink_defer() - unlink @va; a last vm_bo reference is deferred
 *
 * Immediate mode only. Takes the GEM's gpuva lock itself, so the caller
 * must not hold it. A vm_bo that loses its last reference becomes a zombie
 * awaiting gpuvm_bo_deferred_cleanup(). Safe in the fence signalling path.
 */
GPUVM_EXPORT void gpuva_unlink_defer(struct gpuva *va);

/* Internal iteration steps used by the macros below. */
GPUVM_EXPORT struct gpuva *gpuva_next__(struct gpuva *va);
GPUVM_EXPORT struct gpuva *gpuvm_va_first__(struct gpuvm *gpuvm);

/**
 * gpuvm_for_each_va_range() - VAs overlapping [start, end), ascending
 *
 * Includes the kernel node when it overlaps. Not safe against removal of
 * the current VA; use the _safe variant for that.
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
