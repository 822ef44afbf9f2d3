// SPDX-License-Identifier: MIT
/*
 * Several VMs sharing GEM objects, each case run in the four locking
 * modes (one cmocka case per mode, named "<case>/<mode>"):
 *  - two and three VMs sharing external objects next to each VM's private
 *    ones: one vm_bo per (VM, object), each extobj list holds its own;
 *  - gpuvm_bo_gem_evict() reaches every VM; with GPUVM_RESV_PROTECTED an
 *    external vm_bo joins a VM's evict list only when that VM locks its
 *    objects, a private one at once;
 *  - validation is per VM;
 *  - closing one VM (with a zombie on its lists in immediate mode) leaves
 *    the other VMs' vm_bos, lists and counts alone and leaks nothing;
 *  - the GEM list lock rules of obtain/put/unmap, and the mode rules of
 *    obtain_locked, obtain_prealloc and put_deferred;
 *  - one object used by an immediate-mode and a staged VM;
 *  - allocation failures while binding a shared object into more VMs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/testing.h>
#include "gpuvm_fixture.h"
#include "harness.h"

#define SZ 0x1000ull
#define MAX_VMS 3
#define NR_SHARED 3 /* S0 and S1 mapped in every world VM, S2 on demand */
#define NR_PRIV 2

/* ---- the mode of a case ------------------------------------------------- */

static unsigned int mode_ids[FX_NR_MODES] = { 0, 1, 2, 3 };

static const struct fx_mode *mode_of(void **state)
{
	return &fx_modes[*(unsigned int *)*state];
}

static bool is_immediate(const struct fx_mode *m)
{
	return m->flags & GPUVM_IMMEDIATE_MODE;
}

static bool is_protected(const struct fx_mode *m)
{
	return m->flags & GPUVM_RESV_PROTECTED;
}

/* ---- objects ------------------------------------------------------------ */

static unsigned int objs_alive;

static void obj_free(struct gpuvm_gem_object *obj)
{
	objs_alive--;
	free(obj);
}

static const struct gpuvm_gem_object_funcs obj_funcs = { .free = obj_free };

/* External (own resv) when @resv is NULL, else sharing @resv. */
static struct gpuvm_gem_object *obj_new(struct gpuvm_dma_resv *resv)
{
	struct gpuvm_gem_object *obj = calloc(1, sizeof(*obj));

	assert_non_null(obj);
	if (resv)
		gpuvm_gem_object_init_shared_resv(obj, &obj_funcs, 4096, resv);
	else
		gpuvm_gem_object_init(obj, &obj_funcs, 4096);
	objs_alive++;
	return obj;
}

/* Drop the last reference of @obj and check it really went. */
static void obj_put_last(struct gpuvm_gem_object *obj)
{
	unsigned int alive = objs_alive;

	assert_int_equal(gpuvm_gem_object_refcount(obj), 1);
	gpuvm_gem_object_put(obj);
	assert_int_equal(objs_alive, alive - 1);
}

/* ---- driver callbacks: which vm_bos were freed and validated ------------ */

#define LOG_MAX 256

static struct {
	unsigned int n;
	struct gpuvm_bo *bo[LOG_MAX];
	struct gpuvm *vm[LOG_MAX];
} freed;

static void log_vm_bo_free(struct gpuvm_bo *vm_bo)
{
	if (freed.n < LOG_MAX) {
		freed.bo[freed.n] = vm_bo;
		freed.vm[freed.n] = vm_bo->vm;
	}
	freed.n++;
	gpuvm_kfree(vm_bo); /* the default allocator made it */
}

/* Frees since @from that were of @vm, all of them when @vm is NULL. */
static unsigned int frees_of(unsigned int from, const struct gpuvm *vm)
{
	unsigned int i, n = 0;

	for (i = from; i < freed.n && i < LOG_MAX; i++)
		n += !vm || freed.vm[i] == vm;
	return n;
}

static bool was_freed(unsigned int from, const struct gpuvm_bo *vm_bo)
{
	unsigned int i;

	for (i = from; i < freed.n && i < LOG_MAX; i++)
		if (freed.bo[i] == vm_bo)
			return true;
	return false;
}

static struct {
	unsigned int calls;
	unsigned int unlocked; /* calls without the object's resv held */
	struct gpuvm_bo *bo[LOG_MAX];
} val;

static int log_validate(struct gpuvm_bo *vm_bo, struct gpuvm_exec *exec)
{
	if (!gpuvm_dma_resv_held(vm_bo->obj->resv))
		val.unlocked++;
	if (val.calls < LOG_MAX)
		val.bo[val.calls] = vm_bo;
	val.calls++;
	/* Resident again: clears the flag (and, unprotected, the entry). */
	gpuvm_bo_evict(vm_bo, false);
	return 0;
}

static int multi_teardown(void **state)
{
	unsigned int alive = objs_alive;

	objs_alive = 0;
	memset(&freed, 0, sizeof(freed));
	memset(&val, 0, sizeof(val));
	if (alive)
		fprintf(stderr, "%u GEM object(s) not freed\n", alive);
	return harness_teardown(state) || alive ? -1 : 0;
}

static struct fx_vm *vm_new(const struct fx_mode *m)
{
	struct fx_vm *fx = fx_vm_create(m->flags, 0, 1 << 20, 0, 0);

	fx->ops.vm_bo_free = log_vm_bo_free;
	fx->ops.vm_bo_validate = log_validate;
	return fx;
}

/* ---- lock helpers -------------------------------------------------------- */

static void extobj_add_locked(struct fx_vm *fx, struct gpuvm_bo *vm_bo)
{
	if (gpuvm_resv_protected(&fx->base))
		fx_vm_resv_lock(fx);
	gpuvm_bo_extobj_add(vm_bo);
	if (gpuvm_resv_protected(&fx->base))
		fx_vm_resv_unlock(fx);
}

/* What gem_evict needs: the object's resv and, immediate, its gpuva lock
 * (a private object's resv is its VM's). */
static void gem_evict_locked(struct gpuvm_gem_object *obj, bool immediate,
			     bool evict)
{
	assert_int_equal(gpuvm_gem_object_lock(obj, NULL), 0);
	if (immediate)
		gpuvm_gem_gpuva_lock(obj);
	gpuvm_bo_gem_evict(obj, evict);
	if (immediate)
		gpuvm_gem_gpuva_unlock(obj);
	gpuvm_gem_object_unlock(obj);
}

/* gpuvm_vm_exec_lock() without IGNORE_DUPLICATES: locking one object
 * twice (a zombie visited, say) fails the test with -EALREADY. */
static void vm_exec_lock(struct fx_vm *fx, struct gpuvm_vm_exec *ve)
{
	memset(ve, 0, sizeof(*ve));
	ve->vm = &fx->base;
	assert_int_equal(gpuvm_vm_exec_lock(ve), 0);
}

/* The VM resv and its external objects, through prepare_vm/_objects. */
static void prepare_objects(struct fx_vm *fx, struct gpuvm_exec *exec)
{
	int ret;

	gpuvm_exec_init(exec, 0, 0);
	gpuvm_exec_until_all_locked(exec) {
		ret = gpuvm_prepare_vm(&fx->base, exec, 0);
		gpuvm_exec_retry_on_contention(exec);
		assert_int_equal(ret, 0);
		ret = gpuvm_prepare_objects(&fx->base, exec, 0);
		gpuvm_exec_retry_on_contention(exec);
		assert_int_equal(ret, 0);
	}
}

/* Take the @n warnings of @rule, the newest naming @func. */
static void take_warnings(unsigned int n, const char *rule, const char *func)
{
	assert_int_equal(harness_warnings(rule), n);
	if (!strstr(harness_last_warning(rule), func))
		fail_msg("warning '%s' does not name %s",
			 harness_last_warning(rule), func);
	assert_int_equal(harness_take_warnings(rule), n);
}

/* Exactly @n warnings, all of @rule, the newest naming @func. */
static void expect_warnings(unsigned int n, const char *rule, const char *func)
{
	assert_int_equal(harness_warnings(NULL), n);
	take_warnings(n, rule, func);
}

static void expect_no_warnings(void)
{
	if (harness_warnings(NULL))
		fail_msg("unexpected warning: %s", harness_last_warning(NULL));
}

/* ---- a world of VMs sharing objects, and its expected state ------------- */

/* What one vm_bo must look like. */
struct bo_exp {
	struct gpuvm_bo *bo; /* NULL: (VM, object) has no vm_bo */
	int kref;
	unsigned int vas;
	bool evicted;
	bool on_evict;
};

struct world {
	const struct fx_mode *m;
	unsigned int nr_vms;
	struct fx_vm *vm[MAX_VMS]; /* NULL: not created, or closed */
	struct gpuvm_gem_object *shared[NR_SHARED];
	struct gpuvm_gem_object *priv[MAX_VMS][NR_PRIV];
	struct bo_exp s[MAX_VMS][NR_SHARED];
	struct bo_exp p[MAX_VMS][NR_PRIV];
};

static void world_init(struct world *w, const struct fx_mode *m,
		       unsigned int nr_vms)
{
	unsigned int j;

	memset(w, 0, sizeof(*w));
	w->m = m;
	w->nr_vms = nr_vms;
	for (j = 0; j < NR_SHARED; j++)
		w->shared[j] = obj_new(NULL);
}

static struct bo_exp bo_exp_of(struct fx_vm *fx, struct gpuvm_gem_object *obj,
			       unsigned int vas)
{
	struct bo_exp e = { fx_vm_bo(fx, obj), (int)vas, vas, false, false };

	assert_non_null(e.bo);
	return e;
}

/*
 * VM @k maps S0 at 0, S1 at 1, its private objects at 2 and 3 (in
 * pages), and VM 0 maps S0 once more at 4, so its S0 vm_bo counts 2.
 */
static void world_add_vm(struct world *w, unsigned int k)
{
	struct fx_vm *fx = vm_new(w->m);
	unsigned int j;

	w->vm[k] = fx;
	fx->link = true;
	for (j = 0; j < NR_PRIV; j++)
		w->priv[k][j] = obj_new(gpuvm_resv(&fx->base));
	fx_va_insert(fx, 0 * SZ, SZ, w->shared[0], 0);
	fx_va_insert(fx, 1 * SZ, SZ, w->shared[1], 0);
	for (j = 0; j < NR_PRIV; j++)
		fx_va_insert(fx, (2 + j) * SZ, SZ, w->priv[k][j], 0);
	if (k == 0)
		fx_va_insert(fx, 4 * SZ, SZ, w->shared[0], SZ);
	w->s[k][0] = bo_exp_of(fx, w->shared[0], k == 0 ? 2 : 1);
	w->s[k][1] = bo_exp_of(fx, w->shared[1], 1);
	for (j = 0; j < NR_PRIV; j++)
		w->p[k][j] = bo_exp_of(fx, w->priv[k][j], 1);
	expect_no_warnings();
}

static void world_build(struct world *w, const struct fx_mode *m,
			unsigned int nr_vms)
{
	unsigned int k;

	world_init(w, m, nr_vms);
	for (k = 0; k < nr_vms; k++)
		world_add_vm(w, k);
}

/* S2 obtained (not mapped) in VM @k, the caller holding the reference. */
static void world_obtain_s2(struct world *w, unsigned int k)
{
	struct fx_vm *fx = w->vm[k];
	struct gpuvm_bo *vm_bo = fx_bo_obtain(fx, w->shared[2]);

	extobj_add_locked(fx, vm_bo);
	w->s[k][2] = (struct bo_exp){ vm_bo, 1, 0, false, false };
}

/* The model of gpuvm_bo_evict() on one vm_bo. */
static void model_evict(struct world *w, struct bo_exp *e, bool external,
			bool evict)
{
	if (!e->bo)
		return;
	e->evicted = evict;
	/* Protected lists need the VM resv: extobjs wait for prepare. */
	if (external && is_protected(w->m))
		return;
	e->on_evict = evict;
}

static void model_evict_shared(struct world *w, unsigned int j, bool evict)
{
	unsigned int k;

	for (k = 0; k < w->nr_vms; k++)
		if (w->vm[k])
			model_evict(w, &w->s[k][j], true, evict);
}

/* The model of prepare_objects in VM @k. */
static void model_prepare(struct world *w, unsigned int k)
{
	unsigned int j;

	if (!is_protected(w->m))
		return;
	for (j = 0; j < NR_SHARED; j++)
		if (w->s[k][j].bo && w->s[k][j].evicted)
			w->s[k][j].on_evict = true;
}

/* The model of validate in VM @k. Return: the expected callback calls. */
static unsigned int model_validate(struct world *w, unsigned int k)
{
	struct bo_exp *all[NR_SHARED + NR_PRIV];
	unsigned int j, calls = 0;

	for (j = 0; j < NR_SHARED; j++)
		all[j] = &w->s[k][j];
	for (j = 0; j < NR_PRIV; j++)
		all[NR_SHARED + j] = &w->p[k][j];
	for (j = 0; j < ARRAY_SIZE(all); j++) {
		if (!all[j]->bo || !all[j]->on_evict)
			continue;
		calls++;
		all[j]->evicted = false;
		all[j]->on_evict = false;
	}
	return calls;
}

static void check_bo(struct fx_vm *fx, const struct bo_exp *e,
		     struct gpuvm_gem_object *obj, bool external)
{
	struct gpuvm_bo *found;

	assert_ptr_equal(e->bo->vm, &fx->base);
	assert_ptr_equal(e->bo->obj, obj);
	assert_int_equal(fx_bo_kref(e->bo), e->kref);
	assert_int_equal(fx_list_count(&e->bo->list.gpuva), e->vas);
	assert_int_equal(e->bo->evicted, e->evicted);
	assert_int_equal(fx_bo_on_evict(e->bo), e->on_evict);
	assert_int_equal(fx_bo_on_extobj(e->bo), external);
	assert_true(fx_bo_on_gem_list(e->bo));
	assert_false(fx_bo_on_defer(e->bo));
	assert_int_equal(gpuvm_is_extobj(&fx->base, obj), external);
	/* The lookup agrees (and its reference goes again). */
	fx_gem_list_lock(fx, obj);
	found = gpuvm_bo_find(&fx->base, obj);
	fx_gem_list_unlock(fx, obj);
	assert_ptr_equal(found, e->bo);
	assert_false(gpuvm_bo_put(found));
}

static void check_no_bo(struct fx_vm *fx, struct gpuvm_gem_object *obj)
{
	struct gpuvm_bo *found;

	fx_gem_list_lock(fx, obj);
	found = gpuvm_bo_find(&fx->base, obj);
	fx_gem_list_unlock(fx, obj);
	assert_null(found);
}

/* Index of the live VM @vm in @w, or -1. */
static int world_vm_index(struct world *w, const struct gpuvm *vm)
{
	unsigned int k;

	for (k = 0; k < w->nr_vms; k++)
		if (w->vm[k] && &w->vm[k]->base == vm)
			return (int)k;
	return -1;
}

/*
 * Everything against the model: each vm_bo (count, VAs, flags, lists,
 * lookup), each VM's extobj list (exactly its external vm_bos, in the
 * order they were added) and evict list size, each VM's count (owner +
 * VAs + vm_bos), each object's vm_bo list (one per VM that has one) and
 * count (owner + vm_bos). No zombie may exist.
 */
static void world_check(struct world *w)
{
	struct gpuvm_list_head *pos;
	struct gpuvm_bo *vm_bo;
	unsigned int k, j, nr_bos, nr_ext, nr_evict, users;

	for (k = 0; k < w->nr_vms; k++) {
		struct fx_vm *fx = w->vm[k];
		struct gpuvm *vm;

		if (!fx)
			continue;
		vm = &fx->base;
		nr_bos = nr_ext = nr_evict = 0;
		for (j = 0; j < NR_SHARED; j++) {
			if (!w->s[k][j].bo) {
				check_no_bo(fx, w->shared[j]);
				continue;
			}
			check_bo(fx, &w->s[k][j], w->shared[j], true);
			nr_bos++;
			nr_ext++;
			nr_evict += w->s[k][j].on_evict;
		}
		for (j = 0; j < NR_PRIV; j++) {
			if (!w->p[k][j].bo)
				continue;
			check_bo(fx, &w->p[k][j], w->priv[k][j], false);
			nr_bos++;
			nr_evict += w->p[k][j].on_evict;
		}
		assert_int_equal(fx_list_count(&vm->extobj.list), nr_ext);
		/* In order of addition: S0, S1, S2. */
		pos = vm->extobj.list.next;
		for (j = 0; j < NR_SHARED; j++) {
			if (!w->s[k][j].bo)
				continue;
			assert_ptr_equal(pos,
					 &w->s[k][j].bo->list.entry.extobj);
			pos = pos->next;
		}
		assert_int_equal(fx_list_count(&vm->evict.list), nr_evict);
		assert_int_equal(fx_defer_count(vm), 0);
		assert_int_equal(fx_vm_kref(vm),
				 1 + (int)fx_va_count(fx) + (int)nr_bos);
		for (j = 0; j < NR_PRIV; j++)
			if (w->priv[k][j])
				assert_int_equal(gpuvm_gem_object_refcount(
							 w->priv[k][j]),
						 1 + (w->p[k][j].bo != NULL));
	}
	for (j = 0; j < NR_SHARED; j++) {
		struct gpuvm_gem_object *obj = w->shared[j];

		users = 0;
		for (k = 0; k < w->nr_vms; k++)
			users += w->vm[k] && w->s[k][j].bo;
		assert_int_equal(fx_list_count(&obj->gpuva.list), users);
		gpuvm_gem_for_each_gpuvm_bo(vm_bo, obj) {
			int i = world_vm_index(w, vm_bo->vm);

			if (i < 0)
				fail_msg("S%u lists a vm_bo of an unknown VM",
					 j);
			assert_ptr_equal(vm_bo, w->s[i][j].bo);
		}
		assert_int_equal(gpuvm_gem_object_refcount(obj),
				 1 + (int)users);
	}
	expect_no_warnings();
}

/*
 * Close VM @k the way a driver does: unmap everything (unlinks under the
 * mode's locks; deferred in immediate mode), run the deferred cleanup,
 * drop the private objects, then the VM (vm_free exactly once: checked by
 * fx_vm_destroy()). References the test holds must be gone already.
 */
static void world_close_vm(struct world *w, unsigned int k)
{
	struct fx_vm *fx = w->vm[k];
	unsigned int j;

	fx_clear(fx);
	if (is_immediate(w->m))
		gpuvm_bo_deferred_cleanup(&fx->base);
	for (j = 0; j < NR_SHARED; j++)
		assert_null(fx_vm_bo(fx, w->shared[j]));
	for (j = 0; j < NR_PRIV; j++) {
		if (w->priv[k][j])
			obj_put_last(w->priv[k][j]);
		w->priv[k][j] = NULL;
	}
	assert_int_equal(fx_vm_kref(&fx->base), 1);
	fx_vm_destroy(fx);
	w->vm[k] = NULL;
	memset(w->s[k], 0, sizeof(w->s[k]));
	memset(w->p[k], 0, sizeof(w->p[k]));
}

static void world_destroy(struct world *w)
{
	unsigned int k, j;

	for (k = 0; k < w->nr_vms; k++)
		if (w->vm[k])
			world_close_vm(w, k);
	for (j = 0; j < NR_SHARED; j++)
		obj_put_last(w->shared[j]);
	expect_no_warnings();
}

/* ---- 1. sharing --------------------------------------------------------- */

static void test_share(void **state)
{
	const struct fx_mode *m = mode_of(state);
	struct gpuvm_bo *vm_bo;
	unsigned int nr, k;

	for (nr = 2; nr <= 3; nr++) {
		struct world w;

		fx_context("%s: %u VMs", m->name, nr);
		world_build(&w, m, nr);
		world_check(&w);
		/* The model's numbers, spelled out once. */
		for (k = 0; k < nr; k++) {
			struct gpuvm *vm = &w.vm[k]->base;

			assert_int_equal(fx_bo_kref(w.s[k][0].bo),
					 k == 0 ? 2 : 1);
			assert_int_equal(fx_bo_kref(w.s[k][1].bo), 1);
			assert_int_equal(fx_list_count(&vm->extobj.list), 2);
			assert_true(gpuvm_list_empty(&vm->evict.list));
			/* Owner + VAs (5 or 4) + four vm_bos. */
			assert_int_equal(fx_vm_kref(vm), k == 0 ? 10 : 9);
			assert_int_equal(
				fx_list_count(&w.priv[k][0]->gpuva.list), 1);
			/* Another VM's private object is external here, and
			 * has no vm_bo of this VM. */
			assert_true(
				gpuvm_is_extobj(vm, w.priv[(k + 1) % nr][0]));
			check_no_bo(w.vm[k], w.priv[(k + 1) % nr][0]);
		}
		assert_int_equal(fx_list_count(&w.shared[0]->gpuva.list), nr);
		assert_int_equal(gpuvm_gem_object_refcount(w.shared[0]),
				 1 + nr);
		/* One vm_bo per VM, in the order the VMs obtained them. */
		k = 0;
		gpuvm_gem_for_each_gpuvm_bo(vm_bo, w.shared[1])
			assert_ptr_equal(vm_bo, w.s[k++][1].bo);
		assert_int_equal(k, nr);
		world_destroy(&w);
	}
	fx_context("%s", "");
}

/* ---- 2. gem_evict reaches every VM -------------------------------------- */

static void test_gem_evict_all_vms(void **state)
{
	const struct fx_mode *m = mode_of(state);
	struct gpuvm_vm_exec ve;
	struct gpuvm_exec exec;
	struct world w;
	unsigned int k;

	fx_context("%s: gem_evict", m->name);
	world_build(&w, m, 3);

	gem_evict_locked(w.shared[0], is_immediate(m), true);
	model_evict_shared(&w, 0, true);
	world_check(&w);
	for (k = 0; k < 3; k++) {
		assert_true(w.s[k][0].bo->evicted);
		assert_false(w.s[k][1].bo->evicted);
		assert_int_equal(fx_bo_on_evict(w.s[k][0].bo),
				 !is_protected(m));
	}

	/* A private object: its resv is VM 1's, on the list at once. */
	gem_evict_locked(w.priv[1][0], is_immediate(m), true);
	model_evict(&w, &w.p[1][0], false, true);
	world_check(&w);
	assert_true(fx_bo_on_evict(w.p[1][0].bo));
	assert_int_equal(fx_list_count(&w.vm[1]->base.evict.list),
			 is_protected(m) ? 1 : 2);

	/* Protected lists catch up per VM, when that VM locks its objects:
	 * prepare_objects in VM 0, gpuvm_vm_exec_lock in VM 1, not VM 2. */
	prepare_objects(w.vm[0], &exec);
	gpuvm_exec_fini(&exec);
	model_prepare(&w, 0);
	world_check(&w);
	assert_true(fx_bo_on_evict(w.s[0][0].bo));
	assert_int_equal(fx_bo_on_evict(w.s[1][0].bo), !is_protected(m));
	assert_int_equal(fx_bo_on_evict(w.s[2][0].bo), !is_protected(m));

	vm_exec_lock(w.vm[1], &ve);
	gpuvm_vm_exec_unlock(&ve);
	model_prepare(&w, 1);
	world_check(&w);
	assert_true(fx_bo_on_evict(w.s[1][0].bo));
	assert_int_equal(fx_bo_on_evict(w.s[2][0].bo), !is_protected(m));
	assert_int_equal(fx_list_count(&w.vm[1]->base.evict.list), 2);

	/* Back in: every flag clears; protected lists keep their entries
	 * until validate. */
	gem_evict_locked(w.shared[0], is_immediate(m), false);
	model_evict_shared(&w, 0, false);
	world_check(&w);
	for (k = 0; k < 3; k++) {
		assert_false(w.s[k][0].bo->evicted);
		assert_int_equal(fx_bo_on_evict(w.s[k][0].bo),
				 is_protected(m) && k < 2);
	}
	world_destroy(&w);
	fx_context("%s", "");
}

/* ---- 3. validate is per VM ---------------------------------------------- */

static void validate_vm(struct world *w, unsigned int k)
{
	struct gpuvm_vm_exec ve;
	unsigned int calls, i;

	vm_exec_lock(w->vm[k], &ve);
	model_prepare(w, k);
	memset(&val, 0, sizeof(val));
	assert_int_equal(gpuvm_vm_exec_validate(&ve), 0);
	gpuvm_vm_exec_unlock(&ve);
	calls = model_validate(w, k);
	assert_int_equal(val.calls, calls);
	assert_int_equal(val.unlocked, 0);
	for (i = 0; i < val.calls; i++)
		assert_ptr_equal(val.bo[i]->vm, &w->vm[k]->base);
	world_check(w);
}

static void test_validate_per_vm(void **state)
{
	const struct fx_mode *m = mode_of(state);
	struct world w;
	unsigned int k;

	fx_context("%s: validate per VM", m->name);
	world_build(&w, m, 3);
	gem_evict_locked(w.shared[0], is_immediate(m), true);
	model_evict_shared(&w, 0, true);
	gem_evict_locked(w.priv[0][0], is_immediate(m), true);
	model_evict(&w, &w.p[0][0], false, true);
	world_check(&w);

	validate_vm(&w, 0);
	/* The evict list in its order: S0 then the private object; with
	 * protected lists S0 came later, at the exec lock. */
	assert_int_equal(val.calls, 2);
	assert_ptr_equal(val.bo[0],
			 is_protected(m) ? w.p[0][0].bo : w.s[0][0].bo);
	assert_ptr_equal(val.bo[1],
			 is_protected(m) ? w.s[0][0].bo : w.p[0][0].bo);
	assert_true(gpuvm_list_empty(&w.vm[0]->base.evict.list));
	for (k = 1; k < 3; k++) {
		assert_true(w.s[k][0].bo->evicted);
		assert_int_equal(fx_bo_on_evict(w.s[k][0].bo),
				 !is_protected(m));
	}

	validate_vm(&w, 1);
	assert_int_equal(val.calls, 1);
	assert_ptr_equal(val.bo[0], w.s[1][0].bo);
	assert_false(w.s[1][0].bo->evicted);
	/* VM 2 stays evicted (and so goes to teardown). */
	assert_true(w.s[2][0].bo->evicted);
	assert_int_equal(fx_bo_on_evict(w.s[2][0].bo), !is_protected(m));
	world_destroy(&w);
	fx_context("%s", "");
}

/* ---- 4. closing one VM -------------------------------------------------- */

/* What closing another VM must not change. */
struct vm_snap {
	int kref;
	unsigned int vas, ext, evict;
	const struct gpuvm_list_head *ext_entry[8], *evict_entry[8];
};

static void snap_vm(struct fx_vm *fx, struct vm_snap *s)
{
	const struct gpuvm_list_head *pos;

	memset(s, 0, sizeof(*s));
	s->kref = fx_vm_kref(&fx->base);
	s->vas = fx_va_count(fx);
	for (pos = fx->base.extobj.list.next; pos != &fx->base.extobj.list;
	     pos = pos->next) {
		assert_true(s->ext < 8);
		s->ext_entry[s->ext++] = pos;
	}
	for (pos = fx->base.evict.list.next; pos != &fx->base.evict.list;
	     pos = pos->next) {
		assert_true(s->evict < 8);
		s->evict_entry[s->evict++] = pos;
	}
}

static void assert_snap_equal(const struct vm_snap *a, const struct vm_snap *b)
{
	assert_memory_equal(a, b, sizeof(*a));
}

static void test_close_one_vm(void **state)
{
	const struct fx_mode *m = mode_of(state);
	struct gpuvm_bo *zombie = NULL;
	struct gpuvm_vm_exec ve;
	struct vm_snap before[MAX_VMS], after;
	struct fx_vm *a;
	struct world w;
	unsigned int k, j, from;
	long live;

	/* VM 0 is "A" and comes last, so that closing it must bring the
	 * allocation count back to where it was before it existed. */
	fx_context("%s: close one VM", m->name);
	world_init(&w, m, 3);
	world_add_vm(&w, 1);
	world_add_vm(&w, 2);
	world_obtain_s2(&w, 1);
	world_obtain_s2(&w, 2);
	live = gpuvm_alloc_live();
	world_add_vm(&w, 0);
	world_obtain_s2(&w, 0);
	a = w.vm[0];

	/* S0 and S2 evicted everywhere, and A locked its objects once:
	 * A's protected evict list holds them, B's and C's do not. */
	gem_evict_locked(w.shared[0], is_immediate(m), true);
	model_evict_shared(&w, 0, true);
	gem_evict_locked(w.shared[2], is_immediate(m), true);
	model_evict_shared(&w, 2, true);
	vm_exec_lock(a, &ve);
	gpuvm_vm_exec_unlock(&ve);
	model_prepare(&w, 0);
	world_check(&w);
	assert_int_equal(fx_list_count(&a->base.extobj.list), 3);
	assert_int_equal(fx_list_count(&a->base.evict.list), 2);
	for (k = 1; k < 3; k++)
		snap_vm(w.vm[k], &before[k]);

	if (is_immediate(m)) {
		/* A's S2 becomes a zombie; protected lists keep it. */
		zombie = w.s[0][2].bo;
		assert_true(gpuvm_bo_put_deferred(zombie));
		assert_int_equal(fx_bo_kref(zombie), 0);
		assert_true(fx_bo_on_defer(zombie));
		assert_false(fx_bo_on_gem_list(zombie));
		assert_int_equal(fx_bo_on_extobj(zombie), is_protected(m));
		assert_int_equal(fx_bo_on_evict(zombie), is_protected(m));
		assert_int_equal(fx_list_count(&w.shared[2]->gpuva.list), 2);
		/* Still holding its VM and object. */
		assert_int_equal(gpuvm_gem_object_refcount(w.shared[2]), 4);
		w.s[0][2].bo = NULL;
	}

	/* Unmap everything of A under the mode's locks. */
	from = freed.n;
	fx_clear(a);
	assert_int_equal(fx_va_count(a), 0);
	if (!is_immediate(m)) {
		/* Every final put ran at its unlink; S2 is the test's. */
		assert_int_equal(frees_of(from, NULL), 4);
		assert_true(fx_bo_put_locked(a, w.s[0][2].bo));
	} else {
		/* Four more zombies, on protected lists until cleanup. */
		assert_int_equal(frees_of(from, NULL), 0);
		assert_int_equal(fx_defer_count(&a->base), 5);
		assert_int_equal(fx_list_count(&a->base.extobj.list),
				 is_protected(m) ? 3 : 0);
		assert_int_equal(fx_list_count(&a->base.evict.list),
				 is_protected(m) ? 2 : 0);
		assert_int_equal(fx_vm_kref(&a->base), 1 + 5);
		gpuvm_bo_deferred_cleanup(&a->base);
		assert_true(was_freed(from, zombie));
	}
	/* A's five vm_bos went, each once, and nothing of B's or C's. */
	assert_int_equal(freed.n - from, 5);
	assert_int_equal(frees_of(from, &a->base), 5);
	assert_true(was_freed(from, w.s[0][0].bo));
	assert_true(was_freed(from, w.p[0][1].bo));
	assert_true(gpuvm_list_empty(&a->base.extobj.list));
	assert_true(gpuvm_list_empty(&a->base.evict.list));
	assert_int_equal(fx_defer_count(&a->base), 0);
	assert_int_equal(fx_vm_kref(&a->base), 1);
	memset(w.s[0], 0, sizeof(w.s[0]));
	memset(w.p[0], 0, sizeof(w.p[0]));
	for (j = 0; j < NR_SHARED; j++) {
		assert_int_equal(fx_list_count(&w.shared[j]->gpuva.list), 2);
		assert_int_equal(gpuvm_gem_object_refcount(w.shared[j]), 3);
	}
	for (j = 0; j < NR_PRIV; j++) {
		obj_put_last(w.priv[0][j]);
		w.priv[0][j] = NULL;
	}
	fx_vm_destroy(a); /* asserts vm_free ran exactly once */
	w.vm[0] = NULL;
	assert_int_equal(gpuvm_alloc_live(), live);
	expect_no_warnings();

	/* B and C: as they were. */
	for (k = 1; k < 3; k++) {
		snap_vm(w.vm[k], &after);
		assert_snap_equal(&before[k], &after);
	}
	world_check(&w);

	/* A later eviction reaches B and C only. */
	gem_evict_locked(w.shared[1], is_immediate(m), true);
	model_evict_shared(&w, 1, true);
	world_check(&w);
	for (k = 1; k < 3; k++)
		assert_true(w.s[k][1].bo->evicted);

	for (k = 1; k < 3; k++) {
		assert_true(fx_bo_put_locked(w.vm[k], w.s[k][2].bo));
		w.s[k][2].bo = NULL;
	}
	world_destroy(&w);
	fx_context("%s", "");
}

/* ---- 5. lock and mode rules of obtain, put and unmap --------------------- */

/* Lock @o1 and @o2 (either may be NULL) in @exec. */
static void lock2(struct gpuvm_exec *exec, struct gpuvm_gem_object *o1,
		  struct gpuvm_gem_object *o2)
{
	struct gpuvm_gem_object *objs[2] = { o1, o2 };

	fx_exec_lock_objs(exec, objs, 2);
}

/* Unmap every VA of @vm_bo through gpuvm_bo_unmap_ops_create(), as a
 * driver's "unmap all of this object" does. Return: the ops built. */
static unsigned int unmap_all(struct fx_vm *fx, struct gpuvm_bo *vm_bo)
{
	struct gpuva_ops *ops = gpuvm_bo_unmap_ops_create(vm_bo);
	struct gpuva_op *op;
	unsigned int n = 0;

	assert_false(gpuvm_is_err_or_null(ops));
	gpuva_for_each_op(op, ops) {
		struct gpuva *va = op->unmap.va;

		assert_int_equal(op->op, GPUVA_OP_UNMAP);
		assert_ptr_equal(va->vm_bo, vm_bo);
		gpuva_unlink(va);
		gpuva_unmap(&op->unmap);
		fx_va_free(va);
		n++;
	}
	gpuva_ops_free(&fx->base, ops);
	return n;
}

/* Staged: the GEM list lock is the object's resv, whatever VM. */
static void lock_rules_staged(const struct fx_mode *m)
{
	struct fx_vm *a = vm_new(m), *b = vm_new(m);
	struct gpuvm_gem_object *x = obj_new(NULL), *y = obj_new(NULL);
	struct gpuvm_gem_object *a_resv = gpuvm_resv_obj(&a->base);
	/* With protected lists a final put also needs the VM resv. */
	struct gpuvm_gem_object *vm_lock = is_protected(m) ? a_resv : NULL;
	struct gpuvm_bo *xa, *xb, *again, *pre;
	struct gpuvm_exec exec;
	struct gpuva *va;
	unsigned int from;

	fx_context("%s: lock rules, locked", m->name);
	xb = fx_bo_obtain(b, x);
	extobj_add_locked(b, xb);
	lock2(&exec, x, NULL);
	xa = gpuvm_bo_obtain_locked(&a->base, x);
	again = gpuvm_bo_obtain_locked(&a->base, x);
	gpuvm_exec_fini(&exec);
	assert_false(gpuvm_is_err_or_null(xa));
	assert_ptr_equal(again, xa);
	assert_int_equal(fx_bo_kref(xa), 2);
	assert_false(gpuvm_bo_put(again)); /* not the last: no lock needed */
	assert_int_equal(fx_list_count(&x->gpuva.list), 2);
	extobj_add_locked(a, xa);
	va = fx_va_insert(a, 0, SZ, x, 0);
	fx_va_link_to(a, va, xa);
	assert_int_equal(fx_bo_kref(xa), 2);

	from = freed.n;
	lock2(&exec, x, vm_lock);
	assert_int_equal(unmap_all(a, xa), 1);
	assert_int_equal(fx_bo_kref(xa), 1);
	assert_true(gpuvm_bo_put(xa));
	gpuvm_exec_fini(&exec);
	assert_int_equal(frees_of(from, &a->base), 1);
	assert_true(gpuvm_list_empty(&a->base.extobj.list));
	expect_no_warnings();

	/* The same without x's resv: y's, or the VM's, does not count. */
	fx_context("%s: lock rules, without the object's resv", m->name);
	lock2(&exec, y, vm_lock);
	xa = gpuvm_bo_obtain_locked(&a->base, x);
	/* A new vm_bo: its lookup and its publication both need it. */
	expect_warnings(2, GPUVM_RULE_LOCK_NOT_HELD, "gpuvm_bo_obtain_locked");
	assert_false(gpuvm_is_err_or_null(xa));
	assert_int_equal(fx_bo_kref(xa), 1);
	assert_true(fx_bo_on_gem_list(xa));
	again = gpuvm_bo_obtain_locked(&a->base, x);
	expect_warnings(1, GPUVM_RULE_LOCK_NOT_HELD, "gpuvm_bo_find");
	assert_ptr_equal(again, xa);
	assert_int_equal(fx_bo_kref(xa), 2);
	assert_false(gpuvm_bo_put(again));
	expect_no_warnings();
	gpuvm_exec_fini(&exec);

	extobj_add_locked(a, xa);
	va = fx_va_insert(a, 0, SZ, x, 0);
	fx_va_link_to(a, va, xa);
	from = freed.n;
	lock2(&exec, y, vm_lock);
	{
		struct gpuva_ops *ops = gpuvm_bo_unmap_ops_create(xa);

		expect_warnings(1, GPUVM_RULE_LOCK_NOT_HELD,
				"gpuvm_bo_unmap_ops_create");
		assert_false(gpuvm_is_err_or_null(ops));
		assert_int_equal(fx_ops_count(ops), 1);
		gpuva_ops_free(&a->base, ops);
	}
	gpuva_unlink(va); /* not the last reference: one warning */
	expect_warnings(1, GPUVM_RULE_LOCK_NOT_HELD, "gpuva_unlink");
	gpuva_remove(va);
	fx_va_free(va);
	assert_int_equal(fx_bo_kref(xa), 1);
	assert_true(gpuvm_bo_put(xa));
	expect_warnings(1, GPUVM_RULE_LOCK_NOT_HELD, "gpuvm_bo_put");
	gpuvm_exec_fini(&exec);
	assert_int_equal(frees_of(from, &a->base), 1);
	assert_true(gpuvm_list_empty(&a->base.extobj.list));

	if (is_protected(m)) {
		/* The object's resv alone: the final put misses A's. */
		xa = fx_bo_obtain(a, x);
		extobj_add_locked(a, xa);
		from = freed.n;
		lock2(&exec, x, NULL);
		assert_true(gpuvm_bo_put(xa));
		gpuvm_exec_fini(&exec);
		expect_warnings(1, GPUVM_RULE_LOCK_NOT_HELD, "gpuvm_bo_put");
		assert_int_equal(frees_of(from, &a->base), 1);
		assert_true(gpuvm_list_empty(&a->base.extobj.list));
	}

	/* B's vm_bo saw none of it. */
	assert_int_equal(fx_bo_kref(xb), 1);
	assert_int_equal(fx_list_count(&x->gpuva.list), 1);
	assert_ptr_equal(x->gpuva.list.next, &xb->list.entry.gem);
	assert_true(fx_bo_on_extobj(xb));

	/* The immediate-mode calls in a staged VM are reported. */
	fx_context("%s: immediate-mode calls", m->name);
	gpuvm_bo_get(xb);
	assert_false(gpuvm_bo_put_deferred(xb));
	expect_warnings(1, GPUVM_RULE_MODE, "gpuvm_bo_put_deferred");
	assert_int_equal(fx_bo_kref(xb), 1);

	pre = gpuvm_bo_create(&a->base, x);
	assert_non_null(pre);
	fx_gem_list_lock(a, x);
	xa = gpuvm_bo_obtain_prealloc(pre);
	fx_gem_list_unlock(a, x);
	expect_warnings(1, GPUVM_RULE_MODE, "gpuvm_bo_obtain_prealloc");
	assert_ptr_equal(xa, pre);
	assert_int_equal(fx_list_count(&x->gpuva.list), 2);

	/* A duplicate prealloc in B: B's vm_bo back, the prealloc freed. */
	from = freed.n;
	pre = gpuvm_bo_create(&b->base, x);
	assert_non_null(pre);
	fx_gem_list_lock(b, x);
	again = gpuvm_bo_obtain_prealloc(pre);
	fx_gem_list_unlock(b, x);
	expect_warnings(1, GPUVM_RULE_MODE, "gpuvm_bo_obtain_prealloc");
	assert_ptr_equal(again, xb);
	assert_int_equal(fx_bo_kref(xb), 2);
	assert_int_equal(frees_of(from, &b->base), 1);
	assert_true(was_freed(from, pre));
	assert_false(gpuvm_bo_put(again));

	assert_true(fx_bo_put_locked(a, xa));
	assert_true(fx_bo_put_locked(b, xb));
	fx_vm_destroy(a);
	fx_vm_destroy(b);
	obj_put_last(x);
	obj_put_last(y);
	fx_context("%s", "");
}

/* Immediate: obtain_locked is the wrong call, and the resv is not the GEM
 * list lock. */
static void lock_rules_immediate(const struct fx_mode *m)
{
	struct fx_vm *a = vm_new(m), *b = vm_new(m);
	struct gpuvm_gem_object *x = obj_new(NULL);
	struct gpuvm_bo *xa, *xb, *again;

	fx_context("%s: obtain_locked", m->name);
	xb = fx_bo_obtain(b, x);
	gpuvm_gem_gpuva_lock(x);
	xa = gpuvm_bo_obtain_locked(&a->base, x);
	gpuvm_gem_gpuva_unlock(x);
	expect_warnings(1, GPUVM_RULE_MODE, "gpuvm_bo_obtain_locked");
	assert_false(gpuvm_is_err_or_null(xa));
	assert_int_equal(fx_bo_kref(xa), 1);
	assert_int_equal(fx_list_count(&x->gpuva.list), 2);
	assert_ptr_equal(x->gpuva.list.prev, &xa->list.entry.gem);

	/* Under the resv only: the mode, and the lookup's missing lock. */
	assert_int_equal(gpuvm_gem_object_lock(x, NULL), 0);
	again = gpuvm_bo_obtain_locked(&a->base, x);
	gpuvm_gem_object_unlock(x);
	assert_int_equal(harness_warnings(NULL), 2);
	take_warnings(1, GPUVM_RULE_LOCK_NOT_HELD, "gpuvm_bo_find");
	take_warnings(1, GPUVM_RULE_MODE, "gpuvm_bo_obtain_locked");
	assert_ptr_equal(again, xa);
	assert_int_equal(fx_bo_kref(xa), 2);
	assert_false(gpuvm_bo_put_deferred(again));

	assert_true(gpuvm_bo_put_deferred(xa));
	gpuvm_bo_deferred_cleanup(&a->base);
	assert_int_equal(fx_bo_kref(xb), 1);
	assert_true(fx_bo_put_locked(b, xb));
	fx_vm_destroy(a);
	fx_vm_destroy(b);
	obj_put_last(x);
	fx_context("%s", "");
}

static void test_lock_rules(void **state)
{
	const struct fx_mode *m = mode_of(state);

	if (is_immediate(m))
		lock_rules_immediate(m);
	else
		lock_rules_staged(m);
}

/* ---- 6. one object in an immediate-mode and a staged VM ------------------ */

static void test_mixed_modes(void **state)
{
	const struct fx_mode *m = mode_of(state);
	struct fx_mode other = { "other", m->flags ^ GPUVM_IMMEDIATE_MODE };
	const char *other_obtain = is_immediate(&other) ?
					   "gpuvm_bo_obtain_prealloc" :
					   "gpuvm_bo_obtain_locked";
	struct fx_vm *v1 = vm_new(m), *v2 = vm_new(m), *v3 = vm_new(&other);
	struct gpuvm_gem_object *x = obj_new(NULL);
	struct gpuvm_bo *b1, *b2, *b3;
	const char *msg;

	assert_string_equal(GPUVM_RULE_MODE_MIXED, "gpuvm-mixed-mode");
	fx_context("%s: mixed with %s", m->name,
		   is_immediate(&other) ? "immediate" : "staged");
	/* Two VMs of one mode share it quietly. */
	b1 = fx_bo_obtain(v1, x);
	b2 = fx_bo_obtain(v2, x);
	expect_no_warnings();

	/* A VM of the other mode would change the list under another
	 * lock: reported, and published all the same. */
	b3 = fx_bo_obtain(v3, x);
	assert_int_equal(harness_warnings(GPUVM_RULE_MODE_MIXED), 1);
	msg = harness_last_warning(GPUVM_RULE_MODE_MIXED);
	if (!strstr(msg, "immediate") || !strstr(msg, "staged"))
		fail_msg("mixed-mode warning names no modes: %s", msg);
	expect_warnings(1, GPUVM_RULE_MODE_MIXED, other_obtain);
	assert_int_equal(fx_list_count(&x->gpuva.list), 3);
	assert_ptr_equal(x->gpuva.list.prev, &b3->list.entry.gem);
	assert_int_equal(fx_bo_kref(b3), 1);

	/* Each VM drops its own under its own mode's locks. */
	assert_true(fx_bo_put_locked(v1, b1));
	assert_true(fx_bo_put_locked(v2, b2));
	assert_true(fx_bo_put_locked(v3, b3));
	assert_true(gpuvm_list_empty(&x->gpuva.list));
	expect_no_warnings();

	/* Not sticky: alone, the other mode is fine. */
	b3 = fx_bo_obtain(v3, x);
	expect_no_warnings();
	assert_true(fx_bo_put_locked(v3, b3));

	fx_vm_destroy(v1);
	fx_vm_destroy(v2);
	fx_vm_destroy(v3);
	obj_put_last(x);
	fx_context("%s", "");
}

/* ---- 7. allocation failures binding a shared object into more VMs ------- */

/* A lock-free picture of what a failed bind must leave as it was. */
struct world_snap {
	long live;
	int obj_refs;
	unsigned int nr_list;
	struct gpuvm_bo *list[MAX_VMS];
	int kref[MAX_VMS];
	bool evicted[MAX_VMS];
	struct vm_snap vm[MAX_VMS];
	unsigned int defer[MAX_VMS];
};

static void snap_world(struct world *w, struct gpuvm_gem_object *obj,
		       struct world_snap *s)
{
	struct gpuvm_bo *vm_bo;
	unsigned int k;

	memset(s, 0, sizeof(*s));
	s->live = gpuvm_alloc_live();
	s->obj_refs = gpuvm_gem_object_refcount(obj);
	gpuvm_gem_for_each_gpuvm_bo(vm_bo, obj) {
		assert_true(s->nr_list < MAX_VMS);
		s->kref[s->nr_list] = fx_bo_kref(vm_bo);
		s->evicted[s->nr_list] = vm_bo->evicted;
		s->list[s->nr_list++] = vm_bo;
	}
	for (k = 0; k < w->nr_vms; k++) {
		snap_vm(w->vm[k], &s->vm[k]);
		s->defer[k] = fx_defer_count(&w->vm[k]->base);
	}
}

struct bind_sweep {
	struct world *w;
	unsigned int k; /* the VM to bind into */
	struct gpuvm_gem_object *obj;
	struct world_snap before;
	unsigned int failures;
};

/* Give back a vm_bo whose bind failed: it is the last reference. */
static void bind_undo(struct fx_vm *fx, struct gpuvm_bo *vm_bo)
{
	if (gpuvm_immediate_mode(&fx->base)) {
		assert_true(gpuvm_bo_put_deferred(vm_bo));
		gpuvm_bo_deferred_cleanup(&fx->base);
	} else {
		/* The caller holds the object's and the VM's resv. */
		assert_true(gpuvm_bo_put(vm_bo));
	}
}

/*
 * A driver's bind of the object at page 0: obtain, insert the VA, put it
 * on the extobj list and link it. Every failure is undone.
 */
static int bind_op(void *arg)
{
	struct bind_sweep *s = arg;
	struct fx_vm *fx = s->w->vm[s->k];
	struct gpuvm *vm = &fx->base;
	struct gpuvm_bo *vm_bo;
	struct gpuva *va;
	int ret;

	if (gpuvm_immediate_mode(vm)) {
		vm_bo = gpuvm_bo_create(vm, s->obj);
		if (!vm_bo)
			return -ENOMEM;
		vm_bo = gpuvm_bo_obtain_prealloc(vm_bo);
	} else {
		vm_bo = gpuvm_bo_obtain_locked(vm, s->obj);
		if (gpuvm_is_err(vm_bo))
			return (int)gpuvm_ptr_err(vm_bo);
	}
	va = fx_va_new(0, SZ, s->obj, 0);
	ret = gpuva_insert(vm, va);
	if (ret) {
		fx_va_free(va);
		bind_undo(fx, vm_bo);
		return ret;
	}
	if (gpuvm_immediate_mode(vm)) {
		extobj_add_locked(fx, vm_bo);
		gpuvm_gem_gpuva_lock(s->obj);
		gpuva_link(va, vm_bo);
		gpuvm_gem_gpuva_unlock(s->obj);
		assert_false(gpuvm_bo_put_deferred(vm_bo));
	} else {
		gpuvm_bo_extobj_add(vm_bo);
		gpuva_link(va, vm_bo);
		assert_false(gpuvm_bo_put(vm_bo));
	}
	return 0;
}

static void bind_check(void *arg, unsigned long n, int ret)
{
	struct bind_sweep *s = arg;
	struct world_snap now;

	assert_int_equal(ret, -ENOMEM);
	snap_world(s->w, s->obj, &now);
	assert_memory_equal(&now, &s->before, sizeof(now));
	expect_no_warnings();
	s->failures++;
}

static void test_bind_fault_sweep(void **state)
{
	const struct fx_mode *m = mode_of(state);
	struct world w;
	unsigned int k;

	/* VM 0 maps S0; VMs 1 and 2 are empty, so inserting their first
	 * VA allocates a node of the VA index. */
	world_init(&w, m, 3);
	world_add_vm(&w, 0);
	for (k = 1; k < 3; k++)
		w.vm[k] = vm_new(m);
	world_check(&w);

	for (k = 1; k < 3; k++) {
		struct bind_sweep s = { &w, k, w.shared[0] };
		struct fx_vm *fx = w.vm[k];
		int ret;

		fx_context("%s: bind S0 into VM %u", m->name, k);
		if (!is_immediate(m))
			fx_gem_list_lock(fx, s.obj); /* with the VM resv */
		snap_world(&w, s.obj, &s.before);
		assert_int_equal(s.before.nr_list, k);
		ret = gpuvm_alloc_fault_sweep(bind_op, bind_check, &s, 0);
		if (!is_immediate(m))
			fx_gem_list_unlock(fx, s.obj);
		/* Two allocations: the vm_bo and the index node. */
		assert_int_equal(ret, 2);
		assert_int_equal(s.failures, 2);
		w.s[k][0] = bo_exp_of(fx, s.obj, 1);
		world_check(&w);
		assert_int_equal(fx_list_count(&s.obj->gpuva.list), k + 1);
		assert_ptr_equal(s.obj->gpuva.list.prev,
				 &w.s[k][0].bo->list.entry.gem);
	}
	world_destroy(&w);
	fx_context("%s", "");
}

/* ---- the table ---------------------------------------------------------- */

/* One case per mode, named "<case>/<mode>". */
#define MODE_CASE(fn, i)                                                      \
	{                                                                     \
		.name = #fn "/" MODE_NAME_##i, .test_func = fn,               \
		.setup_func = harness_setup, .teardown_func = multi_teardown, \
		.initial_state = &mode_ids[i]                                 \
	}
#define MODE_NAME_0 "staged"
#define MODE_NAME_1 "staged+resv-protected"
#define MODE_NAME_2 "immediate"
#define MODE_NAME_3 "immediate+resv-protected"
#define PER_MODE(fn) \
	MODE_CASE(fn, 0), MODE_CASE(fn, 1), MODE_CASE(fn, 2), MODE_CASE(fn, 3)

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		PER_MODE(test_share),
		PER_MODE(test_gem_evict_all_vms),
		PER_MODE(test_validate_per_vm),
		PER_MODE(test_close_one_vm),
		PER_MODE(test_lock_rules),
		PER_MODE(test_mixed_modes),
		PER_MODE(test_bind_fault_sweep),
	};

	return harness_run("gpuvm/vm_multi", tests, argc, argv);
}
