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
 * @dev: the device the object's DMA mappings are for; not referenced,
 *       must outlive the object
 * @pages: one pointer per page (GPUVM_PAGE_SIZE bytes each) while
 *         @pages_use_count > 0, else NULL
 * @pages_use_count: references on @pages
 * @pages_pin_count: pins
 * @sgt: the cached SG table, mapped for @dev; for an imported object the
 *       exporter's table
 * @imported: the object was imported (gpuvm_gem_shmem_prime_import_sg_table())
 * @map_wc: write-combined CPU mappings wanted (not used by libgpuvm)
 * @sgt_lock: serialises building the table of a binding in
 *            gpuvm_gem_shmem_sg_table(); taken before the reservation
 *
 * @pages, both counts and @sgt are protected by the reservation
 * (@base.resv). The fields ending in __ are private.
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
	/* The SG-table resource of the current binding. Published with
	 * release semantics, read under RCU. */
	struct gpuvm_devres *sgt_res__;
	/* A table took a pages reference that is still held, whether or
	 * not @sgt was freed since (see above). */
	bool sgt_pages_ref__;
};

/**
 * gpuvm_gem_to_shmem() - the shmem object embedding @obj
 * @obj: a GEM object that is the @base of a struct gpuvm_gem_shmem_object
 *       (not checked)
 *
 * Context: any; no lock.
 * Return: the shmem object.
 */
static inline struct gpuvm_gem_shmem_object *
gpuvm_gem_to_shmem(struct gpuvm_gem_object *obj)
{
	return gpuvm_container_of(obj, struct gpuvm_gem_shmem_object, base);
}

/**
 * gpuvm_gem_shmem_is_imported() - whether @shmem was imported
 * @shmem: the object
 *
 * Context: any; no lock (fixed at creation).
 * Return: true for an object from gpuvm_gem_shmem_prime_import_sg_table().
 */
static inline bool
gpuvm_gem_shmem_is_imported(const struct gpuvm_gem_shmem_object *shmem)
{
	return shmem->imported;
}

/**
 * gpuvm_gem_shmem_create() - allocate a shmem object for @dev
 * @dev: the device (need not be bound); must outlive the object
 * @size: rounded up to whole pages; must not be 0
 *
 * The object holds no pages yet and uses its own reservation. The caller
 * owns the one reference; the final gpuvm_gem_object_put() frees the
 * object (through gpuvm_gem_shmem_free()).
 *
 * Context: allocates (may block: not in a fence signalling section).
 * Return: the object, or an error pointer: -EINVAL (size 0, or too large:
 * over UINT32_MAX pages), -ENOMEM.
 */
GPUVM_EXPORT struct gpuvm_gem_shmem_object *
gpuvm_gem_shmem_create(struct gpuvm_device *dev, size_t size);

/**
 * gpuvm_gem_shmem_init() - initialise an embedded shmem object
 * @dev: the device (need not be bound); must outlive the object
 * @shmem: the object; its previous contents are ignored
 * @funcs: the GEM callbacks; funcs->free must call gpuvm_gem_shmem_release()
 *         before it frees the structure embedding @shmem
 * @size: rounded up to whole pages; must not be 0
 *
 * As gpuvm_gem_shmem_create() for an object the driver allocated: the
 * caller owns the one reference.
 *
 * Context: any thread, before @shmem is shared; does not allocate.
 * Return: 0, or -EINVAL (size 0 or too large as for
 * gpuvm_gem_shmem_create(), or no free callback; @shmem is then
 * untouched).
 */
GPUVM_EXPORT int
gpuvm_gem_shmem_init(struct gpuvm_device *dev,
		     struct gpuvm_gem_shmem_object *shmem,
		     const struct gpuvm_gem_object_funcs *funcs, size_t size);

/**
 * gpuvm_gem_shmem_prime_import_sg_table() - an object for a foreign buffer
 * @dev: the importing device; must outlive the object
 * @size: the buffer's size, rounded up to whole pages; must not be 0
 * @sgt: the exporter's table, mapped for @dev by the exporter; the
 *       exporter keeps owning it and must keep it until the object is gone
 *
 * The object is imported: @sgt is its cached table, it has no pages, the
 * page helpers refuse it and gpuvm_gem_shmem_sg_table() refuses it.
 *
 * Context: allocates (may block: not in a fence signalling section).
 * Return: the object (one reference, the caller's) or an error pointer:
 * -EINVAL (size 0 or too large), -ENOMEM.
 * Kernel parity: the kernel takes the size from the dma-buf attachment;
 * here the caller passes it.
 */
GPUVM_EXPORT struct gpuvm_gem_shmem_object *
gpuvm_gem_shmem_prime_import_sg_table(struct gpuvm_device *dev, size_t size,
				      struct gpuvm_sg_table *sgt);

/**
 * gpuvm_gem_shmem_release() - release what @shmem holds
 * @shmem: the object
 *
 * Drops the SG-table resource (waiting for an unbind that is releasing it
 * on another thread). For an imported object it then forgets the
 * exporter's table; otherwise, under the reservation, it frees the cached
 * table (unmapping it) and, if there are pages, puts one pages reference
 * (the table's, as the kernel does). Page or pin references still held
 * are reported (GPUVM_RULE_SHMEM_PAGES) and the pages freed anyway.
 * Finally destroys @shmem->sgt_lock and finalises the object's own
 * reservation. Does not free @shmem.
 *
 * Context: from the GEM free callback (no other reference left); may
 * block; not with the reservation or @shmem->sgt_lock held, not in a fence
 * signalling section nor an RCU read-side section.
 */
GPUVM_EXPORT void gpuvm_gem_shmem_release(struct gpuvm_gem_shmem_object *shmem);

/**
 * gpuvm_gem_shmem_free() - release @shmem and free it
 * @shmem: an object from gpuvm_gem_shmem_create() or
 *         gpuvm_gem_shmem_prime_import_sg_table() (their free callback
 *         calls this)
 *
 * Context: as gpuvm_gem_shmem_release().
 */
GPUVM_EXPORT void gpuvm_gem_shmem_free(struct gpuvm_gem_shmem_object *shmem);

/**
 * gpuvm_gem_shmem_get_pages_locked() - take a pages reference
 * @shmem: the object
 *
 * Allocates the pages (zeroed, one block each) when there are none.
 *
 * Context: reservation held (asserted); allocates (may block: not in a
 * fence signalling section).
 * Return: 0, -ENOMEM (nothing changed), -EINVAL for an imported object
 * (reported as GPUVM_RULE_SHMEM_IMPORTED).
 */
GPUVM_EXPORT int
gpuvm_gem_shmem_get_pages_locked(struct gpuvm_gem_shmem_object *shmem);

/**
 * gpuvm_gem_shmem_put_pages_locked() - put a pages reference
 * @shmem: the object
 *
 * The last reference frees the pages. Without a reference this is
 * reported (GPUVM_RULE_SHMEM_PAGES) and ignored.
 *
 * Context: reservation held (asserted); does not block or allocate.
 */
GPUVM_EXPORT void
gpuvm_gem_shmem_put_pages_locked(struct gpuvm_gem_shmem_object *shmem);

/**
 * gpuvm_gem_shmem_pin_locked() - pin the pages
 * @shmem: the object
 *
 * The first pin takes a pages reference (allocating the pages if needed).
 *
 * Context: reservation held (asserted); allocates (may block: not in a
 * fence signalling section).
 * Return: 0, -ENOMEM (nothing changed), -EINVAL for an imported object
 * (reported as GPUVM_RULE_SHMEM_IMPORTED).
 */
GPUVM_EXPORT int
gpuvm_gem_shmem_pin_locked(struct gpuvm_gem_shmem_object *shmem);

/**
 * gpuvm_gem_shmem_unpin_locked() - unpin the pages
 * @shmem: the object
 *
 * The last unpin puts the pin's pages reference. Unpinning an object that
 * is not pinned is reported (GPUVM_RULE_SHMEM_PAGES) and ignored.
 *
 * Context: reservation held (asserted); does not block or allocate.
 */
GPUVM_EXPORT void
gpuvm_gem_shmem_unpin_locked(struct gpuvm_gem_shmem_object *shmem);

/**
 * gpuvm_gem_shmem_pin() - gpuvm_gem_shmem_pin_locked() under the reservation
 * @shmem: the object
 *
 * Context: locks the reservation (no acquire context), so may block; not
 * with it held, not in a fence signalling section; allocates.
 * Return: as gpuvm_gem_shmem_pin_locked().
 */
GPUVM_EXPORT int gpuvm_gem_shmem_pin(struct gpuvm_gem_shmem_object *shmem);

/**
 * gpuvm_gem_shmem_unpin() - gpuvm_gem_shmem_unpin_locked() under the
 * reservation
 * @shmem: the object
 *
 * Context: locks the reservation (no acquire context), so may block; not
 * with it held, not in a fence signalling section.
 */
GPUVM_EXPORT void gpuvm_gem_shmem_unpin(struct gpuvm_gem_shmem_object *shmem);

/**
 * gpuvm_gem_shmem_get_sg_table() - a new, unmapped table of the pages
 * @shmem: the object; must have pages
 *
 * Physically contiguous pages share a segment. The caller owns the table
 * (gpuvm_sg_free_table() then gpuvm_kfree()) and must keep a pages
 * reference while using it; no reference is taken here.
 *
 * Context: takes no lock (the caller keeps the pages from going away);
 * allocates (may block: not in a fence signalling section).
 * Return: the table, or an error pointer: -ENOMEM, -EINVAL when there are
 * no pages (reported as GPUVM_RULE_SHMEM_PAGES) or the object is imported
 * (reported as GPUVM_RULE_SHMEM_IMPORTED).
 * Kernel parity: for an imported object the kernel warns and builds a
 * table anyway.
 */
GPUVM_EXPORT struct gpuvm_sg_table *
gpuvm_gem_shmem_get_sg_table(struct gpuvm_gem_shmem_object *shmem);

/**
 * gpuvm_gem_shmem_get_pages_sgt_locked() - the cached, mapped table
 * @shmem: the object
 *
 * Returns the cached table if there is one (for an imported object: the
 * exporter's, as the kernel does before it checks for imports). Otherwise
 * takes a pages reference (or reuses the one a freed table kept), builds
 * the table, maps it for @shmem->dev and caches it.
 *
 * Context: reservation held (asserted); allocates (may block: not in a
 * fence signalling section).
 * Return: the table (owned by the object) or an error pointer: -ENOMEM,
 * -ENXIO (device neither bound nor waiting for its bound scopes in an
 * unbind), -EINVAL (imported, no table; reported as
 * GPUVM_RULE_SHMEM_IMPORTED); on error nothing changed.
 * Kernel parity: a table built again after
 * gpuvm_gem_shmem_free_sgt_locked() reuses the pages reference the freed
 * one kept; the kernel takes another, which is never put.
 */
GPUVM_EXPORT struct gpuvm_sg_table *
gpuvm_gem_shmem_get_pages_sgt_locked(struct gpuvm_gem_shmem_object *shmem);

/**
 * gpuvm_gem_shmem_get_pages_sgt() - gpuvm_gem_shmem_get_pages_sgt_locked()
 * under the reservation
 * @shmem: the object
 *
 * Context: locks the reservation (no acquire context), so may block; not
 * with it held, not in a fence signalling section; allocates.
 * Return: as gpuvm_gem_shmem_get_pages_sgt_locked().
 */
GPUVM_EXPORT struct gpuvm_sg_table *
gpuvm_gem_shmem_get_pages_sgt(struct gpuvm_gem_shmem_object *shmem);

/**
 * gpuvm_gem_shmem_free_sgt_locked() - unmap and free the cached table
 * @shmem: the object
 *
 * Does NOT put the pages reference the table took (the kernel's
 * __drm_gem_shmem_free_sgt_locked()). Without a table this is a double
 * free: reported (GPUVM_RULE_SHMEM_SGT_DOUBLE_FREE) and ignored.
 *
 * Context: reservation held (asserted); does not block or allocate.
 * Kernel parity: for an imported object the table is the exporter's: this
 * is reported (GPUVM_RULE_SHMEM_IMPORTED) and the table left alone, where
 * the kernel helper would free it.
 */
GPUVM_EXPORT void
gpuvm_gem_shmem_free_sgt_locked(struct gpuvm_gem_shmem_object *shmem);

/**
 * gpuvm_gem_shmem_sg_table() - the object's table, mapped for a binding
 * @shmem: the object
 * @bound: a bound scope of @shmem->dev
 *
 * The first call of a binding builds the table
 * (gpuvm_gem_shmem_get_pages_sgt()) and registers it as a resource of the
 * device, under @shmem->sgt_lock; a resource left by an earlier binding
 * is dropped first, after a grace period. Concurrent first calls wait for
 * it and all get the same table. Later calls of the binding return it
 * without taking a lock. Unbind unmaps and frees it; a call in a later
 * binding builds a new one. The driver must not free the table itself
 * (gpuvm_gem_shmem_free_sgt_locked()) while the resource of the binding
 * exists (the resource would free it again): the next call reports it
 * (GPUVM_RULE_SHMEM_SGT_DOUBLE_FREE) and, like a first call, builds and
 * maps a new table, which the resource then owns (tables returned before
 * are gone). When no call comes before the unbind, the unbind reports
 * the double free instead.
 *
 * Context: the first call of a binding takes @shmem->sgt_lock and then the
 * reservation (neither may be held), allocates and may wait for a grace
 * period: not in a fence signalling section nor an RCU read-side section.
 * Later calls of the binding take no library lock, do not allocate or
 * block, and are allowed in a fence signalling section (a thread's first
 * RCU use registers it with liburcu).
 * Return: the table, valid until @bound is left or the object is freed,
 * whichever comes first; or an error pointer: -EINVAL when @bound is a
 * scope of another device or the object is imported (nothing is cached
 * then), -ENXIO when @bound is not an entered scope (reported as
 * GPUVM_RULE_DEVICE_TOKEN), -ENOMEM (nothing cached; when registering the
 * resource failed, the table was unmapped and freed but the pages
 * reference it took stays, as in the kernel, and is reused by the retry;
 * when building the table again after the driver freed it failed, the
 * next call reports and tries again).
 * Kernel parity: imported objects are refused: the kernel's helper returns
 * the exporter's cached table, which the device resource would then free
 * at unbind behind the exporter's back. A resource of an earlier binding
 * is replaced, where the Rust abstraction would hand out its released
 * table; so is a table the driver freed during the binding.
 */
GPUVM_EXPORT const struct gpuvm_sg_table *
gpuvm_gem_shmem_sg_table(struct gpuvm_gem_shmem_object *shmem,
			 const struct gpuvm_device_bound *bound);

/**
 * gpuvm_shmem_sg_table() - gpuvm_gem_shmem_sg_table(), under the spelling
 * of the issue that asked for it (Rust: sg_table())
 * @shmem: the object
 * @bound: a bound scope of @shmem->dev
 *
 * Context: as gpuvm_gem_shmem_sg_table().
 * Return: as gpuvm_gem_shmem_sg_table().
 */
static inline const struct gpuvm_sg_table *
gpuvm_shmem_sg_table(struct gpuvm_gem_shmem_object *shmem,
		     const struct gpuvm_device_bound *bound)
{
	return gpuvm_gem_shmem_sg_table(shmem, bound);
}

GPUVM_END_DECLS

#endif /* GPUVM_SHMEM_H */
