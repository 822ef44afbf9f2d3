// SPDX-License-Identifier: MIT
/*
 * The vm_bo contract, in each of the four locking modes where behaviour
 * or the required locks differ: create, find, obtain_locked and
 * obtain_prealloc (the duplicate destroyed after the gpuva lock was
 * released), get/put with the reference graph checked after every step
 * and inside vm_bo_free, put_deferred and zombies (list membership per
 * mode), deferred cleanup (order, the VM resv it takes), a new vm_bo next
 * to a pending zombie, extobj_add, evict/gem_evict (with the
 * GPUVM_RESV_PROTECTED extobj asymmetry), the driver's vm_bo_alloc /
 * vm_bo_free with the vm_bo embedded at a non-zero offset, the O(1)
 * lookup of a GEM shared by 1..100 VMs, each lock rule broken once, and
 * the allocation-failure sweeps of create, obtain_locked and
 * obtain_prealloc.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/testing.h>
#include "gpuvm_fixture.h"
#include "harness.h"
#include "ww_mutex_internal.h"

/* ---- the driver's vm_bo: embedded at a non-zero offset ------------------ */

#define DRV_MAGIC 0x6472765f626f2121ull

struct drv_bo {
	uint64_t magic;
	unsigned long serial; /* driver data in front of the vm_bo */
	struct gpuvm_bo base;
	uint64_t tail;
};

#define MAX_FREES 256

/* What the driver callbacks saw. */
static struct {
	unsigned long allocs, frees, serial;
	struct gpuvm_bo *freed[MAX_FREES];
	/* At the time of each vm_bo_free: the VM and GEM counts. */
	int vm_kref[MAX_FREES];
	int obj_refs[MAX_FREES];
	/* Frees that ran with the object's gpuva mutex held. */
	unsigned int under_gpuva_lock;
	/* Frees of memory vm_bo_alloc did not make (checked at teardown:
	 * no cmocka assert here, the callback may run on a worker). */
	unsigned int bad;
} drv;

static struct gpuvm_bo *drv_bo_alloc(void)
{
	struct drv_bo *d = gpuvm_kzalloc(sizeof(*d), GPUVM_GFP_KERNEL);

	if (!d)
		return NULL;
	d->magic = DRV_MAGIC;
	d->serial = ++drv.serial;
	d->tail = DRV_MAGIC;
	drv.allocs++;
	return &d->base;
}

static void drv_bo_free(struct gpuvm_bo *vm_bo)
{
	struct drv_bo *d = gpuvm_container_of(vm_bo, struct drv_bo, base);

	if (d->magic != DRV_MAGIC || d->tail != DRV_MAGIC || !d->serial ||
	    d->serial > drv.serial)
		drv.bad++;
	/* Only the checker knows who holds a lock (without it the query
	 * answers yes, as lockdep_is_held() does without lockdep). */
	if (gpuvm_debug_enabled() &&
	    gpuvm_lock_is_held(&vm_bo->obj->gpuva.lock.dep_map))
		drv.under_gpuva_lock++;
	if (drv.frees < MAX_FREES) {
		drv.freed[drv.frees] = vm_bo;
		drv.vm_kref[drv.frees] = fx_vm_kref(vm_bo->vm);
		drv.obj_refs[drv.frees] = gpuvm_gem_object_refcount(vm_bo->obj);
	}
	drv.frees++;
	d->magic = 0;
	gpuvm_kfree(d);
}

static void use_drv_bos(struct fx_vm *fx)
{
	fx->ops.vm_bo_alloc = drv_bo_alloc;
	fx->ops.vm_bo_free = drv_bo_free;
	memset(&drv, 0, sizeof(drv));
}

static int drv_teardown(void **state)
{
	unsigned int bad = drv.bad;

	drv.bad = 0;
	if (bad)
		fprintf(stderr, "%u bad vm_bo_free calls\n", bad);
	return harness_teardown(state) || bad ? -1 : 0;
}

#define drv_test(fn) \
	cmocka_unit_test_setup_teardown(fn, harness_setup, drv_teardown)

static struct fx_vm *new_vm(unsigned int mode)
{
	struct fx_vm *fx = fx_vm_create(fx_modes[mode].flags, 0, 1 << 20, 0, 0);

	use_drv_bos(fx);
	return fx;
}

static bool is_immediate(unsigned int mode)
{
	return fx_modes[mode].flags & GPUVM_IMMEDIATE_MODE;
}

static bool is_protected(unsigned int mode)
{
	return fx_modes[mode].flags & GPUVM_RESV_PROTECTED;
}

static void ctx(unsigned int mode, const char *what)
{
	fx_context("%s: %s", fx_modes[mode].name, what);
}

/* The GEM's list and its private count of vm_bos agree. */
static void assert_gem_consistent(struct gpuvm_gem_object *obj)
{
	assert_int_equal(obj->gpuva.nr_vm_bos__,
			 fx_list_count(&obj->gpuva.list));
	if (!obj->gpuva.nr_vm_bos__)
		assert_null(obj->gpuva.hash__);
}

/* Exactly one warning, of @rule, naming @func. */
static void expect_warning(const char *rule, const char *func)
{
	assert_int_equal(harness_warnings(NULL), 1);
	if (!strstr(harness_last_warning(rule), func))
		fail_msg("warning '%s' does not name %s",
			 harness_last_warning(rule), func);
	assert_int_equal(harness_take_warnings(rule), 1);
}

/* A standalone external GEM (shared by several fixture VMs). */
static void sh_free(struct gpuvm_gem_object *obj)
{
	free(obj);
}

static const struct gpuvm_gem_object_funcs sh_funcs = { .free = sh_free };

static struct gpuvm_gem_object *shared_obj_new(void)
{
	struct gpuvm_gem_object *obj = calloc(1, sizeof(*obj));

	assert_non_null(obj);
	gpuvm_gem_object_init(obj, &sh_funcs, 4096);
	return obj;
}

/* An exec holding the VM resv with every external object prepared
 * (that is where a resv-protected VM puts evicted extobjs on its evict
 * list). */
static void lock_vm_and_extobjs(struct fx_vm *fx, struct gpuvm_exec *exec,
				uint32_t flags)
{
	int ret;

	gpuvm_exec_init(exec, flags, 0);
	gpuvm_exec_until_all_locked(exec) {
		ret = gpuvm_prepare_vm(&fx->base, exec, 0);
		gpuvm_exec_retry_on_contention(exec);
		assert_int_equal(ret, 0);
		ret = gpuvm_prepare_objects(&fx->base, exec, 0);
		gpuvm_exec_retry_on_contention(exec);
		assert_int_equal(ret, 0);
	}
}

static void extobj_add_locked(struct fx_vm *fx, struct gpuvm_bo *vm_bo)
{
	if (gpuvm_resv_protected(&fx->base))
		fx_vm_resv_lock(fx);
	gpuvm_bo_extobj_add(vm_bo);
	if (gpuvm_resv_protected(&fx->base))
		fx_vm_resv_unlock(fx);
}

static void evict_locked(struct gpuvm_bo *vm_bo, bool evict)
{
	assert_int_equal(gpuvm_gem_object_lock(vm_bo->obj, NULL), 0);
	gpuvm_bo_evict(vm_bo, evict);
	gpuvm_gem_object_unlock(vm_bo->obj);
}

/* ---- create, find, obtain ---------------------------------------------- */

static void check_fresh(struct fx_vm *fx, struct gpuvm_bo *vm_bo,
			struct gpuvm_gem_object *obj)
{
	assert_ptr_equal(vm_bo->vm, &fx->base);
	assert_ptr_equal(vm_bo->obj, obj);
	assert_int_equal(fx_bo_kref(vm_bo), 1);
	assert_false(vm_bo->evicted);
	assert_true(gpuvm_list_empty(&vm_bo->list.gpuva));
	/* On no list: every node self-linked. */
	assert_true(gpuvm_list_empty(&vm_bo->list.entry.gem));
	assert_true(gpuvm_list_empty(&vm_bo->list.entry.extobj));
	assert_true(gpuvm_list_empty(&vm_bo->list.entry.evict));
	assert_null(vm_bo->list.entry.bo_defer.next);
	assert_false(fx_bo_on_defer(vm_bo));
}

static void test_create(void **state)
{
	unsigned int mode, k;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		for (k = 0; k < 2; k++) {
			struct fx_vm *fx = new_vm(mode);
			struct gpuvm_gem_object *obj =
				fx_obj(fx, k ? 'B' : 'a');
			int vmk = fx_vm_kref(&fx->base);
			int refs = gpuvm_gem_object_refcount(obj);
			struct gpuvm_bo *vm_bo, *found;

			ctx(mode, k ? "create external" : "create private");
			if (k) { /* the default allocator */
				fx->ops.vm_bo_alloc = NULL;
				fx->ops.vm_bo_free = NULL;
			}
			vm_bo = gpuvm_bo_create(&fx->base, obj);
			assert_non_null(vm_bo);
			check_fresh(fx, vm_bo, obj);
			assert_int_equal(drv.allocs, k ? 0 : 1);
			assert_int_equal(fx_vm_kref(&fx->base), vmk + 1);
			assert_int_equal(gpuvm_gem_object_refcount(obj),
					 refs + 1);
			/* Not published: nobody finds it. */
			fx_gem_list_lock(fx, obj);
			found = gpuvm_bo_find(&fx->base, obj);
			fx_gem_list_unlock(fx, obj);
			assert_null(found);
			assert_gem_consistent(obj);

			/* An unpublished vm_bo may be dropped like any. */
			if (is_immediate(mode)) {
				assert_true(gpuvm_bo_put_deferred(vm_bo));
				gpuvm_bo_deferred_cleanup(&fx->base);
			} else {
				assert_true(fx_bo_put_locked(fx, vm_bo));
			}
			assert_int_equal(drv.frees, k ? 0 : 1);
			assert_int_equal(fx_vm_kref(&fx->base), vmk);
			assert_int_equal(gpuvm_gem_object_refcount(obj), refs);
			assert_gem_consistent(obj);
			fx_vm_destroy(fx);
		}
	}
	fx_context("%s", "");
}

/*
 * Dropping an unpublished vm_bo of a GEM that many VMs share (so it has
 * a hash table) must leave the GEM's other vm_bos alone.
 */
static void test_unpublished_put_shared_gem(void **state)
{
	unsigned int mode, k;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct gpuvm_gem_object *obj = shared_obj_new();
		struct fx_vm *fx[10];
		struct gpuvm_bo *bos[10], *vm_bo, *found;

		ctx(mode, "unpublished put, shared GEM");
		for (k = 0; k < 10; k++)
			fx[k] = new_vm(mode);
		for (k = 0; k < 9; k++)
			bos[k] = fx_bo_obtain(fx[k], obj);
		assert_non_null(obj->gpuva.hash__);

		vm_bo = gpuvm_bo_create(&fx[9]->base, obj);
		assert_non_null(vm_bo);
		if (is_immediate(mode)) {
			assert_true(gpuvm_bo_put_deferred(vm_bo));
			gpuvm_bo_deferred_cleanup(&fx[9]->base);
		} else {
			assert_true(fx_bo_put_locked(fx[9], vm_bo));
		}
		assert_gem_consistent(obj);
		assert_int_equal(obj->gpuva.nr_vm_bos__, 9);
		for (k = 0; k < 9; k++) {
			fx_gem_list_lock(fx[k], obj);
			found = gpuvm_bo_find(&fx[k]->base, obj);
			assert_ptr_equal(found, bos[k]);
			assert_false(gpuvm_bo_put(found));
			fx_gem_list_unlock(fx[k], obj);
		}
		for (k = 0; k < 10; k++) {
			if (k < 9)
				assert_true(fx_bo_put_locked(fx[k], bos[k]));
			fx_vm_destroy(fx[k]);
		}
		assert_gem_consistent(obj);
		gpuvm_gem_object_put(obj);
	}
	fx_context("%s", "");
}

static void test_find(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct fx_vm *fx = new_vm(mode);
		struct gpuvm_gem_object *a = fx_obj(fx, 'A');
		struct gpuvm_bo *vm_bo, *found;
		int vmk;

		ctx(mode, "find");
		fx_gem_list_lock(fx, a);
		assert_null(gpuvm_bo_find(&fx->base, a));
		fx_gem_list_unlock(fx, a);

		vm_bo = fx_bo_obtain(fx, a);
		vmk = fx_vm_kref(&fx->base);
		fx_gem_list_lock(fx, a);
		found = gpuvm_bo_find(&fx->base, a);
		fx_gem_list_unlock(fx, a);
		assert_ptr_equal(found, vm_bo);
		assert_int_equal(fx_bo_kref(vm_bo), 2);
		assert_int_equal(fx_vm_kref(&fx->base), vmk); /* only +1 */
		assert_false(gpuvm_bo_put(found)); /* no lock: not final */

		/* The GEM list lock of the mode, and only it. */
		ctx(mode, "find without the GEM list lock");
		if (is_immediate(mode)) {
			assert_int_equal(gpuvm_gem_object_lock(a, NULL), 0);
			found = gpuvm_bo_find(&fx->base, a);
			gpuvm_gem_object_unlock(a);
		} else {
			gpuvm_gem_gpuva_lock(a);
			found = gpuvm_bo_find(&fx->base, a);
			gpuvm_gem_gpuva_unlock(a);
		}
		expect_warning(GPUVM_RULE_LOCK_NOT_HELD, "gpuvm_bo_find");
		assert_ptr_equal(found, vm_bo); /* found all the same */
		assert_false(gpuvm_bo_put(found));

		if (is_immediate(mode)) {
			/* A zombie is never found. */
			ctx(mode, "zombies are not found");
			assert_true(gpuvm_bo_put_deferred(vm_bo));
			gpuvm_gem_gpuva_lock(a);
			assert_null(gpuvm_bo_find(&fx->base, a));
			gpuvm_gem_gpuva_unlock(a);
			gpuvm_bo_deferred_cleanup(&fx->base);
		} else {
			assert_true(fx_bo_put_locked(fx, vm_bo));
		}
		assert_int_equal(drv.frees, 1);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

static void test_obtain_locked(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct gpuvm_gem_object *obj;
		struct fx_vm *fx1, *fx2;
		struct gpuvm_bo *v1, *again, *v2;
		int refs, k1;

		if (is_immediate(mode))
			continue;
		ctx(mode, "obtain_locked");
		obj = shared_obj_new();
		fx1 = new_vm(mode);
		fx2 = new_vm(mode);
		refs = gpuvm_gem_object_refcount(obj);
		k1 = fx_vm_kref(&fx1->base);

		/* Created: count 1, at the tail of the GEM's list, and on
		 * no VM list even though the object is external. */
		fx_gem_list_lock(fx1, obj);
		v1 = gpuvm_bo_obtain_locked(&fx1->base, obj);
		fx_gem_list_unlock(fx1, obj);
		assert_false(gpuvm_is_err_or_null(v1));
		assert_int_equal(drv.allocs, 1);
		assert_int_equal(fx_bo_kref(v1), 1);
		assert_true(fx_bo_on_gem_list(v1));
		assert_false(fx_bo_on_extobj(v1));
		assert_int_equal(fx_vm_kref(&fx1->base), k1 + 1);
		assert_int_equal(gpuvm_gem_object_refcount(obj), refs + 1);

		/* Found: the same one, +1, nothing else changes. */
		fx_gem_list_lock(fx1, obj);
		again = gpuvm_bo_obtain_locked(&fx1->base, obj);
		fx_gem_list_unlock(fx1, obj);
		assert_ptr_equal(again, v1);
		assert_int_equal(fx_bo_kref(v1), 2);
		assert_int_equal(drv.allocs, 1);
		assert_int_equal(fx_vm_kref(&fx1->base), k1 + 1);
		assert_int_equal(gpuvm_gem_object_refcount(obj), refs + 1);

		/* Another VM: appended after it. */
		fx_gem_list_lock(fx2, obj);
		v2 = gpuvm_bo_obtain_locked(&fx2->base, obj);
		fx_gem_list_unlock(fx2, obj);
		assert_ptr_not_equal(v2, v1);
		assert_ptr_equal(obj->gpuva.list.next, &v1->list.entry.gem);
		assert_ptr_equal(obj->gpuva.list.prev, &v2->list.entry.gem);
		assert_gem_consistent(obj);

		assert_false(fx_bo_put_locked(fx1, v1));
		assert_true(fx_bo_put_locked(fx1, v1));
		assert_true(fx_bo_put_locked(fx2, v2));
		assert_int_equal(gpuvm_gem_object_refcount(obj), refs);
		fx_vm_destroy(fx1);
		fx_vm_destroy(fx2);
		gpuvm_gem_object_put(obj);
	}
	fx_context("%s", "");
}

/* Immediate mode: reported. With the gpuva lock held (the mode's GEM
 * list lock) nothing else is. */
static void test_obtain_locked_immediate_warns(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct fx_vm *fx;
		struct gpuvm_gem_object *a;
		struct gpuvm_bo *vm_bo;

		if (!is_immediate(mode))
			continue;
		ctx(mode, "obtain_locked in immediate mode");
		fx = new_vm(mode);
		a = fx_obj(fx, 'A');
		gpuvm_gem_gpuva_lock(a);
		vm_bo = gpuvm_bo_obtain_locked(&fx->base, a);
		gpuvm_gem_gpuva_unlock(a);
		expect_warning(GPUVM_RULE_MODE, "gpuvm_bo_obtain_locked");
		assert_false(gpuvm_is_err_or_null(vm_bo));
		assert_true(fx_bo_on_gem_list(vm_bo));
		assert_true(gpuvm_bo_put_deferred(vm_bo));
		gpuvm_bo_deferred_cleanup(&fx->base);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

static void test_obtain_prealloc(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct fx_vm *fx = new_vm(mode);
		struct gpuvm *vm = &fx->base;
		struct gpuvm_gem_object *a = fx_obj(fx, 'A');
		int vmk = fx_vm_kref(vm), refs = gpuvm_gem_object_refcount(a);
		struct gpuvm_bo *p1, *p2, *r;

		if (!is_immediate(mode)) {
			/* Reported; with the staged GEM list lock held
			 * (find asserts it) nothing else is. */
			ctx(mode, "obtain_prealloc in staged mode");
			p1 = gpuvm_bo_create(vm, a);
			fx_gem_list_lock(fx, a);
			r = gpuvm_bo_obtain_prealloc(p1);
			fx_gem_list_unlock(fx, a);
			expect_warning(GPUVM_RULE_MODE,
				       "gpuvm_bo_obtain_prealloc");
			assert_ptr_equal(r, p1);
			assert_true(fx_bo_on_gem_list(p1));
			assert_true(fx_bo_put_locked(fx, p1));
			fx_vm_destroy(fx);
			continue;
		}

		ctx(mode, "obtain_prealloc publishes");
		p1 = gpuvm_bo_create(vm, a);
		r = gpuvm_bo_obtain_prealloc(p1);
		assert_ptr_equal(r, p1);
		assert_int_equal(fx_bo_kref(p1), 1);
		assert_true(fx_bo_on_gem_list(p1));
		assert_false(fx_bo_on_extobj(p1));
		assert_int_equal(fx_vm_kref(vm), vmk + 1);
		assert_int_equal(gpuvm_gem_object_refcount(a), refs + 1);
		assert_int_equal(gpuvm_lock_held_count(), 0);

		ctx(mode, "obtain_prealloc with a duplicate");
		p2 = gpuvm_bo_create(vm, a);
		assert_int_equal(fx_vm_kref(vm), vmk + 2);
		assert_int_equal(gpuvm_gem_object_refcount(a), refs + 2);
		r = gpuvm_bo_obtain_prealloc(p2);
		assert_ptr_equal(r, p1);
		assert_int_equal(fx_bo_kref(p1), 2);
		/* p2 went through vm_bo_free, outside the gpuva lock, with
		 * its VM and GEM references still held; then they went. */
		assert_int_equal(drv.frees, 1);
		assert_ptr_equal(drv.freed[0], p2);
		assert_int_equal(drv.under_gpuva_lock, 0);
		assert_int_equal(drv.vm_kref[0], vmk + 2);
		assert_int_equal(drv.obj_refs[0], refs + 2);
		assert_int_equal(fx_vm_kref(vm), vmk + 1);
		assert_int_equal(gpuvm_gem_object_refcount(a), refs + 1);
		assert_int_equal(gpuvm_lock_held_count(), 0);
		assert_gem_consistent(a);

		assert_false(gpuvm_bo_put_deferred(p1));
		assert_true(gpuvm_bo_put_deferred(p1));
		gpuvm_bo_deferred_cleanup(vm);
		assert_int_equal(drv.frees, 2);
		assert_int_equal(drv.under_gpuva_lock, 0);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* ---- get / put ----------------------------------------------------------- */

/*
 * Get and a non-final put need no lock; the final put destroys: off every
 * list, vm_bo_free while vm and obj are still referenced, then both
 * references go.
 */
static void test_get_put_final(void **state)
{
	unsigned int mode, k;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct fx_vm *fx = new_vm(mode);
		struct gpuvm *vm = &fx->base;
		struct gpuvm_gem_object *objs[2] = { fx_obj(fx, 'a'),
						     fx_obj(fx, 'B') };
		struct gpuvm_bo *bos[2];
		struct gpuvm_exec exec;

		ctx(mode, "set up");
		for (k = 0; k < 2; k++) {
			bos[k] = fx_bo_obtain(fx, objs[k]);
			extobj_add_locked(fx, bos[k]);
			evict_locked(bos[k], true);
		}
		assert_false(fx_bo_on_extobj(bos[0])); /* private */
		assert_true(fx_bo_on_extobj(bos[1]));
		assert_true(fx_bo_on_evict(bos[0]));
		assert_int_equal(fx_bo_on_evict(bos[1]), !is_protected(mode));
		lock_vm_and_extobjs(fx, &exec, 0);
		gpuvm_exec_fini(&exec);
		assert_true(fx_bo_on_evict(bos[1])); /* every mode now */

		for (k = 0; k < 2; k++) {
			struct gpuvm_bo *vm_bo = bos[k];
			int vmk = fx_vm_kref(vm);
			int refs = gpuvm_gem_object_refcount(objs[k]);
			unsigned long frees = drv.frees;

			ctx(mode, k ? "put external" : "put private");
			assert_ptr_equal(gpuvm_bo_get(vm_bo), vm_bo);
			assert_int_equal(fx_bo_kref(vm_bo), 2);
			assert_false(gpuvm_bo_put(vm_bo)); /* no lock needed */
			assert_int_equal(fx_bo_kref(vm_bo), 1);
			assert_int_equal(harness_warnings(NULL), 0);

			assert_true(fx_bo_put_locked(fx, vm_bo));
			assert_int_equal(drv.frees, frees + 1);
			assert_ptr_equal(drv.freed[frees], vm_bo);
			assert_int_equal(drv.vm_kref[frees], vmk);
			/* (A staged put holds an exec, which holds the
			 * external object once more.) */
			assert_int_equal(
				drv.obj_refs[frees],
				refs + (k == 1 && !is_immediate(mode)));
			assert_int_equal(fx_vm_kref(vm), vmk - 1);
			assert_int_equal(gpuvm_gem_object_refcount(objs[k]),
					 refs - 1);
			assert_true(gpuvm_list_empty(&objs[k]->gpuva.list));
			assert_gem_consistent(objs[k]);
		}
		assert_true(gpuvm_list_empty(&vm->extobj.list));
		assert_true(gpuvm_list_empty(&vm->evict.list));
		assert_false(gpuvm_bo_put(NULL));
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* ---- put_deferred, zombies, deferred cleanup ----------------------------- */

static void test_put_deferred(void **state)
{
	unsigned int mode, k;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct fx_vm *fx = new_vm(mode);
		struct gpuvm *vm = &fx->base;
		struct gpuvm_gem_object *objs[2] = { fx_obj(fx, 'a'),
						     fx_obj(fx, 'B') };
		struct gpuvm_bo *bos[2];
		struct gpuvm_exec exec;
		int vmk, refs[2];
		bool cookie;

		if (!is_immediate(mode)) {
			/* Staged: reported (a non-final put, nothing else
			 * to report). */
			ctx(mode, "put_deferred in staged mode");
			bos[0] = fx_bo_obtain(fx, objs[0]);
			gpuvm_bo_get(bos[0]);
			assert_false(gpuvm_bo_put_deferred(bos[0]));
			expect_warning(GPUVM_RULE_MODE,
				       "gpuvm_bo_put_deferred");
			assert_int_equal(fx_bo_kref(bos[0]), 1);
			assert_true(fx_bo_put_locked(fx, bos[0]));
			fx_vm_destroy(fx);
			continue;
		}

		ctx(mode, "set up");
		for (k = 0; k < 2; k++) {
			bos[k] = fx_bo_obtain(fx, objs[k]);
			extobj_add_locked(fx, bos[k]);
			evict_locked(bos[k], true);
			gpuvm_bo_get(bos[k]);
			refs[k] = gpuvm_gem_object_refcount(objs[k]);
		}
		lock_vm_and_extobjs(fx, &exec, 0);
		gpuvm_exec_fini(&exec);
		vmk = fx_vm_kref(vm);

		for (k = 0; k < 2; k++) {
			struct gpuvm_bo *vm_bo = bos[k];

			ctx(mode, k ? "zombie external" : "zombie private");
			/* Not the last: no lock, nothing moves. */
			assert_false(gpuvm_bo_put_deferred(vm_bo));
			assert_int_equal(fx_bo_kref(vm_bo), 1);
			assert_true(fx_bo_on_gem_list(vm_bo));
			assert_false(fx_bo_on_defer(vm_bo));

			/* The last one, inside a signalling section: it is
			 * fence-path safe. */
			cookie = gpuvm_dma_fence_begin_signalling();
			assert_true(gpuvm_bo_put_deferred(vm_bo));
			gpuvm_dma_fence_end_signalling(cookie);
			assert_int_equal(harness_warnings(NULL), 0);
			assert_int_equal(gpuvm_lock_held_count(), 0);
			assert_int_equal(fx_bo_kref(vm_bo), 0);
			assert_false(fx_bo_on_gem_list(vm_bo));
			assert_true(fx_bo_on_defer(vm_bo));
			/* Resv-protected lists keep their zombies until the
			 * cleanup takes the VM resv. */
			assert_int_equal(fx_bo_on_extobj(vm_bo),
					 k == 1 && is_protected(mode));
			assert_int_equal(fx_bo_on_evict(vm_bo),
					 is_protected(mode));
			/* The zombie still holds its VM and GEM. */
			assert_int_equal(fx_vm_kref(vm), vmk);
			assert_int_equal(gpuvm_gem_object_refcount(objs[k]),
					 refs[k]);
			assert_int_equal(drv.frees, 0);
			assert_gem_consistent(objs[k]);
		}
		assert_false(gpuvm_bo_put_deferred(NULL));
		assert_int_equal(fx_defer_count(vm), 2);

		ctx(mode, "cleanup");
		gpuvm_bo_deferred_cleanup(vm);
		assert_int_equal(drv.frees, 2);
		assert_ptr_equal(drv.freed[0], bos[1]); /* newest first */
		assert_ptr_equal(drv.freed[1], bos[0]);
		assert_int_equal(drv.under_gpuva_lock, 0);
		assert_int_equal(fx_defer_count(vm), 0);
		assert_true(gpuvm_list_empty(&vm->extobj.list));
		assert_true(gpuvm_list_empty(&vm->evict.list));
		assert_int_equal(fx_vm_kref(vm), vmk - 2);
		for (k = 0; k < 2; k++)
			assert_int_equal(gpuvm_gem_object_refcount(objs[k]),
					 refs[k] - 1);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* Every zombie is freed once, newest first, however it was made. */
static void test_deferred_cleanup_order(void **state)
{
	unsigned int mode, k;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct fx_vm *fx;
		struct gpuvm *vm;
		struct gpuvm_bo *bos[4];
		struct gpuva *va;
		const char names[4] = { 'a', 'B', 'C', 'd' };
		int vmk;

		if (!is_immediate(mode))
			continue;
		ctx(mode, "cleanup order");
		fx = new_vm(mode);
		vm = &fx->base;
		vmk = fx_vm_kref(vm);
		for (k = 0; k < 3; k++)
			bos[k] = fx_bo_obtain(fx, fx_obj(fx, names[k]));
		/* The fourth through a VA, made a zombie by unlink_defer. */
		va = fx_va_insert(fx, 0, 4, fx_obj(fx, 'd'), 0);
		bos[3] = fx_bo_obtain(fx, fx_obj(fx, 'd'));
		fx_va_link_to(fx, va, bos[3]);
		assert_false(gpuvm_bo_put_deferred(bos[3]));

		assert_true(gpuvm_bo_put_deferred(bos[1]));
		assert_true(gpuvm_bo_put_deferred(bos[0]));
		gpuva_unlink_defer(va);
		assert_true(gpuvm_bo_put_deferred(bos[2]));
		assert_int_equal(fx_defer_count(vm), 4);
		assert_int_equal(fx_vm_kref(vm), vmk + 5); /* 4 + the VA */

		gpuvm_bo_deferred_cleanup(vm);
		assert_int_equal(drv.frees, 4);
		assert_ptr_equal(drv.freed[0], bos[2]);
		assert_ptr_equal(drv.freed[1], bos[3]);
		assert_ptr_equal(drv.freed[2], bos[0]);
		assert_ptr_equal(drv.freed[3], bos[1]);
		assert_int_equal(fx_vm_kref(vm), vmk + 1);
		/* Nothing left: a second run does nothing. */
		gpuvm_bo_deferred_cleanup(vm);
		assert_int_equal(drv.frees, 4);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/*
 * With the checker off the deferred put takes its lean path: the same
 * counts, lists and order, so run the two tests above again that way.
 */
static void test_put_deferred_checker_off(void **state)
{
	gpuvm_debug_enable(false);
	test_put_deferred(state);
	test_deferred_cleanup_order(state);
	gpuvm_debug_enable(true);
}

/*
 * The last put of a vm_bo on no VM list, on the extobj list only, on the
 * evict list only, and on both, with the checker off (where a list the
 * vm_bo is not on is not locked) and on: each leaves exactly its own
 * entries, the others' stay.
 * @deferred: gpuvm_bo_put_deferred() and a cleanup in immediate mode,
 * else the final gpuvm_bo_put().
 */
static void put_listed_and_unlisted(bool checker, bool deferred)
{
	unsigned int mode, k;

	gpuvm_debug_enable(checker);
	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct fx_vm *fx;
		struct gpuvm *vm;
		struct gpuvm_gem_object *objs[4];
		struct gpuvm_bo *bos[4];
		struct gpuvm_exec exec;
		/* After each put: extobj and evict list lengths. */
		static const unsigned int extobj_left[4] = { 2, 1, 1, 0 };
		static const unsigned int evict_left[4] = { 2, 2, 1, 0 };
		static const char *const what[4] = { "put unlisted",
						     "put extobj only",
						     "put evict only",
						     "put on both lists" };

		if (is_protected(mode) || (deferred && !is_immediate(mode)))
			continue; /* the lists are the VM resv's: no lock */
		fx = new_vm(mode);
		vm = &fx->base;
		objs[0] = fx_obj(fx, 'a'); /* private: on no VM list */
		objs[1] = fx_obj(fx, 'B'); /* external: extobj only */
		objs[2] = fx_obj(fx, 'd'); /* private and evicted: evict */
		objs[3] = fx_obj(fx, 'C'); /* external and evicted: both */
		ctx(mode, "set up");
		for (k = 0; k < 4; k++) {
			bos[k] = fx_bo_obtain(fx, objs[k]);
			extobj_add_locked(fx, bos[k]);
		}
		evict_locked(bos[2], true);
		evict_locked(bos[3], true);
		lock_vm_and_extobjs(fx, &exec, 0);
		gpuvm_exec_fini(&exec);
		assert_int_equal(fx_list_count(&vm->extobj.list), 2);
		assert_int_equal(fx_list_count(&vm->evict.list), 2);

		for (k = 0; k < 4; k++) {
			ctx(mode, what[k]);
			if (deferred) {
				assert_true(gpuvm_bo_put_deferred(bos[k]));
				assert_int_equal(fx_defer_count(vm), 1);
				gpuvm_bo_deferred_cleanup(vm);
			} else {
				assert_true(fx_bo_put_locked(fx, bos[k]));
			}
			assert_int_equal(drv.frees, k + 1);
			assert_ptr_equal(drv.freed[k], bos[k]);
			assert_true(gpuvm_list_empty(&objs[k]->gpuva.list));
			assert_int_equal(fx_list_count(&vm->extobj.list),
					 extobj_left[k]);
			assert_int_equal(fx_list_count(&vm->evict.list),
					 evict_left[k]);
			if (k < 3) {
				assert_true(fx_bo_on_extobj(bos[3]));
				assert_true(fx_bo_on_evict(bos[3]));
			}
			assert_int_equal(gpuvm_lock_held_count(), 0);
		}
		fx_vm_destroy(fx);
	}
	gpuvm_debug_enable(true);
	assert_int_equal(harness_warnings(NULL), 0);
	fx_context("%s", "");
}

static void test_put_unlisted(void **state)
{
	(void)state;
	put_listed_and_unlisted(true, false);
	put_listed_and_unlisted(false, false);
	put_listed_and_unlisted(true, true);
	put_listed_and_unlisted(false, true);
}

/* A hook armed with the checker off still sends the put down the path
 * that has the hook points. */
static void test_put_deferred_hook_checker_off(void **state)
{
	struct fx_vm *fx = new_vm(2); /* fx_modes[2]: immediate */
	struct gpuvm_bo *vm_bo = fx_bo_obtain(fx, fx_obj(fx, 'a'));

	gpuvm_hook_count("put_deferred:after_unlock");
	gpuvm_debug_enable(false);
	gpuvm_bo_get(vm_bo);
	assert_false(gpuvm_bo_put_deferred(vm_bo));
	assert_int_equal(gpuvm_hook_hits("put_deferred:after_unlock"), 0);
	assert_true(gpuvm_bo_put_deferred(vm_bo));
	gpuvm_debug_enable(true);
	assert_int_equal(gpuvm_hook_hits("put_deferred:after_unlock"), 1);
	gpuvm_hook_release("put_deferred:after_unlock");
	assert_true(fx_bo_on_defer(vm_bo));
	gpuvm_bo_deferred_cleanup(&fx->base);
	assert_int_equal(drv.frees, 1);
	fx_vm_destroy(fx);
}

struct cleanup_worker {
	struct gpuvm *vm;
	pthread_t thread;
	int done;
};

static void *cleanup_main(void *arg)
{
	struct cleanup_worker *w = arg;

	gpuvm_bo_deferred_cleanup(w->vm);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * With GPUVM_RESV_PROTECTED the cleanup takes the VM resv itself: it
 * waits while another thread holds it. Without, it does not need it.
 */
static void test_deferred_cleanup_takes_vm_resv(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct fx_vm *fx;
		struct gpuvm_bo *vm_bo;
		struct cleanup_worker w;
		int done_early;

		if (!is_immediate(mode))
			continue;
		ctx(mode, "cleanup and the VM resv");
		fx = new_vm(mode);
		vm_bo = fx_bo_obtain(fx, fx_obj(fx, 'A'));
		extobj_add_locked(fx, vm_bo);
		assert_true(gpuvm_bo_put_deferred(vm_bo));

		fx_vm_resv_lock(fx);
		if (!is_protected(mode)) {
			/* Would deadlock or warn if it took the resv. */
			gpuvm_bo_deferred_cleanup(&fx->base);
			assert_int_equal(drv.frees, 1);
			fx_vm_resv_unlock(fx);
			fx_vm_destroy(fx);
			continue;
		}
		w.vm = &fx->base;
		w.done = 0;
		assert_int_equal(
			pthread_create(&w.thread, NULL, cleanup_main, &w), 0);
		/* Wait until the worker is queued on the VM resv (or,
		 * wrongly, done without it). */
		while (!gpuvm_ww_mutex_waiter_count__(
			       &gpuvm_resv(&fx->base)->lock) &&
		       !__atomic_load_n(&w.done, __ATOMIC_ACQUIRE))
			sched_yield();
		done_early = __atomic_load_n(&w.done, __ATOMIC_ACQUIRE);
		fx_vm_resv_unlock(fx);
		pthread_join(w.thread, NULL);
		assert_false(done_early);
		assert_int_equal(drv.frees, 1);
		assert_true(gpuvm_list_empty(&fx->base.extobj.list));
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* Calling it with the VM resv held is reported; it still cleans up,
 * under the caller's resv. */
static void test_deferred_cleanup_with_resv_held_warns(void **state)
{
	struct fx_vm *fx = new_vm(3);
	struct gpuvm_bo *vm_bo = fx_bo_obtain(fx, fx_obj(fx, 'A'));

	assert_true(is_immediate(3) && is_protected(3));
	extobj_add_locked(fx, vm_bo);
	assert_true(gpuvm_bo_put_deferred(vm_bo));
	assert_true(fx_bo_on_extobj(vm_bo));
	fx_vm_resv_lock(fx);
	gpuvm_bo_deferred_cleanup(&fx->base);
	expect_warning(GPUVM_RULE_LOCK_HELD, "gpuvm_bo_deferred_cleanup");
	assert_int_equal(drv.frees, 1);
	assert_true(gpuvm_list_empty(&fx->base.extobj.list));
	assert_true(gpuvm_resv_held(&fx->base));
	fx_vm_resv_unlock(fx);
	fx_vm_destroy(fx);
}

static int validated_calls;
static struct gpuvm_bo *validated[8];

static int record_validate(struct gpuvm_bo *vm_bo, struct gpuvm_exec *exec)
{
	if (validated_calls < 8)
		validated[validated_calls] = vm_bo;
	validated_calls++;
	gpuvm_bo_evict(vm_bo, false);
	return 0;
}

/*
 * While a zombie waits for cleanup, obtaining the same (VM, GEM) makes a
 * second vm_bo; both exist, and the walkers skip the zombie (with
 * GPUVM_RESV_PROTECTED it is still on the extobj and evict lists).
 */
static void test_zombie_and_new_vm_bo(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct fx_vm *fx;
		struct gpuvm *vm;
		struct gpuvm_gem_object *b;
		struct gpuvm_bo *v1, *v2, *found;
		struct gpuvm_exec exec;
		int ret;

		if (!is_immediate(mode))
			continue;
		ctx(mode, "zombie next to a new vm_bo");
		fx = new_vm(mode);
		vm = &fx->base;
		fx->ops.vm_bo_validate = record_validate;
		b = fx_obj(fx, 'B');
		v1 = fx_bo_obtain(fx, b);
		extobj_add_locked(fx, v1);
		evict_locked(v1, true);
		lock_vm_and_extobjs(fx, &exec, 0);
		gpuvm_exec_fini(&exec);
		assert_true(fx_bo_on_evict(v1));
		assert_true(gpuvm_bo_put_deferred(v1));

		v2 = fx_bo_obtain(fx, b);
		assert_ptr_not_equal(v2, v1);
		assert_int_equal(drv.allocs, 2);
		assert_true(fx_bo_on_defer(v1));
		assert_true(fx_bo_on_gem_list(v2));
		gpuvm_gem_gpuva_lock(b);
		found = gpuvm_bo_find(vm, b);
		gpuvm_gem_gpuva_unlock(b);
		assert_ptr_equal(found, v2);
		assert_false(gpuvm_bo_put_deferred(found));
		extobj_add_locked(fx, v2);
		evict_locked(v2, true);
		assert_int_equal(fx_list_count(&vm->extobj.list),
				 is_protected(mode) ? 2 : 1);

		/* No IGNORE_DUPLICATES: visiting the zombie would lock b a
		 * second time and fail with -EALREADY. */
		gpuvm_exec_init(&exec, 0, 0);
		gpuvm_exec_until_all_locked(&exec) {
			ret = gpuvm_prepare_vm(vm, &exec, 0);
			gpuvm_exec_retry_on_contention(&exec);
			assert_int_equal(ret, 0);
			ret = gpuvm_prepare_objects(vm, &exec, 0);
			gpuvm_exec_retry_on_contention(&exec);
			assert_int_equal(ret, 0);
		}
		assert_int_equal(exec.num_objects, 2);
		assert_true(fx_bo_on_evict(v2));
		validated_calls = 0;
		assert_int_equal(gpuvm_validate(vm, &exec), 0);
		assert_int_equal(validated_calls, 1);
		assert_ptr_equal(validated[0], v2);
		assert_false(fx_bo_on_evict(v2));
		/* The zombie stays where it was until the cleanup. */
		assert_int_equal(fx_bo_on_evict(v1), is_protected(mode));
		gpuvm_exec_fini(&exec);

		gpuvm_bo_deferred_cleanup(vm);
		assert_int_equal(drv.frees, 1);
		assert_ptr_equal(drv.freed[0], v1);
		assert_int_equal(fx_list_count(&vm->extobj.list), 1);
		assert_true(fx_bo_on_extobj(v2));
		assert_true(gpuvm_bo_put_deferred(v2));
		gpuvm_bo_deferred_cleanup(vm);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* ---- extobj and evict ----------------------------------------------------- */

static void test_extobj_add(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct fx_vm *fx = new_vm(mode);
		struct gpuvm *vm = &fx->base;
		struct gpuvm_bo *priv = fx_bo_obtain(fx, fx_obj(fx, 'a'));
		struct gpuvm_bo *ext = fx_bo_obtain(fx, fx_obj(fx, 'B'));
		struct gpuvm_bo *ext2 = fx_bo_obtain(fx, fx_obj(fx, 'C'));
		int kref = fx_bo_kref(ext);

		ctx(mode, "extobj_add");
		extobj_add_locked(fx, priv);
		assert_false(fx_bo_on_extobj(priv)); /* private: never */
		extobj_add_locked(fx, ext);
		extobj_add_locked(fx, ext); /* idempotent */
		assert_true(fx_bo_on_extobj(ext));
		assert_int_equal(fx_list_count(&vm->extobj.list), 1);
		assert_int_equal(fx_bo_kref(ext), kref); /* no reference */

		if (is_protected(mode)) {
			/* Without the VM resv: reported, added anyway. */
			ctx(mode, "extobj_add without the VM resv");
			gpuvm_bo_extobj_add(ext2);
			expect_warning(GPUVM_RULE_LOCK_NOT_HELD,
				       "gpuvm_bo_extobj_add");
		} else {
			gpuvm_bo_extobj_add(ext2); /* internal lock */
			assert_int_equal(harness_warnings(NULL), 0);
		}
		assert_int_equal(fx_list_count(&vm->extobj.list), 2);
		/* In order of addition. */
		assert_ptr_equal(vm->extobj.list.next, &ext->list.entry.extobj);

		assert_true(fx_bo_put_locked(fx, priv));
		assert_true(fx_bo_put_locked(fx, ext));
		assert_true(fx_bo_put_locked(fx, ext2));
		assert_true(gpuvm_list_empty(&vm->extobj.list));
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/*
 * evict sets the flag under the object's resv and moves the evict list,
 * except for an external object of a resv-protected VM: flag only; it
 * joins the list at prepare_objects and eviction off leaves it there.
 */
static void test_evict(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct fx_vm *fx = new_vm(mode);
		struct gpuvm *vm = &fx->base;
		struct gpuvm_bo *priv = fx_bo_obtain(fx, fx_obj(fx, 'a'));
		struct gpuvm_bo *ext = fx_bo_obtain(fx, fx_obj(fx, 'B'));
		struct gpuvm_exec exec;

		ctx(mode, "evict private");
		evict_locked(priv, true);
		evict_locked(priv, true);
		assert_true(priv->evicted);
		assert_true(fx_bo_on_evict(priv));
		assert_int_equal(fx_list_count(&vm->evict.list), 1);
		evict_locked(priv, false);
		assert_false(priv->evicted);
		assert_false(fx_bo_on_evict(priv));

		ctx(mode, "evict external");
		extobj_add_locked(fx, ext);
		evict_locked(ext, true);
		assert_true(ext->evicted);
		assert_int_equal(fx_bo_on_evict(ext), !is_protected(mode));
		lock_vm_and_extobjs(fx, &exec, 0);
		assert_true(fx_bo_on_evict(ext)); /* every mode now */
		gpuvm_exec_fini(&exec);
		evict_locked(ext, false);
		assert_false(ext->evicted);
		/* Resv-protected: only validate takes it off. */
		assert_int_equal(fx_bo_on_evict(ext), is_protected(mode));
		if (is_protected(mode)) {
			fx->ops.vm_bo_validate = record_validate;
			lock_vm_and_extobjs(fx, &exec, 0);
			validated_calls = 0;
			assert_int_equal(gpuvm_validate(vm, &exec), 0);
			assert_int_equal(validated_calls, 1);
			gpuvm_exec_fini(&exec);
			assert_false(fx_bo_on_evict(ext));
		}

		assert_true(fx_bo_put_locked(fx, priv));
		assert_true(fx_bo_put_locked(fx, ext));
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

static void test_evict_without_resv_warns(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct fx_vm *fx = new_vm(mode);
		struct gpuvm_bo *ext = fx_bo_obtain(fx, fx_obj(fx, 'B'));

		ctx(mode, "evict without the object's resv");
		gpuvm_bo_evict(ext, true);
		expect_warning(GPUVM_RULE_LOCK_NOT_HELD, "gpuvm_bo_evict");
		assert_true(ext->evicted);
		evict_locked(ext, false);
		assert_true(fx_bo_put_locked(fx, ext));
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* gem_evict reaches the vm_bos of every VM of the object. */
static void test_gem_evict(void **state)
{
	unsigned int mode, k;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct gpuvm_gem_object *obj = shared_obj_new();
		struct fx_vm *fx[2];
		struct gpuvm_bo *bos[2];
		int e;

		ctx(mode, "gem_evict");
		for (k = 0; k < 2; k++) {
			fx[k] = new_vm(mode);
			bos[k] = fx_bo_obtain(fx[k], obj);
			extobj_add_locked(fx[k], bos[k]);
		}
		for (e = 1; e >= 0; e--) {
			assert_int_equal(gpuvm_gem_object_lock(obj, NULL), 0);
			if (is_immediate(mode))
				gpuvm_gem_gpuva_lock(obj);
			gpuvm_bo_gem_evict(obj, e);
			if (is_immediate(mode))
				gpuvm_gem_gpuva_unlock(obj);
			gpuvm_gem_object_unlock(obj);
			for (k = 0; k < 2; k++) {
				assert_int_equal(bos[k]->evicted, e);
				assert_int_equal(fx_bo_on_evict(bos[k]),
						 e && !is_protected(mode));
			}
		}
		assert_int_equal(harness_warnings(NULL), 0);
		for (k = 0; k < 2; k++) {
			assert_true(fx_bo_put_locked(fx[k], bos[k]));
			fx_vm_destroy(fx[k]);
		}
		gpuvm_gem_object_put(obj);
	}
	fx_context("%s", "");
}

/* Immediate mode: the resv alone is not the GEM list lock. */
static void test_gem_evict_without_list_lock_warns(void **state)
{
	struct fx_vm *fx = new_vm(2);
	struct gpuvm_gem_object *b = fx_obj(fx, 'B');
	struct gpuvm_bo *vm_bo = fx_bo_obtain(fx, b);

	assert_true(is_immediate(2));
	assert_int_equal(gpuvm_gem_object_lock(b, NULL), 0);
	gpuvm_bo_gem_evict(b, true);
	gpuvm_gem_object_unlock(b);
	expect_warning(GPUVM_RULE_LOCK_NOT_HELD, "gpuvm_bo_gem_evict");
	assert_true(vm_bo->evicted);
	evict_locked(vm_bo, false);
	assert_true(fx_bo_put_locked(fx, vm_bo));
	fx_vm_destroy(fx);
}

/* Immediate mode: bo_unmap_ops_create wants the gpuva lock, the resv is
 * not enough (the staged case is in test_sm.c). */
static void test_bo_unmap_ops_create_without_list_lock_warns(void **state)
{
	struct fx_vm *fx = new_vm(2);
	struct gpuvm_gem_object *b = fx_obj(fx, 'B');
	struct gpuva *va = fx_va_insert(fx, 0, 4, b, 0);
	struct gpuvm_bo *vm_bo = fx_bo_obtain(fx, b);
	struct gpuva_ops *ops;

	fx_va_link_to(fx, va, vm_bo);
	assert_int_equal(gpuvm_gem_object_lock(b, NULL), 0);
	ops = gpuvm_bo_unmap_ops_create(vm_bo);
	gpuvm_gem_object_unlock(b);
	expect_warning(GPUVM_RULE_LOCK_NOT_HELD, "gpuvm_bo_unmap_ops_create");
	fx_assert_ops(fx, ops, "UNMAP B [0,4) @0 keep=0");
	gpuva_ops_free(&fx->base, ops);
	assert_false(gpuvm_bo_put_deferred(vm_bo));
	fx_vm_destroy(fx);
}

/* ---- the final put's lock rules ------------------------------------------ */

static void test_final_put_lock_rules(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct fx_vm *fx = new_vm(mode);
		struct gpuvm_gem_object *b = fx_obj(fx, 'B');
		struct gpuvm_bo *vm_bo;

		/* No lock at all: the GEM list lock is missing (and, with
		 * resv-protected lists, the VM resv: then hold that). */
		ctx(mode, "final put without the GEM list lock");
		vm_bo = fx_bo_obtain(fx, b);
		if (is_protected(mode))
			fx_vm_resv_lock(fx);
		assert_true(gpuvm_bo_put(vm_bo));
		if (is_protected(mode))
			fx_vm_resv_unlock(fx);
		expect_warning(GPUVM_RULE_LOCK_NOT_HELD, "gpuvm_bo_put");
		assert_int_equal(drv.frees, 1);

		if (!is_protected(mode)) {
			fx_vm_destroy(fx);
			continue;
		}
		/* The GEM list lock alone: the VM resv is missing. */
		ctx(mode, "final put without the VM resv");
		vm_bo = fx_bo_obtain(fx, b);
		if (is_immediate(mode)) {
			gpuvm_gem_gpuva_lock(b);
			assert_true(gpuvm_bo_put(vm_bo));
			gpuvm_gem_gpuva_unlock(b);
		} else {
			assert_int_equal(gpuvm_gem_object_lock(b, NULL), 0);
			assert_true(gpuvm_bo_put(vm_bo));
			gpuvm_gem_object_unlock(b);
		}
		expect_warning(GPUVM_RULE_LOCK_NOT_HELD, "gpuvm_bo_put");
		assert_int_equal(drv.frees, 2);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* ---- the driver's callbacks on every path -------------------------------- */

static void test_driver_callbacks_every_path(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct fx_vm *fx = new_vm(mode);
		struct gpuvm_gem_object *a = fx_obj(fx, 'a');
		struct gpuvm_gem_object *b = fx_obj(fx, 'B');
		struct gpuvm_bo *vm_bo;
		unsigned long allocs, frees;

		ctx(mode, "driver callbacks");
		/* Linked VAs: map, split, unmap through the fixture (its
		 * obtain, link, unlink and cleanup paths). */
		fx->link = true;
		fx_insert_layout(fx, "a [0,4) @0, B [4,8) @0, a [8,12) @8");
		/* Immediate: the second VA of a came with a duplicate
		 * prealloc, destroyed at once. */
		assert_int_equal(drv.allocs - drv.frees, 2);
		assert_int_equal(drv.frees, is_immediate(mode) ? 1 : 0);
		allocs = drv.allocs;
		frees = drv.frees;
		vm_bo = fx_bo_obtain(fx, b);
		assert_ptr_equal(vm_bo, fx_vm_bo(fx, b));
		if (is_immediate(mode)) {
			assert_int_equal(drv.allocs, allocs + 1);
			assert_int_equal(drv.frees, frees + 1);
			assert_false(gpuvm_bo_put_deferred(vm_bo));
		} else {
			assert_int_equal(drv.allocs, allocs);
			assert_false(fx_bo_put_locked(fx, vm_bo));
		}
		fx_clear(fx);
		if (is_immediate(mode))
			gpuvm_bo_deferred_cleanup(&fx->base);
		assert_null(fx_vm_bo(fx, a));
		assert_null(fx_vm_bo(fx, b));
		assert_int_equal(drv.allocs, drv.frees);
		assert_int_equal(drv.under_gpuva_lock, 0);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* ---- O(1) lookup: one GEM, many VMs --------------------------------------- */

#define MAX_VMS 100

static struct fx_vm *many_fx[MAX_VMS + 1];
static struct gpuvm_bo *many_bos[MAX_VMS + 1];

static struct gpuvm_bo *find_in(struct fx_vm *fx, struct gpuvm_gem_object *obj)
{
	struct gpuvm_bo *found;

	fx_gem_list_lock(fx, obj);
	found = gpuvm_bo_find(&fx->base, obj);
	if (found)
		assert_false(gpuvm_bo_put(found));
	fx_gem_list_unlock(fx, obj);
	return found;
}

static void check_all_found(struct gpuvm_gem_object *obj, unsigned int n)
{
	unsigned int k, live = 0;

	for (k = 0; k <= n; k++) {
		struct gpuvm_bo *found = find_in(many_fx[k], obj);

		if (found != many_bos[k])
			fail_msg("VM %u of %u: find returned %p, not %p", k, n,
				 (void *)found, (void *)many_bos[k]);
		live += many_bos[k] != NULL;
	}
	assert_int_equal(obj->gpuva.nr_vm_bos__, live);
	assert_gem_consistent(obj);
	if (live >= 8)
		assert_non_null(obj->gpuva.hash__);
}

static void test_lookup_many_vms(void **state)
{
	static const unsigned int counts[] = { 1, 7, 8, 9, 100 };
	static const unsigned int lookup_modes[] = { 0, 2 };
	unsigned int m, c, k;

	for (m = 0; m < ARRAY_SIZE(lookup_modes); m++) {
		unsigned int mode = lookup_modes[m];

		for (c = 0; c < ARRAY_SIZE(counts); c++) {
			unsigned int n = counts[c];
			struct gpuvm_gem_object *obj = shared_obj_new();

			fx_context("%s: %u VMs", fx_modes[mode].name, n);
			/* One VM more than mapped: it must find nothing. */
			for (k = 0; k <= n; k++) {
				many_fx[k] = new_vm(mode);
				many_bos[k] = NULL;
			}
			for (k = 0; k < n; k++) {
				many_bos[k] = fx_bo_obtain(many_fx[k], obj);
				/* Through every growth of the table. */
				if (n <= 9 || k % 7 == 0 || k == n - 1)
					check_all_found(obj, n);
			}
			if (n >= 8)
				assert_true((1u << obj->gpuva.hash_bits__) >=
					    n);
			/* Drop every third, look up, bring them back. */
			for (k = 0; k < n; k += 3) {
				assert_true(fx_bo_put_locked(many_fx[k],
							     many_bos[k]));
				many_bos[k] = NULL;
			}
			check_all_found(obj, n);
			for (k = 0; k < n; k += 3)
				many_bos[k] = fx_bo_obtain(many_fx[k], obj);
			check_all_found(obj, n);
			for (k = 0; k < n; k++) {
				assert_true(fx_bo_put_locked(many_fx[k],
							     many_bos[k]));
				many_bos[k] = NULL;
			}
			check_all_found(obj, n);
			assert_null(obj->gpuva.hash__);
			for (k = 0; k <= n; k++)
				fx_vm_destroy(many_fx[k]);
			gpuvm_gem_object_put(obj);
		}
	}
	fx_context("%s", "");
}

/* ---- allocation-failure sweeps ------------------------------------------ */

struct bo_sweep {
	struct fx_vm *fx;
	struct gpuvm_gem_object *obj;
	struct gpuvm_bo *result;
	struct gpuvm_bo *prealloc;
	int vmk, refs;
	long live;
	unsigned int nr_before, failures, successes;
};

static void bo_sweep_begin(struct bo_sweep *s)
{
	s->vmk = fx_vm_kref(&s->fx->base);
	s->refs = gpuvm_gem_object_refcount(s->obj);
	s->live = gpuvm_alloc_live();
	s->nr_before = s->obj->gpuva.nr_vm_bos__;
}

static void bo_sweep_unchanged(struct bo_sweep *s)
{
	assert_int_equal(fx_vm_kref(&s->fx->base), s->vmk);
	assert_int_equal(gpuvm_gem_object_refcount(s->obj), s->refs);
	assert_int_equal(gpuvm_alloc_live(), s->live);
	assert_int_equal(s->obj->gpuva.nr_vm_bos__, s->nr_before);
	assert_gem_consistent(s->obj);
}

static int create_op(void *arg)
{
	struct bo_sweep *s = arg;

	s->result = gpuvm_bo_create(&s->fx->base, s->obj);
	return s->result ? 0 : -ENOMEM;
}

static void create_check(void *arg, unsigned long n, int ret)
{
	struct bo_sweep *s = arg;

	assert_int_equal(ret, -ENOMEM);
	assert_null(s->result);
	bo_sweep_unchanged(s);
	s->failures++;
}

static void test_create_fault_sweep(void **state)
{
	unsigned int mode, k;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		for (k = 0; k < 2; k++) {
			struct bo_sweep s = { 0 };

			ctx(mode, k ? "create sweep, default" : "create sweep");
			s.fx = new_vm(mode);
			if (k) {
				s.fx->ops.vm_bo_alloc = NULL;
				s.fx->ops.vm_bo_free = NULL;
			}
			s.obj = fx_obj(s.fx, 'B');
			bo_sweep_begin(&s);
			assert_int_equal(gpuvm_alloc_fault_sweep(create_op,
								 create_check,
								 &s, 0),
					 1);
			assert_int_equal(s.failures, 1);
			check_fresh(s.fx, s.result, s.obj);
			if (is_immediate(mode)) {
				assert_true(gpuvm_bo_put_deferred(s.result));
				gpuvm_bo_deferred_cleanup(&s.fx->base);
			} else {
				assert_true(fx_bo_put_locked(s.fx, s.result));
			}
			bo_sweep_unchanged(&s);
			fx_vm_destroy(s.fx);
		}
	}
	fx_context("%s", "");
}

/*
 * obtain_locked: creating the vm_bo may fail (ERR_PTR(-ENOMEM), nothing
 * published, nothing changed); growing the GEM's table may fail too,
 * which is no error (lookups fall back to the list).
 */
static int obtain_locked_op(void *arg)
{
	struct bo_sweep *s = arg;

	/* The GEM list lock is held around the whole sweep: taking it
	 * allocates (the exec's array). */
	s->result = gpuvm_bo_obtain_locked(&s->fx->base, s->obj);
	return gpuvm_ptr_err_or_zero(s->result);
}

/* Published and found; the GEM list lock is held. */
static void check_published_locked(struct bo_sweep *s)
{
	struct gpuvm_bo *found;

	assert_false(gpuvm_is_err_or_null(s->result));
	assert_int_equal(fx_bo_kref(s->result), 1);
	found = gpuvm_bo_find(&s->fx->base, s->obj);
	assert_ptr_equal(found, s->result);
	assert_false(gpuvm_bo_put(found));
	assert_int_equal(s->obj->gpuva.nr_vm_bos__, s->nr_before + 1);
	assert_gem_consistent(s->obj);
}

static void obtain_locked_check(void *arg, unsigned long n, int ret)
{
	struct bo_sweep *s = arg;

	if (ret) {
		assert_int_equal(ret, -ENOMEM);
		assert_true(gpuvm_is_err(s->result));
		s->failures++;
	} else {
		/* The table could not grow: the vm_bo is there anyway. */
		check_published_locked(s);
		assert_true(gpuvm_bo_put(s->result));
		s->successes++;
	}
	bo_sweep_unchanged(s);
}

static void obtain_check_result(struct bo_sweep *s)
{
	fx_gem_list_lock(s->fx, s->obj);
	check_published_locked(s);
	fx_gem_list_unlock(s->fx, s->obj);
}

static void obtain_undo(struct bo_sweep *s)
{
	if (gpuvm_immediate_mode(&s->fx->base)) {
		assert_true(gpuvm_bo_put_deferred(s->result));
		gpuvm_bo_deferred_cleanup(&s->fx->base);
	} else {
		assert_true(fx_bo_put_locked(s->fx, s->result));
	}
}

/* Make @others VMs share @obj first (the next one grows the table at
 * 7 -> 8 and 16 -> 17). */
static void share_obj(struct fx_vm **others, struct gpuvm_bo **bos,
		      unsigned int n, unsigned int mode,
		      struct gpuvm_gem_object *obj)
{
	unsigned int k;

	for (k = 0; k < n; k++) {
		others[k] = new_vm(mode);
		bos[k] = fx_bo_obtain(others[k], obj);
	}
}

static void unshare_obj(struct fx_vm **others, struct gpuvm_bo **bos,
			unsigned int n)
{
	unsigned int k;

	for (k = 0; k < n; k++) {
		assert_true(fx_bo_put_locked(others[k], bos[k]));
		fx_vm_destroy(others[k]);
	}
}

static void test_obtain_locked_fault_sweep(void **state)
{
	static const unsigned int shared[] = { 0, 7, 16 };
	unsigned int mode, i;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		if (is_immediate(mode))
			continue;
		for (i = 0; i < ARRAY_SIZE(shared); i++) {
			struct fx_vm *others[16];
			struct gpuvm_bo *bos[16];
			struct bo_sweep s = { 0 };
			int ret;

			fx_context("%s: obtain_locked sweep, %u sharing",
				   fx_modes[mode].name, shared[i]);
			s.obj = shared_obj_new();
			share_obj(others, bos, shared[i], mode, s.obj);
			s.fx = new_vm(mode);
			fx_gem_list_lock(s.fx, s.obj);
			bo_sweep_begin(&s);
			ret = gpuvm_alloc_fault_sweep(
				obtain_locked_op, obtain_locked_check, &s, 0);
			check_published_locked(&s);
			fx_gem_list_unlock(s.fx, s.obj);
			/* The vm_bo, plus the table when it grows. */
			assert_int_equal(ret, shared[i] ? 2 : 1);
			assert_int_equal(s.failures, 1);
			assert_int_equal(s.successes, shared[i] ? 1 : 0);
			if (shared[i])
				assert_non_null(s.obj->gpuva.hash__);
			obtain_undo(&s);
			unshare_obj(others, bos, shared[i]);
			fx_vm_destroy(s.fx);
			gpuvm_gem_object_put(s.obj);
		}
	}
	fx_context("%s", "");
}

/* obtain_prealloc never fails: a table that cannot grow is no error. */
static int obtain_prealloc_op(void *arg)
{
	struct bo_sweep *s = arg;

	s->result = gpuvm_bo_obtain_prealloc(s->prealloc);
	return 0;
}

static void obtain_prealloc_check(void *arg, unsigned long n, int ret)
{
	struct bo_sweep *s = arg;

	assert_int_equal(ret, 0);
	assert_ptr_equal(s->result, s->prealloc);
	obtain_check_result(s);
	obtain_undo(s);
	s->successes++;
	/* A fresh prealloc for the next run. */
	s->prealloc = gpuvm_bo_create(&s->fx->base, s->obj);
	assert_non_null(s->prealloc);
	s->vmk++;
	s->refs++;
	bo_sweep_unchanged(s);
	s->vmk--;
	s->refs--;
}

static void test_obtain_prealloc_fault_sweep(void **state)
{
	static const unsigned int shared[] = { 0, 7, 16 };
	unsigned int mode, i;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		if (!is_immediate(mode))
			continue;
		for (i = 0; i < ARRAY_SIZE(shared); i++) {
			struct fx_vm *others[16];
			struct gpuvm_bo *bos[16];
			struct bo_sweep s = { 0 };
			int ret;

			fx_context("%s: obtain_prealloc sweep, %u sharing",
				   fx_modes[mode].name, shared[i]);
			s.obj = shared_obj_new();
			share_obj(others, bos, shared[i], mode, s.obj);
			s.fx = new_vm(mode);
			s.prealloc = gpuvm_bo_create(&s.fx->base, s.obj);
			bo_sweep_begin(&s);
			s.vmk--; /* the prealloc's references */
			s.refs--;
			ret = gpuvm_alloc_fault_sweep(obtain_prealloc_op,
						      obtain_prealloc_check, &s,
						      0);
			assert_int_equal(ret, shared[i] ? 1 : 0);
			assert_int_equal(s.successes, shared[i] ? 1 : 0);
			assert_ptr_equal(s.result, s.prealloc);
			obtain_check_result(&s);
			if (shared[i])
				assert_non_null(s.obj->gpuva.hash__);
			obtain_undo(&s);
			unshare_obj(others, bos, shared[i]);
			fx_vm_destroy(s.fx);
			gpuvm_gem_object_put(s.obj);
		}
	}
	fx_context("%s", "");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		drv_test(test_create),
		drv_test(test_unpublished_put_shared_gem),
		drv_test(test_find),
		drv_test(test_obtain_locked),
		drv_test(test_obtain_locked_immediate_warns),
		drv_test(test_obtain_prealloc),
		drv_test(test_get_put_final),
		drv_test(test_put_deferred),
		drv_test(test_deferred_cleanup_order),
		drv_test(test_put_deferred_checker_off),
		drv_test(test_put_unlisted),
		drv_test(test_put_deferred_hook_checker_off),
		drv_test(test_deferred_cleanup_takes_vm_resv),
		drv_test(test_deferred_cleanup_with_resv_held_warns),
		drv_test(test_zombie_and_new_vm_bo),
		drv_test(test_extobj_add),
		drv_test(test_evict),
		drv_test(test_evict_without_resv_warns),
		drv_test(test_gem_evict),
		drv_test(test_gem_evict_without_list_lock_warns),
		drv_test(test_bo_unmap_ops_create_without_list_lock_warns),
		drv_test(test_final_put_lock_rules),
		drv_test(test_driver_callbacks_every_path),
		drv_test(test_lookup_many_vms),
		drv_test(test_create_fault_sweep),
		drv_test(test_obtain_locked_fault_sweep),
		drv_test(test_obtain_prealloc_fault_sweep),
	};

	return harness_run("gpuvm/vm_bo", tests, argc, argv);
}
