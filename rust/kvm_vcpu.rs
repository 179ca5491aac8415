// SPDX-License-Identifier: GPL-2.0

//! The core's `KvmVcpu` (and `MsrAccess`) on a vCPU of this backend: each
//! method one VMREAD/VMWRITE, one field of KVM's vCPU, or one KVM call.
//! The sequences that use them are the core's (nested/vmexit.rs,
//! host_load.rs, paging.rs).

use crate::bindings;
use crate::hw;
use crate::nested::events::{Exception, Interrupt};
use crate::nested::host_state::Segment;
use crate::nested::msr_autostore;
use crate::nested::msr_list::{MsrAccess, MsrEntry};
use crate::nested::vcpu::{
    Deferred, ExceptionVmexit, Injected, KvmVcpu, MpState, Request, Sreg, VmRead,
};
use crate::nvcpu::vf;
use crate::nvcpu::Nv;
use crate::vmcs::encoding::Encoding;
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::outcome::Outcome;

fn request(r: Request) -> u32 {
    match r {
        Request::GetNestedStatePages => bindings::rnvmx_request_RNVMX_REQ_GET_NESTED_STATE_PAGES,
        Request::Event => bindings::rnvmx_request_RNVMX_REQ_EVENT,
        Request::TripleFault => bindings::rnvmx_request_RNVMX_REQ_TRIPLE_FAULT,
        Request::ApicPageReload => bindings::rnvmx_request_RNVMX_REQ_APIC_PAGE_RELOAD,
        Request::TlbFlushGuest => bindings::rnvmx_request_RNVMX_REQ_TLB_FLUSH_GUEST,
        Request::TlbFlushCurrent => bindings::rnvmx_request_RNVMX_REQ_TLB_FLUSH_CURRENT,
    }
}

fn sreg(s: Sreg) -> u32 {
    match s {
        Sreg::Cs => bindings::VCPU_SREG_CS,
        Sreg::Ds => bindings::VCPU_SREG_DS,
        Sreg::Es => bindings::VCPU_SREG_ES,
        Sreg::Ss => bindings::VCPU_SREG_SS,
        Sreg::Fs => bindings::VCPU_SREG_FS,
        Sreg::Gs => bindings::VCPU_SREG_GS,
        Sreg::Tr => bindings::VCPU_SREG_TR,
        Sreg::Ldtr => bindings::VCPU_SREG_LDTR,
    }
}

/// MSR_EFER.
const MSR_EFER: u32 = 0xc000_0080;
/// IA32_PERF_GLOBAL_CTRL.
const MSR_CORE_PERF_GLOBAL_CTRL: u32 = 0x38f;

// L1 memory and MSRs as the core's MSR-list walks use them. The lists are
// L1's accesses: userspace's MSR filter applies to them as to L1's own
// RDMSR/WRMSR (nested.c's *_with_filter calls).
impl MsrAccess for Nv {
    fn read_entry(&mut self, gpa: u64) -> Option<MsrEntry> {
        let mut raw = [0u8; 16];
        if !self.read_gpa(gpa, &mut raw) {
            return None;
        }
        Some(MsrEntry::from_bytes(&raw))
    }
    fn write_value(&mut self, gpa: u64, value: u64) -> bool {
        self.write_gpa(gpa, &value.to_le_bytes())
    }
    fn set_msr(&mut self, index: u32, value: u64) -> bool {
        let vcpu = self.raw();
        // SAFETY: the vCPU is ours (Nv invariant) and loaded, as for every
        // list walk (VM entry, VM exit, vmx_leave_nested()).
        unsafe { bindings::kvm_set_msr_with_filter(vcpu, index, value) == 0 }
    }
    fn x2apic_mode(&mut self) -> bool {
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::rnvmx_x2apic_mode(self.raw()) }
    }
    fn get_msr(&mut self, index: u32) -> Option<u64> {
        // The TSC the CPU stored at the exit, when vmcs02 has it stored
        // (nested_vmx_get_vmexit_msr_value(): not filtered, as KVM's).
        if let Some(v) = msr_autostore::vmexit_msr_value(self, index) {
            return Some(v);
        }
        let vcpu = self.raw();
        let mut data = 0u64;
        // SAFETY: the vCPU is ours (Nv invariant); `data` is a valid
        // out-pointer for the call.
        (unsafe { bindings::kvm_get_msr_with_filter(vcpu, index, &mut data) } == 0).then_some(data)
    }
}

/// VMREAD of the current VMCS (`hw::read`), beside a borrow of vmcs12.
pub(crate) struct HwReads;

impl VmRead for HwReads {
    #[inline]
    fn vmread(&mut self, field: Encoding) -> u64 {
        hw::read(field)
    }
}

impl KvmVcpu for Nv {
    fn vmread(&mut self, field: Encoding) -> u64 {
        hw::read(field)
    }
    type Reads<'a> = HwReads;
    #[inline]
    fn vmcs12_and_reads(&mut self) -> Option<(&mut Vmcs12, HwReads)> {
        Some((Nv::vmcs12(self)?, HwReads))
    }
    fn vmwrite(&mut self, field: Encoding, value: u64) {
        hw::write(field, value)
    }
    fn vmcs12(&mut self) -> Option<&mut Vmcs12> {
        Nv::vmcs12(self)
    }
    fn gpr(&mut self, reg: u8) -> u64 {
        Nv::gpr(self, reg)
    }
    fn exit_reason_full(&mut self) -> u32 {
        self.exit_reason()
    }
    fn rsp(&mut self) -> u64 {
        Nv::rsp(self)
    }
    fn rip(&mut self) -> u64 {
        Nv::rip(self)
    }
    fn set_rsp(&mut self, value: u64) {
        Nv::set_rsp(self, value)
    }
    fn set_rip(&mut self, value: u64) {
        Nv::set_rip(self, value)
    }
    fn set_rflags(&mut self, value: u64) {
        Nv::set_rflags(self, value)
    }
    fn set_cr0(&mut self, value: u64) {
        Nv::set_cr0(self, value)
    }
    fn set_cr4(&mut self, value: u64) {
        Nv::set_cr4(self, value)
    }
    fn set_efer(&mut self, value: u64) {
        Nv::set_efer(self, value)
    }
    fn set_dr7(&mut self, value: u64) {
        Nv::set_dr7(self, value)
    }
    fn efer(&mut self) -> u64 {
        vf!(self, vcpu.arch.efer)
    }
    fn dr7(&mut self) -> u64 {
        vf!(self, vcpu.arch.dr7) as u64
    }
    fn cr0(&mut self) -> u64 {
        Nv::cr0(self)
    }
    fn is_pae_paging(&mut self) -> bool {
        Nv::is_pae_paging(self)
    }
    fn mp_state(&mut self) -> MpState {
        match vf!(self, vcpu.arch.mp_state) {
            m if m == bindings::KVM_MP_STATE_HALTED as i32 => MpState::Halted,
            m if m == bindings::KVM_MP_STATE_INIT_RECEIVED as i32 => MpState::InitReceived,
            _ => MpState::Runnable,
        }
    }
    fn set_mp_state(&mut self, state: MpState) {
        let m = match state {
            MpState::Runnable => bindings::KVM_MP_STATE_RUNNABLE,
            MpState::Halted => bindings::KVM_MP_STATE_HALTED,
            MpState::InitReceived => bindings::KVM_MP_STATE_INIT_RECEIVED,
        };
        vf!(self, vcpu.arch.mp_state) = m as i32;
    }
    fn cr0_guest_owned_bits(&mut self) -> u64 {
        vf!(self, vcpu.arch.cr0_guest_owned_bits) as u64
    }
    fn set_cr0_guest_owned_bits(&mut self, bits: u64) {
        vf!(self, vcpu.arch.cr0_guest_owned_bits) = bits as usize;
    }
    fn cr4_guest_owned_bits(&mut self) -> u64 {
        vf!(self, vcpu.arch.cr4_guest_owned_bits) as u64
    }
    fn set_cr4_guest_owned_bits(&mut self, bits: u64) {
        vf!(self, vcpu.arch.cr4_guest_owned_bits) = bits as usize;
    }
    fn set_pat(&mut self, pat: u64) {
        vf!(self, vcpu.arch.pat) = pat;
    }
    fn host_freeze_in_smm(&mut self) -> u64 {
        vf!(self, vcpu.arch.host_debugctl) & crate::nested::prepare02::DEBUGCTL_FREEZE_IN_SMM
    }
    #[inline]
    fn set_segment(&mut self, seg: Sreg, s: &Segment) {
        // load_vmcs12_host_state()'s `struct kvm_segment` (DPL 0, AVL 0).
        let mut var = bindings::kvm_segment {
            base: s.base,
            limit: s.limit,
            selector: s.selector,
            type_: s.type_,
            present: u8::from(s.present),
            dpl: 0,
            db: u8::from(s.db),
            s: u8::from(s.s),
            l: u8::from(s.l),
            g: u8::from(s.g),
            avl: 0,
            unusable: u8::from(s.unusable),
            padding: 0,
        };
        // SAFETY: the vCPU is ours (Nv invariant); `var` is a valid
        // kvm_segment on our stack, which __vmx_set_segment() only reads;
        // the index is a VCPU_SREG_* value.
        unsafe {
            bindings::__vmx_set_segment(self.raw(), &mut var, sreg(seg) as kernel::ffi::c_int)
        };
    }
    fn set_perf_global_ctrl(&mut self, value: u64) {
        let vcpu = self.raw();
        // SAFETY: the vCPU is ours (Nv invariant); a vCPU without a PMU
        // refuses the write, which KVM also ignores.
        let _ = unsafe { bindings::kvm_set_msr(vcpu, MSR_CORE_PERF_GLOBAL_CTRL, value) };
    }
    fn tsc(&mut self) -> (u64, u64) {
        (
            vf!(self, vcpu.arch.tsc_offset),
            vf!(self, vcpu.arch.tsc_scaling_ratio),
        )
    }
    fn l1_tsc(&mut self) -> (u64, u64) {
        (
            vf!(self, vcpu.arch.l1_tsc_offset),
            vf!(self, vcpu.arch.l1_tsc_scaling_ratio),
        )
    }
    fn set_tsc(&mut self, offset: u64, ratio: Option<u64>) {
        vf!(self, vcpu.arch.tsc_offset) = offset;
        if let Some(r) = ratio {
            vf!(self, vcpu.arch.tsc_scaling_ratio) = r;
        }
    }
    fn has_tsc_control(&mut self) -> bool {
        crate::fields::lists().map_or_else(
            // SAFETY: reads KVM's kvm_caps, fixed once kvm-intel is loaded.
            || unsafe { bindings::rnvmx_has_tsc_control() },
            |l| l.has_tsc_control,
        )
    }
    fn enable_ept(&mut self) -> bool {
        crate::entry::enable_ept()
    }
    fn shadow_vmcs_enabled(&mut self) -> bool {
        crate::shadow_vmcs::enabled()
    }
    fn vmcs02_entry_controls(&mut self) -> u32 {
        self.controls_shadow().vm_entry
    }
    fn run_pending(&mut self) -> bool {
        vf!(self, nested.nested_run_pending)
    }
    fn set_run_pending(&mut self, pending: bool) {
        vf!(self, nested.nested_run_pending) = pending;
    }
    fn clear_mtf_pending(&mut self) {
        vf!(self, nested.mtf_pending) = false;
    }
    fn hw_vmfail(&mut self) -> bool {
        vf!(self, fail) != 0
    }
    fn clear_hw_vmfail(&mut self) {
        vf!(self, fail) = 0;
    }
    fn l1_tpr_threshold(&mut self) -> i32 {
        vf!(self, nested.l1_tpr_threshold)
    }
    fn set_need_shadow_sync(&mut self) {
        vf!(self, nested.need_vmcs12_to_shadow_sync) = true;
    }
    fn evmcs_mapped(&mut self) -> bool {
        crate::evmcs::run::mapped(self)
    }
    fn evmcs_clean_fields(&mut self) -> u32 {
        crate::evmcs_vcpu::clean_fields(self)
    }
    fn evmcs_sync_rare(&mut self) {
        crate::exit::sync_evmcs_rare(self)
    }
    fn set_need_rare_sync(&mut self) {
        vf!(self, nested.need_sync_vmcs02_to_vmcs12_rare) = true;
    }
    fn take_deferred(&mut self, d: Deferred) -> bool {
        let flag = match d {
            Deferred::VirtualApicMode => &mut vf!(self, nested.change_vmcs01_virtual_apic_mode),
            Deferred::CpuDirtyLogging => &mut vf!(self, nested.update_vmcs01_cpu_dirty_logging),
            Deferred::ApicAccessPage => &mut vf!(self, nested.reload_vmcs01_apic_access_page),
            Deferred::ApicvStatus => &mut vf!(self, nested.update_vmcs01_apicv_status),
            Deferred::HwapicIsr => &mut vf!(self, nested.update_vmcs01_hwapic_isr),
        };
        core::mem::replace(flag, false)
    }
    fn apply_deferred(&mut self, d: Deferred) {
        if d == Deferred::ApicAccessPage {
            return Nv::make_request(self, request(Request::ApicPageReload));
        }
        let vcpu = self.raw();
        // SAFETY: the vCPU is ours (Nv invariant) with vmcs01 current, as
        // each of these KVM functions needs.
        unsafe {
            match d {
                Deferred::VirtualApicMode => bindings::vmx_set_virtual_apic_mode(vcpu),
                Deferred::CpuDirtyLogging => bindings::vmx_update_cpu_dirty_logging(vcpu),
                Deferred::ApicAccessPage => {}
                Deferred::ApicvStatus => bindings::vmx_refresh_apicv_exec_ctrl(vcpu),
                Deferred::HwapicIsr => bindings::kvm_apic_update_hwapic_isr(vcpu),
            }
        }
    }
    fn make_request(&mut self, r: Request) {
        Nv::make_request(self, request(r))
    }
    fn clear_request(&mut self, r: Request) {
        Nv::clear_request(self, request(r))
    }
    fn take_request(&mut self, r: Request) -> bool {
        Nv::check_request(self, request(r))
    }
    fn service_tlb_flush_requests(&mut self) {
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::kvm_service_local_tlb_flush_requests(self.raw()) };
    }
    fn leave_guest_mode(&mut self) {
        Nv::leave_guest_mode(self)
    }
    fn switch_vmcs(&mut self, to02: bool) {
        Nv::switch_vmcs(self, to02)
    }
    fn ept_load_pdptrs(&mut self) {
        // SAFETY: the vCPU is ours (Nv invariant) with vmcs02 current.
        unsafe { bindings::vmx_ept_load_pdptrs(self.raw()) };
    }
    fn ibpb(&mut self) {
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::rnvmx_ibpb_if_spec_ctrl(self.raw()) };
    }
    fn cancel_preemption_timer(&mut self) {
        crate::timer::cancel(self)
    }
    fn preemption_timer_value(&mut self) -> u32 {
        crate::nested::preemption_timer::value_at_exit(self)
    }
    fn autoload_counts(&mut self) -> (u32, u32) {
        (
            vf!(self, msr_autoload.host.nr),
            vf!(self, msr_autoload.guest.nr),
        )
    }
    fn exit_in_enclave(&mut self) -> u32 {
        self.exit_reason() & (1 << 27)
    }
    fn injected(&mut self) -> Injected {
        let ex = &vf!(self, vcpu.arch.exception);
        Injected {
            exception: ex.injected.then_some(Exception {
                vector: ex.vector,
                error_code: ex.has_error_code.then_some(ex.error_code),
            }),
            nmi: vf!(self, vcpu.arch.nmi_injected),
            interrupt: vf!(self, vcpu.arch.interrupt.injected).then_some(Interrupt {
                vector: vf!(self, vcpu.arch.interrupt.nr),
                soft: vf!(self, vcpu.arch.interrupt.soft),
            }),
            event_exit_inst_len: u32::from(vf!(self, vcpu.arch.event_exit_inst_len)),
        }
    }
    fn clear_event_queues(&mut self) {
        vf!(self, vcpu.arch.nmi_injected) = false;
        // kvm_clear_exception_queue() and kvm_clear_interrupt_queue(), the
        // inlines themselves.
        vf!(self, vcpu.arch.exception.pending) = false;
        vf!(self, vcpu.arch.exception.injected) = false;
        vf!(self, vcpu.arch.exception_vmexit.pending) = false;
        vf!(self, vcpu.arch.interrupt.injected) = false;
    }
    fn exception_vmexit(&mut self) -> ExceptionVmexit {
        let ex = vf!(self, vcpu.arch.exception_vmexit);
        ExceptionVmexit {
            vector: ex.vector,
            error_code: ex.has_error_code.then_some(ex.error_code),
            payload: ex.has_payload.then_some(ex.payload as u64),
        }
    }
    fn cr2_dr6(&mut self) -> (u64, u64) {
        (
            vf!(self, vcpu.arch.cr2) as u64,
            vf!(self, vcpu.arch.dr6) as u64,
        )
    }
    fn nmi_masked(&mut self) -> bool {
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::vmx_get_nmi_mask(self.raw()) }
    }
    fn unmap_vmcs12_pages(&mut self) {
        crate::lifecycle::unmap_vmcs12_pages(self)
    }
    fn flush_shadow_vmcs12(&mut self) {
        crate::shadow_vmcs12::flush(self)
    }
    fn trace_vmexit_inject(&mut self) {
        if let Some(v12) = Nv::vmcs12(self) {
            crate::trace::nested_vmexit_inject(v12);
        }
    }
    fn complete(&mut self, outcome: Outcome) {
        let _ = Nv::complete(self, outcome);
    }
    fn guest_debug(&mut self) -> u32 {
        Nv::guest_debug(self) as u32
    }
    fn efer_in_msr_areas(&mut self) -> Option<u64> {
        let autoload = &vf!(self, msr_autoload.guest);
        if let Some(m) =
            msr_autostore::find_slot(autoload, MSR_EFER).and_then(|i| autoload.val.get(i))
        {
            return Some(m.value);
        }
        // SAFETY: looks up KVM's user-return MSR slots; no precondition.
        let slot = unsafe { bindings::kvm_find_user_return_msr(MSR_EFER) };
        usize::try_from(slot)
            .ok()
            .and_then(|i| vf!(self, guest_uret_msrs).get(i))
            .map(|m| m.data)
    }
    fn restore_l1_cr3(&mut self, cr3: u64) {
        vf!(self, vcpu.arch.cr3) = cr3 as usize;
        let ept = crate::entry::enable_ept();
        let vcpu = self.raw();
        // SAFETY: the vCPU is ours (Nv invariant) and vmcs01 is current, for
        // each call below; ept_save_pdptrs() reads vmcs01's PDPTRs.
        unsafe {
            bindings::rnvmx_register_mark_available(vcpu, bindings::kvm_reg_VCPU_EXREG_CR3 as i32);
            if ept && bindings::rnvmx_is_pae_paging(vcpu) {
                bindings::ept_save_pdptrs(vcpu);
            }
            bindings::kvm_mmu_reset_context(vcpu);
        }
    }
    fn msr_list_max(&mut self) -> u32 {
        crate::entry::msr_list_max(self)
    }
    fn ept_uninit_mmu(&mut self) {
        crate::ept::uninit_mmu(self)
    }
    fn update_emulation_required(&mut self) {
        let vcpu = self.raw();
        // SAFETY: the vCPU is ours (Nv invariant); KVM's own predicate, with
        // its emulate_invalid_guest_state parameter (patch 4).
        let required = unsafe { bindings::vmx_emulation_required(vcpu) };
        vf!(self, emulation_required) = required;
    }
    fn legal_cr3(&mut self, cr3: u64) -> bool {
        Nv::legal_cr3(self, cr3)
    }
    fn load_pdptrs(&mut self, cr3: u64) -> bool {
        let vcpu = self.raw();
        // SAFETY: the vCPU is ours (Nv invariant); load_pdptrs() reads guest
        // memory through KVM's accessors.
        unsafe { bindings::load_pdptrs(vcpu, cr3 as usize) != 0 }
    }
    fn set_cr3_and_init_mmu(&mut self, cr3: u64, nested_ept: bool) {
        vf!(self, vcpu.arch.cr3) = cr3 as usize;
        self.register_mark_dirty(bindings::kvm_reg_VCPU_EXREG_CR3);
        let vcpu = self.raw();
        // SAFETY: the vCPU is ours (Nv invariant), for each call.
        unsafe {
            bindings::kvm_init_mmu(vcpu);
            if !nested_ept {
                bindings::kvm_mmu_new_pgd(vcpu, cr3);
            }
        }
    }
    fn last_vpid(&mut self) -> u16 {
        vf!(self, nested.last_vpid)
    }
    fn set_last_vpid(&mut self, vpid: u16) {
        vf!(self, nested.last_vpid) = vpid;
    }
    fn vpid02(&mut self) -> u16 {
        vf!(self, nested.vpid02)
    }
    fn check_failed(&mut self, msg: &'static core::ffi::CStr) {
        crate::trace::kvm_check_failed(msg)
    }
}
