// SPDX-License-Identifier: GPL-2.0

//! L1's VMX-preemption timer, emulated with an hrtimer as KVM does
//! (`vmx_calc_preemption_timer_value()`, `vmx_start_preemption_timer()`,
//! `vmx_get_preemption_timer_value()`): the arithmetic, in values.
//!
//! The timer counts down by 1 every 2^5 ticks of L1's TSC (the rate KVM
//! reports in IA32_VMX_MISC[4:0], `misc::EMULATED_PREEMPTION_TIMER_RATE`;
//! SDM 25.5.1 "VMX-Preemption Timer"). At VM entry KVM fixes a deadline in
//! those units (kept across KVM_GET/SET_NESTED_STATE), arms an hrtimer for
//! the time left, and on a nested VM exit that saves the timer value stores
//! what is left.

use crate::vmcs::caps::misc::EMULATED_PREEMPTION_TIMER_RATE as RATE;

/// The deadline of an entry, in L1 TSC >> 5 units: the saved one when L2
/// resumes (`saved`, KVM's `has_preemption_timer_deadline`), else the
/// vmcs12 value from now.
pub const fn deadline(saved: Option<u64>, vmcs12_value: u32, l1_scaled_tsc: u64) -> u64 {
    match saved {
        Some(d) => d,
        None => l1_scaled_tsc.wrapping_add(vmcs12_value as u64),
    }
}

/// The timer value left until `deadline`. A deadline already past (a state
/// restored late, a resume after the deadline) is 0, an exit before any L2
/// instruction (SDM 25.5.1). KVM 6.12 computes `deadline - now` in u64,
/// which wraps to a timer that in effect never fires: the SDM's countdown
/// cannot go below 0, so this departs from C there.
pub const fn remaining(deadline: u64, l1_scaled_tsc: u64) -> u64 {
    deadline.saturating_sub(l1_scaled_tsc)
}

/// The longest hrtimer timeout, KVM's KTIME_MAX: past it an absolute
/// expiry would wrap into the past and fire at once.
pub const KTIME_MAX_NS: u64 = i64::MAX as u64;

/// Nanoseconds for `value` timer units at an L1 TSC of `tsc_khz` kHz, or
/// `None` when the vCPU has no TSC frequency (KVM then arms no timer).
/// Exact up to KTIME_MAX_NS, to which it is clamped; `value` is not only a
/// 32-bit vmcs12 value but also what is left of a saved deadline (up to
/// 2^59 after L1's TSC went back during SMM), where KVM's u64 arithmetic
/// wraps. No 128-bit division: the kernel has none.
pub const fn timeout_ns(value: u64, tsc_khz: u32) -> Option<u64> {
    if tsc_khz == 0 {
        return None;
    }
    let khz = tsc_khz as u64;
    let ticks = value.saturating_mul(1 << RATE);
    // ticks * 10^6 / khz without overflow: whole quotient, then the rest
    // (rest < khz < 2^32, so rest * 10^6 fits).
    let ns = (ticks / khz)
        .saturating_mul(1_000_000)
        .saturating_add(ticks % khz * 1_000_000 / khz);
    Some(if ns > KTIME_MAX_NS { KTIME_MAX_NS } else { ns })
}

/// The timer value vmcs12 saves at a nested VM exit with `remaining_ns`
/// left on the hrtimer (0 once it expired), truncated to 32 bits as KVM's.
pub const fn saved_value(remaining_ns: i64, tsc_khz: u32) -> u32 {
    if remaining_ns <= 0 {
        return 0;
    }
    let ns = remaining_ns as u64;
    let khz = tsc_khz as u64;
    // ns * khz / 10^6 without overflow: whole milliseconds, then the rest.
    let ticks = (ns / 1_000_000)
        .saturating_mul(khz)
        .saturating_add(ns % 1_000_000 * khz / 1_000_000);
    (ticks >> RATE) as u32
}

/// The vCPU's emulated VMX-preemption timer, as the glue keeps it (an
/// hrtimer, KVM's `nested.preemption_timer`). Every method applies or
/// reports one thing.
pub trait TimerVcpu {
    /// L1's TSC now, in timer units (`kvm_read_l1_tsc(vcpu, rdtsc()) >> 5`).
    fn l1_scaled_tsc(&mut self) -> u64;
    /// The deadline kept across KVM_GET/SET_NESTED_STATE, if there is one
    /// (`nested.has_preemption_timer_deadline`).
    fn timer_deadline(&mut self) -> Option<u64>;
    /// Keeps `deadline` (and sets `has_preemption_timer_deadline`).
    fn set_timer_deadline(&mut self, deadline: u64);
    /// `vcpu->arch.virtual_tsc_khz` (0: unknown).
    fn tsc_khz(&mut self) -> u32;
    /// Runs the expiry now (`vmx_preemption_timer_fn()`), as the hrtimer
    /// would.
    fn expire_timer_now(&mut self);
    /// Arms the hrtimer `ns` from now.
    fn arm_timer(&mut self, ns: u64);
    /// `nested.preemption_timer_expired`.
    fn timer_expired(&mut self) -> bool;
    /// The time left on the hrtimer (`hrtimer_get_remaining()`), in ns.
    fn timer_remaining_ns(&mut self) -> i64;
}

/// At a nested VM entry with the timer active: KVM's
/// `vmx_calc_preemption_timer_value()` and `vmx_start_preemption_timer()`.
pub fn start<V: TimerVcpu>(k: &mut V, vmcs12_value: u32) {
    let now = k.l1_scaled_tsc();
    let saved = k.timer_deadline();
    let d = deadline(saved, vmcs12_value, now);
    k.set_timer_deadline(d);
    let value = remaining(d, now);
    if value == 0 {
        // An exit before any L2 instruction: expired now (SDM 25.5.1).
        k.expire_timer_now();
        return;
    }
    let khz = k.tsc_khz();
    if let Some(ns) = timeout_ns(value, khz) {
        k.arm_timer(ns);
    }
}

/// The value a nested VM exit saves in vmcs12 (KVM's
/// `vmx_get_preemption_timer_value()`). 0 once the timer expired: an entry
/// with value 0 (or without a TSC frequency) arms no hrtimer, whose expiry
/// is then an earlier entry's; nested.c would save what is left of that.
pub fn value_at_exit<V: TimerVcpu>(k: &mut V) -> u32 {
    let khz = k.tsc_khz();
    if k.timer_expired() {
        return 0;
    }
    let ns = k.timer_remaining_ns();
    saved_value(ns, khz)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nested::model_pages::{TimerCall, TimerModel};

    #[test]
    fn deadline_is_fixed_at_the_first_entry() {
        assert_eq!(deadline(None, 100, 1_000), 1_100);
        assert_eq!(deadline(Some(1_050), 100, 1_000), 1_050);
        assert_eq!(remaining(1_100, 1_000), 100);
    }

    #[test]
    fn a_deadline_in_the_past_is_an_immediate_exit() {
        // KVM's u64 subtraction would give 2^64 - 10: no exit for ages.
        assert_eq!(remaining(1_000, 1_010), 0);
    }

    #[test]
    fn timeout_in_ns() {
        // 50 MHz TSC (the test bed's): one unit is 32 ticks = 640 ns.
        assert_eq!(timeout_ns(1, 50_000), Some(640));
        assert_eq!(timeout_ns(1_000_000, 50_000), Some(640_000_000));
        assert_eq!(timeout_ns(5, 0), None);
        assert_eq!(timeout_ns(u64::MAX, 1), Some(KTIME_MAX_NS));
        // Exact where a product of KVM's would overflow: 2^40 units at
        // 2.5 GHz are 2^45 ticks, 14,073.7 s.
        assert_eq!(
            timeout_ns(1 << 40, 2_500_000),
            Some(
                (1u64 << 45) / 2_500_000 * 1_000_000
                    + (1u64 << 45) % 2_500_000 * 1_000_000 / 2_500_000
            )
        );
        assert_eq!(timeout_ns(1 << 40, 2_500_000), Some(14_073_748_835_532));
    }

    #[test]
    fn saved_value_round_trips_and_clamps() {
        let ns = timeout_ns(12_345, 2_500_000).unwrap_or_default();
        // Truncation can lose at most one unit.
        let back = saved_value(ns as i64, 2_500_000);
        assert!(back == 12_345 || back == 12_344, "{back}");
        assert_eq!(saved_value(0, 2_500_000), 0);
        assert_eq!(saved_value(-5, 2_500_000), 0);
        // Absurd inputs saturate instead of overflowing.
        assert_eq!(saved_value(i64::MAX, u32::MAX), (u64::MAX >> 5) as u32);
        // Exact where KVM's product fits: 1 s at 2.5 GHz is 2.5e9 ticks.
        assert_eq!(
            saved_value(1_000_000_000, 2_500_000),
            (2_500_000_000u64 >> 5) as u32
        );
    }

    #[test]
    fn start_fixes_the_deadline_and_arms() {
        let mut m = TimerModel {
            tsc: 1_000,
            khz: 50_000,
            ..TimerModel::default()
        };
        start(&mut m, 100);
        assert_eq!(m.deadline, Some(1_100));
        assert_eq!(m.log, [TimerCall::Arm(64_000)]);
        // Resumed later (saved state): the same deadline, less time.
        m.tsc = 1_050;
        m.log.clear();
        start(&mut m, 100);
        assert_eq!(m.deadline, Some(1_100));
        assert_eq!(m.log, [TimerCall::Arm(32_000)]);
    }

    #[test]
    fn start_at_zero_expires_at_once() {
        let mut m = TimerModel {
            tsc: 1_000,
            khz: 50_000,
            ..TimerModel::default()
        };
        start(&mut m, 0);
        assert_eq!(m.log, [TimerCall::ExpireNow]);
        assert_eq!(m.deadline, Some(1_000));
        // A deadline in the past: expired too, even without a frequency.
        let mut m = TimerModel {
            tsc: 2_000,
            deadline: Some(1_500),
            ..TimerModel::default()
        };
        start(&mut m, 7);
        assert_eq!(m.log, [TimerCall::ExpireNow]);
        assert_eq!(m.deadline, Some(1_500));
    }

    #[test]
    fn start_without_a_tsc_frequency_arms_nothing() {
        let mut m = TimerModel {
            tsc: 10,
            ..TimerModel::default()
        };
        start(&mut m, 5);
        assert!(m.log.is_empty());
        assert_eq!(m.deadline, Some(15));
    }

    #[test]
    fn value_at_exit_is_what_is_left() {
        let mut m = TimerModel {
            khz: 50_000,
            remaining_ns: 64_000,
            ..TimerModel::default()
        };
        assert_eq!(value_at_exit(&mut m), 100);
        m.expired = true;
        assert_eq!(value_at_exit(&mut m), 0, "expired: 0");
        m.expired = false;
        m.remaining_ns = -1;
        assert_eq!(value_at_exit(&mut m), 0);
    }
}
