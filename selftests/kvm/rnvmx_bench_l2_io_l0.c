// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: an I/O exit of L2 that L0 handles without L1. L1 uses I/O
 * bitmaps with the bit of port 0x21 clear; L2 reads the port in a loop.
 * Each IN exits to L0, which finds the bit clear in L1's bitmap, so does
 * not reflect the exit, and emulates the read with the in-kernel PIC (no
 * exit to userspace: the run loop would see it as an unknown I/O exit and
 * fail); L2 goes on without a nested VM exit or entry. L2 times its loop
 * itself and hands the cycles to L1 at its one VMCALL.
 *
 * Prints "@@RNVMX-BENCH name=l2_io_l0 ops=N cycles_per_op=C".
 */
#include "rnvmx_bench_exits.h"
#include "rnvmx_itrace.h"

static uint64_t l2_cycles;

static void l2_guest_code(void)
{
	uint64_t t0, t1;
	int i;

	/* One IN first, so that the timed ones find L0 warmed up. */
	bench_inb_pic();
	t0 = rdtsc();
	for (i = 0; i < BENCH_OPS; i++)
		bench_inb_pic();
	t1 = rdtsc();
	/*
	 * Stored before the next IN: this leaf function may keep t0 and t1 in
	 * the red zone, which bench_inb_pic()'s push overwrites.
	 */
	WRITE_ONCE(l2_cycles, t1 - t0);
	/* One more, untimed, for testbed/itrace.py. */
	RNVMX_ITRACE_MARK();
	bench_inb_pic();
	RNVMX_ITRACE_MARK();
	vmcall();
}

static void l1_guest_code(struct vmx_pages *vmx, struct bench_io_bitmaps *io)
{
	unsigned long l2_stack[64];

	bench_prepare(vmx, l2_guest_code, &l2_stack[64]);
	bench_use_io_bitmaps(io);
	/* The only exit L1 sees is the VMCALL after the loop. */
	bench_launch(EXIT_REASON_VMCALL);
	GUEST_SYNC(READ_ONCE(l2_cycles));
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
	vcpu_args_set(vcpu, 2, vmx_pages_gva, bench_alloc_io_bitmaps(vm, 0x21, false));
	bench_run(vm, vcpu, "l2_io_l0", BENCH_OPS);
	return 0;
}
