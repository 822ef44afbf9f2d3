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

GPUVM_END_DECLS

#endif /* GPUVM_ALLOC_H */
