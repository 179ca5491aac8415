#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Every VMX instruction in rnvmx.ko has an exception-table entry, as KVM's
own (vmx_ops.h, _ASM_EXTABLE): one whose instruction address is that
instruction and whose fixup lies in the same section just after it, or out
of line in a fixup section (rust/hw.rs's VMREAD/VMWRITE: FIXUP_SECTION).
Without one, a VMX instruction faulting after an emergency VMXOFF (reboot,
crash) is an Oops in the module instead of kvm_spurious_fault().

Reads `objdump -d` (the instructions) and `readelf -r` (the __ex_table
relocations: each 12-byte entry is insn, fixup, type; insn and fixup are
PC-relative references to a section symbol plus the label's offset)."""
import re
import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
VMX_INSNS = {"vmread", "vmwrite", "vmptrld", "vmclear", "vmptrst", "invvpid", "invept",
             "vmxon", "vmxoff", "vmlaunch", "vmresume", "vmcall", "vmfunc"}
# The fixup of an instruction is within this many bytes after it (the
# module's sequences: the instruction, SETNA, a short JMP, the fixup).
FIXUP_NEAR = 32
# Where rust/hw.rs puts the out-of-line fixups of VMREAD and VMWRITE.
FIXUP_SECTION = ".text.unlikely.rnvmx_fixup"

SECTION_RE = re.compile(r"^Disassembly of section (\S+):")
INSN_RE = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)")
RELA_RE = re.compile(r"^Relocation section '([^']+)'")
RELOC_RE = re.compile(r"^([0-9a-f]+)\s+[0-9a-f]+\s+(\S+)\s+[0-9a-f]+\s+(\S+)\s*\+\s*([0-9a-f]+)")


def vmx_instructions(objdump_text):
    """[(section, offset, mnemonic)] of the VMX instructions."""
    out, section = [], None
    for line in objdump_text.splitlines():
        m = SECTION_RE.match(line)
        if m:
            section = m.group(1)
            continue
        m = INSN_RE.match(line)
        if m and section and m.group(2) in VMX_INSNS:
            out.append((section, int(m.group(1), 16), m.group(2)))
    return out


def extable_entries(readelf_text):
    """[((section, offset) of the instruction, (section, offset) of the fixup)]."""
    fields, current = {}, None
    for line in readelf_text.splitlines():
        m = RELA_RE.match(line)
        if m:
            current = m.group(1)
            continue
        if current != ".rela__ex_table":
            continue
        m = RELOC_RE.match(line.strip())
        if m:
            place, _type, sym, addend = m.groups()
            fields[int(place, 16)] = (sym, int(addend, 16))
    entries = []
    for base in sorted(p for p in fields if p % 12 == 0):
        if base + 4 in fields:
            entries.append((fields[base], fields[base + 4]))
    return entries


def problems(insns, entries):
    """What is wrong: VMX instructions without an entry, or whose entry's
    fixup is not just after them in the same section."""
    by_insn = {}
    for insn, fixup in entries:
        by_insn.setdefault(insn, []).append(fixup)
    bad = []
    for section, off, mnem in insns:
        fixups = by_insn.get((section, off))
        if not fixups:
            bad.append(f"{mnem} at {section}+{off:#x} has no exception-table entry")
        elif not any((s == section and 0 < f - off <= FIXUP_NEAR) or s == FIXUP_SECTION
                     for s, f in fixups):
            bad.append(f"{mnem} at {section}+{off:#x}: fixup {fixups} neither just after it "
                       f"nor in {FIXUP_SECTION}")
    return bad


def main():
    ko = Path(sys.argv[1]) if len(sys.argv) > 1 else TOP / "rnvmx.ko"
    if not ko.exists():
        print(f"check-extable: {ko} missing: build the module first", file=sys.stderr)
        return 1
    dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(ko)],
                         check=True, capture_output=True, text=True).stdout
    rel = subprocess.run(["readelf", "-rW", str(ko)],
                         check=True, capture_output=True, text=True).stdout
    insns, entries = vmx_instructions(dis), extable_entries(rel)
    bad = problems(insns, entries)
    for b in bad:
        print(f"check-extable: {b}", file=sys.stderr)
    if not insns:
        print("check-extable: no VMX instruction found in the module", file=sys.stderr)
        return 1
    print(f"check-extable: {len(insns)} VMX instructions in {ko.name}, "
          f"{len(entries)} exception-table entries, {len(bad)} without a fixup")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
