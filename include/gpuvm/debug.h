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

GPUVM_END_DECLS

#endif /* GPUVM_DEBUG_H */
