// SPDX-License-Identifier: GPL-2.0

//! Which pending event of a vCPU in L2 is handled first, and how: KVM's
//! `vmx_check_nested_events()`, after the SDM's "Priority Among Concurrent
//! Events" with VMX non-root operation's own events spliced in (INIT, SIPI,
//! exceptions L1 intercepts, MTF, VMX-preemption timer, SMI, NMI, external
//! interrupts). The core asks the glue for each piece of state in KVM's
//! order, so that what has side effects (taking an ExtINT from the PIC) is
//! only asked for once everything before it has lost.

use crate::vmcs::controls::{ExitControls, PinBased};

/// What the decision reads of the vCPU.
pub trait EventState {
    /// A nested VM entry is pending (`nested_run_pending`): exceptions, and
    /// every event, wait for it.
    fn nested_run_pending(&mut self) -> bool;
    /// An event must be re-injected first (`kvm_event_needs_reinjection()`):
    /// events but exceptions wait.
    fn needs_reinjection(&mut self) -> bool;
    /// A pending INIT (`KVM_APIC_INIT` in the APIC's pending events).
    fn init_pending(&mut self) -> bool;
    /// A pending SIPI.
    fn sipi_pending(&mut self) -> bool;
    /// Clears the pending SIPI (taken, or dropped by a vCPU not waiting).
    fn clear_sipi(&mut self);
    /// The vCPU waits for a SIPI (`KVM_MP_STATE_INIT_RECEIVED`).
    fn waits_for_sipi(&mut self) -> bool;
    /// An exception L1 intercepts is pending (`exception_vmexit.pending`),
    /// and whether it is a low-priority #DB trap.
    fn exception_vmexit(&mut self) -> Option<LowPriorityDb>;
    /// An exception for L2 itself is pending (`exception.pending`).
    fn exception(&mut self) -> Option<LowPriorityDb>;
    /// A monitor-trap-flag exit is pending.
    fn mtf_pending(&mut self) -> bool;
    /// The hrtimer behind L1's VMX-preemption timer expired
    /// (`nested.preemption_timer_expired`).
    fn preemption_timer_expired(&mut self) -> bool;
    /// L1's VMX-preemption timer is on and expired
    /// (`nested_vmx_preemption_timer_pending()`).
    fn preemption_timer_pending(&mut self) -> bool {
        self.event_controls()
            .is_some_and(|(pin, _)| pin.contains(PinBased::VMX_PREEMPTION_TIMER))
            && self.preemption_timer_expired()
    }
    /// An SMI is pending outside SMM.
    fn smi_pending(&mut self) -> bool;
    /// An NMI is pending and not blocked (`vmx_nmi_blocked()`).
    fn nmi_pending(&mut self) -> bool;
    /// vmcs12's pin-based and VM-exit controls, with a vmcs12.
    fn event_controls(&mut self) -> Option<(PinBased, ExitControls)>;
    /// vmcs12 exits on NMIs.
    fn exit_on_nmi(&mut self) -> bool {
        self.event_controls()
            .is_some_and(|(pin, _)| pin.contains(PinBased::NMI_EXITING))
    }
    /// An interrupt is pending and not blocked (`kvm_cpu_has_interrupt()`,
    /// `vmx_interrupt_blocked()`).
    fn interrupt_pending(&mut self) -> bool;
    /// vmcs12 exits on external interrupts.
    fn exit_on_interrupt(&mut self) -> bool {
        self.event_controls()
            .is_some_and(|(pin, _)| pin.contains(PinBased::EXT_INTR_MASK))
    }
    /// vmcs12 acknowledges interrupts on exit.
    fn ack_on_exit(&mut self) -> bool {
        self.event_controls()
            .is_some_and(|(_, exit)| exit.contains(ExitControls::ACK_INTR_ON_EXIT))
    }
    /// Takes the PIC's ExtINT, if there is one (`kvm_cpu_get_extint()`:
    /// acknowledges it).
    fn take_extint(&mut self) -> Option<u8>;
    /// The APIC's highest pending interrupt (`kvm_apic_has_interrupt()`).
    fn apic_interrupt(&mut self) -> Option<u8>;
    /// L2's posted-interrupt notification vector (`posted_intr_nv`), if
    /// vmcs12 processes posted interrupts.
    fn posted_intr_nv(&mut self) -> Option<u8>;
    /// A virtual interrupt L2 would recognize (virtual-interrupt delivery,
    /// the part of `vmx_has_nested_events()` that no injection needs).
    fn virtual_interrupt_pending(&mut self) -> bool;
}

/// KVM's `vmx_has_nested_events()`: an expired VMX-preemption timer, a
/// pending MTF exit, or (not for injection: virtual-interrupt delivery
/// needs none) a virtual interrupt L2 would recognize.
pub fn has_events(k: &mut impl EventState, for_injection: bool) -> bool {
    if k.preemption_timer_pending() || k.mtf_pending() {
        return true;
    }
    !for_injection && k.virtual_interrupt_pending()
}

/// Whether a pending #DB is a low-priority trap (KVM's
/// `vmx_is_low_priority_db_trap()`), which MTF outranks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LowPriorityDb(pub bool);

/// What `vmx_check_nested_events()` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// -EBUSY: the pending entry or re-injection completes first.
    Busy,
    /// INIT: an INIT_SIGNAL exit to L1 unless the vCPU waits for a SIPI,
    /// then MTF is dropped. `exit` says whether there is an exit.
    Init {
        /// Exit to L1 (the vCPU does not wait for a SIPI).
        exit: bool,
    },
    /// SIPI to a vCPU waiting for one: a SIPI_SIGNAL exit.
    Sipi,
    /// Inject the exception L1 intercepts as an exit.
    ExceptionVmexit,
    /// An MTF exit.
    Mtf,
    /// A VMX-preemption timer exit.
    PreemptionTimer,
    /// An NMI exit (the NMI is consumed, NMIs are then blocked).
    Nmi,
    /// An external-interrupt exit without acknowledging the interrupt.
    InterruptNoAck,
    /// An external-interrupt exit with the ExtINT's vector.
    ExtInt(u8),
    /// An external-interrupt exit with the APIC's vector, then acked.
    ApicInterrupt(u8),
    /// L2's notification vector: taken off L1's IRR, posted interrupts
    /// processed for L2 (then as `NoExit`).
    PostedNotification(u8),
    /// No exit: pending posted interrupts are processed for L2.
    NoExit,
}

/// KVM's `vmx_check_nested_events()`.
pub fn check(s: &mut impl EventState) -> Action {
    let block_exceptions = s.nested_run_pending();
    let block_events = block_exceptions || s.needs_reinjection();
    let busy_or = |block: bool, a: Action| if block { Action::Busy } else { a };
    if s.init_pending() {
        let exit = !s.waits_for_sipi();
        return busy_or(block_events, Action::Init { exit });
    }
    if s.sipi_pending() {
        if block_events {
            return Action::Busy;
        }
        s.clear_sipi();
        if s.waits_for_sipi() {
            return Action::Sipi;
        }
        // A SIPI to a vCPU not waiting for one is dropped; go on.
    }
    let ex_vmexit = s.exception_vmexit();
    if ex_vmexit == Some(LowPriorityDb(false)) {
        return busy_or(block_exceptions, Action::ExceptionVmexit);
    }
    let ex = s.exception();
    if ex == Some(LowPriorityDb(false)) {
        return busy_or(block_exceptions, Action::NoExit);
    }
    if s.mtf_pending() {
        return busy_or(block_events, Action::Mtf);
    }
    if ex_vmexit.is_some() {
        return busy_or(block_exceptions, Action::ExceptionVmexit);
    }
    if ex.is_some() {
        return busy_or(block_exceptions, Action::NoExit);
    }
    if s.preemption_timer_pending() {
        return busy_or(block_events, Action::PreemptionTimer);
    }
    if s.smi_pending() {
        return busy_or(block_events, Action::NoExit);
    }
    if s.nmi_pending() {
        if block_events {
            return Action::Busy;
        }
        return if s.exit_on_nmi() {
            Action::Nmi
        } else {
            Action::NoExit
        };
    }
    if s.interrupt_pending() {
        if block_events {
            return Action::Busy;
        }
        if !s.exit_on_interrupt() {
            return Action::NoExit;
        }
        if !s.ack_on_exit() {
            return Action::InterruptNoAck;
        }
        if let Some(v) = s.take_extint() {
            return Action::ExtInt(v);
        }
        let Some(irq) = s.apic_interrupt() else {
            return Action::NoExit;
        };
        if s.posted_intr_nv() == Some(irq) {
            return Action::PostedNotification(irq);
        }
        return Action::ApicInterrupt(irq);
    }
    Action::NoExit
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vCPU's pending events as plain values; counts the ExtINTs taken.
    #[derive(Clone, Copy, Default)]
    struct S {
        run_pending: bool,
        reinject: bool,
        init: bool,
        sipi: bool,
        wait_sipi: bool,
        ex_vmexit: Option<LowPriorityDb>,
        ex: Option<LowPriorityDb>,
        mtf: bool,
        timer: bool,
        smi: bool,
        nmi: bool,
        exit_nmi: bool,
        intr: bool,
        exit_intr: bool,
        ack: bool,
        extint: Option<u8>,
        apic: Option<u8>,
        pinv: Option<u8>,
        extints_taken: u32,
        virt: bool,
        timer_off: bool,
    }

    impl EventState for S {
        fn nested_run_pending(&mut self) -> bool {
            self.run_pending
        }
        fn needs_reinjection(&mut self) -> bool {
            self.reinject
        }
        fn init_pending(&mut self) -> bool {
            self.init
        }
        fn sipi_pending(&mut self) -> bool {
            self.sipi
        }
        fn clear_sipi(&mut self) {
            self.sipi = false;
        }
        fn waits_for_sipi(&mut self) -> bool {
            self.wait_sipi
        }
        fn exception_vmexit(&mut self) -> Option<LowPriorityDb> {
            self.ex_vmexit
        }
        fn exception(&mut self) -> Option<LowPriorityDb> {
            self.ex
        }
        fn mtf_pending(&mut self) -> bool {
            self.mtf
        }
        fn preemption_timer_expired(&mut self) -> bool {
            self.timer
        }
        fn smi_pending(&mut self) -> bool {
            self.smi
        }
        fn nmi_pending(&mut self) -> bool {
            self.nmi
        }
        fn event_controls(&mut self) -> Option<(PinBased, ExitControls)> {
            let mut pin = PinBased::EMPTY;
            if self.exit_nmi {
                pin = pin | PinBased::NMI_EXITING;
            }
            if self.exit_intr {
                pin = pin | PinBased::EXT_INTR_MASK;
            }
            if !self.timer_off {
                pin = pin | PinBased::VMX_PREEMPTION_TIMER;
            }
            let exit = if self.ack {
                ExitControls::ACK_INTR_ON_EXIT
            } else {
                ExitControls::EMPTY
            };
            Some((pin, exit))
        }
        fn interrupt_pending(&mut self) -> bool {
            self.intr
        }
        fn take_extint(&mut self) -> Option<u8> {
            self.extints_taken += 1;
            self.extint
        }
        fn apic_interrupt(&mut self) -> Option<u8> {
            self.apic
        }
        fn posted_intr_nv(&mut self) -> Option<u8> {
            self.pinv
        }
        fn virtual_interrupt_pending(&mut self) -> bool {
            self.virt
        }
    }

    const HIGH: Option<LowPriorityDb> = Some(LowPriorityDb(false));
    const LOW_DB: Option<LowPriorityDb> = Some(LowPriorityDb(true));

    #[test]
    fn init_and_sipi_first() {
        let mut s = S {
            init: true,
            mtf: true,
            nmi: true,
            ..S::default()
        };
        assert_eq!(check(&mut s), Action::Init { exit: true });
        s.wait_sipi = true;
        assert_eq!(check(&mut s), Action::Init { exit: false });
        s.reinject = true;
        assert_eq!(check(&mut s), Action::Busy);
        let mut s = S {
            sipi: true,
            wait_sipi: true,
            ..S::default()
        };
        assert_eq!(check(&mut s), Action::Sipi);
        assert!(!s.sipi, "taken");
        // Not waiting: the SIPI is dropped and the rest decides.
        s.sipi = true;
        s.wait_sipi = false;
        s.timer = true;
        assert_eq!(check(&mut s), Action::PreemptionTimer);
        assert!(!s.sipi, "dropped");
        // Blocked: kept for later.
        s.sipi = true;
        s.run_pending = true;
        assert_eq!(check(&mut s), Action::Busy);
        assert!(s.sipi);
    }

    #[test]
    fn mtf_outranks_only_low_priority_db_traps() {
        let mut s = S {
            mtf: true,
            ex_vmexit: HIGH,
            ..S::default()
        };
        assert_eq!(check(&mut s), Action::ExceptionVmexit);
        s.ex_vmexit = LOW_DB;
        assert_eq!(check(&mut s), Action::Mtf);
        s.mtf = false;
        assert_eq!(check(&mut s), Action::ExceptionVmexit);
        let mut s = S {
            mtf: true,
            ex: HIGH,
            ..S::default()
        };
        assert_eq!(check(&mut s), Action::NoExit, "L2's own exception first");
        s.ex = LOW_DB;
        assert_eq!(check(&mut s), Action::Mtf);
    }

    #[test]
    fn a_pending_entry_blocks_exceptions_and_reinjection_only_events() {
        let mut s = S {
            run_pending: true,
            ex_vmexit: HIGH,
            ..S::default()
        };
        assert_eq!(check(&mut s), Action::Busy);
        let mut s = S {
            reinject: true,
            ex_vmexit: HIGH,
            ..S::default()
        };
        assert_eq!(check(&mut s), Action::ExceptionVmexit);
        s.ex_vmexit = None;
        s.timer = true;
        assert_eq!(check(&mut s), Action::Busy);
    }

    #[test]
    fn timer_smi_nmi_interrupt_order() {
        let all = S {
            timer: true,
            smi: true,
            nmi: true,
            exit_nmi: true,
            intr: true,
            exit_intr: true,
            ack: true,
            apic: Some(0x30),
            ..S::default()
        };
        let mut s = all;
        assert_eq!(check(&mut s), Action::PreemptionTimer);
        s.timer = false;
        assert_eq!(check(&mut s), Action::NoExit, "SMI: no exit to L1");
        s.smi = false;
        assert_eq!(check(&mut s), Action::Nmi);
        s.exit_nmi = false;
        assert_eq!(check(&mut s), Action::NoExit, "NMI for L2 itself");
        s.nmi = false;
        assert_eq!(check(&mut s), Action::ApicInterrupt(0x30));
    }

    #[test]
    fn external_interrupts() {
        let base = S {
            intr: true,
            exit_intr: true,
            ..S::default()
        };
        let mut s = base;
        assert_eq!(check(&mut s), Action::InterruptNoAck);
        assert_eq!(s.extints_taken, 0, "no ack: the PIC keeps its ExtINT");
        s.ack = true;
        s.extint = Some(0x20);
        assert_eq!(check(&mut s), Action::ExtInt(0x20));
        s.extint = None;
        assert_eq!(check(&mut s), Action::NoExit, "nothing in the APIC either");
        s.apic = Some(0xf2);
        s.pinv = Some(0xf2);
        assert_eq!(check(&mut s), Action::PostedNotification(0xf2));
        s.pinv = Some(0xf1);
        assert_eq!(check(&mut s), Action::ApicInterrupt(0xf2));
        s.exit_intr = false;
        assert_eq!(check(&mut s), Action::NoExit);
        let mut s = base;
        s.ack = true;
        s.extint = Some(0x20);
        s.run_pending = true;
        assert_eq!(check(&mut s), Action::Busy);
        assert_eq!(s.extints_taken, 0, "not taken while blocked");
    }
    #[test]
    fn has_events_wants_virtual_interrupts_only_when_not_injecting() {
        let mut s = S {
            virt: true,
            ..S::default()
        };
        assert!(has_events(&mut s, false));
        assert!(
            !has_events(&mut s, true),
            "virtual-interrupt delivery needs no injection"
        );
        s.timer = true;
        assert!(has_events(&mut s, true));
        let mut m = S {
            mtf: true,
            ..S::default()
        };
        assert!(has_events(&mut m, true));
        assert!(!has_events(&mut S::default(), false));
    }

    #[test]
    fn event_exits_follow_vmcs12_controls() {
        let mut s = S {
            exit_nmi: true,
            ack: true,
            ..S::default()
        };
        assert!(s.exit_on_nmi() && s.ack_on_exit() && !s.exit_on_interrupt());
        let mut t = S {
            timer: true,
            ..S::default()
        };
        assert!(t.preemption_timer_pending());
        t.timer_off = true;
        assert!(
            !t.preemption_timer_pending(),
            "expired, but L1 turned it off"
        );
    }
}
