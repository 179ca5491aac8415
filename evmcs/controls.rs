// SPDX-License-Identifier: GPL-2.0

//! What Hyper-V's enlightened VMCS v1 can express: the VMX controls it has
//! fields and bits for (`EVMCS1_SUPPORTED_*`, arch/x86/kvm/vmx/hyperv_evmcs.h),
//! the capability MSRs L1 reads filtered to them
//! (`nested_evmcs_filter_control_msr()`, vmx/hyperv.c), and the VM-entry
//! checks that L1 used no other (`nested_evmcs_check_controls()`), each a
//! named [`EvmcsCheck`].

use core::ffi::CStr;

use crate::vmcs::caps::msr;
use crate::vmcs::controls::{CpuBased, EntryControls, ExitControls, PinBased, Secondary};
use crate::vmcs::layout::Vmcs12;

/// `EVMCS1_SUPPORTED_PINCTRL`.
pub const SUPPORTED_PINCTRL: PinBased = PinBased(
    PinBased::ALWAYSON_WITHOUT_TRUE_MSR.bits()
        | PinBased::EXT_INTR_MASK.bits()
        | PinBased::NMI_EXITING.bits()
        | PinBased::VIRTUAL_NMIS.bits(),
);

/// `EVMCS1_SUPPORTED_EXEC_CTRL`.
pub const SUPPORTED_EXEC_CTRL: CpuBased = CpuBased(
    CpuBased::ALWAYSON_WITHOUT_TRUE_MSR.bits()
        | CpuBased::HLT_EXITING.bits()
        | CpuBased::CR3_LOAD_EXITING.bits()
        | CpuBased::CR3_STORE_EXITING.bits()
        | CpuBased::UNCOND_IO_EXITING.bits()
        | CpuBased::MOV_DR_EXITING.bits()
        | CpuBased::USE_TSC_OFFSETTING.bits()
        | CpuBased::MWAIT_EXITING.bits()
        | CpuBased::MONITOR_EXITING.bits()
        | CpuBased::INVLPG_EXITING.bits()
        | CpuBased::RDPMC_EXITING.bits()
        | CpuBased::INTR_WINDOW_EXITING.bits()
        | CpuBased::CR8_LOAD_EXITING.bits()
        | CpuBased::CR8_STORE_EXITING.bits()
        | CpuBased::RDTSC_EXITING.bits()
        | CpuBased::TPR_SHADOW.bits()
        | CpuBased::USE_IO_BITMAPS.bits()
        | CpuBased::MONITOR_TRAP_FLAG.bits()
        | CpuBased::USE_MSR_BITMAPS.bits()
        | CpuBased::NMI_WINDOW_EXITING.bits()
        | CpuBased::PAUSE_EXITING.bits()
        | CpuBased::ACTIVATE_SECONDARY_CONTROLS.bits(),
);

/// `EVMCS1_SUPPORTED_2NDEXEC`.
pub const SUPPORTED_2NDEXEC: Secondary = Secondary(
    Secondary::VIRTUALIZE_X2APIC_MODE.bits()
        | Secondary::WBINVD_EXITING.bits()
        | Secondary::ENABLE_VPID.bits()
        | Secondary::ENABLE_EPT.bits()
        | Secondary::UNRESTRICTED_GUEST.bits()
        | Secondary::DESC.bits()
        | Secondary::ENABLE_RDTSCP.bits()
        | Secondary::ENABLE_INVPCID.bits()
        | Secondary::ENABLE_XSAVES.bits()
        | Secondary::RDSEED_EXITING.bits()
        | Secondary::RDRAND_EXITING.bits()
        | Secondary::TSC_SCALING.bits()
        | Secondary::ENABLE_USR_WAIT_PAUSE.bits()
        | Secondary::PT_USE_GPA.bits()
        | Secondary::PT_CONCEAL_VMX.bits()
        | Secondary::BUS_LOCK_DETECTION.bits()
        | Secondary::NOTIFY_VM_EXITING.bits()
        | Secondary::ENCLS_EXITING.bits(),
);

/// `EVMCS1_SUPPORTED_VMEXIT_CTRL`.
pub const SUPPORTED_VMEXIT_CTRL: ExitControls = ExitControls(
    ExitControls::ALWAYSON_WITHOUT_TRUE_MSR.bits()
        | ExitControls::SAVE_DEBUG_CONTROLS.bits()
        | ExitControls::ACK_INTR_ON_EXIT.bits()
        | ExitControls::HOST_ADDR_SPACE_SIZE.bits()
        | ExitControls::LOAD_IA32_PERF_GLOBAL_CTRL.bits()
        | ExitControls::SAVE_IA32_PAT.bits()
        | ExitControls::LOAD_IA32_PAT.bits()
        | ExitControls::SAVE_IA32_EFER.bits()
        | ExitControls::LOAD_IA32_EFER.bits()
        | ExitControls::CLEAR_BNDCFGS.bits()
        | ExitControls::PT_CONCEAL_PIP.bits()
        | ExitControls::CLEAR_IA32_RTIT_CTL.bits(),
);

/// `EVMCS1_SUPPORTED_VMENTRY_CTRL`.
pub const SUPPORTED_VMENTRY_CTRL: EntryControls = EntryControls(
    EntryControls::ALWAYSON_WITHOUT_TRUE_MSR.bits()
        | EntryControls::LOAD_DEBUG_CONTROLS.bits()
        | EntryControls::IA32E_MODE.bits()
        | EntryControls::LOAD_IA32_PERF_GLOBAL_CTRL.bits()
        | EntryControls::LOAD_IA32_PAT.bits()
        | EntryControls::LOAD_IA32_EFER.bits()
        | EntryControls::LOAD_BNDCFGS.bits()
        | EntryControls::PT_CONCEAL_PIP.bits()
        | EntryControls::LOAD_IA32_RTIT_CTL.bits(),
);

/// `EVMCS1_SUPPORTED_VMFUNC`: none.
pub const SUPPORTED_VMFUNC: u64 = 0;

/// The secondary controls an eVMCS L1 may use: vmx/hyperv.c's
/// `evmcs_supported_ctrls[EVMCS_2NDEXEC]` leaves TSC scaling out (KVM
/// cannot yet honour the eVMCS's TSC multiplier).
pub const SUPPORTED_2NDEXEC_KVM: Secondary = SUPPORTED_2NDEXEC.difference(Secondary::TSC_SCALING);

/// `nested_evmcs_filter_control_msr()`: the capability MSR `index` as an
/// eVMCS L1 reads it (`value` is what KVM would report without eVMCS).
/// The allowed-1 half of a control MSR (the VMFUNC MSR: its only half)
/// loses what eVMCS v1 has no field or bit for. `perf_global_ctrl` is
/// Hyper-V's CPUID bit HV_X64_NESTED_EVMCS1_PERF_GLOBAL_CTRL: without it the
/// PERF_GLOBAL_CTRL load controls are hidden too (some Windows guests fail
/// to boot otherwise).
pub const fn filter_control_msr(index: u32, value: u64, perf_global_ctrl: bool) -> u64 {
    let low = value & 0xffff_ffff;
    let high = value >> 32;
    let (low, high) = match index {
        msr::EXIT_CTLS | msr::TRUE_EXIT_CTLS => {
            let mut s = SUPPORTED_VMEXIT_CTRL;
            if !perf_global_ctrl {
                s = s.difference(ExitControls::LOAD_IA32_PERF_GLOBAL_CTRL);
            }
            (low, high & s.bits() as u64)
        }
        msr::ENTRY_CTLS | msr::TRUE_ENTRY_CTLS => {
            let mut s = SUPPORTED_VMENTRY_CTRL;
            if !perf_global_ctrl {
                s = s.difference(EntryControls::LOAD_IA32_PERF_GLOBAL_CTRL);
            }
            (low, high & s.bits() as u64)
        }
        msr::PROCBASED_CTLS | msr::TRUE_PROCBASED_CTLS => {
            (low, high & SUPPORTED_EXEC_CTRL.bits() as u64)
        }
        msr::PROCBASED_CTLS2 => (low, high & SUPPORTED_2NDEXEC_KVM.bits() as u64),
        msr::PINBASED_CTLS | msr::TRUE_PINBASED_CTLS => {
            (low, high & SUPPORTED_PINCTRL.bits() as u64)
        }
        msr::VMFUNC => (low & SUPPORTED_VMFUNC, high),
        _ => (low, high),
    };
    low | high << 32
}

/// A control an eVMCS L1 set that eVMCS v1 cannot express: one
/// `CC(!nested_evmcs_is_valid_controls(...))` of
/// `nested_evmcs_check_controls()` each. The entry fails as any control
/// check, VMfailValid(VM entry with invalid control field(s)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EvmcsCheck {
    /// Pin-based controls outside `EVMCS1_SUPPORTED_PINCTRL`.
    PinControls,
    /// Primary processor-based controls outside `EVMCS1_SUPPORTED_EXEC_CTRL`.
    ExecControls,
    /// Secondary controls outside `EVMCS1_SUPPORTED_2NDEXEC` (less TSC
    /// scaling).
    SecondaryControls,
    /// VM-exit controls outside `EVMCS1_SUPPORTED_VMEXIT_CTRL`.
    ExitControls,
    /// VM-entry controls outside `EVMCS1_SUPPORTED_VMENTRY_CTRL`.
    EntryControls,
    /// VM-function controls outside `EVMCS1_SUPPORTED_VMFUNC`. Bits 63:32
    /// are a `WARN_ON_ONCE()` in C (KVM offers none of them, so the VMX
    /// checks before refuse them); here the same failure, never a warning.
    VmfuncControls,
}

impl EvmcsCheck {
    /// Every check, in `nested_evmcs_check_controls()`'s order.
    pub const ALL: &'static [EvmcsCheck] = &[
        EvmcsCheck::PinControls,
        EvmcsCheck::ExecControls,
        EvmcsCheck::SecondaryControls,
        EvmcsCheck::ExitControls,
        EvmcsCheck::EntryControls,
        EvmcsCheck::VmfuncControls,
    ];

    /// Where the check comes from.
    pub const fn source(self) -> &'static str {
        match self {
            EvmcsCheck::PinControls => "hyperv_evmcs.h EVMCS1_SUPPORTED_PINCTRL",
            EvmcsCheck::ExecControls => "hyperv_evmcs.h EVMCS1_SUPPORTED_EXEC_CTRL",
            EvmcsCheck::SecondaryControls => "hyperv_evmcs.h EVMCS1_SUPPORTED_2NDEXEC",
            EvmcsCheck::ExitControls => "hyperv_evmcs.h EVMCS1_SUPPORTED_VMEXIT_CTRL",
            EvmcsCheck::EntryControls => "hyperv_evmcs.h EVMCS1_SUPPORTED_VMENTRY_CTRL",
            EvmcsCheck::VmfuncControls => "hyperv_evmcs.h EVMCS1_SUPPORTED_VMFUNC",
        }
    }

    /// The message of the `kvm_nested_vmenter_failed` tracepoint.
    pub const fn trace_msg(self) -> &'static CStr {
        match self {
            EvmcsCheck::PinControls => c"EvmcsPinControls (EVMCS1_SUPPORTED_PINCTRL)",
            EvmcsCheck::ExecControls => c"EvmcsExecControls (EVMCS1_SUPPORTED_EXEC_CTRL)",
            EvmcsCheck::SecondaryControls => c"EvmcsSecondaryControls (EVMCS1_SUPPORTED_2NDEXEC)",
            EvmcsCheck::ExitControls => c"EvmcsExitControls (EVMCS1_SUPPORTED_VMEXIT_CTRL)",
            EvmcsCheck::EntryControls => c"EvmcsEntryControls (EVMCS1_SUPPORTED_VMENTRY_CTRL)",
            EvmcsCheck::VmfuncControls => c"EvmcsVmfuncControls (EVMCS1_SUPPORTED_VMFUNC)",
        }
    }
}

/// `nested_evmcs_check_controls()`: vmcs12's controls as they are (not as
/// in effect: an unused secondary word still counts, as in C).
pub fn check_controls(v: &Vmcs12) -> Result<(), EvmcsCheck> {
    let within = |val: u32, supported: u32| val & !supported == 0;
    if !within(v.pin_based_vm_exec_control, SUPPORTED_PINCTRL.bits()) {
        return Err(EvmcsCheck::PinControls);
    }
    if !within(v.cpu_based_vm_exec_control, SUPPORTED_EXEC_CTRL.bits()) {
        return Err(EvmcsCheck::ExecControls);
    }
    if !within(v.secondary_vm_exec_control, SUPPORTED_2NDEXEC_KVM.bits()) {
        return Err(EvmcsCheck::SecondaryControls);
    }
    if !within(v.vm_exit_controls, SUPPORTED_VMEXIT_CTRL.bits()) {
        return Err(EvmcsCheck::ExitControls);
    }
    if !within(v.vm_entry_controls, SUPPORTED_VMENTRY_CTRL.bits()) {
        return Err(EvmcsCheck::EntryControls);
    }
    if v.vm_function_control & !SUPPORTED_VMFUNC != 0 {
        return Err(EvmcsCheck::VmfuncControls);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_sets_are_hyperv_evmcs_h() {
        // The values of the C macros, computed by hand from vmx.h's bits.
        assert_eq!(SUPPORTED_PINCTRL.bits(), 0x0000_003f);
        assert_eq!(SUPPORTED_EXEC_CTRL.bits(), 0xfff9_fffe);
        assert_eq!(SUPPORTED_2NDEXEC.bits(), 0xc719_98fe);
        assert_eq!(SUPPORTED_2NDEXEC_KVM.bits(), 0xc519_98fe);
        assert_eq!(SUPPORTED_VMEXIT_CTRL.bits(), 0x03bf_ffff);
        assert_eq!(SUPPORTED_VMENTRY_CTRL.bits(), 0x0007_f3ff);
    }

    #[test]
    fn filter_touches_only_the_allowed_1_half() {
        let all = u64::MAX;
        let f = |i, p| filter_control_msr(i, all, p);
        assert_eq!(f(msr::PINBASED_CTLS, true), 0x3f << 32 | 0xffff_ffff);
        assert_eq!(f(msr::TRUE_PINBASED_CTLS, true) >> 32, 0x3f);
        assert_eq!(f(msr::PROCBASED_CTLS2, true) >> 32, 0xc519_98fe);
        assert_eq!(
            f(msr::TRUE_PROCBASED_CTLS, true) >> 32,
            u64::from(SUPPORTED_EXEC_CTRL.bits())
        );
        // Perf global control only with Hyper-V's CPUID bit.
        let perf_exit = u64::from(ExitControls::LOAD_IA32_PERF_GLOBAL_CTRL.bits()) << 32;
        let perf_entry = u64::from(EntryControls::LOAD_IA32_PERF_GLOBAL_CTRL.bits()) << 32;
        assert_ne!(f(msr::EXIT_CTLS, true) & perf_exit, 0);
        assert_eq!(f(msr::TRUE_EXIT_CTLS, false) & perf_exit, 0);
        assert_ne!(f(msr::TRUE_ENTRY_CTLS, true) & perf_entry, 0);
        assert_eq!(f(msr::ENTRY_CTLS, false) & perf_entry, 0);
        // VMFUNC: its low half, the only one, loses everything.
        assert_eq!(f(msr::VMFUNC, true), 0xffff_ffff_0000_0000);
        // Other MSRs pass unchanged.
        assert_eq!(f(msr::BASIC, false), all);
        assert_eq!(f(msr::MISC, false), all);
        assert_eq!(f(msr::EPT_VPID_CAP, false), all);
    }

    #[test]
    fn each_check_fails_on_its_own_field() {
        let ok = Vmcs12::default();
        assert_eq!(check_controls(&ok), Ok(()));
        type Breaker = fn(&mut Vmcs12);
        let cases: [(EvmcsCheck, Breaker); 6] = [
            (EvmcsCheck::PinControls, |v| {
                v.pin_based_vm_exec_control = PinBased::POSTED_INTR.bits()
            }),
            (EvmcsCheck::ExecControls, |v| {
                v.cpu_based_vm_exec_control = CpuBased::ACTIVATE_TERTIARY_CONTROLS.bits()
            }),
            (EvmcsCheck::SecondaryControls, |v| {
                v.secondary_vm_exec_control = Secondary::TSC_SCALING.bits()
            }),
            (EvmcsCheck::ExitControls, |v| {
                v.vm_exit_controls = ExitControls::SAVE_VMX_PREEMPTION_TIMER.bits()
            }),
            (EvmcsCheck::EntryControls, |v| {
                v.vm_entry_controls = EntryControls::SMM.bits()
            }),
            (EvmcsCheck::VmfuncControls, |v| {
                v.vm_function_control = 1 << 40
            }),
        ];
        for (i, (check, break_it)) in cases.iter().enumerate() {
            assert_eq!(EvmcsCheck::ALL.get(i), Some(check));
            let mut v = ok;
            break_it(&mut v);
            assert_eq!(check_controls(&v), Err(*check), "{}", check.source());
            assert!(check.trace_msg().to_bytes().starts_with(b"Evmcs"));
        }
        // A secondary word is checked even with secondary controls off.
        let v = Vmcs12 {
            secondary_vm_exec_control: Secondary::ENABLE_PML.bits(),
            ..ok
        };
        assert_eq!(check_controls(&v), Err(EvmcsCheck::SecondaryControls));
        // What eVMCS has passes.
        let v = Vmcs12 {
            pin_based_vm_exec_control: SUPPORTED_PINCTRL.bits(),
            cpu_based_vm_exec_control: SUPPORTED_EXEC_CTRL.bits(),
            secondary_vm_exec_control: SUPPORTED_2NDEXEC_KVM.bits(),
            vm_exit_controls: SUPPORTED_VMEXIT_CTRL.bits(),
            vm_entry_controls: SUPPORTED_VMENTRY_CTRL.bits(),
            ..ok
        };
        assert_eq!(check_controls(&v), Ok(()));
    }
}
