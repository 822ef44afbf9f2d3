// SPDX-License-Identifier: MIT
// The umbrella header must be usable from C++.
#include <cstdio>

#include <gpuvm/gpuvm.h>

int main()
{
	gpuvm_list_head head = GPUVM_LIST_HEAD_INIT(head);

	std::printf("1..1\n%s 1 - C++ includes <gpuvm/gpuvm.h>\n",
		    gpuvm_list_empty(&head) ? "ok" : "not ok");
	return 0;
}
