#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The share of rnvmx's non-test Rust lines that are the hardware-independent
core (nested/, vmcs/, shadow/, evmcs/: what cargo tests and fuzzers reach)
rather than the kernel glue (rust/, without the generated bindings). Counts
lines that are not blank or comments, up to a file's `#[cfg(test)] mod tests`;
test-only files are left out: tests.rs, proptests.rs, examples, every
module a mod.rs declares under a cfg naming `test` (the cargo tests' model
vCPU, which the fuzzers may also enable), and every file a
`#[cfg(test)] #[path = "..."] mod tests;` names."""
import re
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
CORE = ("nested", "vmcs", "shadow", "evmcs")
TEST_ONLY = ("tests.rs", "proptests.rs")


def code_lines(path):
    text = path.read_text()
    m = re.search(r"\n#\[cfg\(test\)\]\s*\nmod tests", text)
    if m:
        text = text[:m.start()]
    return sum(1 for line in text.splitlines()
               if line.strip() and not line.strip().startswith("//"))


TEST_MOD = re.compile(r"#\[cfg\([^\]]*\btest\b[^\]]*\)\]\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+(\w+)\s*;")


# A test module in a file of its own: `#[cfg(test)] #[path = "x_tests.rs"] mod tests;`.
TEST_PATH_MOD = re.compile(r"#\[cfg\([^\]]*\btest\b[^\]]*\)\]\s*#\[path\s*=\s*\"([^\"]+)\"\]\s*mod\s+\w+\s*;")


def test_only_modules(top):
    """Files of modules declared under a cfg that names `test`: by a mod.rs,
    or by any file with a #[path] attribute (relative to that file)."""
    out = set()
    for d in CORE:
        for m in (top / d).rglob("mod.rs"):
            for name in TEST_MOD.findall(m.read_text()):
                out.add(m.parent / f"{name}.rs")
        for f in (top / d).rglob("*.rs"):
            for rel in TEST_PATH_MOD.findall(f.read_text()):
                out.add(f.parent / rel)
    return out


def share(top=TOP):
    skip = test_only_modules(top)
    core = sum(code_lines(p) for d in CORE for p in (top / d).rglob("*.rs")
               if p.name not in TEST_ONLY and "examples" not in p.parts and p not in skip)
    glue = sum(code_lines(p) for p in (top / "rust").glob("*.rs")
               if p.name != "bindings_generated.rs")
    return core, glue


if __name__ == "__main__":
    core, glue = share()
    print(f"core share: {core} of {core + glue} non-test Rust lines "
          f"({100 * core / (core + glue):.1f} %); glue (rust/) {glue}")
    sys.exit(0)
