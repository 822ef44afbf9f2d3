// SPDX-License-Identifier: MIT
/* The public headers are clean under -std=c11 -pedantic-errors. */
#include <stdio.h>

#include <gpuvm/gpuvm.h>

int main(void)
{
	printf("1..1\nok 1 - <gpuvm/gpuvm.h> is strict C11\n");
	return gpuvm_is_err(NULL);
}
