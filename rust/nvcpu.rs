// SPDX-License-Identifier: GPL-2.0

//! `Nv`: one vCPU of a VM bound to this backend, as a backend callback sees
//! it. All access to KVM's per-vCPU state and all calls into KVM go through
//! here, so the rest of the glue has no unsafe code of its own.
//!
//! Aliasing: KVM's own functions read and write the same `struct vcpu_vmx`,
//! and other threads write a few of its fields while this vCPU runs
//! (`vcpu->requests` and `vcpu->mode` by kvm_make_request() and kicks,
//! `arch.nmi_queued` by NMI injection, `nested.pi_pending` by posted
//! interrupts for L2, `nested.preemption_timer_expired` by the hrtimer,
//! the posted-interrupt descriptor by other CPUs). So no reference to the
//! whole `vcpu_vmx`, `kvm_vcpu`, `kvm_vcpu_arch` or `nested_vmx` is ever
//! made: [`vf!`] yields a reference to one field, projected from the raw
//! pointer, and refuses those written elsewhere (reached through raw
//! pointers and atomics only). References are only handed out through
//! `&mut self`, so the borrow checker guarantees none is alive when a
//! method calls into KVM.

use kernel::ffi;

use crate::bindings;
pub(crate) use crate::nested::entry_vcpu::Control;
use crate::vmcs::layout::{Vmcs12, VMCS12_SIZE};
use crate::vmcs::outcome::Outcome;

/// KVM's `INVALID_GPA`.
pub(crate) const INVALID_GPA: u64 = !0;

/// KVM's PAGE_SHIFT: 4-KiB pages.
pub(crate) const PAGE_SHIFT: u32 = 12;

/// A field of this vCPU's `struct vcpu_vmx` as a place, e.g.
/// `vf!(nv, nested.vmxon)` or `vf!(nv, vcpu.arch.cr3) = v`: the reference
/// behind it covers that field alone. The fields other threads write, and
/// the structures that hold them, are refused at compile time.
macro_rules! vf {
    ($nv:expr, vcpu) => { compile_error!("vf!: other threads write parts of the vCPU") };
    ($nv:expr, vcpu.arch) => { compile_error!("vf!: arch.nmi_queued is written by other threads") };
    ($nv:expr, vcpu.requests) => { compile_error!("vf!: requests are set by other threads") };
    ($nv:expr, vcpu.mode) => { compile_error!("vf!: the mode is changed by kicks") };
    ($nv:expr, vcpu.arch.nmi_queued) => { compile_error!("vf!: NMIs are queued by other threads") };
    ($nv:expr, nested) => { compile_error!("vf!: nested.pi_pending is written by other CPUs") };
    ($nv:expr, nested.pi_pending) => { compile_error!("vf!: written by other CPUs") };
    ($nv:expr, nested.preemption_timer_expired) => { compile_error!("vf!: written by the hrtimer") };
    ($nv:expr, nested.preemption_timer) => { compile_error!("vf!: used by the hrtimer") };
    ($nv:expr, pi_desc) => { compile_error!("vf!: written by other CPUs") };
    ($nv:expr, $($f:ident).+) => {
        (*{
            // (A call site may itself be in an unsafe block.)
            #[allow(unused_unsafe)]
            // SAFETY: the closure only computes the address of the named
            // field of the `vcpu_vmx` it is given, without accessing
            // memory; the fields other threads write are refused above.
            let r = unsafe { $nv.field(|p| core::ptr::addr_of_mut!((*p).$($f).+)) };
            r
        })
    };
}
pub(crate) use vf;

/// The address of a field of this vCPU's `struct vcpu_vmx`, e.g.
/// `vp!(nv, nested.vmcs02)`: a raw pointer, no reference made.
macro_rules! vp {
    ($nv:expr, $($f:ident).+) => {{
        let p = $nv.vmx_ptr();
        #[allow(unused_unsafe)]
        // SAFETY: `p` is the vCPU's live `struct vcpu_vmx` (`Nv`'s
        // invariant); this only computes a field's address.
        let a = unsafe { core::ptr::addr_of_mut!((*p).$($f).+) };
        a
    }};
}
pub(crate) use vp;

/// A vCPU of a VM bound to this backend.
///
/// # Invariants
///
/// `vcpu` points to a live kvm-intel vCPU (the first member of a `struct
/// vcpu_vmx`), loaded on this CPU, whose `vcpu->mutex` is held by the
/// caller of the backend callback this object lives in; so no other thread
/// accesses its state but the fields named in the module documentation.
/// The object does not outlive the callback.
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

    /// KVM's `to_vmx()`, as a raw pointer: see [`vf!`] for its fields.
    pub(crate) fn vmx_ptr(&mut self) -> *mut bindings::vcpu_vmx {
        // The vCPU is the first member of `struct vcpu_vmx` (vcpu.rs).
        self.vcpu.cast()
    }

    /// One field of the vCPU's `struct vcpu_vmx`, by [`vf!`].
    ///
    /// # Safety
    ///
    /// `at` returns the address of a field of the `vcpu_vmx` it is given,
    /// computed without accessing memory, of a field that no other thread
    /// writes while the vCPU is loaded (see the module documentation).
    pub(crate) unsafe fn field<T>(
        &mut self,
        at: impl FnOnce(*mut bindings::vcpu_vmx) -> *mut T,
    ) -> &mut T {
        let p = at(self.vmx_ptr());
        // SAFETY: by the type invariant the `vcpu_vmx` is live and this
        // thread's; by this function's contract `p` is one of its fields
        // that only this thread accesses now; the `&mut self` borrow keeps
        // the reference exclusive and ends before any call into KVM.
        unsafe { &mut *p }
    }

    /// The exit reason of the last VM exit, all 32 bits (`vmx->exit_reason`).
    pub(crate) fn exit_reason(&mut self) -> u32 {
        // `union vmx_exit_reason` is a u32 overlaid with bitfields of it:
        // every bit pattern is a valid u32.
        vf!(self, exit_reason.full)
    }

    /// L1's VMX capability MSRs (`nested.msrs`).
    pub(crate) fn vmx_msrs(&mut self) -> &crate::vmcs::caps::NestedVmxMsrs {
        self.vmx_msrs_mut()
    }

    /// L1's VMX capability MSRs through a shared borrow (the VM-entry
    /// checks read them where they are).
    pub(crate) fn vmx_msrs_shared(&self) -> &crate::vmcs::caps::NestedVmxMsrs {
        let p: *mut bindings::vcpu_vmx = self.vcpu.cast();
        // SAFETY: `p` is the vCPU's live `struct vcpu_vmx` (the vCPU is its
        // first member, type invariant); this only computes a field's
        // address.
        let m = unsafe { core::ptr::addr_of!((*p).nested.msrs) };
        // SAFETY: as in `vmx_msrs_mut`; the shared borrow of `self` rules
        // out a `&mut` to the field (only `vmx_msrs_mut`, which needs
        // `&mut self`, makes one) while the reference lives.
        unsafe { &*m.cast::<crate::vmcs::caps::NestedVmxMsrs>() }
    }

    /// L1's VMX capability MSRs, for their restore by userspace.
    pub(crate) fn vmx_msrs_mut(&mut self) -> &mut crate::vmcs::caps::NestedVmxMsrs {
        let m = vp!(self, nested.msrs);
        // SAFETY: `NestedVmxMsrs` is `struct nested_vmx_msrs` field for field
        // (asserted in bindings.rs); only the vCPU thread accesses the field
        // (type invariant) and the borrow of `self` keeps the reference
        // exclusive.
        unsafe { &mut *m.cast::<crate::vmcs::caps::NestedVmxMsrs>() }
    }

    /// The cached vmcs12 (`get_vmcs12()`), allocated while in VMX operation.
    pub(crate) fn vmcs12(&mut self) -> Option<&mut Vmcs12> {
        let p = vf!(self, nested.cached_vmcs12);
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
    /// shadowing; allocated by the first entry or restore that needs it
    /// (nested/lifecycle.rs), freed on leaving VMX operation.
    pub(crate) fn shadow_vmcs12(&mut self) -> Option<&mut Vmcs12> {
        let p = vf!(self, nested.cached_shadow_vmcs12);
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
        let p = vf!(self, nested.cached_vmcs12);
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
        let p = vf!(self, nested.cached_shadow_vmcs12);
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
        let kvm = vf!(self, vcpu.kvm);
        let ghc = core::ptr::addr_of_mut!(vf!(self, nested.shadow_vmcs12_cache));
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
        let p = vf!(self, nested.cached_shadow_vmcs12);
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

    /// The cached vmcs12, shared.
    pub(crate) fn vmcs12_ref(&mut self) -> Option<&Vmcs12> {
        self.vmcs12().map(|v| &*v)
    }

    /// vmcs12's EPT pointer, read without making a reference to vmcs12:
    /// KVM's MMU asks for it (`get_eptp`, `new_eptp`) while the entry code
    /// holds a shared reference to vmcs12 (`vmcs12_unbounded`).
    pub(crate) fn vmcs12_ept_pointer(&mut self) -> Option<u64> {
        let p = vf!(self, nested.cached_vmcs12).cast::<u8>();
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
        let p = vf!(self, nested.cached_vmcs12);
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
            && crate::evmcs::vmptrld::evmptr_is_set(vf!(self, nested.hv_evmcs_vmptr))
        {
            vf!(self, nested.need_vmcs12_to_shadow_sync) = true;
        }
        self.skip_instruction()
    }

    /// `__pa()` of a kernel virtual address.
    pub(crate) fn pa<T>(p: *const T) -> u64 {
        // SAFETY: `__pa()` only computes; callers pass kernel direct-map
        // addresses (page allocations of kvm-intel).
        unsafe { bindings::rnvmx_pa(p.cast()) }
    }
}
