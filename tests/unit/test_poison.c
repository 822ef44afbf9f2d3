// SPDX-License-Identifier: MIT
/*
 * Use-after-free detection and the test-only debug additions: the
 * allocator's poison and quarantine (alloc.h), the reference counts and
 * API entry points that recognise the poison, the VM's poisoned fields
 * after vm_free, destroyed mutexes, gpuvm_lockdep_reset() and
 * gpuvm_lockdep_order_known(), the library knobs, and the checks added for
 * the scenarios: gpuvm_bo_destroy_not_in_lists(), mixed modes on one GEM,
 * gpuva_link() across VMs or to an unpublished vm_bo, and the final VM put
 * under the VM's resv.
 */
#include <pthread.h>
#include <string.h>

#include <gpuvm/testing.h>
#include "gpuvm_fixture.h"
#include "harness.h"
#include "internal.h"

static bool all_bytes(const void *p, size_t n, unsigned char v)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

/* ---- the allocator ------------------------------------------------------ */

static void test_kfree_poisons_and_counts(void **state)
{
	long live = gpuvm_alloc_live();
	unsigned char *p = gpuvm_kmalloc(64, GPUVM_GFP_KERNEL);

	(void)state;
	assert_non_null(p);
	memset(p, 0x11, 64);
	assert_int_equal(gpuvm_alloc_live(), live + 1);
	gpuvm_kfree(p);
	/* Quarantined blocks count as freed. */
	assert_int_equal(gpuvm_alloc_live(), live);
	if (gpuvm_alloc_poisoning())
		assert_true(all_bytes(p, 64, GPUVM_POISON_FREE));
	gpuvm_alloc_quarantine_flush();
	assert_int_equal(gpuvm_alloc_live(), live);
}

static void test_no_poison_when_debug_off(void **state)
{
	(void)state;
	gpuvm_debug_enable(false);
	assert_false(gpuvm_alloc_poisoning());
	gpuvm_kfree(gpuvm_kmalloc(16, GPUVM_GFP_KERNEL));
	gpuvm_debug_enable(true);
}

/* More blocks than the quarantine holds: the oldest are really freed. */
static void test_quarantine_bounded(void **state)
{
	long live = gpuvm_alloc_live();
	unsigned int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		gpuvm_kfree(gpuvm_kmalloc(100 + i, GPUVM_GFP_KERNEL));
	/* A block larger than the whole quarantine is freed at once. */
	gpuvm_kfree(gpuvm_kmalloc(8u << 20, GPUVM_GFP_KERNEL));
	assert_int_equal(gpuvm_alloc_live(), live);
	gpuvm_alloc_quarantine_flush();
}

/* ---- objects freed by the library --------------------------------------- */

static void test_freed_resv_object_reported(void **state)
{
	struct gpuvm_gem_object *obj = gpuvm_resv_object_alloc();

	(void)state;
	assert_non_null(obj);
	gpuvm_gem_object_put(obj);
	if (!gpuvm_alloc_poisoning())
		return; /* nothing to observe without poisoning */
	gpuvm_gem_object_get(obj);
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_USE_AFTER_FREE),
			       "gpuvm_gem_object_get"));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_USE_AFTER_FREE), 1);
	gpuvm_gem_object_put(obj);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_USE_AFTER_FREE), 1);
	/* The poison stays for the next access. */
	assert_int_equal(gpuvm_gem_object_refcount(obj), GPUVM_POISON_INT);
}

static void test_freed_vm_bo_reported(void **state)
{
	struct fx_vm *fx = fx_vm_create(
		GPUVM_IMMEDIATE_MODE | GPUVM_RESV_PROTECTED, 0, 1 << 20, 0, 0);
	struct gpuvm_gem_object *a = fx_obj(fx, 'A');
	struct gpuvm_bo *vm_bo = fx_bo_obtain(fx, a);

	(void)state;
	assert_true(gpuvm_bo_put_deferred(vm_bo));
	gpuvm_bo_deferred_cleanup(&fx->base);
	if (gpuvm_alloc_poisoning()) {
		gpuvm_bo_get(vm_bo);
		assert_int_equal(
			harness_take_warnings(GPUVM_RULE_USE_AFTER_FREE), 1);
		assert_false(gpuvm_bo_put_deferred(vm_bo));
		assert_non_null(
			strstr(harness_last_warning(GPUVM_RULE_USE_AFTER_FREE),
			       "gpuvm_bo_put_deferred"));
		assert_int_equal(
			harness_take_warnings(GPUVM_RULE_USE_AFTER_FREE), 1);
		assert_false(gpuvm_bo_put(vm_bo));
		gpuvm_bo_extobj_add(vm_bo);
		assert_int_equal(
			harness_take_warnings(GPUVM_RULE_USE_AFTER_FREE), 2);
		assert_ptr_equal(gpuvm_bo_obtain_prealloc(vm_bo), vm_bo);
		assert_int_equal(
			harness_take_warnings(GPUVM_RULE_USE_AFTER_FREE), 1);
	}
	fx_vm_destroy(fx);
}

struct pvm {
	struct gpuvm base;
	struct gpuvm_ops ops;
	unsigned int frees;
	const char *name_at_free;
	int kref_at_free;
};

static void pvm_free(struct gpuvm *gpuvm)
{
	struct pvm *p = gpuvm_container_of(gpuvm, struct pvm, base);

	p->frees++;
	p->name_at_free = gpuvm->name;
	p->kref_at_free = gpuvm->kref;
}

static int noop_step(struct gpuva_op *op, void *priv)
{
	(void)op;
	(void)priv;
	return 0;
}

static void pvm_init(struct pvm *p, struct gpuvm_gem_object *r_obj)
{
	memset(p, 0, sizeof(*p));
	p->ops.vm_free = pvm_free;
	p->ops.sm_step_map = noop_step;
	p->ops.sm_step_remap = noop_step;
	p->ops.sm_step_unmap = noop_step;
	gpuvm_init(&p->base, "pvm", GPUVM_IMMEDIATE_MODE | GPUVM_RESV_PROTECTED,
		   r_obj, 0, 1 << 20, 0, 0, &p->ops);
}

/* The VM's memory is the driver's: the library poisons its own fields. */
static void test_freed_vm_reported(void **state)
{
	struct gpuvm_gem_object *r_obj = gpuvm_resv_object_alloc();
	struct gpuvm_gem_object *a = gpuvm_resv_object_alloc();
	struct gpuvm_map_req req = { .map = { .va = { 0, 4096 } } };
	struct pvm p;

	(void)state;
	pvm_init(&p, r_obj);
	gpuvm_gem_object_put(r_obj);
	gpuvm_put(&p.base);
	assert_int_equal(p.frees, 1);
	assert_null(p.name_at_free);
	if (!gpuvm_debug_enabled())
		return; /* nothing to observe without poisoning */
	assert_int_equal(p.kref_at_free, GPUVM_POISON_INT);
	gpuvm_get(&p.base);
	gpuvm_put(&p.base);
	assert_null(gpuvm_bo_create(&p.base, a));
	gpuvm_bo_deferred_cleanup(&p.base);
	assert_int_equal(gpuvm_sm_map(&p.base, NULL, &req), -EINVAL);
	assert_int_equal(gpuvm_sm_unmap(&p.base, NULL, 0, 4096), -EINVAL);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_USE_AFTER_FREE), 6);
	assert_int_equal(p.frees, 1);
	gpuvm_gem_object_put(a);
}

/* Final put with the VM resv held: reported. */
static void test_final_put_under_resv(void **state)
{
	struct gpuvm_gem_object *r_obj = gpuvm_resv_object_alloc();
	struct pvm p;

	(void)state;
	pvm_init(&p, r_obj);
	assert_int_equal(gpuvm_dma_resv_lock(r_obj->resv, NULL), 0);
	gpuvm_put(&p.base);
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_LOCK_HELD),
			       "gpuvm_put"));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_HELD), 1);
	gpuvm_dma_resv_unlock(r_obj->resv);
	gpuvm_gem_object_put(r_obj);
	assert_int_equal(p.frees, 1);
}

/* ---- mutexes ------------------------------------------------------------ */

static struct gpuvm_lock_class test_class = GPUVM_LOCK_CLASS_INIT("t", 0);

static void test_mutex_use_after_destroy(void **state)
{
	struct gpuvm_mutex m;

	(void)state;
	gpuvm_mutex_init(&m, "m", &test_class);
	gpuvm_mutex_destroy(&m);
	gpuvm_mutex_lock(&m);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_USE_AFTER_FREE), 1);
	assert_false(gpuvm_mutex_trylock(&m));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_USE_AFTER_FREE), 1);
	assert_int_equal(gpuvm_lock_held_count(), 0);
}

struct holder {
	struct gpuvm_mutex *m;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stage;
};

static void *hold_main(void *arg)
{
	struct holder *h = arg;

	gpuvm_mutex_lock(h->m);
	pthread_mutex_lock(&h->lock);
	h->stage = 1;
	pthread_cond_broadcast(&h->cond);
	while (h->stage != 2)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
	gpuvm_mutex_unlock(h->m);
	return NULL;
}

/* Destroying a mutex another thread holds is reported; the holder's
 * unlock still works. */
static void test_mutex_destroy_held_elsewhere(void **state)
{
	struct gpuvm_mutex m;
	struct holder h = { .m = &m,
			    .lock = PTHREAD_MUTEX_INITIALIZER,
			    .cond = PTHREAD_COND_INITIALIZER };
	pthread_t t;

	(void)state;
	gpuvm_mutex_init(&m, "m", &test_class);
	assert_int_equal(pthread_create(&t, NULL, hold_main, &h), 0);
	pthread_mutex_lock(&h.lock);
	while (h.stage != 1)
		pthread_cond_wait(&h.cond, &h.lock);
	pthread_mutex_unlock(&h.lock);
	gpuvm_mutex_destroy(&m);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DESTROY_HELD), 1);
	pthread_mutex_lock(&h.lock);
	h.stage = 2;
	pthread_cond_broadcast(&h.cond);
	pthread_mutex_unlock(&h.lock);
	pthread_join(t, NULL);
	gpuvm_mutex_destroy(&m);
	assert_int_equal(harness_warnings(NULL), 0);
}

/* ---- checker additions -------------------------------------------------- */

static struct gpuvm_lock_class class_a = GPUVM_LOCK_CLASS_INIT("poison-a", 0);
static struct gpuvm_lock_class class_b = GPUVM_LOCK_CLASS_INIT("poison-b", 0);

static void test_lockdep_order_known_and_reset(void **state)
{
	/* Other instances for the reverse order, so ThreadSanitizer's own
	 * lock-order check sees no inversion. */
	struct gpuvm_mutex a, b, a2, b2;

	(void)state;
	gpuvm_mutex_init(&a, "a", &class_a);
	gpuvm_mutex_init(&b, "b", &class_b);
	gpuvm_mutex_init(&a2, "a2", &class_a);
	gpuvm_mutex_init(&b2, "b2", &class_b);
	assert_false(gpuvm_lockdep_order_known(&class_a, &class_b));
	gpuvm_mutex_lock(&a);
	gpuvm_mutex_lock(&b);
	gpuvm_mutex_unlock(&b);
	gpuvm_mutex_unlock(&a);
	assert_true(gpuvm_lockdep_order_known(&class_a, &class_b));
	assert_false(gpuvm_lockdep_order_known(&class_b, &class_a));
	gpuvm_lockdep_reset();
	assert_false(gpuvm_lockdep_order_known(&class_a, &class_b));
	/* The opposite order is no cycle any more. */
	gpuvm_mutex_lock(&b2);
	gpuvm_mutex_lock(&a2);
	gpuvm_mutex_unlock(&a2);
	gpuvm_mutex_unlock(&b2);
	assert_int_equal(harness_warnings(NULL), 0);
	assert_true(gpuvm_lockdep_order_known(&class_b, &class_a));
	gpuvm_lockdep_reset();
	gpuvm_mutex_destroy(&a);
	gpuvm_mutex_destroy(&b);
	gpuvm_mutex_destroy(&a2);
	gpuvm_mutex_destroy(&b2);
}

static void test_knobs(void **state)
{
	(void)state;
	assert_false(gpuvm_knob(GPUVM_KNOB_DEFER_PUBLISH_LOCKED));
	gpuvm_debug_set_knob(GPUVM_KNOB_DEFER_PUBLISH_LOCKED, true);
	assert_true(gpuvm_knob(GPUVM_KNOB_DEFER_PUBLISH_LOCKED));
	assert_false(gpuvm_knob(GPUVM_KNOB_OBTAIN_FREE_LOCKED));
	gpuvm_debug_set_knob(GPUVM_KNOB_DEFER_PUBLISH_LOCKED, false);
	assert_false(gpuvm_knob(GPUVM_KNOB_DEFER_PUBLISH_LOCKED));
	gpuvm_debug_set_knob(GPUVM_KNOB_COUNT__, true); /* ignored */
	assert_int_equal(gpuvm_test_knobs__, 0);
}

/* ---- vm_bo and VA checks ------------------------------------------------ */

static void test_destroy_not_in_lists(void **state)
{
	struct fx_vm *fx = fx_vm_create(
		GPUVM_IMMEDIATE_MODE | GPUVM_RESV_PROTECTED, 0, 1 << 20, 0, 0);
	struct gpuvm_gem_object *a = fx_obj(fx, 'A');
	int vmref = fx_vm_kref(&fx->base),
	    objref = gpuvm_gem_object_refcount(a);
	struct gpuvm_bo *pre, *vm_bo;

	(void)state;
	pre = gpuvm_bo_create(&fx->base, a);
	assert_non_null(pre);
	assert_true(gpuvm_bo_destroy_not_in_lists(pre));
	assert_int_equal(fx_vm_kref(&fx->base), vmref);
	assert_int_equal(gpuvm_gem_object_refcount(a), objref);
	assert_int_equal(fx_defer_count(&fx->base), 0);
	assert_false(gpuvm_bo_destroy_not_in_lists(NULL));

	/* Published: reported, left alone. */
	vm_bo = fx_bo_obtain(fx, a);
	assert_false(gpuvm_bo_destroy_not_in_lists(vm_bo));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_VM_BO_PUBLISHED), 1);
	assert_int_equal(fx_bo_kref(vm_bo), 1);

	/* Under the gpuva lock: reported, freed all the same. */
	pre = gpuvm_bo_create(&fx->base, a);
	gpuvm_gem_gpuva_lock(a);
	assert_true(gpuvm_bo_destroy_not_in_lists(pre));
	gpuvm_gem_gpuva_unlock(a);
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_LOCK_HELD),
			       "gpuvm_bo_destroy_not_in_lists"));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_HELD), 1);

	/* Its fault sweep: one allocation, nothing leaks on failure. */
	gpuvm_alloc_fail_nth(1);
	assert_null(gpuvm_bo_create(&fx->base, a));
	gpuvm_alloc_fail_nth(0);
	assert_int_equal(fx_vm_kref(&fx->base), vmref + 1);

	gpuvm_bo_put_deferred(vm_bo);
	fx_vm_destroy(fx);
}

static void test_mixed_modes_reported(void **state)
{
	struct fx_vm *imm =
		fx_vm_create(GPUVM_IMMEDIATE_MODE, 0, 1 << 20, 0, 0);
	struct fx_vm *staged = fx_vm_create(0, 0, 1 << 20, 0, 0);
	struct gpuvm_gem_object *a = fx_obj(imm, 'A');
	struct gpuvm_bo *b1, *b2;

	(void)state;
	b1 = fx_bo_obtain(imm, a);
	b2 = fx_bo_obtain(staged, a);
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_MODE_MIXED),
			       "gpuvm_bo_obtain_locked"));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_MODE_MIXED), 1);
	fx_bo_put_locked(staged, b2);
	gpuvm_bo_put_deferred(b1);
	/* Same mode: quiet. */
	b2 = fx_bo_obtain(staged, a);
	fx_bo_put_locked(staged, b2);
	fx_vm_destroy(staged);
	fx_vm_destroy(imm);
}

static void test_link_checks(void **state)
{
	enum gpuvm_flags f = GPUVM_IMMEDIATE_MODE | GPUVM_RESV_PROTECTED;
	struct fx_vm *x = fx_vm_create(f, 0, 1 << 20, 0, 0);
	struct fx_vm *y = fx_vm_create(f, 0, 1 << 20, 0, 0);
	struct gpuvm_gem_object *a = fx_obj(x, 'A');
	struct gpuva *va = fx_va_insert(x, 0, 4096, a, 0);
	struct gpuvm_bo *foreign = fx_bo_obtain(y, a);
	struct gpuvm_bo *pre = gpuvm_bo_create(&x->base, a);

	(void)state;
	gpuvm_gem_gpuva_lock(a);
	gpuva_link(va, foreign);
	gpuvm_gem_gpuva_unlock(a);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LINK_VM), 1);
	gpuva_unlink_defer(va);

	gpuvm_gem_gpuva_lock(a);
	gpuva_link(va, pre);
	gpuvm_gem_gpuva_unlock(a);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LINK_UNREGISTERED),
			 1);
	gpuva_unlink_defer(va);
	assert_true(gpuvm_bo_destroy_not_in_lists(pre));

	gpuvm_bo_put_deferred(foreign);
	fx_vm_destroy(y);
	fx_vm_destroy(x);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_kfree_poisons_and_counts),
		harness_test(test_no_poison_when_debug_off),
		harness_test(test_quarantine_bounded),
		harness_test(test_freed_resv_object_reported),
		harness_test(test_freed_vm_bo_reported),
		harness_test(test_freed_vm_reported),
		harness_test(test_final_put_under_resv),
		harness_test(test_mutex_use_after_destroy),
		harness_test(test_mutex_destroy_held_elsewhere),
		harness_test(test_lockdep_order_known_and_reset),
		harness_test(test_knobs),
		harness_test(test_destroy_not_in_lists),
		harness_test(test_mixed_modes_reported),
		harness_test(test_link_checks),
	};

	return harness_run("gpuvm/poison", tests, argc, argv);
}
