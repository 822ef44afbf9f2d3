// SPDX-License-Identifier: MIT
/*
 * Devices: bind, unbind and bound scopes. Device resources are in
 * devres.c, the DMA-mapping registry in dma_map.c; the hook points of all
 * three are listed in testing.h.
 *
 * One mutex per device (lock__) protects its state, the devres list, the
 * registry and the counters; it is never held while calling out. unbind
 * holds unbind_lock__ from start to end so that binds and unbinds do not
 * interleave (the kernel's device_lock around driver binding).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <gpuvm/device.h>

#include "device_internal.h"
#include "internal.h"
#include "kref.h"
#include "rcu_internal.h"
#include "sched_cond.h"

/* Bound scopes and unbind share one class: see device.h. */
static struct gpuvm_lock_class device_class =
	GPUVM_LOCK_CLASS_INIT("gpuvm_device", 0);

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

static int device_state(struct gpuvm_device *dev)
{
	int state;

	pthread_mutex_lock(&dev->lock__);
	state = dev->state__;
	pthread_mutex_unlock(&dev->lock__);
	return state;
}

GPUVM_EXPORT void gpuvm_device_fini(struct gpuvm_device *dev)
{
	static const char func[] = "gpuvm_device_fini";
	unsigned long live;
	int state = device_state(dev);

	if (state == DEV_BOUND) {
		gpuvm_warn(GPUVM_RULE_DEVICE_FINI,
			   "%s: '%s' is still bound; unbinding", func,
			   gpuvm_dev_name(dev));
		gpuvm_device_unbind(dev);
		state = device_state(dev);
	}
	/*
	 * Still bound: the unbind was refused (it reported why). Unbinding:
	 * another thread is at it and uses the mutexes. Destroying them
	 * now would pull them from under that thread or a later one.
	 */
	if (state != DEV_UNBOUND) {
		gpuvm_warn(GPUVM_RULE_DEVICE_FINI,
			   "%s: '%s' %s; not finalised, left intact", func,
			   gpuvm_dev_name(dev),
			   state == DEV_BOUND ? "could not be unbound" :
						"is being unbound by another "
						"thread");
		return;
	}
	live = gpuvm_device_dma_mappings(dev);
	if (live)
		gpuvm_warn(GPUVM_RULE_DEVICE_FINI,
			   "gpuvm_device_fini: '%s' still has %lu DMA "
			   "mapping(s)",
			   gpuvm_dev_name(dev), live);
	pthread_mutex_destroy(&dev->unbind_lock__);
	pthread_cond_destroy(&dev->cond__);
	pthread_mutex_destroy(&dev->lock__);
}

GPUVM_EXPORT int gpuvm_device_bind(struct gpuvm_device *dev)
{
	int ret = 0;

	gpuvm_sched_mutex_lock(&dev->unbind_lock__);
	pthread_mutex_lock(&dev->lock__);
	if (dev->state__ != DEV_UNBOUND) {
		ret = -EBUSY;
	} else {
		dev->generation__++;
		dev->state__ = DEV_BOUND;
	}
	pthread_mutex_unlock(&dev->lock__);
	gpuvm_sched_mutex_unlock(&dev->unbind_lock__);
	return ret;
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
			   func, gpuvm_dev_name(dev));
		return -EDEADLK;
	}
	if (gpuvm_rcu_read_ongoing()) {
		gpuvm_warn(GPUVM_RULE_DEVICE_RCU,
			   "%s: '%s' unbound inside an RCU read-side section "
			   "(try_access); the grace period would wait for "
			   "this thread; refused",
			   func, gpuvm_dev_name(dev));
		return -EDEADLK;
	}

	gpuvm_sched_mutex_lock(&dev->unbind_lock__);
	pthread_mutex_lock(&dev->lock__);
	if (dev->state__ != DEV_BOUND) {
		pthread_mutex_unlock(&dev->lock__);
		gpuvm_sched_mutex_unlock(&dev->unbind_lock__);
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
		gpuvm_sched_cond_wait(&dev->cond__, &dev->lock__);
	dev->state__ = DEV_RELEASING;

	/* Newest first; a release may drop other resources of @dev. */
	while (!gpuvm_list_empty(&dev->devres__)) {
		dr = gpuvm_list_entry(dev->devres__.prev, struct gpuvm_devres,
				      node);
		gpuvm_list_del_init(&dr->node);
		dev->nr_devres__--;
		pthread_mutex_unlock(&dev->lock__);
		gpuvm_devres_release_node(dr);
		pthread_mutex_lock(&dev->lock__);
	}

	leaked = gpuvm_dma_count_gen(dev, gen);
	dev->state__ = DEV_UNBOUND;
	pthread_mutex_unlock(&dev->lock__);

	gpuvm_lock_release(&dev->dep_map__, func);
	gpuvm_sched_mutex_unlock(&dev->unbind_lock__);

	if (leaked)
		gpuvm_warn(GPUVM_RULE_DEVICE_DMA_LEAK,
			   "%s: %lu DMA mapping(s) of '%s' made while bound "
			   "are still live after the unbind (not device "
			   "resources)",
			   func, leaked, gpuvm_dev_name(dev));
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
		gpuvm_sched_cond_broadcast(&dev->cond__);
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

int gpuvm_bound_check(const struct gpuvm_device_bound *bound, const char *func)
{
	if (unlikely(!bound->dev)) {
		gpuvm_warn(GPUVM_RULE_DEVICE_TOKEN,
			   "%s: the bound scope was left (or never entered)",
			   func);
		return -ENXIO;
	}
	return 0;
}
