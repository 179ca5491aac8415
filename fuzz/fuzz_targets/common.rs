// SPDX-License-Identifier: GPL-2.0

//! What both fuzz targets share: a vCPU model driven by fuzzer bits, and
//! reading quadwords of the input.

use rnvmx::vmcs::caps::NestedVmxMsrs;
use rnvmx::vmcs::checks::Vcpu;
use rnvmx::vmcs::layout::VmcsHdr;

/// A vCPU whose properties come from fuzzer bits.
pub struct Fuzzed {
    /// L1's capability MSRs.
    pub msrs: NestedVmxMsrs,
    /// Drives MAXPHYADDR, reserved bits and the flags below.
    pub bits: u64,
    /// The VMCS header every readable link pointer has.
    pub hdr: u32,
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

/// The `i`th little-endian quadword of the input, zeros past its end.
pub fn u64_at(data: &[u8], i: usize) -> u64 {
    let mut b = [0u8; 8];
    for (k, byte) in b.iter_mut().enumerate() {
        *byte = data
            .get(i.wrapping_mul(8).wrapping_add(k))
            .copied()
            .unwrap_or(0);
    }
    u64::from_le_bytes(b)
}
