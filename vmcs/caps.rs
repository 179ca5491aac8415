// SPDX-License-Identifier: GPL-2.0

//! The VMX capability MSRs L1 sees (SDM Vol. 3D, Appendix A "VMX Capability
//! Reporting Facility"): computed from L0's capabilities as KVM's
//! `nested_vmx_setup_ctls_msrs()` does, read as `vmx_get_vmx_msr()` and
//! restored by userspace as `vmx_set_vmx_msr()` accepts them, so that a vCPU
//! migrates between backends with the same values.

use super::controls::{CpuBased, EntryControls, ExitControls, PinBased, Secondary, VmFunc};
use super::layout::{VMCS12_REVISION, VMCS12_SIZE};
use super::table;

pub use super::caps_restore::{restore, RestoreError};

/// MSR indices (SDM Vol. 4, table 2-2).
pub mod msr {
    /// IA32_VMX_BASIC.
    pub const BASIC: u32 = 0x480;
    /// IA32_VMX_PINBASED_CTLS.
    pub const PINBASED_CTLS: u32 = 0x481;
    /// IA32_VMX_PROCBASED_CTLS.
    pub const PROCBASED_CTLS: u32 = 0x482;
    /// IA32_VMX_EXIT_CTLS.
    pub const EXIT_CTLS: u32 = 0x483;
    /// IA32_VMX_ENTRY_CTLS.
    pub const ENTRY_CTLS: u32 = 0x484;
    /// IA32_VMX_MISC.
    pub const MISC: u32 = 0x485;
    /// IA32_VMX_CR0_FIXED0.
    pub const CR0_FIXED0: u32 = 0x486;
    /// IA32_VMX_CR0_FIXED1.
    pub const CR0_FIXED1: u32 = 0x487;
    /// IA32_VMX_CR4_FIXED0.
    pub const CR4_FIXED0: u32 = 0x488;
    /// IA32_VMX_CR4_FIXED1.
    pub const CR4_FIXED1: u32 = 0x489;
    /// IA32_VMX_VMCS_ENUM.
    pub const VMCS_ENUM: u32 = 0x48a;
    /// IA32_VMX_PROCBASED_CTLS2.
    pub const PROCBASED_CTLS2: u32 = 0x48b;
    /// IA32_VMX_EPT_VPID_CAP.
    pub const EPT_VPID_CAP: u32 = 0x48c;
    /// IA32_VMX_TRUE_PINBASED_CTLS.
    pub const TRUE_PINBASED_CTLS: u32 = 0x48d;
    /// IA32_VMX_TRUE_PROCBASED_CTLS.
    pub const TRUE_PROCBASED_CTLS: u32 = 0x48e;
    /// IA32_VMX_TRUE_EXIT_CTLS.
    pub const TRUE_EXIT_CTLS: u32 = 0x48f;
    /// IA32_VMX_TRUE_ENTRY_CTLS.
    pub const TRUE_ENTRY_CTLS: u32 = 0x490;
    /// IA32_VMX_VMFUNC.
    pub const VMFUNC: u32 = 0x491;
}

/// IA32_VMX_BASIC bits (SDM A.1).
pub mod basic {
    /// Bit 48: VMX structures limited to 32-bit physical addresses.
    pub const PHYS_ADDR_32BIT_ONLY: u64 = 1 << 48;
    /// Bit 49: dual-monitor treatment of SMIs and SMM.
    pub const DUAL_MONITOR_TREATMENT: u64 = 1 << 49;
    /// Bit 54: INS/OUTS information in VM-exit instruction information.
    pub const INOUT: u64 = 1 << 54;
    /// Bit 55: the TRUE_*_CTLS MSRs exist.
    pub const TRUE_CTLS: u64 = 1 << 55;
    /// Memory type write-back, for bits 53:50.
    pub const MEMTYPE_WB: u64 = 6;

    /// Bits 30:0.
    pub const fn revision_id(basic: u64) -> u32 {
        (basic & 0x7fff_ffff) as u32
    }

    /// Bits 44:32: VMCS region size.
    pub const fn vmcs_size(basic: u64) -> u32 {
        ((basic >> 32) & 0x1fff) as u32
    }

    /// KVM's `vmx_basic_encode_vmcs_info()`.
    pub const fn encode(revision: u32, size: u16, memtype: u64) -> u64 {
        revision as u64 | (size as u64) << 32 | memtype << 50
    }
}

/// IA32_VMX_MISC bits (SDM A.6).
pub mod misc {
    /// Bit 5: VM exits store EFER.LMA in "IA-32e mode guest".
    pub const SAVE_EFER_LMA: u64 = 1 << 5;
    /// Bit 6: activity state HLT.
    pub const ACTIVITY_HLT: u64 = 1 << 6;
    /// Bit 7: activity state shutdown.
    pub const ACTIVITY_SHUTDOWN: u64 = 1 << 7;
    /// Bit 8: activity state wait-for-SIPI.
    pub const ACTIVITY_WAIT_SIPI: u64 = 1 << 8;
    /// Bit 14: Intel PT in VMX operation.
    pub const INTEL_PT: u64 = 1 << 14;
    /// Bit 15: RDMSR of IA32_SMBASE in SMM.
    pub const RDMSR_IN_SMM: u64 = 1 << 15;
    /// Bit 28: VMXOFF blocks SMIs.
    pub const VMXOFF_BLOCK_SMI: u64 = 1 << 28;
    /// Bit 29: VMWRITE to any field, including VM-exit information.
    pub const VMWRITE_SHADOW_RO_FIELDS: u64 = 1 << 29;
    /// Bit 30: VM entry injects software events with length 0.
    pub const ZERO_LEN_INS: u64 = 1 << 30;
    /// The preemption timer rate KVM emulates (TSC >> 5).
    pub const EMULATED_PREEMPTION_TIMER_RATE: u64 = 5;

    /// Bits 4:0.
    pub const fn preemption_timer_rate(misc: u64) -> u64 {
        misc & 0x1f
    }

    /// Bits 24:16.
    pub const fn cr3_count(misc: u64) -> u64 {
        (misc >> 16) & 0x1ff
    }

    /// Bits 27:25: (max MSR-list entries / 512) - 1.
    pub const fn max_msr(misc: u64) -> u64 {
        (misc >> 25) & 0x7
    }

    /// Bits 63:32.
    pub const fn mseg_revid(misc: u64) -> u64 {
        misc >> 32
    }
}

/// IA32_VMX_EPT_VPID_CAP bits (SDM A.10), EPT half (bits 31:0).
pub mod ept_cap {
    /// Execute-only translations.
    pub const EXECUTE_ONLY: u32 = 1 << 0;
    /// 4-level page walk.
    pub const PAGE_WALK_4: u32 = 1 << 6;
    /// 5-level page walk.
    pub const PAGE_WALK_5: u32 = 1 << 7;
    /// EPT paging-structure memory type UC.
    pub const EPTP_UC: u32 = 1 << 8;
    /// EPT paging-structure memory type WB.
    pub const EPTP_WB: u32 = 1 << 14;
    /// 2-MByte pages.
    pub const PAGE_2M: u32 = 1 << 16;
    /// 1-GByte pages.
    pub const PAGE_1G: u32 = 1 << 17;
    /// INVEPT.
    pub const INVEPT: u32 = 1 << 20;
    /// Accessed and dirty flags.
    pub const AD: u32 = 1 << 21;
    /// Single-context INVEPT.
    pub const EXTENT_CONTEXT: u32 = 1 << 25;
    /// All-context INVEPT.
    pub const EXTENT_GLOBAL: u32 = 1 << 26;
}

/// IA32_VMX_EPT_VPID_CAP bits (SDM A.10), VPID half (bits 63:32, shifted).
pub mod vpid_cap {
    /// INVVPID.
    pub const INVVPID: u32 = 1 << 0;
    /// Individual-address INVVPID.
    pub const EXTENT_INDIVIDUAL_ADDR: u32 = 1 << 8;
    /// Single-context INVVPID.
    pub const EXTENT_SINGLE_CONTEXT: u32 = 1 << 9;
    /// All-context INVVPID.
    pub const EXTENT_GLOBAL_CONTEXT: u32 = 1 << 10;
    /// Single-context-retaining-globals INVVPID.
    pub const EXTENT_SINGLE_NON_GLOBAL: u32 = 1 << 11;
    /// The INVVPID types KVM supports.
    pub const EXTENT_SUPPORTED: u32 = EXTENT_INDIVIDUAL_ADDR
        | EXTENT_SINGLE_CONTEXT
        | EXTENT_GLOBAL_CONTEXT
        | EXTENT_SINGLE_NON_GLOBAL;
}

crate::vmcs::c_layout!($
    /// KVM's `struct nested_vmx_msrs` (capabilities.h): only the "true" control
    /// MSRs are stored; the others are derived on read.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    #[repr(C)]
    #[allow(missing_docs)]
    pub struct NestedVmxMsrs, fields nested_vmx_msrs_fields {
        pub procbased_ctls_low: u32,
        pub procbased_ctls_high: u32,
        pub secondary_ctls_low: u32,
        pub secondary_ctls_high: u32,
        pub pinbased_ctls_low: u32,
        pub pinbased_ctls_high: u32,
        pub exit_ctls_low: u32,
        pub exit_ctls_high: u32,
        pub entry_ctls_low: u32,
        pub entry_ctls_high: u32,
        pub misc_low: u32,
        pub misc_high: u32,
        pub ept_caps: u32,
        pub vpid_caps: u32,
        pub basic: u64,
        pub cr0_fixed0: u64,
        pub cr0_fixed1: u64,
        pub cr4_fixed0: u64,
        pub cr4_fixed1: u64,
        pub vmcs_enum: u64,
        pub vmfunc_controls: u64,
    }
);

/// What L0 has and enables: the inputs of `nested_vmx_setup_ctls_msrs()`
/// (`struct vmcs_config` and kvm-intel's module parameters).
#[derive(Clone, Copy, Debug, Default)]
pub struct HostCaps {
    /// vmcs_config.pin_based_exec_ctrl.
    pub pin_based: u32,
    /// vmcs_config.cpu_based_exec_ctrl.
    pub cpu_based: u32,
    /// vmcs_config.cpu_based_2nd_exec_ctrl.
    pub secondary: u32,
    /// vmcs_config.vmexit_ctrl.
    pub vmexit: u32,
    /// vmcs_config.vmentry_ctrl.
    pub vmentry: u32,
    /// vmcs_config.misc.
    pub misc: u64,
    /// EPT capabilities of the CPU (low half of IA32_VMX_EPT_VPID_CAP).
    pub ept_caps: u32,
    /// The CPU reports INS/OUTS information (IA32_VMX_BASIC[54]).
    pub basic_inout: bool,
    /// The CPU supports VM functions.
    pub has_vmfunc: bool,
    /// The CPU's IA32_VMX_CR0_FIXED1.
    pub cr0_fixed1: u64,
    /// The CPU's IA32_VMX_CR4_FIXED1.
    pub cr4_fixed1: u64,
    /// KVM emulates UMIP.
    pub umip_emulated: bool,
    /// kvm-intel enable_apicv.
    pub enable_apicv: bool,
    /// kvm-intel enable_ept.
    pub enable_ept: bool,
    /// kvm-intel enable_ept_ad_bits.
    pub enable_ept_ad_bits: bool,
    /// kvm-intel enable_vpid.
    pub enable_vpid: bool,
    /// kvm-intel enable_unrestricted_guest.
    pub enable_unrestricted_guest: bool,
    /// kvm-intel flexpriority_enabled.
    pub flexpriority_enabled: bool,
    /// kvm-intel enable_sgx.
    pub enable_sgx: bool,
}

use super::x86::{cr0, cr4};

/// KVM's `nested_vmx_setup_ctls_msrs()`: the capability MSRs of a new vCPU.
pub fn setup(host: &HostCaps) -> NestedVmxMsrs {
    // Pin-based controls: KVM emulates the preemption timer.
    let posted = if host.enable_apicv {
        PinBased::POSTED_INTR
    } else {
        PinBased::EMPTY
    };
    let pinbased_ctls_high = (PinBased(host.pin_based)
        & (PinBased::EXT_INTR_MASK | PinBased::NMI_EXITING | PinBased::VIRTUAL_NMIS | posted))
        .union(PinBased::ALWAYSON_WITHOUT_TRUE_MSR | PinBased::VMX_PREEMPTION_TIMER)
        .bits();

    // Exit controls: free control of debug-control saving.
    let exit_ctls_high = (ExitControls(host.vmexit)
        & (ExitControls::HOST_ADDR_SPACE_SIZE
            | ExitControls::LOAD_IA32_PAT
            | ExitControls::SAVE_IA32_PAT
            | ExitControls::CLEAR_BNDCFGS))
        .union(
            ExitControls::ALWAYSON_WITHOUT_TRUE_MSR
                | ExitControls::LOAD_IA32_EFER
                | ExitControls::SAVE_IA32_EFER
                | ExitControls::SAVE_VMX_PREEMPTION_TIMER
                | ExitControls::ACK_INTR_ON_EXIT
                | ExitControls::LOAD_IA32_PERF_GLOBAL_CTRL,
        )
        .bits();

    // Entry controls: free control of debug-control loading.
    let entry_ctls_high = (EntryControls(host.vmentry)
        & (EntryControls::IA32E_MODE | EntryControls::LOAD_IA32_PAT | EntryControls::LOAD_BNDCFGS))
        .union(
            EntryControls::ALWAYSON_WITHOUT_TRUE_MSR
                | EntryControls::LOAD_IA32_EFER
                | EntryControls::LOAD_IA32_PERF_GLOBAL_CTRL,
        )
        .bits();

    // Primary processor-based controls: MSR bitmaps are emulated even
    // without hardware support; free control of CR3 exiting.
    let procbased_ctls_high = (CpuBased(host.cpu_based)
        & (CpuBased::INTR_WINDOW_EXITING
            | CpuBased::NMI_WINDOW_EXITING
            | CpuBased::USE_TSC_OFFSETTING
            | CpuBased::HLT_EXITING
            | CpuBased::INVLPG_EXITING
            | CpuBased::MWAIT_EXITING
            | CpuBased::CR3_LOAD_EXITING
            | CpuBased::CR3_STORE_EXITING
            | CpuBased::CR8_LOAD_EXITING
            | CpuBased::CR8_STORE_EXITING
            | CpuBased::MOV_DR_EXITING
            | CpuBased::UNCOND_IO_EXITING
            | CpuBased::USE_IO_BITMAPS
            | CpuBased::MONITOR_TRAP_FLAG
            | CpuBased::MONITOR_EXITING
            | CpuBased::RDPMC_EXITING
            | CpuBased::RDTSC_EXITING
            | CpuBased::PAUSE_EXITING
            | CpuBased::TPR_SHADOW
            | CpuBased::ACTIVATE_SECONDARY_CONTROLS))
        .union(CpuBased::ALWAYSON_WITHOUT_TRUE_MSR | CpuBased::USE_MSR_BITMAPS)
        .bits();

    let (secondary_ctls_high, ept_caps, vpid_caps, vmfunc_controls) = setup_secondary(host);

    NestedVmxMsrs {
        pinbased_ctls_low: PinBased::ALWAYSON_WITHOUT_TRUE_MSR.bits(),
        pinbased_ctls_high,
        exit_ctls_low: ExitControls::ALWAYSON_WITHOUT_TRUE_MSR
            .difference(ExitControls::SAVE_DEBUG_CONTROLS)
            .bits(),
        exit_ctls_high,
        entry_ctls_low: EntryControls::ALWAYSON_WITHOUT_TRUE_MSR
            .difference(EntryControls::LOAD_DEBUG_CONTROLS)
            .bits(),
        entry_ctls_high,
        procbased_ctls_low: CpuBased::ALWAYSON_WITHOUT_TRUE_MSR
            .difference(CpuBased::CR3_LOAD_EXITING | CpuBased::CR3_STORE_EXITING)
            .bits(),
        procbased_ctls_high,
        secondary_ctls_low: 0,
        secondary_ctls_high,
        ept_caps,
        vpid_caps,
        vmfunc_controls,
        // Misc: KVM emulates the preemption timer at rate 5, HLT and
        // wait-for-SIPI, and VMWRITE to read-only fields.
        misc_low: ((host.misc & misc::SAVE_EFER_LMA)
            | misc::VMWRITE_SHADOW_RO_FIELDS
            | misc::EMULATED_PREEMPTION_TIMER_RATE
            | misc::ACTIVITY_HLT
            | misc::ACTIVITY_WAIT_SIPI) as u32,
        misc_high: 0,
        basic: basic::encode(VMCS12_REVISION, VMCS12_SIZE as u16, basic::MEMTYPE_WB)
            | basic::TRUE_CTLS
            | if host.basic_inout { basic::INOUT } else { 0 },
        // "We picked the standard core2 setting."
        cr0_fixed0: cr0::PE | cr0::PG | cr0::NE,
        cr4_fixed0: cr4::VMXE,
        cr0_fixed1: host.cr0_fixed1,
        cr4_fixed1: host.cr4_fixed1 | if host.umip_emulated { cr4::UMIP } else { 0 },
        vmcs_enum: u64::from(table::max_index()) << 1,
    }
}

/// Secondary controls, EPT/VPID capabilities and VM functions.
fn setup_secondary(host: &HostCaps) -> (u32, u32, u32, u64) {
    let mut high = (Secondary(host.secondary)
        & (Secondary::DESC
            | Secondary::ENABLE_RDTSCP
            | Secondary::VIRTUALIZE_X2APIC_MODE
            | Secondary::WBINVD_EXITING
            | Secondary::APIC_REGISTER_VIRT
            | Secondary::VIRTUAL_INTR_DELIVERY
            | Secondary::RDRAND_EXITING
            | Secondary::ENABLE_INVPCID
            | Secondary::ENABLE_VMFUNC
            | Secondary::RDSEED_EXITING
            | Secondary::ENABLE_XSAVES
            | Secondary::TSC_SCALING
            | Secondary::ENABLE_USR_WAIT_PAUSE))
        // VMCS shadowing is emulated even without hardware support.
        .union(Secondary::SHADOW_VMCS);
    let (mut ept_caps, mut vpid_caps, mut vmfunc) = (0, 0, 0);

    if host.enable_ept {
        high = high | Secondary::ENABLE_EPT;
        ept_caps = (ept_cap::PAGE_WALK_4
            | ept_cap::PAGE_WALK_5
            | ept_cap::EPTP_WB
            | ept_cap::INVEPT
            | ept_cap::EXECUTE_ONLY)
            & host.ept_caps;
        ept_caps |=
            ept_cap::EXTENT_GLOBAL | ept_cap::EXTENT_CONTEXT | ept_cap::PAGE_2M | ept_cap::PAGE_1G;
        if host.enable_ept_ad_bits {
            high = high | Secondary::ENABLE_PML;
            ept_caps |= ept_cap::AD;
        }
        // EPTP switching is emulated whenever VMFUNC exists.
        if host.has_vmfunc {
            vmfunc = VmFunc::EPTP_SWITCHING.bits();
        }
    }
    // Single-context INVVPID is advertised though treated as global.
    if host.enable_vpid {
        high = high | Secondary::ENABLE_VPID;
        vpid_caps = vpid_cap::INVVPID | vpid_cap::EXTENT_SUPPORTED;
    }
    if host.enable_unrestricted_guest {
        high = high | Secondary::UNRESTRICTED_GUEST;
    }
    if host.flexpriority_enabled {
        high = high | Secondary::VIRTUALIZE_APIC_ACCESSES;
    }
    if host.enable_sgx {
        high = high | Secondary::ENCLS_EXITING;
    }
    (high.bits(), ept_caps, vpid_caps, vmfunc)
}

/// A control MSR's value from its allowed-0 (low) and allowed-1 (high)
/// settings (KVM's `vmx_control_msr()`).
pub const fn control_msr(low: u32, high: u32) -> u64 {
    low as u64 | (high as u64) << 32
}

/// KVM's `vmx_control_verify()` (`fixed_bits_valid()`): `control` has every
/// bit `low` requires and no other bit but those `high` allows. (A bit in
/// `low` but not `high`, as a restore may leave, is required.)
pub const fn control_verify(control: u32, low: u32, high: u32) -> bool {
    (control & high) | low == control
}

/// Reads a capability MSR (KVM's `vmx_get_vmx_msr()`); `None` if `index` is
/// not one.
pub fn get(m: &NestedVmxMsrs, index: u32) -> Option<u64> {
    Some(match index {
        msr::BASIC => m.basic,
        msr::TRUE_PINBASED_CTLS => control_msr(m.pinbased_ctls_low, m.pinbased_ctls_high),
        msr::PINBASED_CTLS => {
            control_msr(m.pinbased_ctls_low, m.pinbased_ctls_high)
                | u64::from(PinBased::ALWAYSON_WITHOUT_TRUE_MSR.bits())
        }
        msr::TRUE_PROCBASED_CTLS => control_msr(m.procbased_ctls_low, m.procbased_ctls_high),
        msr::PROCBASED_CTLS => {
            control_msr(m.procbased_ctls_low, m.procbased_ctls_high)
                | u64::from(CpuBased::ALWAYSON_WITHOUT_TRUE_MSR.bits())
        }
        msr::TRUE_EXIT_CTLS => control_msr(m.exit_ctls_low, m.exit_ctls_high),
        msr::EXIT_CTLS => {
            control_msr(m.exit_ctls_low, m.exit_ctls_high)
                | u64::from(ExitControls::ALWAYSON_WITHOUT_TRUE_MSR.bits())
        }
        msr::TRUE_ENTRY_CTLS => control_msr(m.entry_ctls_low, m.entry_ctls_high),
        msr::ENTRY_CTLS => {
            control_msr(m.entry_ctls_low, m.entry_ctls_high)
                | u64::from(EntryControls::ALWAYSON_WITHOUT_TRUE_MSR.bits())
        }
        msr::MISC => control_msr(m.misc_low, m.misc_high),
        msr::CR0_FIXED0 => m.cr0_fixed0,
        msr::CR0_FIXED1 => m.cr0_fixed1,
        msr::CR4_FIXED0 => m.cr4_fixed0,
        msr::CR4_FIXED1 => m.cr4_fixed1,
        msr::VMCS_ENUM => m.vmcs_enum,
        msr::PROCBASED_CTLS2 => control_msr(m.secondary_ctls_low, m.secondary_ctls_high),
        msr::EPT_VPID_CAP => u64::from(m.ept_caps) | u64::from(m.vpid_caps) << 32,
        msr::VMFUNC => m.vmfunc_controls,
        _ => return None,
    })
}

#[cfg(test)]
#[path = "caps_tests.rs"]
mod tests;
