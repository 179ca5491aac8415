// SPDX-License-Identifier: GPL-2.0

//! rnvmx: KVM's nested VMX as an alternative backend of kvm-intel, in Rust.
//!
//! The hardware-independent core (`vmcs/`, `nested/`, `shadow/`, `evmcs/`) is
//! shared with the cargo workspace at the repository root; this crate adds the
//! kernel glue: bindings, registration with kvm-intel and debugfs statistics.

use kernel::prelude::*;

mod backend;
mod bindings;
mod entry;
mod entry_vcpu;
mod ept;
mod ept_vcpu;
mod events;
mod evmcs_vcpu;
mod exit;
mod fields;
mod hw;
mod insn;
mod kvm_vcpu;
mod lifecycle;
mod lifecycle_vcpu;
mod msr_autostore;
mod msr_bitmap;
mod nvcpu;
mod nvcpu_mem;
mod nvcpu_regs;
mod nvcpu_vmcs;
mod pages_vcpu;
mod posted_intr;
mod shadow_vmcs;
mod shadow_vmcs12;
mod state_vcpu;
mod stats;
mod timer;
mod trace;
mod vcpu;

// The hardware-independent core, the same files as the cargo crate's.
#[path = "../evmcs/mod.rs"]
pub mod evmcs;
#[path = "../nested/mod.rs"]
pub mod nested;
#[path = "../shadow/mod.rs"]
pub mod shadow;
#[path = "../vmcs/mod.rs"]
pub mod vmcs;

module! {
    type: Rnvmx,
    name: "rnvmx",
    author: "rnvmx developers",
    description: "Nested VMX backend for kvm-intel, in Rust",
    license: "GPL",
}

// The backend interface is exported in a symbol namespace; `module!` has no
// key for importing one, so emit the modinfo string it would.
#[link_section = ".modinfo"]
#[used]
static IMPORT_NS: [u8; 25] = *b"import_ns=KVM_VMX_NESTED\0";

struct Rnvmx {
    // Field order is drop order: unregister (retract) before the statistics and the
    // shadowing bitmaps (which bound VMs' vmcs01 point to) go away.
    _registration: backend::Registration,
    _shadow: shadow_vmcs::Bitmaps,
    _fields: fields::Registration,
    _stats: stats::DebugFs,
}

impl kernel::Module for Rnvmx {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // SAFETY: kvm-intel's parameter, read-only once kvm-intel is loaded
        // (which this module's imports guarantee).
        if unsafe { bindings::nested_early_check } {
            pr_err!("kvm_intel.nested_early_check=1 is not implemented by rnvmx; not loading\n");
            return Err(Error::from_errno(-(bindings::EOPNOTSUPP as i32)));
        }
        let stats = stats::DebugFs::new()?;
        let shadow = shadow_vmcs::Bitmaps::new()?;
        let fields = fields::Registration::new(&shadow_vmcs::caps(), entry_vcpu::l0_caps_now())?;
        let registration = backend::Registration::new(module)?;
        Ok(Rnvmx {
            _registration: registration,
            _shadow: shadow,
            _fields: fields,
            _stats: stats,
        })
    }
}
