// SPDX-License-Identifier: GPL-2.0

//! The VMX instructions L1 executes, emulated on the core's rules
//! (`crate::nested::insn`, `crate::vmcs::access`): KVM's handle_vmxon() ...
//! handle_vmfunc(). Each returns what a kvm-intel exit handler returns: 1
//! to re-enter the guest, 0 to exit to userspace.

use kernel::ffi;

use crate::bindings;
use crate::entry::{self, CheckVcpu};
use crate::ept;
use crate::exit;
use crate::hw;
use crate::lifecycle;
use crate::nested::insn::{self as rules, Decision, Fault, InstructionInfo, VmxonState};
use crate::nested::invalidate;
use crate::nested::vmcs02;
use crate::nested::vmfunc::Vmfunc;
use crate::nvcpu::{Nv, Raised, INVALID_GPA};
use crate::shadow_vmcs;
use crate::stats;
use crate::vmcs::access::{self, AccessCtx};
use crate::vmcs::caps::{misc, NestedVmxMsrs};
use crate::vmcs::checks::{fixed_bits_valid, Vcpu as _};
use crate::vmcs::controls::Secondary;
use crate::vmcs::encoding::Encoding;
use crate::vmcs::layout::{Vmcs12, VmcsHdr, VMCS12_SIZE};
use crate::vmcs::outcome::Outcome;
use crate::vmcs::table::encodings as e;
use crate::vmcs::x86::cr4;

/// Raises the fault an instruction check decided on; the handler's value.
pub(crate) fn fault(nv: &mut Nv, f: Fault) -> ffi::c_int {
    match f {
        Fault::InvalidOpcode => nv.ud(),
        Fault::GeneralProtection => nv.gp(),
    }
}

fn info() -> InstructionInfo {
    InstructionInfo(hw::read(e::VMX_INSTRUCTION_INFO) as u32)
}

/// The vCPU's VMX capability MSRs, as the core reads them.
pub(crate) fn msrs(nv: &mut Nv) -> &NestedVmxMsrs {
    let m: *const bindings::nested_vmx_msrs = &nv.nested().msrs;
    // SAFETY: `NestedVmxMsrs` is `struct nested_vmx_msrs` field for field
    // (asserted in bindings.rs); the borrow of `nv` keeps it alive and
    // unaliased by writes.
    unsafe { &*m.cast::<NestedVmxMsrs>() }
}

/// KVM's `nested_vmx_check_permission()`.
fn check_permission(nv: &mut Nv) -> Result<(), ffi::c_int> {
    let vmxon = nv.nested().vmxon;
    let cpl = nv.cpl();
    rules::check_permission(vmxon, cpl).map_err(|f| fault(nv, f))
}

/// VMCLEAR's and VMPTRLD's start: permission, then the VMCS pointer.
fn permitted_vmptr(nv: &mut Nv) -> Result<u64, ffi::c_int> {
    check_permission(nv)?;
    get_vmptr(nv)
}

/// KVM's `nested_vmx_get_vmptr()`: the 64-bit memory operand.
fn get_vmptr(nv: &mut Nv) -> Result<u64, ffi::c_int> {
    let gva = nv.mem_operand(false, 8).map_err(Raised::ret)?;
    let mut buf = [0u8; 8];
    nv.read_gva(gva, &mut buf).map_err(Raised::ret)?;
    Ok(u64::from_le_bytes(buf))
}

fn vmxon(nv: &mut Nv) -> ffi::c_int {
    let cr0 = nv.cr0();
    let cr4v = nv.cr4();
    let m = *msrs(nv);
    let s = VmxonState {
        cr4_vmxe: cr4v & cr4::VMXE != 0,
        cpl: nv.cpl(),
        in_vmx_operation: nv.nested().vmxon,
        has_current_vmcs: nv.nested().current_vmptr != INVALID_GPA,
        cr0_valid: fixed_bits_valid(cr0, m.cr0_fixed0, m.cr0_fixed1),
        cr4_valid: fixed_bits_valid(cr4v, m.cr4_fixed0, m.cr4_fixed1),
        feature_control: nv.vmx().msr_ia32_feature_control,
    };
    match rules::vmxon_precheck(&s) {
        Err(Decision::Fault(f)) => return fault(nv, f),
        Err(Decision::Complete(o)) => return nv.complete(o),
        Ok(()) => {}
    }
    let vmptr = match get_vmptr(nv) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut rev = [0u8; 4];
    let revision = nv
        .read_gpa(vmptr, &mut rev)
        .then(|| u32::from_le_bytes(rev));
    let maxphyaddr = nv.maxphyaddr();
    if let Err(o) = rules::vmxon_region(vmptr, maxphyaddr, revision) {
        return nv.complete(o);
    }
    nv.nested().vmxon_ptr = vmptr;
    // An allocation failure is KVM_RUN's -ENOMEM, as nested.c's
    // handle_vmxon() returns it, not an exception for L1.
    if let Err(e) = lifecycle::enter_vmx_operation(nv) {
        return e.to_errno();
    }
    nv.complete(Outcome::VmSucceed)
}

fn vmxoff(nv: &mut Nv) -> ffi::c_int {
    if let Err(r) = check_permission(nv) {
        return r;
    }
    lifecycle::free_nested(nv);
    // SAFETY: the vCPU is ours (Nv invariant).
    if unsafe { bindings::rnvmx_init_event_pending(nv.raw()) } {
        nv.make_request(bindings::rnvmx_request_RNVMX_REQ_EVENT);
    }
    nv.complete(Outcome::VmSucceed)
}

fn vmclear(nv: &mut Nv) -> ffi::c_int {
    let vmptr = match permitted_vmptr(nv) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let maxphyaddr = nv.maxphyaddr();
    let n = nv.nested();
    let (vmxon_ptr, current) = (n.vmxon_ptr, n.current_vmptr);
    if let Err(o) = rules::vmclear_pointer(vmptr, maxphyaddr, vmxon_ptr, current != INVALID_GPA) {
        return nv.complete(o);
    }
    if vmptr == current {
        lifecycle::release_vmcs12(nv);
    }
    // launch_state := 0 (clear) in L1's copy.
    let _ = nv.write_gpa(vmptr.wrapping_add(LAUNCH_STATE_OFFSET), &0u32.to_le_bytes());
    nv.complete(Outcome::VmSucceed)
}

const LAUNCH_STATE_OFFSET: u64 = core::mem::offset_of!(Vmcs12, launch_state) as u64;

fn vmptrld(nv: &mut Nv) -> ffi::c_int {
    let vmptr = match permitted_vmptr(nv) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let maxphyaddr = nv.maxphyaddr();
    let n = nv.nested();
    let vmxon_ptr = n.vmxon_ptr;
    let current = (n.current_vmptr != INVALID_GPA).then_some(n.current_vmptr);
    let mut raw = [0u8; 4];
    let hdr = if current == Some(vmptr) {
        None
    } else {
        nv.read_gpa(vmptr, &mut raw)
            .then(|| VmcsHdr(u32::from_le_bytes(raw)))
    };
    let shadow_ok = Secondary(msrs(nv).secondary_ctls_high).contains(Secondary::SHADOW_VMCS);
    if let Err(o) = rules::vmptrld_pointer(vmptr, maxphyaddr, vmxon_ptr, current, hdr, shadow_ok) {
        return nv.complete(o);
    }
    if current != Some(vmptr) {
        lifecycle::release_vmcs12(nv);
        let p = nv.nested().cached_vmcs12;
        if p.is_null() {
            return nv.ud();
        }
        // SAFETY: the cached vmcs12 is a VMCS12_SIZE buffer of ours
        // (lifecycle.rs), referenced by no live Rust reference here.
        let buf = unsafe { core::slice::from_raw_parts_mut(p.cast::<u8>(), VMCS12_SIZE) };
        if !nv.read_gpa(vmptr, buf) {
            let e = crate::vmcs::outcome::VmInstructionError::VmptrldIncorrectVmcsRevisionId;
            let _ = e;
            return nv.complete(Outcome::VmFailInvalid);
        }
        let n = nv.nested();
        n.current_vmptr = vmptr;
        n.dirty_vmcs12 = true;
        n.force_msr_bitmap_recalc = true;
        shadow_vmcs::enable(nv);
    }
    nv.complete(Outcome::VmSucceed)
}

fn vmptrst(nv: &mut Nv) -> ffi::c_int {
    if let Err(r) = check_permission(nv) {
        return r;
    }
    let current = nv.nested().current_vmptr;
    let gva = match nv.mem_operand(true, 8) {
        Ok(g) => g,
        Err(r) => return r.ret(),
    };
    if let Err(r) = nv.write_gva(gva, &current.to_le_bytes()) {
        return r.ret();
    }
    nv.complete(Outcome::VmSucceed)
}

fn access_ctx(nv: &mut Nv) -> AccessCtx {
    let guest_mode = nv.is_guest_mode();
    let long_mode = nv.is_64_bit_mode();
    let vmwrite_any_field = u64::from(msrs(nv).misc_low) & misc::VMWRITE_SHADOW_RO_FIELDS != 0;
    let has_current_vmcs = nv.nested().current_vmptr != INVALID_GPA;
    let link_pointer_valid = nv
        .vmcs12()
        .is_some_and(|v| v.vmcs_link_pointer != INVALID_GPA);
    AccessCtx {
        has_current_vmcs,
        guest_mode,
        link_pointer_valid,
        vmwrite_any_field,
        long_mode,
    }
}

fn vmread(nv: &mut Nv) -> ffi::c_int {
    if let Err(r) = check_permission(nv) {
        return r;
    }
    let i = info();
    let ctx = access_ctx(nv);
    let field = nv.gpr(i.reg2());
    if !ctx.guest_mode && Encoding::from_operand(field).is_some_and(vmcs02::is_rare) {
        exit::sync_rare(nv);
    }
    // L2's VMREAD reads L1's shadow VMCS (reflection sent the rest to L1).
    let target = if ctx.guest_mode {
        nv.shadow_vmcs12()
    } else {
        nv.vmcs12()
    };
    let value = match target.map(|v| access::vmread(v, &ctx, field)) {
        Some(Ok(value)) => value,
        Some(Err(o)) => return nv.complete(o),
        None => return nv.complete(Outcome::VmFailInvalid),
    };
    if i.is_register() {
        nv.set_gpr(i.reg1(), value);
    } else {
        let len = ctx.memory_operand_len();
        let gva = match nv.mem_operand(true, len) {
            Ok(g) => g,
            Err(r) => return r.ret(),
        };
        let bytes = value.to_le_bytes();
        if let Err(r) = nv.write_gva(gva, bytes.get(..len).unwrap_or(&bytes)) {
            return r.ret();
        }
    }
    nv.complete(Outcome::VmSucceed)
}

fn vmwrite(nv: &mut Nv) -> ffi::c_int {
    if let Err(r) = check_permission(nv) {
        return r;
    }
    let i = info();
    let ctx = access_ctx(nv);
    if let Err(o) = ctx.check_current() {
        return nv.complete(o);
    }
    let value = if i.is_register() {
        nv.gpr(i.reg1())
    } else {
        let len = ctx.memory_operand_len();
        let gva = match nv.mem_operand(false, len) {
            Ok(g) => g,
            Err(r) => return r.ret(),
        };
        let mut bytes = [0u8; 8];
        if let Err(r) = nv.read_gva(gva, bytes.get_mut(..len).unwrap_or(&mut [])) {
            return r.ret();
        }
        u64::from_le_bytes(bytes)
    };
    let field = nv.gpr(i.reg2());
    // Unless L1 writes a field of the shadowed read-write set, the next
    // entry reloads vmcs02's rare state from vmcs12: make vmcs12 current.
    let shadow_rw = Encoding::from_operand(field)
        .and_then(crate::vmcs::table::lookup)
        .is_some_and(|f| f.field.shadow == crate::vmcs::table::Shadow::ReadWrite);
    if !ctx.guest_mode && !shadow_rw {
        exit::sync_rare(nv);
    }
    let target = if ctx.guest_mode {
        nv.shadow_vmcs12()
    } else {
        nv.vmcs12()
    };
    let written = match target.map(|v| access::vmwrite(v, &ctx, field, value)) {
        Some(Ok(w)) => w,
        Some(Err(o)) => return nv.complete(o),
        None => return nv.complete(Outcome::VmFailInvalid),
    };
    // Fields outside the shadowed read-write set are only loaded into
    // vmcs02 by the "rare" part of prepare_vmcs02: mark it needed.
    if !ctx.guest_mode && !written.is_shadow_rw() {
        nv.nested().dirty_vmcs12 = true;
    }
    // A read-only field L1 may write ("VMWRITE to any field") is also in
    // the shadow VMCS, which L1 reads it from.
    if !ctx.guest_mode && written.is_shadow_ro() && shadow_vmcs::enabled() {
        let value = nv.vmcs12().map_or(0, |v| v.get(written.field.field));
        shadow_vmcs::write_ro(nv, written.field.field.encoding, value);
    }
    nv.complete(Outcome::VmSucceed)
}

/// The operands of INVEPT/INVVPID once the instruction may run: its type
/// register, its 16-byte descriptor as two quadwords, and whether there is
/// a current VMCS (for VMfailValid vs VMfailInvalid).
struct Invalidation {
    ty: u64,
    desc: [u64; 2],
    has_current: bool,
}

/// The checks INVEPT and INVVPID share (KVM's handle_invept/invvpid()
/// prologues): availability, permission, supported type, the descriptor.
/// `Err` is the handler's return value, the instruction already completed
/// or faulted.
fn invalidation(
    nv: &mut Nv,
    available: Result<(), Fault>,
    type_ok: impl FnOnce(u64, bool) -> Result<(), Outcome>,
) -> Result<Invalidation, ffi::c_int> {
    if let Err(f) = available {
        return Err(fault(nv, f));
    }
    check_permission(nv)?;
    let ty = nv.gpr(info().reg2());
    let has_current = nv.nested().current_vmptr != INVALID_GPA;
    if let Err(o) = type_ok(ty, has_current) {
        return Err(nv.complete(o));
    }
    let gva = nv.mem_operand(false, 16).map_err(Raised::ret)?;
    let mut raw = [0u8; 16];
    nv.read_gva(gva, &mut raw).map_err(Raised::ret)?;
    let (lo, hi) = raw.split_at(8);
    let q = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
    Ok(Invalidation {
        ty,
        desc: [q(lo), q(hi)],
        has_current,
    })
}

fn invept(nv: &mut Nv) -> ffi::c_int {
    let m = *msrs(nv);
    let op = match invalidation(nv, invalidate::invept_available(&m), |ty, cur| {
        invalidate::invept_type(&m, ty, cur)
    }) {
        Ok(op) => op,
        Err(r) => return r,
    };
    let eptp = op.desc[0];
    if let Err(o) = invalidate::invept(op.ty, eptp, &CheckVcpu::new(nv), op.has_current) {
        return nv.complete(o);
    }
    // Both types (single context, global) drop every shadow EPT root: a
    // superset of the required invalidation.
    lifecycle::free_guest_mmu_roots(nv);
    nv.complete(Outcome::VmSucceed)
}

fn invvpid(nv: &mut Nv) -> ffi::c_int {
    let m = *msrs(nv);
    let op = match invalidation(nv, invalidate::invvpid_available(&m), |ty, cur| {
        invalidate::invvpid_type(&m, ty, cur)
    }) {
        Ok(op) => op,
        Err(r) => return r,
    };
    let bits = CheckVcpu::new(nv).max_virt_addr_bits();
    let [vpid, gla] = op.desc;
    let op_scope = match invalidate::invvpid(&m, op.ty, vpid, gla, bits, op.has_current) {
        Ok(scope) => scope,
        Err(o) => return nv.complete(o),
    };
    // Flush what is tagged with L2's VPID, as the core says; and L2's
    // shadow roots when L0 shadows L2's page tables (L1 and L2 share
    // root_mmu then).
    let (vpid02, vpid01) = (nv.nested().vpid02, nv.vmx().vpid as u16);
    // SAFETY: reads the CPU's VMX capability MSR; no precondition.
    let caps = unsafe { bindings::rnvmx_vpid_caps() };
    let caps = invalidate::VpidCaps {
        individual_address: caps & VMX_VPID_INDIVIDUAL_ADDR_BIT != 0,
        single_context: caps & VMX_VPID_SINGLE_CONTEXT_BIT != 0,
    };
    // SAFETY: preempt_disable() wrapper, paired below: the CPU stays this
    // one while it is compared with vmcs02's and flushed.
    let cpu = unsafe { bindings::rnvmx_get_cpu() };
    let here = cpu == nv.vmx().nested.vmcs02.cpu;
    match invalidate::hw_invvpid(op_scope, vpid02, vpid01, caps, here) {
        Some(invalidate::HwInvvpid::IndividualAddress { vpid, address }) => {
            hw::invvpid(0, vpid, address)
        }
        Some(invalidate::HwInvvpid::SingleContext(vpid)) => hw::invvpid(1, vpid, 0),
        Some(invalidate::HwInvvpid::AllContexts) => hw::invvpid(2, 0, 0),
        Some(invalidate::HwInvvpid::Defer) => nv.nested().last_vpid = 0,
        None => {}
    }
    // SAFETY: pairs with rnvmx_get_cpu() above.
    unsafe { bindings::rnvmx_put_cpu() };
    if !entry::enable_ept() {
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::rnvmx_free_guest_mode_roots(nv.raw()) };
    }
    nv.complete(Outcome::VmSucceed)
}

/// IA32_VMX_EPT_VPID_CAP's INVVPID types, in its upper half (SDM A.10).
const VMX_VPID_INDIVIDUAL_ADDR_BIT: u32 = 1 << 8;
const VMX_VPID_SINGLE_CONTEXT_BIT: u32 = 1 << 9;

/// KVM's `handle_vmfunc()`: VMFUNC of L2, whose vmcs02 enables VM
/// functions with none selected, so that each one exits here. The core
/// decides (`crate::nested::vmfunc`); EPTP switching is applied here.
fn vmfunc(nv: &mut Nv) -> ffi::c_int {
    // VMFUNC exits only from L2; L1's own VMFUNC is #UD in hardware.
    if !nv.is_guest_mode() {
        return nv.ud();
    }
    let (eax, ecx) = (nv.gpr(0), nv.gpr(1));
    let Some(v) = nv.vmcs12_copy() else {
        return nv.ud();
    };
    let mut mem = nv.guest_mem();
    let decision = {
        let cv = CheckVcpu::new(nv);
        let read_eptp = |gpa: u64| {
            let mut b = [0u8; 8];
            mem.read_gpa(gpa, &mut b).then_some(u64::from_le_bytes(b))
        };
        crate::nested::vmfunc::vmfunc(&v, eax, ecx, read_eptp, &cv)
    };
    match decision {
        Vmfunc::InvalidOpcode => return nv.ud(),
        Vmfunc::Unchanged => return nv.skip_instruction(),
        Vmfunc::Switch { eptp, flush_tlb } => {
            if let Some(v12) = nv.vmcs12() {
                v12.ept_pointer = eptp;
            }
            ept::new_eptp(nv);
            if flush_tlb {
                nv.make_request(bindings::rnvmx_request_RNVMX_REQ_TLB_FLUSH_GUEST);
            }
            stats::EPTP_SWITCHES.inc();
            return nv.skip_instruction();
        }
        Vmfunc::ExitToL1 => {}
    }
    // The function failed: a VMFUNC exit to L1.
    let reason = nv.exit_reason();
    let intr_info = hw::read(e::VM_EXIT_INTR_INFO) as u32;
    let qual = hw::read(e::EXIT_QUALIFICATION);
    exit::nested_vmx_vmexit(nv, Some(reason), intr_info, qual);
    1
}

/// The exit handler kvm-intel calls for each of the twelve VMX-instruction
/// exits of a VM bound to this backend.
///
/// # Safety
///
/// `vcpu` is the vCPU whose exit is being handled, loaded on this CPU, as
/// kvm-intel passes it to exit handlers.
pub(crate) unsafe extern "C" fn handle(vcpu: *mut bindings::kvm_vcpu) -> ffi::c_int {
    // SAFETY: per this function's contract.
    let mut nv = unsafe { Nv::new(vcpu) };
    let reason = nv.exit_reason() & 0xffff;
    stats::INSTRUCTIONS.inc();
    match reason {
        bindings::EXIT_REASON_VMON => vmxon(&mut nv),
        bindings::EXIT_REASON_VMOFF => vmxoff(&mut nv),
        bindings::EXIT_REASON_VMCLEAR => vmclear(&mut nv),
        bindings::EXIT_REASON_VMPTRLD => vmptrld(&mut nv),
        bindings::EXIT_REASON_VMPTRST => vmptrst(&mut nv),
        bindings::EXIT_REASON_VMREAD => vmread(&mut nv),
        bindings::EXIT_REASON_VMWRITE => vmwrite(&mut nv),
        bindings::EXIT_REASON_VMLAUNCH => entry::run(&mut nv, true),
        bindings::EXIT_REASON_VMRESUME => entry::run(&mut nv, false),
        bindings::EXIT_REASON_INVEPT => invept(&mut nv),
        bindings::EXIT_REASON_INVVPID => invvpid(&mut nv),
        bindings::EXIT_REASON_VMFUNC => vmfunc(&mut nv),
        _ => nv.ud(),
    }
}
