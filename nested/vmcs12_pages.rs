// SPDX-License-Identifier: GPL-2.0

//! The L1 pages vmcs02 points to (KVM's `nested_get_vmcs12_pages()`): the
//! APIC-access page, the virtual-APIC page and the posted-interrupt
//! descriptor, mapped at each entry, and what KVM does when one is not in
//! L1 memory; the PDPTEs of a PAE L2 without EPT; the MSR-bitmap control.
//! Also which of them the CPU writes behind dirty logging's back
//! (`nested_mark_vmcs12_pages_dirty()`). The glue implements `PagesVcpu`
//! with `kvm_vcpu_map()` and the hardware VMCS.

use crate::nested::entry_vcpu::Control;
use crate::vmcs::controls::{CpuBased, PinBased, Secondary, Vmcs12Controls};
use crate::vmcs::encoding::Encoding;
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::table::encodings as e;

/// KVM's INVALID_GPA: a virtual-APIC address VM entry refuses.
pub const INVALID_GPA: u64 = !0;
/// Bits of an address within its 4-KiB page (`offset_in_page()`).
pub const PAGE_OFFSET_MASK: u64 = 0xfff;
/// log2 of the page size (`gpa_to_gfn()`).
pub const PAGE_SHIFT: u32 = 12;

/// An L1 page vmcs02 points to (KVM's `nested.*_map`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// `apic_access_page_map`.
    ApicAccess,
    /// `virtual_apic_map`.
    VirtualApic,
    /// `pi_desc_map`.
    PostedIntrDesc,
}

impl Page {
    /// The vmcs02 field that takes the page's host-physical address.
    pub const fn field(self) -> Encoding {
        match self {
            Page::ApicAccess => e::APIC_ACCESS_ADDR,
            Page::VirtualApic => e::VIRTUAL_APIC_PAGE_ADDR,
            Page::PostedIntrDesc => e::POSTED_INTR_DESC_ADDR,
        }
    }
}

/// The vCPU of a nested entry mapping vmcs12's pages. Every method applies
/// or reports one thing.
pub trait PagesVcpu {
    /// `vcpu->arch.pdptrs_from_userspace`.
    fn pdptrs_from_userspace(&mut self) -> bool;
    /// `is_pae_paging()`.
    fn pae_paging(&mut self) -> bool;
    /// `load_pdptrs()` from `vcpu->arch.cr3`; false: not in L1 memory.
    fn load_pdptrs_from_cr3(&mut self) -> bool;
    /// `kvm_vcpu_map()` of the page holding `gpa` into `page`'s map: the
    /// page's host-physical address, `None` when L1 memory is missing.
    fn map_page(&mut self, page: Page, gpa: u64) -> Option<u64>;
    /// VMWRITE of an address field of vmcs02.
    fn write_page_field(&mut self, field: Encoding, value: u64);
    /// `nested.pi_desc`: the mapped descriptor at `offset` in its page,
    /// or `None` (NULL).
    fn set_pi_desc(&mut self, offset: Option<u64>);
    /// A control of vmcs02 as last written (KVM's shadow of it).
    fn control02(&mut self, which: Control) -> u32;
    /// Writes a control of vmcs02 (through KVM's shadow).
    fn set_control02(&mut self, which: Control, value: u32);
    /// `nested_vmx_prepare_msr_bitmap()`: vmcs02's MSR bitmap merged from
    /// vmcs01's and vmcs12's; false when vmcs02 then uses none.
    fn prepare_msr_bitmap(&mut self, v: &Vmcs12) -> bool;
}

/// What KVM does without the virtual-APIC page (TPR shadow in vmcs12, its
/// page not in L1 memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoVirtualApic {
    /// CR8 loads and stores exit and no APIC accesses are virtualized:
    /// the CPU would never use the TPR shadow, so it is dropped from
    /// vmcs02 (a useless setup tests make).
    DropTprShadow,
    /// Any other setup: an illegal address makes the VM entry fail, the
    /// closest KVM can come to what a CPU does.
    InvalidAddress,
}

/// KVM's choice without the virtual-APIC page, for vmcs12's controls.
pub fn no_virtual_apic(c: &Vmcs12Controls) -> NoVirtualApic {
    if c.cpu
        .contains(CpuBased::CR8_LOAD_EXITING.union(CpuBased::CR8_STORE_EXITING))
        && !c.sec.contains(Secondary::VIRTUALIZE_APIC_ACCESSES)
    {
        NoVirtualApic::DropTprShadow
    } else {
        NoVirtualApic::InvalidAddress
    }
}

/// Whether the entry reloads L2's PDPTEs from guest memory first: a PAE
/// L2 without EPT whose PDPTEs userspace did not set (after a migration,
/// CR3 may be restored before the nested state).
pub fn reload_pdptrs(from_userspace: bool, ept: bool, pae_paging: bool) -> bool {
    !from_userspace && !ept && pae_paging
}

/// KVM's `nested_get_vmcs12_pages()`: maps the L1 pages vmcs02 points to
/// and merges the MSR bitmap. False: L1 memory is missing for the PDPTEs
/// or the APIC-access page, and the entry fails.
pub fn get_vmcs12_pages<V: PagesVcpu>(k: &mut V, v: &Vmcs12) -> bool {
    let c = Vmcs12Controls::of(v);
    if reload_pdptrs(k.pdptrs_from_userspace(), c.has_ept(), k.pae_paging())
        && !k.load_pdptrs_from_cr3()
    {
        return false;
    }
    if c.sec.contains(Secondary::VIRTUALIZE_APIC_ACCESSES) {
        match k.map_page(Page::ApicAccess, v.apic_access_addr) {
            Some(hpa) => k.write_page_field(Page::ApicAccess.field(), hpa),
            None => return false,
        }
    }
    if c.cpu.contains(CpuBased::TPR_SHADOW) {
        match k.map_page(Page::VirtualApic, v.virtual_apic_page_addr) {
            Some(hpa) => k.write_page_field(Page::VirtualApic.field(), hpa),
            None => match no_virtual_apic(&c) {
                NoVirtualApic::DropTprShadow => {
                    let exec = k.control02(Control::Exec) & !CpuBased::TPR_SHADOW.bits();
                    k.set_control02(Control::Exec, exec);
                }
                NoVirtualApic::InvalidAddress => {
                    k.write_page_field(Page::VirtualApic.field(), INVALID_GPA)
                }
            },
        }
    }
    if c.pin.contains(PinBased::POSTED_INTR) {
        map_pi_desc(k, v.posted_intr_desc_addr);
    }
    let exec = k.control02(Control::Exec);
    let exec = if k.prepare_msr_bitmap(v) {
        exec | CpuBased::USE_MSR_BITMAPS.bits()
    } else {
        exec & !CpuBased::USE_MSR_BITMAPS.bits()
    };
    k.set_control02(Control::Exec, exec);
    true
}

/// Maps L1's posted-interrupt descriptor at `gpa` for vmcs02. Without it,
/// vmcs02 does not process posted interrupts, and KVM's later access to
/// the descriptor reports the failure (KVM_EXIT_INTERNAL_ERROR then).
pub fn map_pi_desc<V: PagesVcpu>(k: &mut V, gpa: u64) {
    match k.map_page(Page::PostedIntrDesc, gpa) {
        Some(hpa) => {
            let offset = gpa & PAGE_OFFSET_MASK;
            k.set_pi_desc(Some(offset));
            k.write_page_field(Page::PostedIntrDesc.field(), hpa.wrapping_add(offset));
        }
        None => {
            k.set_pi_desc(None);
            let pin = k.control02(Control::Pin) & !PinBased::POSTED_INTR.bits();
            k.set_control02(Control::Pin, pin);
        }
    }
}

/// KVM's `nested_mark_vmcs12_pages_dirty()`: the frames (GFNs) of the
/// pages the CPU writes during APIC virtualization, the virtual-APIC page
/// and the posted-interrupt descriptor (the APIC-access page is never
/// written).
pub fn dirty_gfns(v: &Vmcs12) -> [Option<u64>; 2] {
    let c = Vmcs12Controls::of(v);
    [
        c.cpu
            .contains(CpuBased::TPR_SHADOW)
            .then_some(v.virtual_apic_page_addr >> PAGE_SHIFT),
        c.pin
            .contains(PinBased::POSTED_INTR)
            .then_some(v.posted_intr_desc_addr >> PAGE_SHIFT),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nested::model_pages::{PagesCall as C, PagesModel};

    fn vmcs12(cpu: CpuBased, sec: Secondary, pin: PinBased) -> Vmcs12 {
        Vmcs12 {
            cpu_based_vm_exec_control: cpu.union(CpuBased::ACTIVATE_SECONDARY_CONTROLS).bits(),
            secondary_vm_exec_control: sec.bits(),
            pin_based_vm_exec_control: pin.bits(),
            apic_access_addr: 0xa000,
            virtual_apic_page_addr: 0xb000,
            posted_intr_desc_addr: 0xc040,
            ..Vmcs12::default()
        }
    }

    fn all_pages() -> Vmcs12 {
        vmcs12(
            CpuBased::TPR_SHADOW,
            Secondary::VIRTUALIZE_APIC_ACCESSES,
            PinBased::POSTED_INTR,
        )
    }

    const EXEC: u32 = CpuBased::TPR_SHADOW.bits() | CpuBased::HLT_EXITING.bits();

    fn model() -> PagesModel {
        PagesModel {
            exec: EXEC,
            pin: PinBased::POSTED_INTR.bits(),
            msr_bitmap: true,
            ..PagesModel::default()
        }
    }

    #[test]
    fn maps_every_page_in_order() {
        let mut m = model();
        assert!(get_vmcs12_pages(&mut m, &all_pages()));
        assert_eq!(
            m.log,
            [
                C::Map(Page::ApicAccess, 0xa000),
                C::Write(e::APIC_ACCESS_ADDR, 0x10_a000),
                C::Map(Page::VirtualApic, 0xb000),
                C::Write(e::VIRTUAL_APIC_PAGE_ADDR, 0x10_b000),
                C::Map(Page::PostedIntrDesc, 0xc040),
                C::PiDesc(Some(0x40)),
                C::Write(e::POSTED_INTR_DESC_ADDR, 0x10_c040),
                C::MsrBitmap,
                C::Control(Control::Exec, EXEC | CpuBased::USE_MSR_BITMAPS.bits()),
            ]
        );
    }

    #[test]
    fn no_apic_access_page_fails_the_entry() {
        let mut m = model();
        m.missing = std::vec![Page::ApicAccess];
        assert!(!get_vmcs12_pages(&mut m, &all_pages()));
        assert_eq!(m.log, [C::Map(Page::ApicAccess, 0xa000)]);
    }

    #[test]
    fn no_virtual_apic_page_drops_the_tpr_shadow_or_poisons_the_address() {
        let cr8 = CpuBased::TPR_SHADOW
            .union(CpuBased::CR8_LOAD_EXITING)
            .union(CpuBased::CR8_STORE_EXITING);
        let mut m = model();
        m.missing = std::vec![Page::VirtualApic];
        m.msr_bitmap = false;
        assert!(get_vmcs12_pages(
            &mut m,
            &vmcs12(cr8, Secondary(0), PinBased(0))
        ));
        assert_eq!(
            m.log,
            [
                C::Map(Page::VirtualApic, 0xb000),
                C::Control(Control::Exec, CpuBased::HLT_EXITING.bits()),
                C::MsrBitmap,
                C::Control(Control::Exec, CpuBased::HLT_EXITING.bits()),
            ]
        );
        // Only one of the CR8 exits, or APIC accesses virtualized: VM
        // entry is to fail on the address.
        for (cpu, sec) in [
            (
                CpuBased::TPR_SHADOW.union(CpuBased::CR8_LOAD_EXITING),
                Secondary(0),
            ),
            (cr8, Secondary::VIRTUALIZE_APIC_ACCESSES),
        ] {
            let mut m = model();
            m.missing = std::vec![Page::VirtualApic];
            assert!(get_vmcs12_pages(&mut m, &vmcs12(cpu, sec, PinBased(0))));
            assert!(m
                .log
                .contains(&C::Write(e::VIRTUAL_APIC_PAGE_ADDR, INVALID_GPA)));
            assert!(!m
                .log
                .iter()
                .any(|c| matches!(c, C::Control(_, x) if x & CpuBased::TPR_SHADOW.bits() == 0)));
        }
    }

    #[test]
    fn no_descriptor_drops_posted_interrupts() {
        let mut m = model();
        m.missing = std::vec![Page::PostedIntrDesc];
        let v = vmcs12(CpuBased(0), Secondary(0), PinBased::POSTED_INTR);
        assert!(get_vmcs12_pages(&mut m, &v));
        assert_eq!(
            &m.log[..3],
            [
                C::Map(Page::PostedIntrDesc, 0xc040),
                C::PiDesc(None),
                C::Control(Control::Pin, 0),
            ]
        );
    }

    #[test]
    fn pdptrs_reloaded_for_pae_without_ept() {
        let v = vmcs12(CpuBased(0), Secondary(0), PinBased(0));
        let mut m = model();
        m.pae = true;
        m.pdptrs_ok = false;
        assert!(!get_vmcs12_pages(&mut m, &v), "missing PDPTEs fail");
        assert_eq!(m.log, [C::LoadPdptrs]);
        m.pdptrs_ok = true;
        m.log.clear();
        assert!(get_vmcs12_pages(&mut m, &v));
        assert_eq!(m.log.first(), Some(&C::LoadPdptrs));
        // Userspace's PDPTEs, or EPT: not reloaded.
        m.from_userspace = true;
        m.pdptrs_ok = false;
        assert!(get_vmcs12_pages(&mut m, &v));
        let ept = vmcs12(CpuBased(0), Secondary::ENABLE_EPT, PinBased(0));
        m.from_userspace = false;
        assert!(get_vmcs12_pages(&mut m, &ept));
        assert!(!reload_pdptrs(false, false, false));
        assert!(reload_pdptrs(false, false, true));
    }

    #[test]
    fn msr_bitmap_control_follows_the_merge() {
        let v = vmcs12(CpuBased(0), Secondary(0), PinBased(0));
        let mut m = model();
        m.exec |= CpuBased::USE_MSR_BITMAPS.bits();
        m.msr_bitmap = false;
        assert!(get_vmcs12_pages(&mut m, &v));
        assert_eq!(m.exec, EXEC);
        m.msr_bitmap = true;
        assert!(get_vmcs12_pages(&mut m, &v));
        assert_eq!(m.exec, EXEC | CpuBased::USE_MSR_BITMAPS.bits());
    }

    #[test]
    fn dirty_pages_are_the_written_ones() {
        assert_eq!(dirty_gfns(&all_pages()), [Some(0xb), Some(0xc)]);
        let v = vmcs12(
            CpuBased(0),
            Secondary::VIRTUALIZE_APIC_ACCESSES,
            PinBased(0),
        );
        assert_eq!(dirty_gfns(&v), [None, None]);
        let v = vmcs12(CpuBased::TPR_SHADOW, Secondary(0), PinBased(0));
        assert_eq!(dirty_gfns(&v), [Some(0xb), None]);
    }
}
