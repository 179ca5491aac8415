// SPDX-License-Identifier: GPL-2.0

//! Model vCPUs for nested EPT and PML (`EptVcpu`, `PmlVcpu`), vmcs12's
//! pages (`PagesVcpu`), the preemption timer (`TimerVcpu`) and VMX
//! operation's lifecycle (`LifecycleVcpu`): plain fields and a log of the
//! calls a test asserts on (model only).

#![allow(missing_docs)]

use std::vec::Vec;

use crate::nested::entry_vcpu::Control;
use crate::nested::ept::{CachedRoot, EptVcpu, ShadowEptMmu};
use crate::nested::lifecycle::{LifecycleVcpu, Reset, Resource};
use crate::nested::pml::{PmlState, PmlVcpu};
use crate::nested::preemption_timer::TimerVcpu;
use crate::nested::vmcs12_pages::{Page, PagesVcpu};
use crate::vmcs::encoding::Encoding;
use crate::vmcs::layout::Vmcs12;

/// A call of the EPT/PML model with an effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EptCall {
    Invalidate(u64, u64),
    Count,
    Vmexit(u16, u64),
    Gpa(u64),
    InitMmu(ShadowEptMmu),
    WritePml(u64, u64),
    PmlIndex(u16),
    CountPml,
}

/// The EPT/PML model.
#[derive(Default)]
pub struct EptModel {
    pub guest_mode: bool,
    pub pml_full: bool,
    pub pml: Option<PmlState>,
    pub write_fails: bool,
    pub hw_qual: u64,
    pub eptp: u64,
    pub caps: u32,
    pub roots: Vec<CachedRoot>,
    pub log: Vec<EptCall>,
}

impl PmlVcpu for EptModel {
    fn pml_in_guest_mode(&mut self) -> bool {
        self.guest_mode
    }
    fn pml_full(&mut self) -> bool {
        self.pml_full
    }
    fn set_pml_full(&mut self, full: bool) {
        self.pml_full = full;
    }
    fn pml_state(&mut self) -> Option<PmlState> {
        self.pml
    }
    fn write_pml_entry(&mut self, dst: u64, entry: u64) -> bool {
        self.log.push(EptCall::WritePml(dst, entry));
        !self.write_fails
    }
    fn set_pml_index(&mut self, index: u16) {
        if let Some(p) = self.pml.as_mut() {
            p.index = index;
        }
        self.log.push(EptCall::PmlIndex(index));
    }
    fn count_pml_logged(&mut self) {
        self.log.push(EptCall::CountPml);
    }
}

impl EptVcpu for EptModel {
    fn hw_exit_qualification(&mut self) -> u64 {
        self.hw_qual
    }
    fn ept_pointer(&mut self) -> u64 {
        self.eptp
    }
    fn prev_root(&mut self, i: usize) -> Option<CachedRoot> {
        self.roots.get(i).copied()
    }
    fn invalidate_roots(&mut self, addr: u64, roots: u64) {
        self.log.push(EptCall::Invalidate(addr, roots));
    }
    fn count_ept_fault(&mut self) {
        self.log.push(EptCall::Count);
    }
    fn ept_vmexit(&mut self, reason: u16, qualification: u64) {
        self.log.push(EptCall::Vmexit(reason, qualification));
    }
    fn set_guest_physical_address(&mut self, gpa: u64) {
        self.log.push(EptCall::Gpa(gpa));
    }
    fn ept_caps(&mut self) -> u32 {
        self.caps
    }
    fn init_shadow_ept_mmu(&mut self, mmu: ShadowEptMmu) {
        self.log.push(EptCall::InitMmu(mmu));
    }
}

/// A call of the pages model with an effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagesCall {
    LoadPdptrs,
    Map(Page, u64),
    Write(Encoding, u64),
    PiDesc(Option<u64>),
    Control(Control, u32),
    MsrBitmap,
}

/// The pages model: a page maps to 0x10_0000 + its GPA's frame.
#[derive(Default)]
pub struct PagesModel {
    pub from_userspace: bool,
    pub pae: bool,
    pub pdptrs_ok: bool,
    pub missing: Vec<Page>,
    pub exec: u32,
    pub pin: u32,
    pub msr_bitmap: bool,
    pub log: Vec<PagesCall>,
}

impl PagesVcpu for PagesModel {
    fn pdptrs_from_userspace(&mut self) -> bool {
        self.from_userspace
    }
    fn pae_paging(&mut self) -> bool {
        self.pae
    }
    fn load_pdptrs_from_cr3(&mut self) -> bool {
        self.log.push(PagesCall::LoadPdptrs);
        self.pdptrs_ok
    }
    fn map_page(&mut self, page: Page, gpa: u64) -> Option<u64> {
        self.log.push(PagesCall::Map(page, gpa));
        (!self.missing.contains(&page)).then_some((gpa & !0xfff).wrapping_add(0x10_0000))
    }
    fn write_page_field(&mut self, field: Encoding, value: u64) {
        self.log.push(PagesCall::Write(field, value));
    }
    fn set_pi_desc(&mut self, offset: Option<u64>) {
        self.log.push(PagesCall::PiDesc(offset));
    }
    fn control02(&mut self, which: Control) -> u32 {
        match which {
            Control::Pin => self.pin,
            _ => self.exec,
        }
    }
    fn set_control02(&mut self, which: Control, value: u32) {
        match which {
            Control::Pin => self.pin = value,
            _ => self.exec = value,
        }
        self.log.push(PagesCall::Control(which, value));
    }
    fn prepare_msr_bitmap(&mut self, _v: &Vmcs12) -> bool {
        self.log.push(PagesCall::MsrBitmap);
        self.msr_bitmap
    }
}

/// A call of the timer model with an effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerCall {
    ExpireNow,
    Arm(u64),
}

/// The preemption-timer model.
#[derive(Default)]
pub struct TimerModel {
    pub tsc: u64,
    pub deadline: Option<u64>,
    pub khz: u32,
    pub expired: bool,
    pub remaining_ns: i64,
    pub log: Vec<TimerCall>,
}

impl TimerVcpu for TimerModel {
    fn l1_scaled_tsc(&mut self) -> u64 {
        self.tsc
    }
    fn timer_deadline(&mut self) -> Option<u64> {
        self.deadline
    }
    fn set_timer_deadline(&mut self, deadline: u64) {
        self.deadline = Some(deadline);
    }
    fn tsc_khz(&mut self) -> u32 {
        self.khz
    }
    fn expire_timer_now(&mut self) {
        self.expired = true;
        self.log.push(TimerCall::ExpireNow);
    }
    fn arm_timer(&mut self, ns: u64) {
        self.log.push(TimerCall::Arm(ns));
    }
    fn timer_expired(&mut self) -> bool {
        self.expired
    }
    fn timer_remaining_ns(&mut self) -> i64 {
        self.remaining_ns
    }
}

/// A call of the lifecycle model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifeCall {
    Alloc(Resource),
    Free(Resource),
    AllocVpid,
    FreeVpid(u16),
    InitTimer,
    Apply(Reset),
    SwitchTo01,
    ClearRequest,
    ShadowToVmcs12,
    DisableShadow,
    SyncRare,
    WriteBack(u64),
    FreeRoots,
    Unmap,
    ForcedExit,
}

/// The fields of `nested_vmx` the lifecycle resets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NestedFields {
    pub vmxon: bool,
    pub smm_vmxon: bool,
    pub vmxon_ptr: u64,
    pub current_vmptr: u64,
    pub vpid02: u16,
    pub last_vpid: u16,
    pub vmcs02_initialized: bool,
    pub shadow_cache_gpa: u64,
    pub need_rare_sync: bool,
    pub posted_intr_nv: u16,
}

/// The lifecycle model.
#[derive(Default)]
pub struct LifecycleModel {
    pub state: NestedFields,
    pub allocated: Vec<Resource>,
    /// The allocation that fails.
    pub fail: Option<Resource>,
    pub next_vpid: u16,
    pub shadowing: bool,
    pub guest_mode: bool,
    pub run_pending: bool,
    pub log: Vec<LifeCall>,
}

impl LifecycleModel {
    /// Outside VMX operation, with stale values a VMXON must reset, and
    /// `vpid` the next VPID.
    pub fn outside(vpid: u16) -> Self {
        LifecycleModel {
            state: NestedFields {
                vmxon_ptr: 0x1000,
                current_vmptr: 0x3000,
                last_vpid: 7,
                vmcs02_initialized: true,
                shadow_cache_gpa: 0x4000,
                posted_intr_nv: 0xf2,
                ..NestedFields::default()
            },
            next_vpid: vpid,
            ..LifecycleModel::default()
        }
    }
}

impl LifecycleVcpu for LifecycleModel {
    type Error = i32;
    fn alloc(&mut self, r: Resource) -> Result<(), i32> {
        self.log.push(LifeCall::Alloc(r));
        if self.fail == Some(r) {
            return Err(-12);
        }
        self.allocated.push(r);
        Ok(())
    }
    fn free(&mut self, r: Resource) {
        self.log.push(LifeCall::Free(r));
        self.allocated.retain(|a| *a != r);
    }
    fn allocate_vpid(&mut self) -> u16 {
        self.log.push(LifeCall::AllocVpid);
        self.next_vpid
    }
    fn free_vpid(&mut self, vpid: u16) {
        self.log.push(LifeCall::FreeVpid(vpid));
    }
    fn init_preemption_timer(&mut self) {
        self.log.push(LifeCall::InitTimer);
    }
    fn apply(&mut self, r: Reset) {
        self.log.push(LifeCall::Apply(r));
        let s = &mut self.state;
        match r {
            Reset::Vmxon(b) => s.vmxon = b,
            Reset::SmmVmxon(b) => s.smm_vmxon = b,
            Reset::VmxonPtr(p) => s.vmxon_ptr = p,
            Reset::CurrentVmptr(p) => s.current_vmptr = p,
            Reset::Vpid02(v) => s.vpid02 = v,
            Reset::LastVpid(v) => s.last_vpid = v,
            Reset::Vmcs02Initialized(b) => s.vmcs02_initialized = b,
            Reset::ShadowVmcs12CacheGpa(p) => s.shadow_cache_gpa = p,
            Reset::NeedRareSync(b) => s.need_rare_sync = b,
            Reset::PostedIntrNv(v) => s.posted_intr_nv = v,
        }
    }
    fn vmx_operation(&mut self) -> (bool, bool) {
        (self.state.vmxon, self.state.smm_vmxon)
    }
    fn current_vpid02(&mut self) -> u16 {
        self.state.vpid02
    }
    fn current_vmcs(&mut self) -> u64 {
        self.state.current_vmptr
    }
    fn switch_to_vmcs01(&mut self) {
        self.log.push(LifeCall::SwitchTo01);
    }
    fn clear_nested_state_pages_request(&mut self) {
        self.log.push(LifeCall::ClearRequest);
    }
    fn shadowing(&mut self) -> bool {
        self.shadowing
    }
    fn shadow_to_vmcs12(&mut self) {
        self.log.push(LifeCall::ShadowToVmcs12);
    }
    fn disable_shadow_vmcs(&mut self) {
        self.log.push(LifeCall::DisableShadow);
    }
    fn sync_rare_to_vmcs12(&mut self) {
        self.log.push(LifeCall::SyncRare);
    }
    fn write_back_vmcs12(&mut self, vmptr: u64) {
        self.log.push(LifeCall::WriteBack(vmptr));
    }
    fn free_guest_roots(&mut self) {
        self.log.push(LifeCall::FreeRoots);
    }
    fn unmap_l1_pages(&mut self) {
        self.log.push(LifeCall::Unmap);
    }
    fn in_guest_mode(&mut self) -> bool {
        self.guest_mode
    }
    fn clear_run_pending(&mut self) {
        self.run_pending = false;
    }
    fn forced_vmexit(&mut self) {
        self.guest_mode = false;
        self.log.push(LifeCall::ForcedExit);
    }
}
