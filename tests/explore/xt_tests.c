// SPDX-License-Identifier: MIT
/* The registry of explored tests (gpuvm-explore --list). */
#include "xt_common.h"

extern const struct xp_test xt_defer_cleanup_obtain;

const struct xp_test *const xt_tests[] = {
	&xt_defer_cleanup_obtain,
	NULL,
};
