// SPDX-License-Identifier: GPL-2.0

//! KVM's `__vmx_guest_state_valid()` (vmx.c), its protected-mode branch:
//! whether vmcs02's segments are ones KVM can run without emulating when
//! unrestricted guest is off. nested.c asks it at every entry from L1
//! (`prepare_vmcs02()`'s `CC(!vmx_guest_state_valid())`); KVM's own
//! function reads each segment through `vmx_get_segment()` (base, limit,
//! selector and access rights, twenty calls), ~1,350 instructions. The
//! protected-mode checks look only at selectors and access rights, so
//! this reads those sixteen fields of the current VMCS (what
//! `vmx_get_segment()`'s segment cache holds) and decides the same.
//! The real-mode and virtual-8086 branch, and KVM's vm86 emulation (whose
//! `vmx_get_segment()` answers from saved state), stay KVM's.

use crate::vmcs::encoding::Encoding;
use crate::vmcs::table::encodings as e;

/// Access-rights type bits (`VMX_AR_TYPE_*_MASK`).
mod ty {
    pub(super) const ACCESSED: u32 = 1 << 0;
    pub(super) const WRITEABLE: u32 = 1 << 2;
    pub(super) const CODE: u32 = 1 << 3;
}

/// TSS types `tr_valid()` accepts: busy 16-bit and busy 32/64-bit.
const TSS_BUSY_16: u32 = 3;
const TSS_BUSY_32: u32 = 11;
/// The LDT type.
const LDT: u32 = 2;

/// A segment as `vmx_get_segment()` decodes it, selector and access rights
/// (its `present` is `!unusable`, not the P bit).
#[derive(Clone, Copy, Debug)]
pub struct Seg {
    /// Selector.
    pub selector: u16,
    /// Access rights (the VMCS's AR-bytes field).
    pub ar: u32,
}

impl Seg {
    fn read(read: &mut impl FnMut(Encoding) -> u64, sel: Encoding, ar: Encoding) -> Self {
        Seg {
            selector: read(sel) as u16,
            ar: read(ar) as u32,
        }
    }
    fn unusable(self) -> bool {
        self.ar & (1 << 16) != 0
    }
    fn ty(self) -> u32 {
        self.ar & 0xf
    }
    fn s(self) -> bool {
        self.ar & (1 << 4) != 0
    }
    fn dpl(self) -> u16 {
        ((self.ar >> 5) & 3) as u16
    }
    fn rpl(self) -> u16 {
        self.selector & 3
    }
    fn ti(self) -> bool {
        self.selector & 4 != 0
    }
}

/// `code_segment_valid()`.
fn code_ok(cs: Seg) -> bool {
    if cs.unusable() || !cs.s() {
        return false;
    }
    if !cs.ty() & (ty::CODE | ty::ACCESSED) != 0 {
        return false;
    }
    // Bit 2 of a code type is "conforming" (KVM names it WRITEABLE).
    if cs.ty() & ty::WRITEABLE != 0 {
        cs.dpl() <= cs.rpl()
    } else {
        cs.dpl() == cs.rpl()
    }
}

/// `stack_segment_valid()`.
fn stack_ok(ss: Seg) -> bool {
    if ss.unusable() {
        return true;
    }
    (ss.ty() == 3 || ss.ty() == 7) && ss.s() && ss.dpl() == ss.rpl()
}

/// `data_segment_valid()`.
fn data_ok(d: Seg) -> bool {
    if d.unusable() {
        return true;
    }
    if !d.s() {
        return false;
    }
    // Unless a conforming code segment (code type with bit 2, KVM's
    // WRITEABLE mask): DPL >= RPL.
    if !d.ty() & (ty::CODE | ty::WRITEABLE) != 0 && d.dpl() < d.rpl() {
        return false;
    }
    true
}

/// `tr_valid()`.
fn tr_ok(tr: Seg) -> bool {
    !tr.unusable() && !tr.ti() && (tr.ty() == TSS_BUSY_16 || tr.ty() == TSS_BUSY_32)
}

/// `ldtr_valid()`.
fn ldtr_ok(ldtr: Seg) -> bool {
    ldtr.unusable() || (!ldtr.ti() && ldtr.ty() == LDT)
}

/// The protected-mode branch of `__vmx_guest_state_valid()` over the
/// segments in its order: CS, SS, DS, ES, FS, GS, TR, LDTR.
pub fn protected_mode_segments_valid(s: &[Seg; 8]) -> bool {
    let [cs, ss, ds, es, fs, gs, tr, ldtr] = *s;
    cs.rpl() == ss.rpl()
        && code_ok(cs)
        && stack_ok(ss)
        && data_ok(ds)
        && data_ok(es)
        && data_ok(fs)
        && data_ok(gs)
        && tr_ok(tr)
        && ldtr_ok(ldtr)
}

/// The same from the current VMCS's fields, read with `read` (VMREAD).
pub fn protected_mode_valid(mut read: impl FnMut(Encoding) -> u64) -> bool {
    let r = &mut read;
    let segs = [
        Seg::read(r, e::GUEST_CS_SELECTOR, e::GUEST_CS_AR_BYTES),
        Seg::read(r, e::GUEST_SS_SELECTOR, e::GUEST_SS_AR_BYTES),
        Seg::read(r, e::GUEST_DS_SELECTOR, e::GUEST_DS_AR_BYTES),
        Seg::read(r, e::GUEST_ES_SELECTOR, e::GUEST_ES_AR_BYTES),
        Seg::read(r, e::GUEST_FS_SELECTOR, e::GUEST_FS_AR_BYTES),
        Seg::read(r, e::GUEST_GS_SELECTOR, e::GUEST_GS_AR_BYTES),
        Seg::read(r, e::GUEST_TR_SELECTOR, e::GUEST_TR_AR_BYTES),
        Seg::read(r, e::GUEST_LDTR_SELECTOR, e::GUEST_LDTR_AR_BYTES),
    ];
    protected_mode_segments_valid(&segs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64-bit kernel's flat segments (selftests' L2): CS 0x8 code
    /// execute/read accessed, data 0x10, TR busy TSS, LDTR unusable.
    fn flat() -> [Seg; 8] {
        let code = Seg {
            selector: 0x8,
            ar: 0xa09b,
        };
        let data = Seg {
            selector: 0x10,
            ar: 0xc093,
        };
        [
            code,
            data,
            data,
            data,
            data,
            data,
            Seg {
                selector: 0x18,
                ar: 0x8b,
            },
            Seg {
                selector: 0,
                ar: 1 << 16,
            },
        ]
    }

    #[test]
    fn flat_state_is_valid() {
        assert!(protected_mode_segments_valid(&flat()));
    }

    #[test]
    fn each_kvm_check_can_fail() {
        let cases: [(usize, u16, u32, &str); 10] = [
            (0, 0x8, 0x10000, "unusable CS"),
            (0, 0x8, 0xa093, "CS not code"),
            (0, 0xb, 0xa09b, "CS RPL 3 != SS RPL 0"),
            (0, 0x8, 0xa0bb, "non-conforming CS with DPL 1 != RPL 0"),
            (1, 0x10, 0xc09b, "SS of a code type"),
            (1, 0x10, 0xc0b3, "SS DPL 1 != RPL 0"),
            (2, 0x13, 0xc093, "data DPL 0 < RPL 3"),
            (2, 0x10, 0xc083, "data not S"),
            (6, 0x1c, 0x8b, "TR in the LDT"),
            (7, 0x20, 0x82 | 0x1, "LDTR not an LDT"),
        ];
        for (i, selector, ar, what) in cases {
            let mut s = flat();
            if let Some(slot) = s.get_mut(i) {
                *slot = Seg { selector, ar };
            }
            assert!(!protected_mode_segments_valid(&s), "{what}");
        }
    }

    #[test]
    fn kvm_accepts_these() {
        let mut s = flat();
        // Unusable SS and data segments pass; conforming code in DS passes
        // whatever its DPL; a conforming CS may have DPL < RPL.
        s[1] = Seg {
            selector: 0,
            ar: 1 << 16,
        };
        s[2] = Seg {
            selector: 0x3,
            ar: 0xc09f,
        };
        s[3] = Seg {
            selector: 0,
            ar: 1 << 16,
        };
        assert!(protected_mode_segments_valid(&s));
        let mut s = flat();
        s[0] = Seg {
            selector: 0xb,
            ar: 0xa09f,
        };
        s[1] = Seg {
            selector: 0x13,
            ar: 0xc0f3,
        };
        assert!(
            protected_mode_segments_valid(&s),
            "conforming CS, DPL 0 <= RPL 3"
        );
        let mut s = flat();
        s[6] = Seg {
            selector: 0x18,
            ar: 0x83,
        };
        assert!(protected_mode_segments_valid(&s), "busy 16-bit TSS");
    }

    #[test]
    fn reads_the_sixteen_fields() {
        let s = flat();
        let mut n = 0;
        let ok = protected_mode_valid(|f| {
            n += 1;
            let sel = [
                e::GUEST_CS_SELECTOR,
                e::GUEST_SS_SELECTOR,
                e::GUEST_DS_SELECTOR,
                e::GUEST_ES_SELECTOR,
                e::GUEST_FS_SELECTOR,
                e::GUEST_GS_SELECTOR,
                e::GUEST_TR_SELECTOR,
                e::GUEST_LDTR_SELECTOR,
            ];
            let ar = [
                e::GUEST_CS_AR_BYTES,
                e::GUEST_SS_AR_BYTES,
                e::GUEST_DS_AR_BYTES,
                e::GUEST_ES_AR_BYTES,
                e::GUEST_FS_AR_BYTES,
                e::GUEST_GS_AR_BYTES,
                e::GUEST_TR_AR_BYTES,
                e::GUEST_LDTR_AR_BYTES,
            ];
            if let Some(i) = sel.iter().position(|&x| x == f) {
                return u64::from(s[i].selector);
            }
            if let Some(i) = ar.iter().position(|&x| x == f) {
                return u64::from(s[i].ar);
            }
            panic!("unexpected field {f:?}");
        });
        assert!(ok);
        assert_eq!(n, 16);
    }
}
