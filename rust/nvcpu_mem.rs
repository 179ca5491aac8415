// SPDX-License-Identifier: GPL-2.0

//! `Nv`, continued: L1's memory (guest-physical and -virtual) through
//! KVM, and the memory operands of L1's VMX instructions.

use kernel::ffi;

use crate::bindings;
use crate::hw;
use crate::nvcpu::{Nv, Raised};
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::table::encodings as e;

/// KVM's X86EMUL_CONTINUE.
const X86EMUL_CONTINUE: ffi::c_int = 0;

impl Nv {
    /// Reads L1 guest-physical memory.
    pub(crate) fn read_gpa(&mut self, gpa: u64, buf: &mut [u8]) -> bool {
        self.guest_mem().read_gpa(gpa, buf)
    }

    /// A reader of L1 memory.
    pub(crate) fn guest_mem(&mut self) -> GuestMem {
        GuestMem {
            vcpu: self.raw_const(),
        }
    }

    /// vmcs12 together with a reader of L1 memory, for decisions that
    /// read both (exit reflection's bitmaps).
    pub(crate) fn vmcs12_and_mem(&mut self) -> Option<(&Vmcs12, GuestMem)> {
        let vcpu = self.raw_const();
        self.vmcs12().map(|v| (&*v, GuestMem { vcpu }))
    }

    /// Writes L1 guest-physical memory.
    pub(crate) fn write_gpa(&mut self, gpa: u64, buf: &[u8]) -> bool {
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant); `buf` is valid for reads
        // of its length.
        let r = unsafe {
            bindings::kvm_vcpu_write_guest(self.raw_const(), gpa, buf.as_ptr().cast(), buf.len())
        };
        r == 0
    }

    /// The linear address of a VMX instruction's memory operand (KVM's
    /// get_vmx_mem_address(), shared with handle_invpcid() and so kept in
    /// C); on an invalid operand the fault is already queued.
    pub(crate) fn mem_operand(&mut self, write: bool, len: usize) -> Result<u64, Raised> {
        let qual = hw::read(e::EXIT_QUALIFICATION);
        let info = hw::read(e::VMX_INSTRUCTION_INFO) as u32;
        let mut gva: bindings::gva_t = 0;
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant); `gva` is a valid
        // out-pointer.
        let r = unsafe {
            bindings::get_vmx_mem_address(
                self.raw_const(),
                qual as usize,
                info,
                write,
                len as ffi::c_int,
                &mut gva,
            )
        };
        if r != 0 {
            return Err(Raised::Queued);
        }
        Ok(gva as u64)
    }

    /// Reads `buf.len()` bytes at linear address `gva` (CPL 0 access).
    pub(crate) fn read_gva(&mut self, gva: u64, buf: &mut [u8]) -> Result<(), Raised> {
        let mut e = bindings::x86_exception::default();
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant); `buf` and `e` are valid
        // for writes.
        let r = unsafe {
            bindings::kvm_read_guest_virt(
                self.raw_const(),
                gva as usize,
                buf.as_mut_ptr().cast(),
                buf.len() as ffi::c_uint,
                &mut e,
            )
        };
        self.memory_result(r, &mut e)
    }

    /// Writes `buf` at linear address `gva` (CPL 0 access).
    pub(crate) fn write_gva(&mut self, gva: u64, buf: &[u8]) -> Result<(), Raised> {
        let mut e = bindings::x86_exception::default();
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant); KVM only reads `buf`,
        // through the mutable pointer its prototype asks for.
        let r = unsafe {
            bindings::kvm_write_guest_virt_system(
                self.raw_const(),
                gva as usize,
                buf.as_ptr().cast_mut().cast(),
                buf.len() as ffi::c_uint,
                &mut e,
            )
        };
        self.memory_result(r, &mut e)
    }

    fn memory_result(
        &mut self,
        r: ffi::c_int,
        e: &mut bindings::x86_exception,
    ) -> Result<(), Raised> {
        if r == X86EMUL_CONTINUE {
            return Ok(());
        }
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant); `e` is the exception KVM
        // filled in.
        let ret = unsafe { bindings::kvm_handle_memory_failure(self.raw_const(), r, e) };
        Err(if ret == 0 {
            Raised::Userspace
        } else {
            Raised::Queued
        })
    }
}

/// Reads L1 guest-physical memory through KVM's memslots. It touches no
/// nested state (in particular not the cached vmcs12), so it may be used
/// while vmcs12 is borrowed.
pub(crate) struct GuestMem {
    vcpu: *mut bindings::kvm_vcpu,
}

impl GuestMem {
    /// One byte of L1 memory (the exit bitmaps' lookups): what
    /// kvm_vcpu_read_guest() does for a read within one page, without its
    /// per-page loop.
    #[inline]
    pub(crate) fn read_u8(&mut self, gpa: u64) -> Option<u8> {
        let mut b = 0u8;
        // SAFETY: `vcpu` comes from a live `Nv` whose borrow this object
        // is tied to (`vmcs12_and_mem`) or which created it for one call;
        // `b` is valid for the one-byte write, and the offset (0..4096)
        // keeps the read within the page.
        let r = unsafe {
            bindings::kvm_vcpu_read_guest_page(
                self.vcpu,
                gpa >> 12,
                core::ptr::addr_of_mut!(b).cast(),
                (gpa & 0xfff) as ffi::c_int,
                1,
            )
        };
        (r == 0).then_some(b)
    }

    pub(crate) fn read_gpa(&mut self, gpa: u64, buf: &mut [u8]) -> bool {
        // SAFETY: `vcpu` comes from a live `Nv` whose borrow this object
        // is tied to (`vmcs12_and_mem`) or which created it for one call;
        // `buf` is valid for writes of its length.
        let r = unsafe {
            bindings::kvm_vcpu_read_guest(self.vcpu, gpa, buf.as_mut_ptr().cast(), buf.len())
        };
        r == 0
    }
}
