#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Seed corpus for `cargo +nightly fuzz run state`: whole KVM_SET_NESTED_STATE
blobs (header, vmcs12, shadow vmcs12, then the target's two quadwords of vCPU
facts) for each kind of state KVM accepts: outside VMX operation, VMXON only,
a current VMCS, guest mode with and without a pending run, VMCS shadowing,
SMM, the preemption-timer deadline. Without them libFuzzer starts from tiny
inputs that never reach past the header (coverage 558 edges after 2 M runs,
1164 at once with the seeds). Offsets are struct vmcs12's (vmcs12.h's
CHECK_OFFSET); values are those of the KVM selftests' prepare_vmcs().

    python3 fuzz/state_seeds.py fuzz/corpus/state
"""
import struct
import sys
from pathlib import Path

INVALID = 0xFFFFFFFFFFFFFFFF


def header(flags, size, vmxon=0x1000, vmcs12=0x2000, smm=0, vmx_flags=0, deadline=0):
    h = bytearray(128)
    struct.pack_into("<HHIQQHHIQ", h, 0, flags, 0, size, vmxon, vmcs12, smm, 0, vmx_flags,
                     deadline)
    return h


def vmcs12(shadowing=False):
    v = bytearray(4096)
    for off, fmt, val in (
            (0, "I", 0x11E57ED0), (8, "I", 1),                      # revision, launch_state
            (176, "Q", 0x5000 if shadowing else INVALID),           # vmcs_link_pointer
            (200, "Q", 0x500), (264, "Q", 0x500),                   # guest/host IA32_EFER
            (424, "Q", 0x80000031), (440, "Q", 0x2020),             # guest CR0, CR4
            (544, "Q", 0x401000), (552, "Q", 0x2),                  # guest RIP, RFLAGS
            (584, "Q", 0x80000031), (592, "Q", 0x3000), (600, "Q", 0x2020),  # host CRs
            (664, "Q", 0x8000), (672, "Q", 0x402000),               # host RSP, RIP
            (744, "I", 0x16),                                       # pin-based
            (748, "I", 0x84006172 | (0x80000000 if shadowing else 0)),  # processor-based
            (768, "I", 0x36FFF), (780, "I", 0x13FF),                # exit, entry controls
            (804, "I", 0x4000 if shadowing else 0),                 # secondary
            (844, "I", 0xFFFFFFFF), (868, "I", 0x67),               # CS, TR limits
            (884, "I", 0xA09B), (888, "I", 0xC093), (904, "I", 0x10000), (908, "I", 0x8B),
            (984, "H", 0x8), (994, "H", 0x10)):                     # host CS, TR selectors
        struct.pack_into("<" + fmt, v, off, val)
    return v


def shadow():
    s = bytearray(4096)
    struct.pack_into("<I", s, 0, 0x11E57ED0 | 1 << 31)
    return s


def seeds():
    cpu = struct.pack("<QQ", 1 | (14 << 1), 0)  # VMX in CPUID, MAXPHYADDR 46
    pad = bytearray(8320 - 128)
    return {
        "outside": header(0, 128, vmxon=INVALID, vmcs12=INVALID) + pad + cpu,
        "vmxon": header(0, 128, vmcs12=INVALID) + pad + cpu,
        "vmcs12": header(0, 8320) + vmcs12() + shadow() + cpu,
        "guest": header(1, 8320) + vmcs12() + shadow() + cpu,
        "pending": header(3, 8320) + vmcs12() + shadow() + cpu,
        "shadowing": header(1, 8320) + vmcs12(True) + shadow() + cpu,
        "smm": header(0, 8320, smm=3) + vmcs12() + shadow() + cpu,
        "timer": header(1, 8320, vmx_flags=1, deadline=12345) + vmcs12() + shadow() + cpu,
    }


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus/state")
    out.mkdir(parents=True, exist_ok=True)
    for name, blob in seeds().items():
        (out / f"seed-{name}").write_bytes(bytes(blob))
    print(f"{len(seeds())} seeds in {out}")
