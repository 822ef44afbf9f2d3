// SPDX-License-Identifier: MIT
/*
 * A sleeping mutex that reports to the debug checker.
 *
 * The lock is one word: 0 free, 1 held, 2 held with sleepers. Taking a free
 * lock is one compare-and-swap and letting go of one nobody waits for is
 * one exchange, as in the kernel's mutex; a pthread mutex costs some fifty
 * instructions more per pair, which a bind pays several times. Waiters
 * sleep on the word (a futex), after a short spin.
 */
#include <sched.h>

#include <gpuvm/mutex.h>

#include "internal.h"

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

static void word_wait(int *word, int val)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static __attribute__((noinline)) void word_wake(int *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
#else
/* No futex: a sleeper polls (correct, slower under contention). */
static void word_wait(int *word, int val)
{
	if (__atomic_load_n(word, __ATOMIC_RELAXED) == val)
		sched_yield();
}

static void word_wake(int *word)
{
	(void)word;
}
#endif

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

static inline bool word_trylock(int *word)
{
	int free = 0;

	return __atomic_compare_exchange_n(word, &free, 1, false,
					   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

/* Spin briefly (the holder is usually about to let go), then sleep. Once
 * it has slept, a thread takes the lock as "held with sleepers", since it
 * cannot know whether others still sleep. */
static __attribute__((noinline)) void word_lock_contended(int *word)
{
	unsigned int spin;

	for (spin = 0; spin < 100; spin++) {
		if (__atomic_load_n(word, __ATOMIC_RELAXED) == 0 &&
		    word_trylock(word))
			return;
		cpu_relax();
	}
	while (__atomic_exchange_n(word, 2, __ATOMIC_ACQUIRE) != 0)
		word_wait(word, 2);
}

static inline void word_lock(int *word)
{
	if (unlikely(!word_trylock(word)))
		word_lock_contended(word);
}

static inline void word_unlock(int *word)
{
	if (unlikely(__atomic_exchange_n(word, 0, __ATOMIC_RELEASE) == 2))
		word_wake(word);
}

GPUVM_EXPORT void gpuvm_mutex_init(struct gpuvm_mutex *m, const char *name,
				   struct gpuvm_lock_class *lock_class)
{
	__atomic_store_n(&m->locked, 0, __ATOMIC_RELAXED);
	gpuvm_lockdep_init_map(&m->dep_map, name, lock_class);
}

/*
 * A destroyed mutex has no class while the checker is on: using it again
 * is reported as a use after free (its object is gone). Destroying a
 * mutex that some thread holds is reported and leaves it intact, so the
 * holder's unlock stays defined.
 */
GPUVM_EXPORT void gpuvm_mutex_destroy(struct gpuvm_mutex *m)
{
	if (gpuvm_debug_active()) {
		if (gpuvm_lock_is_held(&m->dep_map)) {
			gpuvm_lockdep_fini_map(&m->dep_map,
					       "gpuvm_mutex_destroy");
			return;
		}
		if (__atomic_load_n(&m->locked, __ATOMIC_RELAXED)) {
			gpuvm_warn(GPUVM_RULE_DESTROY_HELD,
				   "gpuvm_mutex_destroy: destroying '%s' "
				   "while another thread holds it",
				   m->dep_map.name);
			return;
		}
		m->dep_map.lock_class = NULL;
	}
}

static bool mutex_destroyed(struct gpuvm_mutex *m, const char *func)
{
	if (likely(m->dep_map.lock_class))
		return false;
	gpuvm_warn(GPUVM_RULE_USE_AFTER_FREE,
		   "%s: '%s' was destroyed (its object was freed)", func,
		   m->dep_map.name);
	return true;
}

/* gpuvm_mutex_lock() with the checker or the explorer on; @ip is the
 * caller's site (out of line, so that the common path keeps no frame). */
static __attribute__((noinline)) void lock_checked(struct gpuvm_mutex *m,
						   const void *ip)
{
	/*
	 * The kernel would deadlock here. Report the recursion and return
	 * instead, so a test sees the warning rather than a hang.
	 */
	if (gpuvm_debug_active()) {
		if (mutex_destroyed(m, "gpuvm_mutex_lock"))
			return;
		if (gpuvm_lock_is_held(&m->dep_map)) {
			gpuvm_lock_acquire(&m->dep_map, 0, ip);
			gpuvm_lock_release(&m->dep_map, "gpuvm_mutex_lock");
			return;
		}
	}
	gpuvm_sched_point(GPUVM_SCHED_LOCK, m);
	if (gpuvm_sched_managed()) {
		/* The holder is parked by the explorer: wait through it. */
		while (!word_trylock(&m->locked))
			gpuvm_sched_block__(m);
	} else {
		word_lock(&m->locked);
	}
	gpuvm_lock_acquire(&m->dep_map, 0, ip);
}

GPUVM_EXPORT void gpuvm_mutex_lock(struct gpuvm_mutex *m)
{
	if (gpuvm_checked_path())
		lock_checked(m, GPUVM_RET_IP);
	else /* what the kernel's mutex does, nothing more */
		word_lock(&m->locked);
}

GPUVM_EXPORT bool gpuvm_mutex_trylock(struct gpuvm_mutex *m)
{
	if (gpuvm_debug_active() && mutex_destroyed(m, "gpuvm_mutex_trylock"))
		return false;
	gpuvm_sched_point(GPUVM_SCHED_LOCK, m);
	if (!word_trylock(&m->locked))
		return false;
	gpuvm_lock_acquire(&m->dep_map, GPUVM_LOCK_ACQ_TRY, GPUVM_RET_IP);
	return true;
}

static __attribute__((noinline)) void unlock_checked(struct gpuvm_mutex *m)
{
	/* Before the release too: what this thread published while holding
	 * the lock is visible to the others before it lets go. */
	gpuvm_sched_point(GPUVM_SCHED_UNLOCK, m);
	if (!gpuvm_lock_release(&m->dep_map, "gpuvm_mutex_unlock"))
		return;
	word_unlock(&m->locked);
	gpuvm_sched_wake(m);
	gpuvm_sched_point(GPUVM_SCHED_UNLOCK, m);
}

GPUVM_EXPORT void gpuvm_mutex_unlock(struct gpuvm_mutex *m)
{
	if (gpuvm_checked_path())
		unlock_checked(m);
	else
		word_unlock(&m->locked);
}

GPUVM_EXPORT bool gpuvm_mutex_is_locked(struct gpuvm_mutex *m)
{
	return __atomic_load_n(&m->locked, __ATOMIC_RELAXED) != 0;
}
