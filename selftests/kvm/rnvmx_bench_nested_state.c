// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: save and restore the nested state of a vCPU running L2, what
 * a live migration's source and target do (here on the same vCPU).
 *
 * L1 launches L2, which reports to the host (an I/O exit L0 handles: L2
 * stays current). The host completes that I/O and then, OPS times,
 * KVM_GET_NESTED_STATE (the header, vmcs12 synced from vmcs02, the shadow
 * vmcs12 if any) followed by KVM_SET_NESTED_STATE of the state it got (the
 * backend leaves L2, checks the state, loads vmcs12 and enters L2 again,
 * building vmcs02). After the loop L2 goes on: its VMCALL must reach L1
 * with RIP and RSP where they were.
 *
 * One op, timed by the host (L0's userspace, whose TSC under Bochs also
 * counts emulated instructions) with RDTSC around it: one
 * KVM_GET_NESTED_STATE ioctl plus one KVM_SET_NESTED_STATE ioctl, each
 * with its system call and KVM's vcpu_load/vcpu_put. The figure is the
 * fastest of the OPS ops: every op runs the same instructions, but at ~17k
 * instructions one op in about ten also takes L0's timer tick (~2,300
 * instructions), and where the ticks land differs from boot to boot
 * (+-50 cycles per op over a 50-op average, more than the backends
 * differ by); the fastest op is one without a tick, the same on every
 * boot.
 *
 * Prints "@@RNVMX-BENCH name=nested_state_get_set ops=N cycles_per_op=C".
 */
#include <x86intrin.h>

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "vmx.h"
#include "rnvmx_itrace.h"

#define OPS 50

static void l2_guest_code(void)
{
	GUEST_SYNC(1);
	vmcall();
}

static void l1_guest_code(struct vmx_pages *vmx)
{
	unsigned long l2_stack[64];

	GUEST_ASSERT(prepare_for_vmx_operation(vmx));
	GUEST_ASSERT(load_vmcs(vmx));
	prepare_vmcs(vmx, l2_guest_code, &l2_stack[64]);
	GUEST_ASSERT(!vmlaunch());
	GUEST_ASSERT_EQ(vmreadz(VM_EXIT_REASON), EXIT_REASON_VMCALL);
	GUEST_DONE();
}

int main(void)
{
	struct kvm_nested_state *state;
	struct kvm_regs before, after;
	vm_vaddr_t vmx_pages_gva;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t t0, t1, best = UINT64_MAX;
	int size, i;

	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_VMX));
	size = kvm_check_cap(KVM_CAP_NESTED_STATE);
	TEST_REQUIRE(size > 0);
	state = calloc(1, size);
	TEST_ASSERT(state, "no memory for %d bytes of nested state", size);

	vm = vm_create_with_one_vcpu(&vcpu, l1_guest_code);
	vcpu_alloc_vmx(vm, &vmx_pages_gva);
	vcpu_args_set(vcpu, 1, vmx_pages_gva);

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	if (get_ucall(vcpu, &uc) == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
	TEST_ASSERT(uc.cmd == UCALL_SYNC && uc.args[1] == 1, "L2 did not sync");
	/* The state is consistent only once KVM has completed the I/O. */
	vcpu_run_complete_io(vcpu);
	vcpu_regs_get(vcpu, &before);

	for (i = 0; i < OPS; i++) {
		t0 = __rdtsc();
		state->size = size;
		vcpu_nested_state_get(vcpu, state);
		vcpu_nested_state_set(vcpu, state);
		t1 = __rdtsc();
		if (t1 - t0 < best)
			best = t1 - t0;
	}
	/* One more, untimed, for testbed/itrace.py. */
	RNVMX_ITRACE_MARK();
	state->size = size;
	vcpu_nested_state_get(vcpu, state);
	vcpu_nested_state_set(vcpu, state);
	RNVMX_ITRACE_MARK();
	TEST_ASSERT(state->flags & KVM_STATE_NESTED_GUEST_MODE, "not in L2: flags %x",
		    state->flags);
	vcpu_regs_get(vcpu, &after);
	TEST_ASSERT(after.rip == before.rip && after.rsp == before.rsp,
		    "L2 moved: rip %llx -> %llx, rsp %llx -> %llx",
		    before.rip, after.rip, before.rsp, after.rsp);

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_DONE:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
	default:
		TEST_FAIL("unexpected ucall %lu", uc.cmd);
	}
	printf("@@RNVMX-BENCH name=nested_state_get_set ops=%d cycles_per_op=%lu\n",
	       OPS, (unsigned long)best);
	kvm_vm_free(vm);
	free(state);
	return 0;
}
