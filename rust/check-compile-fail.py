#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks that every compile_fail example of src/rules.rs fails for its
stated reason.

Stable rustdoc only checks that a compile_fail example does not compile;
a typo would make it pass. Each example carries a hidden line
`# // expect: [EXXXX] text`: this script compiles the example against the
crate (built by `cargo test`) and checks that the first error has that
code and contains that text.

Usage: check-compile-fail.py [TARGET_DIR]   (default: target)
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
target = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "target")
deps = os.path.join(target, "debug", "deps")
rlibs = glob.glob(os.path.join(deps, "libgpuvm-*.rlib"))
if not rlibs:
    sys.exit(f"no libgpuvm rlib in {deps}: run cargo test first")
rlib = max(rlibs, key=os.path.getmtime)

text = open(os.path.join(here, "src", "rules.rs")).read()
blocks = re.findall(r"//! ```compile_fail\n(.*?)//! ```\n", text, re.S)
failed = 0
with tempfile.TemporaryDirectory() as tmp:
    for i, block in enumerate(blocks):
        lines = [re.sub(r"^//! ?", "", l) for l in block.splitlines()]
        m = re.match(r"# // expect: (E\d{4} )?(.*)", lines[0])
        if not m:
            print(f"example {i}: no '# // expect:' line")
            failed += 1
            continue
        code, want = (m.group(1) or "").strip(), m.group(2)
        src = "\n".join(re.sub(r"^# ?", "", l) for l in lines[1:])
        path = os.path.join(tmp, f"example{i}.rs")
        with open(path, "w") as f:
            f.write("#![allow(unused)]\n" + src + "\nfn main() {}\n")
        r = subprocess.run(["rustc", "--edition", "2021", "--crate-type", "bin",
                            "-o", os.path.join(tmp, "out"), "-L", deps,
                            "--extern", f"gpuvm={rlib}", path],
                           capture_output=True, text=True)
        first = next((l for l in r.stderr.splitlines()
                      if l.startswith("error")), "")
        ok = (r.returncode != 0 and want in first and
              (not code or first.startswith(f"error[{code}]")))
        print(f"example {i}: {'ok' if ok else 'WRONG'}: {first}")
        if not ok:
            print(f"  expected: {code} {want}")
            failed += 1
print(f"{len(blocks) - failed}/{len(blocks)} compile_fail examples fail for their stated reason")
sys.exit(1 if failed else 0)
