// SPDX-License-Identifier: GPL-2.0

//! INVEPT and INVVPID executed by L1 (SDM Vol. 3C 31.3 "INVEPT", "INVVPID"):
//! KVM's `handle_invept()` / `handle_invvpid()` decisions, before it acts on
//! the shadow EPT roots or the vpid02 TLB entries.

use super::insn::Fault;
use crate::vmcs::caps::{ept_cap, vpid_cap, NestedVmxMsrs};
use crate::vmcs::checks::{controls::check_eptp, Vcpu};
use crate::vmcs::controls::Secondary;
use crate::vmcs::outcome::{Outcome, VmInstructionError};
use crate::vmcs::x86::is_canonical;

/// What INVEPT invalidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InveptScope {
    /// Type 1: mappings derived from this EPTP.
    Context(u64),
    /// Type 2: all mappings.
    Global,
}

/// What INVVPID invalidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvvpidScope {
    /// Type 0: one linear address of one VPID.
    IndividualAddress {
        /// VPID.
        vpid: u16,
        /// Linear address.
        address: u64,
    },
    /// Type 1: one VPID.
    SingleContext(u16),
    /// Type 2: all VPIDs but 0.
    AllContexts,
    /// Type 3: one VPID, global translations kept.
    SingleContextRetainingGlobals(u16),
}

fn invalid(has_current_vmcs: bool) -> Outcome {
    Outcome::fail(
        has_current_vmcs,
        VmInstructionError::InvalidOperandToInveptInvvpid,
    )
}

/// #UD unless L1 was offered EPT with INVEPT (checked before permission).
pub fn invept_available(m: &NestedVmxMsrs) -> Result<(), Fault> {
    let ok = Secondary(m.secondary_ctls_high).contains(Secondary::ENABLE_EPT)
        && m.ept_caps & ept_cap::INVEPT != 0;
    if ok {
        Ok(())
    } else {
        Err(Fault::InvalidOpcode)
    }
}

/// #UD unless L1 was offered VPID with INVVPID (checked before permission).
pub fn invvpid_available(m: &NestedVmxMsrs) -> Result<(), Fault> {
    let ok = Secondary(m.secondary_ctls_high).contains(Secondary::ENABLE_VPID)
        && m.vpid_caps & vpid_cap::INVVPID != 0;
    if ok {
        Ok(())
    } else {
        Err(Fault::InvalidOpcode)
    }
}

/// Whether `types` (bit n: type n supported) has the type in `reg`.
fn type_supported(types: u32, reg: u64) -> bool {
    reg < 32 && types & (1 << reg) != 0
}

/// INVEPT's type register and its 128-bit descriptor's EPTP (read only if
/// the type is supported: KVM checks the type before the memory operand).
pub fn invept_type(m: &NestedVmxMsrs, reg: u64, has_current_vmcs: bool) -> Result<(), Outcome> {
    // Supported types from IA32_VMX_EPT_VPID_CAP[26:25]: 1 and 2.
    let types = (m.ept_caps >> 24) & 6;
    if type_supported(types, reg) {
        Ok(())
    } else {
        Err(invalid(has_current_vmcs))
    }
}

/// INVEPT's decision once the descriptor is read.
pub fn invept(
    reg: u64,
    eptp: u64,
    vcpu: &impl Vcpu,
    has_current_vmcs: bool,
) -> Result<InveptScope, Outcome> {
    invept_type(vcpu.vmx_msrs(), reg, has_current_vmcs)?;
    match reg {
        1 => check_eptp(eptp, vcpu)
            .map(|()| InveptScope::Context(eptp))
            .map_err(|_| invalid(has_current_vmcs)),
        _ => Ok(InveptScope::Global),
    }
}

/// INVVPID's type register (checked before the memory operand).
pub fn invvpid_type(m: &NestedVmxMsrs, reg: u64, has_current_vmcs: bool) -> Result<(), Outcome> {
    let types = (m.vpid_caps & vpid_cap::EXTENT_SUPPORTED) >> 8;
    if type_supported(types, reg) {
        Ok(())
    } else {
        Err(invalid(has_current_vmcs))
    }
}

/// INVVPID's decision once the descriptor (VPID in bits 15:0 of the first
/// quadword, 63:16 reserved; linear address in the second) is read.
pub fn invvpid(
    m: &NestedVmxMsrs,
    reg: u64,
    vpid: u64,
    address: u64,
    max_virt_addr_bits: u32,
    has_current_vmcs: bool,
) -> Result<InvvpidScope, Outcome> {
    invvpid_type(m, reg, has_current_vmcs)?;
    let fail = invalid(has_current_vmcs);
    let Ok(vpid16) = u16::try_from(vpid) else {
        return Err(fail);
    };
    if reg != 2 && vpid16 == 0 {
        return Err(fail);
    }
    Ok(match reg {
        0 => {
            if !is_canonical(address, max_virt_addr_bits) {
                return Err(fail);
            }
            InvvpidScope::IndividualAddress {
                vpid: vpid16,
                address,
            }
        }
        1 => InvvpidScope::SingleContext(vpid16),
        2 => InvvpidScope::AllContexts,
        _ => InvvpidScope::SingleContextRetainingGlobals(vpid16),
    })
}

/// The INVVPID types the CPU supports (IA32_VMX_EPT_VPID_CAP bits 40, 41).
#[derive(Clone, Copy, Debug, Default)]
pub struct VpidCaps {
    /// Individual-address invalidation.
    pub individual_address: bool,
    /// Single-context invalidation.
    pub single_context: bool,
}

impl VpidCaps {
    /// From IA32_VMX_EPT_VPID_CAP's upper half (`vmx_capability.vpid`,
    /// SDM A.10: bit 8 individual-address, bit 9 single-context INVVPID).
    pub const fn from_msr_high(caps: u32) -> Self {
        VpidCaps {
            individual_address: caps & (1 << 8) != 0,
            single_context: caps & (1 << 9) != 0,
        }
    }
}

/// What L0 runs on the CPU for L1's INVVPID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HwInvvpid {
    /// INVVPID type 0.
    IndividualAddress {
        /// VPID.
        vpid: u16,
        /// Linear address.
        address: u64,
    },
    /// INVVPID type 1.
    SingleContext(u16),
    /// INVVPID type 2 (no single-context support).
    AllContexts,
    /// vmcs02 last ran on another CPU, whose TLB holds L2's translations:
    /// forget which VPID L2 last used (KVM's `nested.last_vpid = 0`), so
    /// that the next entry into L2 flushes there.
    Defer,
}

/// KVM's flush for L1's INVVPID (`handle_invvpid()`): L2's translations
/// carry vpid02, or vmcs01's own VPID when L2 got none (KVM's
/// `nested_get_vpid02()`), whatever VPID L1 named; one address, or all of
/// that VPID (`vpid_sync_vcpu_addr()`, `vpid_sync_context()`), with the
/// types the CPU has. VPID 0 (VPIDs off) flushes nothing here. When vmcs02
/// last ran on another CPU (`on_vmcs02_cpu` false) the flush is deferred,
/// as in KVM 6.12.117.
pub fn hw_invvpid(
    scope: InvvpidScope,
    vpid02: u16,
    vpid01: u16,
    caps: VpidCaps,
    on_vmcs02_cpu: bool,
) -> Option<HwInvvpid> {
    if !on_vmcs02_cpu {
        return Some(HwInvvpid::Defer);
    }
    let vpid = if vpid02 != 0 { vpid02 } else { vpid01 };
    if vpid == 0 {
        return None;
    }
    if let InvvpidScope::IndividualAddress { address, .. } = scope {
        if caps.individual_address {
            return Some(HwInvvpid::IndividualAddress { vpid, address });
        }
    }
    Some(if caps.single_context {
        HwInvvpid::SingleContext(vpid)
    } else {
        HwInvvpid::AllContexts
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmcs::checks::tests::Model;

    const FAIL: Outcome = Outcome::VmFailValid(VmInstructionError::InvalidOperandToInveptInvvpid);

    #[test]
    fn availability() {
        let m = Model::new().msrs;
        assert_eq!(invept_available(&m), Ok(()));
        assert_eq!(invvpid_available(&m), Ok(()));
        let mut no_ept = m;
        no_ept.secondary_ctls_high &= !Secondary::ENABLE_EPT.bits();
        assert_eq!(invept_available(&no_ept), Err(Fault::InvalidOpcode));
        let mut no_invvpid = m;
        no_invvpid.vpid_caps = 0;
        assert_eq!(invvpid_available(&no_invvpid), Err(Fault::InvalidOpcode));
    }

    #[test]
    fn invept_types_and_eptp() {
        let m = Model::new();
        let eptp = 0x1000_0000 | 6 | 0x18;
        assert_eq!(invept(1, eptp, &m, true), Ok(InveptScope::Context(eptp)));
        assert_eq!(invept(2, 0, &m, true), Ok(InveptScope::Global));
        for reg in [0, 3, 31, 32, 1 << 40, u64::MAX] {
            assert_eq!(invept(reg, eptp, &m, true), Err(FAIL), "type {reg}");
        }
        assert_eq!(invept(1, eptp | 1, &m, true), Err(FAIL), "bad memory type");
        assert_eq!(invept(0, eptp, &m, false), Err(Outcome::VmFailInvalid));
    }

    #[test]
    fn invvpid_types_and_descriptor() {
        let m = Model::new().msrs;
        let ok = |reg, vpid, gla| invvpid(&m, reg, vpid, gla, 48, true);
        assert_eq!(
            ok(0, 5, 0x1000),
            Ok(InvvpidScope::IndividualAddress {
                vpid: 5,
                address: 0x1000
            })
        );
        assert_eq!(ok(0, 5, 0x0000_8000_0000_0000), Err(FAIL), "non-canonical");
        assert_eq!(ok(1, 5, 0), Ok(InvvpidScope::SingleContext(5)));
        assert_eq!(ok(1, 0, 0), Err(FAIL), "VPID 0");
        assert_eq!(ok(2, 0, 0), Ok(InvvpidScope::AllContexts));
        assert_eq!(
            ok(3, 7, 0),
            Ok(InvvpidScope::SingleContextRetainingGlobals(7))
        );
        assert_eq!(ok(1, 1 << 16, 0), Err(FAIL), "reserved bits");
        assert_eq!(ok(4, 1, 0), Err(FAIL));
        assert_eq!(ok(u64::MAX, 1, 0), Err(FAIL));
    }
    #[test]
    fn invvpid_flushes_l2s_vpid_with_the_types_the_cpu_has() {
        let all = VpidCaps {
            individual_address: true,
            single_context: true,
        };
        let addr = InvvpidScope::IndividualAddress {
            vpid: 7,
            address: 0x1000,
        };
        assert_eq!(
            hw_invvpid(addr, 3, 1, all, true),
            Some(HwInvvpid::IndividualAddress {
                vpid: 3,
                address: 0x1000
            })
        );
        // No vpid02: L2 runs with vmcs01's VPID, which is flushed.
        assert_eq!(
            hw_invvpid(InvvpidScope::SingleContext(7), 0, 1, all, true),
            Some(HwInvvpid::SingleContext(1))
        );
        assert_eq!(hw_invvpid(InvvpidScope::AllContexts, 0, 0, all, true), None);
        let single_only = VpidCaps {
            individual_address: false,
            single_context: true,
        };
        assert_eq!(
            hw_invvpid(addr, 3, 1, single_only, true),
            Some(HwInvvpid::SingleContext(3))
        );
        // vmcs02 last ran elsewhere: no flush here, the next entry does it.
        assert_eq!(hw_invvpid(addr, 3, 1, all, false), Some(HwInvvpid::Defer));
        // Without single-context support, the global fallback.
        assert_eq!(
            hw_invvpid(addr, 3, 1, VpidCaps::default(), true),
            Some(HwInvvpid::AllContexts)
        );
        assert_eq!(
            hw_invvpid(
                InvvpidScope::SingleContextRetainingGlobals(9),
                3,
                1,
                VpidCaps::default(),
                true
            ),
            Some(HwInvvpid::AllContexts)
        );
    }
    #[test]
    fn vpid_caps_from_the_capability_msr() {
        let c = VpidCaps::from_msr_high(0x0000_0f01);
        assert!(c.individual_address && c.single_context);
        let c = VpidCaps::from_msr_high(1 << 9);
        assert!(!c.individual_address && c.single_context);
        let c = VpidCaps::from_msr_high(1 << 10);
        assert!(
            !c.individual_address && !c.single_context,
            "all-context only"
        );
    }
}
