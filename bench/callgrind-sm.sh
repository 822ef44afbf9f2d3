#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Instructions per split/merge request, counted by callgrind (exact and
# repeatable, unlike time): bench_sm builds its layout of N mappings, then
# runs REQUESTS requests; only the request chunks are counted (callgrind
# --toggle-collect=request_chunk), so building the layout, generating the
# requests and the final check are left out. The count is divided by the
# number of requests.
#
# usage: bench/callgrind-sm.sh BUILD_DIR [uniform|anchored] [N] [REQUESTS]
# e.g.   bench/callgrind-sm.sh build-rel anchored 100000 20000
set -eu

build=${1:?usage: $0 BUILD_DIR [uniform|anchored] [N] [REQUESTS]}
case_=${2:-uniform}
n=${3:-100000}
requests=${4:-20000}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

valgrind --tool=callgrind --callgrind-out-file="$out" \
	--toggle-collect=request_chunk \
	"$build/bench/bench_sm" --n "$n" --requests "$requests" \
	--case "$case_" >/dev/null 2>&1
total=$(sed -n 's/^summary: *//p' "$out")
awk -v t="$total" -v r="$requests" -v c="$case_" -v n="$n" 'BEGIN {
	printf "{\"bench\": \"sm-callgrind\", \"case\": \"%s\", \"n\": %d, " \
	       "\"requests\": %d, \"instructions\": %d, " \
	       "\"instructions_per_request\": %.0f}\n", c, n, r, t, t / r
}'
