/* SPDX-License-Identifier: MIT */
/*
 * gpuvm-replay: the trace's VMs and objects, as the replay core keeps them.
 */
#ifndef GPUVM_REPLAY_OBJECTS_H
#define GPUVM_REPLAY_OBJECTS_H

#include <gpuvm/gem.h>

#include "driver.h"

/* A VM of the trace. Its record outlives the VM itself (names stay taken). */
struct vm_rec {
	char *name;
	struct drv_vm *vm; /* NULL once closed */
	/* The VM's reservation object, kept to the end of the trace: the
	 * VM's private objects share its reservation. */
	struct gpuvm_gem_object *r_obj;
	bool staged;
};

/* The mode an object's vm_bo list is protected in, fixed by its first use. */
enum obj_mode {
	OBJ_MODE_UNSET,
	OBJ_MODE_IMMEDIATE,
	OBJ_MODE_STAGED,
};

/* References the trace obtained explicitly, per (VM, object). */
struct held_ref {
	struct held_ref *next;
	struct vm_rec *vm;
	unsigned int refs;
	struct gpuvm_bo *vm_bo; /* the one live vm_bo they all point to */
};

/* A trace object: a GEM object with a name. */
struct robj {
	struct gpuvm_gem_object base; /* first: see drv_obj_init() */
	struct robj *hash_next;
	struct vm_rec *owner; /* a private object's VM; NULL: external */
	enum obj_mode mode;
	struct held_ref *held;
	char name[];
};

static inline struct robj *to_robj(struct gpuvm_gem_object *obj)
{
	return gpuvm_container_of(obj, struct robj, base);
}

/* The trace's name of @obj; "-" for no object. */
static inline const char *robj_name(struct gpuvm_gem_object *obj)
{
	return obj ? to_robj(obj)->name : "-";
}

#endif /* GPUVM_REPLAY_OBJECTS_H */
