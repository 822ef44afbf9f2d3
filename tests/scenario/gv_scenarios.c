// SPDX-License-Identifier: MIT
/*
 * The scenarios S-GV-01..22: each reviewer concern C-01..C-24 of the Rust
 * GPUVM abstraction as a scenario that runs against a driver's callbacks
 * (see gpuvm_scenario.h). A scenario asserts the observable that tells the
 * fixed design from the broken one; a "-variant" scenario (misuse = true)
 * switches to the broken design through a knob and asserts that the debug
 * checker, or the harness, reports it by rule name.
 *
 * Scenarios assert on their main thread; worker threads only record.
 * Interleavings come from hook points (gpuvm_hook_park()), never sleeps.
 */
#include <sched.h>
#include <string.h>

#include <gpuvm/testing.h>
#include "gpuvm_scenario.h"

#define CHECK(cond, ...) SCN_CHECK(r, (cond), __VA_ARGS__)
#define P(n) ((uint64_t)(n) << 12)
#define SPACE P(4096)

static unsigned int ld(const unsigned int *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static int ldi(const int *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void sti(int *p, int v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static bool ok_bo(const struct gpuvm_bo *b)
{
	return !gpuvm_is_err_or_null(b);
}

static int kref(const struct gpuvm_bo *b)
{
	return __atomic_load_n(&b->kref, __ATOMIC_RELAXED);
}

static struct scn_vm *new_vm(const struct scn_driver *drv)
{
	return scn_vm_new(drv, NULL, NULL, 0, SPACE, 0, 0, 0);
}

static bool is_reference(const struct scn_driver *drv)
{
	return drv == &scn_reference_driver;
}

/* A staged VM must not run a free hook that takes the GEM resv (its put
 * runs under that resv), so staged VMs get this plain driver. */
static const struct scn_driver plain_driver = { .name = "plain" };

static struct gpuvm_lock_class *gpuva_class(struct scn_gem *g)
{
	return g->base.gpuva.lock.dep_map.lock_class;
}

static struct gpuvm_lock_class *resv_class(struct scn_gem *g)
{
	return g->base.resv->lock.dep_map.lock_class;
}

/* ---- S-GV-01 (C-01): a drop under a held resv --------------------------- */

/* B alive only through the caller's reference, after a map and an unmap. */
static struct gpuvm_bo *mapped_once(struct scn_result *r, struct scn_vm *vm,
				    struct scn_gem *g)
{
	struct gpuvm_bo *b = scn_obtain(vm, g, 1);

	CHECK(ok_bo(b), "obtain");
	if (!ok_bo(b))
		return NULL;
	CHECK(scn_map(vm, b, P(0), P(4), 0) == 0, "map");
	CHECK(kref(b) == 2, "the VA holds a reference");
	CHECK(scn_unmap(vm, P(0), P(4)) == 0, "unmap");
	CHECK(kref(b) == 1, "only the caller's reference left");
	return b;
}

static void gv01(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_vm *vm = new_vm(drv);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct gpuvm_bo *b = mapped_once(r, vm, g);
	unsigned int frees = ld(&vm->stats.frees), held;

	if (!b)
		return;
	/* A TTM-style callback holds G's resv and drops the last ref. */
	CHECK(gpuvm_dma_resv_lock(g->base.resv, NULL) == 0, "lock G");
	held = gpuvm_lock_held_count();
	scn_bo_put(b);
	CHECK(gpuvm_lock_held_count() == held, "the drop leaves locks as is");
	CHECK(scn_warnings(NULL) == 0, "no resv taken by the destructor");
	CHECK(scn_bo_state(b) == SCN_BO_ZOMBIE, "B is a zombie");
	CHECK(!scn_bo_on_gem_list(b), "off the GEM list");
	CHECK(scn_bo_on_defer(b), "queued for cleanup");
	CHECK(scn_bo_on_extobj(b), "still on extobj (resv-protected)");
	CHECK(ld(&vm->stats.frees) == frees, "nothing freed yet");
	gpuvm_dma_resv_unlock(g->base.resv);
	scn_deferred_cleanup(vm);
	CHECK(ld(&vm->stats.frees) == frees + 1, "cleanup freed B");
	CHECK(scn_gem_refcount(g) == 1, "G back to the caller's reference");

	/* Variant 4: the VM resv held: still only a zombie, no resv taken. */
	b = scn_obtain(vm, g, 2);
	CHECK(ok_bo(b), "obtain again");
	CHECK(gpuvm_dma_resv_lock(gpuvm_resv(&vm->base), NULL) == 0, "VM");
	scn_bo_put(b);
	CHECK(scn_warnings(NULL) == 0, "put under the VM resv is fine");
	CHECK(scn_bo_state(b) == SCN_BO_ZOMBIE, "zombie");
	gpuvm_dma_resv_unlock(gpuvm_resv(&vm->base));
	scn_deferred_cleanup(vm);
	CHECK(ld(&vm->stats.frees) == frees + 2, "freed by cleanup");
	scn_note(r, "vm_bo frees", ld(&vm->stats.frees));
	scn_gem_put(g);
	scn_vm_put(vm);
	CHECK(scn_vm_freed(vm), "VM freed");
}

/* Daniel's v2: the destructor locks the GEM resv the caller holds. */
static void gv01_naive(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_vm *vm = new_vm(drv);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct gpuvm_bo *b = mapped_once(r, vm, g);

	if (!b)
		return;
	CHECK(gpuvm_dma_resv_lock(g->base.resv, NULL) == 0, "lock G");
	scn_set_knob(SCN_KNOB_DROP_TAKES_GEM_RESV, true);
	scn_bo_put(b);
	scn_set_knob(SCN_KNOB_DROP_TAKES_GEM_RESV, false);
	CHECK(scn_take_warnings(GPUVM_RULE_RECURSIVE_LOCK) == 1,
	      "the self-deadlock is reported as recursive-lock");
	gpuvm_dma_resv_unlock(g->base.resv);
	scn_deferred_cleanup(vm);
	scn_gem_put(g);
	scn_vm_put(vm);
}

/* Variant 4's second half: cleanup takes the VM resv the caller holds. */
static void gv01_cleanup_held(const struct scn_driver *drv,
			      struct scn_result *r)
{
	struct scn_vm *vm = new_vm(drv);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct gpuvm_bo *b = mapped_once(r, vm, g);

	if (!b)
		return;
	scn_bo_put(b);
	CHECK(gpuvm_dma_resv_lock(gpuvm_resv(&vm->base), NULL) == 0, "VM");
	scn_deferred_cleanup(vm);
	CHECK(scn_take_warnings(GPUVM_RULE_LOCK_HELD) == 1,
	      "cleanup under the VM resv is reported as lock-held");
	/* The reference free hook then takes G's resv under the VM's. */
	scn_note(r, "incidental recursive-lock",
		 scn_take_warnings(GPUVM_RULE_RECURSIVE_LOCK));
	gpuvm_dma_resv_unlock(gpuvm_resv(&vm->base));
	CHECK(scn_defer_count(vm) == 0, "the zombie went anyway");
	scn_gem_put(g);
	scn_vm_put(vm);
}

/* ---- S-GV-02 (C-02): the vm_bo holds the last GEM reference ------------- */

struct gv02 {
	struct scn_vm *vm;
	struct gpuvm_bo *b;
};

static void gv02_put(unsigned int i, void *arg)
{
	struct gv02 *s = arg;

	(void)i;
	scn_bo_put(s->b);
}

static void gv02_cleanup(unsigned int i, void *arg)
{
	struct gv02 *s = arg;

	(void)i;
	scn_deferred_cleanup(s->vm);
}

static void mark_unlocked(const char *name, void *arg)
{
	(void)name;
	(void)arg;
	scn_event("U");
}

/* G alive only through B, B only through the caller. */
static struct gpuvm_bo *last_gem_ref(struct scn_result *r, struct scn_vm *vm,
				     struct scn_gem *g)
{
	struct gpuvm_bo *b = mapped_once(r, vm, g);

	scn_gem_put(g);
	CHECK(scn_gem_refcount(g) == 1, "G alive only through B");
	return b;
}

static void gv02(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct gv02 s = { .vm = new_vm(drv) };
	struct scn_thread put, c1, c2;

	s.b = last_gem_ref(r, s.vm, g);
	if (!s.b)
		return;
	/* The put path stops right after it dropped the gpuva lock. */
	gpuvm_hook_park("put_deferred:after_unlock", 1);
	gpuvm_hook_set_callback("put_deferred:after_unlock", mark_unlocked,
				NULL);
	scn_thread_start(&put, 1, gv02_put, &s);
	CHECK(gpuvm_hook_wait_parked("put_deferred:after_unlock", 1), "park");
	CHECK(!gpuvm_mutex_is_locked(&g->base.gpuva.lock),
	      "the gpuva lock is released before the zombie is published");
	CHECK(kref(s.b) == 0 && scn_defer_count(s.vm) == 0,
	      "a zombie, not yet published");
	/* A cleanup now finds nothing to free: G stays. */
	scn_thread_start(&c1, 2, gv02_cleanup, &s);
	scn_thread_join(&c1);
	CHECK(!scn_gem_freed(g), "G alive while the put path may touch it");
	gpuvm_hook_release("put_deferred:after_unlock");
	scn_thread_join(&put);
	CHECK(scn_defer_count(s.vm) == 1, "published after the unlock");

	/* The cleanup that frees B (and G) stops before destroying. */
	gpuvm_hook_park("cleanup:before_destroy", 1);
	scn_thread_start(&c2, 3, gv02_cleanup, &s);
	CHECK(gpuvm_hook_wait_parked("cleanup:before_destroy", 1), "park");
	CHECK(!scn_gem_freed(g) && !gpuvm_mutex_is_locked(&g->base.gpuva.lock),
	      "G alive and unlocked before the destroy");
	gpuvm_hook_release("cleanup:before_destroy");
	scn_thread_join(&c2);
	CHECK(scn_gem_freed(g), "G freed by the cleanup");
	CHECK(scn_event_pos("U") >= 0 &&
		      scn_event_pos("U") < scn_event_pos("F:G"),
	      "G freed strictly after the put path unlocked (%s)",
	      scn_events());
	CHECK(ldi(&s.vm->stats.last_free_thread) == 3, "freed on the cleanup");
	scn_note(r, "free thread", ldi(&s.vm->stats.last_free_thread));
	scn_vm_put(s.vm);
}

/* The broken order: published before the unlock. */
static void gv02_publish_locked(const struct scn_driver *drv,
				struct scn_result *r)
{
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct gv02 s = { .vm = new_vm(drv) };
	struct scn_thread put, c;

	s.b = last_gem_ref(r, s.vm, g);
	if (!s.b)
		return;
	gpuvm_debug_set_knob(GPUVM_KNOB_DEFER_PUBLISH_LOCKED, true);
	gpuvm_hook_park("put_deferred:after_publish_locked", 1);
	scn_thread_start(&put, 1, gv02_put, &s);
	CHECK(gpuvm_hook_wait_parked("put_deferred:after_publish_locked", 1),
	      "park");
	CHECK(gpuvm_mutex_is_locked(&g->base.gpuva.lock) &&
		      scn_defer_count(s.vm) == 1,
	      "published while the gpuva lock is held");
	/* A cleanup runs to completion meanwhile. */
	scn_thread_start(&c, 2, gv02_cleanup, &s);
	scn_thread_join(&c);
	CHECK(scn_gem_freed(g), "G freed while the put path holds its lock");
	CHECK(scn_take_warnings(GPUVM_RULE_DESTROY_HELD) == 1,
	      "freeing a held mutex is reported as destroy-held-lock");
	gpuvm_hook_release("put_deferred:after_publish_locked");
	scn_thread_join(&put);
	gpuvm_debug_set_knob(GPUVM_KNOB_DEFER_PUBLISH_LOCKED, false);
	scn_vm_put(s.vm);
}

/* A synchronous put under the GEM mutex frees the mutex it holds. */
static void gv02_sync_put(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct scn_vm *vm = new_vm(drv);
	struct gpuvm_bo *b = last_gem_ref(r, vm, g);

	if (!b)
		return;
	scn_set_knob(SCN_KNOB_SYNC_PUT_UNDER_GPUVA, true);
	scn_bo_put(b);
	scn_set_knob(SCN_KNOB_SYNC_PUT_UNDER_GPUVA, false);
	CHECK(scn_gem_freed(g), "G freed inside the put");
	CHECK(scn_take_warnings(GPUVM_RULE_DESTROY_HELD) == 1,
	      "the held gpuva mutex freed: destroy-held-lock");
	CHECK(scn_take_warnings(GPUVM_RULE_GEM_FREED_UNDER_GPUVA_LOCK) == 1,
	      "G freed under its own gpuva mutex: reported at once");
	CHECK(scn_take_warnings(GPUVM_RULE_LOCK_HELD) >= 1,
	      "vm_bo_free ran under the gpuva lock: lock-held");
	/* The reference free hook takes G's resv under the VM resv and the
	 * gpuva mutex: two more reports of the same broken path. */
	scn_note(r, "incidental recursive-lock",
		 scn_take_warnings(GPUVM_RULE_RECURSIVE_LOCK));
	scn_note(r, "incidental lock-order",
		 scn_take_warnings(GPUVM_RULE_LOCK_ORDER));
	scn_vm_put(vm);
}

/* ---- S-GV-03 (C-03): one GEM, two VMs ----------------------------------- */

#define GV03_ITERS 150

struct gv03 {
	struct scn_vm *vm[2];
	struct scn_gem *g;
	int done[2];
	unsigned int errors, dup, zero_ref, inspections;
};

static void gv03_binder(unsigned int i, void *arg)
{
	struct gv03 *s = arg;
	struct scn_vm *vm = s->vm[i];
	unsigned int k;

	for (k = 0; k < GV03_ITERS; k++) {
		struct gpuvm_bo *b = scn_obtain(vm, s->g, (long)k);

		if (!ok_bo(b)) {
			__atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (scn_map(vm, b, P(4 * (k % 16)), P(4), 0) ||
		    scn_unmap(vm, P(4 * (k % 16)), P(4)))
			__atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED);
		scn_bo_put(b);
	}
	sti(&s->done[i], 1);
}

static void gv03_inspect(struct gv03 *s)
{
	struct gpuvm_gem_object *obj = &s->g->base;
	unsigned int per_vm[2] = { 0, 0 }, i;
	struct gpuvm_bo *b;

	gpuvm_gem_gpuva_lock(obj);
	gpuvm_gem_for_each_gpuvm_bo(b, obj) {
		for (i = 0; i < 2; i++)
			per_vm[i] += b->vm == &s->vm[i]->base;
		if (kref(b) < 1)
			s->zero_ref++;
	}
	gpuvm_gem_gpuva_unlock(obj);
	if (per_vm[0] > 1 || per_vm[1] > 1)
		s->dup++;
	s->inspections++;
}

static void gv03_cleaner(unsigned int i, void *arg)
{
	struct gv03 *s = arg;

	(void)i;
	while (!ldi(&s->done[0]) || !ldi(&s->done[1])) {
		scn_deferred_cleanup(s->vm[0]);
		scn_deferred_cleanup(s->vm[1]);
		gv03_inspect(s);
		sched_yield();
	}
	scn_deferred_cleanup(s->vm[0]);
	scn_deferred_cleanup(s->vm[1]);
	gv03_inspect(s);
}

static void gv03_thread(unsigned int i, void *arg)
{
	if (i < 2)
		gv03_binder(i, arg);
	else
		gv03_cleaner(i, arg);
}

static void gv03(const struct scn_driver *drv, struct scn_result *r)
{
	struct gv03 s = { .vm = { new_vm(drv), new_vm(drv) } };
	unsigned int i;

	s.g = scn_gem_new('G', NULL, 4);
	scn_run_threads(3, gv03_thread, &s);
	CHECK(s.errors == 0, "every obtain/map/unmap succeeded");
	CHECK(s.dup == 0, "at most one vm_bo per VM on G's list");
	CHECK(s.zero_ref == 0, "every listed vm_bo has a reference");
	CHECK(s.inspections > 0, "the list was inspected");
	CHECK(scn_warnings(NULL) == 0,
	      "every list change under G's gpuva lock (no lock warning)");
	CHECK(gpuvm_list_empty(&s.g->base.gpuva.list), "G's list empty");
	CHECK(scn_gem_refcount(s.g) == 1, "G back to the caller's reference");
	scn_note(r, "inspections", s.inspections);
	for (i = 0; i < 2; i++) {
		CHECK(scn_defer_count(s.vm[i]) == 0, "nothing left queued");
		scn_vm_put(s.vm[i]);
	}

	/* Item 5: the GEM's free destroys its mutex; later use is caught. */
	scn_gem_put(s.g);
	CHECK(scn_gem_freed(s.g), "G freed");
	if (gpuvm_debug_enabled()) {
		gpuvm_gem_gpuva_lock(&s.g->base);
		CHECK(scn_take_warnings(GPUVM_RULE_USE_AFTER_FREE) == 1,
		      "locking a freed GEM's mutex is a use-after-free");
		scn_gem_get(s.g);
		CHECK(scn_take_warnings(GPUVM_RULE_USE_AFTER_FREE) == 1,
		      "a reference on a freed GEM is a use-after-free");
	}
}

/* Mixed modes: A immediate, B staged, both mapping G. */
static void gv03_mixed(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_vm *a = new_vm(drv);
	struct scn_vm *b = scn_vm_new(&plain_driver, NULL, NULL, 0, SPACE, 0, 0,
				      SCN_VM_STAGED);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct gpuvm_gem_object *objs[2] = { &g->base, NULL };
	struct gpuvm_bo *ba = scn_obtain(a, g, 1), *bb;
	struct gpuvm_exec exec;

	CHECK(ok_bo(ba), "obtain in A");
	/* B's staged obtain: G's list is protected by G's resv there. */
	CHECK(gpuvm_dma_resv_lock(g->base.resv, NULL) == 0, "lock G");
	bb = gpuvm_bo_obtain_locked(&b->base, &g->base);
	gpuvm_dma_resv_unlock(g->base.resv);
	CHECK(ok_bo(bb), "obtain in B");
	CHECK(scn_take_warnings(GPUVM_RULE_MODE_MIXED) == 1,
	      "sharing G between modes is reported as gpuvm-mixed-mode");

	/* B's synchronous put with the locks it needs (VM resv and G's). */
	objs[1] = gpuvm_resv_obj(&b->base);
	gpuvm_exec_init(&exec, GPUVM_EXEC_IGNORE_DUPLICATES, 2);
	gpuvm_exec_until_all_locked(&exec) {
		int ret = gpuvm_exec_lock_obj(&exec, objs[0]);

		gpuvm_exec_retry_on_contention(&exec);
		if (!ret)
			ret = gpuvm_exec_lock_obj(&exec, objs[1]);
		gpuvm_exec_retry_on_contention(&exec);
		CHECK(ret == 0, "lock B's resv and G's");
	}
	gpuvm_bo_put(bb);
	gpuvm_exec_fini(&exec);
	scn_bo_put(ba);
	scn_deferred_cleanup(a);
	scn_gem_put(g);
	scn_vm_put(a);
	scn_vm_put(b);
}

/* ---- S-GV-04 (C-04): concurrent obtain; the free hook takes the resv ---- */

struct gv04 {
	struct scn_vm *vm;
	struct scn_gem *g;
	struct gpuvm_bo *got[2];
	int job_ret, unmap_ret;
};

/* The signalling path: a job unmapping a VA of G, under its locks. */
static void gv04_signalling(struct gv04 *s)
{
	struct scn_sm_ctx ctx;
	struct scn_job job;
	bool cookie;

	scn_ctx_init(&ctx, s->vm);
	scn_va_lock(s->vm);
	s->job_ret = scn_job_lock(&job, s->vm);
	if (s->job_ret) {
		scn_va_unlock(s->vm);
		return;
	}
	ctx.job = &job;
	cookie = gpuvm_dma_fence_begin_signalling();
	s->unmap_ret = scn_sm_unmap(&ctx, P(0), P(4));
	gpuvm_dma_fence_end_signalling(cookie);
	scn_job_attach_fence(&job);
	scn_job_finish(&job);
	scn_va_unlock(s->vm);
	scn_ctx_fini(&ctx);
}

static void gv04_thread(unsigned int i, void *arg)
{
	struct gv04 *s = arg;

	if (i == 2)
		gv04_signalling(s);
	else
		s->got[i] = scn_obtain(s->vm, s->g, (long)i);
}

static void gv04_common(const struct scn_driver *drv, struct scn_result *r,
			bool broken)
{
	struct gv04 s = { .vm = new_vm(drv) };
	struct scn_thread t1, t2, t3;
	struct gpuvm_bo *b0;
	unsigned int frees;
	bool edge;

	s.g = scn_gem_new('G', NULL, 4);
	b0 = scn_obtain(s.vm, s.g, 0);
	CHECK(ok_bo(b0) && scn_map(s.vm, b0, P(0), P(4), 0) == 0, "map G");
	/* Step 3 first: a signalling section takes G's gpuva lock while
	 * the job holds the resvs (resv -> gpuva, signalling -> gpuva). */
	scn_thread_start(&t3, 3, gv04_thread, &s);
	scn_thread_join(&t3);
	CHECK(s.job_ret == 0 && s.unmap_ret == 0, "the job's unmap");
	scn_bo_put(b0);
	scn_deferred_cleanup(s.vm);

	if (broken)
		gpuvm_debug_set_knob(GPUVM_KNOB_OBTAIN_FREE_LOCKED, true);
	frees = ld(&s.vm->stats.frees);
	/* T1 publishes its vm_bo and stops; T2 finds it. */
	gpuvm_hook_park("obtain:after_list_add", 1);
	scn_thread_start(&t1, 1, gv04_thread, &s);
	CHECK(gpuvm_hook_wait_parked("obtain:after_list_add", 1), "park T1");
	scn_thread_start(&t2, 2, gv04_thread, &s);
	scn_thread_join(&t2);
	CHECK(ld(&s.vm->stats.frees) == frees + 1 &&
		      ldi(&s.vm->stats.last_free_thread) == 2,
	      "T2 discarded its prealloc");
	gpuvm_hook_release("obtain:after_list_add");
	scn_thread_join(&t1);
	gpuvm_debug_set_knob(GPUVM_KNOB_OBTAIN_FREE_LOCKED, false);
	CHECK(ok_bo(s.got[0]) && s.got[0] == s.got[1], "one vm_bo for both");
	edge = gpuvm_lockdep_order_known(gpuva_class(s.g), resv_class(s.g));
	scn_note(r, "gpuva->resv edge", edge);
	scn_note(r, "frees under gpuva", ld(&s.vm->stats.frees_gpuva_held));

	if (!broken) {
		CHECK(ld(&s.vm->stats.frees_gpuva_held) == 0,
		      "the free hook ran without G's gpuva lock");
		CHECK(!edge, "no gpuva -> resv order was learned");
		CHECK(scn_warnings(NULL) == 0, "no checker report");
	} else {
		CHECK(ld(&s.vm->stats.frees_gpuva_held) == 1,
		      "the free hook ran under G's gpuva lock");
		CHECK(scn_take_warnings(GPUVM_RULE_LOCK_HELD) == 1,
		      "vm_bo_free under the gpuva lock: lock-held");
		/* A free hook that takes the resv closes the cycle. */
		CHECK(!edge || scn_take_warnings(GPUVM_RULE_LOCK_ORDER) == 1,
		      "gpuva -> resv against resv -> gpuva: lock-order");
		CHECK(!is_reference(drv) || edge,
		      "the reference hook takes the resv");
	}
	scn_bo_put(s.got[0]);
	scn_bo_put(s.got[1]);
	scn_deferred_cleanup(s.vm);
	scn_gem_put(s.g);
	scn_vm_put(s.vm);
}

static void gv04(const struct scn_driver *drv, struct scn_result *r)
{
	gv04_common(drv, r, false);
}

static void gv04_free_locked(const struct scn_driver *drv, struct scn_result *r)
{
	gv04_common(drv, r, true);
}

/* ---- S-GV-05 (C-05): a whole bind inside a signalling section ----------- */

struct gv05 {
	struct scn_vm *vm;
	struct scn_gem *g, *h, *k;
	struct gpuvm_bo *bg, *bh, *bk;
};

/* G [0,4), H [4,8), K [8,12); H's vm_bo held only by its VA. */
static bool gv05_setup(struct scn_result *r, const struct scn_driver *drv,
		       struct gv05 *s)
{
	s->vm = new_vm(drv);
	s->g = scn_gem_new('G', NULL, 4);
	s->h = scn_gem_new('H', NULL, 4);
	s->k = scn_gem_new('K', gpuvm_resv(&s->vm->base), 4);
	s->bg = scn_obtain(s->vm, s->g, 1);
	s->bh = scn_obtain(s->vm, s->h, 2);
	s->bk = scn_obtain(s->vm, s->k, 3);
	CHECK(ok_bo(s->bg) && ok_bo(s->bh) && ok_bo(s->bk), "obtain");
	if (!ok_bo(s->bg) || !ok_bo(s->bh) || !ok_bo(s->bk))
		return false;
	CHECK(scn_map(s->vm, s->bg, P(0), P(4), 0) == 0 &&
		      scn_map(s->vm, s->bh, P(4), P(4), 0) == 0 &&
		      scn_map(s->vm, s->bk, P(8), P(4), 0) == 0,
	      "the old mappings");
	scn_bo_put(s->bh);
	scn_bo_put(s->bk);
	return true;
}

static void gv05_teardown(struct gv05 *s)
{
	scn_vm_close(s->vm);
	scn_gem_put(s->g);
	scn_gem_put(s->h);
	scn_gem_put(s->k);
}

static void gv05(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_sm_ctx ctx;
	struct gv05 s;
	unsigned int frees;
	bool cookie, fired;
	int ret;

	if (!gv05_setup(r, drv, &s))
		return;
	/* Before the section: everything that allocates. */
	scn_ctx_init(&ctx, s.vm);
	scn_va_lock(s.vm);
	CHECK(scn_ctx_prealloc(&ctx, 3, GPUVM_GFP_KERNEL) == 0, "prealloc");
	frees = ld(&s.vm->stats.frees);

	/* Any allocation inside would fail, so none may happen. */
	gpuvm_alloc_fail_nth(1);
	cookie = gpuvm_dma_fence_begin_signalling();
	ret = scn_sm_map(&ctx, P(2), P(8), s.bg, P(100));
	scn_bo_put(s.bg);
	gpuvm_dma_fence_end_signalling(cookie);
	fired = gpuvm_alloc_fault_fired();
	gpuvm_alloc_fail_nth(0);

	CHECK(ret == 0, "the bind (%d)", ret);
	CHECK(!fired, "no allocator call inside the section");
	CHECK(scn_warnings(NULL) == 0,
	      "no allocation, resv lock or wait reported in the section");
	CHECK(ld(&s.vm->stats.steps_in_signalling) == 4,
	      "remap, unmap, remap, map in the section");
	CHECK(scn_bo_state(s.bh) == SCN_BO_ZOMBIE && scn_bo_on_defer(s.bh),
	      "H's vm_bo queued as a zombie");
	CHECK(ld(&s.vm->stats.frees) == frees, "nothing freed in the section");
	scn_va_unlock(s.vm);
	scn_ctx_fini(&ctx);
	scn_deferred_cleanup(s.vm);
	CHECK(ld(&s.vm->stats.frees) == frees + 1, "H's vm_bo freed after");
	CHECK(scn_va_count(s.vm) == 3, "G [0,2) [2,10), K [10,12)");
	gv05_teardown(&s);
}

/* Negative control: obtain inside the section. */
static void gv05_obtain(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_vm *vm = new_vm(drv);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct gpuvm_bo *b;
	bool cookie;

	cookie = gpuvm_dma_fence_begin_signalling();
	b = scn_obtain(vm, g, 1);
	gpuvm_dma_fence_end_signalling(cookie);
	CHECK(ok_bo(b), "obtain");
	CHECK(scn_take_warnings(GPUVM_RULE_SIGNALLING_ALLOC) >= 1,
	      "its allocation: signalling-alloc");
	CHECK(scn_take_warnings(GPUVM_RULE_SIGNALLING_RESV) == 1,
	      "its extobj registration: signalling-resv-lock");
	scn_bo_put(b);
	scn_deferred_cleanup(vm);
	scn_gem_put(g);
	scn_vm_put(vm);
}

/* Negative control: the synchronous put inside the section. */
static void gv05_sync_put(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_vm *vm = new_vm(drv);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct gpuvm_bo *b = scn_obtain(vm, g, 1);
	bool cookie;

	CHECK(ok_bo(b), "obtain");
	scn_set_knob(SCN_KNOB_SYNC_PUT_UNDER_GPUVA, true);
	cookie = gpuvm_dma_fence_begin_signalling();
	scn_bo_put(b);
	gpuvm_dma_fence_end_signalling(cookie);
	scn_set_knob(SCN_KNOB_SYNC_PUT_UNDER_GPUVA, false);
	CHECK(scn_take_warnings(GPUVM_RULE_SIGNALLING_RESV) >= 1,
	      "the synchronous put needs the VM resv: signalling-resv-lock");
	scn_note(r, "incidental lock-held",
		 scn_take_warnings(GPUVM_RULE_LOCK_HELD));
	scn_note(r, "incidental recursive-lock",
		 scn_take_warnings(GPUVM_RULE_RECURSIVE_LOCK));
	scn_note(r, "incidental lock-order",
		 scn_take_warnings(GPUVM_RULE_LOCK_ORDER));
	scn_gem_put(g);
	scn_vm_put(vm);
}

/* ---- S-GV-06 (C-06) and S-GV-07 (C-07): the job sees new extobjs -------- */

/* A job that maps @b at [addr, +4) inside a signalling section. */
static void job_map(struct scn_result *r, struct scn_vm *vm, struct gpuvm_bo *b,
		    struct scn_gem *g, uint64_t addr, bool expect_locked)
{
	struct scn_sm_ctx ctx;
	struct scn_job job;
	bool cookie;

	scn_ctx_init(&ctx, vm);
	scn_va_lock(vm);
	CHECK(scn_ctx_prealloc(&ctx, 3, GPUVM_GFP_KERNEL) == 0, "prealloc");
	CHECK(scn_job_lock(&job, vm) == 0, "the job's lock phase");
	ctx.job = &job;
	CHECK(scn_job_holds(&job, g) == expect_locked,
	      "G %s the job's lock set", expect_locked ? "in" : "missing from");
	cookie = gpuvm_dma_fence_begin_signalling();
	CHECK(scn_sm_map(&ctx, addr, P(4), b, 0) == 0, "map G");
	gpuvm_dma_fence_end_signalling(cookie);
	scn_job_attach_fence(&job);
	CHECK(scn_job_fence_on(&job, g) == expect_locked, "G %s the fence",
	      expect_locked ? "received" : "did not receive");
	scn_job_finish(&job);
	scn_va_unlock(vm);
	scn_ctx_fini(&ctx);
}

static void gv06_common(const struct scn_driver *drv, struct scn_result *r,
			bool broken)
{
	struct scn_vm *vm = new_vm(drv);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct scn_gem *z = scn_gem_new('Z', NULL, 4);
	struct gpuvm_bo *b, *bz;
	struct scn_job job;

	bz = scn_obtain(vm, z, 2);
	scn_set_knob(SCN_KNOB_EXTOBJ_IN_MAP, broken);
	b = scn_obtain(vm, g, 1);
	CHECK(ok_bo(b) && ok_bo(bz), "obtain");
	CHECK(scn_bo_on_extobj(b) == !broken, "G %s on extobj after obtain",
	      broken ? "not" : "already");
	/* A zombie stays on extobj: the lock phase must skip it. */
	scn_bo_put(bz);
	CHECK(scn_bo_state(bz) == SCN_BO_ZOMBIE && scn_bo_on_extobj(bz),
	      "Z's zombie still on extobj");
	scn_va_lock(vm);
	CHECK(scn_job_lock(&job, vm) == 0, "lock");
	CHECK(!scn_job_holds(&job, z), "the zombie's object is skipped");
	scn_job_finish(&job);
	scn_va_unlock(vm);

	job_map(r, vm, b, g, P(0), !broken);
	scn_set_knob(SCN_KNOB_EXTOBJ_IN_MAP, false);
	if (broken)
		CHECK(scn_take_warnings(SCN_RULE_JOB_LOCKSET) == 1,
		      "G mapped without being locked: scenario-job-lockset");
	scn_bo_put(b);
	scn_vm_close(vm);
	scn_gem_put(g);
	scn_gem_put(z);
}

static void gv06(const struct scn_driver *drv, struct scn_result *r)
{
	gv06_common(drv, r, false);
}

static void gv06_in_map(const struct scn_driver *drv, struct scn_result *r)
{
	gv06_common(drv, r, true);
}

struct gv07 {
	struct scn_vm *vm;
	struct scn_gem *g;
	struct gpuvm_bo *ba;
};

static void gv07_creator(unsigned int i, void *arg)
{
	struct gv07 *s = arg;

	(void)i;
	s->ba = scn_obtain(s->vm, s->g, 1);
}

static void gv07_common(const struct scn_driver *drv, struct scn_result *r,
			bool broken)
{
	struct gv07 s = { .vm = new_vm(drv) };
	struct scn_thread ta;
	struct gpuvm_bo *bb;

	s.g = scn_gem_new('G', NULL, 4);
	scn_set_knob(SCN_KNOB_EXTOBJ_ONLY_CREATOR, broken);
	/* T_A registers the vm_bo and stops before its extobj_add. */
	gpuvm_hook_park("obtain:before_extobj_add", 1);
	scn_thread_start(&ta, 1, gv07_creator, &s);
	CHECK(gpuvm_hook_wait_parked("obtain:before_extobj_add", 1), "park");
	/* T_B (this thread) finds it and runs a job at once. */
	bb = scn_obtain(s.vm, s.g, 2);
	CHECK(ok_bo(bb) && scn_bo_state(bb) == SCN_BO_REGISTERED, "found");
	CHECK(scn_bo_on_extobj(bb) == !broken, "T_B's own extobj_add");
	job_map(r, s.vm, bb, s.g, P(0), !broken);
	if (broken)
		CHECK(scn_take_warnings(SCN_RULE_JOB_LOCKSET) == 1,
		      "the job misses G: scenario-job-lockset");
	gpuvm_hook_release("obtain:before_extobj_add");
	scn_thread_join(&ta);
	scn_set_knob(SCN_KNOB_EXTOBJ_ONLY_CREATOR, false);
	CHECK(s.ba == bb, "both threads hold the same vm_bo");
	CHECK(scn_bo_on_extobj(bb), "on extobj in the end");
	scn_bo_put(s.ba);
	scn_bo_put(bb);
	scn_vm_close(s.vm);
	scn_gem_put(s.g);
}

static void gv07(const struct scn_driver *drv, struct scn_result *r)
{
	gv07_common(drv, r, false);
}

static void gv07_creator_only(const struct scn_driver *drv,
			      struct scn_result *r)
{
	gv07_common(drv, r, true);
}

/* ---- S-GV-08 (C-08): disposing of an unused prealloc -------------------- */

static void gv08(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_vm *vm = new_vm(drv);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct scn_live base;
	struct gpuvm_bo *pre;
	int vmref = scn_vm_refcount(vm), gref = scn_gem_refcount(g);
	unsigned int frees = ld(&vm->stats.frees);

	/* Early failure: the allocation fails, nothing is left behind. */
	scn_live(&base);
	gpuvm_alloc_fail_nth(1);
	pre = scn_bo_alloc_new(vm, g, 1);
	gpuvm_alloc_fail_nth(0);
	CHECK(pre == NULL, "AllocError");
	CHECK(scn_vm_refcount(vm) == vmref && scn_gem_refcount(g) == gref,
	      "no reference leaked");
	CHECK(scn_leak_report(&base, "S-GV-08 alloc failure") == 0 &&
		      scn_defer_count(vm) == 0 &&
		      gpuvm_list_empty(&g->base.gpuva.list),
	      "nothing on any list");

	/* The follow-up: destroyed at once. */
	scn_set_prealloc_drop(SCN_DROP_DESTROY);
	pre = scn_bo_alloc_new(vm, g, 1);
	CHECK(ok_bo(pre) && scn_bo_state(pre) == SCN_BO_PREALLOC, "prealloc");
	CHECK(scn_vm_refcount(vm) == vmref + 1, "VM +1");
	scn_bo_alloc_drop(pre);
	CHECK(ld(&vm->stats.frees) == frees + 1, "freed immediately");
	CHECK(scn_vm_refcount(vm) == vmref && scn_gem_refcount(g) == gref,
	      "refcounts restored");
	CHECK(scn_defer_count(vm) == 0, "bo_defer untouched");

	/* Merged: a zombie, the references stay until cleanup... */
	scn_set_prealloc_drop(SCN_DROP_DEFERRED);
	scn_live(&base);
	base.vms--; /* the VM should be gone after its handle */
	pre = scn_bo_alloc_new(vm, g, 2);
	CHECK(ok_bo(pre), "prealloc");
	scn_bo_alloc_drop(pre);
	CHECK(scn_bo_state(pre) == SCN_BO_ZOMBIE && scn_bo_on_defer(pre),
	      "a zombie on bo_defer");
	CHECK(scn_vm_refcount(vm) == vmref + 1 &&
		      scn_gem_refcount(g) == gref + 1,
	      "VM and G references held by the zombie");
	CHECK(ld(&vm->stats.frees) == frees + 1, "not freed yet");
	/* ...so without cleanup the VM outlives its last handle. */
	scn_vm_put(vm);
	CHECK(!scn_vm_freed(vm), "the zombie keeps the VM");
	CHECK(scn_leak_report(&base, "S-GV-08 handle dropped") == 2,
	      "VM and zombie reported");
	CHECK(scn_take_warnings(SCN_RULE_LEAK) == 1, "scenario-leak");
	/* The cleanup frees the zombie and with it the VM. */
	scn_deferred_cleanup(vm);
	CHECK(scn_vm_freed(vm), "VM freed by the cleanup");
	scn_gem_put(g);
}

/* Dropping the prealloc while holding G's gpuva lock. */
static void gv08_under_gpuva(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_vm *vm = new_vm(drv);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct gpuvm_bo *pre;

	/* Follow-up: destroy_not_in_lists under the lock is a violation. */
	scn_set_prealloc_drop(SCN_DROP_DESTROY);
	pre = scn_bo_alloc_new(vm, g, 1);
	CHECK(ok_bo(pre), "prealloc");
	gpuvm_gem_gpuva_lock(&g->base);
	scn_bo_alloc_drop(pre);
	gpuvm_gem_gpuva_unlock(&g->base);
	CHECK(scn_take_warnings(GPUVM_RULE_LOCK_HELD) >= 1,
	      "destroy under the gpuva lock: lock-held");
	scn_note(r, "incidental lock-order",
		 scn_take_warnings(GPUVM_RULE_LOCK_ORDER));

	/* Merged: put_deferred takes the lock itself: a self-deadlock. */
	scn_set_prealloc_drop(SCN_DROP_DEFERRED);
	pre = scn_bo_alloc_new(vm, g, 2);
	CHECK(ok_bo(pre), "prealloc");
	gpuvm_gem_gpuva_lock(&g->base);
	scn_bo_alloc_drop(pre);
	gpuvm_gem_gpuva_unlock(&g->base);
	CHECK(scn_take_warnings(GPUVM_RULE_RECURSIVE_LOCK) == 1,
	      "put_deferred under the gpuva lock: recursive-lock");
	/* The inner unlock released the outer hold: the outer unlock is
	 * then unbalanced. */
	scn_note(r, "incidental unlock-unheld",
		 scn_take_warnings(GPUVM_RULE_UNLOCK_UNHELD));
	scn_deferred_cleanup(vm);
	scn_gem_put(g);
	scn_vm_put(vm);
}

/* ---- S-GV-09 (C-09): the data is initialised before any free ------------ */

static void gv09(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_vm *vm = new_vm(drv);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	int gref = scn_gem_refcount(g);
	struct scn_live base;
	unsigned int made = 0;
	struct gpuvm_bo *pre;

	scn_live(&base);
	/* A constructor asked to fail fails before any vm_bo exists. */
	pre = drv->vm_bo_data_init ? scn_bo_alloc_new(vm, g, -EIO) : NULL;
	if (gpuvm_is_err(pre)) {
		CHECK(gpuvm_ptr_err(pre) == -EIO,
		      "the constructor's error comes back");
		CHECK(scn_leak_report(&base, "S-GV-09") == 0 &&
			      scn_gem_refcount(g) == gref &&
			      ld(&vm->stats.frees) == 0,
		      "no vm_bo was created, none freed");
	} else if (pre) {
		scn_note(r, "the constructor cannot fail", 1);
		scn_bo_alloc_drop(pre);
		scn_deferred_cleanup(vm);
		made++;
	}
	pre = scn_bo_alloc_new(vm, g, 7);
	CHECK(ok_bo(pre), "prealloc");
	made++;
	if (is_reference(drv))
		CHECK(((struct scn_ref_data *)scn_bo_data(pre))->value == 7,
		      "the data moved in");
	scn_bo_alloc_drop(pre);
	scn_deferred_cleanup(vm);
	CHECK(ld(&vm->stats.data_drops) == (drv->vm_bo_data_drop ? made : 0u),
	      "the destructor ran once per vm_bo, on initialised data");
	scn_gem_put(g);
	scn_vm_put(vm);
}

static void gv09_init_after(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_vm *vm = new_vm(drv);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct gpuvm_bo *pre;

	if (!drv->vm_bo_data_init || !drv->vm_bo_data_drop) {
		scn_note(r, "skipped: no constructor or no destructor", 1);
		goto out;
	}
	scn_set_knob(SCN_KNOB_INIT_AFTER_CREATE, true);
	pre = scn_bo_alloc_new(vm, g, -EIO);
	scn_set_knob(SCN_KNOB_INIT_AFTER_CREATE, false);
	scn_deferred_cleanup(vm);
	if (!gpuvm_is_err(pre)) {
		scn_note(r, "skipped: the constructor cannot fail", 1);
		scn_bo_alloc_drop(pre);
		scn_deferred_cleanup(vm);
		goto out;
	}
	CHECK(scn_take_warnings(SCN_RULE_DATA_UNINIT) == 1,
	      "the free hook met uninitialised data: "
	      "scenario-vm-bo-data-uninit");
	CHECK(ld(&vm->stats.data_drops) == 0, "no destructor on garbage");
out:
	scn_gem_put(g);
	scn_vm_put(vm);
}

/* ---- S-GV-10 (C-10): allocation families, one destructor run ------------ */

static unsigned int layout_drops;

static void count_drop(struct gpuvm_bo *vm_bo, void *data)
{
	(void)vm_bo;
	(void)data;
	__atomic_fetch_add(&layout_drops, 1, __ATOMIC_RELAXED);
}

struct big_data {
	long payload[4];
};

struct aligned_data {
	_Alignas(16) long payload[2];
};

#define BIG_SIZE (sizeof(struct gpuvm_bo) + sizeof(struct big_data))
#define ALIGNED_SIZE                                      \
	(((sizeof(struct gpuvm_bo) + 15) & ~(size_t)15) + \
	 sizeof(struct aligned_data))

static const struct {
	struct scn_driver drv;
	bool alloc_driver, free_driver, dtor;
} layouts[] = {
	{ { .name = "zst" }, false, false, false },
	{ { .name = "zst+drop", .vm_bo_data_drop = count_drop },
	  false,
	  true,
	  true },
	{ { .name = "data", .vm_bo_size = BIG_SIZE }, true, false, false },
	{ { .name = "data+drop",
	    .vm_bo_size = BIG_SIZE,
	    .vm_bo_data_drop = count_drop },
	  true,
	  true,
	  true },
	{ { .name = "aligned+drop",
	    .vm_bo_size = ALIGNED_SIZE,
	    .vm_bo_align = 16,
	    .vm_bo_data_drop = count_drop },
	  true,
	  true,
	  true },
};

/* Two obtains of one pair: one registered, one prealloc discarded. */
static void layout_run(struct scn_result *r, const struct scn_driver *drv,
		       struct scn_vm_stats *out)
{
	struct scn_vm *vm = new_vm(drv);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct gpuvm_bo *a = scn_obtain(vm, g, 1), *b;

	b = scn_obtain(vm, g, 2);
	CHECK(ok_bo(a) && a == b, "%s: the second obtain finds the first",
	      drv->name);
	scn_bo_put(a);
	scn_bo_put(b);
	scn_deferred_cleanup(vm);
	*out = vm->stats;
	scn_gem_put(g);
	scn_vm_put(vm);
}

static void gv10(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_vm_stats st;
	unsigned int i, before;

	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		const struct scn_driver *d = &layouts[i].drv;

		before = __atomic_load_n(&layout_drops, __ATOMIC_RELAXED);
		layout_run(r, d, &st);
		CHECK(st.alloc_driver == (layouts[i].alloc_driver ? 2u : 0u) &&
			      st.alloc_c == (layouts[i].alloc_driver ? 0u : 2u),
		      "%s: allocated by the %s", d->name,
		      layouts[i].alloc_driver ? "driver hook" : "C default");
		CHECK(st.free_driver == (layouts[i].free_driver ? 2u : 0u) &&
			      st.free_c == (layouts[i].free_driver ? 0u : 2u),
		      "%s: freed by the %s", d->name,
		      layouts[i].free_driver ? "driver hook" : "C default");
		CHECK(__atomic_load_n(&layout_drops, __ATOMIC_RELAXED) -
				      before ==
			      (layouts[i].dtor ? 2u : 0u),
		      "%s: the destructor ran once per vm_bo, the discarded "
		      "prealloc included",
		      d->name);
	}
	/* The driver under test: one destructor run per vm_bo too. */
	layout_run(r, drv, &st);
	CHECK(st.data_drops == (drv->vm_bo_data_drop ? 2u : 0u),
	      "%s: the destructor ran once per vm_bo", drv->name);
	CHECK(st.frees == 2, "both vm_bos freed");
	scn_note(r, "driver alloc_driver", st.alloc_driver);
	scn_note(r, "driver free_driver", st.free_driver);
	CHECK(scn_warnings(SCN_RULE_FREE_FAMILY) == 0, "no family mismatch");
}

/* A free hook that frees with the C struct's size. */
static void gv10_c_size(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_vm_stats st;

	(void)drv;
	scn_set_knob(SCN_KNOB_FREE_WITH_C_SIZE, true);
	/* Mixed case (C allocation, driver free): same size, correct. */
	layout_run(r, &layouts[1].drv, &st);
	CHECK(scn_warnings(SCN_RULE_FREE_FAMILY) == 0,
	      "zero-sized data with a destructor is fine");
	/* A larger driver allocation freed as the C struct is not. */
	layout_run(r, &layouts[3].drv, &st);
	scn_set_knob(SCN_KNOB_FREE_WITH_C_SIZE, false);
	CHECK(scn_take_warnings(SCN_RULE_FREE_FAMILY) == 2,
	      "each size mismatch reported: scenario-vm-bo-free-family");
}

/* ---- S-GV-11a (C-11): the state predicates ------------------------------ */

/*
 * C-11 is about names (core/resident/registered, zombie terminology):
 * nothing a C test can check. What is checked is the consequence the spec
 * draws: explicit states and the predicate each operation documents. Every
 * harness operation asserts its post-state in all scenarios (expect_state
 * in gpuvm_scenario.c, reported as scenario-vm-bo-state); this scenario
 * walks the whole state machine and the transitions that must not exist.
 */
static void gv11a(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_vm *vm = new_vm(drv);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct gpuvm_bo *pre, *b, *c, *found;
	bool watch_free;

	pre = scn_bo_alloc_new(vm, g, 1);
	CHECK(ok_bo(pre) && scn_bo_state(pre) == SCN_BO_PREALLOC, "PREALLOC");
	b = scn_bo_alloc_obtain(pre);
	CHECK(b == pre && scn_bo_state(b) == SCN_BO_REGISTERED, "REGISTERED");
	CHECK(scn_map(vm, b, P(0), P(4), 0) == 0 &&
		      scn_unmap(vm, P(0), P(4)) == 0,
	      "map, unmap");
	CHECK(scn_bo_state(b) == SCN_BO_REGISTERED && kref(b) == 1,
	      "still REGISTERED");
	c = scn_obtain(vm, g, 2);
	CHECK(c == b && kref(b) == 2, "obtain finds the live one");
	scn_bo_put(c);
	scn_bo_put(b);
	CHECK(scn_bo_state(b) == SCN_BO_ZOMBIE, "ZOMBIE");
	/* No revival: lookups do not see the zombie. */
	c = scn_obtain(vm, g, 3);
	CHECK(ok_bo(c) && c != b && scn_bo_state(c) == SCN_BO_REGISTERED,
	      "a new vm_bo, the zombie stays one");
	gpuvm_gem_gpuva_lock(&g->base);
	found = gpuvm_bo_find(&vm->base, &g->base);
	CHECK(found == c, "find returns the live one");
	gpuvm_bo_put(found); /* not the last reference */
	gpuvm_gem_gpuva_unlock(&g->base);
	CHECK(scn_bo_state(b) == SCN_BO_ZOMBIE, "zombie not revived");

	/* FREED is visible while freed memory is poisoned and kept. */
	watch_free = gpuvm_alloc_poisoning() && !drv->vm_bo_free;
	scn_deferred_cleanup(vm);
	if (watch_free) {
		CHECK(scn_bo_state(b) == SCN_BO_FREED, "FREED");
		scn_bo_get(b);
		CHECK(scn_take_warnings(GPUVM_RULE_USE_AFTER_FREE) == 1,
		      "a get on the freed vm_bo: use-after-free");
		scn_bo_put(b);
		CHECK(scn_take_warnings(GPUVM_RULE_USE_AFTER_FREE) == 1,
		      "a put on the freed vm_bo: use-after-free");
	}
	scn_note(r, "FREED observed", watch_free);
	scn_bo_put(c);
	scn_deferred_cleanup(vm);
	scn_gem_put(g);
	scn_vm_put(vm);
	if (gpuvm_debug_enabled()) {
		/* The VM's fields are poisoned once vm_free ran. */
		scn_vm_get(vm);
		CHECK(scn_take_warnings(GPUVM_RULE_USE_AFTER_FREE) == 1,
		      "a get on the freed VM: use-after-free");
		scn_deferred_cleanup(vm);
		CHECK(scn_take_warnings(GPUVM_RULE_USE_AFTER_FREE) == 1,
		      "cleanup of the freed VM: use-after-free");
	}
}

/* ---- S-GV-11b (C-12): raw-pointer conversions --------------------------- */

/*
 * C-12 is about which conversions are public in Rust: a visibility
 * question C cannot express. Covered: the preconditions the remaining
 * public conversions state, checked by the harness's from_raw helpers.
 */
static void gv11b_common(const struct scn_driver *drv, struct scn_result *r,
			 bool broken)
{
	struct scn_vm *vm =
		scn_vm_new(drv, NULL, NULL, 0, SPACE, P(512), P(16), 0);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct gpuvm_bo *b = scn_obtain(vm, g, 1), *pre;
	struct scn_va *sparse;
	struct gpuva *va;

	CHECK(ok_bo(b) && scn_map(vm, b, P(0), P(4), 0) == 0, "map");
	scn_set_knob(SCN_KNOB_NO_FROM_RAW_CHECKS, broken);
	CHECK(scn_bo_from_raw(b) == b, "a registered vm_bo converts");
	va = gpuva_find(&vm->base, P(0), P(4));
	CHECK(va && scn_va_from_raw(va) != NULL, "a resident VA converts");

	pre = scn_bo_alloc_new(vm, g, 2);
	CHECK((scn_bo_from_raw(pre) == NULL) == !broken, "a prealloc");
	scn_bo_alloc_drop(pre);
	CHECK((scn_bo_from_raw(pre) == NULL) == !broken, "a zombie");
	CHECK((scn_va_from_raw(&vm->base.kernel_alloc_node) == NULL) == !broken,
	      "the kernel node");
	sparse = scn_va_alloc(GPUVM_GFP_KERNEL);
	sparse->base.va.addr = P(64);
	sparse->base.va.range = P(4);
	scn_va_lock(vm);
	CHECK(gpuva_insert(&vm->base, &sparse->base) == 0, "a sparse VA");
	scn_va_unlock(vm);
	CHECK((scn_va_from_raw(&sparse->base) == NULL) == !broken,
	      "a sparse VA");
	if (!broken) {
		CHECK(scn_take_warnings(SCN_RULE_FROM_RAW) == 4,
		      "four conversions refused: scenario-from-raw");
	} else {
		/* What the unchecked handle leads to: a get from zero. */
		scn_bo_get(pre);
		CHECK(scn_take_warnings(GPUVM_RULE_REFCOUNT_GET_ZERO) == 1,
		      "reviving a zombie: refcount-get-from-zero");
	}
	scn_set_knob(SCN_KNOB_NO_FROM_RAW_CHECKS, false);
	scn_va_lock(vm);
	gpuva_remove(&sparse->base);
	scn_va_unlock(vm);
	scn_va_free(sparse);
	scn_bo_put(b);
	scn_vm_close(vm);
	scn_gem_put(g);
}

static void gv11b(const struct scn_driver *drv, struct scn_result *r)
{
	gv11b_common(drv, r, false);
}

static void gv11b_unchecked(const struct scn_driver *drv, struct scn_result *r)
{
	gv11b_common(drv, r, true);
}

/* ---- S-GV-12 (C-13): an unregistered vm_bo in a map request ------------- */

static int map_with(struct scn_vm *vm, struct gpuvm_bo *b, uint64_t addr)
{
	return scn_map(vm, b, addr, P(4), 0);
}

static void gv12(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_vm *vm = new_vm(drv);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct gpuvm_bo *pre = scn_bo_alloc_new(vm, g, 1);

	CHECK(ok_bo(pre), "prealloc");
	CHECK(map_with(vm, pre, P(0)) == -EINVAL, "rejected with EINVAL");
	CHECK(scn_va_count(vm) == 0 && ld(&vm->stats.steps) == 0,
	      "no VA, no step");
	scn_bo_alloc_drop(pre);
	scn_deferred_cleanup(vm);
	scn_vm_put(vm);
	scn_gem_put(g);
}

static void gv12_unregistered(const struct scn_driver *drv,
			      struct scn_result *r)
{
	struct scn_vm *vm = new_vm(drv);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct gpuvm_bo *pre = scn_bo_alloc_new(vm, g, 1), *b2;

	scn_set_knob(SCN_KNOB_NO_MAP_REQ_CHECKS, true);
	CHECK(map_with(vm, pre, P(0)) == 0, "mapped through the prealloc");
	scn_set_knob(SCN_KNOB_NO_MAP_REQ_CHECKS, false);
	CHECK(scn_take_warnings(GPUVM_RULE_LINK_UNREGISTERED) == 1,
	      "linking to an unregistered vm_bo: gpuva-link-unregistered");
	/* Uniqueness is gone: a lookup cannot find the prealloc. */
	b2 = scn_obtain(vm, g, 2);
	CHECK(ok_bo(b2) && b2 != pre, "a second vm_bo for (VM, G)");
	scn_note(r, "vm_bos of (VM, G)", 2);
	CHECK(scn_unmap(vm, P(0), P(4)) == 0, "unmap");
	scn_bo_alloc_drop(pre);
	CHECK(scn_bo_state(pre) == SCN_BO_ZOMBIE, "the unlisted one a zombie");
	scn_bo_put(b2);
	scn_deferred_cleanup(vm);
	scn_vm_put(vm);
	scn_gem_put(g);
}

/* ---- S-GV-13 (C-14): a vm_bo of another VM ------------------------------ */

static void gv13_common(const struct scn_driver *drv, struct scn_result *r,
			bool broken)
{
	struct scn_vm *a = new_vm(drv), *b = new_vm(drv);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct gpuvm_bo *bb = scn_obtain(b, g, 1);
	struct gpuva *va;

	CHECK(ok_bo(bb), "obtain in B");
	scn_set_knob(SCN_KNOB_NO_MAP_REQ_CHECKS, broken);
	CHECK(map_with(a, bb, P(0)) == (broken ? 0 : -EINVAL),
	      "map in A with B's vm_bo");
	scn_set_knob(SCN_KNOB_NO_MAP_REQ_CHECKS, false);
	if (!broken) {
		CHECK(scn_va_count(a) == 0 && ld(&a->stats.steps) == 0,
		      "A unchanged, no callback");
	} else {
		CHECK(scn_take_warnings(GPUVM_RULE_LINK_VM) == 1,
		      "linking across VMs: gpuva-link-vm");
		va = gpuva_find(&a->base, P(0), P(4));
		CHECK(va && va->vm_bo->vm == &b->base, "A's VA points at B");
		CHECK(gpuvm_list_empty(&a->base.extobj.list),
		      "A's extobj list never learned about G");
		CHECK(scn_unmap(a, P(0), P(4)) == 0, "unmap in A");
	}
	scn_bo_put(bb);
	scn_deferred_cleanup(b);
	scn_vm_put(a);
	scn_vm_put(b);
	scn_gem_put(g);
}

static void gv13(const struct scn_driver *drv, struct scn_result *r)
{
	gv13_common(drv, r, false);
}

static void gv13_foreign(const struct scn_driver *drv, struct scn_result *r)
{
	gv13_common(drv, r, true);
}

/* ---- S-GV-14 (C-15): init over unzeroed memory -------------------------- */

static void gv14(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_vm *vm = scn_vm_new(drv, NULL, NULL, 0, SPACE, 0, 0,
				       SCN_VM_POISONED_ALLOC);
	struct gpuvm *gv = &vm->base;
	struct gpuva *kn = &gv->kernel_alloc_node;
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct scn_gem *h = scn_gem_new('h', gpuvm_resv(gv), 4);
	struct gpuvm_bo *bg, *bh;

	/* Everything init does not set must not keep the poison. */
	CHECK(kn->vm == NULL && kn->vm_bo == NULL && kn->flags == 0 &&
		      kn->va.addr == 0 && kn->va.range == 0 &&
		      kn->gem.obj == NULL && kn->gem.offset == 0,
	      "the unused kernel node is cleared");
	CHECK(kn->rb.leaf__ == NULL && gpuvm_list_empty(&kn->gem.entry),
	      "not in the index, its list entry empty");
	CHECK(gv->extobj.local_list == NULL && gv->evict.local_list == NULL,
	      "no local lists");
	CHECK(gv->bo_defer.first == NULL, "bo_defer empty");
	CHECK(gpuvm_list_empty(&gv->extobj.list) &&
		      gpuvm_list_empty(&gv->evict.list) &&
		      gpuvm_va_first__(gv) == NULL,
	      "lists and VA space empty");
	CHECK(scn_vm_refcount(vm) == 1 && gpuvm_immediate_mode(gv) &&
		      gpuvm_resv_protected(gv),
	      "count and flags set");
	CHECK(gpuva_find_first(gv, 0, SPACE) == NULL, "no VA found");

	/* A full cycle: map, split, unmap, cleanup, teardown. */
	bg = scn_obtain(vm, g, 1);
	bh = scn_obtain(vm, h, 2);
	CHECK(ok_bo(bg) && ok_bo(bh), "obtain");
	CHECK(scn_map(vm, bg, P(0), P(8), 0) == 0 &&
		      scn_map(vm, bh, P(8), P(4), 0) == 0 &&
		      scn_map(vm, bg, P(2), P(2), P(50)) == 0,
	      "map and split");
	CHECK(scn_va_count(vm) == 4, "G [0,2) [2,4) [4,8), h [8,12)");
	scn_bo_put(bg);
	scn_bo_put(bh);
	scn_vm_close(vm);
	CHECK(scn_vm_freed(vm), "VM freed");
	CHECK(scn_warnings(NULL) == 0, "no poison read, nothing reported");
	scn_gem_put(g);
	scn_gem_put(h);
}

/* ---- S-GV-15 (C-16): driver data across threads ------------------------- */

#define GV15_BINDS 60
#define GV15_READS 2000

struct gv15 {
	struct scn_vm *vm;
	struct gpuvm_bo *b;
	bool read_data;
	int stop;
	unsigned int map_errors, violations, reads;
};

static void gv15_binder(struct gv15 *s)
{
	unsigned int k;

	for (k = 0; k < GV15_BINDS; k++) {
		uint64_t addr = P(4 * (k % 8));

		if (scn_map(s->vm, s->b, addr, P(4), 0) ||
		    scn_unmap(s->vm, addr, P(4)))
			s->map_errors++;
	}
	scn_bo_put(s->b);
}

static void gv15_reader(struct gv15 *s)
{
	struct scn_ref_data *d = scn_bo_data(s->b);
	unsigned int k;

	for (k = 0; s->read_data && k < GV15_READS; k++) {
		__atomic_fetch_add(&d->readers, 1, __ATOMIC_ACQ_REL);
		if (ldi(&d->dropped) || d->magic != SCN_REF_MAGIC)
			s->violations++;
		s->reads += d->value >= 0;
		__atomic_fetch_sub(&d->readers, 1, __ATOMIC_ACQ_REL);
	}
	scn_bo_put(s->b);
}

static void gv15_cleaner(struct gv15 *s)
{
	while (!ldi(&s->stop)) {
		scn_deferred_cleanup(s->vm);
		sched_yield();
	}
	scn_deferred_cleanup(s->vm);
}

static void gv15_thread(unsigned int i, void *arg)
{
	if (i == 0)
		gv15_binder(arg);
	else if (i == 1)
		gv15_reader(arg);
	else
		gv15_cleaner(arg);
}

static void gv15(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct gv15 s = { .vm = new_vm(drv), .read_data = is_reference(drv) };
	struct scn_thread t[3];
	unsigned int i;

	s.b = scn_obtain(s.vm, g, 5);
	CHECK(ok_bo(s.b), "obtain");
	if (!ok_bo(s.b))
		return;
	/* T1 and T2 each get their own reference; ours goes at once. */
	scn_bo_get(s.b);
	scn_bo_get(s.b);
	for (i = 0; i < 3; i++)
		scn_thread_start(&t[i], (int)i + 1, gv15_thread, &s);
	scn_bo_put(s.b);
	scn_thread_join(&t[0]);
	scn_thread_join(&t[1]);
	sti(&s.stop, 1);
	scn_thread_join(&t[2]);

	CHECK(s.map_errors == 0, "T1's binds");
	CHECK(s.violations == 0, "the data was never read after its drop");
	CHECK(ld(&s.vm->stats.frees) == 1, "one vm_bo freed");
	if (drv->vm_bo_data_drop)
		CHECK(ld(&s.vm->stats.data_drops) == 1 &&
			      ldi(&s.vm->stats.last_drop_thread) == 3,
		      "the destructor ran once, on the cleanup thread T3");
	scn_note(r, "reads", s.reads);
	scn_note(r, "drop thread", ldi(&s.vm->stats.last_drop_thread));
	scn_vm_put(s.vm);

	/* Teardown: the last VM reference goes inside T3's cleanup. */
	s.vm = new_vm(drv);
	s.b = scn_obtain(s.vm, g, 6);
	CHECK(ok_bo(s.b), "obtain");
	scn_bo_put(s.b);
	scn_vm_put(s.vm); /* the unique handle; the zombie keeps the VM */
	CHECK(!scn_vm_freed(s.vm), "alive through the zombie");
	sti(&s.stop, 1);
	scn_thread_start(&t[2], 3, gv15_thread, &s);
	scn_thread_join(&t[2]);
	CHECK(scn_vm_freed(s.vm) && ldi(&s.vm->stats.vm_free_thread) == 3,
	      "vm_free ran on T3, not where the handle was dropped");
	scn_gem_put(g);
}

/* ---- S-GV-16 (C-17): obtain with the VM resv held ----------------------- */

static void gv16_common(const struct scn_driver *drv, struct scn_result *r,
			bool broken)
{
	struct scn_vm *vm = new_vm(drv);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct scn_live base;
	struct gpuvm_bo *b;

	scn_live(&base);
	scn_set_knob(SCN_KNOB_NO_OBTAIN_ASSERT, broken);
	CHECK(gpuvm_dma_resv_lock(gpuvm_resv(&vm->base), NULL) == 0, "VM");
	b = scn_obtain(vm, g, 1);
	gpuvm_dma_resv_unlock(gpuvm_resv(&vm->base));
	scn_set_knob(SCN_KNOB_NO_OBTAIN_ASSERT, false);
	if (!broken) {
		CHECK(gpuvm_is_err(b) && gpuvm_ptr_err(b) == -EDEADLK,
		      "refused");
		CHECK(scn_take_warnings(GPUVM_RULE_LOCK_HELD) == 1,
		      "detected on entry: lock-held");
		CHECK(scn_leak_report(&base, "S-GV-16") == 0, "nothing made");
	} else {
		CHECK(ok_bo(b), "went ahead");
		CHECK(scn_take_warnings(GPUVM_RULE_RECURSIVE_LOCK) == 1,
		      "the ww model reports the recursion: recursive-lock");
		scn_bo_put(b);
		scn_deferred_cleanup(vm);
	}
	scn_gem_put(g);
	scn_vm_put(vm);
}

static void gv16(const struct scn_driver *drv, struct scn_result *r)
{
	gv16_common(drv, r, false);
}

static void gv16_no_assert(const struct scn_driver *drv, struct scn_result *r)
{
	gv16_common(drv, r, true);
}

/* ---- S-GV-17 (C-18): VAs freed at once, vm_bos at cleanup --------------- */

static void gv17(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_vm *vm = new_vm(drv);
	struct scn_gem *g = scn_gem_new('G', NULL, 64);
	struct gpuvm_bo *b = scn_obtain(vm, g, 1);
	unsigned int k, frees;
	struct scn_sm_ctx ctx;
	long vas;
	int ret;

	CHECK(ok_bo(b), "obtain");
	for (k = 0; k < 8; k++)
		CHECK(scn_map(vm, b, P(8 * k), P(4), P(4 * k)) == 0, "map %u",
		      k);
	scn_bo_put(b);
	frees = ld(&vm->stats.frees);
	vas = scn_vas_alive();

	scn_ctx_init(&ctx, vm);
	scn_va_lock(vm);
	ret = scn_sm_unmap(&ctx, 0, SPACE);
	scn_va_unlock(vm);
	scn_ctx_fini(&ctx);
	CHECK(ret == 0, "unmap all");
	CHECK(scn_vas_alive() == vas - 8, "eight VA frees during the call");
	CHECK(ld(&vm->stats.frees) == frees && scn_bo_state(b) == SCN_BO_ZOMBIE,
	      "the vm_bo only queued");
	scn_deferred_cleanup(vm);
	CHECK(ld(&vm->stats.frees) == frees + 1, "freed at cleanup");
	scn_vm_put(vm);
	scn_gem_put(g);
}

/* ---- S-GV-18 (C-19): teardown drains ------------------------------------ */

#define GV18_GEMS 10

static void gv18_common(const struct scn_driver *drv, struct scn_result *r,
			bool broken)
{
	struct scn_gem *rg = scn_gem_new('R', NULL, 0);
	struct scn_gem *gems[GV18_GEMS];
	struct scn_live base;
	long pinned = scn_pinned_pages();
	struct scn_vm *vm;
	unsigned int i, k;

	scn_live(&base);
	vm = scn_vm_new(drv, NULL, rg, 0, SPACE, 0, 0, 0);
	for (i = 0; i < GV18_GEMS; i++)
		/* Odd ones imported (own resv), even ones VM-private. */
		gems[i] = scn_gem_new((char)('a' + i),
				      i % 2 ? NULL : rg->base.resv, 16);
	for (i = 0; i < GV18_GEMS; i++) {
		struct gpuvm_bo *b = scn_obtain(vm, gems[i], (long)i);

		CHECK(ok_bo(b), "obtain %u", i);
		for (k = 0; k < 10; k++)
			CHECK(scn_map(vm, b, P(64 * i + 4 * k), P(4),
				      P(4 * k)) == 0,
			      "map");
		scn_bo_put(b);
		/* The handle is closed: only the mappings keep the GEM. */
		scn_gem_put(gems[i]);
	}
	CHECK(scn_va_count(vm) == 100, "100 VAs");
	CHECK(scn_pinned_pages() == pinned + 16 * GV18_GEMS, "pages pinned");

	scn_set_knob(SCN_KNOB_TEARDOWN_NO_DRAIN, broken);
	scn_vm_close(vm); /* the file is closed */
	scn_set_knob(SCN_KNOB_TEARDOWN_NO_DRAIN, false);
	if (!broken) {
		CHECK(scn_vm_freed(vm), "VM freed");
		for (i = 0; i < GV18_GEMS; i++)
			CHECK(scn_gem_freed(gems[i]), "GEM %u released", i);
		CHECK(scn_pinned_pages() == pinned, "every page unpinned");
		CHECK(scn_leak_report(&base, "S-GV-18 close") == 0,
		      "nothing left");
	} else {
		CHECK(!scn_vm_freed(vm) && scn_defer_count(vm) == GV18_GEMS,
		      "ten zombies keep the VM");
		CHECK(scn_pinned_pages() == pinned + 16 * GV18_GEMS,
		      "the pages stay pinned");
		CHECK(scn_leak_report(&base, "S-GV-18 close") ==
			      1 + 2 * GV18_GEMS,
		      "VM, GEMs and zombies reported");
		CHECK(scn_take_warnings(SCN_RULE_LEAK) == 1, "scenario-leak");
		scn_deferred_cleanup(vm); /* what PR #548 added */
		CHECK(scn_vm_freed(vm) && scn_pinned_pages() == pinned,
		      "drained: the VM goes, the pages are unpinned");
	}
	scn_gem_put(rg);
}

static void gv18(const struct scn_driver *drv, struct scn_result *r)
{
	gv18_common(drv, r, false);
}

static void gv18_no_drain(const struct scn_driver *drv, struct scn_result *r)
{
	gv18_common(drv, r, true);
}

/* The synchronous put of a staged VM without the list lock (PR #433). */
static void gv18_sync_unlocked(const struct scn_driver *drv,
			       struct scn_result *r)
{
	struct scn_vm *vm = scn_vm_new(&plain_driver, NULL, NULL, 0, SPACE, 0,
				       0, SCN_VM_STAGED);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct gpuvm_bo *b;

	(void)drv;
	CHECK(gpuvm_dma_resv_lock(g->base.resv, NULL) == 0, "lock G");
	b = gpuvm_bo_obtain_locked(&vm->base, &g->base);
	gpuvm_dma_resv_unlock(g->base.resv);
	CHECK(ok_bo(b), "obtain");
	gpuvm_bo_put(b);
	CHECK(scn_take_warnings(GPUVM_RULE_LOCK_NOT_HELD) >= 1,
	      "the final put without its locks: lock-not-held");
	scn_gem_put(g);
	scn_vm_put(vm);
}

/* ---- S-GV-19 (C-20): the final VM put and its own resv ------------------ */

static void gv19_cleanup(unsigned int i, void *arg)
{
	(void)i;
	scn_deferred_cleanup(arg);
}

static void gv19(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_gem *rg = scn_gem_new('R', NULL, 0);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct scn_vm *vm = scn_vm_new(drv, NULL, rg, 0, SPACE, 0, 0, 0);
	struct gpuvm_bo *b;
	struct scn_thread w;

	scn_gem_put(rg); /* the VM owns r_obj alone */
	b = scn_obtain(vm, g, 1);
	CHECK(ok_bo(b), "obtain");
	/* The exec phase: the VM resv is held while the last handle and
	 * the last vm_bo reference go. */
	CHECK(gpuvm_dma_resv_lock(gpuvm_resv(&vm->base), NULL) == 0, "VM");
	scn_bo_put(b);
	scn_vm_put(vm);
	CHECK(!scn_vm_freed(vm) && !scn_gem_freed(rg),
	      "nothing freed under the held resv");
	gpuvm_dma_resv_unlock(gpuvm_resv(&vm->base));
	scn_event("resv-unlocked");
	/* A worker runs the cleanup later. */
	scn_thread_start(&w, 1, gv19_cleanup, vm);
	scn_thread_join(&w);
	CHECK(scn_vm_freed(vm) && scn_gem_freed(rg), "freed by the worker");
	CHECK(scn_event_pos("resv-unlocked") < scn_event_pos("F:R") &&
		      scn_event_pos("resv-unlocked") < scn_event_pos("V"),
	      "r_obj and VM freed after the unlock (%s)", scn_events());
	CHECK(ldi(&vm->stats.vm_free_thread) == 1, "on the worker");
	scn_gem_put(g);
}

static void gv19_put_under_resv(const struct scn_driver *drv,
				struct scn_result *r)
{
	struct scn_gem *rg = scn_gem_new('R', NULL, 0);
	struct scn_vm *vm = scn_vm_new(drv, NULL, rg, 0, SPACE, 0, 0, 0);

	/* rg keeps our reference so the broken put frees no lock we hold. */
	CHECK(gpuvm_dma_resv_lock(rg->base.resv, NULL) == 0, "VM resv");
	scn_vm_put(vm);
	CHECK(scn_vm_freed(vm), "freed under its resv");
	CHECK(scn_take_warnings(GPUVM_RULE_LOCK_HELD) == 1,
	      "the final put under the VM resv: lock-held");
	gpuvm_dma_resv_unlock(rg->base.resv);
	scn_gem_put(rg);
}

/* ---- S-GV-20 (C-21): the device outlives the VM ------------------------- */

static void gv20_common(const struct scn_driver *drv, struct scn_result *r,
			bool broken)
{
	struct scn_dev *dev = scn_dev_new("gpu0");
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct scn_vm *vm;
	struct gpuvm_bo *b;
	struct scn_thread w;

	scn_set_knob(SCN_KNOB_VM_NO_DEVICE_REF, broken);
	vm = scn_vm_new(drv, dev, NULL, 0, SPACE, 0, 0, 0);
	scn_set_knob(SCN_KNOB_VM_NO_DEVICE_REF, false);
	b = scn_obtain(vm, g, 1);
	CHECK(ok_bo(b), "obtain");
	scn_bo_put(b);
	scn_vm_put(vm);
	CHECK(!scn_vm_freed(vm), "the VM lives on through its zombie");
	/* Unbind and remove: the driver's device reference goes. */
	scn_dev_put(dev);
	CHECK(scn_dev_released(dev) == broken, "the device %s",
	      broken ? "is released at once" : "is kept by the VM");
	scn_thread_start(&w, 1, gv19_cleanup, vm);
	scn_thread_join(&w);
	CHECK(scn_vm_freed(vm) && scn_dev_released(dev), "both gone");
	if (!broken) {
		CHECK(!strcmp(vm->dev_name_at_free, "gpu0"),
		      "vm_free used a live device");
		CHECK(scn_event_pos("V") < scn_event_pos("D"),
		      "device released after the VM (%s)", scn_events());
	} else {
		CHECK(scn_take_warnings(SCN_RULE_USE_AFTER_FREE) == 1,
		      "vm_free touched a released device: use-after-free");
	}
	scn_gem_put(g);
}

static void gv20(const struct scn_driver *drv, struct scn_result *r)
{
	gv20_common(drv, r, false);
}

static void gv20_no_ref(const struct scn_driver *drv, struct scn_result *r)
{
	gv20_common(drv, r, true);
}

/* ---- S-GV-21 (C-22): an error in the middle of a walk ------------------- */

static void gv21(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_vm *vm = new_vm(drv);
	struct scn_gem *g = scn_gem_new('G', NULL, 4);
	struct scn_gem *h = scn_gem_new('H', NULL, 4);
	struct gpuvm_bo *bg = scn_obtain(vm, g, 1), *bh = scn_obtain(vm, h, 2);
	struct scn_sm_ctx ctx;
	long vas;
	int ret;

	CHECK(ok_bo(bg) && ok_bo(bh), "obtain");
	CHECK(scn_map(vm, bg, P(0), P(4), 0) == 0 &&
		      scn_map(vm, bh, P(4), P(4), 0) == 0,
	      "two mappings");
	scn_bo_put(bh);
	scn_ctx_init(&ctx, vm);
	ctx.keep_removed = true;
	ctx.inject_fail_at = 2; /* unmap, unmap, then the map fails */
	ctx.inject_ret = -ENOMEM;
	scn_va_lock(vm);
	CHECK(scn_ctx_prealloc(&ctx, 1, GPUVM_GFP_KERNEL) == 0, "prealloc");
	vas = scn_vas_alive();
	ret = scn_sm_map(&ctx, P(0), P(8), bg, P(100));
	CHECK(ret == -ENOMEM, "the step's error comes back (%d)", ret);
	/* Kept by the reference steps, dropped by a driver's own. */
	CHECK(ctx.nr_removed + (vas - scn_vas_alive()) == 2,
	      "both removed VAs returned to the driver");
	CHECK(scn_va_count(vm) == 0, "old VAs gone, the new one absent");
	CHECK(kref(bg) == 1, "G's vm_bo: only our reference, no leaked link");
	CHECK(scn_bo_state(bh) == SCN_BO_ZOMBIE, "H's vm_bo a zombie");
	/* The unique handle is still usable: retry. */
	ctx.inject_fail_at = -1;
	ret = scn_sm_map(&ctx, P(0), P(8), bg, P(100));
	scn_va_unlock(vm);
	CHECK(ret == 0 && scn_va_count(vm) == 1, "the retry maps");
	scn_ctx_fini(&ctx);
	scn_bo_put(bg);
	scn_vm_close(vm);
	scn_gem_put(g);
	scn_gem_put(h);
}

/* ---- S-GV-22 (C-24): teardown with resident mappings -------------------- */

static void gv22(const struct scn_driver *drv, struct scn_result *r)
{
	struct scn_vm *vm = new_vm(drv);
	struct scn_gem *gems[3];
	struct scn_live base;
	unsigned int i;

	for (i = 0; i < 3; i++)
		gems[i] = scn_gem_new((char)('A' + i), NULL, 4);
	scn_live(&base);
	base.vms--;
	for (i = 0; i < 3; i++) {
		struct gpuvm_bo *b = scn_obtain(vm, gems[i], (long)i);

		CHECK(ok_bo(b) && scn_map(vm, b, P(8 * i), P(4), 0) == 0,
		      "map %u", i);
		scn_bo_put(b);
	}
	/* Every handle dropped, nothing unmapped. */
	scn_vm_put(vm);
	CHECK(!scn_vm_freed(vm), "the VM keeps itself alive");
	CHECK(scn_vm_refcount(vm) == 6, "three VAs and three vm_bos hold it");
	for (i = 0; i < 3; i++)
		CHECK(scn_gem_refcount(gems[i]) == 2, "GEM %u held", i);
	CHECK(scn_leak_report(&base, "S-GV-22 handles dropped") == 7,
	      "VM, three vm_bos, three VAs");
	CHECK(scn_take_warnings(SCN_RULE_LEAK) == 1, "scenario-leak");

	/* Control: unmap all, clean up, then drop the handle. */
	scn_vm_get(vm);
	scn_vm_close(vm);
	CHECK(scn_vm_freed(vm), "VM freed");
	CHECK(scn_warnings(GPUVM_RULE_VM_NOT_EMPTY) == 0, "no fini warning");
	for (i = 0; i < 3; i++)
		scn_gem_put(gems[i]);
}

/* ---- the table ---------------------------------------------------------- */

const struct scn_scenario scn_scenarios[] = {
	{ "S-GV-01", "drop under a held resv", false, gv01 },
	{ "S-GV-01-naive", "destructor locks the GEM resv", true, gv01_naive },
	{ "S-GV-01-cleanup-held", "cleanup under the VM resv", true,
	  gv01_cleanup_held },
	{ "S-GV-02", "last GEM reference held by the vm_bo", false, gv02 },
	{ "S-GV-02-publish-locked", "zombie published before unlock", true,
	  gv02_publish_locked },
	{ "S-GV-02-sync-put", "synchronous put under the GEM mutex", true,
	  gv02_sync_put },
	{ "S-GV-03", "one GEM, two VMs", false, gv03 },
	{ "S-GV-03-mixed-mode", "immediate and staged VMs share a GEM", true,
	  gv03_mixed },
	{ "S-GV-04", "concurrent obtain, free hook takes the resv", false,
	  gv04 },
	{ "S-GV-04-free-locked", "duplicate freed under the gpuva mutex", true,
	  gv04_free_locked },
	{ "S-GV-05", "whole bind inside a signalling section", false, gv05 },
	{ "S-GV-05-obtain", "obtain inside the section", true, gv05_obtain },
	{ "S-GV-05-sync-put", "synchronous put inside the section", true,
	  gv05_sync_put },
	{ "S-GV-06", "exec lock sees the new external BO", false, gv06 },
	{ "S-GV-06-extobj-in-map", "extobj registration in the map step", true,
	  gv06_in_map },
	{ "S-GV-07", "extobj_add by the thread that found the vm_bo", false,
	  gv07 },
	{ "S-GV-07-creator-only", "extobj_add only by the creator", true,
	  gv07_creator_only },
	{ "S-GV-08", "disposal of an unused prealloc", false, gv08 },
	{ "S-GV-08-under-gpuva", "prealloc dropped under the gpuva mutex", true,
	  gv08_under_gpuva },
	{ "S-GV-09", "data initialised before any free", false, gv09 },
	{ "S-GV-09-init-after-create", "fallible init after create", true,
	  gv09_init_after },
	{ "S-GV-10", "allocator families, one destructor run", false, gv10 },
	{ "S-GV-10-c-size-free", "driver allocation freed as the C struct",
	  true, gv10_c_size },
	{ "S-GV-11a", "vm_bo state predicates", false, gv11a },
	{ "S-GV-11b", "raw-pointer conversion checks", false, gv11b },
	{ "S-GV-11b-unchecked", "conversions without their checks", true,
	  gv11b_unchecked },
	{ "S-GV-12", "unregistered vm_bo rejected", false, gv12 },
	{ "S-GV-12-unregistered", "map through an unregistered vm_bo", true,
	  gv12_unregistered },
	{ "S-GV-13", "foreign vm_bo: EINVAL, no change", false, gv13 },
	{ "S-GV-13-foreign", "map through another VM's vm_bo", true,
	  gv13_foreign },
	{ "S-GV-14", "init over unzeroed memory", false, gv14 },
	{ "S-GV-15", "driver data across threads", false, gv15 },
	{ "S-GV-16", "obtain with the VM resv held is refused", false, gv16 },
	{ "S-GV-16-no-assert", "obtain with the VM resv held, unchecked", true,
	  gv16_no_assert },
	{ "S-GV-17", "VAs freed at once, vm_bos at cleanup", false, gv17 },
	{ "S-GV-18", "teardown drains bo_defer", false, gv18 },
	{ "S-GV-18-no-drain", "teardown without cleanup", true, gv18_no_drain },
	{ "S-GV-18-sync-unlocked", "synchronous put without the list lock",
	  true, gv18_sync_unlocked },
	{ "S-GV-19", "no VM/r_obj free under its resv", false, gv19 },
	{ "S-GV-19-put-under-resv", "final VM put under its resv", true,
	  gv19_put_under_resv },
	{ "S-GV-20", "the device outlives the VM", false, gv20 },
	{ "S-GV-20-no-device-ref", "a VM without a device reference", true,
	  gv20_no_ref },
	{ "S-GV-21", "error in the middle of a walk", false, gv21 },
	{ "S-GV-22", "teardown with resident mappings", false, gv22 },
};

const unsigned int scn_nr_scenarios =
	sizeof(scn_scenarios) / sizeof(scn_scenarios[0]);
