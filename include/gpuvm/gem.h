/* SPDX-License-Identifier: MIT */
/*
 * GEM objects: the buffers GPUVM maps (the GPUVM-relevant part of the
 * kernel's struct drm_gem_object).
 *
 * A driver embeds struct gpuvm_gem_object in its own buffer structure and
 * initialises it with gpuvm_gem_object_init(). The object then carries:
 *  - a reference count with the kernel's refcount contract: an increment
 *    from zero and an underflow are reported and leak the object instead of
 *    releasing it twice;
 *  - a reservation object: @resv points at the embedded @_resv, or at a
 *    reservation shared with other objects (how a VM-private buffer shares
 *    its VM's reservation, see gpuvm_gem_object_init_shared_resv());
 *  - the list of its vm_bo's (@gpuva.list) and the mutex @gpuva.lock that
 *    protects that list in immediate mode (the resv protects it otherwise).
 *
 * The final gpuvm_gem_object_put() releases the object: it finalises the
 * embedded reservation and the gpuva mutex, then calls funcs->free, which
 * frees the driver structure.
 */
#ifndef GPUVM_GEM_H
#define GPUVM_GEM_H

#include <gpuvm/common.h>
#include <gpuvm/debug.h>
#include <gpuvm/dma_resv.h>
#include <gpuvm/list.h>
#include <gpuvm/mutex.h>
#include <gpuvm/ww_mutex.h>

GPUVM_BEGIN_DECLS

/* The final gpuvm_gem_object_put() ran while the calling thread held the
 * object's own gpuva mutex (reported at once, with the checker on). */
#define GPUVM_RULE_GEM_FREED_UNDER_GPUVA_LOCK "gem-freed-under-own-gpuva-lock"

struct gpuvm_bo;

struct gpuvm_gem_object;

/**
 * struct gpuvm_gem_object_funcs - driver callbacks of a GEM object
 * @free: frees the driver structure embedding the object. Called once, by
 *        the final gpuvm_gem_object_put(), after the library finalised the
 *        embedded reservation and the gpuva mutex; the object must not be
 *        touched through libgpuvm afterwards. May be NULL (and @funcs
 *        itself may be NULL) for an object whose storage the caller frees
 *        by other means, e.g. one with static or automatic storage.
 */
struct gpuvm_gem_object_funcs {
	void (*free)(struct gpuvm_gem_object *obj);
};

/**
 * struct gpuvm_gem_object - a GEM object, embedded in a driver structure
 * @refcount: the reference count; use gpuvm_gem_object_get()/_put(). Read
 *            it with gpuvm_gem_object_refcount().
 * @size: the object's size; not interpreted by libgpuvm.
 * @funcs: the driver callbacks; may be NULL (see struct
 *         gpuvm_gem_object_funcs).
 * @resv: the reservation object that protects this object: @_resv, or a
 *        reservation shared with other objects.
 * @_resv: the embedded reservation; always initialised, used unless @resv
 *         points elsewhere.
 * @gpuva: the GPUVM part.
 * @gpuva.list: the vm_bo's of this object, in all VMs. Protected by
 *              @gpuva.lock in immediate mode, by @resv otherwise.
 * @gpuva.lock: protects @gpuva.list in immediate mode. Immediate-mode
 *              drivers take it in the fence signalling path; there, while
 *              holding it, a thread must neither take a reservation lock
 *              nor allocate memory that may block (reclaim could wait on
 *              a fence that needs it). The checker reports a blocking
 *              allocation under it once the lock was also taken in a
 *              signalling section (GPUVM_RULE_SIGNALLING_LOCK_ALLOC).
 */
struct gpuvm_gem_object {
	int refcount;
	size_t size;
	const struct gpuvm_gem_object_funcs *funcs;
	struct gpuvm_dma_resv *resv;
	struct gpuvm_dma_resv _resv;
	struct {
		struct gpuvm_list_head list;
		struct gpuvm_mutex lock;
		/* Private: vm_bos hashed by VM once the object is shared by
		 * many VMs (see src/vm_bo.c); protected like @list. */
		struct gpuvm_bo **hash__;
		unsigned int hash_bits__;
		unsigned int nr_vm_bos__;
	} gpuva;
};

/**
 * gpuvm_gem_object_init() - initialise an embedded GEM object
 * @obj: the object; its previous contents are ignored
 * @funcs: driver callbacks (may be NULL); must outlive @obj
 * @size: the object's size
 *
 * Sets the reference count to one (owned by the caller), initialises the
 * embedded reservation and points @obj->resv at it, and initialises the
 * gpuva list and mutex.
 *
 * Context: any; does not allocate, cannot fail.
 */
GPUVM_EXPORT void
gpuvm_gem_object_init(struct gpuvm_gem_object *obj,
		      const struct gpuvm_gem_object_funcs *funcs, size_t size);

/**
 * gpuvm_gem_object_init_shared_resv() - initialise a GEM object that shares
 * an existing reservation
 * @obj: the object; its previous contents are ignored
 * @funcs: driver callbacks (may be NULL); must outlive @obj
 * @size: the object's size
 * @resv: the reservation @obj->resv points at, typically the VM's
 *        (gpuvm_resv()) for a VM-private buffer; NULL: the embedded one
 *
 * As gpuvm_gem_object_init(), but @obj->resv points at @resv. The embedded
 * reservation is still initialised and finalised, it is just not used.
 * The caller keeps @resv alive as long as @obj, normally by holding a
 * reference on the object that embeds it (for a VM-private buffer: on the
 * VM, which holds its resv object).
 *
 * Assigning @obj->resv after gpuvm_gem_object_init(), before the object is
 * locked or shared with other threads, is equivalent (the kernel way).
 *
 * Context: any; does not allocate, cannot fail.
 */
GPUVM_EXPORT void
gpuvm_gem_object_init_shared_resv(struct gpuvm_gem_object *obj,
				  const struct gpuvm_gem_object_funcs *funcs,
				  size_t size, struct gpuvm_dma_resv *resv);

/**
 * gpuvm_gem_gpuva_init() - (re)initialise the gpuva list of @obj
 * @obj: the object
 *
 * gpuvm_gem_object_init() already calls it; it exists for drivers ported
 * from kernels that called drm_gem_gpuva_init() themselves. Does not touch
 * @obj->gpuva.lock.
 *
 * Context: no vm_bo may be linked to @obj (their list and index would be
 * forgotten, not freed); does not allocate or block.
 */
GPUVM_EXPORT void gpuvm_gem_gpuva_init(struct gpuvm_gem_object *obj);

/**
 * gpuvm_gem_object_get() - take a reference on @obj
 * @obj: the object
 *
 * The caller owns the new reference.
 *
 * Context: any thread, any lock, also in a fence signalling section; does
 * not allocate or block. The caller must already own a reference (an
 * increment from zero is reported as GPUVM_RULE_REFCOUNT_GET_ZERO and
 * leaks @obj; a freed object still poisoned is reported as
 * GPUVM_RULE_USE_AFTER_FREE).
 * Return: @obj.
 */
GPUVM_EXPORT struct gpuvm_gem_object *
gpuvm_gem_object_get(struct gpuvm_gem_object *obj);

/**
 * gpuvm_gem_object_put() - drop a reference on @obj
 * @obj: the object, or NULL (ignored)
 *
 * The final put releases the object: it finalises the embedded
 * reservation (not a shared one @obj->resv may point at) and destroys the
 * gpuva mutex, then calls funcs->free. An underflow is reported as
 * GPUVM_RULE_REFCOUNT_UNDERFLOW and releases nothing. With the checker on,
 * a final put while the calling thread holds @obj->gpuva.lock is reported
 * at once as GPUVM_RULE_GEM_FREED_UNDER_GPUVA_LOCK, naming the object.
 *
 * Context: any thread; does not allocate itself. A put that is not the
 * final one never blocks. The final put must not run with @obj's embedded
 * reservation or gpuva mutex held (the debug checker reports it), and
 * blocks where funcs->free does.
 * Kernel parity: the library finalises the reservation and the gpuva
 * mutex itself before funcs->free; in the kernel the free callback calls
 * drm_gem_object_release().
 */
GPUVM_EXPORT void gpuvm_gem_object_put(struct gpuvm_gem_object *obj);

/**
 * gpuvm_gem_object_refcount() - the current reference count of @obj
 * @obj: the object
 *
 * For tests and assertions.
 *
 * Context: any thread; lock-free.
 * Return: the count (a snapshot); a large negative value once misuse
 * saturated it.
 */
GPUVM_EXPORT int gpuvm_gem_object_refcount(const struct gpuvm_gem_object *obj);

/**
 * gpuvm_gem_object_set_label() - name @obj in the checker's reports
 * @obj: the object
 * @label: the name, copied; NULL removes the label
 *
 * The label is kept in a side table of the checker, not in @obj, until the
 * final gpuvm_gem_object_put(). Reports then name the object by it (the
 * leak report, GPUVM_RULE_GEM_FREED_UNDER_GPUVA_LOCK), its gpuva mutex is
 * reported as "gpuva lock of GEM '@label'" and its embedded reservation,
 * when @obj->resv points at it and no VM named it "resv of VM '...'"
 * (gpuvm_init() does for its r_obj), as "resv of GEM '@label'". Works
 * whether or not the checker is on.
 *
 * Context: not while another thread uses @obj's locks for the first time
 * after init (the lock names change); takes the checker's internal mutex;
 * uses plain malloc, a failure leaves the object unnamed.
 */
GPUVM_EXPORT void gpuvm_gem_object_set_label(struct gpuvm_gem_object *obj,
					     const char *label);

/**
 * gpuvm_gem_object_lock() - lock @obj->resv as part of @ctx
 * @obj: the object
 * @ctx: the acquire context, or NULL for a single lock
 *
 * Context: may block; not in a fence signalling section; not while
 * holding @obj's gpuva lock.
 * Return: as gpuvm_dma_resv_lock(): 0, -EALREADY (@ctx already holds it)
 * or -EDEADLK (@ctx must back off; without @ctx: the thread already holds
 * it, reported by the checker).
 */
static inline int gpuvm_gem_object_lock(struct gpuvm_gem_object *obj,
					struct gpuvm_ww_acquire_ctx *ctx)
{
	return gpuvm_dma_resv_lock(obj->resv, ctx);
}

/**
 * gpuvm_gem_object_unlock() - unlock @obj->resv
 * @obj: the object
 *
 * As gpuvm_dma_resv_unlock(): with the checker on, fence slots reserved
 * and not used are forgotten.
 *
 * Context: the thread that locked it; does not block or allocate.
 */
static inline void gpuvm_gem_object_unlock(struct gpuvm_gem_object *obj)
{
	gpuvm_dma_resv_unlock(obj->resv);
}

/**
 * gpuvm_gem_gpuva_lock() - take @obj->gpuva.lock
 * @obj: the object
 *
 * Context: may block; does not allocate. Never take a reservation lock
 * while holding it. A driver that takes it in its fence signalling path
 * must not allocate memory that may block while holding it either
 * (reported as GPUVM_RULE_SIGNALLING_LOCK_ALLOC);
 * gpuvm_bo_unmap_ops_create(), which allocates and needs this lock in
 * immediate mode, is then for paths that are not.
 */
static inline void gpuvm_gem_gpuva_lock(struct gpuvm_gem_object *obj)
{
	gpuvm_mutex_lock(&obj->gpuva.lock);
}

/**
 * gpuvm_gem_gpuva_unlock() - release @obj->gpuva.lock
 * @obj: the object
 *
 * Context: the thread that took it; does not block or allocate.
 */
static inline void gpuvm_gem_gpuva_unlock(struct gpuvm_gem_object *obj)
{
	gpuvm_mutex_unlock(&obj->gpuva.lock);
}

/**
 * gpuvm_gem_gpuva_assert_lock_held() - assert that the calling thread holds
 * the lock protecting @obj->gpuva.list
 * @immediate_mode: whether the VM the caller works for is in immediate mode
 *                  (the VM layer passes its GPUVM_IMMEDIATE_MODE flag)
 * @obj: the object
 * @func: the function that needs the lock, named in the report
 *
 * The lock is @obj->gpuva.lock in immediate mode and @obj->resv otherwise.
 * When the calling thread does not hold it, the debug checker reports
 * GPUVM_RULE_LOCK_NOT_HELD naming @func. Does nothing when debug checking
 * is off.
 *
 * Context: any thread; takes no lock, does not allocate or block.
 */
GPUVM_EXPORT void gpuvm_gem_gpuva_assert_lock_held(bool immediate_mode,
						   struct gpuvm_gem_object *obj,
						   const char *func);

GPUVM_END_DECLS

#endif /* GPUVM_GEM_H */
