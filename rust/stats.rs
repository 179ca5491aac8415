// SPDX-License-Identifier: GPL-2.0

//! The core's counters (`crate::nested::counters`) shown in
//! `/sys/kernel/debug/rnvmx/`, one read-only file each, and the exits from
//! L2 by basic reason in `exit_reason/<n>`.

use kernel::{c_str, prelude::*};

use crate::bindings;
pub(crate) use crate::nested::counters::*;

/// The `rnvmx` debugfs directory; removed with everything in it on drop.
///
/// # Invariants
///
/// `dir` is the dentry debugfs returned for the directory, or an error
/// pointer if debugfs is unavailable (which the debugfs calls accept).
pub(crate) struct DebugFs {
    dir: *mut bindings::dentry,
}

// SAFETY: the dentry is only handed back to debugfs, which does its own
// locking; it may be released from any thread.
unsafe impl Send for DebugFs {}
// SAFETY: `DebugFs` has no methods taking `&self`.
unsafe impl Sync for DebugFs {}

impl DebugFs {
    /// Creates the directory and one read-only file per counter.
    ///
    /// A kernel without debugfs gets an error pointer, which the other
    /// debugfs calls ignore: the counters are then simply not shown.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: the name is a NUL-terminated string; a NULL parent means
        // the debugfs root.
        let dir = unsafe {
            bindings::debugfs_create_dir(c_str!("rnvmx").as_char_ptr(), core::ptr::null_mut())
        };
        for (name, counter) in NAMED.iter() {
            // SAFETY: the counters are statics, so they outlive the files,
            // which are removed with `dir` in `drop` before the module text
            // and data go away; debugfs reads them as plain aligned u64.
            unsafe {
                bindings::debugfs_create_u64(name.as_ptr().cast(), 0o444, dir, counter.as_ptr())
            };
        }
        // exit_reason/<n>: hardware exits from L2 with basic reason n.
        // SAFETY: `dir` is the directory created above (or an error pointer,
        // which debugfs accepts and ignores); the name is a NUL-terminated
        // static string.
        let sub = unsafe { bindings::debugfs_create_dir(c_str!("exit_reason").as_char_ptr(), dir) };
        for (n, counter) in EXITS_BY_REASON.iter().enumerate() {
            let name = reason_name(n);
            // SAFETY: the counters are statics that outlive the files, removed
            // with `dir` in `drop` before module unload; debugfs reads them as
            // plain aligned u64 and copies `name`, a NUL-terminated stack
            // buffer.
            unsafe {
                bindings::debugfs_create_u64(name.as_ptr().cast(), 0o444, sub, counter.as_ptr())
            };
        }
        // INVARIANT: `dir` came from debugfs_create_dir.
        Ok(DebugFs { dir })
    }
}

impl Drop for DebugFs {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `dir` came from debugfs and has not
        // been removed yet; debugfs_remove() removes it recursively.
        unsafe { bindings::debugfs_remove(self.dir) };
    }
}
