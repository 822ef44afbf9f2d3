#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Compare the ABI of a built libgpuvm with the recorded one (abi/libgpuvm.abi)
# using abigail-tools. Any change but an added function fails: drivers embed
# struct gpuvm, struct gpuvm_bo, struct gpuva and the GEM object, so a layout
# change breaks them even when every symbol is still there.
#   tools/check-abi.sh BUILD_DIR            check
#   tools/check-abi.sh BUILD_DIR --update   record the ABI of BUILD_DIR (after
#                                           bumping the ABI version in
#                                           meson.build, or for additions)
set -euo pipefail
cd "$(dirname "$0")/.."
build=$1
lib=$(ls "$build"/src/libgpuvm.so.*.*.* | head -n 1)
record=abi/libgpuvm.abi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

command -v abidw >/dev/null || { echo "abigail-tools is not installed"; exit 1; }
abidw --no-show-locs --no-corpus-path --headers-dir include/gpuvm \
	--out-file "$tmp/now.abi" "$lib"
if [ "${2:-}" = "--update" ]; then
	cp "$tmp/now.abi" "$record"
	echo "recorded the ABI of $lib in $record"
	exit 0
fi
if abidiff --no-added-syms "$record" "$tmp/now.abi" >"$tmp/report"; then
	echo "ABI: unchanged (additions allowed) against $record"
	exit 0
fi
cat "$tmp/report"
echo
echo "ABI: $lib differs from $record. If intended, bump gpuvm_abi_version"
echo "in meson.build and the version node of src/libgpuvm.sym, then run"
echo "tools/check-abi.sh $build --update."
exit 1
