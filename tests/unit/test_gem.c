// SPDX-License-Identifier: MIT
/*
 * GEM objects: reference counting with the kernel's contract, the release
 * sequence, shared reservations and the gpuva lock assertion.
 */
#include <errno.h>
#include <string.h>

#include <gpuvm/gem.h>
#include <gpuvm/testing.h>

#include "harness.h"

static void assert_message_has(const char *rule, const char *text)
{
	const char *msg = harness_last_warning(rule);

	if (!strstr(msg, text))
		fail_msg("warning [%s] '%s' lacks '%s'", rule, msg, text);
}

/* A driver buffer embedding the GEM object, freed by its callback. */
struct test_bo {
	struct gpuvm_gem_object base;
	unsigned int freed; /* free callback calls */
	int refcount_at_free;
	bool resv_locked_at_free;
	bool gpuva_locked_at_free;
};

static void test_bo_free(struct gpuvm_gem_object *obj)
{
	struct test_bo *bo = gpuvm_container_of(obj, struct test_bo, base);

	bo->freed++;
	bo->refcount_at_free = gpuvm_gem_object_refcount(obj);
	/* Finalised already: ask the checker, which keeps no state on it. */
	bo->resv_locked_at_free = gpuvm_lock_is_held(&obj->_resv.lock.dep_map);
	bo->gpuva_locked_at_free = gpuvm_mutex_is_locked(&obj->gpuva.lock);
}

static const struct gpuvm_gem_object_funcs test_bo_funcs = {
	.free = test_bo_free,
};

/* A heap buffer whose callback really frees it. */
static unsigned int heap_frees;

static void heap_bo_free(struct gpuvm_gem_object *obj)
{
	heap_frees++;
	gpuvm_kfree(gpuvm_container_of(obj, struct test_bo, base));
}

static const struct gpuvm_gem_object_funcs heap_bo_funcs = {
	.free = heap_bo_free,
};

static void bo_init(struct test_bo *bo, size_t size)
{
	memset(bo, 0xa5, sizeof(*bo)); /* init must not rely on zeroing */
	gpuvm_gem_object_init(&bo->base, &test_bo_funcs, size);
	bo->freed = 0;
	bo->refcount_at_free = -1;
	bo->resv_locked_at_free = false;
	bo->gpuva_locked_at_free = false;
}

/* ---- init, get, put --------------------------------------------------- */

static void test_gem_init(void **state)
{
	struct test_bo bo;

	bo_init(&bo, 4096);
	assert_int_equal(gpuvm_gem_object_refcount(&bo.base), 1);
	assert_int_equal(bo.base.size, 4096);
	assert_ptr_equal(bo.base.funcs, &test_bo_funcs);
	assert_ptr_equal(bo.base.resv, &bo.base._resv);
	assert_true(gpuvm_list_empty(&bo.base.gpuva.list));
	assert_false(gpuvm_mutex_is_locked(&bo.base.gpuva.lock));
	assert_false(gpuvm_dma_resv_is_locked(bo.base.resv));

	gpuvm_gem_object_put(&bo.base);
	assert_int_equal(bo.freed, 1);
}

static void test_gem_get_put_refcount(void **state)
{
	struct test_bo bo;

	bo_init(&bo, 0);
	assert_ptr_equal(gpuvm_gem_object_get(&bo.base), &bo.base);
	assert_int_equal(gpuvm_gem_object_refcount(&bo.base), 2);
	gpuvm_gem_object_get(&bo.base);
	assert_int_equal(gpuvm_gem_object_refcount(&bo.base), 3);

	gpuvm_gem_object_put(&bo.base);
	assert_int_equal(gpuvm_gem_object_refcount(&bo.base), 2);
	gpuvm_gem_object_put(&bo.base);
	assert_int_equal(gpuvm_gem_object_refcount(&bo.base), 1);
	assert_int_equal(bo.freed, 0);

	gpuvm_gem_object_put(&bo.base);
	assert_int_equal(bo.freed, 1);
	assert_int_equal(bo.refcount_at_free, 0);
	assert_false(bo.resv_locked_at_free);
	assert_false(bo.gpuva_locked_at_free);
}

static void test_gem_put_null(void **state)
{
	gpuvm_gem_object_put(NULL);
}

static void test_gem_heap_object_freed_once(void **state)
{
	long live = gpuvm_alloc_live();
	struct test_bo *bo = gpuvm_kzalloc(sizeof(*bo), GPUVM_GFP_KERNEL);

	assert_non_null(bo);
	heap_frees = 0;
	gpuvm_gem_object_init(&bo->base, &heap_bo_funcs, 8192);
	gpuvm_gem_object_get(&bo->base);
	gpuvm_gem_object_put(&bo->base);
	assert_int_equal(heap_frees, 0);
	gpuvm_gem_object_put(&bo->base);
	assert_int_equal(heap_frees, 1);
	assert_int_equal(gpuvm_alloc_live(), live);
}

/* Without funcs (or without a free callback) nothing is freed. */
static void test_gem_no_free_callback(void **state)
{
	static const struct gpuvm_gem_object_funcs no_free = { 0 };
	struct gpuvm_gem_object a, b;

	gpuvm_gem_object_init(&a, NULL, 1);
	gpuvm_gem_object_init(&b, &no_free, 1);
	gpuvm_gem_object_put(&a);
	gpuvm_gem_object_put(&b);
	assert_int_equal(gpuvm_gem_object_refcount(&a), 0);
	assert_int_equal(gpuvm_gem_object_refcount(&b), 0);
}

/* ---- refcount misuse --------------------------------------------------- */

static void test_gem_put_underflow_warns(void **state)
{
	struct test_bo bo;

	bo_init(&bo, 0);
	gpuvm_gem_object_put(&bo.base);
	assert_int_equal(bo.freed, 1);

	gpuvm_gem_object_put(&bo.base);
	assert_message_has(GPUVM_RULE_REFCOUNT_UNDERFLOW,
			   "gpuvm_gem_object_put");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_REFCOUNT_UNDERFLOW),
			 1);
	assert_int_equal(bo.freed, 1); /* not released a second time */
	assert_true(gpuvm_gem_object_refcount(&bo.base) < 0); /* saturated */
	assert_int_equal(harness_warnings(NULL), 0);
}

static void test_gem_get_from_zero_warns(void **state)
{
	struct test_bo bo;

	bo_init(&bo, 0);
	gpuvm_gem_object_put(&bo.base);
	assert_int_equal(bo.freed, 1);

	assert_ptr_equal(gpuvm_gem_object_get(&bo.base), &bo.base);
	assert_message_has(GPUVM_RULE_REFCOUNT_GET_ZERO,
			   "gpuvm_gem_object_get");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_REFCOUNT_GET_ZERO),
			 1);
	/* Saturated: the object is leaked, never released again. */
	assert_true(gpuvm_gem_object_refcount(&bo.base) < 0);
	gpuvm_gem_object_put(&bo.base);
	harness_take_warnings(GPUVM_RULE_REFCOUNT_UNDERFLOW);
	assert_int_equal(bo.freed, 1);
	assert_int_equal(harness_warnings(NULL), 0);
}

/* ---- reservations ------------------------------------------------------ */

static void test_gem_lock_wrappers(void **state)
{
	struct gpuvm_ww_acquire_ctx ctx;
	struct test_bo bo;

	bo_init(&bo, 0);
	assert_int_equal(gpuvm_gem_object_lock(&bo.base, NULL), 0);
	assert_true(gpuvm_dma_resv_is_locked(bo.base.resv));
	gpuvm_dma_resv_assert_held(bo.base.resv);
	gpuvm_gem_object_unlock(&bo.base);
	assert_false(gpuvm_dma_resv_is_locked(bo.base.resv));

	gpuvm_ww_acquire_init(&ctx, &gpuvm_reservation_ww_class);
	assert_int_equal(gpuvm_gem_object_lock(&bo.base, &ctx), 0);
	assert_int_equal(gpuvm_gem_object_lock(&bo.base, &ctx), -EALREADY);
	assert_ptr_equal(gpuvm_dma_resv_locking_ctx(bo.base.resv), &ctx);
	gpuvm_gem_object_unlock(&bo.base);
	gpuvm_ww_acquire_fini(&ctx);

	gpuvm_gem_object_put(&bo.base);
	assert_int_equal(harness_warnings(NULL), 0);
}

/* A VM-private buffer shares the reservation of the VM's resv object. */
static void test_gem_shared_resv(void **state)
{
	struct test_bo vm_obj, bo, late;

	bo_init(&vm_obj, 0);
	memset(&bo, 0, sizeof(bo));
	gpuvm_gem_object_init_shared_resv(&bo.base, &test_bo_funcs, 4096,
					  vm_obj.base.resv);
	assert_ptr_equal(bo.base.resv, &vm_obj.base._resv);
	assert_ptr_not_equal(bo.base.resv, &bo.base._resv);
	assert_int_equal(gpuvm_gem_object_refcount(&bo.base), 1);

	/* Locking one locks the other. */
	assert_int_equal(gpuvm_gem_object_lock(&bo.base, NULL), 0);
	assert_true(gpuvm_dma_resv_is_locked(vm_obj.base.resv));
	assert_true(gpuvm_dma_resv_held(vm_obj.base.resv));
	assert_false(gpuvm_dma_resv_is_locked(&bo.base._resv));
	gpuvm_gem_object_unlock(&bo.base);

	/* The kernel way: point resv elsewhere right after init. */
	bo_init(&late, 0);
	late.base.resv = vm_obj.base.resv;
	assert_int_equal(gpuvm_gem_object_lock(&vm_obj.base, NULL), 0);
	gpuvm_gem_gpuva_assert_lock_held(false, &late.base, "late_check");
	assert_int_equal(harness_warnings(NULL), 0);
	gpuvm_gem_object_unlock(&vm_obj.base);

	/* Releasing the sharers leaves the shared reservation alone. */
	gpuvm_gem_object_put(&bo.base);
	gpuvm_gem_object_put(&late.base);
	assert_int_equal(bo.freed, 1);
	assert_int_equal(late.freed, 1);
	assert_int_equal(gpuvm_gem_object_lock(&vm_obj.base, NULL), 0);
	gpuvm_gem_object_unlock(&vm_obj.base);
	gpuvm_gem_object_put(&vm_obj.base);
	assert_int_equal(vm_obj.freed, 1);
	assert_int_equal(harness_warnings(NULL), 0);
}

/* ---- the gpuva lock ---------------------------------------------------- */

static void test_gem_gpuva_assert_immediate_held(void **state)
{
	struct test_bo bo;

	bo_init(&bo, 0);
	gpuvm_gem_gpuva_lock(&bo.base);
	assert_true(gpuvm_mutex_is_locked(&bo.base.gpuva.lock));
	gpuvm_gem_gpuva_assert_lock_held(true, &bo.base, "my_immediate_op");
	gpuvm_gem_gpuva_unlock(&bo.base);
	assert_false(gpuvm_mutex_is_locked(&bo.base.gpuva.lock));
	assert_int_equal(harness_warnings(NULL), 0);
	gpuvm_gem_object_put(&bo.base);
}

static void test_gem_gpuva_assert_immediate_not_held(void **state)
{
	struct test_bo bo;

	bo_init(&bo, 0);
	/* The resv is the wrong lock in immediate mode. */
	assert_int_equal(gpuvm_gem_object_lock(&bo.base, NULL), 0);
	gpuvm_gem_gpuva_assert_lock_held(true, &bo.base, "my_immediate_op");
	gpuvm_gem_object_unlock(&bo.base);
	assert_message_has(GPUVM_RULE_LOCK_NOT_HELD, "my_immediate_op");
	assert_message_has(GPUVM_RULE_LOCK_NOT_HELD, "gem_gpuva_lock");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD), 1);
	assert_int_equal(harness_warnings(NULL), 0);
	gpuvm_gem_object_put(&bo.base);
}

static void test_gem_gpuva_assert_staged_held(void **state)
{
	struct test_bo bo;

	bo_init(&bo, 0);
	assert_int_equal(gpuvm_gem_object_lock(&bo.base, NULL), 0);
	gpuvm_gem_gpuva_assert_lock_held(false, &bo.base, "my_staged_op");
	gpuvm_gem_object_unlock(&bo.base);
	assert_int_equal(harness_warnings(NULL), 0);
	gpuvm_gem_object_put(&bo.base);
}

static void test_gem_gpuva_assert_staged_not_held(void **state)
{
	struct test_bo bo;

	bo_init(&bo, 0);
	/* The gpuva mutex is the wrong lock in staged mode. */
	gpuvm_gem_gpuva_lock(&bo.base);
	gpuvm_gem_gpuva_assert_lock_held(false, &bo.base, "my_staged_op");
	gpuvm_gem_gpuva_unlock(&bo.base);
	assert_message_has(GPUVM_RULE_LOCK_NOT_HELD, "my_staged_op");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD), 1);
	assert_int_equal(harness_warnings(NULL), 0);
	gpuvm_gem_object_put(&bo.base);
}

static void test_gem_gpuva_assert_silent_when_debug_off(void **state)
{
	struct test_bo bo;

	bo_init(&bo, 0);
	gpuvm_debug_enable(false);
	gpuvm_gem_gpuva_assert_lock_held(true, &bo.base, "my_op");
	gpuvm_gem_gpuva_assert_lock_held(false, &bo.base, "my_op");
	gpuvm_debug_enable(true);
	assert_int_equal(harness_warnings(NULL), 0);
	gpuvm_gem_object_put(&bo.base);
}

/* All gpuva locks share one class: holding two at once is reported. */
static void test_gem_gpuva_lock_one_class(void **state)
{
	struct test_bo a, b;

	bo_init(&a, 0);
	bo_init(&b, 0);
	assert_ptr_equal(a.base.gpuva.lock.dep_map.lock_class,
			 b.base.gpuva.lock.dep_map.lock_class);
	assert_string_equal(a.base.gpuva.lock.dep_map.lock_class->name,
			    "gem_gpuva_lock");

	gpuvm_gem_gpuva_lock(&a.base);
	gpuvm_gem_gpuva_lock(&b.base);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_RECURSIVE_LOCK), 1);
	gpuvm_gem_gpuva_unlock(&b.base);
	gpuvm_gem_gpuva_unlock(&a.base);
	assert_int_equal(harness_warnings(NULL), 0);
	gpuvm_gem_object_put(&a.base);
	gpuvm_gem_object_put(&b.base);
}

static void test_gem_gpuva_init_resets_list(void **state)
{
	struct gpuvm_list_head entry;
	struct test_bo bo;

	bo_init(&bo, 0);
	gpuvm_list_add(&entry, &bo.base.gpuva.list);
	assert_false(gpuvm_list_empty(&bo.base.gpuva.list));
	gpuvm_gem_gpuva_init(&bo.base);
	assert_true(gpuvm_list_empty(&bo.base.gpuva.list));
	gpuvm_gem_object_put(&bo.base);
}

/* ---- concurrent get/put ------------------------------------------------- */

#define RACE_THREADS 4
#define RACE_ROUNDS 20000

static void race_get_put(unsigned int i, void *arg)
{
	struct gpuvm_gem_object *obj = arg;
	unsigned int r;

	for (r = 0; r < RACE_ROUNDS; r++) {
		gpuvm_gem_object_get(obj);
		gpuvm_gem_object_get(obj);
		gpuvm_gem_object_put(obj);
		gpuvm_gem_object_put(obj);
	}
	/* Every worker drops the reference the main thread took for it. */
	gpuvm_gem_object_put(obj);
}

static void test_gem_concurrent_get_put(void **state)
{
	struct test_bo bo;
	unsigned int i;

	bo_init(&bo, 0);
	for (i = 0; i < RACE_THREADS; i++)
		gpuvm_gem_object_get(&bo.base);
	harness_run_threads(RACE_THREADS, race_get_put, &bo.base);
	assert_int_equal(gpuvm_gem_object_refcount(&bo.base), 1);
	assert_int_equal(bo.freed, 0);
	gpuvm_gem_object_put(&bo.base);
	assert_int_equal(bo.freed, 1);
	assert_int_equal(harness_warnings(NULL), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_gem_init),
		harness_test(test_gem_get_put_refcount),
		harness_test(test_gem_put_null),
		harness_test(test_gem_heap_object_freed_once),
		harness_test(test_gem_no_free_callback),
		harness_test(test_gem_put_underflow_warns),
		harness_test(test_gem_get_from_zero_warns),
		harness_test(test_gem_lock_wrappers),
		harness_test(test_gem_shared_resv),
		harness_test(test_gem_gpuva_assert_immediate_held),
		harness_test(test_gem_gpuva_assert_immediate_not_held),
		harness_test(test_gem_gpuva_assert_staged_held),
		harness_test(test_gem_gpuva_assert_staged_not_held),
		harness_test(test_gem_gpuva_assert_silent_when_debug_off),
		harness_test(test_gem_gpuva_lock_one_class),
		harness_test(test_gem_gpuva_init_resets_list),
		harness_test(test_gem_concurrent_get_put),
	};

	return harness_run("gpuvm/gem", tests, argc, argv);
}
