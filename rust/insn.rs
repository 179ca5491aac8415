// SPDX-License-Identifier: GPL-2.0

//! The VMX instructions L1 executes: the exit handler kvm-intel calls, and
//! the core's `InsnVcpu` (nested/insn_exec.rs, which decides) applied with
//! KVM's accessors.

use kernel::ffi;

use crate::bindings;
use crate::entry::{self, CheckVcpu};
use crate::exit;
use crate::hw;
use crate::lifecycle;
use crate::nested;
use crate::nested::insn::Fault;
use crate::nested::insn_exec::{self as x, InsnVcpu};
use crate::nested::invalidate;
use crate::nested::shadow_vmcs as nested_shadow;
use crate::nested::vmfunc::Vmfunc;
use crate::nvcpu::vf;
use crate::nvcpu::{Nv, Raised};
use crate::stats;
use crate::vmcs::caps::NestedVmxMsrs;
use crate::vmcs::checks::Vcpu as _;
use crate::vmcs::encoding::Encoding;
use crate::vmcs::layout::{Vmcs12, VMCS12_SIZE};
use crate::vmcs::outcome::Outcome;

/// Raises the fault an instruction check decided on; the handler's value.
pub(crate) fn fault(nv: &mut Nv, f: Fault) -> ffi::c_int {
    match f {
        Fault::InvalidOpcode => nv.ud(),
        Fault::GeneralProtection => nv.gp(),
    }
}

fn wrap(r: Result<u64, Raised>) -> Result<u64, i32> {
    r.map_err(Raised::ret)
}

impl InsnVcpu for Nv {
    fn vmx_msrs(&mut self) -> NestedVmxMsrs {
        *self.vmx_msrs()
    }
    fn cr4(&mut self) -> u64 {
        Nv::cr4(self)
    }
    fn feature_control(&mut self) -> u64 {
        vf!(self, msr_ia32_feature_control)
    }
    fn maxphyaddr(&mut self) -> u32 {
        Nv::maxphyaddr(self)
    }
    fn vmxon_ptr(&mut self) -> u64 {
        vf!(self, nested.vmxon_ptr)
    }
    fn set_vmxon_ptr(&mut self, p: u64) {
        vf!(self, nested.vmxon_ptr) = p;
    }
    fn current_vmptr(&mut self) -> u64 {
        vf!(self, nested.current_vmptr)
    }
    fn set_gpr(&mut self, reg: u8, value: u64) {
        Nv::set_gpr(self, reg, value)
    }
    fn gpr_raw(&mut self, reg: u8) -> u64 {
        // kvm_register_read_raw(): a register KVM has (every GPR but RSP
        // after a VMX exit) is read here; else KVM caches it first.
        let r = usize::from(reg & 0xf);
        if vf!(self, vcpu.arch.regs_avail) & (1 << r) != 0 {
            if let Some(&v) = vf!(self, vcpu.arch.regs).get(r) {
                return v as u64;
            }
        }
        Nv::gpr(self, reg)
    }
    fn set_gpr_raw(&mut self, reg: u8, value: u64) {
        // kvm_register_write_raw(): the value, available and dirty.
        let r = usize::from(reg & 0xf);
        if let Some(slot) = vf!(self, vcpu.arch.regs).get_mut(r) {
            *slot = value as usize;
        }
        vf!(self, vcpu.arch.regs_avail) |= 1 << r;
        vf!(self, vcpu.arch.regs_dirty) |= 1 << r;
    }
    fn vmx_misc_low(&mut self) -> u32 {
        self.vmx_msrs().misc_low
    }
    fn mem_operand(&mut self, write: bool, len: usize) -> Result<u64, i32> {
        wrap(Nv::mem_operand(self, write, len))
    }
    fn read_gva(&mut self, gva: u64, buf: &mut [u8]) -> Result<(), i32> {
        Nv::read_gva(self, gva, buf).map_err(Raised::ret)
    }
    fn write_gva(&mut self, gva: u64, buf: &[u8]) -> Result<(), i32> {
        Nv::write_gva(self, gva, buf).map_err(Raised::ret)
    }
    fn read_gpa(&mut self, gpa: u64, buf: &mut [u8]) -> bool {
        Nv::read_gpa(self, gpa, buf)
    }
    fn write_gpa(&mut self, gpa: u64, buf: &[u8]) -> bool {
        Nv::write_gpa(self, gpa, buf)
    }
    fn enter_vmx_operation(&mut self) -> Result<(), i32> {
        nested::lifecycle::enter_vmx_operation(self).map_err(|e| e.to_errno())
    }
    fn free_nested(&mut self) {
        nested::lifecycle::free_nested(self)
    }
    fn release_vmcs12(&mut self) {
        nested::lifecycle::release_vmcs12(self)
    }
    fn load_vmcs12(&mut self, vmptr: u64) -> Option<bool> {
        let p = vf!(self, nested.cached_vmcs12);
        if p.is_null() {
            return None;
        }
        // SAFETY: the cached vmcs12 is a VMCS12_SIZE buffer of ours
        // (lifecycle_vcpu.rs), referenced by no live Rust reference here.
        let buf = unsafe { core::slice::from_raw_parts_mut(p.cast::<u8>(), VMCS12_SIZE) };
        Some(self.read_gpa(vmptr, buf))
    }
    fn set_current_vmptr(&mut self, vmptr: u64) {
        vf!(self, nested.current_vmptr) = vmptr;
        vf!(self, nested.dirty_vmcs12) = true;
        vf!(self, nested.force_msr_bitmap_recalc) = true;
        nested_shadow::enable(self);
    }
    fn is_guest_mode(&mut self) -> bool {
        Nv::is_guest_mode(self)
    }
    fn is_64_bit_mode(&mut self) -> bool {
        Nv::is_64_bit_mode(self)
    }
    fn shadow_vmcs12(&mut self) -> Option<&mut Vmcs12> {
        Nv::shadow_vmcs12(self)
    }
    fn sync_rare(&mut self) {
        exit::sync_rare(self)
    }
    fn shadow_write_ro(&mut self, field: Encoding, value: u64) {
        nested_shadow::write_ro(self, field, value)
    }
    fn invept_scope(&mut self, ty: u64, eptp: u64, has_current: bool) -> Result<(), Outcome> {
        invalidate::invept(ty, eptp, &CheckVcpu::new(self), has_current).map(|_| ())
    }
    fn free_guest_mmu_roots(&mut self) {
        lifecycle::free_guest_mmu_roots(self)
    }
    fn max_virt_addr_bits(&mut self) -> u32 {
        CheckVcpu::new(self).max_virt_addr_bits()
    }
    fn flush_vpid(&mut self, scope: invalidate::InvvpidScope) {
        let (vpid02, vpid01) = (vf!(self, nested.vpid02), vf!(self, vpid) as u16);
        // SAFETY: reads the CPU's VMX capability MSR; no precondition.
        let caps = unsafe { bindings::rnvmx_vpid_caps() };
        let caps = invalidate::VpidCaps::from_msr_high(caps);
        // SAFETY: preempt_disable() wrapper, paired below: the CPU stays this
        // one while it is compared with vmcs02's and flushed.
        let cpu = unsafe { bindings::rnvmx_get_cpu() };
        let here = cpu == vf!(self, nested.vmcs02.cpu);
        match invalidate::hw_invvpid(scope, vpid02, vpid01, caps, here) {
            Some(invalidate::HwInvvpid::IndividualAddress { vpid, address }) => {
                hw::invvpid(0, vpid, address)
            }
            Some(invalidate::HwInvvpid::SingleContext(vpid)) => hw::invvpid(1, vpid, 0),
            Some(invalidate::HwInvvpid::AllContexts) => hw::invvpid(2, 0, 0),
            Some(invalidate::HwInvvpid::Defer) => vf!(self, nested.last_vpid) = 0,
            None => {}
        }
        // SAFETY: pairs with rnvmx_get_cpu() above.
        unsafe { bindings::rnvmx_put_cpu() };
        if !entry::enable_ept() {
            // SAFETY: the vCPU is ours (Nv invariant).
            unsafe { bindings::rnvmx_free_guest_mode_roots(self.raw()) };
        }
    }
    fn vmfunc_decision(&mut self, v: &Vmcs12, eax: u64, ecx: u64) -> Vmfunc {
        let mut mem = self.guest_mem();
        let cv = CheckVcpu::new(self);
        let read_eptp = |gpa: u64| {
            let mut b = [0u8; 8];
            mem.read_gpa(gpa, &mut b).then_some(u64::from_le_bytes(b))
        };
        crate::nested::vmfunc::vmfunc(v, eax, ecx, read_eptp, &cv)
    }
    fn new_eptp(&mut self) {
        nested::ept::new_eptp(self)
    }
    fn ud(&mut self) -> i32 {
        Nv::ud(self)
    }
    fn evmcs_vmclear(&mut self, vmptr: u64) -> bool {
        crate::evmcs::vmptrld::handle_vmclear(self, vmptr)
    }
    fn evmcs(&mut self) -> Option<crate::evmcs::layout::HvEnlightenedVmcs> {
        self.read_evmcs()
    }
    fn skip_instruction(&mut self) -> i32 {
        Nv::skip_instruction(self)
    }
}

/// The exit handler kvm-intel calls for each of the twelve VMX-instruction
/// exits of a VM bound to this backend.
///
/// # Safety
///
/// `vcpu` is the vCPU whose exit is being handled, loaded on this CPU, as
/// kvm-intel passes it to exit handlers.
pub(crate) unsafe extern "C" fn handle(vcpu: *mut bindings::kvm_vcpu) -> ffi::c_int {
    // SAFETY: per this function's contract.
    let mut nv = unsafe { Nv::new(vcpu) };
    let reason = nv.exit_reason() & 0xffff;
    stats::INSTRUCTIONS.inc();
    match reason {
        bindings::EXIT_REASON_VMON => x::vmxon(&mut nv),
        bindings::EXIT_REASON_VMOFF => x::vmxoff(&mut nv),
        bindings::EXIT_REASON_VMCLEAR => x::vmclear(&mut nv),
        bindings::EXIT_REASON_VMPTRLD => x::vmptrld(&mut nv),
        bindings::EXIT_REASON_VMPTRST => x::vmptrst(&mut nv),
        bindings::EXIT_REASON_VMREAD => x::vmread(&mut nv),
        bindings::EXIT_REASON_VMWRITE => x::vmwrite(&mut nv),
        bindings::EXIT_REASON_VMLAUNCH => entry::run(&mut nv, true),
        bindings::EXIT_REASON_VMRESUME => entry::run(&mut nv, false),
        bindings::EXIT_REASON_INVEPT => x::invept(&mut nv),
        bindings::EXIT_REASON_INVVPID => x::invvpid(&mut nv),
        bindings::EXIT_REASON_VMFUNC => x::vmfunc(&mut nv),
        _ => nv.ud(),
    }
}
