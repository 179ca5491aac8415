// SPDX-License-Identifier: GPL-2.0

//! The core's `StateVcpu` on a vCPU of this backend: the primitives of
//! KVM_GET/SET_NESTED_STATE and of an RSM into L2, whose order and errnos
//! are the core's (nested/state_set.rs, nested/state_get.rs,
//! nested/rsm.rs). Userspace's state is read and written only through the
//! checked user-copy API. Also KVM_REQ_GET_NESTED_STATE_PAGES.

use kernel::{ffi, prelude::*, uaccess::UserSlice};

use crate::bindings;
use crate::entry::{self, CheckVcpu, Entered};
use crate::exit;
use crate::nested::rsm::check_restored_vmcs12;
use crate::nested::shadow_vmcs as nested_shadow;
use crate::nested::state::{Errno, SetStateEnv};
use crate::nested::state_get::NestedView;
use crate::nested::state_vcpu::{Cache, CopyError, StateVcpu};
use crate::nvcpu::vf;
use crate::nvcpu::Nv;
use crate::shadow_vmcs;
use crate::trace;
use crate::vmcs::checks::Check;
use crate::vmcs::layout::Vmcs12;

/// A vCPU with the `struct kvm_nested_state` of the ioctl being served.
pub(crate) struct StateNv<'a> {
    nv: &'a mut Nv,
    /// Userspace's state (null for an RSM, which copies nothing).
    user: *mut bindings::kvm_nested_state,
}

impl<'a> StateNv<'a> {
    /// `user` is userspace's state of the ioctl, or null.
    pub(crate) fn new(nv: &'a mut Nv, user: *mut bindings::kvm_nested_state) -> Self {
        StateNv { nv, user }
    }

    /// `len` bytes of userspace's state at `offset`; `None` without one.
    fn user_slice(&self, offset: usize, len: usize) -> Option<UserSlice> {
        (!self.user.is_null())
            .then(|| UserSlice::new((self.user as usize).wrapping_add(offset), len))
    }

    fn cache_bytes(&mut self, cache: Cache) -> Option<&mut [u8]> {
        match cache {
            Cache::Vmcs12 => self.nv.vmcs12_bytes(),
            Cache::ShadowVmcs12 => self.nv.shadow_vmcs12_bytes(),
        }
    }
}

/// The errno of a failed KVM_GET/SET_NESTED_STATE.
pub(crate) fn errno(e: Errno) -> ffi::c_int {
    match e {
        Errno::Inval => EINVAL.to_errno(),
        Errno::Fault => EFAULT.to_errno(),
        Errno::Passed(e) | Errno::Status(e) => e,
    }
}

impl StateVcpu for StateNv<'_> {
    type Checks<'a>
        = CheckVcpu<'a>
    where
        Self: 'a;
    fn checks(&mut self) -> CheckVcpu<'_> {
        CheckVcpu::new(self.nv)
    }
    fn set_state_env(&mut self) -> SetStateEnv {
        let vcpu = self.nv.raw();
        SetStateEnv {
            // SAFETY: the vCPU is ours (Nv invariant); this reads its CPUID.
            vmx_in_cpuid: unsafe { bindings::rnvmx_guest_has_vmx(vcpu) },
            maxphyaddr: self.nv.maxphyaddr(),
            // SAFETY: the vCPU is ours (Nv invariant); this reads its hflags.
            in_smm: unsafe { bindings::rnvmx_is_smm(vcpu) },
            evmcs_enabled: vf!(self.nv, nested.enlightened_vmcs_enabled),
        }
    }
    fn nested_view(&mut self) -> NestedView {
        let vcpu = self.nv.raw();
        let guest_mode = self.nv.is_guest_mode();
        let evmcs_set = crate::evmcs::run::is_set(self.nv);
        NestedView {
            // SAFETY: the vCPU is ours (Nv invariant); this reads its CPUID.
            vmx_in_cpuid: unsafe { bindings::rnvmx_guest_has_vmx(vcpu) },
            vmxon: vf!(self.nv, nested.vmxon),
            smm_vmxon: vf!(self.nv, nested.smm.vmxon),
            smm_guest_mode: vf!(self.nv, nested.smm.guest_mode),
            vmxon_ptr: vf!(self.nv, nested.vmxon_ptr),
            current_vmptr: vf!(self.nv, nested.current_vmptr),
            evmcs_set,
            guest_mode,
            run_pending: vf!(self.nv, nested.nested_run_pending),
            mtf_pending: vf!(self.nv, nested.mtf_pending),
            // The deadline an entry fixed (reported in guest mode with the
            // timer on: the core's get_state decides).
            preemption_timer_deadline: vf!(self.nv, nested.has_preemption_timer_deadline)
                .then_some(vf!(self.nv, nested.preemption_timer_deadline)),
        }
    }
    fn leave_nested(&mut self) {
        crate::nested::lifecycle::leave_nested(self.nv)
    }
    fn set_vmxon_ptr(&mut self, pa: u64) {
        vf!(self.nv, nested.vmxon_ptr) = pa;
    }
    fn enter_vmx_operation(&mut self) -> Result<(), i32> {
        crate::nested::lifecycle::enter_vmx_operation(self.nv).map_err(|e| e.to_errno())
    }
    fn alloc_shadow_vmcs12_cache(&mut self) -> Result<(), i32> {
        crate::lifecycle_vcpu::alloc_shadow_vmcs12_cache(self.nv)
    }
    fn set_current_vmptr(&mut self, pa: u64) {
        vf!(self.nv, nested.current_vmptr) = pa;
    }
    fn link_shadow_vmcs(&mut self) {
        nested_shadow::enable(self.nv)
    }
    fn mark_vmcs12_dirty(&mut self) {
        vf!(self.nv, nested.dirty_vmcs12) = true;
        vf!(self.nv, nested.force_msr_bitmap_recalc) = true;
    }
    fn set_smm_vmxon(&mut self) {
        vf!(self.nv, nested.smm.vmxon) = true;
        vf!(self.nv, nested.vmxon) = false;
    }
    fn set_smm_guest_mode(&mut self) {
        vf!(self.nv, nested.smm.guest_mode) = true;
    }
    fn read_user(&mut self, cache: Cache, offset: usize, len: usize) -> Result<(), CopyError> {
        let user = self.user_slice(offset, len);
        let Some(bytes) = self.cache_bytes(cache).and_then(|b| b.get_mut(..len)) else {
            return Err(CopyError::NoCache);
        };
        let mut reader = user.ok_or(CopyError::Fault)?.reader();
        reader.read_slice(bytes).map_err(|_| CopyError::Fault)
    }
    fn cached(&mut self, cache: Cache) -> Option<Vmcs12> {
        match cache {
            Cache::Vmcs12 => self.nv.vmcs12_copy(),
            Cache::ShadowVmcs12 => self.nv.shadow_vmcs12().map(|s| *s),
        }
    }
    fn with_vmcs12<R>(&mut self, f: impl FnOnce(Option<&Vmcs12>) -> R) -> R {
        f(self.nv.vmcs12().map(|v| &*v))
    }
    fn check_restored(
        &mut self,
        with_shadow: bool,
    ) -> Option<Result<(), crate::nested::state::StateError>> {
        // SAFETY: the references live only through the checks below, which
        // read vmcs12 and the shadow vmcs12 through them and write neither;
        // CheckVcpu reads vCPU fields and, for the link pointer's VMCS
        // header, L1 memory into a local (read_link_vmcs_hdr), never the
        // two caches; nothing frees them meanwhile (no VMXOFF).
        let v = unsafe { self.nv.vmcs12_unbounded() }?;
        let p = vf!(self.nv, nested.cached_shadow_vmcs12);
        // SAFETY: a non-null `cached_shadow_vmcs12` is this backend's
        // VMCS12_SIZE allocation holding a packed `Vmcs12`
        // (lifecycle_vcpu.rs); as above, nothing writes or frees it while
        // the checks use the reference.
        let shadow = (with_shadow && !p.is_null()).then(|| unsafe { &*p.cast::<Vmcs12>() });
        Some(check_restored_vmcs12(
            v,
            shadow,
            &mut CheckVcpu::new(self.nv),
        ))
    }
    fn set_run_pending(&mut self, pending: bool) {
        vf!(self.nv, nested.nested_run_pending) = pending;
    }
    fn set_mtf_pending(&mut self, pending: bool) {
        vf!(self.nv, nested.mtf_pending) = pending;
    }
    fn mtf_pending(&mut self) -> bool {
        vf!(self.nv, nested.mtf_pending)
    }
    fn set_preemption_timer_deadline(&mut self, deadline: Option<u64>) {
        vf!(self.nv, nested.has_preemption_timer_deadline) = deadline.is_some();
        vf!(self.nv, nested.preemption_timer_deadline) = deadline.unwrap_or(0);
    }
    fn enter_non_root_mode(&mut self) -> Entered {
        entry::enter_non_root_mode(self.nv, false)
    }
    fn request_event(&mut self) {
        self.nv
            .make_request(bindings::rnvmx_request_RNVMX_REQ_EVENT);
    }
    fn trace_check_failed(&mut self, c: Check) {
        trace::check_failed(c)
    }
    fn sync_vmcs02_to_vmcs12(&mut self) {
        exit::sync_vmcs02_to_vmcs12(self.nv)
    }
    fn sync_rare(&mut self) {
        exit::sync_rare(self.nv)
    }
    fn need_vmcs12_to_shadow_sync(&mut self) -> bool {
        vf!(self.nv, nested.need_vmcs12_to_shadow_sync)
    }
    fn shadow_vmcs_enabled(&mut self) -> bool {
        shadow_vmcs::enabled()
    }
    fn evmcs_to_vmcs12_full(&mut self) -> bool {
        crate::evmcs::run::to_vmcs12(self.nv, false)
    }
    fn set_evmcs_map_pending(&mut self) {
        crate::evmcs::run::set_map_pending(self.nv)
    }
    fn shadow_vmcs_to_vmcs12(&mut self) {
        nested_shadow::to_vmcs12(self.nv)
    }
    fn write_user(&mut self, offset: usize, bytes: &[u8]) -> Result<(), CopyError> {
        let user = self.user_slice(offset, bytes.len());
        let mut writer = user.ok_or(CopyError::Fault)?.writer();
        writer.write_slice(bytes).map_err(|_| CopyError::Fault)
    }
    fn write_user_cache(&mut self, cache: Cache, offset: usize) -> Result<(), CopyError> {
        /// What C's cache would hold had it never been used (kzalloc()).
        static NEVER_USED: [u8; crate::vmcs::layout::VMCS12_SIZE] =
            [0; crate::vmcs::layout::VMCS12_SIZE];
        let user = self.user_slice(offset, crate::vmcs::layout::VMCS12_SIZE);
        let bytes: &[u8] = match self.cache_bytes(cache) {
            Some(b) => b,
            // The shadow vmcs12's cache comes with the first entry that
            // needs it, so a vCPU in L2 whose vmcs12 names a shadow VMCS
            // has it; were it not so, C's state would carry zeros.
            None if cache == Cache::ShadowVmcs12 => &NEVER_USED,
            None => return Err(CopyError::NoCache),
        };
        let mut writer = user.ok_or(CopyError::Fault)?.writer();
        writer.write_slice(bytes).map_err(|_| CopyError::Fault)
    }
}

/// KVM's vmx_get_nested_state_pages() (KVM_REQ_GET_NESTED_STATE_PAGES,
/// made by a restore into guest mode): map what vmcs02 points to.
pub(crate) fn get_nested_state_pages(nv: &mut Nv) -> bool {
    // nested_get_evmcs_page() first: it also refreshes KVM's copy of the VP
    // assist page, which L2's direct TLB flush reads.
    if !crate::evmcs::run::get_page(nv) {
        return false;
    }
    if !nv.is_guest_mode() {
        return true;
    }
    // SAFETY: `v` is read by `get_vmcs12_pages` only, which writes no vmcs12.
    let Some(v) = (unsafe { nv.vmcs12_unbounded() }) else {
        return false;
    };
    entry::get_vmcs12_pages(nv, v)
}
