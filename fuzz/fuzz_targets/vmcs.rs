// SPDX-License-Identifier: GPL-2.0

//! Fuzzes what L1 controls: VMREAD/VMWRITE operands on a vmcs12 and the
//! VM-entry checks over the result, with random vCPU properties. Any panic,
//! overflow (debug assertions are on) or nondeterminism is a finding.

#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;
use common::{u64_at, Fuzzed};

use rnvmx::vmcs::access::{vmread, vmwrite, AccessCtx};
use rnvmx::vmcs::caps::{self, HostCaps};
use rnvmx::vmcs::checks::check_vmentry;
use rnvmx::vmcs::layout::Vmcs12;

fuzz_target!(|data: &[u8]| {
    let words = data.len() / 8;
    if words < 4 {
        return;
    }
    let bits = u64_at(data, 0);
    let host = HostCaps {
        pin_based: bits as u32,
        cpu_based: (bits >> 8) as u32 | 0x8000_0000,
        secondary: u64_at(data, 1) as u32,
        vmexit: 0x01ff_ffff,
        vmentry: 0x0003_ffff,
        misc: u64_at(data, 1) >> 32,
        ept_caps: (u64_at(data, 2) >> 32) as u32,
        basic_inout: bits & 1 != 0,
        has_vmfunc: bits & 2 != 0,
        cr0_fixed1: 0xffff_ffff,
        cr4_fixed1: u64_at(data, 2) & 0xff_ffff,
        umip_emulated: bits & 4 != 0,
        enable_apicv: bits & 8 != 0,
        enable_ept: bits & 16 != 0,
        enable_ept_ad_bits: bits & 32 != 0,
        enable_vpid: bits & 64 != 0,
        enable_unrestricted_guest: bits & 128 != 0,
        flexpriority_enabled: bits & 256 != 0,
        enable_sgx: false,
    };
    let mut vcpu = Fuzzed {
        msrs: caps::setup(&host),
        bits,
        hdr: u64_at(data, 3) as u32,
    };
    let ctx = AccessCtx {
        has_current_vmcs: bits & (1 << 40) != 0,
        guest_mode: bits & (1 << 41) != 0,
        link_pointer_valid: bits & (1 << 42) != 0,
        vmwrite_any_field: bits & (1 << 43) != 0,
        long_mode: bits & (1 << 44) != 0,
    };
    // The rest: (field, value) pairs of VMWRITEs, each read back.
    let mut v = Vmcs12::zeroed();
    let mut i = 4;
    while i + 1 < words {
        let (field, value) = (u64_at(data, i), u64_at(data, i + 1));
        let w = vmwrite(&mut v, &ctx, field, value);
        let r = vmread(&v, &ctx, field);
        // What VMWRITE could write, VMREAD can read.
        assert!(w.is_err() || r.is_ok());
        i += 2;
    }
    let first = check_vmentry(&v, &mut vcpu);
    assert_eq!(first, check_vmentry(&v, &mut vcpu));
    if let Err(check) = first {
        let _ = (check.sdm(), check.failure());
    }
    // Userspace writes to the capability MSRs.
    let kvm = vcpu.msrs;
    let _ = caps::restore(
        &mut vcpu.msrs,
        &kvm,
        false,
        0x480 + (bits >> 48) as u32 % 20,
        u64_at(data, 2),
    );
});
