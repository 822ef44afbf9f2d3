/* SPDX-License-Identifier: MIT */
/*
 * Fixture for the device, devres and shmem tests (header only).
 *
 * dev_test(fn) wraps the harness: besides the harness checks (no leaked
 * allocation, no lock held, no unexpected warning), teardown fails the
 * test when the process-wide count of live DMA mappings differs from the
 * one at setup, and it resets the hook points and test knobs so that a
 * failed test cannot park the next one.
 *
 * Worker threads record, the main thread asserts; dev_wait_flag() is the
 * handshake between them (spins with sched_yield, no sleeps).
 */
#ifndef GPUVM_TEST_DEVICE_FIXTURE_H
#define GPUVM_TEST_DEVICE_FIXTURE_H

#include <pthread.h>
#include <sched.h>
#include <stdio.h>

#include <gpuvm/testing.h>
#include "device_internal.h"
#include "harness.h"
#include "rcu_internal.h"

static long dev_dma_live_at_setup;

static inline int dev_setup(void **state)
{
	gpuvm_hook_reset();
	gpuvm_gem_shmem_set_release_first(false);
	dev_dma_live_at_setup = gpuvm_dma_mappings_live();
	return harness_setup(state);
}

static inline int dev_teardown(void **state)
{
	long dma;
	int ret;

	gpuvm_hook_reset();
	gpuvm_gem_shmem_set_release_first(false);
	/* Anything freed after a grace period is freed by now. */
	gpuvm_rcu_barrier();
	dma = gpuvm_dma_mappings_live() - dev_dma_live_at_setup;
	if (dma)
		fprintf(stderr, "DMA registry: %ld mapping(s) left\n", dma);
	ret = harness_teardown(state);
	return (ret || dma) ? -1 : 0;
}

#define dev_test(fn) \
	cmocka_unit_test_setup_teardown(fn, dev_setup, dev_teardown)

static inline void dev_set_flag(int *flag)
{
	__atomic_store_n(flag, 1, __ATOMIC_RELEASE);
}

static inline bool dev_flag(int *flag)
{
	return __atomic_load_n(flag, __ATOMIC_ACQUIRE) != 0;
}

static inline void dev_wait_flag(int *flag)
{
	while (!dev_flag(flag))
		sched_yield();
}

static inline pthread_t dev_start(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
	return t;
}

static inline void dev_join(pthread_t t)
{
	assert_int_equal(pthread_join(t, NULL), 0);
}

/* A process-wide sequence number to order events seen by threads. */
static unsigned int dev_seq;

static inline unsigned int dev_next_seq(void)
{
	return __atomic_add_fetch(&dev_seq, 1, __ATOMIC_ACQ_REL);
}

#endif /* GPUVM_TEST_DEVICE_FIXTURE_H */
