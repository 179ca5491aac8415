// SPDX-License-Identifier: GPL-2.0

//! The `struct nested_vmx_backend` this module registers with kvm-intel.
//!
//! Every VM created while the module is loaded is bound to this backend for
//! its lifetime (kvm-intel pins the module meanwhile). Nested VMX itself is
//! not implemented in Rust yet: until it is, a bound VM fails visibly rather
//! than silently running on C. VMX instructions raise #UD (as on a CPU
//! without VMX), and KVM_SET_NESTED_STATE refuses states in VMX operation
//! with -EOPNOTSUPP, each such event counted in `unimplemented`. What is
//! implemented: binding, the VMX capability MSRs (`crate::vmcs::caps`), and
//! KVM_GET/SET_NESTED_STATE outside VMX operation (`crate::nested::state`).

use kernel::{c_str, ffi, prelude::*, uaccess::UserSlice};

use crate::nested::state::{self, HEADER_SIZE};
use crate::vcpu::{kvm_vmx_msrs, VcpuVmx};
use crate::vmcs::caps::{self, RestoreError};
use crate::{bindings, stats};

/// Registration of the backend with kvm-intel; unregistered on drop.
///
/// # Invariants
///
/// `backend` is registered with kvm-intel for the lifetime of this object.
pub(crate) struct Registration {
    backend: KBox<Backend>,
}

/// The operations table, owned by the module and read by kvm-intel.
struct Backend(bindings::nested_vmx_backend);

// SAFETY: the table is never written after it is built; kvm-intel only reads
// it, from any thread.
unsafe impl Send for Backend {}
// SAFETY: as above, shared access is read-only.
unsafe impl Sync for Backend {}

impl Registration {
    /// Builds the operations table and registers it.
    pub(crate) fn new(module: &'static ThisModule) -> Result<Self> {
        let backend = KBox::new(Backend(ops(module)), GFP_KERNEL)?;
        // SAFETY: the table is valid and complete; it lives in a KBox owned by
        // the returned object, which unregisters it before freeing it.
        let ret = unsafe { bindings::kvm_vmx_register_nested_backend(&backend.0) };
        kernel::error::to_result(ret)?;
        // INVARIANT: registered just above.
        Ok(Registration { backend })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered by the type invariant. No VM is bound to it any
        // more: each bound VM holds a reference on this module, so the module
        // cannot be on its way out while one exists.
        unsafe { bindings::kvm_vmx_unregister_nested_backend(&self.backend.0) };
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
    for reason in VMX_INSTRUCTION_EXITS {
        if let Some(slot) = b.exit_handlers.get_mut(reason as usize) {
            *slot = Some(handle_vmx_instruction);
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
    // No VMCS shadowing yet: vmcs01 needs no VMREAD/VMWRITE bitmaps.
    stats::VCPUS.inc();
}

/// VMX-instruction exits: #UD until the Rust instruction emulation exists.
///
/// # Safety
///
/// `vcpu` is the vCPU whose exit is being handled, loaded on this CPU, as
/// kvm-intel passes it to exit handlers.
unsafe extern "C" fn handle_vmx_instruction(vcpu: Vcpu) -> ffi::c_int {
    stats::UNIMPLEMENTED.inc();
    // SAFETY: `vcpu` is valid and loaded, per the function's contract.
    unsafe { bindings::kvm_queue_exception(vcpu, bindings::UD_VECTOR) };
    1
}

/// Host-initiated write of a VMX capability MSR (KVM_SET_MSRS), validated
/// as `vmx_set_vmx_msr()` does so that state migrates between backends.
///
/// # Safety
///
/// `vcpu` is a vCPU of a VM bound to this backend, passed by kvm-intel with
/// `vcpu->mutex` held.
unsafe extern "C" fn set_vmx_msr(vcpu: Vcpu, msr_index: u32, data: u64) -> ffi::c_int {
    // SAFETY: per this function's contract.
    let mut vmx = unsafe { VcpuVmx::from_raw(vcpu) };
    stats::VMX_MSR_WRITES.inc();
    let vmxon = vmx.vmxon();
    match caps::restore(vmx.vmx_msrs_mut(), kvm_vmx_msrs(), vmxon, msr_index, data) {
        Ok(()) => 0,
        Err(RestoreError::Busy) => EBUSY.to_errno(),
        Err(RestoreError::Invalid) => EINVAL.to_errno(),
    }
}

/// KVM_GET_NESTED_STATE. A vCPU on this backend is never in VMX operation
/// yet (VMXON raises #UD), so its state is KVM's header for that case.
/// `user` is userspace's buffer of `size` bytes, written through the checked
/// user-copy API.
extern "C" fn get_state(
    _vcpu: Vcpu,
    user: *mut bindings::kvm_nested_state,
    size: ffi::c_uint,
) -> ffi::c_int {
    let header = state::Header::not_in_vmx_operation();
    let needed = header.size;
    // As KVM: a short buffer gets only the size needed (the caller reports
    // -E2BIG); otherwise the header is copied and the size returned.
    if size >= needed {
        let mut writer = UserSlice::new(user as usize, HEADER_SIZE).writer();
        if writer.write_slice(&header.encode()).is_err() {
            return EFAULT.to_errno();
        }
    }
    needed as ffi::c_int
}

/// KVM_SET_NESTED_STATE: validated as KVM does; states that need VMX
/// operation are refused with -EOPNOTSUPP until this backend emulates it.
///
/// # Safety
///
/// `state` is KVM's kernel copy of the state's 128-byte header, valid for
/// the duration of the call.
unsafe extern "C" fn set_state(
    _vcpu: Vcpu,
    _user: *mut bindings::kvm_nested_state,
    state: *mut bindings::kvm_nested_state,
) -> ffi::c_int {
    let mut raw = [0u8; HEADER_SIZE];
    // SAFETY: KVM copied the whole header (sizeof(struct kvm_nested_state),
    // asserted to be 128 bytes) into the kernel buffer `state` points to.
    unsafe { core::ptr::copy_nonoverlapping(state.cast::<u8>(), raw.as_mut_ptr(), HEADER_SIZE) };
    let h = state::Header::decode(&raw);
    // Without a VMXON region only the header and eVMCS matter (proven in
    // the core's tests); eVMCS is never enabled on this backend.
    let env = state::SetStateEnv::default();
    match state::check_header(&h, &env) {
        Err(_) => EINVAL.to_errno(),
        // Nothing to leave: a vCPU here is never in VMX operation.
        Ok(false) => 0,
        Ok(true) => {
            stats::UNIMPLEMENTED.inc();
            -(bindings::EOPNOTSUPP as ffi::c_int)
        }
    }
}

// A vCPU on this backend never enters VMX operation (VMXON raises #UD): as
// nested.c's outside VMX operation, these have nothing to do.

extern "C" fn leave_nested(_vcpu: Vcpu) {}

extern "C" fn is_exception_vmexit(_vcpu: Vcpu, _vector: u8, _error_code: u32) -> bool {
    false
}

extern "C" fn check_events(_vcpu: Vcpu) -> ffi::c_int {
    0
}

extern "C" fn has_events(_vcpu: Vcpu, _for_injection: bool) -> bool {
    false
}

extern "C" fn write_log_dirty(_vcpu: Vcpu, _l2_gpa: bindings::gpa_t) -> ffi::c_int {
    0
}

extern "C" fn free_vcpu(_vcpu: Vcpu) {}

extern "C" fn sync_vmcs12_to_shadow(_vcpu: Vcpu) {}

extern "C" fn mark_vmcs12_pages_dirty(_vcpu: Vcpu) {}

// These are only called in guest mode, which such a vCPU never reaches; if
// one ever is, it is counted and fails safe.

extern "C" fn triple_fault(_vcpu: Vcpu) {
    stats::UNIMPLEMENTED.inc();
}

extern "C" fn get_nested_state_pages(_vcpu: Vcpu) -> bool {
    stats::UNIMPLEMENTED.inc();
    false
}

extern "C" fn reflect_vmexit(_vcpu: Vcpu) -> bool {
    stats::UNIMPLEMENTED.inc();
    false
}

extern "C" fn vmexit(_vcpu: Vcpu, _reason: u32, _intr_info: u32, _qualification: ffi::c_ulong) {
    stats::UNIMPLEMENTED.inc();
}

extern "C" fn enter_non_root_mode(
    _vcpu: Vcpu,
    _from_vmentry: bool,
) -> bindings::nvmx_vmentry_status {
    stats::UNIMPLEMENTED.inc();
    bindings::nvmx_vmentry_status_NVMX_VMENTRY_KVM_INTERNAL_ERROR
}

extern "C" fn check_io_bitmaps(_vcpu: Vcpu, _port: ffi::c_uint, _size: ffi::c_int) -> bool {
    stats::UNIMPLEMENTED.inc();
    true
}
