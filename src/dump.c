// SPDX-License-Identifier: MIT
/*
 * gpuvm_dump(): the VM as the kernel's debugfs prints it
 * (drm_debugfs_gpuva_info()), plus its vm_bos. See include/gpuvm/dump.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>

#include <gpuvm/dump.h>
#include <gpuvm/list.h>
#include <gpuvm/mutex.h>
#include <gpuvm/va.h>
#include <gpuvm/vm.h>

#define DUMP_RULE                                                 \
	"-------------------------------------------------------" \
	"-------------------------------------------------------"

struct dump_ctx {
	struct gpuvm *gpuvm;
	FILE *f;
	const char *(*obj_name)(struct gpuvm_gem_object *obj, void *arg);
	void *arg;
};

static void dump_obj(const struct dump_ctx *d, struct gpuvm_gem_object *obj)
{
	const char *name = NULL;
	char buf[32];

	if (!obj) {
		name = "-";
	} else if (d->obj_name) {
		name = d->obj_name(obj, d->arg);
	}
	if (!name) {
		snprintf(buf, sizeof(buf), "0x%016" PRIxPTR, (uintptr_t)obj);
		name = buf;
	}
	fprintf(d->f, "%-18s", name);
}

/* The VAs of @vm_bo in the VA space; @first: whether @va is the first. */
static unsigned int dump_count_vas(struct gpuvm *gpuvm,
				   const struct gpuvm_bo *vm_bo,
				   const struct gpuva *va, bool *first)
{
	unsigned int n = 0;
	struct gpuva *it;

	*first = false;
	gpuvm_for_each_va(it, gpuvm) {
		if (it->vm_bo != vm_bo)
			continue;
		if (!n && it == va)
			*first = true;
		n++;
	}
	return n;
}

static void dump_bo(const struct dump_ctx *d, struct gpuvm_bo *vm_bo,
		    unsigned int vas)
{
	fputs("        | ", d->f);
	dump_obj(d, vm_bo->obj);
	fprintf(d->f, " | %4d | %7d | %6d | %5d | %3u\n",
		__atomic_load_n(&vm_bo->kref, __ATOMIC_RELAXED),
		(int)__atomic_load_n(&vm_bo->evicted, __ATOMIC_RELAXED),
		!gpuvm_list_empty(&vm_bo->list.entry.extobj),
		!gpuvm_list_empty(&vm_bo->list.entry.evict), vas);
}

static void dump_bos(const struct dump_ctx *d)
{
	struct gpuvm *gpuvm = d->gpuvm;
	struct gpuvm_bo *vm_bo;
	struct gpuva *va;
	unsigned int n;
	bool first;

	fputs(" vm_bos | object             | refs | evicted | extobj | "
	      "evict | vas\n",
	      d->f);
	fprintf(d->f, "%.71s\n", DUMP_RULE);
	gpuvm_for_each_va(va, gpuvm) {
		if (!va->vm_bo || va == &gpuvm->kernel_alloc_node)
			continue;
		n = dump_count_vas(gpuvm, va->vm_bo, va, &first);
		if (first)
			dump_bo(d, va->vm_bo, n);
	}
	gpuvm_list_for_each_entry(vm_bo, &gpuvm->extobj.list,
				  list.entry.extobj) {
		if (!dump_count_vas(gpuvm, vm_bo, NULL, &first))
			dump_bo(d, vm_bo, 0);
	}
	fputc('\n', d->f);
}

int gpuvm_dump_named(struct gpuvm *gpuvm, FILE *f,
		     const char *(*obj_name)(struct gpuvm_gem_object *obj,
					     void *arg),
		     void *arg)
{
	struct dump_ctx d = {
		.gpuvm = gpuvm, .f = f, .obj_name = obj_name, .arg = arg
	};
	struct gpuva *kva, *va;
	bool rp;

	if (!gpuvm || !f)
		return -EINVAL;
	kva = &gpuvm->kernel_alloc_node;
	rp = gpuvm->flags & GPUVM_RESV_PROTECTED;

	fprintf(f,
		"GPU VA space (%s) [0x%016" PRIx64 ";0x%016" PRIx64 "]%s%s\n",
		gpuvm->name ? gpuvm->name : "unknown", gpuvm->mm_start,
		gpuvm->mm_start + gpuvm->mm_range,
		gpuvm->flags & GPUVM_IMMEDIATE_MODE ? " immediate" : " staged",
		rp ? " resv-protected" : "");
	if (kva->va.range)
		fprintf(f,
			"Kernel reserved node [0x%016" PRIx64 ";0x%016" PRIx64
			"]\n\n",
			kva->va.addr, kva->va.addr + kva->va.range);
	else
		fputs("Kernel reserved node none\n\n", f);

	fputs(" VAs | start              | range              | end        "
	      "        | object             | object offset\n",
	      f);
	fprintf(f, "%.109s\n", DUMP_RULE);
	gpuvm_for_each_va(va, gpuvm) {
		if (va == kva)
			continue;
		fprintf(f,
			"     | 0x%016" PRIx64 " | 0x%016" PRIx64
			" | 0x%016" PRIx64 " | ",
			va->va.addr, va->va.range, va->va.addr + va->va.range);
		dump_obj(&d, va->gem.obj);
		fprintf(f, " | 0x%016" PRIx64 "\n", va->gem.offset);
	}
	fputc('\n', f);

	if (rp) {
		gpuvm_resv_assert_held(gpuvm);
		dump_bos(&d);
	} else {
		gpuvm_mutex_lock(&gpuvm->extobj.lock);
		gpuvm_mutex_lock(&gpuvm->evict.lock);
		dump_bos(&d);
		gpuvm_mutex_unlock(&gpuvm->evict.lock);
		gpuvm_mutex_unlock(&gpuvm->extobj.lock);
	}
	return ferror(f) ? -EIO : 0;
}

int gpuvm_dump(struct gpuvm *gpuvm, FILE *f)
{
	return gpuvm_dump_named(gpuvm, f, NULL, NULL);
}
