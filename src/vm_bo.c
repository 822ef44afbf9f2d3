// SPDX-License-Identifier: MIT
/*
 * vm_bos: the unique pairing of a VM and a GEM object.
 *
 * A GEM object keeps its live vm_bos on gpuva.list (the kernel's list, in
 * creation order) and, once it is shared by many VMs, also in a small
 * hash table keyed by VM, so find/obtain cost O(1) expected instead of a
 * walk over every VM that maps the object. Both are protected by the GEM
 * list lock (the gpuva mutex in immediate mode, the resv otherwise). The
 * table only grows where allocating is allowed: outside the gpuva mutex.
 *
 * Zombies (count 0 via the deferred path) wait on the VM's bo_defer
 * stack, liburcu's lock-free stack (the kernel's llist).
 */
#include <urcu/lfstack.h>

#include "alloc_internal.h"
#include "kref.h"
#include "leaks.h"
#include "vm_internal.h"

/*
 * liburcu's stack lives in an uninstrumented library, so ThreadSanitizer
 * cannot see that a push (a full barrier there) happens before the pop_all
 * that takes the node, and reports the zombie's free as racing with the
 * pushing thread's last accesses. Tell it, per VM.
 */
#define defer_tsan_release(gpuvm) tsan_release(&(gpuvm)->bo_defer)
#define defer_tsan_acquire(gpuvm) tsan_acquire(&(gpuvm)->bo_defer)

/* Below this many vm_bos a list walk is as fast as hashing. */
#define HASH_MIN_VM_BOS 8

_Static_assert(sizeof(struct gpuvm_llist_node) == sizeof(struct cds_lfs_node),
	       "gpuvm_llist_node must match liburcu's cds_lfs_node");
_Static_assert(sizeof(struct gpuvm_llist_head) ==
		       sizeof(struct __cds_lfs_stack),
	       "gpuvm_llist_head must match liburcu's __cds_lfs_stack");

static struct __cds_lfs_stack *bo_defer_stack(struct gpuvm *gpuvm)
{
	return (struct __cds_lfs_stack *)(void *)&gpuvm->bo_defer;
}

/*
 * cds_lfs_push() on liburcu's stack, but starting from the head as it is:
 * liburcu's first compare-and-swap assumes an empty stack, so every push
 * onto a non-empty one costs a failed locked operation on the contended
 * line first (the kernel's llist_add() reads the head, as this does). The
 * stack is liburcu's and pop_all stays liburcu's; the push keeps its
 * ordering: the compare-and-swap is a full barrier on success.
 */
static inline void lfs_push(struct __cds_lfs_stack *s,
			    struct cds_lfs_node *node)
{
	struct cds_lfs_head *head = __atomic_load_n(&s->head, __ATOMIC_RELAXED);
	struct cds_lfs_head *new_head =
		container_of(node, struct cds_lfs_head, node);

	do
		node->next = head ? &head->node : NULL;
	while (!__atomic_compare_exchange_n(&s->head, &head, new_head, true,
					    __ATOMIC_SEQ_CST,
					    __ATOMIC_RELAXED));
}

/* ---- the per-GEM hash of vm_bos ---------------------------------------- */

static unsigned int hash_vm(const struct gpuvm *gpuvm, unsigned int bits)
{
	uint64_t h = (uint64_t)(uintptr_t)gpuvm * 0x9e3779b97f4a7c15ull;

	return (unsigned int)(h >> (64 - bits));
}

static unsigned int nr_vm_bos(struct gpuvm_gem_object *obj)
{
	return __atomic_load_n(&obj->gpuva.nr_vm_bos__, __ATOMIC_RELAXED);
}

/* Bits of the table wanted for @n vm_bos; 0 for no table. At most half
 * full: a lookup then rarely walks past one wrong vm_bo (a cache miss
 * each when the object is shared by many VMs). */
static unsigned int wanted_bits(unsigned int n)
{
	unsigned int bits = 4;

	if (n < HASH_MIN_VM_BOS)
		return 0;
	while ((1u << bits) < 2 * n && bits < 30)
		bits++;
	return bits;
}

/* GEM list lock held. */
static struct gpuvm_bo *hash_lookup(struct gpuvm_gem_object *obj,
				    struct gpuvm *gpuvm)
{
	struct gpuvm_bo *vm_bo;

	/* The first vm_bo first: for an object in one VM, by far the
	 * common case, the lookup is then one compare, as the kernel's
	 * walk is. (A VM has at most one vm_bo on the list.) */
	if (!gpuvm_list_empty(&obj->gpuva.list)) {
		vm_bo = gpuvm_list_first_entry(&obj->gpuva.list,
					       struct gpuvm_bo, list.entry.gem);
		if (vm_bo->vm == gpuvm)
			return vm_bo;
	}
	if (obj->gpuva.hash__) {
		vm_bo = obj->gpuva
				.hash__[hash_vm(gpuvm, obj->gpuva.hash_bits__)];
		for (; vm_bo; vm_bo = vm_bo->hash_next__)
			if (vm_bo->vm == gpuvm)
				return vm_bo;
		return NULL;
	}
	gpuvm_gem_for_each_gpuvm_bo(vm_bo, obj)
		if (vm_bo->vm == gpuvm)
			return vm_bo;
	return NULL;
}

/* GEM list lock held. Installs @table (1 << @bits buckets, zeroed) and
 * returns the one it replaces, to be freed by the caller. */
static struct gpuvm_bo **hash_install(struct gpuvm_gem_object *obj,
				      struct gpuvm_bo **table,
				      unsigned int bits)
{
	struct gpuvm_bo **old = obj->gpuva.hash__;
	struct gpuvm_bo *vm_bo;

	gpuvm_gem_for_each_gpuvm_bo(vm_bo, obj) {
		unsigned int b = hash_vm(vm_bo->vm, bits);

		vm_bo->hash_next__ = table[b];
		table[b] = vm_bo;
	}
	obj->gpuva.hash__ = table;
	obj->gpuva.hash_bits__ = bits;
	return old;
}

/* Whether one more vm_bo would want a bigger table (a hint: unlocked). */
static bool hash_wants_growth(struct gpuvm_gem_object *obj)
{
	return wanted_bits(nr_vm_bos(obj) + 1) >
	       __atomic_load_n(&obj->gpuva.hash_bits__, __ATOMIC_RELAXED);
}

/*
 * Allocate a bigger table if one more vm_bo would want it. The result is
 * installed later, under the lock, by hash_grow_install().
 */
static struct gpuvm_bo **hash_grow_alloc(struct gpuvm_gem_object *obj,
					 unsigned int *bits)
{
	unsigned int want = wanted_bits(nr_vm_bos(obj) + 1);

	if (want <= __atomic_load_n(&obj->gpuva.hash_bits__, __ATOMIC_RELAXED))
		return NULL;
	*bits = want;
	/* No table is no error: lookups fall back to the list. */
	return gpuvm_kcalloc(1u << want, sizeof(struct gpuvm_bo *),
			     GPUVM_GFP_KERNEL);
}

/* GEM list lock held. Returns what the caller must free after unlocking. */
static struct gpuvm_bo **hash_grow_install(struct gpuvm_gem_object *obj,
					   struct gpuvm_bo **table,
					   unsigned int bits)
{
	if (!table)
		return NULL;
	if (bits <= obj->gpuva.hash_bits__)
		return table; /* someone grew it meanwhile */
	return hash_install(obj, table, bits);
}

/* GEM list lock held: publish @vm_bo on @obj's list and table. */
static void gem_add_vm_bo(struct gpuvm_gem_object *obj, struct gpuvm_bo *vm_bo)
{
	gpuvm_list_add_tail(&vm_bo->list.entry.gem, &obj->gpuva.list);
	__atomic_store_n(&obj->gpuva.nr_vm_bos__, obj->gpuva.nr_vm_bos__ + 1,
			 __ATOMIC_RELAXED);
	if (obj->gpuva.hash__) {
		unsigned int b = hash_vm(vm_bo->vm, obj->gpuva.hash_bits__);

		vm_bo->hash_next__ = obj->gpuva.hash__[b];
		obj->gpuva.hash__[b] = vm_bo;
	}
}

/* gem_del_vm_bo() for an object with a hash table. */
static __attribute__((noinline)) void hash_del(struct gpuvm_gem_object *obj,
					       struct gpuvm_bo *vm_bo)
{
	struct gpuvm_bo **pp =
		&obj->gpuva.hash__[hash_vm(vm_bo->vm, obj->gpuva.hash_bits__)];

	while (*pp != vm_bo)
		pp = &(*pp)->hash_next__;
	*pp = vm_bo->hash_next__;
	vm_bo->hash_next__ = NULL;
	if (!obj->gpuva.nr_vm_bos__) {
		/* Freeing is fine where allocating is not. */
		gpuvm_kfree(obj->gpuva.hash__);
		obj->gpuva.hash__ = NULL;
		__atomic_store_n(&obj->gpuva.hash_bits__, 0, __ATOMIC_RELAXED);
	}
}

/* GEM list lock held: the opposite. Never allocates. Inline: it is most
 * of a last put. */
static inline void gem_del_vm_bo(struct gpuvm_gem_object *obj,
				 struct gpuvm_bo *vm_bo)
{
	/* A vm_bo from gpuvm_bo_create() that was never published (a
	 * prealloc dropped on an error path) is on no list and not counted:
	 * its entry is still self-linked, as in the kernel. */
	if (gpuvm_list_empty(&vm_bo->list.entry.gem))
		return;
	gpuvm_list_del(&vm_bo->list.entry.gem);
	__atomic_store_n(&obj->gpuva.nr_vm_bos__, obj->gpuva.nr_vm_bos__ - 1,
			 __ATOMIC_RELAXED);
	if (obj->gpuva.hash__)
		hash_del(obj, vm_bo);
}

/*
 * GEM list lock held, before publishing @vm_bo: every VM sharing @obj must
 * agree on the mode, since the mode picks the lock protecting the list.
 * The vm_bos already listed were checked when they came, so the first one
 * stands for all.
 */
static void check_mode_shared(struct gpuvm_gem_object *obj,
			      struct gpuvm_bo *vm_bo, const char *func)
{
	struct gpuvm_bo *other;

	if (!gpuvm_debug_active() || gpuvm_list_empty(&obj->gpuva.list))
		return;
	other = gpuvm_list_first_entry(&obj->gpuva.list, struct gpuvm_bo,
				       list.entry.gem);
	if (gpuvm_immediate_mode(other->vm) == gpuvm_immediate_mode(vm_bo->vm))
		return;
	gpuvm_warn(GPUVM_RULE_MODE_MIXED,
		   "%s: object %p is mapped by VM '%s' (%s mode) and now by VM "
		   "'%s' (%s mode): its vm_bo list would be changed under two "
		   "different locks",
		   func, (void *)obj, other->vm->name,
		   gpuvm_immediate_mode(other->vm) ? "immediate" : "staged",
		   vm_bo->vm->name,
		   gpuvm_immediate_mode(vm_bo->vm) ? "immediate" : "staged");
}

/* ---- create, find, obtain ---------------------------------------------- */

struct gpuvm_bo *gpuvm_bo_create(struct gpuvm *gpuvm,
				 struct gpuvm_gem_object *obj)
{
	const struct gpuvm_ops *ops;
	struct gpuvm_bo *vm_bo;

	if (gpuvm_kref_freed(&gpuvm->kref, "gpuvm_bo_create"))
		return NULL;
	ops = gpuvm->ops;
	if (ops && ops->vm_bo_alloc)
		vm_bo = ops->vm_bo_alloc();
	else
		vm_bo = gpuvm_kmalloc_small__(
			sizeof(*vm_bo), GPUVM_GFP_KERNEL | GPUVM_GFP_ZERO);
	if (!vm_bo)
		return NULL;

	vm_bo->vm = gpuvm_get(gpuvm);
	vm_bo->obj = gpuvm_gem_object_get(obj);
	gpuvm_kref_init(&vm_bo->kref);
	gpuvm_list_init(&vm_bo->list.gpuva);
	gpuvm_list_init(&vm_bo->list.entry.gem);
	gpuvm_list_init(&vm_bo->list.entry.extobj);
	gpuvm_list_init(&vm_bo->list.entry.evict);
	vm_bo->on_extobj__ = vm_bo->on_evict__ = 0;
	vm_bo->list.entry.bo_defer.next = NULL;
	vm_bo->hash_next__ = NULL;
	if (gpuvm_debug_active())
		gpuvm_obj_track_vm_bo__(vm_bo, gpuvm, obj, GPUVM_RET_IP);
	return vm_bo;
}

/* Free the memory and drop the VM and GEM references, in the kernel's
 * order: the callback still sees valid vm and obj. */
static void vm_bo_free(struct gpuvm_bo *vm_bo)
{
	struct gpuvm *gpuvm = vm_bo->vm;
	struct gpuvm_gem_object *obj = vm_bo->obj;
	const struct gpuvm_ops *ops = gpuvm->ops;

	if (gpuvm_debug_active() ||
	    __atomic_load_n(&gpuvm_obj_live__, __ATOMIC_RELAXED))
		gpuvm_obj_untrack__(vm_bo);
	if (ops && ops->vm_bo_free)
		ops->vm_bo_free(vm_bo);
	else
		gpuvm_kfree_sized__(vm_bo, sizeof(*vm_bo));
	gpuvm_put(gpuvm);
	gpuvm_gem_object_put(obj);
}

/* gpuvm_bo_find() with the checker or the explorer on. */
static __attribute__((noinline)) struct gpuvm_bo *
find_checked(struct gpuvm *gpuvm, struct gpuvm_gem_object *obj)
{
	struct gpuvm_bo *vm_bo;

	gpuvm_gem_list_assert_held(gpuvm, obj, "gpuvm_bo_find");
	vm_bo = hash_lookup(obj, gpuvm);
	return vm_bo ? gpuvm_bo_get(vm_bo) : NULL;
}

struct gpuvm_bo *gpuvm_bo_find(struct gpuvm *gpuvm,
			       struct gpuvm_gem_object *obj)
{
	struct gpuvm_bo *vm_bo;

	/* Apart, so that the common lookup needs no stack frame. */
	if (gpuvm_checked_path())
		return find_checked(gpuvm, obj);
	vm_bo = hash_lookup(obj, gpuvm);
	if (vm_bo)
		gpuvm_kref_get(&vm_bo->kref, "gpuvm_bo_get");
	return vm_bo;
}

/* gpuvm_bo_obtain_locked() when there is no vm_bo yet: create and publish
 * one (apart, so that the common hit needs no stack frame). */
static __attribute__((noinline)) struct gpuvm_bo *
obtain_locked_new(struct gpuvm *gpuvm, struct gpuvm_gem_object *obj)
{
	struct gpuvm_bo *vm_bo, **table, **old;
	unsigned int bits = 0;

	vm_bo = gpuvm_bo_create(gpuvm, obj);
	if (!vm_bo)
		return gpuvm_err_ptr(-ENOMEM);

	/* Staged mode: the list lock is the resv, allocating is allowed. */
	table = hash_grow_alloc(obj, &bits);
	gpuvm_gem_list_assert_held(gpuvm, obj, "gpuvm_bo_obtain_locked");
	old = hash_grow_install(obj, table, bits);
	check_mode_shared(obj, vm_bo, "gpuvm_bo_obtain_locked");
	gem_add_vm_bo(obj, vm_bo);
	gpuvm_kfree(old);
	gpuvm_hook("obtain:after_list_add");
	return vm_bo;
}

struct gpuvm_bo *gpuvm_bo_obtain_locked(struct gpuvm *gpuvm,
					struct gpuvm_gem_object *obj)
{
	struct gpuvm_bo *vm_bo;

	if (unlikely(gpuvm_immediate_mode(gpuvm)))
		gpuvm_warn(GPUVM_RULE_MODE,
			   "gpuvm_bo_obtain_locked: VM '%s' is in immediate "
			   "mode (use gpuvm_bo_obtain_prealloc)",
			   gpuvm->name);

	vm_bo = gpuvm_bo_find(gpuvm, obj);
	if (likely(vm_bo))
		return vm_bo;
	return obtain_locked_new(gpuvm, obj);
}

struct gpuvm_bo *gpuvm_bo_obtain_prealloc(struct gpuvm_bo *prealloc)
{
	struct gpuvm *gpuvm;
	struct gpuvm_gem_object *obj;
	struct gpuvm_bo *vm_bo, **table, **spare;
	unsigned int bits = 0;

	if (gpuvm_kref_freed(&prealloc->kref, "gpuvm_bo_obtain_prealloc"))
		return prealloc;
	gpuvm = prealloc->vm;
	obj = prealloc->obj;
	if (!gpuvm_immediate_mode(gpuvm))
		gpuvm_warn(GPUVM_RULE_MODE,
			   "gpuvm_bo_obtain_prealloc: VM '%s' is not in "
			   "immediate mode (use gpuvm_bo_obtain_locked)",
			   gpuvm->name);

	/*
	 * Look first: an object mapped before (the common case) needs no
	 * table growth. Growing allocates, which is not allowed under the
	 * gpuva mutex, so then drop it, allocate, and look again.
	 */
	table = NULL;
	gpuvm_gem_gpuva_lock(obj);
	vm_bo = gpuvm_bo_find(gpuvm, obj);
	if (!vm_bo && hash_wants_growth(obj)) {
		gpuvm_gem_gpuva_unlock(obj);
		table = hash_grow_alloc(obj, &bits);
		gpuvm_gem_gpuva_lock(obj);
		vm_bo = gpuvm_bo_find(gpuvm, obj);
	}
	if (vm_bo && gpuvm_knob(GPUVM_KNOB_OBTAIN_FREE_LOCKED)) {
		/* Test-only: the pre-fix order, the free under the mutex. */
		if (gpuvm_kref_put(&prealloc->kref, "gpuvm_bo_obtain_prealloc"))
			vm_bo_free(prealloc);
		gpuvm_gem_gpuva_unlock(obj);
		gpuvm_kfree(table);
		return vm_bo;
	}
	if (vm_bo) {
		gpuvm_gem_gpuva_unlock(obj);
		/* A VA is usually linked next, after the list's last one. */
		__builtin_prefetch(vm_bo->list.gpuva.prev, 1);
		gpuvm_kfree(table);
		/* Destroyed outside the mutex: vm_bo_free may take a resv. */
		if (gpuvm_kref_put(&prealloc->kref, "gpuvm_bo_obtain_prealloc"))
			vm_bo_free(prealloc);
		return vm_bo;
	}
	spare = hash_grow_install(obj, table, bits);
	gpuvm_gem_list_assert_held(gpuvm, obj, "gpuvm_bo_obtain_prealloc");
	check_mode_shared(obj, prealloc, "gpuvm_bo_obtain_prealloc");
	gem_add_vm_bo(obj, prealloc);
	gpuvm_gem_gpuva_unlock(obj);
	gpuvm_kfree(spare);
	gpuvm_hook("obtain:after_list_add");
	return prealloc;
}

/* With the explorer on: out of line, so that the common get needs no
 * stack frame. */
static __attribute__((noinline)) struct gpuvm_bo *
get_scheduled(struct gpuvm_bo *vm_bo)
{
	gpuvm_sched_point(GPUVM_SCHED_REF, &vm_bo->kref);
	gpuvm_kref_get(&vm_bo->kref, "gpuvm_bo_get");
	return vm_bo;
}

struct gpuvm_bo *gpuvm_bo_get(struct gpuvm_bo *vm_bo)
{
	if (gpuvm_sched_active())
		return get_scheduled(vm_bo);
	gpuvm_kref_get(&vm_bo->kref, "gpuvm_bo_get");
	return vm_bo;
}

/* ---- put, zombies, deferred cleanup ------------------------------------ */

static void vm_bo_destroy(struct gpuvm_bo *vm_bo)
{
	struct gpuvm *gpuvm = vm_bo->vm;
	struct gpuvm_gem_object *obj = vm_bo->obj;
	bool lock = !gpuvm_resv_protected(gpuvm);

	if (!lock)
		gpuvm_resv_assert_held__(gpuvm, "gpuvm_bo_put");
	/* Both lists, whatever the object (asking whether it is external
	 * would read a line of the object the put has no other use for);
	 * the lock of a list the vm_bo is not on is skipped. */
	vm_list_del_dead(vm_bo, VM_LIST_EXTOBJ, lock);
	vm_list_del_dead(vm_bo, VM_LIST_EVICT, lock);

	gpuvm_gem_list_assert_held(gpuvm, obj, "gpuvm_bo_put");
	gem_del_vm_bo(obj, vm_bo);
	vm_bo_free(vm_bo);
}

bool gpuvm_bo_destroy_not_in_lists(struct gpuvm_bo *vm_bo)
{
	static const char func[] = "gpuvm_bo_destroy_not_in_lists";

	if (!vm_bo || gpuvm_kref_freed(&vm_bo->kref, func))
		return false;
	/* The free may drop the last GEM reference, mutex included. */
	gpuvm_lock_assert_not_held(&vm_bo->obj->gpuva.lock.dep_map, func);
	if (gpuvm_kref_read(&vm_bo->kref) != 1 ||
	    !gpuvm_list_empty(&vm_bo->list.entry.gem) ||
	    !gpuvm_list_empty(&vm_bo->list.entry.extobj) ||
	    !gpuvm_list_empty(&vm_bo->list.entry.evict)) {
		gpuvm_warn(GPUVM_RULE_VM_BO_PUBLISHED,
			   "%s: vm_bo %p of VM '%s' is published or shared "
			   "(count %d); left alone",
			   func, (void *)vm_bo, vm_bo->vm->name,
			   gpuvm_kref_read(&vm_bo->kref));
		return false;
	}
	if (!gpuvm_kref_put(&vm_bo->kref, func))
		return false;
	vm_bo_free(vm_bo);
	return true;
}

/* Out of line, so that the common put needs no stack frame. */
static __attribute__((noinline)) bool put_last(struct gpuvm_bo *vm_bo)
{
	vm_bo_destroy(vm_bo);
	return true;
}

static __attribute__((noinline)) bool put_scheduled(struct gpuvm_bo *vm_bo)
{
	gpuvm_sched_point(GPUVM_SCHED_REF, &vm_bo->kref);
	if (!gpuvm_kref_put(&vm_bo->kref, "gpuvm_bo_put"))
		return false;
	return put_last(vm_bo);
}

bool gpuvm_bo_put(struct gpuvm_bo *vm_bo)
{
	if (!vm_bo)
		return false;
	if (gpuvm_sched_active())
		return put_scheduled(vm_bo);
	if (!gpuvm_kref_put(&vm_bo->kref, "gpuvm_bo_put"))
		return false;
	return put_last(vm_bo);
}

/* gpuva lock held; the count just reached zero. */
static inline void vm_bo_zombify(struct gpuvm_bo *vm_bo)
{
	struct gpuvm *gpuvm = vm_bo->vm;

	/* With resv-protected lists the VM resv would be needed: cleanup
	 * removes the zombie from them later. */
	if (!gpuvm_resv_protected(gpuvm)) {
		vm_list_del_dead(vm_bo, VM_LIST_EXTOBJ, true);
		vm_list_del_dead(vm_bo, VM_LIST_EVICT, true);
	}
	gem_del_vm_bo(vm_bo->obj, vm_bo);
}

/* Inline in the deferred put, whose whole common path this is. */
static inline bool zombify_locked(struct gpuvm_bo *vm_bo, const char *func)
{
	gpuvm_sched_point(GPUVM_SCHED_REF, &vm_bo->kref);
	if (!gpuvm_kref_put(&vm_bo->kref, func))
		return false;
	vm_bo_zombify(vm_bo);
	return true;
}

bool gpuvm_bo_put_zombify_locked(struct gpuvm_bo *vm_bo, const char *func)
{
	return zombify_locked(vm_bo, func);
}

static inline void defer_push(struct gpuvm_bo *vm_bo)
{
	struct gpuvm *gpuvm = vm_bo->vm;

	/* Before the push: a cleanup may free it right after. */
	if (gpuvm_debug_active())
		gpuvm_obj_vm_bo_zombie__(vm_bo);
	gpuvm_sched_point(GPUVM_SCHED_DEFER, &gpuvm->bo_defer);
	/* After the last access to *vm_bo but the push itself. */
	defer_tsan_release(gpuvm);
	lfs_push(bo_defer_stack(gpuvm),
		 (struct cds_lfs_node *)(void *)&vm_bo->list.entry.bo_defer);
}

void gpuvm_bo_defer_push(struct gpuvm_bo *vm_bo)
{
	defer_push(vm_bo);
}

/* gpuvm_bo_put_deferred() with the checker, the explorer, hook points or
 * test knobs on, or in the wrong mode: every check and every hook. */
static __attribute__((noinline)) bool
put_deferred_checked(struct gpuvm_bo *vm_bo)
{
	struct gpuvm_gem_object *obj;
	bool zombie;

	if (gpuvm_kref_freed(&vm_bo->kref, "gpuvm_bo_put_deferred"))
		return false;
	obj = vm_bo->obj;
	if (!gpuvm_immediate_mode(vm_bo->vm))
		gpuvm_warn(GPUVM_RULE_MODE,
			   "gpuvm_bo_put_deferred: VM '%s' is not in immediate "
			   "mode",
			   vm_bo->vm->name);

	/* The mutex is only needed when this may be the last reference. */
	gpuvm_sched_point(GPUVM_SCHED_REF, &vm_bo->kref);
	if (gpuvm_kref_put_unless_last(&vm_bo->kref))
		return false;

	gpuvm_gem_gpuva_lock(obj);
	zombie = zombify_locked(vm_bo, "gpuvm_bo_put_deferred");
	if (zombie && gpuvm_knob(GPUVM_KNOB_DEFER_PUBLISH_LOCKED)) {
		/* Test-only: the broken order, visible before the unlock. */
		gpuvm_bo_defer_push(vm_bo);
		gpuvm_hook("put_deferred:after_publish_locked");
		gpuvm_gem_gpuva_unlock(obj);
		return true;
	}
	gpuvm_gem_gpuva_unlock(obj);
	gpuvm_hook("put_deferred:after_unlock");
	/* Publish after unlocking: cleanup may free obj, and its mutex. */
	if (zombie)
		defer_push(vm_bo);
	return zombie;
}

/*
 * The common case, as lean as the kernel's kref_put_mutex() and
 * llist_add(): producers of zombies run it at the rate the cleanup frees
 * them, and every instruction between its atomics keeps the VM's
 * contended lines away from the cleanup a little longer.
 */
bool gpuvm_bo_put_deferred(struct gpuvm_bo *vm_bo)
{
	struct gpuvm_gem_object *obj;
	struct gpuvm *gpuvm;

	if (!vm_bo)
		return false;
	gpuvm = vm_bo->vm;
	if (unlikely(gpuvm_slow() ||
		     __atomic_load_n(&gpuvm_hooks_armed__, __ATOMIC_RELAXED) ||
		     gpuvm_knob(GPUVM_KNOB_DEFER_PUBLISH_LOCKED)) ||
	    !gpuvm_immediate_mode(gpuvm))
		return put_deferred_checked(vm_bo);
	if (gpuvm_kref_freed(&vm_bo->kref, "gpuvm_bo_put_deferred") ||
	    gpuvm_kref_put_unless_last(&vm_bo->kref))
		return false;
	obj = vm_bo->obj;
	gpuvm_gem_gpuva_lock(obj);
	if (!gpuvm_kref_put(&vm_bo->kref, "gpuvm_bo_put_deferred")) {
		gpuvm_gem_gpuva_unlock(obj);
		return false;
	}
	vm_bo_zombify(vm_bo);
	gpuvm_gem_gpuva_unlock(obj);
	defer_tsan_release(gpuvm);
	lfs_push(bo_defer_stack(gpuvm),
		 (struct cds_lfs_node *)(void *)&vm_bo->list.entry.bo_defer);
	return true;
}

static struct gpuvm_bo *defer_entry(struct cds_lfs_node *node)
{
	return container_of((struct gpuvm_llist_node *)(void *)node,
			    struct gpuvm_bo, list.entry.bo_defer);
}

void gpuvm_bo_deferred_cleanup(struct gpuvm *gpuvm)
{
	struct cds_lfs_head *batch;
	struct cds_lfs_node *node, *next;
	bool protected_lists, take_resv;

	if (gpuvm_kref_freed(&gpuvm->kref, "gpuvm_bo_deferred_cleanup"))
		return;
	protected_lists = gpuvm_resv_protected(gpuvm);
	take_resv = protected_lists;
	if (protected_lists && gpuvm_debug_active() && gpuvm_resv_held(gpuvm)) {
		gpuvm_warn(GPUVM_RULE_LOCK_HELD,
			   "gpuvm_bo_deferred_cleanup: the VM resv of '%s' "
			   "must not be held (cleanup takes it)",
			   gpuvm->name);
		take_resv = false; /* rather than deadlock on ourselves */
	}

	gpuvm_sched_point(GPUVM_SCHED_DEFER, &gpuvm->bo_defer);
	batch = __cds_lfs_pop_all(bo_defer_stack(gpuvm));
	if (!batch)
		return;
	defer_tsan_acquire(gpuvm);

	if (protected_lists) {
		if (take_resv)
			gpuvm_dma_resv_lock(gpuvm_resv(gpuvm), NULL);
		cds_lfs_for_each(batch, node) {
			vm_list_del(defer_entry(node), VM_LIST_EXTOBJ, false);
			vm_list_del(defer_entry(node), VM_LIST_EVICT, false);
		}
		if (take_resv)
			gpuvm_dma_resv_unlock(gpuvm_resv(gpuvm));
	}
	gpuvm_hook("cleanup:before_destroy");
	cds_lfs_for_each_safe(batch, node, next)
		vm_bo_free(defer_entry(node));
}

/* ---- extobj and evict -------------------------------------------------- */

void gpuvm_bo_extobj_add(struct gpuvm_bo *vm_bo)
{
	struct gpuvm *gpuvm;
	bool lock;

	if (gpuvm_kref_freed(&vm_bo->kref, "gpuvm_bo_extobj_add"))
		return;
	gpuvm = vm_bo->vm;
	lock = !gpuvm_resv_protected(gpuvm);
	if (!lock)
		gpuvm_resv_assert_held__(gpuvm, "gpuvm_bo_extobj_add");
	if (gpuvm_is_extobj(gpuvm, vm_bo->obj))
		vm_list_add(vm_bo, VM_LIST_EXTOBJ, lock);
}

void gpuvm_bo_evict(struct gpuvm_bo *vm_bo, bool evict)
{
	struct gpuvm *gpuvm = vm_bo->vm;
	struct gpuvm_gem_object *obj = vm_bo->obj;
	bool lock = !gpuvm_resv_protected(gpuvm);

	gpuvm_ww_mutex_assert_held(&obj->resv->lock, "gpuvm_bo_evict");
	vm_bo->evicted = evict;

	/* A resv-protected evict list needs the VM resv, which the caller
	 * may not hold: prepare_objects adds evicted extobjs later. */
	if (gpuvm_is_extobj(gpuvm, obj) && !lock)
		return;
	if (evict)
		vm_list_add(vm_bo, VM_LIST_EVICT, lock);
	else
		vm_list_del(vm_bo, VM_LIST_EVICT, lock);
}

void gpuvm_bo_gem_evict(struct gpuvm_gem_object *obj, bool evict)
{
	struct gpuvm_bo *vm_bo;

	gpuvm_gem_for_each_gpuvm_bo(vm_bo, obj) {
		gpuvm_gem_list_assert_held(vm_bo->vm, obj,
					   "gpuvm_bo_gem_evict");
		gpuvm_bo_evict(vm_bo, evict);
	}
}
