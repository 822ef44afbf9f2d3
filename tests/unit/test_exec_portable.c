// SPDX-License-Identifier: MIT
/* The exec tests again, with the strictly standard loop construct. */
#define GPUVM_EXEC_PORTABLE_LOOP 1
#include "test_exec.c"
