// SPDX-License-Identifier: GPL-2.0

//! Property tests over random vmcs12s and operands: no panic and no
//! arithmetic overflow (tests build with overflow checks), and outcomes that
//! do not depend on the order in which L1 wrote the fields.

use proptest::prelude::*;
use std::vec::Vec;

use super::access::{vmread, vmwrite, AccessCtx};
use super::caps;
use super::checks::{
    check_address_space_size, check_controls, check_host_state, check_vmentry, tests::baseline,
    tests::Model, Check, EntryFailure,
};
use super::layout::Vmcs12;
use super::table::FIELDS;

fn ctx() -> AccessCtx {
    AccessCtx {
        has_current_vmcs: true,
        vmwrite_any_field: true,
        long_mode: true,
        ..AccessCtx::default()
    }
}

/// A vmcs12 with every field random.
fn random_vmcs12(values: &[u64]) -> Vmcs12 {
    let mut v = Vmcs12::zeroed();
    for (f, value) in FIELDS.iter().zip(values) {
        v.set(f, *value);
    }
    v
}

/// A vmcs12 whose fields are random only under `mask` bits of the baseline:
/// close enough to valid to reach the later checks.
fn near_baseline(values: &[(u64, u8)]) -> Vmcs12 {
    let (mut v, _) = baseline();
    for (f, (value, pick)) in FIELDS.iter().zip(values) {
        // One field in 16 is disturbed, in one random bit or entirely.
        match pick % 32 {
            0 => v.set(f, *value),
            1 => v.set(f, v.get(f) ^ (1 << (value % 64))),
            _ => {}
        }
    }
    v
}

fn outcome(v: &Vmcs12) -> Result<(), Check> {
    let mut m = Model::new();
    m.memory.insert(
        0xb000,
        super::layout::VmcsHdr(super::layout::VMCS12_REVISION),
    );
    check_vmentry(v, &mut m)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn checks_never_panic_on_random_vmcs12(values in prop::collection::vec(any::<u64>(), FIELDS.len())) {
        let v = random_vmcs12(&values);
        let first = outcome(&v);
        prop_assert_eq!(first, outcome(&v));
    }

    #[test]
    fn checks_near_valid_vmcs12s(values in prop::collection::vec((any::<u64>(), any::<u8>()), FIELDS.len())) {
        let v = near_baseline(&values);
        // A failure before the entry starts is a VMfailValid, one of the
        // guest-state checks an exit: what the glue does with each.
        let m = Model::new();
        let early = check_controls(&v, &m)
            .and_then(|()| check_address_space_size(&v, &m))
            .and_then(|()| check_host_state(&v, &m));
        match early {
            Err(c) => prop_assert!(matches!(c.failure(), EntryFailure::VmFail(_)), "{:?}", c),
            Ok(()) => {
                if let Err(c) = outcome(&v) {
                    prop_assert!(matches!(c.failure(), EntryFailure::VmExit { .. }), "{:?}", c);
                }
            }
        }
    }

    #[test]
    fn outcome_is_independent_of_write_order(
        values in prop::collection::vec((any::<u64>(), any::<u8>()), FIELDS.len()),
        order in Just((0..FIELDS.len()).collect::<Vec<_>>()).prop_shuffle(),
    ) {
        let target = near_baseline(&values);
        // L1 writes the same values with VMWRITE, in a random order.
        let mut written = Vmcs12::zeroed();
        for i in order {
            let f = &FIELDS[i];
            prop_assert!(vmwrite(&mut written, &ctx(), u64::from(f.encoding.value()), target.get(f)).is_ok()
                || f.encoding.value() & 0xfc00 == 0x4800); // AR bytes: masked
        }
        for f in FIELDS.iter() {
            let masked = f.encoding.value() >= 0x4814 && f.encoding.value() <= 0x4822;
            if !masked {
                prop_assert_eq!(written.get(f), target.get(f), "{}", f.name);
            }
        }
        let mut target_masked = target;
        for f in FIELDS.iter().filter(|f| (0x4814..=0x4822).contains(&f.encoding.value())) {
            target_masked.set(f, target.get(f) & super::access::AR_BYTES_MASK);
        }
        prop_assert_eq!(outcome(&written), outcome(&target_masked));
    }

    #[test]
    fn vmread_vmwrite_never_panic(field in any::<u64>(), value in any::<u64>(), bits in any::<u8>()) {
        let c = AccessCtx {
            has_current_vmcs: bits & 1 != 0,
            guest_mode: bits & 2 != 0,
            link_pointer_valid: bits & 4 != 0,
            vmwrite_any_field: bits & 8 != 0,
            long_mode: bits & 16 != 0,
        };
        let mut v = Vmcs12::zeroed();
        let w = vmwrite(&mut v, &c, field, value);
        let r = vmread(&v, &c, field);
        if let Ok(w) = w {
            prop_assert_eq!(r, Ok(if w.field.high { w.value & 0xffff_ffff } else {
                match w.field.field.width().bytes() { 2 => w.value & 0xffff, 4 => w.value & 0xffff_ffff, _ => w.value }
            }));
        }
    }

    #[test]
    fn capability_restore_never_panics(index in 0x47fu32..0x493, data in any::<u64>(), vmxon in any::<bool>()) {
        let kvm = caps::setup(&super::checks::tests::skylake_host());
        let mut cur = kvm;
        if caps::restore(&mut cur, &kvm, vmxon, index, data).is_ok() {
            // What was accepted reads back (the non-true MSRs are derived).
            prop_assert!(!vmxon);
            prop_assert_eq!(caps::get(&cur, index), Some(data));
        }
    }
}
