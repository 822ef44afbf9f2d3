// SPDX-License-Identifier: MIT
/*
 * The one place that calls malloc and free.
 *
 * Every allocation is counted (gpuvm_alloc_live()), per thread. With the
 * checker on, an explorer installed or a fault armed, it also passes
 * through the checker and the fault injector (an armed countdown that
 * fails exactly one allocation); otherwise it goes straight to malloc.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/alloc.h>

#include "alloc_internal.h"
#include "internal.h"
#include "node_alloc.h"
#include "rcu_internal.h"

#ifdef ALLOC_ASAN
#define ALLOC_POISON 0
#else
#define ALLOC_POISON 1
#endif

__thread struct alloc_thread gpuvm_alloc_self__
	__attribute__((tls_model("initial-exec")));
static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
static struct alloc_thread *threads;
static long exited_balance; /* threads_lock */
static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;

static void cache_flush(struct alloc_thread *t)
{
	unsigned int c;

	for (c = 0; c < CACHE_CLASSES; c++) {
		while (t->cache[c]) {
			void *block = t->cache[c];

			t->cache[c] = *(void **)block;
			free(block);
		}
		t->cached[c] = 0;
	}
}

/* Thread exit: hand the cached index nodes over, free the block cache,
 * hand the balance over, leave the list. */
static void thread_release(void *arg)
{
	struct alloc_thread *t = arg;

	gpuvm_node_thread_exit__();
	cache_flush(t);
	pthread_mutex_lock(&threads_lock);
	exited_balance += t->balance;
	t->balance = 0;
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	t->registered = false;
	pthread_mutex_unlock(&threads_lock);
}

/* The main thread's cache is freed at exit too, for leak checkers. */
__attribute__((destructor)) static void alloc_destructor(void)
{
	cache_flush(&gpuvm_alloc_self__);
}

static void thread_key_create(void)
{
	pthread_key_create(&thread_key, thread_release);
}

void gpuvm_alloc_register_thread__(void)
{
	struct alloc_thread *t = &gpuvm_alloc_self__;

	pthread_once(&thread_key_once, thread_key_create);
	pthread_mutex_lock(&threads_lock);
	t->next = threads;
	t->pprev = &threads;
	if (threads)
		threads->pprev = &t->next;
	threads = t;
	t->registered = true;
	pthread_mutex_unlock(&threads_lock);
	pthread_setspecific(thread_key, t);
}

/* Allocations left before the injected fault; 0 = disarmed. */
static atomic_ulong fail_countdown;
static atomic_bool fault_fired;

static bool inject_fault(void)
{
	unsigned long left =
		atomic_load_explicit(&fail_countdown, memory_order_relaxed);

	if (likely(left == 0))
		return false;

	while (left) {
		if (atomic_compare_exchange_weak(&fail_countdown, &left,
						 left - 1)) {
			if (left == 1) {
				atomic_store(&fault_fired, true);
				gpuvm_slow_set(GPUVM_SLOW_FAULT, false);
				return true;
			}
			return false;
		}
	}
	return false;
}

static inline void *alloc_plain(size_t size, gpuvm_gfp_t gfp)
{
	void *p;

	if (!size)
		size = 1;
	if (size <= CACHE_MAX_BYTES) {
		p = cache_pop(size);
		/* A class's blocks are all of its full size. */
		if (!p)
			p = malloc(cache_round(size));
	} else {
		/* malloc and memset rather than calloc: glibc's calloc skips
		 * its per-thread cache and costs more for small blocks. */
		p = malloc(size);
	}
	if (likely(p)) {
		count_live(1);
		if (gfp & GPUVM_GFP_ZERO)
			memset(p, 0, size);
	}
	return p;
}

bool gpuvm_alloc_checked_fails__(gpuvm_gfp_t gfp, const char *func)
{
	if (!(gfp & GPUVM_GFP_NOWAIT))
		gpuvm_might_alloc(func);
	return inject_fault();
}

/* The checker, an explorer or a fault injection is on. */
static __attribute__((noinline)) void *
alloc_checked(void *old, size_t size, gpuvm_gfp_t gfp, const char *func)
{
	if (gpuvm_alloc_checked_fails__(gfp, func))
		return NULL;

	if (old)
		return realloc(old, size ? size : 1);
	return alloc_plain(size, gfp);
}

static inline void *alloc_common(void *old, size_t size, gpuvm_gfp_t gfp,
				 const char *func)
{
	if (unlikely(gpuvm_slow()))
		return alloc_checked(old, size, gfp, func);
	if (old)
		return realloc(old, size ? size : 1);
	return alloc_plain(size, gfp);
}

GPUVM_EXPORT void *gpuvm_kmalloc(size_t size, gpuvm_gfp_t gfp)
{
	return alloc_common(NULL, size, gfp, "gpuvm_kmalloc");
}

GPUVM_EXPORT void *gpuvm_kmalloc_array(size_t n, size_t size, gpuvm_gfp_t gfp)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes))
		return NULL;
	return alloc_common(NULL, bytes, gfp, "gpuvm_kmalloc_array");
}

GPUVM_EXPORT void *gpuvm_krealloc_array(void *ptr, size_t n, size_t size,
					gpuvm_gfp_t gfp)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes))
		return NULL;
	if (!ptr)
		return alloc_common(NULL, bytes, gfp & ~GPUVM_GFP_ZERO,
				    "gpuvm_krealloc_array");
	return alloc_common(ptr, bytes, gfp, "gpuvm_krealloc_array");
}

/* ---- the debug quarantine (see alloc.h) ---------------------------------- */

#define QUARANTINE_BLOCKS 256
#define QUARANTINE_BYTES (4u << 20)

static pthread_mutex_t quarantine_lock = PTHREAD_MUTEX_INITIALIZER;
static void *quarantine[QUARANTINE_BLOCKS];
static size_t quarantine_size[QUARANTINE_BLOCKS];
static unsigned int quarantine_head, quarantine_count;
static size_t quarantine_bytes;

/* quarantine_lock held: really free the oldest block. */
static void quarantine_evict(void)
{
	unsigned int i = quarantine_head;

	free(quarantine[i]);
	quarantine_bytes -= quarantine_size[i];
	quarantine[i] = NULL;
	quarantine_head = (i + 1) % QUARANTINE_BLOCKS;
	quarantine_count--;
}

static void quarantine_put(void *ptr)
{
	size_t size = malloc_usable_size(ptr);

	memset(ptr, GPUVM_POISON_FREE, size);
	if (size > QUARANTINE_BYTES) {
		free(ptr);
		return;
	}
	pthread_mutex_lock(&quarantine_lock);
	while (quarantine_count == QUARANTINE_BLOCKS ||
	       (quarantine_count && quarantine_bytes + size > QUARANTINE_BYTES))
		quarantine_evict();
	quarantine[(quarantine_head + quarantine_count) % QUARANTINE_BLOCKS] =
		ptr;
	quarantine_size[(quarantine_head + quarantine_count) %
			QUARANTINE_BLOCKS] = size;
	quarantine_count++;
	quarantine_bytes += size;
	pthread_mutex_unlock(&quarantine_lock);
}

GPUVM_EXPORT void gpuvm_alloc_quarantine_flush(void)
{
	pthread_mutex_lock(&quarantine_lock);
	while (quarantine_count)
		quarantine_evict();
	pthread_mutex_unlock(&quarantine_lock);
}

__attribute__((destructor)) static void quarantine_destructor(void)
{
	gpuvm_alloc_quarantine_flush();
}

GPUVM_EXPORT bool gpuvm_alloc_poisoning(void)
{
	return ALLOC_POISON && gpuvm_debug_active();
}

GPUVM_EXPORT void gpuvm_kfree(void *ptr)
{
	if (!ptr)
		return;
	count_live(-1);
	if (gpuvm_alloc_poisoning()) {
		quarantine_put(ptr);
		return;
	}
	free(ptr);
}

bool gpuvm_alloc_cache_built__(void)
{
	return ALLOC_CACHE;
}

void gpuvm_kfree_sized_checked__(void *ptr, size_t size)
{
	/* The checker poisons and quarantines; the size is checked. */
	if (malloc_usable_size(ptr) < size)
		gpuvm_warn(
			GPUVM_RULE_CHECKER,
			"gpuvm_kfree_sized__: block of %zu bytes freed as %zu",
			malloc_usable_size(ptr), size);
	gpuvm_kfree(ptr);
}

GPUVM_EXPORT long gpuvm_alloc_live(void)
{
	struct alloc_thread *t;
	long sum;

	pthread_mutex_lock(&threads_lock);
	sum = exited_balance;
	for (t = threads; t; t = t->next)
		sum += __atomic_load_n(&t->balance, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&threads_lock);
	return sum;
}

GPUVM_EXPORT void gpuvm_alloc_drain(void)
{
	gpuvm_rcu_barrier();
}

GPUVM_EXPORT void gpuvm_alloc_fail_nth(unsigned long n)
{
	atomic_store(&fault_fired, false);
	atomic_store(&fail_countdown, n);
	gpuvm_slow_set(GPUVM_SLOW_FAULT, n != 0);
}

GPUVM_EXPORT bool gpuvm_alloc_fault_fired(void)
{
	return atomic_load(&fault_fired);
}

GPUVM_EXPORT int
gpuvm_alloc_fault_sweep(int (*op)(void *arg),
			void (*check)(void *arg, unsigned long n, int ret),
			void *arg, unsigned long max_n)
{
	unsigned long n;
	int ret;

	for (n = 1; !max_n || n <= max_n; n++) {
		gpuvm_alloc_fail_nth(n);
		ret = op(arg);
		if (!gpuvm_alloc_fault_fired()) {
			gpuvm_alloc_fail_nth(0);
			return ret ? ret : (int)(n - 1);
		}
		if (check)
			check(arg, n, ret);
	}
	gpuvm_alloc_fail_nth(0);
	return -E2BIG;
}
