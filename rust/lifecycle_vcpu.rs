// SPDX-License-Identifier: GPL-2.0

//! The core's `LifecycleVcpu` on a vCPU of this backend (see
//! lifecycle.rs): the allocations VMX operation owns and KVM's nested
//! fields.

use kernel::prelude::*;

use crate::bindings;
use crate::exit;
use crate::lifecycle;
use crate::nested::lifecycle::{LifecycleVcpu, Reset, Resource};
use crate::nested::shadow_vmcs as nested_shadow;
use crate::nvcpu::vf;
use crate::nvcpu::Nv;
use crate::shadow_vmcs;
use crate::timer;
use crate::vmcs::layout::VMCS12_SIZE;

/// Allocates a zeroed VMCS12_SIZE vmcs12 cache, owned by the caller as a
/// raw pointer until `free_vmcs12_page`.
fn alloc_vmcs12_page() -> Result<*mut bindings::vmcs12> {
    // SAFETY: kzalloc(VMCS12_SIZE, GFP_KERNEL_ACCOUNT), as nested.c's
    // enter_vmx_operation() (charged to the VM's memory cgroup: L1 makes
    // this allocation); it may sleep, and the caches are allocated only on
    // the vCPU thread in process context, preemption enabled: the exit
    // handlers of VMXON and VMLAUNCH/VMRESUME (KVM's handle_exit runs
    // after vcpu_enter_guest()'s preempt_enable()), KVM_SET_NESTED_STATE.
    let p = unsafe { bindings::rnvmx_vmcs12_cache_alloc() };
    if p.is_null() {
        return Err(ENOMEM);
    }
    Ok(p)
}

/// The core's `alloc_shadow_vmcs12_cache()` (entry, state restore): the
/// shadow vmcs12's cache unless it is allocated; `Err` is the errno.
pub(crate) fn alloc_shadow_vmcs12_cache(nv: &mut Nv) -> Result<(), i32> {
    if vf!(nv, nested.cached_shadow_vmcs12).is_null() {
        vf!(nv, nested.cached_shadow_vmcs12) = alloc_vmcs12_page().map_err(|e| e.to_errno())?;
    }
    Ok(())
}

/// Frees a buffer from `alloc_vmcs12_page`; NULL is ignored.
fn free_vmcs12_page(p: *mut bindings::vmcs12) {
    // SAFETY: non-null pointers in `cached_vmcs12` and
    // `cached_shadow_vmcs12` come only from `alloc_vmcs12_page` (kzalloc)
    // and are freed once: the caller clears the field; kfree() ignores
    // NULL.
    unsafe { bindings::rnvmx_vmcs12_cache_free(p) };
}

impl LifecycleVcpu for Nv {
    type Error = Error;
    fn alloc(&mut self, r: Resource) -> Result {
        match r {
            Resource::Vmcs02 => {
                // SAFETY: vmcs02 is this vCPU's, not allocated outside VMX
                // operation (VMXON is refused inside it).
                kernel::error::to_result(unsafe {
                    bindings::alloc_loaded_vmcs(&mut vf!(self, nested.vmcs02))
                })
            }
            Resource::CachedVmcs12 => {
                vf!(self, nested.cached_vmcs12) = alloc_vmcs12_page()?;
                Ok(())
            }
            Resource::CachedShadowVmcs12 => {
                vf!(self, nested.cached_shadow_vmcs12) = alloc_vmcs12_page()?;
                Ok(())
            }
            Resource::ShadowVmcs => shadow_vmcs::alloc(self),
        }
    }
    fn free(&mut self, r: Resource) {
        match r {
            Resource::Vmcs02 => {
                // SAFETY: vmcs02 is not the current VMCS: the core frees it
                // after switching to vmcs01 (free_nested) or when unwinding
                // VMXON, before anything loaded it; free_loaded_vmcs()
                // ignores a vmcs02 not allocated.
                unsafe { bindings::free_loaded_vmcs(&mut vf!(self, nested.vmcs02)) }
            }
            Resource::CachedVmcs12 => {
                free_vmcs12_page(core::mem::replace(
                    &mut vf!(self, nested.cached_vmcs12),
                    core::ptr::null_mut(),
                ));
            }
            Resource::CachedShadowVmcs12 => {
                let p = core::mem::replace(
                    &mut vf!(self, nested.cached_shadow_vmcs12),
                    core::ptr::null_mut(),
                );
                free_vmcs12_page(p);
            }
            Resource::ShadowVmcs => shadow_vmcs::free(self),
        }
    }
    fn allocate_vpid(&mut self) -> u16 {
        // SAFETY: plain ID allocator.
        unsafe { bindings::allocate_vpid() as u16 }
    }
    fn free_vpid(&mut self, vpid: u16) {
        // SAFETY: plain ID allocator; `vpid` came from allocate_vpid() (0,
        // none, is ignored).
        unsafe { bindings::free_vpid(kernel::ffi::c_int::from(vpid)) };
    }
    fn init_preemption_timer(&mut self) {
        timer::init(self);
    }
    fn apply(&mut self, r: Reset) {
        match r {
            Reset::Vmxon(b) => vf!(self, nested.vmxon) = b,
            Reset::SmmVmxon(b) => vf!(self, nested.smm.vmxon) = b,
            Reset::VmxonPtr(p) => vf!(self, nested.vmxon_ptr) = p,
            Reset::CurrentVmptr(p) => vf!(self, nested.current_vmptr) = p,
            Reset::Vpid02(v) => vf!(self, nested.vpid02) = v,
            Reset::LastVpid(v) => vf!(self, nested.last_vpid) = v,
            Reset::Vmcs02Initialized(b) => vf!(self, nested.vmcs02_initialized) = b,
            Reset::ShadowVmcs12CacheGpa(p) => vf!(self, nested.shadow_vmcs12_cache.gpa) = p,
            Reset::NeedRareSync(b) => vf!(self, nested.need_sync_vmcs02_to_vmcs12_rare) = b,
            Reset::PostedIntrNv(v) => self.set_posted_intr_nv(v),
        }
    }
    fn vmx_operation(&mut self) -> (bool, bool) {
        (vf!(self, nested.vmxon), vf!(self, nested.smm.vmxon))
    }
    fn current_vpid02(&mut self) -> u16 {
        vf!(self, nested.vpid02)
    }
    fn current_vmcs(&mut self) -> u64 {
        vf!(self, nested.current_vmptr)
    }
    fn switch_to_vmcs01(&mut self) {
        self.switch_vmcs(false);
    }
    fn clear_nested_state_pages_request(&mut self) {
        self.clear_request(bindings::rnvmx_request_RNVMX_REQ_GET_NESTED_STATE_PAGES);
    }
    fn shadowing(&mut self) -> bool {
        shadow_vmcs::enabled()
    }
    fn shadow_to_vmcs12(&mut self) {
        nested_shadow::to_vmcs12(self);
    }
    fn disable_shadow_vmcs(&mut self) {
        nested_shadow::disable(self);
    }
    fn sync_rare_to_vmcs12(&mut self) {
        exit::sync_rare(self);
    }
    fn write_back_vmcs12(&mut self, vmptr: u64) {
        let p = vf!(self, nested.cached_vmcs12);
        if !p.is_null() {
            // SAFETY: the cached vmcs12 is VMCS12_SIZE bytes
            // (alloc_vmcs12_page); the slice lives only for this write.
            let bytes = unsafe { core::slice::from_raw_parts(p.cast::<u8>(), VMCS12_SIZE) };
            // As KVM: a failed write of L1's own page is L1's problem.
            let _ = self.write_gpa(vmptr, bytes);
        }
    }
    fn free_guest_roots(&mut self) {
        lifecycle::free_guest_mmu_roots(self);
    }
    fn unmap_l1_pages(&mut self) {
        lifecycle::unmap_vmcs12_pages(self);
    }
    fn in_guest_mode(&mut self) -> bool {
        self.is_guest_mode()
    }
    fn release_evmcs(&mut self) {
        crate::evmcs::vmptrld::release(self)
    }
    fn clear_run_pending(&mut self) {
        vf!(self, nested.nested_run_pending) = false;
    }
    fn forced_vmexit(&mut self) {
        exit::nested_vmx_vmexit(self, None, 0, 0);
    }
}
