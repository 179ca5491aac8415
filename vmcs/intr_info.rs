// SPDX-License-Identifier: GPL-2.0

//! Interruption-information fields: VM-entry interruption information, VM-exit
//! interruption information and IDT-vectoring information (SDM Vol. 3C
//! 25.8.3, table 25-17; 25.9.2; 25.9.3).

/// Bits 7:0: vector.
pub const VECTOR_MASK: u32 = 0xff;
/// Bits 10:8: interruption type.
pub const TYPE_MASK: u32 = 0x700;
/// Bit 11: deliver error code.
pub const DELIVER_CODE: u32 = 1 << 11;
/// Bit 31: valid.
pub const VALID: u32 = 1 << 31;
/// Bits 30:12: reserved on VM entry.
pub const RESERVED: u32 = 0x7fff_f000;
/// External interrupt.
pub const TYPE_EXT_INTR: u32 = 0 << 8;
/// Reserved type.
pub const TYPE_RESERVED: u32 = 1 << 8;
/// NMI.
pub const TYPE_NMI: u32 = 2 << 8;
/// Hardware exception.
pub const TYPE_HARD_EXCEPTION: u32 = 3 << 8;
/// Software interrupt.
pub const TYPE_SOFT_INTR: u32 = 4 << 8;
/// Privileged software exception (INT1).
pub const TYPE_PRIV_SW_EXCEPTION: u32 = 5 << 8;
/// Software exception (INT3, INTO).
pub const TYPE_SOFT_EXCEPTION: u32 = 6 << 8;
/// Other event (pending MTF).
pub const TYPE_OTHER_EVENT: u32 = 7 << 8;

/// Exceptions that push an error code: #DF, #TS, #NP, #SS, #GP, #PF, #AC.
pub const fn exception_has_error_code(vector: u32) -> bool {
    matches!(vector, 8 | 10 | 11 | 12 | 13 | 14 | 17)
}
