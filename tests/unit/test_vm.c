// SPDX-License-Identifier: MIT
/*
 * The VM contract: gpuvm_init() and its warnings, the reference count and
 * the teardown sequence (r_obj put before vm_free, vm_free exactly once),
 * the emptiness warnings of the final put (each structure made non-empty
 * on purpose through reference-count misuse), the missing vm_free,
 * gpuvm_resv_object_alloc(), the range checks with an offset window,
 * the resv accessors and gpuvm_is_extobj(); then the VA side in every
 * locking mode: insert/remove and link/unlink reference counts, the
 * link and unlink_defer rules, and the vm_bo/GEM iterators; and the
 * allocation-failure sweeps of gpuvm_resv_object_alloc(), gpuvm_init()'s
 * kernel node and gpuva_insert() (with and without gpuvm_va_reserve()).
 *
 * The split/merge walk and the plain VA-space queries are covered by
 * test_sm.c and test_va_index.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/testing.h>
#include "gpuvm_fixture.h"
#include "harness.h"

#define U64_MAX UINT64_MAX

/* ---- a bare test driver ------------------------------------------------ */

/*
 * What happened during a teardown, in order: an object's tag when it is
 * freed, 'V' for vm_free.
 */
static char events[64];
static unsigned int nr_events;

static void event(char c)
{
	/* Only the teardowns a test looks at are recorded; reset before. */
	if (nr_events + 1 >= sizeof(events))
		return;
	events[nr_events++] = c;
	events[nr_events] = '\0';
}

static void events_reset(void)
{
	nr_events = 0;
	events[0] = '\0';
}

struct tobj {
	struct gpuvm_gem_object base;
	char tag;
};

static void tobj_free(struct gpuvm_gem_object *obj)
{
	struct tobj *o = gpuvm_container_of(obj, struct tobj, base);

	event(o->tag);
	free(o);
}

static const struct gpuvm_gem_object_funcs tobj_funcs = { .free = tobj_free };

/* A GEM with its own resv (@shared NULL) or sharing @shared. */
static struct gpuvm_gem_object *tobj_new(char tag,
					 struct gpuvm_dma_resv *shared)
{
	struct tobj *o = calloc(1, sizeof(*o));

	assert_non_null(o);
	o->tag = tag;
	gpuvm_gem_object_init_shared_resv(&o->base, &tobj_funcs, 4096, shared);
	return &o->base;
}

struct tvm {
	struct gpuvm base;
	struct gpuvm_ops ops;
	unsigned int vm_free_calls;
	/* What vm_free saw. */
	const char *name_at_free;
	bool knode_listed_at_free;
};

static void tvm_free(struct gpuvm *gpuvm)
{
	struct tvm *t = gpuvm_container_of(gpuvm, struct tvm, base);

	t->vm_free_calls++;
	t->name_at_free = gpuvm->name;
	t->knode_listed_at_free =
		gpuvm->kernel_alloc_node.va.range &&
		gpuva_find_first(gpuvm, gpuvm->kernel_alloc_node.va.addr,
				 gpuvm->kernel_alloc_node.va.range) ==
			&gpuvm->kernel_alloc_node;
	event('V');
}

/*
 * A zero-filled VM over a fresh r_obj (tag 'R') the VM owns alone, as
 * drivers do it.
 */
static struct tvm *tvm_new(const char *name, enum gpuvm_flags flags,
			   uint64_t start, uint64_t range, uint64_t kstart,
			   uint64_t krange)
{
	struct tvm *t = calloc(1, sizeof(*t));
	struct gpuvm_gem_object *r_obj = tobj_new('R', NULL);

	assert_non_null(t);
	t->ops.vm_free = tvm_free;
	gpuvm_init(&t->base, name, flags, r_obj, start, range, kstart, krange,
		   &t->ops);
	assert_int_equal(gpuvm_gem_object_refcount(r_obj), 2);
	gpuvm_gem_object_put(r_obj);
	return t;
}

/* Drop the owner reference: the VM must go, r_obj first. */
static void tvm_destroy(struct tvm *t)
{
	events_reset();
	assert_int_equal(fx_vm_kref(&t->base), 1);
	gpuvm_put(&t->base);
	assert_int_equal(t->vm_free_calls, 1);
	assert_string_equal(events, "RV");
	assert_null(t->name_at_free);
	assert_false(t->knode_listed_at_free);
	free(t);
}

/* ---- gpuvm_init --------------------------------------------------------- */

static void test_init_fields(void **state)
{
	unsigned int i;

	for (i = 0; i < FX_NR_MODES; i++) {
		enum gpuvm_flags flags = fx_modes[i].flags | GPUVM_USERBITS;
		struct tvm *t = calloc(1, sizeof(*t));
		struct gpuvm_gem_object *r_obj = tobj_new('R', NULL);
		struct gpuvm *vm = &t->base;

		t->ops.vm_free = tvm_free;
		gpuvm_init(vm, NULL, flags, r_obj, 0x1000, 0x10000, 0, 0,
			   &t->ops);
		assert_string_equal(vm->name, "unknown");
		assert_int_equal(vm->flags, flags);
		assert_int_equal(gpuvm_resv_protected(vm),
				 !!(flags & GPUVM_RESV_PROTECTED));
		assert_int_equal(gpuvm_immediate_mode(vm),
				 !!(flags & GPUVM_IMMEDIATE_MODE));
		assert_ptr_equal(vm->ops, &t->ops);
		assert_ptr_equal(vm->r_obj, r_obj);
		assert_int_equal(gpuvm_gem_object_refcount(r_obj), 2);
		assert_int_equal(vm->mm_start, 0x1000);
		assert_int_equal(vm->mm_range, 0x10000);
		assert_int_equal(fx_vm_kref(vm), 1);
		assert_null(gpuvm_va_first__(vm));
		assert_true(gpuvm_list_empty(&vm->extobj.list));
		assert_true(gpuvm_list_empty(&vm->evict.list));
		assert_null(vm->extobj.local_list);
		assert_null(vm->evict.local_list);
		assert_null(vm->bo_defer.first);
		/* No kernel node: nothing in the VA space. */
		assert_int_equal(vm->kernel_alloc_node.va.range, 0);
		assert_null(gpuvm_va_first__(vm));
		assert_null(gpuva_find_first(vm, 0, U64_MAX));
		assert_true(gpuvm_interval_empty(vm, 0, U64_MAX));

		/* The VM owns r_obj from here on. */
		gpuvm_gem_object_put(r_obj);
		assert_int_equal(gpuvm_gem_object_refcount(r_obj), 1);
		tvm_destroy(t);
	}
}

static void test_init_kernel_node(void **state)
{
	struct tvm *t = tvm_new("knode", 0, 0, 1000, 900, 100);
	struct gpuvm *vm = &t->base;
	struct gpuva *node = &vm->kernel_alloc_node, *va;
	unsigned int n = 0;

	assert_string_equal(vm->name, "knode");
	assert_ptr_equal(gpuva_find(vm, 900, 100), node);
	assert_ptr_equal(node->vm, vm);
	assert_null(node->gem.obj);
	assert_null(node->vm_bo);
	assert_int_equal(fx_vm_kref(vm), 1); /* the node holds no reference */
	gpuvm_for_each_va(va, vm) {
		assert_ptr_equal(va, node);
		n++;
	}
	assert_int_equal(n, 1);
	assert_false(gpuvm_range_valid(vm, 950, 1));
	assert_false(gpuvm_interval_empty(vm, 899, 2));

	/* Refused, and nothing changes. */
	gpuva_remove(node);
	assert_int_equal(harness_warnings(NULL), 1);
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_KERNEL_NODE),
			       "gpuva_remove"));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_KERNEL_NODE), 1);
	assert_ptr_equal(gpuva_find(vm, 900, 100), node);
	assert_int_equal(fx_vm_kref(vm), 1);
	tvm_destroy(t); /* fini takes it out; no emptiness warning */

	/* Not checked against the window: inserted all the same. */
	t = tvm_new("outside", 0, 0, 1000, 2000, 100);
	assert_ptr_equal(gpuva_find(&t->base, 2000, 100),
			 &t->base.kernel_alloc_node);
	tvm_destroy(t);
}

static void test_init_overflow_warnings(void **state)
{
	struct tvm *t;

	/* A window whose end overflows: reported, stored all the same. */
	t = tvm_new("wrap", 0, U64_MAX - 9, 20, 0, 0);
	assert_int_equal(harness_warnings(NULL), 1);
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_VM_BAD_RANGE),
			       "gpuvm_init"));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_VM_BAD_RANGE), 1);
	assert_int_equal(t->base.mm_start, U64_MAX - 9);
	assert_int_equal(t->base.mm_range, 20);
	tvm_destroy(t);

	/* An overflowing reserved region: reported and not inserted, but
	 * its bounds are kept. Teardown does not try to remove it. */
	t = tvm_new("kwrap", 0, 0, 1000, U64_MAX - 4, 10);
	assert_int_equal(harness_warnings(NULL), 1);
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_VM_BAD_RANGE),
			       "not inserted"));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_VM_BAD_RANGE), 1);
	assert_int_equal(t->base.kernel_alloc_node.va.addr, U64_MAX - 4);
	assert_int_equal(t->base.kernel_alloc_node.va.range, 10);
	assert_null(gpuvm_va_first__(&t->base));
	assert_true(gpuvm_interval_empty(&t->base, 0, U64_MAX));
	tvm_destroy(t);

	/* Both at once: two reports. */
	t = tvm_new("both", 0, 10, U64_MAX, U64_MAX, 2);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_VM_BAD_RANGE), 2);
	assert_null(gpuvm_va_first__(&t->base));
	tvm_destroy(t);

	/* The largest window that does not overflow is fine. */
	t = tvm_new("full", 0, 0, U64_MAX, 0, 0);
	assert_int_equal(harness_warnings(NULL), 0);
	tvm_destroy(t);
}

/*
 * Indexing the kernel node may need memory (a deviation: the kernel's
 * tree needs none). gpuvm_init() cannot fail, so it reports and leaves
 * the node out of the VA space; the range checks still honour it.
 */
static void test_init_kernel_node_enomem(void **state)
{
	unsigned int n, failures = 0;

	for (n = 1;; n++) {
		struct tvm *t = calloc(1, sizeof(*t));
		struct gpuvm_gem_object *r_obj = tobj_new('R', NULL);
		bool fired;

		t->ops.vm_free = tvm_free;
		gpuvm_alloc_fail_nth(n);
		gpuvm_init(&t->base, "enomem", 0, r_obj, 0, 1000, 900, 100,
			   &t->ops);
		fired = gpuvm_alloc_fault_fired();
		gpuvm_alloc_fail_nth(0);
		gpuvm_gem_object_put(r_obj);
		if (fired) {
			failures++;
			assert_int_equal(
				harness_take_warnings(GPUVM_RULE_VM_INIT_NOMEM),
				1);
			assert_null(gpuvm_va_first__(&t->base));
			assert_false(gpuvm_range_valid(&t->base, 950, 1));
		} else {
			assert_int_equal(harness_warnings(NULL), 0);
			assert_ptr_equal(gpuva_find(&t->base, 900, 100),
					 &t->base.kernel_alloc_node);
		}
		tvm_destroy(t);
		if (!fired)
			break;
	}
	assert_int_equal(failures, 1);
}

/* ---- references and teardown ------------------------------------------- */

static void test_get_put(void **state)
{
	struct tvm *t = tvm_new("refs", 0, 0, 100, 0, 0);
	struct gpuvm *vm = &t->base;

	assert_ptr_equal(gpuvm_get(vm), vm);
	assert_ptr_equal(gpuvm_get(vm), vm);
	assert_int_equal(fx_vm_kref(vm), 3);
	gpuvm_put(vm);
	gpuvm_put(vm);
	assert_int_equal(t->vm_free_calls, 0);
	gpuvm_put(NULL); /* ignored */
	assert_int_equal(fx_vm_kref(vm), 1);
	tvm_destroy(t); /* checks vm_free ran once, after the r_obj put */
}

/* A VA holds the VM: the VM goes only with the last VA's removal. */
static void test_va_keeps_vm_alive(void **state)
{
	struct tvm *t = tvm_new("va", 0, 0, 100, 0, 0);
	struct gpuva *va = fx_va_new(0, 10, NULL, 0);

	assert_int_equal(gpuva_insert(&t->base, va), 0);
	gpuvm_put(&t->base); /* the owner leaves */
	assert_int_equal(t->vm_free_calls, 0);
	assert_int_equal(fx_vm_kref(&t->base), 1);
	events_reset();
	gpuva_remove(va); /* the last reference */
	assert_int_equal(t->vm_free_calls, 1);
	assert_string_equal(events, "RV");
	assert_int_equal(harness_warnings(NULL), 0);
	fx_va_free(va);
	free(t);
}

/* Drop every VM reference, knowing something still points at the VM. */
static void put_all(struct tvm *t, int refs)
{
	assert_int_equal(fx_vm_kref(&t->base), refs);
	events_reset();
	while (refs--)
		gpuvm_put(&t->base);
	assert_int_equal(t->vm_free_calls, 1);
	assert_string_equal(events, "RV");
}

static void expect_not_empty(const char *what)
{
	assert_int_equal(harness_warnings(NULL), 1);
	assert_non_null(
		strstr(harness_last_warning(GPUVM_RULE_VM_NOT_EMPTY), what));
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_VM_NOT_EMPTY),
			       "gpuvm_put"));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_VM_NOT_EMPTY), 1);
}

static void test_final_put_with_va(void **state)
{
	struct tvm *t = tvm_new("leaky", 0, 0, 100, 90, 10);
	struct gpuva *va = fx_va_new(0, 10, NULL, 0);

	assert_int_equal(gpuva_insert(&t->base, va), 0);
	/* Misuse: the VA's reference is dropped behind its back. */
	put_all(t, 2);
	expect_not_empty("VAs still mapped");
	fx_va_free(va);
	free(t);
}

static void test_final_put_with_extobj(void **state)
{
	struct tvm *t = tvm_new("leaky", 0, 0, 100, 0, 0);
	struct gpuvm_gem_object *ext = tobj_new('E', NULL);
	struct gpuvm_bo *vm_bo = gpuvm_bo_create(&t->base, ext);

	assert_non_null(vm_bo);
	gpuvm_bo_extobj_add(vm_bo); /* internal list lock */
	assert_true(fx_bo_on_extobj(vm_bo));
	put_all(t, 2); /* the vm_bo's reference too */
	expect_not_empty("extobj");
	/* Dispose of the orphan by hand. */
	gpuvm_kfree(vm_bo);
	assert_int_equal(gpuvm_gem_object_refcount(ext), 2);
	gpuvm_gem_object_put(ext);
	gpuvm_gem_object_put(ext);
	free(t);
}

static void test_final_put_with_evicted(void **state)
{
	struct tvm *t = tvm_new("leaky", 0, 0, 100, 0, 0);
	struct gpuvm_gem_object *priv = tobj_new('P', gpuvm_resv(&t->base));
	struct gpuvm_bo *vm_bo = gpuvm_bo_create(&t->base, priv);

	assert_non_null(vm_bo);
	assert_int_equal(gpuvm_gem_object_lock(priv, NULL), 0);
	gpuvm_bo_evict(vm_bo, true);
	gpuvm_gem_object_unlock(priv);
	assert_true(fx_bo_on_evict(vm_bo));
	assert_false(fx_bo_on_extobj(vm_bo)); /* private */
	put_all(t, 2);
	expect_not_empty("evict");
	gpuvm_kfree(vm_bo);
	gpuvm_gem_object_put(priv);
	gpuvm_gem_object_put(priv);
	free(t);
}

static void test_final_put_with_zombie(void **state)
{
	struct tvm *t = tvm_new("leaky", GPUVM_IMMEDIATE_MODE, 0, 100, 0, 0);
	struct gpuvm_gem_object *ext = tobj_new('E', NULL);
	struct gpuvm_bo *vm_bo;

	vm_bo = gpuvm_bo_obtain_prealloc(gpuvm_bo_create(&t->base, ext));
	assert_true(gpuvm_bo_put_deferred(vm_bo));
	assert_true(fx_bo_on_defer(vm_bo));
	/* Misuse: no deferred cleanup, the zombie's reference is dropped. */
	put_all(t, 2);
	expect_not_empty("deferred cleanup");
	gpuvm_kfree(vm_bo);
	gpuvm_gem_object_put(ext);
	gpuvm_gem_object_put(ext);
	free(t);
}

static void test_missing_vm_free(void **state)
{
	struct tvm *t = tvm_new("nofree", 0, 0, 100, 50, 10);

	t->ops.vm_free = NULL;
	events_reset();
	gpuvm_put(&t->base);
	/* The library's own teardown ran (r_obj went), the memory is
	 * leaked to the driver. */
	assert_string_equal(events, "R");
	assert_int_equal(harness_warnings(NULL), 1);
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_VM_NO_FREE),
			       "gpuvm_put"));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_VM_NO_FREE), 1);
	assert_null(t->base.name);
	free(t);

	/* No ops at all. */
	t = calloc(1, sizeof(*t));
	gpuvm_init(&t->base, "noops", 0, tobj_new('R', NULL), 0, 100, 0, 0,
		   NULL);
	gpuvm_gem_object_put(t->base.r_obj);
	events_reset();
	gpuvm_put(&t->base);
	assert_string_equal(events, "R");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_VM_NO_FREE), 1);
	free(t);
}

/* ---- resv object, range checks, accessors ------------------------------ */

static void test_resv_object_alloc(void **state)
{
	long live = gpuvm_alloc_live();
	struct gpuvm_gem_object *obj = gpuvm_resv_object_alloc();

	assert_non_null(obj);
	assert_int_equal(gpuvm_gem_object_refcount(obj), 1);
	assert_ptr_equal(obj->resv, &obj->_resv);
	assert_int_equal(obj->size, 0);
	assert_true(gpuvm_list_empty(&obj->gpuva.list));
	assert_int_equal(gpuvm_gem_object_lock(obj, NULL), 0);
	gpuvm_gem_object_unlock(obj);
	gpuvm_gem_object_put(obj); /* frees it */
	assert_int_equal(gpuvm_alloc_live(), live);
}

static int resv_alloc_op(void *arg)
{
	struct gpuvm_gem_object *obj = gpuvm_resv_object_alloc();

	if (!obj)
		return -ENOMEM;
	gpuvm_gem_object_put(obj);
	return 0;
}

static void resv_alloc_check(void *arg, unsigned long n, int ret)
{
	assert_int_equal(ret, -ENOMEM);
	assert_int_equal(gpuvm_alloc_live(), *(long *)arg);
}

static void test_resv_object_alloc_fault(void **state)
{
	long live = gpuvm_alloc_live();

	assert_int_equal(gpuvm_alloc_fault_sweep(resv_alloc_op,
						 resv_alloc_check, &live, 0),
			 1);
	assert_int_equal(gpuvm_alloc_live(), live);
}

/* A window not starting at 0, with a kernel node across its end. */
static void test_range_checks_offset_window(void **state)
{
	struct fx_vm *fx = fx_vm_create(0, 100, 1000, 1050, 100);
	struct gpuvm *vm = &fx->base;

	assert_true(gpuvm_range_valid(vm, 100, 950));
	assert_false(gpuvm_range_valid(vm, 99, 1)); /* below the window */
	assert_false(gpuvm_range_valid(vm, 1040, 11)); /* into the node */
	assert_true(gpuvm_range_valid(vm, 1040, 10));
	assert_true(gpuvm_range_valid(vm, 1050, 0)); /* at the node's start */
	assert_false(gpuvm_range_valid(vm, 1051, 0)); /* inside it */
	assert_false(gpuvm_range_valid(vm, 1100, 1)); /* past the window */
	assert_false(gpuvm_range_valid(vm, U64_MAX, 2)); /* wraps */

	assert_true(gpuvm_interval_empty(vm, 100, 950));
	/* The node counts, inside the window or not; no validation. */
	assert_false(gpuvm_interval_empty(vm, 1149, 1));
	assert_true(gpuvm_interval_empty(vm, 1150, 1000));
	fx_va_insert(fx, 200, 10, NULL, 0);
	assert_false(gpuvm_interval_empty(vm, 209, 1));
	assert_true(gpuvm_interval_empty(vm, 210, 840));
	fx_vm_destroy(fx);
}

static void test_resv_accessors(void **state)
{
	unsigned int i;

	for (i = 0; i < FX_NR_MODES; i++) {
		struct fx_vm *fx =
			fx_vm_create(fx_modes[i].flags, 0, 100, 0, 0);
		struct gpuvm *vm = &fx->base;

		fx_context("%s", fx_modes[i].name);
		assert_ptr_equal(gpuvm_resv_obj(vm), vm->r_obj);
		assert_ptr_equal(gpuvm_resv(vm), vm->r_obj->resv);
		assert_ptr_equal(fx_obj(fx, 'a')->resv, gpuvm_resv(vm));
		assert_false(gpuvm_resv_held(vm));
		gpuvm_resv_assert_held(vm);
		assert_int_equal(harness_warnings(NULL), 1);
		assert_non_null(
			strstr(harness_last_warning(GPUVM_RULE_LOCK_NOT_HELD),
			       "test_resv_accessors"));
		assert_int_equal(
			harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD), 1);

		fx_vm_resv_lock(fx);
		assert_true(gpuvm_resv_held(vm));
		gpuvm_resv_assert_held(vm);
		/* A private object's resv is the same lock. */
		assert_true(gpuvm_dma_resv_held(fx_obj(fx, 'a')->resv));
		fx_vm_resv_unlock(fx);
		assert_false(gpuvm_resv_held(vm));
		assert_int_equal(harness_warnings(NULL), 0);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

static void test_is_extobj(void **state)
{
	struct fx_vm *fx = fx_vm_create(0, 0, 100, 0, 0);
	struct gpuvm *vm = &fx->base;
	struct gpuvm_gem_object *ext = fx_obj(fx, 'A');
	struct gpuvm_gem_object *same_resv, *own;

	assert_false(gpuvm_is_extobj(vm, fx_obj(fx, 'a')));
	assert_true(gpuvm_is_extobj(vm, ext));
	assert_false(gpuvm_is_extobj(vm, NULL));
	assert_false(gpuvm_is_extobj(vm, vm->r_obj));
	/* Resv pointers are compared, not objects. */
	same_resv = tobj_new('S', ext->resv);
	assert_true(gpuvm_is_extobj(vm, same_resv));
	own = tobj_new('O', gpuvm_resv(vm));
	assert_false(gpuvm_is_extobj(vm, own));
	gpuvm_gem_object_put(same_resv);
	gpuvm_gem_object_put(own);
	fx_vm_destroy(fx);
}

/* ---- VAs in every mode --------------------------------------------------- */

static void mode_context(unsigned int i, const char *what)
{
	fx_context("%s: %s", fx_modes[i].name, what);
}

/*
 * Insert/remove move the VM count; link/unlink move the vm_bo count;
 * a VA without an object is never linked; a mismatching object is
 * reported and linked anyway. Locks per mode: the GEM list lock (the
 * object's resv, staged; its gpuva mutex, immediate) for link and
 * unlink, plus the VM resv for a final put with GPUVM_RESV_PROTECTED.
 */
static void test_link_refcounts_all_modes(void **state)
{
	unsigned int i;

	for (i = 0; i < FX_NR_MODES; i++) {
		struct fx_vm *fx =
			fx_vm_create(fx_modes[i].flags, 0, 1024, 1000, 24);
		struct gpuvm *vm = &fx->base;
		bool immediate = gpuvm_immediate_mode(vm);
		struct gpuvm_gem_object *a = fx_obj(fx, 'a');
		struct gpuvm_gem_object *b = fx_obj(fx, 'B');
		struct gpuva *va1, *va2, *sparse, *vb, *va;
		struct gpuvm_bo *vm_bo;
		int objrefs = gpuvm_gem_object_refcount(a);
		unsigned int n;

		mode_context(i, "insert");
		va1 = fx_va_insert(fx, 0, 4, a, 0);
		va2 = fx_va_insert(fx, 8, 4, a, 8);
		sparse = fx_va_insert(fx, 16, 4, NULL, 0);
		vb = fx_va_insert(fx, 20, 4, b, 0);
		assert_int_equal(fx_vm_kref(vm), 5);
		/* A VA takes no GEM reference. */
		assert_int_equal(gpuvm_gem_object_refcount(a), objrefs);

		mode_context(i, "link");
		vm_bo = fx_bo_obtain(fx, a);
		assert_int_equal(fx_vm_kref(vm), 6);
		assert_int_equal(gpuvm_gem_object_refcount(a), objrefs + 1);
		assert_int_equal(fx_bo_kref(vm_bo), 1);
		fx_gem_list_lock(fx, a);
		gpuva_link(va1, vm_bo);
		gpuva_link(va2, vm_bo);
		fx_gem_list_unlock(fx, a);
		assert_ptr_equal(va1->vm_bo, vm_bo);
		assert_ptr_equal(va2->vm_bo, vm_bo);
		assert_int_equal(fx_bo_kref(vm_bo), 3);
		/* Linking touches neither the VM nor the GEM count. */
		assert_int_equal(fx_vm_kref(vm), 6);
		assert_int_equal(gpuvm_gem_object_refcount(a), objrefs + 1);

		/* Link order, whatever the addresses. */
		fx_gem_list_lock(fx, a);
		n = 0;
		gpuvm_bo_for_each_va(va, vm_bo)
			assert_ptr_equal(va, n++ ? va2 : va1);
		assert_int_equal(n, 2);
		fx_gem_list_unlock(fx, a);

		/* No object: nothing, no lock needed, no warning. */
		gpuva_link(sparse, vm_bo);
		assert_null(sparse->vm_bo);
		gpuva_unlink(sparse);
		if (immediate)
			gpuva_unlink_defer(sparse);
		assert_int_equal(fx_bo_kref(vm_bo), 3);

		/* The VA's object is what the lock assertion looks at. */
		mode_context(i, "mismatch");
		fx_gem_list_lock(fx, b);
		gpuva_link(vb, vm_bo);
		assert_int_equal(harness_warnings(NULL), 1);
		assert_non_null(
			strstr(harness_last_warning(GPUVM_RULE_LINK_OBJ),
			       "gpuva_link"));
		assert_int_equal(harness_take_warnings(GPUVM_RULE_LINK_OBJ), 1);
		assert_ptr_equal(vb->vm_bo, vm_bo);
		assert_int_equal(fx_bo_kref(vm_bo), 4);
		gpuva_unlink(vb); /* not the last reference */
		fx_gem_list_unlock(fx, b);
		assert_null(vb->vm_bo);
		assert_int_equal(fx_bo_kref(vm_bo), 3);

		mode_context(i, "unlink");
		fx_gem_list_lock(fx, a);
		gpuva_unlink(va1);
		fx_gem_list_unlock(fx, a);
		assert_null(va1->vm_bo);
		assert_true(gpuvm_list_empty(&va1->gem.entry));
		assert_int_equal(fx_bo_kref(vm_bo), 2);
		/* The obtain reference goes; the VA keeps the vm_bo. */
		assert_false(fx_bo_put_locked(fx, vm_bo));
		assert_int_equal(fx_bo_kref(vm_bo), 1);

		/* The last unlink destroys the vm_bo (immediate: defers). */
		if (immediate) {
			gpuva_unlink_defer(va2);
			assert_int_equal(fx_defer_count(vm), 1);
			assert_int_equal(fx_vm_kref(vm), 6);
			gpuvm_bo_deferred_cleanup(vm);
		} else {
			fx_gem_list_lock(fx, a);
			gpuva_unlink(va2);
			fx_gem_list_unlock(fx, a);
		}
		assert_null(va2->vm_bo);
		assert_null(fx_vm_bo(fx, a));
		assert_int_equal(fx_vm_kref(vm), 5);
		assert_int_equal(gpuvm_gem_object_refcount(a), objrefs);

		mode_context(i, "remove");
		fx_va_destroy(fx, va1);
		fx_va_destroy(fx, va2);
		fx_va_destroy(fx, sparse);
		fx_va_destroy(fx, vb);
		assert_int_equal(fx_vm_kref(vm), 1);
		assert_int_equal(harness_warnings(NULL), 0);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* The link/unlink lock is the GEM list lock of the mode, and only it. */
static void test_link_lock_rules_all_modes(void **state)
{
	unsigned int i;

	for (i = 0; i < FX_NR_MODES; i++) {
		struct fx_vm *fx =
			fx_vm_create(fx_modes[i].flags, 0, 1024, 0, 0);
		struct gpuvm_gem_object *a = fx_obj(fx, 'A');
		struct gpuva *va = fx_va_insert(fx, 0, 4, a, 0);
		struct gpuvm_bo *vm_bo = fx_bo_obtain(fx, a);

		mode_context(i, "link without the GEM list lock");
		gpuva_link(va, vm_bo);
		assert_int_equal(harness_warnings(NULL), 1);
		assert_non_null(
			strstr(harness_last_warning(GPUVM_RULE_LOCK_NOT_HELD),
			       "gpuva_link"));
		assert_int_equal(
			harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD), 1);
		assert_int_equal(fx_bo_kref(vm_bo), 2);

		mode_context(i, "unlink without the GEM list lock");
		gpuva_unlink(va); /* not the last reference */
		assert_int_equal(harness_warnings(NULL), 1);
		assert_non_null(
			strstr(harness_last_warning(GPUVM_RULE_LOCK_NOT_HELD),
			       "gpuva_unlink"));
		assert_int_equal(
			harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD), 1);
		assert_int_equal(fx_bo_kref(vm_bo), 1);
		assert_null(va->vm_bo);

		/* The other mode's lock does not count. */
		mode_context(i, "link under the wrong lock");
		if (gpuvm_immediate_mode(&fx->base)) {
			assert_int_equal(gpuvm_gem_object_lock(a, NULL), 0);
			gpuva_link(va, vm_bo);
			gpuvm_gem_object_unlock(a);
		} else {
			gpuvm_gem_gpuva_lock(a);
			gpuva_link(va, vm_bo);
			gpuvm_gem_gpuva_unlock(a);
		}
		assert_int_equal(
			harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD), 1);
		assert_int_equal(harness_warnings(NULL), 0);
		fx_gem_list_lock(fx, a);
		gpuva_unlink(va);
		fx_gem_list_unlock(fx, a);

		assert_true(fx_bo_put_locked(fx, vm_bo));
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* unlink_defer is for immediate mode; a staged VM reports it. */
static void test_unlink_defer_staged_warns(void **state)
{
	unsigned int i;

	for (i = 0; i < FX_NR_MODES; i++) {
		struct fx_vm *fx;
		struct gpuvm_gem_object *a;
		struct gpuva *va, *sparse;
		struct gpuvm_bo *vm_bo;

		if (fx_modes[i].flags & GPUVM_IMMEDIATE_MODE)
			continue;
		mode_context(i, "unlink_defer");
		fx = fx_vm_create(fx_modes[i].flags, 0, 1024, 0, 0);
		a = fx_obj(fx, 'a');
		va = fx_va_insert(fx, 0, 4, a, 0);
		sparse = fx_va_insert(fx, 4, 4, NULL, 0);
		vm_bo = fx_bo_obtain(fx, a);
		fx_va_link_to(fx, va, vm_bo);
		assert_int_equal(fx_bo_kref(vm_bo), 2);

		gpuva_unlink_defer(va); /* not the last reference */
		assert_int_equal(harness_warnings(NULL), 1);
		assert_non_null(strstr(harness_last_warning(GPUVM_RULE_MODE),
				       "gpuva_unlink_defer"));
		assert_int_equal(harness_take_warnings(GPUVM_RULE_MODE), 1);
		assert_null(va->vm_bo);
		assert_int_equal(fx_bo_kref(vm_bo), 1);
		assert_true(fx_bo_on_gem_list(vm_bo));
		assert_int_equal(fx_defer_count(&fx->base), 0);

		/* Nothing to unlink: no report either. */
		gpuva_unlink_defer(sparse);
		assert_int_equal(harness_warnings(NULL), 0);

		assert_true(fx_bo_put_locked(fx, vm_bo));
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/*
 * A VA with an object but no vm_bo (never linked, or already unlinked):
 * gpuva_unlink() does nothing to it and reports nothing, and
 * gpuva_unlink_defer() does the same in every mode.
 */
static void test_unlink_without_vm_bo(void **state)
{
	unsigned int i;

	for (i = 0; i < FX_NR_MODES; i++) {
		struct fx_vm *fx =
			fx_vm_create(fx_modes[i].flags, 0, 1024, 0, 0);
		struct gpuvm_gem_object *a = fx_obj(fx, 'a');
		struct gpuva *never = fx_va_insert(fx, 0, 4, a, 0);
		struct gpuva *once = fx_va_insert(fx, 4, 4, a, 4);
		struct gpuvm_bo *vm_bo = fx_bo_obtain(fx, a);

		mode_context(i, "unlink of a VA never linked");
		fx_gem_list_lock(fx, a);
		gpuva_unlink(never);
		fx_gem_list_unlock(fx, a);
		gpuva_unlink_defer(never);
		assert_null(never->vm_bo);
		assert_true(gpuvm_list_empty(&never->gem.entry));
		assert_int_equal(harness_warnings(NULL), 0);

		mode_context(i, "unlink of a VA already unlinked");
		fx_va_link_to(fx, once, vm_bo);
		assert_int_equal(fx_bo_kref(vm_bo), 2);
		fx_gem_list_lock(fx, a);
		gpuva_unlink(once);
		gpuva_unlink(once);
		fx_gem_list_unlock(fx, a);
		gpuva_unlink_defer(once);
		assert_null(once->vm_bo);
		assert_true(gpuvm_list_empty(&once->gem.entry));
		assert_int_equal(fx_bo_kref(vm_bo), 1);
		assert_int_equal(fx_defer_count(&fx->base), 0);
		assert_int_equal(harness_warnings(NULL), 0);

		assert_true(fx_bo_put_locked(fx, vm_bo));
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/*
 * gpuva_link() on a VA that was never inserted (va->vm NULL): reported
 * as GPUVM_RULE_LINK_VM, and not linked (no VM to pick the lock by).
 */
static void test_link_uninserted_va(void **state)
{
	unsigned int i;

	for (i = 0; i < FX_NR_MODES; i++) {
		struct fx_vm *fx =
			fx_vm_create(fx_modes[i].flags, 0, 1024, 0, 0);
		struct gpuvm_gem_object *a = fx_obj(fx, 'a');
		struct gpuva *va = fx_va_new(0, 4, a, 0);
		struct gpuvm_bo *vm_bo = fx_bo_obtain(fx, a);

		mode_context(i, "link of a VA never inserted");
		assert_null(va->vm);
		fx_gem_list_lock(fx, a);
		gpuva_link(va, vm_bo);
		fx_gem_list_unlock(fx, a);
		assert_int_equal(harness_warnings(NULL), 1);
		assert_non_null(strstr(harness_last_warning(GPUVM_RULE_LINK_VM),
				       "gpuva_link"));
		assert_int_equal(harness_take_warnings(GPUVM_RULE_LINK_VM), 1);
		assert_null(va->vm_bo);
		assert_true(gpuvm_list_empty(&va->gem.entry));
		assert_int_equal(fx_bo_kref(vm_bo), 1);
		assert_true(gpuvm_list_empty(&vm_bo->list.gpuva));

		fx_va_free(va);
		assert_true(fx_bo_put_locked(fx, vm_bo));
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/*
 * gpuvm_bo_for_each_va(_safe) take their vm_bo argument (the kernel's
 * macro quietly uses a variable named vm_bo); removal while walking.
 */
static void test_bo_for_each_va(void **state)
{
	unsigned int i;

	for (i = 0; i < FX_NR_MODES; i++) {
		struct fx_vm *fx =
			fx_vm_create(fx_modes[i].flags, 0, 1024, 0, 0);
		struct gpuvm_gem_object *a = fx_obj(fx, 'A');
		struct gpuva *vas[4], *va, *next;
		struct gpuvm_bo *the_bo = fx_bo_obtain(fx, a);
		unsigned int k, n;

		mode_context(i, "bo_for_each_va");
		for (k = 0; k < 4; k++) {
			/* Descending addresses: link order is what counts. */
			vas[k] = fx_va_insert(fx, 100 - 10 * k, 4, a, k);
			fx_va_link_to(fx, vas[k], the_bo);
		}
		fx_gem_list_lock(fx, a);
		n = 0;
		gpuvm_bo_for_each_va(va, the_bo) {
			assert_ptr_equal(va, vas[n]);
			n++;
		}
		assert_int_equal(n, 4);
		/* Unlink every other VA while walking. */
		n = 0;
		gpuvm_bo_for_each_va_safe(va, next, the_bo) {
			if (n++ % 2 == 0)
				gpuva_unlink(va);
		}
		assert_int_equal(n, 4);
		n = 0;
		gpuvm_bo_for_each_va(va, the_bo) {
			assert_ptr_equal(va, vas[1 + 2 * n]);
			n++;
		}
		assert_int_equal(n, 2);
		fx_gem_list_unlock(fx, a);
		assert_int_equal(fx_bo_kref(the_bo), 3);
		assert_false(fx_bo_put_locked(fx, the_bo));
		fx_vm_destroy(fx); /* unlinks the rest */
	}
	fx_context("%s", "");
}

static void sh_free(struct gpuvm_gem_object *obj)
{
	free(obj);
}

static const struct gpuvm_gem_object_funcs sh_funcs = { .free = sh_free };

/* One GEM in three VMs: its vm_bos in creation order, one per VM. */
static void test_gem_for_each_gpuvm_bo(void **state)
{
	unsigned int i, k, n;

	for (i = 0; i < FX_NR_MODES; i++) {
		struct gpuvm_gem_object *obj = calloc(1, sizeof(*obj));
		struct fx_vm *fx[3];
		struct gpuvm_bo *bos[3], *vm_bo, *next;
		bool immediate = fx_modes[i].flags & GPUVM_IMMEDIATE_MODE;

		mode_context(i, "gem_for_each_gpuvm_bo");
		gpuvm_gem_object_init(obj, &sh_funcs, 4096);
		for (k = 0; k < 3; k++) {
			fx[k] = fx_vm_create(fx_modes[i].flags, 0, 1024, 0, 0);
			bos[k] = fx_bo_obtain(fx[k], obj);
		}
		assert_int_equal(gpuvm_gem_object_refcount(obj), 4);

		if (immediate)
			gpuvm_gem_gpuva_lock(obj);
		else
			assert_int_equal(gpuvm_gem_object_lock(obj, NULL), 0);
		n = 0;
		gpuvm_gem_for_each_gpuvm_bo(vm_bo, obj) {
			assert_ptr_equal(vm_bo, bos[n]);
			assert_ptr_equal(vm_bo->vm, &fx[n]->base);
			n++;
		}
		assert_int_equal(n, 3);
		/* Destroy the middle one while walking (plain VMs need no
		 * VM resv for the final put). */
		if (!(fx_modes[i].flags & GPUVM_RESV_PROTECTED)) {
			n = 0;
			gpuvm_gem_for_each_gpuvm_bo_safe(vm_bo, next, obj) {
				if (n++ == 1)
					assert_true(gpuvm_bo_put(vm_bo));
			}
			assert_int_equal(n, 3);
			n = 0;
			gpuvm_gem_for_each_gpuvm_bo(vm_bo, obj)
				assert_ptr_equal(vm_bo, bos[2 * n++]);
			assert_int_equal(n, 2);
			bos[1] = NULL;
		}
		if (immediate)
			gpuvm_gem_gpuva_unlock(obj);
		else
			gpuvm_gem_object_unlock(obj);

		for (k = 0; k < 3; k++) {
			if (bos[k])
				assert_true(fx_bo_put_locked(fx[k], bos[k]));
			fx_vm_destroy(fx[k]);
		}
		assert_true(gpuvm_list_empty(&obj->gpuva.list));
		assert_int_equal(gpuvm_gem_object_refcount(obj), 1);
		gpuvm_gem_object_put(obj);
	}
	fx_context("%s", "");
}

/* ---- allocation-failure sweeps ----------------------------------------- */

struct insert_sweep {
	struct fx_vm *fx;
	struct gpuva *va;
	char before[FX_TEXT_MAX];
	int kref;
	long live;
	unsigned int failures;
};

static int insert_op(void *arg)
{
	struct insert_sweep *s = arg;

	return gpuva_insert(&s->fx->base, s->va);
}

static void insert_check(void *arg, unsigned long n, int ret)
{
	struct insert_sweep *s = arg;
	char now[FX_TEXT_MAX];

	assert_int_equal(ret, -ENOMEM);
	assert_null(s->va->vm);
	assert_int_equal(fx_vm_kref(&s->fx->base), s->kref);
	assert_int_equal(gpuvm_alloc_live(), s->live);
	fx_tree_format(s->fx, now, sizeof(now));
	assert_string_equal(now, s->before);
	s->failures++;
}

/*
 * Every allocation gpuva_insert() may make as the index grows (leaf and
 * inner splits, a new root) fails once: -ENOMEM, and the VA space, the VM
 * count and the allocations are exactly as before.
 */
static void test_insert_growth_fault_sweep(void **state)
{
	static struct insert_sweep s;
	unsigned int i;
	int points;

	memset(&s, 0, sizeof(s));
	s.fx = fx_vm_create(0, 0, 1 << 24, 0, 0);
	for (i = 0; i < 400; i++) {
		/* Interleaved addresses: splits all over the index. */
		uint64_t addr = (uint64_t)((i * 7919u) % 4096u) * 16;

		s.va = fx_va_new(addr, 8, NULL, i);
		fx_tree_format(s.fx, s.before, sizeof(s.before));
		s.kref = fx_vm_kref(&s.fx->base);
		s.live = gpuvm_alloc_live();
		points =
			gpuvm_alloc_fault_sweep(insert_op, insert_check, &s, 0);
		assert_true(points >= 0);
		assert_ptr_equal(s.va->vm, &s.fx->base);
		assert_int_equal(fx_vm_kref(&s.fx->base), s.kref + 1);
	}
	assert_int_equal(fx_va_count(s.fx), 400);
	/* 400 VAs need many index nodes. */
	assert_true(s.failures > 10);
	print_message("# insert sweep: %u failing allocations\n", s.failures);
	fx_vm_destroy(s.fx);
}

struct reserve_sweep {
	struct fx_vm *fx;
	unsigned int base, n;
	struct gpuva *vas[64];
	long live;
	int kref;
};

/* Reserve for n inserts, then insert them: only the reserve can fail. */
static int reserve_insert_op(void *arg)
{
	struct reserve_sweep *s = arg;
	unsigned int i;
	int ret;

	ret = gpuvm_va_reserve(&s->fx->base, s->n);
	if (ret)
		return ret;
	for (i = 0; i < s->n; i++) {
		ret = gpuva_insert(&s->fx->base, s->vas[i]);
		assert_int_equal(ret, 0);
	}
	/* With the fault still armed, nothing was allocated. */
	assert_false(gpuvm_alloc_fault_fired());
	return 0;
}

static void reserve_insert_check(void *arg, unsigned long n, int ret)
{
	struct reserve_sweep *s = arg;
	unsigned int i;

	assert_int_equal(ret, -ENOMEM);
	assert_int_equal(gpuvm_alloc_live(), s->live);
	assert_int_equal(fx_vm_kref(&s->fx->base), s->kref);
	for (i = 0; i < s->n; i++)
		assert_null(s->vas[i]->vm);
}

static void test_reserve_then_insert_fault_sweep(void **state)
{
	struct reserve_sweep s;
	unsigned int round, i;
	int points;

	memset(&s, 0, sizeof(s));
	s.fx = fx_vm_create(0, 0, 1 << 24, 0, 0);
	for (round = 0; round < 20; round++) {
		s.n = 1 + round * 3;
		for (i = 0; i < s.n; i++)
			s.vas[i] = fx_va_new((s.base + i) * 2, 1, NULL, 0);
		s.live = gpuvm_alloc_live();
		s.kref = fx_vm_kref(&s.fx->base);
		points = gpuvm_alloc_fault_sweep(reserve_insert_op,
						 reserve_insert_check, &s, 0);
		assert_true(points >= 0);
		assert_int_equal(fx_vm_kref(&s.fx->base), s.kref + (int)s.n);
		s.base += s.n;
	}
	assert_int_equal(fx_va_count(s.fx), s.base);
	fx_vm_destroy(s.fx);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_init_fields),
		harness_test(test_init_kernel_node),
		harness_test(test_init_overflow_warnings),
		harness_test(test_init_kernel_node_enomem),
		harness_test(test_get_put),
		harness_test(test_va_keeps_vm_alive),
		harness_test(test_final_put_with_va),
		harness_test(test_final_put_with_extobj),
		harness_test(test_final_put_with_evicted),
		harness_test(test_final_put_with_zombie),
		harness_test(test_missing_vm_free),
		harness_test(test_resv_object_alloc),
		harness_test(test_resv_object_alloc_fault),
		harness_test(test_range_checks_offset_window),
		harness_test(test_resv_accessors),
		harness_test(test_is_extobj),
		harness_test(test_link_refcounts_all_modes),
		harness_test(test_link_lock_rules_all_modes),
		harness_test(test_unlink_defer_staged_warns),
		harness_test(test_unlink_without_vm_bo),
		harness_test(test_link_uninserted_va),
		harness_test(test_bo_for_each_va),
		harness_test(test_gem_for_each_gpuvm_bo),
		harness_test(test_insert_growth_fault_sweep),
		harness_test(test_reserve_then_insert_fault_sweep),
	};

	return harness_run("gpuvm/vm", tests, argc, argv);
}
