// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: the floor, a single-level exit/entry round trip. A plain
 * (non-nested) guest executes VMCALL in a loop; each exits to L0, which
 * handles it as an unknown hypercall (RAX = -KVM_ENOSYS) and resumes the
 * guest. The nested backend is not involved: a nested round trip costs at
 * least two of these (L2 -> L0 -> L1, then L1's VMRESUME -> L0 -> L2).
 *
 * Prints "@@RNVMX-BENCH name=l1_vmcall_roundtrip ops=N cycles_per_op=C".
 */
#include "rnvmx_bench_exits.h"

static void guest_code(void)
{
	uint64_t t0, t1;
	int i;

	/* One VMCALL first, so that the timed ones find L0 warmed up. */
	vmcall();
	t0 = rdtsc();
	for (i = 0; i < BENCH_OPS; i++)
		vmcall();
	t1 = rdtsc();
	GUEST_SYNC(t1 - t0);
	GUEST_DONE();
}

int main(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	bench_run(vm, vcpu, "l1_vmcall_roundtrip", BENCH_OPS);
	return 0;
}
