// SPDX-License-Identifier: GPL-2.0

//! A nested VM entry: VMLAUNCH/VMRESUME (KVM's nested_vmx_run()), the
//! switch to vmcs02 and its preparation from vmcs01 and vmcs12
//! (nested_vmx_enter_non_root_mode(), prepare_vmcs02_*()). The decisions
//! (checks, merged controls, L2's EFER) come from the core; this file
//! applies them to the hardware VMCS and to KVM's vCPU model.

use kernel::ffi;

use crate::bindings;
use crate::nested::msr_list;
use crate::nested::vmcs12_pages;
use crate::nested::vmentry;
use crate::nvcpu::vf;
use crate::nvcpu::Nv;
use crate::vmcs::caps::NestedVmxMsrs;
use crate::vmcs::checks::Vcpu;
use crate::vmcs::layout::{Vmcs12, VmcsHdr};
use crate::vmcs::x86::{cr4, efer};

pub(crate) use crate::nested::vmentry::Entered;

/// The core's view of the vCPU for the VM-entry checks.
///
/// Callers hold a shared reference to the cached vmcs12 (or shadow vmcs12)
/// beside it (`Nv::vmcs12_unbounded`), so nothing reached through a
/// `CheckVcpu` may touch those caches (`Nv::vmcs12()` and the like).
pub(crate) struct CheckVcpu<'a> {
    nv: &'a mut Nv,
    /// `nested.msrs` of the vCPU, in place (not a copy: every entry makes
    /// two of these). Written only through `Nv::vmx_msrs_mut()`, which
    /// needs the `Nv` this holds exclusively and never calls.
    msrs: *const NestedVmxMsrs,
    maxphyaddr: u32,
    virt_bits: u32,
    efer_lma: bool,
    perf_reserved: u64,
    run_pending: bool,
    evmcs: bool,
}

impl<'a> CheckVcpu<'a> {
    /// What every check may ask is read here from fields of the vCPU; what
    /// only some ask (CR4's reserved bits, LAM, the CPU's virtual-address
    /// width) is asked of KVM when they do.
    pub(crate) fn new(nv: &'a mut Nv) -> Self {
        let msrs: *const NestedVmxMsrs = nv.vmx_msrs();
        // cpuid_maxphyaddr().
        let maxphyaddr = vf!(nv, vcpu.arch.maxphyaddr).clamp(0, 52) as u32;
        // vcpu_virt_addr_bits(): kvm_read_cr4_bits(LA57) is the cached CR4
        // as it is, LA57 being no guest-owned bit (not in
        // KVM_POSSIBLE_CR4_GUEST_BITS), so no VMREAD of GUEST_CR4.
        let la57 = vf!(nv, vcpu.arch.cr4) as u64 & cr4::LA57 != 0;
        let virt_bits = if la57 { 57 } else { 48 };
        let efer_lma = vf!(nv, vcpu.arch.efer) & efer::LMA != 0;
        let perf_reserved = vf!(nv, vcpu.arch.pmu.global_ctrl_rsvd);
        let run_pending = vf!(nv, nested.nested_run_pending);
        // guest_cpuid_has_evmcs().
        let evmcs = vf!(nv, vcpu.arch.hyperv_enabled) && vf!(nv, nested.enlightened_vmcs_enabled);
        CheckVcpu {
            nv,
            msrs,
            maxphyaddr,
            virt_bits,
            efer_lma,
            perf_reserved,
            run_pending,
            evmcs,
        }
    }
}

const DEBUGCTLMSR_LBR: u64 = 1 << 0;
const DEBUGCTLMSR_BTF: u64 = 1 << 1;

impl Vcpu for CheckVcpu<'_> {
    fn maxphyaddr(&self) -> u32 {
        self.maxphyaddr
    }
    fn vmx_msrs(&self) -> &NestedVmxMsrs {
        // SAFETY: `msrs` points to the vCPU's `nested.msrs` (`new`), which
        // lives as long as the vCPU, so longer than the `Nv` borrowed for
        // 'a; nothing writes it meanwhile: only `Nv::vmx_msrs_mut()` does,
        // and the `Nv` is borrowed exclusively by this `CheckVcpu`, which
        // does not call it.
        unsafe { &*self.msrs }
    }
    fn cr4_reserved_bits(&self) -> u64 {
        // SAFETY: reads the vCPU's CR4 reserved bits (live and stable under
        // `vcpu->mutex`: the Nv invariant); no Rust reference into the vCPU
        // is alive (CheckVcpu holds only the Nv handle).
        unsafe { bindings::rnvmx_cr4_reserved_bits(self.nv_raw()) }
    }
    fn has_lam(&self) -> bool {
        // SAFETY: reads the vCPU's guest CPUID capabilities (stable under
        // `vcpu->mutex`: the Nv invariant); no Rust reference into the vCPU
        // is alive.
        unsafe { bindings::rnvmx_has_lam(self.nv_raw()) }
    }
    fn max_virt_addr_bits(&self) -> u32 {
        // SAFETY: reads kvm_cpu_caps, fixed once kvm-intel is loaded.
        unsafe { bindings::rnvmx_max_virt_addr_bits() as u32 }
    }
    fn virt_addr_bits(&self) -> u32 {
        self.virt_bits
    }
    fn efer_lma(&self) -> bool {
        self.efer_lma
    }
    fn efer_valid(&self, efer: u64) -> bool {
        // SAFETY: kvm_valid_efer() reads the vCPU's guest CPUID (which EFER
        // bits it has); the vCPU is live and its CPUID stable under
        // `vcpu->mutex` (Nv invariant). No Rust reference into the vCPU is
        // alive (CheckVcpu holds only the Nv handle).
        unsafe { bindings::kvm_valid_efer(self.nv_raw(), efer) }
    }
    fn perf_global_ctrl_reserved(&self) -> u64 {
        self.perf_reserved
    }
    // The two below are only asked with "load debug controls", so they are
    // read from KVM then, not for every entry.
    fn debugctl_valid(&self, debugctl: u64) -> bool {
        // SAFETY: vmx_get_supported_debugctl() reads boot CPU features,
        // kvm_caps and the vCPU's guest CPUID and LBR state; it needs a live
        // vCPU whose CPUID is not being replaced, which holds: the Nv
        // invariant (a backend callback, `vcpu->mutex` held, under which
        // KVM_SET_CPUID runs too). No Rust reference into the vCPU is alive
        // (CheckVcpu holds only the Nv handle).
        let supported = unsafe { bindings::vmx_get_supported_debugctl(self.nv_raw(), false) };
        // KVM's vmx_is_valid_debugctl(): BTF and LBR are ignored, not invalid.
        debugctl & !supported & !(DEBUGCTLMSR_BTF | DEBUGCTLMSR_LBR) == 0
    }
    fn quirk_allow_freeze_in_smm(&self) -> bool {
        // SAFETY: kvm_check_has_quirk() reads `vcpu->kvm->arch` (the VM's
        // disabled quirks); the VM outlives its vCPU, which is live (Nv
        // invariant), and the quirk mask is a plain read of a word.
        unsafe { bindings::rnvmx_quirk_freeze_in_smm(self.nv_raw()) }
    }
    fn read_vmcs_hdr(&mut self, gpa: u64) -> Option<VmcsHdr> {
        // Only the VMCS link pointer is read: through KVM's cache for it.
        self.nv.read_link_vmcs_hdr(gpa).map(VmcsHdr)
    }
    fn nested_run_pending(&self) -> bool {
        self.run_pending
    }
    fn evmcs_exposed(&self) -> bool {
        self.evmcs
    }
}

impl CheckVcpu<'_> {
    fn nv_raw(&self) -> *mut bindings::kvm_vcpu {
        self.nv.raw_const()
    }
}

/// KVM's `nested_vmx_run()`: VMLAUNCH (`launch`) or VMRESUME (the core's
/// `vmentry::run`).
pub(crate) fn run(nv: &mut Nv, launch: bool) -> ffi::c_int {
    if let Err(r) = vmentry::run_prologue(nv, launch) {
        return r;
    }
    let start = {
        // SAFETY: `v` lives in this block only, through the core's
        // `run_start`, which writes no part of vmcs12 and makes no `&mut`
        // to it (it never calls `KvmVcpu::vmcs12()`; KVM's MMU callbacks
        // read the EPT pointer through a raw pointer, `vmcs12_ept_pointer`),
        // nor do the KVM functions it calls. What may write vmcs12
        // (`complete`, the MSR loads, failure reports) is `run_finish`'s.
        let Some(v) = (unsafe { nv.vmcs12_unbounded() }) else {
            return nv.ud();
        };
        vmentry::run_start(nv, v, launch)
    };
    vmentry::run_finish(nv, start)
}

/// KVM's `nested_vmx_enter_non_root_mode()`. `from_vmentry` is false when
/// KVM resumes L2 from saved state (SMM exit, KVM_SET_NESTED_STATE).
pub(crate) fn enter_non_root_mode(nv: &mut Nv, from_vmentry: bool) -> Entered {
    // SAFETY: as in `run`: `v` is used only by `enter_with`, which writes
    // no part of vmcs12 and makes no `&mut` to it, nor do the KVM functions
    // it calls (vmentry.rs); `finish_entry`, which may, comes after.
    let Some(v) = (unsafe { nv.vmcs12_unbounded() }) else {
        return Entered::InternalError;
    };
    let step = vmentry::enter_with(nv, v, from_vmentry);
    vmentry::finish_entry(nv, step, from_vmentry)
}

pub(crate) fn enable_ept() -> bool {
    // SAFETY: kvm-intel module parameter (0444), written only while
    // kvm-intel loads, before this module can.
    unsafe { bindings::enable_ept }
}

pub(crate) fn enable_vpid() -> bool {
    // SAFETY: kvm-intel module parameter (0444), written only while
    // kvm-intel loads (vmx_hardware_setup() clears it without VPID), before
    // this module, which imports kvm-intel's symbols, can load.
    unsafe { bindings::enable_vpid }
}

/// KVM's `nested_get_vmcs12_pages()` (the core's, on pages_vcpu.rs):
/// maps the L1 pages vmcs02 points to.
pub(crate) fn get_vmcs12_pages(nv: &mut Nv, v: &Vmcs12) -> bool {
    vmcs12_pages::get_vmcs12_pages(nv, v)
}

/// The number of entries an MSR list may have (IA32_VMX_MISC).
pub(crate) fn msr_list_max(nv: &mut Nv) -> u32 {
    msr_list::max_entries(u64::from(nv.vmx_msrs().misc_low))
}
