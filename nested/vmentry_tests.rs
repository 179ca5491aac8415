// SPDX-License-Identifier: GPL-2.0

//! Tests of `vmentry.rs`.

use super::*;
use crate::nested::insn::Fault;
use crate::nested::model::{Call, Model};
use crate::nested::model_entry::EntryCall;
use crate::vmcs::checks::Check;

/// L1 in VMX operation at CPL 0 with a clear current VMCS `v`.
fn l1(v: Vmcs12) -> Model {
    let mut m = Model::in_l2(v);
    m.on02 = false;
    m.entry.vmxon = true;
    m.entry.current_vmcs = true;
    m.entry.pages_ok = true;
    m.entry.guest_state_valid = true;
    m.entry.dirty_vmcs12 = true;
    m
}

fn vmlaunch(m: &mut Model) -> i32 {
    let v = m.vmcs12.unwrap_or_default();
    if let Err(r) = run_prologue(m, true) {
        return r;
    }
    let start = run_start(m, &v, true);
    run_finish(m, start)
}

#[test]
fn prologue_faults() {
    let mut m = l1(Vmcs12::default());
    m.entry.vmxon = false;
    assert_eq!(vmlaunch(&mut m), 1);
    assert_eq!(m.entry.calls, [EntryCall::Fault(Fault::InvalidOpcode)]);
    let mut m = l1(Vmcs12::default());
    m.entry.cpl = 3;
    vmlaunch(&mut m);
    assert_eq!(m.entry.calls, [EntryCall::Fault(Fault::GeneralProtection)]);
}

#[test]
fn enlightened_vmptrld_outcomes() {
    use crate::evmcs::controls::EvmcsCheck;
    use crate::evmcs::vmptrld::Evmptrld;
    // Unmappable eVMCS: #UD, before the PMU event.
    let mut m = l1(Vmcs12::default());
    m.entry.evmptrld = Some(Evmptrld::Error);
    assert_eq!(run_prologue(&mut m, true), Err(1));
    assert_eq!(m.entry.calls, [EntryCall::Fault(Fault::InvalidOpcode)]);
    // Bad revision: VMfailInvalid, after it.
    let mut m = l1(Vmcs12::default());
    m.entry.evmptrld = Some(Evmptrld::VmFail);
    assert_eq!(run_prologue(&mut m, true), Err(1));
    assert_eq!(m.entry.calls, [EntryCall::PmuBranch]);
    assert_eq!(m.calls, [Call::Complete(Outcome::VmFailInvalid)]);
    // Mapped: vmcs12 from the eVMCS, never from a shadow VMCS.
    let mut m = l1(Vmcs12::default());
    m.shadow = true;
    m.entry.evmptrld = Some(Evmptrld::Succeeded);
    assert_eq!(run_prologue(&mut m, false), Ok(()));
    assert_eq!(
        m.entry.calls,
        [EntryCall::PmuBranch, EntryCall::EvmcsToVmcs12(false)]
    );
    // Disabled with shadowing: the shadow VMCS as before.
    let mut m = l1(Vmcs12::default());
    m.shadow = true;
    assert_eq!(run_prologue(&mut m, true), Ok(()));
    assert_eq!(
        m.entry.calls,
        [EntryCall::PmuBranch, EntryCall::ShadowToVmcs12]
    );
    // A control eVMCS v1 lacks: VMfailValid as a control check.
    let mut m = l1(Vmcs12::default());
    m.entry.evmcs_check = Some(EvmcsCheck::SecondaryControls);
    let v = Vmcs12::default();
    assert_eq!(
        run_start(&mut m, &v, true),
        RunStart::Complete(Outcome::VmFailValid(
            VmInstructionError::EntryInvalidControlField
        ))
    );
    assert_eq!(m.stats, [Stat::EntryCheckFail]);
    assert!(!m.run_pending);
}

#[test]
fn prechecks_and_early_checks_are_vmfails() {
    let mut m = l1(Vmcs12::default());
    m.entry.current_vmcs = false;
    vmlaunch(&mut m);
    assert_eq!(m.calls, [Call::Complete(Outcome::VmFailInvalid)]);
    let launched = Vmcs12 {
        launch_state: 1,
        ..Vmcs12::default()
    };
    let mut m = l1(launched);
    vmlaunch(&mut m);
    let e = VmInstructionError::VmlaunchNonclearVmcs;
    assert_eq!(m.calls, [Call::Complete(Outcome::VmFailValid(e))]);
    let mut m = l1(Vmcs12::default());
    m.entry.check_controls = Some(Check::HostCr0);
    vmlaunch(&mut m);
    let e = VmInstructionError::EntryInvalidHostStateField;
    assert_eq!(m.calls, [Call::Complete(Outcome::VmFailValid(e))]);
    assert!(!m.run_pending && m.stats == [Stat::EntryCheckFail]);
    assert!(!m.entry.calls.contains(&EntryCall::EnterGuestMode));
}

#[test]
fn successful_launch() {
    let v = Vmcs12 {
        pin_based_vm_exec_control: PinBased::VMX_PREEMPTION_TIMER.bits(),
        vmx_preemption_timer_value: 42,
        ..Vmcs12::default()
    };
    let mut m = l1(v);
    m.entry.timer_expired = true;
    assert_eq!(vmlaunch(&mut m), 1);
    assert!(m.run_pending && m.on02);
    assert_eq!(m.stats, [Stat::L2Entry]);
    assert!(!m.entry.timer_expired);
    assert!(m.entry.calls.contains(&EntryCall::StartTimer(42)));
    assert!(m.entry.calls.contains(&EntryCall::CacheShadow));
    assert!(!m.requests.contains(&Request::GetNestedStatePages));
}

#[test]
fn halted_l2_and_pending_interrupts() {
    let mut v = Vmcs12 {
        guest_activity_state: activity::HLT,
        ..Vmcs12::default()
    };
    let mut m = l1(v);
    m.entry.init_pending = true;
    vmlaunch(&mut m);
    assert_eq!(m.entry.calls.last(), Some(&EntryCall::Halt));
    assert!(!m.run_pending);
    assert!(m.requests.contains(&Request::Event));
    // An event to inject keeps L2 running.
    v.vm_entry_intr_info_field = INTR_INFO_VALID | 0x20;
    let mut m = l1(v);
    vmlaunch(&mut m);
    assert!(m.run_pending);
    assert!(!m.entry.calls.contains(&EntryCall::Halt));
}

#[test]
fn missing_l1_memory_exits_to_userspace() {
    let mut m = l1(Vmcs12::default());
    m.entry.pages_ok = false;
    assert_eq!(vmlaunch(&mut m), 0);
    assert_eq!(m.entry.calls.last(), Some(&EntryCall::InternalError));
    assert!(!m.run_pending && !m.on02);
}

#[test]
fn guest_state_failure_is_an_entry_failure_exit() {
    let v = Vmcs12 {
        host_rip: 0x9000,
        ..Vmcs12::default()
    };
    let mut m = l1(v);
    m.entry.check_guest = Some(Check::GuestCr0);
    assert_eq!(vmlaunch(&mut m), 1);
    let v = m.vmcs12.unwrap();
    assert_eq!(
        { v.vm_exit_reason },
        EXIT_REASON_FAILED_VMENTRY | EXIT_REASON_INVALID_STATE
    );
    assert_eq!({ v.exit_qualification }, 0);
    assert_eq!(m.rip, 0x9000, "L1 resumes at vmcs12's host RIP");
    assert!(!m.on02 && !m.run_pending);
    assert!(!m.entry.calls.contains(&EntryCall::EnterGuestMode));
    assert_eq!(m.stats, [Stat::EntryCheckFail, Stat::EntryFailure]);
}

#[test]
fn msr_load_failure_names_the_entry_and_undoes_the_tsc() {
    let v = Vmcs12 {
        vm_entry_msr_load_addr: 0x100,
        vm_entry_msr_load_count: 1,
        cpu_based_vm_exec_control: CpuBased::USE_TSC_OFFSETTING.bits(),
        tsc_offset: 10,
        ..Vmcs12::default()
    };
    let mut m = l1(v);
    m.l1_tsc = (1, 1);
    vmlaunch(&mut m);
    let v = m.vmcs12.unwrap();
    assert_eq!(
        { v.vm_exit_reason },
        EXIT_REASON_FAILED_VMENTRY | EXIT_REASON_MSR_LOAD_FAIL
    );
    assert_eq!({ v.exit_qualification }, 1);
    assert_eq!(m.tsc.0, 1, "L1's offset again");
    assert!(m.calls.contains(&Call::LeaveGuestMode));
}

#[test]
fn restored_state_enters_without_msr_loads() {
    let v = Vmcs12 {
        vm_entry_msr_load_count: 1,
        ..Vmcs12::default()
    };
    let mut m = l1(v);
    m.entry.check_guest = Some(Check::GuestCr0);
    let step = enter_with(&mut m, &v, false);
    assert_eq!(
        finish_entry(&mut m, step, false),
        Entered::L2,
        "no guest checks here"
    );
    assert!(m.requests.contains(&Request::GetNestedStatePages));
    // A failure of a restore leaves L1's vmcs12 untouched.
    let v = Vmcs12 {
        guest_cr3: 1 << 50,
        ..Vmcs12::default()
    };
    let mut m = l1(v);
    let step = enter_with(&mut m, &v, false);
    assert_eq!(finish_entry(&mut m, step, false), Entered::VmExit);
    assert_eq!({ m.vmcs12.unwrap().vm_exit_reason }, 0);
    assert!(m.calls.contains(&Call::EptUninit));
}

/// A vmcs12 with VMCS shadowing and a link pointer (L1 shadowing its own
/// L2's VMCS).
fn shadowing_l1() -> Vmcs12 {
    use crate::vmcs::controls::Secondary;
    Vmcs12 {
        cpu_based_vm_exec_control: CpuBased::ACTIVATE_SECONDARY_CONTROLS.bits(),
        secondary_vm_exec_control: Secondary::SHADOW_VMCS.bits(),
        vmcs_link_pointer: 0x5000,
        ..Vmcs12::default()
    }
}

#[test]
fn only_an_entry_with_a_shadow_vmcs_allocates_its_cache_once() {
    let mut m = l1(Vmcs12 {
        vmcs_link_pointer: !0,
        ..Vmcs12::default()
    });
    assert_eq!(vmlaunch(&mut m), 1);
    assert!(m.entry.calls.contains(&EntryCall::EnterGuestMode));
    assert!(!m
        .entry
        .calls
        .iter()
        .any(|c| matches!(c, EntryCall::AllocShadowCache(_))));
    assert!(!m.entry.shadow_cache);
    let mut m = l1(shadowing_l1());
    assert_eq!(vmlaunch(&mut m), 1);
    assert!(m.entry.shadow_cache);
    let calls = &m.entry.calls;
    let alloc = calls
        .iter()
        .position(|c| *c == EntryCall::AllocShadowCache(true));
    let cache = calls.iter().position(|c| *c == EntryCall::CacheShadow);
    assert!(alloc.is_some() && alloc < cache, "{calls:?}");
    // A later entry finds it allocated.
    let mut m = l1(shadowing_l1());
    m.entry.shadow_cache = true;
    assert_eq!(vmlaunch(&mut m), 1);
    assert!(m.entry.calls.contains(&EntryCall::AllocShadowCache(false)));
}

#[test]
fn a_shadow_cache_allocation_failure_is_kvm_runs_enomem_before_the_entry() {
    let mut m = l1(shadowing_l1());
    m.entry.shadow_cache_fails = Some(-12);
    assert_eq!(vmlaunch(&mut m), -12);
    assert!(!m.run_pending && !m.entry.shadow_cache);
    assert!(m.calls.is_empty(), "no outcome for L1: {:?}", m.calls);
    assert!(!m.entry.calls.contains(&EntryCall::EnterGuestMode));
    // A check that fails the instruction comes first: no allocation.
    let mut m = l1(shadowing_l1());
    m.entry.shadow_cache_fails = Some(-12);
    m.entry.check_controls = Some(Check::HostCr0);
    assert_eq!(vmlaunch(&mut m), 1);
    assert!(!m
        .entry
        .calls
        .iter()
        .any(|c| matches!(c, EntryCall::AllocShadowCache(_))));
}
