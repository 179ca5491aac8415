#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The share of rnvmx's non-test Rust lines that are the hardware-independent
core (nested/, vmcs/, shadow/, evmcs/: what cargo tests and fuzzers reach)
rather than the kernel glue (rust/, without the generated bindings). Counts
lines that are not blank or comments, up to a file's `#[cfg(test)] mod tests`;
test-only files (tests.rs, proptests.rs, examples) are left out."""
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


def share(top=TOP):
    core = sum(code_lines(p) for d in CORE for p in (top / d).rglob("*.rs")
               if p.name not in TEST_ONLY and "examples" not in p.parts)
    glue = sum(code_lines(p) for p in (top / "rust").glob("*.rs")
               if p.name != "bindings_generated.rs")
    return core, glue


if __name__ == "__main__":
    core, glue = share()
    print(f"core share: {core} of {core + glue} non-test Rust lines "
          f"({100 * core / (core + glue):.1f} %); glue (rust/) {glue}")
    sys.exit(0)
