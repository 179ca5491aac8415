// SPDX-License-Identifier: GPL-2.0

//! KVM_GET_NESTED_STATE's sequence and the RSM into L2 on the model vCPU
//! (model_state.rs), against nested.c 6.12's `vmx_get_nested_state()` and
//! upstream's `vmx_leave_smm()` (test only).

use std::vec::Vec;

use crate::nested::model_state::{vmcs12_bytes, StateCall as C, StateModel};
use crate::nested::rsm::rsm_enter_l2;
use crate::nested::state::{flags::*, Header, HEADER_SIZE, MAX_SIZE};
use crate::nested::state::{SHADOW_VMCS12_OFFSET, VMCS12_OFFSET};
use crate::nested::state_get::{get_nested_state, GetFault};
use crate::nested::state_set::{set_nested_state, Restored};
use crate::nested::state_set_tests::{blob, model, valid_vmcs12};
use crate::nested::state_vcpu::{Cache, StateStat};
use crate::nested::state_vmcs12::Restore;
use crate::nested::vmentry::Entered;
use crate::vmcs::checks::tests::Model;
use crate::vmcs::checks::Check;
use crate::vmcs::controls::Secondary;
use crate::vmcs::layout::{Vmcs12, VMCS12_SIZE};
use crate::vmcs::x86::INVALID_GPA;

const ONE: usize = HEADER_SIZE + VMCS12_SIZE;

/// A vCPU in VMX operation with `v` current, in L2 or not.
fn in_vmx(v: Vmcs12, guest_mode: bool) -> StateModel<Model> {
    let mut m = model();
    m.vmxon_ptr = 0x1000;
    m.current_vmptr = 0x2000;
    m.guest_mode = guest_mode;
    m.run_pending = false;
    m.vmcs12 = Some(v);
    m
}

fn with_shadowing(mut v: Vmcs12) -> Vmcs12 {
    v.secondary_vm_exec_control |= Secondary::SHADOW_VMCS.bits();
    v.vmcs_link_pointer = 0xb000;
    v
}

fn get(m: &mut StateModel<Model>, size: usize) -> Result<u32, GetFault> {
    m.user = std::vec![0xaa; size];
    m.calls.clear();
    get_nested_state(m, size as u32)
}

/// A buffer too small gets the size needed, nothing written and vmcs12
/// not synced: nested.c syncs only after the size check.
#[test]
fn short_buffer_gets_the_size_and_nothing_written() {
    let mut m = in_vmx(valid_vmcs12(), false);
    assert_eq!(get(&mut m, ONE - 1), Ok(ONE as u32));
    assert!(m.user.iter().all(|&b| b == 0xaa));
    assert_eq!(m.calls, []);
    let mut m = in_vmx(with_shadowing(valid_vmcs12()), true);
    assert_eq!(get(&mut m, MAX_SIZE - 1), Ok(MAX_SIZE as u32));
    assert!(m.user.iter().all(|&b| b == 0xaa));
    assert_eq!(m.calls, []);
}

#[test]
fn outside_vmx_operation_only_the_header() {
    let mut m = StateModel::new(Model::new());
    assert_eq!(get(&mut m, MAX_SIZE), Ok(HEADER_SIZE as u32));
    assert_eq!(m.calls, [C::WriteUser(0, HEADER_SIZE)]);
    let mut raw = [0u8; HEADER_SIZE];
    raw.copy_from_slice(&m.user[..HEADER_SIZE]);
    assert_eq!(Header::decode(&raw), Header::not_in_vmx_operation());
    assert!(m.user[HEADER_SIZE..].iter().all(|&b| b == 0xaa));
}

/// In L2: vmcs12 synced from vmcs02, then header, vmcs12 and the shadow
/// vmcs12 copied, and the save counted.
#[test]
fn in_l2_sync_then_copy() {
    let v = with_shadowing(valid_vmcs12());
    let mut m = in_vmx(v, true);
    m.run_pending = true;
    m.shadow_vmcs12 = Some(Vmcs12::zeroed());
    assert_eq!(get(&mut m, MAX_SIZE), Ok(MAX_SIZE as u32));
    assert_eq!(
        m.calls,
        [
            C::SyncVmcs02,
            C::SyncRare,
            C::WriteUser(0, HEADER_SIZE),
            C::WriteCache(Cache::Vmcs12, VMCS12_OFFSET),
            C::WriteCache(Cache::ShadowVmcs12, SHADOW_VMCS12_OFFSET),
            C::Count(StateStat::SaveL2),
        ]
    );
    let mut raw = [0u8; HEADER_SIZE];
    raw.copy_from_slice(&m.user[..HEADER_SIZE]);
    let h = Header::decode(&raw);
    assert_eq!(h.flags, GUEST_MODE | RUN_PENDING);
    assert_eq!((h.vmxon_pa, h.vmcs12_pa), (0x1000, 0x2000));
    assert_eq!(
        m.user[VMCS12_OFFSET..SHADOW_VMCS12_OFFSET],
        vmcs12_bytes(&v)[..]
    );
}

/// In L1: vmcs12 from the shadow VMCS unless a sync to it is still due;
/// the shadow vmcs12 is not copied (nested.c copies it past the size).
#[test]
fn in_l1_shadow_vmcs_sync_and_no_shadow_copy() {
    let v = with_shadowing(valid_vmcs12());
    for (shadow_vmcs, need_sync, synced) in [
        (true, false, true),
        (true, true, false),
        (false, false, false),
    ] {
        let mut m = in_vmx(v, false);
        m.shadow_vmcs = shadow_vmcs;
        m.need_shadow_sync = need_sync;
        assert_eq!(get(&mut m, MAX_SIZE), Ok(ONE as u32));
        let mut calls = Vec::new();
        if synced {
            calls.push(C::ShadowToVmcs12);
        }
        calls.extend([
            C::SyncRare,
            C::WriteUser(0, HEADER_SIZE),
            C::WriteCache(Cache::Vmcs12, VMCS12_OFFSET),
        ]);
        assert_eq!(m.calls, calls, "{shadow_vmcs} {need_sync}");
        assert!(m.user[ONE..].iter().all(|&b| b == 0xaa));
    }
}

/// In VMX operation without a current VMCS: no sync, only the header.
#[test]
fn no_current_vmcs_no_sync() {
    let mut m = in_vmx(valid_vmcs12(), false);
    m.current_vmptr = INVALID_GPA;
    assert_eq!(get(&mut m, MAX_SIZE), Ok(HEADER_SIZE as u32));
    assert_eq!(m.calls, [C::WriteUser(0, HEADER_SIZE)]);
}

/// A failed copy to userspace is -EFAULT, at whichever part.
#[test]
fn copy_faults() {
    for at in [0, VMCS12_OFFSET + 1, SHADOW_VMCS12_OFFSET + 1] {
        let mut m = in_vmx(with_shadowing(valid_vmcs12()), true);
        m.user_fault_at = Some(at);
        assert_eq!(get(&mut m, MAX_SIZE), Err(GetFault), "{at}");
        assert!(!m.calls.contains(&C::Count(StateStat::SaveL2)));
    }
    // A current VMCS reported without a cache to copy.
    let mut m = in_vmx(valid_vmcs12(), false);
    m.vmcs12 = None;
    assert_eq!(get(&mut m, MAX_SIZE), Err(GetFault));
}

/// What GET writes, SET restores to the same vCPU, and GET writes again.
#[test]
fn get_set_get_round_trips() {
    let v = with_shadowing(valid_vmcs12());
    let mut s = Vmcs12::zeroed();
    s.hdr = crate::vmcs::layout::VmcsHdr(crate::vmcs::layout::VMCS12_REVISION | 1 << 31);
    let mut m = in_vmx(v, true);
    m.run_pending = true;
    m.mtf_pending = true;
    m.shadow_vmcs12 = Some(s);
    assert_eq!(get(&mut m, MAX_SIZE), Ok(MAX_SIZE as u32));
    let saved = m.user.clone();
    let mut raw = [0u8; HEADER_SIZE];
    raw.copy_from_slice(&saved[..HEADER_SIZE]);
    let h = Header::decode(&raw);

    let mut n = model();
    n.user = saved.clone();
    assert_eq!(
        set_nested_state(&mut n, &h),
        Ok(Restored::Vmx(Restore::GuestMode {
            run_pending: true,
            mtf_pending: true,
            preemption_timer_deadline: None
        }))
    );
    assert_eq!(get(&mut n, MAX_SIZE), Ok(MAX_SIZE as u32));
    assert_eq!(n.user, saved);
    // The same blob built by hand.
    assert_eq!(blob(&h, &v, &s), saved);
}

/// RSM into L2 with a vmcs12 that passes: entered, nothing counted.
#[test]
fn rsm_enters_l2() {
    let mut m = in_vmx(valid_vmcs12(), false);
    m.smm_guest_mode = true;
    m.calls.clear();
    assert_eq!(rsm_enter_l2(&mut m), Some(Entered::L2));
    assert_eq!(m.calls, [C::Checks(false), C::EnterNonRootMode]);
    m.entered = Entered::VmExit;
    m.calls.clear();
    assert_eq!(rsm_enter_l2(&mut m), Some(Entered::VmExit));
}

/// A vmcs12 changed in SMM fails the re-check: counted, then traced, and
/// L2 is not entered.
#[test]
fn rsm_refused_counts_then_traces() {
    let mut v = valid_vmcs12();
    v.host_cs_selector = 0;
    let mut m = in_vmx(v, false);
    m.calls.clear();
    assert_eq!(rsm_enter_l2(&mut m), None);
    assert_eq!(
        m.calls,
        [
            C::Checks(false),
            C::Count(StateStat::RsmCheckFail),
            C::TraceCheck(Check::HostCsNull)
        ]
    );
    // A plain check (a shadow vmcs12 without its header) is not traced.
    let mut m = in_vmx(with_shadowing(valid_vmcs12()), false);
    m.shadow_vmcs12 = Some(Vmcs12::zeroed());
    m.calls.clear();
    assert_eq!(rsm_enter_l2(&mut m), None);
    assert_eq!(
        m.calls,
        [C::Checks(false), C::Count(StateStat::RsmCheckFail)]
    );
    // No vmcs12 cache at all.
    let mut m = in_vmx(valid_vmcs12(), false);
    m.vmcs12 = None;
    m.calls.clear();
    assert_eq!(rsm_enter_l2(&mut m), None);
    assert_eq!(m.calls, [C::Count(StateStat::RsmCheckFail)]);
}
