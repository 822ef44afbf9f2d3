// SPDX-License-Identifier: MIT
/*
 * gpuvm-replay core: trace parser, reference driver and printer.
 *
 * The reference driver is an immediate-mode driver that applies every
 * operation list at once: for each split/merge command it locks what the
 * command touches (one exec transaction), builds the op list, allocates
 * everything applying it needs, and only then changes anything. A command
 * that fails therefore prints `error NAME` and leaves no trace.
 *
 * Locking follows what the library asserts, always in one order: resvs
 * (VM first, through an exec context or a single lock), then the gpuva
 * mutex of one object at a time.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gpuvm/alloc.h>
#include <gpuvm/debug.h>
#include <gpuvm/dma_resv.h>
#include <gpuvm/err.h>
#include <gpuvm/exec.h>
#include <gpuvm/gem.h>
#include <gpuvm/ops.h>
#include <gpuvm/va.h>
#include <gpuvm/vm.h>

#include "replay.h"

#define REPLAY_RULE_LEAK "replay-leak"
#define REPLAY_RULE_INTERNAL "replay-internal"

#define MAX_TOKENS 16

/* ---- the driver's objects ---------------------------------------------- */

/* A trace object: a GEM object with a name. */
struct robj {
	struct gpuvm_gem_object base;
	struct robj *hash_next;
	/* References taken with `obtain` and not yet put; all on @held. */
	unsigned int explicit_refs;
	struct gpuvm_bo *held;
	char name[];
};

/* A mapping of the driver; the VA is all it needs. */
struct rva {
	struct gpuva va;
};

struct replay;

struct rvm {
	struct gpuvm gpuvm;
	struct replay *rp;
};

struct name_list {
	const char **v;
	size_t n, cap;
};

enum cmd_kind {
	CMD_VM,
	CMD_BO,
	CMD_MAP,
	CMD_UNMAP,
	CMD_PREFETCH,
	CMD_BO_UNMAP,
	CMD_DUMP,
	CMD_OBTAIN,
	CMD_PUT,
	CMD_PUT_DEFERRED,
	CMD_CLEANUP,
	CMD_EVICT,
	CMD_VALIDATE,
	CMD_STATE,
};

/*
 * Argument signatures: n number, o object name or `-`, N object name,
 * f flag (0 or 1). Trailing keywords of vm and bo are parsed separately.
 */
static const struct {
	const char *word;
	enum cmd_kind kind;
	const char *sig;
} commands[] = {
	{ "vm", CMD_VM, "nn" },
	{ "bo", CMD_BO, "Nn" },
	{ "map", CMD_MAP, "nnon" },
	{ "unmap", CMD_UNMAP, "nn" },
	{ "prefetch", CMD_PREFETCH, "nn" },
	{ "bo-unmap", CMD_BO_UNMAP, "o" },
	{ "dump", CMD_DUMP, "" },
	{ "obtain", CMD_OBTAIN, "o" },
	{ "put", CMD_PUT, "o" },
	{ "put-deferred", CMD_PUT_DEFERRED, "o" },
	{ "cleanup", CMD_CLEANUP, "" },
	{ "evict", CMD_EVICT, "of" },
	{ "validate", CMD_VALIDATE, "" },
	{ "state", CMD_STATE, "" },
};

struct cmd {
	enum cmd_kind kind;
	unsigned int ntok;
	char *tok[MAX_TOKENS];
	bool is_num[MAX_TOKENS];
	uint64_t num[4];
	unsigned int nnum;
	const char *obj; /* NULL for `-` */
	bool ext;
	bool resv_protected;
	uint64_t reserve_addr, reserve_range;
};

struct replay {
	const char *name;
	FILE *out, *err;
	unsigned long lineno;
	bool command_seen;
	struct rvm *vm;
	struct gpuvm_gem_object *r_obj; /* our own reference */

	struct robj **objs; /* every object, sorted by name when objs_sorted */
	size_t nobjs, objs_cap;
	bool objs_sorted;
	struct robj **hash;
	size_t hash_size; /* a power of two, or 0 */

	bool recording_freed;
	struct name_list freed;
	struct name_list validated;

	bool track_fault;
	struct replay_stats st;
};

/* ---- small helpers ------------------------------------------------------ */

static void *xrealloc(void *p, size_t n, size_t size)
{
	size_t bytes;
	void *q;

	if (size && n > SIZE_MAX / size)
		abort();
	bytes = n * size;
	q = realloc(p, bytes ? bytes : 1);
	if (!q) {
		fputs("gpuvm-replay: out of memory\n", stderr);
		abort();
	}
	return q;
}

static void names_add(struct name_list *l, const char *name)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = xrealloc(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = name;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *errno_name(int err)
{
	static char buf[32];

	switch (err) {
	case EINVAL:
		return "EINVAL";
	case ENOENT:
		return "ENOENT";
	case EEXIST:
		return "EEXIST";
	case ENOMEM:
		return "ENOMEM";
	case EDEADLK:
		return "EDEADLK";
	case EALREADY:
		return "EALREADY";
	case EINTR:
		return "EINTR";
	case EBUSY:
		return "EBUSY";
	case EOPNOTSUPP:
		return "EOPNOTSUPP";
	case ENXIO:
		return "ENXIO";
	default:
		snprintf(buf, sizeof(buf), "E%d", err);
		return buf;
	}
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull +
	       (unsigned long long)ts.tv_nsec;
}

static struct gpuvm *replay_vm(struct replay *rp)
{
	return &rp->vm->gpuvm;
}

static struct replay *vm_replay(struct gpuvm *gpuvm)
{
	return gpuvm_container_of(gpuvm, struct rvm, gpuvm)->rp;
}

static struct robj *to_robj(struct gpuvm_gem_object *obj)
{
	return gpuvm_container_of(obj, struct robj, base);
}

static const char *obj_name(struct gpuvm_gem_object *obj)
{
	return obj ? to_robj(obj)->name : "-";
}

/* ---- object table ------------------------------------------------------- */

static size_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return (size_t)h;
}

static struct robj *obj_lookup(struct replay *rp, const char *name)
{
	struct robj *o;

	if (!name || !rp->hash_size)
		return NULL;
	o = rp->hash[name_hash(name) & (rp->hash_size - 1)];
	for (; o; o = o->hash_next)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

static void hash_put(struct replay *rp, struct robj *o)
{
	size_t b = name_hash(o->name) & (rp->hash_size - 1);

	o->hash_next = rp->hash[b];
	rp->hash[b] = o;
}

static void obj_table_add(struct replay *rp, struct robj *o)
{
	if (rp->nobjs == rp->objs_cap) {
		rp->objs_cap = rp->objs_cap ? 2 * rp->objs_cap : 16;
		rp->objs = xrealloc(rp->objs, rp->objs_cap, sizeof(*rp->objs));
	}
	rp->objs[rp->nobjs++] = o;
	rp->objs_sorted = false;

	if (rp->nobjs > rp->hash_size / 2) {
		size_t i;

		free(rp->hash);
		rp->hash_size = rp->hash_size ? 2 * rp->hash_size : 64;
		rp->hash = xrealloc(NULL, rp->hash_size, sizeof(*rp->hash));
		memset(rp->hash, 0, rp->hash_size * sizeof(*rp->hash));
		for (i = 0; i < rp->nobjs; i++)
			hash_put(rp, rp->objs[i]);
	} else {
		hash_put(rp, o);
	}
}

static int cmp_obj(const void *a, const void *b)
{
	return strcmp((*(struct robj *const *)a)->name,
		      (*(struct robj *const *)b)->name);
}

static void objs_sort(struct replay *rp)
{
	if (!rp->objs_sorted && rp->nobjs)
		qsort(rp->objs, rp->nobjs, sizeof(*rp->objs), cmp_obj);
	rp->objs_sorted = true;
}

static void robj_free(struct gpuvm_gem_object *obj)
{
	gpuvm_kfree(to_robj(obj));
}

static const struct gpuvm_gem_object_funcs robj_funcs = {
	.free = robj_free,
};

/* ---- VM callbacks ------------------------------------------------------- */

static void rvm_free(struct gpuvm *gpuvm)
{
	gpuvm_kfree(gpuvm_container_of(gpuvm, struct rvm, gpuvm));
}

/* Runs with whatever locks the freeing path holds: only records. */
static void rvm_bo_free(struct gpuvm_bo *vm_bo)
{
	struct replay *rp = vm_replay(vm_bo->vm);

	if (rp->recording_freed)
		names_add(&rp->freed, obj_name(vm_bo->obj));
	gpuvm_kfree(vm_bo);
}

/* The object is made resident again: just clear the eviction. */
static int rvm_bo_validate(struct gpuvm_bo *vm_bo, struct gpuvm_exec *exec)
{
	struct replay *rp = vm_replay(vm_bo->vm);

	(void)exec;
	names_add(&rp->validated, obj_name(vm_bo->obj));
	gpuvm_bo_evict(vm_bo, false);
	return 0;
}

static const struct gpuvm_ops rvm_ops = {
	.vm_free = rvm_free,
	.vm_bo_free = rvm_bo_free,
	.vm_bo_validate = rvm_bo_validate,
};

/* ---- printing ----------------------------------------------------------- */

static void print_mapping(FILE *f, uint64_t addr, uint64_t range,
			  struct gpuvm_gem_object *obj, uint64_t offset)
{
	fprintf(f, "0x%" PRIx64 "+0x%" PRIx64 ":%s@0x%" PRIx64, addr, range,
		obj_name(obj), offset);
}

static void print_va(FILE *f, const struct gpuva *va)
{
	print_mapping(f, va->va.addr, va->va.range, va->gem.obj,
		      va->gem.offset);
}

static void print_op_map(FILE *f, const struct gpuva_op_map *m)
{
	print_mapping(f, m->va.addr, m->va.range, m->gem.obj, m->gem.offset);
}

static void print_ops(struct replay *rp, struct gpuva_ops *ops)
{
	FILE *f = rp->out;
	struct gpuva_op *op;

	gpuva_for_each_op(op, ops) {
		switch (op->op) {
		case GPUVA_OP_MAP:
			fputs("map ", f);
			print_op_map(f, &op->map);
			rp->st.ops[REPLAY_OP_MAP]++;
			break;
		case GPUVA_OP_REMAP:
			fputs("remap ", f);
			print_va(f, op->remap.unmap->va);
			fprintf(f, " keep=%d prev=", op->remap.unmap->keep);
			if (op->remap.prev)
				print_op_map(f, op->remap.prev);
			else
				fputc('-', f);
			fputs(" next=", f);
			if (op->remap.next)
				print_op_map(f, op->remap.next);
			else
				fputc('-', f);
			rp->st.ops[REPLAY_OP_REMAP]++;
			break;
		case GPUVA_OP_UNMAP:
			fputs("unmap ", f);
			print_va(f, op->unmap.va);
			fprintf(f, " keep=%d", op->unmap.keep);
			rp->st.ops[REPLAY_OP_UNMAP]++;
			break;
		case GPUVA_OP_PREFETCH:
			fputs("prefetch ", f);
			print_va(f, op->prefetch.va);
			rp->st.ops[REPLAY_OP_PREFETCH]++;
			break;
		default:
			fprintf(f, "op %d", (int)op->op);
			break;
		}
		fputc('\n', f);
	}
}

/* ---- applying op lists -------------------------------------------------- */

/* The VA structs an op list needs, allocated before anything changes. */
struct va_set {
	struct gpuva **va;
	unsigned int n, used;
	struct gpuva *inline_va[4];
};

/* New VAs an op list creates: the MAP, and each remap's remnants. */
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

static void va_free(struct gpuva *va)
{
	gpuvm_kfree(gpuvm_container_of(va, struct rva, va));
}

static void va_set_free(struct va_set *vs)
{
	unsigned int i;

	for (i = vs->used; i < vs->n; i++)
		va_free(vs->va[i]);
	if (vs->va != vs->inline_va)
		free(vs->va);
	vs->va = NULL;
	vs->n = vs->used = 0;
}

/* Allocate @n VAs and reserve what @n inserts need in the VA index. */
static int va_set_alloc(struct gpuvm *gpuvm, struct va_set *vs, unsigned int n)
{
	unsigned int i;

	vs->va = n <= 4 ? vs->inline_va : xrealloc(NULL, n, sizeof(*vs->va));
	vs->n = 0;
	vs->used = 0;
	for (i = 0; i < n; i++) {
		struct rva *v = gpuvm_kzalloc(sizeof(*v), GPUVM_GFP_KERNEL);

		if (!v) {
			va_set_free(vs);
			return -ENOMEM;
		}
		vs->va[vs->n++] = &v->va;
	}
	if (n && gpuvm_va_reserve(gpuvm, n)) {
		va_set_free(vs);
		return -ENOMEM;
	}
	return 0;
}

static struct gpuva *va_set_take(struct va_set *vs)
{
	if (vs->used >= vs->n) {
		/* ops_inserts() counted them all: cannot happen. */
		abort();
	}
	return vs->va[vs->used++];
}

/* A remnant gpuva_remap() was to insert: check it is there. */
static bool remnant_inserted(struct gpuvm *gpuvm, struct gpuva *va)
{
	if (gpuva_find(gpuvm, va->va.addr, va->va.range) == va)
		return true;
	gpuvm_warn(REPLAY_RULE_INTERNAL,
		   "gpuvm-replay: remnant 0x%" PRIx64 "+0x%" PRIx64
		   " was not inserted",
		   va->va.addr, va->va.range);
	va_free(va);
	return false;
}

/*
 * Apply @ops to the VA space and the vm_bos: what a driver's run_job does
 * after the page tables were updated. Unlinks are immediate.
 *
 * Context: the VM resv held (a final vm_bo put may need it), and the
 * resvs of the objects the ops touch; no gpuva mutex held.
 */
static void apply_ops(struct replay *rp, struct gpuva_ops *ops,
		      struct va_set *vs, struct gpuvm_bo *map_vm_bo)
{
	struct gpuvm *gpuvm = replay_vm(rp);
	struct gpuva_op *op;

	gpuva_for_each_op(op, ops) {
		struct gpuvm_gem_object *obj;
		struct gpuva *va, *old, *prev, *next;
		struct gpuvm_bo *vm_bo;
		int ret;

		switch (op->op) {
		case GPUVA_OP_MAP:
			va = va_set_take(vs);
			ret = gpuva_map_checked(gpuvm, va, &op->map);
			if (ret) {
				gpuvm_warn(REPLAY_RULE_INTERNAL,
					   "gpuvm-replay: inserting the new "
					   "mapping failed (%d)",
					   ret);
				va_free(va);
				break;
			}
			obj = va->gem.obj;
			if (obj) {
				gpuvm_gem_gpuva_lock(obj);
				gpuva_link(va, map_vm_bo);
				gpuvm_gem_gpuva_unlock(obj);
			}
			break;

		case GPUVA_OP_REMAP:
			old = op->remap.unmap->va;
			obj = old->gem.obj;
			vm_bo = old->vm_bo;
			prev = op->remap.prev ? va_set_take(vs) : NULL;
			next = op->remap.next ? va_set_take(vs) : NULL;
			gpuva_remap(prev, next, &op->remap);
			if (prev && !remnant_inserted(gpuvm, prev))
				prev = NULL;
			if (next && !remnant_inserted(gpuvm, next))
				next = NULL;
			if (obj) {
				gpuvm_gem_gpuva_lock(obj);
				if (prev)
					gpuva_link(prev, vm_bo);
				if (next)
					gpuva_link(next, vm_bo);
				gpuva_unlink(old);
				gpuvm_gem_gpuva_unlock(obj);
			}
			va_free(old);
			break;

		case GPUVA_OP_UNMAP:
			old = op->unmap.va;
			obj = old->gem.obj;
			if (obj) {
				gpuvm_gem_gpuva_lock(obj);
				gpuva_unlink(old);
				gpuvm_gem_gpuva_unlock(obj);
			}
			gpuva_unmap(&op->unmap);
			va_free(old);
			break;

		default:
			break;
		}
	}
}

/*
 * Lock the VM resv and what a map (@req) or unmap ([@addr, @addr+@range))
 * request touches, in one transaction. On failure @exec is finished.
 */
static int lock_request(struct replay *rp, struct gpuvm_exec *exec,
			const struct gpuvm_map_req *req, uint64_t addr,
			uint64_t range)
{
	struct gpuvm *gpuvm = replay_vm(rp);
	int ret = 0;

	gpuvm_exec_init(exec, GPUVM_EXEC_IGNORE_DUPLICATES, 0);
	gpuvm_exec_until_all_locked(exec) {
		ret = gpuvm_prepare_vm(gpuvm, exec, 0);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			goto err;

		if (req)
			ret = gpuvm_sm_map_exec_lock(gpuvm, exec, 0, req);
		else
			ret = gpuvm_sm_unmap_exec_lock(gpuvm, exec, addr,
						       range);
		gpuvm_exec_retry_on_contention(exec);
		if (ret)
			goto err;
	}
	return 0;

err:
	gpuvm_exec_fini(exec);
	return ret;
}

/* ---- commands ----------------------------------------------------------- */

static bool sum_overflows(uint64_t a, uint64_t b)
{
	uint64_t s;

	return __builtin_add_overflow(a, b, &s);
}

static int cmd_vm(struct replay *rp, const struct cmd *c)
{
	uint64_t start = c->num[0], range = c->num[1];
	enum gpuvm_flags flags = GPUVM_IMMEDIATE_MODE;
	struct gpuvm_gem_object *r_obj;
	struct rvm *v;

	if (rp->vm || rp->command_seen)
		return -EINVAL;
	/* The library would only warn about these; refuse them. */
	if (sum_overflows(start, range) ||
	    (c->reserve_range &&
	     sum_overflows(c->reserve_addr, c->reserve_range)))
		return -EINVAL;

	r_obj = gpuvm_resv_object_alloc();
	if (!r_obj)
		return -ENOMEM;
	v = gpuvm_kzalloc(sizeof(*v), GPUVM_GFP_KERNEL);
	if (!v) {
		gpuvm_gem_object_put(r_obj);
		return -ENOMEM;
	}
	v->rp = rp;
	if (c->resv_protected)
		flags |= GPUVM_RESV_PROTECTED;
	gpuvm_init(&v->gpuvm, "gpuvm-replay", flags, r_obj, start, range,
		   c->reserve_addr, c->reserve_range, &rvm_ops);
	if (c->reserve_range &&
	    gpuvm_list_empty(&v->gpuvm.kernel_alloc_node.rb.entry)) {
		/* Indexing the reserved region failed (out of memory). */
		gpuvm_put(&v->gpuvm);
		gpuvm_gem_object_put(r_obj);
		return -ENOMEM;
	}
	/* Kept until the end: private objects borrow r_obj's resv. */
	rp->r_obj = r_obj;
	rp->vm = v;
	return 0;
}

static int cmd_bo(struct replay *rp, const struct cmd *c)
{
	size_t len = strlen(c->obj);
	struct robj *o;

	if (obj_lookup(rp, c->obj))
		return -EEXIST;
	o = gpuvm_kzalloc(sizeof(*o) + len + 1, GPUVM_GFP_KERNEL);
	if (!o)
		return -ENOMEM;
	memcpy(o->name, c->obj, len + 1);
	if (c->ext)
		gpuvm_gem_object_init(&o->base, &robj_funcs, (size_t)c->num[0]);
	else
		gpuvm_gem_object_init_shared_resv(&o->base, &robj_funcs,
						  (size_t)c->num[0],
						  gpuvm_resv(replay_vm(rp)));
	obj_table_add(rp, o);
	return 0;
}

/* The object an object argument names; NULL for `-` or an unknown name. */
static struct robj *arg_obj(struct replay *rp, const struct cmd *c)
{
	return c->obj ? obj_lookup(rp, c->obj) : NULL;
}

static int cmd_map(struct replay *rp, const struct cmd *c)
{
	struct gpuvm *gpuvm = replay_vm(rp);
	struct gpuvm_map_req req = { 0 };
	struct gpuvm_bo *pre = NULL, *vm_bo = NULL;
	struct va_set vs = { 0 };
	struct gpuvm_exec exec;
	struct gpuva_ops *ops;
	struct robj *o = arg_obj(rp, c);
	int ret;

	if (c->obj && !o)
		return -ENOENT;
	req.map.va.addr = c->num[0];
	req.map.va.range = c->num[1];
	req.map.gem.obj = o ? &o->base : NULL;
	req.map.gem.offset = c->num[2];

	ret = lock_request(rp, &exec, &req, 0, 0);
	if (ret)
		return ret;

	ops = gpuvm_sm_map_ops_create(gpuvm, &req);
	if (gpuvm_is_err(ops)) {
		ret = (int)gpuvm_ptr_err(ops);
		goto out_unlock;
	}
	ret = va_set_alloc(gpuvm, &vs, ops_inserts(ops));
	if (ret)
		goto out_ops;
	if (o) {
		pre = gpuvm_bo_create(gpuvm, &o->base);
		if (!pre) {
			ret = -ENOMEM;
			goto out_vas;
		}
	}

	/* Nothing can fail from here on. */
	if (o) {
		vm_bo = gpuvm_bo_obtain_prealloc(pre);
		if (gpuvm_is_extobj(gpuvm, &o->base))
			gpuvm_bo_extobj_add(vm_bo);
	}
	print_ops(rp, ops);
	apply_ops(rp, ops, &vs, vm_bo);
	if (o) {
		gpuvm_gem_gpuva_lock(&o->base);
		gpuvm_bo_put(vm_bo);
		gpuvm_gem_gpuva_unlock(&o->base);
	}

out_vas:
	va_set_free(&vs);
out_ops:
	gpuva_ops_free(gpuvm, ops);
out_unlock:
	gpuvm_exec_fini(&exec);
	return ret;
}

static int cmd_unmap(struct replay *rp, const struct cmd *c)
{
	struct gpuvm *gpuvm = replay_vm(rp);
	uint64_t addr = c->num[0], range = c->num[1];
	struct va_set vs = { 0 };
	struct gpuvm_exec exec;
	struct gpuva_ops *ops;
	int ret;

	ret = lock_request(rp, &exec, NULL, addr, range);
	if (ret)
		return ret;

	ops = gpuvm_sm_unmap_ops_create(gpuvm, addr, range);
	if (gpuvm_is_err(ops)) {
		ret = (int)gpuvm_ptr_err(ops);
		goto out_unlock;
	}
	ret = va_set_alloc(gpuvm, &vs, ops_inserts(ops));
	if (ret)
		goto out_ops;

	print_ops(rp, ops);
	apply_ops(rp, ops, &vs, NULL);
	va_set_free(&vs);

out_ops:
	gpuva_ops_free(gpuvm, ops);
out_unlock:
	gpuvm_exec_fini(&exec);
	return ret;
}

static int cmd_prefetch(struct replay *rp, const struct cmd *c)
{
	struct gpuvm *gpuvm = replay_vm(rp);
	struct gpuva_ops *ops;

	ops = gpuvm_prefetch_ops_create(gpuvm, c->num[0], c->num[1]);
	if (gpuvm_is_err(ops))
		return (int)gpuvm_ptr_err(ops);
	print_ops(rp, ops);
	gpuva_ops_free(gpuvm, ops);
	return 0;
}

static int cmd_bo_unmap(struct replay *rp, const struct cmd *c)
{
	struct gpuvm *gpuvm = replay_vm(rp);
	struct robj *o = arg_obj(rp, c);
	struct gpuvm_gem_object *obj;
	struct gpuvm_exec exec;
	struct gpuva_ops *ops;
	struct gpuvm_bo *vm_bo;
	struct gpuva_op *op;
	int ret = 0;

	if (!o)
		return -ENOENT;
	obj = &o->base;

	/* The VM resv: the last unlink may destroy the vm_bo. */
	gpuvm_exec_init(&exec, GPUVM_EXEC_IGNORE_DUPLICATES, 0);
	gpuvm_exec_until_all_locked(&exec) {
		ret = gpuvm_prepare_vm(gpuvm, &exec, 0);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			goto out_unlock;
		ret = gpuvm_exec_lock_obj(&exec, obj);
		gpuvm_exec_retry_on_contention(&exec);
		if (ret)
			goto out_unlock;
	}

	gpuvm_gem_gpuva_lock(obj);
	vm_bo = gpuvm_bo_find(gpuvm, obj);
	if (!vm_bo)
		goto out_gpuva;
	ops = gpuvm_bo_unmap_ops_create(vm_bo);
	if (gpuvm_is_err(ops)) {
		ret = (int)gpuvm_ptr_err(ops);
		gpuvm_bo_put(vm_bo); /* not the last: it is live */
		goto out_gpuva;
	}
	print_ops(rp, ops);
	gpuva_for_each_op(op, ops) {
		struct gpuva *va = op->unmap.va;

		gpuva_unlink(va);
		gpuva_unmap(&op->unmap);
		va_free(va);
	}
	gpuvm_bo_put(vm_bo);
	gpuvm_gem_gpuva_unlock(obj);
	gpuva_ops_free(gpuvm, ops);
	gpuvm_exec_fini(&exec);
	return 0;

out_gpuva:
	gpuvm_gem_gpuva_unlock(obj);
out_unlock:
	gpuvm_exec_fini(&exec);
	return ret;
}

static int cmd_dump(struct replay *rp)
{
	struct gpuvm *gpuvm = replay_vm(rp);
	struct gpuva *va;

	gpuvm_for_each_va(va, gpuvm) {
		if (va == &gpuvm->kernel_alloc_node)
			continue;
		fputs("va ", rp->out);
		print_va(rp->out, va);
		fputc('\n', rp->out);
	}
	fputs("end\n", rp->out);
	return 0;
}

static int vm_bo_refs(struct gpuvm_bo *vm_bo)
{
	return __atomic_load_n(&vm_bo->kref, __ATOMIC_RELAXED);
}

static void vm_resv_lock(struct replay *rp)
{
	(void)gpuvm_dma_resv_lock(gpuvm_resv(replay_vm(rp)), NULL);
}

static void vm_resv_unlock(struct replay *rp)
{
	gpuvm_dma_resv_unlock(gpuvm_resv(replay_vm(rp)));
}

static int cmd_obtain(struct replay *rp, const struct cmd *c)
{
	struct gpuvm *gpuvm = replay_vm(rp);
	struct robj *o = arg_obj(rp, c);
	struct gpuvm_bo *pre, *vm_bo;

	if (!o)
		return -ENOENT;
	pre = gpuvm_bo_create(gpuvm, &o->base);
	if (!pre)
		return -ENOMEM;
	/* extobj_add needs the VM resv when the lists are resv-protected. */
	vm_resv_lock(rp);
	vm_bo = gpuvm_bo_obtain_prealloc(pre);
	if (gpuvm_is_extobj(gpuvm, &o->base))
		gpuvm_bo_extobj_add(vm_bo);
	vm_resv_unlock(rp);

	o->explicit_refs++;
	o->held = vm_bo;
	fprintf(rp->out, "vm_bo %s refs=%d\n", o->name, vm_bo_refs(vm_bo));
	return 0;
}

/* Drop one explicit reference of @o, with the locks a final put needs. */
static bool put_held(struct replay *rp, struct robj *o, int *refs)
{
	struct gpuvm_bo *vm_bo = o->held;
	bool freed;

	vm_resv_lock(rp);
	gpuvm_gem_gpuva_lock(&o->base);
	freed = gpuvm_bo_put(vm_bo);
	if (!freed)
		*refs = vm_bo_refs(vm_bo);
	gpuvm_gem_gpuva_unlock(&o->base);
	vm_resv_unlock(rp);
	if (!--o->explicit_refs)
		o->held = NULL;
	return freed;
}

static int cmd_put(struct replay *rp, const struct cmd *c)
{
	struct robj *o = arg_obj(rp, c);
	int refs = 0;

	if (!o)
		return -ENOENT;
	if (!o->explicit_refs)
		return -EINVAL;
	if (put_held(rp, o, &refs))
		fprintf(rp->out, "vm_bo %s freed\n", o->name);
	else
		fprintf(rp->out, "vm_bo %s refs=%d\n", o->name, refs);
	return 0;
}

static int cmd_put_deferred(struct replay *rp, const struct cmd *c)
{
	struct robj *o = arg_obj(rp, c);
	struct gpuvm_bo *vm_bo;

	if (!o)
		return -ENOENT;
	if (!o->explicit_refs)
		return -EINVAL;
	vm_bo = o->held;
	if (!--o->explicit_refs)
		o->held = NULL;
	if (gpuvm_bo_put_deferred(vm_bo))
		fprintf(rp->out, "vm_bo %s deferred\n", o->name);
	else
		fprintf(rp->out, "vm_bo %s refs=%d\n", o->name,
			vm_bo_refs(vm_bo));
	return 0;
}

static void print_sorted(struct replay *rp, struct name_list *l,
			 const char *prefix)
{
	size_t i;

	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_str);
	for (i = 0; i < l->n; i++)
		fprintf(rp->out, "%s %s\n", prefix, l->v[i]);
	l->n = 0;
}

static int cmd_cleanup(struct replay *rp)
{
	rp->freed.n = 0;
	rp->recording_freed = true;
	gpuvm_bo_deferred_cleanup(replay_vm(rp));
	rp->recording_freed = false;
	print_sorted(rp, &rp->freed, "freed");
	return 0;
}

static int cmd_evict(struct replay *rp, const struct cmd *c)
{
	struct robj *o = arg_obj(rp, c);
	struct gpuvm_bo *vm_bo;

	if (!o)
		return -ENOENT;
	/* What a buffer-move notification holds: the resv and the list. */
	(void)gpuvm_dma_resv_lock(o->base.resv, NULL);
	gpuvm_gem_gpuva_lock(&o->base);
	vm_bo = gpuvm_bo_find(replay_vm(rp), &o->base);
	if (vm_bo) {
		gpuvm_bo_gem_evict(&o->base, c->num[0] != 0);
		gpuvm_bo_put(vm_bo); /* not the last: it is live */
	}
	gpuvm_gem_gpuva_unlock(&o->base);
	gpuvm_dma_resv_unlock(o->base.resv);
	return vm_bo ? 0 : -ENOENT;
}

static int cmd_validate(struct replay *rp)
{
	struct gpuvm_vm_exec vm_exec = {
		.flags = GPUVM_EXEC_IGNORE_DUPLICATES,
		.vm = replay_vm(rp),
		.num_fences = 0,
	};
	int ret;

	ret = gpuvm_vm_exec_lock(&vm_exec);
	if (ret)
		return ret;
	rp->validated.n = 0;
	ret = gpuvm_validate(replay_vm(rp), &vm_exec.exec);
	gpuvm_vm_exec_unlock(&vm_exec);
	if (ret) {
		rp->validated.n = 0;
		return ret;
	}
	print_sorted(rp, &rp->validated, "validate");
	return 0;
}

static int cmd_state(struct replay *rp)
{
	struct gpuvm *gpuvm = replay_vm(rp);
	size_t i;

	objs_sort(rp);
	for (i = 0; i < rp->nobjs; i++) {
		struct robj *o = rp->objs[i];
		struct gpuvm_bo *vm_bo;
		bool evicted = false, extobj = false, evict_list = false;
		unsigned long nvas = 0;
		struct gpuva *va;
		int refs = 0;

		gpuvm_gem_gpuva_lock(&o->base);
		vm_bo = gpuvm_bo_find(gpuvm, &o->base);
		if (vm_bo) {
			/* Not counting the reference find just took. */
			refs = vm_bo_refs(vm_bo) - 1;
			evicted = vm_bo->evicted;
			extobj = !gpuvm_list_empty(&vm_bo->list.entry.extobj);
			evict_list =
				!gpuvm_list_empty(&vm_bo->list.entry.evict);
			gpuvm_bo_for_each_va(va, vm_bo)
				nvas++;
			gpuvm_bo_put(vm_bo); /* not the last: it is live */
		}
		gpuvm_gem_gpuva_unlock(&o->base);
		if (vm_bo)
			fprintf(rp->out,
				"vm_bo %s refs=%d evicted=%d extobj=%d "
				"evict-list=%d vas=%lu\n",
				o->name, refs, evicted, extobj, evict_list,
				nvas);
	}
	fputs("end\n", rp->out);
	return 0;
}

static int run_cmd(struct replay *rp, const struct cmd *c)
{
	if (c->kind == CMD_VM)
		return cmd_vm(rp, c);
	if (!rp->vm)
		return -EINVAL; /* vm must come first */

	switch (c->kind) {
	case CMD_VM:
		break;
	case CMD_BO:
		return cmd_bo(rp, c);
	case CMD_MAP:
		return cmd_map(rp, c);
	case CMD_UNMAP:
		return cmd_unmap(rp, c);
	case CMD_PREFETCH:
		return cmd_prefetch(rp, c);
	case CMD_BO_UNMAP:
		return cmd_bo_unmap(rp, c);
	case CMD_DUMP:
		return cmd_dump(rp);
	case CMD_OBTAIN:
		return cmd_obtain(rp, c);
	case CMD_PUT:
		return cmd_put(rp, c);
	case CMD_PUT_DEFERRED:
		return cmd_put_deferred(rp, c);
	case CMD_CLEANUP:
		return cmd_cleanup(rp);
	case CMD_EVICT:
		return cmd_evict(rp, c);
	case CMD_VALIDATE:
		return cmd_validate(rp);
	case CMD_STATE:
		return cmd_state(rp);
	}
	return -EINVAL;
}

/* ---- teardown ----------------------------------------------------------- */

/*
 * Unmap everything, drop the explicit references, run the deferred
 * cleanup, then put the objects and the VM. Allocates nothing, so it
 * cannot fail.
 */
static void teardown(struct replay *rp)
{
	struct gpuva *va, *next;
	struct gpuvm *gpuvm;
	size_t i;

	if (rp->vm) {
		gpuvm = replay_vm(rp);
		vm_resv_lock(rp);
		gpuvm_for_each_va_safe(va, next, gpuvm) {
			struct gpuvm_gem_object *obj = va->gem.obj;

			if (va == &gpuvm->kernel_alloc_node)
				continue;
			if (obj) {
				gpuvm_gem_gpuva_lock(obj);
				gpuva_unlink(va);
				gpuvm_gem_gpuva_unlock(obj);
			}
			gpuva_remove(va);
			va_free(va);
		}
		for (i = 0; i < rp->nobjs; i++) {
			struct robj *o = rp->objs[i];

			gpuvm_gem_gpuva_lock(&o->base);
			while (o->explicit_refs) {
				gpuvm_bo_put(o->held);
				o->explicit_refs--;
			}
			o->held = NULL;
			gpuvm_gem_gpuva_unlock(&o->base);
		}
		vm_resv_unlock(rp);
		gpuvm_bo_deferred_cleanup(gpuvm);
	}

	for (i = 0; i < rp->nobjs; i++)
		gpuvm_gem_object_put(&rp->objs[i]->base);
	rp->nobjs = 0;
	if (rp->vm) {
		gpuvm_put(replay_vm(rp));
		rp->vm = NULL;
	}
	gpuvm_gem_object_put(rp->r_obj);
	rp->r_obj = NULL;

	free(rp->objs);
	free(rp->hash);
	free(rp->freed.v);
	free(rp->validated.v);
}

/* ---- parsing ------------------------------------------------------------ */

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Split @line in place; a comment ends it. Return: the token count, or
 * MAX_TOKENS + 1 when there are more than MAX_TOKENS. */
static unsigned int tokenize(char *line, char **tok)
{
	unsigned int n = 0;
	char *p = strchr(line, '#');

	if (p)
		*p = '\0';
	p = line;
	for (;;) {
		while (is_space(*p))
			p++;
		if (!*p)
			break;
		if (n == MAX_TOKENS)
			return MAX_TOKENS + 1;
		tok[n++] = p;
		while (*p && !is_space(*p))
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Unsigned 64-bit, decimal or 0x-prefixed hexadecimal. */
static bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (s[0] == '0' && s[1] == 'x') {
		s += 2;
		if (!*s)
			return false;
		for (; *s; s++) {
			int d = hex_digit(*s);

			if (d < 0 || v >> 60)
				return false;
			v = v << 4 | (uint64_t)d;
		}
	} else {
		if (!*s)
			return false;
		for (; *s; s++) {
			unsigned int d = (unsigned int)(*s - '0');

			if (*s < '0' || *s > '9' || v > (UINT64_MAX - d) / 10)
				return false;
			v = v * 10 + d;
		}
	}
	*out = v;
	return true;
}

/* [A-Za-z_][A-Za-z0-9_.-]* */
static bool valid_name(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
	      *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' ||
		      *s == '-'))
			return false;
	return true;
}

struct parse_error {
	char msg[160];
};

static bool fail(struct parse_error *pe, const char *fmt, ...)
	GPUVM_PRINTF(2, 3);

static bool fail(struct parse_error *pe, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pe->msg, sizeof(pe->msg), fmt, ap);
	va_end(ap);
	return false;
}

static bool parse_number_arg(struct cmd *c, unsigned int i, uint64_t *v,
			     struct parse_error *pe)
{
	if (!parse_u64(c->tok[i], v))
		return fail(pe, "bad number '%s'", c->tok[i]);
	c->is_num[i] = true;
	return true;
}

/* Parse the tokens after the command word. */
static bool parse_args(struct cmd *c, const char *sig, struct parse_error *pe)
{
	unsigned int i = 1;
	uint64_t v;

	for (; *sig; sig++, i++) {
		if (i >= c->ntok)
			return fail(pe, "'%s': missing argument", c->tok[0]);
		switch (*sig) {
		case 'n':
			if (!parse_number_arg(c, i, &v, pe))
				return false;
			c->num[c->nnum++] = v;
			break;
		case 'f':
			if (!parse_number_arg(c, i, &v, pe))
				return false;
			if (v > 1)
				return fail(pe, "bad flag '%s' (0 or 1)",
					    c->tok[i]);
			c->num[c->nnum++] = v;
			break;
		case 'o':
		case 'N':
			if (*sig == 'o' && !strcmp(c->tok[i], "-")) {
				c->obj = NULL;
				break;
			}
			if (!valid_name(c->tok[i]))
				return fail(pe, "bad object name '%s'",
					    c->tok[i]);
			c->obj = c->tok[i];
			break;
		}
	}

	if (c->kind == CMD_BO && i < c->ntok && !strcmp(c->tok[i], "ext")) {
		c->ext = true;
		i++;
	}
	if (c->kind == CMD_VM) {
		bool seen_reserve = false;

		while (i < c->ntok) {
			if (!strcmp(c->tok[i], "reserve") && !seen_reserve) {
				if (i + 2 >= c->ntok)
					return fail(
						pe,
						"'reserve' needs an address "
						"and a range");
				if (!parse_number_arg(c, i + 1,
						      &c->reserve_addr, pe) ||
				    !parse_number_arg(c, i + 2,
						      &c->reserve_range, pe))
					return false;
				seen_reserve = true;
				i += 3;
			} else if (!strcmp(c->tok[i], "resv-protected") &&
				   !c->resv_protected) {
				c->resv_protected = true;
				i++;
			} else {
				break;
			}
		}
	}
	if (i < c->ntok)
		return fail(pe, "'%s': unexpected argument '%s'", c->tok[0],
			    c->tok[i]);
	return true;
}

static bool parse_cmd(struct cmd *c, struct parse_error *pe)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(c->tok[0], commands[i].word))
			break;
	if (i == sizeof(commands) / sizeof(commands[0]))
		return fail(pe, "unknown command '%s'", c->tok[0]);
	c->kind = commands[i].kind;
	return parse_args(c, commands[i].sig, pe);
}

static void echo(struct replay *rp, const struct cmd *c)
{
	unsigned int i;

	fputs(">", rp->out);
	for (i = 0; i < c->ntok; i++) {
		uint64_t v;

		if (c->is_num[i] && parse_u64(c->tok[i], &v))
			fprintf(rp->out, " 0x%" PRIx64, v);
		else
			fprintf(rp->out, " %s", c->tok[i]);
	}
	fputc('\n', rp->out);
}

/* A line that did not parse: echoed as far as it goes, then refused. */
static void parse_failed(struct replay *rp, const struct cmd *c,
			 const char *msg)
{
	echo(rp, c);
	fprintf(rp->out, "error EINVAL\n");
	fprintf(rp->err, "%s:%lu: %s\n", rp->name, rp->lineno, msg);
	rp->st.parse_errors++;
	rp->st.errors++;
}

static void run_line(struct replay *rp, char *line)
{
	struct parse_error pe;
	struct cmd c;
	unsigned int n;
	int ret;

	memset(&c, 0, sizeof(c));
	n = tokenize(line, c.tok);
	if (!n)
		return;
	if (n > MAX_TOKENS) {
		/* Echo what we kept; the line is wrong anyway. */
		c.ntok = MAX_TOKENS;
		parse_failed(rp, &c, "too many arguments");
		return;
	}
	c.ntok = n;
	if (!parse_cmd(&c, &pe)) {
		memset(c.is_num, 0, sizeof(c.is_num));
		parse_failed(rp, &c, pe.msg);
		return;
	}

	echo(rp, &c);
	rp->st.commands++;
	ret = run_cmd(rp, &c);
	rp->command_seen = true;
	if (ret) {
		fprintf(rp->out, "error %s\n", errno_name(-ret));
		rp->st.errors++;
	}
	if (rp->track_fault && !rp->st.fault_line && gpuvm_alloc_fault_fired())
		rp->st.fault_line = rp->lineno;
}

/* ---- the replay --------------------------------------------------------- */

static FILE *warn_stream;

static void print_warning(const char *rule, const char *msg, void *data)
{
	(void)data;
	fprintf(warn_stream ? warn_stream : stderr,
		"libgpuvm: WARNING [%s] %s\n", rule, msg);
}

/* Some library frees finish after an RCU grace period: wait for them
 * before calling anything a leak. */
static long settle_live(void)
{
	gpuvm_alloc_drain();
	return gpuvm_alloc_live();
}

int replay_run(FILE *in, const char *name, FILE *out, FILE *err,
	       const struct replay_opts *opts)
{
	struct replay rp;
	unsigned long warn_start = gpuvm_warn_count();
	long live_start = gpuvm_alloc_live();
	unsigned long long t0 = now_ns();
	bool read_error;
	char *line = NULL;
	size_t cap = 0;
	long live;
	int ret = REPLAY_OK;

	memset(&rp, 0, sizeof(rp));
	rp.name = name ? name : "-";
	rp.out = out;
	rp.err = err;
	rp.track_fault = !gpuvm_alloc_fault_fired();
	if (opts && opts->warn_handler) {
		warn_stream = err;
		gpuvm_warn_set_handler(print_warning, NULL);
	}

	while (getline(&line, &cap, in) >= 0) {
		rp.lineno++;
		rp.st.lines++;
		run_line(&rp, line);
	}
	read_error = ferror(in);
	free(line);

	teardown(&rp);
	if (rp.track_fault && !rp.st.fault_line && gpuvm_alloc_fault_fired())
		rp.st.fault_line = REPLAY_FAULT_TEARDOWN;

	live = settle_live();
	if (live > live_start)
		gpuvm_warn(REPLAY_RULE_LEAK,
			   "gpuvm-replay: %ld library allocation(s) still live "
			   "after teardown",
			   live - live_start);

	rp.st.warnings = gpuvm_warn_count() - warn_start;
	rp.st.leaked = live > live_start ? live - live_start : 0;
	rp.st.elapsed_ns = now_ns() - t0;
	if (rp.st.warnings)
		ret = REPLAY_WARNED;
	if (read_error) {
		fprintf(err, "%s: read error\n", rp.name);
		ret = REPLAY_USAGE;
	}
	fflush(out);

	if (opts && opts->warn_handler) {
		gpuvm_warn_set_handler(NULL, NULL);
		warn_stream = NULL;
	}
	if (opts && opts->stats)
		*opts->stats = rp.st;
	return ret;
}

void replay_print_stats(FILE *f, const struct replay_stats *st)
{
	fprintf(f,
		"gpuvm-replay: %lu commands (%lu lines), %lu errors "
		"(%lu parse errors)\n"
		"gpuvm-replay: ops: map %lu, remap %lu, unmap %lu, "
		"prefetch %lu\n"
		"gpuvm-replay: %lu warnings, %ld leaked allocations\n"
		"gpuvm-replay: %.3f ms (%.0f ns per command)\n",
		st->commands, st->lines, st->errors, st->parse_errors,
		st->ops[REPLAY_OP_MAP], st->ops[REPLAY_OP_REMAP],
		st->ops[REPLAY_OP_UNMAP], st->ops[REPLAY_OP_PREFETCH],
		st->warnings, st->leaked, (double)st->elapsed_ns / 1e6,
		st->commands ? (double)st->elapsed_ns / (double)st->commands :
			       0.0);
}
