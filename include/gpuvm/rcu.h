/* SPDX-License-Identifier: MIT */
/*
 * RCU, as libgpuvm uses it: liburcu's urcu-memb flavour. The library
 * registers every thread that needs it by itself; only an application
 * that uses urcu-memb on its own has something to do (see below).
 */
#ifndef GPUVM_RCU_H
#define GPUVM_RCU_H

#include <gpuvm/common.h>

GPUVM_BEGIN_DECLS

/**
 * struct gpuvm_rcu_head - deferred-free hook, freed after a grace period
 * @urcu_: opaque storage for liburcu's struct rcu_head (private)
 * @func: the callback the library runs after the grace period (private)
 *
 * Embedded in objects that are freed through RCU (fences, devres); the
 * library fills it in.
 */
struct gpuvm_rcu_head {
	void *urcu_[2];
	void (*func)(struct gpuvm_rcu_head *head);
};

/**
 * gpuvm_rcu_external_thread() - the calling thread is registered with
 * liburcu's urcu-memb flavour by the application
 *
 * libgpuvm will then neither register nor unregister it. Call before the
 * thread's first libgpuvm call; the application unregisters the thread.
 *
 * Context: any thread, outside a read-side section. Does not allocate.
 */
GPUVM_EXPORT void gpuvm_rcu_external_thread(void);

GPUVM_END_DECLS

#endif /* GPUVM_RCU_H */
