// SPDX-License-Identifier: MIT
/*
 * The GEM-shmem / Devres scenarios S-SH-01..12: an SG table that is a
 * device resource, mapped while the driver is bound and unmapped at
 * unbind even while the GEM object lives on.
 *
 * Every test checks, besides its own observable, what the fixture checks
 * after each test: no library allocation leaked (the pages are real
 * library memory), the process-wide DMA-mapping registry is back where it
 * started, no lock is held and no warning fired that the test did not
 * expect. Races are put in order with the hook points of device_hooks.h,
 * never with sleeps.
 *
 * The first argument is a test-name filter: `test-shmem-scenarios
 * 'test_S_SH_03*'` runs the unbind/free race alone (registered as its own
 * meson test, cheap to repeat).
 */
#include <errno.h>
#include <string.h>

#include <gpuvm/testing.h>
#include "device_fixture.h"
#include "gpuvm_fixture.h"

/* ---- helpers ------------------------------------------------------------ */

/* A driver object embedding the shmem object; its free callback records
 * when it ran. */
struct drv_obj {
	struct gpuvm_gem_shmem_object shmem;
	int *frees_out; /* survives the object */
};

static void drv_obj_free(struct gpuvm_gem_object *obj)
{
	struct drv_obj *d = gpuvm_container_of(gpuvm_gem_to_shmem(obj),
					       struct drv_obj, shmem);
	int *out = d->frees_out;

	gpuvm_gem_shmem_release(&d->shmem);
	gpuvm_kfree(d);
	if (out)
		__atomic_add_fetch(out, 1, __ATOMIC_ACQ_REL);
}

static const struct gpuvm_gem_object_funcs drv_obj_funcs = {
	.free = drv_obj_free,
};

static struct gpuvm_gem_shmem_object *new_drv_obj(struct gpuvm_device *dev,
						  size_t size, int *frees_out)
{
	struct drv_obj *d = gpuvm_kzalloc(sizeof(*d), GPUVM_GFP_KERNEL);

	assert_non_null(d);
	assert_int_equal(
		gpuvm_gem_shmem_init(dev, &d->shmem, &drv_obj_funcs, size), 0);
	d->frees_out = frees_out;
	return &d->shmem;
}

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

static void bound_dev(struct gpuvm_device *dev, const char *name)
{
	gpuvm_device_init(dev, name);
	assert_int_equal(gpuvm_device_bind(dev), 0);
}

/* sg_table() inside a bound scope of its own. */
static const struct gpuvm_sg_table *
sg_table_once(struct gpuvm_device *dev, struct gpuvm_gem_shmem_object *obj)
{
	struct gpuvm_device_bound b;
	const struct gpuvm_sg_table *sgt;

	assert_int_equal(gpuvm_device_bound_enter(dev, &b), 0);
	sgt = gpuvm_gem_shmem_sg_table(obj, &b);
	gpuvm_device_bound_exit(&b);
	assert_false(gpuvm_is_err(sgt));
	return sgt;
}

struct unbind_thread {
	struct gpuvm_device *dev;
	int ret;
	int done;
};

static void *unbind_main(void *p)
{
	struct unbind_thread *u = p;

	u->ret = gpuvm_device_unbind(u->dev);
	dev_set_flag(&u->done);
	return NULL;
}

struct put_thread {
	struct gpuvm_gem_shmem_object *obj;
	unsigned int seq;
	int done;
};

static void *put_main(void *p)
{
	struct put_thread *t = p;

	put_obj(t->obj);
	t->seq = dev_next_seq();
	dev_set_flag(&t->done);
	return NULL;
}

/* ---- S-SH-01 ------------------------------------------------------------ */

/*
 * Basic: the table is built and mapped once and then returned again; a
 * free while bound drops the device resource (unmapping the table) before
 * the object's release, frees nothing twice and returns the pages; the
 * unbind afterwards finds nothing.
 */
static void test_S_SH_01_basic(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b;
	struct gpuvm_gem_shmem_object *obj;
	const struct gpuvm_sg_table *t1, *t2;
	struct put_thread pt = { 0 };
	long live = gpuvm_alloc_live();
	pthread_t t;

	bound_dev(&dev, "A");
	obj = new_obj(&dev, 4 * GPUVM_PAGE_SIZE);
	assert_int_equal(gpuvm_device_bound_enter(&dev, &b), 0);
	t1 = gpuvm_gem_shmem_sg_table(obj, &b);
	t2 = gpuvm_gem_shmem_sg_table(obj, &b);
	gpuvm_device_bound_exit(&b);
	assert_false(gpuvm_is_err(t1));
	assert_ptr_equal(t1, t2);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 1);
	assert_int_equal(gpuvm_device_dma_map_calls(&dev), 1);
	assert_int_equal(obj->pages_use_count, 1);
	assert_int_equal(gpuvm_device_devres_count(&dev), 1);

	/* Free while bound; stop it right after the resource was dropped. */
	gpuvm_hook_park(GPUVM_HOOK_SHMEM_FREE, GPUVM_HOOK_PARK_ALL);
	pt.obj = obj;
	t = dev_start(put_main, &pt);
	assert_true(gpuvm_hook_wait_hits(GPUVM_HOOK_SHMEM_FREE, 1));
	/* Unmapped and off the device, before the release proper. */
	assert_int_equal(gpuvm_device_devres_count(&dev), 0);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);
	assert_int_equal(gpuvm_device_dma_unmap_calls(&dev), 1);
	assert_null(obj->sgt);
	assert_int_equal(obj->pages_use_count, 1); /* release puts it */
	gpuvm_hook_unpark(GPUVM_HOOK_SHMEM_FREE);
	dev_join(t);

	/* No second unmap, no double free, pages returned. */
	assert_int_equal(gpuvm_device_dma_unmap_calls(&dev), 1);
	assert_int_equal(gpuvm_alloc_live(), live);
	assert_int_equal(gpuvm_device_unbind(&dev), 0);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);
	gpuvm_device_fini(&dev);
}

/* ---- S-SH-02 ------------------------------------------------------------ */

/*
 * Unbind with a live object: the unbind unmaps and frees the table; the
 * object lives on with its pages (the table's pages reference stays); the
 * later free finds the resource revoked, waits for nothing, frees nothing
 * twice, and its release puts the pages.
 */
static void unbind_with_live_object(void)
{
	struct gpuvm_device dev;
	struct gpuvm_gem_shmem_object *obj;
	long live = gpuvm_alloc_live();

	bound_dev(&dev, "A");
	obj = new_obj(&dev, 2 * GPUVM_PAGE_SIZE);
	sg_table_once(&dev, obj);

	assert_int_equal(gpuvm_device_unbind(&dev), 0);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);
	assert_int_equal(gpuvm_device_dma_unmap_calls(&dev), 1);
	assert_int_equal(gpuvm_device_devres_count(&dev), 0);
	assert_int_equal(gpuvm_gem_object_refcount(&obj->base), 1);
	assert_null(obj->sgt);
	assert_non_null(obj->pages);
	assert_int_equal(obj->pages_use_count, 1);
	assert_non_null(obj->sgt_res__);
	assert_null(gpuvm_devres_try_access(obj->sgt_res__));

	gpuvm_hook_count(GPUVM_HOOK_DEVRES_DROP_WAIT);
	put_obj(obj);
	assert_int_equal(gpuvm_hook_hits(GPUVM_HOOK_DEVRES_DROP_WAIT), 0);
	assert_int_equal(gpuvm_device_dma_unmap_calls(&dev), 1);
	assert_int_equal(gpuvm_alloc_live(), live);
	gpuvm_device_fini(&dev);
}

static void test_S_SH_02_unbind_with_live_object(void **state)
{
	unbind_with_live_object();
}

/* ---- S-SH-03 ------------------------------------------------------------ */

/* An owner's data released by a devres, for the old/new comparison. */
struct owned {
	int released; /* atomic */
	int freed; /* atomic: the owner freed it */
	bool used_after_free;
	unsigned int release_seq;
};

static void owned_release(void *data)
{
	struct owned *o = data;

	if (__atomic_load_n(&o->freed, __ATOMIC_ACQUIRE))
		o->used_after_free = true;
	o->release_seq = dev_next_seq();
	__atomic_add_fetch(&o->released, 1, __ATOMIC_ACQ_REL);
}

struct drop_thread {
	struct gpuvm_devres *dr;
	unsigned int seq;
	int done;
};

static void *drop_main(void *p)
{
	struct drop_thread *d = p;

	gpuvm_devres_drop(d->dr);
	d->seq = dev_next_seq();
	dev_set_flag(&d->done);
	return NULL;
}

/* The owner drops its devres while an unbind is releasing it, then frees
 * the data. Return: whether the release touched freed data. */
static bool devres_drop_races_unbind(bool old)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b;
	struct owned o = { 0 };
	struct unbind_thread u = { .dev = &dev };
	struct drop_thread d = { 0 };
	pthread_t tu, td;

	bound_dev(&dev, "A");
	gpuvm_device_bound_enter(&dev, &b);
	d.dr = gpuvm_devres_new(&b, &o, owned_release);
	gpuvm_device_bound_exit(&b);
	gpuvm_devres_set_old_semantics(d.dr, old);

	gpuvm_hook_park(GPUVM_HOOK_DEVRES_RELEASE, GPUVM_HOOK_PARK_ALL);
	tu = dev_start(unbind_main, &u);
	assert_true(gpuvm_hook_wait_hits(GPUVM_HOOK_DEVRES_RELEASE, 1));
	gpuvm_hook_count(GPUVM_HOOK_DEVRES_DROP_WAIT);
	td = dev_start(drop_main, &d);
	if (!old) {
		/* The drop must wait: let it get there first. */
		assert_true(
			gpuvm_hook_wait_hits(GPUVM_HOOK_DEVRES_DROP_WAIT, 1));
		assert_false(dev_flag(&d.done));
		gpuvm_hook_unpark(GPUVM_HOOK_DEVRES_RELEASE);
	}
	dev_join(td);
	/* The drop returned: the owner frees its data now. */
	__atomic_store_n(&o.freed, 1, __ATOMIC_RELEASE);
	gpuvm_hook_unpark(GPUVM_HOOK_DEVRES_RELEASE);
	dev_join(tu);

	assert_int_equal(u.ret, 0);
	assert_int_equal(o.released, 1);
	/* New: released before the drop returned; old: after. */
	if (old)
		assert_true(d.seq < o.release_seq);
	else
		assert_true(o.release_seq < d.seq);
	gpuvm_device_fini(&dev);
	return o.used_after_free;
}

/*
 * Unbind racing the free of the last GEM reference. The unbind is parked
 * inside the table's release (reservation held, table still mapped); the
 * final put on another thread must wait in the devres drop until that
 * release finished, and only then free the object (ASan would flag a use
 * after free otherwise). With the old Devres drop semantics the drop
 * returns at once and the owner frees what the release then uses: the
 * poisoned access is detected.
 */
static void test_S_SH_03_unbind_races_free(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_gem_shmem_object *obj;
	struct unbind_thread u = { .dev = &dev };
	struct put_thread pt = { 0 };
	int frees = 0;
	long live = gpuvm_alloc_live();
	pthread_t tu, tp;

	bound_dev(&dev, "A");
	obj = new_drv_obj(&dev, 2 * GPUVM_PAGE_SIZE, &frees);
	sg_table_once(&dev, obj);

	gpuvm_hook_park(GPUVM_HOOK_SGT_MAP_DROP, GPUVM_HOOK_PARK_ALL);
	tu = dev_start(unbind_main, &u);
	assert_true(gpuvm_hook_wait_hits(GPUVM_HOOK_SGT_MAP_DROP, 1));

	gpuvm_hook_count(GPUVM_HOOK_DEVRES_DROP_WAIT);
	pt.obj = obj;
	tp = dev_start(put_main, &pt);
	assert_true(gpuvm_hook_wait_hits(GPUVM_HOOK_DEVRES_DROP_WAIT, 1));
	/* The free waits; the object is intact and still mapped. */
	assert_false(dev_flag(&pt.done));
	assert_int_equal(__atomic_load_n(&frees, __ATOMIC_ACQUIRE), 0);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 1);
	assert_false(dev_flag(&u.done));

	gpuvm_hook_unpark(GPUVM_HOOK_SGT_MAP_DROP);
	dev_join(tp);
	dev_join(tu);
	assert_int_equal(u.ret, 0);
	assert_int_equal(frees, 1);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);
	assert_int_equal(gpuvm_device_dma_unmap_calls(&dev), 1);
	assert_int_equal(gpuvm_device_devres_count(&dev), 0);
	assert_int_equal(gpuvm_alloc_live(), live);
	gpuvm_device_fini(&dev);

	/* The same race on a bare devres, new and old drop semantics. */
	assert_false(devres_drop_races_unbind(false));
	assert_true(devres_drop_races_unbind(true));
}

/* ---- S-SH-04 ------------------------------------------------------------ */

/* Wrong device: refused twice with nothing cached or mapped; the right
 * device then works. */
static void test_S_SH_04_wrong_device(void **state)
{
	struct gpuvm_device a, b;
	struct gpuvm_device_bound bb, ba;
	struct gpuvm_gem_shmem_object *obj;
	long live;

	bound_dev(&a, "A");
	bound_dev(&b, "B");
	obj = new_obj(&a, GPUVM_PAGE_SIZE);
	live = gpuvm_alloc_live();

	gpuvm_device_bound_enter(&b, &bb);
	assert_int_equal(gpuvm_ptr_err(gpuvm_gem_shmem_sg_table(obj, &bb)),
			 -EINVAL);
	assert_int_equal(gpuvm_ptr_err(gpuvm_gem_shmem_sg_table(obj, &bb)),
			 -EINVAL);
	gpuvm_device_bound_exit(&bb);
	assert_null(obj->sgt_res__);
	assert_null(obj->sgt);
	assert_null(obj->pages);
	assert_int_equal(gpuvm_device_dma_mappings(&a), 0);
	assert_int_equal(gpuvm_device_dma_mappings(&b), 0);
	assert_int_equal(gpuvm_device_devres_count(&a), 0);
	assert_int_equal(gpuvm_device_devres_count(&b), 0);
	assert_int_equal(gpuvm_alloc_live(), live);

	gpuvm_device_bound_enter(&a, &ba);
	assert_false(gpuvm_is_err(gpuvm_gem_shmem_sg_table(obj, &ba)));
	gpuvm_device_bound_exit(&ba);
	assert_int_equal(gpuvm_device_dma_mappings(&a), 1);
	assert_int_equal(gpuvm_device_devres_count(&a), 1);

	/* Unbinding B does not touch A's resource. */
	assert_int_equal(gpuvm_device_unbind(&b), 0);
	assert_int_equal(gpuvm_device_dma_mappings(&a), 1);
	put_obj(obj);
	gpuvm_device_unbind(&a);
	gpuvm_device_fini(&b);
	gpuvm_device_fini(&a);
}

/* ---- S-SH-05 ------------------------------------------------------------ */

#define FIRST_USERS 8

struct first_use {
	struct gpuvm_device *dev;
	struct gpuvm_gem_shmem_object *obj;
	pthread_barrier_t start;
	int calling; /* atomic */
};

struct first_user {
	struct first_use *f;
	const struct gpuvm_sg_table *got;
	int enter_ret;
};

static void *first_user_main(void *p)
{
	struct first_user *u = p;
	struct first_use *f = u->f;
	struct gpuvm_device_bound b;

	u->enter_ret = gpuvm_device_bound_enter(f->dev, &b);
	pthread_barrier_wait(&f->start);
	if (u->enter_ret)
		return NULL;
	__atomic_add_fetch(&f->calling, 1, __ATOMIC_ACQ_REL);
	u->got = gpuvm_gem_shmem_sg_table(f->obj, &b);
	gpuvm_device_bound_exit(&b);
	return NULL;
}

/*
 * First use from 8 threads at once: one thread builds the table under the
 * population lock (held up there until all 8 are calling); everybody gets
 * that table; exactly one table built, one mapping made, one resource
 * registered, one pages reference; no loser unmapped anything.
 */
static void test_S_SH_05_first_use_race(void **state)
{
	struct gpuvm_device dev;
	struct first_use f = { .dev = &dev };
	struct first_user users[FIRST_USERS];
	pthread_t t[FIRST_USERS];
	unsigned int i;

	bound_dev(&dev, "A");
	f.obj = new_obj(&dev, 3 * GPUVM_PAGE_SIZE);
	pthread_barrier_init(&f.start, NULL, FIRST_USERS);

	gpuvm_hook_park(GPUVM_HOOK_SG_TABLE_SLOW, GPUVM_HOOK_PARK_ALL);
	for (i = 0; i < FIRST_USERS; i++) {
		users[i] = (struct first_user){ .f = &f };
		t[i] = dev_start(first_user_main, &users[i]);
	}
	assert_true(gpuvm_hook_wait_hits(GPUVM_HOOK_SG_TABLE_SLOW, 1));
	while (__atomic_load_n(&f.calling, __ATOMIC_ACQUIRE) < FIRST_USERS)
		sched_yield();
	/*
	 * One is populating, seven are calling: nothing published yet, and
	 * only one thread got into the population (the others are kept out
	 * by the population lock, or have not come that far).
	 */
	assert_null(gpuvm_rcu_dereference(f.obj->sgt_res__));
	assert_int_equal(gpuvm_hook_hits(GPUVM_HOOK_SG_TABLE_SLOW), 1);
	gpuvm_hook_unpark(GPUVM_HOOK_SG_TABLE_SLOW);
	for (i = 0; i < FIRST_USERS; i++)
		dev_join(t[i]);
	pthread_barrier_destroy(&f.start);

	for (i = 0; i < FIRST_USERS; i++) {
		assert_int_equal(users[i].enter_ret, 0);
		assert_false(gpuvm_is_err(users[i].got));
		assert_ptr_equal(users[i].got, users[0].got);
	}
	assert_ptr_equal(users[0].got, f.obj->sgt);
	assert_int_equal(gpuvm_device_dma_map_calls(&dev), 1);
	assert_int_equal(gpuvm_device_dma_unmap_calls(&dev), 0);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 1);
	assert_int_equal(gpuvm_device_devres_count(&dev), 1);
	assert_int_equal(f.obj->pages_use_count, 1);

	put_obj(f.obj);
	gpuvm_device_unbind(&dev);
	gpuvm_device_fini(&dev);
}

/* ---- S-SH-06 ------------------------------------------------------------ */

/*
 * Free-order regression (SH-C-01): releasing the table and pages before
 * dropping the resource makes the resource's release free the table a
 * second time. Detected and refused: one report, one unmap only.
 */
static void test_S_SH_06_free_order_regression(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_gem_shmem_object *obj;
	long live = gpuvm_alloc_live();

	bound_dev(&dev, "A");
	obj = new_obj(&dev, GPUVM_PAGE_SIZE);
	sg_table_once(&dev, obj);

	gpuvm_gem_shmem_set_release_first(true);
	put_obj(obj);
	gpuvm_gem_shmem_set_release_first(false);

	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_SHMEM_SGT_DOUBLE_FREE), 1);
	assert_int_equal(harness_warnings(GPUVM_RULE_DMA_UNMAP), 0);
	assert_int_equal(gpuvm_device_dma_unmap_calls(&dev), 1);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);
	assert_int_equal(gpuvm_device_devres_count(&dev), 0);
	assert_int_equal(gpuvm_alloc_live(), live);
	gpuvm_device_unbind(&dev);
	gpuvm_device_fini(&dev);
}

/* ---- S-SH-07 ------------------------------------------------------------ */

/*
 * Imported object: its table belongs to the exporter. The kernel's
 * helper returns that table (cached before the import check), so the Rust
 * sg_table() would register it as a device resource and free it at
 * unbind: the exporter's table freed behind its back. Hardened: refused
 * with -EINVAL, nothing cached; the table freeing helper refuses too.
 */
static void test_S_SH_07_imported_object(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b;
	struct gpuvm_sg_table exporter;
	struct gpuvm_gem_shmem_object *obj;
	char page[GPUVM_PAGE_SIZE];

	bound_dev(&dev, "A");
	/* The exporter's table, mapped by the exporter. */
	gpuvm_sg_alloc_table(&exporter, 1);
	exporter.sgl[0].page_link = page;
	exporter.sgl[0].length = GPUVM_PAGE_SIZE;
	gpuvm_dma_map_sgtable(&dev, &exporter, GPUVM_DMA_BIDIRECTIONAL, 0);

	obj = gpuvm_gem_shmem_prime_import_sg_table(&dev, GPUVM_PAGE_SIZE,
						    &exporter);
	assert_false(gpuvm_is_err(obj));

	gpuvm_device_bound_enter(&dev, &b);
	assert_int_equal(gpuvm_ptr_err(gpuvm_gem_shmem_sg_table(obj, &b)),
			 -EINVAL);
	assert_int_equal(gpuvm_ptr_err(gpuvm_gem_shmem_sg_table(obj, &b)),
			 -EINVAL);
	gpuvm_device_bound_exit(&b);
	assert_null(obj->sgt_res__);
	assert_int_equal(gpuvm_device_devres_count(&dev), 0);

	/* The hazard, documented: the C helper hands out the exporter's
	 * table... */
	assert_ptr_equal(gpuvm_gem_shmem_get_pages_sgt(obj), &exporter);
	/* ...and its free helper would free it; here it refuses. */
	gpuvm_dma_resv_lock(obj->base.resv, NULL);
	gpuvm_gem_shmem_free_sgt_locked(obj);
	gpuvm_dma_resv_unlock(obj->base.resv);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_SHMEM_IMPORTED), 1);
	assert_ptr_equal(obj->sgt, &exporter);
	assert_true(gpuvm_device_dma_is_mapped(&dev, &exporter));
	assert_non_null(exporter.sgl);

	/* Free and unbind leave the exporter's table alone. */
	put_obj(obj);
	assert_true(gpuvm_device_dma_is_mapped(&dev, &exporter));
	gpuvm_dma_unmap_sgtable(&dev, &exporter, GPUVM_DMA_BIDIRECTIONAL, 0);
	gpuvm_sg_free_table(&exporter);
	assert_int_equal(gpuvm_device_unbind(&dev), 0);
	gpuvm_device_fini(&dev);
}

/* ---- S-SH-08 ------------------------------------------------------------ */

/*
 * The resource's allocation fails after the table was built and mapped
 * (the pages pinned by its reference): the table is unmapped and freed by
 * the resource's release, nothing is cached, the pages reference stays
 * (as in the kernel); the retry succeeds with the same pages, without a
 * second reference.
 */
static void test_S_SH_08_devres_alloc_failure(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b;
	struct gpuvm_gem_shmem_object *obj;
	const struct gpuvm_sg_table *sgt;
	void *pages[2];

	bound_dev(&dev, "A");
	obj = new_obj(&dev, 2 * GPUVM_PAGE_SIZE);
	gpuvm_device_bound_enter(&dev, &b);

	/* page array, 2 pages, table, segments, mapping record: 6; then
	 * the resource. */
	gpuvm_alloc_fail_nth(7);
	sgt = gpuvm_gem_shmem_sg_table(obj, &b);
	assert_true(gpuvm_alloc_fault_fired());
	assert_int_equal(gpuvm_ptr_err(sgt), -ENOMEM);
	assert_int_equal(gpuvm_device_dma_map_calls(&dev), 1);
	assert_int_equal(gpuvm_device_dma_unmap_calls(&dev), 1);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);
	assert_null(obj->sgt);
	assert_null(obj->sgt_res__);
	assert_int_equal(gpuvm_device_devres_count(&dev), 0);
	assert_non_null(obj->pages);
	assert_int_equal(obj->pages_use_count, 1);
	pages[0] = obj->pages[0];
	pages[1] = obj->pages[1];

	sgt = gpuvm_gem_shmem_sg_table(obj, &b);
	assert_false(gpuvm_is_err(sgt));
	assert_ptr_equal(obj->pages[0], pages[0]);
	assert_ptr_equal(obj->pages[1], pages[1]);
	assert_int_equal(obj->pages_use_count, 1);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 1);
	assert_int_equal(gpuvm_device_devres_count(&dev), 1);
	gpuvm_device_bound_exit(&b);

	put_obj(obj);
	gpuvm_device_unbind(&dev);
	gpuvm_device_fini(&dev);
}

/* ---- S-SH-09 ------------------------------------------------------------ */

/*
 * Stale resource across a rebind of the same device. In the kernel the
 * device check passes, the populated SetOnce is returned and access()
 * hands out the map the first unbind dropped. Here (strict) the old
 * resource is refused and sg_table() builds a new mapping for the new
 * binding.
 */
static void test_S_SH_09_stale_devres_across_rebind(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b;
	struct gpuvm_gem_shmem_object *obj;
	const struct gpuvm_sg_table *sgt;
	struct gpuvm_devres *stale;

	bound_dev(&dev, "A");
	obj = new_obj(&dev, GPUVM_PAGE_SIZE);
	sg_table_once(&dev, obj);
	stale = obj->sgt_res__;
	assert_int_equal(gpuvm_devres_generation(stale), 1);
	gpuvm_device_unbind(&dev);
	assert_int_equal(gpuvm_device_bind(&dev), 0);

	gpuvm_device_bound_enter(&dev, &b);
	assert_int_equal(b.generation, 2);
	assert_int_equal(gpuvm_ptr_err(gpuvm_devres_access(stale, &b)), -ENXIO);
	assert_null(obj->sgt); /* what the kernel would wrap: freed */

	sgt = gpuvm_gem_shmem_sg_table(obj, &b);
	assert_false(gpuvm_is_err(sgt));
	assert_ptr_equal(sgt, obj->sgt);
	assert_int_equal(gpuvm_devres_generation(obj->sgt_res__), 2);
	assert_ptr_equal(gpuvm_devres_access(obj->sgt_res__, &b), obj);
	assert_int_equal(gpuvm_device_dma_mappings_gen(&dev, 1), 0);
	assert_int_equal(gpuvm_device_dma_mappings_gen(&dev, 2), 1);
	assert_int_equal(gpuvm_device_devres_count(&dev), 1);
	assert_int_equal(obj->pages_use_count, 1);
	assert_ptr_equal(gpuvm_gem_shmem_sg_table(obj, &b), sgt);
	gpuvm_device_bound_exit(&b);

	gpuvm_device_unbind(&dev);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);
	put_obj(obj);
	gpuvm_device_fini(&dev);
}

/* ---- S-SH-10 ------------------------------------------------------------ */

static void *guard_unlock_main(void *p)
{
	gpuvm_dma_resv_guard_unlock(p);
	return NULL;
}

/* Guard ownership: a guard moved to another thread cannot unlock there
 * (what the Rust guard's NotThreadSafe marker prevents at compile time). */
static void test_S_SH_10_guard_ownership(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_gem_shmem_object *obj;
	struct gpuvm_dma_resv_guard g;

	gpuvm_device_init(&dev, "A");
	obj = new_obj(&dev, GPUVM_PAGE_SIZE);
	g = gpuvm_dma_resv_guard_lock(obj->base.resv);
	dev_join(dev_start(guard_unlock_main, &g));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_RESV_GUARD_THREAD),
			 1);
	assert_true(gpuvm_dma_resv_is_locked(obj->base.resv));
	assert_true(gpuvm_dma_resv_held(obj->base.resv));
	assert_ptr_equal(g.resv, obj->base.resv);

	gpuvm_dma_resv_guard_unlock(&g);
	assert_false(gpuvm_dma_resv_is_locked(obj->base.resv));
	put_obj(obj);
	gpuvm_device_fini(&dev);
}

/* ---- S-SH-11 ------------------------------------------------------------ */

/*
 * Lock order. S-SH-02 under the debug checker reports nothing; what it
 * taught the checker is that the reservation is taken under the device's
 * unbind (device -> resv). A path that holds a reservation while waiting
 * for an unbind would close the cycle: it is reported.
 */
static void test_S_SH_11_lock_order(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_dma_resv resv;
	const char *msg;

	unbind_with_live_object();
	assert_int_equal(harness_warnings(NULL), 0);

	bound_dev(&dev, "B");
	gpuvm_dma_resv_init(&resv);
	gpuvm_dma_resv_lock(&resv, NULL);
	assert_int_equal(gpuvm_device_unbind(&dev), 0);
	gpuvm_dma_resv_unlock(&resv);
	msg = harness_last_warning(GPUVM_RULE_LOCK_ORDER);
	assert_non_null(strstr(msg, "'gpuvm_device'"));
	assert_non_null(strstr(msg, "'reservation_ww_class_mutex'"));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_ORDER), 1);
	gpuvm_dma_resv_fini(&resv);
	gpuvm_device_fini(&dev);
}

/* ---- S-SH-12 ------------------------------------------------------------ */

struct step_ctx {
	const struct gpuvm_device_bound *bound;
	const struct gpuvm_sg_table *got;
	unsigned int calls;
};

/* A driver's sm_step_map that needs the DMA addresses of the object. */
static int step_map_sg_table(struct gpuva_op *op, void *priv)
{
	struct step_ctx *c = priv;

	c->calls++;
	c->got = gpuvm_gem_shmem_sg_table(gpuvm_gem_to_shmem(op->map.gem.obj),
					  c->bound);
	return gpuvm_ptr_err_or_zero(c->got);
}

static int map_in_signalling(struct fx_vm *fx, struct step_ctx *c,
			     struct gpuvm_gem_shmem_object *obj)
{
	struct gpuvm_map_req req = { 0 };
	bool cookie;
	int ret;

	req.map.va.addr = 0;
	req.map.va.range = obj->base.size;
	req.map.gem.obj = &obj->base;
	cookie = gpuvm_dma_fence_begin_signalling();
	ret = gpuvm_sm_map(&fx->base, c, &req);
	gpuvm_dma_fence_end_signalling(cookie);
	return ret;
}

/*
 * First use of the table inside a fence signalling section (from a
 * GPUVM sm_step_map): the allocations and the reservation lock are
 * reported. Prefetched before the section, the in-section call is the
 * lock-free fast path and nothing is reported.
 */
static void test_S_SH_12_signalling_section(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b;
	struct gpuvm_gem_shmem_object *cold, *warm;
	const struct gpuvm_sg_table *prefetched;
	struct step_ctx c = { .bound = &b };
	struct fx_vm *fx;

	bound_dev(&dev, "A");
	fx = fx_vm_create(GPUVM_IMMEDIATE_MODE, 0, 1ull << 20, 0, 0);
	fx->ops.sm_step_map = step_map_sg_table;
	cold = new_obj(&dev, 2 * GPUVM_PAGE_SIZE);
	warm = new_obj(&dev, 2 * GPUVM_PAGE_SIZE);
	gpuvm_device_bound_enter(&dev, &b);

	assert_int_equal(map_in_signalling(fx, &c, cold), 0);
	assert_int_equal(c.calls, 1);
	assert_false(gpuvm_is_err(c.got));
	/* page array, 2 pages, table, segments, mapping record, resource */
	assert_int_equal(harness_take_warnings(GPUVM_RULE_SIGNALLING_ALLOC), 7);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_SIGNALLING_RESV), 1);
	/* The table's own lock, taken inside the section, is held across
	 * those allocations: reclaim could wait on a fence that needs it. */
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_SIGNALLING_LOCK_ALLOC), 7);
	/* Forget that misuse: from now on the table lock counts as taken in
	 * signalling sections, and every later slow path would be flagged. */
	gpuvm_lockdep_reset();

	prefetched = gpuvm_gem_shmem_sg_table(warm, &b);
	assert_false(gpuvm_is_err(prefetched));
	gpuvm_hook_count(GPUVM_HOOK_SG_TABLE_SLOW);
	c.calls = 0;
	assert_int_equal(map_in_signalling(fx, &c, warm), 0);
	assert_int_equal(c.calls, 1);
	assert_ptr_equal(c.got, prefetched);
	assert_int_equal(gpuvm_hook_hits(GPUVM_HOOK_SG_TABLE_SLOW), 0);
	assert_int_equal(harness_warnings(NULL), 0);

	gpuvm_device_bound_exit(&b);
	put_obj(cold);
	put_obj(warm);
	fx_vm_destroy(fx);
	gpuvm_device_unbind(&dev);
	gpuvm_device_fini(&dev);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		dev_test(test_S_SH_01_basic),
		dev_test(test_S_SH_02_unbind_with_live_object),
		dev_test(test_S_SH_03_unbind_races_free),
		dev_test(test_S_SH_04_wrong_device),
		dev_test(test_S_SH_05_first_use_race),
		dev_test(test_S_SH_06_free_order_regression),
		dev_test(test_S_SH_07_imported_object),
		dev_test(test_S_SH_08_devres_alloc_failure),
		dev_test(test_S_SH_09_stale_devres_across_rebind),
		dev_test(test_S_SH_10_guard_ownership),
		dev_test(test_S_SH_12_signalling_section),
		/* Last: it teaches the checker an inverted order on purpose. */
		dev_test(test_S_SH_11_lock_order),
	};

	return harness_run("gpuvm/shmem-scenarios", tests, argc, argv);
}
