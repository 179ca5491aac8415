// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: the nested exit/entry round trip of an L1 that uses Hyper-V's
 * enlightened VMCS, as rnvmx_bench_l2_vmcall.c does it with VMREAD and
 * VMWRITE. L1 names its eVMCS in the VP assist page and reads and writes
 * it as memory (the selftest library's vmread/vmwrite with enable_evmcs),
 * so the only exits are L2's VMCALLs and L1's VMRESUMEs: each VMCALL is a
 * nested VM exit (vmcs12 copied to the eVMCS), each VMRESUME an entry with
 * the eVMCS's dirty groups copied in (here only GUEST_RIP's, group NONE,
 * and the host pointers the library marks dirty).
 *
 * Prints "@@RNVMX-BENCH name=l2_vmcall_roundtrip_evmcs ops=N cycles_per_op=C".
 */
#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "hyperv.h"
#include "vmx.h"
#include "rnvmx_itrace.h"
#include "rnvmx_bench_exits.h"

#define OPS 500

static void l2_guest_code(void)
{
	for (;;)
		vmcall();
}

static void l1_guest_code(struct vmx_pages *vmx, struct hyperv_test_pages *hv)
{
	unsigned long l2_stack[64];
	uint64_t t0, t1;
	int i;

	wrmsr(HV_X64_MSR_GUEST_OS_ID, HYPERV_LINUX_OS_ID);
	enable_vp_assist(hv->vp_assist_gpa, hv->vp_assist);
	evmcs_enable();
	GUEST_ASSERT(prepare_for_vmx_operation(vmx));
	GUEST_ASSERT(load_evmcs(hv));
	prepare_vmcs(vmx, l2_guest_code, &l2_stack[64]);
	GUEST_ASSERT(!vmlaunch());
	GUEST_ASSERT(vmreadz(VM_EXIT_REASON) == EXIT_REASON_VMCALL);
	current_evmcs->guest_rip += 3; /* vmcall */

	t0 = rdtsc();
	for (i = 0; i < OPS; i++) {
		if (vmresume() || vmreadz(VM_EXIT_REASON) != EXIT_REASON_VMCALL)
			GUEST_FAIL("round trip %d failed", i);
		current_evmcs->guest_rip += 3;
	}
	t1 = rdtsc();
	/* One more round trip, untimed, for testbed/itrace.py. */
	RNVMX_ITRACE_MARK();
	if (vmresume() || vmreadz(VM_EXIT_REASON) != EXIT_REASON_VMCALL)
		GUEST_FAIL("traced round trip failed");
	current_evmcs->guest_rip += 3;
	RNVMX_ITRACE_MARK();
	GUEST_SYNC(t1 - t0);
	GUEST_DONE();
}

int main(void)
{
	vm_vaddr_t vmx_pages_gva, hv_pages_gva;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_VMX));
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_HYPERV_ENLIGHTENED_VMCS));
	vm = vm_create_with_one_vcpu(&vcpu, l1_guest_code);
	vcpu_set_hv_cpuid(vcpu);
	vcpu_enable_evmcs(vcpu);
	vcpu_alloc_vmx(vm, &vmx_pages_gva);
	vcpu_alloc_hyperv_test_pages(vm, &hv_pages_gva);
	vcpu_args_set(vcpu, 2, vmx_pages_gva, hv_pages_gva);

	bench_run(vm, vcpu, "l2_vmcall_roundtrip_evmcs", OPS);
	return 0;
}
