/* SPDX-License-Identifier: MIT */
/*
 * Memory for the VA index's nodes (see node_alloc.c): fixed-size blocks
 * carved from 2 MiB regions the kernel may back with transparent huge
 * pages, the way the kernel's own slab memory sits in its huge-page direct
 * map. Counted, fault-injected and checked like gpuvm_kmalloc().
 */
#ifndef GPUVM_NODE_ALLOC_H
#define GPUVM_NODE_ALLOC_H

#include <stddef.h>

#include <gpuvm/alloc.h>

/* Every node is this big and 64-byte aligned (a whole number of lines). */
#define GPUVM_NODE_BYTES 832u

/* One node, uninitialised (GPUVM_GFP_ZERO: zeroed); NULL when out of
 * memory or when an armed fault injection fails this allocation. */
void *gpuvm_node_alloc__(gpuvm_gfp_t gfp);

/* Give back a node from gpuvm_node_alloc__(); NULL is ignored. */
void gpuvm_node_free__(void *node);

/* Thread exit: hand the calling thread's cached nodes to the others. */
void gpuvm_node_thread_exit__(void);

#endif /* GPUVM_NODE_ALLOC_H */
