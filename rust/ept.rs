// SPDX-License-Identifier: GPL-2.0

//! Nested EPT: while L2 runs with EPT in vmcs12, KVM's MMU shadows L1's EPT
//! tables (guest_mmu) and walks L2's own page tables with nested_mmu.
//! KVM's nested_ept_init_mmu_context() and its callbacks; the PML buffer L1
//! gives L2 (nested_vmx_write_pml_buffer()). The decisions are the core's
//! (`crate::nested::ept`, `crate::nested::pml`; the vCPU: ept_vcpu.rs).

use kernel::ffi;

use crate::bindings;
use crate::nested::ept::{self as nept, EptFault};
use crate::nvcpu::Nv;
use crate::nvcpu::{vf, vp};

/// KVM's `nested_ept_get_eptp()`, the guest MMU's root.
///
/// # Safety
///
/// Called by KVM's MMU for a vCPU of a VM bound to this backend, in
/// guest mode with nested EPT, from that vCPU's thread.
unsafe extern "C" fn get_eptp(vcpu: *mut bindings::kvm_vcpu) -> ffi::c_ulong {
    // SAFETY: per this function's contract.
    let mut nv = unsafe { Nv::new(vcpu) };
    nv.vmcs12_ept_pointer().unwrap_or(0) as ffi::c_ulong
}

/// KVM's `nested_ept_inject_page_fault()` (the core's): an EPT violation
/// or misconfiguration of L1's tables is an exit to L1.
///
/// # Safety
///
/// As for `get_eptp`; `fault` is valid for the call.
unsafe extern "C" fn inject_page_fault(
    vcpu: *mut bindings::kvm_vcpu,
    fault: *mut bindings::x86_exception,
    from_hardware: bool,
) {
    // SAFETY: per this function's contract.
    let mut nv = unsafe { Nv::new(vcpu) };
    // SAFETY: `fault` is KVM's, valid for the call.
    let f = unsafe { *fault };
    let fault = EptFault {
        address: f.address,
        error_code: u64::from(f.error_code),
        exit_qualification: f.exit_qualification as u64,
    };
    nept::inject_page_fault(&mut nv, &fault, from_hardware);
}

/// KVM's `nested_ept_init_mmu_context()`.
pub(crate) fn init_mmu(nv: &mut Nv) {
    vf!(nv, vcpu.arch.mmu) = vp!(nv, vcpu.arch.guest_mmu);
    nept::new_eptp(nv);
    vf!(nv, vcpu.arch.guest_mmu.get_guest_pgd) = Some(get_eptp);
    vf!(nv, vcpu.arch.guest_mmu.inject_page_fault) = Some(inject_page_fault);
    vf!(nv, vcpu.arch.guest_mmu.get_pdptr) = Some(bindings::rnvmx_pdptr_read);
    vf!(nv, vcpu.arch.walk_mmu) = vp!(nv, vcpu.arch.nested_mmu);
}

/// KVM's `nested_ept_uninit_mmu_context()`.
pub(crate) fn uninit_mmu(nv: &mut Nv) {
    vf!(nv, vcpu.arch.mmu) = vp!(nv, vcpu.arch.root_mmu);
    vf!(nv, vcpu.arch.walk_mmu) = vp!(nv, vcpu.arch.root_mmu);
}
