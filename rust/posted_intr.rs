// SPDX-License-Identifier: GPL-2.0

//! Posted interrupts and virtual-interrupt delivery for L2: the core's
//! decisions (nested/posted_intr.rs) applied to L1's posted-interrupt
//! descriptor, the virtual-APIC page and vmcs02, with KVM's own atomic
//! helpers for the descriptor, which other vCPUs of L1 write.

use kernel::ffi;

use crate::bindings;
use crate::hw;
use crate::nested::posted_intr::{self, Completion, PostedIntrIo};
use crate::nested::vmcs12_pages;
use crate::nvcpu::vf;
use crate::nvcpu::Nv;
use crate::stats;
use crate::vmcs::table::encodings as e;

/// KVM's APIC_PROCPRI: the (virtual) PPR's offset in an APIC page.
const APIC_PROCPRI: usize = 0xa0;
/// KVM's X86EMUL_IO_NEEDED.
const X86EMUL_IO_NEEDED: ffi::c_int = 5;
const ENXIO: ffi::c_int = 6;

/// The pages of one vCPU's L2 as `PostedIntrIo` reaches them.
struct Pages<'a> {
    nv: &'a mut Nv,
    /// L1's descriptor, mapped at entry (`nested.pi_desc`), or null.
    desc: *mut bindings::pi_desc,
    /// The virtual-APIC page (`nested.virtual_apic_map.hva`), or null.
    vapic: *mut u8,
}

impl<'a> Pages<'a> {
    fn of(nv: &'a mut Nv) -> Self {
        let (desc, vapic) = nv.posted_intr_pages();
        Pages { nv, desc, vapic }
    }
}

impl PostedIntrIo for Pages<'_> {
    fn pi_pending(&self) -> bool {
        self.nv.pi_pending()
    }
    fn clear_pi_pending(&mut self) {
        self.nv.set_pi_pending(false);
    }
    fn has_pi_desc(&self) -> bool {
        !self.desc.is_null()
    }
    fn test_and_clear_on(&mut self) -> bool {
        // SAFETY: `desc` is non-null (checked by the core first) and points
        // into the page mapped at entry until the next exit; the helper is
        // KVM's atomic bit operation.
        !self.desc.is_null() && unsafe { bindings::rnvmx_pi_test_and_clear_on(self.desc) }
    }
    fn test_on(&self) -> bool {
        // SAFETY: pi_test_on() is test_bit() on the descriptor's control
        // word: it needs `desc` to point to a live pi_desc, which it does
        // when non-null (checked first): L1's descriptor page, mapped at
        // the entry until the next exit.
        !self.desc.is_null() && unsafe { bindings::rnvmx_pi_test_on(self.desc) }
    }
    fn highest_pir_vector(&self) -> Option<u8> {
        if self.desc.is_null() {
            return None;
        }
        // SAFETY: pi_find_highest_vector() is find_last_bit() over the
        // descriptor's 256-bit PIR: `desc` is non-null (checked above), so
        // it points to L1's descriptor page, mapped at the entry until the
        // next exit; other vCPUs may set PIR bits meanwhile, which a bit
        // scan tolerates (a racing post is seen now or at the next check).
        let v = unsafe { bindings::rnvmx_pi_find_highest_vector(self.desc) };
        u8::try_from(v).ok()
    }
    fn has_vapic(&self) -> bool {
        !self.vapic.is_null()
    }
    fn vppr(&self) -> Option<u32> {
        if self.vapic.is_null() {
            return None;
        }
        // SAFETY: a mapped virtual-APIC page is 4 KiB, mapped until the next
        // exit; L1 memory, so read once without a reference.
        Some(unsafe { self.vapic.add(APIC_PROCPRI).cast::<u32>().read_volatile() })
    }
    fn pir_to_irr(&mut self) -> i32 {
        let mut max_irr: ffi::c_int = -1;
        if self.desc.is_null() || self.vapic.is_null() {
            return max_irr;
        }
        // SAFETY: both pages are mapped until the next exit (checked
        // non-null above); __kvm_apic_update_irr() moves the PIR words with
        // xchg and sets the IRR words with cmpxchg, as other vCPUs may post.
        unsafe {
            let pir = core::ptr::addr_of_mut!((*self.desc).__bindgen_anon_1.pir).cast::<u32>();
            bindings::__kvm_apic_update_irr(pir, self.vapic.cast(), &mut max_irr);
        }
        max_irr
    }
    fn guest_intr_status(&self) -> u16 {
        hw::read(e::GUEST_INTR_STATUS) as u16
    }
    fn set_guest_intr_status(&mut self, status: u16) {
        hw::write(e::GUEST_INTR_STATUS, u64::from(status));
    }
    fn mark_pages_dirty(&mut self) {
        mark_vmcs12_pages_dirty(self.nv);
    }
}

/// KVM's `nested_mark_vmcs12_pages_dirty()`: the pages the CPU writes
/// during APIC virtualization, behind dirty logging's back (the core's
/// `vmcs12_pages::dirty_gfns`).
///
/// Called on every exit from L2: the usual case (neither page in use)
/// returns before the marking's own frame is set up.
#[inline]
pub(crate) fn mark_vmcs12_pages_dirty(nv: &mut Nv) {
    let Some(gfns) = nv.vmcs12_ref().map(vmcs12_pages::dirty_gfns) else {
        return;
    };
    if gfns != [None, None] {
        mark_dirty(nv.raw(), gfns);
    }
}

#[inline(never)]
fn mark_dirty(vcpu: *mut bindings::kvm_vcpu, gfns: [Option<u64>; 2]) {
    for gfn in gfns.into_iter().flatten() {
        // SAFETY: kvm_vcpu_mark_page_dirty() looks `gfn` up in the vCPU's
        // memslots, which needs `kvm->srcu` read-held: both callers
        // (vmx_handle_exit() and the nested posted-interrupt completion)
        // run in the vCPU run loop, which holds it; the vCPU is live (Nv
        // invariant), and a gfn in no memslot is ignored.
        unsafe { bindings::kvm_vcpu_mark_page_dirty(vcpu, gfn) };
    }
}

/// KVM's `vmx_complete_nested_posted_interrupt()`: 0, or -ENXIO with a
/// memory failure reported to userspace.
pub(crate) fn complete(nv: &mut Nv) -> ffi::c_int {
    if !nv.pi_pending() {
        return 0;
    }
    match posted_intr::complete(&mut Pages::of(nv)) {
        Completion::Done => 0,
        Completion::Delivered => {
            stats::POSTED_INTR_COMPLETIONS.inc();
            0
        }
        Completion::MmioNeeded => {
            // SAFETY: with X86EMUL_IO_NEEDED, kvm_handle_memory_failure()
            // never reads the exception pointer (NULL here; only
            // X86EMUL_PROPAGATE_FAULT uses it) and fills in the vCPU's
            // kvm_run for an emulation-failure exit, which needs the live,
            // loaded vCPU the Nv invariant gives.
            unsafe {
                bindings::kvm_handle_memory_failure(
                    nv.raw(),
                    X86EMUL_IO_NEEDED,
                    core::ptr::null_mut(),
                )
            };
            -ENXIO
        }
    }
}

/// The virtual-interrupt part of KVM's `vmx_has_nested_events()`.
pub(crate) fn has_virtual_interrupt(nv: &mut Nv) -> bool {
    let vcpu = nv.raw();
    let blocked = || {
        // SAFETY: the vCPU is ours (Nv invariant); asked while `nv` lends
        // only the cached vmcs12, which __vmx_interrupt_blocked() does not
        // touch.
        unsafe { bindings::__vmx_interrupt_blocked(vcpu) }
    };
    if !posted_intr::virtual_interrupt_possible(nv.vmcs12_ref(), blocked) {
        return false;
    }
    posted_intr::has_virtual_interrupt(&Pages::of(nv))
}

/// A notification vector L1's APIC has pending starts posted-interrupt
/// processing (`nested_vmx_run()`, `vmx_check_nested_events()`): it is
/// taken off L1's IRR and completed on the way into L2. `irq` is
/// kvm_apic_has_interrupt()'s. Whether it was the notification vector.
pub(crate) fn take_notification(nv: &mut Nv, irq: ffi::c_int) -> bool {
    let pinv = vf!(nv, nested.posted_intr_nv);
    if !posted_intr::is_notification(irq, pinv) {
        return false;
    }
    nv.set_pi_pending(true);
    // SAFETY: kvm_apic_clear_irr() clears `irq` in `vcpu->arch.apic`'s
    // IRR (atomically), so the vCPU needs an in-kernel APIC: `irq` is a
    // vector (non-negative, checked by is_notification() above) that
    // kvm_apic_has_interrupt() or the APIC's highest pending vector gave,
    // which only a vCPU with an in-kernel APIC has. The vCPU is live and
    // loaded (Nv invariant).
    unsafe { bindings::kvm_apic_clear_irr(nv.raw(), irq) };
    true
}
