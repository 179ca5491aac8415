// SPDX-License-Identifier: GPL-2.0

//! The field table's row of an encoding in O(1), as KVM's vmcs12.c finds
//! a vmcs12 offset: an array indexed by `ROL16(encoding, 6)` (the access
//! type, index and width bits, then the type bits, in a dense order), built
//! at compile time from the table's rows. `table::lookup` binary-searched
//! the 141 rows before: about 50 instructions of every emulated VMREAD and
//! VMWRITE, where nested.c's `get_vmcs12_field_offset()` does an indexed
//! load.

use super::encoding::Encoding;
use super::table::ROW_ENCODINGS;

/// KVM's `ROL16(field, 6)`.
const fn key(encoding: u16) -> usize {
    encoding.rotate_left(6) as usize
}

const fn len() -> usize {
    let mut i = 0;
    let mut max = 0;
    while i < ROW_ENCODINGS.len() {
        if key(ROW_ENCODINGS[i]) > max {
            max = key(ROW_ENCODINGS[i]);
        }
        i += 1;
    }
    max + 1
}

/// Row + 1 per key, 0 for an encoding the table does not have.
static ROWS: [u8; len()] = {
    assert!(ROW_ENCODINGS.len() < u8::MAX as usize);
    let mut rows = [0u8; len()];
    let mut i = 0;
    while i < ROW_ENCODINGS.len() {
        // Only full encodings are rows, and no two share a key (a rotation).
        assert!(ROW_ENCODINGS[i] & 1 == 0 && rows[key(ROW_ENCODINGS[i])] == 0);
        rows[key(ROW_ENCODINGS[i])] = (i + 1) as u8;
        i += 1;
    }
    rows
};

/// The table row of the full-access encoding `full` (bit 0 clear), if
/// vmcs12 has the field.
#[inline]
pub fn row(full: Encoding) -> Option<usize> {
    let r = *ROWS.get(key(full.value()))?;
    usize::from(r).checked_sub(1)
}

/// `row` for constant initializers (a scan of the rows: statics cannot be
/// read in a constant before Rust 1.83).
pub const fn row_const(full: Encoding) -> Option<usize> {
    let mut i = 0;
    while i < ROW_ENCODINGS.len() {
        if ROW_ENCODINGS[i] == full.value() {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Number of rows in the table (`FIELDS.len()`, as a constant).
pub const ROW_COUNT: usize = ROW_ENCODINGS.len();

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmcs::table::FIELDS;

    #[test]
    fn every_full_encoding_finds_its_row_and_only_it() {
        for v in (0..=Encoding::MAX).step_by(2) {
            let e = Encoding::new(v);
            let expect = FIELDS.iter().position(|f| f.encoding == e);
            assert_eq!(row(e), expect, "{v:#x}");
            assert_eq!(row_const(e), expect, "{v:#x}");
        }
    }

    #[test]
    fn the_index_is_about_kvms_size() {
        // KVM's vmcs12_field_offsets[] is as long (shorts there, bytes here).
        assert!(ROWS.len() < 0x1000, "{}", ROWS.len());
    }
}
