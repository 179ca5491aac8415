// SPDX-License-Identifier: GPL-2.0

//! MSR bitmaps (SDM 25.6.9 "MSR-Bitmap Address"): one 4-KiB page of four
//! 1-KiB bitmaps (reads of MSRs 0-0x1fff, reads of 0xc0000000-0xc0001fff,
//! then the same for writes); a set bit makes the access exit. And vmcs02's
//! bitmap merged from L1's and vmcs01's, as KVM's
//! `nested_vmx_prepare_msr_bitmap()`.
//!
//! vmcs02's page starts all ones (every access exits to L0, which asks
//! L1's bitmap) and only the bits below are ever cleared, each recomputed at
//! every merge: the x2APIC range (0x800-0x8ff) per L1's APIC virtualization,
//! and a few MSRs L1 and L0 may both pass through.

/// 64-bit words in a bitmap page.
pub const WORDS: usize = 512;

/// A read or a write of an MSR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// RDMSR.
    Read,
    /// WRMSR.
    Write,
}

/// The bit of `msr`'s `access` in a bitmap page; `None` for an MSR outside
/// both ranges, which always exits.
pub const fn bit_index(msr: u32, access: Access) -> Option<u64> {
    let base = match access {
        Access::Read => 0,
        Access::Write => 2048 * 8,
    };
    match msr {
        0..=0x1fff => Some(base + msr as u64),
        0xc000_0000..=0xc000_1fff => Some(base + 1024 * 8 + (msr & 0x1fff) as u64),
        _ => None,
    }
}

/// A bitmap page the merge reads, a word at a time (L1's is L1 memory,
/// which the glue reads once per word).
pub trait Bitmap {
    /// Word `i` (< WORDS) of the page.
    fn word(&self, i: usize) -> u64;
}

impl Bitmap for [u64; WORDS] {
    fn word(&self, i: usize) -> u64 {
        self.get(i).copied().unwrap_or(!0)
    }
}

/// Whether `msr`'s `access` exits per `b` (KVM's
/// `vmx_test_msr_bitmap_read/write()`).
pub fn intercepted(b: &impl Bitmap, msr: u32, access: Access) -> bool {
    match bit_index(msr, access) {
        Some(bit) => b.word((bit / 64) as usize) >> (bit % 64) & 1 != 0,
        None => true,
    }
}

fn set(out: &mut [u64; WORDS], msr: u32, access: Access, intercept: bool) {
    let Some(bit) = bit_index(msr, access) else {
        return;
    };
    if let Some(w) = out.get_mut((bit / 64) as usize) {
        let mask = 1u64 << (bit % 64);
        if intercept {
            *w |= mask;
        } else {
            *w &= !mask;
        }
    }
}

/// L1's APIC virtualization for L2 (vmcs12's secondary controls).
#[derive(Clone, Copy, Debug, Default)]
pub struct ApicVirt {
    /// Virtualize x2APIC mode.
    pub x2apic_mode: bool,
    /// APIC-register virtualization.
    pub register_virt: bool,
    /// Virtual-interrupt delivery.
    pub vid: bool,
}

/// The x2APIC MSRs (KVM's `X2APIC_MSR()`, 0x800 + APIC offset / 16).
pub mod x2apic {
    /// The first x2APIC MSR.
    pub const FIRST: u32 = 0x800;
    /// The last x2APIC MSR.
    pub const LAST: u32 = 0x8ff;
    /// TPR.
    pub const TASKPRI: u32 = 0x808;
    /// EOI.
    pub const EOI: u32 = 0x80b;
    /// SELF IPI.
    pub const SELF_IPI: u32 = 0x83f;
}

/// The MSRs whose pass-through both L1's and vmcs01's bitmaps decide:
/// vmcs01's keeps userspace's MSR filter and L0's own interception.
const PASS_THROUGH: [(u32, &[Access]); 6] = [
    (0xc000_0100, &[Access::Read, Access::Write]), // MSR_FS_BASE
    (0xc000_0101, &[Access::Read, Access::Write]), // MSR_GS_BASE
    (0xc000_0102, &[Access::Read, Access::Write]), // MSR_KERNEL_GS_BASE
    (0x48, &[Access::Read, Access::Write]),        // MSR_IA32_SPEC_CTRL
    (0x49, &[Access::Write]),                      // MSR_IA32_PRED_CMD
    (0x10b, &[Access::Write]),                     // MSR_IA32_FLUSH_CMD
];

/// The words of the x2APIC range in the read and the write bitmaps.
fn x2apic_words(access: Access) -> core::ops::Range<usize> {
    let first = bit_index(x2apic::FIRST, access).unwrap_or(0) / 64;
    let last = bit_index(x2apic::LAST, access).unwrap_or(0) / 64;
    first as usize..last as usize + 1
}

/// KVM's `nested_vmx_prepare_msr_bitmap()` once L1's bitmap `l1` is
/// mapped: vmcs02's bitmap `out` from it and vmcs01's `l01`.
pub fn merge(l1: &impl Bitmap, l01: &impl Bitmap, apic: ApicVirt, out: &mut [u64; WORDS]) {
    // Every x2APIC MSR exits, but those L1's APIC virtualization serves
    // from L2's virtual-APIC page and L1 does not intercept; vmcs01's
    // bitmap does not matter there (L1 may use x2APIC for L2 only).
    for access in [Access::Read, Access::Write] {
        for i in x2apic_words(access) {
            if let Some(w) = out.get_mut(i) {
                *w = !0;
            }
        }
    }
    if apic.x2apic_mode {
        if apic.register_virt {
            // Reads come from the virtual-APIC page: L1's bits as they are.
            for i in x2apic_words(Access::Read) {
                if let Some(w) = out.get_mut(i) {
                    *w = l1.word(i);
                }
            }
        }
        let mut pass = |msr: u32, access: Access| {
            if !intercepted(l1, msr, access) {
                set(out, msr, access, false);
            }
        };
        pass(x2apic::TASKPRI, Access::Read);
        pass(x2apic::TASKPRI, Access::Write);
        if apic.vid {
            pass(x2apic::EOI, Access::Write);
            pass(x2apic::SELF_IPI, Access::Write);
        }
    }
    for (msr, accesses) in PASS_THROUGH {
        for &access in accesses {
            let exit = intercepted(l01, msr, access) || intercepted(l1, msr, access);
            set(out, msr, access, exit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONES: [u64; WORDS] = [!0; WORDS];
    const ZEROS: [u64; WORDS] = [0; WORDS];

    fn clear(b: &mut [u64; WORDS], msr: u32, access: Access) {
        set(b, msr, access, false);
    }

    #[test]
    fn layout() {
        assert_eq!(bit_index(0, Access::Read), Some(0));
        assert_eq!(bit_index(0x1fff, Access::Read), Some(0x1fff));
        assert_eq!(bit_index(0xc000_0080, Access::Read), Some(8192 + 0x80));
        assert_eq!(bit_index(0x10, Access::Write), Some(2048 * 8 + 0x10));
        assert_eq!(
            bit_index(0xc000_1fff, Access::Write),
            Some(3072 * 8 + 0x1fff)
        );
        assert_eq!(bit_index(0x2000, Access::Read), None);
        assert_eq!(bit_index(0xc000_2000, Access::Write), None);
        assert!(intercepted(&ZEROS, 0x4000_0000, Access::Read));
        assert!(!intercepted(&ZEROS, 0x10, Access::Read));
    }

    #[test]
    fn pass_through_needs_both_l1_and_l0() {
        let mut l1 = ONES;
        let mut l01 = ONES;
        clear(&mut l1, 0xc000_0100, Access::Read);
        clear(&mut l01, 0xc000_0100, Access::Write);
        clear(&mut l1, 0x48, Access::Read);
        clear(&mut l01, 0x48, Access::Read);
        let mut out = ONES;
        merge(&l1, &l01, ApicVirt::default(), &mut out);
        assert!(
            intercepted(&out, 0xc000_0100, Access::Read),
            "L0 intercepts"
        );
        assert!(
            intercepted(&out, 0xc000_0100, Access::Write),
            "L1 intercepts"
        );
        assert!(!intercepted(&out, 0x48, Access::Read));
        assert!(intercepted(&out, 0x48, Access::Write));
        // Everything else stays intercepted, even what both pass through.
        let mut both = ONES;
        merge(&ZEROS, &ZEROS, ApicVirt::default(), &mut both);
        assert!(intercepted(&both, 0x10, Access::Read), "TSC");
        assert!(intercepted(&both, 0x49, Access::Read), "PRED_CMD reads");
        assert!(!intercepted(&both, 0x49, Access::Write));
        assert!(!intercepted(&both, 0x10b, Access::Write));
        assert!(!intercepted(&both, 0xc000_0102, Access::Write));
    }

    #[test]
    fn a_later_merge_intercepts_again() {
        let mut out = ONES;
        merge(&ZEROS, &ZEROS, ApicVirt::default(), &mut out);
        assert!(!intercepted(&out, 0xc000_0101, Access::Read));
        merge(&ONES, &ZEROS, ApicVirt::default(), &mut out);
        assert_eq!(out, ONES);
    }

    #[test]
    fn x2apic_without_virtualization_always_exits() {
        let mut out = ZEROS;
        merge(&ZEROS, &ZEROS, ApicVirt::default(), &mut out);
        for msr in x2apic::FIRST..=x2apic::LAST {
            assert!(intercepted(&out, msr, Access::Read));
            assert!(intercepted(&out, msr, Access::Write));
        }
    }

    #[test]
    fn x2apic_reads_from_the_virtual_apic_page() {
        let mut l1 = ONES;
        clear(&mut l1, 0x830, Access::Read); // ICR
        clear(&mut l1, 0x830, Access::Write);
        clear(&mut l1, x2apic::TASKPRI, Access::Write);
        let apic = ApicVirt {
            x2apic_mode: true,
            register_virt: true,
            vid: false,
        };
        let mut out = ONES;
        merge(&l1, &ZEROS, apic, &mut out);
        assert!(!intercepted(&out, 0x830, Access::Read));
        assert!(
            intercepted(&out, 0x830, Access::Write),
            "only TPR/EOI/SELF_IPI"
        );
        assert!(intercepted(&out, 0x802, Access::Read), "L1 intercepts");
        assert!(intercepted(&out, x2apic::TASKPRI, Access::Read));
        assert!(!intercepted(&out, x2apic::TASKPRI, Access::Write));
        assert!(intercepted(&out, x2apic::EOI, Access::Write), "no VID");
    }

    #[test]
    fn virtual_interrupt_delivery_passes_eoi_and_self_ipi() {
        let apic = ApicVirt {
            x2apic_mode: true,
            register_virt: false,
            vid: true,
        };
        let mut out = ONES;
        merge(&ZEROS, &ONES, apic, &mut out);
        assert!(!intercepted(&out, x2apic::EOI, Access::Write));
        assert!(!intercepted(&out, x2apic::SELF_IPI, Access::Write));
        assert!(!intercepted(&out, x2apic::TASKPRI, Access::Read));
        assert!(intercepted(&out, 0x830, Access::Read), "no register virt");
        assert!(
            intercepted(&out, 0xc000_0100, Access::Read),
            "L0 intercepts"
        );
    }
}
