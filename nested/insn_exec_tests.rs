// SPDX-License-Identifier: GPL-2.0

//! Tests of `insn_exec.rs`.

use super::*;
use crate::nested::insn::{Fault, FEATURE_CONTROL_VMXON};
use crate::nested::model::{Call, Model};
use crate::nested::model_entry::EntryCall;
use crate::nested::vcpu::KvmVcpu;
use crate::vmcs::layout::VMCS12_REVISION;
use crate::vmcs::outcome::VmInstructionError;

/// L1 at CPL 0, CR4.VMXE set, with a VMXON region at 0x1000 holding
/// the revision, and `vmptr` as the memory operand's value at 0x100.
fn l1(vmptr: u64) -> Model {
    let mut m = Model::in_l2(Vmcs12::default());
    m.on02 = false;
    m.insn.cr4 = cr4::VMXE;
    m.insn.msrs.cr0_fixed1 = u64::MAX;
    m.insn.msrs.cr4_fixed1 = u64::MAX;
    m.insn.feature_control = FEATURE_CONTROL_VMXON;
    m.insn.current_vmptr = INVALID_GPA;
    m.insn.operand = Some(0x100);
    m.write_gpa(0x100, &vmptr.to_le_bytes());
    for gpa in [0x1000, 0x2000, 0x3000] {
        m.write_gpa(gpa, &VMCS12_REVISION.to_le_bytes());
    }
    m
}

fn completed(m: &Model) -> Option<Outcome> {
    m.calls.iter().rev().find_map(|c| match c {
        Call::Complete(o) => Some(*o),
        _ => None,
    })
}

#[test]
fn vmxon_enters_vmx_operation_or_fails() {
    let mut m = l1(0x1000);
    assert_eq!(vmxon(&mut m), 1);
    assert_eq!(
        (completed(&m), m.insn.vmxon_ptr),
        (Some(Outcome::VmSucceed), 0x1000)
    );
    assert!(m.entry.vmxon);
    // In VMX operation already: VMfailInvalid without a current VMCS,
    // VMfailValid with one.
    vmxon(&mut m);
    assert_eq!(completed(&m), Some(Outcome::VmFailInvalid));
    m.entry.current_vmcs = true;
    vmxon(&mut m);
    let e = VmInstructionError::VmxonInVmxRootOperation;
    assert_eq!(completed(&m), Some(Outcome::VmFailValid(e)));
    // CR4.VMXE clear: #UD.
    let mut m = l1(0x1000);
    m.insn.cr4 = 0;
    vmxon(&mut m);
    assert_eq!(m.entry.calls, [EntryCall::Fault(Fault::InvalidOpcode)]);
    // -ENOMEM is the handler's value.
    let mut m = l1(0x1000);
    m.insn.enter_fails = Some(-12);
    assert_eq!(vmxon(&mut m), -12);
    assert_eq!(completed(&m), None);
}

#[test]
fn vmptrld_then_vmclear() {
    let mut m = l1(0x2000);
    m.entry.vmxon = true;
    m.insn.vmxon_ptr = 0x1000;
    vmptrld(&mut m);
    assert_eq!(
        (completed(&m), m.insn.current_vmptr),
        (Some(Outcome::VmSucceed), 0x2000)
    );
    // The VMXON region is no VMCS.
    m.write_gpa(0x100, &0x1000u64.to_le_bytes());
    vmptrld(&mut m);
    let e = VmInstructionError::VmptrldVmxonPointer;
    assert_eq!(completed(&m), Some(Outcome::VmFailValid(e)));
    // VMCLEAR of the current VMCS releases it and clears its launch state.
    m.write_gpa(0x2000 + LAUNCH_STATE_OFFSET, &1u32.to_le_bytes());
    m.write_gpa(0x100, &0x2000u64.to_le_bytes());
    vmclear(&mut m);
    // (VMPTRLD released the previous, absent, VMCS: once.)
    assert_eq!(
        (completed(&m), m.insn.released),
        (Some(Outcome::VmSucceed), 2)
    );
    assert_eq!(m.insn.current_vmptr, INVALID_GPA);
    let mut ls = [0u8; 4];
    assert!(m.read_gpa(0x2000 + LAUNCH_STATE_OFFSET, &mut ls));
    assert_eq!(u32::from_le_bytes(ls), 0);
}

#[test]
fn instructions_need_vmx_operation_and_cpl0() {
    for f in [vmxoff, vmclear, vmptrld, vmptrst, vmread, vmwrite] {
        let mut m = l1(0x2000);
        assert_eq!(f(&mut m), 1);
        assert_eq!(m.entry.calls, [EntryCall::Fault(Fault::InvalidOpcode)]);
        let mut m = l1(0x2000);
        m.entry.vmxon = true;
        m.entry.cpl = 3;
        f(&mut m);
        assert_eq!(m.entry.calls, [EntryCall::Fault(Fault::GeneralProtection)]);
    }
}

#[test]
fn an_evmcs_l1s_vmx_instructions() {
    use crate::evmcs::layout::HvEnlightenedVmcs;
    let mut m = l1(0x2000);
    m.entry.vmxon = true;
    m.entry.current_vmcs = true;
    m.insn.long_mode = true;
    m.insn.evmcs = Some(HvEnlightenedVmcs {
        guest_rip: 0x77,
        ..HvEnlightenedVmcs::default()
    });
    // VMREAD reads the eVMCS, not vmcs12.
    m.vmwrite(e::VMX_INSTRUCTION_INFO, (1 << 10) | (2 << 28) | (1 << 3));
    m.gprs[2] = u64::from(e::GUEST_RIP.value());
    vmread(&mut m);
    assert_eq!((m.gprs[1], completed(&m)), (0x77, Some(Outcome::VmSucceed)));
    m.gprs[2] = u64::from(e::POSTED_INTR_NV.value());
    vmread(&mut m);
    assert_eq!(
        completed(&m),
        Some(Outcome::VmFailValid(
            VmInstructionError::UnsupportedVmcsComponent
        ))
    );
    // VMWRITE: no VMCS loaded with VMPTRLD.
    m.gprs[2] = u64::from(e::GUEST_RIP.value());
    vmwrite(&mut m);
    assert_eq!(completed(&m), Some(Outcome::VmFailInvalid));
    assert_eq!({ m.vmcs12.unwrap_or_default().guest_rip }, 0);
    // VMPTRST and VMPTRLD return without completing (nested.c).
    let skips = m.insn.skips;
    m.insn.operand = Some(0x100);
    assert_eq!(vmptrst(&mut m), 1);
    assert_eq!(m.insn.skips, skips);
    // VMCLEAR is the eVMCS's: L1's memory keeps its launch state.
    m.insn.mem.insert(0x2000 + LAUNCH_STATE_OFFSET, 1);
    vmclear(&mut m);
    assert_eq!(m.insn.evmcs_vmclears, [0x2000]);
    assert_eq!(m.insn.mem.get(&(0x2000 + LAUNCH_STATE_OFFSET)), Some(&1));
    assert_eq!(completed(&m), Some(Outcome::VmSucceed));
}

#[test]
fn vmread_and_vmwrite_reach_vmcs12() {
    let mut m = l1(0x2000);
    m.entry.vmxon = true;
    m.entry.current_vmcs = true;
    m.insn.long_mode = true;
    // Register form (bit 10), field in R2, value in R1.
    m.vmwrite(e::VMX_INSTRUCTION_INFO, (1 << 10) | (2 << 28) | (1 << 3));
    m.gprs[2] = u64::from(e::GUEST_RIP.value());
    m.gprs[1] = 0x4242;
    vmwrite(&mut m);
    assert_eq!(completed(&m), Some(Outcome::VmSucceed));
    assert_eq!({ m.vmcs12.unwrap_or_default().guest_rip }, 0x4242);
    m.gprs[1] = 0;
    vmread(&mut m);
    assert_eq!(m.gprs[1], 0x4242);
    // No current VMCS: VMfailInvalid.
    m.entry.current_vmcs = false;
    vmwrite(&mut m);
    assert_eq!(completed(&m), Some(Outcome::VmFailInvalid));
}

#[test]
fn vmwrite_of_host_rsp_and_rip_is_a_shadowed_read_write_one() {
    // vmcs::table::SHADOWED_BEYOND_KVM: when their VMWRITE exits at all
    // (no VMCS shadowing), no rare sync and vmcs12 stays clean, as for
    // GUEST_RIP; HOST_CR3, not shadowed, syncs and dirties as in nested.c.
    let mut m = l1(0x2000);
    m.entry.vmxon = true;
    m.entry.current_vmcs = true;
    m.insn.long_mode = true;
    m.vmwrite(e::VMX_INSTRUCTION_INFO, (1 << 10) | (2 << 28) | (1 << 3));
    for (field, value) in [
        (e::HOST_RSP, 0x8000),
        (e::HOST_RIP, 0x9000),
        (e::GUEST_RIP, 1),
    ] {
        m.gprs[2] = u64::from(field.value());
        m.gprs[1] = value;
        vmwrite(&mut m);
        assert_eq!(completed(&m), Some(Outcome::VmSucceed));
        assert_eq!(
            (m.insn.rare_synced, m.entry.dirty_vmcs12),
            (0, false),
            "{field:?}"
        );
    }
    let v = m.vmcs12.unwrap_or_default();
    assert_eq!(({ v.host_rsp }, { v.host_rip }), (0x8000, 0x9000));
    assert!(m.insn.shadow_ro.is_empty());
    m.gprs[2] = u64::from(e::HOST_CR3.value());
    vmwrite(&mut m);
    assert_eq!((m.insn.rare_synced, m.entry.dirty_vmcs12), (1, true));
}

#[test]
fn vmfunc_outside_l2_is_ud_and_a_failed_function_exits_to_l1() {
    let mut m = l1(0);
    assert_eq!(vmfunc(&mut m), 1);
    assert_eq!(m.insn.uds, 1);
    let mut m = l1(0);
    m.insn.guest_mode = true;
    m.on02 = true;
    m.ev.exit_reason = 59;
    m.insn.vmfunc = Some(Vmfunc::ExitToL1);
    vmfunc(&mut m);
    assert_eq!({ m.vmcs12.unwrap_or_default().vm_exit_reason }, 59);
    let mut m = l1(0);
    m.insn.guest_mode = true;
    m.insn.vmfunc = Some(Vmfunc::Switch {
        eptp: 0x5000,
        flush_tlb: true,
    });
    vmfunc(&mut m);
    assert_eq!({ m.vmcs12.unwrap_or_default().ept_pointer }, 0x5000);
    assert_eq!((m.insn.eptp_switches, m.insn.skips), (1, 1));
    assert!(m.requests.contains(&Request::TlbFlushGuest));
}

/// An eVMCS L1's VMPTRLD, in nested.c's order: the operand's address
/// checks fail it, then (eVMCS in use) it returns without completing,
/// before the VMCS header is read, so a bad revision does not fail it.
#[test]
fn evmcs_l1_vmptrld_order() {
    use crate::evmcs::layout::HvEnlightenedVmcs;
    let evmcs_l1 = |vmptr: u64| {
        let mut m = l1(vmptr);
        m.entry.vmxon = true;
        m.insn.vmxon_ptr = 0x1000;
        m.insn.evmcs = Some(HvEnlightenedVmcs::default());
        m
    };
    // Not page aligned: VMfail (no current VMCS: VMfailInvalid).
    let mut m = evmcs_l1(0x2008);
    vmptrld(&mut m);
    assert_eq!(completed(&m), Some(Outcome::VmFailInvalid));
    // The VMXON region: VMfail too.
    let mut m = evmcs_l1(0x1000);
    vmptrld(&mut m);
    assert_eq!(completed(&m), Some(Outcome::VmFailInvalid));
    // A page whose revision is wrong: not completed, not failed.
    let mut m = evmcs_l1(0x3000);
    m.write_gpa(0x3000, &0xdead_beefu32.to_le_bytes());
    let skips = m.insn.skips;
    assert_eq!(vmptrld(&mut m), 1);
    assert_eq!((completed(&m), m.insn.skips), (None, skips));
}
