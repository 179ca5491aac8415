// SPDX-License-Identifier: GPL-2.0

//! Nested VMX emulation logic that needs no hardware: what KVM decides for
//! each VMX instruction before touching vmcs01/vmcs02.

pub mod insn;
