// SPDX-License-Identifier: GPL-2.0

//! Hyper-V's enlightened VMCS (eVMCS). `layout` and `clean` are the
//! structure and its clean-field groups, which the one field table
//! (`crate::vmcs::table`) uses for its eVMCS column; the others stand above
//! the table and below `crate::nested`: the controls eVMCS v1 expresses
//! (`controls`), the copies between eVMCS and vmcs12 (`copy`), the
//! enlightened VMPTRLD (`vmptrld`) and Hyper-V's nested enlightenments, the
//! enlightened MSR bitmap and direct L2 TLB flush (`hv`).

pub mod clean;
pub mod controls;
pub mod copy;
pub mod fields;
pub mod hv;
pub mod layout;
pub mod run;
pub mod vmptrld;
