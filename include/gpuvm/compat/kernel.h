/* SPDX-License-Identifier: MIT */
/*
 * The kernel basics that driver files use, over libgpuvm: types, the
 * allocator, error pointers, WARN_ON, lockdep_assert_held and a few
 * macros. Opt-in, hand-written, and independent of <gpuvm/compat/drm.h>
 * (the two can be included in either order).
 *
 * These are plain function-like or object-like macros with the kernel's
 * names (min, max, BIT, likely, ...): they take over every identifier so
 * spelled in the including file.
 */
#ifndef GPUVM_COMPAT_KERNEL_H
#define GPUVM_COMPAT_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gpuvm/gpuvm.h>

/* Types, as the kernel defines them (u64 is unsigned long long). */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;

/* Allocation (over gpuvm_kmalloc(): counted, poisoned, fault-injectable). */
typedef gpuvm_gfp_t gfp_t;
#define GFP_KERNEL GPUVM_GFP_KERNEL
#define GFP_NOWAIT GPUVM_GFP_NOWAIT
#define __GFP_ZERO GPUVM_GFP_ZERO
#define kmalloc(size, gfp) gpuvm_kmalloc((size), (gfp))
#define kzalloc(size, gfp) gpuvm_kzalloc((size), (gfp))
#define kmalloc_array(n, size, gfp) gpuvm_kmalloc_array((n), (size), (gfp))
#define kcalloc(n, size, gfp) gpuvm_kcalloc((n), (size), (gfp))
#define kfree(ptr) gpuvm_kfree(ptr)

/* Error pointers (the same definitions as <gpuvm/compat/drm.h>). */
#define ERR_PTR(e) gpuvm_err_ptr(e)
#define PTR_ERR(p) gpuvm_ptr_err(p)
#define IS_ERR(p) gpuvm_is_err(p)
#define IS_ERR_OR_NULL(p) gpuvm_is_err_or_null(p)
#define PTR_ERR_OR_ZERO(p) gpuvm_ptr_err_or_zero(p)

/* Pages. */
#define PAGE_SHIFT 12
#define PAGE_SIZE ((unsigned long)GPUVM_PAGE_SIZE)
#define PAGE_MASK (~(PAGE_SIZE - 1))

/* Helpers. */
#define container_of(ptr, type, member) gpuvm_container_of(ptr, type, member)
#define ARRAY_SIZE(arr) (sizeof(arr) / sizeof((arr)[0]))
#define BIT(nr) (1UL << (nr))
#define BIT_ULL(nr) (1ULL << (nr))
#define likely(x) gpuvm_likely(x)
#define unlikely(x) gpuvm_unlikely(x)
#define EXPORT_SYMBOL(sym)
#define EXPORT_SYMBOL_GPL(sym)

/*
 * min() and max() evaluate each argument once and, like the kernel's
 * older definitions, insist on one type (a mismatch is a warning about
 * comparing distinct pointer types); min_t() and max_t() convert first.
 */
#define GPUVM_COMPAT_PASTE__(a, b) a##b
#define GPUVM_COMPAT_ID__(prefix, n) GPUVM_COMPAT_PASTE__(prefix, n)
#define GPUVM_COMPAT_CMP__(x, y, op, X, Y) \
	__extension__({                    \
		__typeof__(x) X = (x);     \
		__typeof__(y) Y = (y);     \
		(void)(&X == &Y);          \
		X op Y ? X : Y;            \
	})
#define min(x, y)                                                        \
	GPUVM_COMPAT_CMP__(x, y, <,                                      \
			   GPUVM_COMPAT_ID__(gpuvm_min_x_, __COUNTER__), \
			   GPUVM_COMPAT_ID__(gpuvm_min_y_, __COUNTER__))
#define max(x, y)                                                        \
	GPUVM_COMPAT_CMP__(x, y, >,                                      \
			   GPUVM_COMPAT_ID__(gpuvm_max_x_, __COUNTER__), \
			   GPUVM_COMPAT_ID__(gpuvm_max_y_, __COUNTER__))
#define min_t(type, x, y) min((type)(x), (type)(y))
#define max_t(type, x, y) max((type)(x), (type)(y))

/*
 * WARN_ON() reports through gpuvm_warn() (rule "kernel-warn-on", so the
 * GPUVM_WARN setting and a test's handler apply) and, as in the kernel,
 * evaluates to the condition.
 */
#define GPUVM_COMPAT_RULE_WARN_ON "kernel-warn-on"

static inline bool gpuvm_compat_warn_on__(bool cond, const char *what,
					  const char *func, const char *file,
					  int line)
{
	if (gpuvm_unlikely(cond))
		gpuvm_warn(GPUVM_COMPAT_RULE_WARN_ON,
			   "%s: WARN_ON(%s) at %s:%d", func, what, file, line);
	return cond;
}

#define WARN_ON(condition)                                                    \
	gpuvm_compat_warn_on__(!!(condition), #condition, __func__, __FILE__, \
			       __LINE__)

/*
 * lockdep_assert_held() over the debug checker: @l is any libgpuvm lock
 * (a gpuvm_mutex, a ww_mutex, ...), that is anything with a dep_map, as
 * in the kernel. Reports GPUVM_RULE_LOCK_NOT_HELD naming the caller.
 */
#define lockdep_assert_held(l) gpuvm_lock_assert_held(&(l)->dep_map, __func__)
#define lockdep_assert_not_held(l) \
	gpuvm_lock_assert_not_held(&(l)->dep_map, __func__)

#endif /* GPUVM_COMPAT_KERNEL_H */
