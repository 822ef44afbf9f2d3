// SPDX-License-Identifier: MIT
/*
 * The life of a GEM shmem object whose DMA mapping is a device resource.
 *
 * A driver binds to a device, creates a buffer, asks for its
 * scatter-gather table while it knows the device is bound, and programs
 * the device with the DMA addresses. Then the driver is unbound while
 * userspace still holds the buffer: the mapping must go away with the
 * binding, the buffer must not. Much later the buffer is freed.
 *
 * Run it: every step prints what the library did.
 */
#include <errno.h>
#include <stdio.h>

#include <gpuvm/gpuvm.h>

static void show(const char *step, struct gpuvm_device *dev,
		 const struct gpuvm_gem_shmem_object *bo)
{
	printf("%-34s bound=%d mappings=%lu resources=%lu", step,
	       gpuvm_device_is_bound(dev), gpuvm_device_dma_mappings(dev),
	       gpuvm_device_devres_count(dev));
	if (bo)
		printf(" bo: pages=%s refs=%u table=%s",
		       bo->pages ? "yes" : "no", bo->pages_use_count,
		       bo->sgt ? "yes" : "no");
	printf("\n");
}

/* What a driver does with the table: hand the segments to the device. */
static void program_device(const struct gpuvm_sg_table *sgt)
{
	const struct gpuvm_scatterlist *sg;
	unsigned int i;

	gpuvm_for_each_sgtable_dma_sg(sgt, sg, i)
		printf("    segment %u: dma 0x%llx + 0x%x\n", i,
		       (unsigned long long)gpuvm_sg_dma_address(sg),
		       gpuvm_sg_dma_len(sg));
}

int main(void)
{
	struct gpuvm_device dev;
	struct gpuvm_device_bound bound;
	struct gpuvm_gem_shmem_object *bo;
	const struct gpuvm_sg_table *sgt;

	/* 1. The device exists; a driver binds to it (generation 1). */
	gpuvm_device_init(&dev, "gpu0");
	gpuvm_device_bind(&dev);
	show("bind", &dev, NULL);

	/* 2. A 3-page buffer. No memory behind it yet. */
	bo = gpuvm_gem_shmem_create(&dev, 3 * GPUVM_PAGE_SIZE);
	if (gpuvm_is_err(bo))
		return 1;
	show("create buffer", &dev, bo);

	/*
	 * 3. Map it. The bound scope is the proof that the device is bound:
	 * unbind waits until every scope is left, so the table cannot be
	 * unmapped while we use it. The first call allocates the pages,
	 * builds the table, maps it for the device and registers the mapping
	 * as a device resource.
	 */
	if (gpuvm_device_bound_enter(&dev, &bound))
		return 1;
	sgt = gpuvm_gem_shmem_sg_table(bo, &bound);
	if (gpuvm_is_err(sgt))
		return 1;
	show("sg_table (first use)", &dev, bo);
	program_device(sgt);

	/* 4. Later calls in the binding: the same table, no lock taken.
	 * Safe in a fence signalling section (the first call is not). */
	if (gpuvm_gem_shmem_sg_table(bo, &bound) != sgt)
		return 1;
	show("sg_table (again)", &dev, bo);
	gpuvm_device_bound_exit(&bound); /* sgt must not be used past here */

	/*
	 * 5. The driver is unbound while the buffer lives on (userspace
	 * still has it). Unbind releases the device resources: the table is
	 * unmapped and freed. The pages stay with the buffer.
	 */
	gpuvm_device_unbind(&dev);
	show("unbind (buffer still alive)", &dev, bo);

	/* 6. No binding, no bound scope, no table. */
	if (gpuvm_device_bound_enter(&dev, &bound) == -ENXIO)
		printf("%-34s -ENXIO: the device is not bound\n",
		       "bound_enter after unbind");

	/*
	 * 7. The last reference goes. Had an unbind been releasing the
	 * mapping on another thread right now, the free would wait for it
	 * before freeing the buffer's memory.
	 */
	gpuvm_gem_object_put(&bo->base);
	show("free buffer", &dev, NULL);

	gpuvm_device_fini(&dev);
	printf("library allocations left: %ld, DMA mappings left: %ld\n",
	       gpuvm_alloc_live(), gpuvm_dma_mappings_live());
	return gpuvm_alloc_live() || gpuvm_dma_mappings_live();
}
