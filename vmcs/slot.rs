// SPDX-License-Identifier: GPL-2.0

//! A vmcs12 field resolved for the copies on hot paths (the shadow VMCS,
//! the rare guest state): its encoding, byte offset in `struct vmcs12` and
//! size, so that a copy is a load and a VMWRITE per field, as KVM's
//! precomputed `struct shadow_vmcs_field` arrays.

use super::encoding::Encoding;
use super::table::Field;

/// One field of the table, resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Full-access encoding.
    pub encoding: Encoding,
    /// Byte offset in `struct vmcs12`.
    pub offset: usize,
    /// Size in bytes (2, 4 or 8).
    pub bytes: usize,
}

impl Slot {
    /// The slot of a row of the table.
    pub const fn of(field: &Field) -> Self {
        Slot {
            encoding: field.encoding,
            offset: field.offset as usize,
            bytes: field.width().bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmcs::table::{encodings as enc, lookup};

    #[test]
    fn a_slot_is_its_rows_encoding_offset_and_width() {
        for (e, bytes) in [
            (enc::GUEST_RIP, 8),
            (enc::GUEST_CS_SELECTOR, 2),
            (enc::VM_EXIT_REASON, 4),
            (enc::GUEST_PHYSICAL_ADDRESS, 8),
        ] {
            let f = lookup(e).map(|r| r.field);
            let s = f.map(Slot::of);
            assert_eq!(s.map(|s| (s.encoding, s.bytes)), Some((e, bytes)));
            assert_eq!(s.map(|s| s.offset), f.map(|f| usize::from(f.offset)));
        }
    }
}
