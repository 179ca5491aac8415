// SPDX-License-Identifier: GPL-2.0

//! The second phase of KVM's `vmx_set_nested_state()`, in VMX operation:
//! the checks of the state's vmcs12 part (the current-VMCS address, the
//! vmcs12 revision, and in guest mode the shadow vmcs12 and the VM-entry
//! checks), each failure named (`StateError`, -EINVAL).

use super::rsm::check_restored_vmcs12;
use super::state::{flags, Header, SetStateEnv, StateError, SHADOW_VMCS12_OFFSET, VMCS12_OFFSET};
use crate::vmcs::checks::Vcpu;
use crate::vmcs::controls::{Secondary, Vmcs12Controls};
use crate::vmcs::layout::{Vmcs12, VMCS12_REVISION};
use crate::vmcs::x86::{page_address_valid, INVALID_GPA};

/// What phase 2 found the vCPU should become.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restore {
    /// In VMX operation, no current VMCS.
    VmxonOnly,
    /// A current VMCS (or a pending eVMCS map) but not in guest mode.
    Vmcs12Loaded,
    /// In guest mode: enter L2 (without a VM-entry's pending checks).
    GuestMode {
        /// VMLAUNCH/VMRESUME was being emulated.
        run_pending: bool,
        /// An MTF exit is pending.
        mtf_pending: bool,
        /// The saved preemption-timer deadline, if any.
        preemption_timer_deadline: Option<u64>,
    },
}

/// Phase 2's first check, which KVM makes before it sets the current VMCS
/// and copies vmcs12 in (part of `check_vmcs12_part`).
pub fn check_vmcs12_address(h: &Header, env: &SetStateEnv) -> Result<(), StateError> {
    if h.vmcs12_pa != INVALID_GPA {
        if h.vmcs12_pa == h.vmxon_pa || !page_address_valid(h.vmcs12_pa, env.maxphyaddr) {
            return Err(StateError::Vmcs12Address);
        }
    } else if h.flags & flags::EVMCS == 0 {
        return Err(StateError::NoCurrentVmcs);
    }
    Ok(())
}

/// Whether a state's vmcs12 asks for its shadow vmcs12 (VMCS shadowing
/// with a link pointer), which KVM then reads and checks in guest mode.
pub fn wants_shadow_vmcs12(vmcs12: &Vmcs12) -> bool {
    Vmcs12Controls::of(vmcs12)
        .sec
        .contains(Secondary::SHADOW_VMCS)
        && vmcs12.vmcs_link_pointer != INVALID_GPA
}

/// `sizeof(struct vmcs12)`: what KVM copies from userspace for vmcs12 and
/// for the shadow vmcs12.
pub const VMCS12_LEN: usize = core::mem::size_of::<Vmcs12>();

/// The state's size covers a vmcs12 at `offset` (KVM's `kvm_state->size <
/// ...` comparisons, negated).
pub const fn covers(h: &Header, offset: usize) -> bool {
    h.size as usize >= offset + VMCS12_LEN
}

/// A state too small for vmcs12: "Empty VMXON state is permitted if no
/// VMCS loaded" (KVM's test, as `vmx_has_valid_vmcs12()`).
pub fn check_empty_vmxon(h: &Header) -> Result<Restore, StateError> {
    use flags::*;
    if h.flags & (GUEST_MODE | EVMCS) != 0 || h.vmcs12_pa != INVALID_GPA {
        Err(StateError::Vmcs12Missing)
    } else {
        Ok(Restore::VmxonOnly)
    }
}

/// The state's vmcs12 once copied in: its revision, then outside guest
/// mode it is loaded as it is (`Ok(Restore::Vmcs12Loaded)`); `Ok(None)`:
/// go on to the guest-mode checks.
pub fn check_vmcs12_revision(h: &Header, vmcs12: &Vmcs12) -> Result<Option<Restore>, StateError> {
    if vmcs12.hdr.revision_id() != VMCS12_REVISION {
        return Err(StateError::Vmcs12Revision);
    }
    if h.flags & flags::GUEST_MODE == 0 {
        return Ok(Some(Restore::Vmcs12Loaded));
    }
    Ok(None)
}

/// The preemption-timer deadline a state carries (KVM_STATE_VMX_PREEMPTION_TIMER_DEADLINE).
pub const fn preemption_timer_deadline(h: &Header) -> Option<u64> {
    if h.vmx_flags & flags::PREEMPTION_TIMER_DEADLINE != 0 {
        Some(h.preemption_timer_deadline)
    } else {
        None
    }
}

/// What a guest-mode state restores once its vmcs12 passed the checks.
pub const fn guest_mode_restore(h: &Header) -> Restore {
    Restore::GuestMode {
        run_pending: h.flags & flags::RUN_PENDING != 0,
        mtf_pending: h.flags & flags::MTF_PENDING != 0,
        preemption_timer_deadline: preemption_timer_deadline(h),
    }
}

/// Phase 2, in VMX operation: the vmcs12 part of a state of `size` bytes.
/// `vmcs12` and `shadow` are the state's copies (the caller reads them from
/// userspace only when `size` covers them; `None` if it does not). The
/// pieces in the order `state_set::set_nested_state` makes them.
pub fn check_vmcs12_part(
    h: &Header,
    env: &SetStateEnv,
    vmcs12: Option<&Vmcs12>,
    shadow: Option<&Vmcs12>,
    vcpu: &mut impl Vcpu,
) -> Result<Restore, StateError> {
    let Some(vmcs12) = vmcs12.filter(|_| covers(h, VMCS12_OFFSET)) else {
        return check_empty_vmxon(h);
    };
    check_vmcs12_address(h, env)?;
    if let Some(r) = check_vmcs12_revision(h, vmcs12)? {
        return Ok(r);
    }
    // KVM compares against sizeof(user data vmcs12) = 4 KiB + sizeof(vmcs12).
    let shadow = shadow.filter(|_| covers(h, SHADOW_VMCS12_OFFSET));
    // KVM sets nested_run_pending from RUN_PENDING before these checks:
    // `vcpu` must report it so (it decides whether guest EFER is checked).
    check_restored_vmcs12(vmcs12, shadow, vcpu)?;
    Ok(guest_mode_restore(h))
}

#[cfg(test)]
mod tests {
    use super::flags::*;
    use super::*;
    use crate::nested::state::HEADER_SIZE;
    use crate::nested::state_set_tests::{env, valid_vmcs12, vmxon_header};
    use crate::vmcs::checks::tests::Model;
    use crate::vmcs::checks::Check;
    use crate::vmcs::controls::Secondary;
    use crate::vmcs::layout::VmcsHdr;

    #[test]
    fn vmcs12_part() {
        let mut m = Model::new();
        let v = valid_vmcs12();
        let empty = Header {
            size: HEADER_SIZE as u32,
            vmcs12_pa: INVALID_GPA,
            ..vmxon_header(0)
        };
        assert_eq!(
            check_vmcs12_part(&empty, &env(), None, None, &mut m),
            Ok(Restore::VmxonOnly)
        );
        let h = Header {
            size: HEADER_SIZE as u32,
            ..vmxon_header(0)
        };
        assert_eq!(
            check_vmcs12_part(&h, &env(), Some(&v), None, &mut m),
            Err(StateError::Vmcs12Missing)
        );
        assert_eq!(
            check_vmcs12_part(&vmxon_header(0), &env(), Some(&v), None, &mut m),
            Ok(Restore::Vmcs12Loaded)
        );
        let h = Header {
            vmcs12_pa: 0x1000,
            ..vmxon_header(0)
        };
        assert_eq!(
            check_vmcs12_part(&h, &env(), Some(&v), None, &mut m),
            Err(StateError::Vmcs12Address)
        );
        let h = Header {
            vmcs12_pa: INVALID_GPA,
            ..vmxon_header(0)
        };
        assert_eq!(
            check_vmcs12_part(&h, &env(), Some(&v), None, &mut m),
            Err(StateError::NoCurrentVmcs)
        );
        let mut bad = v;
        bad.hdr = VmcsHdr(1);
        assert_eq!(
            check_vmcs12_part(&vmxon_header(0), &env(), Some(&bad), None, &mut m),
            Err(StateError::Vmcs12Revision)
        );
    }

    #[test]
    fn guest_mode_restores_run_the_entry_checks() {
        let mut m = Model::new();
        let v = valid_vmcs12();
        let h = Header {
            vmx_flags: PREEMPTION_TIMER_DEADLINE,
            preemption_timer_deadline: 1234,
            ..vmxon_header(GUEST_MODE | RUN_PENDING)
        };
        assert_eq!(
            check_vmcs12_part(&h, &env(), Some(&v), None, &mut m),
            Ok(Restore::GuestMode {
                run_pending: true,
                mtf_pending: false,
                preemption_timer_deadline: Some(1234)
            })
        );
        let mut bad = v;
        bad.host_cs_selector = 0;
        assert_eq!(
            check_vmcs12_part(&h, &env(), Some(&bad), None, &mut m),
            Err(StateError::EntryCheck(Check::HostCsNull))
        );
    }

    /// nested.c traces the VM-entry check a guest-mode state fails (its
    /// `CC()`), and nothing for the state's own checks.
    #[test]
    fn only_entry_checks_are_traced() {
        let mut m = Model::new();
        let mut bad = valid_vmcs12();
        bad.host_cs_selector = 0;
        let e = check_vmcs12_part(&vmxon_header(GUEST_MODE), &env(), Some(&bad), None, &mut m);
        assert_eq!(
            e.map_err(StateError::traced_check),
            Err(Some(Check::HostCsNull))
        );
        assert_eq!(StateError::Vmcs12Revision.traced_check(), None);
        assert_eq!(StateError::ShadowVmcs12Missing.traced_check(), None);
        assert_eq!(StateError::VmxonAddress.traced_check(), None);
    }

    #[test]
    fn guest_mode_with_shadow_vmcs_needs_the_shadow() {
        let mut m = Model::new();
        m.memory.insert(0xb000, VmcsHdr(VMCS12_REVISION | 1 << 31));
        let mut v = valid_vmcs12();
        v.secondary_vm_exec_control |= Secondary::SHADOW_VMCS.bits();
        v.vmread_bitmap = 0x6000;
        v.vmwrite_bitmap = 0x7000;
        v.vmcs_link_pointer = 0xb000;
        let h = vmxon_header(GUEST_MODE);
        let small = Header {
            size: (SHADOW_VMCS12_OFFSET + 10) as u32,
            ..h
        };
        let shadow = {
            let mut s = Vmcs12::zeroed();
            s.hdr = VmcsHdr(VMCS12_REVISION | 1 << 31);
            s
        };
        assert_eq!(
            check_vmcs12_part(&small, &env(), Some(&v), Some(&shadow), &mut m),
            Err(StateError::ShadowVmcs12Missing)
        );
        let mut not_shadow = shadow;
        not_shadow.hdr = VmcsHdr(VMCS12_REVISION);
        assert_eq!(
            check_vmcs12_part(&h, &env(), Some(&v), Some(&not_shadow), &mut m),
            Err(StateError::ShadowVmcs12Revision)
        );
        assert!(matches!(
            check_vmcs12_part(&h, &env(), Some(&v), Some(&shadow), &mut m),
            Ok(Restore::GuestMode { .. })
        ));
    }
}
