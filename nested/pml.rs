// SPDX-License-Identifier: GPL-2.0

//! Page-modification logging for L2, emulated as KVM does
//! (`nested_vmx_write_pml_buffer()`): PML is never enabled in vmcs02 (L0's
//! MMU emulates the EPT A/D bits of L1's tables), and each GPA L2 dirties
//! while vmcs12 enables PML is written to L1's PML buffer at vmcs12's
//! GUEST_PML_INDEX, which then decrements; with the index outside the
//! buffer the write is a "PML full" VM exit to L1 (SDM 29.3.6 "Page-
//! Modification Logging").

/// Entries of a PML buffer (one 4-KiB page of 8-byte GPAs).
pub const ENTRIES: u16 = 512;

/// What logging one dirtied GPA does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Log {
    /// vmcs12 does not enable PML: nothing.
    Off,
    /// The buffer is full: a PML-full VM exit to L1.
    Full,
    /// Write `entry` at `dst` in L1 memory, then decrement the index.
    Write {
        /// GPA of the buffer entry.
        dst: u64,
        /// The logged GPA, 4-KiB aligned.
        entry: u64,
    },
}

/// The logging of `gpa` with vmcs12's PML `enabled`, `index` and buffer
/// `address` (page aligned: a VM-entry check).
pub const fn log(enabled: bool, index: u16, address: u64, gpa: u64) -> Log {
    if !enabled {
        return Log::Off;
    }
    if index >= ENTRIES {
        return Log::Full;
    }
    Log::Write {
        dst: address.wrapping_add(8 * index as u64),
        entry: gpa & !0xfff,
    }
}

/// vmcs12's PML settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PmlState {
    /// The secondary control "enable PML".
    pub enabled: bool,
    /// GUEST_PML_INDEX.
    pub index: u16,
    /// The PML buffer's address.
    pub address: u64,
}

/// The vCPU of a write L2 made while its dirty bits are emulated.
pub trait PmlVcpu {
    /// `is_guest_mode()`.
    fn pml_in_guest_mode(&mut self) -> bool;
    /// `nested.pml_full`: a PML-full exit is still to be reported.
    fn pml_full(&mut self) -> bool;
    /// Sets or clears `nested.pml_full`.
    fn set_pml_full(&mut self, full: bool);
    /// vmcs12's PML settings, `None` without a vmcs12.
    fn pml_state(&mut self) -> Option<PmlState>;
    /// Writes `entry` (little endian) to L1 memory at `dst`; false when
    /// L1 memory is missing there.
    fn write_pml_entry(&mut self, dst: u64, entry: u64) -> bool;
    /// Sets vmcs12's GUEST_PML_INDEX.
    fn set_pml_index(&mut self, index: u16);
    /// Counts a logged GPA.
    fn count_pml_logged(&mut self) {
        crate::nested::counters::PML_LOGGED.inc()
    }
}

/// KVM's `nested_vmx_write_pml_buffer()`: logs `gpa`, which L2 dirtied,
/// in L1's PML buffer. True asks KVM for a PML-full exit, which the EPT
/// fault it then raises reports to L1 (`ept::inject_page_fault`).
pub fn write_buffer<V: PmlVcpu>(k: &mut V, gpa: u64) -> bool {
    if !k.pml_in_guest_mode() {
        return false;
    }
    if k.pml_full() {
        // Still to be reported (KVM WARNs here; nothing else to log).
        return true;
    }
    let Some(s) = k.pml_state() else {
        return false;
    };
    match log(s.enabled, s.index, s.address, gpa) {
        Log::Off => false,
        Log::Full => {
            k.set_pml_full(true);
            true
        }
        Log::Write { dst, entry } => {
            // A failed write (L1 memory missing) leaves the index as it is.
            if k.write_pml_entry(dst, entry) {
                k.count_pml_logged();
                k.set_pml_index(s.index.wrapping_sub(1));
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nested::model_pages::{EptCall, EptModel};

    #[test]
    fn logs_downwards_until_full() {
        assert_eq!(log(false, 511, 0x1000, 0x5123), Log::Off);
        assert_eq!(
            log(true, 511, 0x1000, 0x5123),
            Log::Write {
                dst: 0x1ff8,
                entry: 0x5000
            }
        );
        assert_eq!(
            log(true, 0, 0x1000, 0x5123),
            Log::Write {
                dst: 0x1000,
                entry: 0x5000
            }
        );
        // Index 0 decremented wraps to 0xffff: the next GPA is "full".
        assert_eq!(log(true, 0u16.wrapping_sub(1), 0x1000, 0x5123), Log::Full);
        assert_eq!(log(true, 512, 0x1000, 0x5123), Log::Full);
    }

    fn pml(enabled: bool, index: u16) -> EptModel {
        EptModel {
            guest_mode: true,
            pml: Some(PmlState {
                enabled,
                index,
                address: 0x10_0000,
            }),
            ..EptModel::default()
        }
    }

    #[test]
    fn write_buffer_logs_and_decrements() {
        let mut m = pml(true, 3);
        assert!(!write_buffer(&mut m, 0x5678));
        assert_eq!(
            m.log,
            [
                EptCall::WritePml(0x10_0018, 0x5000),
                EptCall::CountPml,
                EptCall::PmlIndex(2)
            ]
        );
        // Index 0 is the last entry; the index then wraps to 0xffff.
        let mut m = pml(true, 0);
        assert!(!write_buffer(&mut m, 0x5678));
        assert_eq!(m.log.last(), Some(&EptCall::PmlIndex(0xffff)));
    }

    #[test]
    fn write_buffer_full_and_off() {
        let mut m = pml(true, 0xffff);
        assert!(write_buffer(&mut m, 0x5678), "full: a PML-full exit");
        assert!(m.pml_full);
        assert!(m.log.is_empty());
        // Until reported, every write asks for the exit, logging nothing.
        assert!(write_buffer(&mut m, 0x9000));
        assert!(m.log.is_empty());
        let mut m = pml(false, 3);
        assert!(!write_buffer(&mut m, 0x5678));
        assert!(m.log.is_empty() && !m.pml_full);
        // Outside guest mode, or without a vmcs12: nothing.
        let mut m = pml(true, 3);
        m.guest_mode = false;
        m.pml_full = true;
        assert!(!write_buffer(&mut m, 0x5678));
        let mut m = pml(true, 3);
        m.pml = None;
        assert!(!write_buffer(&mut m, 0x5678));
        assert!(m.log.is_empty());
    }

    #[test]
    fn write_buffer_failed_write_keeps_the_index() {
        let mut m = pml(true, 7);
        m.write_fails = true;
        assert!(!write_buffer(&mut m, 0x5678));
        assert_eq!(m.log, [EptCall::WritePml(0x10_0038, 0x5000)]);
    }
}
