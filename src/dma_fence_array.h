/* SPDX-License-Identifier: MIT */
/*
 * A minimal fence container (the kernel's dma_fence_array, wait-all form),
 * private to the library: gpuvm_dma_resv_get_singleton() returns one.
 *
 * The array signals once every member has signaled, with the first member
 * error it saw. Unlike the kernel it registers its member callbacks when it
 * is created instead of when signalling is enabled: a member callback then
 * takes the array's lock inside the member's lock, and nothing ever takes
 * them the other way round.
 */
#ifndef GPUVM_DMA_FENCE_ARRAY_H
#define GPUVM_DMA_FENCE_ARRAY_H

#include <gpuvm/dma_fence.h>

/*
 * Create an array of @num_fences > 0 @fences on @context / @seqno.
 * On success it owns @fences (the gpuvm_kmalloc()ed array and one
 * reference per member); on failure (NULL) the caller keeps both.
 */
struct gpuvm_dma_fence *
gpuvm_dma_fence_array_create(unsigned int num_fences,
			     struct gpuvm_dma_fence **fences, uint64_t context,
			     uint64_t seqno);

/* Whether @fence is such an array (a container). */
bool gpuvm_dma_fence_is_array(struct gpuvm_dma_fence *fence);

#endif /* GPUVM_DMA_FENCE_ARRAY_H */
