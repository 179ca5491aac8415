// SPDX-License-Identifier: GPL-2.0

//! KVM's `nested_vmx_reflect_vmexit()`: an exit from L2 is L0's to handle
//! (`l0_wants_exit`) or becomes a nested VM exit to L1 when vmcs12 asks for
//! it (`reflect::l1_wants_exit`).

use crate::nested::entry_vcpu::EntryVcpu;
use crate::nested::exit_reason::basic as r;
use crate::nested::reflect::{self, Exit, L0ExceptionState};
use crate::nested::vcpu::Stat;
use crate::nested::vmexit;
use crate::vmcs::intr_info;
use crate::vmcs::table::encodings as e;

/// What reflecting an exit needs beyond `EntryVcpu`.
pub trait ReflectVcpu: EntryVcpu + L0ExceptionState {
    /// L1's CPUID has SGX (asked only for ENCLS exits).
    fn guest_has_sgx(&mut self) -> bool;
    /// `reflect::l1_wants_exit` with vmcs12 and L1 memory; false without
    /// a vmcs12.
    fn l1_wants_exit(&mut self, exit: &Exit) -> bool;
    /// The tracepoint `kvm_nested_vmexit`.
    fn trace_vmexit(&mut self);
    /// A hardware VMfail of vmcs02, traced with its VM-instruction error.
    fn trace_hw_vmfail(&mut self, error: u32);
    /// Counts an exit from L2 by basic reason.
    fn count_exit(&mut self, reason: u16) {
        crate::nested::counters::count_exit(reason)
    }
    /// L2's VMCALL is a Hyper-V TLB flush L0 handles itself (direct flush
    /// of an eVMCS L1, `crate::evmcs::hv::l0_handles_vmcall`).
    fn l0_handles_vmcall(&mut self) -> bool {
        false
    }
    /// `vmx_get_intr_info()`: VM_EXIT_INTR_INFO (KVM reads it once per
    /// exit and caches it for its own handlers).
    fn exit_intr_info(&mut self) -> u32 {
        self.vmread(e::VM_EXIT_INTR_INFO) as u32
    }
    /// `vmx_get_exit_qual()`: EXIT_QUALIFICATION, likewise cached.
    fn exit_qual(&mut self) -> u64 {
        self.vmread(e::EXIT_QUALIFICATION)
    }
}

/// KVM's `nested_vmx_l0_wants_exit()`: exits L0 handles itself, whatever
/// L1 asked for.
/// Only an exception or NMI reads the interruption information, as there.
pub fn l0_wants_exit(k: &mut impl ReflectVcpu, reason: u16) -> bool {
    match reason {
        r::EXCEPTION_NMI => {
            let info = k.exit_intr_info();
            reflect::l0_wants_exception(info, k)
        }
        r::EXTERNAL_INTERRUPT
        | r::MCE_DURING_VMENTRY
        | r::EPT_VIOLATION
        | r::EPT_MISCONFIG
        | r::PREEMPTION_TIMER
        | r::PML_FULL
        | r::VMFUNC
        | r::BUS_LOCK => true,
        r::VMCALL => k.l0_handles_vmcall(),
        _ => false,
    }
}

/// KVM's `nested_vmx_reflect_vmexit()`: true if the exit went to L1.
pub fn reflect_vmexit(k: &mut impl ReflectVcpu) -> bool {
    let full = k.exit_reason_full();
    if k.hw_vmfail() {
        // A late VMfail of vmcs02: reported to L1 like a VM exit.
        k.count(Stat::EntryFailure);
        let err = k.vmread(e::VM_INSTRUCTION_ERROR) as u32;
        k.trace_hw_vmfail(err);
        vmexit::nested_vmx_vmexit(k, Some((full, 0, 0)));
        return true;
    }
    k.trace_vmexit();
    let reason = (full & 0xffff) as u16;
    k.count_exit(reason);
    if l0_wants_exit(k, reason) {
        return false;
    }
    // The interruption information only where L1's decision looks at it
    // (an exception or NMI, already read by `l0_wants_exit`), else after
    // the decision, for the nested exit: as nested.c, so an exit L0 keeps
    // (an I/O port L1 does not intercept, say) costs no VMREAD of it.
    let decision_info = if reason == r::EXCEPTION_NMI {
        k.exit_intr_info()
    } else {
        0
    };
    let qualification = k.exit_qual();
    let exit = if reason < 64 && (NEEDS_INPUTS >> reason) & 1 != 0 {
        exit_with_inputs(k, reason, qualification, decision_info)
    } else {
        Exit {
            reason,
            qualification,
            intr_info: decision_info,
            ..Exit::default()
        }
    };
    if !k.l1_wants_exit(&exit) {
        return false;
    }
    let info = k.exit_intr_info();
    let both = intr_info::VALID | intr_info::DELIVER_CODE;
    if info & both == both {
        let code = k.vmread(e::VM_EXIT_INTR_ERROR_CODE) as u32;
        if let Some(v12) = k.vmcs12() {
            v12.vm_exit_intr_error_code = code;
        }
    }
    k.count(Stat::Reflected);
    vmexit::nested_vmx_vmexit(k, Some((full, info, qualification)));
    true
}

/// The reasons whose decision reads more than the qualification and the
/// interruption information (all below 64): one test for the others.
const NEEDS_INPUTS: u64 = 1 << r::CR_ACCESS
    | 1 << r::VMREAD
    | 1 << r::VMWRITE
    | 1 << r::MSR_READ
    | 1 << r::MSR_WRITE
    | 1 << r::ENCLS;

/// The exit with the registers (and CPUID bit) its decision reads.
fn exit_with_inputs(
    k: &mut impl ReflectVcpu,
    reason: u16,
    qualification: u64,
    decision_info: u32,
) -> Exit {
    let operand = match reason {
        r::CR_ACCESS => k.gpr(((qualification >> 8) & 0xf) as u8),
        r::VMREAD | r::VMWRITE => {
            let i = k.vmread(e::VMX_INSTRUCTION_INFO) as u32;
            k.gpr(((i >> 28) & 0xf) as u8)
        }
        _ => 0,
    };
    Exit {
        reason,
        qualification,
        intr_info: decision_info,
        // Only the exits that look at them read them, as nested.c's
        // kvm_rcx_read()/kvm_rax_read() (both used as 32-bit values, so
        // the mode's operand size does not matter).
        rcx: if matches!(reason, r::MSR_READ | r::MSR_WRITE) {
            k.gpr(1)
        } else {
            0
        },
        rax: if reason == r::ENCLS { k.gpr(0) } else { 0 },
        operand,
        // Read only for the exit that needs it (a CPUID lookup).
        guest_has_sgx: reason == r::ENCLS && k.guest_has_sgx(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nested::model::Model;
    use crate::vmcs::layout::Vmcs12;

    fn l2(reason: u32) -> Model {
        let mut m = Model::in_l2(Vmcs12::default());
        m.ev.exit_reason = reason;
        m
    }

    /// Every byte of L1 memory reads as `0` (bitmaps clear) or `!0`.
    struct Fill(u8);
    impl reflect::L1Memory for Fill {
        fn read_u8(&mut self, _gpa: u64) -> Option<u8> {
            Some(self.0)
        }
    }

    /// The reasons left out of NEEDS_INPUTS decide the same whatever the
    /// registers and the CPUID bit they would have carried.
    #[test]
    fn needs_inputs_covers_every_decision_that_reads_them() {
        let configs = [
            Vmcs12::default(),
            Vmcs12 {
                pin_based_vm_exec_control: !0,
                cpu_based_vm_exec_control: !0,
                secondary_vm_exec_control: !0,
                exception_bitmap: !0,
                encls_exiting_bitmap: !0,
                cr0_guest_host_mask: !0,
                cr4_guest_host_mask: !0,
                cr3_target_count: 0,
                ..Vmcs12::default()
            },
        ];
        // Qualifications: MOV to CR0, CR3, CR4 and CR8 (the CR-access
        // decisions that read the operand), MOV from CR3, CLTS, LMSW.
        let quals = [0x0, 0x3, 0x4, 0x8, 0x13, 0x20, 0x1234_5678];
        for reason in 0..256u16 {
            if reason < 64 && (NEEDS_INPUTS >> reason) & 1 != 0 {
                continue;
            }
            for v in &configs {
                for qualification in quals {
                    for fill in [0, !0] {
                        let plain = Exit {
                            reason,
                            qualification,
                            ..Exit::default()
                        };
                        let loaded = Exit {
                            rcx: !0,
                            rax: !0,
                            operand: !0,
                            guest_has_sgx: true,
                            ..plain
                        };
                        assert_eq!(
                            reflect::l1_wants_exit(v, &plain, &mut Fill(fill)),
                            reflect::l1_wants_exit(v, &loaded, &mut Fill(fill)),
                            "reason {reason}, qualification {qualification:#x}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn l0_keeps_its_exits() {
        let mut m = l2(u32::from(r::EXTERNAL_INTERRUPT));
        m.ev.l1_wants = true;
        assert!(!reflect_vmexit(&mut m));
        assert!(m.ev.asked.is_none(), "vmcs12 not consulted");
        assert_eq!(m.ev.exits_counted, [r::EXTERNAL_INTERRUPT]);
    }

    #[test]
    fn l1_decides_and_gets_the_exit_information() {
        let mut m = l2(u32::from(r::CR_ACCESS));
        m.vmcs02.insert(e::EXIT_QUALIFICATION.value(), 0x310);
        assert!(!reflect_vmexit(&mut m));
        let asked = m.ev.asked.unwrap_or_default();
        assert_eq!(
            (asked.operand, asked.rcx, asked.rax),
            (0x300, 0, 0),
            "MOV CR from R3: RCX and RAX not read"
        );
        // RCX for MSR exits (the MSR bitmap), RAX for ENCLS (its bitmap).
        let mut m = l2(u32::from(r::MSR_READ));
        assert!(!reflect_vmexit(&mut m));
        let asked = m.ev.asked.unwrap_or_default();
        assert_eq!((asked.rcx, asked.rax), (0x100, 0));
        let mut m = l2(u32::from(r::ENCLS));
        m.gprs[0] = 5;
        assert!(!reflect_vmexit(&mut m));
        let asked = m.ev.asked.unwrap_or_default();
        assert_eq!((asked.rcx, asked.rax), (0, 5));
        let mut m = l2(u32::from(r::EXCEPTION_NMI));
        let info = intr_info::VALID | intr_info::DELIVER_CODE | intr_info::TYPE_HARD_EXCEPTION | 13;
        m.vmcs02
            .insert(e::VM_EXIT_INTR_INFO.value(), u64::from(info));
        m.vmcs02.insert(e::VM_EXIT_INTR_ERROR_CODE.value(), 0x18);
        m.ev.l1_wants = true;
        assert!(reflect_vmexit(&mut m));
        let v = m.vmcs12.unwrap_or_default();
        assert_eq!(({ v.vm_exit_reason }, { v.vm_exit_intr_info }), (0, info));
        assert_eq!({ v.vm_exit_intr_error_code }, 0x18);
        assert!(m.stats.contains(&Stat::Reflected));
    }

    #[test]
    fn an_exit_l0_keeps_reads_no_interruption_information() {
        // As nested.c: an I/O exit L1 does not intercept is decided on
        // its qualification alone (vmx_get_intr_info() is not called).
        let mut m = l2(u32::from(r::IO_INSTRUCTION));
        assert!(!reflect_vmexit(&mut m));
        assert_eq!(m.ev.intr_info_reads, 0);
        assert_eq!(m.ev.asked.map(|a| a.intr_info), Some(0));
        // Reflected, the nested exit reports it.
        let mut m = l2(u32::from(r::IO_INSTRUCTION));
        m.vmcs02.insert(e::VM_EXIT_INTR_INFO.value(), 0x1234);
        m.ev.l1_wants = true;
        assert!(reflect_vmexit(&mut m));
        assert_eq!(m.ev.intr_info_reads, 1);
        assert_eq!({ m.vmcs12.unwrap_or_default().vm_exit_intr_info }, 0x1234);
        // An exception: read for the decision (once: KVM caches it).
        let mut m = l2(u32::from(r::EXCEPTION_NMI));
        m.vmcs02.insert(
            e::VM_EXIT_INTR_INFO.value(),
            u64::from(intr_info::VALID | 6),
        );
        assert!(!reflect_vmexit(&mut m));
        assert_eq!(m.ev.asked.map(|a| a.intr_info), Some(intr_info::VALID | 6));
    }

    #[test]
    fn late_vmfail_goes_to_l1() {
        let mut m = l2(0x8000_0021);
        m.hw_fail = true;
        m.vmcs02.insert(e::VM_INSTRUCTION_ERROR.value(), 7);
        assert!(reflect_vmexit(&mut m));
        assert_eq!(m.ev.hw_vmfail_error, Some(7));
        assert_eq!(m.stats[0], Stat::EntryFailure);
        assert!(m.ev.exits_counted.is_empty());
    }
}
