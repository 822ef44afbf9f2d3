#!/bin/sh
# SPDX-License-Identifier: MIT
# The shared library exports exactly the symbols of src/libgpuvm.sym, and
# that list is sorted. Usage: check-symbols.sh LIBGPUVM_SO LIBGPUVM_SYM
lib="$1"
list="$2"
command -v nm >/dev/null 2>&1 || exit 77
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

nm -D --defined-only "$lib" | awk '$2 ~ /[TDBRV]/ {print $3}' |
	sed 's/@.*//' | grep -v '^LIBGPUVM_' | sort -u >"$tmp/exported"
sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\);$/\1/p' "$list" |
	grep -v '^local$' >"$tmp/listed"
status=0
if ! LC_ALL=C sort -c "$tmp/listed" 2>/dev/null; then
	echo "$list is not sorted"
	status=1
fi
LC_ALL=C sort "$tmp/listed" >"$tmp/listed.sorted"
LC_ALL=C sort "$tmp/exported" >"$tmp/exported.sorted"
extra=$(comm -23 "$tmp/exported.sorted" "$tmp/listed.sorted")
missing=$(comm -13 "$tmp/exported.sorted" "$tmp/listed.sorted")
if [ -n "$extra" ]; then
	echo "exported but not in $list:"; echo "$extra"; status=1
fi
if [ -n "$missing" ]; then
	echo "in $list but not exported:"; echo "$missing"; status=1
fi
[ $status -eq 0 ] && echo "$(wc -l <"$tmp/exported") symbols, as listed"
exit $status
