// SPDX-License-Identifier: GPL-2.0

//! Tests of `reflect.rs`.

use super::*;
use std::collections::HashMap;

struct Mem(HashMap<u64, u8>);

impl L1Memory for Mem {
    fn read_u8(&mut self, gpa: u64) -> Option<u8> {
        self.0.get(&gpa).copied()
    }
}

fn mem() -> Mem {
    Mem(HashMap::new())
}

fn vmcs(cpu: CpuBased, sec: Secondary) -> Vmcs12 {
    let mut v = Vmcs12::zeroed();
    v.cpu_based_vm_exec_control = (cpu | CpuBased::ACTIVATE_SECONDARY_CONTROLS).bits();
    v.secondary_vm_exec_control = sec.bits();
    v
}

fn exit(reason: u16) -> Exit {
    Exit {
        reason,
        ..Exit::default()
    }
}

#[test]
fn control_gated_exits() {
    for (reason, cpu, sec) in [
        (r::HLT, CpuBased::HLT_EXITING, Secondary::EMPTY),
        (r::INVLPG, CpuBased::INVLPG_EXITING, Secondary::EMPTY),
        (r::RDTSC, CpuBased::RDTSC_EXITING, Secondary::EMPTY),
        (r::RDTSCP, CpuBased::RDTSC_EXITING, Secondary::EMPTY),
        (r::RDPMC, CpuBased::RDPMC_EXITING, Secondary::EMPTY),
        (r::DR_ACCESS, CpuBased::MOV_DR_EXITING, Secondary::EMPTY),
        (
            r::MWAIT_INSTRUCTION,
            CpuBased::MWAIT_EXITING,
            Secondary::EMPTY,
        ),
        (
            r::MONITOR_INSTRUCTION,
            CpuBased::MONITOR_EXITING,
            Secondary::EMPTY,
        ),
        (
            r::INTERRUPT_WINDOW,
            CpuBased::INTR_WINDOW_EXITING,
            Secondary::EMPTY,
        ),
        (
            r::NMI_WINDOW,
            CpuBased::NMI_WINDOW_EXITING,
            Secondary::EMPTY,
        ),
        (
            r::TPR_BELOW_THRESHOLD,
            CpuBased::TPR_SHADOW,
            Secondary::EMPTY,
        ),
        (r::RDRAND, CpuBased::EMPTY, Secondary::RDRAND_EXITING),
        (r::RDSEED, CpuBased::EMPTY, Secondary::RDSEED_EXITING),
        (r::WBINVD, CpuBased::EMPTY, Secondary::WBINVD_EXITING),
        (r::GDTR_IDTR, CpuBased::EMPTY, Secondary::DESC),
        (r::LDTR_TR, CpuBased::EMPTY, Secondary::DESC),
        (
            r::PAUSE_INSTRUCTION,
            CpuBased::PAUSE_EXITING,
            Secondary::EMPTY,
        ),
        (
            r::PAUSE_INSTRUCTION,
            CpuBased::EMPTY,
            Secondary::PAUSE_LOOP_EXITING,
        ),
        (r::XSAVES, CpuBased::EMPTY, Secondary::ENABLE_XSAVES),
        (r::UMWAIT, CpuBased::EMPTY, Secondary::ENABLE_USR_WAIT_PAUSE),
        (
            r::INVPCID,
            CpuBased::INVLPG_EXITING,
            Secondary::ENABLE_INVPCID,
        ),
    ] {
        assert!(
            !l1_wants_exit(
                &vmcs(CpuBased::EMPTY, Secondary::EMPTY),
                &exit(reason),
                &mut mem()
            ),
            "{reason}"
        );
        assert!(
            l1_wants_exit(&vmcs(cpu, sec), &exit(reason), &mut mem()),
            "{reason}"
        );
    }
}

#[test]
fn secondary_controls_need_activation() {
    let mut v = vmcs(CpuBased::EMPTY, Secondary::WBINVD_EXITING);
    v.cpu_based_vm_exec_control = 0;
    assert!(!l1_wants_exit(&v, &exit(r::WBINVD), &mut mem()));
}

#[test]
fn unconditional_exits() {
    let v = vmcs(CpuBased::EMPTY, Secondary::EMPTY);
    for reason in [
        r::TRIPLE_FAULT,
        r::TASK_SWITCH,
        r::CPUID,
        r::INVD,
        r::XSETBV,
        r::INVALID_STATE,
        r::MCE_DURING_VMENTRY,
        r::APIC_ACCESS,
        r::APIC_WRITE,
        r::EOI_INDUCED,
        r::VMCALL,
        r::VMCLEAR,
        r::VMLAUNCH,
        r::VMPTRLD,
        r::VMPTRST,
        r::VMRESUME,
        r::VMOFF,
        r::VMON,
        r::INVEPT,
        r::INVVPID,
        r::VMFUNC,
        r::EPT_VIOLATION,
        r::PREEMPTION_TIMER,
    ] {
        assert!(l1_wants_exit(&v, &exit(reason), &mut mem()), "{reason}");
    }
    assert!(!l1_wants_exit(&v, &exit(r::NOTIFY), &mut mem()));
}

#[test]
fn exceptions_and_nmis() {
    let mut v = vmcs(CpuBased::EMPTY, Secondary::EMPTY);
    let e = |info| Exit {
        reason: r::EXCEPTION_NMI,
        intr_info: info,
        ..Exit::default()
    };
    assert!(l1_wants_exit(
        &v,
        &e(intr_info::VALID | intr_info::TYPE_NMI | 2),
        &mut mem()
    ));
    assert!(l1_wants_exit(
        &v,
        &e(intr_info::VALID | intr_info::TYPE_HARD_EXCEPTION | 14),
        &mut mem()
    ));
    assert!(!l1_wants_exit(
        &v,
        &e(intr_info::VALID | intr_info::TYPE_HARD_EXCEPTION | 6),
        &mut mem()
    ));
    v.exception_bitmap = 1 << 6;
    assert!(l1_wants_exit(
        &v,
        &e(intr_info::VALID | intr_info::TYPE_HARD_EXCEPTION | 6),
        &mut mem()
    ));
    assert!(is_exception_vmexit(&v, 6, 0));
    assert!(!is_exception_vmexit(&v, 13, 0));
    assert!(!is_exception_vmexit(&v, 200, 0));
}

#[test]
fn page_fault_mask_and_match() {
    let mut v = vmcs(CpuBased::EMPTY, Secondary::EMPTY);
    v.exception_bitmap = 1 << 14;
    v.page_fault_error_code_mask = 0x1;
    v.page_fault_error_code_match = 0x1;
    assert!(is_page_fault_vmexit(&v, 0x3), "match: bitmap bit applies");
    assert!(!is_page_fault_vmexit(&v, 0x2), "mismatch: inverted");
    v.exception_bitmap = 0;
    assert!(is_page_fault_vmexit(&v, 0x2));
}

#[test]
fn external_interrupts_follow_pin_controls() {
    let mut v = vmcs(CpuBased::EMPTY, Secondary::EMPTY);
    assert!(!l1_wants_exit(&v, &exit(r::EXTERNAL_INTERRUPT), &mut mem()));
    v.pin_based_vm_exec_control = PinBased::EXT_INTR_MASK.bits();
    assert!(l1_wants_exit(&v, &exit(r::EXTERNAL_INTERRUPT), &mut mem()));
}

#[test]
fn io_bitmaps() {
    let mut v = vmcs(CpuBased::USE_IO_BITMAPS, Secondary::EMPTY);
    v.io_bitmap_a = 0x1000;
    v.io_bitmap_b = 0x2000;
    let mut m = mem();
    for gpa in 0x1000..0x3000 {
        m.0.insert(gpa, 0);
    }
    m.0.insert(0x1000 + 0x80 / 8, 1 << 0); // port 0x80
    m.0.insert(0x2000 + 0x10 / 8, 1 << 0); // port 0x8010
    let io = |port: u64, size: u64| Exit {
        reason: r::IO_INSTRUCTION,
        qualification: (port << 16) | (size - 1),
        ..Exit::default()
    };
    assert!(l1_wants_exit(&v, &io(0x80, 1), &mut m));
    assert!(!l1_wants_exit(&v, &io(0x81, 1), &mut m));
    assert!(
        l1_wants_exit(&v, &io(0x7e, 4), &mut m),
        "a wide access covering 0x80"
    );
    assert!(l1_wants_exit(&v, &io(0x8010, 1), &mut m));
    assert!(l1_wants_exit(&v, &io(0xfffe, 4), &mut m), "past 0xffff");
    m.0.remove(&(0x1000 + 0x200 / 8));
    assert!(
        l1_wants_exit(&v, &io(0x200, 1), &mut m),
        "unreadable bitmap"
    );
    let v = vmcs(CpuBased::UNCOND_IO_EXITING, Secondary::EMPTY);
    assert!(l1_wants_exit(&v, &io(0x81, 1), &mut m));
    let v = vmcs(CpuBased::EMPTY, Secondary::EMPTY);
    assert!(!l1_wants_exit(&v, &io(0x81, 1), &mut m));
}

#[test]
fn msr_bitmaps() {
    let mut v = vmcs(CpuBased::USE_MSR_BITMAPS, Secondary::EMPTY);
    v.msr_bitmap = 0x4000;
    let mut m = mem();
    for gpa in 0x4000..0x5000 {
        m.0.insert(gpa, 0);
    }
    m.0.insert(0x4000 + 0x10 / 8, 1 << (0x10 % 8)); // read TSC
    m.0.insert(0x4000 + 1024 + 0x80 / 8, 1); // read 0xc0000080 (EFER)
    m.0.insert(0x4000 + 2048 + 0x1b / 8, 1 << (0x1b % 8)); // write APIC_BASE
    let msr = |write: bool, rcx: u64| Exit {
        reason: if write { r::MSR_WRITE } else { r::MSR_READ },
        rcx,
        ..Exit::default()
    };
    assert!(l1_wants_exit(&v, &msr(false, 0x10), &mut m));
    assert!(!l1_wants_exit(&v, &msr(true, 0x10), &mut m));
    assert!(l1_wants_exit(&v, &msr(false, 0xc000_0080), &mut m));
    assert!(l1_wants_exit(&v, &msr(true, 0x1b), &mut m));
    assert!(
        l1_wants_exit(&v, &msr(false, 0x4000_0000), &mut m),
        "outside both ranges"
    );
    let v = vmcs(CpuBased::EMPTY, Secondary::EMPTY);
    assert!(
        l1_wants_exit(&v, &msr(false, 0x11), &mut m),
        "no bitmap: every MSR exits"
    );
}

#[test]
fn cr_accesses() {
    let mut v = vmcs(CpuBased::EMPTY, Secondary::EMPTY);
    v.cr0_guest_host_mask = 1 << 0;
    v.cr0_read_shadow = 1;
    let cr = |q: u64, operand: u64| Exit {
        reason: r::CR_ACCESS,
        qualification: q,
        operand,
        ..Exit::default()
    };
    assert!(
        !l1_wants_exit(&v, &cr(0, 1), &mut mem()),
        "mov to cr0 keeping the owned bit"
    );
    assert!(
        l1_wants_exit(&v, &cr(0, 0), &mut mem()),
        "mov to cr0 changing it"
    );
    assert!(!l1_wants_exit(&v, &cr(3, 0), &mut mem()));
    assert!(!l1_wants_exit(&v, &cr(0x13, 0), &mut mem()), "mov from cr3");
    v.cpu_based_vm_exec_control |=
        (CpuBased::CR3_LOAD_EXITING | CpuBased::CR8_STORE_EXITING).bits();
    assert!(l1_wants_exit(&v, &cr(3, 0), &mut mem()));
    assert!(l1_wants_exit(&v, &cr(0x18, 0), &mut mem()), "mov from cr8");
    assert!(
        !l1_wants_exit(&v, &cr(0x20, 0), &mut mem()),
        "clts, TS not owned"
    );
    v.cr0_guest_host_mask |= cr0::TS;
    v.cr0_read_shadow |= cr0::TS;
    assert!(
        l1_wants_exit(&v, &cr(0x20, 0), &mut mem()),
        "clts, TS owned and set"
    );
    // LMSW setting PE while L1 owns it with shadow 0.
    v.cr0_read_shadow = 0;
    v.cr0_guest_host_mask = 1;
    assert!(l1_wants_exit(&v, &cr(0x30 | (1 << 16), 0), &mut mem()));
    assert!(!l1_wants_exit(&v, &cr(0x30, 0), &mut mem()));
    v.cr4_guest_host_mask = 1 << 13;
    v.cr4_read_shadow = 1 << 13;
    assert!(l1_wants_exit(&v, &cr(4, 0), &mut mem()));
    assert!(!l1_wants_exit(&v, &cr(4, 1 << 13), &mut mem()));
}

#[test]
fn vmread_vmwrite_from_l2() {
    let mut v = vmcs(CpuBased::EMPTY, Secondary::SHADOW_VMCS);
    v.vmread_bitmap = 0x6000;
    v.vmwrite_bitmap = 0x7000;
    let mut m = mem();
    m.0.insert(0x6000 + 0x681e / 8, 0);
    m.0.insert(0x7000 + 0x681e / 8, 1 << (0x681e % 8));
    let acc = |reason, field| Exit {
        reason,
        operand: field,
        ..Exit::default()
    };
    assert!(!l1_wants_exit(&v, &acc(r::VMREAD, 0x681e), &mut m));
    assert!(l1_wants_exit(&v, &acc(r::VMWRITE, 0x681e), &mut m));
    assert!(
        l1_wants_exit(&v, &acc(r::VMREAD, 0x8000), &mut m),
        "out of range"
    );
    assert!(
        l1_wants_exit(&v, &acc(r::VMREAD, 0x0800), &mut m),
        "unreadable bitmap"
    );
    let v = vmcs(CpuBased::EMPTY, Secondary::EMPTY);
    assert!(
        l1_wants_exit(&v, &acc(r::VMREAD, 0x681e), &mut m),
        "no shadowing"
    );
}

#[test]
fn mtf_and_encls() {
    let mut v = vmcs(CpuBased::EMPTY, Secondary::EMPTY);
    assert!(!l1_wants_exit(&v, &exit(r::MONITOR_TRAP_FLAG), &mut mem()));
    v.vm_entry_intr_info_field = intr_info::VALID | intr_info::TYPE_OTHER_EVENT;
    assert!(l1_wants_exit(&v, &exit(r::MONITOR_TRAP_FLAG), &mut mem()));
    let mut v = vmcs(CpuBased::EMPTY, Secondary::ENCLS_EXITING);
    v.encls_exiting_bitmap = 1 << 63;
    let e = |rax, sgx| Exit {
        reason: r::ENCLS,
        rax,
        guest_has_sgx: sgx,
        ..Exit::default()
    };
    assert!(
        l1_wants_exit(&v, &e(1000, true), &mut mem()),
        "leaves above 62 use bit 63"
    );
    assert!(!l1_wants_exit(&v, &e(1, true), &mut mem()));
    assert!(!l1_wants_exit(&v, &e(1000, false), &mut mem()));
    // The leaf is EAX: RAX's upper half does not make it 63.
    v.encls_exiting_bitmap = 1 << 1;
    assert!(l1_wants_exit(&v, &e(0x1_0000_0001, true), &mut mem()));
    assert!(!l1_wants_exit(&v, &e(0x1_0000_0002, true), &mut mem()));
}
struct L0 {
    dbg: u32,
    pf: bool,
    ac: bool,
}

impl L0ExceptionState for L0 {
    fn guest_debug(&self) -> u32 {
        self.dbg
    }
    fn l0_handles_page_faults(&mut self) -> bool {
        self.pf
    }
    fn guest_takes_ac(&mut self) -> bool {
        self.ac
    }
}

#[test]
fn l0_takes_nmis_its_page_faults_debug_events_and_ve() {
    let hard = |v: u32| intr_info::VALID | intr_info::TYPE_HARD_EXCEPTION | v;
    let soft = |v: u32| intr_info::VALID | intr_info::TYPE_SOFT_EXCEPTION | v;
    let mut s = L0 {
        dbg: 0,
        pf: false,
        ac: true,
    };
    assert!(l0_wants_exception(
        intr_info::VALID | intr_info::TYPE_NMI | 2,
        &mut s
    ));
    assert!(!l0_wants_exception(hard(vector::PF), &mut s));
    s.pf = true;
    assert!(l0_wants_exception(hard(vector::PF), &mut s));
    assert!(!l0_wants_exception(hard(vector::DB), &mut s));
    assert!(!l0_wants_exception(hard(vector::AC), &mut s));
    s.ac = false;
    assert!(l0_wants_exception(hard(vector::AC), &mut s));
    assert!(l0_wants_exception(hard(VE_VECTOR), &mut s));
    assert!(!l0_wants_exception(hard(6), &mut s), "#UD");
    s.dbg = guestdbg::USE_HW_BP;
    assert!(l0_wants_exception(hard(vector::DB), &mut s));
    // INT3 is a software exception: L0's software breakpoints take only
    // a hardware #BP, as nested.c's is_breakpoint().
    s.dbg = guestdbg::USE_SW_BP;
    assert!(!l0_wants_exception(soft(vector::BP), &mut s));
    assert!(l0_wants_exception(hard(vector::BP), &mut s));
    // Not valid: nothing.
    assert!(!l0_wants_exception(intr_info::TYPE_NMI | 2, &mut s));
}
