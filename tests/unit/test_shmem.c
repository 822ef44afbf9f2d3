// SPDX-License-Identifier: MIT
/*
 * API contracts of shmem.h and the resv guard: creation, pages and pins,
 * the cached SG table and its pages reference, the locking asserts, the
 * imported-object refusals, the SG table as a device resource, and fault
 * sweeps over every allocating call (error returned, state exactly as
 * before, nothing leaked).
 */
#include <errno.h>
#include <string.h>

#include <gpuvm/testing.h>
#include "device_fixture.h"

static struct gpuvm_gem_shmem_object *new_obj(struct gpuvm_device *dev,
					      size_t size)
{
	struct gpuvm_gem_shmem_object *obj = gpuvm_gem_shmem_create(dev, size);

	assert_false(gpuvm_is_err_or_null(obj));
	return obj;
}

static void put_obj(struct gpuvm_gem_shmem_object *obj)
{
	gpuvm_gem_object_put(&obj->base);
}

static void lock_obj(struct gpuvm_gem_shmem_object *obj)
{
	assert_int_equal(gpuvm_dma_resv_lock(obj->base.resv, NULL), 0);
}

static void unlock_obj(struct gpuvm_gem_shmem_object *obj)
{
	gpuvm_dma_resv_unlock(obj->base.resv);
}

static void bound_dev(struct gpuvm_device *dev)
{
	gpuvm_device_init(dev, "dev");
	assert_int_equal(gpuvm_device_bind(dev), 0);
}

static void done_dev(struct gpuvm_device *dev)
{
	gpuvm_device_unbind(dev);
	gpuvm_device_fini(dev);
}

/* ---- creation ----------------------------------------------------------- */

static void test_shmem_create(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_gem_shmem_object *obj;
	long live = gpuvm_alloc_live();

	bound_dev(&dev);
	obj = new_obj(&dev, 5000);
	assert_int_equal(obj->base.size, 2 * GPUVM_PAGE_SIZE);
	assert_int_equal(gpuvm_gem_object_refcount(&obj->base), 1);
	assert_ptr_equal(obj->dev, &dev);
	assert_ptr_equal(obj->base.resv, &obj->resv__);
	assert_null(obj->pages);
	assert_null(obj->sgt);
	assert_int_equal(obj->pages_use_count, 0);
	assert_int_equal(obj->pages_pin_count, 0);
	assert_false(gpuvm_gem_shmem_is_imported(obj));
	assert_ptr_equal(gpuvm_gem_to_shmem(&obj->base), obj);
	put_obj(obj);
	assert_int_equal(gpuvm_alloc_live(), live);

	assert_int_equal(gpuvm_ptr_err(gpuvm_gem_shmem_create(&dev, 0)),
			 -EINVAL);
	assert_int_equal(gpuvm_ptr_err(gpuvm_gem_shmem_create(&dev, SIZE_MAX)),
			 -EINVAL);
	assert_int_equal(gpuvm_alloc_live(), live);
	done_dev(&dev);
}

struct create_sweep {
	struct gpuvm_device dev;
	struct gpuvm_gem_shmem_object *obj;
	struct gpuvm_sg_table exporter;
	bool import;
	long live;
};

static int op_create(void *arg)
{
	struct create_sweep *s = arg;

	s->obj = s->import ? gpuvm_gem_shmem_prime_import_sg_table(
				     &s->dev, GPUVM_PAGE_SIZE, &s->exporter) :
			     gpuvm_gem_shmem_create(&s->dev, GPUVM_PAGE_SIZE);
	return gpuvm_ptr_err_or_zero(s->obj);
}

static void check_create(void *arg, unsigned long n, int ret)
{
	struct create_sweep *s = arg;

	assert_int_equal(ret, -ENOMEM);
	assert_int_equal(gpuvm_alloc_live(), s->live);
}

static void test_shmem_fault_sweep_create(void **state)
{
	struct create_sweep s = { 0 };

	bound_dev(&s.dev);
	s.live = gpuvm_alloc_live();
	assert_int_equal(
		gpuvm_alloc_fault_sweep(op_create, check_create, &s, 0), 1);
	put_obj(s.obj);

	s.import = true;
	assert_int_equal(
		gpuvm_alloc_fault_sweep(op_create, check_create, &s, 0), 1);
	assert_true(gpuvm_gem_shmem_is_imported(s.obj));
	assert_ptr_equal(s.obj->sgt, &s.exporter);
	put_obj(s.obj);
	done_dev(&s.dev);
}

/* A driver object embedding the shmem object. */
struct drv_obj {
	int magic;
	struct gpuvm_gem_shmem_object shmem;
	int *frees;
};

static void drv_obj_free(struct gpuvm_gem_object *obj)
{
	struct drv_obj *d = gpuvm_container_of(gpuvm_gem_to_shmem(obj),
					       struct drv_obj, shmem);

	gpuvm_gem_shmem_release(&d->shmem);
	(*d->frees)++;
	gpuvm_kfree(d);
}

static const struct gpuvm_gem_object_funcs drv_obj_funcs = {
	.free = drv_obj_free,
};

static void test_shmem_init_embedded(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b;
	struct drv_obj *d;
	int frees = 0;

	bound_dev(&dev);
	d = gpuvm_kzalloc(sizeof(*d), GPUVM_GFP_KERNEL);
	d->magic = 42;
	d->frees = &frees;
	assert_int_equal(
		gpuvm_gem_shmem_init(&dev, &d->shmem, &drv_obj_funcs, 0),
		-EINVAL);
	assert_int_equal(gpuvm_gem_shmem_init(&dev, &d->shmem, NULL, 1),
			 -EINVAL);
	assert_null(d->shmem.dev);
	assert_int_equal(
		gpuvm_gem_shmem_init(&dev, &d->shmem, &drv_obj_funcs, 1), 0);
	assert_int_equal(d->shmem.base.size, GPUVM_PAGE_SIZE);
	assert_int_equal(d->magic, 42);

	/* Give it pages and a device resource, then let the put free it. */
	gpuvm_device_bound_enter(&dev, &b);
	assert_false(gpuvm_is_err(gpuvm_gem_shmem_sg_table(&d->shmem, &b)));
	gpuvm_device_bound_exit(&b);
	gpuvm_gem_object_put(&d->shmem.base);
	assert_int_equal(frees, 1);
	assert_int_equal(gpuvm_device_devres_count(&dev), 0);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);
	done_dev(&dev);
}

/* ---- pages and pins ----------------------------------------------------- */

static void test_shmem_pages_refcount(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_gem_shmem_object *obj;
	void *first;
	long live;
	size_t i;

	bound_dev(&dev);
	obj = new_obj(&dev, 3 * GPUVM_PAGE_SIZE);
	live = gpuvm_alloc_live();
	lock_obj(obj);
	assert_int_equal(gpuvm_gem_shmem_get_pages_locked(obj), 0);
	assert_non_null(obj->pages);
	assert_int_equal(obj->pages_use_count, 1);
	/* Real, zeroed, writable memory, counted by the allocator. */
	assert_int_equal(gpuvm_alloc_live(), live + 4);
	for (i = 0; i < 3; i++) {
		const char *p = obj->pages[i];

		assert_int_equal(p[0], 0);
		assert_int_equal(p[GPUVM_PAGE_SIZE - 1], 0);
		memset(obj->pages[i], 0xab, GPUVM_PAGE_SIZE);
	}
	first = obj->pages[0];

	assert_int_equal(gpuvm_gem_shmem_get_pages_locked(obj), 0);
	assert_int_equal(obj->pages_use_count, 2);
	assert_ptr_equal(obj->pages[0], first);
	assert_int_equal(gpuvm_alloc_live(), live + 4);

	gpuvm_gem_shmem_put_pages_locked(obj);
	assert_int_equal(obj->pages_use_count, 1);
	assert_non_null(obj->pages);
	gpuvm_gem_shmem_put_pages_locked(obj);
	assert_int_equal(obj->pages_use_count, 0);
	assert_null(obj->pages);
	assert_int_equal(gpuvm_alloc_live(), live);

	gpuvm_gem_shmem_put_pages_locked(obj);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_SHMEM_PAGES), 1);
	assert_int_equal(obj->pages_use_count, 0);
	unlock_obj(obj);
	put_obj(obj);
	done_dev(&dev);
}

struct pages_sweep {
	struct gpuvm_device dev;
	struct gpuvm_gem_shmem_object *obj;
	const struct gpuvm_sg_table *table;
	long live;
	unsigned long devres;
	int which; /* 0 get_pages, 1 pin, 2 get_pages_sgt, 3 sg_table */
	unsigned long kept_pages_runs;
};

static int op_pages(void *arg)
{
	struct pages_sweep *s = arg;
	struct gpuvm_device_bound b;
	int ret = 0;

	switch (s->which) {
	case 0:
		lock_obj(s->obj);
		ret = gpuvm_gem_shmem_get_pages_locked(s->obj);
		unlock_obj(s->obj);
		break;
	case 1:
		ret = gpuvm_gem_shmem_pin(s->obj);
		break;
	case 2:
		s->table = gpuvm_gem_shmem_get_pages_sgt(s->obj);
		ret = gpuvm_ptr_err_or_zero(s->table);
		break;
	case 3:
		gpuvm_device_bound_enter(&s->dev, &b);
		s->table = gpuvm_gem_shmem_sg_table(s->obj, &b);
		gpuvm_device_bound_exit(&b);
		ret = gpuvm_ptr_err_or_zero(s->table);
		break;
	}
	return ret;
}

static void check_pages(void *arg, unsigned long n, int ret)
{
	struct pages_sweep *s = arg;
	struct gpuvm_gem_shmem_object *obj = s->obj;

	assert_int_equal(ret, -ENOMEM);
	assert_null(obj->sgt);
	assert_null(obj->sgt_res__);
	assert_int_equal(obj->pages_pin_count, 0);
	assert_int_equal(gpuvm_device_dma_mappings(&s->dev), 0);
	assert_int_equal(gpuvm_device_devres_count(&s->dev), s->devres);
	if (obj->pages_use_count) {
		/*
		 * Only when the device resource could not be allocated
		 * after the table was built: the freed table keeps its
		 * pages reference, as in the kernel. Give it back so the
		 * next run starts from the same state.
		 */
		assert_int_equal(s->which, 3);
		assert_int_equal(obj->pages_use_count, 1);
		assert_true(obj->sgt_pages_ref__);
		assert_int_equal(gpuvm_device_dma_unmap_calls(&s->dev),
				 gpuvm_device_dma_map_calls(&s->dev));
		s->kept_pages_runs++;
		lock_obj(obj);
		gpuvm_gem_shmem_put_pages_locked(obj);
		unlock_obj(obj);
	}
	assert_null(obj->pages);
	assert_int_equal(gpuvm_alloc_live(), s->live);
}

static void sweep_pages(int which, int points)
{
	struct pages_sweep s = { .which = which };

	bound_dev(&s.dev);
	s.obj = new_obj(&s.dev, 3 * GPUVM_PAGE_SIZE);
	s.live = gpuvm_alloc_live();
	s.devres = gpuvm_device_devres_count(&s.dev);
	assert_int_equal(gpuvm_alloc_fault_sweep(op_pages, check_pages, &s, 0),
			 points);
	assert_non_null(s.obj->pages);
	assert_int_equal(s.obj->pages_use_count, 1);
	assert_int_equal(s.obj->pages_pin_count, which == 1);
	if (which >= 2) {
		assert_ptr_equal(s.table, s.obj->sgt);
		assert_true(gpuvm_device_dma_is_mapped(&s.dev, s.obj->sgt));
	}
	assert_int_equal(s.kept_pages_runs, which == 3);
	if (which == 1)
		gpuvm_gem_shmem_unpin(s.obj);
	else if (which == 0) {
		lock_obj(s.obj);
		gpuvm_gem_shmem_put_pages_locked(s.obj);
		unlock_obj(s.obj);
	}
	put_obj(s.obj);
	done_dev(&s.dev);
}

/* 3 pages + the array */
static void test_shmem_fault_sweep_get_pages(void **state)
{
	sweep_pages(0, 4);
}

static void test_shmem_fault_sweep_pin(void **state)
{
	sweep_pages(1, 4);
}

/* + table, segments, DMA mapping record */
static void test_shmem_fault_sweep_get_pages_sgt(void **state)
{
	sweep_pages(2, 7);
}

/* + the device resource */
static void test_shmem_fault_sweep_sg_table(void **state)
{
	sweep_pages(3, 8);
}

static void test_shmem_pin_unpin(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_gem_shmem_object *obj;

	bound_dev(&dev);
	obj = new_obj(&dev, GPUVM_PAGE_SIZE);
	assert_int_equal(gpuvm_gem_shmem_pin(obj), 0);
	assert_int_equal(obj->pages_pin_count, 1);
	assert_int_equal(obj->pages_use_count, 1);
	assert_int_equal(gpuvm_gem_shmem_pin(obj), 0);
	assert_int_equal(obj->pages_pin_count, 2);
	assert_int_equal(obj->pages_use_count, 1);

	/* A pages user on top of the pins. */
	lock_obj(obj);
	gpuvm_gem_shmem_get_pages_locked(obj);
	unlock_obj(obj);
	assert_int_equal(obj->pages_use_count, 2);

	gpuvm_gem_shmem_unpin(obj);
	gpuvm_gem_shmem_unpin(obj);
	assert_int_equal(obj->pages_pin_count, 0);
	assert_int_equal(obj->pages_use_count, 1);
	gpuvm_gem_shmem_unpin(obj);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_SHMEM_PAGES), 1);
	assert_int_equal(obj->pages_use_count, 1);

	lock_obj(obj);
	gpuvm_gem_shmem_put_pages_locked(obj);
	unlock_obj(obj);
	assert_null(obj->pages);
	put_obj(obj);
	done_dev(&dev);
}

static void test_shmem_locked_helpers_assert_resv(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_gem_shmem_object *obj;

	bound_dev(&dev);
	obj = new_obj(&dev, GPUVM_PAGE_SIZE);
	/* Each helper reports the missing lock (and still does its job). */
	assert_int_equal(gpuvm_gem_shmem_get_pages_locked(obj), 0);
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_LOCK_NOT_HELD),
			       "gpuvm_gem_shmem_get_pages_locked"));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD), 1);
	/* it and the get_pages_locked it calls */
	assert_false(gpuvm_is_err(gpuvm_gem_shmem_get_pages_sgt_locked(obj)));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD), 2);
	assert_int_equal(obj->pages_use_count, 2);
	gpuvm_gem_shmem_free_sgt_locked(obj);
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_LOCK_NOT_HELD),
			       "gpuvm_gem_shmem_free_sgt_locked"));
	gpuvm_gem_shmem_put_pages_locked(obj);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD), 2);
	assert_int_equal(obj->pages_use_count, 1);
	put_obj(obj);
	done_dev(&dev);
}

/* Pins left at the final put: reported, and nothing leaks. */
static void test_shmem_release_reports_leftover_pin(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_gem_shmem_object *obj;

	bound_dev(&dev);
	obj = new_obj(&dev, 2 * GPUVM_PAGE_SIZE);
	gpuvm_gem_shmem_pin(obj);
	gpuvm_gem_shmem_pin(obj);
	put_obj(obj);
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_SHMEM_PAGES),
			       "2 pin(s)"));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_SHMEM_PAGES), 1);
	done_dev(&dev);
}

/* ---- the cached SG table ------------------------------------------------ */

static void test_shmem_get_pages_sgt(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_gem_shmem_object *obj;
	struct gpuvm_sg_table *sgt;
	struct gpuvm_scatterlist *sg;
	unsigned int i;
	size_t bytes = 0, p;

	bound_dev(&dev);
	obj = new_obj(&dev, 3 * GPUVM_PAGE_SIZE);
	sgt = gpuvm_gem_shmem_get_pages_sgt(obj);
	assert_false(gpuvm_is_err(sgt));
	assert_ptr_equal(obj->sgt, sgt);
	assert_int_equal(obj->pages_use_count, 1);
	assert_true(gpuvm_device_dma_is_mapped(&dev, sgt));
	assert_int_equal(gpuvm_device_dma_mappings_gen(&dev, 1), 1);
	assert_int_equal(sgt->nents, sgt->orig_nents);

	/* The segments cover the pages in order. */
	p = 0;
	gpuvm_for_each_sgtable_dma_sg(sgt, sg, i)
	{
		assert_ptr_equal(sg->page_link, obj->pages[p]);
		assert_int_equal(sg->offset, 0);
		assert_int_equal(sg->length % GPUVM_PAGE_SIZE, 0);
		assert_true(gpuvm_sg_dma_address(sg) != 0);
		assert_int_equal(gpuvm_sg_dma_len(sg), sg->length);
		p += sg->length / GPUVM_PAGE_SIZE;
		bytes += sg->length;
	}
	assert_int_equal(bytes, obj->base.size);

	/* Cached: same table, no new reference, no new mapping. */
	assert_ptr_equal(gpuvm_gem_shmem_get_pages_sgt(obj), sgt);
	assert_int_equal(obj->pages_use_count, 1);
	assert_int_equal(gpuvm_device_dma_map_calls(&dev), 1);

	put_obj(obj);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);
	assert_int_equal(gpuvm_device_dma_unmap_calls(&dev), 1);
	done_dev(&dev);
}

/* A table made by the caller from the pages. */
static void test_shmem_get_sg_table(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_gem_shmem_object *obj;
	struct gpuvm_sg_table *sgt;

	bound_dev(&dev);
	obj = new_obj(&dev, GPUVM_PAGE_SIZE);
	assert_int_equal(gpuvm_ptr_err(gpuvm_gem_shmem_get_sg_table(obj)),
			 -EINVAL);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_SHMEM_PAGES), 1);
	gpuvm_gem_shmem_pin(obj);
	sgt = gpuvm_gem_shmem_get_sg_table(obj);
	assert_false(gpuvm_is_err(sgt));
	assert_int_equal(sgt->orig_nents, 1);
	assert_int_equal(sgt->nents, 0);
	assert_ptr_equal(sgt->sgl[0].page_link, obj->pages[0]);
	assert_null(obj->sgt);
	gpuvm_sg_free_table(sgt);
	gpuvm_kfree(sgt);
	gpuvm_gem_shmem_unpin(obj);
	put_obj(obj);
	done_dev(&dev);
}

/*
 * Freeing the table keeps the pages reference it took (the kernel's
 * asymmetry); building it again reuses that reference and the same pages,
 * where the kernel would take a second one that nothing puts.
 */
static void test_shmem_free_sgt_keeps_pages_reference(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_gem_shmem_object *obj;
	struct gpuvm_sg_table *sgt;
	void *page0;

	bound_dev(&dev);
	obj = new_obj(&dev, 2 * GPUVM_PAGE_SIZE);
	sgt = gpuvm_gem_shmem_get_pages_sgt(obj);
	page0 = obj->pages[0];

	lock_obj(obj);
	gpuvm_gem_shmem_free_sgt_locked(obj);
	unlock_obj(obj);
	assert_null(obj->sgt);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);
	assert_int_equal(obj->pages_use_count, 1);
	assert_ptr_equal(obj->pages[0], page0);

	sgt = gpuvm_gem_shmem_get_pages_sgt(obj);
	assert_false(gpuvm_is_err(sgt));
	assert_int_equal(obj->pages_use_count, 1);
	assert_ptr_equal(obj->pages[0], page0);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 1);
	assert_int_equal(gpuvm_device_dma_map_calls(&dev), 2);

	/* A real pages user on top is kept apart from the table's. */
	lock_obj(obj);
	gpuvm_gem_shmem_get_pages_locked(obj);
	gpuvm_gem_shmem_free_sgt_locked(obj);
	gpuvm_gem_shmem_put_pages_locked(obj);
	unlock_obj(obj);
	assert_int_equal(obj->pages_use_count, 1);

	put_obj(obj);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);
	done_dev(&dev);
}

static void test_shmem_free_sgt_twice_warns(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_gem_shmem_object *obj;

	bound_dev(&dev);
	obj = new_obj(&dev, GPUVM_PAGE_SIZE);
	gpuvm_gem_shmem_get_pages_sgt(obj);
	lock_obj(obj);
	gpuvm_gem_shmem_free_sgt_locked(obj);
	gpuvm_gem_shmem_free_sgt_locked(obj);
	unlock_obj(obj);
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_SHMEM_SGT_DOUBLE_FREE), 1);
	assert_int_equal(harness_warnings(GPUVM_RULE_DMA_UNMAP), 0);
	assert_int_equal(gpuvm_device_dma_unmap_calls(&dev), 1);
	put_obj(obj);
	done_dev(&dev);
}

static void test_shmem_get_pages_sgt_unbound_device(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_gem_shmem_object *obj;
	long live;

	gpuvm_device_init(&dev, "dev");
	obj = new_obj(&dev, GPUVM_PAGE_SIZE);
	live = gpuvm_alloc_live();
	assert_int_equal(gpuvm_ptr_err(gpuvm_gem_shmem_get_pages_sgt(obj)),
			 -ENXIO);
	assert_null(obj->sgt);
	assert_null(obj->pages);
	assert_int_equal(obj->pages_use_count, 0);
	assert_int_equal(gpuvm_alloc_live(), live);
	put_obj(obj);
	gpuvm_device_fini(&dev);
}

/*
 * The plain C helper maps the table for as long as the object lives: its
 * mapping outlives the unbind, which the registry reports. This is what
 * the device-resource variant exists to prevent.
 */
static void test_shmem_get_pages_sgt_outlives_unbind(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_gem_shmem_object *obj;

	bound_dev(&dev);
	obj = new_obj(&dev, GPUVM_PAGE_SIZE);
	gpuvm_gem_shmem_get_pages_sgt(obj);
	assert_int_equal(gpuvm_device_unbind(&dev), 0);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DEVICE_DMA_LEAK), 1);
	assert_true(gpuvm_device_dma_is_mapped(&dev, obj->sgt));
	put_obj(obj);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);
	gpuvm_device_fini(&dev);
}

/* An object sharing another reservation (a VM-private buffer). */
static void test_shmem_shared_resv(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_dma_resv vm_resv;
	struct gpuvm_gem_shmem_object *obj;

	bound_dev(&dev);
	gpuvm_dma_resv_init(&vm_resv);
	obj = new_obj(&dev, GPUVM_PAGE_SIZE);
	obj->base.resv = &vm_resv;
	gpuvm_dma_resv_lock(&vm_resv, NULL);
	assert_false(gpuvm_is_err(gpuvm_gem_shmem_get_pages_sgt_locked(obj)));
	gpuvm_dma_resv_unlock(&vm_resv);
	assert_false(gpuvm_dma_resv_is_locked(&obj->resv__));
	put_obj(obj);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);
	gpuvm_dma_resv_fini(&vm_resv);
	done_dev(&dev);
}

/* ---- imported objects --------------------------------------------------- */

static void test_shmem_imported_refuses_pages(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_sg_table exporter = { 0 };
	struct gpuvm_gem_shmem_object *obj;

	bound_dev(&dev);
	obj = gpuvm_gem_shmem_prime_import_sg_table(&dev, GPUVM_PAGE_SIZE,
						    &exporter);
	assert_true(gpuvm_gem_shmem_is_imported(obj));
	assert_int_equal(gpuvm_gem_shmem_pin(obj), -EINVAL);
	lock_obj(obj);
	assert_int_equal(gpuvm_gem_shmem_get_pages_locked(obj), -EINVAL);
	unlock_obj(obj);
	assert_int_equal(gpuvm_ptr_err(gpuvm_gem_shmem_get_sg_table(obj)),
			 -EINVAL);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_SHMEM_IMPORTED), 3);
	assert_null(obj->pages);
	assert_int_equal(obj->pages_use_count, 0);
	/* Release leaves the exporter's table alone. */
	put_obj(obj);
	assert_null(exporter.sgl);
	done_dev(&dev);
}

/* ---- the SG table as a device resource ---------------------------------- */

static void test_shmem_sg_table_left_scope(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b;
	struct gpuvm_gem_shmem_object *obj;

	bound_dev(&dev);
	obj = new_obj(&dev, GPUVM_PAGE_SIZE);
	gpuvm_device_bound_enter(&dev, &b);
	gpuvm_device_bound_exit(&b);
	assert_int_equal(gpuvm_ptr_err(gpuvm_gem_shmem_sg_table(obj, &b)),
			 -ENXIO);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DEVICE_TOKEN), 1);
	assert_null(obj->sgt_res__);
	assert_null(obj->pages);
	put_obj(obj);
	done_dev(&dev);
}

static void test_shmem_sg_table_lifecycle(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b;
	struct gpuvm_gem_shmem_object *obj;
	const struct gpuvm_sg_table *t1, *t2;

	bound_dev(&dev);
	obj = new_obj(&dev, 2 * GPUVM_PAGE_SIZE);
	gpuvm_device_bound_enter(&dev, &b);
	t1 = gpuvm_gem_shmem_sg_table(obj, &b);
	assert_false(gpuvm_is_err(t1));
	assert_ptr_equal(t1, obj->sgt);
	assert_non_null(obj->sgt_res__);
	assert_int_equal(gpuvm_device_devres_count(&dev), 1);
	assert_int_equal(gpuvm_lock_held_count(), 1); /* the scope only */
	t2 = gpuvm_gem_shmem_sg_table(obj, &b);
	assert_ptr_equal(t1, t2);
	gpuvm_device_bound_exit(&b);

	assert_int_equal(gpuvm_device_unbind(&dev), 0);
	assert_null(obj->sgt);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);
	assert_int_equal(obj->pages_use_count, 1);

	/* Unbound: no scope, so no table. */
	assert_int_equal(gpuvm_device_bound_enter(&dev, &b), -ENXIO);

	/* A new binding builds a new mapping of the same pages. */
	gpuvm_device_bind(&dev);
	gpuvm_device_bound_enter(&dev, &b);
	t2 = gpuvm_gem_shmem_sg_table(obj, &b);
	assert_false(gpuvm_is_err(t2));
	assert_int_equal(gpuvm_device_dma_mappings_gen(&dev, 2), 1);
	assert_int_equal(obj->pages_use_count, 1);
	gpuvm_device_bound_exit(&b);

	put_obj(obj);
	assert_int_equal(gpuvm_device_devres_count(&dev), 0);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);
	done_dev(&dev);
}

/*
 * The driver frees the table of the binding's resource behind its back.
 * The next call reports it and builds a new table (reusing the pages
 * reference the freed one kept), which the resource owns: no NULL, and the
 * unbind frees it without a double free.
 */
static void test_shmem_sg_table_after_driver_freed_it(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b;
	struct gpuvm_gem_shmem_object *obj;
	const struct gpuvm_sg_table *t1, *t2;

	bound_dev(&dev);
	obj = new_obj(&dev, 2 * GPUVM_PAGE_SIZE);
	gpuvm_device_bound_enter(&dev, &b);
	t1 = gpuvm_gem_shmem_sg_table(obj, &b);
	assert_false(gpuvm_is_err_or_null(t1));

	lock_obj(obj);
	gpuvm_gem_shmem_free_sgt_locked(obj);
	unlock_obj(obj);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);

	t2 = gpuvm_gem_shmem_sg_table(obj, &b);
	assert_false(gpuvm_is_err_or_null(t2));
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_SHMEM_SGT_DOUBLE_FREE), 1);
	assert_ptr_equal(t2, obj->sgt);
	assert_true(gpuvm_device_dma_is_mapped(&dev, t2));
	assert_int_equal(obj->pages_use_count, 1);
	assert_int_equal(gpuvm_device_devres_count(&dev), 1);
	/* The fast path again, no further report. */
	assert_ptr_equal(gpuvm_gem_shmem_sg_table(obj, &b), t2);
	gpuvm_device_bound_exit(&b);

	/* The resource frees the new table: no double free. */
	assert_int_equal(gpuvm_device_unbind(&dev), 0);
	assert_null(obj->sgt);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);
	assert_int_equal(obj->pages_use_count, 1);

	put_obj(obj);
	done_dev(&dev);
}

/* ---- resv guard --------------------------------------------------------- */

static int guarded_early_return(struct gpuvm_dma_resv *resv, bool early)
{
	gpuvm_dma_resv_guard_scoped(guard, resv);

	if (!gpuvm_dma_resv_is_locked(resv))
		return -1;
	if (early)
		return 1;
	return 2;
}

static void test_shmem_resv_guard(void **state)
{
	struct gpuvm_dma_resv resv;
	struct gpuvm_dma_resv_guard g;

	gpuvm_dma_resv_init(&resv);
	g = gpuvm_dma_resv_guard_lock(&resv);
	assert_true(gpuvm_dma_resv_is_locked(&resv));
	assert_true(gpuvm_dma_resv_held(&resv));
	gpuvm_dma_resv_guard_unlock(&g);
	assert_false(gpuvm_dma_resv_is_locked(&resv));
	assert_null(g.resv);
	gpuvm_dma_resv_guard_unlock(&g); /* once only */
	assert_int_equal(harness_warnings(NULL), 0);

	assert_int_equal(guarded_early_return(&resv, true), 1);
	assert_false(gpuvm_dma_resv_is_locked(&resv));
	assert_int_equal(guarded_early_return(&resv, false), 2);
	assert_false(gpuvm_dma_resv_is_locked(&resv));
	gpuvm_dma_resv_fini(&resv);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		dev_test(test_shmem_create),
		dev_test(test_shmem_fault_sweep_create),
		dev_test(test_shmem_init_embedded),
		dev_test(test_shmem_pages_refcount),
		dev_test(test_shmem_fault_sweep_get_pages),
		dev_test(test_shmem_fault_sweep_pin),
		dev_test(test_shmem_fault_sweep_get_pages_sgt),
		dev_test(test_shmem_fault_sweep_sg_table),
		dev_test(test_shmem_pin_unpin),
		dev_test(test_shmem_locked_helpers_assert_resv),
		dev_test(test_shmem_release_reports_leftover_pin),
		dev_test(test_shmem_get_pages_sgt),
		dev_test(test_shmem_get_sg_table),
		dev_test(test_shmem_free_sgt_keeps_pages_reference),
		dev_test(test_shmem_free_sgt_twice_warns),
		dev_test(test_shmem_get_pages_sgt_unbound_device),
		dev_test(test_shmem_get_pages_sgt_outlives_unbind),
		dev_test(test_shmem_shared_resv),
		dev_test(test_shmem_imported_refuses_pages),
		dev_test(test_shmem_sg_table_left_scope),
		dev_test(test_shmem_sg_table_lifecycle),
		dev_test(test_shmem_sg_table_after_driver_freed_it),
		dev_test(test_shmem_resv_guard),
	};

	return harness_run("gpuvm/shmem", tests, argc, argv);
}
