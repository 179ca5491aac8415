// SPDX-License-Identifier: GPL-2.0

//! VMX operation's lifecycle, as KVM runs it: what VMXON allocates and
//! resets (`enter_vmx_operation()`), what VMXOFF, vCPU teardown or a
//! forced exit frees and resets (`free_nested()`, `vmx_leave_nested()`),
//! and how the current VMCS goes back to L1 (`nested_release_vmcs12()`).
//! The order is the core's; the glue implements `LifecycleVcpu`:
//! allocation, freeing and KVM's fields.

/// KVM's INVALID_GPA.
pub const INVALID_GPA: u64 = !0;

/// What VMX operation owns, allocated by VMXON (all but the cached shadow
/// vmcs12) and freed on leaving it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// vmcs02 (`nested.vmcs02`, a loaded VMCS with its MSR bitmap).
    Vmcs02,
    /// The cached vmcs12 (`nested.cached_vmcs12`).
    CachedVmcs12,
    /// The cached shadow vmcs12 (`nested.cached_shadow_vmcs12`): allocated
    /// by the first VMLAUNCH/VMRESUME or restore into guest mode whose
    /// vmcs12 names a shadow VMCS (`alloc_shadow_vmcs12_cache()` of
    /// `EntryVcpu` and `StateVcpu`), not by VMXON as nested.c's
    /// enter_vmx_operation(). Only an L1 that gives its own L2 VMCS
    /// shadowing (an L2 that is itself a hypervisor) ever uses it: every
    /// other vCPU in VMX operation is 4 KiB smaller than on C.
    CachedShadowVmcs12,
    /// vmcs01's shadow VMCS, with VMCS shadowing.
    ShadowVmcs,
}

/// VMXON's allocation order; a failure frees what came before it, last
/// first. (`CachedShadowVmcs12` comes later, if at all.)
pub const ALLOC_ORDER: [Resource; 3] = [
    Resource::Vmcs02,
    Resource::CachedVmcs12,
    Resource::ShadowVmcs,
];

/// `free_nested()`'s order (`free()` ignores what is not allocated).
pub const FREE_ORDER: [Resource; 4] = [
    Resource::ShadowVmcs,
    Resource::CachedVmcs12,
    Resource::CachedShadowVmcs12,
    Resource::Vmcs02,
];

/// A field of KVM's `nested_vmx` set to a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reset {
    /// `vmxon`.
    Vmxon(bool),
    /// `smm.vmxon`.
    SmmVmxon(bool),
    /// `vmxon_ptr`.
    VmxonPtr(u64),
    /// `current_vmptr`.
    CurrentVmptr(u64),
    /// `vpid02` (0: none).
    Vpid02(u16),
    /// `last_vpid`.
    LastVpid(u16),
    /// `vmcs02_initialized`.
    Vmcs02Initialized(bool),
    /// `shadow_vmcs12_cache.gpa`: the cache of the shadow vmcs12 L1 names.
    ShadowVmcs12CacheGpa(u64),
    /// `need_sync_vmcs02_to_vmcs12_rare`.
    NeedRareSync(bool),
    /// `posted_intr_nv` (u16::MAX: none; other vCPUs read it).
    PostedIntrNv(u16),
}

/// What VMXON resets after its allocations and VPID02 (KVM's
/// `enter_vmx_operation()`; the current VMCS and the notification vector
/// are `handle_vmxon()`'s). `last_vpid` 0: the first nested entry flushes
/// VPID02, which a previous owner may have left entries for.
pub const VMXON_RESETS: [Reset; 6] = [
    Reset::LastVpid(0),
    Reset::Vmcs02Initialized(false),
    Reset::CurrentVmptr(INVALID_GPA),
    Reset::Vmxon(true),
    Reset::PostedIntrNv(u16::MAX),
    Reset::ShadowVmcs12CacheGpa(INVALID_GPA),
];

/// What leaving VMX operation resets (`free_nested()`), before VPID02 and
/// the allocations are freed. KVM 6.12 keeps the freed `vpid02` and the
/// rare-sync flag; this backend clears both (a set flag would later copy a
/// fresh vmcs02's state over a restored vmcs12: testbed/lockstep-accepted.txt).
pub const FREE_RESETS: [Reset; 7] = [
    Reset::Vmxon(false),
    Reset::SmmVmxon(false),
    Reset::VmxonPtr(INVALID_GPA),
    Reset::Vpid02(0),
    Reset::CurrentVmptr(INVALID_GPA),
    Reset::NeedRareSync(false),
    Reset::PostedIntrNv(u16::MAX),
];

/// The vCPU entering or leaving VMX operation. Every method applies or
/// reports one thing.
pub trait LifecycleVcpu {
    /// An allocation failure.
    type Error;
    /// Allocates `r` (for `ShadowVmcs`: only with VMCS shadowing); on
    /// failure nothing of `r` stays allocated.
    fn alloc(&mut self, r: Resource) -> Result<(), Self::Error>;
    /// Frees `r`, if allocated.
    fn free(&mut self, r: Resource);
    /// `allocate_vpid()` (0: none left).
    fn allocate_vpid(&mut self) -> u16;
    /// `free_vpid()`.
    fn free_vpid(&mut self, vpid: u16);
    /// Initialises the emulated VMX-preemption timer (its hrtimer).
    fn init_preemption_timer(&mut self);
    /// Sets a field of the nested state.
    fn apply(&mut self, r: Reset);
    /// `nested.vmxon`, `nested.smm.vmxon`.
    fn vmx_operation(&mut self) -> (bool, bool);
    /// `nested.vpid02`.
    fn current_vpid02(&mut self) -> u16;
    /// `nested.current_vmptr` (INVALID_GPA: none).
    fn current_vmcs(&mut self) -> u64;
    /// vmcs01 becomes the current VMCS, if it is not.
    fn switch_to_vmcs01(&mut self);
    /// Drops KVM_REQ_GET_NESTED_STATE_PAGES.
    fn clear_nested_state_pages_request(&mut self);
    /// VMCS shadowing is in use (`enable_shadow_vmcs`).
    fn shadowing(&mut self) -> bool;
    /// Copies what L1 wrote to its shadow VMCS into vmcs12.
    fn shadow_to_vmcs12(&mut self);
    /// Unlinks vmcs01's shadow VMCS (`vmx_disable_shadow_vmcs()`).
    fn disable_shadow_vmcs(&mut self);
    /// `copy_vmcs02_to_vmcs12_rare()`, if needed.
    fn sync_rare_to_vmcs12(&mut self);
    /// Writes the cached vmcs12 to L1 memory at `vmptr` (a failure is
    /// L1's problem, as in KVM).
    fn write_back_vmcs12(&mut self, vmptr: u64);
    /// Drops the shadow EPT roots built for L2.
    fn free_guest_roots(&mut self);
    /// Unmaps the L1 pages vmcs02 points to.
    fn unmap_l1_pages(&mut self);
    /// `is_guest_mode()`.
    fn in_guest_mode(&mut self) -> bool;
    /// `nested_release_evmcs()` (`crate::evmcs::vmptrld::release`).
    fn release_evmcs(&mut self) {}
    /// Clears `nested.nested_run_pending`.
    fn clear_run_pending(&mut self);
    /// `nested_vmx_vmexit(vcpu, -1, 0, 0)`: out of L2, no exit for L1.
    fn forced_vmexit(&mut self);
}

/// `k.apply()` of each reset of a constant list, one call per element: a
/// loop over the list kept it on the stack and dispatched every element
/// through a jump table at run time; unrolled, each is a store. (The names
/// bind the elements: a list of another length does not compile.)
macro_rules! apply_all {
    ($k:expr, $list:expr, [$($r:ident),*]) => {{
        let [$($r),*] = $list;
        $($k.apply($r);)*
    }};
}

/// KVM's `enter_vmx_operation()`: the allocations in `ALLOC_ORDER` (a
/// failure unwinds those before it, last first), VPID02, the resets, the
/// preemption timer.
pub fn enter_vmx_operation<V: LifecycleVcpu>(k: &mut V) -> Result<(), V::Error> {
    for (i, r) in ALLOC_ORDER.iter().enumerate() {
        if let Err(e) = k.alloc(*r) {
            for done in ALLOC_ORDER.iter().take(i).rev() {
                k.free(*done);
            }
            return Err(e);
        }
    }
    let vpid02 = k.allocate_vpid();
    k.apply(Reset::Vpid02(vpid02));
    apply_all!(k, VMXON_RESETS, [r0, r1, r2, r3, r4, r5]);
    k.init_preemption_timer();
    Ok(())
}

/// KVM's `free_nested()`: leaves VMX operation (also SMM's), freeing what
/// VMXON took; vmcs01 current first.
pub fn free_nested<V: LifecycleVcpu>(k: &mut V) {
    k.switch_to_vmcs01();
    let (vmxon, smm_vmxon) = k.vmx_operation();
    if !vmxon && !smm_vmxon {
        return;
    }
    k.clear_nested_state_pages_request();
    let vpid02 = k.current_vpid02();
    apply_all!(k, FREE_RESETS, [r0, r1, r2, r3, r4, r5, r6]);
    k.free_vpid(vpid02);
    k.disable_shadow_vmcs();
    for r in FREE_ORDER {
        k.free(r);
    }
    k.unmap_l1_pages();
    k.free_guest_roots();
    k.release_evmcs();
}

/// KVM's `nested_release_vmcs12()`: the current VMCS, with what L1 wrote
/// to its shadow VMCS and the lazily synced fields, back to L1 memory;
/// then no current VMCS. (KVM syncs the rare fields before the shadow
/// VMCS; the two sets are disjoint.)
pub fn release_vmcs12<V: LifecycleVcpu>(k: &mut V) {
    let vmptr = k.current_vmcs();
    if vmptr == INVALID_GPA {
        return;
    }
    if k.shadowing() {
        k.shadow_to_vmcs12();
        k.disable_shadow_vmcs();
    }
    k.sync_rare_to_vmcs12();
    k.apply(Reset::PostedIntrNv(u16::MAX));
    k.write_back_vmcs12(vmptr);
    k.free_guest_roots();
    k.apply(Reset::CurrentVmptr(INVALID_GPA));
}

/// KVM's `vmx_leave_nested()`: a forced exit from L2 (reset, SMM, state
/// restore, teardown), then out of VMX operation.
pub fn leave_nested<V: LifecycleVcpu>(k: &mut V) {
    if k.in_guest_mode() {
        k.clear_run_pending();
        k.forced_vmexit();
    }
    free_nested(k);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nested::model_pages::{LifeCall as L, LifecycleModel};

    #[test]
    fn vmxon_allocates_then_resets() {
        let mut m = LifecycleModel::outside(42);
        assert_eq!(enter_vmx_operation(&mut m), Ok(()));
        assert_eq!(
            &m.log[..4],
            [
                L::Alloc(Resource::Vmcs02),
                L::Alloc(Resource::CachedVmcs12),
                L::Alloc(Resource::ShadowVmcs),
                L::AllocVpid,
            ]
        );
        assert_eq!(m.log.last(), Some(&L::InitTimer));
        assert_eq!(m.allocated.len(), 3);
        let s = m.state;
        assert!(s.vmxon && !s.vmcs02_initialized);
        assert_eq!((s.vpid02, s.last_vpid), (42, 0));
        assert_eq!(
            (s.current_vmptr, s.shadow_cache_gpa),
            (INVALID_GPA, INVALID_GPA)
        );
        assert_eq!(s.posted_intr_nv, u16::MAX);
        // The VPID is set before the other resets.
        assert_eq!(m.log.get(4), Some(&L::Apply(Reset::Vpid02(42))));
    }

    #[test]
    fn vmxon_failure_unwinds_last_first() {
        for (fail, freed) in [
            (0, &[][..]),
            (1, &[Resource::Vmcs02][..]),
            (2, &[Resource::CachedVmcs12, Resource::Vmcs02][..]),
        ] {
            let mut m = LifecycleModel::outside(42);
            m.fail = ALLOC_ORDER.get(fail).copied();
            let before = m.state;
            assert_eq!(enter_vmx_operation(&mut m), Err(-12));
            let frees: std::vec::Vec<_> = m
                .log
                .iter()
                .filter_map(|c| match c {
                    L::Free(r) => Some(*r),
                    _ => None,
                })
                .collect();
            assert_eq!(frees, freed, "failing {fail}");
            assert!(m.allocated.is_empty(), "failing {fail}");
            assert_eq!(m.state, before, "nothing reset, failing {fail}");
            assert!(!m.log.contains(&L::AllocVpid));
        }
    }

    fn in_operation() -> LifecycleModel {
        let mut m = LifecycleModel::outside(42);
        assert_eq!(enter_vmx_operation(&mut m), Ok(()));
        m.state.vmxon_ptr = 0x1000;
        m.state.current_vmptr = 0x2000;
        m.state.need_rare_sync = true;
        m.state.posted_intr_nv = 0xf2;
        m.log.clear();
        m
    }

    #[test]
    fn free_nested_resets_then_frees() {
        let mut m = in_operation();
        free_nested(&mut m);
        assert_eq!(
            &m.log[..3],
            [
                L::SwitchTo01,
                L::ClearRequest,
                L::Apply(Reset::Vmxon(false))
            ]
        );
        let tail = &m.log[m.log.len() - 8..];
        assert_eq!(
            tail,
            [
                L::FreeVpid(42),
                L::DisableShadow,
                L::Free(Resource::ShadowVmcs),
                L::Free(Resource::CachedVmcs12),
                L::Free(Resource::CachedShadowVmcs12),
                L::Free(Resource::Vmcs02),
                L::Unmap,
                L::FreeRoots,
            ]
        );
        let s = m.state;
        assert!(!s.vmxon && !s.smm_vmxon && !s.need_rare_sync);
        assert_eq!((s.vmxon_ptr, s.current_vmptr), (INVALID_GPA, INVALID_GPA));
        assert_eq!((s.vpid02, s.posted_intr_nv), (0, u16::MAX));
        assert!(m.allocated.is_empty());
    }

    #[test]
    fn free_nested_outside_vmx_operation_only_switches() {
        let mut m = LifecycleModel::outside(42);
        free_nested(&mut m);
        assert_eq!(m.log, [L::SwitchTo01]);
        // In SMM with VMX operation saved: freed too.
        let mut m = in_operation();
        m.state.vmxon = false;
        m.state.smm_vmxon = true;
        free_nested(&mut m);
        assert!(!m.state.smm_vmxon);
        assert!(m.log.contains(&L::FreeVpid(42)));
    }

    #[test]
    fn release_vmcs12_writes_back_then_forgets() {
        let mut m = in_operation();
        m.shadowing = true;
        release_vmcs12(&mut m);
        assert_eq!(
            m.log,
            [
                L::ShadowToVmcs12,
                L::DisableShadow,
                L::SyncRare,
                L::Apply(Reset::PostedIntrNv(u16::MAX)),
                L::WriteBack(0x2000),
                L::FreeRoots,
                L::Apply(Reset::CurrentVmptr(INVALID_GPA)),
            ]
        );
        assert_eq!(m.state.current_vmptr, INVALID_GPA);
        // Without a current VMCS: nothing.
        m.log.clear();
        release_vmcs12(&mut m);
        assert!(m.log.is_empty());
        // Without shadowing: no shadow VMCS to copy.
        let mut m = in_operation();
        release_vmcs12(&mut m);
        assert_eq!(m.log.first(), Some(&L::SyncRare));
    }

    #[test]
    fn leave_nested_exits_l2_first() {
        let mut m = in_operation();
        m.guest_mode = true;
        m.run_pending = true;
        leave_nested(&mut m);
        assert_eq!(&m.log[..2], [L::ForcedExit, L::SwitchTo01]);
        assert!(!m.run_pending);
        assert!(!m.state.vmxon);
        let mut m = in_operation();
        leave_nested(&mut m);
        assert_eq!(m.log.first(), Some(&L::SwitchTo01));
    }
}
