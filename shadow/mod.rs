// SPDX-License-Identifier: GPL-2.0

//! VMCS shadowing: which fields L1 reads and writes without exiting, derived
//! from the field table's shadow column.

pub mod bitmap;
pub mod fields;
