# SPDX-License-Identifier: GPL-2.0
"""Unit test of testbed/core-share.py's line counting."""
import importlib.util
import tempfile
import unittest
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "core_share", Path(__file__).resolve().parent / "core-share.py")
core_share = importlib.util.module_from_spec(spec)
spec.loader.exec_module(core_share)


class CoreShare(unittest.TestCase):
    def test_counts_code_not_comments_tests_or_bindings(self):
        with tempfile.TemporaryDirectory() as d:
            top = Path(d)
            for sub in ("nested", "vmcs", "rust"):
                (top / sub).mkdir()
            (top / "nested" / "a.rs").write_text(
                "// c\n\nfn a() {}\nfn b() {}\n#[cfg(test)]\nmod tests {\n fn t() {}\n}\n")
            (top / "vmcs" / "tests.rs").write_text("fn t() {}\n")
            (top / "nested" / "mod.rs").write_text(
                "pub mod a;\n#[cfg(test)]\nmod model;\n#[cfg(any(test, feature = \"m\"))]\npub mod m2;\n")
            (top / "nested" / "model.rs").write_text("fn m() {}\n" * 9)
            (top / "nested" / "m2.rs").write_text("fn m() {}\n" * 9)
            (top / "vmcs" / "b.rs").write_text(
                "fn b() {}\n#[cfg(test)]\n#[path = \"b_tests.rs\"]\nmod tests;\n")
            (top / "vmcs" / "b_tests.rs").write_text("fn t() {}\n" * 20)
            (top / "rust" / "g.rs").write_text("fn g() {}\n")
            (top / "rust" / "bindings_generated.rs").write_text("fn x() {}\n" * 50)
            # a.rs's two functions, mod.rs's five lines and b.rs's four, not
            # model.rs, m2.rs or b_tests.rs.
            self.assertEqual(core_share.share(top), (11, 1))


if __name__ == "__main__":
    unittest.main()
