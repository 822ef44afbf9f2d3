/* SPDX-License-Identifier: MIT */
/*
 * Reference counts with the kernel's refcount_t contract, for every
 * reference-counted libgpuvm object (private to the library).
 *
 * The count is a plain int accessed with atomics. Misuse never frees
 * twice: an increment from zero (a use after free) or a decrement below
 * zero is reported and the count is parked at a saturated negative value,
 * so the object leaks instead of being released again. The decrement that
 * reaches zero has acquire ordering and every decrement release
 * ordering, so the releasing thread sees all writes made under earlier
 * references.
 */
#ifndef GPUVM_KREF_H
#define GPUVM_KREF_H

#include <limits.h>

#include "internal.h"

#define GPUVM_KREF_SATURATED (INT_MIN / 2)

static inline void gpuvm_kref_init(int *ref)
{
	__atomic_store_n(ref, 1, __ATOMIC_RELAXED);
}

static inline int gpuvm_kref_read(const int *ref)
{
	return __atomic_load_n(ref, __ATOMIC_RELAXED);
}

static inline void gpuvm_kref_saturate__(int *ref)
{
	__atomic_store_n(ref, GPUVM_KREF_SATURATED, __ATOMIC_RELAXED);
}

/*
 * Freed memory holds GPUVM_POISON_INT (negative, so only the slow paths
 * below can see it): report the use after free and put the poison back,
 * so the next access is recognised as well.
 */
static inline bool gpuvm_kref_poisoned__(int *ref, int old, const char *func)
{
	if (old != GPUVM_POISON_INT)
		return false;
	__atomic_store_n(ref, GPUVM_POISON_INT, __ATOMIC_RELAXED);
	gpuvm_warn(GPUVM_RULE_USE_AFTER_FREE,
		   "%s: the object was already freed (its reference count "
		   "reads the free poison)",
		   func);
	return true;
}

/*
 * For API entry points that read other fields before the count: whether
 * the object was freed (reported, naming @func). One load and a branch.
 */
static inline bool gpuvm_kref_freed(const int *ref, const char *func)
{
	if (likely(__atomic_load_n(ref, __ATOMIC_RELAXED) != GPUVM_POISON_INT))
		return false;
	gpuvm_warn(GPUVM_RULE_USE_AFTER_FREE,
		   "%s: the object was already freed (its reference count "
		   "reads the free poison)",
		   func);
	return true;
}

/* The misuse half of gpuvm_kref_get(): kept out of line, so the common
 * increment needs no stack frame in its callers. */
static __attribute__((noinline, cold, unused)) void
gpuvm_kref_get_misuse__(int *ref, int old, const char *func)
{
	if (gpuvm_kref_poisoned__(ref, old, func))
		return;
	gpuvm_kref_saturate__(ref);
	if (old == 0)
		gpuvm_warn(GPUVM_RULE_REFCOUNT_GET_ZERO,
			   "%s: reference count incremented from zero "
			   "(use after free); object leaked",
			   func);
	else
		gpuvm_warn(GPUVM_RULE_REFCOUNT_OVERFLOW,
			   "%s: reference count saturated; object leaked",
			   func);
}

/* Take a reference; @func names the public caller in reports. */
static inline void gpuvm_kref_get(int *ref, const char *func)
{
	int old = __atomic_fetch_add(ref, 1, __ATOMIC_RELAXED);

	if (unlikely(old <= 0 || old == INT_MAX))
		gpuvm_kref_get_misuse__(ref, old, func);
}

/* Take a reference unless the count already dropped to zero. */
static inline bool gpuvm_kref_get_unless_zero(int *ref)
{
	int old = __atomic_load_n(ref, __ATOMIC_RELAXED);

	do {
		if (old == 0)
			return false;
		if (unlikely(old == GPUVM_POISON_INT)) {
			gpuvm_kref_poisoned__(ref, old,
					      "gpuvm_kref_get_unless_zero");
			return false;
		}
		if (unlikely(old < 0 || old == INT_MAX))
			return true; /* saturated: stays so, never freed */
	} while (!__atomic_compare_exchange_n(
		ref, &old, old + 1, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return true;
}

/*
 * Drop a reference unless it is the last one. Return: false (nothing
 * dropped) when the caller holds the last reference, or may: the caller
 * then takes what a final put needs and calls gpuvm_kref_put().
 */
static inline bool gpuvm_kref_put_unless_last(int *ref)
{
	int old = __atomic_load_n(ref, __ATOMIC_RELAXED);

	do {
		if (old <= 1)
			return false; /* last, or misuse: the slow path sees it */
	} while (!__atomic_compare_exchange_n(
		ref, &old, old - 1, true, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
	return true;
}

/* The misuse half of gpuvm_kref_put(), out of line as for get. */
static __attribute__((noinline, cold, unused)) void
gpuvm_kref_put_misuse__(int *ref, int old, const char *func)
{
	if (gpuvm_kref_poisoned__(ref, old, func))
		return;
	gpuvm_kref_saturate__(ref);
	gpuvm_warn(GPUVM_RULE_REFCOUNT_UNDERFLOW,
		   "%s: reference count underflow (put without a "
		   "reference); object leaked",
		   func);
}

/*
 * Drop a reference. Return: true when this was the last one and the
 * caller must release the object.
 */
static inline bool gpuvm_kref_put(int *ref, const char *func)
{
	/* acq_rel rather than release plus an acquire fence on the last
	 * put: same guarantee, and ThreadSanitizer understands it. */
	int old = __atomic_fetch_sub(ref, 1, __ATOMIC_ACQ_REL);

	if (old == 1)
		return true;
	if (unlikely(old <= 0))
		gpuvm_kref_put_misuse__(ref, old, func);
	return false;
}

#endif /* GPUVM_KREF_H */
