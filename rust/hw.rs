// SPDX-License-Identifier: GPL-2.0

//! VMREAD and VMWRITE of the CPU's current VMCS (vmcs01 or vmcs02).
//!
//! Every caller runs in a backend callback of a loaded vCPU (an exit handler
//! or a vCPU ioctl), so the current VMCS is the vCPU's `loaded_vmcs`; KVM
//! keeps it current across preemption (vcpu_load/vcpu_put). A failing
//! instruction (an encoding this CPU lacks) is not a fault: it is counted
//! and reads as 0, as KVM's vmread_error() handling does after its warning.

use core::arch::asm;

use crate::stats;
use crate::vmcs::encoding::Encoding;

/// VMREAD of `field` from the current VMCS.
#[inline]
pub(crate) fn read(field: Encoding) -> u64 {
    let value: u64;
    let failed: u8;
    // SAFETY: VMREAD with register operands touches no memory. The CPU is
    // in VMX root operation with the vCPU's VMCS current (module doc); a
    // VMfail only sets flags, read back with SETNA.
    unsafe {
        asm!(
            "vmread {value}, {field}",
            "setna {failed}",
            field = in(reg) u64::from(field.value()),
            value = out(reg) value,
            failed = out(reg_byte) failed,
            options(nostack),
        );
    }
    if failed != 0 {
        stats::VMCS_ERRORS.inc();
        return 0;
    }
    value
}

/// VMWRITE of `value` to `field` of the current VMCS.
#[inline]
pub(crate) fn write(field: Encoding, value: u64) {
    let failed: u8;
    // SAFETY: as for `read`: register operands only, current VMCS loaded.
    unsafe {
        asm!(
            "vmwrite {field}, {value}",
            "setna {failed}",
            field = in(reg) u64::from(field.value()),
            value = in(reg) value,
            failed = out(reg_byte) failed,
            options(nostack),
        );
    }
    if failed != 0 {
        stats::VMCS_ERRORS.inc();
    }
}

/// INVVPID of `ty` (0: one address, 1: one VPID, 2: all VPIDs) for `vpid`
/// and `address` (KVM's __invvpid()). The caller picks a type the CPU
/// supports (KVM required one of 1 and 2 to enable VPIDs).
pub(crate) fn invvpid(ty: u64, vpid: u16, address: u64) {
    let desc: [u64; 2] = [u64::from(vpid), address];
    // SAFETY: INVVPID only reads the 16-byte descriptor on our stack and
    // invalidates TLB entries; it faults only outside VMX root operation,
    // where no backend callback runs. A VMfail only sets flags, which
    // nothing reads here (KVM's own only logs it).
    unsafe {
        asm!(
            "invvpid {ty}, [{desc}]",
            ty = in(reg) ty,
            desc = in(reg) desc.as_ptr(),
            options(nostack, readonly),
        );
    }
}

/// VMPTRLD: makes the VMCS at physical address `pa` current.
///
/// # Safety
///
/// `pa` is the physical address of a VMCS region owned by the caller (a
/// kvm-intel allocation), with preemption disabled until the previous
/// VMCS is made current again.
pub(crate) unsafe fn vmptrld(pa: u64) {
    // SAFETY: the instruction reads the 8-byte operand on our stack; the
    // caller guarantees the region (function contract).
    unsafe {
        asm!("vmptrld [{p}]", p = in(reg) &pa, options(nostack, readonly));
    }
}

/// VMCLEAR of the VMCS at physical address `pa`.
///
/// # Safety
///
/// As for `vmptrld`.
pub(crate) unsafe fn vmclear(pa: u64) {
    // SAFETY: as for `vmptrld`.
    unsafe {
        asm!("vmclear [{p}]", p = in(reg) &pa, options(nostack, readonly));
    }
}
