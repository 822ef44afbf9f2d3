// SPDX-License-Identifier: MIT
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "seed.h"

uint64_t harness_seed(void)
{
	const char *env = getenv("GPUVM_TEST_SEED");
	uint64_t seed;

	seed = env ? strtoull(env, NULL, 0) :
		     (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
	/* A zero xorshift state stays zero forever. */
	if (!seed)
		seed = 1;
	printf("# seed %" PRIu64 " (GPUVM_TEST_SEED=%" PRIu64 " replays)\n",
	       seed, seed);
	return seed;
}
