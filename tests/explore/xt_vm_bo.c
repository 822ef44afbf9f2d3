// SPDX-License-Identifier: MIT
/*
 * Explored: the lifetime of one vm_bo when the deferred put, the deferred
 * cleanup and another obtain of the same (VM, object) race; the unmap of
 * a vm_bo's last VA (gpuva_unlink_defer) against the cleanup and a new
 * obtain; two obtains of one external object that use the vm_bo at once
 * (extobj list, the duplicate's free); the last vm_bo put, holding the
 * object's last reference, against users of the object's gpuva mutex.
 */
#include <string.h>

#include "xt_common.h"

struct defer_state {
	struct scn_vm *vm;
	struct scn_gem *gem;
	struct gpuvm_bo *vm_bo;
};

static struct defer_state ds;

static void *defer_setup(void)
{
	xt_begin();
	ds.vm = xt_vm_new();
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

/* ---- unlink-defer-cleanup ------------------------------------------------ */

#define P(n) ((uint64_t)(n) << 12)

struct unlink_state {
	struct scn_vm *vm;
	struct scn_gem *gem;
	struct gpuvm_bo *old; /* the vm_bo whose last VA goes */
	int unmap_ret, map_ret, unmap2_ret;
};

static struct unlink_state us;

static void *unlink_setup(void)
{
	xt_begin();
	memset(&us, 0, sizeof(us));
	us.vm = xt_vm_new();
	us.gem = scn_gem_new('A', NULL, 4);
	us.old = scn_obtain(us.vm, us.gem, 0);
	if (scn_map(us.vm, us.old, P(0), P(4), 0))
		xp_fail("setup: map");
	/* The VA's reference is the vm_bo's last one; the object's creation
	 * reference is thread 2's. */
	scn_bo_put(us.old);
	return &us;
}

/*
 * Thread 0 unmaps the vm_bo's last VA (gpuva_unlink_defer: the vm_bo becomes
 * a zombie), thread 1 runs the deferred cleanup, thread 2 obtains the same
 * (VM, object) again (the zombie, if it is one already, must not be found),
 * hands its object reference to the vm_bo, maps and unmaps a VA of it and
 * drops it. Once thread 2 let go of the object, vm_bos (zombies or not)
 * hold its last references: whichever free drops the last one must not
 * find the object's gpuva mutex held.
 */
static void unlink_thread(unsigned int i, void *arg)
{
	struct unlink_state *s = arg;
	struct gpuvm_bo *b;

	switch (i) {
	case 0:
		s->unmap_ret = scn_unmap(s->vm, P(0), P(4));
		break;
	case 1:
		scn_deferred_cleanup(s->vm);
		break;
	case 2:
		b = scn_obtain(s->vm, s->gem, 2);
		XP_CHECK(!gpuvm_is_err_or_null(b), "obtain failed");
		if (gpuvm_is_err_or_null(b)) {
			scn_gem_put(s->gem);
			break;
		}
		XP_CHECK(scn_bo_state(b) == SCN_BO_REGISTERED,
			 "obtain returned a %s vm_bo",
			 scn_bo_state_name(scn_bo_state(b)));
		scn_gem_put(s->gem); /* the vm_bo keeps the object */
		s->map_ret = scn_map(s->vm, b, P(8), P(4), 0);
		s->unmap2_ret = scn_unmap(s->vm, P(8), P(4));
		scn_bo_put(b);
		break;
	}
}

static void unlink_check(void *arg)
{
	struct unlink_state *s = arg;

	XP_CHECK(s->unmap_ret == 0, "thread 0's unmap: %d", s->unmap_ret);
	XP_CHECK(s->map_ret == 0, "thread 2's map: %d", s->map_ret);
	XP_CHECK(s->unmap2_ret == 0, "thread 2's unmap: %d", s->unmap2_ret);
	XP_CHECK(scn_va_count(s->vm) == 0, "%u VAs left", scn_va_count(s->vm));
	/* Only zombies are left; they hold the object until the cleanup. */
	XP_CHECK(scn_defer_count(s->vm) > 0 || scn_gem_freed(s->gem),
		 "the object is alive with no vm_bo left to free it");
}

static void unlink_teardown(void *arg)
{
	struct unlink_state *s = arg;

	scn_vm_close(s->vm); /* unmap all, cleanup, drop the VM */
	XP_CHECK(scn_gem_freed(s->gem), "the object outlived the VM");
	xt_end();
}

static const struct xp_test unlink_defer_cleanup = {
	.name = "unlink-defer-cleanup",
	.doc = "unmap of a vm_bo's last VA vs deferred cleanup vs obtain+map",
	.nr_threads = 3,
	.setup = unlink_setup,
	.thread = unlink_thread,
	.check = unlink_check,
	.teardown = unlink_teardown,
};
XT_REGISTER(unlink_defer_cleanup)

/* ---- obtain-race-extobj --------------------------------------------------- */

struct race_state {
	struct scn_vm *vm;
	struct scn_gem *gem;
};

static struct race_state rs;

static void *race_setup(void)
{
	xt_begin();
	rs.vm = xt_vm_new();
	/* An external object (its own resv); the reference is the test's. */
	rs.gem = scn_gem_new('X', NULL, 4);
	return &rs;
}

/* Whether the lock phase of @vm_exec locked @g. */
static bool exec_holds(struct gpuvm_vm_exec *vm_exec, struct scn_gem *g)
{
	struct gpuvm_gem_object *obj;

	gpuvm_exec_for_each_locked_object(&vm_exec->exec, obj)
		if (obj == &g->base)
			return true;
	return false;
}

/*
 * Threads 0 and 1 obtain the same (VM, external object) at once; whichever
 * gets the vm_bo, the creator's or the one it found, runs a job with it
 * at once: the job's lock phase must see the object through the extobj
 * list, or the job's fence would miss it. Then they drop it. Thread 2
 * runs the deferred cleanup (a zombie stays on the extobj list until
 * then: the lock phase must skip it, and a new vm_bo must still be
 * added). The list is read without the VM resv: fine here, the explorer
 * runs one thread at a time.
 *
 * The duplicate prealloc of the losing obtain is freed by the reference
 * free hook, which takes the object's resv: under the object's gpuva
 * mutex (knob obtain-free-locked) that is reported as lock-held, and
 * against a job holding the resv while it waits for the gpuva mutex it
 * would deadlock.
 */
static void race_thread(unsigned int i, void *arg)
{
	struct race_state *s = arg;
	struct gpuvm_vm_exec vm_exec;
	struct gpuvm_bo *b;
	int ret;

	if (i == 2) {
		scn_deferred_cleanup(s->vm);
		return;
	}
	b = scn_obtain(s->vm, s->gem, (long)i + 1);
	XP_CHECK(!gpuvm_is_err_or_null(b), "obtain failed");
	if (gpuvm_is_err_or_null(b))
		return;
	XP_CHECK(scn_bo_on_extobj(b),
		 "obtain returned a vm_bo that is not on the extobj list");
	/* The job's lock phase: the VM resv and every extobj. No fence
	 * slots: a fence's RCU-deferred free makes a run ~100x slower. */
	memset(&vm_exec, 0, sizeof(vm_exec));
	vm_exec.vm = &s->vm->base;
	vm_exec.flags = GPUVM_EXEC_IGNORE_DUPLICATES;
	ret = gpuvm_vm_exec_lock(&vm_exec);
	XP_CHECK(ret == 0, "the job's lock phase: %d", ret);
	if (!ret) {
		XP_CHECK(exec_holds(&vm_exec, s->gem),
			 "the job's lock phase missed the external object");
		/* Under the resvs the job looks at its vm_bo, which takes the
		 * object's gpuva mutex: resv -> gpuva, as a signalling-path
		 * unmap does (S-GV-04). */
		XP_CHECK(scn_bo_state(b) == SCN_BO_REGISTERED,
			 "the job's vm_bo is %s",
			 scn_bo_state_name(scn_bo_state(b)));
		gpuvm_vm_exec_unlock(&vm_exec);
	}
	scn_bo_put(b);
}

static void race_teardown(void *arg)
{
	struct race_state *s = arg;

	scn_deferred_cleanup(s->vm);
	scn_gem_put(s->gem);
	scn_vm_put(s->vm);
	xt_end();
}

static const struct xp_test obtain_race_extobj = {
	.name = "obtain-race-extobj",
	.doc = "two obtains of one (VM, extobj) run a job at once; cleanup",
	.nr_threads = 3,
	.setup = race_setup,
	.thread = race_thread,
	.teardown = race_teardown,
};
XT_REGISTER(obtain_race_extobj)

/* ---- last-put-gpuva-held ------------------------------------------------- */

struct lastput_state {
	struct scn_vm *vm;
	struct scn_gem *gem;
	struct gpuvm_bo *vm_bo;
	int map_ret, unmap_ret;
};

static struct lastput_state ls;

static void *lastput_setup(void)
{
	xt_begin();
	memset(&ls, 0, sizeof(ls));
	ls.vm = xt_vm_new();
	ls.gem = scn_gem_new('G', NULL, 4);
	ls.vm_bo = scn_obtain(ls.vm, ls.gem, 0);
	/* Two references to the vm_bo, one per thread; the vm_bo holds the
	 * object's last reference (S-GV-02). */
	scn_bo_get(ls.vm_bo);
	scn_gem_put(ls.gem);
	return &ls;
}

/*
 * Thread 0 drops its reference to the vm_bo. Thread 1 maps a VA of the
 * same object through it (gpuva_link under the object's gpuva mutex),
 * unmaps it again (gpuva_unlink_defer, same mutex) and drops its
 * reference. Whichever drop is the last makes the vm_bo a zombie, and the
 * cleanup that frees it, thread 2, drops the object's last reference: the
 * object, and its gpuva mutex, must not go while either thread is inside
 * that mutex. A synchronous put under the mutex (C-02) frees the object
 * from inside it.
 */
static void lastput_thread(unsigned int i, void *arg)
{
	struct lastput_state *s = arg;

	switch (i) {
	case 0:
		scn_bo_put(s->vm_bo);
		break;
	case 1:
		s->map_ret = scn_map(s->vm, s->vm_bo, P(0), P(4), 0);
		s->unmap_ret = scn_unmap(s->vm, P(0), P(4));
		scn_bo_put(s->vm_bo);
		break;
	case 2:
		scn_deferred_cleanup(s->vm);
		break;
	}
}

static void lastput_check(void *arg)
{
	struct lastput_state *s = arg;

	XP_CHECK(s->map_ret == 0, "map: %d", s->map_ret);
	XP_CHECK(s->unmap_ret == 0, "unmap: %d", s->unmap_ret);
	/* Freed by thread 2, or a zombie left for the teardown's cleanup. */
	XP_CHECK(scn_gem_freed(s->gem) || scn_defer_count(s->vm) == 1,
		 "the object is alive with no zombie to free it");
}

static void lastput_teardown(void *arg)
{
	struct lastput_state *s = arg;

	scn_deferred_cleanup(s->vm);
	XP_CHECK(scn_gem_freed(s->gem), "the object outlived its vm_bo");
	scn_vm_put(s->vm);
	xt_end();
}

static const struct xp_test last_put_gpuva_held = {
	.name = "last-put-gpuva-held",
	.doc = "last vm_bo put (last GEM ref) vs map/unmap under the gpuva "
	       "mutex vs cleanup",
	.nr_threads = 3,
	.setup = lastput_setup,
	.thread = lastput_thread,
	.check = lastput_check,
	.teardown = lastput_teardown,
};
XT_REGISTER(last_put_gpuva_held)
