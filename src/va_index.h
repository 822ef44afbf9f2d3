/* SPDX-License-Identifier: MIT */
/*
 * Private ordered index of GPU VA mappings.
 *
 * Each entry is a half-open range [start, end) with an opaque, non-NULL item
 * pointer. Entries never overlap, so ordering them by start also orders them
 * by end; that lets a B+-tree keyed by start answer every interval question
 * the VA layer asks (lowest overlap, neighbours, ordered walks).
 *
 * The tree keeps keys in arrays inside wide nodes: a lookup touches a few
 * cache lines per level instead of one pointer per level, and the leaves are
 * chained both ways so ordered walks and neighbour queries stay in place.
 *
 * Supported ranges: 0 <= start < end <= U64_MAX. The last byte of the address
 * space (U64_MAX itself) cannot be covered, which matches the VM's rule that
 * addr + range must not overflow. Empty ranges are refused.
 *
 * Locking: none inside; the owner (the VM) serialises all calls. Readers may
 * run concurrently with each other only.
 */
#ifndef GPUVM_VA_INDEX_H
#define GPUVM_VA_INDEX_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

struct gpuvm_va_leaf;

struct gpuvm_va_index {
	void *root; /* a leaf when height == 1, an inner node above */
	size_t count; /* entries */
	unsigned int height; /* 0: empty, 1: the root is a leaf */
	unsigned int nr_spare; /* nodes in the reserve */
	void *spare; /* the reserve: free nodes for splitting inserts */
	/* Bumped by every insert and remove, so cursors notice changes. */
	unsigned long seq;
	/* 1 + where each item keeps the leaf holding it (0: items keep
	 * nothing); see gpuvm_va_index_init_backref(). */
	size_t backref;
	/* The leaf the last insert, removal or first_overlap_for_update()
	 * reached: an insert that falls strictly inside it needs no descent.
	 * Never a freed leaf. */
	struct gpuvm_va_leaf *finger;
};

/*
 * Ordered cursor. Removing the entry the cursor is on (or any other change to
 * the index) is allowed between steps: the next step then seeks again from
 * the end of the entry it was on, so it continues with the first entry that
 * starts at or after that address. Pieces put back inside the old entry's
 * range (a remap's prev/next) are therefore not visited, as with the VM's
 * look-ahead walk; unlike that walk, an entry inserted after the old end but
 * before the old successor is visited. Unmodified, a step costs O(1).
 */
struct gpuvm_va_index_iter {
	struct gpuvm_va_index *idx;
	struct gpuvm_va_leaf *leaf; /* valid only while seq matches */
	unsigned int slot;
	unsigned long seq;
	uint64_t limit; /* stop before entries starting at or after this */
	bool bounded;
	/* The entry the cursor is on (NULL once the walk is done). */
	void *item;
	uint64_t start;
	uint64_t end;
};

void gpuvm_va_index_init(struct gpuvm_va_index *idx);

/*
 * Make every item keep where it sits (its leaf's address plus its slot in
 * the leaf) in the pointer-sized field at byte @offset of the item, which
 * the index then owns (NULL while the item is not in the index). Removal
 * and replacement by item then find the entry without a search. Call on an
 * empty index; it stays across destroy.
 */
void gpuvm_va_index_init_backref(struct gpuvm_va_index *idx, size_t offset);

/* Free every node, the reserve included; items are not touched. The index
 * is empty afterwards and may be used again. */
void gpuvm_va_index_destroy(struct gpuvm_va_index *idx);

static inline size_t gpuvm_va_index_count(const struct gpuvm_va_index *idx)
{
	return idx->count;
}

/*
 * Add [start, end) -> item. Return: 0; -EINVAL if start >= end or item is
 * NULL; -EEXIST if the range overlaps an entry (touching is fine); -ENOMEM
 * if a node was needed, the reserve had too few and a non-blocking
 * allocation failed. On error the index (reserve included) is unchanged.
 *
 * Needs nodes only when a leaf splits (about one insert in sixteen). They
 * come from the reserve first, then from GPUVM_GFP_NOWAIT allocations, so
 * an insert never blocks and is allowed in a fence signalling section.
 */
int gpuvm_va_index_insert(struct gpuvm_va_index *idx, uint64_t start,
			  uint64_t end, void *item);

/*
 * Top up the reserve so that the next @n inserts cannot fail with -ENOMEM
 * (removals in between do not use it up). It holds the worst case:
 * n * (height + 1) nodes of ~800 bytes for n <= 30, a level more per
 * factor of 15 beyond. Nodes left over serve later inserts and are freed
 * by destroy. May block. Return: 0, or -ENOMEM with the reserve as it was.
 */
int gpuvm_va_index_reserve(struct gpuvm_va_index *idx, unsigned int n);

/*
 * Remove the entry starting exactly at @start and return its item, or NULL
 * if there is none. Never allocates and cannot fail otherwise.
 */
void *gpuvm_va_index_remove(struct gpuvm_va_index *idx, uint64_t start);

/*
 * Remove @item, which is in the index and starts at @start. With backrefs
 * (gpuvm_va_index_init_backref()) this goes straight to its slot, touches
 * only its leaf's header line (the entry is marked dead there, and the
 * next write into the leaf settles it), and descends only to rebalance an
 * underfull leaf; without, or if @item's backref is NULL, it is
 * gpuvm_va_index_remove(@start). Never allocates. The index does not look
 * at @item again after this returns.
 */
void gpuvm_va_index_remove_item(struct gpuvm_va_index *idx, void *item,
				uint64_t start);

/*
 * Put [start, @end) -> @item in the place of @old_item, which is in the
 * index and covers [start, old end) with @end <= old end: the order cannot
 * change, so no node moves and nothing is allocated.
 */
void gpuvm_va_index_replace(struct gpuvm_va_index *idx, void *old_item,
			    uint64_t start, uint64_t end, void *item);

/*
 * The lowest entry overlapping the inclusive interval [start, end - 1],
 * where end - 1 is computed modulo 2^64; NULL if none.
 *
 * For start < end that is plain half-open overlap. The wrap-around is kept on
 * purpose so the VA layer can express the VM's lookups literally:
 *   find_first(addr, range) == first_overlap(addr, addr + range)
 *     (range 0: an entry strictly straddling addr; addr 0 and range 0: the
 *      very first entry)
 *   find_prev(s)  == first_overlap(s - 1, s + 1)  (after its range check)
 *   find_next(e)  == first_overlap(e, e + 2)      (after its range check)
 */
void *gpuvm_va_index_first_overlap(const struct gpuvm_va_index *idx,
				   uint64_t start, uint64_t end);

/*
 * As gpuvm_va_index_first_overlap(), for a caller about to change the
 * index there (a split/merge walk): the inserts that follow start at the
 * leaf it reached (the finger), whose lines it starts loading.
 * Otherwise a lookup like the others: readers may run alongside. When it
 * finds an item, *@next is the entry after it (NULL if it is the last)
 * and *@next_start where that entry starts, as
 * gpuvm_va_index_next_item() would say; both are left alone otherwise.
 */
void *gpuvm_va_index_first_overlap_for_update(struct gpuvm_va_index *idx,
					      uint64_t start, uint64_t end,
					      void **next,
					      uint64_t *next_start);

/*
 * The entry after @item, which is in the index and starts at @start: its
 * item, and its start in *@next_start; NULL if @item is the last. With
 * backrefs the answer comes from @item's leaf, so a walk learns where the
 * next entry starts without touching that entry's item.
 */
void *gpuvm_va_index_next_item(const struct gpuvm_va_index *idx, void *item,
			       uint64_t start, uint64_t *next_start);

/* The entry starting exactly at @start, or NULL. */
void *gpuvm_va_index_lookup_exact(const struct gpuvm_va_index *idx,
				  uint64_t start);

/* The entry ending exactly at @addr (the one right before it), or NULL. */
void *gpuvm_va_index_prev(const struct gpuvm_va_index *idx, uint64_t addr);

/* The entry with the greatest start below @addr, or NULL. */
void *gpuvm_va_index_lower_than(const struct gpuvm_va_index *idx,
				uint64_t addr);

/* The entry with the smallest start at or above @addr, or NULL. */
void *gpuvm_va_index_next_from(const struct gpuvm_va_index *idx, uint64_t addr);

/*
 * Start a walk over the entries overlapping [start, end) in ascending order:
 * the first is first_overlap(start, end), and the walk goes on while entries
 * start below @end (the VM's for_each_va_range rule, quirks included).
 * Return: the first item or NULL; it->start/end describe it.
 */
void *gpuvm_va_index_iter_first_overlap(struct gpuvm_va_index_iter *it,
					struct gpuvm_va_index *idx,
					uint64_t start, uint64_t end);

/* Start a walk over every entry. */
void *gpuvm_va_index_iter_first(struct gpuvm_va_index_iter *it,
				struct gpuvm_va_index *idx);

/* Step to the next entry; NULL when the walk is over. */
void *gpuvm_va_index_iter_next(struct gpuvm_va_index_iter *it);

/*
 * Check every structural invariant (order, no overlap, separators, node fill,
 * leaf chain, count, height). Prints the first problem to stderr.
 */
bool gpuvm_va_index_validate(const struct gpuvm_va_index *idx);

/*
 * How many nodes an insert starting at @start would allocate right now
 * (0 when no node splits, height + 1 when the root splits). For tests.
 */
unsigned int gpuvm_va_index_insert_cost(const struct gpuvm_va_index *idx,
					uint64_t start);

#endif /* GPUVM_VA_INDEX_H */
