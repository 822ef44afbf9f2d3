/* SPDX-License-Identifier: MIT */
/*
 * The object registry of the checker (leaks.c): the VM, vm_bo and GEM
 * layers register what they create, so that reports name objects and the
 * leak report can say what was left (private to the library).
 */
#ifndef GPUVM_LEAKS_H
#define GPUVM_LEAKS_H

#include "internal.h"

/* Registered objects; the release paths look up only while non-zero. */
extern unsigned long gpuvm_obj_live__;

void gpuvm_obj_track_vm__(const void *vm, const char *name, const int *kref,
			  const void *site);
void gpuvm_obj_track_gem__(const void *gem, const void *site);
void gpuvm_obj_track_vm_bo__(const void *vm_bo, const void *vm, const void *gem,
			     const void *site);
void gpuvm_obj_untrack__(const void *key);
void gpuvm_obj_vm_kref__(const void *vm, const int *kref);
void gpuvm_obj_vm_vas__(const void *vm, int delta);
void gpuvm_obj_vm_bo_zombie__(const void *vm_bo);
void gpuvm_obj_gem_set_label__(const void *gem, const char *label,
			       struct gpuvm_lockdep_map *gpuva_map,
			       struct gpuvm_lockdep_map *resv_map);
void gpuvm_obj_vm_name_resv__(const void *r_obj, const char *vm_name,
			      struct gpuvm_lockdep_map *resv_map);
void gpuvm_obj_describe__(char *buf, size_t len, const char *kind,
			  const void *key);

#endif /* GPUVM_LEAKS_H */
