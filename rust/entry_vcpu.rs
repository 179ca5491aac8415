// SPDX-License-Identifier: GPL-2.0

//! The core's `EntryVcpu` on a vCPU of this backend (see kvm_vcpu.rs):
//! what nested/prepare02.rs and nested/vmentry.rs ask of KVM.

use crate::bindings;
use crate::entry::{self, CheckVcpu};
use crate::evmcs::controls::EvmcsCheck;
use crate::evmcs::vmptrld::Evmptrld;
use crate::evmcs_vcpu;
use crate::hw;
use crate::nested::entry_vcpu::{Control, Controls, EntryVcpu, L0Caps, Vmcs02Pages};
use crate::nested::guest_valid;
use crate::nested::insn::Fault;
use crate::nested::msr_autostore;
use crate::nvcpu::vf;
use crate::nvcpu::Nv;
use crate::vcpu::vmcs_config;
use crate::vmcs::checks::{self, Check};
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::outcome::Outcome;
use crate::vmcs::x86::cr0;

/// RFLAGS.VM: virtual-8086 mode.
const RFLAGS_VM: u64 = 1 << 17;

fn controls(s: &bindings::vmcs_controls_shadow) -> Controls {
    Controls {
        pin: s.pin,
        exec: s.exec,
        secondary: s.secondary_exec,
        entry: s.vm_entry,
        exit: s.vm_exit,
    }
}

/// L0's capabilities as kvm-intel has them now; fixed once it has loaded,
/// so computed once, at module load (`fields::Lists::l0`).
pub(crate) fn l0_caps_now() -> L0Caps {
    let cfg = vmcs_config();
    // SAFETY: plain reads of KVM's capabilities, fixed once kvm-intel
    // has loaded (before this module could).
    let (mpx, umip_emulated, host_efer, default_tsc_ratio) = unsafe {
        (
            bindings::rnvmx_mpx_supported(),
            bindings::rnvmx_umip_emulated(),
            bindings::rnvmx_host_efer(),
            bindings::rnvmx_default_tsc_scaling_ratio(),
        )
    };
    L0Caps {
        config: Controls {
            pin: cfg.pin_based_exec_ctrl,
            exec: cfg.cpu_based_exec_ctrl,
            secondary: cfg.cpu_based_2nd_exec_ctrl,
            entry: cfg.vmentry_ctrl,
            exit: cfg.vmexit_ctrl,
        },
        vpid: entry::enable_vpid(),
        mpx,
        umip_emulated,
        host_efer,
        default_tsc_ratio,
    }
}

impl EntryVcpu for Nv {
    #[inline]
    fn l0_caps(&mut self) -> L0Caps {
        crate::fields::lists().map_or_else(l0_caps_now, |l| l.l0)
    }
    fn vmcs01_controls(&mut self) -> Controls {
        controls(&Nv::vmcs01_controls(self))
    }
    fn vmcs02_controls(&mut self) -> Controls {
        controls(self.controls_shadow())
    }
    #[inline]
    fn set_control(&mut self, which: Control, value: u32) {
        Nv::set_control(self, which, value)
    }
    fn take_vmcs02_uninitialized(&mut self) -> bool {
        !core::mem::replace(&mut vf!(self, nested.vmcs02_initialized), true)
    }
    fn vmcs02_pages(&mut self) -> Vmcs02Pages {
        let vcpu = self.raw();
        // SAFETY: the vCPU is ours (Nv invariant), for both calls.
        let notify_window = unsafe { bindings::rnvmx_notify_vmexit_enabled(vcpu) }
            // SAFETY: the vCPU is ours (Nv invariant); reads its VM's
            // notify_window.
            .then(|| unsafe { bindings::rnvmx_notify_window(vcpu) });
        Vmcs02Pages {
            msr_bitmap: Nv::pa(vf!(self, nested.vmcs02.msr_bitmap)),
            msr_store: Nv::pa(vf!(self, msr_autostore.guest.val).as_ptr()),
            msr_load_host: Nv::pa(vf!(self, msr_autoload.host.val).as_ptr()),
            msr_load_guest: Nv::pa(vf!(self, msr_autoload.guest.val).as_ptr()),
            ve_info: (!vf!(self, ve_info).is_null()).then(|| Nv::pa(vf!(self, ve_info))),
            notify_window,
        }
    }
    fn set_constant_host_state(&mut self) {
        let vmx = self.vmx_ptr();
        // SAFETY: the vCPU's own vcpu_vmx with vmcs02 current, as
        // vmx_set_constant_host_state() writes the current VMCS.
        unsafe { bindings::vmx_set_constant_host_state(vmx) };
    }
    fn vpid01(&mut self) -> u16 {
        vf!(self, vpid) as u16
    }
    fn dirty_vmcs12(&mut self) -> bool {
        vf!(self, nested.dirty_vmcs12)
    }
    fn set_dirty_vmcs12(&mut self, dirty: bool) {
        vf!(self, nested.dirty_vmcs12) = dirty;
    }
    fn clear_pi_pending(&mut self) {
        self.set_pi_pending(false)
    }
    fn set_posted_intr_nv(&mut self, nv: u16) {
        Nv::set_posted_intr_nv(self, nv)
    }
    fn posted_intr_nv(&mut self) -> u16 {
        vf!(self, nested.posted_intr_nv)
    }
    fn set_l1_tpr_threshold(&mut self, t: i32) {
        vf!(self, nested.l1_tpr_threshold) = t;
    }
    fn write_encls_bitmap(&mut self, v: &Vmcs12) {
        let vmcs12 = core::ptr::from_ref(v).cast::<bindings::vmcs12>().cast_mut();
        // SAFETY: the vCPU is ours; `vmcs12` has struct vmcs12's layout
        // (bindings.rs) and vmx_write_encls_bitmap() only reads it.
        unsafe { bindings::rnvmx_write_encls_bitmap(self.raw(), vmcs12) };
    }
    fn set_nmi_known_unmasked(&mut self, unmasked: bool) {
        let p = vf!(self, loaded_vmcs);
        // SAFETY: `loaded_vmcs` points to vmcs01 or vmcs02 of this vCPU
        // (vmcs02 here: the entry switched to it); no reference into it is
        // alive.
        unsafe { (*p).nmi_known_unmasked = unmasked };
    }
    fn reset_segment_cache(&mut self) {
        vf!(self, segment_cache.bitmask) = 0;
    }
    fn need_pf_intercept(&mut self) -> bool {
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::rnvmx_need_pf_intercept(self.raw()) }
    }
    #[inline]
    fn prepare_tsc_autostore(&mut self, v: &Vmcs12) {
        msr_autostore::prepare_tsc(self, v.vm_exit_msr_store_addr, v.vm_exit_msr_store_count)
    }
    fn autostore_count(&mut self) -> u32 {
        vf!(self, msr_autostore.guest.nr)
    }
    fn set_cr4_guest_host_mask(&mut self) {
        let vmx = self.vmx_ptr();
        // SAFETY: the vCPU's own vcpu_vmx, in guest mode with vmcs02 current.
        unsafe { bindings::set_cr4_guest_host_mask(vmx) };
    }
    fn supported_debugctl(&mut self) -> u64 {
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::vmx_get_supported_debugctl(self.raw(), false) }
    }
    fn pre_vmenter_debugctl(&mut self) -> u64 {
        vf!(self, nested.pre_vmenter_debugctl)
    }
    fn set_pre_vmenter_debugctl(&mut self, v: u64) {
        vf!(self, nested.pre_vmenter_debugctl) = v;
    }
    fn pre_vmenter_bndcfgs(&mut self) -> u64 {
        vf!(self, nested.pre_vmenter_bndcfgs)
    }
    fn set_pre_vmenter_bndcfgs(&mut self, v: u64) {
        vf!(self, nested.pre_vmenter_bndcfgs) = v;
    }
    fn update_exception_bitmap(&mut self) {
        // SAFETY: the vCPU is ours; in guest mode vmx_update_exception_bitmap()
        // adds vmcs12's exception bitmap to L0's.
        unsafe { bindings::vmx_update_exception_bitmap(self.raw()) };
    }
    fn pat(&mut self) -> u64 {
        vf!(self, vcpu.arch.pat)
    }
    fn nested_tsc(&mut self, l2_offset: u64, l2_mult: u64) -> (u64, u64) {
        let (l1_offset, l1_ratio) = (
            vf!(self, vcpu.arch.l1_tsc_offset),
            vf!(self, vcpu.arch.l1_tsc_scaling_ratio),
        );
        // SAFETY: pure arithmetic helpers of KVM.
        unsafe {
            (
                bindings::kvm_calc_nested_tsc_offset(l1_offset, l2_offset, l2_mult),
                bindings::kvm_calc_nested_tsc_multiplier(l1_ratio, l2_mult),
            )
        }
    }
    fn ept_init_mmu(&mut self) {
        crate::ept::init_mmu(self)
    }
    fn guest_state_valid(&mut self) -> bool {
        // Protected mode outside KVM's vm86 emulation: the core's reading of
        // vmcs02's selectors and access rights (current here), the same
        // decision as KVM's, without its twenty vmx_get_segment() calls.
        let pe = vf!(self, vcpu.arch.cr0) as u64 & cr0::PE != 0;
        if pe && vf!(self, rmode.vm86_active) == 0 && self.rflags() & RFLAGS_VM == 0 {
            return guest_valid::protected_mode_valid(hw::read);
        }
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::__vmx_guest_state_valid(self.raw()) }
    }
    fn cr3(&mut self) -> u64 {
        vf!(self, vcpu.arch.cr3) as u64
    }
    fn vmxon(&mut self) -> bool {
        vf!(self, nested.vmxon)
    }
    fn cpl(&mut self) -> u8 {
        Nv::cpl(self)
    }
    fn fault(&mut self, f: Fault) -> i32 {
        crate::insn::fault(self, f)
    }
    fn complete_insn(&mut self, o: Outcome) -> i32 {
        Nv::complete(self, o)
    }
    fn pmu_branch_retired(&mut self) {
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::rnvmx_pmu_branch_retired(self.raw()) };
    }
    fn has_current_vmcs(&mut self) -> bool {
        vf!(self, nested.current_vmptr) != crate::nvcpu::INVALID_GPA
            || crate::evmcs::run::mapped(self)
    }
    fn enlightened_vmptrld(&mut self, launch: bool) -> Evmptrld {
        crate::evmcs::vmptrld::enlightened_vmptrld(self, launch)
    }
    fn evmcs_to_vmcs12(&mut self, launch: bool) {
        evmcs_vcpu::run_to_vmcs12(self, launch)
    }
    fn shadow_vmcs_to_vmcs12(&mut self) {
        crate::nested::shadow_vmcs::to_vmcs12(self)
    }
    fn trace_vmenter(&mut self, v: &Vmcs12) {
        crate::trace::nested_vmenter(self, v)
    }
    fn trace_precheck_failed(&mut self, o: &Outcome) {
        crate::trace::run_precheck_failed(o)
    }
    fn trace_check_failed(&mut self, c: Check) {
        crate::trace::check_failed(c)
    }
    #[inline]
    fn check_controls_and_host(&mut self, v: &Vmcs12) -> Result<(), Check> {
        let cv = CheckVcpu::new(self);
        checks::check_controls(v, &cv)
            .and_then(|()| checks::check_address_space_size(v, &cv))
            .and_then(|()| checks::check_host_state(v, &cv))
    }
    fn check_evmcs_controls(&mut self, v: &Vmcs12) -> Result<(), EvmcsCheck> {
        if !crate::evmcs::vmptrld::EvmcsVcpu::evmcs_exposed(self) {
            return Ok(());
        }
        let r = crate::evmcs::controls::check_controls(v);
        if let Err(c) = r {
            crate::trace::kvm_check_failed(c.trace_msg());
        }
        r
    }
    fn evmcs_mark_clean(&mut self) {
        crate::evmcs::run::mark_clean(self)
    }
    fn check_guest(&mut self, v: &Vmcs12) -> Result<(), Check> {
        checks::check_guest_state(v, &mut CheckVcpu::new(self))
    }
    fn clear_preemption_timer_deadline(&mut self) {
        vf!(self, nested.has_preemption_timer_deadline) = false;
    }
    fn apicv_active(&mut self) -> bool {
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::rnvmx_apicv_active(self.raw()) }
    }
    fn apic_ppr(&mut self) -> u32 {
        // SAFETY: the vCPU is ours; asked only with APICv, which implies an
        // in-kernel APIC.
        unsafe { bindings::rnvmx_apic_ppr(self.raw()) }
    }
    fn init_event_pending(&mut self) -> bool {
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::rnvmx_init_event_pending(self.raw()) }
    }
    fn get_vmcs12_pages(&mut self, v: &Vmcs12) -> bool {
        crate::nested::vmcs12_pages::get_vmcs12_pages(self, v)
    }
    fn enter_guest_mode(&mut self) {
        Nv::enter_guest_mode(self)
    }
    fn clear_preemption_timer_expired(&mut self) {
        crate::timer::clear_expired(self);
    }
    fn start_preemption_timer(&mut self, value: u32) {
        crate::nested::preemption_timer::start(self, value)
    }
    fn exit_internal_error(&mut self) -> i32 {
        let run = vf!(self, vcpu.run);
        // SAFETY: `run` is the vCPU's kvm_run page, mapped for the vCPU's
        // lifetime and written only by this thread now (vcpu->mutex).
        unsafe {
            (*run).exit_reason = bindings::KVM_EXIT_INTERNAL_ERROR;
            (*run).__bindgen_anon_1.internal.suberror = bindings::KVM_INTERNAL_ERROR_EMULATION;
            (*run).__bindgen_anon_1.internal.ndata = 0;
        }
        0
    }
    fn take_pi_notification(&mut self) -> bool {
        // SAFETY: the vCPU is ours (Nv invariant).
        let irq = unsafe { bindings::kvm_apic_has_interrupt(self.raw()) };
        crate::posted_intr::take_notification(self, irq)
    }
    fn set_l1tf_flush(&mut self) {
        vf!(self, vcpu.arch.l1tf_flush_l1d) = true;
    }
    fn alloc_shadow_vmcs12_cache(&mut self) -> Result<(), i32> {
        crate::lifecycle_vcpu::alloc_shadow_vmcs12_cache(self)
    }
    fn cache_shadow_vmcs12(&mut self) {
        crate::shadow_vmcs12::cache(self)
    }
    fn emulate_halt(&mut self) -> i32 {
        // SAFETY: the vCPU is ours (Nv invariant).
        unsafe { bindings::kvm_emulate_halt_noskip(self.raw()) }
    }
}
