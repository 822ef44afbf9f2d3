/* SPDX-License-Identifier: MIT */
/*
 * Running a scenario of gv_scenarios.c as a CMocka test: the scenario runs
 * against the reference driver with its own warning recorder; the test
 * then re-installs the harness's recorder and asserts that every check of
 * the scenario passed.
 */
#ifndef GPUVM_SCN_TEST_H
#define GPUVM_SCN_TEST_H

#include <stdio.h>
#include <stdlib.h>

#include "gpuvm_scenario.h"
#include "harness.h"

static inline void scn_test_run(const char *id, struct scn_result *r)
{
	const struct scn_scenario *s = scn_find(id);
	int ret;

	assert_non_null(s);
	ret = scn_run(s, &scn_reference_driver, r);
	harness_record_warnings();
	if (ret || getenv("SCN_VERBOSE"))
		scn_print_result(r, true, stderr);
	assert_int_equal(r->failures, 0);
	assert_true(r->checks > 0);
}

#define SCN_TEST(fn, id)              \
	static void fn(void **state)  \
	{                             \
		struct scn_result r;  \
		(void)state;          \
		scn_test_run(id, &r); \
	}

#endif /* GPUVM_SCN_TEST_H */
