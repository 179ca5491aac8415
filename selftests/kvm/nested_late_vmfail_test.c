// SPDX-License-Identifier: GPL-2.0
/*
 * nested_late_vmfail_test: a VMLAUNCH that passes KVM's VM-entry checks but
 * that the CPU refuses ("late VMfail"): L1 must see VMfailValid(7, invalid
 * control field) right after its VMLAUNCH, with its own state intact, as
 * on hardware (nested.c: nested_vmx_restore_host_state()), not an exit nor
 * a jump to vmcs12's host RIP.
 *
 * The controls KVM 6.12 leaves to the CPU: with "use TPR shadow" and
 * neither virtual-interrupt delivery nor APIC-access virtualization, the
 * TPR threshold's bits 31:4 must be 0, and its bits 3:0 not above VTPR's
 * bits 7:4 (SDM 27.2.1.1). Each is tried once; the second VMLAUNCH also
 * shows the state survived the first. Exit status: 0 pass, 4 skip.
 */
#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "vmx.h"
#include "rnvmx_util.h"

#define VMXERR_ENTRY_INVALID_CONTROL_FIELD	7

static void l2_guest_code(void)
{
	vmcall();
}

static void late_vmfail(uint64_t threshold)
{
	uint64_t rsp_before, rsp_after;

	vmwrite(TPR_THRESHOLD, threshold);
	asm volatile("mov %%rsp, %0" : "=r"(rsp_before));
	GUEST_ASSERT_EQ(vmlaunch(), 1);
	asm volatile("mov %%rsp, %0" : "=r"(rsp_after));
	GUEST_ASSERT_EQ(rsp_before, rsp_after);
	GUEST_ASSERT_EQ(vmreadz(VM_INSTRUCTION_ERROR), VMXERR_ENTRY_INVALID_CONTROL_FIELD);
}

static void l1_guest_code(struct vmx_pages *vmx, uint8_t *vapic, uint64_t vapic_gpa)
{
	unsigned long l2_stack[64];

	GUEST_ASSERT(prepare_for_vmx_operation(vmx));
	GUEST_ASSERT(load_vmcs(vmx));
	prepare_vmcs(vmx, l2_guest_code, &l2_stack[64]);
	vmwrite(CPU_BASED_VM_EXEC_CONTROL,
		vmreadz(CPU_BASED_VM_EXEC_CONTROL) | CPU_BASED_TPR_SHADOW);
	vmwrite(VIRTUAL_APIC_PAGE_ADDR, vapic_gpa);
	vapic[0x80] = 0x20;		/* VTPR class 2 */

	late_vmfail(0x10);		/* bits 31:4 */
	late_vmfail(0x3);		/* above VTPR[7:4] */
	/* And a valid threshold enters L2. */
	vmwrite(TPR_THRESHOLD, 0x2);
	GUEST_ASSERT(!vmlaunch());
	GUEST_ASSERT_EQ(vmreadz(VM_EXIT_REASON), EXIT_REASON_VMCALL);
	GUEST_DONE();
}

int main(void)
{
	vm_vaddr_t vmx_pages_gva, vapic;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_VMX));
	vm = vm_create_with_one_vcpu(&vcpu, l1_guest_code);
	vcpu_alloc_vmx(vm, &vmx_pages_gva);
	vapic = vm_vaddr_alloc_page(vm);
	vcpu_args_set(vcpu, 3, vmx_pages_gva, vapic, addr_gva2gpa(vm, vapic));

	rnvmx_run_to_done(vm, vcpu);
	printf("PASS: two late VMfails seen as VMfailValid(7) after VMLAUNCH; then L2 ran\n");
	return 0;
}
