// SPDX-License-Identifier: MIT
/*
 * Explored: the lifetime of one vm_bo when the deferred put, the deferred
 * cleanup and another obtain of the same (VM, object) race.
 */
#include "xt_common.h"

#define SPACE (1ull << 32)

struct defer_state {
	struct scn_vm *vm;
	struct scn_gem *gem;
	struct gpuvm_bo *vm_bo;
};

static struct defer_state ds;

static void *defer_setup(void)
{
	xt_begin();
	ds.vm = scn_vm_new(&scn_reference_driver, NULL, NULL, 0, SPACE, 0, 0,
			   0);
	/* The object's one reference is the obtaining thread's; the vm_bo
	 * holds the other, so the cleanup may free the object. */
	ds.gem = scn_gem_new('A', NULL, 4);
	ds.vm_bo = scn_obtain(ds.vm, ds.gem, 0);
	return &ds;
}

/*
 * Thread 0 drops the last reference it knows of (a deferred put), thread
 * 1 runs the deferred cleanup, thread 2 obtains the same vm_bo and drops
 * it, then drops its object reference.
 */
static void defer_thread(unsigned int i, void *arg)
{
	struct defer_state *s = arg;
	struct gpuvm_bo *b;

	switch (i) {
	case 0:
		scn_bo_put(s->vm_bo);
		break;
	case 1:
		scn_deferred_cleanup(s->vm);
		break;
	case 2:
		b = scn_obtain(s->vm, s->gem, 0);
		XP_CHECK(!gpuvm_is_err_or_null(b), "obtain failed");
		if (gpuvm_is_err_or_null(b))
			break;
		XP_CHECK(scn_bo_state(b) == SCN_BO_REGISTERED,
			 "obtain returned a %s vm_bo",
			 scn_bo_state_name(scn_bo_state(b)));
		XP_CHECK(scn_bo_on_extobj(b),
			 "obtain returned before the vm_bo is on the extobj "
			 "list");
		scn_bo_put(b);
		scn_gem_put(s->gem);
		break;
	}
}

static void defer_teardown(void *arg)
{
	struct defer_state *s = arg;

	scn_deferred_cleanup(s->vm);
	scn_vm_put(s->vm);
	xt_end();
}

static const struct xp_test defer_cleanup_obtain = {
	.name = "defer-cleanup-obtain",
	.doc = "deferred put vs deferred cleanup vs obtain of the same vm_bo",
	.nr_threads = 3,
	.setup = defer_setup,
	.thread = defer_thread,
	.teardown = defer_teardown,
};
XT_REGISTER(defer_cleanup_obtain)
