/* SPDX-License-Identifier: MIT */
/*
 * The allocator's per-thread state and fast paths (see alloc.c), inline so
 * that the library's own small allocations (op lists, vm_bos) cost a few
 * instructions with the checker off.
 *
 * The live count is kept per thread, so that threads allocating at once
 * never share a written cache line: each thread adds to its own counter
 * (frees may make it negative), and gpuvm_alloc_live() sums the counters
 * of the live threads and what exited threads left behind.
 *
 * The block cache is the kernel's per-CPU slab fast path in miniature:
 * with the checker off, a small block freed with gpuvm_kfree_sized__()
 * goes on a per-thread list by size, and the next allocation of that size
 * takes it back, so the op lists and vm_bos of a request cost a push and
 * a pop rather than a trip through malloc. Cached blocks count as freed.
 * Sanitizer builds and the checker (which poisons and quarantines freed
 * blocks) bypass it, so a use after free is still caught where it was.
 */
#ifndef GPUVM_ALLOC_INTERNAL_H
#define GPUVM_ALLOC_INTERNAL_H

#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Under AddressSanitizer freed memory is checked better than by poison. */
#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALLOC_ASAN 1
#endif
#endif

#if defined(ALLOC_ASAN) || defined(GPUVM_TSAN)
#define ALLOC_CACHE 0
#else
#define ALLOC_CACHE 1
#endif

/*
 * Class c holds blocks allocated as (c + 1) * CACHE_STEP bytes: a small
 * allocation is rounded up to its class, so any block of the class fits
 * it, whatever malloc is underneath. Blocks come back only through
 * gpuvm_kfree_sized__(), whose caller knows the size it asked for; a
 * plain gpuvm_kfree() goes to free().
 */
#define CACHE_STEP 16u
#define CACHE_CLASSES 16u
#define CACHE_MAX_BYTES (CACHE_STEP * CACHE_CLASSES)
#define CACHE_DEPTH 16u /* blocks kept per class */

struct alloc_thread {
	long balance; /* written by its thread only */
	bool registered;
	struct alloc_thread *next;
	struct alloc_thread **pprev;
	/* Cached blocks by class, linked through their first word. */
	void *cache[CACHE_CLASSES];
	unsigned char cached[CACHE_CLASSES];
};

extern __thread struct alloc_thread gpuvm_alloc_self__
	__attribute__((tls_model("initial-exec")));

/* Put the calling thread on the list gpuvm_alloc_live() sums. */
void gpuvm_alloc_register_thread__(void);

/* With the checker on, an explorer installed or a fault armed: the hooks
 * of an allocation (might sleep, fault injection). Return true when the
 * allocation must fail. */
bool gpuvm_alloc_checked_fails__(gpuvm_gfp_t gfp, const char *func);

/* The slow part of gpuvm_kfree_sized__(): the checker is on. */
void gpuvm_kfree_sized_checked__(void *ptr, size_t size);

static inline void count_live(long delta)
{
	struct alloc_thread *t = &gpuvm_alloc_self__;

	if (unlikely(!t->registered))
		gpuvm_alloc_register_thread__();
	/* A plain add: only the sum in gpuvm_alloc_live() reads it. */
	__atomic_store_n(&t->balance,
			 __atomic_load_n(&t->balance, __ATOMIC_RELAXED) + delta,
			 __ATOMIC_RELAXED);
}

static inline unsigned int cache_class(size_t size)
{
	return (unsigned int)((size - 1) / CACHE_STEP);
}

static inline size_t cache_round(size_t size)
{
	return (size + CACHE_STEP - 1) & ~(size_t)(CACHE_STEP - 1);
}

/* A cached block for @size (1..CACHE_MAX_BYTES) bytes, or NULL. */
static inline void *cache_pop(size_t size)
{
	struct alloc_thread *t = &gpuvm_alloc_self__;
	unsigned int c = cache_class(size);
	void *block;

	if (!ALLOC_CACHE || !t->cache[c])
		return NULL;
	block = t->cache[c];
	t->cache[c] = *(void **)block;
	t->cached[c]--;
	return block;
}

/* Keep @ptr, allocated for @size bytes, if its class has room. */
static inline bool cache_push(void *ptr, size_t size)
{
	struct alloc_thread *t = &gpuvm_alloc_self__;
	unsigned int c;

	if (!ALLOC_CACHE || size > CACHE_MAX_BYTES || !size)
		return false;
	c = cache_class(size);
	if (t->cached[c] >= CACHE_DEPTH)
		return false;
	*(void **)ptr = t->cache[c];
	t->cache[c] = ptr;
	t->cached[c]++;
	return true;
}

/*
 * gpuvm_kmalloc() for the library's own small fixed-size structures: the
 * same result, counted and zeroed alike, with the checked path (checker,
 * explorer, armed fault) taken through gpuvm_kmalloc() itself.
 */
static inline void *gpuvm_kmalloc_small__(size_t size, gpuvm_gfp_t gfp)
{
	void *p;

	if (unlikely(gpuvm_slow()) || !size || size > CACHE_MAX_BYTES)
		return gpuvm_kmalloc(size, gfp);
	p = cache_pop(size);
	if (!p)
		p = malloc(cache_round(size));
	if (likely(p)) {
		count_live(1);
		if (gfp & GPUVM_GFP_ZERO)
			memset(p, 0, size);
	}
	return p;
}

/*
 * gpuvm_kfree() of a block the caller got from gpuvm_kmalloc(@size, ...)
 * (not resized since): with the checker off a small one goes to the
 * thread's block cache. For the hot frees (op lists, vm_bos).
 */
static inline void gpuvm_kfree_sized__(void *ptr, size_t size)
{
	if (!ptr)
		return;
	if (unlikely(gpuvm_debug_active())) {
		gpuvm_kfree_sized_checked__(ptr, size);
		return;
	}
	count_live(-1);
	if (!cache_push(ptr, size))
		free(ptr);
}

#endif /* GPUVM_ALLOC_INTERNAL_H */
