// SPDX-License-Identifier: GPL-2.0

//! Basic exit reasons (SDM Vol. 3D, Appendix C "VMX Basic Exit Reasons";
//! arch/x86/include/uapi/asm/vmx.h).

/// Basic exit reasons, by KVM's names.
pub mod basic {
    /// EXIT_REASON_EXCEPTION_NMI.
    pub const EXCEPTION_NMI: u16 = 0;
    /// EXIT_REASON_EXTERNAL_INTERRUPT.
    pub const EXTERNAL_INTERRUPT: u16 = 1;
    /// EXIT_REASON_TRIPLE_FAULT.
    pub const TRIPLE_FAULT: u16 = 2;
    /// EXIT_REASON_INIT_SIGNAL.
    pub const INIT_SIGNAL: u16 = 3;
    /// EXIT_REASON_SIPI_SIGNAL.
    pub const SIPI_SIGNAL: u16 = 4;
    /// EXIT_REASON_INTERRUPT_WINDOW.
    pub const INTERRUPT_WINDOW: u16 = 7;
    /// EXIT_REASON_NMI_WINDOW.
    pub const NMI_WINDOW: u16 = 8;
    /// EXIT_REASON_TASK_SWITCH.
    pub const TASK_SWITCH: u16 = 9;
    /// EXIT_REASON_CPUID.
    pub const CPUID: u16 = 10;
    /// EXIT_REASON_HLT.
    pub const HLT: u16 = 12;
    /// EXIT_REASON_INVD.
    pub const INVD: u16 = 13;
    /// EXIT_REASON_INVLPG.
    pub const INVLPG: u16 = 14;
    /// EXIT_REASON_RDPMC.
    pub const RDPMC: u16 = 15;
    /// EXIT_REASON_RDTSC.
    pub const RDTSC: u16 = 16;
    /// EXIT_REASON_VMCALL.
    pub const VMCALL: u16 = 18;
    /// EXIT_REASON_VMCLEAR.
    pub const VMCLEAR: u16 = 19;
    /// EXIT_REASON_VMLAUNCH.
    pub const VMLAUNCH: u16 = 20;
    /// EXIT_REASON_VMPTRLD.
    pub const VMPTRLD: u16 = 21;
    /// EXIT_REASON_VMPTRST.
    pub const VMPTRST: u16 = 22;
    /// EXIT_REASON_VMREAD.
    pub const VMREAD: u16 = 23;
    /// EXIT_REASON_VMRESUME.
    pub const VMRESUME: u16 = 24;
    /// EXIT_REASON_VMWRITE.
    pub const VMWRITE: u16 = 25;
    /// EXIT_REASON_VMOFF.
    pub const VMOFF: u16 = 26;
    /// EXIT_REASON_VMON.
    pub const VMON: u16 = 27;
    /// EXIT_REASON_CR_ACCESS.
    pub const CR_ACCESS: u16 = 28;
    /// EXIT_REASON_DR_ACCESS.
    pub const DR_ACCESS: u16 = 29;
    /// EXIT_REASON_IO_INSTRUCTION.
    pub const IO_INSTRUCTION: u16 = 30;
    /// EXIT_REASON_MSR_READ.
    pub const MSR_READ: u16 = 31;
    /// EXIT_REASON_MSR_WRITE.
    pub const MSR_WRITE: u16 = 32;
    /// EXIT_REASON_INVALID_STATE.
    pub const INVALID_STATE: u16 = 33;
    /// EXIT_REASON_MSR_LOAD_FAIL.
    pub const MSR_LOAD_FAIL: u16 = 34;
    /// EXIT_REASON_MWAIT_INSTRUCTION.
    pub const MWAIT_INSTRUCTION: u16 = 36;
    /// EXIT_REASON_MONITOR_TRAP_FLAG.
    pub const MONITOR_TRAP_FLAG: u16 = 37;
    /// EXIT_REASON_MONITOR_INSTRUCTION.
    pub const MONITOR_INSTRUCTION: u16 = 39;
    /// EXIT_REASON_PAUSE_INSTRUCTION.
    pub const PAUSE_INSTRUCTION: u16 = 40;
    /// EXIT_REASON_MCE_DURING_VMENTRY.
    pub const MCE_DURING_VMENTRY: u16 = 41;
    /// EXIT_REASON_TPR_BELOW_THRESHOLD.
    pub const TPR_BELOW_THRESHOLD: u16 = 43;
    /// EXIT_REASON_APIC_ACCESS.
    pub const APIC_ACCESS: u16 = 44;
    /// EXIT_REASON_EOI_INDUCED.
    pub const EOI_INDUCED: u16 = 45;
    /// EXIT_REASON_GDTR_IDTR.
    pub const GDTR_IDTR: u16 = 46;
    /// EXIT_REASON_LDTR_TR.
    pub const LDTR_TR: u16 = 47;
    /// EXIT_REASON_EPT_VIOLATION.
    pub const EPT_VIOLATION: u16 = 48;
    /// EXIT_REASON_EPT_MISCONFIG.
    pub const EPT_MISCONFIG: u16 = 49;
    /// EXIT_REASON_INVEPT.
    pub const INVEPT: u16 = 50;
    /// EXIT_REASON_RDTSCP.
    pub const RDTSCP: u16 = 51;
    /// EXIT_REASON_PREEMPTION_TIMER.
    pub const PREEMPTION_TIMER: u16 = 52;
    /// EXIT_REASON_INVVPID.
    pub const INVVPID: u16 = 53;
    /// EXIT_REASON_WBINVD.
    pub const WBINVD: u16 = 54;
    /// EXIT_REASON_XSETBV.
    pub const XSETBV: u16 = 55;
    /// EXIT_REASON_APIC_WRITE.
    pub const APIC_WRITE: u16 = 56;
    /// EXIT_REASON_RDRAND.
    pub const RDRAND: u16 = 57;
    /// EXIT_REASON_INVPCID.
    pub const INVPCID: u16 = 58;
    /// EXIT_REASON_VMFUNC.
    pub const VMFUNC: u16 = 59;
    /// EXIT_REASON_ENCLS.
    pub const ENCLS: u16 = 60;
    /// EXIT_REASON_RDSEED.
    pub const RDSEED: u16 = 61;
    /// EXIT_REASON_PML_FULL.
    pub const PML_FULL: u16 = 62;
    /// EXIT_REASON_XSAVES.
    pub const XSAVES: u16 = 63;
    /// EXIT_REASON_XRSTORS.
    pub const XRSTORS: u16 = 64;
    /// EXIT_REASON_UMWAIT.
    pub const UMWAIT: u16 = 67;
    /// EXIT_REASON_TPAUSE.
    pub const TPAUSE: u16 = 68;
    /// EXIT_REASON_BUS_LOCK.
    pub const BUS_LOCK: u16 = 74;
    /// EXIT_REASON_NOTIFY.
    pub const NOTIFY: u16 = 75;
}
