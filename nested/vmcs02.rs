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
use crate::vmcs::index;
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::table::encodings as e;

/// One list of the rare guest state, and from it the lists and the
/// straight-line copies (one VMWRITE or VMREAD and one field access per
/// row, as nested.c's `prepare_vmcs02_rare()` and
/// `sync_vmcs02_to_vmcs12_rare()`), so that they cannot diverge.
macro_rules! rare_rows {
    (
        segments: [$($s:ident => $sf:ident,)*]
        other: [$($o:ident => $of:ident,)*]
        loaded_only: [$($l:ident => $lf:ident,)*]
    ) => {
        /// Segment and descriptor-table state, loaded into vmcs02 as it is
        /// (the eVMCS's GUEST_GRP2).
        pub const GUEST_SEGMENTS: [Encoding; [$(e::$s),*].len()] = [$(e::$s),*];

        /// Other guest state vmcs02 takes from vmcs12 only when vmcs12 is
        /// dirty (in the eVMCS's GUEST_GRP1).
        pub const GUEST_RARE_OTHER: [Encoding; [$(e::$o,)* $(e::$l),*].len()] =
            [$(e::$o,)* $(e::$l),*];

        /// Of `GUEST_RARE_OTHER`, those vmcs12 always has current: loaded
        /// into vmcs02, never synced back (KVM mirrors every change of
        /// them while L2 runs into vmcs12).
        pub const LOADED_ONLY: [Encoding; [$(e::$l),*].len()] = [$(e::$l),*];

        /// `GUEST_SEGMENTS` from vmcs12 to `write` (VMWRITE of vmcs02).
        #[inline]
        pub fn load_segments(v: &Vmcs12, mut write: impl FnMut(Encoding, u64)) {
            $(write(e::$s, u64::from({ v.$sf }));)*
        }

        /// `GUEST_RARE_OTHER` from vmcs12 to `write`.
        #[inline]
        pub fn load_other(v: &Vmcs12, mut write: impl FnMut(Encoding, u64)) {
            $(write(e::$o, u64::from({ v.$of }));)*
            $(write(e::$l, u64::from({ v.$lf }));)*
        }

        /// The lazily synced state (`rare_sync()`, in its order) from
        /// `read` (VMREAD of vmcs02) into vmcs12.
        #[allow(clippy::cast_possible_truncation)]
        #[inline]
        pub fn sync_rare_rows(v: &mut Vmcs12, mut read: impl FnMut(Encoding) -> u64) {
            $(if !synced_every_exit(e::$s) {
                v.$sf = read(e::$s) as _;
            })*
            $(v.$of = read(e::$o) as _;)*
        }

        /// The rare state an eVMCS exit syncs at once
        /// (`evmcs_rare_sync()`, in its order) from `read` into vmcs12:
        /// nested.c's `sync_vmcs02_to_vmcs12_rare()` exactly, so the
        /// `sync_rare_rows()` fields but the SYSENTER MSRs (one VMREAD
        /// each, straight into vmcs12).
        #[allow(clippy::cast_possible_truncation)]
        #[inline]
        pub fn sync_evmcs_rare_rows(v: &mut Vmcs12, mut read: impl FnMut(Encoding) -> u64) {
            $(if !synced_every_exit(e::$s) {
                v.$sf = read(e::$s) as _;
            })*
            $(if !sysenter(e::$o) {
                v.$of = read(e::$o) as _;
            })*
        }
    };
}

rare_rows! {
    segments: [
        GUEST_ES_SELECTOR => guest_es_selector,
        GUEST_CS_SELECTOR => guest_cs_selector,
        GUEST_SS_SELECTOR => guest_ss_selector,
        GUEST_DS_SELECTOR => guest_ds_selector,
        GUEST_FS_SELECTOR => guest_fs_selector,
        GUEST_GS_SELECTOR => guest_gs_selector,
        GUEST_LDTR_SELECTOR => guest_ldtr_selector,
        GUEST_TR_SELECTOR => guest_tr_selector,
        GUEST_ES_LIMIT => guest_es_limit,
        GUEST_CS_LIMIT => guest_cs_limit,
        GUEST_SS_LIMIT => guest_ss_limit,
        GUEST_DS_LIMIT => guest_ds_limit,
        GUEST_FS_LIMIT => guest_fs_limit,
        GUEST_GS_LIMIT => guest_gs_limit,
        GUEST_LDTR_LIMIT => guest_ldtr_limit,
        GUEST_TR_LIMIT => guest_tr_limit,
        GUEST_GDTR_LIMIT => guest_gdtr_limit,
        GUEST_IDTR_LIMIT => guest_idtr_limit,
        GUEST_ES_AR_BYTES => guest_es_ar_bytes,
        GUEST_CS_AR_BYTES => guest_cs_ar_bytes,
        GUEST_SS_AR_BYTES => guest_ss_ar_bytes,
        GUEST_DS_AR_BYTES => guest_ds_ar_bytes,
        GUEST_FS_AR_BYTES => guest_fs_ar_bytes,
        GUEST_GS_AR_BYTES => guest_gs_ar_bytes,
        GUEST_LDTR_AR_BYTES => guest_ldtr_ar_bytes,
        GUEST_TR_AR_BYTES => guest_tr_ar_bytes,
        GUEST_ES_BASE => guest_es_base,
        GUEST_CS_BASE => guest_cs_base,
        GUEST_SS_BASE => guest_ss_base,
        GUEST_DS_BASE => guest_ds_base,
        GUEST_FS_BASE => guest_fs_base,
        GUEST_GS_BASE => guest_gs_base,
        GUEST_LDTR_BASE => guest_ldtr_base,
        GUEST_TR_BASE => guest_tr_base,
        GUEST_GDTR_BASE => guest_gdtr_base,
        GUEST_IDTR_BASE => guest_idtr_base,
    ]
    other: [
        GUEST_PENDING_DBG_EXCEPTIONS => guest_pending_dbg_exceptions,
    ]
    // A VM exit saves the SYSENTER MSRs (SDM 28.3.2), but while L2 runs
    // they change only by WRMSR, which L0 intercepts (the merged MSR
    // bitmap never passes them through): L1 emulates it (VMWRITE of
    // vmcs12), or KVM's vmx_set_msr() writes vmcs02 and vmcs12 alike, as
    // for KVM_SET_MSRS and the entry's MSR-load list in guest mode. vmcs12
    // is therefore current, and nested.c's sync_vmcs02_to_vmcs12_rare()
    // does not read them back either.
    loaded_only: [
        GUEST_SYSENTER_CS => guest_sysenter_cs,
        GUEST_SYSENTER_ESP => guest_sysenter_esp,
        GUEST_SYSENTER_EIP => guest_sysenter_eip,
    ]
}

/// Synced back on every exit: L1 reads them from the shadow VMCS, which
/// is refilled from vmcs12 at each exit (KVM's sync_vmcs02_to_vmcs12()).
pub const SYNCED_EVERY_EXIT: [Encoding; 2] = [e::GUEST_CS_AR_BYTES, e::GUEST_SS_AR_BYTES];

/// One of `SYNCED_EVERY_EXIT` (a constant test for a constant field).
#[inline(always)]
const fn synced_every_exit(f: Encoding) -> bool {
    f.value() == e::GUEST_CS_AR_BYTES.value() || f.value() == e::GUEST_SS_AR_BYTES.value()
}

/// A SYSENTER MSR (a constant test for a constant field).
#[inline(always)]
const fn sysenter(f: Encoding) -> bool {
    f.value() == e::GUEST_SYSENTER_CS.value()
        || f.value() == e::GUEST_SYSENTER_ESP.value()
        || f.value() == e::GUEST_SYSENTER_EIP.value()
}

/// The rare state an eVMCS exit syncs to vmcs12 (nested.c's
/// `sync_vmcs02_to_vmcs12_rare()`, which runs on every exit with an
/// eVMCS): `rare_sync()` but the SYSENTER MSRs. With an eVMCS, L1 reads
/// vmcs12's SYSENTER fields from the eVMCS, as nested.c leaves them: L2's
/// WRMSRs that L0 handles reach vmcs12 at once (vmx_set_msr() in guest
/// mode; L0 intercepts the three for L2 always), and L1's own go to the
/// eVMCS, so vmcs02's copies add nothing L1 would see under nested.c.
pub fn evmcs_rare_sync() -> impl Iterator<Item = Encoding> {
    rare_sync().filter(|f| !sysenter(*f))
}

/// The rare state synced back to vmcs12 lazily, on demand: the segments
/// but CS/SS access rights, and the pending debug exceptions (KVM's
/// sync_vmcs02_to_vmcs12_rare(); not `LOADED_ONLY`).
pub fn rare_sync() -> impl Iterator<Item = Encoding> {
    GUEST_SEGMENTS
        .into_iter()
        .filter(|f| !synced_every_exit(*f))
        .chain(GUEST_RARE_OTHER)
        .filter(|f| !LOADED_ONLY.contains(f))
}

/// KVM's `is_vmcs12_ext_field()`: a VMREAD of such a field outside L2
/// needs the lazily synced state first.
pub fn is_rare(field: Encoding) -> bool {
    index::row(field.full())
        .and_then(|r| RARE_ROWS.get(r))
        .is_some_and(|&rare| rare)
}

/// One of `LOADED_ONLY` (in a constant context).
const fn loaded_only(f: Encoding) -> bool {
    let mut i = 0;
    while i < LOADED_ONLY.len() {
        if LOADED_ONLY[i].value() == f.value() {
            return true;
        }
        i += 1;
    }
    false
}

/// `is_rare` per table row: GUEST_BNDCFGS and `rare_sync()`'s fields
/// (one indexed load per VMREAD, as nested.c's switch, not a scan).
static RARE_ROWS: [bool; index::ROW_COUNT] = {
    let mut rows = [false; index::ROW_COUNT];
    let mut i = 0;
    while i < GUEST_SEGMENTS.len() + GUEST_RARE_OTHER.len() + 1 {
        let f = if i < GUEST_SEGMENTS.len() {
            GUEST_SEGMENTS[i]
        } else if i < GUEST_SEGMENTS.len() + GUEST_RARE_OTHER.len() {
            GUEST_RARE_OTHER[i - GUEST_SEGMENTS.len()]
        } else {
            e::GUEST_BNDCFGS
        };
        if !synced_every_exit(f) && !loaded_only(f) {
            match index::row_const(f) {
                Some(r) => rows[r] = true,
                None => panic!("a rare field vmcs12 does not have"),
            }
        }
        i += 1;
    }
    rows
};

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
    fn straight_line_copies_are_the_lists() {
        use crate::vmcs::table::FIELDS;
        // Every field a distinct value, so a copy to a wrong field shows.
        let mut v = Vmcs12::zeroed();
        for (i, f) in FIELDS.iter().enumerate() {
            v.set(f, 0x100 + i as u64);
        }
        let value = |v: &Vmcs12, f: Encoding| lookup(f).map(|r| v.get(r.field));
        let mut written = std::vec::Vec::new();
        load_segments(&v, |f, x| written.push((f, Some(x))));
        let want: std::vec::Vec<_> = GUEST_SEGMENTS.iter().map(|&f| (f, value(&v, f))).collect();
        assert_eq!(written, want);
        written.clear();
        load_other(&v, |f, x| written.push((f, Some(x))));
        let want: std::vec::Vec<_> = GUEST_RARE_OTHER
            .iter()
            .map(|&f| (f, value(&v, f)))
            .collect();
        assert_eq!(written, want);
        // The sync: rare_sync()'s fields, in its order, each to its own.
        let mut synced = Vmcs12::zeroed();
        let mut read = std::vec::Vec::new();
        sync_rare_rows(&mut synced, |f| {
            read.push(f);
            value(&v, f).unwrap_or(0)
        });
        assert_eq!(read, rare_sync().collect::<std::vec::Vec<_>>());
        for f in FIELDS.iter() {
            let want = if read.contains(&f.encoding) {
                v.get(f)
            } else {
                0
            };
            assert_eq!(synced.get(f), want, "{}", f.name);
        }
    }

    #[test]
    fn evmcs_exit_syncs_what_nested_c_syncs() {
        use crate::vmcs::table::FIELDS;
        let mut v = Vmcs12::zeroed();
        for (i, f) in FIELDS.iter().enumerate() {
            v.set(f, 0x100 + i as u64);
        }
        let value = |f: Encoding| lookup(f).map_or(0, |r| v.get(r.field));
        let mut synced = Vmcs12::zeroed();
        let mut read = std::vec::Vec::new();
        sync_evmcs_rare_rows(&mut synced, |f| {
            read.push(f);
            value(f)
        });
        // sync_vmcs02_to_vmcs12_rare(): 8 selectors, 10 limits, 6 access
        // rights (CS and SS are synced on every exit), 10 bases and the
        // pending debug exceptions, one VMREAD each.
        assert_eq!(read.len(), 35);
        assert_eq!(read, evmcs_rare_sync().collect::<std::vec::Vec<_>>());
        for f in [
            e::GUEST_SYSENTER_CS,
            e::GUEST_SYSENTER_ESP,
            e::GUEST_SYSENTER_EIP,
        ] {
            assert!(!read.contains(&f), "{f:?} is not read");
        }
        assert!(read.contains(&e::GUEST_PENDING_DBG_EXCEPTIONS));
        for f in FIELDS.iter() {
            let want = if read.contains(&f.encoding) {
                v.get(f)
            } else {
                0
            };
            assert_eq!(synced.get(f), want, "{}", f.name);
        }
    }

    #[test]
    fn rare_set_matches_kvm() {
        // nested.c's sync_vmcs02_to_vmcs12_rare(): 34 segment fields and
        // the pending debug exceptions.
        assert_eq!(rare_sync().count(), 34 + 1);
        assert!(!is_rare(e::GUEST_SYSENTER_CS) && !is_rare(e::GUEST_SYSENTER_EIP));
        assert!(is_rare(e::GUEST_TR_BASE) && is_rare(e::GUEST_BNDCFGS));
        assert!(!is_rare(e::GUEST_CS_AR_BYTES) && !is_rare(e::GUEST_RIP));
        // The indexed rows are the lists, for every encoding.
        for v in 0..=Encoding::MAX {
            let f = Encoding::new(v).full();
            let listed = f == e::GUEST_BNDCFGS || rare_sync().any(|r| r == f);
            assert_eq!(is_rare(Encoding::new(v)), listed, "{v:#x}");
        }
    }
}
