// SPDX-License-Identifier: GPL-2.0

//! `Nv`: one vCPU of a VM bound to this backend, as a backend callback sees
//! it. All access to KVM's per-vCPU state and all calls into KVM go through
//! here, so the rest of the glue has no unsafe code of its own.
//!
//! Aliasing: KVM's own functions read and write the same `struct vcpu_vmx`.
//! References into it are only handed out by `&mut self` methods, so the
//! borrow checker guarantees none is alive when a method calls into KVM.

use kernel::ffi;

use crate::bindings;
use crate::hw;
pub(crate) use crate::nested::entry_vcpu::Control;
use crate::vmcs::layout::{Vmcs12, VMCS12_SIZE};
use crate::vmcs::outcome::Outcome;
use crate::vmcs::table::encodings as e;

/// KVM's `INVALID_GPA`.
pub(crate) const INVALID_GPA: u64 = !0;

/// The vCPU's maps of L1 pages vmcs02 points to (`nested.*_map`).
use crate::nested::vmcs12_pages::Page as MapSlot;

/// KVM's PAGE_SHIFT: 4-KiB pages.
pub(crate) const PAGE_SHIFT: u32 = 12;

/// KVM's X86EMUL_CONTINUE.
const X86EMUL_CONTINUE: ffi::c_int = 0;

/// A vCPU of a VM bound to this backend.
///
/// # Invariants
///
/// `vcpu` points to a live kvm-intel vCPU (the first member of a `struct
/// vcpu_vmx`), loaded on this CPU, whose `vcpu->mutex` is held by the
/// caller of the backend callback this object lives in; so nothing else
/// accesses its state concurrently. The object does not outlive the
/// callback.
pub(crate) struct Nv {
    vcpu: *mut bindings::kvm_vcpu,
}

/// A fault an instruction raises instead of completing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Raised {
    /// The exception (or exit) is already queued: the handler returns 1.
    Queued,
    /// KVM must exit to userspace: the handler returns 0.
    Userspace,
}

impl Raised {
    /// The exit handler's return value.
    pub(crate) fn ret(self) -> ffi::c_int {
        match self {
            Raised::Queued => 1,
            Raised::Userspace => 0,
        }
    }
}

impl Nv {
    /// Wraps the vCPU kvm-intel passed to a backend callback.
    ///
    /// # Safety
    ///
    /// `vcpu` is a kvm-intel vCPU passed by kvm-intel to a backend callback
    /// of a VM bound to this backend; the returned object is dropped before
    /// the callback returns.
    pub(crate) unsafe fn new(vcpu: *mut bindings::kvm_vcpu) -> Self {
        // INVARIANT: per the safety contract; kvm-intel calls backend
        // callbacks with the vCPU loaded and its mutex held.
        Nv { vcpu }
    }

    /// The raw vCPU, for calls into KVM.
    pub(crate) fn raw(&mut self) -> *mut bindings::kvm_vcpu {
        self.vcpu
    }

    /// The raw vCPU, for KVM calls from `&self` contexts that hold no
    /// reference into it.
    pub(crate) fn raw_const(&self) -> *mut bindings::kvm_vcpu {
        self.vcpu
    }

    /// KVM's `to_vmx()`.
    pub(crate) fn vmx(&mut self) -> &mut bindings::vcpu_vmx {
        // SAFETY: by the type invariant the vCPU is the first member of a
        // live `struct vcpu_vmx` (asserted in vcpu.rs) used by no one else;
        // the `&mut self` borrow keeps this reference exclusive and ends
        // before any call into KVM.
        unsafe { &mut *self.vcpu.cast::<bindings::vcpu_vmx>() }
    }

    /// The exit reason of the last VM exit, all 32 bits (`vmx->exit_reason`).
    pub(crate) fn exit_reason(&mut self) -> u32 {
        // SAFETY: `union vmx_exit_reason` is a u32 overlaid with bitfields
        // of it; every bit pattern is a valid u32.
        unsafe { self.vmx().exit_reason.full }
    }

    /// `vcpu->arch`.
    pub(crate) fn arch(&mut self) -> &mut bindings::kvm_vcpu_arch {
        &mut self.vmx().vcpu.arch
    }

    /// `to_vmx(vcpu)->nested`.
    pub(crate) fn nested(&mut self) -> &mut bindings::nested_vmx {
        &mut self.vmx().nested
    }

    /// L1's VMX capability MSRs (`nested.msrs`).
    pub(crate) fn vmx_msrs(&mut self) -> &crate::vmcs::caps::NestedVmxMsrs {
        let m: *const bindings::nested_vmx_msrs = &self.nested().msrs;
        // SAFETY: `NestedVmxMsrs` is `struct nested_vmx_msrs` field for field
        // (asserted in bindings.rs); the borrow of `self` keeps it alive and
        // unaliased by writes.
        unsafe { &*m.cast::<crate::vmcs::caps::NestedVmxMsrs>() }
    }

    /// The cached vmcs12 (`get_vmcs12()`), allocated while in VMX operation.
    pub(crate) fn vmcs12(&mut self) -> Option<&mut Vmcs12> {
        let p = self.nested().cached_vmcs12;
        if p.is_null() {
            return None;
        }
        // SAFETY: a non-null `cached_vmcs12` is this backend's allocation of
        // VMCS12_SIZE bytes (lifecycle_vcpu.rs), at least `size_of::<Vmcs12>()`
        // (asserted in bindings.rs) and suitably aligned (Vmcs12 is packed);
        // `&mut self` keeps the reference exclusive.
        Some(unsafe { &mut *p.cast::<Vmcs12>() })
    }

    /// The cached shadow vmcs12 (`get_shadow_vmcs12()`): L1's shadow VMCS,
    /// which L2's VMREADs and VMWRITEs use while vmcs12 enables VMCS
    /// shadowing; allocated while in VMX operation.
    pub(crate) fn shadow_vmcs12(&mut self) -> Option<&mut Vmcs12> {
        let p = self.nested().cached_shadow_vmcs12;
        if p.is_null() {
            return None;
        }
        // SAFETY: a non-null `cached_shadow_vmcs12` is this backend's
        // VMCS12_SIZE allocation (lifecycle_vcpu.rs), which holds a `Vmcs12`
        // (size asserted in bindings.rs; packed, so any alignment); `&mut
        // self` keeps the reference exclusive.
        Some(unsafe { &mut *p.cast::<Vmcs12>() })
    }

    /// The cached vmcs12 as its VMCS12_SIZE bytes (KVM_SET_NESTED_STATE).
    pub(crate) fn vmcs12_bytes(&mut self) -> Option<&mut [u8]> {
        let p = self.nested().cached_vmcs12;
        if p.is_null() {
            return None;
        }
        // SAFETY: a non-null `cached_vmcs12` is this backend's VMCS12_SIZE
        // allocation; `&mut self` keeps the slice exclusive.
        Some(unsafe { core::slice::from_raw_parts_mut(p.cast::<u8>(), VMCS12_SIZE) })
    }

    /// The cached shadow vmcs12 as its VMCS12_SIZE bytes, for copies from
    /// and to userspace.
    pub(crate) fn shadow_vmcs12_bytes(&mut self) -> Option<&mut [u8]> {
        let p = self.nested().cached_shadow_vmcs12;
        if p.is_null() {
            return None;
        }
        // SAFETY: a non-null `cached_shadow_vmcs12` is this backend's
        // VMCS12_SIZE allocation; `&mut self` keeps the slice exclusive.
        Some(unsafe { core::slice::from_raw_parts_mut(p.cast::<u8>(), VMCS12_SIZE) })
    }

    /// KVM's `shadow_vmcs12_cache` (a gfn_to_hva_cache) for the VMCS12_SIZE
    /// bytes at `gpa`, set up unless it already covers them. As nested.c
    /// relies on, `kvm_gfn_to_hva_cache_init()` fails for memory L1 cannot
    /// write (read-only memslots), so such a link pointer fails the entry.
    fn shadow_cache_at(
        &mut self,
        gpa: u64,
    ) -> Option<(*mut bindings::kvm, *mut bindings::gfn_to_hva_cache)> {
        let kvm = self.vmx().vcpu.kvm;
        let ghc = core::ptr::addr_of_mut!(self.nested().shadow_vmcs12_cache);
        // SAFETY: the cache is this vCPU's, used only by its thread (the
        // vCPU is ours, Nv invariant); `kvm` is the vCPU's VM.
        let ok = unsafe {
            (*ghc).gpa == gpa
                || bindings::kvm_gfn_to_hva_cache_init(kvm, ghc, gpa, VMCS12_SIZE) == 0
        };
        ok.then_some((kvm, ghc))
    }

    /// The 32-bit header of L1's VMCS at `gpa` (the VMCS link pointer),
    /// through `shadow_vmcs12_cache` (nested_vmx_check_vmcs_link_ptr()).
    pub(crate) fn read_link_vmcs_hdr(&mut self, gpa: u64) -> Option<u32> {
        let (kvm, ghc) = self.shadow_cache_at(gpa)?;
        let mut hdr = 0u32;
        // SAFETY: `ghc` covers VMCS12_SIZE bytes from `gpa` (above); `hdr`
        // is valid for writes of 4 bytes.
        let r = unsafe {
            bindings::kvm_read_guest_offset_cached(kvm, ghc, (&mut hdr as *mut u32).cast(), 0, 4)
        };
        (r == 0).then_some(hdr)
    }

    /// L1's VMCS at `gpa` into the cached shadow vmcs12
    /// (nested_cache_shadow_vmcs12()); false if unreadable.
    pub(crate) fn load_shadow_vmcs12(&mut self, gpa: u64) -> bool {
        self.shadow_vmcs12_transfer(gpa, bindings::kvm_read_guest_cached)
    }

    /// The cached shadow vmcs12 back to L1's VMCS at `gpa`
    /// (nested_flush_cached_shadow_vmcs12()); false if unwritable.
    pub(crate) fn store_shadow_vmcs12(&mut self, gpa: u64) -> bool {
        self.shadow_vmcs12_transfer(gpa, bindings::kvm_write_guest_cached)
    }

    /// One VMCS12_SIZE copy between the cached shadow vmcs12 and L1's VMCS
    /// at `gpa` through `shadow_vmcs12_cache`, by `copy`: KVM's
    /// kvm_read_guest_cached() or kvm_write_guest_cached(), which take the
    /// same arguments.
    fn shadow_vmcs12_transfer(
        &mut self,
        gpa: u64,
        copy: unsafe extern "C" fn(
            *mut bindings::kvm,
            *mut bindings::gfn_to_hva_cache,
            *mut ffi::c_void,
            ffi::c_ulong,
        ) -> ffi::c_int,
    ) -> bool {
        let p = self.nested().cached_shadow_vmcs12;
        if p.is_null() {
            return false;
        }
        let Some((kvm, ghc)) = self.shadow_cache_at(gpa) else {
            return false;
        };
        // SAFETY: `p` is our VMCS12_SIZE buffer and no Rust reference to it
        // is alive (`&mut self`); `ghc` covers that many bytes.
        unsafe { copy(kvm, ghc, p.cast(), VMCS12_SIZE as ffi::c_ulong) == 0 }
    }

    /// Reads one field of the cached vmcs12 by offset (0 without one).
    pub(crate) fn vmcs12_get(&mut self, s: &crate::fields::Slot) -> u64 {
        let p = self.nested().cached_vmcs12.cast::<u8>();
        if p.is_null() || s.offset + s.bytes > core::mem::size_of::<Vmcs12>() {
            return 0;
        }
        // SAFETY: the cached vmcs12 is a live VMCS12_SIZE buffer of ours
        // and the field lies inside `struct vmcs12` (checked above; the
        // slots come from the core's table, whose offsets are asserted
        // against the C layout); unaligned reads of plain integers.
        unsafe {
            let f = p.add(s.offset);
            match s.bytes {
                2 => u64::from(f.cast::<u16>().read_unaligned()),
                4 => u64::from(f.cast::<u32>().read_unaligned()),
                _ => f.cast::<u64>().read_unaligned(),
            }
        }
    }

    /// Writes one field of the cached vmcs12 by offset (truncated to its
    /// width, as a VMWRITE of a narrower field is).
    pub(crate) fn vmcs12_set(&mut self, s: &crate::fields::Slot, value: u64) {
        let p = self.nested().cached_vmcs12.cast::<u8>();
        if p.is_null() || s.offset + s.bytes > core::mem::size_of::<Vmcs12>() {
            return;
        }
        // SAFETY: the cached vmcs12 is a live VMCS12_SIZE buffer of ours and
        // the field lies inside `struct vmcs12` (checked above); unaligned
        // writes of plain integers; no reference into vmcs12 is alive
        // (`&mut self`).
        unsafe {
            let f = p.add(s.offset);
            match s.bytes {
                2 => f.cast::<u16>().write_unaligned(value as u16),
                4 => f.cast::<u32>().write_unaligned(value as u32),
                _ => f.cast::<u64>().write_unaligned(value),
            }
        }
    }

    /// The cached vmcs12, shared.
    pub(crate) fn vmcs12_ref(&mut self) -> Option<&Vmcs12> {
        self.vmcs12().map(|v| &*v)
    }

    /// vmcs12's EPT pointer, read without making a reference to vmcs12:
    /// KVM's MMU asks for it (`get_eptp`, `new_eptp`) while the entry code
    /// holds a shared reference to vmcs12 (`vmcs12_unbounded`).
    pub(crate) fn vmcs12_ept_pointer(&mut self) -> Option<u64> {
        let p = self.nested().cached_vmcs12.cast::<u8>();
        if p.is_null() {
            return None;
        }
        const OFFSET: usize = core::mem::offset_of!(Vmcs12, ept_pointer);
        // SAFETY: a non-null `cached_vmcs12` is this backend's VMCS12_SIZE
        // allocation (lifecycle_vcpu.rs); the field lies inside it (offset_of on
        // the layout asserted against C); a plain unaligned read through a
        // raw pointer, which aliases no Rust reference mutably.
        Some(unsafe { p.add(OFFSET).cast::<u64>().read_unaligned() })
    }

    /// The cached vmcs12, shared, not tied to this object: for reading
    /// vmcs12 across calls into KVM without copying it.
    ///
    /// # Safety
    ///
    /// While the returned reference is used, nothing may write vmcs12:
    /// not this backend (`vmcs12`, `vmcs12_set`, `complete`), not KVM code
    /// it calls; and it must not be used after VMXOFF frees vmcs12.
    pub(crate) unsafe fn vmcs12_unbounded<'a>(&mut self) -> Option<&'a Vmcs12> {
        let p = self.nested().cached_vmcs12;
        // SAFETY: a non-null `cached_vmcs12` is this backend's VMCS12_SIZE
        // allocation (lifecycle_vcpu.rs), holding a packed `Vmcs12`; that nothing
        // writes it while the reference is used, and that it is not used
        // after VMXOFF, is the caller's contract.
        (!p.is_null()).then(|| unsafe { &*p.cast::<Vmcs12>() })
    }

    /// A copy of vmcs12, for code that calls into KVM while reading it.
    pub(crate) fn vmcs12_copy(&mut self) -> Option<Vmcs12> {
        self.vmcs12().map(|v| *v)
    }

    // --- guest mode and registers ----------------------------------------

    pub(crate) fn is_guest_mode(&mut self) -> bool {
        // SAFETY: the vCPU is live and ours (type invariant).
        unsafe { bindings::rnvmx_is_guest_mode(self.vcpu) }
    }

    pub(crate) fn enter_guest_mode(&mut self) {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_enter_guest_mode(self.vcpu) }
    }

    pub(crate) fn leave_guest_mode(&mut self) {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_leave_guest_mode(self.vcpu) }
    }

    /// `kvm_register_read()`: general-purpose register `reg` (0-15).
    pub(crate) fn gpr(&mut self, reg: u8) -> u64 {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant); `reg` is 0-15 (a 4-bit
        // instruction-info field).
        unsafe { bindings::rnvmx_register_read(self.vcpu, ffi::c_int::from(reg & 0xf)) as u64 }
    }

    /// `kvm_register_write()`.
    pub(crate) fn set_gpr(&mut self, reg: u8, value: u64) {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe {
            bindings::rnvmx_register_write(self.vcpu, ffi::c_int::from(reg & 0xf), value as usize)
        }
    }

    pub(crate) fn rip(&mut self) -> u64 {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_rip_read(self.vcpu) as u64 }
    }

    pub(crate) fn set_rip(&mut self, v: u64) {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_rip_write(self.vcpu, v as usize) }
    }

    pub(crate) fn rsp(&mut self) -> u64 {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_rsp_read(self.vcpu) as u64 }
    }

    pub(crate) fn set_rsp(&mut self, v: u64) {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_rsp_write(self.vcpu, v as usize) }
    }

    pub(crate) fn rflags(&mut self) -> u64 {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::vmx_get_rflags(self.vcpu) as u64 }
    }

    pub(crate) fn set_rflags(&mut self, v: u64) {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::vmx_set_rflags(self.vcpu, v as usize) }
    }

    pub(crate) fn cpl(&mut self) -> u8 {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        let cpl = unsafe { bindings::vmx_get_cpl(self.vcpu) };
        (cpl & 3) as u8
    }

    pub(crate) fn cr0(&mut self) -> u64 {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_read_cr0(self.vcpu) as u64 }
    }

    pub(crate) fn cr4(&mut self) -> u64 {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_read_cr4(self.vcpu) as u64 }
    }

    pub(crate) fn set_cr0(&mut self, v: u64) {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::vmx_set_cr0(self.vcpu, v as usize) }
    }

    pub(crate) fn set_cr4(&mut self, v: u64) {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::vmx_set_cr4(self.vcpu, v as usize) }
    }

    pub(crate) fn set_efer(&mut self, v: u64) {
        self.arch().efer = v;
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant). vmx_set_efer() fails only
        // for an EFER the vCPU cannot use; vmcs12 checks have rejected those before.
        let _ = unsafe { bindings::vmx_set_efer(self.vcpu, v) };
    }

    pub(crate) fn set_dr7(&mut self, v: u64) {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant); DR7 is always a valid
        // debug register index.
        let _ = unsafe { bindings::kvm_set_dr(self.vcpu, 7, v as usize) };
    }

    pub(crate) fn is_64_bit_mode(&mut self) -> bool {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_is_64_bit_mode(self.vcpu) }
    }

    pub(crate) fn is_pae_paging(&mut self) -> bool {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_is_pae_paging(self.vcpu) }
    }

    pub(crate) fn maxphyaddr(&mut self) -> u32 {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        let m = unsafe { bindings::rnvmx_maxphyaddr(self.vcpu) };
        m.clamp(0, 52) as u32
    }

    pub(crate) fn legal_cr3(&mut self, cr3: u64) -> bool {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_legal_cr3(self.vcpu, cr3 as usize) }
    }

    pub(crate) fn make_request(&mut self, req: u32) {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant); `req` is one of KVM's
        // KVM_REQ_* values.
        unsafe { bindings::rnvmx_make_request(req, self.vcpu) }
    }

    pub(crate) fn check_request(&mut self, req: u32) -> bool {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_check_request(req, self.vcpu) }
    }

    pub(crate) fn clear_request(&mut self, req: u32) {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::rnvmx_clear_request(req, self.vcpu) }
    }

    // --- exceptions and instruction completion ----------------------------

    pub(crate) fn queue_exception(&mut self, vector: u32) {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::kvm_queue_exception(self.vcpu, vector) }
    }

    pub(crate) fn queue_exception_e(&mut self, vector: u32, error_code: u32) {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::kvm_queue_exception_e(self.vcpu, vector, error_code) }
    }

    /// #UD, the handler's return value.
    pub(crate) fn ud(&mut self) -> ffi::c_int {
        self.queue_exception(bindings::UD_VECTOR);
        1
    }

    /// #GP(0), the handler's return value.
    pub(crate) fn gp(&mut self) -> ffi::c_int {
        self.queue_exception_e(bindings::GP_VECTOR, 0);
        1
    }

    /// `kvm_skip_emulated_instruction()`.
    pub(crate) fn skip_instruction(&mut self) -> ffi::c_int {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant).
        unsafe { bindings::kvm_skip_emulated_instruction(self.vcpu) }
    }

    /// Completes a VMX instruction with `outcome` (KVM's nested_vmx_succeed
    /// / failInvalid / failValid): RFLAGS, VM-instruction error, skip.
    pub(crate) fn complete(&mut self, outcome: Outcome) -> ffi::c_int {
        let rflags = self.rflags();
        self.set_rflags(outcome.rflags(rflags));
        if let Some(v) = self.vmcs12() {
            outcome.record(v);
        }
        // An eVMCS "shadows" every field, VM_INSTRUCTION_ERROR too.
        if matches!(outcome, Outcome::VmFailValid(_))
            && crate::evmcs::vmptrld::evmptr_is_set(self.nested().hv_evmcs_vmptr)
        {
            self.nested().need_vmcs12_to_shadow_sync = true;
        }
        self.skip_instruction()
    }

    // --- guest memory -------------------------------------------------------

    /// Reads L1 guest-physical memory.
    pub(crate) fn read_gpa(&mut self, gpa: u64, buf: &mut [u8]) -> bool {
        self.guest_mem().read_gpa(gpa, buf)
    }

    /// A reader of L1 memory.
    pub(crate) fn guest_mem(&mut self) -> GuestMem {
        GuestMem { vcpu: self.vcpu }
    }

    /// vmcs12 together with a reader of L1 memory, for decisions that
    /// read both (exit reflection's bitmaps).
    pub(crate) fn vmcs12_and_mem(&mut self) -> Option<(&Vmcs12, GuestMem)> {
        let vcpu = self.vcpu;
        self.vmcs12().map(|v| (&*v, GuestMem { vcpu }))
    }

    /// Writes L1 guest-physical memory.
    pub(crate) fn write_gpa(&mut self, gpa: u64, buf: &[u8]) -> bool {
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant); `buf` is valid for reads
        // of its length.
        let r = unsafe {
            bindings::kvm_vcpu_write_guest(self.vcpu, gpa, buf.as_ptr().cast(), buf.len())
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
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant); `gva` is a valid
        // out-pointer.
        let r = unsafe {
            bindings::get_vmx_mem_address(
                self.vcpu,
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
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant); `buf` and `e` are valid
        // for writes.
        let r = unsafe {
            bindings::kvm_read_guest_virt(
                self.vcpu,
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
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant); KVM only reads `buf`,
        // through the mutable pointer its prototype asks for.
        let r = unsafe {
            bindings::kvm_write_guest_virt_system(
                self.vcpu,
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
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant); `e` is the exception KVM
        // filled in.
        let ret = unsafe { bindings::kvm_handle_memory_failure(self.vcpu, r, e) };
        Err(if ret == 0 {
            Raised::Userspace
        } else {
            Raised::Queued
        })
    }

    // --- VMCS ---------------------------------------------------------------

    /// The VMCS currently loaded for this vCPU is vmcs02.
    pub(crate) fn on_vmcs02(&mut self) -> bool {
        let vmx = self.vmx();
        core::ptr::eq(vmx.loaded_vmcs, &vmx.nested.vmcs02)
    }

    /// KVM's `vmx_switch_vmcs()`: makes vmcs01 (`to02 == false`) or vmcs02
    /// current and moves the host segment state the exit path restores.
    pub(crate) fn switch_vmcs(&mut self, to02: bool) {
        if self.on_vmcs02() == to02 {
            return;
        }
        // SAFETY: plain preempt_disable() wrapper; paired below.
        let cpu = unsafe { bindings::rnvmx_get_cpu() };
        let vmx = self.vmx();
        let prev = vmx.loaded_vmcs;
        vmx.loaded_vmcs = if to02 {
            &mut vmx.nested.vmcs02
        } else {
            &mut vmx.vmcs01
        };
        // SAFETY: the vCPU is ours (type invariant); `prev` is its other
        // loaded_vmcs, live for the vCPU's lifetime.
        unsafe { bindings::vmx_vcpu_load_vmcs(self.vcpu, cpu, prev) };
        let vmx = self.vmx();
        if vmx.guest_state_loaded {
            // KVM's vmx_sync_vmcs_host_state().
            // SAFETY: `prev` and `loaded_vmcs` are the vCPU's two distinct
            // loaded_vmcs structures (the early return above).
            let (src, dest) = unsafe { (&(*prev).host_state, &mut (*vmx.loaded_vmcs).host_state) };
            if dest.fs_sel != src.fs_sel {
                hw::write(e::HOST_FS_SELECTOR, u64::from(src.fs_sel));
                dest.fs_sel = src.fs_sel;
            }
            if dest.gs_sel != src.gs_sel {
                hw::write(e::HOST_GS_SELECTOR, u64::from(src.gs_sel));
                dest.gs_sel = src.gs_sel;
            }
            if dest.fs_base != src.fs_base {
                hw::write(e::HOST_FS_BASE, src.fs_base as u64);
                dest.fs_base = src.fs_base;
            }
            if dest.gs_base != src.gs_base {
                hw::write(e::HOST_GS_BASE, src.gs_base as u64);
                dest.gs_base = src.gs_base;
            }
            dest.ldt_sel = src.ldt_sel;
            dest.ds_sel = src.ds_sel;
            dest.es_sel = src.es_sel;
        }
        // SAFETY: pairs with rnvmx_get_cpu() above.
        unsafe { bindings::rnvmx_put_cpu() };
        // All lazily loaded registers come from the new VMCS.
        let arch = self.arch();
        arch.regs_avail = !VMX_REGS_LAZY_LOAD_SET;
        arch.regs_dirty = 0;
    }

    /// Runs `f` with vmcs02 loaded in place of vmcs01 (KVM's
    /// copy_vmcs02_to_vmcs12_rare() dance); preemption is off meanwhile.
    pub(crate) fn with_vmcs02_loaded(&mut self, f: impl FnOnce(&mut Nv)) {
        // SAFETY: preempt_disable() wrapper, paired below.
        let cpu = unsafe { bindings::rnvmx_get_cpu() };
        let vmx = self.vmx();
        let (v01, v02): (*mut bindings::loaded_vmcs, *mut bindings::loaded_vmcs) =
            (&mut vmx.vmcs01, &mut vmx.nested.vmcs02);
        vmx.loaded_vmcs = v02;
        // SAFETY: both are this vCPU's loaded_vmcs; vmcs02 exists while in
        // VMX operation, which every caller is.
        unsafe { bindings::vmx_vcpu_load_vmcs(self.vcpu, cpu, v01) };
        f(self);
        self.vmx().loaded_vmcs = v01;
        // SAFETY: `self.vcpu` is live, loaded and ours (type invariant); back to vmcs01, then
        // preemption on again.
        unsafe {
            bindings::vmx_vcpu_load_vmcs(self.vcpu, cpu, v02);
            bindings::rnvmx_put_cpu();
        }
    }

    /// The controls shadow of the current VMCS (`loaded_vmcs->controls_shadow`).
    pub(crate) fn controls_shadow(&mut self) -> &mut bindings::vmcs_controls_shadow {
        let p = self.vmx().loaded_vmcs;
        // SAFETY: `loaded_vmcs` always points to vmcs01 or vmcs02 of this
        // vCPU; `&mut self` keeps the reference exclusive.
        unsafe { &mut (*p).controls_shadow }
    }

    /// vmcs01's controls shadow.
    pub(crate) fn vmcs01_controls(&mut self) -> bindings::vmcs_controls_shadow {
        self.vmx().vmcs01.controls_shadow
    }

    /// KVM's `<controls>_set()`: writes a control of the current VMCS when
    /// it changes, keeping the shadow KVM reads.
    pub(crate) fn set_control(&mut self, which: Control, value: u32) {
        let s = self.controls_shadow();
        let slot = match which {
            Control::Pin => &mut s.pin,
            Control::Exec => &mut s.exec,
            Control::Secondary => &mut s.secondary_exec,
            Control::Entry => &mut s.vm_entry,
            Control::Exit => &mut s.vm_exit,
        };
        if *slot != value {
            *slot = value;
            hw::write(which.encoding(), u64::from(value));
        }
    }

    /// `nested.pi_pending`: a notification for L2's posted interrupts
    /// arrived. Other vCPUs set it (vmx_deliver_nested_posted_interrupt()),
    /// so it is accessed once, as KVM's READ_ONCE/WRITE_ONCE, never through a
    /// reference.
    pub(crate) fn pi_pending(&self) -> bool {
        let vmx = self.vcpu.cast::<bindings::vcpu_vmx>();
        // SAFETY: the field of a live vcpu_vmx (type invariant), read once.
        unsafe { core::ptr::addr_of!((*vmx).nested.pi_pending).read_volatile() }
    }

    /// L1's posted-interrupt descriptor and L2's virtual-APIC page as
    /// mapped at entry (`nested.pi_desc`, `nested.virtual_apic_map.hva`),
    /// null when not mapped.
    pub(crate) fn posted_intr_pages(&mut self) -> (*mut bindings::pi_desc, *mut u8) {
        let n = self.nested();
        (n.pi_desc, n.virtual_apic_map.hva.cast())
    }

    /// Sets `nested.pi_pending` (see `pi_pending`).
    pub(crate) fn set_pi_pending(&mut self, pending: bool) {
        let vmx = self.vcpu.cast::<bindings::vcpu_vmx>();
        // SAFETY: the field of a live vcpu_vmx (type invariant), written once
        // through a raw pointer (other vCPUs read it concurrently).
        unsafe { core::ptr::addr_of_mut!((*vmx).nested.pi_pending).write_volatile(pending) }
    }

    /// Sets `nested.posted_intr_nv`, which other vCPUs read when they post
    /// to this one (see `pi_pending`); u16::MAX (KVM's -1) for none.
    pub(crate) fn set_posted_intr_nv(&mut self, nv: u16) {
        let vmx = self.vcpu.cast::<bindings::vcpu_vmx>();
        // SAFETY: the field of a live vcpu_vmx (type invariant), written once
        // through a raw pointer (other vCPUs read it when they post).
        unsafe { core::ptr::addr_of_mut!((*vmx).nested.posted_intr_nv).write_volatile(nv) }
    }

    /// `vcpu->guest_debug`: KVM_SET_GUEST_DEBUG's flags, set by the vCPU
    /// ioctl, which holds `vcpu->mutex` as the callbacks do.
    pub(crate) fn guest_debug(&self) -> u64 {
        // SAFETY: a field of the live vCPU (type invariant), read once.
        unsafe { core::ptr::addr_of!((*self.vcpu).guest_debug).read() as u64 }
    }

    /// `kvm_vcpu_map()` of the L1 page at `gpa` into one of the vCPU's
    /// nested maps, kept until the next nested exit (which unmaps them);
    /// the page's host physical address.
    pub(crate) fn map_l1_page(&mut self, gpa: u64, slot: MapSlot) -> Option<u64> {
        let n = core::ptr::addr_of_mut!(self.vmx().nested);
        // SAFETY: a field of this vCPU's nested state (type invariant),
        // taken without a reference that would live across the call.
        let map = unsafe {
            match slot {
                MapSlot::ApicAccess => core::ptr::addr_of_mut!((*n).apic_access_page_map),
                MapSlot::VirtualApic => core::ptr::addr_of_mut!((*n).virtual_apic_map),
                MapSlot::PostedIntrDesc => core::ptr::addr_of_mut!((*n).pi_desc_map),
            }
        };
        // SAFETY: the vCPU is ours; `map` is one of its nested maps,
        // unmapped (every exit unmaps them), which KVM fills in.
        let r = unsafe { bindings::kvm_vcpu_map(self.vcpu, gpa >> PAGE_SHIFT, map) };
        // SAFETY: filled in by KVM just above.
        (r == 0).then(|| unsafe { (*map).pfn } << PAGE_SHIFT)
    }

    /// `__pa()` of a kernel virtual address.
    pub(crate) fn pa<T>(p: *const T) -> u64 {
        // SAFETY: `__pa()` only computes; callers pass kernel direct-map
        // addresses (page allocations of kvm-intel).
        unsafe { bindings::rnvmx_pa(p.cast()) }
    }
}

/// Reads L1 guest-physical memory through KVM's memslots. It touches no
/// nested state (in particular not the cached vmcs12), so it may be used
/// while vmcs12 is borrowed.
pub(crate) struct GuestMem {
    vcpu: *mut bindings::kvm_vcpu,
}

impl GuestMem {
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

/// KVM's VMX_REGS_LAZY_LOAD_SET: RIP, RSP, the PDPTRs, CR0, CR3, CR4 and
/// the exit information are read from the VMCS on demand.
const VMX_REGS_LAZY_LOAD_SET: u32 = (1 << bindings::kvm_reg_VCPU_REGS_RIP)
    | (1 << bindings::kvm_reg_VCPU_REGS_RSP)
    | (1 << bindings::kvm_reg_VCPU_EXREG_RFLAGS)
    | (1 << bindings::kvm_reg_VCPU_EXREG_PDPTR)
    | (1 << bindings::kvm_reg_VCPU_EXREG_SEGMENTS)
    | (1 << bindings::kvm_reg_VCPU_EXREG_CR0)
    | (1 << bindings::kvm_reg_VCPU_EXREG_CR3)
    | (1 << bindings::kvm_reg_VCPU_EXREG_CR4)
    | (1 << bindings::kvm_reg_VCPU_EXREG_EXIT_INFO_1)
    | (1 << bindings::kvm_reg_VCPU_EXREG_EXIT_INFO_2);
