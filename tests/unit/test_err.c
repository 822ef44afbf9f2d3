// SPDX-License-Identifier: MIT
#include "harness.h"

static void test_err_ptr_round_trip(void **state)
{
	void *p = gpuvm_err_ptr(-ENOMEM);

	assert_true(gpuvm_is_err(p));
	assert_int_equal(gpuvm_ptr_err(p), -ENOMEM);
	assert_int_equal(gpuvm_ptr_err_or_zero(p), -ENOMEM);
}

static void test_err_boundaries(void **state)
{
	int object;

	assert_true(gpuvm_is_err(gpuvm_err_ptr(-1)));
	assert_true(gpuvm_is_err(gpuvm_err_ptr(-GPUVM_MAX_ERRNO)));
	assert_false(gpuvm_is_err(gpuvm_err_ptr(-GPUVM_MAX_ERRNO - 1)));
	assert_false(gpuvm_is_err(NULL));
	assert_false(gpuvm_is_err(&object));
	assert_int_equal(gpuvm_ptr_err_or_zero(&object), 0);
}

static void test_err_or_null(void **state)
{
	int object;

	assert_true(gpuvm_is_err_or_null(NULL));
	assert_true(gpuvm_is_err_or_null(gpuvm_err_ptr(-EINVAL)));
	assert_false(gpuvm_is_err_or_null(&object));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_err_ptr_round_trip),
		harness_test(test_err_boundaries),
		harness_test(test_err_or_null),
	};

	return harness_run("gpuvm/err", tests, argc, argv);
}
