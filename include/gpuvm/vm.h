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
 *  - GPUVM_IMMEDIATE_MODE: a GEM's vm_bo list (and each vm_bo's VA list)
 *    is protected by the GEM's gpuva mutex (signalling-safe), otherwise by
 *    the GEM's resv. Below, "the GEM list lock" means whichever applies;
 *  - GPUVM_RESV_PROTECTED: the VM's extobj/evict lists are protected by
 *    the VM's resv (held by the caller), otherwise by internal locks.
 * The VA space is protected by a lock the driver owns (va.h), which the
 * library neither takes nor sees. The other rules are asserted by the
 * debug checker where the library can see them, and reported by name. All
 * VMs mapping one GEM object must agree on GPUVM_IMMEDIATE_MODE, since it
 * picks the lock of the object's vm_bo list (GPUVM_RULE_MODE_MIXED).
 *
 * What the caller must hold, per mode (RP: GPUVM_RESV_PROTECTED). gpuva:
 * the GEM's gpuva mutex; resv: the GEM's resv; VM: the VM's resv; VA: the
 * driver's VA-space lock; !x: x must NOT be held (the function takes it);
 * -: no lock; n/a: not for this mode (reported as GPUVM_RULE_MODE).
 *
 *                     immediate    immediate+RP staged       staged+RP
 *  obtain             !gpuva (a)   !gpuva (a)   resv (b)     resv (b)
 *  bo_find            gpuva        gpuva        resv         resv
 *  final put (c)      gpuva        gpuva+VM     resv         resv+VM
 *  bo_put_deferred    !gpuva       !gpuva       n/a          n/a
 *  deferred_cleanup   -            !VM (d)      -            !VM (d)
 *  bo_extobj_add      -            VM           -            VM
 *  bo_evict           resv         resv         resv         resv
 *  bo_gem_evict       resv+gpuva   resv+gpuva   resv         resv
 *  gpuva_link/unlink  gpuva (c)    gpuva (c)    resv (c)     resv (c)
 *  gpuva_unlink_defer !gpuva       !gpuva       n/a          n/a
 *  prepare_objects    - (e)        VM (f)       - (e)        VM (f)
 *  vm_exec_lock*      - (g)        - (g)        - (g)        - (g)
 *  validate (h)       - (e)        VM (f)       - (e)        VM (f)
 *  VA insert/remove   VA           VA           VA           VA
 *
 *  (a) gpuvm_bo_obtain_prealloc(); (b) gpuvm_bo_obtain_locked().
 *  (c) a gpuvm_bo_put() that may drop the last reference, and so a
 *      gpuva_unlink() that may: the GEM list lock and, with RP, the VM.
 *  (d) locks the VM's resv without an acquire context: hold no resv.
 *  (e) internal list lock, taken inside; one walk of a VM's list at a time.
 *  (f) held in the same gpuvm_exec (gpuvm_prepare_vm() first).
 *  (g) a whole transaction: the caller holds none of the resvs it takes
 *      (the _range variant also needs VA).
 *  (h) every evicted object locked in the exec as well.
 *
 * Hook points (see gpuvm_hook_park() in testing.h):
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
/* A gpuvm_for_each_va*() walk that is not _safe stepped from a VA the
 * body removed (the kernel would follow a poisoned list link). */
#define GPUVM_RULE_WALK_REMOVED "gpuvm-walk-removed-va"

enum gpuvm_flags {
	/* extobj/evict lists are protected by the VM's resv. */
	GPUVM_RESV_PROTECTED = (1 << 0),
	/* GEM vm_bo lists are protected by the GEM's gpuva mutex. */
	GPUVM_IMMEDIATE_MODE = (1 << 1),
	/* First bit drivers may use. */
	GPUVM_USERBITS = (1 << 2),
};

/**
 * struct gpuvm_llist_node - a node of a lock-free stack (the kernel's
 * llist_node)
 * @next: the node below this one; changed only by the stack operations
 */
struct gpuvm_llist_node {
	struct gpuvm_llist_node *next;
};

/**
 * struct gpuvm_llist_head - a lock-free stack (the kernel's llist_head)
 * @first: the top node, NULL when empty; changed only atomically
 */
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

/**
 * struct gpuvm - a GPU VA space (the kernel's struct drm_gpuvm)
 * @name: borrowed, for reports; "unknown" when init got NULL; set to NULL
 *        by the teardown
 * @flags: enum gpuvm_flags, fixed at init
 * @mm_start: start of the managed window
 * @mm_range: size of the managed window
 * @rb.index__: private; the ordered index of every VA, the reserved
 *              region's included (the kernel's rb.tree and rb.list: walk
 *              it with the iteration macros of va.h); VA-space lock
 * @kref: the reference count (atomic); gpuvm_get() / gpuvm_put()
 * @kernel_alloc_node: the reserved kernel region (range 0: none); in the
 *                     VA space like a VA, without object or VM reference,
 *                     and never removable with gpuva_remove()
 * @ops: the driver's callbacks
 * @r_obj: the GEM object whose resv is the VM's resv; the VM holds a
 *         reference on it until its teardown
 * @extobj.list: the vm_bos of external objects (no reference held);
 *               protected by @extobj.lock, or with GPUVM_RESV_PROTECTED
 *               by the VM's resv
 * @extobj.local_list: the caller-local list of a walk in progress over
 *                     @extobj.list, or NULL (unused with
 *                     GPUVM_RESV_PROTECTED); protected by @extobj.lock
 * @extobj.lock: internal lock of @extobj.list without GPUVM_RESV_PROTECTED
 * @evict.list: the vm_bos of evicted objects (no reference held);
 *              protected as @extobj.list, by @evict.lock or the VM's resv
 * @evict.local_list: as @extobj.local_list, for @evict.list
 * @evict.lock: internal lock of @evict.list without GPUVM_RESV_PROTECTED
 * @bo_defer: zombie vm_bos awaiting gpuvm_bo_deferred_cleanup(); a
 *            lock-free stack
 *
 * Drivers embed it and call gpuvm_init(), which sets every field (the
 * kernel's needs a zero-filled struct). Drivers read the fields; only the
 * library changes them. Fields ending in __ are private.
 */
struct gpuvm {
	const char *name; /* borrowed, NULL after teardown */
	enum gpuvm_flags flags;
	uint64_t mm_start;
	uint64_t mm_range;
	struct {
		/* Ordered index of the VAs (private); the iteration macros of
		 * va.h walk it in ascending address order. */
		uint64_t index__[12];
	} rb;
	int kref; /* atomic */
	/* The reserved kernel region (range 0: none). */
	struct gpuva kernel_alloc_node;
	const struct gpuvm_ops *ops;
	/* Whose resv is the VM's resv, with a VM reference. */
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

/**
 * struct gpuvm_bo - the pairing of one VM and one GEM object (the kernel's
 * struct drm_gpuvm_bo)
 * @vm: the VM; a counted reference, dropped when the vm_bo is freed
 * @obj: the GEM object; a counted reference, dropped after @vm's
 * @evicted: whether @obj is evicted, as last told by gpuvm_bo_evict();
 *           protected by @obj's resv. gpuvm_bo_create() does not set it:
 *           a driver's vm_bo_alloc must return zeroed memory.
 * @kref: the reference count (atomic); 0 while a zombie
 * @list.gpuva: the VAs linked to this vm_bo (through gpuva.gem.entry);
 *              the GEM list lock
 * @list.entry.gem: entry in @obj's vm_bo list while published and alive;
 *                  the GEM list lock
 * @list.entry.extobj: entry in the VM's extobj list (see struct gpuvm)
 * @list.entry.evict: entry in the VM's evict list (see struct gpuvm)
 * @list.entry.bo_defer: entry in the VM's bo_defer stack while a zombie
 *
 * At most one live vm_bo per pair is published on @obj's list, which the
 * obtain functions guarantee. Fields ending in __ are private.
 */
struct gpuvm_bo {
	struct gpuvm *vm; /* counted reference */
	struct gpuvm_gem_object *obj; /* counted reference */
	bool evicted; /* protected by obj's resv */
	unsigned char on_extobj__; /* on the extobj list */
	unsigned char on_evict__; /* on the evict list */
	int kref; /* atomic, 0 while a zombie */
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
 * gpuvm_init() - initialise a VM
 * @gpuvm: the VM, embedded in the driver's structure
 * @name: borrowed; "unknown" when NULL
 * @flags: enum gpuvm_flags
 * @r_obj: the GEM whose resv becomes the VM's resv (not NULL); the VM
 *	takes a reference
 * @start_offset, @range: the managed window [start, start + range)
 * @reserve_offset, @reserve_range: the kernel-reserved region (range 0:
 *	none), kept in the VA space as kernel_alloc_node; not checked
 *	against the window
 * @ops: the driver's callbacks; vm_free is mandatory (a missing one is
 *	reported by the final gpuvm_put())
 *
 * A window or reserved region whose end overflows 64 bits is reported
 * (GPUVM_RULE_VM_BAD_RANGE); the values are stored anyway, as in the
 * kernel, but an overflowing reserved region is not inserted. The VM
 * starts with one reference, the caller's.
 *
 * Context: no lock; never blocks. Indexing the reserved region may
 * allocate without blocking; a failure is reported
 * (GPUVM_RULE_VM_INIT_NOMEM), not returned.
 * Kernel parity: no drm device argument (and no device reference); every
 * field is set, where the kernel relies on a zero-filled struct; the
 * kernel's teardown would remove an overflowing region it never inserted.
 */
GPUVM_EXPORT void gpuvm_init(struct gpuvm *gpuvm, const char *name,
			     enum gpuvm_flags flags,
			     struct gpuvm_gem_object *r_obj,
			     uint64_t start_offset, uint64_t range,
			     uint64_t reserve_offset, uint64_t reserve_range,
			     const struct gpuvm_ops *ops);

/**
 * gpuvm_get() - take a reference on @gpuvm
 * @gpuvm: the VM; the caller must already hold a reference
 *
 * Context: any; atomic, never sleeps. An increment from zero is reported
 * (GPUVM_RULE_REFCOUNT_GET_ZERO) and leaks the VM rather than free it
 * twice.
 * Return: @gpuvm.
 */
GPUVM_EXPORT struct gpuvm *gpuvm_get(struct gpuvm *gpuvm);

/**
 * gpuvm_put() - drop a VM reference; the last one tears the VM down
 * @gpuvm: the VM, or NULL (ignored)
 *
 * Teardown removes the reserved region, reports (GPUVM_RULE_VM_NOT_EMPTY)
 * VAs, extobj/evict entries or zombies still present, drops the r_obj
 * reference and calls ops->vm_free (none: GPUVM_RULE_VM_NO_FREE, and the
 * VM is leaked). With the debug checker on, the library's fields of the
 * VM are poisoned before vm_free.
 *
 * Context: a put that is not the last is atomic and lock-free. The last
 * one must not run with the VM's resv held (dropping r_obj may free it;
 * reported as GPUVM_RULE_LOCK_HELD) and runs ops->vm_free, so it is not
 * for the fence signalling path. Never allocates.
 * Kernel parity: there is no device reference to drop after vm_free.
 */
GPUVM_EXPORT void gpuvm_put(struct gpuvm *gpuvm);

/**
 * gpuvm_resv_object_alloc() - a bare GEM object to serve as a VM's r_obj
 *
 * Context: no lock; allocates (may block).
 * Return: an object of size 0 with its own resv and one reference, owned
 * by the caller (gpuvm_init() takes its own, so drivers usually put theirs
 * after init); freed by its last put. NULL when out of memory.
 * Kernel parity: no drm device argument.
 */
GPUVM_EXPORT struct gpuvm_gem_object *gpuvm_resv_object_alloc(void);

/**
 * gpuvm_range_valid() - whether [@addr, @addr + @range) may be mapped
 * @gpuvm: the VM
 * @addr: start of the range
 * @range: its size
 *
 * Context: any; no lock (it reads only what gpuvm_init() set).
 * Return: true when @addr + @range does not overflow, the range lies in
 * the managed window and it does not intersect the reserved region. A
 * range of 0 passes, as in the kernel; gpuva_insert() and the split/merge
 * entry points refuse it themselves.
 */
GPUVM_EXPORT bool gpuvm_range_valid(struct gpuvm *gpuvm, uint64_t addr,
				    uint64_t range);

/**
 * gpuvm_interval_empty() - whether no VA overlaps [@addr, @addr + @range)
 * @gpuvm: the VM
 * @addr: start of the range
 * @range: its size; not validated (0: see gpuva_find_first())
 *
 * Context: the driver's VA-space lock; never sleeps or allocates.
 * Return: true when gpuva_find_first() finds nothing; the reserved region
 * counts as a VA.
 */
GPUVM_EXPORT bool gpuvm_interval_empty(struct gpuvm *gpuvm, uint64_t addr,
				       uint64_t range);

/**
 * gpuvm_resv_obj() - the GEM object that carries the VM's resv
 * @gpuvm: the VM
 *
 * Context: any; no lock.
 * Return: @gpuvm->r_obj, without a new reference.
 */
static inline struct gpuvm_gem_object *gpuvm_resv_obj(struct gpuvm *gpuvm)
{
	return gpuvm->r_obj;
}

/**
 * gpuvm_resv() - the VM's resv
 * @gpuvm: the VM
 *
 * Context: any; no lock.
 * Return: the resv of @gpuvm->r_obj, shared by every private object.
 */
static inline struct gpuvm_dma_resv *gpuvm_resv(struct gpuvm *gpuvm)
{
	return gpuvm->r_obj->resv;
}

/**
 * gpuvm_resv_protected() - whether the VM has GPUVM_RESV_PROTECTED
 * @gpuvm: the VM
 *
 * Context: any; no lock.
 * Return: true when the extobj/evict lists are protected by the VM's resv.
 */
static inline bool gpuvm_resv_protected(struct gpuvm *gpuvm)
{
	return gpuvm->flags & GPUVM_RESV_PROTECTED;
}

/**
 * gpuvm_immediate_mode() - whether the VM has GPUVM_IMMEDIATE_MODE
 * @gpuvm: the VM
 *
 * Context: any; no lock.
 * Return: true when GEM vm_bo lists are protected by the gpuva mutex.
 */
static inline bool gpuvm_immediate_mode(struct gpuvm *gpuvm)
{
	return gpuvm->flags & GPUVM_IMMEDIATE_MODE;
}

/**
 * gpuvm_resv_held() - whether the calling thread holds the VM's resv
 * @gpuvm: the VM
 *
 * Context: any; for assertions.
 * Return: true when this thread holds it; always true while the debug
 * checker is off (like lockdep_is_held() without lockdep).
 */
GPUVM_EXPORT bool gpuvm_resv_held(struct gpuvm *gpuvm);

/* Warn (naming the caller) unless the calling thread holds the VM resv. */
#define gpuvm_resv_assert_held(gpuvm__) \
	gpuvm_resv_assert_held__((gpuvm__), __func__)
GPUVM_EXPORT void gpuvm_resv_assert_held__(struct gpuvm *gpuvm,
					   const char *func);

/**
 * gpuvm_is_extobj() - whether @obj is external to @gpuvm
 * @gpuvm: the VM
 * @obj: a GEM object, or NULL
 *
 * Context: any; no lock.
 * Return: true when @obj is not NULL and its resv is not the VM's resv
 * (resvs are compared, not objects).
 */
GPUVM_EXPORT bool gpuvm_is_extobj(struct gpuvm *gpuvm,
				  struct gpuvm_gem_object *obj);

/* ---- vm_bo ------------------------------------------------------------- */

/**
 * gpuvm_bo_create() - allocate an unpublished vm_bo for (@gpuvm, @obj)
 * @gpuvm: the VM; the vm_bo takes a reference on it
 * @obj: the GEM object; the vm_bo takes a reference on it
 *
 * Memory comes from ops->vm_bo_alloc (which must zero it) or a zeroing
 * default. The vm_bo is on no list: the caller owns its only reference
 * and either publishes it with gpuvm_bo_obtain_prealloc() or frees it
 * with gpuvm_bo_destroy_not_in_lists().
 *
 * Context: no lock needed; allocates (may block), so not for the fence
 * signalling path.
 * Return: the vm_bo, refcount 1; NULL (as in the kernel, not an error
 * pointer) when out of memory or when @gpuvm was already freed
 * (reported); nothing is taken then.
 */
GPUVM_EXPORT struct gpuvm_bo *gpuvm_bo_create(struct gpuvm *gpuvm,
					      struct gpuvm_gem_object *obj);

/**
 * gpuvm_bo_find() - the live vm_bo of (@gpuvm, @obj), with a reference
 * @gpuvm: the VM
 * @obj: the GEM object
 *
 * Context: @obj's GEM list lock (immediate mode: its gpuva mutex; staged:
 * its resv), asserted. Never sleeps or allocates.
 * Return: the vm_bo with a new reference, owned by the caller, or NULL.
 * Zombies are never found.
 * Kernel parity: O(1) expected in the number of VMs sharing @obj (a
 * per-object hash once 8 or more do); the kernel walks the list.
 */
GPUVM_EXPORT struct gpuvm_bo *gpuvm_bo_find(struct gpuvm *gpuvm,
					    struct gpuvm_gem_object *obj);

/**
 * gpuvm_bo_obtain_locked() - find or create the vm_bo of (@gpuvm, @obj)
 * @gpuvm: the VM, in staged mode (immediate mode is reported as
 *	GPUVM_RULE_MODE: use gpuvm_bo_obtain_prealloc() there)
 * @obj: the GEM object
 *
 * A new vm_bo is published on @obj's vm_bo list. Neither kind is put on
 * the extobj list: that is gpuvm_bo_extobj_add().
 *
 * Context: @obj's resv (the GEM list lock in staged mode), asserted.
 * Allocates (may block): not for the fence signalling path.
 * Return: the existing vm_bo with a new reference, or a new one with
 * refcount 1; either reference is the caller's. ERR_PTR(-ENOMEM) with
 * nothing changed.
 * Kernel parity: may also grow the per-object vm_bo hash (see
 * gpuvm_bo_find()); failing that is not an error.
 */
GPUVM_EXPORT struct gpuvm_bo *
gpuvm_bo_obtain_locked(struct gpuvm *gpuvm, struct gpuvm_gem_object *obj);

/**
 * gpuvm_bo_obtain_prealloc() - publish @prealloc, or return the live one
 * @prealloc: from gpuvm_bo_create(), on no list; the caller's reference
 *	is its only one
 *
 * Immediate mode only (staged mode is reported as GPUVM_RULE_MODE). Looks
 * the pair up under the GEM's gpuva mutex and publishes @prealloc when
 * there is no live vm_bo. Otherwise @prealloc is freed after the mutex
 * was released: ops->vm_bo_free runs with no library lock held, then its
 * VM and GEM references are dropped.
 *
 * Context: must not hold the GEM's gpuva mutex (taken here). Before taking
 * it, may allocate (blocking) a bigger per-object vm_bo hash. Not for the
 * fence signalling path (allocation, driver free hook, GEM put).
 * Return: @prealloc, published, its reference still the caller's; or the
 * existing vm_bo with a new reference for the caller, the caller's
 * reference on @prealloc consumed. Never fails (an already freed
 * @prealloc is reported and returned as is).
 * Kernel parity: the kernel's never allocates; failing to grow the hash
 * is not an error.
 */
GPUVM_EXPORT struct gpuvm_bo *
gpuvm_bo_obtain_prealloc(struct gpuvm_bo *prealloc);

/**
 * gpuvm_bo_get() - take a reference on @vm_bo
 * @vm_bo: the vm_bo; the caller must already hold a reference
 *
 * Context: any; atomic, never sleeps. An increment from zero (a zombie) is
 * reported (GPUVM_RULE_REFCOUNT_GET_ZERO) and leaks the vm_bo rather than
 * free it twice.
 * Return: @vm_bo.
 */
GPUVM_EXPORT struct gpuvm_bo *gpuvm_bo_get(struct gpuvm_bo *vm_bo);

/**
 * gpuvm_bo_destroy_not_in_lists() - free a vm_bo that was never published
 * @vm_bo: from gpuvm_bo_create(), on no list, with only the caller's
 *	reference (which this consumes); NULL is ignored
 *
 * For a prealloc the caller will not obtain: frees it at once through
 * ops->vm_bo_free, then drops its VM and GEM references, instead of
 * queueing it as a zombie like gpuvm_bo_put_deferred() would. (The kernel
 * function of this name is the kref release behind it.)
 *
 * Context: must not hold the GEM's gpuva lock, since the free may drop
 * the last GEM reference and the driver's vm_bo_free may take a resv
 * (reported as GPUVM_RULE_LOCK_HELD; the vm_bo is still freed). A vm_bo
 * that is published or has other references is reported as
 * GPUVM_RULE_VM_BO_PUBLISHED and left alone. Never allocates; not for the
 * fence signalling path.
 * Return: true when the vm_bo was freed; false for NULL, an already freed
 * vm_bo (reported) or one left alone.
 */
GPUVM_EXPORT bool gpuvm_bo_destroy_not_in_lists(struct gpuvm_bo *vm_bo);

/**
 * gpuvm_bo_put() - drop a vm_bo reference; the last one destroys it
 * @vm_bo: the vm_bo, or NULL (ignored)
 *
 * The last reference takes the vm_bo off the VM's extobj and evict lists
 * and off its GEM's list, then frees it: ops->vm_bo_free runs under the
 * caller's locks, then the VM reference (possibly the VM's last) and the
 * GEM reference are dropped.
 *
 * Context: a put that may be the last needs the GEM list lock (immediate:
 * the gpuva mutex; staged: the GEM's resv) and, with GPUVM_RESV_PROTECTED,
 * the VM's resv (both asserted); without GPUVM_RESV_PROTECTED it takes the
 * internal list locks itself (as the kernel, both every time with the
 * checker or the explorer on; with both off, only those of the lists the
 * vm_bo is on). The caller should hold its own GEM
 * reference, so that the lock it holds outlives the put. May sleep, never
 * allocates. Not for the fence signalling path: immediate-mode drivers
 * use gpuvm_bo_put_deferred() there.
 * Return: true when the vm_bo was destroyed.
 */
GPUVM_EXPORT bool gpuvm_bo_put(struct gpuvm_bo *vm_bo);

/**
 * gpuvm_bo_put_deferred() - drop a reference; the last one makes a zombie
 * @vm_bo: the vm_bo, or NULL (ignored)
 *
 * Immediate mode only (staged mode is reported as GPUVM_RULE_MODE). When
 * the count may reach zero it takes the GEM's gpuva mutex. A vm_bo whose
 * count reaches zero leaves its GEM's list and, without
 * GPUVM_RESV_PROTECTED, the extobj/evict lists (with it, it stays on them,
 * skipped by the library's walks, until the cleanup), and is pushed on the
 * VM's bo_defer stack once the mutex is released. The zombie keeps its VM
 * and GEM references until gpuvm_bo_deferred_cleanup().
 *
 * Context: must not hold the GEM's gpuva mutex (nor, without
 * GPUVM_RESV_PROTECTED, the internal list locks it may take, on the same
 * terms as gpuvm_bo_put()). Takes no
 * resv, never allocates, never calls the driver: fit for the fence
 * signalling path.
 * Return: true when the count reached zero (the vm_bo is now a zombie).
 */
GPUVM_EXPORT bool gpuvm_bo_put_deferred(struct gpuvm_bo *vm_bo);

/**
 * gpuvm_bo_deferred_cleanup() - free the zombies of @gpuvm
 * @gpuvm: the VM; the caller holds a reference (the zombies' may be the
 *	last others)
 *
 * Takes the whole bo_defer stack at once (concurrent callers get disjoint
 * batches). With GPUVM_RESV_PROTECTED it locks the VM's resv to take the
 * batch off the extobj/evict lists. Then each zombie is freed:
 * ops->vm_bo_free with no library lock held, then its VM and GEM
 * references are dropped. Every immediate-mode driver must call it,
 * teardown included, or the zombies pin their VM and objects.
 *
 * Context: with GPUVM_RESV_PROTECTED the caller must hold no resv, as the
 * VM's is locked without an acquire context (holding the VM's is reported
 * as GPUVM_RULE_LOCK_HELD, and the cleanup then goes on without taking
 * it); without it, no lock is needed. May sleep, never allocates; not for
 * the fence signalling path.
 */
GPUVM_EXPORT void gpuvm_bo_deferred_cleanup(struct gpuvm *gpuvm);

/**
 * gpuvm_bo_extobj_add() - put @vm_bo on its VM's extobj list if external
 * @vm_bo: a live vm_bo, the caller holding a reference
 *
 * Nothing happens for a private object (gpuvm_is_extobj()) or a vm_bo
 * already on the list. The list holds no reference; the vm_bo leaves it
 * only when it dies.
 *
 * Context: with GPUVM_RESV_PROTECTED the VM's resv (asserted); without it
 * no lock (the internal one is taken). Never allocates.
 */
GPUVM_EXPORT void gpuvm_bo_extobj_add(struct gpuvm_bo *vm_bo);

/**
 * gpuvm_bo_evict() - record whether @vm_bo's object is evicted
 * @vm_bo: the vm_bo
 * @evict: the new state
 *
 * Sets @vm_bo->evicted and puts the vm_bo on the VM's evict list, or takes
 * it off, with one exception. With GPUVM_RESV_PROTECTED that list is
 * protected by the VM's resv, while the caller (typically a buffer move)
 * holds only the object's resv. For a private object that is the same
 * lock, so the list is updated at once. For an external object it is not:
 * the list is left alone and only the flag records the eviction. The
 * vm_bo joins the evict list at the next gpuvm_prepare_objects() (hence
 * gpuvm_vm_exec_lock*()), which runs under the VM's resv, and leaves it in
 * gpuvm_validate() once the flag is clear. A driver that never prepares
 * the objects never finds it on the list.
 *
 * Context: the object's resv (asserted); without GPUVM_RESV_PROTECTED the
 * internal evict lock is taken. Never allocates or takes a resv.
 */
GPUVM_EXPORT void gpuvm_bo_evict(struct gpuvm_bo *vm_bo, bool evict);

/**
 * gpuvm_bo_gem_evict() - gpuvm_bo_evict() for every vm_bo of @obj
 * @obj: the GEM object, in every VM that maps it
 * @evict: the new state
 *
 * Context: @obj's resv and, in immediate mode, also its gpuva mutex (the
 * GEM list lock, asserted for each vm_bo's VM). Never allocates.
 */
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

/**
 * gpuvm_prepare_vm() - lock the VM's resv in @exec
 * @gpuvm: the VM
 * @exec: the transaction, inside its gpuvm_exec_until_all_locked() loop
 * @num_fences: fence slots to reserve; 0 locks only
 *
 * Context: may block (interruptibly with GPUVM_EXEC_INTERRUPTIBLE_WAIT)
 * and allocate; not for the fence signalling path.
 * Return: 0, or the lock error: -EDEADLK (contention: retry), -EALREADY
 * (already locked in @exec, without GPUVM_EXEC_IGNORE_DUPLICATES), -EINTR
 * or -ENOMEM.
 */
GPUVM_EXPORT int gpuvm_prepare_vm(struct gpuvm *gpuvm, struct gpuvm_exec *exec,
				  unsigned int num_fences);

/**
 * gpuvm_prepare_objects() - lock every external object of @gpuvm in @exec
 * @gpuvm: the VM
 * @exec: the transaction, inside its loop
 * @num_fences: fence slots to reserve on each; 0 locks only
 *
 * Zombies are skipped. With GPUVM_RESV_PROTECTED each evicted external
 * vm_bo joins the evict list once its object is locked (see
 * gpuvm_bo_evict()); after a failure the ones visited stay there, which is
 * harmless: they are evicted and the next validate handles them. Without
 * it the extobj list is walked with its internal lock dropped around each
 * lock, the vm_bo being visited held by a temporary reference.
 *
 * Context: with GPUVM_RESV_PROTECTED the VM's resv, locked in @exec
 * (gpuvm_prepare_vm() first; asserted). Without it no lock, but one walk
 * of a VM's extobj list at a time (reported as GPUVM_RULE_LOCAL_LIST):
 * locking the VM's resv first serialises them. May block and allocate.
 * Return: 0, or the first lock error, as gpuvm_prepare_vm(); the walk
 * stops there.
 * Kernel parity: when the walk's temporary reference turns out to be the
 * last, the kernel drops it without the gpuva mutex; here (immediate
 * mode) that put takes it.
 */
GPUVM_EXPORT int gpuvm_prepare_objects(struct gpuvm *gpuvm,
				       struct gpuvm_exec *exec,
				       unsigned int num_fences);

/**
 * gpuvm_prepare_range() - lock the objects mapped in [@addr, @addr + @range)
 * @gpuvm: the VM
 * @exec: the transaction, inside its loop
 * @addr: start of the range
 * @range: its size; not validated
 * @num_fences: fence slots to reserve on each; 0 locks only
 *
 * VAs without an object (the reserved region's included) are skipped.
 * The VM's resv is locked only through a private object mapped in the
 * range. Objects repeat: use GPUVM_EXEC_IGNORE_DUPLICATES.
 *
 * Context: the driver's VA-space lock; may block and allocate.
 * Return: 0, or the first lock error, as gpuvm_prepare_vm().
 */
GPUVM_EXPORT int gpuvm_prepare_range(struct gpuvm *gpuvm,
				     struct gpuvm_exec *exec, uint64_t addr,
				     uint64_t range, unsigned int num_fences);

/**
 * gpuvm_vm_exec_lock() - lock the VM's resv, its external objects and more
 * @vm_exec: vm, flags, num_fences and optionally extra set by the caller;
 *	exec is initialised here
 *
 * One whole transaction: gpuvm_prepare_vm(), gpuvm_prepare_objects(), then
 * extra.fn if set, all retried on contention.
 *
 * It calls gpuvm_exec_init(&vm_exec->exec, vm_exec->flags, 0) itself: do
 * not initialise the exec first (a second init leaks the object array
 * the first one allocated). The same holds for gpuvm_vm_exec_lock_array()
 * and gpuvm_vm_exec_lock_range().
 *
 * Context: the caller holds none of the resvs it takes, nor a gpuva
 * mutex. May block and allocate; not for the fence signalling path.
 * Return: 0 with everything locked (gpuvm_vm_exec_unlock() releases it).
 * Otherwise -EINTR, -ENOMEM, -EALREADY (a resv met twice without
 * GPUVM_EXEC_IGNORE_DUPLICATES) or extra.fn's error, with everything
 * already unlocked and the exec finished. With GPUVM_RESV_PROTECTED,
 * evicted external vm_bos visited before a failure stay on the evict list
 * (as in the kernel; harmless, see gpuvm_prepare_objects()).
 */
GPUVM_EXPORT int gpuvm_vm_exec_lock(struct gpuvm_vm_exec *vm_exec);

/**
 * gpuvm_vm_exec_lock_array() - gpuvm_vm_exec_lock() plus @num_objs objects
 * @vm_exec: as for gpuvm_vm_exec_lock(); its extra.fn is not called
 * @objs: more objects to lock, each with num_fences slots
 * @num_objs: number of entries in @objs
 *
 * Context: as gpuvm_vm_exec_lock().
 * Return: as gpuvm_vm_exec_lock(), the error of locking @objs taking the
 * place of extra.fn's.
 * Kernel parity: the caller's extra.fn and extra.priv are restored before
 * returning; the kernel leaves them pointing into its own stack frame.
 */
GPUVM_EXPORT int gpuvm_vm_exec_lock_array(struct gpuvm_vm_exec *vm_exec,
					  struct gpuvm_gem_object **objs,
					  unsigned int num_objs);

/**
 * gpuvm_vm_exec_lock_range() - lock the objects mapped in a range
 * @vm_exec: vm, flags and num_fences set by the caller; exec is
 *	initialised here; extra is ignored
 * @addr: start of the range
 * @range: its size; not validated
 *
 * One transaction of gpuvm_prepare_range() alone: neither the VM's resv
 * (unless a private object is mapped in the range) nor external objects
 * outside the range are locked.
 *
 * Context: the driver's VA-space lock; the caller holds none of the resvs
 * it takes. May block and allocate.
 * Return: as gpuvm_vm_exec_lock(): 0 with the objects locked; on error
 * everything is already unlocked.
 */
GPUVM_EXPORT int gpuvm_vm_exec_lock_range(struct gpuvm_vm_exec *vm_exec,
					  uint64_t addr, uint64_t range);

/**
 * gpuvm_vm_exec_unlock() - release what a successful lock took
 * @vm_exec: locked by a gpuvm_vm_exec_lock*() that returned 0
 *
 * Finishes @vm_exec->exec: unlocks every object and drops the exec's
 * references on them. A failed lock needs no unlock.
 *
 * Context: the thread that locked; never allocates.
 */
static inline void gpuvm_vm_exec_unlock(struct gpuvm_vm_exec *vm_exec)
{
	gpuvm_exec_fini(&vm_exec->exec);
}

/**
 * gpuvm_validate() - call ops->vm_bo_validate for every evicted vm_bo
 * @gpuvm: the VM
 * @exec: the transaction holding the objects' resvs; passed to the callback
 *
 * With GPUVM_RESV_PROTECTED zombies are skipped, and a vm_bo whose evicted
 * flag is clear after its callback leaves the evict list (one still
 * flagged stays for the next validate). Without it the library removes
 * nothing: the callback must call gpuvm_bo_evict(vm_bo, false); the list is
 * walked with its internal lock dropped around each callback, the vm_bo
 * being visited held by a temporary reference.
 *
 * In both modes the library never clears @vm_bo->evicted: the callback
 * does, with gpuvm_bo_evict(vm_bo, false) (under the object's resv, held
 * in @exec). With GPUVM_RESV_PROTECTED that call takes a private object's
 * vm_bo off the list at once (its resv is the VM's), while an external
 * object's only has its flag cleared: the library takes it off the list
 * after the callback returns.
 *
 * Context: every evicted object locked in @exec; with GPUVM_RESV_PROTECTED
 * also the VM's resv (asserted, as is each validated object's resv).
 * Without it, one walk of a VM's evict list at a time
 * (GPUVM_RULE_LOCAL_LIST). May block and allocate through the callback;
 * not for the fence signalling path.
 * Return: 0; -EOPNOTSUPP without ops->vm_bo_validate; otherwise the first
 * callback error (the walk stops, the rest stays on the list).
 * Kernel parity: a temporary reference that turns out to be the last is
 * dropped under the gpuva mutex (immediate mode), as in
 * gpuvm_prepare_objects().
 */
GPUVM_EXPORT int gpuvm_validate(struct gpuvm *gpuvm, struct gpuvm_exec *exec);

/**
 * gpuvm_resv_add_fence() - add @fence to every object locked in @exec
 * @gpuvm: the VM, which decides which objects are external
 * @exec: the locked transaction
 * @fence: the fence; each resv takes its own reference
 * @private_usage: usage for objects sharing the VM's resv
 * @extobj_usage: usage for external objects
 *
 * Every object recorded in @exec gets @fence, including ones that are not
 * the VM's (e.g. locked by extra.fn). A duplicate ignored by
 * GPUVM_EXEC_IGNORE_DUPLICATES was not recorded, so a shared resv is
 * normally fenced once.
 *
 * Context: every object still locked (asserted), with a fence slot
 * reserved (num_fences > 0 when locking). Never allocates.
 * Kernel parity: an object without a free slot is reported
 * (GPUVM_RULE_RESV_NO_SLOT) and gets no fence; the kernel has no such
 * fallback.
 */
GPUVM_EXPORT void gpuvm_resv_add_fence(struct gpuvm *gpuvm,
				       struct gpuvm_exec *exec,
				       struct gpuvm_dma_fence *fence,
				       enum gpuvm_dma_resv_usage private_usage,
				       enum gpuvm_dma_resv_usage extobj_usage);

/**
 * gpuvm_vm_exec_validate() - gpuvm_validate() for a locked @vm_exec
 * @vm_exec: locked by gpuvm_vm_exec_lock*()
 *
 * Context: as gpuvm_validate().
 * Return: as gpuvm_validate().
 */
static inline int gpuvm_vm_exec_validate(struct gpuvm_vm_exec *vm_exec)
{
	return gpuvm_validate(vm_exec->vm, &vm_exec->exec);
}

/**
 * gpuvm_vm_exec_resv_add_fence() - gpuvm_resv_add_fence() for @vm_exec
 * @vm_exec: locked by gpuvm_vm_exec_lock*()
 * @fence: the fence
 * @private_usage: usage for objects sharing the VM's resv
 * @extobj_usage: usage for external objects
 *
 * Context: as gpuvm_resv_add_fence().
 */
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
