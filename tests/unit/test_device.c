// SPDX-License-Identifier: MIT
/*
 * API contracts of device.h: binding and the bind generation, bound
 * scopes, device resources (order, access, try_access, drop before and
 * after unbind, drop racing an unbind), revocables, the DMA-mapping
 * registry, the misuse reports, and fault sweeps over every allocating
 * call.
 */
#include <errno.h>
#include <string.h>
#include <urcu/urcu-memb.h>

#include <gpuvm/testing.h>
#include "device_fixture.h"

/* ---- helpers ------------------------------------------------------------ */

/* What release callbacks record. */
struct rel_log {
	int order[16];
	int n; /* atomic */
	int count[16]; /* atomic, per id */
};

struct rel_item {
	struct rel_log *log;
	int id;
	unsigned int seq; /* dev_next_seq() at release */
	bool freed; /* the owner "freed" it (old-semantics test) */
	bool used_after_free;
};

static void rel_item_release(void *data)
{
	struct rel_item *it = data;
	int slot = __atomic_fetch_add(&it->log->n, 1, __ATOMIC_ACQ_REL);

	if (slot < 16)
		it->log->order[slot] = it->id;
	__atomic_add_fetch(&it->log->count[it->id], 1, __ATOMIC_ACQ_REL);
	if (__atomic_load_n(&it->freed, __ATOMIC_ACQUIRE))
		it->used_after_free = true;
	it->seq = dev_next_seq();
}

static int released(struct rel_log *log, int id)
{
	return __atomic_load_n(&log->count[id], __ATOMIC_ACQUIRE);
}

static struct gpuvm_devres *new_devres(struct gpuvm_device *dev,
				       struct rel_item *it)
{
	struct gpuvm_device_bound b;
	struct gpuvm_devres *dr;

	assert_int_equal(gpuvm_device_bound_enter(dev, &b), 0);
	dr = gpuvm_devres_new(&b, it, rel_item_release);
	gpuvm_device_bound_exit(&b);
	assert_false(gpuvm_is_err(dr));
	return dr;
}

struct unbind_thread {
	struct gpuvm_device *dev;
	int ret;
	int done;
};

static void *unbind_main(void *p)
{
	struct unbind_thread *u = p;

	u->ret = gpuvm_device_unbind(u->dev);
	dev_set_flag(&u->done);
	return NULL;
}

/* ---- binding and bound scopes ------------------------------------------- */

static void test_device_bind_unbind_generation(void **state)
{
	struct gpuvm_device dev;

	gpuvm_device_init(&dev, "dev");
	assert_false(gpuvm_device_is_bound(&dev));
	assert_int_equal(gpuvm_device_generation(&dev), 0);
	assert_int_equal(gpuvm_device_unbind(&dev), -ENXIO);

	assert_int_equal(gpuvm_device_bind(&dev), 0);
	assert_true(gpuvm_device_is_bound(&dev));
	assert_int_equal(gpuvm_device_generation(&dev), 1);
	assert_int_equal(gpuvm_device_bind(&dev), -EBUSY);
	assert_int_equal(gpuvm_device_generation(&dev), 1);

	assert_int_equal(gpuvm_device_unbind(&dev), 0);
	assert_false(gpuvm_device_is_bound(&dev));
	assert_int_equal(gpuvm_device_generation(&dev), 1);
	assert_int_equal(gpuvm_device_unbind(&dev), -ENXIO);

	assert_int_equal(gpuvm_device_bind(&dev), 0);
	assert_int_equal(gpuvm_device_generation(&dev), 2);
	assert_int_equal(gpuvm_device_unbind(&dev), 0);
	gpuvm_device_fini(&dev);
}

static void test_device_bound_enter_fails_unbound(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b;

	gpuvm_device_init(&dev, "dev");
	memset(&b, 0x5a, sizeof(b));
	assert_int_equal(gpuvm_device_bound_enter(&dev, &b), -ENXIO);
	assert_null(b.dev);
	assert_int_equal(gpuvm_lock_held_count(), 0);

	gpuvm_device_bind(&dev);
	gpuvm_device_unbind(&dev);
	assert_int_equal(gpuvm_device_bound_enter(&dev, &b), -ENXIO);
	assert_null(b.dev);
	gpuvm_device_fini(&dev);
}

static void test_device_bound_scopes_nest(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound outer, inner;

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	assert_int_equal(gpuvm_device_bound_enter(&dev, &outer), 0);
	assert_int_equal(gpuvm_device_bound_enter(&dev, &inner), 0);
	assert_ptr_equal(outer.dev, &dev);
	assert_int_equal(outer.generation, 1);
	assert_int_equal(inner.generation, 1);
	assert_int_equal(gpuvm_lock_held_count(), 2);
	/* Out of order is allowed. */
	gpuvm_device_bound_exit(&outer);
	gpuvm_device_bound_exit(&inner);
	assert_null(outer.dev);
	assert_int_equal(gpuvm_lock_held_count(), 0);
	assert_int_equal(gpuvm_device_unbind(&dev), 0);
	gpuvm_device_fini(&dev);
}

static void test_device_bound_exit_twice_warns(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b;

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	gpuvm_device_bound_enter(&dev, &b);
	gpuvm_device_bound_exit(&b);
	gpuvm_device_bound_exit(&b);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DEVICE_TOKEN), 1);
	/* The count was not decremented twice: unbind does not hang and a
	 * new scope still works. */
	assert_int_equal(gpuvm_device_bound_enter(&dev, &b), 0);
	gpuvm_device_bound_exit(&b);
	assert_int_equal(gpuvm_device_unbind(&dev), 0);
	gpuvm_device_fini(&dev);
}

static void test_device_unbind_waits_for_bound_scope(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b, late;
	struct unbind_thread u = { .dev = &dev };
	struct rel_log log = { 0 };
	struct rel_item it = { .log = &log, .id = 1 };
	pthread_t t;

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	assert_int_equal(gpuvm_device_bound_enter(&dev, &b), 0);
	assert_int_equal(
		gpuvm_devm_add_action_or_reset(&b, rel_item_release, &it), 0);

	gpuvm_hook_count(GPUVM_HOOK_UNBIND_WAIT);
	t = dev_start(unbind_main, &u);
	assert_true(gpuvm_hook_wait_hits(GPUVM_HOOK_UNBIND_WAIT, 1));

	/* Unbind started: no new scope, nothing released, not done. */
	assert_int_equal(gpuvm_device_bound_enter(&dev, &late), -ENXIO);
	assert_false(gpuvm_device_is_bound(&dev));
	assert_int_equal(released(&log, 1), 0);
	assert_false(dev_flag(&u.done));

	gpuvm_device_bound_exit(&b);
	dev_join(t);
	assert_int_equal(u.ret, 0);
	assert_int_equal(released(&log, 1), 1);
	assert_int_equal(gpuvm_device_devres_count(&dev), 0);
	gpuvm_device_fini(&dev);
}

static void test_device_unbind_inside_own_scope_refused(void **state)
{
	struct gpuvm_device dev, other;
	struct gpuvm_device_bound b;

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_init(&other, "other");
	gpuvm_device_bind(&dev);
	gpuvm_device_bind(&other);
	gpuvm_device_bound_enter(&dev, &b);
	assert_int_equal(gpuvm_device_unbind(&dev), -EDEADLK);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DEVICE_TOKEN), 1);
	assert_true(gpuvm_device_is_bound(&dev));
	/* Another device may be unbound from inside the scope. */
	assert_int_equal(gpuvm_device_unbind(&other), 0);
	gpuvm_device_bound_exit(&b);
	assert_int_equal(gpuvm_device_unbind(&dev), 0);
	gpuvm_device_fini(&other);
	gpuvm_device_fini(&dev);
}

static void test_device_unbind_inside_rcu_section_refused(void **state)
{
	struct gpuvm_device dev;
	struct rel_log log = { 0 };
	struct rel_item it = { .log = &log, .id = 1 };
	struct gpuvm_devres *dr;

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	dr = new_devres(&dev, &it);
	assert_ptr_equal(gpuvm_devres_try_access(dr), &it);
	assert_int_equal(gpuvm_device_unbind(&dev), -EDEADLK);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DEVICE_RCU), 1);
	gpuvm_devres_end_access(dr);
	assert_true(gpuvm_device_is_bound(&dev));
	assert_int_equal(released(&log, 1), 0);
	assert_int_equal(gpuvm_device_unbind(&dev), 0);
	assert_int_equal(released(&log, 1), 1);
	gpuvm_devres_drop(dr);
	assert_int_equal(released(&log, 1), 1);
	gpuvm_device_fini(&dev);
}

static void test_device_fini_bound_warns_and_unbinds(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b;
	struct rel_log log = { 0 };
	struct rel_item it = { .log = &log, .id = 2 };

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	gpuvm_device_bound_enter(&dev, &b);
	gpuvm_devm_add_action_or_reset(&b, rel_item_release, &it);
	gpuvm_device_bound_exit(&b);
	gpuvm_device_fini(&dev);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DEVICE_FINI), 1);
	assert_int_equal(released(&log, 2), 1);
}

/*
 * Finalising a device whose unbind is refused (inside its own bound scope,
 * inside an RCU read-side section) reports it and leaves the device
 * intact, instead of destroying the mutexes of a device that is still
 * bound.
 */
static void test_device_fini_refused_when_unbind_refused(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b;
	struct rel_log log = { 0 };
	struct rel_item it = { .log = &log, .id = 1 };

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	gpuvm_device_bound_enter(&dev, &b);
	assert_int_equal(
		gpuvm_devm_add_action_or_reset(&b, rel_item_release, &it), 0);

	gpuvm_device_fini(&dev);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DEVICE_TOKEN), 1);
	/* "still bound", then "not finalised" */
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DEVICE_FINI), 2);
	assert_true(gpuvm_device_is_bound(&dev));
	assert_int_equal(released(&log, 1), 0);
	/* Not destroyed (a destroyed glibc mutex refuses with EINVAL). */
	assert_int_equal(pthread_mutex_trylock(&dev.lock__), 0);
	pthread_mutex_unlock(&dev.lock__);
	gpuvm_device_bound_exit(&b);

	gpuvm_rcu_read_lock();
	gpuvm_device_fini(&dev);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DEVICE_RCU), 1);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DEVICE_FINI), 2);
	gpuvm_rcu_read_unlock();
	assert_true(gpuvm_device_is_bound(&dev));
	assert_int_equal(released(&log, 1), 0);

	/* Still a working device. */
	assert_int_equal(gpuvm_device_unbind(&dev), 0);
	assert_int_equal(released(&log, 1), 1);
	gpuvm_device_fini(&dev);
}

/*
 * Finalising a device while another thread unbinds it reports it and
 * leaves the device intact: the unbind still uses its mutexes.
 */
static void test_device_fini_refused_while_unbinding(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b;
	struct rel_log log = { 0 };
	struct rel_item it = { .log = &log, .id = 1 };
	struct unbind_thread u = { .dev = &dev };
	pthread_t tu;

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	gpuvm_device_bound_enter(&dev, &b);
	assert_int_equal(
		gpuvm_devm_add_action_or_reset(&b, rel_item_release, &it), 0);
	gpuvm_device_bound_exit(&b);

	gpuvm_hook_park(GPUVM_HOOK_DEVRES_RELEASE, GPUVM_HOOK_PARK_ALL);
	tu = dev_start(unbind_main, &u);
	assert_true(gpuvm_hook_wait_parked(GPUVM_HOOK_DEVRES_RELEASE, 1));

	gpuvm_device_fini(&dev);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DEVICE_FINI), 1);
	assert_int_equal(pthread_mutex_trylock(&dev.lock__), 0);
	pthread_mutex_unlock(&dev.lock__);
	assert_int_equal(released(&log, 1), 0);

	gpuvm_hook_unpark(GPUVM_HOOK_DEVRES_RELEASE);
	dev_join(tu);
	assert_int_equal(u.ret, 0);
	assert_int_equal(released(&log, 1), 1);
	gpuvm_device_fini(&dev);
}

/* ---- device resources --------------------------------------------------- */

static void test_device_devres_released_in_reverse_order(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b;
	struct rel_log log = { 0 };
	struct rel_item it[5];
	struct gpuvm_devres *dr[5] = { 0 };
	int i;

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	gpuvm_device_bound_enter(&dev, &b);
	for (i = 0; i < 5; i++) {
		it[i] = (struct rel_item){ .log = &log, .id = i };
		/* Mix handles and fire-and-forget actions. */
		if (i % 2) {
			assert_int_equal(gpuvm_devm_add_action_or_reset(
						 &b, rel_item_release, &it[i]),
					 0);
		} else {
			dr[i] = gpuvm_devres_new(&b, &it[i], rel_item_release);
			assert_false(gpuvm_is_err(dr[i]));
		}
	}
	gpuvm_device_bound_exit(&b);
	assert_int_equal(gpuvm_device_devres_count(&dev), 5);

	assert_int_equal(gpuvm_device_unbind(&dev), 0);
	assert_int_equal(log.n, 5);
	for (i = 0; i < 5; i++) {
		assert_int_equal(log.order[i], 4 - i);
		assert_int_equal(released(&log, i), 1);
	}
	assert_int_equal(gpuvm_device_devres_count(&dev), 0);
	for (i = 0; i < 5; i++)
		gpuvm_devres_drop(dr[i]); /* NULL for the actions */
	assert_int_equal(log.n, 5);
	gpuvm_device_fini(&dev);
}

static void test_device_devres_new_outside_scope(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b;
	struct rel_log log = { 0 };
	struct rel_item it = { .log = &log, .id = 3 };
	struct gpuvm_devres *dr;
	long live = gpuvm_alloc_live();

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	gpuvm_device_bound_enter(&dev, &b);
	gpuvm_device_bound_exit(&b);

	/* A left scope: refused, reported, and the data released. */
	dr = gpuvm_devres_new(&b, &it, rel_item_release);
	assert_int_equal(gpuvm_ptr_err(dr), -ENXIO);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DEVICE_TOKEN), 1);
	assert_int_equal(released(&log, 3), 1);
	assert_int_equal(
		gpuvm_devm_add_action_or_reset(&b, rel_item_release, &it),
		-ENXIO);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DEVICE_TOKEN), 1);
	assert_int_equal(released(&log, 3), 2);
	assert_int_equal(gpuvm_device_devres_count(&dev), 0);
	assert_int_equal(gpuvm_alloc_live(), live);

	gpuvm_device_unbind(&dev);
	assert_int_equal(released(&log, 3), 2);
	gpuvm_device_fini(&dev);
}

static void test_device_devres_access(void **state)
{
	struct gpuvm_device dev, other;
	struct gpuvm_device_bound b, ob;
	struct rel_log log = { 0 };
	struct rel_item it = { .log = &log, .id = 1 };
	struct gpuvm_devres *dr;

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_init(&other, "other");
	gpuvm_device_bind(&dev);
	gpuvm_device_bind(&other);

	gpuvm_device_bound_enter(&dev, &b);
	dr = gpuvm_devres_new(&b, &it, rel_item_release);
	assert_ptr_equal(gpuvm_devres_access(dr, &b), &it);
	gpuvm_device_bound_enter(&other, &ob);
	assert_int_equal(gpuvm_ptr_err(gpuvm_devres_access(dr, &ob)), -EINVAL);
	gpuvm_device_bound_exit(&ob);
	gpuvm_device_bound_exit(&b);
	assert_int_equal(gpuvm_ptr_err(gpuvm_devres_access(dr, &b)), -ENXIO);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DEVICE_TOKEN), 1);

	/* Hardened: a scope of a later binding does not reach the data the
	 * earlier unbind released (the kernel compares the device only). */
	gpuvm_device_unbind(&dev);
	assert_int_equal(released(&log, 1), 1);
	gpuvm_device_bind(&dev);
	gpuvm_device_bound_enter(&dev, &b);
	assert_int_equal(b.generation, 2);
	assert_int_equal(gpuvm_ptr_err(gpuvm_devres_access(dr, &b)), -ENXIO);
	gpuvm_device_bound_exit(&b);

	gpuvm_devres_drop(dr);
	assert_int_equal(released(&log, 1), 1);
	gpuvm_device_unbind(&dev);
	gpuvm_device_unbind(&other);
	gpuvm_device_fini(&other);
	gpuvm_device_fini(&dev);
}

static void test_device_devres_try_access_until_unbind(void **state)
{
	struct gpuvm_device dev;
	struct rel_log log = { 0 };
	struct rel_item it = { .log = &log, .id = 1 };
	struct gpuvm_devres *dr;

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	dr = new_devres(&dev, &it);

	/* No bound scope needed. */
	assert_ptr_equal(gpuvm_devres_try_access(dr), &it);
	gpuvm_devres_end_access(dr);

	gpuvm_device_unbind(&dev);
	assert_int_equal(released(&log, 1), 1);
	assert_null(gpuvm_devres_try_access(dr));
	/* Rebinding does not bring it back. */
	gpuvm_device_bind(&dev);
	assert_null(gpuvm_devres_try_access(dr));
	gpuvm_device_unbind(&dev);

	gpuvm_devres_drop(dr);
	assert_int_equal(released(&log, 1), 1);
	gpuvm_device_fini(&dev);
}

static void test_device_devres_drop_before_unbind(void **state)
{
	struct gpuvm_device dev;
	struct rel_log log = { 0 };
	struct rel_item a = { .log = &log, .id = 1 };
	struct rel_item b = { .log = &log, .id = 2 };
	struct gpuvm_devres *da, *db;

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	da = new_devres(&dev, &a);
	db = new_devres(&dev, &b);
	assert_int_equal(gpuvm_device_devres_count(&dev), 2);

	gpuvm_devres_drop(da);
	assert_int_equal(released(&log, 1), 1);
	assert_int_equal(gpuvm_device_devres_count(&dev), 1);

	gpuvm_device_unbind(&dev);
	assert_int_equal(released(&log, 1), 1);
	assert_int_equal(released(&log, 2), 1);
	assert_int_equal(log.n, 2);
	gpuvm_devres_drop(db);
	assert_int_equal(log.n, 2);
	gpuvm_device_fini(&dev);
}

static void test_device_devres_drop_null(void **state)
{
	gpuvm_devres_drop(NULL);
}

struct drop_thread {
	struct gpuvm_devres *dr;
	unsigned int seq;
	int done;
};

static void *drop_main(void *p)
{
	struct drop_thread *d = p;

	gpuvm_devres_drop(d->dr);
	d->seq = dev_next_seq();
	dev_set_flag(&d->done);
	return NULL;
}

/*
 * Drop while an unbind releases the data on another thread. New
 * semantics: the drop returns only after the release finished. Old
 * semantics: it returns at once, and the owner frees what the release is
 * still about to use.
 */
static void drop_races_unbind(bool old)
{
	struct gpuvm_device dev;
	struct rel_log log = { 0 };
	struct rel_item it = { .log = &log, .id = 1 };
	struct unbind_thread u = { .dev = &dev };
	struct drop_thread d = { 0 };
	pthread_t tu, td;

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	d.dr = new_devres(&dev, &it);
	gpuvm_devres_set_old_semantics(d.dr, old);

	gpuvm_hook_park(GPUVM_HOOK_DEVRES_RELEASE, GPUVM_HOOK_PARK_ALL);
	tu = dev_start(unbind_main, &u);
	assert_true(gpuvm_hook_wait_hits(GPUVM_HOOK_DEVRES_RELEASE, 1));
	/* Revoked, not released yet. */
	assert_null(gpuvm_devres_try_access(d.dr));

	gpuvm_hook_count(GPUVM_HOOK_DEVRES_DROP_WAIT);
	td = dev_start(drop_main, &d);
	if (old) {
		dev_join(td);
		assert_int_equal(gpuvm_hook_hits(GPUVM_HOOK_DEVRES_DROP_WAIT),
				 0);
		assert_int_equal(released(&log, 1), 0);
		/* The owner believes it may free the data now. */
		__atomic_store_n(&it.freed, true, __ATOMIC_RELEASE);
		gpuvm_hook_unpark(GPUVM_HOOK_DEVRES_RELEASE);
		dev_join(tu);
		assert_true(it.used_after_free);
		assert_true(d.seq < it.seq);
	} else {
		assert_true(
			gpuvm_hook_wait_hits(GPUVM_HOOK_DEVRES_DROP_WAIT, 1));
		assert_false(dev_flag(&d.done));
		assert_int_equal(released(&log, 1), 0);
		gpuvm_hook_unpark(GPUVM_HOOK_DEVRES_RELEASE);
		dev_join(td);
		/* The drop returned after the release, so freeing the data
		 * afterwards is safe. */
		__atomic_store_n(&it.freed, true, __ATOMIC_RELEASE);
		dev_join(tu);
		assert_false(it.used_after_free);
		assert_true(it.seq < d.seq);
	}
	assert_int_equal(u.ret, 0);
	assert_int_equal(released(&log, 1), 1);
	assert_int_equal(gpuvm_device_devres_count(&dev), 0);
	gpuvm_device_fini(&dev);
}

static void test_device_devres_drop_waits_for_unbind(void **state)
{
	drop_races_unbind(false);
}

static void test_device_devres_old_drop_does_not_wait(void **state)
{
	drop_races_unbind(true);
}

/*
 * The other way round: the drop wins and releases while an unbind takes
 * the node off the list. The unbind waits until the drop's release has
 * finished, so that it returns with everything of the binding released;
 * the data is released once and the devres freed once.
 */
static void test_device_unbind_waits_for_winning_drop(void **state)
{
	struct gpuvm_device dev;
	struct rel_log log = { 0 };
	struct rel_item it = { .log = &log, .id = 1 };
	struct unbind_thread u = { .dev = &dev };
	struct drop_thread d = { 0 };
	long live = gpuvm_alloc_live();
	pthread_t tu, td;

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	d.dr = new_devres(&dev, &it);

	gpuvm_hook_park(GPUVM_HOOK_DEVRES_DROP_WON, GPUVM_HOOK_PARK_ALL);
	td = dev_start(drop_main, &d);
	assert_true(gpuvm_hook_wait_hits(GPUVM_HOOK_DEVRES_DROP_WON, 1));
	assert_int_equal(released(&log, 1), 1);
	assert_int_equal(gpuvm_device_devres_count(&dev), 1);

	gpuvm_hook_count(GPUVM_HOOK_DEVRES_RELEASE_LOST);
	tu = dev_start(unbind_main, &u);
	assert_true(gpuvm_hook_wait_hits(GPUVM_HOOK_DEVRES_RELEASE_LOST, 1));
	assert_false(dev_flag(&u.done));
	assert_false(dev_flag(&d.done));

	gpuvm_hook_unpark(GPUVM_HOOK_DEVRES_DROP_WON);
	dev_join(td);
	dev_join(tu);
	assert_int_equal(u.ret, 0);
	assert_int_equal(released(&log, 1), 1);
	assert_int_equal(gpuvm_device_devres_count(&dev), 0);
	assert_int_equal(gpuvm_alloc_live(), live);
	gpuvm_device_fini(&dev);
}

struct rcu_drop_thread {
	struct gpuvm_devres *dr;
	int done;
};

static void *rcu_drop_main(void *p)
{
	struct rcu_drop_thread *d = p;

	gpuvm_rcu_read_lock();
	gpuvm_devres_drop(d->dr);
	gpuvm_rcu_read_unlock();
	dev_set_flag(&d->done);
	return NULL;
}

/*
 * A drop inside an RCU read-side section while an unbind is about to wait
 * for a grace period: waiting for the unbind would deadlock (the grace
 * period waits for the dropping thread). The drop reports it and returns
 * without waiting; the unbind releases the data once and frees the devres.
 */
static void test_device_devres_drop_in_rcu_section_does_not_wait(void **state)
{
	struct gpuvm_device dev;
	struct rel_log log = { 0 };
	struct rel_item it = { .log = &log, .id = 1 };
	struct unbind_thread u = { .dev = &dev };
	struct rcu_drop_thread d = { 0 };
	long live = gpuvm_alloc_live();
	pthread_t tu, td;

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	d.dr = new_devres(&dev, &it);

	/* Revoked; the unbind is about to wait for a grace period. */
	gpuvm_hook_park(GPUVM_HOOK_DEVRES_REVOKE, GPUVM_HOOK_PARK_ALL);
	tu = dev_start(unbind_main, &u);
	assert_true(gpuvm_hook_wait_parked(GPUVM_HOOK_DEVRES_REVOKE, 1));

	/* A drop that would wait parks here instead of deadlocking. */
	gpuvm_hook_park(GPUVM_HOOK_DEVRES_DROP_WAIT, GPUVM_HOOK_PARK_ALL);
	td = dev_start(rcu_drop_main, &d);
	while (!dev_flag(&d.done) &&
	       !gpuvm_hook_hits(GPUVM_HOOK_DEVRES_DROP_WAIT))
		sched_yield();
	assert_int_equal(gpuvm_hook_hits(GPUVM_HOOK_DEVRES_DROP_WAIT), 0);
	dev_join(td);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DEVICE_RCU), 1);
	/* Returned before the release, which the unbind still owes. */
	assert_int_equal(released(&log, 1), 0);

	gpuvm_hook_unpark(GPUVM_HOOK_DEVRES_REVOKE);
	dev_join(tu);
	assert_int_equal(u.ret, 0);
	assert_int_equal(released(&log, 1), 1);
	assert_int_equal(gpuvm_device_devres_count(&dev), 0);
	assert_int_equal(gpuvm_alloc_live(), live);
	gpuvm_device_fini(&dev);
}

/* ---- revocable ---------------------------------------------------------- */

static void test_device_revocable_revoke_once(void **state)
{
	struct rel_log log = { 0 };
	struct rel_item it = { .log = &log, .id = 1 };
	struct gpuvm_revocable rev;

	gpuvm_revocable_init(&rev, &it, rel_item_release);
	assert_ptr_equal(gpuvm_revocable_try_access(&rev), &it);
	gpuvm_revocable_end_access(&rev);
	assert_true(gpuvm_revocable_revoke(&rev));
	assert_int_equal(released(&log, 1), 1);
	assert_false(gpuvm_revocable_revoke(&rev));
	assert_false(gpuvm_revocable_revoke_nosync(&rev));
	assert_null(gpuvm_revocable_try_access(&rev));
	assert_int_equal(released(&log, 1), 1);

	gpuvm_revocable_init(&rev, &it, rel_item_release);
	assert_true(gpuvm_revocable_revoke_nosync(&rev));
	assert_false(gpuvm_revocable_revoke(&rev));
	assert_int_equal(released(&log, 1), 2);

	gpuvm_revocable_init(&rev, &it, NULL);
	assert_true(gpuvm_revocable_revoke(&rev));
}

struct reader {
	struct gpuvm_devres *dr;
	struct rel_log *log;
	void *got;
	int released_while_reading;
	int inside, go_on;
};

static void *reader_main(void *p)
{
	struct reader *r = p;

	r->got = gpuvm_devres_try_access(r->dr);
	dev_set_flag(&r->inside);
	dev_wait_flag(&r->go_on);
	r->released_while_reading = released(r->log, 1);
	if (r->got)
		gpuvm_devres_end_access(r->dr);
	return NULL;
}

/* A try_access reader keeps the data alive across the revocation: the
 * release waits for the grace period that the reader holds up. */
static int null_releases;

static void null_release(void *data)
{
	assert_null(data);
	null_releases++;
}

/*
 * NULL data: a successful try_access would return NULL with its
 * read-side section open, which the caller takes for "revoked" and never
 * ends. Refused at registration; a revocable initialised with it starts
 * revoked. A devm action may still take NULL (it has no readers).
 */
static void test_device_null_data_refused(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound b;
	struct gpuvm_revocable rev;
	struct gpuvm_devres *dr;

	null_releases = 0;
	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	gpuvm_device_bound_enter(&dev, &b);
	dr = gpuvm_devres_new(&b, NULL, null_release);
	assert_int_equal(gpuvm_ptr_err(dr), -EINVAL);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DEVICE_NULL_DATA), 1);
	/* Ownership passed: the release ran, as on every failure. */
	assert_int_equal(null_releases, 1);
	assert_int_equal(gpuvm_device_devres_count(&dev), 0);
	assert_int_equal(gpuvm_devm_add_action_or_reset(&b, null_release, NULL),
			 0);
	gpuvm_device_bound_exit(&b);

	gpuvm_revocable_init(&rev, NULL, null_release);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DEVICE_NULL_DATA), 1);
	assert_null(gpuvm_revocable_try_access(&rev));
	assert_false(gpuvm_rcu_read_ongoing());
	assert_false(gpuvm_revocable_revoke(&rev));
	assert_int_equal(null_releases, 1);

	assert_int_equal(gpuvm_device_unbind(&dev), 0);
	assert_int_equal(null_releases, 2); /* the action */
	gpuvm_device_fini(&dev);
}

static void test_device_revocable_reader_holds_off_release(void **state)
{
	struct gpuvm_device dev;
	struct rel_log log = { 0 };
	struct rel_item it = { .log = &log, .id = 1 };
	struct unbind_thread u = { .dev = &dev };
	struct reader r = { .log = &log };
	pthread_t tr, tu;

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	r.dr = new_devres(&dev, &it);

	tr = dev_start(reader_main, &r);
	dev_wait_flag(&r.inside);
	gpuvm_hook_count(GPUVM_HOOK_DEVRES_REVOKE);
	tu = dev_start(unbind_main, &u);
	/* The unbind revoked it and is (about to be) waiting for readers. */
	assert_true(gpuvm_hook_wait_hits(GPUVM_HOOK_DEVRES_REVOKE, 1));
	assert_false(dev_flag(&u.done));
	dev_set_flag(&r.go_on);
	dev_join(tr);
	dev_join(tu);

	assert_ptr_equal(r.got, &it);
	assert_int_equal(r.released_while_reading, 0);
	assert_int_equal(released(&log, 1), 1);
	gpuvm_devres_drop(r.dr);
	gpuvm_device_fini(&dev);
}

/* A thread registered with urcu-memb by the application. */
static void *external_rcu_main(void *p)
{
	struct gpuvm_devres *dr = p;
	void *got;

	urcu_memb_register_thread();
	gpuvm_rcu_external_thread();
	got = gpuvm_devres_try_access(dr);
	if (got)
		gpuvm_devres_end_access(dr);
	urcu_memb_unregister_thread();
	return got;
}

static void test_device_rcu_external_thread(void **state)
{
	struct gpuvm_device dev;
	struct rel_log log = { 0 };
	struct rel_item it = { .log = &log, .id = 1 };
	struct gpuvm_devres *dr;
	pthread_t t;
	void *got = NULL;

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	dr = new_devres(&dev, &it);
	t = dev_start(external_rcu_main, dr);
	assert_int_equal(pthread_join(t, &got), 0);
	assert_ptr_equal(got, &it);
	gpuvm_device_unbind(&dev);
	gpuvm_devres_drop(dr);
	gpuvm_device_fini(&dev);
}

/* ---- DMA-mapping registry ----------------------------------------------- */

static void test_device_dma_map_registry(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_sg_table a, b;
	struct gpuvm_scatterlist *sg;
	unsigned int i;
	char page[2][GPUVM_PAGE_SIZE];
	long live = gpuvm_dma_mappings_live();

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	assert_int_equal(gpuvm_sg_alloc_table(&a, 2), 0);
	assert_int_equal(a.orig_nents, 2);
	assert_int_equal(a.nents, 0);
	assert_int_equal(gpuvm_sg_alloc_table(&b, 1), 0);
	gpuvm_for_each_sgtable_sg(&a, sg, i)
	{
		sg->page_link = page[i];
		sg->length = GPUVM_PAGE_SIZE;
	}
	b.sgl[0].page_link = page[0];
	b.sgl[0].length = 100;

	assert_int_equal(
		gpuvm_dma_map_sgtable(&dev, &a, GPUVM_DMA_BIDIRECTIONAL, 0), 0);
	assert_int_equal(
		gpuvm_dma_map_sgtable(&dev, &b, GPUVM_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(a.nents, 2);
	gpuvm_for_each_sgtable_dma_sg(&a, sg, i)
	{
		assert_true(gpuvm_sg_dma_address(sg) != 0);
		assert_int_equal(gpuvm_sg_dma_len(sg), GPUVM_PAGE_SIZE);
	}
	/* Distinct device windows. */
	assert_true(a.sgl[0].dma_address + GPUVM_PAGE_SIZE <=
		    a.sgl[1].dma_address);
	assert_true(a.sgl[1].dma_address + GPUVM_PAGE_SIZE <=
		    b.sgl[0].dma_address);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 2);
	assert_int_equal(gpuvm_device_dma_mappings_gen(&dev, 1), 2);
	assert_int_equal(gpuvm_device_dma_mappings_gen(&dev, 2), 0);
	assert_true(gpuvm_device_dma_is_mapped(&dev, &a));
	assert_int_equal(gpuvm_dma_mappings_live(), live + 2);
	assert_int_equal(gpuvm_device_dma_map_calls(&dev), 2);

	gpuvm_dma_unmap_sgtable(&dev, &a, GPUVM_DMA_BIDIRECTIONAL, 0);
	assert_false(gpuvm_device_dma_is_mapped(&dev, &a));
	assert_int_equal(a.nents, 0);
	assert_int_equal(a.sgl[0].dma_address, 0);
	assert_int_equal(gpuvm_device_dma_unmap_calls(&dev), 1);

	/* A second unmap is reported and changes nothing. */
	gpuvm_dma_unmap_sgtable(&dev, &a, GPUVM_DMA_BIDIRECTIONAL, 0);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DMA_UNMAP), 1);
	assert_int_equal(gpuvm_device_dma_unmap_calls(&dev), 1);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 1);

	gpuvm_dma_unmap_sgtable(&dev, &b, GPUVM_DMA_TO_DEVICE, 0);
	assert_int_equal(gpuvm_dma_mappings_live(), live);
	gpuvm_sg_free_table(&a);
	gpuvm_sg_free_table(&b);
	assert_null(a.sgl);
	gpuvm_device_unbind(&dev);
	gpuvm_device_fini(&dev);
}

static void test_device_dma_map_unbound_fails(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_sg_table t;
	long live = gpuvm_alloc_live();

	gpuvm_device_init(&dev, "dev");
	gpuvm_sg_alloc_table(&t, 1);
	live = gpuvm_alloc_live();
	assert_int_equal(
		gpuvm_dma_map_sgtable(&dev, &t, GPUVM_DMA_BIDIRECTIONAL, 0),
		-ENXIO);
	assert_int_equal(gpuvm_alloc_live(), live);
	assert_int_equal(t.nents, 0);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);
	gpuvm_sg_free_table(&t);
	gpuvm_device_fini(&dev);
}

/* A mapping that is not a device resource outlives the unbind: reported.
 * Unmapping it afterwards is still allowed. */
static void test_device_unbind_reports_live_mapping(void **state)
{
	struct gpuvm_device dev;
	struct gpuvm_sg_table t;
	char page[GPUVM_PAGE_SIZE];

	gpuvm_device_init(&dev, "dev");
	gpuvm_device_bind(&dev);
	gpuvm_sg_alloc_table(&t, 1);
	t.sgl[0].page_link = page;
	t.sgl[0].length = GPUVM_PAGE_SIZE;
	gpuvm_dma_map_sgtable(&dev, &t, GPUVM_DMA_BIDIRECTIONAL, 0);
	assert_int_equal(gpuvm_device_unbind(&dev), 0);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DEVICE_DMA_LEAK), 1);
	assert_int_equal(gpuvm_device_dma_mappings_gen(&dev, 1), 1);

	/* The next binding does not report the older mapping again. */
	gpuvm_device_bind(&dev);
	assert_int_equal(gpuvm_device_unbind(&dev), 0);
	assert_int_equal(harness_warnings(NULL), 0);

	gpuvm_dma_unmap_sgtable(&dev, &t, GPUVM_DMA_BIDIRECTIONAL, 0);
	assert_int_equal(gpuvm_device_dma_mappings(&dev), 0);
	gpuvm_sg_free_table(&t);
	gpuvm_device_fini(&dev);
}

/* ---- fault sweeps ------------------------------------------------------- */

struct sweep {
	struct gpuvm_device dev;
	struct rel_log log;
	struct rel_item it;
	struct gpuvm_devres *dr;
	struct gpuvm_sg_table sgt;
	unsigned long devres_before, maps_before;
	long live_before;
	int releases_before;
	bool action;
};

static int op_devres(void *arg)
{
	struct sweep *s = arg;
	struct gpuvm_device_bound b;
	int ret;

	gpuvm_device_bound_enter(&s->dev, &b);
	if (s->action) {
		ret = gpuvm_devm_add_action_or_reset(&b, rel_item_release,
						     &s->it);
	} else {
		s->dr = gpuvm_devres_new(&b, &s->it, rel_item_release);
		ret = gpuvm_ptr_err_or_zero(s->dr);
	}
	gpuvm_device_bound_exit(&b);
	return ret;
}

static void check_devres(void *arg, unsigned long n, int ret)
{
	struct sweep *s = arg;

	/* Failed: nothing registered, nothing leaked, data released once. */
	assert_int_equal(ret, -ENOMEM);
	assert_int_equal(gpuvm_device_devres_count(&s->dev), s->devres_before);
	assert_int_equal(gpuvm_alloc_live(), s->live_before);
	assert_int_equal(released(&s->log, 1), ++s->releases_before);
}

static void sweep_devres(bool action)
{
	struct sweep s = { 0 };

	s.it = (struct rel_item){ .log = &s.log, .id = 1 };
	s.action = action;
	gpuvm_device_init(&s.dev, "dev");
	gpuvm_device_bind(&s.dev);
	s.devres_before = gpuvm_device_devres_count(&s.dev);
	s.live_before = gpuvm_alloc_live();
	assert_int_equal(
		gpuvm_alloc_fault_sweep(op_devres, check_devres, &s, 0), 1);
	assert_int_equal(gpuvm_device_devres_count(&s.dev), 1);
	assert_int_equal(released(&s.log, 1), s.releases_before);
	gpuvm_device_unbind(&s.dev);
	assert_int_equal(released(&s.log, 1), s.releases_before + 1);
	gpuvm_devres_drop(s.dr);
	gpuvm_device_fini(&s.dev);
}

static void test_device_fault_sweep_devres_new(void **state)
{
	sweep_devres(false);
}

static void test_device_fault_sweep_devm_add_action(void **state)
{
	sweep_devres(true);
}

static int op_dma_map(void *arg)
{
	struct sweep *s = arg;

	return gpuvm_dma_map_sgtable(&s->dev, &s->sgt, GPUVM_DMA_BIDIRECTIONAL,
				     0);
}

static void check_dma_map(void *arg, unsigned long n, int ret)
{
	struct sweep *s = arg;

	assert_int_equal(ret, -ENOMEM);
	assert_int_equal(s->sgt.nents, 0);
	assert_int_equal(s->sgt.sgl[0].dma_address, 0);
	assert_int_equal(gpuvm_device_dma_mappings(&s->dev), 0);
	assert_int_equal(gpuvm_device_dma_map_calls(&s->dev), 0);
	assert_int_equal(gpuvm_alloc_live(), s->live_before);
}

static void test_device_fault_sweep_dma_map(void **state)
{
	struct sweep s = { 0 };
	char page[GPUVM_PAGE_SIZE];

	gpuvm_device_init(&s.dev, "dev");
	gpuvm_device_bind(&s.dev);
	gpuvm_sg_alloc_table(&s.sgt, 1);
	s.sgt.sgl[0].page_link = page;
	s.sgt.sgl[0].length = GPUVM_PAGE_SIZE;
	s.live_before = gpuvm_alloc_live();
	assert_int_equal(
		gpuvm_alloc_fault_sweep(op_dma_map, check_dma_map, &s, 0), 1);
	assert_true(gpuvm_device_dma_is_mapped(&s.dev, &s.sgt));
	gpuvm_dma_unmap_sgtable(&s.dev, &s.sgt, GPUVM_DMA_BIDIRECTIONAL, 0);
	gpuvm_sg_free_table(&s.sgt);
	gpuvm_device_unbind(&s.dev);
	gpuvm_device_fini(&s.dev);
}

static int op_sg_alloc(void *arg)
{
	struct sweep *s = arg;

	return gpuvm_sg_alloc_table(&s->sgt, 3);
}

static void check_sg_alloc(void *arg, unsigned long n, int ret)
{
	struct sweep *s = arg;

	assert_int_equal(ret, -ENOMEM);
	assert_null(s->sgt.sgl);
	assert_int_equal(s->sgt.orig_nents, 0);
	assert_int_equal(gpuvm_alloc_live(), s->live_before);
}

static void test_device_fault_sweep_sg_alloc_table(void **state)
{
	struct sweep s = { 0 };

	s.live_before = gpuvm_alloc_live();
	assert_int_equal(
		gpuvm_alloc_fault_sweep(op_sg_alloc, check_sg_alloc, &s, 0), 1);
	assert_int_equal(s.sgt.orig_nents, 3);
	assert_int_equal(s.sgt.sgl[2].length, 0);
	gpuvm_sg_free_table(&s.sgt);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		dev_test(test_device_bind_unbind_generation),
		dev_test(test_device_bound_enter_fails_unbound),
		dev_test(test_device_bound_scopes_nest),
		dev_test(test_device_bound_exit_twice_warns),
		dev_test(test_device_unbind_waits_for_bound_scope),
		dev_test(test_device_unbind_inside_own_scope_refused),
		dev_test(test_device_unbind_inside_rcu_section_refused),
		dev_test(test_device_fini_bound_warns_and_unbinds),
		dev_test(test_device_fini_refused_when_unbind_refused),
		dev_test(test_device_fini_refused_while_unbinding),
		dev_test(test_device_devres_released_in_reverse_order),
		dev_test(test_device_devres_new_outside_scope),
		dev_test(test_device_devres_access),
		dev_test(test_device_devres_try_access_until_unbind),
		dev_test(test_device_devres_drop_before_unbind),
		dev_test(test_device_devres_drop_null),
		dev_test(test_device_devres_drop_waits_for_unbind),
		dev_test(test_device_devres_old_drop_does_not_wait),
		dev_test(test_device_unbind_waits_for_winning_drop),
		dev_test(test_device_devres_drop_in_rcu_section_does_not_wait),
		dev_test(test_device_revocable_revoke_once),
		dev_test(test_device_null_data_refused),
		dev_test(test_device_revocable_reader_holds_off_release),
		dev_test(test_device_rcu_external_thread),
		dev_test(test_device_dma_map_registry),
		dev_test(test_device_dma_map_unbound_fails),
		dev_test(test_device_unbind_reports_live_mapping),
		dev_test(test_device_fault_sweep_devres_new),
		dev_test(test_device_fault_sweep_devm_add_action),
		dev_test(test_device_fault_sweep_dma_map),
		dev_test(test_device_fault_sweep_sg_alloc_table),
	};

	return harness_run("gpuvm/device", tests, argc, argv);
}
