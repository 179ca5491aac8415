// SPDX-License-Identifier: GPL-2.0

//! The VMCS model: field encodings, the one field table, `struct vmcs12`.

/// Defines a `#[repr(C)]` structure that mirrors a C one, and with it a
/// macro `$each` listing its fields, so that the kernel module can assert
/// each field's offset against the C structure (rust/bindings.rs) from the
/// one definition here, without a second list of the fields:
/// `each!(cb!(args))` expands to `cb!(args [field, ...]);`. The leading `$`
/// argument is the dollar sign the inner macro's own metavariables need.
macro_rules! c_layout {
    ($d:tt
     $(#[$attr:meta])*
     pub struct $name:ident, fields $each:ident {
         $($(#[$fattr:meta])* pub $field:ident: $ty:ty,)*
     }) => {
        $(#[$attr])*
        pub struct $name {
            $($(#[$fattr])* pub $field: $ty,)*
        }

        /// Calls `cb!(args [field, ...])` with every field of the structure
        /// defined beside it, in order.
        #[allow(unused_macros)]
        macro_rules! $each {
            ($d cb:ident!($d($d args:tt)*)) => { $d cb!($d($d args)* [$($field),*]); };
        }
        #[allow(unused_imports)]
        pub(crate) use $each;
    };
}
pub(crate) use c_layout;

pub mod access;
pub mod caps;
pub mod caps_restore;
pub mod checks;
pub mod controls;
pub mod encoding;
pub mod exit_reason;
pub mod index;
pub mod intr_info;
pub mod layout;
pub mod outcome;
pub mod slot;
pub mod x86;

#[cfg(test)]
mod proptests;
pub mod table;
#[cfg(test)]
mod table_tests;
