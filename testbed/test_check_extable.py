#!/usr/bin/env python3
"""Unit tests of testbed/check-extable.py's reading of objdump and readelf."""
import importlib.util
import unittest
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "check_extable", Path(__file__).resolve().parent / "check-extable.py")
ce = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ce)

DIS = """
Disassembly of section .text:

0000000000000000 <read>:
      10:\tvmread %rax,%rcx
      13:\tsetbe  %dl
      16:\tjmp    20
      18:\tmov    $0x1,%esi
      20:\tret
      30:\tvmwrite %rcx,%rax
"""

RELA = """
Relocation section '.rela__ex_table' at offset 0x1234 contains 4 entries:
    Offset             Info             Type               Symbol's Value  Symbol's Name + Addend
0000000000000000  0000000200000002 R_X86_64_PC32          0000000000000000 .text + 10
0000000000000004  0000000200000002 R_X86_64_PC32          0000000000000000 .text + 18
000000000000000c  0000000200000002 R_X86_64_PC32          0000000000000000 .text + 30
0000000000000010  0000000200000002 R_X86_64_PC32          0000000000000000 .text + 38
Relocation section '.rela.text' at offset 0x2234 contains 1 entry:
0000000000000000  0000000200000002 R_X86_64_PC32          0000000000000000 .text + 30
"""


class Extable(unittest.TestCase):
    def test_every_instruction_covered(self):
        insns = ce.vmx_instructions(DIS)
        self.assertEqual([(s, o, m) for s, o, m in insns],
                         [(".text", 0x10, "vmread"), (".text", 0x30, "vmwrite")])
        entries = ce.extable_entries(RELA)
        self.assertEqual(entries, [((".text", 0x10), (".text", 0x18)),
                                   ((".text", 0x30), (".text", 0x38))])
        self.assertEqual(ce.problems(insns, entries), [])

    def test_missing_entry_is_a_problem(self):
        insns = ce.vmx_instructions(DIS)
        entries = ce.extable_entries(RELA)[:1]
        bad = ce.problems(insns, entries)
        self.assertEqual(len(bad), 1)
        self.assertIn("vmwrite at .text+0x30 has no exception-table entry", bad[0])

    def test_far_fixup_is_a_problem(self):
        insns = ce.vmx_instructions(DIS)
        entries = [((".text", 0x10), (".text", 0x400)), ((".text", 0x30), (".text", 0x38))]
        self.assertEqual(len(ce.problems(insns, entries)), 1)

    def test_out_of_line_fixup(self):
        insns = ce.vmx_instructions(DIS)
        entries = [((".text", 0x10), (ce.FIXUP_SECTION, 0)), ((".text", 0x30), (".other", 7))]
        bad = ce.problems(insns, entries)
        self.assertEqual(len(bad), 1)
        self.assertIn("vmwrite at .text+0x30", bad[0])


if __name__ == "__main__":
    unittest.main()
