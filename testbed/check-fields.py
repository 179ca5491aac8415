#!/usr/bin/env python3
"""Compare `cargo run --example vmcs-fields` with KVM's own table.

KVM 6.12's vmcs12.c compiles to `vmcs12_field_offsets[]`, indexed by
ROL16(encoding, 6), 0 meaning "no such field". This reads that array out of
the built vmcs12.o and checks that the encoding -> offset pairs are exactly
those the Rust field table prints.
"""
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("RNVMX_CACHE", Path.home() / ".cache" / "rnvmx"))
OBJ = CACHE / "kbuild/arch/x86/kvm/vmx/vmcs12.o"


def kvm_table():
    nm = subprocess.run(["llvm-nm", "-S", str(OBJ)], capture_output=True, text=True, check=True)
    sym = next(l.split() for l in nm.stdout.splitlines() if l.endswith(" vmcs12_field_offsets"))
    start, size = int(sym[0], 16), int(sym[1], 16)
    with tempfile.TemporaryDirectory() as tmp:
        rodata = Path(tmp) / "rodata"
        subprocess.run(["llvm-objcopy", "-O", "binary", "--only-section=.rodata", str(OBJ), str(rodata)],
                       check=True)
        raw = rodata.read_bytes()[start:start + size]
    offsets = struct.unpack(f"<{size // 2}H", raw)
    table = {}
    for index, offset in enumerate(offsets):
        if offset:
            encoding = ((index >> 6) | (index << 10)) & 0xffff   # ROR16(index, 6)
            table[encoding] = offset
    return table


def rust_table():
    out = subprocess.run(["cargo", "run", "-q", "--example", "vmcs-fields"], cwd=TOP,
                         capture_output=True, text=True, check=True).stdout
    return {int(l.split()[0], 16): int(l.split()[1]) for l in out.splitlines()}


def main():
    c, rust = kvm_table(), rust_table()
    diff = sorted(set(c.items()) ^ set(rust.items()))
    for enc, off in diff:
        side = "only in C" if c.get(enc) == off else "only in Rust"
        print(f"  {enc:#06x} {off}: {side}")
    print(f"vmcs-fields: {len(rust)} Rust lines, {len(c)} entries in vmcs12.o; "
          f"{'identical' if not diff else f'{len(diff)} differences'}")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
