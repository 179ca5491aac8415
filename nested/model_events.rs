// SPDX-License-Identifier: GPL-2.0

//! The model vCPU (model.rs) for exit reflection and pending events
//! (model only).

#![allow(missing_docs)]

use crate::nested::check_events::{EventVcpu, Queued};
use crate::nested::model::Model;
use crate::nested::pending::{EventState, LowPriorityDb};
use crate::nested::reflect::{Exit, L0ExceptionState};
use crate::nested::reflect_exit::ReflectVcpu;
use crate::vmcs::controls::{ExitControls, PinBased};

/// The settings and log of reflection and events.
#[derive(Default)]
pub struct EventModel {
    pub exit_reason: u32,
    pub l1_wants: bool,
    pub asked: Option<Exit>,
    /// Reads of the exit's interruption information (`exit_intr_info`).
    pub intr_info_reads: u32,
    pub exits_counted: std::vec::Vec<u16>,
    pub hw_vmfail_error: Option<u32>,
    pub run_pending: bool,
    pub nmi: bool,
    pub exit_on_nmi: bool,
    pub apic_vector: Option<u8>,
    pub exit_on_interrupt: bool,
    pub ack_on_exit: bool,
    pub acked: Option<u8>,
    pub nmi_consumed: bool,
    pub posted_completed: bool,
}

impl L0ExceptionState for Model {
    fn guest_debug(&self) -> u32 {
        self.guest_debug
    }
    fn l0_handles_page_faults(&mut self) -> bool {
        false
    }
    fn guest_takes_ac(&mut self) -> bool {
        true
    }
}

impl ReflectVcpu for Model {
    fn guest_has_sgx(&mut self) -> bool {
        false
    }
    fn l1_wants_exit(&mut self, exit: &Exit) -> bool {
        self.ev.asked = Some(*exit);
        self.ev.l1_wants
    }
    fn trace_vmexit(&mut self) {}
    fn trace_hw_vmfail(&mut self, error: u32) {
        self.ev.hw_vmfail_error = Some(error);
    }
    fn count_exit(&mut self, reason: u16) {
        self.ev.exits_counted.push(reason);
    }
    fn exit_intr_info(&mut self) -> u32 {
        self.ev.intr_info_reads += 1;
        crate::nested::vcpu::KvmVcpu::vmread(self, crate::vmcs::table::encodings::VM_EXIT_INTR_INFO)
            as u32
    }
}

impl EventState for Model {
    fn nested_run_pending(&mut self) -> bool {
        self.ev.run_pending
    }
    fn needs_reinjection(&mut self) -> bool {
        false
    }
    fn init_pending(&mut self) -> bool {
        false
    }
    fn sipi_pending(&mut self) -> bool {
        false
    }
    fn clear_sipi(&mut self) {}
    fn waits_for_sipi(&mut self) -> bool {
        false
    }
    fn exception_vmexit(&mut self) -> Option<LowPriorityDb> {
        None
    }
    fn exception(&mut self) -> Option<LowPriorityDb> {
        None
    }
    fn mtf_pending(&mut self) -> bool {
        self.mtf_pending
    }
    fn preemption_timer_expired(&mut self) -> bool {
        false
    }
    fn smi_pending(&mut self) -> bool {
        false
    }
    fn nmi_pending(&mut self) -> bool {
        self.ev.nmi
    }
    fn event_controls(&mut self) -> Option<(PinBased, ExitControls)> {
        let mut pin = PinBased::EMPTY;
        if self.ev.exit_on_nmi {
            pin = pin | PinBased::NMI_EXITING;
        }
        if self.ev.exit_on_interrupt {
            pin = pin | PinBased::EXT_INTR_MASK;
        }
        let exit = if self.ev.ack_on_exit {
            ExitControls::ACK_INTR_ON_EXIT
        } else {
            ExitControls::EMPTY
        };
        Some((pin, exit))
    }
    fn interrupt_pending(&mut self) -> bool {
        self.ev.apic_vector.is_some()
    }
    fn take_extint(&mut self) -> Option<u8> {
        None
    }
    fn apic_interrupt(&mut self) -> Option<u8> {
        self.ev.apic_vector
    }
    fn posted_intr_nv(&mut self) -> Option<u8> {
        None
    }
    fn virtual_interrupt_pending(&mut self) -> bool {
        false
    }
}

impl EventVcpu for Model {
    fn queued_exception(&mut self) -> Queued {
        Queued::default()
    }
    fn clear_init(&mut self) {}
    fn sipi_vector(&mut self) -> u8 {
        0
    }
    fn consume_nmi(&mut self) {
        self.ev.nmi = false;
        self.ev.nmi_consumed = true;
    }
    fn ack_apic_interrupt(&mut self, v: u8) {
        // Acked after the exit: vmcs12 already has it.
        assert_ne!({ self.vmcs12.unwrap_or_default().vm_exit_reason }, 0);
        self.ev.acked = Some(v);
    }
    fn take_notification(&mut self, _v: u8) {}
    fn complete_posted_interrupts(&mut self) -> i32 {
        self.ev.posted_completed = true;
        0
    }
}
