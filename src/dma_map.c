// SPDX-License-Identifier: MIT
/*
 * Scatter-gather tables and the DMA-mapping registry: every mapping a
 * device holds is recorded, so an unbind can report what was left mapped.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <gpuvm/device.h>

#include "device_internal.h"
#include "internal.h"
#include "kref.h"
#include "rcu_internal.h"

static long dma_live_total; /* all devices; atomic */

struct dma_mapping {
	struct gpuvm_list_head link; /* in dev->dma_maps__ */
	const struct gpuvm_sg_table *sgt;
	uint64_t generation;
	enum gpuvm_dma_data_direction dir;
};

/* ---- scatter-gather tables and the DMA-mapping registry ----------------- */

GPUVM_EXPORT int gpuvm_sg_alloc_table(struct gpuvm_sg_table *sgt,
				      unsigned int nents)
{
	sgt->sgl = gpuvm_kcalloc(nents ? nents : 1, sizeof(*sgt->sgl),
				 GPUVM_GFP_KERNEL);
	sgt->nents = 0;
	sgt->orig_nents = sgt->sgl ? nents : 0;
	return sgt->sgl ? 0 : -ENOMEM;
}

GPUVM_EXPORT void gpuvm_sg_free_table(struct gpuvm_sg_table *sgt)
{
	gpuvm_kfree(sgt->sgl);
	sgt->sgl = NULL;
	sgt->nents = 0;
	sgt->orig_nents = 0;
}

static uint64_t align_page(uint64_t x)
{
	return (x + GPUVM_PAGE_SIZE - 1) & ~(uint64_t)(GPUVM_PAGE_SIZE - 1);
}

GPUVM_EXPORT int gpuvm_dma_map_sgtable(struct gpuvm_device *dev,
				       struct gpuvm_sg_table *sgt,
				       enum gpuvm_dma_data_direction dir,
				       unsigned long attrs)
{
	struct gpuvm_scatterlist *sg;
	struct dma_mapping *m;
	unsigned int i;

	m = gpuvm_kmalloc(sizeof(*m), GPUVM_GFP_KERNEL);
	if (!m)
		return -ENOMEM;

	pthread_mutex_lock(&dev->lock__);
	if (dev->state__ != DEV_BOUND && dev->state__ != DEV_UNBINDING) {
		pthread_mutex_unlock(&dev->lock__);
		gpuvm_kfree(m);
		return -ENXIO;
	}
	m->sgt = sgt;
	m->generation = dev->generation__;
	m->dir = dir;
	/* One device window per segment, a guard page between them. */
	gpuvm_for_each_sgtable_sg(sgt, sg, i)
	{
		sg->dma_address = dev->next_iova__ + sg->offset;
		sg->dma_length = sg->length;
		dev->next_iova__ +=
			align_page(sg->offset + sg->length) + GPUVM_PAGE_SIZE;
	}
	sgt->nents = sgt->orig_nents;
	gpuvm_list_add_tail(&m->link, &dev->dma_maps__);
	dev->nr_dma_maps__++;
	dev->dma_map_calls__++;
	pthread_mutex_unlock(&dev->lock__);
	__atomic_add_fetch(&dma_live_total, 1, __ATOMIC_RELAXED);
	return 0;
}

static struct dma_mapping *dma_find(struct gpuvm_device *dev,
				    const struct gpuvm_sg_table *sgt)
{
	struct dma_mapping *m;

	gpuvm_list_for_each_entry(m, &dev->dma_maps__, link)
		if (m->sgt == sgt)
			return m;
	return NULL;
}

GPUVM_EXPORT void gpuvm_dma_unmap_sgtable(struct gpuvm_device *dev,
					  struct gpuvm_sg_table *sgt,
					  enum gpuvm_dma_data_direction dir,
					  unsigned long attrs)
{
	struct gpuvm_scatterlist *sg;
	struct dma_mapping *m;
	unsigned int i;

	pthread_mutex_lock(&dev->lock__);
	m = dma_find(dev, sgt);
	if (m) {
		gpuvm_list_del(&m->link);
		dev->nr_dma_maps__--;
		dev->dma_unmap_calls__++;
		gpuvm_for_each_sgtable_sg(sgt, sg, i)
		{
			sg->dma_address = 0;
			sg->dma_length = 0;
		}
		sgt->nents = 0;
	}
	pthread_mutex_unlock(&dev->lock__);

	if (!m) {
		gpuvm_warn(GPUVM_RULE_DMA_UNMAP,
			   "gpuvm_dma_unmap_sgtable: table %p is not mapped "
			   "for '%s' (unmapped twice?); ignored",
			   (const void *)sgt, gpuvm_dev_name(dev));
		return;
	}
	__atomic_sub_fetch(&dma_live_total, 1, __ATOMIC_RELAXED);
	gpuvm_kfree(m);
}

unsigned long gpuvm_dma_count_gen(struct gpuvm_device *dev, uint64_t gen)
{
	struct dma_mapping *m;
	unsigned long n = 0;

	gpuvm_list_for_each_entry(m, &dev->dma_maps__, link)
		n += m->generation == gen;
	return n;
}

GPUVM_EXPORT unsigned long gpuvm_device_dma_mappings(struct gpuvm_device *dev)
{
	unsigned long n;

	pthread_mutex_lock(&dev->lock__);
	n = dev->nr_dma_maps__;
	pthread_mutex_unlock(&dev->lock__);
	return n;
}

GPUVM_EXPORT unsigned long
gpuvm_device_dma_mappings_gen(struct gpuvm_device *dev, uint64_t generation)
{
	unsigned long n;

	pthread_mutex_lock(&dev->lock__);
	n = gpuvm_dma_count_gen(dev, generation);
	pthread_mutex_unlock(&dev->lock__);
	return n;
}

GPUVM_EXPORT bool gpuvm_device_dma_is_mapped(struct gpuvm_device *dev,
					     const struct gpuvm_sg_table *sgt)
{
	bool mapped;

	pthread_mutex_lock(&dev->lock__);
	mapped = dma_find(dev, sgt) != NULL;
	pthread_mutex_unlock(&dev->lock__);
	return mapped;
}

GPUVM_EXPORT unsigned long gpuvm_device_dma_map_calls(struct gpuvm_device *dev)
{
	unsigned long n;

	pthread_mutex_lock(&dev->lock__);
	n = dev->dma_map_calls__;
	pthread_mutex_unlock(&dev->lock__);
	return n;
}

GPUVM_EXPORT unsigned long
gpuvm_device_dma_unmap_calls(struct gpuvm_device *dev)
{
	unsigned long n;

	pthread_mutex_lock(&dev->lock__);
	n = dev->dma_unmap_calls__;
	pthread_mutex_unlock(&dev->lock__);
	return n;
}

GPUVM_EXPORT long gpuvm_dma_mappings_live(void)
{
	return __atomic_load_n(&dma_live_total, __ATOMIC_RELAXED);
}
