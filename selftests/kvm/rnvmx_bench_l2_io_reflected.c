// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: an I/O exit of L2 reflected to L1. L1 uses I/O bitmaps with
 * the bit of port 0x21 set; L2 reads the port in a loop. Each IN exits to
 * L0, which finds the bit in L1's bitmap (a read of L1's memory) and
 * reflects the exit; L1 reads the exit reason, steps L2 past the IN and
 * VMRESUMEs. The counterpart of l2_io_l0, where the bit is clear.
 *
 * Prints "@@RNVMX-BENCH name=l2_io_reflected ops=N cycles_per_op=C".
 */
#include "rnvmx_bench_exits.h"

static void l2_guest_code(void)
{
	for (;;)
		bench_inb_pic();
}

static void l1_guest_code(struct vmx_pages *vmx, struct bench_io_bitmaps *io)
{
	unsigned long l2_stack[64];

	bench_prepare(vmx, l2_guest_code, &l2_stack[64]);
	bench_use_io_bitmaps(io);
	bench_launch(EXIT_REASON_IO_INSTRUCTION);
	bench_roundtrips(EXIT_REASON_IO_INSTRUCTION);
}

int main(void)
{
	vm_vaddr_t vmx_pages_gva;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_VMX));
	vm = vm_create_with_one_vcpu(&vcpu, l1_guest_code);
	vcpu_alloc_vmx(vm, &vmx_pages_gva);
	vcpu_args_set(vcpu, 2, vmx_pages_gva, bench_alloc_io_bitmaps(vm, 0x21, true));
	bench_run(vm, vcpu, "l2_io_reflected", BENCH_OPS);
	return 0;
}
