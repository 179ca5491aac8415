// SPDX-License-Identifier: GPL-2.0

//! KVM_SET_NESTED_STATE (KVM's `vmx_set_nested_state()`), in nested.c's
//! order: the header checks, `vmx_leave_nested()`, `enter_vmx_operation()`
//! at the state's VMXON region, the current VMCS, vmcs12 (and the shadow
//! vmcs12) copied from userspace, and in guest mode the entry into L2
//! without a VM entry's side effects. Each failure leaves the vCPU as
//! nested.c leaves it and is named here ([`SetError`]); the glue maps it to
//! its errno ([`SetError::errno`]).

use crate::nested::state::{
    flags, Errno, Header, SetStateEnv, StateError, SHADOW_VMCS12_OFFSET, VMCS12_OFFSET,
};
use crate::nested::state_header::check_header;
use crate::nested::state_vcpu::{Cache, CopyError, StateStat, StateVcpu};
use crate::nested::state_vmcs12::{
    check_empty_vmxon, check_vmcs12_address, check_vmcs12_revision, covers, guest_mode_restore,
    preemption_timer_deadline, wants_shadow_vmcs12, Restore, VMCS12_LEN,
};
use crate::nested::vmentry::Entered;
use crate::vmcs::x86::INVALID_GPA;

/// Why KVM_SET_NESTED_STATE failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetError {
    /// The state fails a check (-EINVAL).
    Refused(StateError),
    /// `enter_vmx_operation()` failed (its errno, -ENOMEM): the vCPU is
    /// out of VMX operation.
    VmxOperation(i32),
    /// The shadow vmcs12's cache, which a state with one needs, could not
    /// be allocated (its errno, -ENOMEM); on C, VMXON allocated it.
    ShadowCache(i32),
    /// A vmcs12 cache is missing after `enter_vmx_operation()` allocated
    /// it (-EINVAL; never, but not a panic).
    NoCache,
    /// Copying vmcs12 or the shadow vmcs12 from userspace failed (-EFAULT).
    Fault,
    /// L2 could not be entered from the restored vmcs12: the ioctl returns
    /// `nested_vmx_enter_non_root_mode()`'s status, positive, as nested.c
    /// (NVMX_VMENTRY_VMEXIT 2, NVMX_VMENTRY_KVM_INTERNAL_ERROR 3).
    EnterL2(Entered),
}

impl SetError {
    /// The errno the ioctl returns.
    pub const fn errno(self) -> Errno {
        match self {
            SetError::Refused(_) | SetError::NoCache => Errno::Inval,
            SetError::EnterL2(e) => Errno::Status(entry_status(e)),
            SetError::Fault => Errno::Fault,
            SetError::VmxOperation(e) | SetError::ShadowCache(e) => Errno::Passed(e),
        }
    }
}

/// KVM's `enum nvmx_vmentry_status` of an entry that did not reach L2.
const fn entry_status(e: Entered) -> i32 {
    match e {
        Entered::L2 => 0,
        Entered::VmExit => 2,
        Entered::InternalError => 3,
    }
}

/// What a successful KVM_SET_NESTED_STATE made of the vCPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restored {
    /// Outside VMX operation (the state has no VMXON region).
    OutsideVmx,
    /// In VMX operation: the phase-2 outcome.
    Vmx(Restore),
}

fn read(k: &mut impl StateVcpu, cache: Cache, offset: usize) -> Result<(), SetError> {
    k.read_user(cache, offset, VMCS12_LEN).map_err(|e| match e {
        CopyError::NoCache => SetError::NoCache,
        CopyError::Fault => SetError::Fault,
    })
}

/// KVM_SET_NESTED_STATE of the state whose header is `h` (userspace's
/// state is at least `h.size` bytes: x86.c checked).
pub fn set_nested_state(k: &mut impl StateVcpu, h: &Header) -> Result<Restored, SetError> {
    k.count(StateStat::SetState);
    let env = k.set_state_env();
    check_header(h, &env).map_err(SetError::Refused)?;
    k.leave_nested();
    if h.vmxon_pa == INVALID_GPA {
        return Ok(Restored::OutsideVmx);
    }
    k.set_vmxon_ptr(h.vmxon_pa);
    k.enter_vmx_operation().map_err(SetError::VmxOperation)?;
    let r = set_vmx_state(k, h, &env)?;
    if let Restore::GuestMode { .. } = r {
        k.count(StateStat::RestoreL2);
    }
    Ok(Restored::Vmx(r))
}

/// Phase 2, in VMX operation (errors leave the vCPU there, as nested.c).
fn set_vmx_state(
    k: &mut impl StateVcpu,
    h: &Header,
    env: &SetStateEnv,
) -> Result<Restore, SetError> {
    if !covers(h, VMCS12_OFFSET) {
        return check_empty_vmxon(h).map_err(SetError::Refused);
    }
    check_vmcs12_address(h, env).map_err(SetError::Refused)?;
    if h.vmcs12_pa != INVALID_GPA {
        // KVM's set_current_vmptr().
        k.set_current_vmptr(h.vmcs12_pa);
        k.link_shadow_vmcs();
        k.mark_vmcs12_dirty();
    } else {
        // An eVMCS (check_vmcs12_address refused the state otherwise),
        // mapped once the VP assist page is restored as well.
        k.set_evmcs_map_pending();
    }
    if h.smm_flags & flags::SMM_VMXON != 0 {
        k.set_smm_vmxon();
        if h.smm_flags & flags::SMM_GUEST_MODE != 0 {
            k.set_smm_guest_mode();
        }
    }
    read(k, Cache::Vmcs12, VMCS12_OFFSET)?;
    // vmcs12 is read where it is (nested.c's get_vmcs12()), not copied.
    let revision = k
        .with_vmcs12(|v| v.map(|v| check_vmcs12_revision(h, v)))
        .ok_or(SetError::NoCache)?;
    if let Some(r) = revision.map_err(SetError::Refused)? {
        return Ok(r);
    }
    k.set_run_pending(h.flags & flags::RUN_PENDING != 0);
    k.set_mtf_pending(h.flags & flags::MTF_PENDING != 0);
    let r = restore_guest_mode(k, h);
    // nested.c's `error_guest_mode`.
    if r.is_err() {
        k.set_run_pending(false);
    }
    r
}

/// The guest-mode part, up to nested.c's `error_guest_mode` label.
fn restore_guest_mode(k: &mut impl StateVcpu, h: &Header) -> Result<Restore, SetError> {
    let mut with_shadow = false;
    if k.with_vmcs12(|v| v.is_some_and(wants_shadow_vmcs12)) {
        if !covers(h, SHADOW_VMCS12_OFFSET) {
            return Err(SetError::Refused(StateError::ShadowVmcs12Missing));
        }
        k.alloc_shadow_vmcs12_cache()
            .map_err(SetError::ShadowCache)?;
        read(k, Cache::ShadowVmcs12, SHADOW_VMCS12_OFFSET)?;
        with_shadow = true;
    }
    k.set_preemption_timer_deadline(preemption_timer_deadline(h));
    // The checks `state_vmcs12::check_vmcs12_part` ends with; the shadow
    // vmcs12 was read only if the state's size covers it. KVM set
    // nested_run_pending before them (whether guest EFER is checked).
    let checked = k.check_restored(with_shadow).ok_or(SetError::NoCache)?;
    if let Err(e) = checked {
        // As nested.c's CC(): kvm_nested_vmenter_failed for a failed entry
        // check.
        if let Some(c) = e.traced_check() {
            k.trace_check_failed(c);
        }
        return Err(SetError::Refused(e));
    }
    k.mark_vmcs12_dirty();
    match k.enter_non_root_mode() {
        Entered::L2 => {}
        e => return Err(SetError::EnterL2(e)),
    }
    if k.mtf_pending() {
        k.request_event();
    }
    Ok(guest_mode_restore(h))
}
