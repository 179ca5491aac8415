// SPDX-License-Identifier: GPL-2.0

//! A late VMfail: the CPU refused vmcs02 after KVM's own checks passed, so
//! L1 sees VMfailValid on its VMLAUNCH/VMRESUME, not an exit. Some of L2's
//! state already reached KVM's software model and is unwound to L1's, as it
//! was at the instruction (vmcs01's guest state), not loaded from vmcs12's
//! host state (KVM's `nested_vmx_restore_host_state()`).

use crate::bindings;
use crate::entry::{self, msr_list_max, MsrIo, DEBUGCTLMSR_FREEZE_IN_SMM};
use crate::ept;
use crate::exit;
use crate::hw;
use crate::msr_autostore;
use crate::nested::msr_list;
use crate::nested::reflect::guestdbg;
use crate::nvcpu::Nv;
use crate::vcpu::vmcs_config;
use crate::vmcs::controls::{EntryControls, ExitControls};
use crate::vmcs::table::encodings as e;

/// DR7's fixed bits.
const DR7_FIXED_1: u64 = 0x400;
/// MSR_EFER.
const MSR_EFER: u32 = 0xc000_0080;

/// KVM's `nested_vmx_get_vmcs01_guest_efer()`: L1's EFER as vmcs01 runs
/// it, wherever KVM keeps it.
fn vmcs01_guest_efer(nv: &mut Nv) -> u64 {
    if EntryControls(nv.controls_shadow().vm_entry).contains(EntryControls::LOAD_IA32_EFER) {
        return hw::read(e::GUEST_IA32_EFER);
    }
    let cfg = vmcs_config();
    // SAFETY: plain read of KVM's host EFER.
    let host_efer = unsafe { bindings::rnvmx_host_efer() };
    if EntryControls(cfg.vmentry_ctrl).contains(EntryControls::LOAD_IA32_EFER)
        && ExitControls(cfg.vmexit_ctrl).contains(ExitControls::LOAD_IA32_EFER)
    {
        return host_efer;
    }
    let autoload = &nv.vmx().msr_autoload.guest;
    if let Some(m) = msr_autostore::find_slot(autoload, MSR_EFER).and_then(|i| autoload.val.get(i))
    {
        return m.value;
    }
    // SAFETY: looks up KVM's user-return MSR slots; no precondition.
    let slot = unsafe { bindings::kvm_find_user_return_msr(MSR_EFER) };
    usize::try_from(slot)
        .ok()
        .and_then(|i| nv.vmx().guest_uret_msrs.get(i))
        .map_or(host_efer, |m| m.data)
}

/// KVM's `nested_vmx_restore_host_state()`, with vmcs01 current again.
pub(crate) fn restore_host_state(nv: &mut Nv) {
    let Some((load_debug, entry_list, exit_list)) = nv.vmcs12().map(|v| {
        (
            EntryControls(v.vm_entry_controls).contains(EntryControls::LOAD_DEBUG_CONTROLS),
            (v.vm_entry_msr_load_addr, v.vm_entry_msr_load_count),
            (v.vm_exit_msr_load_addr, v.vm_exit_msr_load_count),
        )
    }) else {
        return;
    };
    nv.arch().pat = hw::read(e::GUEST_IA32_PAT);
    if load_debug {
        // L1's DR7 is lost when userspace owns the debug registers, as in
        // nested.c (vmcs01's GUEST_DR7 is then userspace's).
        let dr7 = if nv.guest_debug() & u64::from(guestdbg::USE_HW_BP) != 0 {
            DR7_FIXED_1
        } else {
            hw::read(e::GUEST_DR7)
        };
        nv.set_dr7(dr7);
    }
    // vmx_reload_guest_debugctl(): vmcs01 gets a fresh FREEZE_IN_SMM.
    let debugctl = hw::read(e::GUEST_IA32_DEBUGCTL);
    let host = nv.arch().host_debugctl;
    if (debugctl ^ host) & DEBUGCTLMSR_FREEZE_IN_SMM != 0 {
        let val = (debugctl & !DEBUGCTLMSR_FREEZE_IN_SMM) | (host & DEBUGCTLMSR_FREEZE_IN_SMM);
        hw::write(e::GUEST_IA32_DEBUGCTL, val);
    }
    let efer = vmcs01_guest_efer(nv);
    nv.set_efer(efer);
    nv.arch().cr0_guest_owned_bits = exit::l1_guest_owned_cr0_bits() as usize;
    nv.set_cr0(hw::read(e::CR0_READ_SHADOW));
    nv.arch().cr4_guest_owned_bits = !hw::read(e::CR4_GUEST_HOST_MASK) as usize;
    nv.set_cr4(hw::read(e::CR4_READ_SHADOW));
    ept::uninit_mmu(nv);
    nv.arch().cr3 = hw::read(e::GUEST_CR3) as usize;
    let vcpu = nv.raw();
    // SAFETY: the vCPU is ours (Nv invariant) and vmcs01 is current, for
    // each call below; ept_save_pdptrs() reads vmcs01's PDPTRs.
    unsafe {
        bindings::rnvmx_register_mark_available(vcpu, bindings::kvm_reg_VCPU_EXREG_CR3 as i32);
        if entry::enable_ept() && bindings::rnvmx_is_pae_paging(vcpu) {
            bindings::ept_save_pdptrs(vcpu);
        }
        bindings::kvm_mmu_reset_context(vcpu);
    }
    let max = msr_list_max(nv);
    if msr_list::restore_host_msrs(&mut MsrIo(nv), entry_list, exit_list, max).is_err() {
        exit::abort(nv, exit::VMX_ABORT_LOAD_HOST_MSR_FAIL);
    }
}
