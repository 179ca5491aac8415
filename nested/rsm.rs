// SPDX-License-Identifier: GPL-2.0

//! A vmcs12 entered without VMLAUNCH/VMRESUME: restored into guest mode by
//! KVM_SET_NESTED_STATE, or resumed by RSM when SMM was entered from L2.
//!
//! Neither path has a VM entry's checks of its own, so both must run them
//! before vmcs02 is built from vmcs12. KVM_SET_NESTED_STATE always did
//! (`vmx_set_nested_state()`); for RSM, 6.12's `vmx_leave_smm()` does not,
//! although vmcs12 may have changed while in SMM: a state saved in SMM and
//! restored (KVM_SET_NESTED_STATE with KVM_STATE_NESTED_SMM_GUEST_MODE
//! loads vmcs12 unchecked), or KVM's own eVMCS copy. Upstream fixed it in
//! 2026 ("KVM: VMX: check validity of VMCS controls when returning from
//! SMM", Paolo Bonzini, Cc: stable): `nested_vmx_check_restored_vmcs12()`,
//! shared by both paths, and a triple fault from RSM when it fails. The SDM
//! does the same for the state RSM itself restores: "If the processor
//! detects invalid state information during an RSM instruction, it enters
//! the shutdown state" (Vol. 3C, "Returning from SMM"). rnvmx follows
//! upstream here, not 6.12.117 (Documentation/core.md).

use super::state::StateError;
use super::state_vcpu::{Cache, StateStat, StateVcpu};
use super::state_vmcs12::wants_shadow_vmcs12;
use super::vmentry::Entered;
use crate::vmcs::checks::{check_controls, check_guest_state, check_host_state, Vcpu};
use crate::vmcs::layout::{Vmcs12, VMCS12_REVISION};

/// KVM's `nested_vmx_check_restored_vmcs12()`: the shadow vmcs12's header
/// when vmcs12 asks for it, then the controls, host state and guest state
/// as a VM entry checks them. `shadow` is the shadow vmcs12 KVM holds
/// (`None`: the state handed none in).
pub fn check_restored_vmcs12(
    vmcs12: &Vmcs12,
    shadow: Option<&Vmcs12>,
    vcpu: &mut impl Vcpu,
) -> Result<(), StateError> {
    if wants_shadow_vmcs12(vmcs12) {
        let shadow = shadow.ok_or(StateError::ShadowVmcs12Missing)?;
        if shadow.hdr.revision_id() != VMCS12_REVISION || !shadow.hdr.shadow_vmcs() {
            return Err(StateError::ShadowVmcs12Revision);
        }
    }
    check_controls(vmcs12, vcpu).map_err(StateError::EntryCheck)?;
    // nested_vmx_check_controls() ends with the eVMCS controls.
    if vcpu.evmcs_exposed() {
        crate::evmcs::controls::check_controls(vmcs12).map_err(StateError::EvmcsCheck)?;
    }
    check_host_state(vmcs12, vcpu)
        .and_then(|()| check_guest_state(vmcs12, vcpu))
        .map_err(StateError::EntryCheck)
}

/// What RSM does when SMM was entered from L2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsmToL2 {
    /// Enter L2 from vmcs12 (as nested.c, without a VM entry's side
    /// effects); KVM then marks the entry pending.
    Enter,
    /// vmcs12 fails a check: do not enter L2, fail the RSM, which KVM's
    /// emulator turns into a triple fault (shutdown) of L1.
    Shutdown(StateError),
}

/// Whether RSM may resume L2 from `vmcs12` (upstream's `vmx_leave_smm()`).
pub fn rsm_to_l2(vmcs12: &Vmcs12, shadow: Option<&Vmcs12>, vcpu: &mut impl Vcpu) -> RsmToL2 {
    match check_restored_vmcs12(vmcs12, shadow, vcpu) {
        Ok(()) => RsmToL2::Enter,
        Err(e) => RsmToL2::Shutdown(e),
    }
}

/// `vmx_leave_smm()`'s entry into L2 when SMM was entered from L2.
/// vmcs12 may have changed while in SMM, so it and the shadow vmcs12 KVM
/// holds are checked first ([`rsm_to_l2`]); `None`: they fail, the RSM
/// fails and KVM's emulator shuts L1 down, before any of L2's state is
/// loaded.
pub fn rsm_enter_l2(k: &mut impl StateVcpu) -> Option<Entered> {
    if let RsmToL2::Shutdown(e) = rsm_check(k) {
        k.count(StateStat::RsmCheckFail);
        if let Some(c) = e.traced_check() {
            k.trace_check_failed(c);
        }
        return None;
    }
    Some(k.enter_non_root_mode())
}

/// The decision on copies of the caches (the checks read the vCPU too).
fn rsm_check(k: &mut impl StateVcpu) -> RsmToL2 {
    let Some(v) = k.cached(Cache::Vmcs12) else {
        return RsmToL2::Shutdown(StateError::Vmcs12Missing);
    };
    let shadow = k.cached(Cache::ShadowVmcs12);
    rsm_to_l2(&v, shadow.as_ref(), &mut k.checks())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmcs::checks::tests::{baseline, Model};
    use crate::vmcs::checks::Check;
    use crate::vmcs::controls::Secondary;
    use crate::vmcs::layout::VmcsHdr;

    fn valid() -> (Vmcs12, Model) {
        let (mut v, m) = baseline();
        v.hdr = VmcsHdr(VMCS12_REVISION);
        (v, m)
    }

    #[test]
    fn an_evmcs_l1s_vmcs12_passes_the_evmcs_checks_too() {
        use crate::evmcs::controls::EvmcsCheck;
        use crate::vmcs::controls::CpuBased;
        let (mut v, mut m) = valid();
        // A secondary word the VMX checks ignore (secondary controls are
        // not activated) but eVMCS's checks as it is.
        v.cpu_based_vm_exec_control &= !CpuBased::ACTIVATE_SECONDARY_CONTROLS.bits();
        v.secondary_vm_exec_control = Secondary::VIRTUALIZE_APIC_ACCESSES.bits();
        let plain = rsm_to_l2(&v, None, &mut m);
        m.evmcs = true;
        let with_evmcs = rsm_to_l2(&v, None, &mut m);
        assert_eq!(
            with_evmcs,
            RsmToL2::Shutdown(StateError::EvmcsCheck(EvmcsCheck::SecondaryControls))
        );
        assert_eq!(plain, RsmToL2::Enter);
    }

    #[test]
    fn an_unchanged_vmcs12_resumes_l2() {
        let (v, mut m) = valid();
        assert_eq!(rsm_to_l2(&v, None, &mut m), RsmToL2::Enter);
    }

    /// What the selftest (rnvmx_migrate_test's SMM case) corrupts while in
    /// SMM: a VM-entry MSR-load list that is not 16-byte aligned, a control
    /// only a VM entry's checks see (RSM loads no MSR list).
    #[test]
    fn controls_changed_in_smm_shut_down() {
        let (mut v, mut m) = valid();
        v.vm_entry_msr_load_count = 1;
        v.vm_entry_msr_load_addr = 0x5008;
        assert_eq!(
            rsm_to_l2(&v, None, &mut m),
            RsmToL2::Shutdown(StateError::EntryCheck(Check::EntryMsrLoadArea))
        );
        v.vm_entry_msr_load_addr = 0x5000;
        assert_eq!(rsm_to_l2(&v, None, &mut m), RsmToL2::Enter);
    }

    #[test]
    fn host_and_guest_state_are_checked_too() {
        let (mut v, mut m) = valid();
        v.host_cs_selector = 0;
        assert_eq!(
            rsm_to_l2(&v, None, &mut m),
            RsmToL2::Shutdown(StateError::EntryCheck(Check::HostCsNull))
        );
        let (mut v, mut m) = valid();
        let (good, _) = valid();
        v.guest_cr0 = 0;
        let r = rsm_to_l2(&v, None, &mut m);
        assert!(
            matches!(r, RsmToL2::Shutdown(StateError::EntryCheck(_))),
            "{r:?}"
        );
        assert_eq!(rsm_to_l2(&good, None, &mut m), RsmToL2::Enter);
    }

    #[test]
    fn the_shadow_vmcs12_header_is_checked() {
        let (mut v, mut m) = valid();
        m.memory.insert(0xb000, VmcsHdr(VMCS12_REVISION | 1 << 31));
        v.secondary_vm_exec_control |= Secondary::SHADOW_VMCS.bits();
        v.vmread_bitmap = 0x6000;
        v.vmwrite_bitmap = 0x7000;
        v.vmcs_link_pointer = 0xb000;
        let mut shadow = Vmcs12::zeroed();
        shadow.hdr = VmcsHdr(VMCS12_REVISION | 1 << 31);
        assert_eq!(rsm_to_l2(&v, Some(&shadow), &mut m), RsmToL2::Enter);
        shadow.hdr = VmcsHdr(VMCS12_REVISION);
        assert_eq!(
            rsm_to_l2(&v, Some(&shadow), &mut m),
            RsmToL2::Shutdown(StateError::ShadowVmcs12Revision)
        );
        assert_eq!(
            rsm_to_l2(&v, None, &mut m),
            RsmToL2::Shutdown(StateError::ShadowVmcs12Missing)
        );
    }
}
