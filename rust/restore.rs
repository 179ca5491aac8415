// SPDX-License-Identifier: GPL-2.0

//! KVM_SET_NESTED_STATE into VMX operation (KVM's vmx_set_nested_state()
//! after its header checks): leave what the vCPU had, enter VMX operation
//! at the state's VMXON region, load the current VMCS and the state's
//! vmcs12 (and shadow vmcs12), and in guest mode enter L2 from it without a
//! VM entry's side effects. What is valid is the core's decision
//! (`crate::nested::state`); this applies it in nested.c's order, so that
//! each error leaves the state nested.c leaves, with its errno.

use kernel::{ffi, prelude::*, uaccess::UserSlice};

use crate::bindings;
use crate::entry::{self, CheckVcpu, Entered};
use crate::lifecycle;
use crate::nested::rsm::{self, RsmToL2};
use crate::nested::state::{
    self, flags, Header, Restore, SetStateEnv, StateError, SHADOW_VMCS12_OFFSET, VMCS12_OFFSET,
};
use crate::nvcpu::{Nv, INVALID_GPA};
use crate::shadow_vmcs;
use crate::stats;
use crate::trace;
use crate::vmcs::layout::{Vmcs12, VMCS12_REVISION};

/// Reads `len` bytes of the state at `offset` from userspace into `dst`.
fn read_user(user: *mut bindings::kvm_nested_state, offset: usize, dst: &mut [u8]) -> Result {
    let mut reader = UserSlice::new((user as usize).wrapping_add(offset), dst.len()).reader();
    reader.read_slice(dst)
}

/// The state `h` (its header already checked) into the vCPU; `user` is
/// userspace's `struct kvm_nested_state`, at least `h.size` bytes.
pub(crate) fn set_vmx_state(
    nv: &mut Nv,
    h: &Header,
    env: &SetStateEnv,
    user: *mut bindings::kvm_nested_state,
) -> ffi::c_int {
    lifecycle::leave_nested(nv);
    if h.vmxon_pa == INVALID_GPA {
        return 0;
    }
    nv.nested().vmxon_ptr = h.vmxon_pa;
    if let Err(e) = lifecycle::enter_vmx_operation(nv) {
        return e.to_errno();
    }
    let size = h.size as usize;
    let vmcs12_len = core::mem::size_of::<Vmcs12>();
    if size < VMCS12_OFFSET + vmcs12_len {
        // Empty VMXON state, permitted if no VMCS is loaded (the core says).
        return match state::check_vmcs12_part(h, env, None, None, &mut CheckVcpu::new(nv)) {
            Ok(_) => 0,
            Err(_) => EINVAL.to_errno(),
        };
    }
    if state::check_vmcs12_address(h, env).is_err() {
        return EINVAL.to_errno();
    }
    if h.vmcs12_pa != INVALID_GPA {
        // KVM's set_current_vmptr().
        let n = nv.nested();
        n.current_vmptr = h.vmcs12_pa;
        n.dirty_vmcs12 = true;
        n.force_msr_bitmap_recalc = true;
        shadow_vmcs::enable(nv);
    }
    if h.smm_flags & flags::SMM_VMXON != 0 {
        let n = nv.nested();
        n.smm.vmxon = true;
        n.vmxon = false;
        if h.smm_flags & flags::SMM_GUEST_MODE != 0 {
            n.smm.guest_mode = true;
        }
    }
    // vmcs12 straight into the cache, sizeof(struct vmcs12) bytes, as KVM.
    let Some(bytes) = nv.vmcs12_bytes().and_then(|b| b.get_mut(..vmcs12_len)) else {
        return EINVAL.to_errno();
    };
    if read_user(user, VMCS12_OFFSET, bytes).is_err() {
        return EFAULT.to_errno();
    }
    let Some(v) = nv.vmcs12_copy() else {
        return EINVAL.to_errno();
    };
    let guest_mode = h.flags & flags::GUEST_MODE != 0;
    if v.hdr.revision_id() != VMCS12_REVISION || !guest_mode {
        // The core decides (Vmcs12Revision or Vmcs12Loaded).
        return match state::check_vmcs12_part(h, env, Some(&v), None, &mut CheckVcpu::new(nv)) {
            Ok(_) => 0,
            Err(_) => EINVAL.to_errno(),
        };
    }
    let n = nv.nested();
    n.nested_run_pending = h.flags & flags::RUN_PENDING != 0;
    n.mtf_pending = h.flags & flags::MTF_PENDING != 0;
    let ret = restore_guest_mode(nv, h, env, user, &v);
    if ret != 0 {
        nv.nested().nested_run_pending = false;
    }
    ret
}

/// The guest-mode part of `set_vmx_state` (KVM's code up to its
/// `error_guest_mode` label, which resets nested_run_pending on failure).
fn restore_guest_mode(
    nv: &mut Nv,
    h: &Header,
    env: &SetStateEnv,
    user: *mut bindings::kvm_nested_state,
    v: &Vmcs12,
) -> ffi::c_int {
    let vmcs12_len = core::mem::size_of::<Vmcs12>();
    let mut shadow = None;
    if state::wants_shadow_vmcs12(v) {
        if (h.size as usize) < SHADOW_VMCS12_OFFSET + vmcs12_len {
            return EINVAL.to_errno();
        }
        let Some(bytes) = nv
            .shadow_vmcs12_bytes()
            .and_then(|b| b.get_mut(..vmcs12_len))
        else {
            return EINVAL.to_errno();
        };
        if read_user(user, SHADOW_VMCS12_OFFSET, bytes).is_err() {
            return EFAULT.to_errno();
        }
        shadow = nv.shadow_vmcs12().map(|s| *s);
    }
    let restore =
        state::check_vmcs12_part(h, env, Some(v), shadow.as_ref(), &mut CheckVcpu::new(nv));
    // As nested.c's CC(): kvm_nested_vmenter_failed for a failed entry check.
    if let Some(check) = restore.err().and_then(state::StateError::traced_check) {
        trace::check_failed(check);
    }
    let Ok(Restore::GuestMode {
        preemption_timer_deadline,
        ..
    }) = restore
    else {
        return EINVAL.to_errno();
    };
    let n = nv.nested();
    n.has_preemption_timer_deadline = preemption_timer_deadline.is_some();
    n.preemption_timer_deadline = preemption_timer_deadline.unwrap_or(0);
    n.dirty_vmcs12 = true;
    n.force_msr_bitmap_recalc = true;
    if entry::enter_non_root_mode(nv, false) != Entered::L2 {
        return EINVAL.to_errno();
    }
    if nv.nested().mtf_pending {
        nv.make_request(bindings::rnvmx_request_RNVMX_REQ_EVENT);
    }
    0
}

/// KVM's vmx_get_nested_state_pages() (KVM_REQ_GET_NESTED_STATE_PAGES,
/// made by a restore into guest mode): map what vmcs02 points to.
pub(crate) fn get_nested_state_pages(nv: &mut Nv) -> bool {
    if !nv.is_guest_mode() {
        return true;
    }
    // SAFETY: `v` is read by `get_vmcs12_pages` only, which writes no vmcs12.
    let Some(v) = (unsafe { nv.vmcs12_unbounded() }) else {
        return false;
    };
    entry::get_vmcs12_pages(nv, v)
}

/// vmx_leave_smm()'s entry into L2 when SMM was entered from L2 (the only
/// caller of the backend's `enter_non_root_mode`). vmcs12 may have changed
/// while in SMM, so the core first decides whether it may still be entered
/// (upstream's re-check, `nested::rsm`); `None`: it may not, the RSM fails
/// and KVM's emulator shuts L1 down, before any of L2's state is loaded.
pub(crate) fn rsm_enter_l2(nv: &mut Nv) -> Option<Entered> {
    if let RsmToL2::Shutdown(e) = rsm_check(nv) {
        stats::RSM_CHECK_FAILS.inc();
        if let StateError::EntryCheck(check) = e {
            trace::check_failed(check);
        }
        return None;
    }
    Some(entry::enter_non_root_mode(nv, false))
}

/// The core's decision on the vmcs12 and shadow vmcs12 KVM holds (copies,
/// since the check reads the vCPU too; dropped before L2 is entered).
fn rsm_check(nv: &mut Nv) -> RsmToL2 {
    let Some(v) = nv.vmcs12_copy() else {
        return RsmToL2::Shutdown(StateError::Vmcs12Missing);
    };
    let shadow = nv.shadow_vmcs12().map(|s| *s);
    rsm::rsm_to_l2(&v, shadow.as_ref(), &mut CheckVcpu::new(nv))
}
