// SPDX-License-Identifier: GPL-2.0

//! Checks on VMX controls (SDM 27.2.1): KVM's `nested_vmx_check_controls()`.
//!
//! Not here yet: `nested_evmcs_check_controls()`, which KVM adds when L1
//! uses the enlightened VMCS (see `crate::evmcs`).

use super::{cc, legal_aligned_gpa, legal_gpa, page_address_valid, Check, Vcpu};
use crate::vmcs::caps::{control_verify, ept_cap, misc};
use crate::vmcs::controls::{CpuBased, ExitControls, PinBased, Secondary, VmFunc, Vmcs12Controls};
use crate::vmcs::intr_info;
use crate::vmcs::layout::Vmcs12;

/// KVM's `nested_vmx_check_controls()`.
pub fn check_controls(v: &Vmcs12, vcpu: &impl Vcpu) -> Result<(), Check> {
    let c = Vmcs12Controls::of(v);
    check_execution_controls(v, &c, vcpu)?;
    check_exit_controls(v, &c, vcpu)?;
    check_entry_controls(v, &c, vcpu)
}

fn check_execution_controls(v: &Vmcs12, c: &Vmcs12Controls, vcpu: &impl Vcpu) -> Result<(), Check> {
    let m = vcpu.vmx_msrs();
    cc(
        control_verify(c.pin.bits(), m.pinbased_ctls_low, m.pinbased_ctls_high),
        Check::PinBasedControls,
    )?;
    cc(
        control_verify(c.cpu.bits(), m.procbased_ctls_low, m.procbased_ctls_high),
        Check::ProcBasedControls,
    )?;
    if c.cpu.contains(CpuBased::ACTIVATE_SECONDARY_CONTROLS) {
        cc(
            control_verify(c.sec.bits(), m.secondary_ctls_low, m.secondary_ctls_high),
            Check::SecondaryControls,
        )?;
    }
    let vmx_misc = u64::from(m.misc_low) | u64::from(m.misc_high) << 32;
    cc(
        u64::from(v.cr3_target_count) <= misc::cr3_count(vmx_misc),
        Check::Cr3TargetCount,
    )?;

    if c.cpu.contains(CpuBased::USE_IO_BITMAPS) {
        cc(page_address_valid(vcpu, v.io_bitmap_a), Check::IoBitmapA)?;
        cc(page_address_valid(vcpu, v.io_bitmap_b), Check::IoBitmapB)?;
    }
    if c.cpu.contains(CpuBased::USE_MSR_BITMAPS) {
        cc(page_address_valid(vcpu, v.msr_bitmap), Check::MsrBitmap)?;
    }
    if c.cpu.contains(CpuBased::TPR_SHADOW) {
        cc(
            page_address_valid(vcpu, v.virtual_apic_page_addr),
            Check::VirtualApicPage,
        )?;
    }
    if c.sec.contains(Secondary::VIRTUALIZE_APIC_ACCESSES) {
        cc(
            page_address_valid(vcpu, v.apic_access_addr),
            Check::ApicAccessPage,
        )?;
    }
    check_apicv_controls(v, c, vcpu)?;

    // NMI controls.
    cc(
        c.pin.contains(PinBased::NMI_EXITING) || !c.pin.contains(PinBased::VIRTUAL_NMIS),
        Check::VirtualNmisWithoutNmiExiting,
    )?;
    cc(
        c.pin.contains(PinBased::VIRTUAL_NMIS) || !c.cpu.contains(CpuBased::NMI_WINDOW_EXITING),
        Check::NmiWindowWithoutVirtualNmis,
    )?;

    if c.sec.contains(Secondary::ENABLE_PML) {
        cc(c.has_ept(), Check::PmlWithoutEpt)?;
        cc(page_address_valid(vcpu, v.pml_address), Check::PmlAddress)?;
    }
    cc(
        !c.sec.contains(Secondary::UNRESTRICTED_GUEST) || c.has_ept(),
        Check::UnrestrictedGuestWithoutEpt,
    )?;
    cc(
        !c.sec.contains(Secondary::MODE_BASED_EPT_EXEC) || c.has_ept(),
        Check::ModeBasedEptExecWithoutEpt,
    )?;
    if c.sec.contains(Secondary::SHADOW_VMCS) {
        cc(
            page_address_valid(vcpu, v.vmread_bitmap),
            Check::VmreadBitmap,
        )?;
        cc(
            page_address_valid(vcpu, v.vmwrite_bitmap),
            Check::VmwriteBitmap,
        )?;
    }
    cc(
        !c.sec.contains(Secondary::ENABLE_VPID) || v.virtual_processor_id != 0,
        Check::VpidZero,
    )?;
    cc(
        c.pin.contains(PinBased::VMX_PREEMPTION_TIMER)
            || !c.exit.contains(ExitControls::SAVE_VMX_PREEMPTION_TIMER),
        Check::SavePreemptionTimerWithoutTimer,
    )?;
    if c.has_ept() {
        check_eptp(v.ept_pointer, vcpu)?;
    }
    if c.sec.contains(Secondary::ENABLE_VMFUNC) {
        cc(
            v.vm_function_control & !m.vmfunc_controls == 0,
            Check::VmFunctionControls,
        )?;
        if VmFunc(v.vm_function_control).contains(VmFunc::EPTP_SWITCHING) {
            cc(c.has_ept(), Check::EptpSwitchingWithoutEpt)?;
            cc(
                page_address_valid(vcpu, v.eptp_list_address),
                Check::EptpListAddress,
            )?;
        }
    }
    Ok(())
}

/// KVM's `nested_vmx_check_apicv_controls()`.
fn check_apicv_controls(v: &Vmcs12, c: &Vmcs12Controls, vcpu: &impl Vcpu) -> Result<(), Check> {
    let x2apic = c.sec.contains(Secondary::VIRTUALIZE_X2APIC_MODE);
    let reg_virt = c.sec.contains(Secondary::APIC_REGISTER_VIRT);
    let vid = c.sec.contains(Secondary::VIRTUAL_INTR_DELIVERY);
    let posted = c.pin.contains(PinBased::POSTED_INTR);
    if !x2apic && !reg_virt && !vid && !posted {
        return Ok(());
    }
    cc(
        !(x2apic && c.sec.contains(Secondary::VIRTUALIZE_APIC_ACCESSES)),
        Check::X2apicModeWithApicAccess,
    )?;
    cc(
        !vid || c.pin.contains(PinBased::EXT_INTR_MASK),
        Check::VidWithoutExternalInterruptExiting,
    )?;
    if posted {
        cc(vid, Check::PostedIntrWithoutVid)?;
        cc(
            c.exit.contains(ExitControls::ACK_INTR_ON_EXIT),
            Check::PostedIntrWithoutAckOnExit,
        )?;
        cc(
            v.posted_intr_nv & 0xff00 == 0,
            Check::PostedIntrNotificationVector,
        )?;
        cc(
            legal_aligned_gpa(vcpu, v.posted_intr_desc_addr, 64),
            Check::PostedIntrDescriptor,
        )?;
    }
    cc(
        c.cpu.contains(CpuBased::TPR_SHADOW),
        Check::ApicvWithoutTprShadow,
    )
}

/// EPTP fields (SDM 25.6.11).
const EPTP_MT_MASK: u64 = 0x7;
const EPTP_MT_UC: u64 = 0;
const EPTP_MT_WB: u64 = 6;
const EPTP_PWL_MASK: u64 = 0x38;
const EPTP_PWL_4: u64 = 0x18;
const EPTP_PWL_5: u64 = 0x20;
const EPTP_AD_ENABLE: u64 = 1 << 6;

/// KVM's `nested_vmx_check_eptp()`, also used for EPTP switching.
pub fn check_eptp(eptp: u64, vcpu: &impl Vcpu) -> Result<(), Check> {
    let caps = vcpu.vmx_msrs().ept_caps;
    let mt_ok = match eptp & EPTP_MT_MASK {
        EPTP_MT_UC => caps & ept_cap::EPTP_UC != 0,
        EPTP_MT_WB => caps & ept_cap::EPTP_WB != 0,
        _ => false,
    };
    cc(mt_ok, Check::EptpMemoryType)?;
    let pwl_ok = match eptp & EPTP_PWL_MASK {
        EPTP_PWL_5 => caps & ept_cap::PAGE_WALK_5 != 0,
        EPTP_PWL_4 => caps & ept_cap::PAGE_WALK_4 != 0,
        _ => false,
    };
    cc(pwl_ok, Check::EptpPageWalkLength)?;
    cc(
        legal_gpa(vcpu, eptp) && (eptp >> 7) & 0x1f == 0,
        Check::EptpReservedBits,
    )?;
    cc(
        eptp & EPTP_AD_ENABLE == 0 || caps & ept_cap::AD != 0,
        Check::EptpAccessDirty,
    )
}

fn check_msr_switch(vcpu: &impl Vcpu, count: u32, addr: u64) -> bool {
    // KVM's nested_vmx_check_msr_switch(): 16-byte entries.
    count == 0
        || (legal_aligned_gpa(vcpu, addr, 16)
            && legal_gpa(
                vcpu,
                addr.wrapping_add(u64::from(count) * 16).wrapping_sub(1),
            ))
}

fn check_exit_controls(v: &Vmcs12, c: &Vmcs12Controls, vcpu: &impl Vcpu) -> Result<(), Check> {
    let m = vcpu.vmx_msrs();
    cc(
        control_verify(c.exit.bits(), m.exit_ctls_low, m.exit_ctls_high),
        Check::ExitControls,
    )?;
    cc(
        check_msr_switch(vcpu, v.vm_exit_msr_load_count, v.vm_exit_msr_load_addr),
        Check::ExitMsrLoadArea,
    )?;
    cc(
        check_msr_switch(vcpu, v.vm_exit_msr_store_count, v.vm_exit_msr_store_addr),
        Check::ExitMsrStoreArea,
    )
}

fn check_entry_controls(v: &Vmcs12, c: &Vmcs12Controls, vcpu: &impl Vcpu) -> Result<(), Check> {
    use intr_info::*;
    let m = vcpu.vmx_msrs();
    cc(
        control_verify(c.entry.bits(), m.entry_ctls_low, m.entry_ctls_high),
        Check::EntryControls,
    )?;

    let info = v.vm_entry_intr_info_field;
    if info & VALID != 0 {
        let vector = info & VECTOR_MASK;
        let ty = info & TYPE_MASK;
        let has_error_code = info & DELIVER_CODE != 0;
        let urg = c.sec.contains(Secondary::UNRESTRICTED_GUEST);
        let prot_mode = !urg || v.guest_cr0 & 1 != 0;
        let mtf = CpuBased(m.procbased_ctls_high).contains(CpuBased::MONITOR_TRAP_FLAG);

        cc(ty != TYPE_RESERVED, Check::EntryIntrTypeReserved)?;
        cc(
            ty != TYPE_OTHER_EVENT || mtf,
            Check::EntryIntrTypeOtherEvent,
        )?;
        cc(ty != TYPE_NMI || vector == 2, Check::EntryNmiVector)?;
        cc(
            ty != TYPE_HARD_EXCEPTION || vector <= 31,
            Check::EntryHardExceptionVector,
        )?;
        cc(
            ty != TYPE_OTHER_EVENT || vector == 0,
            Check::EntryOtherEventVector,
        )?;
        let should_have_error_code =
            ty == TYPE_HARD_EXCEPTION && prot_mode && exception_has_error_code(vector);
        cc(
            has_error_code == should_have_error_code,
            Check::EntryDeliverErrorCode,
        )?;
        cc(
            !has_error_code || v.vm_entry_exception_error_code & 0xffff_0000 == 0,
            Check::EntryExceptionErrorCode,
        )?;
        cc(info & RESERVED == 0, Check::EntryIntrInfoReserved)?;
        if matches!(
            ty,
            TYPE_SOFT_EXCEPTION | TYPE_SOFT_INTR | TYPE_PRIV_SW_EXCEPTION
        ) {
            let zero_len = u64::from(m.misc_low) & misc::ZERO_LEN_INS != 0;
            let len = v.vm_entry_instruction_len;
            cc(
                len <= 15 && (len != 0 || zero_len),
                Check::EntryInstructionLength,
            )?;
        }
    }
    cc(
        check_msr_switch(vcpu, v.vm_entry_msr_load_count, v.vm_entry_msr_load_addr),
        Check::EntryMsrLoadArea,
    )
}
