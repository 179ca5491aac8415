// SPDX-License-Identifier: GPL-2.0

//! The first phase of KVM's `vmx_set_nested_state()`: the checks of the
//! state's header, before any side effect on the vCPU. Each failure is
//! named (`StateError`); the ioctl returns -EINVAL for all of them.

use super::state::{flags, Header, SetStateEnv, StateError, FORMAT_VMX};
use crate::vmcs::x86::{page_address_valid, INVALID_GPA};

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

#[cfg(test)]
mod tests {
    use super::flags::*;
    use super::*;
    use crate::nested::state_set_tests::{env, vmxon_header};

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
        assert_eq!(check_header(&vmxon_header(0), &env()), Ok(true));
        let no_vmx = SetStateEnv {
            vmx_in_cpuid: false,
            ..env()
        };
        assert_eq!(
            check_header(&vmxon_header(0), &no_vmx),
            Err(StateError::VmxNotInCpuid)
        );
        let h = Header {
            vmxon_pa: 0x1001,
            ..vmxon_header(0)
        };
        assert_eq!(check_header(&h, &env()), Err(StateError::VmxonAddress));
        let h = Header {
            smm_flags: SMM_GUEST_MODE | SMM_VMXON,
            ..vmxon_header(GUEST_MODE)
        };
        assert_eq!(
            check_header(&h, &env()),
            Err(StateError::SmmGuestModeWithGuestMode)
        );
        let h = Header {
            smm_flags: 4,
            ..vmxon_header(0)
        };
        assert_eq!(check_header(&h, &env()), Err(StateError::SmmFlagsReserved));
        let h = Header {
            vmx_flags: 2,
            ..vmxon_header(0)
        };
        assert_eq!(check_header(&h, &env()), Err(StateError::VmxFlagsReserved));
        let smm = SetStateEnv {
            in_smm: true,
            ..env()
        };
        assert_eq!(
            check_header(&vmxon_header(RUN_PENDING), &smm),
            Err(StateError::GuestModeInSmm)
        );
        let h = Header {
            smm_flags: SMM_VMXON,
            ..vmxon_header(0)
        };
        assert_eq!(
            check_header(&h, &env()),
            Err(StateError::SmmFlagsOutsideSmm)
        );
        assert_eq!(check_header(&h, &smm), Ok(true));
        let h = Header {
            smm_flags: SMM_GUEST_MODE,
            ..vmxon_header(0)
        };
        assert_eq!(
            check_header(&h, &smm),
            Err(StateError::SmmGuestModeWithoutSmmVmxon)
        );
        assert_eq!(
            check_header(&vmxon_header(EVMCS), &env()),
            Err(StateError::EvmcsNotEnabled)
        );
        let evmcs = SetStateEnv {
            evmcs_enabled: true,
            ..env()
        };
        assert_eq!(check_header(&vmxon_header(EVMCS), &evmcs), Ok(true));
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
}
