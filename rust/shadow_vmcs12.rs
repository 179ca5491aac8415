// SPDX-License-Identifier: GPL-2.0

//! L1's own shadow VMCS for L2 (vmcs12 with "VMCS shadowing" and a VMCS
//! link pointer): while L2 runs, its VMREADs and VMWRITEs of fields L1's
//! VMREAD/VMWRITE bitmaps do not intercept are served by L0 from a cached
//! copy of the VMCS the link pointer names (`insn::vmread`/`vmwrite` in
//! guest mode; the bitmaps are read by the core's reflection). The copy is
//! read at each VMLAUNCH/VMRESUME and written back at each nested VM exit,
//! as nested.c's nested_cache_shadow_vmcs12() and
//! nested_flush_cached_shadow_vmcs12(). vmcs02 never shadows: L2's VMREAD
//! and VMWRITE always exit to L0.

use crate::nvcpu::{Nv, INVALID_GPA};
use crate::vmcs::controls::{Secondary, Vmcs12Controls};

/// The link pointer if vmcs12 enables VMCS shadowing with one.
fn link(nv: &mut Nv) -> Option<u64> {
    let v = nv.vmcs12_ref()?;
    let on = Vmcs12Controls::of(v).sec.contains(Secondary::SHADOW_VMCS);
    (on && v.vmcs_link_pointer != INVALID_GPA).then_some(v.vmcs_link_pointer)
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
