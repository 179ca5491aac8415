// SPDX-License-Identifier: GPL-2.0

//! The VM-entry checks KVM performs on vmcs12 before entering L2 (SDM Vol.
//! 3C, chapter 27 "VM Entries", sections 27.2 and 27.3; section numbers are
//! those of SDM order number 326019-081US), in KVM 6.12's order:
//! `nested_vmx_check_controls()`, `nested_vmx_check_address_space_size()`,
//! `nested_vmx_check_host_state()` and `nested_vmx_check_guest_state()`.
//!
//! Every failed check is a named [`Check`]: KVM's `CC()` conditions, one
//! variant each. What the world contributes (guest physical-address width,
//! CPUID-dependent reserved bits, L1 memory) comes from a [`Vcpu`].

pub mod controls;
pub mod guest;
pub mod host;

pub use controls::check_controls;
pub use guest::check_guest_state;
pub use host::{check_address_space_size, check_host_state};

use core::ffi::CStr;

use super::caps::NestedVmxMsrs;
use super::layout::{Vmcs12, VmcsHdr};
use super::outcome::VmInstructionError;
use super::x86;
use crate::vmcs::exit_reason::basic::INVALID_STATE;

/// What the checks need to know about the vCPU and L1 beyond vmcs12.
pub trait Vcpu {
    /// L1's MAXPHYADDR: a GPA with a bit at or above it set is illegal
    /// (KVM's `kvm_vcpu_is_legal_gpa()`).
    fn maxphyaddr(&self) -> u32;
    /// L1's VMX capability MSRs (`vmx->nested.msrs`).
    fn vmx_msrs(&self) -> &NestedVmxMsrs;
    /// CR4 bits L1 may not set (KVM's `__kvm_is_valid_cr4()`).
    fn cr4_reserved_bits(&self) -> u64;
    /// L1 may use LAM: CR3 bits 61 and 62 are then legal.
    fn has_lam(&self) -> bool;
    /// Linear-address width of MSR and descriptor-table bases: 57 if the CPU
    /// supports 5-level paging, else 48.
    fn max_virt_addr_bits(&self) -> u32;
    /// Current linear-address width of L1: 57 if CR4.LA57, else 48.
    fn virt_addr_bits(&self) -> u32;
    /// L1's EFER.LMA.
    fn efer_lma(&self) -> bool;
    /// KVM's `kvm_valid_efer()`: no bit reserved for this vCPU's CPUID.
    fn efer_valid(&self, efer: u64) -> bool;
    /// Reserved bits of IA32_PERF_GLOBAL_CTRL (`pmu->global_ctrl_rsvd`).
    fn perf_global_ctrl_reserved(&self) -> u64;
    /// KVM's `vmx_is_valid_debugctl(vcpu, debugctl, false)`.
    fn debugctl_valid(&self, debugctl: u64) -> bool;
    /// KVM_X86_QUIRK_VMCS12_ALLOW_FREEZE_IN_SMM is enabled for the VM.
    fn quirk_allow_freeze_in_smm(&self) -> bool;
    /// The header of the VMCS at `gpa` in L1 memory, `None` if unreadable.
    fn read_vmcs_hdr(&mut self, gpa: u64) -> Option<VmcsHdr>;
    /// The entry is a VMLAUNCH/VMRESUME being emulated, not a state restore.
    fn nested_run_pending(&self) -> bool;
    /// L1 uses the enlightened VMCS (`guest_cpuid_has_evmcs()`): a
    /// restored vmcs12 must also pass `crate::evmcs::controls`' checks.
    fn evmcs_exposed(&self) -> bool {
        false
    }
}

/// What a failed check makes of the VM entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryFailure {
    /// VMfailValid before the entry starts (SDM 27.2).
    VmFail(VmInstructionError),
    /// VM-entry failure: a VM exit with this basic reason, bit 31 set
    /// (SDM 27.8 "VM-Entry Failures During or After Loading Guest State").
    VmExit {
        /// Basic exit reason.
        reason: u16,
        /// Exit qualification.
        qualification: u64,
    },
}

/// Bit 31 of the exit reason: VM-entry failure.
pub const EXIT_REASON_FAILED_VMENTRY: u32 = 1 << 31;

/// Exit qualifications of an invalid-guest-state VM exit (SDM 27.8; KVM's
/// `enum vm_entry_failure_code`).
pub mod entry_fail {
    /// Default.
    pub const DEFAULT: u64 = 0;
    /// Failure loading a PDPTE.
    pub const PDPTE: u64 = 2;
    /// NMI injection with blocking by NMI (not used by KVM's checks).
    pub const NMI: u64 = 3;
    /// Invalid VMCS link pointer.
    pub const VMCS_LINK_PTR: u64 = 4;
}

macro_rules! checks {
    ($(
        $(#[$doc:meta])*
        $group:ident $name:ident = $sdm:literal;
    )*) => {
        /// A failed VM-entry check, by name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Check {
            $($(#[$doc])* $name,)*
        }

        impl Check {
            /// Every check, in the order KVM evaluates them.
            pub const ALL: &'static [Check] = &[$(Check::$name),*];

            /// Section of SDM Vol. 3C (326019-081US) stating the check.
            pub const fn sdm(self) -> &'static str {
                match self {
                    $(Check::$name => $sdm,)*
                }
            }

            /// The check's name and SDM section as a C string, e.g.
            /// `"PinBasedControls (SDM 27.2.1.1)"`: the message of KVM's
            /// `kvm_nested_vmenter_failed` tracepoint, which nested.c fills
            /// with the failed `CC()` condition.
            pub const fn trace_msg(self) -> &'static CStr {
                let s: &'static [u8] = match self {
                    $(Check::$name => concat!(stringify!($name), " (SDM ", $sdm, ")\0").as_bytes(),)*
                };
                match CStr::from_bytes_with_nul(s) {
                    Ok(c) => c,
                    Err(_) => c"VM-entry check",
                }
            }

            /// Which area of the VMCS the check is about.
            pub const fn group(self) -> Group {
                match self {
                    $(Check::$name => Group::$group,)*
                }
            }
        }
    };
}

/// The areas checks belong to; each fails the entry in its own way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// VMX controls: VMfailValid(VM entry with invalid control field(s)).
    Control,
    /// Host-state area: VMfailValid(VM entry with invalid host-state field(s)).
    Host,
    /// Guest-state area: VM exit, invalid guest state.
    Guest,
    /// VMCS link pointer (guest-state checks): VM exit, invalid guest state,
    /// qualification "VMCS link pointer".
    LinkPointer,
}

impl Check {
    /// The outcome of the entry when this check fails.
    pub const fn failure(self) -> EntryFailure {
        match self.group() {
            Group::Control => EntryFailure::VmFail(VmInstructionError::EntryInvalidControlField),
            Group::Host => EntryFailure::VmFail(VmInstructionError::EntryInvalidHostStateField),
            Group::Guest => EntryFailure::VmExit {
                reason: INVALID_STATE,
                qualification: entry_fail::DEFAULT,
            },
            Group::LinkPointer => EntryFailure::VmExit {
                reason: INVALID_STATE,
                qualification: entry_fail::VMCS_LINK_PTR,
            },
        }
    }
}

checks! {
    // nested_check_vm_execution_controls()
    /// Pin-based controls outside IA32_VMX_TRUE_PINBASED_CTLS.
    Control PinBasedControls = "27.2.1.1";
    /// Primary processor-based controls outside IA32_VMX_TRUE_PROCBASED_CTLS.
    Control ProcBasedControls = "27.2.1.1";
    /// Secondary controls outside IA32_VMX_PROCBASED_CTLS2.
    Control SecondaryControls = "27.2.1.1";
    /// CR3-target count above IA32_VMX_MISC[24:16].
    Control Cr3TargetCount = "27.2.1.1";
    /// I/O bitmap A not a legal page address.
    Control IoBitmapA = "27.2.1.1";
    /// I/O bitmap B not a legal page address.
    Control IoBitmapB = "27.2.1.1";
    /// MSR bitmap not a legal page address.
    Control MsrBitmap = "27.2.1.1";
    /// Virtual-APIC page not a legal page address.
    Control VirtualApicPage = "27.2.1.1";
    /// APIC-access page not a legal page address.
    Control ApicAccessPage = "27.2.1.1";
    /// Virtualize x2APIC mode together with virtualize APIC accesses.
    Control X2apicModeWithApicAccess = "27.2.1.1";
    /// Virtual-interrupt delivery without external-interrupt exiting.
    Control VidWithoutExternalInterruptExiting = "27.2.1.1";
    /// Posted interrupts without virtual-interrupt delivery.
    Control PostedIntrWithoutVid = "27.2.1.1";
    /// Posted interrupts without acknowledge interrupt on exit.
    Control PostedIntrWithoutAckOnExit = "27.2.1.1";
    /// Posted-interrupt notification vector with bits 15:8 set.
    Control PostedIntrNotificationVector = "27.2.1.1";
    /// Posted-interrupt descriptor not 64-byte aligned or not legal.
    Control PostedIntrDescriptor = "27.2.1.1";
    /// APIC virtualization without the TPR shadow.
    Control ApicvWithoutTprShadow = "27.2.1.1";
    /// Virtual NMIs without NMI exiting.
    Control VirtualNmisWithoutNmiExiting = "27.2.1.1";
    /// NMI-window exiting without virtual NMIs.
    Control NmiWindowWithoutVirtualNmis = "27.2.1.1";
    /// PML without EPT.
    Control PmlWithoutEpt = "27.2.1.1";
    /// PML address not a legal page address.
    Control PmlAddress = "27.2.1.1";
    /// Unrestricted guest without EPT.
    Control UnrestrictedGuestWithoutEpt = "27.2.1.1";
    /// Mode-based execute control without EPT.
    Control ModeBasedEptExecWithoutEpt = "27.2.1.1";
    /// VMREAD bitmap not a legal page address.
    Control VmreadBitmap = "27.2.1.1";
    /// VMWRITE bitmap not a legal page address.
    Control VmwriteBitmap = "27.2.1.1";
    /// VPID enabled with VPID 0.
    Control VpidZero = "27.2.1.1";
    /// Save VMX-preemption timer without activating it (KVM's check, no
    /// CC() in C).
    Control SavePreemptionTimerWithoutTimer = "27.2.1.2";
    /// EPTP memory type neither WB nor UC, or not supported.
    Control EptpMemoryType = "27.2.1.1";
    /// EPTP page-walk length neither 4 nor 5, or not supported.
    Control EptpPageWalkLength = "27.2.1.1";
    /// EPTP with reserved bits (11:7, or above MAXPHYADDR) set.
    Control EptpReservedBits = "27.2.1.1";
    /// EPTP enables accessed/dirty flags without support.
    Control EptpAccessDirty = "27.2.1.1";
    /// VM-function controls outside IA32_VMX_VMFUNC.
    Control VmFunctionControls = "27.2.1.1";
    /// EPTP switching without EPT.
    Control EptpSwitchingWithoutEpt = "27.2.1.1";
    /// EPTP-list address not a legal page address.
    Control EptpListAddress = "27.2.1.1";
    // nested_check_vm_exit_controls()
    /// VM-exit controls outside IA32_VMX_TRUE_EXIT_CTLS.
    Control ExitControls = "27.2.1.2";
    /// VM-exit MSR-load area misaligned or beyond MAXPHYADDR.
    Control ExitMsrLoadArea = "27.2.1.2";
    /// VM-exit MSR-store area misaligned or beyond MAXPHYADDR.
    Control ExitMsrStoreArea = "27.2.1.2";
    // nested_check_vm_entry_controls()
    /// VM-entry controls outside IA32_VMX_TRUE_ENTRY_CTLS.
    Control EntryControls = "27.2.1.3";
    /// Event injection with the reserved interruption type 1.
    Control EntryIntrTypeReserved = "27.2.1.3";
    /// Event injection of type "other event" without MTF support.
    Control EntryIntrTypeOtherEvent = "27.2.1.3";
    /// NMI injection with a vector other than 2.
    Control EntryNmiVector = "27.2.1.3";
    /// Hardware-exception injection with a vector above 31.
    Control EntryHardExceptionVector = "27.2.1.3";
    /// "Other event" injection with a vector other than 0.
    Control EntryOtherEventVector = "27.2.1.3";
    /// Deliver-error-code bit not as the vector and mode require.
    Control EntryDeliverErrorCode = "27.2.1.3";
    /// VM-entry exception error code with bits 31:16 set.
    Control EntryExceptionErrorCode = "27.2.1.3";
    /// VM-entry interruption information with reserved bits 30:12 set.
    Control EntryIntrInfoReserved = "27.2.1.3";
    /// Software event injection with instruction length 0 or above 15.
    Control EntryInstructionLength = "27.2.1.3";
    /// VM-entry MSR-load area misaligned or beyond MAXPHYADDR.
    Control EntryMsrLoadArea = "27.2.1.3";
    // nested_vmx_check_address_space_size()
    /// Host address-space size differs from L1's EFER.LMA.
    Host AddressSpaceSize = "27.2.4";
    // nested_vmx_check_host_state()
    /// Host CR0 violates IA32_VMX_CR0_FIXED0/1.
    Host HostCr0 = "27.2.2";
    /// Host CR4 violates IA32_VMX_CR4_FIXED0/1 or sets reserved bits.
    Host HostCr4 = "27.2.2";
    /// Host CR3 beyond MAXPHYADDR.
    Host HostCr3 = "27.2.2";
    /// Host CR4.CET without CR0.WP.
    Host HostCetWithoutWp = "27.2.2";
    /// Host IA32_SYSENTER_ESP not canonical.
    Host HostSysenterEsp = "27.2.2";
    /// Host IA32_SYSENTER_EIP not canonical.
    Host HostSysenterEip = "27.2.2";
    /// Host IA32_PAT not a valid PAT.
    Host HostPat = "27.2.2";
    /// Host IA32_PERF_GLOBAL_CTRL sets reserved bits.
    Host HostPerfGlobalCtrl = "27.2.2";
    /// 64-bit host without CR4.PAE.
    Host HostPaeFor64BitHost = "27.2.4";
    /// IA-32e mode guest with a non-64-bit host.
    Host HostIa32eGuestWithoutIa32eHost = "27.2.4";
    /// Non-64-bit host with CR4.PCIDE.
    Host HostPcide = "27.2.4";
    /// Non-64-bit host with RIP above 4 GiB.
    Host HostRipAbove4G = "27.2.4";
    /// Host CS selector RPL or TI set.
    Host HostCsSelector = "27.2.3";
    /// Host SS selector RPL or TI set.
    Host HostSsSelector = "27.2.3";
    /// Host DS selector RPL or TI set.
    Host HostDsSelector = "27.2.3";
    /// Host ES selector RPL or TI set.
    Host HostEsSelector = "27.2.3";
    /// Host FS selector RPL or TI set.
    Host HostFsSelector = "27.2.3";
    /// Host GS selector RPL or TI set.
    Host HostGsSelector = "27.2.3";
    /// Host TR selector RPL or TI set.
    Host HostTrSelector = "27.2.3";
    /// Host CS selector null.
    Host HostCsNull = "27.2.3";
    /// Host TR selector null.
    Host HostTrNull = "27.2.3";
    /// Host SS selector null with a non-64-bit host.
    Host HostSsNull = "27.2.3";
    /// Host FS base not canonical.
    Host HostFsBase = "27.2.3";
    /// Host GS base not canonical.
    Host HostGsBase = "27.2.3";
    /// Host GDTR base not canonical.
    Host HostGdtrBase = "27.2.3";
    /// Host IDTR base not canonical.
    Host HostIdtrBase = "27.2.3";
    /// Host TR base not canonical.
    Host HostTrBase = "27.2.3";
    /// Host RIP not canonical.
    Host HostRip = "27.2.4";
    /// Host IA32_EFER sets reserved bits.
    Host HostEferReserved = "27.2.2";
    /// Host IA32_EFER.LMA differs from the host address-space size.
    Host HostEferLma = "27.2.2";
    /// Host IA32_EFER.LME differs from the host address-space size.
    Host HostEferLme = "27.2.2";
    // nested_vmx_check_guest_state()
    /// Guest CR0 violates IA32_VMX_CR0_FIXED0/1 (PE, PG free when
    /// unrestricted).
    Guest GuestCr0 = "27.3.1.1";
    /// Guest CR4 violates IA32_VMX_CR4_FIXED0/1 or sets reserved bits.
    Guest GuestCr4 = "27.3.1.1";
    /// Guest CR4.CET without CR0.WP.
    Guest GuestCetWithoutWp = "27.3.1.1";
    /// Guest DR7 with bits 63:32 set.
    Guest GuestDr7 = "27.3.1.1";
    /// Guest IA32_DEBUGCTL sets reserved bits.
    Guest GuestDebugctl = "27.3.1.1";
    /// Guest IA32_PAT not a valid PAT.
    Guest GuestPat = "27.3.1.1";
    /// VMCS link pointer not a legal page address.
    LinkPointer LinkPointerAddress = "27.3.1.5";
    /// VMCS link pointer: L1 memory not readable.
    LinkPointer LinkPointerUnreadable = "27.3.1.5";
    /// VMCS link pointer: revision identifier is not VMCS12_REVISION.
    LinkPointer LinkPointerRevision = "27.3.1.5";
    /// VMCS link pointer: shadow-VMCS indicator differs from VMCS shadowing.
    LinkPointer LinkPointerShadowIndicator = "27.3.1.5";
    /// Guest IA32_PERF_GLOBAL_CTRL sets reserved bits.
    Guest GuestPerfGlobalCtrl = "27.3.1.1";
    /// Guest CR0.PG without CR0.PE.
    Guest GuestPagingWithoutProtection = "27.3.1.1";
    /// IA-32e mode guest without CR4.PAE.
    Guest GuestIa32eWithoutPae = "27.3.1.1";
    /// IA-32e mode guest without CR0.PG.
    Guest GuestIa32eWithoutPaging = "27.3.1.1";
    /// Guest IA32_EFER sets reserved bits.
    Guest GuestEferReserved = "27.3.1.1";
    /// Guest IA32_EFER.LMA differs from "IA-32e mode guest".
    Guest GuestEferLma = "27.3.1.1";
    /// Guest IA32_EFER.LME differs from "IA-32e mode guest" with paging.
    Guest GuestEferLme = "27.3.1.1";
    /// Guest IA32_BNDCFGS base not canonical.
    Guest GuestBndcfgsBase = "27.3.1.1";
    /// Guest IA32_BNDCFGS sets reserved bits 11:2.
    Guest GuestBndcfgsReserved = "27.3.1.1";
    /// Guest activity state not active, HLT or wait-for-SIPI.
    Guest GuestActivityState = "27.3.1.5";
}

/// All of KVM's checks before a nested VM entry, in its order: the first
/// failing check, or `Ok` if the entry may proceed.
pub fn check_vmentry(v: &Vmcs12, vcpu: &mut impl Vcpu) -> Result<(), Check> {
    check_controls(v, vcpu)?;
    check_address_space_size(v, vcpu)?;
    check_host_state(v, vcpu)?;
    check_guest_state(v, vcpu)
}

// --- helpers shared by the check files -------------------------------------

/// KVM's `kvm_vcpu_is_legal_gpa()` for this vCPU.
pub(crate) fn legal_gpa(vcpu: &impl Vcpu, gpa: u64) -> bool {
    x86::legal_gpa(gpa, vcpu.maxphyaddr())
}

/// KVM's `kvm_vcpu_is_legal_aligned_gpa()` for this vCPU.
pub(crate) fn legal_aligned_gpa(vcpu: &impl Vcpu, gpa: u64, alignment: u64) -> bool {
    x86::legal_aligned_gpa(gpa, vcpu.maxphyaddr(), alignment)
}

/// KVM's `page_address_valid()` for this vCPU.
pub(crate) fn page_address_valid(vcpu: &impl Vcpu, gpa: u64) -> bool {
    x86::page_address_valid(gpa, vcpu.maxphyaddr())
}

pub(crate) use x86::is_canonical;

/// KVM's `kvm_pat_valid()`: every entry is 0, 1, 4, 5, 6 or 7.
pub(crate) const fn pat_valid(pat: u64) -> bool {
    pat & 0xf8f8_f8f8_f8f8_f8f8 == 0 && (pat | ((pat & 0x0202_0202_0202_0202) << 1)) == pat
}

/// KVM's `fixed_bits_valid()`.
pub(crate) const fn fixed_bits_valid(value: u64, fixed0: u64, fixed1: u64) -> bool {
    (value & fixed1) | fixed0 == value
}

/// Checks `ok`, naming the failure.
pub(crate) fn cc(ok: bool, check: Check) -> Result<(), Check> {
    if ok {
        Ok(())
    } else {
        Err(check)
    }
}

#[cfg(test)]
pub(crate) mod tests;
