// SPDX-License-Identifier: GPL-2.0

//! L1's VMX-preemption timer for L2, emulated with the vCPU's hrtimer
//! (`vmx->nested.preemption_timer`) as nested.c does: armed at a nested VM
//! entry whose vmcs12 activates the timer, cancelled at the nested VM exit;
//! on expiry a pending exit with reason "VMX-preemption timer expired"
//! (`events::check_events`). The arithmetic and the start/save flow are the
//! core's (`crate::nested::preemption_timer`, on `TimerVcpu` below).
//!
//! The hrtimer callback runs in hard-irq context, concurrently with the vCPU
//! thread: this module reaches the timer and `preemption_timer_expired` only
//! through raw pointers, and no reference covers them (`vf!` refuses both
//! fields and the `nested_vmx` that holds them).

use core::ptr::{addr_of, addr_of_mut};

use crate::bindings;
use crate::nested::preemption_timer::TimerVcpu;
use crate::nvcpu::vf;
use crate::nvcpu::Nv;
use crate::vmcs::caps::misc::EMULATED_PREEMPTION_TIMER_RATE;

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
    // SAFETY: `vmx` is live (this function's contract), so is the vCPU
    // embedded in it. __kvm_make_request() is an atomic set_bit() on
    // `vcpu->requests` and kvm_vcpu_kick() takes no sleeping lock (it
    // wakes the vCPU or sends it an IPI): both may run in the hard-irq
    // context of an hrtimer callback, as KVM's own vmx_preemption_timer_fn()
    // and APIC timer do.
    unsafe {
        let vcpu = addr_of_mut!((*vmx).vcpu);
        bindings::rnvmx_make_request(bindings::rnvmx_request_RNVMX_REQ_EVENT, vcpu);
        bindings::kvm_vcpu_kick(vcpu);
    }
    bindings::hrtimer_restart_HRTIMER_NORESTART
}

/// At a nested VM exit with the timer active: disarms it, waiting for a
/// callback running on another CPU.
pub(crate) fn cancel(nv: &mut Nv) {
    let timer = timer_of(vmx_of(nv));
    // SAFETY: initialised at VMXON; called from the vCPU thread, never from
    // the callback itself.
    unsafe { bindings::hrtimer_cancel(timer) };
}

/// Clears `nested.preemption_timer_expired` at a nested VM entry, before
/// the timer is armed (each nested VM exit cancels it, so no callback runs).
pub(crate) fn clear_expired(nv: &mut Nv) {
    let vmx = vmx_of(nv);
    // SAFETY: the vCPU is ours; a field write without a reference, volatile
    // as the callback's own store.
    unsafe { addr_of_mut!((*vmx).nested.preemption_timer_expired).write_volatile(false) };
}

/// `nested.preemption_timer_expired`, which `expired` may write at any
/// time, hence the raw volatile read.
pub(crate) fn expired_flag(nv: &mut Nv) -> bool {
    let vmx = vmx_of(nv);
    // SAFETY: the vCPU is ours; a field read without a reference.
    unsafe { addr_of!((*vmx).nested.preemption_timer_expired).read_volatile() }
}

impl TimerVcpu for Nv {
    fn l1_scaled_tsc(&mut self) -> u64 {
        let vcpu = self.raw();
        // SAFETY: the vCPU is ours; both only read the TSC and its L1 offset.
        let tsc = unsafe { bindings::kvm_read_l1_tsc(vcpu, bindings::rnvmx_rdtsc()) };
        tsc >> EMULATED_PREEMPTION_TIMER_RATE
    }
    fn timer_deadline(&mut self) -> Option<u64> {
        vf!(self, nested.has_preemption_timer_deadline)
            .then_some(vf!(self, nested.preemption_timer_deadline))
    }
    fn set_timer_deadline(&mut self, deadline: u64) {
        vf!(self, nested.preemption_timer_deadline) = deadline;
        vf!(self, nested.has_preemption_timer_deadline) = true;
    }
    fn tsc_khz(&mut self) -> u32 {
        vf!(self, vcpu.arch.virtual_tsc_khz)
    }
    fn expire_timer_now(&mut self) {
        let timer = timer_of(vmx_of(self));
        // SAFETY: the vCPU and its timer are live and initialised (VMXON);
        // called by the vCPU thread at an entry, with the timer not armed
        // (each nested VM exit cancels it).
        unsafe { expired(timer) };
    }
    fn arm_timer(&mut self, ns: u64) {
        let timer = timer_of(vmx_of(self));
        // SAFETY: the timer was initialised at VMXON; it is not armed (each
        // nested VM exit cancels it).
        unsafe { bindings::rnvmx_preemption_timer_start(timer, ns) };
    }
    fn timer_expired(&mut self) -> bool {
        expired_flag(self)
    }
    fn timer_remaining_ns(&mut self) -> i64 {
        let timer = timer_of(vmx_of(self));
        // SAFETY: initialised at VMXON; hrtimer_get_remaining() takes the
        // timer base's lock itself.
        unsafe { bindings::rnvmx_hrtimer_remaining_ns(timer) }
    }
}
