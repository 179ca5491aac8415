// SPDX-License-Identifier: GPL-2.0

//! `Nv`, continued: guest mode and L1's (or L2's) registers, as KVM keeps
//! them in `vcpu->arch`.

use kernel::ffi;

use crate::bindings;
use crate::nvcpu::{vf, Nv};

/// `HF_GUEST_MASK` in `vcpu->arch.hflags`: the vCPU is in guest mode.
const HF_GUEST_MASK: u32 = 1 << 0;
const RSP: u32 = bindings::kvm_reg_VCPU_REGS_RSP;
const RIP: u32 = bindings::kvm_reg_VCPU_REGS_RIP;
const X86_CR0_PG: u64 = 1 << 31;
const X86_CR4_PAE: u64 = 1 << 5;
const EFER_LMA: u64 = 1 << 10;

// The register helpers below are kvm_cache_regs.h's inlines, in Rust (one
// call into C each fewer on the nested transitions): they read and write
// fields of `vcpu->arch` only this vCPU's thread touches.
impl Nv {
    /// `is_guest_mode()`.
    pub(crate) fn is_guest_mode(&mut self) -> bool {
        vf!(self, vcpu.arch.hflags) & HF_GUEST_MASK != 0
    }

    /// `enter_guest_mode()`.
    pub(crate) fn enter_guest_mode(&mut self) {
        vf!(self, vcpu.arch.hflags) |= HF_GUEST_MASK;
        vf!(self, vcpu.stat.guest_mode) = 1;
    }

    /// `kvm_register_mark_dirty()`: available and dirty (`reg` is a
    /// `kvm_reg`, below 32; a larger one marks nothing, without a panic).
    pub(crate) fn register_mark_dirty(&mut self, reg: u32) {
        let bit = 1u32.checked_shl(reg).unwrap_or(0);
        vf!(self, vcpu.arch.regs_avail) |= bit;
        vf!(self, vcpu.arch.regs_dirty) |= bit;
    }

    /// `kvm_register_write_raw()` of RSP or RIP.
    fn register_write_raw(&mut self, reg: u32, v: u64) {
        if let Some(r) = vf!(self, vcpu.arch.regs).get_mut(reg as usize) {
            *r = v as usize;
        }
        self.register_mark_dirty(reg);
    }

    /// `kvm_register_read_raw()` of RSP or RIP when KVM has it cached
    /// (`kvm_register_is_available()`), else `None`: KVM caches it first.
    fn register_cached(&mut self, reg: u32) -> Option<u64> {
        if vf!(self, vcpu.arch.regs_avail) & 1u32.checked_shl(reg).unwrap_or(0) == 0 {
            return None;
        }
        vf!(self, vcpu.arch.regs)
            .get(reg as usize)
            .map(|&r| r as u64)
    }

    /// KVM's `leave_guest_mode()`: inline but for the pending EOI-exit
    /// bitmap load, which takes KVM's own (it makes the request).
    pub(crate) fn leave_guest_mode(&mut self) {
        if vf!(self, vcpu.arch.load_eoi_exitmap_pending) {
            // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
            unsafe { bindings::rnvmx_leave_guest_mode(self.raw_const()) };
            return;
        }
        vf!(self, vcpu.arch.hflags) &= !HF_GUEST_MASK;
        vf!(self, vcpu.stat.guest_mode) = 0;
    }

    /// `kvm_register_read()`: general-purpose register `reg` (0-15).
    pub(crate) fn gpr(&mut self, reg: u8) -> u64 {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant); `reg` is 0-15 (a 4-bit
        // instruction-info field).
        unsafe {
            bindings::rnvmx_register_read(self.raw_const(), ffi::c_int::from(reg & 0xf)) as u64
        }
    }

    /// `kvm_register_write()`.
    pub(crate) fn set_gpr(&mut self, reg: u8, value: u64) {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe {
            bindings::rnvmx_register_write(
                self.raw_const(),
                ffi::c_int::from(reg & 0xf),
                value as usize,
            )
        }
    }

    pub(crate) fn rip(&mut self) -> u64 {
        if let Some(v) = self.register_cached(RIP) {
            return v;
        }
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_rip_read(self.raw_const()) as u64 }
    }

    pub(crate) fn set_rip(&mut self, v: u64) {
        self.register_write_raw(RIP, v);
    }

    pub(crate) fn rsp(&mut self) -> u64 {
        if let Some(v) = self.register_cached(RSP) {
            return v;
        }
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_rsp_read(self.raw_const()) as u64 }
    }

    pub(crate) fn set_rsp(&mut self, v: u64) {
        self.register_write_raw(RSP, v);
    }

    pub(crate) fn rflags(&mut self) -> u64 {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::vmx_get_rflags(self.raw_const()) as u64 }
    }

    pub(crate) fn set_rflags(&mut self, v: u64) {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::vmx_set_rflags(self.raw_const(), v as usize) }
    }

    pub(crate) fn cpl(&mut self) -> u8 {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        let cpl = unsafe { bindings::vmx_get_cpl(self.raw_const()) };
        (cpl & 3) as u8
    }

    pub(crate) fn cr0(&mut self) -> u64 {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_read_cr0(self.raw_const()) as u64 }
    }

    pub(crate) fn cr4(&mut self) -> u64 {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_read_cr4(self.raw_const()) as u64 }
    }

    pub(crate) fn set_cr0(&mut self, v: u64) {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::vmx_set_cr0(self.raw_const(), v as usize) }
    }

    pub(crate) fn set_cr4(&mut self, v: u64) {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::vmx_set_cr4(self.raw_const(), v as usize) }
    }

    pub(crate) fn set_efer(&mut self, v: u64) {
        vf!(self, vcpu.arch.efer) = v;
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant). vmx_set_efer() fails only
        // for an EFER the vCPU cannot use; vmcs12 checks have rejected those before.
        let _ = unsafe { bindings::vmx_set_efer(self.raw_const(), v) };
    }

    pub(crate) fn set_dr7(&mut self, v: u64) {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant); DR7 is always a valid
        // debug register index.
        let _ = unsafe { bindings::kvm_set_dr(self.raw_const(), 7, v as usize) };
    }

    pub(crate) fn is_64_bit_mode(&mut self) -> bool {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_is_64_bit_mode(self.raw_const()) }
    }

    /// `is_pae_paging()`: CR0.PG and CR4.PAE (neither a bit the guest may
    /// own, KVM_POSSIBLE_CR0/4_GUEST_BITS, so KVM's cached CR0/CR4 have
    /// them as they are) outside long mode.
    pub(crate) fn is_pae_paging(&mut self) -> bool {
        vf!(self, vcpu.arch.cr0) as u64 & X86_CR0_PG != 0
            && vf!(self, vcpu.arch.cr4) as u64 & X86_CR4_PAE != 0
            && vf!(self, vcpu.arch.efer) & EFER_LMA == 0
    }

    pub(crate) fn maxphyaddr(&mut self) -> u32 {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        let m = unsafe { bindings::rnvmx_maxphyaddr(self.raw_const()) };
        m.clamp(0, 52) as u32
    }

    pub(crate) fn legal_cr3(&mut self, cr3: u64) -> bool {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_legal_cr3(self.raw_const(), cr3 as usize) }
    }

    pub(crate) fn make_request(&mut self, req: u32) {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant); `req` is one of KVM's
        // KVM_REQ_* values.
        unsafe { bindings::rnvmx_make_request(req, self.raw_const()) }
    }

    pub(crate) fn check_request(&mut self, req: u32) -> bool {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_check_request(req, self.raw_const()) }
    }

    pub(crate) fn clear_request(&mut self, req: u32) {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_clear_request(req, self.raw_const()) }
    }
}
