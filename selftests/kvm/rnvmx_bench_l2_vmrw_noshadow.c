// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: l2_vmrw_roundtrip without VMCS shadowing: testbed/init.sh runs
 * it with kvm-intel (and rnvmx) reloaded with kvm_intel.enable_shadow_vmcs=0,
 * so each of L1's VMREAD/VMWRITEs exits to L0 and is emulated.
 *
 * Prints "@@RNVMX-BENCH name=l2_vmrw_roundtrip_noshadow ops=N cycles_per_op=C".
 */
#define BENCH_NOSHADOW 1
#include "rnvmx_bench_l2_vmrw.c"
