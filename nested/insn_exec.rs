// SPDX-License-Identifier: GPL-2.0

//! The VMX instructions L1 executes (KVM's handle_vmxon() ...
//! handle_vmfunc(); SDM Vol. 3C 31.3), on the rules of `nested::insn`,
//! `vmcs::access` and `nested::invalidate`. Each returns what a kvm-intel
//! exit handler returns: 1 to re-enter the guest, 0 to exit to userspace
//! (or an errno).

use crate::nested::entry_vcpu::EntryVcpu;
use crate::nested::insn::{self as rules, Decision, InstructionInfo, VmxonState};
use crate::nested::invalidate::{self, InvvpidScope};
use crate::nested::vcpu::Request;
use crate::nested::vmcs02;
use crate::nested::vmexit;
use crate::nested::vmfunc::Vmfunc;
use crate::vmcs::access::{self, AccessCtx};
use crate::vmcs::caps::{misc, NestedVmxMsrs};
use crate::vmcs::checks::fixed_bits_valid;
use crate::vmcs::controls::Secondary;
use crate::vmcs::encoding::Encoding;
use crate::vmcs::layout::{Vmcs12, VmcsHdr};
use crate::vmcs::outcome::Outcome;
use crate::vmcs::table::{encodings as e, Shadow};
use crate::vmcs::x86::{cr4, INVALID_GPA};

/// Where vmcs12's launch state is in L1's copy (VMCLEAR clears it).
const LAUNCH_STATE_OFFSET: u64 = core::mem::offset_of!(Vmcs12, launch_state) as u64;

/// What the VMX instructions need beyond `EntryVcpu`. Errors of the
/// memory accessors are the exit handler's value (the fault is queued,
/// or KVM exits to userspace).
pub trait InsnVcpu: EntryVcpu {
    /// L1's VMX capability MSRs (`nested.msrs`).
    fn vmx_msrs(&mut self) -> NestedVmxMsrs;
    /// `kvm_read_cr4()`.
    fn cr4(&mut self) -> u64;
    /// `msr_ia32_feature_control`.
    fn feature_control(&mut self) -> u64;
    /// L1's MAXPHYADDR.
    fn maxphyaddr(&mut self) -> u32;
    /// `nested.vmxon_ptr`.
    fn vmxon_ptr(&mut self) -> u64;
    /// Sets `nested.vmxon_ptr`.
    fn set_vmxon_ptr(&mut self, p: u64);
    /// `nested.current_vmptr` (INVALID_GPA: none).
    fn current_vmptr(&mut self) -> u64;
    /// Sets a register.
    fn set_gpr(&mut self, reg: u8, value: u64);
    /// `kvm_register_read_raw()`: all 64 bits; `AccessCtx::operand()` of it
    /// is `kvm_register_read()` (one 64-bit-mode test per instruction).
    fn gpr_raw(&mut self, reg: u8) -> u64 {
        self.gpr(reg)
    }
    /// `kvm_register_write_raw()` of a value the caller truncated as
    /// `kvm_register_write()` does (`AccessCtx::operand()`).
    fn set_gpr_raw(&mut self, reg: u8, value: u64) {
        self.set_gpr(reg, value)
    }
    /// `nested.msrs.misc_low`, without a copy of all the MSRs.
    fn vmx_misc_low(&mut self) -> u32 {
        self.vmx_msrs().misc_low
    }
    /// The guest-virtual address of the instruction's memory operand
    /// (`get_vmx_mem_address()`).
    fn mem_operand(&mut self, write: bool, len: usize) -> Result<u64, i32>;
    /// Reads guest-virtual memory (`kvm_read_guest_virt()`).
    fn read_gva(&mut self, gva: u64, buf: &mut [u8]) -> Result<(), i32>;
    /// Writes guest-virtual memory (`kvm_write_guest_virt_system()`).
    fn write_gva(&mut self, gva: u64, buf: &[u8]) -> Result<(), i32>;
    /// Reads L1 guest-physical memory.
    fn read_gpa(&mut self, gpa: u64, buf: &mut [u8]) -> bool;
    /// Writes L1 guest-physical memory.
    fn write_gpa(&mut self, gpa: u64, buf: &[u8]) -> bool;
    /// Enters VMX operation (allocations: `Err` is the errno).
    fn enter_vmx_operation(&mut self) -> Result<(), i32>;
    /// `free_nested()`: leaves VMX operation.
    fn free_nested(&mut self);
    /// `nested_release_vmcs12()`: the current VMCS back to L1.
    fn release_vmcs12(&mut self);
    /// Copies L1's VMCS at `vmptr` into the cached vmcs12: `None` without
    /// a cache (outside VMX operation), `Some(false)` when L1 memory is
    /// unreadable.
    fn load_vmcs12(&mut self, vmptr: u64) -> Option<bool>;
    /// `vmptr` becomes current (`set_current_vmptr()`: vmcs12 dirty, the
    /// MSR bitmap recomputed, the shadow VMCS linked).
    fn set_current_vmptr(&mut self, vmptr: u64);
    /// `is_guest_mode()`.
    fn is_guest_mode(&mut self) -> bool;
    /// `is_64_bit_mode()`.
    fn is_64_bit_mode(&mut self) -> bool;
    /// The cached shadow vmcs12 (what L2's VMREAD/VMWRITE reach).
    fn shadow_vmcs12(&mut self) -> Option<&mut Vmcs12>;
    /// `copy_vmcs02_to_vmcs12_rare()` if needed.
    fn sync_rare(&mut self);
    /// A read-only field L1 wrote also goes to the shadow VMCS.
    fn shadow_write_ro(&mut self, field: Encoding, value: u64);
    /// `invalidate::invept` with the vCPU's checks.
    fn invept_scope(&mut self, ty: u64, eptp: u64, has_current: bool) -> Result<(), Outcome>;
    /// Drops the shadow EPT roots (`kvm_mmu_free_guest_mode_roots()` of
    /// the guest MMU).
    fn free_guest_mmu_roots(&mut self);
    /// The linear-address width (for INVVPID's address).
    fn max_virt_addr_bits(&mut self) -> u32;
    /// The INVVPID the CPU does for `scope` (`invalidate::hw_invvpid`,
    /// on this pCPU), and without EPT the guest-mode roots.
    fn flush_vpid(&mut self, scope: InvvpidScope);
    /// `vmfunc::vmfunc` with L1 memory and the vCPU's checks.
    fn vmfunc_decision(&mut self, v: &Vmcs12, eax: u64, ecx: u64) -> Vmfunc;
    /// `nested_ept_new_eptp()`: the MMU follows vmcs12's new EPTP.
    fn new_eptp(&mut self);
    /// Counts an EPTP switch.
    fn count_eptp_switch(&mut self) {
        crate::nested::counters::EPTP_SWITCHES.inc()
    }
    /// #UD; the handler's value.
    fn ud(&mut self) -> i32;
    /// `kvm_skip_emulated_instruction()`.
    fn skip_instruction(&mut self) -> i32;
    /// `nested_evmcs_handle_vmclear()` (`crate::evmcs::vmptrld`): the
    /// VMCLEAR is an eVMCS L1's (and released the eVMCS it names).
    fn evmcs_vmclear(&mut self, _vmptr: u64) -> bool {
        false
    }
    /// A copy of the mapped eVMCS, if one is (VMREAD reads it).
    fn evmcs(&mut self) -> Option<crate::evmcs::layout::HvEnlightenedVmcs> {
        None
    }
}

fn info(k: &mut impl InsnVcpu) -> InstructionInfo {
    InstructionInfo(k.vmread(e::VMX_INSTRUCTION_INFO) as u32)
}

/// KVM's `nested_vmx_check_permission()`.
fn check_permission(k: &mut impl InsnVcpu) -> Result<(), i32> {
    let (vmxon, cpl) = (k.vmxon(), k.cpl());
    rules::check_permission(vmxon, cpl).map_err(|f| k.fault(f))
}

/// KVM's `nested_vmx_get_vmptr()`: the 64-bit memory operand.
fn get_vmptr(k: &mut impl InsnVcpu) -> Result<u64, i32> {
    let gva = k.mem_operand(false, 8)?;
    let mut buf = [0u8; 8];
    k.read_gva(gva, &mut buf)?;
    Ok(u64::from_le_bytes(buf))
}

/// VMCLEAR's and VMPTRLD's start: permission, then the VMCS pointer.
fn permitted_vmptr(k: &mut impl InsnVcpu) -> Result<u64, i32> {
    check_permission(k)?;
    get_vmptr(k)
}

/// KVM's `handle_vmxon()`.
pub fn vmxon(k: &mut impl InsnVcpu) -> i32 {
    let (cr0, cr4v) = (k.cr0(), k.cr4());
    let m = k.vmx_msrs();
    let s = VmxonState {
        cr4_vmxe: cr4v & cr4::VMXE != 0,
        cpl: k.cpl(),
        in_vmx_operation: k.vmxon(),
        has_current_vmcs: k.has_current_vmcs(),
        cr0_valid: fixed_bits_valid(cr0, m.cr0_fixed0, m.cr0_fixed1),
        cr4_valid: fixed_bits_valid(cr4v, m.cr4_fixed0, m.cr4_fixed1),
        feature_control: k.feature_control(),
    };
    match rules::vmxon_precheck(&s) {
        Err(Decision::Fault(f)) => return k.fault(f),
        Err(Decision::Complete(o)) => return k.complete_insn(o),
        Ok(()) => {}
    }
    let vmptr = match get_vmptr(k) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut rev = [0u8; 4];
    let revision = k.read_gpa(vmptr, &mut rev).then(|| u32::from_le_bytes(rev));
    let maxphyaddr = k.maxphyaddr();
    if let Err(o) = rules::vmxon_region(vmptr, maxphyaddr, revision) {
        return k.complete_insn(o);
    }
    k.set_vmxon_ptr(vmptr);
    // An allocation failure is KVM_RUN's -ENOMEM, as nested.c's
    // handle_vmxon() returns it, not an exception for L1.
    if let Err(errno) = k.enter_vmx_operation() {
        return errno;
    }
    k.complete_insn(Outcome::VmSucceed)
}

/// KVM's `handle_vmxoff()`.
pub fn vmxoff(k: &mut impl InsnVcpu) -> i32 {
    if let Err(r) = check_permission(k) {
        return r;
    }
    k.free_nested();
    if k.init_event_pending() {
        k.make_request(Request::Event);
    }
    k.complete_insn(Outcome::VmSucceed)
}

/// KVM's `handle_vmclear()`.
pub fn vmclear(k: &mut impl InsnVcpu) -> i32 {
    let vmptr = match permitted_vmptr(k) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let maxphyaddr = k.maxphyaddr();
    let (vmxon_ptr, current) = (k.vmxon_ptr(), k.current_vmptr());
    if let Err(o) = rules::vmclear_pointer(vmptr, maxphyaddr, vmxon_ptr, current != INVALID_GPA) {
        return k.complete_insn(o);
    }
    // An eVMCS has no launch state; L1's memory is left as it is.
    if !k.evmcs_vmclear(vmptr) {
        if vmptr == current {
            k.release_vmcs12();
        }
        // launch_state := 0 (clear) in L1's copy.
        let _ = k.write_gpa(vmptr.wrapping_add(LAUNCH_STATE_OFFSET), &0u32.to_le_bytes());
    }
    k.complete_insn(Outcome::VmSucceed)
}

/// KVM's `handle_vmptrld()`.
pub fn vmptrld(k: &mut impl InsnVcpu) -> i32 {
    let vmptr = match permitted_vmptr(k) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let maxphyaddr = k.maxphyaddr();
    let vmxon_ptr = k.vmxon_ptr();
    let cur = k.current_vmptr();
    let current = (cur != INVALID_GPA).then_some(cur);
    if let Err(o) = rules::vmptrld_address(vmptr, maxphyaddr, vmxon_ptr, current.is_some()) {
        return k.complete_insn(o);
    }
    // No VMPTRLD while an eVMCS is in use: nested.c returns without
    // completing the instruction, after the address checks and before
    // it reads the VMCS header.
    if k.evmcs_mapped() {
        return 1;
    }
    let mut raw = [0u8; 4];
    let hdr = if current == Some(vmptr) {
        None
    } else {
        k.read_gpa(vmptr, &mut raw)
            .then(|| VmcsHdr(u32::from_le_bytes(raw)))
    };
    let shadow_ok = Secondary(k.vmx_msrs().secondary_ctls_high).contains(Secondary::SHADOW_VMCS);
    if let Err(o) = rules::vmptrld_pointer(vmptr, maxphyaddr, vmxon_ptr, current, hdr, shadow_ok) {
        return k.complete_insn(o);
    }
    if current != Some(vmptr) {
        k.release_vmcs12();
        match k.load_vmcs12(vmptr) {
            None => return k.ud(),
            Some(false) => return k.complete_insn(Outcome::VmFailInvalid),
            Some(true) => k.set_current_vmptr(vmptr),
        }
    }
    k.complete_insn(Outcome::VmSucceed)
}

/// KVM's `handle_vmptrst()`.
pub fn vmptrst(k: &mut impl InsnVcpu) -> i32 {
    if let Err(r) = check_permission(k) {
        return r;
    }
    // As nested.c: with an eVMCS, VMPTRST returns without completing
    // (an eVMCS L1 reads its current eVMCS from the VP assist page).
    if k.evmcs_mapped() {
        return 1;
    }
    let current = k.current_vmptr();
    let gva = match k.mem_operand(true, 8) {
        Ok(g) => g,
        Err(r) => return r,
    };
    if let Err(r) = k.write_gva(gva, &current.to_le_bytes()) {
        return r;
    }
    k.complete_insn(Outcome::VmSucceed)
}

fn access_ctx(k: &mut impl InsnVcpu) -> AccessCtx {
    let guest_mode = k.is_guest_mode();
    let long_mode = k.is_64_bit_mode();
    let vmwrite_any_field = u64::from(k.vmx_misc_low()) & misc::VMWRITE_SHADOW_RO_FIELDS != 0;
    let has_current_vmcs = k.has_current_vmcs();
    let link_pointer_valid = k
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

/// vmcs12, or in L2 the shadow vmcs12 (L2's VMREAD/VMWRITE that reach L0
/// are those L1 let through its shadow VMCS: reflection sent the rest).
fn target(k: &mut impl InsnVcpu, guest_mode: bool) -> Option<&mut Vmcs12> {
    if guest_mode {
        k.shadow_vmcs12()
    } else {
        k.vmcs12()
    }
}

/// KVM's `handle_vmread()`.
pub fn vmread(k: &mut impl InsnVcpu) -> i32 {
    if let Err(r) = check_permission(k) {
        return r;
    }
    let i = info(k);
    let ctx = access_ctx(k);
    let field = ctx.operand(k.gpr_raw(i.reg2()));
    let read = if let Some(ev) = k.evmcs() {
        // An eVMCS is mapped only for L1 (it excludes VMCS shadowing).
        if ctx.guest_mode {
            return k.complete_insn(Outcome::VmFailInvalid);
        }
        Some(access::evmcs_vmread(&ev, &ctx, field))
    } else {
        // nested.c's order: no VMCS, then the field, then the rare sync.
        let f = match ctx
            .check_current()
            .and_then(|()| access::field_of(&ctx, field))
        {
            Ok(f) => f,
            Err(o) => return k.complete_insn(o),
        };
        if !ctx.guest_mode && vmcs02::is_rare(f.field.encoding) {
            k.sync_rare();
        }
        target(k, ctx.guest_mode).map(|v| Ok(access::read_field(v, f)))
    };
    let value = match read {
        Some(Ok(value)) => value,
        Some(Err(o)) => return k.complete_insn(o),
        None => return k.complete_insn(Outcome::VmFailInvalid),
    };
    if i.is_register() {
        k.set_gpr_raw(i.reg1(), ctx.operand(value));
    } else {
        let len = ctx.memory_operand_len();
        let gva = match k.mem_operand(true, len) {
            Ok(g) => g,
            Err(r) => return r,
        };
        let bytes = value.to_le_bytes();
        if let Err(r) = k.write_gva(gva, bytes.get(..len).unwrap_or(&bytes)) {
            return r;
        }
    }
    k.complete_insn(Outcome::VmSucceed)
}

/// KVM's `handle_vmwrite()`.
pub fn vmwrite(k: &mut impl InsnVcpu) -> i32 {
    if let Err(r) = check_permission(k) {
        return r;
    }
    // No VMCS loaded with VMPTRLD (current_vmptr is INVALID_GPA with an
    // eVMCS): VMfailInvalid, as nested.c.
    if k.evmcs_mapped() {
        return k.complete_insn(Outcome::VmFailInvalid);
    }
    let i = info(k);
    let ctx = access_ctx(k);
    if let Err(o) = ctx.check_current() {
        return k.complete_insn(o);
    }
    let value = if i.is_register() {
        ctx.operand(k.gpr_raw(i.reg1()))
    } else {
        let len = ctx.memory_operand_len();
        let gva = match k.mem_operand(false, len) {
            Ok(g) => g,
            Err(r) => return r,
        };
        let mut bytes = [0u8; 8];
        if let Err(r) = k.read_gva(gva, bytes.get_mut(..len).unwrap_or(&mut [])) {
            return r;
        }
        u64::from_le_bytes(bytes)
    };
    let field = ctx.operand(k.gpr_raw(i.reg2()));
    // One lookup for the checks, the rare sync and the write.
    let f = match access::field_of(&ctx, field).and_then(|f| {
        access::check_writable(&ctx, f)?;
        Ok(f)
    }) {
        Ok(f) => f,
        Err(o) => return k.complete_insn(o),
    };
    // Unless L1 writes a field of the shadowed read-write set, the next
    // entry reloads vmcs02's rare state from vmcs12: make vmcs12 current
    // (after the checks, as nested.c).
    if !ctx.guest_mode && f.field.shadow != Shadow::ReadWrite {
        k.sync_rare();
    }
    let written = match target(k, ctx.guest_mode) {
        Some(v) => access::write_field(v, f, value),
        None => return k.complete_insn(Outcome::VmFailInvalid),
    };
    // Fields outside the shadowed read-write set are only loaded into
    // vmcs02 by the "rare" part of prepare_vmcs02: mark it needed.
    if !ctx.guest_mode && !written.is_shadow_rw() {
        k.set_dirty_vmcs12(true);
    }
    // A read-only field L1 may write ("VMWRITE to any field") is also in
    // the shadow VMCS, which L1 reads it from.
    if !ctx.guest_mode && written.is_shadow_ro() && k.shadow_vmcs_enabled() {
        let value = k.vmcs12().map_or(0, |v| v.get(written.field.field));
        k.shadow_write_ro(written.field.field.encoding, value);
    }
    k.complete_insn(Outcome::VmSucceed)
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
    k: &mut impl InsnVcpu,
    available: Result<(), rules::Fault>,
    type_ok: impl FnOnce(u64, bool) -> Result<(), Outcome>,
) -> Result<Invalidation, i32> {
    if let Err(f) = available {
        return Err(k.fault(f));
    }
    check_permission(k)?;
    let reg = info(k).reg2();
    let ty = k.gpr(reg);
    let has_current = k.has_current_vmcs();
    if let Err(o) = type_ok(ty, has_current) {
        return Err(k.complete_insn(o));
    }
    let gva = k.mem_operand(false, 16)?;
    let mut raw = [0u8; 16];
    k.read_gva(gva, &mut raw)?;
    let [a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7] = raw;
    Ok(Invalidation {
        ty,
        desc: [
            u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]),
            u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]),
        ],
        has_current,
    })
}

/// KVM's `handle_invept()`.
pub fn invept(k: &mut impl InsnVcpu) -> i32 {
    let m = k.vmx_msrs();
    let op = match invalidation(k, invalidate::invept_available(&m), |ty, cur| {
        invalidate::invept_type(&m, ty, cur)
    }) {
        Ok(op) => op,
        Err(r) => return r,
    };
    if let Err(o) = k.invept_scope(op.ty, op.desc[0], op.has_current) {
        return k.complete_insn(o);
    }
    // Both types (single context, global) drop every shadow EPT root: a
    // superset of the required invalidation.
    k.free_guest_mmu_roots();
    k.complete_insn(Outcome::VmSucceed)
}

/// KVM's `handle_invvpid()`.
pub fn invvpid(k: &mut impl InsnVcpu) -> i32 {
    let m = k.vmx_msrs();
    let op = match invalidation(k, invalidate::invvpid_available(&m), |ty, cur| {
        invalidate::invvpid_type(&m, ty, cur)
    }) {
        Ok(op) => op,
        Err(r) => return r,
    };
    let bits = k.max_virt_addr_bits();
    let [vpid, gla] = op.desc;
    match invalidate::invvpid(&m, op.ty, vpid, gla, bits, op.has_current) {
        // Flush what is tagged with L2's VPID, as the core says; and L2's
        // shadow roots when L0 shadows L2's page tables.
        Ok(scope) => k.flush_vpid(scope),
        Err(o) => return k.complete_insn(o),
    }
    k.complete_insn(Outcome::VmSucceed)
}

/// KVM's `handle_vmfunc()`: VMFUNC of L2, whose vmcs02 enables VM
/// functions with none selected, so that each one exits here.
pub fn vmfunc(k: &mut impl InsnVcpu) -> i32 {
    // VMFUNC exits only from L2; L1's own VMFUNC is #UD in hardware.
    if !k.is_guest_mode() {
        return k.ud();
    }
    let (eax, ecx) = (k.gpr(0), k.gpr(1));
    let Some(v) = k.vmcs12().map(|v| *v) else {
        return k.ud();
    };
    match k.vmfunc_decision(&v, eax, ecx) {
        Vmfunc::InvalidOpcode => return k.ud(),
        Vmfunc::Unchanged => return k.skip_instruction(),
        Vmfunc::Switch { eptp, flush_tlb } => {
            if let Some(v12) = k.vmcs12() {
                v12.ept_pointer = eptp;
            }
            k.new_eptp();
            if flush_tlb {
                k.make_request(Request::TlbFlushGuest);
            }
            k.count_eptp_switch();
            return k.skip_instruction();
        }
        Vmfunc::ExitToL1 => {}
    }
    // The function failed: a VMFUNC exit to L1.
    let reason = k.exit_reason_full();
    let intr_info = k.vmread(e::VM_EXIT_INTR_INFO) as u32;
    let qual = k.vmread(e::EXIT_QUALIFICATION);
    vmexit::nested_vmx_vmexit(k, Some((reason, intr_info, qual)));
    1
}

#[cfg(test)]
#[path = "insn_exec_tests.rs"]
mod tests;
