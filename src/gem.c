// SPDX-License-Identifier: MIT
/* GEM objects: reference count, reservation and the gpuva list and lock. */
#include <gpuvm/gem.h>

#include "internal.h"
#include "kref.h"
#include "leaks.h"

/*
 * One class for every object's gpuva lock: the lock order is learned per
 * class, so taking two objects' gpuva locks at once is reported as a
 * recursion, as lockdep does in the kernel.
 */
static struct gpuvm_lock_class gem_gpuva_lock_class =
	GPUVM_LOCK_CLASS_INIT("gem_gpuva_lock", 0);

GPUVM_EXPORT void gpuvm_gem_gpuva_init(struct gpuvm_gem_object *obj)
{
	gpuvm_list_init(&obj->gpuva.list);
	obj->gpuva.hash__ = NULL;
	obj->gpuva.hash_bits__ = 0;
	obj->gpuva.nr_vm_bos__ = 0;
}

static void gem_object_init(struct gpuvm_gem_object *obj,
			    const struct gpuvm_gem_object_funcs *funcs,
			    size_t size, struct gpuvm_dma_resv *resv,
			    const void *site)
{
	gpuvm_kref_init(&obj->refcount);
	obj->size = size;
	obj->funcs = funcs;
	gpuvm_dma_resv_init(&obj->_resv);
	obj->resv = resv ? resv : &obj->_resv;
	gpuvm_gem_gpuva_init(obj);
	gpuvm_mutex_init(&obj->gpuva.lock, NULL, &gem_gpuva_lock_class);
	if (gpuvm_debug_active())
		gpuvm_obj_track_gem__(obj, site);
}

GPUVM_EXPORT void
gpuvm_gem_object_init_shared_resv(struct gpuvm_gem_object *obj,
				  const struct gpuvm_gem_object_funcs *funcs,
				  size_t size, struct gpuvm_dma_resv *resv)
{
	gem_object_init(obj, funcs, size, resv, GPUVM_RET_IP);
}

GPUVM_EXPORT void
gpuvm_gem_object_init(struct gpuvm_gem_object *obj,
		      const struct gpuvm_gem_object_funcs *funcs, size_t size)
{
	gem_object_init(obj, funcs, size, NULL, GPUVM_RET_IP);
}

GPUVM_EXPORT void gpuvm_gem_object_set_label(struct gpuvm_gem_object *obj,
					     const char *label)
{
	gpuvm_obj_gem_set_label__(
		obj, label, &obj->gpuva.lock.dep_map,
		obj->resv == &obj->_resv ? &obj->_resv.lock.dep_map : NULL);
}

/* With the explorer on: out of line, so that the common get and put need
 * no stack frame. */
static __attribute__((noinline)) struct gpuvm_gem_object *
get_scheduled(struct gpuvm_gem_object *obj)
{
	gpuvm_sched_point(GPUVM_SCHED_REF, &obj->refcount);
	gpuvm_kref_get(&obj->refcount, "gpuvm_gem_object_get");
	return obj;
}

GPUVM_EXPORT struct gpuvm_gem_object *
gpuvm_gem_object_get(struct gpuvm_gem_object *obj)
{
	if (gpuvm_sched_active())
		return get_scheduled(obj);
	gpuvm_kref_get(&obj->refcount, "gpuvm_gem_object_get");
	return obj;
}

/*
 * The final put while this thread holds the object's own gpuva mutex: the
 * mutex is freed under its holder (whose unlock then touches freed
 * memory). Reported at once, naming the object and where the lock was
 * taken.
 */
static void check_freed_under_gpuva_lock(struct gpuvm_gem_object *obj)
{
	const struct gpuvm_lockdep_map *map = &obj->gpuva.lock.dep_map;
	char what[256], site[96];

	if (!gpuvm_debug_active() || !gpuvm_lock_is_held(map))
		return;
	gpuvm_obj_describe__(what, sizeof(what), "GEM", obj);
	gpuvm_format_site(site, sizeof(site), gpuvm_lock_held_site(map));
	gpuvm_warn(GPUVM_RULE_GEM_FREED_UNDER_GPUVA_LOCK,
		   "gpuvm_gem_object_put: last reference of %s dropped while "
		   "this thread holds its own gpuva lock '%s' (taken at %s)",
		   what, map->name, site);
}

static __attribute__((noinline)) void
gem_object_release(struct gpuvm_gem_object *obj)
{
	check_freed_under_gpuva_lock(obj);
	gpuvm_dma_resv_fini(&obj->_resv);
	gpuvm_mutex_destroy(&obj->gpuva.lock);
	/* After the locks' last reports: the registry owns their names. */
	if (gpuvm_debug_active() ||
	    __atomic_load_n(&gpuvm_obj_live__, __ATOMIC_RELAXED))
		gpuvm_obj_untrack__(obj);
	if (obj->funcs && obj->funcs->free)
		obj->funcs->free(obj);
}

static __attribute__((noinline)) void
put_scheduled(struct gpuvm_gem_object *obj)
{
	gpuvm_sched_point(GPUVM_SCHED_REF, &obj->refcount);
	if (gpuvm_kref_put(&obj->refcount, "gpuvm_gem_object_put"))
		gem_object_release(obj);
}

GPUVM_EXPORT void gpuvm_gem_object_put(struct gpuvm_gem_object *obj)
{
	if (!obj)
		return;
	if (gpuvm_sched_active())
		put_scheduled(obj);
	else if (gpuvm_kref_put(&obj->refcount, "gpuvm_gem_object_put"))
		gem_object_release(obj);
}

GPUVM_EXPORT int gpuvm_gem_object_refcount(const struct gpuvm_gem_object *obj)
{
	return gpuvm_kref_read(&obj->refcount);
}

GPUVM_EXPORT void gpuvm_gem_gpuva_assert_lock_held(bool immediate_mode,
						   struct gpuvm_gem_object *obj,
						   const char *func)
{
	if (!gpuvm_debug_active())
		return;
	if (immediate_mode)
		gpuvm_mutex_assert_held(&obj->gpuva.lock, func);
	else
		gpuvm_dma_resv_assert_held_func(obj->resv, func);
}
