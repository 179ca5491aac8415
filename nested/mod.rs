// SPDX-License-Identifier: GPL-2.0

//! Nested VMX emulation logic that needs no hardware: what KVM decides for
//! each VMX instruction, and for each exit from L2, before touching
//! vmcs01/vmcs02.

pub mod check_events;
pub mod counters;
pub mod entry_vcpu;
pub mod ept;
pub mod events;
pub use crate::vmcs::exit_reason;
pub mod guest_valid;
pub mod host_load;
pub mod host_state;
pub mod insn;
pub mod insn_exec;
pub mod invalidate;
pub mod lifecycle;
pub mod merge;
#[cfg(any(test, feature = "model"))]
pub mod model;
#[cfg(any(test, feature = "model"))]
pub mod model_entry;
#[cfg(any(test, feature = "model"))]
pub mod model_events;
#[cfg(any(test, feature = "model"))]
pub mod model_insn;
#[cfg(any(test, feature = "model"))]
pub mod model_pages;
#[cfg(any(test, feature = "model"))]
pub mod model_shadow;
#[cfg(any(test, feature = "model"))]
pub mod model_state;
pub mod msr_autostore;
pub mod msr_bitmap;
pub mod msr_list;
pub mod paging;
pub mod pending;
pub mod pml;
pub mod posted_intr;
pub mod preemption_timer;
pub mod prepare02;
pub mod reflect;
pub mod reflect_exit;
pub mod rsm;
pub mod shadow_vmcs;
pub mod state;
pub mod state_get;
#[cfg(test)]
mod state_get_tests;
pub mod state_header;
pub mod state_set;
#[cfg(test)]
mod state_set_tests;
pub mod state_vcpu;
pub mod state_vmcs12;
pub mod vcpu;
pub mod vmcs02;
pub mod vmcs12_pages;
pub mod vmentry;
pub mod vmexit;
pub mod vmfail;
pub mod vmfunc;
