// SPDX-License-Identifier: MIT
#define _GNU_SOURCE /* program_invocation_short_name */
/* The driver-shaped request path bench_sm and bench_scale share. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_driver.h"

void bench_fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", program_invocation_short_name, what);
	exit(1);
}

static void vm_free(struct gpuvm *gpuvm)
{
	free(gpuvm);
}

const struct gpuvm_ops bench_vm_ops = {
	.vm_free = vm_free,
};

static void obj_free(struct gpuvm_gem_object *obj)
{
	free(obj);
}

const struct gpuvm_gem_object_funcs bench_obj_funcs = {
	.free = obj_free,
};

/* ---- the VA pool --------------------------------------------------------- */

void bench_pool_grow(struct bench_pool *p)
{
	struct bench_slab *s = malloc(sizeof(*s));
	unsigned int i;

	if (!s)
		bench_fail("out of memory");
	s->next = p->slabs;
	p->slabs = s;
	for (i = 0; i < BENCH_POOL_SLAB; i++) {
		/* Touch it now: first-touch page faults are not a request's. */
		memset(&s->vas[i], 0, sizeof(s->vas[i]));
		s->vas[i].next_free = p->free;
		p->free = &s->vas[i];
	}
	p->nr_free += BENCH_POOL_SLAB;
}

void bench_pool_reserve(struct bench_pool *p, unsigned long n)
{
	while (p->nr_free < n)
		bench_pool_grow(p);
}

void bench_pool_reorder(struct bench_pool *p)
{
	struct bench_slab *s;
	unsigned int i;

	if (p->out)
		bench_fail("VAs still out of the pool");
	p->free = NULL;
	for (s = p->slabs; s; s = s->next) {
		for (i = BENCH_POOL_SLAB; i-- > 0;) {
			s->vas[i].next_free = p->free;
			p->free = &s->vas[i];
		}
	}
}

void bench_pool_fini(struct bench_pool *p)
{
	struct bench_slab *s, *next;

	if (p->out)
		bench_fail("VAs still out of the pool");
	for (s = p->slabs; s; s = next) {
		next = s->next;
		free(s);
	}
	memset(p, 0, sizeof(*p));
}

/* ---- applying ops like a driver ------------------------------------------ */

static void apply_ops(struct gpuvm *vm, struct bench_pool *pool,
		      struct gpuva_ops *ops, struct gpuvm_bo *map_vm_bo)
{
	struct gpuva_op *op;

	gpuva_for_each_op(op, ops) {
		struct gpuva *va, *old, *prev, *next;
		struct gpuvm_gem_object *obj;
		struct gpuvm_bo *vm_bo;

		switch (op->op) {
		case GPUVA_OP_MAP:
			va = bench_pool_get(pool);
			if (gpuva_map_checked(vm, va, &op->map))
				bench_fail("insert failed");
			obj = va->gem.obj;
			gpuvm_gem_gpuva_lock(obj);
			gpuva_link(va, map_vm_bo);
			gpuvm_gem_gpuva_unlock(obj);
			break;
		case GPUVA_OP_REMAP:
			old = op->remap.unmap->va;
			obj = old->gem.obj;
			vm_bo = old->vm_bo;
			prev = op->remap.prev ? bench_pool_get(pool) : NULL;
			next = op->remap.next ? bench_pool_get(pool) : NULL;
			gpuva_remap(prev, next, &op->remap);
			/* The remnants first: old may hold the last ref. */
			gpuvm_gem_gpuva_lock(obj);
			if (prev)
				gpuva_link(prev, vm_bo);
			if (next)
				gpuva_link(next, vm_bo);
			gpuva_unlink(old);
			gpuvm_gem_gpuva_unlock(obj);
			bench_pool_put(pool, old);
			break;
		case GPUVA_OP_UNMAP:
			old = op->unmap.va;
			obj = old->gem.obj;
			gpuvm_gem_gpuva_lock(obj);
			gpuva_unlink(old);
			gpuvm_gem_gpuva_unlock(obj);
			gpuva_unmap(&op->unmap);
			bench_pool_put(pool, old);
			break;
		default:
			bench_fail("unexpected op");
		}
	}
}

void bench_do_request(struct gpuvm *vm, struct gpuvm_gem_object *const *objs,
		      struct bench_pool *pool, const struct bench_request *r)
{
	struct gpuvm_map_req req;
	struct gpuvm_gem_object *obj;
	struct gpuvm_bo *vm_bo;
	struct gpuva_ops *ops;

	if (!r->map) {
		ops = gpuvm_sm_unmap_ops_create(vm, r->addr, r->range);
		if (gpuvm_is_err(ops))
			bench_fail("unmap ops");
		apply_ops(vm, pool, ops, NULL);
		gpuva_ops_free(vm, ops);
		return;
	}

	obj = objs[r->obj];
	req.map.va.addr = r->addr;
	req.map.va.range = r->range;
	req.map.gem.obj = obj;
	req.map.gem.offset = r->offset;
	ops = gpuvm_sm_map_ops_create(vm, &req);
	if (gpuvm_is_err(ops))
		bench_fail("map ops");
	vm_bo = gpuvm_bo_create(vm, obj);
	if (!vm_bo)
		bench_fail("out of memory");
	vm_bo = gpuvm_bo_obtain_prealloc(vm_bo);
	apply_ops(vm, pool, ops, vm_bo);
	gpuvm_gem_gpuva_lock(obj);
	gpuvm_bo_put(vm_bo);
	gpuvm_gem_gpuva_unlock(obj);
	gpuva_ops_free(vm, ops);
}

/* Unlink and remove every VA of @vm, giving each back to @pool. */
static void remove_all(struct gpuvm *vm, struct bench_pool *pool)
{
	struct gpuva *va, *next;

	gpuvm_for_each_va_safe(va, next, vm) {
		struct gpuvm_gem_object *obj = va->gem.obj;

		gpuvm_gem_gpuva_lock(obj);
		gpuva_unlink(va);
		gpuvm_gem_gpuva_unlock(obj);
		gpuva_remove(va);
		bench_pool_put(pool, va);
	}
}

void bench_check_va_space(struct gpuvm *vm, const struct bench_pool *pool,
			  uint64_t vm_size)
{
	struct gpuva *va;
	uint64_t end = 0;
	unsigned long count = 0;

	gpuvm_for_each_va(va, vm) {
		if (va->va.addr < end || !va->va.range ||
		    va->va.addr + va->va.range > vm_size || va->vm != vm ||
		    !va->vm_bo || va->vm_bo->vm != vm ||
		    va->vm_bo->obj != va->gem.obj)
			bench_fail("inconsistent VA space");
		end = va->va.addr + va->va.range;
		count++;
	}
	if (count != pool->out)
		bench_fail("VA count differs from the pool");
}

void bench_empty_vm(struct gpuvm *vm, struct gpuvm_gem_object *const *objs,
		    unsigned int nr_objs, struct bench_pool *pool)
{
	unsigned int k;

	remove_all(vm, pool);
	if (pool->out)
		bench_fail("VAs left after emptying the VM");
	for (k = 0; k < nr_objs; k++)
		if (gpuvm_gem_object_refcount(objs[k]) != 1)
			bench_fail("vm_bo leaked");
}

void bench_vm_fini(struct gpuvm *vm, struct gpuvm_gem_object *const *objs,
		   unsigned int nr_objs, struct bench_pool *pool)
{
	unsigned int k;

	for (k = 0; k < nr_objs; k++)
		gpuvm_gem_object_put(objs[k]);
	if (__atomic_load_n(&vm->kref, __ATOMIC_RELAXED) != 1)
		bench_fail("VM reference leaked");
	gpuvm_put(vm);
	bench_pool_fini(pool);
}
