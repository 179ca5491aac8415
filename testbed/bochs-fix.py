#!/usr/bin/env python3
"""Make the test bed's Bochs: Debian's bochs-bin 2.7 with the fix of
testbed/bochs/bochs-2.7-vmx-reevaluate-intr-mask-after-vmentry.patch.

Bochs 2.7 computes its interrupt masks at VMLAUNCH/VMRESUME while still in
VMX root mode, so a guest entered with RFLAGS.IF=0 and "external-interrupt
exiting" gets no external-interrupt VM exit until it exits for another
reason: an L2 spinning with IF=0 starves L0 of timer interrupts
(vmx_preemption_timer_test hangs on any KVM backend). The source fix calls
handleInterruptMaskChange() right after in_vmx_guest is set; Debian's
source is not reachable here, so this applies the same change to a copy of
Debian's binary (2.7+dfsg-4+deb12u1, amd64), checked by its SHA-256 and the
bytes it replaces: in BX_CPU_C::VMLAUNCH (VMLAUNCH and VMRESUME), the
inlined tail of unmask_event(BX_EVENT_INIT) after `movb $1, in_vmx_guest`
becomes `call handleInterruptMaskChange; movl $1, async_event` (an event
re-evaluation at the next instruction boundary, which covers the INIT test
it replaces). Every caller-saved register is redefined after it.

usage: bochs-fix.py SRC DST   (exit 1 if SRC is not that binary)
"""

import hashlib
import os
import struct
import sys

SHA256 = "5b8b1bbe782917bbe08c3511c0e74adb969b1ac86698ce823f396327689f3ebc"
OFFSET = 0x187FE4                      # after movb $1, in_vmx_guest(%rbx)
OLD = bytes.fromhex("f683b093000004740ac783b893000001000000")
HANDLE_INTERRUPT_MASK_CHANGE = 0x1B9330


def patched(data):
    if hashlib.sha256(data).hexdigest() != SHA256:
        return None
    if data[OFFSET:OFFSET + len(OLD)] != OLD:
        return None
    rel = HANDLE_INTERRUPT_MASK_CHANGE - (OFFSET + 3 + 5)
    new = (bytes.fromhex("4889df") + b"\xe8" + struct.pack("<i", rel)
           + bytes.fromhex("c783b89300000100000090"))
    assert len(new) == len(OLD)
    out = bytearray(data)
    out[OFFSET:OFFSET + len(OLD)] = new
    return bytes(out)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    out = patched(open(src, "rb").read())
    if out is None:
        sys.exit(f"{src} is not Debian's bochs-bin 2.7+dfsg-4+deb12u1 (sha256 {SHA256[:12]}...): "
                 "the test bed's Bochs fix does not apply")
    with open(dst + ".tmp", "wb") as f:
        f.write(out)
    os.chmod(dst + ".tmp", 0o755)
    os.replace(dst + ".tmp", dst)


if __name__ == "__main__":
    main()
