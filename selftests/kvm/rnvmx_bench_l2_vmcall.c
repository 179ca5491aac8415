// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: the nested exit/entry round trip. L2 executes VMCALL in a
 * loop; every VMCALL exits to L0, which reflects it to L1 (a nested
 * VM exit: vmcs12 updated, L1's state loaded); L1 reads the exit reason,
 * advances L2's RIP with VMWRITE and VMRESUMEs (a nested VM entry).
 * L1 times OPS round trips with RDTSC.
 *
 * Prints "@@RNVMX-BENCH name=l2_vmcall_roundtrip ops=N cycles_per_op=C".
 * Under Bochs the TSC advances with emulated instructions, so the number
 * measures the work of the nested backend (and L1's), repeatably.
 */
#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "vmx.h"
#include "rnvmx_itrace.h"
#include "rnvmx_bench_exits.h"

#define OPS 500

static void l2_guest_code(void)
{
	for (;;)
		vmcall();
}

static void skip_vmcall(void)
{
	vmwrite(GUEST_RIP, vmreadz(GUEST_RIP) + vmreadz(VM_EXIT_INSTRUCTION_LEN));
}

static void l1_guest_code(struct vmx_pages *vmx)
{
	unsigned long l2_stack[64];
	uint64_t t0, t1;
	int i;

	GUEST_ASSERT(prepare_for_vmx_operation(vmx));
	GUEST_ASSERT(load_vmcs(vmx));
	prepare_vmcs(vmx, l2_guest_code, &l2_stack[64]);
	GUEST_ASSERT(!vmlaunch());
	GUEST_ASSERT(vmreadz(VM_EXIT_REASON) == EXIT_REASON_VMCALL);
	skip_vmcall();

	t0 = rdtsc();
	for (i = 0; i < OPS; i++) {
		if (vmresume() || vmreadz(VM_EXIT_REASON) != EXIT_REASON_VMCALL)
			GUEST_FAIL("round trip %d failed", i);
		skip_vmcall();
	}
	t1 = rdtsc();
	/* One more round trip, untimed, for testbed/itrace.py. */
	RNVMX_ITRACE_MARK();
	if (vmresume() || vmreadz(VM_EXIT_REASON) != EXIT_REASON_VMCALL)
		GUEST_FAIL("traced round trip failed");
	skip_vmcall();
	RNVMX_ITRACE_MARK();
	GUEST_SYNC(t1 - t0);
	GUEST_DONE();
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

	bench_run(vm, vcpu, "l2_vmcall_roundtrip", OPS);
	return 0;
}
