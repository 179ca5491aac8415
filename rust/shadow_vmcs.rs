// SPDX-License-Identifier: GPL-2.0

//! VMCS shadowing for L1: while L1 runs, its VMREADs and VMWRITEs of the
//! shadowed fields (the core's field table, `crate::shadow::bitmap`) are
//! served by the CPU from a shadow VMCS linked to vmcs01, without exits.
//! KVM's alloc_shadow_vmcs(), set_current_vmptr(), copy_shadow_to_vmcs12(),
//! copy_vmcs12_to_shadow(), vmx_disable_shadow_vmcs().

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::prelude::*;

use crate::bindings;
use crate::fields;
use crate::hw;
use crate::nvcpu::{Control, Nv, INVALID_GPA};
use crate::shadow::bitmap::{self, Bitmap, ShadowCaps};
use crate::vcpu::vmcs_config;
use crate::vmcs::controls::{PinBased, Secondary};
use crate::vmcs::table::encodings as e;

/// Physical addresses of the VMREAD and VMWRITE bitmaps, 0 before module
/// init builds them (or without shadowing).
static VMREAD_BITMAP_PA: AtomicU64 = AtomicU64::new(0);
static VMWRITE_BITMAP_PA: AtomicU64 = AtomicU64::new(0);

/// A bitmap page: the CPU wants them 4 KiB aligned.
#[repr(C, align(4096))]
struct Page(Bitmap);

/// The two bitmaps, owned by the module; vmcs01 of every vCPU points to
/// them, so they outlive every bound VM (each holds a module reference).
pub(crate) struct Bitmaps {
    _read: KBox<Page>,
    _write: KBox<Page>,
}

/// VMCS shadowing is used for L1: kvm_intel.enable_shadow_vmcs, which
/// kvm-intel clears at setup when the CPU cannot shadow VMCS fields (KVM's
/// cpu_has_vmx_shadow_vmcs()), so this is exactly when nested.c uses it.
pub(crate) fn enabled() -> bool {
    // SAFETY: kvm-intel's parameter, read-only once kvm-intel is loaded
    // (which this module's imports guarantee).
    unsafe { bindings::enable_shadow_vmcs }
}

/// What L0's CPU can shadow (kvm-intel's `vmcs_config`).
pub(crate) fn caps() -> ShadowCaps {
    let cfg = vmcs_config();
    ShadowCaps::of(
        PinBased(cfg.pin_based_exec_ctrl),
        Secondary(cfg.cpu_based_2nd_exec_ctrl),
    )
}

impl Bitmaps {
    /// Builds the bitmaps from the field table (KVM's
    /// init_vmcs_shadow_fields()).
    pub(crate) fn new() -> Result<Self> {
        let mut read = KBox::new(Page(Bitmap::all_exit()), GFP_KERNEL)?;
        let mut write = KBox::new(Page(Bitmap::all_exit()), GFP_KERNEL)?;
        bitmap::fill(&caps(), &mut read.0, &mut write.0);
        if enabled() {
            VMREAD_BITMAP_PA.store(Nv::pa(&*read), Ordering::Relaxed);
            VMWRITE_BITMAP_PA.store(Nv::pa(&*write), Ordering::Relaxed);
        }
        Ok(Bitmaps {
            _read: read,
            _write: write,
        })
    }
}

/// vmcs01's shadowing bitmaps, when a vCPU's VMCS is initialised.
pub(crate) fn init_vmcs() {
    let (r, w) = (
        VMREAD_BITMAP_PA.load(Ordering::Relaxed),
        VMWRITE_BITMAP_PA.load(Ordering::Relaxed),
    );
    if r != 0 && w != 0 {
        hw::write(e::VMREAD_BITMAP, r);
        hw::write(e::VMWRITE_BITMAP, w);
    }
}

/// At VMXON: vmcs01's shadow VMCS.
pub(crate) fn alloc(nv: &mut Nv) -> Result {
    if !enabled() || !nv.vmx().vmcs01.shadow_vmcs.is_null() {
        return Ok(());
    }
    // SAFETY: plain allocation of a VMCS page marked as shadow VMCS.
    let vmcs = unsafe { bindings::rnvmx_alloc_shadow_vmcs() };
    if vmcs.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: the page was just allocated and is loaded nowhere.
    unsafe { hw::vmclear(Nv::pa(vmcs)) };
    nv.vmx().vmcs01.shadow_vmcs = vmcs;
    Ok(())
}

/// At VMXOFF: frees the shadow VMCS (after `disable`).
pub(crate) fn free(nv: &mut Nv) {
    let vmcs = nv.vmx().vmcs01.shadow_vmcs;
    if vmcs.is_null() {
        return;
    }
    // VMCLEARed while vmcs01 still names it, as nested.c: until then the
    // CPU this vCPU last ran on, clearing vmcs01 when the vCPU moves (or
    // on crash/CPU offline), finds and clears it too.
    // SAFETY: the shadow VMCS is ours; vmcs01's link pointer no longer
    // names it (`disable`), so it is not in use by the CPU.
    unsafe { hw::vmclear(Nv::pa(vmcs)) };
    nv.vmx().vmcs01.shadow_vmcs = core::ptr::null_mut();
    // SAFETY: cleared above and no longer reachable from vmcs01.
    unsafe { bindings::free_vmcs(vmcs) };
}

fn shadow_pa(nv: &mut Nv) -> Option<u64> {
    let vmcs = nv.vmx().vmcs01.shadow_vmcs;
    (!vmcs.is_null()).then(|| Nv::pa(vmcs))
}

/// VMPTRLD of a new current VMCS (KVM's set_current_vmptr()): link the
/// shadow VMCS to vmcs01 and fill it before L1 runs again.
pub(crate) fn enable(nv: &mut Nv) {
    let Some(pa) = shadow_pa(nv) else {
        return;
    };
    let sec = nv.controls_shadow().secondary_exec | Secondary::SHADOW_VMCS.bits();
    nv.set_control(Control::Secondary, sec);
    hw::write(e::VMCS_LINK_POINTER, pa);
    nv.nested().need_vmcs12_to_shadow_sync = true;
}

/// KVM's vmx_disable_shadow_vmcs().
pub(crate) fn disable(nv: &mut Nv) {
    if shadow_pa(nv).is_none() {
        return;
    }
    let sec = nv.controls_shadow().secondary_exec & !Secondary::SHADOW_VMCS.bits();
    nv.set_control(Control::Secondary, sec);
    hw::write(e::VMCS_LINK_POINTER, INVALID_GPA);
    nv.nested().need_vmcs12_to_shadow_sync = false;
}

/// Runs `f` with the shadow VMCS current, then makes the vCPU's VMCS
/// current again; preemption is off meanwhile.
fn with_shadow_loaded(nv: &mut Nv, f: impl FnOnce(&mut Nv)) {
    let Some(pa) = shadow_pa(nv) else {
        return;
    };
    let current = nv.vmx().loaded_vmcs;
    // SAFETY: `loaded_vmcs` points to vmcs01 or vmcs02 of this vCPU.
    let current_pa = Nv::pa(unsafe { (*current).vmcs });
    // SAFETY: preempt_disable() wrapper, paired below.
    unsafe { bindings::rnvmx_get_cpu() };
    // SAFETY: both VMCSs belong to this loaded vCPU; preemption is off
    // until the vCPU's own VMCS is current again.
    unsafe { hw::vmptrld(pa) };
    f(nv);
    // SAFETY: as above.
    unsafe {
        hw::vmclear(pa);
        hw::vmptrld(current_pa);
        bindings::rnvmx_put_cpu();
    }
}

/// KVM's copy_shadow_to_vmcs12(): what L1 wrote without exits.
pub(crate) fn to_vmcs12(nv: &mut Nv) {
    let Some(l) = fields::lists() else {
        return;
    };
    with_shadow_loaded(nv, |nv| {
        for s in l.shadow.read_write() {
            nv.vmcs12_set(s, hw::read(s.encoding));
        }
    });
}

/// KVM's copy_vmcs12_to_shadow() (nested_sync_vmcs12_to_shadow()): the
/// read-write fields, then the read-only ones, as KVM.
pub(crate) fn from_vmcs12(nv: &mut Nv) {
    let Some(l) = fields::lists() else {
        return;
    };
    with_shadow_loaded(nv, |nv| {
        for s in l.shadow.read_write().iter().chain(l.shadow.read_only()) {
            hw::write(s.encoding, nv.vmcs12_get(s));
        }
    });
    nv.nested().need_vmcs12_to_shadow_sync = false;
}

/// A VMWRITE (exiting, "VMWRITE to any field") of a field L1 reads from
/// the shadow VMCS: update the shadow copy too.
pub(crate) fn write_ro(nv: &mut Nv, encoding: crate::vmcs::encoding::Encoding, value: u64) {
    with_shadow_loaded(nv, |_| hw::write(encoding, value));
}
