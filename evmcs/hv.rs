// SPDX-License-Identifier: GPL-2.0

//! Hyper-V's nested enlightenments for an eVMCS L1 (hyperv-tlfs.h,
//! nested.c, vmx/hyperv.c): the enlightened MSR bitmap, by which L1 tells
//! KVM its MSR bitmap did not change, and the direct L2 TLB flush, by which
//! L2's TLB-flush hypercalls go to L0 instead of exiting to L1.

/// `hv_enlightenments_control.nested_flush_hypercall`: L2's TLB-flush
/// hypercalls may be handled by L0.
pub const ENLIGHTENMENT_NESTED_FLUSH_HYPERCALL: u32 = 1 << 0;
/// `hv_enlightenments_control.msr_bitmap`: the MSR_BITMAP clean bit covers
/// the contents of the MSR bitmap, not only its address.
pub const ENLIGHTENMENT_MSR_BITMAP: u32 = 1 << 1;

/// `HV_VMX_SYNTHETIC_EXIT_REASON_TRAP_AFTER_FLUSH`: the synthetic exit to
/// L1 after L0 flushed for L2 while L1 held the partition's TLB lock.
pub const SYNTHETIC_EXIT_REASON_TRAP_AFTER_FLUSH: u32 = 0x1000_0031;

/// `hv_nested_enlightenments_control.features.directhypercall` (bit 0 of
/// the VP assist page's `nested_control.features`).
pub const FEATURE_DIRECT_HYPERCALL: u32 = 1 << 0;

/// `HV_X64_NESTED_DIRECT_FLUSH` (CPUID 0x4000000A.EAX bit 17).
pub const CPUID_NESTED_DIRECT_FLUSH: u32 = 1 << 17;

/// The part of the mapped eVMCS these decisions read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvmcsControls {
    /// `hv_enlightenments_control`.
    pub enlightenments: u32,
    /// `hv_clean_fields`.
    pub clean_fields: u32,
}

/// `nested_vmx_prepare_msr_bitmap()`'s shortcut: vmcs02's MSR bitmap is
/// kept as it is when nothing forces a rebuild and L1 uses the enlightened
/// MSR bitmap with the MSR_BITMAP group clean. `evmcs` is `None` without a
/// mapped eVMCS.
pub const fn msr_bitmap_unchanged(evmcs: Option<EvmcsControls>, force_recalc: bool) -> bool {
    if force_recalc {
        return false;
    }
    match evmcs {
        Some(c) => {
            c.enlightenments & ENLIGHTENMENT_MSR_BITMAP != 0
                && crate::evmcs::clean::CleanGroup::MSR_BITMAP.is_clean(c.clean_fields)
        }
        None => false,
    }
}

/// `nested_evmcs_l2_tlb_flush_enabled()`: the vCPU has Hyper-V state
/// (`hv_vcpu`), an eVMCS is mapped and asks for L0's flush, and L1 enabled
/// direct hypercalls in its VP assist page (`assist_features`).
pub const fn l2_tlb_flush_enabled(
    hv_vcpu: bool,
    evmcs: Option<EvmcsControls>,
    assist_features: u32,
) -> bool {
    if !hv_vcpu {
        return false;
    }
    match evmcs {
        Some(c) if c.enlightenments & ENLIGHTENMENT_NESTED_FLUSH_HYPERCALL != 0 => {
            assist_features & FEATURE_DIRECT_HYPERCALL != 0
        }
        _ => false,
    }
}

/// `nested_vmx_l0_wants_exit()` for EXIT_REASON_VMCALL: L0 handles L2's
/// Hyper-V TLB-flush hypercall itself when L1's Hyper-V CPUID offers the
/// direct flush (`cpuid_nested_eax`), L2 TLB flush is enabled and the
/// hypercall is one of the four flushes (`kvm_hv_is_tlb_flush_hcall()`).
pub const fn l0_handles_vmcall(
    cpuid_nested_eax: u32,
    l2_tlb_flush_enabled: bool,
    is_tlb_flush_hcall: bool,
) -> bool {
    cpuid_nested_eax & CPUID_NESTED_DIRECT_FLUSH != 0 && l2_tlb_flush_enabled && is_tlb_flush_hcall
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evmcs::clean::CleanGroup;

    const MSR_CLEAN: u32 = CleanGroup::MSR_BITMAP.bit();

    #[test]
    fn msr_bitmap_kept_only_when_enlightened_and_clean() {
        let c = |enl, clean| {
            Some(EvmcsControls {
                enlightenments: enl,
                clean_fields: clean,
            })
        };
        assert!(msr_bitmap_unchanged(
            c(ENLIGHTENMENT_MSR_BITMAP, MSR_CLEAN),
            false
        ));
        assert!(!msr_bitmap_unchanged(
            c(ENLIGHTENMENT_MSR_BITMAP, MSR_CLEAN),
            true
        ));
        assert!(!msr_bitmap_unchanged(
            c(ENLIGHTENMENT_MSR_BITMAP, 0xffff & !MSR_CLEAN),
            false
        ));
        assert!(!msr_bitmap_unchanged(
            c(ENLIGHTENMENT_NESTED_FLUSH_HYPERCALL, 0xffff),
            false
        ));
        assert!(!msr_bitmap_unchanged(None, false));
    }

    #[test]
    fn l2_tlb_flush_needs_all_three() {
        let c = Some(EvmcsControls {
            enlightenments: ENLIGHTENMENT_NESTED_FLUSH_HYPERCALL,
            clean_fields: 0,
        });
        assert!(l2_tlb_flush_enabled(true, c, FEATURE_DIRECT_HYPERCALL));
        assert!(!l2_tlb_flush_enabled(false, c, FEATURE_DIRECT_HYPERCALL));
        assert!(!l2_tlb_flush_enabled(true, None, FEATURE_DIRECT_HYPERCALL));
        assert!(!l2_tlb_flush_enabled(true, c, 0));
        let msr_only = Some(EvmcsControls {
            enlightenments: ENLIGHTENMENT_MSR_BITMAP,
            clean_fields: 0,
        });
        assert!(!l2_tlb_flush_enabled(
            true,
            msr_only,
            FEATURE_DIRECT_HYPERCALL
        ));
        assert!(l0_handles_vmcall(CPUID_NESTED_DIRECT_FLUSH, true, true));
        assert!(!l0_handles_vmcall(0, true, true));
        assert!(!l0_handles_vmcall(CPUID_NESTED_DIRECT_FLUSH, false, true));
        assert!(!l0_handles_vmcall(CPUID_NESTED_DIRECT_FLUSH, true, false));
    }
}
