#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# gpuvm-replay --svg on every examples/*.trace, examples/v2/*.trace and
# the --demo trace: the SVG must be well-formed XML, the text output must
# be what it is without --svg (the .out file), and for each `dump` that
# succeeded, the mappings drawn in its row (the lane of the row's current
# VM, rect data-va attributes, in order) must be exactly the `va` lines
# the dump printed.
# Usage: check-svg.sh GPUVM_REPLAY EXAMPLES_DIR   (prints TAP)
set -u

replay=$1
dir=$2
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

if ! command -v python3 >/dev/null 2>&1; then
	echo "1..0 # SKIP no python3"
	exit 0
fi

cat >"$tmp/check.py" <<'PY'
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"
out_path, svg_path = sys.argv[1], sys.argv[2]

dumps = []
lines = open(out_path).read().split("\n")
i = 0
while i < len(lines):
    if lines[i] == "> dump":
        j = i + 1
        vas = []
        while j < len(lines) and lines[j].startswith("va "):
            vas.append(lines[j][3:])
            j += 1
        if j < len(lines) and lines[j] == "end":
            dumps.append(vas)
        i = j
    else:
        i += 1

try:
    root = ET.parse(svg_path).getroot()
except ET.ParseError as e:
    print("# not well-formed: %s" % e)
    sys.exit(1)

rows = [g for g in root.iter(NS + "g") if g.get("class") == "row"]
cmds = [int(g.get("data-cmd")) for g in rows]
if cmds != sorted(set(cmds)):
    print("# rows are not in command order")
    sys.exit(1)
drawn = []
for g in rows:
    if g.get("data-kind") != "dump":
        continue
    vm = g.get("data-vm")
    lanes = [l for l in g.iter(NS + "g")
             if l.get("class") == "lane" and l.get("data-vm") == vm]
    if len(lanes) != 1:
        print("# dump row %s: %d lanes for VM %r" %
              (g.get("data-cmd"), len(lanes), vm))
        sys.exit(1)
    drawn.append((g.get("data-cmd"),
                  [r.get("data-va") for r in lanes[0].iter(NS + "rect")
                   if r.get("class") == "va"]))

if root.get("data-clipped") != "0":
    dumps = dumps[:len(drawn)]
if len(drawn) != len(dumps):
    print("# %d dumps printed, %d dump rows drawn" % (len(dumps), len(drawn)))
    sys.exit(1)
for (cmd, got), want in zip(drawn, dumps):
    if got != want:
        print("# dump at command %s: drawn %s, printed %s" % (cmd, got, want))
        sys.exit(1)
print("# %d rows, %d dumps match" % (len(rows), len(dumps)))
PY

set -- "$dir"/*.trace "$dir"/v2/*.trace --demo
echo "1..$#"
n=0
failed=0
for trace in "$@"; do
	n=$((n + 1))
	if [ "$trace" = --demo ]; then
		name=demo
		"$replay" --svg "$tmp/pic.svg" --demo >"$tmp/out" 2>"$tmp/err"
		status=$?
		"$replay" --demo >"$tmp/expected" 2>/dev/null
		expected=$tmp/expected
	else
		name=$(basename "$(dirname "$trace")")/$(basename "$trace" .trace)
		"$replay" --svg "$tmp/pic.svg" "$trace" >"$tmp/out" 2>"$tmp/err"
		status=$?
		expected="${trace%.trace}.out"
	fi
	if [ "$status" -ne 0 ]; then
		echo "not ok $n - $name # exit status $status"
		sed -e 's/^/# /' "$tmp/err" | head -n 20
		failed=$((failed + 1))
	elif [ -f "$expected" ] && ! cmp -s "$tmp/out" "$expected"; then
		echo "not ok $n - $name # --svg changed the text output"
		failed=$((failed + 1))
	elif ! python3 "$tmp/check.py" "$tmp/out" "$tmp/pic.svg" >"$tmp/py"; then
		echo "not ok $n - $name"
		cat "$tmp/py"
		failed=$((failed + 1))
	else
		echo "ok $n - $name"
		cat "$tmp/py"
	fi
done
[ "$failed" -eq 0 ]
