#!/usr/bin/env python3
"""Make the test bed's Bochs: Debian's bochs-bin 2.7 with the fixes of
testbed/bochs/bochs-2.7-vmx-reevaluate-intr-mask-after-vmentry.patch and
testbed/bochs/bochs-2.7-vmx-nmi-blocking-from-vmcs-at-vmentry.patch.

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

Second fix: VMenterLoadCheckGuestState() sets the (virtual-)NMI blocking
event mask when the guest interruptibility state says "blocking by NMI" but
never clears it when it does not, so a blocking once loaded (KVM masks NMIs
around SMM, smm_test) stays in the emulated CPU across VM entries, exits and
VMs until a guest IRET, and every later VM exit stores "blocking by NMI".
As in newer Bochs, the masks of BX_EVENT_NMI (0x01) and
BX_EVENT_VMX_VIRTUAL_NMI (0x80) are cleared first, then set from the VMCS:
the 33 bytes from `test $0x8, %al` to the store of the event mask become
`andb $0x7e, mask; test $0x8, %al; je out; mov $1, %al; testb $0x20,
pin_ctls; je 1f; mov $0x80, %al; 1: or %al, mask; nop x3` (no jump lands
inside; %eax is reloaded right after).

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
# VMenterLoadCheckGuestState(): NMI blocking from the interruptibility state.
NMI_OFFSET = 0x185EF8
NMI_OLD = bytes.fromhex("a808741d8b83b493000089c20c8083ca01f683e88f0000200f44c28983b4930000")
NMI_NEW = bytes.fromhex("80a3b49300007e" "a808" "7413" "b001" "f683e88f000020" "7402" "b080"
                        "0883b4930000" "909090")


def patches():
    """(offset, old bytes, new bytes) of each fix."""
    rel = HANDLE_INTERRUPT_MASK_CHANGE - (OFFSET + 3 + 5)
    new = (bytes.fromhex("4889df") + b"\xe8" + struct.pack("<i", rel)
           + bytes.fromhex("c783b89300000100000090"))
    return [(OFFSET, OLD, new), (NMI_OFFSET, NMI_OLD, NMI_NEW)]


def patched(data):
    if hashlib.sha256(data).hexdigest() != SHA256:
        return None
    out = bytearray(data)
    for offset, old, new in patches():
        assert len(new) == len(old)
        if data[offset:offset + len(old)] != old:
            return None
        out[offset:offset + len(old)] = new
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
