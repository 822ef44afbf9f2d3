// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the VM API (VAs, vm_bos, extobj/evict lists, deferred
 * cleanup, validation) driven by the input, checked against a model after
 * every step.
 *
 * Input layout (missing bytes read as zero):
 *   byte 0       bit 0: immediate mode (all VMs), bit 1: three VMs, else two,
 *                bit 2: the debug checker off (the library's lean paths:
 *                the model's checks are the same, only misuse reports go)
 *   1 per VM     bit 0: GPUVM_RESV_PROTECTED, bits 1-2: where the window
 *                starts (0, 1 MiB, just below 4 GiB, at the top of the
 *                address space), bits 3-5: the kernel-reserved region
 *   1 byte       number of GEM objects (2..6)
 *   1 per object who owns its resv: a VM (private to it, sharing the VM's
 *                resv), itself (external) or the previous external object
 *                (external, sharing a resv as imports from one exporter do)
 *   then ops     an opcode byte and its argument bytes, at most MAX_OPS.
 *
 * Ops: map (split/merge ops list applied like tools/replay/driver.c, or
 * the gpuvm_sm_map() callback form applying each step during the walk;
 * immediate mode can apply either inside a fence signalling section with
 * gpuva_unlink_defer() and gpuvm_bo_put_deferred(), as panthor does),
 * fill (a batch of small maps, past what one index node holds), unmap
 * (the same two forms), madvise, prefetch, obtain (a held vm_bo
 * reference), put, put_deferred, deferred cleanup, evict/unevict an
 * object, validate a VM, bo_unmap (staged mode), close a VM, and
 * fail_nth: arm one allocation failure for the next op, or sweep it (run
 * it with its 1st, 2nd, ... allocation failing, as
 * gpuvm_alloc_fault_sweep() does). A failed op must return -ENOMEM (the
 * fault fired) or -EINVAL (the model says the range is invalid) and
 * change nothing.
 *
 * The model keeps, per VM, a page array of the window (unmapped, sparse,
 * object + offset, kernel node; and where each VA starts), per (VM, object)
 * the evicted flag and the expected evict-list membership, the vm_bo
 * references the harness holds and the zombies awaiting cleanup. After
 * every op the library's state is compared with it: the VA walk, every
 * vm_bo (uniqueness, count, linked VAs, evicted, extobj and evict list
 * membership), the VM's lists and its deferred stack, and the VM, object
 * and r_obj reference counts. Any library warning aborts, and at the end
 * of an input everything is torn down and no allocation may be left.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gpuvm/alloc.h>
#include <gpuvm/debug.h>
#include <gpuvm/dma_resv.h>
#include <gpuvm/err.h>
#include <gpuvm/exec.h>
#include <gpuvm/gem.h>
#include <gpuvm/ops.h>
#include <gpuvm/testing.h>
#include <gpuvm/va.h>
#include <gpuvm/vm.h>
#include <gpuvm/ww_mutex.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PAGE 4096ull
#define NPAGES 64 /* the window of every VM, in pages */
#define SPAN 72 /* requests may reach this far: beyond the window */
#define OBJ_PAGES 32
#define MAX_VM 3
#define MAX_OBJ 6
#define MAX_HELD 16
#define MAX_OPS 200
#define MAX_FAIL_NTH 24
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The model and the checks are not what the fuzzer should explore: no
 * coverage feedback (and no comparison tracing, most of the run time)
 * from them.
 */
#if defined(__clang__) && __clang_major__ >= 13
#define NOCOV __attribute__((no_sanitize("coverage")))
#else
#define NOCOV
#endif

/* ---- failure reporting -------------------------------------------------- */

static struct {
	unsigned int opno;
	const char *opname;
	bool trace; /* FUZZ_API_TRACE=1: print every op and its result */
} where;

static void fail(const char *invariant, const char *fmt, ...)
	GPUVM_PRINTF(2, 3);

static void fail(const char *invariant, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr,
		"fuzz_api: op #%u (%s): invariant '%s' broken: ", where.opno,
		where.opname ? where.opname : "setup", invariant);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

#define CHECK(cond, invariant, ...)                     \
	do {                                            \
		if (!(cond))                            \
			fail((invariant), __VA_ARGS__); \
	} while (0)

static void on_warning(const char *rule, const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "fuzz_api: op #%u (%s): libgpuvm WARNING [%s] %s\n",
		where.opno, where.opname ? where.opname : "setup", rule, msg);
	abort();
}

/* ---- the model ---------------------------------------------------------- */

enum pg_kind { PG_NONE, PG_SPARSE, PG_OBJ, PG_KERNEL };

struct m_page {
	uint8_t kind; /* enum pg_kind */
	uint8_t obj; /* PG_OBJ */
	bool head; /* a VA starts here (mapped pages only) */
	uint64_t off; /* PG_OBJ: object offset of this page */
};

/* A (VM, object) pair; its vm_bo is live while referenced (see live()). */
struct m_bo {
	bool evicted;
	bool on_evict;
};

struct m_vm {
	bool open;
	bool prot;
	uint64_t base;
	struct m_page pg[NPAGES];
	struct m_bo bo[MAX_OBJ];
	/* Zombies awaiting cleanup, and of those the ones on the evict list
	 * (they stay on the VM's lists with GPUVM_RESV_PROTECTED). */
	unsigned int zombies[MAX_OBJ];
	unsigned int zombies_evict[MAX_OBJ];
};

struct m_held {
	unsigned int vm, obj;
	struct gpuvm_bo *vm_bo;
};

struct model {
	struct m_vm vm[MAX_VM];
	struct m_held held[MAX_HELD];
	unsigned int nheld;
};

/* ---- the harness's driver structures ------------------------------------ */

struct fz_vm {
	struct gpuvm gpuvm;
	unsigned int idx;
};

struct fz_obj {
	struct gpuvm_gem_object base;
	unsigned int idx;
};

struct fz_va {
	struct gpuva va;
};

static struct {
	bool immediate;
	unsigned int nvm, nobj;
	struct fz_vm *vm[MAX_VM]; /* NULL once closed */
	struct gpuvm_gem_object *r_obj[MAX_VM]; /* held until the end */
	struct gpuvm_gem_object *obj[MAX_OBJ];
	bool vm_freed[MAX_VM];
	bool obj_freed[MAX_OBJ];
	/* validate callback bookkeeping */
	struct gpuvm *validating;
	unsigned int validated;
	struct model m;
} g;

static struct gpuvm *VM(unsigned int v)
{
	return &g.vm[v]->gpuvm;
}

NOCOV static int obj_index(struct gpuvm_gem_object *obj)
{
	unsigned int o;

	for (o = 0; o < g.nobj; o++)
		if (g.obj[o] == obj)
			return (int)o;
	return -1;
}

NOCOV static bool is_ext(unsigned int v, unsigned int o)
{
	return g.obj[o]->resv != g.r_obj[v]->resv;
}

NOCOV static int kref_read(const int *kref)
{
	return __atomic_load_n(kref, __ATOMIC_RELAXED);
}

/* ---- callbacks ---------------------------------------------------------- */

static void obj_free(struct gpuvm_gem_object *obj)
{
	struct fz_obj *fo = gpuvm_container_of(obj, struct fz_obj, base);

	g.obj_freed[fo->idx] = true;
	gpuvm_kfree(fo);
}

static const struct gpuvm_gem_object_funcs obj_funcs = {
	.free = obj_free,
};

static void vm_free(struct gpuvm *gpuvm)
{
	struct fz_vm *vm = gpuvm_container_of(gpuvm, struct fz_vm, gpuvm);

	CHECK(!g.vm_freed[vm->idx], "vm-free-once", "VM %u freed twice",
	      vm->idx);
	g.vm_freed[vm->idx] = true;
	gpuvm_kfree(vm);
}

static void vm_bo_free(struct gpuvm_bo *vm_bo)
{
	/* Both references are still held while the callback runs. */
	CHECK(kref_read(&vm_bo->vm->kref) > 0, "vm-bo-free-refs",
	      "vm_bo_free: its VM has no reference left");
	CHECK(gpuvm_gem_object_refcount(vm_bo->obj) > 0, "vm-bo-free-refs",
	      "vm_bo_free: its object has no reference left");
	CHECK(kref_read(&vm_bo->kref) == 0, "vm-bo-free-refs",
	      "vm_bo_free: count %d", kref_read(&vm_bo->kref));
	gpuvm_kfree(vm_bo);
}

static int vm_bo_validate(struct gpuvm_bo *vm_bo, struct gpuvm_exec *exec)
{
	(void)exec;
	CHECK(vm_bo->vm == g.validating, "validate-vm",
	      "validate callback for a vm_bo of another VM");
	CHECK(kref_read(&vm_bo->kref) > 0, "validate-zombie",
	      "validate callback for a zombie");
	CHECK(gpuvm_dma_resv_held(vm_bo->obj->resv), "validate-locked",
	      "validate callback without the object's resv held");
	gpuvm_bo_evict(vm_bo, false);
	g.validated++;
	return 0;
}

static int walk_step(struct gpuva_op *op, void *priv);

static const struct gpuvm_ops vm_ops = {
	.vm_free = vm_free,
	.vm_bo_free = vm_bo_free,
	.vm_bo_validate = vm_bo_validate,
	.sm_step_map = walk_step,
	.sm_step_remap = walk_step,
	.sm_step_unmap = walk_step,
};

/* ---- model helpers ------------------------------------------------------ */

NOCOV static unsigned int held_count(const struct model *m, unsigned int v,
				     unsigned int o)
{
	unsigned int i, n = 0;

	for (i = 0; i < m->nheld; i++)
		n += m->held[i].vm == v && m->held[i].obj == o;
	return n;
}

NOCOV static unsigned int va_count(const struct m_vm *mv, unsigned int o)
{
	unsigned int p, n = 0;

	for (p = 0; p < NPAGES; p++)
		n += mv->pg[p].head && mv->pg[p].kind == PG_OBJ &&
		     mv->pg[p].obj == o;
	return n;
}

NOCOV static bool live(const struct model *m, unsigned int v, unsigned int o)
{
	return m->vm[v].open && (held_count(m, v, o) || va_count(&m->vm[v], o));
}

/* The counts of the current model, computed once per check_all(). */
static struct {
	unsigned int vas[MAX_VM][MAX_OBJ], held[MAX_VM][MAX_OBJ];
	bool live[MAX_VM][MAX_OBJ];
} cur;

NOCOV static void cur_compute(void)
{
	unsigned int v, o, p, i;

	memset(&cur, 0, sizeof(cur));
	for (v = 0; v < g.nvm; v++)
		for (p = 0; p < NPAGES; p++)
			if (g.m.vm[v].pg[p].head &&
			    g.m.vm[v].pg[p].kind == PG_OBJ)
				cur.vas[v][g.m.vm[v].pg[p].obj]++;
	for (i = 0; i < g.m.nheld; i++)
		cur.held[g.m.held[i].vm][g.m.held[i].obj]++;
	for (v = 0; v < g.nvm; v++)
		for (o = 0; o < g.nobj; o++)
			cur.live[v][o] = g.m.vm[v].open &&
					 (cur.vas[v][o] || cur.held[v][o]);
}

/* Whether [s, s + n) pages is a valid request range of VM @v. */
NOCOV static bool range_ok(unsigned int v, unsigned int s, unsigned int n)
{
	unsigned int p;

	if (s + n > NPAGES)
		return false;
	for (p = s; p < s + n; p++)
		if (g.m.vm[v].pg[p].kind == PG_KERNEL)
			return false;
	return true;
}

NOCOV static void model_map(struct m_vm *mv, unsigned int s, unsigned int n,
			    int obj, uint64_t off)
{
	unsigned int p;

	for (p = s; p < s + n; p++) {
		mv->pg[p].kind = obj < 0 ? PG_SPARSE : PG_OBJ;
		mv->pg[p].obj = obj < 0 ? 0 : (uint8_t)obj;
		mv->pg[p].head = p == s;
		mv->pg[p].off = obj < 0 ? 0 : off + (p - s) * PAGE;
	}
	/* What was cut off behind the request is a remnant of its own. */
	if (s + n < NPAGES && mv->pg[s + n].kind != PG_NONE)
		mv->pg[s + n].head = true;
}

NOCOV static void model_unmap(struct m_vm *mv, unsigned int s, unsigned int n)
{
	unsigned int p;

	for (p = s; p < s + n; p++)
		memset(&mv->pg[p], 0, sizeof(mv->pg[p]));
	if (s + n < NPAGES && mv->pg[s + n].kind != PG_NONE)
		mv->pg[s + n].head = true;
}

/* madvise splits sparse VAs at the request's edges, nothing else. */
NOCOV static void model_madvise(struct m_vm *mv, unsigned int s, unsigned int n)
{
	if (mv->pg[s].kind == PG_SPARSE)
		mv->pg[s].head = true;
	if (s + n < NPAGES && mv->pg[s + n].kind == PG_SPARSE)
		mv->pg[s + n].head = true;
}

/*
 * After a successful op on VM @v: vm_bos that lost their last reference
 * were destroyed, or became zombies when that reference went through the
 * deferred path (@deferred).
 */
NOCOV static void model_settle(const struct model *before, unsigned int v,
			       bool deferred)
{
	struct m_vm *mv = &g.m.vm[v];
	unsigned int o;

	for (o = 0; o < g.nobj; o++) {
		if (!live(before, v, o) || live(&g.m, v, o))
			continue;
		if (deferred) {
			mv->zombies[o]++;
			if (mv->prot && before->vm[v].bo[o].on_evict)
				mv->zombies_evict[o]++;
		}
		memset(&mv->bo[o], 0, sizeof(mv->bo[o]));
	}
}

/* ---- checking the library against the model ---------------------------- */

NOCOV static void check_vas(unsigned int v)
{
	struct gpuvm *gpuvm = VM(v);
	struct m_vm *mv = &g.m.vm[v];
	struct m_page pg[NPAGES];
	uint64_t end = 0;
	unsigned int p, nva = 0;
	bool kernel_seen = false;
	struct gpuva *va;

	memset(pg, 0, sizeof(pg));
	gpuvm_for_each_va(va, gpuvm) {
		uint64_t s, n;
		int o = -1;

		CHECK(va->va.addr >= end, "va-order",
		      "VA at 0x%llx after one ending at 0x%llx",
		      (unsigned long long)va->va.addr, (unsigned long long)end);
		end = va->va.addr + va->va.range;
		CHECK(va->va.addr >= mv->base &&
			      va->va.addr - mv->base <= NPAGES * PAGE &&
			      va->va.range &&
			      va->va.range <=
				      NPAGES * PAGE - (va->va.addr - mv->base),
		      "va-window", "VA [0x%llx, +0x%llx) outside the window",
		      (unsigned long long)va->va.addr,
		      (unsigned long long)va->va.range);
		CHECK(!((va->va.addr - mv->base) % PAGE) &&
			      !(va->va.range % PAGE),
		      "va-window", "VA [0x%llx, +0x%llx) not page aligned",
		      (unsigned long long)va->va.addr,
		      (unsigned long long)va->va.range);
		CHECK(va->vm == gpuvm, "va-vm", "VA of another VM in the walk");
		s = (va->va.addr - mv->base) / PAGE;
		n = va->va.range / PAGE;
		if (va == &gpuvm->kernel_alloc_node) {
			kernel_seen = true;
			for (p = (unsigned int)s; p < s + n; p++) {
				pg[p].kind = PG_KERNEL;
				pg[p].head = p == s;
			}
			continue;
		}
		nva++;
		if (va->gem.obj) {
			o = obj_index(va->gem.obj);
			CHECK(o >= 0, "va-obj", "VA maps an unknown object");
			CHECK(va->vm_bo && va->vm_bo->obj == va->gem.obj &&
				      va->vm_bo->vm == gpuvm,
			      "va-link",
			      "VA at page %llu is not linked to its vm_bo",
			      (unsigned long long)s);
			CHECK(kref_read(&va->vm_bo->kref) > 0, "va-link",
			      "VA at page %llu linked to a zombie",
			      (unsigned long long)s);
		} else {
			CHECK(!va->vm_bo, "va-link",
			      "sparse VA at page %llu has a vm_bo",
			      (unsigned long long)s);
		}
		for (p = (unsigned int)s; p < s + n; p++) {
			pg[p].kind = o < 0 ? PG_SPARSE : PG_OBJ;
			pg[p].obj = o < 0 ? 0 : (uint8_t)o;
			pg[p].head = p == s;
			pg[p].off = o < 0 ? 0 : va->gem.offset + (p - s) * PAGE;
		}
	}
	CHECK(kernel_seen == (gpuvm->kernel_alloc_node.va.range != 0),
	      "kernel-node", "kernel node %s the VA walk",
	      kernel_seen ? "unexpectedly in" : "missing from");
	for (p = 0; p < NPAGES; p++) {
		const struct m_page *a = &pg[p], *e = &mv->pg[p];

		CHECK(a->kind == e->kind && a->head == e->head &&
			      (a->kind != PG_OBJ ||
			       (a->obj == e->obj && a->off == e->off)),
		      "page-model",
		      "VM %u page %u: library kind %d obj %d head %d off "
		      "0x%llx, model kind %d obj %d head %d off 0x%llx",
		      v, p, a->kind, a->obj, a->head,
		      (unsigned long long)a->off, e->kind, e->obj, e->head,
		      (unsigned long long)e->off);
	}
	/* VM references: owner + VAs + vm_bos (zombies included). */
	{
		unsigned int o, bos = 0;

		for (o = 0; o < g.nobj; o++)
			bos += cur.live[v][o] + mv->zombies[o];
		CHECK(kref_read(&gpuvm->kref) == (int)(1 + nva + bos),
		      "vm-kref",
		      "VM %u count %d, expected 1 + %u VAs + %u "
		      "vm_bos",
		      v, kref_read(&gpuvm->kref), nva, bos);
	}
}

NOCOV static void check_vm_bos(unsigned int v)
{
	struct gpuvm *gpuvm = VM(v);
	struct m_vm *mv = &g.m.vm[v];
	unsigned int o, i;

	for (o = 0; o < g.nobj; o++) {
		struct gpuvm_gem_object *obj = g.obj[o];
		struct gpuvm_bo *vm_bo, *found = NULL;
		unsigned int n = 0, nva = 0;
		struct gpuva *va;

		gpuvm_gem_for_each_gpuvm_bo(vm_bo, obj) {
			CHECK(kref_read(&vm_bo->kref) > 0, "gem-list-zombie",
			      "object %u lists a zombie vm_bo", o);
			if (vm_bo->vm != gpuvm)
				continue;
			found = vm_bo;
			n++;
		}
		CHECK(n <= 1, "vm-bo-unique", "VM %u object %u: %u live vm_bos",
		      v, o, n);
		CHECK(!!found == cur.live[v][o], "vm-bo-live",
		      "VM %u object %u: vm_bo %s, model says %s", v, o,
		      found ? "present" : "absent",
		      cur.live[v][o] ? "live" : "gone");
		for (i = 0; i < g.m.nheld; i++)
			if (g.m.held[i].vm == v && g.m.held[i].obj == o)
				CHECK(g.m.held[i].vm_bo == found, "vm-bo-held",
				      "VM %u object %u: a held reference is "
				      "not on the live vm_bo",
				      v, o);
		if (!found)
			continue;
		vm_bo = found;
		gpuvm_bo_for_each_va(va, vm_bo) {
			CHECK(va->vm_bo == vm_bo && va->gem.obj == obj,
			      "vm-bo-vas",
			      "VM %u object %u: a linked VA points elsewhere",
			      v, o);
			nva++;
		}
		CHECK(nva == cur.vas[v][o], "vm-bo-vas",
		      "VM %u object %u: %u linked VAs, %u in the model", v, o,
		      nva, cur.vas[v][o]);
		CHECK(kref_read(&vm_bo->kref) == (int)(cur.held[v][o] + nva),
		      "vm-bo-kref",
		      "VM %u object %u: count %d, expected %u held + %u VAs", v,
		      o, kref_read(&vm_bo->kref), cur.held[v][o], nva);
		CHECK(vm_bo->evicted == mv->bo[o].evicted, "vm-bo-evicted",
		      "VM %u object %u: evicted %d, model %d", v, o,
		      vm_bo->evicted, mv->bo[o].evicted);
		CHECK(gpuvm_list_empty(&vm_bo->list.entry.extobj) ==
			      !is_ext(v, o),
		      "extobj-membership",
		      "VM %u object %u (%s): %s the extobj list", v, o,
		      is_ext(v, o) ? "external" : "private",
		      gpuvm_list_empty(&vm_bo->list.entry.extobj) ? "not on" :
								    "on");
		CHECK(gpuvm_list_empty(&vm_bo->list.entry.evict) ==
			      !mv->bo[o].on_evict,
		      "evict-membership",
		      "VM %u object %u (%s, evicted %d, %s): %s the evict "
		      "list, model says %s",
		      v, o, is_ext(v, o) ? "external" : "private",
		      vm_bo->evicted, mv->prot ? "resv-protected" : "internal",
		      gpuvm_list_empty(&vm_bo->list.entry.evict) ? "not on" :
								   "on",
		      mv->bo[o].on_evict ? "on" : "not on");
	}
}

NOCOV static void check_vm_lists(unsigned int v)
{
	struct gpuvm *gpuvm = VM(v);
	struct m_vm *mv = &g.m.vm[v];
	unsigned int o, live_ext = 0, live_evict = 0, zext = 0, zevict = 0;
	unsigned int exp_live_ext = 0, exp_live_evict = 0, exp_zext = 0,
		     exp_zevict = 0;
	unsigned int zombies[MAX_OBJ] = { 0 }, zombies_evict[MAX_OBJ] = { 0 };
	struct gpuvm_llist_node *node;
	struct gpuvm_bo *vm_bo;

	CHECK(!gpuvm->extobj.local_list && !gpuvm->evict.local_list,
	      "local-list", "VM %u: a list walk left its local list", v);
	gpuvm_list_for_each_entry(vm_bo, &gpuvm->extobj.list,
				  list.entry.extobj) {
		int oi = obj_index(vm_bo->obj);

		CHECK(vm_bo->vm == gpuvm && oi >= 0 && is_ext(v, (unsigned)oi),
		      "extobj-list",
		      "VM %u: a foreign or private vm_bo on "
		      "the extobj list",
		      v);
		if (kref_read(&vm_bo->kref))
			live_ext++;
		else
			zext++;
	}
	gpuvm_list_for_each_entry(vm_bo, &gpuvm->evict.list, list.entry.evict) {
		CHECK(vm_bo->vm == gpuvm && obj_index(vm_bo->obj) >= 0,
		      "evict-list", "VM %u: a foreign vm_bo on the evict list",
		      v);
		if (kref_read(&vm_bo->kref))
			live_evict++;
		else
			zevict++;
	}
	for (node = gpuvm->bo_defer.first; node; node = node->next) {
		int oi;

		vm_bo = gpuvm_container_of(node, struct gpuvm_bo,
					   list.entry.bo_defer);
		oi = obj_index(vm_bo->obj);
		CHECK(vm_bo->vm == gpuvm && oi >= 0, "bo-defer",
		      "VM %u: a foreign vm_bo on the deferred stack", v);
		CHECK(kref_read(&vm_bo->kref) == 0, "bo-defer",
		      "VM %u: a live vm_bo (count %d) on the deferred stack", v,
		      kref_read(&vm_bo->kref));
		/* Not on its object's list (check_vm_bos() walks that): the
		 * unlink is a list_del, the entry itself is stale. */
		CHECK(gpuvm_list_empty(&vm_bo->list.gpuva), "bo-defer",
		      "VM %u: a zombie with VAs", v);
		CHECK(gpuvm_list_empty(&vm_bo->list.entry.extobj) ==
			      !(mv->prot && is_ext(v, (unsigned)oi)),
		      "zombie-extobj",
		      "VM %u object %d: zombie %s the extobj list (%s)", v, oi,
		      gpuvm_list_empty(&vm_bo->list.entry.extobj) ? "not on" :
								    "on",
		      mv->prot ? "resv-protected" : "internal");
		zombies[oi]++;
		zombies_evict[oi] +=
			!gpuvm_list_empty(&vm_bo->list.entry.evict);
	}
	for (o = 0; o < g.nobj; o++) {
		CHECK(zombies[o] == mv->zombies[o], "zombies",
		      "VM %u object %u: %u zombies, model %u", v, o, zombies[o],
		      mv->zombies[o]);
		CHECK(zombies_evict[o] == mv->zombies_evict[o], "zombies-evict",
		      "VM %u object %u: %u zombies on the evict list, model "
		      "%u",
		      v, o, zombies_evict[o], mv->zombies_evict[o]);
		if (cur.live[v][o]) {
			exp_live_ext += is_ext(v, o);
			exp_live_evict += mv->bo[o].on_evict;
		}
		if (mv->prot && is_ext(v, o))
			exp_zext += mv->zombies[o];
		exp_zevict += mv->zombies_evict[o];
	}
	CHECK(live_ext == exp_live_ext && zext == exp_zext, "extobj-list",
	      "VM %u: %u live + %u zombie entries, model %u + %u", v, live_ext,
	      zext, exp_live_ext, exp_zext);
	CHECK(live_evict == exp_live_evict && zevict == exp_zevict,
	      "evict-list", "VM %u: %u live + %u zombie entries, model %u + %u",
	      v, live_evict, zevict, exp_live_evict, exp_zevict);
}

NOCOV static void check_all(void)
{
	unsigned int v, o;

	cur_compute();
	CHECK(gpuvm_lock_held_count() == 0, "locks-released",
	      "%u locks still held after the op", gpuvm_lock_held_count());
	CHECK(!gpuvm_in_signalling_section(), "signalling-balanced",
	      "still in a signalling section");
	for (v = 0; v < g.nvm; v++) {
		if (!g.m.vm[v].open) {
			CHECK(g.vm_freed[v] && !g.vm[v], "vm-closed",
			      "VM %u closed but not freed", v);
			CHECK(gpuvm_gem_object_refcount(g.r_obj[v]) == 1,
			      "r-obj-refs", "closed VM %u: r_obj count %d", v,
			      gpuvm_gem_object_refcount(g.r_obj[v]));
			continue;
		}
		CHECK(!g.vm_freed[v], "vm-open", "VM %u freed while open", v);
		CHECK(gpuvm_gem_object_refcount(g.r_obj[v]) == 2, "r-obj-refs",
		      "VM %u: r_obj count %d, expected 2", v,
		      gpuvm_gem_object_refcount(g.r_obj[v]));
		check_vas(v);
		check_vm_bos(v);
		check_vm_lists(v);
	}
	for (o = 0; o < g.nobj; o++) {
		int exp = 1;
		unsigned int n = 0;
		struct gpuvm_bo *vm_bo;

		for (v = 0; v < g.nvm; v++)
			exp += cur.live[v][o] + (int)g.m.vm[v].zombies[o];
		CHECK(gpuvm_gem_object_refcount(g.obj[o]) == exp, "obj-refs",
		      "object %u: count %d, expected %d", o,
		      gpuvm_gem_object_refcount(g.obj[o]), exp);
		gpuvm_gem_for_each_gpuvm_bo(vm_bo, g.obj[o])
			n++;
		for (v = 0; v < g.nvm; v++)
			n -= cur.live[v][o];
		CHECK(n == 0, "gem-list", "object %u: stray vm_bos on its list",
		      o);
	}
}

/* ---- locking ------------------------------------------------------------ */

/* The VM's resv and @obj's through one acquire context. Single-threaded:
 * there is never contention. */
static void lock_vm_and_obj(struct gpuvm *gpuvm, struct gpuvm_gem_object *obj,
			    struct gpuvm_ww_acquire_ctx *ctx)
{
	struct gpuvm_dma_resv *vm_resv = gpuvm_resv(gpuvm);

	gpuvm_ww_acquire_init(ctx, &gpuvm_reservation_ww_class);
	CHECK(!gpuvm_dma_resv_lock(vm_resv, ctx), "harness-lock",
	      "locking the VM resv failed");
	if (obj->resv != vm_resv)
		CHECK(!gpuvm_dma_resv_lock(obj->resv, ctx), "harness-lock",
		      "locking an object resv failed");
	gpuvm_ww_acquire_done(ctx);
}

static void unlock_vm_and_obj(struct gpuvm *gpuvm, struct gpuvm_gem_object *obj,
			      struct gpuvm_ww_acquire_ctx *ctx)
{
	if (obj->resv != gpuvm_resv(gpuvm))
		gpuvm_dma_resv_unlock(obj->resv);
	gpuvm_dma_resv_unlock(gpuvm_resv(gpuvm));
	gpuvm_ww_acquire_fini(ctx);
}

/* The GEM list lock in immediate mode; in staged mode the caller holds
 * the object's resv, which is that lock. */
static void gem_list_lock(struct gpuvm_gem_object *obj)
{
	if (g.immediate)
		gpuvm_gem_gpuva_lock(obj);
}

static void gem_list_unlock(struct gpuvm_gem_object *obj)
{
	if (g.immediate)
		gpuvm_gem_gpuva_unlock(obj);
}

/*
 * A fault armed by a sweep for map, unmap and bo_unmap: armed only after
 * gpuvm_exec_init(), whose failing allocation is absorbed (the first lock
 * retries it), so that a swept run either fails or takes effect at its
 * other allocations rather than succeeding at the first one.
 */
static unsigned long late_fault;

static void arm_late_fault(void)
{
	if (late_fault)
		gpuvm_alloc_fail_nth(late_fault);
	late_fault = 0;
}

/* The VM resv and what a map (@req) or an unmap touches. On failure the
 * exec is finished. */
static int lock_request(struct gpuvm *gpuvm, struct gpuvm_exec *exec,
			const struct gpuvm_map_req *req, uint64_t addr,
			uint64_t range)
{
	int ret = 0;

	gpuvm_exec_init(exec, GPUVM_EXEC_IGNORE_DUPLICATES, 0);
	arm_late_fault();
	gpuvm_exec_until_all_locked(exec) {
		ret = gpuvm_prepare_vm(gpuvm, exec, 0);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			break;
		if (req)
			ret = gpuvm_sm_map_exec_lock(gpuvm, exec, 0, req);
		else
			ret = gpuvm_sm_unmap_exec_lock(gpuvm, exec, addr,
						       range);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			break;
	}
	if (ret)
		gpuvm_exec_fini(exec);
	return ret;
}

/* ---- VAs and ops lists -------------------------------------------------- */

static void va_free(struct gpuva *va)
{
	gpuvm_kfree(gpuvm_container_of(va, struct fz_va, va));
}

struct va_set {
	struct gpuva **va;
	unsigned int n, used;
	struct gpuva *inline_va[4];
};

static unsigned int ops_inserts(struct gpuva_ops *ops)
{
	struct gpuva_op *op;
	unsigned int n = 0;

	gpuva_for_each_op(op, ops) {
		if (op->op == GPUVA_OP_MAP)
			n++;
		else if (op->op == GPUVA_OP_REMAP)
			n += !!op->remap.prev + !!op->remap.next;
	}
	return n;
}

static void va_set_free(struct va_set *vs)
{
	unsigned int i;

	for (i = vs->used; i < vs->n; i++)
		va_free(vs->va[i]);
	if (vs->va && vs->va != vs->inline_va)
		gpuvm_kfree(vs->va);
	vs->va = NULL;
	vs->n = vs->used = 0;
}

static int va_set_alloc(struct gpuvm *gpuvm, struct va_set *vs, unsigned int n)
{
	unsigned int i;

	vs->n = vs->used = 0;
	vs->va = vs->inline_va;
	if (n > ARRAY_SIZE(vs->inline_va)) {
		vs->va = gpuvm_kmalloc_array(n, sizeof(*vs->va),
					     GPUVM_GFP_KERNEL);
		if (!vs->va)
			return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct fz_va *fv = gpuvm_kzalloc(sizeof(*fv), GPUVM_GFP_KERNEL);

		if (!fv) {
			va_set_free(vs);
			return -ENOMEM;
		}
		vs->va[vs->n++] = &fv->va;
	}
	if (n && gpuvm_va_reserve(gpuvm, n)) {
		va_set_free(vs);
		return -ENOMEM;
	}
	return 0;
}

static struct gpuva *va_set_take(struct va_set *vs)
{
	CHECK(vs->used < vs->n, "harness-va-set", "more inserts than counted");
	return vs->va[vs->used++];
}

enum ops_kind { OPS_MAP, OPS_UNMAP, OPS_MADVISE };

/* Whether existing @va and the request agree on object and translation. */
NOCOV static bool contiguous(const struct gpuva *va,
			     const struct gpuvm_map_req *req)
{
	__int128 a, b;

	if (!va->gem.obj || va->gem.obj != req->map.gem.obj)
		return false;
	a = (__int128)va->gem.offset - (__int128)va->va.addr;
	b = (__int128)req->map.gem.offset - (__int128)req->map.va.addr;
	return a == b;
}

/* What the ops of one walk looked like so far. */
struct walk_state {
	unsigned int maps, remaps;
};

/* One op of a walk, before it is applied (its VAs still exist). */
NOCOV static void check_op(enum ops_kind kind, const struct gpuva_op *op,
			   const struct gpuvm_map_req *req,
			   struct walk_state *ws)
{
	/* A map walk ends with its one MAP. */
	CHECK(kind != OPS_MAP || !ws->maps, "ops-shape", "an op after the MAP");
	switch (op->op) {
	case GPUVA_OP_MAP:
		ws->maps++;
		CHECK(kind != OPS_UNMAP, "ops-shape", "MAP in an unmap");
		if (kind == OPS_MADVISE) {
			CHECK(!op->map.gem.obj, "ops-madvise",
			      "madvise MAP with an object");
			break;
		}
		CHECK(op->map.va.addr == req->map.va.addr &&
			      op->map.va.range == req->map.va.range &&
			      op->map.gem.obj == req->map.gem.obj &&
			      op->map.gem.offset == req->map.gem.offset,
		      "ops-shape", "MAP differs from the request");
		break;
	case GPUVA_OP_REMAP:
		ws->remaps++;
		CHECK(op->remap.unmap && (op->remap.prev || op->remap.next),
		      "ops-shape", "REMAP without unmap or remnants");
		if (kind == OPS_MADVISE) {
			CHECK(!op->remap.unmap->va->gem.obj, "ops-madvise",
			      "madvise splits a GEM-backed VA");
			CHECK(!op->remap.unmap->keep, "ops-keep",
			      "madvise REMAP with keep");
		} else {
			CHECK(op->remap.unmap->keep ==
				      (kind == OPS_MAP &&
				       contiguous(op->remap.unmap->va, req)),
			      "ops-keep", "REMAP keep %d wrong",
			      op->remap.unmap->keep);
		}
		break;
	case GPUVA_OP_UNMAP:
		CHECK(kind != OPS_MADVISE, "ops-madvise", "UNMAP in a madvise");
		CHECK(op->unmap.keep == (kind == OPS_MAP &&
					 contiguous(op->unmap.va, req)),
		      "ops-keep", "UNMAP keep %d wrong", op->unmap.keep);
		break;
	default:
		fail("ops-shape", "unexpected op type %d", op->op);
	}
}

NOCOV static void check_walk_end(enum ops_kind kind,
				 const struct walk_state *ws)
{
	if (kind == OPS_MAP)
		CHECK(ws->maps == 1 && ws->remaps <= 2, "ops-shape",
		      "map: %u MAPs, %u REMAPs", ws->maps, ws->remaps);
	if (kind == OPS_MADVISE)
		CHECK(ws->maps <= 2 && ws->remaps <= 2, "ops-madvise",
		      "madvise: %u MAPs, %u REMAPs", ws->maps, ws->remaps);
}

/* The shape of an ops list, before it is applied. */
NOCOV static void check_ops(enum ops_kind kind, struct gpuva_ops *ops,
			    const struct gpuvm_map_req *req)
{
	struct walk_state ws = { 0 };
	struct gpuva_op *op;

	gpuva_for_each_op(op, ops)
		check_op(kind, op, req, &ws);
	check_walk_end(kind, &ws);
}

static void link_va(struct gpuva *va, struct gpuvm_bo *vm_bo)
{
	gem_list_lock(vm_bo->obj);
	gpuva_link(va, vm_bo);
	gem_list_unlock(vm_bo->obj);
}

static void unlink_va(struct gpuva *va, bool deferred)
{
	struct gpuvm_gem_object *obj = va->gem.obj;

	if (!obj)
		return;
	if (deferred) {
		gpuva_unlink_defer(va);
		CHECK(!va->vm_bo, "unlink-defer", "vm_bo pointer kept");
		return;
	}
	gem_list_lock(obj);
	gpuva_unlink(va);
	gem_list_unlock(obj);
}

/*
 * Apply @op: what a driver does once the page tables are updated.
 * Context: the VM's resv and, in staged mode, those of every object the
 * ops touch. @deferred (immediate mode): inside a fence signalling
 * section, unlinks are deferred.
 */
static void apply_op(struct gpuvm *gpuvm, struct gpuva_op *op,
		     struct va_set *vs, struct gpuvm_bo *map_vm_bo,
		     bool deferred)
{
	struct gpuva *va, *old, *prev, *next;
	struct gpuvm_bo *vm_bo;

	switch (op->op) {
	case GPUVA_OP_MAP:
		va = va_set_take(vs);
		CHECK(!gpuva_map_checked(gpuvm, va, &op->map), "apply-map",
		      "inserting a MAP failed");
		if (va->gem.obj)
			link_va(va, map_vm_bo);
		break;
	case GPUVA_OP_REMAP:
		old = op->remap.unmap->va;
		vm_bo = old->vm_bo;
		prev = op->remap.prev ? va_set_take(vs) : NULL;
		next = op->remap.next ? va_set_take(vs) : NULL;
		gpuva_remap(prev, next, &op->remap);
		CHECK(!prev || gpuva_find(gpuvm, prev->va.addr,
					  prev->va.range) == prev,
		      "apply-remap", "prev remnant not inserted");
		CHECK(!next || gpuva_find(gpuvm, next->va.addr,
					  next->va.range) == next,
		      "apply-remap", "next remnant not inserted");
		/* Remnants first: the vm_bo must not drop to zero. */
		if (prev && vm_bo)
			link_va(prev, vm_bo);
		if (next && vm_bo)
			link_va(next, vm_bo);
		unlink_va(old, deferred);
		va_free(old);
		break;
	case GPUVA_OP_UNMAP:
		old = op->unmap.va;
		unlink_va(old, deferred);
		gpuva_unmap(&op->unmap);
		va_free(old);
		break;
	default:
		fail("ops-shape", "unexpected op type %d", op->op);
	}
}

static void apply_ops(struct gpuvm *gpuvm, struct gpuva_ops *ops,
		      struct va_set *vs, struct gpuvm_bo *map_vm_bo,
		      bool deferred)
{
	struct gpuva_op *op;

	gpuva_for_each_op(op, ops)
		apply_op(gpuvm, op, vs, map_vm_bo, deferred);
}

/*
 * The callback form (gpuvm_sm_map/gpuvm_sm_unmap): every step is checked
 * and applied during the walk, from VAs allocated before it (a map needs
 * at most three: the new one and two remnants; an unmap two).
 */
struct walk_ctx {
	struct gpuvm *gpuvm;
	enum ops_kind kind;
	const struct gpuvm_map_req *req;
	struct va_set *vs;
	struct gpuvm_bo *map_vm_bo;
	bool deferred;
	struct walk_state ws;
};

static int walk_step(struct gpuva_op *op, void *priv)
{
	struct walk_ctx *c = priv;

	check_op(c->kind, op, c->req, &c->ws);
	apply_op(c->gpuvm, op, c->vs, c->map_vm_bo, c->deferred);
	return 0;
}

/* ---- the ops ------------------------------------------------------------ */

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t in_byte(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint64_t page_addr(unsigned int v, unsigned int p)
{
	return g.m.vm[v].base + (uint64_t)p * PAGE;
}

/* Returns -1 when the VM is closed: the op is skipped. */
static int pick_vm(struct input *in)
{
	unsigned int v = in_byte(in) % g.nvm;

	return g.m.vm[v].open ? (int)v : -1;
}

static void expect_einval(int ret, bool valid, bool fired)
{
	if (ret == -EINVAL)
		CHECK(!valid, "einval", "-EINVAL for a valid range");
	else if (!(ret == -ENOMEM && fired))
		CHECK(valid, "einval", "an invalid range returned %d", ret);
}

/* Map, unmap and madvise note whether their range is valid here; the
 * caller checks the result against it. */
static bool last_valid;

/* Map flags (one input byte). */
#define MAP_DEFERRED (1u << 0) /* immediate mode: signalling + deferred */
#define MAP_CALLBACKS (1u << 1) /* gpuvm_sm_map() instead of an ops list */

/*
 * Map pages [@s, @s + @n) of VM @v to object @o (-1: sparse) at @off.
 * In immediate mode the vm_bo is preallocated first, so a later failure
 * destroys it with gpuvm_bo_destroy_not_in_lists().
 */
static int do_map(unsigned int v, int o, unsigned int s, unsigned int n,
		  uint64_t off, unsigned int flags)
{
	bool deferred = (flags & MAP_DEFERRED) && g.immediate;
	bool callbacks = flags & MAP_CALLBACKS;
	struct gpuvm_gem_object *obj = o < 0 ? NULL : g.obj[o];
	struct gpuvm_map_req req = { 0 };
	struct gpuvm_bo *pre = NULL, *vm_bo = NULL;
	struct gpuva_ops *ops = NULL;
	struct gpuvm *gpuvm = VM(v);
	struct va_set vs = { 0 };
	struct gpuvm_exec exec;
	struct model before;
	bool cookie;
	int ret;

	last_valid = range_ok(v, s, n);
	req.map.va.addr = page_addr(v, s);
	req.map.va.range = (uint64_t)n * PAGE;
	req.map.gem.obj = obj;
	req.map.gem.offset = obj ? off : 0;

	ret = lock_request(gpuvm, &exec, &req, 0, 0);
	if (ret)
		return ret;
	if (obj && g.immediate) {
		pre = gpuvm_bo_create(gpuvm, obj);
		if (!pre) {
			ret = -ENOMEM;
			goto out_unlock;
		}
	}
	if (callbacks) {
		ret = va_set_alloc(gpuvm, &vs, 3);
		if (ret)
			goto out_pre;
	} else {
		ops = gpuvm_sm_map_ops_create(gpuvm, &req);
		if (gpuvm_is_err(ops)) {
			ret = (int)gpuvm_ptr_err(ops);
			ops = NULL;
			goto out_pre;
		}
		check_ops(OPS_MAP, ops, &req);
		ret = va_set_alloc(gpuvm, &vs, ops_inserts(ops));
		if (ret)
			goto out_ops;
	}
	if (obj && !g.immediate) {
		vm_bo = gpuvm_bo_obtain_locked(gpuvm, obj);
		if (gpuvm_is_err(vm_bo)) {
			ret = (int)gpuvm_ptr_err(vm_bo);
			goto out_vas;
		}
	}

	/* Nothing fails from here on. */
	if (pre) {
		vm_bo = gpuvm_bo_obtain_prealloc(pre);
		pre = NULL;
	}
	if (vm_bo && gpuvm_is_extobj(gpuvm, obj))
		gpuvm_bo_extobj_add(vm_bo);
	cookie = deferred ? gpuvm_dma_fence_begin_signalling() : false;
	if (callbacks) {
		struct walk_ctx c = { gpuvm, OPS_MAP,  &req, &vs,
				      vm_bo, deferred, { 0 } };

		CHECK(!gpuvm_sm_map(gpuvm, &c, &req), "sm-map",
		      "gpuvm_sm_map failed on a valid request");
		check_walk_end(OPS_MAP, &c.ws);
	} else {
		apply_ops(gpuvm, ops, &vs, vm_bo, deferred);
	}
	if (vm_bo && deferred) {
		CHECK(!gpuvm_bo_put_deferred(vm_bo), "map-put",
		      "the map's vm_bo died with a VA linked");
	} else if (vm_bo) {
		gem_list_lock(obj);
		CHECK(!gpuvm_bo_put(vm_bo), "map-put",
		      "the map's vm_bo died with a VA linked");
		gem_list_unlock(obj);
	}
	if (deferred)
		gpuvm_dma_fence_end_signalling(cookie);

	before = g.m;
	model_map(&g.m.vm[v], s, n, o, off);
	model_settle(&before, v, deferred);

out_vas:
	va_set_free(&vs);
out_ops:
	if (ops)
		gpuva_ops_free(gpuvm, ops);
out_pre:
	if (pre)
		CHECK(gpuvm_bo_destroy_not_in_lists(pre), "destroy-prealloc",
		      "an unpublished prealloc was not freed");
out_unlock:
	gpuvm_exec_fini(&exec);
	return ret;
}

static int op_map(struct input *in)
{
	unsigned int v = in_byte(in) % g.nvm, ob = in_byte(in);
	unsigned int s = in_byte(in) % SPAN, n = 1 + in_byte(in) % NPAGES;
	uint64_t off = (uint64_t)(in_byte(in) % OBJ_PAGES) * PAGE;
	unsigned int flags = in_byte(in);
	int o = (int)(ob % (g.nobj + 1));

	if (!g.m.vm[v].open)
		return 1;
	return do_map(v, o == (int)g.nobj ? -1 : o, s, n, off, flags);
}

/*
 * A batch of small maps (what one VM_BIND with many binds does): @k
 * mappings of @w pages from page @s, objects and offsets varying, to get
 * more VAs into one VM than an index node holds. Maps past the window or
 * into the kernel node are left out. A failed map (injected fault) ends
 * the batch; the ones before it stay.
 */
#define MAX_FILL_MAPS 512 /* per input */
static unsigned int fill_budget;

static int op_fill(struct input *in)
{
	unsigned int v = in_byte(in) % g.nvm, s = in_byte(in) % NPAGES;
	unsigned int k = 1 + in_byte(in) % NPAGES, w = 1 + in_byte(in) % 2;
	unsigned int pat = in_byte(in), flags = in_byte(in), i;

	if (!g.m.vm[v].open)
		return 1;
	for (i = 0; i < k && s + (i + 1) * w <= NPAGES && fill_budget; i++) {
		unsigned int p = s + i * w;
		int o = (int)((pat + i * (1 + (pat >> 4))) % (g.nobj + 1));
		int ret;

		if (!range_ok(v, p, w))
			continue;
		fill_budget--;
		ret = do_map(v, o == (int)g.nobj ? -1 : o, p, w,
			     (uint64_t)((pat + i) % OBJ_PAGES) * PAGE, flags);
		if (ret) {
			CHECK(ret == -ENOMEM && gpuvm_alloc_fault_fired(),
			      "op-error", "a fill map returned %d", ret);
			break;
		}
	}
	last_valid = true;
	return 0;
}

/* Unmap pages [@s, @s + @n) of VM @v. With MAP_CALLBACKS through
 * gpuvm_sm_unmap(), the objects locked with gpuvm_prepare_range(). */
static int op_unmap(struct input *in)
{
	unsigned int v = in_byte(in) % g.nvm;
	unsigned int s = in_byte(in) % SPAN, n = 1 + in_byte(in) % NPAGES;
	unsigned int flags = in_byte(in);
	bool deferred = (flags & MAP_DEFERRED) && g.immediate;
	bool callbacks = flags & MAP_CALLBACKS;
	struct gpuva_ops *ops = NULL;
	struct va_set vs = { 0 };
	struct gpuvm_exec exec;
	struct gpuvm *gpuvm;
	struct model before;
	uint64_t addr, range;
	bool cookie;
	int ret = 0;

	if (!g.m.vm[v].open)
		return 1;
	last_valid = range_ok(v, s, n);
	gpuvm = VM(v);
	addr = page_addr(v, s);
	range = (uint64_t)n * PAGE;
	if (!callbacks) {
		ret = lock_request(gpuvm, &exec, NULL, addr, range);
		if (ret)
			return ret;
	} else {
		gpuvm_exec_init(&exec, GPUVM_EXEC_IGNORE_DUPLICATES, 0);
		arm_late_fault();
		gpuvm_exec_until_all_locked(&exec) {
			ret = gpuvm_prepare_vm(gpuvm, &exec, 0);
			gpuvm_exec_retry_on_contention(&exec);
			if (ret)
				break;
			/* Not validated: an invalid range locks nothing
			 * more, and gpuvm_sm_unmap() refuses it. */
			ret = gpuvm_prepare_range(gpuvm, &exec, addr, range, 0);
			gpuvm_exec_retry_on_contention(&exec);
			if (ret)
				break;
		}
		if (ret) {
			gpuvm_exec_fini(&exec);
			return ret;
		}
	}
	if (callbacks) {
		ret = va_set_alloc(gpuvm, &vs, 2);
		if (ret)
			goto out_unlock;
	} else {
		ops = gpuvm_sm_unmap_ops_create(gpuvm, addr, range);
		if (gpuvm_is_err(ops)) {
			ret = (int)gpuvm_ptr_err(ops);
			ops = NULL;
			goto out_unlock;
		}
		check_ops(OPS_UNMAP, ops, NULL);
		ret = va_set_alloc(gpuvm, &vs, ops_inserts(ops));
		if (ret)
			goto out_ops;
	}
	cookie = deferred ? gpuvm_dma_fence_begin_signalling() : false;
	if (callbacks) {
		struct walk_ctx c = { gpuvm, OPS_UNMAP, NULL, &vs,
				      NULL,  deferred,	{ 0 } };

		ret = gpuvm_sm_unmap(gpuvm, &c, addr, range);
		check_walk_end(OPS_UNMAP, &c.ws);
	} else {
		apply_ops(gpuvm, ops, &vs, NULL, deferred);
	}
	if (deferred)
		gpuvm_dma_fence_end_signalling(cookie);
	va_set_free(&vs);
	if (ret)
		goto out_ops;

	before = g.m;
	model_unmap(&g.m.vm[v], s, n);
	model_settle(&before, v, deferred);

out_ops:
	if (ops)
		gpuva_ops_free(gpuvm, ops);
out_unlock:
	gpuvm_exec_fini(&exec);
	return ret;
}

static int op_madvise(struct input *in)
{
	unsigned int v0 = in_byte(in);
	unsigned int s = in_byte(in) % SPAN, n = 1 + in_byte(in) % NPAGES;
	unsigned int v = v0 % g.nvm;
	struct gpuvm_map_req req = { 0 };
	struct va_set vs = { 0 };
	struct gpuva_ops *ops;
	struct gpuvm *gpuvm;
	int ret;

	if (!g.m.vm[v].open)
		return 1;
	last_valid = range_ok(v, s, n);
	gpuvm = VM(v);
	req.map.va.addr = page_addr(v, s);
	req.map.va.range = (uint64_t)n * PAGE;

	/* madvise only splits sparse mappings: no object to lock. */
	CHECK(!gpuvm_dma_resv_lock(gpuvm_resv(gpuvm), NULL), "harness-lock",
	      "locking the VM resv failed");
	ops = gpuvm_madvise_ops_create(gpuvm, &req);
	if (gpuvm_is_err(ops)) {
		ret = (int)gpuvm_ptr_err(ops);
		goto out_unlock;
	}
	check_ops(OPS_MADVISE, ops, &req);
	ret = va_set_alloc(gpuvm, &vs, ops_inserts(ops));
	if (ret)
		goto out_ops;
	apply_ops(gpuvm, ops, &vs, NULL, false);
	va_set_free(&vs);
	model_madvise(&g.m.vm[v], s, n);

out_ops:
	gpuva_ops_free(gpuvm, ops);
out_unlock:
	gpuvm_dma_resv_unlock(gpuvm_resv(gpuvm));
	return ret;
}

/* One PREFETCH per VA overlapping the range, the kernel node included. */
static int op_prefetch(struct input *in)
{
	unsigned int v0 = in_byte(in);
	unsigned int s = in_byte(in) % SPAN, n = 1 + in_byte(in) % NPAGES;
	unsigned int v = v0 % g.nvm, p, exp = 0, got = 0;
	struct gpuva_ops *ops;
	struct gpuvm *gpuvm;
	struct gpuva_op *op;
	uint64_t addr, range;

	if (!g.m.vm[v].open)
		return 1;
	/* No wrap past 2^64: the range is not validated. */
	if (s + n > SPAN)
		n = SPAN - s;
	gpuvm = VM(v);
	addr = page_addr(v, s);
	range = (uint64_t)n * PAGE;
	/* Kernel parity: a range ending at 2^64 has end == 0, and the
	 * iterator's bound (va.addr < end) stops at once: no ops. */
	for (p = s; p < s + n && p < NPAGES && addr + range; p++)
		exp += g.m.vm[v].pg[p].kind != PG_NONE &&
		       (g.m.vm[v].pg[p].head || p == s);

	CHECK(!gpuvm_dma_resv_lock(gpuvm_resv(gpuvm), NULL), "harness-lock",
	      "locking the VM resv failed");
	ops = gpuvm_prefetch_ops_create(gpuvm, addr, range);
	if (gpuvm_is_err(ops)) {
		gpuvm_dma_resv_unlock(gpuvm_resv(gpuvm));
		return (int)gpuvm_ptr_err(ops);
	}
	gpuva_for_each_op(op, ops) {
		struct gpuva *va = op->prefetch.va;

		CHECK(op->op == GPUVA_OP_PREFETCH, "ops-prefetch", "op type %d",
		      op->op);
		CHECK(va->va.addr < addr + range &&
			      addr < va->va.addr + va->va.range,
		      "ops-prefetch", "a PREFETCH of a VA outside the range");
		got++;
	}
	gpuva_ops_free(gpuvm, ops);
	gpuvm_dma_resv_unlock(gpuvm_resv(gpuvm));
	CHECK(got == exp, "ops-prefetch",
	      "VM %u pages [%u, %u): %u PREFETCH ops, %u VAs overlap", v, s,
	      s + n, got, exp);
	return 0;
}

static int op_obtain(struct input *in)
{
	unsigned int v0 = in_byte(in), o = in_byte(in) % g.nobj;
	unsigned int v = v0 % g.nvm;
	struct gpuvm_gem_object *obj = g.obj[o];
	struct gpuvm_ww_acquire_ctx ctx;
	struct gpuvm_bo *vm_bo, *pre;
	struct gpuvm *gpuvm;
	struct m_held *h;

	if (!g.m.vm[v].open || g.m.nheld == MAX_HELD)
		return 1;
	gpuvm = VM(v);
	if (g.immediate) {
		pre = gpuvm_bo_create(gpuvm, obj);
		if (!pre)
			return -ENOMEM;
		CHECK(!gpuvm_dma_resv_lock(gpuvm_resv(gpuvm), NULL),
		      "harness-lock", "locking the VM resv failed");
		vm_bo = gpuvm_bo_obtain_prealloc(pre);
		if (gpuvm_is_extobj(gpuvm, obj))
			gpuvm_bo_extobj_add(vm_bo);
		gpuvm_dma_resv_unlock(gpuvm_resv(gpuvm));
	} else {
		lock_vm_and_obj(gpuvm, obj, &ctx);
		vm_bo = gpuvm_bo_obtain_locked(gpuvm, obj);
		if (!gpuvm_is_err(vm_bo) && gpuvm_is_extobj(gpuvm, obj))
			gpuvm_bo_extobj_add(vm_bo);
		unlock_vm_and_obj(gpuvm, obj, &ctx);
		if (gpuvm_is_err(vm_bo))
			return (int)gpuvm_ptr_err(vm_bo);
	}
	CHECK(vm_bo && vm_bo->vm == gpuvm && vm_bo->obj == obj, "obtain",
	      "obtain returned a wrong vm_bo");
	h = &g.m.held[g.m.nheld++];
	h->vm = v;
	h->obj = o;
	h->vm_bo = vm_bo;
	return 0;
}

static void held_remove(unsigned int i)
{
	g.m.held[i] = g.m.held[--g.m.nheld];
}

/* A put that may be final: the GEM list lock, and the VM resv for
 * resv-protected lists. */
static bool put_locked(struct gpuvm *gpuvm, struct gpuvm_bo *vm_bo)
{
	struct gpuvm_gem_object *obj = vm_bo->obj;
	struct gpuvm_ww_acquire_ctx ctx;
	bool freed;

	if (g.immediate) {
		CHECK(!gpuvm_dma_resv_lock(gpuvm_resv(gpuvm), NULL),
		      "harness-lock", "locking the VM resv failed");
		gpuvm_gem_gpuva_lock(obj);
		freed = gpuvm_bo_put(vm_bo);
		gpuvm_gem_gpuva_unlock(obj);
		gpuvm_dma_resv_unlock(gpuvm_resv(gpuvm));
	} else {
		lock_vm_and_obj(gpuvm, obj, &ctx);
		freed = gpuvm_bo_put(vm_bo);
		unlock_vm_and_obj(gpuvm, obj, &ctx);
	}
	return freed;
}

static int op_put(struct input *in, bool deferred)
{
	unsigned int b = in_byte(in), i, v, o;
	struct model before;
	bool last, freed;

	if (!g.m.nheld || (deferred && !g.immediate))
		return 1;
	i = b % g.m.nheld;
	v = g.m.held[i].vm;
	o = g.m.held[i].obj;
	last = held_count(&g.m, v, o) == 1 && !va_count(&g.m.vm[v], o);
	if (deferred) {
		bool cookie = gpuvm_dma_fence_begin_signalling();

		freed = gpuvm_bo_put_deferred(g.m.held[i].vm_bo);
		gpuvm_dma_fence_end_signalling(cookie);
	} else {
		freed = put_locked(VM(v), g.m.held[i].vm_bo);
	}
	CHECK(freed == last, "put-result", "put returned %d, model says %d",
	      freed, last);
	before = g.m;
	held_remove(i);
	model_settle(&before, v, deferred);
	return 0;
}

static int op_cleanup(struct input *in)
{
	int v = pick_vm(in);
	unsigned int o;

	if (v < 0)
		return 1;
	gpuvm_bo_deferred_cleanup(VM((unsigned int)v));
	for (o = 0; o < g.nobj; o++) {
		g.m.vm[v].zombies[o] = 0;
		g.m.vm[v].zombies_evict[o] = 0;
	}
	return 0;
}

/* What a buffer-move notification holds: the object's resv and, in
 * immediate mode, its gpuva lock. */
static int op_evict(struct input *in)
{
	unsigned int o = in_byte(in) % g.nobj, v;
	bool evict = in_byte(in) & 1;
	struct gpuvm_gem_object *obj = g.obj[o];

	CHECK(!gpuvm_dma_resv_lock(obj->resv, NULL), "harness-lock",
	      "locking an object resv failed");
	gem_list_lock(obj);
	gpuvm_bo_gem_evict(obj, evict);
	gem_list_unlock(obj);
	gpuvm_dma_resv_unlock(obj->resv);

	for (v = 0; v < g.nvm; v++) {
		struct m_bo *b = &g.m.vm[v].bo[o];

		if (!live(&g.m, v, o))
			continue;
		b->evicted = evict;
		/* Resv-protected: an external object's entry waits for the
		 * VM resv (prepare_objects adds it, validate removes it). */
		if (!g.m.vm[v].prot || !is_ext(v, o))
			b->on_evict = evict;
	}
	return 0;
}

/*
 * A validate whose locking failed: with resv-protected lists, the evicted
 * external vm_bos prepare_objects visited before the failure stay on the
 * evict list (documented in vm.h). Accept exactly that: additions of
 * evicted entries, in extobj list order, up to the first one skipped.
 */
NOCOV static void model_partial_prepare(unsigned int v)
{
	struct gpuvm *gpuvm = VM(v);
	struct gpuvm_bo *vm_bo;
	bool stopped = false;

	gpuvm_list_for_each_entry(vm_bo, &gpuvm->extobj.list,
				  list.entry.extobj) {
		struct m_bo *b;
		bool on;
		int o;

		if (!kref_read(&vm_bo->kref))
			continue;
		o = obj_index(vm_bo->obj);
		CHECK(o >= 0, "extobj-list", "unknown object");
		b = &g.m.vm[v].bo[o];
		on = !gpuvm_list_empty(&vm_bo->list.entry.evict);
		if (on == b->on_evict) {
			if (b->evicted && !on)
				stopped = true;
			continue;
		}
		CHECK(g.m.vm[v].prot && on && b->evicted && !stopped,
		      "validate-enomem",
		      "VM %u object %d: a failed validate changed the evict "
		      "list beyond the documented partial prepare",
		      v, o);
		b->on_evict = true;
	}
}

static int op_validate(struct input *in)
{
	struct gpuvm_vm_exec vm_exec = {
		.flags = GPUVM_EXEC_IGNORE_DUPLICATES,
		.num_fences = 0,
	};
	int v = pick_vm(in), ret;
	unsigned int o, exp = 0;
	struct m_vm *mv;

	if (v < 0)
		return 1;
	mv = &g.m.vm[v];
	vm_exec.vm = VM((unsigned int)v);
	g.validating = vm_exec.vm;
	g.validated = 0;
	ret = gpuvm_vm_exec_lock(&vm_exec);
	if (ret) {
		g.validating = NULL;
		if (ret == -ENOMEM)
			model_partial_prepare((unsigned int)v);
		return ret;
	}
	ret = gpuvm_validate(vm_exec.vm, &vm_exec.exec);
	gpuvm_vm_exec_unlock(&vm_exec);
	g.validating = NULL;
	CHECK(!ret, "validate", "gpuvm_validate returned %d", ret);

	for (o = 0; o < g.nobj; o++) {
		if (!live(&g.m, (unsigned int)v, o))
			continue;
		/* What the evict list held after prepare_objects. */
		exp += mv->bo[o].on_evict ||
		       (mv->prot && is_ext((unsigned int)v, o) &&
			mv->bo[o].evicted);
		mv->bo[o].evicted = false;
		mv->bo[o].on_evict = false;
	}
	CHECK(g.validated == exp, "validate-calls",
	      "VM %d: %u validate callbacks, %u entries expected", v,
	      g.validated, exp);
	return 0;
}

/* gpuvm_bo_unmap_ops_create() (staged mode only: in immediate mode it
 * allocates under the gpuva lock, which this harness takes in signalling
 * sections). */
static int op_bo_unmap(struct input *in)
{
	unsigned int v0 = in_byte(in), o = in_byte(in) % g.nobj;
	unsigned int v = v0 % g.nvm, p;
	struct gpuvm_gem_object *obj = g.obj[o];
	struct gpuva_ops *ops = NULL;
	struct gpuvm_bo *vm_bo;
	struct gpuvm_exec exec;
	struct model before;
	struct gpuva_op *op;
	struct gpuvm *gpuvm;
	unsigned int n = 0;
	int ret = 0;

	if (!g.m.vm[v].open || g.immediate)
		return 1;
	gpuvm = VM(v);
	gpuvm_exec_init(&exec, GPUVM_EXEC_IGNORE_DUPLICATES, 0);
	arm_late_fault();
	gpuvm_exec_until_all_locked(&exec) {
		ret = gpuvm_prepare_vm(gpuvm, &exec, 0);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		ret = gpuvm_exec_lock_obj(&exec, obj);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			break;
	}
	if (ret) {
		gpuvm_exec_fini(&exec);
		return ret;
	}
	vm_bo = gpuvm_bo_find(gpuvm, obj);
	if (!vm_bo)
		goto out;
	ops = gpuvm_bo_unmap_ops_create(vm_bo);
	if (gpuvm_is_err(ops)) {
		ret = (int)gpuvm_ptr_err(ops);
		ops = NULL;
		CHECK(!gpuvm_bo_put(vm_bo), "bo-unmap", "find's put was last");
		goto out;
	}
	gpuva_for_each_op(op, ops) {
		struct gpuva *va = op->unmap.va;

		CHECK(op->op == GPUVA_OP_UNMAP && va->gem.obj == obj &&
			      !op->unmap.keep,
		      "ops-bo-unmap", "a wrong op in a bo_unmap list");
		gpuva_unlink(va);
		gpuva_unmap(&op->unmap);
		va_free(va);
		n++;
	}
	gpuvm_bo_put(vm_bo);
	CHECK(n == va_count(&g.m.vm[v], o), "ops-bo-unmap",
	      "%u UNMAP ops for %u VAs", n, va_count(&g.m.vm[v], o));
	before = g.m;
	for (p = 0; p < NPAGES; p++)
		if (g.m.vm[v].pg[p].kind == PG_OBJ && g.m.vm[v].pg[p].obj == o)
			memset(&g.m.vm[v].pg[p], 0, sizeof(g.m.vm[v].pg[p]));
	model_settle(&before, v, false);
out:
	if (ops)
		gpuva_ops_free(gpuvm, ops);
	gpuvm_exec_fini(&exec);
	return ret;
}

/* Tear VM @v down: unmap everything, drop the held references, clean up
 * the zombies and put the VM, which must then be freed. */
static void close_vm(unsigned int v)
{
	struct gpuvm *gpuvm = VM(v);
	struct gpuva *va, *next;
	unsigned int i, o;

	gpuvm_for_each_va_safe(va, next, gpuvm) {
		struct gpuvm_gem_object *obj = va->gem.obj;
		struct gpuvm_ww_acquire_ctx ctx;

		if (va == &gpuvm->kernel_alloc_node)
			continue;
		/* A sparse mapping needs the VM's reservation only. */
		lock_vm_and_obj(gpuvm, obj ? obj : gpuvm->r_obj, &ctx);
		unlink_va(va, false);
		gpuva_remove(va);
		unlock_vm_and_obj(gpuvm, obj ? obj : gpuvm->r_obj, &ctx);
		va_free(va);
	}
	for (i = g.m.nheld; i-- > 0;) {
		if (g.m.held[i].vm != v)
			continue;
		put_locked(gpuvm, g.m.held[i].vm_bo);
		held_remove(i);
	}
	gpuvm_bo_deferred_cleanup(gpuvm);

	CHECK(gpuvm_list_empty(&gpuvm->extobj.list) &&
		      gpuvm_list_empty(&gpuvm->evict.list) &&
		      !gpuvm->bo_defer.first,
	      "close", "VM %u: lists not empty after teardown", v);
	CHECK(kref_read(&gpuvm->kref) == 1, "close",
	      "VM %u: count %d after teardown", v, kref_read(&gpuvm->kref));
	for (o = 0; o < g.nobj; o++) {
		struct gpuvm_bo *vm_bo;

		gpuvm_gem_for_each_gpuvm_bo(vm_bo, g.obj[o])
			CHECK(vm_bo->vm != gpuvm, "close",
			      "VM %u: object %u still has its vm_bo", v, o);
	}
	gpuvm_put(gpuvm);
	CHECK(g.vm_freed[v], "close", "VM %u: vm_free not called", v);
	g.vm[v] = NULL;
	memset(&g.m.vm[v], 0, sizeof(g.m.vm[v]));
}

static int op_close(struct input *in)
{
	int v = pick_vm(in);

	if (v < 0)
		return 1;
	close_vm((unsigned int)v);
	return 0;
}

/* ---- setup and the op loop ---------------------------------------------- */

enum op {
	OP_MAP,
	OP_FILL,
	OP_UNMAP,
	OP_MADVISE,
	OP_PREFETCH,
	OP_OBTAIN,
	OP_PUT,
	OP_PUT_DEFERRED,
	OP_CLEANUP,
	OP_EVICT,
	OP_VALIDATE,
	OP_BO_UNMAP,
	OP_CLOSE,
	OP_FAIL,
};

static const char *const op_names[] = {
	[OP_MAP] = "map",	    [OP_FILL] = "fill",
	[OP_UNMAP] = "unmap",	    [OP_MADVISE] = "madvise",
	[OP_PREFETCH] = "prefetch", [OP_OBTAIN] = "obtain",
	[OP_PUT] = "put",	    [OP_PUT_DEFERRED] = "put_deferred",
	[OP_CLEANUP] = "cleanup",   [OP_EVICT] = "evict",
	[OP_VALIDATE] = "validate", [OP_BO_UNMAP] = "bo_unmap",
	[OP_CLOSE] = "close",	    [OP_FAIL] = "fail_nth",
};

/* The opcode byte modulo 32 picks from this table (closing is rare). */
static const uint8_t op_table[32] = {
	OP_MAP,	     OP_MAP,	  OP_MAP,      OP_MAP,		OP_FILL,
	OP_UNMAP,    OP_UNMAP,	  OP_UNMAP,    OP_UNMAP,	OP_MADVISE,
	OP_MADVISE,  OP_PREFETCH, OP_OBTAIN,   OP_OBTAIN,	OP_OBTAIN,
	OP_PUT,	     OP_PUT,	  OP_PUT,      OP_PUT_DEFERRED, OP_PUT_DEFERRED,
	OP_CLEANUP,  OP_CLEANUP,  OP_EVICT,    OP_EVICT,	OP_EVICT,
	OP_VALIDATE, OP_VALIDATE, OP_VALIDATE, OP_BO_UNMAP,	OP_CLOSE,
	OP_FAIL,     OP_FAIL,
};

static const uint64_t bases[4] = {
	0, 1ull << 20, (1ull << 32) - 16 * PAGE,
	0 - SPAN *PAGE, /* the window ends 8 pages below 2^64 */
};

/* Kernel-reserved regions, in pages: {start, length}. */
static const uint8_t kernel_nodes[8][2] = {
	{ 0, 0 }, { 0, 0 },  { 0, 0 },	{ 0, 0 },
	{ 0, 4 }, { 62, 2 }, { 20, 4 }, { 40, 1 },
};

static void setup(struct input *in)
{
	uint8_t b = in_byte(in);
	unsigned int v, o, p;
	int last_ext = -1;

	memset(&g, 0, sizeof(g));
	g.immediate = b & 1;
	g.nvm = (b & 2) ? 3 : 2;
	/* Nothing is alive or locked between inputs: safe to switch. */
	gpuvm_debug_enable(!(b & 4));
	for (v = 0; v < g.nvm; v++) {
		uint8_t c = in_byte(in);
		struct m_vm *mv = &g.m.vm[v];
		unsigned int ks = kernel_nodes[(c >> 3) & 7][0];
		unsigned int kl = kernel_nodes[(c >> 3) & 7][1];
		enum gpuvm_flags flags = 0;
		struct fz_vm *vm;

		mv->open = true;
		mv->prot = c & 1;
		mv->base = bases[(c >> 1) & 3];
		if (mv->prot)
			flags |= GPUVM_RESV_PROTECTED;
		if (g.immediate)
			flags |= GPUVM_IMMEDIATE_MODE;
		for (p = ks; p < ks + kl; p++) {
			mv->pg[p].kind = PG_KERNEL;
			mv->pg[p].head = p == ks;
		}
		g.r_obj[v] = gpuvm_resv_object_alloc();
		vm = gpuvm_kzalloc(sizeof(*vm), GPUVM_GFP_KERNEL);
		CHECK(g.r_obj[v] && vm, "setup", "out of memory");
		vm->idx = v;
		gpuvm_init(&vm->gpuvm, "fuzz", flags, g.r_obj[v], mv->base,
			   NPAGES * PAGE, mv->base + ks * PAGE, kl * PAGE,
			   &vm_ops);
		g.vm[v] = vm;
	}
	g.nobj = 2 + in_byte(in) % (MAX_OBJ - 1);
	for (o = 0; o < g.nobj; o++) {
		unsigned int who = in_byte(in) % (g.nvm + 2);
		struct fz_obj *fo =
			gpuvm_kzalloc(sizeof(*fo), GPUVM_GFP_KERNEL);
		struct gpuvm_dma_resv *resv = NULL;

		CHECK(fo, "setup", "out of memory");
		fo->idx = o;
		if (who < g.nvm)
			resv = g.r_obj[who]->resv; /* private to VM who */
		else if (who == g.nvm + 1 && last_ext >= 0)
			resv = g.obj[last_ext]->resv; /* same exporter */
		gpuvm_gem_object_init_shared_resv(&fo->base, &obj_funcs,
						  OBJ_PAGES * PAGE, resv);
		g.obj[o] = &fo->base;
		if (who >= g.nvm)
			last_ext = (int)o;
	}
}

static void teardown(void)
{
	unsigned int v, o;

	where.opname = "teardown";
	for (v = 0; v < g.nvm; v++)
		if (g.m.vm[v].open)
			close_vm(v);
	check_all();
	for (o = g.nobj; o-- > 0;) {
		CHECK(gpuvm_gem_object_refcount(g.obj[o]) == 1, "teardown",
		      "object %u: count %d", o,
		      gpuvm_gem_object_refcount(g.obj[o]));
		gpuvm_gem_object_put(g.obj[o]);
		CHECK(g.obj_freed[o], "teardown", "object %u not freed", o);
	}
	for (v = 0; v < g.nvm; v++)
		gpuvm_gem_object_put(g.r_obj[v]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	gpuvm_warn_set_handler(on_warning, NULL);
	gpuvm_debug_enable(true);
	where.trace = getenv("FUZZ_API_TRACE") && *getenv("FUZZ_API_TRACE") &&
		      strcmp(getenv("FUZZ_API_TRACE"), "0");
	return 0;
}

static int dispatch(enum op op, struct input *in)
{
	switch (op) {
	case OP_MAP:
		return op_map(in);
	case OP_FILL:
		return op_fill(in);
	case OP_UNMAP:
		return op_unmap(in);
	case OP_MADVISE:
		return op_madvise(in);
	case OP_PREFETCH:
		return op_prefetch(in);
	case OP_OBTAIN:
		return op_obtain(in);
	case OP_PUT:
		return op_put(in, false);
	case OP_PUT_DEFERRED:
		return op_put(in, true);
	case OP_CLEANUP:
		return op_cleanup(in);
	case OP_EVICT:
		return op_evict(in);
	case OP_VALIDATE:
		return op_validate(in);
	case OP_BO_UNMAP:
		return op_bo_unmap(in);
	case OP_CLOSE:
		return op_close(in);
	default:
		return 1;
	}
}

/*
 * Run one op with the @fail_nth-th allocation failing (0: none; @late:
 * counted from after the op's gpuvm_exec_init()) and check the result
 * and the whole state. Return: whether the fault fired.
 */
static bool step(enum op op, struct input *in, unsigned long fail_nth,
		 bool late)
{
	struct model before = g.m;
	bool fired;
	int ret;

	last_valid = true;
	gpuvm_alloc_fail_nth(0);
	if (late && (op == OP_MAP || op == OP_UNMAP || op == OP_BO_UNMAP))
		late_fault = fail_nth;
	else
		gpuvm_alloc_fail_nth(fail_nth);
	ret = dispatch(op, in);
	fired = gpuvm_alloc_fault_fired();
	gpuvm_alloc_fail_nth(0);
	late_fault = 0;

	if (where.trace)
		fprintf(stderr, "fuzz_api: op #%u %s: %s%s\n", where.opno,
			where.opname,
			ret == 1 ? "skipped" :
			ret	 ? strerror(-ret) :
				   "ok",
			fired ? " (injected fault fired)" : "");
	if (ret == 1) /* skipped */
		ret = 0;
	if (op == OP_MAP || op == OP_UNMAP || op == OP_MADVISE)
		expect_einval(ret, last_valid, fired);
	if (ret) {
		CHECK(ret == -EINVAL || (ret == -ENOMEM && fired), "op-error",
		      "returned %d (fault %s)", ret,
		      fired ? "fired" : "not fired");
		/* A failed op changes nothing, except what the validate's
		 * partial prepare did (accepted there). */
		if (op != OP_VALIDATE)
			CHECK(!memcmp(&before, &g.m, sizeof(before)),
			      "harness-model", "a failed op changed the model");
	}
	check_all();
	return fired;
}

/* The fail_nth byte: below this, one failure at allocation 1 + b % 24;
 * from it on, a sweep over the next op's allocations (not a fill's: its
 * maps are swept one by one). Bounded per input, to keep inputs fast. */
#define FAIL_SWEEP 0xc0
#define MAX_SWEEP 48
#define MAX_SWEEPS 16

/* One input, from setup to teardown, every step checked. */
static void run_input(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	unsigned long fail_nth = 0;
	unsigned int sweeps = 0;
	bool sweep = false;

	gpuvm_alloc_fail_nth(0);
	fill_budget = MAX_FILL_MAPS;
	where.opno = 0;
	where.opname = NULL;
	setup(&in);
	check_all();

	while (in.n && where.opno < MAX_OPS) {
		enum op op = (enum op)op_table[in_byte(&in) % 32];
		struct input args = in;
		unsigned long n;

		where.opno++;
		where.opname = op_names[op];
		if (op == OP_FAIL) {
			uint8_t b = in_byte(&in);

			sweep = b >= FAIL_SWEEP;
			fail_nth = 1 + b % MAX_FAIL_NTH;
			continue;
		}
		if (!sweep || op == OP_FILL || sweeps == MAX_SWEEPS) {
			sweep = false;
			step(op, &in, fail_nth, false);
			fail_nth = 0;
			continue;
		}
		/*
		 * Sweep: run the op with its 1st, 2nd, ... allocation
		 * failing, until a run does not reach the armed one (its
		 * result stands). A failed run changes nothing, so each
		 * run sees the same state; a run that survives its fault
		 * (an optional allocation) is a real op too.
		 */
		sweep = false;
		fail_nth = 0;
		sweeps++;
		for (n = 1; n <= MAX_SWEEP; n++) {
			in = args;
			if (!step(op, &in, n, true))
				break;
		}
	}
	teardown();
}

/*
 * The leak check. Some frees (the resv's fence lists) wait for an RCU
 * grace period, and gpuvm_alloc_drain() waits for liburcu's worker, which
 * batches for about 10 ms: draining after every input would make the
 * fuzzer ten times slower. So an input that ends with exactly the
 * baseline live is clean (nothing can be pending then); the others are
 * kept as suspects, and every SUSPECTS of them (and always for the first
 * input, so a reproduction run of one input checks it exactly) the
 * allocator is drained and compared with the baseline. When that shows
 * a leak, each suspect is run again on its own with a drain after it, and
 * the one that leaks is written to a file and reported.
 */
#define SUSPECTS 64
#define SUSPECT_MAX_LEN 4096

/* Static copies: a malloc kept across inputs would make libFuzzer suspect
 * every input of a leak and re-run it under LeakSanitizer. */
static struct {
	uint8_t data[SUSPECTS][SUSPECT_MAX_LEN];
	size_t size[SUSPECTS];
	unsigned int n;
	long baseline;
	bool started;
} leak;

static void suspects_forget(void)
{
	leak.n = 0;
}

static bool suspect_add(const uint8_t *data, size_t size)
{
	if (leak.n == SUSPECTS || size > SUSPECT_MAX_LEN)
		return false;
	memcpy(leak.data[leak.n], data, size);
	leak.size[leak.n++] = size;
	return true;
}

static void leak_report(const uint8_t *data, size_t size, long leaked)
{
	char path[64];
	FILE *f;
	size_t i;

	snprintf(path, sizeof(path), "fuzz_api-leak-%ld.bin", (long)getpid());
	f = fopen(path, "wb");
	if (f) {
		fwrite(data, 1, size, f);
		fclose(f);
	}
	fprintf(stderr, "fuzz_api: the leaking input (written to %s):", path);
	for (i = 0; i < size; i++)
		fprintf(stderr, "%s0x%02x", i ? "," : " ", data[i]);
	fputc('\n', stderr);
	where.opname = "leak check";
	fail("leak", "%ld allocations live after teardown and drain", leaked);
}

/* The batch leaked: find the input that does on its own. */
static void suspects_bisect(void)
{
	unsigned int i;

	for (i = 0; i < leak.n; i++) {
		long base;

		gpuvm_alloc_drain();
		base = gpuvm_alloc_live();
		run_input(leak.data[i], leak.size[i]);
		gpuvm_alloc_drain();
		if (gpuvm_alloc_live() != base)
			leak_report(leak.data[i], leak.size[i],
				    gpuvm_alloc_live() - base);
	}
	where.opname = "leak check";
	fail("leak",
	     "%ld allocations leaked by the last %u inputs, but by "
	     "none of them alone",
	     gpuvm_alloc_live() - leak.baseline, leak.n);
}

static void leak_check(const uint8_t *data, size_t size)
{
	bool first = !leak.started;

	leak.started = true;
	if (gpuvm_alloc_live() == leak.baseline) {
		suspects_forget();
		return;
	}
	if (!suspect_add(data, size)) {
		/* No room: check the batch, then this input on its own. */
		gpuvm_alloc_drain();
		if (gpuvm_alloc_live() != leak.baseline)
			suspects_bisect();
		suspects_forget();
		CHECK(suspect_add(data, size), "harness-leak-check",
		      "cannot keep the input");
	}
	if (!first && leak.n < SUSPECTS)
		return;
	gpuvm_alloc_drain();
	if (gpuvm_alloc_live() != leak.baseline) {
		if (first)
			leak_report(data, size,
				    gpuvm_alloc_live() - leak.baseline);
		suspects_bisect();
	}
	suspects_forget();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!leak.started)
		leak.baseline = gpuvm_alloc_live();
	run_input(data, size);
	leak_check(data, size);
	return 0;
}
