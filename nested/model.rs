// SPDX-License-Identifier: GPL-2.0

//! A model vCPU for the core's transition sequences: the current VMCS as a
//! map per VMCS (vmcs01, vmcs02), KVM's state as plain fields, and a log of
//! the calls a test asserts on (test only).

#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::vec::Vec;

use crate::nested::host_state::Segment;
use crate::nested::msr_list::{MsrAccess, MsrEntry};
use crate::nested::vcpu::{
    Deferred, ExceptionVmexit, Injected, KvmVcpu, MpState, Request, Sreg, Stat, VmRead,
};
use crate::vmcs::encoding::Encoding;
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::outcome::Outcome;

/// A call with an effect outside the modelled state, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    SwitchVmcs(bool),
    LeaveGuestMode,
    ServiceTlb,
    EptLoadPdptrs,
    Ibpb,
    CancelTimer,
    ClearEvents,
    UnmapPages,
    FlushShadow,
    TraceInject,
    Complete(Outcome),
    EptUninit,
    Apply(Deferred),
    Segment(Sreg, u16),
    PerfGlobalCtrl(u64),
    EmulationRequired,
}

/// The model.
#[derive(Default)]
pub struct Model {
    pub vmcs01: BTreeMap<u16, u64>,
    pub vmcs02: BTreeMap<u16, u64>,
    pub on02: bool,
    pub vmcs12: Option<Vmcs12>,
    pub rsp: u64,
    pub rip: u64,
    pub rflags: u64,
    pub cr0: u64,
    pub cr4: u64,
    pub efer: u64,
    pub dr7: u64,
    pub pat: u64,
    pub mp: Option<MpState>,
    pub cr0_owned: u64,
    pub cr4_owned: u64,
    pub freeze: u64,
    pub tsc: (u64, u64),
    pub l1_tsc: (u64, u64),
    pub tsc_control: bool,
    pub ept: bool,
    pub shadow: bool,
    pub entry_ctls02: u32,
    pub run_pending: bool,
    pub mtf_pending: bool,
    pub hw_fail: bool,
    pub tpr_threshold: i32,
    pub need_shadow_sync: bool,
    pub need_rare_sync: bool,
    pub deferred: Vec<Deferred>,
    pub requests: Vec<Request>,
    pub pae: bool,
    pub timer_left: u32,
    pub autoload: (u32, u32),
    pub enclave: u32,
    pub injected: Option<Injected>,
    pub exception: ExceptionVmexit,
    pub cr2: u64,
    pub dr6: u64,
    pub nmi_masked: bool,
    pub maxphyaddr: u32,
    pub pdptrs_ok: bool,
    pub cr3: Option<(u64, bool)>,
    pub last_vpid: u16,
    pub vpid02: u16,
    pub failed_checks: Vec<&'static CStr>,
    pub calls: Vec<Call>,
    pub stats: Vec<Stat>,
    /// L1 memory: MSR-list entries by GPA.
    pub msr_entries: BTreeMap<u64, MsrEntry>,
    /// MSRs of the vCPU; a missing one refuses access.
    pub msrs: BTreeMap<u32, u64>,
    pub msr_list_max: u32,
    pub guest_debug: u32,
    /// RAX..R15.
    pub gprs: [u64; 16],
    pub efer_in_areas: Option<u64>,
    pub restored_cr3: Option<u64>,
    /// The VMX instructions (model_insn.rs).
    pub insn: crate::nested::model_insn::InsnModel,
    /// Reflection and events (model_events.rs).
    pub ev: crate::nested::model_events::EventModel,
    /// The entry side (model_entry.rs).
    pub entry: crate::nested::model_entry::EntryModel,
}

impl Model {
    /// A model in L2 with vmcs12 `v`, vmcs02 current.
    pub fn in_l2(v: Vmcs12) -> Self {
        Model {
            vmcs12: Some(v),
            on02: true,
            tpr_threshold: -1,
            maxphyaddr: 46,
            pdptrs_ok: true,
            msr_list_max: 512,
            gprs: core::array::from_fn(|r| r as u64 * 0x100),
            ..Model::default()
        }
    }

    fn vmcs(&mut self) -> &mut BTreeMap<u16, u64> {
        if self.on02 {
            &mut self.vmcs02
        } else {
            &mut self.vmcs01
        }
    }

    /// A field of vmcs01 or vmcs02.
    pub fn field(&self, on02: bool, f: Encoding) -> Option<u64> {
        let m = if on02 { &self.vmcs02 } else { &self.vmcs01 };
        m.get(&f.value()).copied()
    }
}

impl MsrAccess for Model {
    fn read_entry(&mut self, gpa: u64) -> Option<MsrEntry> {
        self.msr_entries.get(&gpa).copied()
    }
    fn write_value(&mut self, gpa: u64, value: u64) -> bool {
        match self.msr_entries.get_mut(&gpa) {
            Some(e) => {
                e.value = value;
                true
            }
            None => false,
        }
    }
    fn set_msr(&mut self, index: u32, value: u64) -> bool {
        match self.msrs.get_mut(&index) {
            Some(m) => {
                *m = value;
                true
            }
            None => false,
        }
    }
    fn get_msr(&mut self, index: u32) -> Option<u64> {
        self.msrs.get(&index).copied()
    }
    fn x2apic_mode(&mut self) -> bool {
        false
    }
}

/// VMREAD of the model's current VMCS beside its vmcs12.
pub struct ModelReads<'a>(&'a BTreeMap<u16, u64>);

impl VmRead for ModelReads<'_> {
    fn vmread(&mut self, field: Encoding) -> u64 {
        self.0.get(&field.value()).copied().unwrap_or(0)
    }
}

impl KvmVcpu for Model {
    fn vmread(&mut self, field: Encoding) -> u64 {
        self.vmcs().get(&field.value()).copied().unwrap_or(0)
    }
    type Reads<'a> = ModelReads<'a>;
    fn vmcs12_and_reads(&mut self) -> Option<(&mut Vmcs12, ModelReads<'_>)> {
        let vmcs = if self.on02 {
            &self.vmcs02
        } else {
            &self.vmcs01
        };
        Some((self.vmcs12.as_mut()?, ModelReads(vmcs)))
    }
    fn vmwrite(&mut self, field: Encoding, value: u64) {
        self.vmcs().insert(field.value(), value);
    }
    fn vmcs12(&mut self) -> Option<&mut Vmcs12> {
        self.vmcs12.as_mut()
    }
    fn gpr(&mut self, reg: u8) -> u64 {
        self.gprs.get(usize::from(reg)).copied().unwrap_or(0)
    }
    fn exit_reason_full(&mut self) -> u32 {
        self.ev.exit_reason
    }
    fn rsp(&mut self) -> u64 {
        self.rsp
    }
    fn rip(&mut self) -> u64 {
        self.rip
    }
    fn set_rsp(&mut self, value: u64) {
        self.rsp = value;
    }
    fn set_rip(&mut self, value: u64) {
        self.rip = value;
    }
    fn set_rflags(&mut self, value: u64) {
        self.rflags = value;
    }
    fn set_cr0(&mut self, value: u64) {
        self.cr0 = value;
    }
    fn set_cr4(&mut self, value: u64) {
        self.cr4 = value;
    }
    fn set_efer(&mut self, value: u64) {
        self.efer = value;
    }
    fn set_dr7(&mut self, value: u64) {
        self.dr7 = value;
    }
    fn efer(&mut self) -> u64 {
        self.efer
    }
    fn dr7(&mut self) -> u64 {
        self.dr7
    }
    fn cr0(&mut self) -> u64 {
        self.cr0
    }
    fn is_pae_paging(&mut self) -> bool {
        self.pae
    }
    fn mp_state(&mut self) -> MpState {
        self.mp.unwrap_or(MpState::Runnable)
    }
    fn set_mp_state(&mut self, state: MpState) {
        self.mp = Some(state);
    }
    fn cr0_guest_owned_bits(&mut self) -> u64 {
        self.cr0_owned
    }
    fn set_cr0_guest_owned_bits(&mut self, bits: u64) {
        self.cr0_owned = bits;
    }
    fn cr4_guest_owned_bits(&mut self) -> u64 {
        self.cr4_owned
    }
    fn set_cr4_guest_owned_bits(&mut self, bits: u64) {
        self.cr4_owned = bits;
    }
    fn set_pat(&mut self, pat: u64) {
        self.pat = pat;
    }
    fn host_freeze_in_smm(&mut self) -> u64 {
        self.freeze
    }
    fn set_segment(&mut self, seg: Sreg, s: &Segment) {
        self.calls.push(Call::Segment(seg, s.selector));
    }
    fn set_perf_global_ctrl(&mut self, value: u64) {
        self.calls.push(Call::PerfGlobalCtrl(value));
    }
    fn tsc(&mut self) -> (u64, u64) {
        self.tsc
    }
    fn l1_tsc(&mut self) -> (u64, u64) {
        self.l1_tsc
    }
    fn set_tsc(&mut self, offset: u64, ratio: Option<u64>) {
        self.tsc.0 = offset;
        if let Some(r) = ratio {
            self.tsc.1 = r;
        }
    }
    fn has_tsc_control(&mut self) -> bool {
        self.tsc_control
    }
    fn enable_ept(&mut self) -> bool {
        self.ept
    }
    fn shadow_vmcs_enabled(&mut self) -> bool {
        self.shadow
    }
    fn vmcs02_entry_controls(&mut self) -> u32 {
        self.entry_ctls02
    }
    fn run_pending(&mut self) -> bool {
        self.run_pending
    }
    fn set_run_pending(&mut self, pending: bool) {
        self.run_pending = pending;
    }
    fn clear_mtf_pending(&mut self) {
        self.mtf_pending = false;
    }
    fn hw_vmfail(&mut self) -> bool {
        self.hw_fail
    }
    fn clear_hw_vmfail(&mut self) {
        self.hw_fail = false;
    }
    fn l1_tpr_threshold(&mut self) -> i32 {
        self.tpr_threshold
    }
    fn set_need_shadow_sync(&mut self) {
        self.need_shadow_sync = true;
    }
    fn evmcs_mapped(&mut self) -> bool {
        self.insn.evmcs.is_some()
    }
    fn evmcs_clean_fields(&mut self) -> u32 {
        self.insn.evmcs.map_or(0, |ev| ev.hv_clean_fields)
    }
    fn set_need_rare_sync(&mut self) {
        self.need_rare_sync = true;
    }
    fn take_deferred(&mut self, d: Deferred) -> bool {
        let before = self.deferred.len();
        self.deferred.retain(|&x| x != d);
        self.deferred.len() != before
    }
    fn apply_deferred(&mut self, d: Deferred) {
        self.calls.push(Call::Apply(d));
    }
    fn make_request(&mut self, r: Request) {
        self.requests.push(r);
    }
    fn clear_request(&mut self, r: Request) {
        self.requests.retain(|&x| x != r);
    }
    fn take_request(&mut self, r: Request) -> bool {
        let before = self.requests.len();
        self.requests.retain(|&x| x != r);
        self.requests.len() != before
    }
    fn service_tlb_flush_requests(&mut self) {
        self.calls.push(Call::ServiceTlb);
    }
    fn leave_guest_mode(&mut self) {
        self.calls.push(Call::LeaveGuestMode);
    }
    fn switch_vmcs(&mut self, to02: bool) {
        self.on02 = to02;
        self.calls.push(Call::SwitchVmcs(to02));
    }
    fn ept_load_pdptrs(&mut self) {
        self.calls.push(Call::EptLoadPdptrs);
    }
    fn ibpb(&mut self) {
        self.calls.push(Call::Ibpb);
    }
    fn cancel_preemption_timer(&mut self) {
        self.calls.push(Call::CancelTimer);
    }
    fn preemption_timer_value(&mut self) -> u32 {
        self.timer_left
    }
    fn autoload_counts(&mut self) -> (u32, u32) {
        self.autoload
    }
    fn exit_in_enclave(&mut self) -> u32 {
        self.enclave
    }
    fn injected(&mut self) -> Injected {
        self.injected.unwrap_or_default()
    }
    fn clear_event_queues(&mut self) {
        self.injected = None;
        self.calls.push(Call::ClearEvents);
    }
    fn exception_vmexit(&mut self) -> ExceptionVmexit {
        self.exception
    }
    fn cr2_dr6(&mut self) -> (u64, u64) {
        (self.cr2, self.dr6)
    }
    fn nmi_masked(&mut self) -> bool {
        self.nmi_masked
    }
    fn unmap_vmcs12_pages(&mut self) {
        self.calls.push(Call::UnmapPages);
    }
    fn flush_shadow_vmcs12(&mut self) {
        self.calls.push(Call::FlushShadow);
    }
    fn trace_vmexit_inject(&mut self) {
        self.calls.push(Call::TraceInject);
    }
    fn complete(&mut self, outcome: Outcome) {
        self.calls.push(Call::Complete(outcome));
    }
    fn guest_debug(&mut self) -> u32 {
        self.guest_debug
    }
    fn efer_in_msr_areas(&mut self) -> Option<u64> {
        self.efer_in_areas
    }
    fn restore_l1_cr3(&mut self, cr3: u64) {
        self.restored_cr3 = Some(cr3);
    }
    fn msr_list_max(&mut self) -> u32 {
        self.msr_list_max
    }
    fn count(&mut self, s: Stat) {
        self.stats.push(s);
    }
    fn ept_uninit_mmu(&mut self) {
        self.calls.push(Call::EptUninit);
    }
    fn update_emulation_required(&mut self) {
        self.calls.push(Call::EmulationRequired);
    }
    fn legal_cr3(&mut self, cr3: u64) -> bool {
        crate::vmcs::x86::legal_gpa(cr3, self.maxphyaddr)
    }
    fn load_pdptrs(&mut self, _cr3: u64) -> bool {
        self.pdptrs_ok
    }
    fn set_cr3_and_init_mmu(&mut self, cr3: u64, nested_ept: bool) {
        self.cr3 = Some((cr3, nested_ept));
    }
    fn last_vpid(&mut self) -> u16 {
        self.last_vpid
    }
    fn set_last_vpid(&mut self, vpid: u16) {
        self.last_vpid = vpid;
    }
    fn vpid02(&mut self) -> u16 {
        self.vpid02
    }
    fn check_failed(&mut self, msg: &'static CStr) {
        self.failed_checks.push(msg);
    }
}
