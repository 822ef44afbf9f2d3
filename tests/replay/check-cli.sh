#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The gpuvm-replay command line: --help, --version, --strict, the reasons
# on stderr, and the exit statuses. Usage: check-cli.sh GPUVM_REPLAY
# (prints TAP)
set -u

replay=$1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
n=0
failed=0

# check NAME EXPECTED_STATUS GREP_PATTERN FILE -- command...
check() {
	local name=$1 want=$2 pattern=$3 file=$4
	shift 5
	"$@" >"$tmp/out" 2>"$tmp/err"
	local status=$?
	n=$((n + 1))
	if [ "$status" -ne "$want" ]; then
		echo "not ok $n - $name # exit status $status, want $want"
		sed -e 's/^/# /' "$tmp/err" | head -n 5
		failed=$((failed + 1))
	elif [ -n "$pattern" ] && ! grep -q -e "$pattern" "$tmp/$file"; then
		echo "not ok $n - $name # no '$pattern' in $file"
		sed -e 's/^/# /' "$tmp/$file" | head -n 10
		failed=$((failed + 1))
	else
		echo "ok $n - $name"
	fi
}

printf 'vm 0 0x10000\nbo a 0x1000\nmap 0 0x1000 a 0\n' >"$tmp/good.trace"
printf 'vm 0 0x10000\nbo a 0x1000\nmpa 0 0x1000 a 0\n' >"$tmp/typo.trace"
printf 'vm 0 0x10000\nmap 0 0x1000 nosuch 0\nput nosuch\n' >"$tmp/bad.trace"

echo "1..10"
check "--help prints the grammar" 0 'madvise ADDR RANGE' out -- \
	"$replay" --help
check "--version" 0 '^gpuvm-replay (libgpuvm) [0-9]' out -- \
	"$replay" --version
check "a good trace under --strict" 0 '' out -- \
	"$replay" --strict "$tmp/good.trace"
check "a typo is accepted without --strict" 0 'typo.trace:3: unknown command' \
	err -- "$replay" "$tmp/typo.trace"
check "a typo fails under --strict" 3 'typo.trace:3: unknown command' err -- \
	"$replay" --strict "$tmp/typo.trace"
check "a command error fails under --strict" 3 \
	'bad.trace:2: error ENOENT: no object named' err -- \
	"$replay" --strict "$tmp/bad.trace"
check "every error line has a reason" 0 'bad.trace:3: error ENOENT' err -- \
	"$replay" "$tmp/bad.trace"
check "an endless line is not read forever" 2 'line longer than' err -- \
	"$replay" /dev/zero
check "an unknown option" 2 'unknown option' err -- "$replay" --frobnicate
check "the demo runs two VMs" 0 '^> vm compositor' out -- "$replay" --demo
[ "$failed" -eq 0 ]
