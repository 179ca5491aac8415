// SPDX-License-Identifier: GPL-2.0

//! A late VMfail: the CPU refused vmcs02 after KVM's own checks passed, so
//! L1 sees VMfailValid on its VMLAUNCH/VMRESUME, not an exit. Some of L2's
//! state already reached KVM's software model and is unwound to L1's as it
//! was at the instruction (vmcs01's guest state), not loaded from vmcs12's
//! host state: KVM's `nested_vmx_restore_host_state()`.

use crate::nested::entry_vcpu::EntryVcpu;
use crate::nested::host_load::l1_guest_owned_cr0_bits;
use crate::nested::msr_list;
use crate::nested::prepare02::DEBUGCTL_FREEZE_IN_SMM;
use crate::nested::reflect::guestdbg;
use crate::nested::vmexit::{abort, vmx_abort};
use crate::vmcs::controls::{EntryControls, ExitControls};
use crate::vmcs::table::encodings as e;

/// DR7's fixed bits.
const DR7_FIXED_1: u64 = 0x400;

/// KVM's `nested_vmx_get_vmcs01_guest_efer()`: L1's EFER as vmcs01 runs
/// it, wherever KVM keeps it.
pub fn vmcs01_guest_efer(k: &mut impl EntryVcpu) -> u64 {
    if EntryControls(k.vmcs01_controls().entry).contains(EntryControls::LOAD_IA32_EFER) {
        return k.vmread(e::GUEST_IA32_EFER);
    }
    let caps = k.l0_caps();
    if EntryControls(caps.config.entry).contains(EntryControls::LOAD_IA32_EFER)
        && ExitControls(caps.config.exit).contains(ExitControls::LOAD_IA32_EFER)
    {
        return caps.host_efer;
    }
    k.efer_in_msr_areas().unwrap_or(caps.host_efer)
}

/// KVM's `nested_vmx_restore_host_state()`, with vmcs01 current again.
pub fn restore_host_state(k: &mut impl EntryVcpu) {
    let Some((load_debug, entry_list, exit_list)) = k.vmcs12().map(|v| {
        (
            EntryControls(v.vm_entry_controls).contains(EntryControls::LOAD_DEBUG_CONTROLS),
            (v.vm_entry_msr_load_addr, v.vm_entry_msr_load_count),
            (v.vm_exit_msr_load_addr, v.vm_exit_msr_load_count),
        )
    }) else {
        return;
    };
    let pat = k.vmread(e::GUEST_IA32_PAT);
    k.set_pat(pat);
    if load_debug {
        // L1's DR7 is lost when userspace owns the debug registers, as in
        // nested.c (vmcs01's GUEST_DR7 is then userspace's).
        let dr7 = if k.guest_debug() & guestdbg::USE_HW_BP != 0 {
            DR7_FIXED_1
        } else {
            k.vmread(e::GUEST_DR7)
        };
        k.set_dr7(dr7);
    }
    // vmx_reload_guest_debugctl(): vmcs01 gets a fresh FREEZE_IN_SMM.
    let debugctl = k.vmread(e::GUEST_IA32_DEBUGCTL);
    let freeze = k.host_freeze_in_smm();
    if (debugctl & DEBUGCTL_FREEZE_IN_SMM) != freeze {
        k.vmwrite(
            e::GUEST_IA32_DEBUGCTL,
            (debugctl & !DEBUGCTL_FREEZE_IN_SMM) | freeze,
        );
    }
    let efer = vmcs01_guest_efer(k);
    k.set_efer(efer);
    let ept = k.enable_ept();
    k.set_cr0_guest_owned_bits(l1_guest_owned_cr0_bits(ept));
    let cr0 = k.vmread(e::CR0_READ_SHADOW);
    k.set_cr0(cr0);
    let cr4_mask = k.vmread(e::CR4_GUEST_HOST_MASK);
    k.set_cr4_guest_owned_bits(!cr4_mask);
    let cr4 = k.vmread(e::CR4_READ_SHADOW);
    k.set_cr4(cr4);
    k.ept_uninit_mmu();
    let cr3 = k.vmread(e::GUEST_CR3);
    k.restore_l1_cr3(cr3);
    let max = k.msr_list_max();
    if msr_list::restore_host_msrs(k, entry_list, exit_list, max).is_err() {
        vmx_abort(k, abort::LOAD_HOST_MSR_FAIL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nested::model::Model;
    use crate::nested::vcpu::Request;
    use crate::vmcs::layout::Vmcs12;

    #[test]
    fn l1_state_comes_from_vmcs01() {
        let v = Vmcs12 {
            vm_entry_controls: EntryControls::LOAD_DEBUG_CONTROLS.bits(),
            host_cr0: 0xdead,
            ..Vmcs12::default()
        };
        let mut m = Model::in_l2(v);
        m.on02 = false;
        for (f, val) in [
            (e::GUEST_IA32_PAT, 6),
            (e::GUEST_DR7, 0x401),
            (e::CR0_READ_SHADOW, 0x31),
            (e::CR4_READ_SHADOW, 0x2000),
            (e::GUEST_CR3, 0x3000),
            (e::GUEST_IA32_DEBUGCTL, DEBUGCTL_FREEZE_IN_SMM | 1),
        ] {
            m.vmcs01.insert(f.value(), val);
        }
        m.entry.caps.host_efer = 0xd01;
        restore_host_state(&mut m);
        assert_eq!(
            (m.pat, m.dr7, m.cr0, m.cr4, m.efer),
            (6, 0x401, 0x31, 0x2000, 0xd01)
        );
        assert_eq!(m.restored_cr3, Some(0x3000));
        assert_eq!(
            m.field(false, e::GUEST_IA32_DEBUGCTL),
            Some(1),
            "the host's FREEZE_IN_SMM"
        );
        // Userspace's hardware breakpoints own DR7.
        let mut m = Model::in_l2(v);
        m.guest_debug = guestdbg::USE_HW_BP;
        restore_host_state(&mut m);
        assert_eq!(m.dr7, DR7_FIXED_1);
    }

    #[test]
    fn vmcs01_efer_sources() {
        let mut m = Model::in_l2(Vmcs12::default());
        m.entry.caps.host_efer = 1;
        m.efer_in_areas = Some(2);
        assert_eq!(vmcs01_guest_efer(&mut m), 2);
        m.efer_in_areas = None;
        assert_eq!(vmcs01_guest_efer(&mut m), 1);
        m.entry.caps.config.entry = EntryControls::LOAD_IA32_EFER.bits();
        m.entry.caps.config.exit = ExitControls::LOAD_IA32_EFER.bits();
        m.efer_in_areas = Some(2);
        assert_eq!(
            vmcs01_guest_efer(&mut m),
            1,
            "loaded by the CPU: the host's"
        );
        m.entry.vmcs01.entry = EntryControls::LOAD_IA32_EFER.bits();
        m.vmcs02.insert(e::GUEST_IA32_EFER.value(), 3);
        assert_eq!(vmcs01_guest_efer(&mut m), 3, "vmcs01's own guest EFER");
    }

    #[test]
    fn unloadable_l1_msr_is_a_vmx_abort() {
        use crate::nested::msr_list::MsrEntry;
        // The entry list loaded MSR 0x10; the exit list's value for it is
        // refused.
        let v = Vmcs12 {
            vm_entry_msr_load_addr: 0x200,
            vm_entry_msr_load_count: 1,
            vm_exit_msr_load_addr: 0x100,
            vm_exit_msr_load_count: 1,
            ..Vmcs12::default()
        };
        let mut m = Model::in_l2(v);
        let entry = |value| MsrEntry {
            index: 0x10,
            reserved: 0,
            value,
        };
        m.msr_entries.insert(0x200, entry(1));
        m.msr_entries.insert(0x100, entry(2));
        restore_host_state(&mut m);
        assert!(m.requests.contains(&Request::TripleFault));
    }
}
