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

#[cfg(test)]
mod tests {
    use super::*;

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
}
