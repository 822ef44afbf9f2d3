#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Plant a driver mistake in a copy of an example, and check the report.

  plant.py make SRC OUT MISTAKE   write SRC with MISTAKE planted to OUT
  plant.py check EXE RULE NAME    run EXE; its stderr must name RULE and NAME

The mistakes, planted in examples/vm_bind_immediate.c:
  leaked-ref   the job thread forgets one of its deferred vm_bo puts
  zombie       the cleanup worker never calls gpuvm_bo_deferred_cleanup()
  gem-locked   the last GEM reference is dropped under its own gpuva mutex
"""
import subprocess
import sys

# Each mistake is one or more (old, new) replacements; the example's own
# checks that would notice the leaked reference first are taken out too.
PLANTS = {
    "leaked-ref": [
        ("for (i = 0; i < job->nr; i++)\n\t\tgpuvm_bo_put_deferred",
         "for (i = 1; i < job->nr; i++)\n\t\tgpuvm_bo_put_deferred"),
        ("check(nr_vas_of(vm2, shared_bo) == -1, \"zombie not found\");",
         "(void)0; /* planted: the example's own check taken out */"),
        ("check(atomic_load(&nr_vm_bo_freed) == freed + 1, \"zombie freed\");",
         "(void)freed; /* planted: the example's own check taken out */"),
    ],
    "zombie": [("\t\tgpuvm_bo_deferred_cleanup(gpuvm);\n",
                "\t\t(void)gpuvm; /* planted: no cleanup */\n")],
    "gem-locked": [("\tgpuvm_gem_object_put(shared_bo);\n",
                    "\tgpuvm_gem_gpuva_lock(shared_bo); /* planted */\n"
                    "\tgpuvm_gem_object_put(shared_bo);\n")],
}


def make(src, out, mistake):
    with open(src, encoding="utf-8") as f:
        text = f.read()
    for old, new in PLANTS[mistake]:
        if text.count(old) != 1:
            sys.exit(f"plant.py: the place for '{mistake}' is not in {src}")
        text = text.replace(old, new)
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)


def check(exe, rule, name):
    r = subprocess.run([exe], capture_output=True, text=True, timeout=120,
                       env={"GPUVM_WARN": "print", "PATH": "/usr/bin:/bin"})
    report = [l for l in r.stderr.splitlines() if f"[{rule}]" in l]
    if not report:
        print(f"no [{rule}] report; stderr was:\n{r.stderr}")
        return 1
    if not any(name in l for l in report):
        print(f"the [{rule}] report does not name {name}:\n" +
              "\n".join(report))
        return 1
    print(report[0])
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3], sys.argv[4])
        sys.exit(0)
    if len(sys.argv) == 5 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4]))
    print(__doc__)
    sys.exit(2)
