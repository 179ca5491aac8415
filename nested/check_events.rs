// SPDX-License-Identifier: GPL-2.0

//! KVM's `vmx_check_nested_events()`: `pending::check` picks the event;
//! this turns it into the nested VM exit (SDM 26.2, 28.2.2's exit
//! information) or into posted-interrupt processing for L2.

use crate::nested::entry_vcpu::EntryVcpu;
use crate::nested::exit_reason::basic as r;
use crate::nested::pending::{self, Action, EventState, LowPriorityDb};
use crate::nested::vmexit::{self, DR6_BT};
use crate::vmcs::intr_info;
use crate::vmcs::table::encodings as e;
use crate::vmcs::x86::vector;

/// DR6.BD.
const DR6_BD: u64 = 1 << 13;
/// -EBUSY.
const EBUSY: i32 = 16;

/// A queued exception as the #DB rules read it (`kvm_queued_exception`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Queued {
    /// `pending`.
    pub pending: bool,
    /// `vector`.
    pub vector: u8,
    /// `payload` (DR6 bits for a #DB).
    pub payload: u64,
}

/// KVM's `vmx_get_pending_dbg_trap()`: the pending debug exceptions of a
/// pending #DB trap.
pub fn pending_dbg_trap(ex: &Queued) -> u64 {
    if !ex.pending || u32::from(ex.vector) != vector::DB {
        return 0;
    }
    ex.payload & !DR6_BD
}

/// KVM's `vmx_is_low_priority_db_trap()`: a #DB trap other than a
/// single-step one, which ranks below MTF and the timer.
pub fn low_priority_db(ex: &Queued) -> Option<LowPriorityDb> {
    ex.pending
        .then(|| LowPriorityDb(pending_dbg_trap(ex) & !DR6_BT != 0))
}

/// What applying a pending event needs beyond `EntryVcpu`.
pub trait EventVcpu: EntryVcpu + EventState {
    /// `vcpu->arch.exception` (the queued, not yet injected exception).
    fn queued_exception(&mut self) -> Queued;
    /// Drops the pending INIT.
    fn clear_init(&mut self);
    /// The SIPI's vector.
    fn sipi_vector(&mut self) -> u8;
    /// Consumes the pending NMI and blocks NMIs (`vmx_set_nmi_mask()`).
    fn consume_nmi(&mut self);
    /// `kvm_apic_ack_interrupt()`.
    fn ack_apic_interrupt(&mut self, v: u8);
    /// Takes notification vector `v` off L1's IRR for L2.
    fn take_notification(&mut self, v: u8);
    /// Posted-interrupt processing for L2 (`vmx_complete_nested_posted_interrupt()`):
    /// the value `vmx_check_nested_events()` returns.
    fn complete_posted_interrupts(&mut self) -> i32;
}

/// KVM's `nested_vmx_update_pending_dbg()`: a pending #DB trap's bits go to
/// vmcs02's pending debug exceptions before an exit that preempts it.
fn update_pending_dbg(k: &mut impl EventVcpu) {
    let pending = pending_dbg_trap(&k.queued_exception());
    if pending != 0 {
        k.vmwrite(e::GUEST_PENDING_DBG_EXCEPTIONS, pending);
    }
}

fn exit(k: &mut impl EventVcpu, reason: u16, info: u32, qual: u64) {
    vmexit::nested_vmx_vmexit(k, Some((u32::from(reason), info, qual)));
}

/// KVM's `vmx_check_nested_events()`: 0, or -EBUSY while an entry or a
/// re-injection must complete first.
pub fn check_events(k: &mut impl EventVcpu) -> i32 {
    let ext = |v: u8| intr_info::VALID | intr_info::TYPE_EXT_INTR | u32::from(v);
    match pending::check(k) {
        Action::Busy => -EBUSY,
        Action::Init { exit: to_l1 } => {
            update_pending_dbg(k);
            k.clear_init();
            if to_l1 {
                exit(k, r::INIT_SIGNAL, 0, 0);
            }
            k.clear_mtf_pending();
            0
        }
        Action::Sipi => {
            let sipi = k.sipi_vector();
            exit(k, r::SIPI_SIGNAL, 0, u64::from(sipi));
            0
        }
        Action::ExceptionVmexit => {
            vmexit::inject_exception_vmexit(k);
            0
        }
        Action::Mtf => {
            update_pending_dbg(k);
            exit(k, r::MONITOR_TRAP_FLAG, 0, 0);
            0
        }
        Action::PreemptionTimer => {
            exit(k, r::PREEMPTION_TIMER, 0, 0);
            0
        }
        Action::Nmi => {
            let info = vector::NMI | intr_info::TYPE_NMI | intr_info::VALID;
            exit(k, r::EXCEPTION_NMI, info, 0);
            k.consume_nmi();
            0
        }
        Action::InterruptNoAck => {
            exit(k, r::EXTERNAL_INTERRUPT, 0, 0);
            0
        }
        Action::ExtInt(v) => {
            exit(k, r::EXTERNAL_INTERRUPT, ext(v), 0);
            0
        }
        Action::ApicInterrupt(v) => {
            exit(k, r::EXTERNAL_INTERRUPT, ext(v), 0);
            // ACKed after the exit, so that vmcs01's SVI marks it in service
            // with APICv (nested.c).
            k.ack_apic_interrupt(v);
            0
        }
        Action::PostedNotification(v) => {
            k.take_notification(v);
            k.complete_posted_interrupts()
        }
        Action::NoExit => k.complete_posted_interrupts(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_traps() {
        let db = |payload| Queued {
            pending: true,
            vector: 1,
            payload,
        };
        assert_eq!(pending_dbg_trap(&db(DR6_BD | 1)), 1);
        assert_eq!(
            pending_dbg_trap(&Queued {
                vector: 14,
                ..db(1)
            }),
            0
        );
        assert_eq!(
            pending_dbg_trap(&Queued {
                pending: false,
                ..db(1)
            }),
            0
        );
        assert_eq!(
            low_priority_db(&db(DR6_BT)),
            Some(LowPriorityDb(false)),
            "single step"
        );
        assert_eq!(low_priority_db(&db(DR6_BT | 1)), Some(LowPriorityDb(true)));
        assert_eq!(low_priority_db(&Queued::default()), None);
    }

    use crate::nested::model::Model;
    use crate::vmcs::layout::Vmcs12;

    #[test]
    fn pending_run_is_busy() {
        let mut m = Model::in_l2(Vmcs12::default());
        m.ev.run_pending = true;
        m.ev.nmi = true;
        m.ev.exit_on_nmi = true;
        assert_eq!(check_events(&mut m), -EBUSY);
        assert!(m.ev.nmi && m.stats.is_empty());
    }

    #[test]
    fn nmi_exit_consumes_the_nmi() {
        let mut m = Model::in_l2(Vmcs12::default());
        m.ev.nmi = true;
        m.ev.exit_on_nmi = true;
        assert_eq!(check_events(&mut m), 0);
        let v = m.vmcs12.unwrap_or_default();
        assert_eq!(
            { v.vm_exit_intr_info },
            vector::NMI | intr_info::TYPE_NMI | intr_info::VALID
        );
        assert!(m.ev.nmi_consumed);
    }

    #[test]
    fn acked_interrupt_exit() {
        let mut m = Model::in_l2(Vmcs12::default());
        m.ev.apic_vector = Some(0x31);
        m.ev.exit_on_interrupt = true;
        m.ev.ack_on_exit = true;
        assert_eq!(check_events(&mut m), 0);
        let v = m.vmcs12.unwrap_or_default();
        assert_eq!({ v.vm_exit_reason }, u32::from(r::EXTERNAL_INTERRUPT));
        assert_eq!(
            { v.vm_exit_intr_info },
            intr_info::VALID | intr_info::TYPE_EXT_INTR | 0x31
        );
        assert_eq!(m.ev.acked, Some(0x31));
    }

    #[test]
    fn no_event_processes_posted_interrupts() {
        let mut m = Model::in_l2(Vmcs12::default());
        assert_eq!(check_events(&mut m), 0);
        assert!(m.ev.posted_completed && m.stats.is_empty());
    }
}
