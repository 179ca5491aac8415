// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: L2's CPUID handled by L1. CPUID exits unconditionally; L0
 * reflects it to L1 (a nested VM exit), L1 reads the exit reason, steps
 * L2 past the instruction and VMRESUMEs (a nested VM entry). The same
 * round trip as l2_vmcall_roundtrip with the exit most guests make most.
 *
 * Prints "@@RNVMX-BENCH name=l2_cpuid_roundtrip ops=N cycles_per_op=C".
 */
#include "rnvmx_bench_exits.h"

static void l2_guest_code(void)
{
	for (;;)
		bench_cpuid();
}

static void l1_guest_code(struct vmx_pages *vmx)
{
	unsigned long l2_stack[64];

	bench_prepare(vmx, l2_guest_code, &l2_stack[64]);
	bench_launch(EXIT_REASON_CPUID);
	bench_roundtrips(EXIT_REASON_CPUID);
}

int main(void)
{
	vm_vaddr_t vmx_pages_gva;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_VMX));
	vm = vm_create_with_one_vcpu(&vcpu, l1_guest_code);
	vcpu_alloc_vmx(vm, &vmx_pages_gva);
	vcpu_args_set(vcpu, 1, vmx_pages_gva);
	bench_run(vm, vcpu, "l2_cpuid_roundtrip", BENCH_OPS);
	return 0;
}
