// SPDX-License-Identifier: GPL-2.0

//! VMFUNC executed by L2 (SDM Vol. 3C 26.5.6 "VM Functions", 26.5.6.3
//! "EPTP Switching"): KVM's `handle_vmfunc()` and
//! `nested_vmx_eptp_switching()`, which emulate EPTP switching for L1.

use crate::vmcs::checks::{controls::check_eptp, Vcpu};
use crate::vmcs::controls::{Secondary, Vmcs12Controls};
use crate::vmcs::layout::Vmcs12;

/// Entries of the EPTP list (one 4 KiB page of EPTPs).
pub const EPTP_ENTRIES: u64 = 512;

/// What VMFUNC does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vmfunc {
    /// #UD: VMFUNC was not enabled for L2, or the function number is out
    /// of range (KVM treats both as impossible and WARNs; here they are a
    /// plain #UD, as architecturally for a disabled VMFUNC).
    InvalidOpcode,
    /// The function fails: a VMFUNC exit to L1.
    ExitToL1,
    /// EPTP switching to the same EPTP: nothing to do but skip VMFUNC.
    Unchanged,
    /// EPTP switching: vmcs12's EPT pointer becomes `eptp`; `flush_tlb`
    /// when L2 has no VPID of its own.
    Switch {
        /// The new EPT pointer.
        eptp: u64,
        /// Flush L2's TLB entries (no VPID).
        flush_tlb: bool,
    },
}

/// VMFUNC with function `eax` and index `ecx`; `read_eptp` reads the
/// 8-byte entry at a guest-physical address of the EPTP list.
pub fn vmfunc(
    v: &Vmcs12,
    eax: u64,
    ecx: u64,
    mut read_eptp: impl FnMut(u64) -> Option<u64>,
    vcpu: &impl Vcpu,
) -> Vmfunc {
    let c = Vmcs12Controls::of(v);
    if eax > 63 || !c.sec.contains(Secondary::ENABLE_VMFUNC) {
        return Vmfunc::InvalidOpcode;
    }
    if v.vm_function_control & (1 << eax) == 0 || eax != 0 {
        return Vmfunc::ExitToL1;
    }
    // Function 0, EPTP switching (bit 0 of the VM-function controls).
    if !c.has_ept() {
        return Vmfunc::ExitToL1; // KVM: WARN_ON_ONCE, then exit to L1
    }
    let index = ecx & 0xffff_ffff;
    if index >= EPTP_ENTRIES {
        return Vmfunc::ExitToL1;
    }
    let Some(eptp) = read_eptp(v.eptp_list_address.wrapping_add(index * 8)) else {
        return Vmfunc::ExitToL1;
    };
    if eptp == v.ept_pointer {
        return Vmfunc::Unchanged;
    }
    if check_eptp(eptp, vcpu).is_err() {
        return Vmfunc::ExitToL1;
    }
    Vmfunc::Switch {
        eptp,
        flush_tlb: !c.sec.contains(Secondary::ENABLE_VPID),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmcs::checks::tests::{baseline, Model};

    fn setup() -> (Vmcs12, Model) {
        let (mut v, m) = baseline();
        v.secondary_vm_exec_control |= Secondary::ENABLE_VMFUNC.bits();
        v.vm_function_control = 1;
        v.eptp_list_address = 0x8000;
        (v, m)
    }

    const OTHER: u64 = 0x2000_0000 | 6 | 0x18;

    fn list(gpa: u64) -> Option<u64> {
        match gpa {
            0x8000 => Some(0x1000_0000 | 6 | 0x18),
            0x8008 => Some(OTHER),
            0x8010 => Some(OTHER | 1), // invalid memory type
            _ => None,
        }
    }

    #[test]
    fn eptp_switching() {
        let (v, m) = setup();
        assert_eq!(vmfunc(&v, 0, 0, list, &m), Vmfunc::Unchanged);
        assert_eq!(
            vmfunc(&v, 0, 1, list, &m),
            Vmfunc::Switch {
                eptp: OTHER,
                flush_tlb: false
            }
        );
        assert_eq!(vmfunc(&v, 0, 2, list, &m), Vmfunc::ExitToL1, "bad EPTP");
        assert_eq!(vmfunc(&v, 0, 3, list, &m), Vmfunc::ExitToL1, "unreadable");
        assert_eq!(vmfunc(&v, 0, 512, list, &m), Vmfunc::ExitToL1, "index");
        assert_eq!(
            vmfunc(&v, 0, 1 << 32 | 1, list, &m),
            Vmfunc::Switch {
                eptp: OTHER,
                flush_tlb: false
            },
            "ECX"
        );
        let mut no_vpid = v;
        no_vpid.secondary_vm_exec_control &= !Secondary::ENABLE_VPID.bits();
        assert_eq!(
            vmfunc(&no_vpid, 0, 1, list, &m),
            Vmfunc::Switch {
                eptp: OTHER,
                flush_tlb: true
            }
        );
    }

    #[test]
    fn other_functions_and_disabled_vmfunc() {
        let (v, m) = setup();
        assert_eq!(vmfunc(&v, 1, 0, list, &m), Vmfunc::ExitToL1);
        assert_eq!(vmfunc(&v, 64, 0, list, &m), Vmfunc::InvalidOpcode);
        let mut disabled = v;
        disabled.vm_function_control = 0;
        assert_eq!(vmfunc(&disabled, 0, 0, list, &m), Vmfunc::ExitToL1);
        disabled.secondary_vm_exec_control &= !Secondary::ENABLE_VMFUNC.bits();
        assert_eq!(vmfunc(&disabled, 0, 0, list, &m), Vmfunc::InvalidOpcode);
    }
}
