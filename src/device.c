// SPDX-License-Identifier: MIT
/*
 * Devices, bound scopes, revocables, device resources and the DMA-mapping
 * registry. Its hook points are listed in testing.h.
 *
 * One mutex per device (lock__) protects its state, the devres list, the
 * registry and the counters; it is never held while calling out. unbind
 * holds unbind_lock__ from start to end so that binds and unbinds do not
 * interleave (the kernel's device_lock around driver binding).
 *
 * A devres is shared by its owner's handle and its node on the device's
 * list, each holding one reference; whichever puts the last one frees it.
 * Who releases the data is decided by the revocable: the first of unbind
 * (revoke) and drop (revoke_nosync) to clear @available does it, then
 * sets @revocation_done; the loser waits for that. So a drop returns only
 * after the data was released (the new Devres semantics), and so does an
 * unbind.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <gpuvm/device.h>

#include "device_internal.h"
#include "internal.h"
#include "kref.h"
#include "rcu_internal.h"

enum device_state {
	DEV_UNBOUND,
	DEV_BOUND,
	DEV_UNBINDING, /* no new bound scopes; waiting for the old ones */
	DEV_RELEASING, /* releasing the device resources */
};

/* Bound scopes and unbind share one class: see device.h. */
static struct gpuvm_lock_class device_class =
	GPUVM_LOCK_CLASS_INIT("gpuvm_device", 0);

struct gpuvm_devres {
	struct gpuvm_list_head node; /* in dev->devres__, under dev->lock__ */
	struct gpuvm_device *dev;
	uint64_t generation;
	struct gpuvm_revocable rev;
	int refcount;
	bool revocation_done; /* under dev->lock__ */
	bool action; /* devm action: no handle, no readers */
	bool old_semantics;
};

static long dma_live_total; /* all devices; atomic */

struct dma_mapping {
	struct gpuvm_list_head link; /* in dev->dma_maps__ */
	const struct gpuvm_sg_table *sgt;
	uint64_t generation;
	enum gpuvm_dma_data_direction dir;
};

static const char *dev_name(const struct gpuvm_device *dev)
{
	return dev->name ? dev->name : "device";
}

/* ---- the device --------------------------------------------------------- */

GPUVM_EXPORT void gpuvm_device_init(struct gpuvm_device *dev, const char *name)
{
	memset(dev, 0, sizeof(*dev));
	dev->name = name;
	pthread_mutex_init(&dev->lock__, NULL);
	pthread_cond_init(&dev->cond__, NULL);
	pthread_mutex_init(&dev->unbind_lock__, NULL);
	dev->state__ = DEV_UNBOUND;
	gpuvm_list_init(&dev->devres__);
	gpuvm_list_init(&dev->dma_maps__);
	/* Device addresses start high so that 0 never is one. */
	dev->next_iova__ = 1ull << 32;
	gpuvm_lockdep_init_map(&dev->dep_map__, name, &device_class);
}

GPUVM_EXPORT void gpuvm_device_fini(struct gpuvm_device *dev)
{
	unsigned long live;

	if (gpuvm_device_is_bound(dev)) {
		gpuvm_warn(GPUVM_RULE_DEVICE_FINI,
			   "gpuvm_device_fini: '%s' is still bound; unbinding",
			   dev_name(dev));
		gpuvm_device_unbind(dev);
	}
	live = gpuvm_device_dma_mappings(dev);
	if (live)
		gpuvm_warn(GPUVM_RULE_DEVICE_FINI,
			   "gpuvm_device_fini: '%s' still has %lu DMA "
			   "mapping(s)",
			   dev_name(dev), live);
	pthread_mutex_destroy(&dev->unbind_lock__);
	pthread_cond_destroy(&dev->cond__);
	pthread_mutex_destroy(&dev->lock__);
}

GPUVM_EXPORT int gpuvm_device_bind(struct gpuvm_device *dev)
{
	int ret = 0;

	pthread_mutex_lock(&dev->unbind_lock__);
	pthread_mutex_lock(&dev->lock__);
	if (dev->state__ != DEV_UNBOUND) {
		ret = -EBUSY;
	} else {
		dev->generation__++;
		dev->state__ = DEV_BOUND;
	}
	pthread_mutex_unlock(&dev->lock__);
	pthread_mutex_unlock(&dev->unbind_lock__);
	return ret;
}

static void devres_put(struct gpuvm_devres *dr)
{
	if (gpuvm_kref_put(&dr->refcount, "gpuvm_devres_drop"))
		gpuvm_kfree(dr);
}

static void revocation_complete(struct gpuvm_devres *dr)
{
	struct gpuvm_device *dev = dr->dev;

	pthread_mutex_lock(&dev->lock__);
	dr->revocation_done = true;
	pthread_cond_broadcast(&dev->cond__);
	pthread_mutex_unlock(&dev->lock__);
}

/* Unbind's half of a devres: revoke and release, then drop the node's
 * reference. */
static void devres_release_node(struct gpuvm_devres *dr)
{
	struct gpuvm_revocable *rev = &dr->rev;

	if (__atomic_exchange_n(&rev->available, 0, __ATOMIC_ACQ_REL)) {
		if (!dr->action) {
			/* Readers inside try_access still see the data. */
			gpuvm_hook(GPUVM_HOOK_DEVRES_REVOKE);
			gpuvm_rcu_synchronize();
		}
		gpuvm_hook(GPUVM_HOOK_DEVRES_RELEASE);
		if (rev->release)
			rev->release(rev->data);
		revocation_complete(dr);
	} else {
		/*
		 * A drop on another thread won and releases the data. Wait
		 * for it, so that the unbind returns with every resource of
		 * the binding released (in the kernel the drop may still be
		 * at it). The dropping thread needs nothing from us.
		 */
		gpuvm_hook(GPUVM_HOOK_DEVRES_RELEASE_LOST);
		pthread_mutex_lock(&dr->dev->lock__);
		while (!dr->revocation_done)
			pthread_cond_wait(&dr->dev->cond__, &dr->dev->lock__);
		pthread_mutex_unlock(&dr->dev->lock__);
	}
	devres_put(dr);
}

static unsigned long dma_count_gen(struct gpuvm_device *dev, uint64_t gen)
{
	struct dma_mapping *m;
	unsigned long n = 0;

	gpuvm_list_for_each_entry(m, &dev->dma_maps__, link)
		n += m->generation == gen;
	return n;
}

/* The bound scopes the calling thread is inside, innermost first. */
static __thread struct gpuvm_device_bound *bound_scopes;

static bool bound_held_by_self(const struct gpuvm_device *dev)
{
	const struct gpuvm_device_bound *b;

	for (b = bound_scopes; b; b = b->outer__)
		if (b->dev == dev)
			return true;
	return false;
}

GPUVM_EXPORT int gpuvm_device_unbind(struct gpuvm_device *dev)
{
	static const char func[] = "gpuvm_device_unbind";
	struct gpuvm_devres *dr;
	unsigned long leaked;
	uint64_t gen;

	if (bound_held_by_self(dev)) {
		gpuvm_warn(GPUVM_RULE_DEVICE_TOKEN,
			   "%s: '%s' unbound inside one of its own bound "
			   "scopes; unbind would wait for this thread; refused",
			   func, dev_name(dev));
		return -EDEADLK;
	}
	if (gpuvm_rcu_read_ongoing()) {
		gpuvm_warn(GPUVM_RULE_DEVICE_RCU,
			   "%s: '%s' unbound inside an RCU read-side section "
			   "(try_access); the grace period would wait for "
			   "this thread; refused",
			   func, dev_name(dev));
		return -EDEADLK;
	}

	pthread_mutex_lock(&dev->unbind_lock__);
	pthread_mutex_lock(&dev->lock__);
	if (dev->state__ != DEV_BOUND) {
		pthread_mutex_unlock(&dev->lock__);
		pthread_mutex_unlock(&dev->unbind_lock__);
		return -ENXIO;
	}
	dev->state__ = DEV_UNBINDING;
	gen = dev->generation__;
	pthread_mutex_unlock(&dev->lock__);

	/*
	 * The write side: waits for the bound scopes, then the releases
	 * take whatever they take. NEST: scopes of other devices may be
	 * held (one class for all devices; our own is refused above).
	 */
	gpuvm_lock_acquire(&dev->dep_map__, GPUVM_LOCK_ACQ_NEST, GPUVM_RET_IP);

	pthread_mutex_lock(&dev->lock__);
	if (dev->bound__) {
		pthread_mutex_unlock(&dev->lock__);
		gpuvm_hook(GPUVM_HOOK_UNBIND_WAIT);
		pthread_mutex_lock(&dev->lock__);
	}
	while (dev->bound__)
		pthread_cond_wait(&dev->cond__, &dev->lock__);
	dev->state__ = DEV_RELEASING;

	/* Newest first; a release may drop other resources of @dev. */
	while (!gpuvm_list_empty(&dev->devres__)) {
		dr = gpuvm_list_entry(dev->devres__.prev, struct gpuvm_devres,
				      node);
		gpuvm_list_del_init(&dr->node);
		dev->nr_devres__--;
		pthread_mutex_unlock(&dev->lock__);
		devres_release_node(dr);
		pthread_mutex_lock(&dev->lock__);
	}

	leaked = dma_count_gen(dev, gen);
	dev->state__ = DEV_UNBOUND;
	pthread_mutex_unlock(&dev->lock__);

	gpuvm_lock_release(&dev->dep_map__, func);
	pthread_mutex_unlock(&dev->unbind_lock__);

	if (leaked)
		gpuvm_warn(GPUVM_RULE_DEVICE_DMA_LEAK,
			   "%s: %lu DMA mapping(s) of '%s' made while bound "
			   "are still live after the unbind (not device "
			   "resources)",
			   func, leaked, dev_name(dev));
	return 0;
}

GPUVM_EXPORT bool gpuvm_device_is_bound(struct gpuvm_device *dev)
{
	bool bound;

	pthread_mutex_lock(&dev->lock__);
	bound = dev->state__ == DEV_BOUND;
	pthread_mutex_unlock(&dev->lock__);
	return bound;
}

GPUVM_EXPORT uint64_t gpuvm_device_generation(struct gpuvm_device *dev)
{
	uint64_t gen;

	pthread_mutex_lock(&dev->lock__);
	gen = dev->generation__;
	pthread_mutex_unlock(&dev->lock__);
	return gen;
}

GPUVM_EXPORT int gpuvm_device_bound_enter(struct gpuvm_device *dev,
					  struct gpuvm_device_bound *bound)
{
	pthread_mutex_lock(&dev->lock__);
	if (dev->state__ != DEV_BOUND) {
		pthread_mutex_unlock(&dev->lock__);
		bound->dev = NULL;
		bound->generation = 0;
		return -ENXIO;
	}
	dev->bound__++;
	bound->generation = dev->generation__;
	pthread_mutex_unlock(&dev->lock__);

	bound->dev = dev;
	bound->outer__ = bound_scopes;
	bound_scopes = bound;
	gpuvm_lockdep_init_map(&bound->dep_map, dev->name, &device_class);
	/* A read side: nests, never waits, so it learns no order itself. */
	gpuvm_lock_acquire(&bound->dep_map,
			   GPUVM_LOCK_ACQ_TRY | GPUVM_LOCK_ACQ_NEST,
			   GPUVM_RET_IP);
	return 0;
}

GPUVM_EXPORT void gpuvm_device_bound_exit(struct gpuvm_device_bound *bound)
{
	struct gpuvm_device *dev = bound->dev;
	struct gpuvm_device_bound **link;

	if (!dev) {
		gpuvm_warn(GPUVM_RULE_DEVICE_TOKEN,
			   "gpuvm_device_bound_exit: the bound scope is not "
			   "entered (left twice, or entering it failed)");
		return;
	}
	gpuvm_lock_release(&bound->dep_map, "gpuvm_device_bound_exit");
	bound->dev = NULL;
	/* Scopes may be left out of order: unlink wherever it is. */
	for (link = &bound_scopes; *link; link = &(*link)->outer__) {
		if (*link == bound) {
			*link = bound->outer__;
			break;
		}
	}

	pthread_mutex_lock(&dev->lock__);
	if (!--dev->bound__ && dev->state__ == DEV_UNBINDING)
		pthread_cond_broadcast(&dev->cond__);
	pthread_mutex_unlock(&dev->lock__);
}

GPUVM_EXPORT unsigned long gpuvm_device_devres_count(struct gpuvm_device *dev)
{
	unsigned long n;

	pthread_mutex_lock(&dev->lock__);
	n = dev->nr_devres__;
	pthread_mutex_unlock(&dev->lock__);
	return n;
}

/*
 * Whether @bound is a live bound scope. Reads only the token: a scope that
 * was entered keeps its binding alive, and one that was left has no device.
 */
static int bound_check(const struct gpuvm_device_bound *bound, const char *func)
{
	if (unlikely(!bound->dev)) {
		gpuvm_warn(GPUVM_RULE_DEVICE_TOKEN,
			   "%s: the bound scope was left (or never entered)",
			   func);
		return -ENXIO;
	}
	return 0;
}

/* ---- revocable ---------------------------------------------------------- */

GPUVM_EXPORT void gpuvm_revocable_init(struct gpuvm_revocable *rev, void *data,
				       void (*release)(void *data))
{
	rev->data = data;
	rev->release = release;
	__atomic_store_n(&rev->available, 1, __ATOMIC_RELEASE);
}

GPUVM_EXPORT void *gpuvm_revocable_try_access(struct gpuvm_revocable *rev)
{
	gpuvm_rcu_read_lock();
	if (__atomic_load_n(&rev->available, __ATOMIC_ACQUIRE))
		return rev->data;
	gpuvm_rcu_read_unlock();
	return NULL;
}

GPUVM_EXPORT void gpuvm_revocable_end_access(struct gpuvm_revocable *rev)
{
	gpuvm_rcu_read_unlock();
}

GPUVM_EXPORT bool gpuvm_revocable_revoke(struct gpuvm_revocable *rev)
{
	if (!__atomic_exchange_n(&rev->available, 0, __ATOMIC_ACQ_REL))
		return false;
	gpuvm_rcu_synchronize();
	if (rev->release)
		rev->release(rev->data);
	return true;
}

GPUVM_EXPORT bool gpuvm_revocable_revoke_nosync(struct gpuvm_revocable *rev)
{
	if (!__atomic_exchange_n(&rev->available, 0, __ATOMIC_ACQ_REL))
		return false;
	if (rev->release)
		rev->release(rev->data);
	return true;
}

/* ---- device resources --------------------------------------------------- */

static struct gpuvm_devres *devres_add(const struct gpuvm_device_bound *bound,
				       void *data, void (*release)(void *),
				       bool action, const char *func)
{
	struct gpuvm_device *dev;
	struct gpuvm_devres *dr;
	int ret;

	ret = bound_check(bound, func);
	if (ret)
		goto fail;
	dev = bound->dev;
	dr = gpuvm_kzalloc(sizeof(*dr), GPUVM_GFP_KERNEL);
	if (!dr) {
		ret = -ENOMEM;
		goto fail;
	}
	dr->dev = dev;
	dr->generation = bound->generation;
	dr->action = action;
	gpuvm_revocable_init(&dr->rev, data, release);
	/* The node's reference, and the handle's unless fire-and-forget. */
	__atomic_store_n(&dr->refcount, action ? 1 : 2, __ATOMIC_RELAXED);

	/* The scope keeps the device bound: unbind cannot be releasing. */
	pthread_mutex_lock(&dev->lock__);
	gpuvm_list_add_tail(&dr->node, &dev->devres__);
	dev->nr_devres__++;
	pthread_mutex_unlock(&dev->lock__);
	return dr;

fail:
	if (release)
		release(data);
	return gpuvm_err_ptr(ret);
}

GPUVM_EXPORT struct gpuvm_devres *
gpuvm_devres_new(const struct gpuvm_device_bound *bound, void *data,
		 void (*release)(void *data))
{
	return devres_add(bound, data, release, false, "gpuvm_devres_new");
}

GPUVM_EXPORT int
gpuvm_devm_add_action_or_reset(const struct gpuvm_device_bound *bound,
			       void (*action)(void *data), void *data)
{
	return gpuvm_ptr_err_or_zero(devres_add(
		bound, data, action, true, "gpuvm_devm_add_action_or_reset"));
}

GPUVM_EXPORT void *gpuvm_devres_access(const struct gpuvm_devres *devres,
				       const struct gpuvm_device_bound *bound)
{
	int ret = bound_check(bound, "gpuvm_devres_access");

	if (ret)
		return gpuvm_err_ptr(ret);
	if (bound->dev != devres->dev)
		return gpuvm_err_ptr(-EINVAL);
	if (bound->generation != devres->generation)
		return gpuvm_err_ptr(-ENXIO);
	return devres->rev.data;
}

GPUVM_EXPORT void *gpuvm_devres_try_access(struct gpuvm_devres *devres)
{
	return gpuvm_revocable_try_access(&devres->rev);
}

GPUVM_EXPORT void gpuvm_devres_end_access(struct gpuvm_devres *devres)
{
	gpuvm_revocable_end_access(&devres->rev);
}

/* Wait until the unbind releasing @dr has finished. */
static void devres_wait_revocation(struct gpuvm_devres *dr)
{
	struct gpuvm_device *dev = dr->dev;

	pthread_mutex_lock(&dev->lock__);
	if (!dr->revocation_done) {
		pthread_mutex_unlock(&dev->lock__);
		gpuvm_hook(GPUVM_HOOK_DEVRES_DROP_WAIT);
		pthread_mutex_lock(&dev->lock__);
		/* Waiting for the unbind is taking the device's write side:
		 * the checker learns what we hold against it. */
		gpuvm_lock_acquire(&dev->dep_map__, GPUVM_LOCK_ACQ_NEST,
				   GPUVM_RET_IP);
		gpuvm_lock_release(&dev->dep_map__, "gpuvm_devres_drop");
		while (!dr->revocation_done)
			pthread_cond_wait(&dev->cond__, &dev->lock__);
	}
	pthread_mutex_unlock(&dev->lock__);
}

GPUVM_EXPORT void gpuvm_devres_drop(struct gpuvm_devres *devres)
{
	struct gpuvm_device *dev;
	bool removed = false;

	if (!devres)
		return;
	dev = devres->dev;

	if (gpuvm_revocable_revoke_nosync(&devres->rev)) {
		/* Released here. Unless unbind already took the node off the
		 * list (its revoke then fails), the node's reference is ours
		 * to drop. */
		gpuvm_hook(GPUVM_HOOK_DEVRES_DROP_WON);
		pthread_mutex_lock(&dev->lock__);
		/* Taken off with list_del_init: an empty node is off. */
		if (!gpuvm_list_empty(&devres->node)) {
			gpuvm_list_del_init(&devres->node);
			dev->nr_devres__--;
			removed = true;
		}
		/* For an unbind that took the node meanwhile. */
		devres->revocation_done = true;
		pthread_cond_broadcast(&dev->cond__);
		pthread_mutex_unlock(&dev->lock__);
		if (removed)
			devres_put(devres);
	} else if (!(gpuvm_knobs_built() && devres->old_semantics)) {
		if (gpuvm_rcu_read_ongoing())
			gpuvm_warn(GPUVM_RULE_DEVICE_RCU,
				   "gpuvm_devres_drop: waiting for an unbind "
				   "of '%s' inside an RCU read-side section",
				   dev_name(dev));
		devres_wait_revocation(devres);
	}
	devres_put(devres);
}

#ifdef GPUVM_TEST_KNOBS
void gpuvm_devres_set_old_semantics(struct gpuvm_devres *devres, bool old)
{
	devres->old_semantics = old;
}
#endif

uint64_t gpuvm_devres_generation(const struct gpuvm_devres *devres)
{
	return devres->generation;
}

/* ---- scatter-gather tables and the DMA-mapping registry ----------------- */

GPUVM_EXPORT int gpuvm_sg_alloc_table(struct gpuvm_sg_table *sgt,
				      unsigned int nents)
{
	sgt->sgl = gpuvm_kcalloc(nents ? nents : 1, sizeof(*sgt->sgl),
				 GPUVM_GFP_KERNEL);
	sgt->nents = 0;
	sgt->orig_nents = sgt->sgl ? nents : 0;
	return sgt->sgl ? 0 : -ENOMEM;
}

GPUVM_EXPORT void gpuvm_sg_free_table(struct gpuvm_sg_table *sgt)
{
	gpuvm_kfree(sgt->sgl);
	sgt->sgl = NULL;
	sgt->nents = 0;
	sgt->orig_nents = 0;
}

static uint64_t align_page(uint64_t x)
{
	return (x + GPUVM_PAGE_SIZE - 1) & ~(uint64_t)(GPUVM_PAGE_SIZE - 1);
}

GPUVM_EXPORT int gpuvm_dma_map_sgtable(struct gpuvm_device *dev,
				       struct gpuvm_sg_table *sgt,
				       enum gpuvm_dma_data_direction dir,
				       unsigned long attrs)
{
	struct gpuvm_scatterlist *sg;
	struct dma_mapping *m;
	unsigned int i;

	m = gpuvm_kmalloc(sizeof(*m), GPUVM_GFP_KERNEL);
	if (!m)
		return -ENOMEM;

	pthread_mutex_lock(&dev->lock__);
	if (dev->state__ != DEV_BOUND && dev->state__ != DEV_UNBINDING) {
		pthread_mutex_unlock(&dev->lock__);
		gpuvm_kfree(m);
		return -ENXIO;
	}
	m->sgt = sgt;
	m->generation = dev->generation__;
	m->dir = dir;
	/* One device window per segment, a guard page between them. */
	gpuvm_for_each_sgtable_sg(sgt, sg, i)
	{
		sg->dma_address = dev->next_iova__ + sg->offset;
		sg->dma_length = sg->length;
		dev->next_iova__ +=
			align_page(sg->offset + sg->length) + GPUVM_PAGE_SIZE;
	}
	sgt->nents = sgt->orig_nents;
	gpuvm_list_add_tail(&m->link, &dev->dma_maps__);
	dev->nr_dma_maps__++;
	dev->dma_map_calls__++;
	pthread_mutex_unlock(&dev->lock__);
	__atomic_add_fetch(&dma_live_total, 1, __ATOMIC_RELAXED);
	return 0;
}

static struct dma_mapping *dma_find(struct gpuvm_device *dev,
				    const struct gpuvm_sg_table *sgt)
{
	struct dma_mapping *m;

	gpuvm_list_for_each_entry(m, &dev->dma_maps__, link)
		if (m->sgt == sgt)
			return m;
	return NULL;
}

GPUVM_EXPORT void gpuvm_dma_unmap_sgtable(struct gpuvm_device *dev,
					  struct gpuvm_sg_table *sgt,
					  enum gpuvm_dma_data_direction dir,
					  unsigned long attrs)
{
	struct gpuvm_scatterlist *sg;
	struct dma_mapping *m;
	unsigned int i;

	pthread_mutex_lock(&dev->lock__);
	m = dma_find(dev, sgt);
	if (m) {
		gpuvm_list_del(&m->link);
		dev->nr_dma_maps__--;
		dev->dma_unmap_calls__++;
		gpuvm_for_each_sgtable_sg(sgt, sg, i)
		{
			sg->dma_address = 0;
			sg->dma_length = 0;
		}
		sgt->nents = 0;
	}
	pthread_mutex_unlock(&dev->lock__);

	if (!m) {
		gpuvm_warn(GPUVM_RULE_DMA_UNMAP,
			   "gpuvm_dma_unmap_sgtable: table %p is not mapped "
			   "for '%s' (unmapped twice?); ignored",
			   (const void *)sgt, dev_name(dev));
		return;
	}
	__atomic_sub_fetch(&dma_live_total, 1, __ATOMIC_RELAXED);
	gpuvm_kfree(m);
}

GPUVM_EXPORT unsigned long gpuvm_device_dma_mappings(struct gpuvm_device *dev)
{
	unsigned long n;

	pthread_mutex_lock(&dev->lock__);
	n = dev->nr_dma_maps__;
	pthread_mutex_unlock(&dev->lock__);
	return n;
}

GPUVM_EXPORT unsigned long
gpuvm_device_dma_mappings_gen(struct gpuvm_device *dev, uint64_t generation)
{
	unsigned long n;

	pthread_mutex_lock(&dev->lock__);
	n = dma_count_gen(dev, generation);
	pthread_mutex_unlock(&dev->lock__);
	return n;
}

GPUVM_EXPORT bool gpuvm_device_dma_is_mapped(struct gpuvm_device *dev,
					     const struct gpuvm_sg_table *sgt)
{
	bool mapped;

	pthread_mutex_lock(&dev->lock__);
	mapped = dma_find(dev, sgt) != NULL;
	pthread_mutex_unlock(&dev->lock__);
	return mapped;
}

GPUVM_EXPORT unsigned long gpuvm_device_dma_map_calls(struct gpuvm_device *dev)
{
	unsigned long n;

	pthread_mutex_lock(&dev->lock__);
	n = dev->dma_map_calls__;
	pthread_mutex_unlock(&dev->lock__);
	return n;
}

GPUVM_EXPORT unsigned long
gpuvm_device_dma_unmap_calls(struct gpuvm_device *dev)
{
	unsigned long n;

	pthread_mutex_lock(&dev->lock__);
	n = dev->dma_unmap_calls__;
	pthread_mutex_unlock(&dev->lock__);
	return n;
}

GPUVM_EXPORT long gpuvm_dma_mappings_live(void)
{
	return __atomic_load_n(&dma_live_total, __ATOMIC_RELAXED);
}
