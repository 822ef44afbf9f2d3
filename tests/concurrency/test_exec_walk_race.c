// SPDX-License-Identifier: MIT
/*
 * The exec list walks and a concurrent last reference drop.
 *
 * Scenario "walk-last-put-after-deferred-put" (immediate mode, lists not
 * resv-protected): gpuvm_vm_exec_lock() walks the extobj list holding a
 * temporary reference to each vm_bo while it locks the object. Another
 * thread drops the driver's last reference meanwhile with
 * gpuvm_bo_put_deferred(), which needs no lock and does not reach zero
 * (the walk still holds one). The walk's own drop is then the last: the
 * kernel's code destroys the vm_bo there without the GEM's gpuva mutex,
 * racing lookups of the same GEM in other VMs. The library takes the
 * mutex for that drop: no warning, the vm_bo is destroyed at once and
 * leaves every list. The interleaving is fixed with the "walk:after_get"
 * hook point.
 */
#include <pthread.h>
#include <string.h>

#include <gpuvm/debug.h>
#include <gpuvm/testing.h>

#include "gpuvm_fixture.h"
#include "harness.h"

struct walker {
	struct gpuvm_vm_exec vm_exec;
	int ret;
};

static void *walker_main(void *arg)
{
	struct walker *w = arg;

	w->ret = gpuvm_vm_exec_lock(&w->vm_exec);
	if (!w->ret)
		gpuvm_vm_exec_unlock(&w->vm_exec);
	return NULL;
}

static unsigned int frees;

static void count_free(struct gpuvm_bo *vm_bo)
{
	frees++;
	gpuvm_kfree(vm_bo);
}

static void test_walk_last_put_after_deferred_put(void **state)
{
	struct fx_vm *fx = fx_vm_create(GPUVM_IMMEDIATE_MODE, 0, 1 << 20, 0, 0);
	struct fx_vm *other =
		fx_vm_create(GPUVM_IMMEDIATE_MODE, 0, 1 << 20, 0, 0);
	struct gpuvm_gem_object *x = fx_obj(other, 'X');
	struct gpuvm_bo *vm_bo, *in_other;
	struct walker w;
	pthread_t t;

	(void)state;
	frees = 0;
	fx->ops.vm_bo_free = count_free;
	/* X is mapped in another VM too: its gpuva list stays shared. */
	in_other = fx_bo_obtain(other, x);
	vm_bo = fx_bo_obtain(fx, x);
	gpuvm_bo_extobj_add(vm_bo);
	assert_int_equal(fx_bo_kref(vm_bo), 1);

	memset(&w, 0, sizeof(w));
	w.vm_exec.vm = &fx->base;
	gpuvm_hook_park("walk:after_get", 1);
	assert_int_equal(pthread_create(&t, NULL, walker_main, &w), 0);
	assert_true(gpuvm_hook_wait_parked("walk:after_get", 1));

	/* The walk holds its temporary reference: this is not the last. */
	assert_int_equal(fx_bo_kref(vm_bo), 2);
	assert_false(gpuvm_bo_put_deferred(vm_bo));
	gpuvm_hook_release("walk:after_get");
	assert_int_equal(pthread_join(t, NULL), 0);

	assert_int_equal(w.ret, 0);
	assert_int_equal(harness_warnings(NULL), 0);
	assert_int_equal(frees, 1);
	assert_true(gpuvm_list_empty(&fx->base.extobj.list));
	assert_int_equal(fx_defer_count(&fx->base), 0);
	/* Only the other VM's vm_bo is left on X's list. */
	assert_int_equal(fx_list_count(&x->gpuva.list), 1);
	assert_true(fx_bo_on_gem_list(in_other));

	assert_true(fx_bo_put_locked(other, in_other));
	fx_vm_destroy(fx);
	fx_vm_destroy(other);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_walk_last_put_after_deferred_put),
	};

	return harness_run("gpuvm/exec-walk-race", tests, argc, argv);
}
