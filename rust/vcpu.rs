// SPDX-License-Identifier: GPL-2.0

//! Typed access to kvm-intel's per-vCPU state, `struct vcpu_vmx`, whose
//! `nested` member is the contract between vmx.c and a nested backend.

use core::mem::offset_of;

use crate::bindings;
use crate::vmcs::caps::NestedVmxMsrs;

// `to_vmx()` is `container_of(vcpu, struct vcpu_vmx, vcpu)`.
const _: () = assert!(offset_of!(bindings::vcpu_vmx, vcpu) == 0);

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
