// SPDX-License-Identifier: GPL-2.0

//! The IA32_TSC value of vmcs12's VM-exit MSR-store list, as exact as
//! KVM's: when the list names the TSC, vmcs02's own VM-exit MSR-store area
//! (KVM's `msr_autostore.guest`, a `struct vmx_msrs`) has the CPU store it
//! at the exit, and the store list takes that value, not one read after
//! L0's exit handling (`prepare_vmx_msr_autostore_list()`,
//! `nested_vmx_get_vmexit_msr_value()`). The glue reads and writes KVM's
//! area through `MsrArea`.

use crate::nested::msr_list::{self, Autostore, MsrAccess, MsrEntry};

/// KVM's MSR_IA32_TSC.
pub const MSR_IA32_TSC: u32 = 0x10;

/// One of KVM's MSR load/store areas (`struct vmx_msrs`: `nr` entries in
/// use of the array `val`).
pub trait MsrArea {
    /// `nr`.
    fn nr(&self) -> u32;
    /// Sets `nr`.
    fn set_nr(&mut self, nr: u32);
    /// Entries `val` has room for (MAX_NR_LOADSTORE_MSRS).
    fn capacity(&self) -> usize;
    /// `val[i]`; `None` past the array.
    fn entry(&self, i: usize) -> Option<MsrEntry>;
    /// Sets `val[i]`; nothing past the array.
    fn set_entry(&mut self, i: usize, e: MsrEntry);
}

/// The entries in use of `area`.
fn used(area: &(impl MsrArea + ?Sized)) -> usize {
    usize::try_from(area.nr()).map_or(area.capacity(), |n| n.min(area.capacity()))
}

/// The slot of `msr` in `area` (`vmx_find_loadstore_msr_slot()`).
pub fn find_slot(area: &(impl MsrArea + ?Sized), msr: u32) -> Option<usize> {
    (0..used(area)).find(|&i| area.entry(i).is_some_and(|e| e.index == msr))
}

/// What the decision needs of the vCPU: L1's store list (through
/// `MsrAccess`), vmcs02's area, the TSC arithmetic.
pub trait AutostoreVcpu: MsrAccess {
    /// KVM's `struct vmx_msrs` as the glue has it.
    type Area: MsrArea + ?Sized;
    /// vmcs02's VM-exit MSR-store area (`msr_autostore.guest`).
    fn autostore(&mut self) -> &mut Self::Area;
    /// Entries an MSR list may have (`nested_vmx_max_atomic_switch_msrs()`).
    fn store_list_max(&mut self) -> u32;
    /// `kvm_read_l1_tsc()`: L1's TSC at host TSC `host_tsc`.
    fn read_l1_tsc(&mut self, host_tsc: u64) -> u64;
}

/// KVM's `prepare_vmx_msr_autostore_list(vcpu, MSR_IA32_TSC)`, at an entry
/// before vmcs02's MSR-store count is written: the TSC is in vmcs02's area
/// exactly when vmcs12's VM-exit MSR-store list (`store_addr`,
/// `store_count`) names it. An addition takes the next free slot (its value
/// is the CPU's to store); a removal moves the last entry into the freed
/// slot. A full area stays as it is (KVM warns; the value is then read at
/// emulation time).
pub fn prepare_tsc<V: AutostoreVcpu>(k: &mut V, store_addr: u64, store_count: u32) {
    let max = k.store_list_max();
    let wanted = msr_list::store_list_has(k, store_addr, store_count, max, MSR_IA32_TSC);
    let area = k.autostore();
    let found = find_slot(area, MSR_IA32_TSC);
    let nr = used(area);
    match msr_list::autostore_change(found, wanted, nr, area.capacity()) {
        Autostore::Keep => {}
        Autostore::Add => {
            if let Some(mut e) = area.entry(nr) {
                e.index = MSR_IA32_TSC;
                area.set_entry(nr, e);
                area.set_nr(u32::try_from(nr.saturating_add(1)).unwrap_or(u32::MAX));
            }
        }
        Autostore::Remove(n) => {
            let last = nr.saturating_sub(1);
            if let Some(moved) = area.entry(last) {
                area.set_entry(n, moved);
                area.set_nr(u32::try_from(last).unwrap_or(u32::MAX));
            }
        }
    }
}

/// The TSC the CPU stored at the last exit from L2, as L1 reads it
/// (`kvm_read_l1_tsc()` of the stored value), if vmcs02's area has it.
pub fn stored_tsc<V: AutostoreVcpu>(k: &mut V) -> Option<u64> {
    let area = k.autostore();
    let host_tsc = area.entry(find_slot(area, MSR_IA32_TSC)?)?.value;
    Some(k.read_l1_tsc(host_tsc))
}

/// The value vmcs12's VM-exit MSR-store list gets for MSR `index` from
/// vmcs02's area (KVM's `nested_vmx_get_vmexit_msr_value()`): the stored
/// TSC for IA32_TSC when the area has it, else `None`, and the caller reads
/// the MSR (with userspace's MSR filter, as KVM).
pub fn vmexit_msr_value<V: AutostoreVcpu>(k: &mut V, index: u32) -> Option<u64> {
    if index != MSR_IA32_TSC {
        return None;
    }
    stored_tsc(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nested::model_shadow::{Area, AutostoreModel};

    const LIST: u64 = 0x3000;

    fn entry(index: u32, value: u64) -> MsrEntry {
        MsrEntry {
            index,
            reserved: 0,
            value,
        }
    }

    /// vmcs12's store list names `msrs`, in order.
    fn model(msrs: &[u32]) -> AutostoreModel {
        let mut m = AutostoreModel {
            max: 512,
            ..AutostoreModel::default()
        };
        for (i, msr) in msrs.iter().enumerate() {
            m.list.insert(LIST + 16 * i as u64, entry(*msr, 0));
        }
        m
    }

    fn area(entries: &[(u32, u64)]) -> Area {
        let mut a = Area::default();
        for (i, (index, value)) in entries.iter().enumerate() {
            a.val[i] = entry(*index, *value);
        }
        a.nr = entries.len() as u32;
        a
    }

    #[test]
    fn the_tsc_slot_is_added_when_the_list_names_it() {
        let mut m = model(&[0x1b, MSR_IA32_TSC]);
        m.area = area(&[(0xc000_0080, 5)]);
        m.area.val[1].value = 0x99;
        prepare_tsc(&mut m, LIST, 2);
        assert_eq!(m.area.nr, 2);
        assert_eq!(m.area.val[0], entry(0xc000_0080, 5), "untouched");
        // The next slot, index set; its value is the CPU's to store.
        assert_eq!(m.area.val[1], entry(MSR_IA32_TSC, 0x99));
        // Already there: kept, not added twice.
        prepare_tsc(&mut m, LIST, 2);
        assert_eq!(m.area.nr, 2);
    }

    #[test]
    fn a_list_without_the_tsc_adds_nothing() {
        for (list, count) in [(&[0x1b, 0x174][..], 2), (&[MSR_IA32_TSC][..], 0)] {
            let mut m = model(list);
            prepare_tsc(&mut m, LIST, count);
            assert_eq!(m.area, Area::default(), "{list:?} {count}");
        }
        // Past the list's capacity, or after a bad entry: not named.
        let mut m = model(&[0x1b, MSR_IA32_TSC]);
        m.max = 1;
        prepare_tsc(&mut m, LIST, 2);
        assert_eq!(m.area.nr, 0);
        let mut m = model(&[0x9e, MSR_IA32_TSC]);
        prepare_tsc(&mut m, LIST, 2);
        assert_eq!(m.area.nr, 0, "IA32_SMBASE fails the store checks first");
        assert_eq!(m.reads, [LIST]);
    }

    #[test]
    fn the_tsc_slot_is_removed_when_the_list_no_longer_names_it() {
        let mut m = model(&[0x1b]);
        m.area = area(&[(MSR_IA32_TSC, 1), (0x1b, 2), (0x174, 3)]);
        prepare_tsc(&mut m, LIST, 1);
        // The last entry moves into the freed slot.
        assert_eq!(m.area.nr, 2);
        assert_eq!(m.area.val[0], entry(0x174, 3));
        assert_eq!(m.area.val[1], entry(0x1b, 2));
        // As the last entry: just dropped.
        let mut m = model(&[]);
        m.area = area(&[(0x1b, 2), (MSR_IA32_TSC, 1)]);
        prepare_tsc(&mut m, LIST, 0);
        assert_eq!(m.area.nr, 1);
        assert_eq!(m.area.val[0], entry(0x1b, 2));
    }

    #[test]
    fn a_full_area_stays_full() {
        let mut m = model(&[MSR_IA32_TSC]);
        let full = area(&[(1, 1), (2, 2), (3, 3), (4, 4)]);
        m.area = full.clone();
        prepare_tsc(&mut m, LIST, 1);
        assert_eq!(m.area, full);
        // An `nr` past the array counts as full and is never indexed past it.
        m.area.nr = 9;
        prepare_tsc(&mut m, LIST, 1);
        assert_eq!(m.area.nr, 9);
        assert_eq!(find_slot(&m.area, 5), None);
    }

    #[test]
    fn find_slot_looks_only_at_the_entries_in_use() {
        let mut a = area(&[(0x1b, 0), (MSR_IA32_TSC, 0)]);
        assert_eq!(find_slot(&a, MSR_IA32_TSC), Some(1));
        assert_eq!(find_slot(&a, 0x1b), Some(0));
        a.nr = 1;
        assert_eq!(find_slot(&a, MSR_IA32_TSC), None);
    }

    #[test]
    fn the_store_list_gets_the_stored_tsc_as_l1_sees_it() {
        let mut m = model(&[]);
        m.l1_tsc_offset = 1000;
        assert_eq!(vmexit_msr_value(&mut m, MSR_IA32_TSC), None, "not stored");
        m.area = area(&[(0x1b, 7), (MSR_IA32_TSC, 5000)]);
        assert_eq!(stored_tsc(&mut m), Some(6000));
        assert_eq!(vmexit_msr_value(&mut m, MSR_IA32_TSC), Some(6000));
        // Any other MSR is the caller's to read, even one in the area.
        assert_eq!(vmexit_msr_value(&mut m, 0x1b), None);
    }
}
