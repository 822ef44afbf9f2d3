// SPDX-License-Identifier: MIT
/*
 * gpuvm_dump() and gpuvm_dump_named(): the exact text for a small VM (a
 * reserved node, a private object mapped twice, an evicted external
 * object, a sparse mapping, an external vm_bo without mappings), objects
 * printed as pointers, a VM without reserved node, every locking mode with
 * the locks the documentation asks for, the RESV_PROTECTED assertion, and
 * the argument and write errors.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/dump.h>
#include <gpuvm/testing.h>
#include "gpuvm_fixture.h"
#include "harness.h"

struct name_arg {
	struct fx_vm *fx;
	char buf[4];
};

static const char *obj_name(struct gpuvm_gem_object *obj, void *arg)
{
	struct name_arg *n = arg;

	n->buf[0] = fx_obj_name(n->fx, obj);
	n->buf[1] = '\0';
	return n->buf;
}

/* Run @fn on a memory stream; return the text (free it). */
static char *dump_text(struct fx_vm *fx, bool named, int *ret)
{
	struct name_arg n = { .fx = fx };
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	assert_non_null(f);
	if (named)
		*ret = gpuvm_dump_named(&fx->base, f, obj_name, &n);
	else
		*ret = gpuvm_dump(&fx->base, f);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void evict_locked(struct gpuvm_bo *vm_bo, bool evict)
{
	assert_int_equal(gpuvm_gem_object_lock(vm_bo->obj, NULL), 0);
	gpuvm_bo_evict(vm_bo, evict);
	gpuvm_gem_object_unlock(vm_bo->obj);
}

static void extobj_add_locked(struct fx_vm *fx, struct gpuvm_bo *vm_bo)
{
	if (gpuvm_resv_protected(&fx->base))
		fx_vm_resv_lock(fx);
	gpuvm_bo_extobj_add(vm_bo);
	if (gpuvm_resv_protected(&fx->base))
		fx_vm_resv_unlock(fx);
}

/*
 * The small VM: a [0x1000,0x3000) and a [0x5000,0x6000) of one private
 * object, B [0x3000,0x5000) external and evicted, a sparse mapping, and C
 * external with a vm_bo but no mapping. Return: C's vm_bo (a reference).
 */
static struct gpuvm_bo *small_vm(struct fx_vm *fx)
{
	struct gpuvm_bo *c;

	fx->link = true;
	fx_insert_layout(fx, "a [0x1000,0x3000) @0, B [0x3000,0x5000) @0x10000,"
			     " a [0x5000,0x6000) @0x2000, - [0x8000,0x9000)");
	evict_locked(fx_vm_bo(fx, fx_obj(fx, 'B')), true);
	c = fx_bo_obtain(fx, fx_obj(fx, 'C'));
	extobj_add_locked(fx, c);
	return c;
}

static const char small_expected[] =
	"GPU VA space (fixture) [0x0000000000000000;0x0000000000100000] immediate\n"
	"Kernel reserved node [0x0000000000000000;0x0000000000001000]\n"
	"\n"
	" VAs | start              | range              | end                "
	"| object             | object offset\n"
	"---------------------------------------------------------------------"
	"----------------------------------------\n"
	"     | 0x0000000000001000 | 0x0000000000002000 | 0x0000000000003000 "
	"| a                  | 0x0000000000000000\n"
	"     | 0x0000000000003000 | 0x0000000000002000 | 0x0000000000005000 "
	"| B                  | 0x0000000000010000\n"
	"     | 0x0000000000005000 | 0x0000000000001000 | 0x0000000000006000 "
	"| a                  | 0x0000000000002000\n"
	"     | 0x0000000000008000 | 0x0000000000001000 | 0x0000000000009000 "
	"| -                  | 0x0000000000000000\n"
	"\n"
	" vm_bos | object             | refs | evicted | extobj | evict | vas\n"
	"-----------------------------------------------------------------------\n"
	"        | a                  |    2 |       0 |      0 |     0 |   2\n"
	"        | B                  |    1 |       1 |      1 |     1 |   1\n"
	"        | C                  |    1 |       0 |      1 |     0 |   0\n"
	"\n";

static void test_dump_exact(void **state)
{
	struct fx_vm *fx =
		fx_vm_create(GPUVM_IMMEDIATE_MODE, 0, 0x100000, 0, 0x1000);
	struct gpuvm_bo *c;
	char *text;
	int ret;

	(void)state;
	c = small_vm(fx);
	text = dump_text(fx, true, &ret);
	assert_int_equal(ret, 0);
	assert_string_equal(text, small_expected);
	free(text);
	fx_bo_put_locked(fx, c);
	fx_vm_destroy(fx);
}

/* Without a callback every object is its address; sparse stays `-`. */
static void test_dump_pointers(void **state)
{
	struct fx_vm *fx =
		fx_vm_create(GPUVM_IMMEDIATE_MODE, 0, 0x100000, 0, 0);
	char line[256], *text;
	int ret;

	(void)state;
	fx->link = true;
	fx_insert_layout(fx, "a [0x1000,0x2000) @0x40, - [0x2000,0x3000)");
	text = dump_text(fx, false, &ret);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(text, "Kernel reserved node none\n"));
	snprintf(line, sizeof(line),
		 "     | 0x0000000000001000 | 0x0000000000001000 | "
		 "0x0000000000002000 | 0x%016" PRIxPTR
		 " | 0x0000000000000040\n",
		 (uintptr_t)fx_obj(fx, 'a'));
	assert_non_null(strstr(text, line));
	assert_non_null(strstr(text, "| -                  | "));
	snprintf(line, sizeof(line),
		 "        | 0x%016" PRIxPTR " |    1 |       0 |      0 |     "
		 "0 |   1\n",
		 (uintptr_t)fx_obj(fx, 'a'));
	assert_non_null(strstr(text, line));
	free(text);
	fx_vm_destroy(fx);
}

/*
 * Every mode, with the VM's resv held as a driver's VM_BIND path holds
 * it: the same tables (only the flags differ), no warning. Without
 * RESV_PROTECTED the dump takes the internal list locks under the resv.
 */
static void test_dump_modes(void **state)
{
	unsigned int m;

	(void)state;
	for (m = 0; m < FX_NR_MODES; m++) {
		struct fx_vm *fx =
			fx_vm_create(fx_modes[m].flags, 0, 0x100000, 0, 0x1000);
		char expected[sizeof(small_expected)];
		struct gpuvm_bo *c;
		char *text;
		int ret;

		fx_context("mode %s", fx_modes[m].name);
		c = small_vm(fx);
		fx_vm_resv_lock(fx);
		text = dump_text(fx, true, &ret);
		fx_vm_resv_unlock(fx);
		assert_int_equal(ret, 0);
		/* RESV_PROTECTED: an evicted external object joins the
		 * evict list only at the next prepare_objects. */
		snprintf(expected, sizeof(expected), "%s",
			 strchr(small_expected, '\n') + 1);
		if (fx_modes[m].flags & GPUVM_RESV_PROTECTED)
			memcpy(strstr(expected, "|     1 |   1"), "|     0",
			       strlen("|     0"));
		assert_string_equal(strchr(text, '\n') + 1, expected);
		assert_non_null(strstr(
			text, (fx_modes[m].flags & GPUVM_IMMEDIATE_MODE) ?
				      "] immediate" :
				      "] staged"));
		assert_true(!strstr(text, "resv-protected") ==
			    !(fx_modes[m].flags & GPUVM_RESV_PROTECTED));
		free(text);
		fx_bo_put_locked(fx, c);
		fx_vm_destroy(fx);
	}
}

/* RESV_PROTECTED: the lists need the VM's resv; the dump asserts it. */
static void test_dump_resv_protected_unlocked(void **state)
{
	struct fx_vm *fx = fx_vm_create(
		GPUVM_IMMEDIATE_MODE | GPUVM_RESV_PROTECTED, 0, 0x100000, 0, 0);
	char *text;
	int ret;

	(void)state;
	if (!gpuvm_debug_enabled()) {
		fx_vm_destroy(fx);
		skip();
	}
	text = dump_text(fx, true, &ret);
	assert_int_equal(ret, 0);
	free(text);
	assert_int_equal(harness_take_warnings(GPUVM_RULE_LOCK_NOT_HELD), 1);
	fx_vm_destroy(fx);
}

static void test_dump_errors(void **state)
{
	struct fx_vm *fx =
		fx_vm_create(GPUVM_IMMEDIATE_MODE, 0, 0x100000, 0, 0);
	FILE *f;

	(void)state;
	assert_int_equal(gpuvm_dump(NULL, stdout), -EINVAL);
	assert_int_equal(gpuvm_dump(&fx->base, NULL), -EINVAL);
	/* A stream that cannot be written. */
	f = fopen("/dev/null", "r");
	assert_non_null(f);
	assert_int_equal(gpuvm_dump(&fx->base, f), -EIO);
	fclose(f);
	fx_vm_destroy(fx);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_dump_exact),
		harness_test(test_dump_pointers),
		harness_test(test_dump_modes),
		harness_test(test_dump_resv_protected_unlocked),
		harness_test(test_dump_errors),
	};

	return harness_run("gpuvm/dump", tests, argc, argv);
}
