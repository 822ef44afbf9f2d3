#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the build in $1 into a temporary prefix, then build and run a
# two-line program against it through pkg-config.
set -euo pipefail
build_dir=${1:-build}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT

meson install -C "$build_dir" --destdir "$prefix" --quiet
root="$prefix$(meson introspect "$build_dir" --buildoptions |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')"
libdir=$(find "$root" -name libgpuvm.pc -printf '%h\n' | head -n 1)
[ -n "$libdir" ] || { echo "libgpuvm.pc not installed"; exit 1; }

export PKG_CONFIG_PATH="$libdir"
# The .pc carries the configured prefix; point it at the staged tree.
flags=$(pkg-config --define-variable=prefix="$root" --cflags --libs libgpuvm)
printf '#include <gpuvm/gpuvm.h>\nint main(void) { return gpuvm_is_err(gpuvm_err_ptr(-1)) ? 0 : 1; }\n' \
	>"$prefix/two_lines.c"
# shellcheck disable=SC2086
cc "$prefix/two_lines.c" -o "$prefix/two_lines" $flags
LD_LIBRARY_PATH="$(dirname "$(find "$root" -name 'libgpuvm.so' | head -n 1)")" \
	"$prefix/two_lines"
echo "installed headers, library and libgpuvm.pc work: $flags"
