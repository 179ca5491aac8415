// SPDX-License-Identifier: GPL-2.0

//! The enlightened VMPTRLD: an eVMCS L1 does not execute VMPTRLD but names
//! its current eVMCS in the VP assist page (`enlighten_vmentry`,
//! `current_nested_vmcs`); KVM picks it up at VMLAUNCH/VMRESUME
//! (`nested_vmx_handle_enlightened_vmptrld()`, nested.c), releases it
//! (`nested_release_evmcs()`), and lets VMCLEAR of it release it too
//! (`nested_evmcs_handle_vmclear()`). Also the version range KVM reports
//! (`nested_get_evmcs_version()`, `nested_enable_evmcs()`, vmx/hyperv.c).

use crate::vmcs::layout::VMCS12_REVISION;

/// `KVM_EVMCS_VERSION`: the one eVMCS version KVM supports.
pub const KVM_EVMCS_VERSION: u32 = 1;

/// `EVMPTR_INVALID`: no eVMCS.
pub const EVMPTR_INVALID: u64 = u64::MAX;
/// `EVMPTR_MAP_PENDING`: an eVMCS is current (restored by
/// KVM_SET_NESTED_STATE) but not mapped yet; `get_nested_state_pages`
/// maps it.
pub const EVMPTR_MAP_PENDING: u64 = u64::MAX - 1;

/// `evmptr_is_valid()`: an eVMCS is mapped.
pub const fn evmptr_is_valid(p: u64) -> bool {
    p != EVMPTR_INVALID && p != EVMPTR_MAP_PENDING
}

/// `evmptr_is_set()`: an eVMCS is current, mapped or not.
pub const fn evmptr_is_set(p: u64) -> bool {
    p != EVMPTR_INVALID
}

/// `nested_get_evmcs_version()`: the supported range, maximum in bits 15:8
/// and minimum in 7:0, or 0. `enabled` is the vCPU's
/// `enlightened_vmcs_enabled`, `None` without a vCPU (KVM's supported
/// Hyper-V CPUID, which reports what any vCPU could have).
pub const fn evmcs_version(kvm_has_vmx: bool, enabled: Option<bool>) -> u16 {
    let on = match enabled {
        None => true,
        Some(e) => e,
    };
    if kvm_has_vmx && on {
        ((KVM_EVMCS_VERSION as u16) << 8) | 1
    } else {
        0
    }
}

/// `enum nested_evmptrld_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evmptrld {
    /// eVMCS is not in use: the VMCS L1 loaded with VMPTRLD is current.
    Disabled,
    /// The eVMCS is mapped and current.
    Succeeded,
    /// Its revision is neither an eVMCS version nor vmcs12's: the
    /// instruction fails with VMfailInvalid.
    VmFail,
    /// It could not be mapped (no memory at its GPA): #UD for L1.
    Error,
}

/// What the enlightened VMPTRLD needs of the vCPU; each method one field
/// of KVM's vCPU or one KVM call.
pub trait EvmcsVcpu {
    /// `guest_cpuid_has_evmcs()`: Hyper-V in CPUID and eVMCS enabled.
    fn evmcs_exposed(&mut self) -> bool;
    /// `nested_get_evmptr()`: the VP assist page's `current_nested_vmcs`
    /// if the page is readable and `enlighten_vmentry` set, else
    /// [`EVMPTR_INVALID`].
    fn assist_evmptr(&mut self) -> u64;
    /// `vmx->nested.hv_evmcs_vmptr`.
    fn evmcs_vmptr(&mut self) -> u64;
    /// Sets `vmx->nested.hv_evmcs_vmptr`.
    fn set_evmcs_vmptr(&mut self, p: u64);
    /// Maps the eVMCS page at `gpa` (`kvm_vcpu_map()`); false if L1 has no
    /// memory there.
    fn map_evmcs(&mut self, gpa: u64) -> bool;
    /// Unmaps it (`kvm_vcpu_unmap(..., true)`: the page is dirty).
    fn unmap_evmcs(&mut self);
    /// The mapped eVMCS's `revision_id`.
    fn evmcs_revision(&mut self) -> u32;
    /// Resets the Hyper-V nested state the eVMCS set: `pa_page_gpa`
    /// invalid, `vm_id` and `vp_id` 0 (if the vCPU has Hyper-V state).
    fn reset_hv_nested(&mut self);
    /// `vmx->nested.current_vmptr = INVALID_GPA`.
    fn invalidate_current_vmptr(&mut self);
    /// vmcs12 zeroed but for its revision (`VMCS12_REVISION`).
    fn reset_vmcs12(&mut self);
    /// Clears every clean bit of the mapped eVMCS's `hv_clean_fields`.
    fn dirty_all_clean_fields(&mut self);
    /// `vmx->nested.force_msr_bitmap_recalc = true`.
    fn force_msr_bitmap_recalc(&mut self);
}

/// `nested_release_evmcs()`: unmap a mapped eVMCS, none current, and the
/// Hyper-V nested fields reset.
pub fn release(k: &mut impl EvmcsVcpu) {
    if evmptr_is_valid(k.evmcs_vmptr()) {
        k.unmap_evmcs();
    }
    k.set_evmcs_vmptr(EVMPTR_INVALID);
    k.reset_hv_nested();
}

/// Whether an eVMCS with this `revision_id` is accepted: an eVMCS version
/// (KVM supports 1), or vmcs12's revision, which Hyper-V itself writes
/// there (from IA32_VMX_BASIC) against its own specification.
pub const fn revision_accepted(revision: u32) -> bool {
    revision == KVM_EVMCS_VERSION || revision == VMCS12_REVISION
}

/// `nested_vmx_handle_enlightened_vmptrld(vcpu, from_launch)`.
pub fn enlightened_vmptrld(k: &mut impl EvmcsVcpu, from_launch: bool) -> Evmptrld {
    if !k.evmcs_exposed() {
        return Evmptrld::Disabled;
    }
    let gpa = k.assist_evmptr();
    if !evmptr_is_valid(gpa) {
        release(k);
        return Evmptrld::Disabled;
    }
    let mut changed = false;
    if gpa != k.evmcs_vmptr() {
        k.invalidate_current_vmptr();
        release(k);
        if !k.map_evmcs(gpa) {
            return Evmptrld::Error;
        }
        // Mapped but not current yet: release() below unmaps it only once
        // it is (as nested.c, which sets hv_evmcs before the check).
        k.set_evmcs_vmptr(gpa);
        if !revision_accepted(k.evmcs_revision()) {
            release(k);
            return Evmptrld::VmFail;
        }
        changed = true;
        // eVMCS is not reloaded in full (read-only fields, fields it does
        // not have): no leftovers of another L2's vmcs12.
        if from_launch {
            k.reset_vmcs12();
        }
    }
    // Clean fields mean nothing at VMLAUNCH, nor for another L2 (KVM keeps
    // one vmcs12 per L1).
    if from_launch || changed {
        k.dirty_all_clean_fields();
        k.force_msr_bitmap_recalc();
    }
    Evmptrld::Succeeded
}

/// `nested_evmcs_handle_vmclear()`: true if VMCLEAR is about eVMCS (L1
/// uses it now), which it then completes with VMsucceed; the current eVMCS
/// named is released.
pub fn handle_vmclear(k: &mut impl EvmcsVcpu, vmptr: u64) -> bool {
    if !k.evmcs_exposed() || !evmptr_is_valid(k.assist_evmptr()) {
        return false;
    }
    let cur = k.evmcs_vmptr();
    if evmptr_is_valid(cur) && vmptr == cur {
        release(k);
    }
    true
}

#[cfg(test)]
#[path = "vmptrld_tests.rs"]
mod tests;
