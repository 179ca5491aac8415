// SPDX-License-Identifier: GPL-2.0

//! The shadowed fields as the two lists KVM copies between vmcs12 and the
//! shadow VMCS (`shadow_read_write_fields[]`, `shadow_read_only_fields[]`
//! after `init_vmcs_shadow_fields()`): the rows of the field table that a
//! CPU with `ShadowCaps` shadows (`bitmap::shadowed`), resolved, in table
//! order. Built once at module load; no allocation.

use super::bitmap::{self, ShadowCaps};
use crate::vmcs::encoding::Encoding;
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::slot::Slot;
use crate::vmcs::table::{self, encodings as enc, Shadow, FIELDS};

/// Rows of the table with shadowing `class`.
const fn rows(class: Shadow) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < FIELDS.len() {
        if FIELDS[i].shadow as u8 == class as u8 {
            n += 1;
        }
        i += 1;
    }
    n
}

/// Read-write rows of the table: the most the read-write list can hold.
pub const MAX_READ_WRITE: usize = rows(Shadow::ReadWrite);
/// Read-only rows of the table.
pub const MAX_READ_ONLY: usize = rows(Shadow::ReadOnly);

/// A free place in a list.
const NONE: Slot = Slot {
    encoding: Encoding::new(0),
    offset: 0,
    bytes: 0,
};

/// The two lists on one CPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShadowFields {
    rw: [Slot; MAX_READ_WRITE],
    rw_len: usize,
    ro: [Slot; MAX_READ_ONLY],
    ro_len: usize,
    caps: ShadowCaps,
}

/// One of `table::SHADOWED_BEYOND_KVM` (a constant test once inlined).
#[inline(always)]
const fn beyond_kvm(e: Encoding) -> bool {
    e.value() == enc::HOST_RSP.value() || e.value() == enc::HOST_RIP.value()
}

impl ShadowFields {
    /// The lists for a CPU with `caps`.
    pub fn new(caps: &ShadowCaps) -> Self {
        let mut l = ShadowFields {
            rw: [NONE; MAX_READ_WRITE],
            rw_len: 0,
            ro: [NONE; MAX_READ_ONLY],
            ro_len: 0,
            caps: *caps,
        };
        for (field, shadow) in bitmap::shadowed(caps) {
            let (list, len) = match shadow {
                Shadow::ReadWrite => (&mut l.rw[..], &mut l.rw_len),
                Shadow::ReadOnly => (&mut l.ro[..], &mut l.ro_len),
                Shadow::No => continue,
            };
            // Always room: a list holds every row of its class.
            if let Some(s) = list.get_mut(*len) {
                *s = Slot::of(field);
                *len += 1;
            }
        }
        l
    }

    /// The fields L1 reads and writes without exits (KVM's
    /// `shadow_read_write_fields[]`).
    pub fn read_write(&self) -> &[Slot] {
        self.rw.get(..self.rw_len).unwrap_or(&[])
    }

    /// The fields L1 reads without exits; VMWRITE exits (KVM's
    /// `shadow_read_only_fields[]`).
    pub fn read_only(&self) -> &[Slot] {
        self.ro.get(..self.ro_len).unwrap_or(&[])
    }

    /// KVM's `copy_shadow_to_vmcs12()` with the shadow VMCS current: the
    /// read-write fields, in `read_write()` order, each VMREAD by `read`
    /// and stored into `v` (straight-line code per field, as
    /// nested.c's). `beyond_kvm`: HOST_RSP and HOST_RIP too. They are not
    /// in KVM's list, so where nested.c copies its list from a shadow
    /// VMCS L1 has not used (KVM_GET_NESTED_STATE of a restored eVMCS L1,
    /// no current VMCS), vmcs12 keeps them: the caller passes whether
    /// there is a current VMCS (the shadow VMCS is linked and was filled
    /// from vmcs12 before L1 ran).
    #[inline]
    pub fn to_vmcs12(&self, v: &mut Vmcs12, beyond: bool, read: impl FnMut(Encoding) -> u64) {
        let caps = self.caps;
        let take = |e| bitmap::present(e, &caps) && (beyond || !beyond_kvm(e));
        table::shadow_rw_to_vmcs12_rows(v, take, read);
    }

    /// KVM's `copy_vmcs12_to_shadow()` with the shadow VMCS current: every
    /// shadowed field, the read-write ones and then the read-only ones
    /// (`read_write()`, `read_only()` order), from `v` to `write`.
    #[inline]
    pub fn from_vmcs12(&self, v: &Vmcs12, mut write: impl FnMut(Encoding, u64)) {
        let caps = self.caps;
        let take = |e| bitmap::present(e, &caps);
        table::vmcs12_to_shadow_rows(v, Shadow::ReadWrite, take, &mut write);
        table::vmcs12_to_shadow_rows(v, Shadow::ReadOnly, take, &mut write);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmcs::table::encodings as enc;

    fn encodings(l: &[Slot]) -> std::vec::Vec<Encoding> {
        l.iter().map(|s| s.encoding).collect()
    }

    #[test]
    fn lists_are_the_shadowed_rows_by_class_in_table_order() {
        let l = ShadowFields::new(&ShadowCaps::ALL);
        // vmcs_shadow_fields.h: 24 read-write, 11 read-only rows; and
        // HOST_RSP, HOST_RIP (`SHADOWED_BEYOND_KVM`).
        assert_eq!((l.read_write().len(), l.read_only().len()), (26, 11));
        assert_eq!((MAX_READ_WRITE, MAX_READ_ONLY), (26, 11));
        assert!(encodings(l.read_write()).contains(&enc::HOST_RSP));
        assert!(encodings(l.read_write()).contains(&enc::HOST_RIP));
        let rw: std::vec::Vec<_> = bitmap::shadowed(&ShadowCaps::ALL)
            .filter(|(_, s)| *s == Shadow::ReadWrite)
            .map(|(f, _)| Slot::of(f))
            .collect();
        assert_eq!(l.read_write(), &rw[..]);
        assert!(encodings(l.read_write()).contains(&enc::GUEST_RIP));
        assert!(!encodings(l.read_write()).contains(&enc::VM_EXIT_REASON));
        assert!(encodings(l.read_only()).contains(&enc::VM_EXIT_REASON));
        assert!(encodings(l.read_only()).contains(&enc::GUEST_PHYSICAL_ADDRESS));
        assert!(!encodings(l.read_only()).contains(&enc::GUEST_RIP));
        for s in l.read_write().iter().chain(l.read_only()) {
            assert_ne!(s.encoding, enc::EPT_POINTER);
            assert_ne!(s.bytes, 0, "{:?}", s.encoding);
        }
    }

    #[test]
    fn fields_the_cpu_lacks_are_in_neither_list() {
        let l = ShadowFields::new(&ShadowCaps::default());
        let rw = encodings(l.read_write());
        for e in [
            enc::GUEST_PML_INDEX,
            enc::VMX_PREEMPTION_TIMER_VALUE,
            enc::GUEST_INTR_STATUS,
        ] {
            assert!(!rw.contains(&e), "{e:?}");
            assert!(encodings(&ShadowFields::new(&ShadowCaps::ALL).rw).contains(&e));
        }
        assert_eq!((rw.len(), l.read_only().len()), (23, 11));
        assert!(rw.contains(&enc::HOST_RSP) && rw.contains(&enc::HOST_RIP));
    }
}
