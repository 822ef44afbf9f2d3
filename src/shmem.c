// SPDX-License-Identifier: MIT
/*
 * GEM shmem objects: pages, the cached SG table, and the SG table as a
 * device resource (see shmem.h).
 *
 * The device resource's data is the object itself: releasing it (at
 * unbind, at release, or when registering it failed) frees the cached
 * table under the reservation, keeping the pages reference. The resource
 * of the current binding is published in @sgt_res__ once it is complete,
 * with release ordering; the fast path reads it under RCU because the
 * populating thread of a later binding replaces (and frees) a stale one.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <gpuvm/shmem.h>

#include "device_internal.h"
#include "internal.h"
#include "rcu_internal.h"

static struct gpuvm_lock_class sgt_lock_class =
	GPUVM_LOCK_CLASS_INIT("gpuvm_shmem_sgt_lock", 0);

#ifdef GPUVM_TEST_KNOBS
void gpuvm_gem_shmem_set_release_first(bool release_first)
{
	gpuvm_debug_set_knob(GPUVM_KNOB_SHMEM_RELEASE_FIRST, release_first);
}
#endif

static size_t shmem_npages(const struct gpuvm_gem_shmem_object *shmem)
{
	return shmem->base.size / GPUVM_PAGE_SIZE;
}

static void assert_resv_held(struct gpuvm_gem_shmem_object *shmem,
			     const char *func)
{
	gpuvm_dma_resv_assert_held_func(shmem->base.resv, func);
}

static bool refuse_imported(struct gpuvm_gem_shmem_object *shmem,
			    const char *func)
{
	if (likely(!shmem->imported))
		return false;
	gpuvm_warn(GPUVM_RULE_SHMEM_IMPORTED,
		   "%s: the object is imported; its pages and table belong "
		   "to the exporter",
		   func);
	return true;
}

/* ---- creation and release ----------------------------------------------- */

static void shmem_default_free(struct gpuvm_gem_object *obj)
{
	gpuvm_gem_shmem_free(gpuvm_gem_to_shmem(obj));
}

static const struct gpuvm_gem_object_funcs shmem_default_funcs = {
	.free = shmem_default_free,
};

/* The size rounded up to whole pages, or 0 when it is not acceptable. */
static size_t shmem_size(size_t size)
{
	if (!size || size > SIZE_MAX - GPUVM_PAGE_SIZE + 1)
		return 0;
	size = (size + GPUVM_PAGE_SIZE - 1) & ~(size_t)(GPUVM_PAGE_SIZE - 1);
	if (size / GPUVM_PAGE_SIZE > UINT32_MAX)
		return 0;
	return size;
}

static void shmem_init(struct gpuvm_device *dev,
		       struct gpuvm_gem_shmem_object *shmem,
		       const struct gpuvm_gem_object_funcs *funcs, size_t size)
{
	memset(shmem, 0, sizeof(*shmem));
	gpuvm_dma_resv_init(&shmem->resv__);
	gpuvm_gem_object_init_shared_resv(&shmem->base, funcs, size,
					  &shmem->resv__);
	shmem->dev = dev;
	gpuvm_mutex_init(&shmem->sgt_lock, NULL, &sgt_lock_class);
}

GPUVM_EXPORT int
gpuvm_gem_shmem_init(struct gpuvm_device *dev,
		     struct gpuvm_gem_shmem_object *shmem,
		     const struct gpuvm_gem_object_funcs *funcs, size_t size)
{
	size = shmem_size(size);
	if (!size || !funcs || !funcs->free)
		return -EINVAL;
	shmem_init(dev, shmem, funcs, size);
	return 0;
}

GPUVM_EXPORT struct gpuvm_gem_shmem_object *
gpuvm_gem_shmem_create(struct gpuvm_device *dev, size_t size)
{
	struct gpuvm_gem_shmem_object *shmem;

	size = shmem_size(size);
	if (!size)
		return gpuvm_err_ptr(-EINVAL);
	shmem = gpuvm_kmalloc(sizeof(*shmem), GPUVM_GFP_KERNEL);
	if (!shmem)
		return gpuvm_err_ptr(-ENOMEM);
	shmem_init(dev, shmem, &shmem_default_funcs, size);
	return shmem;
}

GPUVM_EXPORT struct gpuvm_gem_shmem_object *
gpuvm_gem_shmem_prime_import_sg_table(struct gpuvm_device *dev, size_t size,
				      struct gpuvm_sg_table *sgt)
{
	struct gpuvm_gem_shmem_object *shmem =
		gpuvm_gem_shmem_create(dev, size);

	if (gpuvm_is_err(shmem))
		return shmem;
	shmem->imported = true;
	shmem->sgt = sgt;
	return shmem;
}

static void pages_free(struct gpuvm_gem_shmem_object *shmem)
{
	size_t i, n = shmem_npages(shmem);

	for (i = 0; i < n; i++)
		gpuvm_kfree(shmem->pages[i]);
	gpuvm_kfree(shmem->pages);
	shmem->pages = NULL;
}

/* Drop the SG-table resource: unmaps and frees the table unless an unbind
 * did already; waits for an unbind that is doing it right now. */
static void drop_sgt_res(struct gpuvm_gem_shmem_object *shmem)
{
	struct gpuvm_devres *dr = shmem->sgt_res__;

	gpuvm_rcu_assign_pointer(shmem->sgt_res__, NULL);
	gpuvm_devres_drop(dr);
	gpuvm_hook(GPUVM_HOOK_SHMEM_FREE);
}

/* The C helper's part of the release: table, pages, checks. */
static void release_pages_and_table(struct gpuvm_gem_shmem_object *shmem)
{
	static const char func[] = "gpuvm_gem_shmem_release";
	struct gpuvm_dma_resv_guard guard;

	if (shmem->imported) {
		/* The exporter's table: the exporter unmaps and frees it. */
		shmem->sgt = NULL;
		return;
	}

	guard = gpuvm_dma_resv_guard_lock(shmem->base.resv);
	if (shmem->sgt)
		gpuvm_gem_shmem_free_sgt_locked(shmem);
	/* The table's pages reference, kept even if the table was freed. */
	if (shmem->pages)
		gpuvm_gem_shmem_put_pages_locked(shmem);
	if (shmem->pages_use_count || shmem->pages_pin_count) {
		gpuvm_warn(GPUVM_RULE_SHMEM_PAGES,
			   "%s: %u pages reference(s) and %u pin(s) left; "
			   "pages freed anyway",
			   func, shmem->pages_use_count,
			   shmem->pages_pin_count);
		if (shmem->pages)
			pages_free(shmem);
		shmem->pages_use_count = 0;
		shmem->pages_pin_count = 0;
	}
	gpuvm_dma_resv_guard_unlock(&guard);
}

GPUVM_EXPORT void gpuvm_gem_shmem_release(struct gpuvm_gem_shmem_object *shmem)
{
	/*
	 * The resource must go first: its release frees the table too,
	 * and after the table was freed here it would free it again.
	 */
	bool wrong_order = gpuvm_knob(GPUVM_KNOB_SHMEM_RELEASE_FIRST);

	if (!wrong_order)
		drop_sgt_res(shmem);
	release_pages_and_table(shmem);
	if (wrong_order)
		drop_sgt_res(shmem);
	gpuvm_mutex_destroy(&shmem->sgt_lock);
	gpuvm_dma_resv_fini(&shmem->resv__);
}

GPUVM_EXPORT void gpuvm_gem_shmem_free(struct gpuvm_gem_shmem_object *shmem)
{
	gpuvm_gem_shmem_release(shmem);
	gpuvm_kfree(shmem);
}

/* ---- pages -------------------------------------------------------------- */

GPUVM_EXPORT int
gpuvm_gem_shmem_get_pages_locked(struct gpuvm_gem_shmem_object *shmem)
{
	static const char func[] = "gpuvm_gem_shmem_get_pages_locked";
	size_t i, n = shmem_npages(shmem);
	void **pages;

	assert_resv_held(shmem, func);
	if (refuse_imported(shmem, func))
		return -EINVAL;
	if (shmem->pages_use_count) {
		shmem->pages_use_count++;
		return 0;
	}

	pages = gpuvm_kcalloc(n, sizeof(*pages), GPUVM_GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		pages[i] = gpuvm_kzalloc(GPUVM_PAGE_SIZE, GPUVM_GFP_KERNEL);
		if (!pages[i])
			goto fail;
	}
	shmem->pages = pages;
	shmem->pages_use_count = 1;
	return 0;

fail:
	while (i--)
		gpuvm_kfree(pages[i]);
	gpuvm_kfree(pages);
	return -ENOMEM;
}

GPUVM_EXPORT void
gpuvm_gem_shmem_put_pages_locked(struct gpuvm_gem_shmem_object *shmem)
{
	static const char func[] = "gpuvm_gem_shmem_put_pages_locked";

	assert_resv_held(shmem, func);
	if (!shmem->pages_use_count) {
		gpuvm_warn(GPUVM_RULE_SHMEM_PAGES,
			   "%s: no pages reference to put; ignored", func);
		return;
	}
	if (--shmem->pages_use_count)
		return;
	pages_free(shmem);
	shmem->sgt_pages_ref__ = false;
}

GPUVM_EXPORT int
gpuvm_gem_shmem_pin_locked(struct gpuvm_gem_shmem_object *shmem)
{
	static const char func[] = "gpuvm_gem_shmem_pin_locked";
	int ret;

	assert_resv_held(shmem, func);
	if (refuse_imported(shmem, func))
		return -EINVAL;
	if (shmem->pages_pin_count) {
		shmem->pages_pin_count++;
		return 0;
	}
	ret = gpuvm_gem_shmem_get_pages_locked(shmem);
	if (!ret)
		shmem->pages_pin_count = 1;
	return ret;
}

GPUVM_EXPORT void
gpuvm_gem_shmem_unpin_locked(struct gpuvm_gem_shmem_object *shmem)
{
	static const char func[] = "gpuvm_gem_shmem_unpin_locked";

	assert_resv_held(shmem, func);
	if (!shmem->pages_pin_count) {
		gpuvm_warn(GPUVM_RULE_SHMEM_PAGES,
			   "%s: the object is not pinned; ignored", func);
		return;
	}
	if (!--shmem->pages_pin_count)
		gpuvm_gem_shmem_put_pages_locked(shmem);
}

GPUVM_EXPORT int gpuvm_gem_shmem_pin(struct gpuvm_gem_shmem_object *shmem)
{
	struct gpuvm_dma_resv_guard guard =
		gpuvm_dma_resv_guard_lock(shmem->base.resv);
	int ret = gpuvm_gem_shmem_pin_locked(shmem);

	gpuvm_dma_resv_guard_unlock(&guard);
	return ret;
}

GPUVM_EXPORT void gpuvm_gem_shmem_unpin(struct gpuvm_gem_shmem_object *shmem)
{
	struct gpuvm_dma_resv_guard guard =
		gpuvm_dma_resv_guard_lock(shmem->base.resv);

	gpuvm_gem_shmem_unpin_locked(shmem);
	gpuvm_dma_resv_guard_unlock(&guard);
}

/* ---- SG tables ---------------------------------------------------------- */

static bool page_follows(void *prev, void *next)
{
	return (uintptr_t)prev + GPUVM_PAGE_SIZE == (uintptr_t)next;
}

GPUVM_EXPORT struct gpuvm_sg_table *
gpuvm_gem_shmem_get_sg_table(struct gpuvm_gem_shmem_object *shmem)
{
	static const char func[] = "gpuvm_gem_shmem_get_sg_table";
	size_t i, n = shmem_npages(shmem);
	struct gpuvm_scatterlist *sg;
	struct gpuvm_sg_table *sgt;
	unsigned int nents = 1;

	if (refuse_imported(shmem, func))
		return gpuvm_err_ptr(-EINVAL);
	if (!shmem->pages) {
		gpuvm_warn(GPUVM_RULE_SHMEM_PAGES,
			   "%s: the object has no pages", func);
		return gpuvm_err_ptr(-EINVAL);
	}

	/* Physically contiguous pages share a segment. */
	for (i = 1; i < n; i++)
		nents += !page_follows(shmem->pages[i - 1], shmem->pages[i]);

	sgt = gpuvm_kzalloc(sizeof(*sgt), GPUVM_GFP_KERNEL);
	if (!sgt)
		return gpuvm_err_ptr(-ENOMEM);
	if (gpuvm_sg_alloc_table(sgt, nents)) {
		gpuvm_kfree(sgt);
		return gpuvm_err_ptr(-ENOMEM);
	}

	sg = sgt->sgl;
	sg->page_link = shmem->pages[0];
	sg->length = GPUVM_PAGE_SIZE;
	for (i = 1; i < n; i++) {
		if (!page_follows(shmem->pages[i - 1], shmem->pages[i])) {
			sg++;
			sg->page_link = shmem->pages[i];
		}
		sg->length += GPUVM_PAGE_SIZE;
	}
	return sgt;
}

GPUVM_EXPORT struct gpuvm_sg_table *
gpuvm_gem_shmem_get_pages_sgt_locked(struct gpuvm_gem_shmem_object *shmem)
{
	static const char func[] = "gpuvm_gem_shmem_get_pages_sgt_locked";
	struct gpuvm_sg_table *sgt;
	bool reuse;
	int ret;

	assert_resv_held(shmem, func);
	/* Cached first, as in the kernel: an imported object gets the
	 * exporter's table here. */
	if (shmem->sgt)
		return shmem->sgt;
	if (refuse_imported(shmem, func))
		return gpuvm_err_ptr(-EINVAL);

	/* A freed table left its pages reference behind: take that one. */
	reuse = shmem->sgt_pages_ref__ && shmem->pages_use_count;
	if (!reuse) {
		ret = gpuvm_gem_shmem_get_pages_locked(shmem);
		if (ret)
			return gpuvm_err_ptr(ret);
	}

	sgt = gpuvm_gem_shmem_get_sg_table(shmem);
	if (gpuvm_is_err(sgt)) {
		ret = (int)gpuvm_ptr_err(sgt);
		goto put_pages;
	}
	ret = gpuvm_dma_map_sgtable(shmem->dev, sgt, GPUVM_DMA_BIDIRECTIONAL,
				    0);
	if (ret)
		goto free_sgt;

	shmem->sgt_pages_ref__ = true;
	/* Read by the fast path of gpuvm_gem_shmem_sg_table(). */
	__atomic_store_n(&shmem->sgt, sgt, __ATOMIC_RELEASE);
	return sgt;

free_sgt:
	gpuvm_sg_free_table(sgt);
	gpuvm_kfree(sgt);
put_pages:
	if (!reuse)
		gpuvm_gem_shmem_put_pages_locked(shmem);
	return gpuvm_err_ptr(ret);
}

GPUVM_EXPORT struct gpuvm_sg_table *
gpuvm_gem_shmem_get_pages_sgt(struct gpuvm_gem_shmem_object *shmem)
{
	struct gpuvm_dma_resv_guard guard =
		gpuvm_dma_resv_guard_lock(shmem->base.resv);
	struct gpuvm_sg_table *sgt =
		gpuvm_gem_shmem_get_pages_sgt_locked(shmem);

	gpuvm_dma_resv_guard_unlock(&guard);
	return sgt;
}

GPUVM_EXPORT void
gpuvm_gem_shmem_free_sgt_locked(struct gpuvm_gem_shmem_object *shmem)
{
	static const char func[] = "gpuvm_gem_shmem_free_sgt_locked";
	struct gpuvm_sg_table *sgt;

	assert_resv_held(shmem, func);
	if (refuse_imported(shmem, func))
		return;
	if (!shmem->sgt) {
		gpuvm_warn(GPUVM_RULE_SHMEM_SGT_DOUBLE_FREE,
			   "%s: the object has no SG table (freed already); "
			   "ignored",
			   func);
		return;
	}
	sgt = shmem->sgt;
	/* Read by the fast path of gpuvm_gem_shmem_sg_table(). */
	__atomic_store_n(&shmem->sgt, NULL, __ATOMIC_RELEASE);
	gpuvm_dma_unmap_sgtable(shmem->dev, sgt, GPUVM_DMA_BIDIRECTIONAL, 0);
	gpuvm_sg_free_table(sgt);
	gpuvm_kfree(sgt);
	/* The pages reference stays with the object (sgt_pages_ref__). */
}

/* ---- the SG table as a device resource ---------------------------------- */

/* Release of the resource: the Rust SGTableMap's drop. */
static void sgt_map_release(void *data)
{
	struct gpuvm_gem_shmem_object *shmem = data;
	struct gpuvm_dma_resv_guard guard =
		gpuvm_dma_resv_guard_lock(shmem->base.resv);

	gpuvm_hook(GPUVM_HOOK_SGT_MAP_DROP);
	gpuvm_gem_shmem_free_sgt_locked(shmem);
	gpuvm_dma_resv_guard_unlock(&guard);
}

/*
 * The table of the resource of the current binding. The driver may have
 * freed it (gpuvm_gem_shmem_free_sgt_locked()) behind the resource's back:
 * the resource would free it a second time at unbind, and in the kernel
 * the abstraction would hand out the freed table. Reported; a new table is
 * built (with the pages reference the freed one kept) and the resource
 * frees that one.
 */
static const struct gpuvm_sg_table *
sg_table_of_binding(struct gpuvm_gem_shmem_object *shmem)
{
	struct gpuvm_dma_resv_guard guard =
		gpuvm_dma_resv_guard_lock(shmem->base.resv);
	const struct gpuvm_sg_table *sgt = shmem->sgt;

	if (unlikely(!sgt)) {
		gpuvm_warn(GPUVM_RULE_SHMEM_SGT_DOUBLE_FREE,
			   "gpuvm_gem_shmem_sg_table: the table of the "
			   "binding's device resource was freed by "
			   "gpuvm_gem_shmem_free_sgt_locked(); built again");
		sgt = gpuvm_gem_shmem_get_pages_sgt_locked(shmem);
	}
	gpuvm_dma_resv_guard_unlock(&guard);
	return sgt;
}

static const struct gpuvm_sg_table *
sg_table_populate(struct gpuvm_gem_shmem_object *shmem,
		  const struct gpuvm_device_bound *bound)
{
	const struct gpuvm_sg_table *ret;
	struct gpuvm_devres *old, *dr;
	struct gpuvm_sg_table *sgt;

	gpuvm_mutex_lock(&shmem->sgt_lock);
	gpuvm_hook(GPUVM_HOOK_SG_TABLE_SLOW);

	old = shmem->sgt_res__;
	if (old && gpuvm_devres_generation(old) == bound->generation) {
		/* Another thread was first, or the table was freed. */
		ret = sg_table_of_binding(shmem);
		goto out;
	}
	if (old) {
		/*
		 * Deviation (hardened): a resource of an earlier binding,
		 * revoked and released by its unbind. The Rust abstraction
		 * would hand out its released table; here it is replaced.
		 * Fast-path readers may still look at it: wait for them.
		 */
		gpuvm_rcu_assign_pointer(shmem->sgt_res__, NULL);
		gpuvm_rcu_synchronize();
		gpuvm_devres_drop(old);
	}

	sgt = gpuvm_gem_shmem_get_pages_sgt(shmem);
	if (gpuvm_is_err(sgt)) {
		ret = sgt;
		goto out;
	}
	/* On failure the release ran: the table is unmapped and freed. */
	dr = gpuvm_devres_new(bound, shmem, sgt_map_release);
	if (gpuvm_is_err(dr)) {
		ret = gpuvm_err_ptr(gpuvm_ptr_err(dr));
		goto out;
	}
	gpuvm_rcu_assign_pointer(shmem->sgt_res__, dr);
	ret = sgt;
out:
	gpuvm_mutex_unlock(&shmem->sgt_lock);
	return ret;
}

GPUVM_EXPORT const struct gpuvm_sg_table *
gpuvm_gem_shmem_sg_table(struct gpuvm_gem_shmem_object *shmem,
			 const struct gpuvm_device_bound *bound)
{
	const struct gpuvm_sg_table *sgt = NULL;
	struct gpuvm_devres *dr;

	if (unlikely(!bound->dev)) {
		gpuvm_warn(GPUVM_RULE_DEVICE_TOKEN,
			   "gpuvm_gem_shmem_sg_table: the bound scope was "
			   "left (or never entered)");
		return gpuvm_err_ptr(-ENXIO);
	}
	/* Checked before anything is cached. */
	if (bound->dev != shmem->dev || shmem->imported)
		return gpuvm_err_ptr(-EINVAL);

	/* The resource of this binding never changes while @bound lives;
	 * one of an earlier binding may be replaced (and freed) under us. */
	gpuvm_rcu_read_lock();
	dr = gpuvm_rcu_dereference(shmem->sgt_res__);
	if (likely(dr) && gpuvm_devres_generation(dr) == bound->generation)
		sgt = __atomic_load_n(&shmem->sgt, __ATOMIC_ACQUIRE);
	gpuvm_rcu_read_unlock();
	if (likely(sgt))
		return sgt;
	return sg_table_populate(shmem, bound);
}
