// SPDX-License-Identifier: GPL-2.0

//! The field lists the hot paths copy between vmcs12 and a hardware VMCS,
//! resolved once from the core's field table at module load (`Slot`s:
//! encoding, offset in vmcs12 and size), so that a copy is a load and a
//! VMWRITE per field, as in KVM's own precomputed shadow-field arrays. The
//! shadowed fields are the core's `ShadowFields`.

use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::prelude::*;

use crate::nested::vmcs02;
use crate::shadow::bitmap::ShadowCaps;
use crate::shadow::fields::ShadowFields;
use crate::vmcs::encoding::Encoding;
use crate::vmcs::slot::Slot;
use crate::vmcs::table::lookup;

/// The resolved lists.
pub(crate) struct Lists {
    /// The shadowed fields, read-write and read-only.
    pub(crate) shadow: ShadowFields,
    /// Rare guest state loaded into vmcs02 when vmcs12 is dirty.
    pub(crate) rare_entry: KVec<Slot>,
    /// Rare guest state synced back lazily.
    pub(crate) rare_sync: KVec<Slot>,
}

static LISTS: AtomicPtr<Lists> = AtomicPtr::new(core::ptr::null_mut());

fn push_encoding(v: &mut KVec<Slot>, e: Encoding) -> Result {
    if let Some(f) = lookup(e) {
        v.push(Slot::of(f.field), GFP_KERNEL)?;
    }
    Ok(())
}

/// Owner of the lists; they are reachable from `lists()` while it lives.
pub(crate) struct Registration(*mut Lists);

// SAFETY: the lists are immutable after construction.
unsafe impl Send for Registration {}
// SAFETY: the lists are immutable after construction, so shared access
// from any thread only reads them.
unsafe impl Sync for Registration {}

impl Registration {
    pub(crate) fn new(caps: &ShadowCaps) -> Result<Self> {
        let mut l = Lists {
            shadow: ShadowFields::new(caps),
            rare_entry: KVec::new(),
            rare_sync: KVec::new(),
        };
        for e in Iterator::chain(vmcs02::GUEST_SEGMENTS.into_iter(), vmcs02::GUEST_RARE_OTHER) {
            push_encoding(&mut l.rare_entry, e)?;
        }
        for e in vmcs02::rare_sync() {
            push_encoding(&mut l.rare_sync, e)?;
        }
        let p = KBox::into_raw(KBox::new(l, GFP_KERNEL)?);
        LISTS.store(p, Ordering::Release);
        Ok(Registration(p))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        LISTS.store(core::ptr::null_mut(), Ordering::Release);
        // SAFETY: `self.0` came from KBox::into_raw in `new`; the module is
        // going away, so no VM (and no callback) uses the lists any more.
        drop(unsafe { KBox::from_raw(self.0) });
    }
}

/// The lists; `None` only outside the module's lifetime.
pub(crate) fn lists() -> Option<&'static Lists> {
    let p = LISTS.load(Ordering::Acquire);
    // SAFETY: non-null only between `Registration::new` and its drop, which
    // happens after the backend is unregistered and no VM is bound, so no
    // caller can still hold the reference then.
    (!p.is_null()).then(|| unsafe { &*p })
}
