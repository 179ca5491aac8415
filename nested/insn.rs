// SPDX-License-Identifier: GPL-2.0

//! VMX instructions executed by L1: operand decoding (SDM Vol. 3C 28.2.5
//! "Information for VM Exits Due to Instruction Execution", table 28-13) and
//! KVM's decisions before emulation, as values: a fault, a VMX outcome, or
//! go on. KVM 6.12: `nested_vmx_check_permission()`, `handle_vmxon()`,
//! `handle_vmclear()`, `handle_vmptrld()`, `nested_vmx_run()`.

use crate::vmcs::layout::{VmcsHdr, VMCS12_REVISION};
use crate::vmcs::outcome::{Outcome, VmInstructionError};
use crate::vmcs::x86::page_address_valid;

/// A fault the instruction raises instead of completing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// #UD.
    InvalidOpcode,
    /// #GP(0).
    GeneralProtection,
}

/// What an instruction does: fault, complete with an outcome, or proceed
/// with its emulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Raise the fault; the instruction does not complete.
    Fault(Fault),
    /// Complete with this outcome.
    Complete(Outcome),
}

/// The VM-exit instruction-information field for VMX instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstructionInfo(pub u32);

impl InstructionInfo {
    /// Bits 1:0: scaling (index register multiplied by 1 << scaling).
    pub const fn scaling(self) -> u32 {
        self.0 & 3
    }
    /// Bits 6:3: register operand 1 (VMREAD destination, VMWRITE source).
    pub const fn reg1(self) -> u8 {
        ((self.0 >> 3) & 0xf) as u8
    }
    /// Bits 9:7: address size (0 16-bit, 1 32-bit, 2 64-bit).
    pub const fn address_size(self) -> u32 {
        (self.0 >> 7) & 7
    }
    /// Bit 10: the operand is a register, not memory.
    pub const fn is_register(self) -> bool {
        self.0 & (1 << 10) != 0
    }
    /// Bits 17:15: segment register.
    pub const fn segment(self) -> u8 {
        ((self.0 >> 15) & 7) as u8
    }
    /// Bits 21:18: index register, if bit 22 is clear.
    pub const fn index_reg(self) -> Option<u8> {
        if self.0 & (1 << 22) != 0 {
            None
        } else {
            Some(((self.0 >> 18) & 0xf) as u8)
        }
    }
    /// Bits 26:23: base register, if bit 27 is clear.
    pub const fn base_reg(self) -> Option<u8> {
        if self.0 & (1 << 27) != 0 {
            None
        } else {
            Some(((self.0 >> 23) & 0xf) as u8)
        }
    }
    /// Bits 31:28: register operand 2 (VMREAD/VMWRITE field encoding,
    /// INVEPT/INVVPID type).
    pub const fn reg2(self) -> u8 {
        ((self.0 >> 28) & 0xf) as u8
    }
}

/// KVM's `nested_vmx_check_permission()`, for every VMX instruction but
/// VMXON: #UD outside VMX operation, #GP(0) at CPL > 0.
pub const fn check_permission(in_vmx_operation: bool, cpl: u8) -> Result<(), Fault> {
    if !in_vmx_operation {
        Err(Fault::InvalidOpcode)
    } else if cpl != 0 {
        Err(Fault::GeneralProtection)
    } else {
        Ok(())
    }
}

/// IA32_FEATURE_CONTROL bits VMXON needs: lock and VMX outside SMX.
pub const FEATURE_CONTROL_VMXON: u64 = (1 << 0) | (1 << 2);

/// The vCPU state VMXON depends on before it reads its operand.
#[derive(Clone, Copy, Debug, Default)]
pub struct VmxonState {
    /// CR4.VMXE.
    pub cr4_vmxe: bool,
    /// Current privilege level.
    pub cpl: u8,
    /// Already in VMX operation.
    pub in_vmx_operation: bool,
    /// There is a current VMCS (decides VMfailValid or VMfailInvalid).
    pub has_current_vmcs: bool,
    /// CR0 satisfies IA32_VMX_CR0_FIXED0/1.
    pub cr0_valid: bool,
    /// CR4 satisfies IA32_VMX_CR4_FIXED0/1 and KVM's reserved bits.
    pub cr4_valid: bool,
    /// IA32_FEATURE_CONTROL.
    pub feature_control: u64,
}

/// KVM's `handle_vmxon()` up to reading the operand, in its order of
/// priority; `Ok` means: read the VMXON pointer and call [`vmxon_region`].
pub const fn vmxon_precheck(s: &VmxonState) -> Result<(), Decision> {
    if !s.cr4_vmxe {
        return Err(Decision::Fault(Fault::InvalidOpcode));
    }
    if s.cpl != 0 {
        return Err(Decision::Fault(Fault::GeneralProtection));
    }
    if s.in_vmx_operation {
        return Err(Decision::Complete(Outcome::fail(
            s.has_current_vmcs,
            VmInstructionError::VmxonInVmxRootOperation,
        )));
    }
    if !s.cr0_valid
        || !s.cr4_valid
        || s.feature_control & FEATURE_CONTROL_VMXON != FEATURE_CONTROL_VMXON
    {
        return Err(Decision::Fault(Fault::GeneralProtection));
    }
    Ok(())
}

/// VMXON's check of its region (SDM 31.3 "VMXON"): a legal, aligned address
/// whose first 32 bits are the VMCS revision (`revision`: `None` if the
/// memory could not be read).
pub const fn vmxon_region(
    vmptr: u64,
    maxphyaddr: u32,
    revision: Option<u32>,
) -> Result<(), Outcome> {
    if !page_address_valid(vmptr, maxphyaddr) {
        return Err(Outcome::VmFailInvalid);
    }
    match revision {
        Some(VMCS12_REVISION) => Ok(()),
        _ => Err(Outcome::VmFailInvalid),
    }
}

/// VMCLEAR's checks of its operand; `has_current_vmcs` decides between
/// VMfailValid and VMfailInvalid.
pub const fn vmclear_pointer(
    vmptr: u64,
    maxphyaddr: u32,
    vmxon_ptr: u64,
    has_current_vmcs: bool,
) -> Result<(), Outcome> {
    if !page_address_valid(vmptr, maxphyaddr) {
        return Err(Outcome::fail(
            has_current_vmcs,
            VmInstructionError::VmclearInvalidAddress,
        ));
    }
    if vmptr == vmxon_ptr {
        return Err(Outcome::fail(
            has_current_vmcs,
            VmInstructionError::VmclearVmxonPointer,
        ));
    }
    Ok(())
}

/// VMPTRLD's checks of its operand's address (`handle_vmptrld()` before
/// its eVMCS test): page-aligned within MAXPHYADDR, not the VMXON region.
pub const fn vmptrld_address(
    vmptr: u64,
    maxphyaddr: u32,
    vmxon_ptr: u64,
    has_current: bool,
) -> Result<(), Outcome> {
    if !page_address_valid(vmptr, maxphyaddr) {
        return Err(Outcome::fail(
            has_current,
            VmInstructionError::VmptrldInvalidAddress,
        ));
    }
    if vmptr == vmxon_ptr {
        return Err(Outcome::fail(
            has_current,
            VmInstructionError::VmptrldVmxonPointer,
        ));
    }
    Ok(())
}

/// VMPTRLD's checks of its operand; `hdr` is the header read from L1
/// memory (`None` if unbacked: "reads from an unbacked page return all 1s").
/// Only consulted when `vmptr` is not already current.
pub const fn vmptrld_pointer(
    vmptr: u64,
    maxphyaddr: u32,
    vmxon_ptr: u64,
    current_vmptr: Option<u64>,
    hdr: Option<VmcsHdr>,
    shadow_vmcs_allowed: bool,
) -> Result<(), Outcome> {
    let has_current = current_vmptr.is_some();
    if let Err(o) = vmptrld_address(vmptr, maxphyaddr, vmxon_ptr, has_current) {
        return Err(o);
    }
    if let Some(cur) = current_vmptr {
        if cur == vmptr {
            return Ok(());
        }
    }
    let bad = VmInstructionError::VmptrldIncorrectVmcsRevisionId;
    match hdr {
        Some(h)
            if h.revision_id() == VMCS12_REVISION && (!h.shadow_vmcs() || shadow_vmcs_allowed) =>
        {
            Ok(())
        }
        _ => Err(Outcome::fail(has_current, bad)),
    }
}

/// The state VMLAUNCH/VMRESUME check before the VM-entry checks
/// (`nested_vmx_run()`), for a vmcs12 loaded with VMPTRLD.
#[derive(Clone, Copy, Debug)]
pub struct RunState {
    /// VMLAUNCH (else VMRESUME).
    pub launch: bool,
    /// There is a current VMCS.
    pub has_current_vmcs: bool,
    /// The current VMCS is a shadow VMCS (`hdr.shadow_vmcs`).
    pub current_is_shadow: bool,
    /// Blocking by MOV SS is in effect.
    pub blocked_by_mov_ss: bool,
    /// vmcs12's launch state: 1 after VMLAUNCH, 0 after VMCLEAR.
    pub launched: bool,
}

/// VMLAUNCH/VMRESUME before the VM-entry checks (SDM 31.3 "VMLAUNCH/
/// VMRESUME"; KVM's `nested_vmx_run()`).
pub const fn run_precheck(s: &RunState) -> Result<(), Outcome> {
    if !s.has_current_vmcs || s.current_is_shadow {
        return Err(Outcome::VmFailInvalid);
    }
    if s.blocked_by_mov_ss {
        return Err(Outcome::VmFailValid(
            VmInstructionError::EntryEventsBlockedByMovSs,
        ));
    }
    if s.launched == s.launch {
        return Err(Outcome::VmFailValid(if s.launch {
            VmInstructionError::VmlaunchNonclearVmcs
        } else {
            VmInstructionError::VmresumeNonlaunchedVmcs
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use VmInstructionError as E;

    #[test]
    fn instruction_info_fields() {
        // VMREAD rax(0) <- field in rcx(1): reg1 0, register operand, reg2 1.
        let i = InstructionInfo((1 << 28) | (1 << 10));
        assert_eq!((i.reg1(), i.is_register(), i.reg2()), (0, true, 1));
        // VMPTRLD [rbx + rsi*8], ds: scaling 3, 64-bit, seg 3, index 6, base 3.
        let i = InstructionInfo(3 | (2 << 7) | (3 << 15) | (6 << 18) | (3 << 23));
        assert_eq!((i.scaling(), i.address_size(), i.segment()), (3, 2, 3));
        assert_eq!(
            (i.index_reg(), i.base_reg(), i.is_register()),
            (Some(6), Some(3), false)
        );
        let i = InstructionInfo((1 << 22) | (1 << 27));
        assert_eq!((i.index_reg(), i.base_reg()), (None, None));
    }

    #[test]
    fn permission() {
        assert_eq!(check_permission(false, 0), Err(Fault::InvalidOpcode));
        assert_eq!(check_permission(false, 3), Err(Fault::InvalidOpcode));
        assert_eq!(check_permission(true, 3), Err(Fault::GeneralProtection));
        assert_eq!(check_permission(true, 0), Ok(()));
    }

    fn ready() -> VmxonState {
        VmxonState {
            cr4_vmxe: true,
            cpl: 0,
            in_vmx_operation: false,
            has_current_vmcs: false,
            cr0_valid: true,
            cr4_valid: true,
            feature_control: 5,
        }
    }

    #[test]
    fn vmxon_priorities() {
        assert_eq!(vmxon_precheck(&ready()), Ok(()));
        let s = VmxonState {
            cr4_vmxe: false,
            cpl: 3,
            ..ready()
        };
        assert_eq!(
            vmxon_precheck(&s),
            Err(Decision::Fault(Fault::InvalidOpcode))
        );
        let s = VmxonState {
            cpl: 3,
            in_vmx_operation: true,
            ..ready()
        };
        assert_eq!(
            vmxon_precheck(&s),
            Err(Decision::Fault(Fault::GeneralProtection))
        );
        let s = VmxonState {
            in_vmx_operation: true,
            cr0_valid: false,
            ..ready()
        };
        assert_eq!(
            vmxon_precheck(&s),
            Err(Decision::Complete(Outcome::VmFailInvalid))
        );
        let s = VmxonState {
            has_current_vmcs: true,
            ..s
        };
        assert_eq!(
            vmxon_precheck(&s),
            Err(Decision::Complete(Outcome::VmFailValid(
                E::VmxonInVmxRootOperation
            )))
        );
        for s in [
            VmxonState {
                cr0_valid: false,
                ..ready()
            },
            VmxonState {
                cr4_valid: false,
                ..ready()
            },
            VmxonState {
                feature_control: 1,
                ..ready()
            },
            VmxonState {
                feature_control: 4,
                ..ready()
            },
        ] {
            assert_eq!(
                vmxon_precheck(&s),
                Err(Decision::Fault(Fault::GeneralProtection))
            );
        }
    }

    #[test]
    fn vmxon_region_checks() {
        assert_eq!(vmxon_region(0x1000, 46, Some(VMCS12_REVISION)), Ok(()));
        assert_eq!(
            vmxon_region(0x1008, 46, Some(VMCS12_REVISION)),
            Err(Outcome::VmFailInvalid)
        );
        assert_eq!(
            vmxon_region(1 << 46, 46, Some(VMCS12_REVISION)),
            Err(Outcome::VmFailInvalid)
        );
        assert_eq!(
            vmxon_region(0x1000, 46, Some(1)),
            Err(Outcome::VmFailInvalid)
        );
        assert_eq!(vmxon_region(0x1000, 46, None), Err(Outcome::VmFailInvalid));
    }

    #[test]
    fn vmclear_checks() {
        assert_eq!(vmclear_pointer(0x2000, 46, 0x1000, true), Ok(()));
        assert_eq!(
            vmclear_pointer(0x2001, 46, 0x1000, true),
            Err(Outcome::VmFailValid(E::VmclearInvalidAddress))
        );
        assert_eq!(
            vmclear_pointer(0x2001, 46, 0x1000, false),
            Err(Outcome::VmFailInvalid)
        );
        assert_eq!(
            vmclear_pointer(0x1000, 46, 0x1000, true),
            Err(Outcome::VmFailValid(E::VmclearVmxonPointer))
        );
    }

    #[test]
    fn vmptrld_checks() {
        let good = Some(VmcsHdr(VMCS12_REVISION));
        assert_eq!(
            vmptrld_pointer(0x2000, 46, 0x1000, None, good, false),
            Ok(())
        );
        assert_eq!(
            vmptrld_pointer(0x2000, 46, 0x1000, Some(0x3000), None, false),
            Err(Outcome::VmFailValid(E::VmptrldIncorrectVmcsRevisionId))
        );
        assert_eq!(
            vmptrld_pointer(0x2000, 46, 0x1000, None, None, false),
            Err(Outcome::VmFailInvalid)
        );
        // Reloading the current VMCS does not read its header again.
        assert_eq!(
            vmptrld_pointer(0x2000, 46, 0x1000, Some(0x2000), None, false),
            Ok(())
        );
        let shadow = Some(VmcsHdr(VMCS12_REVISION | 1 << 31));
        assert_eq!(
            vmptrld_pointer(0x2000, 46, 0x1000, Some(0x3000), shadow, false),
            Err(Outcome::VmFailValid(E::VmptrldIncorrectVmcsRevisionId))
        );
        assert_eq!(
            vmptrld_pointer(0x2000, 46, 0x1000, Some(0x3000), shadow, true),
            Ok(())
        );
        assert_eq!(
            vmptrld_pointer(0x1000, 46, 0x1000, Some(0x3000), good, false),
            Err(Outcome::VmFailValid(E::VmptrldVmxonPointer))
        );
        assert_eq!(
            vmptrld_pointer(0x2080, 46, 0x1000, Some(0x3000), good, false),
            Err(Outcome::VmFailValid(E::VmptrldInvalidAddress))
        );
    }

    #[test]
    fn run_checks() {
        let s = RunState {
            launch: true,
            has_current_vmcs: true,
            current_is_shadow: false,
            blocked_by_mov_ss: false,
            launched: false,
        };
        assert_eq!(run_precheck(&s), Ok(()));
        assert_eq!(
            run_precheck(&RunState {
                has_current_vmcs: false,
                ..s
            }),
            Err(Outcome::VmFailInvalid)
        );
        assert_eq!(
            run_precheck(&RunState {
                current_is_shadow: true,
                ..s
            }),
            Err(Outcome::VmFailInvalid)
        );
        assert_eq!(
            run_precheck(&RunState {
                blocked_by_mov_ss: true,
                launched: true,
                ..s
            }),
            Err(Outcome::VmFailValid(E::EntryEventsBlockedByMovSs))
        );
        assert_eq!(
            run_precheck(&RunState {
                launched: true,
                ..s
            }),
            Err(Outcome::VmFailValid(E::VmlaunchNonclearVmcs))
        );
        assert_eq!(
            run_precheck(&RunState { launch: false, ..s }),
            Err(Outcome::VmFailValid(E::VmresumeNonlaunchedVmcs))
        );
        assert_eq!(
            run_precheck(&RunState {
                launch: false,
                launched: true,
                ..s
            }),
            Ok(())
        );
    }
}
