// SPDX-License-Identifier: MIT
/*
 * The one place that calls malloc and free.
 *
 * Every allocation is counted (gpuvm_alloc_live()) and passes through the
 * fault injector: an armed countdown that fails exactly one allocation.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/alloc.h>

#include "internal.h"
#include "rcu_internal.h"

/* Under AddressSanitizer freed memory is checked better than by poison. */
#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALLOC_ASAN 1
#endif
#endif
#ifdef ALLOC_ASAN
#define ALLOC_POISON 0
#else
#define ALLOC_POISON 1
#endif

static atomic_long live_allocations;
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
				return true;
			}
			return false;
		}
	}
	return false;
}

static void *alloc_common(void *old, size_t size, gpuvm_gfp_t gfp,
			  const char *func)
{
	void *p;

	if (!(gfp & GPUVM_GFP_NOWAIT))
		gpuvm_might_alloc(func);

	if (inject_fault())
		return NULL;

	if (old)
		return realloc(old, size ? size : 1);
	p = (gfp & GPUVM_GFP_ZERO) ? calloc(1, size ? size : 1) :
				     malloc(size ? size : 1);
	if (p)
		atomic_fetch_add_explicit(&live_allocations, 1,
					  memory_order_relaxed);
	return p;
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
	atomic_fetch_sub_explicit(&live_allocations, 1, memory_order_relaxed);
	if (gpuvm_alloc_poisoning()) {
		quarantine_put(ptr);
		return;
	}
	free(ptr);
}

GPUVM_EXPORT long gpuvm_alloc_live(void)
{
	return atomic_load(&live_allocations);
}

GPUVM_EXPORT void gpuvm_alloc_drain(void)
{
	gpuvm_rcu_barrier();
}

GPUVM_EXPORT void gpuvm_alloc_fail_nth(unsigned long n)
{
	atomic_store(&fault_fired, false);
	atomic_store(&fail_countdown, n);
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
