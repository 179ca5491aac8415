// SPDX-License-Identifier: GPL-2.0

//! One passing and one failing case per check: every case starts from a
//! vmcs12 that passes all checks (a 64-bit L1 entering a 64-bit L2 with EPT
//! and VPID, as the kernel's selftests set it up), asserts that, changes one
//! thing and asserts that exactly the named check fails.

use super::guest::INVALID_GPA;
use super::*;
use crate::vmcs::caps::{self, ept_cap, HostCaps, NestedVmxMsrs};
use crate::vmcs::controls::*;
use crate::vmcs::intr_info;
use crate::vmcs::layout::VMCS12_REVISION;
use crate::vmcs::x86::{cr0, cr4, efer};
use std::collections::HashMap;

/// A vCPU model: 46-bit MAXPHYADDR, 4-level paging, a PMU with 8 general and
/// 3 fixed counters, L1 in 64-bit mode.
pub(crate) struct Model {
    pub(crate) msrs: NestedVmxMsrs,
    pub(crate) maxphyaddr: u32,
    pub(crate) lam: bool,
    pub(crate) la57: bool,
    pub(crate) efer_lma: bool,
    pub(crate) run_pending: bool,
    pub(crate) freeze_quirk: bool,
    pub(crate) memory: HashMap<u64, VmcsHdr>,
    pub(crate) evmcs: bool,
}

/// A Skylake-server L0 with APICv.
pub(crate) fn skylake_host() -> HostCaps {
    HostCaps {
        pin_based: 0xff,
        cpu_based: 0xfff9_fffe,
        secondary: 0x0055_3fff,
        vmexit: 0x01ff_ffff,
        vmentry: 0x0003_ffff,
        misc: 0x0000_0000_0040_01e5,
        ept_caps: 0x0673_4141, // Skylake server: INVEPT, WB, 4-level, 2M/1G, A/D
        basic_inout: true,
        has_vmfunc: true,
        cr0_fixed1: 0xffff_ffff,
        cr4_fixed1: 0x0037_67ff,
        umip_emulated: true,
        enable_apicv: true,
        enable_ept: true,
        enable_ept_ad_bits: true,
        enable_vpid: true,
        enable_unrestricted_guest: true,
        flexpriority_enabled: true,
        enable_sgx: false,
    }
}

impl Model {
    pub(crate) fn new() -> Self {
        Model {
            msrs: caps::setup(&skylake_host()),
            maxphyaddr: 46,
            lam: false,
            la57: false,
            efer_lma: true,
            run_pending: true,
            freeze_quirk: true,
            memory: HashMap::new(),
            evmcs: false,
        }
    }
}

impl Vcpu for Model {
    fn maxphyaddr(&self) -> u32 {
        self.maxphyaddr
    }
    fn vmx_msrs(&self) -> &NestedVmxMsrs {
        &self.msrs
    }
    fn cr4_reserved_bits(&self) -> u64 {
        !(0x0037_77ff | cr4::CET)
    }
    fn has_lam(&self) -> bool {
        self.lam
    }
    fn max_virt_addr_bits(&self) -> u32 {
        48
    }
    fn virt_addr_bits(&self) -> u32 {
        if self.la57 {
            57
        } else {
            48
        }
    }
    fn efer_lma(&self) -> bool {
        self.efer_lma
    }
    fn efer_valid(&self, efer: u64) -> bool {
        efer & !(efer::SCE | efer::LME | efer::LMA | efer::NX) == 0
    }
    fn perf_global_ctrl_reserved(&self) -> u64 {
        !0x7_0000_00ff
    }
    fn debugctl_valid(&self, debugctl: u64) -> bool {
        debugctl & !0x3 == 0
    }
    fn quirk_allow_freeze_in_smm(&self) -> bool {
        self.freeze_quirk
    }
    fn read_vmcs_hdr(&mut self, gpa: u64) -> Option<VmcsHdr> {
        self.memory.get(&gpa).copied()
    }
    fn nested_run_pending(&self) -> bool {
        self.run_pending
    }
    fn evmcs_exposed(&self) -> bool {
        self.evmcs
    }
}

/// A vmcs12 that passes every check with [`Model::new`].
pub(crate) fn baseline() -> (Vmcs12, Model) {
    let mut v = Vmcs12::zeroed();
    v.pin_based_vm_exec_control =
        (PinBased::ALWAYSON_WITHOUT_TRUE_MSR | PinBased::EXT_INTR_MASK | PinBased::NMI_EXITING)
            .bits();
    v.cpu_based_vm_exec_control = (CpuBased::ALWAYSON_WITHOUT_TRUE_MSR
        | CpuBased::HLT_EXITING
        | CpuBased::USE_MSR_BITMAPS
        | CpuBased::ACTIVATE_SECONDARY_CONTROLS)
        .bits();
    v.secondary_vm_exec_control = (Secondary::ENABLE_EPT | Secondary::ENABLE_VPID).bits();
    v.virtual_processor_id = 1;
    v.ept_pointer = 0x1000_0000 | 6 | 0x18;
    v.msr_bitmap = 0x2000_0000;
    v.vm_exit_controls = (ExitControls::ALWAYSON_WITHOUT_TRUE_MSR
        | ExitControls::HOST_ADDR_SPACE_SIZE
        | ExitControls::LOAD_IA32_EFER
        | ExitControls::SAVE_IA32_EFER
        | ExitControls::ACK_INTR_ON_EXIT)
        .bits();
    v.vm_entry_controls = (EntryControls::ALWAYSON_WITHOUT_TRUE_MSR
        | EntryControls::IA32E_MODE
        | EntryControls::LOAD_IA32_EFER)
        .bits();
    v.host_cr0 = 0x8005_0033;
    v.host_cr4 = 0x2020;
    v.host_cr3 = 0x1000;
    v.host_cs_selector = 0x8;
    v.host_ss_selector = 0x10;
    v.host_ds_selector = 0x10;
    v.host_es_selector = 0x10;
    v.host_tr_selector = 0x18;
    v.host_rip = 0xffff_ffff_8100_0000;
    v.host_ia32_efer = 0xd01;
    v.guest_cr0 = 0x8005_0033;
    v.guest_cr4 = 0x2020;
    v.guest_ia32_efer = 0xd01;
    v.guest_dr7 = 0x400;
    v.guest_ia32_pat = 0x0007_0406_0007_0406;
    v.vmcs_link_pointer = INVALID_GPA;
    (v, Model::new())
}

#[test]
fn baseline_passes() {
    let (v, mut m) = baseline();
    assert_eq!(check_vmentry(&v, &mut m), Ok(()));
}

fn sec(v: &mut Vmcs12, bits: Secondary) {
    v.secondary_vm_exec_control |= bits.bits();
}

fn cpu(v: &mut Vmcs12, bits: CpuBased) {
    v.cpu_based_vm_exec_control |= bits.bits();
}

fn pin(v: &mut Vmcs12, bits: PinBased) {
    v.pin_based_vm_exec_control |= bits.bits();
}

/// Posted interrupts set up completely (passes).
fn posted(v: &mut Vmcs12) {
    cpu(v, CpuBased::TPR_SHADOW);
    v.virtual_apic_page_addr = 0x3000_0000;
    sec(v, Secondary::VIRTUAL_INTR_DELIVERY);
    pin(v, PinBased::POSTED_INTR);
    v.posted_intr_nv = 0xf2;
    v.posted_intr_desc_addr = 0x3000_1040;
}

fn inject(v: &mut Vmcs12, info: u32) {
    v.vm_entry_intr_info_field = intr_info::VALID | info;
}

macro_rules! cases {
    ($($test:ident: $check:ident => |$v:ident, $m:ident| $body:block)*) => {
        $(
            #[test]
            fn $test() {
                let (mut $v, mut $m) = baseline();
                assert_eq!(check_vmentry(&$v, &mut $m), Ok(()));
                $body
                assert_eq!(check_vmentry(&$v, &mut $m), Err(Check::$check));
                // The stage that reports it is the one its failure kind
                // belongs to: controls and host state fail with VMfailValid
                // before the entry starts, the guest state with an exit.
                let early = check_controls(&$v, &$m)
                    .and_then(|()| check_address_space_size(&$v, &$m))
                    .and_then(|()| check_host_state(&$v, &$m));
                match Check::$check.failure() {
                    EntryFailure::VmFail(_) => assert_eq!(early, Err(Check::$check)),
                    EntryFailure::VmExit { .. } => assert_eq!(early, Ok(())),
                }
            }
        )*

        const COVERED: &[Check] = &[$(Check::$check),*];
    };
}

cases! {
    pin_based_controls: PinBasedControls => |v, _m| { v.pin_based_vm_exec_control &= !0x2; }
    proc_based_controls: ProcBasedControls => |v, _m| { cpu(&mut v, CpuBased::ACTIVATE_TERTIARY_CONTROLS); }
    secondary_controls: SecondaryControls => |v, _m| { sec(&mut v, Secondary::NOTIFY_VM_EXITING); }
    cr3_target_count: Cr3TargetCount => |v, _m| { v.cr3_target_count = 5; }
    io_bitmap_a: IoBitmapA => |v, _m| { cpu(&mut v, CpuBased::USE_IO_BITMAPS); v.io_bitmap_a = 0x1001; v.io_bitmap_b = 0x2000; }
    io_bitmap_b: IoBitmapB => |v, _m| { cpu(&mut v, CpuBased::USE_IO_BITMAPS); v.io_bitmap_a = 0x1000; v.io_bitmap_b = 1 << 46; }
    msr_bitmap: MsrBitmap => |v, _m| { v.msr_bitmap = 0x2000_0800; }
    virtual_apic_page: VirtualApicPage => |v, _m| { cpu(&mut v, CpuBased::TPR_SHADOW); v.virtual_apic_page_addr = !0xfff; }
    apic_access_page: ApicAccessPage => |v, _m| { sec(&mut v, Secondary::VIRTUALIZE_APIC_ACCESSES); v.apic_access_addr = 0x10; }
    x2apic_with_apic_access: X2apicModeWithApicAccess => |v, _m| {
        sec(&mut v, Secondary::VIRTUALIZE_APIC_ACCESSES | Secondary::VIRTUALIZE_X2APIC_MODE);
        v.apic_access_addr = 0x4000;
    }
    vid_without_ext_int_exiting: VidWithoutExternalInterruptExiting => |v, _m| {
        sec(&mut v, Secondary::VIRTUAL_INTR_DELIVERY);
        v.pin_based_vm_exec_control &= !PinBased::EXT_INTR_MASK.bits();
    }
    posted_without_vid: PostedIntrWithoutVid => |v, _m| {
        posted(&mut v);
        v.secondary_vm_exec_control &= !Secondary::VIRTUAL_INTR_DELIVERY.bits();
    }
    posted_without_ack: PostedIntrWithoutAckOnExit => |v, _m| {
        posted(&mut v);
        v.vm_exit_controls &= !ExitControls::ACK_INTR_ON_EXIT.bits();
    }
    posted_nv: PostedIntrNotificationVector => |v, _m| { posted(&mut v); v.posted_intr_nv = 0x1f2; }
    posted_desc: PostedIntrDescriptor => |v, _m| { posted(&mut v); v.posted_intr_desc_addr = 0x3000_1020; }
    apicv_without_tpr_shadow: ApicvWithoutTprShadow => |v, _m| { sec(&mut v, Secondary::APIC_REGISTER_VIRT); }
    virtual_nmis_without_nmi_exiting: VirtualNmisWithoutNmiExiting => |v, _m| {
        pin(&mut v, PinBased::VIRTUAL_NMIS);
        v.pin_based_vm_exec_control &= !PinBased::NMI_EXITING.bits();
    }
    nmi_window_without_virtual_nmis: NmiWindowWithoutVirtualNmis => |v, _m| { cpu(&mut v, CpuBased::NMI_WINDOW_EXITING); }
    pml_without_ept: PmlWithoutEpt => |v, _m| {
        sec(&mut v, Secondary::ENABLE_PML);
        v.pml_address = 0x5000;
        v.secondary_vm_exec_control &= !Secondary::ENABLE_EPT.bits();
    }
    pml_address: PmlAddress => |v, _m| { sec(&mut v, Secondary::ENABLE_PML); v.pml_address = 0x5008; }
    unrestricted_without_ept: UnrestrictedGuestWithoutEpt => |v, _m| {
        v.secondary_vm_exec_control = (Secondary::UNRESTRICTED_GUEST | Secondary::ENABLE_VPID).bits();
    }
    mbec_without_ept: ModeBasedEptExecWithoutEpt => |v, m| {
        m.msrs.secondary_ctls_high |= Secondary::MODE_BASED_EPT_EXEC.bits();
        v.secondary_vm_exec_control = (Secondary::MODE_BASED_EPT_EXEC | Secondary::ENABLE_VPID).bits();
    }
    vmread_bitmap: VmreadBitmap => |v, _m| { sec(&mut v, Secondary::SHADOW_VMCS); v.vmread_bitmap = 0x6001; v.vmwrite_bitmap = 0x7000; }
    vmwrite_bitmap: VmwriteBitmap => |v, _m| { sec(&mut v, Secondary::SHADOW_VMCS); v.vmread_bitmap = 0x6000; v.vmwrite_bitmap = 0x7001; }
    vpid_zero: VpidZero => |v, _m| { v.virtual_processor_id = 0; }
    save_timer_without_timer: SavePreemptionTimerWithoutTimer => |v, _m| {
        v.vm_exit_controls |= ExitControls::SAVE_VMX_PREEMPTION_TIMER.bits();
    }
    eptp_memory_type: EptpMemoryType => |v, _m| { v.ept_pointer = (v.ept_pointer & !7) | 1; }
    eptp_uc_unsupported: EptpMemoryType => |v, _m| { v.ept_pointer &= !7; }
    eptp_page_walk: EptpPageWalkLength => |v, _m| { v.ept_pointer = (v.ept_pointer & !0x38) | 0x10; }
    eptp_page_walk_5_unsupported: EptpPageWalkLength => |v, m| {
        m.msrs.ept_caps &= !ept_cap::PAGE_WALK_5;
        v.ept_pointer = (v.ept_pointer & !0x38) | 0x20;
    }
    eptp_reserved: EptpReservedBits => |v, _m| { v.ept_pointer |= 1 << 8; }
    eptp_beyond_maxphyaddr: EptpReservedBits => |v, _m| { v.ept_pointer |= 1 << 50; }
    eptp_ad: EptpAccessDirty => |v, m| { m.msrs.ept_caps &= !ept_cap::AD; v.ept_pointer |= 1 << 6; }
    vmfunc_controls: VmFunctionControls => |v, _m| { sec(&mut v, Secondary::ENABLE_VMFUNC); v.vm_function_control = 2; }
    eptp_switching_without_ept: EptpSwitchingWithoutEpt => |v, _m| {
        v.secondary_vm_exec_control = (Secondary::ENABLE_VMFUNC | Secondary::ENABLE_VPID).bits();
        v.vm_function_control = 1;
        v.eptp_list_address = 0x8000;
    }
    eptp_list_address: EptpListAddress => |v, _m| {
        sec(&mut v, Secondary::ENABLE_VMFUNC);
        v.vm_function_control = 1;
        v.eptp_list_address = 0x8004;
    }
    exit_controls: ExitControls => |v, _m| { v.vm_exit_controls &= !1; }
    exit_msr_load_area: ExitMsrLoadArea => |v, _m| { v.vm_exit_msr_load_count = 1; v.vm_exit_msr_load_addr = 0x9008; }
    exit_msr_load_area_end: ExitMsrLoadArea => |v, _m| { v.vm_exit_msr_load_count = 2; v.vm_exit_msr_load_addr = (1 << 46) - 16; }
    exit_msr_store_area: ExitMsrStoreArea => |v, _m| { v.vm_exit_msr_store_count = 1; v.vm_exit_msr_store_addr = 1 << 47; }
    entry_controls: EntryControls => |v, _m| { v.vm_entry_controls |= EntryControls::SMM.bits(); }
    entry_type_reserved: EntryIntrTypeReserved => |v, _m| { inject(&mut v, intr_info::TYPE_RESERVED | 32); }
    entry_type_other_event: EntryIntrTypeOtherEvent => |v, m| {
        m.msrs.procbased_ctls_high &= !CpuBased::MONITOR_TRAP_FLAG.bits();
        inject(&mut v, intr_info::TYPE_OTHER_EVENT);
    }
    entry_nmi_vector: EntryNmiVector => |v, _m| { inject(&mut v, intr_info::TYPE_NMI | 3); }
    entry_hard_exception_vector: EntryHardExceptionVector => |v, _m| { inject(&mut v, intr_info::TYPE_HARD_EXCEPTION | 32); }
    entry_other_event_vector: EntryOtherEventVector => |v, _m| { inject(&mut v, intr_info::TYPE_OTHER_EVENT | 1); }
    entry_gp_without_error_code: EntryDeliverErrorCode => |v, _m| { inject(&mut v, intr_info::TYPE_HARD_EXCEPTION | 13); }
    entry_ud_with_error_code: EntryDeliverErrorCode => |v, _m| {
        inject(&mut v, intr_info::TYPE_HARD_EXCEPTION | intr_info::DELIVER_CODE | 6);
    }
    entry_error_code: EntryExceptionErrorCode => |v, _m| {
        inject(&mut v, intr_info::TYPE_HARD_EXCEPTION | intr_info::DELIVER_CODE | 13);
        v.vm_entry_exception_error_code = 0x1_0000;
    }
    entry_info_reserved: EntryIntrInfoReserved => |v, _m| { inject(&mut v, intr_info::TYPE_EXT_INTR | 0x20 | 1 << 12); }
    entry_instruction_length: EntryInstructionLength => |v, _m| {
        inject(&mut v, intr_info::TYPE_SOFT_INTR | 0x80);
        v.vm_entry_instruction_len = 16;
    }
    entry_instruction_length_zero: EntryInstructionLength => |v, m| {
        m.msrs.misc_low &= !(caps::misc::ZERO_LEN_INS as u32);
        inject(&mut v, intr_info::TYPE_SOFT_EXCEPTION | 3);
    }
    entry_msr_load_area: EntryMsrLoadArea => |v, _m| { v.vm_entry_msr_load_count = 4; v.vm_entry_msr_load_addr = 0xa001; }
    address_space_size: AddressSpaceSize => |_v, m| { m.efer_lma = false; }
    host_cr0: HostCr0 => |v, _m| { v.host_cr0 &= !0x20; }
    host_cr4: HostCr4 => |v, _m| { v.host_cr4 &= !0x2000; }
    host_cr4_reserved: HostCr4 => |v, m| { m.msrs.cr4_fixed1 |= 1 << 25; v.host_cr4 |= 1 << 25; }
    host_cr3: HostCr3 => |v, _m| { v.host_cr3 |= 1 << 61; }
    host_cet_without_wp: HostCetWithoutWp => |v, m| {
        m.msrs.cr4_fixed1 |= cr4::CET;
        v.host_cr4 |= cr4::CET;
        v.host_cr0 &= !cr0::WP;
    }
    host_sysenter_esp: HostSysenterEsp => |v, _m| { v.host_ia32_sysenter_esp = 1 << 47; }
    host_sysenter_eip: HostSysenterEip => |v, _m| { v.host_ia32_sysenter_eip = 0x8000_0000_0000_0000; }
    host_pat: HostPat => |v, _m| { v.vm_exit_controls |= ExitControls::LOAD_IA32_PAT.bits(); v.host_ia32_pat = 2; }
    host_perf_global_ctrl: HostPerfGlobalCtrl => |v, _m| {
        v.vm_exit_controls |= ExitControls::LOAD_IA32_PERF_GLOBAL_CTRL.bits();
        v.host_ia32_perf_global_ctrl = 1 << 40;
    }
    host_pae: HostPaeFor64BitHost => |v, _m| { v.host_cr4 &= !cr4::PAE; }
    host_ia32e_guest: HostIa32eGuestWithoutIa32eHost => |v, m| {
        m.efer_lma = false;
        v.vm_exit_controls &= !ExitControls::HOST_ADDR_SPACE_SIZE.bits();
    }
    host_pcide: HostPcide => |v, m| {
        m.efer_lma = false;
        v.vm_exit_controls &= !ExitControls::HOST_ADDR_SPACE_SIZE.bits();
        v.vm_entry_controls &= !EntryControls::IA32E_MODE.bits();
        v.host_cr4 |= cr4::PCIDE;
    }
    host_rip_above_4g: HostRipAbove4G => |v, m| {
        m.efer_lma = false;
        v.vm_exit_controls &= !ExitControls::HOST_ADDR_SPACE_SIZE.bits();
        v.vm_entry_controls &= !EntryControls::IA32E_MODE.bits();
    }
    host_cs_selector: HostCsSelector => |v, _m| { v.host_cs_selector |= 3; }
    host_ss_selector: HostSsSelector => |v, _m| { v.host_ss_selector |= 4; }
    host_ds_selector: HostDsSelector => |v, _m| { v.host_ds_selector |= 1; }
    host_es_selector: HostEsSelector => |v, _m| { v.host_es_selector |= 2; }
    host_fs_selector: HostFsSelector => |v, _m| { v.host_fs_selector = 0x13; }
    host_gs_selector: HostGsSelector => |v, _m| { v.host_gs_selector = 0x14; }
    host_tr_selector: HostTrSelector => |v, _m| { v.host_tr_selector = 0x1b; }
    host_cs_null: HostCsNull => |v, _m| { v.host_cs_selector = 0; }
    host_tr_null: HostTrNull => |v, _m| { v.host_tr_selector = 0; }
    host_ss_null: HostSsNull => |v, m| {
        m.efer_lma = false;
        v.vm_exit_controls &= !ExitControls::HOST_ADDR_SPACE_SIZE.bits();
        v.vm_entry_controls &= !EntryControls::IA32E_MODE.bits();
        v.host_rip = 0x10_0000;
        v.host_ia32_efer = 0;
        v.host_ss_selector = 0;
    }
    host_fs_base: HostFsBase => |v, _m| { v.host_fs_base = 0x0000_8000_0000_0000; }
    host_gs_base: HostGsBase => |v, _m| { v.host_gs_base = 0xffff_0000_0000_0000; }
    host_gdtr_base: HostGdtrBase => |v, _m| { v.host_gdtr_base = 0x00ff_ffff_ffff_f000; }
    host_idtr_base: HostIdtrBase => |v, _m| { v.host_idtr_base = 0x8000_0000_0000_0000; }
    host_tr_base: HostTrBase => |v, _m| { v.host_tr_base = 0x0001_0000_0000_0000; }
    host_rip: HostRip => |v, _m| { v.host_rip = 0x0080_0000_0000_0000; }
    host_efer_reserved: HostEferReserved => |v, _m| { v.host_ia32_efer |= 1 << 2; }
    host_efer_lma: HostEferLma => |v, _m| { v.host_ia32_efer &= !efer::LMA; }
    host_efer_lme: HostEferLme => |v, _m| { v.host_ia32_efer &= !efer::LME; }
    guest_cr0: GuestCr0 => |v, _m| { v.guest_cr0 &= !0x20; }
    guest_cr0_pe_without_urg: GuestCr0 => |v, _m| { v.guest_cr0 &= !1; }
    guest_cr4: GuestCr4 => |v, _m| { v.guest_cr4 |= 1 << 30; }
    guest_cet_without_wp: GuestCetWithoutWp => |v, m| {
        m.msrs.cr4_fixed1 |= cr4::CET;
        v.guest_cr4 |= cr4::CET;
        v.guest_cr0 &= !cr0::WP;
    }
    guest_dr7: GuestDr7 => |v, _m| {
        v.vm_entry_controls |= EntryControls::LOAD_DEBUG_CONTROLS.bits();
        v.guest_dr7 = 1 << 32;
    }
    guest_debugctl: GuestDebugctl => |v, m| {
        v.vm_entry_controls |= EntryControls::LOAD_DEBUG_CONTROLS.bits();
        v.guest_ia32_debugctl = 1 << 14;
        assert_eq!(check_vmentry(&v, &mut m), Ok(()), "FREEZE_IN_SMM is allowed by the quirk");
        m.freeze_quirk = false;
    }
    guest_pat: GuestPat => |v, _m| {
        v.vm_entry_controls |= EntryControls::LOAD_IA32_PAT.bits();
        v.guest_ia32_pat = 0x0007_0406_0007_0403;
    }
    link_pointer_address: LinkPointerAddress => |v, _m| { v.vmcs_link_pointer = 0xb010; }
    link_pointer_unreadable: LinkPointerUnreadable => |v, _m| { v.vmcs_link_pointer = 0xb000; }
    link_pointer_revision: LinkPointerRevision => |v, m| {
        m.memory.insert(0xb000, VmcsHdr(VMCS12_REVISION));
        v.vmcs_link_pointer = 0xb000;
        assert_eq!(check_vmentry(&v, &mut m), Ok(()), "a valid link pointer passes");
        m.memory.insert(0xb000, VmcsHdr(VMCS12_REVISION + 1));
    }
    link_pointer_shadow: LinkPointerShadowIndicator => |v, m| {
        m.memory.insert(0xb000, VmcsHdr(VMCS12_REVISION | 1 << 31));
        v.vmcs_link_pointer = 0xb000;
    }
    guest_perf_global_ctrl: GuestPerfGlobalCtrl => |v, _m| {
        v.vm_entry_controls |= EntryControls::LOAD_IA32_PERF_GLOBAL_CTRL.bits();
        v.guest_ia32_perf_global_ctrl = 1 << 8;
    }
    guest_pg_without_pe: GuestPagingWithoutProtection => |v, _m| {
        sec(&mut v, Secondary::UNRESTRICTED_GUEST);
        v.guest_cr0 &= !1;
    }
    guest_ia32e_without_pae: GuestIa32eWithoutPae => |v, _m| { v.guest_cr4 &= !cr4::PAE; }
    guest_ia32e_without_pg: GuestIa32eWithoutPaging => |v, _m| {
        sec(&mut v, Secondary::UNRESTRICTED_GUEST);
        v.guest_cr0 &= !(1 << 31);
    }
    guest_efer_reserved: GuestEferReserved => |v, _m| { v.guest_ia32_efer |= 1 << 9; }
    guest_efer_lma: GuestEferLma => |v, _m| { v.guest_ia32_efer &= !efer::LMA; }
    guest_efer_lme: GuestEferLme => |v, _m| { v.guest_ia32_efer &= !efer::LME; }
    guest_bndcfgs_base: GuestBndcfgsBase => |v, _m| {
        v.vm_entry_controls |= EntryControls::LOAD_BNDCFGS.bits();
        v.guest_bndcfgs = 0x0000_8000_0000_0000;
    }
    guest_bndcfgs_reserved: GuestBndcfgsReserved => |v, _m| {
        v.vm_entry_controls |= EntryControls::LOAD_BNDCFGS.bits();
        v.guest_bndcfgs = 0x1000 | 0x4;
    }
    guest_activity_state: GuestActivityState => |v, _m| { v.guest_activity_state = guest::activity::SHUTDOWN; }
}

#[test]
fn every_check_has_a_failing_case() {
    for c in Check::ALL {
        assert!(COVERED.contains(c), "no case for {c:?}");
    }
}

#[test]
fn failures_by_group() {
    use crate::vmcs::outcome::VmInstructionError as E;
    assert_eq!(
        Check::PinBasedControls.failure(),
        EntryFailure::VmFail(E::EntryInvalidControlField)
    );
    assert_eq!(
        Check::HostCr0.failure(),
        EntryFailure::VmFail(E::EntryInvalidHostStateField)
    );
    assert_eq!(
        Check::AddressSpaceSize.failure(),
        EntryFailure::VmFail(E::EntryInvalidHostStateField)
    );
    assert_eq!(
        Check::GuestCr0.failure(),
        EntryFailure::VmExit {
            reason: crate::vmcs::exit_reason::basic::INVALID_STATE,
            qualification: entry_fail::DEFAULT
        }
    );
    assert_eq!(
        Check::LinkPointerRevision.failure(),
        EntryFailure::VmExit {
            reason: crate::vmcs::exit_reason::basic::INVALID_STATE,
            qualification: entry_fail::VMCS_LINK_PTR
        }
    );
}

#[test]
fn guest_efer_is_not_checked_on_state_restore() {
    let (mut v, mut m) = baseline();
    v.guest_ia32_efer = 0;
    assert_eq!(check_vmentry(&v, &mut m), Err(Check::GuestEferLma));
    m.run_pending = false;
    assert_eq!(check_vmentry(&v, &mut m), Ok(()));
}

#[test]
fn la57_widens_host_rip() {
    let (mut v, mut m) = baseline();
    v.host_rip = 0x0080_0000_0000_0000;
    m.la57 = true;
    assert_eq!(check_vmentry(&v, &mut m), Ok(()));
}

#[test]
fn lam_bits_are_legal_in_host_cr3_with_lam() {
    let (mut v, mut m) = baseline();
    v.host_cr3 |= 1 << 62;
    assert_eq!(check_vmentry(&v, &mut m), Err(Check::HostCr3));
    m.lam = true;
    assert_eq!(check_vmentry(&v, &mut m), Ok(()));
}

#[test]
fn unrestricted_guest_frees_cr0_pe_pg() {
    let (mut v, mut m) = baseline();
    sec(&mut v, Secondary::UNRESTRICTED_GUEST);
    v.vm_entry_controls &= !EntryControls::IA32E_MODE.bits();
    v.guest_ia32_efer = 0;
    v.guest_cr0 = 0x30;
    assert_eq!(check_vmentry(&v, &mut m), Ok(()));
}

#[test]
fn complete_apicv_setups_pass() {
    let (mut v, mut m) = baseline();
    posted(&mut v);
    assert_eq!(check_vmentry(&v, &mut m), Ok(()));
    sec(
        &mut v,
        Secondary::VIRTUALIZE_X2APIC_MODE | Secondary::APIC_REGISTER_VIRT,
    );
    assert_eq!(check_vmentry(&v, &mut m), Ok(()));
}

#[test]
fn valid_injections_pass() {
    for info in [
        intr_info::TYPE_EXT_INTR | 0x20,
        intr_info::TYPE_NMI | 2,
        intr_info::TYPE_HARD_EXCEPTION | 6,
        intr_info::TYPE_HARD_EXCEPTION | intr_info::DELIVER_CODE | 14,
        intr_info::TYPE_SOFT_INTR | 0x80,
        intr_info::TYPE_OTHER_EVENT,
    ] {
        let (mut v, mut m) = baseline();
        inject(&mut v, info);
        v.vm_entry_instruction_len = 2;
        assert_eq!(check_vmentry(&v, &mut m), Ok(()), "{info:#x}");
    }
}

#[test]
fn controls_fail_before_host_and_guest() {
    let (mut v, mut m) = baseline();
    v.guest_activity_state = 7;
    v.host_cs_selector = 0;
    v.virtual_processor_id = 0;
    assert_eq!(check_vmentry(&v, &mut m), Err(Check::VpidZero));
    v.virtual_processor_id = 1;
    assert_eq!(check_vmentry(&v, &mut m), Err(Check::HostCsNull));
    v.host_cs_selector = 8;
    assert_eq!(check_vmentry(&v, &mut m), Err(Check::GuestActivityState));
}

#[test]
fn every_check_cites_a_section_of_chapter_27() {
    for c in Check::ALL {
        assert!(c.sdm().starts_with("27."), "{c:?}");
    }
}

#[test]
fn every_check_names_itself_in_the_trace_message() {
    for c in Check::ALL {
        let msg = c.trace_msg().to_str().unwrap_or("");
        assert_eq!(msg, std::format!("{c:?} (SDM {})", c.sdm()));
    }
}
