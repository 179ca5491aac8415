// SPDX-License-Identifier: GPL-2.0

//! L1's VMX-preemption timer for L2, emulated with the vCPU's hrtimer
//! (`vmx->nested.preemption_timer`) as nested.c does: armed at a nested VM
//! entry whose vmcs12 activates the timer, cancelled at the nested VM exit;
//! on expiry a pending exit with reason "VMX-preemption timer expired"
//! (`events::check_events`). The arithmetic is the core's
//! (`crate::nested::preemption_timer`).
//!
//! The hrtimer callback runs in hard-irq context, concurrently with the vCPU
//! thread: this module reaches the timer and `preemption_timer_expired` only
//! through raw pointers. `Nv::vmx()`/`Nv::nested()` references elsewhere
//! cover those bytes too, which Rust's model does not allow while another
//! CPU writes them; no code reads or writes them through such a reference
//! (as for `vcpu->requests`). Raw field projections in `Nv` would remove
//! the overlap.

use core::ptr::{addr_of, addr_of_mut};

use crate::bindings;
use crate::nested::preemption_timer as pt;
use crate::nvcpu::Nv;
use crate::vmcs::caps::misc::EMULATED_PREEMPTION_TIMER_RATE;
use crate::vmcs::controls::{PinBased, Vmcs12Controls};

fn vmx_of(nv: &mut Nv) -> *mut bindings::vcpu_vmx {
    // The vCPU is the first member of `struct vcpu_vmx` (vcpu.rs asserts it).
    nv.raw().cast()
}

fn timer_of(vmx: *mut bindings::vcpu_vmx) -> *mut bindings::hrtimer {
    // SAFETY: only computes a field address inside `*vmx`; no access.
    unsafe { addr_of_mut!((*vmx).nested.preemption_timer) }
}

/// At VMXON (KVM's `enter_vmx_operation()`): initialises the hrtimer, which
/// kvm-intel's `vmx_migrate_timers()` also touches while L2 runs.
pub(crate) fn init(nv: &mut Nv) {
    let timer = timer_of(vmx_of(nv));
    // SAFETY: the vCPU is ours (Nv invariant) and in no VMX operation, so
    // its timer is not armed; `expired` stays valid while any VM bound to
    // this module exists (each pins it), and the timer is cancelled at every
    // nested VM exit (`cancel`), so before the vCPU can be freed.
    unsafe { bindings::rnvmx_preemption_timer_init(timer, Some(expired)) };
}

/// KVM's `vmx_preemption_timer_fn()`.
///
/// # Safety
///
/// `timer` is the `nested.preemption_timer` of a live `struct vcpu_vmx`,
/// initialised by `init`; called by the hrtimer core, or by the vCPU thread
/// with the timer not armed (`start`).
unsafe extern "C" fn expired(timer: *mut bindings::hrtimer) -> bindings::hrtimer_restart {
    let offset = core::mem::offset_of!(bindings::vcpu_vmx, nested.preemption_timer);
    // SAFETY: `timer` lies `offset` bytes into its vcpu_vmx (container_of).
    let vmx = unsafe { timer.cast::<u8>().sub(offset) }.cast::<bindings::vcpu_vmx>();
    // SAFETY: `vmx` is live (this function's contract). The flag is a bool
    // the vCPU thread reads with `pending`; a plain store, as C's.
    unsafe { addr_of_mut!((*vmx).nested.preemption_timer_expired).write_volatile(true) };
    // SAFETY: as above; making a request and kicking are what KVM's own
    // timer callbacks do from hard-irq context.
    unsafe {
        let vcpu = addr_of_mut!((*vmx).vcpu);
        bindings::rnvmx_make_request(bindings::rnvmx_request_RNVMX_REQ_EVENT, vcpu);
        bindings::kvm_vcpu_kick(vcpu);
    }
    bindings::hrtimer_restart_HRTIMER_NORESTART
}

/// Whether vmcs12 activates the timer.
pub(crate) fn active(nv: &mut Nv) -> bool {
    nv.vmcs12().is_some_and(|v| {
        Vmcs12Controls::of(v)
            .pin
            .contains(PinBased::VMX_PREEMPTION_TIMER)
    })
}

/// KVM's `nested_vmx_preemption_timer_pending()`.
pub(crate) fn pending(nv: &mut Nv) -> bool {
    if !active(nv) {
        return false;
    }
    let vmx = vmx_of(nv);
    // SAFETY: the vCPU is ours; the flag may be written by `expired` at any
    // time, hence the raw volatile read.
    unsafe { addr_of!((*vmx).nested.preemption_timer_expired).read_volatile() }
}

/// L1's TSC in timer units (KVM's `kvm_read_l1_tsc(vcpu, rdtsc()) >> 5`).
fn l1_scaled_tsc(nv: &mut Nv) -> u64 {
    let vcpu = nv.raw();
    // SAFETY: the vCPU is ours; both only read the TSC and its L1 offset.
    let tsc = unsafe { bindings::kvm_read_l1_tsc(vcpu, bindings::rnvmx_rdtsc()) };
    tsc >> EMULATED_PREEMPTION_TIMER_RATE
}

/// At a successful nested VM entry with the timer active (KVM's
/// `vmx_calc_preemption_timer_value()` and `vmx_start_preemption_timer()`).
pub(crate) fn start(nv: &mut Nv, vmcs12_value: u32) {
    let now = l1_scaled_tsc(nv);
    let n = nv.nested();
    let saved = n
        .has_preemption_timer_deadline
        .then_some(n.preemption_timer_deadline);
    let deadline = pt::deadline(saved, vmcs12_value, now);
    n.preemption_timer_deadline = deadline;
    n.has_preemption_timer_deadline = true;
    let value = pt::remaining(deadline, now);
    let vmx = vmx_of(nv);
    if value == 0 {
        // An exit before any L2 instruction: expired now (SDM 25.5.1).
        // SAFETY: the vCPU and its timer are live and initialised (VMXON).
        unsafe { expired(timer_of(vmx)) };
        return;
    }
    let khz = nv.arch().virtual_tsc_khz;
    if let Some(ns) = pt::timeout_ns(value, khz) {
        // SAFETY: the timer was initialised at VMXON; it is not armed (each
        // nested VM exit cancels it).
        unsafe { bindings::rnvmx_preemption_timer_start(timer_of(vmx), ns) };
    }
}

/// At a nested VM exit with the timer active: disarms it, waiting for a
/// callback running on another CPU.
pub(crate) fn cancel(nv: &mut Nv) {
    let timer = timer_of(vmx_of(nv));
    // SAFETY: initialised at VMXON; called from the vCPU thread, never from
    // the callback itself.
    unsafe { bindings::hrtimer_cancel(timer) };
}

/// The value a nested VM exit saves in vmcs12 (KVM's
/// `vmx_get_preemption_timer_value()`). 0 once the timer expired: an entry
/// with value 0 (or without a TSC frequency) arms no hrtimer, whose expiry
/// is then an earlier entry's; nested.c would save what is left of that.
pub(crate) fn saved_value(nv: &mut Nv) -> u32 {
    let khz = nv.arch().virtual_tsc_khz;
    let vmx = vmx_of(nv);
    // SAFETY: the vCPU is ours; the flag may be written by `expired`.
    if unsafe { addr_of!((*vmx).nested.preemption_timer_expired).read_volatile() } {
        return 0;
    }
    // SAFETY: initialised at VMXON; hrtimer_get_remaining() takes the
    // timer base's lock itself.
    let ns = unsafe { bindings::rnvmx_hrtimer_remaining_ns(timer_of(vmx)) };
    pt::saved_value(ns, khz)
}
