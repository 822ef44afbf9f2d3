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
#include <gpuvm/rcu.h>
#include <gpuvm/ww_mutex.h>
#include <gpuvm/dma_fence.h>
#include <gpuvm/dma_resv.h>
#include <gpuvm/gem.h>
#include <gpuvm/exec.h>
#include <gpuvm/va.h>
#include <gpuvm/vm.h>
#include <gpuvm/dump.h>
#include <gpuvm/ops.h>
#include <gpuvm/device.h>
#include <gpuvm/shmem.h>
#include <gpuvm/testing.h>

#endif /* GPUVM_GPUVM_H */
