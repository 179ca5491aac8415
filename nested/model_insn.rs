// SPDX-License-Identifier: GPL-2.0

//! The model vCPU (model.rs) for the VMX instructions: guest memory as a
//! map of bytes, guest-virtual equal to guest-physical (model only).

#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::vec::Vec;

use crate::nested::insn_exec::InsnVcpu;
use crate::nested::invalidate::InvvpidScope;
use crate::nested::model::Model;
use crate::nested::vmfunc::Vmfunc;
use crate::vmcs::caps::NestedVmxMsrs;
use crate::vmcs::encoding::Encoding;
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::outcome::Outcome;

/// The instruction side of the model.
#[derive(Default)]
pub struct InsnModel {
    pub msrs: NestedVmxMsrs,
    pub cr4: u64,
    pub feature_control: u64,
    pub vmxon_ptr: u64,
    pub current_vmptr: u64,
    pub mem: BTreeMap<u64, u8>,
    pub operand: Option<u64>,
    pub enter_fails: Option<i32>,
    pub guest_mode: bool,
    pub long_mode: bool,
    pub shadow12: Option<Vmcs12>,
    pub released: u32,
    pub rare_synced: u32,
    pub shadow_ro: Vec<(u16, u64)>,
    pub invept: Option<Outcome>,
    pub flushed: Vec<InvvpidScope>,
    pub vmfunc: Option<Vmfunc>,
    pub eptp_switches: u32,
    pub uds: u32,
    pub skips: u32,
    /// The mapped eVMCS, if one is.
    pub evmcs: Option<crate::evmcs::layout::HvEnlightenedVmcs>,
    /// VMCLEARs `evmcs_vmclear` took (an eVMCS L1's).
    pub evmcs_vmclears: Vec<u64>,
}

impl InsnVcpu for Model {
    fn vmx_msrs(&mut self) -> NestedVmxMsrs {
        self.insn.msrs
    }
    fn cr4(&mut self) -> u64 {
        self.insn.cr4
    }
    fn feature_control(&mut self) -> u64 {
        self.insn.feature_control
    }
    fn maxphyaddr(&mut self) -> u32 {
        self.maxphyaddr
    }
    fn vmxon_ptr(&mut self) -> u64 {
        self.insn.vmxon_ptr
    }
    fn set_vmxon_ptr(&mut self, p: u64) {
        self.insn.vmxon_ptr = p;
    }
    fn current_vmptr(&mut self) -> u64 {
        self.insn.current_vmptr
    }
    fn set_gpr(&mut self, reg: u8, value: u64) {
        if let Some(r) = self.gprs.get_mut(usize::from(reg)) {
            *r = value;
        }
    }
    fn mem_operand(&mut self, _write: bool, _len: usize) -> Result<u64, i32> {
        self.insn.operand.ok_or(1)
    }
    fn read_gva(&mut self, gva: u64, buf: &mut [u8]) -> Result<(), i32> {
        if self.read_gpa(gva, buf) {
            Ok(())
        } else {
            Err(1)
        }
    }
    fn write_gva(&mut self, gva: u64, buf: &[u8]) -> Result<(), i32> {
        if self.write_gpa(gva, buf) {
            Ok(())
        } else {
            Err(1)
        }
    }
    fn read_gpa(&mut self, gpa: u64, buf: &mut [u8]) -> bool {
        for (i, b) in buf.iter_mut().enumerate() {
            match self.insn.mem.get(&gpa.wrapping_add(i as u64)) {
                Some(v) => *b = *v,
                None => return false,
            }
        }
        true
    }
    fn write_gpa(&mut self, gpa: u64, buf: &[u8]) -> bool {
        for (i, b) in buf.iter().enumerate() {
            self.insn.mem.insert(gpa.wrapping_add(i as u64), *b);
        }
        true
    }
    fn enter_vmx_operation(&mut self) -> Result<(), i32> {
        match self.insn.enter_fails {
            Some(e) => Err(e),
            None => {
                self.entry.vmxon = true;
                Ok(())
            }
        }
    }
    fn free_nested(&mut self) {
        self.entry.vmxon = false;
    }
    fn release_vmcs12(&mut self) {
        self.insn.released += 1;
        self.insn.current_vmptr = u64::MAX;
        self.entry.current_vmcs = false;
    }
    fn load_vmcs12(&mut self, vmptr: u64) -> Option<bool> {
        let mut b = [0u8; 4];
        self.vmcs12.as_ref()?;
        Some(self.read_gpa(vmptr, &mut b))
    }
    fn set_current_vmptr(&mut self, vmptr: u64) {
        self.insn.current_vmptr = vmptr;
        self.entry.current_vmcs = true;
        self.entry.dirty_vmcs12 = true;
    }
    fn is_guest_mode(&mut self) -> bool {
        self.insn.guest_mode
    }
    fn is_64_bit_mode(&mut self) -> bool {
        self.insn.long_mode
    }
    fn shadow_vmcs12(&mut self) -> Option<&mut Vmcs12> {
        self.insn.shadow12.as_mut()
    }
    fn sync_rare(&mut self) {
        self.insn.rare_synced += 1;
    }
    fn shadow_write_ro(&mut self, field: Encoding, value: u64) {
        self.insn.shadow_ro.push((field.value(), value));
    }
    fn invept_scope(&mut self, _ty: u64, _eptp: u64, _has_current: bool) -> Result<(), Outcome> {
        self.insn.invept.map_or(Ok(()), Err)
    }
    fn free_guest_mmu_roots(&mut self) {}
    fn max_virt_addr_bits(&mut self) -> u32 {
        48
    }
    fn flush_vpid(&mut self, scope: InvvpidScope) {
        self.insn.flushed.push(scope);
    }
    fn vmfunc_decision(&mut self, _v: &Vmcs12, _eax: u64, _ecx: u64) -> Vmfunc {
        self.insn.vmfunc.unwrap_or(Vmfunc::InvalidOpcode)
    }
    fn new_eptp(&mut self) {}
    fn count_eptp_switch(&mut self) {
        self.insn.eptp_switches += 1;
    }
    fn ud(&mut self) -> i32 {
        self.insn.uds += 1;
        1
    }
    fn skip_instruction(&mut self) -> i32 {
        self.insn.skips += 1;
        1
    }
    fn evmcs_vmclear(&mut self, vmptr: u64) -> bool {
        if self.insn.evmcs.is_some() {
            self.insn.evmcs_vmclears.push(vmptr);
        }
        self.insn.evmcs.is_some()
    }
    fn evmcs(&mut self) -> Option<crate::evmcs::layout::HvEnlightenedVmcs> {
        self.insn.evmcs
    }
}
