// SPDX-License-Identifier: GPL-2.0

//! What the backend handled, counted, and shown in `/sys/kernel/debug/rnvmx/`.
//!
//! The counters are what proves, in a test run, that a VM was handled by this
//! backend and not by the built-in one.

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{c_str, prelude::*};

use crate::bindings;

/// One event counter.
pub(crate) struct Counter(AtomicU64);

impl Counter {
    const fn new() -> Self {
        Counter(AtomicU64::new(0))
    }

    /// Counts one event.
    pub(crate) fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes back one event counted too early (never below 0).
    pub(crate) fn dec(&self) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
    }
}

/// VMs bound to this backend since it was loaded.
pub(crate) static VM_BINDINGS: Counter = Counter::new();
/// vCPUs created in VMs bound to this backend.
pub(crate) static VCPUS: Counter = Counter::new();
/// Successful nested VM-entries (L1 -> L2).
pub(crate) static L2_ENTRIES: Counter = Counter::new();
/// Nested VM-exits (L2 -> L1).
pub(crate) static L2_EXITS: Counter = Counter::new();
/// Host-initiated writes of VMX capability MSRs handled.
pub(crate) static VMX_MSR_WRITES: Counter = Counter::new();
/// VMX instructions of L1 emulated.
pub(crate) static INSTRUCTIONS: Counter = Counter::new();
/// VM entries refused by a VM-entry check (VMfail or entry-failure exit).
pub(crate) static ENTRY_CHECK_FAILS: Counter = Counter::new();
/// VM-entry failures reported to L1 as exits.
pub(crate) static L2_ENTRY_FAILURES: Counter = Counter::new();
/// Exits from L2 reflected to L1 (the rest are handled by L0).
pub(crate) static L2_REFLECTED: Counter = Counter::new();
/// EPT violations and misconfigurations of L1's EPT tables, sent to L1.
pub(crate) static L2_EPT_FAULTS: Counter = Counter::new();
/// EPTP switches of L2 by VMFUNC.
pub(crate) static EPTP_SWITCHES: Counter = Counter::new();
/// kvm_nested_vmenter events emitted (each nested entry past the control
/// and host-state checks; counted only while the event is enabled): the
/// trace's count of them when every entry was rnvmx's.
pub(crate) static VMENTER_EVENTS: Counter = Counter::new();
/// GPAs L2 dirtied written to L1's PML buffer.
pub(crate) static PML_LOGGED: Counter = Counter::new();
/// Posted-interrupt notifications for L2 completed (PIR moved to the IRR).
pub(crate) static POSTED_INTR_COMPLETIONS: Counter = Counter::new();
/// RSMs into L2 refused because vmcs12 failed a check (L1 shut down).
pub(crate) static RSM_CHECK_FAILS: Counter = Counter::new();
/// KVM_SET_NESTED_STATE calls handled (those past x86.c's own checks).
pub(crate) static SET_NESTED_STATES: Counter = Counter::new();
/// VMREAD/VMWRITE failures on the hardware VMCS (should stay 0).
pub(crate) static VMCS_ERRORS: Counter = Counter::new();
/// KVM_GET_NESTED_STATE calls that returned a state with L2 running
/// (KVM_STATE_NESTED_GUEST_MODE): what a migration away from this backend
/// with a live L2 saves.
pub(crate) static STATE_SAVES_L2: Counter = Counter::new();
/// KVM_SET_NESTED_STATE calls that restored a state into L2
/// (KVM_STATE_NESTED_GUEST_MODE) successfully.
pub(crate) static STATE_RESTORES_L2: Counter = Counter::new();
/// KVM_ENABLE_CAP(KVM_CAP_HYPERV_ENLIGHTENED_VMCS) of a vCPU.
pub(crate) static EVMCS_ENABLES: Counter = Counter::new();
/// Enlightened VMPTRLDs that mapped a new eVMCS (VMLAUNCH/VMRESUME with
/// another eVMCS, or the restore of one).
pub(crate) static EVMCS_VMPTRLDS: Counter = Counter::new();
/// VMLAUNCH/VMRESUMEs of an eVMCS L1 (vmcs12 copied from the eVMCS).
pub(crate) static EVMCS_RUNS: Counter = Counter::new();
/// Entries that kept vmcs02's MSR bitmap: L1's enlightened MSR bitmap
/// declared it clean.
pub(crate) static EVMCS_MSR_BITMAP_KEPT: Counter = Counter::new();
/// L2 Hyper-V TLB-flush hypercalls L0 handled itself (direct flush).
pub(crate) static HV_L2_TLB_FLUSHES: Counter = Counter::new();
/// Synthetic exits to L1 after such a flush (TRAP_AFTER_FLUSH).
pub(crate) static HV_SYNTHETIC_EXITS: Counter = Counter::new();

/// Hardware exits from L2, by basic exit reason (SDM Appendix C).
const NR_REASONS: usize = 80;
static EXITS_BY_REASON: [Counter; NR_REASONS] = [const { Counter::new() }; NR_REASONS];

/// Counts a hardware exit from L2 with this basic reason.
pub(crate) fn count_exit(reason: u16) {
    if let Some(c) = EXITS_BY_REASON.get(usize::from(reason)) {
        c.inc();
    }
}

const FILES: [(&CStr, &Counter); 25] = [
    (c_str!("vm_bindings"), &VM_BINDINGS),
    (c_str!("vcpus"), &VCPUS),
    (c_str!("l2_entries"), &L2_ENTRIES),
    (c_str!("eptp_switches"), &EPTP_SWITCHES),
    (c_str!("l2_exits"), &L2_EXITS),
    (c_str!("vmx_msr_writes"), &VMX_MSR_WRITES),
    (c_str!("instructions"), &INSTRUCTIONS),
    (c_str!("entry_check_fails"), &ENTRY_CHECK_FAILS),
    (c_str!("l2_entry_failures"), &L2_ENTRY_FAILURES),
    (c_str!("l2_reflected"), &L2_REFLECTED),
    (c_str!("l2_ept_faults"), &L2_EPT_FAULTS),
    (c_str!("vmcs_errors"), &VMCS_ERRORS),
    (c_str!("pml_logged"), &PML_LOGGED),
    (c_str!("vmenter_events"), &VMENTER_EVENTS),
    (c_str!("posted_intr_completions"), &POSTED_INTR_COMPLETIONS),
    (c_str!("rsm_check_fails"), &RSM_CHECK_FAILS),
    (c_str!("state_saves_l2"), &STATE_SAVES_L2),
    (c_str!("state_restores_l2"), &STATE_RESTORES_L2),
    (c_str!("set_nested_state"), &SET_NESTED_STATES),
    (c_str!("evmcs_enables"), &EVMCS_ENABLES),
    (c_str!("evmcs_vmptrlds"), &EVMCS_VMPTRLDS),
    (c_str!("evmcs_runs"), &EVMCS_RUNS),
    (c_str!("evmcs_msr_bitmap_kept"), &EVMCS_MSR_BITMAP_KEPT),
    (c_str!("hv_l2_tlb_flushes"), &HV_L2_TLB_FLUSHES),
    (c_str!("hv_synthetic_exits"), &HV_SYNTHETIC_EXITS),
];

/// The `rnvmx` debugfs directory; removed with everything in it on drop.
///
/// # Invariants
///
/// `dir` is the dentry debugfs returned for the directory, or an error
/// pointer if debugfs is unavailable (which the debugfs calls accept).
pub(crate) struct DebugFs {
    dir: *mut bindings::dentry,
}

// SAFETY: the dentry is only handed back to debugfs, which does its own
// locking; it may be released from any thread.
unsafe impl Send for DebugFs {}
// SAFETY: `DebugFs` has no methods taking `&self`.
unsafe impl Sync for DebugFs {}

impl DebugFs {
    /// Creates the directory and one read-only file per counter.
    ///
    /// A kernel without debugfs gets an error pointer, which the other
    /// debugfs calls ignore: the counters are then simply not shown.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: the name is a NUL-terminated string; a NULL parent means
        // the debugfs root.
        let dir = unsafe {
            bindings::debugfs_create_dir(c_str!("rnvmx").as_char_ptr(), core::ptr::null_mut())
        };
        for (name, counter) in FILES {
            // SAFETY: the counters are statics, so they outlive the files,
            // which are removed with `dir` in `drop` before the module text
            // and data go away; debugfs reads them as plain aligned u64.
            unsafe {
                bindings::debugfs_create_u64(name.as_char_ptr(), 0o444, dir, counter.0.as_ptr())
            };
        }
        // exit_reason/<n>: hardware exits from L2 with basic reason n.
        // SAFETY: `dir` is the directory created above (or an error pointer,
        // which debugfs accepts and ignores); the name is a NUL-terminated
        // static string.
        let sub = unsafe { bindings::debugfs_create_dir(c_str!("exit_reason").as_char_ptr(), dir) };
        for (n, counter) in EXITS_BY_REASON.iter().enumerate() {
            let name = [b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8, 0];
            // SAFETY: the counters are statics that outlive the files, removed
            // with `dir` in `drop` before module unload; debugfs reads them as
            // plain aligned u64 and copies `name`, a NUL-terminated stack
            // buffer.
            unsafe {
                bindings::debugfs_create_u64(name.as_ptr().cast(), 0o444, sub, counter.0.as_ptr())
            };
        }
        // INVARIANT: `dir` came from debugfs_create_dir.
        Ok(DebugFs { dir })
    }
}

impl Drop for DebugFs {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `dir` came from debugfs and has not
        // been removed yet; debugfs_remove() removes it recursively.
        unsafe { bindings::debugfs_remove(self.dir) };
    }
}
