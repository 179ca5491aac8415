// SPDX-License-Identifier: GPL-2.0

//! The enlightened VMPTRLD on a small model of the vCPU's eVMCS state.

use super::*;

#[derive(Default)]
struct M {
    exposed: bool,
    assist: u64,
    vmptr: u64,
    mapped: Option<u64>,
    maps: u32,
    unmaps: u32,
    memory_ok: bool,
    revision: u32,
    hv_reset: u32,
    current_vmptr_invalid: bool,
    vmcs12_reset: bool,
    all_dirty: bool,
    msr_recalc: bool,
}

impl EvmcsVcpu for M {
    fn evmcs_exposed(&mut self) -> bool {
        self.exposed
    }
    fn assist_evmptr(&mut self) -> u64 {
        self.assist
    }
    fn evmcs_vmptr(&mut self) -> u64 {
        self.vmptr
    }
    fn set_evmcs_vmptr(&mut self, p: u64) {
        self.vmptr = p;
    }
    fn map_evmcs(&mut self, gpa: u64) -> bool {
        assert!(self.mapped.is_none(), "mapped twice");
        if self.memory_ok {
            self.mapped = Some(gpa);
            self.maps += 1;
        }
        self.memory_ok
    }
    fn unmap_evmcs(&mut self) {
        assert!(self.mapped.take().is_some(), "unmapped twice");
        self.unmaps += 1;
    }
    fn evmcs_revision(&mut self) -> u32 {
        assert!(self.mapped.is_some());
        self.revision
    }
    fn reset_hv_nested(&mut self) {
        self.hv_reset += 1;
    }
    fn invalidate_current_vmptr(&mut self) {
        self.current_vmptr_invalid = true;
    }
    fn reset_vmcs12(&mut self) {
        self.vmcs12_reset = true;
    }
    fn dirty_all_clean_fields(&mut self) {
        assert!(self.mapped.is_some());
        self.all_dirty = true;
    }
    fn force_msr_bitmap_recalc(&mut self) {
        self.msr_recalc = true;
    }
}

fn l1(assist: u64) -> M {
    M {
        exposed: true,
        assist,
        vmptr: EVMPTR_INVALID,
        memory_ok: true,
        revision: KVM_EVMCS_VERSION,
        ..M::default()
    }
}

#[test]
fn versions() {
    assert_eq!(evmcs_version(true, None), 0x0101);
    assert_eq!(evmcs_version(true, Some(true)), 0x0101);
    assert_eq!(evmcs_version(true, Some(false)), 0);
    assert_eq!(evmcs_version(false, None), 0);
    assert!(revision_accepted(1) && revision_accepted(VMCS12_REVISION));
    assert!(!revision_accepted(0) && !revision_accepted(u32::MAX) && !revision_accepted(2));
    assert!(evmptr_is_set(EVMPTR_MAP_PENDING) && !evmptr_is_valid(EVMPTR_MAP_PENDING));
    assert!(!evmptr_is_set(EVMPTR_INVALID) && evmptr_is_valid(0x1000));
}

#[test]
fn not_exposed_or_no_assist_page_is_disabled() {
    let mut m = l1(0x3000);
    m.exposed = false;
    assert_eq!(enlightened_vmptrld(&mut m, true), Evmptrld::Disabled);
    assert_eq!((m.maps, m.hv_reset), (0, 0), "nothing touched");
    // enlighten_vmentry off while an eVMCS is mapped: released.
    let mut m = l1(0x3000);
    assert_eq!(enlightened_vmptrld(&mut m, true), Evmptrld::Succeeded);
    m.assist = EVMPTR_INVALID;
    assert_eq!(enlightened_vmptrld(&mut m, false), Evmptrld::Disabled);
    assert_eq!((m.unmaps, m.vmptr), (1, EVMPTR_INVALID));
}

#[test]
fn launch_maps_resets_and_dirties() {
    let mut m = l1(0x3000);
    assert_eq!(enlightened_vmptrld(&mut m, true), Evmptrld::Succeeded);
    assert_eq!((m.vmptr, m.mapped, m.maps), (0x3000, Some(0x3000), 1));
    assert!(m.current_vmptr_invalid && m.vmcs12_reset && m.all_dirty && m.msr_recalc);
    // VMRESUME of the same eVMCS: nothing remapped, clean fields honoured.
    let mut m = M {
        all_dirty: false,
        msr_recalc: false,
        vmcs12_reset: false,
        ..m
    };
    assert_eq!(enlightened_vmptrld(&mut m, false), Evmptrld::Succeeded);
    assert_eq!(m.maps, 1);
    assert!(!m.all_dirty && !m.msr_recalc && !m.vmcs12_reset);
    // VMRESUME of another eVMCS: remapped, dirty, vmcs12 kept (only a
    // launch resets it).
    m.assist = 0x4000;
    assert_eq!(enlightened_vmptrld(&mut m, false), Evmptrld::Succeeded);
    assert_eq!((m.maps, m.unmaps, m.mapped), (2, 1, Some(0x4000)));
    assert!(m.all_dirty && m.msr_recalc && !m.vmcs12_reset);
}

#[test]
fn bad_revision_fails_and_unmaps() {
    let mut m = l1(0x3000);
    m.revision = u32::MAX;
    assert_eq!(enlightened_vmptrld(&mut m, true), Evmptrld::VmFail);
    assert_eq!((m.mapped, m.unmaps, m.vmptr), (None, 1, EVMPTR_INVALID));
    assert!(!m.vmcs12_reset);
    // L1 fixes it: the next launch maps it again.
    m.revision = VMCS12_REVISION;
    assert_eq!(enlightened_vmptrld(&mut m, true), Evmptrld::Succeeded);
    assert_eq!(m.mapped, Some(0x3000));
}

#[test]
fn unmapped_gpa_is_an_error() {
    let mut m = l1(0xdead_b000);
    m.memory_ok = false;
    assert_eq!(enlightened_vmptrld(&mut m, true), Evmptrld::Error);
    assert_eq!((m.mapped, m.vmptr), (None, EVMPTR_INVALID));
    assert!(m.current_vmptr_invalid);
}

#[test]
fn map_pending_is_mapped_as_a_new_evmcs() {
    let mut m = l1(0x3000);
    m.vmptr = EVMPTR_MAP_PENDING;
    assert_eq!(enlightened_vmptrld(&mut m, false), Evmptrld::Succeeded);
    assert_eq!(
        (m.unmaps, m.mapped),
        (0, Some(0x3000)),
        "pending was not mapped"
    );
    assert!(m.all_dirty && !m.vmcs12_reset);
}

#[test]
fn vmclear() {
    let mut m = l1(0x3000);
    m.exposed = false;
    assert!(!handle_vmclear(&mut m, 0x3000));
    let mut m = l1(EVMPTR_INVALID);
    assert!(
        !handle_vmclear(&mut m, 0x3000),
        "no eVMCS in the assist page"
    );
    let mut m = l1(0x3000);
    assert_eq!(enlightened_vmptrld(&mut m, true), Evmptrld::Succeeded);
    assert!(handle_vmclear(&mut m, 0x5000));
    assert_eq!(m.mapped, Some(0x3000), "another one: kept");
    assert!(handle_vmclear(&mut m, 0x3000));
    assert_eq!((m.mapped, m.vmptr), (None, EVMPTR_INVALID));
}
