// SPDX-License-Identifier: GPL-2.0

//! Nested EPT: while L2 runs with EPT in vmcs12, KVM's MMU shadows L1's EPT
//! tables (guest_mmu) and walks L2's own page tables with nested_mmu.
//! KVM's nested_ept_init_mmu_context() and its callbacks; the PML buffer L1
//! gives L2 (nested_vmx_write_pml_buffer()).

use kernel::ffi;

use crate::bindings;
use crate::exit;
use crate::nested::exit_reason::basic as r;
use crate::nested::pml;
use crate::nvcpu::Nv;
use crate::stats;
use crate::vmcs::controls::{Secondary, Vmcs12Controls};

const VMX_EPT_EXECUTE_ONLY_BIT: u32 = 1 << 0;
const VMX_EPT_2MB_PAGE_BIT: u32 = 1 << 16;
const VMX_EPT_1GB_PAGE_BIT: u32 = 1 << 17;
const VMX_EPTP_AD_ENABLE_BIT: u64 = 1 << 6;
const EPTP_PA_MASK: u64 = ((1 << 52) - 1) & !0xfff;
const PFERR_RSVD_MASK: u64 = 1 << 3;
const EPT_VIOLATION_GVA_MASK: u64 = (1 << 7) | (1 << 8);
const INVALID_PAGE: u64 = !0;

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

/// KVM's `nested_ept_inject_page_fault()`: an EPT violation or
/// misconfiguration of L1's tables is an exit to L1.
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
    let (reason, qual) = if nv.nested().pml_full {
        nv.nested().pml_full = false;
        let q = crate::hw::read(crate::vmcs::table::encodings::EXIT_QUALIFICATION) & (1 << 12);
        (r::PML_FULL, q)
    } else {
        let r = if u64::from(f.error_code) & PFERR_RSVD_MASK != 0 {
            (r::EPT_MISCONFIG, 0)
        } else {
            let gva = if from_hardware {
                crate::hw::read(crate::vmcs::table::encodings::EXIT_QUALIFICATION)
            } else {
                f.exit_qualification as u64
            };
            let q = (f.exit_qualification as u64 & !EPT_VIOLATION_GVA_MASK)
                | (gva & EPT_VIOLATION_GVA_MASK);
            (r::EPT_VIOLATION, q)
        };
        let eptp = nv.vmcs12_ept_pointer().unwrap_or(0);
        invalidate_addr(&mut nv, eptp, f.address);
        r
    };
    stats::L2_EPT_FAULTS.inc();
    exit::nested_vmx_vmexit(&mut nv, Some(u32::from(reason)), 0, qual);
    if let Some(v) = nv.vmcs12() {
        v.guest_physical_address = f.address;
    }
}

/// KVM's `nested_ept_invalidate_addr()`: the mapping is also stale in the
/// cached roots built from the same EPT tables.
fn invalidate_addr(nv: &mut Nv, eptp: u64, addr: u64) {
    let mmu = nv.arch().mmu;
    // SAFETY: `arch.mmu` points to one of the vCPU's own MMUs.
    let prev = unsafe { (*mmu).prev_roots };
    let mut roots: ffi::c_ulong = 0;
    for (i, root) in prev.iter().enumerate() {
        if root.hpa != INVALID_PAGE && root.pgd & EPTP_PA_MASK == eptp & EPTP_PA_MASK {
            roots |= 1 << (1 + i);
        }
    }
    if roots != 0 {
        let vcpu = nv.raw();
        // SAFETY: the vCPU and its MMU are ours (Nv invariant).
        unsafe { bindings::kvm_mmu_invalidate_addr(vcpu, mmu, addr, roots) };
    }
}

/// KVM's `nested_ept_init_mmu_context()`.
pub(crate) fn init_mmu(nv: &mut Nv) {
    let arch = nv.arch();
    arch.mmu = &mut arch.guest_mmu;
    new_eptp(nv);
    let arch = nv.arch();
    arch.guest_mmu.get_guest_pgd = Some(get_eptp);
    arch.guest_mmu.inject_page_fault = Some(inject_page_fault);
    arch.guest_mmu.get_pdptr = Some(bindings::rnvmx_pdptr_read);
    arch.walk_mmu = &mut arch.nested_mmu;
}

/// KVM's `nested_ept_new_eptp()`: the shadow EPT MMU for vmcs12's EPT
/// pointer (at entry, and after L2 switched it with VMFUNC).
pub(crate) fn new_eptp(nv: &mut Nv) {
    let caps = nv.vmx_msrs().ept_caps;
    let execonly = caps & VMX_EPT_EXECUTE_ONLY_BIT != 0;
    let level = if caps & VMX_EPT_1GB_PAGE_BIT != 0 {
        3
    } else if caps & VMX_EPT_2MB_PAGE_BIT != 0 {
        2
    } else {
        1
    };
    let eptp = nv.vmcs12_ept_pointer().unwrap_or(0);
    let ad = eptp & VMX_EPTP_AD_ENABLE_BIT != 0;
    let vcpu = nv.raw();
    // SAFETY: the vCPU is ours (Nv invariant); its MMU is the guest MMU.
    unsafe { bindings::kvm_init_shadow_ept_mmu(vcpu, execonly, level, ad, eptp) };
}

/// KVM's `nested_ept_uninit_mmu_context()`.
pub(crate) fn uninit_mmu(nv: &mut Nv) {
    let arch = nv.arch();
    arch.mmu = &mut arch.root_mmu;
    arch.walk_mmu = &mut arch.root_mmu;
}

/// KVM's `nested_vmx_write_pml_buffer()`: logs a GPA L2 dirtied into
/// L1's PML buffer (`crate::nested::pml`); 1 asks KVM for a PML-full exit,
/// which `inject_page_fault` then reports to L1.
pub(crate) fn write_pml_buffer(nv: &mut Nv, gpa: u64) -> ffi::c_int {
    if !nv.is_guest_mode() {
        return 0;
    }
    if nv.nested().pml_full {
        // Still to be reported (KVM WARNs here; nothing else to log).
        return 1;
    }
    let Some((enabled, index, address)) = nv.vmcs12_ref().map(|v| {
        (
            Vmcs12Controls::of(v).sec.contains(Secondary::ENABLE_PML),
            v.guest_pml_index,
            v.pml_address,
        )
    }) else {
        return 0;
    };
    match pml::log(enabled, index, address, gpa) {
        pml::Log::Off => 0,
        pml::Log::Full => {
            nv.nested().pml_full = true;
            1
        }
        pml::Log::Write { dst, entry } => {
            if nv.write_gpa(dst, &entry.to_le_bytes()) {
                crate::stats::PML_LOGGED.inc();
                if let Some(v) = nv.vmcs12() {
                    v.guest_pml_index = index.wrapping_sub(1);
                }
            }
            0
        }
    }
}
