/* SPDX-License-Identifier: MIT */
/* Umbrella header: everything libgpuvm offers. */
#ifndef GPUVM_GPUVM_H
#define GPUVM_GPUVM_H

#include <gpuvm/version.h>
#include <gpuvm/common.h>
#include <gpuvm/err.h>
#include <gpuvm/list.h>
#include <gpuvm/alloc.h>
#include <gpuvm/debug.h>
#include <gpuvm/mutex.h>

#endif /* GPUVM_GPUVM_H */
