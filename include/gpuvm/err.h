/* SPDX-License-Identifier: MIT */
/*
 * Error pointers, as the kernel's ERR_PTR family.
 *
 * Functions return 0 or a negative errno; functions that return a pointer
 * return NULL where the kernel function returns NULL and an error pointer
 * where it returns ERR_PTR. An error pointer encodes -errno in the top 4095
 * values of the address space, which no object can occupy on the platforms
 * libgpuvm supports.
 */
#ifndef GPUVM_ERR_H
#define GPUVM_ERR_H

#include <errno.h>

#include <gpuvm/common.h>

GPUVM_BEGIN_DECLS

#define GPUVM_MAX_ERRNO 4095

static inline void *gpuvm_err_ptr(long error)
{
	return (void *)(intptr_t)error;
}

static inline long gpuvm_ptr_err(const void *ptr)
{
	return (long)(intptr_t)ptr;
}

static inline bool gpuvm_is_err_value(uintptr_t x)
{
	return gpuvm_unlikely(x >= (uintptr_t)-GPUVM_MAX_ERRNO);
}

static inline bool gpuvm_is_err(const void *ptr)
{
	return gpuvm_is_err_value((uintptr_t)ptr);
}

static inline bool gpuvm_is_err_or_null(const void *ptr)
{
	return gpuvm_unlikely(!ptr) || gpuvm_is_err(ptr);
}

/* 0 for a valid pointer, the negative errno for an error pointer. */
static inline int gpuvm_ptr_err_or_zero(const void *ptr)
{
	return gpuvm_is_err(ptr) ? (int)gpuvm_ptr_err(ptr) : 0;
}

GPUVM_END_DECLS

#endif /* GPUVM_ERR_H */
