/* SPDX-License-Identifier: MIT */
/*
 * The seed of a randomised test, printed so that a failing run can be
 * replayed with GPUVM_TEST_SEED.
 */
#ifndef GPUVM_TEST_SEED_H
#define GPUVM_TEST_SEED_H

#include <stdint.h>

/*
 * GPUVM_TEST_SEED when set, else one derived from the clock; never 0, so
 * it can seed a xorshift generator directly. Prints it as a TAP comment.
 */
uint64_t harness_seed(void);

#endif /* GPUVM_TEST_SEED_H */
