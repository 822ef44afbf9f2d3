// SPDX-License-Identifier: MIT
/*
 * The one place that calls malloc and free.
 *
 * Every allocation is counted (gpuvm_alloc_live()) and passes through the
 * fault injector: an armed countdown that fails exactly one allocation.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rcu.h"

static atomic_long live_allocations;
/* Allocations left before the injected fault; 0 = disarmed. */
static atomic_ulong fail_countdown;
static atomic_bool fault_fired;

static bool inject_fault(void)
{
	unsigned long left;

	if (likely(atomic_load_explicit(&fail_countdown,
					memory_order_relaxed) == 0))
		return false;

	left = atomic_load(&fail_countdown);
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

	if (old) {
		p = realloc(old, size ? size : 1);
		return p;
	}
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

GPUVM_EXPORT void gpuvm_kfree(void *ptr)
{
	if (!ptr)
		return;
	atomic_fetch_sub_explicit(&live_allocations, 1, memory_order_relaxed);
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
