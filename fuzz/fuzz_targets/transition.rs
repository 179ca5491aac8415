// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the core's nested transitions on L1-controlled vmcs12s and
//! random vCPU states: VMLAUNCH/VMRESUME (`vmentry`, `prepare02`), entries
//! from restored state, exits from L2 (`reflect_exit`, `vmexit`,
//! `host_load`, `vmfail`), pending events (`check_events`) and the VMX
//! instructions (`insn_exec`), in random
//! order on the cargo tests' model vCPU. Besides not panicking, after
//! every exit vmcs01 is current and no entry is pending, and every
//! successful entry leaves vmcs02 current.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
mod common;
use common::u64_at;

use rnvmx::nested::check_events;
use rnvmx::nested::host_load;
use rnvmx::nested::insn_exec;
use rnvmx::nested::model::Model;
use rnvmx::nested::reflect_exit;
use rnvmx::nested::vcpu::Stat;
use rnvmx::nested::vmentry::{self, Entered};
use rnvmx::nested::vmexit;
use rnvmx::vmcs::checks::Check;
use rnvmx::vmcs::layout::Vmcs12;
use rnvmx::vmcs::table::FIELDS;

fn vmcs12(data: &[u8]) -> Vmcs12 {
    let mut v = Vmcs12::default();
    for (i, f) in FIELDS.iter().enumerate() {
        v.set(f, u64_at(data, i + 8));
    }
    v
}

fn check(bits: u64) -> Option<Check> {
    (bits & 1 != 0)
        .then(|| {
            Check::ALL
                .get((bits >> 1) as usize % Check::ALL.len().max(1))
                .copied()
        })
        .flatten()
}

fn model(data: &[u8]) -> Model {
    let bits = u64_at(data, 0);
    let more = u64_at(data, 1);
    let mut m = Model::in_l2(vmcs12(data));
    m.on02 = bits & 1 != 0;
    m.ept = bits & 2 != 0;
    m.pae = bits & 4 != 0;
    m.pdptrs_ok = bits & 8 != 0;
    m.hw_fail = bits & 16 != 0;
    m.run_pending = bits & 32 != 0;
    m.shadow = bits & 64 != 0;
    m.tsc_control = bits & 128 != 0;
    m.maxphyaddr = ((bits >> 8) & 0x3f) as u32;
    m.vpid02 = (bits >> 16) as u16;
    m.last_vpid = (bits >> 32) as u16;
    m.tpr_threshold = (bits >> 48) as u16 as i16 as i32;
    m.efer = more & 0xd01;
    m.cr0 = more.rotate_left(3);
    m.msr_list_max = (more >> 40) as u32 & 0x3ff;
    m.entry.vmxon = more & 1 != 0;
    m.entry.cpl = ((more >> 1) & 3) as u8;
    m.entry.current_vmcs = more & 8 != 0;
    m.entry.pages_ok = more & 16 != 0;
    m.entry.guest_state_valid = more & 32 != 0;
    m.entry.dirty_vmcs12 = more & 64 != 0;
    m.entry.apicv = more & 128 != 0;
    m.entry.ppr = ((more >> 8) & 0xff) as u32;
    m.entry.check_controls = check(u64_at(data, 2));
    m.entry.check_guest = check(u64_at(data, 3));
    let caps = u64_at(data, 4);
    m.entry.caps.config.pin = caps as u32;
    m.entry.caps.config.exec = (caps >> 32) as u32;
    let caps2 = u64_at(data, 5);
    m.entry.caps.config.secondary = caps2 as u32;
    m.entry.caps.config.entry = (caps2 >> 32) as u32;
    m.entry.caps.mpx = caps2 & 1 != 0;
    m.entry.vmcs01.exec = u64_at(data, 6) as u32;
    m.entry.vmcs02.secondary = (u64_at(data, 6) >> 32) as u32;
    m.ev.exit_reason = u64_at(data, 7) as u32;
    m.ev.l1_wants = u64_at(data, 7) & (1 << 40) != 0;
    m.ev.nmi = u64_at(data, 7) & (1 << 41) != 0;
    m.ev.exit_on_nmi = u64_at(data, 7) & (1 << 42) != 0;
    m.ev.run_pending = m.run_pending;
    let insn = u64_at(data, 8);
    m.insn.cr4 = insn & 0x2000;
    m.insn.feature_control = insn >> 60;
    m.insn.current_vmptr = if insn & 1 != 0 {
        u64::MAX
    } else {
        insn & 0xf000
    };
    m.insn.vmxon_ptr = (insn >> 16) & 0xf000;
    m.insn.guest_mode = insn & 2 != 0;
    m.insn.long_mode = insn & 4 != 0;
    m.insn.msrs.cr0_fixed1 = u64::MAX;
    m.insn.msrs.cr4_fixed1 = u64::MAX;
    m.insn.msrs.misc_low = (insn >> 32) as u32;
    for (i, d) in data.iter().take(64).enumerate() {
        m.insn.mem.insert(0x1000 * (i as u64 % 4) + i as u64, *d);
    }
    for (i, d) in data.iter().rev().take(8).enumerate() {
        let gpa = 0x1000 + 16 * i as u64;
        m.msr_entries.insert(
            gpa,
            rnvmx::nested::msr_list::MsrEntry {
                index: u32::from(*d) | 0x170,
                reserved: 0,
                value: u64::from(*d),
            },
        );
        if d & 1 == 0 {
            m.msrs.insert(u32::from(*d) | 0x170, 0);
        }
    }
    m
}

fn after_exit(m: &Model) {
    assert!(!m.on02, "an exit leaves vmcs01 current");
    assert!(!m.run_pending, "an exit leaves no entry pending");
}

fuzz_target!(|data: &[u8]| {
    let mut m = model(data);
    let ops = data.get(..data.len().min(16)).unwrap_or(&[]);
    for &op in ops {
        match op % 9 {
            0 => {
                let v = m.vmcs12.unwrap_or_default();
                let launch = op & 0x80 != 0;
                if vmentry::run_prologue(&mut m, launch).is_ok() {
                    let before = m.stats.len();
                    let start = vmentry::run_start(&mut m, &v, launch);
                    vmentry::run_finish(&mut m, start);
                    let entered = m
                        .stats
                        .get(before..)
                        .unwrap_or(&[])
                        .contains(&Stat::L2Entry);
                    if entered {
                        assert!(m.on02, "L2 entered: vmcs02 is current");
                    }
                }
            }
            1 => {
                let v = m.vmcs12.unwrap_or_default();
                let step = vmentry::enter_with(&mut m, &v, false);
                if vmentry::finish_entry(&mut m, step, false) == Entered::L2 {
                    assert!(m.on02);
                }
            }
            2 => {
                let exit = (op & 0x80 != 0).then_some((u32::from(op), 0, u64::from(op)));
                vmexit::nested_vmx_vmexit(&mut m, exit);
                after_exit(&m);
            }
            3 => {
                if reflect_exit::reflect_vmexit(&mut m) {
                    after_exit(&m);
                }
            }
            4 => {
                let _ = check_events::check_events(&mut m);
            }
            5 => host_load::load_host_state(&mut m),
            6 => {
                m.insn.operand = (op & 0x40 != 0).then_some(u64::from(op) << 4);
                let r = match (op >> 4) % 9 {
                    0 => insn_exec::vmxon(&mut m),
                    1 => insn_exec::vmxoff(&mut m),
                    2 => insn_exec::vmclear(&mut m),
                    3 => insn_exec::vmptrld(&mut m),
                    4 => insn_exec::vmptrst(&mut m),
                    5 => insn_exec::vmread(&mut m),
                    6 => insn_exec::vmwrite(&mut m),
                    7 => insn_exec::invept(&mut m),
                    _ => insn_exec::invvpid(&mut m),
                };
                assert!(r <= 1, "a handler's value is 1, 0 or an errno");
            }
            7 => {
                let _ = insn_exec::vmfunc(&mut m);
            }
            _ => {
                vmexit::inject_exception_vmexit(&mut m);
                after_exit(&m);
            }
        }
    }
});
