// SPDX-License-Identifier: GPL-2.0

//! Architectural x86 definitions the core shares (SDM Vol. 3A 2.5 "Control
//! Registers", 2.2.1 "Extended Feature Enable Register", 6.3 "Sources of
//! Interrupts"), and guest-physical/linear address rules as KVM applies them.

/// CR0 bits.
pub mod cr0 {
    /// Protection enable.
    pub const PE: u64 = 1 << 0;
    /// Task switched.
    pub const TS: u64 = 1 << 3;
    /// Numeric error.
    pub const NE: u64 = 1 << 5;
    /// Write protect.
    pub const WP: u64 = 1 << 16;
    /// Paging.
    pub const PG: u64 = 1 << 31;
}

/// CR4 bits.
pub mod cr4 {
    /// Physical address extension.
    pub const PAE: u64 = 1 << 5;
    /// User-mode instruction prevention.
    pub const UMIP: u64 = 1 << 11;
    /// VMX enable.
    pub const VMXE: u64 = 1 << 13;
    /// 57-bit linear addresses (5-level paging).
    pub const LA57: u64 = 1 << 12;
    /// PCID enable.
    pub const PCIDE: u64 = 1 << 17;
    /// Control-flow enforcement.
    pub const CET: u64 = 1 << 23;
}

/// IA32_EFER bits.
pub mod efer {
    /// SYSCALL enable.
    pub const SCE: u64 = 1 << 0;
    /// Long mode enable.
    pub const LME: u64 = 1 << 8;
    /// Long mode active.
    pub const LMA: u64 = 1 << 10;
    /// No-execute enable.
    pub const NX: u64 = 1 << 11;
}

/// IA32_DEBUGCTL bits.
pub mod debugctl {
    /// FREEZE_WHILE_SMM.
    pub const FREEZE_IN_SMM: u64 = 1 << 14;
}

/// Exception and interrupt vectors.
pub mod vector {
    /// #DB.
    pub const DB: u32 = 1;
    /// NMI.
    pub const NMI: u32 = 2;
    /// #BP.
    pub const BP: u32 = 3;
    /// #OF.
    pub const OF: u32 = 4;
    /// #AC.
    pub const AC: u32 = 17;
    /// #PF.
    pub const PF: u32 = 14;
}

/// KVM's INVALID_GPA: "no address", e.g. an unused VMCS link pointer.
pub const INVALID_GPA: u64 = u64::MAX;

/// KVM's `kvm_vcpu_is_legal_gpa()`: no bit at or above MAXPHYADDR.
pub const fn legal_gpa(gpa: u64, maxphyaddr: u32) -> bool {
    maxphyaddr >= 64 || gpa >> maxphyaddr == 0
}

/// KVM's `kvm_vcpu_is_legal_aligned_gpa()` (`alignment` a power of two).
pub const fn legal_aligned_gpa(gpa: u64, maxphyaddr: u32, alignment: u64) -> bool {
    gpa & alignment.wrapping_sub(1) == 0 && legal_gpa(gpa, maxphyaddr)
}

/// KVM's `page_address_valid()`: a legal, 4 KiB-aligned GPA.
pub const fn page_address_valid(gpa: u64, maxphyaddr: u32) -> bool {
    legal_aligned_gpa(gpa, maxphyaddr, 4096)
}

/// KVM's `__is_canonical_address()` for a `vaddr_bits`-bit linear address.
pub const fn is_canonical(la: u64, vaddr_bits: u32) -> bool {
    let bits = if vaddr_bits == 0 {
        1
    } else if vaddr_bits > 64 {
        64
    } else {
        vaddr_bits
    };
    let shift = 64 - bits;
    ((la << shift) as i64 >> shift) as u64 == la
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpa_rules() {
        assert!(legal_gpa((1 << 46) - 1, 46));
        assert!(!legal_gpa(1 << 46, 46));
        assert!(legal_gpa(u64::MAX, 64));
        assert!(page_address_valid(0x1000, 46));
        assert!(!page_address_valid(0x1800, 46));
        assert!(legal_aligned_gpa(0x1040, 46, 64));
        assert!(!legal_aligned_gpa(0x1020, 46, 64));
    }

    #[test]
    fn canonical_addresses() {
        assert!(is_canonical(0x0000_7fff_ffff_ffff, 48));
        assert!(!is_canonical(0x0000_8000_0000_0000, 48));
        assert!(is_canonical(0xffff_8000_0000_0000, 48));
        assert!(is_canonical(0x0000_8000_0000_0000, 57));
        assert!(is_canonical(u64::MAX, 0));
    }
}
