/* SPDX-License-Identifier: MIT */
/*
 * GEM shmem objects: a GEM object backed by pages of memory, with the
 * kernel's page and SG-table helpers, and an SG table that is a device
 * resource (mapped for the device while it is bound, unmapped at unbind
 * even when the object lives on).
 *
 * Pages. Allocated on first use (real memory, through the library
 * allocator), counted by @pages_use_count; @pages_pin_count counts pins,
 * and the first pin takes one pages reference. Both are protected by the
 * object's reservation.
 *
 * The cached SG table (@sgt), as in the kernel: building it takes one
 * pages reference and maps it for the object's device; it is then
 * returned again without a further reference. It is not reference
 * counted: gpuvm_gem_shmem_free_sgt_locked() unmaps and frees the table
 * but keeps that pages reference, which only the object's release puts.
 * Deviation: the kernel takes another pages reference when the table is
 * built again after such a free, which release never gives back; here
 * the kept reference is reused (@pages_use_count stays balanced).
 *
 * gpuvm_gem_shmem_sg_table() is the device-aware entry point (the Rust
 * abstraction's sg_table(dev)): within a bound scope of the object's
 * device it returns the table, mapped for that binding. The first call of
 * a binding builds and maps the table under a population lock and
 * registers it as a device resource; every later call of that binding
 * takes a lock-free fast path. Unbind releases the resource: the table is
 * unmapped and freed under the reservation. A call in a later binding
 * builds a new one.
 *
 * Lifetime. The final gpuvm_gem_object_put() calls the GEM free callback;
 * for objects from gpuvm_gem_shmem_create() that is the library's, which
 * calls gpuvm_gem_shmem_free(). A driver embedding the object passes its
 * own callbacks to gpuvm_gem_shmem_init(), and its free callback calls
 * gpuvm_gem_shmem_release() before freeing its structure. Release drops
 * the SG-table resource first (waiting for an unbind that is releasing it
 * at that moment), then frees the table and the pages.
 *
 * Locking: the object's reservation (@base.resv) protects the pages, the
 * counts and @sgt; the *_locked functions assert it is held. The
 * population lock of gpuvm_gem_shmem_sg_table() is taken before the
 * reservation. In a fence signalling section only the fast path of
 * gpuvm_gem_shmem_sg_table() is allowed: call it once before the section
 * (the first call allocates and locks the reservation, which the debug
 * checker reports inside one).
 */
#ifndef GPUVM_SHMEM_H
#define GPUVM_SHMEM_H

#include <gpuvm/common.h>
#include <gpuvm/device.h>
#include <gpuvm/dma_resv.h>
#include <gpuvm/gem.h>
#include <gpuvm/mutex.h>

GPUVM_BEGIN_DECLS

/* Rules of the shmem warnings. */
#define GPUVM_RULE_SHMEM_IMPORTED "shmem-imported-object"
#define GPUVM_RULE_SHMEM_SGT_DOUBLE_FREE "shmem-sgt-double-free"
#define GPUVM_RULE_SHMEM_PAGES "shmem-pages-refcount"

struct gpuvm_devres;

/**
 * struct gpuvm_gem_shmem_object - a GEM object backed by pages
 * @base: the GEM object; its resv points at @resv__ unless the driver
 *        shares another reservation (set @base.resv before the object is
 *        used, and keep that reservation alive as long as the object)
 * @dev: the device the object's DMA mappings are for
 * @pages: one pointer per page (GPUVM_PAGE_SIZE bytes each) while
 *         @pages_use_count > 0, else NULL
 * @pages_use_count: references on @pages
 * @pages_pin_count: pins
 * @sgt: the cached SG table, mapped for @dev; for an imported object the
 *       exporter's table
 * @imported: the object was imported (gpuvm_gem_shmem_prime_import_sg_table())
 * @map_wc: write-combined CPU mappings wanted (recorded only)
 * @sgt_lock: serialises the first use of gpuvm_gem_shmem_sg_table()
 *
 * The fields ending in __ are private.
 */
struct gpuvm_gem_shmem_object {
	struct gpuvm_gem_object base;
	struct gpuvm_device *dev;
	void **pages;
	unsigned int pages_use_count;
	unsigned int pages_pin_count;
	struct gpuvm_sg_table *sgt;
	bool imported;
	bool map_wc;
	struct gpuvm_mutex sgt_lock;
	/*
	 * The reservation the object uses by default. It is not the GEM
	 * core's embedded one because release must run under it after the
	 * GEM core has finalised its own.
	 */
	struct gpuvm_dma_resv resv__;
	/* The SG-table resource of the current binding; published with
	 * release semantics, read under RCU. */
	struct gpuvm_devres *sgt_res__;
	/* A table took a pages reference that is still held, whether or
	 * not @sgt was freed since (see above). */
	bool sgt_pages_ref__;
};

static inline struct gpuvm_gem_shmem_object *
gpuvm_gem_to_shmem(struct gpuvm_gem_object *obj)
{
	return gpuvm_container_of(obj, struct gpuvm_gem_shmem_object, base);
}

/* Whether @shmem was imported. */
static inline bool
gpuvm_gem_shmem_is_imported(const struct gpuvm_gem_shmem_object *shmem)
{
	return shmem->imported;
}

/**
 * gpuvm_gem_shmem_create() - allocate a shmem object for @dev
 * @size: rounded up to whole pages; must not be 0
 *
 * The object holds no pages yet. The caller owns the one reference; the
 * final gpuvm_gem_object_put() frees the object.
 * Context: allocates.
 * Return: the object, or an error pointer: -EINVAL (size 0), -ENOMEM.
 */
GPUVM_EXPORT struct gpuvm_gem_shmem_object *
gpuvm_gem_shmem_create(struct gpuvm_device *dev, size_t size);

/**
 * gpuvm_gem_shmem_init() - initialise an embedded shmem object
 * @funcs: the GEM callbacks; funcs->free must call gpuvm_gem_shmem_release()
 *         before it frees the structure embedding @shmem
 * @size: rounded up to whole pages; must not be 0
 *
 * Context: does not allocate.
 * Return: 0, or -EINVAL (size 0, or no free callback; @shmem is then
 * untouched).
 */
GPUVM_EXPORT int
gpuvm_gem_shmem_init(struct gpuvm_device *dev,
		     struct gpuvm_gem_shmem_object *shmem,
		     const struct gpuvm_gem_object_funcs *funcs, size_t size);

/**
 * gpuvm_gem_shmem_prime_import_sg_table() - an object for a foreign buffer
 * @sgt: the exporter's table, mapped for @dev by the exporter; the
 *       exporter keeps owning it and must keep it until the object is gone
 *
 * The object is imported: @sgt is its cached table, it has no pages, and
 * gpuvm_gem_shmem_sg_table() refuses it.
 * Context: allocates.
 * Return: the object (one reference, the caller's) or an error pointer:
 * -EINVAL (size 0), -ENOMEM.
 */
GPUVM_EXPORT struct gpuvm_gem_shmem_object *
gpuvm_gem_shmem_prime_import_sg_table(struct gpuvm_device *dev, size_t size,
				      struct gpuvm_sg_table *sgt);

/**
 * gpuvm_gem_shmem_release() - release what @shmem holds
 *
 * Drops the SG-table resource (waiting for an unbind that is releasing it
 * on another thread), then under the reservation: frees the cached table
 * (unmapping it) and puts the pages reference. Page or pin references
 * still held are reported (GPUVM_RULE_SHMEM_PAGES) and the pages freed
 * anyway. Finalises the reservation and the population lock.
 *
 * Context: from the GEM free callback (no other reference left); may
 * block; not with the reservation held.
 */
GPUVM_EXPORT void gpuvm_gem_shmem_release(struct gpuvm_gem_shmem_object *shmem);

/* gpuvm_gem_shmem_release(), then free @shmem (from
 * gpuvm_gem_shmem_create() / _prime_import_sg_table() only). */
GPUVM_EXPORT void gpuvm_gem_shmem_free(struct gpuvm_gem_shmem_object *shmem);

/**
 * gpuvm_gem_shmem_get_pages_locked() - take a pages reference
 *
 * Allocates the pages (zeroed) when there are none.
 * Context: reservation held; allocates.
 * Return: 0, -ENOMEM (nothing changed), -EINVAL for an imported object.
 */
GPUVM_EXPORT int
gpuvm_gem_shmem_get_pages_locked(struct gpuvm_gem_shmem_object *shmem);

/* Put a pages reference; the last frees the pages. Reservation held. */
GPUVM_EXPORT void
gpuvm_gem_shmem_put_pages_locked(struct gpuvm_gem_shmem_object *shmem);

/**
 * gpuvm_gem_shmem_pin_locked() - pin the pages (the first pin takes a
 * pages reference)
 *
 * Context: reservation held; allocates.
 * Return: 0, -ENOMEM (nothing changed), -EINVAL for an imported object.
 */
GPUVM_EXPORT int
gpuvm_gem_shmem_pin_locked(struct gpuvm_gem_shmem_object *shmem);

/* Unpin; the last unpin puts the pin's pages reference. Reservation held. */
GPUVM_EXPORT void
gpuvm_gem_shmem_unpin_locked(struct gpuvm_gem_shmem_object *shmem);

/* gpuvm_gem_shmem_pin_locked() under the reservation. */
GPUVM_EXPORT int gpuvm_gem_shmem_pin(struct gpuvm_gem_shmem_object *shmem);

/* gpuvm_gem_shmem_unpin_locked() under the reservation. */
GPUVM_EXPORT void gpuvm_gem_shmem_unpin(struct gpuvm_gem_shmem_object *shmem);

/**
 * gpuvm_gem_shmem_get_sg_table() - a new, unmapped table of the pages
 *
 * The caller owns the table (gpuvm_sg_free_table() then gpuvm_kfree())
 * and must keep a pages reference while using it.
 * Context: allocates; the object must have pages.
 * Return: the table, or ERR_PTR(-ENOMEM / -EINVAL when there are no pages
 * or the object is imported).
 */
GPUVM_EXPORT struct gpuvm_sg_table *
gpuvm_gem_shmem_get_sg_table(struct gpuvm_gem_shmem_object *shmem);

/**
 * gpuvm_gem_shmem_get_pages_sgt_locked() - the cached, mapped table
 *
 * Returns the cached table if there is one (for an imported object: the
 * exporter's, as the kernel does before it checks for imports). Otherwise
 * takes a pages reference (or reuses the one a freed table kept), builds
 * the table, maps it for @shmem->dev and caches it.
 * Context: reservation held; allocates.
 * Return: the table (owned by the object) or an error pointer: -ENOMEM,
 * -ENXIO (device not bound), -EINVAL (imported, no table); on error
 * nothing changed.
 */
GPUVM_EXPORT struct gpuvm_sg_table *
gpuvm_gem_shmem_get_pages_sgt_locked(struct gpuvm_gem_shmem_object *shmem);

/* gpuvm_gem_shmem_get_pages_sgt_locked() under the reservation. */
GPUVM_EXPORT struct gpuvm_sg_table *
gpuvm_gem_shmem_get_pages_sgt(struct gpuvm_gem_shmem_object *shmem);

/**
 * gpuvm_gem_shmem_free_sgt_locked() - unmap and free the cached table
 *
 * Does NOT put the pages reference the table took (the kernel's
 * __drm_gem_shmem_free_sgt_locked()). Without a table this is a double
 * free: reported (GPUVM_RULE_SHMEM_SGT_DOUBLE_FREE) and ignored. For an
 * imported object the table is the exporter's: reported
 * (GPUVM_RULE_SHMEM_IMPORTED) and left alone, where the kernel helper
 * would free it.
 * Context: reservation held.
 */
GPUVM_EXPORT void
gpuvm_gem_shmem_free_sgt_locked(struct gpuvm_gem_shmem_object *shmem);

/**
 * gpuvm_gem_shmem_sg_table() - the object's table, mapped for a binding
 * @bound: a bound scope of @shmem->dev
 *
 * The first call of a binding builds the table (gpuvm_gem_shmem_get_pages_sgt())
 * and registers it as a resource of the device, under the population lock;
 * concurrent first calls wait for it and all get the same table. Later
 * calls of the binding return it without taking a lock. Unbind unmaps and
 * frees it; a call in a later binding builds a new one.
 *
 * Imported objects are refused (hardened): the kernel's helper returns
 * the exporter's cached table, which the device resource would then free
 * at unbind behind the exporter's back.
 *
 * Context: allocates and takes the population lock and the reservation on
 * the first call of a binding; lock-free afterwards.
 * Return: the table, valid until @bound is left or the object is freed,
 * whichever comes first; or an error pointer: -EINVAL when @bound is a
 * scope of another device or the object is imported (nothing is cached
 * then), -ENXIO when @bound is not a live bound scope, -ENOMEM (nothing
 * cached; a pages reference the table took stays, as in the kernel, and
 * is reused by the retry).
 */
GPUVM_EXPORT const struct gpuvm_sg_table *
gpuvm_gem_shmem_sg_table(struct gpuvm_gem_shmem_object *shmem,
			 const struct gpuvm_device_bound *bound);

/* The spelling of the issue that asked for it (Rust: sg_table()). */
static inline const struct gpuvm_sg_table *
gpuvm_shmem_sg_table(struct gpuvm_gem_shmem_object *shmem,
		     const struct gpuvm_device_bound *bound)
{
	return gpuvm_gem_shmem_sg_table(shmem, bound);
}

GPUVM_END_DECLS

#endif /* GPUVM_SHMEM_H */
