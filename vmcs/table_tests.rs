// SPDX-License-Identifier: GPL-2.0

//! Tests of the field table (`super::table`): sizes, offsets, lookup, and
//! its shadow and eVMCS columns against KVM's lists.

use super::table::*;
use crate::evmcs::{clean::CleanGroup, layout::HvEnlightenedVmcs};
use crate::vmcs::encoding::Kind;
use crate::vmcs::encoding::{Encoding, Width};
use crate::vmcs::layout::Vmcs12;
use core::mem::offset_of;
use std::vec::Vec;

#[test]
fn every_field_has_the_size_its_encoding_says() {
    for ((name, size), f) in field_sizes().into_iter().zip(FIELDS.iter()) {
        assert_eq!(name, f.name);
        assert_eq!(size, f.width().bytes(), "{name}");
    }
}

#[test]
fn fields_do_not_overlap_and_fit_in_vmcs12() {
    let mut spans: Vec<(usize, usize)> = FIELDS
        .iter()
        .map(|f| {
            (
                usize::from(f.offset),
                usize::from(f.offset) + f.width().bytes(),
            )
        })
        .collect();
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "{w:?}");
    }
    assert!(spans.iter().all(|s| s.1 <= core::mem::size_of::<Vmcs12>()));
}

#[test]
fn table_has_kvm_6_12_fields() {
    let highs = FIELDS.iter().filter(|f| f.width() == Width::U64).count();
    assert_eq!(FIELDS.len(), 141);
    assert_eq!(FIELDS.len() + highs, 178);
}

#[test]
fn every_row_and_high_half_is_found() {
    for f in FIELDS.iter() {
        let r = lookup(f.encoding).expect(f.name);
        assert_eq!(
            (r.field.name, r.high, r.offset()),
            (f.name, false, f.offset)
        );
        let h = lookup(f.encoding.high());
        if f.width() == Width::U64 {
            let h = h.expect(f.name);
            assert_eq!((h.high, h.offset()), (true, f.offset + 4));
        } else {
            assert!(h.is_none(), "{} has no high half", f.name);
        }
    }
}

#[test]
fn unknown_encodings_are_not_found() {
    let known: Vec<u16> = FIELDS.iter().map(|f| f.encoding.value()).collect();
    let mut found = 0;
    for v in 0..=Encoding::MAX {
        let e = Encoding::new(v);
        if lookup(e).is_some() {
            found += 1;
            assert!(known.contains(&e.full().value()));
        }
    }
    assert_eq!(found, 178);
}

#[test]
fn kvm_offsets_spot_check() {
    // vmcs12.h CHECK_OFFSET values.
    assert_eq!(lookup(encodings::IO_BITMAP_A).map(|r| r.offset()), Some(40));
    assert_eq!(
        lookup(encodings::HOST_TR_SELECTOR).map(|r| r.offset()),
        Some(994)
    );
    assert_eq!(
        lookup(encodings::GUEST_PML_INDEX).map(|r| r.offset()),
        Some(996)
    );
    assert_eq!(
        lookup(encodings::EPT_POINTER.high()).map(|r| r.offset()),
        Some(124)
    );
}

#[test]
fn kinds_follow_encoding() {
    assert_eq!(encodings::VM_EXIT_REASON.kind(), Kind::ReadOnlyData);
    assert_eq!(encodings::HOST_RIP.kind(), Kind::HostState);
    assert_eq!(encodings::GUEST_RIP.kind(), Kind::GuestState);
    assert_eq!(encodings::PIN_BASED_VM_EXEC_CONTROL.kind(), Kind::Control);
}

#[test]
fn vmcs_enum_max_index_is_kvms() {
    // Computed independently of max_index(), from the raw encodings.
    let max = FIELDS
        .iter()
        .map(|f| (f.encoding.value() >> 1) & 0x1ff)
        .max();
    assert_eq!(Some(max_index()), max);
    assert!(max_index() > 0);
}

#[test]
fn evmcs_mapping_matches_hyperv_evmcs_c() {
    let ev = |e: Encoding| lookup(e).and_then(|r| r.field.evmcs);
    assert_eq!(
        ev(encodings::GUEST_RIP),
        Some(EvmcsField {
            offset: offset_of!(HvEnlightenedVmcs, guest_rip) as u16,
            clean: CleanGroup::NONE
        })
    );
    assert_eq!(
        ev(encodings::IO_BITMAP_A).map(|e| e.clean),
        Some(CleanGroup::IO_BITMAP)
    );
    assert_eq!(ev(encodings::POSTED_INTR_NV), None);
    assert_eq!(FIELDS.iter().filter(|f| f.evmcs.is_some()).count(), 126);
}

#[test]
fn shadow_column_matches_vmcs_shadow_fields_h() {
    let count = |s| FIELDS.iter().filter(|f| f.shadow == s).count();
    assert_eq!(count(Shadow::ReadOnly), 11);
    // vmcs_shadow_fields.h's 24, and the two shadowed beyond KVM.
    assert_eq!(count(Shadow::ReadWrite), 24 + SHADOWED_BEYOND_KVM.len());
    for e in SHADOWED_BEYOND_KVM {
        let f = lookup(e).map(|r| r.field);
        assert_eq!(f.map(|f| f.shadow), Some(Shadow::ReadWrite), "{e:?}");
        // Natural-width host state: no CPU feature decides whether it can
        // be shadowed, and 32-bit L1s have no high half to shadow.
        assert_eq!(f.map(|f| f.width()), Some(Width::Natural), "{e:?}");
    }
}

#[test]
fn evmcs_accessors_reach_the_mapped_field_only() {
    let mut ev = HvEnlightenedVmcs::default();
    for f in FIELDS.iter() {
        let mask = match f.width() {
            Width::U16 => 0xffff,
            Width::U32 => 0xffff_ffff,
            Width::U64 | Width::Natural => u64::MAX,
        };
        let value = 0x0123_4567_89ab_cdef_u64 ^ u64::from(f.encoding.value());
        assert_eq!(ev.set(f, value), f.evmcs.is_some(), "{}", f.name);
        assert_eq!(ev.get(f), f.evmcs.map(|_| value & mask), "{}", f.name);
    }
    // Each write landed at the row's offset: no two rows share bytes.
    let g = lookup(encodings::GUEST_RIP).map(|r| r.field);
    assert_eq!(g.and_then(|f| ev.get(f)), Some(ev.guest_rip));
}
