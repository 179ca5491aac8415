// SPDX-License-Identifier: GPL-2.0

//! The hardware-independent core of rnvmx.
//!
//! These modules compile twice from the same files: into this crate, whose
//! tests run in user space, and into `rnvmx.ko` (see `rust/rnvmx.rs`). They
//! use only `core`: no allocation, no panicking paths on guest input.

#![no_std]

#[cfg(any(test, feature = "model"))]
extern crate std;

pub mod evmcs;
pub mod nested;
pub mod shadow;
pub mod vmcs;
