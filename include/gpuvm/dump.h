/* SPDX-License-Identifier: MIT */
/*
 * A readable dump of a VM, in the style of the kernel's debugfs table
 * (drm_debugfs_gpuva_info()): the VA space with its reserved node and one
 * line per mapping, followed by the VM's vm_bos with their eviction flag,
 * their membership of the VM's extobj and evict lists and the number of
 * mappings each has in the VM. For debugging: the format may change.
 *
 *   GPU VA space (NAME) [0xSTART;0xEND] FLAGS
 *   Kernel reserved node [0xSTART;0xEND]          (or: ... none)
 *
 *    VAs | start              | range              | end                | object             | object offset
 *   ------------------------------------------------------------------------------------------------------------
 *        | 0x0000000000001000 | 0x0000000000002000 | 0x0000000000003000 | OBJECT             | 0x0000000000000000
 *
 *    vm_bos | object             | refs | evicted | extobj | evict | vas
 *   ---------------------------------------------------------------------
 *           | OBJECT             |    2 |       0 |      1 |     0 |   1
 *
 * OBJECT is the object's pointer in hex, or the name the caller's callback
 * gives it (gpuvm_dump_named()); `-` for a sparse mapping (no object).
 * Both tables are followed by a blank line.
 */
#ifndef GPUVM_DUMP_H
#define GPUVM_DUMP_H

#include <stdio.h>

#include <gpuvm/common.h>
#include <gpuvm/gem.h>
#include <gpuvm/vm.h>

GPUVM_BEGIN_DECLS

/**
 * gpuvm_dump_named() - print @gpuvm to @f, naming objects with @obj_name
 * @gpuvm: the VM
 * @f: where to print
 * @obj_name: returns the name of an object, or NULL to have it printed as
 *            a pointer; may be NULL (every object printed as a pointer).
 *            Called with the locks below held: it must not take any of them.
 * @arg: passed to @obj_name
 *
 * Prints the VA space in address order (the reserved node on a line of
 * its own, not in the table), then the vm_bos: first those of the
 * mappings, in the order of their first mapping, then those on the VM's
 * extobj list that have no mapping. A private vm_bo without mappings is
 * on no list the VM can walk and is not shown. @vas counts the vm_bo's
 * mappings in the VA space. The vm_bo section looks each vm_bo up in the
 * VA list again, so it is quadratic in the number of mappings: a tool for
 * debugging, not for hot paths.
 *
 * Context: the driver's VA-space lock (the VA list and each mapping's
 * vm_bo are read under it). With GPUVM_RESV_PROTECTED the VM's resv
 * (asserted), which protects the extobj and evict lists; without it the
 * function takes the VM's internal extobj lock, then its evict lock, for
 * the vm_bo section, so the caller must hold neither (it may hold the
 * VM's resv). Takes no object's resv or gpuva mutex: the evicted flag is
 * read without the object's resv and the reference count atomically, so
 * both are a snapshot. Never allocates; may block on @f.
 * Return: 0; -EINVAL when @gpuvm or @f is NULL (nothing printed); -EIO
 * when @f reported a write error.
 */
GPUVM_EXPORT int gpuvm_dump_named(
	struct gpuvm *gpuvm, FILE *f,
	const char *(*obj_name)(struct gpuvm_gem_object *obj, void *arg),
	void *arg);

/**
 * gpuvm_dump() - print @gpuvm to @f, objects as pointers
 * @gpuvm: the VM
 * @f: where to print
 *
 * gpuvm_dump_named() without a naming callback: every object is printed
 * as its address.
 *
 * Context: as gpuvm_dump_named(): the driver's VA-space lock, and with
 * GPUVM_RESV_PROTECTED the VM's resv; otherwise the VM's internal extobj
 * and evict locks are taken (hold neither). Never allocates.
 * Return: 0; -EINVAL when @gpuvm or @f is NULL; -EIO on a write error.
 */
GPUVM_EXPORT int gpuvm_dump(struct gpuvm *gpuvm, FILE *f);

GPUVM_END_DECLS

#endif /* GPUVM_DUMP_H */
