// SPDX-License-Identifier: GPL-2.0

//! Nested EPT: while L2 runs with EPT in vmcs12, KVM's MMU shadows L1's EPT
//! tables. What KVM decides when that shadow faults
//! (`nested_ept_inject_page_fault()`: which exit L1 gets, with which
//! qualification), which cached roots hold the same mapping
//! (`nested_ept_invalidate_addr()`), and how the shadow EPT MMU is set up
//! for vmcs12's EPT pointer (`nested_ept_new_eptp()`). The glue implements
//! `EptVcpu` with KVM's MMU, the hardware VMCS and the nested VM exit.

use crate::nested::exit_reason::basic as r;
use crate::nested::pml::PmlVcpu;

/// IA32_VMX_EPT_VPID_CAP: execute-only translations.
pub const EPT_EXECUTE_ONLY: u32 = 1 << 0;
/// IA32_VMX_EPT_VPID_CAP: 2-MiB pages.
pub const EPT_2MB_PAGE: u32 = 1 << 16;
/// IA32_VMX_EPT_VPID_CAP: 1-GiB pages.
pub const EPT_1GB_PAGE: u32 = 1 << 17;
/// EPTP bit 6: accessed and dirty flags.
pub const EPTP_AD_ENABLE: u64 = 1 << 6;
/// EPTP bits 51:12, the EPT PML4 (or PML5) table: KVM's EPTP_PA_MASK.
pub const EPTP_PA_MASK: u64 = ((1 << 52) - 1) & !0xfff;
/// The page-fault error code's "reserved bit" flag: an EPT
/// misconfiguration (PFERR_RSVD_MASK).
pub const PFERR_RSVD: u64 = 1 << 3;
/// EPT-violation qualification bits 7 and 8: the guest-linear address is
/// valid, and the access was to its translation
/// (EPT_VIOLATION_GVA_IS_VALID | EPT_VIOLATION_GVA_TRANSLATED).
pub const EPT_VIOLATION_GVA_MASK: u64 = (1 << 7) | (1 << 8);
/// Exit qualification bit 12: NMI unblocking due to IRET
/// (INTR_INFO_UNBLOCK_NMI), shared by EPT-violation and PML-full exits.
pub const UNBLOCK_NMI: u64 = 1 << 12;

/// A fault of the shadow EPT tables (KVM's `struct x86_exception`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EptFault {
    /// The faulting guest-physical address.
    pub address: u64,
    /// KVM's page-fault error code (PFERR_*).
    pub error_code: u64,
    /// The EPT-violation qualification KVM's walk computed.
    pub exit_qualification: u64,
}

/// One of the MMU's cached previous roots (`prev_roots[i]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CachedRoot {
    /// The root's HPA is valid (`VALID_PAGE(hpa)`).
    pub valid: bool,
    /// The EPTP the root was built for (`pgd`).
    pub pgd: u64,
}

/// The exit a fault of the shadow EPT tables is for L1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EptExit {
    /// PML full: the fault came from a write L1's PML buffer had no room
    /// to log (`pml::write_buffer`).
    PmlFull,
    /// EPT misconfiguration (a reserved bit in L1's tables).
    Misconfig,
    /// EPT violation.
    Violation,
}

impl EptExit {
    /// The exit's basic reason.
    pub const fn reason(self) -> u16 {
        match self {
            EptExit::PmlFull => r::PML_FULL,
            EptExit::Misconfig => r::EPT_MISCONFIG,
            EptExit::Violation => r::EPT_VIOLATION,
        }
    }
}

/// The exit for `fault` with `pml_full` (KVM's `nested.pml_full`) set or
/// not.
pub const fn exit_for(pml_full: bool, fault: &EptFault) -> EptExit {
    if pml_full {
        EptExit::PmlFull
    } else if fault.error_code & PFERR_RSVD != 0 {
        EptExit::Misconfig
    } else {
        EptExit::Violation
    }
}

/// An EPT violation's qualification: KVM's walk's, with the guest-linear
/// bits (7, 8) from `gva_source`, the hardware exit qualification when the
/// fault is the one L2's EPT violation took, else the walk's own (a
/// synthesized fault's hardware qualification is stale).
pub const fn violation_qualification(walk: u64, gva_source: u64) -> u64 {
    (walk & !EPT_VIOLATION_GVA_MASK) | (gva_source & EPT_VIOLATION_GVA_MASK)
}

/// The mask `kvm_mmu_invalidate_addr()` takes (KVM_MMU_ROOT_PREVIOUS(i),
/// bit 1 + i) for the cached roots built from the same EPT tables as
/// `eptp`: the TLB tags mappings with the EPT PML4 address, not the whole
/// EPTP.
pub fn stale_roots(roots: impl Iterator<Item = CachedRoot>, eptp: u64) -> u64 {
    roots
        .enumerate()
        .filter(|(_, root)| root.valid && root.pgd & EPTP_PA_MASK == eptp & EPTP_PA_MASK)
        .fold(0u64, |mask, (i, _)| {
            let bit = u32::try_from(i)
                .ok()
                .and_then(|i| 1u64.checked_shl(i.wrapping_add(1)))
                .unwrap_or(0);
            mask | bit
        })
}

/// The shadow EPT MMU KVM sets up (`kvm_init_shadow_ept_mmu()`'s
/// arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShadowEptMmu {
    /// L1 may use execute-only translations.
    pub execonly: bool,
    /// The largest page level L1 may map (1: 4 KiB, 2: 2 MiB, 3: 1 GiB;
    /// KVM's `ept_caps_to_lpage_level()`).
    pub huge_page_level: u8,
    /// vmcs12's EPTP enables accessed and dirty flags.
    pub accessed_dirty: bool,
    /// vmcs12's EPTP.
    pub eptp: u64,
}

/// KVM's `nested_ept_new_eptp()` for L1's EPT capabilities and vmcs12's
/// EPTP.
pub const fn shadow_ept_mmu(ept_caps: u32, eptp: u64) -> ShadowEptMmu {
    let huge_page_level = if ept_caps & EPT_1GB_PAGE != 0 {
        3
    } else if ept_caps & EPT_2MB_PAGE != 0 {
        2
    } else {
        1
    };
    ShadowEptMmu {
        execonly: ept_caps & EPT_EXECUTE_ONLY != 0,
        huge_page_level,
        accessed_dirty: eptp & EPTP_AD_ENABLE != 0,
        eptp,
    }
}

/// The vCPU of a nested EPT fault. Every method applies or reports one
/// thing.
pub trait EptVcpu: PmlVcpu {
    /// EXIT_QUALIFICATION of the current VMCS (L2's last exit).
    fn hw_exit_qualification(&mut self) -> u64;
    /// vmcs12's EPT pointer (0 without a vmcs12).
    fn ept_pointer(&mut self) -> u64;
    /// The current MMU's cached previous root `i`, `None` past the last.
    fn prev_root(&mut self, i: usize) -> Option<CachedRoot>;
    /// `kvm_mmu_invalidate_addr()` of `addr` in the current MMU's roots
    /// `roots` (KVM_MMU_ROOT_* bits).
    fn invalidate_roots(&mut self, addr: u64, roots: u64);
    /// Counts an EPT fault reported to L1.
    fn count_ept_fault(&mut self) {
        crate::nested::counters::L2_EPT_FAULTS.inc()
    }
    /// `nested_vmx_vmexit()` with `reason`, no interruption info and
    /// `qualification`.
    fn ept_vmexit(&mut self, reason: u16, qualification: u64);
    /// Sets vmcs12's guest-physical address (after the exit wrote vmcs12).
    fn set_guest_physical_address(&mut self, gpa: u64);
    /// L1's IA32_VMX_EPT_VPID_CAP (`nested.msrs.ept_caps`).
    fn ept_caps(&mut self) -> u32;
    /// `kvm_init_shadow_ept_mmu()`.
    fn init_shadow_ept_mmu(&mut self, mmu: ShadowEptMmu);
}

/// KVM's `nested_ept_inject_page_fault()`: a fault of L1's EPT tables is
/// an exit to L1. `from_hardware`: the fault is the one L2's own EPT
/// violation took (not one KVM's emulator synthesized).
pub fn inject_page_fault<V: EptVcpu>(k: &mut V, fault: &EptFault, from_hardware: bool) {
    let exit = exit_for(k.pml_full(), fault);
    let qualification = match exit {
        EptExit::PmlFull => {
            k.set_pml_full(false);
            k.hw_exit_qualification() & UNBLOCK_NMI
        }
        EptExit::Misconfig => 0,
        EptExit::Violation => {
            let gva_source = if from_hardware {
                k.hw_exit_qualification()
            } else {
                fault.exit_qualification
            };
            violation_qualification(fault.exit_qualification, gva_source)
        }
    };
    if exit != EptExit::PmlFull {
        // The faulting address is synced in the current root already; the
        // cached roots of the same EPT tables hold it too.
        let eptp = k.ept_pointer();
        invalidate_addr(k, eptp, fault.address);
    }
    k.count_ept_fault();
    k.ept_vmexit(exit.reason(), qualification);
    k.set_guest_physical_address(fault.address);
}

/// KVM's `nested_ept_invalidate_addr()`.
pub fn invalidate_addr<V: EptVcpu>(k: &mut V, eptp: u64, addr: u64) {
    let roots = stale_roots((0..).map_while(|i| k.prev_root(i)), eptp);
    if roots != 0 {
        k.invalidate_roots(addr, roots);
    }
}

/// KVM's `nested_ept_new_eptp()`: the shadow EPT MMU for vmcs12's EPT
/// pointer (at entry, and after L2 switched it with VMFUNC).
pub fn new_eptp<V: EptVcpu>(k: &mut V) {
    let caps = k.ept_caps();
    let eptp = k.ept_pointer();
    k.init_shadow_ept_mmu(shadow_ept_mmu(caps, eptp));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nested::model_pages::{EptCall, EptModel};

    fn fault(error_code: u64, qual: u64) -> EptFault {
        EptFault {
            address: 0x1234_5000,
            error_code,
            exit_qualification: qual,
        }
    }

    #[test]
    fn exit_choice() {
        let f = fault(PFERR_RSVD, 0);
        assert_eq!(exit_for(true, &f), EptExit::PmlFull, "PML full first");
        assert_eq!(exit_for(false, &f), EptExit::Misconfig);
        assert_eq!(exit_for(false, &fault(0x2, 0)), EptExit::Violation);
        assert_eq!(EptExit::PmlFull.reason(), 62);
        assert_eq!(EptExit::Misconfig.reason(), 49);
        assert_eq!(EptExit::Violation.reason(), 48);
    }

    #[test]
    fn violation_from_hardware_takes_the_gva_bits_from_the_vmcs() {
        let mut m = EptModel {
            hw_qual: 0x180 | UNBLOCK_NMI,
            eptp: 0x5000 | EPTP_AD_ENABLE,
            ..EptModel::default()
        };
        // The walk says "no GVA"; the hardware says valid and translated.
        inject_page_fault(&mut m, &fault(0, 0x3a), true);
        assert_eq!(
            m.log,
            [
                EptCall::Count,
                EptCall::Vmexit(48, 0x1ba),
                EptCall::Gpa(0x1234_5000)
            ]
        );
        // Synthesized: the walk's bits, the stale VMCS's ignored.
        let mut m = EptModel {
            hw_qual: 0x180,
            ..EptModel::default()
        };
        inject_page_fault(&mut m, &fault(0, 0x83), false);
        assert_eq!(m.log.get(1), Some(&EptCall::Vmexit(48, 0x83)));
    }

    #[test]
    fn misconfig_has_no_qualification() {
        let mut m = EptModel {
            hw_qual: !0,
            ..EptModel::default()
        };
        inject_page_fault(&mut m, &fault(PFERR_RSVD | 1, 0x1ff), true);
        assert_eq!(m.log.get(1), Some(&EptCall::Vmexit(49, 0)));
    }

    #[test]
    fn pml_full_is_reported_once_with_the_nmi_bit() {
        let mut m = EptModel {
            pml_full: true,
            hw_qual: UNBLOCK_NMI | 0x187,
            eptp: 0x5000,
            roots: std::vec![CachedRoot {
                valid: true,
                pgd: 0x5000,
            }],
            ..EptModel::default()
        };
        inject_page_fault(&mut m, &fault(0, 0x1ff), true);
        assert!(!m.pml_full);
        // No invalidation for a PML-full exit.
        assert_eq!(
            m.log,
            [
                EptCall::Count,
                EptCall::Vmexit(62, UNBLOCK_NMI),
                EptCall::Gpa(0x1234_5000)
            ]
        );
    }

    #[test]
    fn roots_of_the_same_tables_are_invalidated_before_the_exit() {
        let root = |valid, pgd| CachedRoot { valid, pgd };
        let mut m = EptModel {
            eptp: 0x7000 | EPTP_AD_ENABLE | 6,
            roots: std::vec![
                root(true, 0x7000 | 0x1e),
                root(false, 0x7000),
                root(true, 0x8000 | EPTP_AD_ENABLE),
            ],
            ..EptModel::default()
        };
        inject_page_fault(&mut m, &fault(0, 0x81), false);
        assert_eq!(
            m.log,
            [
                EptCall::Invalidate(0x1234_5000, 1 << 1),
                EptCall::Count,
                EptCall::Vmexit(48, 0x81),
                EptCall::Gpa(0x1234_5000)
            ]
        );
        // None of the same tables: no call.
        let mut m = EptModel {
            eptp: 0x9000,
            roots: m.roots.clone(),
            ..EptModel::default()
        };
        inject_page_fault(&mut m, &fault(PFERR_RSVD, 0), false);
        assert_eq!(m.log.first(), Some(&EptCall::Count));
    }

    #[test]
    fn stale_roots_mask() {
        let r = |valid, pgd| CachedRoot { valid, pgd };
        let roots = [r(true, 0x7000), r(true, 0x7000 | 0x5e), r(true, 0x7000)];
        assert_eq!(stale_roots(roots.into_iter(), 0x7000), 0b1110);
        // Bits 52+ and 11:0 do not take part.
        assert_eq!(
            stale_roots([r(true, (1 << 52) | 0x7000)].into_iter(), 0x7fff),
            0b10
        );
        assert_eq!(stale_roots([r(true, 0x8000)].into_iter(), 0x7000), 0);
        assert_eq!(stale_roots(core::iter::empty(), 0x7000), 0);
    }

    #[test]
    fn new_eptp_from_caps_and_eptp() {
        assert_eq!(
            shadow_ept_mmu(
                EPT_EXECUTE_ONLY | EPT_2MB_PAGE | EPT_1GB_PAGE,
                0x5000 | 0x5e
            ),
            ShadowEptMmu {
                execonly: true,
                huge_page_level: 3,
                accessed_dirty: true,
                eptp: 0x505e
            }
        );
        let mmu = shadow_ept_mmu(EPT_2MB_PAGE, 0x5000 | 0x1e);
        assert_eq!(
            (mmu.execonly, mmu.huge_page_level, mmu.accessed_dirty),
            (false, 2, false)
        );
        assert_eq!(shadow_ept_mmu(0, 0).huge_page_level, 1);
        let mut m = EptModel {
            caps: EPT_1GB_PAGE,
            eptp: 0x6000 | EPTP_AD_ENABLE,
            ..EptModel::default()
        };
        new_eptp(&mut m);
        assert_eq!(
            m.log,
            [EptCall::InitMmu(ShadowEptMmu {
                execonly: false,
                huge_page_level: 3,
                accessed_dirty: true,
                eptp: 0x6040
            })]
        );
    }
}
