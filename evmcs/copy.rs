// SPDX-License-Identifier: GPL-2.0

//! The enlightened VMCS to vmcs12 and back, as nested.c's
//! `copy_enlightened_to_vmcs12()` (at VMLAUNCH/VMRESUME, and fully for
//! KVM_GET_NESTED_STATE) and `copy_vmcs12_to_enlightened()` (when KVM
//! syncs vmcs12 to L1, after a nested exit). Both walk the one field table
//! (`crate::vmcs::table`): its eVMCS column says where each field lives
//! and which clean-field group covers it; [`copied_in`] and
//! [`copied_out`] say, from the row alone, which fields C copies each way.

use crate::evmcs::clean::CleanGroup;
use crate::evmcs::fields::{evmcs_at, EvmcsFields};
use crate::vmcs::encoding::{Encoding, Kind};
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::table::{encodings as e, evmcs_to_vmcs12_rows, vmcs12_to_evmcs_rows, Field};

/// Whether `copy_enlightened_to_vmcs12()` copies the field (when its group
/// is dirty): every eVMCS field but the VM-exit information (read-only to
/// L1) and the fields of no single group (`@ ALL` in the table: the MSR
/// areas, page-fault mask/match, CR3-target count, which C leaves out as
/// "Not used?").
pub fn copied_in(f: &Field) -> bool {
    f.evmcs
        .is_some_and(|ev| copied_in_row(f.encoding, ev.clean))
}

/// [`copied_in`] of a row with an eVMCS field, by its encoding and group.
pub fn copied_in_row(encoding: Encoding, clean: CleanGroup) -> bool {
    clean != CleanGroup::ALL && encoding.kind() != Kind::ReadOnlyData
}

/// Guest-state fields only L1 writes: a nested exit leaves them as they
/// were in vmcs12, so `copy_vmcs12_to_enlightened()` does not copy them.
const GUEST_STATE_NOT_SYNCED: [Encoding; 3] = [
    e::VMCS_LINK_POINTER,
    e::GUEST_IA32_DEBUGCTL,
    e::GUEST_IA32_PERF_GLOBAL_CTRL,
];

/// Controls a nested exit writes to vmcs12 (`prepare_vmcs12()`: the
/// IA-32e mode entry control, the entry event fields cleared, the
/// interrupt-window bits KVM owns), which L1 must see after the exit.
const CONTROLS_SYNCED: [Encoding; 5] = [
    e::CPU_BASED_VM_EXEC_CONTROL,
    e::VM_ENTRY_CONTROLS,
    e::VM_ENTRY_INTR_INFO_FIELD,
    e::VM_ENTRY_EXCEPTION_ERROR_CODE,
    e::VM_ENTRY_INSTRUCTION_LEN,
];

/// Whether `copy_vmcs12_to_enlightened()` copies the field: the VM-exit
/// information, the guest state but what only L1 writes, and the controls
/// a nested exit writes. Host state and the other controls "should not be
/// changed by KVM".
pub fn copied_out(f: &Field) -> bool {
    f.evmcs.is_some() && copied_out_row(f.encoding)
}

/// [`copied_out`] of a row with an eVMCS field, by its encoding.
pub fn copied_out_row(encoding: Encoding) -> bool {
    match encoding.kind() {
        Kind::ReadOnlyData => true,
        Kind::GuestState => !GUEST_STATE_NOT_SYNCED.contains(&encoding),
        Kind::Control => CONTROLS_SYNCED.contains(&encoding),
        Kind::HostState => false,
    }
}

/// The Hyper-V nested fields of KVM's `struct kvm_vcpu_hv` (`nested`) that
/// the eVMCS's enlightenments group sets: the partition assist page (L2's
/// TLB-flush lock count) and the VM and VP ids L2's flushes name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HvNested {
    /// `pa_page_gpa`, from `partition_assist_page`.
    pub pa_page_gpa: u64,
    /// `vm_id`, from `hv_vm_id`.
    pub vm_id: u64,
    /// `vp_id`, from `hv_vp_id`.
    pub vp_id: u32,
}

/// What a copy into vmcs12 asks of KVM besides vmcs12.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopiedIn {
    /// A group of controls the MSR bitmap depends on (GRP1, GRP2, PROC)
    /// was dirty: rebuild vmcs02's MSR bitmap (`force_msr_bitmap_recalc`).
    pub force_msr_bitmap_recalc: bool,
    /// The enlightenments group was dirty: set these in the vCPU's Hyper-V
    /// state (if it has one).
    pub hv_nested: Option<HvNested>,
}

/// The groups whose controls decide vmcs02's MSR bitmap.
const RUNTIME_CONTROLS: u32 = CleanGroup::CONTROL_GRP1.bit()
    | CleanGroup::CONTROL_GRP2.bit()
    | CleanGroup::CONTROL_PROC.bit();

/// `copy_enlightened_to_vmcs12(vmx, hv_clean_fields)`: every field
/// [`copied_in`] whose group L1 did not declare clean (fields of no group,
/// `CleanGroup::NONE`, always). `hv_clean_fields` 0 copies them all.
pub fn copy_in(ev: &impl EvmcsFields, v: &mut Vmcs12, hv_clean_fields: u32) -> CopiedIn {
    // One test per group, then its fields, as nested.c's: each pass is
    // the table's straight-line copy with the group a constant, so only
    // that group's rows remain (stores to distinct fields: the order
    // does not matter).
    macro_rules! groups {
        ($($g:ident)*) => {$(
            if !CleanGroup::$g.is_clean(hv_clean_fields) {
                evmcs_to_vmcs12_rows(ev, v, |enc, group| {
                    group == CleanGroup::$g && copied_in_row(enc, group)
                });
            }
        )*};
    }
    groups!(NONE IO_BITMAP MSR_BITMAP CONTROL_GRP2 CONTROL_GRP1 CONTROL_PROC CONTROL_EVENT
        CONTROL_ENTRY CONTROL_EXCPN CRDR CONTROL_XLAT GUEST_BASIC GUEST_GRP1 GUEST_GRP2
        HOST_POINTER HOST_GRP1 ENLIGHTENMENTSCONTROL);
    let enl = CleanGroup::ENLIGHTENMENTSCONTROL;
    CopiedIn {
        force_msr_bitmap_recalc: hv_clean_fields & RUNTIME_CONTROLS != RUNTIME_CONTROLS,
        hv_nested: (!enl.is_clean(hv_clean_fields)).then_some(HvNested {
            pa_page_gpa: ev.load(evmcs_at!(partition_assist_page)),
            vm_id: ev.load(evmcs_at!(hv_vm_id)),
            // A 32-bit field: `load` zero-extends it.
            #[allow(clippy::cast_possible_truncation)]
            vp_id: ev.load(evmcs_at!(hv_vp_id)) as u32,
        }),
    }
}

/// `copy_vmcs12_to_enlightened()`: every field [`copied_out`].
pub fn copy_out(v: &Vmcs12, ev: &mut impl EvmcsFields) {
    vmcs12_to_evmcs_rows(v, ev, |enc, _| copied_out_row(enc));
}

#[cfg(test)]
#[path = "copy_tests.rs"]
mod tests;
