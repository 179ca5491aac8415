// SPDX-License-Identifier: GPL-2.0

//! Fuzzes what L1 controls: VMREAD/VMWRITE operands on a vmcs12 and the
//! VM-entry checks over the result, with random vCPU properties. Any panic,
//! overflow (debug assertions are on) or nondeterminism is a finding.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rnvmx::vmcs::access::{vmread, vmwrite, AccessCtx};
use rnvmx::vmcs::caps::{self, HostCaps, NestedVmxMsrs};
use rnvmx::vmcs::checks::{check_vmentry, Vcpu};
use rnvmx::vmcs::layout::{Vmcs12, VmcsHdr};

struct Fuzzed {
    msrs: NestedVmxMsrs,
    bits: u64,
    hdr: u32,
}

impl Vcpu for Fuzzed {
    fn maxphyaddr(&self) -> u32 {
        (self.bits & 0x7f) as u32
    }
    fn vmx_msrs(&self) -> &NestedVmxMsrs {
        &self.msrs
    }
    fn cr4_reserved_bits(&self) -> u64 {
        self.bits.rotate_left(7)
    }
    fn has_lam(&self) -> bool {
        self.bits & (1 << 8) != 0
    }
    fn max_virt_addr_bits(&self) -> u32 {
        if self.bits & (1 << 9) != 0 {
            57
        } else {
            48
        }
    }
    fn virt_addr_bits(&self) -> u32 {
        if self.bits & (1 << 10) != 0 {
            57
        } else {
            48
        }
    }
    fn efer_lma(&self) -> bool {
        self.bits & (1 << 11) != 0
    }
    fn efer_valid(&self, efer: u64) -> bool {
        efer & !0xd01 == 0
    }
    fn perf_global_ctrl_reserved(&self) -> u64 {
        self.bits.rotate_left(13)
    }
    fn debugctl_valid(&self, debugctl: u64) -> bool {
        debugctl & !0x3 == 0
    }
    fn quirk_allow_freeze_in_smm(&self) -> bool {
        self.bits & (1 << 12) != 0
    }
    fn read_vmcs_hdr(&mut self, gpa: u64) -> Option<VmcsHdr> {
        (gpa & 0x1000 != 0).then_some(VmcsHdr(self.hdr))
    }
    fn nested_run_pending(&self) -> bool {
        self.bits & (1 << 14) != 0
    }
}

fn u64_at(data: &[u8], i: usize) -> u64 {
    let mut b = [0u8; 8];
    for (k, byte) in b.iter_mut().enumerate() {
        *byte = data.get(i * 8 + k).copied().unwrap_or(0);
    }
    u64::from_le_bytes(b)
}

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
