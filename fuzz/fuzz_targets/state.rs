// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the core's KVM_SET_NESTED_STATE decisions on a whole userspace
//! blob, in the order KVM makes them (x86.c's checks, `check_header`, the
//! vmcs12 address, `check_vmcs12_part` with vmcs12 and the shadow vmcs12 as
//! far as the state's size covers them), and the round trip: what
//! KVM_GET_NESTED_STATE then reports (`get_state` of the vCPU the restore
//! leaves) is accepted again, with the same outcome. The same blob then
//! drives the whole sequences on the model vCPU (`state_set`, `state_get`
//! on `model_state::StateModel`): the same outcome as the decisions, the
//! vCPU left as nested.c leaves it, and GET's blob set again.
//!
//! Input: the blob (header at 0, vmcs12 at 128, shadow vmcs12 at 4224), and
//! the vCPU's bits in the two quadwords at 8320 (zeros past the input).

#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;
use common::{u64_at, Fuzzed};

use rnvmx::nested::model_state::{vmcs12_at, StateModel};
use rnvmx::nested::state::{
    flags, Header, SetStateEnv, HEADER_SIZE, MAX_SIZE, SHADOW_VMCS12_OFFSET, VMCS12_OFFSET,
};
use rnvmx::nested::state_get::{self, get_nested_state, NestedView};
use rnvmx::nested::state_header::check_header;
use rnvmx::nested::state_set::{set_nested_state, Restored, SetError};
use rnvmx::nested::state_vmcs12::{self, check_vmcs12_part, Restore};
use rnvmx::vmcs::caps::{self, HostCaps};
use rnvmx::vmcs::controls::{PinBased, Vmcs12Controls};
use rnvmx::vmcs::layout::Vmcs12;

const INVALID_GPA: u64 = u64::MAX;
/// `sizeof(struct vmcs12)`, what KVM copies from userspace.
const VMCS12_LEN: usize = core::mem::size_of::<Vmcs12>();
/// x86.c's flags (KVM_STATE_NESTED_GIF_SET is SVM's, let through).
const GATE_FLAGS: u16 = 0x10f;

/// The vCPU a successful restore leaves, as KVM_GET_NESTED_STATE reads it.
fn view_after(h: &Header, env: &SetStateEnv, r: Restore) -> NestedView {
    let smm_vmxon = h.smm_flags & flags::SMM_VMXON != 0;
    let evmcs_pending = h.vmcs12_pa == INVALID_GPA && h.flags & flags::EVMCS != 0;
    let mut n = NestedView {
        vmx_in_cpuid: env.vmx_in_cpuid,
        vmxon: !smm_vmxon,
        smm_vmxon,
        smm_guest_mode: h.smm_flags & flags::SMM_GUEST_MODE != 0,
        vmxon_ptr: h.vmxon_pa,
        current_vmptr: INVALID_GPA,
        ..NestedView::default()
    };
    if r != Restore::VmxonOnly {
        n.current_vmptr = h.vmcs12_pa;
        n.evmcs_set = evmcs_pending;
    }
    if let Restore::GuestMode {
        run_pending,
        mtf_pending,
        preemption_timer_deadline,
    } = r
    {
        n.guest_mode = true;
        n.run_pending = run_pending;
        n.mtf_pending = mtf_pending;
        n.preemption_timer_deadline = preemption_timer_deadline;
    }
    n
}

/// `r` as a restore of what KVM_GET_NESTED_STATE reports of the vCPU it
/// leaves: the deadline kept only with the preemption timer on.
fn after_round_trip(r: Restore, vmcs12: &Vmcs12) -> Restore {
    let timer = Vmcs12Controls::of(vmcs12)
        .pin
        .contains(PinBased::VMX_PREEMPTION_TIMER);
    match r {
        Restore::GuestMode {
            run_pending,
            mtf_pending,
            preemption_timer_deadline,
        } => Restore::GuestMode {
            run_pending,
            mtf_pending,
            preemption_timer_deadline: preemption_timer_deadline.filter(|_| timer),
        },
        other => other,
    }
}

/// The sequences on the model vCPU: KVM_SET_NESTED_STATE of the blob over
/// a vCPU in L2 comes to what the decisions say, leaves the vCPU as
/// nested.c leaves it, and what KVM_GET_NESTED_STATE then writes is set
/// again to the same outcome.
fn sequences(data: &[u8], h: &Header, env: &SetStateEnv, cpu: impl Fn() -> Fuzzed) {
    let size = (h.size as usize).min(MAX_SIZE);
    let user: Vec<u8> = (0..size)
        .map(|i| data.get(i).copied().unwrap_or(0))
        .collect();
    // The decisions, with nested_run_pending as the state sets it.
    let pending = h.flags & flags::RUN_PENDING != 0;
    let mut checks = cpu();
    checks.bits = (checks.bits & !(1 << 14)) | (u64::from(pending) << 14);
    let header = check_header(h, env);
    let vmcs12 = vmcs12_at(&user, VMCS12_OFFSET);
    let shadow = vmcs12_at(&user, SHADOW_VMCS12_OFFSET);
    let covers = |at: usize| h.size as usize >= at + VMCS12_LEN;
    let expect = match header {
        Err(e) => Err(SetError::Refused(e)),
        Ok(false) => Ok(Restored::OutsideVmx),
        Ok(true) => {
            let v = covers(VMCS12_OFFSET).then_some(&vmcs12);
            let s = covers(SHADOW_VMCS12_OFFSET).then_some(&shadow);
            check_vmcs12_part(h, env, v, s, &mut checks)
                .map(Restored::Vmx)
                .map_err(SetError::Refused)
        }
    };
    let mut m = StateModel::new(cpu());
    m.env = *env;
    m.user = user;
    m.vmxon = true;
    m.vmxon_ptr = 0x5000;
    m.current_vmptr = 0x6000;
    m.guest_mode = true;
    m.run_pending = true;
    m.vmcs12 = Some(Vmcs12::zeroed());
    m.shadow_vmcs12 = Some(Vmcs12::zeroed());
    let r = set_nested_state(&mut m, h);
    assert_eq!(r, expect, "{h:?}");
    match r {
        // The header is checked before any side effect.
        Err(_) if header.is_err() => assert!(m.vmxon && m.guest_mode && m.run_pending),
        // Later failures leave VMX operation entered, not L2.
        Err(_) => assert!((m.vmxon || m.smm_vmxon) && !m.guest_mode && !m.run_pending),
        Ok(Restored::OutsideVmx) => assert!(!m.vmxon && !m.smm_vmxon && !m.guest_mode),
        Ok(Restored::Vmx(r)) => {
            // An empty VMXON state returns before the SMM flags apply.
            let smm = h.smm_flags & flags::SMM_VMXON != 0 && r != Restore::VmxonOnly;
            assert_eq!((m.vmxon, m.smm_vmxon), (!smm, smm));
            assert_eq!(m.guest_mode, matches!(r, Restore::GuestMode { .. }));
        }
    }
    // An eVMCS to map later is not the model's (nor the backend's).
    let Ok(restored) = r else { return };
    if h.vmcs12_pa == INVALID_GPA && h.flags & flags::EVMCS != 0 {
        return;
    }
    m.user = std::vec![0; MAX_SIZE];
    let Ok(n) = get_nested_state(&mut m, MAX_SIZE as u32) else {
        panic!("GET of {h:?}");
    };
    let blob = m.user.get(..n as usize).unwrap_or(&[]).to_vec();
    let mut raw = [0u8; HEADER_SIZE];
    raw.copy_from_slice(&blob[..HEADER_SIZE]);
    let h2 = Header::decode(&raw);
    assert_eq!(h2.size, n);
    let mut m2 = StateModel::new(cpu());
    m2.env = *env;
    m2.user = blob;
    let again = match restored {
        Restored::Vmx(r) => Restored::Vmx(after_round_trip(r, &vmcs12)),
        other => other,
    };
    assert_eq!(set_nested_state(&mut m2, &h2), Ok(again), "{h:?} -> {h2:?}");
}

fuzz_target!(|data: &[u8]| {
    let mut raw = [0u8; HEADER_SIZE];
    for (i, byte) in raw.iter_mut().enumerate() {
        *byte = data.get(i).copied().unwrap_or(0);
    }
    let h = Header::decode(&raw);
    // The header's fields are its bytes; padding is what encode() zeroes.
    let enc = h.encode();
    for (i, (&a, &b)) in raw.iter().zip(enc.iter()).enumerate() {
        let field = i < 26 || (28..40).contains(&i);
        assert_eq!(b, if field { a } else { 0 }, "header byte {i}");
    }
    // x86.c: a size below the header's, unknown flags, RUN_PENDING alone.
    if (h.size as usize) < HEADER_SIZE
        || h.flags & !GATE_FLAGS != 0
        || (h.flags & flags::RUN_PENDING != 0 && h.flags & flags::GUEST_MODE == 0)
    {
        return;
    }
    let w = u64_at(data, MAX_SIZE / 8);
    let env = SetStateEnv {
        vmx_in_cpuid: w & 1 != 0,
        maxphyaddr: 32 + ((w >> 1) & 0x1f) as u32,
        in_smm: w & (1 << 6) != 0,
        evmcs_enabled: w & (1 << 7) != 0,
    };
    let host = HostCaps {
        enable_ept: true,
        enable_vpid: true,
        ..HostCaps::default()
    };
    let fuzzed = || Fuzzed {
        msrs: caps::setup(&host),
        bits: u64_at(data, MAX_SIZE / 8 + 1),
        hdr: (w >> 32) as u32,
    };
    sequences(data, &h, &env, fuzzed);
    let mut cpu = fuzzed();
    match check_header(&h, &env) {
        Err(_) => return,
        Ok(false) => {
            assert_eq!(h.vmxon_pa, INVALID_GPA);
            assert_eq!(h.smm_flags, 0);
            return;
        }
        Ok(true) => {
            assert!(env.vmx_in_cpuid);
            assert_eq!(h.vmxon_pa & 0xfff, 0);
            assert!(h.vmxon_pa >> env.maxphyaddr == 0);
        }
    }
    let size = h.size as usize;
    let vmcs12 = vmcs12_at(data, VMCS12_OFFSET);
    let shadow = vmcs12_at(data, SHADOW_VMCS12_OFFSET);
    let covers = |at: usize| size >= at + VMCS12_LEN;
    let v = covers(VMCS12_OFFSET).then_some(&vmcs12);
    let s = covers(SHADOW_VMCS12_OFFSET).then_some(&shadow);
    let Ok(r) = check_vmcs12_part(&h, &env, v, s, &mut cpu) else {
        return;
    };
    match r {
        Restore::VmxonOnly => {
            assert!(!covers(VMCS12_OFFSET));
            assert_eq!(h.vmcs12_pa, INVALID_GPA);
            assert_eq!(h.flags & (flags::GUEST_MODE | flags::EVMCS), 0);
        }
        Restore::Vmcs12Loaded => {
            assert_eq!(h.flags & flags::GUEST_MODE, 0);
            assert!(state_vmcs12::check_vmcs12_address(&h, &env).is_ok());
        }
        Restore::GuestMode { run_pending, .. } => {
            assert_ne!(h.flags & flags::GUEST_MODE, 0);
            assert!(!env.in_smm);
            assert_eq!(run_pending, h.flags & flags::RUN_PENDING != 0);
            assert!(state_vmcs12::check_vmcs12_address(&h, &env).is_ok());
        }
    }

    // KVM_GET_NESTED_STATE of the vCPU this leaves, set again: accepted,
    // and to the same vCPU (the deadline kept only with the timer on).
    let n = view_after(&h, &env, r);
    let g = state_get::get_state(&n, v.unwrap_or(&Vmcs12::zeroed()));
    assert!(g.header.size as usize <= MAX_SIZE);
    let h2 = Header::decode(&g.header.encode());
    assert_eq!(h2, g.header);
    assert_eq!(check_header(&h2, &env), Ok(true), "{h:?} -> {h2:?}");
    let covers2 = |at: usize| h2.size as usize >= at + VMCS12_LEN;
    assert_eq!(g.vmcs12, covers2(VMCS12_OFFSET));
    let v2 = covers2(VMCS12_OFFSET).then_some(&vmcs12);
    let s2 = covers2(SHADOW_VMCS12_OFFSET).then_some(&shadow);
    let r2 = check_vmcs12_part(&h2, &env, v2, s2, &mut cpu);
    let expect = after_round_trip(r, &vmcs12);
    assert_eq!(r2, Ok(expect), "{h:?} -> {h2:?}");
});
