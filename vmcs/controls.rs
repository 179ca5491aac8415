// SPDX-License-Identifier: GPL-2.0

//! VMX control words as typed bit sets (SDM Vol. 3C 25.6 "VM-Execution
//! Control Fields", 25.7 "VM-Exit Control Fields", 25.8 "VM-Entry Control
//! Fields"; KVM's arch/x86/include/asm/vmx.h and vmxfeatures.h).

macro_rules! control_word {
    (
        $(#[$meta:meta])*
        $name:ident($ty:ty) {
            $($(#[$bmeta:meta])* $bit:ident = $val:expr;)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub struct $name(pub $ty);

        impl $name {
            $($(#[$bmeta])* pub const $bit: Self = Self($val);)*

            /// No bit set.
            pub const EMPTY: Self = Self(0);

            /// The raw value.
            pub const fn bits(self) -> $ty {
                self.0
            }

            /// Whether every bit of `other` is set.
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }

            /// Whether any bit of `other` is set.
            pub const fn intersects(self, other: Self) -> bool {
                self.0 & other.0 != 0
            }

            /// Union.
            pub const fn union(self, other: Self) -> Self {
                Self(self.0 | other.0)
            }

            /// Bits of `self` not in `other`.
            pub const fn difference(self, other: Self) -> Self {
                Self(self.0 & !other.0)
            }

            /// Intersection.
            pub const fn intersection(self, other: Self) -> Self {
                Self(self.0 & other.0)
            }
        }

        impl core::ops::BitOr for $name {
            type Output = Self;
            fn bitor(self, rhs: Self) -> Self {
                self.union(rhs)
            }
        }

        impl core::ops::BitAnd for $name {
            type Output = Self;
            fn bitand(self, rhs: Self) -> Self {
                self.intersection(rhs)
            }
        }
    };
}

control_word! {
    /// Pin-based VM-execution controls (SDM 25.6.1).
    PinBased(u32) {
        /// External-interrupt exiting.
        EXT_INTR_MASK = 1 << 0;
        /// NMI exiting.
        NMI_EXITING = 1 << 3;
        /// Virtual NMIs.
        VIRTUAL_NMIS = 1 << 5;
        /// Activate VMX-preemption timer.
        VMX_PREEMPTION_TIMER = 1 << 6;
        /// Process posted interrupts.
        POSTED_INTR = 1 << 7;
        /// Default-1 bits when IA32_VMX_BASIC[55] is 0 (SDM A.3.1).
        ALWAYSON_WITHOUT_TRUE_MSR = 0x0000_0016;
    }
}

control_word! {
    /// Primary processor-based VM-execution controls (SDM 25.6.2, table 25-6).
    CpuBased(u32) {
        /// Interrupt-window exiting.
        INTR_WINDOW_EXITING = 1 << 2;
        /// Use TSC offsetting.
        USE_TSC_OFFSETTING = 1 << 3;
        /// HLT exiting.
        HLT_EXITING = 1 << 7;
        /// INVLPG exiting.
        INVLPG_EXITING = 1 << 9;
        /// MWAIT exiting.
        MWAIT_EXITING = 1 << 10;
        /// RDPMC exiting.
        RDPMC_EXITING = 1 << 11;
        /// RDTSC exiting.
        RDTSC_EXITING = 1 << 12;
        /// CR3-load exiting.
        CR3_LOAD_EXITING = 1 << 15;
        /// CR3-store exiting.
        CR3_STORE_EXITING = 1 << 16;
        /// Activate tertiary controls.
        ACTIVATE_TERTIARY_CONTROLS = 1 << 17;
        /// CR8-load exiting.
        CR8_LOAD_EXITING = 1 << 19;
        /// CR8-store exiting.
        CR8_STORE_EXITING = 1 << 20;
        /// Use TPR shadow.
        TPR_SHADOW = 1 << 21;
        /// NMI-window exiting.
        NMI_WINDOW_EXITING = 1 << 22;
        /// MOV-DR exiting.
        MOV_DR_EXITING = 1 << 23;
        /// Unconditional I/O exiting.
        UNCOND_IO_EXITING = 1 << 24;
        /// Use I/O bitmaps.
        USE_IO_BITMAPS = 1 << 25;
        /// Monitor trap flag.
        MONITOR_TRAP_FLAG = 1 << 27;
        /// Use MSR bitmaps.
        USE_MSR_BITMAPS = 1 << 28;
        /// MONITOR exiting.
        MONITOR_EXITING = 1 << 29;
        /// PAUSE exiting.
        PAUSE_EXITING = 1 << 30;
        /// Activate secondary controls.
        ACTIVATE_SECONDARY_CONTROLS = 1 << 31;
        /// Default-1 bits when IA32_VMX_BASIC[55] is 0 (SDM A.3.2).
        ALWAYSON_WITHOUT_TRUE_MSR = 0x0401_e172;
    }
}

control_word! {
    /// Secondary processor-based VM-execution controls (SDM 25.6.2, table 25-7).
    Secondary(u32) {
        /// Virtualize APIC accesses.
        VIRTUALIZE_APIC_ACCESSES = 1 << 0;
        /// Enable EPT.
        ENABLE_EPT = 1 << 1;
        /// Descriptor-table exiting.
        DESC = 1 << 2;
        /// Enable RDTSCP.
        ENABLE_RDTSCP = 1 << 3;
        /// Virtualize x2APIC mode.
        VIRTUALIZE_X2APIC_MODE = 1 << 4;
        /// Enable VPID.
        ENABLE_VPID = 1 << 5;
        /// WBINVD exiting.
        WBINVD_EXITING = 1 << 6;
        /// Unrestricted guest.
        UNRESTRICTED_GUEST = 1 << 7;
        /// APIC-register virtualization.
        APIC_REGISTER_VIRT = 1 << 8;
        /// Virtual-interrupt delivery.
        VIRTUAL_INTR_DELIVERY = 1 << 9;
        /// PAUSE-loop exiting.
        PAUSE_LOOP_EXITING = 1 << 10;
        /// RDRAND exiting.
        RDRAND_EXITING = 1 << 11;
        /// Enable INVPCID.
        ENABLE_INVPCID = 1 << 12;
        /// Enable VM functions.
        ENABLE_VMFUNC = 1 << 13;
        /// VMCS shadowing.
        SHADOW_VMCS = 1 << 14;
        /// Enable ENCLS exiting.
        ENCLS_EXITING = 1 << 15;
        /// RDSEED exiting.
        RDSEED_EXITING = 1 << 16;
        /// Enable PML.
        ENABLE_PML = 1 << 17;
        /// EPT-violation #VE.
        EPT_VIOLATION_VE = 1 << 18;
        /// Conceal VMX from PT.
        PT_CONCEAL_VMX = 1 << 19;
        /// Enable XSAVES/XRSTORS.
        ENABLE_XSAVES = 1 << 20;
        /// Mode-based execute control for EPT.
        MODE_BASED_EPT_EXEC = 1 << 22;
        /// Intel PT uses guest physical addresses.
        PT_USE_GPA = 1 << 24;
        /// Use TSC scaling.
        TSC_SCALING = 1 << 25;
        /// Enable user wait and pause.
        ENABLE_USR_WAIT_PAUSE = 1 << 26;
        /// Bus-lock detection.
        BUS_LOCK_DETECTION = 1 << 30;
        /// Notify VM exiting.
        NOTIFY_VM_EXITING = 1 << 31;
    }
}

control_word! {
    /// Primary VM-exit controls (SDM 25.7.1, table 25-13).
    ExitControls(u32) {
        /// Save debug controls.
        SAVE_DEBUG_CONTROLS = 1 << 2;
        /// Host address-space size.
        HOST_ADDR_SPACE_SIZE = 1 << 9;
        /// Load IA32_PERF_GLOBAL_CTRL.
        LOAD_IA32_PERF_GLOBAL_CTRL = 1 << 12;
        /// Acknowledge interrupt on exit.
        ACK_INTR_ON_EXIT = 1 << 15;
        /// Save IA32_PAT.
        SAVE_IA32_PAT = 1 << 18;
        /// Load IA32_PAT.
        LOAD_IA32_PAT = 1 << 19;
        /// Save IA32_EFER.
        SAVE_IA32_EFER = 1 << 20;
        /// Load IA32_EFER.
        LOAD_IA32_EFER = 1 << 21;
        /// Save VMX-preemption timer value.
        SAVE_VMX_PREEMPTION_TIMER = 1 << 22;
        /// Clear IA32_BNDCFGS.
        CLEAR_BNDCFGS = 1 << 23;
        /// Conceal VMX from PT.
        PT_CONCEAL_PIP = 1 << 24;
        /// Clear IA32_RTIT_CTL.
        CLEAR_IA32_RTIT_CTL = 1 << 25;
        /// Default-1 bits when IA32_VMX_BASIC[55] is 0 (SDM A.4.1).
        ALWAYSON_WITHOUT_TRUE_MSR = 0x0003_6dff;
    }
}

control_word! {
    /// VM-entry controls (SDM 25.8.1, table 25-15).
    EntryControls(u32) {
        /// Load debug controls.
        LOAD_DEBUG_CONTROLS = 1 << 2;
        /// IA-32e mode guest.
        IA32E_MODE = 1 << 9;
        /// Entry to SMM.
        SMM = 1 << 10;
        /// Deactivate dual-monitor treatment.
        DEACT_DUAL_MONITOR = 1 << 11;
        /// Load IA32_PERF_GLOBAL_CTRL.
        LOAD_IA32_PERF_GLOBAL_CTRL = 1 << 13;
        /// Load IA32_PAT.
        LOAD_IA32_PAT = 1 << 14;
        /// Load IA32_EFER.
        LOAD_IA32_EFER = 1 << 15;
        /// Load IA32_BNDCFGS.
        LOAD_BNDCFGS = 1 << 16;
        /// Conceal VMX from PT.
        PT_CONCEAL_PIP = 1 << 17;
        /// Load IA32_RTIT_CTL.
        LOAD_IA32_RTIT_CTL = 1 << 18;
        /// Default-1 bits when IA32_VMX_BASIC[55] is 0 (SDM A.5).
        ALWAYSON_WITHOUT_TRUE_MSR = 0x0000_11ff;
    }
}

control_word! {
    /// VM-function controls (SDM 25.6.14).
    VmFunc(u64) {
        /// EPTP switching (VM function 0).
        EPTP_SWITCHING = 1 << 0;
    }
}

/// The controls of a vmcs12 as they take effect (KVM's `nested_cpu_has*()`):
/// the secondary controls count only when activated.
#[derive(Clone, Copy, Debug)]
pub struct Vmcs12Controls {
    /// Pin-based controls.
    pub pin: PinBased,
    /// Primary processor-based controls.
    pub cpu: CpuBased,
    /// Secondary controls in effect: empty unless activated.
    pub sec: Secondary,
    /// VM-exit controls.
    pub exit: ExitControls,
    /// VM-entry controls.
    pub entry: EntryControls,
}

impl Vmcs12Controls {
    /// The controls of `v`.
    pub fn of(v: &super::layout::Vmcs12) -> Self {
        let cpu = CpuBased(v.cpu_based_vm_exec_control);
        Vmcs12Controls {
            pin: PinBased(v.pin_based_vm_exec_control),
            cpu,
            sec: if cpu.contains(CpuBased::ACTIVATE_SECONDARY_CONTROLS) {
                Secondary(v.secondary_vm_exec_control)
            } else {
                Secondary::EMPTY
            },
            exit: ExitControls(v.vm_exit_controls),
            entry: EntryControls(v.vm_entry_controls),
        }
    }

    /// EPT is enabled.
    pub fn has_ept(&self) -> bool {
        self.sec.contains(Secondary::ENABLE_EPT)
    }
}
