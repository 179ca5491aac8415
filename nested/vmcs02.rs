// SPDX-License-Identifier: GPL-2.0

//! Which guest-state fields move verbatim between vmcs12 and vmcs02, and
//! when (KVM's prepare_vmcs02_rare(), sync_vmcs02_to_vmcs12_rare(),
//! is_vmcs12_ext_field()).
//!
//! The segment and descriptor-table state changes rarely: vmcs02 takes it
//! from vmcs12 only when L1 wrote vmcs12 (`dirty_vmcs12`), and vmcs12
//! takes it back from vmcs02 only when L1 (or userspace) is about to look
//! at it, not on every nested exit.

use crate::vmcs::encoding::Encoding;
use crate::vmcs::table::encodings as e;

/// Segment and descriptor-table state, loaded into vmcs02 as it is.
pub const GUEST_SEGMENTS: [Encoding; 36] = [
    e::GUEST_ES_SELECTOR,
    e::GUEST_CS_SELECTOR,
    e::GUEST_SS_SELECTOR,
    e::GUEST_DS_SELECTOR,
    e::GUEST_FS_SELECTOR,
    e::GUEST_GS_SELECTOR,
    e::GUEST_LDTR_SELECTOR,
    e::GUEST_TR_SELECTOR,
    e::GUEST_ES_LIMIT,
    e::GUEST_CS_LIMIT,
    e::GUEST_SS_LIMIT,
    e::GUEST_DS_LIMIT,
    e::GUEST_FS_LIMIT,
    e::GUEST_GS_LIMIT,
    e::GUEST_LDTR_LIMIT,
    e::GUEST_TR_LIMIT,
    e::GUEST_GDTR_LIMIT,
    e::GUEST_IDTR_LIMIT,
    e::GUEST_ES_AR_BYTES,
    e::GUEST_CS_AR_BYTES,
    e::GUEST_SS_AR_BYTES,
    e::GUEST_DS_AR_BYTES,
    e::GUEST_FS_AR_BYTES,
    e::GUEST_GS_AR_BYTES,
    e::GUEST_LDTR_AR_BYTES,
    e::GUEST_TR_AR_BYTES,
    e::GUEST_ES_BASE,
    e::GUEST_CS_BASE,
    e::GUEST_SS_BASE,
    e::GUEST_DS_BASE,
    e::GUEST_FS_BASE,
    e::GUEST_GS_BASE,
    e::GUEST_LDTR_BASE,
    e::GUEST_TR_BASE,
    e::GUEST_GDTR_BASE,
    e::GUEST_IDTR_BASE,
];

/// Other guest state vmcs02 takes from vmcs12 only when vmcs12 is dirty.
pub const GUEST_RARE_OTHER: [Encoding; 4] = [
    e::GUEST_PENDING_DBG_EXCEPTIONS,
    e::GUEST_SYSENTER_CS,
    e::GUEST_SYSENTER_ESP,
    e::GUEST_SYSENTER_EIP,
];

/// Synced back on every exit: L1 reads them from the shadow VMCS, which
/// is refilled from vmcs12 at each exit (KVM's sync_vmcs02_to_vmcs12()).
pub const SYNCED_EVERY_EXIT: [Encoding; 2] = [e::GUEST_CS_AR_BYTES, e::GUEST_SS_AR_BYTES];

/// The rare state synced back to vmcs12 lazily, on demand: the segments
/// but CS/SS access rights, and the rest. KVM's sync_vmcs02_to_vmcs12_rare(),
/// plus the SYSENTER MSRs, which a VM exit saves (SDM 28.3.2) and KVM
/// 6.12 leaves stale in vmcs12.
pub fn rare_sync() -> impl Iterator<Item = Encoding> {
    GUEST_SEGMENTS
        .into_iter()
        .filter(|f| !SYNCED_EVERY_EXIT.contains(f))
        .chain(GUEST_RARE_OTHER)
}

/// KVM's `is_vmcs12_ext_field()`: a VMREAD of such a field outside L2
/// needs the lazily synced state first.
pub fn is_rare(field: Encoding) -> bool {
    let field = field.full();
    field == e::GUEST_BNDCFGS || rare_sync().any(|f| f == field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shadow::bitmap::{shadowed, ShadowCaps};
    use crate::vmcs::table::lookup;

    fn all() -> ShadowCaps {
        ShadowCaps::ALL
    }

    #[test]
    fn every_field_is_in_vmcs12() {
        for f in GUEST_SEGMENTS.iter().chain(&GUEST_RARE_OTHER) {
            assert!(lookup(*f).is_some(), "{f:?}");
        }
    }

    #[test]
    fn lazily_synced_fields_are_never_shadowed() {
        // The shadow VMCS is refilled from vmcs12 at every exit: a lazily
        // synced field in it would show L1 a stale value.
        for (f, _) in shadowed(&all()) {
            assert!(!is_rare(f.encoding), "{}", f.name);
        }
    }

    #[test]
    fn rare_set_matches_kvm() {
        assert_eq!(rare_sync().count(), 34 + 4);
        assert!(is_rare(e::GUEST_TR_BASE) && is_rare(e::GUEST_BNDCFGS));
        assert!(!is_rare(e::GUEST_CS_AR_BYTES) && !is_rare(e::GUEST_RIP));
    }
}
