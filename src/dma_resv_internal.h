/* SPDX-License-Identifier: MIT */
/*
 * The fence list of a reservation object (private; tests inspect it).
 *
 * Entries pack a fence pointer with its usage in the two low bits. Entries
 * below @num_fences are live; a reader snapshots @num_fences and only
 * looks below it. Writers (the resv lock held) overwrite entries in place
 * or append one and then publish the new count, so a reader sees either
 * the old or the new fence of an entry, both still allocated thanks to
 * RCU. A list that is replaced is freed after a grace period.
 */
#ifndef GPUVM_DMA_RESV_INTERNAL_H
#define GPUVM_DMA_RESV_INTERNAL_H

#include <gpuvm/dma_resv.h>

#define GPUVM_DMA_RESV_LIST_MASK 3ul

struct gpuvm_dma_resv_list {
	struct gpuvm_rcu_head rcu;
	unsigned int num_fences; /* atomic: lockless readers load it */
	unsigned int max_fences; /* under the resv lock */
	uintptr_t table[]; /* fence | usage; atomic */
};

#endif /* GPUVM_DMA_RESV_INTERNAL_H */
