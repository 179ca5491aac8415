// SPDX-License-Identifier: GPL-2.0

//! Model vCPUs for VMCS shadowing (`ShadowVmcsVcpu`) and vmcs02's TSC
//! autostore (`AutostoreVcpu`): the VMCSs as maps of their fields, which
//! one is current, vmcs02's VM-exit MSR-store area as an array, L1's
//! VM-exit MSR-store list as entries by address, and a log of the calls a
//! test asserts on (model only).

#![allow(missing_docs)]

use std::boxed::Box;
use std::collections::HashMap;
use std::vec::Vec;

use crate::nested::msr_autostore::{AutostoreVcpu, MsrArea};
use crate::nested::msr_list::{MsrAccess, MsrEntry};
use crate::nested::shadow_vmcs::{ShadowVmcsVcpu, VmcsIo};
use crate::shadow::bitmap::ShadowCaps;
use crate::shadow::fields::ShadowFields;
use crate::vmcs::controls::Secondary;
use crate::vmcs::encoding::Encoding;
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::table::FIELDS;

/// Which VMCS an access went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vmcs {
    /// The vCPU's own (vmcs01).
    Own,
    /// vmcs01's shadow VMCS.
    Shadow,
}

/// A call of the shadowing model, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShadowCall {
    SetSecondary(Secondary),
    Read(Vmcs, Encoding),
    Write(Vmcs, Encoding, u64),
    NeedSync(bool),
    /// The shadow VMCS made current.
    Load,
    /// The shadow VMCS cleared, the own VMCS current again.
    Unload,
}

/// The shadowing model.
pub struct ShadowModel {
    pub shadow_pa: Option<u64>,
    pub fields: Option<&'static ShadowFields>,
    pub secondary: Secondary,
    pub need_sync: bool,
    pub current: Vmcs,
    pub own: HashMap<Encoding, u64>,
    pub shadow: HashMap<Encoding, u64>,
    /// vmcs12's fields by encoding; absent: never written.
    pub vmcs12: HashMap<Encoding, u64>,
    /// There is a current VMCS (VMPTRLD), not an eVMCS.
    pub current_vmptr: bool,
    pub log: Vec<ShadowCall>,
}

/// The shadow VMCS while a copy has it current, with the log.
pub struct ShadowIo {
    shadow: HashMap<Encoding, u64>,
    log: Vec<ShadowCall>,
}

impl VmcsIo for ShadowIo {
    fn vmread(&mut self, field: Encoding) -> u64 {
        self.log.push(ShadowCall::Read(Vmcs::Shadow, field));
        self.shadow.get(&field).copied().unwrap_or(0)
    }
    fn vmwrite(&mut self, field: Encoding, value: u64) {
        self.log.push(ShadowCall::Write(Vmcs::Shadow, field, value));
        self.shadow.insert(field, value);
    }
}

impl ShadowModel {
    /// The lists of a CPU with `caps` (leaked: a test's lifetime).
    pub fn fields_of(caps: ShadowCaps) -> Option<&'static ShadowFields> {
        Some(Box::leak(Box::new(ShadowFields::new(&caps))))
    }

    /// vmcs01 with a shadow VMCS at `pa`, on a CPU with every capability.
    pub fn with_shadow(pa: u64) -> Self {
        ShadowModel {
            shadow_pa: Some(pa),
            fields: Self::fields_of(ShadowCaps::ALL),
            secondary: Secondary::EMPTY,
            need_sync: false,
            current: Vmcs::Own,
            own: HashMap::new(),
            shadow: HashMap::new(),
            vmcs12: HashMap::new(),
            current_vmptr: true,
            log: Vec::new(),
        }
    }

    /// vmcs01 without a shadow VMCS (no VMCS shadowing).
    pub fn without_shadow() -> Self {
        ShadowModel {
            shadow_pa: None,
            ..Self::with_shadow(0)
        }
    }
}

impl ShadowVmcsVcpu for ShadowModel {
    type Io = ShadowIo;
    fn shadow_vmcs(&mut self) -> Option<u64> {
        self.shadow_pa
    }
    fn shadow_fields(&mut self) -> Option<&'static ShadowFields> {
        self.fields
    }
    fn secondary_controls(&mut self) -> Secondary {
        self.secondary
    }
    fn set_secondary_controls(&mut self, controls: Secondary) {
        assert_eq!(self.current, Vmcs::Own, "controls of vmcs01");
        self.secondary = controls;
        self.log.push(ShadowCall::SetSecondary(controls));
    }
    fn vmread(&mut self, field: Encoding) -> u64 {
        self.log.push(ShadowCall::Read(self.current, field));
        let vmcs = match self.current {
            Vmcs::Own => &self.own,
            Vmcs::Shadow => &self.shadow,
        };
        vmcs.get(&field).copied().unwrap_or(0)
    }
    fn vmwrite(&mut self, field: Encoding, value: u64) {
        self.log.push(ShadowCall::Write(self.current, field, value));
        match self.current {
            Vmcs::Own => self.own.insert(field, value),
            Vmcs::Shadow => self.shadow.insert(field, value),
        };
    }
    fn has_current_vmptr(&mut self) -> bool {
        self.current_vmptr
    }
    fn set_need_vmcs12_to_shadow_sync(&mut self, need: bool) {
        self.need_sync = need;
        self.log.push(ShadowCall::NeedSync(need));
    }
    fn with_shadow_loaded<F: FnOnce(&mut Self)>(&mut self, f: F) {
        assert!(self.shadow_pa.is_some(), "no shadow VMCS to load");
        assert_eq!(self.current, Vmcs::Own, "brackets do not nest");
        self.log.push(ShadowCall::Load);
        self.current = Vmcs::Shadow;
        f(self);
        self.current = Vmcs::Own;
        self.log.push(ShadowCall::Unload);
    }
    fn with_shadow_vmcs12<F: FnOnce(&mut ShadowIo, &mut Vmcs12)>(&mut self, f: F) {
        // vmcs12 as a struct for the copy, the fields it changed back into
        // the map afterwards (a test's values are distinct and non-zero).
        let mut v = Vmcs12::zeroed();
        for (e, x) in &self.vmcs12 {
            if let Some(r) = crate::vmcs::table::lookup(*e) {
                v.set(r.field, *x);
            }
        }
        let before = v;
        self.with_shadow_loaded(|m| {
            let mut io = ShadowIo {
                shadow: core::mem::take(&mut m.shadow),
                log: core::mem::take(&mut m.log),
            };
            f(&mut io, &mut v);
            m.shadow = io.shadow;
            m.log = io.log;
        });
        for row in FIELDS.iter() {
            if v.get(row) != before.get(row) {
                self.vmcs12.insert(row.encoding, v.get(row));
            }
        }
    }
}

/// KVM's `struct vmx_msrs` with a small capacity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Area {
    pub nr: u32,
    pub val: [MsrEntry; 4],
}

impl MsrArea for Area {
    fn nr(&self) -> u32 {
        self.nr
    }
    fn set_nr(&mut self, nr: u32) {
        self.nr = nr;
    }
    fn capacity(&self) -> usize {
        self.val.len()
    }
    fn entry(&self, i: usize) -> Option<MsrEntry> {
        self.val.get(i).copied()
    }
    fn set_entry(&mut self, i: usize, e: MsrEntry) {
        if let Some(v) = self.val.get_mut(i) {
            *v = e;
        }
    }
}

/// The autostore model: L1's VM-exit MSR-store list, vmcs02's area.
#[derive(Default)]
pub struct AutostoreModel {
    /// L1 memory: list entries by guest-physical address.
    pub list: HashMap<u64, MsrEntry>,
    pub area: Area,
    pub max: u32,
    /// L1's TSC offset: `kvm_read_l1_tsc()` adds it.
    pub l1_tsc_offset: u64,
    /// The list entries read, by address.
    pub reads: Vec<u64>,
}

impl MsrAccess for AutostoreModel {
    fn read_entry(&mut self, gpa: u64) -> Option<MsrEntry> {
        self.reads.push(gpa);
        self.list.get(&gpa).copied()
    }
    fn write_value(&mut self, _gpa: u64, _value: u64) -> bool {
        unreachable!("the autostore decisions write no list entry")
    }
    fn set_msr(&mut self, _index: u32, _value: u64) -> bool {
        unreachable!("the autostore decisions load no MSR")
    }
    fn get_msr(&mut self, _index: u32) -> Option<u64> {
        unreachable!("the autostore decisions read no MSR")
    }
    fn x2apic_mode(&mut self) -> bool {
        false
    }
}

impl AutostoreVcpu for AutostoreModel {
    type Area = Area;
    fn autostore(&mut self) -> &mut Area {
        &mut self.area
    }
    fn store_list_max(&mut self) -> u32 {
        self.max
    }
    fn read_l1_tsc(&mut self, host_tsc: u64) -> u64 {
        host_tsc.wrapping_add(self.l1_tsc_offset)
    }
}
