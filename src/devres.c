// SPDX-License-Identifier: MIT
/*
 * Revocables and device resources (devres).
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
#include "sched_cond.h"

/* ---- revocable ---------------------------------------------------------- */

static void revocable_init(struct gpuvm_revocable *rev, void *data,
			   void (*release)(void *data))
{
	rev->data = data;
	rev->release = release;
	__atomic_store_n(&rev->available, 1, __ATOMIC_RELEASE);
}

GPUVM_EXPORT void gpuvm_revocable_init(struct gpuvm_revocable *rev, void *data,
				       void (*release)(void *data))
{
	revocable_init(rev, data, release);
	if (unlikely(!data)) {
		/* A successful try_access could not be told from a revoked
		 * one: start revoked, so no access ever opens a section. */
		gpuvm_warn(GPUVM_RULE_DEVICE_NULL_DATA,
			   "gpuvm_revocable_init: NULL data; initialised as "
			   "revoked (@release is never called)");
		__atomic_store_n(&rev->available, 0, __ATOMIC_RELEASE);
	}
}

GPUVM_EXPORT void *gpuvm_revocable_try_access(struct gpuvm_revocable *rev)
{
	gpuvm_rcu_read_lock();
	/* NULL data (set behind init's back) is never handed out with the
	 * section open: the caller would take it for "revoked". */
	if (__atomic_load_n(&rev->available, __ATOMIC_ACQUIRE) &&
	    likely(rev->data))
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
	gpuvm_sched_cond_broadcast(&dev->cond__);
	pthread_mutex_unlock(&dev->lock__);
}

/* Unbind's half of a devres: revoke and release, then drop the node's
 * reference. */
void gpuvm_devres_release_node(struct gpuvm_devres *dr)
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
			gpuvm_sched_cond_wait(&dr->dev->cond__,
					      &dr->dev->lock__);
		pthread_mutex_unlock(&dr->dev->lock__);
	}
	devres_put(dr);
}

/* ---- device resources --------------------------------------------------- */

static struct gpuvm_devres *devres_add(const struct gpuvm_device_bound *bound,
				       void *data, void (*release)(void *),
				       bool action, const char *func)
{
	struct gpuvm_device *dev;
	struct gpuvm_devres *dr;
	int ret;

	ret = gpuvm_bound_check(bound, func);
	if (ret)
		goto fail;
	if (unlikely(!data && !action)) {
		/* try_access could not tell it from revoked (device.h). */
		gpuvm_warn(GPUVM_RULE_DEVICE_NULL_DATA,
			   "%s: NULL data; refused", func);
		ret = -EINVAL;
		goto fail;
	}
	dev = bound->dev;
	dr = gpuvm_kzalloc(sizeof(*dr), GPUVM_GFP_KERNEL);
	if (!dr) {
		ret = -ENOMEM;
		goto fail;
	}
	dr->dev = dev;
	dr->generation = bound->generation;
	dr->action = action;
	/* A devm action may have NULL data: it has no readers. */
	revocable_init(&dr->rev, data, release);
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
	int ret = gpuvm_bound_check(bound, "gpuvm_devres_access");

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
			gpuvm_sched_cond_wait(&dev->cond__, &dev->lock__);
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
		gpuvm_sched_cond_broadcast(&dev->cond__);
		pthread_mutex_unlock(&dev->lock__);
		if (removed)
			devres_put(devres);
	} else if (gpuvm_rcu_read_ongoing()) {
		/*
		 * An unbind took the data. It may be waiting for a grace
		 * period that this thread's read-side section holds up:
		 * waiting for it could deadlock. Report and only drop the
		 * handle's reference; the unbind holds the node's and frees
		 * the devres, so nothing leaks or is freed twice.
		 */
		gpuvm_warn(GPUVM_RULE_DEVICE_RCU,
			   "gpuvm_devres_drop: '%s' is releasing the data and "
			   "this thread is inside an RCU read-side section; "
			   "the drop does not wait for the release",
			   gpuvm_dev_name(dev));
	} else if (!(gpuvm_knobs_built() && devres->old_semantics)) {
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
