// SPDX-License-Identifier: GPL-2.0

//! The shadowed fields as the two lists KVM copies between vmcs12 and the
//! shadow VMCS (`shadow_read_write_fields[]`, `shadow_read_only_fields[]`
//! after `init_vmcs_shadow_fields()`): the rows of the field table that a
//! CPU with `ShadowCaps` shadows (`bitmap::shadowed`), resolved, in table
//! order. Built once at module load; no allocation.

use super::bitmap::{self, ShadowCaps};
use crate::vmcs::encoding::Encoding;
use crate::vmcs::slot::Slot;
use crate::vmcs::table::{Shadow, FIELDS};

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
}

impl ShadowFields {
    /// The lists for a CPU with `caps`.
    pub fn new(caps: &ShadowCaps) -> Self {
        let mut l = ShadowFields {
            rw: [NONE; MAX_READ_WRITE],
            rw_len: 0,
            ro: [NONE; MAX_READ_ONLY],
            ro_len: 0,
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
        // vmcs_shadow_fields.h: 24 read-write, 11 read-only rows.
        assert_eq!((l.read_write().len(), l.read_only().len()), (24, 11));
        assert_eq!((MAX_READ_WRITE, MAX_READ_ONLY), (24, 11));
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
        assert_eq!((rw.len(), l.read_only().len()), (21, 11));
    }
}
