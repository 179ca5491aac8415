// SPDX-License-Identifier: GPL-2.0

//! A nested VM exit, L2 to L1: KVM's `nested_vmx_vmexit()`,
//! `sync_vmcs02_to_vmcs12()`, `prepare_vmcs12()` and
//! `nested_vmx_inject_exception_vmexit()` (SDM Vol. 3C 28 "VM Exits").
//! The order of the steps is nested.c's; every step is a call of
//! `KvmVcpu`.

use crate::nested::entry_vcpu::EntryVcpu;
use crate::nested::events;
use crate::nested::host_load;
use crate::nested::msr_list;
use crate::nested::vcpu::{Deferred, KvmVcpu, MpState, Stat, VmRead};
use crate::vmcs::checks::guest::activity;
use crate::vmcs::checks::EXIT_REASON_FAILED_VMENTRY;
use crate::vmcs::controls::Vmcs12Controls;
use crate::vmcs::controls::{CpuBased, EntryControls, ExitControls, PinBased, Secondary};
use crate::vmcs::intr_info;
use crate::vmcs::outcome::{Outcome, VmInstructionError};
use crate::vmcs::table::encodings as e;
use crate::vmcs::x86::vector;

/// VMX-abort indicators (SDM 28.7).
pub mod abort {
    /// Saving a guest MSR (VM-exit MSR-store list) failed.
    pub const SAVE_GUEST_MSR_FAIL: u32 = 1;
    /// Loading a host PDPTE failed.
    pub const LOAD_HOST_PDPTE_FAIL: u32 = 2;
    /// Loading a host MSR (VM-exit MSR-load list) failed.
    pub const LOAD_HOST_MSR_FAIL: u32 = 4;
}

/// KVM's `nested_vmx_abort()`: a VMX abort shuts L1 down (KVM does not
/// write the indicator to vmcs12, and neither does this).
pub fn vmx_abort(k: &mut impl KvmVcpu, _indicator: u32) {
    k.make_request(crate::nested::vcpu::Request::TripleFault);
}

/// KVM's `nested_vmx_vmexit()`. `exit` is `None` for KVM's -1: leave L2
/// without telling L1 (forced exits), vmcs12 untouched but for L2's state;
/// else the exit reason, interruption information and qualification.
pub fn nested_vmx_vmexit(k: &mut impl EntryVcpu, exit: Option<(u32, u32, u64)>) {
    k.count(Stat::L2Exit);
    k.clear_mtf_pending();
    k.set_run_pending(false);
    // Checking the request clears it (no eVMCS page to map here).
    let _ = k.take_request(crate::nested::vcpu::Request::GetNestedStatePages);
    k.service_tlb_flush_requests();
    if k.enable_ept() && k.is_pae_paging() {
        k.ept_load_pdptrs();
    }
    k.leave_guest_mode();
    let Some(c) = k.vmcs12().map(|v| Vmcs12Controls::of(v)) else {
        return;
    };
    if c.pin.contains(PinBased::VMX_PREEMPTION_TIMER) {
        k.cancel_preemption_timer();
    }
    if c.cpu.contains(CpuBased::USE_TSC_OFFSETTING) {
        let (l1_offset, l1_ratio) = k.l1_tsc();
        let ratio = c.sec.contains(Secondary::TSC_SCALING).then_some(l1_ratio);
        k.set_tsc(l1_offset, ratio);
    }
    let failed = k.hw_vmfail();
    if !failed {
        sync_vmcs02_to_vmcs12(k);
        if let Some((reason, info, qual)) = exit {
            prepare_vmcs12(k, reason, info, qual);
        }
        // Outside sync_vmcs02_to_vmcs12(), which KVM_GET_NESTED_STATE uses
        // too and which must not write L1 memory (nested.c).
        k.flush_shadow_vmcs12();
    }
    k.clear_event_queues();
    k.switch_vmcs(false);
    k.ibpb();
    // vmcs01 is current again: what L2's run changed in KVM's model.
    let (host_nr, guest_nr) = k.autoload_counts();
    k.vmwrite(e::VM_EXIT_MSR_LOAD_COUNT, u64::from(host_nr));
    k.vmwrite(e::VM_ENTRY_MSR_LOAD_COUNT, u64::from(guest_nr));
    let (offset, ratio) = k.tsc();
    k.vmwrite(e::TSC_OFFSET, offset);
    if k.has_tsc_control() {
        k.vmwrite(e::TSC_MULTIPLIER, ratio);
    }
    let tpr = k.l1_tpr_threshold();
    if tpr != -1 {
        k.vmwrite(e::TPR_THRESHOLD, tpr as u64);
    }
    for d in [Deferred::VirtualApicMode, Deferred::CpuDirtyLogging] {
        if k.take_deferred(d) {
            k.apply_deferred(d);
        }
    }
    k.unmap_vmcs12_pages();
    for d in [
        Deferred::ApicAccessPage,
        Deferred::ApicvStatus,
        Deferred::HwapicIsr,
    ] {
        if k.take_deferred(d) {
            k.apply_deferred(d);
        }
    }
    if exit.is_some() && (k.shadow_vmcs_enabled() || k.evmcs_mapped()) {
        k.set_need_shadow_sync();
    }
    k.set_mp_state(MpState::Runnable);
    if !failed {
        if exit.is_some() {
            k.trace_vmexit_inject();
        }
        host_load::load_host_state(k);
        return;
    }
    // A hardware VMfail after KVM's checks: L1 sees VMfailValid(invalid
    // control field) on its VMLAUNCH/VMRESUME, after it, with its own state
    // as it was (not vmcs12's host state, which would also lose ZF).
    k.complete(Outcome::VmFailValid(
        VmInstructionError::EntryInvalidControlField,
    ));
    crate::nested::vmfail::restore_host_state(k);
    k.clear_hw_vmfail();
    // Counted when KVM's part of the entry succeeded; the CPU's did not.
    k.count(Stat::L2EntryRefused);
}

/// KVM's `vmcs12_guest_cr0/4()`: the CR as L2 sees it, from vmcs02's
/// guest value (bits L2 owns), vmcs12 (bits L1 owns) and the read shadow.
pub fn guest_cr(hw_cr: u64, shadow: u64, v12_cr: u64, v12_mask: u64, l0_owned: u64) -> u64 {
    (hw_cr & l0_owned) | (v12_cr & v12_mask) | (shadow & !(v12_mask | l0_owned))
}

/// vmcs12's activity state for KVM's `mp_state` (SDM 28.3.4).
pub fn activity_state(mp: MpState) -> u32 {
    match mp {
        MpState::Halted => activity::HLT,
        MpState::InitReceived => activity::WAIT_SIPI,
        MpState::Runnable => activity::ACTIVE,
    }
}

/// KVM's `sync_vmcs02_to_vmcs12()`: L2's state from vmcs02 (current) and
/// KVM's model into vmcs12 (SDM 28.3 "Saving Guest State"); the rarely
/// changing part is left for the lazy sync (`vmcs02::rare_sync`).
pub fn sync_vmcs02_to_vmcs12(k: &mut impl KvmVcpu) {
    k.set_need_rare_sync();
    if k.evmcs_mapped() {
        k.evmcs_sync_rare();
    }
    let Some((c, timer_saved)) = k.vmcs12().map(|v| {
        let c = Vmcs12Controls::of(v);
        let saved = c.pin.contains(PinBased::VMX_PREEMPTION_TIMER)
            && c.exit.contains(ExitControls::SAVE_VMX_PREEMPTION_TIMER);
        (c, saved)
    }) else {
        return;
    };
    // KVM's state first (calls into KVM), then the VMREADs, so that the
    // values read stay in registers until they are stored.
    let (cr0_owned, cr4_owned) = (k.cr0_guest_owned_bits(), k.cr4_guest_owned_bits());
    let (rsp, rip) = (k.rsp(), k.rip());
    let activity = activity_state(k.mp_state());
    // The timer value left, if vmcs12 saves it (not while the entry itself
    // is still pending).
    let timer_value = (timer_saved && !k.run_pending()).then(|| k.preemption_timer_value());
    let ept = k.enable_ept();
    let pae = ept && c.has_ept() && k.is_pae_paging();
    let ia32e = EntryControls::IA32E_MODE.bits() & k.vmcs02_entry_controls();
    let (dr7, efer) = (k.dr7(), k.efer());
    // Each VMREAD straight into vmcs12 (no value held across the borrow).
    let Some((v, mut rd)) = k.vmcs12_and_reads() else {
        return;
    };
    v.guest_cs_ar_bytes = rd.vmread(e::GUEST_CS_AR_BYTES) as u32;
    v.guest_ss_ar_bytes = rd.vmread(e::GUEST_SS_AR_BYTES) as u32;
    v.guest_cr0 = guest_cr(
        rd.vmread(e::GUEST_CR0),
        rd.vmread(e::CR0_READ_SHADOW),
        v.guest_cr0,
        v.cr0_guest_host_mask,
        cr0_owned,
    );
    v.guest_cr4 = guest_cr(
        rd.vmread(e::GUEST_CR4),
        rd.vmread(e::CR4_READ_SHADOW),
        v.guest_cr4,
        v.cr4_guest_host_mask,
        cr4_owned,
    );
    v.guest_rsp = rsp;
    v.guest_rip = rip;
    v.guest_rflags = rd.vmread(e::GUEST_RFLAGS);
    v.guest_interruptibility_info = rd.vmread(e::GUEST_INTERRUPTIBILITY_INFO) as u32;
    v.guest_activity_state = activity;
    if let Some(value) = timer_value {
        v.vmx_preemption_timer_value = value;
    }
    // Only the fields vmcs02 has are read (a VMREAD of a field the CPU
    // lacks fails).
    if ept {
        v.guest_cr3 = rd.vmread(e::GUEST_CR3);
    }
    if pae {
        v.guest_pdptr0 = rd.vmread(e::GUEST_PDPTR0);
        v.guest_pdptr1 = rd.vmread(e::GUEST_PDPTR1);
        v.guest_pdptr2 = rd.vmread(e::GUEST_PDPTR2);
        v.guest_pdptr3 = rd.vmread(e::GUEST_PDPTR3);
    }
    v.guest_linear_address = rd.vmread(e::GUEST_LINEAR_ADDRESS);
    if c.sec.contains(Secondary::VIRTUAL_INTR_DELIVERY) {
        v.guest_intr_status = rd.vmread(e::GUEST_INTR_STATUS) as u16;
    }
    v.vm_entry_controls = (v.vm_entry_controls & !EntryControls::IA32E_MODE.bits()) | ia32e;
    if c.exit.contains(ExitControls::SAVE_DEBUG_CONTROLS) {
        v.guest_dr7 = dr7;
    }
    if c.exit.contains(ExitControls::SAVE_IA32_EFER) {
        v.guest_ia32_efer = efer;
    }
}

/// KVM's `prepare_vmcs12()`: the exit information (SDM 28.2), then the
/// VM-exit MSR-store list (28.4; a failure is a VMX abort).
pub fn prepare_vmcs12(k: &mut impl KvmVcpu, reason: u32, info: u32, qual: u64) {
    let ev = k.injected();
    let exit_len = k.vmread(e::VM_EXIT_INSTRUCTION_LEN) as u32;
    let insn_info = k.vmread(e::VMX_INSTRUCTION_INFO) as u32;
    let enclave = k.exit_in_enclave();
    let Some(v) = k.vmcs12() else {
        return;
    };
    v.vm_exit_reason = reason | enclave;
    v.exit_qualification = qual;
    if reason & EXIT_REASON_FAILED_VMENTRY != 0 {
        return;
    }
    v.launch_state = 1;
    v.vm_entry_intr_info_field &= !intr_info::VALID;
    let saved = events::save_pending_event((reason & 0xffff) as u16, info, &ev);
    v.idt_vectoring_info_field = saved.idt_vectoring_info;
    if let Some(code) = saved.idt_vectoring_error_code {
        v.idt_vectoring_error_code = code;
    }
    if let Some(len) = saved.vm_exit_instruction_len {
        v.vm_exit_instruction_len = len;
    }
    if let Some(len) = saved.vm_entry_instruction_len {
        v.vm_entry_instruction_len = len;
    }
    v.vm_exit_intr_info = info;
    v.vm_exit_instruction_len = exit_len;
    v.vmx_instruction_info = insn_info;
    let (gpa, count) = (v.vm_exit_msr_store_addr, v.vm_exit_msr_store_count);
    if count == 0 {
        return;
    }
    let max = k.msr_list_max();
    if msr_list::store_list(k, gpa, count, max).is_err() {
        vmx_abort(k, abort::SAVE_GUEST_MSR_FAIL);
    }
}

/// DR6.BT.
pub const DR6_BT: u64 = 1 << 15;
/// The DR6 bits that read 1 when inactive.
const DR6_ACTIVE_LOW: u64 = 0xffff_0ff0;
/// "NMI unblocking due to IRET" in the exit interruption information.
const INTR_INFO_UNBLOCK_NMI: u32 = 1 << 12;

/// The exit for a reflected exception (KVM's
/// `nested_vmx_inject_exception_vmexit()`, SDM 28.2.2): interruption
/// information, qualification, and the error code when L2 is in
/// protected mode. `nmi_unblock` is "no IDT vectoring and NMIs masked".
pub fn exception_exit(
    ex: &crate::nested::vcpu::ExceptionVmexit,
    cr2: u64,
    dr6: u64,
    protected_mode: bool,
    nmi_unblock: bool,
) -> (u32, u64, Option<u32>) {
    let vec = u32::from(ex.vector);
    let qual = match ex.payload {
        Some(p) => p,
        None if vec == vector::PF => cr2,
        None if vec == vector::DB => (dr6 & !DR6_BT) ^ DR6_ACTIVE_LOW,
        None => 0,
    };
    let mut info = vec | intr_info::VALID;
    let code = ex.error_code.filter(|_| protected_mode).map(|c| c & 0xffff);
    if code.is_some() {
        info |= intr_info::DELIVER_CODE;
    }
    info |= if vec == vector::BP || vec == vector::OF {
        intr_info::TYPE_SOFT_EXCEPTION
    } else {
        intr_info::TYPE_HARD_EXCEPTION
    };
    if nmi_unblock {
        info |= INTR_INFO_UNBLOCK_NMI;
    }
    (info, qual, code)
}

/// KVM's `nested_vmx_inject_exception_vmexit()`.
pub fn inject_exception_vmexit(k: &mut impl EntryVcpu) {
    let ex = k.exception_vmexit();
    let (cr2, dr6) = k.cr2_dr6();
    let protected_mode = k.cr0() & 1 != 0;
    let idt_valid = k
        .vmcs12()
        .is_some_and(|v| v.idt_vectoring_info_field & intr_info::VALID != 0);
    let nmi_unblock = !idt_valid && k.nmi_masked();
    let (info, qual, code) = exception_exit(&ex, cr2, dr6, protected_mode, nmi_unblock);
    if let (Some(code), Some(v)) = (code, k.vmcs12()) {
        v.vm_exit_intr_error_code = code;
    }
    nested_vmx_vmexit(k, Some((u32::from(EXCEPTION_NMI), info, qual)));
}

const EXCEPTION_NMI: u16 = crate::nested::exit_reason::basic::EXCEPTION_NMI;

/// A triple fault in L2 is a VM exit to L1 (KVM's
/// `nested_vmx_triple_fault()`).
pub fn triple_fault(k: &mut impl EntryVcpu) {
    k.clear_request(crate::nested::vcpu::Request::TripleFault);
    let reason = crate::nested::exit_reason::basic::TRIPLE_FAULT;
    nested_vmx_vmexit(k, Some((u32::from(reason), 0, 0)));
}

#[cfg(test)]
#[path = "vmexit_tests.rs"]
mod tests;
