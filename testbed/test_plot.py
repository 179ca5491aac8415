#!/usr/bin/env python3
"""Unit tests of testbed/plot.py: the SVG is valid XML, shows every test and
benchmark name as text, is byte-identical across runs, and copes with a
missing bench.tsv and empty tables."""
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import plot  # noqa: E402  (matplotlib: Debian's python3-matplotlib, testbed/deps.sh)

AB = """backend\ttest\tstatus\tguest_seconds\tl2_entries\tfuture_column
c\tvmx_tsc_adjust_test\tPASS\t0.28\t1\tx
rust\tvmx_tsc_adjust_test\tPASS\t0.27\t1\tx
c\tvmx_preemption_timer_test\tHANG\t-\t0\tx
rust\thyperv_evmcs\tFAIL\t0.30\t0\tx
c\tl1/vmx_dirty_log_test\tSKIP\t-\t-\tx
rust\tl1/vmx_dirty_log_test\tPASS\t1.5\t3\tx
"""
BENCH = """backend\tbench\tops\tcycles_per_op\tnote
c\tl2_vmcall_roundtrip\t1000\t15715\t
rust\tl2_vmcall_roundtrip\t1000\t18430\t
c\tvmx_msrs_restore\t1200\t199\t
rust\tvmx_msrs_restore\t1200\t200\tnot handled by rnvmx
"""
TESTS = ["vmx_tsc_adjust_test", "vmx_preemption_timer_test", "hyperv_evmcs", "l1/vmx_dirty_log_test"]


def texts(svg):
    """Every text string in the SVG, one per <text> element."""
    root = ET.parse(svg).getroot()
    return ["".join(e.itertext()) for e in root.iter() if e.tag.endswith("}text") or e.tag == "text"]


class WriteSvg(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self._tmp.name)
        self.ab, self.bench = self.dir / "ab.tsv", self.dir / "bench.tsv"
        self.ab.write_text(AB)
        self.bench.write_text(BENCH)

    def tearDown(self):
        self._tmp.cleanup()

    def test_contents(self):
        out = self.dir / "ab.svg"
        plot.write_svg(self.ab, self.bench, out)
        self.assertTrue(out.is_file())
        found = texts(out)
        for name in TESTS + ["C (nested.c)", "Rust (rnvmx)", "l2_vmcall_roundtrip (rust/c 1.17x)",
                             "15715 cyc/op", "18430 cyc/op", "Tests: C: 1 PASS / Rust: 2 PASS (4 tests)",
                             "PASS", "L2=3", "HANG", "FAIL", "SKIP", "L2=-"]:
            self.assertIn(name, found)
        # Rust's msrs number has a note: no ratio, and the note is shown.
        self.assertIn("vmx_msrs_restore (rust/c n/a)", found)
        self.assertTrue(any("not handled by rnvmx" in t for t in found))

    def test_deterministic(self):
        first, second, cli = self.dir / "1.svg", self.dir / "2.svg", self.dir / "3.svg"
        plot.write_svg(self.ab, self.bench, first)
        plot.write_svg(self.ab, self.bench, second)
        self.assertEqual(first.read_bytes(), second.read_bytes())
        # A fresh process through the CLI gives the same bytes too.
        subprocess.run([sys.executable, str(HERE / "plot.py"), "--ab", str(self.ab),
                        "--bench", str(self.bench), "-o", str(cli)], check=True, capture_output=True)
        self.assertEqual(first.read_bytes(), cli.read_bytes())

    def test_unit_column(self):
        # ab.py's bench.tsv has a unit column: bytes are labelled as such,
        # the older files without it still read as cycles.
        self.bench.write_text(BENCH.replace("\tnote\n", "\tnote\tunit\n", 1)
                              + "c\tvcpu_vmx_memory\t64\t20352\t\tbytes\n"
                              + "rust\tvcpu_vmx_memory\t64\t20544\t\tbytes\n")
        out = self.dir / "unit.svg"
        plot.write_svg(self.ab, self.bench, out)
        found = texts(out)
        for name in ("20352 B/op", "20544 B/op", "15715 cyc/op", "vcpu_vmx_memory (rust/c 1.01x)"):
            self.assertIn(name, found)

    def test_missing_bench(self):
        out = self.dir / "sub" / "ab.svg"
        plot.write_svg(self.ab, self.dir / "no-such-bench.tsv", out)
        found = texts(out)
        self.assertIn("no benchmarks", found)
        for name in TESTS + ["C (nested.c)", "Rust (rnvmx)"]:
            self.assertIn(name, found)

    def test_empty_tables(self):
        empty, header_only, out = self.dir / "empty.tsv", self.dir / "header.tsv", self.dir / "e.svg"
        empty.write_text("")
        header_only.write_text("backend\ttest\tstatus\tguest_seconds\tl2_entries\n")
        for ab in (empty, header_only):
            plot.write_svg(ab, empty, out)
            found = texts(out)
            self.assertIn("no benchmarks", found)
            self.assertIn("no tests", found)


if __name__ == "__main__":
    unittest.main()
