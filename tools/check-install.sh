#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install libgpuvm into a fresh prefix (the library and the tool only),
# then check what a consumer sees: a clean libgpuvm.pc (no include path of
# liburcu, nothing else required for a dynamic link), a program built with
# pkg-config, the installed gpuvm-replay and the installed TSan
# suppressions. Both programs must run without LD_LIBRARY_PATH.
# Usage: check-install.sh   (from anywhere; builds in a temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"

meson setup "$tmp/build" --prefix="$prefix" -Dtests=disabled \
	-Dbenchmarks=disabled >/dev/null
ninja -C "$tmp/build" >/dev/null
meson install -C "$tmp/build" --quiet >/dev/null

pc=$(find "$prefix" -name libgpuvm.pc | head -n 1)
[ -n "$pc" ] || { echo "libgpuvm.pc not installed"; exit 1; }
if grep -E '^Requires|x86_64-linux-gnu' "$pc" | grep -v '^libdir=' >/dev/null; then
	echo "libgpuvm.pc asks for more than -lgpuvm:"; cat "$pc"; exit 1
fi
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
unset LD_LIBRARY_PATH

cat >"$tmp/consumer.c" <<'C'
#include <gpuvm/gpuvm.h>
int main(void)
{
	struct gpuvm_gem_object *r_obj = gpuvm_resv_object_alloc();

	if (!r_obj)
		return 1;
	gpuvm_gem_object_put(r_obj);
	return gpuvm_is_err(gpuvm_err_ptr(-1)) ? 0 : 1;
}
C
libdir=$(pkg-config --variable=libdir libgpuvm)
# shellcheck disable=SC2046
cc "$tmp/consumer.c" -o "$tmp/consumer" $(pkg-config --cflags --libs libgpuvm) \
	-Wl,-rpath,"$libdir"
"$tmp/consumer"
"$prefix/bin/gpuvm-replay" --demo >/dev/null
[ -f "$prefix/share/libgpuvm/tsan.supp" ] ||
	{ echo "tsan.supp not installed"; exit 1; }
echo "install: consumer and gpuvm-replay run from $prefix without LD_LIBRARY_PATH;"
echo "libgpuvm.pc: $(pkg-config --cflags --libs libgpuvm)"
