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
 * The caller owns the memory and frees it with gpuvm_kfree(). Every call
 * counts for gpuvm_alloc_live() and for the armed fault injection
 * (testing.h).
 *
 * Context: any thread, no lock needed. Without GPUVM_GFP_NOWAIT the
 * allocation counts as one that may block (gpuvm_might_alloc()): the
 * debug checker reports it inside a fence signalling section or while a
 * signalling-safe lock is held. RCU read sections are not checked.
 * Return: the memory, or NULL when out of memory or an injected fault
 * fires.
 * Kernel parity: a size of 0 gives a real, unique block, where the kernel
 * returns ZERO_SIZE_PTR.
 */
GPUVM_EXPORT void *gpuvm_kmalloc(size_t size, gpuvm_gfp_t gfp);

/**
 * gpuvm_kmalloc_array() - allocate @n * @size bytes
 * @n: number of elements
 * @size: bytes per element
 * @gfp: GPUVM_GFP_* flags
 *
 * As gpuvm_kmalloc(). A product that overflows is refused before the
 * allocator is reached: it neither counts for fault injection nor is
 * annotated for the checker.
 *
 * Context: as gpuvm_kmalloc().
 * Return: the memory (owned by the caller), or NULL on overflow, when out
 * of memory or when an injected fault fires.
 */
GPUVM_EXPORT void *gpuvm_kmalloc_array(size_t n, size_t size, gpuvm_gfp_t gfp);

/**
 * gpuvm_krealloc_array() - resize an allocation to @n * @size bytes
 * @ptr: memory from the gpuvm_k*alloc* family, or NULL (then this is
 *       gpuvm_kmalloc_array() without GPUVM_GFP_ZERO)
 * @n: number of elements
 * @size: bytes per element
 * @gfp: GPUVM_GFP_* flags; GPUVM_GFP_ZERO is ignored (grown memory is not
 *       zeroed)
 *
 * On success the contents up to the smaller size are kept and @ptr must
 * not be used any more (a block that moved is freed without the debug
 * poisoning).
 * On failure @ptr is left untouched and still owned by the caller.
 *
 * Context: as gpuvm_kmalloc().
 * Return: the resized memory (owned by the caller), or NULL on overflow of
 * @n * @size, when out of memory or when an injected fault fires.
 * Kernel parity: the kernel's krealloc_array() honours __GFP_ZERO and
 * frees @ptr for a new size of 0; here a size of 0 keeps a one-byte block.
 */
GPUVM_EXPORT void *gpuvm_krealloc_array(void *ptr, size_t n, size_t size,
					gpuvm_gfp_t gfp);

/**
 * gpuvm_kfree() - free memory of the gpuvm_k*alloc* family
 * @ptr: the memory, or NULL (ignored)
 *
 * With poisoning on (gpuvm_alloc_poisoning()) the block is filled with
 * GPUVM_POISON_FREE and quarantined before it is really freed. A double
 * free is not detected.
 *
 * Context: any thread; never blocks on a fence and does not allocate, so
 * it is allowed in a fence signalling section and an RCU read section.
 * Takes the quarantine's internal mutex briefly when poisoning.
 */
GPUVM_EXPORT void gpuvm_kfree(void *ptr);

/**
 * gpuvm_kzalloc() - gpuvm_kmalloc() of zeroed memory
 * @size: bytes, may be 0
 * @gfp: GPUVM_GFP_* flags (GPUVM_GFP_ZERO is added)
 *
 * Context: as gpuvm_kmalloc().
 * Return: as gpuvm_kmalloc().
 */
static inline void *gpuvm_kzalloc(size_t size, gpuvm_gfp_t gfp)
{
	return gpuvm_kmalloc(size, gfp | GPUVM_GFP_ZERO);
}

/**
 * gpuvm_kcalloc() - gpuvm_kmalloc_array() of zeroed memory
 * @n: number of elements
 * @size: bytes per element
 * @gfp: GPUVM_GFP_* flags (GPUVM_GFP_ZERO is added)
 *
 * Context: as gpuvm_kmalloc().
 * Return: as gpuvm_kmalloc_array().
 */
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

/**
 * gpuvm_alloc_poisoning() - whether gpuvm_kfree() poisons and quarantines
 *
 * Context: any thread; lock-free.
 * Return: true while the debug checker is on in a build without
 * AddressSanitizer; it follows gpuvm_debug_enable() at run time.
 */
GPUVM_EXPORT bool gpuvm_alloc_poisoning(void);

GPUVM_END_DECLS

#endif /* GPUVM_ALLOC_H */
