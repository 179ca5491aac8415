// SPDX-License-Identifier: GPL-2.0

//! A nested VM exit: whether an exit from L2 goes to L1 (KVM's
//! nested_vmx_reflect_vmexit()), and the exit itself: vmcs12 updated from
//! vmcs02 (sync_vmcs02_to_vmcs12(), prepare_vmcs12()), back to vmcs01,
//! L1's host state loaded (load_vmcs12_host_state()).

use crate::bindings;
use crate::entry::{self, msr_list_max, MsrIo};
use crate::ept;
use crate::hw;
use crate::lifecycle;
use crate::nested::events::{self, Exception, Injected, Interrupt};
use crate::nested::exit_reason::basic as r;
use crate::nested::host_state::{self, Segment, DT_LIMIT};
use crate::nested::msr_list;
use crate::nested::reflect::{self, Exit, L1Memory};
use crate::nvcpu::{GuestMem, Nv};
use crate::stats;
use crate::timer;
use crate::trace;
use crate::vmcs::checks::guest::activity;
use crate::vmcs::checks::EXIT_REASON_FAILED_VMENTRY;
use crate::vmcs::controls::{EntryControls, ExitControls, PinBased, Vmcs12Controls};
use crate::vmcs::intr_info;
use crate::vmcs::table::encodings as e;
use crate::vmcs::x86::vector;

/// L1 memory for the core's bitmap lookups.
pub(crate) struct L1Mem(pub(crate) GuestMem);

impl L1Memory for L1Mem {
    fn read_u8(&mut self, gpa: u64) -> Option<u8> {
        let mut b = [0u8; 1];
        self.0.read_gpa(gpa, &mut b).then_some(b[0])
    }
}

/// KVM's `nested_vmx_l0_wants_exit()`: exits L0 handles itself, whatever
/// L1 asked for.
fn l0_wants_exit(nv: &mut Nv, reason: u16, info: u32) -> bool {
    match reason {
        r::EXCEPTION_NMI => reflect::l0_wants_exception(info, &mut L0State(nv)),
        r::EXTERNAL_INTERRUPT
        | r::MCE_DURING_VMENTRY
        | r::EPT_VIOLATION
        | r::EPT_MISCONFIG
        | r::PREEMPTION_TIMER
        | r::PML_FULL
        | r::VMFUNC
        | r::BUS_LOCK => true,
        _ => false,
    }
}

/// The vCPU state the core's `l0_wants_exception()` asks about.
struct L0State<'a>(&'a mut Nv);

impl reflect::L0ExceptionState for L0State<'_> {
    fn guest_debug(&self) -> u32 {
        self.0.guest_debug() as u32
    }
    fn l0_handles_page_faults(&mut self) -> bool {
        let apf = self.0.arch().apf.host_apf_flags != 0;
        // SAFETY: the vCPU is ours (Nv invariant).
        apf || unsafe { bindings::rnvmx_need_pf_intercept(self.0.raw()) }
    }
    fn guest_takes_ac(&mut self) -> bool {
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::vmx_guest_inject_ac(self.0.raw()) }
    }
}

/// KVM's `nested_vmx_reflect_vmexit()`: true if the exit went to L1.
pub(crate) fn reflect(nv: &mut Nv) -> bool {
    let full = nv.exit_reason();
    if nv.vmx().fail != 0 {
        // A late VMfail of vmcs02: reported to L1 like a VM exit.
        stats::L2_ENTRY_FAILURES.inc();
        trace::hardware_vmfail(hw::read(e::VM_INSTRUCTION_ERROR) as u32);
        nested_vmx_vmexit(nv, Some(full), 0, 0);
        return true;
    }
    trace::nested_vmexit(nv);
    let reason = (full & 0xffff) as u16;
    let info = hw::read(hw::enc::VM_EXIT_INTR_INFO) as u32;
    stats::count_exit(reason);
    if l0_wants_exit(nv, reason, info) {
        return false;
    }
    let qualification = hw::read(hw::enc::EXIT_QUALIFICATION);
    let operand = match reason {
        r::CR_ACCESS => nv.gpr(((qualification >> 8) & 0xf) as u8),
        r::VMREAD | r::VMWRITE => {
            let i = hw::read(hw::enc::VMX_INSTRUCTION_INFO) as u32;
            nv.gpr(((i >> 28) & 0xf) as u8)
        }
        _ => 0,
    };
    let exit = Exit {
        reason,
        qualification,
        intr_info: info,
        rcx: nv.gpr(1),
        rax: nv.gpr(0),
        operand,
        // Read only for the exit that needs it (CPUID lookup).
        // SAFETY: the vCPU is ours (Nv invariant).
        guest_has_sgx: reason == r::ENCLS && unsafe { bindings::rnvmx_guest_has_sgx(nv.raw()) },
    };
    let Some((v, mem)) = nv.vmcs12_and_mem() else {
        return false;
    };
    if !reflect::l1_wants_exit(v, &exit, &mut L1Mem(mem)) {
        return false;
    }
    if info & (intr_info::VALID | intr_info::DELIVER_CODE)
        == intr_info::VALID | intr_info::DELIVER_CODE
    {
        let code = hw::read(hw::enc::VM_EXIT_INTR_ERROR_CODE) as u32;
        if let Some(v12) = nv.vmcs12() {
            v12.vm_exit_intr_error_code = code;
        }
    }
    stats::L2_REFLECTED.inc();
    nested_vmx_vmexit(nv, Some(full), info, qualification);
    true
}

/// KVM's `nested_vmx_vmexit()`. `reason` is `None` for KVM's -1: leave
/// L2 without telling L1 (forced exits), vmcs12 untouched but for state.
pub(crate) fn nested_vmx_vmexit(nv: &mut Nv, reason: Option<u32>, info: u32, qual: u64) {
    stats::L2_EXITS.inc();
    nv.nested().mtf_pending = false;
    nv.nested().nested_run_pending = false;
    let vcpu = nv.raw();
    // Checking the request clears it (no eVMCS page to map on this backend).
    let _ = nv.check_request(bindings::rnvmx_request_RNVMX_REQ_GET_NESTED_STATE_PAGES);
    // SAFETY: the vCPU is ours (Nv invariant).
    unsafe { bindings::kvm_service_local_tlb_flush_requests(vcpu) };
    if entry::enable_ept() && nv.is_pae_paging() {
        // SAFETY: as above; vmcs02 is still current.
        unsafe { bindings::vmx_ept_load_pdptrs(vcpu) };
    }
    nv.leave_guest_mode();
    let Some(c) = nv.vmcs12().map(|v| Vmcs12Controls::of(v)) else {
        return;
    };
    if c.pin.contains(PinBased::VMX_PREEMPTION_TIMER) {
        timer::cancel(nv);
    }
    if c.cpu
        .contains(crate::vmcs::controls::CpuBased::USE_TSC_OFFSETTING)
    {
        let arch = nv.arch();
        arch.tsc_offset = arch.l1_tsc_offset;
        if c.sec
            .contains(crate::vmcs::controls::Secondary::TSC_SCALING)
        {
            arch.tsc_scaling_ratio = arch.l1_tsc_scaling_ratio;
        }
    }
    let failed = nv.vmx().fail != 0;
    if !failed {
        sync_vmcs02_to_vmcs12(nv);
        if let Some(reason) = reason {
            prepare_vmcs12(nv, reason, info, qual);
        }
        // Outside sync_vmcs02_to_vmcs12(), which KVM_GET_NESTED_STATE uses
        // too and which must not write L1 memory (nested.c).
        crate::shadow_vmcs12::flush(nv);
    }
    let vcpu = nv.raw();
    nv.arch().nmi_injected = false;
    // SAFETY: as above.
    unsafe {
        bindings::rnvmx_clear_exception_queue(vcpu);
        bindings::rnvmx_clear_interrupt_queue(vcpu);
    }
    nv.switch_vmcs(false);
    // SAFETY: as above.
    unsafe { bindings::rnvmx_ibpb_if_spec_ctrl(vcpu) };
    let vmx = nv.vmx();
    let (host_nr, guest_nr) = (vmx.msr_autoload.host.nr, vmx.msr_autoload.guest.nr);
    hw::write(e::VM_EXIT_MSR_LOAD_COUNT, u64::from(host_nr));
    hw::write(e::VM_ENTRY_MSR_LOAD_COUNT, u64::from(guest_nr));
    let (offset, ratio) = (nv.arch().tsc_offset, nv.arch().tsc_scaling_ratio);
    hw::write(e::TSC_OFFSET, offset);
    // SAFETY: plain capability query.
    if unsafe { bindings::rnvmx_has_tsc_control() } {
        hw::write(e::TSC_MULTIPLIER, ratio);
    }
    let tpr = nv.nested().l1_tpr_threshold;
    if tpr != -1 {
        hw::write(e::TPR_THRESHOLD, tpr as u64);
    }
    let n = nv.nested();
    let apic_mode = core::mem::replace(&mut n.change_vmcs01_virtual_apic_mode, false);
    let dirty_logging = core::mem::replace(&mut n.update_vmcs01_cpu_dirty_logging, false);
    // SAFETY: as above, vmcs01 current again.
    unsafe {
        if apic_mode {
            bindings::vmx_set_virtual_apic_mode(vcpu);
        }
        if dirty_logging {
            bindings::vmx_update_cpu_dirty_logging(vcpu);
        }
    }
    lifecycle::unmap_vmcs12_pages(nv);
    let n = nv.nested();
    let reload_apic = core::mem::replace(&mut n.reload_vmcs01_apic_access_page, false);
    let apicv = core::mem::replace(&mut n.update_vmcs01_apicv_status, false);
    let isr = core::mem::replace(&mut n.update_vmcs01_hwapic_isr, false);
    if reload_apic {
        nv.make_request(bindings::rnvmx_request_RNVMX_REQ_APIC_PAGE_RELOAD);
    }
    // SAFETY: as above.
    unsafe {
        if apicv {
            bindings::vmx_refresh_apicv_exec_ctrl(vcpu);
        }
        if isr {
            bindings::kvm_apic_update_hwapic_isr(vcpu);
        }
    }
    if reason.is_some() && crate::shadow_vmcs::enabled() {
        nv.nested().need_vmcs12_to_shadow_sync = true;
    }
    nv.arch().mp_state = bindings::KVM_MP_STATE_RUNNABLE as i32;
    if !failed {
        if reason.is_some() {
            if let Some(v12) = nv.vmcs12() {
                trace::nested_vmexit_inject(v12);
            }
        }
        load_host_state(nv);
        return;
    }
    // A hardware VMfail after KVM's checks: L1 sees VMfailValid(invalid
    // control field) on its VMLAUNCH/VMRESUME, after it, with its own state
    // as it was (not vmcs12's host state, which would also lose ZF).
    let err = crate::vmcs::outcome::VmInstructionError::EntryInvalidControlField;
    nv.complete(crate::vmcs::outcome::Outcome::VmFailValid(err));
    crate::vmfail::restore_host_state(nv);
    nv.vmx().fail = 0;
    // Counted when KVM's part of the entry succeeded; the CPU's did not.
    stats::L2_ENTRIES.dec();
}

/// KVM's `vmcs12_guest_cr0/4()`: the CR as L2 sees it, from vmcs02's
/// guest value (bits L2 owns), vmcs12 (bits L1 owns) and the read shadow.
fn guest_cr(hw_cr: u64, shadow: u64, v12_cr: u64, v12_mask: u64, l0_owned: u64) -> u64 {
    (hw_cr & l0_owned) | (v12_cr & v12_mask) | (shadow & !(v12_mask | l0_owned))
}

/// Reads the rarely changing guest state from the current VMCS (vmcs02)
/// into vmcs12 (KVM's sync_vmcs02_to_vmcs12_rare()).
fn sync_rare_from_current(nv: &mut Nv) {
    if let Some(l) = crate::fields::lists() {
        for s in l.rare_sync.iter() {
            nv.vmcs12_set(s, hw::read(s.encoding));
        }
    }
    nv.nested().need_sync_vmcs02_to_vmcs12_rare = false;
}

/// KVM's `copy_vmcs02_to_vmcs12_rare()`: the lazily synced state, before
/// L1 or userspace looks at it. Outside L2, vmcs02 is loaded for the
/// duration.
pub(crate) fn sync_rare(nv: &mut Nv) {
    if !nv.nested().need_sync_vmcs02_to_vmcs12_rare {
        return;
    }
    if nv.on_vmcs02() {
        sync_rare_from_current(nv);
        return;
    }
    nv.with_vmcs02_loaded(sync_rare_from_current);
}

/// KVM's `sync_vmcs02_to_vmcs12()`; the rare part is left for `sync_rare`.
pub(crate) fn sync_vmcs02_to_vmcs12(nv: &mut Nv) {
    nv.nested().need_sync_vmcs02_to_vmcs12_rare = true;
    let cr0 = hw::read(e::GUEST_CR0);
    let cr0_shadow = hw::read(e::CR0_READ_SHADOW);
    let cr4 = hw::read(e::GUEST_CR4);
    let cr4_shadow = hw::read(e::CR4_READ_SHADOW);
    let (cr0_owned, cr4_owned) = (
        nv.arch().cr0_guest_owned_bits as u64,
        nv.arch().cr4_guest_owned_bits as u64,
    );
    let rsp = nv.rsp();
    let rip = nv.rip();
    let mp_state = nv.arch().mp_state;
    let pae = nv.is_pae_paging();
    let dr7 = nv.arch().dr7 as u64;
    let efer = nv.arch().efer;
    let entry_ctls = nv.controls_shadow().vm_entry;
    let ept = entry::enable_ept();
    // The timer value left, if vmcs12 saves it (not while the entry itself
    // is still pending).
    let save_timer = nv.vmcs12().is_some_and(|v| {
        Vmcs12Controls::of(v)
            .pin
            .contains(PinBased::VMX_PREEMPTION_TIMER)
            && ExitControls(v.vm_exit_controls).contains(ExitControls::SAVE_VMX_PREEMPTION_TIMER)
    }) && !nv.nested().nested_run_pending;
    let timer_value = save_timer.then(|| timer::saved_value(nv));
    let Some(v) = nv.vmcs12() else {
        return;
    };
    v.guest_cs_ar_bytes = hw::read(e::GUEST_CS_AR_BYTES) as u32;
    v.guest_ss_ar_bytes = hw::read(e::GUEST_SS_AR_BYTES) as u32;
    v.guest_cr0 = guest_cr(
        cr0,
        cr0_shadow,
        v.guest_cr0,
        v.cr0_guest_host_mask,
        cr0_owned,
    );
    v.guest_cr4 = guest_cr(
        cr4,
        cr4_shadow,
        v.guest_cr4,
        v.cr4_guest_host_mask,
        cr4_owned,
    );
    v.guest_rsp = rsp;
    v.guest_rip = rip;
    v.guest_rflags = hw::read(e::GUEST_RFLAGS);
    v.guest_interruptibility_info = hw::read(e::GUEST_INTERRUPTIBILITY_INFO) as u32;
    v.guest_activity_state = match mp_state {
        m if m == bindings::KVM_MP_STATE_HALTED as i32 => activity::HLT,
        m if m == bindings::KVM_MP_STATE_INIT_RECEIVED as i32 => activity::WAIT_SIPI,
        _ => activity::ACTIVE,
    };
    if let Some(value) = timer_value {
        v.vmx_preemption_timer_value = value;
    }
    let c = Vmcs12Controls::of(v);
    if ept {
        v.guest_cr3 = hw::read(e::GUEST_CR3);
        if c.has_ept() && pae {
            v.guest_pdptr0 = hw::read(e::GUEST_PDPTR0);
            v.guest_pdptr1 = hw::read(e::GUEST_PDPTR1);
            v.guest_pdptr2 = hw::read(e::GUEST_PDPTR2);
            v.guest_pdptr3 = hw::read(e::GUEST_PDPTR3);
        }
    }
    v.guest_linear_address = hw::read(hw::enc::GUEST_LINEAR_ADDRESS);
    if c.sec
        .contains(crate::vmcs::controls::Secondary::VIRTUAL_INTR_DELIVERY)
    {
        v.guest_intr_status = hw::read(e::GUEST_INTR_STATUS) as u16;
    }
    let ia32e = EntryControls::IA32E_MODE.bits();
    v.vm_entry_controls = (v.vm_entry_controls & !ia32e) | (entry_ctls & ia32e);
    if c.exit.contains(ExitControls::SAVE_DEBUG_CONTROLS) {
        v.guest_dr7 = dr7;
    }
    if c.exit.contains(ExitControls::SAVE_IA32_EFER) {
        v.guest_ia32_efer = efer;
    }
}

/// The vCPU's injected events, for vmcs12's IDT-vectoring information.
fn injected(nv: &mut Nv) -> Injected {
    let a = nv.arch();
    let ex = &a.exception;
    Injected {
        exception: ex.injected.then_some(Exception {
            vector: ex.vector,
            error_code: ex.has_error_code.then_some(ex.error_code),
        }),
        nmi: a.nmi_injected,
        interrupt: a.interrupt.injected.then_some(Interrupt {
            vector: a.interrupt.nr,
            soft: a.interrupt.soft,
        }),
        event_exit_inst_len: u32::from(a.event_exit_inst_len),
    }
}

/// KVM's `prepare_vmcs12()`: the exit information.
fn prepare_vmcs12(nv: &mut Nv, reason: u32, info: u32, qual: u64) {
    let ev = injected(nv);
    let exit_len = hw::read(hw::enc::VM_EXIT_INSTRUCTION_LEN) as u32;
    let insn_info = hw::read(hw::enc::VMX_INSTRUCTION_INFO) as u32;
    let enclave = nv.exit_reason() & (1 << 27);
    let Some(v) = nv.vmcs12() else {
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
    let max = msr_list_max(nv);
    if msr_list::store_list(&mut MsrIo(nv), gpa, count, max).is_err() {
        abort(nv, VMX_ABORT_SAVE_GUEST_MSR_FAIL);
    }
}

const VMX_ABORT_SAVE_GUEST_MSR_FAIL: u32 = 1;
const VMX_ABORT_LOAD_HOST_PDPTE_FAIL: u32 = 2;
pub(crate) const VMX_ABORT_LOAD_HOST_MSR_FAIL: u32 = 4;

/// KVM's `nested_vmx_abort()`: a VMX abort shuts L1 down.
pub(crate) fn abort(nv: &mut Nv, indicator: u32) {
    let _ = indicator;
    nv.make_request(bindings::rnvmx_request_RNVMX_REQ_TRIPLE_FAULT);
}

fn set_segment(nv: &mut Nv, s: &Segment, seg: u32) {
    let vcpu = nv.raw();
    // SAFETY: the vCPU is ours (Nv invariant); `seg` is a VCPU_SREG_* index.
    unsafe {
        bindings::rnvmx_set_segment(
            vcpu,
            s.selector,
            s.base,
            s.limit,
            s.type_,
            s.s,
            s.present,
            s.db,
            s.l,
            s.g,
            s.unusable,
            seg as kernel::ffi::c_int,
        )
    };
}

/// `load_vmcs12_host_state()` from the current vmcs12.
pub(crate) fn load_host_state(nv: &mut Nv) {
    let efer = nv.arch().efer;
    let Some((h, flush, msrs)) = nv.vmcs12().map(|v| {
        (
            host_state::host_state(v, efer),
            entry::TlbTag::of(v),
            (v.vm_exit_msr_load_addr, v.vm_exit_msr_load_count),
        )
    }) else {
        return;
    };
    load_vmcs12_host_state(nv, &h, flush, msrs);
}

/// KVM's `load_vmcs12_host_state()`: L1's state after a nested exit, from
/// the core's `host_state()` values; `msr_list` is vmcs12's VM-exit MSR-load
/// list (address, count).
fn load_vmcs12_host_state(
    nv: &mut Nv,
    h: &host_state::HostState,
    tag: entry::TlbTag,
    msr_list: (u64, u32),
) {
    nv.set_efer(h.efer);
    nv.set_rsp(h.rsp);
    nv.set_rip(h.rip);
    nv.set_rflags(h.rflags);
    // vmx_set_interrupt_shadow(vcpu, 0)
    let intr = hw::read(e::GUEST_INTERRUPTIBILITY_INFO);
    if intr & 3 != 0 {
        hw::write(e::GUEST_INTERRUPTIBILITY_INFO, intr & !3);
    }
    nv.arch().cr0_guest_owned_bits = l1_guest_owned_cr0_bits() as usize;
    nv.set_cr0(h.cr0);
    nv.arch().cr4_guest_owned_bits = !hw::read(e::CR4_GUEST_HOST_MASK) as usize;
    nv.set_cr4(h.cr4);
    ept::uninit_mmu(nv);
    if entry::load_cr3(nv, h.cr3, false, true).is_err() {
        abort(nv, VMX_ABORT_LOAD_HOST_PDPTE_FAIL);
    }
    entry::transition_tlb_flush(nv, tag, false);
    hw::write(e::GUEST_SYSENTER_CS, u64::from(h.sysenter_cs));
    hw::write(e::GUEST_SYSENTER_ESP, h.sysenter_esp);
    hw::write(e::GUEST_SYSENTER_EIP, h.sysenter_eip);
    hw::write(e::GUEST_IDTR_BASE, h.idtr_base);
    hw::write(e::GUEST_GDTR_BASE, h.gdtr_base);
    hw::write(e::GUEST_IDTR_LIMIT, u64::from(DT_LIMIT));
    hw::write(e::GUEST_GDTR_LIMIT, u64::from(DT_LIMIT));
    if h.clear_bndcfgs {
        hw::write(e::GUEST_BNDCFGS, 0);
    }
    if let Some(pat) = h.pat {
        hw::write(e::GUEST_IA32_PAT, pat);
        nv.arch().pat = pat;
    }
    if let Some(ctrl) = h.perf_global_ctrl {
        let vcpu = nv.raw();
        // SAFETY: the vCPU is ours; a vCPU without a PMU refuses the write,
        // which KVM also ignores.
        let _ = unsafe { bindings::kvm_set_msr(vcpu, entry::MSR_CORE_PERF_GLOBAL_CTRL, ctrl) };
    }
    set_segment(nv, &h.cs, bindings::VCPU_SREG_CS);
    set_segment(nv, &h.ds, bindings::VCPU_SREG_DS);
    set_segment(nv, &h.es, bindings::VCPU_SREG_ES);
    set_segment(nv, &h.ss, bindings::VCPU_SREG_SS);
    set_segment(nv, &h.fs, bindings::VCPU_SREG_FS);
    set_segment(nv, &h.gs, bindings::VCPU_SREG_GS);
    set_segment(nv, &h.tr, bindings::VCPU_SREG_TR);
    set_segment(nv, &h.ldtr, bindings::VCPU_SREG_LDTR);
    nv.set_dr7(h.dr7);
    let freeze = nv.arch().host_debugctl & entry::DEBUGCTLMSR_FREEZE_IN_SMM;
    hw::write(e::GUEST_IA32_DEBUGCTL, h.debugctl | freeze);
    if entry::load_msr_list(nv, msr_list.0, msr_list.1) != 0 {
        abort(nv, VMX_ABORT_LOAD_HOST_MSR_FAIL);
    }
    let vcpu = nv.raw();
    // SAFETY: the vCPU is ours (Nv invariant); KVM's own predicate, with its
    // emulate_invalid_guest_state parameter (patch 4).
    let required = unsafe { bindings::vmx_emulation_required(vcpu) };
    nv.vmx().emulation_required = required;
}

/// KVM's `vmx_l1_guest_owned_cr0_bits()`: KVM_POSSIBLE_CR0_GUEST_BITS
/// (CR0.TS, and CR0.WP when EPT is on).
pub(crate) fn l1_guest_owned_cr0_bits() -> u64 {
    const TS: u64 = 1 << 3;
    const WP: u64 = 1 << 16;
    if entry::enable_ept() {
        TS | WP
    } else {
        TS
    }
}

/// KVM's `nested_vmx_triple_fault()`.
pub(crate) fn triple_fault(nv: &mut Nv) {
    nv.clear_request(bindings::rnvmx_request_RNVMX_REQ_TRIPLE_FAULT);
    nested_vmx_vmexit(nv, Some(u32::from(r::TRIPLE_FAULT)), 0, 0);
}

/// A reflected exception (KVM's `nested_vmx_inject_exception_vmexit()`).
pub(crate) fn inject_exception_vmexit(nv: &mut Nv) {
    let a = nv.arch();
    let ex = a.exception_vmexit;
    let (cr2, dr6) = (a.cr2 as u64, a.dr6 as u64);
    let mut info = u32::from(ex.vector) | intr_info::VALID;
    let qual = if ex.has_payload {
        ex.payload as u64
    } else if u32::from(ex.vector) == vector::PF {
        cr2
    } else if u32::from(ex.vector) == vector::DB {
        (dr6 & !DR6_BT) ^ DR6_ACTIVE_LOW
    } else {
        0
    };
    let protmode = nv.cr0() & 1 != 0;
    if ex.has_error_code && protmode {
        if let Some(v) = nv.vmcs12() {
            v.vm_exit_intr_error_code = ex.error_code & 0xffff;
        }
        info |= intr_info::DELIVER_CODE;
    }
    info |= if ex.vector == 3 || ex.vector == 4 {
        intr_info::TYPE_SOFT_EXCEPTION
    } else {
        intr_info::TYPE_HARD_EXCEPTION
    };
    let idt_valid = nv
        .vmcs12()
        .is_some_and(|v| v.idt_vectoring_info_field & intr_info::VALID != 0);
    let vcpu = nv.raw();
    // SAFETY: the vCPU is ours (Nv invariant).
    if !idt_valid && unsafe { bindings::vmx_get_nmi_mask(vcpu) } {
        info |= INTR_INFO_UNBLOCK_NMI;
    }
    nested_vmx_vmexit(nv, Some(u32::from(r::EXCEPTION_NMI)), info, qual);
}

pub(crate) const DR6_BT: u64 = 1 << 15;
const DR6_ACTIVE_LOW: u64 = 0xffff0ff0;
const INTR_INFO_UNBLOCK_NMI: u32 = 1 << 12;
