// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the nested decisions on L1-controlled data: exit reflection with
//! random vmcs12, exit information and L1 memory; the vmcs02 control merge
//! (L0's exits must survive); VMX instruction rules; MSR-list walks.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rnvmx::nested::insn::{self, InstructionInfo, RunState, VmxonState};
use rnvmx::nested::merge::{self, L0};
use rnvmx::nested::msr_list::{self, MsrAccess, MsrEntry};
use rnvmx::nested::reflect::{self, Exit, L1Memory};
use rnvmx::vmcs::controls::{CpuBased, PinBased};
use rnvmx::vmcs::layout::{Vmcs12, VmcsHdr};
use rnvmx::vmcs::table::FIELDS;

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u64_at(&self, i: usize) -> u64 {
        let mut b = [0u8; 8];
        for (k, byte) in b.iter_mut().enumerate() {
            *byte = self
                .0
                .get(i.wrapping_mul(8).wrapping_add(k))
                .copied()
                .unwrap_or(0);
        }
        u64::from_le_bytes(b)
    }
}

impl L1Memory for Bytes<'_> {
    fn read_u8(&mut self, gpa: u64) -> Option<u8> {
        (gpa & 1 == 0).then(|| self.0.get((gpa % 4096) as usize).copied().unwrap_or(0xff))
    }
}

impl MsrAccess for Bytes<'_> {
    fn read_entry(&mut self, gpa: u64) -> Option<MsrEntry> {
        let i = (gpa % 512) as usize;
        (gpa & 0x8000 == 0).then(|| MsrEntry {
            index: self.u64_at(i) as u32,
            reserved: (self.u64_at(i) >> 32) as u32,
            value: self.u64_at(i + 1),
        })
    }
    fn write_value(&mut self, gpa: u64, _value: u64) -> bool {
        gpa & 0x10 == 0
    }
    fn set_msr(&mut self, index: u32, _value: u64) -> bool {
        index & 3 != 3
    }
    fn get_msr(&mut self, index: u32) -> Option<u64> {
        (index & 5 != 5).then_some(u64::from(index))
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let mut v = Vmcs12::zeroed();
    for (i, f) in FIELDS.iter().enumerate() {
        v.set(f, b.u64_at(i));
    }
    let w = b.u64_at(200);
    let exit = Exit {
        reason: (w & 0x7f) as u16,
        qualification: b.u64_at(201),
        intr_info: b.u64_at(202) as u32,
        rcx: b.u64_at(203),
        rax: b.u64_at(204),
        operand: b.u64_at(205),
        guest_has_sgx: w & 0x80 != 0,
    };
    let first = reflect::l1_wants_exit(&v, &exit, &mut b);
    assert_eq!(first, reflect::l1_wants_exit(&v, &exit, &mut b));
    let _ = reflect::is_exception_vmexit(&v, (w >> 8) as u8, (w >> 16) as u32);
    let _ = reflect::check_io_bitmaps(&v, &mut b, (w >> 16) as u32, (w >> 48) as u32 & 0xff);

    let l0 = L0 {
        pin: PinBased(b.u64_at(206) as u32),
        cpu: CpuBased(b.u64_at(206) as u32 >> 3),
        has_secondary: w & (1 << 9) != 0,
        has_load_efer: w & (1 << 10) != 0,
        umip_emulated: w & (1 << 11) != 0,
        vmcs02_uses_msr_bitmaps: w & (1 << 12) != 0,
        host_efer: b.u64_at(207),
        ..L0::default()
    };
    let efer = merge::l2_efer(&v, b.u64_at(207), w & (1 << 13) != 0);
    let m = merge::merge(&l0, &v, efer);
    assert!(m.pin.contains(l0.pin.difference(PinBased::POSTED_INTR)));
    assert!(m.cpu.contains(l0.cpu.difference(
        CpuBased::INTR_WINDOW_EXITING
            | CpuBased::NMI_WINDOW_EXITING
            | CpuBased::TPR_SHADOW
            | CpuBased::USE_IO_BITMAPS
            | CpuBased::USE_MSR_BITMAPS
    )));

    let info = InstructionInfo(w as u32);
    let _ = (
        info.reg1(),
        info.reg2(),
        info.index_reg(),
        info.base_reg(),
        info.segment(),
    );
    let s = VmxonState {
        cr4_vmxe: w & 1 != 0,
        cpl: (w >> 1) as u8 & 3,
        in_vmx_operation: w & 8 != 0,
        has_current_vmcs: w & 16 != 0,
        cr0_valid: w & 32 != 0,
        cr4_valid: w & 64 != 0,
        feature_control: w >> 20,
    };
    let _ = insn::vmxon_precheck(&s);
    let ptr = b.u64_at(208);
    let maxphy = (w >> 24) as u32 & 0x7f;
    let _ = insn::vmxon_region(ptr, maxphy, Some(w as u32));
    let _ = insn::vmclear_pointer(ptr, maxphy, b.u64_at(209), w & 4 != 0);
    let _ = insn::vmptrld_pointer(
        ptr,
        maxphy,
        b.u64_at(209),
        Some(b.u64_at(210)),
        Some(VmcsHdr(w as u32)),
        w & 2 != 0,
    );
    let _ = insn::run_precheck(&RunState {
        launch: w & 1 != 0,
        has_current_vmcs: w & 2 != 0,
        current_is_shadow: w & 4 != 0,
        blocked_by_mov_ss: w & 8 != 0,
        launched: w & 16 != 0,
    });

    let count = (w >> 32) as u32 & 0x3ff;
    let max = msr_list::max_entries(w >> 40);
    if let Err(i) = msr_list::load_list(&mut b, ptr, count, max, w & 2 != 0) {
        assert!(i >= 1 && i <= count);
    }
    let _ = msr_list::store_list(&mut b, ptr, count, max, w & 2 != 0);
});
