# SPDX-License-Identifier: GPL-2.0
"""Unit test of testbed/module-deps.py."""
import importlib.util
import tempfile
import unittest
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "module_deps", Path(__file__).resolve().parent / "module-deps.py")
module_deps = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module_deps)


class ModuleDeps(unittest.TestCase):
    def test_cycle_and_layering(self):
        with tempfile.TemporaryDirectory() as d:
            top = Path(d)
            (top / "rust").mkdir()
            (top / "vmcs").mkdir()
            (top / "rust" / "a.rs").write_text("use crate::b;\n")
            (top / "rust" / "b.rs").write_text("// crate::a in a comment\nuse crate::c::x;\n")
            (top / "rust" / "c.rs").write_text("use crate::a::y;\nuse crate::nested::z;\n")
            (top / "vmcs" / "v.rs").write_text("use crate::nested::q;\n")
            g = module_deps.glue_graph(top)
            self.assertEqual(module_deps.cycles(g), [("a", "b", "c")])
            (top / "rust" / "c.rs").write_text("use crate::nested::z;\n")
            self.assertEqual(module_deps.cycles(module_deps.glue_graph(top)), [])
            self.assertEqual(len(module_deps.vmcs_imports_nested(top)), 1)


if __name__ == "__main__":
    unittest.main()
