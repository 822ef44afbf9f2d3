// SPDX-License-Identifier: MIT
/*
 * The GPUVM review scenarios that need more than one thread, run against
 * the reference driver. Interleavings are fixed with hook points (parked
 * threads released by the main thread), never with sleeps; S-GV-03 and
 * S-GV-15 are free-running stress loops whose observables are collected by
 * the workers and asserted on the main thread.
 */
#include "scn_test.h"

SCN_TEST(test_S_GV_02_last_gem_ref_held_by_vm_bo, "S-GV-02")
SCN_TEST(test_S_GV_02_publish_before_unlock_reported, "S-GV-02-publish-locked")
SCN_TEST(test_S_GV_03_one_gem_two_vms, "S-GV-03")
SCN_TEST(test_S_GV_07_extobj_add_by_finder, "S-GV-07")
SCN_TEST(test_S_GV_07_extobj_add_creator_only_reported, "S-GV-07-creator-only")
SCN_TEST(test_S_GV_15_driver_data_across_threads, "S-GV-15")
SCN_TEST(test_S_GV_19_no_free_under_resv, "S-GV-19")
SCN_TEST(test_S_GV_20_device_outlives_vm, "S-GV-20")
SCN_TEST(test_S_GV_20_vm_without_device_ref_reported, "S-GV-20-no-device-ref")

/* The fixed design learns no gpuva -> resv order. */
static void test_S_GV_04_concurrent_obtain_free_outside_gpuva(void **state)
{
	struct scn_result r;

	(void)state;
	scn_test_run("S-GV-04", &r);
	assert_int_equal(scn_get_note(&r, "gpuva->resv edge"), 0);
	assert_int_equal(scn_get_note(&r, "frees under gpuva"), 0);
}

/* The pre-fix order: the reference hook takes the resv under the gpuva
 * mutex, the checker learns gpuva -> resv and reports the cycle. */
static void test_S_GV_04_free_under_gpuva_reported(void **state)
{
	struct scn_result r;

	(void)state;
	scn_test_run("S-GV-04-free-locked", &r);
	assert_int_equal(scn_get_note(&r, "gpuva->resv edge"), 1);
	assert_int_equal(scn_get_note(&r, "frees under gpuva"), 1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_S_GV_02_last_gem_ref_held_by_vm_bo),
		harness_test(test_S_GV_02_publish_before_unlock_reported),
		harness_test(test_S_GV_03_one_gem_two_vms),
		harness_test(test_S_GV_04_concurrent_obtain_free_outside_gpuva),
		harness_test(test_S_GV_04_free_under_gpuva_reported),
		harness_test(test_S_GV_07_extobj_add_by_finder),
		harness_test(test_S_GV_07_extobj_add_creator_only_reported),
		harness_test(test_S_GV_15_driver_data_across_threads),
		harness_test(test_S_GV_19_no_free_under_resv),
		harness_test(test_S_GV_20_device_outlives_vm),
		harness_test(test_S_GV_20_vm_without_device_ref_reported),
	};

	return harness_run("gpuvm/scenario-threads", tests, argc, argv);
}
