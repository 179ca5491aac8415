// SPDX-License-Identifier: GPL-2.0

//! KVM_GET/SET_NESTED_STATE for VMX: the `struct kvm_nested_state` header,
//! byte for byte as the uapi (arch/x86/include/uapi/asm/kvm.h), and the
//! checks of KVM's `vmx_set_nested_state()` on what userspace hands in, each
//! failure named (the ioctl returns -EINVAL for all of them).
//!
//! KVM validates in two phases with side effects between them: the header
//! ([`check_header`]), then `vmx_leave_nested()` and, with a VMXON region,
//! `enter_vmx_operation()`, then the vmcs12 part ([`check_vmcs12_part`]).
//! A failure in the second phase leaves the vCPU in VMX operation, as in
//! KVM; a backend reproduces that order to stay bit-compatible.

use super::rsm::check_restored_vmcs12;
use crate::vmcs::checks::{Check, Vcpu};
use crate::vmcs::controls::{Secondary, Vmcs12Controls};
use crate::vmcs::layout::{Vmcs12, VMCS12_REVISION, VMCS12_SIZE};
use crate::vmcs::x86::{page_address_valid, INVALID_GPA};

/// `KVM_STATE_NESTED_FORMAT_VMX`.
pub const FORMAT_VMX: u16 = 0;
/// Size of the header, before the data.
pub const HEADER_SIZE: usize = 128;
/// Offset of the vmcs12 in the blob.
pub const VMCS12_OFFSET: usize = HEADER_SIZE;
/// Offset of the shadow vmcs12 in the blob.
pub const SHADOW_VMCS12_OFFSET: usize = HEADER_SIZE + VMCS12_SIZE;
/// Largest state: header, vmcs12, shadow vmcs12 (what get_state(NULL)
/// reports).
pub const MAX_SIZE: usize = HEADER_SIZE + 2 * VMCS12_SIZE;

/// `kvm_nested_state.flags`.
pub mod flags {
    /// KVM_STATE_NESTED_GUEST_MODE.
    pub const GUEST_MODE: u16 = 0x1;
    /// KVM_STATE_NESTED_RUN_PENDING.
    pub const RUN_PENDING: u16 = 0x2;
    /// KVM_STATE_NESTED_EVMCS.
    pub const EVMCS: u16 = 0x4;
    /// KVM_STATE_NESTED_MTF_PENDING.
    pub const MTF_PENDING: u16 = 0x8;
    /// KVM_STATE_NESTED_SMM_GUEST_MODE (in `smm_flags`).
    pub const SMM_GUEST_MODE: u16 = 0x1;
    /// KVM_STATE_NESTED_SMM_VMXON (in `smm_flags`).
    pub const SMM_VMXON: u16 = 0x2;
    /// KVM_STATE_VMX_PREEMPTION_TIMER_DEADLINE (in `vmx_flags`).
    pub const PREEMPTION_TIMER_DEADLINE: u32 = 0x1;
}

/// The VMX header of `struct kvm_nested_state`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// `flags`.
    pub flags: u16,
    /// `format`.
    pub format: u16,
    /// `size`: of the whole state, header included.
    pub size: u32,
    /// `hdr.vmx.vmxon_pa`.
    pub vmxon_pa: u64,
    /// `hdr.vmx.vmcs12_pa`.
    pub vmcs12_pa: u64,
    /// `hdr.vmx.smm.flags`.
    pub smm_flags: u16,
    /// `hdr.vmx.flags`.
    pub vmx_flags: u32,
    /// `hdr.vmx.preemption_timer_deadline`.
    pub preemption_timer_deadline: u64,
}

/// `N` bytes of the header at `at` (zeros past its end, which the
/// constant offsets below never reach).
fn field<const N: usize>(b: &[u8; HEADER_SIZE], at: usize) -> [u8; N] {
    let mut v = [0u8; N];
    if let Some(src) = b.get(at..at.saturating_add(N)) {
        v.copy_from_slice(src);
    }
    v
}

fn put(b: &mut [u8; HEADER_SIZE], at: usize, bytes: &[u8]) {
    if let Some(dst) = b.get_mut(at..at.saturating_add(bytes.len())) {
        dst.copy_from_slice(bytes);
    }
}

impl Header {
    /// The header as KVM reports a vCPU that is not in VMX operation.
    pub const fn not_in_vmx_operation() -> Self {
        Header {
            flags: 0,
            format: FORMAT_VMX,
            size: HEADER_SIZE as u32,
            vmxon_pa: INVALID_GPA,
            vmcs12_pa: INVALID_GPA,
            smm_flags: 0,
            vmx_flags: 0,
            preemption_timer_deadline: 0,
        }
    }

    /// Decodes the first 128 bytes of a state (offsets as the uapi).
    pub fn decode(b: &[u8; HEADER_SIZE]) -> Self {
        Header {
            flags: u16::from_le_bytes(field(b, 0)),
            format: u16::from_le_bytes(field(b, 2)),
            size: u32::from_le_bytes(field(b, 4)),
            vmxon_pa: u64::from_le_bytes(field(b, 8)),
            vmcs12_pa: u64::from_le_bytes(field(b, 16)),
            smm_flags: u16::from_le_bytes(field(b, 24)),
            vmx_flags: u32::from_le_bytes(field(b, 28)),
            preemption_timer_deadline: u64::from_le_bytes(field(b, 32)),
        }
    }

    /// Encodes the header; padding is zero.
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        put(&mut b, 0, &self.flags.to_le_bytes());
        put(&mut b, 2, &self.format.to_le_bytes());
        put(&mut b, 4, &self.size.to_le_bytes());
        put(&mut b, 8, &self.vmxon_pa.to_le_bytes());
        put(&mut b, 16, &self.vmcs12_pa.to_le_bytes());
        put(&mut b, 24, &self.smm_flags.to_le_bytes());
        put(&mut b, 28, &self.vmx_flags.to_le_bytes());
        put(&mut b, 32, &self.preemption_timer_deadline.to_le_bytes());
        b
    }
}

/// Why a state is refused (-EINVAL), by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateError {
    /// `format` is not VMX.
    NotVmxFormat,
    /// SMM flags without a VMXON region.
    SmmFlagsWithoutVmxon,
    /// A vmcs12 address without a VMXON region.
    Vmcs12WithoutVmxon,
    /// Flags other than EVMCS without a VMXON region.
    FlagsWithoutVmxon,
    /// A VMXON region for a vCPU without VMX in CPUID.
    VmxNotInCpuid,
    /// VMXON region not a legal page address.
    VmxonAddress,
    /// SMM guest mode together with guest mode.
    SmmGuestModeWithGuestMode,
    /// Unknown SMM flags.
    SmmFlagsReserved,
    /// Unknown VMX flags.
    VmxFlagsReserved,
    /// In SMM, guest mode or a pending VM-entry.
    GuestModeInSmm,
    /// SMM flags while the vCPU is not in SMM.
    SmmFlagsOutsideSmm,
    /// SMM guest mode without SMM VMXON.
    SmmGuestModeWithoutSmmVmxon,
    /// EVMCS flag without eVMCS enabled (or without VMX).
    EvmcsNotEnabled,
    /// Guest mode, EVMCS or a vmcs12 address, but no vmcs12 in the state.
    Vmcs12Missing,
    /// vmcs12 address equal to the VMXON region or not a legal page.
    Vmcs12Address,
    /// Neither a vmcs12 address nor an enlightened VMCS.
    NoCurrentVmcs,
    /// vmcs12 revision is not VMCS12_REVISION.
    Vmcs12Revision,
    /// Guest mode with a shadow VMCS, but no shadow vmcs12 in the state.
    ShadowVmcs12Missing,
    /// Shadow vmcs12 revision wrong or its shadow indicator clear.
    ShadowVmcs12Revision,
    /// Guest mode, and vmcs12 fails a VM-entry check.
    EntryCheck(Check),
}

impl StateError {
    /// The check KVM's `CC()` reports as `kvm_nested_vmenter_failed` for
    /// this refusal: only the VM-entry checks of a guest-mode state are
    /// made with `CC()`; the state's own checks are plain tests.
    pub fn traced_check(self) -> Option<Check> {
        match self {
            StateError::EntryCheck(check) => Some(check),
            _ => None,
        }
    }
}

/// What `vmx_set_nested_state()` depends on besides the state.
#[derive(Clone, Copy, Debug, Default)]
pub struct SetStateEnv {
    /// The vCPU's CPUID has VMX.
    pub vmx_in_cpuid: bool,
    /// The vCPU's MAXPHYADDR.
    pub maxphyaddr: u32,
    /// The vCPU is in SMM.
    pub in_smm: bool,
    /// eVMCS is enabled for the vCPU (KVM_CAP_HYPERV_ENLIGHTENED_VMCS).
    pub evmcs_enabled: bool,
}

/// Phase 1: the header, before any side effect. `Ok(true)`: go on with
/// leave-nested, enter VMX operation and phase 2; `Ok(false)`: only leave
/// nested operation (no VMXON region).
pub fn check_header(h: &Header, env: &SetStateEnv) -> Result<bool, StateError> {
    use flags::*;
    if h.format != FORMAT_VMX {
        return Err(StateError::NotVmxFormat);
    }
    let vmxon = h.vmxon_pa != INVALID_GPA;
    if !vmxon {
        if h.smm_flags != 0 {
            return Err(StateError::SmmFlagsWithoutVmxon);
        }
        if h.vmcs12_pa != INVALID_GPA {
            return Err(StateError::Vmcs12WithoutVmxon);
        }
        // EVMCS is tolerated for backwards compatibility.
        if h.flags & !EVMCS != 0 {
            return Err(StateError::FlagsWithoutVmxon);
        }
    } else {
        if !env.vmx_in_cpuid {
            return Err(StateError::VmxNotInCpuid);
        }
        if !page_address_valid(h.vmxon_pa, env.maxphyaddr) {
            return Err(StateError::VmxonAddress);
        }
    }
    if h.smm_flags & SMM_GUEST_MODE != 0 && h.flags & GUEST_MODE != 0 {
        return Err(StateError::SmmGuestModeWithGuestMode);
    }
    if h.smm_flags & !(SMM_GUEST_MODE | SMM_VMXON) != 0 {
        return Err(StateError::SmmFlagsReserved);
    }
    if h.vmx_flags & !PREEMPTION_TIMER_DEADLINE != 0 {
        return Err(StateError::VmxFlagsReserved);
    }
    if env.in_smm {
        if h.flags & (GUEST_MODE | RUN_PENDING) != 0 {
            return Err(StateError::GuestModeInSmm);
        }
    } else if h.smm_flags != 0 {
        return Err(StateError::SmmFlagsOutsideSmm);
    }
    if h.smm_flags & SMM_GUEST_MODE != 0 && h.smm_flags & SMM_VMXON == 0 {
        return Err(StateError::SmmGuestModeWithoutSmmVmxon);
    }
    if h.flags & EVMCS != 0 && (!env.vmx_in_cpuid || !env.evmcs_enabled) {
        return Err(StateError::EvmcsNotEnabled);
    }
    Ok(vmxon)
}

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

/// Phase 2, in VMX operation: the vmcs12 part of a state of `size` bytes.
/// `vmcs12` and `shadow` are the state's copies (the caller reads them from
/// userspace only when `size` covers them; `None` if it does not).
pub fn check_vmcs12_part(
    h: &Header,
    env: &SetStateEnv,
    vmcs12: Option<&Vmcs12>,
    shadow: Option<&Vmcs12>,
    vcpu: &mut impl Vcpu,
) -> Result<Restore, StateError> {
    use flags::*;
    let size = h.size as usize;
    let Some(vmcs12) = vmcs12.filter(|_| size >= HEADER_SIZE + core::mem::size_of::<Vmcs12>())
    else {
        // "Empty VMXON state is permitted if no VMCS loaded."
        return if h.flags & (GUEST_MODE | EVMCS) != 0 || h.vmcs12_pa != INVALID_GPA {
            Err(StateError::Vmcs12Missing)
        } else {
            Ok(Restore::VmxonOnly)
        };
    };
    check_vmcs12_address(h, env)?;
    if vmcs12.hdr.revision_id() != VMCS12_REVISION {
        return Err(StateError::Vmcs12Revision);
    }
    if h.flags & GUEST_MODE == 0 {
        return Ok(Restore::Vmcs12Loaded);
    }
    // KVM compares against sizeof(user data vmcs12) = 4 KiB + sizeof(vmcs12).
    let shadow = shadow.filter(|_| size >= SHADOW_VMCS12_OFFSET + core::mem::size_of::<Vmcs12>());
    // KVM sets nested_run_pending from RUN_PENDING before these checks:
    // `vcpu` must report it so (it decides whether guest EFER is checked).
    check_restored_vmcs12(vmcs12, shadow, vcpu)?;
    Ok(Restore::GuestMode {
        run_pending: h.flags & RUN_PENDING != 0,
        mtf_pending: h.flags & MTF_PENDING != 0,
        preemption_timer_deadline: (h.vmx_flags & PREEMPTION_TIMER_DEADLINE != 0)
            .then_some(h.preemption_timer_deadline),
    })
}

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

#[cfg(test)]
mod tests {
    use super::flags::*;
    use super::*;
    use crate::vmcs::checks::tests::{baseline, Model};
    use crate::vmcs::layout::VmcsHdr;

    fn env() -> SetStateEnv {
        SetStateEnv {
            vmx_in_cpuid: true,
            maxphyaddr: 46,
            in_smm: false,
            evmcs_enabled: false,
        }
    }

    fn vmxon(flags: u16) -> Header {
        Header {
            flags,
            size: MAX_SIZE as u32,
            vmxon_pa: 0x1000,
            vmcs12_pa: 0x2000,
            ..Header::not_in_vmx_operation()
        }
    }

    #[test]
    fn header_layout_is_the_uapi() {
        let h = Header {
            flags: 0x0102,
            format: 0,
            size: 0x2080,
            vmxon_pa: 0x1122_3344_5566_7788,
            vmcs12_pa: 0x99aa_bbcc_ddee_ff00,
            smm_flags: 0x0304,
            vmx_flags: 0x0506_0708,
            preemption_timer_deadline: 0x0a0b_0c0d_0e0f_1011,
        };
        let b = h.encode();
        assert_eq!(&b[0..8], &[0x02, 0x01, 0, 0, 0x80, 0x20, 0, 0]);
        assert_eq!(b[8], 0x88);
        assert_eq!(b[16], 0x00);
        assert_eq!(&b[24..26], &[0x04, 0x03]);
        assert_eq!(&b[26..28], &[0, 0], "pad");
        assert_eq!(&b[28..32], &[0x08, 0x07, 0x06, 0x05]);
        assert_eq!(b[32], 0x11);
        assert!(b[40..].iter().all(|&x| x == 0));
        assert_eq!(Header::decode(&b), h);
        assert_eq!(MAX_SIZE, 8320);
    }

    #[test]
    fn not_in_vmx_operation() {
        let h = Header::not_in_vmx_operation();
        assert_eq!(check_header(&h, &env()), Ok(false));
        // Tolerated for compatibility without a VMXON region, but only
        // where eVMCS is enabled: KVM's later EVMCS check still applies.
        let h = Header { flags: EVMCS, ..h };
        let evmcs = SetStateEnv {
            evmcs_enabled: true,
            ..env()
        };
        assert_eq!(check_header(&h, &evmcs), Ok(false));
        assert_eq!(check_header(&h, &env()), Err(StateError::EvmcsNotEnabled));
        let bad = [
            (
                Header {
                    flags: GUEST_MODE,
                    ..h
                },
                StateError::FlagsWithoutVmxon,
            ),
            (
                Header {
                    smm_flags: SMM_VMXON,
                    ..h
                },
                StateError::SmmFlagsWithoutVmxon,
            ),
            (
                Header {
                    vmcs12_pa: 0x2000,
                    ..h
                },
                StateError::Vmcs12WithoutVmxon,
            ),
            (Header { format: 1, ..h }, StateError::NotVmxFormat),
        ];
        for (h, e) in bad {
            assert_eq!(check_header(&h, &evmcs), Err(e));
        }
    }

    #[test]
    fn header_checks() {
        assert_eq!(check_header(&vmxon(0), &env()), Ok(true));
        let no_vmx = SetStateEnv {
            vmx_in_cpuid: false,
            ..env()
        };
        assert_eq!(
            check_header(&vmxon(0), &no_vmx),
            Err(StateError::VmxNotInCpuid)
        );
        let h = Header {
            vmxon_pa: 0x1001,
            ..vmxon(0)
        };
        assert_eq!(check_header(&h, &env()), Err(StateError::VmxonAddress));
        let h = Header {
            smm_flags: SMM_GUEST_MODE | SMM_VMXON,
            ..vmxon(GUEST_MODE)
        };
        assert_eq!(
            check_header(&h, &env()),
            Err(StateError::SmmGuestModeWithGuestMode)
        );
        let h = Header {
            smm_flags: 4,
            ..vmxon(0)
        };
        assert_eq!(check_header(&h, &env()), Err(StateError::SmmFlagsReserved));
        let h = Header {
            vmx_flags: 2,
            ..vmxon(0)
        };
        assert_eq!(check_header(&h, &env()), Err(StateError::VmxFlagsReserved));
        let smm = SetStateEnv {
            in_smm: true,
            ..env()
        };
        assert_eq!(
            check_header(&vmxon(RUN_PENDING), &smm),
            Err(StateError::GuestModeInSmm)
        );
        let h = Header {
            smm_flags: SMM_VMXON,
            ..vmxon(0)
        };
        assert_eq!(
            check_header(&h, &env()),
            Err(StateError::SmmFlagsOutsideSmm)
        );
        assert_eq!(check_header(&h, &smm), Ok(true));
        let h = Header {
            smm_flags: SMM_GUEST_MODE,
            ..vmxon(0)
        };
        assert_eq!(
            check_header(&h, &smm),
            Err(StateError::SmmGuestModeWithoutSmmVmxon)
        );
        assert_eq!(
            check_header(&vmxon(EVMCS), &env()),
            Err(StateError::EvmcsNotEnabled)
        );
        let evmcs = SetStateEnv {
            evmcs_enabled: true,
            ..env()
        };
        assert_eq!(check_header(&vmxon(EVMCS), &evmcs), Ok(true));
    }

    proptest::proptest! {
        /// Without a VMXON region the outcome does not depend on the vCPU
        /// (CPUID, SMM), only on the header and on eVMCS being enabled.
        #[test]
        fn no_vmxon_ignores_the_vcpu(flags in 0u16..=0xffff, smm in 0u16..8, vmx_flags in 0u32..4, evmcs in proptest::bool::ANY) {
            let h = Header { flags, smm_flags: smm, vmx_flags, ..Header::not_in_vmx_operation() };
            let base = SetStateEnv { evmcs_enabled: evmcs, ..SetStateEnv::default() };
            let r = check_header(&h, &base);
            for (vmx, in_smm) in [(false, true), (true, false), (true, true)] {
                let e = SetStateEnv { vmx_in_cpuid: vmx, in_smm, ..base };
                let other = check_header(&h, &e);
                // Only the EVMCS check consults CPUID once eVMCS is enabled.
                if !(evmcs && flags & EVMCS != 0) {
                    proptest::prop_assert_eq!(other, r);
                }
            }
        }
    }

    fn valid_vmcs12() -> Vmcs12 {
        let (mut v, _) = baseline();
        v.hdr = VmcsHdr(VMCS12_REVISION);
        v
    }

    #[test]
    fn vmcs12_part() {
        let mut m = Model::new();
        let v = valid_vmcs12();
        let empty = Header {
            size: HEADER_SIZE as u32,
            vmcs12_pa: INVALID_GPA,
            ..vmxon(0)
        };
        assert_eq!(
            check_vmcs12_part(&empty, &env(), None, None, &mut m),
            Ok(Restore::VmxonOnly)
        );
        let h = Header {
            size: HEADER_SIZE as u32,
            ..vmxon(0)
        };
        assert_eq!(
            check_vmcs12_part(&h, &env(), Some(&v), None, &mut m),
            Err(StateError::Vmcs12Missing)
        );
        assert_eq!(
            check_vmcs12_part(&vmxon(0), &env(), Some(&v), None, &mut m),
            Ok(Restore::Vmcs12Loaded)
        );
        let h = Header {
            vmcs12_pa: 0x1000,
            ..vmxon(0)
        };
        assert_eq!(
            check_vmcs12_part(&h, &env(), Some(&v), None, &mut m),
            Err(StateError::Vmcs12Address)
        );
        let h = Header {
            vmcs12_pa: INVALID_GPA,
            ..vmxon(0)
        };
        assert_eq!(
            check_vmcs12_part(&h, &env(), Some(&v), None, &mut m),
            Err(StateError::NoCurrentVmcs)
        );
        let mut bad = v;
        bad.hdr = VmcsHdr(1);
        assert_eq!(
            check_vmcs12_part(&vmxon(0), &env(), Some(&bad), None, &mut m),
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
            ..vmxon(GUEST_MODE | RUN_PENDING)
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
        let e = check_vmcs12_part(&vmxon(GUEST_MODE), &env(), Some(&bad), None, &mut m);
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
        let h = vmxon(GUEST_MODE);
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
