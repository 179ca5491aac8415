// SPDX-License-Identifier: GPL-2.0

//! Userspace's restore of the VMX capability MSRs (KVM_SET_MSRS, host
//! initiated): what KVM's `vmx_set_vmx_msr()` accepts, so that a vCPU
//! migrates between backends with the same values (SDM Vol. 3D, Appendix A).

use super::caps::{basic, control_msr, misc, msr, NestedVmxMsrs};
use super::controls::PinBased;

/// Why a capability MSR write is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreError {
    /// The vCPU is in VMX operation (-EBUSY).
    Busy,
    /// The value is not one KVM can emulate, or the MSR cannot be restored
    /// (-EINVAL).
    Invalid,
}

/// KVM's `is_bitwise_subset()`.
const fn is_bitwise_subset(superset: u64, subset: u64, mask: u64) -> bool {
    let superset = superset & mask;
    let subset = subset & mask;
    superset | subset == superset
}

const fn genmask(high: u32, low: u32) -> u64 {
    // Only called with constant 0 <= low <= high <= 63.
    (u64::MAX >> (63 - high)) & (u64::MAX << low)
}

/// A host-initiated write of `data` to capability MSR `index` of a vCPU whose
/// current values are `cur`, when KVM's own values are `kvm` (KVM's
/// `vmx_set_vmx_msr()`). `vmxon`: the vCPU is in VMX operation.
///
/// Inlined: it is the whole of the backend's `set_vmx_msr` (a migration
/// restores every MSR; see the `vmx_msrs_restore` benchmark).
#[inline]
pub fn restore(
    cur: &mut NestedVmxMsrs,
    kvm: &NestedVmxMsrs,
    vmxon: bool,
    index: u32,
    data: u64,
) -> Result<(), RestoreError> {
    use RestoreError::Invalid;

    if vmxon {
        return Err(RestoreError::Busy);
    }
    match index {
        msr::BASIC => restore_basic(cur, kvm, data),
        // The true MSRs are stored; the others are derived from them.
        msr::PINBASED_CTLS | msr::PROCBASED_CTLS | msr::EXIT_CTLS | msr::ENTRY_CTLS => Err(Invalid),
        // Each pair named here, not looked up again by index.
        msr::TRUE_PINBASED_CTLS => restore_control(
            (&mut cur.pinbased_ctls_low, &mut cur.pinbased_ctls_high),
            (kvm.pinbased_ctls_low, kvm.pinbased_ctls_high),
            data,
        ),
        msr::TRUE_PROCBASED_CTLS => restore_control(
            (&mut cur.procbased_ctls_low, &mut cur.procbased_ctls_high),
            (kvm.procbased_ctls_low, kvm.procbased_ctls_high),
            data,
        ),
        msr::TRUE_EXIT_CTLS => restore_control(
            (&mut cur.exit_ctls_low, &mut cur.exit_ctls_high),
            (kvm.exit_ctls_low, kvm.exit_ctls_high),
            data,
        ),
        msr::TRUE_ENTRY_CTLS => restore_control(
            (&mut cur.entry_ctls_low, &mut cur.entry_ctls_high),
            (kvm.entry_ctls_low, kvm.entry_ctls_high),
            data,
        ),
        msr::PROCBASED_CTLS2 => restore_control(
            (&mut cur.secondary_ctls_low, &mut cur.secondary_ctls_high),
            (kvm.secondary_ctls_low, kvm.secondary_ctls_high),
            data,
        ),
        msr::MISC => restore_misc(cur, kvm, data),
        // Must-be-1 bits must stay 1.
        msr::CR0_FIXED0 => restore_fixed0(&mut cur.cr0_fixed0, kvm.cr0_fixed0, data),
        msr::CR4_FIXED0 => restore_fixed0(&mut cur.cr4_fixed0, kvm.cr4_fixed0, data),
        // Generated from the vCPU's CPUID, not restorable.
        msr::CR0_FIXED1 | msr::CR4_FIXED1 => Err(Invalid),
        msr::EPT_VPID_CAP => {
            let supported = u64::from(kvm.ept_caps) | u64::from(kvm.vpid_caps) << 32;
            if !is_bitwise_subset(supported, data, u64::MAX) {
                return Err(Invalid);
            }
            cur.ept_caps = data as u32;
            cur.vpid_caps = (data >> 32) as u32;
            Ok(())
        }
        msr::VMCS_ENUM => {
            cur.vmcs_enum = data;
            Ok(())
        }
        msr::VMFUNC => {
            if data & !kvm.vmfunc_controls != 0 {
                return Err(Invalid);
            }
            cur.vmfunc_controls = data;
            Ok(())
        }
        _ => Err(Invalid),
    }
}

fn restore_basic(
    cur: &mut NestedVmxMsrs,
    kvm: &NestedVmxMsrs,
    data: u64,
) -> Result<(), RestoreError> {
    let feature_bits = basic::DUAL_MONITOR_TREATMENT | basic::INOUT | basic::TRUE_CTLS;
    let reserved_bits = genmask(63, 56) | genmask(47, 45) | (1 << 31);
    let ok = is_bitwise_subset(kvm.basic, data, feature_bits | reserved_bits)
        // No emulation of 32-bit-only VMX structures.
        && data & basic::PHYS_ADDR_32BIT_ONLY == 0
        && basic::revision_id(kvm.basic) == basic::revision_id(data)
        && basic::vmcs_size(kvm.basic) <= basic::vmcs_size(data);
    if !ok {
        return Err(RestoreError::Invalid);
    }
    cur.basic = data;
    Ok(())
}

/// CR0_FIXED0 or CR4_FIXED0: must-be-1 bits must stay 1.
fn restore_fixed0(cur: &mut u64, kvm: u64, data: u64) -> Result<(), RestoreError> {
    if !is_bitwise_subset(data, kvm, u64::MAX) {
        return Err(RestoreError::Invalid);
    }
    *cur = data;
    Ok(())
}

/// A "true" control MSR or PROCBASED_CTLS2 into its stored (allowed-0,
/// allowed-1) pair `cur`, against KVM's `kvm`.
#[inline]
fn restore_control(
    cur: (&mut u32, &mut u32),
    kvm: (u32, u32),
    data: u64,
) -> Result<(), RestoreError> {
    let supported = control_msr(kvm.0, kvm.1);
    // Must-be-1 bits stay 1, must-be-0 bits stay 0.
    if !is_bitwise_subset(data, supported, genmask(31, 0))
        || !is_bitwise_subset(supported, data, genmask(63, 32))
    {
        return Err(RestoreError::Invalid);
    }
    *cur.0 = data as u32;
    *cur.1 = (data >> 32) as u32;
    Ok(())
}

fn restore_misc(
    cur: &mut NestedVmxMsrs,
    kvm: &NestedVmxMsrs,
    data: u64,
) -> Result<(), RestoreError> {
    let feature_bits = misc::SAVE_EFER_LMA
        | misc::ACTIVITY_HLT
        | misc::ACTIVITY_SHUTDOWN
        | misc::ACTIVITY_WAIT_SIPI
        | misc::INTEL_PT
        | misc::RDMSR_IN_SMM
        | misc::VMWRITE_SHADOW_RO_FIELDS
        | misc::VMXOFF_BLOCK_SMI
        | misc::ZERO_LEN_INS;
    let reserved_bits = (1 << 31) | genmask(13, 9);
    let vmx_misc = control_msr(kvm.misc_low, kvm.misc_high);
    let ok = is_bitwise_subset(vmx_misc, data, feature_bits | reserved_bits)
        && !(PinBased(cur.pinbased_ctls_high).contains(PinBased::VMX_PREEMPTION_TIMER)
            && misc::preemption_timer_rate(data) != misc::preemption_timer_rate(vmx_misc))
        && misc::cr3_count(data) <= misc::cr3_count(vmx_misc)
        && misc::max_msr(data) <= misc::max_msr(vmx_misc)
        && misc::mseg_revid(data) == misc::mseg_revid(vmx_misc);
    if !ok {
        return Err(RestoreError::Invalid);
    }
    cur.misc_low = data as u32;
    cur.misc_high = (data >> 32) as u32;
    Ok(())
}
