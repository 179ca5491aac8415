// SPDX-License-Identifier: GPL-2.0

//! Hyper-V enlightened VMCS: layout and clean-field groups. Which VMCS field
//! lives where in it is a column of the one field table (`crate::vmcs::table`).

pub mod clean;
pub mod layout;
