// SPDX-License-Identifier: GPL-2.0

//! Typed access to kvm-intel's per-vCPU state, `struct vcpu_vmx`, whose
//! `nested` member is the contract between vmx.c and a nested backend.

use core::mem::offset_of;

use crate::bindings;
use crate::vmcs::caps::NestedVmxMsrs;

// `to_vmx()` is `container_of(vcpu, struct vcpu_vmx, vcpu)`.
const _: () = assert!(offset_of!(bindings::vcpu_vmx, vcpu) == 0);

/// A vCPU of a VM bound to this backend, borrowed for one callback.
///
/// # Invariants
///
/// `vmx` is the `struct vcpu_vmx` of a live vCPU whose nested state no other
/// thread accesses while this object exists.
pub(crate) struct VcpuVmx<'a> {
    vmx: &'a mut bindings::vcpu_vmx,
}

impl VcpuVmx<'_> {
    /// Borrows the vCPU kvm-intel passed to a backend callback.
    ///
    /// # Safety
    ///
    /// `vcpu` is a vCPU created by kvm-intel, passed to a backend callback
    /// by kvm-intel; the caller holds `vcpu->mutex` (as every nested callback
    /// does), so nothing else touches the vCPU's nested state meanwhile, and
    /// the returned object does not outlive the callback.
    pub(crate) unsafe fn from_raw(vcpu: *mut bindings::kvm_vcpu) -> Self {
        // SAFETY: kvm-intel vCPUs are the first member of a `struct
        // vcpu_vmx` (asserted above), so the pointer is one to the whole
        // structure; exclusivity is the caller's contract.
        let vmx = unsafe { &mut *vcpu.cast::<bindings::vcpu_vmx>() };
        // INVARIANT: per the safety contract above.
        VcpuVmx { vmx }
    }

    /// The vCPU is in VMX operation (after VMXON).
    pub(crate) fn vmxon(&self) -> bool {
        self.vmx.nested.vmxon
    }

    /// The vCPU's VMX capability MSRs.
    pub(crate) fn vmx_msrs_mut(&mut self) -> &mut NestedVmxMsrs {
        let msrs: *mut bindings::nested_vmx_msrs = &mut self.vmx.nested.msrs;
        // SAFETY: `NestedVmxMsrs` is `struct nested_vmx_msrs`, field for
        // field (asserted in bindings.rs); the borrow of `self` keeps it
        // exclusive.
        unsafe { &mut *msrs.cast::<NestedVmxMsrs>() }
    }
}

/// kvm-intel's VMCS configuration: what the CPU and KVM use (patch 3).
pub(crate) fn vmcs_config() -> &'static bindings::vmcs_config {
    // SAFETY: `vmcs_config` is `__ro_after_init`: written during
    // kvm-intel's hardware setup, which completes before this module can
    // register (it depends on kvm-intel), and never again.
    unsafe { &*core::ptr::addr_of!(bindings::vmcs_config) }
}

/// KVM's maximal VMX capabilities, `vmcs_config.nested`.
pub(crate) fn kvm_vmx_msrs() -> &'static NestedVmxMsrs {
    let msrs: *const bindings::nested_vmx_msrs = &vmcs_config().nested;
    // SAFETY: the layouts are identical (asserted in bindings.rs); the
    // data is read-only after init (see `vmcs_config`).
    unsafe { &*msrs.cast::<NestedVmxMsrs>() }
}
