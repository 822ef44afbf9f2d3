/* SPDX-License-Identifier: MIT */
/*
 * A device that a driver binds to and unbinds from, the resources that
 * live exactly as long as one binding (devres), and the DMA mappings that
 * must not outlive it.
 *
 * Model (the userspace stand-in for struct device and the Rust
 * Device<Bound>/Devres abstractions):
 *  - gpuvm_device_bind() starts a binding and bumps the bind generation;
 *    gpuvm_device_unbind() ends it.
 *  - A bound scope, entered with gpuvm_device_bound_enter() and left with
 *    gpuvm_device_bound_exit(), is the proof that the device is bound: a
 *    caller holding a struct gpuvm_device_bound token knows the binding
 *    cannot end under it, because unbind waits until every bound scope
 *    has been left (the kernel's &Device<Bound>). Entering fails once the
 *    device is unbound or an unbind has started.
 *  - Device resources (gpuvm_devres_new(), gpuvm_devm_add_action_or_reset())
 *    are registered while bound and released by unbind, newest first.
 *  - A devres wraps its data in a revocable: code without a bound scope
 *    reaches the data with gpuvm_devres_try_access(), a liburcu read-side
 *    critical section; unbind revokes the data, waits for a grace period
 *    (synchronize_rcu) so that no reader still sees it, then releases it.
 *  - Every DMA mapping made with gpuvm_dma_map_sgtable() is recorded in
 *    a per-device registry, tagged with the bind generation. Unbind warns
 *    (GPUVM_RULE_DEVICE_DMA_LEAK) when a mapping of the ending binding is
 *    still live after all devres were released: such a mapping should have
 *    been a device resource.
 *
 * Devres drop, new semantics: gpuvm_devres_drop() returns only once the
 * data has been released, also when an unbind on another thread is
 * releasing it at the same moment (it then waits for that release). The
 * owner of the devres may therefore free whatever the release callback
 * touches as soon as the drop returns. The exception is a drop inside an
 * RCU read-side section, which must not wait (see gpuvm_devres_drop()).
 *
 * Locking: unbind runs the release callbacks with no lock held except
 * the device's own bind/unbind serialisation, so a release callback must
 * not bind, unbind or finalise its device. For the debug checker, a bound
 * scope is a read-side acquisition of the device (lock class
 * "gpuvm_device") and unbind a write-side one: what a release callback
 * takes is ordered after the device, so a thread that holds such a lock
 * while it unbinds (or while a devres drop waits for an unbind) is
 * reported as a lock-order inversion. Never unbind from inside
 * a bound scope of the same device: that waits for itself.
 *
 * Threads and liburcu. Readers and revocation use liburcu's urcu-memb
 * flavour, which requires every thread that enters a read-side critical
 * section to be registered with it. libgpuvm registers a thread
 * automatically the first time it enters one through the library
 * (gpuvm_devres_try_access(), gpuvm_revocable_try_access(), the fast path
 * of gpuvm_gem_shmem_sg_table()) and unregisters it when the thread
 * exits, so application threads need no set-up. libgpuvm creates no
 * threads of its own; liburcu's callback worker threads are registered by
 * liburcu and recognised. Rules that remain:
 *  - a thread must not exit, unbind a device, drop a devres or revoke a
 *    revocable while inside a read-side section (gpuvm_device_unbind()
 *    detects the unbind case, warns and refuses with -EDEADLK;
 *    gpuvm_devres_drop() warns and does not wait, see there);
 *  - an application thread that registered itself with urcu-memb must say
 *    so with gpuvm_rcu_external_thread() (rcu.h) before its first libgpuvm
 *    call, or it would be registered twice.
 */
#ifndef GPUVM_DEVICE_H
#define GPUVM_DEVICE_H

#include <pthread.h>
#include <stdint.h>

#include <gpuvm/common.h>
#include <gpuvm/debug.h>
#include <gpuvm/list.h>

GPUVM_BEGIN_DECLS

/* Rules of the device warnings. */
#define GPUVM_RULE_DEVICE_DMA_LEAK "device-unbind-dma-mapping-live"
#define GPUVM_RULE_DEVICE_TOKEN "device-bound-token-invalid"
#define GPUVM_RULE_DEVICE_FINI "device-fini-while-in-use"
#define GPUVM_RULE_DEVICE_RCU "device-rcu-read-section"
#define GPUVM_RULE_DMA_UNMAP "dma-unmap-not-mapped"
#define GPUVM_RULE_DEVICE_NULL_DATA "revocable-null-data"

/* The page size of shmem objects and DMA mappings. */
#define GPUVM_PAGE_SIZE 4096u

/**
 * struct gpuvm_device - a device drivers bind to
 * @name: for reports; not copied, must outlive the device
 *
 * Everything else is private; use the functions below. Initialise with
 * gpuvm_device_init(), finalise with gpuvm_device_fini(). The device must
 * outlive every devres registered on it and every DMA mapping made for it.
 */
struct gpuvm_device {
	const char *name;
	/* private */
	pthread_mutex_t lock__; /* state, lists and counters below */
	pthread_cond_t cond__; /* bound scopes left, revocations done */
	pthread_mutex_t unbind_lock__; /* serialises bind and unbind */
	int state__;
	uint64_t generation__;
	unsigned int bound__; /* bound scopes entered and not left */
	struct gpuvm_list_head devres__;
	unsigned long nr_devres__;
	struct gpuvm_list_head dma_maps__;
	unsigned long nr_dma_maps__, dma_map_calls__, dma_unmap_calls__;
	uint64_t next_iova__;
	struct gpuvm_lockdep_map dep_map__;
};

/**
 * struct gpuvm_device_bound - a bound scope: the proof the device is bound
 * @dev: the device; NULL once the scope was left
 * @generation: the bind generation the scope belongs to
 * @dep_map: the scope's read-side acquisition, for the debug checker
 *
 * Lives on the stack of the thread that entered the scope; it must be left
 * on that thread, and must not be copied.
 */
struct gpuvm_device_bound {
	struct gpuvm_device *dev;
	uint64_t generation;
	struct gpuvm_lockdep_map dep_map;
	struct gpuvm_device_bound *outer__; /* private */
};

/* ---- the device --------------------------------------------------------- */

/**
 * gpuvm_device_init() - initialise @dev, unbound, generation 0
 * @dev: the device; its previous contents are ignored
 * @name: for reports (may be NULL); must outlive @dev
 *
 * Context: any thread, before @dev is shared; does not allocate, cannot
 * fail.
 */
GPUVM_EXPORT void gpuvm_device_init(struct gpuvm_device *dev, const char *name);

/**
 * gpuvm_device_fini() - finalise @dev
 * @dev: the device
 *
 * A device that is still bound is reported (GPUVM_RULE_DEVICE_FINI) and
 * unbound first. DMA mappings still live are reported too; their registry
 * entries are leaked and stay counted by gpuvm_dma_mappings_live().
 *
 * When the device cannot be finalised it is reported
 * (GPUVM_RULE_DEVICE_FINI) and left intact (still usable, to be finalised
 * again later): its unbind was refused (called inside a bound scope of
 * @dev or an RCU read-side section; the unbind reports that too), or an
 * unbind of @dev is running on another thread.
 *
 * Context: may block (as gpuvm_device_unbind()); not inside a bound scope
 * of @dev nor an RCU read-side section. Nothing may use @dev concurrently
 * or afterwards: every devres handle must have been dropped before.
 */
GPUVM_EXPORT void gpuvm_device_fini(struct gpuvm_device *dev);

/**
 * gpuvm_device_bind() - bind a driver to @dev
 * @dev: the device
 *
 * Starts a new binding: the generation is incremented and bound scopes can
 * be entered.
 *
 * Context: does not allocate; may block while an unbind of @dev runs (so
 * never from one of its release callbacks: that deadlocks).
 * Return: 0, or -EBUSY when @dev is already bound.
 */
GPUVM_EXPORT int gpuvm_device_bind(struct gpuvm_device *dev);

/**
 * gpuvm_device_unbind() - unbind the driver from @dev
 * @dev: the device
 *
 * From the start no bound scope can be entered any more. Then waits until
 * every bound scope has been left, releases the device resources in
 * reverse order of registration (each devres: revoke, wait for a grace
 * period, release; a devm action: run it; one that a drop on another
 * thread is releasing: wait for that), and checks that no DMA mapping of
 * this binding is left (GPUVM_RULE_DEVICE_DMA_LEAK otherwise). Concurrent
 * unbinds are serialised; the later one finds @dev unbound. For the
 * debug checker this takes the device's lock class for writing.
 *
 * Context: may block; not inside a bound scope of @dev (reported as
 * GPUVM_RULE_DEVICE_TOKEN) nor an RCU read-side section (reported as
 * GPUVM_RULE_DEVICE_RCU); locks the release callbacks take must not be
 * held. Allocates nothing itself. The callbacks run on this thread.
 * Return: 0; -EDEADLK (nothing done) for the two reported cases, checked
 * first; -ENXIO when @dev was not bound.
 */
GPUVM_EXPORT int gpuvm_device_unbind(struct gpuvm_device *dev);

/**
 * gpuvm_device_is_bound() - whether @dev is bound and not unbinding
 * @dev: the device
 *
 * Context: any thread; takes @dev's internal mutex briefly.
 * Return: true while bound and no unbind has started (a snapshot).
 */
GPUVM_EXPORT bool gpuvm_device_is_bound(struct gpuvm_device *dev);

/**
 * gpuvm_device_generation() - the bind generation of @dev
 * @dev: the device
 *
 * Context: any thread; takes @dev's internal mutex briefly.
 * Return: the generation of the current or last binding (0: never bound).
 */
GPUVM_EXPORT uint64_t gpuvm_device_generation(struct gpuvm_device *dev);

/**
 * gpuvm_device_bound_enter() - enter a bound scope of @dev
 * @dev: the device
 * @bound: the token, filled on success; left on the same thread with
 *         gpuvm_device_bound_exit()
 *
 * Scopes nest and any number of threads may be inside one. For the debug
 * checker the scope is a read-side trylock of the device's lock class.
 *
 * Context: any thread; never waits for an unbind (takes @dev's internal
 * mutex briefly); does not allocate.
 * Return: 0, or -ENXIO when @dev is not bound or an unbind has started
 * (@bound->dev is then NULL).
 */
GPUVM_EXPORT int gpuvm_device_bound_enter(struct gpuvm_device *dev,
					  struct gpuvm_device_bound *bound);

/**
 * gpuvm_device_bound_exit() - leave a bound scope
 * @bound: the token of a successful gpuvm_device_bound_enter()
 *
 * Scopes may be left in any order; @bound->dev is NULL afterwards. When
 * the last scope is left, a waiting unbind proceeds. A token that is not
 * entered (left already, or its enter failed) is reported
 * (GPUVM_RULE_DEVICE_TOKEN) and ignored.
 *
 * Context: the thread that entered the scope; does not block (takes the
 * device's internal mutex briefly) or allocate.
 */
GPUVM_EXPORT void gpuvm_device_bound_exit(struct gpuvm_device_bound *bound);

/**
 * gpuvm_device_devres_count() - number of device resources on @dev
 * @dev: the device
 *
 * Context: any thread; takes @dev's internal mutex briefly.
 * Return: the resources on @dev's list, devm actions included, that no
 * unbind or drop has taken off yet (a snapshot).
 */
GPUVM_EXPORT unsigned long gpuvm_device_devres_count(struct gpuvm_device *dev);

/* ---- revocable ---------------------------------------------------------- */

/**
 * struct gpuvm_revocable - data that can be revoked while readers use it
 * @data: the data
 * @release: releases @data once it is revoked (may be NULL)
 * @available: 1 until revoked (atomic; private)
 *
 * Readers: gpuvm_revocable_try_access() ... gpuvm_revocable_end_access(),
 * an RCU read-side critical section. Revocation: gpuvm_revocable_revoke()
 * waits for a grace period before it releases the data, so a reader that
 * got the data keeps a valid pointer until its section ends.
 */
struct gpuvm_revocable {
	void *data;
	void (*release)(void *data);
	int available;
};

/**
 * gpuvm_revocable_init() - initialise @rev, not revoked
 * @rev: the revocable
 * @data: the data; must not be NULL
 * @release: called with @data by the revocation (may be NULL)
 *
 * A NULL @data is reported (GPUVM_RULE_DEVICE_NULL_DATA): a successful
 * gpuvm_revocable_try_access() could not be told from a revoked one, and
 * its read-side section would be left open. @rev is then initialised as
 * revoked: gpuvm_revocable_try_access() returns NULL without a section,
 * and @release is never called.
 *
 * Context: any thread, before @rev is shared; does not allocate.
 */
GPUVM_EXPORT void gpuvm_revocable_init(struct gpuvm_revocable *rev, void *data,
				       void (*release)(void *data));

/**
 * gpuvm_revocable_try_access() - get the data unless it was revoked
 * @rev: the revocable
 *
 * Enters an RCU read-side section and keeps it only when the data is
 * still available. Sections nest.
 *
 * Context: any thread (registered with liburcu automatically), also in a
 * fence signalling section; does not block. Until the matching
 * gpuvm_revocable_end_access(), do not sleep for long, revoke, unbind, drop
 * a devres or exit the thread.
 * Return: the data, inside a read-side section that
 * gpuvm_revocable_end_access() ends; NULL once revoked (no section then).
 * NULL data (refused by gpuvm_revocable_init() and gpuvm_devres_new())
 * is treated as revoked: NULL always means no section.
 */
GPUVM_EXPORT void *gpuvm_revocable_try_access(struct gpuvm_revocable *rev);

/**
 * gpuvm_revocable_end_access() - end a successful access
 * @rev: the revocable gpuvm_revocable_try_access() returned data of
 *
 * Context: the thread inside the read-side section; does not block.
 */
GPUVM_EXPORT void gpuvm_revocable_end_access(struct gpuvm_revocable *rev);

/**
 * gpuvm_revocable_revoke() - revoke, wait for readers, release
 * @rev: the revocable
 *
 * Marks the data revoked, waits for a grace period, then calls @release on
 * this thread.
 *
 * Context: may block (a grace period); not inside an RCU read-side
 * section; does not allocate.
 * Return: true when this call revoked the data (and released it), false
 * when it was revoked already (nothing is waited for then).
 */
GPUVM_EXPORT bool gpuvm_revocable_revoke(struct gpuvm_revocable *rev);

/**
 * gpuvm_revocable_revoke_nosync() - revoke and release without waiting
 * @rev: the revocable
 *
 * As gpuvm_revocable_revoke() without the grace period: the caller
 * guarantees that no reader is inside a section of @rev.
 *
 * Context: does not block (beyond what @release does) or allocate.
 * Return: true when this call revoked the data (and released it), false
 * when it was revoked already.
 */
GPUVM_EXPORT bool gpuvm_revocable_revoke_nosync(struct gpuvm_revocable *rev);

/* ---- device resources --------------------------------------------------- */

struct gpuvm_devres;

/**
 * gpuvm_devres_new() - register @data as a resource of the bound device
 * @bound: a bound scope of the device
 * @data: the resource; must not be NULL (gpuvm_devres_try_access() could
 *        not tell it from a revoked one)
 * @release: releases @data, exactly once: at unbind, at
 *           gpuvm_devres_drop(), or right here when the registration
 *           fails (may be NULL)
 *
 * Ownership of @data passes to the devres in every case (like
 * devm_add_action_or_reset()): on failure @release(@data) has run when the
 * call returns. The caller owns the returned handle and must drop it with
 * gpuvm_devres_drop(), also after an unbind, and before the device is
 * finalised.
 *
 * Context: allocates (may block: not in a fence signalling section); takes
 * the device's internal mutex briefly.
 * Return: the handle, or an error pointer: -ENXIO when @bound is not an
 * entered scope (left, or its enter failed; reported as
 * GPUVM_RULE_DEVICE_TOKEN), -EINVAL when @data is NULL (reported as
 * GPUVM_RULE_DEVICE_NULL_DATA; @release(NULL) has run, as on every
 * failure), -ENOMEM.
 */
GPUVM_EXPORT struct gpuvm_devres *
gpuvm_devres_new(const struct gpuvm_device_bound *bound, void *data,
		 void (*release)(void *data));

/**
 * gpuvm_devres_access() - the data, for a caller inside a bound scope
 * @devres: the handle; the caller must not drop it concurrently
 * @bound: a bound scope of the device @devres belongs to
 *
 * The bound scope keeps the data alive, so no read-side section is needed
 * and the pointer stays valid until the scope is left.
 *
 * Context: any thread; lock-free, does not block or allocate.
 * Return: the data, or an error pointer: -ENXIO when @bound is not an
 * entered scope (reported as GPUVM_RULE_DEVICE_TOKEN) or @devres belongs
 * to an earlier binding, -EINVAL when @bound is a scope of another device.
 * Kernel parity: the kernel compares only the device; here the bind
 * generation must match too, so a devres from an earlier binding of the
 * same device (released by that unbind) is refused instead of handing out
 * released data.
 */
GPUVM_EXPORT void *gpuvm_devres_access(const struct gpuvm_devres *devres,
				       const struct gpuvm_device_bound *bound);

/**
 * gpuvm_devres_try_access() - the data, for a caller without a bound scope
 * @devres: the handle
 *
 * As gpuvm_revocable_try_access(): on success the caller is inside a
 * read-side section that gpuvm_devres_end_access() ends.
 *
 * Context: as gpuvm_revocable_try_access().
 * Return: the data, or NULL once unbind (or drop) revoked it (no section
 * then).
 */
GPUVM_EXPORT void *gpuvm_devres_try_access(struct gpuvm_devres *devres);

/**
 * gpuvm_devres_end_access() - end a successful gpuvm_devres_try_access()
 * @devres: the handle
 *
 * Context: the thread inside the read-side section; does not block.
 */
GPUVM_EXPORT void gpuvm_devres_end_access(struct gpuvm_devres *devres);

/**
 * gpuvm_devres_drop() - drop the owner's handle
 * @devres: the handle, or NULL (ignored)
 *
 * If the data was not revoked yet, it is revoked and released right here,
 * without waiting for a grace period (the caller guarantees that no thread
 * is inside gpuvm_devres_try_access() of @devres), and the resource leaves
 * the device's list. If an unbind on another thread is releasing it at
 * that moment, waits until that release has finished (for the debug
 * checker, a write-side acquisition of the device's lock class). When
 * this returns the data has been released and @devres is gone.
 *
 * Inside an RCU read-side section the drop must not wait: the unbind may
 * be waiting for a grace period that this thread holds up. When an unbind
 * took the data, this is reported (GPUVM_RULE_DEVICE_RCU) and the drop
 * returns at once: the handle is gone (the unbind frees the devres; the
 * data is released exactly once), but the release may still be running or
 * yet to run, so the caller must not free what it touches before that
 * unbind has returned.
 *
 * Context: may block (see above); does not allocate. Not inside an RCU
 * read-side section (see above), and without holding locks the release
 * callback or the callbacks of a concurrent unbind take.
 */
GPUVM_EXPORT void gpuvm_devres_drop(struct gpuvm_devres *devres);

/**
 * gpuvm_devm_add_action_or_reset() - run @action(@data) at unbind
 * @bound: a bound scope of the device
 * @action: the action (may be NULL)
 * @data: passed to @action
 *
 * A fire-and-forget resource: no handle, released at unbind in reverse
 * order with the other device resources, without a grace period (it has
 * no readers). On failure @action(@data) runs before the call returns.
 *
 * Context: allocates (may block: not in a fence signalling section); takes
 * the device's internal mutex briefly.
 * Return: 0, -ENXIO (@bound not an entered scope; reported as
 * GPUVM_RULE_DEVICE_TOKEN), -ENOMEM.
 */
GPUVM_EXPORT int
gpuvm_devm_add_action_or_reset(const struct gpuvm_device_bound *bound,
			       void (*action)(void *data), void *data);

/* ---- scatter-gather tables and DMA mapping ------------------------------ */

/**
 * struct gpuvm_scatterlist - one segment of a scatter-gather table
 * @page_link: the CPU address of the segment's first page
 * @offset: byte offset of the segment in that page
 * @length: the segment's length in bytes
 * @dma_address: the device address, while mapped (0 otherwise)
 * @dma_length: the mapped length, while mapped (0 otherwise)
 */
struct gpuvm_scatterlist {
	void *page_link;
	unsigned int offset;
	unsigned int length;
	uint64_t dma_address;
	unsigned int dma_length;
};

/**
 * struct gpuvm_sg_table - a scatter-gather table
 * @sgl: the segments
 * @nents: segments mapped for DMA (0 while not mapped)
 * @orig_nents: segments in @sgl
 */
struct gpuvm_sg_table {
	struct gpuvm_scatterlist *sgl;
	unsigned int nents;
	unsigned int orig_nents;
};

/* DMA directions, with the kernel's values. */
enum gpuvm_dma_data_direction {
	GPUVM_DMA_BIDIRECTIONAL = 0,
	GPUVM_DMA_TO_DEVICE = 1,
	GPUVM_DMA_FROM_DEVICE = 2,
	GPUVM_DMA_NONE = 3,
};

/**
 * gpuvm_sg_dma_address() - the device address of a segment
 * @sg: the segment
 *
 * Context: any; reads @sg only.
 * Return: the address while the table is mapped, else 0.
 */
static inline uint64_t gpuvm_sg_dma_address(const struct gpuvm_scatterlist *sg)
{
	return sg->dma_address;
}

/**
 * gpuvm_sg_dma_len() - the mapped length of a segment
 * @sg: the segment
 *
 * Context: any; reads @sg only.
 * Return: the length in bytes while the table is mapped, else 0.
 */
static inline unsigned int gpuvm_sg_dma_len(const struct gpuvm_scatterlist *sg)
{
	return sg->dma_length;
}

/* Every CPU segment of @sgt__. */
#define gpuvm_for_each_sgtable_sg(sgt__, sg__, i__)                         \
	for ((i__) = 0, (sg__) = (sgt__)->sgl; (i__) < (sgt__)->orig_nents; \
	     (i__)++, (sg__)++)

/* Every DMA-mapped segment of @sgt__. */
#define gpuvm_for_each_sgtable_dma_sg(sgt__, sg__, i__)                \
	for ((i__) = 0, (sg__) = (sgt__)->sgl; (i__) < (sgt__)->nents; \
	     (i__)++, (sg__)++)

/**
 * gpuvm_sg_alloc_table() - allocate @nents zeroed segments for @sgt
 * @sgt: the table; its previous contents are overwritten, not freed
 * @nents: number of segments; 0 gives an empty table
 *
 * The table is not mapped (@sgt->nents is 0). Free it with
 * gpuvm_sg_free_table().
 *
 * Context: allocates (may block: not in a fence signalling section).
 * Return: 0 or -ENOMEM (@sgt is then empty).
 * Kernel parity: no gfp argument and never a chained table; @nents 0 is
 * accepted, where the kernel's sg_alloc_table() returns -EINVAL.
 */
GPUVM_EXPORT int gpuvm_sg_alloc_table(struct gpuvm_sg_table *sgt,
				      unsigned int nents);

/**
 * gpuvm_sg_free_table() - free the segments of @sgt
 * @sgt: the table (not freed itself); empty afterwards; an empty table is
 *       fine
 *
 * Does not unmap: unmap with gpuvm_dma_unmap_sgtable() first, or the
 * device's registry keeps a live mapping of a freed table.
 *
 * Context: any thread; does not block or allocate.
 */
GPUVM_EXPORT void gpuvm_sg_free_table(struct gpuvm_sg_table *sgt);

/**
 * gpuvm_dma_map_sgtable() - map @sgt for DMA by @dev
 * @dev: the device
 * @sgt: the table; every one of its @sgt->orig_nents segments is mapped
 * @dir: the direction (recorded)
 * @attrs: DMA attributes (ignored)
 *
 * Gives every segment a device address of its own (never reused for @dev;
 * segments are not merged, so @sgt->nents becomes @sgt->orig_nents) and
 * records the mapping in @dev's registry, tagged with the current bind
 * generation. Mapping a mapped table again is not detected: it gets new
 * addresses and a second registry entry.
 *
 * Context: allocates (may block: not in a fence signalling section);
 * takes @dev's internal mutex briefly; @dev bound, or unbinding but not
 * yet releasing its resources (code still inside a bound scope).
 * Return: 0, -ENXIO when @dev is not bound (nor waiting for its bound
 * scopes in an unbind), -ENOMEM.
 * Kernel parity: the kernel does not look at the driver binding and may
 * merge segments (fewer @nents than @orig_nents).
 */
GPUVM_EXPORT int gpuvm_dma_map_sgtable(struct gpuvm_device *dev,
				       struct gpuvm_sg_table *sgt,
				       enum gpuvm_dma_data_direction dir,
				       unsigned long attrs);

/**
 * gpuvm_dma_unmap_sgtable() - undo gpuvm_dma_map_sgtable()
 * @dev: the device @sgt was mapped for
 * @sgt: the mapped table; its segments' DMA addresses and lengths and
 *       @sgt->nents are reset to 0
 * @dir: the direction (not checked against the mapping's)
 * @attrs: DMA attributes (ignored)
 *
 * Allowed in any state of @dev, also after unbind. Unmapping a table that
 * is not mapped for @dev is reported (GPUVM_RULE_DMA_UNMAP) and ignored.
 *
 * Context: any thread; takes @dev's internal mutex briefly; does not
 * allocate (frees the registry entry).
 * Kernel parity: a direction that differs from the mapping's is not
 * reported (the kernel's DMA-API debugging reports it).
 */
GPUVM_EXPORT void gpuvm_dma_unmap_sgtable(struct gpuvm_device *dev,
					  struct gpuvm_sg_table *sgt,
					  enum gpuvm_dma_data_direction dir,
					  unsigned long attrs);

/* ---- the DMA-mapping registry (queries for tests and drivers) ----------- */

/**
 * gpuvm_device_dma_mappings() - live DMA mappings of @dev
 * @dev: the device
 *
 * Context: any thread; takes @dev's internal mutex briefly.
 * Return: the mappings of every binding not unmapped yet (a snapshot).
 */
GPUVM_EXPORT unsigned long gpuvm_device_dma_mappings(struct gpuvm_device *dev);

/**
 * gpuvm_device_dma_mappings_gen() - live DMA mappings of one binding
 * @dev: the device
 * @generation: the bind generation (gpuvm_device_generation())
 *
 * Context: any thread; takes @dev's internal mutex briefly.
 * Return: the live mappings of @dev made during binding @generation.
 */
GPUVM_EXPORT unsigned long
gpuvm_device_dma_mappings_gen(struct gpuvm_device *dev, uint64_t generation);

/**
 * gpuvm_device_dma_is_mapped() - whether @sgt is mapped for @dev
 * @dev: the device
 * @sgt: the table (only its address is compared)
 *
 * Context: any thread; takes @dev's internal mutex briefly.
 * Return: true while the registry of @dev holds a mapping of @sgt.
 */
GPUVM_EXPORT bool gpuvm_device_dma_is_mapped(struct gpuvm_device *dev,
					     const struct gpuvm_sg_table *sgt);

/**
 * gpuvm_device_dma_map_calls() - successful map calls on @dev
 * @dev: the device
 *
 * Context: any thread; takes @dev's internal mutex briefly.
 * Return: the number of successful gpuvm_dma_map_sgtable() calls on @dev
 * since gpuvm_device_init().
 */
GPUVM_EXPORT unsigned long gpuvm_device_dma_map_calls(struct gpuvm_device *dev);

/**
 * gpuvm_device_dma_unmap_calls() - successful unmap calls on @dev
 * @dev: the device
 *
 * Context: any thread; takes @dev's internal mutex briefly.
 * Return: the number of gpuvm_dma_unmap_sgtable() calls on @dev that
 * found a mapping, since gpuvm_device_init().
 */
GPUVM_EXPORT unsigned long
gpuvm_device_dma_unmap_calls(struct gpuvm_device *dev);

/**
 * gpuvm_dma_mappings_live() - live DMA mappings of every device
 *
 * Context: any thread; lock-free.
 * Return: the mappings of all devices of the process not unmapped yet,
 * including those gpuvm_device_fini() leaked.
 */
GPUVM_EXPORT long gpuvm_dma_mappings_live(void);

GPUVM_END_DECLS

#endif /* GPUVM_DEVICE_H */
