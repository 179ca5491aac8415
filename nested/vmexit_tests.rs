// SPDX-License-Identifier: GPL-2.0

//! Tests of `vmexit.rs`.

use super::*;
use crate::nested::events::Exception;
use crate::nested::model::{Call, Model};
use crate::nested::vcpu::Injected;
use crate::nested::vcpu::{ExceptionVmexit, Request};
use crate::vmcs::layout::Vmcs12;

fn secondary(v: &mut Vmcs12, s: Secondary) {
    v.cpu_based_vm_exec_control |= CpuBased::ACTIVATE_SECONDARY_CONTROLS.bits();
    v.secondary_vm_exec_control |= s.bits();
}

#[test]
fn sync_composes_crs_and_saves_what_vmcs12_asks() {
    let mut v = Vmcs12 {
        guest_cr0: 0xf0,
        cr0_guest_host_mask: 0x0f,
        ..Vmcs12::default()
    };
    v.guest_cr0 |= 0x05;
    v.vm_exit_controls =
        (ExitControls::SAVE_IA32_EFER | ExitControls::SAVE_VMX_PREEMPTION_TIMER).bits();
    v.pin_based_vm_exec_control = PinBased::VMX_PREEMPTION_TIMER.bits();
    v.vm_entry_controls = EntryControls::IA32E_MODE.bits();
    v.guest_dr7 = 0x11;
    let mut m = Model::in_l2(v);
    m.vmcs02.insert(e::GUEST_CR0.value(), 0x300);
    m.vmcs02.insert(e::CR0_READ_SHADOW.value(), 0xa00);
    m.vmcs02.insert(e::GUEST_RFLAGS.value(), 0x202);
    m.cr0_owned = 0x100;
    m.rsp = 0x1000;
    m.rip = 0x2000;
    m.efer = 0x500;
    m.dr7 = 0x400;
    m.timer_left = 77;
    m.mp = Some(MpState::Halted);
    sync_vmcs02_to_vmcs12(&mut m);
    let v = m.vmcs12.unwrap();
    // L0's bit from vmcs02, L1's from vmcs12, the rest from the shadow.
    assert_eq!({ v.guest_cr0 }, 0x100 | 0x05 | 0xa00);
    assert_eq!(
        (v.guest_rsp, v.guest_rip, v.guest_rflags),
        (0x1000, 0x2000, 0x202)
    );
    assert_eq!({ v.guest_activity_state }, activity::HLT);
    assert_eq!({ v.vmx_preemption_timer_value }, 77);
    assert_eq!({ v.guest_ia32_efer }, 0x500);
    assert_eq!({ v.guest_dr7 }, 0x11, "no \"save debug controls\"");
    assert_eq!(
        v.vm_entry_controls & EntryControls::IA32E_MODE.bits(),
        0,
        "vmcs02's IA-32e bit"
    );
    assert!(m.need_rare_sync);
}

#[test]
fn sync_reads_only_fields_vmcs02_has() {
    let v = Vmcs12 {
        pin_based_vm_exec_control: PinBased::VMX_PREEMPTION_TIMER.bits(),
        vm_exit_controls: ExitControls::SAVE_VMX_PREEMPTION_TIMER.bits(),
        guest_pdptr0: 9,
        guest_intr_status: 3,
        vmx_preemption_timer_value: 5,
        ..Vmcs12::default()
    };
    let mut m = Model::in_l2(v);
    m.vmcs02.insert(e::GUEST_PDPTR0.value(), 1);
    m.vmcs02.insert(e::GUEST_INTR_STATUS.value(), 1);
    m.pae = true;
    m.ept = true;
    // The entry is still pending: the timer value is vmcs12's own.
    m.run_pending = true;
    sync_vmcs02_to_vmcs12(&mut m);
    let v = m.vmcs12.unwrap();
    assert_eq!(
        (
            v.guest_pdptr0,
            v.guest_intr_status,
            v.vmx_preemption_timer_value
        ),
        (9, 3, 5)
    );
    // With nested EPT and virtual-interrupt delivery they are read.
    let mut v = Vmcs12::default();
    secondary(
        &mut v,
        Secondary::ENABLE_EPT | Secondary::VIRTUAL_INTR_DELIVERY,
    );
    let mut m2 = Model::in_l2(v);
    m2.vmcs02 = m.vmcs02.clone();
    m2.pae = true;
    m2.ept = true;
    sync_vmcs02_to_vmcs12(&mut m2);
    let v = m2.vmcs12.unwrap();
    assert_eq!((v.guest_pdptr0, v.guest_intr_status), (1, 1));
}

#[test]
fn prepare_vmcs12_reports_the_exit_and_saves_the_event() {
    let v = Vmcs12 {
        vm_entry_intr_info_field: intr_info::VALID | 3,
        ..Vmcs12::default()
    };
    let mut m = Model::in_l2(v);
    m.enclave = 1 << 27;
    m.injected = Some(Injected {
        exception: Some(Exception {
            vector: 14,
            error_code: Some(2),
        }),
        ..Injected::default()
    });
    m.vmcs02.insert(e::VM_EXIT_INSTRUCTION_LEN.value(), 3);
    prepare_vmcs12(&mut m, 48, 0, 0x81);
    let v = m.vmcs12.unwrap();
    assert_eq!(
        (v.vm_exit_reason, v.exit_qualification),
        (48 | 1 << 27, 0x81)
    );
    assert_eq!({ v.launch_state }, 1);
    assert_eq!(v.vm_entry_intr_info_field & intr_info::VALID, 0);
    assert_eq!(
        { v.idt_vectoring_info_field },
        intr_info::VALID | intr_info::DELIVER_CODE | intr_info::TYPE_HARD_EXCEPTION | 14
    );
    assert_eq!(
        (v.idt_vectoring_error_code, v.vm_exit_instruction_len),
        (2, 3)
    );
}

#[test]
fn failed_entry_reports_only_reason_and_qualification() {
    let mut m = Model::in_l2(Vmcs12::default());
    prepare_vmcs12(&mut m, EXIT_REASON_FAILED_VMENTRY | 33, 0, 4);
    let v = m.vmcs12.unwrap();
    assert_eq!(
        (v.vm_exit_reason, v.exit_qualification, v.launch_state),
        (EXIT_REASON_FAILED_VMENTRY | 33, 4, 0)
    );
}

#[test]
fn msr_store_failure_is_a_vmx_abort() {
    let v = Vmcs12 {
        vm_exit_msr_store_addr: 0x1000,
        vm_exit_msr_store_count: 1,
        ..Vmcs12::default()
    };
    let mut m = Model::in_l2(v);
    prepare_vmcs12(&mut m, 10, 0, 0);
    assert_eq!(m.requests, [Request::TripleFault]);
}

#[test]
fn exit_sequence_order() {
    let v = Vmcs12 {
        cpu_based_vm_exec_control: CpuBased::USE_TSC_OFFSETTING.bits(),
        ..Vmcs12::default()
    };
    let mut m = Model::in_l2(v);
    m.shadow = true;
    m.l1_tsc = (5, 6);
    m.tsc = (50, 60);
    m.tpr_threshold = 4;
    m.deferred = std::vec![Deferred::HwapicIsr, Deferred::VirtualApicMode];
    nested_vmx_vmexit(&mut m, Some((10, 0, 0)));
    assert_eq!(
        m.tsc,
        (5, 60),
        "the offset is L1's; the ratio only with scaling"
    );
    let pos = |c: Call| m.calls.iter().position(|&x| x == c).unwrap();
    assert!(pos(Call::LeaveGuestMode) < pos(Call::SwitchVmcs(false)));
    assert!(pos(Call::FlushShadow) < pos(Call::SwitchVmcs(false)));
    assert!(pos(Call::Apply(Deferred::VirtualApicMode)) < pos(Call::UnmapPages));
    assert!(pos(Call::UnmapPages) < pos(Call::Apply(Deferred::HwapicIsr)));
    assert!(pos(Call::TraceInject) < pos(Call::Segment(crate::nested::vcpu::Sreg::Cs, 0)));
    assert_eq!(m.field(false, e::TSC_OFFSET), Some(5));
    assert_eq!(m.field(false, e::TPR_THRESHOLD), Some(4));
    assert!(m.need_shadow_sync && m.deferred.is_empty());
    assert_eq!(m.mp, Some(MpState::Runnable));
    assert_eq!(m.stats, [Stat::L2Exit]);
}

#[test]
fn forced_exit_tells_l1_nothing() {
    let mut m = Model::in_l2(Vmcs12::default());
    m.shadow = true;
    nested_vmx_vmexit(&mut m, None);
    assert!(!m.need_shadow_sync);
    assert!(!m.calls.contains(&Call::TraceInject));
    assert_eq!({ m.vmcs12.unwrap().vm_exit_reason }, 0);
    assert!(
        m.calls.contains(&Call::EmulationRequired),
        "L1's state is loaded"
    );
}

#[test]
fn late_vmfail_restores_l1_with_vmfailvalid() {
    let mut m = Model::in_l2(Vmcs12::default());
    m.hw_fail = true;
    m.rip = 0x1234;
    nested_vmx_vmexit(&mut m, Some((EXIT_REASON_FAILED_VMENTRY | 33, 0, 0)));
    let fail = Outcome::VmFailValid(VmInstructionError::EntryInvalidControlField);
    assert!(m.calls.contains(&Call::Complete(fail)));
    assert_eq!(m.restored_cr3, Some(0), "L1's CR3 from vmcs01");
    assert!(!m.hw_fail);
    assert!(!m.need_rare_sync, "vmcs12 is not synced");
    assert_eq!(m.rip, 0x1234, "no host state from vmcs12");
    assert_eq!(m.stats, [Stat::L2Exit, Stat::L2EntryRefused]);
}

#[test]
fn exception_exit_information() {
    let pf = ExceptionVmexit {
        vector: 14,
        error_code: Some(0x1_0005),
        payload: None,
    };
    let (info, qual, code) = exception_exit(&pf, 0xdead, 0, true, false);
    assert_eq!(
        info,
        intr_info::VALID | intr_info::DELIVER_CODE | intr_info::TYPE_HARD_EXCEPTION | 14
    );
    assert_eq!((qual, code), (0xdead, Some(5)));
    // Real mode: no error code.
    assert_eq!(exception_exit(&pf, 0, 0, false, false).2, None);
    let db = ExceptionVmexit {
        vector: 1,
        ..ExceptionVmexit::default()
    };
    assert_eq!(
        exception_exit(&db, 0, 0xffff_4ff0 | DR6_BT, true, false).1,
        0x4000
    );
    let with_payload = ExceptionVmexit {
        payload: Some(7),
        ..db
    };
    assert_eq!(exception_exit(&with_payload, 0, 0, true, false).1, 7);
    let bp = ExceptionVmexit {
        vector: 3,
        ..ExceptionVmexit::default()
    };
    let (info, _, _) = exception_exit(&bp, 0, 0, true, true);
    assert_eq!(
        info,
        intr_info::VALID | intr_info::TYPE_SOFT_EXCEPTION | INTR_INFO_UNBLOCK_NMI | 3
    );
}

#[test]
fn reflected_exception_goes_through_the_exit() {
    let mut m = Model::in_l2(Vmcs12::default());
    m.exception = ExceptionVmexit {
        vector: 13,
        error_code: Some(8),
        payload: None,
    };
    m.cr0 = 1;
    m.nmi_masked = true;
    inject_exception_vmexit(&mut m);
    let v = m.vmcs12.unwrap();
    assert_eq!({ v.vm_exit_reason }, 0);
    assert_eq!({ v.vm_exit_intr_error_code }, 8);
    assert_eq!(
        v.vm_exit_intr_info & INTR_INFO_UNBLOCK_NMI,
        INTR_INFO_UNBLOCK_NMI
    );
}
