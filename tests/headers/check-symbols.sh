#!/bin/sh
# SPDX-License-Identifier: MIT
# Every dynamic symbol the shared library defines must be gpuvm_/gpuva_.
lib="$1"
command -v nm >/dev/null 2>&1 || exit 77
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TDBR]/ {print $3}' | sed 's/@.*//')
[ -n "$syms" ] || { echo "no symbols exported from $lib"; exit 1; }
bad=$(echo "$syms" | grep -v -E '^(gpuvm_|gpuva_|LIBGPUVM_)' || true)
if [ -n "$bad" ]; then
	echo "unexpected exported symbols:"; echo "$bad"; exit 1
fi
echo "$(echo "$syms" | wc -l) symbols, all namespaced"
