// SPDX-License-Identifier: MIT
/*
 * The VM's locking and validation helpers, in the four locking modes:
 * prepare_vm; prepare_objects (each live extobj exactly once, the list
 * order restored by the lock-dropping walk, after an error and after a
 * contention too); prepare_range (NULL objects and the kernel node
 * skipped); gpuvm_vm_exec_lock (r_obj + extobjs + extra.fn, failure
 * leaves nothing locked, injected contention is retried), _array and
 * _range; gpuvm_validate (-EOPNOTSUPP, the plain/resv-protected
 * asymmetry, a callback error); gpuvm_resv_add_fence (usage per object,
 * reserved slots needed); the lock rules of these helpers, including two
 * walks of one list at once (GPUVM_RULE_LOCAL_LIST); and the
 * allocation-failure sweeps of gpuvm_vm_exec_lock (fence reservation and
 * growth of the exec's object array).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gpuvm/testing.h>
#include "gpuvm_fixture.h"
#include "harness.h"

/* Fence lists are freed after a grace period: wait before the leak
 * check. */
static int exec_teardown(void **state)
{
	gpuvm_alloc_drain();
	return harness_teardown(state);
}

#define exec_test(fn) \
	cmocka_unit_test_setup_teardown(fn, harness_setup, exec_teardown)

static bool is_protected(unsigned int mode)
{
	return fx_modes[mode].flags & GPUVM_RESV_PROTECTED;
}

static void ctx(unsigned int mode, const char *what)
{
	fx_context("%s: %s", fx_modes[mode].name, what);
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

/* A GEM outside every VM. */
static void sh_free(struct gpuvm_gem_object *obj)
{
	free(obj);
}

static const struct gpuvm_gem_object_funcs sh_funcs = { .free = sh_free };

static struct gpuvm_gem_object *obj_new(struct gpuvm_dma_resv *shared)
{
	struct gpuvm_gem_object *obj = calloc(1, sizeof(*obj));

	assert_non_null(obj);
	gpuvm_gem_object_init_shared_resv(obj, &sh_funcs, 4096, shared);
	return obj;
}

static struct gpuvm_bo *add_extobj(struct fx_vm *fx,
				   struct gpuvm_gem_object *obj)
{
	struct gpuvm_bo *vm_bo = fx_bo_obtain(fx, obj);

	if (gpuvm_resv_protected(&fx->base))
		fx_vm_resv_lock(fx);
	gpuvm_bo_extobj_add(vm_bo);
	if (gpuvm_resv_protected(&fx->base))
		fx_vm_resv_unlock(fx);
	return vm_bo;
}

static void evict_locked(struct gpuvm_bo *vm_bo, bool evict)
{
	assert_int_equal(gpuvm_gem_object_lock(vm_bo->obj, NULL), 0);
	gpuvm_bo_evict(vm_bo, evict);
	gpuvm_gem_object_unlock(vm_bo->obj);
}

/* The vm_bos on @head (an extobj or evict list), in order. */
static unsigned int snapshot(const struct gpuvm_list_head *head,
			     bool evict_list, struct gpuvm_bo **out,
			     unsigned int max)
{
	const struct gpuvm_list_head *pos;
	unsigned int n = 0;

	for (pos = head->next; pos != head; pos = pos->next) {
		struct gpuvm_bo *vm_bo =
			evict_list ? gpuvm_container_of(pos, struct gpuvm_bo,
							list.entry.evict) :
				     gpuvm_container_of(pos, struct gpuvm_bo,
							list.entry.extobj);

		assert_true(n < max);
		out[n++] = vm_bo;
	}
	return n;
}

static void assert_list(const struct gpuvm_list_head *head, bool evict_list,
			struct gpuvm_bo *const *expected, unsigned int n)
{
	struct gpuvm_bo *now[64];
	unsigned int i;

	assert_int_equal(snapshot(head, evict_list, now, 64), n);
	for (i = 0; i < n; i++)
		if (now[i] != expected[i])
			fail_msg("list entry %u differs", i);
}

static bool exec_has(struct gpuvm_exec *exec, struct gpuvm_gem_object *obj)
{
	struct gpuvm_gem_object *o;
	unsigned int n = 0;

	gpuvm_exec_for_each_locked_object(exec, o)
		n += o == obj;
	assert_true(n <= 1);
	return n == 1;
}

/* A VM with a private object and @n external ones (B, C, ...), all with
 * vm_bos on the extobj list. */
static struct fx_vm *vm_with_extobjs(unsigned int mode, unsigned int n,
				     struct gpuvm_bo **bos)
{
	struct fx_vm *fx =
		fx_vm_create(fx_modes[mode].flags, 0, 1 << 20, 1000, 24);
	unsigned int i;

	bos[0] = add_extobj(fx, fx_obj(fx, 'a'));
	for (i = 1; i <= n; i++)
		bos[i] = add_extobj(fx, fx_obj(fx, (char)('A' + i)));
	return fx;
}

static void put_bos(struct fx_vm *fx, struct gpuvm_bo **bos, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		assert_true(fx_bo_put_locked(fx, bos[i]));
}

/* ---- fences -------------------------------------------------------------- */

static const char *fence_name(struct gpuvm_dma_fence *f)
{
	return "vm-exec";
}

static const struct gpuvm_dma_fence_ops fence_ops = {
	.get_driver_name = fence_name,
	.get_timeline_name = fence_name,
};

static struct gpuvm_dma_fence *fence_new(void)
{
	struct gpuvm_dma_fence *f = gpuvm_kzalloc(sizeof(*f), GPUVM_GFP_KERNEL);

	assert_non_null(f);
	gpuvm_dma_fence_init(f, &fence_ops, NULL,
			     gpuvm_dma_fence_context_alloc(1), 1);
	return f;
}

static void fence_done(struct gpuvm_dma_fence *f)
{
	gpuvm_dma_fence_signal(f);
	gpuvm_dma_fence_put(f);
}

/* The usage of @f in @resv (locked), or -1 if it is not there. */
static int usage_of(struct gpuvm_dma_resv *resv, struct gpuvm_dma_fence *f)
{
	struct gpuvm_dma_resv_iter cursor;
	struct gpuvm_dma_fence *it;
	int usage = -1, n = 0;

	gpuvm_dma_resv_for_each_fence(&cursor, resv,
				      GPUVM_DMA_RESV_USAGE_BOOKKEEP, it) {
		if (it == f) {
			usage = (int)gpuvm_dma_resv_iter_usage(&cursor);
			n++;
		}
	}
	assert_true(n <= 1);
	return usage;
}

/* ---- prepare_vm / prepare_objects / prepare_range ----------------------- */

static void test_prepare_vm(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct fx_vm *fx =
			fx_vm_create(fx_modes[mode].flags, 0, 100, 0, 0);
		struct gpuvm *vm = &fx->base;
		struct gpuvm_dma_fence *f = fence_new(), *g = fence_new();
		struct gpuvm_exec exec;
		int ret;

		ctx(mode, "prepare_vm");
		gpuvm_exec_init(&exec, 0, 0);
		gpuvm_exec_until_all_locked(&exec) {
			ret = gpuvm_prepare_vm(vm, &exec, 1);
			gpuvm_exec_retry_on_contention(&exec);
			assert_int_equal(ret, 0);
		}
		assert_int_equal(exec.num_objects, 1);
		assert_ptr_equal(gpuvm_exec_obj(&exec, 0), vm->r_obj);
		assert_true(gpuvm_resv_held(vm));
		/* One slot reserved: the add succeeds. */
		gpuvm_dma_resv_add_fence(gpuvm_resv(vm), f,
					 GPUVM_DMA_RESV_USAGE_WRITE);
		assert_int_equal(harness_warnings(NULL), 0);
		gpuvm_exec_fini(&exec);

		/* 0 fences: lock only, no slot. */
		gpuvm_exec_init(&exec, 0, 0);
		gpuvm_exec_until_all_locked(&exec) {
			ret = gpuvm_prepare_vm(vm, &exec, 0);
			gpuvm_exec_retry_on_contention(&exec);
			assert_int_equal(ret, 0);
		}
		assert_true(gpuvm_resv_held(vm));
		gpuvm_dma_resv_add_fence(gpuvm_resv(vm), g,
					 GPUVM_DMA_RESV_USAGE_READ);
		assert_int_equal(harness_take_warnings(GPUVM_RULE_RESV_NO_SLOT),
				 1);
		gpuvm_exec_fini(&exec);
		assert_false(gpuvm_dma_resv_is_locked(gpuvm_resv(vm)));
		fence_done(f);
		fence_done(g);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* Lock the VM resv and the extobjs in one pass of @exec (flags given). */
static int lock_vm_objects(struct gpuvm *vm, struct gpuvm_exec *exec,
			   uint32_t flags, unsigned int num_fences)
{
	int ret = 0;

	gpuvm_exec_init(exec, flags, 0);
	gpuvm_exec_until_all_locked(exec) {
		ret = gpuvm_prepare_vm(vm, exec, num_fences);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			break;
		ret = gpuvm_prepare_objects(vm, exec, num_fences);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			break;
	}
	return ret;
}

static void test_prepare_objects_each_once(void **state)
{
	unsigned int mode, i;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct gpuvm_bo *bos[6], *before[8];
		struct fx_vm *fx = vm_with_extobjs(mode, 5, bos);
		struct gpuvm *vm = &fx->base;
		struct gpuvm_exec exec;
		unsigned int n;

		ctx(mode, "prepare_objects");
		n = snapshot(&vm->extobj.list, false, before, 8);
		assert_int_equal(n, 5); /* the private one is not there */
		/* No IGNORE_DUPLICATES: a second visit would fail. */
		assert_int_equal(lock_vm_objects(vm, &exec, 0, 0), 0);
		assert_int_equal(exec.num_objects, 6);
		assert_ptr_equal(gpuvm_exec_obj(&exec, 0), vm->r_obj);
		for (i = 0; i < n; i++) {
			/* Locked in list order. */
			assert_ptr_equal(gpuvm_exec_obj(&exec, i + 1),
					 before[i]->obj);
			assert_true(gpuvm_dma_resv_held(before[i]->obj->resv));
		}
		/* The walk gave the list back as it was. */
		assert_list(&vm->extobj.list, false, before, n);
		assert_null(vm->extobj.local_list);
		gpuvm_exec_fini(&exec);
		assert_int_equal(gpuvm_lock_held_count(), 0);
		put_bos(fx, bos, 6);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/*
 * An error in the middle of the walk (an extobj sharing the resv of an
 * earlier one, without IGNORE_DUPLICATES) stops it and still restores
 * the list; with IGNORE_DUPLICATES the shared resv is locked once.
 */
static void test_prepare_objects_error_restores_order(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct fx_vm *fx =
			fx_vm_create(fx_modes[mode].flags, 0, 100, 0, 0);
		struct gpuvm *vm = &fx->base;
		struct gpuvm_gem_object *b = fx_obj(fx, 'B');
		struct gpuvm_gem_object *twin = obj_new(b->resv);
		struct gpuvm_bo *bos[5], *before[8];
		struct gpuvm_exec exec;
		unsigned int n;

		ctx(mode, "prepare_objects error");
		bos[0] = add_extobj(fx, b);
		bos[1] = add_extobj(fx, fx_obj(fx, 'C'));
		bos[2] = add_extobj(fx, twin); /* b's resv again */
		bos[3] = add_extobj(fx, fx_obj(fx, 'D'));
		bos[4] = add_extobj(fx, fx_obj(fx, 'E'));
		n = snapshot(&vm->extobj.list, false, before, 8);
		assert_int_equal(n, 5);

		assert_int_equal(lock_vm_objects(vm, &exec, 0, 0), -EALREADY);
		assert_list(&vm->extobj.list, false, before, n);
		assert_null(vm->extobj.local_list);
		assert_false(exec_has(&exec, fx_obj(fx, 'D')));
		gpuvm_exec_fini(&exec);

		assert_int_equal(lock_vm_objects(vm, &exec,
						 GPUVM_EXEC_IGNORE_DUPLICATES,
						 0),
				 0);
		assert_int_equal(exec.num_objects, 5); /* r_obj, B, C, D, E */
		assert_false(exec_has(&exec, twin));
		assert_true(gpuvm_dma_resv_held(twin->resv));
		assert_list(&vm->extobj.list, false, before, n);
		gpuvm_exec_fini(&exec);

		put_bos(fx, bos, 5);
		gpuvm_gem_object_put(twin);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* A contention inside the walk (injected on the exec's ticket) restarts
 * the pass; the list comes back in order and every object is locked
 * once at the end. */
static void test_prepare_objects_contention(void **state)
{
	unsigned int mode, i;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct gpuvm_bo *bos[6], *before[8];
		struct fx_vm *fx = vm_with_extobjs(mode, 5, bos);
		struct gpuvm *vm = &fx->base;
		struct gpuvm_exec exec;
		unsigned int n, passes = 0;
		int ret = 0, first_ret = 0;

		ctx(mode, "prepare_objects contention");
		n = snapshot(&vm->extobj.list, false, before, 8);
		gpuvm_exec_init(&exec, 0, 0);
		gpuvm_exec_until_all_locked(&exec) {
			if (!passes++) /* r_obj free, B counts, C backs off */
				gpuvm_ww_mutex_inject_deadlock(&exec.ticket, 2);
			ret = gpuvm_prepare_vm(vm, &exec, 0);
			gpuvm_exec_retry_on_contention(&exec);
			assert_int_equal(ret, 0);
			ret = gpuvm_prepare_objects(vm, &exec, 0);
			if (passes == 1) {
				first_ret = ret;
				assert_list(&vm->extobj.list, false, before, n);
				assert_null(vm->extobj.local_list);
			}
			gpuvm_exec_retry_on_contention(&exec);
			assert_int_equal(ret, 0);
		}
		assert_int_equal(first_ret, -EDEADLK);
		assert_true(passes >= 2);
		assert_int_equal(exec.num_objects, 6);
		for (i = 0; i < n; i++)
			assert_true(exec_has(&exec, before[i]->obj));
		assert_list(&vm->extobj.list, false, before, n);
		gpuvm_exec_fini(&exec);
		put_bos(fx, bos, 6);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

static void test_prepare_range(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct fx_vm *fx =
			fx_vm_create(fx_modes[mode].flags, 0, 1024, 1000, 24);
		struct gpuvm *vm = &fx->base;
		struct gpuvm_gem_object *a = fx_obj(fx, 'a');
		struct gpuvm_gem_object *b = fx_obj(fx, 'B');
		struct gpuvm_gem_object *c = fx_obj(fx, 'C');
		struct gpuvm_exec exec;
		int ret;

		ctx(mode, "prepare_range");
		fx_insert_layout(fx, "a [0,4), - [4,8), B [8,12), C [16,20), "
				     "B [20,24)");

#define PREPARE_RANGE(flags, addr, range)                                     \
	do {                                                                  \
		gpuvm_exec_init(&exec, (flags), 0);                           \
		gpuvm_exec_until_all_locked(&exec) {                          \
			ret = gpuvm_prepare_range(vm, &exec, (addr), (range), \
						  1);                         \
			gpuvm_exec_retry_on_contention(&exec);                \
			if (ret)                                              \
				break;                                        \
		}                                                             \
	} while (0)

		/* The private VA locks the VM resv (through a), the NULL
		 * VA nothing. */
		PREPARE_RANGE(0, 0, 12);
		assert_int_equal(ret, 0);
		assert_int_equal(exec.num_objects, 2);
		assert_ptr_equal(gpuvm_exec_obj(&exec, 0), a);
		assert_ptr_equal(gpuvm_exec_obj(&exec, 1), b);
		assert_true(gpuvm_resv_held(vm));
		gpuvm_exec_fini(&exec);

		/* Only the NULL VA, only the kernel node: nothing. */
		PREPARE_RANGE(0, 4, 4);
		assert_int_equal(ret, 0);
		assert_int_equal(exec.num_objects, 0);
		gpuvm_exec_fini(&exec);
		PREPARE_RANGE(0, 990, 34);
		assert_int_equal(ret, 0);
		assert_int_equal(exec.num_objects, 0);
		gpuvm_exec_fini(&exec);

		/* No VM resv without a private VA in range. */
		PREPARE_RANGE(0, 10, 8);
		assert_int_equal(ret, 0);
		assert_int_equal(exec.num_objects, 2);
		assert_true(exec_has(&exec, b) && exec_has(&exec, c));
		assert_false(gpuvm_resv_held(vm));
		gpuvm_exec_fini(&exec);

		/* B twice in range: duplicates must be allowed. */
		PREPARE_RANGE(0, 8, 16);
		assert_int_equal(ret, -EALREADY);
		gpuvm_exec_fini(&exec);
		PREPARE_RANGE(GPUVM_EXEC_IGNORE_DUPLICATES, 8, 16);
		assert_int_equal(ret, 0);
		assert_int_equal(exec.num_objects, 2);
		gpuvm_exec_fini(&exec);
#undef PREPARE_RANGE
		assert_int_equal(gpuvm_lock_held_count(), 0);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* ---- gpuvm_vm_exec_lock and friends --------------------------------------- */

struct extra {
	struct gpuvm_gem_object *objs[4];
	unsigned int nr;
	unsigned int calls;
	int fail; /* returned instead of locking */
	unsigned int inject; /* on the first call: the interval */
};

static int extra_fn(struct gpuvm_vm_exec *vm_exec)
{
	struct extra *x = vm_exec->extra.priv;
	unsigned int i;
	int ret;

	if (!x->calls++ && x->inject)
		gpuvm_ww_mutex_inject_deadlock(&vm_exec->exec.ticket,
					       x->inject);
	if (x->fail)
		return x->fail;
	for (i = 0; i < x->nr; i++) {
		ret = vm_exec->num_fences ?
			      gpuvm_exec_prepare_obj(&vm_exec->exec, x->objs[i],
						     vm_exec->num_fences) :
			      gpuvm_exec_lock_obj(&vm_exec->exec, x->objs[i]);
		if (ret)
			return ret;
	}
	return 0;
}

static void assert_nothing_locked(struct fx_vm *fx, struct gpuvm_bo **bos,
				  unsigned int n)
{
	unsigned int i;

	assert_int_equal(gpuvm_lock_held_count(), 0);
	assert_false(gpuvm_dma_resv_is_locked(gpuvm_resv(&fx->base)));
	for (i = 0; i < n; i++)
		assert_false(gpuvm_dma_resv_is_locked(bos[i]->obj->resv));
}

static void test_vm_exec_lock(void **state)
{
	unsigned int mode, i;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct gpuvm_bo *bos[3];
		struct fx_vm *fx = vm_with_extobjs(mode, 2, bos);
		struct gpuvm *vm = &fx->base;
		struct gpuvm_gem_object *x = obj_new(NULL), *y = obj_new(NULL);
		struct extra ex = { { x, y }, 2, 0, 0, 0 };
		struct gpuvm_vm_exec vm_exec;
		int refs;

		ctx(mode, "vm_exec_lock");
		memset(&vm_exec, 0, sizeof(vm_exec));
		vm_exec.vm = vm;
		vm_exec.num_fences = 1;
		vm_exec.extra.fn = extra_fn;
		vm_exec.extra.priv = &ex;
		refs = gpuvm_gem_object_refcount(x);
		assert_int_equal(gpuvm_vm_exec_lock(&vm_exec), 0);
		assert_int_equal(ex.calls, 1);
		assert_int_equal(vm_exec.exec.num_objects, 5);
		assert_ptr_equal(gpuvm_exec_obj(&vm_exec.exec, 0), vm->r_obj);
		assert_ptr_equal(gpuvm_exec_obj(&vm_exec.exec, 3), x);
		assert_ptr_equal(gpuvm_exec_obj(&vm_exec.exec, 4), y);
		for (i = 1; i < 3; i++)
			assert_true(exec_has(&vm_exec.exec, bos[i]->obj));
		assert_true(gpuvm_resv_held(vm));
		assert_int_equal(gpuvm_gem_object_refcount(x), refs + 1);
		gpuvm_vm_exec_unlock(&vm_exec);
		assert_nothing_locked(fx, bos, 3);
		assert_int_equal(gpuvm_gem_object_refcount(x), refs);

		/* The callback fails: everything is unlocked already. */
		ctx(mode, "vm_exec_lock, extra fails");
		ex.calls = 0;
		ex.fail = -EIO;
		assert_int_equal(gpuvm_vm_exec_lock(&vm_exec), -EIO);
		assert_nothing_locked(fx, bos, 3);
		assert_null(vm_exec.exec.objects);
		/* The fixture's reference and the vm_bo's, no exec's. */
		assert_int_equal(gpuvm_gem_object_refcount(bos[1]->obj), 2);
		ex.fail = 0;

		/* A lock error of its own (x twice without
		 * IGNORE_DUPLICATES): same. */
		ex.objs[1] = x;
		assert_int_equal(gpuvm_vm_exec_lock(&vm_exec), -EALREADY);
		assert_nothing_locked(fx, bos, 3);
		assert_int_equal(gpuvm_gem_object_refcount(x), refs);
		ex.objs[1] = y;

		/* Contention in the callback: the whole pass is redone. */
		ctx(mode, "vm_exec_lock, contention");
		ex.calls = 0;
		ex.inject = 1;
		assert_int_equal(gpuvm_vm_exec_lock(&vm_exec), 0);
		assert_true(ex.calls >= 2);
		assert_int_equal(vm_exec.exec.num_objects, 5);
		assert_true(exec_has(&vm_exec.exec, x));
		assert_true(exec_has(&vm_exec.exec, y));
		for (i = 1; i < 3; i++)
			assert_true(exec_has(&vm_exec.exec, bos[i]->obj));
		gpuvm_vm_exec_unlock(&vm_exec);
		assert_nothing_locked(fx, bos, 3);

		put_bos(fx, bos, 3);
		gpuvm_gem_object_put(x);
		gpuvm_gem_object_put(y);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

static int unexpected_extra(struct gpuvm_vm_exec *vm_exec)
{
	fail_msg("the driver's extra.fn must not run");
	return 0;
}

static void test_vm_exec_lock_array(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct gpuvm_bo *bos[3];
		struct fx_vm *fx = vm_with_extobjs(mode, 2, bos);
		struct gpuvm_gem_object *x = obj_new(NULL), *y = obj_new(NULL);
		struct gpuvm_gem_object *objs[2] = { x, y };
		struct gpuvm_dma_fence *f = fence_new();
		struct gpuvm_vm_exec vm_exec;

		ctx(mode, "vm_exec_lock_array");
		memset(&vm_exec, 0, sizeof(vm_exec));
		vm_exec.vm = &fx->base;
		vm_exec.num_fences = 1;
		vm_exec.extra.fn = unexpected_extra;
		assert_int_equal(gpuvm_vm_exec_lock_array(&vm_exec, objs, 2),
				 0);
		/* The driver's extra did not run, and is back (the kernel
		 * leaves it pointing into lock_array's frame). */
		assert_ptr_equal(vm_exec.extra.fn, unexpected_extra);
		assert_int_equal(vm_exec.exec.num_objects, 5);
		assert_ptr_equal(gpuvm_exec_obj(&vm_exec.exec, 3), objs[0]);
		assert_ptr_equal(gpuvm_exec_obj(&vm_exec.exec, 4), objs[1]);
		/* With their slots reserved. */
		gpuvm_dma_resv_add_fence(objs[1]->resv, f,
					 GPUVM_DMA_RESV_USAGE_READ);
		assert_int_equal(harness_warnings(NULL), 0);
		gpuvm_vm_exec_unlock(&vm_exec);
		assert_nothing_locked(fx, bos, 3);

		/* An error: nothing stays locked. */
		objs[1] = x;
		assert_int_equal(gpuvm_vm_exec_lock_array(&vm_exec, objs, 2),
				 -EALREADY);
		assert_nothing_locked(fx, bos, 3);
		assert_false(gpuvm_dma_resv_is_locked(x->resv));
		assert_int_equal(gpuvm_gem_object_refcount(x), 1);

		put_bos(fx, bos, 3);
		gpuvm_gem_object_put(x);
		gpuvm_gem_object_put(y);
		fence_done(f);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

static void test_vm_exec_lock_range(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct fx_vm *fx =
			fx_vm_create(fx_modes[mode].flags, 0, 1024, 0, 0);
		struct gpuvm *vm = &fx->base;
		struct gpuvm_gem_object *b = fx_obj(fx, 'B');
		struct gpuvm_gem_object *c = fx_obj(fx, 'C');
		struct gpuvm_vm_exec vm_exec;
		struct gpuvm_bo *bos[2];

		ctx(mode, "vm_exec_lock_range");
		fx_insert_layout(fx, "a [0,4), - [4,8), B [8,12), B [12,16)");
		/* C is an extobj but maps nothing in range. */
		bos[0] = add_extobj(fx, c);
		bos[1] = add_extobj(fx, b);
		memset(&vm_exec, 0, sizeof(vm_exec));
		vm_exec.vm = vm;
		vm_exec.flags = GPUVM_EXEC_IGNORE_DUPLICATES;
		vm_exec.extra.fn = unexpected_extra;
		assert_int_equal(gpuvm_vm_exec_lock_range(&vm_exec, 4, 12), 0);
		assert_int_equal(vm_exec.exec.num_objects, 1);
		assert_ptr_equal(gpuvm_exec_obj(&vm_exec.exec, 0), b);
		assert_false(gpuvm_resv_held(vm)); /* no private VA */
		assert_false(gpuvm_dma_resv_held(c->resv));
		gpuvm_vm_exec_unlock(&vm_exec);

		assert_int_equal(gpuvm_vm_exec_lock_range(&vm_exec, 0, 16), 0);
		assert_int_equal(vm_exec.exec.num_objects, 2);
		assert_true(gpuvm_resv_held(vm));
		gpuvm_vm_exec_unlock(&vm_exec);

		/* Duplicates not allowed: the error leaves nothing. */
		vm_exec.flags = 0;
		assert_int_equal(gpuvm_vm_exec_lock_range(&vm_exec, 0, 16),
				 -EALREADY);
		assert_nothing_locked(fx, bos, 2);
		put_bos(fx, bos, 2);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* ---- gpuvm_validate -------------------------------------------------------- */

enum validate_how {
	V_EVICT_FALSE, /* gpuvm_bo_evict(vm_bo, false), as drivers do */
	V_CLEAR_FLAG, /* clears the flag behind the library's back */
	V_KEEP, /* leaves it evicted */
	V_FAIL, /* returns -EIO */
};

static struct {
	struct gpuvm_bo *bos[8];
	enum validate_how how[8];
	unsigned int nr;
	struct gpuvm_bo *called[16];
	unsigned int calls;
	/* Re-enter gpuvm_validate() from the first callback. */
	bool reenter;
	int inner_ret;
} val;

static int validate_cb(struct gpuvm_bo *vm_bo, struct gpuvm_exec *exec)
{
	unsigned int i;

	if (val.calls < 16)
		val.called[val.calls] = vm_bo;
	val.calls++;
	if (val.reenter) {
		val.reenter = false;
		val.inner_ret = gpuvm_validate(vm_bo->vm, exec);
	}
	for (i = 0; i < val.nr; i++) {
		if (val.bos[i] != vm_bo)
			continue;
		switch (val.how[i]) {
		case V_EVICT_FALSE:
			gpuvm_bo_evict(vm_bo, false);
			return 0;
		case V_CLEAR_FLAG:
			vm_bo->evicted = false;
			return 0;
		case V_KEEP:
			return 0;
		case V_FAIL:
			return -EIO;
		}
	}
	return 0;
}

/* A private and two external vm_bos, all evicted and on the evict list
 * (prepare_objects puts the external ones there when resv-protected). */
static struct fx_vm *evicted_vm(unsigned int mode, struct gpuvm_bo **bos)
{
	struct fx_vm *fx = vm_with_extobjs(mode, 2, bos);
	struct gpuvm_exec exec;
	unsigned int i;

	fx->ops.vm_bo_validate = validate_cb;
	for (i = 0; i < 3; i++)
		evict_locked(bos[i], true);
	assert_int_equal(lock_vm_objects(&fx->base, &exec, 0, 0), 0);
	gpuvm_exec_fini(&exec);
	assert_list(&fx->base.evict.list, true, bos, 3);
	memset(&val, 0, sizeof(val));
	memcpy(val.bos, bos, sizeof(*bos) * 3);
	val.nr = 3;
	return fx;
}

static void test_validate_without_callback(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct gpuvm_bo *bos[3];
		struct fx_vm *fx = evicted_vm(mode, bos);
		struct gpuvm_exec exec;

		ctx(mode, "validate without the callback");
		fx->ops.vm_bo_validate = NULL;
		/* Checked before anything else: no lock is needed. */
		gpuvm_exec_init(&exec, 0, 0);
		assert_int_equal(gpuvm_validate(&fx->base, &exec), -EOPNOTSUPP);
		gpuvm_exec_fini(&exec);
		assert_int_equal(harness_warnings(NULL), 0);
		assert_list(&fx->base.evict.list, true, bos, 3);
		put_bos(fx, bos, 3);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/*
 * Resv-protected: validate removes the entries whose flag is clear after
 * the callback and keeps the others. Plain: the library never removes
 * an entry itself; gpuvm_bo_evict(vm_bo, false) in the callback does.
 */
static void test_validate_asymmetry(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct gpuvm_bo *bos[3];
		struct fx_vm *fx = evicted_vm(mode, bos);
		struct gpuvm_vm_exec vm_exec = { .vm = &fx->base };
		struct gpuvm_exec exec;

		ctx(mode, "validate");
		val.how[0] = V_EVICT_FALSE;
		val.how[1] = V_CLEAR_FLAG;
		val.how[2] = V_KEEP;
		assert_int_equal(lock_vm_objects(&fx->base, &exec, 0, 0), 0);
		assert_int_equal(gpuvm_validate(&fx->base, &exec), 0);
		assert_int_equal(val.calls, 3);
		assert_ptr_equal(val.called[0], bos[0]);
		assert_ptr_equal(val.called[1], bos[1]);
		assert_ptr_equal(val.called[2], bos[2]);
		if (is_protected(mode))
			assert_list(&fx->base.evict.list, true, bos + 2, 1);
		else
			assert_list(&fx->base.evict.list, true, bos + 1, 2);
		assert_null(fx->base.evict.local_list);
		gpuvm_exec_fini(&exec);

		/* What is left is validated again next time. */
		memset(val.how, 0, sizeof(val.how)); /* V_EVICT_FALSE */
		val.calls = 0;
		assert_int_equal(gpuvm_vm_exec_lock(&vm_exec), 0);
		assert_int_equal(gpuvm_vm_exec_validate(&vm_exec), 0);
		assert_int_equal(val.calls, is_protected(mode) ? 1 : 2);
		assert_true(gpuvm_list_empty(&fx->base.evict.list));
		gpuvm_vm_exec_unlock(&vm_exec);
		put_bos(fx, bos, 3);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

static void test_validate_error_stops(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct gpuvm_bo *bos[3];
		struct fx_vm *fx = evicted_vm(mode, bos);
		struct gpuvm_exec exec;

		ctx(mode, "validate error");
		val.how[0] = V_KEEP;
		val.how[1] = V_FAIL;
		val.how[2] = V_EVICT_FALSE;
		assert_int_equal(lock_vm_objects(&fx->base, &exec, 0, 0), 0);
		assert_int_equal(gpuvm_validate(&fx->base, &exec), -EIO);
		assert_int_equal(val.calls, 2); /* the third is not reached */
		assert_true(bos[2]->evicted);
		assert_list(&fx->base.evict.list, true, bos, 3);
		assert_null(fx->base.evict.local_list);
		gpuvm_exec_fini(&exec);
		put_bos(fx, bos, 3);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* ---- gpuvm_resv_add_fence ------------------------------------------------ */

static void test_resv_add_fence(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct gpuvm_bo *bos[3];
		struct fx_vm *fx = vm_with_extobjs(mode, 2, bos);
		struct gpuvm *vm = &fx->base;
		struct gpuvm_gem_object *x = obj_new(NULL);
		struct gpuvm_gem_object *priv = fx_obj(fx, 'a');
		struct extra ex = { { x, priv }, 2, 0, 0, 0 };
		struct gpuvm_dma_fence *f = fence_new(), *g = fence_new();
		struct gpuvm_vm_exec vm_exec;

		ctx(mode, "resv_add_fence");
		memset(&vm_exec, 0, sizeof(vm_exec));
		vm_exec.vm = vm;
		vm_exec.flags = GPUVM_EXEC_IGNORE_DUPLICATES;
		vm_exec.num_fences = 1;
		vm_exec.extra.fn = extra_fn;
		vm_exec.extra.priv = &ex;
		assert_int_equal(gpuvm_vm_exec_lock(&vm_exec), 0);
		/* r_obj, B, C, X; the private one shares r_obj's resv. */
		assert_int_equal(vm_exec.exec.num_objects, 4);
		gpuvm_vm_exec_resv_add_fence(&vm_exec, f,
					     GPUVM_DMA_RESV_USAGE_WRITE,
					     GPUVM_DMA_RESV_USAGE_READ);
		assert_int_equal(harness_warnings(NULL), 0);
		assert_int_equal(usage_of(gpuvm_resv(vm), f),
				 GPUVM_DMA_RESV_USAGE_WRITE);
		assert_int_equal(usage_of(priv->resv, f),
				 GPUVM_DMA_RESV_USAGE_WRITE);
		assert_int_equal(usage_of(bos[1]->obj->resv, f),
				 GPUVM_DMA_RESV_USAGE_READ);
		assert_int_equal(usage_of(bos[2]->obj->resv, f),
				 GPUVM_DMA_RESV_USAGE_READ);
		/* Not in the VM, but external to it all the same. */
		assert_int_equal(usage_of(x->resv, f),
				 GPUVM_DMA_RESV_USAGE_READ);
		gpuvm_vm_exec_unlock(&vm_exec);

		/* Without reserved slots every add is refused. */
		ctx(mode, "resv_add_fence without slots");
		vm_exec.num_fences = 0;
		assert_int_equal(gpuvm_vm_exec_lock(&vm_exec), 0);
		gpuvm_resv_add_fence(vm, &vm_exec.exec, g,
				     GPUVM_DMA_RESV_USAGE_BOOKKEEP,
				     GPUVM_DMA_RESV_USAGE_BOOKKEEP);
		assert_int_equal(harness_take_warnings(GPUVM_RULE_RESV_NO_SLOT),
				 4);
		assert_int_equal(harness_warnings(NULL), 0);
		assert_int_equal(usage_of(x->resv, g), -1);
		gpuvm_vm_exec_unlock(&vm_exec);

		put_bos(fx, bos, 3);
		gpuvm_gem_object_put(x);
		fence_done(f);
		fence_done(g);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* ---- lock rules ------------------------------------------------------------- */

static void test_resv_protected_helpers_need_vm_resv(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct gpuvm_bo *bos[2];
		struct fx_vm *fx;
		struct gpuvm_exec exec;
		int ret;

		if (!is_protected(mode))
			continue;
		fx = vm_with_extobjs(mode, 1, bos);
		fx->ops.vm_bo_validate = validate_cb;

		ctx(mode, "prepare_objects without the VM resv");
		gpuvm_exec_init(&exec, 0, 0);
		gpuvm_exec_until_all_locked(&exec) {
			ret = gpuvm_prepare_objects(&fx->base, &exec, 0);
			gpuvm_exec_retry_on_contention(&exec);
			assert_int_equal(ret, 0);
		}
		expect_warning(GPUVM_RULE_LOCK_NOT_HELD,
			       "gpuvm_prepare_objects");
		assert_true(exec_has(&exec, bos[1]->obj)); /* done anyway */

		/* Nothing evicted: the only report is the VM resv. */
		ctx(mode, "validate without the VM resv");
		assert_int_equal(gpuvm_validate(&fx->base, &exec), 0);
		expect_warning(GPUVM_RULE_LOCK_NOT_HELD, "gpuvm_validate");
		gpuvm_exec_fini(&exec);
		put_bos(fx, bos, 2);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* A walk of the evict list from inside the callback of a walk of the
 * same list (plain mode, where the walk drops the list lock). */
static void test_validate_reentered_warns(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct gpuvm_bo *bos[3];
		struct fx_vm *fx;
		struct gpuvm_exec exec;

		if (is_protected(mode))
			continue;
		ctx(mode, "validate inside validate");
		fx = evicted_vm(mode, bos);
		/* One entry: the inner walk checks (and reports) once per
		 * step, as the kernel's, and then finds the list empty. */
		evict_locked(bos[1], false);
		evict_locked(bos[2], false);
		assert_list(&fx->base.evict.list, true, bos, 1);
		val.reenter = true;
		val.how[0] = V_EVICT_FALSE;
		assert_int_equal(lock_vm_objects(&fx->base, &exec, 0, 0), 0);
		assert_int_equal(gpuvm_validate(&fx->base, &exec), 0);
		expect_warning(GPUVM_RULE_LOCAL_LIST, "gpuvm_validate");
		assert_int_equal(val.inner_ret, 0);
		assert_int_equal(val.calls, 1);
		assert_true(gpuvm_list_empty(&fx->base.evict.list));
		assert_null(fx->base.evict.local_list);
		gpuvm_exec_fini(&exec);
		put_bos(fx, bos, 3);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/*
 * Two prepare_objects walks of one extobj list at once. The only driver
 * code that runs inside a walk is vm_bo_free, when the walk's temporary
 * reference turns out to be the last; so: another thread holds the
 * object's resv, the walk takes its reference and waits for the lock,
 * the other thread drops the last other reference and unlocks, the walk
 * destroys the vm_bo, and vm_bo_free starts a second walk.
 */
static struct {
	struct gpuvm *vm;
	struct gpuvm_exec *exec;
	unsigned int calls;
	int inner_ret;
} reentry;

static void reentry_bo_free(struct gpuvm_bo *vm_bo)
{
	reentry.calls++;
	reentry.inner_ret = gpuvm_prepare_objects(reentry.vm, reentry.exec, 0);
	gpuvm_kfree(vm_bo);
}

struct holder {
	struct gpuvm_gem_object *obj;
	struct gpuvm_bo *vm_bo;
	int locked;
	int ret;
	bool gave_up;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *holder_main(void *arg)
{
	struct holder *h = arg;
	/* Only a broken walk never takes its reference: then give up
	 * rather than hang (the test fails). */
	int64_t deadline = now_ns() + 10 * 1000000000ll;

	h->ret = gpuvm_dma_resv_lock(h->obj->resv, NULL);
	__atomic_store_n(&h->locked, 1, __ATOMIC_RELEASE);
	/* The owner's reference plus the walk's. */
	while (__atomic_load_n(&h->vm_bo->kref, __ATOMIC_ACQUIRE) != 2) {
		if (now_ns() > deadline) {
			h->gave_up = true;
			break;
		}
		sched_yield();
	}
	if (!h->gave_up)
		gpuvm_bo_put(h->vm_bo); /* not the last: no lock needed */
	gpuvm_dma_resv_unlock(h->obj->resv);
	return NULL;
}

static void test_prepare_objects_two_walks_warn(void **state)
{
	struct fx_vm *fx = fx_vm_create(0, 0, 100, 0, 0);
	struct gpuvm *vm = &fx->base;
	struct gpuvm_gem_object *b = fx_obj(fx, 'B');
	struct gpuvm_bo *vm_bo = add_extobj(fx, b);
	struct holder h = { b, vm_bo, 0, -1, false };
	struct gpuvm_exec exec;
	pthread_t thread;
	int ret = -1;

	fx->ops.vm_bo_free = reentry_bo_free;
	memset(&reentry, 0, sizeof(reentry));
	reentry.vm = vm;
	reentry.exec = &exec;
	assert_int_equal(pthread_create(&thread, NULL, holder_main, &h), 0);
	while (!__atomic_load_n(&h.locked, __ATOMIC_ACQUIRE))
		sched_yield();

	gpuvm_exec_init(&exec, 0, 0);
	gpuvm_exec_until_all_locked(&exec) {
		ret = gpuvm_prepare_objects(vm, &exec, 0);
		gpuvm_exec_retry_on_contention(&exec);
	}
	pthread_join(thread, NULL);
	assert_false(h.gave_up);
	assert_int_equal(h.ret, 0);
	assert_int_equal(ret, 0);
	assert_int_equal(reentry.calls, 1);
	assert_int_equal(reentry.inner_ret, 0);
	expect_warning(GPUVM_RULE_LOCAL_LIST, "gpuvm_prepare_objects");
	assert_true(gpuvm_list_empty(&vm->extobj.list));
	assert_null(vm->extobj.local_list);
	gpuvm_exec_fini(&exec);
	fx_vm_destroy(fx);
}

/* ---- allocation-failure sweeps --------------------------------------------- */

/* Everything a sweep run builds, made again after each failing run so
 * that every run starts cold (no fence list allocated yet). */
struct exec_sweep {
	unsigned int mode;
	struct fx_vm *fx;
	struct gpuvm_bo *bos[4];
	struct gpuvm_gem_object *x;
	struct extra ex;
	struct gpuvm_vm_exec vm_exec;
	long live;
	int refs[5];
	unsigned int failures, absorbed;
};

static void exec_sweep_build(struct exec_sweep *s)
{
	unsigned int i;

	s->live = gpuvm_alloc_live();
	s->fx = vm_with_extobjs(s->mode, 3, s->bos);
	s->x = obj_new(NULL);
	memset(&s->ex, 0, sizeof(s->ex));
	s->ex.objs[0] = s->x;
	s->ex.nr = 1;
	memset(&s->vm_exec, 0, sizeof(s->vm_exec));
	s->vm_exec.vm = &s->fx->base;
	s->vm_exec.num_fences = 1;
	s->vm_exec.extra.fn = extra_fn;
	s->vm_exec.extra.priv = &s->ex;
	for (i = 0; i < 4; i++)
		s->refs[i] = gpuvm_gem_object_refcount(s->bos[i]->obj);
	s->refs[4] = gpuvm_gem_object_refcount(s->x);
}

static void exec_sweep_destroy(struct exec_sweep *s)
{
	put_bos(s->fx, s->bos, 4);
	gpuvm_gem_object_put(s->x);
	fx_vm_destroy(s->fx);
	gpuvm_alloc_drain();
	/* Nothing of the run is left behind. */
	assert_int_equal(gpuvm_alloc_live(), s->live);
}

static int exec_sweep_op(void *arg)
{
	struct exec_sweep *s = arg;
	int ret = gpuvm_vm_exec_lock(&s->vm_exec);

	if (ret)
		return ret;
	assert_int_equal(s->vm_exec.exec.num_objects, 5);
	gpuvm_vm_exec_unlock(&s->vm_exec);
	return 0;
}

static void exec_sweep_check(void *arg, unsigned long n, int ret)
{
	struct exec_sweep *s = arg;
	unsigned int i;

	if (ret == 0) {
		/* The exec's first array: its lock retries the allocation. */
		s->absorbed++;
	} else {
		assert_int_equal(ret, -ENOMEM);
		s->failures++;
	}
	assert_nothing_locked(s->fx, s->bos, 4);
	assert_false(gpuvm_dma_resv_is_locked(s->x->resv));
	for (i = 0; i < 4; i++)
		assert_int_equal(gpuvm_gem_object_refcount(s->bos[i]->obj),
				 s->refs[i]);
	assert_int_equal(gpuvm_gem_object_refcount(s->x), s->refs[4]);
	exec_sweep_destroy(s);
	exec_sweep_build(s);
}

static void test_vm_exec_lock_fault_sweep(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		static struct exec_sweep s;
		int ret;

		ctx(mode, "vm_exec_lock sweep");
		memset(&s, 0, sizeof(s));
		s.mode = mode;
		exec_sweep_build(&s);
		ret = gpuvm_alloc_fault_sweep(exec_sweep_op, exec_sweep_check,
					      &s, 0);
		/* The array, then one fence list per locked object: r_obj,
		 * B, C, D and X (the private one shares r_obj's). */
		assert_int_equal(ret, 6);
		assert_int_equal(s.absorbed, 1);
		assert_int_equal(s.failures, 5);
		exec_sweep_destroy(&s);
	}
	fx_context("%s", "");
}

/* More objects than the exec's first array holds: its growth fails. */
#define MANY 520

struct growth_sweep {
	struct fx_vm *fx;
	struct gpuvm_gem_object *objs[MANY];
	struct gpuvm_bo *bos[MANY];
	struct gpuvm_vm_exec vm_exec;
	long live;
	unsigned int failures, absorbed;
};

static int growth_op(void *arg)
{
	struct growth_sweep *s = arg;
	int ret = gpuvm_vm_exec_lock(&s->vm_exec);

	if (ret)
		return ret;
	assert_int_equal(s->vm_exec.exec.num_objects, MANY + 1);
	gpuvm_vm_exec_unlock(&s->vm_exec);
	return 0;
}

static void growth_check(void *arg, unsigned long n, int ret)
{
	struct growth_sweep *s = arg;

	if (ret == 0) {
		s->absorbed++;
	} else {
		assert_int_equal(ret, -ENOMEM);
		s->failures++;
	}
	assert_int_equal(gpuvm_lock_held_count(), 0);
	assert_false(gpuvm_dma_resv_is_locked(s->objs[0]->resv));
	assert_false(gpuvm_dma_resv_is_locked(s->objs[MANY - 1]->resv));
	assert_int_equal(gpuvm_gem_object_refcount(s->objs[MANY - 1]), 1);
	assert_int_equal(gpuvm_alloc_live(), s->live);
}

static void test_vm_exec_lock_growth_fault_sweep(void **state)
{
	static struct growth_sweep s;
	unsigned int mode, i;
	int ret;

	for (mode = 0; mode < 2; mode++) {
		ctx(mode, "vm_exec_lock array growth sweep");
		memset(&s, 0, sizeof(s));
		s.fx = fx_vm_create(fx_modes[mode].flags, 0, 100, 0, 0);
		for (i = 0; i < MANY; i++) {
			s.objs[i] = obj_new(NULL);
			s.bos[i] = add_extobj(s.fx, s.objs[i]);
			gpuvm_gem_object_put(s.objs[i]); /* the vm_bo has it */
		}
		s.vm_exec.vm = &s.fx->base;
		s.live = gpuvm_alloc_live();
		ret = gpuvm_alloc_fault_sweep(growth_op, growth_check, &s, 0);
		/* The first array (recovered), then its growth. */
		assert_int_equal(ret, 2);
		assert_int_equal(s.absorbed, 1);
		assert_int_equal(s.failures, 1);
		put_bos(s.fx, s.bos, MANY);
		fx_vm_destroy(s.fx);
	}
	fx_context("%s", "");
}

/*
 * With GPUVM_RESV_PROTECTED, prepare_objects moves each evicted external
 * vm_bo onto the evict list as it locks it, as the kernel does. A lock or
 * fence reservation that fails later leaves the ones already visited
 * there (kernel parity, documented in vm.h): exactly a prefix, in extobj
 * order, of the evicted external vm_bos; nothing else moves. Without
 * resv protection they were on the evict list from the start.
 */
struct evict_sweep {
	unsigned int mode;
	struct fx_vm *fx;
	struct gpuvm_bo *bos[5];
	struct gpuvm_bo *extobj_before[8], *evict_before[8];
	unsigned int n_extobj, n_evict;
	struct gpuvm_vm_exec vm_exec;
	unsigned int failures, moved_max;
};

static void evict_sweep_build(struct evict_sweep *s)
{
	unsigned int i;

	s->fx = vm_with_extobjs(s->mode, 4, s->bos);
	for (i = 1; i <= 4; i++)
		evict_locked(s->bos[i], true);
	s->n_extobj =
		snapshot(&s->fx->base.extobj.list, false, s->extobj_before, 8);
	s->n_evict =
		snapshot(&s->fx->base.evict.list, true, s->evict_before, 8);
	assert_int_equal(s->n_extobj, 4);
	assert_int_equal(s->n_evict, is_protected(s->mode) ? 0 : 4);
	memset(&s->vm_exec, 0, sizeof(s->vm_exec));
	s->vm_exec.vm = &s->fx->base;
	s->vm_exec.num_fences = 1;
}

static void evict_sweep_destroy(struct evict_sweep *s)
{
	put_bos(s->fx, s->bos, 5);
	fx_vm_destroy(s->fx);
}

static int evict_sweep_op(void *arg)
{
	struct evict_sweep *s = arg;
	int ret = gpuvm_vm_exec_lock(&s->vm_exec);

	if (!ret)
		gpuvm_vm_exec_unlock(&s->vm_exec);
	return ret;
}

static void evict_sweep_check(void *arg, unsigned long n, int ret)
{
	struct evict_sweep *s = arg;
	struct gpuvm_bo *now[8];
	unsigned int i, moved;

	(void)n;
	if (ret) {
		assert_int_equal(ret, -ENOMEM);
		s->failures++;
	}
	assert_nothing_locked(s->fx, s->bos, 5);
	assert_list(&s->fx->base.extobj.list, false, s->extobj_before,
		    s->n_extobj);
	for (i = 1; i <= 4; i++)
		assert_true(s->bos[i]->evicted);
	assert_false(fx_bo_on_evict(s->bos[0]));
	if (!is_protected(s->mode)) {
		assert_list(&s->fx->base.evict.list, true, s->evict_before,
			    s->n_evict);
	} else {
		/* The evicted external vm_bos visited before the failure,
		 * in the order prepare_objects visited them. */
		moved = snapshot(&s->fx->base.evict.list, true, now, 8);
		for (i = 0; i < moved; i++)
			assert_ptr_equal(now[i], s->extobj_before[i]);
		if (moved > s->moved_max)
			s->moved_max = moved;
	}
	evict_sweep_destroy(s);
	evict_sweep_build(s);
}

static void test_vm_exec_lock_fault_sweep_evict_list(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		static struct evict_sweep s;
		int ret;

		ctx(mode, "vm_exec_lock sweep, evicted extobjs");
		memset(&s, 0, sizeof(s));
		s.mode = mode;
		evict_sweep_build(&s);
		ret = gpuvm_alloc_fault_sweep(evict_sweep_op, evict_sweep_check,
					      &s, 0);
		assert_true(ret > 0);
		assert_true(s.failures >= 4);
		/* A late failure did leave visited entries behind. */
		if (is_protected(mode))
			assert_true(s.moved_max >= 3);
		evict_sweep_destroy(&s);
	}
	fx_context("%s", "");
}

/* lock_array points extra at its own frame while it runs; afterwards the
 * caller's extra is back, so the same vm_exec can be locked again. */
static void test_vm_exec_lock_array_restores_extra(void **state)
{
	unsigned int mode;

	for (mode = 0; mode < FX_NR_MODES; mode++) {
		struct gpuvm_bo *bos[3];
		struct fx_vm *fx = vm_with_extobjs(mode, 2, bos);
		struct gpuvm_gem_object *x = obj_new(NULL);
		struct gpuvm_vm_exec vm_exec;
		struct extra ex;

		ctx(mode, "lock_array then lock");
		memset(&ex, 0, sizeof(ex));
		ex.objs[0] = x;
		ex.nr = 1;
		memset(&vm_exec, 0, sizeof(vm_exec));
		vm_exec.vm = &fx->base;
		vm_exec.extra.fn = extra_fn;
		vm_exec.extra.priv = &ex;

		assert_int_equal(gpuvm_vm_exec_lock_array(&vm_exec, &x, 1), 0);
		assert_true(exec_has(&vm_exec.exec, x));
		gpuvm_vm_exec_unlock(&vm_exec);
		assert_int_equal(ex.calls, 0); /* replaced while it ran */
		assert_ptr_equal(vm_exec.extra.fn, extra_fn);
		assert_ptr_equal(vm_exec.extra.priv, &ex);

		assert_int_equal(gpuvm_vm_exec_lock(&vm_exec), 0);
		assert_int_equal(ex.calls, 1);
		assert_true(exec_has(&vm_exec.exec, x));
		gpuvm_vm_exec_unlock(&vm_exec);

		gpuvm_gem_object_put(x);
		put_bos(fx, bos, 3);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		exec_test(test_prepare_vm),
		exec_test(test_prepare_objects_each_once),
		exec_test(test_prepare_objects_error_restores_order),
		exec_test(test_prepare_objects_contention),
		exec_test(test_prepare_range),
		exec_test(test_vm_exec_lock),
		exec_test(test_vm_exec_lock_array),
		exec_test(test_vm_exec_lock_range),
		exec_test(test_validate_without_callback),
		exec_test(test_validate_asymmetry),
		exec_test(test_validate_error_stops),
		exec_test(test_resv_add_fence),
		exec_test(test_resv_protected_helpers_need_vm_resv),
		exec_test(test_validate_reentered_warns),
		exec_test(test_prepare_objects_two_walks_warn),
		exec_test(test_vm_exec_lock_fault_sweep),
		exec_test(test_vm_exec_lock_growth_fault_sweep),
		exec_test(test_vm_exec_lock_fault_sweep_evict_list),
		exec_test(test_vm_exec_lock_array_restores_extra),
	};

	return harness_run("gpuvm/vm_exec", tests, argc, argv);
}
