// SPDX-License-Identifier: GPL-2.0

//! Events while L2 runs: which become exits to L1 (KVM's
//! vmx_check_nested_events(), vmx_has_nested_events(),
//! nested_vmx_is_exception_vmexit()).

use kernel::ffi;

use crate::bindings;
use crate::nested::check_events::{low_priority_db, EventVcpu, Queued};
use crate::nested::pending::{self, LowPriorityDb};
use crate::nested::reflect;
use crate::nvcpu::vf;
use crate::nvcpu::Nv;
use crate::posted_intr;
use crate::timer;
use crate::vmcs::controls::{ExitControls, PinBased};

const KVM_APIC_INIT: ffi::c_int = 0;
const KVM_APIC_SIPI: ffi::c_int = 1;

fn queued(ex: &bindings::kvm_queued_exception) -> Queued {
    Queued {
        pending: ex.pending,
        vector: ex.vector,
        payload: ex.payload as u64,
    }
}

// The vCPU's pending events as the core's `pending::check()` reads them.
impl pending::EventState for Nv {
    fn nested_run_pending(&mut self) -> bool {
        vf!(self, nested.nested_run_pending)
    }
    fn needs_reinjection(&mut self) -> bool {
        // SAFETY: the vCPU is ours (Nv invariant), as for every call below.
        unsafe { bindings::rnvmx_event_needs_reinjection(self.raw()) }
    }
    fn init_pending(&mut self) -> bool {
        // SAFETY: the vCPU is ours and loaded (Nv invariant).
        unsafe { bindings::rnvmx_apic_event_pending(self.raw(), KVM_APIC_INIT) }
    }
    fn sipi_pending(&mut self) -> bool {
        // SAFETY: the vCPU is ours and loaded (Nv invariant).
        unsafe { bindings::rnvmx_apic_event_pending(self.raw(), KVM_APIC_SIPI) }
    }
    fn clear_sipi(&mut self) {
        // SAFETY: the vCPU is ours and loaded (Nv invariant).
        unsafe { bindings::rnvmx_apic_event_clear(self.raw(), KVM_APIC_SIPI) };
    }
    fn waits_for_sipi(&mut self) -> bool {
        vf!(self, vcpu.arch.mp_state) == bindings::KVM_MP_STATE_INIT_RECEIVED as i32
    }
    fn exception_vmexit(&mut self) -> Option<LowPriorityDb> {
        low_priority_db(&queued(&vf!(self, vcpu.arch.exception_vmexit)))
    }
    fn exception(&mut self) -> Option<LowPriorityDb> {
        low_priority_db(&queued(&vf!(self, vcpu.arch.exception)))
    }
    fn mtf_pending(&mut self) -> bool {
        vf!(self, nested.mtf_pending)
    }
    fn preemption_timer_expired(&mut self) -> bool {
        timer::expired_flag(self)
    }
    fn smi_pending(&mut self) -> bool {
        // SAFETY: the vCPU is ours and loaded (Nv invariant).
        vf!(self, vcpu.arch.smi_pending) && !unsafe { bindings::rnvmx_is_smm(self.raw()) }
    }
    fn nmi_pending(&mut self) -> bool {
        // SAFETY: the vCPU is ours and loaded (Nv invariant).
        vf!(self, vcpu.arch.nmi_pending) != 0 && !unsafe { bindings::vmx_nmi_blocked(self.raw()) }
    }
    fn event_controls(&mut self) -> Option<(PinBased, ExitControls)> {
        self.vmcs12().map(|v| {
            (
                PinBased(v.pin_based_vm_exec_control),
                ExitControls(v.vm_exit_controls),
            )
        })
    }
    fn interrupt_pending(&mut self) -> bool {
        let vcpu = self.raw();
        // SAFETY: the vCPU is ours and loaded (Nv invariant).
        unsafe {
            bindings::kvm_cpu_has_interrupt(vcpu) != 0 && !bindings::vmx_interrupt_blocked(vcpu)
        }
    }
    fn take_extint(&mut self) -> Option<u8> {
        // SAFETY: the vCPU is ours and loaded (Nv invariant); acknowledges the PIC's interrupt, as
        // KVM.
        let v = unsafe { bindings::kvm_cpu_get_extint(self.raw()) };
        u8::try_from(v).ok()
    }
    fn apic_interrupt(&mut self) -> Option<u8> {
        // SAFETY: the vCPU is ours and loaded (Nv invariant); no side effect.
        let v = unsafe { bindings::kvm_apic_has_interrupt(self.raw()) };
        u8::try_from(v).ok()
    }
    fn posted_intr_nv(&mut self) -> Option<u8> {
        u8::try_from(vf!(self, nested.posted_intr_nv)).ok()
    }
    fn virtual_interrupt_pending(&mut self) -> bool {
        posted_intr::has_virtual_interrupt(self)
    }
}

impl EventVcpu for Nv {
    fn queued_exception(&mut self) -> Queued {
        queued(&vf!(self, vcpu.arch.exception))
    }
    fn clear_init(&mut self) {
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::rnvmx_apic_event_clear(self.raw(), KVM_APIC_INIT) };
    }
    fn sipi_vector(&mut self) -> u8 {
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::rnvmx_apic_sipi_vector(self.raw()) }
    }
    fn consume_nmi(&mut self) {
        vf!(self, vcpu.arch.nmi_pending) = 0;
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::vmx_set_nmi_mask(self.raw(), true) };
    }
    fn ack_apic_interrupt(&mut self, v: u8) {
        // SAFETY: the vCPU is ours; `v` is the APIC's highest pending vector.
        unsafe { bindings::kvm_apic_ack_interrupt(self.raw(), ffi::c_int::from(v)) };
    }
    fn take_notification(&mut self, v: u8) {
        posted_intr::take_notification(self, ffi::c_int::from(v));
    }
    fn complete_posted_interrupts(&mut self) -> i32 {
        posted_intr::complete(self)
    }
}

/// KVM's `nested_vmx_is_exception_vmexit()`.
pub(crate) fn is_exception_vmexit(nv: &mut Nv, vector: u8, error_code: u32) -> bool {
    nv.vmcs12()
        .is_some_and(|v| reflect::is_exception_vmexit(v, vector, error_code))
}
