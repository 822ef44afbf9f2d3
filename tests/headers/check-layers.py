#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check that no library file includes a header of a higher layer.

Layers, bottom up (docs/architecture.md):
  0 base       common, err, list, alloc, node_alloc, debug, mutex, parker,
               rcu, hook, kref, internal, version, testing, leaks, sched
  1 locking    ww_mutex, dma_fence, dma_fence_array, dma_resv
  2 objects    gem, exec
  3 vm         vm, va, va_index, vm_bo, vm_exec
  4 split/merge sm, ops
  5 device     device, devres, dma_map, shmem
  6 umbrella   gpuvm (everything), compat/*

A file's layer comes from its base name (src/X.c, src/X.h,
src/X_internal.h, include/gpuvm/X.h). A file may include headers of its
own layer and below. Usage:
  check-layers.py SOURCE_ROOT      check the tree (exit 1 on a violation)
  check-layers.py --self-test      show that an upward include is caught
"""
import os
import re
import shutil
import sys
import tempfile

LAYERS = [
    ("base", ["common", "err", "list", "alloc", "node_alloc", "debug",
              "mutex", "parker",
              "rcu", "hook", "kref", "internal", "version", "testing",
              "leaks", "sched", "sched_cond"]),
    ("locking", ["ww_mutex", "dma_fence", "dma_fence_array", "dma_resv"]),
    ("objects", ["gem", "exec"]),
    ("vm", ["vm", "va", "va_index", "vm_bo", "vm_exec", "dump"]),
    ("split/merge", ["sm", "ops"]),
    ("device", ["device", "devres", "dma_map", "shmem"]),
    ("umbrella", ["gpuvm", "drm", "kernel"]),
]
LAYER_OF = {name: i for i, (_, names) in enumerate(LAYERS) for name in names}
INCLUDE = re.compile(r'^\s*#\s*include\s+([<"])([^>"]+)[>"]', re.M)


def base_name(path):
    name = os.path.basename(path)
    name = re.sub(r"\.(c|h|h\.in)$", "", name)
    return re.sub(r"_internal$", "", name)


def layer(path):
    return LAYER_OF.get(base_name(path))


def files(root):
    for sub in ("src", "include/gpuvm", "include/gpuvm/compat"):
        d = os.path.join(root, sub)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            if f.endswith((".c", ".h", ".h.in")):
                yield os.path.join(d, f)


def check(root):
    errors = []
    for path in files(root):
        rel = os.path.relpath(path, root)
        mine = layer(path)
        if mine is None:
            errors.append(f"{rel}: no layer assigned (add it to "
                          f"tests/headers/check-layers.py)")
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for m in INCLUDE.finditer(text):
            kind, target = m.group(1), m.group(2)
            if kind == "<" and not target.startswith("gpuvm/"):
                continue  # system headers
            theirs = layer(target)
            if theirs is None:
                continue  # test-only or generated headers checked elsewhere
            if theirs > mine:
                line = text.count("\n", 0, m.start()) + 1
                errors.append(
                    f"{rel}:{line}: includes {target} of layer "
                    f"'{LAYERS[theirs][0]}' from layer '{LAYERS[mine][0]}'")
    for e in errors:
        print(e)
    print(f"{len(errors)} layer violation(s)" if errors else
          "layers: no upward include")
    return 1 if errors else 0


def self_test(root):
    tmp = tempfile.mkdtemp()
    try:
        for sub in ("src", "include/gpuvm"):
            shutil.copytree(os.path.join(root, sub), os.path.join(tmp, sub))
        if check(tmp) != 0:
            print("self-test: the tree itself is not clean")
            return 1
        victim = os.path.join(tmp, "src", "alloc.c")
        with open(victim, "a", encoding="utf-8") as f:
            f.write('\n#include <gpuvm/vm.h>\n')
        if check(tmp) == 0:
            print("self-test: an upward include was not caught")
            return 1
        print("self-test: an upward include is caught")
        return 0
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--self-test":
        sys.exit(self_test(sys.argv[2]))
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(check(sys.argv[1]))
