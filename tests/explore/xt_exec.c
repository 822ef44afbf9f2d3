// SPDX-License-Identifier: MIT
/*
 * Explored: drm_exec-style locking of a VM's objects and the evict list,
 * and wound/wait cycles.
 *
 * evict-prepare-validate-<mode> (the four locking modes of vm.h):
 * thread 0 is a job that locks the VM's resv and its external objects
 * (gpuvm_prepare_vm() + gpuvm_prepare_objects() in one gpuvm_exec loop),
 * validates (gpuvm_validate(), whose vm_bo_validate op records the call
 * and clears the eviction) and unlocks. Threads 1 and 2 are buffer moves
 * that evict one external object each, at any moment, holding the
 * object's resv and, in immediate mode, its gpuva mutex, as
 * gpuvm_bo_gem_evict() requires. Thread 1 locks its object in a
 * transaction of its own (a ticket, as TTM evicts: the job backs off when
 * its ticket is the younger one); thread 2 locks its object outside any
 * transaction (the job just waits). The invariants, per object:
 *  - evicted before the job locked it: validated by the job, once; its
 *    flag is clear and it is on no evict list afterwards;
 *  - evicted after the job unlocked it: not validated, the flag is set;
 *    without GPUVM_RESV_PROTECTED it is on the evict list at once. With
 *    GPUVM_RESV_PROTECTED it is not: that list is protected by the VM's
 *    resv, which the mover does not hold, so gpuvm_bo_evict() only sets
 *    the flag of an external object and the vm_bo joins the list at the
 *    next gpuvm_prepare_objects() (documented at gpuvm_bo_evict() in
 *    vm.h; the kernel's drm_gpuvm_bo_evict() behaves the same). The check
 *    then runs that next job (unexplored) and requires it to validate
 *    every object evicted after the first;
 *  - the job backs off at most once (only thread 1 has a ticket);
 *  - no lock rule is broken and nothing leaks (the explorer fails the run
 *    on a warning or a live library allocation; the test counts its own
 *    VM and object frees).
 *
 * ww-cycle-<algorithm>: three threads lock two of three ww_mutexes of one
 * class each, in the cyclic orders (0,1), (1,2), (2,0), through an
 * acquire context with the proper back-off after -EDEADLK (unlock all,
 * lock_slow the contended one, retry). Wait-die and wound-wait classes.
 * ww-cycle-no-backoff and ww-cycle-no-backoff-wound-wait are the broken
 * variant that must fail (run them with --expect-fail): after -EDEADLK the
 * thread keeps what it holds and waits for the contended mutex without
 * its context, which is the back-off left out; three threads each holding
 * their first mutex then wait for each other for ever. The checker reports
 * that context-less lock of a class the context pins as recursive locking
 * (GPUVM_RULE_RECURSIVE_LOCK); the variant allows that rule so that what
 * fails the run is the explorer's deadlock detection, not the checker.
 */
#include <errno.h>
#include <stdlib.h>

#include "xt_common.h"

/* ---- evict / prepare / validate ----------------------------------------- */

#define EV_NR_OBJS 2
#define EV_SPACE (1ull << 20)
/*
 * Fence slots the job reserves. 0: reserving makes each resv allocate a
 * fence list, freed through call_rcu() at the resv's end, and the
 * explorer's leak check after every run then waits for an RCU barrier
 * (about 10 ms a run instead of 0.2 ms).
 */
#define EV_FENCES 0

struct ev_state {
	enum gpuvm_flags flags;
	unsigned int nr_threads; /* 2: object 0 is never evicted */
	struct gpuvm *vm;
	struct gpuvm_gem_object *obj[EV_NR_OBJS];
	struct gpuvm_bo *bo[EV_NR_OBJS];
	/* Set by the mover of each object once it evicted it, under the
	 * object's resv. */
	bool evicted[EV_NR_OBJS];
	/* The job: whether each eviction was done when everything was
	 * locked (read under the object's resv). */
	bool evicted_at_lock[EV_NR_OBJS];
	bool job_locked;
	unsigned int job_passes;
	/* Calls of the validate op, per object. */
	unsigned int validated[EV_NR_OBJS];
	unsigned int vm_frees, obj_frees;
};

static struct ev_state ev;

static bool ev_immediate(const struct ev_state *s)
{
	return s->flags & GPUVM_IMMEDIATE_MODE;
}

static bool ev_protected(const struct ev_state *s)
{
	return s->flags & GPUVM_RESV_PROTECTED;
}

static void ev_vm_free(struct gpuvm *gpuvm)
{
	ev.vm_frees++;
	free(gpuvm);
}

static void ev_obj_free(struct gpuvm_gem_object *obj)
{
	ev.obj_frees++;
	free(obj);
}

static const struct gpuvm_gem_object_funcs ev_obj_funcs = {
	.free = ev_obj_free,
};

static int ev_index(const struct gpuvm_bo *vm_bo)
{
	int i;

	for (i = 0; i < EV_NR_OBJS; i++)
		if (ev.bo[i] == vm_bo)
			return i;
	return -1;
}

/* The driver's vm_bo_validate: make the object resident again. */
static int ev_validate(struct gpuvm_bo *vm_bo, struct gpuvm_exec *exec)
{
	int i = ev_index(vm_bo);

	(void)exec;
	XP_CHECK(i >= 0, "validate of an unknown vm_bo %p", (void *)vm_bo);
	if (i < 0)
		return 0;
	XP_CHECK(gpuvm_dma_resv_held(vm_bo->obj->resv),
		 "validate of object %d without its resv", i);
	XP_CHECK(vm_bo->evicted, "validate of object %d, which is not evicted",
		 i);
	ev.validated[i]++;
	gpuvm_bo_evict(vm_bo, false);
	return 0;
}

static const struct gpuvm_ops ev_ops = {
	.vm_free = ev_vm_free,
	.vm_bo_validate = ev_validate,
};

/* Whether @vm_bo is on its VM's evict list (no other thread running). */
static bool ev_on_evict_list(const struct gpuvm_bo *vm_bo)
{
	const struct gpuvm_list_head *head = &vm_bo->vm->evict.list, *pos;

	for (pos = head->next; pos != head; pos = pos->next)
		if (pos == &vm_bo->list.entry.evict)
			return true;
	return false;
}

static bool ev_on_extobj_list(const struct gpuvm_bo *vm_bo)
{
	const struct gpuvm_list_head *head = &vm_bo->vm->extobj.list, *pos;

	for (pos = head->next; pos != head; pos = pos->next)
		if (pos == &vm_bo->list.entry.extobj)
			return true;
	return false;
}

static void ev_setup_common(enum gpuvm_flags flags, unsigned int nr_threads)
{
	struct gpuvm_gem_object *r_obj;
	int i;

	xt_begin();
	ev = (struct ev_state){ .flags = flags, .nr_threads = nr_threads };
	ev.vm = calloc(1, sizeof(*ev.vm));
	r_obj = gpuvm_resv_object_alloc();
	if (!ev.vm || !r_obj) {
		fprintf(stderr, "xt_exec: out of memory\n");
		abort();
	}
	gpuvm_init(ev.vm, "xt-evict", flags, r_obj, 0, EV_SPACE, 0, 0, &ev_ops);
	gpuvm_gem_object_put(r_obj); /* the VM holds its own */

	for (i = 0; i < EV_NR_OBJS; i++) {
		struct gpuvm_gem_object *obj = calloc(1, sizeof(*obj));
		struct gpuvm_bo *b;

		if (!obj) {
			fprintf(stderr, "xt_exec: out of memory\n");
			abort();
		}
		/* Its own resv: external to the VM. */
		gpuvm_gem_object_init(obj, &ev_obj_funcs, 4096);
		ev.obj[i] = obj;
		if (ev_immediate(&ev)) {
			b = gpuvm_bo_obtain_prealloc(
				gpuvm_bo_create(ev.vm, obj));
		} else {
			gpuvm_dma_resv_lock(obj->resv, NULL);
			b = gpuvm_bo_obtain_locked(ev.vm, obj);
			gpuvm_dma_resv_unlock(obj->resv);
		}
		if (gpuvm_is_err_or_null(b)) {
			fprintf(stderr, "xt_exec: obtain failed\n");
			abort();
		}
		if (ev_protected(&ev))
			gpuvm_dma_resv_lock(gpuvm_resv(ev.vm), NULL);
		gpuvm_bo_extobj_add(b);
		if (ev_protected(&ev))
			gpuvm_dma_resv_unlock(gpuvm_resv(ev.vm));
		/* This reference stands for the object's mapping. */
		ev.bo[i] = b;
	}
}

/*
 * Lock the VM's resv and its external objects in @exec (initialised
 * here) and validate. @record: the explored job, which notes what it saw
 * once everything is locked. Return: 0, or the first error; @exec needs
 * gpuvm_exec_fini() either way.
 */
static int ev_lock_validate(struct ev_state *s, struct gpuvm_exec *exec,
			    bool record)
{
	int i, ret;

	gpuvm_exec_init(exec, 0, 0);
	gpuvm_exec_until_all_locked(exec) {
		if (record)
			s->job_passes++;
		ret = gpuvm_prepare_vm(s->vm, exec, EV_FENCES);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			return ret;
		ret = gpuvm_prepare_objects(s->vm, exec, EV_FENCES);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			return ret;
	}
	if (record) {
		/* Every object's resv is held: each mover is before or
		 * after the job. */
		s->job_locked = true;
		for (i = 0; i < EV_NR_OBJS; i++)
			s->evicted_at_lock[i] = s->evicted[i];
	}
	return gpuvm_validate(s->vm, exec);
}

/* Thread 0: the job. */
static void ev_job(struct ev_state *s)
{
	struct gpuvm_exec exec;
	int ret, i;

	ret = ev_lock_validate(s, &exec, true);
	XP_CHECK(ret == 0, "the job's lock or validate failed: %d", ret);
	if (!ret) {
		XP_CHECK(gpuvm_resv_held(s->vm), "the job lost the VM resv");
		for (i = 0; i < EV_NR_OBJS; i++) {
			XP_CHECK(gpuvm_dma_resv_held(s->obj[i]->resv),
				 "the job does not hold object %d", i);
			XP_CHECK(s->validated[i] == s->evicted_at_lock[i],
				 "object %d, %s evicted when the job locked "
				 "it, validated %u time(s)",
				 i,
				 s->evicted_at_lock[i] ? "already" : "not yet",
				 s->validated[i]);
			XP_CHECK(!s->bo[i]->evicted,
				 "object %d flagged evicted after the validate",
				 i);
		}
	}
	gpuvm_exec_fini(&exec);
}

/*
 * Thread 1 evicts object 1 as a buffer move inside a transaction (a
 * ticket, as TTM's eviction: the job backs off when it is the younger).
 * Thread 2 evicts object 0 outside any transaction (a plain resv lock:
 * the job just waits).
 */
static void ev_mover(struct ev_state *s, int i, bool ticket)
{
	struct gpuvm_gem_object *obj = s->obj[i];
	struct gpuvm_exec exec;
	int ret = 0;

	if (ticket) {
		gpuvm_exec_init(&exec, 0, 1);
		gpuvm_exec_until_all_locked(&exec) {
			ret = gpuvm_exec_lock_obj(&exec, obj);
			gpuvm_exec_retry_on_contention(&exec);
			if (ret)
				break;
		}
	} else {
		ret = gpuvm_dma_resv_lock(obj->resv, NULL);
	}
	XP_CHECK(ret == 0, "the mover could not lock object %d: %d", i, ret);
	if (!ret) {
		if (ev_immediate(s))
			gpuvm_gem_gpuva_lock(obj);
		gpuvm_bo_gem_evict(obj, true);
		s->evicted[i] = true;
		if (ev_immediate(s))
			gpuvm_gem_gpuva_unlock(obj);
	}
	if (ticket)
		gpuvm_exec_fini(&exec);
	else if (!ret)
		gpuvm_dma_resv_unlock(obj->resv);
}

static void ev_thread(unsigned int i, void *arg)
{
	if (i == 0)
		ev_job(arg);
	else if (i == 1)
		ev_mover(arg, 1, true);
	else
		ev_mover(arg, 0, false);
}

static void ev_check(void *arg)
{
	struct ev_state *s = arg;
	struct gpuvm_exec exec;
	bool later = false;
	int i, ret;

	XP_CHECK(s->job_locked, "the job never locked everything");
	XP_CHECK(s->job_passes >= 1 && s->job_passes <= 2,
		 "the job took %u passes", s->job_passes);
	for (i = 0; i < EV_NR_OBJS; i++) {
		struct gpuvm_bo *b = s->bo[i];
		bool listed = ev_on_evict_list(b);

		XP_CHECK(ev_on_extobj_list(b), "object %d left the extobj list",
			 i);
		if (s->nr_threads <= 2 && i == 0) {
			/* Nobody evicts it. */
			XP_CHECK(!s->evicted[0] && !s->validated[0] &&
					 !b->evicted && !listed,
				 "object 0 is evicted or was validated");
			continue;
		}
		XP_CHECK(s->evicted[i], "object %d was never evicted", i);
		if (s->evicted_at_lock[i]) {
			XP_CHECK(s->validated[i] == 1 && !b->evicted && !listed,
				 "object %d, evicted before the job: "
				 "validated %u, flag %d, listed %d",
				 i, s->validated[i], b->evicted, listed);
			continue;
		}
		later = true;
		XP_CHECK(s->validated[i] == 0 && b->evicted,
			 "object %d, evicted after the job: validated %u, "
			 "flag %d",
			 i, s->validated[i], b->evicted);
		/* Resv-protected, an external object joins the evict list
		 * only at the next prepare_objects (see the top). */
		if (ev_protected(s))
			XP_CHECK(!listed,
				 "object %d, evicted without the VM resv, is "
				 "on the resv-protected evict list",
				 i);
		else
			XP_CHECK(listed,
				 "object %d, evicted after the job, is not on "
				 "the evict list",
				 i);
	}
	if (!later)
		return;

	/* The next job (here, unexplored) picks every later one up. */
	ret = ev_lock_validate(s, &exec, false);
	XP_CHECK(ret == 0, "the next job failed: %d", ret);
	gpuvm_exec_fini(&exec);
	for (i = 0; i < EV_NR_OBJS; i++)
		XP_CHECK(s->validated[i] == s->evicted[i] &&
				 !s->bo[i]->evicted &&
				 !ev_on_evict_list(s->bo[i]),
			 "after the next job object %d: validated %u, flag "
			 "%d, listed %d",
			 i, s->validated[i], s->bo[i]->evicted,
			 ev_on_evict_list(s->bo[i]));
}

static void ev_teardown(void *arg)
{
	struct ev_state *s = arg;
	struct gpuvm_exec exec;
	int i, ret = 0;

	/* A final put needs the GEM list lock and, resv-protected, the VM's
	 * resv: lock them all in one transaction. */
	gpuvm_exec_init(&exec, 0, 0);
	gpuvm_exec_until_all_locked(&exec) {
		ret = gpuvm_exec_lock_obj(&exec, gpuvm_resv_obj(s->vm));
		gpuvm_exec_retry_on_contention(&exec);
		for (i = 0; !ret && i < EV_NR_OBJS; i++) {
			ret = gpuvm_exec_lock_obj(&exec, s->obj[i]);
			gpuvm_exec_retry_on_contention(&exec);
		}
		if (ret)
			break;
	}
	XP_CHECK(ret == 0, "teardown could not lock: %d", ret);
	for (i = 0; i < EV_NR_OBJS; i++) {
		if (ev_immediate(s))
			gpuvm_gem_gpuva_lock(s->obj[i]);
		XP_CHECK(gpuvm_bo_put(s->bo[i]), "vm_bo %d is still referenced",
			 i);
		if (ev_immediate(s))
			gpuvm_gem_gpuva_unlock(s->obj[i]);
	}
	gpuvm_exec_fini(&exec);
	gpuvm_put(s->vm);
	for (i = 0; i < EV_NR_OBJS; i++)
		gpuvm_gem_object_put(s->obj[i]);
	XP_CHECK(s->vm_frees == 1, "vm_free ran %u time(s)", s->vm_frees);
	XP_CHECK(s->obj_frees == EV_NR_OBJS, "%u of %d objects freed",
		 s->obj_frees, EV_NR_OBJS);
	xt_end();
}

#define EV_NR_THREADS 3

#define EV_SETUP(suffix, flags)                          \
	static void *ev_setup_##suffix(void)             \
	{                                                \
		ev_setup_common((flags), EV_NR_THREADS); \
		return &ev;                              \
	}

EV_SETUP(imm_prot, GPUVM_IMMEDIATE_MODE | GPUVM_RESV_PROTECTED)
EV_SETUP(imm, GPUVM_IMMEDIATE_MODE)
EV_SETUP(staged_prot, GPUVM_RESV_PROTECTED)
EV_SETUP(staged, 0)

#define EV_TEST(var, suffix, mode)                                       \
	static const struct xp_test var = {                              \
		.name = "evict-prepare-validate-" mode,                  \
		.doc = "job prepare_vm/prepare_objects/validate vs two " \
		       "evictions (" mode ")",                           \
		.nr_threads = EV_NR_THREADS,                             \
		.setup = ev_setup_##suffix,                              \
		.thread = ev_thread,                                     \
		.check = ev_check,                                       \
		.teardown = ev_teardown,                                 \
	};                                                               \
	XT_REGISTER(var)

EV_TEST(evict_imm_prot, imm_prot, "immediate-protected")
EV_TEST(evict_imm, imm, "immediate")
EV_TEST(evict_staged_prot, staged_prot, "staged-protected")
EV_TEST(evict_staged, staged, "staged")

/* ---- wound/wait cycles --------------------------------------------------- */

#define WW_N 3

static GPUVM_DEFINE_WD_CLASS(xt_wait_die_class);
static GPUVM_DEFINE_WW_CLASS(xt_wound_wait_class);

struct ww_state {
	struct gpuvm_ww_class *cls;
	/* The broken variant: no back-off after -EDEADLK. */
	bool no_backoff;
	struct gpuvm_ww_mutex m[WW_N];
	int owner[WW_N]; /* 0: free, else the holding thread + 1 */
	unsigned int backoffs[WW_N];
	bool done[WW_N];
};

static struct ww_state wws;

static void ww_setup_common(struct gpuvm_ww_class *cls, bool no_backoff)
{
	unsigned int i;

	xt_begin();
	wws = (struct ww_state){ .cls = cls, .no_backoff = no_backoff };
	for (i = 0; i < WW_N; i++)
		gpuvm_ww_mutex_init(&wws.m[i], cls);
}

static void *ww_setup_wait_die(void)
{
	ww_setup_common(&xt_wait_die_class, false);
	return &wws;
}

static void *ww_setup_wound_wait(void)
{
	ww_setup_common(&xt_wound_wait_class, false);
	return &wws;
}

static void *ww_setup_no_backoff(void)
{
	ww_setup_common(&xt_wait_die_class, true);
	return &wws;
}

static void *ww_setup_no_backoff_ww(void)
{
	ww_setup_common(&xt_wound_wait_class, true);
	return &wws;
}

static void ww_took(struct ww_state *s, unsigned int t, unsigned int k)
{
	XP_CHECK(s->owner[k] == 0, "mutex %u taken while thread %d holds it", k,
		 s->owner[k] - 1);
	s->owner[k] = (int)t + 1;
}

static void ww_drop(struct ww_state *s, unsigned int t, unsigned int k)
{
	XP_CHECK(s->owner[k] == (int)t + 1, "mutex %u released, not held", k);
	s->owner[k] = 0;
	gpuvm_ww_mutex_unlock(&s->m[k]);
}

/* Thread @t locks mutexes t and t + 1 (mod 3), in that order. */
static void ww_thread(unsigned int t, void *arg)
{
	struct ww_state *s = arg;
	struct gpuvm_ww_acquire_ctx ctx;
	unsigned int want[2] = { t, (t + 1) % WW_N };
	unsigned int held[2], nr_held, j, k;
	int slow = -1; /* the mutex taken with lock_slow, held */
	int ret;

	gpuvm_ww_acquire_init(&ctx, s->cls);
retry:
	nr_held = 0;
	if (slow >= 0)
		held[nr_held++] = (unsigned int)slow;
	for (j = 0; j < 2; j++) {
		k = want[j];
		if ((int)k == slow)
			continue;
		ret = gpuvm_ww_mutex_lock(&s->m[k], &ctx);
		if (ret == -EDEADLK) {
			XP_CHECK(nr_held > 0, "-EDEADLK while holding nothing");
			s->backoffs[t]++;
			if (s->no_backoff) {
				/* Broken: keep what is held, wait anyway. */
				gpuvm_ww_mutex_lock(&s->m[k], NULL);
				ww_took(s, t, k);
				held[nr_held++] = k;
				continue;
			}
			while (nr_held)
				ww_drop(s, t, held[--nr_held]);
			gpuvm_ww_mutex_lock_slow(&s->m[k], &ctx);
			ww_took(s, t, k);
			slow = (int)k;
			goto retry;
		}
		XP_CHECK(ret == 0, "thread %u: lock of mutex %u returned %d", t,
			 k, ret);
		if (ret)
			goto out;
		ww_took(s, t, k);
		held[nr_held++] = k;
	}
	gpuvm_ww_acquire_done(&ctx);
	XP_CHECK(nr_held == 2, "thread %u holds %u mutexes", t, nr_held);
	s->done[t] = true;
out:
	while (nr_held)
		ww_drop(s, t, held[--nr_held]);
	gpuvm_ww_acquire_fini(&ctx);
}

static void ww_check(void *arg)
{
	struct ww_state *s = arg;
	unsigned int i;

	for (i = 0; i < WW_N; i++) {
		XP_CHECK(s->done[i], "thread %u never held both mutexes", i);
		XP_CHECK(s->owner[i] == 0 &&
				 !gpuvm_ww_mutex_is_locked(&s->m[i]),
			 "mutex %u still held", i);
	}
}

static void ww_teardown(void *arg)
{
	struct ww_state *s = arg;
	unsigned int i;

	for (i = 0; i < WW_N; i++)
		gpuvm_ww_mutex_destroy(&s->m[i]);
	xt_end();
}

static const struct xp_test ww_cycle_wait_die = {
	.name = "ww-cycle-wait-die",
	.doc = "three contexts lock (0,1) (1,2) (2,0) with back-off, "
	       "wait-die",
	.nr_threads = WW_N,
	.setup = ww_setup_wait_die,
	.thread = ww_thread,
	.check = ww_check,
	.teardown = ww_teardown,
};
XT_REGISTER(ww_cycle_wait_die)

static const struct xp_test ww_cycle_wound_wait = {
	.name = "ww-cycle-wound-wait",
	.doc = "three contexts lock (0,1) (1,2) (2,0) with back-off, "
	       "wound-wait",
	.nr_threads = WW_N,
	.setup = ww_setup_wound_wait,
	.thread = ww_thread,
	.check = ww_check,
	.teardown = ww_teardown,
};
XT_REGISTER(ww_cycle_wound_wait)

/* The context-less wait of the broken variant (see the top). */
static const char *const ww_no_backoff_allowed[] = {
	GPUVM_RULE_RECURSIVE_LOCK,
	NULL,
};

static const struct xp_test ww_cycle_no_backoff = {
	.name = "ww-cycle-no-backoff",
	.doc = "BROKEN (expect-fail): ww-cycle-wait-die without the back-off "
	       "after -EDEADLK: deadlocks",
	.nr_threads = WW_N,
	.setup = ww_setup_no_backoff,
	.thread = ww_thread,
	.check = ww_check,
	.teardown = ww_teardown,
	.allowed_rules = ww_no_backoff_allowed,
};
XT_REGISTER(ww_cycle_no_backoff)

static const struct xp_test ww_cycle_no_backoff_ww = {
	.name = "ww-cycle-no-backoff-wound-wait",
	.doc = "BROKEN (expect-fail): ww-cycle-wound-wait without the "
	       "back-off after -EDEADLK: deadlocks",
	.nr_threads = WW_N,
	.setup = ww_setup_no_backoff_ww,
	.thread = ww_thread,
	.check = ww_check,
	.teardown = ww_teardown,
	.allowed_rules = ww_no_backoff_allowed,
};
XT_REGISTER(ww_cycle_no_backoff_ww)
