// SPDX-License-Identifier: GPL-2.0

//! Field-wise access to an enlightened VMCS, by the field's offset and
//! width in `struct hv_enlightened_vmcs`: what the copies between eVMCS and
//! vmcs12 (`crate::evmcs::copy`) read and write. The eVMCS L1 runs on is L1
//! memory that L1's other vCPUs may write at any time, so the glue reaches
//! it with one volatile access per field (as C's plain loads and stores of
//! each field), never through a Rust reference and without copying the
//! whole 1 KiB page; the core's tests use a plain [`HvEnlightenedVmcs`].

use crate::evmcs::layout::{hv_enlightened_vmcs_fields, HvEnlightenedVmcs};
use core::mem::{offset_of, size_of};

/// Where one eVMCS field is: its byte offset and width (2, 4 or 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvmcsAt {
    /// `offsetof(struct hv_enlightened_vmcs, field)`.
    pub offset: usize,
    /// `sizeof(field)`.
    pub width: usize,
}

/// The width of the field `_f` projects, for [`evmcs_at!`].
#[inline(always)]
pub const fn width_of<T>(_f: fn(&HvEnlightenedVmcs) -> T) -> usize {
    size_of::<T>()
}

/// The [`EvmcsAt`] of a field of [`HvEnlightenedVmcs`], a constant.
macro_rules! evmcs_at {
    ($f:ident) => {
        $crate::evmcs::fields::EvmcsAt {
            offset: ::core::mem::offset_of!($crate::evmcs::layout::HvEnlightenedVmcs, $f),
            width: $crate::evmcs::fields::width_of(
                |e: &$crate::evmcs::layout::HvEnlightenedVmcs| e.$f,
            ),
        }
    };
}
pub(crate) use evmcs_at;

/// An enlightened VMCS the copies read and write field by field.
pub trait EvmcsFields {
    /// The field at `at`, zero-extended.
    fn load(&self, at: EvmcsAt) -> u64;
    /// Writes the field at `at` with the low `at.width` bytes of `value`.
    fn store(&mut self, at: EvmcsAt, value: u64);
}

/// A field's value as bits (the padding arrays read as 0, never written).
trait Bits: Copy {
    fn bits(self) -> u64;
    fn with_bits(self, v: u64) -> Self;
}

macro_rules! bits_int {
    ($($t:ty)*) => {$(
        impl Bits for $t {
            fn bits(self) -> u64 {
                u64::from(self)
            }
            #[allow(clippy::cast_possible_truncation)]
            fn with_bits(self, v: u64) -> Self {
                v as $t
            }
        }
    )*};
}
bits_int!(u16 u32 u64);

impl<T: Copy, const N: usize> Bits for [T; N] {
    fn bits(self) -> u64 {
        0
    }
    fn with_bits(self, _v: u64) -> Self {
        self
    }
}

/// [`EvmcsFields`] of a plain eVMCS (the field at `at.offset`; none there:
/// 0, not written): for the core's tests and models.
macro_rules! plain_fields {
    ([$($f:ident),*]) => {
        impl EvmcsFields for HvEnlightenedVmcs {
            fn load(&self, at: EvmcsAt) -> u64 {
                $(if at.offset == offset_of!(HvEnlightenedVmcs, $f) {
                    return Bits::bits({ self.$f });
                })*
                0
            }
            fn store(&mut self, at: EvmcsAt, value: u64) {
                $(if at.offset == offset_of!(HvEnlightenedVmcs, $f) {
                    self.$f = Bits::with_bits({ self.$f }, value);
                    return;
                })*
            }
        }
    };
}
hv_enlightened_vmcs_fields!(plain_fields!());

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! all_aligned {
        ([$($f:ident),*]) => {
            fn all_aligned() -> bool {
                [$((stringify!($f), evmcs_at!($f))),*].iter().all(|(name, at)| {
                    if matches!(at.width, 2 | 4 | 8) {
                        at.offset % at.width == 0
                    } else {
                        // Only the padding arrays have other widths.
                        name.starts_with("padding")
                    }
                })
            }
        };
    }
    hv_enlightened_vmcs_fields!(all_aligned!());

    /// The glue's volatile accesses are of the field's own width: every
    /// field is 2, 4 or 8 bytes wide but the padding, and naturally
    /// aligned in the (page-aligned) eVMCS, although C declares the
    /// structure packed.
    #[test]
    fn every_field_is_naturally_aligned() {
        assert!(all_aligned());
    }

    #[test]
    fn a_plain_evmcs_reads_and_writes_its_fields_by_offset() {
        let mut ev = HvEnlightenedVmcs {
            hv_vp_id: 3,
            guest_rip: 0x1234,
            host_cs_selector: 0x10,
            ..HvEnlightenedVmcs::default()
        };
        assert_eq!(ev.load(evmcs_at!(hv_vp_id)), 3);
        assert_eq!(ev.load(evmcs_at!(guest_rip)), 0x1234);
        assert_eq!(evmcs_at!(host_cs_selector).width, 2);
        assert_eq!(evmcs_at!(guest_rip).width, 8);
        ev.store(evmcs_at!(host_cs_selector), 0x1_0018);
        assert_eq!(
            { ev.host_cs_selector },
            0x18,
            "a 16-bit field keeps 16 bits"
        );
        assert_eq!({ ev.host_ss_selector }, 0, "its neighbour untouched");
        ev.store(evmcs_at!(padding64_4), 7);
        assert_eq!(ev.load(evmcs_at!(padding64_4)), 0, "padding is not a field");
    }
}
