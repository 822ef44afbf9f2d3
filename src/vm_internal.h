/* SPDX-License-Identifier: MIT */
/* Shared between the VM's source files (vm.c, va.c, vm_bo.c, vm_exec.c,
 * sm.c). */
#ifndef GPUVM_VM_INTERNAL_H
#define GPUVM_VM_INTERNAL_H

#include <gpuvm/vm.h>

#include "internal.h"
#include "va_index.h"

static inline struct gpuvm_va_index *gpuvm_va_index(struct gpuvm *gpuvm)
{
	_Static_assert(sizeof(struct gpuvm_va_index) <=
			       sizeof(gpuvm->rb.index__),
		       "struct gpuvm reserves too little for the VA index");
	return (struct gpuvm_va_index *)(void *)gpuvm->rb.index__;
}

/* Put @va into the index. */
static inline int gpuvm_va_insert_node(struct gpuvm *gpuvm, struct gpuva *va)
{
	return gpuvm_va_index_insert(gpuvm_va_index(gpuvm), va->va.addr,
				     va->va.addr + va->va.range, va);
}

/* gpuva_insert(), taking the VA's VM reference only if @get_vm: false
 * when the caller hands it one it already holds. */
int gpuvm_va_insert__(struct gpuvm *gpuvm, struct gpuva *va, bool get_vm);

/* Take @va out of the index. */
static inline void gpuvm_va_remove_node(struct gpuvm *gpuvm, struct gpuva *va)
{
	gpuvm_va_index_remove_item(gpuvm_va_index(gpuvm), va, va->va.addr);
}

/* The VM's two vm_bo lists, each with its lock and vm_bo entry. */
enum vm_list { VM_LIST_EXTOBJ, VM_LIST_EVICT };

static inline struct gpuvm_mutex *vm_list_lock(struct gpuvm *gpuvm,
					       enum vm_list l)
{
	return l == VM_LIST_EXTOBJ ? &gpuvm->extobj.lock : &gpuvm->evict.lock;
}

static inline struct gpuvm_list_head *vm_list_head(struct gpuvm *gpuvm,
						   enum vm_list l)
{
	return l == VM_LIST_EXTOBJ ? &gpuvm->extobj.list : &gpuvm->evict.list;
}

static inline struct gpuvm_list_head *vm_bo_list_entry(struct gpuvm_bo *vm_bo,
						       enum vm_list l)
{
	return l == VM_LIST_EXTOBJ ? &vm_bo->list.entry.extobj :
				     &vm_bo->list.entry.evict;
}

/* The vm_bo whose list-@l entry is @entry. */
static inline struct gpuvm_bo *
vm_bo_of_list_entry(struct gpuvm_list_head *entry, enum vm_list l)
{
	return l == VM_LIST_EXTOBJ ? gpuvm_container_of(entry, struct gpuvm_bo,
							list.entry.extobj) :
				     gpuvm_container_of(entry, struct gpuvm_bo,
							list.entry.evict);
}

/*
 * Whether @vm_bo is on list @l: a byte of its own beside the entry, set
 * and cleared with the entry under the list's lock (or the VM resv), but
 * unlike the entry never written on behalf of a neighbour, so it can be
 * read without the lock.
 */
static inline unsigned char *vm_bo_on_list(struct gpuvm_bo *vm_bo,
					   enum vm_list l)
{
	return l == VM_LIST_EXTOBJ ? &vm_bo->on_extobj__ : &vm_bo->on_evict__;
}

/* Append unless already on the list; @lock: take the internal lock. */
static inline void vm_list_add(struct gpuvm_bo *vm_bo, enum vm_list l,
			       bool lock)
{
	struct gpuvm_list_head *entry = vm_bo_list_entry(vm_bo, l);

	if (lock)
		gpuvm_mutex_lock(vm_list_lock(vm_bo->vm, l));
	if (gpuvm_list_empty(entry)) {
		gpuvm_list_add_tail(entry, vm_list_head(vm_bo->vm, l));
		__atomic_store_n(vm_bo_on_list(vm_bo, l), 1, __ATOMIC_RELAXED);
	}
	if (lock)
		gpuvm_mutex_unlock(vm_list_lock(vm_bo->vm, l));
}

/* Removing a never-added entry is harmless: entries start self-linked. */
static inline void vm_list_del(struct gpuvm_bo *vm_bo, enum vm_list l,
			       bool lock)
{
	if (lock)
		gpuvm_mutex_lock(vm_list_lock(vm_bo->vm, l));
	gpuvm_list_del_init(vm_bo_list_entry(vm_bo, l));
	__atomic_store_n(vm_bo_on_list(vm_bo, l), 0, __ATOMIC_RELEASE);
	if (lock)
		gpuvm_mutex_unlock(vm_list_lock(vm_bo->vm, l));
}

/*
 * vm_list_del() for a vm_bo whose last reference is gone, its GEM list
 * lock held. Nobody can put it on a list any more (that takes a reference
 * or the GEM list lock); a walk of the list may still take it off, which
 * clears its byte after unlinking it (release, paired with the acquire
 * here). So with the checker and the explorer off, a list it is not on
 * is not locked. The entry itself is no guide without the lock: removing
 * a neighbour rewrites its links. With either on, the lock is taken as
 * the kernel takes it: the lock order the checker records and the
 * interleavings the explorer tries are the kernel's.
 */
static inline void vm_list_del_dead(struct gpuvm_bo *vm_bo, enum vm_list l,
				    bool lock)
{
	if (lock && !gpuvm_checked_path() &&
	    !__atomic_load_n(vm_bo_on_list(vm_bo, l), __ATOMIC_ACQUIRE))
		return;
	vm_list_del(vm_bo, l, lock);
}

/* The GEM list lock of @obj for @gpuvm's mode is held by this thread. */
static inline void gpuvm_gem_list_assert_held(struct gpuvm *gpuvm,
					      struct gpuvm_gem_object *obj,
					      const char *func)
{
	if (gpuvm_debug_active())
		gpuvm_gem_gpuva_assert_lock_held(gpuvm_immediate_mode(gpuvm),
						 obj, func);
}

/*
 * Drop a vm_bo reference with the GEM's gpuva lock held; on the last one,
 * make it a zombie (off the GEM list, and off the extobj/evict lists
 * unless they are resv-protected). Return: true when it became a zombie:
 * the caller must gpuvm_bo_defer_push() it after unlocking.
 */
bool gpuvm_bo_put_zombify_locked(struct gpuvm_bo *vm_bo, const char *func);

/* Publish a zombie on its VM's deferred list. */
void gpuvm_bo_defer_push(struct gpuvm_bo *vm_bo);

#endif /* GPUVM_VM_INTERNAL_H */
