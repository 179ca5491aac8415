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
    Ok(read_field(vmcs12, field_of(ctx, field_operand)?))
}

/// VMREAD of a field already looked up ([`field_of`]).
pub fn read_field(vmcs12: &Vmcs12, f: FieldRef) -> u64 {
    let whole = vmcs12.get(f.field);
    if f.high {
        whole >> 32
    } else {
        whole
    }
}

/// VMREAD of an eVMCS L1 (nested.c's `handle_vmread()` with an eVMCS: the
/// Hyper-V TLFS forbids it, some Windows 11 versions do it anyway): the
/// eVMCS's copy of the field, as the table's eVMCS column locates it. A
/// field the eVMCS does not have, or a high half (the eVMCS table names
/// only full fields), fails with VMfailValid (the eVMCS is current).
pub fn evmcs_vmread(
    ev: &crate::evmcs::layout::HvEnlightenedVmcs,
    ctx: &AccessCtx,
    field_operand: u64,
) -> Result<u64, Outcome> {
    let unsupported = Outcome::VmFailValid(VmInstructionError::UnsupportedVmcsComponent);
    let f = Encoding::from_operand(ctx.operand(field_operand))
        .and_then(lookup)
        .ok_or(unsupported)?;
    if f.high {
        return Err(unsupported);
    }
    ev.get(f.field).ok_or(unsupported)
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
    check_writable(ctx, f)?;
    Ok(write_field(vmcs12, f, value))
}

/// VMWRITE's check of a field already looked up: a read-only field only
/// with "VMWRITE to any supported field".
pub fn check_writable(ctx: &AccessCtx, f: FieldRef) -> Result<(), Outcome> {
    if f.encoding().kind() == Kind::ReadOnlyData && !ctx.vmwrite_any_field {
        return Err(ctx.fail(VmInstructionError::VmwriteReadOnlyVmcsComponent));
    }
    Ok(())
}

/// VMWRITE of a field that passed [`check_writable`].
pub fn write_field(vmcs12: &mut Vmcs12, f: FieldRef, value: u64) -> Written {
    let value = if is_ar_bytes(f.encoding()) {
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
    Written { field: f, value }
}

/// The field VMREAD/VMWRITE name (KVM's `get_vmcs12_field_offset()`):
/// VMfail(unsupported component) for one vmcs12 does not have.
pub fn field_of(ctx: &AccessCtx, field_operand: u64) -> Result<FieldRef, Outcome> {
    Encoding::from_operand(ctx.operand(field_operand))
        .and_then(lookup)
        .ok_or_else(|| ctx.fail(VmInstructionError::UnsupportedVmcsComponent))
}

fn is_ar_bytes(e: Encoding) -> bool {
    (enc::GUEST_ES_AR_BYTES.value()..=enc::GUEST_TR_AR_BYTES.value()).contains(&e.value())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmcs::table::{encodings as e, FIELDS};

    #[test]
    fn evmcs_vmread_reads_the_evmcs_copy() {
        use crate::evmcs::layout::HvEnlightenedVmcs;
        let ev = HvEnlightenedVmcs {
            guest_rip: 0x1234,
            vm_exit_reason: 18,
            ..HvEnlightenedVmcs::default()
        };
        let c = AccessCtx {
            has_current_vmcs: false,
            ..ctx()
        };
        let r = |f: Encoding| evmcs_vmread(&ev, &c, u64::from(f.value()));
        assert_eq!(r(e::GUEST_RIP), Ok(0x1234));
        assert_eq!(r(e::VM_EXIT_REASON), Ok(18));
        let unsupported = Err(Outcome::VmFailValid(
            VmInstructionError::UnsupportedVmcsComponent,
        ));
        assert_eq!(r(e::POSTED_INTR_NV), unsupported, "not in eVMCS v1");
        assert_eq!(r(e::IO_BITMAP_A.high()), unsupported, "high halves are not");
        assert_eq!(evmcs_vmread(&ev, &c, 0x7777), unsupported);
    }

    fn ctx() -> AccessCtx {
        AccessCtx {
            has_current_vmcs: true,
            guest_mode: false,
            link_pointer_valid: false,
            vmwrite_any_field: false,
            long_mode: true,
        }
    }

    const UNSUPPORTED: Outcome = Outcome::VmFailValid(VmInstructionError::UnsupportedVmcsComponent);
    const READ_ONLY: Outcome =
        Outcome::VmFailValid(VmInstructionError::VmwriteReadOnlyVmcsComponent);

    #[test]
    fn no_current_vmcs_is_failinvalid() {
        let mut v = Vmcs12::zeroed();
        let c = AccessCtx {
            has_current_vmcs: false,
            ..ctx()
        };
        assert_eq!(vmread(&v, &c, 0x681e), Err(Outcome::VmFailInvalid));
        assert_eq!(
            vmwrite(&mut v, &c, 0x681e, 1).map(|w| w.value),
            Err(Outcome::VmFailInvalid)
        );
    }

    #[test]
    fn l2_without_link_pointer_is_failinvalid() {
        let v = Vmcs12::zeroed();
        let c = AccessCtx {
            guest_mode: true,
            ..ctx()
        };
        assert_eq!(vmread(&v, &c, 0x681e), Err(Outcome::VmFailInvalid));
        let c = AccessCtx {
            link_pointer_valid: true,
            ..c
        };
        assert_eq!(vmread(&v, &c, 0x681e), Ok(0));
    }

    #[test]
    fn unsupported_components() {
        let mut v = Vmcs12::zeroed();
        for field in [
            0x0004,
            0x0001,
            0x8000,
            0x1_0000_0800,
            0x4401, /* high of a 32-bit */
        ] {
            assert_eq!(vmread(&v, &ctx(), field), Err(UNSUPPORTED), "{field:#x}");
            assert_eq!(
                vmwrite(&mut v, &ctx(), field, 0).map(|w| w.value),
                Err(UNSUPPORTED)
            );
        }
    }

    #[test]
    fn field_operand_is_32_bits_outside_long_mode() {
        let v = Vmcs12::zeroed();
        let c = AccessCtx {
            long_mode: false,
            ..ctx()
        };
        assert_eq!(vmread(&v, &c, 0x1_0000_0800), Ok(0));
        assert_eq!(c.memory_operand_len(), 4);
        assert_eq!(ctx().memory_operand_len(), 8);
    }

    #[test]
    fn read_only_fields_need_vmwrite_any_field() {
        let mut v = Vmcs12::zeroed();
        let reason = u64::from(e::VM_EXIT_REASON.value());
        assert_eq!(
            vmwrite(&mut v, &ctx(), reason, 7).map(|w| w.value),
            Err(READ_ONLY)
        );
        let c = AccessCtx {
            vmwrite_any_field: true,
            ..ctx()
        };
        assert!(vmwrite(&mut v, &c, reason, 7).is_ok());
        assert_eq!(vmread(&v, &ctx(), reason), Ok(7));
    }

    #[test]
    fn ar_bytes_drop_reserved_bits() {
        let mut v = Vmcs12::zeroed();
        let f = u64::from(e::GUEST_CS_AR_BYTES.value());
        assert_eq!(
            vmwrite(&mut v, &ctx(), f, 0xffff_ffff).map(|w| w.value),
            Ok(0x1f0ff)
        );
        assert_eq!(vmread(&v, &ctx(), f), Ok(0x1f0ff));
        let limit = u64::from(e::GUEST_CS_LIMIT.value());
        assert!(vmwrite(&mut v, &ctx(), limit, 0xffff_ffff).is_ok());
        assert_eq!(vmread(&v, &ctx(), limit), Ok(0xffff_ffff));
    }

    #[test]
    fn high_half_of_64_bit_fields() {
        let mut v = Vmcs12::zeroed();
        let full = u64::from(e::EPT_POINTER.value());
        assert!(vmwrite(&mut v, &ctx(), full, 0x1122_3344_5566_7788).is_ok());
        assert_eq!(vmread(&v, &ctx(), full | 1), Ok(0x1122_3344));
        assert!(vmwrite(&mut v, &ctx(), full | 1, 0xaabb_ccdd_eeff_0011).is_ok());
        assert_eq!(vmread(&v, &ctx(), full), Ok(0xeeff_0011_5566_7788));
    }

    #[test]
    fn narrow_fields_keep_low_bits() {
        let mut v = Vmcs12::zeroed();
        let vpid = u64::from(e::VIRTUAL_PROCESSOR_ID.value());
        assert!(vmwrite(&mut v, &ctx(), vpid, 0x1234_5678).is_ok());
        assert_eq!(vmread(&v, &ctx(), vpid), Ok(0x5678));
        assert_eq!({ v.virtual_processor_id }, 0x5678);
    }

    #[test]
    fn shadow_classification_of_writes() {
        let mut v = Vmcs12::zeroed();
        let w = vmwrite(&mut v, &ctx(), u64::from(e::GUEST_RIP.value()), 1).ok();
        assert_eq!(
            w.map(|w| (w.is_shadow_rw(), w.is_shadow_ro())),
            Some((true, false))
        );
        let c = AccessCtx {
            vmwrite_any_field: true,
            ..ctx()
        };
        let w = vmwrite(&mut v, &c, u64::from(e::EXIT_QUALIFICATION.value()), 1).ok();
        assert_eq!(
            w.map(|w| (w.is_shadow_rw(), w.is_shadow_ro())),
            Some((false, true))
        );
    }

    #[test]
    fn every_field_round_trips() {
        let c = AccessCtx {
            vmwrite_any_field: true,
            ..ctx()
        };
        let mut v = Vmcs12::zeroed();
        for f in FIELDS.iter() {
            let enc = u64::from(f.encoding.value());
            let mask = match f.width().bytes() {
                2 => 0xffff,
                4 => 0xffff_ffff,
                _ => u64::MAX,
            };
            let mask = if is_ar_bytes(f.encoding) {
                AR_BYTES_MASK
            } else {
                mask
            };
            assert!(vmwrite(&mut v, &c, enc, 0xa5a5_a5a5_a5a5_a5a5).is_ok());
            assert_eq!(
                vmread(&v, &c, enc),
                Ok(0xa5a5_a5a5_a5a5_a5a5 & mask),
                "{}",
                f.name
            );
        }
    }
}
