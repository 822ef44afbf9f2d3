#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generate the HTML API reference from the public headers' kernel-doc.

  gen-api-html.py INCLUDE_DIR OUT_DIR

Writes OUT_DIR/index.html (one page: every header, its overview comment,
then each documented function, macro-free declaration and struct with its
parameters or members, Context:, Return: and the rest of its text). The
comments follow the contract checked by tests/headers/check-docs.py.
"""
import html
import os
import re
import sys

BLOCK = re.compile(r"/\*\*(?P<body>.*?)\*/\s*(?P<decl>[^/#]*?(?:;|\{))",
                   re.S)
TOP = re.compile(r"^/\* SPDX[^\n]*\*/\s*/\*(?P<body>.*?)\*/", re.S)


def clean(body):
    lines = []
    for line in body.split("\n"):
        line = re.sub(r"^\s*\* ?", "", line)
        lines.append(line.rstrip())
    return "\n".join(lines).strip("\n")


def split_doc(text):
    """(title, [(name, desc)], [(section, text)])"""
    lines = text.split("\n")
    title = lines[0].strip() if lines else ""
    params, sections, cur = [], [], None
    for line in lines[1:]:
        m = re.match(r"^@([\w.]+|\.\.\.):\s*(.*)", line)
        s = re.match(r"^(Context|Return|Kernel parity):\s*(.*)", line)
        if m:
            cur = [m.group(1), m.group(2)]
            params.append(cur)
        elif s:
            cur = [s.group(1), s.group(2)]
            sections.append(cur)
        elif cur is not None and line.startswith((" ", "\t")) and line.strip():
            cur[1] += " " + line.strip()
        elif not line.strip():
            if cur is not None and cur in params:
                cur = None
            elif cur is not None:
                cur[1] += "\n"
        else:
            if cur is None or cur in params:
                cur = ["", line]
                sections.append(cur)
            else:
                cur[1] += " " + line.strip() if not cur[1].endswith("\n") \
                    else line.strip()
    return title, params, sections


def para(text):
    out = []
    for p in re.split(r"\n\s*\n|\n(?=\s*[-|])", text.strip()):
        p = p.strip()
        if p:
            out.append("<p>" + html.escape(p) + "</p>")
    return "\n".join(out)


def render_header(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    name = os.path.basename(path)
    parts = [f'<h2 id="{html.escape(name)}">&lt;gpuvm/{html.escape(name)}&gt;</h2>']
    top = TOP.search(text)
    if top:
        parts.append("<pre class=\"overview\">" + html.escape(clean(top.group("body")))
                     + "</pre>")
    for m in BLOCK.finditer(text):
        doc = clean(m.group("body"))
        decl = " ".join(m.group("decl").split()).rstrip("{").strip()
        title, params, sections = split_doc(doc)
        anchor = re.match(r"(struct\s+)?([\w]+)", title)
        aid = anchor.group(2) if anchor else ""
        parts.append(f'<div class="item" id="{html.escape(aid)}">')
        parts.append(f"<h3>{html.escape(title)}</h3>")
        parts.append(f"<pre class=\"decl\">{html.escape(decl)}</pre>")
        if params:
            parts.append("<dl>")
            for pname, desc in params:
                parts.append(f"<dt>{html.escape(pname)}</dt>"
                             f"<dd>{html.escape(desc.strip())}</dd>")
            parts.append("</dl>")
        for sec, body in sections:
            if sec:
                parts.append(f"<p><b>{html.escape(sec)}:</b> "
                             f"{html.escape(body.strip())}</p>")
            else:
                parts.append(para(body))
        parts.append("</div>")
    return "\n".join(parts)


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    inc, out = sys.argv[1], sys.argv[2]
    headers = sorted(f for f in os.listdir(inc) if f.endswith(".h"))
    os.makedirs(out, exist_ok=True)
    body = "\n".join(render_header(os.path.join(inc, h)) for h in headers)
    toc = " ".join(f'<a href="#{h}">{h}</a>' for h in headers)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>libgpuvm API reference</title>
<style>
body {{ font-family: sans-serif; max-width: 60em; margin: auto; }}
pre {{ background: #f4f4f4; padding: .5em; white-space: pre-wrap; }}
.item {{ border-top: 1px solid #ccc; margin-top: 1em; }}
dt {{ font-family: monospace; font-weight: bold; }}
nav a {{ margin-right: .6em; }}
</style></head><body>
<h1>libgpuvm API reference</h1>
<p>Generated from the kernel-doc comments of the public headers
(tools/gen-api-html.py). Start with docs/architecture.md.</p>
<nav>{toc}</nav>
{body}
</body></html>
"""
    with open(os.path.join(out, "index.html"), "w", encoding="utf-8") as f:
        f.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
