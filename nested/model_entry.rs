// SPDX-License-Identifier: GPL-2.0

//! The model vCPU (model.rs) for nested VM entries: `EntryVcpu`, with the
//! SDM checks answered by the model's own settings (model only).

#![allow(missing_docs)]

use crate::nested::entry_vcpu::{Control, Controls, EntryVcpu, L0Caps, Vmcs02Pages};
use crate::nested::insn::Fault;
use crate::nested::model::{Call, Model};
use crate::vmcs::checks::Check;
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::outcome::Outcome;

/// A call of a VM entry with an effect outside the modelled state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryCall {
    /// `fault`.
    Fault(Fault),
    /// `set_control`.
    SetControl(Control, u32),
    /// `set_constant_host_state`.
    ConstantHostState,
    /// `write_encls_bitmap`.
    EnclsBitmap,
    /// `reset_segment_cache`.
    SegmentCacheReset,
    /// `prepare_tsc_autostore`.
    TscAutostore,
    /// `set_cr4_guest_host_mask`.
    Cr4GuestHostMask,
    /// `update_exception_bitmap`.
    ExceptionBitmap,
    /// `ept_init_mmu`.
    EptInit,
    /// `pmu_branch_retired`.
    PmuBranch,
    /// `shadow_vmcs_to_vmcs12`.
    ShadowToVmcs12,
    /// `evmcs_to_vmcs12(launch)`.
    EvmcsToVmcs12(bool),
    /// `trace_vmenter`.
    TraceVmenter,
    /// `trace_precheck_failed`.
    TracePrecheck(Outcome),
    /// `trace_check_failed`.
    TraceCheck(Check),
    /// `enter_guest_mode`.
    EnterGuestMode,
    /// `start_preemption_timer`.
    StartTimer(u32),
    /// `exit_internal_error`.
    InternalError,
    /// `set_l1tf_flush`.
    L1tfFlush,
    /// `alloc_shadow_vmcs12_cache` (whether it allocated).
    AllocShadowCache(bool),
    /// `cache_shadow_vmcs12`.
    CacheShadow,
    /// `emulate_halt`.
    Halt,
}

/// The entry side of the model: its settings and its log.
#[derive(Default)]
pub struct EntryModel {
    pub caps: L0Caps,
    pub vmcs01: Controls,
    pub vmcs02: Controls,
    pub vmcs02_initialized: bool,
    pub pages: Vmcs02Pages,
    pub vpid01: u16,
    pub dirty_vmcs12: bool,
    pub pi_pending: bool,
    pub posted_intr_nv: u16,
    pub nmi_known_unmasked: Option<bool>,
    pub need_pf_intercept: bool,
    pub autostore: u32,
    pub supported_debugctl: u64,
    pub pre_debugctl: u64,
    pub pre_bndcfgs: u64,
    pub guest_state_valid: bool,
    pub cr3: u64,
    pub vmxon: bool,
    pub cpl: u8,
    pub current_vmcs: bool,
    pub apicv: bool,
    pub ppr: u32,
    pub init_pending: bool,
    pub pages_ok: bool,
    pub check_controls: Option<Check>,
    pub check_guest: Option<Check>,
    pub timer_deadline: bool,
    pub timer_expired: bool,
    pub pi_notification: bool,
    /// The enlightened VMPTRLD's outcome (`None`: disabled).
    pub evmptrld: Option<crate::evmcs::vmptrld::Evmptrld>,
    pub evmcs_check: Option<crate::evmcs::controls::EvmcsCheck>,
    /// The shadow vmcs12's cache is allocated.
    pub shadow_cache: bool,
    /// Allocating it fails with this errno.
    pub shadow_cache_fails: Option<i32>,
    pub calls: std::vec::Vec<EntryCall>,
}

impl EntryVcpu for Model {
    fn l0_caps(&mut self) -> L0Caps {
        self.entry.caps
    }
    fn vmcs01_controls(&mut self) -> Controls {
        self.entry.vmcs01
    }
    fn vmcs02_controls(&mut self) -> Controls {
        self.entry.vmcs02
    }
    fn set_control(&mut self, which: Control, value: u32) {
        let c = &mut self.entry.vmcs02;
        *match which {
            Control::Pin => &mut c.pin,
            Control::Exec => &mut c.exec,
            Control::Secondary => &mut c.secondary,
            Control::Entry => &mut c.entry,
            Control::Exit => &mut c.exit,
        } = value;
        self.entry.calls.push(EntryCall::SetControl(which, value));
    }
    fn take_vmcs02_uninitialized(&mut self) -> bool {
        !core::mem::replace(&mut self.entry.vmcs02_initialized, true)
    }
    fn vmcs02_pages(&mut self) -> Vmcs02Pages {
        self.entry.pages
    }
    fn set_constant_host_state(&mut self) {
        self.entry.calls.push(EntryCall::ConstantHostState);
    }
    fn vpid01(&mut self) -> u16 {
        self.entry.vpid01
    }
    fn dirty_vmcs12(&mut self) -> bool {
        self.entry.dirty_vmcs12
    }
    fn set_dirty_vmcs12(&mut self, dirty: bool) {
        self.entry.dirty_vmcs12 = dirty;
    }
    fn clear_pi_pending(&mut self) {
        self.entry.pi_pending = false;
    }
    fn set_posted_intr_nv(&mut self, nv: u16) {
        self.entry.posted_intr_nv = nv;
    }
    fn posted_intr_nv(&mut self) -> u16 {
        self.entry.posted_intr_nv
    }
    fn set_l1_tpr_threshold(&mut self, t: i32) {
        self.tpr_threshold = t;
    }
    fn write_encls_bitmap(&mut self, _v: &Vmcs12) {
        self.entry.calls.push(EntryCall::EnclsBitmap);
    }
    fn set_nmi_known_unmasked(&mut self, unmasked: bool) {
        self.entry.nmi_known_unmasked = Some(unmasked);
    }
    fn reset_segment_cache(&mut self) {
        self.entry.calls.push(EntryCall::SegmentCacheReset);
    }
    fn need_pf_intercept(&mut self) -> bool {
        self.entry.need_pf_intercept
    }
    fn prepare_tsc_autostore(&mut self, _v: &Vmcs12) {
        self.entry.calls.push(EntryCall::TscAutostore);
    }
    fn autostore_count(&mut self) -> u32 {
        self.entry.autostore
    }
    fn set_cr4_guest_host_mask(&mut self) {
        self.entry.calls.push(EntryCall::Cr4GuestHostMask);
    }
    fn supported_debugctl(&mut self) -> u64 {
        self.entry.supported_debugctl
    }
    fn pre_vmenter_debugctl(&mut self) -> u64 {
        self.entry.pre_debugctl
    }
    fn set_pre_vmenter_debugctl(&mut self, v: u64) {
        self.entry.pre_debugctl = v;
    }
    fn pre_vmenter_bndcfgs(&mut self) -> u64 {
        self.entry.pre_bndcfgs
    }
    fn set_pre_vmenter_bndcfgs(&mut self, v: u64) {
        self.entry.pre_bndcfgs = v;
    }
    fn update_exception_bitmap(&mut self) {
        self.entry.calls.push(EntryCall::ExceptionBitmap);
    }
    fn pat(&mut self) -> u64 {
        self.pat
    }
    fn nested_tsc(&mut self, l2_offset: u64, l2_mult: u64) -> (u64, u64) {
        // Without scaling in the model: offsets add, L2's ratio applies.
        (self.l1_tsc.0.wrapping_add(l2_offset), l2_mult)
    }
    fn ept_init_mmu(&mut self) {
        self.entry.calls.push(EntryCall::EptInit);
    }
    fn guest_state_valid(&mut self) -> bool {
        self.entry.guest_state_valid
    }
    fn cr3(&mut self) -> u64 {
        self.entry.cr3
    }
    fn vmxon(&mut self) -> bool {
        self.entry.vmxon
    }
    fn cpl(&mut self) -> u8 {
        self.entry.cpl
    }
    fn fault(&mut self, f: Fault) -> i32 {
        self.entry.calls.push(EntryCall::Fault(f));
        1
    }
    fn complete_insn(&mut self, o: Outcome) -> i32 {
        self.calls.push(Call::Complete(o));
        1
    }
    fn pmu_branch_retired(&mut self) {
        self.entry.calls.push(EntryCall::PmuBranch);
    }
    fn has_current_vmcs(&mut self) -> bool {
        self.entry.current_vmcs
    }
    fn shadow_vmcs_to_vmcs12(&mut self) {
        self.entry.calls.push(EntryCall::ShadowToVmcs12);
    }
    fn enlightened_vmptrld(&mut self, _launch: bool) -> crate::evmcs::vmptrld::Evmptrld {
        self.entry
            .evmptrld
            .unwrap_or(crate::evmcs::vmptrld::Evmptrld::Disabled)
    }
    fn evmcs_to_vmcs12(&mut self, launch: bool) {
        self.entry.calls.push(EntryCall::EvmcsToVmcs12(launch));
    }
    fn check_evmcs_controls(
        &mut self,
        _v: &Vmcs12,
    ) -> Result<(), crate::evmcs::controls::EvmcsCheck> {
        self.entry.evmcs_check.map_or(Ok(()), Err)
    }
    fn trace_vmenter(&mut self, _v: &Vmcs12) {
        self.entry.calls.push(EntryCall::TraceVmenter);
    }
    fn trace_precheck_failed(&mut self, o: &Outcome) {
        self.entry.calls.push(EntryCall::TracePrecheck(*o));
    }
    fn trace_check_failed(&mut self, c: Check) {
        self.entry.calls.push(EntryCall::TraceCheck(c));
    }
    fn check_controls_and_host(&mut self, _v: &Vmcs12) -> Result<(), Check> {
        self.entry.check_controls.map_or(Ok(()), Err)
    }
    fn check_guest(&mut self, _v: &Vmcs12) -> Result<(), Check> {
        self.entry.check_guest.map_or(Ok(()), Err)
    }
    fn clear_preemption_timer_deadline(&mut self) {
        self.entry.timer_deadline = false;
    }
    fn apicv_active(&mut self) -> bool {
        self.entry.apicv
    }
    fn apic_ppr(&mut self) -> u32 {
        self.entry.ppr
    }
    fn init_event_pending(&mut self) -> bool {
        self.entry.init_pending
    }
    fn get_vmcs12_pages(&mut self, _v: &Vmcs12) -> bool {
        self.entry.pages_ok
    }
    fn enter_guest_mode(&mut self) {
        self.entry.calls.push(EntryCall::EnterGuestMode);
    }
    fn clear_preemption_timer_expired(&mut self) {
        self.entry.timer_expired = false;
    }
    fn start_preemption_timer(&mut self, value: u32) {
        self.entry.calls.push(EntryCall::StartTimer(value));
    }
    fn exit_internal_error(&mut self) -> i32 {
        self.entry.calls.push(EntryCall::InternalError);
        0
    }
    fn take_pi_notification(&mut self) -> bool {
        core::mem::replace(&mut self.entry.pi_notification, false)
    }
    fn set_l1tf_flush(&mut self) {
        self.entry.calls.push(EntryCall::L1tfFlush);
    }
    fn alloc_shadow_vmcs12_cache(&mut self) -> Result<(), i32> {
        let allocate = !self.entry.shadow_cache;
        self.entry.calls.push(EntryCall::AllocShadowCache(allocate));
        if allocate {
            if let Some(e) = self.entry.shadow_cache_fails {
                return Err(e);
            }
            self.entry.shadow_cache = true;
        }
        Ok(())
    }
    fn cache_shadow_vmcs12(&mut self) {
        self.entry.calls.push(EntryCall::CacheShadow);
    }
    fn emulate_halt(&mut self) -> i32 {
        self.entry.calls.push(EntryCall::Halt);
        1
    }
}
