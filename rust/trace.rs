// SPDX-License-Identifier: GPL-2.0

//! KVM's nested tracepoints (`kvm:kvm_nested_vmenter`, `kvm_nested_vmexit`,
//! `kvm_nested_vmexit_inject`, `kvm_nested_vmenter_failed`), emitted with
//! the fields nested.c gives them and at the same points, so tools written
//! for KVM (`perf stat -e kvm:kvm_nested_vmenter`, tracefs, bpftrace) work
//! unchanged on this backend. kvm.ko defines the events; `rust/trace.c`
//! wraps the `trace_*()` inlines.
//!
//! nested.c (6.12) never emits `kvm_nested_intr_vmexit` (SVM's nested code
//! does), so neither does this backend. Where nested.c's `CC()` names the
//! failed C condition, this backend names the failed check of the core
//! (`Check::trace_msg`, e.g. "GuestCr0Fixed (SDM 27.3.1.1)").

use core::ffi::CStr;
#[cfg(CONFIG_TRACEPOINTS)]
use core::ptr::addr_of_mut;
#[cfg(CONFIG_TRACEPOINTS)]
use core::sync::atomic::{AtomicI32, Ordering};

use crate::bindings;
use crate::nvcpu::vf;
use crate::nvcpu::Nv;
use crate::vmcs::checks::Check;
use crate::vmcs::controls::Secondary;
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::outcome::Outcome;

/// `trace_kvm_nested_vmenter()` at the start of
/// `nested_vmx_enter_non_root_mode()`: every entry that passed the checks
/// of VMLAUNCH/VMRESUME, and every resume of L2 from saved state.
pub(crate) fn nested_vmenter(nv: &mut Nv, v: &Vmcs12) {
    // SAFETY: reads the tracepoint's static key; no precondition.
    if !unsafe { bindings::rnvmx_trace_nested_vmenter_enabled() } {
        return;
    }
    crate::stats::VMENTER_EVENTS.inc();
    let rip = nv.rip();
    let vmptr = vf!(nv, nested.current_vmptr);
    let ept = Secondary(v.secondary_vm_exec_control).contains(Secondary::ENABLE_EPT);
    // SAFETY: plain values; the event copies them.
    unsafe {
        bindings::rnvmx_trace_nested_vmenter(
            rip,
            vmptr,
            v.guest_rip,
            u32::from(v.guest_intr_status),
            v.vm_entry_intr_info_field,
            ept,
            v.ept_pointer,
            v.guest_cr3,
        )
    };
}

/// `trace_kvm_nested_vmenter_failed()` for a failed VM-entry check, as
/// nested.c's `CC()` does (error 0).
pub(crate) fn check_failed(check: Check) {
    failed(check.trace_msg(), 0);
}

/// The same for a check made with a KVM call, named as nested.c's `CC()`
/// names it (e.g. `c"!kvm_vcpu_is_legal_cr3(vcpu, cr3)"`).
pub(crate) fn kvm_check_failed(condition: &'static CStr) {
    failed(condition, 0);
}

/// The same for the VMLAUNCH/VMRESUME prechecks of `nested_vmx_run()`.
pub(crate) fn run_precheck_failed(o: &Outcome) {
    let msg = match o {
        Outcome::VmFailInvalid => c"no current VMCS, or it is a shadow VMCS",
        Outcome::VmFailValid(_) => c"events blocked by MOV SS, or wrong launch state",
        Outcome::VmSucceed => return,
    };
    failed(msg, 0);
}

/// A VM-instruction error of the hardware VM entry into vmcs02 (a late
/// VMfail, nested.c's "hardware VM-instruction error: ").
pub(crate) fn hardware_vmfail(error: u32) {
    failed(c"hardware VM-instruction error: ", error);
}

fn failed(msg: &'static CStr, err: u32) {
    // SAFETY: `msg` is a NUL-terminated static string; the event copies it.
    unsafe { bindings::rnvmx_trace_nested_vmenter_failed(msg.as_ptr().cast(), err) };
}

/// `trace_kvm_nested_vmexit()`: every exit from L2 that is not a late VMfail,
/// before deciding whether L0 or L1 handles it.
///
/// On every exit from L2, so the tracepoint's key is tested here (its
/// count, what `static_key_false()` tests without jump labels; with them a
/// few events while the key is being switched may be missed, as the C
/// wrapper tests the key again) and the call made only with the event on.
/// A kernel without tracepoints has no key (nor events): the wrapper is
/// then an empty function.
#[inline]
pub(crate) fn nested_vmexit(nv: &mut Nv) {
    #[cfg(CONFIG_TRACEPOINTS)]
    {
        // SAFETY: the tracepoint is a static of kvm.ko (exported), which
        // this module depends on, so it outlives every caller; its key's
        // count is an aligned atomic_t, updated atomically by the jump-label
        // code, and only loaded here.
        let key = unsafe {
            AtomicI32::from_ptr(addr_of_mut!(
                bindings::__tracepoint_kvm_nested_vmexit.key.enabled.counter
            ))
        };
        if key.load(Ordering::Relaxed) <= 0 {
            return;
        }
    }
    // SAFETY: the vCPU is ours and vmcs02 is loaded, as the event's record
    // (built by kvm.ko) reads its exit information.
    unsafe { bindings::rnvmx_trace_nested_vmexit(nv.raw()) };
}

/// `trace_kvm_nested_vmexit_inject()`: a nested VM exit reported to L1,
/// after vmcs12's exit fields are written and before L1's host state loads.
pub(crate) fn nested_vmexit_inject(v: &Vmcs12) {
    // SAFETY: reads the tracepoint's static key; no precondition.
    if !unsafe { bindings::rnvmx_trace_nested_vmexit_inject_enabled() } {
        return;
    }
    // SAFETY: plain values; the event copies them.
    unsafe {
        bindings::rnvmx_trace_nested_vmexit_inject(
            v.vm_exit_reason,
            v.exit_qualification,
            v.idt_vectoring_info_field,
            v.vm_exit_intr_info,
            v.vm_exit_intr_error_code,
        )
    };
}
