// SPDX-License-Identifier: GPL-2.0

//! A nested VM entry: VMLAUNCH/VMRESUME (KVM's nested_vmx_run()), the
//! switch to vmcs02 and its preparation from vmcs01 and vmcs12
//! (nested_vmx_enter_non_root_mode(), prepare_vmcs02_*()). The decisions
//! (checks, merged controls, L2's EFER) come from the core; this file
//! applies them to the hardware VMCS and to KVM's vCPU model.

use kernel::ffi;

use crate::bindings;
use crate::ept;
use crate::exit;
use crate::hw;
use crate::insn::msrs;
use crate::lifecycle;
use crate::nested::insn::{self as rules, RunState};
use crate::nested::merge::{self, L0};
use crate::nested::msr_list;
use crate::nvcpu::{Control, MapSlot, Nv, INVALID_GPA};
use crate::posted_intr;
use crate::shadow_vmcs;
use crate::shadow_vmcs12;
use crate::stats;
use crate::timer;
use crate::trace;
use crate::vcpu::vmcs_config;
use crate::vmcs::caps::NestedVmxMsrs;
use crate::vmcs::checks::guest::activity;
use crate::vmcs::checks::{self, entry_fail, EntryFailure, Vcpu, EXIT_REASON_FAILED_VMENTRY};
use crate::vmcs::controls::{CpuBased, EntryControls, PinBased, Secondary, Vmcs12Controls};
use crate::vmcs::encoding::Encoding;
use crate::vmcs::layout::{Vmcs12, VmcsHdr};
use crate::vmcs::outcome::{Outcome, VmInstructionError};
use crate::vmcs::table::encodings as e;
use crate::vmcs::x86::{cr4, efer};

/// What a nested entry came to (KVM's `enum nvmx_vmentry_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entered {
    /// L2 runs at the next VM entry.
    L2,
    /// A VM-entry failure, already reported to L1 as a VM exit.
    VmExit,
    /// KVM could not build vmcs02 (L1 memory missing): exit to userspace.
    InternalError,
}

/// The core's view of the vCPU for the VM-entry checks.
pub(crate) struct CheckVcpu<'a> {
    nv: &'a mut Nv,
    msrs: NestedVmxMsrs,
    maxphyaddr: u32,
    cr4_reserved: u64,
    has_lam: bool,
    max_virt_bits: u32,
    virt_bits: u32,
    efer_lma: bool,
    perf_reserved: u64,
    run_pending: bool,
}

impl<'a> CheckVcpu<'a> {
    pub(crate) fn new(nv: &'a mut Nv) -> Self {
        let msrs = *msrs(nv);
        let maxphyaddr = nv.maxphyaddr();
        let vcpu = nv.raw();
        // SAFETY: the vCPU is ours (Nv invariant); these read its state.
        let (cr4_reserved, has_lam, max_virt_bits) = unsafe {
            (
                bindings::rnvmx_cr4_reserved_bits(vcpu),
                bindings::rnvmx_has_lam(vcpu),
                bindings::rnvmx_max_virt_addr_bits(),
            )
        };
        let virt_bits = if nv.cr4() & cr4::LA57 != 0 { 57 } else { 48 };
        let efer_lma = nv.arch().efer & efer::LMA != 0;
        let perf_reserved = nv.arch().pmu.global_ctrl_rsvd;
        let run_pending = nv.nested().nested_run_pending;
        CheckVcpu {
            nv,
            msrs,
            maxphyaddr,
            cr4_reserved,
            has_lam,
            max_virt_bits: max_virt_bits as u32,
            virt_bits,
            efer_lma,
            perf_reserved,
            run_pending,
        }
    }
}

const DEBUGCTLMSR_LBR: u64 = 1 << 0;
const DEBUGCTLMSR_BTF: u64 = 1 << 1;
pub(crate) const DEBUGCTLMSR_FREEZE_IN_SMM: u64 = 1 << 14;

impl Vcpu for CheckVcpu<'_> {
    fn maxphyaddr(&self) -> u32 {
        self.maxphyaddr
    }
    fn vmx_msrs(&self) -> &NestedVmxMsrs {
        &self.msrs
    }
    fn cr4_reserved_bits(&self) -> u64 {
        self.cr4_reserved
    }
    fn has_lam(&self) -> bool {
        self.has_lam
    }
    fn max_virt_addr_bits(&self) -> u32 {
        self.max_virt_bits
    }
    fn virt_addr_bits(&self) -> u32 {
        self.virt_bits
    }
    fn efer_lma(&self) -> bool {
        self.efer_lma
    }
    fn efer_valid(&self, efer: u64) -> bool {
        // SAFETY: the vCPU is ours (Nv invariant); no Rust reference into
        // it is alive (CheckVcpu holds only the Nv handle).
        unsafe { bindings::kvm_valid_efer(self.nv_raw(), efer) }
    }
    fn perf_global_ctrl_reserved(&self) -> u64 {
        self.perf_reserved
    }
    // The two below are only asked with "load debug controls", so they are
    // read from KVM then, not for every entry.
    fn debugctl_valid(&self, debugctl: u64) -> bool {
        // SAFETY: as for `efer_valid`.
        let supported = unsafe { bindings::vmx_get_supported_debugctl(self.nv_raw(), false) };
        // KVM's vmx_is_valid_debugctl(): BTF and LBR are ignored, not invalid.
        debugctl & !supported & !(DEBUGCTLMSR_BTF | DEBUGCTLMSR_LBR) == 0
    }
    fn quirk_allow_freeze_in_smm(&self) -> bool {
        // SAFETY: as for `efer_valid`.
        unsafe { bindings::rnvmx_quirk_freeze_in_smm(self.nv_raw()) }
    }
    fn read_vmcs_hdr(&mut self, gpa: u64) -> Option<VmcsHdr> {
        // Only the VMCS link pointer is read: through KVM's cache for it.
        self.nv.read_link_vmcs_hdr(gpa).map(VmcsHdr)
    }
    fn nested_run_pending(&self) -> bool {
        self.run_pending
    }
}

impl CheckVcpu<'_> {
    fn nv_raw(&self) -> *mut bindings::kvm_vcpu {
        self.nv.raw_const()
    }
}

/// Reads the interruptibility state's "blocking by MOV SS" (KVM's
/// vmx_get_interrupt_shadow() & KVM_X86_SHADOW_INT_MOV_SS).
fn blocked_by_mov_ss() -> bool {
    hw::read(e::GUEST_INTERRUPTIBILITY_INFO) & GUEST_INTR_STATE_MOV_SS != 0
}

const GUEST_INTR_STATE_MOV_SS: u64 = 1 << 1;

/// KVM's `nested_vmx_run()`: VMLAUNCH (`launch`) or VMRESUME.
pub(crate) fn run(nv: &mut Nv, launch: bool) -> ffi::c_int {
    let vmxon = nv.nested().vmxon;
    let cpl = nv.cpl();
    if let Err(f) = rules::check_permission(vmxon, cpl) {
        return crate::insn::fault(nv, f);
    }
    // SAFETY: the vCPU is ours (Nv invariant).
    unsafe { bindings::rnvmx_pmu_branch_retired(nv.raw()) };
    // What L1 wrote to the shadow VMCS since its last exit.
    if shadow_vmcs::enabled() && nv.nested().current_vmptr != INVALID_GPA {
        shadow_vmcs::to_vmcs12(nv);
    }
    // SAFETY: `v` is read until `enter_with` returns, and nothing writes
    // vmcs12 meanwhile (see `enter_with`); the writes that follow
    // (`complete`, `finish_entry`) come after its last use.
    let Some(v) = (unsafe { nv.vmcs12_unbounded() }) else {
        return nv.ud();
    };
    let s = RunState {
        launch,
        has_current_vmcs: nv.nested().current_vmptr != INVALID_GPA,
        current_is_shadow: v.hdr.shadow_vmcs(),
        blocked_by_mov_ss: blocked_by_mov_ss(),
        launched: v.launch_state != 0,
    };
    if let Err(o) = rules::run_precheck(&s) {
        trace::run_precheck_failed(&o);
        return nv.complete(o);
    }
    // SDM 27.2: controls, then host state; each fails with VMfailValid.
    let early = {
        let cv = CheckVcpu::new(nv);
        checks::check_controls(v, &cv)
            .and_then(|()| checks::check_address_space_size(v, &cv))
            .and_then(|()| checks::check_host_state(v, &cv))
    };
    if let Err(check) = early {
        stats::ENTRY_CHECK_FAILS.inc();
        trace::check_failed(check);
        // These checks fail with VMfailValid (the core's tests tie each
        // check's kind to its stage); the entry never goes on past one.
        let err = match check.failure() {
            EntryFailure::VmFail(err) => err,
            EntryFailure::VmExit { .. } => VmInstructionError::EntryInvalidControlField,
        };
        return nv.complete(Outcome::VmFailValid(err));
    }
    nv.nested().nested_run_pending = true;
    nv.nested().has_preemption_timer_deadline = false;
    let halted = v.guest_activity_state == activity::HLT
        && v.vm_entry_intr_info_field & INTR_INFO_VALID == 0
        && !CpuBased(v.cpu_based_vm_exec_control).contains(CpuBased::NMI_WINDOW_EXITING)
        && !(CpuBased(v.cpu_based_vm_exec_control).contains(CpuBased::INTR_WINDOW_EXITING)
            && v.guest_rflags & RFLAGS_IF != 0);
    let wait_sipi = v.guest_activity_state == activity::WAIT_SIPI;
    let step = enter_with(nv, v, true);
    // `v` is not read after this point.
    let status = finish_entry(nv, step, true);
    if status != Entered::L2 {
        nv.nested().nested_run_pending = false;
        return match status {
            Entered::InternalError => {
                let run = nv.vmx().vcpu.run;
                // SAFETY: `run` is the vCPU's kvm_run page, mapped for the
                // vCPU's lifetime and written only by this thread now.
                unsafe {
                    (*run).exit_reason = bindings::KVM_EXIT_INTERNAL_ERROR;
                    (*run).__bindgen_anon_1.internal.suberror =
                        bindings::KVM_INTERNAL_ERROR_EMULATION;
                    (*run).__bindgen_anon_1.internal.ndata = 0;
                }
                0
            }
            Entered::VmExit => 1,
            Entered::L2 => 1,
        };
    }
    // Posted-interrupt processing on VM entry: a notification vector
    // L1's APIC already has pending is taken as L2's (nested_vmx_run()).
    if nv.nested().posted_intr_nv != u16::MAX {
        // SAFETY: the vCPU is ours (Nv invariant).
        let irq = unsafe { bindings::kvm_apic_has_interrupt(nv.raw()) };
        if posted_intr::take_notification(nv, irq) {
            nv.make_request(bindings::rnvmx_request_RNVMX_REQ_EVENT);
        }
    }
    nv.arch().l1tf_flush_l1d = true;
    shadow_vmcs12::cache(nv);
    // An HLT activity state enters L2 halted, unless an event wakes it.
    if halted {
        nv.nested().nested_run_pending = false;
        // SAFETY: the vCPU is ours (Nv invariant).
        return unsafe { bindings::kvm_emulate_halt_noskip(nv.raw()) };
    }
    if wait_sipi {
        nv.nested().nested_run_pending = false;
        nv.arch().mp_state = bindings::KVM_MP_STATE_INIT_RECEIVED as i32;
    }
    1
}

const INTR_INFO_VALID: u32 = 1 << 31;
const RFLAGS_IF: u64 = 1 << 9;

/// KVM's `nested_vmx_enter_non_root_mode()`. `from_vmentry` is false when
/// KVM resumes L2 from saved state (SMM exit, KVM_SET_NESTED_STATE).
pub(crate) fn enter_non_root_mode(nv: &mut Nv, from_vmentry: bool) -> Entered {
    let Some(v) = nv.vmcs12_copy() else {
        return Entered::InternalError;
    };
    let step = enter_with(nv, &v, from_vmentry);
    finish_entry(nv, step, from_vmentry)
}

/// How far `enter_with` got.
pub(crate) enum Step {
    /// vmcs02 is ready; what remains may write vmcs12.
    Ready(Pending),
    /// A VM-entry failure to report to L1.
    Failed(Failure),
    /// L1 memory vmcs12 names is missing.
    InternalError,
}

/// The rest of an entry, done by `finish_entry` once vmcs12 is no longer
/// read.
pub(crate) struct Pending {
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
pub(crate) struct Failure {
    reason: u32,
    qual: u64,
    in_guest_mode: bool,
    tsc_offset: Option<u64>,
}

/// The first part of `nested_vmx_enter_non_root_mode()`: vmcs02 from `v`.
/// It writes nothing to vmcs12, and neither do the KVM functions it calls,
/// so `v` may be the cached vmcs12 itself; what can write vmcs12 (KVM's MSR
/// writes in guest mode, failure reports) is `finish_entry`'s.
fn enter_with(nv: &mut Nv, v: &Vmcs12, from_vmentry: bool) -> Step {
    trace::nested_vmenter(nv, v);
    let run_pending = nv.nested().nested_run_pending;
    // SAFETY: the vCPU is ours (Nv invariant).
    unsafe { bindings::kvm_service_local_tlb_flush_requests(nv.raw()) };
    let window = CpuBased(nv.vmcs01_controls().exec)
        .intersects(CpuBased::INTR_WINDOW_EXITING | CpuBased::NMI_WINDOW_EXITING);
    // With APICv, a virtual interrupt in vmcs01's RVI (vmcs01 is still
    // current) above L1's PPR is evaluated before L2 runs, as nested.c.
    // SAFETY: the vCPU is ours (Nv invariant), for each call below.
    let apicv_interrupt = !window
        && unsafe { bindings::rnvmx_apicv_active(nv.raw()) }
        && crate::nested::posted_intr::above_ppr(
            hw::read(e::GUEST_INTR_STATUS) as u8,
            // SAFETY: as above; APICv implies an in-kernel APIC.
            unsafe { bindings::rnvmx_apic_ppr(nv.raw()) },
        );
    // SAFETY: as above.
    let evaluate_pending_interrupts =
        window || apicv_interrupt || unsafe { bindings::rnvmx_init_event_pending(nv.raw()) };
    let entry = EntryControls(v.vm_entry_controls);
    if !run_pending || !entry.contains(EntryControls::LOAD_DEBUG_CONTROLS) {
        nv.nested().pre_vmenter_debugctl =
            hw::read(e::GUEST_IA32_DEBUGCTL) & !DEBUGCTLMSR_FREEZE_IN_SMM;
    }
    // SAFETY: plain capability query.
    let mpx = unsafe { bindings::rnvmx_mpx_supported() };
    if mpx && (!run_pending || !entry.contains(EntryControls::LOAD_BNDCFGS)) {
        nv.nested().pre_vmenter_bndcfgs = hw::read(e::GUEST_BNDCFGS);
    }
    if !enable_ept() {
        let cr3 = nv.arch().cr3 as u64;
        hw::write(e::GUEST_CR3, cr3);
    }

    nv.switch_vmcs(true);
    prepare_vmcs02_early(nv, v);

    let mut failure = None;
    if from_vmentry {
        if !get_vmcs12_pages(nv, v) {
            nv.switch_vmcs(false);
            return Step::InternalError;
        }
        let guest = checks::check_guest_state(v, &mut CheckVcpu::new(nv));
        if let Err(check) = guest {
            stats::ENTRY_CHECK_FAILS.inc();
            trace::check_failed(check);
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

    nv.enter_guest_mode();
    if let Err(qual) = prepare_vmcs02(nv, v, from_vmentry) {
        return Step::Failed(Failure {
            reason: EXIT_REASON_INVALID_STATE,
            qual,
            in_guest_mode: true,
            tsc_offset,
        });
    }
    Step::Ready(Pending {
        msr_list: from_vmentry.then_some((v.vm_entry_msr_load_addr, v.vm_entry_msr_load_count)),
        perf_global_ctrl: EntryControls(v.vm_entry_controls)
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
pub(crate) fn finish_entry(nv: &mut Nv, step: Step, from_vmentry: bool) -> Entered {
    let p = match step {
        Step::InternalError => return Entered::InternalError,
        Step::Failed(f) => return entry_failed(nv, f, from_vmentry),
        Step::Ready(p) => p,
    };
    if let Some(ctrl) = p.perf_global_ctrl {
        let vcpu = nv.raw();
        // SAFETY: the vCPU is ours; the value passed the entry checks. No
        // PMU: the MSR does not exist and KVM skips the load, as here.
        let _ = unsafe { bindings::kvm_set_msr(vcpu, MSR_CORE_PERF_GLOBAL_CTRL, ctrl) };
    }
    if let Some((gpa, count)) = p.msr_list {
        let failed = load_msr_list(nv, gpa, count);
        if failed != 0 {
            let f = Failure {
                reason: EXIT_REASON_MSR_LOAD_FAIL,
                qual: u64::from(failed),
                in_guest_mode: true,
                tsc_offset: p.tsc_offset,
            };
            return entry_failed(nv, f, from_vmentry);
        }
    } else {
        nv.make_request(bindings::rnvmx_request_RNVMX_REQ_GET_NESTED_STATE_PAGES);
    }
    if p.evaluate_pending_interrupts {
        nv.make_request(bindings::rnvmx_request_RNVMX_REQ_EVENT);
    }
    // Armed only now that the entry cannot fail, so that only a nested VM
    // exit has to cancel it (as nested.c).
    nv.nested().preemption_timer_expired = false;
    if let Some(value) = p.preemption_timer {
        timer::start(nv, value);
    }
    // Every path into L2 (VMLAUNCH/VMRESUME, SMM exit, restored state) is
    // counted where it succeeds, as kvm_nested_vmenter is emitted on each.
    stats::L2_ENTRIES.inc();
    Entered::L2
}

const EXIT_REASON_INVALID_STATE: u32 = 33;
const EXIT_REASON_MSR_LOAD_FAIL: u32 = 34;

/// The failure paths of nested_vmx_enter_non_root_mode(): undo what was
/// done and report a VM-entry failure to L1 as a VM exit.
fn entry_failed(nv: &mut Nv, f: Failure, from_vmentry: bool) -> Entered {
    let Failure {
        reason,
        qual,
        in_guest_mode,
        tsc_offset,
    } = f;
    if let Some(v12) = nv.vmcs12() {
        v12.exit_qualification = qual;
    }
    if in_guest_mode {
        if let Some(offset) = tsc_offset {
            let arch = nv.arch();
            arch.tsc_offset = arch.tsc_offset.wrapping_sub(offset);
        }
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::kvm_service_local_tlb_flush_requests(nv.raw()) };
        nv.leave_guest_mode();
    }
    nv.switch_vmcs(false);
    if !from_vmentry {
        ept::uninit_mmu(nv);
        return Entered::VmExit;
    }
    lifecycle::unmap_vmcs12_pages(nv);
    exit::load_host_state(nv);
    if let Some(v12) = nv.vmcs12() {
        v12.vm_exit_reason = reason | EXIT_REASON_FAILED_VMENTRY;
    }
    if shadow_vmcs::enabled() {
        nv.nested().need_vmcs12_to_shadow_sync = true;
    }
    stats::L2_ENTRY_FAILURES.inc();
    Entered::VmExit
}

pub(crate) fn enable_ept() -> bool {
    // SAFETY: kvm-intel module parameter (0444), written only while
    // kvm-intel loads, before this module can.
    unsafe { bindings::enable_ept }
}

pub(crate) fn enable_vpid() -> bool {
    // SAFETY: as for enable_ept.
    unsafe { bindings::enable_vpid }
}

/// KVM's `prepare_vmcs02_constant_state()`: vmcs02 fields set once.
fn prepare_vmcs02_constant_state(nv: &mut Nv) {
    if nv.nested().vmcs02_initialized {
        return;
    }
    nv.nested().vmcs02_initialized = true;
    let cfg = vmcs_config();
    let sec = Secondary(cfg.cpu_based_2nd_exec_ctrl);
    if sec.contains(Secondary::ENABLE_VMFUNC) {
        hw::write(e::VM_FUNCTION_CONTROL, 0);
    }
    if PinBased(cfg.pin_based_exec_ctrl).contains(PinBased::POSTED_INTR) {
        hw::write(e::POSTED_INTR_NV, u64::from(POSTED_INTR_NESTED_VECTOR));
    }
    if CpuBased(cfg.cpu_based_exec_ctrl).contains(CpuBased::USE_MSR_BITMAPS) {
        // vmcs02's own bitmap: all ones since alloc_loaded_vmcs(); each
        // entry merges the few bits L1 and L0 may pass through (msr_bitmap.rs).
        let bitmap = nv.vmx().nested.vmcs02.msr_bitmap;
        hw::write(e::MSR_BITMAP, Nv::pa(bitmap));
    }
    if sec.contains(Secondary::ENABLE_PML) {
        hw::write(e::PML_ADDRESS, 0);
        hw::write(e::GUEST_PML_INDEX, 0xffff);
    }
    if sec.contains(Secondary::ENCLS_EXITING) {
        hw::write(e::ENCLS_EXITING_BITMAP, INVALID_GPA);
    }
    let vcpu = nv.raw();
    // SAFETY: the vCPU is ours (Nv invariant).
    if unsafe { bindings::rnvmx_notify_vmexit_enabled(vcpu) } {
        // SAFETY: as above.
        let window = unsafe { bindings::rnvmx_notify_window(vcpu) };
        hw::write(hw::enc::NOTIFY_WINDOW, u64::from(window));
    }
    let ve_info = nv.vmx().ve_info;
    if !ve_info.is_null() {
        // vmcs01's #VE information page (KVM_INTEL_PROVE_VE): EPT
        // violations L0 converts to #VE while L2 runs report there too.
        hw::write(hw::enc::VE_INFORMATION_ADDRESS, Nv::pa(ve_info));
    }
    let vmx = nv.vmx();
    let store = Nv::pa(vmx.msr_autostore.guest.val.as_ptr());
    let host = Nv::pa(vmx.msr_autoload.host.val.as_ptr());
    let guest = Nv::pa(vmx.msr_autoload.guest.val.as_ptr());
    hw::write(e::VM_EXIT_MSR_STORE_ADDR, store);
    hw::write(e::VM_EXIT_MSR_LOAD_ADDR, host);
    hw::write(e::VM_ENTRY_MSR_LOAD_ADDR, guest);
    let vmx: *mut bindings::vcpu_vmx = nv.vmx();
    // SAFETY: the vCPU's own vcpu_vmx, vmcs02 current.
    unsafe { bindings::vmx_set_constant_host_state(vmx) };
}

const POSTED_INTR_NESTED_VECTOR: u16 = 0xf0;

/// KVM's `prepare_vmcs02_early_rare()`.
fn prepare_vmcs02_early_rare(nv: &mut Nv, v: &Vmcs12) {
    prepare_vmcs02_constant_state(nv);
    hw::write(e::VMCS_LINK_POINTER, INVALID_GPA);
    if enable_vpid() {
        let vpid02 = nv.nested().vpid02;
        let vpid = if Vmcs12Controls::of(v).sec.contains(Secondary::ENABLE_VPID) && vpid02 != 0 {
            u64::from(vpid02)
        } else {
            nv.vmx().vpid as u64
        };
        hw::write(e::VIRTUAL_PROCESSOR_ID, vpid);
    }
}

/// KVM's `prepare_vmcs02_early()`: vmcs02's controls (merged by the core)
/// and event injection.
fn prepare_vmcs02_early(nv: &mut Nv, v: &Vmcs12) {
    let run_pending = nv.nested().nested_run_pending;
    let l1_efer = nv.arch().efer;
    let guest_efer = merge::l2_efer(v, l1_efer, run_pending);
    if nv.nested().dirty_vmcs12 {
        prepare_vmcs02_early_rare(nv, v);
    }
    let c01 = nv.vmcs01_controls();
    let cfg = vmcs_config();
    // The bit stays as it is until get_vmcs12_pages() merges the bitmap.
    let vmcs02_msr_bitmaps =
        CpuBased(nv.controls_shadow().exec).contains(CpuBased::USE_MSR_BITMAPS);
    let l0 = L0 {
        pin: PinBased(c01.pin),
        cpu: CpuBased(c01.exec),
        secondary: Secondary(c01.secondary_exec),
        entry: EntryControls(c01.vm_entry),
        exit: crate::vmcs::controls::ExitControls(c01.vm_exit),
        vmcs02_uses_msr_bitmaps: vmcs02_msr_bitmaps,
        has_secondary: CpuBased(cfg.cpu_based_exec_ctrl)
            .contains(CpuBased::ACTIVATE_SECONDARY_CONTROLS),
        has_load_efer: EntryControls(cfg.vmentry_ctrl).contains(EntryControls::LOAD_IA32_EFER)
            && crate::vmcs::controls::ExitControls(cfg.vmexit_ctrl)
                .contains(crate::vmcs::controls::ExitControls::LOAD_IA32_EFER),
        // SAFETY: plain capability queries.
        umip_emulated: unsafe { bindings::rnvmx_umip_emulated() },
        // SAFETY: as above.
        host_efer: unsafe { bindings::rnvmx_host_efer() },
    };
    let m = merge::merge(&l0, v, guest_efer);
    nv.set_pi_pending(false);
    nv.set_posted_intr_nv(m.posted_intr_nv.unwrap_or(u16::MAX));
    nv.set_control(Control::Pin, m.pin.bits());
    nv.nested().l1_tpr_threshold = -1;
    if let Some(t) = m.tpr_threshold {
        hw::write(e::TPR_THRESHOLD, u64::from(t));
    }
    nv.set_control(Control::Exec, m.cpu.bits());
    if let Some(sec) = m.secondary {
        if let Some(status) = m.guest_intr_status {
            hw::write(e::GUEST_INTR_STATUS, u64::from(status));
        }
        if sec.contains(Secondary::ENCLS_EXITING) {
            let vmcs12 = core::ptr::from_ref(v).cast::<bindings::vmcs12>().cast_mut();
            // SAFETY: the vCPU is ours; `vmcs12` has struct vmcs12's layout
            // (bindings.rs) and vmx_write_encls_bitmap() only reads it.
            unsafe { bindings::rnvmx_write_encls_bitmap(nv.raw(), vmcs12) };
        }
        nv.set_control(Control::Secondary, sec.bits());
    }
    nv.set_control(Control::Entry, m.entry.bits());
    nv.set_control(Control::Exit, m.exit.bits());
    if run_pending {
        hw::write(
            e::VM_ENTRY_INTR_INFO_FIELD,
            u64::from(v.vm_entry_intr_info_field),
        );
        hw::write(
            e::VM_ENTRY_EXCEPTION_ERROR_CODE,
            u64::from(v.vm_entry_exception_error_code),
        );
        hw::write(
            e::VM_ENTRY_INSTRUCTION_LEN,
            u64::from(v.vm_entry_instruction_len),
        );
        hw::write(
            e::GUEST_INTERRUPTIBILITY_INFO,
            u64::from(v.guest_interruptibility_info),
        );
        let unmasked = v.guest_interruptibility_info & GUEST_INTR_STATE_NMI == 0;
        let p = nv.vmx().loaded_vmcs;
        // SAFETY: `loaded_vmcs` is vmcs02 of this vCPU (switched above).
        unsafe { (*p).nmi_known_unmasked = unmasked };
    } else {
        hw::write(e::VM_ENTRY_INTR_INFO_FIELD, 0);
    }
}

const GUEST_INTR_STATE_NMI: u32 = 1 << 3;

/// Copies fields from vmcs12 to the current VMCS.
fn copy_to_vmcs02(v: &Vmcs12, fields: &[Encoding]) {
    for &enc in fields {
        if let Some(f) = crate::vmcs::table::lookup(enc) {
            hw::write(enc, v.get(f.field));
        }
    }
}

/// KVM's `prepare_vmcs02_rare()`.
fn prepare_vmcs02_rare(nv: &mut Nv, v: &Vmcs12) {
    if let Some(l) = crate::fields::lists() {
        for s in l.rare_entry.iter() {
            hw::write(s.encoding, nv.vmcs12_get(s));
        }
    }
    nv.vmx().segment_cache.bitmask = 0;
    if enable_ept() {
        copy_to_vmcs02(v, &PDPTRS);
    }
    let c = Vmcs12Controls::of(v);
    let run_pending = nv.nested().nested_run_pending;
    // SAFETY: plain capability query.
    if unsafe { bindings::rnvmx_mpx_supported() }
        && run_pending
        && c.entry.contains(EntryControls::LOAD_BNDCFGS)
    {
        hw::write(e::GUEST_BNDCFGS, v.guest_bndcfgs);
    }
    if c.sec.contains(Secondary::ENABLE_XSAVES) {
        hw::write(e::XSS_EXIT_BITMAP, v.xss_exit_bitmap);
    }
    // SAFETY: the vCPU is ours (Nv invariant).
    if unsafe { bindings::rnvmx_need_pf_intercept(nv.raw()) } {
        hw::write(e::PAGE_FAULT_ERROR_CODE_MASK, 0);
        hw::write(e::PAGE_FAULT_ERROR_CODE_MATCH, 0);
    } else {
        hw::write(
            e::PAGE_FAULT_ERROR_CODE_MASK,
            u64::from(v.page_fault_error_code_mask),
        );
        hw::write(
            e::PAGE_FAULT_ERROR_CODE_MATCH,
            u64::from(v.page_fault_error_code_match),
        );
    }
    if Secondary(vmcs_config().cpu_based_2nd_exec_ctrl).contains(Secondary::VIRTUAL_INTR_DELIVERY) {
        copy_to_vmcs02(
            v,
            &[
                e::EOI_EXIT_BITMAP0,
                e::EOI_EXIT_BITMAP1,
                e::EOI_EXIT_BITMAP2,
                e::EOI_EXIT_BITMAP3,
            ],
        );
    }
    crate::msr_autostore::prepare_tsc(nv, v);
    let vmx = nv.vmx();
    let (store, host, guest) = (
        vmx.msr_autostore.guest.nr,
        vmx.msr_autoload.host.nr,
        vmx.msr_autoload.guest.nr,
    );
    hw::write(e::VM_EXIT_MSR_STORE_COUNT, u64::from(store));
    hw::write(e::VM_EXIT_MSR_LOAD_COUNT, u64::from(host));
    hw::write(e::VM_ENTRY_MSR_LOAD_COUNT, u64::from(guest));
    let vmx: *mut bindings::vcpu_vmx = nv.vmx();
    // SAFETY: the vCPU's own vcpu_vmx, in guest mode with vmcs02 current.
    unsafe { bindings::set_cr4_guest_host_mask(vmx) };
}

const PDPTRS: [Encoding; 4] = [
    e::GUEST_PDPTR0,
    e::GUEST_PDPTR1,
    e::GUEST_PDPTR2,
    e::GUEST_PDPTR3,
];

/// KVM's `prepare_vmcs02()`: L2's registers into vmcs02 and KVM's vCPU
/// model. `Err` carries the exit qualification of a VM-entry failure.
fn prepare_vmcs02(nv: &mut Nv, v: &Vmcs12, from_vmentry: bool) -> Result<(), u64> {
    let c = Vmcs12Controls::of(v);
    let mut load_pdptrs12 = false;
    if nv.nested().dirty_vmcs12 {
        prepare_vmcs02_rare(nv, v);
        nv.nested().dirty_vmcs12 = false;
        load_pdptrs12 = true;
    }
    let run_pending = nv.nested().nested_run_pending;
    let host_freeze = nv.arch().host_debugctl & DEBUGCTLMSR_FREEZE_IN_SMM;
    if run_pending && c.entry.contains(EntryControls::LOAD_DEBUG_CONTROLS) {
        nv.set_dr7(v.guest_dr7);
        let vcpu = nv.raw();
        // SAFETY: the vCPU is ours (Nv invariant).
        let supported = unsafe { bindings::vmx_get_supported_debugctl(vcpu, false) };
        hw::write(
            e::GUEST_IA32_DEBUGCTL,
            (v.guest_ia32_debugctl & supported) | host_freeze,
        );
    } else {
        let dr7 = nv.arch().dr7 as u64;
        nv.set_dr7(dr7);
        let pre = nv.nested().pre_vmenter_debugctl;
        hw::write(e::GUEST_IA32_DEBUGCTL, pre | host_freeze);
    }
    // SAFETY: plain capability query.
    if unsafe { bindings::rnvmx_mpx_supported() }
        && (!run_pending || !c.entry.contains(EntryControls::LOAD_BNDCFGS))
    {
        let b = nv.nested().pre_vmenter_bndcfgs;
        hw::write(e::GUEST_BNDCFGS, b);
    }
    nv.set_rflags(v.guest_rflags);
    // SAFETY: the vCPU is ours; in guest mode vmx_update_exception_bitmap()
    // adds vmcs12's exception bitmap to L0's.
    unsafe { bindings::vmx_update_exception_bitmap(nv.raw()) };
    let owned = nv.arch().cr0_guest_owned_bits as u64 & !v.cr0_guest_host_mask;
    nv.arch().cr0_guest_owned_bits = owned as usize;
    hw::write(e::CR0_GUEST_HOST_MASK, !owned);
    if run_pending && c.entry.contains(EntryControls::LOAD_IA32_PAT) {
        hw::write(e::GUEST_IA32_PAT, v.guest_ia32_pat);
        nv.arch().pat = v.guest_ia32_pat;
    } else if EntryControls(vmcs_config().vmentry_ctrl).contains(EntryControls::LOAD_IA32_PAT) {
        let pat = nv.arch().pat;
        hw::write(e::GUEST_IA32_PAT, pat);
    }
    // TSC: L1's offset and multiplier composed with vmcs12's.
    let (l2_offset, l2_mult) = l2_tsc(v);
    let arch = nv.arch();
    // SAFETY: pure arithmetic helpers of KVM.
    let (offset, ratio) = unsafe {
        (
            bindings::kvm_calc_nested_tsc_offset(arch.l1_tsc_offset, l2_offset, l2_mult),
            bindings::kvm_calc_nested_tsc_multiplier(arch.l1_tsc_scaling_ratio, l2_mult),
        )
    };
    arch.tsc_offset = offset;
    arch.tsc_scaling_ratio = ratio;
    hw::write(e::TSC_OFFSET, offset);
    // SAFETY: plain capability query.
    if unsafe { bindings::rnvmx_has_tsc_control() } {
        hw::write(e::TSC_MULTIPLIER, ratio);
    }
    transition_tlb_flush(nv, TlbTag::of(v), true);
    if c.has_ept() {
        ept::init_mmu(nv);
    }
    nv.set_cr0(v.guest_cr0);
    hw::write(
        e::CR0_READ_SHADOW,
        nested_read_cr(v.guest_cr0, v.cr0_read_shadow, v.cr0_guest_host_mask),
    );
    nv.set_cr4(v.guest_cr4);
    hw::write(
        e::CR4_READ_SHADOW,
        nested_read_cr(v.guest_cr4, v.cr4_read_shadow, v.cr4_guest_host_mask),
    );
    let l2_efer = merge::l2_efer(v, nv.arch().efer, run_pending);
    nv.set_efer(l2_efer);
    // SDM 27.3.1: state KVM cannot run natively is an entry failure.
    let vcpu = nv.raw();
    // SAFETY: the vCPU is ours (Nv invariant).
    let valid = unrestricted_guest(nv) || unsafe { bindings::__vmx_guest_state_valid(vcpu) };
    if from_vmentry && !valid {
        stats::ENTRY_CHECK_FAILS.inc();
        trace::kvm_check_failed(c"from_vmentry && !vmx_guest_state_valid(vcpu)");
        return Err(entry_fail::DEFAULT);
    }
    load_cr3(nv, v.guest_cr3, c.has_ept(), from_vmentry)?;
    if enable_ept() {
        hw::write(e::GUEST_CR3, v.guest_cr3);
    }
    if load_pdptrs12 && c.has_ept() && nv.is_pae_paging() {
        copy_to_vmcs02(v, &PDPTRS);
    }
    nv.set_rsp(v.guest_rsp);
    nv.set_rip(v.guest_rip);
    Ok(())
}

pub(crate) const MSR_CORE_PERF_GLOBAL_CTRL: u32 = 0x38f;

/// KVM's `nested_read_cr0/4()`: what L2 reads, with L1's mask applied.
fn nested_read_cr(guest: u64, shadow: u64, mask: u64) -> u64 {
    (guest & !mask) | (shadow & mask)
}

/// vmcs02 runs L2 as an unrestricted guest.
fn unrestricted_guest(nv: &mut Nv) -> bool {
    Secondary(nv.controls_shadow().secondary_exec).contains(Secondary::UNRESTRICTED_GUEST)
}

/// KVM's `vmx_get_l2_tsc_offset/multiplier()`.
fn l2_tsc(v: &Vmcs12) -> (u64, u64) {
    let c = Vmcs12Controls::of(v);
    // SAFETY: plain capability query.
    let default_ratio = unsafe { bindings::rnvmx_default_tsc_scaling_ratio() };
    if !c.cpu.contains(CpuBased::USE_TSC_OFFSETTING) {
        return (0, default_ratio);
    }
    let mult = if c.sec.contains(Secondary::TSC_SCALING) {
        v.tsc_multiplier
    } else {
        default_ratio
    };
    (v.tsc_offset, mult)
}

/// What TLB flushing on a nested transition depends on in vmcs12.
#[derive(Clone, Copy)]
pub(crate) struct TlbTag {
    /// L1 enabled VPID for L2.
    vpid: bool,
    /// L2's VPID (vmcs12).
    vpid12: u16,
}

impl TlbTag {
    pub(crate) fn of(v: &Vmcs12) -> Self {
        TlbTag {
            vpid: Vmcs12Controls::of(v).sec.contains(Secondary::ENABLE_VPID),
            vpid12: v.virtual_processor_id,
        }
    }
}

/// KVM's `nested_vmx_transition_tlb_flush()`.
pub(crate) fn transition_tlb_flush(nv: &mut Nv, t: TlbTag, is_vmenter: bool) {
    if !t.vpid {
        nv.make_request(bindings::rnvmx_request_RNVMX_REQ_TLB_FLUSH_GUEST);
        return;
    }
    if is_vmenter && t.vpid12 != nv.nested().last_vpid {
        nv.nested().last_vpid = t.vpid12;
        nv.make_request(bindings::rnvmx_request_RNVMX_REQ_TLB_FLUSH_GUEST);
        return;
    }
    let has_tag = enable_ept() || nv.nested().vpid02 != 0;
    if !has_tag {
        nv.make_request(bindings::rnvmx_request_RNVMX_REQ_TLB_FLUSH_CURRENT);
    }
}

/// KVM's `nested_vmx_load_cr3()`; `Err` is the entry-failure qualification.
pub(crate) fn load_cr3(
    nv: &mut Nv,
    cr3: u64,
    nested_ept: bool,
    reload_pdptrs: bool,
) -> Result<(), u64> {
    if !nv.legal_cr3(cr3) {
        trace::kvm_check_failed(c"!kvm_vcpu_is_legal_cr3(vcpu, cr3)");
        return Err(entry_fail::DEFAULT);
    }
    if reload_pdptrs && !nested_ept && nv.is_pae_paging() {
        let vcpu = nv.raw();
        // SAFETY: the vCPU is ours (Nv invariant).
        if unsafe { bindings::load_pdptrs(vcpu, cr3 as usize) } == 0 {
            trace::kvm_check_failed(c"!load_pdptrs(vcpu, cr3)");
            return Err(entry_fail::PDPTE);
        }
    }
    nv.arch().cr3 = cr3 as usize;
    let vcpu = nv.raw();
    // SAFETY: the vCPU is ours (Nv invariant).
    unsafe {
        bindings::rnvmx_register_mark_dirty(vcpu, bindings::kvm_reg_VCPU_EXREG_CR3 as ffi::c_int);
        bindings::kvm_init_mmu(vcpu);
        if !nested_ept {
            bindings::kvm_mmu_new_pgd(vcpu, cr3);
        }
    }
    Ok(())
}

/// KVM's `nested_get_vmcs12_pages()`: maps the L1 pages vmcs02 points to.
pub(crate) fn get_vmcs12_pages(nv: &mut Nv, v: &Vmcs12) -> bool {
    let c = Vmcs12Controls::of(v);
    let vcpu = nv.raw();
    if !nv.arch().pdptrs_from_userspace && !c.has_ept() && nv.is_pae_paging() {
        let cr3 = nv.arch().cr3;
        // SAFETY: the vCPU is ours (Nv invariant).
        if unsafe { bindings::load_pdptrs(vcpu, cr3) } == 0 {
            return false;
        }
    }
    if c.sec.contains(Secondary::VIRTUALIZE_APIC_ACCESSES) {
        match nv.map_l1_page(v.apic_access_addr, MapSlot::ApicAccess) {
            Some(hpa) => hw::write(e::APIC_ACCESS_ADDR, hpa),
            None => return false,
        }
    }
    if c.cpu.contains(CpuBased::TPR_SHADOW) {
        match nv.map_l1_page(v.virtual_apic_page_addr, MapSlot::VirtualApic) {
            Some(hpa) => hw::write(e::VIRTUAL_APIC_PAGE_ADDR, hpa),
            None if c
                .cpu
                .contains(CpuBased::CR8_LOAD_EXITING | CpuBased::CR8_STORE_EXITING)
                && !c.sec.contains(Secondary::VIRTUALIZE_APIC_ACCESSES) =>
            {
                let exec = nv.controls_shadow().exec & !CpuBased::TPR_SHADOW.bits();
                nv.set_control(Control::Exec, exec);
            }
            None => hw::write(e::VIRTUAL_APIC_PAGE_ADDR, INVALID_GPA),
        }
    }
    if c.pin.contains(PinBased::POSTED_INTR) {
        posted_intr::map_desc(nv, v.posted_intr_desc_addr);
    }
    let exec = nv.controls_shadow().exec;
    let exec = if crate::msr_bitmap::prepare(nv, v) {
        exec | CpuBased::USE_MSR_BITMAPS.bits()
    } else {
        exec & !CpuBased::USE_MSR_BITMAPS.bits()
    };
    nv.set_control(Control::Exec, exec);
    true
}

/// L1 memory and MSRs as the core's MSR-list code uses them.
pub(crate) struct MsrIo<'a>(pub(crate) &'a mut Nv);

impl msr_list::MsrAccess for MsrIo<'_> {
    fn read_entry(&mut self, gpa: u64) -> Option<msr_list::MsrEntry> {
        let mut raw = [0u8; 16];
        if !self.0.read_gpa(gpa, &mut raw) {
            return None;
        }
        let word = |i: usize| {
            raw.get(i..i + 4)
                .and_then(|s| s.try_into().ok())
                .map(u32::from_le_bytes)
        };
        let value = raw
            .get(8..16)
            .and_then(|s| s.try_into().ok())
            .map(u64::from_le_bytes);
        Some(msr_list::MsrEntry {
            index: word(0)?,
            reserved: word(4)?,
            value: value?,
        })
    }
    fn write_value(&mut self, gpa: u64, value: u64) -> bool {
        self.0.write_gpa(gpa, &value.to_le_bytes())
    }
    // The lists are L1's accesses: userspace's MSR filter applies to them
    // as to L1's own RDMSR/WRMSR (nested.c's *_with_filter calls).
    fn set_msr(&mut self, index: u32, value: u64) -> bool {
        let vcpu = self.0.raw();
        // SAFETY: the vCPU is ours (Nv invariant) and loaded, as for every
        // list walk (VM entry, VM exit, vmx_leave_nested()).
        unsafe { bindings::kvm_set_msr_with_filter(vcpu, index, value) == 0 }
    }
    fn x2apic_mode(&mut self) -> bool {
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::rnvmx_x2apic_mode(self.0.raw()) }
    }
    fn get_msr(&mut self, index: u32) -> Option<u64> {
        // The TSC the CPU stored at the exit, when vmcs02 has it stored
        // (nested_vmx_get_vmexit_msr_value(): not filtered, as KVM's).
        if index == crate::msr_autostore::MSR_IA32_TSC {
            if let Some(tsc) = crate::msr_autostore::stored_tsc(self.0) {
                return Some(tsc);
            }
        }
        let vcpu = self.0.raw();
        let mut data = 0u64;
        // SAFETY: the vCPU is ours (Nv invariant); `data` is a valid
        // out-pointer for the call.
        (unsafe { bindings::kvm_get_msr_with_filter(vcpu, index, &mut data) } == 0).then_some(data)
    }
}

/// The number of entries an MSR list may have (IA32_VMX_MISC).
pub(crate) fn msr_list_max(nv: &mut Nv) -> u32 {
    msr_list::max_entries(u64::from(msrs(nv).misc_low))
}

/// KVM's `nested_vmx_load_msr()`: 0, or the 1-based index of the failing
/// entry.
pub(crate) fn load_msr_list(nv: &mut Nv, gpa: u64, count: u32) -> u32 {
    if count == 0 {
        return 0;
    }
    let max = msr_list_max(nv);
    match msr_list::load_list(&mut MsrIo(nv), gpa, count, max) {
        Ok(()) => 0,
        Err(i) => i,
    }
}
