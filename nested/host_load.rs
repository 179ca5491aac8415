// SPDX-License-Identifier: GPL-2.0

//! Loading L1's state at a nested VM exit (SDM Vol. 3C 28.5 "Loading Host
//! State"): KVM's `load_vmcs12_host_state()`, applying the values
//! `host_state::host_state()` computes from vmcs12.

use crate::nested::host_state::{self, HostState, DT_LIMIT};
use crate::nested::msr_list;
use crate::nested::paging::{self, TlbTag};
use crate::nested::vcpu::{KvmVcpu, Sreg};
use crate::nested::vmexit::{abort, vmx_abort};
use crate::vmcs::table::encodings as e;
use crate::vmcs::x86::cr0;

/// KVM's `vmx_l1_guest_owned_cr0_bits()`: KVM_POSSIBLE_CR0_GUEST_BITS
/// (CR0.TS, and CR0.WP when EPT is on).
pub fn l1_guest_owned_cr0_bits(enable_ept: bool) -> u64 {
    if enable_ept {
        cr0::TS | cr0::WP
    } else {
        cr0::TS
    }
}

/// Interruptibility bits 0-1: blocking by STI and by MOV SS.
const INTR_SHADOW: u64 = 3;

/// `load_vmcs12_host_state()` from the current vmcs12.
pub fn load_host_state(k: &mut impl KvmVcpu) {
    let efer = k.efer();
    let Some((h, tag, list)) = k.vmcs12().map(|v| {
        (
            host_state::host_state(v, efer),
            TlbTag::of(v),
            (v.vm_exit_msr_load_addr, v.vm_exit_msr_load_count),
        )
    }) else {
        return;
    };
    load_vmcs12_host_state(k, &h, tag, list);
}

/// KVM's `load_vmcs12_host_state()`: `list` is vmcs12's VM-exit MSR-load
/// list (address, count); a failure to load it, or the PDPTEs, is a VMX
/// abort (SDM 28.5.2, 28.6).
pub fn load_vmcs12_host_state(k: &mut impl KvmVcpu, h: &HostState, tag: TlbTag, list: (u64, u32)) {
    k.set_efer(h.efer);
    k.set_rsp(h.rsp);
    k.set_rip(h.rip);
    k.set_rflags(h.rflags);
    // vmx_set_interrupt_shadow(vcpu, 0)
    let intr = k.vmread(e::GUEST_INTERRUPTIBILITY_INFO);
    if intr & INTR_SHADOW != 0 {
        k.vmwrite(e::GUEST_INTERRUPTIBILITY_INFO, intr & !INTR_SHADOW);
    }
    let ept = k.enable_ept();
    k.set_cr0_guest_owned_bits(l1_guest_owned_cr0_bits(ept));
    k.set_cr0(h.cr0);
    let cr4_mask = k.vmread(e::CR4_GUEST_HOST_MASK);
    k.set_cr4_guest_owned_bits(!cr4_mask);
    k.set_cr4(h.cr4);
    k.ept_uninit_mmu();
    if paging::load_cr3(k, h.cr3, false, true).is_err() {
        vmx_abort(k, abort::LOAD_HOST_PDPTE_FAIL);
    }
    paging::transition_tlb_flush(k, tag, false);
    k.vmwrite(e::GUEST_SYSENTER_CS, u64::from(h.sysenter_cs));
    k.vmwrite(e::GUEST_SYSENTER_ESP, h.sysenter_esp);
    k.vmwrite(e::GUEST_SYSENTER_EIP, h.sysenter_eip);
    k.vmwrite(e::GUEST_IDTR_BASE, h.idtr_base);
    k.vmwrite(e::GUEST_GDTR_BASE, h.gdtr_base);
    k.vmwrite(e::GUEST_IDTR_LIMIT, u64::from(DT_LIMIT));
    k.vmwrite(e::GUEST_GDTR_LIMIT, u64::from(DT_LIMIT));
    if h.clear_bndcfgs {
        k.vmwrite(e::GUEST_BNDCFGS, 0);
    }
    if let Some(pat) = h.pat {
        k.vmwrite(e::GUEST_IA32_PAT, pat);
        k.set_pat(pat);
    }
    if let Some(ctrl) = h.perf_global_ctrl {
        k.set_perf_global_ctrl(ctrl);
    }
    // One call each (not a loop over an array: the host segments' constant
    // parts then fold into the calls, on every nested exit).
    k.set_segment(Sreg::Cs, &h.cs);
    k.set_segment(Sreg::Ds, &h.ds);
    k.set_segment(Sreg::Es, &h.es);
    k.set_segment(Sreg::Ss, &h.ss);
    k.set_segment(Sreg::Fs, &h.fs);
    k.set_segment(Sreg::Gs, &h.gs);
    k.set_segment(Sreg::Tr, &h.tr);
    k.set_segment(Sreg::Ldtr, &h.ldtr);
    k.set_dr7(h.dr7);
    let freeze = k.host_freeze_in_smm();
    k.vmwrite(e::GUEST_IA32_DEBUGCTL, h.debugctl | freeze);
    if load_msr_list(k, list.0, list.1) != 0 {
        vmx_abort(k, abort::LOAD_HOST_MSR_FAIL);
    }
    k.update_emulation_required();
}

/// KVM's `nested_vmx_load_msr()`: 0, or the 1-based index of the failing
/// entry (SDM 27.4, 28.6).
pub fn load_msr_list(k: &mut impl KvmVcpu, gpa: u64, count: u32) -> u32 {
    if count == 0 {
        return 0;
    }
    let max = k.msr_list_max();
    match msr_list::load_list(k, gpa, count, max) {
        Ok(()) => 0,
        Err(i) => i,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nested::model::{Call, Model};
    use crate::nested::msr_list::MsrEntry;
    use crate::nested::vcpu::Request;
    use crate::vmcs::layout::Vmcs12;

    fn l1() -> Vmcs12 {
        Vmcs12 {
            host_cr0: 0x8000_0031,
            host_cr3: 0x5000,
            host_cr4: 0x2020,
            host_rip: 0xffff_8000,
            host_rsp: 0x8000,
            host_cs_selector: 8,
            ..Vmcs12::default()
        }
    }

    #[test]
    fn l1_state_applied() {
        let mut m = Model::in_l2(l1());
        m.on02 = false;
        m.vmcs01.insert(e::GUEST_INTERRUPTIBILITY_INFO.value(), 0xb);
        m.vmcs01.insert(e::CR4_GUEST_HOST_MASK.value(), !0x10);
        m.freeze = 1 << 14;
        load_host_state(&mut m);
        assert_eq!(
            (m.cr0, m.cr4, m.rip, m.rsp, m.rflags),
            (0x8000_0031, 0x2020, 0xffff_8000, 0x8000, 2)
        );
        assert_eq!(m.cr3, Some((0x5000, false)));
        assert_eq!((m.cr0_owned, m.cr4_owned), (cr0::TS, 0x10));
        assert_eq!(
            m.field(false, e::GUEST_INTERRUPTIBILITY_INFO),
            Some(0x8),
            "no STI/MOV SS shadow"
        );
        assert_eq!(
            m.field(false, e::GUEST_IDTR_LIMIT),
            Some(u64::from(DT_LIMIT))
        );
        assert_eq!(m.field(false, e::GUEST_IA32_DEBUGCTL), Some(1 << 14));
        assert!(m.calls.contains(&Call::Segment(Sreg::Cs, 8)));
        assert_eq!(m.calls.last(), Some(&Call::EmulationRequired));
        assert!(
            m.requests.contains(&Request::TlbFlushGuest),
            "no VPID for L2"
        );
        assert!(!m.requests.contains(&Request::TripleFault));
    }

    #[test]
    fn bad_pdptes_or_msr_load_abort_l1() {
        let mut m = Model::in_l2(l1());
        m.pae = true;
        m.pdptrs_ok = false;
        load_host_state(&mut m);
        assert!(m.requests.contains(&Request::TripleFault));

        let mut v = l1();
        v.vm_exit_msr_load_addr = 0x100;
        v.vm_exit_msr_load_count = 2;
        let mut m = Model::in_l2(v);
        m.msrs.insert(0x174, 0);
        m.msr_entries.insert(
            0x100,
            MsrEntry {
                index: 0x174,
                reserved: 0,
                value: 9,
            },
        );
        m.msr_entries.insert(
            0x110,
            MsrEntry {
                index: 0x175,
                reserved: 0,
                value: 9,
            },
        );
        assert_eq!(
            load_msr_list(&mut m, 0x100, 2),
            2,
            "the second entry's MSR is refused"
        );
        assert_eq!(m.msrs.get(&0x174), Some(&9));
        load_host_state(&mut m);
        assert!(m.requests.contains(&Request::TripleFault));
    }

    #[test]
    fn cr0_guest_bits() {
        assert_eq!(l1_guest_owned_cr0_bits(false), cr0::TS);
        assert_eq!(l1_guest_owned_cr0_bits(true), cr0::TS | cr0::WP);
    }
}
