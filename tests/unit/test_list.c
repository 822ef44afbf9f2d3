// SPDX-License-Identifier: MIT
#include "harness.h"

struct item {
	int value;
	struct gpuvm_list_head link;
};

static void test_list_order_and_removal(void **state)
{
	struct gpuvm_list_head head = GPUVM_LIST_HEAD_INIT(head);
	struct item items[4], *it, *tmp;
	int expect[] = { 2, 0, 1, 3 };
	int i = 0;

	for (i = 0; i < 4; i++)
		items[i].value = i;
	assert_true(gpuvm_list_empty(&head));
	gpuvm_list_add_tail(&items[0].link, &head);
	gpuvm_list_add_tail(&items[1].link, &head);
	gpuvm_list_add(&items[2].link, &head);
	gpuvm_list_add_tail(&items[3].link, &head);

	i = 0;
	gpuvm_list_for_each_entry(it, &head, link)
		assert_int_equal(it->value, expect[i++]);
	assert_int_equal(i, 4);

	gpuvm_list_for_each_entry_safe(it, tmp, &head, link)
		if (it->value % 2 == 0)
			gpuvm_list_del_init(&it->link);
	assert_true(gpuvm_list_empty(&items[0].link));
	assert_ptr_equal(gpuvm_list_first_entry(&head, struct item, link),
			 &items[1]);
	gpuvm_list_move_tail(&items[1].link, &head);
	assert_ptr_equal(gpuvm_list_first_entry(&head, struct item, link),
			 &items[3]);
	gpuvm_list_del(&items[3].link);
	assert_true(gpuvm_list_is_singular(&head));
	gpuvm_list_del_init(&items[1].link);
	assert_null(gpuvm_list_first_entry_or_null(&head, struct item, link));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_list_order_and_removal),
	};

	return harness_run("gpuvm/list", tests, argc, argv);
}
