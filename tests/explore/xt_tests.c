// SPDX-License-Identifier: MIT
/* The registry of explored tests (gpuvm-explore --list). */
#include <stdio.h>
#include <stdlib.h>

#include "xt_common.h"

#define XT_MAX_TESTS 64

const struct xp_test *xt_tests[XT_MAX_TESTS + 1];
static unsigned int nr_tests;

void xt_register(const struct xp_test *t)
{
	if (nr_tests == XT_MAX_TESTS) {
		fprintf(stderr, "gpuvm-explore: more than %d tests\n",
			XT_MAX_TESTS);
		abort();
	}
	xt_tests[nr_tests++] = t;
}
