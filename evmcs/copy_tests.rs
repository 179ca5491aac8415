// SPDX-License-Identifier: GPL-2.0

//! The copy rules of `super` against nested.c's two copy functions, read
//! field by field, and their clean-field behaviour.

use super::*;
use crate::evmcs::layout::HvEnlightenedVmcs;
use crate::vmcs::table::FIELDS;
use std::collections::BTreeSet;
use std::vec::Vec;

fn names(pred: fn(&Field) -> bool) -> BTreeSet<&'static str> {
    FIELDS.iter().filter(|f| pred(f)).map(|f| f.name).collect()
}

fn group_names(group: CleanGroup) -> BTreeSet<&'static str> {
    FIELDS
        .iter()
        .filter(|f| copied_in(f) && f.evmcs.map(|e| e.clean) == Some(group))
        .map(|f| f.name)
        .collect()
}

fn set(list: &[&'static str]) -> BTreeSet<&'static str> {
    list.iter().copied().collect()
}

/// copy_enlightened_to_vmcs12() of 6.12, group by group.
#[test]
fn copied_in_is_copy_enlightened_to_vmcs12() {
    let c: &[(CleanGroup, &[&str])] = &[
        (CleanGroup::NONE, &["TPR_THRESHOLD", "GUEST_RIP"]),
        (
            CleanGroup::GUEST_BASIC,
            &["GUEST_RSP", "GUEST_RFLAGS", "GUEST_INTERRUPTIBILITY_INFO"],
        ),
        (CleanGroup::CONTROL_PROC, &["CPU_BASED_VM_EXEC_CONTROL"]),
        (CleanGroup::CONTROL_EXCPN, &["EXCEPTION_BITMAP"]),
        (CleanGroup::CONTROL_ENTRY, &["VM_ENTRY_CONTROLS"]),
        (
            CleanGroup::CONTROL_EVENT,
            &[
                "VM_ENTRY_INTR_INFO_FIELD",
                "VM_ENTRY_EXCEPTION_ERROR_CODE",
                "VM_ENTRY_INSTRUCTION_LEN",
            ],
        ),
        (
            CleanGroup::HOST_GRP1,
            &[
                "HOST_IA32_PAT",
                "HOST_IA32_EFER",
                "HOST_CR0",
                "HOST_CR3",
                "HOST_CR4",
                "HOST_IA32_SYSENTER_ESP",
                "HOST_IA32_SYSENTER_EIP",
                "HOST_RIP",
                "HOST_IA32_SYSENTER_CS",
                "HOST_ES_SELECTOR",
                "HOST_CS_SELECTOR",
                "HOST_SS_SELECTOR",
                "HOST_DS_SELECTOR",
                "HOST_FS_SELECTOR",
                "HOST_GS_SELECTOR",
                "HOST_TR_SELECTOR",
                "HOST_IA32_PERF_GLOBAL_CTRL",
            ],
        ),
        (
            CleanGroup::CONTROL_GRP1,
            &[
                "PIN_BASED_VM_EXEC_CONTROL",
                "VM_EXIT_CONTROLS",
                "SECONDARY_VM_EXEC_CONTROL",
            ],
        ),
        (CleanGroup::IO_BITMAP, &["IO_BITMAP_A", "IO_BITMAP_B"]),
        (CleanGroup::MSR_BITMAP, &["MSR_BITMAP"]),
        (
            CleanGroup::CONTROL_GRP2,
            &[
                "TSC_OFFSET",
                "VIRTUAL_APIC_PAGE_ADDR",
                "XSS_EXIT_BITMAP",
                "ENCLS_EXITING_BITMAP",
                "TSC_MULTIPLIER",
            ],
        ),
        (
            CleanGroup::CRDR,
            &[
                "CR0_GUEST_HOST_MASK",
                "CR4_GUEST_HOST_MASK",
                "CR0_READ_SHADOW",
                "CR4_READ_SHADOW",
                "GUEST_CR0",
                "GUEST_CR3",
                "GUEST_CR4",
                "GUEST_DR7",
            ],
        ),
        (
            CleanGroup::HOST_POINTER,
            &[
                "HOST_FS_BASE",
                "HOST_GS_BASE",
                "HOST_TR_BASE",
                "HOST_GDTR_BASE",
                "HOST_IDTR_BASE",
                "HOST_RSP",
            ],
        ),
        (
            CleanGroup::CONTROL_XLAT,
            &["EPT_POINTER", "VIRTUAL_PROCESSOR_ID"],
        ),
        (
            CleanGroup::GUEST_GRP1,
            &[
                "VMCS_LINK_POINTER",
                "GUEST_IA32_DEBUGCTL",
                "GUEST_IA32_PAT",
                "GUEST_IA32_EFER",
                "GUEST_PDPTR0",
                "GUEST_PDPTR1",
                "GUEST_PDPTR2",
                "GUEST_PDPTR3",
                "GUEST_PENDING_DBG_EXCEPTIONS",
                "GUEST_SYSENTER_ESP",
                "GUEST_SYSENTER_EIP",
                "GUEST_BNDCFGS",
                "GUEST_ACTIVITY_STATE",
                "GUEST_SYSENTER_CS",
                "GUEST_IA32_PERF_GLOBAL_CTRL",
            ],
        ),
    ];
    let mut total = 0;
    for (group, list) in c {
        assert_eq!(group_names(*group), set(list), "{group:?}");
        total += list.len();
    }
    // GUEST_GRP2: the 8 segment registers' selector, limit, access rights
    // and base, and GDTR/IDTR's limit and base.
    let grp2 = group_names(CleanGroup::GUEST_GRP2);
    assert_eq!(grp2.len(), 36);
    for seg in ["ES", "CS", "SS", "DS", "FS", "GS", "LDTR", "TR"] {
        for part in ["SELECTOR", "LIMIT", "AR_BYTES", "BASE"] {
            assert!(grp2.contains(std::format!("GUEST_{seg}_{part}").as_str()));
        }
    }
    total += grp2.len();
    assert_eq!(names(copied_in).len(), total);
    assert_eq!(total, 106);
    // What C leaves out: VM-exit information, and the "Not used?" fields.
    let out: Vec<_> = FIELDS
        .iter()
        .filter(|f| f.evmcs.is_some() && !copied_in(f))
        .map(|f| f.name)
        .collect();
    assert_eq!(out.len(), 11 + 9, "{out:?}");
    assert!(out.contains(&"VM_EXIT_MSR_STORE_ADDR") && out.contains(&"CR3_TARGET_COUNT"));
}

/// copy_vmcs12_to_enlightened() of 6.12.
#[test]
fn copied_out_is_copy_vmcs12_to_enlightened() {
    let mut c = std::vec![
        "GUEST_IA32_PAT",
        "GUEST_IA32_EFER",
        "GUEST_PDPTR0",
        "GUEST_PDPTR1",
        "GUEST_PDPTR2",
        "GUEST_PDPTR3",
        "GUEST_PENDING_DBG_EXCEPTIONS",
        "GUEST_SYSENTER_ESP",
        "GUEST_SYSENTER_EIP",
        "GUEST_ACTIVITY_STATE",
        "GUEST_SYSENTER_CS",
        "GUEST_CR0",
        "GUEST_CR3",
        "GUEST_CR4",
        "GUEST_DR7",
        "GUEST_PHYSICAL_ADDRESS",
        "VM_INSTRUCTION_ERROR",
        "VM_EXIT_REASON",
        "VM_EXIT_INTR_INFO",
        "VM_EXIT_INTR_ERROR_CODE",
        "IDT_VECTORING_INFO_FIELD",
        "IDT_VECTORING_ERROR_CODE",
        "VM_EXIT_INSTRUCTION_LEN",
        "VMX_INSTRUCTION_INFO",
        "EXIT_QUALIFICATION",
        "GUEST_LINEAR_ADDRESS",
        "GUEST_RSP",
        "GUEST_RFLAGS",
        "GUEST_INTERRUPTIBILITY_INFO",
        "CPU_BASED_VM_EXEC_CONTROL",
        "VM_ENTRY_CONTROLS",
        "VM_ENTRY_INTR_INFO_FIELD",
        "VM_ENTRY_EXCEPTION_ERROR_CODE",
        "VM_ENTRY_INSTRUCTION_LEN",
        "GUEST_RIP",
        "GUEST_BNDCFGS",
    ];
    let segs: Vec<std::string::String> = ["ES", "CS", "SS", "DS", "FS", "GS", "LDTR", "TR"]
        .iter()
        .flat_map(|s| {
            ["SELECTOR", "LIMIT", "AR_BYTES", "BASE"].map(|p| std::format!("GUEST_{s}_{p}"))
        })
        .chain(
            ["GDTR", "IDTR"]
                .iter()
                .flat_map(|s| ["LIMIT", "BASE"].map(|p| std::format!("GUEST_{s}_{p}"))),
        )
        .collect();
    c.extend(segs.iter().map(|s| s.as_str()));
    assert_eq!(c.len(), 72);
    let want: BTreeSet<&str> = c.iter().copied().collect();
    let got: BTreeSet<&str> = names(copied_out).iter().copied().collect();
    assert_eq!(got, want);
}

fn filled() -> HvEnlightenedVmcs {
    let mut ev = HvEnlightenedVmcs::default();
    for (i, f) in FIELDS.iter().enumerate() {
        ev.set(f, 0x1000 + i as u64);
    }
    ev.partition_assist_page = 0x5000;
    ev.hv_vm_id = 7;
    ev.hv_vp_id = 3;
    ev
}

#[test]
fn clean_groups_are_skipped_and_none_is_always_copied() {
    let ev = filled();
    let mut v = Vmcs12::default();
    let r = copy_in(&ev, &mut v, 0);
    assert!(r.force_msr_bitmap_recalc);
    assert_eq!(
        r.hv_nested,
        Some(HvNested {
            pa_page_gpa: 0x5000,
            vm_id: 7,
            vp_id: 3
        })
    );
    for f in FIELDS.iter() {
        if copied_in(f) {
            assert_eq!(Some(v.get(f)), ev.get(f), "{}", f.name);
        } else {
            assert_eq!(v.get(f), 0, "{}", f.name);
        }
    }
    // Everything clean: only the group-less fields move.
    let mut w = Vmcs12::default();
    let r = copy_in(&ev, &mut w, 0xffff);
    assert!(!r.force_msr_bitmap_recalc);
    assert_eq!(r.hv_nested, None);
    let moved: BTreeSet<_> = FIELDS
        .iter()
        .filter(|f| w.get(f) != 0)
        .map(|f| f.name)
        .collect();
    assert_eq!(moved, set(&["TPR_THRESHOLD", "GUEST_RIP"]));
    // One dirty group: its fields, and the MSR bitmap decision.
    let mut w = Vmcs12::default();
    let r = copy_in(&ev, &mut w, 0xffff & !CleanGroup::IO_BITMAP.bit());
    assert!(!r.force_msr_bitmap_recalc);
    assert_eq!({ w.io_bitmap_a }, { ev.io_bitmap_a });
    assert_eq!({ w.msr_bitmap }, 0);
    let r = copy_in(&ev, &mut w, 0xffff & !CleanGroup::CONTROL_PROC.bit());
    assert!(r.force_msr_bitmap_recalc);
}

#[test]
fn copy_out_writes_only_its_fields() {
    let mut v = Vmcs12::default();
    for (i, f) in FIELDS.iter().enumerate() {
        v.set(f, 0x2000 + i as u64);
    }
    let mut ev = HvEnlightenedVmcs::default();
    copy_out(&v, &mut ev);
    for f in FIELDS.iter().filter(|f| f.evmcs.is_some()) {
        let want = if copied_out(f) { v.get(f) } else { 0 };
        assert_eq!(ev.get(f), Some(want), "{}", f.name);
    }
    assert_eq!(
        { ev.hv_clean_fields },
        0,
        "KVM never writes the clean fields here"
    );
}

#[test]
fn copy_in_by_group_is_the_row_by_row_copy() {
    // copy_in tests each group once; it copies exactly the rows a test
    // per row would, for any clean mask.
    let mut ev = HvEnlightenedVmcs::default();
    for (i, f) in FIELDS.iter().enumerate() {
        ev.set(f, 0x1000 + i as u64);
    }
    let mut masks = std::vec![0u32, 0xffff, 0x5555, 0xaaaa, 0x1234];
    masks.extend((0..16).map(|b| 0xffff & !(1u32 << b)));
    masks.extend((0..16).map(|b| 1u32 << b));
    for clean in masks {
        let mut got = Vmcs12::zeroed();
        copy_in(&ev, &mut got, clean);
        let mut want = Vmcs12::zeroed();
        evmcs_to_vmcs12_rows(&ev, &mut want, |enc, group| {
            copied_in_row(enc, group) && !group.is_clean(clean)
        });
        for f in FIELDS.iter() {
            assert_eq!(got.get(f), want.get(f), "{} clean {clean:#x}", f.name);
        }
    }
}
