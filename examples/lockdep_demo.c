// SPDX-License-Identifier: MIT
/*
 * A tour of the debug checker: what a driver author sees when a lock rule
 * is broken. Each step breaks one rule; the default handler prints the
 * report to stderr, and the program ends with the number of reports.
 */
#include <stdio.h>

#include <gpuvm/gpuvm.h>

static struct gpuvm_lock_class vm_lock_class =
	GPUVM_LOCK_CLASS_INIT("driver_vm_lock", 0);
static struct gpuvm_lock_class job_lock_class =
	GPUVM_LOCK_CLASS_INIT("driver_job_lock", 0);

int main(void)
{
	struct gpuvm_mutex vm_lock, job_lock;
	bool cookie;
	void *p;

	gpuvm_mutex_init(&vm_lock, "vm->lock", &vm_lock_class);
	gpuvm_mutex_init(&job_lock, "job->lock", &job_lock_class);

	printf("1. bind path: vm lock, then job lock (learned order)\n");
	gpuvm_mutex_lock(&vm_lock);
	gpuvm_mutex_lock(&job_lock);
	gpuvm_mutex_unlock(&job_lock);
	gpuvm_mutex_unlock(&vm_lock);

	printf("2. job path: job lock, then vm lock (inverted order)\n");
	gpuvm_mutex_lock(&job_lock);
	gpuvm_mutex_lock(&vm_lock);
	gpuvm_mutex_unlock(&vm_lock);
	gpuvm_mutex_unlock(&job_lock);

	printf("3. a helper that requires the vm lock, called without it\n");
	gpuvm_mutex_assert_held(&vm_lock, "driver_update_page_tables");

	printf("4. allocating in the fence signalling path\n");
	cookie = gpuvm_dma_fence_begin_signalling();
	p = gpuvm_kmalloc(64, GPUVM_GFP_KERNEL);
	gpuvm_dma_fence_end_signalling(cookie);
	gpuvm_kfree(p);

	gpuvm_mutex_destroy(&job_lock);
	gpuvm_mutex_destroy(&vm_lock);
	printf("%lu rule violation(s) reported\n", gpuvm_warn_count());
	return 0;
}
