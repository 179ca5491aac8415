// SPDX-License-Identifier: GPL-2.0

//! VMCS field encodings (SDM Vol. 3D, Appendix B "Field Encoding in VMCS";
//! Vol. 3C 25.11.2 "VMREAD, VMWRITE, and Encodings of VMCS Fields").
//!
//! ```text
//!   bit 0      access type: 0 full, 1 high (upper 32 bits of a 64-bit field)
//!   bits 9:1   index
//!   bits 11:10 type: 0 control, 1 VM-exit information, 2 guest state, 3 host state
//!   bit 12     reserved (0)
//!   bits 14:13 width: 0 16-bit, 1 64-bit, 2 32-bit, 3 natural width
//!   bits 31:15 reserved (0)
//! ```

/// Width of a VMCS field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// 16-bit field.
    U16,
    /// 64-bit field (readable in halves on 32-bit hosts).
    U64,
    /// 32-bit field.
    U32,
    /// Natural-width field: 64 bits on a 64-bit host.
    Natural,
}

impl Width {
    /// Bytes the field occupies in `struct vmcs12`.
    pub const fn bytes(self) -> usize {
        match self {
            Width::U16 => 2,
            Width::U32 => 4,
            Width::U64 | Width::Natural => 8,
        }
    }

    /// Short name, as printed by the `vmcs-fields` example.
    pub const fn name(self) -> &'static str {
        match self {
            Width::U16 => "16",
            Width::U32 => "32",
            Width::U64 => "64",
            Width::Natural => "natural",
        }
    }
}

/// Type ("class") of a VMCS field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// VM-execution, VM-exit and VM-entry control fields.
    Control,
    /// VM-exit information fields: read-only unless IA32_VMX_MISC[29].
    ReadOnlyData,
    /// Guest-state area.
    GuestState,
    /// Host-state area.
    HostState,
}

impl Kind {
    /// Short name, as printed by the `vmcs-fields` example.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Control => "control",
            Kind::ReadOnlyData => "ro-data",
            Kind::GuestState => "guest",
            Kind::HostState => "host",
        }
    }
}

/// A VMCS field encoding: bits 14:0 of the VMREAD/VMWRITE field operand.
///
/// # Invariants
///
/// Bit 15 is clear: operands with any bit above 14 set name no field and
/// never become an `Encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Encoding(u16);

impl Encoding {
    /// Largest value any encoding can have.
    pub const MAX: u16 = 0x7fff;

    /// The encoding named by a VMREAD/VMWRITE operand, or `None` if the
    /// operand has a bit above 14 set (KVM: `field >> 15` gives -ENOENT).
    pub const fn from_operand(operand: u64) -> Option<Self> {
        if operand > Self::MAX as u64 {
            None
        } else {
            // INVARIANT: checked just above.
            Some(Encoding(operand as u16))
        }
    }

    /// An encoding from the field table.
    ///
    /// Evaluated at compile time for the table, where a bad value fails the
    /// build.
    pub const fn new(value: u16) -> Self {
        assert!(value <= Self::MAX);
        // INVARIANT: checked just above.
        Encoding(value)
    }

    /// The raw value.
    pub const fn value(self) -> u16 {
        self.0
    }

    /// Whether this is the high-half access encoding of a 64-bit field.
    pub const fn is_high(self) -> bool {
        self.0 & 1 != 0
    }

    /// The full-access encoding of the same field (bit 0 clear).
    pub const fn full(self) -> Self {
        Encoding(self.0 & !1)
    }

    /// The high-half access encoding of the same field (bit 0 set).
    pub const fn high(self) -> Self {
        Encoding(self.0 | 1)
    }

    /// Width of the field as encoded in bits 14:13.
    pub const fn width(self) -> Width {
        match (self.0 >> 13) & 3 {
            0 => Width::U16,
            1 => Width::U64,
            2 => Width::U32,
            _ => Width::Natural,
        }
    }

    /// Width of an access with this encoding: a high-half access is 32 bits
    /// (KVM's `vmcs_field_width()`).
    pub const fn access_width(self) -> Width {
        if self.is_high() {
            Width::U32
        } else {
            self.width()
        }
    }

    /// Type of the field, bits 11:10.
    pub const fn kind(self) -> Kind {
        match (self.0 >> 10) & 3 {
            0 => Kind::Control,
            1 => Kind::ReadOnlyData,
            2 => Kind::GuestState,
            _ => Kind::HostState,
        }
    }

    /// Index, bits 9:1. IA32_VMX_VMCS_ENUM reports the highest one in use.
    pub const fn index(self) -> u16 {
        (self.0 >> 1) & 0x1ff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_sdm_examples() {
        // GUEST_ES_SELECTOR 0x0800, IO_BITMAP_A_HIGH 0x2001,
        // VM_EXIT_REASON 0x4402, HOST_RIP 0x6c16.
        let e = Encoding::new(0x0800);
        assert_eq!(
            (e.width(), e.kind(), e.index()),
            (Width::U16, Kind::GuestState, 0)
        );
        let e = Encoding::new(0x2001);
        assert_eq!(
            (e.width(), e.access_width(), e.kind()),
            (Width::U64, Width::U32, Kind::Control)
        );
        assert!(e.is_high());
        assert_eq!(e.full().value(), 0x2000);
        let e = Encoding::new(0x4402);
        assert_eq!(
            (e.width(), e.kind(), e.index()),
            (Width::U32, Kind::ReadOnlyData, 1)
        );
        let e = Encoding::new(0x6c16);
        assert_eq!(
            (e.width(), e.kind(), e.index()),
            (Width::Natural, Kind::HostState, 11)
        );
    }

    #[test]
    fn operand_above_bit_14_names_no_field() {
        assert!(Encoding::from_operand(0x8000).is_none());
        assert!(Encoding::from_operand(1 << 32).is_none());
        assert!(Encoding::from_operand(u64::MAX).is_none());
        assert_eq!(
            Encoding::from_operand(0x7fff).map(Encoding::value),
            Some(0x7fff)
        );
    }
}
