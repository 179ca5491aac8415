// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the core's KVM_SET_NESTED_STATE decisions on a whole userspace
//! blob, in the order KVM makes them (x86.c's checks, `check_header`, the
//! vmcs12 address, `check_vmcs12_part` with vmcs12 and the shadow vmcs12 as
//! far as the state's size covers them), and the round trip: what
//! KVM_GET_NESTED_STATE then reports (`get_state` of the vCPU the restore
//! leaves) is accepted again, with the same outcome.
//!
//! Input: the blob (header at 0, vmcs12 at 128, shadow vmcs12 at 4224), and
//! the vCPU's bits in the two quadwords at 8320 (zeros past the input).

#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;
use common::{u64_at, Fuzzed};

use rnvmx::nested::state::{
    self, flags, Header, NestedView, Restore, SetStateEnv, HEADER_SIZE, MAX_SIZE,
    SHADOW_VMCS12_OFFSET, VMCS12_OFFSET,
};
use rnvmx::vmcs::caps::{self, HostCaps};
use rnvmx::vmcs::controls::{PinBased, Vmcs12Controls};
use rnvmx::vmcs::layout::{Vmcs12, VmcsHdr};
use rnvmx::vmcs::table::FIELDS;

const INVALID_GPA: u64 = u64::MAX;
/// `sizeof(struct vmcs12)`, what KVM copies from userspace.
const VMCS12_LEN: usize = core::mem::size_of::<Vmcs12>();
/// x86.c's flags (KVM_STATE_NESTED_GIF_SET is SVM's, let through).
const GATE_FLAGS: u16 = 0x10f;

/// The vmcs12 whose `struct vmcs12` bytes start at `at` in `data`, as the
/// kernel's copy of them (every field at its offset; zeros past the end).
fn vmcs12_at(data: &[u8], at: usize) -> Vmcs12 {
    let le = |off: usize, n: usize| {
        let mut b = [0u8; 8];
        for (k, byte) in b.iter_mut().take(n).enumerate() {
            *byte = data.get(at + off + k).copied().unwrap_or(0);
        }
        u64::from_le_bytes(b)
    };
    let mut v = Vmcs12::zeroed();
    v.hdr = VmcsHdr(le(0, 4) as u32);
    v.abort = le(4, 4) as u32;
    v.launch_state = le(8, 4) as u32;
    for f in FIELDS.iter() {
        v.set(f, le(usize::from(f.offset), f.width().bytes()));
    }
    v
}

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
    let mut cpu = Fuzzed {
        msrs: caps::setup(&host),
        bits: u64_at(data, MAX_SIZE / 8 + 1),
        hdr: (w >> 32) as u32,
    };
    match state::check_header(&h, &env) {
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
    let Ok(r) = state::check_vmcs12_part(&h, &env, v, s, &mut cpu) else {
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
            assert!(state::check_vmcs12_address(&h, &env).is_ok());
        }
        Restore::GuestMode { run_pending, .. } => {
            assert_ne!(h.flags & flags::GUEST_MODE, 0);
            assert!(!env.in_smm);
            assert_eq!(run_pending, h.flags & flags::RUN_PENDING != 0);
            assert!(state::check_vmcs12_address(&h, &env).is_ok());
        }
    }

    // KVM_GET_NESTED_STATE of the vCPU this leaves, set again: accepted,
    // and to the same vCPU (the deadline kept only with the timer on).
    let n = view_after(&h, &env, r);
    let g = state::get_state(&n, v.unwrap_or(&Vmcs12::zeroed()));
    assert!(g.header.size as usize <= MAX_SIZE);
    let h2 = Header::decode(&g.header.encode());
    assert_eq!(h2, g.header);
    assert_eq!(state::check_header(&h2, &env), Ok(true), "{h:?} -> {h2:?}");
    let covers2 = |at: usize| h2.size as usize >= at + VMCS12_LEN;
    assert_eq!(g.vmcs12, covers2(VMCS12_OFFSET));
    let v2 = covers2(VMCS12_OFFSET).then_some(&vmcs12);
    let s2 = covers2(SHADOW_VMCS12_OFFSET).then_some(&shadow);
    let r2 = state::check_vmcs12_part(&h2, &env, v2, s2, &mut cpu);
    let timer = Vmcs12Controls::of(&vmcs12)
        .pin
        .contains(PinBased::VMX_PREEMPTION_TIMER);
    let expect = match r {
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
    };
    assert_eq!(r2, Ok(expect), "{h:?} -> {h2:?}");
});
