// SPDX-License-Identifier: GPL-2.0

//! The VMCS model: field encodings, the one field table, `struct vmcs12`.

pub mod access;
pub mod caps;
pub mod checks;
pub mod controls;
pub mod encoding;
pub mod exit_reason;
pub mod intr_info;
pub mod layout;
pub mod outcome;
pub mod x86;

#[cfg(test)]
mod proptests;
pub mod table;
