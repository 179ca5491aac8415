// SPDX-License-Identifier: GPL-2.0

//! A nested VM exit: whether an exit from L2 goes to L1 (KVM's
//! nested_vmx_reflect_vmexit()), and the exit itself: vmcs12 updated from
//! vmcs02 (sync_vmcs02_to_vmcs12(), prepare_vmcs12()), back to vmcs01,
//! L1's host state loaded (load_vmcs12_host_state()).

use crate::bindings;
use crate::hw;
use crate::nested::reflect::{self, Exit, L1Memory};
use crate::nested::reflect_exit::{self, ReflectVcpu};
use crate::nested::vmcs02;
use crate::nested::vmexit;
use crate::nvcpu::vf;
use crate::nvcpu::Nv;
use crate::nvcpu_mem::GuestMem;
use crate::trace;
use crate::vmcs::table::encodings as e;

/// L1 memory for the core's bitmap lookups.
pub(crate) struct L1Mem(pub(crate) GuestMem);

impl L1Memory for L1Mem {
    #[inline]
    fn read_u8(&mut self, gpa: u64) -> Option<u8> {
        self.0.read_u8(gpa)
    }
}

// The vCPU state the core's `l0_wants_exception()` asks about.
impl reflect::L0ExceptionState for Nv {
    fn guest_debug(&self) -> u32 {
        Nv::guest_debug(self) as u32
    }
    fn l0_handles_page_faults(&mut self) -> bool {
        let apf = vf!(self, vcpu.arch.apf.host_apf_flags) != 0;
        // SAFETY: the vCPU is ours (Nv invariant).
        apf || unsafe { bindings::rnvmx_need_pf_intercept(self.raw()) }
    }
    fn guest_takes_ac(&mut self) -> bool {
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::vmx_guest_inject_ac(self.raw()) }
    }
}

impl ReflectVcpu for Nv {
    fn guest_has_sgx(&mut self) -> bool {
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::rnvmx_guest_has_sgx(self.raw()) }
    }
    #[inline]
    fn l1_wants_exit(&mut self, exit: &Exit) -> bool {
        self.vmcs12_and_mem()
            .is_some_and(|(v, mem)| reflect::l1_wants_exit(v, exit, &mut L1Mem(mem)))
    }
    #[inline]
    fn trace_vmexit(&mut self) {
        trace::nested_vmexit(self)
    }
    fn trace_hw_vmfail(&mut self, error: u32) {
        trace::hardware_vmfail(error)
    }
    #[inline]
    fn l0_handles_vmcall(&mut self) -> bool {
        crate::evmcs_vcpu::l0_handles_vmcall(self)
    }
    fn exit_intr_info(&mut self) -> u32 {
        // vmx_get_intr_info(): read once per exit, then KVM's handlers
        // (and the reflection) use the cached copy.
        const BIT: u32 = 1 << bindings::kvm_reg_VCPU_EXREG_EXIT_INFO_2;
        if vf!(self, vcpu.arch.regs_avail) & BIT == 0 {
            vf!(self, vcpu.arch.regs_avail) |= BIT;
            vf!(self, exit_intr_info) = hw::read(e::VM_EXIT_INTR_INFO) as u32;
        }
        vf!(self, exit_intr_info)
    }
    fn exit_qual(&mut self) -> u64 {
        // vmx_get_exit_qual(), likewise.
        const BIT: u32 = 1 << bindings::kvm_reg_VCPU_EXREG_EXIT_INFO_1;
        if vf!(self, vcpu.arch.regs_avail) & BIT == 0 {
            vf!(self, vcpu.arch.regs_avail) |= BIT;
            vf!(self, exit_qualification) = hw::read(e::EXIT_QUALIFICATION) as _;
        }
        vf!(self, exit_qualification) as u64
    }
}

/// KVM's `nested_vmx_reflect_vmexit()` (the core's): true if the exit went
/// to L1.
pub(crate) fn reflect(nv: &mut Nv) -> bool {
    reflect_exit::reflect_vmexit(nv)
}

/// KVM's `nested_vmx_vmexit()` (the core's sequence). `reason` is `None`
/// for KVM's -1: leave L2 without telling L1 (forced exits).
pub(crate) fn nested_vmx_vmexit(nv: &mut Nv, reason: Option<u32>, info: u32, qual: u64) {
    vmexit::nested_vmx_vmexit(nv, reason.map(|r| (r, info, qual)));
}

/// Reads the rarely changing guest state from the current VMCS (vmcs02)
/// into vmcs12 (KVM's sync_vmcs02_to_vmcs12_rare()).
fn sync_rare_from_current(nv: &mut Nv) {
    if let Some(v) = nv.vmcs12() {
        vmcs02::sync_rare_rows(v, hw::read);
    }
    vf!(nv, nested.need_sync_vmcs02_to_vmcs12_rare) = false;
}

/// nested.c's `sync_vmcs02_to_vmcs12_rare()` at an eVMCS exit (the core's
/// rows, `vmcs02::sync_evmcs_rare_rows`): what the lazy sync would read,
/// but the SYSENTER MSRs, as nested.c. The lazy sync is then not needed.
/// Outside L2 (KVM_GET_NESTED_STATE never is), vmcs02 is loaded for the
/// duration.
pub(crate) fn sync_evmcs_rare(nv: &mut Nv) {
    fn from_current(nv: &mut Nv) {
        if let Some(v) = nv.vmcs12() {
            vmcs02::sync_evmcs_rare_rows(v, hw::read);
        }
        vf!(nv, nested.need_sync_vmcs02_to_vmcs12_rare) = false;
    }
    if nv.on_vmcs02() {
        from_current(nv);
        return;
    }
    nv.with_vmcs02_loaded(from_current);
}

/// KVM's `copy_vmcs02_to_vmcs12_rare()`: the lazily synced state, before
/// L1 or userspace looks at it. Outside L2, vmcs02 is loaded for the
/// duration.
pub(crate) fn sync_rare(nv: &mut Nv) {
    if !vf!(nv, nested.need_sync_vmcs02_to_vmcs12_rare) {
        return;
    }
    if nv.on_vmcs02() {
        sync_rare_from_current(nv);
        return;
    }
    nv.with_vmcs02_loaded(sync_rare_from_current);
}

/// KVM's `sync_vmcs02_to_vmcs12()` (the core's); the rare part is left
/// for `sync_rare`.
pub(crate) fn sync_vmcs02_to_vmcs12(nv: &mut Nv) {
    vmexit::sync_vmcs02_to_vmcs12(nv);
}

/// KVM's `nested_vmx_triple_fault()`.
pub(crate) fn triple_fault(nv: &mut Nv) {
    vmexit::triple_fault(nv);
}
