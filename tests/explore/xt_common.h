/* SPDX-License-Identifier: MIT */
/*
 * What the explored tests share. They drive the scenario harness's driver
 * (tests/scenario/gpuvm_scenario.h: the Rust abstraction's calls, with the
 * broken designs of its knobs), and the library's own knobs.
 */
#ifndef GPUVM_XT_COMMON_H
#define GPUVM_XT_COMMON_H

#include <stdbool.h>

#include <gpuvm/gpuvm.h>

#include "explore.h"
#include "gpuvm_scenario.h"

/*
 * Call first in a test's setup and last in its teardown: the end checks
 * that every VM, GEM object, vm_bo, VA and device of the run is gone
 * (failing the run otherwise), then frees the objects the scenario
 * harness kept poisoned to catch uses after free.
 */
void xt_begin(void);
void xt_end(void);

/*
 * GpuVm::new of the scenario harness's reference driver (IMMEDIATE |
 * RESV_PROTECTED) over [0, 2^32), with a resv of its own: the VM most
 * explored tests use. Returns the unique handle's reference.
 */
struct scn_vm *xt_vm_new(void);

/* Whether the knob named @name was given to the runner (--knob). */
bool xt_knob(const char *name);

/* Register @t (the XT_REGISTER() of each test file does). */
void xt_register(const struct xp_test *t);

/* Register the explored test @t at program start. */
#define XT_REGISTER(t)                                                 \
	static void __attribute__((constructor)) xt_register_##t(void) \
	{                                                              \
		xt_register(&(t));                                     \
	}

/* Every registered test, NULL-terminated, in registration order. */
extern const struct xp_test *xt_tests[];

#endif /* GPUVM_XT_COMMON_H */
