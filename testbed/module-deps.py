#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The module structure issue #12 asks for: no import cycle among the glue's
files (rust/*.rs, through `crate::NAME` paths), and vmcs/ not importing
nested/ (the VMCS model stands below the nested logic). Prints each
violation; exits 1 if there is one."""
import re
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent


def glue_graph(top=TOP):
    files = {p.stem: p for p in (top / "rust").glob("*.rs") if p.stem != "bindings_generated"}
    graph = {}
    for name, p in files.items():
        text = "\n".join(line for line in p.read_text().splitlines()
                         if not line.strip().startswith("//"))
        deps = set(re.findall(r"crate::([a-z_0-9]+)", text))
        graph[name] = sorted(d for d in deps if d in files and d != name)
    return graph


def cycles(graph):
    """Every elementary cycle's smallest rotation, found by DFS."""
    found = set()

    def dfs(node, path):
        for d in graph.get(node, ()):
            if d in path:
                c = path[path.index(d):]
                i = c.index(min(c))
                found.add(tuple(c[i:] + c[:i]))
            else:
                dfs(d, path + [d])

    for n in graph:
        dfs(n, [n])
    return sorted(found)


def vmcs_imports_nested(top=TOP):
    out = []
    for p in sorted((top / "vmcs").rglob("*.rs")):
        for i, line in enumerate(p.read_text().splitlines(), 1):
            if re.search(r"\bcrate::nested\b", line) and not line.strip().startswith("//"):
                out.append(f"{p.relative_to(top)}:{i}: {line.strip()}")
    return out


def main():
    bad = 0
    for c in cycles(glue_graph()):
        print("import cycle in rust/: " + " -> ".join(c + (c[0],)))
        bad = 1
    for v in vmcs_imports_nested():
        print("vmcs/ imports nested/: " + v)
        bad = 1
    if not bad:
        print("module structure: no import cycle in rust/; vmcs/ does not import nested/")
    return bad


if __name__ == "__main__":
    sys.exit(main())
