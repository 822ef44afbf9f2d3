/* SPDX-License-Identifier: MIT */
/*
 * The allocator every libgpuvm object goes through, and its test hooks.
 *
 * All library memory comes from here, so a test can count live allocations
 * and make a chosen allocation fail. Fault injection is always compiled in;
 * when it is not armed it costs one branch per allocation.
 */
#ifndef GPUVM_ALLOC_H
#define GPUVM_ALLOC_H

#include <gpuvm/common.h>

GPUVM_BEGIN_DECLS

/* Allocation flags, a tiny subset of the kernel's gfp_t. */
typedef unsigned int gpuvm_gfp_t;
/* May block (the kernel's GFP_KERNEL); forbidden in a signalling section. */
#define GPUVM_GFP_KERNEL 0u
/* Zero the memory (__GFP_ZERO). */
#define GPUVM_GFP_ZERO (1u << 0)
/* Must not block (GFP_NOWAIT/GFP_ATOMIC); allowed in a signalling section. */
#define GPUVM_GFP_NOWAIT (1u << 1)

/**
 * gpuvm_kmalloc() - allocate @size bytes
 * @size: bytes, may be 0 (returns a unique pointer)
 * @gfp: GPUVM_GFP_* flags
 *
 * Context: a blocking allocation (no GPUVM_GFP_NOWAIT) inside a fence
 * signalling section is reported by the debug checker.
 * Return: the memory, or NULL when out of memory or an injected fault fires.
 */
GPUVM_EXPORT void *gpuvm_kmalloc(size_t size, gpuvm_gfp_t gfp);

/* gpuvm_kmalloc() of @n * @size bytes; NULL on multiplication overflow. */
GPUVM_EXPORT void *gpuvm_kmalloc_array(size_t n, size_t size, gpuvm_gfp_t gfp);

/**
 * gpuvm_krealloc_array() - resize an allocation to @n * @size bytes
 *
 * On failure NULL is returned and @ptr is left untouched and still owned by
 * the caller. GPUVM_GFP_ZERO is not supported here.
 */
GPUVM_EXPORT void *gpuvm_krealloc_array(void *ptr, size_t n, size_t size,
					gpuvm_gfp_t gfp);

/* Free memory from the gpuvm_k*alloc* family; NULL is ignored. */
GPUVM_EXPORT void gpuvm_kfree(void *ptr);

static inline void *gpuvm_kzalloc(size_t size, gpuvm_gfp_t gfp)
{
	return gpuvm_kmalloc(size, gfp | GPUVM_GFP_ZERO);
}

static inline void *gpuvm_kcalloc(size_t n, size_t size, gpuvm_gfp_t gfp)
{
	return gpuvm_kmalloc_array(n, size, gfp | GPUVM_GFP_ZERO);
}

/* Number of allocations made and not yet freed, process wide. */
GPUVM_EXPORT long gpuvm_alloc_live(void);

/*
 * Poisoning. With the debug checker on (and not under AddressSanitizer,
 * which does the same job better), gpuvm_kfree() fills the block with
 * GPUVM_POISON_FREE and keeps it in a bounded FIFO quarantine (the last
 * 256 blocks, at most 4 MiB) before really freeing it. A later access
 * through the library API to a freed object (VM, vm_bo, GEM or op the
 * library freed) then reads the poison instead of reused memory: the
 * reference counts and API entry points recognise GPUVM_POISON_INT and
 * report GPUVM_RULE_USE_AFTER_FREE naming the function. gpuvm_put() also
 * poisons the library's fields of a VM (its count, flags and r_obj) before
 * calling vm_free, so a VM whose memory the driver keeps is caught too.
 * Quarantined blocks count as freed for gpuvm_alloc_live(). With the
 * checker off, gpuvm_kfree() frees at once (one branch).
 */
#define GPUVM_POISON_FREE 0xa5
#define GPUVM_POISON_INT ((int)0xa5a5a5a5u)
#define GPUVM_POISON_PTR ((void *)(uintptr_t)0xa5a5a5a5a5a5a5a5ull)

/* Whether gpuvm_kfree() currently poisons and quarantines. */
GPUVM_EXPORT bool gpuvm_alloc_poisoning(void);

/* Really free every quarantined block (tests, teardown). Any thread. */
GPUVM_EXPORT void gpuvm_alloc_quarantine_flush(void);

/**
 * gpuvm_alloc_drain() - wait until every deferred free has happened
 *
 * Some memory (fence lists, fences) is freed after an RCU grace period,
 * on another thread. Call this before comparing gpuvm_alloc_live() with
 * an earlier value. Context: may block; not inside an RCU read section.
 */
GPUVM_EXPORT void gpuvm_alloc_drain(void);

/**
 * gpuvm_alloc_fail_nth() - make the @n-th next allocation fail
 * @n: 1 fails the very next allocation; 0 disarms
 *
 * Exactly one allocation fails; the ones after it succeed again. The count
 * is process wide: allocations from every thread count.
 */
GPUVM_EXPORT void gpuvm_alloc_fail_nth(unsigned long n);

/* True once the armed fault has fired (reset by gpuvm_alloc_fail_nth()). */
GPUVM_EXPORT bool gpuvm_alloc_fault_fired(void);

/**
 * gpuvm_alloc_fault_sweep() - run @op with each of its allocations failing
 * @op: the operation; returns 0 or a negative errno
 * @check: called after each run in which the injected fault fired, with
 *         the fault index n (1-based) and what @op returned; it restores or
 *         checks state so that @op can run again. May be NULL.
 * @arg: passed to both
 * @max_n: give up after this many failing runs (0: no limit)
 *
 * Runs @op with gpuvm_alloc_fail_nth(1), (2), ... until a run completes
 * without reaching the armed allocation; that last run's result is final.
 * Return: the number of allocation points exercised (>= 0) when the final
 * run succeeded, its negative errno otherwise, or -E2BIG when @max_n runs
 * all hit a fault.
 */
GPUVM_EXPORT int
gpuvm_alloc_fault_sweep(int (*op)(void *arg),
			void (*check)(void *arg, unsigned long n, int ret),
			void *arg, unsigned long max_n);

GPUVM_END_DECLS

#endif /* GPUVM_ALLOC_H */
