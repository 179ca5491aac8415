// SPDX-License-Identifier: GPL-2.0

//! The core's `PagesVcpu` on a vCPU of this backend: `kvm_vcpu_map()` of
//! the L1 pages vmcs02 points to, vmcs02's fields and controls
//! (`crate::nested::vmcs12_pages` decides).

use crate::bindings;
use crate::hw;
use crate::nested::entry_vcpu::Control;
use crate::nested::vmcs12_pages::{Page, PagesVcpu, PAGE_OFFSET_MASK};
use crate::nvcpu::vf;
use crate::nvcpu::Nv;
use crate::vmcs::encoding::Encoding;
use crate::vmcs::layout::Vmcs12;

impl PagesVcpu for Nv {
    fn pdptrs_from_userspace(&mut self) -> bool {
        vf!(self, vcpu.arch.pdptrs_from_userspace)
    }
    fn pae_paging(&mut self) -> bool {
        self.is_pae_paging()
    }
    fn load_pdptrs_from_cr3(&mut self) -> bool {
        let cr3 = vf!(self, vcpu.arch.cr3);
        let vcpu = self.raw();
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::load_pdptrs(vcpu, cr3) != 0 }
    }
    fn map_page(&mut self, page: Page, gpa: u64) -> Option<u64> {
        self.map_l1_page(gpa, page)
    }
    fn write_page_field(&mut self, field: Encoding, value: u64) {
        hw::write(field, value);
    }
    fn set_pi_desc(&mut self, offset: Option<u64>) {
        vf!(self, nested.pi_desc) = match offset {
            Some(offset) => {
                let offset = (offset & PAGE_OFFSET_MASK) as usize;
                // SAFETY: `hva` maps the 4-KiB page of the descriptor (the
                // core asks only after `map_page` of it succeeded), and an
                // offset below 4096 stays inside it.
                unsafe { vf!(self, nested.pi_desc_map.hva).cast::<u8>().add(offset) }.cast()
            }
            None => core::ptr::null_mut(),
        };
    }
    fn control02(&mut self, which: Control) -> u32 {
        let s = self.controls_shadow();
        match which {
            Control::Pin => s.pin,
            Control::Exec => s.exec,
            Control::Secondary => s.secondary_exec,
            Control::Entry => s.vm_entry,
            Control::Exit => s.vm_exit,
        }
    }
    fn set_control02(&mut self, which: Control, value: u32) {
        self.set_control(which, value);
    }
    fn prepare_msr_bitmap(&mut self, v: &Vmcs12) -> bool {
        crate::msr_bitmap::prepare(self, v)
    }
}
