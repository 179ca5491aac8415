// SPDX-License-Identifier: GPL-2.0

//! KVM_GET/SET_NESTED_STATE for VMX: the blob's layout (the `struct
//! kvm_nested_state` header byte for byte as the uapi,
//! arch/x86/include/uapi/asm/kvm.h, then vmcs12 and the shadow vmcs12), the
//! named reasons a state is refused, and what the checks read of the vCPU.
//!
//! KVM validates in two phases with side effects between them: the header
//! (`state_header`), then `vmx_leave_nested()` and, with a VMXON region,
//! `enter_vmx_operation()`, then the vmcs12 part (`state_vmcs12`). A failure
//! in the second phase leaves the vCPU in VMX operation, as in KVM. The
//! order, with each failure's errno, is `state_set`'s sequence; what
//! KVM_GET_NESTED_STATE reports is `state_get`'s.

use crate::vmcs::checks::Check;
use crate::vmcs::layout::VMCS12_SIZE;
use crate::vmcs::x86::INVALID_GPA;

/// `KVM_STATE_NESTED_FORMAT_VMX`.
pub const FORMAT_VMX: u16 = 0;
/// Size of the header, before the data.
pub const HEADER_SIZE: usize = 128;
/// Offset of the vmcs12 in the blob.
pub const VMCS12_OFFSET: usize = HEADER_SIZE;
/// Offset of the shadow vmcs12 in the blob.
pub const SHADOW_VMCS12_OFFSET: usize = HEADER_SIZE + VMCS12_SIZE;
/// Largest state: header, vmcs12, shadow vmcs12 (what get_state(NULL)
/// reports).
pub const MAX_SIZE: usize = HEADER_SIZE + 2 * VMCS12_SIZE;

/// `kvm_nested_state.flags`.
pub mod flags {
    /// KVM_STATE_NESTED_GUEST_MODE.
    pub const GUEST_MODE: u16 = 0x1;
    /// KVM_STATE_NESTED_RUN_PENDING.
    pub const RUN_PENDING: u16 = 0x2;
    /// KVM_STATE_NESTED_EVMCS.
    pub const EVMCS: u16 = 0x4;
    /// KVM_STATE_NESTED_MTF_PENDING.
    pub const MTF_PENDING: u16 = 0x8;
    /// KVM_STATE_NESTED_SMM_GUEST_MODE (in `smm_flags`).
    pub const SMM_GUEST_MODE: u16 = 0x1;
    /// KVM_STATE_NESTED_SMM_VMXON (in `smm_flags`).
    pub const SMM_VMXON: u16 = 0x2;
    /// KVM_STATE_VMX_PREEMPTION_TIMER_DEADLINE (in `vmx_flags`).
    pub const PREEMPTION_TIMER_DEADLINE: u32 = 0x1;
}

/// The VMX header of `struct kvm_nested_state`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// `flags`.
    pub flags: u16,
    /// `format`.
    pub format: u16,
    /// `size`: of the whole state, header included.
    pub size: u32,
    /// `hdr.vmx.vmxon_pa`.
    pub vmxon_pa: u64,
    /// `hdr.vmx.vmcs12_pa`.
    pub vmcs12_pa: u64,
    /// `hdr.vmx.smm.flags`.
    pub smm_flags: u16,
    /// `hdr.vmx.flags`.
    pub vmx_flags: u32,
    /// `hdr.vmx.preemption_timer_deadline`.
    pub preemption_timer_deadline: u64,
}

/// `N` bytes of the header at `at` (zeros past its end, which the
/// constant offsets below never reach).
fn field<const N: usize>(b: &[u8; HEADER_SIZE], at: usize) -> [u8; N] {
    let mut v = [0u8; N];
    if let Some(src) = b.get(at..at.saturating_add(N)) {
        v.copy_from_slice(src);
    }
    v
}

fn put(b: &mut [u8; HEADER_SIZE], at: usize, bytes: &[u8]) {
    if let Some(dst) = b.get_mut(at..at.saturating_add(bytes.len())) {
        dst.copy_from_slice(bytes);
    }
}

impl Header {
    /// The header as KVM reports a vCPU that is not in VMX operation.
    pub const fn not_in_vmx_operation() -> Self {
        Header {
            flags: 0,
            format: FORMAT_VMX,
            size: HEADER_SIZE as u32,
            vmxon_pa: INVALID_GPA,
            vmcs12_pa: INVALID_GPA,
            smm_flags: 0,
            vmx_flags: 0,
            preemption_timer_deadline: 0,
        }
    }

    /// Decodes the first 128 bytes of a state (offsets as the uapi).
    pub fn decode(b: &[u8; HEADER_SIZE]) -> Self {
        Header {
            flags: u16::from_le_bytes(field(b, 0)),
            format: u16::from_le_bytes(field(b, 2)),
            size: u32::from_le_bytes(field(b, 4)),
            vmxon_pa: u64::from_le_bytes(field(b, 8)),
            vmcs12_pa: u64::from_le_bytes(field(b, 16)),
            smm_flags: u16::from_le_bytes(field(b, 24)),
            vmx_flags: u32::from_le_bytes(field(b, 28)),
            preemption_timer_deadline: u64::from_le_bytes(field(b, 32)),
        }
    }

    /// Encodes the header; padding is zero.
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        put(&mut b, 0, &self.flags.to_le_bytes());
        put(&mut b, 2, &self.format.to_le_bytes());
        put(&mut b, 4, &self.size.to_le_bytes());
        put(&mut b, 8, &self.vmxon_pa.to_le_bytes());
        put(&mut b, 16, &self.vmcs12_pa.to_le_bytes());
        put(&mut b, 24, &self.smm_flags.to_le_bytes());
        put(&mut b, 28, &self.vmx_flags.to_le_bytes());
        put(&mut b, 32, &self.preemption_timer_deadline.to_le_bytes());
        b
    }
}

/// Why a state is refused (-EINVAL), by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateError {
    /// `format` is not VMX.
    NotVmxFormat,
    /// SMM flags without a VMXON region.
    SmmFlagsWithoutVmxon,
    /// A vmcs12 address without a VMXON region.
    Vmcs12WithoutVmxon,
    /// Flags other than EVMCS without a VMXON region.
    FlagsWithoutVmxon,
    /// A VMXON region for a vCPU without VMX in CPUID.
    VmxNotInCpuid,
    /// VMXON region not a legal page address.
    VmxonAddress,
    /// SMM guest mode together with guest mode.
    SmmGuestModeWithGuestMode,
    /// Unknown SMM flags.
    SmmFlagsReserved,
    /// Unknown VMX flags.
    VmxFlagsReserved,
    /// In SMM, guest mode or a pending VM-entry.
    GuestModeInSmm,
    /// SMM flags while the vCPU is not in SMM.
    SmmFlagsOutsideSmm,
    /// SMM guest mode without SMM VMXON.
    SmmGuestModeWithoutSmmVmxon,
    /// EVMCS flag without eVMCS enabled (or without VMX).
    EvmcsNotEnabled,
    /// Guest mode, EVMCS or a vmcs12 address, but no vmcs12 in the state.
    Vmcs12Missing,
    /// vmcs12 address equal to the VMXON region or not a legal page.
    Vmcs12Address,
    /// Neither a vmcs12 address nor an enlightened VMCS.
    NoCurrentVmcs,
    /// vmcs12 revision is not VMCS12_REVISION.
    Vmcs12Revision,
    /// Guest mode with a shadow VMCS, but no shadow vmcs12 in the state.
    ShadowVmcs12Missing,
    /// Shadow vmcs12 revision wrong or its shadow indicator clear.
    ShadowVmcs12Revision,
    /// Guest mode, and vmcs12 fails a VM-entry check.
    EntryCheck(Check),
    /// Guest mode of an eVMCS L1, and vmcs12 uses a control eVMCS v1
    /// cannot express (`nested_evmcs_check_controls()`).
    EvmcsCheck(crate::evmcs::controls::EvmcsCheck),
}

impl StateError {
    /// The check KVM's `CC()` reports as `kvm_nested_vmenter_failed` for
    /// this refusal: only the VM-entry checks of a guest-mode state are
    /// made with `CC()`; the state's own checks are plain tests.
    pub fn traced_check(self) -> Option<Check> {
        match self {
            StateError::EntryCheck(check) => Some(check),
            _ => None,
        }
    }
}

/// The errno of a failed KVM_GET/SET_NESTED_STATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Errno {
    /// -EINVAL.
    Inval,
    /// -EFAULT.
    Fault,
    /// A (negative) errno from the glue, passed through.
    Passed(i32),
    /// A positive status, returned as it is (nested.c's
    /// `nested_vmx_enter_non_root_mode()` result).
    Status(i32),
}

/// What `vmx_set_nested_state()` depends on besides the state.
#[derive(Clone, Copy, Debug, Default)]
pub struct SetStateEnv {
    /// The vCPU's CPUID has VMX.
    pub vmx_in_cpuid: bool,
    /// The vCPU's MAXPHYADDR.
    pub maxphyaddr: u32,
    /// The vCPU is in SMM.
    pub in_smm: bool,
    /// eVMCS is enabled for the vCPU (KVM_CAP_HYPERV_ENLIGHTENED_VMCS).
    pub evmcs_enabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_is_the_uapi() {
        let h = Header {
            flags: 0x0102,
            format: 0,
            size: 0x2080,
            vmxon_pa: 0x1122_3344_5566_7788,
            vmcs12_pa: 0x99aa_bbcc_ddee_ff00,
            smm_flags: 0x0304,
            vmx_flags: 0x0506_0708,
            preemption_timer_deadline: 0x0a0b_0c0d_0e0f_1011,
        };
        let b = h.encode();
        assert_eq!(&b[0..8], &[0x02, 0x01, 0, 0, 0x80, 0x20, 0, 0]);
        assert_eq!(b[8], 0x88);
        assert_eq!(b[16], 0x00);
        assert_eq!(&b[24..26], &[0x04, 0x03]);
        assert_eq!(&b[26..28], &[0, 0], "pad");
        assert_eq!(&b[28..32], &[0x08, 0x07, 0x06, 0x05]);
        assert_eq!(b[32], 0x11);
        assert!(b[40..].iter().all(|&x| x == 0));
        assert_eq!(Header::decode(&b), h);
        assert_eq!(MAX_SIZE, 8320);
    }
}
