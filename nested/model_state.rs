// SPDX-License-Identifier: GPL-2.0

//! A model vCPU for KVM_GET/SET_NESTED_STATE and an RSM into L2
//! (`state_set`, `state_get`, `rsm`): KVM's `nested` state as plain fields,
//! the vmcs12 caches as vmcs12s, userspace's state as bytes, the VM-entry
//! checks answered by a `checks::Vcpu` of the test's choice, and a log of
//! the calls in order (model only).

#![allow(missing_docs)]

use std::vec::Vec;

use crate::nested::state::SetStateEnv;
use crate::nested::state_get::NestedView;
use crate::nested::state_vcpu::{Cache, CopyError, StateStat, StateVcpu};
use crate::nested::vmentry::Entered;
use crate::vmcs::caps::NestedVmxMsrs;
use crate::vmcs::checks::{Check, Vcpu};
use crate::vmcs::layout::{Vmcs12, VmcsHdr, VMCS12_SIZE};
use crate::vmcs::table::FIELDS;
use crate::vmcs::x86::INVALID_GPA;

/// A call of the state sequences, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateCall {
    LeaveNested,
    SetVmxonPtr(u64),
    EnterVmxOperation,
    /// `alloc_shadow_vmcs12_cache`.
    AllocShadowCache,
    SetCurrentVmptr(u64),
    LinkShadowVmcs,
    MarkVmcs12Dirty,
    SmmVmxon,
    SmmGuestMode,
    ReadUser(Cache, usize, usize),
    SetRunPending(bool),
    SetMtfPending(bool),
    SetDeadline(Option<u64>),
    /// The VM-entry checks' vCPU taken, with its `nested_run_pending`.
    Checks(bool),
    TraceCheck(Check),
    EnterNonRootMode,
    RequestEvent,
    Count(StateStat),
    SyncVmcs02,
    SyncRare,
    ShadowToVmcs12,
    WriteUser(usize, usize),
    WriteCache(Cache, usize),
}

/// vmcs12 from its `struct vmcs12` bytes at `at` in `data`, as the
/// kernel's copy of them (every field at its offset; zeros past the end).
pub fn vmcs12_at(data: &[u8], at: usize) -> Vmcs12 {
    let le = |off: usize, n: usize| {
        let mut b = [0u8; 8];
        for (k, byte) in b.iter_mut().take(n).enumerate() {
            *byte = data
                .get(at.wrapping_add(off).wrapping_add(k))
                .copied()
                .unwrap_or(0);
        }
        u64::from_le_bytes(b)
    };
    let mut v = Vmcs12::zeroed();
    v.hdr = VmcsHdr(le(0, 4) as u32);
    v.abort = le(4, 4) as u32;
    v.launch_state = le(8, 4) as u32;
    for f in FIELDS.iter() {
        v.set(f, le(usize::from(f.offset), f.width().bytes()));
    }
    v
}

/// vmcs12's VMCS12_SIZE bytes (what `vmcs12_at` reads back).
pub fn vmcs12_bytes(v: &Vmcs12) -> Vec<u8> {
    let mut b = std::vec![0u8; VMCS12_SIZE];
    let mut put = |off: usize, n: usize, value: u64| {
        if let Some(dst) = b.get_mut(off..off + n) {
            dst.copy_from_slice(&value.to_le_bytes()[..n]);
        }
    };
    put(0, 4, u64::from(v.hdr.0));
    put(4, 4, u64::from(v.abort));
    put(8, 4, u64::from(v.launch_state));
    for f in FIELDS.iter() {
        put(usize::from(f.offset), f.width().bytes(), v.get(f));
    }
    b
}

/// The model's `checks::Vcpu`: `cpu`'s answers, with the model's
/// `nested_run_pending` as it was when the checks were taken.
pub struct ModelChecks<'a, C> {
    cpu: &'a mut C,
    run_pending: bool,
}

impl<C: Vcpu> Vcpu for ModelChecks<'_, C> {
    fn maxphyaddr(&self) -> u32 {
        self.cpu.maxphyaddr()
    }
    fn vmx_msrs(&self) -> &NestedVmxMsrs {
        self.cpu.vmx_msrs()
    }
    fn cr4_reserved_bits(&self) -> u64 {
        self.cpu.cr4_reserved_bits()
    }
    fn has_lam(&self) -> bool {
        self.cpu.has_lam()
    }
    fn max_virt_addr_bits(&self) -> u32 {
        self.cpu.max_virt_addr_bits()
    }
    fn virt_addr_bits(&self) -> u32 {
        self.cpu.virt_addr_bits()
    }
    fn efer_lma(&self) -> bool {
        self.cpu.efer_lma()
    }
    fn efer_valid(&self, efer: u64) -> bool {
        self.cpu.efer_valid(efer)
    }
    fn perf_global_ctrl_reserved(&self) -> u64 {
        self.cpu.perf_global_ctrl_reserved()
    }
    fn debugctl_valid(&self, debugctl: u64) -> bool {
        self.cpu.debugctl_valid(debugctl)
    }
    fn quirk_allow_freeze_in_smm(&self) -> bool {
        self.cpu.quirk_allow_freeze_in_smm()
    }
    fn read_vmcs_hdr(&mut self, gpa: u64) -> Option<VmcsHdr> {
        self.cpu.read_vmcs_hdr(gpa)
    }
    fn nested_run_pending(&self) -> bool {
        self.run_pending
    }
}

/// The model.
pub struct StateModel<C> {
    /// The VM-entry checks' answers (its own `nested_run_pending` unused).
    pub cpu: C,
    pub env: SetStateEnv,
    pub vmxon: bool,
    pub smm_vmxon: bool,
    pub smm_guest_mode: bool,
    pub vmxon_ptr: u64,
    pub current_vmptr: u64,
    pub guest_mode: bool,
    pub run_pending: bool,
    pub mtf_pending: bool,
    pub deadline: Option<u64>,
    /// The caches (`None`: not allocated, outside VMX operation).
    pub vmcs12: Option<Vmcs12>,
    pub shadow_vmcs12: Option<Vmcs12>,
    /// `enter_vmx_operation()` fails with this errno.
    pub enter_fails: Option<i32>,
    /// `alloc_shadow_vmcs12_cache` fails with this errno.
    pub shadow_cache_fails: Option<i32>,
    /// `enter_vmx_operation()` succeeds without allocating the caches.
    pub no_caches: bool,
    /// What `enter_non_root_mode()` comes to.
    pub entered: Entered,
    pub need_shadow_sync: bool,
    pub shadow_vmcs: bool,
    /// Userspace's state (KVM_SET_NESTED_STATE) or buffer (GET).
    pub user: Vec<u8>,
    /// User bytes at and past this offset are not mapped.
    pub user_fault_at: Option<usize>,
    pub calls: Vec<StateCall>,
}

impl<C> StateModel<C> {
    /// A vCPU outside VMX operation, with VMX in CPUID, MAXPHYADDR 46.
    pub fn new(cpu: C) -> Self {
        StateModel {
            cpu,
            env: SetStateEnv {
                vmx_in_cpuid: true,
                maxphyaddr: 46,
                in_smm: false,
                evmcs_enabled: false,
            },
            vmxon: false,
            smm_vmxon: false,
            smm_guest_mode: false,
            vmxon_ptr: INVALID_GPA,
            current_vmptr: INVALID_GPA,
            guest_mode: false,
            run_pending: false,
            mtf_pending: false,
            deadline: None,
            vmcs12: None,
            shadow_vmcs12: None,
            enter_fails: None,
            shadow_cache_fails: None,
            no_caches: false,
            entered: Entered::L2,
            need_shadow_sync: false,
            shadow_vmcs: false,
            user: Vec::new(),
            user_fault_at: None,
            calls: Vec::new(),
        }
    }

    fn mapped(&self, offset: usize, len: usize) -> bool {
        let end = offset.saturating_add(len);
        end <= self.user.len() && self.user_fault_at.map_or(true, |f| end <= f)
    }

    fn cache(&mut self, cache: Cache) -> &mut Option<Vmcs12> {
        match cache {
            Cache::Vmcs12 => &mut self.vmcs12,
            Cache::ShadowVmcs12 => &mut self.shadow_vmcs12,
        }
    }
}

impl<C: Vcpu> StateVcpu for StateModel<C> {
    type Checks<'a>
        = ModelChecks<'a, C>
    where
        Self: 'a;
    fn checks(&mut self) -> ModelChecks<'_, C> {
        self.calls.push(StateCall::Checks(self.run_pending));
        ModelChecks {
            cpu: &mut self.cpu,
            run_pending: self.run_pending,
        }
    }
    fn set_state_env(&mut self) -> SetStateEnv {
        self.env
    }
    fn nested_view(&mut self) -> NestedView {
        NestedView {
            vmx_in_cpuid: self.env.vmx_in_cpuid,
            vmxon: self.vmxon,
            smm_vmxon: self.smm_vmxon,
            smm_guest_mode: self.smm_guest_mode,
            vmxon_ptr: self.vmxon_ptr,
            current_vmptr: self.current_vmptr,
            evmcs_set: false,
            guest_mode: self.guest_mode,
            run_pending: self.run_pending,
            mtf_pending: self.mtf_pending,
            preemption_timer_deadline: self.deadline,
        }
    }
    fn leave_nested(&mut self) {
        self.calls.push(StateCall::LeaveNested);
        if self.guest_mode {
            self.run_pending = false;
            self.guest_mode = false;
        }
        // free_nested()
        if self.vmxon || self.smm_vmxon {
            self.vmxon = false;
            self.smm_vmxon = false;
            self.vmxon_ptr = INVALID_GPA;
            self.current_vmptr = INVALID_GPA;
            self.vmcs12 = None;
            self.shadow_vmcs12 = None;
        }
    }
    fn set_vmxon_ptr(&mut self, pa: u64) {
        self.calls.push(StateCall::SetVmxonPtr(pa));
        self.vmxon_ptr = pa;
    }
    fn enter_vmx_operation(&mut self) -> Result<(), i32> {
        self.calls.push(StateCall::EnterVmxOperation);
        if let Some(e) = self.enter_fails {
            return Err(e);
        }
        if !self.no_caches {
            self.vmcs12 = Some(Vmcs12::zeroed());
        }
        self.vmxon = true;
        Ok(())
    }
    fn alloc_shadow_vmcs12_cache(&mut self) -> Result<(), i32> {
        self.calls.push(StateCall::AllocShadowCache);
        if let Some(e) = self.shadow_cache_fails {
            return Err(e);
        }
        if !self.no_caches && self.shadow_vmcs12.is_none() {
            self.shadow_vmcs12 = Some(Vmcs12::zeroed());
        }
        Ok(())
    }
    fn set_current_vmptr(&mut self, pa: u64) {
        self.calls.push(StateCall::SetCurrentVmptr(pa));
        self.current_vmptr = pa;
    }
    fn link_shadow_vmcs(&mut self) {
        self.calls.push(StateCall::LinkShadowVmcs);
        if self.shadow_vmcs {
            self.need_shadow_sync = true;
        }
    }
    fn mark_vmcs12_dirty(&mut self) {
        self.calls.push(StateCall::MarkVmcs12Dirty);
    }
    fn set_smm_vmxon(&mut self) {
        self.calls.push(StateCall::SmmVmxon);
        self.smm_vmxon = true;
        self.vmxon = false;
    }
    fn set_smm_guest_mode(&mut self) {
        self.calls.push(StateCall::SmmGuestMode);
        self.smm_guest_mode = true;
    }
    fn read_user(&mut self, cache: Cache, offset: usize, len: usize) -> Result<(), CopyError> {
        self.calls.push(StateCall::ReadUser(cache, offset, len));
        if self.cache(cache).is_none() {
            return Err(CopyError::NoCache);
        }
        if !self.mapped(offset, len) {
            return Err(CopyError::Fault);
        }
        let v = vmcs12_at(self.user.get(..offset + len).unwrap_or(&[]), offset);
        *self.cache(cache) = Some(v);
        Ok(())
    }
    fn cached(&mut self, cache: Cache) -> Option<Vmcs12> {
        *self.cache(cache)
    }
    fn set_run_pending(&mut self, pending: bool) {
        self.calls.push(StateCall::SetRunPending(pending));
        self.run_pending = pending;
    }
    fn set_mtf_pending(&mut self, pending: bool) {
        self.calls.push(StateCall::SetMtfPending(pending));
        self.mtf_pending = pending;
    }
    fn mtf_pending(&mut self) -> bool {
        self.mtf_pending
    }
    fn set_preemption_timer_deadline(&mut self, deadline: Option<u64>) {
        self.calls.push(StateCall::SetDeadline(deadline));
        self.deadline = deadline;
    }
    fn enter_non_root_mode(&mut self) -> Entered {
        self.calls.push(StateCall::EnterNonRootMode);
        if self.entered == Entered::L2 {
            self.guest_mode = true;
        }
        self.entered
    }
    fn request_event(&mut self) {
        self.calls.push(StateCall::RequestEvent);
    }
    fn trace_check_failed(&mut self, c: Check) {
        self.calls.push(StateCall::TraceCheck(c));
    }
    fn count(&mut self, s: StateStat) {
        self.calls.push(StateCall::Count(s));
    }
    fn sync_vmcs02_to_vmcs12(&mut self) {
        self.calls.push(StateCall::SyncVmcs02);
    }
    fn sync_rare(&mut self) {
        self.calls.push(StateCall::SyncRare);
    }
    fn need_vmcs12_to_shadow_sync(&mut self) -> bool {
        self.need_shadow_sync
    }
    fn shadow_vmcs_enabled(&mut self) -> bool {
        self.shadow_vmcs
    }
    fn shadow_vmcs_to_vmcs12(&mut self) {
        self.calls.push(StateCall::ShadowToVmcs12);
    }
    fn write_user(&mut self, offset: usize, bytes: &[u8]) -> Result<(), CopyError> {
        self.calls.push(StateCall::WriteUser(offset, bytes.len()));
        if !self.mapped(offset, bytes.len()) {
            return Err(CopyError::Fault);
        }
        if let Some(dst) = self.user.get_mut(offset..offset + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        Ok(())
    }
    fn write_user_cache(&mut self, cache: Cache, offset: usize) -> Result<(), CopyError> {
        self.calls.push(StateCall::WriteCache(cache, offset));
        let Some(v) = *self.cache(cache) else {
            return Err(CopyError::NoCache);
        };
        if !self.mapped(offset, VMCS12_SIZE) {
            return Err(CopyError::Fault);
        }
        if let Some(dst) = self.user.get_mut(offset..offset + VMCS12_SIZE) {
            dst.copy_from_slice(&vmcs12_bytes(&v));
        }
        Ok(())
    }
}
