// SPDX-License-Identifier: MIT
/*
 * Running the GPUVM review scenarios (S-GV-01..22) against your own driver
 * callbacks.
 *
 * A driver author fills a struct scn_driver with the callbacks the Rust
 * GPUVM abstraction would call into (vm_bo allocation and free, the vm_bo
 * data's constructor and destructor, the split/merge steps, the VM data's
 * destructor) and hands it to scn_run_all(). Each scenario then drives the
 * driver through one of the hazards the kernel reviewers raised and prints
 * "ok" or "FAIL" with the rule that was broken; the "-variant" scenarios
 * switch the harness to a rejected design and pass when that design is
 * reported.
 *
 * This toy driver keeps a one-byte page table per VM page. Its steps apply
 * the GPUVM side first through the token methods (scn_op_map_insert,
 * scn_op_unmap_remove, scn_op_remap) and then update the page table; they
 * neither allocate nor take a reservation lock, because the scenarios run
 * them inside fence signalling sections. Its vm_bo data pins the object's
 * pages while the vm_bo lives.
 *
 *   scenario-driver [-v] [ID-prefix]     e.g. scenario-driver -v S-GV-05
 *
 * Exit status: the number of failed scenarios (0: all passed).
 */
#include <stdlib.h>
#include <string.h>

#include "gpuvm_scenario.h"

#define PT_PAGES 4096

/* The driver's VM data (T of GpuVm<T>): a page table. */
struct toy_vm {
	unsigned char pte[PT_PAGES]; /* 0: invalid, else the object's name */
};

/* The vm_bo data (the VmBoData). */
struct toy_vm_bo_data {
	long pinned; /* pages pinned for this mapping */
	int constructed;
};

/* The driver's vm_bo: struct gpuvm_bo first, then its data. */
struct toy_vm_bo {
	struct gpuvm_bo base;
	struct toy_vm_bo_data data;
};

static void *toy_vm_new(void)
{
	return calloc(1, sizeof(struct toy_vm));
}

static void toy_vm_drop(struct scn_vm *vm)
{
	free(vm->data);
}

/* The allocation hooks: the driver's own layout, library memory. */
static struct gpuvm_bo *toy_vm_bo_alloc(void)
{
	struct toy_vm_bo *bo = gpuvm_kzalloc(sizeof(*bo), GPUVM_GFP_KERNEL);

	return bo ? &bo->base : NULL;
}

static void toy_vm_bo_free(struct gpuvm_bo *vm_bo)
{
	gpuvm_kfree(gpuvm_container_of(vm_bo, struct toy_vm_bo, base));
}

/* The data (may fail: a negative argument asks it to). */
static int toy_data_init(void *data, long arg)
{
	struct toy_vm_bo_data *d = data;

	if (arg < 0)
		return (int)arg;
	d->pinned = 0;
	d->constructed = 1;
	return 0;
}

static void toy_data_drop(struct gpuvm_bo *vm_bo, void *data)
{
	(void)vm_bo;
	((struct toy_vm_bo_data *)data)->pinned = 0; /* unpin; takes no lock */
}

static void pt_write(struct scn_vm *vm, uint64_t addr, uint64_t range,
		     unsigned char v)
{
	struct toy_vm *pt = vm->data;
	uint64_t p;

	for (p = addr >> 12; p < (addr + range) >> 12 && p < PT_PAGES; p++)
		pt->pte[p] = v;
}

static unsigned char obj_tag(struct gpuvm_gem_object *obj)
{
	return obj ? (unsigned char)scn_gem_of(obj)->name : 0;
}

static int toy_step_map(struct gpuva_op *op, void *priv)
{
	struct scn_sm_ctx *ctx = priv;
	int ret = scn_op_map_insert(ctx, op);

	if (!ret)
		pt_write(ctx->vm, op->map.va.addr, op->map.va.range,
			 obj_tag(op->map.gem.obj));
	return ret;
}

static int toy_step_unmap(struct gpuva_op *op, void *priv)
{
	struct scn_sm_ctx *ctx = priv;
	uint64_t addr = op->unmap.va->va.addr, range = op->unmap.va->va.range;
	struct scn_va *removed;
	int ret = scn_op_unmap_remove(ctx, op, &removed);

	if (ret)
		return ret;
	pt_write(ctx->vm, addr, range, 0);
	scn_va_free(removed); /* GpuVaRemoved dropped at once */
	return 0;
}

static int toy_step_remap(struct gpuva_op *op, void *priv)
{
	struct scn_sm_ctx *ctx = priv;
	struct scn_va *removed;
	uint64_t hole, range;
	int ret;

	gpuva_op_remap_to_unmap_range(&op->remap, &hole, &range);
	ret = scn_op_remap(ctx, op, &removed);
	if (ret)
		return ret;
	pt_write(ctx->vm, hole, range, 0);
	scn_va_free(removed);
	return 0;
}

static const struct scn_driver toy_driver = {
	.name = "toy",
	.vm_bo_size = sizeof(struct toy_vm_bo),
	.vm_bo_data_init = toy_data_init,
	.vm_bo_data_drop = toy_data_drop,
	.vm_bo_alloc = toy_vm_bo_alloc,
	.vm_bo_free = toy_vm_bo_free,
	.sm_step_map = toy_step_map,
	.sm_step_remap = toy_step_remap,
	.sm_step_unmap = toy_step_unmap,
	.vm_data_new = toy_vm_new,
	.vm_data_drop = toy_vm_drop,
};

int main(int argc, char **argv)
{
	const char *prefix = NULL;
	bool verbose = false;
	unsigned int failed;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-v"))
			verbose = true;
		else
			prefix = argv[i];
	}
	failed = scn_run_all(&toy_driver, prefix, verbose, stdout);
	printf("%u scenario(s) failed\n", failed);
	return (int)failed;
}
