# SPDX-License-Identifier: GPL-2.0
"""Unit tests of testbed/lockstep.py: parsing, comparison, the accepted list."""
import tempfile
import unittest
from pathlib import Path

import lockstep

LOG = """noise
@@RNVMX-LS family=entry first=0 hashes=0000000a,0000000b
| @@RNVMX-LS family=entry first=9 hashes=ffffffff
@@RNVMX-LS family=entry first=2 hashes=0000000c
@@RNVMX-LS family=insn first=0 hashes=00000001
"""


class LockstepTest(unittest.TestCase):
    def test_parse_takes_whole_lines_only(self):
        self.assertEqual(lockstep.parse(LOG), {
            "entry": {0: "0000000a", 1: "0000000b", 2: "0000000c"},
            "insn": {0: "00000001"}})

    def test_compare_reports_each_differing_and_missing_case(self):
        c = {"entry": {0: "a", 1: "b", 2: "c"}}
        rust = {"entry": {0: "a", 1: "x"}}
        res = lockstep.compare(c, rust, {("entry", 2): "known"})
        self.assertEqual(res["entry"][0], 2)
        self.assertEqual(res["entry"][1], [(1, "b", "x", None), (2, "c", "-", "known")])
        lines, bad = lockstep.report(res, "7,3,0")
        self.assertTrue(bad)
        self.assertIn("make lockstep LOCKSTEP=7,1,1", "\n".join(lines))

    def test_all_accepted_is_not_bad(self):
        res = lockstep.compare({"insn": {5: "a"}}, {"insn": {5: "b"}}, {("insn", 5): "why"})
        self.assertFalse(lockstep.report(res, "1,256,0")[1])
        same = lockstep.compare({"insn": {5: "a"}}, {"insn": {5: "a"}}, {})
        self.assertEqual(same["insn"], (1, []))

    def test_blob_family_reproduces_with_its_own_seed(self):
        res = lockstep.compare({"blob": {9: "a"}, "insn": {2: "a"}},
                               {"blob": {9: "b"}, "insn": {2: "b"}}, {})
        lines, bad = lockstep.report(res, {"blob": "5,100,0", None: "7,3,0"})
        text = "\n".join(lines)
        self.assertTrue(bad)
        self.assertIn("make blobs BLOBS=5,1,9", text)
        self.assertIn("make lockstep LOCKSTEP=7,1,2", text)

    def test_blob_lines_parse_as_a_family(self):
        log = "@@RNVMX-LS family=blob first=64 hashes=00000001,00000002\n"
        self.assertEqual(lockstep.parse(log), {"blob": {64: "00000001", 65: "00000002"}})

    def test_blob_difference_accepted_by_tag_only_where_masked_hash_agrees(self):
        acc = {("blob", "tag:1"): "rare sync", ("blob", "tag:2"): "shadow"}
        c = {"blob": {0: "a", 1: "a", 2: "a", 3: "a"},
             "blobmask": {0: "m", 1: "m", 2: "m", 3: "m"},
             "blobtag": {0: "00000001", 1: "00000000", 2: "00000003", 3: "00000001"}}
        rust = {"blob": {0: "b", 1: "b", 2: "b", 3: "b"},
                "blobmask": {0: "m", 1: "m", 2: "m", 3: "x"},
                "blobtag": {0: "00000001", 1: "00000000", 2: "00000003", 3: "00000001"}}
        res = lockstep.compare(c, rust, acc)
        self.assertEqual(res["blob"][1], [
            (0, "a", "b", "rare sync"),     # tagged, masked hashes agree
            (1, "a", "b", None),            # not tagged
            (2, "a", "b", "rare sync; shadow"),
            (3, "a", "b", None)])           # the masked hash differs too
        self.assertEqual([d[0] for d in res["blobmask"][1]], [3])
        self.assertTrue(lockstep.report(res, "1,4,0")[1])

    def test_accepted_list_format(self):
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "acc.txt"
            p.write_text("# comment\nentry 17 late VMfail  # why\n\ninsn 3 x\nblob tag:2 y z\n")
            self.assertEqual(lockstep.read_accepted(p),
                             {("entry", 17): "late VMfail", ("insn", 3): "x",
                              ("blob", "tag:2"): "y z"})


if __name__ == "__main__":
    unittest.main()
