// SPDX-License-Identifier: GPL-2.0

//! eVMCS clean-field groups (`HV_VMX_ENLIGHTENED_CLEAN_FIELD_*`,
//! arch/x86/include/asm/hyperv-tlfs.h). L1 sets a group's bit in
//! `hv_clean_fields` when it has not changed any field of the group since the
//! last VM-entry, so KVM may skip copying them.

/// One clean-field group: a bit of `hv_clean_fields`, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CleanGroup(u32);

impl CleanGroup {
    /// The field is copied on every entry (not covered by a group).
    pub const NONE: Self = CleanGroup(0);
    /// I/O bitmap addresses.
    pub const IO_BITMAP: Self = CleanGroup(1 << 0);
    /// MSR bitmap address.
    pub const MSR_BITMAP: Self = CleanGroup(1 << 1);
    /// Control group 2.
    pub const CONTROL_GRP2: Self = CleanGroup(1 << 2);
    /// Control group 1.
    pub const CONTROL_GRP1: Self = CleanGroup(1 << 3);
    /// Processor-based controls.
    pub const CONTROL_PROC: Self = CleanGroup(1 << 4);
    /// Event injection.
    pub const CONTROL_EVENT: Self = CleanGroup(1 << 5);
    /// VM-entry controls.
    pub const CONTROL_ENTRY: Self = CleanGroup(1 << 6);
    /// Exception bitmap.
    pub const CONTROL_EXCPN: Self = CleanGroup(1 << 7);
    /// Control and debug registers.
    pub const CRDR: Self = CleanGroup(1 << 8);
    /// Address translation (EPT, VPID).
    pub const CONTROL_XLAT: Self = CleanGroup(1 << 9);
    /// Basic guest state.
    pub const GUEST_BASIC: Self = CleanGroup(1 << 10);
    /// Guest group 1.
    pub const GUEST_GRP1: Self = CleanGroup(1 << 11);
    /// Guest group 2.
    pub const GUEST_GRP2: Self = CleanGroup(1 << 12);
    /// Host pointers.
    pub const HOST_POINTER: Self = CleanGroup(1 << 13);
    /// Host group 1.
    pub const HOST_GRP1: Self = CleanGroup(1 << 14);
    /// Enlightenments control.
    pub const ENLIGHTENMENTSCONTROL: Self = CleanGroup(1 << 15);

    /// Covered by every group: clean only when all of them are.
    pub const ALL: Self = CleanGroup(0xffff);

    /// The group's bit in `hv_clean_fields` (0 for [`Self::NONE`]).
    pub const fn bit(self) -> u32 {
        self.0
    }

    /// Whether L1 declared this group unchanged; never for [`Self::NONE`].
    pub const fn is_clean(self, hv_clean_fields: u32) -> bool {
        self.0 != 0 && hv_clean_fields & self.0 == self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_groups() {
        assert!(CleanGroup::IO_BITMAP.is_clean(1));
        assert!(!CleanGroup::IO_BITMAP.is_clean(2));
        assert!(!CleanGroup::NONE.is_clean(0xffff), "never clean");
        assert!(CleanGroup::ALL.is_clean(0xffff));
        assert!(!CleanGroup::ALL.is_clean(0x7fff));
    }
}
