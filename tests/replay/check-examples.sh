#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run gpuvm-replay on every examples/*.trace and compare its standard output
# with the matching .out byte for byte; the exit status must be 0.
# Usage: check-examples.sh GPUVM_REPLAY EXAMPLES_DIR   (prints TAP)
set -u

replay=$1
dir=$2
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

set -- "$dir"/*.trace
if [ ! -e "$1" ]; then
	echo "1..0 # SKIP no traces in $dir"
	exit 0
fi

echo "1..$#"
n=0
failed=0
for trace in "$@"; do
	n=$((n + 1))
	name=$(basename "$trace" .trace)
	expected="${trace%.trace}.out"
	"$replay" "$trace" >"$tmp/out" 2>"$tmp/err"
	status=$?
	if [ ! -f "$expected" ]; then
		echo "not ok $n - $name # no $name.out"
		failed=$((failed + 1))
	elif [ "$status" -ne 0 ]; then
		echo "not ok $n - $name # exit status $status"
		sed -e 's/^/# /' "$tmp/err" | head -n 20
		failed=$((failed + 1))
	elif ! cmp -s "$tmp/out" "$expected"; then
		echo "not ok $n - $name # output differs"
		diff -u "$expected" "$tmp/out" | head -n 40 | sed -e 's/^/# /'
		failed=$((failed + 1))
	else
		echo "ok $n - $name"
	fi
done
[ "$failed" -eq 0 ]
