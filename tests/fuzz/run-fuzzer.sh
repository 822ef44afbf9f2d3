#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run a libFuzzer target for a while over its seed corpora, keeping what it
# finds in a scratch corpus in the build directory (never in the tree).
# Usage: run-fuzzer.sh FUZZER SCRATCH_DIR SECONDS SEED_DIR...
set -eu
fuzzer=$1 scratch=$2 seconds=$3
shift 3
mkdir -p "$scratch"
exec "$fuzzer" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
	-print_final_stats=1 -artifact_prefix="$scratch/" "$scratch" "$@"
