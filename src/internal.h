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

#define likely(x) gpuvm_likely(x)
#define unlikely(x) gpuvm_unlikely(x)
#define container_of(ptr, type, member) gpuvm_container_of(ptr, type, member)

#define GPUVM_RET_IP ((const void *)__builtin_return_address(0))

/* The checker switch, read on every hook: one predictable branch. */
extern bool gpuvm_debug_on__;

static inline bool gpuvm_debug_active(void)
{
	return __atomic_load_n(&gpuvm_debug_on__, __ATOMIC_RELAXED);
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

/* (Re)read GPUVM_DEBUG and GPUVM_WARN; run at load, and by tests. */
void gpuvm_debug_read_environment__(void);

#endif /* GPUVM_INTERNAL_H */
