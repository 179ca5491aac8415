// SPDX-License-Identifier: GPL-2.0

//! What a nested VM entry needs of the vCPU beyond `KvmVcpu`: vmcs02's
//! controls and the pages and capabilities of L0 (`prepare02`,
//! `vmentry`). As `KvmVcpu`: every method applies or reports one thing.

use crate::evmcs::controls::EvmcsCheck;
use crate::evmcs::vmptrld::Evmptrld;
use crate::nested::insn::Fault;
use crate::nested::vcpu::KvmVcpu;
use crate::vmcs::checks::Check;
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::outcome::Outcome;

/// A VMCS's execution, entry and exit controls (KVM's
/// `vmcs_controls_shadow`, or `vmcs_config` for what the CPU offers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Controls {
    /// Pin-based.
    pub pin: u32,
    /// Primary processor-based.
    pub exec: u32,
    /// Secondary processor-based.
    pub secondary: u32,
    /// VM-entry.
    pub entry: u32,
    /// VM-exit.
    pub exit: u32,
}

/// Which control field of vmcs02 to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Pin-based.
    Pin,
    /// Primary processor-based.
    Exec,
    /// Secondary processor-based.
    Secondary,
    /// VM-entry.
    Entry,
    /// VM-exit.
    Exit,
}

impl Control {
    /// The field's encoding.
    pub const fn encoding(self) -> crate::vmcs::encoding::Encoding {
        use crate::vmcs::table::encodings as e;
        match self {
            Control::Pin => e::PIN_BASED_VM_EXEC_CONTROL,
            Control::Exec => e::CPU_BASED_VM_EXEC_CONTROL,
            Control::Secondary => e::SECONDARY_VM_EXEC_CONTROL,
            Control::Entry => e::VM_ENTRY_CONTROLS,
            Control::Exit => e::VM_EXIT_CONTROLS,
        }
    }
}

/// Host-physical addresses of L0's pages that vmcs02 points to once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vmcs02Pages {
    /// vmcs02's own MSR bitmap.
    pub msr_bitmap: u64,
    /// KVM's VM-exit MSR-store area (`msr_autostore.guest`).
    pub msr_store: u64,
    /// KVM's VM-exit MSR-load area (`msr_autoload.host`).
    pub msr_load_host: u64,
    /// KVM's VM-entry MSR-load area (`msr_autoload.guest`).
    pub msr_load_guest: u64,
    /// vmcs01's #VE information page, if KVM has one.
    pub ve_info: Option<u64>,
    /// The notify window, if KVM enables notify VM exits.
    pub notify_window: Option<u32>,
}

/// L0's capabilities a nested entry consults (fixed once kvm-intel loads).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L0Caps {
    /// `vmcs_config`: the controls the CPU offers and KVM uses.
    pub config: Controls,
    /// `enable_vpid`.
    pub vpid: bool,
    /// `kvm_mpx_supported()`.
    pub mpx: bool,
    /// KVM emulates UMIP.
    pub umip_emulated: bool,
    /// `kvm_host.efer`.
    pub host_efer: u64,
    /// `kvm_caps.default_tsc_scaling_ratio`.
    pub default_tsc_ratio: u64,
}

/// The vCPU of a nested VM entry.
pub trait EntryVcpu: KvmVcpu {
    /// L0's capabilities.
    fn l0_caps(&mut self) -> L0Caps;
    /// vmcs01's controls (KVM's shadow of them).
    fn vmcs01_controls(&mut self) -> Controls;
    /// vmcs02's controls as last written (KVM's shadow of them).
    fn vmcs02_controls(&mut self) -> Controls;
    /// Writes a control of vmcs02 (through KVM's shadow).
    fn set_control(&mut self, which: Control, value: u32);
    /// `nested.vmcs02_initialized`, then set.
    fn take_vmcs02_uninitialized(&mut self) -> bool;
    /// L0's pages vmcs02 points to.
    fn vmcs02_pages(&mut self) -> Vmcs02Pages;
    /// `vmx_set_constant_host_state()` for vmcs02.
    fn set_constant_host_state(&mut self);
    /// `vmx->vpid` (L1's VPID).
    fn vpid01(&mut self) -> u16;
    /// `nested.dirty_vmcs12`.
    fn dirty_vmcs12(&mut self) -> bool;
    /// Sets or clears `nested.dirty_vmcs12`.
    fn set_dirty_vmcs12(&mut self, dirty: bool);
    /// Clears `nested.pi_pending`, the volatile flag other vCPUs set.
    fn clear_pi_pending(&mut self);
    /// `nested.posted_intr_nv` (u16::MAX: none).
    fn set_posted_intr_nv(&mut self, nv: u16);
    /// `nested.posted_intr_nv`.
    fn posted_intr_nv(&mut self) -> u16;
    /// Sets `nested.l1_tpr_threshold` (-1: none).
    fn set_l1_tpr_threshold(&mut self, t: i32);
    /// `vmx_write_encls_bitmap()` for `v`.
    fn write_encls_bitmap(&mut self, v: &Vmcs12);
    /// vmcs02's `nmi_known_unmasked`.
    fn set_nmi_known_unmasked(&mut self, unmasked: bool);
    /// Drops KVM's segment cache (`segment_cache.bitmask = 0`).
    fn reset_segment_cache(&mut self);
    /// `vmx_need_pf_intercept()`.
    fn need_pf_intercept(&mut self) -> bool;
    /// KVM's exact-TSC slot in vmcs02's MSR-store area for vmcs12's list.
    fn prepare_tsc_autostore(&mut self, v: &Vmcs12);
    /// KVM's MSR-store area's entry count (`msr_autostore.guest.nr`).
    fn autostore_count(&mut self) -> u32;
    /// `set_cr4_guest_host_mask()`.
    fn set_cr4_guest_host_mask(&mut self);
    /// `vmx_get_supported_debugctl(vcpu, false)`.
    fn supported_debugctl(&mut self) -> u64;
    /// `nested.pre_vmenter_debugctl`.
    fn pre_vmenter_debugctl(&mut self) -> u64;
    /// Sets `nested.pre_vmenter_debugctl`.
    fn set_pre_vmenter_debugctl(&mut self, v: u64);
    /// `nested.pre_vmenter_bndcfgs`.
    fn pre_vmenter_bndcfgs(&mut self) -> u64;
    /// Sets `nested.pre_vmenter_bndcfgs`.
    fn set_pre_vmenter_bndcfgs(&mut self, v: u64);
    /// `vmx_update_exception_bitmap()`.
    fn update_exception_bitmap(&mut self);
    /// `vcpu->arch.pat`.
    fn pat(&mut self) -> u64;
    /// `kvm_calc_nested_tsc_offset()` and `_multiplier()` of L1's with
    /// vmcs12's (offset, multiplier).
    fn nested_tsc(&mut self, l2_offset: u64, l2_mult: u64) -> (u64, u64);
    /// `nested_ept_init_mmu_context()`.
    fn ept_init_mmu(&mut self);
    /// `__vmx_guest_state_valid()`.
    fn guest_state_valid(&mut self) -> bool;
    /// `vcpu->arch.cr3`.
    fn cr3(&mut self) -> u64;

    /// `nested.vmxon`.
    fn vmxon(&mut self) -> bool;
    /// `vmx_get_cpl()`.
    fn cpl(&mut self) -> u8;
    /// Raises the fault of a VMX instruction; the exit handler's value.
    fn fault(&mut self, f: Fault) -> i32;
    /// `complete` for an exit handler: its return value.
    fn complete_insn(&mut self, o: Outcome) -> i32;
    /// `kvm_pmu_trigger_event(vcpu, kvm_pmu_eventsel.BRANCH_INSTRUCTIONS_RETIRED)`.
    fn pmu_branch_retired(&mut self);
    /// `nested.current_vmptr` is a VMCS, or an eVMCS is mapped (KVM's
    /// `vmx_has_valid_vmcs12()` for an instruction).
    fn has_current_vmcs(&mut self) -> bool;
    /// `nested_vmx_handle_enlightened_vmptrld(vcpu, launch)`
    /// (`crate::evmcs::vmptrld`); a vCPU without eVMCS has it disabled.
    fn enlightened_vmptrld(&mut self, _launch: bool) -> Evmptrld {
        Evmptrld::Disabled
    }
    /// `copy_enlightened_to_vmcs12()` with the eVMCS's clean fields, and
    /// vmcs12's launch state made to pass VMLAUNCH's or VMRESUME's precheck
    /// (eVMCS has no launch state).
    fn evmcs_to_vmcs12(&mut self, _launch: bool) {}
    /// `nested_evmcs_check_controls()` for an eVMCS L1
    /// (`guest_cpuid_has_evmcs()`), the failure traced.
    fn check_evmcs_controls(&mut self, _v: &Vmcs12) -> Result<(), EvmcsCheck> {
        Ok(())
    }
    /// Sets every clean bit of the mapped eVMCS's `hv_clean_fields`.
    fn evmcs_mark_clean(&mut self) {}
    /// Copies what L1 wrote to its shadow VMCS into vmcs12.
    fn shadow_vmcs_to_vmcs12(&mut self);
    /// The tracepoint `kvm_nested_vmenter`.
    fn trace_vmenter(&mut self, v: &Vmcs12);
    /// A VMLAUNCH/VMRESUME precheck failed (traced).
    fn trace_precheck_failed(&mut self, o: &Outcome);
    /// An SDM check failed (the tracepoint `kvm_nested_vmenter_failed`).
    fn trace_check_failed(&mut self, c: Check);
    /// The SDM 27.2 checks of controls, address-space size and host state.
    fn check_controls_and_host(&mut self, v: &Vmcs12) -> Result<(), Check>;
    /// The SDM 27.3.1 guest-state checks.
    fn check_guest(&mut self, v: &Vmcs12) -> Result<(), Check>;
    /// Clears `nested.has_preemption_timer_deadline`.
    fn clear_preemption_timer_deadline(&mut self);
    /// `kvm_vcpu_apicv_active()`.
    fn apicv_active(&mut self) -> bool;
    /// L1's APIC's PPR (with APICv, which implies an in-kernel APIC).
    fn apic_ppr(&mut self) -> u32;
    /// `kvm_apic_has_pending_init_or_sipi()`-style: an INIT is pending.
    fn init_event_pending(&mut self) -> bool;
    /// `nested_get_vmcs12_pages()`: maps the L1 pages vmcs02 points to and
    /// merges the MSR bitmap; false: L1 memory is missing.
    fn get_vmcs12_pages(&mut self, v: &Vmcs12) -> bool;
    /// `enter_guest_mode()`.
    fn enter_guest_mode(&mut self);
    /// Clears `nested.preemption_timer_expired`.
    fn clear_preemption_timer_expired(&mut self);
    /// Arms the emulated VMX-preemption timer with vmcs12's value.
    fn start_preemption_timer(&mut self, value: u32);
    /// KVM_EXIT_INTERNAL_ERROR (emulation) to userspace: the handler's 0.
    fn exit_internal_error(&mut self) -> i32;
    /// A notification vector L1's APIC has pending becomes L2's posted
    /// interrupt (`kvm_apic_has_interrupt()` == `posted_intr_nv`).
    fn take_pi_notification(&mut self) -> bool;
    /// Sets `vcpu->arch.l1tf_flush_l1d`.
    fn set_l1tf_flush(&mut self);
    /// Allocates the shadow vmcs12's cache unless it is (`Err`: the
    /// errno, -ENOMEM).
    fn alloc_shadow_vmcs12_cache(&mut self) -> Result<(), i32>;
    /// Caches the shadow vmcs12 L1 names in vmcs12's link pointer.
    fn cache_shadow_vmcs12(&mut self);
    /// `kvm_emulate_halt_noskip()`: its return value.
    fn emulate_halt(&mut self) -> i32;
}
