/* SPDX-License-Identifier: MIT */
/*
 * Shared test fixture for every libgpuvm test.
 *
 * harness_setup() records the allocator's live count and routes warnings
 * into the shared recorder (warn_recorder.h; the harness_*_warning*()
 * functions below wrap it); harness_teardown() fails the test when an
 * allocation leaked, a lock is still held, or a warning fired that the
 * test did not take with harness_take_warnings().
 */
#ifndef GPUVM_TEST_HARNESS_H
#define GPUVM_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gpuvm/gpuvm.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

int harness_setup(void **state);
int harness_teardown(void **state);

/* Warnings recorded and not yet taken whose rule is @rule (NULL: any). */
unsigned int harness_warnings(const char *rule);

/* Like harness_warnings(), and forget them so teardown does not fail. */
unsigned int harness_take_warnings(const char *rule);

/* Message of the newest recorded warning with @rule, or "" if none. */
const char *harness_last_warning(const char *rule);

/* Forget every recorded warning. */
void harness_clear_warnings(void);

/* Install the recording warn handler (done by harness_setup()). */
void harness_record_warnings(void);

#define harness_test(fn) \
	cmocka_unit_test_setup_teardown(fn, harness_setup, harness_teardown)

/*
 * Run a group; an optional first argument is a test-name filter (glob),
 * so `meson test` or a developer can run one case.
 */
#define harness_run(group, tests, argc, argv) \
	(harness_apply_filter(argc, argv),    \
	 _cmocka_run_group_tests(group, tests, ARRAY_SIZE(tests), NULL, NULL))

void harness_apply_filter(int argc, char **argv);

/* Start @n threads running @fn(i, arg) and join them all. */
void harness_run_threads(unsigned int n, void (*fn)(unsigned int i, void *arg),
			 void *arg);

#endif /* GPUVM_TEST_HARNESS_H */
