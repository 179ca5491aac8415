// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: the nested round trip of l2_vmcall_roundtrip with an L1 that
 * does an exit handler's worth of VMREAD/VMWRITEs, as KVM's own handler
 * does as L1: it reads the exit reason, qualification, instruction length
 * and information, interruption and IDT-vectoring information, L2's
 * RIP, RSP, RFLAGS, CR0, CR4, CR3, guest-physical address and
 * interruptibility, then writes RIP, interruptibility (STI/MOV SS blocking
 * cleared, as skipping an instruction does) and the entry interruption
 * information (no event to inject): BENCH_VMRW_PER_OP instructions.
 *
 * With VMCS shadowing (kvm_intel.enable_shadow_vmcs=1, the default) most
 * of them read and write L1's shadow VMCS without exiting; without it
 * (rnvmx_bench_l2_vmrw_noshadow, which testbed/init.sh runs with
 * kvm-intel reloaded with enable_shadow_vmcs=0) each one exits to L0 and
 * is emulated.
 *
 * Prints "@@RNVMX-BENCH name=l2_vmrw_roundtrip ops=N cycles_per_op=C"
 * (l2_vmrw_roundtrip_noshadow without shadowing).
 */
#include "rnvmx_bench_exits.h"

#ifndef BENCH_NOSHADOW
#define BENCH_NOSHADOW 0
#endif

/* testbed/ab.py's proof of the _noshadow figure counts on this many. */
#define BENCH_VMRW_PER_OP 17

/* Interruptibility: blocking by STI (bit 0) and by MOV SS (bit 1). */
#define INTR_BLOCKING 0x3

static uint64_t sink;

static void l2_guest_code(void)
{
	for (;;)
		vmcall();
}

static inline uint64_t rd(uint64_t field)
{
	uint64_t v = 0;

	if (vmread(field, &v))
		GUEST_FAIL("VMREAD %lx failed", (unsigned long)field);
	return v;
}

static inline void wr(uint64_t field, uint64_t v)
{
	if (vmwrite(field, v))
		GUEST_FAIL("VMWRITE %lx failed", (unsigned long)field);
}

/* The handler: 14 VMREADs and 3 VMWRITEs; false if not L2's VMCALL. */
static bool handle_exit(void)
{
	uint64_t reason, len, rip, intr, x;

	reason = rd(VM_EXIT_REASON);
	x = rd(EXIT_QUALIFICATION);
	len = rd(VM_EXIT_INSTRUCTION_LEN);
	x += rd(VMX_INSTRUCTION_INFO);
	x += rd(VM_EXIT_INTR_INFO);
	x += rd(IDT_VECTORING_INFO_FIELD);
	rip = rd(GUEST_RIP);
	x += rd(GUEST_RSP);
	x += rd(GUEST_RFLAGS);
	x += rd(GUEST_CR0);
	x += rd(GUEST_CR4);
	x += rd(GUEST_CR3);
	x += rd(GUEST_PHYSICAL_ADDRESS);
	intr = rd(GUEST_INTERRUPTIBILITY_INFO);
	WRITE_ONCE(sink, x);
	if (reason != EXIT_REASON_VMCALL)
		return false;
	wr(GUEST_RIP, rip + len);
	wr(GUEST_INTERRUPTIBILITY_INFO, intr & ~INTR_BLOCKING);
	wr(VM_ENTRY_INTR_INFO_FIELD, 0);
	return true;
}

static void l1_guest_code(struct vmx_pages *vmx)
{
	unsigned long l2_stack[64];
	uint64_t t0, t1;
	int i;

	bench_prepare(vmx, l2_guest_code, &l2_stack[64]);
	bench_launch(EXIT_REASON_VMCALL);

	t0 = rdtsc();
	for (i = 0; i < BENCH_OPS; i++) {
		if (vmresume() || !handle_exit())
			GUEST_FAIL("round trip %d failed", i);
	}
	t1 = rdtsc();
	GUEST_SYNC(t1 - t0);
	GUEST_DONE();
}

int main(void)
{
	vm_vaddr_t vmx_pages_gva;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_VMX));
	/* Measure what the name says: testbed/init.sh sets the parameter. */
	TEST_ASSERT(bench_shadow_vmcs() == !BENCH_NOSHADOW,
		    "kvm_intel.enable_shadow_vmcs is %s", bench_shadow_vmcs() ? "Y" : "N");
	vm = vm_create_with_one_vcpu(&vcpu, l1_guest_code);
	vcpu_alloc_vmx(vm, &vmx_pages_gva);
	vcpu_args_set(vcpu, 1, vmx_pages_gva);
	bench_run(vm, vcpu, BENCH_NOSHADOW ? "l2_vmrw_roundtrip_noshadow" : "l2_vmrw_roundtrip",
		  BENCH_OPS);
	return 0;
}
