/* SPDX-License-Identifier: MIT */
/*
 * Library-private helpers shared between source files. Everything declared
 * here is hidden from the shared library's ABI; tests reach it through the
 * static internal library.
 */
#ifndef GPUVM_INTERNAL_H
#define GPUVM_INTERNAL_H

#include <stdatomic.h>

#include <gpuvm/alloc.h>
#include <gpuvm/common.h>
#include <gpuvm/debug.h>
#include <gpuvm/err.h>
#include <gpuvm/list.h>
#include <gpuvm/mutex.h>
#include <gpuvm/testing.h>

#define likely(x) gpuvm_likely(x)
#define unlikely(x) gpuvm_unlikely(x)
#define container_of(ptr, type, member) gpuvm_container_of(ptr, type, member)

#define GPUVM_RET_IP ((const void *)__builtin_return_address(0))

/*
 * Everything that makes a hot path slow when asked for, in one word: the
 * checker (GPUVM_DEBUG), an installed schedule explorer, an armed fault
 * injection. With all off, an allocation or a mutex operation tests this
 * word once and goes straight to malloc or the lock word.
 */
#define GPUVM_SLOW_DEBUG (1u << 0)
#define GPUVM_SLOW_SCHED (1u << 1)
#define GPUVM_SLOW_FAULT (1u << 2)
extern unsigned int gpuvm_slow__;

static inline unsigned int gpuvm_slow(void)
{
	return __atomic_load_n(&gpuvm_slow__, __ATOMIC_RELAXED);
}

static inline void gpuvm_slow_set(unsigned int bit, bool on)
{
	if (on)
		__atomic_fetch_or(&gpuvm_slow__, bit, __ATOMIC_RELAXED);
	else
		__atomic_fetch_and(&gpuvm_slow__, ~bit, __ATOMIC_RELAXED);
}

/* The checker or the explorer is on: locks and references take their
 * checked paths. */
static inline bool gpuvm_checked_path(void)
{
	return unlikely(gpuvm_slow() & (GPUVM_SLOW_DEBUG | GPUVM_SLOW_SCHED));
}

/* The checker switch, read on every hook: one predictable branch. */
static inline bool gpuvm_debug_active(void)
{
	return gpuvm_slow() & GPUVM_SLOW_DEBUG;
}

/*
 * ThreadSanitizer cannot see the ordering liburcu creates inside its
 * uninstrumented library (RCU grace periods, its lock-free stack): tell it
 * with these. They compile to nothing outside TSan builds.
 */
#if defined(__SANITIZE_THREAD__)
#define GPUVM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GPUVM_TSAN 1
#endif
#endif
#ifdef GPUVM_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define tsan_acquire(addr) __tsan_acquire(addr)
#define tsan_release(addr) __tsan_release(addr)
#else
#define tsan_acquire(addr) ((void)(addr))
#define tsan_release(addr) ((void)(addr))
#endif

/*
 * Test knobs (testing.h). Only the internal static library the project's
 * tests link is built with GPUVM_TEST_KNOBS; in the installed library the
 * query is a constant false and the broken variants compile away.
 */
#ifdef GPUVM_TEST_KNOBS
extern unsigned int gpuvm_test_knobs__;

static inline bool gpuvm_knob(enum gpuvm_debug_knob knob)
{
	return __atomic_load_n(&gpuvm_test_knobs__, __ATOMIC_RELAXED) &
	       (1u << knob);
}
#else
static inline bool gpuvm_knob(enum gpuvm_debug_knob knob)
{
	(void)knob;
	return false;
}
#endif

/* Whether the knobs exist in this build (a constant). */
static inline bool gpuvm_knobs_built(void)
{
#ifdef GPUVM_TEST_KNOBS
	return true;
#else
	return false;
#endif
}

/*
 * Schedule exploration (testing.h). Set while an explorer is installed;
 * without one every point below is a single predictable branch.
 */
void gpuvm_sched_point__(enum gpuvm_sched_event ev, const void *obj);
bool gpuvm_sched_managed__(void);
void gpuvm_sched_block__(const void *wait_obj);
void gpuvm_sched_wake__(const void *wait_obj);

static inline bool gpuvm_sched_active(void)
{
	return unlikely(gpuvm_slow() & GPUVM_SLOW_SCHED);
}

static inline void gpuvm_sched_point(enum gpuvm_sched_event ev, const void *obj)
{
	if (gpuvm_sched_active())
		gpuvm_sched_point__(ev, obj);
}

static inline void gpuvm_sched_wake(const void *wait_obj)
{
	if (gpuvm_sched_active())
		gpuvm_sched_wake__(wait_obj);
}

/* Whether the calling thread's waits go through the explorer. */
static inline bool gpuvm_sched_managed(void)
{
	return gpuvm_sched_active() && gpuvm_sched_managed__();
}

/* Whether this build keeps the allocator's per-thread block cache (not
 * under ASan or TSan; see alloc_internal.h). */
bool gpuvm_alloc_cache_built__(void);

/* Where @ip is: "function+offset", or "module+offset (address)". */
void gpuvm_format_site(char *buf, size_t len, const void *ip);

/* Where the calling thread took @map (NULL: not held or not tracked). */
const void *gpuvm_lock_held_site(const struct gpuvm_lockdep_map *map);

/* (Re)read GPUVM_DEBUG and GPUVM_WARN; run at load, and by tests. */
void gpuvm_debug_read_environment__(void);

#endif /* GPUVM_INTERNAL_H */
