// SPDX-License-Identifier: GPL-2.0

//! The IA32_TSC value of vmcs12's VM-exit MSR-store list, as exact as
//! KVM's: when the list names the TSC, vmcs02's own VM-exit MSR-store area
//! (KVM's `msr_autostore`) has the CPU store it at the exit, and the store
//! list takes that value, not one read after L0's exit handling
//! (`prepare_vmx_msr_autostore_list()`, `nested_vmx_get_vmexit_msr_value()`).

use crate::bindings;
use crate::entry::msr_list_max;
use crate::nested::msr_list::{self, Autostore};
use crate::nvcpu::Nv;
use crate::vmcs::layout::Vmcs12;

/// KVM's MSR_IA32_TSC.
pub(crate) const MSR_IA32_TSC: u32 = 0x10;

/// The entries in use of one of KVM's MSR load/store areas.
fn used(area: &bindings::vmx_msrs) -> usize {
    (area.nr as usize).min(area.val.len())
}

/// The slot of `msr` in one of KVM's MSR load/store areas
/// (`vmx_find_loadstore_msr_slot()`).
pub(crate) fn find_slot(area: &bindings::vmx_msrs, msr: u32) -> Option<usize> {
    area.val
        .get(..used(area))?
        .iter()
        .position(|e| e.index == msr)
}

/// The slot of `msr` in vmcs02's MSR-store area.
fn slot(nv: &mut Nv, msr: u32) -> Option<usize> {
    find_slot(&nv.vmx().msr_autostore.guest, msr)
}

/// KVM's `prepare_vmx_msr_autostore_list(vcpu, MSR_IA32_TSC)`, before
/// vmcs02's MSR-store count is written.
pub(crate) fn prepare_tsc(nv: &mut Nv, v: &Vmcs12) {
    let max = msr_list_max(nv);
    let wanted = msr_list::store_list_has(
        nv,
        v.vm_exit_msr_store_addr,
        v.vm_exit_msr_store_count,
        max,
        MSR_IA32_TSC,
    );
    let found = slot(nv, MSR_IA32_TSC);
    let area = &mut nv.vmx().msr_autostore.guest;
    let nr = used(area);
    match msr_list::autostore_change(found, wanted, nr, area.val.len()) {
        Autostore::Keep => {}
        Autostore::Add => {
            if let Some(e) = area.val.get_mut(nr) {
                e.index = MSR_IA32_TSC;
                area.nr = (nr + 1) as u32;
            }
        }
        Autostore::Remove(n) => {
            let last = nr.saturating_sub(1);
            if let Some(moved) = area.val.get(last).copied() {
                if let Some(e) = area.val.get_mut(n) {
                    *e = moved;
                }
                area.nr = last as u32;
            }
        }
    }
}

/// The TSC value the CPU stored at the last exit from L2, as L1 reads it
/// (`kvm_read_l1_tsc()`), if vmcs02's MSR-store area has the TSC.
pub(crate) fn stored_tsc(nv: &mut Nv) -> Option<u64> {
    let n = slot(nv, MSR_IA32_TSC)?;
    let host_tsc = nv.vmx().msr_autostore.guest.val.get(n)?.value;
    // SAFETY: the vCPU is ours (Nv invariant); plain arithmetic on its TSC
    // offset and multiplier.
    Some(unsafe { bindings::kvm_read_l1_tsc(nv.raw(), host_tsc) })
}
