/* SPDX-License-Identifier: MIT */
/*
 * Warnings and the debug checker (a small userspace lockdep).
 *
 * A broken rule is never an error return: it is reported through
 * gpuvm_warn() with the rule's name and a message that names the function.
 * The default handler prints to stderr; the GPUVM_WARN environment variable
 * picks "print" (default), "abort" or "silent", and a program or test can
 * install its own handler.
 *
 * The debug checker is compiled in always and on by default. GPUVM_DEBUG=0
 * in the environment or gpuvm_debug_enable(false) turns it off; its cost is
 * then one predictable branch per hook. It knows:
 *  - lock classes and lock instances (every libgpuvm lock registers);
 *  - which locks each thread holds, to assert that a lock is held (or not);
 *  - the order in which classes were ever taken, to report a new order that
 *    closes a cycle, once, with both classes and both acquisition sites;
 *  - fence signalling critical sections and what must not happen in them.
 */
#ifndef GPUVM_DEBUG_H
#define GPUVM_DEBUG_H

#include <pthread.h>

#include <gpuvm/common.h>

GPUVM_BEGIN_DECLS

/* Rule names carried by every warning of the checker. */
#define GPUVM_RULE_LOCK_NOT_HELD "lock-not-held"
#define GPUVM_RULE_LOCK_HELD "lock-held"
#define GPUVM_RULE_RECURSIVE_LOCK "recursive-lock"
#define GPUVM_RULE_UNLOCK_UNHELD "unlock-unheld"
#define GPUVM_RULE_LOCK_ORDER "lock-order"
#define GPUVM_RULE_DESTROY_HELD "destroy-held-lock"
#define GPUVM_RULE_SIGNALLING_ALLOC "signalling-alloc"
#define GPUVM_RULE_SIGNALLING_RESV "signalling-resv-lock"
#define GPUVM_RULE_SIGNALLING_WAIT "signalling-fence-wait"
#define GPUVM_RULE_SIGNALLING_LOCK_WAIT "signalling-lock-fence-wait"
/* A blocking allocation while holding a lock that is also taken inside
 * fence signalling sections (either order): reclaim may wait on a fence
 * whose signalling needs that lock. */
#define GPUVM_RULE_SIGNALLING_LOCK_ALLOC "signalling-lock-alloc"
#define GPUVM_RULE_SIGNALLING_UNBALANCED "signalling-unbalanced"
#define GPUVM_RULE_CHECKER "debug-checker"
/* Reported by every reference-counted object (GEM, fence, VM, vm_bo),
 * naming the get/put function. */
#define GPUVM_RULE_REFCOUNT_GET_ZERO "refcount-get-from-zero"
#define GPUVM_RULE_REFCOUNT_UNDERFLOW "refcount-underflow"
#define GPUVM_RULE_REFCOUNT_OVERFLOW "refcount-overflow"
/* An API call reached an object the library already freed (its memory
 * still holds the debug poison, see gpuvm_alloc_poisoning()). */
#define GPUVM_RULE_USE_AFTER_FREE "use-after-free"

/* ---- warnings ---------------------------------------------------------- */

/**
 * typedef gpuvm_warn_handler_fn - receives every warning
 * @rule: the broken rule's name (a GPUVM_RULE_* or a library rule)
 * @msg: the full message, naming the function that noticed
 * @data: the pointer given to gpuvm_warn_set_handler()
 *
 * Called on the thread that broke the rule, possibly with library locks
 * held: it must not call back into libgpuvm.
 */
typedef void (*gpuvm_warn_handler_fn)(const char *rule, const char *msg,
				      void *data);

/* Install @fn (NULL restores the default, GPUVM_WARN-driven handler). */
GPUVM_EXPORT void gpuvm_warn_set_handler(gpuvm_warn_handler_fn fn, void *data);

/* Report that @rule was broken. Never fails, never allocates. */
GPUVM_EXPORT void gpuvm_warn(const char *rule, const char *fmt, ...)
	GPUVM_PRINTF(2, 3);

/* Number of warnings reported in this process so far. */
GPUVM_EXPORT unsigned long gpuvm_warn_count(void);

/* ---- checker switch ---------------------------------------------------- */

GPUVM_EXPORT void gpuvm_debug_enable(bool enable);
GPUVM_EXPORT bool gpuvm_debug_enabled(void);

/* ---- lock classes and instances ---------------------------------------- */

/* The class is what lock ordering is learned on. */
#define GPUVM_LOCK_CLASS_RESV (1u << 0) /* a reservation (ww) lock class */

struct gpuvm_lock_class {
	const char *name;
	unsigned int flags;
	unsigned int id; /* assigned by the checker on first use; 0 = none */
};

#define GPUVM_LOCK_CLASS_INIT(class_name, class_flags) \
	{                                              \
		(class_name), (class_flags), 0         \
	}

/* What every lock instance embeds to be known to the checker. */
struct gpuvm_lockdep_map {
	struct gpuvm_lock_class *lock_class;
	const char *name;
};

/* Acquisition flags. */
#define GPUVM_LOCK_ACQ_TRY (1u << 0) /* trylock: cannot wait, learns no order */
#define GPUVM_LOCK_ACQ_NEST \
	(1u << 1) /* more instances of the class may be
				       * held (ww acquire context) */

GPUVM_EXPORT void gpuvm_lockdep_init_map(struct gpuvm_lockdep_map *map,
					 const char *name,
					 struct gpuvm_lock_class *lock_class);

/* Warns (GPUVM_RULE_DESTROY_HELD) when the calling thread still holds it. */
GPUVM_EXPORT void gpuvm_lockdep_fini_map(struct gpuvm_lockdep_map *map,
					 const char *func);

/**
 * gpuvm_lock_acquire() - record that the calling thread now holds @map
 * @ip: the acquisition site (usually __builtin_return_address(0) of the
 *      public lock function), printed in lock-order reports
 *
 * Checks recursion, learns and checks the order against held locks, and
 * applies the signalling-section rules. Called by lock implementations
 * after they got the lock; drivers with their own locks may call it too.
 */
GPUVM_EXPORT void gpuvm_lock_acquire(struct gpuvm_lockdep_map *map,
				     unsigned int flags, const void *ip);

/* Record that the calling thread released @map. Return: false when the
 * checker is on and the thread did not hold it (reported), else true. */
GPUVM_EXPORT bool gpuvm_lock_release(struct gpuvm_lockdep_map *map,
				     const char *func);

/* Whether the calling thread holds @map (true when checking is off). */
GPUVM_EXPORT bool gpuvm_lock_is_held(const struct gpuvm_lockdep_map *map);

/* Warn GPUVM_RULE_LOCK_NOT_HELD, naming @func, unless @map is held. */
GPUVM_EXPORT void gpuvm_lock_assert_held(const struct gpuvm_lockdep_map *map,
					 const char *func);

/* Warn GPUVM_RULE_LOCK_HELD, naming @func, if @map is held. */
GPUVM_EXPORT void
gpuvm_lock_assert_not_held(const struct gpuvm_lockdep_map *map,
			   const char *func);

/* Number of lock instances the calling thread holds (0 when off). */
GPUVM_EXPORT unsigned int gpuvm_lock_held_count(void);

/**
 * gpuvm_lockdep_order_known() - whether the checker learned @held -> @taken
 *
 * True when some thread once took a lock of class @taken while holding one
 * of class @held (a direct edge of the order graph; classes never used
 * count as unknown). For tests that assert an order was never created.
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
 * stay. Call it while no other thread takes or releases checked locks.
 */
GPUVM_EXPORT void gpuvm_lockdep_reset(void);

/* ---- fence signalling critical sections -------------------------------- */

/**
 * gpuvm_dma_fence_begin_signalling() - enter a fence signalling section
 *
 * Everything from publishing a fence to signalling it must be inside one.
 * Inside, a blocking allocation, taking a reservation lock or waiting on a
 * fence is reported. A lock taken inside becomes "signalling-safe": waiting
 * on a fence while holding a lock of that class is reported too.
 *
 * Return: a cookie for gpuvm_dma_fence_end_signalling(); true when the
 * thread already was in a section (the call then does nothing).
 */
GPUVM_EXPORT bool gpuvm_dma_fence_begin_signalling(void);

/* Leave the section entered by the call that returned @cookie. */
GPUVM_EXPORT void gpuvm_dma_fence_end_signalling(bool cookie);

/* Whether the calling thread is inside a signalling section. */
GPUVM_EXPORT bool gpuvm_in_signalling_section(void);

/**
 * gpuvm_might_alloc() - annotate an allocation that may block
 * @func: the allocating function, for the report
 *
 * The library allocator calls it for every allocation without
 * GPUVM_GFP_NOWAIT; a driver may annotate its own allocations.
 */
GPUVM_EXPORT void gpuvm_might_alloc(const char *func);

/**
 * gpuvm_might_wait_fence() - annotate a wait on a fence
 * @func: the waiting function, for the report
 *
 * Reports a wait inside a signalling section and a wait while holding a
 * signalling-safe lock. Fence waits call it; a driver may annotate its own
 * waits.
 */
GPUVM_EXPORT void gpuvm_might_wait_fence(const char *func);

/* ---- hook points: reproducible interleavings without sleeps ------------ */

/*
 * Library functions contain named hook points (e.g. "obtain:after_list_add",
 * "cleanup:before_destroy"; each header lists its own). A test arms a point
 * to park threads there, waits until they arrived, does what the
 * interleaving needs, then releases them. An unarmed point costs one
 * branch. Drivers may place their own points with gpuvm_hook().
 */
GPUVM_EXPORT extern int gpuvm_hooks_armed__;
GPUVM_EXPORT void gpuvm_hook_hit__(const char *name);

#define gpuvm_hook(name)                                                 \
	do {                                                             \
		if (gpuvm_unlikely(__atomic_load_n(&gpuvm_hooks_armed__, \
						   __ATOMIC_RELAXED)))   \
			gpuvm_hook_hit__(name);                          \
	} while (0)

/* Park the next @count threads that reach @name until it is released. */
GPUVM_EXPORT void gpuvm_hook_park(const char *name, unsigned int count);

/* Run @fn(@name, @arg) on every thread that reaches @name until
 * gpuvm_hook_release(); it may park, record state or break a rule. */
GPUVM_EXPORT void
gpuvm_hook_set_callback(const char *name,
			void (*fn)(const char *name, void *arg), void *arg);

/* Wait until @n threads are parked at @name. Return: false after 10 s
 * (reported as GPUVM_RULE_CHECKER), so a broken test fails, not hangs. */
GPUVM_EXPORT bool gpuvm_hook_wait_parked(const char *name, unsigned int n);

/* Release the threads parked at @name and disarm it. */
GPUVM_EXPORT void gpuvm_hook_release(const char *name);

/* Times @name was reached while armed. */
GPUVM_EXPORT unsigned long gpuvm_hook_hits(const char *name);

/* Release and disarm every point. */
GPUVM_EXPORT void gpuvm_hook_reset(void);

/* ---- test-only knobs: deliberately broken library variants ------------- */

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
	GPUVM_KNOB_COUNT__
};

/* Turn @knob on or off (process wide). */
GPUVM_EXPORT void gpuvm_debug_set_knob(enum gpuvm_debug_knob knob, bool on);

/* Whether @knob is on. */
GPUVM_EXPORT bool gpuvm_debug_knob(enum gpuvm_debug_knob knob);

/* ---- interrupting waits (the userspace stand-in for a signal) ----------- */

/**
 * gpuvm_interrupt_thread() - interrupt @thread's interruptible wait
 *
 * The current interruptible wait of @thread (a *_interruptible ww_mutex
 * lock, an interruptible fence wait, an exec loop with
 * GPUVM_EXEC_INTERRUPTIBLE_WAIT) returns -EINTR; if @thread is not waiting,
 * its next interruptible wait does. Uninterruptible waits ignore it and
 * leave it pending. @thread must be alive.
 */
GPUVM_EXPORT void gpuvm_interrupt_thread(pthread_t thread);

/* Drop a pending interrupt of the calling thread, if any. */
GPUVM_EXPORT void gpuvm_interrupt_clear(void);

GPUVM_END_DECLS

#endif /* GPUVM_DEBUG_H */
