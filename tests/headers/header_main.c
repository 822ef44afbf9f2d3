// SPDX-License-Identifier: MIT
/* Links every generated single-header translation unit. */
#include <stdio.h>

int main(void)
{
	/* Reaching here means every public header compiled on its own. */
	printf("1..1\nok 1 - every public header compiles on its own\n");
	return 0;
}
