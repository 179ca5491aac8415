// SPDX-License-Identifier: GPL-2.0

//! KVM's `struct vmx_msrs` as the core's `MsrArea`, and the core's
//! `AutostoreVcpu` on a vCPU of this backend: nested/msr_autostore.rs
//! decides when vmcs02's VM-exit MSR-store area has IA32_TSC and what value
//! vmcs12's store list gets (KVM's `prepare_vmx_msr_autostore_list()`,
//! `nested_vmx_get_vmexit_msr_value()`).

use crate::bindings;
use crate::entry::msr_list_max;
use crate::nested::msr_autostore::{AutostoreVcpu, MsrArea};
use crate::nested::msr_list::MsrEntry;
use crate::nvcpu::vf;
use crate::nvcpu::Nv;

impl MsrArea for bindings::vmx_msrs {
    fn nr(&self) -> u32 {
        self.nr
    }
    fn set_nr(&mut self, nr: u32) {
        self.nr = nr;
    }
    fn capacity(&self) -> usize {
        self.val.len()
    }
    fn entry(&self, i: usize) -> Option<MsrEntry> {
        self.val.get(i).map(|e| MsrEntry {
            index: e.index,
            reserved: e.reserved,
            value: e.value,
        })
    }
    fn set_entry(&mut self, i: usize, e: MsrEntry) {
        if let Some(v) = self.val.get_mut(i) {
            v.index = e.index;
            v.reserved = e.reserved;
            v.value = e.value;
        }
    }
}

impl AutostoreVcpu for Nv {
    type Area = bindings::vmx_msrs;
    fn autostore(&mut self) -> &mut bindings::vmx_msrs {
        &mut vf!(self, msr_autostore.guest)
    }
    fn store_list_max(&mut self) -> u32 {
        msr_list_max(self)
    }
    fn read_l1_tsc(&mut self, host_tsc: u64) -> u64 {
        // SAFETY: kvm_read_l1_tsc() reads the vCPU's L1 TSC offset and
        // multiplier (`vcpu->arch.l1_tsc_*`) and computes; it needs a live
        // vCPU, which the Nv invariant gives, and no lock: the vCPU thread,
        // which runs this, is the one that writes them.
        unsafe { bindings::kvm_read_l1_tsc(self.raw(), host_tsc) }
    }
}
