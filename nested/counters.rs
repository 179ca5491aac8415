// SPDX-License-Identifier: GPL-2.0

//! What the backend handled, counted: the proof, in a test run, that a VM
//! was handled by this backend and not by the built-in one. Each counter
//! has a name, which the module shows as a file in `/sys/kernel/debug/rnvmx/`
//! (rust/stats.rs), and the exits from L2 are counted by basic reason.
//! Counting is a relaxed atomic add: exact, in no order with anything else.

use core::ffi::CStr;
use core::sync::atomic::{AtomicU64, Ordering};

/// One event counter.
#[repr(transparent)]
pub struct Counter(AtomicU64);

impl Counter {
    /// A counter at 0.
    pub const fn new() -> Self {
        Counter(AtomicU64::new(0))
    }

    /// Counts one event.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes back one event counted too early (never below 0).
    pub fn dec(&self) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
    }

    /// The count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// The count's address, for a reader of plain aligned u64s (debugfs).
    pub fn as_ptr(&self) -> *mut u64 {
        self.0.as_ptr()
    }
}

impl Default for Counter {
    fn default() -> Self {
        Self::new()
    }
}

/// VMs bound to this backend since it was loaded.
pub static VM_BINDINGS: Counter = Counter::new();
/// vCPUs created in VMs bound to this backend.
pub static VCPUS: Counter = Counter::new();
/// Successful nested VM-entries (L1 -> L2).
pub static L2_ENTRIES: Counter = Counter::new();
/// Nested VM-exits (L2 -> L1).
pub static L2_EXITS: Counter = Counter::new();
/// Host-initiated writes of VMX capability MSRs handled.
pub static VMX_MSR_WRITES: Counter = Counter::new();
/// VMX instructions of L1 emulated.
pub static INSTRUCTIONS: Counter = Counter::new();
/// VM entries refused by a VM-entry check (VMfail or entry-failure exit).
pub static ENTRY_CHECK_FAILS: Counter = Counter::new();
/// VM-entry failures reported to L1 as exits.
pub static L2_ENTRY_FAILURES: Counter = Counter::new();
/// Exits from L2 reflected to L1 (the rest are handled by L0).
pub static L2_REFLECTED: Counter = Counter::new();
/// EPT violations and misconfigurations of L1's EPT tables, sent to L1.
pub static L2_EPT_FAULTS: Counter = Counter::new();
/// EPTP switches of L2 by VMFUNC.
pub static EPTP_SWITCHES: Counter = Counter::new();
/// kvm_nested_vmenter events emitted (each nested entry past the control
/// and host-state checks; counted only while the event is enabled): the
/// trace's count of them when every entry was rnvmx's.
pub static VMENTER_EVENTS: Counter = Counter::new();
/// GPAs L2 dirtied written to L1's PML buffer.
pub static PML_LOGGED: Counter = Counter::new();
/// Posted-interrupt notifications for L2 completed (PIR moved to the IRR).
pub static POSTED_INTR_COMPLETIONS: Counter = Counter::new();
/// RSMs into L2 refused because vmcs12 failed a check (L1 shut down).
pub static RSM_CHECK_FAILS: Counter = Counter::new();
/// KVM_SET_NESTED_STATE calls handled (those past x86.c's own checks).
pub static SET_NESTED_STATES: Counter = Counter::new();
/// VMREAD/VMWRITE failures on the hardware VMCS (should stay 0).
pub static VMCS_ERRORS: Counter = Counter::new();
/// KVM_GET_NESTED_STATE calls that returned a state with L2 running
/// (KVM_STATE_NESTED_GUEST_MODE): what a migration away from this backend
/// with a live L2 saves.
pub static STATE_SAVES_L2: Counter = Counter::new();
/// KVM_SET_NESTED_STATE calls that restored a state into L2
/// (KVM_STATE_NESTED_GUEST_MODE) successfully.
pub static STATE_RESTORES_L2: Counter = Counter::new();
/// KVM_ENABLE_CAP(KVM_CAP_HYPERV_ENLIGHTENED_VMCS) of a vCPU.
pub static EVMCS_ENABLES: Counter = Counter::new();
/// Enlightened VMPTRLDs that mapped a new eVMCS (VMLAUNCH/VMRESUME with
/// another eVMCS, or the restore of one).
pub static EVMCS_VMPTRLDS: Counter = Counter::new();
/// VMLAUNCH/VMRESUMEs of an eVMCS L1 (vmcs12 copied from the eVMCS).
pub static EVMCS_RUNS: Counter = Counter::new();
/// Entries that kept vmcs02's MSR bitmap: L1's enlightened MSR bitmap
/// declared it clean.
pub static EVMCS_MSR_BITMAP_KEPT: Counter = Counter::new();
/// L2 Hyper-V TLB-flush hypercalls L0 handled itself (direct flush).
pub static HV_L2_TLB_FLUSHES: Counter = Counter::new();
/// Synthetic exits to L1 after such a flush (TRAP_AFTER_FLUSH).
pub static HV_SYNTHETIC_EXITS: Counter = Counter::new();

/// The basic exit reasons counted (SDM Appendix C: 0 to 79).
pub const NR_REASONS: usize = 80;
/// Hardware exits from L2, by basic exit reason.
pub static EXITS_BY_REASON: [Counter; NR_REASONS] = [const { Counter::new() }; NR_REASONS];

/// Counts a hardware exit from L2 with this basic reason.
pub fn count_exit(reason: u16) {
    if let Some(c) = EXITS_BY_REASON.get(usize::from(reason)) {
        c.inc();
    }
}

/// Every counter but the exits by reason, by its name.
pub static NAMED: [(&CStr, &Counter); 25] = [
    (c"vm_bindings", &VM_BINDINGS),
    (c"vcpus", &VCPUS),
    (c"l2_entries", &L2_ENTRIES),
    (c"eptp_switches", &EPTP_SWITCHES),
    (c"l2_exits", &L2_EXITS),
    (c"vmx_msr_writes", &VMX_MSR_WRITES),
    (c"instructions", &INSTRUCTIONS),
    (c"entry_check_fails", &ENTRY_CHECK_FAILS),
    (c"l2_entry_failures", &L2_ENTRY_FAILURES),
    (c"l2_reflected", &L2_REFLECTED),
    (c"l2_ept_faults", &L2_EPT_FAULTS),
    (c"vmcs_errors", &VMCS_ERRORS),
    (c"pml_logged", &PML_LOGGED),
    (c"vmenter_events", &VMENTER_EVENTS),
    (c"posted_intr_completions", &POSTED_INTR_COMPLETIONS),
    (c"rsm_check_fails", &RSM_CHECK_FAILS),
    (c"state_saves_l2", &STATE_SAVES_L2),
    (c"state_restores_l2", &STATE_RESTORES_L2),
    (c"set_nested_state", &SET_NESTED_STATES),
    (c"evmcs_enables", &EVMCS_ENABLES),
    (c"evmcs_vmptrlds", &EVMCS_VMPTRLDS),
    (c"evmcs_runs", &EVMCS_RUNS),
    (c"evmcs_msr_bitmap_kept", &EVMCS_MSR_BITMAP_KEPT),
    (c"hv_l2_tlb_flushes", &HV_L2_TLB_FLUSHES),
    (c"hv_synthetic_exits", &HV_SYNTHETIC_EXITS),
];

/// The name of the exit-by-reason counter `n`: its two decimal digits.
pub const fn reason_name(n: usize) -> [u8; 3] {
    [b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8, 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_and_plain() {
        for (i, (a, _)) in NAMED.iter().enumerate() {
            let s = a.to_str().unwrap_or("");
            assert!(
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{a:?}"
            );
            assert!(NAMED[..i].iter().all(|(b, _)| b != a), "{a:?} twice");
        }
    }

    #[test]
    fn counts_and_takes_back() {
        let c = Counter::new();
        c.dec();
        assert_eq!(c.get(), 0, "never below 0");
        c.inc();
        c.inc();
        c.dec();
        assert_eq!(c.get(), 1);
    }

    #[test]
    fn exits_by_reason() {
        let before = EXITS_BY_REASON[18].get();
        count_exit(18);
        count_exit(NR_REASONS as u16);
        assert_eq!(EXITS_BY_REASON[18].get(), before + 1);
        assert_eq!(reason_name(7), *b"07\0");
        assert_eq!(reason_name(59), *b"59\0");
    }
}
