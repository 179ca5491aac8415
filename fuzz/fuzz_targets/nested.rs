// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the nested decisions on L1-controlled data: exit reflection with
//! random vmcs12, exit information and L1 memory; the vmcs02 control merge
//! (L0's exits must survive); VMX instruction rules; MSR-list walks;
//! which pending event wins, posted-interrupt completion, vmcs02's merged
//! MSR bitmap, L0's exception exits and INVVPID's hardware flush; nested
//! EPT faults, PML, vmcs12's pages, the preemption timer and VMX
//! operation's lifecycle on the core's model vCPUs.

#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;
use common::{u64_at, Fuzzed};

use rnvmx::nested::ept::{self, CachedRoot, EptFault};
use rnvmx::nested::events::{self, Exception, Injected, Interrupt};
use rnvmx::nested::host_state;
use rnvmx::nested::insn::{self, InstructionInfo, RunState, VmxonState};
use rnvmx::nested::lifecycle;
use rnvmx::nested::merge::{self, L0};
use rnvmx::nested::model_pages::{EptModel, LifecycleModel, PagesModel, TimerModel};
use rnvmx::nested::msr_bitmap::{self, ApicVirt};
use rnvmx::nested::msr_list::{self, MsrAccess, MsrEntry};
use rnvmx::nested::pending::{self, EventState, LowPriorityDb};
use rnvmx::nested::pml::{self, PmlState};
use rnvmx::nested::posted_intr::{self, PostedIntrIo};
use rnvmx::nested::preemption_timer;
use rnvmx::nested::reflect::{self, Exit, L1Memory};
use rnvmx::nested::state::{self, Header, SetStateEnv};
use rnvmx::nested::state_get::{self, NestedView};
use rnvmx::nested::vmcs12_pages::{self, Page};
use rnvmx::nested::{invalidate, vmfunc};
use rnvmx::nested::{state_header, state_vmcs12};
use rnvmx::vmcs::caps::{self, HostCaps};
use rnvmx::vmcs::controls::{CpuBased, ExitControls, PinBased};
use rnvmx::vmcs::layout::{Vmcs12, VmcsHdr};
use rnvmx::vmcs::table::FIELDS;

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u64_at(&self, i: usize) -> u64 {
        u64_at(self.0, i)
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
    fn x2apic_mode(&mut self) -> bool {
        self.u64_at(211) & 1 != 0
    }
}

/// Pending-event and posted-interrupt state from a word of input; every
/// query answers one bit.
struct Bits(u64);

impl Bits {
    fn bit(&self, i: u32) -> bool {
        self.0 >> (i % 64) & 1 != 0
    }
    fn ex(&self, i: u32) -> Option<LowPriorityDb> {
        self.bit(i).then(|| LowPriorityDb(self.bit(i + 1)))
    }
}

impl EventState for Bits {
    fn nested_run_pending(&mut self) -> bool {
        self.bit(0)
    }
    fn needs_reinjection(&mut self) -> bool {
        self.bit(1)
    }
    fn init_pending(&mut self) -> bool {
        self.bit(2)
    }
    fn sipi_pending(&mut self) -> bool {
        self.bit(3)
    }
    fn clear_sipi(&mut self) {
        self.0 &= !(1 << 3);
    }
    fn waits_for_sipi(&mut self) -> bool {
        self.bit(4)
    }
    fn exception_vmexit(&mut self) -> Option<LowPriorityDb> {
        self.ex(5)
    }
    fn exception(&mut self) -> Option<LowPriorityDb> {
        self.ex(7)
    }
    fn mtf_pending(&mut self) -> bool {
        self.bit(9)
    }
    fn preemption_timer_expired(&mut self) -> bool {
        self.bit(10)
    }
    fn smi_pending(&mut self) -> bool {
        self.bit(11)
    }
    fn nmi_pending(&mut self) -> bool {
        self.bit(12)
    }
    fn event_controls(&mut self) -> Option<(PinBased, ExitControls)> {
        let pin = PinBased(
            u32::from(self.bit(13)) * PinBased::NMI_EXITING.bits()
                | u32::from(self.bit(15)) * PinBased::EXT_INTR_MASK.bits()
                | u32::from(self.bit(20)) * PinBased::VMX_PREEMPTION_TIMER.bits(),
        );
        let exit = ExitControls(u32::from(self.bit(16)) * ExitControls::ACK_INTR_ON_EXIT.bits());
        self.bit(21).then_some((pin, exit))
    }
    fn interrupt_pending(&mut self) -> bool {
        self.bit(14)
    }
    fn take_extint(&mut self) -> Option<u8> {
        self.bit(17).then_some((self.0 >> 24) as u8)
    }
    fn apic_interrupt(&mut self) -> Option<u8> {
        self.bit(18).then_some((self.0 >> 32) as u8)
    }
    fn posted_intr_nv(&mut self) -> Option<u8> {
        self.bit(19).then_some((self.0 >> 40) as u8)
    }
    fn virtual_interrupt_pending(&mut self) -> bool {
        self.bit(22)
    }
}

impl PostedIntrIo for Bits {
    fn pi_pending(&self) -> bool {
        self.bit(20)
    }
    fn clear_pi_pending(&mut self) {
        self.0 &= !(1 << 20);
    }
    fn has_pi_desc(&self) -> bool {
        self.bit(21)
    }
    fn test_and_clear_on(&mut self) -> bool {
        let on = self.bit(22);
        self.0 &= !(1 << 22);
        on
    }
    fn test_on(&self) -> bool {
        self.bit(22)
    }
    fn highest_pir_vector(&self) -> Option<u8> {
        self.bit(23).then_some((self.0 >> 48) as u8)
    }
    fn has_vapic(&self) -> bool {
        self.bit(24)
    }
    fn vppr(&self) -> Option<u32> {
        self.bit(24).then_some((self.0 >> 56) as u32)
    }
    fn pir_to_irr(&mut self) -> i32 {
        if self.bit(25) {
            -1
        } else {
            i32::from((self.0 >> 48) as u8)
        }
    }
    fn guest_intr_status(&self) -> u16 {
        (self.0 >> 8) as u16
    }
    fn set_guest_intr_status(&mut self, status: u16) {
        self.0 = (self.0 & !(0xffff << 8)) | (u64::from(status) << 8);
    }
    fn mark_pages_dirty(&mut self) {}
}

struct L0Ex(u64);

impl reflect::L0ExceptionState for L0Ex {
    fn guest_debug(&self) -> u32 {
        self.0 as u32
    }
    fn l0_handles_page_faults(&mut self) -> bool {
        self.0 & (1 << 40) != 0
    }
    fn guest_takes_ac(&mut self) -> bool {
        self.0 & (1 << 41) != 0
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
    if let Err(i) = msr_list::load_list(&mut b, ptr, count, max) {
        assert!(i >= 1 && i <= count);
    }
    let _ = msr_list::store_list(&mut b, ptr, count, max);
    let _ = msr_list::store_list_has(&mut b, ptr, count, max, w as u32);
    let exit_list = b.u64_at(212);
    let _ = msr_list::restore_host_msrs(&mut b, (ptr, count), (exit_list, count), max);

    // KVM_SET_NESTED_STATE on userspace bytes, then what GET would report.
    let mut raw = [0u8; state::HEADER_SIZE];
    for (i, byte) in raw.iter_mut().enumerate() {
        *byte = data.get(i).copied().unwrap_or(0);
    }
    let h = Header::decode(&raw);
    assert_eq!(Header::decode(&h.encode()), h);
    let env = SetStateEnv {
        vmx_in_cpuid: w & 1 != 0,
        maxphyaddr: maxphy,
        in_smm: w & 2 != 0,
        evmcs_enabled: w & 4 != 0,
    };
    if let Ok(true) = state_header::check_header(&h, &env) {
        let host = HostCaps {
            enable_ept: true,
            enable_vpid: true,
            ..HostCaps::default()
        };
        let mut cpu = Fuzzed {
            msrs: caps::setup(&host),
            bits: w,
            hdr: w as u32,
        };
        let _ = state_vmcs12::check_vmcs12_part(&h, &env, Some(&v), Some(&v), &mut cpu);
    }
    let view = NestedView {
        vmx_in_cpuid: w & 1 != 0,
        vmxon: w & 8 != 0,
        smm_vmxon: w & 16 != 0,
        smm_guest_mode: w & 32 != 0,
        vmxon_ptr: ptr,
        current_vmptr: b.u64_at(209),
        evmcs_set: w & 64 != 0,
        guest_mode: w & 128 != 0,
        run_pending: w & 256 != 0,
        mtf_pending: w & 512 != 0,
        preemption_timer_deadline: (w & 1024 != 0).then_some(b.u64_at(210)),
    };
    let g = state_get::get_state(&view, &v);
    assert!(g.header.size as usize <= state::MAX_SIZE);

    let _ = host_state::host_state(&v, b.u64_at(211));
    let ev = Injected {
        exception: (w & 2048 != 0).then_some(Exception {
            vector: (w >> 16) as u8,
            error_code: (w & 4096 != 0).then_some(w as u32),
        }),
        nmi: w & 8192 != 0,
        interrupt: (w & 16384 != 0).then_some(Interrupt {
            vector: (w >> 24) as u8,
            soft: w & 32768 != 0,
        }),
        event_exit_inst_len: (w >> 40) as u32,
    };
    let _ = events::save_pending_event(exit.reason, exit.intr_info, &ev);

    // INVEPT/INVVPID and VMFUNC with L1/L2-chosen registers and memory.
    let host = HostCaps {
        enable_ept: true,
        enable_vpid: true,
        has_vmfunc: true,
        ept_caps: w as u32,
        ..HostCaps::default()
    };
    let cpu = Fuzzed {
        msrs: caps::setup(&host),
        bits: w,
        hdr: w as u32,
    };
    let _ = invalidate::invept_available(&cpu.msrs);
    let _ = invalidate::invept(b.u64_at(212), b.u64_at(213), &cpu, w & 1 != 0);
    let _ = invalidate::invvpid(
        &cpu.msrs,
        b.u64_at(212),
        b.u64_at(213),
        b.u64_at(214),
        48,
        w & 1 != 0,
    );
    let list = b.u64_at(215);
    let _ = vmfunc::vmfunc(
        &v,
        b.u64_at(216),
        b.u64_at(217),
        |gpa| (gpa & 8 == 0).then_some(list ^ gpa),
        &cpu,
    );

    // Which pending event wins: only an action the state allows.
    let mut ev = Bits(b.u64_at(218));
    let action = pending::check(&mut ev);
    // vmx_has_nested_events(): for injection never more than without.
    let mut ev2 = Bits(b.u64_at(218));
    if pending::has_events(&mut ev2, true) {
        assert!(pending::has_events(&mut ev2, false));
    }
    if ev.bit(0) {
        assert!(!matches!(
            action,
            pending::Action::ExceptionVmexit | pending::Action::Nmi
        ));
    }
    let mut pi = Bits(b.u64_at(219));
    let _ = posted_intr::complete(&mut pi);
    let _ = posted_intr::has_virtual_interrupt(&pi);
    let _ = reflect::l0_wants_exception(w as u32, &mut L0Ex(b.u64_at(220)));
    let scope = match invalidate::invvpid(&cpu.msrs, w & 3, w >> 48, b.u64_at(214), 48, true) {
        Ok(scope) => scope,
        Err(_) => invalidate::InvvpidScope::AllContexts,
    };
    let vcaps = invalidate::VpidCaps {
        individual_address: w & 4 != 0,
        single_context: w & 8 != 0,
    };
    let _ = invalidate::hw_invvpid(
        scope,
        (w >> 16) as u16,
        (w >> 32) as u16,
        vcaps,
        w & 16 != 0,
    );
    // vmcs02's MSR bitmap: what L0 intercepts stays intercepted.
    let mut l1 = [0u64; msr_bitmap::WORDS];
    let mut l01 = [0u64; msr_bitmap::WORDS];
    for i in 0..msr_bitmap::WORDS {
        l1[i] = b.u64_at(i);
        l01[i] = b.u64_at(i + 7);
    }
    let mut out = [!0u64; msr_bitmap::WORDS];
    let apic = ApicVirt {
        x2apic_mode: w & 32 != 0,
        register_virt: w & 64 != 0,
        vid: w & 128 != 0,
    };
    msr_bitmap::merge(&l1, &l01, apic, &mut out);
    for msr in [0xc000_0100u32, 0xc000_0101, 0xc000_0102, 0x48] {
        for access in [msr_bitmap::Access::Read, msr_bitmap::Access::Write] {
            if msr_bitmap::intercepted(&l01, msr, access) {
                assert!(msr_bitmap::intercepted(&out, msr, access));
            }
        }
    }

    // Nested EPT faults, PML, vmcs12's pages, the preemption timer and VMX
    // operation's lifecycle, on the core's model vCPUs.
    let mut ept = EptModel {
        guest_mode: w & 1 != 0,
        pml_full: w & 2 != 0,
        pml: (w & 4 != 0).then_some(PmlState {
            enabled: w & 8 != 0,
            index: (w >> 16) as u16,
            address: b.u64_at(221),
        }),
        write_fails: w & 16 != 0,
        hw_qual: b.u64_at(222),
        eptp: b.u64_at(223),
        caps: w as u32,
        roots: (0..3)
            .map(|i| CachedRoot {
                valid: (w >> (32 + i)) & 1 != 0,
                pgd: b.u64_at(224 + i),
            })
            .collect(),
        log: Vec::new(),
    };
    let _ = pml::write_buffer(&mut ept, b.u64_at(227));
    let fault = EptFault {
        address: b.u64_at(228),
        error_code: b.u64_at(229),
        exit_qualification: b.u64_at(230),
    };
    ept::inject_page_fault(&mut ept, &fault, w & 32 != 0);
    assert!(!ept.pml_full, "a PML-full exit is reported once");
    ept::new_eptp(&mut ept);
    let mut pages = PagesModel {
        from_userspace: w & 64 != 0,
        pae: w & 128 != 0,
        pdptrs_ok: w & 256 != 0,
        missing: [Page::ApicAccess, Page::VirtualApic, Page::PostedIntrDesc]
            .into_iter()
            .enumerate()
            .filter(|(i, _)| (w >> (40 + i)) & 1 != 0)
            .map(|(_, p)| p)
            .collect(),
        exec: w as u32,
        pin: (w >> 32) as u32,
        msr_bitmap: w & 512 != 0,
        log: Vec::new(),
    };
    if vmcs12_pages::get_vmcs12_pages(&mut pages, &v) {
        let bitmaps = CpuBased::USE_MSR_BITMAPS.bits();
        assert_eq!(pages.exec & bitmaps != 0, pages.msr_bitmap);
    }
    let _ = vmcs12_pages::dirty_gfns(&v);
    let mut timer = TimerModel {
        tsc: b.u64_at(231),
        deadline: (w & 1024 != 0).then_some(b.u64_at(232)),
        khz: (w >> 8) as u32,
        remaining_ns: b.u64_at(233) as i64,
        ..TimerModel::default()
    };
    preemption_timer::start(&mut timer, (w >> 24) as u32);
    let _ = preemption_timer::value_at_exit(&mut timer);
    let mut life = LifecycleModel::outside(w as u16);
    life.fail = lifecycle::ALLOC_ORDER
        .get(((w >> 44) & 7) as usize)
        .copied();
    life.shadowing = w & 2048 != 0;
    life.guest_mode = w & 4096 != 0;
    if lifecycle::enter_vmx_operation(&mut life).is_ok() {
        lifecycle::release_vmcs12(&mut life);
    }
    lifecycle::leave_nested(&mut life);
    assert!(life.allocated.is_empty(), "everything VMXON took is freed");
});
