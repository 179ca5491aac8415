// SPDX-License-Identifier: GPL-2.0

//! The VMREAD and VMWRITE bitmaps (SDM Vol. 3C 25.6.15 "VMCS Shadowing
//! Bitmap Addresses"): 4 KiB each, one bit per encoding (bits 14:0); a set
//! bit makes the access exit to L0, a clear one is served from the shadow
//! VMCS. KVM's `init_vmcs_shadow_fields()`.

use crate::vmcs::controls::{PinBased, Secondary};
use crate::vmcs::encoding::{Encoding, Width};
use crate::vmcs::table::{encodings as enc, Field, Shadow, FIELDS};

/// Bits in one bitmap: one per encoding.
pub const BITS: usize = Encoding::MAX as usize + 1;
/// 64-bit words in one bitmap (4 KiB).
pub const WORDS: usize = BITS / 64;

/// What L0's CPU supports that decides whether some fields can be shadowed
/// at all: the CPU cannot VMWRITE a field it does not have, even though KVM
/// emulates the feature for L1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShadowCaps {
    /// Page-modification logging (GUEST_PML_INDEX).
    pub pml: bool,
    /// VMX-preemption timer (VMX_PREEMPTION_TIMER_VALUE).
    pub preemption_timer: bool,
    /// APIC virtualization (GUEST_INTR_STATUS).
    pub apicv: bool,
}

impl ShadowCaps {
    /// A CPU with every feature that decides shadowing.
    pub const ALL: Self = ShadowCaps {
        pml: true,
        preemption_timer: true,
        apicv: true,
    };

    /// The capabilities of a CPU whose VMX controls (kvm-intel's
    /// `vmcs_config`, the controls L0 may set) are `pin` and `secondary`:
    /// KVM's `cpu_has_vmx_pml()`, `cpu_has_vmx_preemption_timer()` and
    /// `cpu_has_vmx_apicv()` (APIC-register virtualization, virtual-interrupt
    /// delivery and posted interrupts, all three).
    pub const fn of(pin: PinBased, secondary: Secondary) -> Self {
        ShadowCaps {
            pml: secondary.contains(Secondary::ENABLE_PML),
            preemption_timer: pin.contains(PinBased::VMX_PREEMPTION_TIMER),
            apicv: secondary
                .contains(Secondary::APIC_REGISTER_VIRT.union(Secondary::VIRTUAL_INTR_DELIVERY))
                && pin.contains(PinBased::POSTED_INTR),
        }
    }
}

/// Whether a CPU with `caps` has the field `encoding` names, as far as
/// shadowing goes (only three of the shadowed fields depend on L0's CPU).
#[inline(always)]
pub const fn present(encoding: Encoding, caps: &ShadowCaps) -> bool {
    match encoding.value() {
        e if e == enc::GUEST_PML_INDEX.value() => caps.pml,
        e if e == enc::VMX_PREEMPTION_TIMER_VALUE.value() => caps.preemption_timer,
        e if e == enc::GUEST_INTR_STATUS.value() => caps.apicv,
        _ => true,
    }
}

/// How `field` is shadowed on a CPU with `caps`.
pub fn shadow_of(field: &Field, caps: &ShadowCaps) -> Shadow {
    if present(field.encoding, caps) {
        field.shadow
    } else {
        Shadow::No
    }
}

/// The shadowed fields on a CPU with `caps`, with their shadowing.
pub fn shadowed(caps: &ShadowCaps) -> impl Iterator<Item = (&'static Field, Shadow)> + '_ {
    FIELDS
        .iter()
        .map(move |f| (f, shadow_of(f, caps)))
        .filter(|(_, s)| *s != Shadow::No)
}

/// A VMREAD or VMWRITE bitmap.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Bitmap(pub [u64; WORDS]);

impl Bitmap {
    /// Every access exits.
    pub const fn all_exit() -> Self {
        Bitmap([u64::MAX; WORDS])
    }

    /// Whether an access with `encoding` exits to L0.
    pub fn exits(&self, encoding: Encoding) -> bool {
        let bit = usize::from(encoding.value());
        self.0
            .get(bit / 64)
            .map_or(true, |w| w & (1 << (bit % 64)) != 0)
    }

    fn clear(&mut self, encoding: Encoding) {
        let bit = usize::from(encoding.value());
        if let Some(w) = self.0.get_mut(bit / 64) {
            *w &= !(1 << (bit % 64));
        }
    }

    fn clear_field(&mut self, field: &Field) {
        self.clear(field.encoding);
        // Both halves of a 64-bit field are shadowed (a 32-bit L1 uses the
        // high one).
        if field.width() == Width::U64 {
            self.clear(field.encoding.high());
        }
    }
}

/// Builds the VMREAD and VMWRITE bitmaps for a CPU with `caps`.
pub fn fill(caps: &ShadowCaps, vmread: &mut Bitmap, vmwrite: &mut Bitmap) {
    *vmread = Bitmap::all_exit();
    *vmwrite = Bitmap::all_exit();
    for (field, shadow) in shadowed(caps) {
        vmread.clear_field(field);
        if shadow == Shadow::ReadWrite {
            vmwrite.clear_field(field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> ShadowCaps {
        ShadowCaps::ALL
    }

    fn bitmaps(caps: &ShadowCaps) -> (Bitmap, Bitmap) {
        let (mut r, mut w) = (Bitmap::all_exit(), Bitmap::all_exit());
        fill(caps, &mut r, &mut w);
        (r, w)
    }

    #[test]
    fn read_write_fields_exit_on_neither() {
        let (r, w) = bitmaps(&all());
        for e in [
            enc::GUEST_RIP,
            enc::GUEST_RSP,
            enc::CPU_BASED_VM_EXEC_CONTROL,
            enc::HOST_FS_BASE,
        ] {
            assert!(!r.exits(e) && !w.exits(e), "{e:?}");
        }
    }

    #[test]
    fn read_only_fields_exit_on_write() {
        let (r, w) = bitmaps(&all());
        for e in [
            enc::VM_EXIT_REASON,
            enc::EXIT_QUALIFICATION,
            enc::GUEST_CS_AR_BYTES,
        ] {
            assert!(!r.exits(e) && w.exits(e), "{e:?}");
        }
    }

    #[test]
    fn both_halves_of_64_bit_fields() {
        let (r, w) = bitmaps(&all());
        let gpa = enc::GUEST_PHYSICAL_ADDRESS;
        assert!(!r.exits(gpa) && !r.exits(gpa.high()));
        assert!(w.exits(gpa) && w.exits(gpa.high()));
    }

    #[test]
    fn unshadowed_fields_always_exit() {
        let (r, w) = bitmaps(&all());
        for e in [
            enc::EPT_POINTER,
            enc::VMCS_LINK_POINTER,
            enc::HOST_CR3,
            Encoding::new(0x7ffe),
        ] {
            assert!(r.exits(e) && w.exits(e), "{e:?}");
        }
    }

    #[test]
    fn fields_the_cpu_lacks_are_not_shadowed() {
        let (r, w) = bitmaps(&ShadowCaps::default());
        for e in [
            enc::GUEST_PML_INDEX,
            enc::VMX_PREEMPTION_TIMER_VALUE,
            enc::GUEST_INTR_STATUS,
        ] {
            assert!(r.exits(e) && w.exits(e), "{e:?}");
        }
        let (r, w) = bitmaps(&all());
        for e in [
            enc::GUEST_PML_INDEX,
            enc::VMX_PREEMPTION_TIMER_VALUE,
            enc::GUEST_INTR_STATUS,
        ] {
            assert!(!r.exits(e) && !w.exits(e), "{e:?}");
        }
    }

    #[test]
    fn caps_from_the_control_words() {
        let apicv_sec = Secondary::APIC_REGISTER_VIRT | Secondary::VIRTUAL_INTR_DELIVERY;
        let all = ShadowCaps::of(
            PinBased::VMX_PREEMPTION_TIMER | PinBased::POSTED_INTR,
            Secondary::ENABLE_PML | apicv_sec,
        );
        assert!(all.pml && all.preemption_timer && all.apicv);
        let none = ShadowCaps::of(PinBased::EMPTY, Secondary::EMPTY);
        assert!(!none.pml && !none.preemption_timer && !none.apicv);
        let c = ShadowCaps::of(PinBased::VMX_PREEMPTION_TIMER, Secondary::ENABLE_PML);
        assert!(c.pml && c.preemption_timer && !c.apicv);
        // APICv needs all three controls.
        assert!(ShadowCaps::of(PinBased::POSTED_INTR, apicv_sec).apicv);
        assert!(!ShadowCaps::of(PinBased::EMPTY, apicv_sec).apicv);
        assert!(!ShadowCaps::of(PinBased::POSTED_INTR, Secondary::APIC_REGISTER_VIRT).apicv);
        assert!(!ShadowCaps::of(PinBased::POSTED_INTR, Secondary::VIRTUAL_INTR_DELIVERY).apicv);
    }

    #[test]
    fn counts_match_vmcs_shadow_fields_h() {
        let (r, w) = bitmaps(&all());
        let cleared = |b: &Bitmap| b.0.iter().map(|w| w.count_zeros()).sum::<u32>();
        // 11 read-only + 24 read-write rows, 64-bit ones twice: RO has
        // GUEST_PHYSICAL_ADDRESS, RW none; and the 2 read-write rows
        // shadowed beyond KVM (HOST_RSP, HOST_RIP).
        assert_eq!(cleared(&r), 11 + 1 + 24 + 2);
        assert_eq!(cleared(&w), 24 + 2);
        assert_eq!(shadowed(&all()).count(), 35 + 2);
    }

    #[test]
    fn host_rsp_and_rip_are_shadowed_on_every_cpu() {
        // The selftest library's vmresume() writes both before every
        // VMRESUME: neither access exits (vmcs::table::SHADOWED_BEYOND_KVM).
        for caps in [ShadowCaps::default(), all()] {
            let (r, w) = bitmaps(&caps);
            for e in crate::vmcs::table::SHADOWED_BEYOND_KVM {
                assert!(!r.exits(e) && !w.exits(e), "{e:?}");
            }
        }
    }
}
