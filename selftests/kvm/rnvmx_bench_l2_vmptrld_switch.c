// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: L1 running two L2s in turn. Two vmcs12s, A and B, both
 * launched once (not timed); then each op VMPTRLDs the other one and
 * VMRESUMEs it: the backend releases the current vmcs12 (written back to
 * L1's memory), loads the other (read from L1's memory), and the entry
 * rebuilds vmcs02 from a vmcs12 it did not run last. That L2 executes
 * VMCALL at once, reflected to L1, which reads the exit reason and
 * advances that L2's RIP (VMREAD, VMREAD, VMWRITE), as in
 * l2_vmcall_roundtrip.
 *
 * One op, timed by L1 with RDTSC: VMPTRLD + VMRESUME + L2's VMCALL and the
 * nested exit + L1's exit-reason VMREAD and RIP advance. The difference to
 * l2_vmcall_roundtrip is what switching the current vmcs12 costs.
 *
 * Prints "@@RNVMX-BENCH name=l2_vmptrld_switch ops=N cycles_per_op=C".
 * Under Bochs the TSC advances with emulated instructions, so the number
 * measures the work of the nested backend (and L1's), repeatably.
 */
#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "vmx.h"
#include "rnvmx_bench_exits.h"

#define OPS 200

/* Set by the host: the second vmcs12 (the first is vmx->vmcs). */
static uint64_t vmcs_b_gva, vmcs_b_gpa;

static void l2_guest_code(void)
{
	for (;;)
		vmcall();
}

static void skip_vmcall(void)
{
	vmwrite(GUEST_RIP, vmreadz(GUEST_RIP) + vmreadz(VM_EXIT_INSTRUCTION_LEN));
}

static void launch(struct vmx_pages *vmx, unsigned long *stack_top)
{
	prepare_vmcs(vmx, l2_guest_code, stack_top);
	GUEST_ASSERT(!vmlaunch());
	GUEST_ASSERT(vmreadz(VM_EXIT_REASON) == EXIT_REASON_VMCALL);
	skip_vmcall();
}

static void l1_guest_code(struct vmx_pages *vmx)
{
	unsigned long stack_a[64], stack_b[64];
	uint64_t gpa[2], t0, t1;
	int i;

	GUEST_ASSERT(prepare_for_vmx_operation(vmx));
	GUEST_ASSERT(load_vmcs(vmx));
	launch(vmx, &stack_a[64]);
	*(uint32_t *)vmcs_b_gva = vmcs_revision();
	GUEST_ASSERT(!vmclear(vmcs_b_gpa));
	GUEST_ASSERT(!vmptrld(vmcs_b_gpa));
	launch(vmx, &stack_b[64]);
	gpa[0] = vmx->vmcs_gpa;
	gpa[1] = vmcs_b_gpa;

	/* B is current: the first op switches to A. */
	t0 = rdtsc();
	for (i = 0; i < OPS; i++) {
		if (vmptrld(gpa[i & 1]) || vmresume() ||
		    vmreadz(VM_EXIT_REASON) != EXIT_REASON_VMCALL)
			GUEST_FAIL("switch %d failed", i);
		skip_vmcall();
	}
	t1 = rdtsc();
	GUEST_ASSERT(vmptrstz() == gpa[(OPS - 1) & 1]);
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
	vmcs_b_gva = vm_vaddr_alloc_page(vm);
	vmcs_b_gpa = addr_gva2gpa(vm, vmcs_b_gva);
	sync_global_to_guest(vm, vmcs_b_gva);
	sync_global_to_guest(vm, vmcs_b_gpa);

	bench_run(vm, vcpu, "l2_vmptrld_switch", OPS);
	return 0;
}
