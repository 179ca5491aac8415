// SPDX-License-Identifier: GPL-2.0

//! Posted interrupts and virtual-interrupt delivery for L2, as KVM
//! emulates them: what `vmx_complete_nested_posted_interrupt()`,
//! `vmx_has_nested_events()` and the notification-vector checks of
//! `nested_vmx_run()` and `vmx_check_nested_events()` decide.
//!
//! L1 posts an interrupt for L2 by setting a bit in the PIR of its
//! posted-interrupt descriptor and its ON ("outstanding notification") bit,
//! then sends vmcs12's notification vector. A CPU in VMX non-root operation
//! that recognizes the notification vector moves the PIR into the virtual-
//! APIC page's IRR and raises RVI (SDM 29.6 "Posted-Interrupt Processing").
//! vmcs02 uses KVM's own nested notification vector, so the vector L1 sent
//! reaches L0, which completes the processing here: `pi_pending` (KVM's
//! `nested.pi_pending`) says the notification arrived.

use crate::vmcs::controls::{Secondary, Vmcs12Controls};
use crate::vmcs::layout::Vmcs12;

/// L1's posted-interrupt descriptor and L2's virtual-APIC page, as the glue
/// reaches them. The descriptor is L1 memory other vCPUs of L1 post to
/// while this one runs: the glue's accesses are atomic, as KVM's.
pub trait PostedIntrIo {
    /// A notification arrived (KVM's `nested.pi_pending`, which other
    /// vCPUs set).
    fn pi_pending(&self) -> bool;
    /// Clears `pi_pending`, before ON is consumed: a notification that
    /// arrives later sets it again and is not lost.
    fn clear_pi_pending(&mut self);
    /// The descriptor is mapped (KVM's `nested.pi_desc` is not NULL).
    fn has_pi_desc(&self) -> bool;
    /// Atomically clears ON; whether it was set (`pi_test_and_clear_on()`).
    fn test_and_clear_on(&mut self) -> bool;
    /// Whether ON is set (`pi_test_on()`).
    fn test_on(&self) -> bool;
    /// The highest vector set in the PIR (`pi_find_highest_vector()`).
    fn highest_pir_vector(&self) -> Option<u8>;
    /// The virtual-APIC page is mapped.
    fn has_vapic(&self) -> bool;
    /// Virtual PPR, from the virtual-APIC page (offset 0xa0); `None` when
    /// the page is not mapped.
    fn vppr(&self) -> Option<u32>;
    /// Moves the PIR into the virtual-APIC page's IRR, clearing it
    /// (`__kvm_apic_update_irr()`); the highest vector in the IRR after,
    /// -1 for none (KVM's int).
    fn pir_to_irr(&mut self) -> i32;
    /// vmcs02's guest interrupt status (RVI in bits 7:0, SVI in 15:8).
    fn guest_intr_status(&self) -> u16;
    /// Writes vmcs02's guest interrupt status.
    fn set_guest_intr_status(&mut self, status: u16);
    /// Marks the pages the CPU writes during APIC virtualization dirty
    /// (`nested_mark_vmcs12_pages_dirty()`).
    fn mark_pages_dirty(&mut self);
}

/// How the completion of a posted-interrupt notification ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// Nothing to do.
    Done,
    /// The PIR was moved to the IRR and RVI raised.
    Delivered,
    /// A page KVM must read is not mapped: KVM reports a memory failure
    /// to userspace (`kvm_handle_memory_failure(X86EMUL_IO_NEEDED)`,
    /// -ENXIO) and leaves `pi_pending` as it was.
    MmioNeeded,
}

/// Whether an interrupt L1's APIC has pending (`kvm_apic_has_interrupt()`,
/// negative for none) is the notification vector L2's posted interrupts
/// use (`posted_intr_nv`, u16::MAX without posted interrupts): it starts
/// posted-interrupt processing instead of an external-interrupt exit.
pub const fn is_notification(irq: i32, posted_intr_nv: u16) -> bool {
    irq >= 0 && irq == posted_intr_nv as i32
}

/// KVM's `vmx_complete_nested_posted_interrupt()`: once a notification
/// arrived (`pi_pending`), moves the PIR into the virtual-APIC page's IRR
/// and raises RVI to the highest vector there (SDM 29.6, steps 3-5).
pub fn complete(io: &mut impl PostedIntrIo) -> Completion {
    if !io.pi_pending() {
        return Completion::Done;
    }
    if !io.has_pi_desc() {
        return Completion::MmioNeeded;
    }
    io.clear_pi_pending();
    if !io.test_and_clear_on() {
        return Completion::Done;
    }
    let mut delivered = Completion::Done;
    // KVM's pi_find_highest_vector() is an int, -1 for none, and only a
    // vector above 0 is processed.
    if io.highest_pir_vector().is_some_and(|v| v > 0) {
        if !io.has_vapic() {
            return Completion::MmioNeeded;
        }
        // As KVM, in u8: an IRR found empty (another vCPU raced) is 0xff.
        let max_irr = io.pir_to_irr() as u8;
        let status = io.guest_intr_status();
        if max_irr > status as u8 {
            io.set_guest_intr_status((status & !0xff) | u16::from(max_irr));
        }
        delivered = Completion::Delivered;
    }
    io.mark_pages_dirty();
    delivered
}

/// The priority class of a vector or priority register (bits 7:4).
const fn class(v: u32) -> u32 {
    v & 0xf0
}

/// Whether a virtual interrupt `rvi` is above the processor priority `ppr`
/// by class, so that it would be delivered (SDM 29.2.1). KVM's
/// `vmx_has_apicv_interrupt()` asks this of vmcs01's RVI and L1's PPR when
/// a nested entry starts: such an interrupt must be evaluated first.
pub const fn above_ppr(rvi: u8, ppr: u32) -> bool {
    class(rvi as u32) > class(ppr)
}

/// The virtual-interrupt part of KVM's `vmx_has_nested_events()`, for an
/// L2 with virtual-interrupt delivery whose interrupts are not blocked:
/// whether a virtual interrupt would be recognized (SDM 29.2.1 "Evaluation
/// of Pending Virtual Interrupts": RVI's class above VPPR's), counting the
/// posted interrupts a notification brought but not yet moved to RVI.
pub fn has_virtual_interrupt(io: &impl PostedIntrIo) -> bool {
    let Some(vppr) = io.vppr() else {
        return false;
    };
    if above_ppr(io.guest_intr_status() as u8, vppr) {
        return true;
    }
    if io.pi_pending() && io.has_pi_desc() && io.test_on() {
        if let Some(max) = io.highest_pir_vector() {
            return max > 0 && class(u32::from(max)) > class(vppr);
        }
    }
    false
}

/// Whether `vmx_has_nested_events()` looks for a virtual interrupt at all:
/// vmcs12 (`None`: none) enables virtual-interrupt delivery, and L2 does
/// not block interrupts (`blocked`, KVM's `__vmx_interrupt_blocked()`,
/// asked only then).
pub fn virtual_interrupt_possible(v: Option<&Vmcs12>, blocked: impl FnOnce() -> bool) -> bool {
    let vid = v.is_some_and(|v| {
        Vmcs12Controls::of(v)
            .sec
            .contains(Secondary::VIRTUAL_INTR_DELIVERY)
    });
    vid && !blocked()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A descriptor, a virtual-APIC IRR and vmcs02's interrupt status.
    #[derive(Default)]
    struct Model {
        pending: bool,
        desc: bool,
        on: bool,
        pir: [u64; 4],
        vapic: bool,
        irr: [u64; 4],
        vppr: u32,
        status: u16,
        dirtied: u32,
        /// Another vCPU posts 0x62 (PIR, ON, notification) right after ON
        /// is consumed.
        race_after_on: bool,
        /// Another vCPU took the PIR between the look and the move: the
        /// IRR comes out empty.
        pir_taken: bool,
    }

    fn highest(bits: &[u64; 4]) -> Option<u8> {
        (0..4usize).rev().find_map(|i| {
            let w = bits[i];
            (w != 0).then(|| (i as u32 * 64 + 63 - w.leading_zeros()) as u8)
        })
    }

    impl Model {
        fn post(&mut self, vector: u8) {
            self.pir[usize::from(vector / 64)] |= 1 << (vector % 64);
            self.on = true;
        }
    }

    impl PostedIntrIo for Model {
        fn pi_pending(&self) -> bool {
            self.pending
        }
        fn clear_pi_pending(&mut self) {
            self.pending = false;
        }
        fn has_pi_desc(&self) -> bool {
            self.desc
        }
        fn test_and_clear_on(&mut self) -> bool {
            let on = core::mem::replace(&mut self.on, false);
            if self.race_after_on {
                self.post(0x62);
                self.pending = true;
            }
            on
        }
        fn test_on(&self) -> bool {
            self.on
        }
        fn highest_pir_vector(&self) -> Option<u8> {
            highest(&self.pir)
        }
        fn has_vapic(&self) -> bool {
            self.vapic
        }
        fn vppr(&self) -> Option<u32> {
            self.vapic.then_some(self.vppr)
        }
        fn pir_to_irr(&mut self) -> i32 {
            if self.pir_taken {
                return -1;
            }
            for i in 0..4 {
                self.irr[i] |= core::mem::take(&mut self.pir[i]);
            }
            highest(&self.irr).map_or(-1, i32::from)
        }
        fn guest_intr_status(&self) -> u16 {
            self.status
        }
        fn set_guest_intr_status(&mut self, status: u16) {
            self.status = status;
        }
        fn mark_pages_dirty(&mut self) {
            self.dirtied += 1;
        }
    }

    fn mapped() -> Model {
        Model {
            desc: true,
            vapic: true,
            ..Model::default()
        }
    }

    #[test]
    fn notification_vector() {
        assert!(is_notification(0xf2, 0xf2));
        assert!(!is_notification(0xf1, 0xf2));
        // No posted interrupts: posted_intr_nv is -1 as a u16.
        assert!(!is_notification(0xff, u16::MAX));
        assert!(!is_notification(-1, u16::MAX));
    }

    #[test]
    fn apicv_interrupt_at_entry_by_class() {
        assert!(above_ppr(0x51, 0x40));
        assert!(!above_ppr(0x4f, 0x40));
        assert!(!above_ppr(0x00, 0x00));
        assert!(above_ppr(0x10, 0x0f), "class 1 over class 0");
    }

    #[test]
    fn nothing_without_a_notification() {
        let mut m = mapped();
        m.post(0x40);
        assert_eq!(complete(&mut m), Completion::Done);
        assert!(m.on);
        assert_eq!(m.status, 0);
        assert_eq!(m.dirtied, 0);
    }

    #[test]
    fn pir_moves_to_irr_and_rvi_rises() {
        let mut m = mapped();
        m.status = 0x3020; // SVI 0x30, RVI 0x20
        m.irr[0] = 1 << 0x20;
        m.post(0x51);
        m.post(0x45);
        m.pending = true;
        assert_eq!(complete(&mut m), Completion::Delivered);
        assert!(!m.pending);
        assert!(!m.on);
        assert_eq!(m.pir, [0; 4]);
        assert_eq!(m.irr[1], (1 << (0x51 - 64)) | (1 << (0x45 - 64)));
        assert_eq!(m.status, 0x3051, "RVI = highest IRR, SVI kept");
        assert_eq!(m.dirtied, 1);
    }

    #[test]
    fn rvi_never_lowered() {
        let mut m = mapped();
        m.status = 0x00e0;
        m.irr[3] = 1 << (0xe0 - 192);
        m.post(0x41);
        m.pending = true;
        assert_eq!(complete(&mut m), Completion::Delivered);
        assert_eq!(m.status, 0x00e0);
        assert_eq!(m.irr[1], 1 << 1);
    }

    #[test]
    fn on_clear_consumes_the_notification_only() {
        let mut m = mapped();
        m.pir[1] = 1;
        m.pending = true;
        assert_eq!(complete(&mut m), Completion::Done);
        assert!(!m.pending);
        assert_eq!(m.pir[1], 1, "PIR untouched without ON");
        assert_eq!(m.dirtied, 0);
    }

    #[test]
    fn vector_zero_is_not_processed() {
        let mut m = mapped();
        m.post(0);
        m.pending = true;
        assert_eq!(complete(&mut m), Completion::Done);
        assert_eq!(m.pir[0], 1);
        assert_eq!(m.status, 0);
        assert_eq!(m.dirtied, 1);
    }

    /// A notification that arrives while one is completed must survive:
    /// pi_pending is cleared before ON is consumed (KVM's order).
    #[test]
    fn a_notification_during_completion_is_kept() {
        let mut m = mapped();
        m.race_after_on = true;
        m.post(0x41);
        m.pending = true;
        assert_eq!(complete(&mut m), Completion::Delivered);
        assert!(m.pending, "the racing notification is still pending");
        assert!(m.on);
    }

    #[test]
    fn an_irr_found_empty_raises_rvi_to_0xff_as_kvm() {
        let mut m = mapped();
        m.pir_taken = true;
        m.post(0x40);
        m.pending = true;
        m.status = 0x1020;
        assert_eq!(complete(&mut m), Completion::Delivered);
        assert_eq!(m.status, 0x10ff);
    }

    #[test]
    fn unmapped_pages_need_userspace() {
        let mut m = Model::default();
        m.post(0x40);
        m.pending = true;
        assert_eq!(complete(&mut m), Completion::MmioNeeded);
        assert!(m.pending, "kept for a retry");
        let mut m = Model {
            desc: true,
            pending: true,
            ..Model::default()
        };
        m.post(0x40);
        assert_eq!(complete(&mut m), Completion::MmioNeeded);
        assert!(!m.pending && !m.on, "ON consumed as KVM's");
    }

    #[test]
    fn virtual_interrupt_recognized_above_vppr_class() {
        let mut m = mapped();
        m.vppr = 0x40;
        m.status = 0x4f;
        assert!(!has_virtual_interrupt(&m), "same class");
        m.status = 0x50;
        assert!(has_virtual_interrupt(&m));
        m.vapic = false;
        assert!(!has_virtual_interrupt(&m), "no page, no VPPR");
    }

    #[test]
    fn posted_but_unprocessed_interrupts_count() {
        let mut m = mapped();
        m.vppr = 0x40;
        m.post(0x61);
        assert!(!has_virtual_interrupt(&m), "no notification yet");
        m.pending = true;
        assert!(has_virtual_interrupt(&m));
        m.on = false;
        assert!(!has_virtual_interrupt(&m));
        let mut m = mapped();
        m.vppr = 0x40;
        m.post(0x41);
        m.pending = true;
        assert!(!has_virtual_interrupt(&m), "class not above VPPR");
    }

    #[test]
    fn virtual_interrupt_needs_vid_and_unblocked_interrupts() {
        use crate::vmcs::controls::CpuBased;
        let mut v = Vmcs12 {
            cpu_based_vm_exec_control: CpuBased::ACTIVATE_SECONDARY_CONTROLS.bits(),
            secondary_vm_exec_control: Secondary::VIRTUAL_INTR_DELIVERY.bits(),
            ..Vmcs12::default()
        };
        assert!(virtual_interrupt_possible(Some(&v), || false));
        assert!(!virtual_interrupt_possible(Some(&v), || true));
        assert!(!virtual_interrupt_possible(None, || false));
        // Without VID, blocking is not asked.
        v.secondary_vm_exec_control = 0;
        assert!(!virtual_interrupt_possible(Some(&v), || unreachable!()));
        v.cpu_based_vm_exec_control = 0;
        v.secondary_vm_exec_control = Secondary::VIRTUAL_INTR_DELIVERY.bits();
        assert!(
            !virtual_interrupt_possible(Some(&v), || false),
            "not activated"
        );
    }
}
