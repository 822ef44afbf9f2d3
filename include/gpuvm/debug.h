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
/* Leak report (gpuvm_report_leaks(), and at process exit): a VM whose only
 * references are its vm_bos' after the driver's last gpuvm_put() (a vm_bo
 * reference was leaked), and a VM with zombie vm_bos that were never
 * cleaned up by gpuvm_bo_deferred_cleanup(). */
#define GPUVM_RULE_LEAK_VM_KEPT_BY_VM_BOS "leak-vm-kept-by-vm-bos"
/* Leak report: a VM kept alive only by its own mappings (each inserted VA
 * holds a VM reference) and vm_bos after the driver's last gpuvm_put(): it
 * was torn down without unmapping. */
#define GPUVM_RULE_LEAK_VM_KEPT_BY_MAPPINGS "leak-vm-kept-by-mappings"
#define GPUVM_RULE_LEAK_ZOMBIE_NOT_CLEANED "leak-zombie-not-cleaned"

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

/**
 * gpuvm_warn_set_handler() - route every warning to @fn
 * @fn: the handler; NULL restores the default (GPUVM_WARN-driven) one
 * @data: passed to @fn with every warning
 *
 * Process wide. A warning reported concurrently on another thread may
 * still reach the previous handler after this returns.
 *
 * Context: any thread; takes an internal mutex briefly; does not allocate.
 */
GPUVM_EXPORT void gpuvm_warn_set_handler(gpuvm_warn_handler_fn fn, void *data);

/**
 * gpuvm_warn() - report that @rule was broken
 * @rule: the rule's name (a GPUVM_RULE_* string)
 * @fmt: printf format of the message, which should name the function
 * @...: the arguments of @fmt
 *
 * Formats the message (truncated to 1023 characters), counts it, then
 * passes it to the installed handler, or else applies GPUVM_WARN: print
 * to stderr (default), print and abort(), or stay silent. Reports even
 * when the debug checker is off. The compiler checks the format.
 *
 * Context: any thread, with any locks held, also inside a fence
 * signalling section or an RCU read section; never fails; does not
 * allocate through the library allocator. The handler runs on the calling
 * thread, outside the internal mutex.
 */
GPUVM_EXPORT void gpuvm_warn(const char *rule, const char *fmt, ...)
	GPUVM_PRINTF(2, 3);

/**
 * gpuvm_warn_count() - number of warnings reported so far
 *
 * Context: any thread; lock-free.
 * Return: every gpuvm_warn() call of the process since it started,
 * including those a handler took and those GPUVM_WARN=silent dropped.
 */
GPUVM_EXPORT unsigned long gpuvm_warn_count(void);

/* ---- checker switch ---------------------------------------------------- */

/**
 * gpuvm_debug_enable() - turn the debug checker on or off
 * @enable: the new state, process wide (GPUVM_DEBUG=0 or "off" in the
 *          environment starts the process with it off)
 *
 * Also switches the free poisoning (gpuvm_alloc_poisoning()). While it is
 * off, lock acquisitions and releases are not recorded.
 *
 * Context: any thread, but only while no thread holds a checked lock: a
 * lock taken on one side of the switch and released on the other is
 * mis-tracked (with the checker turned on in between, the release of such
 * a mutex is reported as GPUVM_RULE_UNLOCK_UNHELD and the mutex stays
 * locked). Does not allocate.
 */
GPUVM_EXPORT void gpuvm_debug_enable(bool enable);

/**
 * gpuvm_debug_enabled() - whether the debug checker is on
 *
 * Context: any thread; lock-free.
 * Return: the current state (a relaxed read of the process-wide switch).
 */
GPUVM_EXPORT bool gpuvm_debug_enabled(void);

/* ---- leak and lifetime report ------------------------------------------ */

/**
 * gpuvm_report_leaks() - report the VMs that leak, as far as known now
 *
 * While the checker is on, the library registers every VM, vm_bo and GEM
 * object it initialises, with its label (a VM's name, a GEM's
 * gpuvm_gem_object_set_label()) and where it was created (the caller's
 * return address, shown as function+offset when dladdr() can name it).
 * This reports, naming the VM and where it and its vm_bos were created:
 * a VM whose reference count equals the number of its vm_bos, so nothing
 * but those keeps it alive after the driver's last gpuvm_put()
 * (GPUVM_RULE_LEAK_VM_KEPT_BY_VM_BOS), a VM whose reference count equals
 * the number of its inserted VAs plus its vm_bos, so it was torn down
 * without unmapping (GPUVM_RULE_LEAK_VM_KEPT_BY_MAPPINGS), and a VM whose
 * deferred list holds zombies that no gpuvm_bo_deferred_cleanup() took
 * (GPUVM_RULE_LEAK_ZOMBIE_NOT_CLEANED). The same report runs at process
 * exit when the checker is on and objects are still registered. Objects
 * created while the checker was off are not known.
 *
 * Context: any thread; takes the registry's internal mutex, not held
 * while warning; the state of objects other threads change meanwhile may
 * be seen before or after the change. Uses plain malloc for the messages.
 * Return: the number of reports; 0 when the checker is off.
 */
GPUVM_EXPORT unsigned int gpuvm_report_leaks(void);

/* ---- lock classes and instances ---------------------------------------- */

/* The class is what lock ordering is learned on. */
#define GPUVM_LOCK_CLASS_RESV (1u << 0) /* a reservation (ww) lock class */

/**
 * struct gpuvm_lock_class - a lock class of the debug checker
 * @name: for reports; must outlive the process's use of the class
 * @flags: GPUVM_LOCK_CLASS_* flags
 * @id: assigned by the checker on first use; 0 = none yet (or the checker
 *      ran out of its 1023 class ids: the class's order is then not
 *      checked, reported as GPUVM_RULE_CHECKER)
 *
 * Define it with GPUVM_LOCK_CLASS_INIT(), normally with static storage:
 * the checker remembers a class for the life of the process.
 */
struct gpuvm_lock_class {
	const char *name;
	unsigned int flags;
	unsigned int id;
};

#define GPUVM_LOCK_CLASS_INIT(class_name, class_flags) \
	{                                              \
		(class_name), (class_flags), 0         \
	}

/**
 * struct gpuvm_lockdep_map - what a lock instance embeds to be checked
 * @lock_class: the instance's class
 * @name: the instance's name, for reports
 *
 * Set up with gpuvm_lockdep_init_map(). The checker identifies an
 * instance by the address of its map.
 */
struct gpuvm_lockdep_map {
	struct gpuvm_lock_class *lock_class;
	const char *name;
};

/* Acquisition flags. */
#define GPUVM_LOCK_ACQ_TRY (1u << 0) /* trylock: cannot wait, learns no order */
#define GPUVM_LOCK_ACQ_NEST \
	(1u << 1) /* more instances of the class may be
				       * held (ww acquire context) */

/**
 * gpuvm_lockdep_init_map() - set up the checker map of a lock instance
 * @map: the map, embedded in the lock
 * @name: the instance's name for reports; NULL uses the class's name
 * @lock_class: the class; must outlive @map
 *
 * The class gets its id on the first acquisition, not here.
 *
 * Context: any thread; not while @map is held. Does not allocate.
 */
GPUVM_EXPORT void gpuvm_lockdep_init_map(struct gpuvm_lockdep_map *map,
					 const char *name,
					 struct gpuvm_lock_class *lock_class);

/**
 * gpuvm_lockdep_fini_map() - check a lock instance that is destroyed
 * @map: the map
 * @func: the destroying function, for the report
 *
 * Reports GPUVM_RULE_DESTROY_HELD when the checker is on and the calling
 * thread still holds @map (other threads are not looked at). There is
 * nothing else to undo.
 *
 * Context: any thread; does not allocate or block.
 */
GPUVM_EXPORT void gpuvm_lockdep_fini_map(struct gpuvm_lockdep_map *map,
					 const char *func);

/**
 * gpuvm_lock_acquire() - record that the calling thread now holds @map
 * @map: the lock instance
 * @flags: GPUVM_LOCK_ACQ_TRY (a trylock: learns no order and may take a
 *         second instance of a held class) and/or GPUVM_LOCK_ACQ_NEST
 *         (instances of the class may nest when every one was taken with
 *         it, as under a ww acquire context)
 * @ip: the acquisition site (usually __builtin_return_address(0) of the
 *      public lock function), printed in lock-order reports
 *
 * Called by lock implementations after they got the lock; drivers with
 * their own locks may call it too. Does nothing while the checker is off.
 * Reports GPUVM_RULE_RECURSIVE_LOCK (the thread holds @map, or another
 * instance of its class without nesting), GPUVM_RULE_LOCK_ORDER (a new
 * class order that closes a cycle, reported when first learned), and, in
 * a fence signalling section, GPUVM_RULE_SIGNALLING_RESV for a
 * GPUVM_LOCK_CLASS_RESV class and GPUVM_RULE_SIGNALLING_LOCK_WAIT or
 * _LOCK_ALLOC for a class once held across a fence wait or a blocking
 * allocation; a class taken in a section becomes signalling-safe.
 *
 * Context: any thread, any section. Never blocks on other threads' locks;
 * takes the checker's internal mutex for a new class or order. Its own
 * bookkeeping uses plain malloc (not counted, never fault-injected); when
 * that fails the acquisition is reported (GPUVM_RULE_CHECKER) and not
 * tracked.
 */
GPUVM_EXPORT void gpuvm_lock_acquire(struct gpuvm_lockdep_map *map,
				     unsigned int flags, const void *ip);

/**
 * gpuvm_lock_release() - record that the calling thread released @map
 * @map: the lock instance
 * @func: the releasing function, for the report
 *
 * Locks may be released in any order.
 *
 * Context: any thread; does not allocate or block.
 * Return: true when the checker is off or the thread held @map; false
 * when the checker is on and the thread did not hold it (reported as
 * GPUVM_RULE_UNLOCK_UNHELD): the caller should then leave the lock alone.
 */
GPUVM_EXPORT bool gpuvm_lock_release(struct gpuvm_lockdep_map *map,
				     const char *func);

/**
 * gpuvm_lock_is_held() - whether the calling thread holds @map
 * @map: the lock instance
 *
 * Context: any thread; lock-free.
 * Return: whether the calling thread holds @map; true when the checker is
 * off (like lockdep_is_held() without lockdep).
 */
GPUVM_EXPORT bool gpuvm_lock_is_held(const struct gpuvm_lockdep_map *map);

/**
 * gpuvm_lock_assert_held() - report that @map is not held
 * @map: the lock instance
 * @func: the function that needs the lock, named in the report
 *
 * Reports GPUVM_RULE_LOCK_NOT_HELD unless the calling thread holds @map.
 * Does nothing when the checker is off.
 *
 * Context: any thread; lock-free; does not allocate.
 */
GPUVM_EXPORT void gpuvm_lock_assert_held(const struct gpuvm_lockdep_map *map,
					 const char *func);

/**
 * gpuvm_lock_assert_not_held() - report that @map is held
 * @map: the lock instance
 * @func: the function that must not run under the lock, named in the
 *        report
 *
 * Reports GPUVM_RULE_LOCK_HELD if the calling thread holds @map. Does
 * nothing when the checker is off.
 *
 * Context: any thread; lock-free; does not allocate.
 */
GPUVM_EXPORT void
gpuvm_lock_assert_not_held(const struct gpuvm_lockdep_map *map,
			   const char *func);

/**
 * gpuvm_lock_held_count() - number of lock instances the thread holds
 *
 * Counts every tracked acquisition of the calling thread, ww acquire
 * contexts and device bound scopes included.
 *
 * Context: any thread; lock-free.
 * Return: the count; 0 when the checker is off.
 */
GPUVM_EXPORT unsigned int gpuvm_lock_held_count(void);

/* ---- fence signalling critical sections -------------------------------- */

/**
 * gpuvm_dma_fence_begin_signalling() - enter a fence signalling section
 *
 * Everything from publishing a fence to signalling it must be inside one.
 * Inside, a blocking allocation, taking a reservation lock or waiting on a
 * fence is reported. A lock taken inside becomes "signalling-safe": waiting
 * on a fence while holding a lock of that class is reported too. Sections
 * are per thread and do not nest: an inner call changes nothing.
 *
 * Context: any thread; does not allocate or block. The section is tracked
 * even while the checker is off (only the reports need it on).
 * Return: a cookie for gpuvm_dma_fence_end_signalling(); true when the
 * thread already was in a section (the call then does nothing).
 */
GPUVM_EXPORT bool gpuvm_dma_fence_begin_signalling(void);

/**
 * gpuvm_dma_fence_end_signalling() - leave a fence signalling section
 * @cookie: what the matching gpuvm_dma_fence_begin_signalling() returned
 *
 * A true @cookie does nothing. A false one ends the thread's section;
 * without a section that is reported (GPUVM_RULE_SIGNALLING_UNBALANCED,
 * checker on) and ignored.
 *
 * Context: the thread that began the section; does not allocate or block.
 */
GPUVM_EXPORT void gpuvm_dma_fence_end_signalling(bool cookie);

/**
 * gpuvm_in_signalling_section() - whether the thread is in a section
 *
 * Context: any thread; lock-free.
 * Return: whether the calling thread is inside a fence signalling section
 * (whatever the state of the checker).
 */
GPUVM_EXPORT bool gpuvm_in_signalling_section(void);

/**
 * gpuvm_might_alloc() - annotate an allocation that may block
 * @func: the allocating function, for the report
 *
 * The library allocator calls it for every allocation without
 * GPUVM_GFP_NOWAIT; a driver may annotate its own allocations. Reports
 * GPUVM_RULE_SIGNALLING_ALLOC inside a signalling section and
 * GPUVM_RULE_SIGNALLING_LOCK_ALLOC for each held signalling-safe lock;
 * marks the classes of the held locks (reservation classes excepted) as
 * held across a blocking allocation. Does nothing while the checker is off.
 *
 * Context: any thread; does not allocate or block.
 * Kernel parity: the kernel's might_alloc() takes the gfp flags; this one
 * is only called for allocations that may block, and takes a name.
 */
GPUVM_EXPORT void gpuvm_might_alloc(const char *func);

/**
 * gpuvm_might_wait_fence() - annotate a wait on a fence
 * @func: the waiting function, for the report
 *
 * Reports GPUVM_RULE_SIGNALLING_WAIT inside a signalling section and
 * GPUVM_RULE_SIGNALLING_LOCK_WAIT for each held signalling-safe lock;
 * marks the classes of the held locks as held across a fence wait. Fence
 * waits call it; a driver may annotate its own waits. Does nothing while
 * the checker is off.
 *
 * Context: any thread; does not allocate or block.
 */
GPUVM_EXPORT void gpuvm_might_wait_fence(const char *func);

GPUVM_END_DECLS

#endif /* GPUVM_DEBUG_H */
