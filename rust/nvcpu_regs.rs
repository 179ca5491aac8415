// SPDX-License-Identifier: GPL-2.0

//! `Nv`, continued: guest mode and L1's (or L2's) registers, as KVM keeps
//! them in `vcpu->arch`.

use kernel::ffi;

use crate::bindings;
use crate::nvcpu::{vf, Nv};

impl Nv {
    pub(crate) fn is_guest_mode(&mut self) -> bool {
        // SAFETY: the vCPU is live and ours (type invariant).
        unsafe { bindings::rnvmx_is_guest_mode(self.raw_const()) }
    }

    pub(crate) fn enter_guest_mode(&mut self) {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_enter_guest_mode(self.raw_const()) }
    }

    pub(crate) fn leave_guest_mode(&mut self) {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_leave_guest_mode(self.raw_const()) }
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
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_rip_read(self.raw_const()) as u64 }
    }

    pub(crate) fn set_rip(&mut self, v: u64) {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_rip_write(self.raw_const(), v as usize) }
    }

    pub(crate) fn rsp(&mut self) -> u64 {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_rsp_read(self.raw_const()) as u64 }
    }

    pub(crate) fn set_rsp(&mut self, v: u64) {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_rsp_write(self.raw_const(), v as usize) }
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

    pub(crate) fn is_pae_paging(&mut self) -> bool {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_is_pae_paging(self.raw_const()) }
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
