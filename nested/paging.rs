// SPDX-License-Identifier: GPL-2.0

//! CR3 and the TLB across nested transitions: KVM's
//! `nested_vmx_load_cr3()` and `nested_vmx_transition_tlb_flush()`.

use crate::nested::vcpu::{KvmVcpu, Request};
use crate::vmcs::checks::entry_fail;
use crate::vmcs::controls::{Secondary, Vmcs12Controls};
use crate::vmcs::layout::Vmcs12;

/// What TLB flushing on a nested transition depends on in vmcs12.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlbTag {
    /// L1 enabled VPID for L2.
    pub vpid: bool,
    /// L2's VPID (vmcs12).
    pub vpid12: u16,
}

impl TlbTag {
    /// vmcs12's settings.
    pub fn of(v: &Vmcs12) -> Self {
        TlbTag {
            vpid: Vmcs12Controls::of(v).sec.contains(Secondary::ENABLE_VPID),
            vpid12: v.virtual_processor_id,
        }
    }
}

/// KVM's `nested_vmx_transition_tlb_flush()` (SDM 28.3.3.3 and 29.4.3.4:
/// without VPID for L2, L1 and L2 share VPID 0 architecturally and every
/// transition flushes; with it, a new VPID12 is a new address space).
pub fn transition_tlb_flush(k: &mut impl KvmVcpu, t: TlbTag, is_vmenter: bool) {
    if !t.vpid {
        k.make_request(Request::TlbFlushGuest);
        return;
    }
    if is_vmenter && t.vpid12 != k.last_vpid() {
        k.set_last_vpid(t.vpid12);
        k.make_request(Request::TlbFlushGuest);
        return;
    }
    // L1's and L2's translations have different tags unless neither EPT
    // nor a vpid02 separates them.
    let has_tag = k.enable_ept() || k.vpid02() != 0;
    if !has_tag {
        k.make_request(Request::TlbFlushCurrent);
    }
}

/// KVM's `nested_vmx_load_cr3()`: `reload_pdptrs` without nested EPT in
/// PAE paging (SDM 27.3.2.4 and 28.5.4); `Err` is the VM-entry failure's
/// exit qualification.
pub fn load_cr3(
    k: &mut impl KvmVcpu,
    cr3: u64,
    nested_ept: bool,
    reload_pdptrs: bool,
) -> Result<(), u64> {
    if !k.legal_cr3(cr3) {
        k.check_failed(c"!kvm_vcpu_is_legal_cr3(vcpu, cr3)");
        return Err(entry_fail::DEFAULT);
    }
    if reload_pdptrs && !nested_ept && k.is_pae_paging() && !k.load_pdptrs(cr3) {
        k.check_failed(c"!load_pdptrs(vcpu, cr3)");
        return Err(entry_fail::PDPTE);
    }
    k.set_cr3_and_init_mmu(cr3, nested_ept);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nested::model::Model;

    #[test]
    fn no_vpid_for_l2_flushes_guest_both_ways() {
        let t = TlbTag {
            vpid: false,
            vpid12: 5,
        };
        for enter in [true, false] {
            let mut m = Model::default();
            transition_tlb_flush(&mut m, t, enter);
            assert_eq!(m.requests, [Request::TlbFlushGuest]);
        }
    }

    #[test]
    fn new_vpid12_flushes_once_and_is_remembered() {
        let mut m = Model {
            ept: true,
            ..Model::default()
        };
        let t = TlbTag {
            vpid: true,
            vpid12: 7,
        };
        transition_tlb_flush(&mut m, t, true);
        assert_eq!((m.requests.len(), m.last_vpid), (1, 7));
        transition_tlb_flush(&mut m, t, true);
        assert_eq!(m.requests.len(), 1, "same VPID12: no flush with EPT");
        // At exit, a changed VPID12 means nothing.
        m.last_vpid = 1;
        transition_tlb_flush(&mut m, t, false);
        assert_eq!(m.requests.len(), 1);
    }

    #[test]
    fn untagged_l1_and_l2_flush_current() {
        let mut m = Model {
            last_vpid: 7,
            ..Model::default()
        };
        let t = TlbTag {
            vpid: true,
            vpid12: 7,
        };
        transition_tlb_flush(&mut m, t, false);
        assert_eq!(m.requests, [Request::TlbFlushCurrent]);
        let mut m = Model {
            vpid02: 3,
            ..Model::default()
        };
        transition_tlb_flush(&mut m, t, false);
        assert!(m.requests.is_empty());
    }

    #[test]
    fn cr3_checks_in_order() {
        let mut m = Model {
            maxphyaddr: 36,
            ..Model::default()
        };
        assert_eq!(
            load_cr3(&mut m, 1 << 40, false, true),
            Err(entry_fail::DEFAULT)
        );
        assert_eq!(m.cr3, None);
        m.pae = true;
        m.pdptrs_ok = false;
        assert_eq!(
            load_cr3(&mut m, 0x1000, false, true),
            Err(entry_fail::PDPTE)
        );
        // Nested EPT or no reload: the PDPTEs are not read.
        assert_eq!(load_cr3(&mut m, 0x1000, true, true), Ok(()));
        assert_eq!(m.cr3, Some((0x1000, true)));
        assert_eq!(load_cr3(&mut m, 0x2000, false, false), Ok(()));
        assert_eq!(m.cr3, Some((0x2000, false)));
        assert_eq!(m.failed_checks.len(), 2);
    }
}
