#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The documentation contract of the public headers.

Every exported function (GPUVM_EXPORT) and every public static inline
function of include/gpuvm/*.h has a kernel-doc comment right above it:

    /**
     * name() - one line saying what it does
     * @param: for every parameter
     *
     * ...
     * Context: locks it needs, whether it may sleep or allocate.
     * Return: what it returns (omitted for void functions).
     */

Several declarations may share one comment when it names each of them
(`a()`, `b()`) and documents every parameter of each. Names ending in `__`
are private helpers of public macros and are exempt.

Every public struct defined in a header has a kernel-doc comment
(`struct name - ...`) with an @member line for each member (members whose
name ends in `__` are private and exempt; members of an anonymous nested
struct are documented as @outer.inner or by @outer alone). Usage:
  check-docs.py INCLUDE_DIR              check (exit 1 on a gap)
  check-docs.py --self-test INCLUDE_DIR  show that a missing Return: line
                                         is caught
  check-docs.py --list INCLUDE_DIR       print every gap (same as check)
"""
import os
import re
import shutil
import sys
import tempfile

DECL = re.compile(
    r"(?P<pre>GPUVM_EXPORT\s+|static\s+inline\s+)"
    r"(?P<ret>(?:const\s+)?(?:struct\s+|enum\s+|unsigned\s+|signed\s+)?"
    r"\w+(?:\s+\w+)?[\s\*]+)"
    r"(?P<name>\w+)\s*\((?P<params>[^;{]*?)\)\s*"
    r"(?:GPUVM_\w+\([^)]*\)\s*)?[;{]",
    re.S)
COMMENT = re.compile(r"/\*\*(?P<body>.*?)\*/", re.S)


def param_names(params):
    params = params.strip()
    if params in ("", "void"):
        return []
    names = []
    depth = 0
    cur = ""
    for ch in params:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            names.append(cur)
            cur = ""
        else:
            cur += ch
    names.append(cur)
    out = []
    for p in names:
        p = p.strip()
        if p == "...":
            out.append("...")
            continue
        m = re.search(r"\(\s*\*\s*(\w+)\s*\)", p)  # function pointer
        if m:
            out.append(m.group(1))
            continue
        m = re.search(r"(\w+)\s*(\[[^\]]*\])?$", p)
        if m:
            out.append(m.group(1))
    return out


def preceding_comment(text, pos):
    """The /** */ block that ends right before @pos (blank lines and other
    declarations documented by the same block allowed)."""
    head = text[:pos]
    end = head.rfind("*/")
    if end < 0:
        return None
    start = head.rfind("/**", 0, end)
    if start < 0 or head.rfind("/*", 0, end) != start + 0 and \
            head.rfind("/*", 0, end) > start:
        return None
    between = head[end + 2:]
    # Only declarations, blank lines and attributes between the comment
    # and this declaration (a shared comment over a group).
    if re.search(r"/\*|#\s*define|^\s*struct\s+\w+\s*\{", between, re.M):
        return None
    return head[start + 3:end]


def check_file(path):
    gaps = []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for m in DECL.finditer(text):
        name = m.group("name")
        if name.endswith("__"):
            continue
        ret = m.group("ret").strip()
        line = text.count("\n", 0, m.start()) + 1
        where = f"{os.path.basename(path)}:{line}: {name}()"
        doc = preceding_comment(text, m.start())
        if doc is None:
            gaps.append(f"{where}: no kernel-doc comment")
            continue
        if not re.search(r"\b" + re.escape(name) + r"\(\)", doc):
            gaps.append(f"{where}: the comment does not name it")
        for p in param_names(m.group("params")):
            if p == "...":
                continue
            if not re.search(r"@" + re.escape(p) + r"\b", doc):
                gaps.append(f"{where}: parameter @{p} not described")
        if "Context:" not in doc:
            gaps.append(f"{where}: no Context: line")
        void = re.fullmatch(r"void", ret) is not None
        if not void and "Return:" not in doc:
            gaps.append(f"{where}: no Return: line")
    return gaps


STRUCT = re.compile(r"^struct\s+(\w+)\s*\{", re.M)


def struct_members(body):
    """Names of the direct members of a struct body (between its braces)."""
    names = []
    depth = 0
    stmt = ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if depth == 0 and ch == ";":
            st = re.sub(r"/\*.*?\*/", " ", stmt, flags=re.S).strip()
            stmt = ""
            if not st:
                continue
            if "}" in st:  # a nested struct or union: its member name
                st = st[st.rindex("}") + 1:]
            m = re.search(r"\(\s*\*\s*(\w+)\s*\)\s*\(", st)
            if m:
                names.append(m.group(1))
                continue
            st = re.sub(r"\[[^\]]*\]|:\s*\d+\s*$", "", st).strip()
            m = re.search(r"(\w+)\s*$", st)
            if m:
                names.append(m.group(1))
        elif depth >= 0:
            stmt += ch
    return names


def check_structs(path):
    gaps = []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for m in STRUCT.finditer(text):
        name = m.group(1)
        depth, i = 0, m.end() - 1
        while True:
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        body = text[m.end():i]
        line = text.count("\n", 0, m.start()) + 1
        where = f"{os.path.basename(path)}:{line}: struct {name}"
        doc = preceding_comment(text, m.start())
        if doc is None or not re.search(r"struct\s+" + name + r"\b", doc):
            gaps.append(f"{where}: no kernel-doc comment")
            continue
        for member in struct_members(body):
            if member.endswith("__"):
                continue
            if not re.search(r"@" + re.escape(member) + r"\b", doc):
                gaps.append(f"{where}: member @{member} not described")
    return gaps


def check(include_dir):
    gaps = []
    n = 0
    for f in sorted(os.listdir(include_dir)):
        if f.endswith(".h"):
            gaps += check_file(os.path.join(include_dir, f))
            gaps += check_structs(os.path.join(include_dir, f))
            n += 1
    for g in gaps:
        print(g)
    print(f"{len(gaps)} documentation gap(s) in {n} headers" if gaps else
          f"documentation: every public function of {n} headers documented")
    return 1 if gaps else 0


def self_test(include_dir):
    tmp = tempfile.mkdtemp()
    try:
        dst = os.path.join(tmp, "gpuvm")
        shutil.copytree(include_dir, dst)
        if check(dst) != 0:
            print("self-test: the headers themselves have gaps")
            return 1
        victim = os.path.join(dst, "vm.h")
        with open(victim, encoding="utf-8") as f:
            text = f.read()
        i = text.index(" * Return:")
        j = text.index("\n", i)
        with open(victim, "w", encoding="utf-8") as f:
            f.write(text[:i] + " *" + text[j:])
        if check(dst) == 0:
            print("self-test: a removed Return: line was not caught")
            return 1
        print("self-test: a removed Return: line is caught")
        return 0
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--self-test":
        sys.exit(self_test(sys.argv[2]))
    if len(sys.argv) == 3 and sys.argv[1] == "--list":
        sys.exit(check(sys.argv[2]))
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(check(sys.argv[1]))
