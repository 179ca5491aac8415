// SPDX-License-Identifier: GPL-2.0

//! The VM-entry MSR-load and VM-exit MSR-store/load lists in L1 memory (SDM
//! Vol. 3C 27.4 "Loading MSRs", 28.4 "Saving MSRs", 28.6 "Loading Host
//! MSRs"): KVM's `nested_vmx_load_msr()`, `nested_vmx_store_msr()` and the
//! per-entry checks, with L1 memory and the MSR accesses behind a trait.

use crate::vmcs::caps::misc;

/// `struct vmx_msr_entry`: 16 bytes per entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MsrEntry {
    /// MSR index.
    pub index: u32,
    /// Reserved, must be 0.
    pub reserved: u32,
    /// Value to load, or where the stored value goes.
    pub value: u64,
}

/// Bytes per list entry.
pub const ENTRY_SIZE: u64 = 16;

impl MsrEntry {
    /// An entry as it is in L1 memory (SDM 25.7.2, Table 25-15: index,
    /// reserved, value; little endian).
    pub fn from_bytes(raw: &[u8; 16]) -> Self {
        let [i0, i1, i2, i3, r0, r1, r2, r3, v0, v1, v2, v3, v4, v5, v6, v7] = *raw;
        MsrEntry {
            index: u32::from_le_bytes([i0, i1, i2, i3]),
            reserved: u32::from_le_bytes([r0, r1, r2, r3]),
            value: u64::from_le_bytes([v0, v1, v2, v3, v4, v5, v6, v7]),
        }
    }
}

/// A rejected list entry, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryCheck {
    /// An x2APIC MSR (0x800 - 0x8ff) while L1's APIC is in x2APIC mode.
    X2apicMsr,
    /// IA32_BIOS_UPDT_TRIG or IA32_BIOS_SIGN_ID (SDM table 2-2).
    MicrocodeMsr,
    /// Bits 63:32 of the entry's first quadword are set.
    Reserved,
    /// IA32_FS_BASE or IA32_GS_BASE in a load list.
    SegmentBase,
    /// IA32_SMM_MONITOR_CTL in a load list (SMM is not supported).
    SmmMonitorCtl,
    /// IA32_SMBASE in a store list (SMM is not supported).
    Smbase,
}

const MSR_UCODE_WRITE: u32 = 0x79;
const MSR_UCODE_REV: u32 = 0x8b;
const MSR_SMM_MONITOR_CTL: u32 = 0x9b;
const MSR_SMBASE: u32 = 0x9e;
const MSR_FS_BASE: u32 = 0xc000_0100;
const MSR_GS_BASE: u32 = 0xc000_0101;

fn check_common(e: &MsrEntry, x2apic_enabled: bool) -> Result<(), EntryCheck> {
    if x2apic_enabled && e.index >> 8 == 0x8 {
        return Err(EntryCheck::X2apicMsr);
    }
    if e.index == MSR_UCODE_WRITE || e.index == MSR_UCODE_REV {
        return Err(EntryCheck::MicrocodeMsr);
    }
    if e.reserved != 0 {
        return Err(EntryCheck::Reserved);
    }
    Ok(())
}

/// KVM's `nested_vmx_load_msr_check()`.
pub fn check_load_entry(e: &MsrEntry, x2apic_enabled: bool) -> Result<(), EntryCheck> {
    if e.index == MSR_FS_BASE || e.index == MSR_GS_BASE {
        return Err(EntryCheck::SegmentBase);
    }
    if e.index == MSR_SMM_MONITOR_CTL {
        return Err(EntryCheck::SmmMonitorCtl);
    }
    check_common(e, x2apic_enabled)
}

/// KVM's `nested_vmx_store_msr_check()`.
pub fn check_store_entry(e: &MsrEntry, x2apic_enabled: bool) -> Result<(), EntryCheck> {
    if e.index == MSR_SMBASE {
        return Err(EntryCheck::Smbase);
    }
    check_common(e, x2apic_enabled)
}

/// Entries a list may have: (IA32_VMX_MISC[27:25] + 1) * 512.
pub fn max_entries(vmx_misc: u64) -> u32 {
    // IA32_VMX_MISC[27:25] is 3 bits: at most 8 * 512.
    ((misc::max_msr(vmx_misc) as u32 & 7) + 1) * 512
}

/// What the list walk needs from KVM.
pub trait MsrAccess {
    /// Reads the entry at `gpa` from L1 memory.
    fn read_entry(&mut self, gpa: u64) -> Option<MsrEntry>;
    /// Writes the value quadword of the entry at `gpa`.
    fn write_value(&mut self, gpa: u64, value: u64) -> bool;
    /// Sets an MSR of the vCPU as L1/L2 would (MSR filter applies).
    fn set_msr(&mut self, index: u32, value: u64) -> bool;
    /// Reads an MSR of the vCPU (MSR filter applies).
    fn get_msr(&mut self, index: u32) -> Option<u64>;
    /// L1's APIC is in x2APIC mode now: asked per entry, as KVM's
    /// `nested_vmx_msr_check_common()`, since an earlier entry of the same
    /// list may switch it (IA32_APIC_BASE).
    fn x2apic_mode(&mut self) -> bool;
}

/// KVM's `nested_vmx_load_msr()`: loads every entry in order; on failure,
/// the 1-based index of the failing entry (the exit qualification of a
/// VM-entry failure due to MSR loading). Entries before it stay loaded, as
/// on hardware; exceeding the capacity fails at the first extra entry.
pub fn load_list(a: &mut impl MsrAccess, gpa: u64, count: u32, max: u32) -> Result<(), u32> {
    for i in 0..count {
        let failed = Err(i.saturating_add(1));
        if i >= max {
            return failed;
        }
        let Some(e) = a.read_entry(gpa.wrapping_add(u64::from(i) * ENTRY_SIZE)) else {
            return failed;
        };
        let x2apic = a.x2apic_mode();
        if check_load_entry(&e, x2apic).is_err() || !a.set_msr(e.index, e.value) {
            return failed;
        }
    }
    Ok(())
}

/// KVM's `nested_vmx_store_msr()`: stores every listed MSR's value into
/// its entry; `Err` on the first failure (a VMX abort for L1).
pub fn store_list(a: &mut impl MsrAccess, gpa: u64, count: u32, max: u32) -> Result<(), ()> {
    for i in 0..count {
        if i >= max {
            return Err(());
        }
        let entry_gpa = gpa.wrapping_add(u64::from(i) * ENTRY_SIZE);
        let e = a.read_entry(entry_gpa).ok_or(())?;
        let x2apic = a.x2apic_mode();
        check_store_entry(&e, x2apic).map_err(|_| ())?;
        let value = a.get_msr(e.index).ok_or(())?;
        if !a.write_value(entry_gpa.wrapping_add(8), value) {
            return Err(());
        }
    }
    Ok(())
}

/// KVM's `nested_msr_store_list_has_msr()`: whether the VM-exit MSR-store
/// list names `index`, read up to its first bad entry. At most `max`
/// entries are read: past them the store itself fails (a VMX abort), so
/// KVM's walk of all of L1's u32 `count` decides nothing more there.
pub fn store_list_has(a: &mut impl MsrAccess, gpa: u64, count: u32, max: u32, index: u32) -> bool {
    for i in 0..count.min(max) {
        let Some(e) = a.read_entry(gpa.wrapping_add(u64::from(i) * ENTRY_SIZE)) else {
            return false;
        };
        let x2apic = a.x2apic_mode();
        if check_store_entry(&e, x2apic).is_err() {
            return false;
        }
        if e.index == index {
            return true;
        }
    }
    false
}

/// The MSR part of KVM's `nested_vmx_restore_host_state()`, after the CPU
/// refused vmcs02 (a late VMfail) once the VM-entry MSR-load list was
/// loaded: each MSR the entry list loaded that the VM-exit MSR-load list
/// also names with another value gets that value back; nothing else of the
/// exit list is loaded. `Err` is a VMX abort (an unreadable entry or a
/// refused load). The entry list passed its load (at most `max` entries);
/// the exit list is read up to `max` entries too: past them a real exit
/// would have aborted, and L1's u32 counts must not make L0 loop.
pub fn restore_host_msrs(
    a: &mut impl MsrAccess,
    entry: (u64, u32),
    exit: (u64, u32),
    max: u32,
) -> Result<(), ()> {
    for i in 0..entry.1.min(max) {
        let g = a
            .read_entry(entry.0.wrapping_add(u64::from(i) * ENTRY_SIZE))
            .ok_or(())?;
        for j in 0..exit.1.min(max) {
            let h = a
                .read_entry(exit.0.wrapping_add(u64::from(j) * ENTRY_SIZE))
                .ok_or(())?;
            if h.index != g.index {
                continue;
            }
            if h.value == g.value {
                break;
            }
            let x2apic = a.x2apic_mode();
            check_load_entry(&h, x2apic).map_err(|_| ())?;
            if !a.set_msr(h.index, h.value) {
                return Err(());
            }
        }
    }
    Ok(())
}

/// What KVM's `prepare_vmx_msr_autostore_list()` does to vmcs02's own
/// VM-exit MSR-store area (KVM's `msr_autostore`) for one MSR, so that the
/// CPU stores the MSR at the exit exactly when vmcs12's list wants it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Autostore {
    /// Nothing to change (also: wanted but the area is full; the value is
    /// then read at emulation time, less exact, as KVM).
    Keep,
    /// Append the MSR.
    Add,
    /// Remove slot `n`, moving the last entry into it.
    Remove(usize),
}

/// The change for an MSR at `slot` of the area (`None`: absent), with
/// vmcs12's list `wanted` naming it, `nr` entries of `capacity` used.
pub const fn autostore_change(
    slot: Option<usize>,
    wanted: bool,
    nr: usize,
    capacity: usize,
) -> Autostore {
    match (slot, wanted) {
        (None, true) if nr < capacity => Autostore::Add,
        (Some(n), false) => Autostore::Remove(n),
        _ => Autostore::Keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Fake {
        list: HashMap<u64, MsrEntry>,
        values: HashMap<u64, u64>,
        msrs: HashMap<u32, u64>,
        refuse: Option<u32>,
        x2apic: bool,
    }

    impl MsrAccess for Fake {
        fn read_entry(&mut self, gpa: u64) -> Option<MsrEntry> {
            self.list.get(&gpa).copied()
        }
        fn write_value(&mut self, gpa: u64, value: u64) -> bool {
            self.values.insert(gpa, value);
            true
        }
        fn set_msr(&mut self, index: u32, value: u64) -> bool {
            if self.refuse == Some(index) {
                return false;
            }
            // IA32_APIC_BASE's x2APIC enable (bit 10).
            if index == 0x1b {
                self.x2apic = value & (1 << 10) != 0;
            }
            self.msrs.insert(index, value);
            true
        }
        fn x2apic_mode(&mut self) -> bool {
            self.x2apic
        }
        fn get_msr(&mut self, index: u32) -> Option<u64> {
            self.msrs.get(&index).copied()
        }
    }

    fn entry(index: u32, value: u64) -> MsrEntry {
        MsrEntry {
            index,
            reserved: 0,
            value,
        }
    }

    #[test]
    fn load_entry_checks() {
        assert_eq!(check_load_entry(&entry(0x10, 0), false), Ok(()));
        assert_eq!(
            check_load_entry(&entry(MSR_FS_BASE, 0), false),
            Err(EntryCheck::SegmentBase)
        );
        assert_eq!(
            check_load_entry(&entry(MSR_GS_BASE, 0), false),
            Err(EntryCheck::SegmentBase)
        );
        assert_eq!(
            check_load_entry(&entry(MSR_SMM_MONITOR_CTL, 0), false),
            Err(EntryCheck::SmmMonitorCtl)
        );
        assert_eq!(
            check_load_entry(&entry(MSR_UCODE_WRITE, 0), false),
            Err(EntryCheck::MicrocodeMsr)
        );
        assert_eq!(check_load_entry(&entry(0x808, 0), false), Ok(()));
        assert_eq!(
            check_load_entry(&entry(0x808, 0), true),
            Err(EntryCheck::X2apicMsr)
        );
        let bad = MsrEntry {
            index: 0x10,
            reserved: 1,
            value: 0,
        };
        assert_eq!(check_load_entry(&bad, false), Err(EntryCheck::Reserved));
        assert_eq!(check_load_entry(&entry(MSR_SMBASE, 0), false), Ok(()));
    }

    #[test]
    fn store_entry_checks() {
        assert_eq!(
            check_store_entry(&entry(MSR_SMBASE, 0), false),
            Err(EntryCheck::Smbase)
        );
        assert_eq!(check_store_entry(&entry(MSR_FS_BASE, 0), false), Ok(()));
        assert_eq!(
            check_store_entry(&entry(MSR_UCODE_REV, 0), false),
            Err(EntryCheck::MicrocodeMsr)
        );
    }

    #[test]
    fn capacity() {
        assert_eq!(max_entries(0), 512);
        assert_eq!(max_entries(7 << 25), 4096);
    }

    #[test]
    fn load_reports_the_failing_entry_after_loading_the_others() {
        let mut f = Fake::default();
        f.list.insert(0x1000, entry(0x10, 5));
        f.list.insert(0x1010, entry(0x1b, 6));
        f.list.insert(0x1020, entry(MSR_FS_BASE, 7));
        assert_eq!(load_list(&mut f, 0x1000, 2, 512), Ok(()));
        assert_eq!(load_list(&mut f, 0x1000, 3, 512), Err(3));
        assert_eq!(f.msrs.get(&0x1b), Some(&6));
        assert_eq!(load_list(&mut f, 0x1000, 4, 512), Err(3));
        assert_eq!(load_list(&mut f, 0x1000, 2, 1), Err(2), "over capacity");
        f.refuse = Some(0x1b);
        assert_eq!(
            load_list(&mut f, 0x1000, 2, 512),
            Err(2),
            "MSR write refused"
        );
        assert_eq!(load_list(&mut f, 0x2000, 1, 512), Err(1), "unreadable");
        assert_eq!(load_list(&mut f, u64::MAX - 8, u32::MAX, u32::MAX), Err(1));
    }

    #[test]
    fn store_writes_values() {
        let mut f = Fake::default();
        f.msrs.insert(0x10, 42);
        f.list.insert(0x1000, entry(0x10, 0));
        f.list.insert(0x1010, entry(0x11, 0));
        assert_eq!(store_list(&mut f, 0x1000, 1, 512), Ok(()));
        assert_eq!(f.values.get(&0x1008), Some(&42));
        assert_eq!(
            store_list(&mut f, 0x1000, 2, 512),
            Err(()),
            "unreadable MSR"
        );
        assert_eq!(store_list(&mut f, 0x1000, 1, 0), Err(()), "over capacity");
    }
    #[test]
    fn store_list_lookup_stops_at_a_bad_entry_and_the_capacity() {
        let mut f = Fake::default();
        f.list.insert(0x1000, entry(0x1b, 0));
        f.list.insert(0x1010, entry(0x10, 0));
        assert!(store_list_has(&mut f, 0x1000, 2, 512, 0x10));
        assert!(!store_list_has(&mut f, 0x1000, 1, 512, 0x10));
        assert!(!store_list_has(&mut f, 0x1000, 2, 1, 0x10), "past capacity");
        // Unreadable, or a check failing before it (x2APIC MSR in x2APIC mode).
        assert!(!store_list_has(&mut f, 0x1000, 3, 512, 0x11));
        f.list.insert(0x1000, entry(0x808, 0));
        f.x2apic = true;
        assert!(!store_list_has(&mut f, 0x1000, 2, 512, 0x10));
        f.x2apic = false;
        assert!(store_list_has(&mut f, 0x1000, 2, 512, 0x10));
        // L1's count is a u32: no walk of 4G entries.
        assert!(!store_list_has(&mut f, 0x1000, u32::MAX, 512, 0x11));
    }

    #[test]
    fn autostore_follows_vmcs12s_list() {
        assert_eq!(autostore_change(None, true, 1, 8), Autostore::Add);
        assert_eq!(autostore_change(None, true, 8, 8), Autostore::Keep, "full");
        assert_eq!(autostore_change(Some(2), false, 3, 8), Autostore::Remove(2));
        assert_eq!(autostore_change(Some(0), true, 1, 8), Autostore::Keep);
        assert_eq!(autostore_change(None, false, 0, 8), Autostore::Keep);
    }
    #[test]
    fn a_late_vmfail_restores_only_what_the_entry_list_changed() {
        let mut f = Fake::default();
        // Entry list: 0x175 <- 1, 0x176 <- 2. Exit list: 0x176 <- 2 (same),
        // 0x175 <- 9, 0xc0000102 <- 7 (not in the entry list).
        f.list.insert(0x1000, entry(0x175, 1));
        f.list.insert(0x1010, entry(0x176, 2));
        f.list.insert(0x2000, entry(0x176, 2));
        f.list.insert(0x2010, entry(0x175, 9));
        f.list.insert(0x2020, entry(0xc000_0102, 7));
        assert_eq!(
            restore_host_msrs(&mut f, (0x1000, 2), (0x2000, 3), 512),
            Ok(())
        );
        assert_eq!(f.msrs.get(&0x175), Some(&9));
        assert_eq!(f.msrs.get(&0x176), None, "same value: nothing loaded");
        assert_eq!(f.msrs.get(&0xc000_0102), None, "not loaded by the entry");
        // An unreadable exit entry, or a refused load, is an abort.
        assert_eq!(
            restore_host_msrs(&mut f, (0x1000, 1), (0x2000, 9), 512),
            Err(())
        );
        f.refuse = Some(0x175);
        assert_eq!(
            restore_host_msrs(&mut f, (0x1000, 1), (0x2000, 2), 512),
            Err(())
        );
        // An exit entry that fails the load checks (FS_BASE) aborts too.
        f.list.insert(0x1000, entry(MSR_FS_BASE, 1));
        f.list.insert(0x2000, entry(MSR_FS_BASE, 2));
        assert_eq!(
            restore_host_msrs(&mut f, (0x1000, 1), (0x2000, 1), 512),
            Err(())
        );
        // No walk past the capacity.
        assert_eq!(
            restore_host_msrs(&mut f, (0x1000, 0), (0x2000, u32::MAX), 512),
            Ok(())
        );
    }
    #[test]
    fn an_entry_that_enables_x2apic_decides_the_next_ones() {
        let mut f = Fake::default();
        f.list.insert(0x1000, entry(0x1b, 0xfee0_0c00));
        f.list.insert(0x1010, entry(0x808, 0));
        assert_eq!(
            load_list(&mut f, 0x1000, 2, 512),
            Err(2),
            "x2APIC MSR once in x2APIC mode"
        );
        let mut f = Fake::default();
        f.list.insert(0x1000, entry(0x808, 0));
        assert_eq!(
            load_list(&mut f, 0x1000, 1, 512),
            Ok(()),
            "xAPIC mode: an ordinary MSR"
        );
    }
}
