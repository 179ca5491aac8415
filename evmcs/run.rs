// SPDX-License-Identifier: GPL-2.0

//! The eVMCS around nested transitions, as nested.c sequences them: vmcs12
//! from the eVMCS at VMLAUNCH/VMRESUME (`copy_enlightened_to_vmcs12()` with
//! the clean fields L1 declared) and for KVM_GET_NESTED_STATE (all of it),
//! vmcs12's exit state back to the eVMCS (`copy_vmcs12_to_enlightened()`,
//! from nested_sync_vmcs12_to_shadow()), the eVMCS marked clean once vmcs02
//! has it, and the map of an eVMCS that KVM_SET_NESTED_STATE restored
//! (`nested_get_evmcs_page()`). The glue implements [`EvmcsRunVcpu`].

use crate::evmcs::copy::{self, HvNested};
use crate::evmcs::fields::{evmcs_at, EvmcsFields};
use crate::evmcs::hv::{self, EvmcsControls};
use crate::evmcs::vmptrld::{
    enlightened_vmptrld, evmptr_is_set, evmptr_is_valid, EvmcsVcpu, Evmptrld, EVMPTR_MAP_PENDING,
};
use crate::vmcs::layout::Vmcs12;

/// `HV_VMX_ENLIGHTENED_CLEAN_FIELD_ALL`.
pub const CLEAN_FIELD_ALL: u32 = 0xffff;

/// What the transitions need of a vCPU beyond [`EvmcsVcpu`].
pub trait EvmcsRunVcpu: EvmcsVcpu {
    /// The mapped eVMCS as the copies see it: field by field
    /// ([`EvmcsFields`]), since L1's other vCPUs can write L1's page.
    type Evmcs: EvmcsFields;
    /// Runs `f` on the mapped eVMCS (`nested_vmx_evmcs()`) and on the
    /// cached vmcs12, as nested.c's copies use both. `None`, `f` not run,
    /// without either.
    fn with_evmcs_vmcs12<R>(
        &mut self,
        f: impl FnOnce(&mut Self::Evmcs, &mut Vmcs12) -> R,
    ) -> Option<R>;
    /// Sets `bits` in the mapped eVMCS's `hv_clean_fields`, if one is.
    fn or_clean_fields(&mut self, bits: u32);
    /// The cached vmcs12, allocated while in VMX operation.
    fn vmcs12(&mut self) -> Option<&mut Vmcs12>;
    /// The vCPU's Hyper-V nested state (`to_hv_vcpu(vcpu)->nested`), when
    /// Hyper-V is enabled for it.
    fn set_hv_nested(&mut self, h: HvNested);
    /// `nested.need_vmcs12_to_shadow_sync`.
    fn set_need_vmcs12_to_shadow_sync(&mut self, need: bool);
    /// Asks for KVM_REQ_GET_NESTED_STATE_PAGES.
    fn request_nested_state_pages(&mut self);
    /// The mapped eVMCS's enlightenments and clean fields, if one is.
    fn evmcs_controls(&mut self) -> Option<EvmcsControls>;
    /// `nested.force_msr_bitmap_recalc`.
    fn msr_bitmap_recalc_forced(&mut self) -> bool;
    /// What L1's Hyper-V state says of L2's TLB-flush hypercalls, if the
    /// vCPU has Hyper-V state (`to_hv_vcpu()`).
    fn hv_flush_inputs(&mut self) -> Option<HvFlushInputs>;
    /// `kvm_hv_is_tlb_flush_hcall()`: L2's hypercall (RCX or RAX) is one
    /// of the four TLB flushes.
    fn is_tlb_flush_hcall(&mut self) -> bool;
}

/// L1's Hyper-V state read for L2's direct TLB flush.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HvFlushInputs {
    /// `hv_vcpu->cpuid_cache.nested_eax`.
    pub cpuid_nested_eax: u32,
    /// The VP assist page's `nested_control.features` bits.
    pub assist_features: u32,
}

/// An eVMCS is mapped (`nested_vmx_is_evmptr12_valid()`).
pub fn mapped<V: EvmcsVcpu>(k: &mut V) -> bool {
    evmptr_is_valid(k.evmcs_vmptr())
}

/// An eVMCS is current, mapped or still to be mapped
/// (`nested_vmx_is_evmptr12_set()`).
pub fn is_set<V: EvmcsVcpu>(k: &mut V) -> bool {
    evmptr_is_set(k.evmcs_vmptr())
}

/// `nested_vmx_prepare_msr_bitmap()`'s shortcut: vmcs02's MSR bitmap is
/// still right (L1's enlightened MSR bitmap says so).
pub fn msr_bitmap_unchanged<V: EvmcsRunVcpu>(k: &mut V) -> bool {
    let force = k.msr_bitmap_recalc_forced();
    hv::msr_bitmap_unchanged(k.evmcs_controls(), force)
}

/// `nested_vmx_l0_wants_exit()` for a VMCALL of L2: a Hyper-V TLB flush L0
/// handles itself (`guest_hv_cpuid_has_l2_tlb_flush()`,
/// `nested_evmcs_l2_tlb_flush_enabled()`, `kvm_hv_is_tlb_flush_hcall()`,
/// the last asked only when the flush is enabled).
pub fn l0_handles_vmcall<V: EvmcsRunVcpu>(k: &mut V) -> bool {
    let Some(hv) = k.hv_flush_inputs() else {
        return false;
    };
    let enabled = hv::l2_tlb_flush_enabled(true, k.evmcs_controls(), hv.assist_features);
    let flush = enabled && k.is_tlb_flush_hcall();
    hv::l0_handles_vmcall(hv.cpuid_nested_eax, enabled, flush)
}

/// `copy_enlightened_to_vmcs12()`: with the clean fields the eVMCS has, or
/// (`clean` false, for KVM_GET_NESTED_STATE) all of it; false without a
/// mapped eVMCS or a vmcs12.
pub fn to_vmcs12<V: EvmcsRunVcpu>(k: &mut V, clean: bool) -> bool {
    let Some(r) = k.with_evmcs_vmcs12(|ev, v| {
        // A 32-bit field: `load` zero-extends it.
        #[allow(clippy::cast_possible_truncation)]
        let clean_fields = if clean {
            ev.load(evmcs_at!(hv_clean_fields)) as u32
        } else {
            0
        };
        copy::copy_in(ev, v, clean_fields)
    }) else {
        return false;
    };
    if r.force_msr_bitmap_recalc {
        k.force_msr_bitmap_recalc();
    }
    if let Some(h) = r.hv_nested {
        k.set_hv_nested(h);
    }
    true
}

/// VMLAUNCH/VMRESUME of an eVMCS L1: vmcs12 from the eVMCS, and its launch
/// state what the instruction expects (an eVMCS has none: nested.c checks
/// `vmcs12->launch_state` against the instruction only without eVMCS).
pub fn run_to_vmcs12<V: EvmcsRunVcpu>(k: &mut V, launch: bool) {
    if to_vmcs12(k, true) {
        if let Some(v) = k.vmcs12() {
            v.launch_state = u32::from(!launch);
        }
    }
}

/// `copy_vmcs12_to_enlightened()`: true if an eVMCS is mapped and now has
/// vmcs12's exit state (then no shadow VMCS needs it).
pub fn from_vmcs12<V: EvmcsRunVcpu>(k: &mut V) -> bool {
    if k.with_evmcs_vmcs12(|ev, v| copy::copy_out(v, ev)).is_none() {
        return false;
    }
    k.set_need_vmcs12_to_shadow_sync(false);
    true
}

/// After a successful entry: the mapped eVMCS all clean (nested.c's
/// `hv_clean_fields |= HV_VMX_ENLIGHTENED_CLEAN_FIELD_ALL`).
pub fn mark_clean<V: EvmcsRunVcpu>(k: &mut V) {
    k.or_clean_fields(CLEAN_FIELD_ALL);
}

/// KVM_SET_NESTED_STATE of an eVMCS L1: the eVMCS is mapped later, at
/// KVM_REQ_GET_NESTED_STATE_PAGES (the VP assist page may not be restored
/// yet).
pub fn set_map_pending<V: EvmcsRunVcpu>(k: &mut V) {
    k.set_evmcs_vmptr(EVMPTR_MAP_PENDING);
    k.request_nested_state_pages();
}

/// `nested_get_evmcs_page()`: maps an eVMCS restored by
/// KVM_SET_NESTED_STATE; false if it cannot be (KVM then exits to
/// userspace with an internal error).
pub fn get_page<V: EvmcsRunVcpu>(k: &mut V) -> bool {
    if !k.evmcs_exposed() || k.evmcs_vmptr() != EVMPTR_MAP_PENDING {
        return true;
    }
    match enlightened_vmptrld(k, false) {
        Evmptrld::VmFail | Evmptrld::Error => false,
        Evmptrld::Disabled | Evmptrld::Succeeded => {
            // The restored vmcs12 is the newest: to the eVMCS at entry.
            k.set_need_vmcs12_to_shadow_sync(true);
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evmcs::layout::HvEnlightenedVmcs;
    use crate::evmcs::vmptrld::{EVMPTR_INVALID, KVM_EVMCS_VERSION};

    /// A vCPU with an eVMCS that may be mapped, and what was done to it.
    #[derive(Default)]
    struct M {
        exposed: bool,
        assist: u64,
        vmptr: u64,
        evmcs: Option<HvEnlightenedVmcs>,
        memory: Option<HvEnlightenedVmcs>,
        vmcs12: Option<Vmcs12>,
        hv: Option<HvNested>,
        msr_recalc: bool,
        shadow_sync: Option<bool>,
        requests: u32,
        hv_inputs: Option<HvFlushInputs>,
        hcall_flush: bool,
        hcall_asked: u32,
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
        fn map_evmcs(&mut self, _gpa: u64) -> bool {
            self.evmcs = self.memory;
            self.evmcs.is_some()
        }
        fn unmap_evmcs(&mut self) {
            self.evmcs = None;
        }
        fn evmcs_revision(&mut self) -> u32 {
            self.evmcs.map_or(0, |e| e.revision_id)
        }
        fn reset_hv_nested(&mut self) {}
        fn invalidate_current_vmptr(&mut self) {}
        fn reset_vmcs12(&mut self) {}
        fn dirty_all_clean_fields(&mut self) {
            if let Some(e) = self.evmcs.as_mut() {
                e.hv_clean_fields = 0;
            }
        }
        fn force_msr_bitmap_recalc(&mut self) {
            self.msr_recalc = true;
        }
    }

    impl EvmcsRunVcpu for M {
        type Evmcs = HvEnlightenedVmcs;
        fn with_evmcs_vmcs12<R>(
            &mut self,
            f: impl FnOnce(&mut HvEnlightenedVmcs, &mut Vmcs12) -> R,
        ) -> Option<R> {
            Some(f(self.evmcs.as_mut()?, self.vmcs12.as_mut()?))
        }
        fn or_clean_fields(&mut self, bits: u32) {
            if let Some(e) = self.evmcs.as_mut() {
                e.hv_clean_fields |= bits;
            }
        }
        fn vmcs12(&mut self) -> Option<&mut Vmcs12> {
            self.vmcs12.as_mut()
        }
        fn set_hv_nested(&mut self, h: HvNested) {
            self.hv = Some(h);
        }
        fn set_need_vmcs12_to_shadow_sync(&mut self, need: bool) {
            self.shadow_sync = Some(need);
        }
        fn request_nested_state_pages(&mut self) {
            self.requests += 1;
        }
        fn evmcs_controls(&mut self) -> Option<EvmcsControls> {
            self.evmcs.map(|e| EvmcsControls {
                enlightenments: e.hv_enlightenments_control,
                clean_fields: e.hv_clean_fields,
            })
        }
        fn msr_bitmap_recalc_forced(&mut self) -> bool {
            self.msr_recalc
        }
        fn hv_flush_inputs(&mut self) -> Option<HvFlushInputs> {
            self.hv_inputs
        }
        fn is_tlb_flush_hcall(&mut self) -> bool {
            self.hcall_asked += 1;
            self.hcall_flush
        }
    }

    fn evmcs(clean: u32) -> HvEnlightenedVmcs {
        let mut e = HvEnlightenedVmcs {
            revision_id: KVM_EVMCS_VERSION,
            hv_clean_fields: clean,
            guest_rip: 0x1234,
            guest_rsp: 0x8000,
            hv_vm_id: 7,
            ..HvEnlightenedVmcs::default()
        };
        e.hv_vp_id = 3;
        e
    }

    fn mapped(clean: u32) -> M {
        M {
            exposed: true,
            evmcs: Some(evmcs(clean)),
            vmcs12: Some(Vmcs12::zeroed()),
            vmptr: 0x5000,
            ..M::default()
        }
    }

    #[test]
    fn entry_copies_what_is_not_clean_and_sets_the_launch_state() {
        let mut m = mapped(CLEAN_FIELD_ALL);
        run_to_vmcs12(&mut m, true);
        let v = m.vmcs12.unwrap_or_default();
        assert_eq!(
            { v.guest_rip },
            0x1234,
            "not covered by a group: always copied"
        );
        assert_eq!({ v.guest_rsp }, 0, "GUEST_BASIC clean: not copied");
        assert_eq!({ v.launch_state }, 0, "VMLAUNCH wants a clear VMCS");
        assert_eq!(m.hv, None, "enlightenments clean");

        let mut m = mapped(0);
        run_to_vmcs12(&mut m, false);
        let v = m.vmcs12.unwrap_or_default();
        assert_eq!({ v.guest_rsp }, 0x8000);
        assert_eq!({ v.launch_state }, 1, "VMRESUME wants a launched VMCS");
        assert_eq!(m.hv.map(|h| (h.vm_id, h.vp_id)), Some((7, 3)));
    }

    #[test]
    fn get_state_copies_everything() {
        let mut m = mapped(CLEAN_FIELD_ALL);
        assert!(to_vmcs12(&mut m, false));
        let rsp = { m.vmcs12.unwrap_or_default().guest_rsp };
        assert_eq!(rsp, 0x8000);
        let mut none = M::default();
        assert!(!to_vmcs12(&mut none, true), "no eVMCS mapped");
    }

    #[test]
    fn exit_copies_back_and_needs_no_shadow_sync() {
        let mut m = mapped(CLEAN_FIELD_ALL);
        if let Some(v) = m.vmcs12.as_mut() {
            v.guest_rip = 0x9999;
            v.vm_exit_reason = 18;
        }
        assert!(from_vmcs12(&mut m));
        let e = m.evmcs.unwrap_or_default();
        let (rip, reason) = ({ e.guest_rip }, { e.vm_exit_reason });
        assert_eq!((rip, reason), (0x9999, 18));
        assert_eq!(m.shadow_sync, Some(false));
        let mut none = M::default();
        assert!(!from_vmcs12(&mut none));
        assert_eq!(none.shadow_sync, None, "nothing copied, nothing cleared");
    }

    #[test]
    fn marked_clean_after_entry() {
        let mut m = mapped(0x11);
        mark_clean(&mut m);
        let clean = { m.evmcs.unwrap_or_default().hv_clean_fields };
        assert_eq!(clean, CLEAN_FIELD_ALL);
    }

    #[test]
    fn restored_evmcs_mapped_at_get_pages() {
        let mut m = M {
            exposed: true,
            vmptr: EVMPTR_INVALID,
            memory: Some(evmcs(0)),
            ..M::default()
        };
        set_map_pending(&mut m);
        assert_eq!((m.vmptr, m.requests), (EVMPTR_MAP_PENDING, 1));
        // The VP assist page names no eVMCS: nothing to map, no error.
        assert!(get_page(&mut m));
        // Not pending: nothing to do.
        let mut done = mapped(0);
        assert!(get_page(&mut done));
        assert_eq!(done.shadow_sync, None);
    }
    #[test]
    fn msr_bitmap_kept_only_for_a_mapped_clean_enlightened_bitmap() {
        let msr_clean = crate::evmcs::clean::CleanGroup::MSR_BITMAP.bit();
        let mut m = mapped(msr_clean);
        if let Some(e) = m.evmcs.as_mut() {
            e.hv_enlightenments_control = hv::ENLIGHTENMENT_MSR_BITMAP;
        }
        assert!(msr_bitmap_unchanged(&mut m));
        m.msr_recalc = true;
        assert!(!msr_bitmap_unchanged(&mut m), "a forced recalc wins");
        let mut none = M::default();
        assert!(!msr_bitmap_unchanged(&mut none), "no eVMCS mapped");
    }

    #[test]
    fn l0_flushes_for_l2_only_with_every_hyperv_switch_on() {
        let on = HvFlushInputs {
            cpuid_nested_eax: hv::CPUID_NESTED_DIRECT_FLUSH,
            assist_features: hv::FEATURE_DIRECT_HYPERCALL,
        };
        let mut m = mapped(0);
        if let Some(e) = m.evmcs.as_mut() {
            e.hv_enlightenments_control = hv::ENLIGHTENMENT_NESTED_FLUSH_HYPERCALL;
        }
        m.hv_inputs = Some(on);
        m.hcall_flush = true;
        assert!(l0_handles_vmcall(&mut m));
        m.hcall_flush = false;
        assert!(!l0_handles_vmcall(&mut m), "not a flush hypercall");
        m.hv_inputs = Some(HvFlushInputs {
            cpuid_nested_eax: 0,
            ..on
        });
        m.hcall_flush = true;
        assert!(!l0_handles_vmcall(&mut m), "CPUID offers no direct flush");
        // Direct hypercalls off in the VP assist page: the flush is not
        // enabled, and the hypercall is not even looked at.
        m.hv_inputs = Some(HvFlushInputs {
            assist_features: 0,
            ..on
        });
        let asked = m.hcall_asked;
        assert!(!l0_handles_vmcall(&mut m));
        assert_eq!(m.hcall_asked, asked);
        let mut no_hv = mapped(0);
        assert!(!l0_handles_vmcall(&mut no_hv), "no Hyper-V state");
    }

    #[test]
    fn mapped_and_set_follow_the_evmcs_pointer() {
        let mut m = mapped(0);
        assert!(super::mapped(&mut m) && is_set(&mut m));
        m.vmptr = EVMPTR_MAP_PENDING;
        assert!(!super::mapped(&mut m) && is_set(&mut m));
        m.vmptr = EVMPTR_INVALID;
        assert!(!super::mapped(&mut m) && !is_set(&mut m));
    }
}
