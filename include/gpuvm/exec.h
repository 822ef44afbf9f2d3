/* SPDX-License-Identifier: MIT */
/*
 * Locking many GEM objects at once (the kernel's drm_exec).
 *
 * An exec object runs the wound/wait back-off dance for its user: the body
 * of gpuvm_exec_until_all_locked() locks (or prepares) objects; when a lock
 * reports contention, gpuvm_exec_retry_on_contention() restarts the body
 * with everything unlocked, and the contended object is taken first on the
 * next pass. One ticket (acquire context of the reservation class) serves
 * all passes, which is what guarantees progress.
 *
 *	gpuvm_exec_init(&exec, GPUVM_EXEC_INTERRUPTIBLE_WAIT, 0);
 *	gpuvm_exec_until_all_locked(&exec) {
 *		ret = gpuvm_exec_prepare_obj(&exec, a, 1);
 *		gpuvm_exec_retry_on_contention(&exec);
 *		if (ret)
 *			goto out;
 *		ret = gpuvm_exec_prepare_obj(&exec, b, 1);
 *		gpuvm_exec_retry_on_contention(&exec);
 *		if (ret)
 *			goto out;
 *	}
 *	... everything is locked; add fences ...
 * out:
 *	gpuvm_exec_fini(&exec);
 *
 * Every locked object is tracked with a reference of its own, dropped after
 * it is unlocked by gpuvm_exec_unlock_obj() or gpuvm_exec_fini().
 *
 * An exec object belongs to one thread: the thread that runs the loop
 * (its ticket is an acquire context).
 */
#ifndef GPUVM_EXEC_H
#define GPUVM_EXEC_H

#include <gpuvm/common.h>
#include <gpuvm/debug.h>
#include <gpuvm/gem.h>
#include <gpuvm/ww_mutex.h>

GPUVM_BEGIN_DECLS

/* Misuse reported by the exec helpers. */
#define GPUVM_RULE_EXEC_OUTSIDE_LOOP "exec-lock-outside-loop"
#define GPUVM_RULE_EXEC_CONTENTION_IGNORED "exec-contention-not-retried"
#define GPUVM_RULE_EXEC_RETRY "exec-retry-without-reinit"

/* Wait interruptibly for locks: lock functions may then return -EINTR. */
#define GPUVM_EXEC_INTERRUPTIBLE_WAIT (1u << 0)
/* Locking an object the exec already holds returns 0, not -EALREADY. */
#define GPUVM_EXEC_IGNORE_DUPLICATES (1u << 1)

/* @contended before the loop was entered: the ticket is not initialised. */
#define GPUVM_EXEC_DUMMY ((struct gpuvm_gem_object *)~(uintptr_t)0)

/**
 * struct gpuvm_exec - state of one multi-object locking transaction
 * @flags: GPUVM_EXEC_* flags given to gpuvm_exec_init()
 * @ticket: the acquire context of every lock taken; initialised when the
 *          loop is entered, finished by gpuvm_exec_fini()
 * @num_objects: number of locked and tracked objects
 * @max_objects: capacity of @objects
 * @objects: the tracked objects, in locking order; each entry owns a
 *           reference
 * @contended: the object whose lock reported contention (owns a
 *             reference), NULL, or GPUVM_EXEC_DUMMY before the loop and
 *             after gpuvm_exec_fini()
 * @prelocked: the contended object once it was locked at the start of the
 *             next pass and until the body locks it again (owns a
 *             reference besides its entry in @objects)
 *
 * All fields are read-only for the user.
 */
struct gpuvm_exec {
	uint32_t flags;
	struct gpuvm_ww_acquire_ctx ticket;
	unsigned int num_objects;
	unsigned int max_objects;
	struct gpuvm_gem_object **objects;
	struct gpuvm_gem_object *contended;
	struct gpuvm_gem_object *prelocked;
};

/**
 * gpuvm_exec_obj() - the @index-th locked object of @exec
 * @exec: the exec object
 * @index: position in locking order, from 0
 *
 * No reference is taken: the entry's own keeps the object alive while it
 * is tracked.
 *
 * Context: the thread that owns @exec; no lock.
 * Return: the object, or NULL when @index is not below @exec->num_objects.
 */
static inline struct gpuvm_gem_object *gpuvm_exec_obj(struct gpuvm_exec *exec,
						      unsigned long index)
{
	return index < exec->num_objects ? exec->objects[index] : NULL;
}

#define GPUVM_EXEC_PASTE__(a, b) a##b
#define GPUVM_EXEC_UNIQUE__(prefix, n) GPUVM_EXEC_PASTE__(prefix, n)

#define gpuvm_exec_for_each_locked_object__(exec, obj, i) \
	for (unsigned long i = 0; ((obj) = gpuvm_exec_obj((exec), i)); ++i)
#define gpuvm_exec_for_each_locked_object_reverse__(exec, obj, i)      \
	for (unsigned long i = (unsigned long)(exec)->num_objects - 1; \
	     ((obj) = gpuvm_exec_obj((exec), i)); --i)

/**
 * gpuvm_exec_for_each_locked_object() - iterate the locked objects
 * @exec: the exec object
 * @obj: a struct gpuvm_gem_object pointer, set to each object in turn
 *
 * Oldest first. The body must not lock or unlock objects through @exec.
 */
#define gpuvm_exec_for_each_locked_object(exec, obj) \
	gpuvm_exec_for_each_locked_object__(         \
		exec, obj, GPUVM_EXEC_UNIQUE__(gpuvm_exec_index_, __LINE__))

/* As gpuvm_exec_for_each_locked_object(), newest first. */
#define gpuvm_exec_for_each_locked_object_reverse(exec, obj) \
	gpuvm_exec_for_each_locked_object_reverse__(         \
		exec, obj, GPUVM_EXEC_UNIQUE__(gpuvm_exec_index_, __LINE__))

/**
 * gpuvm_exec_init() - initialise @exec
 * @exec: the exec object; its previous contents are ignored (finish a
 *        used one with gpuvm_exec_fini() first)
 * @flags: GPUVM_EXEC_INTERRUPTIBLE_WAIT and/or GPUVM_EXEC_IGNORE_DUPLICATES
 * @nr: expected number of objects, a size hint; 0 means one page worth of
 *      pointers (512 on 64-bit)
 *
 * Allocates the object array. If that fails, the failure is not reported
 * here: the first lock then tries again and returns -ENOMEM if it fails.
 * The ticket is initialised only when the loop is entered.
 *
 * Context: the thread that will run the loop; allocates (may block: not
 * in a fence signalling section).
 */
GPUVM_EXPORT void gpuvm_exec_init(struct gpuvm_exec *exec, uint32_t flags,
				  unsigned int nr);

/**
 * gpuvm_exec_fini() - unlock everything and release @exec
 * @exec: the exec object
 *
 * Unlocks every tracked object, newest first, and drops its references
 * (unlock always before the drop, so an object may be freed by it), drops
 * the reference on a pending contended object, frees the array, and
 * finishes the ticket if the loop was ever entered. Valid at any point:
 * after the loop, after breaking out of it, or without entering it; a
 * second call does nothing. @exec needs gpuvm_exec_init() before reuse.
 *
 * Context: the thread that owns @exec; does not block or allocate. A
 * dropped reference may be an object's last: its free callback runs here.
 */
GPUVM_EXPORT void gpuvm_exec_fini(struct gpuvm_exec *exec);

/**
 * gpuvm_exec_cleanup() - the loop condition of gpuvm_exec_until_all_locked()
 * @exec: the exec object
 *
 * On the first call, initialises the ticket and returns true. After a pass
 * that hit contention, unlocks everything and returns true (run the body
 * again; the contended object is locked by the next lock call). After a
 * pass without contention, marks the end of the acquire phase
 * (gpuvm_ww_acquire_done()) and returns false, leaving everything locked.
 * Called by the loop macro, not directly.
 *
 * Context: the thread that owns @exec; does not block or allocate.
 * Return: whether to run the body (again).
 */
GPUVM_EXPORT bool gpuvm_exec_cleanup(struct gpuvm_exec *exec);

/**
 * gpuvm_exec_lock_obj() - lock @obj->resv and track @obj
 * @exec: the exec object
 * @obj: the object; the exec takes its own reference
 *
 * Locks the pending contended object first, if any. Must be called inside
 * the loop body, followed by gpuvm_exec_retry_on_contention() before the
 * result is looked at.
 *
 * Context: the thread that owns @exec; may block (interruptibly with
 * GPUVM_EXEC_INTERRUPTIBLE_WAIT); allocates when the object array is full
 * (may block). Not in a fence signalling section; no reservation lock may
 * be held outside the ticket.
 * Return:
 *  * 0 - @obj is locked and tracked once, with a reference of the exec.
 *    Also returned for an object already locked by @exec with
 *    GPUVM_EXEC_IGNORE_DUPLICATES (no second entry, no second reference).
 *  * -EDEADLK - contention: @exec holds a reference on @obj as the
 *    contended object; gpuvm_exec_retry_on_contention() restarts the body.
 *  * -EALREADY - @obj's resv is already locked by @exec (without
 *    GPUVM_EXEC_IGNORE_DUPLICATES); it stays locked and tracked once.
 *  * -EINTR - an interruptible wait was interrupted (only with
 *    GPUVM_EXEC_INTERRUPTIBLE_WAIT); the contention, if any, is cleared.
 *    Leave the loop and call gpuvm_exec_fini().
 *  * -ENOMEM - growing the object array failed; @obj is not locked. When
 *    this happens to the pending contended object, that one is dropped
 *    unlocked and the contention cleared, as for -EINTR.
 *  * -EINVAL - called outside the loop (reported as
 *    GPUVM_RULE_EXEC_OUTSIDE_LOOP); nothing is locked.
 *  * -EDEADLK also when the body went on locking after a contention
 *    without restarting (reported as GPUVM_RULE_EXEC_CONTENTION_IGNORED);
 *    nothing is locked and the contention stays pending.
 */
GPUVM_EXPORT int gpuvm_exec_lock_obj(struct gpuvm_exec *exec,
				     struct gpuvm_gem_object *obj);

/**
 * gpuvm_exec_unlock_obj() - unlock a tracked object early
 * @exec: the exec object
 * @obj: the object
 *
 * Searches the tracked objects newest first (meant for recently locked
 * objects), unlocks @obj->resv, removes the entry keeping the order of the
 * others, and drops the entry's reference. Does nothing when @obj is not
 * tracked.
 *
 * Context: the thread that owns @exec; does not block or allocate. The
 * dropped reference may be @obj's last: its free callback runs here.
 * Kernel parity: unlocking the prelocked object also forgets that it is
 * prelocked (dropping that reference too), so a later
 * gpuvm_exec_lock_obj() locks it again; the kernel keeps it marked and
 * would then return 0 without locking it.
 */
GPUVM_EXPORT void gpuvm_exec_unlock_obj(struct gpuvm_exec *exec,
					struct gpuvm_gem_object *obj);

/**
 * gpuvm_exec_prepare_obj() - lock @obj and reserve @num_fences fence slots
 * @exec: the exec object
 * @obj: the object
 * @num_fences: fence slots to reserve in @obj->resv (0 reserves one, as
 *              gpuvm_dma_resv_reserve_fences() does)
 *
 * With GPUVM_EXEC_IGNORE_DUPLICATES, a duplicate reserves again (the
 * reservations add up). If the reservation fails, @obj is unlocked and
 * untracked entirely, even when it had been locked before this call.
 *
 * Context: as gpuvm_exec_lock_obj().
 * Return: as gpuvm_exec_lock_obj() (no reservation is made on -EALREADY),
 * or -ENOMEM when reserving the fence slots failed.
 */
GPUVM_EXPORT int gpuvm_exec_prepare_obj(struct gpuvm_exec *exec,
					struct gpuvm_gem_object *obj,
					unsigned int num_fences);

/**
 * gpuvm_exec_prepare_array() - gpuvm_exec_prepare_obj() on each of @objects
 * @exec: the exec object
 * @objects: the objects, in locking order
 * @num_objects: number of entries in @objects
 * @num_fences: fence slots to reserve in each object's resv
 *
 * Context: as gpuvm_exec_lock_obj().
 * Return: 0, or the first non-zero result (the remaining objects are not
 * attempted).
 */
GPUVM_EXPORT int gpuvm_exec_prepare_array(struct gpuvm_exec *exec,
					  struct gpuvm_gem_object **objects,
					  unsigned int num_objects,
					  unsigned int num_fences);

/**
 * gpuvm_exec_is_contended() - whether a contention is pending
 * @exec: the exec object
 *
 * Context: the thread that owns @exec; no lock.
 * Return: true when the last lock reported contention not yet handled,
 * and also before the loop was entered and after gpuvm_exec_fini()
 * (@exec->contended is GPUVM_EXEC_DUMMY then), as in the kernel.
 */
static inline bool gpuvm_exec_is_contended(struct gpuvm_exec *exec)
{
	return exec->contended != NULL;
}

/**
 * gpuvm_exec_ticket() - the acquire context of @exec
 * @exec: the exec object
 *
 * For locking further ww mutexes in the same transaction. Locks taken
 * through it directly are not tracked by @exec: the caller unlocks them
 * before gpuvm_exec_fini() finishes the ticket.
 *
 * Context: the thread that owns @exec; no lock.
 * Return: &@exec->ticket, initialised from the first loop condition until
 * gpuvm_exec_fini().
 */
static inline struct gpuvm_ww_acquire_ctx *
gpuvm_exec_ticket(struct gpuvm_exec *exec)
{
	return &exec->ticket;
}

/* Reports GPUVM_RULE_EXEC_RETRY unless @exec was just (re)initialised. */
GPUVM_EXPORT void gpuvm_exec_retry_check__(struct gpuvm_exec *exec);

/*
 * The loop construct.
 *
 * gpuvm_exec_until_all_locked(exec) { body } runs the body until a pass
 * completes without contention; every pass starts with nothing locked.
 * gpuvm_exec_retry_on_contention(exec) restarts the body when the last
 * lock reported contention. gpuvm_exec_retry(exec) restarts it
 * unconditionally; it is only valid right after the body called
 * gpuvm_exec_fini() and gpuvm_exec_init() on @exec (a fresh transaction).
 *
 * With GCC and Clang the construct works like the kernel's: it may be used
 * several times in one function, and the retry macros may sit in nested
 * loops or switches inside the body. It jumps through a label address
 * (a GNU extension, marked so that -pedantic builds stay quiet).
 *
 * Define GPUVM_EXEC_PORTABLE_LOOP before including this header (or use a
 * compiler without GNU extensions) for a strictly standard construct: a
 * while loop whose retry is a `continue`. Then the retry macros must be
 * used directly in the body, not inside a nested loop or switch: there
 * the `continue` would act on the inner statement. Locking again after
 * such a misplaced retry is reported (GPUVM_RULE_EXEC_CONTENTION_IGNORED)
 * and returns -EDEADLK without locking, so the pass still ends in a
 * restart instead of running with objects missing.
 */
#if defined(__GNUC__) && !defined(GPUVM_EXEC_PORTABLE_LOOP)

/* clang-format off */
#define gpuvm_exec_until_all_locked__(exec, label)			\
	label:								\
	for (void *gpuvm_exec_retry_ptr__ = __extension__ &&label;	\
	     ((void)gpuvm_exec_retry_ptr__, gpuvm_exec_cleanup(exec));)
/* clang-format on */

#define gpuvm_exec_until_all_locked(exec) \
	gpuvm_exec_until_all_locked__(    \
		exec, GPUVM_EXEC_UNIQUE__(gpuvm_exec_retry_, __COUNTER__))

/* clang-format off */
#define gpuvm_exec_goto_retry__()					\
	_Pragma("GCC diagnostic push")					\
	_Pragma("GCC diagnostic ignored \"-Wpedantic\"")		\
	goto *gpuvm_exec_retry_ptr__;					\
	_Pragma("GCC diagnostic pop")
/* clang-format on */

#define gpuvm_exec_retry_on_contention(exec)                         \
	do {                                                         \
		if (gpuvm_unlikely(gpuvm_exec_is_contended(exec))) { \
			gpuvm_exec_goto_retry__()                    \
		}                                                    \
	} while (0)

#define gpuvm_exec_retry(exec)                  \
	do {                                    \
		gpuvm_exec_retry_check__(exec); \
		gpuvm_exec_goto_retry__()       \
	} while (0)

#else /* portable */

#define gpuvm_exec_until_all_locked(exec) while (gpuvm_exec_cleanup(exec))

/* An if/else rather than do/while(0): `continue` must reach the loop. */
#define gpuvm_exec_retry_on_contention(exec)               \
	if (gpuvm_unlikely(gpuvm_exec_is_contended(exec))) \
		continue;                                  \
	else                                               \
		((void)0)

#define gpuvm_exec_retry(exec)                 \
	if (gpuvm_exec_retry_check__(exec), 1) \
		continue;                      \
	else                                   \
		((void)0)

#endif

GPUVM_END_DECLS

#endif /* GPUVM_EXEC_H */
