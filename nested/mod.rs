// SPDX-License-Identifier: GPL-2.0

//! Nested VMX emulation logic that needs no hardware: what KVM decides for
//! each VMX instruction, and for each exit from L2, before touching
//! vmcs01/vmcs02.

pub mod events;
pub mod exit_reason;
pub mod host_state;
pub mod insn;
pub mod invalidate;
pub mod merge;
pub mod msr_bitmap;
pub mod msr_list;
pub mod pending;
pub mod pml;
pub mod posted_intr;
pub mod preemption_timer;
pub mod reflect;
pub mod rsm;
pub mod state;
pub mod vmcs02;
pub mod vmfunc;
