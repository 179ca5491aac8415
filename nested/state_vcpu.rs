// SPDX-License-Identifier: GPL-2.0

//! What KVM_SET_NESTED_STATE, KVM_GET_NESTED_STATE and an RSM back into L2
//! need of the vCPU (`state_set`, `state_get`, `rsm`). As `KvmVcpu`: every
//! method applies or reports one thing; the order of the steps and the
//! errno of each failure are the core's.

use crate::nested::state::SetStateEnv;
use crate::nested::state_get::NestedView;
use crate::nested::vmentry::Entered;
use crate::vmcs::checks::{Check, Vcpu};
use crate::vmcs::layout::Vmcs12;

/// One of the vCPU's two vmcs12 caches (`nested.cached_vmcs12`,
/// `nested.cached_shadow_vmcs12`), each VMCS12_SIZE bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cache {
    /// vmcs12 (`get_vmcs12()`).
    Vmcs12,
    /// The shadow vmcs12 (`get_shadow_vmcs12()`).
    ShadowVmcs12,
}

/// A copy between userspace's state and a cache that did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyError {
    /// The cache is not allocated (outside VMX operation).
    NoCache,
    /// `copy_from_user()` / `copy_to_user()` failed.
    Fault,
}

/// Counters the state sequences move (the glue's statistics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateStat {
    /// A KVM_SET_NESTED_STATE reached the backend.
    SetState,
    /// A KVM_SET_NESTED_STATE restored a vCPU into L2.
    RestoreL2,
    /// A KVM_GET_NESTED_STATE saved a vCPU in L2.
    SaveL2,
    /// An RSM into L2 refused by the re-check of vmcs12.
    RsmCheckFail,
}

impl StateStat {
    /// Moves the module's counter for `self` (`crate::nested::counters`).
    pub fn record(self) {
        use crate::nested::counters as c;
        match self {
            StateStat::SetState => c::SET_NESTED_STATES.inc(),
            StateStat::RestoreL2 => c::STATE_RESTORES_L2.inc(),
            StateStat::SaveL2 => c::STATE_SAVES_L2.inc(),
            StateStat::RsmCheckFail => c::RSM_CHECK_FAILS.inc(),
        }
    }
}

/// The vCPU of KVM_GET/SET_NESTED_STATE and of an RSM into L2; the user
/// copies are of the ioctl's `struct kvm_nested_state` (offsets from its
/// start).
pub trait StateVcpu {
    /// The vCPU as the VM-entry checks see it.
    type Checks<'a>: Vcpu
    where
        Self: 'a;
    /// The vCPU for the VM-entry checks, as it is now (its
    /// `nested_run_pending` is the one set last).
    fn checks(&mut self) -> Self::Checks<'_>;
    /// What `vmx_set_nested_state()` reads of the vCPU.
    fn set_state_env(&mut self) -> SetStateEnv;
    /// What `vmx_get_nested_state()` reads of the vCPU.
    fn nested_view(&mut self) -> NestedView;

    /// `vmx_leave_nested()`: out of L2 (without a pending entry), then out
    /// of VMX operation.
    fn leave_nested(&mut self);
    /// Sets `nested.vmxon_ptr`.
    fn set_vmxon_ptr(&mut self, pa: u64);
    /// `enter_vmx_operation()` (allocations: `Err` is its errno).
    fn enter_vmx_operation(&mut self) -> Result<(), i32>;
    /// Allocates the shadow vmcs12's cache unless it is (`Err`: the
    /// errno, -ENOMEM): VMXON does not (lifecycle.rs).
    fn alloc_shadow_vmcs12_cache(&mut self) -> Result<(), i32>;
    /// Sets `nested.current_vmptr`.
    fn set_current_vmptr(&mut self, pa: u64);
    /// With VMCS shadowing enabled in L0, links vmcs01's shadow VMCS for
    /// the new current VMCS (`set_current_vmptr()`'s shadow part).
    fn link_shadow_vmcs(&mut self);
    /// Sets `nested.dirty_vmcs12` and `nested.force_msr_bitmap_recalc`.
    fn mark_vmcs12_dirty(&mut self);
    /// VMX operation suspended by SMM: `nested.smm.vmxon` set,
    /// `nested.vmxon` cleared.
    fn set_smm_vmxon(&mut self);
    /// Sets `nested.smm.guest_mode`.
    fn set_smm_guest_mode(&mut self);
    /// Copies `len` bytes of the state at `offset` into the start of a
    /// cache.
    fn read_user(&mut self, cache: Cache, offset: usize, len: usize) -> Result<(), CopyError>;
    /// A copy of a cache, `None` if it is not allocated.
    fn cached(&mut self, cache: Cache) -> Option<Vmcs12>;
    /// `f` of the cached vmcs12 where it is, without a copy.
    fn with_vmcs12<R>(&mut self, f: impl FnOnce(Option<&Vmcs12>) -> R) -> R {
        f(self.cached(Cache::Vmcs12).as_ref())
    }
    /// `rsm::check_restored_vmcs12()` of the cached vmcs12 (and, with
    /// `with_shadow`, the cached shadow vmcs12) with `checks()`; `None`
    /// without a vmcs12 cache.
    fn check_restored(
        &mut self,
        with_shadow: bool,
    ) -> Option<Result<(), crate::nested::state::StateError>> {
        let v = self.cached(Cache::Vmcs12)?;
        let shadow = if with_shadow {
            self.cached(Cache::ShadowVmcs12)
        } else {
            None
        };
        Some(crate::nested::rsm::check_restored_vmcs12(
            &v,
            shadow.as_ref(),
            &mut self.checks(),
        ))
    }
    /// Sets `nested.nested_run_pending`.
    fn set_run_pending(&mut self, pending: bool);
    /// Sets `nested.mtf_pending`.
    fn set_mtf_pending(&mut self, pending: bool);
    /// `nested.mtf_pending`.
    fn mtf_pending(&mut self) -> bool;
    /// Sets `nested.has_preemption_timer_deadline` and, with one,
    /// `nested.preemption_timer_deadline`.
    fn set_preemption_timer_deadline(&mut self, deadline: Option<u64>);
    /// `nested_vmx_enter_non_root_mode(vcpu, false)`: into L2 from the
    /// cached vmcs12, without a VM entry's checks.
    fn enter_non_root_mode(&mut self) -> Entered;
    /// `kvm_make_request(KVM_REQ_EVENT)`.
    fn request_event(&mut self);
    /// A VM-entry check failed (the tracepoint `kvm_nested_vmenter_failed`).
    fn trace_check_failed(&mut self, c: Check);
    /// Counts `s` (the module's counters; a model may record it instead).
    fn count(&mut self, s: StateStat) {
        s.record()
    }

    /// In guest mode: `sync_vmcs02_to_vmcs12()` and
    /// `sync_vmcs02_to_vmcs12_rare()`.
    fn sync_vmcs02_to_vmcs12(&mut self);
    /// `copy_vmcs02_to_vmcs12_rare()` if it is due.
    fn sync_rare(&mut self);
    /// `nested.need_vmcs12_to_shadow_sync`.
    fn need_vmcs12_to_shadow_sync(&mut self) -> bool;
    /// `enable_shadow_vmcs`.
    fn shadow_vmcs_enabled(&mut self) -> bool;
    /// `copy_shadow_to_vmcs12()`: what L1 wrote to its shadow VMCS.
    fn shadow_vmcs_to_vmcs12(&mut self);
    /// `copy_enlightened_to_vmcs12(vmx, 0)` if an eVMCS is mapped (L1 need
    /// not keep the clean fields true outside an entry): true if it was.
    fn evmcs_to_vmcs12_full(&mut self) -> bool {
        false
    }
    /// KVM_SET_NESTED_STATE of an eVMCS L1: `hv_evmcs_vmptr =
    /// EVMPTR_MAP_PENDING` and KVM_REQ_GET_NESTED_STATE_PAGES, so that the
    /// eVMCS is mapped once the VP assist page is restored too.
    fn set_evmcs_map_pending(&mut self) {}
    /// Copies `bytes` to the state at `offset`.
    fn write_user(&mut self, offset: usize, bytes: &[u8]) -> Result<(), CopyError>;
    /// Copies a whole cache (VMCS12_SIZE bytes) to the state at `offset`.
    fn write_user_cache(&mut self, cache: Cache, offset: usize) -> Result<(), CopyError>;
}
