// SPDX-License-Identifier: GPL-2.0

//! VMREAD and VMWRITE on a vmcs12 (SDM Vol. 3C 31.3 "VMREAD", "VMWRITE"),
//! as KVM's `handle_vmread()` / `handle_vmwrite()` implement them once the
//! permission checks have passed and the operands are decoded.

use super::encoding::{Encoding, Kind};
use super::layout::Vmcs12;
use super::outcome::{Outcome, VmInstructionError};
use super::table::{encodings as enc, lookup, FieldRef, Shadow};

/// The state of the vCPU that VMREAD/VMWRITE depend on.
#[derive(Clone, Copy, Debug, Default)]
pub struct AccessCtx {
    /// There is a current VMCS (current-VMCS pointer is not INVALID_GPA).
    pub has_current_vmcs: bool,
    /// The instruction is executed by L2 (VMCS shadowing): it accesses the
    /// shadow vmcs12, which needs a valid VMCS-link pointer in vmcs12.
    pub guest_mode: bool,
    /// vmcs12's VMCS-link pointer is not INVALID_GPA (used in guest mode).
    pub link_pointer_valid: bool,
    /// IA32_VMX_MISC[29]: VMWRITE may write the VM-exit information fields.
    pub vmwrite_any_field: bool,
    /// The vCPU is in 64-bit mode: register operands are 64 bits, memory
    /// operands 8 bytes; otherwise 32 bits and 4 bytes.
    pub long_mode: bool,
}

impl AccessCtx {
    /// Size in bytes of a memory operand.
    pub const fn memory_operand_len(&self) -> usize {
        if self.long_mode {
            8
        } else {
            4
        }
    }

    /// A register operand as the instruction sees it (KVM's
    /// `kvm_register_read()`: the low 32 bits outside 64-bit mode).
    pub const fn operand(&self, register: u64) -> u64 {
        if self.long_mode {
            register
        } else {
            register & 0xffff_ffff
        }
    }

    /// No VMCS to access: "In VMX non-root operation, when the VMCS-link
    /// pointer is INVALID_GPA, any VMREAD/VMWRITE sets the ALU flags for
    /// VMfailInvalid", and likewise without a current VMCS in root operation.
    pub const fn check_current(&self) -> Result<(), Outcome> {
        if !self.has_current_vmcs || (self.guest_mode && !self.link_pointer_valid) {
            Err(Outcome::VmFailInvalid)
        } else {
            Ok(())
        }
    }

    fn fail(&self, error: VmInstructionError) -> Outcome {
        Outcome::fail(self.has_current_vmcs, error)
    }
}

/// VMREAD: the value of the field named by `field_operand`, zero-extended.
///
/// The caller stores it to the destination register (truncated by
/// [`AccessCtx::operand`]) or memory ([`AccessCtx::memory_operand_len`]
/// bytes) and reports [`Outcome::VmSucceed`]; an `Err` is the outcome.
pub fn vmread(vmcs12: &Vmcs12, ctx: &AccessCtx, field_operand: u64) -> Result<u64, Outcome> {
    ctx.check_current()?;
    let f = field_of(ctx, field_operand)?;
    let whole = vmcs12.get(f.field);
    Ok(if f.high { whole >> 32 } else { whole })
}

/// What a successful VMWRITE wrote, for the caller's bookkeeping (KVM's
/// dirty tracking and shadow VMCS updates).
#[derive(Clone, Copy, Debug)]
pub struct Written {
    /// The field.
    pub field: FieldRef,
    /// The value stored (after the AR-byte masking).
    pub value: u64,
}

impl Written {
    /// L1 writes this field without exiting when VMCS shadowing is on, so
    /// writing it does not make vmcs12 dirty (KVM's `is_shadow_field_rw()`).
    pub fn is_shadow_rw(&self) -> bool {
        self.field.field.shadow == Shadow::ReadWrite
    }

    /// L1 reads this field from the shadow VMCS, which must be updated
    /// (KVM's `is_shadow_field_ro()`).
    pub fn is_shadow_ro(&self) -> bool {
        self.field.field.shadow == Shadow::ReadOnly
    }
}

/// AR-byte bits VMWRITE keeps: "Some Intel CPUs intentionally drop the
/// reserved bits of the AR byte fields on VMWRITE", and KVM does so always.
pub const AR_BYTES_MASK: u64 = 0x1f0ff;

/// VMWRITE of `value` (already read from its register or memory operand)
/// to the field named by `field_operand`.
///
/// The caller must have passed [`AccessCtx::check_current`] before reading
/// a memory operand: VMfailInvalid takes precedence over a fault on it.
pub fn vmwrite(
    vmcs12: &mut Vmcs12,
    ctx: &AccessCtx,
    field_operand: u64,
    value: u64,
) -> Result<Written, Outcome> {
    ctx.check_current()?;
    let f = field_of(ctx, field_operand)?;
    let encoding = f.encoding();
    if encoding.kind() == Kind::ReadOnlyData && !ctx.vmwrite_any_field {
        return Err(ctx.fail(VmInstructionError::VmwriteReadOnlyVmcsComponent));
    }
    let value = if is_ar_bytes(encoding) {
        value & AR_BYTES_MASK
    } else {
        value
    };
    if f.high {
        let low = vmcs12.get(f.field) & 0xffff_ffff;
        vmcs12.set(f.field, low | ((value & 0xffff_ffff) << 32));
    } else {
        vmcs12.set(f.field, value);
    }
    Ok(Written { field: f, value })
}

fn field_of(ctx: &AccessCtx, field_operand: u64) -> Result<FieldRef, Outcome> {
    Encoding::from_operand(ctx.operand(field_operand))
        .and_then(lookup)
        .ok_or_else(|| ctx.fail(VmInstructionError::UnsupportedVmcsComponent))
}

fn is_ar_bytes(e: Encoding) -> bool {
    (enc::GUEST_ES_AR_BYTES.value()..=enc::GUEST_TR_AR_BYTES.value()).contains(&e.value())
}
