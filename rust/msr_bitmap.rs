// SPDX-License-Identifier: GPL-2.0

//! vmcs02's MSR bitmap, merged by the core (nested/msr_bitmap.rs) from
//! L1's bitmap and vmcs01's (KVM's `nested_vmx_prepare_msr_bitmap()`).

use crate::bindings;
use crate::nested::msr_bitmap::{self, ApicVirt, Bitmap, WORDS};
use crate::nvcpu::vf;
use crate::nvcpu::{Nv, PAGE_SHIFT};
use crate::vcpu::vmcs_config;
use crate::vmcs::controls::{CpuBased, Secondary, Vmcs12Controls};
use crate::vmcs::layout::Vmcs12;

/// A bitmap page read a word at a time, each once: L1's is L1 memory
/// other vCPUs may write, vmcs01's KVM's page of this vCPU.
///
/// # Invariants
///
/// `page` points to WORDS readable u64s for the object's lifetime.
struct Page(*const u64);

impl Bitmap for Page {
    fn word(&self, i: usize) -> u64 {
        if i >= WORDS {
            return !0;
        }
        // SAFETY: `i < WORDS` and the page holds WORDS words (invariant).
        unsafe { self.0.add(i).read_volatile() }
    }
}

/// Merges vmcs02's MSR bitmap for `v`; whether vmcs02 uses it. Without
/// bitmaps in vmcs12 (or an L1 bitmap KVM cannot map) every MSR access of
/// L2 exits.
pub(crate) fn prepare(nv: &mut Nv, v: &Vmcs12) -> bool {
    let c = Vmcs12Controls::of(v);
    if !CpuBased(vmcs_config().cpu_based_exec_ctrl).contains(CpuBased::USE_MSR_BITMAPS)
        || !c.cpu.contains(CpuBased::USE_MSR_BITMAPS)
    {
        return false;
    }
    // An eVMCS L1 may say its MSR bitmap did not change (enlightened MSR
    // bitmap): vmcs02's is then still right.
    if crate::evmcs_vcpu::msr_bitmap_unchanged(nv) {
        return true;
    }
    let apic = ApicVirt {
        x2apic_mode: c.sec.contains(Secondary::VIRTUALIZE_X2APIC_MODE),
        register_virt: c.sec.contains(Secondary::APIC_REGISTER_VIRT),
        vid: c.sec.contains(Secondary::VIRTUAL_INTR_DELIVERY),
    };
    let vcpu = nv.raw();
    let l01 = vf!(nv, vmcs01.msr_bitmap).cast::<u64>().cast_const();
    let l02 = vf!(nv, nested.vmcs02.msr_bitmap).cast::<[u64; WORDS]>();
    let map = core::ptr::addr_of_mut!(vf!(nv, nested.msr_bitmap_map));
    // SAFETY: the vCPU is ours; `map` is its msr_bitmap_map, unmapped
    // (unmapped below after each use), which kvm_vcpu_map() fills in; no
    // reference to the vCPU is alive across the call.
    if unsafe { bindings::kvm_vcpu_map(vcpu, v.msr_bitmap >> PAGE_SHIFT, map) } != 0 {
        return false;
    }
    // SAFETY: `map` was just filled in by KVM; read once.
    let hva = unsafe { (*map).hva };
    // INVARIANT: the mapped page is 4 KiB (WORDS u64s), page aligned.
    let l1 = Page(hva.cast::<u64>().cast_const());
    // INVARIANT: vmcs01's bitmap is a page of kvm-intel's for this vCPU.
    let l01 = Page(l01);
    // SAFETY: vmcs02's bitmap is this vCPU's own page (alloc_loaded_vmcs),
    // which only this thread writes and the CPU reads while vmcs02 runs,
    // not now; the reference ends with `merge`.
    let out = unsafe { &mut *l02 };
    msr_bitmap::merge(&l1, &l01, apic, out);
    // SAFETY: mapped above; not written through, so not dirty.
    unsafe { bindings::kvm_vcpu_unmap(vcpu, map, false) };
    vf!(nv, nested.force_msr_bitmap_recalc) = false;
    true
}
