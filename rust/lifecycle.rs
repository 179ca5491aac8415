// SPDX-License-Identifier: GPL-2.0

//! VMX operation: what VMXON allocates and VMXOFF (or vCPU teardown, or
//! KVM's leave_nested) frees. KVM's enter_vmx_operation(), free_nested(),
//! nested_release_vmcs12(), vmx_leave_nested().

use kernel::{alloc::flags, prelude::*};

use crate::bindings;
use crate::exit;
use crate::nvcpu::{Nv, INVALID_GPA};
use crate::shadow_vmcs;
use crate::timer;
use crate::vmcs::layout::VMCS12_SIZE;

/// The page-sized buffer behind `nested.cached_vmcs12` and
/// `nested.cached_shadow_vmcs12`.
struct Vmcs12Page(#[allow(dead_code)] [u8; VMCS12_SIZE]);

/// Allocates a zeroed VMCS12_SIZE buffer, owned by the caller as a raw
/// pointer until `free_vmcs12_page`.
fn alloc_vmcs12_page() -> Result<*mut bindings::vmcs12> {
    let page = KBox::<Vmcs12Page>::new_uninit(GFP_KERNEL | flags::__GFP_ZERO)?;
    // SAFETY: __GFP_ZERO zeroed the allocation, and all-zero bytes are a
    // valid `Vmcs12Page`.
    let page = unsafe { page.assume_init() };
    Ok(KBox::into_raw(page).cast())
}

/// Frees a buffer from `alloc_vmcs12_page`; NULL is ignored.
fn free_vmcs12_page(p: *mut bindings::vmcs12) {
    if !p.is_null() {
        // SAFETY: non-null pointers in `cached_vmcs12` and
        // `cached_shadow_vmcs12` come only from
        // `alloc_vmcs12_page` (KBox::into_raw) and are freed once: the
        // caller clears the field.
        drop(unsafe { KBox::from_raw(p.cast::<Vmcs12Page>()) });
    }
}

/// KVM's `enter_vmx_operation()`: vmcs02, the cached vmcs12 and the cached
/// shadow vmcs12 (L1's shadow VMCS while L2 runs, `shadow_vmcs12.rs`), the
/// shadow VMCS of vmcs01 (`shadow_vmcs.rs`), VPID02 and the VMX-preemption
/// timer.
pub(crate) fn enter_vmx_operation(nv: &mut Nv) -> Result {
    let vmx = nv.vmx();
    // SAFETY: vmcs02 is this vCPU's, not allocated outside VMX operation.
    kernel::error::to_result(unsafe { bindings::alloc_loaded_vmcs(&mut vmx.nested.vmcs02) })?;
    let vmcs12 = match alloc_vmcs12_page() {
        Ok(p) => p,
        Err(e) => {
            // SAFETY: allocated just above and referenced nowhere.
            unsafe { bindings::free_loaded_vmcs(&mut nv.vmx().nested.vmcs02) };
            return Err(e);
        }
    };
    let shadow12 = match alloc_vmcs12_page() {
        Ok(p) => p,
        Err(e) => {
            free_vmcs12_page(vmcs12);
            // SAFETY: allocated above and referenced nowhere.
            unsafe { bindings::free_loaded_vmcs(&mut nv.vmx().nested.vmcs02) };
            return Err(e);
        }
    };
    if let Err(e) = shadow_vmcs::alloc(nv) {
        free_vmcs12_page(shadow12);
        free_vmcs12_page(vmcs12);
        // SAFETY: allocated above and referenced nowhere.
        unsafe { bindings::free_loaded_vmcs(&mut nv.vmx().nested.vmcs02) };
        return Err(e);
    }
    // SAFETY: plain ID allocator.
    let vpid02 = unsafe { bindings::allocate_vpid() };
    let n = nv.nested();
    n.cached_vmcs12 = vmcs12;
    n.cached_shadow_vmcs12 = shadow12;
    n.shadow_vmcs12_cache.gpa = INVALID_GPA;
    n.vpid02 = vpid02 as u16;
    n.last_vpid = 0;
    n.vmcs02_initialized = false;
    n.current_vmptr = INVALID_GPA;
    n.vmxon = true;
    nv.set_posted_intr_nv(u16::MAX);
    timer::init(nv);
    Ok(())
}

/// KVM's `nested_release_vmcs12()`: writes the cached vmcs12 back to L1
/// memory and forgets the current VMCS.
pub(crate) fn release_vmcs12(nv: &mut Nv) {
    let vmptr = nv.nested().current_vmptr;
    if vmptr == INVALID_GPA {
        return;
    }
    if shadow_vmcs::enabled() {
        shadow_vmcs::to_vmcs12(nv);
        shadow_vmcs::disable(nv);
    }
    exit::sync_rare(nv);
    nv.set_posted_intr_nv(u16::MAX);
    let p = nv.nested().cached_vmcs12;
    if !p.is_null() {
        // SAFETY: the cached vmcs12 is VMCS12_SIZE bytes (alloc_vmcs12_page);
        // the slice lives only for this write.
        let bytes = unsafe { core::slice::from_raw_parts(p.cast::<u8>(), VMCS12_SIZE) };
        // As KVM: a failed write of L1's own page is L1's problem.
        let _ = nv.write_gpa(vmptr, bytes);
    }
    free_guest_mmu_roots(nv);
    nv.nested().current_vmptr = INVALID_GPA;
}

/// Drops the shadow EPT roots built for L2.
pub(crate) fn free_guest_mmu_roots(nv: &mut Nv) {
    // SAFETY: the vCPU is ours (Nv invariant).
    unsafe { bindings::rnvmx_mmu_unload_guest_mode_roots(nv.raw()) };
}

/// Unmaps the L1 pages vmcs02 points to (KVM unpins them on every exit).
pub(crate) fn unmap_vmcs12_pages(nv: &mut Nv) {
    let vcpu = nv.raw();
    let n = nv.nested();
    // SAFETY: the maps belong to this vCPU; kvm_vcpu_unmap() ignores
    // unmapped ones.
    unsafe {
        bindings::kvm_vcpu_unmap(vcpu, &mut n.apic_access_page_map, false);
        bindings::kvm_vcpu_unmap(vcpu, &mut n.virtual_apic_map, true);
        bindings::kvm_vcpu_unmap(vcpu, &mut n.pi_desc_map, true);
    }
    n.pi_desc = core::ptr::null_mut();
}

/// KVM's `free_nested()`: leaves VMX operation, freeing what VMXON took.
pub(crate) fn free_nested(nv: &mut Nv) {
    nv.switch_vmcs(false);
    if !nv.nested().vmxon && !nv.nested().smm.vmxon {
        return;
    }
    nv.clear_request(bindings::rnvmx_request_RNVMX_REQ_GET_NESTED_STATE_PAGES);
    let n = nv.nested();
    n.vmxon = false;
    n.smm.vmxon = false;
    n.vmxon_ptr = INVALID_GPA;
    let vpid02 = n.vpid02;
    n.vpid02 = 0;
    n.current_vmptr = INVALID_GPA;
    n.need_sync_vmcs02_to_vmcs12_rare = false;
    nv.set_posted_intr_nv(u16::MAX);
    // SAFETY: plain ID allocator; vpid02 came from allocate_vpid().
    unsafe { bindings::free_vpid(ffi_int(vpid02)) };
    shadow_vmcs::disable(nv);
    shadow_vmcs::free(nv);
    let p = core::mem::replace(&mut nv.nested().cached_vmcs12, core::ptr::null_mut());
    free_vmcs12_page(p);
    let p = core::mem::replace(&mut nv.nested().cached_shadow_vmcs12, core::ptr::null_mut());
    free_vmcs12_page(p);
    // SAFETY: vmcs02 is not current (switched to vmcs01 above).
    unsafe { bindings::free_loaded_vmcs(&mut nv.vmx().nested.vmcs02) };
    unmap_vmcs12_pages(nv);
    free_guest_mmu_roots(nv);
}

fn ffi_int(v: u16) -> kernel::ffi::c_int {
    kernel::ffi::c_int::from(v)
}

/// KVM's `vmx_leave_nested()`: forced exit from L2 (reset, SMM, state
/// restore), then out of VMX operation.
pub(crate) fn leave_nested(nv: &mut Nv) {
    if nv.is_guest_mode() {
        nv.nested().nested_run_pending = false;
        exit::nested_vmx_vmexit(nv, None, 0, 0);
    }
    free_nested(nv);
}
