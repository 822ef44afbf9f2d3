#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The build options a parent project relies on:
#  - -Dtests=disabled -Dbenchmarks=disabled builds the library and the
#    tool, and nothing else (no test, no benchmark, no example);
#  - used as a Meson subproject, libgpuvm registers no test and builds a
#    consumer that links it.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

meson setup "$tmp/min" -Dtests=disabled -Dbenchmarks=disabled >/dev/null
ninja -C "$tmp/min" >/dev/null
built=$(cd "$tmp/min" && find . -type f -perm -u+x ! -path '*.p/*' \
	! -path './meson-*' | LC_ALL=C sort | tr '\n' ' ')
want=$(cd "$tmp/min" && ls -1d ./src/libgpuvm.so.[0-9]*.[0-9]*.[0-9]* \
	./tools/replay/gpuvm-replay | grep -v '\.p$' | LC_ALL=C sort |
	tr '\n' ' ')
if [ "$built" != "$want" ]; then
	echo "-Dtests=disabled -Dbenchmarks=disabled built more than the library"
	echo "and the tool:"; echo "$built"; exit 1
fi
if [ "$(meson test -C "$tmp/min" --list 2>&1 | tail -n 1)" != "No tests defined." ]; then
	echo "-Dtests=disabled still registers tests"; exit 1
fi

mkdir -p "$tmp/parent/subprojects"
ln -s "$src" "$tmp/parent/subprojects/libgpuvm"
cat >"$tmp/parent/meson.build" <<'MESON'
project('parent', 'c')
gpuvm = dependency('libgpuvm', fallback: ['libgpuvm', 'libgpuvm_dep'])
executable('consumer', 'consumer.c', dependencies: gpuvm)
MESON
cat >"$tmp/parent/consumer.c" <<'C'
#include <gpuvm/gpuvm.h>
int main(void)
{
	struct gpuvm_gem_object *r_obj = gpuvm_resv_object_alloc();

	gpuvm_gem_object_put(r_obj);
	return 0;
}
C
(cd "$tmp/parent" && meson setup build >/dev/null && ninja -C build >/dev/null)
if [ "$(meson test -C "$tmp/parent/build" --list 2>&1 | tail -n 1)" != "No tests defined." ]; then
	echo "a subproject build registers tests:"
	meson test -C "$tmp/parent/build" --list | head; exit 1
fi
"$tmp/parent/build/consumer"
echo "build options: library and tool only; subproject: no tests, consumer runs"
