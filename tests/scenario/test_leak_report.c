// SPDX-License-Identifier: MIT
/*
 * The leak and lifetime report of the debug checker: a VM kept alive only
 * by a leaked vm_bo reference or by its own mappings, zombies nobody
 * cleaned up, a GEM object
 * freed under its own gpuva mutex, and the lock names that make the
 * reports readable ("resv of VM 'vmA'", "gpuva lock of GEM 'fb'").
 */
#include <stdlib.h>
#include <string.h>

#include <gpuvm/gpuvm.h>

#include "harness.h"

static void assert_message_has(const char *rule, const char *text)
{
	const char *msg = harness_last_warning(rule);

	if (!strstr(msg, text))
		fail_msg("warning [%s] '%s' lacks '%s'", rule, msg, text);
}

/* A toy driver: the VM and the buffers live in plain calloc memory. */
struct leak_vm {
	struct gpuvm base;
	unsigned int *freed;
};

static void leak_vm_free(struct gpuvm *gpuvm)
{
	struct leak_vm *vm = gpuvm_container_of(gpuvm, struct leak_vm, base);

	if (vm->freed)
		(*vm->freed)++;
	free(vm);
}

static const struct gpuvm_ops leak_vm_ops = {
	.vm_free = leak_vm_free,
};

struct leak_bo {
	struct gpuvm_gem_object base;
	unsigned int freed;
	bool keep; /* the test owns the memory */
};

static void leak_bo_free(struct gpuvm_gem_object *obj)
{
	struct leak_bo *bo = gpuvm_container_of(obj, struct leak_bo, base);

	bo->freed++;
	if (!bo->keep)
		free(bo);
}

static const struct gpuvm_gem_object_funcs leak_bo_funcs = {
	.free = leak_bo_free,
};

static struct gpuvm *vm_new(const char *name, enum gpuvm_flags flags,
			    unsigned int *freed)
{
	struct leak_vm *vm = calloc(1, sizeof(*vm));
	struct gpuvm_gem_object *r_obj = gpuvm_resv_object_alloc();

	assert_non_null(vm);
	assert_non_null(r_obj);
	vm->freed = freed;
	gpuvm_init(&vm->base, name, flags, r_obj, 0, 1ull << 32, 0, 0,
		   &leak_vm_ops);
	gpuvm_gem_object_put(r_obj); /* the VM holds it */
	return &vm->base;
}

static struct gpuvm_gem_object *bo_new(const char *label)
{
	struct leak_bo *bo = calloc(1, sizeof(*bo));

	assert_non_null(bo);
	gpuvm_gem_object_init(&bo->base, &leak_bo_funcs, 4096);
	if (label)
		gpuvm_gem_object_set_label(&bo->base, label);
	return &bo->base;
}

/* A clean run: everything put in order, nothing to report. */
static void test_clean_run_reports_nothing(void **state)
{
	unsigned int freed = 0;
	struct gpuvm *vm = vm_new("vmClean", GPUVM_IMMEDIATE_MODE, &freed);
	struct gpuvm_gem_object *obj = bo_new("clean");
	struct gpuvm_bo *vm_bo = gpuvm_bo_create(vm, obj);

	(void)state;
	assert_non_null(vm_bo);
	gpuvm_put(vm);
	assert_true(gpuvm_bo_destroy_not_in_lists(vm_bo)); /* never published */
	gpuvm_gem_object_put(obj);
	assert_int_equal(freed, 1);
	assert_int_equal(gpuvm_report_leaks(), 0);
	assert_int_equal(harness_warnings(NULL), 0);
}

/* A leaked vm_bo reference keeps the VM alive after the driver's put. */
static void test_vm_kept_by_leaked_vm_bo(void **state)
{
	unsigned int freed = 0;
	struct gpuvm *vm = vm_new("vmA", GPUVM_IMMEDIATE_MODE, &freed);
	struct gpuvm_gem_object *obj = bo_new("fb");
	struct gpuvm_bo *vm_bo = gpuvm_bo_create(vm, obj);

	(void)state;
	assert_non_null(vm_bo);
	gpuvm_bo_get(vm_bo); /* the reference the driver forgets */
	assert_int_equal(gpuvm_report_leaks(), 0); /* the driver holds vmA */

	gpuvm_put(vm);
	gpuvm_bo_put(vm_bo);
	assert_int_equal(freed, 0);
	assert_int_equal(gpuvm_report_leaks(), 1);
	assert_message_has(GPUVM_RULE_LEAK_VM_KEPT_BY_VM_BOS, "VM 'vmA'");
	assert_message_has(GPUVM_RULE_LEAK_VM_KEPT_BY_VM_BOS, "GEM 'fb'");
	assert_message_has(GPUVM_RULE_LEAK_VM_KEPT_BY_VM_BOS, "created at");
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_LEAK_VM_KEPT_BY_VM_BOS), 1);

	/* The driver finds its bug: the VM goes with the last vm_bo. */
	assert_true(gpuvm_bo_destroy_not_in_lists(vm_bo));
	assert_int_equal(freed, 1);
	gpuvm_gem_object_put(obj);
	assert_int_equal(gpuvm_report_leaks(), 0);
}

/* A zombie nobody cleaned up is reported with its VM. */
static void test_undrained_zombie(void **state)
{
	unsigned int freed = 0;
	struct gpuvm *vm = vm_new("vmZ", GPUVM_IMMEDIATE_MODE, &freed);
	struct gpuvm_gem_object *obj = bo_new("zbuf");
	struct gpuvm_bo *vm_bo = gpuvm_bo_create(vm, obj);

	(void)state;
	assert_non_null(vm_bo);
	assert_true(gpuvm_bo_put_deferred(vm_bo));
	assert_int_equal(gpuvm_report_leaks(), 1);
	assert_message_has(GPUVM_RULE_LEAK_ZOMBIE_NOT_CLEANED, "VM 'vmZ'");
	assert_message_has(GPUVM_RULE_LEAK_ZOMBIE_NOT_CLEANED, "1 zombie");
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_LEAK_ZOMBIE_NOT_CLEANED), 1);

	/* Also after the driver's put: both rules, the VM is kept by the
	 * zombie. */
	gpuvm_put(vm);
	assert_int_equal(freed, 0);
	assert_int_equal(gpuvm_report_leaks(), 2);
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_LEAK_ZOMBIE_NOT_CLEANED), 1);
	assert_message_has(GPUVM_RULE_LEAK_VM_KEPT_BY_VM_BOS, "(a zombie)");
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_LEAK_VM_KEPT_BY_VM_BOS), 1);

	gpuvm_bo_deferred_cleanup(vm); /* frees the VM with its zombie */
	assert_int_equal(freed, 1);
	gpuvm_gem_object_put(obj);
	assert_int_equal(gpuvm_report_leaks(), 0);
}

/* Torn down without unmapping (S-GV-22): the mappings keep the VM alive. */
static void test_vm_kept_by_mappings(void **state)
{
	unsigned int freed = 0;
	struct gpuvm *vm = vm_new("vmM", GPUVM_IMMEDIATE_MODE, &freed);
	struct gpuvm_gem_object *obj = bo_new("mbuf");
	struct gpuvm_bo *vm_bo = gpuvm_bo_create(vm, obj);
	struct gpuva va[2] = { 0 };
	unsigned int i;

	(void)state;
	assert_non_null(vm_bo);
	assert_ptr_equal(gpuvm_bo_obtain_prealloc(vm_bo), vm_bo);
	for (i = 0; i < 2; i++) {
		va[i].va.addr = 0x10000 * (i + 1);
		va[i].va.range = 0x1000;
		va[i].gem.obj = obj;
		assert_int_equal(gpuva_insert(vm, &va[i]), 0);
		gpuvm_gem_gpuva_lock(obj);
		gpuva_link(&va[i], vm_bo);
		gpuvm_gem_gpuva_unlock(obj);
	}
	assert_true(gpuvm_bo_put_deferred(vm_bo) == false); /* VAs hold it */
	assert_int_equal(gpuvm_report_leaks(), 0); /* the driver holds vmM */

	gpuvm_put(vm); /* the driver's last reference, nothing unmapped */
	assert_int_equal(freed, 0);
	assert_int_equal(gpuvm_report_leaks(), 1);
	assert_message_has(GPUVM_RULE_LEAK_VM_KEPT_BY_MAPPINGS, "VM 'vmM'");
	assert_message_has(GPUVM_RULE_LEAK_VM_KEPT_BY_MAPPINGS,
			   "2 mapping(s) and 1 vm_bo(s)");
	assert_message_has(GPUVM_RULE_LEAK_VM_KEPT_BY_MAPPINGS, "GEM 'mbuf'");
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_LEAK_VM_KEPT_BY_MAPPINGS), 1);
	assert_int_equal(harness_warnings(GPUVM_RULE_LEAK_VM_KEPT_BY_VM_BOS),
			 0);

	/* Unmapping the first one still leaves the VM kept by the second. */
	gpuva_remove(&va[0]);
	gpuva_unlink_defer(&va[0]);
	assert_int_equal(gpuvm_report_leaks(), 1);
	assert_message_has(GPUVM_RULE_LEAK_VM_KEPT_BY_MAPPINGS,
			   "1 mapping(s) and 1 vm_bo(s)");
	harness_take_warnings(GPUVM_RULE_LEAK_VM_KEPT_BY_MAPPINGS);

	/* The last unmap: the vm_bo becomes a zombie, cleanup frees all. */
	gpuva_remove(&va[1]);
	gpuva_unlink_defer(&va[1]);
	gpuvm_bo_deferred_cleanup(vm);
	assert_int_equal(freed, 1);
	gpuvm_gem_object_put(obj);
	assert_int_equal(gpuvm_report_leaks(), 0);
}

/* The last put of a GEM under its own gpuva mutex is reported at once. */
static void test_gem_freed_under_own_gpuva_lock(void **state)
{
	struct leak_bo bo = { .keep = true };

	(void)state;
	gpuvm_gem_object_init(&bo.base, &leak_bo_funcs, 4096);
	gpuvm_gem_object_set_label(&bo.base, "fb");
	gpuvm_gem_gpuva_lock(&bo.base);
	gpuvm_gem_object_put(&bo.base);
	assert_int_equal(bo.freed, 1);
	assert_int_equal(
		harness_warnings(GPUVM_RULE_GEM_FREED_UNDER_GPUVA_LOCK), 1);
	assert_message_has(GPUVM_RULE_GEM_FREED_UNDER_GPUVA_LOCK, "GEM 'fb'");
	assert_message_has(GPUVM_RULE_GEM_FREED_UNDER_GPUVA_LOCK,
			   "'gpuva lock of GEM 'fb''");
	assert_message_has(GPUVM_RULE_GEM_FREED_UNDER_GPUVA_LOCK, "taken at");
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_GEM_FREED_UNDER_GPUVA_LOCK),
		1);
	/* The mutex layer reports the same destroy; it leaves the mutex
	 * intact for its holder (our memory is still valid). */
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DESTROY_HELD), 1);
	gpuvm_gem_gpuva_unlock(&bo.base);
	assert_int_equal(gpuvm_report_leaks(), 0);
}

/* Held-lock reports name the VM's and the labelled GEM's locks. */
static void test_lock_names(void **state)
{
	unsigned int freed = 0;
	struct gpuvm *vm = vm_new("vmA", GPUVM_IMMEDIATE_MODE, &freed);
	struct gpuvm_gem_object *obj = bo_new("fb");
	struct gpuvm_dma_resv *vm_resv = gpuvm_resv(vm);

	(void)state;
	assert_int_equal(gpuvm_dma_resv_lock(vm_resv, NULL), 0);
	gpuvm_lock_assert_not_held(&vm_resv->lock.dep_map, "leak_test");
	assert_message_has(GPUVM_RULE_LOCK_HELD, "'resv of VM 'vmA''");
	assert_message_has(GPUVM_RULE_LOCK_HELD, "taken at");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_HELD), 1);
	gpuvm_dma_resv_unlock(vm_resv);

	assert_int_equal(gpuvm_gem_object_lock(obj, NULL), 0);
	gpuvm_lock_assert_not_held(&obj->resv->lock.dep_map, "leak_test");
	assert_message_has(GPUVM_RULE_LOCK_HELD, "'resv of GEM 'fb''");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_HELD), 1);
	gpuvm_gem_object_unlock(obj);

	gpuvm_gem_gpuva_lock(obj);
	gpuvm_lock_assert_not_held(&obj->gpuva.lock.dep_map, "leak_test");
	assert_message_has(GPUVM_RULE_LOCK_HELD, "'gpuva lock of GEM 'fb''");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_HELD), 1);
	gpuvm_gem_gpuva_unlock(obj);

	/* Unlabelled: the class name again. */
	gpuvm_gem_object_set_label(obj, NULL);
	assert_string_equal(obj->gpuva.lock.dep_map.name, "gem_gpuva_lock");

	gpuvm_gem_object_put(obj);
	gpuvm_put(vm);
	assert_int_equal(freed, 1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_clean_run_reports_nothing),
		harness_test(test_vm_kept_by_leaked_vm_bo),
		harness_test(test_undrained_zombie),
		harness_test(test_vm_kept_by_mappings),
		harness_test(test_gem_freed_under_own_gpuva_lock),
		harness_test(test_lock_names),
	};

	gpuvm_debug_enable(true);
	return harness_run("leak-report", tests, argc, argv);
}
