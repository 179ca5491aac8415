// SPDX-License-Identifier: GPL-2.0

//! Architectural outcomes of VMX instructions (SDM Vol. 3C 31.2 "Conventions"
//! and 31.4 "VM Instruction Error Numbers"), as values.

use super::layout::Vmcs12;

/// VM-instruction error numbers (SDM Vol. 3C 31.4), KVM's
/// `enum vm_instruction_error_number`. Only those KVM reports to L1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum VmInstructionError {
    /// VMCLEAR with invalid physical address.
    VmclearInvalidAddress = 2,
    /// VMCLEAR with VMXON pointer.
    VmclearVmxonPointer = 3,
    /// VMLAUNCH with non-clear VMCS.
    VmlaunchNonclearVmcs = 4,
    /// VMRESUME with non-launched VMCS.
    VmresumeNonlaunchedVmcs = 5,
    /// VM entry with invalid control field(s).
    EntryInvalidControlField = 7,
    /// VM entry with invalid host-state field(s).
    EntryInvalidHostStateField = 8,
    /// VMPTRLD with invalid physical address.
    VmptrldInvalidAddress = 9,
    /// VMPTRLD with VMXON pointer.
    VmptrldVmxonPointer = 10,
    /// VMPTRLD with incorrect VMCS revision identifier.
    VmptrldIncorrectVmcsRevisionId = 11,
    /// VMREAD/VMWRITE from/to unsupported VMCS component.
    UnsupportedVmcsComponent = 12,
    /// VMWRITE to read-only VMCS component.
    VmwriteReadOnlyVmcsComponent = 13,
    /// VMXON executed in VMX root operation.
    VmxonInVmxRootOperation = 15,
    /// VM entry with events blocked by MOV SS.
    EntryEventsBlockedByMovSs = 26,
    /// Invalid operand to INVEPT/INVVPID.
    InvalidOperandToInveptInvvpid = 28,
}

impl VmInstructionError {
    /// The number stored in the VM-instruction error field.
    pub const fn number(self) -> u32 {
        self as u32
    }
}

/// The outcome of a VMX instruction that completed (did not fault).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// VMsucceed: CF, PF, AF, ZF, SF, OF cleared.
    VmSucceed,
    /// VMfailInvalid (no current VMCS): CF set, the others cleared.
    VmFailInvalid,
    /// VMfailValid: ZF set, the others cleared, error number stored in the
    /// current VMCS.
    VmFailValid(VmInstructionError),
}

/// Arithmetic flags a VMX instruction outcome defines.
const ARITH_FLAGS: u64 = CF | PF | AF | ZF | SF | OF;
const CF: u64 = 1 << 0;
const PF: u64 = 1 << 2;
const AF: u64 = 1 << 4;
const ZF: u64 = 1 << 6;
const SF: u64 = 1 << 7;
const OF: u64 = 1 << 11;

impl Outcome {
    /// VMfail as KVM's `nested_vmx_fail()`: VMfailValid if there is a
    /// current VMCS to store the error in, else VMfailInvalid.
    pub const fn fail(has_current_vmcs: bool, error: VmInstructionError) -> Self {
        if has_current_vmcs {
            Outcome::VmFailValid(error)
        } else {
            Outcome::VmFailInvalid
        }
    }

    /// RFLAGS after the instruction.
    pub const fn rflags(self, rflags: u64) -> u64 {
        let cleared = rflags & !ARITH_FLAGS;
        match self {
            Outcome::VmSucceed => cleared,
            Outcome::VmFailInvalid => cleared | CF,
            Outcome::VmFailValid(_) => cleared | ZF,
        }
    }

    /// Records the outcome in the current VMCS (VMfailValid only).
    pub fn record(self, current: &mut Vmcs12) {
        if let Outcome::VmFailValid(e) = self {
            current.vm_instruction_error = e.number();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rflags_per_outcome() {
        let all = u64::MAX;
        assert_eq!(Outcome::VmSucceed.rflags(all) & ARITH_FLAGS, 0);
        assert_eq!(Outcome::VmFailInvalid.rflags(all) & ARITH_FLAGS, CF);
        let e = Outcome::VmFailValid(VmInstructionError::UnsupportedVmcsComponent);
        assert_eq!(e.rflags(0) & ARITH_FLAGS, ZF);
        // Other bits (IF, bit 1) are untouched.
        assert_eq!(Outcome::VmSucceed.rflags(0x202), 0x202);
    }

    #[test]
    fn fail_without_current_vmcs_is_invalid() {
        let e = VmInstructionError::VmwriteReadOnlyVmcsComponent;
        assert_eq!(Outcome::fail(false, e), Outcome::VmFailInvalid);
        assert_eq!(Outcome::fail(true, e), Outcome::VmFailValid(e));
    }

    #[test]
    fn failvalid_records_error_number() {
        let mut v = Vmcs12::zeroed();
        Outcome::VmFailValid(VmInstructionError::EntryInvalidControlField).record(&mut v);
        assert_eq!({ v.vm_instruction_error }, 7);
        Outcome::VmFailInvalid.record(&mut v);
        assert_eq!({ v.vm_instruction_error }, 7);
    }
}
