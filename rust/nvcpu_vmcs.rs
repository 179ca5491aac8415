// SPDX-License-Identifier: GPL-2.0

//! `Nv`, continued: the vCPU's VMCSs (vmcs01, vmcs02), which is current,
//! and their controls.

use crate::bindings;
use crate::hw;
/// The vCPU's maps of L1 pages vmcs02 points to (`nested.*_map`).
use crate::nested::vmcs12_pages::Page as MapSlot;
use crate::nvcpu::{vf, vp, Control, Nv, PAGE_SHIFT};
use crate::vmcs::table::encodings as e;

impl Nv {
    /// The VMCS currently loaded for this vCPU is vmcs02.
    pub(crate) fn on_vmcs02(&mut self) -> bool {
        core::ptr::eq(vf!(self, loaded_vmcs), vp!(self, nested.vmcs02))
    }

    /// KVM's `vmx_switch_vmcs()`: makes vmcs01 (`to02 == false`) or vmcs02
    /// current and moves the host segment state the exit path restores.
    pub(crate) fn switch_vmcs(&mut self, to02: bool) {
        if self.on_vmcs02() == to02 {
            return;
        }
        // SAFETY: plain preempt_disable() wrapper; paired below.
        let cpu = unsafe { bindings::rnvmx_get_cpu() };
        let prev = vf!(self, loaded_vmcs);
        vf!(self, loaded_vmcs) = if to02 {
            vp!(self, nested.vmcs02)
        } else {
            vp!(self, vmcs01)
        };
        // SAFETY: the vCPU is ours (type invariant); `prev` is its other
        // loaded_vmcs, live for the vCPU's lifetime.
        unsafe { bindings::vmx_vcpu_load_vmcs(self.raw_const(), cpu, prev) };
        if vf!(self, guest_state_loaded) {
            // KVM's vmx_sync_vmcs_host_state().
            // SAFETY: `prev` and `loaded_vmcs` are the vCPU's two distinct
            // loaded_vmcs structures (the early return above).
            let (src, dest) = unsafe {
                (
                    &(*prev).host_state,
                    &mut (*vf!(self, loaded_vmcs)).host_state,
                )
            };
            if dest.fs_sel != src.fs_sel {
                hw::write(e::HOST_FS_SELECTOR, u64::from(src.fs_sel));
                dest.fs_sel = src.fs_sel;
            }
            if dest.gs_sel != src.gs_sel {
                hw::write(e::HOST_GS_SELECTOR, u64::from(src.gs_sel));
                dest.gs_sel = src.gs_sel;
            }
            if dest.fs_base != src.fs_base {
                hw::write(e::HOST_FS_BASE, src.fs_base as u64);
                dest.fs_base = src.fs_base;
            }
            if dest.gs_base != src.gs_base {
                hw::write(e::HOST_GS_BASE, src.gs_base as u64);
                dest.gs_base = src.gs_base;
            }
            dest.ldt_sel = src.ldt_sel;
            dest.ds_sel = src.ds_sel;
            dest.es_sel = src.es_sel;
        }
        // SAFETY: pairs with rnvmx_get_cpu() above.
        unsafe { bindings::rnvmx_put_cpu() };
        // All lazily loaded registers come from the new VMCS.
        vf!(self, vcpu.arch.regs_avail) = !VMX_REGS_LAZY_LOAD_SET;
        vf!(self, vcpu.arch.regs_dirty) = 0;
    }

    /// Runs `f` with vmcs02 loaded in place of vmcs01 (KVM's
    /// copy_vmcs02_to_vmcs12_rare() dance); preemption is off meanwhile.
    pub(crate) fn with_vmcs02_loaded(&mut self, f: impl FnOnce(&mut Nv)) {
        // SAFETY: preempt_disable() wrapper, paired below.
        let cpu = unsafe { bindings::rnvmx_get_cpu() };
        let (v01, v02) = (vp!(self, vmcs01), vp!(self, nested.vmcs02));
        vf!(self, loaded_vmcs) = v02;
        // SAFETY: both are this vCPU's loaded_vmcs; vmcs02 exists while in
        // VMX operation, which every caller is.
        unsafe { bindings::vmx_vcpu_load_vmcs(self.raw_const(), cpu, v01) };
        f(self);
        vf!(self, loaded_vmcs) = v01;
        // SAFETY: `self.raw_const()` is live, loaded and ours (type invariant); back to vmcs01, then
        // preemption on again.
        unsafe {
            bindings::vmx_vcpu_load_vmcs(self.raw_const(), cpu, v02);
            bindings::rnvmx_put_cpu();
        }
    }

    /// The controls shadow of the current VMCS (`loaded_vmcs->controls_shadow`).
    pub(crate) fn controls_shadow(&mut self) -> &mut bindings::vmcs_controls_shadow {
        let p = vf!(self, loaded_vmcs);
        // SAFETY: `loaded_vmcs` always points to vmcs01 or vmcs02 of this
        // vCPU; `&mut self` keeps the reference exclusive.
        unsafe { &mut (*p).controls_shadow }
    }

    /// vmcs01's controls shadow.
    pub(crate) fn vmcs01_controls(&mut self) -> bindings::vmcs_controls_shadow {
        vf!(self, vmcs01.controls_shadow)
    }

    /// KVM's `<controls>_set()`: writes a control of the current VMCS when
    /// it changes, keeping the shadow KVM reads. Inline: its callers name
    /// the control as a constant, so the match folds away.
    #[inline]
    pub(crate) fn set_control(&mut self, which: Control, value: u32) {
        let s = self.controls_shadow();
        let slot = match which {
            Control::Pin => &mut s.pin,
            Control::Exec => &mut s.exec,
            Control::Secondary => &mut s.secondary_exec,
            Control::Entry => &mut s.vm_entry,
            Control::Exit => &mut s.vm_exit,
        };
        if *slot != value {
            *slot = value;
            hw::write(which.encoding(), u64::from(value));
        }
    }

    /// `nested.pi_pending`: a notification for L2's posted interrupts
    /// arrived. Other vCPUs set it (vmx_deliver_nested_posted_interrupt()),
    /// so it is accessed once, as KVM's READ_ONCE/WRITE_ONCE, never through a
    /// reference.
    pub(crate) fn pi_pending(&self) -> bool {
        let vmx = self.raw_const().cast::<bindings::vcpu_vmx>();
        // SAFETY: the field of a live vcpu_vmx (type invariant), read once.
        unsafe { core::ptr::addr_of!((*vmx).nested.pi_pending).read_volatile() }
    }

    /// L1's posted-interrupt descriptor and L2's virtual-APIC page as
    /// mapped at entry (`nested.pi_desc`, `nested.virtual_apic_map.hva`),
    /// null when not mapped.
    pub(crate) fn posted_intr_pages(&mut self) -> (*mut bindings::pi_desc, *mut u8) {
        (
            vf!(self, nested.pi_desc),
            vf!(self, nested.virtual_apic_map.hva).cast(),
        )
    }

    /// Sets `nested.pi_pending` (see `pi_pending`).
    pub(crate) fn set_pi_pending(&mut self, pending: bool) {
        let vmx = self.raw_const().cast::<bindings::vcpu_vmx>();
        // SAFETY: the field of a live vcpu_vmx (type invariant), written once
        // through a raw pointer (other vCPUs read it concurrently).
        unsafe { core::ptr::addr_of_mut!((*vmx).nested.pi_pending).write_volatile(pending) }
    }

    /// Sets `nested.posted_intr_nv`, which other vCPUs read when they post
    /// to this one (see `pi_pending`); u16::MAX (KVM's -1) for none.
    pub(crate) fn set_posted_intr_nv(&mut self, nv: u16) {
        let vmx = self.raw_const().cast::<bindings::vcpu_vmx>();
        // SAFETY: the field of a live vcpu_vmx (type invariant), written once
        // through a raw pointer (other vCPUs read it when they post).
        unsafe { core::ptr::addr_of_mut!((*vmx).nested.posted_intr_nv).write_volatile(nv) }
    }

    /// `vcpu->guest_debug`: KVM_SET_GUEST_DEBUG's flags, set by the vCPU
    /// ioctl, which holds `vcpu->mutex` as the callbacks do.
    pub(crate) fn guest_debug(&self) -> u64 {
        // SAFETY: a field of the live vCPU (type invariant), read once.
        unsafe { core::ptr::addr_of!((*self.raw_const()).guest_debug).read() as u64 }
    }

    /// `kvm_vcpu_map()` of the L1 page at `gpa` into one of the vCPU's
    /// nested maps, kept until the next nested exit (which unmaps them);
    /// the page's host physical address.
    pub(crate) fn map_l1_page(&mut self, gpa: u64, slot: MapSlot) -> Option<u64> {
        let n = vp!(self, nested);
        // SAFETY: a field of this vCPU's nested state (type invariant),
        // taken without a reference that would live across the call.
        let map = unsafe {
            match slot {
                MapSlot::ApicAccess => core::ptr::addr_of_mut!((*n).apic_access_page_map),
                MapSlot::VirtualApic => core::ptr::addr_of_mut!((*n).virtual_apic_map),
                MapSlot::PostedIntrDesc => core::ptr::addr_of_mut!((*n).pi_desc_map),
            }
        };
        // SAFETY: the vCPU is ours; `map` is one of its nested maps,
        // unmapped (every exit unmaps them), which KVM fills in.
        let r = unsafe { bindings::kvm_vcpu_map(self.raw_const(), gpa >> PAGE_SHIFT, map) };
        // SAFETY: filled in by KVM just above.
        (r == 0).then(|| unsafe { (*map).pfn } << PAGE_SHIFT)
    }
}

/// KVM's VMX_REGS_LAZY_LOAD_SET: RIP, RSP, the PDPTRs, CR0, CR3, CR4 and
/// the exit information are read from the VMCS on demand.
const VMX_REGS_LAZY_LOAD_SET: u32 = (1 << bindings::kvm_reg_VCPU_REGS_RIP)
    | (1 << bindings::kvm_reg_VCPU_REGS_RSP)
    | (1 << bindings::kvm_reg_VCPU_EXREG_RFLAGS)
    | (1 << bindings::kvm_reg_VCPU_EXREG_PDPTR)
    | (1 << bindings::kvm_reg_VCPU_EXREG_SEGMENTS)
    | (1 << bindings::kvm_reg_VCPU_EXREG_CR0)
    | (1 << bindings::kvm_reg_VCPU_EXREG_CR3)
    | (1 << bindings::kvm_reg_VCPU_EXREG_CR4)
    | (1 << bindings::kvm_reg_VCPU_EXREG_EXIT_INFO_1)
    | (1 << bindings::kvm_reg_VCPU_EXREG_EXIT_INFO_2);
