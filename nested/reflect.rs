// SPDX-License-Identifier: GPL-2.0

//! Whether L1 wants an exit from L2 (KVM's `nested_vmx_l1_wants_exit()` and
//! the helpers it calls; SDM Vol. 3C 26.1 "Instructions that cause VM
//! exits", 26.2 "Other causes of VM exits"): decided from vmcs12 and, for
//! the bitmaps, bytes of L1 memory.

use super::exit_reason::basic as r;
use super::msr_bitmap::{self, Access};
use crate::vmcs::controls::{CpuBased, PinBased, Secondary, Vmcs12Controls};
use crate::vmcs::intr_info;
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::x86::{cr0, vector};

/// Reads L1 memory; `None` if the byte cannot be read (KVM then reflects
/// the exit to L1).
pub trait L1Memory {
    /// One byte at guest physical address `gpa`.
    fn read_u8(&mut self, gpa: u64) -> Option<u8>;
}

/// What the exit was, as far as the decision needs it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Exit {
    /// Basic exit reason.
    pub reason: u16,
    /// Exit qualification.
    pub qualification: u64,
    /// VM-exit interruption information (exceptions, NMIs).
    pub intr_info: u32,
    /// RCX (MSR index for RDMSR/WRMSR).
    pub rcx: u64,
    /// RAX (ENCLS leaf).
    pub rax: u64,
    /// The general-purpose register a MOV-to-CR reads, or the one naming
    /// the field of VMREAD/VMWRITE (already read by the caller).
    pub operand: u64,
    /// L1's CPUID has SGX.
    pub guest_has_sgx: bool,
}

/// KVM's `nested_vmx_is_page_fault_vmexit()` (SDM 26.2: the page-fault
/// error-code mask and match invert the exception-bitmap bit).
pub fn is_page_fault_vmexit(v: &Vmcs12, error_code: u16) -> bool {
    let bit = v.exception_bitmap & (1 << vector::PF) != 0;
    let inequality =
        u32::from(error_code) & v.page_fault_error_code_mask != v.page_fault_error_code_match;
    inequality ^ bit
}

/// KVM's `nested_vmx_is_exception_vmexit()`: whether an exception L0
/// would inject into L2 is instead an exit to L1.
pub fn is_exception_vmexit(v: &Vmcs12, vector: u8, error_code: u32) -> bool {
    if u32::from(vector) == vector::PF {
        return is_page_fault_vmexit(v, error_code as u16);
    }
    v.exception_bitmap & 1u32.checked_shl(u32::from(vector)).unwrap_or(0) != 0
}

/// KVM's `nested_vmx_check_io_bitmaps()`: whether an access of `size` bytes
/// at `port` hits L1's I/O bitmaps (an unreadable byte counts as a hit).
#[inline]
pub fn check_io_bitmaps(v: &Vmcs12, mem: &mut impl L1Memory, port: u32, size: u32) -> bool {
    // The usual access, all its ports in one byte of one bitmap (a group of
    // eight never straddles 0x8000): one read, one mask, as the loop would
    // (it reads that byte first and only).
    if size != 0 && port <= 0xffff && size <= 8 - (port & 7) {
        let base = if port < 0x8000 {
            v.io_bitmap_a
        } else {
            v.io_bitmap_b
        };
        let mask = ((1u32 << size) - 1) << (port & 7);
        return mem
            .read_u8(base.wrapping_add(u64::from((port & 0x7fff) / 8)))
            .map_or(true, |b| u32::from(b) & mask != 0);
    }
    check_io_bitmaps_bytes(v, mem, port, size)
}

/// `check_io_bitmaps` byte by byte, for an access across bitmap bytes.
#[cold]
fn check_io_bitmaps_bytes(v: &Vmcs12, mem: &mut impl L1Memory, port: u32, size: u32) -> bool {
    let mut last = None;
    let mut byte = 0u8;
    for p in port..port.saturating_add(size) {
        let base = match p {
            0..=0x7fff => v.io_bitmap_a,
            0x8000..=0xffff => v.io_bitmap_b,
            _ => return true,
        };
        let gpa = base.wrapping_add(u64::from((p & 0x7fff) / 8));
        if last != Some(gpa) {
            match mem.read_u8(gpa) {
                Some(b) => byte = b,
                None => return true,
            }
        }
        if byte & (1 << (p & 7)) != 0 {
            return true;
        }
        last = Some(gpa);
    }
    false
}

fn exit_handled_io(
    v: &Vmcs12,
    c: &Vmcs12Controls,
    mem: &mut impl L1Memory,
    qualification: u64,
) -> bool {
    if !c.cpu.contains(CpuBased::USE_IO_BITMAPS) {
        return c.cpu.contains(CpuBased::UNCOND_IO_EXITING);
    }
    let port = ((qualification >> 16) & 0xffff) as u32;
    // Bits 2:0 encode the access size minus one.
    let size = ((qualification & 7) as u32).saturating_add(1);
    check_io_bitmaps(v, mem, port, size)
}

/// Bit `bit` of the bitmap at `base` in L1 memory; an unreadable byte
/// counts as set, i.e. the exit goes to L1.
fn bitmap_bit(mem: &mut impl L1Memory, base: u64, bit: u64) -> bool {
    mem.read_u8(base.wrapping_add(bit / 8))
        .map_or(true, |b| (b >> (bit % 8)) & 1 != 0)
}

/// What L0's own handling of an exception or NMI exit from L2 depends on.
pub trait L0ExceptionState {
    /// `vcpu->guest_debug` (KVM_GUESTDBG_*).
    fn guest_debug(&self) -> u32;
    /// L0 handles #PF itself: an async page fault is pending, or L0
    /// intercepts #PF (shadow paging, `vmx_need_pf_intercept()`).
    fn l0_handles_page_faults(&mut self) -> bool;
    /// `vmx_guest_inject_ac()`: an #AC is the guest's to take.
    fn guest_takes_ac(&mut self) -> bool;
}

/// KVM_GUESTDBG_SINGLESTEP, KVM_GUESTDBG_USE_SW_BP, KVM_GUESTDBG_USE_HW_BP.
pub mod guestdbg {
    /// Single-step L2 for userspace's debugger.
    pub const SINGLESTEP: u32 = 1 << 1;
    /// Userspace's software breakpoints (INT3).
    pub const USE_SW_BP: u32 = 1 << 16;
    /// Userspace's hardware breakpoints.
    pub const USE_HW_BP: u32 = 1 << 17;
}

/// #VE.
const VE_VECTOR: u32 = 20;

/// KVM's `is_intr_type_n()` / `is_exception_n()`: a valid event of `ty`
/// with `vector`.
const fn is_event(info: u32, ty: u32, vector: u32) -> bool {
    let mask = intr_info::VALID | intr_info::TYPE_MASK | intr_info::VECTOR_MASK;
    info & mask == intr_info::VALID | ty | vector
}

/// KVM's `nested_vmx_l0_wants_exit()` for EXIT_REASON_EXCEPTION_NMI: the
/// exceptions L0 takes whatever L1 intercepts. As nested.c, only a
/// hardware exception counts (`is_breakpoint()` and the rest): INT3 is a
/// software exception (SDM 27.2.2), so with userspace's software
/// breakpoints L2's INT3 still goes to L1 when L1 intercepts #BP.
pub fn l0_wants_exception(info: u32, s: &mut impl L0ExceptionState) -> bool {
    use intr_info::{TYPE_HARD_EXCEPTION as HARD, TYPE_MASK, VALID};
    if info & (VALID | TYPE_MASK) == VALID | intr_info::TYPE_NMI {
        return true;
    }
    if is_event(info, HARD, vector::PF) {
        return s.l0_handles_page_faults();
    }
    if is_event(info, HARD, vector::DB)
        && s.guest_debug() & (guestdbg::SINGLESTEP | guestdbg::USE_HW_BP) != 0
    {
        return true;
    }
    if is_event(info, HARD, vector::BP) && s.guest_debug() & guestdbg::USE_SW_BP != 0 {
        return true;
    }
    if is_event(info, HARD, vector::AC) && !s.guest_takes_ac() {
        return true;
    }
    is_event(info, HARD, VE_VECTOR)
}

/// KVM's `nested_vmx_exit_handled_msr()`: the MSR bitmap is four 1 KiB
/// bitmaps (read low, read high, write low, write high).
fn exit_handled_msr(
    v: &Vmcs12,
    c: &Vmcs12Controls,
    mem: &mut impl L1Memory,
    write: bool,
    rcx: u64,
) -> bool {
    if !c.cpu.contains(CpuBased::USE_MSR_BITMAPS) {
        return true;
    }
    let access = if write { Access::Write } else { Access::Read };
    match msr_bitmap::bit_index(rcx as u32, access) {
        Some(bit) => bitmap_bit(mem, v.msr_bitmap, bit),
        // Outside both ranges: let L1 handle the wrong parameter.
        None => true,
    }
}

/// KVM's `nested_vmx_exit_handled_cr()` (exit qualification: SDM table 28-3).
fn exit_handled_cr(v: &Vmcs12, c: &Vmcs12Controls, qualification: u64, operand: u64) -> bool {
    let cr = qualification & 15;
    match (qualification >> 4) & 3 {
        // MOV to CR
        0 => match cr {
            0 => v.cr0_guest_host_mask & (operand ^ v.cr0_read_shadow) != 0,
            3 => c.cpu.contains(CpuBased::CR3_LOAD_EXITING),
            4 => v.cr4_guest_host_mask & (v.cr4_read_shadow ^ operand) != 0,
            8 => c.cpu.contains(CpuBased::CR8_LOAD_EXITING),
            _ => false,
        },
        // MOV from CR
        1 => match cr {
            3 => c.cpu.contains(CpuBased::CR3_STORE_EXITING),
            8 => c.cpu.contains(CpuBased::CR8_STORE_EXITING),
            _ => false,
        },
        // CLTS
        2 => v.cr0_guest_host_mask & cr0::TS != 0 && v.cr0_read_shadow & cr0::TS != 0,
        // LMSW: changes bits 3:1, can only set bit 0.
        _ => {
            let val = (qualification >> 16) & 0xf;
            v.cr0_guest_host_mask & 0xe & (val ^ v.cr0_read_shadow) != 0
                || (v.cr0_guest_host_mask & 1 != 0 && v.cr0_read_shadow & 1 == 0 && val & 1 != 0)
        }
    }
}

fn exit_handled_vmcs_access(
    c: &Vmcs12Controls,
    mem: &mut impl L1Memory,
    bitmap: u64,
    field: u64,
) -> bool {
    if !c.sec.contains(Secondary::SHADOW_VMCS) {
        return true;
    }
    if field >> 15 != 0 {
        return true; // out-of-range fields always exit to L1
    }
    bitmap_bit(mem, bitmap, field)
}

fn exit_handled_mtf(v: &Vmcs12, c: &Vmcs12Controls) -> bool {
    // An MTF exit can also be injected by L1 as "other event", vector 0.
    c.cpu.contains(CpuBased::MONITOR_TRAP_FLAG)
        || v.vm_entry_intr_info_field == intr_info::VALID | intr_info::TYPE_OTHER_EVENT
}

/// KVM's `nested_vmx_l1_wants_exit()`.
pub fn l1_wants_exit(v: &Vmcs12, e: &Exit, mem: &mut impl L1Memory) -> bool {
    let c = Vmcs12Controls::of(v);
    match e.reason {
        r::EXCEPTION_NMI => {
            let ty = e.intr_info & (intr_info::TYPE_MASK | intr_info::VALID);
            let vector = e.intr_info & intr_info::VECTOR_MASK;
            if ty == intr_info::VALID | intr_info::TYPE_NMI && vector == vector::NMI {
                return true;
            }
            if ty == intr_info::VALID | intr_info::TYPE_HARD_EXCEPTION && vector == vector::PF {
                // With L0 using EPT, #PF exits only when L1 asked for them.
                return true;
            }
            v.exception_bitmap & 1u32.checked_shl(vector).unwrap_or(0) != 0
        }
        r::EXTERNAL_INTERRUPT => c.pin.contains(PinBased::EXT_INTR_MASK),
        r::INTERRUPT_WINDOW => c.cpu.contains(CpuBased::INTR_WINDOW_EXITING),
        r::NMI_WINDOW => c.cpu.contains(CpuBased::NMI_WINDOW_EXITING),
        r::HLT => c.cpu.contains(CpuBased::HLT_EXITING),
        r::INVLPG => c.cpu.contains(CpuBased::INVLPG_EXITING),
        r::RDPMC => c.cpu.contains(CpuBased::RDPMC_EXITING),
        r::RDRAND => c.sec.contains(Secondary::RDRAND_EXITING),
        r::RDSEED => c.sec.contains(Secondary::RDSEED_EXITING),
        r::RDTSC | r::RDTSCP => c.cpu.contains(CpuBased::RDTSC_EXITING),
        r::VMREAD => exit_handled_vmcs_access(&c, mem, v.vmread_bitmap, e.operand),
        r::VMWRITE => exit_handled_vmcs_access(&c, mem, v.vmwrite_bitmap, e.operand),
        r::CR_ACCESS => exit_handled_cr(v, &c, e.qualification, e.operand),
        r::DR_ACCESS => c.cpu.contains(CpuBased::MOV_DR_EXITING),
        r::IO_INSTRUCTION => exit_handled_io(v, &c, mem, e.qualification),
        r::GDTR_IDTR | r::LDTR_TR => c.sec.contains(Secondary::DESC),
        r::MSR_READ | r::MSR_WRITE => exit_handled_msr(v, &c, mem, e.reason == r::MSR_WRITE, e.rcx),
        r::MWAIT_INSTRUCTION => c.cpu.contains(CpuBased::MWAIT_EXITING),
        r::MONITOR_TRAP_FLAG => exit_handled_mtf(v, &c),
        r::MONITOR_INSTRUCTION => c.cpu.contains(CpuBased::MONITOR_EXITING),
        r::PAUSE_INSTRUCTION => {
            c.cpu.contains(CpuBased::PAUSE_EXITING) || c.sec.contains(Secondary::PAUSE_LOOP_EXITING)
        }
        r::TPR_BELOW_THRESHOLD => c.cpu.contains(CpuBased::TPR_SHADOW),
        r::INVPCID => {
            c.sec.contains(Secondary::ENABLE_INVPCID) && c.cpu.contains(CpuBased::INVLPG_EXITING)
        }
        r::WBINVD => c.sec.contains(Secondary::WBINVD_EXITING),
        r::XSAVES | r::XRSTORS => c.sec.contains(Secondary::ENABLE_XSAVES),
        r::UMWAIT | r::TPAUSE => c.sec.contains(Secondary::ENABLE_USR_WAIT_PAUSE),
        r::ENCLS => {
            e.guest_has_sgx
                && c.sec.contains(Secondary::ENCLS_EXITING)
                // KVM reads the leaf from EAX: a u32 (the upper half of
                // RAX is ignored), leaves above 62 share bit 63.
                && v.encls_exiting_bitmap & (1 << (e.rax as u32).min(63)) != 0
        }
        // Not exposed to L1.
        r::NOTIFY => false,
        // Unconditional: triple fault, task switch, CPUID, INVD, XSETBV,
        // invalid state, machine check, the APIC-virtualization exits (their
        // controls come only from vmcs12), and the VMX instructions ("this
        // allows L1 to emulate them for its L2 guest, i.e. 3-level nesting").
        _ => true,
    }
}

#[cfg(test)]
#[path = "reflect_tests.rs"]
mod tests;
