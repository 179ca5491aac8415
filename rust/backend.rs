// SPDX-License-Identifier: GPL-2.0

//! The `struct nested_vmx_backend` this module registers with kvm-intel.
//!
//! Every VM created while the backend is registered (the module is loaded
//! and its `bind` parameter is Y, `rust/params.c`) is bound to it for its
//! lifetime, and kvm-intel pins the module meanwhile. The callbacks below
//! are kvm-intel's call sites of nested.c; each hands over to the module
//! that implements it (`entry`, `exit`, `events`, `insn`, `lifecycle`, ...).

use kernel::{c_str, ffi, prelude::*};

use crate::entry::{self, Entered};
use crate::evmcs::hv::SYNTHETIC_EXIT_REASON_TRAP_AFTER_FLUSH;
use crate::nested::reflect;
use crate::nested::rsm::rsm_enter_l2;
use crate::nested::shadow_vmcs as shadow_vmcs_core;
use crate::nested::state::{Header, HEADER_SIZE};
use crate::nested::state_get::get_nested_state;
use crate::nested::state_set::set_nested_state;
use crate::nvcpu::vf;
use crate::nvcpu::Nv;
use crate::state_vcpu::{self, StateNv};
use crate::vcpu::kvm_vmx_msrs;
use crate::vmcs::caps::{self, RestoreError};
use crate::{bindings, events, evmcs_vcpu, exit, insn, shadow_vmcs, stats};

/// Registration of the backend with kvm-intel; retracted on drop.
///
/// # Invariants
///
/// `backend` is published (`rnvmx_backend_publish`) for the lifetime of this
/// object: registered with kvm-intel whenever the `bind` parameter is Y.
pub(crate) struct Registration {
    backend: KBox<Backend>,
}

/// The operations table, owned by the module and read by kvm-intel.
struct Backend(bindings::nested_vmx_backend);

// SAFETY: the table is never written after it is built; kvm-intel only reads
// it, from any thread.
unsafe impl Send for Backend {}
// SAFETY: `&Backend` gives only reads of the table (it has no interior
// mutability and is never written after it is built), and concurrent reads
// from kvm-intel's threads need no synchronisation.
unsafe impl Sync for Backend {}

impl Registration {
    /// Builds the operations table and registers it.
    pub(crate) fn new(module: &'static ThisModule) -> Result<Self> {
        let backend = KBox::new(Backend(ops(module)), GFP_KERNEL)?;
        // SAFETY: the table is valid and complete; it lives in a KBox owned by
        // the returned object, which retracts it before freeing it.
        // Registered with kvm-intel now if the `bind` parameter is Y, else
        // when it is set (rust/params.c).
        let ret = unsafe { bindings::rnvmx_backend_publish(&backend.0) };
        kernel::error::to_result(ret)?;
        // INVARIANT: published just above.
        Ok(Registration { backend })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: published by the type invariant. No VM is bound to it any
        // more: each bound VM holds a reference on this module, so the module
        // cannot be on its way out while one exists. After this, writes of
        // the `bind` parameter no longer reach the table.
        unsafe { bindings::rnvmx_backend_retract(&self.backend.0) };
    }
}

fn ops(module: &'static ThisModule) -> bindings::nested_vmx_backend {
    let mut b = bindings::nested_vmx_backend {
        abi_version: bindings::NESTED_VMX_BACKEND_ABI_VERSION,
        size: core::mem::size_of::<bindings::nested_vmx_backend>() as u32,
        name: c_str!("rnvmx").as_char_ptr(),
        owner: module.as_ptr().cast(),
        ..Default::default()
    };
    let n = &mut b.nested_ops;
    n.leave_nested = Some(leave_nested);
    n.is_exception_vmexit = Some(is_exception_vmexit);
    n.check_events = Some(check_events);
    n.has_events = Some(has_events);
    n.triple_fault = Some(triple_fault);
    n.get_state = Some(get_state);
    n.set_state = Some(set_state);
    n.get_nested_state_pages = Some(get_nested_state_pages);
    n.write_log_dirty = Some(write_log_dirty);
    n.enable_evmcs = Some(enable_evmcs);
    n.get_evmcs_version = Some(get_evmcs_version);
    n.hv_inject_synthetic_vmexit_post_tlb_flush = Some(hv_inject_synthetic_vmexit_post_tlb_flush);
    for reason in VMX_INSTRUCTION_EXITS {
        if let Some(slot) = b.exit_handlers.get_mut(reason as usize) {
            *slot = Some(insn::handle);
        }
    }
    b.vm_init = Some(vm_init);
    b.init_vmcs = Some(init_vmcs);
    b.free_vcpu = Some(free_vcpu);
    b.reflect_vmexit = Some(reflect_vmexit);
    b.vmexit = Some(vmexit);
    b.enter_non_root_mode = Some(enter_non_root_mode);
    b.sync_vmcs12_to_shadow = Some(sync_vmcs12_to_shadow);
    b.mark_vmcs12_pages_dirty = Some(mark_vmcs12_pages_dirty);
    b.check_io_bitmaps = Some(check_io_bitmaps);
    b.set_vmx_msr = Some(set_vmx_msr);
    b
}

/// The twelve VMX-instruction exits kvm-intel routes to a backend.
const VMX_INSTRUCTION_EXITS: [u32; 12] = [
    bindings::EXIT_REASON_VMCLEAR,
    bindings::EXIT_REASON_VMLAUNCH,
    bindings::EXIT_REASON_VMPTRLD,
    bindings::EXIT_REASON_VMPTRST,
    bindings::EXIT_REASON_VMREAD,
    bindings::EXIT_REASON_VMRESUME,
    bindings::EXIT_REASON_VMWRITE,
    bindings::EXIT_REASON_VMOFF,
    bindings::EXIT_REASON_VMON,
    bindings::EXIT_REASON_INVEPT,
    bindings::EXIT_REASON_INVVPID,
    bindings::EXIT_REASON_VMFUNC,
];

type Vcpu = *mut bindings::kvm_vcpu;

extern "C" fn vm_init(_kvm: *mut bindings::kvm) -> ffi::c_int {
    stats::VM_BINDINGS.inc();
    0
}

extern "C" fn init_vmcs(_vcpu: Vcpu) {
    // kvm-intel's init_vmcs(), vmcs01 current.
    shadow_vmcs::init_vmcs();
    stats::VCPUS.inc();
}

/// Host-initiated write of a VMX capability MSR (KVM_SET_MSRS), validated
/// as `vmx_set_vmx_msr()` does so that state migrates between backends.
///
/// # Safety
///
/// `vcpu` is a vCPU of a VM bound to this backend, passed by kvm-intel with
/// `vcpu->mutex` held.
unsafe extern "C" fn set_vmx_msr(vcpu: Vcpu, msr_index: u32, data: u64) -> ffi::c_int {
    stats::VMX_MSR_WRITES.inc();
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // `vcpu` is it, with `vcpu->mutex` held and loaded (KVM_SET_MSRS is a
    // vCPU ioctl, run between vcpu_load() and vcpu_put()).
    let r = unsafe {
        with(vcpu, |nv| {
            let vmxon = vf!(nv, nested.vmxon);
            caps::restore(nv.vmx_msrs_mut(), kvm_vmx_msrs(), vmxon, msr_index, data)
        })
    };
    match r {
        Ok(()) => 0,
        Err(RestoreError::Busy) => EBUSY.to_errno(),
        Err(RestoreError::Invalid) => EINVAL.to_errno(),
    }
}

/// KVM_GET_NESTED_STATE (KVM's vmx_get_nested_state(), the core's
/// `get_nested_state`): `user` is userspace's buffer of `size` bytes.
///
/// # Safety
///
/// As for `leave_nested`.
unsafe extern "C" fn get_state(
    vcpu: Vcpu,
    user: *mut bindings::kvm_nested_state,
    size: ffi::c_uint,
) -> ffi::c_int {
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // `vcpu` is it, live, loaded and with `vcpu->mutex` held (# Safety).
    let r = unsafe {
        with(vcpu, |nv| {
            get_nested_state(&mut StateNv::new(nv, user), size)
        })
    };
    match r {
        Ok(size) => size as ffi::c_int,
        Err(e) => state_vcpu::errno(e.errno()),
    }
}

/// KVM_SET_NESTED_STATE (KVM's vmx_set_nested_state(), the core's
/// `set_nested_state`); `user` is userspace's state, at least as large as
/// its header says (KVM checked).
///
/// # Safety
///
/// `state` is KVM's kernel copy of the state's 128-byte header, valid for
/// the duration of the call.
unsafe extern "C" fn set_state(
    vcpu: Vcpu,
    user: *mut bindings::kvm_nested_state,
    state: *mut bindings::kvm_nested_state,
) -> ffi::c_int {
    let mut raw = [0u8; HEADER_SIZE];
    // SAFETY: KVM copied the whole header (sizeof(struct kvm_nested_state),
    // asserted to be 128 bytes) into the kernel buffer `state` points to.
    unsafe { core::ptr::copy_nonoverlapping(state.cast::<u8>(), raw.as_mut_ptr(), HEADER_SIZE) };
    let h = Header::decode(&raw);
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // `vcpu` is it, live, loaded and with `vcpu->mutex` held
    // (KVM_SET_NESTED_STATE is a vCPU ioctl). `user` is read only through
    // UserSlice (checked copies).
    let r = unsafe { with(vcpu, |nv| set_nested_state(&mut StateNv::new(nv, user), &h)) };
    match r {
        Ok(_) => 0,
        Err(e) => state_vcpu::errno(e.errno()),
    }
}

/// Runs `f` on the vCPU of a backend callback.
///
/// # Safety
///
/// `vcpu` is the vCPU kvm-intel passed to the calling backend callback.
unsafe fn with<R>(vcpu: Vcpu, f: impl FnOnce(&mut Nv) -> R) -> R {
    // SAFETY: Nv::new() needs a vCPU kvm-intel passed to a backend callback
    // and the wrapper dropped before the callback returns: `vcpu` is that
    // vCPU (this function's # Safety), and `nv` is dropped when `f` has
    // run, before this function returns to the callback.
    let mut nv = unsafe { Nv::new(vcpu) };
    f(&mut nv)
}

/// # Safety
///
/// kvm-intel backend callback: `vcpu` is valid and loaded, its mutex held.
unsafe extern "C" fn leave_nested(vcpu: Vcpu) {
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // `vcpu` is it, live, loaded and with `vcpu->mutex` held (# Safety).
    unsafe { with(vcpu, crate::nested::lifecycle::leave_nested) }
}

/// # Safety
///
/// As for `leave_nested`.
unsafe extern "C" fn is_exception_vmexit(vcpu: Vcpu, vector: u8, error_code: u32) -> bool {
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // `vcpu` is it, live, loaded and with `vcpu->mutex` held (# Safety).
    unsafe {
        with(vcpu, |nv| {
            events::is_exception_vmexit(nv, vector, error_code)
        })
    }
}

/// # Safety
///
/// As for `leave_nested`; called in guest mode only.
unsafe extern "C" fn check_events(vcpu: Vcpu) -> ffi::c_int {
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // `vcpu` is it, live, loaded and with `vcpu->mutex` held (# Safety).
    unsafe { with(vcpu, crate::nested::check_events::check_events) }
}

/// # Safety
///
/// As for `check_events`.
unsafe extern "C" fn has_events(vcpu: Vcpu, for_injection: bool) -> bool {
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // `vcpu` is it, live, loaded and with `vcpu->mutex` held (# Safety).
    unsafe {
        with(vcpu, |nv| {
            crate::nested::pending::has_events(nv, for_injection)
        })
    }
}

/// # Safety
///
/// As for `check_events`.
unsafe extern "C" fn write_log_dirty(vcpu: Vcpu, l2_gpa: bindings::gpa_t) -> ffi::c_int {
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // `vcpu` is it, live, loaded and with `vcpu->mutex` held (# Safety).
    unsafe {
        with(vcpu, |nv| {
            ffi::c_int::from(crate::nested::pml::write_buffer(nv, l2_gpa))
        })
    }
}

/// vCPU teardown (KVM's nested_vmx_free_vcpu()): out of L2 and VMX
/// operation, with the vCPU loaded for the VMCS operations.
///
/// # Safety
///
/// `vcpu` is a vCPU of a VM bound to this backend being freed by
/// kvm-intel; nothing else uses it any more.
unsafe extern "C" fn free_vcpu(vcpu: Vcpu) {
    // SAFETY: the vCPU is valid until kvm-intel frees it after this call.
    unsafe { bindings::vcpu_load(vcpu) };
    // SAFETY: loaded just above and exclusively ours.
    unsafe { with(vcpu, crate::nested::lifecycle::leave_nested) };
    // SAFETY: pairs with vcpu_load().
    unsafe { bindings::vcpu_put(vcpu) };
}

/// # Safety
///
/// As for `leave_nested`.
unsafe extern "C" fn sync_vmcs12_to_shadow(vcpu: Vcpu) {
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // `vcpu` is it, live, loaded and with `vcpu->mutex` held (# Safety).
    unsafe {
        with(vcpu, |nv| {
            // To the eVMCS if one is mapped, else to the shadow VMCS.
            if !crate::evmcs::run::from_vmcs12(nv) {
                shadow_vmcs_core::from_vmcs12::<Nv>(nv)
            }
        })
    }
}

/// KVM_ENABLE_CAP(KVM_CAP_HYPERV_ENLIGHTENED_VMCS) (`nested_enable_evmcs()`):
/// `vmcs_version`, if not null, gets the supported version range.
///
/// # Safety
///
/// As for `leave_nested`; `vmcs_version` is null or points to a u16 of
/// KVM's (x86.c's kvm_vcpu_ioctl_enable_cap()).
unsafe extern "C" fn enable_evmcs(vcpu: Vcpu, vmcs_version: *mut u16) -> ffi::c_int {
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // KVM_ENABLE_CAP is a vCPU ioctl, run with `vcpu->mutex` held and the
    // vCPU loaded (# Safety).
    let v = unsafe { with(vcpu, evmcs_vcpu::enable) };
    if !vmcs_version.is_null() {
        // SAFETY: per this function's contract.
        unsafe { vmcs_version.write(v) };
    }
    0
}

/// `nested_get_evmcs_version()` (KVM_GET_SUPPORTED_HV_CPUID of a vCPU).
///
/// # Safety
///
/// `vcpu` is null (kvm-intel answers those calls itself) or as for
/// `leave_nested`.
unsafe extern "C" fn get_evmcs_version(vcpu: Vcpu) -> u16 {
    if vcpu.is_null() {
        return evmcs_vcpu::version(None);
    }
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // `vcpu` is not null, so it is that vCPU, with `vcpu->mutex` held and
    // loaded (# Safety).
    unsafe { with(vcpu, |nv| evmcs_vcpu::version(Some(nv))) }
}

/// The synthetic exit to L1 after L0 flushed L2's TLB while L1 held the
/// partition's TLB lock (`vmx_hv_inject_synthetic_vmexit_post_tlb_flush()`,
/// from hyperv.c's hypercall completion, in guest mode).
///
/// # Safety
///
/// As for `check_events`.
unsafe extern "C" fn hv_inject_synthetic_vmexit_post_tlb_flush(vcpu: Vcpu) {
    stats::HV_SYNTHETIC_EXITS.inc();
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // hyperv.c calls it on the vCPU thread in guest mode, loaded and with
    // `vcpu->mutex` held (# Safety).
    unsafe {
        with(vcpu, |nv| {
            exit::nested_vmx_vmexit(nv, Some(SYNTHETIC_EXIT_REASON_TRAP_AFTER_FLUSH), 0, 0)
        })
    }
}

/// KVM's nested_mark_vmcs12_pages_dirty(): pages the CPU may write behind
/// dirty logging's back while L2 runs.
///
/// # Safety
///
/// As for `check_events`.
unsafe extern "C" fn mark_vmcs12_pages_dirty(vcpu: Vcpu) {
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // `vcpu` is it, live, loaded and with `vcpu->mutex` held (# Safety).
    unsafe { with(vcpu, crate::posted_intr::mark_vmcs12_pages_dirty) }
}

/// # Safety
///
/// As for `check_events`.
unsafe extern "C" fn triple_fault(vcpu: Vcpu) {
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // `vcpu` is it, live, loaded and with `vcpu->mutex` held (# Safety).
    unsafe { with(vcpu, exit::triple_fault) }
}

/// KVM_REQ_GET_NESTED_STATE_PAGES, made by a restore into L2 or an RSM
/// back into L2.
///
/// # Safety
///
/// As for `leave_nested`: the request is serviced before the vCPU enters
/// the guest, in or out of guest mode.
unsafe extern "C" fn get_nested_state_pages(vcpu: Vcpu) -> bool {
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // `vcpu` is it, live, loaded and with `vcpu->mutex` held (# Safety).
    unsafe { with(vcpu, state_vcpu::get_nested_state_pages) }
}

/// # Safety
///
/// As for `check_events`: an exit from L2 being handled.
unsafe extern "C" fn reflect_vmexit(vcpu: Vcpu) -> bool {
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // `vcpu` is it, live, loaded and with `vcpu->mutex` held (# Safety).
    unsafe { with(vcpu, exit::reflect) }
}

/// # Safety
///
/// As for `check_events`.
unsafe extern "C" fn vmexit(vcpu: Vcpu, reason: u32, intr_info: u32, qualification: ffi::c_ulong) {
    // KVM passes -1 for "leave L2 without an exit to report".
    let reason = (reason != u32::MAX).then_some(reason);
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // `vcpu` is it, live, loaded and with `vcpu->mutex` held (# Safety).
    unsafe {
        with(vcpu, |nv| {
            exit::nested_vmx_vmexit(nv, reason, intr_info, qualification as u64)
        })
    }
}

/// # Safety
///
/// As for `leave_nested`.
unsafe extern "C" fn enter_non_root_mode(
    vcpu: Vcpu,
    from_vmentry: bool,
) -> bindings::nvmx_vmentry_status {
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // `vcpu` is it, live, loaded and with `vcpu->mutex` held (# Safety).
    let r = unsafe {
        with(vcpu, |nv| {
            if from_vmentry {
                Some(entry::enter_non_root_mode(nv, true))
            } else {
                // RSM into L2 (vmx_leave_smm), which re-checks vmcs12 first.
                rsm_enter_l2(&mut StateNv::new(nv, core::ptr::null_mut()))
            }
        })
    };
    match r {
        // Non-zero: vmx_leave_smm fails the RSM, L1 triple-faults.
        None => bindings::nvmx_vmentry_status_NVMX_VMENTRY_VMFAIL,
        Some(Entered::L2) => bindings::nvmx_vmentry_status_NVMX_VMENTRY_SUCCESS,
        Some(Entered::VmExit) => bindings::nvmx_vmentry_status_NVMX_VMENTRY_VMEXIT,
        Some(Entered::InternalError) => {
            bindings::nvmx_vmentry_status_NVMX_VMENTRY_KVM_INTERNAL_ERROR
        }
    }
}

/// KVM's nested_vmx_check_io_bitmaps(), for instruction emulation in L2.
///
/// # Safety
///
/// As for `check_events`.
unsafe extern "C" fn check_io_bitmaps(vcpu: Vcpu, port: ffi::c_uint, size: ffi::c_int) -> bool {
    // SAFETY: `with` needs the vCPU kvm-intel passed to this callback:
    // `vcpu` is it, live, loaded and with `vcpu->mutex` held (# Safety).
    unsafe {
        with(vcpu, |nv| match nv.vmcs12_and_mem() {
            Some((v, mem)) => {
                reflect::check_io_bitmaps(v, &mut exit::L1Mem(mem), port, size.max(0) as u32)
            }
            None => true,
        })
    }
}
