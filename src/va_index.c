// SPDX-License-Identifier: MIT
/*
 * A B+-tree of non-overlapping [start, end) ranges, keyed by start.
 *
 * Leaves hold the entries in sorted arrays and are chained in both
 * directions; inner nodes hold child pointers and separator keys. A
 * separator is a lower bound: every entry below child i + 1 starts at or
 * after key[i], every entry below child i starts before it. Removal never
 * tightens separators (a stale bound is still a bound), so it never needs to
 * touch ancestors except to merge or rebalance underfull nodes.
 *
 * Because a separator may lie below the first start of its child, the entry
 * just before a query address can sit at the end of the previous leaf; every
 * neighbour query therefore looks one leaf back or forward when the slot it
 * wants falls off the edge of the leaf it landed in.
 *
 * Unused key slots hold U64_MAX so that in-node searches can run over the
 * whole fixed-size array without looking at the fill count; the result is
 * clamped afterwards (a real start is always below U64_MAX).
 *
 * A leaf's entries do not move while they stay in it: each sits in a slot,
 * unordered, and a byte per rank names the slot of the entry of that rank.
 * An item's backref names its leaf and its slot, so removing it by pointer
 * needs no search and touches one line of the leaf, its header.
 *
 * A removal only marks the slot dead: the entry keeps its rank and its
 * start until the next write into that leaf (an insert, a merge) settles
 * it, closing up the order bytes and leaving the slot stale (free, start
 * still there, cleared by the insert that fills a slot). Readers step over
 * dead ranks. Why: closing up the order bytes takes some forty operations
 * that all wait for the header line; in a large index that line is a cache
 * miss, and operations waiting on it fill the CPU's scheduler, so the next
 * removal cannot start its own misses. Marking the slot dead is a few
 * operations, and removals then overlap. Settling later happens in a line
 * the writer has just loaded anyway.
 *
 * An insert fills a free slot and opens a byte. A search counts the starts
 * at or below the query over all slots (there is no order to bisect),
 * minus the stale ones: a few more instructions than a binary search, and
 * no more lines. Dead starts count: they still hold their rank.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "node_alloc.h"
#include "va_index.h"

/* 32 starts fill four cache lines; searching them is cheap and the shallow
 * tree (five levels for a million entries) is what makes lookups fast. */
#define VA_LEAF_SLOTS 32
#define VA_INNER_SLOTS 32 /* children per inner node */
/* A leaf is merged or topped up only below a quarter: entries that change
 * leaves must update their items' backrefs (a cache miss each in a large
 * index), so rebalancing moves as few as it can. */
#define VA_LEAF_MIN (VA_LEAF_SLOTS / 8)
#define VA_INNER_MIN (VA_INNER_SLOTS / 2)
/* With >= 4 entries per leaf and >= 16 children per inner node below a
 * root of >= 2, height h means at least 2 * 16^(h-2) * 4 entries: height 18
 * would already need more than 2^64. */
#define VA_MAX_HEIGHT 18

#define VA_NO_KEY UINT64_MAX

struct va_val {
	uint64_t end;
	void *item;
};

/* Past the fill count, order[] holds this. */
#define VA_NO_SLOT 0xff

struct gpuvm_va_leaf {
	/* By slot; a free slot holds VA_NO_KEY, or its old start if stale. */
	uint64_t start[VA_LEAF_SLOTS];
	/* end and item sit together: a hit touches one more line, not two. */
	struct va_val val[VA_LEAF_SLOTS];
	/* The header, one cache line, read by every access to the leaf. */
	struct gpuvm_va_leaf *prev, *next;
	uint8_t nr; /* ranks in order[]: live entries and dead ones */
	uint8_t live; /* entries in the index */
	uint32_t used; /* a bit per slot holding a live entry */
	/* Removed entries still holding their rank until the leaf settles. */
	uint32_t dead;
	/* Free slots whose start a settled removal left behind (the
	 * settle writes this line only); the next insert clears them. */
	uint32_t stale;
	/* order[r]: the slot of the entry of rank r; VA_NO_SLOT from nr on. */
	uint8_t order[VA_LEAF_SLOTS];
};

/* Backrefs carry the slot in the low bits of the leaf's address. */
#define VA_SLOT_MASK ((uintptr_t)63)

struct va_inner {
	/* key[i] separates child i and i + 1; the last slot is always unused
	 * so the array has a power-of-two size for the search. */
	uint64_t key[VA_INNER_SLOTS];
	void *child[VA_INNER_SLOTS];
	unsigned int nr; /* children */
};

/* The inner nodes visited on the way down and which child was taken. */
struct va_path {
	struct va_inner *node[VA_MAX_HEIGHT];
	unsigned int slot[VA_MAX_HEIGHT];
};

/* A position in the leaf chain: slot is a rank, and may equal leaf->nr
 * ("just past"). Positions handed to callers name live entries. */
struct va_pos {
	struct gpuvm_va_leaf *leaf;
	unsigned int slot;
};

_Static_assert(offsetof(struct gpuvm_va_leaf, start) == 0 &&
		       offsetof(struct va_inner, key) == 0 &&
		       VA_LEAF_SLOTS == VA_INNER_SLOTS,
	       "prefetch_keys() expects the same key array at the same place");
_Static_assert((VA_LEAF_SLOTS & (VA_LEAF_SLOTS - 1)) == 0 &&
		       (VA_INNER_SLOTS & (VA_INNER_SLOTS - 1)) == 0,
	       "node sizes must be powers of two for the search");
_Static_assert(VA_LEAF_SLOTS >= 8, "the search counts the last 8 keys");
_Static_assert(offsetof(struct gpuvm_va_leaf, prev) % 64 == 0 &&
		       sizeof(struct gpuvm_va_leaf) -
				       offsetof(struct gpuvm_va_leaf, prev) <=
			       64,
	       "a leaf's header is one cache line");
_Static_assert(VA_LEAF_SLOTS <= VA_SLOT_MASK + 1 && VA_LEAF_SLOTS <= 32 &&
		       VA_LEAF_SLOTS % 8 == 0,
	       "slots fit a backref's low bits, the used mask and the SWAR");

/*
 * Number of keys <= q in a sorted array of n (a power of two, >= 8) keys.
 * Halve the window without branches (conditional moves) down to 8 keys,
 * then count those 8 with independent compares. That is two dependent loads
 * plus one cache line's worth of parallel work for a 32-key node; measured
 * faster than either a full binary search or a full linear count, in cache
 * and out of it.
 */
static inline unsigned int rank_le(const uint64_t *a, unsigned int n,
				   uint64_t q)
{
	unsigned int pos = 0, len = n, i, c = 0;

	/* Unrolled at -O2 too: this is every lookup's inner loop. */
#pragma GCC unroll 4
	while (len > 8) {
		unsigned int half = len / 2;

		/* Keys before the window are <= q, keys after it are > q. */
		pos = a[pos + half - 1] <= q ? pos + half : pos;
		len -= half;
	}
#pragma GCC unroll 8
	for (i = 0; i < 8; i++)
		c += a[pos + i] <= q;
	return pos + c;
}

/*
 * Entries of @leaf starting at or before @q, which is the rank of the last
 * of them plus one. The slots are unordered, so count over all of them: free
 * ones hold VA_NO_KEY, above every q but U64_MAX, which the clamp handles,
 * except stale ones, which are taken back out.
 */
static inline unsigned int leaf_rank_le(const struct gpuvm_va_leaf *leaf,
					uint64_t q)
{
	unsigned int i, c0 = 0, c1 = 0, c2 = 0, c3 = 0, n;
	uint32_t stale = leaf->stale;

	/* Four sums: one would chain 32 dependent additions. */
#pragma GCC unroll 8
	for (i = 0; i < VA_LEAF_SLOTS; i += 4) {
		c0 += leaf->start[i] <= q;
		c1 += leaf->start[i + 1] <= q;
		c2 += leaf->start[i + 2] <= q;
		c3 += leaf->start[i + 3] <= q;
		/* Keep GCC from folding the sums back into one chain. */
		__asm__("" : "+r"(c0), "+r"(c1), "+r"(c2), "+r"(c3));
	}
	n = c0 + c1 + c2 + c3;
	for (; unlikely(stale); stale &= stale - 1)
		n -= leaf->start[__builtin_ctz(stale)] <= q;
	return n < leaf->nr ? n : leaf->nr;
}

/* The start, end and item of the entry of rank @r. */
static inline uint64_t start_at(const struct gpuvm_va_leaf *leaf,
				unsigned int r)
{
	return leaf->start[leaf->order[r]];
}

static inline uint64_t end_at(const struct gpuvm_va_leaf *leaf, unsigned int r)
{
	return leaf->val[leaf->order[r]].end;
}

static inline void *item_at(const struct gpuvm_va_leaf *leaf, unsigned int r)
{
	return leaf->val[leaf->order[r]].item;
}

/* Whether rank @r (< nr) holds a removed entry. */
static inline bool rank_dead(const struct gpuvm_va_leaf *leaf, unsigned int r)
{
	return leaf->dead && (leaf->dead & (1u << leaf->order[r]));
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/*
 * order[] as four words, byte r of the array being byte r % 8 of word
 * r / 8: finding or opening a byte takes a few ALU operations per word; a
 * memmove() of a random length would mispredict on its size class.
 */
#define VA_ORDER_WORDS (VA_LEAF_SLOTS / 8)
#define VA_BYTES(b) (0x0101010101010101ull * (uint8_t)(b))

/* The rank of the entry in @slot; VA_LEAF_SLOTS if the slot is free. */
static inline unsigned int rank_of_slot(const struct gpuvm_va_leaf *leaf,
					unsigned int slot)
{
	unsigned int i;

	for (i = 0; i < VA_ORDER_WORDS; i++) {
		uint64_t w, z;

		memcpy(&w, &leaf->order[8 * i], sizeof(w));
		w ^= VA_BYTES(slot);
		z = (w - VA_BYTES(1)) & ~w & VA_BYTES(0x80);
		if (z)
			return 8 * i + (unsigned int)__builtin_ctzll(z) / 8;
	}
	return VA_LEAF_SLOTS;
}

/* Word @w of order[], read and written in place. */
static inline uint64_t order_word(const struct gpuvm_va_leaf *leaf,
				  unsigned int w)
{
	uint64_t x;

	memcpy(&x, &leaf->order[8 * w], sizeof(x));
	return x;
}

static inline void order_word_set(struct gpuvm_va_leaf *leaf, unsigned int w,
				  uint64_t x)
{
	memcpy(&leaf->order[8 * w], &x, sizeof(x));
}

/* The bytes of word @w at or above rank @r, as 0xff: the ones a removal at
 * r moves. */
static inline uint64_t order_move_mask(unsigned int w, unsigned int r)
{
	int below = (int)r - (int)(8 * w);

	if (below <= 0)
		return ~0ull;
	return below >= 8 ? 0 : ~((1ull << (8 * below)) - 1);
}

/* Take rank @r out of order[], closing the gap. */
static inline void order_remove(struct gpuvm_va_leaf *leaf, unsigned int r)
{
	uint64_t cur = order_word(leaf, 0), next, shifted;
	unsigned int i;

	for (i = 0; i < VA_ORDER_WORDS; i++) {
		next = i + 1 < VA_ORDER_WORDS ? order_word(leaf, i + 1) :
						VA_BYTES(VA_NO_SLOT);
		shifted = (cur >> 8) | (next << 56);
		order_word_set(leaf, i,
			       cur ^ ((cur ^ shifted) & order_move_mask(i, r)));
		cur = next;
	}
}

/* Open rank @r in order[] (the last byte is VA_NO_SLOT) and put @slot. */
static inline void order_insert(struct gpuvm_va_leaf *leaf, unsigned int r,
				unsigned int slot)
{
	unsigned int i = r / 8;
	uint64_t cur = order_word(leaf, i), carry, shifted;
	uint64_t keep = (1ull << (8 * (r % 8))) - 1; /* bytes below r */

	/* Byte r takes the slot, the bytes above it move up one. */
	shifted = (cur << 8) & ~(keep | (keep + 1) * 0xff);
	order_word_set(leaf, i,
		       (cur & keep) | ((keep + 1) * (uint64_t)slot) | shifted);
	for (i++; i < VA_ORDER_WORDS; i++) {
		carry = cur >> 56;
		cur = order_word(leaf, i);
		order_word_set(leaf, i, (cur << 8) | carry);
	}
}

#else
static inline unsigned int rank_of_slot(const struct gpuvm_va_leaf *leaf,
					unsigned int slot)
{
	unsigned int r = 0;

	while (r < VA_LEAF_SLOTS && leaf->order[r] != slot)
		r++;
	return r;
}

static inline void order_remove(struct gpuvm_va_leaf *leaf, unsigned int r)
{
	memmove(&leaf->order[r], &leaf->order[r + 1], VA_LEAF_SLOTS - 1 - r);
	leaf->order[VA_LEAF_SLOTS - 1] = VA_NO_SLOT;
}

static inline void order_insert(struct gpuvm_va_leaf *leaf, unsigned int r,
				unsigned int slot)
{
	memmove(&leaf->order[r + 1], &leaf->order[r], VA_LEAF_SLOTS - 1 - r);
	leaf->order[r] = (uint8_t)slot;
}
#endif

/* Entries of @leaf starting before @q. */
static inline unsigned int leaf_rank_lt(const struct gpuvm_va_leaf *leaf,
					uint64_t q)
{
	return q ? leaf_rank_le(leaf, q - 1) : 0;
}

/* The child of @node whose key range contains @q. */
static inline unsigned int inner_child(const struct va_inner *node, uint64_t q)
{
	unsigned int r = rank_le(node->key, VA_INNER_SLOTS, q);

	return r < node->nr - 1 ? r : node->nr - 1;
}

/*
 * Start loading all of a node's keys at once: the search (a bisection in
 * inner nodes, a count in leaves) then finds them in flight instead of
 * taking one dependent miss per probe. Leaves and inner nodes both begin
 * with 32 keys, four lines; the fifth holds an inner node's first child
 * pointers (a leaf's first values).
 */
static inline __attribute__((always_inline)) void
prefetch_keys(const void *node)
{
	const char *p = node;
	unsigned int off;

#pragma GCC unroll 8
	for (off = 0; off <= VA_LEAF_SLOTS * sizeof(uint64_t); off += 64)
		__builtin_prefetch(p + off);
}

/*
 * Start loading a whole leaf, some dozen lines: the split/merge walk's
 * inserts and removals at that place then find them in flight.
 */
static inline __attribute__((always_inline)) void
prefetch_leaf(const struct gpuvm_va_leaf *leaf)
{
	const char *p = (const char *)leaf;
	unsigned int off;

#pragma GCC unroll 16
	for (off = 0; off < sizeof(*leaf); off += 64)
		__builtin_prefetch(p + off, 1);
}

/* The leaf whose key range contains @q; the index must not be empty. */
static struct gpuvm_va_leaf *descend(const struct gpuvm_va_index *idx,
				     uint64_t q, struct va_path *path)
{
	void *node = idx->root;
	unsigned int depth, c;

	for (depth = 0; depth + 1 < idx->height; depth++) {
		struct va_inner *in = node;

		c = inner_child(in, q);
		if (path) {
			path->node[depth] = in;
			path->slot[depth] = c;
		}
		node = in->child[c];
		prefetch_keys(node);
		/* A leaf's header says which slot a rank is in. */
		if (depth + 2 == idx->height)
			__builtin_prefetch(
				&((struct gpuvm_va_leaf *)node)->prev);
	}
	return node;
}

/*
 * Normalise a position so it names a live entry (the first at or after
 * it), or leaf NULL at the end. Every leaf holds a live entry, so this
 * moves at most into the next leaf.
 */
static inline struct va_pos pos_fix(struct va_pos p)
{
	while (p.leaf) {
		if (p.slot >= p.leaf->nr) {
			p.leaf = p.leaf->next;
			p.slot = 0;
		} else if (likely(!rank_dead(p.leaf, p.slot))) {
			break;
		} else {
			p.slot++;
		}
	}
	return p;
}

/* The live entry before position (leaf, slot), or leaf NULL. */
static inline struct va_pos pos_before(struct gpuvm_va_leaf *leaf,
				       unsigned int slot)
{
	for (;;) {
		while (slot) {
			if (likely(!rank_dead(leaf, --slot)))
				return (struct va_pos){ leaf, slot };
		}
		leaf = leaf->prev;
		if (!leaf)
			return (struct va_pos){ NULL, 0 };
		slot = leaf->nr;
	}
}

/* The backref @item keeps, when the index keeps them: the address of its
 * leaf plus its slot (leaves are 64-byte aligned). */
static inline uintptr_t *backref_of(const struct gpuvm_va_index *idx,
				    void *item)
{
	return (uintptr_t *)(void *)((char *)item + idx->backref - 1);
}

/* Point the item in @slot of @leaf at that place. */
static inline void backref_set(const struct gpuvm_va_index *idx,
			       struct gpuvm_va_leaf *leaf, unsigned int slot)
{
	if (idx->backref)
		*backref_of(idx, leaf->val[slot].item) = (uintptr_t)leaf + slot;
}

static inline void backref_clear(const struct gpuvm_va_index *idx, void *item)
{
	if (idx->backref)
		*backref_of(idx, item) = 0;
}

/*
 * Leaves and inner nodes come in one size so that reserved nodes can serve
 * as either. A free node in the reserve keeps the link in its first word.
 */
#define VA_NODE_SIZE                                              \
	(sizeof(struct gpuvm_va_leaf) > sizeof(struct va_inner) ? \
		 sizeof(struct gpuvm_va_leaf) :                   \
		 sizeof(struct va_inner))

_Static_assert(VA_NODE_SIZE <= GPUVM_NODE_BYTES,
	       "node_alloc.h's node size holds leaves and inner nodes");

static void *spare_pop(struct gpuvm_va_index *idx)
{
	void **node = idx->spare;

	idx->spare = *node;
	idx->nr_spare--;
	return node;
}

static void spare_push(struct gpuvm_va_index *idx, void *node)
{
	*(void **)node = idx->spare;
	idx->spare = node;
	idx->nr_spare++;
}

/*
 * Make the reserve hold at least @want nodes. On failure, free what this
 * call added, so the reserve is as it was.
 */
static int spare_fill(struct gpuvm_va_index *idx, size_t want, gpuvm_gfp_t gfp)
{
	size_t added = 0;
	void *node;

	while (idx->nr_spare < want) {
		node = gpuvm_node_alloc__(gfp);
		if (!node) {
			while (added--)
				gpuvm_node_free__(spare_pop(idx));
			return -ENOMEM;
		}
		spare_push(idx, node);
		added++;
	}
	return 0;
}

int gpuvm_va_index_reserve(struct gpuvm_va_index *idx, unsigned int n)
{
	unsigned int base = idx->height ? idx->height : 1, grow = 1;
	uint64_t span = 30;
	size_t want;

	/*
	 * An insert at height h takes at most h + 1 nodes (a leaf, the inner
	 * nodes above it, a new root), and only one that splits the root
	 * raises the height. A fresh root has two half-full children: before
	 * it can split, 30 more nodes must appear below it, each one needing
	 * some 15 splits further down. So the height rises once within 30
	 * inserts, twice within 30 * 15, and so on. Every insert but the
	 * last root split runs below the final height, hence
	 * n * (height + rises) nodes suffice. (An empty index counts as
	 * height 1: its first insert takes a single node.)
	 */
	while (n > span) {
		grow++;
		span *= 15;
	}
	if (__builtin_mul_overflow((size_t)n, (size_t)(base + grow), &want))
		return -ENOMEM;
	return spare_fill(idx, want, GPUVM_GFP_KERNEL);
}

void gpuvm_va_index_init(struct gpuvm_va_index *idx)
{
	*idx = (struct gpuvm_va_index){ 0 };
}

void gpuvm_va_index_init_backref(struct gpuvm_va_index *idx, size_t offset)
{
	idx->backref = offset + 1;
}

static void free_subtree(void *node, unsigned int height)
{
	struct va_inner *in = node;
	unsigned int i;

	if (height > 1)
		for (i = 0; i < in->nr; i++)
			free_subtree(in->child[i], height - 1);
	gpuvm_node_free__(node);
}

void gpuvm_va_index_destroy(struct gpuvm_va_index *idx)
{
	unsigned long seq = idx->seq;
	size_t backref = idx->backref;

	if (idx->root)
		free_subtree(idx->root, idx->height);
	while (idx->nr_spare)
		gpuvm_node_free__(spare_pop(idx));
	gpuvm_va_index_init(idx);
	idx->backref = backref;
	/* Cursors still around must not mistake the empty index for the old. */
	idx->seq = seq + 1;
}

/* Make @leaf an empty leaf: every slot free. */
static void leaf_clear(struct gpuvm_va_leaf *leaf)
{
	unsigned int i;

	for (i = 0; i < VA_LEAF_SLOTS; i++)
		leaf->start[i] = VA_NO_KEY;
	memset(leaf->val, 0, sizeof(leaf->val));
	memset(leaf->order, VA_NO_SLOT, sizeof(leaf->order));
	leaf->nr = 0;
	leaf->live = 0;
	leaf->used = 0;
	leaf->dead = 0;
	leaf->stale = 0;
}

/*
 * Take the dead ranks out of @leaf's order bytes: their slots go stale.
 * Every write into a leaf starts with this, so that ranks there are
 * counted over live entries only.
 */
static void leaf_settle_dead(struct gpuvm_va_leaf *leaf)
{
	uint32_t dead;

	/* Usually one: a request removes and inserts at the same place. */
	for (dead = leaf->dead; dead; dead &= dead - 1)
		order_remove(leaf, rank_of_slot(leaf, __builtin_ctz(dead)));
	leaf->nr = leaf->live;
	leaf->stale |= leaf->dead;
	leaf->dead = 0;
}

static inline void leaf_settle(struct gpuvm_va_leaf *leaf)
{
	if (unlikely(leaf->dead))
		leaf_settle_dead(leaf);
}

static void inner_pad(struct va_inner *in)
{
	unsigned int i;

	for (i = in->nr - 1; i < VA_INNER_SLOTS; i++)
		in->key[i] = VA_NO_KEY;
	for (i = in->nr; i < VA_INNER_SLOTS; i++)
		in->child[i] = NULL;
}

/* Put an entry at rank @r of a settled, non-full leaf, in a free slot. */
static void leaf_put(const struct gpuvm_va_index *idx,
		     struct gpuvm_va_leaf *leaf, unsigned int r, uint64_t start,
		     uint64_t end, void *item)
{
	unsigned int slot = (unsigned int)__builtin_ctz(~leaf->used);
	uint32_t stale;

	for (stale = leaf->stale; stale; stale &= stale - 1)
		leaf->start[__builtin_ctz(stale)] = VA_NO_KEY;
	leaf->stale = 0;
	leaf->start[slot] = start;
	leaf->val[slot] = (struct va_val){ end, item };
	leaf->used |= 1u << slot;
	order_insert(leaf, r, slot);
	leaf->nr++;
	leaf->live++;
	backref_set(idx, leaf, slot);
}

/*
 * Move the @n entries from rank @from of @src to rank @at of @dst, which has
 * room for them; both are settled. Only the moved entries change slots
 * (and backrefs).
 */
static void leaf_move(const struct gpuvm_va_index *idx,
		      struct gpuvm_va_leaf *dst, unsigned int at,
		      struct gpuvm_va_leaf *src, unsigned int from,
		      unsigned int n)
{
	unsigned int i, s, d;

	memmove(&dst->order[at + n], &dst->order[at], dst->nr - at);
	for (i = 0; i < n; i++) {
		s = src->order[from + i];
		d = (unsigned int)__builtin_ctz(~dst->used);
		dst->used |= 1u << d;
		dst->stale &= ~(1u << d);
		dst->start[d] = src->start[s];
		dst->val[d] = src->val[s];
		dst->order[at + i] = (uint8_t)d;
		backref_set(idx, dst, d);
		src->used &= ~(1u << s);
		src->start[s] = VA_NO_KEY;
		src->val[s] = (struct va_val){ 0 };
	}
	dst->nr += n;
	dst->live += n;
	memmove(&src->order[from], &src->order[from + n], src->nr - from - n);
	src->nr -= n;
	src->live -= n;
	memset(&src->order[src->nr], VA_NO_SLOT, n);
}

/*
 * Nodes an insert landing in @leaf (reached via @path) has to allocate: one
 * per full node from the leaf up, plus a new root if all of them are full.
 */
static unsigned int split_cost(const struct gpuvm_va_index *idx,
			       const struct gpuvm_va_leaf *leaf,
			       const struct va_path *path)
{
	unsigned int cost = 1;
	int depth;

	/* The insert settles the leaf first: dead ranks make room. */
	if (leaf->live < VA_LEAF_SLOTS)
		return 0;
	for (depth = (int)idx->height - 2; depth >= 0; depth--) {
		if (path->node[depth]->nr < VA_INNER_SLOTS)
			return cost;
		cost++;
	}
	return cost + 1;
}

unsigned int gpuvm_va_index_insert_cost(const struct gpuvm_va_index *idx,
					uint64_t start)
{
	struct va_path path;
	struct gpuvm_va_leaf *leaf;

	if (!idx->height)
		return 1;
	leaf = descend(idx, start, &path);
	return split_cost(idx, leaf, &path);
}

/*
 * Insert (key, right) into @in just after child @c. @spare supplies the node
 * for a split; return the new right sibling then (and its separator in
 * *up_key), else NULL.
 */
static struct va_inner *inner_put(struct va_inner *in, unsigned int c,
				  uint64_t key, void *right,
				  struct va_inner *spare, uint64_t *up_key)
{
	uint64_t keys[VA_INNER_SLOTS];
	void *kids[VA_INNER_SLOTS + 1];
	unsigned int n = in->nr, left_n;

	if (n < VA_INNER_SLOTS) {
		memmove(&in->key[c + 1], &in->key[c],
			(n - 1 - c) * sizeof(in->key[0]));
		memmove(&in->child[c + 2], &in->child[c + 1],
			(n - 1 - c) * sizeof(in->child[0]));
		in->key[c] = key;
		in->child[c + 1] = right;
		in->nr++;
		return NULL;
	}

	/* Full: lay out all n + 1 children in order, then cut in two. Rare,
	 * so clarity wins over shuffling in place. */
	memcpy(keys, in->key, c * sizeof(keys[0]));
	keys[c] = key;
	memcpy(&keys[c + 1], &in->key[c], (n - 1 - c) * sizeof(keys[0]));
	memcpy(kids, in->child, (c + 1) * sizeof(kids[0]));
	kids[c + 1] = right;
	memcpy(&kids[c + 2], &in->child[c + 1], (n - 1 - c) * sizeof(kids[0]));

	left_n = (n + 1 + 1) / 2;
	in->nr = left_n;
	memcpy(in->key, keys, (left_n - 1) * sizeof(keys[0]));
	memcpy(in->child, kids, left_n * sizeof(kids[0]));
	inner_pad(in);

	*up_key = keys[left_n - 1];
	spare->nr = n + 1 - left_n;
	memcpy(spare->key, &keys[left_n], (spare->nr - 1) * sizeof(keys[0]));
	memcpy(spare->child, &kids[left_n], spare->nr * sizeof(kids[0]));
	inner_pad(spare);
	return spare;
}

/* Take a node from the reserve, which the caller has filled. */
static struct gpuvm_va_leaf *leaf_take(struct gpuvm_va_index *idx)
{
	struct gpuvm_va_leaf *leaf = spare_pop(idx);

	leaf->prev = leaf->next = NULL;
	leaf_clear(leaf);
	return leaf;
}

/* Split the full @leaf into itself and the empty @right while inserting
 * the entry at rank @r. */
static void leaf_split_put(const struct gpuvm_va_index *idx,
			   struct gpuvm_va_leaf *leaf,
			   struct gpuvm_va_leaf *right, unsigned int r,
			   uint64_t start, uint64_t end, void *item)
{
	const unsigned int half = VA_LEAF_SLOTS / 2;

	leaf_move(idx, right, 0, leaf, half, VA_LEAF_SLOTS - half);
	if (r <= half)
		leaf_put(idx, leaf, r, start, end, item);
	else
		leaf_put(idx, right, r - half, start, end, item);

	right->prev = leaf;
	right->next = leaf->next;
	if (leaf->next)
		leaf->next->prev = right;
	leaf->next = right;
}

/*
 * Insert into the full @leaf: split it and every full ancestor. The nodes
 * are taken from the reserve, topped up first, so running out of memory
 * leaves the index exactly as it was.
 */
static int insert_split(struct gpuvm_va_index *idx, struct gpuvm_va_leaf *leaf,
			const struct va_path *path, unsigned int slot,
			uint64_t start, uint64_t end, void *item)
{
	unsigned int cost = split_cost(idx, leaf, path);
	struct gpuvm_va_leaf *rleaf;
	struct va_inner *in;
	void *right;
	uint64_t key;
	int depth;

	if (spare_fill(idx, cost, GPUVM_GFP_NOWAIT))
		return -ENOMEM;

	rleaf = leaf_take(idx);
	leaf_split_put(idx, leaf, rleaf, slot, start, end, item);
	right = rleaf;
	key = start_at(rleaf, 0);
	for (depth = (int)idx->height - 2; depth >= 0; depth--) {
		in = path->node[depth];
		right = inner_put(
			in, path->slot[depth], key, right,
			in->nr < VA_INNER_SLOTS ? NULL : spare_pop(idx), &key);
		if (!right)
			return 0;
	}

	/* The root split too: grow by one level. */
	in = spare_pop(idx);
	in->nr = 2;
	in->child[0] = idx->root;
	in->child[1] = right;
	in->key[0] = key;
	inner_pad(in);
	idx->root = in;
	idx->height++;
	return 0;
}

int gpuvm_va_index_insert(struct gpuvm_va_index *idx, uint64_t start,
			  uint64_t end, void *item)
{
	struct gpuvm_va_leaf *leaf;
	struct va_path path;
	struct va_pos p;
	unsigned int slot;
	int ret;

	if (start >= end || !item)
		return -EINVAL;

	leaf = __atomic_load_n(&idx->finger, __ATOMIC_RELAXED);
	if (leaf)
		leaf_settle(leaf);
	if (leaf && leaf->nr >= 2 && leaf->nr < VA_LEAF_SLOTS &&
	    start_at(leaf, 0) <= start &&
	    start < start_at(leaf, leaf->nr - 1)) {
		/*
		 * An entry at or before start and one after it share this
		 * leaf, so its separators enclose start: the descent would
		 * end here, between those two entries.
		 */
		slot = leaf_rank_le(leaf, start);
		if (end_at(leaf, slot - 1) > start ||
		    start_at(leaf, slot) < end)
			return -EEXIST;
		leaf_put(idx, leaf, slot, start, end, item);
		goto inserted;
	}

	if (!idx->height) {
		if (spare_fill(idx, 1, GPUVM_GFP_NOWAIT))
			return -ENOMEM;
		leaf = leaf_take(idx);
		idx->root = leaf;
		idx->height = 1;
		slot = 0;
	} else {
		leaf = descend(idx, start, &path);
		leaf_settle(leaf);
		slot = leaf_rank_le(leaf, start);

		/* Only the neighbours on either side can overlap. */
		p = pos_before(leaf, slot);
		if (p.leaf && end_at(p.leaf, p.slot) > start)
			return -EEXIST;
		p = pos_fix((struct va_pos){ leaf, slot });
		if (p.leaf && start_at(p.leaf, p.slot) < end)
			return -EEXIST;
	}

	if (leaf->nr < VA_LEAF_SLOTS) {
		leaf_put(idx, leaf, slot, start, end, item);
	} else {
		ret = insert_split(idx, leaf, &path, slot, start, end, item);
		if (ret)
			return ret;
	}
inserted:
	idx->finger = leaf;
	idx->count++;
	idx->seq++;
	return 0;
}

/*
 * Fix an underfull leaf (child @c of @parent, below VA_LEAF_MIN): merge it
 * into a sibling, or if the sibling is too full for that, take just enough
 * entries from it. Either way only the few entries of the underfull leaf,
 * or the few taken, change leaves, so few items get a new backref. Return
 * true if a child of @parent went away.
 */
static bool leaf_rebalance(struct gpuvm_va_index *idx, struct va_inner *parent,
			   unsigned int c)
{
	struct gpuvm_va_leaf *left, *right, *gone;
	unsigned int sep, total, moved;

	/* Prefer the left sibling; the first child uses its right one. */
	sep = c ? c - 1 : 0;
	left = parent->child[sep];
	right = parent->child[sep + 1];
	leaf_settle(left);
	leaf_settle(right);
	total = left->nr + right->nr;

	if (total > VA_LEAF_SLOTS) {
		if (c) {
			/* The right one is short: take the left's last. */
			moved = VA_LEAF_MIN - right->nr;
			leaf_move(idx, right, 0, left, left->nr - moved, moved);
		} else {
			leaf_move(idx, left, left->nr, right, 0,
				  VA_LEAF_MIN - left->nr);
		}
		parent->key[sep] = start_at(right, 0);
		return false;
	}

	if (c) {
		/* Append the short right leaf to the left one. */
		leaf_move(idx, left, left->nr, right, 0, right->nr);
		left->next = right->next;
		if (right->next)
			right->next->prev = left;
		gone = right;
		/* Drop separator sep and child sep + 1. */
		memmove(&parent->key[sep], &parent->key[sep + 1],
			(parent->nr - 2 - sep) * sizeof(parent->key[0]));
		memmove(&parent->child[sep + 1], &parent->child[sep + 2],
			(parent->nr - 2 - sep) * sizeof(parent->child[0]));
	} else {
		/* Prepend the short first leaf to its right sibling; right's
		 * range then starts at the parent's own lower bound. */
		leaf_move(idx, right, 0, left, 0, left->nr);
		right->prev = left->prev;
		if (left->prev)
			left->prev->next = right;
		gone = left;
		memmove(&parent->key[0], &parent->key[1],
			(parent->nr - 2) * sizeof(parent->key[0]));
		memmove(&parent->child[0], &parent->child[1],
			(parent->nr - 1) * sizeof(parent->child[0]));
	}
	if (idx->finger == gone)
		idx->finger = NULL;
	gpuvm_node_free__(gone);
	parent->nr--;
	inner_pad(parent);
	return true;
}

/* Same for an underfull inner child @c of @parent; keys rotate through the
 * parent's separator. */
static bool inner_rebalance(struct va_inner *parent, unsigned int c)
{
	uint64_t keys[2 * VA_INNER_SLOTS];
	void *kids[2 * VA_INNER_SLOTS];
	struct va_inner *left, *right;
	unsigned int sep, total, left_n;

	sep = c ? c - 1 : 0;
	left = parent->child[sep];
	right = parent->child[sep + 1];
	total = left->nr + right->nr;

	memcpy(keys, left->key, (left->nr - 1) * sizeof(keys[0]));
	keys[left->nr - 1] = parent->key[sep];
	memcpy(&keys[left->nr], right->key, (right->nr - 1) * sizeof(keys[0]));
	memcpy(kids, left->child, left->nr * sizeof(kids[0]));
	memcpy(&kids[left->nr], right->child, right->nr * sizeof(kids[0]));

	if (total > VA_INNER_SLOTS) {
		left_n = total / 2;
		left->nr = left_n;
		memcpy(left->key, keys, (left_n - 1) * sizeof(keys[0]));
		memcpy(left->child, kids, left_n * sizeof(kids[0]));
		parent->key[sep] = keys[left_n - 1];
		right->nr = total - left_n;
		memcpy(right->key, &keys[left_n],
		       (right->nr - 1) * sizeof(keys[0]));
		memcpy(right->child, &kids[left_n],
		       right->nr * sizeof(kids[0]));
		inner_pad(left);
		inner_pad(right);
		return false;
	}

	left->nr = total;
	memcpy(left->key, keys, (total - 1) * sizeof(keys[0]));
	memcpy(left->child, kids, total * sizeof(kids[0]));
	inner_pad(left);
	gpuvm_node_free__(right);

	memmove(&parent->key[sep], &parent->key[sep + 1],
		(parent->nr - 2 - sep) * sizeof(parent->key[0]));
	memmove(&parent->child[sep + 1], &parent->child[sep + 2],
		(parent->nr - 2 - sep) * sizeof(parent->child[0]));
	parent->nr--;
	inner_pad(parent);
	return true;
}

/*
 * @leaf (reached by @start) just fell below VA_LEAF_MIN: merge or top it
 * up, and walk up while that leaves inner nodes underfull. Rare, so out
 * of line: the common removal then needs no stack frame for it.
 */
static __attribute__((noinline)) void mend_underfull(struct gpuvm_va_index *idx,
						     struct gpuvm_va_leaf *leaf,
						     uint64_t start)
{
	struct va_path path;
	int depth;

	if (idx->height == 1) {
		if (!leaf->live) {
			gpuvm_node_free__(leaf);
			idx->root = NULL;
			idx->height = 0;
			idx->finger = NULL;
		}
		return;
	}
	/* The entry lay within the separators around this leaf, as every
	 * entry does, so its start still leads here. */
	descend(idx, start, &path);
	depth = (int)idx->height - 2;
	if (!leaf_rebalance(idx, path.node[depth], path.slot[depth]))
		return;
	/* A merge took a child from the parent; walk up while that leaves
	 * inner nodes underfull. */
	for (; depth > 0; depth--) {
		if (path.node[depth]->nr >= VA_INNER_MIN)
			return;
		if (!inner_rebalance(path.node[depth - 1],
				     path.slot[depth - 1]))
			return;
	}
	/* An inner root left with one child hands the tree to that child. */
	if (path.node[0]->nr == 1) {
		idx->root = path.node[0]->child[0];
		idx->height--;
		gpuvm_node_free__(path.node[0]);
	}
}

/*
 * Take @item, the live entry in @slot of @leaf, out: the slot goes dead,
 * which writes the leaf's header line only and needs nothing from it but
 * the live count. Then mend the tree if the leaf is now underfull; @start
 * is the entry's start, to find the path up.
 */
static void remove_at(struct gpuvm_va_index *idx, struct gpuvm_va_leaf *leaf,
		      unsigned int slot, void *item, uint64_t start)
{
	leaf->used &= ~(1u << slot);
	leaf->dead |= 1u << slot;
	leaf->live--;
	backref_clear(idx, item);
	idx->count--;
	idx->seq++;
	idx->finger = leaf;
	/* A root leaf may hold anything down to one entry. */
	if (unlikely(leaf->live < (idx->height == 1 ? 1 : VA_LEAF_MIN)))
		mend_underfull(idx, leaf, start);
}

/*
 * Position of the entry starting exactly at @start (none: leaf NULL). An
 * equal start cannot be in the previous leaf: it would be below this
 * leaf's separator, which is <= start.
 */
static struct va_pos exact_pos(const struct gpuvm_va_index *idx, uint64_t start)
{
	struct gpuvm_va_leaf *leaf;
	unsigned int slot;

	if (!idx->height)
		return (struct va_pos){ NULL, 0 };
	leaf = descend(idx, start, NULL);
	slot = leaf_rank_le(leaf, start);
	/* A dead entry there means no live one has that start. */
	if (!slot || start_at(leaf, slot - 1) != start ||
	    rank_dead(leaf, slot - 1))
		return (struct va_pos){ NULL, 0 };
	return (struct va_pos){ leaf, slot - 1 };
}

void *gpuvm_va_index_remove(struct gpuvm_va_index *idx, uint64_t start)
{
	struct va_pos p = exact_pos(idx, start);
	void *item;

	if (!p.leaf)
		return NULL;
	item = item_at(p.leaf, p.slot);
	remove_at(idx, p.leaf, p.leaf->order[p.slot], item, start);
	return item;
}

/*
 * The leaf and slot @item's backref names, no search: leaf NULL when the
 * index keeps none for it, or when that slot holds no live entry. Reads
 * the item and the leaf's header line only.
 */
static struct gpuvm_va_leaf *backref_slot(const struct gpuvm_va_index *idx,
					  void *item, unsigned int *slot)
{
	struct gpuvm_va_leaf *leaf;
	uintptr_t ref;

	if (!idx->backref || !(ref = *backref_of(idx, item)))
		return NULL;
	leaf = (struct gpuvm_va_leaf *)(ref & ~VA_SLOT_MASK);
	*slot = (unsigned int)(ref & VA_SLOT_MASK);
	if (unlikely(!(leaf->used & (1u << *slot))))
		return NULL;
	return leaf;
}

/* Where @item sits, through its backref, if its slot holds @item. */
static struct va_pos item_pos(const struct gpuvm_va_index *idx, void *item)
{
	unsigned int slot;
	struct gpuvm_va_leaf *leaf = backref_slot(idx, item, &slot);

	if (!leaf || leaf->val[slot].item != item)
		return (struct va_pos){ NULL, 0 };
	return (struct va_pos){ leaf, rank_of_slot(leaf, slot) };
}

/*
 * Removal by pointer writes the leaf's header line only: it does not look
 * at the slot itself (the item is the caller's, and in the index by
 * contract; validate() checks every backref). Without a usable backref it
 * searches by start.
 */
void gpuvm_va_index_remove_item(struct gpuvm_va_index *idx, void *item,
				uint64_t start)
{
	unsigned int slot;
	struct gpuvm_va_leaf *leaf = backref_slot(idx, item, &slot);

	if (leaf)
		remove_at(idx, leaf, slot, item, start);
	else
		gpuvm_va_index_remove(idx, start);
}

void gpuvm_va_index_replace(struct gpuvm_va_index *idx, void *old_item,
			    uint64_t start, uint64_t end, void *item)
{
	struct va_pos p = item_pos(idx, old_item);
	unsigned int slot;

	if (!p.leaf)
		p = exact_pos(idx, start);
	if (!p.leaf || item_at(p.leaf, p.slot) != old_item)
		return;
	slot = p.leaf->order[p.slot];
	backref_clear(idx, old_item);
	p.leaf->val[slot] = (struct va_val){ end, item };
	backref_set(idx, p.leaf, slot);
	idx->seq++;
	idx->finger = p.leaf;
}

/* Position of the first entry that ends after @q (none: leaf NULL). */
static struct va_pos first_ending_after(const struct gpuvm_va_index *idx,
					uint64_t q)
{
	struct gpuvm_va_leaf *leaf;
	struct va_pos p;
	unsigned int slot;

	if (!idx->height)
		return (struct va_pos){ NULL, 0 };
	leaf = descend(idx, q, NULL);
	slot = leaf_rank_le(leaf, q);
	/* Ends are ordered like starts: only the last entry starting at or
	 * before q can reach past it; otherwise it is the one after. */
	p = pos_before(leaf, slot);
	if (p.leaf && end_at(p.leaf, p.slot) > q)
		return p;
	return pos_fix((struct va_pos){ leaf, slot });
}

/* Position of the first entry starting at or after @q. */
static struct va_pos first_starting_from(const struct gpuvm_va_index *idx,
					 uint64_t q)
{
	struct gpuvm_va_leaf *leaf;

	if (!idx->height)
		return (struct va_pos){ NULL, 0 };
	leaf = descend(idx, q, NULL);
	return pos_fix((struct va_pos){ leaf, leaf_rank_lt(leaf, q) });
}

/* Position of the last entry starting before @q. */
static struct va_pos last_starting_before(const struct gpuvm_va_index *idx,
					  uint64_t q)
{
	struct gpuvm_va_leaf *leaf;

	if (!idx->height)
		return (struct va_pos){ NULL, 0 };
	leaf = descend(idx, q, NULL);
	return pos_before(leaf, leaf_rank_lt(leaf, q));
}

void *gpuvm_va_index_first_overlap(const struct gpuvm_va_index *idx,
				   uint64_t start, uint64_t end)
{
	uint64_t last = end - 1; /* wraps on purpose, see the header */
	struct va_pos p = first_ending_after(idx, start);

	if (!p.leaf || start_at(p.leaf, p.slot) > last)
		return NULL;
	return item_at(p.leaf, p.slot);
}

/* The item of the entry after position @p and, in *@next_start, where it
 * starts; NULL (and *@next_start untouched) if @p is the last entry. */
static void *item_after(struct va_pos p, uint64_t *next_start)
{
	p = pos_fix((struct va_pos){ p.leaf, p.slot + 1 });
	if (!p.leaf)
		return NULL;
	*next_start = start_at(p.leaf, p.slot);
	return item_at(p.leaf, p.slot);
}

void *gpuvm_va_index_first_overlap_for_update(struct gpuvm_va_index *idx,
					      uint64_t start, uint64_t end,
					      void **next, uint64_t *next_start)
{
	uint64_t last = end - 1;
	struct va_pos p = first_ending_after(idx, start);

	if (!p.leaf)
		return NULL;
	/* Leave the finger where the inserts will likely go (atomically:
	 * read-only walks may run together). */
	__atomic_store_n(&idx->finger, p.leaf, __ATOMIC_RELAXED);
	prefetch_leaf(p.leaf);
	if (start_at(p.leaf, p.slot) > last)
		return NULL;
	*next = item_after(p, next_start);
	return item_at(p.leaf, p.slot);
}

void *gpuvm_va_index_next_item(const struct gpuvm_va_index *idx, void *item,
			       uint64_t start, uint64_t *next_start)
{
	struct va_pos p = item_pos(idx, item);

	if (!p.leaf)
		p = exact_pos(idx, start);
	return p.leaf ? item_after(p, next_start) : NULL;
}

void *gpuvm_va_index_lookup_exact(const struct gpuvm_va_index *idx,
				  uint64_t start)
{
	struct va_pos p = exact_pos(idx, start);

	return p.leaf ? item_at(p.leaf, p.slot) : NULL;
}

void *gpuvm_va_index_lower_than(const struct gpuvm_va_index *idx, uint64_t addr)
{
	struct va_pos p = last_starting_before(idx, addr);

	return p.leaf ? item_at(p.leaf, p.slot) : NULL;
}

void *gpuvm_va_index_prev(const struct gpuvm_va_index *idx, uint64_t addr)
{
	struct va_pos p = last_starting_before(idx, addr);

	if (!p.leaf || end_at(p.leaf, p.slot) != addr)
		return NULL;
	return item_at(p.leaf, p.slot);
}

void *gpuvm_va_index_next_from(const struct gpuvm_va_index *idx, uint64_t addr)
{
	struct va_pos p = first_starting_from(idx, addr);

	return p.leaf ? item_at(p.leaf, p.slot) : NULL;
}

/* Make the cursor point at @p, or finish the walk. */
static void *iter_set(struct gpuvm_va_index_iter *it, struct va_pos p)
{
	it->leaf = p.leaf;
	it->slot = p.slot;
	if (!p.leaf || (it->bounded && start_at(p.leaf, p.slot) >= it->limit)) {
		it->leaf = NULL;
		it->item = NULL;
		return NULL;
	}
	it->start = start_at(p.leaf, p.slot);
	it->end = end_at(p.leaf, p.slot);
	it->item = item_at(p.leaf, p.slot);
	return it->item;
}

void *gpuvm_va_index_iter_first_overlap(struct gpuvm_va_index_iter *it,
					struct gpuvm_va_index *idx,
					uint64_t start, uint64_t end)
{
	struct va_pos p = first_ending_after(idx, start);

	*it = (struct gpuvm_va_index_iter){
		.idx = idx,
		.seq = idx->seq,
		.limit = end,
		.bounded = true,
	};
	/* Same test as first_overlap(): starts at or before end - 1. */
	if (p.leaf && start_at(p.leaf, p.slot) > end - 1)
		p.leaf = NULL;
	return iter_set(it, p);
}

void *gpuvm_va_index_iter_first(struct gpuvm_va_index_iter *it,
				struct gpuvm_va_index *idx)
{
	struct va_pos p = { NULL, 0 };
	void *node = idx->root;
	unsigned int depth;

	*it = (struct gpuvm_va_index_iter){ .idx = idx, .seq = idx->seq };
	if (node) {
		for (depth = 0; depth + 1 < idx->height; depth++)
			node = ((struct va_inner *)node)->child[0];
		p.leaf = node;
	}
	return iter_set(it, pos_fix(p));
}

void *gpuvm_va_index_iter_next(struct gpuvm_va_index_iter *it)
{
	struct va_pos p;

	if (!it->item)
		return NULL;
	if (likely(it->seq == it->idx->seq)) {
		p = pos_fix((struct va_pos){ it->leaf, it->slot + 1 });
	} else {
		/* The index changed under us and our leaf may be gone: find
		 * the entry after the one we were on by address. */
		p = first_starting_from(it->idx, it->end);
		it->seq = it->idx->seq;
	}
	return iter_set(it, p);
}

/* State threaded through the validation walk. */
struct va_check {
	const struct gpuvm_va_index *idx;
	bool finger_seen;
	const struct gpuvm_va_leaf *last_leaf;
	uint64_t last_end;
	size_t count;
	bool any;
};

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "va_index invalid: " __VA_ARGS__); \
			fputc('\n', stderr);                               \
			return false;                                      \
		}                                                          \
	} while (0)

static bool check_leaf(const struct gpuvm_va_leaf *leaf, bool is_root,
		       uint64_t lo, uint64_t hi, struct va_check *st)
{
	uint32_t seen = 0, dead_seen = 0;
	unsigned int i, slot, live = 0;
	uint64_t last_start = 0;

	CHECK(((uintptr_t)leaf & VA_SLOT_MASK) == 0,
	      "leaf %p not 64-byte aligned", (const void *)leaf);
	CHECK(leaf->nr <= VA_LEAF_SLOTS, "leaf fill %u", leaf->nr);
	CHECK(leaf->live <= leaf->nr, "%u live entries in %u ranks", leaf->live,
	      leaf->nr);
	CHECK(leaf->live >= (is_root ? 1 : VA_LEAF_MIN), "leaf underfull %u",
	      leaf->live);
	CHECK(leaf->prev == st->last_leaf, "broken leaf chain (prev)");
	CHECK(!st->last_leaf || st->last_leaf->next == leaf,
	      "broken leaf chain (next)");
	for (i = 0; i < leaf->nr; i++) {
		uint64_t s, e;

		slot = leaf->order[i];
		CHECK(slot < VA_LEAF_SLOTS &&
			      !((seen | dead_seen) & (1u << slot)),
		      "rank %u names slot %u twice or out of range", i, slot);
		s = leaf->start[slot];
		CHECK(!i || last_start < s, "ranks out of order at %#" PRIx64,
		      s);
		last_start = s;
		CHECK(s >= lo && s < hi,
		      "start %#" PRIx64 " outside separators [%#" PRIx64
		      ", %#" PRIx64 ")",
		      s, lo, hi);
		if (leaf->dead & (1u << slot)) {
			/* Removed: its item may be gone, do not look. */
			dead_seen |= 1u << slot;
			continue;
		}
		seen |= 1u << slot;
		live++;
		e = leaf->val[slot].end;
		CHECK(s < e, "empty entry at %#" PRIx64, s);
		CHECK(leaf->val[slot].item, "NULL item at %#" PRIx64, s);
		CHECK(!st->idx->backref ||
			      *backref_of(st->idx, leaf->val[slot].item) ==
				      (uintptr_t)leaf + slot,
		      "item at %#" PRIx64 " does not point at its slot", s);
		CHECK(!st->any || st->last_end <= s,
		      "overlap or disorder at %#" PRIx64, s);
		st->any = true;
		st->last_end = e;
	}
	for (; i < VA_LEAF_SLOTS; i++)
		CHECK(leaf->order[i] == VA_NO_SLOT, "order padding at rank %u",
		      i);
	CHECK(seen == leaf->used, "used slots %#x, ranked %#x", leaf->used,
	      seen);
	CHECK(dead_seen == leaf->dead, "dead slots %#x, ranked %#x", leaf->dead,
	      dead_seen);
	CHECK(live == leaf->live, "live count %u, found %u", leaf->live, live);
	CHECK(!(leaf->stale & (leaf->used | leaf->dead)),
	      "stale slots %#x ranked",
	      leaf->stale & (leaf->used | leaf->dead));
	for (slot = 0; slot < VA_LEAF_SLOTS; slot++)
		CHECK((seen | dead_seen | leaf->stale) & (1u << slot) ||
			      leaf->start[slot] == VA_NO_KEY,
		      "free slot %u holds a start", slot);
	st->count += live;
	st->last_leaf = leaf;
	if (leaf == st->idx->finger)
		st->finger_seen = true;
	return true;
}

static bool check_node(const void *node, unsigned int height, bool is_root,
		       uint64_t lo, uint64_t hi, struct va_check *st)
{
	const struct va_inner *in = node;
	unsigned int i;

	if (height == 1)
		return check_leaf(node, is_root, lo, hi, st);

	CHECK(in->nr <= VA_INNER_SLOTS, "inner fill %u", in->nr);
	CHECK(in->nr >= (is_root ? 2 : VA_INNER_MIN), "inner underfull %u",
	      in->nr);
	for (i = 0; i < in->nr; i++) {
		uint64_t clo = i ? in->key[i - 1] : lo;
		uint64_t chi = i + 1 < in->nr ? in->key[i] : hi;

		CHECK(clo <= chi, "separators out of order");
		CHECK(in->child[i], "missing child");
		if (!check_node(in->child[i], height - 1, false, clo, chi, st))
			return false;
	}
	for (i = in->nr - 1; i < VA_INNER_SLOTS; i++)
		CHECK(in->key[i] == VA_NO_KEY, "inner padding");
	return true;
}

bool gpuvm_va_index_validate(const struct gpuvm_va_index *idx)
{
	struct va_check st = { .idx = idx };
	unsigned int spares = 0;
	void **node;

	for (node = idx->spare; node; node = *node)
		spares++;
	CHECK(spares == idx->nr_spare, "reserve holds %u nodes, counted %u",
	      spares, idx->nr_spare);
	if (!idx->root) {
		CHECK(!idx->height && !idx->count, "empty index with height %u",
		      idx->height);
		CHECK(!idx->finger, "finger in an empty index");
		return true;
	}
	CHECK(idx->height && idx->height <= VA_MAX_HEIGHT, "height %u",
	      idx->height);
	if (!check_node(idx->root, idx->height, true, 0, VA_NO_KEY, &st))
		return false;
	CHECK(!st.last_leaf->next, "leaf chain runs past the last leaf");
	CHECK(st.count == idx->count, "count %zu, found %zu", idx->count,
	      st.count);
	CHECK(!idx->finger || st.finger_seen,
	      "finger on a leaf not in the tree");
	return true;
}
