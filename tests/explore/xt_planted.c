// SPDX-License-Identifier: MIT
/*
 * A planted bug: a copy of the library's deferred put (gpuvm_bo_put_deferred
 * in src/vm_bo.c, built from the same internal steps) in which the zombie
 * is published on the deferred list before it leaves its object's vm_bo
 * list. The correct copy must pass every schedule within bound 2; the
 * planted one must be found, with a schedule that fails again on replay.
 *
 * This is also the shape of a driver prototyper's own explored test: set
 * up objects, give each thread one operation, let the explorer find the
 * interleaving that breaks a rule.
 */
#include "vm_internal.h"
#include "xt_common.h"

/* The copy of the deferred put; @planted publishes too early. */
static void copy_put_deferred(struct gpuvm_bo *vm_bo, bool planted)
{
	struct gpuvm_gem_object *obj = vm_bo->obj;
	bool zombie;

	gpuvm_gem_gpuva_lock(obj);
	if (planted && __atomic_load_n(&vm_bo->kref, __ATOMIC_RELAXED) == 1) {
		/* The bug: visible to cleanup while still on the GEM list
		 * (and still holding its reference). */
		gpuvm_bo_defer_push(vm_bo);
		(void)gpuvm_bo_put_zombify_locked(vm_bo, "copy_put_deferred");
		gpuvm_gem_gpuva_unlock(obj);
		return;
	}
	zombie = gpuvm_bo_put_zombify_locked(vm_bo, "copy_put_deferred");
	gpuvm_gem_gpuva_unlock(obj);
	/* As the library: published after the unlock, off every list that
	 * a lookup walks. */
	if (zombie)
		gpuvm_bo_defer_push(vm_bo);
}

struct planted_state {
	struct scn_vm *vm;
	struct scn_gem *gem;
	struct gpuvm_bo *vm_bo;
	bool planted;
};

static struct planted_state ps;

static void *planted_setup(bool planted)
{
	xt_begin();
	ps.planted = planted;
	ps.vm = xt_vm_new();
	ps.gem = scn_gem_new('P', NULL, 4);
	ps.vm_bo = scn_obtain(ps.vm, ps.gem, 0);
	return &ps;
}

static void *correct_setup(void)
{
	return planted_setup(false);
}

static void *bug_setup(void)
{
	return planted_setup(true);
}

/* 0: the last put (the copy), 1: cleanup, 2: obtain the same and drop it. */
static void planted_thread(unsigned int i, void *arg)
{
	struct planted_state *s = arg;
	struct gpuvm_bo *b;

	switch (i) {
	case 0:
		copy_put_deferred(s->vm_bo, s->planted);
		break;
	case 1:
		scn_deferred_cleanup(s->vm);
		break;
	case 2:
		b = scn_obtain(s->vm, s->gem, 0);
		XP_CHECK(!gpuvm_is_err_or_null(b), "obtain failed");
		if (!gpuvm_is_err_or_null(b))
			scn_bo_put(b);
		break;
	}
}

static void planted_teardown(void *arg)
{
	struct planted_state *s = arg;

	scn_deferred_cleanup(s->vm);
	scn_vm_put(s->vm);
	scn_gem_put(s->gem);
	xt_end();
}

static const struct xp_test copy_defer_correct = {
	.name = "copy-defer-correct",
	.doc = "a copy of the deferred put, correct: publish after leaving the lists",
	.nr_threads = 3,
	.setup = correct_setup,
	.thread = planted_thread,
	.teardown = planted_teardown,
};
XT_REGISTER(copy_defer_correct)

static const struct xp_test copy_defer_planted = {
	.name = "copy-defer-planted",
	.doc = "the same copy with a planted bug: published while still listed",
	.nr_threads = 3,
	.setup = bug_setup,
	.thread = planted_thread,
	.teardown = planted_teardown,
};
XT_REGISTER(copy_defer_planted)
