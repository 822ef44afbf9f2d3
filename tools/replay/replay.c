// SPDX-License-Identifier: MIT
/*
 * gpuvm-replay core: runs a trace line by line. It keeps the trace's VMs
 * and objects, checks the trace's own rules (which VM is current, which
 * object may be used where), calls the reference driver (driver.c) and
 * prints the results (print.c). Every `error` it answers also gets a
 * reason on the error stream, as FILE:LINE: error NAME: why.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gpuvm/alloc.h>
#include <gpuvm/debug.h>
#include <gpuvm/testing.h>

#include "driver.h"
#include "objects.h"
#include "print.h"
#include "replay.h"
#include "trace.h"

#define REPLAY_RULE_LEAK "replay-leak"

struct name_list {
	const char **v;
	size_t n, cap;
};

struct replay {
	const char *name;
	FILE *out, *err;
	unsigned long lineno;

	/* Rule 1 of the format: the first command must be a vm that works. */
	bool command_seen;
	bool have_vm;

	struct vm_rec **vms; /* in creation order */
	size_t nvms, vms_cap;
	struct vm_rec *cur; /* the current VM; NULL after its close */

	struct robj **objs; /* every object, sorted by name when objs_sorted */
	size_t nobjs, objs_cap;
	bool objs_sorted;
	struct robj **hash;
	size_t hash_size; /* a power of two, or 0 */

	struct drv_sink sink;
	struct name_list freed, validated;

	char why[256]; /* the reason of the current command's error */

	bool track_fault;
	struct replay_stats st;
	const struct replay_observer *obs;
};

/* ---- small helpers ------------------------------------------------------ */

/* Memory of the tool itself (not the library's): out of it, give up. */
static void *xrealloc(void *p, size_t n, size_t size)
{
	void *q;

	if (size && n > SIZE_MAX / size)
		abort();
	q = realloc(p, n && size ? n * size : 1);
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

/* Record why the command fails; return -@err for the caller to return. */
static int refuse(struct replay *rp, int err, const char *fmt, ...)
	GPUVM_PRINTF(3, 4);

static int refuse(struct replay *rp, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rp->why, sizeof(rp->why), fmt, ap);
	va_end(ap);
	return -err;
}

/* A driver call failed with @ret: say why in the terms of @what. */
static int driver_failed(struct replay *rp, int ret, const char *what,
			 uint64_t addr, uint64_t range)
{
	if (ret == -ENOMEM)
		return refuse(rp, ENOMEM, "%s: out of memory", what);
	if (ret == -EINVAL)
		return refuse(rp, EINVAL,
			      "%s: [0x%" PRIx64 ", +0x%" PRIx64
			      ") is not a valid range of VM '%s' (empty, "
			      "overflowing, outside the VM or over its "
			      "reserved region)",
			      what, addr, range, rp->cur->name);
	return refuse(rp, -ret, "%s failed", what);
}

/* ---- the driver's reports ------------------------------------------------ */

static void sink_ops(void *arg, struct gpuva_ops *ops)
{
	struct replay *rp = arg;

	print_ops(rp->out, ops, rp->st.ops);
	if (rp->obs && rp->obs->ops)
		rp->obs->ops(rp->obs->arg, ops);
}

static void sink_freed(void *arg, struct gpuvm_gem_object *obj)
{
	names_add(&((struct replay *)arg)->freed, robj_name(obj));
}

static void sink_validated(void *arg, struct gpuvm_gem_object *obj)
{
	names_add(&((struct replay *)arg)->validated, robj_name(obj));
}

/* ---- VMs ---------------------------------------------------------------- */

static struct vm_rec *vm_lookup(struct replay *rp, const char *name)
{
	size_t i;

	for (i = 0; i < rp->nvms; i++)
		if (!strcmp(rp->vms[i]->name, name))
			return rp->vms[i];
	return NULL;
}

static bool vm_staged(const struct vm_rec *v)
{
	return v->staged;
}

static const char *mode_name(bool staged)
{
	return staged ? "staged" : "immediate-mode";
}

/* The current VM, or an error for a command that needs one. */
static int need_cur(struct replay *rp)
{
	if (rp->cur)
		return 0;
	return refuse(rp, EINVAL,
		      "no current VM (it was closed): 'vm' or 'use' first");
}

/* ---- objects ------------------------------------------------------------ */

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

	if (!rp->hash_size)
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
	size_t i;

	if (rp->nobjs == rp->objs_cap) {
		rp->objs_cap = rp->objs_cap ? 2 * rp->objs_cap : 16;
		rp->objs = xrealloc(rp->objs, rp->objs_cap, sizeof(*rp->objs));
	}
	rp->objs[rp->nobjs++] = o;
	rp->objs_sorted = false;

	if (rp->nobjs <= rp->hash_size / 2) {
		hash_put(rp, o);
		return;
	}
	free(rp->hash);
	rp->hash_size = rp->hash_size ? 2 * rp->hash_size : 64;
	rp->hash = xrealloc(NULL, rp->hash_size, sizeof(*rp->hash));
	memset(rp->hash, 0, rp->hash_size * sizeof(*rp->hash));
	for (i = 0; i < rp->nobjs; i++)
		hash_put(rp, rp->objs[i]);
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

/* The object an argument names: `-` and unknown names are ENOENT. */
static int arg_obj(struct replay *rp, const struct cmd *c, struct robj **out)
{
	if (!c->obj)
		return refuse(rp, ENOENT, "'-' names no object here");
	*out = obj_lookup(rp, c->obj);
	if (!*out)
		return refuse(rp, ENOENT, "no object named '%s'", c->obj);
	return 0;
}

/*
 * May @o be used (map, obtain, bo-unmap) in the current VM? A private
 * object belongs to its VM; an object's vm_bo list is protected one way
 * for its lifetime, so all its VMs share one mode.
 */
static int check_use(struct replay *rp, struct robj *o)
{
	bool staged = vm_staged(rp->cur);

	if (o->owner && o->owner != rp->cur)
		return refuse(rp, EINVAL,
			      "'%s' is private to VM '%s' and cannot be used "
			      "in VM '%s'",
			      o->name, o->owner->name, rp->cur->name);
	if (o->mode != OBJ_MODE_UNSET && (o->mode == OBJ_MODE_STAGED) != staged)
		return refuse(rp, EINVAL,
			      "'%s' is used in %s VMs and cannot be used in "
			      "%s VM '%s' (gpuvm-mixed-mode)",
			      o->name, mode_name(!staged), mode_name(staged),
			      rp->cur->name);
	return 0;
}

/* A successful use fixes the object's mode. */
static void fix_mode(struct replay *rp, struct robj *o)
{
	if (o->mode == OBJ_MODE_UNSET)
		o->mode = vm_staged(rp->cur) ? OBJ_MODE_STAGED :
					       OBJ_MODE_IMMEDIATE;
}

/* The explicit references to @o obtained in @vm; NULL when none. */
static struct held_ref *held_find(struct robj *o, struct vm_rec *vm)
{
	struct held_ref *h;

	for (h = o->held; h; h = h->next)
		if (h->vm == vm)
			return h;
	return NULL;
}

static void held_add(struct robj *o, struct vm_rec *vm, struct gpuvm_bo *vm_bo)
{
	struct held_ref *h = held_find(o, vm);

	if (!h) {
		h = xrealloc(NULL, 1, sizeof(*h));
		h->vm = vm;
		h->refs = 0;
		h->next = o->held;
		o->held = h;
	}
	h->refs++;
	h->vm_bo = vm_bo;
}

/* One reference of @h was dropped; forget @h when it was the last. */
static void held_drop(struct robj *o, struct held_ref *h)
{
	struct held_ref **pp;

	if (--h->refs)
		return;
	for (pp = &o->held; *pp != h; pp = &(*pp)->next)
		;
	*pp = h->next;
	free(h);
}

/* ---- commands: VMs and objects ------------------------------------------ */

static int cmd_vm(struct replay *rp, const struct cmd *c, bool first)
{
	enum gpuvm_flags flags = 0;
	const char *name = c->name;
	struct vm_rec *v;
	int ret;

	if (!name && !first)
		return refuse(rp, EINVAL,
			      "every vm after the first needs a "
			      "name");
	if (!name)
		name = "vm";
	if (vm_lookup(rp, name))
		return refuse(rp, EEXIST,
			      "a VM named '%s' exists (names stay taken after "
			      "close)",
			      name);

	if (!c->staged)
		flags |= GPUVM_IMMEDIATE_MODE;
	if (c->resv_protected)
		flags |= GPUVM_RESV_PROTECTED;
	v = xrealloc(NULL, 1, sizeof(*v));
	memset(v, 0, sizeof(*v));
	v->name = xrealloc(NULL, strlen(name) + 1, 1);
	strcpy(v->name, name);
	v->staged = c->staged;
	ret = drv_vm_create(&v->vm, v->name, flags, c->num[0], c->num[1],
			    c->reserve_addr, c->reserve_range, &rp->sink,
			    &v->r_obj);
	if (ret) {
		free(v->name);
		free(v);
		if (ret == -EINVAL)
			return refuse(rp, EINVAL,
				      "the VM's window or reserved region "
				      "overflows 64 bits");
		return refuse(rp, -ret, "vm: out of memory");
	}

	if (rp->nvms == rp->vms_cap) {
		rp->vms_cap = rp->vms_cap ? 2 * rp->vms_cap : 8;
		rp->vms = xrealloc(rp->vms, rp->vms_cap, sizeof(*rp->vms));
	}
	rp->vms[rp->nvms++] = v;
	rp->cur = v;
	rp->have_vm = true;
	return 0;
}

static int vm_open(struct replay *rp, const struct cmd *c, struct vm_rec **out)
{
	*out = vm_lookup(rp, c->name);
	if (!*out)
		return refuse(rp, ENOENT, "no VM named '%s'", c->name);
	if (!(*out)->vm)
		return refuse(rp, ENOENT, "VM '%s' was closed", c->name);
	return 0;
}

static int cmd_use(struct replay *rp, const struct cmd *c)
{
	struct vm_rec *v;
	int ret = vm_open(rp, c, &v);

	if (!ret)
		rp->cur = v;
	return ret;
}

/*
 * Tear @v down as the end of a trace does: unmap and unlink its mappings,
 * drop the references the trace holds in it, free its zombies, put the
 * VM. Allocates nothing, so it cannot fail. Objects stay.
 */
static void vm_teardown(struct replay *rp, struct vm_rec *v)
{
	size_t i;

	drv_vm_unmap_all(v->vm);
	for (i = 0; i < rp->nobjs; i++) {
		struct robj *o = rp->objs[i];
		struct held_ref *h;

		while ((h = held_find(o, v))) {
			drv_put(v->vm, h->vm_bo);
			held_drop(o, h);
		}
	}
	drv_cleanup(v->vm, false);
	drv_vm_put(v->vm);
	v->vm = NULL;
}

static int cmd_close(struct replay *rp, const struct cmd *c)
{
	struct vm_rec *v;
	int ret = vm_open(rp, c, &v);

	if (ret)
		return ret;
	vm_teardown(rp, v);
	if (rp->cur == v)
		rp->cur = NULL;
	return 0;
}

static int cmd_bo(struct replay *rp, const struct cmd *c)
{
	size_t len = strlen(c->obj);
	struct robj *o;

	if (!c->ext && !rp->cur)
		return refuse(rp, EINVAL,
			      "a private object needs a current VM (it shares "
			      "that VM's reservation)");
	if (obj_lookup(rp, c->obj))
		return refuse(rp, EEXIST, "an object named '%s' exists",
			      c->obj);
	o = gpuvm_kzalloc(sizeof(*o) + len + 1, GPUVM_GFP_KERNEL);
	if (!o)
		return refuse(rp, ENOMEM, "bo: out of memory");
	memcpy(o->name, c->obj, len + 1);
	o->owner = c->ext ? NULL : rp->cur;
	drv_obj_init(&o->base, (size_t)c->num[0],
		     c->ext ? NULL : gpuvm_resv(&rp->cur->vm->gpuvm));
	obj_table_add(rp, o);
	return 0;
}

static int cmd_evict(struct replay *rp, const struct cmd *c)
{
	struct robj *o;
	int ret = arg_obj(rp, c, &o);

	if (ret)
		return ret;
	/* Not a use: it reaches the object's vm_bo in every VM. */
	ret = drv_evict(&o->base, c->num[0] != 0,
			o->mode == OBJ_MODE_IMMEDIATE);
	if (ret == -ENOENT)
		return refuse(rp, ENOENT, "'%s' has no vm_bo in any VM",
			      o->name);
	return ret;
}

/* ---- commands: split/merge ----------------------------------------------- */

static int cmd_map(struct replay *rp, const struct cmd *c)
{
	struct robj *o = NULL;
	int ret;

	if (c->obj) {
		ret = arg_obj(rp, c, &o);
		if (!ret)
			ret = check_use(rp, o);
		if (ret)
			return ret;
	}
	ret = drv_map(rp->cur->vm, o ? &o->base : NULL, c->num[0], c->num[1],
		      c->num[2]);
	if (ret)
		return driver_failed(rp, ret, "map", c->num[0], c->num[1]);
	if (o)
		fix_mode(rp, o);
	return 0;
}

static int cmd_range(struct replay *rp, const struct cmd *c)
{
	uint64_t addr = c->num[0], range = c->num[1];
	struct drv_vm *vm = rp->cur->vm;
	int ret;

	switch (c->kind) {
	case CMD_UNMAP:
		ret = drv_unmap(vm, addr, range);
		break;
	case CMD_MADVISE:
		ret = drv_madvise(vm, addr, range);
		break;
	default:
		ret = drv_prefetch(vm, addr, range);
		break;
	}
	if (ret)
		return driver_failed(rp, ret, c->tok[0], addr, range);
	return 0;
}

static int cmd_bo_unmap(struct replay *rp, const struct cmd *c)
{
	struct robj *o;
	int ret = arg_obj(rp, c, &o);

	if (!ret)
		ret = check_use(rp, o);
	if (ret)
		return ret;
	ret = drv_bo_unmap(rp->cur->vm, &o->base);
	if (ret)
		return driver_failed(rp, ret, "bo-unmap", 0, 0);
	fix_mode(rp, o);
	return 0;
}

static int cmd_dump(struct replay *rp)
{
	struct gpuvm *gpuvm = &rp->cur->vm->gpuvm;
	struct gpuva *va;

	gpuvm_for_each_va(va, gpuvm)
		if (va != &gpuvm->kernel_alloc_node)
			print_va_line(rp->out, va);
	fputs("end\n", rp->out);
	return 0;
}

/* ---- commands: vm_bo references ------------------------------------------ */

static int cmd_obtain(struct replay *rp, const struct cmd *c)
{
	struct gpuvm_bo *vm_bo;
	struct robj *o;
	int ret = arg_obj(rp, c, &o);

	if (!ret)
		ret = check_use(rp, o);
	if (ret)
		return ret;
	ret = drv_obtain(rp->cur->vm, &o->base, &vm_bo);
	if (ret)
		return driver_failed(rp, ret, "obtain", 0, 0);
	fix_mode(rp, o);
	held_add(o, rp->cur, vm_bo);
	fprintf(rp->out, "vm_bo %s refs=%d\n", o->name, drv_vm_bo_refs(vm_bo));
	return 0;
}

/* The reference a put drops: one obtained in the current VM. */
static int held_ref_of(struct replay *rp, const struct cmd *c, struct robj **o,
		       struct held_ref **h)
{
	int ret = arg_obj(rp, c, o);

	if (ret)
		return ret;
	*h = held_find(*o, rp->cur);
	if (!*h)
		return refuse(rp, EINVAL,
			      "no reference to '%s' was obtained in VM '%s'",
			      (*o)->name, rp->cur->name);
	return 0;
}

static int cmd_put(struct replay *rp, const struct cmd *c)
{
	struct held_ref *h;
	struct robj *o;
	int refs, ret = held_ref_of(rp, c, &o, &h);

	if (ret)
		return ret;
	refs = drv_put(rp->cur->vm, h->vm_bo);
	held_drop(o, h);
	if (refs)
		fprintf(rp->out, "vm_bo %s refs=%d\n", o->name, refs);
	else
		fprintf(rp->out, "vm_bo %s freed\n", o->name);
	return 0;
}

static int cmd_put_deferred(struct replay *rp, const struct cmd *c)
{
	struct held_ref *h;
	struct robj *o;
	int refs, ret;

	ret = arg_obj(rp, c, &o);
	if (ret)
		return ret;
	if (vm_staged(rp->cur))
		return refuse(rp, EINVAL,
			      "put-deferred needs an immediate-mode VM; VM "
			      "'%s' is staged (use put)",
			      rp->cur->name);
	ret = held_ref_of(rp, c, &o, &h);
	if (ret)
		return ret;
	refs = drv_put_deferred(h->vm_bo);
	held_drop(o, h);
	if (refs)
		fprintf(rp->out, "vm_bo %s refs=%d\n", o->name, refs);
	else
		fprintf(rp->out, "vm_bo %s deferred\n", o->name);
	return 0;
}

static int cmd_cleanup(struct replay *rp)
{
	rp->freed.n = 0;
	drv_cleanup(rp->cur->vm, true);
	print_sorted_names(rp->out, "freed", rp->freed.v, rp->freed.n);
	rp->freed.n = 0;
	return 0;
}

/* ---- commands: validation and state --------------------------------------- */

static int cmd_validate(struct replay *rp)
{
	int ret;

	rp->validated.n = 0;
	ret = drv_validate(rp->cur->vm);
	if (!ret)
		print_sorted_names(rp->out, "validate", rp->validated.v,
				   rp->validated.n);
	rp->validated.n = 0;
	if (ret)
		return driver_failed(rp, ret, "validate", 0, 0);
	return 0;
}

static int cmd_state(struct replay *rp)
{
	size_t i;

	objs_sort(rp);
	for (i = 0; i < rp->nobjs; i++) {
		struct drv_bo_state st;

		if (drv_bo_state(rp->cur->vm, &rp->objs[i]->base, &st))
			print_bo_state(rp->out, rp->objs[i]->name, &st);
	}
	fputs("end\n", rp->out);
	return 0;
}

/* ---- dispatch ------------------------------------------------------------ */

static int run_cmd(struct replay *rp, const struct cmd *c)
{
	bool first = !rp->command_seen;
	int ret;

	rp->command_seen = true;
	if (!rp->have_vm) {
		if (first && c->kind == CMD_VM)
			return cmd_vm(rp, c, true);
		return refuse(rp, EINVAL,
			      "the trace has no VM: its first command must be "
			      "a vm that succeeds");
	}

	/* Commands that need no current VM. */
	switch (c->kind) {
	case CMD_VM:
		return cmd_vm(rp, c, false);
	case CMD_USE:
		return cmd_use(rp, c);
	case CMD_CLOSE:
		return cmd_close(rp, c);
	case CMD_BO:
		return cmd_bo(rp, c);
	case CMD_EVICT:
		return cmd_evict(rp, c);
	default:
		break;
	}

	ret = need_cur(rp);
	if (ret)
		return ret;
	switch (c->kind) {
	case CMD_MAP:
		return cmd_map(rp, c);
	case CMD_UNMAP:
	case CMD_PREFETCH:
	case CMD_MADVISE:
		return cmd_range(rp, c);
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
	case CMD_VALIDATE:
		return cmd_validate(rp);
	case CMD_STATE:
		return cmd_state(rp);
	default:
		return refuse(rp, EINVAL, "unhandled command");
	}
}

/* A line that did not parse: echoed as far as it goes, then refused. */
static void parse_failed(struct replay *rp, const struct cmd *c,
			 const char *msg)
{
	trace_echo(rp->out, c);
	fputs("error EINVAL\n", rp->out);
	fprintf(rp->err, "%s:%lu: %s\n", rp->name, rp->lineno, msg);
	rp->st.parse_errors++;
	rp->st.errors++;
}

static void run_line(struct replay *rp, struct trace_line *l)
{
	char msg[160];
	struct cmd c;
	int ret;

	ret = trace_parse(l->buf, &c, msg, sizeof(msg));
	if (l->bad) {
		parse_failed(rp, &c, l->bad);
		return;
	}
	if (ret == 0)
		return;
	if (ret < 0) {
		parse_failed(rp, &c, msg);
		return;
	}

	trace_echo(rp->out, &c);
	rp->st.commands++;
	rp->why[0] = '\0';
	ret = run_cmd(rp, &c);
	if (ret) {
		const char *ename = errno_name(-ret);

		fprintf(rp->out, "error %s\n", ename);
		fprintf(rp->err, "%s:%lu: error %s: %s\n", rp->name, rp->lineno,
			ename, rp->why[0] ? rp->why : c.tok[0]);
		rp->st.errors++;
	}
	if (rp->obs && rp->obs->step) {
		struct replay_step step = {
			.index = rp->st.commands - 1,
			.lineno = rp->lineno,
			.cmd = &c,
			.failed = ret != 0,
			.cur = rp->cur,
			.vms = rp->vms,
			.nvms = rp->nvms,
		};

		rp->obs->step(rp->obs->arg, &step);
	}
	if (rp->track_fault && !rp->st.fault_line && gpuvm_alloc_fault_fired())
		rp->st.fault_line = rp->lineno;
}

/* ---- teardown ----------------------------------------------------------- */

/* Every open VM in creation order, then the objects, then the VMs'
 * reservation objects (private objects share them). Cannot fail. */
static void teardown(struct replay *rp)
{
	size_t i;

	for (i = 0; i < rp->nvms; i++)
		if (rp->vms[i]->vm)
			vm_teardown(rp, rp->vms[i]);
	for (i = 0; i < rp->nobjs; i++)
		gpuvm_gem_object_put(&rp->objs[i]->base);
	for (i = 0; i < rp->nvms; i++) {
		gpuvm_gem_object_put(rp->vms[i]->r_obj);
		free(rp->vms[i]->name);
		free(rp->vms[i]);
	}
	free(rp->vms);
	free(rp->objs);
	free(rp->hash);
	free(rp->freed.v);
	free(rp->validated.v);
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
	struct trace_line *line;
	int ret = REPLAY_OK, rd;
	long live;

	memset(&rp, 0, sizeof(rp));
	rp.name = name ? name : "-";
	rp.out = out;
	rp.err = err;
	rp.sink = (struct drv_sink){ .ops = sink_ops,
				     .freed = sink_freed,
				     .validated = sink_validated,
				     .arg = &rp };
	rp.track_fault = !gpuvm_alloc_fault_fired();
	rp.obs = opts ? opts->observer : NULL;
	if (opts && opts->warn_handler) {
		warn_stream = err;
		gpuvm_warn_set_handler(print_warning, NULL);
	}

	line = xrealloc(NULL, 1, sizeof(*line));
	line->lineno = 0;
	while ((rd = trace_read_line(in, line)) > 0) {
		rp.lineno = line->lineno;
		rp.st.lines++;
		run_line(&rp, line);
	}
	if (rd == TRACE_READ_ERROR)
		fprintf(err, "%s:%lu: cannot read the trace to the end: %s\n",
			rp.name, line->lineno + 1, strerror(errno));
	else if (rd == TRACE_TOO_LONG)
		fprintf(err,
			"%s:%lu: line longer than %u bytes: the trace cannot "
			"be read to the end\n",
			rp.name, line->lineno, TRACE_MAX_PHYSICAL_LINE);
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
	else if (opts && opts->strict && rp.st.errors)
		ret = REPLAY_STRICT;
	if (rd < 0)
		ret = REPLAY_USAGE;
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
