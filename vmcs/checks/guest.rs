// SPDX-License-Identifier: GPL-2.0

//! Checks on the guest-state area (SDM 27.3.1): KVM's
//! `nested_vmx_check_guest_state()`.
//!
//! KVM does not check guest segment registers, RIP/RFLAGS or the
//! interruptibility state itself: the hardware checks them on the vmcs02
//! entry, and a failure there is reflected to L1 the same way.

use super::host::cr4_valid;
use super::{cc, fixed_bits_valid, is_canonical, page_address_valid, pat_valid, Check, Vcpu};
use crate::vmcs::controls::{EntryControls, Secondary, Vmcs12Controls};
use crate::vmcs::layout::{Vmcs12, VMCS12_REVISION};
pub use crate::vmcs::x86::INVALID_GPA;
use crate::vmcs::x86::{cr0, cr4, efer};

use crate::vmcs::x86::debugctl::FREEZE_IN_SMM as DEBUGCTL_FREEZE_IN_SMM;
const BNDCFGS_RESERVED: u64 = 0x0000_0ffc;
const PAGE_MASK: u64 = !0xfff;

/// Guest activity states (SDM 25.4.2).
pub mod activity {
    /// Active.
    pub const ACTIVE: u32 = 0;
    /// HLT.
    pub const HLT: u32 = 1;
    /// Shutdown (not emulated by KVM for L2).
    pub const SHUTDOWN: u32 = 2;
    /// Wait-for-SIPI.
    pub const WAIT_SIPI: u32 = 3;
}

/// KVM's `nested_vmx_check_guest_state()`.
pub fn check_guest_state(v: &Vmcs12, vcpu: &mut impl Vcpu) -> Result<(), Check> {
    let c = Vmcs12Controls::of(v);
    let ia32e = c.entry.contains(EntryControls::IA32E_MODE);

    // nested_guest_cr0_valid(): PE and PG are free for an unrestricted guest
    // if L1 may use that control.
    let (fixed0, fixed1) = {
        let m = vcpu.vmx_msrs();
        let urg = Secondary(m.secondary_ctls_high).contains(Secondary::UNRESTRICTED_GUEST)
            && c.sec.contains(Secondary::UNRESTRICTED_GUEST);
        let fixed0 = if urg {
            m.cr0_fixed0 & !(cr0::PE | cr0::PG)
        } else {
            m.cr0_fixed0
        };
        (fixed0, m.cr0_fixed1)
    };
    cc(
        fixed_bits_valid(v.guest_cr0, fixed0, fixed1),
        Check::GuestCr0,
    )?;
    cc(cr4_valid(vcpu, v.guest_cr4), Check::GuestCr4)?;
    cc(
        v.guest_cr4 & cr4::CET == 0 || v.guest_cr0 & cr0::WP != 0,
        Check::GuestCetWithoutWp,
    )?;

    if c.entry.contains(EntryControls::LOAD_DEBUG_CONTROLS) {
        let mut debugctl = v.guest_ia32_debugctl;
        // FREEZE_IN_SMM is tolerated in vmcs12 under a quirk; the vmcs02 bit
        // stays under L0's control regardless.
        if vcpu.quirk_allow_freeze_in_smm() {
            debugctl &= !DEBUGCTL_FREEZE_IN_SMM;
        }
        cc(v.guest_dr7 >> 32 == 0, Check::GuestDr7)?;
        cc(vcpu.debugctl_valid(debugctl), Check::GuestDebugctl)?;
    }
    if c.entry.contains(EntryControls::LOAD_IA32_PAT) {
        cc(pat_valid(v.guest_ia32_pat), Check::GuestPat)?;
    }

    check_vmcs_link_pointer(v, &c, vcpu)?;

    if c.entry.contains(EntryControls::LOAD_IA32_PERF_GLOBAL_CTRL) {
        cc(
            v.guest_ia32_perf_global_ctrl & vcpu.perf_global_ctrl_reserved() == 0,
            Check::GuestPerfGlobalCtrl,
        )?;
    }
    cc(
        v.guest_cr0 & (cr0::PG | cr0::PE) != cr0::PG,
        Check::GuestPagingWithoutProtection,
    )?;
    cc(
        !ia32e || v.guest_cr4 & cr4::PAE != 0,
        Check::GuestIa32eWithoutPae,
    )?;
    cc(
        !ia32e || v.guest_cr0 & cr0::PG != 0,
        Check::GuestIa32eWithoutPaging,
    )?;

    // Only on VMLAUNCH/VMRESUME: KVM_SET_NESTED_STATE may restore an L2
    // whose EFER was changed by L2 itself.
    if vcpu.nested_run_pending() && c.entry.contains(EntryControls::LOAD_IA32_EFER) {
        let efer = v.guest_ia32_efer;
        cc(vcpu.efer_valid(efer), Check::GuestEferReserved)?;
        cc(ia32e == (efer & efer::LMA != 0), Check::GuestEferLma)?;
        cc(
            v.guest_cr0 & cr0::PG == 0 || ia32e == (efer & efer::LME != 0),
            Check::GuestEferLme,
        )?;
    }
    if c.entry.contains(EntryControls::LOAD_BNDCFGS) {
        cc(
            is_canonical(v.guest_bndcfgs & PAGE_MASK, vcpu.max_virt_addr_bits()),
            Check::GuestBndcfgsBase,
        )?;
        cc(
            v.guest_bndcfgs & BNDCFGS_RESERVED == 0,
            Check::GuestBndcfgsReserved,
        )?;
    }
    cc(
        matches!(
            v.guest_activity_state,
            activity::ACTIVE | activity::HLT | activity::WAIT_SIPI
        ),
        Check::GuestActivityState,
    )
}

/// KVM's `nested_vmx_check_vmcs_link_ptr()`.
fn check_vmcs_link_pointer(
    v: &Vmcs12,
    c: &Vmcs12Controls,
    vcpu: &mut impl Vcpu,
) -> Result<(), Check> {
    let link = v.vmcs_link_pointer;
    if link == INVALID_GPA {
        return Ok(());
    }
    cc(page_address_valid(vcpu, link), Check::LinkPointerAddress)?;
    let hdr = vcpu
        .read_vmcs_hdr(link)
        .ok_or(Check::LinkPointerUnreadable)?;
    cc(
        hdr.revision_id() == VMCS12_REVISION,
        Check::LinkPointerRevision,
    )?;
    cc(
        hdr.shadow_vmcs() == c.sec.contains(Secondary::SHADOW_VMCS),
        Check::LinkPointerShadowIndicator,
    )
}
