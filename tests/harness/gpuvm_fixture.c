// SPDX-License-Identifier: MIT
/* The VM test fixture; see gpuvm_fixture.h for the conventions. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpuvm_fixture.h"
#include "harness.h"

/* ---- failure context --------------------------------------------------- */

static char context[256];

void fx_context(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(context, sizeof(context), fmt, ap);
	va_end(ap);
}

/* "[context] " or "", to start failure messages with. */
static const char *ctx(void)
{
	static char buf[sizeof(context) + 4];

	if (!context[0])
		return "";
	snprintf(buf, sizeof(buf), "[%s] ", context);
	return buf;
}

#define fx_fail(fmt, ...) fail_msg("%s" fmt, ctx(), ##__VA_ARGS__)

/* ---- the VM ------------------------------------------------------------ */

/* Objects of every fixture VM still alive (each object counts once). */
static unsigned int objs_alive;

static void fx_vm_free(struct gpuvm *gpuvm)
{
	/* The memory is freed by fx_vm_destroy(), which checks this ran. */
	fx_vm_of(gpuvm)->vm_free_calls++;
}

struct fx_vm *fx_vm_create(enum gpuvm_flags flags, uint64_t start,
			   uint64_t range, uint64_t kstart, uint64_t krange)
{
	struct fx_vm *fx = calloc(1, sizeof(*fx));
	struct gpuvm_gem_object *r_obj;

	assert_non_null(fx);
	fx_context("%s", ""); /* a failed test may have left one */
	r_obj = gpuvm_resv_object_alloc();
	assert_non_null(r_obj);
	fx->ops.vm_free = fx_vm_free;
	fx->ops.sm_step_map = fx_step_map;
	fx->ops.sm_step_remap = fx_step_remap;
	fx->ops.sm_step_unmap = fx_step_unmap;
	gpuvm_init(&fx->base, "fixture", flags, r_obj, start, range, kstart,
		   krange, &fx->ops);
	/* The VM holds the resv object from now on. */
	gpuvm_gem_object_put(r_obj);
	return fx;
}

void fx_vm_destroy(struct fx_vm *fx)
{
	unsigned int i, alive;

	fx_clear(fx);
	if (gpuvm_immediate_mode(&fx->base))
		gpuvm_bo_deferred_cleanup(&fx->base);
	for (i = 0; i < ARRAY_SIZE(fx->objs); i++) {
		if (!fx->objs[i])
			continue;
		alive = objs_alive;
		gpuvm_gem_object_put(&fx->objs[i]->base);
		if (objs_alive != alive - 1)
			fx_fail("object '%c' still referenced at VM teardown "
				"(a vm_bo leaked?)",
				i < 26 ? 'a' + i : 'A' + i - 26);
		fx->objs[i] = NULL;
	}
	assert_int_equal(fx->vm_free_calls, 0);
	gpuvm_put(&fx->base);
	assert_int_equal(fx->vm_free_calls, 1);
	free(fx);
}

/* ---- GEM factory ------------------------------------------------------- */

static void fx_obj_free(struct gpuvm_gem_object *obj)
{
	objs_alive--;
	free(gpuvm_container_of(obj, struct fx_obj, base));
}

static const struct gpuvm_gem_object_funcs fx_obj_funcs = {
	.free = fx_obj_free,
};

static int obj_slot(char name)
{
	if (name >= 'a' && name <= 'z')
		return name - 'a';
	if (name >= 'A' && name <= 'Z')
		return 26 + name - 'A';
	return -1;
}

struct gpuvm_gem_object *fx_obj(struct fx_vm *fx, char name)
{
	int slot = obj_slot(name);
	struct fx_obj *o;

	if (name == '-')
		return NULL;
	if (slot < 0)
		fx_fail("bad object name '%c'", name);
	if (fx->objs[slot])
		return &fx->objs[slot]->base;

	o = calloc(1, sizeof(*o));
	assert_non_null(o);
	o->name = name;
	o->fx = fx;
	o->external = slot >= 26;
	if (o->external)
		gpuvm_gem_object_init(&o->base, &fx_obj_funcs, 1 << 20);
	else
		gpuvm_gem_object_init_shared_resv(&o->base, &fx_obj_funcs,
						  1 << 20,
						  gpuvm_resv(&fx->base));
	objs_alive++;
	fx->objs[slot] = o;
	return &o->base;
}

char fx_obj_name(struct fx_vm *fx, const struct gpuvm_gem_object *obj)
{
	unsigned int i;

	if (!obj)
		return '-';
	for (i = 0; i < ARRAY_SIZE(fx->objs); i++)
		if (fx->objs[i] && &fx->objs[i]->base == obj)
			return fx->objs[i]->name;
	return '?';
}

/* ---- VAs --------------------------------------------------------------- */

struct gpuva *fx_va_new(uint64_t addr, uint64_t range,
			struct gpuvm_gem_object *obj, uint64_t offset)
{
	struct fx_va *v = calloc(1, sizeof(*v));

	assert_non_null(v);
	v->magic = FX_VA_MAGIC;
	gpuvm_list_init(&v->base.gem.entry);
	v->base.va.addr = addr;
	v->base.va.range = range;
	v->base.gem.obj = obj;
	v->base.gem.offset = offset;
	return &v->base;
}

static struct fx_va *to_fx_va(struct gpuva *va)
{
	struct fx_va *v = gpuvm_container_of(va, struct fx_va, base);

	if (v->magic != FX_VA_MAGIC)
		fx_fail("VA [%" PRIu64 ",+%" PRIu64 ") was not made by "
			"fx_va_new()",
			va->va.addr, va->va.range);
	return v;
}

void fx_va_free(struct gpuva *va)
{
	struct fx_va *v;

	if (!va)
		return;
	v = to_fx_va(va);
	assert_null(va->vm_bo);
	v->magic = 0;
	free(v);
}

struct gpuva *fx_va_insert(struct fx_vm *fx, uint64_t addr, uint64_t range,
			   struct gpuvm_gem_object *obj, uint64_t offset)
{
	struct gpuva *va = fx_va_new(addr, range, obj, offset);

	assert_int_equal(gpuva_insert(&fx->base, va), 0);
	assert_ptr_equal(va->vm, &fx->base);
	if (fx->link && obj)
		fx_va_link(fx, va);
	return va;
}

void fx_va_destroy(struct fx_vm *fx, struct gpuva *va)
{
	if (va->vm_bo)
		fx_va_unlink(fx, va);
	gpuva_remove(va);
	fx_va_free(va);
}

static const char *skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	return p;
}

static const char *parse_u64(const char *p, uint64_t *out, const char *all)
{
	char *end;

	p = skip_space(p);
	*out = strtoull(p, &end, 0);
	if (end == p)
		fx_fail("layout '%s': number expected at '%s'", all, p);
	return end;
}

static const char *expect_char(const char *p, char c, const char *all)
{
	p = skip_space(p);
	if (*p != c)
		fx_fail("layout '%s': '%c' expected at '%s'", all, c, p);
	return p + 1;
}

void fx_insert_layout(struct fx_vm *fx, const char *layout)
{
	const char *p = layout;

	for (;;) {
		uint64_t start, end, offset = 0;
		char name;

		p = skip_space(p);
		if (!*p)
			break;
		name = *p++;
		p = expect_char(p, '[', layout);
		p = parse_u64(p, &start, layout);
		p = expect_char(p, ',', layout);
		p = parse_u64(p, &end, layout);
		p = expect_char(p, ')', layout);
		p = skip_space(p);
		if (*p == '@')
			p = parse_u64(p + 1, &offset, layout);
		if (end <= start)
			fx_fail("layout '%s': empty VA", layout);
		fx_va_insert(fx, start, end - start, fx_obj(fx, name), offset);
		p = skip_space(p);
		if (*p == ',' || *p == ';')
			p++;
	}
}

static bool is_kernel_node(struct fx_vm *fx, struct gpuva *va)
{
	return va == &fx->base.kernel_alloc_node;
}

void fx_clear(struct fx_vm *fx)
{
	struct gpuva *va, *next;

	gpuvm_for_each_va_safe(va, next, &fx->base) {
		if (!is_kernel_node(fx, va))
			fx_va_destroy(fx, va);
	}
}

unsigned int fx_va_count(struct fx_vm *fx)
{
	struct gpuva *va;
	unsigned int n = 0;

	gpuvm_for_each_va(va, &fx->base)
		n += !is_kernel_node(fx, va);
	return n;
}

/* snprintf onto the end of @buf, failing the test on truncation. */
static void GPUVM_PRINTF(3, 4)
	append(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - len)
		fx_fail("fixture text buffer too small");
}

static void append_piece(struct fx_vm *fx, char *buf, size_t size,
			 const struct gpuva_op_map *m)
{
	append(buf, size, "%c [%" PRIu64 ",%" PRIu64 ") @%" PRIu64,
	       fx_obj_name(fx, m->gem.obj), m->va.addr,
	       m->va.addr + m->va.range, m->gem.offset);
}

static struct gpuva_op_map va_as_map(const struct gpuva *va)
{
	struct gpuva_op_map m;

	m.va.addr = va->va.addr;
	m.va.range = va->va.range;
	m.gem.obj = va->gem.obj;
	m.gem.offset = va->gem.offset;
	return m;
}

char *fx_tree_format(struct fx_vm *fx, char *buf, size_t size)
{
	struct gpuva *va;
	uint64_t prev_end = 0;
	bool first = true;

	buf[0] = '\0';
	gpuvm_for_each_va(va, &fx->base) {
		struct gpuva_op_map m = va_as_map(va);

		if (va->va.range == 0)
			fx_fail("empty VA in the VA space");
		if (!first && va->va.addr < prev_end)
			fx_fail("VA list out of order or overlapping at "
				"%" PRIu64,
				va->va.addr);
		if (va->vm != &fx->base)
			fx_fail("VA at %" PRIu64 " points at another VM",
				va->va.addr);
		if (gpuva_find(&fx->base, va->va.addr, va->va.range) != va)
			fx_fail("VA [%" PRIu64 ",+%" PRIu64 ") not found by "
				"gpuva_find",
				va->va.addr, va->va.range);
		prev_end = va->va.addr + va->va.range;
		if (is_kernel_node(fx, va)) {
			first = false;
			continue;
		}
		if (buf[0])
			append(buf, size, ", ");
		append_piece(fx, buf, size, &m);
		first = false;
	}
	return buf;
}

void fx_assert_tree(struct fx_vm *fx, const char *expected)
{
	char buf[FX_TEXT_MAX];

	fx_tree_format(fx, buf, sizeof(buf));
	if (strcmp(buf, expected))
		fx_fail("VA space differs\n  expected: %s\n  actual:   %s",
			expected, buf);
	if (fx->link)
		fx_check_links(fx);
}

/* ---- linking ----------------------------------------------------------- */

/*
 * Staged mode: the GEM list lock is the object's resv. Lock the VM resv
 * with it, so that a vm_bo put that turns out final is allowed with
 * GPUVM_RESV_PROTECTED (for private objects they are the same lock).
 */
static struct gpuvm_exec fx_exec;
static bool fx_exec_active;

void fx_gem_list_lock(struct fx_vm *fx, struct gpuvm_gem_object *obj)
{
	int ret;

	if (gpuvm_immediate_mode(&fx->base)) {
		gpuvm_gem_gpuva_lock(obj);
		return;
	}
	assert_false(fx_exec_active);
	fx_exec_active = true;
	gpuvm_exec_init(&fx_exec, GPUVM_EXEC_IGNORE_DUPLICATES, 2);
	gpuvm_exec_until_all_locked(&fx_exec) {
		ret = gpuvm_exec_lock_obj(&fx_exec, gpuvm_resv_obj(&fx->base));
		gpuvm_exec_retry_on_contention(&fx_exec);
		assert_int_equal(ret, 0);
		ret = gpuvm_exec_lock_obj(&fx_exec, obj);
		gpuvm_exec_retry_on_contention(&fx_exec);
		assert_int_equal(ret, 0);
	}
}

void fx_gem_list_unlock(struct fx_vm *fx, struct gpuvm_gem_object *obj)
{
	if (gpuvm_immediate_mode(&fx->base)) {
		gpuvm_gem_gpuva_unlock(obj);
		return;
	}
	assert_true(fx_exec_active);
	gpuvm_exec_fini(&fx_exec);
	fx_exec_active = false;
}

void fx_va_link(struct fx_vm *fx, struct gpuva *va)
{
	struct gpuvm *gpuvm = &fx->base;
	struct gpuvm_gem_object *obj = va->gem.obj;
	struct gpuvm_bo *vm_bo;

	if (!obj)
		return;
	if (!gpuvm_immediate_mode(gpuvm)) {
		fx_gem_list_lock(fx, obj);
		vm_bo = gpuvm_bo_obtain_locked(gpuvm, obj);
		assert_false(gpuvm_is_err(vm_bo));
		gpuvm_bo_extobj_add(vm_bo); /* VM resv held via the exec */
		gpuva_link(va, vm_bo);
		/* The VA holds its own reference now. */
		assert_false(gpuvm_bo_put(vm_bo));
		fx_gem_list_unlock(fx, obj);
		return;
	}

	vm_bo = gpuvm_bo_create(gpuvm, obj);
	assert_non_null(vm_bo);
	vm_bo = gpuvm_bo_obtain_prealloc(vm_bo);
	if (gpuvm_resv_protected(gpuvm)) {
		assert_int_equal(gpuvm_dma_resv_lock(gpuvm_resv(gpuvm), NULL),
				 0);
		gpuvm_bo_extobj_add(vm_bo);
		gpuvm_dma_resv_unlock(gpuvm_resv(gpuvm));
	} else {
		gpuvm_bo_extobj_add(vm_bo);
	}
	gpuvm_gem_gpuva_lock(obj);
	gpuva_link(va, vm_bo);
	gpuvm_gem_gpuva_unlock(obj);
	assert_false(gpuvm_bo_put_deferred(vm_bo));
}

void fx_va_link_to(struct fx_vm *fx, struct gpuva *va, struct gpuvm_bo *vm_bo)
{
	fx_gem_list_lock(fx, va->gem.obj);
	gpuva_link(va, vm_bo);
	fx_gem_list_unlock(fx, va->gem.obj);
}

void fx_va_unlink(struct fx_vm *fx, struct gpuva *va)
{
	struct gpuvm_gem_object *obj = va->gem.obj;

	if (!obj)
		return;
	if (gpuvm_immediate_mode(&fx->base)) {
		gpuva_unlink_defer(va);
		return;
	}
	fx_gem_list_lock(fx, obj);
	gpuva_unlink(va);
	fx_gem_list_unlock(fx, obj);
}

struct gpuvm_bo *fx_vm_bo(struct fx_vm *fx, struct gpuvm_gem_object *obj)
{
	struct gpuvm_bo *vm_bo, *found = NULL;

	fx_gem_list_lock(fx, obj);
	gpuvm_gem_for_each_gpuvm_bo(vm_bo, obj) {
		if (vm_bo->vm == &fx->base)
			found = vm_bo;
	}
	fx_gem_list_unlock(fx, obj);
	return found;
}

static unsigned int vas_of(struct fx_vm *fx, struct gpuvm_gem_object *obj)
{
	struct gpuva *va;
	unsigned int n = 0;

	gpuvm_for_each_va(va, &fx->base)
		n += !is_kernel_node(fx, va) && va->gem.obj == obj;
	return n;
}

void fx_check_links(struct fx_vm *fx)
{
	struct gpuvm_gem_object *obj;
	struct gpuvm_bo *vm_bo;
	struct gpuva *va;
	unsigned int i, listed;

	gpuvm_for_each_va(va, &fx->base) {
		if (is_kernel_node(fx, va))
			continue;
		if (!va->gem.obj) {
			if (va->vm_bo)
				fx_fail("VA at %" PRIu64 " without an object "
					"is linked",
					va->va.addr);
			continue;
		}
		vm_bo = fx_vm_bo(fx, va->gem.obj);
		if (!vm_bo || va->vm_bo != vm_bo)
			fx_fail("VA at %" PRIu64 " is not linked to the "
				"vm_bo of its object",
				va->va.addr);
	}
	for (i = 0; i < ARRAY_SIZE(fx->objs); i++) {
		if (!fx->objs[i])
			continue;
		obj = &fx->objs[i]->base;
		vm_bo = fx_vm_bo(fx, obj);
		if (!vm_bo) {
			if (vas_of(fx, obj))
				fx_fail("object '%c' is mapped but has no "
					"vm_bo",
					fx->objs[i]->name);
			continue;
		}
		assert_ptr_equal(vm_bo->obj, obj);
		listed = 0;
		fx_gem_list_lock(fx, obj);
		gpuvm_bo_for_each_va(va, vm_bo) {
			listed++;
			if (va->vm_bo != vm_bo)
				fx_fail("vm_bo of '%c' lists a VA linked "
					"elsewhere",
					fx->objs[i]->name);
		}
		fx_gem_list_unlock(fx, obj);
		if (listed != vas_of(fx, obj))
			fx_fail("vm_bo of '%c' lists %u VAs, %u are mapped",
				fx->objs[i]->name, listed, vas_of(fx, obj));
	}
}

/* ---- recorded steps ---------------------------------------------------- */

void fx_recorder_init(struct fx_recorder *rec, struct fx_vm *fx, bool apply)
{
	memset(rec, 0, sizeof(*rec));
	rec->fx = fx;
	rec->apply = apply;
	rec->fail_at = -1;
}

void fx_step_from_op(struct fx_step *step, const struct gpuva_op *op)
{
	const struct gpuva_op_remap *r;

	memset(step, 0, sizeof(*step));
	step->kind = op->op;
	switch (op->op) {
	case GPUVA_OP_MAP:
		step->map = op->map;
		break;
	case GPUVA_OP_UNMAP:
		step->va = op->unmap.va;
		step->keep = op->unmap.keep;
		break;
	case GPUVA_OP_REMAP:
		r = &op->remap;
		assert_non_null(r->unmap);
		if (!r->prev && !r->next)
			fx_fail("REMAP without prev and next");
		step->va = r->unmap->va;
		step->keep = r->unmap->keep;
		step->has_prev = r->prev != NULL;
		step->has_next = r->next != NULL;
		if (r->prev)
			step->prev = *r->prev;
		if (r->next)
			step->next = *r->next;
		break;
	case GPUVA_OP_PREFETCH:
		step->va = op->prefetch.va;
		break;
	default:
		fx_fail("unexpected op type %d", (int)op->op);
	}
	if (step->va)
		step->va_was = va_as_map(step->va);
}

/* A step names an existing VA: it must be in the VA space right now. */
static void check_named_va(struct fx_vm *fx, const struct gpuva *va)
{
	if (!va)
		return;
	if (gpuva_find(&fx->base, va->va.addr, va->va.range) != va)
		fx_fail("op names VA [%" PRIu64 ",+%" PRIu64
			") that is not in the VA space",
			va->va.addr, va->va.range);
}

static int record_step(struct gpuva_op *op, void *priv, enum gpuva_op_type kind)
{
	struct fx_recorder *rec = priv;
	unsigned int call = rec->calls++;

	if (op->op != kind)
		fx_fail("step of type %d passed to the callback for %d",
			(int)op->op, (int)kind);
	if (rec->n >= FX_MAX_STEPS)
		fx_fail("more than %d steps", FX_MAX_STEPS);
	fx_step_from_op(&rec->steps[rec->n], op);
	check_named_va(rec->fx, rec->steps[rec->n].va);
	rec->n++;
	if ((int)call == rec->fail_at)
		return rec->fail_ret;
	if (rec->apply)
		fx_apply_op(rec->fx, op, true, NULL, NULL);
	return 0;
}

int fx_step_map(struct gpuva_op *op, void *priv)
{
	return record_step(op, priv, GPUVA_OP_MAP);
}

int fx_step_remap(struct gpuva_op *op, void *priv)
{
	return record_step(op, priv, GPUVA_OP_REMAP);
}

int fx_step_unmap(struct gpuva_op *op, void *priv)
{
	return record_step(op, priv, GPUVA_OP_UNMAP);
}

void fx_record_ops(struct fx_recorder *rec, const struct gpuva_ops *ops)
{
	const struct gpuva_op *op;

	gpuva_for_each_op(op, ops) {
		if (rec->n >= FX_MAX_STEPS)
			fx_fail("more than %d ops", FX_MAX_STEPS);
		fx_step_from_op(&rec->steps[rec->n++], op);
	}
}

char *fx_steps_format(struct fx_vm *fx, const struct fx_step *steps,
		      unsigned int n, char *buf, size_t size)
{
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		const struct fx_step *s = &steps[i];

		if (i)
			append(buf, size, "; ");
		switch (s->kind) {
		case GPUVA_OP_MAP:
			append(buf, size, "MAP ");
			append_piece(fx, buf, size, &s->map);
			break;
		case GPUVA_OP_UNMAP:
			append(buf, size, "UNMAP ");
			append_piece(fx, buf, size, &s->va_was);
			append(buf, size, " keep=%d", s->keep);
			break;
		case GPUVA_OP_REMAP:
			append(buf, size, "REMAP ");
			append_piece(fx, buf, size, &s->va_was);
			append(buf, size, " keep=%d prev=", s->keep);
			if (s->has_prev)
				append_piece(fx, buf, size, &s->prev);
			else
				append(buf, size, "-");
			append(buf, size, " next=");
			if (s->has_next)
				append_piece(fx, buf, size, &s->next);
			else
				append(buf, size, "-");
			break;
		case GPUVA_OP_PREFETCH:
			append(buf, size, "PREFETCH ");
			append_piece(fx, buf, size, &s->va_was);
			break;
		default:
			append(buf, size, "DRIVER");
			break;
		}
	}
	return buf;
}

static void assert_text(const char *what, const char *expected,
			const char *actual)
{
	if (strcmp(expected, actual))
		fx_fail("%s differ\n  expected: %s\n  actual:   %s", what,
			expected, actual);
}

void fx_assert_steps(struct fx_recorder *rec, const char *expected)
{
	char buf[FX_TEXT_MAX];

	fx_steps_format(rec->fx, rec->steps, rec->n, buf, sizeof(buf));
	assert_text("steps", expected, buf);
}

void fx_assert_ops(struct fx_vm *fx, const struct gpuva_ops *ops,
		   const char *expected)
{
	/* Large: keep it off the stack. */
	static struct fx_recorder recorder;
	struct fx_recorder *rec = &recorder;
	char buf[FX_TEXT_MAX];
	unsigned int i;

	assert_false(gpuvm_is_err_or_null(ops));
	fx_recorder_init(rec, fx, false);
	fx_record_ops(rec, ops);
	for (i = 0; i < rec->n; i++)
		check_named_va(fx, rec->steps[i].va);
	fx_steps_format(fx, rec->steps, rec->n, buf, sizeof(buf));
	assert_text("ops", expected, buf);
}

unsigned int fx_ops_count(const struct gpuva_ops *ops)
{
	const struct gpuva_op *op;
	unsigned int n = 0;

	gpuva_for_each_op(op, ops)
		n++;
	return n;
}

/* ---- applying ops ------------------------------------------------------ */

static struct gpuva *map_new_va(struct fx_vm *fx, const struct gpuva_op_map *m)
{
	struct gpuva *va = fx_va_new(0, 0, NULL, 0);

	assert_int_equal(gpuva_map_checked(&fx->base, va, m), 0);
	return va;
}

static void retire(struct gpuva *old, bool free_old, struct gpuva **graveyard,
		   unsigned int *nr_dead)
{
	if (free_old) {
		fx_va_free(old);
		return;
	}
	if (*nr_dead >= FX_MAX_STEPS)
		fx_fail("graveyard full");
	graveyard[(*nr_dead)++] = old;
}

/* Insert a remnant the way gpuva_remap() does, and check it worked. */
static struct gpuva *new_remnant(const struct gpuva_op_map *m)
{
	return m ? fx_va_new(0, 0, NULL, 0) : NULL;
}

static void check_inserted(struct fx_vm *fx, const struct gpuva *va,
			   const struct gpuva_op_map *m)
{
	if (!va)
		return;
	assert_int_equal(va->va.addr, m->va.addr);
	assert_int_equal(va->va.range, m->va.range);
	assert_ptr_equal(va->gem.obj, m->gem.obj);
	assert_int_equal(va->gem.offset, m->gem.offset);
	if (gpuva_find(&fx->base, m->va.addr, m->va.range) != va)
		fx_fail("remnant [%" PRIu64 ",+%" PRIu64 ") was not inserted",
			m->va.addr, m->va.range);
}

void fx_apply_op(struct fx_vm *fx, const struct gpuva_op *op, bool free_old,
		 struct gpuva **graveyard, unsigned int *nr_dead)
{
	struct gpuva *old, *prev, *next, *va;
	struct gpuvm_bo *vm_bo;

	switch (op->op) {
	case GPUVA_OP_MAP:
		va = map_new_va(fx, &op->map);
		if (fx->link && va->gem.obj)
			fx_va_link(fx, va);
		break;
	case GPUVA_OP_REMAP:
		old = op->remap.unmap->va;
		vm_bo = old->vm_bo;
		prev = new_remnant(op->remap.prev);
		next = new_remnant(op->remap.next);
		gpuva_remap(prev, next, &op->remap);
		check_inserted(fx, prev, op->remap.prev);
		check_inserted(fx, next, op->remap.next);
		/* Link the remnants first: the old VA may hold the last
		 * reference on the vm_bo. */
		if (vm_bo) {
			if (prev)
				fx_va_link_to(fx, prev, vm_bo);
			if (next)
				fx_va_link_to(fx, next, vm_bo);
			fx_va_unlink(fx, old);
		}
		retire(old, free_old, graveyard, nr_dead);
		break;
	case GPUVA_OP_UNMAP:
		old = op->unmap.va;
		if (old->vm_bo)
			fx_va_unlink(fx, old);
		gpuva_unmap(&op->unmap);
		retire(old, free_old, graveyard, nr_dead);
		break;
	case GPUVA_OP_PREFETCH:
		break;
	default:
		fx_fail("cannot apply op type %d", (int)op->op);
	}
}

void fx_apply_ops(struct fx_vm *fx, const struct gpuva_ops *ops)
{
	struct gpuva *graveyard[FX_MAX_STEPS];
	const struct gpuva_op *op;
	unsigned int i, nr_dead = 0;

	gpuva_for_each_op(op, ops)
		fx_apply_op(fx, op, false, graveyard, &nr_dead);
	for (i = 0; i < nr_dead; i++)
		fx_va_free(graveyard[i]);
}

/* ---- counted op_alloc / op_free ---------------------------------------- */

unsigned long fx_op_allocs, fx_op_frees;

struct gpuva_op *fx_op_alloc(void)
{
	struct fx_op *o = gpuvm_kzalloc(sizeof(*o), GPUVM_GFP_KERNEL);

	if (!o)
		return NULL;
	o->magic = FX_OP_MAGIC;
	fx_op_allocs++;
	return &o->op;
}

void fx_op_free(struct gpuva_op *op)
{
	struct fx_op *o = gpuvm_container_of(op, struct fx_op, op);

	if (o->magic != FX_OP_MAGIC)
		fx_fail("op_free of an op fx_op_alloc did not make");
	o->magic = 0;
	fx_op_frees++;
	gpuvm_kfree(o);
}

void fx_use_counted_ops(struct fx_vm *fx)
{
	fx->ops.op_alloc = fx_op_alloc;
	fx->ops.op_free = fx_op_free;
	fx_op_allocs = 0;
	fx_op_frees = 0;
}

/* ---- modes and state queries ------------------------------------------- */

const struct fx_mode fx_modes[FX_NR_MODES] = {
	{ "staged", 0 },
	{ "staged+resv-protected", GPUVM_RESV_PROTECTED },
	{ "immediate", GPUVM_IMMEDIATE_MODE },
	{ "immediate+resv-protected",
	  GPUVM_IMMEDIATE_MODE | GPUVM_RESV_PROTECTED },
};

int fx_vm_kref(const struct gpuvm *gpuvm)
{
	return __atomic_load_n(&gpuvm->kref, __ATOMIC_RELAXED);
}

int fx_bo_kref(const struct gpuvm_bo *vm_bo)
{
	return __atomic_load_n(&vm_bo->kref, __ATOMIC_RELAXED);
}

unsigned int fx_list_count(const struct gpuvm_list_head *head)
{
	const struct gpuvm_list_head *pos;
	unsigned int n = 0;

	for (pos = head->next; pos != head; pos = pos->next)
		n++;
	return n;
}

static bool list_contains(const struct gpuvm_list_head *head,
			  const struct gpuvm_list_head *entry)
{
	const struct gpuvm_list_head *pos;

	for (pos = head->next; pos != head; pos = pos->next)
		if (pos == entry)
			return true;
	return false;
}

bool fx_bo_on_gem_list(const struct gpuvm_bo *vm_bo)
{
	return list_contains(&vm_bo->obj->gpuva.list, &vm_bo->list.entry.gem);
}

bool fx_bo_on_extobj(const struct gpuvm_bo *vm_bo)
{
	return list_contains(&vm_bo->vm->extobj.list,
			     &vm_bo->list.entry.extobj);
}

bool fx_bo_on_evict(const struct gpuvm_bo *vm_bo)
{
	return list_contains(&vm_bo->vm->evict.list, &vm_bo->list.entry.evict);
}

bool fx_bo_on_defer(const struct gpuvm_bo *vm_bo)
{
	const struct gpuvm_llist_node *node;

	for (node = vm_bo->vm->bo_defer.first; node; node = node->next)
		if (node == &vm_bo->list.entry.bo_defer)
			return true;
	return false;
}

unsigned int fx_defer_count(const struct gpuvm *gpuvm)
{
	const struct gpuvm_llist_node *node;
	unsigned int n = 0;

	for (node = gpuvm->bo_defer.first; node; node = node->next)
		n++;
	return n;
}

void fx_exec_lock_objs(struct gpuvm_exec *exec,
		       struct gpuvm_gem_object *const *objs, unsigned int n)
{
	unsigned int i;
	int ret;

	gpuvm_exec_init(exec, GPUVM_EXEC_IGNORE_DUPLICATES, n);
	gpuvm_exec_until_all_locked(exec) {
		for (i = 0; i < n; i++) {
			if (!objs[i])
				continue;
			ret = gpuvm_exec_lock_obj(exec, objs[i]);
			gpuvm_exec_retry_on_contention(exec);
			assert_int_equal(ret, 0);
		}
	}
}

void fx_vm_resv_lock(struct fx_vm *fx)
{
	assert_int_equal(gpuvm_dma_resv_lock(gpuvm_resv(&fx->base), NULL), 0);
}

void fx_vm_resv_unlock(struct fx_vm *fx)
{
	gpuvm_dma_resv_unlock(gpuvm_resv(&fx->base));
}

struct gpuvm_bo *fx_bo_obtain(struct fx_vm *fx, struct gpuvm_gem_object *obj)
{
	struct gpuvm_bo *vm_bo;

	if (gpuvm_immediate_mode(&fx->base)) {
		vm_bo = gpuvm_bo_create(&fx->base, obj);
		assert_non_null(vm_bo);
		return gpuvm_bo_obtain_prealloc(vm_bo);
	}
	fx_gem_list_lock(fx, obj);
	vm_bo = gpuvm_bo_obtain_locked(&fx->base, obj);
	fx_gem_list_unlock(fx, obj);
	assert_false(gpuvm_is_err_or_null(vm_bo));
	return vm_bo;
}

bool fx_bo_put_locked(struct fx_vm *fx, struct gpuvm_bo *vm_bo)
{
	struct gpuvm_gem_object *obj = vm_bo->obj;
	bool destroyed;

	if (!gpuvm_immediate_mode(&fx->base)) {
		/* The exec holds the VM resv and the object's resv. */
		fx_gem_list_lock(fx, obj);
		destroyed = gpuvm_bo_put(vm_bo);
		fx_gem_list_unlock(fx, obj);
		return destroyed;
	}
	/* The VM resv before the gpuva mutex: no resv under the mutex. */
	if (gpuvm_resv_protected(&fx->base))
		fx_vm_resv_lock(fx);
	gpuvm_gem_gpuva_lock(obj);
	destroyed = gpuvm_bo_put(vm_bo);
	gpuvm_gem_gpuva_unlock(obj);
	if (gpuvm_resv_protected(&fx->base))
		fx_vm_resv_unlock(fx);
	return destroyed;
}
