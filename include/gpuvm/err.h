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

/**
 * gpuvm_err_ptr() - encode a negative errno as an error pointer
 * @error: -GPUVM_MAX_ERRNO .. -1
 *
 * Context: any; pure, does not allocate.
 * Return: @error as a pointer that gpuvm_is_err() recognises. A value
 * outside -GPUVM_MAX_ERRNO .. -1 gives a pointer it does not recognise.
 */
static inline void *gpuvm_err_ptr(long error)
{
	return (void *)(intptr_t)error;
}

/**
 * gpuvm_ptr_err() - decode an error pointer
 * @ptr: a pointer for which gpuvm_is_err() is true
 *
 * Context: any; pure.
 * Return: the negative errno stored in @ptr; for any other pointer, its
 * address as a long (meaningless as an error).
 */
static inline long gpuvm_ptr_err(const void *ptr)
{
	return (long)(intptr_t)ptr;
}

/**
 * gpuvm_is_err_value() - whether an address lies in the error range
 * @x: the address as an integer
 *
 * Context: any; pure.
 * Return: true when @x is one of the top GPUVM_MAX_ERRNO values.
 */
static inline bool gpuvm_is_err_value(uintptr_t x)
{
	return gpuvm_unlikely(x >= (uintptr_t)-GPUVM_MAX_ERRNO);
}

/**
 * gpuvm_is_err() - whether @ptr is an error pointer
 * @ptr: any pointer, NULL included
 *
 * Context: any; pure.
 * Return: true for an error pointer, false for NULL and valid pointers.
 */
static inline bool gpuvm_is_err(const void *ptr)
{
	return gpuvm_is_err_value((uintptr_t)ptr);
}

/**
 * gpuvm_is_err_or_null() - whether @ptr is NULL or an error pointer
 * @ptr: any pointer
 *
 * Context: any; pure.
 * Return: true for NULL and for error pointers.
 */
static inline bool gpuvm_is_err_or_null(const void *ptr)
{
	return gpuvm_unlikely(!ptr) || gpuvm_is_err(ptr);
}

/**
 * gpuvm_ptr_err_or_zero() - the errno of an error pointer, else 0
 * @ptr: any pointer
 *
 * Context: any; pure.
 * Return: the negative errno for an error pointer; 0 for NULL and valid
 * pointers.
 */
static inline int gpuvm_ptr_err_or_zero(const void *ptr)
{
	return gpuvm_is_err(ptr) ? (int)gpuvm_ptr_err(ptr) : 0;
}

GPUVM_END_DECLS

#endif /* GPUVM_ERR_H */
