// SPDX-License-Identifier: GPL-2.0

//! VMX operation: what VMXON allocates and VMXOFF (or vCPU teardown, or
//! KVM's leave_nested) frees. KVM's enter_vmx_operation(), free_nested(),
//! nested_release_vmcs12(), vmx_leave_nested(): the order and the resets
//! are the core's (`crate::nested::lifecycle`, which insn.rs calls for
//! VMXON, VMXOFF and VMCLEAR/VMPTRLD), the allocations and KVM's fields
//! lifecycle_vcpu.rs's.

use crate::bindings;
use crate::nvcpu::vf;
use crate::nvcpu::Nv;

/// Drops the shadow EPT roots built for L2.
pub(crate) fn free_guest_mmu_roots(nv: &mut Nv) {
    // SAFETY: the vCPU is ours (Nv invariant).
    unsafe { bindings::rnvmx_mmu_unload_guest_mode_roots(nv.raw()) };
}

/// Unmaps the L1 pages vmcs02 points to (KVM unpins them on every exit).
pub(crate) fn unmap_vmcs12_pages(nv: &mut Nv) {
    let vcpu = nv.raw();
    // SAFETY: the maps belong to this vCPU; kvm_vcpu_unmap() ignores
    // unmapped ones.
    unsafe {
        bindings::kvm_vcpu_unmap(vcpu, &mut vf!(nv, nested.apic_access_page_map), false);
        bindings::kvm_vcpu_unmap(vcpu, &mut vf!(nv, nested.virtual_apic_map), true);
        bindings::kvm_vcpu_unmap(vcpu, &mut vf!(nv, nested.pi_desc_map), true);
    }
    vf!(nv, nested.pi_desc) = core::ptr::null_mut();
}
