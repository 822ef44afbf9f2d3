/* SPDX-License-Identifier: MIT */
/*
 * The GPU VM (the kernel's struct drm_gpuvm) and its vm_bos.
 *
 * A VM tracks which address ranges are mapped to which GEM objects. Each
 * (VM, GEM) pair that has mappings gets one vm_bo, which carries the list
 * of those mappings and sits on the VM's external-object and evicted
 * lists. The VM never touches page tables; it keeps state and computes
 * operations.
 *
 * Locking follows the kernel, in four modes made of two flags:
 *  - GPUVM_IMMEDIATE_MODE: a GEM's vm_bo list is protected by the GEM's
 *    gpuva mutex (signalling-safe), otherwise by the GEM's resv;
 *  - GPUVM_RESV_PROTECTED: the VM's extobj/evict lists are protected by
 *    the VM's resv (held by the caller), otherwise by internal locks.
 * Every rule is asserted by the debug checker and reported by name. All
 * VMs mapping one GEM object must agree on GPUVM_IMMEDIATE_MODE, since it
 * picks the lock of the object's vm_bo list (GPUVM_RULE_MODE_MIXED).
 *
 * Hook points (see gpuvm_hook_park() in debug.h):
 *  "obtain:after_list_add"     obtain published a new vm_bo (prealloc:
 *                              after dropping the gpuva lock)
 *  "put_deferred:after_unlock" a final deferred put dropped the gpuva lock
 *                              and is about to publish the zombie
 *  "put_deferred:after_publish_locked"
 *                              only with the test-only knob
 *                              GPUVM_KNOB_DEFER_PUBLISH_LOCKED: the zombie
 *                              is published, the gpuva lock still held
 *  "cleanup:before_destroy"    deferred cleanup took its batch and is about
 *                              to free it
 *  "walk:after_get"            an extobj/evict list walk (prepare_objects,
 *                              validate, not resv-protected) took its
 *                              temporary reference to the next vm_bo and
 *                              is about to drop the previous one
 *
 * Use after free: with the debug checker on, a VM whose vm_free ran and a
 * vm_bo the library freed are poisoned (see alloc.h); the functions below
 * report GPUVM_RULE_USE_AFTER_FREE when handed one.
 */
#ifndef GPUVM_VM_H
#define GPUVM_VM_H

#include <gpuvm/common.h>
#include <gpuvm/exec.h>
#include <gpuvm/gem.h>
#include <gpuvm/list.h>
#include <gpuvm/mutex.h>
#include <gpuvm/va.h>

GPUVM_BEGIN_DECLS

struct gpuva_op;

/* Rules this area reports (besides the checker's lock rules). */
#define GPUVM_RULE_VM_NOT_EMPTY "vm-not-empty"
#define GPUVM_RULE_VM_NO_FREE "vm-free-missing"
#define GPUVM_RULE_VM_BAD_RANGE "vm-range-overflow"
/* gpuvm_init() found no memory to index the reserved region (only under
 * an injected allocation failure in practice): the VM works, the region
 * is still refused by the range checks but is not in the VA space. */
#define GPUVM_RULE_VM_INIT_NOMEM "vm-init-no-memory"
#define GPUVM_RULE_MODE "gpuvm-mode"
#define GPUVM_RULE_KERNEL_NODE "gpuvm-kernel-node"
#define GPUVM_RULE_LINK_OBJ "gpuva-link-obj"
#define GPUVM_RULE_LOCAL_LIST "gpuvm-local-list"
/* One GEM object shared by an immediate-mode and a staged VM. */
#define GPUVM_RULE_MODE_MIXED "gpuvm-mixed-mode"
/* gpuva_link() of a VA to a vm_bo of another VM. */
#define GPUVM_RULE_LINK_VM "gpuva-link-vm"
/* gpuva_link() to a vm_bo that is not published on its GEM's list. */
#define GPUVM_RULE_LINK_UNREGISTERED "gpuva-link-unregistered"
/* gpuvm_bo_destroy_not_in_lists() of a published or shared vm_bo. */
#define GPUVM_RULE_VM_BO_PUBLISHED "vm-bo-published"

enum gpuvm_flags {
	/* extobj/evict lists are protected by the VM's resv. */
	GPUVM_RESV_PROTECTED = (1 << 0),
	/* GEM vm_bo lists are protected by the GEM's gpuva mutex. */
	GPUVM_IMMEDIATE_MODE = (1 << 1),
	/* First bit drivers may use. */
	GPUVM_USERBITS = (1 << 2),
};

/* A node of a lock-free stack (the kernel's llist_node). */
struct gpuvm_llist_node {
	struct gpuvm_llist_node *next;
};

struct gpuvm_llist_head {
	struct gpuvm_llist_node *first;
};

/**
 * struct gpuvm_ops - the driver's callbacks
 * @vm_free: mandatory; frees the structure embedding the VM, once, after
 *           the library's own teardown
 * @op_alloc: optional; returns a zeroed op for the *_ops_create builders
 * @op_free: optional; frees an op (default: gpuvm_kfree, so an op_alloc
 *           without op_free must return ops at offset 0 of the allocation)
 * @vm_bo_alloc: optional; returns zeroed memory for a vm_bo
 * @vm_bo_free: optional; frees a vm_bo. Runs with no library lock held
 *              when called from deferred cleanup or obtain_prealloc, and
 *              before the vm_bo's VM and GEM references are dropped.
 * @vm_bo_validate: required by gpuvm_validate(); makes the object valid
 * @sm_step_map, @sm_step_remap, @sm_step_unmap: the split/merge steps
 *              for gpuvm_sm_map() / gpuvm_sm_unmap()
 */
struct gpuvm_ops {
	void (*vm_free)(struct gpuvm *gpuvm);
	struct gpuva_op *(*op_alloc)(void);
	void (*op_free)(struct gpuva_op *op);
	struct gpuvm_bo *(*vm_bo_alloc)(void);
	void (*vm_bo_free)(struct gpuvm_bo *vm_bo);
	int (*vm_bo_validate)(struct gpuvm_bo *vm_bo, struct gpuvm_exec *exec);
	int (*sm_step_map)(struct gpuva_op *op, void *priv);
	int (*sm_step_remap)(struct gpuva_op *op, void *priv);
	int (*sm_step_unmap)(struct gpuva_op *op, void *priv);
};

/*
 * The VM. Drivers embed it, zero-filled, and call gpuvm_init(). Fields
 * ending in __ are private.
 */
struct gpuvm {
	const char *name; /* borrowed; NULL after teardown */
	enum gpuvm_flags flags;
	uint64_t mm_start;
	uint64_t mm_range;
	struct {
		/* Ordered index of the VAs (private). */
		uint64_t index__[12];
		/* The VAs in ascending address order. */
		struct gpuvm_list_head list;
	} rb;
	int kref; /* atomic */
	/* The reserved kernel region (range 0: none). */
	struct gpuva kernel_alloc_node;
	const struct gpuvm_ops *ops;
	/* Whose resv is the VM's resv; the VM holds a reference. */
	struct gpuvm_gem_object *r_obj;
	struct {
		struct gpuvm_list_head list;
		struct gpuvm_list_head *local_list;
		struct gpuvm_mutex lock;
	} extobj;
	struct {
		struct gpuvm_list_head list;
		struct gpuvm_list_head *local_list;
		struct gpuvm_mutex lock;
	} evict;
	/* Zombie vm_bos awaiting gpuvm_bo_deferred_cleanup(). */
	struct gpuvm_llist_head bo_defer;
};

/*
 * The pairing of one VM and one GEM object. Fields ending in __ are
 * private.
 */
struct gpuvm_bo {
	struct gpuvm *vm; /* counted reference */
	struct gpuvm_gem_object *obj; /* counted reference */
	bool evicted; /* protected by obj's resv */
	int kref; /* atomic; 0 while a zombie */
	struct {
		struct gpuvm_list_head gpuva; /* linked VAs */
		struct {
			struct gpuvm_list_head gem;
			struct gpuvm_list_head extobj;
			struct gpuvm_list_head evict;
			struct gpuvm_llist_node bo_defer;
		} entry;
	} list;
	struct gpuvm_bo *hash_next__; /* in obj's vm_bo hash */
};

/* ---- VM lifecycle ------------------------------------------------------ */

/**
 * gpuvm_init() - initialise a zero-filled VM
 * @name: borrowed; "unknown" when NULL
 * @flags: enum gpuvm_flags
 * @r_obj: the GEM whose resv becomes the VM's resv; a reference is taken
 * @start_offset, @range: the managed window [start, start + range)
 * @reserve_offset, @reserve_range: the kernel-reserved region (range 0:
 *	none), kept in the VA space as kernel_alloc_node
 * @ops: the driver's callbacks; vm_free is mandatory
 *
 * A window or reserved region whose end overflows 64 bits is reported;
 * the values are stored anyway, as in the kernel, but an overflowing
 * reserved region is not inserted (the kernel's would be undefined).
 * The VM starts with one reference.
 */
GPUVM_EXPORT void gpuvm_init(struct gpuvm *gpuvm, const char *name,
			     enum gpuvm_flags flags,
			     struct gpuvm_gem_object *r_obj,
			     uint64_t start_offset, uint64_t range,
			     uint64_t reserve_offset, uint64_t reserve_range,
			     const struct gpuvm_ops *ops);

/* Take a VM reference; the caller must already hold one. */
GPUVM_EXPORT struct gpuvm *gpuvm_get(struct gpuvm *gpuvm);

/**
 * gpuvm_put() - drop a VM reference; the last one tears the VM down
 *
 * Teardown removes the kernel node, warns (GPUVM_RULE_VM_NOT_EMPTY) about
 * VAs, extobj/evict entries or deferred vm_bos still present, drops the
 * r_obj reference and calls ops->vm_free. NULL is ignored.
 *
 * Context: the final put must not run with the VM's resv held (dropping
 * r_obj may free it): reported as GPUVM_RULE_LOCK_HELD.
 */
GPUVM_EXPORT void gpuvm_put(struct gpuvm *gpuvm);

/**
 * gpuvm_resv_object_alloc() - a bare GEM object to serve as a VM's r_obj
 *
 * Return: an object of size 0 with its own resv, one reference owned by
 * the caller, freed by its last put; NULL when out of memory.
 */
GPUVM_EXPORT struct gpuvm_gem_object *gpuvm_resv_object_alloc(void);

/* Whether [addr, addr + range) is inside the window, does not overflow
 * and does not intersect the kernel node. */
GPUVM_EXPORT bool gpuvm_range_valid(struct gpuvm *gpuvm, uint64_t addr,
				    uint64_t range);

/* Whether no VA (kernel node included) overlaps [addr, addr + range). */
GPUVM_EXPORT bool gpuvm_interval_empty(struct gpuvm *gpuvm, uint64_t addr,
				       uint64_t range);

static inline struct gpuvm_gem_object *gpuvm_resv_obj(struct gpuvm *gpuvm)
{
	return gpuvm->r_obj;
}

static inline struct gpuvm_dma_resv *gpuvm_resv(struct gpuvm *gpuvm)
{
	return gpuvm->r_obj->resv;
}

static inline bool gpuvm_resv_protected(struct gpuvm *gpuvm)
{
	return gpuvm->flags & GPUVM_RESV_PROTECTED;
}

static inline bool gpuvm_immediate_mode(struct gpuvm *gpuvm)
{
	return gpuvm->flags & GPUVM_IMMEDIATE_MODE;
}

/* Whether the calling thread holds the VM's resv. */
GPUVM_EXPORT bool gpuvm_resv_held(struct gpuvm *gpuvm);

/* Warn (naming the caller) unless the calling thread holds the VM resv. */
#define gpuvm_resv_assert_held(gpuvm__) \
	gpuvm_resv_assert_held__((gpuvm__), __func__)
GPUVM_EXPORT void gpuvm_resv_assert_held__(struct gpuvm *gpuvm,
					   const char *func);

/* Whether @obj is external to the VM: its resv is not the VM's resv. */
GPUVM_EXPORT bool gpuvm_is_extobj(struct gpuvm *gpuvm,
				  struct gpuvm_gem_object *obj);

/* ---- vm_bo ------------------------------------------------------------- */

/**
 * gpuvm_bo_create() - allocate a vm_bo for (@gpuvm, @obj), refcount 1
 *
 * Takes a VM and a GEM reference. Not published anywhere: see
 * gpuvm_bo_obtain_prealloc(). Context: allocates. Return: NULL when out of
 * memory (kernel parity: not an error pointer).
 */
GPUVM_EXPORT struct gpuvm_bo *gpuvm_bo_create(struct gpuvm *gpuvm,
					      struct gpuvm_gem_object *obj);

/**
 * gpuvm_bo_find() - the live vm_bo of (@gpuvm, @obj), with a reference
 *
 * Context: the GEM list lock. O(1) expected in the number of VMs sharing
 * @obj. Return: the vm_bo or NULL (zombies are never found).
 */
GPUVM_EXPORT struct gpuvm_bo *gpuvm_bo_find(struct gpuvm *gpuvm,
					    struct gpuvm_gem_object *obj);

/**
 * gpuvm_bo_obtain_locked() - find or create the vm_bo of (@gpuvm, @obj)
 *
 * Staged mode only (reported in immediate mode). Context: the GEM's resv.
 * Return: the vm_bo with a reference, or an error pointer (-ENOMEM).
 */
GPUVM_EXPORT struct gpuvm_bo *
gpuvm_bo_obtain_locked(struct gpuvm *gpuvm, struct gpuvm_gem_object *obj);

/**
 * gpuvm_bo_obtain_prealloc() - publish @prealloc, or return the live one
 *
 * Immediate mode only. Takes the GEM's gpuva lock itself (the caller must
 * not hold it). When a live vm_bo exists, @prealloc is destroyed after the
 * lock was released and the existing one is returned with a reference.
 * Never fails.
 */
GPUVM_EXPORT struct gpuvm_bo *
gpuvm_bo_obtain_prealloc(struct gpuvm_bo *prealloc);

/* Take a vm_bo reference; the caller must already hold one. */
GPUVM_EXPORT struct gpuvm_bo *gpuvm_bo_get(struct gpuvm_bo *vm_bo);

/**
 * gpuvm_bo_destroy_not_in_lists() - free a vm_bo that was never published
 *
 * For the only reference of a vm_bo from gpuvm_bo_create() that is on no
 * list (a prealloc the caller will not obtain): frees it at once through
 * ops->vm_bo_free, then drops its VM and GEM references, instead of
 * queueing it as a zombie like gpuvm_bo_put_deferred() would. (The kernel
 * function of this name is the kref release behind it.)
 *
 * Context: must not hold the GEM's gpuva lock, since the free may drop
 * the last GEM reference and the driver's vm_bo_free may take a resv
 * (reported as GPUVM_RULE_LOCK_HELD; the vm_bo is still freed). A vm_bo
 * that is published or has other references is reported as
 * GPUVM_RULE_VM_BO_PUBLISHED and left alone.
 * Return: true when the vm_bo was freed.
 */
GPUVM_EXPORT bool gpuvm_bo_destroy_not_in_lists(struct gpuvm_bo *vm_bo);

/**
 * gpuvm_bo_put() - drop a vm_bo reference; the last one destroys it
 *
 * Context: for a put that may be final, the GEM list lock, and with
 * GPUVM_RESV_PROTECTED the VM resv. Return: true when destroyed.
 */
GPUVM_EXPORT bool gpuvm_bo_put(struct gpuvm_bo *vm_bo);

/**
 * gpuvm_bo_put_deferred() - drop a reference; the last one makes a zombie
 *
 * Immediate mode only. The caller must not hold the GEM's gpuva lock.
 * Safe in the fence signalling path. Return: true when the count reached
 * zero (the vm_bo now awaits gpuvm_bo_deferred_cleanup()).
 */
GPUVM_EXPORT bool gpuvm_bo_put_deferred(struct gpuvm_bo *vm_bo);

/**
 * gpuvm_bo_deferred_cleanup() - destroy the zombies of @gpuvm
 *
 * With GPUVM_RESV_PROTECTED it takes the VM resv itself: the caller must
 * not hold it. Not for the signalling path.
 */
GPUVM_EXPORT void gpuvm_bo_deferred_cleanup(struct gpuvm *gpuvm);

/* Put an external object's vm_bo on the VM's extobj list (idempotent). */
GPUVM_EXPORT void gpuvm_bo_extobj_add(struct gpuvm_bo *vm_bo);

/* Record @evict for @vm_bo and update the evict list (see README for the
 * GPUVM_RESV_PROTECTED asymmetry). Context: the GEM's resv. */
GPUVM_EXPORT void gpuvm_bo_evict(struct gpuvm_bo *vm_bo, bool evict);

/* gpuvm_bo_evict() for every vm_bo of @obj. Context: the GEM's resv and,
 * in immediate mode, its gpuva lock. */
GPUVM_EXPORT void gpuvm_bo_gem_evict(struct gpuvm_gem_object *obj, bool evict);

/* VAs linked to a vm_bo; the caller holds the GEM list lock. (Unlike the
 * kernel's macro, this one uses its vm_bo argument.) */
#define gpuvm_bo_for_each_va(va__, vm_bo__) \
	gpuvm_list_for_each_entry(va__, &(vm_bo__)->list.gpuva, gem.entry)

#define gpuvm_bo_for_each_va_safe(va__, next__, vm_bo__)                     \
	gpuvm_list_for_each_entry_safe(va__, next__, &(vm_bo__)->list.gpuva, \
				       gem.entry)

/* vm_bos of a GEM object (every VM); the caller holds the GEM list lock. */
#define gpuvm_gem_for_each_gpuvm_bo(vm_bo__, obj__) \
	gpuvm_list_for_each_entry(vm_bo__, &(obj__)->gpuva.list, list.entry.gem)

#define gpuvm_gem_for_each_gpuvm_bo_safe(vm_bo__, next__, obj__)              \
	gpuvm_list_for_each_entry_safe(vm_bo__, next__, &(obj__)->gpuva.list, \
				       list.entry.gem)

/* ---- locking and validation built on gpuvm_exec ------------------------ */

/**
 * struct gpuvm_vm_exec - the kernel's struct drm_gpuvm_exec
 * @exec: the multi-object lock context
 * @flags: GPUVM_EXEC_* flags for gpuvm_exec_init()
 * @vm: the VM whose objects are locked
 * @num_fences: fence slots to reserve on every object (0: lock only)
 * @extra: optional callback locking more objects inside the loop
 */
struct gpuvm_vm_exec {
	struct gpuvm_exec exec;
	uint32_t flags;
	struct gpuvm *vm;
	unsigned int num_fences;
	struct {
		int (*fn)(struct gpuvm_vm_exec *vm_exec);
		void *priv;
	} extra;
};

GPUVM_EXPORT int gpuvm_prepare_vm(struct gpuvm *gpuvm, struct gpuvm_exec *exec,
				  unsigned int num_fences);
GPUVM_EXPORT int gpuvm_prepare_objects(struct gpuvm *gpuvm,
				       struct gpuvm_exec *exec,
				       unsigned int num_fences);
GPUVM_EXPORT int gpuvm_prepare_range(struct gpuvm *gpuvm,
				     struct gpuvm_exec *exec, uint64_t addr,
				     uint64_t range, unsigned int num_fences);

/*
 * Lock the VM resv, every external object and what extra.fn locks.
 * On failure everything is unlocked already. With GPUVM_RESV_PROTECTED,
 * evicted external vm_bos join the evict list as they are locked; on a
 * later failure the ones visited stay there (kernel parity, harmless:
 * they are evicted and the next validate handles them). lock_array
 * replaces extra while it runs and restores the caller's afterwards (the
 * kernel leaves it pointing into its own stack frame).
 */
GPUVM_EXPORT int gpuvm_vm_exec_lock(struct gpuvm_vm_exec *vm_exec);
GPUVM_EXPORT int gpuvm_vm_exec_lock_array(struct gpuvm_vm_exec *vm_exec,
					  struct gpuvm_gem_object **objs,
					  unsigned int num_objs);
GPUVM_EXPORT int gpuvm_vm_exec_lock_range(struct gpuvm_vm_exec *vm_exec,
					  uint64_t addr, uint64_t range);

static inline void gpuvm_vm_exec_unlock(struct gpuvm_vm_exec *vm_exec)
{
	gpuvm_exec_fini(&vm_exec->exec);
}

/**
 * gpuvm_validate() - call ops->vm_bo_validate for every evicted vm_bo
 *
 * Return: 0, -EOPNOTSUPP without the callback, or the first callback
 * error. With GPUVM_RESV_PROTECTED, validated entries whose evicted flag
 * is clear leave the evict list; without it the callback must call
 * gpuvm_bo_evict(vm_bo, false).
 */
GPUVM_EXPORT int gpuvm_validate(struct gpuvm *gpuvm, struct gpuvm_exec *exec);

/* Add @fence to every object locked in @exec: @extobj_usage for external
 * objects, @private_usage for the others. Slots must be reserved. */
GPUVM_EXPORT void gpuvm_resv_add_fence(struct gpuvm *gpuvm,
				       struct gpuvm_exec *exec,
				       struct gpuvm_dma_fence *fence,
				       enum gpuvm_dma_resv_usage private_usage,
				       enum gpuvm_dma_resv_usage extobj_usage);

static inline int gpuvm_vm_exec_validate(struct gpuvm_vm_exec *vm_exec)
{
	return gpuvm_validate(vm_exec->vm, &vm_exec->exec);
}

static inline void
gpuvm_vm_exec_resv_add_fence(struct gpuvm_vm_exec *vm_exec,
			     struct gpuvm_dma_fence *fence,
			     enum gpuvm_dma_resv_usage private_usage,
			     enum gpuvm_dma_resv_usage extobj_usage)
{
	gpuvm_resv_add_fence(vm_exec->vm, &vm_exec->exec, fence, private_usage,
			     extobj_usage);
}

GPUVM_END_DECLS

#endif /* GPUVM_VM_H */
