// SPDX-License-Identifier: GPL-2.0

//! The core's `EptVcpu` and `PmlVcpu` on a vCPU of this backend (see
//! ept.rs): KVM's MMU, the hardware VMCS and the nested VM exit.

use kernel::ffi;

use crate::bindings;
use crate::exit;
use crate::hw;
use crate::nested::ept::{CachedRoot, EptVcpu, ShadowEptMmu};
use crate::nested::pml::{PmlState, PmlVcpu};
use crate::nvcpu::vf;
use crate::nvcpu::Nv;
use crate::vmcs::controls::{Secondary, Vmcs12Controls};
use crate::vmcs::table::encodings as e;

/// KVM's INVALID_PAGE: a cached root slot without a root.
const INVALID_PAGE: u64 = !0;

impl PmlVcpu for Nv {
    fn pml_in_guest_mode(&mut self) -> bool {
        self.is_guest_mode()
    }
    fn pml_full(&mut self) -> bool {
        vf!(self, nested.pml_full)
    }
    fn set_pml_full(&mut self, full: bool) {
        vf!(self, nested.pml_full) = full;
    }
    fn pml_state(&mut self) -> Option<PmlState> {
        self.vmcs12_ref().map(|v| PmlState {
            enabled: Vmcs12Controls::of(v).sec.contains(Secondary::ENABLE_PML),
            index: v.guest_pml_index,
            address: v.pml_address,
        })
    }
    fn write_pml_entry(&mut self, dst: u64, entry: u64) -> bool {
        self.write_gpa(dst, &entry.to_le_bytes())
    }
    fn set_pml_index(&mut self, index: u16) {
        if let Some(v) = self.vmcs12() {
            v.guest_pml_index = index;
        }
    }
}

impl EptVcpu for Nv {
    fn hw_exit_qualification(&mut self) -> u64 {
        hw::read(e::EXIT_QUALIFICATION)
    }
    fn ept_pointer(&mut self) -> u64 {
        self.vmcs12_ept_pointer().unwrap_or(0)
    }
    fn prev_root(&mut self, i: usize) -> Option<CachedRoot> {
        let mmu = vf!(self, vcpu.arch.mmu);
        // SAFETY: `arch.mmu` points to one of the vCPU's own MMUs, which
        // only this thread changes; the array is copied out.
        let prev = unsafe { (*mmu).prev_roots };
        prev.get(i).map(|root| CachedRoot {
            valid: root.hpa != INVALID_PAGE,
            pgd: root.pgd,
        })
    }
    fn invalidate_roots(&mut self, addr: u64, roots: u64) {
        let mmu = vf!(self, vcpu.arch.mmu);
        let vcpu = self.raw();
        // SAFETY: the vCPU is ours (Nv invariant) and `mmu` its current MMU.
        unsafe { bindings::kvm_mmu_invalidate_addr(vcpu, mmu, addr, roots as ffi::c_ulong) };
    }
    fn ept_vmexit(&mut self, reason: u16, qualification: u64) {
        exit::nested_vmx_vmexit(self, Some(u32::from(reason)), 0, qualification);
    }
    fn set_guest_physical_address(&mut self, gpa: u64) {
        if let Some(v) = self.vmcs12() {
            v.guest_physical_address = gpa;
        }
    }
    fn ept_caps(&mut self) -> u32 {
        self.vmx_msrs().ept_caps
    }
    fn init_shadow_ept_mmu(&mut self, m: ShadowEptMmu) {
        let vcpu = self.raw();
        let level = ffi::c_int::from(m.huge_page_level);
        // SAFETY: the vCPU is ours (Nv invariant); its MMU is the guest MMU.
        unsafe {
            bindings::kvm_init_shadow_ept_mmu(vcpu, m.execonly, level, m.accessed_dirty, m.eptp)
        };
    }
}
