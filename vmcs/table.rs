// SPDX-License-Identifier: GPL-2.0

//! The one VMCS field table.
//!
//! One row per VMCS field that KVM 6.12's vmcs12 knows (vmcs12.c), in
//! encoding order: encoding, `struct vmcs12` field, shadowing (as
//! vmcs_shadow_fields.h, plus `SHADOWED_BEYOND_KVM`) and eVMCS field with
//! its clean-field group (as hyperv_evmcs.c). Width and type come from the encoding itself. Everything
//! else is derived from these rows: vmcs12 offsets (`offset_of!`), typed
//! access by encoding, the shadow VMCS bitmaps (`crate::shadow`), the eVMCS
//! mapping, and the highest index for IA32_VMX_VMCS_ENUM. A 64-bit field's
//! high-half encoding (bit 0 set) is implied by its row, at offset + 4.

use core::mem::offset_of;

use super::encoding::{Encoding, Width};
use super::layout::Vmcs12;
use crate::evmcs::{clean::CleanGroup, fields::EvmcsFields, layout::HvEnlightenedVmcs};

/// How a field is shadowed when L0 uses VMCS shadowing for L1
/// (SDM Vol. 3C 25.10 "VMCS Types: Ordinary and Shadow").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shadow {
    /// Every VMREAD and VMWRITE of the field exits to L0.
    No,
    /// VMREAD is served from the shadow VMCS; VMWRITE exits.
    ReadOnly,
    /// VMREAD and VMWRITE are both served from the shadow VMCS.
    ReadWrite,
}

/// Where a field lives in the enlightened VMCS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvmcsField {
    /// Byte offset in `struct hv_enlightened_vmcs`.
    pub offset: u16,
    /// Clean-field group covering it.
    pub clean: CleanGroup,
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// KVM's name of the field (`enum vmcs_field`).
    pub name: &'static str,
    /// Full-access encoding.
    pub encoding: Encoding,
    /// Byte offset in `struct vmcs12`.
    pub offset: u16,
    /// Shadowing.
    pub shadow: Shadow,
    /// eVMCS location, if the enlightened VMCS has the field.
    pub evmcs: Option<EvmcsField>,
}

impl Field {
    /// Width of the field.
    pub const fn width(&self) -> Width {
        self.encoding.width()
    }
}

/// A field as named by an encoding: its row, and whether the encoding is the
/// high half of a 64-bit field.
#[derive(Clone, Copy, Debug)]
pub struct FieldRef {
    /// The row.
    pub field: &'static Field,
    /// Access to bits 63:32 of a 64-bit field.
    pub high: bool,
}

impl FieldRef {
    /// Byte offset of the access in `struct vmcs12` (high half: + 4).
    pub const fn offset(&self) -> u16 {
        if self.high {
            self.field.offset.saturating_add(4)
        } else {
            self.field.offset
        }
    }

    /// The encoding this reference was looked up with.
    pub const fn encoding(&self) -> Encoding {
        if self.high {
            self.field.encoding.high()
        } else {
            self.field.encoding
        }
    }
}

/// Rows read-write shadowed here that vmcs_shadow_fields.h does not shadow:
/// a deliberate departure from KVM 6.12 that does less work, not something
/// else. L1 writes HOST_RSP and HOST_RIP before every VMRESUME (KVM's own
/// selftest library does, in `vmresume()`); shadowed, those writes no
/// longer exit to L0, and so no longer mark vmcs12 dirty (the next entry
/// would reload vmcs02's rare guest state) or sync the rare state back.
/// Nothing L1 sees changes: neither field goes into vmcs02 (vmcs02's host
/// state is L0's own), and each is consumed only from vmcs12, after the
/// read-write shadowed fields were copied there: the host-state checks of
/// VMLAUNCH/VMRESUME and the host-state load of a nested VM exit follow
/// `copy_shadow_to_vmcs12()`, and KVM_GET_NESTED_STATE and VMCLEAR or
/// VMPTRLD (`release_vmcs12()`) copy them back with the rest, while
/// there is a current VMCS (`ShadowFields::to_vmcs12`); a nested exit
/// refills the shadow VMCS from vmcs12. Both are natural-width
/// host-state fields every CPU with VMCS shadowing can shadow (no feature
/// of L0 decides, unlike `shadow::bitmap::shadow_of`). Without VMCS
/// shadowing (`enable_shadow_vmcs=0`) their VMWRITE still exits and is
/// treated as KVM treats every read-write shadowed field: written to vmcs12
/// without the rare sync or dirtying vmcs12, which nothing here needs. An
/// eVMCS L1 does not use VMWRITE.
pub const SHADOWED_BEYOND_KVM: [Encoding; 2] = [encodings::HOST_RSP, encodings::HOST_RIP];

/// The field an encoding names, as KVM's `get_vmcs12_field_offset()`:
/// `None` for an encoding vmcs12 does not have, including the high half of
/// a field that is not 64-bit.
pub fn lookup(encoding: Encoding) -> Option<FieldRef> {
    let field = FIELDS.get(super::index::row(encoding.full())?)?;
    let high = encoding.is_high();
    if high && field.width() != Width::U64 {
        return None;
    }
    Some(FieldRef { field, high })
}

/// Highest field index (encoding bits 9:1) in the table: IA32_VMX_VMCS_ENUM
/// reports it in bits 9:1 (KVM's `nested_vmx_calc_vmcs_enum_msr()`).
pub const fn max_index() -> u16 {
    let mut i = 0;
    let mut max = 0;
    while i < FIELDS.len() {
        let idx = FIELDS[i].encoding.index();
        if idx > max {
            max = idx;
        }
        i += 1;
    }
    max
}

const fn off(offset: usize) -> u16 {
    assert!(offset <= u16::MAX as usize);
    offset as u16
}

const fn is_sorted(fields: &[Field]) -> bool {
    let mut i = 1;
    while i < fields.len() {
        if fields[i - 1].encoding.value() >= fields[i].encoding.value() {
            return false;
        }
        i += 1;
    }
    true
}

macro_rules! evmcs {
    (()) => {
        None
    };
    (($ev:ident @ $clean:ident)) => {
        Some(EvmcsField {
            offset: off(offset_of!(HvEnlightenedVmcs, $ev)),
            clean: CleanGroup::$clean,
        })
    };
}

/// `HvEnlightenedVmcs::get` of one row: the eVMCS field, if the row has one.
macro_rules! evmcs_get {
    ($s:ident, ()) => {
        None
    };
    ($s:ident, ($ev:ident @ $clean:ident)) => {
        Some(u64::from({ $s.$ev }))
    };
}

/// One row of `evmcs_to_vmcs12_rows`: the copy if the row has an eVMCS
/// field and `take` wants it.
macro_rules! evmcs_row_in {
    ($ev:ident, $v:ident, $take:ident, $enc:literal, $field:ident, ()) => {};
    ($ev:ident, $v:ident, $take:ident, $enc:literal, $field:ident, ($evf:ident @ $clean:ident)) => {
        if $take(Encoding::new($enc), CleanGroup::$clean) {
            $v.$field = $ev.load(crate::evmcs::fields::evmcs_at!($evf)) as _;
        }
    };
}

/// One row of `vmcs12_to_evmcs_rows`.
macro_rules! evmcs_row_out {
    ($ev:ident, $v:ident, $take:ident, $enc:literal, $field:ident, ()) => {};
    ($ev:ident, $v:ident, $take:ident, $enc:literal, $field:ident, ($evf:ident @ $clean:ident)) => {
        if $take(Encoding::new($enc), CleanGroup::$clean) {
            $ev.store(crate::evmcs::fields::evmcs_at!($evf), $v.$field as u64);
        }
    };
}

/// `HvEnlightenedVmcs::set` of one row.
macro_rules! evmcs_set {
    ($s:ident, $v:ident, ()) => {
        false
    };
    ($s:ident, $v:ident, ($ev:ident @ $clean:ident)) => {{
        $s.$ev = $v as _;
        true
    }};
}

macro_rules! vmcs_fields {
    ($($name:ident = $enc:literal => $field:ident, $shadow:ident, $evmcs:tt;)*) => {
        /// Encodings of the fields in the table, by KVM's names.
        #[allow(missing_docs)]
        pub mod encodings {
            use super::Encoding;
            $(pub const $name: Encoding = Encoding::new($enc);)*
        }

        /// The rows' encodings, in table order (for `super::index`,
        /// built at compile time, where `FIELDS` cannot be read).
        pub(crate) const ROW_ENCODINGS: [u16; [$($enc),*].len()] = [$($enc),*];

        /// The table, sorted by encoding.
        pub static FIELDS: [Field; [$($enc),*].len()] = [$(
            Field {
                name: stringify!($name),
                encoding: Encoding::new($enc),
                offset: off(offset_of!(Vmcs12, $field)),
                shadow: Shadow::$shadow,
                evmcs: evmcs!($evmcs),
            },
        )*];

        impl Vmcs12 {
            /// Reads a whole field (zero-extended to 64 bits).
            pub fn get(&self, field: &Field) -> u64 {
                match field.encoding.value() {
                    $($enc => u64::from({ self.$field }),)*
                    _ => 0,
                }
            }

            /// Writes a whole field; a narrower field keeps the low bits of
            /// `value`, as a store of the field's width does.
            #[allow(clippy::cast_possible_truncation)]
            pub fn set(&mut self, field: &Field, value: u64) {
                match field.encoding.value() {
                    $($enc => self.$field = value as _,)*
                    _ => {}
                }
            }
        }

        /// VMWRITEs (`write`) each shadowed field of class `class` for
        /// which `take(encoding)` holds, from vmcs12, in table order: one
        /// straight-line store per row (`class` and the rows' encodings
        /// are constants, so the rows of other classes vanish and `take`
        /// folds to the tests it makes at run time).
        #[allow(clippy::unnecessary_cast)]
        #[inline(always)]
        pub fn vmcs12_to_shadow_rows(
            v: &Vmcs12,
            class: Shadow,
            take: impl Fn(Encoding) -> bool,
            mut write: impl FnMut(Encoding, u64),
        ) {
            $(if Shadow::$shadow as u8 == class as u8 && take(Encoding::new($enc)) {
                write(Encoding::new($enc), u64::from({ v.$field }));
            })*
        }

        /// The other way, for the read-write shadowed fields only (those
        /// L1 may have written): each one for which `take` holds, from
        /// `read` (VMREAD) into vmcs12, in table order.
        #[allow(clippy::cast_possible_truncation, clippy::unnecessary_cast)]
        #[inline(always)]
        pub fn shadow_rw_to_vmcs12_rows(
            v: &mut Vmcs12,
            take: impl Fn(Encoding) -> bool,
            mut read: impl FnMut(Encoding) -> u64,
        ) {
            $(if Shadow::$shadow as u8 == Shadow::ReadWrite as u8 && take(Encoding::new($enc)) {
                v.$field = read(Encoding::new($enc)) as _;
            })*
        }

        /// Copies each eVMCS field to vmcs12 for which `take(encoding,
        /// clean group)` holds: one straight-line assignment per row (the
        /// rows' encodings and groups are constants, so `take` folds to
        /// the clean-field tests it makes at run time).
        #[allow(clippy::cast_possible_truncation, clippy::unnecessary_cast)]
        #[inline]
        pub fn evmcs_to_vmcs12_rows(
            ev: &impl EvmcsFields,
            v: &mut Vmcs12,
            take: impl Fn(Encoding, CleanGroup) -> bool,
        ) {
            $(evmcs_row_in!(ev, v, take, $enc, $field, $evmcs);)*
        }

        /// The other way: each vmcs12 field to the eVMCS for which `take`
        /// holds.
        #[allow(clippy::cast_possible_truncation, clippy::unnecessary_cast)]
        #[inline]
        pub fn vmcs12_to_evmcs_rows(
            v: &Vmcs12,
            ev: &mut impl EvmcsFields,
            take: impl Fn(Encoding, CleanGroup) -> bool,
        ) {
            $(evmcs_row_out!(ev, v, take, $enc, $field, $evmcs);)*
        }

        impl HvEnlightenedVmcs {
            /// Reads the eVMCS copy of a field (zero-extended), `None` if
            /// the enlightened VMCS has no such field.
            pub fn get(&self, field: &Field) -> Option<u64> {
                match field.encoding.value() {
                    $($enc => evmcs_get!(self, $evmcs),)*
                    _ => None,
                }
            }

            /// Writes the eVMCS copy of a field (a narrower field keeps the
            /// low bits); false if the enlightened VMCS has no such field.
            #[allow(clippy::cast_possible_truncation)]
            pub fn set(&mut self, field: &Field, value: u64) -> bool {
                match field.encoding.value() {
                    $($enc => evmcs_set!(self, value, $evmcs),)*
                    _ => false,
                }
            }
        }

        #[cfg(test)]
        pub(crate) fn field_sizes() -> std::vec::Vec<(&'static str, usize)> {
            fn size<T>(_: fn(&Vmcs12) -> T) -> usize {
                core::mem::size_of::<T>()
            }
            std::vec![$((stringify!($name), size(|v: &Vmcs12| v.$field))),*]
        }
    };
}

const _: () = assert!(is_sorted(&FIELDS));

vmcs_fields! {
    VIRTUAL_PROCESSOR_ID = 0x0000 => virtual_processor_id, No, (virtual_processor_id @ CONTROL_XLAT);
    POSTED_INTR_NV = 0x0002 => posted_intr_nv, No, ();
    GUEST_ES_SELECTOR = 0x0800 => guest_es_selector, No, (guest_es_selector @ GUEST_GRP2);
    GUEST_CS_SELECTOR = 0x0802 => guest_cs_selector, No, (guest_cs_selector @ GUEST_GRP2);
    GUEST_SS_SELECTOR = 0x0804 => guest_ss_selector, No, (guest_ss_selector @ GUEST_GRP2);
    GUEST_DS_SELECTOR = 0x0806 => guest_ds_selector, No, (guest_ds_selector @ GUEST_GRP2);
    GUEST_FS_SELECTOR = 0x0808 => guest_fs_selector, No, (guest_fs_selector @ GUEST_GRP2);
    GUEST_GS_SELECTOR = 0x080a => guest_gs_selector, No, (guest_gs_selector @ GUEST_GRP2);
    GUEST_LDTR_SELECTOR = 0x080c => guest_ldtr_selector, No, (guest_ldtr_selector @ GUEST_GRP2);
    GUEST_TR_SELECTOR = 0x080e => guest_tr_selector, No, (guest_tr_selector @ GUEST_GRP2);
    GUEST_INTR_STATUS = 0x0810 => guest_intr_status, ReadWrite, ();
    GUEST_PML_INDEX = 0x0812 => guest_pml_index, ReadWrite, ();
    HOST_ES_SELECTOR = 0x0c00 => host_es_selector, No, (host_es_selector @ HOST_GRP1);
    HOST_CS_SELECTOR = 0x0c02 => host_cs_selector, No, (host_cs_selector @ HOST_GRP1);
    HOST_SS_SELECTOR = 0x0c04 => host_ss_selector, No, (host_ss_selector @ HOST_GRP1);
    HOST_DS_SELECTOR = 0x0c06 => host_ds_selector, No, (host_ds_selector @ HOST_GRP1);
    HOST_FS_SELECTOR = 0x0c08 => host_fs_selector, ReadWrite, (host_fs_selector @ HOST_GRP1);
    HOST_GS_SELECTOR = 0x0c0a => host_gs_selector, ReadWrite, (host_gs_selector @ HOST_GRP1);
    HOST_TR_SELECTOR = 0x0c0c => host_tr_selector, No, (host_tr_selector @ HOST_GRP1);
    IO_BITMAP_A = 0x2000 => io_bitmap_a, No, (io_bitmap_a @ IO_BITMAP);
    IO_BITMAP_B = 0x2002 => io_bitmap_b, No, (io_bitmap_b @ IO_BITMAP);
    MSR_BITMAP = 0x2004 => msr_bitmap, No, (msr_bitmap @ MSR_BITMAP);
    VM_EXIT_MSR_STORE_ADDR = 0x2006 => vm_exit_msr_store_addr, No, (vm_exit_msr_store_addr @ ALL);
    VM_EXIT_MSR_LOAD_ADDR = 0x2008 => vm_exit_msr_load_addr, No, (vm_exit_msr_load_addr @ ALL);
    VM_ENTRY_MSR_LOAD_ADDR = 0x200a => vm_entry_msr_load_addr, No, (vm_entry_msr_load_addr @ ALL);
    PML_ADDRESS = 0x200e => pml_address, No, ();
    TSC_OFFSET = 0x2010 => tsc_offset, No, (tsc_offset @ CONTROL_GRP2);
    VIRTUAL_APIC_PAGE_ADDR = 0x2012 => virtual_apic_page_addr, No, (virtual_apic_page_addr @ CONTROL_GRP2);
    APIC_ACCESS_ADDR = 0x2014 => apic_access_addr, No, ();
    POSTED_INTR_DESC_ADDR = 0x2016 => posted_intr_desc_addr, No, ();
    VM_FUNCTION_CONTROL = 0x2018 => vm_function_control, No, ();
    EPT_POINTER = 0x201a => ept_pointer, No, (ept_pointer @ CONTROL_XLAT);
    EOI_EXIT_BITMAP0 = 0x201c => eoi_exit_bitmap0, No, ();
    EOI_EXIT_BITMAP1 = 0x201e => eoi_exit_bitmap1, No, ();
    EOI_EXIT_BITMAP2 = 0x2020 => eoi_exit_bitmap2, No, ();
    EOI_EXIT_BITMAP3 = 0x2022 => eoi_exit_bitmap3, No, ();
    EPTP_LIST_ADDRESS = 0x2024 => eptp_list_address, No, ();
    VMREAD_BITMAP = 0x2026 => vmread_bitmap, No, ();
    VMWRITE_BITMAP = 0x2028 => vmwrite_bitmap, No, ();
    XSS_EXIT_BITMAP = 0x202c => xss_exit_bitmap, No, (xss_exit_bitmap @ CONTROL_GRP2);
    ENCLS_EXITING_BITMAP = 0x202e => encls_exiting_bitmap, No, (encls_exiting_bitmap @ CONTROL_GRP2);
    TSC_MULTIPLIER = 0x2032 => tsc_multiplier, No, (tsc_multiplier @ CONTROL_GRP2);
    GUEST_PHYSICAL_ADDRESS = 0x2400 => guest_physical_address, ReadOnly, (guest_physical_address @ NONE);
    VMCS_LINK_POINTER = 0x2800 => vmcs_link_pointer, No, (vmcs_link_pointer @ GUEST_GRP1);
    GUEST_IA32_DEBUGCTL = 0x2802 => guest_ia32_debugctl, No, (guest_ia32_debugctl @ GUEST_GRP1);
    GUEST_IA32_PAT = 0x2804 => guest_ia32_pat, No, (guest_ia32_pat @ GUEST_GRP1);
    GUEST_IA32_EFER = 0x2806 => guest_ia32_efer, No, (guest_ia32_efer @ GUEST_GRP1);
    GUEST_IA32_PERF_GLOBAL_CTRL = 0x2808 => guest_ia32_perf_global_ctrl, No, (guest_ia32_perf_global_ctrl @ GUEST_GRP1);
    GUEST_PDPTR0 = 0x280a => guest_pdptr0, No, (guest_pdptr0 @ GUEST_GRP1);
    GUEST_PDPTR1 = 0x280c => guest_pdptr1, No, (guest_pdptr1 @ GUEST_GRP1);
    GUEST_PDPTR2 = 0x280e => guest_pdptr2, No, (guest_pdptr2 @ GUEST_GRP1);
    GUEST_PDPTR3 = 0x2810 => guest_pdptr3, No, (guest_pdptr3 @ GUEST_GRP1);
    GUEST_BNDCFGS = 0x2812 => guest_bndcfgs, No, (guest_bndcfgs @ GUEST_GRP1);
    HOST_IA32_PAT = 0x2c00 => host_ia32_pat, No, (host_ia32_pat @ HOST_GRP1);
    HOST_IA32_EFER = 0x2c02 => host_ia32_efer, No, (host_ia32_efer @ HOST_GRP1);
    HOST_IA32_PERF_GLOBAL_CTRL = 0x2c04 => host_ia32_perf_global_ctrl, No, (host_ia32_perf_global_ctrl @ HOST_GRP1);
    PIN_BASED_VM_EXEC_CONTROL = 0x4000 => pin_based_vm_exec_control, ReadWrite, (pin_based_vm_exec_control @ CONTROL_GRP1);
    CPU_BASED_VM_EXEC_CONTROL = 0x4002 => cpu_based_vm_exec_control, ReadWrite, (cpu_based_vm_exec_control @ CONTROL_PROC);
    EXCEPTION_BITMAP = 0x4004 => exception_bitmap, ReadWrite, (exception_bitmap @ CONTROL_EXCPN);
    PAGE_FAULT_ERROR_CODE_MASK = 0x4006 => page_fault_error_code_mask, No, (page_fault_error_code_mask @ ALL);
    PAGE_FAULT_ERROR_CODE_MATCH = 0x4008 => page_fault_error_code_match, No, (page_fault_error_code_match @ ALL);
    CR3_TARGET_COUNT = 0x400a => cr3_target_count, No, (cr3_target_count @ ALL);
    VM_EXIT_CONTROLS = 0x400c => vm_exit_controls, No, (vm_exit_controls @ CONTROL_GRP1);
    VM_EXIT_MSR_STORE_COUNT = 0x400e => vm_exit_msr_store_count, No, (vm_exit_msr_store_count @ ALL);
    VM_EXIT_MSR_LOAD_COUNT = 0x4010 => vm_exit_msr_load_count, No, (vm_exit_msr_load_count @ ALL);
    VM_ENTRY_CONTROLS = 0x4012 => vm_entry_controls, No, (vm_entry_controls @ CONTROL_ENTRY);
    VM_ENTRY_MSR_LOAD_COUNT = 0x4014 => vm_entry_msr_load_count, No, (vm_entry_msr_load_count @ ALL);
    VM_ENTRY_INTR_INFO_FIELD = 0x4016 => vm_entry_intr_info_field, ReadWrite, (vm_entry_intr_info_field @ CONTROL_EVENT);
    VM_ENTRY_EXCEPTION_ERROR_CODE = 0x4018 => vm_entry_exception_error_code, ReadWrite, (vm_entry_exception_error_code @ CONTROL_EVENT);
    VM_ENTRY_INSTRUCTION_LEN = 0x401a => vm_entry_instruction_len, ReadWrite, (vm_entry_instruction_len @ CONTROL_EVENT);
    TPR_THRESHOLD = 0x401c => tpr_threshold, ReadWrite, (tpr_threshold @ NONE);
    SECONDARY_VM_EXEC_CONTROL = 0x401e => secondary_vm_exec_control, No, (secondary_vm_exec_control @ CONTROL_GRP1);
    VM_INSTRUCTION_ERROR = 0x4400 => vm_instruction_error, No, (vm_instruction_error @ NONE);
    VM_EXIT_REASON = 0x4402 => vm_exit_reason, ReadOnly, (vm_exit_reason @ NONE);
    VM_EXIT_INTR_INFO = 0x4404 => vm_exit_intr_info, ReadOnly, (vm_exit_intr_info @ NONE);
    VM_EXIT_INTR_ERROR_CODE = 0x4406 => vm_exit_intr_error_code, ReadOnly, (vm_exit_intr_error_code @ NONE);
    IDT_VECTORING_INFO_FIELD = 0x4408 => idt_vectoring_info_field, ReadOnly, (idt_vectoring_info_field @ NONE);
    IDT_VECTORING_ERROR_CODE = 0x440a => idt_vectoring_error_code, ReadOnly, (idt_vectoring_error_code @ NONE);
    VM_EXIT_INSTRUCTION_LEN = 0x440c => vm_exit_instruction_len, ReadOnly, (vm_exit_instruction_len @ NONE);
    VMX_INSTRUCTION_INFO = 0x440e => vmx_instruction_info, No, (vmx_instruction_info @ NONE);
    GUEST_ES_LIMIT = 0x4800 => guest_es_limit, No, (guest_es_limit @ GUEST_GRP2);
    GUEST_CS_LIMIT = 0x4802 => guest_cs_limit, No, (guest_cs_limit @ GUEST_GRP2);
    GUEST_SS_LIMIT = 0x4804 => guest_ss_limit, No, (guest_ss_limit @ GUEST_GRP2);
    GUEST_DS_LIMIT = 0x4806 => guest_ds_limit, No, (guest_ds_limit @ GUEST_GRP2);
    GUEST_FS_LIMIT = 0x4808 => guest_fs_limit, No, (guest_fs_limit @ GUEST_GRP2);
    GUEST_GS_LIMIT = 0x480a => guest_gs_limit, No, (guest_gs_limit @ GUEST_GRP2);
    GUEST_LDTR_LIMIT = 0x480c => guest_ldtr_limit, No, (guest_ldtr_limit @ GUEST_GRP2);
    GUEST_TR_LIMIT = 0x480e => guest_tr_limit, No, (guest_tr_limit @ GUEST_GRP2);
    GUEST_GDTR_LIMIT = 0x4810 => guest_gdtr_limit, No, (guest_gdtr_limit @ GUEST_GRP2);
    GUEST_IDTR_LIMIT = 0x4812 => guest_idtr_limit, No, (guest_idtr_limit @ GUEST_GRP2);
    GUEST_ES_AR_BYTES = 0x4814 => guest_es_ar_bytes, No, (guest_es_ar_bytes @ GUEST_GRP2);
    GUEST_CS_AR_BYTES = 0x4816 => guest_cs_ar_bytes, ReadOnly, (guest_cs_ar_bytes @ GUEST_GRP2);
    GUEST_SS_AR_BYTES = 0x4818 => guest_ss_ar_bytes, ReadOnly, (guest_ss_ar_bytes @ GUEST_GRP2);
    GUEST_DS_AR_BYTES = 0x481a => guest_ds_ar_bytes, No, (guest_ds_ar_bytes @ GUEST_GRP2);
    GUEST_FS_AR_BYTES = 0x481c => guest_fs_ar_bytes, No, (guest_fs_ar_bytes @ GUEST_GRP2);
    GUEST_GS_AR_BYTES = 0x481e => guest_gs_ar_bytes, No, (guest_gs_ar_bytes @ GUEST_GRP2);
    GUEST_LDTR_AR_BYTES = 0x4820 => guest_ldtr_ar_bytes, No, (guest_ldtr_ar_bytes @ GUEST_GRP2);
    GUEST_TR_AR_BYTES = 0x4822 => guest_tr_ar_bytes, No, (guest_tr_ar_bytes @ GUEST_GRP2);
    GUEST_INTERRUPTIBILITY_INFO = 0x4824 => guest_interruptibility_info, ReadWrite, (guest_interruptibility_info @ GUEST_BASIC);
    GUEST_ACTIVITY_STATE = 0x4826 => guest_activity_state, No, (guest_activity_state @ GUEST_GRP1);
    GUEST_SYSENTER_CS = 0x482a => guest_sysenter_cs, No, (guest_sysenter_cs @ GUEST_GRP1);
    VMX_PREEMPTION_TIMER_VALUE = 0x482e => vmx_preemption_timer_value, ReadWrite, ();
    HOST_IA32_SYSENTER_CS = 0x4c00 => host_ia32_sysenter_cs, No, (host_ia32_sysenter_cs @ HOST_GRP1);
    CR0_GUEST_HOST_MASK = 0x6000 => cr0_guest_host_mask, ReadWrite, (cr0_guest_host_mask @ CRDR);
    CR4_GUEST_HOST_MASK = 0x6002 => cr4_guest_host_mask, No, (cr4_guest_host_mask @ CRDR);
    CR0_READ_SHADOW = 0x6004 => cr0_read_shadow, ReadWrite, (cr0_read_shadow @ CRDR);
    CR4_READ_SHADOW = 0x6006 => cr4_read_shadow, ReadWrite, (cr4_read_shadow @ CRDR);
    EXIT_QUALIFICATION = 0x6400 => exit_qualification, ReadOnly, (exit_qualification @ NONE);
    GUEST_LINEAR_ADDRESS = 0x640a => guest_linear_address, ReadOnly, (guest_linear_address @ NONE);
    GUEST_CR0 = 0x6800 => guest_cr0, ReadWrite, (guest_cr0 @ CRDR);
    GUEST_CR3 = 0x6802 => guest_cr3, ReadWrite, (guest_cr3 @ CRDR);
    GUEST_CR4 = 0x6804 => guest_cr4, ReadWrite, (guest_cr4 @ CRDR);
    GUEST_ES_BASE = 0x6806 => guest_es_base, No, (guest_es_base @ GUEST_GRP2);
    GUEST_CS_BASE = 0x6808 => guest_cs_base, No, (guest_cs_base @ GUEST_GRP2);
    GUEST_SS_BASE = 0x680a => guest_ss_base, No, (guest_ss_base @ GUEST_GRP2);
    GUEST_DS_BASE = 0x680c => guest_ds_base, No, (guest_ds_base @ GUEST_GRP2);
    GUEST_FS_BASE = 0x680e => guest_fs_base, No, (guest_fs_base @ GUEST_GRP2);
    GUEST_GS_BASE = 0x6810 => guest_gs_base, No, (guest_gs_base @ GUEST_GRP2);
    GUEST_LDTR_BASE = 0x6812 => guest_ldtr_base, No, (guest_ldtr_base @ GUEST_GRP2);
    GUEST_TR_BASE = 0x6814 => guest_tr_base, No, (guest_tr_base @ GUEST_GRP2);
    GUEST_GDTR_BASE = 0x6816 => guest_gdtr_base, No, (guest_gdtr_base @ GUEST_GRP2);
    GUEST_IDTR_BASE = 0x6818 => guest_idtr_base, No, (guest_idtr_base @ GUEST_GRP2);
    GUEST_DR7 = 0x681a => guest_dr7, No, (guest_dr7 @ CRDR);
    GUEST_RSP = 0x681c => guest_rsp, ReadWrite, (guest_rsp @ GUEST_BASIC);
    GUEST_RIP = 0x681e => guest_rip, ReadWrite, (guest_rip @ NONE);
    GUEST_RFLAGS = 0x6820 => guest_rflags, ReadWrite, (guest_rflags @ GUEST_BASIC);
    GUEST_PENDING_DBG_EXCEPTIONS = 0x6822 => guest_pending_dbg_exceptions, No, (guest_pending_dbg_exceptions @ GUEST_GRP1);
    GUEST_SYSENTER_ESP = 0x6824 => guest_sysenter_esp, No, (guest_sysenter_esp @ GUEST_GRP1);
    GUEST_SYSENTER_EIP = 0x6826 => guest_sysenter_eip, No, (guest_sysenter_eip @ GUEST_GRP1);
    HOST_CR0 = 0x6c00 => host_cr0, No, (host_cr0 @ HOST_GRP1);
    HOST_CR3 = 0x6c02 => host_cr3, No, (host_cr3 @ HOST_GRP1);
    HOST_CR4 = 0x6c04 => host_cr4, No, (host_cr4 @ HOST_GRP1);
    HOST_FS_BASE = 0x6c06 => host_fs_base, ReadWrite, (host_fs_base @ HOST_POINTER);
    HOST_GS_BASE = 0x6c08 => host_gs_base, ReadWrite, (host_gs_base @ HOST_POINTER);
    HOST_TR_BASE = 0x6c0a => host_tr_base, No, (host_tr_base @ HOST_POINTER);
    HOST_GDTR_BASE = 0x6c0c => host_gdtr_base, No, (host_gdtr_base @ HOST_POINTER);
    HOST_IDTR_BASE = 0x6c0e => host_idtr_base, No, (host_idtr_base @ HOST_POINTER);
    HOST_IA32_SYSENTER_ESP = 0x6c10 => host_ia32_sysenter_esp, No, (host_ia32_sysenter_esp @ HOST_GRP1);
    HOST_IA32_SYSENTER_EIP = 0x6c12 => host_ia32_sysenter_eip, No, (host_ia32_sysenter_eip @ HOST_GRP1);
    // HOST_RSP and HOST_RIP: read-write shadowed here, not in
    // vmcs_shadow_fields.h (see `SHADOWED_BEYOND_KVM`).
    HOST_RSP = 0x6c14 => host_rsp, ReadWrite, (host_rsp @ HOST_POINTER);
    HOST_RIP = 0x6c16 => host_rip, ReadWrite, (host_rip @ HOST_GRP1);
}
