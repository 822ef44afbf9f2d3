// SPDX-License-Identifier: MIT
/*
 * The exec helper (drm_exec): the kernel's KUnit cases one to one
 * (DX-1 .. DX-8, named after the kernel tests), then duplicates,
 * contention and its prelocked bookkeeping, interrupted waits, exact
 * reference counts and allocation failures.
 *
 * Built twice: once with the GNU loop construct and once with
 * GPUVM_EXEC_PORTABLE_LOOP (test "exec-portable"); the cases that need the
 * GNU construct (retry from a nested loop) adapt to the mode.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include <gpuvm/exec.h>
#include <gpuvm/testing.h>

#include "harness.h"
#include "parker.h"
#include "rcu_internal.h"
#include "ww_mutex_internal.h"

#ifdef GPUVM_EXEC_PORTABLE_LOOP
#define LOOP_MODE "portable"
#else
#define LOOP_MODE "gnu"
#endif

static void assert_message_has(const char *rule, const char *text)
{
	const char *msg = harness_last_warning(rule);

	if (!strstr(msg, text))
		fail_msg("warning [%s] '%s' lacks '%s'", rule, msg, text);
}

/* ---- test objects ------------------------------------------------------ */

struct xobj {
	struct gpuvm_gem_object base;
	unsigned int freed;
	bool held_at_free; /* this thread still held its resv when freed */
	bool heap;
};

static void xobj_free(struct gpuvm_gem_object *obj)
{
	struct xobj *o = gpuvm_container_of(obj, struct xobj, base);

	o->held_at_free = gpuvm_lock_is_held(&obj->_resv.lock.dep_map);
	o->freed++;
}

static const struct gpuvm_gem_object_funcs xobj_funcs = {
	.free = xobj_free,
};

static void xobj_init(struct xobj *o)
{
	memset(o, 0, sizeof(*o));
	gpuvm_gem_object_init(&o->base, &xobj_funcs, 4096);
}

static void xobj_init_array(struct xobj *o, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		xobj_init(&o[i]);
}

/* Drop the test's own reference: the object must be released now. */
static void xobj_fini(struct xobj *o)
{
	assert_int_equal(gpuvm_gem_object_refcount(&o->base), 1);
	gpuvm_gem_object_put(&o->base);
	assert_int_equal(o->freed, 1);
	assert_false(o->held_at_free);
}

static void xobj_fini_array(struct xobj *o, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		xobj_fini(&o[i]);
}

#define REFS(o) gpuvm_gem_object_refcount(&(o)->base)
#define LOCKED(o) gpuvm_dma_resv_is_locked((o)->base.resv)

/* Tracked exactly @times times by @exec. */
static unsigned int tracked(struct gpuvm_exec *exec, struct xobj *o)
{
	struct gpuvm_gem_object *obj;
	unsigned int n = 0;

	gpuvm_exec_for_each_locked_object(exec, obj)
		n += obj == &o->base;
	return n;
}

static void assert_all_unlocked_refs_one(struct xobj *o, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		assert_false(LOCKED(&o[i]));
		assert_int_equal(REFS(&o[i]), 1);
	}
}

/* ---- a second thread holding a reservation ----------------------------- */

enum holder_state { HOLDER_START, HOLDER_HELD, HOLDER_RELEASE, HOLDER_DONE };

struct holder {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum holder_state state;
	struct gpuvm_dma_resv *resv;
	bool with_ctx; /* lock through an acquire context (older ticket) */
	bool release_when_waited; /* release once another thread waits */
	int ret;
	unsigned long stamp;
};

/* Whether some thread is queued waiting for @resv. */
static bool resv_has_waiter(struct gpuvm_dma_resv *resv)
{
	return gpuvm_ww_mutex_waiter_count__(&resv->lock) != 0;
}

static void holder_set(struct holder *h, enum holder_state s)
{
	pthread_mutex_lock(&h->lock);
	if (h->state < s) /* only forward */
		h->state = s;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

static void holder_wait(struct holder *h, enum holder_state s)
{
	pthread_mutex_lock(&h->lock);
	while (h->state < s)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
}

static void *holder_main(void *arg)
{
	struct gpuvm_ww_acquire_ctx ctx;
	struct holder *h = arg;

	if (h->with_ctx) {
		gpuvm_ww_acquire_init(&ctx, &gpuvm_reservation_ww_class);
		h->stamp = ctx.stamp;
		h->ret = gpuvm_dma_resv_lock(h->resv, &ctx);
	} else {
		h->ret = gpuvm_dma_resv_lock(h->resv, NULL);
	}
	holder_set(h, HOLDER_HELD);

	if (h->release_when_waited) {
		/* Deterministic: release only once the other side sleeps. */
		while (!resv_has_waiter(h->resv))
			sched_yield();
	} else {
		holder_wait(h, HOLDER_RELEASE);
	}

	gpuvm_dma_resv_unlock(h->resv);
	if (h->with_ctx)
		gpuvm_ww_acquire_fini(&ctx);
	holder_set(h, HOLDER_DONE);
	return NULL;
}

/* Start a thread that locks @resv and keeps it; returns once it holds it. */
static void holder_start(struct holder *h, struct gpuvm_dma_resv *resv,
			 bool with_ctx, bool release_when_waited)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->resv = resv;
	h->with_ctx = with_ctx;
	h->release_when_waited = release_when_waited;
	assert_int_equal(pthread_create(&h->thread, NULL, holder_main, h), 0);
	holder_wait(h, HOLDER_HELD);
	assert_int_equal(h->ret, 0);
}

/* Ask the holder to release (it may not have done so on return). */
static void holder_release_async(struct holder *h)
{
	holder_set(h, HOLDER_RELEASE);
}

static void holder_join(struct holder *h)
{
	holder_release_async(h);
	pthread_join(h->thread, NULL);
	assert_int_equal(h->state, HOLDER_DONE);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
}

/* Fence lists are freed after an RCU grace period: wait for them before
 * the leak check. */
static int exec_teardown(void **state)
{
	gpuvm_rcu_barrier();
	return harness_teardown(state);
}

#define exec_test(fn) \
	cmocka_unit_test_setup_teardown(fn, harness_setup, exec_teardown)

/* ==== the kernel's KUnit suite "drm_exec" =============================== */

/* DX-1: init and fini without entering the loop leave the ticket alone. */
static void test_exec_sanitycheck(void **state)
{
	struct gpuvm_exec exec;
	unsigned char ticket[sizeof(exec.ticket)];

	memset(&exec, 0x5a, sizeof(exec));
	memcpy(ticket, &exec.ticket, sizeof(ticket));
	gpuvm_exec_init(&exec, GPUVM_EXEC_INTERRUPTIBLE_WAIT, 0);
	assert_int_equal(exec.flags, GPUVM_EXEC_INTERRUPTIBLE_WAIT);
	assert_int_equal(exec.num_objects, 0);
	assert_ptr_equal(exec.contended, GPUVM_EXEC_DUMMY);
	assert_null(exec.prelocked);
	assert_non_null(exec.objects);
	gpuvm_exec_fini(&exec);
	assert_memory_equal(&exec.ticket, ticket, sizeof(ticket));
}

/* DX-2 */
static void test_exec_lock(void **state)
{
	struct gpuvm_exec exec;
	unsigned int passes = 0;
	struct xobj o;
	int ret = -1;

	xobj_init(&o);
	gpuvm_exec_init(&exec, GPUVM_EXEC_INTERRUPTIBLE_WAIT, 0);
	gpuvm_exec_until_all_locked(&exec) {
		passes++;
		ret = gpuvm_exec_lock_obj(&exec, &o.base);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
	}
	assert_int_equal(ret, 0);
	assert_int_equal(passes, 1);
	assert_true(LOCKED(&o));
	gpuvm_dma_resv_assert_held(o.base.resv);
	assert_int_equal(exec.num_objects, 1);
	assert_ptr_equal(gpuvm_exec_obj(&exec, 0), &o.base);
	assert_int_equal(REFS(&o), 2);
	assert_true(exec.ticket.done_acquire);

	gpuvm_exec_fini(&exec);
	assert_false(LOCKED(&o));
	xobj_fini(&o);
}

/* DX-3 */
static void test_exec_lock_unlock(void **state)
{
	struct gpuvm_exec exec;
	struct xobj o;
	int ret = -1;

	xobj_init(&o);
	gpuvm_exec_init(&exec, GPUVM_EXEC_INTERRUPTIBLE_WAIT, 0);
	gpuvm_exec_until_all_locked(&exec) {
		ret = gpuvm_exec_lock_obj(&exec, &o.base);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;

		gpuvm_exec_unlock_obj(&exec, &o.base);
		assert_false(LOCKED(&o));
		assert_int_equal(exec.num_objects, 0);
		assert_int_equal(REFS(&o), 1);

		ret = gpuvm_exec_lock_obj(&exec, &o.base);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
	}
	assert_int_equal(ret, 0);
	assert_true(LOCKED(&o));
	assert_int_equal(tracked(&exec, &o), 1);
	assert_int_equal(REFS(&o), 2);
	gpuvm_exec_fini(&exec);
	xobj_fini(&o);
}

/* DX-4 */
static void test_exec_duplicates(void **state)
{
	struct gpuvm_exec exec;
	struct xobj o;
	int ret = -1;

	xobj_init(&o);
	gpuvm_exec_init(&exec, GPUVM_EXEC_IGNORE_DUPLICATES, 0);
	gpuvm_exec_until_all_locked(&exec) {
		ret = gpuvm_exec_lock_obj(&exec, &o.base);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;

		ret = gpuvm_exec_lock_obj(&exec, &o.base);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
	}
	assert_int_equal(ret, 0);
	assert_int_equal(exec.num_objects, 1);
	assert_int_equal(REFS(&o), 2);

	/* Tracked once: one unlock leaves nothing locked. */
	gpuvm_exec_unlock_obj(&exec, &o.base);
	assert_false(LOCKED(&o));
	assert_int_equal(exec.num_objects, 0);
	assert_int_equal(REFS(&o), 1);
	gpuvm_exec_fini(&exec);
	xobj_fini(&o);
}

/* DX-5 */
static void test_exec_prepare(void **state)
{
	struct gpuvm_exec exec;
	struct xobj o;
	int ret = -1;

	xobj_init(&o);
	gpuvm_exec_init(&exec, GPUVM_EXEC_INTERRUPTIBLE_WAIT, 0);
	gpuvm_exec_until_all_locked(&exec) {
		ret = gpuvm_exec_prepare_obj(&exec, &o.base, 1);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
	}
	assert_int_equal(ret, 0);
	assert_true(LOCKED(&o));
	assert_int_equal(REFS(&o), 2);
	gpuvm_exec_fini(&exec);
	/* Finalise the object: its reservation is torn down unlocked. */
	xobj_fini(&o);
}

/* DX-6: two zero-allocated objects, a body of one statement. */
static void test_exec_prepare_array(void **state)
{
	struct gpuvm_gem_object *array[2];
	struct gpuvm_exec exec;
	struct xobj *o;
	int ret = -1;

	o = gpuvm_kcalloc(2, sizeof(*o), GPUVM_GFP_KERNEL);
	assert_non_null(o);
	gpuvm_gem_object_init(&o[0].base, &xobj_funcs, 4096);
	gpuvm_gem_object_init(&o[1].base, &xobj_funcs, 4096);
	array[0] = &o[0].base;
	array[1] = &o[1].base;

	gpuvm_exec_init(&exec, GPUVM_EXEC_INTERRUPTIBLE_WAIT, 0);
	gpuvm_exec_until_all_locked(&exec)
		ret = gpuvm_exec_prepare_array(&exec, array, ARRAY_SIZE(array),
					       1);
	assert_int_equal(ret, 0);
	assert_int_equal(exec.num_objects, 2);
	assert_ptr_equal(gpuvm_exec_obj(&exec, 0), &o[0].base);
	assert_ptr_equal(gpuvm_exec_obj(&exec, 1), &o[1].base);
	assert_true(LOCKED(&o[0]) && LOCKED(&o[1]));
	gpuvm_exec_fini(&exec);

	xobj_fini(&o[0]);
	xobj_fini(&o[1]);
	gpuvm_kfree(o);
}

/* DX-7: the construct twice in one function, each body only breaks. */
static void test_exec_multiple_loops(void **state)
{
	struct gpuvm_exec exec;

	gpuvm_exec_init(&exec, GPUVM_EXEC_INTERRUPTIBLE_WAIT, 0);
	gpuvm_exec_until_all_locked(&exec) {
		break;
	}
	assert_null(exec.contended); /* the ticket was initialised */
	gpuvm_exec_fini(&exec);

	gpuvm_exec_init(&exec, GPUVM_EXEC_INTERRUPTIBLE_WAIT, 0);
	gpuvm_exec_until_all_locked(&exec) {
		break;
	}
	gpuvm_exec_fini(&exec);
}

/* DX-8: fini drops the last references, unlocking before each drop. */
static unsigned int early_put_freed;
static bool early_put_held_at_free;

static void early_put_free(struct gpuvm_gem_object *obj)
{
	/* Unlocked before release, so the checker no longer tracks it. */
	if (gpuvm_lock_is_held(&obj->_resv.lock.dep_map))
		early_put_held_at_free = true;
	early_put_freed++;
	gpuvm_kfree(obj);
}

static const struct gpuvm_gem_object_funcs early_put_funcs = {
	.free = early_put_free,
};

static void test_exec_early_put(void **state)
{
	struct gpuvm_gem_object *array[2];
	struct gpuvm_exec exec;
	unsigned int i;
	int ret = -1;

	early_put_freed = 0;
	early_put_held_at_free = false;
	for (i = 0; i < 2; i++) {
		array[i] = gpuvm_kzalloc(sizeof(*array[i]), GPUVM_GFP_KERNEL);
		assert_non_null(array[i]);
		gpuvm_gem_object_init(array[i], &early_put_funcs, 4096);
	}

	gpuvm_exec_init(&exec, GPUVM_EXEC_INTERRUPTIBLE_WAIT, 0);
	gpuvm_exec_until_all_locked(&exec) {
		ret = gpuvm_exec_prepare_array(&exec, array, 2, 1);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
	}
	assert_int_equal(ret, 0);

	/* The exec now holds the only references. */
	gpuvm_gem_object_put(array[0]);
	gpuvm_gem_object_put(array[1]);
	assert_int_equal(early_put_freed, 0);

	gpuvm_exec_fini(&exec);
	assert_int_equal(early_put_freed, 2);
	assert_false(early_put_held_at_free);
}

/* ==== duplicates ======================================================== */

static void test_exec_duplicates_not_ignored(void **state)
{
	struct gpuvm_exec exec;
	int ret1 = -1, ret2 = -1, ret3 = -1;
	struct xobj o;

	xobj_init(&o);
	gpuvm_exec_init(&exec, 0, 0);
	gpuvm_exec_until_all_locked(&exec) {
		ret1 = gpuvm_exec_lock_obj(&exec, &o.base);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret1)
			break;
		ret2 = gpuvm_exec_lock_obj(&exec, &o.base);
		gpuvm_exec_retry_on_contention(&exec);
		ret3 = gpuvm_exec_prepare_obj(&exec, &o.base, 2);
		gpuvm_exec_retry_on_contention(&exec);
	}
	assert_int_equal(ret1, 0);
	assert_int_equal(ret2, -EALREADY);
	assert_int_equal(ret3, -EALREADY);
	/* Still locked, tracked once, one exec reference. */
	assert_true(LOCKED(&o));
	assert_int_equal(exec.num_objects, 1);
	assert_int_equal(REFS(&o), 2);
	gpuvm_exec_fini(&exec);
	assert_false(LOCKED(&o));
	xobj_fini(&o);
}

/* Objects sharing one reservation (VM-private buffers) are duplicates. */
static void test_exec_duplicates_shared_resv(void **state)
{
	struct gpuvm_exec exec;
	struct xobj vm, bo;
	int ret_vm = -1, ret_bo = -1;
	uint32_t flags[] = { 0, GPUVM_EXEC_IGNORE_DUPLICATES };
	unsigned int i;

	xobj_init(&vm);
	memset(&bo, 0, sizeof(bo));
	gpuvm_gem_object_init_shared_resv(&bo.base, &xobj_funcs, 4096,
					  vm.base.resv);

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		gpuvm_exec_init(&exec, flags[i], 0);
		gpuvm_exec_until_all_locked(&exec) {
			ret_vm = gpuvm_exec_prepare_obj(&exec, &vm.base, 1);
			gpuvm_exec_retry_on_contention(&exec);
			ret_bo = gpuvm_exec_prepare_obj(&exec, &bo.base, 1);
			gpuvm_exec_retry_on_contention(&exec);
		}
		assert_int_equal(ret_vm, 0);
		assert_int_equal(ret_bo, i ? 0 : -EALREADY);
		assert_int_equal(exec.num_objects, 1);
		assert_int_equal(tracked(&exec, &vm), 1);
		assert_int_equal(tracked(&exec, &bo), 0);
		assert_int_equal(REFS(&bo), 1); /* no reference taken */
		gpuvm_exec_fini(&exec);
		assert_false(LOCKED(&vm));
	}
	xobj_fini(&bo);
	xobj_fini(&vm);
}

/* ==== other basics ====================================================== */

static void test_exec_init_sizes(void **state)
{
	struct gpuvm_exec exec;

	gpuvm_exec_init(&exec, 0, 0);
	assert_int_equal(exec.max_objects, 4096 / sizeof(void *));
	gpuvm_exec_fini(&exec);

	gpuvm_exec_init(&exec, GPUVM_EXEC_IGNORE_DUPLICATES, 3);
	assert_int_equal(exec.flags, GPUVM_EXEC_IGNORE_DUPLICATES);
	assert_int_equal(exec.max_objects, 3);
	gpuvm_exec_fini(&exec);
}

static void test_exec_unlock_untracked_is_noop(void **state)
{
	struct gpuvm_exec exec;
	struct xobj a, b;
	int ret = -1;

	xobj_init(&a);
	xobj_init(&b);
	gpuvm_exec_init(&exec, 0, 0);
	gpuvm_exec_until_all_locked(&exec) {
		ret = gpuvm_exec_lock_obj(&exec, &a.base);
		gpuvm_exec_retry_on_contention(&exec);
	}
	assert_int_equal(ret, 0);
	gpuvm_exec_unlock_obj(&exec, &b.base);
	assert_int_equal(exec.num_objects, 1);
	assert_true(LOCKED(&a));
	assert_int_equal(REFS(&a), 2);
	assert_int_equal(REFS(&b), 1);
	gpuvm_exec_fini(&exec);
	xobj_fini(&a);
	xobj_fini(&b);
}

/* unlock_obj keeps the order of the remaining objects. */
static void test_exec_unlock_middle_keeps_order(void **state)
{
	struct gpuvm_gem_object *array[4], *obj;
	struct gpuvm_exec exec;
	struct xobj o[4];
	unsigned int i;
	int ret = -1;

	xobj_init_array(o, 4);
	for (i = 0; i < 4; i++)
		array[i] = &o[i].base;
	gpuvm_exec_init(&exec, 0, 0);
	gpuvm_exec_until_all_locked(&exec) {
		ret = gpuvm_exec_prepare_array(&exec, array, 4, 0);
		gpuvm_exec_retry_on_contention(&exec);
	}
	assert_int_equal(ret, 0);
	gpuvm_exec_unlock_obj(&exec, &o[1].base);
	assert_false(LOCKED(&o[1]));
	assert_int_equal(REFS(&o[1]), 1);
	assert_int_equal(exec.num_objects, 3);
	assert_ptr_equal(gpuvm_exec_obj(&exec, 0), &o[0].base);
	assert_ptr_equal(gpuvm_exec_obj(&exec, 1), &o[2].base);
	assert_ptr_equal(gpuvm_exec_obj(&exec, 2), &o[3].base);
	assert_null(gpuvm_exec_obj(&exec, 3));

	i = 0;
	gpuvm_exec_for_each_locked_object(&exec, obj) {
		assert_ptr_equal(obj, array[i == 0 ? 0 : i + 1]);
		i++;
	}
	assert_int_equal(i, 3);
	i = 0;
	gpuvm_exec_for_each_locked_object_reverse(&exec, obj) {
		assert_ptr_equal(obj, array[3 - i - (i == 2)]);
		i++;
	}
	assert_int_equal(i, 3);

	gpuvm_exec_fini(&exec);
	assert_all_unlocked_refs_one(o, 4);
	xobj_fini_array(o, 4);
}

static void test_exec_iterators_empty(void **state)
{
	struct gpuvm_gem_object *obj;
	struct gpuvm_exec exec;
	unsigned int n = 0;

	gpuvm_exec_init(&exec, 0, 0);
	gpuvm_exec_for_each_locked_object(&exec, obj)
		n++;
	gpuvm_exec_for_each_locked_object_reverse(&exec, obj)
		n++;
	assert_int_equal(n, 0);
	gpuvm_exec_fini(&exec);
}

static void test_exec_ticket_accessor(void **state)
{
	struct gpuvm_exec exec;

	gpuvm_exec_init(&exec, 0, 0);
	assert_ptr_equal(gpuvm_exec_ticket(&exec), &exec.ticket);
	gpuvm_exec_fini(&exec);
}

/* Locking before the loop: the ticket does not exist yet. */
static void test_exec_lock_outside_loop_warns(void **state)
{
	struct gpuvm_exec exec;
	struct xobj o;

	xobj_init(&o);
	gpuvm_exec_init(&exec, 0, 0);
	assert_int_equal(gpuvm_exec_lock_obj(&exec, &o.base), -EINVAL);
	assert_message_has(GPUVM_RULE_EXEC_OUTSIDE_LOOP, "gpuvm_exec_lock_obj");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_EXEC_OUTSIDE_LOOP),
			 1);
	assert_false(LOCKED(&o));
	assert_int_equal(REFS(&o), 1);
	gpuvm_exec_fini(&exec);
	xobj_fini(&o);
}

/* After the loop the acquire phase is over: locking more is reported. */
static void test_exec_lock_after_loop_warns(void **state)
{
	struct gpuvm_exec exec;
	struct xobj a, b;
	int ret = -1;

	xobj_init(&a);
	xobj_init(&b);
	gpuvm_exec_init(&exec, 0, 0);
	gpuvm_exec_until_all_locked(&exec) {
		ret = gpuvm_exec_lock_obj(&exec, &a.base);
		gpuvm_exec_retry_on_contention(&exec);
	}
	assert_int_equal(ret, 0);
	assert_int_equal(harness_warnings(NULL), 0);

	ret = gpuvm_exec_lock_obj(&exec, &b.base);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_WW_ACQUIRE_DONE), 1);
	assert_int_equal(ret, 0); /* reported, then carried out */
	assert_int_equal(exec.num_objects, 2);
	gpuvm_exec_fini(&exec);
	assert_all_unlocked_refs_one(&a, 1);
	assert_all_unlocked_refs_one(&b, 1);
	xobj_fini(&a);
	xobj_fini(&b);
}

/* The loop may be re-run with a fresh transaction from inside the body. */
static void test_exec_retry_after_reinit(void **state)
{
	struct gpuvm_exec exec;
	unsigned int passes = 0;
	unsigned long stamp1 = 0;
	struct xobj o;
	int ret = -1;

	xobj_init(&o);
	gpuvm_exec_init(&exec, 0, 0);
	gpuvm_exec_until_all_locked(&exec) {
		passes++;
		ret = gpuvm_exec_lock_obj(&exec, &o.base);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		if (passes == 1) {
			stamp1 = exec.ticket.stamp;
			gpuvm_exec_fini(&exec);
			assert_false(LOCKED(&o));
			gpuvm_exec_init(&exec, 0, 0);
			gpuvm_exec_retry(&exec);
		}
	}
	assert_int_equal(ret, 0);
	assert_int_equal(passes, 2);
	assert_true(exec.ticket.stamp != stamp1); /* a new transaction */
	assert_true(LOCKED(&o));
	gpuvm_exec_fini(&exec);
	assert_int_equal(harness_warnings(NULL), 0);
	xobj_fini(&o);
}

static void test_exec_retry_without_reinit_warns(void **state)
{
	struct gpuvm_exec exec;
	unsigned int passes = 0;
	struct xobj o;
	int ret = -1;

	xobj_init(&o);
	gpuvm_exec_init(&exec, 0, 0);
	gpuvm_exec_until_all_locked(&exec) {
		passes++;
		ret = gpuvm_exec_lock_obj(&exec, &o.base);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		if (passes == 1) {
			gpuvm_exec_unlock_obj(&exec, &o.base);
			gpuvm_exec_retry(&exec);
		}
	}
	/* Back at the loop head with no contention: the loop just ends. */
	assert_int_equal(harness_take_warnings(GPUVM_RULE_EXEC_RETRY), 1);
	assert_int_equal(passes, 1);
	assert_int_equal(ret, 0);
	assert_int_equal(exec.num_objects, 0);
	gpuvm_exec_fini(&exec);
	xobj_fini(&o);
}

/* ==== contention ======================================================== */

/*
 * A second thread with an older ticket holds B: locking B while holding
 * A dies (wait-die), the retry unlocks A, the next pass slow-locks B first
 * (waiting for the holder) and tracks it as prelocked, then the body's
 * lock of B just consumes the prelocked state.
 */
static void test_exec_contention_two_threads(void **state)
{
	struct gpuvm_exec exec;
	struct holder h;
	struct xobj a, b;
	unsigned int passes = 0, deadlocks = 0;
	unsigned long stamps[3] = { 0 };
	int ret = -1, refs_b_contended = 0, refs_b_prelocked = 0;
	bool prelocked_seen = false, order_ok = false;

	xobj_init(&a);
	xobj_init(&b);
	holder_start(&h, b.base.resv, true, false);

	gpuvm_exec_init(&exec, 0, 0);
	gpuvm_exec_until_all_locked(&exec) {
		if (passes < 3)
			stamps[passes] = exec.ticket.stamp;
		passes++;
		ret = gpuvm_exec_lock_obj(&exec, &a.base);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		if (passes == 2) {
			prelocked_seen = exec.prelocked == &b.base;
			order_ok = exec.num_objects == 2 &&
				   exec.objects[0] == &b.base &&
				   exec.objects[1] == &a.base;
			refs_b_prelocked = REFS(&b);
		}

		ret = gpuvm_exec_lock_obj(&exec, &b.base);
		if (ret == -EDEADLK) {
			deadlocks++;
			refs_b_contended = REFS(&b);
			assert_ptr_equal(exec.contended, &b.base);
			holder_release_async(&h);
		}
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
	}
	holder_join(&h);

	assert_int_equal(ret, 0);
	assert_int_equal(passes, 2);
	assert_int_equal(deadlocks, 1);
	assert_true(h.stamp != stamps[0]);
	assert_int_equal(stamps[0], stamps[1]); /* the ticket is kept */
	assert_int_equal(refs_b_contended, 2); /* own + contended */
	assert_true(prelocked_seen);
	assert_true(order_ok);
	assert_int_equal(refs_b_prelocked, 3); /* own + entry + prelocked */
	assert_null(exec.prelocked);
	assert_null(exec.contended);
	assert_int_equal(exec.num_objects, 2);
	assert_int_equal(tracked(&exec, &b), 1);
	assert_int_equal(REFS(&a), 2);
	assert_int_equal(REFS(&b), 2);
	assert_true(LOCKED(&a) && LOCKED(&b));

	gpuvm_exec_fini(&exec);
	assert_false(LOCKED(&a) || LOCKED(&b));
	xobj_fini(&a);
	xobj_fini(&b);
}

/* Run a pass structure with injected -EDEADLK; count passes and check
 * that every pass ends with all objects tracked exactly once. */
static void test_exec_contention_injected(void **state)
{
	struct gpuvm_gem_object *array[6];
	struct gpuvm_exec exec;
	struct xobj o[6];
	unsigned int passes = 0, deadlocks = 0, i;
	unsigned long stamp = 0;
	bool stamp_kept = true;
	int ret = -1;

	xobj_init_array(o, 6);
	for (i = 0; i < 6; i++)
		array[i] = &o[i].base;

	gpuvm_exec_init(&exec, GPUVM_EXEC_INTERRUPTIBLE_WAIT, 0);
	gpuvm_exec_until_all_locked(&exec) {
		if (++passes == 1) {
			stamp = exec.ticket.stamp;
			gpuvm_ww_mutex_inject_deadlock(&exec.ticket, 2);
		}
		stamp_kept &= exec.ticket.stamp == stamp;
		ret = gpuvm_exec_prepare_array(&exec, array, 6, 1);
		deadlocks += ret == -EDEADLK;
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
	}
	assert_int_equal(ret, 0);
	assert_true(deadlocks >= 1);
	assert_int_equal(passes, deadlocks + 1);
	assert_true(stamp_kept);
	assert_null(exec.contended);
	assert_null(exec.prelocked);
	assert_int_equal(exec.num_objects, 6);
	for (i = 0; i < 6; i++) {
		assert_int_equal(tracked(&exec, &o[i]), 1);
		assert_true(LOCKED(&o[i]));
		assert_int_equal(REFS(&o[i]), 2);
	}
	gpuvm_exec_fini(&exec);
	assert_all_unlocked_refs_one(o, 6);
	xobj_fini_array(o, 6);
}

/*
 * The body never locks the prelocked object again: it stays locked and
 * tracked once, and fini drops both its references.
 */
static void test_exec_prelocked_not_relocked(void **state)
{
	struct gpuvm_exec exec;
	struct holder h;
	struct xobj a, b;
	unsigned int passes = 0;
	int ret = -1;

	xobj_init(&a);
	xobj_init(&b);
	holder_start(&h, b.base.resv, true, false);
	gpuvm_exec_init(&exec, 0, 0);
	gpuvm_exec_until_all_locked(&exec) {
		passes++;
		ret = gpuvm_exec_lock_obj(&exec, &a.base);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		if (passes == 1) {
			ret = gpuvm_exec_lock_obj(&exec, &b.base);
			holder_release_async(&h);
			gpuvm_exec_retry_on_contention(&exec);
		}
	}
	holder_join(&h);
	assert_int_equal(ret, 0);
	assert_int_equal(passes, 2);
	assert_ptr_equal(exec.prelocked, &b.base);
	assert_int_equal(REFS(&b), 3);
	assert_true(LOCKED(&b));
	gpuvm_exec_fini(&exec);
	assert_null(exec.prelocked);
	assert_false(LOCKED(&a) || LOCKED(&b));
	xobj_fini(&a);
	xobj_fini(&b);
}

/* Unlocking the prelocked object forgets it; locking it again locks it. */
static void test_exec_unlock_prelocked(void **state)
{
	struct gpuvm_exec exec;
	struct holder h;
	struct xobj a, b;
	unsigned int passes = 0;
	bool relocked = false, unlocked = false;
	int ret = -1, refs_after_unlock = 0;

	xobj_init(&a);
	xobj_init(&b);
	holder_start(&h, b.base.resv, true, false);
	gpuvm_exec_init(&exec, 0, 0);
	gpuvm_exec_until_all_locked(&exec) {
		passes++;
		ret = gpuvm_exec_lock_obj(&exec, &a.base);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		if (passes == 2) {
			gpuvm_exec_unlock_obj(&exec, &b.base);
			unlocked = !LOCKED(&b) && !exec.prelocked;
			refs_after_unlock = REFS(&b);
		}
		ret = gpuvm_exec_lock_obj(&exec, &b.base);
		if (ret == -EDEADLK)
			holder_release_async(&h);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		relocked = LOCKED(&b);
	}
	holder_join(&h);
	assert_int_equal(ret, 0);
	assert_int_equal(passes, 2);
	assert_true(unlocked);
	assert_int_equal(refs_after_unlock, 1);
	assert_true(relocked);
	assert_int_equal(tracked(&exec, &b), 1);
	assert_int_equal(REFS(&b), 2);
	gpuvm_exec_fini(&exec);
	assert_false(LOCKED(&a) || LOCKED(&b));
	xobj_fini(&a);
	xobj_fini(&b);
}

/* Breaking out with a contention pending: fini drops its reference. */
static void test_exec_fini_with_contention_pending(void **state)
{
	struct gpuvm_exec exec;
	struct holder h;
	struct xobj a, b;
	int ret = -1, refs_b = 0;

	xobj_init(&a);
	xobj_init(&b);
	holder_start(&h, b.base.resv, true, false);
	gpuvm_exec_init(&exec, 0, 0);
	gpuvm_exec_until_all_locked(&exec) {
		ret = gpuvm_exec_lock_obj(&exec, &a.base);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		ret = gpuvm_exec_lock_obj(&exec, &b.base);
		refs_b = REFS(&b);
		break; /* bail out instead of retrying */
	}
	assert_int_equal(ret, -EDEADLK);
	assert_int_equal(refs_b, 2);
	gpuvm_exec_fini(&exec);
	holder_join(&h);
	assert_all_unlocked_refs_one(&a, 1);
	assert_int_equal(REFS(&b), 1);
	xobj_fini(&a);
	xobj_fini(&b);
}

#ifndef GPUVM_EXEC_PORTABLE_LOOP
/* The GNU construct: retry from inside a nested loop and a switch. */
static void test_exec_retry_from_nested_loop(void **state)
{
	struct gpuvm_exec exec;
	struct xobj o[4];
	unsigned int passes = 0, i;
	int ret = -1;

	xobj_init_array(o, 4);
	gpuvm_exec_init(&exec, 0, 0);
	gpuvm_exec_until_all_locked(&exec) {
		if (++passes == 1)
			gpuvm_ww_mutex_inject_deadlock(&exec.ticket, 2);
		for (i = 0; i < 4; i++) {
			switch (i) {
			default:
				ret = gpuvm_exec_lock_obj(&exec, &o[i].base);
				gpuvm_exec_retry_on_contention(&exec);
			}
			if (ret)
				goto out;
		}
	}
out:
	assert_int_equal(ret, 0);
	assert_true(passes > 1);
	assert_int_equal(exec.num_objects, 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(tracked(&exec, &o[i]), 1);
	gpuvm_exec_fini(&exec);
	assert_all_unlocked_refs_one(o, 4);
	assert_int_equal(harness_warnings(NULL), 0);
	xobj_fini_array(o, 4);
}
#else
/*
 * The portable construct: a retry inside a nested loop continues that
 * loop. The next lock is refused (reported, -EDEADLK, nothing locked) and
 * the pass still ends in a restart.
 */
static void test_exec_retry_from_nested_loop(void **state)
{
	struct gpuvm_exec exec;
	struct holder h;
	struct xobj o[3];
	unsigned int passes = 0, i, misplaced = 0;
	int ret = -1;

	xobj_init_array(o, 3);
	holder_start(&h, o[1].base.resv, true, false);
	gpuvm_exec_init(&exec, 0, 0);
	gpuvm_exec_until_all_locked(&exec) {
		passes++;
		for (i = 0; i < 3; i++) {
			ret = gpuvm_exec_lock_obj(&exec, &o[i].base);
			if (ret == -EDEADLK && i == 1)
				holder_release_async(&h);
			misplaced += ret == -EDEADLK && i == 2;
			gpuvm_exec_retry_on_contention(&exec); /* misplaced */
			if (ret)
				break;
		}
	}
	holder_join(&h);
	assert_int_equal(ret, 0);
	assert_int_equal(passes, 2);
	assert_int_equal(misplaced, 1);
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_EXEC_CONTENTION_IGNORED), 1);
	assert_int_equal(exec.num_objects, 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(tracked(&exec, &o[i]), 1);
	gpuvm_exec_fini(&exec);
	assert_all_unlocked_refs_one(o, 3);
	xobj_fini_array(o, 3);
}
#endif

/* ==== interrupted waits ================================================= */

/* A pending interrupt makes the interruptible wait for a held lock fail. */
static void test_exec_interruptible_lock(void **state)
{
	struct gpuvm_exec exec;
	struct holder h;
	struct xobj a;
	int ret = -1;

	xobj_init(&a);
	holder_start(&h, a.base.resv, false, false);
	gpuvm_exec_init(&exec, GPUVM_EXEC_INTERRUPTIBLE_WAIT, 0);
	gpuvm_exec_until_all_locked(&exec) {
		gpuvm_interrupt_thread(pthread_self());
		ret = gpuvm_exec_lock_obj(&exec, &a.base);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
	}
	assert_int_equal(ret, -EINTR);
	assert_null(exec.contended);
	assert_int_equal(exec.num_objects, 0);
	assert_int_equal(REFS(&a), 1);
	gpuvm_exec_fini(&exec);
	holder_join(&h);
	assert_all_unlocked_refs_one(&a, 1);
	xobj_fini(&a);
}

/* Without GPUVM_EXEC_INTERRUPTIBLE_WAIT the interrupt is ignored (and
 * stays pending). */
static void test_exec_non_interruptible_ignores_interrupt(void **state)
{
	struct gpuvm_exec exec;
	struct holder h;
	struct xobj a;
	int ret = -1;

	xobj_init(&a);
	holder_start(&h, a.base.resv, false, true);
	gpuvm_exec_init(&exec, 0, 0);
	gpuvm_exec_until_all_locked(&exec) {
		gpuvm_interrupt_thread(pthread_self());
		ret = gpuvm_exec_lock_obj(&exec, &a.base);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
	}
	assert_int_equal(ret, 0);
	assert_true(LOCKED(&a));
	gpuvm_exec_fini(&exec);
	holder_join(&h);
	/* Still pending: consumed here. */
	assert_int_equal(gpuvm_parker_take_interrupt(gpuvm_parker_self()),
			 -EINTR);
	assert_all_unlocked_refs_one(&a, 1);
	xobj_fini(&a);
}

/*
 * The slow lock of the contended object at the start of the next pass is
 * interrupted: -EINTR, the contention is cleared and its reference
 * dropped, nothing is locked.
 */
static void test_exec_interrupted_contended_lock(void **state)
{
	struct gpuvm_exec exec;
	struct holder h;
	struct xobj a, b;
	unsigned int passes = 0;
	int ret = -1;

	xobj_init(&a);
	xobj_init(&b);
	holder_start(&h, b.base.resv, true, false);
	gpuvm_exec_init(&exec, GPUVM_EXEC_INTERRUPTIBLE_WAIT, 0);
	gpuvm_exec_until_all_locked(&exec) {
		if (++passes == 2)
			gpuvm_interrupt_thread(pthread_self());
		ret = gpuvm_exec_lock_obj(&exec, &a.base);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		ret = gpuvm_exec_lock_obj(&exec, &b.base);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
	}
	assert_int_equal(ret, -EINTR);
	assert_int_equal(passes, 2);
	assert_null(exec.contended);
	assert_null(exec.prelocked);
	assert_int_equal(exec.num_objects, 0);
	assert_false(LOCKED(&a));
	assert_int_equal(REFS(&a), 1);
	assert_int_equal(REFS(&b), 1);
	gpuvm_exec_fini(&exec);
	holder_join(&h);
	assert_all_unlocked_refs_one(&b, 1);
	xobj_fini(&a);
	xobj_fini(&b);
}

/* ==== allocation failures =============================================== */

/* The array allocation of init fails: the first lock retries it. */
static void test_exec_init_alloc_failure_deferred(void **state)
{
	struct gpuvm_exec exec;
	struct xobj a;
	int ret = -1;

	xobj_init(&a);
	gpuvm_alloc_fail_nth(1);
	gpuvm_exec_init(&exec, 0, 4);
	assert_true(gpuvm_alloc_fault_fired());
	assert_null(exec.objects);
	assert_int_equal(exec.max_objects, 0);

	gpuvm_exec_until_all_locked(&exec) {
		gpuvm_alloc_fail_nth(1);
		ret = gpuvm_exec_lock_obj(&exec, &a.base);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
	}
	assert_int_equal(ret, -ENOMEM);
	assert_false(LOCKED(&a));
	assert_int_equal(REFS(&a), 1);
	assert_int_equal(exec.num_objects, 0);
	gpuvm_exec_fini(&exec);

	/* A second try without a fault works. */
	gpuvm_exec_init(&exec, 0, 4);
	gpuvm_exec_until_all_locked(&exec) {
		ret = gpuvm_exec_lock_obj(&exec, &a.base);
		gpuvm_exec_retry_on_contention(&exec);
	}
	assert_int_equal(ret, 0);
	gpuvm_exec_fini(&exec);
	xobj_fini(&a);
}

/*
 * The contended object is locked at the start of the next pass but cannot
 * be tracked (the array never got allocated): -ENOMEM, the contended
 * object is unlocked and its reference dropped. To get contention with
 * an empty array, the ticket holds a lock the exec does not track.
 */
static void test_exec_contended_append_enomem(void **state)
{
	struct gpuvm_dma_resv raw;
	struct gpuvm_exec exec;
	struct holder h;
	struct xobj a, b;
	unsigned int passes = 0;
	int ret = -1, raw_ret = -1;

	xobj_init(&a);
	xobj_init(&b);
	gpuvm_dma_resv_init(&raw);
	holder_start(&h, b.base.resv, true, false);

	gpuvm_alloc_fail_nth(1);
	gpuvm_exec_init(&exec, 0, 0);
	assert_int_equal(exec.max_objects, 0);
	gpuvm_exec_until_all_locked(&exec) {
		if (++passes == 1) {
			raw_ret = gpuvm_dma_resv_lock(&raw,
						      gpuvm_exec_ticket(&exec));
			ret = gpuvm_exec_lock_obj(&exec, &b.base);
			gpuvm_dma_resv_unlock(&raw);
			holder_release_async(&h);
			gpuvm_exec_retry_on_contention(&exec);
			break;
		}
		gpuvm_alloc_fail_nth(1);
		ret = gpuvm_exec_lock_obj(&exec, &a.base);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
	}
	assert_int_equal(raw_ret, 0);
	assert_int_equal(passes, 2);
	assert_int_equal(ret, -ENOMEM);
	assert_true(gpuvm_alloc_fault_fired());
	assert_null(exec.contended);
	assert_null(exec.prelocked);
	assert_int_equal(exec.num_objects, 0);
	assert_false(LOCKED(&a));
	holder_join(&h);
	assert_false(LOCKED(&b));
	assert_int_equal(REFS(&a), 1);
	assert_int_equal(REFS(&b), 1);
	gpuvm_exec_fini(&exec);
	gpuvm_dma_resv_fini(&raw);
	xobj_fini(&a);
	xobj_fini(&b);
}

#define GROW_OBJECTS 5
#define GROW_HINT 2

struct grow_arg {
	struct xobj o[GROW_OBJECTS];
	unsigned int locked_at_fail; /* objects tracked when -ENOMEM came */
	bool state_ok; /* the state at the failure was as documented */
};

static int grow_lock_each(struct gpuvm_exec *exec, struct grow_arg *g,
			  unsigned int *failed)
{
	unsigned int i;
	int ret;

	for (i = 0; i < GROW_OBJECTS; i++) {
		ret = gpuvm_exec_lock_obj(exec, &g->o[i].base);
		if (ret) {
			*failed = i;
			return ret;
		}
	}
	return 0;
}

static int grow_op(void *arg)
{
	struct grow_arg *g = arg;
	struct gpuvm_exec exec;
	unsigned int failed = 0, i;
	int ret = -1;

	g->state_ok = true;
	g->locked_at_fail = 0;
	gpuvm_exec_init(&exec, 0, GROW_HINT);
	gpuvm_exec_until_all_locked(&exec) {
		ret = grow_lock_each(&exec, g, &failed);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
	}
	if (ret == -ENOMEM) {
		/* The failing object is neither locked nor referenced; the
		 * ones before it are locked and tracked. */
		g->locked_at_fail = exec.num_objects;
		g->state_ok &= exec.num_objects == failed;
		g->state_ok &= !LOCKED(&g->o[failed]);
		g->state_ok &= REFS(&g->o[failed]) == 1;
		for (i = 0; i < failed; i++)
			g->state_ok &= LOCKED(&g->o[i]) && REFS(&g->o[i]) == 2;
	} else if (ret == 0) {
		g->state_ok &= exec.num_objects == GROW_OBJECTS;
		g->state_ok &= exec.max_objects >= GROW_OBJECTS;
	}
	gpuvm_exec_fini(&exec);
	return ret;
}

static void grow_check(void *arg, unsigned long n, int ret)
{
	struct grow_arg *g = arg;

	/* The first allocation is init's: its failure is retried by the
	 * first lock and does not surface. */
	if (n == 1)
		assert_int_equal(ret, 0);
	else
		assert_int_equal(ret, -ENOMEM);
	if (ret)
		assert_int_equal(g->locked_at_fail, GROW_HINT);
	assert_true(g->state_ok);
	assert_all_unlocked_refs_one(g->o, GROW_OBJECTS);
}

/* Lock more objects than the size hint, failing each allocation in turn. */
static void test_exec_fault_sweep_growth(void **state)
{
	struct grow_arg g;
	long live = gpuvm_alloc_live();
	int points;

	xobj_init_array(g.o, GROW_OBJECTS);
	points = gpuvm_alloc_fault_sweep(grow_op, grow_check, &g, 100);
	assert_int_equal(points, 2); /* init, growth */
	assert_true(g.state_ok);
	gpuvm_rcu_barrier();
	assert_int_equal(gpuvm_alloc_live(), live);
	xobj_fini_array(g.o, GROW_OBJECTS);
}

struct fence_arg {
	struct xobj a, b;
	bool state_ok;
	unsigned int runs;
};

/* Fresh objects per run, so every run makes the same allocations. */
static int fence_op(void *arg)
{
	struct fence_arg *f = arg;
	struct gpuvm_exec exec;
	int ret = -1;

	f->runs++;
	f->state_ok = true;
	xobj_init(&f->a);
	xobj_init(&f->b);
	gpuvm_exec_init(&exec, GPUVM_EXEC_IGNORE_DUPLICATES, 0);
	gpuvm_exec_until_all_locked(&exec) {
		ret = gpuvm_exec_prepare_obj(&exec, &f->a.base, 1);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret) {
			f->state_ok &= exec.num_objects == 0;
			break;
		}
		ret = gpuvm_exec_prepare_obj(&exec, &f->b.base, 4);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret) {
			f->state_ok &= exec.num_objects == 1;
			f->state_ok &= LOCKED(&f->a) && REFS(&f->a) == 2;
			break;
		}
		/* A duplicate reserves more; a failure unlocks it fully. */
		ret = gpuvm_exec_prepare_obj(&exec, &f->b.base, 64);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret) {
			f->state_ok &= exec.num_objects == 1;
			f->state_ok &= exec.objects[0] == &f->a.base;
			break;
		}
	}
	if (ret) {
		f->state_ok &= !LOCKED(&f->b) && REFS(&f->b) == 1;
	} else {
		f->state_ok &= exec.num_objects == 2;
		f->state_ok &= LOCKED(&f->a) && LOCKED(&f->b);
	}
	gpuvm_exec_fini(&exec);

	f->state_ok &= !LOCKED(&f->a) && REFS(&f->a) == 1;
	f->state_ok &= !LOCKED(&f->b) && REFS(&f->b) == 1;
	gpuvm_gem_object_put(&f->a.base);
	gpuvm_gem_object_put(&f->b.base);
	f->state_ok &= f->a.freed == 1 && f->b.freed == 1;
	return ret;
}

static void fence_check(void *arg, unsigned long n, int ret)
{
	struct fence_arg *f = arg;

	/* n == 1 is init's array: deferred and retried, not surfaced. */
	assert_int_equal(ret, n == 1 ? 0 : -ENOMEM);
	assert_true(f->state_ok);
}

/* prepare_obj's fence reservation fails at each allocation in turn. */
static void test_exec_fault_sweep_prepare(void **state)
{
	struct fence_arg f = { 0 };
	long live = gpuvm_alloc_live();
	int points;

	points = gpuvm_alloc_fault_sweep(fence_op, fence_check, &f, 100);
	/* init's array, a's list, b's list, b's list grown */
	assert_int_equal(points, 4);
	assert_int_equal(f.runs, 5);
	assert_true(f.state_ok);
	gpuvm_rcu_barrier();
	assert_int_equal(gpuvm_alloc_live(), live);
}

/* ==== two transactions racing =========================================== */

#define RACE_OBJECTS 8
#define RACE_ROUNDS 300

struct race {
	struct xobj o[RACE_OBJECTS];
	unsigned long passes[2];
	unsigned int errors[2];
	unsigned int stamp_changes[2];
	unsigned int incomplete[2];
};

static void race_worker(unsigned int t, void *arg)
{
	struct race *r = arg;
	struct gpuvm_exec exec;
	unsigned int round, i;
	int ret;

	for (round = 0; round < RACE_ROUNDS; round++) {
		unsigned long stamp = 0;
		unsigned int pass = 0;

		ret = -1;
		gpuvm_exec_init(&exec, GPUVM_EXEC_IGNORE_DUPLICATES, 0);
		gpuvm_exec_until_all_locked(&exec) {
			if (pass++ == 0) {
				stamp = exec.ticket.stamp;
				if (round % 3 == 0)
					gpuvm_ww_mutex_inject_deadlock(
						&exec.ticket, 3);
			}
			r->stamp_changes[t] += exec.ticket.stamp != stamp;
			/* Thread 0 ascending, thread 1 descending. */
			for (i = 0; i < RACE_OBJECTS; i++) {
				unsigned int k = t ? RACE_OBJECTS - 1 - i : i;

				ret = gpuvm_exec_prepare_obj(&exec,
							     &r->o[k].base, 1);
				if (ret)
					break;
			}
			gpuvm_exec_retry_on_contention(&exec);
			if (ret)
				break;
		}
		r->passes[t] += pass;
		r->errors[t] += ret != 0;
		r->incomplete[t] += exec.num_objects != RACE_OBJECTS;
		gpuvm_exec_fini(&exec);
	}
}

static void test_exec_two_threads_opposite_order(void **state)
{
	struct race r;

	memset(&r, 0, sizeof(r));
	xobj_init_array(r.o, RACE_OBJECTS);
	harness_run_threads(2, race_worker, &r);
	assert_int_equal(r.errors[0] + r.errors[1], 0);
	assert_int_equal(r.incomplete[0] + r.incomplete[1], 0);
	assert_int_equal(r.stamp_changes[0] + r.stamp_changes[1], 0);
	assert_true(r.passes[0] >= RACE_ROUNDS && r.passes[1] >= RACE_ROUNDS);
	assert_all_unlocked_refs_one(r.o, RACE_OBJECTS);
	xobj_fini_array(r.o, RACE_OBJECTS);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		/* the kernel's drm_exec KUnit cases */
		exec_test(test_exec_sanitycheck),
		exec_test(test_exec_lock),
		exec_test(test_exec_lock_unlock),
		exec_test(test_exec_duplicates),
		exec_test(test_exec_prepare),
		exec_test(test_exec_prepare_array),
		exec_test(test_exec_multiple_loops),
		exec_test(test_exec_early_put),
		/* duplicates */
		exec_test(test_exec_duplicates_not_ignored),
		exec_test(test_exec_duplicates_shared_resv),
		/* basics */
		exec_test(test_exec_init_sizes),
		exec_test(test_exec_unlock_untracked_is_noop),
		exec_test(test_exec_unlock_middle_keeps_order),
		exec_test(test_exec_iterators_empty),
		exec_test(test_exec_ticket_accessor),
		exec_test(test_exec_lock_outside_loop_warns),
		exec_test(test_exec_lock_after_loop_warns),
		exec_test(test_exec_retry_after_reinit),
		exec_test(test_exec_retry_without_reinit_warns),
		/* contention */
		exec_test(test_exec_contention_two_threads),
		exec_test(test_exec_contention_injected),
		exec_test(test_exec_prelocked_not_relocked),
		exec_test(test_exec_unlock_prelocked),
		exec_test(test_exec_fini_with_contention_pending),
		exec_test(test_exec_retry_from_nested_loop),
		/* interrupted waits */
		exec_test(test_exec_interruptible_lock),
		exec_test(test_exec_non_interruptible_ignores_interrupt),
		exec_test(test_exec_interrupted_contended_lock),
		/* allocation failures */
		exec_test(test_exec_init_alloc_failure_deferred),
		exec_test(test_exec_contended_append_enomem),
		exec_test(test_exec_fault_sweep_growth),
		exec_test(test_exec_fault_sweep_prepare),
		/* two threads */
		exec_test(test_exec_two_threads_opposite_order),
	};

	return harness_run("gpuvm/exec-" LOOP_MODE, tests, argc, argv);
}
