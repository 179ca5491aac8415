// SPDX-License-Identifier: GPL-2.0

//! KVM_SET_NESTED_STATE's sequence on the model vCPU (model_state.rs): the
//! order of the steps and, for each failure, the errno and the state
//! nested.c 6.12's `vmx_set_nested_state()` leaves (test only).

use std::vec::Vec;

use crate::nested::model_state::{vmcs12_bytes, StateCall as C, StateModel};
use crate::nested::state::{flags::*, Errno, Header, SetStateEnv, StateError, MAX_SIZE};
use crate::nested::state::{HEADER_SIZE, SHADOW_VMCS12_OFFSET, VMCS12_OFFSET};
use crate::nested::state_set::{set_nested_state, Restored, SetError};
use crate::nested::state_vcpu::{Cache, StateStat};
use crate::nested::state_vmcs12::{Restore, VMCS12_LEN};
use crate::nested::vmentry::Entered;
use crate::vmcs::checks::tests::{baseline, Model};
use crate::vmcs::checks::Check;
use crate::vmcs::controls::Secondary;
use crate::vmcs::layout::{Vmcs12, VmcsHdr, VMCS12_REVISION};
use crate::vmcs::x86::INVALID_GPA;

const VMXON: u64 = 0x1000;
const VMCS12: u64 = 0x2000;
const LINK: u64 = 0xb000;

pub(crate) fn valid_vmcs12() -> Vmcs12 {
    let (mut v, _) = baseline();
    v.hdr = VmcsHdr(VMCS12_REVISION);
    v
}

/// vmcs12 with VMCS shadowing and a link pointer (the model's L1 memory
/// has a shadow VMCS there).
fn shadowing_vmcs12() -> Vmcs12 {
    let mut v = valid_vmcs12();
    v.secondary_vm_exec_control |= Secondary::SHADOW_VMCS.bits();
    v.vmread_bitmap = 0x6000;
    v.vmwrite_bitmap = 0x7000;
    v.vmcs_link_pointer = LINK;
    v
}

fn shadow() -> Vmcs12 {
    let mut s = Vmcs12::zeroed();
    s.hdr = VmcsHdr(VMCS12_REVISION | 1 << 31);
    s
}

/// The vCPU facts of the state tests: VMX in CPUID, MAXPHYADDR 46, not in
/// SMM, no eVMCS.
pub(crate) fn env() -> SetStateEnv {
    SetStateEnv {
        vmx_in_cpuid: true,
        maxphyaddr: 46,
        in_smm: false,
        evmcs_enabled: false,
    }
}

/// A header in VMX operation with room for vmcs12 and the shadow vmcs12.
pub(crate) fn vmxon_header(flags: u16) -> Header {
    header(flags, MAX_SIZE)
}

pub(crate) fn header(flags: u16, size: usize) -> Header {
    Header {
        flags,
        size: size as u32,
        vmxon_pa: VMXON,
        vmcs12_pa: VMCS12,
        ..Header::not_in_vmx_operation()
    }
}

/// Userspace's state: `h`, then vmcs12 and the shadow vmcs12, `h.size`
/// bytes.
pub(crate) fn blob(h: &Header, v: &Vmcs12, s: &Vmcs12) -> Vec<u8> {
    let mut b = std::vec![0u8; MAX_SIZE];
    b[..HEADER_SIZE].copy_from_slice(&h.encode());
    b[VMCS12_OFFSET..SHADOW_VMCS12_OFFSET].copy_from_slice(&vmcs12_bytes(v));
    b[SHADOW_VMCS12_OFFSET..].copy_from_slice(&vmcs12_bytes(s));
    b.truncate(h.size as usize);
    b
}

/// A vCPU that runs L2 from an earlier state: whatever is restored must
/// first leave it.
pub(crate) fn model() -> StateModel<Model> {
    let mut cpu = Model::new();
    cpu.memory.insert(LINK, VmcsHdr(VMCS12_REVISION | 1 << 31));
    // The model's own answer is unused: the sequence's is what counts.
    cpu.run_pending = false;
    let mut m = StateModel::new(cpu);
    m.vmxon = true;
    m.vmxon_ptr = 0x5000;
    m.current_vmptr = 0x6000;
    m.guest_mode = true;
    m.run_pending = true;
    m.vmcs12 = Some(Vmcs12::zeroed());
    m.shadow_vmcs12 = Some(Vmcs12::zeroed());
    m
}

fn set(
    m: &mut StateModel<Model>,
    h: &Header,
    v: &Vmcs12,
    s: &Vmcs12,
) -> Result<Restored, SetError> {
    m.user = blob(h, v, s);
    set_nested_state(m, h)
}

/// The calls up to and including `enter_vmx_operation()`.
fn entered(vmxon: u64) -> Vec<C> {
    std::vec![
        C::Count(StateStat::SetState),
        C::LeaveNested,
        C::SetVmxonPtr(vmxon),
        C::EnterVmxOperation
    ]
}

/// ... and then the current VMCS and the vmcs12 copy.
fn loaded() -> Vec<C> {
    let mut c = entered(VMXON);
    c.extend([
        C::SetCurrentVmptr(VMCS12),
        C::LinkShadowVmcs,
        C::MarkVmcs12Dirty,
        C::ReadUser(Cache::Vmcs12, VMCS12_OFFSET, VMCS12_LEN),
    ]);
    c
}

#[test]
fn errnos() {
    use crate::nested::state_get::GetFault;
    let cases = [
        (SetError::Refused(StateError::NotVmxFormat), Errno::Inval),
        (
            SetError::Refused(StateError::EntryCheck(Check::HostCsNull)),
            Errno::Inval,
        ),
        (SetError::NoCache, Errno::Inval),
        (SetError::EnterL2(Entered::VmExit), Errno::Status(2)),
        (SetError::EnterL2(Entered::InternalError), Errno::Status(3)),
        (SetError::Fault, Errno::Fault),
        (SetError::VmxOperation(-12), Errno::Passed(-12)),
    ];
    for (e, errno) in cases {
        assert_eq!(e.errno(), errno, "{e:?}");
    }
    assert_eq!(GetFault.errno(), Errno::Fault);
}

/// No VMXON region: only vmx_leave_nested().
#[test]
fn outside_vmx_operation_leaves_nested() {
    let mut m = model();
    let h = Header::not_in_vmx_operation();
    assert_eq!(set_nested_state(&mut m, &h), Ok(Restored::OutsideVmx));
    assert_eq!(m.calls, [C::Count(StateStat::SetState), C::LeaveNested]);
    assert!(!m.vmxon && !m.guest_mode && !m.run_pending);
}

/// A header check fails before any side effect: the vCPU stays in L2.
#[test]
fn header_failures_touch_nothing() {
    for (h, e) in [
        (
            Header {
                format: 1,
                ..header(0, MAX_SIZE)
            },
            StateError::NotVmxFormat,
        ),
        (
            Header {
                vmxon_pa: 0x1001,
                ..header(0, MAX_SIZE)
            },
            StateError::VmxonAddress,
        ),
        (
            Header {
                vmx_flags: 2,
                ..header(0, MAX_SIZE)
            },
            StateError::VmxFlagsReserved,
        ),
        (header(EVMCS, MAX_SIZE), StateError::EvmcsNotEnabled),
    ] {
        let mut m = model();
        let r = set(&mut m, &h, &valid_vmcs12(), &shadow());
        assert_eq!(r, Err(SetError::Refused(e)));
        assert_eq!(m.calls, [C::Count(StateStat::SetState)]);
        assert!(m.vmxon && m.guest_mode && m.run_pending);
        assert_eq!((m.vmxon_ptr, m.current_vmptr), (0x5000, 0x6000));
    }
}

/// enter_vmx_operation()'s errno is returned as it is, the vCPU out of
/// VMX operation (vmx_leave_nested() ran).
#[test]
fn enter_vmx_operation_failure_returns_its_errno() {
    let mut m = model();
    m.enter_fails = Some(-12);
    let r = set(&mut m, &header(0, MAX_SIZE), &valid_vmcs12(), &shadow());
    assert_eq!(r, Err(SetError::VmxOperation(-12)));
    assert_eq!(r.map_err(SetError::errno), Err(Errno::Passed(-12)));
    assert_eq!(m.calls, entered(VMXON));
    assert!(!m.vmxon && !m.guest_mode);
}

/// "Empty 'VMXON' state is permitted if no VMCS loaded"; with a VMCS it
/// is -EINVAL in VMX operation, before the current VMCS is set.
#[test]
fn empty_vmxon_state() {
    let mut m = model();
    let h = Header {
        vmcs12_pa: INVALID_GPA,
        ..header(0, HEADER_SIZE)
    };
    let r = set(&mut m, &h, &valid_vmcs12(), &shadow());
    assert_eq!(r, Ok(Restored::Vmx(Restore::VmxonOnly)));
    assert_eq!(m.calls, entered(VMXON));
    assert!(m.vmxon && m.current_vmptr == INVALID_GPA);

    for h in [
        header(0, VMCS12_OFFSET + VMCS12_LEN - 1),
        Header {
            vmcs12_pa: INVALID_GPA,
            ..header(GUEST_MODE, HEADER_SIZE)
        },
    ] {
        let mut m = model();
        let r = set(&mut m, &h, &valid_vmcs12(), &shadow());
        assert_eq!(r, Err(SetError::Refused(StateError::Vmcs12Missing)));
        assert_eq!(m.calls, entered(VMXON));
        assert!(m.vmxon && m.current_vmptr == INVALID_GPA);
    }
}

/// The vmcs12 address is checked before it becomes current.
#[test]
fn vmcs12_address_is_checked_before_it_is_set() {
    for (h, e) in [
        (
            Header {
                vmcs12_pa: VMXON,
                ..header(0, MAX_SIZE)
            },
            StateError::Vmcs12Address,
        ),
        (
            Header {
                vmcs12_pa: 1 << 50,
                ..header(0, MAX_SIZE)
            },
            StateError::Vmcs12Address,
        ),
        (
            Header {
                vmcs12_pa: INVALID_GPA,
                ..header(0, MAX_SIZE)
            },
            StateError::NoCurrentVmcs,
        ),
    ] {
        let mut m = model();
        let r = set(&mut m, &h, &valid_vmcs12(), &shadow());
        assert_eq!(r, Err(SetError::Refused(e)));
        assert_eq!(m.calls, entered(VMXON));
        assert!(m.vmxon && m.current_vmptr == INVALID_GPA);
    }
}

/// -EFAULT from the vmcs12 copy leaves VMX operation entered and the
/// current VMCS set (nested.c sets it before the copy).
#[test]
fn vmcs12_copy_fault_leaves_vmx_operation_entered() {
    let mut m = model();
    m.user_fault_at = Some(VMCS12_OFFSET + 8);
    let r = set(
        &mut m,
        &header(GUEST_MODE | RUN_PENDING, MAX_SIZE),
        &valid_vmcs12(),
        &shadow(),
    );
    assert_eq!(r, Err(SetError::Fault));
    assert_eq!(r.map_err(SetError::errno), Err(Errno::Fault));
    assert_eq!(m.calls, loaded());
    assert!(m.vmxon && !m.guest_mode && !m.run_pending);
    assert_eq!((m.vmxon_ptr, m.current_vmptr), (VMXON, VMCS12));
}

/// Without the cache enter_vmx_operation() allocates: -EINVAL, not a panic.
#[test]
fn a_missing_cache_is_einval() {
    let mut m = model();
    m.no_caches = true;
    let r = set(&mut m, &header(0, MAX_SIZE), &valid_vmcs12(), &shadow());
    assert_eq!(r, Err(SetError::NoCache));
    assert_eq!(r.map_err(SetError::errno), Err(Errno::Inval));
    assert_eq!(m.calls, loaded());
}

#[test]
fn vmcs12_revision_is_checked_after_the_copy() {
    let mut m = model();
    let mut v = valid_vmcs12();
    v.hdr = VmcsHdr(1);
    let r = set(&mut m, &header(GUEST_MODE, MAX_SIZE), &v, &shadow());
    assert_eq!(r, Err(SetError::Refused(StateError::Vmcs12Revision)));
    assert_eq!(m.calls, loaded());
    assert!(m.vmxon && m.current_vmptr == VMCS12);
}

/// Outside guest mode vmcs12 is loaded as it is: no entry checks.
#[test]
fn vmcs12_loaded_outside_guest_mode() {
    let mut m = model();
    let mut v = valid_vmcs12();
    v.host_cs_selector = 0;
    let r = set(
        &mut m,
        &header(0, VMCS12_OFFSET + VMCS12_LEN),
        &v,
        &shadow(),
    );
    assert_eq!(r, Ok(Restored::Vmx(Restore::Vmcs12Loaded)));
    assert_eq!(m.calls, loaded());
    assert_eq!(m.vmcs12.map(|c| vmcs12_bytes(&c)), Some(vmcs12_bytes(&v)));
    assert!(m.vmxon && !m.guest_mode && !m.run_pending);
}

/// SMM: VMX operation is restored suspended, before the vmcs12 copy.
#[test]
fn smm_vmxon_is_restored_before_the_copy() {
    let mut m = model();
    m.env.in_smm = true;
    let h = Header {
        smm_flags: SMM_VMXON | SMM_GUEST_MODE,
        ..header(0, MAX_SIZE)
    };
    let r = set(&mut m, &h, &valid_vmcs12(), &shadow());
    assert_eq!(r, Ok(Restored::Vmx(Restore::Vmcs12Loaded)));
    let mut calls = entered(VMXON);
    calls.extend([
        C::SetCurrentVmptr(VMCS12),
        C::LinkShadowVmcs,
        C::MarkVmcs12Dirty,
        C::SmmVmxon,
        C::SmmGuestMode,
        C::ReadUser(Cache::Vmcs12, VMCS12_OFFSET, VMCS12_LEN),
    ]);
    assert_eq!(m.calls, calls);
    assert!(!m.vmxon && m.smm_vmxon && m.smm_guest_mode);
}

/// The whole of a guest-mode restore, in nested.c's order.
#[test]
fn guest_mode_restore_order() {
    let mut m = model();
    let h = Header {
        vmx_flags: PREEMPTION_TIMER_DEADLINE,
        preemption_timer_deadline: 77,
        ..header(
            GUEST_MODE | RUN_PENDING | MTF_PENDING,
            VMCS12_OFFSET + VMCS12_LEN,
        )
    };
    let r = set(&mut m, &h, &valid_vmcs12(), &shadow());
    assert_eq!(
        r,
        Ok(Restored::Vmx(Restore::GuestMode {
            run_pending: true,
            mtf_pending: true,
            preemption_timer_deadline: Some(77),
        }))
    );
    let mut calls = loaded();
    calls.extend([
        C::SetRunPending(true),
        C::SetMtfPending(true),
        C::SetDeadline(Some(77)),
        C::Checks(true),
        C::MarkVmcs12Dirty,
        C::EnterNonRootMode,
        C::RequestEvent,
        C::Count(StateStat::RestoreL2),
    ]);
    assert_eq!(m.calls, calls);
    assert!(m.guest_mode && m.run_pending && m.mtf_pending);
    assert_eq!(m.deadline, Some(77));
}

/// nested_run_pending is set before the entry checks, which check guest
/// EFER only for a pending VMLAUNCH/VMRESUME.
#[test]
fn run_pending_is_set_before_the_checks() {
    let mut v = valid_vmcs12();
    v.guest_ia32_efer |= 0x2;
    let mut m = model();
    let r = set(&mut m, &header(GUEST_MODE, MAX_SIZE), &v, &shadow());
    assert!(matches!(
        r,
        Ok(Restored::Vmx(Restore::GuestMode {
            run_pending: false,
            ..
        }))
    ));
    assert!(m.calls.contains(&C::Checks(false)));
    let mut m = model();
    let r = set(
        &mut m,
        &header(GUEST_MODE | RUN_PENDING, MAX_SIZE),
        &v,
        &shadow(),
    );
    let e = StateError::EntryCheck(Check::GuestEferReserved);
    assert_eq!(r, Err(SetError::Refused(e)));
    assert!(m.calls.contains(&C::Checks(true)));
}

/// A failed entry check is traced (nested.c's CC()), resets
/// nested_run_pending and leaves the vCPU in VMX operation, not in L2.
#[test]
fn entry_check_failure_is_traced_and_resets_run_pending() {
    let mut m = model();
    let mut v = valid_vmcs12();
    v.host_cs_selector = 0;
    let r = set(
        &mut m,
        &header(GUEST_MODE | RUN_PENDING, MAX_SIZE),
        &v,
        &shadow(),
    );
    let e = StateError::EntryCheck(Check::HostCsNull);
    assert_eq!(r, Err(SetError::Refused(e)));
    assert_eq!(r.map_err(SetError::errno), Err(Errno::Inval));
    let mut calls = loaded();
    calls.extend([
        C::SetRunPending(true),
        C::SetMtfPending(false),
        C::SetDeadline(None),
        C::Checks(true),
        C::TraceCheck(Check::HostCsNull),
        C::SetRunPending(false),
    ]);
    assert_eq!(m.calls, calls);
    assert!(m.vmxon && !m.guest_mode && !m.run_pending);
}

/// A shadow vmcs12 the state's size does not cover: -EINVAL with
/// nested_run_pending reset, nothing read.
#[test]
fn bad_shadow_vmcs12_size_is_einval_with_run_pending_reset() {
    let mut m = model();
    let h = header(
        GUEST_MODE | RUN_PENDING,
        SHADOW_VMCS12_OFFSET + VMCS12_LEN - 1,
    );
    let r = set(&mut m, &h, &shadowing_vmcs12(), &shadow());
    assert_eq!(r, Err(SetError::Refused(StateError::ShadowVmcs12Missing)));
    assert_eq!(r.map_err(SetError::errno), Err(Errno::Inval));
    let mut calls = loaded();
    calls.extend([
        C::SetRunPending(true),
        C::SetMtfPending(false),
        C::SetRunPending(false),
    ]);
    assert_eq!(m.calls, calls);
    assert!(m.vmxon && !m.run_pending);
}

/// -EFAULT from the shadow vmcs12 copy, nested_run_pending reset.
#[test]
fn shadow_vmcs12_copy_fault() {
    let mut m = model();
    m.user_fault_at = Some(SHADOW_VMCS12_OFFSET + 100);
    let h = header(GUEST_MODE | RUN_PENDING, MAX_SIZE);
    let r = set(&mut m, &h, &shadowing_vmcs12(), &shadow());
    assert_eq!(r, Err(SetError::Fault));
    let mut calls = loaded();
    calls.extend([
        C::SetRunPending(true),
        C::SetMtfPending(false),
        C::AllocShadowCache,
        C::ReadUser(Cache::ShadowVmcs12, SHADOW_VMCS12_OFFSET, VMCS12_LEN),
        C::SetRunPending(false),
    ]);
    assert_eq!(m.calls, calls);
    assert!(m.vmxon && !m.run_pending);
}

/// VMXON does not allocate the shadow vmcs12's cache (lifecycle.rs): a
/// state with one allocates it before reading it; a failure is the
/// allocation's errno, nothing read, nested_run_pending reset.
#[test]
fn a_shadow_vmcs12_is_read_into_a_cache_allocated_for_it() {
    let mut m = model();
    m.shadow_cache_fails = Some(-12);
    let h = header(GUEST_MODE | RUN_PENDING, MAX_SIZE);
    let r = set(&mut m, &h, &shadowing_vmcs12(), &shadow());
    assert_eq!(r, Err(SetError::ShadowCache(-12)));
    assert_eq!(r.map_err(SetError::errno), Err(Errno::Passed(-12)));
    let mut calls = loaded();
    calls.extend([
        C::SetRunPending(true),
        C::SetMtfPending(false),
        C::AllocShadowCache,
        C::SetRunPending(false),
    ]);
    assert_eq!(m.calls, calls);
    assert!(m.shadow_vmcs12.is_none() && !m.run_pending);
    // Without VMCS shadowing in vmcs12 nothing is allocated.
    let mut m = model();
    let h = header(GUEST_MODE, MAX_SIZE);
    let r = set(&mut m, &h, &valid_vmcs12(), &shadow());
    assert!(matches!(r, Ok(Restored::Vmx(Restore::GuestMode { .. }))));
    assert!(!m.calls.contains(&C::AllocShadowCache));
    assert!(m.shadow_vmcs12.is_none());
}

/// The shadow vmcs12's header is a plain check (not traced).
#[test]
fn shadow_vmcs12_header() {
    let mut m = model();
    let mut s = shadow();
    s.hdr = VmcsHdr(VMCS12_REVISION);
    let h = header(GUEST_MODE, MAX_SIZE);
    let r = set(&mut m, &h, &shadowing_vmcs12(), &s);
    assert_eq!(r, Err(SetError::Refused(StateError::ShadowVmcs12Revision)));
    assert!(!m.calls.iter().any(|c| matches!(c, C::TraceCheck(_))));
    let mut m = model();
    let r = set(&mut m, &h, &shadowing_vmcs12(), &shadow());
    assert!(matches!(r, Ok(Restored::Vmx(Restore::GuestMode { .. }))));
    assert_eq!(
        m.shadow_vmcs12.map(|c| vmcs12_bytes(&c)),
        Some(vmcs12_bytes(&shadow()))
    );
}

/// L2 not entered (a VM-entry failure or an internal error): the entry's
/// positive status, as nested.c returns it, run_pending reset, nothing
/// requested or counted.
#[test]
fn enter_non_root_mode_failure_returns_its_status() {
    for (entered, status) in [(Entered::VmExit, 2), (Entered::InternalError, 3)] {
        let mut m = model();
        m.entered = entered;
        let h = header(GUEST_MODE | RUN_PENDING | MTF_PENDING, MAX_SIZE);
        let r = set(&mut m, &h, &valid_vmcs12(), &shadow());
        assert_eq!(r, Err(SetError::EnterL2(entered)));
        assert_eq!(r.map_err(SetError::errno), Err(Errno::Status(status)));
        assert_eq!(m.calls.last(), Some(&C::SetRunPending(false)));
        assert!(!m.calls.contains(&C::RequestEvent));
        assert!(!m.calls.contains(&C::Count(StateStat::RestoreL2)));
        assert!(m.vmxon && !m.guest_mode && !m.run_pending);
    }
}

/// KVM_REQ_EVENT only with an MTF exit pending.
#[test]
fn event_request_only_with_mtf_pending() {
    let mut m = model();
    let r = set(
        &mut m,
        &header(GUEST_MODE, MAX_SIZE),
        &valid_vmcs12(),
        &shadow(),
    );
    assert!(r.is_ok());
    assert!(!m.calls.contains(&C::RequestEvent));
    assert_eq!(m.calls.last(), Some(&C::Count(StateStat::RestoreL2)));
}
