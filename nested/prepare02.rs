// SPDX-License-Identifier: GPL-2.0

//! vmcs02 from vmcs01 and vmcs12 at a nested VM entry: KVM's
//! `prepare_vmcs02_constant_state()`, `prepare_vmcs02_early()` (controls:
//! `merge`), `prepare_vmcs02_rare()` and `prepare_vmcs02()` (L2's
//! registers into vmcs02 and KVM's model of the vCPU).
//!
//! `v` may be the cached vmcs12 itself: nothing here writes vmcs12 or asks
//! `KvmVcpu::vmcs12()` for it.

use crate::evmcs::clean::CleanGroup;
use crate::nested::entry_vcpu::{Control, EntryVcpu, L0Caps};
use crate::nested::merge::{self, L0};
use crate::nested::paging::{self, TlbTag};
use crate::nested::vcpu::Stat;
use crate::nested::vmcs02;
use crate::shadow::bitmap::ShadowCaps;
use crate::vmcs::checks::entry_fail;
use crate::vmcs::controls::{
    CpuBased, EntryControls, ExitControls, PinBased, Secondary, Vmcs12Controls,
};
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::table::encodings as e;

/// vmcs02 fields that have no vmcs12 counterpart.
pub mod enc {
    use crate::vmcs::encoding::Encoding;

    /// Virtualization-exception information address.
    pub const VE_INFORMATION_ADDRESS: Encoding = Encoding::new(0x202a);
    /// Notify window.
    pub const NOTIFY_WINDOW: Encoding = Encoding::new(0x4024);
}

/// KVM's POSTED_INTR_NESTED_VECTOR: the notification vector of vmcs02.
pub const POSTED_INTR_NESTED_VECTOR: u16 = 0xf0;
/// IA32_DEBUGCTL.FREEZE_WHILE_SMM.
pub use crate::vmcs::x86::debugctl::FREEZE_IN_SMM as DEBUGCTL_FREEZE_IN_SMM;
/// KVM's INVALID_GPA.
const INVALID_GPA: u64 = u64::MAX;
/// "Blocking by NMI" in the interruptibility state.
const GUEST_INTR_STATE_NMI: u32 = 1 << 3;

/// vmcs12's PDPTEs to vmcs02 (nested.c's four `vmcs_write64()`s).
fn write_pdptrs(k: &mut impl EntryVcpu, v: &Vmcs12) {
    k.vmwrite(e::GUEST_PDPTR0, v.guest_pdptr0);
    k.vmwrite(e::GUEST_PDPTR1, v.guest_pdptr1);
    k.vmwrite(e::GUEST_PDPTR2, v.guest_pdptr2);
    k.vmwrite(e::GUEST_PDPTR3, v.guest_pdptr3);
}

/// KVM's `prepare_vmcs02_constant_state()`: vmcs02 fields set once.
pub fn prepare_vmcs02_constant_state(k: &mut impl EntryVcpu, caps: &L0Caps) {
    if !k.take_vmcs02_uninitialized() {
        return;
    }
    let sec = Secondary(caps.config.secondary);
    if sec.contains(Secondary::ENABLE_VMFUNC) {
        k.vmwrite(e::VM_FUNCTION_CONTROL, 0);
    }
    if PinBased(caps.config.pin).contains(PinBased::POSTED_INTR) {
        k.vmwrite(e::POSTED_INTR_NV, u64::from(POSTED_INTR_NESTED_VECTOR));
    }
    let pages = k.vmcs02_pages();
    if CpuBased(caps.config.exec).contains(CpuBased::USE_MSR_BITMAPS) {
        // vmcs02's own bitmap: all ones since alloc_loaded_vmcs(); each
        // entry merges the few bits L1 and L0 may pass through (msr_bitmap).
        k.vmwrite(e::MSR_BITMAP, pages.msr_bitmap);
    }
    if sec.contains(Secondary::ENABLE_PML) {
        k.vmwrite(e::PML_ADDRESS, 0);
        k.vmwrite(e::GUEST_PML_INDEX, 0xffff);
    }
    if sec.contains(Secondary::ENCLS_EXITING) {
        k.vmwrite(e::ENCLS_EXITING_BITMAP, INVALID_GPA);
    }
    if let Some(window) = pages.notify_window {
        k.vmwrite(enc::NOTIFY_WINDOW, u64::from(window));
    }
    if let Some(ve_info) = pages.ve_info {
        // vmcs01's #VE information page (KVM_INTEL_PROVE_VE): EPT
        // violations L0 converts to #VE while L2 runs report there too.
        k.vmwrite(enc::VE_INFORMATION_ADDRESS, ve_info);
    }
    k.vmwrite(e::VM_EXIT_MSR_STORE_ADDR, pages.msr_store);
    k.vmwrite(e::VM_EXIT_MSR_LOAD_ADDR, pages.msr_load_host);
    k.vmwrite(e::VM_ENTRY_MSR_LOAD_ADDR, pages.msr_load_guest);
    k.set_constant_host_state();
}

/// KVM's `prepare_vmcs02_early_rare()`.
fn prepare_vmcs02_early_rare(k: &mut impl EntryVcpu, v: &Vmcs12, caps: &L0Caps) {
    prepare_vmcs02_constant_state(k, caps);
    k.vmwrite(e::VMCS_LINK_POINTER, INVALID_GPA);
    if caps.vpid {
        let vpid02 = k.vpid02();
        let vpid = if Vmcs12Controls::of(v).sec.contains(Secondary::ENABLE_VPID) && vpid02 != 0 {
            vpid02
        } else {
            k.vpid01()
        };
        k.vmwrite(e::VIRTUAL_PROCESSOR_ID, u64::from(vpid));
    }
}

/// KVM's `prepare_vmcs02_early()`: vmcs02's controls (merged by
/// `merge::merge`) and event injection.
pub fn prepare_vmcs02_early(k: &mut impl EntryVcpu, v: &Vmcs12, caps: &L0Caps) {
    let run_pending = k.run_pending();
    let l1_efer = k.efer();
    let guest_efer = merge::l2_efer(v, l1_efer, run_pending);
    // An eVMCS is reloaded at every entry (its clean groups decide what
    // vmcs12 got): the rare state too.
    if k.dirty_vmcs12() || k.evmcs_mapped() {
        prepare_vmcs02_early_rare(k, v, caps);
    }
    let c01 = k.vmcs01_controls();
    let cfg = caps.config;
    // The bit stays as it is until get_vmcs12_pages() merges the bitmap.
    let vmcs02_msr_bitmaps = CpuBased(k.vmcs02_controls().exec).contains(CpuBased::USE_MSR_BITMAPS);
    let l0 = L0 {
        pin: PinBased(c01.pin),
        cpu: CpuBased(c01.exec),
        secondary: Secondary(c01.secondary),
        entry: EntryControls(c01.entry),
        exit: ExitControls(c01.exit),
        vmcs02_uses_msr_bitmaps: vmcs02_msr_bitmaps,
        has_secondary: CpuBased(cfg.exec).contains(CpuBased::ACTIVATE_SECONDARY_CONTROLS),
        has_load_efer: EntryControls(cfg.entry).contains(EntryControls::LOAD_IA32_EFER)
            && ExitControls(cfg.exit).contains(ExitControls::LOAD_IA32_EFER),
        umip_emulated: caps.umip_emulated,
        host_efer: caps.host_efer,
    };
    let m = merge::merge(&l0, v, guest_efer);
    k.clear_pi_pending();
    k.set_posted_intr_nv(m.posted_intr_nv.unwrap_or(u16::MAX));
    k.set_control(Control::Pin, m.pin.bits());
    k.set_l1_tpr_threshold(-1);
    if let Some(t) = m.tpr_threshold {
        k.vmwrite(e::TPR_THRESHOLD, u64::from(t));
    }
    k.set_control(Control::Exec, m.cpu.bits());
    if let Some(sec) = m.secondary {
        if let Some(status) = m.guest_intr_status {
            k.vmwrite(e::GUEST_INTR_STATUS, u64::from(status));
        }
        if sec.contains(Secondary::ENCLS_EXITING) {
            k.write_encls_bitmap(v);
        }
        k.set_control(Control::Secondary, sec.bits());
    }
    k.set_control(Control::Entry, m.entry.bits());
    k.set_control(Control::Exit, m.exit.bits());
    if run_pending {
        k.vmwrite(
            e::VM_ENTRY_INTR_INFO_FIELD,
            u64::from(v.vm_entry_intr_info_field),
        );
        k.vmwrite(
            e::VM_ENTRY_EXCEPTION_ERROR_CODE,
            u64::from(v.vm_entry_exception_error_code),
        );
        k.vmwrite(
            e::VM_ENTRY_INSTRUCTION_LEN,
            u64::from(v.vm_entry_instruction_len),
        );
        k.vmwrite(
            e::GUEST_INTERRUPTIBILITY_INFO,
            u64::from(v.guest_interruptibility_info),
        );
        k.set_nmi_known_unmasked(v.guest_interruptibility_info & GUEST_INTR_STATE_NMI == 0);
    } else {
        k.vmwrite(e::VM_ENTRY_INTR_INFO_FIELD, 0);
    }
}

/// KVM's `prepare_vmcs02_rare()`: what vmcs02 takes from vmcs12 only when
/// L1 wrote vmcs12 since the last entry.
/// With an eVMCS, the guest-state groups L1 declared clean are skipped, as
/// nested.c: vmcs02 still has them (an eVMCS exit syncs vmcs12's rare
/// state from vmcs02 at once, and the eVMCS copy into vmcs12 skips clean
/// groups as well).
fn prepare_vmcs02_rare(k: &mut impl EntryVcpu, v: &Vmcs12, caps: &L0Caps) {
    let clean = k.evmcs_clean_fields();
    let c = Vmcs12Controls::of(v);
    if !CleanGroup::GUEST_GRP2.is_clean(clean) {
        vmcs02::load_segments(v, |f, x| k.vmwrite(f, x));
        k.reset_segment_cache();
    }
    if !CleanGroup::GUEST_GRP1.is_clean(clean) {
        vmcs02::load_other(v, |f, x| k.vmwrite(f, x));
        if k.enable_ept() {
            write_pdptrs(k, v);
        }
        if caps.mpx && k.run_pending() && c.entry.contains(EntryControls::LOAD_BNDCFGS) {
            k.vmwrite(e::GUEST_BNDCFGS, v.guest_bndcfgs);
        }
    }
    if c.sec.contains(Secondary::ENABLE_XSAVES) {
        k.vmwrite(e::XSS_EXIT_BITMAP, v.xss_exit_bitmap);
    }
    // L0 intercepting #PF sees every one of them; else vmcs12's filter.
    let (mask, matched) = if k.need_pf_intercept() {
        (0, 0)
    } else {
        (v.page_fault_error_code_mask, v.page_fault_error_code_match)
    };
    k.vmwrite(e::PAGE_FAULT_ERROR_CODE_MASK, u64::from(mask));
    k.vmwrite(e::PAGE_FAULT_ERROR_CODE_MATCH, u64::from(matched));
    // KVM's cpu_has_vmx_apicv(): APIC-register virtualization,
    // virtual-interrupt delivery and posted interrupts, all three (not VID
    // alone: Bochs has VID without posted interrupts).
    if ShadowCaps::of(PinBased(caps.config.pin), Secondary(caps.config.secondary)).apicv {
        k.vmwrite(e::EOI_EXIT_BITMAP0, v.eoi_exit_bitmap0);
        k.vmwrite(e::EOI_EXIT_BITMAP1, v.eoi_exit_bitmap1);
        k.vmwrite(e::EOI_EXIT_BITMAP2, v.eoi_exit_bitmap2);
        k.vmwrite(e::EOI_EXIT_BITMAP3, v.eoi_exit_bitmap3);
    }
    k.prepare_tsc_autostore(v);
    let store = k.autostore_count();
    let (host, guest) = k.autoload_counts();
    k.vmwrite(e::VM_EXIT_MSR_STORE_COUNT, u64::from(store));
    k.vmwrite(e::VM_EXIT_MSR_LOAD_COUNT, u64::from(host));
    k.vmwrite(e::VM_ENTRY_MSR_LOAD_COUNT, u64::from(guest));
    k.set_cr4_guest_host_mask();
}

/// KVM's `nested_read_cr0/4()`: what L2 reads, with L1's mask applied.
pub fn nested_read_cr(guest: u64, shadow: u64, mask: u64) -> u64 {
    (guest & !mask) | (shadow & mask)
}

/// KVM's `vmx_get_l2_tsc_offset/multiplier()`: vmcs12's offset and
/// multiplier, where they apply.
pub fn l2_tsc(v: &Vmcs12, default_ratio: u64) -> (u64, u64) {
    let c = Vmcs12Controls::of(v);
    if !c.cpu.contains(CpuBased::USE_TSC_OFFSETTING) {
        return (0, default_ratio);
    }
    let mult = if c.sec.contains(Secondary::TSC_SCALING) {
        v.tsc_multiplier
    } else {
        default_ratio
    };
    (v.tsc_offset, mult)
}

/// KVM's `prepare_vmcs02()`: L2's registers into vmcs02 and KVM's vCPU
/// model. `Err` carries the exit qualification of a VM-entry failure
/// (SDM 27.3.1, 27.3.2.4).
pub fn prepare_vmcs02(
    k: &mut impl EntryVcpu,
    v: &Vmcs12,
    caps: &L0Caps,
    from_vmentry: bool,
) -> Result<(), u64> {
    let c = Vmcs12Controls::of(v);
    let mut load_pdptrs12 = false;
    if k.dirty_vmcs12() || k.evmcs_mapped() {
        prepare_vmcs02_rare(k, v, caps);
        k.set_dirty_vmcs12(false);
        // With an eVMCS, only if L1 did not declare GUEST_GRP1 clean.
        load_pdptrs12 = !CleanGroup::GUEST_GRP1.is_clean(k.evmcs_clean_fields());
    }
    let run_pending = k.run_pending();
    let host_freeze = k.host_freeze_in_smm();
    if run_pending && c.entry.contains(EntryControls::LOAD_DEBUG_CONTROLS) {
        k.set_dr7(v.guest_dr7);
        let supported = k.supported_debugctl();
        k.vmwrite(
            e::GUEST_IA32_DEBUGCTL,
            (v.guest_ia32_debugctl & supported) | host_freeze,
        );
    } else {
        let dr7 = k.dr7();
        k.set_dr7(dr7);
        let pre = k.pre_vmenter_debugctl();
        k.vmwrite(e::GUEST_IA32_DEBUGCTL, pre | host_freeze);
    }
    if caps.mpx && (!run_pending || !c.entry.contains(EntryControls::LOAD_BNDCFGS)) {
        let b = k.pre_vmenter_bndcfgs();
        k.vmwrite(e::GUEST_BNDCFGS, b);
    }
    k.set_rflags(v.guest_rflags);
    // In guest mode vmx_update_exception_bitmap() adds vmcs12's exception
    // bitmap to L0's.
    k.update_exception_bitmap();
    let owned = k.cr0_guest_owned_bits() & !v.cr0_guest_host_mask;
    k.set_cr0_guest_owned_bits(owned);
    k.vmwrite(e::CR0_GUEST_HOST_MASK, !owned);
    if run_pending && c.entry.contains(EntryControls::LOAD_IA32_PAT) {
        k.vmwrite(e::GUEST_IA32_PAT, v.guest_ia32_pat);
        k.set_pat(v.guest_ia32_pat);
    } else if EntryControls(caps.config.entry).contains(EntryControls::LOAD_IA32_PAT) {
        let pat = k.pat();
        k.vmwrite(e::GUEST_IA32_PAT, pat);
    }
    // TSC: L1's offset and multiplier composed with vmcs12's.
    let (l2_offset, l2_mult) = l2_tsc(v, caps.default_tsc_ratio);
    let (offset, ratio) = k.nested_tsc(l2_offset, l2_mult);
    k.set_tsc(offset, Some(ratio));
    k.vmwrite(e::TSC_OFFSET, offset);
    if k.has_tsc_control() {
        k.vmwrite(e::TSC_MULTIPLIER, ratio);
    }
    paging::transition_tlb_flush(k, TlbTag::of(v), true);
    if c.has_ept() {
        k.ept_init_mmu();
    }
    k.set_cr0(v.guest_cr0);
    k.vmwrite(
        e::CR0_READ_SHADOW,
        nested_read_cr(v.guest_cr0, v.cr0_read_shadow, v.cr0_guest_host_mask),
    );
    k.set_cr4(v.guest_cr4);
    k.vmwrite(
        e::CR4_READ_SHADOW,
        nested_read_cr(v.guest_cr4, v.cr4_read_shadow, v.cr4_guest_host_mask),
    );
    let l2_efer = merge::l2_efer(v, k.efer(), run_pending);
    k.set_efer(l2_efer);
    // SDM 27.3.1: state KVM cannot run natively is an entry failure.
    let unrestricted =
        Secondary(k.vmcs02_controls().secondary).contains(Secondary::UNRESTRICTED_GUEST);
    if from_vmentry && !unrestricted && !k.guest_state_valid() {
        k.count(Stat::EntryCheckFail);
        k.check_failed(c"from_vmentry && !vmx_guest_state_valid(vcpu)");
        return Err(entry_fail::DEFAULT);
    }
    paging::load_cr3(k, v.guest_cr3, c.has_ept(), from_vmentry)?;
    if k.enable_ept() {
        k.vmwrite(e::GUEST_CR3, v.guest_cr3);
    }
    if load_pdptrs12 && c.has_ept() && k.is_pae_paging() {
        write_pdptrs(k, v);
    }
    k.set_rsp(v.guest_rsp);
    k.set_rip(v.guest_rip);
    // Hyper-V as L1 sets only dirty bits, never clean ones: KVM marks the
    // whole eVMCS clean once vmcs02 has it (as nested.c).
    if k.evmcs_mapped() {
        k.evmcs_mark_clean();
    }
    Ok(())
}

#[cfg(test)]
#[path = "prepare02_tests.rs"]
mod tests;
