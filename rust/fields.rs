// SPDX-License-Identifier: GPL-2.0

//! The shadowed fields on this CPU (the core's `ShadowFields`: KVM's
//! `shadow_read_write_fields[]`/`shadow_read_only_fields[]` and what
//! decides them), built once at module load. The copies themselves are
//! straight-line code of the core (`vmcs::table`, `nested::vmcs02`).

use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::prelude::*;

use crate::bindings;
use crate::nested::entry_vcpu::L0Caps;
use crate::shadow::bitmap::ShadowCaps;
use crate::shadow::fields::ShadowFields;

/// The resolved lists.
pub(crate) struct Lists {
    /// The shadowed fields, read-write and read-only.
    pub(crate) shadow: ShadowFields,
    /// L0's capabilities a nested entry consults (fixed once kvm-intel
    /// has loaded).
    pub(crate) l0: L0Caps,
    /// `kvm_caps.has_tsc_control`, likewise fixed (asked at every nested
    /// entry and exit).
    pub(crate) has_tsc_control: bool,
}

static LISTS: AtomicPtr<Lists> = AtomicPtr::new(core::ptr::null_mut());

/// Owner of the lists; they are reachable from `lists()` while it lives.
pub(crate) struct Registration(*mut Lists);

// SAFETY: the lists are immutable after construction.
unsafe impl Send for Registration {}
// SAFETY: the lists are immutable after construction, so shared access
// from any thread only reads them.
unsafe impl Sync for Registration {}

impl Registration {
    pub(crate) fn new(caps: &ShadowCaps, l0: L0Caps) -> Result<Self> {
        let l = Lists {
            shadow: ShadowFields::new(caps),
            l0,
            // SAFETY: reads KVM's kvm_caps, fixed once kvm-intel is loaded.
            has_tsc_control: unsafe { bindings::rnvmx_has_tsc_control() },
        };
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
