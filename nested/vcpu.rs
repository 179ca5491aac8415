// SPDX-License-Identifier: GPL-2.0

//! The vCPU as a nested transition sees it: the current VMCS (vmcs01 or
//! vmcs02), vmcs12, and KVM's model of the vCPU (registers, TSC, events,
//! requests). The core's entry and exit sequences (`prepare02`, `vmexit`,
//! `host_load`) decide what goes where and in which order; `rust/`
//! implements this trait with VMREAD/VMWRITE and KVM's setters, the cargo
//! tests with a model. Every method applies or reports one thing; none
//! decides.

use crate::nested::msr_list::MsrAccess;
use crate::vmcs::encoding::Encoding;
use crate::vmcs::layout::Vmcs12;

/// KVM's `vcpu->arch.mp_state`, as far as vmcs12's activity state goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MpState {
    /// KVM_MP_STATE_RUNNABLE (and any other state).
    Runnable,
    /// KVM_MP_STATE_HALTED.
    Halted,
    /// KVM_MP_STATE_INIT_RECEIVED.
    InitReceived,
}

/// Segment registers (KVM's VCPU_SREG_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sreg {
    /// CS.
    Cs,
    /// DS.
    Ds,
    /// ES.
    Es,
    /// SS.
    Ss,
    /// FS.
    Fs,
    /// GS.
    Gs,
    /// TR.
    Tr,
    /// LDTR.
    Ldtr,
}

/// Requests the core raises or drops (KVM_REQ_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// KVM_REQ_GET_NESTED_STATE_PAGES.
    GetNestedStatePages,
    /// KVM_REQ_EVENT.
    Event,
    /// KVM_REQ_TRIPLE_FAULT (a VMX abort shuts L1 down).
    TripleFault,
    /// KVM_REQ_APIC_PAGE_RELOAD.
    ApicPageReload,
    /// KVM_REQ_TLB_FLUSH_GUEST.
    TlbFlushGuest,
    /// KVM_REQ_TLB_FLUSH_CURRENT.
    TlbFlushCurrent,
}

/// Counters the sequences move (the glue's statistics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    /// An exit from L2.
    L2Exit,
    /// A VM entry into L2 that KVM completed.
    L2Entry,
    /// An entry counted as `L2Entry` that the CPU then refused.
    L2EntryRefused,
    /// An entry check failed.
    EntryCheckFail,
    /// A VM-entry failure reported to L1 as a VM exit.
    EntryFailure,
    /// An exit from L2 reflected to L1.
    Reflected,
}

impl Stat {
    /// Moves the module's counter for `self` (`crate::nested::counters`).
    pub fn record(self) {
        use crate::nested::counters as c;
        match self {
            Stat::L2Exit => c::L2_EXITS.inc(),
            Stat::L2Entry => c::L2_ENTRIES.inc(),
            Stat::L2EntryRefused => c::L2_ENTRIES.dec(),
            Stat::EntryCheckFail => c::ENTRY_CHECK_FAILS.inc(),
            Stat::EntryFailure => c::L2_ENTRY_FAILURES.inc(),
            Stat::Reflected => c::L2_REFLECTED.inc(),
        }
    }
}

/// vmcs01 updates KVM deferred while L2 ran (nested_vmx's flags), applied
/// when vmcs01 is current again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deferred {
    /// `change_vmcs01_virtual_apic_mode`: vmx_set_virtual_apic_mode().
    VirtualApicMode,
    /// `update_vmcs01_cpu_dirty_logging`: vmx_update_cpu_dirty_logging().
    CpuDirtyLogging,
    /// `reload_vmcs01_apic_access_page`: KVM_REQ_APIC_PAGE_RELOAD.
    ApicAccessPage,
    /// `update_vmcs01_apicv_status`: vmx_refresh_apicv_exec_ctrl().
    ApicvStatus,
    /// `update_vmcs01_hwapic_isr`: kvm_apic_update_hwapic_isr().
    HwapicIsr,
}

/// The events KVM has injected or queued, for vmcs12's IDT-vectoring info
/// (see `events::Injected`); and the #DB/#PF payloads of a reflected
/// exception.
pub use crate::nested::events::Injected;

/// A reflected exception (`vcpu->arch.exception_vmexit`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExceptionVmexit {
    /// Vector.
    pub vector: u8,
    /// Error code, if the exception has one.
    pub error_code: Option<u32>,
    /// The payload (CR2 or DR6 bits), if KVM recorded one.
    pub payload: Option<u64>,
}

/// VMREAD of the current VMCS, held beside a borrow of vmcs12
/// ([`KvmVcpu::vmcs12_and_reads`]).
pub trait VmRead {
    /// VMREAD of the current VMCS.
    fn vmread(&mut self, field: Encoding) -> u64;
}

/// The vCPU of a nested transition.
pub trait KvmVcpu: MsrAccess {
    /// VMREAD of the current VMCS.
    fn vmread(&mut self, field: Encoding) -> u64;
    /// VMWRITE of the current VMCS.
    fn vmwrite(&mut self, field: Encoding, value: u64);
    /// The cached vmcs12, if L1 has a current VMCS.
    fn vmcs12(&mut self) -> Option<&mut Vmcs12>;
    /// What [`Self::vmcs12_and_reads`] reads the current VMCS with.
    type Reads<'a>: VmRead
    where
        Self: 'a;
    /// The cached vmcs12 together with VMREAD of the current VMCS, so that
    /// a sync from vmcs02 stores each field as it reads it instead of
    /// holding every value until vmcs12 is borrowed.
    fn vmcs12_and_reads(&mut self) -> Option<(&mut Vmcs12, Self::Reads<'_>)>;

    /// General-purpose register `reg` (0-15; `kvm_register_read()`).
    fn gpr(&mut self, reg: u8) -> u64;
    /// The full exit reason of the last VM exit (`vmx->exit_reason`).
    fn exit_reason_full(&mut self) -> u32;
    /// `kvm_rsp_read()`.
    fn rsp(&mut self) -> u64;
    /// `kvm_rip_read()`.
    fn rip(&mut self) -> u64;
    /// `kvm_rsp_write()`.
    fn set_rsp(&mut self, value: u64);
    /// `kvm_rip_write()`.
    fn set_rip(&mut self, value: u64);
    /// `vmx_set_rflags()`.
    fn set_rflags(&mut self, value: u64);
    /// `vmx_set_cr0()`.
    fn set_cr0(&mut self, value: u64);
    /// `vmx_set_cr4()`.
    fn set_cr4(&mut self, value: u64);
    /// `vmx_set_efer()`.
    fn set_efer(&mut self, value: u64);
    /// `vmx_set_dr7()`.
    fn set_dr7(&mut self, value: u64);
    /// `vcpu->arch.efer`.
    fn efer(&mut self) -> u64;
    /// `vcpu->arch.dr7`.
    fn dr7(&mut self) -> u64;
    /// `kvm_read_cr0()`.
    fn cr0(&mut self) -> u64;
    /// `is_pae_paging()`.
    fn is_pae_paging(&mut self) -> bool;
    /// `vcpu->arch.mp_state`.
    fn mp_state(&mut self) -> MpState;
    /// Sets `vcpu->arch.mp_state`.
    fn set_mp_state(&mut self, state: MpState);
    /// `vcpu->arch.cr0_guest_owned_bits`.
    fn cr0_guest_owned_bits(&mut self) -> u64;
    /// Sets `vcpu->arch.cr0_guest_owned_bits`.
    fn set_cr0_guest_owned_bits(&mut self, bits: u64);
    /// `vcpu->arch.cr4_guest_owned_bits`.
    fn cr4_guest_owned_bits(&mut self) -> u64;
    /// Sets `vcpu->arch.cr4_guest_owned_bits`.
    fn set_cr4_guest_owned_bits(&mut self, bits: u64);
    /// Sets `vcpu->arch.pat`.
    fn set_pat(&mut self, pat: u64);
    /// `vmx->host_debugctlmsr`'s FREEZE_IN_SMM bit, which vmcs01 and
    /// vmcs02 keep from the host.
    fn host_freeze_in_smm(&mut self) -> u64;
    /// `__vmx_set_segment()` (with KVM's segment cache).
    fn set_segment(&mut self, seg: Sreg, s: &crate::nested::host_state::Segment);
    /// `kvm_set_msr()` of IA32_PERF_GLOBAL_CTRL (refused without a PMU,
    /// which KVM ignores too).
    fn set_perf_global_ctrl(&mut self, value: u64);

    /// `vcpu->arch.tsc_offset` and `tsc_scaling_ratio`.
    fn tsc(&mut self) -> (u64, u64);
    /// L1's: `l1_tsc_offset` and `l1_tsc_scaling_ratio`.
    fn l1_tsc(&mut self) -> (u64, u64);
    /// Sets `tsc_offset` and, if `Some`, `tsc_scaling_ratio`.
    fn set_tsc(&mut self, offset: u64, ratio: Option<u64>);
    /// The CPU has TSC scaling (`kvm_caps.has_tsc_control`).
    fn has_tsc_control(&mut self) -> bool;

    /// `enable_ept`.
    fn enable_ept(&mut self) -> bool;
    /// VMCS shadowing is in use (`enable_shadow_vmcs`).
    fn shadow_vmcs_enabled(&mut self) -> bool;

    /// vmcs02's VM-entry controls (KVM's controls shadow).
    fn vmcs02_entry_controls(&mut self) -> u32;
    /// `nested.nested_run_pending`.
    fn run_pending(&mut self) -> bool;
    /// Sets `nested.nested_run_pending`.
    fn set_run_pending(&mut self, pending: bool);
    /// Clears `nested.mtf_pending`.
    fn clear_mtf_pending(&mut self);
    /// `vmx->fail`: the CPU refused vmcs02 after KVM's checks passed.
    fn hw_vmfail(&mut self) -> bool;
    /// Clears `vmx->fail`.
    fn clear_hw_vmfail(&mut self);
    /// `nested.l1_tpr_threshold` (-1: none saved).
    fn l1_tpr_threshold(&mut self) -> i32;
    /// Sets `nested.need_vmcs12_to_shadow_sync`.
    fn set_need_shadow_sync(&mut self);
    /// An eVMCS is mapped (`nested_vmx_is_evmptr12_valid()`): like a
    /// shadow VMCS, L1 reads it without exits, so a nested exit syncs
    /// vmcs12 to it.
    fn evmcs_mapped(&mut self) -> bool {
        false
    }
    /// The mapped eVMCS's `hv_clean_fields` (0 without one): the groups
    /// L1 declared unchanged since the last entry.
    fn evmcs_clean_fields(&mut self) -> u32 {
        0
    }
    /// nested.c's `sync_vmcs02_to_vmcs12_rare()` now, vmcs02 current
    /// (`vmcs02::sync_evmcs_rare_rows`): with an eVMCS the rare fields are
    /// synced at the exit, not lazily (L1 reads them from the eVMCS
    /// without exits); the lazy sync is then not needed. Only called with
    /// an eVMCS mapped.
    fn evmcs_sync_rare(&mut self) {}
    /// Sets `nested.need_sync_vmcs02_to_vmcs12_rare`.
    fn set_need_rare_sync(&mut self);
    /// Takes (reads and clears) a deferred vmcs01 update.
    fn take_deferred(&mut self, d: Deferred) -> bool;
    /// Applies a deferred vmcs01 update.
    fn apply_deferred(&mut self, d: Deferred);

    /// `kvm_make_request()`.
    fn make_request(&mut self, r: Request);
    /// `kvm_clear_request()`.
    fn clear_request(&mut self, r: Request);
    /// `kvm_check_request()`: tests and clears.
    fn take_request(&mut self, r: Request) -> bool;
    /// `kvm_service_local_tlb_flush_requests()`.
    fn service_tlb_flush_requests(&mut self);
    /// `leave_guest_mode()`.
    fn leave_guest_mode(&mut self);
    /// `vmx_switch_vmcs()`: vmcs02 current if `to02`, else vmcs01.
    fn switch_vmcs(&mut self, to02: bool);
    /// `vmx_ept_load_pdptrs()`: KVM's PDPTE cache loaded from vmcs02's
    /// guest PDPTEs (the CPU's, which L2's run may have changed).
    fn ept_load_pdptrs(&mut self);
    /// `indirect_branch_prediction_barrier()` if L1 may use SPEC_CTRL.
    fn ibpb(&mut self);
    /// Cancels the emulated VMX-preemption timer.
    fn cancel_preemption_timer(&mut self);
    /// The VMX-preemption timer value left (`vmx_get_preemption_timer_value()`).
    fn preemption_timer_value(&mut self) -> u32;
    /// The VM-exit MSR-load list's entry count and the VM-entry one of
    /// KVM's own autoload areas (`msr_autoload.host/guest.nr`).
    fn autoload_counts(&mut self) -> (u32, u32);
    /// `vcpu->arch.exit_reason`'s "enclave mode" bit (27).
    fn exit_in_enclave(&mut self) -> u32;
    /// The events KVM injected (for IDT-vectoring info); clears nothing.
    fn injected(&mut self) -> Injected;
    /// Drops injected and queued events (`nmi_injected`, the exception and
    /// interrupt queues), which vmcs12 now holds.
    fn clear_event_queues(&mut self);
    /// The reflected exception (`vcpu->arch.exception_vmexit`).
    fn exception_vmexit(&mut self) -> ExceptionVmexit;
    /// `vcpu->arch.cr2`, `vcpu->arch.dr6`.
    fn cr2_dr6(&mut self) -> (u64, u64);
    /// `vmx_get_nmi_mask()`.
    fn nmi_masked(&mut self) -> bool;

    /// Unmaps the L1 pages vmcs12 names (APIC access, virtual APIC, PI).
    fn unmap_vmcs12_pages(&mut self);
    /// Writes the cached shadow vmcs12 back to L1 memory.
    fn flush_shadow_vmcs12(&mut self);
    /// The tracepoint `kvm_nested_vmexit_inject`.
    fn trace_vmexit_inject(&mut self);
    /// Completes L1's VMX instruction with `outcome` (RFLAGS, the
    /// VM-instruction error, RIP past the instruction).
    fn complete(&mut self, outcome: crate::vmcs::outcome::Outcome);
    /// `vcpu->guest_debug` (KVM_GUESTDBG_*).
    fn guest_debug(&mut self) -> u32;
    /// L1's EFER in KVM's MSR autoload area or user-return MSRs, if there.
    fn efer_in_msr_areas(&mut self) -> Option<u64>;
    /// L1's CR3 back from vmcs01 after a late VMfail: `vcpu->arch.cr3`,
    /// marked available, the PDPTEs from vmcs01 (EPT, PAE) and
    /// `kvm_mmu_reset_context()`.
    fn restore_l1_cr3(&mut self, cr3: u64);
    /// The MSR-list capacity (`nested_vmx_max_atomic_switch_msrs()`).
    fn msr_list_max(&mut self) -> u32;
    /// Counts `s` (the module's counters; a model may record it instead).
    fn count(&mut self, s: Stat) {
        s.record()
    }

    /// `nested_ept_uninit_mmu_context()`.
    fn ept_uninit_mmu(&mut self);
    /// `vmx_emulation_required()`, stored into `vmx->emulation_required`.
    fn update_emulation_required(&mut self);

    /// `kvm_vcpu_is_legal_cr3()`.
    fn legal_cr3(&mut self, cr3: u64) -> bool;
    /// `load_pdptrs()` from guest memory at `cr3`.
    fn load_pdptrs(&mut self, cr3: u64) -> bool;
    /// `vcpu->arch.cr3 = cr3`, marked dirty, `kvm_init_mmu()`, and without
    /// nested EPT `kvm_mmu_new_pgd()`.
    fn set_cr3_and_init_mmu(&mut self, cr3: u64, nested_ept: bool);
    /// `nested.last_vpid`.
    fn last_vpid(&mut self) -> u16;
    /// Sets `nested.last_vpid`.
    fn set_last_vpid(&mut self, vpid: u16);
    /// `nested.vpid02` (0: none allocated).
    fn vpid02(&mut self) -> u16;
    /// A check KVM makes itself failed: its CC() text, for the
    /// `kvm_nested_vmenter_failed` tracepoint.
    fn check_failed(&mut self, msg: &'static core::ffi::CStr);
}
