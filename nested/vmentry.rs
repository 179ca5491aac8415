// SPDX-License-Identifier: GPL-2.0

//! A nested VM entry, L1 to L2: KVM's `nested_vmx_run()` (VMLAUNCH and
//! VMRESUME) and `nested_vmx_enter_non_root_mode()` (SDM Vol. 3C 27
//! "VM Entries": the checks of 27.2 fail with VMfailValid, those of 27.3
//! and the MSR loads of 27.4 with a VM-entry failure exit to L1).

use crate::evmcs::vmptrld::Evmptrld;
use crate::nested::entry_vcpu::EntryVcpu;
use crate::nested::host_load;
use crate::nested::insn::{self as rules, Fault, RunState};
use crate::nested::posted_intr::above_ppr;
use crate::nested::prepare02::{self, DEBUGCTL_FREEZE_IN_SMM};
use crate::nested::shadow_vmcs::vmcs12_shadow_gpa;
use crate::nested::vcpu::{MpState, Request, Stat};
use crate::vmcs::checks::guest::activity;
use crate::vmcs::checks::{EntryFailure, EXIT_REASON_FAILED_VMENTRY};
use crate::vmcs::controls::{CpuBased, EntryControls, PinBased};
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::outcome::{Outcome, VmInstructionError};
use crate::vmcs::table::encodings as e;

/// What a nested entry came to (KVM's `enum nvmx_vmentry_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entered {
    /// L2 runs at the next VM entry.
    L2,
    /// A VM-entry failure, already reported to L1 as a VM exit.
    VmExit,
    /// KVM could not build vmcs02 (L1 memory missing): exit to userspace.
    InternalError,
}

/// How far `enter_with` got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// vmcs02 is ready; what remains may write vmcs12.
    Ready(Pending),
    /// A VM-entry failure to report to L1.
    Failed(Failure),
    /// L1 memory vmcs12 names is missing.
    InternalError,
}

/// The rest of an entry, done by `finish_entry` once vmcs12 is no longer
/// read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    /// vmcs12's VM-entry MSR-load list (address, count), on VMLAUNCH/VMRESUME.
    msr_list: Option<(u64, u32)>,
    /// IA32_PERF_GLOBAL_CTRL to load for L2.
    perf_global_ctrl: Option<u64>,
    /// vmcs12's TSC offset, if it applied (undone on failure).
    tsc_offset: Option<u64>,
    evaluate_pending_interrupts: bool,
    /// vmcs12's VMX-preemption timer value, if the timer is active.
    preemption_timer: Option<u32>,
}

/// A VM-entry failure (exit reason, qualification) and what to undo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    reason: u32,
    qual: u64,
    in_guest_mode: bool,
    tsc_offset: Option<u64>,
}

/// Basic exit reasons of VM-entry failures (SDM Appendix C).
const EXIT_REASON_INVALID_STATE: u32 = 33;
const EXIT_REASON_MSR_LOAD_FAIL: u32 = 34;
/// Interruptibility: blocking by MOV SS.
const GUEST_INTR_STATE_MOV_SS: u64 = 1 << 1;
const INTR_INFO_VALID: u32 = 1 << 31;
const RFLAGS_IF: u64 = 1 << 9;

/// The start of `nested_vmx_run()`, before vmcs12 is read: `Err` is the
/// exit handler's value for a fault (SDM 31.3: #UD outside VMX operation,
/// #GP(0) at CPL > 0).
pub fn run_prologue(k: &mut impl EntryVcpu, launch: bool) -> Result<(), i32> {
    let (vmxon, cpl) = (k.vmxon(), k.cpl());
    if let Err(f) = rules::check_permission(vmxon, cpl) {
        return Err(k.fault(f));
    }
    // An eVMCS L1 names its current VMCS in the VP assist page.
    let ev = k.enlightened_vmptrld(launch);
    if ev == Evmptrld::Error {
        return Err(k.fault(Fault::InvalidOpcode));
    }
    k.pmu_branch_retired();
    if ev == Evmptrld::VmFail {
        return Err(k.complete_insn(Outcome::VmFailInvalid));
    }
    if ev == Evmptrld::Succeeded {
        // What L1 wrote to the eVMCS, its clean groups skipped.
        k.evmcs_to_vmcs12(launch);
    } else if k.shadow_vmcs_enabled() && k.has_current_vmcs() {
        // What L1 wrote to the shadow VMCS since its last exit.
        k.shadow_vmcs_to_vmcs12();
    }
    Ok(())
}

/// What the part of VMLAUNCH/VMRESUME that reads vmcs12 came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStart {
    /// The instruction completes with this outcome (a precheck or an SDM
    /// 27.2 check failed).
    Complete(Outcome),
    /// The exit handler returns this errno (-ENOMEM: the shadow vmcs12's
    /// cache could not be allocated); the instruction does not complete.
    Errno(i32),
    /// The entry goes on: how far it got, and L2's activity state.
    Entry {
        /// `enter_with`'s result.
        step: Step,
        /// L2 enters halted (HLT activity state, no event to wake it).
        halted: bool,
        /// L2 enters waiting for a SIPI.
        wait_sipi: bool,
    },
}

/// KVM's `nested_vmx_run()`, the part that reads vmcs12 (`v`, which may be
/// the cached vmcs12 itself): the prechecks, the SDM 27.2 checks, and
/// vmcs02 built by `enter_with`. Nothing here writes vmcs12 or asks for it
/// with `KvmVcpu::vmcs12()`; `run_finish` does what may.
pub fn run_start(k: &mut impl EntryVcpu, v: &Vmcs12, launch: bool) -> RunStart {
    let s = RunState {
        launch,
        has_current_vmcs: k.has_current_vmcs(),
        current_is_shadow: v.hdr.shadow_vmcs(),
        blocked_by_mov_ss: k.vmread(e::GUEST_INTERRUPTIBILITY_INFO) & GUEST_INTR_STATE_MOV_SS != 0,
        launched: v.launch_state != 0,
    };
    if let Err(o) = rules::run_precheck(&s) {
        k.trace_precheck_failed(&o);
        return RunStart::Complete(o);
    }
    // What eVMCS v1 cannot express (part of nested.c's control checks; a
    // failure is VMfailValid as any control check's, so it may come first).
    if k.check_evmcs_controls(v).is_err() {
        k.count(Stat::EntryCheckFail);
        return RunStart::Complete(Outcome::VmFailValid(
            VmInstructionError::EntryInvalidControlField,
        ));
    }
    // SDM 27.2: controls, then host state; each fails with VMfailValid.
    if let Err(check) = k.check_controls_and_host(v) {
        k.count(Stat::EntryCheckFail);
        k.trace_check_failed(check);
        // These checks fail with VMfailValid (the checks' tests tie each
        // check's kind to its stage); the entry never goes on past one.
        let err = match check.failure() {
            EntryFailure::VmFail(err) => err,
            EntryFailure::VmExit { .. } => VmInstructionError::EntryInvalidControlField,
        };
        return RunStart::Complete(Outcome::VmFailValid(err));
    }
    // nested.c allocates the shadow vmcs12's cache at VMXON; here the
    // first entry that needs it does (lifecycle.rs: `CachedShadowVmcs12`),
    // once the checks that fail the instruction have passed. A failure is
    // KVM_RUN's -ENOMEM as VMXON's is on C: L1's VMLAUNCH/VMRESUME has not
    // completed and runs again if the VMM resumes the vCPU.
    if vmcs12_shadow_gpa(v).is_some() {
        if let Err(errno) = k.alloc_shadow_vmcs12_cache() {
            return RunStart::Errno(errno);
        }
    }
    k.set_run_pending(true);
    k.clear_preemption_timer_deadline();
    let exec = CpuBased(v.cpu_based_vm_exec_control);
    let halted = v.guest_activity_state == activity::HLT
        && v.vm_entry_intr_info_field & INTR_INFO_VALID == 0
        && !exec.contains(CpuBased::NMI_WINDOW_EXITING)
        && !(exec.contains(CpuBased::INTR_WINDOW_EXITING) && v.guest_rflags & RFLAGS_IF != 0);
    let wait_sipi = v.guest_activity_state == activity::WAIT_SIPI;
    RunStart::Entry {
        step: enter_with(k, v, true),
        halted,
        wait_sipi,
    }
}

/// The rest of KVM's `nested_vmx_run()`, once vmcs12 is no longer read:
/// the instruction's outcome, the MSR loads, or L2 running; the exit
/// handler's return value.
pub fn run_finish(k: &mut impl EntryVcpu, start: RunStart) -> i32 {
    let (step, halted, wait_sipi) = match start {
        RunStart::Complete(o) => return k.complete_insn(o),
        RunStart::Errno(errno) => return errno,
        RunStart::Entry {
            step,
            halted,
            wait_sipi,
        } => (step, halted, wait_sipi),
    };
    let status = finish_entry(k, step, true);
    if status != Entered::L2 {
        k.set_run_pending(false);
        return match status {
            Entered::InternalError => k.exit_internal_error(),
            Entered::VmExit | Entered::L2 => 1,
        };
    }
    // Posted-interrupt processing on VM entry: a notification vector
    // L1's APIC already has pending is taken as L2's (nested_vmx_run()).
    if k.posted_intr_nv() != u16::MAX && k.take_pi_notification() {
        k.make_request(Request::Event);
    }
    k.set_l1tf_flush();
    k.cache_shadow_vmcs12();
    // An HLT activity state enters L2 halted, unless an event wakes it.
    if halted {
        k.set_run_pending(false);
        return k.emulate_halt();
    }
    if wait_sipi {
        k.set_run_pending(false);
        k.set_mp_state(MpState::InitReceived);
    }
    1
}

/// The first part of `nested_vmx_enter_non_root_mode()`: vmcs02 from `v`.
/// It writes nothing to vmcs12, and neither do the KVM functions it calls,
/// so `v` may be the cached vmcs12 itself; what can write vmcs12 (KVM's MSR
/// writes in guest mode, failure reports) is `finish_entry`'s.
pub fn enter_with(k: &mut impl EntryVcpu, v: &Vmcs12, from_vmentry: bool) -> Step {
    k.trace_vmenter(v);
    let run_pending = k.run_pending();
    k.service_tlb_flush_requests();
    let window = CpuBased(k.vmcs01_controls().exec)
        .intersects(CpuBased::INTR_WINDOW_EXITING | CpuBased::NMI_WINDOW_EXITING);
    // With APICv, a virtual interrupt in vmcs01's RVI (vmcs01 is still
    // current) above L1's PPR is evaluated before L2 runs, as nested.c.
    let apicv_interrupt = !window && k.apicv_active() && {
        let rvi = k.vmread(e::GUEST_INTR_STATUS) as u8;
        above_ppr(rvi, k.apic_ppr())
    };
    let evaluate_pending_interrupts = window || apicv_interrupt || k.init_event_pending();
    let entry = EntryControls(v.vm_entry_controls);
    if !run_pending || !entry.contains(EntryControls::LOAD_DEBUG_CONTROLS) {
        let debugctl = k.vmread(e::GUEST_IA32_DEBUGCTL) & !DEBUGCTL_FREEZE_IN_SMM;
        k.set_pre_vmenter_debugctl(debugctl);
    }
    let caps = k.l0_caps();
    if caps.mpx && (!run_pending || !entry.contains(EntryControls::LOAD_BNDCFGS)) {
        let bndcfgs = k.vmread(e::GUEST_BNDCFGS);
        k.set_pre_vmenter_bndcfgs(bndcfgs);
    }
    if !k.enable_ept() {
        let cr3 = k.cr3();
        k.vmwrite(e::GUEST_CR3, cr3);
    }

    k.switch_vmcs(true);
    prepare02::prepare_vmcs02_early(k, v, &caps);

    let mut failure = None;
    if from_vmentry {
        if !k.get_vmcs12_pages(v) {
            k.switch_vmcs(false);
            return Step::InternalError;
        }
        if let Err(check) = k.check_guest(v) {
            k.count(Stat::EntryCheckFail);
            k.trace_check_failed(check);
            if let EntryFailure::VmExit {
                reason,
                qualification,
            } = check.failure()
            {
                failure = Some((u32::from(reason), qualification));
            }
        }
    }
    let tsc_offset = CpuBased(v.cpu_based_vm_exec_control)
        .contains(CpuBased::USE_TSC_OFFSETTING)
        .then_some(v.tsc_offset);
    if let Some((reason, qual)) = failure {
        return Step::Failed(Failure {
            reason,
            qual,
            in_guest_mode: false,
            tsc_offset,
        });
    }

    k.enter_guest_mode();
    if let Err(qual) = prepare02::prepare_vmcs02(k, v, &caps, from_vmentry) {
        return Step::Failed(Failure {
            reason: EXIT_REASON_INVALID_STATE,
            qual,
            in_guest_mode: true,
            tsc_offset,
        });
    }
    Step::Ready(Pending {
        msr_list: from_vmentry.then_some((v.vm_entry_msr_load_addr, v.vm_entry_msr_load_count)),
        perf_global_ctrl: entry
            .contains(EntryControls::LOAD_IA32_PERF_GLOBAL_CTRL)
            .then_some(v.guest_ia32_perf_global_ctrl),
        tsc_offset,
        evaluate_pending_interrupts,
        preemption_timer: PinBased(v.pin_based_vm_exec_control)
            .contains(PinBased::VMX_PREEMPTION_TIMER)
            .then_some(v.vmx_preemption_timer_value),
    })
}

/// The end of `nested_vmx_enter_non_root_mode()`, after vmcs12 was read:
/// the MSR loads KVM may mirror into vmcs12, or the failure report.
pub fn finish_entry(k: &mut impl EntryVcpu, step: Step, from_vmentry: bool) -> Entered {
    let p = match step {
        Step::InternalError => return Entered::InternalError,
        Step::Failed(f) => return entry_failed(k, f, from_vmentry),
        Step::Ready(p) => p,
    };
    if let Some(ctrl) = p.perf_global_ctrl {
        // The value passed the entry checks. No PMU: the MSR does not
        // exist and KVM skips the load, as here.
        k.set_perf_global_ctrl(ctrl);
    }
    if let Some((gpa, count)) = p.msr_list {
        let failed = host_load::load_msr_list(k, gpa, count);
        if failed != 0 {
            let f = Failure {
                reason: EXIT_REASON_MSR_LOAD_FAIL,
                qual: u64::from(failed),
                in_guest_mode: true,
                tsc_offset: p.tsc_offset,
            };
            return entry_failed(k, f, from_vmentry);
        }
    } else {
        k.make_request(Request::GetNestedStatePages);
    }
    if p.evaluate_pending_interrupts {
        k.make_request(Request::Event);
    }
    // Armed only now that the entry cannot fail, so that only a nested VM
    // exit has to cancel it (as nested.c).
    k.clear_preemption_timer_expired();
    if let Some(value) = p.preemption_timer {
        k.start_preemption_timer(value);
    }
    // Every path into L2 (VMLAUNCH/VMRESUME, SMM exit, restored state) is
    // counted where it succeeds, as kvm_nested_vmenter is emitted on each.
    k.count(Stat::L2Entry);
    Entered::L2
}

/// The failure paths of nested_vmx_enter_non_root_mode(): undo what was
/// done and report a VM-entry failure to L1 as a VM exit (SDM 27.8).
fn entry_failed(k: &mut impl EntryVcpu, f: Failure, from_vmentry: bool) -> Entered {
    if let Some(v12) = k.vmcs12() {
        v12.exit_qualification = f.qual;
    }
    if f.in_guest_mode {
        if let Some(offset) = f.tsc_offset {
            let (tsc, _) = k.tsc();
            k.set_tsc(tsc.wrapping_sub(offset), None);
        }
        k.service_tlb_flush_requests();
        k.leave_guest_mode();
    }
    k.switch_vmcs(false);
    if !from_vmentry {
        k.ept_uninit_mmu();
        return Entered::VmExit;
    }
    k.unmap_vmcs12_pages();
    host_load::load_host_state(k);
    if let Some(v12) = k.vmcs12() {
        v12.vm_exit_reason = f.reason | EXIT_REASON_FAILED_VMENTRY;
    }
    if k.shadow_vmcs_enabled() || k.evmcs_mapped() {
        k.set_need_shadow_sync();
    }
    k.count(Stat::EntryFailure);
    Entered::VmExit
}

#[cfg(test)]
#[path = "vmentry_tests.rs"]
mod tests;
