// SPDX-License-Identifier: GPL-2.0

//! Checks on the host-state area (SDM 27.2.2 - 27.2.4): KVM's
//! `nested_vmx_check_address_space_size()` and `nested_vmx_check_host_state()`.

use super::{cc, fixed_bits_valid, is_canonical, legal_gpa, pat_valid, Check, Vcpu};
use crate::vmcs::controls::{EntryControls, ExitControls, Vmcs12Controls};
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::x86::{cr0, cr4, efer};

const CR3_LAM_U57: u64 = 1 << 61;
const CR3_LAM_U48: u64 = 1 << 62;
/// Selector RPL (bits 1:0) and TI (bit 2).
const SELECTOR_RPL_TI: u16 = 0x7;

/// KVM's `nested_vmx_check_address_space_size()`: a 64-bit L1 must return
/// to 64-bit mode, and only it.
pub fn check_address_space_size(v: &Vmcs12, vcpu: &impl Vcpu) -> Result<(), Check> {
    let host_64 = ExitControls(v.vm_exit_controls).contains(ExitControls::HOST_ADDR_SPACE_SIZE);
    cc(host_64 == vcpu.efer_lma(), Check::AddressSpaceSize)
}

/// KVM's `nested_cr4_valid()`: fixed bits and bits reserved for the vCPU.
pub(crate) fn cr4_valid(vcpu: &impl Vcpu, cr4: u64) -> bool {
    let m = vcpu.vmx_msrs();
    fixed_bits_valid(cr4, m.cr4_fixed0, m.cr4_fixed1) && cr4 & vcpu.cr4_reserved_bits() == 0
}

/// KVM's `nested_vmx_check_host_state()`.
pub fn check_host_state(v: &Vmcs12, vcpu: &impl Vcpu) -> Result<(), Check> {
    let c = Vmcs12Controls::of(v);
    let m = vcpu.vmx_msrs();
    let ia32e = c.exit.contains(ExitControls::HOST_ADDR_SPACE_SIZE);
    let msr_bits = vcpu.max_virt_addr_bits();

    cc(
        fixed_bits_valid(v.host_cr0, m.cr0_fixed0, m.cr0_fixed1),
        Check::HostCr0,
    )?;
    cc(cr4_valid(vcpu, v.host_cr4), Check::HostCr4)?;
    let cr3 = if vcpu.has_lam() {
        v.host_cr3 & !(CR3_LAM_U48 | CR3_LAM_U57)
    } else {
        v.host_cr3
    };
    cc(legal_gpa(vcpu, cr3), Check::HostCr3)?;
    cc(
        v.host_cr4 & cr4::CET == 0 || v.host_cr0 & cr0::WP != 0,
        Check::HostCetWithoutWp,
    )?;
    cc(
        is_canonical(v.host_ia32_sysenter_esp, msr_bits),
        Check::HostSysenterEsp,
    )?;
    cc(
        is_canonical(v.host_ia32_sysenter_eip, msr_bits),
        Check::HostSysenterEip,
    )?;
    if c.exit.contains(ExitControls::LOAD_IA32_PAT) {
        cc(pat_valid(v.host_ia32_pat), Check::HostPat)?;
    }
    if c.exit.contains(ExitControls::LOAD_IA32_PERF_GLOBAL_CTRL) {
        cc(
            v.host_ia32_perf_global_ctrl & vcpu.perf_global_ctrl_reserved() == 0,
            Check::HostPerfGlobalCtrl,
        )?;
    }
    if ia32e {
        cc(v.host_cr4 & cr4::PAE != 0, Check::HostPaeFor64BitHost)?;
    } else {
        cc(
            !c.entry.contains(EntryControls::IA32E_MODE),
            Check::HostIa32eGuestWithoutIa32eHost,
        )?;
        cc(v.host_cr4 & cr4::PCIDE == 0, Check::HostPcide)?;
        cc(v.host_rip >> 32 == 0, Check::HostRipAbove4G)?;
    }

    for (selector, check) in [
        (v.host_cs_selector, Check::HostCsSelector),
        (v.host_ss_selector, Check::HostSsSelector),
        (v.host_ds_selector, Check::HostDsSelector),
        (v.host_es_selector, Check::HostEsSelector),
        (v.host_fs_selector, Check::HostFsSelector),
        (v.host_gs_selector, Check::HostGsSelector),
        (v.host_tr_selector, Check::HostTrSelector),
    ] {
        cc(selector & SELECTOR_RPL_TI == 0, check)?;
    }
    cc(v.host_cs_selector != 0, Check::HostCsNull)?;
    cc(v.host_tr_selector != 0, Check::HostTrNull)?;
    cc(v.host_ss_selector != 0 || ia32e, Check::HostSsNull)?;

    for (base, check) in [
        (v.host_fs_base, Check::HostFsBase),
        (v.host_gs_base, Check::HostGsBase),
        (v.host_gdtr_base, Check::HostGdtrBase),
        (v.host_idtr_base, Check::HostIdtrBase),
        (v.host_tr_base, Check::HostTrBase),
    ] {
        cc(is_canonical(base, msr_bits), check)?;
    }
    cc(
        is_canonical(v.host_rip, vcpu.virt_addr_bits()),
        Check::HostRip,
    )?;

    if c.exit.contains(ExitControls::LOAD_IA32_EFER) {
        let efer = v.host_ia32_efer;
        cc(vcpu.efer_valid(efer), Check::HostEferReserved)?;
        cc(ia32e == (efer & efer::LMA != 0), Check::HostEferLma)?;
        cc(ia32e == (efer & efer::LME != 0), Check::HostEferLme)?;
    }
    Ok(())
}
