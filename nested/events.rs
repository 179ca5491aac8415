// SPDX-License-Identifier: GPL-2.0

//! The event L0 was delivering to L2 when L2 exited, recorded in vmcs12's
//! IDT-vectoring fields (SDM Vol. 3C 28.2.4 "Information for VM Exits
//! During Event Delivery"): KVM's `vmcs12_save_pending_event()`.

use super::exit_reason::basic as reason;
use crate::vmcs::intr_info::{
    DELIVER_CODE, TYPE_EXT_INTR, TYPE_HARD_EXCEPTION, TYPE_MASK, TYPE_NMI, TYPE_SOFT_EXCEPTION,
    TYPE_SOFT_INTR, VALID, VECTOR_MASK,
};
use crate::vmcs::x86::vector;

const DF_VECTOR: u32 = 8;
const BP_VECTOR: u8 = 3;
const OF_VECTOR: u8 = 4;

/// An exception KVM had injected into L2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exception {
    /// Vector.
    pub vector: u8,
    /// Error code, if the exception has one.
    pub error_code: Option<u32>,
}

/// An interrupt KVM had injected into L2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interrupt {
    /// Vector.
    pub vector: u8,
    /// A software interrupt (INT n).
    pub soft: bool,
}

/// The vCPU's injected-event state (`vcpu->arch.exception/nmi_injected/
/// interrupt`), in KVM's priority order.
#[derive(Clone, Copy, Debug, Default)]
pub struct Injected {
    /// `arch.exception.injected`.
    pub exception: Option<Exception>,
    /// `arch.nmi_injected`.
    pub nmi: bool,
    /// `arch.interrupt.injected`.
    pub interrupt: Option<Interrupt>,
    /// `arch.event_exit_inst_len`: length of the instruction that raised a
    /// software event.
    pub event_exit_inst_len: u32,
}

/// What goes into vmcs12.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SavedEvent {
    /// IDT-vectoring information.
    pub idt_vectoring_info: u32,
    /// IDT-vectoring error code, when there is one.
    pub idt_vectoring_error_code: Option<u32>,
    /// VM-exit instruction length, for a software exception.
    pub vm_exit_instruction_len: Option<u32>,
    /// VM-entry instruction length, for a software interrupt. KVM writes
    /// this field rather than the VM-exit instruction length the SDM names
    /// (28.2.4); kept for identical vmcs12 contents across backends.
    pub vm_entry_instruction_len: Option<u32>,
}

/// KVM's `is_double_fault()` on VM-exit interruption information.
fn is_double_fault(intr_info: u32) -> bool {
    intr_info & (TYPE_MASK | VECTOR_MASK | VALID) == TYPE_HARD_EXCEPTION | DF_VECTOR | VALID
}

/// KVM's `vmcs12_save_pending_event()`.
pub fn save_pending_event(exit_reason: u16, exit_intr_info: u32, ev: &Injected) -> SavedEvent {
    // Exits due to double and triple faults never occur during event
    // delivery, per the SDM, even when they result from one.
    if exit_reason == reason::TRIPLE_FAULT
        || (exit_reason == reason::EXCEPTION_NMI && is_double_fault(exit_intr_info))
    {
        return SavedEvent::default();
    }
    if let Some(e) = ev.exception {
        let soft = e.vector == BP_VECTOR || e.vector == OF_VECTOR;
        let ty = if soft {
            TYPE_SOFT_EXCEPTION
        } else {
            TYPE_HARD_EXCEPTION
        };
        let code = if e.error_code.is_some() {
            DELIVER_CODE
        } else {
            0
        };
        return SavedEvent {
            idt_vectoring_info: u32::from(e.vector) | VALID | ty | code,
            idt_vectoring_error_code: e.error_code,
            vm_exit_instruction_len: soft.then_some(ev.event_exit_inst_len),
            vm_entry_instruction_len: None,
        };
    }
    if ev.nmi {
        return SavedEvent {
            idt_vectoring_info: TYPE_NMI | VALID | vector::NMI,
            ..SavedEvent::default()
        };
    }
    if let Some(i) = ev.interrupt {
        let ty = if i.soft {
            TYPE_SOFT_INTR
        } else {
            TYPE_EXT_INTR
        };
        return SavedEvent {
            idt_vectoring_info: u32::from(i.vector) | VALID | ty,
            vm_entry_instruction_len: i.soft.then_some(ev.event_exit_inst_len),
            ..SavedEvent::default()
        };
    }
    SavedEvent::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn injected_gp() -> Injected {
        Injected {
            exception: Some(Exception {
                vector: 13,
                error_code: Some(0x10),
            }),
            nmi: true,
            interrupt: Some(Interrupt {
                vector: 0x20,
                soft: false,
            }),
            event_exit_inst_len: 2,
        }
    }

    #[test]
    fn exception_first_with_error_code() {
        let s = save_pending_event(reason::EPT_VIOLATION, 0, &injected_gp());
        assert_eq!(
            s.idt_vectoring_info,
            VALID | TYPE_HARD_EXCEPTION | DELIVER_CODE | 13
        );
        assert_eq!(s.idt_vectoring_error_code, Some(0x10));
        assert_eq!(
            (s.vm_exit_instruction_len, s.vm_entry_instruction_len),
            (None, None)
        );
    }

    #[test]
    fn software_exceptions_record_the_instruction_length() {
        let ev = Injected {
            exception: Some(Exception {
                vector: 3,
                error_code: None,
            }),
            event_exit_inst_len: 1,
            ..Injected::default()
        };
        let s = save_pending_event(reason::EPT_VIOLATION, 0, &ev);
        assert_eq!(s.idt_vectoring_info, VALID | TYPE_SOFT_EXCEPTION | 3);
        assert_eq!(s.vm_exit_instruction_len, Some(1));
    }

    #[test]
    fn nmi_then_interrupts() {
        let ev = Injected {
            exception: None,
            ..injected_gp()
        };
        assert_eq!(
            save_pending_event(reason::EPT_VIOLATION, 0, &ev).idt_vectoring_info,
            VALID | TYPE_NMI | 2
        );
        let ev = Injected { nmi: false, ..ev };
        assert_eq!(
            save_pending_event(reason::EPT_VIOLATION, 0, &ev).idt_vectoring_info,
            VALID | TYPE_EXT_INTR | 0x20
        );
        let ev = Injected {
            interrupt: Some(Interrupt {
                vector: 0x80,
                soft: true,
            }),
            ..ev
        };
        let s = save_pending_event(reason::EPT_VIOLATION, 0, &ev);
        assert_eq!(s.idt_vectoring_info, VALID | TYPE_SOFT_INTR | 0x80);
        assert_eq!(s.vm_entry_instruction_len, Some(2), "KVM's choice of field");
        assert_eq!(
            save_pending_event(reason::EPT_VIOLATION, 0, &Injected::default()),
            SavedEvent::default()
        );
    }

    #[test]
    fn double_and_triple_faults_are_not_during_delivery() {
        assert_eq!(
            save_pending_event(reason::TRIPLE_FAULT, 0, &injected_gp()),
            SavedEvent::default()
        );
        let df = VALID | TYPE_HARD_EXCEPTION | 8;
        assert_eq!(
            save_pending_event(reason::EXCEPTION_NMI, df, &injected_gp()),
            SavedEvent::default()
        );
        let pf = VALID | TYPE_HARD_EXCEPTION | 14;
        assert_ne!(
            save_pending_event(reason::EXCEPTION_NMI, pf, &injected_gp()),
            SavedEvent::default()
        );
    }
}
