// SPDX-License-Identifier: GPL-2.0

//! Events while L2 runs: which become exits to L1 (KVM's
//! vmx_check_nested_events(), vmx_has_nested_events(),
//! nested_vmx_is_exception_vmexit()).

use kernel::ffi;

use crate::bindings;
use crate::exit::{self, DR6_BT};
use crate::hw;
use crate::nested::exit_reason::basic as r;
use crate::nested::pending::{self, Action, LowPriorityDb};
use crate::nested::reflect;
use crate::nvcpu::Nv;
use crate::posted_intr;
use crate::timer;
use crate::vmcs::controls::{ExitControls, PinBased, Vmcs12Controls};
use crate::vmcs::intr_info;
use crate::vmcs::table::encodings as e;
use crate::vmcs::x86::vector;

const KVM_APIC_INIT: ffi::c_int = 0;
const KVM_APIC_SIPI: ffi::c_int = 1;
const DR6_BD: u64 = 1 << 13;
const EBUSY: ffi::c_int = 16;

/// KVM's `vmx_get_pending_dbg_trap()`.
fn pending_dbg_trap(ex: &bindings::kvm_queued_exception) -> u64 {
    if !ex.pending || u32::from(ex.vector) != vector::DB {
        return 0;
    }
    ex.payload as u64 & !DR6_BD
}

/// KVM's `vmx_is_low_priority_db_trap()`.
fn low_priority_db_trap(ex: &bindings::kvm_queued_exception) -> bool {
    pending_dbg_trap(ex) & !DR6_BT != 0
}

/// KVM's `nested_vmx_update_pending_dbg()`.
fn update_pending_dbg(nv: &mut Nv) {
    let pending = pending_dbg_trap(&nv.arch().exception);
    if pending != 0 {
        hw::write(e::GUEST_PENDING_DBG_EXCEPTIONS, pending);
    }
}

fn exit_on(nv: &mut Nv, bit: PinBased) -> bool {
    nv.vmcs12()
        .is_some_and(|v| Vmcs12Controls::of(v).pin.contains(bit))
}

/// The vCPU's pending events as the core's `pending::check()` reads them.
struct Events<'a>(&'a mut Nv);

impl pending::EventState for Events<'_> {
    fn nested_run_pending(&mut self) -> bool {
        self.0.nested().nested_run_pending
    }
    fn needs_reinjection(&mut self) -> bool {
        // SAFETY: the vCPU is ours (Nv invariant), as for every call below.
        unsafe { bindings::rnvmx_event_needs_reinjection(self.0.raw()) }
    }
    fn init_pending(&mut self) -> bool {
        // SAFETY: as above.
        unsafe { bindings::rnvmx_apic_event_pending(self.0.raw(), KVM_APIC_INIT) }
    }
    fn sipi_pending(&mut self) -> bool {
        // SAFETY: as above.
        unsafe { bindings::rnvmx_apic_event_pending(self.0.raw(), KVM_APIC_SIPI) }
    }
    fn clear_sipi(&mut self) {
        // SAFETY: as above.
        unsafe { bindings::rnvmx_apic_event_clear(self.0.raw(), KVM_APIC_SIPI) };
    }
    fn waits_for_sipi(&mut self) -> bool {
        self.0.arch().mp_state == bindings::KVM_MP_STATE_INIT_RECEIVED as i32
    }
    fn exception_vmexit(&mut self) -> Option<LowPriorityDb> {
        let ex = self.0.arch().exception_vmexit;
        ex.pending.then(|| LowPriorityDb(low_priority_db_trap(&ex)))
    }
    fn exception(&mut self) -> Option<LowPriorityDb> {
        let ex = self.0.arch().exception;
        ex.pending.then(|| LowPriorityDb(low_priority_db_trap(&ex)))
    }
    fn mtf_pending(&mut self) -> bool {
        self.0.nested().mtf_pending
    }
    fn preemption_timer_pending(&mut self) -> bool {
        timer::pending(self.0)
    }
    fn smi_pending(&mut self) -> bool {
        // SAFETY: as above.
        self.0.arch().smi_pending && !unsafe { bindings::rnvmx_is_smm(self.0.raw()) }
    }
    fn nmi_pending(&mut self) -> bool {
        // SAFETY: as above.
        self.0.arch().nmi_pending != 0 && !unsafe { bindings::vmx_nmi_blocked(self.0.raw()) }
    }
    fn exit_on_nmi(&mut self) -> bool {
        exit_on(self.0, PinBased::NMI_EXITING)
    }
    fn interrupt_pending(&mut self) -> bool {
        let vcpu = self.0.raw();
        // SAFETY: as above.
        unsafe {
            bindings::kvm_cpu_has_interrupt(vcpu) != 0 && !bindings::vmx_interrupt_blocked(vcpu)
        }
    }
    fn exit_on_interrupt(&mut self) -> bool {
        exit_on(self.0, PinBased::EXT_INTR_MASK)
    }
    fn ack_on_exit(&mut self) -> bool {
        self.0.vmcs12().is_some_and(|v| {
            ExitControls(v.vm_exit_controls).contains(ExitControls::ACK_INTR_ON_EXIT)
        })
    }
    fn take_extint(&mut self) -> Option<u8> {
        // SAFETY: as above; acknowledges the PIC's interrupt, as KVM.
        let v = unsafe { bindings::kvm_cpu_get_extint(self.0.raw()) };
        u8::try_from(v).ok()
    }
    fn apic_interrupt(&mut self) -> Option<u8> {
        // SAFETY: as above; no side effect.
        let v = unsafe { bindings::kvm_apic_has_interrupt(self.0.raw()) };
        u8::try_from(v).ok()
    }
    fn posted_intr_nv(&mut self) -> Option<u8> {
        u8::try_from(self.0.nested().posted_intr_nv).ok()
    }
}

/// KVM's `vmx_check_nested_events()`: 0, or -EBUSY while an entry or a
/// re-injection must complete first. The core decides (`pending::check`);
/// this applies it.
pub(crate) fn check_events(nv: &mut Nv) -> ffi::c_int {
    let vcpu = nv.raw();
    let ext = |v: u8| intr_info::VALID | intr_info::TYPE_EXT_INTR | u32::from(v);
    match pending::check(&mut Events(nv)) {
        Action::Busy => -EBUSY,
        Action::Init { exit } => {
            update_pending_dbg(nv);
            // SAFETY: the vCPU is ours (Nv invariant), as for every call below.
            unsafe { bindings::rnvmx_apic_event_clear(vcpu, KVM_APIC_INIT) };
            if exit {
                exit::nested_vmx_vmexit(nv, Some(u32::from(r::INIT_SIGNAL)), 0, 0);
            }
            nv.nested().mtf_pending = false;
            0
        }
        Action::Sipi => {
            // SAFETY: as above.
            let sipi = unsafe { bindings::rnvmx_apic_sipi_vector(vcpu) };
            exit::nested_vmx_vmexit(nv, Some(u32::from(r::SIPI_SIGNAL)), 0, u64::from(sipi));
            0
        }
        Action::ExceptionVmexit => {
            exit::inject_exception_vmexit(nv);
            0
        }
        Action::Mtf => {
            update_pending_dbg(nv);
            exit::nested_vmx_vmexit(nv, Some(u32::from(r::MONITOR_TRAP_FLAG)), 0, 0);
            0
        }
        Action::PreemptionTimer => {
            exit::nested_vmx_vmexit(nv, Some(u32::from(r::PREEMPTION_TIMER)), 0, 0);
            0
        }
        Action::Nmi => {
            let info = vector::NMI | intr_info::TYPE_NMI | intr_info::VALID;
            exit::nested_vmx_vmexit(nv, Some(u32::from(r::EXCEPTION_NMI)), info, 0);
            nv.arch().nmi_pending = 0;
            // SAFETY: as above.
            unsafe { bindings::vmx_set_nmi_mask(vcpu, true) };
            0
        }
        Action::InterruptNoAck => {
            exit::nested_vmx_vmexit(nv, Some(u32::from(r::EXTERNAL_INTERRUPT)), 0, 0);
            0
        }
        Action::ExtInt(v) => {
            exit::nested_vmx_vmexit(nv, Some(u32::from(r::EXTERNAL_INTERRUPT)), ext(v), 0);
            0
        }
        Action::ApicInterrupt(v) => {
            exit::nested_vmx_vmexit(nv, Some(u32::from(r::EXTERNAL_INTERRUPT)), ext(v), 0);
            // ACKed after the exit, so that vmcs01's SVI marks it in service
            // with APICv (nested.c).
            // SAFETY: as above; `v` is the APIC's highest pending vector.
            unsafe { bindings::kvm_apic_ack_interrupt(vcpu, ffi::c_int::from(v)) };
            0
        }
        Action::PostedNotification(v) => {
            posted_intr::take_notification(nv, ffi::c_int::from(v));
            no_vmexit(nv)
        }
        Action::NoExit => no_vmexit(nv),
    }
}

/// The end of `vmx_check_nested_events()` when no event became an exit:
/// the posted interrupts a notification brought are delivered to L2.
fn no_vmexit(nv: &mut Nv) -> ffi::c_int {
    posted_intr::complete(nv)
}

/// KVM's `vmx_has_nested_events()`: an expired VMX-preemption timer, a
/// pending MTF exit, or (not for injection: virtual-interrupt delivery
/// needs none) a virtual interrupt L2 would recognize.
pub(crate) fn has_events(nv: &mut Nv, for_injection: bool) -> bool {
    if timer::pending(nv) || nv.nested().mtf_pending {
        return true;
    }
    !for_injection && posted_intr::has_virtual_interrupt(nv)
}

/// KVM's `nested_vmx_is_exception_vmexit()`.
pub(crate) fn is_exception_vmexit(nv: &mut Nv, vector: u8, error_code: u32) -> bool {
    nv.vmcs12()
        .is_some_and(|v| reflect::is_exception_vmexit(v, vector, error_code))
}
