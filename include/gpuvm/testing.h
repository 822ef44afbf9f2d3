/* SPDX-License-Identifier: MIT */
/*
 * What tests and test harnesses may use: hook points (reproducible
 * interleavings without sleeps), fault injection and counters, the
 * stand-in for signals, deadlock injection, the checker's learned state,
 * and (internal library only) the knobs that switch on deliberately
 * broken designs.
 *
 * Everything up to the knobs is exported by the installed library, so a
 * driver's own test suite can use it. Nothing here changes what the
 * library does unless a test arms it.
 */
#ifndef GPUVM_TESTING_H
#define GPUVM_TESTING_H

#include <pthread.h>

#include <gpuvm/common.h>

GPUVM_BEGIN_DECLS

struct gpuvm_devres;
struct gpuvm_lock_class;
struct gpuvm_ww_acquire_ctx;

/* ---- hook points --------------------------------------------------------- */

/*
 * Library functions contain named hook points (e.g. "obtain:after_list_add",
 * "cleanup:before_destroy"; each header lists its own). A test arms a point
 * to park threads there, waits until they arrived, does what the
 * interleaving needs, then releases them. An unarmed point costs one
 * branch. Drivers may place their own points with gpuvm_hook().
 *
 * A thread parked at a point keeps every lock it holds there. At most 32
 * points can be armed at once; arming one more is reported
 * (GPUVM_RULE_CHECKER) and ignored. A point is identified by its name's
 * contents, but the armed point keeps the pointer: the string must stay
 * valid until the point is released (string literals and the GPUVM_HOOK_*
 * names do). The hook functions take one internal mutex and allocate
 * nothing; any thread may call them.
 */
GPUVM_EXPORT extern int gpuvm_hooks_armed__;
GPUVM_EXPORT void gpuvm_hook_hit__(const char *name);

#define gpuvm_hook(name)                                                 \
	do {                                                             \
		if (gpuvm_unlikely(__atomic_load_n(&gpuvm_hooks_armed__, \
						   __ATOMIC_RELAXED)))   \
			gpuvm_hook_hit__(name);                          \
	} while (0)

/* For gpuvm_hook_park(): park every thread that arrives. */
#define GPUVM_HOOK_PARK_ALL (~0u)

/**
 * gpuvm_hook_park() - park threads that reach @name
 * @name: the hook point
 * @count: how many of the next arrivals to park, added to those still to
 *         park; GPUVM_HOOK_PARK_ALL: every arrival
 *
 * Arms @name (see gpuvm_hook_count() for its hit count). Parked threads
 * stay until gpuvm_hook_unpark() or gpuvm_hook_release().
 *
 * Context: any thread; takes the hook mutex; does not allocate or block.
 */
GPUVM_EXPORT void gpuvm_hook_park(const char *name, unsigned int count);

/**
 * gpuvm_hook_count() - arm @name to count arrivals only
 * @name: the hook point
 *
 * Arrivals are counted from now on (gpuvm_hook_hits()). Arming a point
 * that is armed with nobody parked or still to park restarts its count.
 *
 * Context: any thread; takes the hook mutex; does not allocate or block.
 */
GPUVM_EXPORT void gpuvm_hook_count(const char *name);

/**
 * gpuvm_hook_set_callback() - run a function where threads reach @name
 * @name: the hook point; armed if it is not (its count is kept if it is)
 * @fn: called as @fn(@name, @arg) by every arriving thread, after any
 *      parking and outside the hook mutex, until gpuvm_hook_release();
 *      NULL removes the callback
 * @arg: passed to @fn
 *
 * @fn runs with the locks the arriving thread holds; it may park, record
 * state or break a rule.
 *
 * Context: any thread; takes the hook mutex; does not allocate or block.
 */
GPUVM_EXPORT void
gpuvm_hook_set_callback(const char *name,
			void (*fn)(const char *name, void *arg), void *arg);

/**
 * gpuvm_hook_wait_parked() - wait until @n threads are parked at @name
 * @name: the hook point (need not be armed yet)
 * @n: the number of parked threads to wait for
 *
 * Context: blocks (up to 30 s); must not hold locks the arriving threads
 * need before they reach the point.
 * Return: true once @n threads are parked; false after 30 s (reported as
 * GPUVM_RULE_CHECKER), so a broken test fails instead of hanging.
 */
GPUVM_EXPORT bool gpuvm_hook_wait_parked(const char *name, unsigned int n);

/**
 * gpuvm_hook_wait_hits() - wait until @name was reached @n times
 * @name: the hook point (need not be armed yet)
 * @n: the number of arrivals since the point was armed
 *
 * Context: as gpuvm_hook_wait_parked().
 * Return: true once the count reached @n; false after 30 s (reported as
 * GPUVM_RULE_CHECKER).
 */
GPUVM_EXPORT bool gpuvm_hook_wait_hits(const char *name, unsigned int n);

/**
 * gpuvm_hook_unpark() - let the threads parked at @name go, park no more
 * @name: the hook point; nothing happens when it is not armed
 *
 * The point stays armed: arrivals are still counted and a callback still
 * runs until gpuvm_hook_release().
 *
 * Context: any thread; takes the hook mutex; does not allocate or block.
 */
GPUVM_EXPORT void gpuvm_hook_unpark(const char *name);

/**
 * gpuvm_hook_release() - release the threads parked at @name and disarm it
 * @name: the hook point; nothing happens when it is not armed
 *
 * The count and the callback are forgotten.
 *
 * Context: any thread; takes the hook mutex; does not allocate or block.
 */
GPUVM_EXPORT void gpuvm_hook_release(const char *name);

/**
 * gpuvm_hook_hits() - arrivals at @name while armed
 * @name: the hook point
 *
 * Context: any thread; takes the hook mutex; does not allocate or block.
 * Return: the arrivals since the point was armed (see gpuvm_hook_count());
 * 0 when it is not armed.
 */
GPUVM_EXPORT unsigned long gpuvm_hook_hits(const char *name);

/**
 * gpuvm_hook_reset() - gpuvm_hook_release() of every armed point
 *
 * Context: any thread; takes the hook mutex; does not allocate or block.
 */
GPUVM_EXPORT void gpuvm_hook_reset(void);

/* The points of the device and shmem code (the VM's are listed in vm.h). */
/* unbind: a devres was revoked and the grace period passed; its data is
 * about to be released */
#define GPUVM_HOOK_DEVRES_RELEASE "devres:release:before_drop"
/* unbind: about to wait for a grace period when revoking a devres */
#define GPUVM_HOOK_DEVRES_REVOKE "devres:release:before_sync"
/* unbind: a drop on another thread won the revocation; about to wait for
 * its release to finish */
#define GPUVM_HOOK_DEVRES_RELEASE_LOST "devres:release:lost"
/* drop: won the revocation and released the data; the node is not yet
 * taken off the device */
#define GPUVM_HOOK_DEVRES_DROP_WON "devres:drop:released"
/* drop: the release is in flight on another thread; about to wait */
#define GPUVM_HOOK_DEVRES_DROP_WAIT "devres:drop:wait"
/* unbind: about to wait for bound scopes to be left */
#define GPUVM_HOOK_UNBIND_WAIT "device:unbind:wait"
/* the shmem SG-table resource's release, with the resv held */
#define GPUVM_HOOK_SGT_MAP_DROP "sgt_map:drop:locked"
/* shmem release: the SG-table resource has been dropped */
#define GPUVM_HOOK_SHMEM_FREE "shmem:free:after_sgt_res"
/* gpuvm_gem_shmem_sg_table() slow path, population lock held */
#define GPUVM_HOOK_SG_TABLE_SLOW "shmem:sg_table:populate"

/* ---- fault injection and counters ---------------------------------------- */

/**
 * gpuvm_alloc_live() - allocations made and not yet freed
 *
 * Counts the library allocator's blocks, process wide; quarantined blocks,
 * and blocks kept in a thread's cache for reuse (checker off), count as
 * freed. Each thread keeps its own count, so the sum is exact only while
 * no other thread allocates or frees. Memory freed after an RCU grace period counts until
 * then (see gpuvm_alloc_drain()).
 *
 * Context: any thread; lock-free.
 * Return: the number of live allocations.
 */
GPUVM_EXPORT long gpuvm_alloc_live(void);

/**
 * gpuvm_alloc_quarantine_flush() - really free every quarantined block
 *
 * For tests and teardown; use-after-free detection for those blocks ends.
 *
 * Context: any thread; takes the quarantine mutex; does not allocate.
 */
GPUVM_EXPORT void gpuvm_alloc_quarantine_flush(void);

/**
 * gpuvm_alloc_drain() - wait until every deferred free has happened
 *
 * Some memory (fence lists, fences) is freed after an RCU grace period,
 * on another thread. Call this before comparing gpuvm_alloc_live() with
 * an earlier value. Returns at once when nothing is queued.
 *
 * Context: may block; not inside an RCU read-side section nor from an RCU
 * callback.
 */
GPUVM_EXPORT void gpuvm_alloc_drain(void);

/**
 * gpuvm_alloc_fail_nth() - make the @n-th next allocation fail
 * @n: 1 fails the very next allocation; 0 disarms
 *
 * Exactly one allocation fails; the ones after it succeed again. The count
 * is process wide: allocations from every thread count. Resets
 * gpuvm_alloc_fault_fired().
 *
 * Context: any thread; lock-free.
 */
GPUVM_EXPORT void gpuvm_alloc_fail_nth(unsigned long n);

/**
 * gpuvm_alloc_fault_fired() - whether the armed fault has fired
 *
 * Context: any thread; lock-free.
 * Return: true once the fault armed by the last gpuvm_alloc_fail_nth()
 * made an allocation fail.
 */
GPUVM_EXPORT bool gpuvm_alloc_fault_fired(void);

/**
 * gpuvm_alloc_fault_sweep() - run @op with each of its allocations failing
 * @op: the operation; returns 0 or a negative errno
 * @check: called after each run in which the injected fault fired, with
 *         the fault index n (1-based) and what @op returned; it restores or
 *         checks state so that @op can run again. May be NULL.
 * @arg: passed to both
 * @max_n: give up after this many failing runs (0: no limit)
 *
 * Runs @op with gpuvm_alloc_fail_nth(1), (2), ... until a run completes
 * without reaching the armed allocation; that last run's result is final.
 * Injection is disarmed when this returns.
 *
 * Context: @op and @check run on the calling thread; the armed fault is
 * process wide, so other threads should not allocate meanwhile.
 * Return: the number of allocation points exercised (>= 0) when the final
 * run succeeded, its negative errno otherwise, or -E2BIG when @max_n runs
 * all hit a fault.
 */
GPUVM_EXPORT int
gpuvm_alloc_fault_sweep(int (*op)(void *arg),
			void (*check)(void *arg, unsigned long n, int ret),
			void *arg, unsigned long max_n);

/* ---- interrupting waits (the userspace stand-in for a signal) ------------ */

/**
 * gpuvm_interrupt_thread() - interrupt @thread's interruptible wait
 * @thread: the thread to interrupt; must be alive
 *
 * The current interruptible wait of @thread (a *_interruptible ww_mutex
 * lock, an interruptible fence wait, an exec loop with
 * GPUVM_EXEC_INTERRUPTIBLE_WAIT) returns -EINTR; if @thread is not waiting,
 * its next interruptible wait does. Uninterruptible waits ignore it and
 * leave it pending.
 *
 * Context: any thread, @thread itself included; takes internal mutexes
 * briefly. The first call for a thread may allocate its record with plain
 * calloc (not the library allocator; aborts when out of memory).
 * Kernel parity: the kernel's interruptible waits react to signals (with
 * -EINTR or -ERESTARTSYS); here only this call interrupts them, and they
 * always return -EINTR.
 */
GPUVM_EXPORT void gpuvm_interrupt_thread(pthread_t thread);

/**
 * gpuvm_interrupt_clear() - drop a pending interrupt of the calling thread
 *
 * Context: any thread; takes an internal mutex briefly; may allocate the
 * thread's record as gpuvm_interrupt_thread() does.
 */
GPUVM_EXPORT void gpuvm_interrupt_clear(void);

/* ---- deadlock injection -------------------------------------------------- */

/**
 * gpuvm_ww_mutex_inject_deadlock() - make @ctx back off artificially
 * @ctx: an initialised acquire context (gpuvm_ww_acquire_init() turns
 *       injection off)
 * @interval: the first injection happens at the @interval-th eligible
 *            acquisition; 0 turns injection off
 *
 * The userspace form of the kernel's DEBUG_WW_MUTEX_SLOWPATH, to exercise
 * back-off paths deterministically. An acquisition is eligible when it is
 * a successful gpuvm_ww_mutex_lock*() through @ctx (the _slow variants
 * included, not trylock) after which @ctx holds two or more locks. The
 * chosen one is undone and returns -EDEADLK (as if the lock was
 * contended; gpuvm_ww_mutex_lock_slow() cannot say so: called while @ctx
 * holds other locks, it may return without the lock); then the interval t
 * becomes 3t + t/2, so every caller that backs off correctly makes
 * progress.
 *
 * Context: the thread that owns @ctx; does not allocate or block.
 * Kernel parity: the kernel applies it to every context when configured,
 * starting from a countdown derived from the context's stamp; here it is
 * armed per context, at a chosen interval.
 */
GPUVM_EXPORT void
gpuvm_ww_mutex_inject_deadlock(struct gpuvm_ww_acquire_ctx *ctx,
			       unsigned int interval);

/* ---- the checker's learned state ----------------------------------------- */

/**
 * gpuvm_lockdep_order_known() - whether the checker learned @held -> @taken
 * @held: the class that was held
 * @taken: the class that was taken
 *
 * For tests that assert an order was never created.
 *
 * Context: any thread; lock-free.
 * Return: true when some thread once took a lock of class @taken while
 * holding one of class @held (a direct edge of the order graph); false
 * otherwise, and when either class was never used.
 */
GPUVM_EXPORT bool
gpuvm_lockdep_order_known(const struct gpuvm_lock_class *held,
			  const struct gpuvm_lock_class *taken);

/**
 * gpuvm_lockdep_reset() - forget every learned lock order and class state
 *
 * Test-only: a test that creates a bad order on purpose calls it first and
 * afterwards, so that its edges do not turn correct code of later tests
 * into reported cycles. Clears the order graph and what classes learned in
 * signalling sections; lock classes, held locks and the warning counter
 * stay.
 *
 * Context: while no other thread takes or releases checked locks; takes
 * the checker's internal mutex; does not allocate.
 */
GPUVM_EXPORT void gpuvm_lockdep_reset(void);

/* ---- schedule exploration ------------------------------------------------ */

/*
 * A schedule explorer (tests/explore/) runs the threads of a test one at a
 * time and decides at every synchronisation point of the library which
 * one runs next. The library tells it where those points are through the
 * callbacks below. Without an explorer installed each point costs one
 * predictable branch.
 */

/**
 * enum gpuvm_sched_event - what a scheduling point is
 * @GPUVM_SCHED_LOCK: about to take a lock (@obj: the lock; mutex, ww_mutex)
 * @GPUVM_SCHED_UNLOCK: about to release a mutex, and released a lock
 *                      (@obj: the lock)
 * @GPUVM_SCHED_REF: about to change the reference count of a VM, vm_bo or
 *                   GEM object (@obj: the count)
 * @GPUVM_SCHED_DEFER: about to push onto or take the deferred list of a
 *                     VM (@obj: the list)
 * @GPUVM_SCHED_FENCE: about to signal a fence (@obj: the fence)
 * @GPUVM_SCHED_HOOK: a named hook point (@obj: its name)
 * @GPUVM_SCHED_RCU_LOCK: entered an RCU read-side section (bookkeeping)
 * @GPUVM_SCHED_RCU_UNLOCK: left an RCU read-side section (bookkeeping)
 * @GPUVM_SCHED_RCU_SYNC: about to wait for an RCU grace period: the
 *                        explorer must not return before no other thread
 *                        it runs is inside a read-side section
 */
enum gpuvm_sched_event {
	GPUVM_SCHED_LOCK,
	GPUVM_SCHED_UNLOCK,
	GPUVM_SCHED_REF,
	GPUVM_SCHED_DEFER,
	GPUVM_SCHED_FENCE,
	GPUVM_SCHED_HOOK,
	GPUVM_SCHED_RCU_LOCK,
	GPUVM_SCHED_RCU_UNLOCK,
	GPUVM_SCHED_RCU_SYNC,
};

/**
 * struct gpuvm_sched_ops - the explorer's side of the scheduling points
 * @managed: whether the calling thread is one the explorer runs; the
 *           other callbacks are only called on such threads
 * @point: a scheduling point: the explorer may run other threads before
 *         it returns
 * @block: the calling thread cannot go on until @wait_obj is woken (a
 *         lock it could not take, a parker, a condition); the explorer
 *         runs other threads and returns once @wait_obj was woken, after
 *         which the library checks its condition again
 * @wake: threads blocked on @wait_obj may go on (called by any thread,
 *        managed or not)
 *
 * The callbacks get the pointer given to gpuvm_sched_set_ops(). No library
 * lock that the explorer does not know about is held when they are called.
 */
struct gpuvm_sched_ops {
	bool (*managed)(void *data);
	void (*point)(enum gpuvm_sched_event ev, const void *obj, void *data);
	void (*block)(const void *wait_obj, void *data);
	void (*wake)(const void *wait_obj, void *data);
};

/**
 * gpuvm_sched_set_ops() - install or remove a schedule explorer
 * @ops: the callbacks; NULL removes the explorer
 * @data: passed to every callback
 *
 * Under an explorer, the library's blocking waits on managed threads (a
 * mutex, a ww_mutex, a fence, a device unbind, an RCU grace period) go
 * through @ops->block instead of the operating system, so the explorer
 * knows which threads can run; timed waits wait without their timeout.
 *
 * Context: while no managed thread runs and no other thread uses the
 * library's locks; does not allocate.
 */
GPUVM_EXPORT void gpuvm_sched_set_ops(const struct gpuvm_sched_ops *ops,
				      void *data);

/* ---- knobs: deliberately broken library variants ------------------------ */

/*
 * Not in the installed library: these exist only in the internal static
 * library the project's own tests link (built with GPUVM_TEST_KNOBS).
 */
/*
 * Test-only. Each knob makes the library behave the way a design the
 * kernel reviewers rejected did, so a test can show that the debug checker
 * reports it (tests/scenario/). Never set one in a program: the broken
 * variants free memory that is still in use. All knobs start off.
 */
enum gpuvm_debug_knob {
	/*
	 * A final gpuvm_bo_put_deferred() publishes the zombie on the VM's
	 * deferred list before it drops the GEM's gpuva lock (with the hook
	 * point "put_deferred:after_publish_locked" in between), so a
	 * concurrent gpuvm_bo_deferred_cleanup() may free the GEM, and its
	 * mutex, while the lock is still held.
	 */
	GPUVM_KNOB_DEFER_PUBLISH_LOCKED,
	/*
	 * gpuvm_bo_obtain_prealloc() destroys a duplicate prealloc while it
	 * still holds the GEM's gpuva lock, so the driver's vm_bo_free runs
	 * under that lock (the behaviour before the kernel fixed it).
	 */
	GPUVM_KNOB_OBTAIN_FREE_LOCKED,
	/*
	 * gpuvm_gem_shmem_release() runs the C release (unmap and free the
	 * table, put the pages) before it drops the SG-table resource (set
	 * with gpuvm_gem_shmem_set_release_first()).
	 */
	GPUVM_KNOB_SHMEM_RELEASE_FIRST,
	GPUVM_KNOB_COUNT__
};

/**
 * gpuvm_debug_set_knob() - turn @knob on or off
 * @knob: the knob; values out of range are ignored
 * @on: the new state, process wide
 *
 * Context: any thread; lock-free; does not allocate.
 */
void gpuvm_debug_set_knob(enum gpuvm_debug_knob knob, bool on);

/**
 * gpuvm_devres_set_old_semantics() - give @devres the old drop semantics
 * @devres: the handle
 * @old: true: a drop that loses the race to an unbind returns at once,
 *       while the release may still run; false: the current semantics
 *
 * For the tests that show why the new semantics are needed.
 *
 * Context: before @devres can be dropped; not synchronised with a drop;
 * does not allocate.
 */
void gpuvm_devres_set_old_semantics(struct gpuvm_devres *devres, bool old);

/**
 * gpuvm_gem_shmem_set_release_first() - switch GPUVM_KNOB_SHMEM_RELEASE_FIRST
 * @release_first: true: gpuvm_gem_shmem_release() runs the C release
 *                 (unmap and free the table, put the pages) before it drops
 *                 the SG-table resource
 *
 * The order that freed the table twice in an early version of the Rust
 * abstraction. Process wide; tests reset it.
 *
 * Context: as gpuvm_debug_set_knob().
 */
void gpuvm_gem_shmem_set_release_first(bool release_first);

GPUVM_END_DECLS

#endif /* GPUVM_TESTING_H */
