// SPDX-License-Identifier: GPL-2.0

//! KVM_GET_NESTED_STATE (KVM's `vmx_get_nested_state()`): what is reported
//! for a vCPU ([`get_state`]), and the sequence that syncs vmcs12, checks
//! the buffer's size and copies the state out ([`get_nested_state`]).

use super::state::{flags, Errno, Header, SHADOW_VMCS12_OFFSET, VMCS12_OFFSET};
use super::state_vcpu::{Cache, StateStat, StateVcpu};
use crate::vmcs::controls::{Secondary, Vmcs12Controls};
use crate::vmcs::layout::{Vmcs12, VMCS12_SIZE};
use crate::vmcs::x86::INVALID_GPA;

/// What KVM_GET_NESTED_STATE reads of the vCPU (`vcpu_vmx.nested`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NestedView {
    /// The vCPU's CPUID has VMX.
    pub vmx_in_cpuid: bool,
    /// In VMX operation.
    pub vmxon: bool,
    /// In VMX operation, suspended by SMM.
    pub smm_vmxon: bool,
    /// In guest mode when SMM was entered.
    pub smm_guest_mode: bool,
    /// VMXON region.
    pub vmxon_ptr: u64,
    /// Current-VMCS pointer (INVALID_GPA if none).
    pub current_vmptr: u64,
    /// An enlightened VMCS is set as current.
    pub evmcs_set: bool,
    /// L2 is running.
    pub guest_mode: bool,
    /// VMLAUNCH/VMRESUME being emulated.
    pub run_pending: bool,
    /// MTF exit pending.
    pub mtf_pending: bool,
    /// The preemption-timer deadline, if one was computed.
    pub preemption_timer_deadline: Option<u64>,
}

/// What KVM_GET_NESTED_STATE writes: the header, and whether vmcs12 and
/// the shadow vmcs12 follow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetState {
    /// The header; its `size` is what the ioctl reports.
    pub header: Header,
    /// The current vmcs12 is copied at [`VMCS12_OFFSET`].
    pub vmcs12: bool,
    /// vmcs12 enables a shadow VMCS: KVM then copies the shadow vmcs12 at
    /// [`SHADOW_VMCS12_OFFSET`], also outside guest mode, where
    /// `header.size` does not count it (past the size it reports); rnvmx
    /// copies it only in guest mode, within the size.
    pub shadow_vmcs12: bool,
}

/// KVM's `vmx_get_nested_state()`: what to report for a vCPU, given its
/// current vmcs12 (whose VMCS shadowing and link pointer decide about the
/// shadow copy).
pub fn get_state(n: &NestedView, vmcs12: &Vmcs12) -> GetState {
    use flags::*;
    let mut h = Header::not_in_vmx_operation();
    let mut copy = (false, false);
    if n.vmx_in_cpuid && (n.vmxon || n.smm_vmxon) {
        h.vmxon_pa = n.vmxon_ptr;
        h.vmcs12_pa = n.current_vmptr;
        let valid_vmcs12 = n.evmcs_set || n.current_vmptr != INVALID_GPA;
        let shadowing = Vmcs12Controls::of(vmcs12)
            .sec
            .contains(Secondary::SHADOW_VMCS)
            && vmcs12.vmcs_link_pointer != INVALID_GPA;
        if valid_vmcs12 {
            h.size += VMCS12_SIZE as u32;
            if n.evmcs_set {
                h.flags |= EVMCS;
            }
            if n.guest_mode && shadowing {
                h.size += VMCS12_SIZE as u32;
            }
            copy = (true, shadowing);
        }
        if n.smm_vmxon {
            h.smm_flags |= SMM_VMXON;
        }
        if n.smm_guest_mode {
            h.smm_flags |= SMM_GUEST_MODE;
        }
        if n.guest_mode {
            h.flags |= GUEST_MODE;
            if n.run_pending {
                h.flags |= RUN_PENDING;
            }
            if n.mtf_pending {
                h.flags |= MTF_PENDING;
            }
            let timer = Vmcs12Controls::of(vmcs12)
                .pin
                .contains(crate::vmcs::controls::PinBased::VMX_PREEMPTION_TIMER);
            if let (true, Some(deadline)) = (timer, n.preemption_timer_deadline) {
                h.vmx_flags |= PREEMPTION_TIMER_DEADLINE;
                h.preemption_timer_deadline = deadline;
            }
        }
    }
    GetState {
        header: h,
        vmcs12: copy.0,
        shadow_vmcs12: copy.1,
    }
}

/// Why KVM_GET_NESTED_STATE failed: a copy to userspace (-EFAULT, also
/// for a vmcs12 cache missing while a current VMCS is reported).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetFault;

impl GetFault {
    /// The errno the ioctl returns.
    pub const fn errno(self) -> Errno {
        Errno::Fault
    }
}

/// KVM_GET_NESTED_STATE into userspace's buffer of `user_size` bytes: the
/// state's size, what the ioctl returns. A buffer too small gets nothing
/// (x86.c then reports -E2BIG with the size needed).
pub fn get_nested_state(k: &mut impl StateVcpu, user_size: u32) -> Result<u32, GetFault> {
    let n = k.nested_view();
    // The size first, as nested.c: a short buffer gets it and nothing else
    // happens (vmcs12 is not synced). What it depends on (VMCS shadowing
    // and the link pointer) is not what a sync changes.
    let g = k.with_vmcs12(|v| match v {
        Some(v) => get_state(&n, v),
        None => get_state(&n, &Vmcs12::default()),
    });
    let needed = g.header.size;
    if user_size < needed {
        return Ok(needed);
    }
    // vmcs12 as L1 would read it: while L2 runs it is in vmcs02; while L1
    // runs, in the shadow VMCS unless a sync to it is still due.
    // (An eVMCS still to be mapped, EVMPTR_MAP_PENDING, counts: nested.c's
    // vmx_has_valid_vmcs12().)
    if n.current_vmptr != INVALID_GPA || n.evmcs_set {
        if n.guest_mode {
            k.sync_vmcs02_to_vmcs12();
            k.sync_rare();
        } else {
            if !k.need_vmcs12_to_shadow_sync()
                && !k.evmcs_to_vmcs12_full()
                && k.shadow_vmcs_enabled()
            {
                k.shadow_vmcs_to_vmcs12();
            }
            k.sync_rare();
        }
    }
    k.write_user(0, &g.header.encode()).map_err(|_| GetFault)?;
    if g.vmcs12 {
        k.write_user_cache(Cache::Vmcs12, VMCS12_OFFSET)
            .map_err(|_| GetFault)?;
    }
    // L1's shadow VMCS while L2 runs with it. (nested.c copies the stale
    // cache outside guest mode as well, past the size it reports; not here.)
    if g.shadow_vmcs12 && n.guest_mode {
        k.write_user_cache(Cache::ShadowVmcs12, SHADOW_VMCS12_OFFSET)
            .map_err(|_| GetFault)?;
    }
    if g.header.flags & flags::GUEST_MODE != 0 {
        k.count(StateStat::SaveL2);
    }
    Ok(needed)
}

#[cfg(test)]
mod tests {
    use super::flags::*;
    use super::*;
    use crate::nested::state::{HEADER_SIZE, MAX_SIZE};
    use crate::nested::state_header::check_header;
    use crate::nested::state_set_tests::{env, valid_vmcs12};
    use crate::nested::state_vmcs12::{check_vmcs12_part, Restore};
    use crate::vmcs::checks::tests::Model;

    #[test]
    fn get_state_outside_vmx_operation() {
        let g = get_state(&NestedView::default(), &Vmcs12::zeroed());
        assert_eq!(g.header, Header::not_in_vmx_operation());
        assert!(!g.vmcs12 && !g.shadow_vmcs12);
        // VMXON without VMX in CPUID reports nothing either.
        let n = NestedView {
            vmxon: true,
            vmxon_ptr: 0x1000,
            ..NestedView::default()
        };
        assert_eq!(
            get_state(&n, &Vmcs12::zeroed()).header,
            Header::not_in_vmx_operation()
        );
    }

    #[test]
    fn get_state_in_vmx_operation() {
        let mut v = valid_vmcs12();
        let n = NestedView {
            vmx_in_cpuid: true,
            vmxon: true,
            vmxon_ptr: 0x1000,
            current_vmptr: INVALID_GPA,
            ..NestedView::default()
        };
        let g = get_state(&n, &v);
        assert_eq!(
            (g.header.size, g.header.vmxon_pa, g.vmcs12),
            (HEADER_SIZE as u32, 0x1000, false)
        );
        let n = NestedView {
            current_vmptr: 0x2000,
            ..n
        };
        let g = get_state(&n, &v);
        assert_eq!(
            (g.header.size as usize, g.header.vmcs12_pa, g.vmcs12),
            (HEADER_SIZE + VMCS12_SIZE, 0x2000, true)
        );
        // Shadowing with a link: copied always, counted only in guest mode.
        v.secondary_vm_exec_control |= Secondary::SHADOW_VMCS.bits();
        v.vmcs_link_pointer = 0xb000;
        let g = get_state(&n, &v);
        assert_eq!(
            (g.header.size as usize, g.shadow_vmcs12),
            (HEADER_SIZE + VMCS12_SIZE, true)
        );
        v.pin_based_vm_exec_control |= crate::vmcs::controls::PinBased::VMX_PREEMPTION_TIMER.bits();
        let n = NestedView {
            guest_mode: true,
            run_pending: true,
            preemption_timer_deadline: Some(77),
            ..n
        };
        let g = get_state(&n, &v);
        assert_eq!(g.header.size as usize, MAX_SIZE);
        assert_eq!(g.header.flags, GUEST_MODE | RUN_PENDING);
        assert_eq!(
            (g.header.vmx_flags, g.header.preemption_timer_deadline),
            (PREEMPTION_TIMER_DEADLINE, 77)
        );
    }

    #[test]
    fn get_state_smm_and_evmcs() {
        let n = NestedView {
            vmx_in_cpuid: true,
            smm_vmxon: true,
            smm_guest_mode: true,
            vmxon_ptr: 0x1000,
            current_vmptr: INVALID_GPA,
            evmcs_set: true,
            ..NestedView::default()
        };
        let g = get_state(&n, &Vmcs12::zeroed());
        assert_eq!(g.header.smm_flags, SMM_VMXON | SMM_GUEST_MODE);
        assert_eq!(g.header.flags, EVMCS);
        assert!(g.vmcs12);
    }

    /// What KVM_GET_NESTED_STATE reports, KVM_SET_NESTED_STATE accepts.
    #[test]
    fn get_then_set_round_trips() {
        let mut m = Model::new();
        let v = valid_vmcs12();
        let n = NestedView {
            vmx_in_cpuid: true,
            vmxon: true,
            vmxon_ptr: 0x1000,
            current_vmptr: 0x2000,
            guest_mode: true,
            run_pending: true,
            ..NestedView::default()
        };
        let g = get_state(&n, &v);
        let h = Header::decode(&g.header.encode());
        assert_eq!(check_header(&h, &env()), Ok(true));
        assert!(matches!(
            check_vmcs12_part(&h, &env(), Some(&v), None, &mut m),
            Ok(Restore::GuestMode {
                run_pending: true,
                ..
            })
        ));
    }
}
