// SPDX-License-Identifier: MIT
/*
 * The debug checker: each rule triggered once, and correct use silent.
 * Lock classes are per test so the order graph learned by one test does
 * not leak into another.
 */
#include <pthread.h>
#include <string.h>

#include <gpuvm/testing.h>
#include "harness.h"

#define DEFINE_CLASS(var, flags) \
	static struct gpuvm_lock_class var = GPUVM_LOCK_CLASS_INIT(#var, flags)

static void assert_message_has(const char *rule, const char *text)
{
	const char *msg = harness_last_warning(rule);

	if (!strstr(msg, text))
		fail_msg("warning [%s] '%s' lacks '%s'", rule, msg, text);
}

/* ---- held / not held --------------------------------------------------- */

DEFINE_CLASS(held_class, 0);

static void test_debug_assert_held_silent_when_held(void **state)
{
	struct gpuvm_mutex m;

	gpuvm_mutex_init(&m, "held-mutex", &held_class);
	gpuvm_mutex_lock(&m);
	gpuvm_mutex_assert_held(&m, "my_driver_op");
	assert_true(gpuvm_lock_is_held(&m.dep_map));
	assert_int_equal(gpuvm_lock_held_count(), 1);
	gpuvm_mutex_unlock(&m);
	gpuvm_lock_assert_not_held(&m.dep_map, "my_driver_op");
	gpuvm_mutex_destroy(&m);
	assert_int_equal(harness_warnings(NULL), 0);
}

static void test_debug_assert_held_warns_when_not_held(void **state)
{
	struct gpuvm_mutex m;

	gpuvm_mutex_init(&m, "held-mutex", &held_class);
	gpuvm_mutex_assert_held(&m, "my_driver_op");
	assert_message_has(GPUVM_RULE_LOCK_NOT_HELD, "my_driver_op");
	assert_message_has(GPUVM_RULE_LOCK_NOT_HELD, "held-mutex");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD), 1);
	gpuvm_mutex_destroy(&m);
}

/* A thread that holds @m until the main thread has checked. */
struct keeper {
	struct gpuvm_mutex *m;
	pthread_barrier_t locked, checked;
};

static void *lock_and_keep(void *arg)
{
	struct keeper *k = arg;

	gpuvm_mutex_lock(k->m);
	pthread_barrier_wait(&k->locked);
	pthread_barrier_wait(&k->checked);
	gpuvm_mutex_unlock(k->m); /* by its owner: no undefined unlock */
	return NULL;
}

/* Held by another thread is not held by me. */
static void test_debug_assert_held_is_per_thread(void **state)
{
	struct gpuvm_mutex m;
	struct keeper k = { .m = &m };
	pthread_t t;

	gpuvm_mutex_init(&m, "held-mutex", &held_class);
	pthread_barrier_init(&k.locked, NULL, 2);
	pthread_barrier_init(&k.checked, NULL, 2);
	assert_int_equal(pthread_create(&t, NULL, lock_and_keep, &k), 0);
	pthread_barrier_wait(&k.locked);
	assert_true(gpuvm_mutex_is_locked(&m));
	gpuvm_mutex_assert_held(&m, "my_driver_op");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD), 1);
	pthread_barrier_wait(&k.checked);
	pthread_join(t, NULL);
	assert_false(gpuvm_mutex_is_locked(&m));
	pthread_barrier_destroy(&k.locked);
	pthread_barrier_destroy(&k.checked);
	gpuvm_mutex_destroy(&m);
}

static void test_debug_assert_not_held_warns(void **state)
{
	struct gpuvm_mutex m;

	gpuvm_mutex_init(&m, "held-mutex", &held_class);
	gpuvm_mutex_lock(&m);
	gpuvm_lock_assert_not_held(&m.dep_map, "my_cleanup");
	gpuvm_mutex_unlock(&m);
	assert_message_has(GPUVM_RULE_LOCK_HELD, "my_cleanup");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_HELD), 1);
	gpuvm_mutex_destroy(&m);
}

static void test_debug_unlock_unheld_warns(void **state)
{
	struct gpuvm_mutex m;

	gpuvm_mutex_init(&m, "unheld-mutex", &held_class);
	gpuvm_mutex_unlock(&m);
	assert_message_has(GPUVM_RULE_UNLOCK_UNHELD, "gpuvm_mutex_unlock");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_UNLOCK_UNHELD), 1);
	assert_false(gpuvm_mutex_is_locked(&m));
	gpuvm_mutex_destroy(&m);
}

static void test_debug_destroy_held_warns(void **state)
{
	struct gpuvm_mutex m;

	gpuvm_mutex_init(&m, "destroyed-mutex", &held_class);
	gpuvm_mutex_lock(&m);
	gpuvm_lockdep_fini_map(&m.dep_map, "my_fini");
	assert_message_has(GPUVM_RULE_DESTROY_HELD, "my_fini");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_DESTROY_HELD), 1);
	gpuvm_mutex_unlock(&m);
	gpuvm_mutex_destroy(&m);
}

/* ---- recursion --------------------------------------------------------- */

DEFINE_CLASS(recursion_class, 0);

static void test_debug_recursive_lock_warns(void **state)
{
	struct gpuvm_mutex m;

	gpuvm_mutex_init(&m, "recursive-mutex", &recursion_class);
	gpuvm_mutex_lock(&m);
	gpuvm_mutex_lock(&m); /* reported, does not hang */
	assert_message_has(GPUVM_RULE_RECURSIVE_LOCK, "recursive-mutex");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_RECURSIVE_LOCK), 1);
	assert_int_equal(gpuvm_lock_held_count(), 1);
	gpuvm_mutex_unlock(&m);
	gpuvm_mutex_destroy(&m);
}

static void test_debug_relock_after_unlock_silent(void **state)
{
	struct gpuvm_mutex m;
	int i;

	gpuvm_mutex_init(&m, "recursive-mutex", &recursion_class);
	for (i = 0; i < 3; i++) {
		gpuvm_mutex_lock(&m);
		gpuvm_mutex_unlock(&m);
	}
	assert_true(gpuvm_mutex_trylock(&m));
	assert_false(gpuvm_mutex_trylock(&m));
	gpuvm_mutex_unlock(&m);
	gpuvm_mutex_destroy(&m);
	assert_int_equal(harness_warnings(NULL), 0);
}

DEFINE_CLASS(same_class, 0);

static void test_debug_same_class_without_context_warns(void **state)
{
	struct gpuvm_lockdep_map a, b;

	gpuvm_lockdep_init_map(&a, "same-a", &same_class);
	gpuvm_lockdep_init_map(&b, "same-b", &same_class);
	gpuvm_lock_acquire(&a, 0, NULL);
	gpuvm_lock_acquire(&b, 0, NULL);
	assert_message_has(GPUVM_RULE_RECURSIVE_LOCK, "same class");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_RECURSIVE_LOCK), 1);
	gpuvm_lock_release(&b, "test");
	gpuvm_lock_release(&a, "test");
}

static void test_debug_same_class_nested_silent(void **state)
{
	struct gpuvm_lockdep_map a, b;

	gpuvm_lockdep_init_map(&a, "same-a", &same_class);
	gpuvm_lockdep_init_map(&b, "same-b", &same_class);
	gpuvm_lock_acquire(&a, GPUVM_LOCK_ACQ_NEST, NULL);
	gpuvm_lock_acquire(&b, GPUVM_LOCK_ACQ_NEST, NULL);
	assert_int_equal(gpuvm_lock_held_count(), 2);
	/* Out-of-order release is fine. */
	gpuvm_lock_release(&a, "test");
	gpuvm_lock_release(&b, "test");
	assert_int_equal(harness_warnings(NULL), 0);
}

/* ---- lock order -------------------------------------------------------- */

struct pair {
	struct gpuvm_mutex *first, *second;
};

static void *lock_pair(void *arg)
{
	struct pair *p = arg;

	gpuvm_mutex_lock(p->first);
	gpuvm_mutex_lock(p->second);
	gpuvm_mutex_unlock(p->second);
	gpuvm_mutex_unlock(p->first);
	return NULL;
}

static void run_in_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
	pthread_join(t, NULL);
}

DEFINE_CLASS(abba_a, 0);
DEFINE_CLASS(abba_b, 0);

static void test_debug_abba_cycle_warns_once(void **state)
{
	struct gpuvm_mutex a, b, a2, b2;
	struct pair ab, ba;

	/* The inverted order on other instances of the same classes: the
	 * checker works on classes, and ThreadSanitizer, which works on
	 * instances, sees no real inversion in the test itself. */
	gpuvm_mutex_init(&a, "A", &abba_a);
	gpuvm_mutex_init(&b, "B", &abba_b);
	gpuvm_mutex_init(&a2, "A", &abba_a);
	gpuvm_mutex_init(&b2, "B", &abba_b);
	ab = (struct pair){ &a, &b };
	ba = (struct pair){ &b2, &a2 };

	run_in_thread(lock_pair, &ab); /* learns A -> B */
	assert_int_equal(harness_warnings(NULL), 0);
	run_in_thread(lock_pair, &ba); /* B -> A closes the cycle */
	assert_int_equal(harness_warnings(GPUVM_RULE_LOCK_ORDER), 1);
	assert_message_has(GPUVM_RULE_LOCK_ORDER, "abba_a");
	assert_message_has(GPUVM_RULE_LOCK_ORDER, "abba_b");
	assert_message_has(GPUVM_RULE_LOCK_ORDER, "while holding");
	run_in_thread(lock_pair, &ba); /* already reported: once */
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_ORDER), 1);

	gpuvm_mutex_destroy(&a);
	gpuvm_mutex_destroy(&b);
	gpuvm_mutex_destroy(&a2);
	gpuvm_mutex_destroy(&b2);
}

DEFINE_CLASS(order_a, 0);
DEFINE_CLASS(order_b, 0);

static void test_debug_consistent_order_silent(void **state)
{
	struct gpuvm_mutex a, b;
	struct pair ab;

	gpuvm_mutex_init(&a, "A", &order_a);
	gpuvm_mutex_init(&b, "B", &order_b);
	ab = (struct pair){ &a, &b };
	run_in_thread(lock_pair, &ab);
	run_in_thread(lock_pair, &ab);
	lock_pair(&ab);
	gpuvm_mutex_destroy(&a);
	gpuvm_mutex_destroy(&b);
	assert_int_equal(harness_warnings(NULL), 0);
}

DEFINE_CLASS(tri_a, 0);
DEFINE_CLASS(tri_b, 0);
DEFINE_CLASS(tri_c, 0);

static void test_debug_three_class_cycle_warns(void **state)
{
	struct gpuvm_mutex a, b, c, a2;
	struct pair ab, bc, ca;

	gpuvm_mutex_init(&a, "A", &tri_a);
	gpuvm_mutex_init(&b, "B", &tri_b);
	gpuvm_mutex_init(&c, "C", &tri_c);
	gpuvm_mutex_init(&a2, "A", &tri_a); /* see the ABBA test */
	ab = (struct pair){ &a, &b };
	bc = (struct pair){ &b, &c };
	ca = (struct pair){ &c, &a2 };
	lock_pair(&ab);
	lock_pair(&bc);
	assert_int_equal(harness_warnings(NULL), 0);
	lock_pair(&ca);
	assert_message_has(GPUVM_RULE_LOCK_ORDER, "tri_c");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_ORDER), 1);
	gpuvm_mutex_destroy(&a2);
	gpuvm_mutex_destroy(&a);
	gpuvm_mutex_destroy(&b);
	gpuvm_mutex_destroy(&c);
}

DEFINE_CLASS(try_a, 0);
DEFINE_CLASS(try_b, 0);

/* A trylock cannot deadlock, so it teaches no order. */
static void test_debug_trylock_learns_no_order(void **state)
{
	struct gpuvm_mutex a, b, a2, b2;
	struct pair ba;

	gpuvm_mutex_init(&a, "A", &try_a);
	gpuvm_mutex_init(&b, "B", &try_b);
	gpuvm_mutex_init(&a2, "A", &try_a); /* see the ABBA test */
	gpuvm_mutex_init(&b2, "B", &try_b);
	gpuvm_mutex_lock(&a);
	assert_true(gpuvm_mutex_trylock(&b));
	gpuvm_mutex_unlock(&b);
	gpuvm_mutex_unlock(&a);
	ba = (struct pair){ &b2, &a2 };
	lock_pair(&ba);
	gpuvm_mutex_destroy(&a);
	gpuvm_mutex_destroy(&b);
	gpuvm_mutex_destroy(&a2);
	gpuvm_mutex_destroy(&b2);
	assert_int_equal(harness_warnings(NULL), 0);
}

/* ---- signalling sections ----------------------------------------------- */

DEFINE_CLASS(sig_resv_class, GPUVM_LOCK_CLASS_RESV);
DEFINE_CLASS(sig_plain_class, 0);

static void test_debug_signalling_nesting(void **state)
{
	bool outer, inner;

	assert_false(gpuvm_in_signalling_section());
	outer = gpuvm_dma_fence_begin_signalling();
	assert_false(outer);
	inner = gpuvm_dma_fence_begin_signalling();
	assert_true(inner);
	gpuvm_dma_fence_end_signalling(inner);
	assert_true(gpuvm_in_signalling_section());
	gpuvm_dma_fence_end_signalling(outer);
	assert_false(gpuvm_in_signalling_section());
	assert_int_equal(harness_warnings(NULL), 0);
}

static void test_debug_signalling_unbalanced_end_warns(void **state)
{
	gpuvm_dma_fence_end_signalling(false);
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_SIGNALLING_UNBALANCED), 1);
}

static void test_debug_signalling_alloc_warns(void **state)
{
	bool cookie = gpuvm_dma_fence_begin_signalling();

	gpuvm_might_alloc("my_submit_tail");
	gpuvm_dma_fence_end_signalling(cookie);
	assert_message_has(GPUVM_RULE_SIGNALLING_ALLOC, "my_submit_tail");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_SIGNALLING_ALLOC), 1);

	gpuvm_might_alloc("outside"); /* silent outside a section */
	assert_int_equal(harness_warnings(NULL), 0);
}

static void test_debug_signalling_resv_lock_warns(void **state)
{
	struct gpuvm_lockdep_map resv;
	bool cookie;

	gpuvm_lockdep_init_map(&resv, "bo-resv", &sig_resv_class);
	cookie = gpuvm_dma_fence_begin_signalling();
	gpuvm_lock_acquire(&resv, 0, NULL);
	gpuvm_lock_release(&resv, "test");
	gpuvm_dma_fence_end_signalling(cookie);
	assert_message_has(GPUVM_RULE_SIGNALLING_RESV, "bo-resv");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_SIGNALLING_RESV), 1);

	/* The same lock outside a section is fine. */
	gpuvm_lock_acquire(&resv, 0, NULL);
	gpuvm_lock_release(&resv, "test");
	assert_int_equal(harness_warnings(NULL), 0);
}

static void test_debug_signalling_plain_lock_silent(void **state)
{
	struct gpuvm_lockdep_map plain;
	bool cookie;

	gpuvm_lockdep_init_map(&plain, "irq-lock", &sig_plain_class);
	cookie = gpuvm_dma_fence_begin_signalling();
	gpuvm_lock_acquire(&plain, 0, NULL);
	gpuvm_lock_release(&plain, "test");
	gpuvm_dma_fence_end_signalling(cookie);
	assert_int_equal(harness_warnings(NULL), 0);
}

static void test_debug_signalling_fence_wait_warns(void **state)
{
	bool cookie = gpuvm_dma_fence_begin_signalling();

	gpuvm_might_wait_fence("my_wait");
	gpuvm_dma_fence_end_signalling(cookie);
	assert_message_has(GPUVM_RULE_SIGNALLING_WAIT, "my_wait");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_SIGNALLING_WAIT), 1);

	gpuvm_might_wait_fence("my_wait"); /* nothing held, no section */
	assert_int_equal(harness_warnings(NULL), 0);
}

DEFINE_CLASS(sig_safe_class, 0);
DEFINE_CLASS(sig_other_class, 0);

static void test_debug_wait_under_signalling_safe_lock_warns(void **state)
{
	struct gpuvm_mutex safe, other;
	bool cookie;

	gpuvm_mutex_init(&safe, "fence-lock", &sig_safe_class);
	gpuvm_mutex_init(&other, "other", &sig_other_class);

	cookie = gpuvm_dma_fence_begin_signalling();
	gpuvm_mutex_lock(&safe); /* now signalling-safe */
	gpuvm_mutex_unlock(&safe);
	gpuvm_dma_fence_end_signalling(cookie);
	assert_int_equal(harness_warnings(NULL), 0);

	gpuvm_mutex_lock(&other);
	gpuvm_might_wait_fence("my_wait"); /* fine: other is not */
	gpuvm_mutex_unlock(&other);
	assert_int_equal(harness_warnings(NULL), 0);

	gpuvm_mutex_lock(&safe);
	gpuvm_might_wait_fence("my_wait");
	gpuvm_mutex_unlock(&safe);
	assert_message_has(GPUVM_RULE_SIGNALLING_LOCK_WAIT, "fence-lock");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_SIGNALLING_LOCK_WAIT),
			 1);

	gpuvm_mutex_destroy(&safe);
	gpuvm_mutex_destroy(&other);
}

DEFINE_CLASS(waited_class, 0);

/* The inversion seen from the other side: held across a wait first. */
static void test_debug_lock_waited_under_then_signalling_warns(void **state)
{
	struct gpuvm_mutex m;
	bool cookie;

	gpuvm_mutex_init(&m, "waited", &waited_class);
	gpuvm_mutex_lock(&m);
	gpuvm_might_wait_fence("my_wait");
	gpuvm_mutex_unlock(&m);
	assert_int_equal(harness_warnings(NULL), 0);

	cookie = gpuvm_dma_fence_begin_signalling();
	gpuvm_mutex_lock(&m);
	gpuvm_mutex_unlock(&m);
	gpuvm_dma_fence_end_signalling(cookie);
	assert_message_has(GPUVM_RULE_SIGNALLING_LOCK_WAIT, "waited");
	assert_int_equal(harness_take_warnings(GPUVM_RULE_SIGNALLING_LOCK_WAIT),
			 1);
	gpuvm_mutex_destroy(&m);
}

DEFINE_CLASS(alloc_safe_class, 0);
DEFINE_CLASS(alloc_plain_class, 0);

/*
 * A blocking allocation counts as a fence wait for the signalling rules
 * (reclaim may wait on fences): allocating under a lock that is also
 * taken inside signalling sections is reported, in both orders. Under a
 * lock that never is (the gpuva mutex of a driver that does not take it
 * in its signalling path, as gpuvm_bo_unmap_ops_create() may), nothing.
 */
static void test_debug_alloc_under_signalling_safe_lock_warns(void **state)
{
	struct gpuvm_mutex safe, plain;
	bool cookie;
	void *p;

	gpuvm_mutex_init(&safe, "job-lock", &alloc_safe_class);
	gpuvm_mutex_init(&plain, "plain", &alloc_plain_class);

	gpuvm_mutex_lock(&plain);
	p = gpuvm_kmalloc(16, GPUVM_GFP_KERNEL);
	gpuvm_kfree(p);
	gpuvm_mutex_unlock(&plain);
	assert_int_equal(harness_warnings(NULL), 0);

	cookie = gpuvm_dma_fence_begin_signalling();
	gpuvm_mutex_lock(&safe);
	gpuvm_mutex_unlock(&safe);
	gpuvm_dma_fence_end_signalling(cookie);
	assert_int_equal(harness_warnings(NULL), 0);

	/* A non-blocking allocation is fine, a blocking one is not. */
	gpuvm_mutex_lock(&safe);
	p = gpuvm_kmalloc(16, GPUVM_GFP_NOWAIT);
	gpuvm_kfree(p);
	assert_int_equal(harness_warnings(NULL), 0);
	p = gpuvm_kmalloc(16, GPUVM_GFP_KERNEL);
	gpuvm_kfree(p);
	gpuvm_mutex_unlock(&safe);
	assert_message_has(GPUVM_RULE_SIGNALLING_LOCK_ALLOC, "job-lock");
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_SIGNALLING_LOCK_ALLOC), 1);

	/* The other order: allocated under first, then in a section. */
	gpuvm_lockdep_reset();
	gpuvm_mutex_lock(&plain);
	p = gpuvm_kmalloc(16, GPUVM_GFP_KERNEL);
	gpuvm_kfree(p);
	gpuvm_mutex_unlock(&plain);
	cookie = gpuvm_dma_fence_begin_signalling();
	gpuvm_mutex_lock(&plain);
	gpuvm_mutex_unlock(&plain);
	gpuvm_dma_fence_end_signalling(cookie);
	assert_message_has(GPUVM_RULE_SIGNALLING_LOCK_ALLOC, "plain");
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_SIGNALLING_LOCK_ALLOC), 1);

	gpuvm_mutex_destroy(&safe);
	gpuvm_mutex_destroy(&plain);
}

DEFINE_CLASS(try_class, 0);

/*
 * A trylock inside a signalling section never waits, so it makes nothing
 * a signalling dependency: allocating under that lock later is fine, and
 * a trylock of a lock allocated under is not reported either (a device's
 * bound scope, entered in a signalling step, is such a trylock).
 */
static void test_debug_trylock_in_signalling_marks_nothing(void **state)
{
	struct gpuvm_mutex m;
	bool cookie;
	void *p;

	gpuvm_mutex_init(&m, "try-lock", &try_class);

	cookie = gpuvm_dma_fence_begin_signalling();
	assert_true(gpuvm_mutex_trylock(&m));
	gpuvm_mutex_unlock(&m);
	gpuvm_dma_fence_end_signalling(cookie);

	gpuvm_mutex_lock(&m);
	p = gpuvm_kmalloc(16, GPUVM_GFP_KERNEL);
	gpuvm_kfree(p);
	gpuvm_mutex_unlock(&m);
	assert_int_equal(harness_warnings(NULL), 0);

	/* The other order: allocated under first, then tried in a section. */
	cookie = gpuvm_dma_fence_begin_signalling();
	assert_true(gpuvm_mutex_trylock(&m));
	gpuvm_mutex_unlock(&m);
	gpuvm_dma_fence_end_signalling(cookie);
	assert_int_equal(harness_warnings(NULL), 0);

	/* A blocking acquisition in a section still is reported. */
	cookie = gpuvm_dma_fence_begin_signalling();
	gpuvm_mutex_lock(&m);
	gpuvm_mutex_unlock(&m);
	gpuvm_dma_fence_end_signalling(cookie);
	assert_message_has(GPUVM_RULE_SIGNALLING_LOCK_ALLOC, "try-lock");
	assert_int_equal(
		harness_take_warnings(GPUVM_RULE_SIGNALLING_LOCK_ALLOC), 1);

	gpuvm_mutex_destroy(&m);
}

/* ---- switch and self-containment --------------------------------------- */

DEFINE_CLASS(off_a, 0);
DEFINE_CLASS(off_b, 0);

static void test_debug_disabled_is_silent(void **state)
{
	struct gpuvm_mutex a, b, a2, b2;
	struct pair ab, ba;
	bool cookie;

	gpuvm_mutex_init(&a, "A", &off_a);
	gpuvm_mutex_init(&b, "B", &off_b);
	gpuvm_mutex_init(&a2, "A", &off_a); /* see the ABBA test */
	gpuvm_mutex_init(&b2, "B", &off_b);
	ab = (struct pair){ &a, &b };
	ba = (struct pair){ &b2, &a2 };

	gpuvm_debug_enable(false);
	assert_false(gpuvm_debug_enabled());
	lock_pair(&ab);
	lock_pair(&ba);
	gpuvm_mutex_assert_held(&a, "off");
	cookie = gpuvm_dma_fence_begin_signalling();
	gpuvm_might_alloc("off");
	gpuvm_might_wait_fence("off");
	gpuvm_dma_fence_end_signalling(cookie);
	gpuvm_debug_enable(true);

	assert_true(gpuvm_debug_enabled());
	assert_int_equal(harness_warnings(NULL), 0);
	gpuvm_mutex_destroy(&a);
	gpuvm_mutex_destroy(&b);
	gpuvm_mutex_destroy(&a2);
	gpuvm_mutex_destroy(&b2);
}

DEFINE_CLASS(deep_class, 0);

/* The checker keeps its own books: no allocation through gpuvm_kmalloc,
 * so an armed fault stays armed and the live count does not move. */
static void test_debug_checker_does_not_use_allocator(void **state)
{
	struct gpuvm_lockdep_map maps[100];
	long live = gpuvm_alloc_live();
	int i;

	gpuvm_alloc_fail_nth(1);
	for (i = 0; i < 100; i++) {
		gpuvm_lockdep_init_map(&maps[i], "deep", &deep_class);
		gpuvm_lock_acquire(&maps[i], GPUVM_LOCK_ACQ_NEST, NULL);
	}
	gpuvm_lock_assert_held(&maps[0], "deep");
	for (i = 99; i >= 0; i--)
		gpuvm_lock_release(&maps[i], "deep");
	gpuvm_warn("test-rule", "a warning %d", 1);
	assert_false(gpuvm_alloc_fault_fired());
	assert_int_equal(gpuvm_alloc_live(), live);
	assert_int_equal(harness_take_warnings("test-rule"), 1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_debug_assert_held_silent_when_held),
		harness_test(test_debug_assert_held_warns_when_not_held),
		harness_test(test_debug_assert_held_is_per_thread),
		harness_test(test_debug_assert_not_held_warns),
		harness_test(test_debug_unlock_unheld_warns),
		harness_test(test_debug_destroy_held_warns),
		harness_test(test_debug_recursive_lock_warns),
		harness_test(test_debug_relock_after_unlock_silent),
		harness_test(test_debug_same_class_without_context_warns),
		harness_test(test_debug_same_class_nested_silent),
		harness_test(test_debug_abba_cycle_warns_once),
		harness_test(test_debug_consistent_order_silent),
		harness_test(test_debug_three_class_cycle_warns),
		harness_test(test_debug_trylock_learns_no_order),
		harness_test(test_debug_signalling_nesting),
		harness_test(test_debug_signalling_unbalanced_end_warns),
		harness_test(test_debug_signalling_alloc_warns),
		harness_test(test_debug_alloc_under_signalling_safe_lock_warns),
		harness_test(test_debug_trylock_in_signalling_marks_nothing),
		harness_test(test_debug_signalling_resv_lock_warns),
		harness_test(test_debug_signalling_plain_lock_silent),
		harness_test(test_debug_signalling_fence_wait_warns),
		harness_test(test_debug_wait_under_signalling_safe_lock_warns),
		harness_test(
			test_debug_lock_waited_under_then_signalling_warns),
		harness_test(test_debug_disabled_is_silent),
		harness_test(test_debug_checker_does_not_use_allocator),
	};

	return harness_run("gpuvm/debug", tests, argc, argv);
}
