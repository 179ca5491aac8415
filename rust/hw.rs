// SPDX-License-Identifier: GPL-2.0

//! VMREAD and VMWRITE of the CPU's current VMCS (vmcs01 or vmcs02).
//!
//! Every caller runs in a backend callback of a loaded vCPU (an exit handler
//! or a vCPU ioctl), so the current VMCS is the vCPU's `loaded_vmcs`; KVM
//! keeps it current across preemption (vcpu_load/vcpu_put). A failing
//! instruction (an encoding this CPU lacks) is not a fault: it is counted
//! and reads as 0, as KVM's vmread_error() handling does after its warning.
//!
//! Each instruction has an exception-table entry, as KVM's vmx_ops.h
//! (`_ASM_EXTABLE`): if it faults (#UD because an emergency VMXOFF, on a
//! reboot or crash, left VMX operation under it) the CPU resumes after it
//! and `spurious_fault` tells KVM, which ignores it while rebooting and
//! BUGs otherwise (kvm_spurious_fault()), instead of an Oops in the middle
//! of the module.

use core::arch::asm;

use crate::bindings;
use crate::stats;
use crate::vmcs::encoding::Encoding;

/// An `__ex_table` entry (KVM's `_ASM_EXTABLE(from, to)`): a fault at local
/// label `from` resumes at `to` (EX_TYPE_DEFAULT, 1, in
/// asm/extable_fixup_types.h). The kernel sorts a module's table at load.
macro_rules! extable {
    ($from:literal, $to:literal) => {
        concat!(
            ".pushsection \"__ex_table\",\"a\"\n",
            ".balign 4\n",
            ".long ",
            $from,
            " - .\n",
            ".long ",
            $to,
            " - .\n",
            ".long 1\n",
            ".popsection"
        )
    };
}

/// A VMX instruction faulted: KVM's kvm_spurious_fault(), cold.
#[cold]
#[inline(never)]
fn spurious_fault() {
    // SAFETY: kvm.ko's function takes no arguments and only checks
    // `kvm_rebooting` (BUG_ON when not rebooting, as KVM does for its own
    // VMX instructions).
    unsafe { bindings::kvm_spurious_fault() };
}

/// VMREAD of `field` from the current VMCS.
///
/// The path taken on every read is the instruction and one branch, as
/// KVM's `__vmcs_readl()` with asm goto (which Rust cannot have with an
/// output): a VMfail (CF or ZF) branches to an out-of-line block (a section
/// of its own, as the kernel's old `.fixup`) that counts it as
/// [`vmx_insn_failed`] does and reads 0; a fault resumes (exception-table
/// entry) at one that calls kvm_spurious_fault() with every caller-saved
/// register kept, then reads 0. Both jump back after the branch.
#[inline]
pub(crate) fn read(field: Encoding) -> u64 {
    let value: u64;
    // SAFETY: VMREAD with register operands touches no memory. The CPU is
    // in VMX root operation with the vCPU's VMCS current (module doc); a
    // VMfail only sets flags (JNA to 5). Block 5 increments the counter
    // `VMCS_ERRORS` (an AtomicU64 at offset 0 of the transparent
    // `Counter`: a locked increment, as its `inc()`) and zeroes `value`.
    // A fault resumes at 3 (the exception-table entry), which saves the
    // nine caller-saved registers on the stack (no red zone in the kernel;
    // the stack is usable, no `nostack`), calls kvm.ko's
    // kvm_spurious_fault() (no arguments; BUG_ON unless rebooting),
    // restores them and zeroes `value`. Flags are clobbered (no
    // `preserves_flags`).
    unsafe {
        asm!(
            "2: vmread {value}, {field}",
            "jna 5f",
            "4:",
            ".pushsection .text.unlikely.rnvmx_fixup, \"ax\"",
            "5: lock inc qword ptr [rip + {errors}]",
            "xor {value:e}, {value:e}",
            "jmp 4b",
            "3: push rax",
            "push rcx",
            "push rdx",
            "push rsi",
            "push rdi",
            "push r8",
            "push r9",
            "push r10",
            "push r11",
            "call {spurious}",
            "pop r11",
            "pop r10",
            "pop r9",
            "pop r8",
            "pop rdi",
            "pop rsi",
            "pop rdx",
            "pop rcx",
            "pop rax",
            "xor {value:e}, {value:e}",
            "jmp 4b",
            ".popsection",
            extable!("2b", "3b"),
            field = in(reg) u64::from(field.value()),
            value = out(reg) value,
            errors = sym stats::VMCS_ERRORS,
            spurious = sym bindings::kvm_spurious_fault,
        );
    }
    value
}

/// VMWRITE of `value` to `field` of the current VMCS.
///
/// With asm goto, as KVM's vmx_asm2(): the path taken on every write is
/// the instruction and one branch; a VMfail (CF or ZF) branches to the
/// cold `failed` block, a fault resumes (exception-table entry) at a jump
/// to the `faulted` one, out of line as the others' fixups. Each block
/// calls a function of no arguments, so that no argument is set up on the
/// path taken.
#[inline]
pub(crate) fn write(field: Encoding, value: u64) {
    // SAFETY: VMWRITE with register operands touches no memory; the CPU is
    // in VMX root operation with the vCPU's VMCS current (module doc). A
    // VMfail only sets flags (JNA to `failed`); a fault resumes at 3 (the
    // exception-table entry), which jumps to `faulted`. Both blocks only
    // report the failure, then continue after the instruction.
    unsafe {
        asm!(
            "2: vmwrite {field}, {value}",
            "jna {failed}",
            ".pushsection .text.unlikely.rnvmx_fixup, \"ax\"",
            "3: jmp {faulted}",
            ".popsection",
            extable!("2b", "3b"),
            field = in(reg) u64::from(field.value()),
            value = in(reg) value,
            failed = label { vmx_insn_failed() },
            faulted = label { spurious_fault() },
            options(nostack),
        );
    }
}

/// A VMREAD or VMWRITE failed (VMfail): counted, as KVM's vmread_error()
/// and vmwrite_error() warn.
#[cold]
#[inline(never)]
fn vmx_insn_failed() {
    stats::VMCS_ERRORS.inc();
}

/// INVVPID of `ty` (0: one address, 1: one VPID, 2: all VPIDs) for `vpid`
/// and `address` (KVM's __invvpid()). The caller picks a type the CPU
/// supports (KVM required one of 1 and 2 to enable VPIDs).
pub(crate) fn invvpid(ty: u64, vpid: u16, address: u64) {
    let desc: [u64; 2] = [u64::from(vpid), address];
    let fault: u32;
    // SAFETY: INVVPID only reads the 16-byte descriptor on our stack and
    // invalidates TLB entries. It faults only outside VMX root operation
    // (an emergency VMXOFF): the exception-table entry resumes at 3. A
    // VMfail only sets flags, which nothing reads here (KVM's own only logs
    // it).
    unsafe {
        asm!(
            "2: invvpid {ty}, [{desc}]",
            "jmp 4f",
            "3: mov {fault:e}, 1",
            "4:",
            extable!("2b", "3b"),
            ty = in(reg) ty,
            desc = in(reg) desc.as_ptr(),
            fault = inout(reg) 0u32 => fault,
            options(nostack, readonly),
        );
    }
    if fault != 0 {
        spurious_fault();
    }
}

/// VMPTRLD or VMCLEAR (`insn`) of the 8-byte operand `pa`; a fault is
/// reported as for the others. Both VMfail only for a bad address, which
/// the callers' own VMCS regions never are.
macro_rules! vmcs_ptr_insn {
    ($insn:literal, $pa:expr) => {{
        let pa: u64 = $pa;
        let fault: u32;
        // SAFETY: the instruction reads the 8-byte operand on our stack;
        // the caller guarantees the region (function contract). A fault
        // resumes at 3 (the exception-table entry), which sets `fault`.
        unsafe {
            asm!(
                concat!("2: ", $insn, " [{p}]"),
                "jmp 4f",
                "3: mov {fault:e}, 1",
                "4:",
                extable!("2b", "3b"),
                p = in(reg) &pa,
                fault = inout(reg) 0u32 => fault,
                options(nostack, readonly),
            );
        }
        if fault != 0 {
            spurious_fault();
        }
    }};
}

/// VMPTRLD: makes the VMCS at physical address `pa` current.
///
/// # Safety
///
/// `pa` is the physical address of a VMCS region owned by the caller (a
/// kvm-intel allocation), with preemption disabled until the previous
/// VMCS is made current again.
pub(crate) unsafe fn vmptrld(pa: u64) {
    vmcs_ptr_insn!("vmptrld", pa);
}

/// VMCLEAR of the VMCS at physical address `pa`.
///
/// # Safety
///
/// As for `vmptrld`.
pub(crate) unsafe fn vmclear(pa: u64) {
    vmcs_ptr_insn!("vmclear", pa);
}
