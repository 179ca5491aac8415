// SPDX-License-Identifier: GPL-2.0

//! VMCS shadowing for L1: while L1 runs, its VMREADs and VMWRITEs of the
//! shadowed fields (the core's field table, `crate::shadow::bitmap`) are
//! served by the CPU from a shadow VMCS linked to vmcs01, without exits.
//! Here: the VMREAD/VMWRITE bitmaps, the shadow VMCS's allocation and
//! freeing (KVM's alloc_shadow_vmcs()), `enable_shadow_vmcs`, and the
//! core's `ShadowVmcsVcpu`; what is linked, copied and synced when (KVM's
//! set_current_vmptr(), vmx_disable_shadow_vmcs(), copy_shadow_to_vmcs12(),
//! copy_vmcs12_to_shadow()) is nested/shadow_vmcs.rs.

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::prelude::*;

use crate::bindings;
use crate::fields;
use crate::hw;
use crate::nested::shadow_vmcs::{ShadowVmcsVcpu, VmcsIo};
use crate::nvcpu::vf;
use crate::nvcpu::{Control, Nv};
use crate::shadow::bitmap::{self, Bitmap, ShadowCaps};
use crate::shadow::fields::ShadowFields;
use crate::vcpu::vmcs_config;
use crate::vmcs::controls::{PinBased, Secondary};
use crate::vmcs::encoding::Encoding;
use crate::vmcs::layout::Vmcs12;
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
    if !enabled() || !vf!(nv, vmcs01.shadow_vmcs).is_null() {
        return Ok(());
    }
    // SAFETY: alloc_vmcs(true) allocates a page (GFP_KERNEL_ACCOUNT, may
    // sleep) and writes its revision id and shadow bit; it needs process
    // context: VMX operation is entered by VMXON's exit handler or by
    // KVM_SET_NESTED_STATE, both on the vCPU thread with preemption and
    // interrupts on (the current CPU only picks the NUMA node).
    let vmcs = unsafe { bindings::rnvmx_alloc_shadow_vmcs() };
    if vmcs.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: `vmcs` is a VMCS page just allocated by kvm-intel's
    // alloc_vmcs(), owned by this vCPU; it is current and active on no
    // CPU, so VMCLEAR only initialises its launch state and leaves the
    // current VMCS (the vCPU's own) as it is: there is no previous VMCS
    // to restore, so preemption may stay on (as in KVM's
    // alloc_shadow_vmcs()).
    unsafe { hw::vmclear(Nv::pa(vmcs)) };
    vf!(nv, vmcs01.shadow_vmcs) = vmcs;
    Ok(())
}

/// At VMXOFF: frees the shadow VMCS (after `disable`).
pub(crate) fn free(nv: &mut Nv) {
    let vmcs = vf!(nv, vmcs01.shadow_vmcs);
    if vmcs.is_null() {
        return;
    }
    // VMCLEARed while vmcs01 still names it, as nested.c: until then the
    // CPU this vCPU last ran on, clearing vmcs01 when the vCPU moves (or
    // on crash/CPU offline), finds and clears it too.
    // SAFETY: the shadow VMCS is ours; vmcs01's link pointer no longer
    // names it (`disable`), so it is not in use by the CPU.
    unsafe { hw::vmclear(Nv::pa(vmcs)) };
    vf!(nv, vmcs01.shadow_vmcs) = core::ptr::null_mut();
    // SAFETY: cleared above and no longer reachable from vmcs01.
    unsafe { bindings::free_vmcs(vmcs) };
}

fn shadow_pa(nv: &mut Nv) -> Option<u64> {
    let vmcs = vf!(nv, vmcs01.shadow_vmcs);
    (!vmcs.is_null()).then(|| Nv::pa(vmcs))
}

/// VMREAD/VMWRITE of the current VMCS (the shadow VMCS in a copy).
pub(crate) struct HwIo;

impl VmcsIo for HwIo {
    #[inline]
    fn vmread(&mut self, field: Encoding) -> u64 {
        hw::read(field)
    }
    #[inline]
    fn vmwrite(&mut self, field: Encoding, value: u64) {
        hw::write(field, value)
    }
}

/// The core's `ShadowVmcsVcpu` (nested/shadow_vmcs.rs decides what
/// VMPTRLD, leaving a VMCS and the copies do): vmcs01's shadow VMCS, the
/// current VMCS's secondary controls, VMREAD/VMWRITE, the cached vmcs12.
impl ShadowVmcsVcpu for Nv {
    type Io = HwIo;
    fn shadow_vmcs(&mut self) -> Option<u64> {
        shadow_pa(self)
    }
    fn has_shadow_vmcs(&mut self) -> bool {
        !vf!(self, vmcs01.shadow_vmcs).is_null()
    }
    fn shadow_fields(&mut self) -> Option<&'static ShadowFields> {
        fields::lists().map(|l| &l.shadow)
    }
    fn secondary_controls(&mut self) -> Secondary {
        Secondary(self.controls_shadow().secondary_exec)
    }
    fn set_secondary_controls(&mut self, controls: Secondary) {
        self.set_control(Control::Secondary, controls.bits());
    }
    #[inline]
    fn vmread(&mut self, field: Encoding) -> u64 {
        hw::read(field)
    }
    #[inline]
    fn vmwrite(&mut self, field: Encoding, value: u64) {
        hw::write(field, value)
    }
    fn has_current_vmptr(&mut self) -> bool {
        vf!(self, nested.current_vmptr) != crate::nvcpu::INVALID_GPA
    }
    #[inline]
    fn with_shadow_vmcs12<F: FnOnce(&mut HwIo, &mut Vmcs12)>(&mut self, f: F) {
        self.with_shadow_loaded(|k| {
            if let Some(v) = k.vmcs12() {
                f(&mut HwIo, v);
            }
        });
    }
    fn set_need_vmcs12_to_shadow_sync(&mut self, need: bool) {
        vf!(self, nested.need_vmcs12_to_shadow_sync) = need;
    }
    fn with_shadow_loaded<F: FnOnce(&mut Self)>(&mut self, f: F) {
        let Some(pa) = shadow_pa(self) else {
            return;
        };
        let current = vf!(self, loaded_vmcs);
        // SAFETY: KVM keeps `loaded_vmcs` pointing to vmcs01 or vmcs02 of
        // this vcpu_vmx, both live while the vCPU is (Nv invariant); only
        // the `vmcs` pointer is read.
        let current_pa = Nv::pa(unsafe { (*current).vmcs });
        // SAFETY: get_cpu() only disables preemption; put_cpu() below
        // pairs with it on every path out of this bracket.
        unsafe { bindings::rnvmx_get_cpu() };
        // SAFETY: `pa` is vmcs01's shadow VMCS, a kvm-intel VMCS page this
        // vCPU owns (alloc_vmcs(true) at VMXON); it is active on no CPU, as
        // every bracket ends with its VMCLEAR, and this CPU is in VMX
        // operation (the vCPU is loaded). Preemption is off until the
        // vCPU's own VMCS is current again, as vmptrld() requires.
        unsafe { hw::vmptrld(pa) };
        f(self);
        // SAFETY: the shadow VMCS is current on this CPU (loaded above,
        // preemption still off); VMCLEAR writes it back and leaves it
        // active on no CPU, so the next bracket may run on any CPU.
        unsafe { hw::vmclear(pa) };
        // SAFETY: `current_pa` is the vCPU's own VMCS (vmcs01 or vmcs02),
        // current on this CPU before the bracket (vcpu_load()) and still
        // active here: preemption has been off since, so the vCPU did not
        // move; VMPTRLD makes it current again.
        unsafe { hw::vmptrld(current_pa) };
        // SAFETY: pairs with rnvmx_get_cpu() above; the vCPU's VMCS is
        // current again.
        unsafe { bindings::rnvmx_put_cpu() };
    }
}
