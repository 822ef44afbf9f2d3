// SPDX-License-Identifier: MIT
/*
 * The VA index's node memory.
 *
 * A lookup in a large index misses the cache at its lower levels; with the
 * nodes spread over 4 KiB pages it also misses the TLB there, and inside a
 * virtual machine every TLB miss is a two-dimensional page walk. The
 * kernel's nodes (its drm_gpuva structures, from slab) sit in the direct
 * map, which huge pages back. So the index takes its nodes from 2 MiB
 * aligned regions marked MADV_HUGEPAGE: where transparent huge pages are
 * enabled (always or madvise), one TLB entry covers 2 MiB of nodes (some
 * 2500) instead of 4 KiB (four or five).
 *
 * Layers, cheapest first, after the kernel's slab and Bonwick's magazines:
 * - each thread frees onto its current list of up to 64 nodes, and keeps
 *   up to 64 full lists (magazines, 4096 nodes, 3.4 MB) for itself: a
 *   thread that tears down and rebuilds its own VMs reuses its own nodes,
 *   still in its own cache, and never takes a lock for them;
 * - beyond that it hands full magazines to a shared stack, and a thread
 *   with none of its own takes one back, under a mutex (a thread that
 *   only frees, such as a cleanup worker, does not grow without bound);
 * - otherwise a thread carves fresh nodes from its own range of a region,
 *   taken 64 KiB at a time, so threads never write the same cache line.
 *   Handing magazines between threads at every list boundary instead
 *   made two threads on two VMs scale 1.50-1.80x rather than 1.77-1.86x.
 *
 * Regions are never unmapped: like a slab cache, the memory stays for the
 * next index (the peak of all indexes at once). Each node counts in
 * gpuvm_alloc_live() while allocated, and with the checker on or a fault
 * armed an allocation passes the same hooks as gpuvm_kmalloc() (might
 * sleep, fault injection), so the fault sweeps count the same allocations.
 *
 * Sanitizer builds use gpuvm_kmalloc() and gpuvm_kfree() instead (a line
 * more, for the alignment): there a use after free of a node is caught.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "alloc_internal.h"
#include "internal.h"
#include "node_alloc.h"

#if ALLOC_CACHE

#define REGION_BYTES (2u << 20)
#define CARVE_BYTES (64u << 10) /* a thread's share of a region at a time */
#define MAGAZINE_NODES 64u
#define LOCAL_MAGAZINES 64u /* full magazines a thread keeps for itself */

/*
 * A free node links to the next one of its list through its first word.
 * The first node of a magazine, on a thread's own stack or the shared
 * one, also holds the next magazine and its own list's length.
 */
struct free_node {
	struct free_node *next;
	struct free_node *next_magazine;
	unsigned int nr;
};

/* An unused carving range an exited thread left, kept at its start. */
struct free_range {
	struct free_range *next;
	char *end;
};

struct node_thread {
	struct free_node *cur; /* nr_cur nodes */
	struct free_node *local; /* nr_local full magazines */
	unsigned int nr_cur, nr_local;
	char *carve, *carve_end;
};

static __thread struct node_thread node_self
	__attribute__((tls_model("initial-exec")));

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct free_node *magazines; /* shared_lock; peeked without it */
static struct free_range *ranges; /* shared_lock */
static char *region_next, *region_end; /* shared_lock */

_Static_assert(GPUVM_NODE_BYTES % 64 == 0 &&
		       sizeof(struct free_node) <= GPUVM_NODE_BYTES &&
		       sizeof(struct free_range) <= GPUVM_NODE_BYTES,
	       "nodes are whole cache lines and hold the free links");

/* A fresh 2 MiB-aligned region, or NULL. */
static char *region_map(void)
{
	size_t len = 2 * (size_t)REGION_BYTES;
	char *p, *aligned;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	aligned = (char *)(((uintptr_t)p + REGION_BYTES - 1) &
			   ~(uintptr_t)(REGION_BYTES - 1));
	if (aligned > p)
		munmap(p, (size_t)(aligned - p));
	if (aligned + REGION_BYTES < p + len)
		munmap(aligned + REGION_BYTES,
		       (size_t)(p + len - aligned - REGION_BYTES));
	/* Best effort: without THP the nodes are still packed together. */
	madvise(aligned, REGION_BYTES, MADV_HUGEPAGE);
	return aligned;
}

/* shared_lock held: a carving range for @t, false when out of memory. */
static bool take_range(struct node_thread *t)
{
	struct free_range *r = ranges;

	if (r) {
		ranges = r->next;
		t->carve = (char *)r;
		t->carve_end = r->end;
		return true;
	}
	if ((size_t)(region_end - region_next) < CARVE_BYTES) {
		char *region = region_map();

		if (!region)
			return false;
		region_next = region;
		region_end = region + REGION_BYTES;
	}
	t->carve = region_next;
	/* Whole nodes only: the last 640 bytes of each range stay unused. */
	t->carve_end =
		region_next + CARVE_BYTES / GPUVM_NODE_BYTES * GPUVM_NODE_BYTES;
	region_next += CARVE_BYTES;
	return true;
}

/*
 * The thread has no free node: take a magazine if there is one, so that
 * freed nodes are used before new memory, else a carving range if the
 * thread has none left. Return false when out of memory.
 */
static __attribute__((noinline)) bool refill(struct node_thread *t)
{
	struct free_node *m;
	bool ok = true;

	pthread_mutex_lock(&shared_lock);
	m = magazines;
	if (m) {
		__atomic_store_n(&magazines, m->next_magazine,
				 __ATOMIC_RELAXED);
		t->cur = m;
		t->nr_cur = m->nr;
	} else if (t->carve == t->carve_end) {
		ok = take_range(t);
	}
	pthread_mutex_unlock(&shared_lock);
	return ok;
}

static void push_magazine(struct free_node *list, unsigned int nr)
{
	list->nr = nr;
	pthread_mutex_lock(&shared_lock);
	list->next_magazine = magazines;
	__atomic_store_n(&magazines, list, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&shared_lock);
}

static void *node_take(struct node_thread *t)
{
	struct free_node *n;

	for (;;) {
		n = t->cur;
		if (n) {
			t->cur = n->next;
			t->nr_cur--;
			return n;
		}
		if (t->local) {
			t->cur = t->local;
			t->nr_cur = MAGAZINE_NODES;
			t->local = t->local->next_magazine;
			t->nr_local--;
			continue;
		}
		/* A peek without the lock: a magazine that appears just
		 * after it waits for the next refill. */
		if (t->carve < t->carve_end &&
		    !__atomic_load_n(&magazines, __ATOMIC_RELAXED)) {
			n = (struct free_node *)(void *)t->carve;
			t->carve += GPUVM_NODE_BYTES;
			return n;
		}
		if (!refill(t))
			return NULL;
	}
}

void *gpuvm_node_alloc__(gpuvm_gfp_t gfp)
{
	void *node;

	if (unlikely(gpuvm_slow()) &&
	    gpuvm_alloc_checked_fails__(gfp, "gpuvm_kmalloc"))
		return NULL;
	node = node_take(&node_self);
	if (unlikely(!node))
		return NULL;
	count_live(1);
	if (gfp & GPUVM_GFP_ZERO)
		memset(node, 0, GPUVM_NODE_BYTES);
	return node;
}

void gpuvm_node_free__(void *node)
{
	struct node_thread *t = &node_self;
	struct free_node *n = node;

	if (!node)
		return;
	count_live(-1);
	/* The checker's poison, as for any freed block: a stale pointer into
	 * a freed node reads garbage rather than the old entries. */
	if (unlikely(gpuvm_debug_active()))
		memset(node, GPUVM_POISON_FREE, GPUVM_NODE_BYTES);
	if (t->nr_cur == MAGAZINE_NODES) {
		if (t->nr_local < LOCAL_MAGAZINES) {
			t->cur->next_magazine = t->local;
			t->local = t->cur;
			t->nr_local++;
		} else {
			push_magazine(t->cur, MAGAZINE_NODES);
		}
		t->cur = NULL;
		t->nr_cur = 0;
	}
	n->next = t->cur;
	t->cur = n;
	t->nr_cur++;
}

void gpuvm_node_thread_exit__(void)
{
	struct node_thread *t = &node_self;
	struct free_range *r;

	if (t->cur)
		push_magazine(t->cur, t->nr_cur);
	while (t->local) {
		struct free_node *m = t->local;

		t->local = m->next_magazine;
		push_magazine(m, MAGAZINE_NODES);
	}
	if (t->carve < t->carve_end) {
		r = (struct free_range *)(void *)t->carve;
		r->end = t->carve_end;
		pthread_mutex_lock(&shared_lock);
		r->next = ranges;
		ranges = r;
		pthread_mutex_unlock(&shared_lock);
	}
	memset(t, 0, sizeof(*t));
}

#else /* !ALLOC_CACHE: sanitizers see every node as its own block */

/*
 * gpuvm_kmalloc() aligns to 16 bytes; the index needs 64 (its backrefs keep
 * a slot number in the low bits of a leaf's address). Take a line more,
 * and keep the block's own address in the word before the node.
 */
void *gpuvm_node_alloc__(gpuvm_gfp_t gfp)
{
	char *block = gpuvm_kmalloc(GPUVM_NODE_BYTES + 64, gfp);
	char *node;

	if (!block)
		return NULL;
	node = (char *)(((uintptr_t)block + sizeof(void *) + 63) &
			~(uintptr_t)63);
	((void **)(void *)node)[-1] = block;
	return node;
}

void gpuvm_node_free__(void *node)
{
	if (node)
		gpuvm_kfree(((void **)node)[-1]);
}

void gpuvm_node_thread_exit__(void)
{
}

#endif
