// SPDX-License-Identifier: GPL-2.0

//! Prints the field table: one line per VMCS encoding KVM's vmcs12 knows,
//! 64-bit fields also as their high-half encoding at offset + 4, sorted by
//! encoding: `0xEEEE OFFSET WIDTH ACCESS`.

use rnvmx::vmcs::encoding::Width;
use rnvmx::vmcs::table::FIELDS;

fn main() {
    for f in FIELDS.iter() {
        let access = f.encoding.kind().name();
        println!(
            "{:#06x} {} {} {}",
            f.encoding.value(),
            f.offset,
            f.width().name(),
            access
        );
        if f.width() == Width::U64 {
            println!(
                "{:#06x} {} {} {}",
                f.encoding.high().value(),
                f.offset + 4,
                Width::U32.name(),
                access
            );
        }
    }
}
