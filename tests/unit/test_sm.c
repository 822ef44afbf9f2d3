// SPDX-License-Identifier: MIT
/*
 * Split/merge: the exact op sequences of the documented examples and the
 * derived cases, through the step callbacks (recording only, and applying
 * each step at once like an immediate-mode driver) and through the ops
 * lists (applied afterwards like a staged driver), with the VA space
 * checked after each; unmap, madvise, prefetch and bo_unmap lists; invalid
 * requests; callback errors; the driver's op allocator; the VA-space
 * queries and their kernel quirks; and allocation-failure sweeps over
 * every ops-list builder.
 *
 * In the tables "n" of the kernel's examples is 5 and "m" is 9.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <gpuvm/testing.h>
#include "gpuvm_fixture.h"
#include "harness.h"

#define U64_MAX UINT64_MAX

/* ---- VM configurations ------------------------------------------------- */

struct vm_cfg {
	const char *name;
	enum gpuvm_flags flags;
	bool link;
};

/* The walk does not depend on the mode; linking checks the driver side
 * of applying (remnants inherit the vm_bo) in each locking mode. */
static const struct vm_cfg cfgs[] = {
	{ "staged", 0, false },
	{ "staged+link", 0, true },
	{ "staged+resv-protected+link", GPUVM_RESV_PROTECTED, true },
	{ "immediate+link", GPUVM_IMMEDIATE_MODE, true },
	{ "immediate+resv-protected+link",
	  GPUVM_IMMEDIATE_MODE | GPUVM_RESV_PROTECTED, true },
};

/* Window [0,1024) with a kernel node [1008,1024) no case may touch. */
static struct fx_vm *new_vm(const struct vm_cfg *cfg)
{
	struct fx_vm *fx = fx_vm_create(cfg->flags, 0, 1024, 1008, 16);

	fx->link = cfg->link;
	return fx;
}

static struct gpuvm_map_req make_req(struct fx_vm *fx, char obj, uint64_t start,
				     uint64_t end, uint64_t offset)
{
	struct gpuvm_map_req req;

	memset(&req, 0, sizeof(req));
	req.map.va.addr = start;
	req.map.va.range = end - start;
	req.map.gem.obj = fx_obj(fx, obj);
	req.map.gem.offset = offset;
	return req;
}

enum run_mode {
	RUN_RECORD, /* callbacks that only record */
	RUN_IMMEDIATE, /* callbacks that apply each step at once */
	RUN_OPS, /* ops list, applied afterwards */
	NR_RUN_MODES,
};

static const char *const mode_names[] = { "record", "immediate", "ops" };

/* Recorders are large: keep them out of the stack. */
static struct fx_recorder rec;

/* ---- sm_map case tables ------------------------------------------------ */

struct map_case {
	const char *name;
	const char *layout;
	char obj;
	uint64_t start, end, offset;
	const char *steps;
	const char *final;
};

static const struct map_case documented[] = {
	{ "ex1", "a [0,1) @5", 'a', 0, 1, 5,
	  "UNMAP a [0,1) @5 keep=1; MAP a [0,1) @5", "a [0,1) @5" },
	{ "ex2", "a [0,1) @5", 'a', 0, 1, 9,
	  "UNMAP a [0,1) @5 keep=0; MAP a [0,1) @9", "a [0,1) @9" },
	{ "ex3", "a [0,1) @5", 'b', 0, 1, 5,
	  "UNMAP a [0,1) @5 keep=0; MAP b [0,1) @5", "b [0,1) @5" },
	{ "ex4", "a [0,1) @5", 'a', 0, 2, 5,
	  "UNMAP a [0,1) @5 keep=1; MAP a [0,2) @5", "a [0,2) @5" },
	{ "ex4-other-obj", "a [0,1) @5", 'b', 0, 2, 5,
	  "UNMAP a [0,1) @5 keep=0; MAP b [0,2) @5", "b [0,2) @5" },
	{ "ex4-other-offset", "a [0,1) @5", 'a', 0, 2, 9,
	  "UNMAP a [0,1) @5 keep=0; MAP a [0,2) @9", "a [0,2) @9" },
	{ "ex5", "a [0,2) @5", 'b', 0, 1, 5,
	  "REMAP a [0,2) @5 keep=0 prev=- next=a [1,2) @6; MAP b [0,1) @5",
	  "b [0,1) @5, a [1,2) @6" },
	{ "ex6", "a [0,2) @5", 'a', 0, 1, 5,
	  "REMAP a [0,2) @5 keep=1 prev=- next=a [1,2) @6; MAP a [0,1) @5",
	  "a [0,1) @5, a [1,2) @6" },
	{ "ex7", "a [0,2) @5", 'b', 1, 2, 9,
	  "REMAP a [0,2) @5 keep=0 prev=a [0,1) @5 next=-; MAP b [1,2) @9",
	  "a [0,1) @5, b [1,2) @9" },
	{ "ex8", "a [0,2) @5", 'a', 1, 2, 6,
	  "REMAP a [0,2) @5 keep=1 prev=a [0,1) @5 next=-; MAP a [1,2) @6",
	  "a [0,1) @5, a [1,2) @6" },
	{ "ex9", "a [0,2) @5", 'b', 1, 3, 9,
	  "REMAP a [0,2) @5 keep=0 prev=a [0,1) @5 next=-; MAP b [1,3) @9",
	  "a [0,1) @5, b [1,3) @9" },
	{ "ex10", "a [0,2) @5", 'a', 1, 3, 6,
	  "REMAP a [0,2) @5 keep=1 prev=a [0,1) @5 next=-; MAP a [1,3) @6",
	  "a [0,1) @5, a [1,3) @6" },
	{ "ex11", "a [0,3) @5", 'b', 1, 2, 9,
	  "REMAP a [0,3) @5 keep=0 prev=a [0,1) @5 next=a [2,3) @7; "
	  "MAP b [1,2) @9",
	  "a [0,1) @5, b [1,2) @9, a [2,3) @7" },
	{ "ex12", "a [0,3) @5", 'a', 1, 2, 6,
	  "REMAP a [0,3) @5 keep=1 prev=a [0,1) @5 next=a [2,3) @7; "
	  "MAP a [1,2) @6",
	  "a [0,1) @5, a [1,2) @6, a [2,3) @7" },
	{ "ex13", "a [1,2) @6", 'a', 0, 2, 5,
	  "UNMAP a [1,2) @6 keep=1; MAP a [0,2) @5", "a [0,2) @5" },
	{ "ex13-other-offset", "a [1,2) @7", 'a', 0, 2, 5,
	  "UNMAP a [1,2) @7 keep=0; MAP a [0,2) @5", "a [0,2) @5" },
	{ "ex14", "a [1,2) @6", 'a', 0, 3, 5,
	  "UNMAP a [1,2) @6 keep=1; MAP a [0,3) @5", "a [0,3) @5" },
	/* The kernel's diagram says n+2; the code (and arithmetic) n+1. */
	{ "ex15", "a [1,3) @5", 'b', 0, 2, 9,
	  "REMAP a [1,3) @5 keep=0 prev=- next=a [2,3) @6; MAP b [0,2) @9",
	  "b [0,2) @9, a [2,3) @6" },
	{ "ex15-contiguous", "a [1,3) @5", 'a', 0, 2, 4,
	  "REMAP a [1,3) @5 keep=1 prev=- next=a [2,3) @6; MAP a [0,2) @4",
	  "a [0,2) @4, a [2,3) @6" },
};

static const struct map_case derived[] = {
	{ "D1", "a [0,4) @0, b [4,6) @10, c [6,10) @20", 'd', 2, 8, 100,
	  "REMAP a [0,4) @0 keep=0 prev=a [0,2) @0 next=-; "
	  "UNMAP b [4,6) @10 keep=0; "
	  "REMAP c [6,10) @20 keep=0 prev=- next=c [8,10) @22; "
	  "MAP d [2,8) @100",
	  "a [0,2) @0, d [2,8) @100, c [8,10) @22" },
	{ "D2", "a [0,4) @0, b [4,6) @10, c [6,10) @20", 'a', 2, 8, 2,
	  "REMAP a [0,4) @0 keep=1 prev=a [0,2) @0 next=-; "
	  "UNMAP b [4,6) @10 keep=0; "
	  "REMAP c [6,10) @20 keep=0 prev=- next=c [8,10) @22; "
	  "MAP a [2,8) @2",
	  "a [0,2) @0, a [2,8) @2, c [8,10) @22" },
	{ "D3", "a [0,2) @0, b [6,8) @0", 'c', 1, 7, 5,
	  "REMAP a [0,2) @0 keep=0 prev=a [0,1) @0 next=-; "
	  "REMAP b [6,8) @0 keep=0 prev=- next=b [7,8) @1; MAP c [1,7) @5",
	  "a [0,1) @0, c [1,7) @5, b [7,8) @1" },
	{ "D4", "a [0,2) @0", 'b', 4, 6, 0, "MAP b [4,6) @0",
	  "a [0,2) @0, b [4,6) @0" },
	{ "D5", "a [0,2) @0", 'a', 2, 4, 2, "MAP a [2,4) @2",
	  "a [0,2) @0, a [2,4) @2" },
	{ "D5-left", "a [2,4) @2", 'a', 0, 2, 0, "MAP a [0,2) @0",
	  "a [0,2) @0, a [2,4) @2" },
	{ "D5-both-sides", "a [0,2) @0, a [4,6) @4", 'a', 2, 4, 2,
	  "MAP a [2,4) @2", "a [0,2) @0, a [2,4) @2, a [4,6) @4" },
	{ "D6", "- [0,4) @0", '-', 1, 2, 0,
	  "REMAP - [0,4) @0 keep=0 prev=- [0,1) @0 next=- [2,4) @2; "
	  "MAP - [1,2) @0",
	  "- [0,1) @0, - [1,2) @0, - [2,4) @2" },
	{ "D6-identical-sparse", "- [0,4) @0", '-', 0, 4, 0,
	  "UNMAP - [0,4) @0 keep=0; MAP - [0,4) @0", "- [0,4) @0" },
	{ "D7", "a [4,8) @16", 'a', 4, 8, 16,
	  "UNMAP a [4,8) @16 keep=1; MAP a [4,8) @16", "a [4,8) @16" },
	{ "D8", "a [0,2) @0, a [2,4) @2", 'a', 0, 4, 0,
	  "UNMAP a [0,2) @0 keep=1; UNMAP a [2,4) @2 keep=1; MAP a [0,4) @0",
	  "a [0,4) @0" },
	{ "many-C2", "a [0,1) @0, b [2,3) @0, - [4,5) @0, D [6,7) @0", 'e', 0,
	  8, 0,
	  "UNMAP a [0,1) @0 keep=0; UNMAP b [2,3) @0 keep=0; "
	  "UNMAP - [4,5) @0 keep=0; UNMAP D [6,7) @0 keep=0; "
	  "MAP e [0,8) @0",
	  "e [0,8) @0" },
	{ "A2-then-C1", "a [0,2) @0, a [2,4) @7", 'a', 0, 4, 0,
	  "UNMAP a [0,2) @0 keep=1; UNMAP a [2,4) @7 keep=0; MAP a [0,4) @0",
	  "a [0,4) @0" },
	{ "B2-then-C3", "B [0,4) @10, B [4,8) @14", 'B', 2, 6, 12,
	  "REMAP B [0,4) @10 keep=1 prev=B [0,2) @10 next=-; "
	  "REMAP B [4,8) @14 keep=1 prev=- next=B [6,8) @16; MAP B [2,6) @12",
	  "B [0,2) @10, B [2,6) @12, B [6,8) @16" },
	{ "external-B3", "A [10,20) @100", 'A', 12, 14, 102,
	  "REMAP A [10,20) @100 keep=1 prev=A [10,12) @100 "
	  "next=A [14,20) @104; MAP A [12,14) @102",
	  "A [10,12) @100, A [12,14) @102, A [14,20) @104" },
	{ "sparse-remnants-keep-offsets", "- [0,10) @3", 'a', 4, 6, 0,
	  "REMAP - [0,10) @3 keep=0 prev=- [0,4) @3 next=- [6,10) @9; "
	  "MAP a [4,6) @0",
	  "- [0,4) @3, a [4,6) @0, - [6,10) @9" },
	{ "next-to-kernel-node", "a [1000,1008) @0", 'b', 1004, 1008, 0,
	  "REMAP a [1000,1008) @0 keep=0 prev=a [1000,1004) @0 next=-; "
	  "MAP b [1004,1008) @0",
	  "a [1000,1004) @0, b [1004,1008) @0" },
};

static void run_map_case(const struct map_case *c, const struct vm_cfg *cfg,
			 enum run_mode mode)
{
	char before[FX_TEXT_MAX];
	struct gpuvm_map_req req;
	struct gpuva_ops *ops;
	struct fx_vm *fx = new_vm(cfg);
	int ret;

	fx_context("%s, %s, %s", c->name, cfg->name, mode_names[mode]);
	fx_insert_layout(fx, c->layout);
	fx_tree_format(fx, before, sizeof(before));
	req = make_req(fx, c->obj, c->start, c->end, c->offset);

	switch (mode) {
	case RUN_RECORD:
		fx_recorder_init(&rec, fx, false);
		/* The walk itself must not allocate at all. */
		gpuvm_alloc_fail_nth(1);
		ret = gpuvm_sm_map(&fx->base, &rec, &req);
		assert_false(gpuvm_alloc_fault_fired());
		gpuvm_alloc_fail_nth(0);
		assert_int_equal(ret, 0);
		fx_assert_steps(&rec, c->steps);
		fx_assert_tree(fx, before);
		break;
	case RUN_IMMEDIATE:
		fx_recorder_init(&rec, fx, true);
		assert_int_equal(gpuvm_sm_map(&fx->base, &rec, &req), 0);
		fx_assert_steps(&rec, c->steps);
		fx_assert_tree(fx, c->final);
		break;
	default:
		ops = gpuvm_sm_map_ops_create(&fx->base, &req);
		fx_assert_ops(fx, ops, c->steps);
		fx_assert_tree(fx, before);
		fx_apply_ops(fx, ops);
		gpuva_ops_free(&fx->base, ops);
		fx_assert_tree(fx, c->final);
		break;
	}
	fx_vm_destroy(fx);
	fx_context("%s", "");
}

static void run_map_table(const struct map_case *cases, size_t n)
{
	size_t i, j;
	int mode;

	for (i = 0; i < n; i++)
		for (j = 0; j < ARRAY_SIZE(cfgs); j++)
			for (mode = 0; mode < NR_RUN_MODES; mode++)
				run_map_case(&cases[i], &cfgs[j], mode);
}

static void test_map_documented_examples(void **state)
{
	run_map_table(documented, ARRAY_SIZE(documented));
}

static void test_map_derived_cases(void **state)
{
	run_map_table(derived, ARRAY_SIZE(derived));
}

/* D7: the tree sees a remove and an insert; the VA struct is replaced. */
static void test_map_identical_replaces_va(void **state)
{
	struct fx_vm *fx = new_vm(&cfgs[0]);
	struct gpuvm_map_req req = make_req(fx, 'a', 4, 8, 16);
	struct gpuva *old = fx_va_insert(fx, 4, 4, fx_obj(fx, 'a'), 16);
	struct gpuva_ops *ops = gpuvm_sm_map_ops_create(&fx->base, &req);
	struct gpuva_op *op;

	fx_assert_ops(fx, ops, "UNMAP a [4,8) @16 keep=1; MAP a [4,8) @16");
	op = gpuva_first_op(ops);
	assert_ptr_equal(op->unmap.va, old);
	fx_apply_ops(fx, ops);
	/* The new VA was allocated while the old one was still alive. */
	assert_ptr_not_equal(gpuva_find(&fx->base, 4, 4), old);
	gpuva_ops_free(&fx->base, ops);
	fx_assert_tree(fx, "a [4,8) @16");
	fx_vm_destroy(fx);
}

/* ---- sm_unmap ---------------------------------------------------------- */

struct unmap_case {
	const char *name;
	const char *layout;
	uint64_t start, end;
	const char *steps;
	const char *final;
};

static const struct unmap_case unmaps[] = {
	{ "D9-2-6", "a [0,4) @0, b [4,8) @0", 2, 6,
	  "REMAP a [0,4) @0 keep=0 prev=a [0,2) @0 next=-; "
	  "REMAP b [4,8) @0 keep=0 prev=- next=b [6,8) @2",
	  "a [0,2) @0, b [6,8) @2" },
	{ "D9-4-8", "a [0,4) @0, b [4,8) @0", 4, 8, "UNMAP b [4,8) @0 keep=0",
	  "a [0,4) @0" },
	{ "D9-1-3", "a [0,4) @0, b [4,8) @0", 1, 3,
	  "REMAP a [0,4) @0 keep=0 prev=a [0,1) @0 next=a [3,4) @3",
	  "a [0,1) @0, a [3,4) @3, b [4,8) @0" },
	{ "D9-8-12", "a [0,4) @0, b [4,8) @0", 8, 12, "",
	  "a [0,4) @0, b [4,8) @0" },
	{ "D9-0-8", "a [0,4) @0, b [4,8) @0", 0, 8,
	  "UNMAP a [0,4) @0 keep=0; UNMAP b [4,8) @0 keep=0", "" },
	{ "inside", "a [2,4) @7", 0, 8, "UNMAP a [2,4) @7 keep=0", "" },
	{ "exact", "a [0,4) @7", 0, 4, "UNMAP a [0,4) @7 keep=0", "" },
	{ "head", "a [0,4) @7", 0, 2,
	  "REMAP a [0,4) @7 keep=0 prev=- next=a [2,4) @9", "a [2,4) @9" },
	{ "tail", "a [0,4) @7", 2, 4,
	  "REMAP a [0,4) @7 keep=0 prev=a [0,2) @7 next=-", "a [0,2) @7" },
	{ "tail-past-end", "a [0,4) @7", 2, 6,
	  "REMAP a [0,4) @7 keep=0 prev=a [0,2) @7 next=-", "a [0,2) @7" },
	{ "holes-and-sparse", "a [0,2) @0, - [4,6) @0, B [8,10) @3", 1, 9,
	  "REMAP a [0,2) @0 keep=0 prev=a [0,1) @0 next=-; "
	  "UNMAP - [4,6) @0 keep=0; "
	  "REMAP B [8,10) @3 keep=0 prev=- next=B [9,10) @4",
	  "a [0,1) @0, B [9,10) @4" },
	{ "hole-between-neighbours", "a [0,2) @0, b [4,6) @0", 2, 4, "",
	  "a [0,2) @0, b [4,6) @0" },
	{ "empty-vm", "", 0, 1008, "", "" },
};

static void run_unmap_case(const struct unmap_case *c, const struct vm_cfg *cfg,
			   enum run_mode mode)
{
	uint64_t range = c->end - c->start;
	char before[FX_TEXT_MAX];
	struct gpuva_ops *ops;
	struct fx_vm *fx = new_vm(cfg);
	int ret;

	fx_context("%s, %s, %s", c->name, cfg->name, mode_names[mode]);
	fx_insert_layout(fx, c->layout);
	fx_tree_format(fx, before, sizeof(before));

	switch (mode) {
	case RUN_RECORD:
		fx_recorder_init(&rec, fx, false);
		gpuvm_alloc_fail_nth(1);
		ret = gpuvm_sm_unmap(&fx->base, &rec, c->start, range);
		assert_false(gpuvm_alloc_fault_fired());
		gpuvm_alloc_fail_nth(0);
		assert_int_equal(ret, 0);
		fx_assert_steps(&rec, c->steps);
		fx_assert_tree(fx, before);
		break;
	case RUN_IMMEDIATE:
		fx_recorder_init(&rec, fx, true);
		assert_int_equal(
			gpuvm_sm_unmap(&fx->base, &rec, c->start, range), 0);
		fx_assert_steps(&rec, c->steps);
		fx_assert_tree(fx, c->final);
		break;
	default:
		ops = gpuvm_sm_unmap_ops_create(&fx->base, c->start, range);
		fx_assert_ops(fx, ops, c->steps);
		fx_assert_tree(fx, before);
		fx_apply_ops(fx, ops);
		gpuva_ops_free(&fx->base, ops);
		fx_assert_tree(fx, c->final);
		break;
	}
	fx_vm_destroy(fx);
	fx_context("%s", "");
}

static void test_unmap_cases(void **state)
{
	size_t i, j;
	int mode;

	for (i = 0; i < ARRAY_SIZE(unmaps); i++)
		for (j = 0; j < ARRAY_SIZE(cfgs); j++)
			for (mode = 0; mode < NR_RUN_MODES; mode++)
				run_unmap_case(&unmaps[i], &cfgs[j], mode);
}

/* sm_unmap needs no map callback. */
static void test_unmap_without_map_callback(void **state)
{
	struct fx_vm *fx = new_vm(&cfgs[0]);

	fx_insert_layout(fx, "a [0,4) @0");
	fx->ops.sm_step_map = NULL;
	fx_recorder_init(&rec, fx, true);
	assert_int_equal(gpuvm_sm_unmap(&fx->base, &rec, 1, 2), 0);
	fx_assert_steps(&rec, "REMAP a [0,4) @0 keep=0 prev=a [0,1) @0 "
			      "next=a [3,4) @3");
	fx_assert_tree(fx, "a [0,1) @0, a [3,4) @3");
	fx_vm_destroy(fx);
}

/* ---- madvise ----------------------------------------------------------- */

static const struct map_case madvise_cases[] = {
	{ "M1", "- [0,10) @0", '-', 3, 6, 0,
	  "REMAP - [0,10) @0 keep=0 prev=- [0,3) @0 next=- [6,10) @6; "
	  "MAP - [3,6) @0",
	  "- [0,3) @0, - [3,6) @0, - [6,10) @6" },
	{ "M2", "- [0,4) @0, - [4,6) @0, - [6,10) @0", '-', 2, 8, 0,
	  "REMAP - [0,4) @0 keep=0 prev=- [0,2) @0 next=-; MAP - [2,4) @0; "
	  "REMAP - [6,10) @0 keep=0 prev=- next=- [8,10) @2; "
	  "MAP - [6,8) @0",
	  "- [0,2) @0, - [2,4) @0, - [4,6) @0, - [6,8) @0, - [8,10) @2" },
	{ "M3", "- [0,4) @0, - [4,6) @0, - [6,10) @0", '-', 0, 8, 0,
	  "REMAP - [6,10) @0 keep=0 prev=- next=- [8,10) @2; "
	  "MAP - [6,8) @0",
	  "- [0,4) @0, - [4,6) @0, - [6,8) @0, - [8,10) @2" },
	{ "M4", "- [0,4) @0, - [4,6) @0, - [6,10) @0", '-', 2, 6, 0,
	  "REMAP - [0,4) @0 keep=0 prev=- [0,2) @0 next=-; MAP - [2,4) @0",
	  "- [0,2) @0, - [2,4) @0, - [4,6) @0, - [6,10) @0" },
	{ "M5", "- [0,4) @0, - [4,6) @0", '-', 0, 6, 0, "",
	  "- [0,4) @0, - [4,6) @0" },
	{ "M6", "", '-', 0, 6, 0, "", "" },
	{ "M7", "a [0,4) @0, - [4,10) @0", '-', 2, 8, 0,
	  "REMAP - [4,10) @0 keep=0 prev=- next=- [8,10) @4; MAP - [4,8) @0",
	  "a [0,4) @0, - [4,8) @0, - [8,10) @4" },
	/* Only the armed trailing MAP carries the request's object. */
	{ "M1-object", "- [0,10) @0", 'a', 3, 6, 30,
	  "REMAP - [0,10) @0 keep=0 prev=- [0,3) @0 next=- [6,10) @6; "
	  "MAP a [3,6) @30",
	  "- [0,3) @0, a [3,6) @30, - [6,10) @6" },
	{ "M2-object", "- [0,4) @0, - [4,6) @0, - [6,10) @0", 'a', 2, 8, 30,
	  "REMAP - [0,4) @0 keep=0 prev=- [0,2) @0 next=-; MAP - [2,4) @0; "
	  "REMAP - [6,10) @0 keep=0 prev=- next=- [8,10) @2; "
	  "MAP - [6,8) @0",
	  "- [0,2) @0, - [2,4) @0, - [4,6) @0, - [6,8) @0, - [8,10) @2" },
	{ "A1", "- [0,10) @0", 'a', 0, 10, 0, "", "- [0,10) @0" },
	{ "A2-then-C3", "- [0,4) @0, - [4,10) @0", '-', 0, 6, 0,
	  "REMAP - [4,10) @0 keep=0 prev=- next=- [6,10) @2; MAP - [4,6) @0",
	  "- [0,4) @0, - [4,6) @0, - [6,10) @2" },
	{ "A3", "- [0,10) @0", 'a', 0, 4, 7,
	  "REMAP - [0,10) @0 keep=0 prev=- next=- [4,10) @4; MAP a [0,4) @7",
	  "a [0,4) @7, - [4,10) @4" },
	{ "B1", "- [0,10) @0", '-', 4, 10, 0,
	  "REMAP - [0,10) @0 keep=0 prev=- [0,4) @0 next=-; "
	  "MAP - [4,10) @0",
	  "- [0,4) @0, - [4,10) @0" },
	{ "object-VA-not-split", "a [0,10) @0", '-', 3, 6, 0, "",
	  "a [0,10) @0" },
	{ "object-VA-between", "- [0,4) @0, B [4,6) @0, - [6,10) @0", '-', 2, 8,
	  0,
	  "REMAP - [0,4) @0 keep=0 prev=- [0,2) @0 next=-; MAP - [2,4) @0; "
	  "REMAP - [6,10) @0 keep=0 prev=- next=- [8,10) @2; "
	  "MAP - [6,8) @0",
	  "- [0,2) @0, - [2,4) @0, B [4,6) @0, - [6,8) @0, - [8,10) @2" },
};

static void test_madvise_cases(void **state)
{
	char before[FX_TEXT_MAX];
	struct gpuvm_map_req req;
	struct gpuva_ops *ops;
	struct fx_vm *fx;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(madvise_cases); i++) {
		const struct map_case *c = &madvise_cases[i];

		fx = new_vm(&cfgs[1]);
		fx_context("%s", c->name);
		fx_insert_layout(fx, c->layout);
		fx_tree_format(fx, before, sizeof(before));
		req = make_req(fx, c->obj, c->start, c->end, c->offset);
		ops = gpuvm_madvise_ops_create(&fx->base, &req);
		fx_assert_ops(fx, ops, c->steps);
		fx_assert_tree(fx, before);
		fx_apply_ops(fx, ops);
		gpuva_ops_free(&fx->base, ops);
		fx_assert_tree(fx, c->final);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* ---- prefetch and bo_unmap --------------------------------------------- */

static void test_prefetch(void **state)
{
	struct fx_vm *fx = fx_vm_create(0, 0, 100, 90, 10);
	const struct {
		uint64_t addr, range;
		const char *ops;
	} cases[] = {
		{ 0, 100,
		  "PREFETCH a [0,4) @0; PREFETCH - [10,20) @0; "
		  "PREFETCH B [30,40) @5; PREFETCH - [90,100) @0" },
		{ 2, 10, "PREFETCH a [0,4) @0; PREFETCH - [10,20) @0" },
		{ 4, 6, "" }, /* only neighbours */
		{ 50, 10, "" },
		/* No validation: past the window, into the kernel node. */
		{ 95, 200, "PREFETCH - [90,100) @0" },
		{ 39, 1000, "PREFETCH B [30,40) @5; PREFETCH - [90,100) @0" },
	};
	struct gpuva_ops *ops;
	size_t i;

	fx_insert_layout(fx, "a [0,4) @0, - [10,20) @0, B [30,40) @5");
	fx_use_counted_ops(fx);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		fx_context("prefetch %zu", i);
		fx_op_allocs = fx_op_frees = 0;
		ops = gpuvm_prefetch_ops_create(&fx->base, cases[i].addr,
						cases[i].range);
		fx_assert_ops(fx, ops, cases[i].ops);
		assert_int_equal(fx_op_allocs, fx_ops_count(ops));
		if (fx_ops_count(ops)) {
			/* The kernel node is named by itself. */
			if (gpuva_last_op(ops)->prefetch.va->va.addr == 90)
				assert_ptr_equal(
					gpuva_last_op(ops)->prefetch.va,
					&fx->base.kernel_alloc_node);
		}
		fx_apply_ops(fx, ops); /* nothing to do */
		gpuva_ops_free(&fx->base, ops);
		assert_int_equal(fx_op_frees, fx_op_allocs);
	}
	fx_context("%s", "");
	fx_assert_tree(fx, "a [0,4) @0, - [10,20) @0, B [30,40) @5");
	fx_vm_destroy(fx);
}

static struct gpuva_ops *bo_unmap_locked(struct fx_vm *fx, char name)
{
	struct gpuvm_gem_object *obj = fx_obj(fx, name);
	struct gpuvm_bo *vm_bo = fx_vm_bo(fx, obj);
	struct gpuva_ops *ops;

	assert_non_null(vm_bo);
	fx_gem_list_lock(fx, obj);
	ops = gpuvm_bo_unmap_ops_create(vm_bo);
	fx_gem_list_unlock(fx, obj);
	return ops;
}

static void run_bo_unmap(const struct vm_cfg *cfg, bool counted)
{
	struct fx_vm *fx = new_vm(cfg);
	struct gpuva_ops *ops;

	fx_context("bo_unmap %s%s", cfg->name, counted ? " counted" : "");
	if (counted)
		fx_use_counted_ops(fx);
	/* Link order differs from address order. */
	fx_insert_layout(fx, "a [8,10) @8, a [0,2) @0, b [4,6) @0, "
			     "a [20,22) @20, - [30,32) @0");
	ops = bo_unmap_locked(fx, 'a');
	fx_assert_ops(fx, ops,
		      "UNMAP a [8,10) @8 keep=0; UNMAP a [0,2) @0 keep=0; "
		      "UNMAP a [20,22) @20 keep=0");
	if (counted)
		assert_int_equal(fx_op_allocs, 3);
	fx_apply_ops(fx, ops);
	gpuva_ops_free(&fx->base, ops);
	if (counted)
		assert_int_equal(fx_op_frees, 3);
	fx_assert_tree(fx, "b [4,6) @0, - [30,32) @0");
	if (gpuvm_immediate_mode(&fx->base))
		gpuvm_bo_deferred_cleanup(&fx->base);
	assert_null(fx_vm_bo(fx, fx_obj(fx, 'a')));
	fx_vm_destroy(fx);
	fx_context("%s", "");
}

static void test_bo_unmap_link_order(void **state)
{
	size_t i;

	for (i = 1; i < ARRAY_SIZE(cfgs); i++) {
		run_bo_unmap(&cfgs[i], false);
		run_bo_unmap(&cfgs[i], true);
	}
}

/* A vm_bo without VAs gives an empty list. */
static void test_bo_unmap_empty(void **state)
{
	struct fx_vm *fx = new_vm(&cfgs[1]);
	struct gpuvm_gem_object *obj = fx_obj(fx, 'a');
	struct gpuvm_bo *vm_bo;
	struct gpuva_ops *ops;

	fx_gem_list_lock(fx, obj);
	vm_bo = gpuvm_bo_obtain_locked(&fx->base, obj);
	assert_false(gpuvm_is_err(vm_bo));
	ops = gpuvm_bo_unmap_ops_create(vm_bo);
	fx_assert_ops(fx, ops, "");
	gpuva_ops_free(&fx->base, ops);
	assert_true(gpuvm_bo_put(vm_bo));
	fx_gem_list_unlock(fx, obj);
	fx_vm_destroy(fx);
}

/* Without the GEM list lock the builder still works but reports it. */
static void test_bo_unmap_without_lock_warns(void **state)
{
	struct fx_vm *fx = new_vm(&cfgs[1]);
	struct gpuva_ops *ops;
	struct gpuvm_bo *vm_bo;

	fx_insert_layout(fx, "a [0,2) @0");
	vm_bo = fx_vm_bo(fx, fx_obj(fx, 'a'));
	ops = gpuvm_bo_unmap_ops_create(vm_bo);
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_LOCK_NOT_HELD),
			       "gpuvm_bo_unmap_ops_create"));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD), 1);
	fx_assert_ops(fx, ops, "UNMAP a [0,2) @0 keep=0");
	gpuva_ops_free(&fx->base, ops);
	fx_vm_destroy(fx);
}

/* ---- remap_to_unmap_range ---------------------------------------------- */

static void test_remap_to_unmap_range(void **state)
{
	const struct {
		const char *layout;
		char obj;
		uint64_t start, end, offset;
		bool unmap;
		unsigned int nth; /* which op is the REMAP */
		uint64_t hole_start, hole_range;
	} cases[] = {
		{ "a [0,2) @5", 'b', 0, 1, 5, false, 0, 0, 1 }, /* ex5 */
		{ "a [0,2) @5", 'a', 0, 1, 5, false, 0, 0, 1 }, /* ex6 */
		{ "a [0,2) @5", 'b', 1, 2, 9, false, 0, 1, 1 }, /* ex7 */
		{ "a [0,2) @5", 'a', 1, 2, 6, false, 0, 1, 1 }, /* ex8 */
		{ "a [0,2) @5", 'b', 1, 3, 9, false, 0, 1, 1 }, /* ex9 */
		{ "a [0,2) @5", 'a', 1, 3, 6, false, 0, 1, 1 }, /* ex10 */
		{ "a [0,3) @5", 'b', 1, 2, 9, false, 0, 1, 1 }, /* ex11 */
		{ "a [0,3) @5", 'a', 1, 2, 6, false, 0, 1, 1 }, /* ex12 */
		{ "a [1,3) @5", 'b', 0, 2, 9, false, 0, 1, 1 }, /* ex15 */
		/* D1: the first and the last op are REMAPs. */
		{ "a [0,4) @0, b [4,6) @10, c [6,10) @20", 'd', 2, 8, 100,
		  false, 0, 2, 2 },
		{ "a [0,4) @0, b [4,6) @10, c [6,10) @20", 'd', 2, 8, 100,
		  false, 2, 6, 2 },
		{ "a [0,4) @0, b [4,8) @0", 0, 1, 3, 0, true, 0, 1, 2 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fx_vm *fx = new_vm(&cfgs[0]);
		struct gpuvm_map_req req;
		struct gpuva_ops *ops;
		struct gpuva_op *op;
		uint64_t start = 77, range = 77;
		unsigned int k = 0;

		fx_context("remap_to_unmap_range %zu", i);
		fx_insert_layout(fx, cases[i].layout);
		if (cases[i].unmap) {
			ops = gpuvm_sm_unmap_ops_create(
				&fx->base, cases[i].start,
				cases[i].end - cases[i].start);
		} else {
			req = make_req(fx, cases[i].obj, cases[i].start,
				       cases[i].end, cases[i].offset);
			ops = gpuvm_sm_map_ops_create(&fx->base, &req);
		}
		assert_false(gpuvm_is_err(ops));
		gpuva_for_each_op(op, ops) {
			if (k++ == cases[i].nth)
				break;
		}
		assert_int_equal(op->op, GPUVA_OP_REMAP);
		gpuva_op_remap_to_unmap_range(&op->remap, &start, &range);
		assert_int_equal(start, cases[i].hole_start);
		assert_int_equal(range, cases[i].hole_range);
		start = range = 77;
		gpuva_op_remap_to_unmap_range(&op->remap, &start, NULL);
		assert_int_equal(start, cases[i].hole_start);
		gpuva_op_remap_to_unmap_range(&op->remap, NULL, &range);
		assert_int_equal(range, cases[i].hole_range);
		gpuva_op_remap_to_unmap_range(&op->remap, NULL, NULL);
		gpuva_ops_free(&fx->base, ops);
		fx_vm_destroy(fx);
	}
	fx_context("%s", "");
}

/* ---- invalid requests -------------------------------------------------- */

/* Every entry point refuses [addr, addr + range): -EINVAL, no step, no
 * allocation left behind, VA space unchanged. */
static void assert_all_refuse(struct fx_vm *fx, uint64_t addr, uint64_t range)
{
	struct gpuvm_map_req req;
	char before[FX_TEXT_MAX];
	long live = gpuvm_alloc_live();
	struct gpuva *va;

	fx_context("refuse [%" PRIu64 ",+%" PRIu64 ")", addr, range);
	fx_tree_format(fx, before, sizeof(before));
	memset(&req, 0, sizeof(req));
	req.map.va.addr = addr;
	req.map.va.range = range;
	req.map.gem.obj = fx_obj(fx, 'a');

	fx_recorder_init(&rec, fx, true);
	assert_int_equal(gpuvm_sm_map(&fx->base, &rec, &req), -EINVAL);
	assert_int_equal(gpuvm_sm_unmap(&fx->base, &rec, addr, range), -EINVAL);
	assert_int_equal(rec.calls, 0);

	assert_int_equal(
		gpuvm_ptr_err(gpuvm_sm_map_ops_create(&fx->base, &req)),
		-EINVAL);
	assert_int_equal(
		gpuvm_ptr_err(gpuvm_madvise_ops_create(&fx->base, &req)),
		-EINVAL);
	req.map.gem.obj = NULL;
	assert_int_equal(
		gpuvm_ptr_err(gpuvm_madvise_ops_create(&fx->base, &req)),
		-EINVAL);
	assert_int_equal(gpuvm_ptr_err(gpuvm_sm_unmap_ops_create(&fx->base,
								 addr, range)),
			 -EINVAL);
	assert_int_equal(gpuvm_alloc_live(), live);

	va = fx_va_new(addr, range, fx_obj(fx, 'a'), 0);
	assert_int_equal(gpuva_insert(&fx->base, va), -EINVAL);
	assert_null(va->vm);
	assert_int_equal(gpuva_map_checked(&fx->base, va, &req.map), -EINVAL);
	gpuva_map(&fx->base, va, &req.map); /* result dropped, as in kernel */
	assert_null(va->vm);
	fx_va_free(va);

	fx_assert_tree(fx, before);
	fx_context("%s", "");
}

/* D10: window [10,100), kernel node [90,100). */
static void test_invalid_requests(void **state)
{
	struct fx_vm *fx = fx_vm_create(0, 10, 90, 90, 10);
	struct gpuvm_map_req req;

	fx_insert_layout(fx, "a [10,20) @0, b [80,90) @0");
	assert_all_refuse(fx, 95, 1); /* inside the kernel node */
	assert_all_refuse(fx, 80, 15); /* overlaps it */
	assert_all_refuse(fx, 89, 2);
	assert_all_refuse(fx, 99, U64_MAX); /* end overflows */
	assert_all_refuse(fx, U64_MAX, 2);
	assert_all_refuse(fx, 100, 1); /* past the window */
	assert_all_refuse(fx, 5, 10); /* starts before it */
	assert_all_refuse(fx, 9, 1);
	assert_all_refuse(fx, 0, U64_MAX);

	/* Ending exactly where the kernel node starts is fine. */
	req = make_req(fx, 'c', 89, 90, 0);
	fx_recorder_init(&rec, fx, true);
	assert_int_equal(gpuvm_sm_map(&fx->base, &rec, &req), 0);
	fx_assert_steps(&rec,
			"REMAP b [80,90) @0 keep=0 prev=b [80,89) @0 next=-; "
			"MAP c [89,90) @0");
	fx_assert_tree(fx, "a [10,20) @0, b [80,89) @0, c [89,90) @0");
	fx_vm_destroy(fx);
}

/* Deviation from the kernel: empty requests are refused everywhere. */
static void test_zero_range_refused(void **state)
{
	struct fx_vm *fx = fx_vm_create(0, 0, 100, 90, 10);

	fx_insert_layout(fx, "a [0,10) @0, b [20,30) @0");
	assert_all_refuse(fx, 5, 0); /* strictly inside a VA */
	assert_all_refuse(fx, 0, 0);
	assert_all_refuse(fx, 10, 0); /* at a VA's end */
	assert_all_refuse(fx, 15, 0); /* in a hole */
	assert_all_refuse(fx, 100, 0); /* at the window's end */
	assert_all_refuse(fx, 90, 0); /* at the kernel node */
	fx_vm_destroy(fx);
}

static void test_missing_callbacks(void **state)
{
	struct fx_vm *fx = new_vm(&cfgs[0]);
	struct gpuvm_map_req req = make_req(fx, 'b', 1, 2, 0);
	struct gpuva_ops *ops;
	int which;

	fx_insert_layout(fx, "a [0,4) @0");
	for (which = 0; which < 3; which++) {
		fx->ops.sm_step_map = which == 0 ? NULL : fx_step_map;
		fx->ops.sm_step_remap = which == 1 ? NULL : fx_step_remap;
		fx->ops.sm_step_unmap = which == 2 ? NULL : fx_step_unmap;
		fx_recorder_init(&rec, fx, true);
		assert_int_equal(gpuvm_sm_map(&fx->base, &rec, &req), -EINVAL);
		if (which == 0) /* unmap does not need the map callback */
			continue;
		assert_int_equal(gpuvm_sm_unmap(&fx->base, &rec, 1, 1),
				 -EINVAL);
		assert_int_equal(rec.calls, 0);
	}
	assert_int_equal(rec.calls, 0);
	fx_assert_tree(fx, "a [0,4) @0");

	/* The ops lists need no callback at all. */
	fx->ops.sm_step_map = NULL;
	fx->ops.sm_step_remap = NULL;
	fx->ops.sm_step_unmap = NULL;
	ops = gpuvm_sm_map_ops_create(&fx->base, &req);
	fx_assert_ops(fx, ops,
		      "REMAP a [0,4) @0 keep=0 prev=a [0,1) @0 "
		      "next=a [2,4) @2; MAP b [1,2) @0");
	gpuva_ops_free(&fx->base, ops);
	ops = gpuvm_sm_unmap_ops_create(&fx->base, 0, 1);
	fx_assert_ops(fx, ops,
		      "REMAP a [0,4) @0 keep=0 prev=- next=a [1,4) @1");
	gpuva_ops_free(&fx->base, ops);
	fx_vm_destroy(fx);
}

/* ---- callback errors (D11) --------------------------------------------- */

static void run_callback_error(const struct vm_cfg *cfg, int fail_at,
			       int fail_ret, const char *steps,
			       const char *tree)
{
	struct fx_vm *fx = new_vm(cfg);
	struct gpuvm_map_req req = make_req(fx, 'd', 2, 8, 100);

	fx_context("callback error at %d, %s", fail_at, cfg->name);
	fx_insert_layout(fx, "a [0,4) @0, b [4,6) @10, c [6,10) @20");
	fx_recorder_init(&rec, fx, true);
	rec.fail_at = fail_at;
	rec.fail_ret = fail_ret;
	assert_int_equal(gpuvm_sm_map(&fx->base, &rec, &req), fail_ret);
	/* Nothing after the failing step was issued. */
	assert_int_equal(rec.calls, fail_at + 1);
	fx_assert_steps(&rec, steps);
	/* What was applied stays applied, and consistent. */
	fx_assert_tree(fx, tree);
	fx_vm_destroy(fx);
	fx_context("%s", "");
}

static void test_callback_error_stops_walk(void **state)
{
	const char *x = "REMAP a [0,4) @0 keep=0 prev=a [0,2) @0 next=-";
	const char *y = "UNMAP b [4,6) @10 keep=0";
	const char *z = "REMAP c [6,10) @20 keep=0 prev=- next=c [8,10) @22";
	char steps[512];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cfgs); i++) {
		run_callback_error(&cfgs[i], 0, -EIO, x,
				   "a [0,4) @0, b [4,6) @10, c [6,10) @20");
		snprintf(steps, sizeof(steps), "%s; %s", x, y);
		run_callback_error(&cfgs[i], 1, -EIO, steps,
				   "a [0,2) @0, b [4,6) @10, c [6,10) @20");
		snprintf(steps, sizeof(steps), "%s; %s; %s", x, y, z);
		run_callback_error(&cfgs[i], 2, -ENOSPC, steps,
				   "a [0,2) @0, c [6,10) @20");
		snprintf(steps, sizeof(steps), "%s; %s; %s; MAP d [2,8) @100",
			 x, y, z);
		run_callback_error(&cfgs[i], 3, -EIO, steps,
				   "a [0,2) @0, c [8,10) @22");
		/* Any non-zero value is passed back as it is. */
		run_callback_error(&cfgs[i], 0, 7, x,
				   "a [0,4) @0, b [4,6) @10, c [6,10) @20");
	}
}

static void test_unmap_callback_error(void **state)
{
	struct fx_vm *fx = new_vm(&cfgs[1]);

	fx_insert_layout(fx, "a [0,4) @0, b [4,6) @10, c [6,10) @20");
	fx_recorder_init(&rec, fx, true);
	rec.fail_at = 1;
	rec.fail_ret = -EIO;
	assert_int_equal(gpuvm_sm_unmap(&fx->base, &rec, 2, 6), -EIO);
	assert_int_equal(rec.calls, 2);
	fx_assert_steps(&rec, "REMAP a [0,4) @0 keep=0 prev=a [0,2) @0 next=-; "
			      "UNMAP b [4,6) @10 keep=0");
	fx_assert_tree(fx, "a [0,2) @0, b [4,6) @10, c [6,10) @20");
	fx_vm_destroy(fx);
}

/* ---- the driver's op allocator ----------------------------------------- */

static void test_driver_op_alloc_used(void **state)
{
	struct fx_vm *fx = new_vm(&cfgs[1]);
	struct gpuvm_map_req req;
	struct gpuva_ops *ops;
	struct gpuva_op *op;

	fx_use_counted_ops(fx);
	fx_insert_layout(fx, "a [0,4) @0, b [4,6) @10, c [6,10) @20, "
			     "- [20,30) @0, - [30,34) @0, - [34,40) @0");

	req = make_req(fx, 'd', 2, 8, 100);
	ops = gpuvm_sm_map_ops_create(&fx->base, &req);
	assert_int_equal(fx_ops_count(ops), 4);
	assert_int_equal(fx_op_allocs, 4);
	gpuva_for_each_op(op, ops)
		assert_int_equal(
			gpuvm_container_of(op, struct fx_op, op)->magic,
			FX_OP_MAGIC);
	gpuva_ops_free(&fx->base, ops);
	assert_int_equal(fx_op_frees, 4);

	req = make_req(fx, '-', 22, 38, 0);
	ops = gpuvm_madvise_ops_create(&fx->base, &req);
	assert_int_equal(fx_ops_count(ops), 4);
	assert_int_equal(fx_op_allocs, 8);
	gpuva_ops_free(&fx->base, ops);
	assert_int_equal(fx_op_frees, 8);

	ops = gpuvm_sm_unmap_ops_create(&fx->base, 1, 35);
	assert_int_equal(fx_ops_count(ops), 6);
	assert_int_equal(fx_op_allocs, 14);
	gpuva_ops_free(&fx->base, ops);
	assert_int_equal(fx_op_frees, 14);

	ops = gpuvm_prefetch_ops_create(&fx->base, 0, 1024);
	assert_int_equal(fx_ops_count(ops), 7); /* kernel node included */
	assert_int_equal(fx_op_allocs, 21);
	gpuva_ops_free(&fx->base, ops);
	assert_int_equal(fx_op_frees, 21);

	ops = bo_unmap_locked(fx, 'a');
	assert_int_equal(fx_ops_count(ops), 1);
	assert_int_equal(fx_op_allocs, 22);
	gpuva_ops_free(&fx->base, ops);
	assert_int_equal(fx_op_frees, 22);

	/* A refused request allocates no op. */
	req = make_req(fx, 'd', 1000, 1010, 0);
	assert_true(gpuvm_is_err(gpuvm_sm_map_ops_create(&fx->base, &req)));
	assert_int_equal(fx_op_allocs, 22);

	/* An empty list frees nothing through op_free. */
	ops = gpuvm_sm_unmap_ops_create(&fx->base, 50, 10);
	fx_assert_ops(fx, ops, "");
	gpuva_ops_free(&fx->base, ops);
	assert_int_equal(fx_op_allocs, 22);
	assert_int_equal(fx_op_frees, 22);
	fx_vm_destroy(fx);
}

/* op_alloc alone: the default free must work on ops at offset 0. */
static unsigned int plain_allocs;

static struct gpuva_op *plain_op_alloc(void)
{
	plain_allocs++;
	return gpuvm_kzalloc(sizeof(struct gpuva_op), GPUVM_GFP_KERNEL);
}

static void test_op_alloc_without_op_free(void **state)
{
	struct fx_vm *fx = new_vm(&cfgs[0]);
	struct gpuvm_map_req req;
	struct gpuva_ops *ops;

	fx->ops.op_alloc = plain_op_alloc;
	plain_allocs = 0;
	fx_insert_layout(fx, "a [0,3) @5");
	req = make_req(fx, 'b', 1, 2, 9);
	ops = gpuvm_sm_map_ops_create(&fx->base, &req);
	fx_assert_ops(fx, ops,
		      "REMAP a [0,3) @5 keep=0 prev=a [0,1) @5 "
		      "next=a [2,3) @7; MAP b [1,2) @9");
	assert_int_equal(plain_allocs, 2);
	gpuva_ops_free(&fx->base, ops);
	fx_vm_destroy(fx);
}

/* ---- op list iteration ------------------------------------------------- */

static void test_op_iterators(void **state)
{
	struct fx_vm *fx = new_vm(&cfgs[0]);
	struct gpuvm_map_req req = make_req(fx, 'd', 2, 8, 100);
	const enum gpuva_op_type order[] = { GPUVA_OP_REMAP, GPUVA_OP_UNMAP,
					     GPUVA_OP_REMAP, GPUVA_OP_MAP };
	struct gpuva_op *op, *next, *third = NULL;
	struct gpuva_ops *ops;
	int i;

	fx_insert_layout(fx, "a [0,4) @0, b [4,6) @10, c [6,10) @20");
	ops = gpuvm_sm_map_ops_create(&fx->base, &req);
	assert_false(gpuvm_is_err(ops));

	i = 0;
	gpuva_for_each_op(op, ops) {
		assert_int_equal(op->op, order[i]);
		if (i == 2)
			third = op;
		i++;
	}
	assert_int_equal(i, 4);

	i = 4;
	gpuva_for_each_op_reverse(op, ops)
		assert_int_equal(op->op, order[--i]);
	assert_int_equal(i, 0);

	/* Backwards from the third op, inclusive. */
	op = third;
	i = 3;
	gpuva_for_each_op_from_reverse(op, ops)
		assert_int_equal(op->op, order[--i]);
	assert_int_equal(i, 0);

	assert_int_equal(gpuva_first_op(ops)->op, GPUVA_OP_REMAP);
	assert_int_equal(gpuva_last_op(ops)->op, GPUVA_OP_MAP);
	assert_ptr_equal(gpuva_next_op(gpuva_first_op(ops)),
			 gpuva_prev_op(third));
	assert_ptr_equal(gpuva_prev_op(gpuva_last_op(ops)), third);

	/* The safe variant survives taking ops off the list. */
	i = 0;
	gpuva_for_each_op_safe(op, next, ops) {
		if (op->op == GPUVA_OP_UNMAP) {
			gpuvm_list_del(&op->entry);
			gpuvm_kfree(op);
		}
		i++;
	}
	assert_int_equal(i, 4);
	assert_int_equal(fx_ops_count(ops), 3);
	gpuva_ops_free(&fx->base, ops);
	fx_vm_destroy(fx);
}

/* ---- VA-space queries -------------------------------------------------- */

/* Window [0,100), kernel node [90,100), VAs a [10,20) and b [30,40). */
static void test_find_quirks(void **state)
{
	struct fx_vm *fx = fx_vm_create(0, 0, 100, 90, 10);
	struct gpuva *kernel = &fx->base.kernel_alloc_node;
	struct gpuva *a = fx_va_insert(fx, 10, 10, fx_obj(fx, 'a'), 0);
	struct gpuva *b = fx_va_insert(fx, 30, 10, fx_obj(fx, 'b'), 0);
	struct gpuvm *vm = &fx->base;

	assert_ptr_equal(gpuva_find_first(vm, 0, 100), a);
	assert_ptr_equal(gpuva_find_first(vm, 19, 100), a);
	assert_ptr_equal(gpuva_find_first(vm, 20, 100), b);
	assert_null(gpuva_find_first(vm, 20, 10));
	assert_null(gpuva_find_first(vm, 0, 10));
	assert_ptr_equal(gpuva_find_first(vm, 0, 11), a);
	assert_ptr_equal(gpuva_find_first(vm, 95, 1), kernel);
	assert_ptr_equal(gpuva_find_first(vm, 40, 60), kernel);
	/* Range 0, as in the kernel: only a VA strictly straddling addr;
	 * addr 0 and range 0 give the first VA. */
	assert_ptr_equal(gpuva_find_first(vm, 15, 0), a);
	assert_null(gpuva_find_first(vm, 10, 0));
	assert_null(gpuva_find_first(vm, 20, 0));
	assert_ptr_equal(gpuva_find_first(vm, 0, 0), a);

	assert_ptr_equal(gpuva_find(vm, 10, 10), a);
	assert_null(gpuva_find(vm, 10, 5));
	assert_null(gpuva_find(vm, 12, 8));
	assert_null(gpuva_find(vm, 10, 11));
	assert_ptr_equal(gpuva_find(vm, 90, 10), kernel);

	/* find_prev: the VA covering start - 1 ... */
	assert_ptr_equal(gpuva_find_prev(vm, 20), a);
	assert_ptr_equal(gpuva_find_prev(vm, 15), a);
	assert_null(gpuva_find_prev(vm, 25));
	/* ... or, quirk, the one starting at start. */
	assert_ptr_equal(gpuva_find_prev(vm, 30), b);
	assert_ptr_equal(gpuva_find_prev(vm, 10), a);
	assert_ptr_equal(gpuva_find_prev(vm, 90), kernel);
	/* start - 1 not a valid range. */
	assert_null(gpuva_find_prev(vm, 0));
	assert_null(gpuva_find_prev(vm, 91));
	assert_null(gpuva_find_prev(vm, 101));

	/* find_next: the VA covering end ... */
	assert_ptr_equal(gpuva_find_next(vm, 30), b);
	assert_ptr_equal(gpuva_find_next(vm, 35), b);
	assert_null(gpuva_find_next(vm, 20));
	assert_null(gpuva_find_next(vm, 40));
	/* ... or, quirk, the one starting at end + 1. */
	assert_ptr_equal(gpuva_find_next(vm, 29), b);
	assert_ptr_equal(gpuva_find_next(vm, 9), a);
	assert_ptr_equal(gpuva_find_next(vm, 89), kernel);
	/* end not a valid range. */
	assert_null(gpuva_find_next(vm, 90));
	assert_null(gpuva_find_next(vm, 99));
	assert_null(gpuva_find_next(vm, 100));

	fx_vm_destroy(fx);
}

/* The queries at the top of the 64-bit space. */
static void test_find_at_top_of_space(void **state)
{
	struct fx_vm *fx = fx_vm_create(0, 0, U64_MAX, 0, 0);
	struct gpuvm *vm = &fx->base;
	struct gpuva *top = fx_va_insert(fx, U64_MAX - 4, 4, NULL, 0);

	assert_ptr_equal(gpuva_find_first(vm, U64_MAX - 1, 1), top);
	assert_ptr_equal(gpuva_find_first(vm, 0, U64_MAX), top);
	assert_ptr_equal(gpuva_find(vm, U64_MAX - 4, 4), top);
	assert_ptr_equal(gpuva_find_next(vm, U64_MAX - 1), top);
	assert_ptr_equal(gpuva_find_next(vm, U64_MAX - 5), top);
	assert_null(gpuva_find_next(vm, U64_MAX - 6));
	assert_null(gpuva_find_next(vm, U64_MAX));
	assert_ptr_equal(gpuva_find_prev(vm, U64_MAX), top);
	assert_ptr_equal(gpuva_find_prev(vm, U64_MAX - 4), top);
	assert_null(gpuva_find_prev(vm, U64_MAX - 5));
	assert_false(gpuvm_interval_empty(vm, U64_MAX - 1, 1));
	assert_true(gpuvm_interval_empty(vm, 0, U64_MAX - 4));
	fx_vm_destroy(fx);
}

static void test_range_valid_edges(void **state)
{
	/* Window [10,100), kernel node [50,60). */
	struct fx_vm *fx = fx_vm_create(0, 10, 90, 50, 10);
	struct fx_vm *full = fx_vm_create(0, 0, U64_MAX, 0, 0);
	struct gpuvm *vm = &fx->base;

	assert_true(gpuvm_range_valid(vm, 10, 40));
	assert_true(gpuvm_range_valid(vm, 60, 40));
	assert_true(gpuvm_range_valid(vm, 49, 1));
	assert_true(gpuvm_range_valid(vm, 60, 1));
	assert_false(gpuvm_range_valid(vm, 10, 90)); /* over the node */
	assert_false(gpuvm_range_valid(vm, 49, 2));
	assert_false(gpuvm_range_valid(vm, 59, 1));
	assert_false(gpuvm_range_valid(vm, 50, 10));
	assert_false(gpuvm_range_valid(vm, 9, 1)); /* below the window */
	assert_false(gpuvm_range_valid(vm, 0, 20));
	assert_false(gpuvm_range_valid(vm, 60, 41)); /* past the end */
	assert_false(gpuvm_range_valid(vm, 100, 1));
	assert_false(gpuvm_range_valid(vm, U64_MAX, 1)); /* overflow */
	assert_false(gpuvm_range_valid(vm, 60, U64_MAX));
	/* Zero length (the check itself accepts it; requests do not). */
	assert_true(gpuvm_range_valid(vm, 10, 0));
	assert_true(gpuvm_range_valid(vm, 100, 0));
	assert_false(gpuvm_range_valid(vm, 101, 0));
	assert_false(gpuvm_range_valid(vm, 9, 0));
	assert_true(gpuvm_range_valid(vm, 50, 0)); /* at the node's start */
	assert_false(gpuvm_range_valid(vm, 55, 0)); /* inside it */
	assert_true(gpuvm_range_valid(vm, 60, 0)); /* at its end */

	assert_true(gpuvm_range_valid(&full->base, 0, U64_MAX));
	assert_true(gpuvm_range_valid(&full->base, U64_MAX - 1, 1));
	assert_true(gpuvm_range_valid(&full->base, U64_MAX, 0));
	assert_false(gpuvm_range_valid(&full->base, U64_MAX, 1));
	assert_false(gpuvm_range_valid(&full->base, 1, U64_MAX));

	fx_vm_destroy(full);
	fx_vm_destroy(fx);
}

static void test_interval_empty_edges(void **state)
{
	struct fx_vm *fx = fx_vm_create(0, 0, 100, 90, 10);
	struct gpuvm *vm = &fx->base;

	fx_insert_layout(fx, "a [10,20) @0, - [30,40) @0");
	assert_true(gpuvm_interval_empty(vm, 0, 10));
	assert_true(gpuvm_interval_empty(vm, 20, 10)); /* between them */
	assert_true(gpuvm_interval_empty(vm, 40, 50));
	assert_false(gpuvm_interval_empty(vm, 0, 11));
	assert_false(gpuvm_interval_empty(vm, 19, 1));
	assert_false(gpuvm_interval_empty(vm, 29, 2)); /* sparse VAs count */
	assert_false(gpuvm_interval_empty(vm, 0, 100));
	assert_false(gpuvm_interval_empty(vm, 40, 51)); /* the kernel node */
	assert_false(gpuvm_interval_empty(vm, 95, 1));
	/* No validation: past the window is just empty. */
	assert_true(gpuvm_interval_empty(vm, 100, 1000));
	fx_vm_destroy(fx);
}

static void test_va_iterators(void **state)
{
	struct fx_vm *fx = fx_vm_create(0, 0, 100, 90, 10);
	struct gpuvm *vm = &fx->base;
	struct gpuva *va, *next;
	uint64_t seen[8];
	unsigned int n;

	fx_insert_layout(fx, "b [30,40) @0, a [10,20) @0, c [50,60) @0");

	n = 0;
	gpuvm_for_each_va(va, vm)
		seen[n++] = va->va.addr;
	assert_int_equal(n, 4); /* the kernel node included */
	assert_int_equal(seen[0], 10);
	assert_int_equal(seen[1], 30);
	assert_int_equal(seen[2], 50);
	assert_int_equal(seen[3], 90);

	n = 0;
	gpuvm_for_each_va_range(va, vm, 15, 35)
		seen[n++] = va->va.addr;
	assert_int_equal(n, 2);
	assert_int_equal(seen[0], 10);
	assert_int_equal(seen[1], 30);

	n = 0;
	gpuvm_for_each_va_range(va, vm, 20, 30)
		n++;
	assert_int_equal(n, 0);

	n = 0;
	gpuvm_for_each_va_range(va, vm, 40, 100)
		seen[n++] = va->va.addr;
	assert_int_equal(n, 2);
	assert_int_equal(seen[0], 50);
	assert_int_equal(seen[1], 90);

	/* Removal of the current VA while walking. */
	gpuvm_for_each_va_range_safe(va, next, vm, 0, 60)
		fx_va_destroy(fx, va);
	assert_int_equal(fx_va_count(fx), 0);
	fx_insert_layout(fx, "a [10,20) @0, b [30,40) @0");
	gpuvm_for_each_va_safe(va, next, vm) {
		if (va != &vm->kernel_alloc_node)
			fx_va_destroy(fx, va);
	}
	assert_int_equal(fx_va_count(fx), 0);
	fx_vm_destroy(fx);
}

/*
 * The walks step through the VM's index (there is no rb.list): across
 * many leaves, while the body removes the current VA and puts pieces of it
 * back (the _safe rule: pieces inside the current VA are not visited, the
 * captured next one is), and while it inserts right after the current VA
 * (a plain walk visits the new VA, as the kernel's list walk would).
 */
static void test_va_iterators_many(void **state)
{
	enum { NR = 600 }; /* tens of leaves */
	struct fx_vm *fx = fx_vm_create(0, 0, 100000, 0, 0);
	struct gpuvm *vm = &fx->base;
	struct gpuvm_gem_object *obj = fx_obj(fx, 'a');
	struct gpuva *va, *next, *ins = NULL;
	uint64_t expect;
	unsigned int i, n;

	/* Inserted out of order: [10i, 10i + 5) for i = 0..NR-1. */
	for (i = 0; i < NR; i++)
		fx_va_insert(fx, (uint64_t)((i * 7) % NR) * 10, 5, obj, 0);

	n = 0;
	expect = 0;
	gpuvm_for_each_va(va, vm) {
		assert_int_equal(va->va.addr, expect);
		expect += 10;
		n++;
	}
	assert_int_equal(n, NR);

	/* Every other VA replaced by its two halves during a safe walk. */
	n = 0;
	expect = 0;
	gpuvm_for_each_va_safe(va, next, vm) {
		uint64_t addr = va->va.addr;

		assert_int_equal(addr, expect);
		expect += 10;
		n++;
		if ((addr / 10) % 2)
			continue;
		fx_va_destroy(fx, va);
		fx_va_insert(fx, addr, 2, obj, 0);
		fx_va_insert(fx, addr + 2, 3, obj, 0);
	}
	assert_int_equal(n, NR);
	assert_int_equal(fx_va_count(fx), NR + NR / 2);

	/* A plain walk visits what its body inserts after the current VA. */
	n = 0;
	gpuvm_for_each_va_range(va, vm, 0, 100) {
		if (va->va.addr == 10)
			fx_va_insert(fx, 15, 1, obj, 0);
		n++;
	}
	/* [0,2) [2,5) [10,15) [15,16) [20,22) [22,25) ... [90,95) */
	assert_int_equal(n, 16);

	/* A safe walk takes its next VA before the body runs. */
	n = 0;
	gpuvm_for_each_va_range_safe(va, next, vm, 100, 200) {
		/* Its next, [110,115), is already taken. */
		if (va->va.addr == 102)
			ins = fx_va_insert(fx, 105, 1, obj, 0);
		n++;
	}
	assert_int_equal(n, 15); /* [105,106) is not visited */
	assert_non_null(ins);
	fx_va_destroy(fx, ins);

	/* Every VA removed by a safe walk, leaf after leaf. */
	gpuvm_for_each_va_safe(va, next, vm)
		fx_va_destroy(fx, va);
	assert_int_equal(fx_va_count(fx), 0);
	assert_null(gpuvm_va_first__(vm));
	fx_vm_destroy(fx);
}

/*
 * Removing the current VA in a walk that is not _safe: the kernel would
 * follow a poisoned link; here the step is reported and ends the walk.
 */
static void test_va_iterator_removed(void **state)
{
	struct fx_vm *fx = fx_vm_create(0, 0, 100, 0, 0);
	struct gpuvm *vm = &fx->base;
	struct gpuva *va, *removed = NULL;
	unsigned int n = 0;

	fx_insert_layout(fx, "a [10,20) @0, a [30,40) @0, a [50,60) @0");
	gpuvm_for_each_va(va, vm) {
		n++;
		if (va->va.addr == 30) {
			/* Removed, not freed: the step still reads it. */
			if (va->vm_bo)
				fx_va_unlink(fx, va);
			gpuva_remove(va);
			removed = va;
		}
	}
	fx_va_free(removed);
	assert_int_equal(n, 2);
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_WALK_REMOVED),
			       "not _safe"));
	assert_int_equal(harness_take_warnings(GPUVM_RULE_WALK_REMOVED), 1);
	assert_int_equal(fx_va_count(fx), 2);
	fx_vm_destroy(fx);
}

static int vm_kref(struct fx_vm *fx)
{
	return __atomic_load_n(&fx->base.kref, __ATOMIC_RELAXED);
}

static void test_insert_remove(void **state)
{
	struct fx_vm *fx = fx_vm_create(0, 0, 100, 90, 10);
	struct gpuvm *vm = &fx->base;
	struct gpuva *va = fx_va_new(10, 10, fx_obj(fx, 'a'), 3);
	struct gpuva *other = fx_va_new(0, 0, NULL, 0);
	struct gpuva_op_map m;

	va->flags = GPUVA_USERBITS;
	assert_int_equal(vm_kref(fx), 1);
	assert_int_equal(gpuva_insert(vm, va), 0);
	assert_ptr_equal(va->vm, vm);
	assert_int_equal(vm_kref(fx), 2); /* each VA holds the VM */
	assert_int_equal(va->flags, GPUVA_USERBITS); /* untouched */
	assert_null(va->vm_bo);

	/* Overlaps are refused, touching is fine. */
	other->va.addr = 5;
	other->va.range = 6;
	assert_int_equal(gpuva_insert(vm, other), -EEXIST);
	other->va.addr = 19;
	other->va.range = 1;
	assert_int_equal(gpuva_insert(vm, other), -EEXIST);
	other->va.addr = 0;
	other->va.range = 90;
	assert_int_equal(gpuva_insert(vm, other), -EEXIST);
	other->va.addr = 12;
	other->va.range = 2;
	assert_int_equal(gpuva_insert(vm, other), -EEXIST);
	assert_null(other->vm);
	assert_int_equal(vm_kref(fx), 2);
	other->va.addr = 20;
	other->va.range = 70; /* up to the kernel node */
	assert_int_equal(gpuva_insert(vm, other), 0);
	assert_int_equal(vm_kref(fx), 3);
	fx_assert_tree(fx, "a [10,20) @3, - [20,90) @0");

	gpuva_remove(other);
	assert_ptr_equal(other->vm, vm); /* left as it was */
	assert_int_equal(vm_kref(fx), 2);
	assert_null(gpuva_find(vm, 20, 70));

	/* map: init from the op, then insert; map drops the result. */
	m.va.addr = 40;
	m.va.range = 10;
	m.gem.obj = fx_obj(fx, 'B');
	m.gem.offset = 7;
	assert_int_equal(gpuva_map_checked(vm, other, &m), 0);
	fx_assert_tree(fx, "a [10,20) @3, B [40,50) @7");
	gpuva_remove(other);
	m.va.addr = 15;
	gpuva_map(vm, other, &m); /* overlaps a: silently not inserted */
	assert_int_equal(other->va.addr, 15);
	assert_ptr_equal(other->gem.obj, fx_obj(fx, 'B'));
	assert_int_equal(gpuva_map_checked(vm, other, &m), -EEXIST);
	fx_assert_tree(fx, "a [10,20) @3");

	/* init_from_op copies the four fields and nothing else. */
	other->flags = GPUVA_SPARSE;
	m.gem.obj = NULL;
	m.gem.offset = 99;
	gpuva_init_from_op(other, &m);
	assert_int_equal(other->va.addr, 15);
	assert_int_equal(other->va.range, 10);
	assert_null(other->gem.obj);
	assert_int_equal(other->gem.offset, 99);
	assert_int_equal(other->flags, GPUVA_SPARSE);

	gpuva_invalidate(va, true);
	assert_true(gpuva_invalidated(va));
	assert_int_equal(va->flags, GPUVA_USERBITS | GPUVA_INVALIDATED);
	gpuva_invalidate(va, false);
	assert_false(gpuva_invalidated(va));
	assert_int_equal(va->flags, GPUVA_USERBITS);

	/* The kernel node cannot be removed. */
	gpuva_remove(&vm->kernel_alloc_node);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_KERNEL_NODE), 1);
	assert_ptr_equal(gpuva_find(vm, 90, 10), &vm->kernel_alloc_node);
	assert_int_equal(vm_kref(fx), 2);

	fx_va_free(other);
	fx_vm_destroy(fx); /* removes and frees va */
}

/* gpuva_unmap and gpuva_remap on their own. */
static void test_unmap_remap_helpers(void **state)
{
	struct fx_vm *fx = new_vm(&cfgs[0]);
	struct gpuva *va = fx_va_insert(fx, 0, 10, fx_obj(fx, 'a'), 100);
	struct gpuva *prev = fx_va_new(0, 0, NULL, 0);
	struct gpuva *next = fx_va_new(0, 0, NULL, 0);
	struct gpuva_op_map p = { { 0, 3 }, { 100, fx_obj(fx, 'a') } };
	struct gpuva_op_map n = { { 7, 3 }, { 107, fx_obj(fx, 'a') } };
	struct gpuva_op_unmap u = { va, false };
	struct gpuva_op_remap r = { &p, &n, &u };
	int kref = vm_kref(fx);

	gpuva_remap(prev, next, &r);
	fx_assert_tree(fx, "a [0,3) @100, a [7,10) @107");
	assert_int_equal(vm_kref(fx), kref + 1);
	fx_va_free(va);

	/* Only what the op names is used; the other VA is left alone. */
	u.va = next;
	r.prev = NULL;
	va = fx_va_new(0, 0, NULL, 0);
	n.va.addr = 8;
	n.va.range = 2;
	n.gem.offset = 108;
	gpuva_remap(NULL, va, &r);
	fx_assert_tree(fx, "a [0,3) @100, a [8,10) @108");
	fx_va_free(next);

	u.va = prev;
	gpuva_unmap(&u);
	fx_assert_tree(fx, "a [8,10) @108");
	assert_int_equal(vm_kref(fx), kref);
	fx_va_free(prev);
	fx_vm_destroy(fx);
}

static void test_link_unlink_staged(void **state)
{
	struct fx_vm *fx = new_vm(&cfgs[0]);
	struct gpuvm_gem_object *a = fx_obj(fx, 'a'), *b = fx_obj(fx, 'b');
	struct gpuva *va = fx_va_insert(fx, 0, 4, a, 0);
	struct gpuva *va2 = fx_va_insert(fx, 8, 4, a, 8);
	struct gpuva *sparse = fx_va_insert(fx, 4, 4, NULL, 0);
	struct gpuva *vb = fx_va_insert(fx, 12, 4, b, 0);
	struct gpuvm_bo *vm_bo;

	fx_gem_list_lock(fx, a);
	vm_bo = gpuvm_bo_obtain_locked(&fx->base, a);
	assert_false(gpuvm_is_err(vm_bo));
	gpuva_link(va, vm_bo);
	assert_ptr_equal(va->vm_bo, vm_bo);
	assert_int_equal(vm_bo->kref, 2);
	/* No object: nothing happens. */
	gpuva_link(sparse, vm_bo);
	assert_null(sparse->vm_bo);
	assert_int_equal(vm_bo->kref, 2);
	gpuva_unlink(sparse);
	/* A VA of another object: reported, linked all the same. */
	gpuva_link(vb, vm_bo);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LINK_OBJ), 1);
	assert_ptr_equal(vb->vm_bo, vm_bo);
	assert_int_equal(vm_bo->kref, 3);
	gpuva_unlink(vb);
	assert_null(vb->vm_bo);
	assert_int_equal(vm_bo->kref, 2);
	fx_gem_list_unlock(fx, a);

	/* Without the GEM list lock: reported, done anyway. */
	gpuva_link(va2, vm_bo);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD), 1);
	assert_int_equal(vm_bo->kref, 3);
	gpuva_unlink(va2);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD), 1);
	assert_int_equal(vm_bo->kref, 2);

	fx_gem_list_lock(fx, a);
	assert_false(gpuvm_bo_put(vm_bo)); /* the VA keeps it */
	gpuva_unlink(va); /* the last reference: the vm_bo goes */
	assert_null(va->vm_bo);
	fx_gem_list_unlock(fx, a);
	assert_null(fx_vm_bo(fx, a));
	fx_vm_destroy(fx);
}

static void test_link_unlink_immediate(void **state)
{
	struct fx_vm *fx = new_vm(&cfgs[3]);
	struct gpuvm_gem_object *a = fx_obj(fx, 'A');
	struct gpuva *va = fx_va_insert(fx, 0, 4, a, 0); /* linked */
	struct gpuvm_bo *vm_bo = va->vm_bo;
	int kref = vm_kref(fx);

	assert_non_null(vm_bo);
	assert_int_equal(vm_bo->kref, 1);
	/* The last unlink makes a zombie; cleanup destroys it. */
	gpuva_unlink_defer(va);
	assert_null(va->vm_bo);
	assert_null(fx_vm_bo(fx, a));
	assert_int_equal(vm_kref(fx), kref); /* the zombie still holds it */
	gpuvm_bo_deferred_cleanup(&fx->base);
	assert_int_equal(vm_kref(fx), kref - 1);

	/* Link again under the gpuva lock (the immediate-mode GEM list
	 * lock), to a fresh vm_bo. */
	vm_bo = gpuvm_bo_obtain_prealloc(gpuvm_bo_create(&fx->base, a));
	gpuvm_gem_gpuva_lock(a);
	gpuva_link(va, vm_bo);
	gpuvm_gem_gpuva_unlock(a);
	assert_int_equal(vm_bo->kref, 2);
	assert_false(gpuvm_bo_put_deferred(vm_bo));
	assert_ptr_equal(fx_vm_bo(fx, a), vm_bo);
	fx_vm_destroy(fx);
}

/* The index may need memory on insert: -ENOMEM leaves everything as it
 * was (a documented deviation), and a reservation makes inserts safe. */
/*
 * One remap of @old: remnants [old start, +@prev_len) (at @prev_at past the
 * start when not 0, as only a driver builds it) and [@next_at, old end),
 * a length of 0 meaning none. Return: the VM's count after it.
 */
static int remap_one(struct fx_vm *fx, struct gpuva *old, uint64_t prev_at,
		     uint64_t prev_len, uint64_t next_at)
{
	uint64_t addr = old->va.addr, end = addr + old->va.range;
	struct gpuva_op_map p = { { addr + prev_at, prev_len },
				  { old->gem.offset + prev_at, old->gem.obj } };
	struct gpuva_op_map n = { { next_at, end - next_at },
				  { old->gem.offset + (next_at - addr),
				    old->gem.obj } };
	struct gpuva_op_unmap u = { old, false };
	struct gpuva_op_remap r = { prev_len ? &p : NULL,
				    next_at < end ? &n : NULL, &u };
	struct gpuva *prev = prev_len ? fx_va_new(0, 0, NULL, 0) : NULL;
	struct gpuva *next = next_at < end ? fx_va_new(0, 0, NULL, 0) : NULL;

	gpuva_remap(prev, next, &r);
	if (old != prev)
		fx_va_free(old);
	/* A remnant whose insert failed is the caller's to free. */
	if (prev && !prev->vm)
		fx_va_free(prev);
	if (next && !next->vm)
		fx_va_free(next);
	return vm_kref(fx);
}

/*
 * gpuva_remap()'s VM references. With the checker off it passes the old
 * VA's reference on to a remnant instead of dropping and retaking it; the
 * counts must be the checked path's: one per VA, after every shape of
 * remap and after a remnant whose insert failed.
 */
static void remap_references(bool checker)
{
	struct fx_vm *fx;
	struct gpuva *va;
	char before[FX_TEXT_MAX];
	unsigned int i, failed = 0;
	int base;
	long live;

	gpuvm_debug_enable(checker);
	fx = fx_vm_create(0, 0, 1 << 20, 0, 0);
	base = vm_kref(fx);

	va = fx_va_insert(fx, 0, 10, fx_obj(fx, 'a'), 100);
	assert_int_equal(remap_one(fx, va, 0, 3, 7), base + 2); /* both */
	fx_assert_tree(fx, "a [0,3) @100, a [7,10) @107");
	va = gpuva_find(&fx->base, 0, 3);
	assert_int_equal(remap_one(fx, va, 0, 1, 3), base + 2); /* prev */
	va = gpuva_find(&fx->base, 7, 3);
	assert_int_equal(remap_one(fx, va, 0, 0, 8), base + 2); /* next */
	fx_assert_tree(fx, "a [0,1) @100, a [8,10) @108");
	/* A prev that does not start where the old VA did takes the old
	 * reference through a plain insert, then next takes its own. */
	va = fx_va_insert(fx, 20, 10, fx_obj(fx, 'a'), 200);
	assert_int_equal(remap_one(fx, va, 2, 3, 28), base + 4);
	fx_assert_tree(fx, "a [0,1) @100, a [8,10) @108, a [22,25) @202, "
			   "a [28,30) @208");
	fx_clear(fx);
	assert_int_equal(vm_kref(fx), base);

	/* Split VAs until a next remnant needs a node that cannot be had:
	 * it is not inserted, and the VM holds one reference per VA. */
	for (i = 0; i < 256; i++)
		fx_va_insert(fx, i * 16, 8, fx_obj(fx, 'a'), i);
	for (i = 0; i < 256 && !failed; i++) {
		va = gpuva_find(&fx->base, i * 16, 8);
		fx_tree_format(fx, before, sizeof(before));
		live = gpuvm_alloc_live();
		gpuvm_alloc_fail_nth(1);
		if (remap_one(fx, va, 0, 2, i * 16 + 5) ==
		    base + 256 + (int)i + 1) {
			assert_false(gpuvm_alloc_fault_fired());
			continue;
		}
		assert_true(gpuvm_alloc_fault_fired());
		assert_int_equal(vm_kref(fx), base + 256 + (int)i);
		assert_int_equal(fx_va_count(fx), 256 + i);
		assert_null(gpuva_find_first(&fx->base, i * 16 + 5, 3));
		assert_non_null(gpuva_find(&fx->base, i * 16, 2));
		assert_int_equal(gpuvm_alloc_live(), live);
		failed++;
	}
	gpuvm_alloc_fail_nth(0);
	assert_int_equal(failed, 1);
	fx_vm_destroy(fx);
	gpuvm_debug_enable(true);
}

static void test_remap_references(void **state)
{
	remap_references(true);
}

static void test_remap_references_checker_off(void **state)
{
	remap_references(false);
}

static void test_insert_enomem(void **state)
{
	struct fx_vm *fx = fx_vm_create(0, 0, 1 << 20, 0, 0);
	struct gpuvm *vm = &fx->base;
	char before[FX_TEXT_MAX];
	unsigned int i, failed = 0;
	int ret, kref;
	long live;

	for (i = 0; i < 512; i++) {
		struct gpuva *va = fx_va_new(i * 4, 2, fx_obj(fx, 'a'), i);

		fx_tree_format(fx, before, sizeof(before));
		kref = vm_kref(fx);
		live = gpuvm_alloc_live();
		gpuvm_alloc_fail_nth(1);
		ret = gpuva_insert(vm, va);
		if (gpuvm_alloc_fault_fired()) {
			assert_int_equal(ret, -ENOMEM);
			assert_null(va->vm);
			assert_int_equal(vm_kref(fx), kref);
			assert_int_equal(gpuvm_alloc_live(), live);
			assert_null(gpuva_find_first(vm, i * 4, 2));
			fx_assert_tree(fx, before);
			failed++;
			gpuvm_alloc_fail_nth(0);
			ret = gpuva_insert(vm, va);
		}
		gpuvm_alloc_fail_nth(0);
		assert_int_equal(ret, 0);
	}
	/* 512 VAs cannot fit in one index node. */
	assert_true(failed > 0);
	fx_vm_destroy(fx);
}

/* After gpuvm_va_reserve(n), n inserts allocate nothing. */
static void test_reserve_makes_insert_safe(void **state)
{
	struct fx_vm *fx = fx_vm_create(0, 0, 1 << 20, 0, 0);
	struct gpuvm *vm = &fx->base;
	unsigned int i;

	fx_insert_layout(fx, "a [0,1) @0");
	assert_int_equal(gpuvm_va_reserve(vm, 512), 0);
	for (i = 0; i < 512; i++) {
		struct gpuva *va = fx_va_new(2048 + i * 4, 2, NULL, 0);

		gpuvm_alloc_fail_nth(1);
		assert_int_equal(gpuva_insert(vm, va), 0);
		assert_false(gpuvm_alloc_fault_fired());
	}
	gpuvm_alloc_fail_nth(0);
	assert_int_equal(fx_va_count(fx), 513);
	fx_vm_destroy(fx);
}

static int reserve_op(void *arg)
{
	return gpuvm_va_reserve(arg, 300);
}

static long reserve_live;

static void reserve_check(void *arg, unsigned long n, int ret)
{
	assert_int_equal(ret, -ENOMEM);
	assert_int_equal(gpuvm_alloc_live(), reserve_live);
}

static void test_reserve_fault_sweep(void **state)
{
	struct fx_vm *fx = fx_vm_create(0, 0, 1 << 20, 0, 0);

	fx_insert_layout(fx, "a [0,1) @0, a [2,3) @0, a [4,5) @0");
	reserve_live = gpuvm_alloc_live();
	assert_true(gpuvm_alloc_fault_sweep(reserve_op, reserve_check,
					    &fx->base, 0) >= 0);
	fx_vm_destroy(fx); /* frees what was set aside */
}

/* ---- allocation-failure sweeps ----------------------------------------- */

enum sweep_kind { SW_MAP, SW_MADVISE, SW_UNMAP, SW_PREFETCH, SW_BO_UNMAP };

struct sweep {
	struct fx_vm *fx;
	enum sweep_kind kind;
	char obj;
	uint64_t start, end, offset;
	const char *expected;
	struct gpuvm_bo *vm_bo; /* SW_BO_UNMAP */
	char before[FX_TEXT_MAX];
	long live_before;
	unsigned int failures;
};

static struct gpuva_ops *sweep_create(struct sweep *s)
{
	struct gpuvm *vm = &s->fx->base;
	struct gpuvm_map_req req;

	switch (s->kind) {
	case SW_MAP:
		req = make_req(s->fx, s->obj, s->start, s->end, s->offset);
		return gpuvm_sm_map_ops_create(vm, &req);
	case SW_MADVISE:
		req = make_req(s->fx, s->obj, s->start, s->end, s->offset);
		return gpuvm_madvise_ops_create(vm, &req);
	case SW_UNMAP:
		return gpuvm_sm_unmap_ops_create(vm, s->start,
						 s->end - s->start);
	case SW_PREFETCH:
		return gpuvm_prefetch_ops_create(vm, s->start,
						 s->end - s->start);
	default:
		/* The GEM list lock is held around the whole sweep. */
		return gpuvm_bo_unmap_ops_create(s->vm_bo);
	}
}

static int sweep_run(void *arg)
{
	struct sweep *s = arg;
	struct gpuva_ops *ops;

	s->live_before = gpuvm_alloc_live();
	ops = sweep_create(s);
	if (gpuvm_is_err(ops))
		return (int)gpuvm_ptr_err(ops);
	assert_non_null(ops);
	if (!gpuvm_alloc_fault_fired())
		fx_assert_ops(s->fx, ops, s->expected);
	gpuva_ops_free(&s->fx->base, ops);
	return 0;
}

static void sweep_check(void *arg, unsigned long n, int ret)
{
	struct sweep *s = arg;
	char now[FX_TEXT_MAX];

	if (ret != -ENOMEM)
		fail_msg("allocation %lu failed: got %d, not -ENOMEM", n, ret);
	assert_int_equal(gpuvm_alloc_live(), s->live_before);
	fx_tree_format(s->fx, now, sizeof(now));
	assert_string_equal(now, s->before);
	assert_int_equal(fx_op_allocs, fx_op_frees);
	s->failures++;
}

static void run_sweep(const struct vm_cfg *cfg, bool counted,
		      enum sweep_kind kind, const char *layout, char obj,
		      uint64_t start, uint64_t end, uint64_t offset,
		      const char *expected, int points)
{
	static struct sweep s;
	struct gpuvm_gem_object *locked = NULL;
	int ret;

	memset(&s, 0, sizeof(s));
	s.fx = new_vm(cfg);
	s.kind = kind;
	s.obj = obj;
	s.start = start;
	s.end = end;
	s.offset = offset;
	s.expected = expected;
	fx_context("sweep %d '%s' %s%s", (int)kind, layout, cfg->name,
		   counted ? " counted" : "");
	fx_insert_layout(s.fx, layout);
	fx_tree_format(s.fx, s.before, sizeof(s.before));
	if (counted)
		fx_use_counted_ops(s.fx);
	else
		fx_op_allocs = fx_op_frees = 0;
	if (kind == SW_BO_UNMAP) {
		/* Look the vm_bo up before taking the lock for good. */
		s.vm_bo = fx_vm_bo(s.fx, fx_obj(s.fx, obj));
		assert_non_null(s.vm_bo);
		locked = fx_obj(s.fx, obj);
		fx_gem_list_lock(s.fx, locked);
	}
	ret = gpuvm_alloc_fault_sweep(sweep_run, sweep_check, &s, 0);
	if (locked)
		fx_gem_list_unlock(s.fx, locked);
	assert_int_equal(ret, points);
	assert_int_equal(s.failures, points);
	assert_int_equal(fx_op_allocs, fx_op_frees);
	fx_assert_tree(s.fx, s.before);
	fx_vm_destroy(s.fx);
	fx_context("%s", "");
}

/*
 * Allocation points of a list: the container, one per op, and for a
 * REMAP one more for its unmap part and one per remnant.
 */
static void run_sweeps(const struct vm_cfg *cfg, bool counted)
{
	/* Several ops, a REMAP at each end. */
	run_sweep(cfg, counted, SW_MAP, "a [0,4) @0, b [4,6) @10, c [6,10) @20",
		  'd', 2, 8, 100,
		  "REMAP a [0,4) @0 keep=0 prev=a [0,2) @0 next=-; "
		  "UNMAP b [4,6) @10 keep=0; "
		  "REMAP c [6,10) @20 keep=0 prev=- next=c [8,10) @22; "
		  "MAP d [2,8) @100",
		  9);
	/* A REMAP with both remnants (it can only come with the MAP). */
	run_sweep(cfg, counted, SW_MAP, "a [0,3) @5", 'b', 1, 2, 9,
		  "REMAP a [0,3) @5 keep=0 prev=a [0,1) @5 next=a [2,3) @7; "
		  "MAP b [1,2) @9",
		  6);
	run_sweep(cfg, counted, SW_MADVISE,
		  "- [0,4) @0, - [4,6) @0, - [6,10) @0", '-', 2, 8, 0,
		  "REMAP - [0,4) @0 keep=0 prev=- [0,2) @0 next=-; "
		  "MAP - [2,4) @0; "
		  "REMAP - [6,10) @0 keep=0 prev=- next=- [8,10) @2; "
		  "MAP - [6,8) @0",
		  9);
	run_sweep(cfg, counted, SW_MADVISE, "- [0,10) @0", 'a', 3, 6, 0,
		  "REMAP - [0,10) @0 keep=0 prev=- [0,3) @0 next=- [6,10) @6; "
		  "MAP a [3,6) @0",
		  6);
	run_sweep(cfg, counted, SW_UNMAP,
		  "a [0,4) @0, b [4,6) @10, c [6,10) @20", 0, 2, 8, 0,
		  "REMAP a [0,4) @0 keep=0 prev=a [0,2) @0 next=-; "
		  "UNMAP b [4,6) @10 keep=0; "
		  "REMAP c [6,10) @20 keep=0 prev=- next=c [8,10) @22",
		  8);
	run_sweep(cfg, counted, SW_UNMAP, "a [0,4) @0, b [4,8) @0", 0, 1, 3, 0,
		  "REMAP a [0,4) @0 keep=0 prev=a [0,1) @0 next=a [3,4) @3", 5);
	run_sweep(cfg, counted, SW_PREFETCH,
		  "a [0,4) @0, - [4,6) @10, c [6,10) @20", 0, 0, 1024, 0,
		  "PREFETCH a [0,4) @0; PREFETCH - [4,6) @10; "
		  "PREFETCH c [6,10) @20; PREFETCH - [1008,1024) @0",
		  5);
	if (cfg->link)
		run_sweep(cfg, counted, SW_BO_UNMAP,
			  "a [8,10) @8, a [0,2) @0, b [4,6) @0, a [20,22) @20",
			  'a', 0, 0, 0,
			  "UNMAP a [8,10) @8 keep=0; UNMAP a [0,2) @0 keep=0; "
			  "UNMAP a [20,22) @20 keep=0",
			  4);
}

static void test_fault_sweeps(void **state)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cfgs); i++) {
		run_sweeps(&cfgs[i], false);
		run_sweeps(&cfgs[i], true);
	}
}

/* ---- a VM whose vm_free ran ---------------------------------------- */

struct freed_vm {
	struct gpuvm base;
	struct gpuvm_ops ops;
	unsigned int frees;
};

static void freed_vm_free(struct gpuvm *gpuvm)
{
	struct freed_vm *p = gpuvm_container_of(gpuvm, struct freed_vm, base);

	p->frees++;
}

static int freed_vm_step(struct gpuva_op *op, void *priv)
{
	(void)op;
	(void)priv;
	return 0;
}

/*
 * Every split/merge entry point that takes a VM recognises one whose
 * vm_free ran (the library poisons its own fields of the VM with the
 * checker on, vm.h): reported as GPUVM_RULE_USE_AFTER_FREE, -EINVAL,
 * nothing locked, walked or allocated.
 */
static void test_freed_vm_refused(void **state)
{
	struct gpuvm_gem_object *r_obj = gpuvm_resv_object_alloc();
	struct gpuvm_gem_object *a = gpuvm_resv_object_alloc();
	struct gpuvm_map_req req;
	struct gpuvm_exec exec;
	struct freed_vm p;
	int ret;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.ops.vm_free = freed_vm_free;
	p.ops.sm_step_map = freed_vm_step;
	p.ops.sm_step_remap = freed_vm_step;
	p.ops.sm_step_unmap = freed_vm_step;
	gpuvm_init(&p.base, "freed", GPUVM_IMMEDIATE_MODE, r_obj, 0, 1 << 20, 0,
		   0, &p.ops);
	gpuvm_gem_object_put(r_obj);
	gpuvm_put(&p.base);
	assert_int_equal(p.frees, 1);
	if (!gpuvm_debug_enabled()) {
		gpuvm_gem_object_put(a);
		return; /* nothing to observe without poisoning */
	}

	memset(&req, 0, sizeof(req));
	req.map.va.addr = 0;
	req.map.va.range = 4096;
	req.map.gem.obj = a;

	assert_int_equal(gpuvm_sm_map(&p.base, NULL, &req), -EINVAL);
	assert_int_equal(gpuvm_sm_unmap(&p.base, NULL, 0, 4096), -EINVAL);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_USE_AFTER_FREE), 2);

	gpuvm_exec_init(&exec, GPUVM_EXEC_IGNORE_DUPLICATES, 0);
	gpuvm_exec_until_all_locked(&exec) {
		ret = gpuvm_sm_map_exec_lock(&p.base, &exec, 1, &req);
		gpuvm_exec_retry_on_contention(&exec);
	}
	assert_int_equal(ret, -EINVAL);
	/* The request's object was not prepared either. */
	assert_int_equal(exec.num_objects, 0);
	assert_false(gpuvm_dma_resv_is_locked(a->resv));
	gpuvm_exec_fini(&exec);
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_USE_AFTER_FREE),
			       "gpuvm_sm_map_exec_lock"));

	gpuvm_exec_init(&exec, GPUVM_EXEC_IGNORE_DUPLICATES, 0);
	gpuvm_exec_until_all_locked(&exec) {
		ret = gpuvm_sm_unmap_exec_lock(&p.base, &exec, 0, 4096);
		gpuvm_exec_retry_on_contention(&exec);
	}
	assert_int_equal(ret, -EINVAL);
	assert_int_equal(exec.num_objects, 0);
	gpuvm_exec_fini(&exec);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_USE_AFTER_FREE), 2);

	assert_int_equal(gpuvm_ptr_err(gpuvm_sm_map_ops_create(&p.base, &req)),
			 -EINVAL);
	assert_non_null(strstr(harness_last_warning(GPUVM_RULE_USE_AFTER_FREE),
			       "gpuvm_sm_map_ops_create"));
	assert_int_equal(gpuvm_ptr_err(gpuvm_madvise_ops_create(&p.base, &req)),
			 -EINVAL);
	assert_int_equal(
		gpuvm_ptr_err(gpuvm_sm_unmap_ops_create(&p.base, 0, 4096)),
		-EINVAL);
	assert_int_equal(
		gpuvm_ptr_err(gpuvm_prefetch_ops_create(&p.base, 0, 4096)),
		-EINVAL);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_USE_AFTER_FREE), 4);
	assert_int_equal(harness_warnings(NULL), 0);
	assert_int_equal(p.frees, 1);
	gpuvm_gem_object_put(a);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_map_documented_examples),
		harness_test(test_map_derived_cases),
		harness_test(test_map_identical_replaces_va),
		harness_test(test_unmap_cases),
		harness_test(test_unmap_without_map_callback),
		harness_test(test_madvise_cases),
		harness_test(test_prefetch),
		harness_test(test_bo_unmap_link_order),
		harness_test(test_bo_unmap_empty),
		harness_test(test_bo_unmap_without_lock_warns),
		harness_test(test_remap_to_unmap_range),
		harness_test(test_invalid_requests),
		harness_test(test_zero_range_refused),
		harness_test(test_missing_callbacks),
		harness_test(test_callback_error_stops_walk),
		harness_test(test_unmap_callback_error),
		harness_test(test_driver_op_alloc_used),
		harness_test(test_op_alloc_without_op_free),
		harness_test(test_op_iterators),
		harness_test(test_find_quirks),
		harness_test(test_find_at_top_of_space),
		harness_test(test_range_valid_edges),
		harness_test(test_interval_empty_edges),
		harness_test(test_va_iterators),
		harness_test(test_va_iterators_many),
		harness_test(test_va_iterator_removed),
		harness_test(test_insert_remove),
		harness_test(test_unmap_remap_helpers),
		harness_test(test_remap_references),
		harness_test(test_remap_references_checker_off),
		harness_test(test_link_unlink_staged),
		harness_test(test_link_unlink_immediate),
		harness_test(test_insert_enomem),
		harness_test(test_reserve_fault_sweep),
		harness_test(test_fault_sweeps),
		harness_test(test_reserve_makes_insert_safe),
		harness_test(test_freed_vm_refused),
	};

	return harness_run("gpuvm/sm", tests, argc, argv);
}
