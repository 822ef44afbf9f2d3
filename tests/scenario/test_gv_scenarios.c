// SPDX-License-Identifier: MIT
/*
 * The single-threaded GPUVM review scenarios (rust-scenarios.md section 5),
 * run against the reference driver. Each test is named after its scenario;
 * a *_reported test drives the broken design of the scenario through a knob
 * and passes when the checker reports it by rule name (the rule is asserted
 * inside the scenario, see gv_scenarios.c). The threaded scenarios are in
 * test_gv_scenarios_threads.c.
 */
#include <string.h>

#include "scn_test.h"

/* Every scenario of the spec's index has an entry in the table. */
static void test_S_GV_index_complete(void **state)
{
	static const char *const ids[] = {
		"S-GV-01",  "S-GV-02",	"S-GV-03", "S-GV-04", "S-GV-05",
		"S-GV-06",  "S-GV-07",	"S-GV-08", "S-GV-09", "S-GV-10",
		"S-GV-11a", "S-GV-11b", "S-GV-12", "S-GV-13", "S-GV-14",
		"S-GV-15",  "S-GV-16",	"S-GV-17", "S-GV-18", "S-GV-19",
		"S-GV-20",  "S-GV-21",	"S-GV-22",
	};
	unsigned int i, j, misuse = 0;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(ids); i++)
		assert_non_null(scn_find(ids[i]));
	/* Each variant belongs to a scenario of the index. */
	for (i = 0; i < scn_nr_scenarios; i++) {
		bool found = false;

		if (!scn_scenarios[i].misuse)
			continue;
		misuse++;
		for (j = 0; j < ARRAY_SIZE(ids); j++)
			found |= !strncmp(scn_scenarios[i].id, ids[j],
					  strlen(ids[j]));
		assert_true(found);
	}
	assert_int_equal(scn_nr_scenarios, ARRAY_SIZE(ids) + misuse);
}

SCN_TEST(test_S_GV_01_drop_under_held_resv, "S-GV-01")
SCN_TEST(test_S_GV_01_naive_destructor_takes_resv_reported, "S-GV-01-naive")
SCN_TEST(test_S_GV_01_cleanup_under_vm_resv_reported, "S-GV-01-cleanup-held")
SCN_TEST(test_S_GV_02_sync_put_under_gem_mutex_reported, "S-GV-02-sync-put")
SCN_TEST(test_S_GV_03_mixed_mode_reported, "S-GV-03-mixed-mode")
SCN_TEST(test_S_GV_05_bind_inside_signalling, "S-GV-05")
SCN_TEST(test_S_GV_05_obtain_in_signalling_reported, "S-GV-05-obtain")
SCN_TEST(test_S_GV_05_sync_put_in_signalling_reported, "S-GV-05-sync-put")
SCN_TEST(test_S_GV_06_exec_lock_sees_new_extobj, "S-GV-06")
SCN_TEST(test_S_GV_06_extobj_in_map_reported, "S-GV-06-extobj-in-map")
SCN_TEST(test_S_GV_08_unused_prealloc_disposal, "S-GV-08")
SCN_TEST(test_S_GV_08_prealloc_drop_under_gpuva_reported, "S-GV-08-under-gpuva")
SCN_TEST(test_S_GV_09_data_initialised_before_free, "S-GV-09")
SCN_TEST(test_S_GV_09_init_after_create_reported, "S-GV-09-init-after-create")
SCN_TEST(test_S_GV_10_alloc_families_single_destructor, "S-GV-10")
SCN_TEST(test_S_GV_10_c_size_free_reported, "S-GV-10-c-size-free")
SCN_TEST(test_S_GV_11b_from_raw_checks, "S-GV-11b")
SCN_TEST(test_S_GV_11b_unchecked_from_raw_reported, "S-GV-11b-unchecked")
SCN_TEST(test_S_GV_12_unregistered_vm_bo_rejected, "S-GV-12")
SCN_TEST(test_S_GV_12_unregistered_map_reported, "S-GV-12-unregistered")
SCN_TEST(test_S_GV_13_foreign_vm_bo_einval, "S-GV-13")
SCN_TEST(test_S_GV_13_foreign_map_reported, "S-GV-13-foreign")
SCN_TEST(test_S_GV_14_init_over_poisoned_memory, "S-GV-14")
SCN_TEST(test_S_GV_16_obtain_with_vm_resv_refused, "S-GV-16")
SCN_TEST(test_S_GV_16_obtain_unchecked_reported, "S-GV-16-no-assert")
SCN_TEST(test_S_GV_17_vas_freed_at_once, "S-GV-17")
SCN_TEST(test_S_GV_18_teardown_drains, "S-GV-18")
SCN_TEST(test_S_GV_18_teardown_without_drain_reported, "S-GV-18-no-drain")
SCN_TEST(test_S_GV_18_sync_put_unlocked_reported, "S-GV-18-sync-unlocked")
SCN_TEST(test_S_GV_19_final_put_under_resv_reported, "S-GV-19-put-under-resv")
SCN_TEST(test_S_GV_21_error_mid_walk, "S-GV-21")
SCN_TEST(test_S_GV_22_teardown_with_mappings_leaks, "S-GV-22")

/* S-GV-11a also shows FREED and the VM poisoning when they are visible. */
static void test_S_GV_11a_state_predicates(void **state)
{
	struct scn_result r;

	(void)state;
	scn_test_run("S-GV-11a", &r);
	assert_int_equal(scn_get_note(&r, "FREED observed"),
			 gpuvm_alloc_poisoning());
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_S_GV_index_complete),
		harness_test(test_S_GV_01_drop_under_held_resv),
		harness_test(test_S_GV_01_naive_destructor_takes_resv_reported),
		harness_test(test_S_GV_01_cleanup_under_vm_resv_reported),
		harness_test(test_S_GV_02_sync_put_under_gem_mutex_reported),
		harness_test(test_S_GV_03_mixed_mode_reported),
		harness_test(test_S_GV_05_bind_inside_signalling),
		harness_test(test_S_GV_05_obtain_in_signalling_reported),
		harness_test(test_S_GV_05_sync_put_in_signalling_reported),
		harness_test(test_S_GV_06_exec_lock_sees_new_extobj),
		harness_test(test_S_GV_06_extobj_in_map_reported),
		harness_test(test_S_GV_08_unused_prealloc_disposal),
		harness_test(test_S_GV_08_prealloc_drop_under_gpuva_reported),
		harness_test(test_S_GV_09_data_initialised_before_free),
		harness_test(test_S_GV_09_init_after_create_reported),
		harness_test(test_S_GV_10_alloc_families_single_destructor),
		harness_test(test_S_GV_10_c_size_free_reported),
		harness_test(test_S_GV_11a_state_predicates),
		harness_test(test_S_GV_11b_from_raw_checks),
		harness_test(test_S_GV_11b_unchecked_from_raw_reported),
		harness_test(test_S_GV_12_unregistered_vm_bo_rejected),
		harness_test(test_S_GV_12_unregistered_map_reported),
		harness_test(test_S_GV_13_foreign_vm_bo_einval),
		harness_test(test_S_GV_13_foreign_map_reported),
		harness_test(test_S_GV_14_init_over_poisoned_memory),
		harness_test(test_S_GV_16_obtain_with_vm_resv_refused),
		harness_test(test_S_GV_16_obtain_unchecked_reported),
		harness_test(test_S_GV_17_vas_freed_at_once),
		harness_test(test_S_GV_18_teardown_drains),
		harness_test(test_S_GV_18_teardown_without_drain_reported),
		harness_test(test_S_GV_18_sync_put_unlocked_reported),
		harness_test(test_S_GV_19_final_put_under_resv_reported),
		harness_test(test_S_GV_21_error_mid_walk),
		harness_test(test_S_GV_22_teardown_with_mappings_leaks),
	};

	return harness_run("gpuvm/scenario", tests, argc, argv);
}
