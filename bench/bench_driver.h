/* SPDX-License-Identifier: MIT */
/*
 * What bench_sm and bench_scale share: an immediate-mode driver's way of
 * applying one split/merge request (the replay tool's semantics), and the
 * pool of VA structures it takes them from, so that their allocation is
 * not what is measured.
 */
#ifndef GPUVM_BENCH_DRIVER_H
#define GPUVM_BENCH_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <gpuvm/gpuvm.h>

#define BENCH_POOL_SLAB 4096

struct bench_va {
	struct gpuva va;
	struct bench_va *next_free;
};

struct bench_slab {
	struct bench_slab *next;
	struct bench_va vas[BENCH_POOL_SLAB];
};

struct bench_pool {
	struct bench_va *free;
	struct bench_slab *slabs;
	unsigned long out; /* VAs handed out and not returned */
	unsigned long nr_free;
};

/*
 * Callbacks for a VM and GEM objects the benchmark allocated with malloc
 * (or aligned_alloc), the struct gpuvm or the object at their start.
 */
extern const struct gpuvm_ops bench_vm_ops;
extern const struct gpuvm_gem_object_funcs bench_obj_funcs;

/* Print "PROGRAM: @what" and exit(1). */
__attribute__((noreturn)) void bench_fail(const char *what);

/* Have @n VAs ready: call between timed parts (a request takes at most
 * 3). New slabs are touched here, so first-touch faults are not timed. */
void bench_pool_reserve(struct bench_pool *p, unsigned long n);

/* Add a slab of touched VAs to the free list. */
void bench_pool_grow(struct bench_pool *p);

/* A zeroed VA (the pool grows if it must). Inline: it is timed. */
static inline struct gpuva *bench_pool_get(struct bench_pool *p)
{
	struct bench_va *b;

	if (!p->free)
		bench_pool_grow(p);
	b = p->free;
	p->free = b->next_free;
	p->out++;
	p->nr_free--;
	memset(&b->va, 0, sizeof(b->va));
	return &b->va;
}

static inline void bench_pool_put(struct bench_pool *p, struct gpuva *va)
{
	struct bench_va *b = gpuvm_container_of(va, struct bench_va, va);

	b->next_free = p->free;
	p->free = b;
	p->out--;
	p->nr_free++;
}

/*
 * With every VA returned: relink the free list in slab order, so that a
 * rebuilt VM gets its VAs at the same places each time (the order a run
 * leaves is scattered, and later runs would pay for it).
 */
void bench_pool_reorder(struct bench_pool *p);

/* Free the slabs; every VA must be back. */
void bench_pool_fini(struct bench_pool *p);

struct bench_request {
	uint64_t addr, range, offset;
	unsigned int obj; /* map: index into the objects */
	bool map;
};

/*
 * Apply @r to @vm as an immediate-mode driver does. A map request builds
 * its ops with gpuvm_sm_map_ops_create(), obtains the object's vm_bo
 * (gpuvm_bo_create + gpuvm_bo_obtain_prealloc), applies the ops
 * (gpuva_map/remap/unmap, with gpuva_link/unlink under the objects'
 * gpuva locks), drops the obtained reference and frees the ops; an unmap
 * request does the same with gpuvm_sm_unmap_ops_create() and no vm_bo.
 */
void bench_do_request(struct gpuvm *vm, struct gpuvm_gem_object *const *objs,
		      struct bench_pool *pool, const struct bench_request *r);

/* Unlink and remove every VA of @vm (under the objects' gpuva locks),
 * giving each back to @pool, then fail unless every VA came back to @pool and
 * each of the @nr_objs objects holds only its own reference (no vm_bo). */
void bench_empty_vm(struct gpuvm *vm, struct gpuvm_gem_object *const *objs,
		    unsigned int nr_objs, struct bench_pool *pool);

/* Drop the objects and the VM (failing unless the VM's last reference is
 * the caller's), then free @pool. */
void bench_vm_fini(struct gpuvm *vm, struct gpuvm_gem_object *const *objs,
		   unsigned int nr_objs, struct bench_pool *pool);

/*
 * Walk the VA space of @vm (a VM of @vm_size bytes from 0): ordered,
 * inside the VM, each VA in @vm and linked to a vm_bo of @vm and of its
 * own object, and as many VAs as @pool handed out. Fails the program
 * otherwise.
 */
void bench_check_va_space(struct gpuvm *vm, const struct bench_pool *pool,
			  uint64_t vm_size);

#endif /* GPUVM_BENCH_DRIVER_H */
