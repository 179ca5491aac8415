// SPDX-License-Identifier: GPL-2.0

//! The L1 state a nested VM exit loads from vmcs12's host-state area (SDM
//! Vol. 3C 28.5 "Loading Host State"): KVM's `load_vmcs12_host_state()`,
//! computed as values for the glue to apply with KVM's setters.
//!
//! As KVM, and unlike 28.5.2, data segments with a null selector are
//! loaded present and usable (base 0, limit 4 GiB); only LDTR is unusable.

use crate::vmcs::controls::ExitControls;
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::x86::efer;

/// A segment register as `struct kvm_segment` describes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// Selector.
    pub selector: u16,
    /// Base.
    pub base: u64,
    /// Limit, in bytes.
    pub limit: u32,
    /// Type (4 bits).
    pub type_: u8,
    /// S: code/data, not system.
    pub s: bool,
    /// P.
    pub present: bool,
    /// D/B.
    pub db: bool,
    /// L: 64-bit code.
    pub l: bool,
    /// G.
    pub g: bool,
    /// Unusable.
    pub unusable: bool,
}

/// Everything a VM exit loads into L1, besides the VM-exit MSR-load list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostState {
    /// EFER.
    pub efer: u64,
    /// RSP.
    pub rsp: u64,
    /// RIP.
    pub rip: u64,
    /// RFLAGS: only the fixed bit 1.
    pub rflags: u64,
    /// CR0.
    pub cr0: u64,
    /// CR3.
    pub cr3: u64,
    /// CR4.
    pub cr4: u64,
    /// DR7.
    pub dr7: u64,
    /// IA32_DEBUGCTL.
    pub debugctl: u64,
    /// IA32_SYSENTER_CS.
    pub sysenter_cs: u32,
    /// IA32_SYSENTER_ESP.
    pub sysenter_esp: u64,
    /// IA32_SYSENTER_EIP.
    pub sysenter_eip: u64,
    /// GDTR base (limit 0xffff).
    pub gdtr_base: u64,
    /// IDTR base (limit 0xffff).
    pub idtr_base: u64,
    /// IA32_BNDCFGS is cleared.
    pub clear_bndcfgs: bool,
    /// IA32_PAT to load, if any.
    pub pat: Option<u64>,
    /// IA32_PERF_GLOBAL_CTRL to load, if any (and if L1 has the MSR).
    pub perf_global_ctrl: Option<u64>,
    /// CS.
    pub cs: Segment,
    /// SS.
    pub ss: Segment,
    /// DS.
    pub ds: Segment,
    /// ES.
    pub es: Segment,
    /// FS.
    pub fs: Segment,
    /// GS.
    pub gs: Segment,
    /// TR.
    pub tr: Segment,
    /// LDTR: unusable.
    pub ldtr: Segment,
}

/// Descriptor-table limit loaded by a VM exit.
pub const DT_LIMIT: u32 = 0xffff;
const RFLAGS_FIXED: u64 = 1 << 1;
const DR7_FIXED: u64 = 0x400;

/// KVM's `load_vmcs12_host_state()`, as values; `l1_efer` is L1's EFER
/// before the exit (kept, but for LMA/LME, without "load IA32_EFER").
pub fn host_state(v: &Vmcs12, l1_efer: u64) -> HostState {
    let exit = ExitControls(v.vm_exit_controls);
    let host_64 = exit.contains(ExitControls::HOST_ADDR_SPACE_SIZE);
    let efer = if exit.contains(ExitControls::LOAD_IA32_EFER) {
        v.host_ia32_efer
    } else if host_64 {
        l1_efer | efer::LMA | efer::LME
    } else {
        l1_efer & !(efer::LMA | efer::LME)
    };
    let data = |selector: u16, base: u64| Segment {
        selector,
        base,
        limit: 0xffff_ffff,
        type_: 3, // read/write, accessed
        s: true,
        present: true,
        db: true,
        g: true,
        ..Segment::default()
    };
    HostState {
        efer,
        rsp: v.host_rsp,
        rip: v.host_rip,
        rflags: RFLAGS_FIXED,
        cr0: v.host_cr0,
        cr3: v.host_cr3,
        cr4: v.host_cr4,
        dr7: DR7_FIXED,
        debugctl: 0,
        sysenter_cs: v.host_ia32_sysenter_cs,
        sysenter_esp: v.host_ia32_sysenter_esp,
        sysenter_eip: v.host_ia32_sysenter_eip,
        gdtr_base: v.host_gdtr_base,
        idtr_base: v.host_idtr_base,
        clear_bndcfgs: exit.contains(ExitControls::CLEAR_BNDCFGS),
        pat: exit
            .contains(ExitControls::LOAD_IA32_PAT)
            .then_some(v.host_ia32_pat),
        perf_global_ctrl: exit
            .contains(ExitControls::LOAD_IA32_PERF_GLOBAL_CTRL)
            .then_some(v.host_ia32_perf_global_ctrl),
        cs: Segment {
            selector: v.host_cs_selector,
            base: 0,
            limit: 0xffff_ffff,
            type_: 11, // execute/read, accessed
            s: true,
            present: true,
            db: !host_64,
            l: host_64,
            g: true,
            unusable: false,
        },
        ss: data(v.host_ss_selector, 0),
        ds: data(v.host_ds_selector, 0),
        es: data(v.host_es_selector, 0),
        fs: data(v.host_fs_selector, v.host_fs_base),
        gs: data(v.host_gs_selector, v.host_gs_base),
        tr: Segment {
            selector: v.host_tr_selector,
            base: v.host_tr_base,
            limit: 0x67,
            type_: 11, // busy 64-bit TSS
            present: true,
            ..Segment::default()
        },
        ldtr: Segment {
            unusable: true,
            ..Segment::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmcs::checks::tests::baseline;

    #[test]
    fn sixty_four_bit_host() {
        let (v, _) = baseline();
        let h = host_state(&v, 0);
        assert_eq!(h.efer, 0xd01, "loaded from vmcs12");
        assert_eq!(
            (h.rip, h.rflags, h.dr7, h.debugctl),
            (0xffff_ffff_8100_0000, 2, 0x400, 0)
        );
        assert!(h.cs.l && !h.cs.db && h.cs.present && h.cs.type_ == 11);
        assert_eq!(
            (h.cs.selector, h.ss.selector, h.tr.selector),
            (8, 0x10, 0x18)
        );
        assert_eq!((h.tr.limit, h.tr.type_, h.tr.s), (0x67, 11, false));
        assert!(h.ldtr.unusable && !h.fs.unusable);
        assert_eq!(
            (h.pat, h.perf_global_ctrl, h.clear_bndcfgs),
            (None, None, false)
        );
    }

    #[test]
    fn efer_without_load_follows_address_space_size() {
        let (mut v, _) = baseline();
        v.vm_exit_controls &= !ExitControls::LOAD_IA32_EFER.bits();
        assert_eq!(host_state(&v, 0x801).efer, 0x801 | efer::LMA | efer::LME);
        v.vm_exit_controls &= !ExitControls::HOST_ADDR_SPACE_SIZE.bits();
        let h = host_state(&v, 0xd01);
        assert_eq!(h.efer, 0x801);
        assert!(h.cs.db && !h.cs.l);
    }

    #[test]
    fn optional_msrs_and_bases() {
        let (mut v, _) = baseline();
        v.vm_exit_controls |= (ExitControls::LOAD_IA32_PAT
            | ExitControls::LOAD_IA32_PERF_GLOBAL_CTRL
            | ExitControls::CLEAR_BNDCFGS)
            .bits();
        v.host_ia32_pat = 0x0007_0406_0007_0406;
        v.host_ia32_perf_global_ctrl = 3;
        v.host_fs_base = 0x1000;
        v.host_gs_base = 0x2000;
        v.host_tr_base = 0x3000;
        let h = host_state(&v, 0);
        assert_eq!(
            (h.pat, h.perf_global_ctrl, h.clear_bndcfgs),
            (Some(0x0007_0406_0007_0406), Some(3), true)
        );
        assert_eq!(
            (h.fs.base, h.gs.base, h.tr.base, h.ds.base),
            (0x1000, 0x2000, 0x3000, 0)
        );
    }
}
