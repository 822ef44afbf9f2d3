#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generate include/gpuvm/compat/drm.h: kernel spellings -> libgpuvm names.

Scans the public headers for exported functions, inline helpers, macros,
struct tags and enum constants, and maps each libgpuvm name back to the
kernel name it stands for (the naming rule of README.md, reversed).

  tools/gen-compat.py include/gpuvm > include/gpuvm/compat/drm.h
  tools/gen-compat.py --check include/gpuvm   (exit 1 when out of date)
"""
import os
import re
import sys

HEADERS = ["ww_mutex.h", "dma_fence.h", "dma_resv.h", "gem.h", "exec.h",
           "va.h", "vm.h", "ops.h", "device.h", "shmem.h"]

# Longest prefix first. (ours, kernel)
PREFIXES = [
    ("gpuvm_vm_exec_", "drm_gpuvm_exec_"),
    ("gpuvm_ww_acquire_", "ww_acquire_"),
    ("gpuvm_ww_mutex_", "ww_mutex_"),
    ("gpuvm_dma_resv_", "dma_resv_"),
    ("gpuvm_dma_fence_", "dma_fence_"),
    ("gpuvm_gem_object_", "drm_gem_object_"),
    ("gpuvm_gem_gpuva_", "drm_gem_gpuva_"),
    ("gpuvm_gem_for_each_", "drm_gem_for_each_"),
    ("gpuvm_gem_shmem_", "drm_gem_shmem_"),
    ("gpuvm_dma_map_", "dma_map_"),
    ("gpuvm_dma_unmap_", "dma_unmap_"),
    ("gpuvm_devm_", "devm_"),
    ("gpuvm_sg_", "sg_"),
    ("gpuvm_for_each_sgtable_", "for_each_sgtable_"),
    ("gpuvm_exec_", "drm_exec_"),
    ("gpuvm_", "drm_gpuvm_"),
    ("gpuva_", "drm_gpuva_"),
    ("GPUVM_DMA_RESV_USAGE_", "DMA_RESV_USAGE_"),
    ("GPUVM_DMA_FENCE_", "DMA_FENCE_"),
    ("GPUVM_DMA_", "DMA_"),
    ("GPUVM_DEFINE_", "DEFINE_"),
    ("GPUVM_EXEC_", "DRM_EXEC_"),
    ("GPUVM_", "DRM_GPUVM_"),
    ("GPUVA_", "DRM_GPUVA_"),
]

STRUCTS = {
    "gpuvm": "drm_gpuvm", "gpuvm_bo": "drm_gpuvm_bo",
    "gpuvm_ops": "drm_gpuvm_ops", "gpuvm_map_req": "drm_gpuvm_map_req",
    "gpuvm_vm_exec": "drm_gpuvm_exec", "gpuva": "drm_gpuva",
    "gpuva_op": "drm_gpuva_op", "gpuva_ops": "drm_gpuva_ops",
    "gpuva_op_map": "drm_gpuva_op_map", "gpuva_op_remap": "drm_gpuva_op_remap",
    "gpuva_op_unmap": "drm_gpuva_op_unmap",
    "gpuva_op_prefetch": "drm_gpuva_op_prefetch",
    "gpuvm_exec": "drm_exec", "gpuvm_gem_object": "drm_gem_object",
    "gpuvm_gem_object_funcs": "drm_gem_object_funcs",
    "gpuvm_dma_resv": "dma_resv", "gpuvm_dma_resv_iter": "dma_resv_iter",
    "gpuvm_dma_fence": "dma_fence", "gpuvm_dma_fence_ops": "dma_fence_ops",
    "gpuvm_dma_fence_cb": "dma_fence_cb", "gpuvm_ww_class": "ww_class",
    "gpuvm_ww_mutex": "ww_mutex", "gpuvm_ww_acquire_ctx": "ww_acquire_ctx",
    "gpuvm_gem_shmem_object": "drm_gem_shmem_object",
    "gpuvm_sg_table": "sg_table", "gpuvm_scatterlist": "scatterlist",
}

# Kernel names that do not follow the prefix rule.
IRREGULAR = {
    "gpuvm_gem_shmem_free_sgt_locked": "__drm_gem_shmem_free_sgt_locked",
}

# Ours without a kernel counterpart, or test hooks: not mapped.
SKIP = re.compile(r"(__$|^gpuvm_va_index|^GPUVM_RULE_|_H$|^gpuvm_exec_obj$"
                  r"|^GPUVM_EXEC_PASTE|^GPUVM_EXEC_UNIQUE|^GPUVM_EXEC_DUMMY$"
                  r"|^gpuvm_exec_goto_retry|inject_deadlock|^GPUVM_MAX_"
                  r"|waiter_count|^gpuva_map_checked$|^gpuvm_va_reserve$"
                  r"|^GPUVM_DMA_RESV_ZERO_TIMEOUT|^GPUVM_WW_CLASS_INIT$|_func$"
                  r"|^gpuvm_gem_object_init_shared_resv$"
                  r"|^gpuvm_gem_object_refcount$"
                  # no kernel C counterpart (Rust-only or libgpuvm's own)
                  r"|^gpuvm_device_|^gpuvm_devres_|^gpuvm_revocable_"
                  r"|^gpuvm_rcu_|^gpuvm_dma_mappings_|^gpuvm_dma_resv_guard"
                  r"|^gpuvm_gem_shmem_sg_table$|^gpuvm_gem_shmem_is_imported$"
                  r"|^gpuvm_gem_shmem_init$|^gpuvm_gem_shmem_prime_import"
                  r"|^gpuvm_gem_to_shmem$|^GPUVM_PAGE_SIZE$)")

# libgpuvm has no DRM device. The kernel-spelled calls that take one
# accept this stand-in and ignore it; @dev is the device a driver's DMA and
# shmem calls use (the kernel's drm->dev).
DRM_DEVICE = """\
/**
 * struct drm_device - stand-in for the kernel's DRM device
 * @dev: the device for DMA mappings and shmem objects (drm->dev in the
 *       kernel), or NULL when the driver uses neither
 * @dev_private: for the driver
 *
 * The kernel-spelled calls that take a drm_device accept it and ignore it,
 * except drm_gem_shmem_create(), which uses @dev.
 */
struct drm_device {
	struct gpuvm_device *dev;
	void *dev_private;
};"""

# Kernel functions whose parameter lists differ from libgpuvm's, or that
# libgpuvm has no function for: a static inline wrapper with the kernel's
# exact parameter list replaces the plain #define, so a call spelled the
# libgpuvm way (or any other wrong way) is a compile error. Prototypes in
# kernel spelling (u64 as unsigned long long where it is a pointer target),
# bodies in libgpuvm names. (kernel name, text)
WRAPPERS = [
    ("drm_gpuvm_init", """\
/* The DRM device is not recorded: libgpuvm's VM has no drm field. */
static inline void drm_gpuvm_init(struct drm_gpuvm *gpuvm, const char *name,
				  enum drm_gpuvm_flags flags,
				  struct drm_device *drm,
				  struct drm_gem_object *r_obj,
				  uint64_t start_offset, uint64_t range,
				  uint64_t reserve_offset,
				  uint64_t reserve_range,
				  const struct drm_gpuvm_ops *ops)
{
	(void)drm;
	gpuvm_init(gpuvm, name, flags, r_obj, start_offset, range,
		   reserve_offset, reserve_range, ops);
}"""),
    ("drm_gpuvm_resv_object_alloc", """\
static inline struct drm_gem_object *
drm_gpuvm_resv_object_alloc(struct drm_device *drm)
{
	(void)drm;
	return gpuvm_resv_object_alloc();
}"""),
    ("drm_gem_private_object_init", """\
/*
 * As in the kernel, obj->funcs and a non-NULL obj->resv set before the
 * call are kept (the rest of a zeroed object is initialised).
 */
static inline void drm_gem_private_object_init(struct drm_device *dev,
					       struct drm_gem_object *obj,
					       size_t size)
{
	(void)dev;
	gpuvm_gem_object_init_shared_resv(obj, obj->funcs, size, obj->resv);
}"""),
    ("drm_gem_object_init", """\
/* No shmem backing file: never fails. */
static inline int drm_gem_object_init(struct drm_device *dev,
				      struct drm_gem_object *obj, size_t size)
{
	drm_gem_private_object_init(dev, obj, size);
	return 0;
}"""),
    ("drm_gem_private_object_fini", """\
/* Undoes drm_gem_private_object_init() of an object that is never put. */
static inline void drm_gem_private_object_fini(struct drm_gem_object *obj)
{
	gpuvm_dma_resv_fini(&obj->_resv);
	gpuvm_mutex_destroy(&obj->gpuva.lock);
}"""),
    ("drm_gem_object_release", """\
/*
 * For the driver's free callback: the final drm_gem_object_put() already
 * finalised the object before calling it, so there is nothing left to do.
 */
static inline void drm_gem_object_release(struct drm_gem_object *obj)
{
	(void)obj;
}"""),
    ("drm_gem_shmem_create", """\
static inline struct drm_gem_shmem_object *
drm_gem_shmem_create(struct drm_device *dev, size_t size)
{
	return gpuvm_gem_shmem_create(dev->dev, size);
}"""),
    ("drm_gpuva_op_remap_to_unmap_range", """\
static inline void
drm_gpuva_op_remap_to_unmap_range(const struct drm_gpuva_op_remap *op,
				  unsigned long long *start_addr,
				  unsigned long long *range)
{
	uint64_t start, size;

	gpuva_op_remap_to_unmap_range(op, &start, &size);
	*start_addr = start;
	*range = size;
}"""),
    ("dma_fence_begin_signalling", """\
static inline bool dma_fence_begin_signalling(void)
{
	return gpuvm_dma_fence_begin_signalling();
}"""),
    ("dma_fence_end_signalling", """\
static inline void dma_fence_end_signalling(bool cookie)
{
	gpuvm_dma_fence_end_signalling(cookie);
}"""),
]

NAME = re.compile(r"\b((?:gpuvm|gpuva|GPUVM|GPUVA)_[A-Za-z0-9_]+)\b")


def kernel_name(ours):
    if ours in IRREGULAR:
        return IRREGULAR[ours]
    for mine, theirs in PREFIXES:
        if ours.startswith(mine):
            return theirs + ours[len(mine):]
    return None


def declared_names(text):
    names = set()
    # functions (exported or inline), macros, enum constants
    for m in re.finditer(r"^\s*#define\s+([A-Za-z_][A-Za-z0-9_]*)", text, re.M):
        names.add(m.group(1))
    for m in re.finditer(r"(?:GPUVM_EXPORT|static inline)[^;{()]*?"
                         r"\b([a-z_][a-z0-9_]*)\s*\(", text):
        names.add(m.group(1))
    for m in re.finditer(r"^\s*(GPUVM_[A-Z0-9_]+|GPUVA_[A-Z0-9_]+)\s*[=,]",
                         text, re.M):
        names.add(m.group(1))
    return {n for n in names if NAME.fullmatch(n) and not SKIP.search(n)}


def generate(incdir):
    names = set()
    for h in HEADERS:
        with open(os.path.join(incdir, h)) as f:
            text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
        names |= declared_names(text)
    out = ["/* SPDX-License-Identifier: MIT */",
           "/*",
           " * Kernel spellings of the libgpuvm API, for driver code that wants to",
           " * compile unchanged. Opt-in: no other libgpuvm header includes it.",
           " * The struct-tag macros rename every identifier spelled that way in",
           " * the including file (e.g. a variable named drm_gpuvm).",
           " *",
           " * Generated by tools/gen-compat.py; do not edit.",
           " */",
           "/* clang-format off */",
           "#ifndef GPUVM_COMPAT_DRM_H",
           "#define GPUVM_COMPAT_DRM_H",
           "",
           "#include <stddef.h>",
           "#include <stdint.h>",
           "",
           "#include <gpuvm/gpuvm.h>",
           "",
           "/* struct and enum tags */"]
    for ours in sorted(STRUCTS):
        out.append("#define %s %s" % (STRUCTS[ours], ours))
    out += ["#define drm_gpuvm_flags gpuvm_flags",
            "#define drm_gpuva_flags gpuva_flags",
            "#define drm_gpuva_op_type gpuva_op_type",
            "#define dma_resv_usage gpuvm_dma_resv_usage",
            "#define dma_data_direction gpuvm_dma_data_direction",
            "", "/* errors */",
            "#define ERR_PTR(e) gpuvm_err_ptr(e)",
            "#define PTR_ERR(p) gpuvm_ptr_err(p)",
            "#define IS_ERR(p) gpuvm_is_err(p)",
            "#define IS_ERR_OR_NULL(p) gpuvm_is_err_or_null(p)",
            "#define PTR_ERR_OR_ZERO(p) gpuvm_ptr_err_or_zero(p)",
            "", "/* functions, macros and constants */"]
    wrapped = {name for name, _ in WRAPPERS}
    for name, text in WRAPPERS:
        if not re.search(r"\b%s\(" % re.escape(name), text):
            raise SystemExit("gen-compat: wrapper %s does not define %s"
                             % (name, name))
    seen = {v for v in STRUCTS.values()} | wrapped
    for ours in sorted(names):
        theirs = kernel_name(ours)
        if not theirs or theirs in seen or theirs == ours:
            continue
        seen.add(theirs)
        out.append("#define %s %s" % (theirs, ours))
    out += ["", "/* the DRM device */", DRM_DEVICE, "",
            "/*",
            " * Kernel signatures: wrappers with the kernel's parameter lists where",
            " * libgpuvm's differ (tools/gen-compat.py, WRAPPERS).",
            " */"]
    for _, text in WRAPPERS:
        out += [text, ""]
    out += ["#endif /* GPUVM_COMPAT_DRM_H */", ""]
    return "\n".join(out)


def main():
    args = sys.argv[1:]
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    incdir = args[0] if args else "include/gpuvm"
    text = generate(incdir)
    if check:
        with open(os.path.join(incdir, "compat", "drm.h")) as f:
            if f.read() != text:
                print("include/gpuvm/compat/drm.h is out of date: run "
                      "tools/gen-compat.py include/gpuvm > "
                      "include/gpuvm/compat/drm.h")
                return 1
        print("compat/drm.h is up to date")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
