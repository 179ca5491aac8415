// SPDX-License-Identifier: GPL-2.0

//! Tests of `prepare02.rs`.

use super::*;
use crate::nested::model::Model;
use crate::nested::model_entry::EntryCall;
use crate::nested::vcpu::Request;

fn model(v: Vmcs12) -> Model {
    let mut m = Model::in_l2(v);
    m.entry.caps.config.pin = PinBased::POSTED_INTR.bits();
    m.entry.caps.config.exec =
        (CpuBased::USE_MSR_BITMAPS | CpuBased::ACTIVATE_SECONDARY_CONTROLS).bits();
    m.entry.caps.vpid = true;
    m.entry.pages.msr_bitmap = 0xb000;
    m.entry.pages.notify_window = Some(9);
    m.entry.dirty_vmcs12 = true;
    m.entry.vpid01 = 1;
    m.entry.guest_state_valid = true;
    m
}

#[test]
fn constant_state_is_written_once() {
    let mut m = model(Vmcs12::default());
    let caps = m.entry.caps;
    prepare_vmcs02_constant_state(&mut m, &caps);
    assert_eq!(m.field(true, e::MSR_BITMAP), Some(0xb000));
    assert_eq!(
        m.field(true, e::POSTED_INTR_NV),
        Some(u64::from(POSTED_INTR_NESTED_VECTOR))
    );
    assert_eq!(m.field(true, enc::NOTIFY_WINDOW), Some(9));
    assert_eq!(m.field(true, enc::VE_INFORMATION_ADDRESS), None);
    m.vmcs02.clear();
    prepare_vmcs02_constant_state(&mut m, &caps);
    assert!(m.vmcs02.is_empty());
    let hosts = m
        .entry
        .calls
        .iter()
        .filter(|&&c| c == EntryCall::ConstantHostState)
        .count();
    assert_eq!(hosts, 1);
}

#[test]
fn early_vpid_and_event_injection() {
    let v = Vmcs12 {
        cpu_based_vm_exec_control: CpuBased::ACTIVATE_SECONDARY_CONTROLS.bits(),
        secondary_vm_exec_control: Secondary::ENABLE_VPID.bits(),
        vm_entry_intr_info_field: 0x8000_0b0e,
        guest_interruptibility_info: GUEST_INTR_STATE_NMI,
        ..Vmcs12::default()
    };
    let mut m = model(v);
    m.entry.pi_pending = true;
    // No vpid02: L2 runs with L1's VPID.
    let caps = m.entry.caps;
    prepare_vmcs02_early(&mut m, &v, &caps);
    assert_eq!(m.field(true, e::VIRTUAL_PROCESSOR_ID), Some(1));
    assert_eq!(
        m.field(true, e::VM_ENTRY_INTR_INFO_FIELD),
        Some(0),
        "no entry pending: nothing injected"
    );
    assert_eq!(
        (m.entry.pi_pending, m.entry.posted_intr_nv, m.tpr_threshold),
        (false, u16::MAX, -1)
    );
    m.vpid02 = 5;
    m.run_pending = true;
    let caps = m.entry.caps;
    prepare_vmcs02_early(&mut m, &v, &caps);
    assert_eq!(m.field(true, e::VIRTUAL_PROCESSOR_ID), Some(5));
    assert_eq!(
        m.field(true, e::VM_ENTRY_INTR_INFO_FIELD),
        Some(0x8000_0b0e)
    );
    assert_eq!(m.entry.nmi_known_unmasked, Some(false));
}

#[test]
fn rare_state_only_when_vmcs12_is_dirty() {
    let v = Vmcs12 {
        page_fault_error_code_mask: 3,
        page_fault_error_code_match: 1,
        guest_tr_base: 0x7000,
        guest_sysenter_eip: 0x8000,
        ..Vmcs12::default()
    };
    let mut m = model(v);
    m.entry.need_pf_intercept = true;
    let caps = m.entry.caps;
    assert_eq!(prepare_vmcs02(&mut m, &v, &caps, true), Ok(()));
    assert!(!m.entry.dirty_vmcs12);
    assert!(m.entry.calls.contains(&EntryCall::SegmentCacheReset));
    assert_eq!(m.field(true, e::GUEST_TR_BASE), Some(0x7000));
    assert_eq!(m.field(true, e::GUEST_SYSENTER_EIP), Some(0x8000));
    assert_eq!(
        m.field(true, e::PAGE_FAULT_ERROR_CODE_MASK),
        Some(0),
        "L0 sees every #PF"
    );
    m.entry.calls.clear();
    let caps = m.entry.caps;
    assert_eq!(prepare_vmcs02(&mut m, &v, &caps, true), Ok(()));
    assert!(!m.entry.calls.contains(&EntryCall::SegmentCacheReset));
    let mut m = model(v);
    let caps = m.entry.caps;
    assert_eq!(prepare_vmcs02(&mut m, &v, &caps, true), Ok(()));
    assert_eq!(m.field(true, e::PAGE_FAULT_ERROR_CODE_MASK), Some(3));
    assert_eq!(m.field(true, e::PAGE_FAULT_ERROR_CODE_MATCH), Some(1));
}

#[test]
fn registers_crs_and_tsc() {
    let v = Vmcs12 {
        guest_cr0: 0x31,
        cr0_read_shadow: 0x10,
        cr0_guest_host_mask: 0x10,
        guest_rip: 0x4000,
        guest_rflags: 0x2,
        guest_cr3: 0x7000,
        cpu_based_vm_exec_control: CpuBased::USE_TSC_OFFSETTING.bits(),
        tsc_offset: 100,
        ..Vmcs12::default()
    };
    let mut m = model(v);
    m.l1_tsc = (5, 1);
    m.entry.caps.default_tsc_ratio = 1 << 48;
    m.cr0_owned = 0x18;
    let caps = m.entry.caps;
    assert_eq!(prepare_vmcs02(&mut m, &v, &caps, true), Ok(()));
    assert_eq!((m.cr0, m.rip, m.rflags), (0x31, 0x4000, 0x2));
    assert_eq!(m.field(true, e::CR0_READ_SHADOW), Some(0x31 & !0x10 | 0x10));
    assert_eq!(m.cr0_owned, 0x08, "L1's mask takes CR0.4 away from L2");
    assert_eq!(m.field(true, e::CR0_GUEST_HOST_MASK), Some(!0x08));
    assert_eq!(m.tsc, (105, 1 << 48));
    assert_eq!(m.cr3, Some((0x7000, false)));
    assert!(m.requests.contains(&Request::TlbFlushGuest));
}

#[test]
fn invalid_guest_state_fails_only_a_vmentry() {
    let v = Vmcs12::default();
    let mut m = model(v);
    m.entry.guest_state_valid = false;
    let caps = m.entry.caps;
    assert_eq!(
        prepare_vmcs02(&mut m, &v, &caps, true),
        Err(entry_fail::DEFAULT)
    );
    assert_eq!(m.stats, [Stat::EntryCheckFail]);
    let mut m = model(v);
    m.entry.guest_state_valid = false;
    let caps = m.entry.caps;
    assert_eq!(
        prepare_vmcs02(&mut m, &v, &caps, false),
        Ok(()),
        "restored state is not re-checked here"
    );
    // Unrestricted guest: vmcs02 runs any state.
    let mut m = model(v);
    m.entry.guest_state_valid = false;
    m.entry.vmcs02.secondary = Secondary::UNRESTRICTED_GUEST.bits();
    let caps = m.entry.caps;
    assert_eq!(prepare_vmcs02(&mut m, &v, &caps, true), Ok(()));
    // An illegal CR3 fails after the CRs are loaded.
    let v = Vmcs12 {
        guest_cr3: 1 << 50,
        ..Vmcs12::default()
    };
    let mut m = model(v);
    let caps = m.entry.caps;
    assert_eq!(
        prepare_vmcs02(&mut m, &v, &caps, true),
        Err(entry_fail::DEFAULT)
    );
    assert_eq!(m.cr3, None);
}

#[test]
fn l2_tsc_terms() {
    let mut v = Vmcs12::default();
    assert_eq!(l2_tsc(&v, 7), (0, 7));
    v.cpu_based_vm_exec_control =
        (CpuBased::USE_TSC_OFFSETTING | CpuBased::ACTIVATE_SECONDARY_CONTROLS).bits();
    v.tsc_offset = 3;
    v.tsc_multiplier = 9;
    assert_eq!(l2_tsc(&v, 7), (3, 7));
    v.secondary_vm_exec_control = Secondary::TSC_SCALING.bits();
    assert_eq!(l2_tsc(&v, 7), (3, 9));
}

#[test]
fn evmcs_clean_guest_groups_are_not_reloaded() {
    // nested.c's prepare_vmcs02_rare(): GUEST_GRP2 (segments) and
    // GUEST_GRP1 (SYSENTER, pending debug exceptions, PDPTEs) only when
    // the eVMCS does not declare them clean.
    use crate::evmcs::layout::HvEnlightenedVmcs;
    let v = Vmcs12 {
        guest_tr_base: 0x7000,
        guest_sysenter_eip: 0x8000,
        guest_pdptr0: 0x9001,
        page_fault_error_code_mask: 3,
        ..Vmcs12::default()
    };
    for (clean, grp2, grp1) in [
        (0, true, true),
        (CleanGroup::GUEST_GRP2.bit(), false, true),
        (CleanGroup::GUEST_GRP1.bit(), true, false),
        (0xffff, false, false),
    ] {
        let mut m = model(v);
        m.ept = true;
        m.insn.evmcs = Some(HvEnlightenedVmcs {
            hv_clean_fields: clean,
            ..HvEnlightenedVmcs::default()
        });
        m.entry.dirty_vmcs12 = false;
        let caps = m.entry.caps;
        assert_eq!(prepare_vmcs02(&mut m, &v, &caps, true), Ok(()));
        let reset = m.entry.calls.contains(&EntryCall::SegmentCacheReset);
        assert_eq!(reset, grp2, "{clean:#x}");
        assert_eq!(
            m.field(true, e::GUEST_TR_BASE).is_some(),
            grp2,
            "{clean:#x}"
        );
        assert_eq!(m.field(true, e::GUEST_SYSENTER_EIP).is_some(), grp1);
        assert_eq!(m.field(true, e::GUEST_PDPTR0).is_some(), grp1);
        // The rest of the rare part is written regardless.
        assert_eq!(m.field(true, e::PAGE_FAULT_ERROR_CODE_MASK), Some(3));
    }
}

#[test]
fn eoi_exit_bitmaps_need_all_of_apicv() {
    // cpu_has_vmx_apicv(): virtual-interrupt delivery alone (Bochs) is not
    // enough, posted interrupts and APIC-register virtualization too.
    let v = Vmcs12 {
        eoi_exit_bitmap0: 1,
        eoi_exit_bitmap3: 8,
        ..Vmcs12::default()
    };
    let vid = Secondary::VIRTUAL_INTR_DELIVERY | Secondary::APIC_REGISTER_VIRT;
    for (pin, sec, written) in [
        (PinBased::EMPTY, vid, false),
        (
            PinBased::POSTED_INTR,
            Secondary::VIRTUAL_INTR_DELIVERY,
            false,
        ),
        (PinBased::POSTED_INTR, vid, true),
    ] {
        let mut m = model(v);
        m.entry.caps.config.pin = pin.bits();
        m.entry.caps.config.secondary = sec.bits();
        let caps = m.entry.caps;
        assert_eq!(prepare_vmcs02(&mut m, &v, &caps, true), Ok(()));
        assert_eq!(m.field(true, e::EOI_EXIT_BITMAP0), written.then_some(1));
        assert_eq!(m.field(true, e::EOI_EXIT_BITMAP3), written.then_some(8));
    }
}
