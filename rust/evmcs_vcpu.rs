// SPDX-License-Identifier: GPL-2.0

//! Hyper-V's enlightened VMCS for a vCPU of this backend: the core's
//! `EvmcsVcpu` (crate::evmcs::vmptrld) on KVM's vCPU, the mapped eVMCS
//! page, and the eVMCS steps of the nested transitions (copies, the
//! enlightened MSR bitmap, L2's direct TLB flush). The decisions are the
//! core's (`crate::evmcs`); each function here applies one of them.

use crate::bindings;
use crate::evmcs::copy::HvNested;
use crate::evmcs::fields::{EvmcsAt, EvmcsFields};
use crate::evmcs::hv::EvmcsControls;
use crate::evmcs::layout::HvEnlightenedVmcs;
use crate::evmcs::run::{self, EvmcsRunVcpu, HvFlushInputs, CLEAN_FIELD_ALL};
use crate::evmcs::vmptrld::{self, evmptr_is_valid, EvmcsVcpu, EVMPTR_INVALID};
use crate::nvcpu::vf;
use crate::nvcpu::{Nv, INVALID_GPA, PAGE_SHIFT};
use crate::stats;
use crate::vmcs::layout::{Vmcs12, VmcsHdr, VMCS12_REVISION};

impl Nv {
    /// `to_hv_vcpu()`: the vCPU's Hyper-V state, null until userspace or
    /// the guest enabled Hyper-V for it.
    fn hv_vcpu(&mut self) -> *mut bindings::kvm_vcpu_hv {
        vf!(self, vcpu.arch.hyperv)
    }

    /// The mapped eVMCS (`nested_vmx_evmcs()`), if one is.
    fn evmcs_ptr(&mut self) -> Option<*mut HvEnlightenedVmcs> {
        (evmptr_is_valid(vf!(self, nested.hv_evmcs_vmptr)) && !vf!(self, nested.hv_evmcs).is_null())
            .then(|| vf!(self, nested.hv_evmcs).cast::<HvEnlightenedVmcs>())
    }

    /// A copy of the mapped eVMCS.
    pub(crate) fn read_evmcs(&mut self) -> Option<HvEnlightenedVmcs> {
        let p = self.evmcs_ptr()?;
        // SAFETY: `hv_evmcs` is the address kvm_vcpu_map() gave for the
        // eVMCS page (map_evmcs below), mapped until unmap_evmcs, which
        // also clears it; the page is 4 KiB, the eVMCS 1 KiB (size asserted
        // in bindings.rs), packed (alignment 1, so any address is aligned
        // for it). L1's other vCPUs may write the page at any time, so it
        // is read as one volatile copy (for an eVMCS L1's VMREAD, which
        // the TLFS forbids: not a path to make fast).
        Some(unsafe { p.read_volatile() })
    }

    /// The eVMCS's enlightenments and clean fields, if one is mapped.
    fn evmcs_controls(&mut self) -> Option<EvmcsControls> {
        let p = self.evmcs_ptr()?;
        // SAFETY: `p` is the mapped eVMCS (`evmcs_ptr`: valid until
        // unmap_evmcs clears it); two u32 fields read unaligned (packed).
        let (enlightenments, clean_fields) = unsafe {
            (
                core::ptr::addr_of!((*p).hv_enlightenments_control).read_unaligned(),
                core::ptr::addr_of!((*p).hv_clean_fields).read_unaligned(),
            )
        };
        Some(EvmcsControls {
            enlightenments,
            clean_fields,
        })
    }

    /// Sets the mapped eVMCS's `hv_clean_fields` to `f(hv_clean_fields)`.
    fn update_clean_fields(&mut self, f: impl FnOnce(u32) -> u32) {
        if let Some(p) = self.evmcs_ptr() {
            // SAFETY: `p` is the mapped eVMCS (`evmcs_ptr`: mapped
            // writable, valid until unmap_evmcs clears it); one u32 field,
            // read and written unaligned (packed).
            unsafe {
                let c = core::ptr::addr_of_mut!((*p).hv_clean_fields);
                c.write_unaligned(f(c.read_unaligned()));
            }
        }
    }
}

/// The mapped eVMCS page, reached field by field with volatile accesses.
///
/// Invariant: the pointer is the address kvm_vcpu_map() gave for the eVMCS
/// page (`Nv::map_evmcs`), mapped writable, 4 KiB and page-aligned, and it
/// stays mapped for as long as the value exists (`with_evmcs_vmcs12` holds
/// the vCPU meanwhile). The page is L1 memory that L1's other vCPUs may
/// write at any time: no Rust reference is ever made to it.
pub(crate) struct MappedEvmcs(*mut u8);

impl MappedEvmcs {
    /// The field at `at` as a pointer, if `at` is a field of the 1 KiB
    /// eVMCS of a width this accesses (2, 4, 8) aligned for it (every
    /// field is: `evmcs::fields` tests it; the offsets and widths are
    /// constants, so this folds away).
    #[inline(always)]
    fn field(&self, at: EvmcsAt) -> Option<*mut u8> {
        let fits = at
            .offset
            .checked_add(at.width)
            .is_some_and(|end| end <= EVMCS_SIZE);
        (fits && matches!(at.width, 2 | 4 | 8) && at.offset % at.width == 0)
            .then(|| self.0.wrapping_add(at.offset))
    }
}

/// `sizeof(struct hv_enlightened_vmcs)`.
const EVMCS_SIZE: usize = core::mem::size_of::<HvEnlightenedVmcs>();

impl EvmcsFields for MappedEvmcs {
    #[inline(always)]
    fn load(&self, at: EvmcsAt) -> u64 {
        let Some(p) = self.field(at) else {
            return 0;
        };
        // SAFETY: `p` is within the mapped eVMCS page (the type's
        // invariant, `field`'s bounds check) and aligned for the access
        // of `at.width` bytes (`field`); one volatile load, as L1's other
        // vCPUs may write the page.
        unsafe {
            match at.width {
                2 => u64::from(p.cast::<u16>().read_volatile()),
                4 => u64::from(p.cast::<u32>().read_volatile()),
                _ => p.cast::<u64>().read_volatile(),
            }
        }
    }
    #[inline(always)]
    #[allow(clippy::cast_possible_truncation)]
    fn store(&mut self, at: EvmcsAt, value: u64) {
        let Some(p) = self.field(at) else {
            return;
        };
        // SAFETY: as in `load`; the page is mapped writable; one volatile
        // store of the field's width (the low bits of `value`).
        unsafe {
            match at.width {
                2 => p.cast::<u16>().write_volatile(value as u16),
                4 => p.cast::<u32>().write_volatile(value as u32),
                _ => p.cast::<u64>().write_volatile(value),
            }
        }
    }
}

impl EvmcsVcpu for Nv {
    fn evmcs_exposed(&mut self) -> bool {
        // guest_cpuid_has_evmcs().
        vf!(self, vcpu.arch.hyperv_enabled) && vf!(self, nested.enlightened_vmcs_enabled)
    }
    fn assist_evmptr(&mut self) -> u64 {
        let vcpu = self.raw();
        // SAFETY: the vCPU is ours (Nv invariant), no reference into it is
        // alive; KVM reads the VP assist page into `hv_vcpu->vp_assist_page`
        // (-EFAULT without Hyper-V state or an enabled page).
        if unsafe { bindings::kvm_hv_get_assist_page(vcpu) } != 0 {
            return EVMPTR_INVALID;
        }
        let hv = self.hv_vcpu();
        if hv.is_null() {
            return EVMPTR_INVALID;
        }
        // SAFETY: a non-null `arch.hyperv` is the vCPU's Hyper-V state,
        // freed only with the vCPU; only this thread writes it now.
        let ap = unsafe { &(*hv).vp_assist_page };
        if ap.enlighten_vmentry == 0 {
            EVMPTR_INVALID
        } else {
            ap.current_nested_vmcs
        }
    }
    fn evmcs_vmptr(&mut self) -> u64 {
        vf!(self, nested.hv_evmcs_vmptr)
    }
    fn set_evmcs_vmptr(&mut self, p: u64) {
        vf!(self, nested.hv_evmcs_vmptr) = p;
    }
    fn map_evmcs(&mut self, gpa: u64) -> bool {
        let vcpu = self.raw();
        let map = core::ptr::addr_of_mut!(vf!(self, nested.hv_evmcs_map));
        // SAFETY: the vCPU is ours; `map` is its eVMCS map, unmapped (the
        // core releases the eVMCS before it maps another), which KVM fills
        // in; no reference into the vCPU lives across the call.
        if unsafe { bindings::kvm_vcpu_map(vcpu, gpa >> PAGE_SHIFT, map) } != 0 {
            return false;
        }
        // SAFETY: filled in by KVM just above.
        let hva = unsafe { (*map).hva };
        vf!(self, nested.hv_evmcs) = hva.cast();
        stats::EVMCS_VMPTRLDS.inc();
        true
    }
    fn unmap_evmcs(&mut self) {
        let vcpu = self.raw();
        let map = core::ptr::addr_of_mut!(vf!(self, nested.hv_evmcs_map));
        // SAFETY: the eVMCS map, mapped by `map_evmcs` (the core unmaps
        // only a valid eVMCS pointer); KVM wrote it, so it is dirty.
        unsafe { bindings::kvm_vcpu_unmap(vcpu, map, true) };
        vf!(self, nested.hv_evmcs) = core::ptr::null_mut();
    }
    fn evmcs_revision(&mut self) -> u32 {
        let Some(p) = self.evmcs_ptr() else {
            return 0;
        };
        // SAFETY: `p` is the mapped eVMCS (`evmcs_ptr`: valid until
        // unmap_evmcs clears it); one u32 field, read unaligned (packed).
        unsafe { core::ptr::addr_of!((*p).revision_id).read_unaligned() }
    }
    fn reset_hv_nested(&mut self) {
        let hv = self.hv_vcpu();
        if !hv.is_null() {
            // SAFETY: a non-null `arch.hyperv` is the vCPU's Hyper-V state,
            // freed only with the vCPU; its `nested` part is written only by
            // this vCPU's thread, which holds the vCPU.
            let n = unsafe { &mut (*hv).nested };
            n.pa_page_gpa = INVALID_GPA;
            n.vm_id = 0;
            n.vp_id = 0;
        }
    }
    fn invalidate_current_vmptr(&mut self) {
        vf!(self, nested.current_vmptr) = INVALID_GPA;
    }
    fn reset_vmcs12(&mut self) {
        if let Some(v) = self.vmcs12() {
            *v = Vmcs12::default();
            v.hdr = VmcsHdr(VMCS12_REVISION);
        }
    }
    fn dirty_all_clean_fields(&mut self) {
        self.update_clean_fields(|c| c & !CLEAN_FIELD_ALL);
    }
    fn force_msr_bitmap_recalc(&mut self) {
        vf!(self, nested.force_msr_bitmap_recalc) = true;
    }
}

impl EvmcsRunVcpu for Nv {
    type Evmcs = MappedEvmcs;
    #[inline]
    fn with_evmcs_vmcs12<R>(
        &mut self,
        f: impl FnOnce(&mut MappedEvmcs, &mut Vmcs12) -> R,
    ) -> Option<R> {
        let mut ev = MappedEvmcs(self.evmcs_ptr()?.cast());
        let v = Nv::vmcs12(self)?;
        // `ev` is the mapped eVMCS, which stays mapped while `f` runs: only
        // unmap_evmcs unmaps it, which needs this vCPU, borrowed through
        // `v` meanwhile (MappedEvmcs's invariant).
        Some(f(&mut ev, v))
    }
    fn vmcs12(&mut self) -> Option<&mut Vmcs12> {
        Nv::vmcs12(self)
    }
    fn set_hv_nested(&mut self, h: HvNested) {
        let hv = self.hv_vcpu();
        if !hv.is_null() {
            // SAFETY: a non-null `arch.hyperv` is the vCPU's Hyper-V state,
            // freed only with the vCPU; its `nested` part is written only by
            // this vCPU's thread, which holds the vCPU.
            let n = unsafe { &mut (*hv).nested };
            n.pa_page_gpa = h.pa_page_gpa;
            n.vm_id = h.vm_id;
            n.vp_id = h.vp_id;
        }
    }
    fn set_need_vmcs12_to_shadow_sync(&mut self, need: bool) {
        vf!(self, nested.need_vmcs12_to_shadow_sync) = need;
    }
    fn or_clean_fields(&mut self, bits: u32) {
        self.update_clean_fields(|c| c | bits);
    }
    fn request_nested_state_pages(&mut self) {
        self.make_request(bindings::rnvmx_request_RNVMX_REQ_GET_NESTED_STATE_PAGES);
    }
    fn evmcs_controls(&mut self) -> Option<EvmcsControls> {
        Nv::evmcs_controls(self)
    }
    fn msr_bitmap_recalc_forced(&mut self) -> bool {
        vf!(self, nested.force_msr_bitmap_recalc)
    }
    fn hv_flush_inputs(&mut self) -> Option<HvFlushInputs> {
        let hv = self.hv_vcpu();
        if hv.is_null() {
            return None;
        }
        // SAFETY: a non-null `arch.hyperv` is the vCPU's Hyper-V state, freed
        // only with the vCPU and written by its own thread, which holds it;
        // plain reads of the cached CPUID and of the VP assist page copy's
        // nested controls (a packed struct, read by value).
        let (cpuid_nested_eax, nested_control) = unsafe {
            (
                (*hv).cpuid_cache.nested_eax,
                core::ptr::addr_of!((*hv).vp_assist_page.nested_control).read_unaligned(),
            )
        };
        Some(HvFlushInputs {
            cpuid_nested_eax,
            assist_features: { nested_control.features }.directhypercall(),
        })
    }
    fn is_tlb_flush_hcall(&mut self) -> bool {
        // SAFETY: the vCPU is ours (Nv invariant); this reads its registers
        // (RCX or RAX).
        unsafe { bindings::rnvmx_hv_is_tlb_flush_hcall(self.raw()) }
    }
}

/// `nested_enable_evmcs()`: KVM_ENABLE_CAP(KVM_CAP_HYPERV_ENLIGHTENED_VMCS);
/// the supported version range.
pub(crate) fn enable(nv: &mut Nv) -> u16 {
    vf!(nv, nested.enlightened_vmcs_enabled) = true;
    stats::EVMCS_ENABLES.inc();
    version(Some(nv))
}

/// `nested_get_evmcs_version()`.
pub(crate) fn version(nv: Option<&mut Nv>) -> u16 {
    // SAFETY: reads KVM's CPU capabilities, fixed once kvm-intel loaded.
    let has_vmx = unsafe { bindings::rnvmx_kvm_cap_has_vmx() };
    vmptrld::evmcs_version(
        has_vmx,
        nv.map(|nv| vf!(nv, nested.enlightened_vmcs_enabled)),
    )
}

/// VMLAUNCH/VMRESUME of an eVMCS L1: vmcs12 from the eVMCS.
pub(crate) fn run_to_vmcs12(nv: &mut Nv, launch: bool) {
    stats::EVMCS_RUNS.inc();
    run::run_to_vmcs12(nv, launch)
}

/// `nested_vmx_prepare_msr_bitmap()`'s shortcut, counted when taken.
pub(crate) fn msr_bitmap_unchanged(nv: &mut Nv) -> bool {
    let kept = run::msr_bitmap_unchanged(nv);
    if kept {
        stats::EVMCS_MSR_BITMAP_KEPT.inc();
    }
    kept
}

/// L2's VMCALL is a Hyper-V TLB flush L0 handles itself, counted.
#[inline]
pub(crate) fn l0_handles_vmcall(nv: &mut Nv) -> bool {
    let l0 = run::l0_handles_vmcall(nv);
    if l0 {
        stats::HV_L2_TLB_FLUSHES.inc();
    }
    l0
}

/// The mapped eVMCS's `hv_clean_fields`, 0 without one.
pub(crate) fn clean_fields(nv: &mut Nv) -> u32 {
    nv.evmcs_controls().map_or(0, |c| c.clean_fields)
}
