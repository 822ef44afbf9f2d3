// SPDX-License-Identifier: MIT
/*
 * Explored: a device unbind racing the shmem SG table and its object.
 *
 * unbind-sg-table: a bound device and one shmem object of it. Thread 0
 * enters a bound scope and gets the object's SG table twice (the first
 * call builds, maps and registers it as a device resource; the second
 * takes the lock-free fast path), reading its DMA addresses each time;
 * thread 1 unbinds the device; thread 2 drops the object's reference.
 * Thread 0 holds a reference of its own, dropped after its scope, so the
 * last put (and with it the free path, which drops the SG-table resource
 * and waits for an unbind that is releasing it) is on thread 2 or 0,
 * whichever comes last.
 *
 * The object's memory is not freed by its free callback: the callback
 * releases the object (gpuvm_gem_shmem_release()) and then poisons the
 * wrapper's magic and the reference count, keeping the memory until
 * teardown. A release of the SG-table resource that runs after the free
 * (the old Devres drop: the free path's drop returns while the unbind has
 * revoked the resource but not yet released it) is caught where the
 * unbind reaches the release (hook points "devres:release:before_drop"
 * and "sgt_map:drop:locked"): with the library's own poisoning the
 * object's memory would hold GPUVM_POISON_FREE there and the release
 * would dereference the poisoned reservation pointer (a crash, not a
 * report).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <gpuvm/device.h>
#include <gpuvm/shmem.h>
#include <gpuvm/testing.h>

#include "xt_common.h"

#define OBJ_PAGES 2
#define OBJ_MAGIC 0x78745f736d656d31ull /* "xt_smem1" */
#define OBJ_POISON 0xa5a5a5a5a5a5a5a5ull /* GPUVM_POISON_FREE bytes */

/* A driver object embedding the shmem object; its memory is a grave. */
struct xt_obj {
	struct gpuvm_gem_shmem_object shmem;
	uint64_t magic; /* OBJ_MAGIC while alive, OBJ_POISON once freed */
	int frees;
};

struct sgt_state {
	struct gpuvm_device dev;
	struct xt_obj *obj;
	uint64_t gen; /* the binding the threads race on */
	bool old_drop; /* knob devres-old-drop */
	/* thread 0 */
	bool entered;
	const struct gpuvm_sg_table *got;
};

static struct sgt_state ss;

static bool obj_freed(const struct xt_obj *o)
{
	return __atomic_load_n(&o->magic, __ATOMIC_ACQUIRE) != OBJ_MAGIC;
}

static void xt_obj_free(struct gpuvm_gem_object *gem)
{
	struct xt_obj *o = gpuvm_container_of(gpuvm_gem_to_shmem(gem),
					      struct xt_obj, shmem);

	XP_CHECK(!obj_freed(o), "the object is freed a second time");
	gpuvm_gem_shmem_release(&o->shmem);
	/* The free poisons; the memory stays until teardown. */
	o->frees++;
	__atomic_store_n(&o->shmem.base.refcount, GPUVM_POISON_INT,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&o->magic, OBJ_POISON, __ATOMIC_RELEASE);
}

static const struct gpuvm_gem_object_funcs xt_obj_funcs = {
	.free = xt_obj_free,
};

/* On the unbinding thread, before (and inside) the SG-table resource's
 * release: the object it releases must still be alive. */
static void release_hook(const char *name, void *arg)
{
	struct sgt_state *s = arg;

	XP_CHECK(!obj_freed(s->obj),
		 "use after free: the unbind reaches the SG-table resource's "
		 "release (%s) after the object was freed",
		 name);
}

static void *sgt_setup(void)
{
	struct xt_obj *o;
	int ret;

	xt_begin();
	memset(&ss, 0, sizeof(ss));
	gpuvm_device_init(&ss.dev, "xt-dev");
	ret = gpuvm_device_bind(&ss.dev);
	XP_CHECK(!ret, "bind failed: %d", ret);
	ss.gen = gpuvm_device_generation(&ss.dev);
	ss.old_drop = xt_knob("devres-old-drop");

	o = gpuvm_kzalloc(sizeof(*o), GPUVM_GFP_KERNEL);
	XP_CHECK(o, "out of memory");
	ret = gpuvm_gem_shmem_init(&ss.dev, &o->shmem, &xt_obj_funcs,
				   OBJ_PAGES * GPUVM_PAGE_SIZE);
	XP_CHECK(!ret, "gpuvm_gem_shmem_init failed: %d", ret);
	o->magic = OBJ_MAGIC;
	ss.obj = o;
	/* Thread 2's reference is the creator's; thread 0 gets its own. */
	gpuvm_gem_object_get(&o->shmem.base);

	gpuvm_hook_set_callback(GPUVM_HOOK_DEVRES_RELEASE, release_hook, &ss);
	gpuvm_hook_set_callback(GPUVM_HOOK_SGT_MAP_DROP, release_hook, &ss);
	return &ss;
}

/* The table as a reader inside a bound scope must see it: mapped for the
 * device, every segment with a device address. Returns the first one. */
static uint64_t check_mapped(struct sgt_state *s,
			     const struct gpuvm_sg_table *sgt, const char *use)
{
	const struct gpuvm_scatterlist *sg;
	unsigned int i;

	XP_CHECK(sgt->nents && sgt->nents == sgt->orig_nents,
		 "%s use: table %p has %u of %u segments mapped", use,
		 (const void *)sgt, sgt->nents, sgt->orig_nents);
	XP_CHECK(gpuvm_device_dma_is_mapped(&s->dev, sgt),
		 "%s use: table %p is not in the device's DMA registry", use,
		 (const void *)sgt);
	gpuvm_for_each_sgtable_dma_sg(sgt, sg, i)
	{
		XP_CHECK(gpuvm_sg_dma_address(sg) != 0,
			 "%s use: segment %u has no DMA address", use, i);
		XP_CHECK(gpuvm_sg_dma_len(sg) == sg->length,
			 "%s use: segment %u maps %u of %u bytes", use, i,
			 gpuvm_sg_dma_len(sg), sg->length);
	}
	return sgt->nents ? gpuvm_sg_dma_address(sgt->sgl) : 0;
}

static void sgt_reader(struct sgt_state *s)
{
	struct gpuvm_gem_shmem_object *shmem = &s->obj->shmem;
	const struct gpuvm_sg_table *t1, *t2;
	struct gpuvm_device_bound b;
	uint64_t a1, a2;

	if (gpuvm_device_bound_enter(&s->dev, &b))
		goto put; /* the unbind started first */
	s->entered = true;
	XP_CHECK(b.generation == s->gen, "scope of binding %llu, not %llu",
		 (unsigned long long)b.generation, (unsigned long long)s->gen);

	t1 = gpuvm_gem_shmem_sg_table(shmem, &b);
	XP_CHECK(!gpuvm_is_err_or_null(t1), "first use failed: %ld",
		 gpuvm_is_err(t1) ? gpuvm_ptr_err(t1) : 0L);
	if (gpuvm_is_err_or_null(t1))
		goto exit;
	s->got = t1;
	/* The resource of this binding exists now and cannot be dropped
	 * before this thread's reference is. */
	if (s->old_drop)
		gpuvm_devres_set_old_semantics(
			__atomic_load_n(&shmem->sgt_res__, __ATOMIC_ACQUIRE),
			true);
	a1 = check_mapped(s, t1, "first");

	/* Let the others run between the two uses. */
	gpuvm_hook("xt:sgt:between_uses");

	t2 = gpuvm_gem_shmem_sg_table(shmem, &b);
	XP_CHECK(t2 == t1, "second use returned %p, the first %p",
		 (const void *)t2, (const void *)t1);
	if (t2 == t1) {
		a2 = check_mapped(s, t2, "second");
		XP_CHECK(a2 == a1,
			 "the DMA address changed within the scope: %#llx, "
			 "then %#llx",
			 (unsigned long long)a1, (unsigned long long)a2);
	}
exit:
	gpuvm_device_bound_exit(&b);
put:
	gpuvm_gem_object_put(&shmem->base);
}

static void sgt_unbinder(struct sgt_state *s)
{
	unsigned long live;
	int ret;

	ret = gpuvm_device_unbind(&s->dev);
	XP_CHECK(!ret, "unbind returned %d", ret);
	live = gpuvm_device_dma_mappings_gen(&s->dev, s->gen);
	XP_CHECK(!live, "%lu DMA mapping(s) of the binding survive the unbind",
		 live);
	XP_CHECK(!gpuvm_device_devres_count(&s->dev),
		 "%lu device resource(s) survive the unbind",
		 gpuvm_device_devres_count(&s->dev));
}

static void sgt_thread(unsigned int i, void *arg)
{
	struct sgt_state *s = arg;

	switch (i) {
	case 0:
		sgt_reader(s);
		break;
	case 1:
		sgt_unbinder(s);
		break;
	case 2:
		gpuvm_gem_object_put(&s->obj->shmem.base);
		break;
	}
}

static void sgt_check(void *arg)
{
	struct sgt_state *s = arg;
	unsigned long maps = gpuvm_device_dma_map_calls(&s->dev);
	unsigned long unmaps = gpuvm_device_dma_unmap_calls(&s->dev);

	XP_CHECK(s->obj->frees == 1, "the object was freed %d time(s)",
		 s->obj->frees);
	XP_CHECK(!gpuvm_device_is_bound(&s->dev), "the device is still bound");
	XP_CHECK(!gpuvm_device_dma_mappings(&s->dev),
		 "%lu DMA mapping(s) live at the end",
		 gpuvm_device_dma_mappings(&s->dev));
	XP_CHECK(maps == (s->entered ? 1 : 0),
		 "%lu DMA map call(s), the reader %s its scope", maps,
		 s->entered ? "entered" : "never entered");
	XP_CHECK(!s->entered || s->got, "the reader got no table");
	XP_CHECK(unmaps == maps, "%lu map call(s) but %lu unmap call(s)", maps,
		 unmaps);
	XP_CHECK(!gpuvm_device_devres_count(&s->dev),
		 "%lu device resource(s) left",
		 gpuvm_device_devres_count(&s->dev));
}

static void sgt_teardown(void *arg)
{
	struct sgt_state *s = arg;

	gpuvm_hook_release(GPUVM_HOOK_DEVRES_RELEASE);
	gpuvm_hook_release(GPUVM_HOOK_SGT_MAP_DROP);
	gpuvm_device_fini(&s->dev);
	gpuvm_kfree(s->obj);
	xt_end();
}

static const struct xp_test unbind_sg_table = {
	.name = "unbind-sg-table",
	.doc = "shmem SG table first and fast use vs device unbind vs the "
	       "object's last put",
	.nr_threads = 3,
	.setup = sgt_setup,
	.thread = sgt_thread,
	.check = sgt_check,
	.teardown = sgt_teardown,
};
XT_REGISTER(unbind_sg_table)

/*
 * devres-drop-unbind: the Devres contract alone, on a bare device
 * resource. Thread 0 owns the handle: it reads the data through
 * gpuvm_devres_try_access() (an RCU read-side section, with a scheduling
 * point inside it), drops the handle and then frees (poisons) the data,
 * as an owner may once the drop returned. Thread 1 unbinds: it revokes,
 * waits for the grace period (so for thread 0's section) and releases,
 * unless the drop won. Checks: a reader inside its section sees data not
 * yet released; the drop returns only after the release (new semantics;
 * knob devres-old-drop gives the handle the old ones); the unbind returns
 * with the data released; the release never runs on freed data; exactly
 * one release.
 */
#define DATA_MAGIC 0x78745f6f776e6564ull /* "xt_owned" */

struct owned {
	uint64_t magic; /* DATA_MAGIC while the owner keeps it */
	int released;
};

struct drop_state {
	struct gpuvm_device dev;
	struct gpuvm_devres *dr;
	struct owned data;
};

static struct drop_state ds;

static void owned_release(void *arg)
{
	struct owned *o = arg;

	XP_CHECK(__atomic_load_n(&o->magic, __ATOMIC_ACQUIRE) == DATA_MAGIC,
		 "use after free: the devres release runs after the owner "
		 "freed the data");
	__atomic_add_fetch(&o->released, 1, __ATOMIC_ACQ_REL);
}

static int released(struct owned *o)
{
	return __atomic_load_n(&o->released, __ATOMIC_ACQUIRE);
}

static void *drop_setup(void)
{
	struct gpuvm_device_bound b;
	int ret;

	xt_begin();
	memset(&ds, 0, sizeof(ds));
	ds.data.magic = DATA_MAGIC;
	gpuvm_device_init(&ds.dev, "xt-dev");
	ret = gpuvm_device_bind(&ds.dev);
	XP_CHECK(!ret, "bind failed: %d", ret);
	ret = gpuvm_device_bound_enter(&ds.dev, &b);
	XP_CHECK(!ret, "bound_enter failed: %d", ret);
	ds.dr = gpuvm_devres_new(&b, &ds.data, owned_release);
	gpuvm_device_bound_exit(&b);
	XP_CHECK(!gpuvm_is_err_or_null(ds.dr), "gpuvm_devres_new failed");
	if (xt_knob("devres-old-drop"))
		gpuvm_devres_set_old_semantics(ds.dr, true);
	return &ds;
}

static void drop_owner(struct drop_state *s)
{
	struct owned *o = gpuvm_devres_try_access(s->dr);

	if (o) {
		XP_CHECK(o == &s->data, "try_access returned %p", (void *)o);
		XP_CHECK(!released(o), "a reader sees released data");
		/* Let the unbind run while this section is open. */
		gpuvm_hook("xt:devres:reading");
		XP_CHECK(!released(o),
			 "the data was released inside a read-side section");
		gpuvm_devres_end_access(s->dr);
	}
	gpuvm_devres_drop(s->dr);
	XP_CHECK(released(&s->data) == 1,
		 "the drop returned with the data released %d time(s)",
		 released(&s->data));
	/* The owner frees its data now. */
	__atomic_store_n(&s->data.magic, OBJ_POISON, __ATOMIC_RELEASE);
}

static void drop_thread(unsigned int i, void *arg)
{
	struct drop_state *s = arg;
	int ret;

	if (i == 0) {
		drop_owner(s);
		return;
	}
	ret = gpuvm_device_unbind(&s->dev);
	XP_CHECK(!ret, "unbind returned %d", ret);
	XP_CHECK(released(&s->data) == 1,
		 "the unbind returned with the data released %d time(s)",
		 released(&s->data));
	XP_CHECK(!gpuvm_device_devres_count(&s->dev),
		 "%lu device resource(s) survive the unbind",
		 gpuvm_device_devres_count(&s->dev));
}

static void drop_check(void *arg)
{
	struct drop_state *s = arg;

	XP_CHECK(released(&s->data) == 1, "the data was released %d time(s)",
		 released(&s->data));
	XP_CHECK(!gpuvm_device_is_bound(&s->dev), "the device is still bound");
}

static void drop_teardown(void *arg)
{
	struct drop_state *s = arg;

	gpuvm_device_fini(&s->dev);
	xt_end();
}

static const struct xp_test devres_drop_unbind = {
	.name = "devres-drop-unbind",
	.doc = "devres owner (RCU reader, drop, free) vs device unbind",
	.nr_threads = 2,
	.setup = drop_setup,
	.thread = drop_thread,
	.check = drop_check,
	.teardown = drop_teardown,
};
XT_REGISTER(devres_drop_unbind)

/* ---- two unbinds ---------------------------------------------------------- */

/*
 * Two threads unbind the same device while its one resource is released:
 * the later unbind waits for the earlier (their serialisation goes through
 * the explorer) and then finds the device unbound. Exactly one returns 0,
 * the other -ENXIO, and the resource is released once.
 */
struct unbind2_state {
	struct gpuvm_device dev;
	struct gpuvm_devres *dr;
	struct owned data;
	int ret[2];
};

static struct unbind2_state u2;

static void *unbind2_setup(void)
{
	struct gpuvm_device_bound b;

	xt_begin();
	memset(&u2, 0, sizeof(u2));
	u2.data.magic = DATA_MAGIC;
	gpuvm_device_init(&u2.dev, "xt-dev2");
	XP_CHECK(!gpuvm_device_bind(&u2.dev), "bind failed");
	XP_CHECK(!gpuvm_device_bound_enter(&u2.dev, &b), "bound_enter failed");
	u2.dr = gpuvm_devres_new(&b, &u2.data, owned_release);
	gpuvm_device_bound_exit(&b);
	XP_CHECK(!gpuvm_is_err_or_null(u2.dr), "gpuvm_devres_new failed");
	return &u2;
}

static void unbind2_thread(unsigned int i, void *arg)
{
	struct unbind2_state *s = arg;

	s->ret[i] = gpuvm_device_unbind(&s->dev);
}

static void unbind2_check(void *arg)
{
	struct unbind2_state *s = arg;

	XP_CHECK((s->ret[0] == 0 && s->ret[1] == -ENXIO) ||
			 (s->ret[0] == -ENXIO && s->ret[1] == 0),
		 "unbinds returned %d and %d", s->ret[0], s->ret[1]);
	XP_CHECK(released(&s->data) == 1, "released %d time(s)",
		 released(&s->data));
}

static void unbind2_teardown(void *arg)
{
	struct unbind2_state *s = arg;

	gpuvm_devres_drop(s->dr); /* the owner's handle, released already */
	gpuvm_device_fini(&s->dev);
	xt_end();
}

static const struct xp_test double_unbind = {
	.name = "double-unbind",
	.doc = "two unbinds of one device with a resource to release",
	.nr_threads = 2,
	.setup = unbind2_setup,
	.thread = unbind2_thread,
	.check = unbind2_check,
	.teardown = unbind2_teardown,
};
XT_REGISTER(double_unbind)
