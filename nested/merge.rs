// SPDX-License-Identifier: GPL-2.0

//! The execution, entry and exit controls of vmcs02, merged from L0's
//! (vmcs01) and L1's (vmcs12): KVM's `prepare_vmcs02_early()` and
//! `nested_vmx_calc_efer()`.
//!
//! The rule: every exit L0 needs stays enabled, whatever L1 writes; L1 only
//! adds exits (which are then reflected to it when they happen). Where L0
//! replaces a control outright (I/O bitmaps become unconditional I/O
//! exiting, the preemption timer and PML are L0's own), that is explicit
//! below and asserted by the tests.

use crate::vmcs::controls::{
    CpuBased, EntryControls, ExitControls, PinBased, Secondary, Vmcs12Controls,
};
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::x86::{cr4, efer};

/// L0's side of the merge.
#[derive(Clone, Copy, Debug, Default)]
pub struct L0 {
    /// vmcs01's pin-based controls.
    pub pin: PinBased,
    /// vmcs01's primary processor-based controls.
    pub cpu: CpuBased,
    /// vmcs01's secondary controls.
    pub secondary: Secondary,
    /// vmcs01's VM-entry controls.
    pub entry: EntryControls,
    /// vmcs01's VM-exit controls.
    pub exit: ExitControls,
    /// vmcs02 currently uses an MSR bitmap (L0's merged one).
    pub vmcs02_uses_msr_bitmaps: bool,
    /// The CPU has secondary controls.
    pub has_secondary: bool,
    /// The CPU can load IA32_EFER on entry and exit.
    pub has_load_efer: bool,
    /// KVM emulates UMIP (by descriptor-table exiting).
    pub umip_emulated: bool,
    /// The host's EFER (`kvm_host.efer`).
    pub host_efer: u64,
}

/// vmcs02's controls and the fields KVM writes with them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vmcs02Controls {
    /// Pin-based controls.
    pub pin: PinBased,
    /// Primary processor-based controls.
    pub cpu: CpuBased,
    /// Secondary controls, if the CPU has them.
    pub secondary: Option<Secondary>,
    /// VM-entry controls.
    pub entry: EntryControls,
    /// VM-exit controls.
    pub exit: ExitControls,
    /// TPR threshold to write, when the TPR shadow is on.
    pub tpr_threshold: Option<u32>,
    /// Guest interrupt status to write, with virtual-interrupt delivery.
    pub guest_intr_status: Option<u16>,
    /// L1's posted-interrupt notification vector, if L1 uses posted
    /// interrupts (KVM: `nested.posted_intr_nv`, -1 otherwise).
    pub posted_intr_nv: Option<u16>,
}

/// KVM's `nested_vmx_calc_efer()`: L2's EFER. `efer` is the vCPU's (L1's)
/// EFER; vmcs12's guest EFER counts only on VMLAUNCH/VMRESUME.
pub fn l2_efer(v: &Vmcs12, efer: u64, nested_run_pending: bool) -> u64 {
    let entry = EntryControls(v.vm_entry_controls);
    if nested_run_pending && entry.contains(EntryControls::LOAD_IA32_EFER) {
        v.guest_ia32_efer
    } else if entry.contains(EntryControls::IA32E_MODE) {
        efer | efer::LMA | efer::LME
    } else {
        efer & !(efer::LMA | efer::LME)
    }
}

/// KVM's `prepare_vmcs02_early()`, the control part.
#[inline]
pub fn merge(l0: &L0, v: &Vmcs12, guest_efer: u64) -> Vmcs02Controls {
    let v_pin = PinBased(v.pin_based_vm_exec_control);
    let v_cpu = CpuBased(v.cpu_based_vm_exec_control);

    // Pin-based: L1's preemption timer is emulated with an hrtimer.
    let mut pin = l0.pin | v_pin.difference(PinBased::VMX_PREEMPTION_TIMER);
    let posted_intr_nv = if v_pin.contains(PinBased::POSTED_INTR) {
        Some(v.posted_intr_nv)
    } else {
        pin = pin.difference(PinBased::POSTED_INTR);
        None
    };

    // Primary: the interrupt/NMI windows and the TPR shadow are L1's.
    let mut cpu = l0.cpu.difference(
        CpuBased::INTR_WINDOW_EXITING | CpuBased::NMI_WINDOW_EXITING | CpuBased::TPR_SHADOW,
    ) | v_cpu;
    let tpr_threshold = if cpu.contains(CpuBased::TPR_SHADOW) {
        Some(v.tpr_threshold)
    } else {
        // Without a TPR shadow, CR8 accesses must exit (64-bit host).
        cpu = cpu | CpuBased::CR8_LOAD_EXITING | CpuBased::CR8_STORE_EXITING;
        None
    };
    // L0 does not use L1's I/O bitmaps: every I/O exits, and L0 reflects
    // it by looking at them. The MSR bitmap is L0's merged one, if any.
    cpu = (cpu | CpuBased::UNCOND_IO_EXITING)
        .difference(CpuBased::USE_IO_BITMAPS | CpuBased::USE_MSR_BITMAPS);
    if l0.vmcs02_uses_msr_bitmaps {
        cpu = cpu | CpuBased::USE_MSR_BITMAPS;
    }

    let mut guest_intr_status = None;
    let secondary = if l0.has_secondary {
        // These come from vmcs12 only.
        let mut sec = l0.secondary.difference(
            Secondary::VIRTUALIZE_APIC_ACCESSES
                | Secondary::VIRTUALIZE_X2APIC_MODE
                | Secondary::ENABLE_INVPCID
                | Secondary::ENABLE_RDTSCP
                | Secondary::ENABLE_XSAVES
                | Secondary::ENABLE_USR_WAIT_PAUSE
                | Secondary::VIRTUAL_INTR_DELIVERY
                | Secondary::APIC_REGISTER_VIRT
                | Secondary::ENABLE_VMFUNC
                | Secondary::DESC,
        );
        let v_sec = Vmcs12Controls::of(v).sec;
        // PML and VMCS shadowing are emulated for L1, never passed on.
        sec = (sec | v_sec).difference(Secondary::ENABLE_PML | Secondary::SHADOW_VMCS);
        if l0.umip_emulated && v.guest_cr4 & cr4::UMIP != 0 {
            sec = sec | Secondary::DESC;
        }
        if sec.contains(Secondary::VIRTUAL_INTR_DELIVERY) {
            guest_intr_status = Some(v.guest_intr_status);
        }
        if !v_sec.contains(Secondary::UNRESTRICTED_GUEST) {
            sec = sec.difference(Secondary::UNRESTRICTED_GUEST);
        }
        Some(sec)
    } else {
        None
    };

    // Entry: IA-32e mode and EFER loading follow L2's EFER; L0 loads
    // PERF_GLOBAL_CTRL itself.
    let mut entry = (l0.entry
        | EntryControls(v.vm_entry_controls).difference(EntryControls::LOAD_IA32_PERF_GLOBAL_CTRL))
    .difference(EntryControls::IA32E_MODE | EntryControls::LOAD_IA32_EFER);
    let mut exit = l0.exit.difference(ExitControls::LOAD_IA32_EFER);
    if l0.has_load_efer {
        if guest_efer & efer::LMA != 0 {
            entry = entry | EntryControls::IA32E_MODE;
        }
        if guest_efer != l0.host_efer {
            entry = entry | EntryControls::LOAD_IA32_EFER;
            exit = exit | ExitControls::LOAD_IA32_EFER;
        }
    }

    Vmcs02Controls {
        pin,
        cpu,
        secondary,
        entry,
        exit,
        tpr_threshold,
        guest_intr_status,
        posted_intr_nv,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// L0 as kvm-intel sets up vmcs01 on a Skylake server.
    fn l0() -> L0 {
        L0 {
            pin: PinBased::EXT_INTR_MASK
                | PinBased::NMI_EXITING
                | PinBased::VIRTUAL_NMIS
                | PinBased(0x16),
            cpu: CpuBased(0x0401_e172)
                | CpuBased::HLT_EXITING
                | CpuBased::USE_TSC_OFFSETTING
                | CpuBased::UNCOND_IO_EXITING
                | CpuBased::USE_MSR_BITMAPS
                | CpuBased::MWAIT_EXITING
                | CpuBased::MONITOR_EXITING
                | CpuBased::TPR_SHADOW
                | CpuBased::ACTIVATE_SECONDARY_CONTROLS,
            secondary: Secondary::ENABLE_EPT
                | Secondary::ENABLE_VPID
                | Secondary::UNRESTRICTED_GUEST
                | Secondary::ENABLE_RDTSCP
                | Secondary::ENABLE_INVPCID
                | Secondary::ENABLE_XSAVES
                | Secondary::ENABLE_PML
                | Secondary::PAUSE_LOOP_EXITING,
            entry: EntryControls(0x11ff) | EntryControls::LOAD_IA32_PAT,
            exit: ExitControls(0x36dff)
                | ExitControls::HOST_ADDR_SPACE_SIZE
                | ExitControls::ACK_INTR_ON_EXIT,
            vmcs02_uses_msr_bitmaps: true,
            has_secondary: true,
            has_load_efer: true,
            umip_emulated: false,
            host_efer: 0xd01,
        }
    }

    #[test]
    fn l1_cannot_drop_l0_exits() {
        let v = Vmcs12::zeroed();
        let m = merge(&l0(), &v, 0xd01);
        assert!(m
            .pin
            .contains(PinBased::EXT_INTR_MASK | PinBased::NMI_EXITING));
        assert!(m.cpu.contains(
            CpuBased::HLT_EXITING | CpuBased::MWAIT_EXITING | CpuBased::UNCOND_IO_EXITING
        ));
        assert!(
            m.cpu
                .contains(CpuBased::CR8_LOAD_EXITING | CpuBased::CR8_STORE_EXITING),
            "no TPR shadow"
        );
        assert_eq!(m.tpr_threshold, None);
        let sec = m.secondary.unwrap_or_default();
        assert!(sec.contains(
            Secondary::ENABLE_EPT | Secondary::ENABLE_VPID | Secondary::PAUSE_LOOP_EXITING
        ));
        assert!(!sec.intersects(
            Secondary::ENABLE_RDTSCP | Secondary::ENABLE_PML | Secondary::UNRESTRICTED_GUEST
        ));
    }

    #[test]
    fn l1_adds_exits_and_its_own_features() {
        let mut v = Vmcs12::zeroed();
        v.pin_based_vm_exec_control =
            (PinBased::VMX_PREEMPTION_TIMER | PinBased::POSTED_INTR).bits();
        v.posted_intr_nv = 0xf2;
        v.cpu_based_vm_exec_control = (CpuBased::RDTSC_EXITING
            | CpuBased::TPR_SHADOW
            | CpuBased::USE_IO_BITMAPS
            | CpuBased::ACTIVATE_SECONDARY_CONTROLS)
            .bits();
        v.secondary_vm_exec_control = (Secondary::ENABLE_RDTSCP
            | Secondary::UNRESTRICTED_GUEST
            | Secondary::SHADOW_VMCS
            | Secondary::VIRTUAL_INTR_DELIVERY)
            .bits();
        v.tpr_threshold = 3;
        v.guest_intr_status = 0x1234;
        let m = merge(&l0(), &v, 0xd01);
        assert!(
            !m.pin.contains(PinBased::VMX_PREEMPTION_TIMER),
            "emulated by L0"
        );
        assert!(m.pin.contains(PinBased::POSTED_INTR));
        assert_eq!(m.posted_intr_nv, Some(0xf2));
        assert!(m.cpu.contains(
            CpuBased::RDTSC_EXITING | CpuBased::TPR_SHADOW | CpuBased::UNCOND_IO_EXITING
        ));
        assert!(!m.cpu.contains(CpuBased::USE_IO_BITMAPS));
        assert_eq!(m.tpr_threshold, Some(3));
        let sec = m.secondary.unwrap_or_default();
        assert!(sec.contains(Secondary::ENABLE_RDTSCP | Secondary::UNRESTRICTED_GUEST));
        assert!(!sec.contains(Secondary::SHADOW_VMCS));
        assert_eq!(m.guest_intr_status, Some(0x1234));
    }

    #[test]
    fn efer_drives_entry_and_exit() {
        let v = Vmcs12::zeroed();
        let m = merge(&l0(), &v, 0xd01);
        assert!(m.entry.contains(EntryControls::IA32E_MODE));
        assert!(
            !m.entry.contains(EntryControls::LOAD_IA32_EFER)
                && !m.exit.contains(ExitControls::LOAD_IA32_EFER)
        );
        let m = merge(&l0(), &v, 0x1);
        assert!(!m.entry.contains(EntryControls::IA32E_MODE));
        assert!(
            m.entry.contains(EntryControls::LOAD_IA32_EFER)
                && m.exit.contains(ExitControls::LOAD_IA32_EFER)
        );
    }

    #[test]
    fn l2_efer_rules() {
        let mut v = Vmcs12::zeroed();
        v.vm_entry_controls = (EntryControls::LOAD_IA32_EFER | EntryControls::IA32E_MODE).bits();
        v.guest_ia32_efer = 0x501;
        assert_eq!(l2_efer(&v, 0xd01, true), 0x501);
        assert_eq!(l2_efer(&v, 0x1, false), 0x501);
        v.vm_entry_controls = 0;
        assert_eq!(l2_efer(&v, 0xd01, true), 0x801);
    }

    proptest! {
        /// Whatever L1 puts in its controls, vmcs02 keeps every exit L0 asked
        /// for but those L0 deliberately hands to L1 or emulates.
        #[test]
        fn l0_controls_survive(pin in any::<u32>(), cpu in any::<u32>(), sec in any::<u32>(), entry in any::<u32>(), efer in any::<u64>()) {
            let mut v = Vmcs12::zeroed();
            v.pin_based_vm_exec_control = pin;
            v.cpu_based_vm_exec_control = cpu;
            v.secondary_vm_exec_control = sec;
            v.vm_entry_controls = entry;
            let l0 = l0();
            let m = merge(&l0, &v, efer);
            prop_assert!(m.pin.contains(l0.pin.difference(PinBased::POSTED_INTR)));
            prop_assert!(m.cpu.contains(l0.cpu.difference(
                CpuBased::INTR_WINDOW_EXITING | CpuBased::NMI_WINDOW_EXITING | CpuBased::TPR_SHADOW | CpuBased::USE_IO_BITMAPS
            )));
            prop_assert!(m.cpu.contains(CpuBased::UNCOND_IO_EXITING));
            let s = m.secondary.unwrap_or_default();
            prop_assert!(s.contains(l0.secondary.difference(
                Secondary::ENABLE_RDTSCP | Secondary::ENABLE_INVPCID | Secondary::ENABLE_XSAVES
                    | Secondary::ENABLE_PML | Secondary::UNRESTRICTED_GUEST
            )));
            prop_assert!(!s.intersects(Secondary::ENABLE_PML | Secondary::SHADOW_VMCS));
            prop_assert!(m.entry.contains(l0.entry.difference(EntryControls::IA32E_MODE | EntryControls::LOAD_IA32_EFER)));
            prop_assert!(m.exit.contains(l0.exit.difference(ExitControls::LOAD_IA32_EFER)));
        }
    }
}
