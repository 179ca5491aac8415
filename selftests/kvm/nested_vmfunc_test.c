// SPDX-License-Identifier: GPL-2.0
/*
 * nested_vmfunc_test: VM function 0, EPTP switching, executed by L2.
 *
 * L1 runs L2 with nested EPT (identity map of memslot 0), VM functions
 * enabled with only EPTP switching, and an EPTP list of two entries: L1's
 * EPT pointer and the same tables with the EPT accessed/dirty flag toggled
 * (a different, valid EPT pointer). L2 switches to entry 1 and back to
 * entry 0 with VMFUNC, making a VMCALL after each so that L1 can check that
 * vmcs12's EPT pointer followed (SDM 26.5.6.3: EPTP switching loads the EPT
 * pointer without a VM exit). Then L2 asks for entry 512, beyond the list:
 * the function fails with a VMFUNC exit to L1 (reason 59).
 *
 * The backend emulates all of it (vmcs02 enables VM functions but none of
 * them, so each VMFUNC exits to L0). Exit status: 0 pass, 4 skip.
 */
#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "vmx.h"
#include "rnvmx_util.h"

#define VM_FUNCTION_CONTROL	0x00002018
#define EPTP_LIST_ADDRESS	0x00002024
#define EXIT_REASON_VMFUNC	59
#define EPTP_AD_ENABLE		(1ull << 6)

static void vmfunc(uint32_t func, uint32_t index)
{
	asm volatile("vmfunc" : : "a"(func), "c"(index) : "memory");
}

static void l2_guest_code(void)
{
	vmfunc(0, 1);
	vmcall();
	vmfunc(0, 0);
	vmcall();
	vmfunc(0, 512);
	GUEST_FAIL("VMFUNC beyond the EPTP list returned to L2");
}

static void resume_after_vmcall(uint64_t want_eptp)
{
	GUEST_ASSERT_EQ(vmreadz(VM_EXIT_REASON), EXIT_REASON_VMCALL);
	GUEST_ASSERT_EQ(vmreadz(EPT_POINTER), want_eptp);
	vmwrite(GUEST_RIP, vmreadz(GUEST_RIP) + vmreadz(VM_EXIT_INSTRUCTION_LEN));
	GUEST_ASSERT(!vmresume());
}

static void l1_guest_code(struct vmx_pages *vmx, uint64_t *list, uint64_t list_gpa)
{
	unsigned long l2_stack[64];

	GUEST_ASSERT(prepare_for_vmx_operation(vmx));
	GUEST_ASSERT(load_vmcs(vmx));
	prepare_vmcs(vmx, l2_guest_code, &l2_stack[64]);
	list[0] = vmreadz(EPT_POINTER);
	list[1] = list[0] ^ EPTP_AD_ENABLE;
	vmwrite(SECONDARY_VM_EXEC_CONTROL,
		vmreadz(SECONDARY_VM_EXEC_CONTROL) | SECONDARY_EXEC_ENABLE_VMFUNC);
	vmwrite(VM_FUNCTION_CONTROL, 1);
	vmwrite(EPTP_LIST_ADDRESS, list_gpa);

	GUEST_ASSERT(!vmlaunch());
	resume_after_vmcall(list[1]);
	resume_after_vmcall(list[0]);
	GUEST_ASSERT_EQ(vmreadz(VM_EXIT_REASON), EXIT_REASON_VMFUNC);
	GUEST_ASSERT_EQ(vmreadz(EPT_POINTER), list[0]);
	GUEST_DONE();
}

int main(void)
{
	vm_vaddr_t vmx_pages_gva, list;
	struct vmx_pages *vmx;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_VMX));
	TEST_REQUIRE(kvm_cpu_has_ept());
	TEST_REQUIRE((kvm_get_feature_msr(MSR_IA32_VMX_PROCBASED_CTLS2) >> 32) &
		     SECONDARY_EXEC_ENABLE_VMFUNC);
	TEST_REQUIRE(kvm_get_feature_msr(MSR_IA32_VMX_VMFUNC) & 1);
	TEST_REQUIRE(kvm_get_feature_msr(MSR_IA32_VMX_EPT_VPID_CAP) & VMX_EPT_VPID_CAP_AD_BITS);

	vm = vm_create_with_one_vcpu(&vcpu, l1_guest_code);
	vmx = vcpu_alloc_vmx(vm, &vmx_pages_gva);
	prepare_eptp(vmx, vm, 0);
	nested_map_memslot(vmx, vm, 0);
	list = vm_vaddr_alloc_page(vm);
	vcpu_args_set(vcpu, 3, vmx_pages_gva, list, addr_gva2gpa(vm, list));

	rnvmx_run_to_done(vm, vcpu);
	printf("PASS: EPTP switched by VMFUNC and back; VMFUNC beyond the list exited to L1\n");
	return 0;
}
