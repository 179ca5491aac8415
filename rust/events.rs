// SPDX-License-Identifier: GPL-2.0

//! Events while L2 runs: which become exits to L1 (KVM's
//! vmx_check_nested_events(), vmx_has_nested_events(),
//! nested_vmx_is_exception_vmexit()).

use kernel::ffi;

use crate::bindings;
use crate::exit::{self, DR6_BT};
use crate::hw;
use crate::nested::exit_reason::basic as r;
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

/// KVM's `vmx_check_nested_events()`: 0, or -EBUSY while an entry or a
/// re-injection must complete first.
pub(crate) fn check_events(nv: &mut Nv) -> ffi::c_int {
    let vcpu = nv.raw();
    let block_exceptions = nv.nested().nested_run_pending;
    // SAFETY: the vCPU is ours (Nv invariant), as for every call below.
    let block_events = block_exceptions || unsafe { bindings::rnvmx_event_needs_reinjection(vcpu) };
    // SAFETY: as above.
    if unsafe { bindings::rnvmx_apic_event_pending(vcpu, KVM_APIC_INIT) } {
        if block_events {
            return -EBUSY;
        }
        update_pending_dbg(nv);
        // SAFETY: as above.
        unsafe { bindings::rnvmx_apic_event_clear(vcpu, KVM_APIC_INIT) };
        if nv.arch().mp_state != bindings::KVM_MP_STATE_INIT_RECEIVED as i32 {
            exit::nested_vmx_vmexit(nv, Some(u32::from(r::INIT_SIGNAL)), 0, 0);
        }
        nv.nested().mtf_pending = false;
        return 0;
    }
    // SAFETY: as above.
    if unsafe { bindings::rnvmx_apic_event_pending(vcpu, KVM_APIC_SIPI) } {
        if block_events {
            return -EBUSY;
        }
        // SAFETY: as above.
        unsafe { bindings::rnvmx_apic_event_clear(vcpu, KVM_APIC_SIPI) };
        if nv.arch().mp_state == bindings::KVM_MP_STATE_INIT_RECEIVED as i32 {
            // SAFETY: as above.
            let sipi = unsafe { bindings::rnvmx_apic_sipi_vector(vcpu) };
            exit::nested_vmx_vmexit(nv, Some(u32::from(r::SIPI_SIGNAL)), 0, u64::from(sipi));
            return 0;
        }
    }
    let a = nv.arch();
    let (ex_vmexit, ex) = (a.exception_vmexit, a.exception);
    if ex_vmexit.pending && !low_priority_db_trap(&ex_vmexit) {
        if block_exceptions {
            return -EBUSY;
        }
        exit::inject_exception_vmexit(nv);
        return 0;
    }
    if ex.pending && !low_priority_db_trap(&ex) {
        return if block_exceptions {
            -EBUSY
        } else {
            no_vmexit(nv)
        };
    }
    if nv.nested().mtf_pending {
        if block_events {
            return -EBUSY;
        }
        update_pending_dbg(nv);
        exit::nested_vmx_vmexit(nv, Some(u32::from(r::MONITOR_TRAP_FLAG)), 0, 0);
        return 0;
    }
    if ex_vmexit.pending {
        if block_exceptions {
            return -EBUSY;
        }
        exit::inject_exception_vmexit(nv);
        return 0;
    }
    if ex.pending {
        return if block_exceptions {
            -EBUSY
        } else {
            no_vmexit(nv)
        };
    }
    if timer::pending(nv) {
        if block_events {
            return -EBUSY;
        }
        exit::nested_vmx_vmexit(nv, Some(u32::from(r::PREEMPTION_TIMER)), 0, 0);
        return 0;
    }
    // SAFETY: as above.
    if nv.arch().smi_pending && !unsafe { bindings::rnvmx_is_smm(vcpu) } {
        return if block_events { -EBUSY } else { no_vmexit(nv) };
    }
    // SAFETY: as above.
    if nv.arch().nmi_pending != 0 && !unsafe { bindings::vmx_nmi_blocked(vcpu) } {
        if block_events {
            return -EBUSY;
        }
        if !exit_on(nv, PinBased::NMI_EXITING) {
            return no_vmexit(nv);
        }
        let info = vector::NMI | intr_info::TYPE_NMI | intr_info::VALID;
        exit::nested_vmx_vmexit(nv, Some(u32::from(r::EXCEPTION_NMI)), info, 0);
        nv.arch().nmi_pending = 0;
        // SAFETY: as above.
        unsafe { bindings::vmx_set_nmi_mask(vcpu, true) };
        return 0;
    }
    // SAFETY: as above.
    if unsafe {
        bindings::kvm_cpu_has_interrupt(vcpu) != 0 && !bindings::vmx_interrupt_blocked(vcpu)
    } {
        if block_events {
            return -EBUSY;
        }
        if !exit_on(nv, PinBased::EXT_INTR_MASK) {
            return no_vmexit(nv);
        }
        let ack = nv.vmcs12().is_some_and(|v| {
            ExitControls(v.vm_exit_controls).contains(ExitControls::ACK_INTR_ON_EXIT)
        });
        if !ack {
            exit::nested_vmx_vmexit(nv, Some(u32::from(r::EXTERNAL_INTERRUPT)), 0, 0);
            return 0;
        }
        // SAFETY: as above.
        let extint = unsafe { bindings::kvm_cpu_get_extint(vcpu) };
        if extint != -1 {
            let info = intr_info::VALID | intr_info::TYPE_EXT_INTR | (extint as u32 & 0xff);
            exit::nested_vmx_vmexit(nv, Some(u32::from(r::EXTERNAL_INTERRUPT)), info, 0);
            return 0;
        }
        // SAFETY: as above.
        let irq = unsafe { bindings::kvm_apic_has_interrupt(vcpu) };
        if irq < 0 {
            return no_vmexit(nv);
        }
        // L2's notification vector: posted-interrupt processing, not an
        // exit (only interrupts through the local APIC trigger it).
        if posted_intr::take_notification(nv, irq) {
            return no_vmexit(nv);
        }
        let info = intr_info::VALID | intr_info::TYPE_EXT_INTR | (irq as u32 & 0xff);
        exit::nested_vmx_vmexit(nv, Some(u32::from(r::EXTERNAL_INTERRUPT)), info, 0);
        // SAFETY: as above; `irq` is the APIC's highest pending vector.
        unsafe { bindings::kvm_apic_ack_interrupt(vcpu, irq) };
        return 0;
    }
    no_vmexit(nv)
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
