#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check that a file does not compile while its control file does.

  compile-fails.py BAD.c GOOD.c [compiler flags...] -- CC [CC args...]

Both files are compiled (-fsyntax-only -Werror) with the same command and
flags: GOOD.c must compile, so a broken set-up is not mistaken for the
expected failure; BAD.c must not.
"""
import subprocess
import sys


def compile_ok(cmd, path):
    proc = subprocess.run(cmd + [path], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    return proc.returncode == 0, proc.stdout


def main():
    args = sys.argv[1:]
    if "--" not in args or len(args) < 4:
        print(__doc__)
        return 2
    sep = args.index("--")
    bad, good, flags = args[0], args[1], args[2:sep]
    cmd = args[sep + 1:] + ["-fsyntax-only", "-Werror", "-Wall", "-Wextra"]
    cmd += flags
    ok, out = compile_ok(cmd, good)
    if not ok:
        print("control file %s does not compile:\n%s" % (good, out))
        return 1
    ok, out = compile_ok(cmd, bad)
    if ok:
        print("%s compiled, but must not" % bad)
        return 1
    print("%s fails to compile, as it must:\n%s" % (bad, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
