// SPDX-License-Identifier: GPL-2.0

//! Tests of `caps.rs`.

use super::*;

use crate::vmcs::checks::tests::skylake_host as host;

/// As KVM's `fixed_bits_valid()`: a bit userspace left required (low)
/// but took from the allowed-1 settings (high) on restore, which
/// `restore_control` accepts, is still allowed, and required.
#[test]
fn control_verify_with_a_required_bit_not_allowed() {
    let (low, high) = (0x4000, 0xffff_bffe);
    assert!(control_verify(0x4002, low, high));
    assert!(!control_verify(0x0002, low, high));
    assert!(!control_verify(0x4001, low, high));
}

#[test]
fn basic_reports_vmcs12() {
    let m = setup(&host());
    assert_eq!(basic::revision_id(m.basic), VMCS12_REVISION);
    assert_eq!(basic::vmcs_size(m.basic), 0x1000);
    assert_eq!((m.basic >> 50) & 0xf, basic::MEMTYPE_WB);
    assert_ne!(m.basic & basic::TRUE_CTLS, 0);
    assert_ne!(m.basic & basic::INOUT, 0);
}

#[test]
fn emulated_controls_are_offered_without_hardware() {
    let mut h = host();
    h.pin_based = 0;
    h.cpu_based = 0;
    h.secondary = 0;
    let m = setup(&h);
    assert!(PinBased(m.pinbased_ctls_high).contains(PinBased::VMX_PREEMPTION_TIMER));
    assert!(CpuBased(m.procbased_ctls_high).contains(CpuBased::USE_MSR_BITMAPS));
    assert!(Secondary(m.secondary_ctls_high).contains(Secondary::SHADOW_VMCS));
    assert!(!Secondary(m.secondary_ctls_high).intersects(Secondary::ENABLE_RDTSCP));
}

#[test]
fn posted_interrupts_need_apicv() {
    assert!(PinBased(setup(&host()).pinbased_ctls_high).contains(PinBased::POSTED_INTR));
    let mut h = host();
    h.enable_apicv = false;
    assert!(!PinBased(setup(&h).pinbased_ctls_high).contains(PinBased::POSTED_INTR));
}

#[test]
fn free_control_of_cr3_and_debug_controls() {
    let m = setup(&host());
    assert!(!CpuBased(m.procbased_ctls_low).intersects(CpuBased::CR3_LOAD_EXITING));
    assert!(!ExitControls(m.exit_ctls_low).intersects(ExitControls::SAVE_DEBUG_CONTROLS));
    assert!(!EntryControls(m.entry_ctls_low).intersects(EntryControls::LOAD_DEBUG_CONTROLS));
    // The non-true MSRs report them as default-1.
    let proc = get(&m, msr::PROCBASED_CTLS).unwrap_or(0) as u32;
    assert!(CpuBased(proc).contains(CpuBased::CR3_LOAD_EXITING));
}

#[test]
fn ept_vpid_caps() {
    let m = setup(&host());
    assert_ne!(m.ept_caps & ept_cap::AD, 0);
    assert_ne!(m.ept_caps & ept_cap::PAGE_1G, 0);
    assert_eq!(m.vpid_caps, vpid_cap::INVVPID | vpid_cap::EXTENT_SUPPORTED);
    assert_eq!(m.vmfunc_controls, VmFunc::EPTP_SWITCHING.bits());
    let mut h = host();
    h.enable_ept = false;
    let m = setup(&h);
    assert_eq!((m.ept_caps, m.vmfunc_controls), (0, 0));
    assert!(
        !Secondary(m.secondary_ctls_high).intersects(Secondary::ENABLE_EPT | Secondary::ENABLE_PML)
    );
}

#[test]
fn misc_and_fixed() {
    let m = setup(&host());
    let misc = control_msr(m.misc_low, m.misc_high);
    assert_eq!(misc::preemption_timer_rate(misc), 5);
    assert_ne!(misc & misc::VMWRITE_SHADOW_RO_FIELDS, 0);
    assert_eq!(m.cr0_fixed0, 0x8000_0021);
    assert_eq!(m.cr4_fixed0, 0x2000);
    assert_ne!(m.cr4_fixed1 & cr4::UMIP, 0);
    assert_eq!(m.vmcs_enum, u64::from(table::max_index()) << 1);
}

#[test]
fn every_capability_msr_reads_and_others_do_not() {
    let m = setup(&host());
    for index in msr::BASIC..=msr::VMFUNC {
        assert!(get(&m, index).is_some(), "{index:#x}");
    }
    assert_eq!(get(&m, 0x47f), None);
    assert_eq!(get(&m, 0x492), None);
}

#[test]
fn restoring_kvms_own_values_is_accepted() {
    let kvm = setup(&host());
    let mut cur = kvm;
    for index in [
        msr::BASIC,
        msr::TRUE_PINBASED_CTLS,
        msr::TRUE_PROCBASED_CTLS,
        msr::TRUE_EXIT_CTLS,
        msr::TRUE_ENTRY_CTLS,
        msr::PROCBASED_CTLS2,
        msr::MISC,
        msr::CR0_FIXED0,
        msr::CR4_FIXED0,
        msr::EPT_VPID_CAP,
        msr::VMCS_ENUM,
        msr::VMFUNC,
    ] {
        let v = get(&kvm, index).unwrap_or(0);
        assert_eq!(
            restore(&mut cur, &kvm, false, index, v),
            Ok(()),
            "{index:#x}"
        );
    }
    assert_eq!(cur, kvm);
}

#[test]
fn restore_is_refused_in_vmx_operation() {
    let kvm = setup(&host());
    let mut cur = kvm;
    assert_eq!(
        restore(&mut cur, &kvm, true, msr::BASIC, kvm.basic),
        Err(RestoreError::Busy)
    );
}

#[test]
fn non_true_and_fixed1_msrs_are_not_restorable() {
    let kvm = setup(&host());
    let mut cur = kvm;
    for index in [
        msr::PINBASED_CTLS,
        msr::PROCBASED_CTLS,
        msr::EXIT_CTLS,
        msr::ENTRY_CTLS,
        msr::CR0_FIXED1,
        msr::CR4_FIXED1,
        0x492,
    ] {
        let v = get(&kvm, index).unwrap_or(0);
        assert_eq!(
            restore(&mut cur, &kvm, false, index, v),
            Err(RestoreError::Invalid),
            "{index:#x}"
        );
    }
}

#[test]
fn control_restore_subset_rules() {
    let kvm = setup(&host());
    let mut cur = kvm;
    let v = get(&kvm, msr::TRUE_PINBASED_CTLS).unwrap_or(0);
    // Dropping an allowed-1 bit is fine: L1 sees fewer features.
    let fewer = v & !(u64::from(PinBased::VMX_PREEMPTION_TIMER.bits()) << 32);
    assert_eq!(
        restore(&mut cur, &kvm, false, msr::TRUE_PINBASED_CTLS, fewer),
        Ok(())
    );
    assert_eq!(
        cur.pinbased_ctls_high & PinBased::VMX_PREEMPTION_TIMER.bits(),
        0
    );
    // Adding a feature KVM does not offer is not.
    let more = v | (1 << (32 + 9));
    assert_eq!(
        restore(&mut cur, &kvm, false, msr::TRUE_PINBASED_CTLS, more),
        Err(RestoreError::Invalid)
    );
    // Nor is clearing a must-be-1 bit.
    let cleared = v & !u64::from(kvm.pinbased_ctls_low);
    assert_eq!(
        restore(&mut cur, &kvm, false, msr::TRUE_PINBASED_CTLS, cleared),
        Err(RestoreError::Invalid)
    );
}

#[test]
fn basic_restore_rules() {
    let kvm = setup(&host());
    let mut cur = kvm;
    let r = |cur: &mut NestedVmxMsrs, v| restore(cur, &kvm, false, msr::BASIC, v);
    assert_eq!(r(&mut cur, kvm.basic & !basic::INOUT), Ok(()));
    assert_eq!(
        r(&mut cur, kvm.basic | basic::DUAL_MONITOR_TREATMENT),
        Err(RestoreError::Invalid)
    );
    assert_eq!(
        r(&mut cur, kvm.basic | basic::PHYS_ADDR_32BIT_ONLY),
        Err(RestoreError::Invalid)
    );
    assert_eq!(r(&mut cur, kvm.basic ^ 1), Err(RestoreError::Invalid));
    assert_eq!(r(&mut cur, kvm.basic | 1 << 31), Err(RestoreError::Invalid));
    // A larger VMCS region is fine, a smaller one is not.
    assert_eq!(r(&mut cur, kvm.basic + (1 << 32)), Ok(()));
    assert_eq!(
        r(&mut cur, kvm.basic - (1 << 32)),
        Err(RestoreError::Invalid)
    );
}

#[test]
fn misc_restore_rules() {
    let kvm = setup(&host());
    let mut cur = kvm;
    let misc = control_msr(kvm.misc_low, kvm.misc_high);
    let r = |cur: &mut NestedVmxMsrs, v| restore(cur, &kvm, false, msr::MISC, v);
    assert_eq!(r(&mut cur, misc & !misc::ACTIVITY_HLT), Ok(()));
    assert_eq!(
        r(&mut cur, misc | misc::ACTIVITY_SHUTDOWN),
        Err(RestoreError::Invalid)
    );
    // The preemption timer rate is fixed while the timer is offered ...
    assert_eq!(r(&mut cur, (misc & !0x1f) | 4), Err(RestoreError::Invalid));
    // ... and free once it is not.
    cur.pinbased_ctls_high &= !PinBased::VMX_PREEMPTION_TIMER.bits();
    assert_eq!(r(&mut cur, (misc & !0x1f) | 4), Ok(()));
    assert_eq!(r(&mut cur, misc | 1 << 16), Err(RestoreError::Invalid));
    assert_eq!(r(&mut cur, misc | 1 << 32), Err(RestoreError::Invalid));
}

#[test]
fn fixed0_ept_vmfunc_restore_rules() {
    let kvm = setup(&host());
    let mut cur = kvm;
    assert_eq!(
        restore(&mut cur, &kvm, false, msr::CR0_FIXED0, kvm.cr0_fixed0 | 2),
        Ok(())
    );
    assert_eq!(
        restore(&mut cur, &kvm, false, msr::CR0_FIXED0, 0x21),
        Err(RestoreError::Invalid)
    );
    let ept = get(&kvm, msr::EPT_VPID_CAP).unwrap_or(0);
    assert_eq!(
        restore(&mut cur, &kvm, false, msr::EPT_VPID_CAP, ept & !1),
        Ok(())
    );
    assert_eq!(
        restore(&mut cur, &kvm, false, msr::EPT_VPID_CAP, ept | 1 << 8),
        Err(RestoreError::Invalid)
    );
    assert_eq!(
        restore(&mut cur, &kvm, false, msr::VMFUNC, 2),
        Err(RestoreError::Invalid)
    );
    assert_eq!(
        restore(&mut cur, &kvm, false, msr::VMCS_ENUM, 0x123),
        Ok(())
    );
    assert_eq!(cur.vmcs_enum, 0x123);
}
