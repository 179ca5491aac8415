// SPDX-License-Identifier: GPL-2.0

//! L1's own shadow VMCS for L2 (vmcs12 with "VMCS shadowing" and a VMCS
//! link pointer): while L2 runs, its VMREADs and VMWRITEs of fields L1's
//! VMREAD/VMWRITE bitmaps do not intercept are served by L0 from a cached
//! copy of the VMCS the link pointer names (`insn::vmread`/`vmwrite` in
//! guest mode; the bitmaps are read by the core's reflection). The copy is
//! read at each VMLAUNCH/VMRESUME and written back at each nested VM exit,
//! as nested.c's nested_cache_shadow_vmcs12() and
//! nested_flush_cached_shadow_vmcs12(); whether vmcs12 names one is
//! nested/shadow_vmcs.rs's `vmcs12_shadow_gpa`. vmcs02 never shadows: L2's
//! VMREAD and VMWRITE always exit to L0.

use crate::nested::shadow_vmcs::vmcs12_shadow_gpa;
use crate::nvcpu::Nv;

/// Where L1's shadow VMCS is, if vmcs12 has one (the core decides).
fn link(nv: &mut Nv) -> Option<u64> {
    nv.vmcs12_ref().and_then(vmcs12_shadow_gpa)
}

/// At a successful VMLAUNCH/VMRESUME: L1's shadow VMCS into the cache.
/// (Not on a resume from saved state, where the cache came with it.) As
/// KVM, an unreadable link pointer leaves the cache as it was; the entry
/// checks read its header through the same gfn_to_hva_cache just before.
pub(crate) fn cache(nv: &mut Nv) {
    if let Some(gpa) = link(nv) {
        let _ = nv.load_shadow_vmcs12(gpa);
    }
}

/// At a nested VM exit (not a late VMfail): the cache back to L1 memory.
pub(crate) fn flush(nv: &mut Nv) {
    if let Some(gpa) = link(nv) {
        let _ = nv.store_shadow_vmcs12(gpa);
    }
}
