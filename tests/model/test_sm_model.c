// SPDX-License-Identifier: MIT
/*
 * Split/merge against a model: random map and unmap requests on a VM of
 * 512 pages, applied through the ops lists (as a staged driver does) and,
 * alternately, through the step callbacks applying each step at once (as
 * an immediate-mode driver does). The model is one entry per page: the
 * object, the object offset of that page, and which mapping the page
 * belongs to. After every request the VA space must match the model page
 * by page, with VA boundaries exactly where the model has them (GPUVM
 * never merges neighbours), and the ops themselves must follow the case
 * table: one step per overlapping VA in address order, correct remnants,
 * keep exactly when the VA maps the request's object with the request's
 * address-to-offset relation, and for a map exactly one MAP, last.
 * Madvise requests (ops lists only) split the object-less VAs that cross
 * the request's edges and nothing else: the part inside is re-created
 * with the request's object and offset when the VA covered the whole
 * request, with no object and offset 0 otherwise.
 *
 * GPUVM_TEST_SEED=<n> replays a run; GPUVM_SM_MODEL_REQUESTS=<n> sets the
 * number of requests of the main run (default 20000; the linked runs do
 * a tenth of it).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpuvm_fixture.h"
#include "harness.h"
#include "seed.h"

#define PAGES 512
/* A kernel node right above the pages; requests into it are refused. */
#define KSTART PAGES
#define KRANGE 16
#define NR_OBJS 5 /* index 0 is "no object" */
#define DEFAULT_REQUESTS 20000

static const char obj_names[NR_OBJS] = { '-', 'a', 'b', 'C', 'D' };
static struct gpuvm_gem_object *objs[NR_OBJS];

struct page {
	int obj; /* -1: unmapped; else an index into objs */
	uint64_t off; /* object offset of this page */
	unsigned long piece; /* which VA the page belongs to; 0: none */
};

static struct page model[PAGES];
static unsigned long next_piece;

/* ---- random numbers ---------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(uint64_t n)
{
	return rnd() % n;
}

static unsigned long requests_wanted(void)
{
	const char *env = getenv("GPUVM_SM_MODEL_REQUESTS");
	unsigned long n = env ? strtoul(env, NULL, 0) : DEFAULT_REQUESTS;

	return n ? n : DEFAULT_REQUESTS;
}

/* ---- the model --------------------------------------------------------- */

static void model_reset(void)
{
	unsigned int p;

	for (p = 0; p < PAGES; p++)
		model[p] = (struct page){ .obj = -1 };
	next_piece = 1;
}

/* The pages from @p on (in direction @dir) that belong to the same VA
 * as @p become a VA of their own: a remnant is a new VA. */
static void relabel_run(int p, int dir)
{
	unsigned long old = model[p].piece, id = next_piece++;

	for (; p >= 0 && p < PAGES && model[p].piece == old; p += dir)
		model[p].piece = id;
}

/* Map (@obj >= 0) or unmap (@obj < 0) [s, e). */
static void model_apply(unsigned int s, unsigned int e, int obj, uint64_t off)
{
	unsigned long id = next_piece++;
	unsigned int p;

	/* Pieces cut at the request's edges. */
	if (s > 0 && model[s - 1].piece && model[s - 1].piece == model[s].piece)
		relabel_run((int)s - 1, -1);
	if (e < PAGES && model[e].piece && model[e].piece == model[e - 1].piece)
		relabel_run((int)e, 1);
	for (p = s; p < e; p++) {
		if (obj < 0)
			model[p] = (struct page){ .obj = -1 };
		else
			model[p] = (struct page){ obj, off + (p - s), id };
	}
}

/* The first page of the model mapping that page @p belongs to. */
static unsigned int piece_start(unsigned int p)
{
	while (p > 0 && model[p].piece && model[p - 1].piece == model[p].piece)
		p--;
	return p;
}

static unsigned int piece_end(unsigned int p)
{
	unsigned long id = model[p].piece;

	while (p < PAGES && model[p].piece == id)
		p++;
	return p;
}

/*
 * Madvise [s, e) with @obj/@off: object-less mappings crossing an edge
 * are cut there; the cut-out part is a new mapping. Writes the pieces
 * it expects as ops into @want (REMAP, then MAP, per cut mapping).
 */
static unsigned int model_madvise(unsigned int s, unsigned int e, int obj,
				  uint64_t off, struct fx_step *want)
{
	unsigned int q = piece_start(s), n = 0;

	while (q < e) {
		unsigned int ps = q, pe, is, ie, p;
		bool cut_left, cut_right, whole;
		unsigned long id;

		if (!model[q].piece) {
			q++;
			continue;
		}
		pe = piece_end(q);
		q = pe;
		cut_left = ps < s;
		cut_right = pe > e;
		if (model[ps].obj != 0 || (!cut_left && !cut_right))
			continue;
		is = cut_left ? s : ps;
		ie = cut_right ? e : pe;
		/* It covered the whole request: the trailing MAP is armed. */
		whole = ps <= s && pe >= e;

		memset(&want[n], 0, sizeof(want[n]));
		want[n].kind = GPUVA_OP_REMAP;
		want[n].va_was.va.addr = ps;
		want[n].va_was.va.range = pe - ps;
		want[n].va_was.gem.offset = model[ps].off;
		want[n].has_prev = cut_left;
		want[n].has_next = cut_right;
		if (cut_left) {
			want[n].prev.va.addr = ps;
			want[n].prev.va.range = s - ps;
			want[n].prev.gem.offset = model[ps].off;
		}
		if (cut_right) {
			want[n].next.va.addr = e;
			want[n].next.va.range = pe - e;
			want[n].next.gem.offset = model[e].off;
		}
		n++;
		memset(&want[n], 0, sizeof(want[n]));
		want[n].kind = GPUVA_OP_MAP;
		want[n].map.va.addr = is;
		want[n].map.va.range = ie - is;
		want[n].map.gem.obj = whole ? objs[obj] : NULL;
		want[n].map.gem.offset = whole ? off : 0;
		n++;

		if (cut_left)
			relabel_run((int)s - 1, -1);
		if (cut_right)
			relabel_run((int)e, 1);
		id = next_piece++;
		for (p = is; p < ie; p++)
			model[p] =
				(struct page){ whole ? obj : 0,
					       whole ? off + (p - s) : p - is,
					       id };
	}
	return n;
}

static int obj_index(const struct gpuvm_gem_object *obj)
{
	int i;

	for (i = 0; i < NR_OBJS; i++)
		if (objs[i] == obj)
			return i;
	fail_msg("VA maps an unknown object");
	return -1;
}

static void model_compare(struct fx_vm *fx, unsigned long req)
{
	struct gpuva *va;
	uint64_t p = 0, q;

	gpuvm_for_each_va(va, &fx->base) {
		uint64_t s = va->va.addr, e = s + va->va.range;
		unsigned long id;
		int obj;

		if (va == &fx->base.kernel_alloc_node)
			continue;
		if (e > PAGES || s < p)
			fail_msg("request %lu: VA [%" PRIu64 ",%" PRIu64
				 ") out of place",
				 req, s, e);
		for (q = p; q < s; q++)
			if (model[q].obj >= 0)
				fail_msg("request %lu: page %" PRIu64
					 " mapped in the model, not in the VM",
					 req, q);
		obj = obj_index(va->gem.obj);
		id = model[s].piece;
		if (!id)
			fail_msg("request %lu: VA [%" PRIu64 ",%" PRIu64
				 ") over unmapped model pages",
				 req, s, e);
		if (s > 0 && model[s - 1].piece == id)
			fail_msg("request %lu: VA [%" PRIu64 ",%" PRIu64
				 ") starts inside a model mapping",
				 req, s, e);
		if (e < PAGES && model[e].piece == id)
			fail_msg("request %lu: VA [%" PRIu64 ",%" PRIu64
				 ") ends inside a model mapping",
				 req, s, e);
		for (q = s; q < e; q++) {
			if (model[q].piece != id)
				fail_msg("request %lu: VA [%" PRIu64 ",%" PRIu64
					 ") spans two model "
					 "mappings at page %" PRIu64,
					 req, s, e, q);
			if (model[q].obj != obj ||
			    model[q].off != va->gem.offset + (q - s))
				fail_msg("request %lu: page %" PRIu64
					 ": VM maps %c@%" PRIu64
					 ", model %c@%" PRIu64,
					 req, q, obj_names[obj],
					 va->gem.offset + (q - s),
					 model[q].obj < 0 ?
						 '.' :
						 obj_names[model[q].obj],
					 model[q].off);
		}
		p = e;
	}
	for (q = p; q < PAGES; q++)
		if (model[q].obj >= 0)
			fail_msg("request %lu: page %" PRIu64
				 " mapped in the model, not in the VM",
				 req, q);
}

/* ---- op properties ----------------------------------------------------- */

struct old_va {
	struct gpuva *va;
	struct gpuva_op_map was;
};

static struct old_va overlapping[PAGES];
static struct fx_recorder rec;

static unsigned int collect_overlapping(struct fx_vm *fx, uint64_t s,
					uint64_t e)
{
	struct gpuva *va;
	unsigned int n = 0;

	gpuvm_for_each_va_range(va, &fx->base, s, e) {
		overlapping[n].va = va;
		overlapping[n].was.va.addr = va->va.addr;
		overlapping[n].was.va.range = va->va.range;
		overlapping[n].was.gem.obj = va->gem.obj;
		overlapping[n].was.gem.offset = va->gem.offset;
		n++;
	}
	return n;
}

static bool same_map(const struct gpuva_op_map *a, const struct gpuva_op_map *b)
{
	return a->va.addr == b->va.addr && a->va.range == b->va.range &&
	       a->gem.obj == b->gem.obj && a->gem.offset == b->gem.offset;
}

static void check_piece(unsigned long req, const char *what,
			const struct gpuva_op_map *got, uint64_t addr,
			uint64_t end, struct gpuvm_gem_object *obj,
			uint64_t offset)
{
	if (got->va.addr != addr || got->va.range != end - addr ||
	    got->gem.obj != obj || got->gem.offset != offset)
		fail_msg("request %lu: %s is [%" PRIu64 ",+%" PRIu64
			 ") @%" PRIu64 ", expected [%" PRIu64 ",%" PRIu64
			 ") @%" PRIu64,
			 req, what, got->va.addr, got->va.range,
			 got->gem.offset, addr, end, offset);
}

/* @map: NULL for an unmap request. */
static void check_steps(unsigned long req, const struct gpuva_op_map *map,
			uint64_t s, uint64_t e, unsigned int n_old)
{
	unsigned int i, want = n_old + (map ? 1 : 0);

	if (rec.n != want)
		fail_msg("request %lu: %u steps for %u overlapping VAs", req,
			 rec.n, n_old);
	for (i = 0; i < n_old; i++) {
		const struct fx_step *st = &rec.steps[i];
		const struct gpuva_op_map *v = &overlapping[i].was;
		uint64_t vs = v->va.addr, ve = vs + v->va.range;
		bool split_prev = vs<s, split_next = ve> e;
		bool keep = false;

		if (st->va != overlapping[i].va || !same_map(&st->va_was, v))
			fail_msg("request %lu: step %u names the wrong VA", req,
				 i);
		if (split_prev || split_next) {
			if (st->kind != GPUVA_OP_REMAP ||
			    st->has_prev != split_prev ||
			    st->has_next != split_next)
				fail_msg("request %lu: step %u should be a "
					 "REMAP (prev %d, next %d)",
					 req, i, split_prev, split_next);
			if (split_prev)
				check_piece(req, "prev", &st->prev, vs, s,
					    v->gem.obj, v->gem.offset);
			if (split_next)
				check_piece(req, "next", &st->next, e, ve,
					    v->gem.obj,
					    v->gem.offset + (e - vs));
		} else if (st->kind != GPUVA_OP_UNMAP) {
			fail_msg("request %lu: step %u should be an UNMAP", req,
				 i);
		}
		/* Contiguous: same object, same address-to-offset shift. */
		if (map && v->gem.obj && v->gem.obj == map->gem.obj)
			keep = (int64_t)(v->gem.offset - vs) ==
			       (int64_t)(map->gem.offset - s);
		if (st->keep != keep)
			fail_msg("request %lu: step %u keep=%d, expected %d",
				 req, i, st->keep, keep);
	}
	if (map) {
		const struct fx_step *st = &rec.steps[n_old];

		if (st->kind != GPUVA_OP_MAP || !same_map(&st->map, map))
			fail_msg("request %lu: the last step is not the "
				 "request's MAP",
				 req);
	}
}

static struct fx_step want[2 * PAGES];

static void check_madvise_steps(unsigned long req, unsigned int n_want)
{
	unsigned int i;

	if (rec.n != n_want)
		fail_msg("request %lu (madvise): %u ops, expected %u", req,
			 rec.n, n_want);
	for (i = 0; i < n_want; i++) {
		const struct fx_step *st = &rec.steps[i], *w = &want[i];

		if (st->kind != w->kind)
			fail_msg("request %lu (madvise): op %u has type %d, "
				 "expected %d",
				 req, i, (int)st->kind, (int)w->kind);
		if (w->kind == GPUVA_OP_MAP) {
			if (!same_map(&st->map, &w->map))
				fail_msg("request %lu (madvise): op %u maps "
					 "[%" PRIu64 ",+%" PRIu64
					 ") %c@%" PRIu64 ", expected [%" PRIu64
					 ",+%" PRIu64 ") %c@%" PRIu64,
					 req, i, st->map.va.addr,
					 st->map.va.range,
					 obj_names[obj_index(st->map.gem.obj)],
					 st->map.gem.offset, w->map.va.addr,
					 w->map.va.range,
					 obj_names[obj_index(w->map.gem.obj)],
					 w->map.gem.offset);
			continue;
		}
		if (!same_map(&st->va_was, &w->va_was) || st->keep ||
		    st->has_prev != w->has_prev ||
		    st->has_next != w->has_next ||
		    (w->has_prev && !same_map(&st->prev, &w->prev)) ||
		    (w->has_next && !same_map(&st->next, &w->next)))
			fail_msg("request %lu (madvise): op %u is not the "
				 "expected REMAP of [%" PRIu64 ",+%" PRIu64 ")",
				 req, i, w->va_was.va.addr, w->va_was.va.range);
	}
}

/* ---- the run ----------------------------------------------------------- */

static void request(struct fx_vm *fx, unsigned long req, bool use_ops)
{
	struct gpuvm_map_req map;
	struct gpuva_ops *ops = NULL;
	unsigned int len, s, e, n_old;
	unsigned int kind = (unsigned int)rnd_below(20);
	bool is_map = kind < 12, is_madvise = kind >= 17;
	uint64_t off;
	int obj, ret;

	switch (rnd_below(20)) {
	case 0:
		len = 1 + (unsigned int)rnd_below(PAGES);
		break;
	case 1:
	case 2:
	case 3:
	case 4:
	case 5:
	case 6:
		len = 1 + (unsigned int)rnd_below(64);
		break;
	default:
		len = 1 + (unsigned int)rnd_below(8);
		break;
	}
	s = (unsigned int)rnd_below(PAGES - len + 1);
	e = s + len;

	obj = (int)rnd_below(NR_OBJS);
	switch (rnd_below(4)) {
	case 0:
	case 1: /* each object keeps one relation: many keep=1 steps */
		off = s + 1000 * (uint64_t)obj;
		break;
	case 2: /* continue whatever maps the first page */
		if (model[s].obj >= 0) {
			obj = model[s].obj;
			off = model[s].off;
		} else {
			off = rnd_below(4096);
		}
		break;
	default:
		off = rnd_below(4096);
		break;
	}

	/* Now and then a request into the kernel node: refused. */
	if (rnd_below(500) == 0) {
		s = PAGES - (unsigned int)rnd_below(8);
		e = PAGES + 1 + (unsigned int)rnd_below(KRANGE);
	}

	memset(&map, 0, sizeof(map));
	map.map.va.addr = s;
	map.map.va.range = e - s;
	map.map.gem.obj = objs[obj];
	map.map.gem.offset = off;

	n_old = collect_overlapping(fx, s, e < PAGES ? e : PAGES);
	fx_recorder_init(&rec, fx, true);
	if (is_madvise) {
		ops = gpuvm_madvise_ops_create(&fx->base, &map);
		ret = gpuvm_is_err(ops) ? (int)gpuvm_ptr_err(ops) : 0;
		if (!ret) {
			fx_record_ops(&rec, ops);
			fx_apply_ops(fx, ops);
			gpuva_ops_free(&fx->base, ops);
		}
	} else if (use_ops) {
		ops = is_map ? gpuvm_sm_map_ops_create(&fx->base, &map) :
			       gpuvm_sm_unmap_ops_create(&fx->base, s, e - s);
		ret = gpuvm_is_err(ops) ? (int)gpuvm_ptr_err(ops) : 0;
		if (!ret) {
			fx_record_ops(&rec, ops);
			fx_apply_ops(fx, ops);
			gpuva_ops_free(&fx->base, ops);
		}
	} else {
		ret = is_map ? gpuvm_sm_map(&fx->base, &rec, &map) :
			       gpuvm_sm_unmap(&fx->base, &rec, s, e - s);
	}

	if (e > PAGES) {
		if (ret != -EINVAL || rec.n)
			fail_msg("request %lu into the kernel node: %d, %u "
				 "steps",
				 req, ret, rec.n);
		model_compare(fx, req);
		return;
	}
	if (ret)
		fail_msg("request %lu: %s [%u,%u) failed: %d", req,
			 is_madvise ? "madvise" :
			 is_map	    ? "map" :
				      "unmap",
			 s, e, ret);
	if (is_madvise) {
		check_madvise_steps(req, model_madvise(s, e, obj, off, want));
		model_compare(fx, req);
		return;
	}
	check_steps(req, is_map ? &map.map : NULL, s, e, n_old);
	model_apply(s, e, is_map ? obj : -1, off);
	model_compare(fx, req);
}

static void run_model(enum gpuvm_flags flags, bool link, unsigned long n)
{
	struct fx_vm *fx =
		fx_vm_create(flags, 0, PAGES + KRANGE, KSTART, KRANGE);
	unsigned long i;
	int o;

	fx->link = link;
	for (o = 0; o < NR_OBJS; o++)
		objs[o] = fx_obj(fx, obj_names[o]);
	model_reset();
	for (i = 0; i < n; i++)
		request(fx, i, i & 1);
	if (link)
		fx_check_links(fx);
	fx_vm_destroy(fx);
}

static void test_model_staged(void **state)
{
	run_model(0, false, requests_wanted());
}

static void test_model_staged_linked(void **state)
{
	run_model(GPUVM_RESV_PROTECTED, true, requests_wanted() / 10);
}

static void test_model_immediate_linked(void **state)
{
	run_model(GPUVM_IMMEDIATE_MODE, true, requests_wanted() / 10);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_model_staged),
		harness_test(test_model_staged_linked),
		harness_test(test_model_immediate_linked),
	};

	rng_state = harness_seed();
	return harness_run("gpuvm/sm-model", tests, argc, argv);
}
