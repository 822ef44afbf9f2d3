/* SPDX-License-Identifier: MIT */
/*
 * Small shared definitions for every libgpuvm header: the export macro,
 * branch hints and container_of.
 */
#ifndef GPUVM_COMMON_H
#define GPUVM_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#if defined(GPUVM_BUILDING_LIBRARY)
#define GPUVM_EXPORT __attribute__((visibility("default")))
#else
#define GPUVM_EXPORT
#endif

#ifdef __cplusplus
#define GPUVM_BEGIN_DECLS extern "C" {
#define GPUVM_END_DECLS }
#else
#define GPUVM_BEGIN_DECLS
#define GPUVM_END_DECLS
#endif

#define gpuvm_likely(x) __builtin_expect(!!(x), 1)
#define gpuvm_unlikely(x) __builtin_expect(!!(x), 0)

#define GPUVM_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/**
 * gpuvm_container_of() - the structure that embeds @ptr as @member
 */
#define gpuvm_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif /* GPUVM_COMMON_H */
